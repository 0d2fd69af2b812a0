package main

// The OData query options of the two list APIs, as the forwarder sends them
// (core/src/fetch/stream.c dfw_stream_url): $filter on the last-update and creation time with
// ge/gt/le/lt/eq joined by "and", $top, $skip, $count (Graph), $expand=evidence (MDE).

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// api describes one list API (figures: /work/shared/reference/defender-api.md, as the emulator
// in tests/emulator/server.py has them).
type api struct {
	stream       int
	path         string
	role         string
	auds         []string
	updatedField string
	createdField string
	defaultTop   int
	maxTop       int // 0: no maximum (above clampTop is clamped)
	clampTop     int
	skipMax      int // 0: no maximum
	nextWithTop  bool
	expand       bool
	count        bool
	context      string
	graph        bool
}

var apis = [nStreams]api{
	streamGraph: {
		stream: streamGraph, path: "/v1.0/security/alerts_v2", role: "SecurityAlert.Read.All",
		auds:         []string{"https://graph.microsoft.com"},
		updatedField: "lastUpdateDateTime", createdField: "createdDateTime",
		defaultTop: 100, clampTop: 1000, skipMax: 500, nextWithTop: true, count: true,
		context: "/v1.0/$metadata#security/alerts_v2", graph: true,
	},
	streamMDE: {
		stream: streamMDE, path: "/api/alerts", role: "Alert.Read.All",
		auds: []string{"https://api.securitycenter.microsoft.com",
			"https://securitycenter.onmicrosoft.com/windowsatpservice",
			"https://api.securitycenter.windows.com", "https://api.security.microsoft.com"},
		updatedField: "lastUpdateTime", createdField: "alertCreationTime",
		defaultTop: 10000, maxTop: 10000, expand: true,
		context: "/api/$metadata#Alerts",
	},
}

type bound struct {
	ns   int64 // ns since the epoch
	incl bool
}

type cond struct {
	op string
	ns int64
}

// filter is a parsed $filter: bounds on the last-update time, conditions on the creation time.
type filter struct {
	lower, upper *bound
	created      []cond
}

func cmpOp(op string, v, ref int64) bool {
	switch op {
	case "eq":
		return v == ref
	case "ge":
		return v >= ref
	case "gt":
		return v > ref
	case "le":
		return v <= ref
	case "lt":
		return v < ref
	}
	return false
}

func (f *filter) match(r rec) bool {
	u := r.updated * 1e6
	if f.lower != nil && !(u > f.lower.ns || (f.lower.incl && u == f.lower.ns)) {
		return false
	}
	if f.upper != nil && !(u < f.upper.ns || (f.upper.incl && u == f.upper.ns)) {
		return false
	}
	c := r.created * 1e6
	for _, cc := range f.created {
		if !cmpOp(cc.op, c, cc.ns) {
			return false
		}
	}
	return true
}

// tighter keeps the stricter of two bounds (lower: the later one; upper: the earlier one).
func tighter(old *bound, nb bound, lower bool) *bound {
	if old == nil || (lower && nb.ns > old.ns) || (!lower && nb.ns < old.ns) ||
		(nb.ns == old.ns && !nb.incl) {
		return &nb
	}
	return old
}

type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func qerr(format string, a ...any) error { return &queryError{fmt.Sprintf(format, a...)} }

func tokenize(s string) []string {
	s = strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s)
	return strings.Fields(s)
}

func parseTime(lit string) (int64, error) {
	lit = strings.Trim(lit, "'")
	t, err := time.Parse(time.RFC3339Nano, lit)
	if err != nil {
		return 0, qerr("The filter literal '%s' is not a valid DateTimeOffset.", lit)
	}
	return t.UnixNano(), nil
}

