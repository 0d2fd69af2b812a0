package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testParams() Params {
	return Params{Seed: "test", T0: time.Now().Add(-30 * time.Minute).Truncate(time.Second).UnixMilli(),
		Tenants: 20, History: 5, HistorySpanMs: 20 * 3600 * 1000, Active: 0.5, EveryMs: 60000,
		Updated: 0.5, UpdateAfterMs: 5 * 60000}
}

func iso(ms int64) string { return string(appendTime(nil, ms, false)) }

// allVersions is every version of every record of a job visible at some time up to now.
func allVersions(m *model, ti, s int, now int64) []rec {
	var out []rec
	for k := 0; k < m.p.History; k++ {
		out = append(out, m.history(ti, s, k))
	}
	for k := 0; ; k++ {
		c := m.liveCreated(ti, s, k)
		if !m.active(ti, s) || c > now {
			break
		}
		v1, _ := m.live(ti, s, k, c)
		out = append(out, v1)
		if v2, _ := m.live(ti, s, k, now); v2.version == 2 {
			out = append(out, v2)
		}
	}
	return out
}

// The window query returns exactly the current versions whose times match the filter, the same
// as a scan of every version would.
func TestListMatchesScan(t *testing.T) {
	p := testParams()
	m := newModel(p)
	now := time.Now().UnixMilli()
	a := &apis[streamGraph]
	actives := 0
	for ti := 0; ti < p.Tenants; ti++ {
		for s := 0; s < nStreams; s++ {
			if m.active(ti, s) {
				actives++
			}
			for _, win := range [][2]int64{{p.T0 - 86400000, now}, {p.T0, now - 120000},
				{now - 12*60000, now - 120000}, {p.T0 + 7*60000, p.T0 + 9*60000}} {
				text := fmt.Sprintf("%s ge %s and %s lt %s", a.updatedField, iso(win[0]),
					a.updatedField, iso(win[1]))
				f, err := parseFilter(text, a)
				if err != nil {
					t.Fatal(err)
				}
				got := m.list(ti, s, now, f)
				want := map[string]bool{}
				for _, r := range allVersions(m, ti, s, now) {
					cur := r
					if r.seq >= p.History {
						cur, _ = m.live(ti, s, r.seq-p.History, now)
					}
					if cur.version == r.version && r.updated >= win[0] && r.updated < win[1] {
						want[recordID(r)+updatedString(r)] = true
					}
				}
				if len(got) != len(want) {
					t.Fatalf("tenant %d stream %d window %v: %d records, want %d", ti, s, win,
						len(got), len(want))
				}
				for i, r := range got {
					if !want[recordID(r)+updatedString(r)] {
						t.Fatalf("unexpected record %s", recordID(r))
					}
					if i > 0 && got[i-1].updated > r.updated {
						t.Fatal("not ordered by last update")
					}
				}
			}
		}
	}
	if actives == 0 || actives == p.Tenants*nStreams {
		t.Fatalf("%d active streams of %d: the fraction is not applied", actives, p.Tenants*nStreams)
	}
}

