"""Paging scenarios against the emulator in live mode: a server that pages like Microsoft's (next
links are the same query with a larger $skip over live data), with updates and inserts while a
sweep runs, late-visible records, ties, newest-first order and duplicate rows.

Each scenario runs the forwarder (`run --once`, JSON lines into a file output) until the data is
quiet, then compares what the file holds with what the emulator holds:

* expected: every record's current (id, last-update) pair whose last-update time lies inside the
  windows the forwarder read (all of them, unless a scenario says otherwise);
* lost: expected pairs never delivered;
* duplicated: pairs delivered more than once (an unchanged record sent twice);
* api_calls: list requests the emulator answered for the stream.

Used by tests/integration/test_paging.py (assertions) and bench/paging (the table, for any
binary: pass bin=...). Everything listens on 127.0.0.1."""

import collections
import json
import os
import subprocess
import time

import harness

RUN_TIMEOUT = int(os.environ.get("DFW_PAGING_RUN_TIMEOUT", "300"))

STREAM_FIELDS = {"graph-alerts": ("id", "lastUpdateDateTime"),
                 "graph-incidents": ("id", "lastUpdateDateTime"),
                 "mde-alerts": ("id", "lastUpdateTime"),
                 "m365d-incidents": ("incidentId", "lastUpdateTime")}


_SUPPORTS = {}


def supports(binary, key):
    """True when this forwarder build knows [forwarder] key (an older build refuses it)."""
    if (binary, key) not in _SUPPORTS:
        _SUPPORTS[(binary, key)] = _config_accepts(binary, key)
    return _SUPPORTS[(binary, key)]


def _config_accepts(binary, key):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "c.conf")
        with open(conf, "w") as f:
            f.write(f"[forwarder]\nstate_dir = {d}/s\n{key} = 0s\n")
        r = subprocess.run([binary, "-c", conf, "check-config"], capture_output=True, text=True)
        return "unknown key" not in r.stderr


