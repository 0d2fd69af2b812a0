"""Splunk HEC pieces of the integration tests and bench/hec: the OpenTelemetry Collector built
with its splunk_hec receiver, ack extension and file exporter (cached after the first build), our
fault endpoint (hec/fault_hec.py) and checks of what arrived. Everything listens on 127.0.0.1."""

import base64
import collections
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "hec", "manifest.yaml")
FAULT_HEC = os.path.join(HERE, "hec", "fault_hec.py")
# The collector release the manifest names; the Go module proxy here serves all three
# components at this version.
COLLECTOR_VERSION = "v0.158.0"
TOKEN = "00000000-1111-2222-3333-444444444444"

# Sourcetypes of the Splunk Add-on for Microsoft Security (defender-api.md §8.1, docs/splunk-hec.md)
SOURCETYPES = {"m365d-incidents": "ms365:defender:incident",
               "mde-alerts": "ms:defender:atp:alerts",
               "graph-alerts": "ms365:defender:incident:alerts",
               "graph-incidents": "ms365:defender:incident"}


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "defender-forwarder", "otelcol-hec", COLLECTOR_VERSION)


def _go():
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go")
                                else None)
    if go is None:
        raise RuntimeError("Go is needed to build the HEC test receiver (apt-get install golang-go)")
    return go


def collector_binary():
    """The collector binary: $DFW_OTELCOL, else the cached build, else build it now (the
    collector builder from the Go module proxy, then the manifest) and cache it. A lock keeps two
    test processes from building at once."""
    if os.environ.get("DFW_OTELCOL"):
        return os.environ["DFW_OTELCOL"]
    d = cache_dir()
    binary = os.path.join(d, "otelcol-hec")
    if os.path.exists(binary):
        return binary
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(binary):
            return binary
        go = _go()
        work = tempfile.mkdtemp(prefix="otelcol-hec-build-")
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(go) + os.pathsep + env.get("PATH", "")
        env["GOFLAGS"] = "-mod=mod"
        env["GOBIN"] = os.path.join(work, "bin")
        # the checksum database does not know every contrib module version the proxy serves
        env["GONOSUMDB"] = "github.com/open-telemetry/opentelemetry-collector-contrib"
        env.setdefault("GOPATH", os.path.join(os.path.expanduser("~"), "go"))
        log_path = os.path.join(d, "build.log")
        start = time.monotonic()
        with open(log_path, "w") as log:
            with open(MANIFEST) as f:
                manifest = f.read().replace("./otelcol-hec", os.path.join(work, "dist"))
            with open(os.path.join(work, "manifest.yaml"), "w") as f:
                f.write(manifest)
            for cmd in ([go, "install", f"go.opentelemetry.io/collector/cmd/builder@{COLLECTOR_VERSION}"],
                        [os.path.join(work, "bin", "builder"), "--config",
                         os.path.join(work, "manifest.yaml")]):
                r = subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   timeout=1800)
                if r.returncode != 0:
                    raise RuntimeError(f"building the HEC test receiver failed ({' '.join(cmd)}); "
                                       f"see {log_path}")
        secs = time.monotonic() - start
        tmp = binary + ".tmp"
        shutil.copy2(os.path.join(work, "dist", "otelcol-hec"), tmp)
        os.rename(tmp, binary)
        with open(os.path.join(d, "build-seconds"), "w") as f:
            f.write(f"{secs:.1f}\n")
        sys.stderr.write(f"built the HEC test receiver (otelcol-hec {COLLECTOR_VERSION}) in "
                         f"{secs:.1f} s; cached at {binary}\n")
        shutil.rmtree(work, ignore_errors=True)
        return binary