func TestFilterParse(t *testing.T) {
	a := &apis[streamMDE]
	f, err := parseFilter("(lastUpdateTime ge 2026-12-01T10:00:00.000Z and lastUpdateTime lt "+
		"2026-12-01T10:05:00.1234567Z) and alertCreationTime ge 2026-12-01T09:00:00Z", a)
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := time.Parse(time.RFC3339, "2026-12-01T10:00:00Z")
	if f.lower == nil || f.lower.ns != lo.UnixNano() || !f.lower.incl || f.upper == nil ||
		f.upper.incl || len(f.created) != 1 || f.created[0].op != "ge" {
		t.Fatalf("parsed %+v", f)
	}
	at := func(u, c string) rec {
		tu, _ := time.Parse(time.RFC3339Nano, u)
		tc, _ := time.Parse(time.RFC3339Nano, c)
		return rec{updated: tu.UnixMilli(), created: tc.UnixMilli()}
	}
	for _, c := range []struct {
		u, c string
		ok   bool
	}{
		{"2026-12-01T10:00:00.000Z", "2026-12-01T09:00:00Z", true},
		{"2026-12-01T09:59:59.999Z", "2026-12-01T09:00:00Z", false},
		{"2026-12-01T10:05:00.123Z", "2026-12-01T09:30:00Z", true},
		{"2026-12-01T10:05:00.124Z", "2026-12-01T09:30:00Z", false},
		{"2026-12-01T10:01:00Z", "2026-12-01T08:59:59Z", false},
	} {
		if f.match(at(c.u, c.c)) != c.ok {
			t.Errorf("match(%s, %s) != %v", c.u, c.c, c.ok)
		}
	}
	for _, bad := range []string{"", "lastUpdateTime ge", "title eq 2026-12-01T10:00:00Z",
		"lastUpdateTime ge 2026-12-01T10:00:00Z or lastUpdateTime lt 2026-12-02T10:00:00Z",
		"lastUpdateTime ne 2026-12-01T10:00:00Z", "lastUpdateTime ge yesterday"} {
		if _, err := parseFilter(bad, a); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func newTestServer(t *testing.T, p Params) (*server, *httptest.Server) {
	m := newModel(p)
	ts := makeTenants(m)
	if err := writeSecrets(ts, filepath.Join(t.TempDir(), "secrets")); err != nil {
		t.Fatal(err)
	}
	srv := &server{model: m, tenants: ts, index: indexTenants(ts), signer: newSigner(3599),
		log: newRequestLog(p.Tenants * nStreams), stats: &counters{}}
	hs := httptest.NewTLSServer(srv)
	hs.EnableHTTP2 = true
	srv.base = hs.URL
	t.Cleanup(hs.Close)
	return srv, hs
}

func getToken(t *testing.T, hs *httptest.Server, tn tenant, secret, scope string) (int, map[string]any) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tn.ClientID},
		"client_secret": {secret}, "scope": {scope}}
	resp, err := hs.Client().PostForm(hs.URL+"/"+tn.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func get(t *testing.T, hs *httptest.Server, path, token string) (int, map[string]any) {
	req, _ := http.NewRequest("GET", hs.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s: not JSON: %v: %.200s", path, err, raw)
	}
	return resp.StatusCode, body
}

// A token has the claims the forwarder reads, and opens the list API of its audience only.
func TestTokenAndList(t *testing.T) {
	p := testParams()
	srv, hs := newTestServer(t, p)
	tn := srv.tenants[3]
	secret, _ := os.ReadFile(tn.SecretFile)
	if st, _ := os.Stat(tn.SecretFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", st.Mode().Perm())
	}
	if code, body := getToken(t, hs, tn, "wrong", "https://graph.microsoft.com/.default"); code != 401 ||
		body["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", code, body)
	}
	code, body := getToken(t, hs, tn, strings.TrimSpace(string(secret)), "https://graph.microsoft.com/.default")
	if code != 200 {
		t.Fatalf("token: %d %v", code, body)
	}
	if _, ok := body["expires_in"].(float64); !ok {
		t.Fatalf("expires_in is not a number: %v", body["expires_in"])
	}
	tok := body["access_token"].(string)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatal("not a JWT")
	}
	c, err := srv.signer.verify(tok, time.Now())
	if err != nil || c.Tid != tn.TenantID || c.Aud != "https://graph.microsoft.com" ||
		len(c.Roles) != 4 || c.Exp <= c.Iat || c.Nbf != c.Iat {
		t.Fatalf("claims %+v %v", c, err)
	}
	now := time.Now()
	q := "?$filter=" + url.QueryEscape(fmt.Sprintf("lastUpdateDateTime ge %s and lastUpdateDateTime lt %s",
		iso(p.T0-86400000), iso(now.UnixMilli()))) + "&$top=2&$count=true"
	code, page := get(t, hs, "/v1.0/security/alerts_v2"+q, tok)
	if code != 200 {
		t.Fatalf("list: %d %v", code, page)
	}
	all := srv.model.list(3, streamGraph, now.UnixMilli(), &filter{})
	if int(page["@odata.count"].(float64)) != len(all) || len(page["value"].([]any)) != 2 {
		t.Fatalf("count %v, %d rows; model has %d", page["@odata.count"], len(page["value"].([]any)), len(all))
	}
	next, _ := page["@odata.nextLink"].(string)
	if !strings.Contains(next, "%24skip=2") {
		t.Fatalf("nextLink %q", next)
	}
	first := page["value"].([]any)[0].(map[string]any)
	if first["id"] != recordID(all[0]) || first["lastUpdateDateTime"] != updatedString(all[0]) {
		t.Fatalf("first row %v, want %s", first["id"], recordID(all[0]))
	}
	if code, _ := get(t, hs, "/api/alerts?$top=10", tok); code != 401 {
		t.Fatalf("a Graph token read MDE alerts: %d", code)
	}
	if code, _ := get(t, hs, "/v1.0/security/alerts_v2?$skip=501", tok); code != 400 {
		t.Fatalf("$skip=501: %d", code)
	}
	code, body = getToken(t, hs, tn, strings.TrimSpace(string(secret)),
		"https://api.securitycenter.microsoft.com/.default")
	if code != 200 {
		t.Fatalf("MDE token: %d %v", code, body)
	}
	code, page = get(t, hs, "/api/alerts?$top=1&$expand=evidence", body["access_token"].(string))
	if code != 200 || page["@odata.nextLink"] != nil || len(page["value"].([]any)) != 1 {
		t.Fatalf("MDE list: %d %v", code, page)
	}
	if ev := page["value"].([]any)[0].(map[string]any)["evidence"].([]any); len(ev) != 1 {
		t.Fatalf("evidence %v", ev)
	}
	rep := srv.log.report(time.Now().UnixMilli()+60000, p.T0, 30000, 60000, 0, 1<<62)
	if rep.JobsPolled != 2 || rep.Requests != 2 {
		t.Fatalf("report %+v", rep)
	}
}