class Scenario:
    """One emulator tenant and stream, a file output, `run --once` as often as needed."""

    def __init__(self, work, binary, stream="graph-alerts", records=0, forwarder=None,
                 emu_args=()):
        self.work, self.bin, self.stream = work, binary, stream
        os.makedirs(work, exist_ok=True)
        self.emu = harness.Emulator(work, tenants=1, records=records,
                                    args=("--streams", stream, "--no-rate-limit", *emu_args))
        self.tenant = self.emu.tenants[0]["name"]
        self.out = os.path.join(work, "events.jsonl")
        self.state = os.path.join(work, "state")
        fw = {"initial_lookback": "3d", "log_level": "warn", "settle_delay": "0s"}
        fw.update(forwarder or {})
        if not supports(binary, "settle_delay"):
            fw["settle_delay"] = None  # an older build: leave the key out altogether
        self.conf = harness.write_config(
            os.path.join(work, "forwarder.conf"), self.emu, self.state,
            [("file", {"type": "file", "path": self.out})], forwarder=fw, streams=stream)
        self.runs = []
        self.notes = []

    def another(self, name, forwarder):
        """A second forwarder configuration (own state and output) on the same emulator."""
        other = object.__new__(Scenario)
        other.work, other.bin, other.stream, other.emu = self.work, self.bin, self.stream, self.emu
        other.tenant, other.runs, other.notes = self.tenant, [], []
        other.out = os.path.join(self.work, name + ".jsonl")
        other.state = os.path.join(self.work, name + "-state")
        fw = {"initial_lookback": "3d", "log_level": "warn"}
        fw.update(forwarder or {})
        if not supports(self.bin, "settle_delay"):
            fw["settle_delay"] = None  # an older build: leave the key out altogether
        other.conf = harness.write_config(os.path.join(self.work, name + ".conf"), self.emu,
                                          other.state,
                                          [("file", {"type": "file", "path": other.out})],
                                          forwarder=fw, streams=self.stream)
        return other

    def paging(self, **knobs):
        self.emu.control("paging", dict(knobs, tenant=self.tenant, stream=self.stream))

    def add(self, **body):
        return self.emu.control("records", dict(body, tenant=self.tenant, stream=self.stream))

    def update(self, **body):
        return self.emu.control("update", dict(body, tenant=self.tenant, stream=self.stream))

    def run_once(self, timeout=None):
        """`run --once`; a run that does not end within timeout (default: RUN_TIMEOUT s) is
        killed and recorded in self.notes (a forwarder that pages for ever)."""
        try:
            r = subprocess.run([self.bin, "-c", self.conf, "run", "--once", "--no-progress"],
                               capture_output=True, text=True, timeout=timeout or RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.notes.append(f"run --once killed after {timeout or RUN_TIMEOUT}s")
            return None
        self.runs.append(r)
        if r.returncode != 0:
            raise AssertionError(f"run --once exited {r.returncode}: {r.stderr[-2000:]}")
        return r

    def api_calls(self):
        return self.emu.control("stats")["requests"].get(self.stream, {}).get(self.tenant, 0)

    def delivered(self):
        """Counter of delivered (id, last-update) pairs. A last line without its newline is still
        being written by a running forwarder (polled while it runs): not counted yet."""
        idf, upf = STREAM_FIELDS[self.stream]
        out = collections.Counter()
        if os.path.exists(self.out):
            with open(self.out, encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        break
                    rec = json.loads(line)["record"]
                    out[(str(rec[idf]), rec[upf])] += 1
        return out

    def current(self):
        """{(id, last-update)} of the emulator's records now."""
        res = self.emu.control(f"records?tenant={self.tenant}&stream={self.stream}&summary=1")
        return {(str(r["id"]), r["lastUpdate"]) for r in res["records"]}

    def result(self, expected=None):
        """The table row: what the emulator holds now against what the file output got."""
        expected = self.current() if expected is None else expected
        got = self.delivered()
        return {"expected": len(expected), "delivered": sum(1 for k in expected if k in got),
                "lost": sum(1 for k in expected if k not in got),
                "duplicated": sum(n - 1 for n in got.values() if n > 1),
                "api_calls": self.api_calls(), "notes": "; ".join(self.notes)}

    def stop(self):
        self.emu.stop()


def backfill_with_updates(work, binary, records=10000, churn=5, page_size=500,
                          stream="graph-alerts"):
    """A backfill of `records` while each response updates `churn` of the records it served."""
    s = Scenario(work, binary, stream=stream, records=records,
                 forwarder={"page_size": page_size})
    try:
        s.paging(churn=churn)
        s.run_once()
        s.paging(churn=0)
        s.run_once()
        return s.result()
    finally:
        s.stop()


def backfill_with_inserts(work, binary, records=10000, insert=5, page_size=500):
    """A backfill of `records` while each response adds `insert` new records."""
    s = Scenario(work, binary, records=records, forwarder={"page_size": page_size})
    try:
        s.paging(insert=insert)
        s.run_once()
        s.paging(insert=0)
        s.run_once()
        return s.result()
    finally:
        s.stop()


def newest_first(work, binary, records=10000, insert=5, page_size=500):
    """Newest first (as Defender XDR lists incidents), with inserts while paging."""
    s = Scenario(work, binary, records=records, forwarder={"page_size": page_size})
    try:
        s.paging(order="desc", insert=insert)
        s.run_once()
        s.paging(insert=0)
        s.run_once()
        return s.result()
    finally:
        s.stop()


def mde_full_pages(work, binary, records=10000, page_size=1000):
    """MDE alerts: no @odata.nextLink when $top is set (documented): a full page is the only
    sign that more rows exist."""
    s = Scenario(work, binary, stream="mde-alerts", records=records,
                 forwarder={"page_size": page_size})
    try:
        s.run_once()
        return s.result()
    finally:
        s.stop()


def ties(work, binary, page_size=100, factor=3, same_created=True, stream="graph-alerts"):
    """factor x page_size records sharing one last-update time exactly, served in a new order on
    every request. same_created: they share the created time too (else: a bulk update of older
    records, created at different times)."""
    s = Scenario(work, binary, stream=stream, records=200, forwarder={"page_size": page_size})
    try:
        s.paging(order="shuffle_ties")
        at = time.strftime("%Y-%m-%dT%H:%M:%S.5000000Z", time.gmtime(time.time() - 3600))
        n = factor * page_size
        if same_created:
            s.add(count=n, at=at, tie=True)
        else:
            ids = [r["id"] for r in s.emu.records(s.tenant, s.stream)[:n]]
            if len(ids) < n:
                s.add(count=n - len(ids), age_s=86400)
                ids = [r["id"] for r in s.emu.records(s.tenant, s.stream)[:n]]
            s.update(ids=ids, at=at, tie=True)
        s.run_once()
        return s.result()
    finally:
        s.stop()


def duplicate_rows(work, binary, records=2000, duplicates=5, page_size=200):
    """Every page serves `duplicates` of its rows twice."""
    s = Scenario(work, binary, records=records, forwarder={"page_size": page_size})
    try:
        s.paging(duplicates=duplicates)
        s.run_once()
        s.run_once()
        return s.result()
    finally:
        s.stop()


def lag(work, binary, configs, lag_minutes=(1, 6, 20)):
    """Records that become visible `lag` minutes after their last-update time, read by each
    forwarder configuration of `configs` ({label: [forwarder] keys}, one state each, on one
    emulator): after a first run of each, records stamped `lag` minutes ago appear (as when they
    become visible); runs go on until the largest settle_delay has passed over them. Returns
    {label: {lag: result}}."""
    base = Scenario(work, binary, records=50, forwarder={"settle_delay": None})
    try:
        runs = {label: base.another(label.replace(" ", "_"), fw) for label, fw in configs.items()}
        for s in runs.values():
            s.run_once()
        stamped = {}
        for m in lag_minutes:
            rec = base.add(count=1, age_s=m * 60)["records"][0]
            stamped[m] = (str(rec["id"]), rec["lastUpdate"])
        for s in runs.values():
            s.run_once()
        settle = max(_duration_s(fw.get("settle_delay") or "2m") for fw in configs.values())
        short = [m * 60 for m in lag_minutes if m * 60 < settle]
        if short:
            time.sleep(settle - min(short) + 5)
            for s in runs.values():
                s.run_once()
        out = {}
        for label, s in runs.items():
            got = s.delivered()
            out[label] = {m: {"expected": 1, "delivered": int(k in got), "lost": int(k not in got),
                              "duplicated": max(0, got.get(k, 0) - 1), "api_calls": 0,
                              "late": sum(_late(r) for r in s.runs)}
                          for m, k in stamped.items()}
        return out
    finally:
        base.stop()


def _late(run):
    for line in run.stdout.splitlines():
        if line.startswith("summary:"):
            for part in line.split():
                if part.startswith("late="):
                    return int(part[5:])
    return 0


def _duration_s(text):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for u in ("ms", "s", "m", "h", "d"):
        if text.endswith(u):
            return float(text[:-len(u)]) * units[u]
    return float(text)


def quiet_backfill(work, binary, records=200000, page_size=1000):
    """A backfill of `records` with nothing changing, then a quiet sweep: API calls of each."""
    s = Scenario(work, binary, records=records, forwarder={"page_size": page_size})
    try:
        s.run_once(timeout=3600)
        backfill = s.api_calls()
        s.run_once()
        res = s.result()
        res["api_calls_backfill"] = backfill
        res["api_calls_quiet_sweep"] = res["api_calls"] - backfill
        return res
    finally:
        s.stop()
