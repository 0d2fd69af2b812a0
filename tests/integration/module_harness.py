"""The log daemons with our source modules loaded: syslog-ng with defender() (libdefender.so) and
rsyslog with imdefender (imdefender.so), run as unprivileged foreground processes on 127.0.0.1,
plus a TCP receiver that can stop reading (a blocked destination) and the checks of what the
daemons wrote. Each module writes one JSON object per event (the message and its .defender.*
fields / properties) to a file."""

import collections
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import harness

SYSLOG_NG_MODULE_DIR = os.environ.get("DFW_SYSLOG_NG_MODULE_DIR")
RSYSLOG_MODULE_DIR = os.environ.get("DFW_RSYSLOG_MODULE_DIR")
RSYSLOG_ROOT = os.environ.get("DFW_RSYSLOG_ROOT")  # dpkg -x of Debian's rsyslog package

# a sanitizer runtime the daemon must load before our module (ASan builds), or None
DAEMON_PRELOAD = os.environ.get("DFW_DAEMON_PRELOAD")

FIELDS = ("tenant", "tenant_id", "stream", "kind", "id", "severity", "title", "last_update")


RETIRED_RE = re.compile(r"stream=([a-z0-9-]+) tenants=(\d+) first_tenant=\S+ "
                        r"msg=\W*stream \1 reads .*?stops working after 1 February 2027 "
                        r"\(Message Center MC1220762\); use (graph-[a-z]+)")


def retired_warnings(log_text):
    """[(legacy stream, tenants, its Graph stream)] of the retirement warnings in a daemon's
    internal log (one per legacy stream at start-up)."""
    return [(m.group(1), int(m.group(2)), m.group(3)) for m in RETIRED_RE.finditer(log_text)]


def module_config(path, emu, state_dir, page_size=None, forwarder=None, tenants=None):
    """A forwarder configuration without outputs (the daemon is the output)."""
    fw = {"poll_interval": "1s"}
    if page_size:
        fw["page_size"] = page_size
    fw.update(forwarder or {})
    return harness.write_config(path, emu, state_dir, [], forwarder=fw, tenants=tenants)


class TcpReceiver:
    """A TCP listener on 127.0.0.1 that accepts and, while blocked, never reads (with a small
    receive buffer, so that the sender's socket fills at once); unblock() reads everything and
    keeps the lines."""

    def __init__(self, blocked=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reading = threading.Event()
        if not blocked:
            self.reading.set()
        self.lock = threading.Lock()
        self.data = []
        self.conns = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        self.reading.wait()
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.data.append(chunk)

    def unblock(self):
        self.reading.set()

    def lines(self):
        """The complete lines received so far (a line still arriving is left out)."""
        with self.lock:
            text = b"".join(self.data).decode("utf-8", "replace")
        return [l for l in text.split("\n")[:-1] if l.strip()]

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


# The JSON object each daemon writes per event.
SYSLOG_NG_TEMPLATE = (
    "$(format-json " + " ".join(f"{f}=${{.defender.{f}}}" for f in FIELDS) +
    " host=${HOST} program=${PROGRAM} isodate=${ISODATE} severity_name=${LEVEL}"
    " message=${MESSAGE})\\n")


class SyslogNg:
    """syslog-ng with the defender() source. destinations: list of (name, body) pairs; every
    log path uses flags(flow-control)."""

    def __init__(self, workdir, source_opts, destinations, name="syslog-ng", text=None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "syslog-ng.conf")
        self.ctl = os.path.join(self.dir, "ctl")
        self.logfile = os.path.join(self.dir, "syslog-ng.log")
        self.internal = os.path.join(self.dir, "internal.log")
        if text is None:
            self.write_conf(source_opts, destinations)
        else:  # a whole configuration (from the docs), plus the internal() log of the tests
            with open(self.conf, "w") as f:
                f.write(text + f"""
source s_internal_test {{ internal(); }};
destination d_internal_test {{ file("{self.internal}"); }};
log {{ source(s_internal_test); destination(d_internal_test); }};
""")
        self.proc = None

    def write_conf(self, source_opts, destinations):
        dests = "\n".join(f"destination {n} {{ {body}; }};" for n, body in destinations)
        paths = "\n".join(f"log {{ source(s_defender); destination({n}); flags(flow-control); }};"
                          for n, _ in destinations)
        with open(self.conf, "w") as f:
            f.write(f"""@version: 3.38
options {{ stats-freq(0); frac-digits(3); flush-lines(1); log-msg-size(1048576); }};
source s_defender {{ defender({source_opts}); }};
source s_internal {{ internal(); }};
{dests}
destination d_internal {{ file("{self.internal}"); }};
log {{ source(s_internal); destination(d_internal); }};
{paths}
""")

    def start(self):
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            ["syslog-ng", "-F", "--no-caps", "-f", self.conf,
             "--module-path", f"{SYSLOG_NG_MODULE_DIR}:/usr/lib/syslog-ng/3.38",
             "-R", os.path.join(self.dir, "persist"), "-p", os.path.join(self.dir, "pid"),
             "-c", self.ctl], stdout=self.log, stderr=self.log)
        harness.wait_for(lambda: os.path.exists(self.ctl) or self.proc.poll() is not None, 30,
                         "syslog-ng to start")
        if self.proc.poll() is not None:
            raise RuntimeError("syslog-ng exited; see " + self.logfile)
        return self

    def ctl_cmd(self, *args):
        return subprocess.run(["syslog-ng-ctl", *args, "-c", self.ctl], capture_output=True,
                              text=True, timeout=60)

    def reload(self):
        r = self.ctl_cmd("reload")
        if r.returncode != 0:
            raise AssertionError(f"syslog-ng-ctl reload failed: {r.stdout} {r.stderr}")

    def stop(self, sig=None):
        if self.proc is None:
            return None
        if sig is None:
            harness.stop_process(self.proc, timeout=30)
        else:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.log.close()
        rc, self.proc = self.proc.returncode, None
        return rc

    def internal_log(self):
        if not os.path.exists(self.internal):
            return ""
        with open(self.internal, encoding="utf-8", errors="replace") as f:
            return f.read()


