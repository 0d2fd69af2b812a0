package main

// verify compares what the forwarder delivered (a file output with envelope = yes) with the
// records the API had: every record version below a job's checkpoint must be delivered once.
//
// Which versions are required: the checkpoint (from `state show`) says every record whose last
// update lies before it was delivered. For a record with a second version, the second is required
// when it lies before the checkpoint; the first is then optional (a sweep may have found the
// record already updated). A first version before the checkpoint is required when the record had
// no visible second version at the stop. Only times from start - lookback on count.

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

type verifyResult struct {
	Lines            int      `json:"lines"`
	Unique           int      `json:"unique"`
	Duplicates       int      `json:"duplicates"`
	Required         int      `json:"required"`
	Lost             int      `json:"lost"`
	Unknown          int      `json:"unknown"`
	Unparsable       int      `json:"unparsable"`
	Checkpoints      int      `json:"checkpoints"`
	CheckpointErrors int      `json:"checkpoint_errors"`
	LostExamples     []string `json:"lost_examples,omitempty"`
	UnknownExamples  []string `json:"unknown_examples,omitempty"`
}

func key(tenant, stream, id, updated string) string {
	return tenant + "|" + stream + "|" + id + "|" + updated
}

func readCheckpoints(path string, idx tenantIndex, res *verifyResult) (map[int]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hw := map[int]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] == "TENANT" {
			continue
		}
		ti, ok := idx.find(fields[0])
		stream := -1
		for s, name := range streamNames {
			if name == fields[1] {
				stream = s
			}
		}
		if !ok || stream < 0 {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, fields[2])
		if err != nil {
			res.CheckpointErrors++
			continue
		}
		hw[ti*nStreams+stream] = t.UnixMilli()
		res.Checkpoints++
	}
	return hw, sc.Err()
}

type envelope struct {
	Tenant string `json:"tenant"`
	Stream string `json:"stream"`
	ID     string `json:"id"`
	Record struct {
		GraphUpdated string `json:"lastUpdateDateTime"`
		MDEUpdated   string `json:"lastUpdateTime"`
	} `json:"record"`
}

func readOutput(path string, res *verifyResult) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		res.Lines++
		var e envelope
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == "" {
			res.Unparsable++
			continue
		}
		seen[key(e.Tenant, e.Stream, e.ID, e.Record.GraphUpdated+e.Record.MDEUpdated)]++
	}
	return seen, sc.Err()
}

func verify(args []string) int {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	infoPath := fs.String("info", "", "info.json written by serve (required)")
	statePath := fs.String("state", "", "output of `defender-forwarder state show` (required)")
	outPath := fs.String("output", "", "the forwarder's file output, envelope = yes (required)")
	start := fs.Int64("start", 0, "when the forwarder started, ms since the epoch (required)")
	stop := fs.Int64("stop", time.Now().UnixMilli(), "when it stopped, ms since the epoch")
	lookback := fs.Duration("lookback", 24*time.Hour, "the forwarder's initial_lookback")
	fs.Parse(args)
	if *infoPath == "" || *statePath == "" || *outPath == "" || *start == 0 {
		fs.Usage()
		return 2
	}
	res, err := verifyFiles(*infoPath, *statePath, *outPath, *start, *stop, lookback.Milliseconds())
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakeapi verify: %v\n", err)
		return 1
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}

// verifyFiles is verify on files: info.json, the `state show` text and the output (times in ms).
func verifyFiles(infoPath, statePath, outPath string, start, stop, lookbackMs int64) (*verifyResult, error) {
	var inf info
	raw, err := os.ReadFile(infoPath)
	if err == nil {
		err = json.Unmarshal(raw, &inf)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", infoPath, err)
	}
	m := newModel(inf.Params)
	idx := indexTenants(inf.Tenants)
	var res verifyResult
	hw, err := readCheckpoints(statePath, idx, &res)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", statePath, err)
	}
	seen, err := readOutput(outPath, &res)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", outPath, err)
	}
	res.Unique = len(seen)
	for _, n := range seen {
		res.Duplicates += n - 1
	}
	floor := start - lookbackMs
	known := make(map[string]bool, len(seen))
	require := func(k string) {
		res.Required++
		if seen[k] == 0 {
			res.Lost++
			if len(res.LostExamples) < 5 {
				res.LostExamples = append(res.LostExamples, k)
			}
		}
	}
	for ti := range inf.Tenants {
		for s := 0; s < nStreams; s++ {
			cp, has := hw[ti*nStreams+s]
			name, stream := inf.Tenants[ti].Name, streamNames[s]
			due := func(r rec) bool { return has && r.updated >= floor && r.updated < cp }
			for k := 0; k < inf.Params.History; k++ {
				r := m.history(ti, s, k)
				kk := key(name, stream, recordID(r), updatedString(r))
				known[kk] = true
				if due(r) {
					require(kk)
				}
			}
			lo, hi := m.liveRange(ti, s, inf.Params.T0, stop)
			for k := lo; k <= hi; k++ {
				v1, _ := m.live(ti, s, k, m.liveCreated(ti, s, k))
				k1 := key(name, stream, recordID(v1), updatedString(v1))
				known[k1] = true
				v2, _ := m.live(ti, s, k, stop)
				if v2.version == 2 {
					k2 := key(name, stream, recordID(v2), updatedString(v2))
					known[k2] = true
					if due(v2) {
						require(k2)
					}
				} else if due(v1) {
					require(k1)
				}
			}
		}
	}
	for k := range seen {
		if !known[k] {
			res.Unknown++
			if len(res.UnknownExamples) < 5 {
				res.UnknownExamples = append(res.UnknownExamples, k)
			}
		}
	}
	return &res, nil
}