// Poll gaps are measured between sweep starts; requests close together are one sweep.
func TestReport(t *testing.T) {
	l := newRequestLog(2)
	for _, s := range []int64{0, 500, 1500, 61000, 121500, 122000} {
		l.add(0, 1000+s, 1000+s+100)
	}
	rep := l.report(1000+200000, 1000, 30000, 60000, 0, 1<<62)
	if rep.FirstCycleMs != -1 || rep.JobsPolled != 1 {
		t.Fatalf("job 1 never polled, yet %+v", rep)
	}
	l.add(1, 2000, 4000)
	rep = l.report(1000+200000, 1000, 30000, 60000, 0, 1<<62)
	if rep.FirstCycleMs != 3000 || rep.Gaps != 2 || rep.GapMaxMs != 61000 || rep.GapP50Ms != 60500 ||
		rep.GapsOver != 0 || rep.Polls != 4 || rep.Requests != 7 {
		t.Fatalf("report %+v", rep)
	}
	// a window: only gaps between two sweeps that both start in it (the sweep before it may be
	// the first cycle, which a quick second poll joins)
	rep = l.report(1000+200000, 1000, 30000, 60000, 1000+60000, 1<<62)
	if rep.Gaps != 1 || rep.GapMaxMs != 60500 || rep.Polls != 2 || rep.Requests != 3 {
		t.Fatalf("report from 60 s %+v", rep)
	}
}

// Rendered records are valid JSON with the fields the forwarder keys on.
func TestRender(t *testing.T) {
	m := newModel(testParams())
	ts := makeTenants(m)
	for k := 0; k < 5; k++ {
		r := m.history(1, streamMDE, k)
		for _, b := range [][]byte{appendGraph(nil, r, &ts[1]), appendMDE(nil, r, &ts[1], true),
			appendMDE(nil, r, &ts[1], false)} {
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if v["id"] != recordID(r) {
				t.Fatalf("id %v", v["id"])
			}
		}
	}
}

// verify finds a missing record and a repeated one, and accepts the complete output.
func TestVerify(t *testing.T) {
	p := testParams()
	p.Tenants = 3
	m := newModel(p)
	ts := makeTenants(m)
	dir := t.TempDir()
	now := time.Now().UnixMilli()
	cp := now - 2*60000
	infoPath := filepath.Join(dir, "info.json")
	doc, _ := json.Marshal(info{Params: p, Tenants: ts})
	os.WriteFile(infoPath, doc, 0o644)
	state := "TENANT STREAM CHECKPOINT LAG_S DELIVERED SEEN SWEEP\n"
	var lines []string
	for ti := range ts {
		for s := 0; s < nStreams; s++ {
			state += fmt.Sprintf("%s %s %s 120 0 0 idle\n", ts[ti].Name, streamNames[s], iso(cp))
			for _, r := range m.list(ti, s, now, &filter{upper: &bound{cp * 1e6, false}}) {
				var rec []byte
				if s == streamGraph {
					rec = appendGraph(nil, r, &ts[ti])
				} else {
					rec = appendMDE(nil, r, &ts[ti], true)
				}
				lines = append(lines, fmt.Sprintf(`{"tenant":%q,"stream":%q,"id":%q,"record":%s}`,
					ts[ti].Name, streamNames[s], recordID(r), rec))
			}
		}
	}
	statePath := filepath.Join(dir, "state.txt")
	os.WriteFile(statePath, []byte(state), 0o644)
	check := func(out []string) *verifyResult {
		path := filepath.Join(dir, "out.jsonl")
		os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644)
		res, err := verifyFiles(infoPath, statePath, path, now-60000, now, 86400000)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := check(lines); res.Lost != 0 || res.Duplicates != 0 || res.Unknown != 0 ||
		res.Required != len(lines) || res.Checkpoints != 6 {
		t.Fatalf("complete output: %+v (%d lines)", res, len(lines))
	}
	if res := check(append(lines[1:], lines[5])); res.Lost != 1 || res.Duplicates != 1 {
		t.Fatalf("one lost, one repeated: %+v", res)
	}
	forged := strings.Replace(lines[2], `"id":"da`, `"id":"dx`, 1)
	if res := check(append(lines, forged)); res.Unknown != 1 {
		t.Fatalf("a record the API never had: %+v", res)
	}
}