def read_json_lines(path):
    """The complete lines of a file the daemon may be writing: a last line without its newline
    is still being written and is left for the next read."""
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.endswith("\n") and line.strip():
                out.append(json.loads(line))
    return out


def event_key(obj):
    return (obj["tenant"], obj["stream"], obj["id"])


def count_events(objs):
    return collections.Counter(event_key(o) for o in objs)


def check_fields(objs, expected, hostname=None):
    """Every object's message is the emulator's record and its fields match it. Returns
    problems."""
    problems = []
    tenant_ids = {}
    for o in objs:
        key = event_key(o)
        rec = expected.get(key)
        if rec is None:
            problems.append(f"unexpected event {key}")
            continue
        info = harness.STREAM_INFO[o["stream"]]
        if json.loads(o["message"]) != rec:
            problems.append(f"{key}: MESSAGE is not the record")
        want = {"kind": "new", "severity": rec.get("severity", ""),
                "title": rec.get(info["name"], ""), "last_update": rec[info["updated"]]}
        for k, v in want.items():
            if o.get(k) != v:
                problems.append(f"{key}: {k} = {o.get(k)!r}, expected {v!r}")
        tenant_ids.setdefault(o["tenant"], set()).add(o.get("tenant_id"))
        if hostname is not None and o.get("host") != hostname:
            problems.append(f"{key}: host {o.get('host')!r}")
        if o.get("program") != harness.PROGRAM:
            problems.append(f"{key}: program {o.get('program')!r}")
        if "isodate" in o and harness.iso_ms(rec[info["updated"]]) != iso_local_ms(o["isodate"]):
            problems.append(f"{key}: time stamp {o['isodate']} is not {rec[info['updated']]}")
    for t, ids in tenant_ids.items():
        if len(ids) != 1 or not all(ids):
            problems.append(f"tenant {t}: tenant ids {ids}")
    return problems


def iso_local_ms(text):
    """ms since the epoch of an ISO-8601 time with a numeric offset (2026-12-01T21:10:38.123+00:00)."""
    import datetime
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def check_delivery(counts, expected, max_repeats=0):
    """Every expected event at least once and none unexpected; repeats of a (tenant, stream) at
    most max_repeats. Returns problems."""
    problems = []
    missing = [k for k in expected if counts.get(k, 0) == 0]
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} events never arrived, e.g. "
                        f"{sorted(missing)[:3]}")
    problems += [f"unexpected event {k}" for k in counts if k not in expected][:5]
    repeats = collections.Counter()
    for k, n in counts.items():
        repeats[(k[0], k[1])] += max(0, n - 1)
    problems += [f"{ts}: {n} repeated events (at most {max_repeats} allowed)"
                 for ts, n in repeats.items() if n > max_repeats]
    return problems


def delivered_total(config):
    """Sum of the checkpoints' delivered counters (state show), 0 when there are none yet."""
    try:
        show = harness.state_show(config)
    except AssertionError:
        return 0
    return sum(row.get("delivered", 0) for row in show.values())