func parseFilter(text string, a *api) (*filter, error) {
	f := &filter{}
	toks := tokenize(text)
	n := 0
	for i := 0; i < len(toks); {
		t := toks[i]
		if t == "(" || t == ")" {
			i++
			continue
		}
		if strings.EqualFold(t, "and") && n > 0 {
			i++
			continue
		}
		if strings.EqualFold(t, "or") || strings.EqualFold(t, "not") {
			return nil, qerr("'%s' is not supported in $filter by the benchmark API.", t)
		}
		if i+3 > len(toks) {
			return nil, qerr("Syntax error in $filter at '%s'.", t)
		}
		field, op := toks[i], strings.ToLower(toks[i+1])
		ns, err := parseTime(toks[i+2])
		if err != nil {
			return nil, err
		}
		switch op {
		case "eq", "ge", "gt", "le", "lt":
		default:
			return nil, qerr("Operator '%s' is not supported in $filter.", toks[i+1])
		}
		switch {
		case strings.EqualFold(field, a.updatedField):
			if op == "ge" || op == "gt" || op == "eq" {
				f.lower = tighter(f.lower, bound{ns, op != "gt"}, true)
			}
			if op == "le" || op == "lt" || op == "eq" {
				f.upper = tighter(f.upper, bound{ns, op != "lt"}, false)
			}
		case strings.EqualFold(field, a.createdField):
			f.created = append(f.created, cond{op, ns})
		default:
			return nil, qerr("Filtering on '%s' is not supported; supported properties: %s, %s.",
				field, a.updatedField, a.createdField)
		}
		n++
		i += 3
	}
	if n == 0 {
		return nil, qerr("The $filter expression is empty.")
	}
	return f, nil
}

// query is a validated list request.
type query struct {
	f      *filter
	top    int
	topSet bool
	skip   int
	count  bool
	expand bool
	params url.Values
}

func intOption(v url.Values, name string) (int, bool, error) {
	raw, ok := v[name]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw[0]))
	if err != nil || n < 0 {
		return 0, true, qerr("Invalid value '%s' for %s: a non-negative integer is required.",
			raw[0], name)
	}
	return n, true, nil
}

func parseQuery(rawQuery string, a *api) (*query, error) {
	raw, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, qerr("The query string is malformed: %v", err)
	}
	v := url.Values{}
	for k, vals := range raw {
		if strings.HasPrefix(k, "$") {
			k = strings.ToLower(k)
		}
		if len(vals) > 1 || v.Has(k) {
			return nil, qerr("Query option '%s' was specified more than once.", k)
		}
		switch k {
		case "$filter", "$top", "$skip", "$count", "$expand":
		default:
			if strings.HasPrefix(k, "$") {
				return nil, qerr("Query option '%s' is not supported by the benchmark API.", k)
			}
		}
		v.Set(k, vals[0])
	}
	q := &query{top: a.defaultTop, f: &filter{}, params: v}
	if n, ok, err := intOption(v, "$top"); err != nil {
		return nil, err
	} else if ok {
		if a.maxTop > 0 && n > a.maxTop {
			return nil, qerr("The limit of '%d' for Top query was exceeded. The requested value was '%d'.",
				a.maxTop, n)
		}
		if a.clampTop > 0 && n > a.clampTop {
			n = a.clampTop
		}
		q.top, q.topSet = n, true
	}
	if n, ok, err := intOption(v, "$skip"); err != nil {
		return nil, err
	} else if ok {
		if a.skipMax > 0 && n > a.skipMax {
			return nil, qerr("The limit of '%d' for Skip query was exceeded. The requested value was '%d'.",
				a.skipMax, n)
		}
		q.skip = n
	}
	if s, ok := v["$count"]; ok {
		switch strings.ToLower(strings.TrimSpace(s[0])) {
		case "true":
			q.count = a.count
		case "false":
		default:
			return nil, qerr("$count must be true or false.")
		}
	}
	if s, ok := v["$expand"]; ok {
		if !a.expand || !strings.EqualFold(strings.TrimSpace(s[0]), "evidence") {
			return nil, qerr("$expand=%s is not supported on this entity set.", s[0])
		}
		q.expand = true
	}
	if s, ok := v["$filter"]; ok {
		f, err := parseFilter(s[0], a)
		if err != nil {
			return nil, err
		}
		q.f = f
	}
	return q, nil
}

// nextLink is the same query with $skip = skip (Microsoft's next links page a live result).
func nextLink(base string, a *api, q *query, skip int) string {
	v := url.Values{}
	for k, vals := range q.params {
		v[k] = vals
	}
	v.Set("$skip", strconv.Itoa(skip))
	return base + a.path + "?" + strings.ReplaceAll(v.Encode(), "+", "%20")
}
