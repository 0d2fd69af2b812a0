package main

// What the API saw: the time of every list request per (tenant, stream), counters, and the report
// bench/scale prints from them (first cycle, poll gaps), served on /_bench/.

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type counters struct {
	tokens, tokenErrors, lists, listErrors, notFound atomic.Int64
	records, bytes, h1, h2, conns                    atomic.Int64
}

type span struct{ start, end int64 } // ms since the epoch

// requestLog holds every list request per job (job = tenant * nStreams + stream).
type requestLog struct {
	mu   sync.Mutex
	jobs [][]span
}

func newRequestLog(jobs int) *requestLog {
	return &requestLog{jobs: make([][]span, jobs)}
}

func (l *requestLog) add(job int, start, end int64) {
	l.mu.Lock()
	l.jobs[job] = append(l.jobs[job], span{start, end})
	l.mu.Unlock()
}

type report struct {
	Jobs            int   `json:"jobs"`
	JobsPolled      int   `json:"jobs_polled"`          // jobs with at least one list request
	FirstSweepsDone int   `json:"first_sweeps_done"`    // jobs whose first sweep is over
	FirstCycleMs    int64 `json:"first_cycle_ms"`       // start to the last first sweep's end; -1: not yet
	FirstRequestMs  int64 `json:"first_request_max_ms"` // start to the last job's first request
	Requests        int   `json:"requests"`             // list requests in [from, to)
	Polls           int   `json:"polls"`                // sweeps started in [from, to)
	Gaps            int   `json:"gaps"`                 // gaps between two sweeps that start in [from, to)
	GapP50Ms        int64 `json:"gap_p50_ms"`
	GapP99Ms        int64 `json:"gap_p99_ms"`
	GapMaxMs        int64 `json:"gap_max_ms"`
	GapsOver        int   `json:"gaps_over_110pct"` // gaps longer than interval + 10 %
}

// report groups each job's requests into sweeps (a request that starts more than cluster ms after
// the previous one ended begins a new sweep) and measures from start (the forwarder's start).
func (l *requestLog) report(now, start, cluster, interval, from, to int64) report {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := report{Jobs: len(l.jobs), FirstCycleMs: -1}
	var gaps []int64
	var lastFirst, lastFirstReq int64
	for _, reqs := range l.jobs {
		if len(reqs) == 0 {
			continue
		}
		rep.JobsPolled++
		sort.Slice(reqs, func(i, j int) bool { return reqs[i].start < reqs[j].start })
		lastFirstReq = max(lastFirstReq, reqs[0].start)
		firstEnd, firstDone := int64(-1), false
		sweepStart, prevEnd := reqs[0].start, reqs[0].end
		if reqs[0].start >= from && reqs[0].start < to {
			rep.Polls++
		}
		for i, r := range reqs {
			if r.start >= from && r.start < to {
				rep.Requests++
			}
			if i == 0 {
				continue
			}
			if r.start-prevEnd > cluster {
				if firstEnd < 0 {
					firstEnd, firstDone = prevEnd, true
				}
				if r.start >= from && r.start < to {
					if sweepStart >= from {
						gaps = append(gaps, r.start-sweepStart)
					}
					rep.Polls++
				}
				sweepStart = r.start
			}
			prevEnd = max(prevEnd, r.end)
		}
		if firstEnd < 0 {
			firstEnd, firstDone = prevEnd, now-prevEnd > cluster
		}
		if firstDone {
			rep.FirstSweepsDone++
			lastFirst = max(lastFirst, firstEnd)
		}
	}
	if rep.JobsPolled > 0 {
		rep.FirstRequestMs = lastFirstReq - start
	}
	if rep.FirstSweepsDone == rep.Jobs {
		rep.FirstCycleMs = lastFirst - start
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	rep.Gaps = len(gaps)
	if len(gaps) > 0 {
		rank := func(p float64) int64 {
			return gaps[max(0, int(math.Ceil(p*float64(len(gaps))))-1)]
		}
		rep.GapP50Ms, rep.GapP99Ms, rep.GapMaxMs = rank(0.50), rank(0.99), gaps[len(gaps)-1]
		for _, g := range gaps {
			if g*10 > interval*11 {
				rep.GapsOver++
			}
		}
	}
	return rep
}

func msParam(r *http.Request, name string, def int64) int64 {
	if v, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64); err == nil {
		return v
	}
	return def
}

func (srv *server) control(w http.ResponseWriter, r *http.Request) {
	var v any
	switch r.URL.Path {
	case "/_bench/stats":
		s := srv.stats
		v = map[string]int64{
			"token_requests": s.tokens.Load(), "token_errors": s.tokenErrors.Load(),
			"list_requests": s.lists.Load(), "list_errors": s.listErrors.Load(),
			"not_found": s.notFound.Load(), "records_served": s.records.Load(),
			"bytes_served": s.bytes.Load(), "http1_requests": s.h1.Load(),
			"http2_requests": s.h2.Load(), "connections": s.conns.Load(),
		}
	case "/_bench/report":
		interval := msParam(r, "interval", 60000)
		v = srv.log.report(time.Now().UnixMilli(), msParam(r, "start", srv.model.p.T0),
			msParam(r, "cluster", interval/2), interval, msParam(r, "from", 0),
			msParam(r, "to", math.MaxInt64))
	default:
		writeJSON(w, http.StatusNotFound, []byte(`{"error":"/_bench/stats or /_bench/report"}`))
		return
	}
	b, _ := json.Marshal(v)
	writeJSON(w, http.StatusOK, b)
}