def wait_stable(fn, seconds, timeout=60):
    """Wait until fn() returned the same value for `seconds`; that value."""
    deadline = time.monotonic() + timeout
    last, since = fn(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        v = fn()
        if v != last:
            last, since = v, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return v
    raise AssertionError(f"value kept changing for {timeout}s (last {last})")


# rsyslog: one JSON object per message, the $!defender properties and the message's own fields.
# Built from constants and JSON-escaped properties, not with option.jsonf: rsyslog 8.2302's jsonf
# rendering overruns its buffer (tplToString reserves no room for the ", " separators; found by
# ASan in these tests).
def _rsyslog_template():
    parts = [("host", "hostname", ""), ("program", "app-name", ""),
             ("isodate", "timestamp", ' dateFormat="rfc3339"'),
             ("severity_name", "syslogseverity-text", ""), ("message", "msg", "")]
    parts = [(f, f"$!defender!{f}", "") for f in FIELDS] + parts
    body, sep = [], "{"
    for out, prop, extra in parts:
        body.append(f"  constant(value=\"{sep}\\\"{out}\\\":\\\"\")\n"
                    f"  property(name=\"{prop}\" format=\"json\"{extra})\n")
        body.append("  constant(value=\"\\\"\")\n")
        sep = ","
    return ('template(name="defender_json" type="list") {\n' + "".join(body) +
            '  constant(value="}\\n")\n}\n')


RSYSLOG_TEMPLATE = _rsyslog_template()

# The ruleset queues of docs/rsyslog.md. Direct: a message is accepted once the ruleset's actions
# wrote it (survives kill -9 of rsyslogd). Disk: accepted once it is in the disk queue, kept over
# a stop and a restart.
RSYSLOG_DIRECT_QUEUE = 'queue.type="Direct"'
RSYSLOG_DISK_QUEUE = ('queue.type="Disk" queue.filename="defender" queue.checkpointInterval="1" '
                      'queue.syncQueueFiles="on" queue.saveOnShutdown="on"')


class Rsyslog:
    """Debian's rsyslogd (from dpkg -x) with imdefender loaded, in the foreground. actions: the
    body of the "defender" ruleset; queue: its queue parameters."""

    def __init__(self, workdir, input_params, actions, queue=RSYSLOG_DIRECT_QUEUE, templates="",
                 name="rsyslog", text=None):
        self.dir = os.path.join(workdir, name)
        self.work = os.path.join(self.dir, "work")
        self.mods = os.path.join(self.dir, "modules")
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(self.mods, exist_ok=True)
        # the package's modules and ours in one folder (-M takes one)
        pkgmods = os.path.join(RSYSLOG_ROOT, "usr", "lib", "x86_64-linux-gnu", "rsyslog")
        for f in os.listdir(pkgmods):
            link = os.path.join(self.mods, f)
            if not os.path.lexists(link):
                os.symlink(os.path.join(pkgmods, f), link)
        link = os.path.join(self.mods, "imdefender.so")
        if not os.path.lexists(link):
            os.symlink(os.path.join(RSYSLOG_MODULE_DIR, "imdefender.so"), link)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.internal = os.path.join(self.dir, "internal.log")
        self.logfile = os.path.join(self.dir, "rsyslogd.log")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        if text is not None:  # a whole configuration (from the docs) and the tests' internal log
            with open(self.conf, "w") as f:
                f.write(f'global(workDirectory="{self.work}" processInternalMessages="on")\n' +
                        text + f'\nsyslog.* action(type="omfile" file="{self.internal}")\n')
            self.proc = None
            return
        with open(self.conf, "w") as f:
            f.write(f"""global(workDirectory="{self.work}" maxMessageSize="1m" processInternalMessages="on")
module(load="imdefender")
{RSYSLOG_TEMPLATE}
{templates}
ruleset(name="defender" {queue}) {{
{actions}
}}
input(type="imdefender" {input_params} ruleset="defender")
syslog.* action(type="omfile" file="{self.internal}")
""")
        self.proc = None

    def start(self):
        self.log = open(self.logfile, "ab")
        env = dict(os.environ)
        if DAEMON_PRELOAD:
            # rsyslogd's own allocations at exit are not ours to report
            env.update(LD_PRELOAD=DAEMON_PRELOAD, ASAN_OPTIONS="detect_leaks=0")
        self.proc = subprocess.Popen(
            [os.path.join(RSYSLOG_ROOT, "usr", "sbin", "rsyslogd"), "-n", "-f", self.conf,
             "-i", self.pidfile, "-M", self.mods], stdout=self.log, stderr=self.log, env=env)
        harness.wait_for(lambda: os.path.exists(self.pidfile) or self.proc.poll() is not None,
                         30, "rsyslogd to start")
        if self.proc.poll() is not None:
            raise RuntimeError("rsyslogd exited; see " + self.logfile)
        return self

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, sig=None):
        if self.proc is None:
            return None
        if sig is None:
            harness.stop_process(self.proc, timeout=30)
        else:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.log.close()
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        rc, self.proc = self.proc.returncode, None
        with open(self.logfile, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for needle in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            if needle in text:
                raise AssertionError(f"{needle} in rsyslogd's output: {self.logfile}")
        return rc

    def internal_log(self):
        text = ""
        for p in (self.internal, self.logfile):
            if os.path.exists(p):
                with open(p, encoding="utf-8", errors="replace") as f:
                    text += f.read()
        return text


def doc_config(doc, name, subst):
    """The configuration block after "<!-- tested: NAME -->" in docs/DOC, with the example
    addresses and paths replaced (subst: {text: replacement})."""
    with open(os.path.join(harness.SRC, "docs", doc), encoding="utf-8") as f:
        text = f.read()
    marker = f"<!-- tested: {name} -->"
    start = text.index("```", text.index(marker))
    start = text.index("\n", start) + 1
    block = text[start:text.index("```", start)]
    for k, v in subst.items():
        block = block.replace(k, v)
    return block
