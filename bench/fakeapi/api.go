package main

// Routing and the two list APIs: GET /v1.0/security/alerts_v2 (Graph) and GET /api/alerts (MDE),
// each checking the bearer token (signature, expiry, audience, role) the way the services do.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type server struct {
	model   *model
	tenants []tenant
	index   tenantIndex
	signer  *signer
	base    string // https://127.0.0.1:PORT
	log     *requestLog
	stats   *counters
}

const odataType = "application/json; odata.metadata=minimal; odata.streaming=true; " +
	"IEEE754Compatible=false; charset=utf-8"

// response buffers, reused: a page of 1,000 Graph alerts is about 1.3 MB
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func (srv *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 {
		srv.stats.h2.Add(1)
	} else {
		srv.stats.h1.Add(1)
	}
	path := r.URL.Path
	switch {
	case path == apis[streamGraph].path:
		srv.list(w, r, &apis[streamGraph])
	case path == apis[streamMDE].path:
		srv.list(w, r, &apis[streamMDE])
	default:
		seg, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
		if rest == "oauth2/v2.0/token" && r.Method == http.MethodPost {
			srv.token(w, r, seg)
			return
		}
		srv.stats.notFound.Add(1)
		writeJSON(w, http.StatusNotFound, []byte(`{"error":{"code":"ResourceNotFound",`+
			`"message":"The benchmark API serves POST /{tenant}/oauth2/v2.0/token, GET `+
			apis[streamGraph].path+` and GET `+apis[streamMDE].path+`."}}`))
	}
}

func apiError(w http.ResponseWriter, status int, code, msg string) {
	out := append([]byte(`{"error":{"code":`), strconv.Quote(code)...)
	out = append(out, `,"message":`...)
	out = append(out, strconv.Quote(msg)...)
	writeJSON(w, status, append(out, "}}"...))
}

// authorize returns the tenant the bearer token was issued to, or writes the error answer.
func (srv *server) authorize(w http.ResponseWriter, r *http.Request, a *api, now time.Time) (int, bool) {
	unauthorized := "Unauthorized"
	if a.graph {
		unauthorized = "InvalidAuthenticationToken"
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		apiError(w, http.StatusUnauthorized, unauthorized, "Access token is empty.")
		return 0, false
	}
	c, err := srv.signer.verify(tok, now)
	if err != nil {
		apiError(w, http.StatusUnauthorized, unauthorized, err.Error())
		return 0, false
	}
	if !slices.Contains(a.auds, c.Aud) {
		apiError(w, http.StatusUnauthorized, unauthorized, "Invalid audience '"+c.Aud+"'.")
		return 0, false
	}
	ti, ok := srv.index.find(c.Tid)
	if !ok {
		apiError(w, http.StatusUnauthorized, unauthorized, "Unknown tenant in the token.")
		return 0, false
	}
	if !slices.Contains(c.Roles, a.role) {
		apiError(w, http.StatusForbidden, "Forbidden", "Missing application permission "+a.role+".")
		return 0, false
	}
	return ti, true
}

func (srv *server) list(w http.ResponseWriter, r *http.Request, a *api) {
	start := time.Now()
	if r.Method != http.MethodGet {
		apiError(w, http.StatusMethodNotAllowed, "BadRequest", "Only GET is served.")
		return
	}
	ti, ok := srv.authorize(w, r, a, start)
	if !ok {
		srv.stats.listErrors.Add(1)
		return
	}
	q, err := parseQuery(r.URL.RawQuery, a)
	if err != nil {
		srv.stats.listErrors.Add(1)
		apiError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	rows := srv.model.list(ti, a.stream, start.UnixMilli(), q.f)
	page := rows[min(q.skip, len(rows)):min(q.skip+q.top, len(rows))]
	more := q.top > 0 && q.skip+len(page) < len(rows)
	if !a.nextWithTop && q.topSet {
		more = false // MDE: no @odata.nextLink when $top is given (microsoft-365-docs #8489)
	}
	bp := bufs.Get().(*[]byte)
	out := (*bp)[:0]
	out = append(out, `{"@odata.context":"`...)
	out = append(out, srv.base...)
	out = append(out, a.context...)
	out = append(out, '"')
	if q.count {
		out = append(out, `,"@odata.count":`...)
		out = strconv.AppendInt(out, int64(len(rows)), 10)
	}
	link := ""
	if more {
		link = nextLink(srv.base, a, q, q.skip+q.top)
	}
	if a.graph && link != "" {
		out = appendKV(out, "@odata.nextLink", link)
	}
	out = append(out, `,"value":[`...)
	t := &srv.tenants[ti]
	for i, row := range page {
		if i > 0 {
			out = append(out, ',')
		}
		if a.graph {
			out = appendGraph(out, row, t)
		} else {
			out = appendMDE(out, row, t, q.expand)
		}
	}
	out = append(out, ']')
	if !a.graph && link != "" {
		out = appendKV(out, "@odata.nextLink", link)
	}
	out = append(out, '}')
	h := w.Header()
	h.Set("Content-Type", odataType)
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
	*bp = out[:0]
	bufs.Put(bp)
	srv.stats.lists.Add(1)
	srv.stats.records.Add(int64(len(page)))
	srv.stats.bytes.Add(int64(len(out)))
	srv.log.add(ti*nStreams+a.stream, start.UnixMilli(), time.Now().UnixMilli())
}
