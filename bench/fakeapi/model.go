package main

// The records the API serves, derived from Params alone: no record is stored. A (tenant, stream)
// pair — a job — has History records from before T0 and, if it is active, one new record every
// EveryMs from T0 on, of which the fraction Updated gets a second version UpdateAfterMs later.
// A version is visible from its last-update time on, and the newer version replaces the older
// one (what the list APIs show: the record as it is now).

import (
	"math"
	"sort"
)

const (
	streamGraph = 0
	streamMDE   = 1
	nStreams    = 2
)

var streamNames = [nStreams]string{"graph-alerts", "mde-alerts"}

// Params fix every record: the same Params give the same records, ids and times.
type Params struct {
	Seed          string  `json:"seed"`
	T0            int64   `json:"t0_ms"` // ms since the epoch: history before, live records after
	Tenants       int     `json:"tenants"`
	History       int     `json:"history"`         // records per stream before T0
	HistorySpanMs int64   `json:"history_span_ms"` // ... spread over this long before T0
	Active        float64 `json:"active"`          // fraction of streams with live records
	EveryMs       int64   `json:"every_ms"`        // one new record per active stream this often
	Updated       float64 `json:"updated"`         // fraction of live records updated once
	UpdateAfterMs int64   `json:"update_after_ms"` // ... this long after their creation
}

// rec is one version of one record.
type rec struct {
	tenant, stream, seq int
	created, updated    int64 // ms since the epoch
	version             int   // 1, or 2 after the update
	h                   uint64
}

type model struct {
	p    Params
	salt uint64
}

func newModel(p Params) *model {
	var s uint64 = 0x6a09e667f3bcc909
	for _, c := range []byte(p.Seed) {
		s = mix(s ^ uint64(c))
	}
	return &model{p: p, salt: s}
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

func (m *model) hash(tenant, stream, seq int, what uint64) uint64 {
	return mix(mix(mix(m.salt+uint64(tenant))+uint64(stream)*0x100+what) + uint64(seq+1))
}

func frac(h uint64) float64 {
	return float64(h>>11) / (1 << 53)
}

func (m *model) active(tenant, stream int) bool {
	return frac(m.hash(tenant, stream, -1, 'a')) < m.p.Active
}

func (m *model) phase(tenant, stream int) int64 {
	if m.p.EveryMs <= 0 {
		return 0
	}
	return int64(m.hash(tenant, stream, -1, 'p') % uint64(m.p.EveryMs))
}

const thirtyMin = 30 * 60 * 1000

// history is record k (0 <= k < History) of a job: created and last updated before T0 - 30 min.
func (m *model) history(tenant, stream, k int) rec {
	h := m.hash(tenant, stream, k, 'h')
	span := m.p.HistorySpanMs - thirtyMin
	if span < 1 {
		span = 1
	}
	created := m.p.T0 - m.p.HistorySpanMs + int64(h%uint64(span))
	updated := created
	if h>>63 == 1 {
		updated += int64((h >> 20) % thirtyMin)
	}
	return rec{tenant, stream, k, created, updated, 1, h}
}

// liveCreated is when live record k of an active job is created (and first visible).
func (m *model) liveCreated(tenant, stream, k int) int64 {
	return m.p.T0 + m.phase(tenant, stream) + int64(k)*m.p.EveryMs
}

// live is the version of live record k that is current at now (ok false: not created yet).
func (m *model) live(tenant, stream, k int, now int64) (rec, bool) {
	created := m.liveCreated(tenant, stream, k)
	if created > now {
		return rec{}, false
	}
	seq := m.p.History + k
	h := m.hash(tenant, stream, seq, 'l')
	r := rec{tenant, stream, seq, created, created, 1, h}
	if m.liveUpdated(tenant, stream, k) && now >= created+m.p.UpdateAfterMs {
		r.updated = created + m.p.UpdateAfterMs
		r.version = 2
	}
	return r, true
}

func (m *model) liveUpdated(tenant, stream, k int) bool {
	return frac(m.hash(tenant, stream, m.p.History+k, 'u')) < m.p.Updated
}

// liveRange is the range [lo, hi] of live records created in [from, to] (ms); empty if lo > hi.
func (m *model) liveRange(tenant, stream int, from, to int64) (int, int) {
	if !m.active(tenant, stream) || m.p.EveryMs <= 0 {
		return 0, -1
	}
	base := m.p.T0 + m.phase(tenant, stream)
	lo := int64(0)
	if from > base {
		lo = (from - base + m.p.EveryMs - 1) / m.p.EveryMs
	}
	if to < base {
		return 0, -1
	}
	hi := (to - base) / m.p.EveryMs
	if hi > math.MaxInt32 {
		hi = math.MaxInt32
	}
	return int(lo), int(hi)
}

// list is what a list request at now returns for a job before $skip and $top: the current
// version of every visible record that the filter selects, by last update (then creation order).
func (m *model) list(tenant, stream int, now int64, f *filter) []rec {
	var out []rec
	for k := 0; k < m.p.History; k++ {
		r := m.history(tenant, stream, k)
		if r.updated <= now && f.match(r) {
			out = append(out, r)
		}
	}
	// a live record's last update is its creation or UpdateAfterMs later: the records whose
	// last update can fall in the filter's bounds were created in [lower - UpdateAfterMs, upper]
	from, to := m.p.T0, now
	if f.lower != nil {
		from = max(from, f.lower.ns/1e6-m.p.UpdateAfterMs-1)
	}
	if f.upper != nil {
		to = min(to, f.upper.ns/1e6+1)
	}
	lo, hi := m.liveRange(tenant, stream, from, to)
	for k := lo; k <= hi; k++ {
		if r, ok := m.live(tenant, stream, k, now); ok && f.match(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].updated != out[j].updated {
			return out[i].updated < out[j].updated
		}
		return out[i].seq < out[j].seq
	})
	return out
}