def write_token(workdir, token=TOKEN):
    path = os.path.join(workdir, "hec.token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path


class Collector:
    """The OpenTelemetry Collector with the splunk_hec receiver (TLS, indexer acknowledgement
    through the ack extension) writing every log record to a file (file exporter)."""

    def __init__(self, workdir, tls=True, name="otelcol"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.tls = harness.make_tls_cert(workdir, name) if tls else None
        tls_conf = ""
        if self.tls:
            tls_conf = (f"    tls:\n      cert_file: {self.tls['cert']}\n"
                        f"      key_file: {self.tls['key']}\n")
        self.tls_conf = tls_conf
        self.url = ("https" if tls else "http") + f"://127.0.0.1:{self.port}"
        self.ca_file = self.tls["ca"] if self.tls else None
        self.outs = []
        self.start()

    def start(self):
        """(Re)start on the same port and certificate; each start writes its own file (the file
        exporter truncates the one it opens), events() reads them all."""
        self.out = os.path.join(self.dir, f"received-{len(self.outs)}.jsonl")
        self.outs.append(self.out)
        self.conf = os.path.join(self.dir, "config.yaml")
        with open(self.conf, "w") as f:
            f.write(f"""extensions:
  ack:
receivers:
  splunk_hec:
    endpoint: 127.0.0.1:{self.port}
{self.tls_conf}    ack:
      extension: ack
exporters:
  file:
    path: {self.out}
    flush_interval: 100ms
service:
  extensions: [ack]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    logs:
      receivers: [splunk_hec]
      exporters: [file]
""")
        self.log = open(os.path.join(self.dir, "collector.log"), "ab")
        self.proc = subprocess.Popen([collector_binary(), "--config", self.conf],
                                     stdout=self.log, stderr=self.log)
        harness.wait_for(self._listening, 60, "the HEC receiver to listen")

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError("the collector exited; see " + self.log.name)
        return harness.tcp_listening(self.port)

    def stop(self):
        harness.stop_process(self.proc, 20)
        self.log.close()

    def _documents(self):
        """The exporter's OTLP documents, one per complete line. A last line without its newline
        is still being written by the exporter: it is left for the next read."""
        for path in self.outs:
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip() and line.endswith("\n"):
                        yield json.loads(line)

    def events(self):
        """Every received event as {time_ns, host, source, sourcetype, index, fields, event}."""
        out = []
        for doc in self._documents():
            out += otlp_events(doc)
        return out

    def count(self):
        """How many log records arrived (cheaper than events())."""
        return sum(len(sl.get("logRecords", [])) for doc in self._documents()
                   for rl in doc.get("resourceLogs", []) for sl in rl.get("scopeLogs", []))

    def settle(self, count, timeout=30, events=True):
        """The events (or with events=False their number) once at least count arrived and the
        file stopped growing."""
        last = [-1]

        def done():
            n = self.count()
            ok = n >= count and n == last[0]
            last[0] = n
            return ok
        harness.wait_for(done, timeout, f"{count} events at the HEC receiver", interval=0.3)
        return self.events() if events else last[0]


def any_value(v):
    """An OTLP AnyValue (as the file exporter writes it) as a Python value."""
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return v["doubleValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: any_value(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])}
    if "bytesValue" in v:
        return base64.b64decode(v["bytesValue"])
    return None


def otlp_events(doc):
    out = []
    for rl in doc.get("resourceLogs", []):
        res = {a["key"]: any_value(a["value"]) for a in rl.get("resource", {}).get("attributes", [])}
        for sl in rl.get("scopeLogs", []):
            for rec in sl.get("logRecords", []):
                out.append({
                    "time_ns": int(rec.get("timeUnixNano", 0)),
                    "host": res.get("host.name"),
                    "source": res.get("com.splunk.source"),
                    "sourcetype": res.get("com.splunk.sourcetype"),
                    "index": res.get("com.splunk.index"),
                    "fields": {a["key"]: any_value(a["value"]) for a in rec.get("attributes", [])},
                    "event": any_value(rec.get("body", {})),
                })
    return out


class FaultHec:
    """tests/integration/hec/fault_hec.py as a child process (plain HTTP on 127.0.0.1)."""

    def __init__(self, workdir, **settings):
        self.dir = os.path.join(workdir, "fault-hec")
        os.makedirs(self.dir, exist_ok=True)
        info = os.path.join(self.dir, "info.json")
        self.log = open(os.path.join(self.dir, "fault-hec.log"), "ab")
        self.proc = subprocess.Popen([sys.executable, FAULT_HEC, "--port", "0", "--info", info],
                                     stdout=self.log, stderr=self.log)
        harness.wait_for(lambda: os.path.exists(info) or self.proc.poll() is not None, 30,
                         "the fault HEC endpoint")
        with open(info) as f:
            self.url = json.load(f)["url"]
        self.set(token=TOKEN, **settings)

    def _call(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if body is None
                                     else "POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def set(self, **settings):
        return self._call("/_fault", settings)

    def events(self):
        return self._call("/_fault/events")

    def stats(self):
        return self._call("/_fault/stats")

    def stop(self):
        harness.stop_process(self.proc)
        self.log.close()


class FaultHecCase(unittest.TestCase):
    """A test with a work directory, the emulator (TENANTS tenants of RECORDS records, stream
    STREAM only), our fault HEC endpoint, a HEC token file and a state directory; self.fwd, when
    a test starts a forwarder in the background, is cleaned up."""

    PREFIX = "dfw-hec-"
    TENANTS = 3
    RECORDS = 20
    STREAM = "mde-alerts"

    def setUp(self):
        self.work = harness.Workdir(self.PREFIX)
        self.fwd = None
        self.emu = harness.Emulator(self.work.path, tenants=self.TENANTS, records=self.RECORDS,
                                    args=["--streams", self.STREAM])
        self.hec = FaultHec(self.work.path)
        self.token = write_token(self.work.path)
        self.state = os.path.join(self.work.path, "state")

    def tearDown(self):
        if self.fwd:
            self.fwd.cleanup()
        self.hec.stop()
        self.emu.stop()
        self.work.cleanup()


def hec_output(url, token_file, ca_file=None, **opts):
    o = {"type": "splunk_hec", "url": url, "token_file": token_file, "index": "defender"}
    if ca_file:
        o["ca_file"] = ca_file
    o.update(opts)
    return o


def event_key(ev):
    """(tenant, stream, id) of a received HEC event (id from the record itself)."""
    fields = ev.get("fields") or {}
    stream = fields.get("stream")
    info = harness.STREAM_INFO.get(stream)
    rec = ev.get("event") or {}
    rid = rec.get(info["id"]) if info else None
    if isinstance(rid, float) and rid.is_integer():
        rid = int(rid)
    return fields.get("tenant"), stream, None if rid is None else str(rid)


def check_hec_delivery(events, expected, emu, index="defender", host=None, at_least_once=False,
                       time_key="time_ns"):
    """Compare received HEC events with expected {(tenant, stream, id): record}: every record
    exactly once (at least once with at_least_once), its time the record's last-update time,
    the add-on sourcetype, the fields and the record unchanged. Returns a list of problems."""
    tenant_ids = {t["name"]: t["tenant_id"] for t in emu.tenants}
    problems, seen = [], collections.Counter()
    for ev in events:
        key = event_key(ev)
        seen[key] += 1
        rec = expected.get(key)
        if rec is None:
            problems.append(f"unexpected event {key}")
            continue
        tenant, stream, _ = key
        want_ms = harness.iso_ms(rec[harness.STREAM_INFO[stream]["updated"]])
        if time_key == "time_ns":
            got_ms = round(ev["time_ns"] / 1e6)
        else:
            got_ms = round(float(ev["time"]) * 1000)
        if got_ms != want_ms:
            problems.append(f"{key}: time {got_ms} ms, expected {want_ms} (last update)")
        if ev.get("sourcetype") != SOURCETYPES[stream]:
            problems.append(f"{key}: sourcetype {ev.get('sourcetype')!r}")
        if index is not None and ev.get("index") != index:
            problems.append(f"{key}: index {ev.get('index')!r}")
        if host is not None and ev.get("host") != host:
            problems.append(f"{key}: host {ev.get('host')!r}")
        want_source = f"defender-forwarder:{stream}:{tenant_ids[tenant]}"
        if ev.get("source") != want_source:
            problems.append(f"{key}: source {ev.get('source')!r}, expected {want_source!r}")
        fields = ev.get("fields") or {}
        if fields.get("tenant_id") != tenant_ids[tenant] or fields.get("kind") not in ("new", "update"):
            problems.append(f"{key}: fields {fields!r}")
        if ev.get("event") != rec:
            problems.append(f"{key}: record differs from the emulator's")
    if not at_least_once:
        problems += [f"{k} received {n} times" for k, n in seen.items() if n > 1]
    missing = [k for k in expected if k not in seen]
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} records never arrived, e.g. "
                        f"{sorted(missing)[:5]}")
    return problems


def fault_events_as_collector(events):
    """Events from the fault endpoint (HEC JSON) in the shape Collector.events() gives."""
    return [{"time": e.get("time"), "host": e.get("host"), "source": e.get("source"),
             "sourcetype": e.get("sourcetype"), "index": e.get("index"),
             "fields": e.get("fields"), "event": e.get("event")} for e in events]
