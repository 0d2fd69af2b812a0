"""Shared pieces of the integration tests and the demo: the emulator, a real syslog-ng receiver,
the forwarder's configuration and process. Everything listens on 127.0.0.1 only."""

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.environ.get("DFW_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DFW_BIN") or os.path.join(SRC, "build", "cli", "defender-forwarder")
EMULATOR = os.path.join(SRC, "tests", "emulator", "defender_emulator.py")

# Everything listens on 127.0.0.1: a proxy from the environment (CI runners) must not be used by
# the forwarder (libcurl) nor by the control requests (urllib).
for _var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_var, None)
os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """n different free TCP ports: each socket stays bound until all are (free_port twice may
    return the same port)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Send sig to a child that still runs, wait up to timeout, then kill it. Returns True when it
    exited by itself (False: it had to be killed)."""
    if proc is None or proc.poll() is not None:
        return True
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def tcp_listening(port):
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Emulator:
    """The Defender + Entra ID emulator (tests/emulator) as a child process."""

    def __init__(self, workdir, tenants=3, records=50, args=()):
        self.dir = os.path.join(workdir, "emulator")
        os.makedirs(self.dir, exist_ok=True)
        info = os.path.join(self.dir, "emulator.json")
        if os.path.exists(info):
            os.unlink(info)
        self.log = open(os.path.join(workdir, "emulator.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, EMULATOR, "--dir", self.dir, "--port", "0", "--tenants", str(tenants),
             "--records", str(records), *args],
            stdout=self.log, stderr=self.log)
        try:
            wait_for(lambda: os.path.exists(info) or self.proc.poll() is not None, 60,
                     "the emulator")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            self.log.close()
            raise RuntimeError("emulator exited; see " + self.log.name)
        with open(info) as f:
            self.info = json.load(f)
        self.url = self.info["url"]
        self.ca_file = self.info["ca_file"]
        self.tenants = self.info["tenants"]
        self._ctx = ssl.create_default_context(cafile=self.ca_file)

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_emulator/" + path, data=data,
                                     headers={"Content-Type": "application/json"},
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, context=self._ctx, timeout=60) as r:
            return json.loads(r.read() or b"null")

    def records(self, tenant, stream):
        res = self.control(f"records?tenant={tenant}&stream={stream}")
        return res["records"] if isinstance(res, dict) else res

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def make_tls_cert(workdir, name="syslog"):
    """A CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    d = os.path.join(workdir, name + "-tls")
    os.makedirs(d, exist_ok=True)
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in
                                 ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=dfw test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return {"ca": ca, "cert": crt, "key": key}


class SyslogNg:
    """A real syslog-ng (Debian's 3.38) receiving on 127.0.0.1 and writing each MSG on a line.

    driver "syslog" is the syslog() source (RFC 5424 or RFC 3164 header; octet-counting framing
    on TCP/TLS); driver "network" is network() (one message per line on TCP); flags such as
    "syslog-protocol" are passed to the source. template is the file destination's line; parser,
    the body of a parser block every message goes through (for example a LEEF parser); a message
    it rejects is written unparsed."""

    def __init__(self, workdir, transport="tcp", port=None, tls=None, name="syslog-ng",
                 driver="syslog", flags=(), template="${PROGRAM} ${MSG}", parser=None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.transport = transport
        self.port = port or free_port(socket.SOCK_DGRAM if transport == "udp"
                                      else socket.SOCK_STREAM)
        self.out = os.path.join(self.dir, "received.log")
        self.ctl = os.path.join(self.dir, "ctl")
        self.tls = tls
        tls_opt = ""
        if transport == "tls":
            tls_opt = (f'tls(key-file("{tls["key"]}") cert-file("{tls["cert"]}") '
                       'peer-verify(optional-untrusted))')
        extra = ""
        if flags:
            extra += " flags(" + ", ".join(flags) + ")"
        if transport == "udp":
            extra += " so-rcvbuf(4194304)"
        conf = os.path.join(self.dir, "syslog-ng.conf")
        with open(conf, "w") as f:
            f.write(f"""@version: 3.38
options {{ stats-freq(0); keep-hostname(yes); flush-lines(1); log-msg-size(262144); }};
source s_in {{ {driver}(ip("127.0.0.1") port({self.port}) transport("{transport}")
                      max-connections(100) log-iw-size(100000) {tls_opt}{extra}); }};
destination d_out {{ file("{self.out}" template("{template}\\n") template-escape(no)); }};
""")
            if parser:  # a message the parser rejects is written unparsed (second channel)
                f.write(f"parser p_in {{ {parser} }};\n"
                        "log { source(s_in); junction { channel { parser(p_in); flags(final); };\n"
                        "  channel { }; }; destination(d_out); };\n")
            else:
                f.write("log { source(s_in); destination(d_out); };\n")
        self.conf = conf
        self.proc = None
        self.start()

    def start(self):
        self.before = len(self.lines())  # lines of earlier runs: not in this run's counters
        self.log = open(os.path.join(self.dir, "syslog-ng.log"), "ab")
        self.proc = subprocess.Popen(
            ["syslog-ng", "-F", "-f", self.conf, "-R", os.path.join(self.dir, "persist"),
             "-p", os.path.join(self.dir, "pid"), "-c", os.path.join(self.dir, "ctl"),
             "--no-caps"], stdout=self.log, stderr=self.log)
        if self.transport != "udp":
            wait_for(self._listening, 30, "syslog-ng to listen")
        else:
            time.sleep(1.0)
        if self.proc.poll() is not None:
            raise RuntimeError("syslog-ng exited; see " + self.log.name)

    def _listening(self):
        return tcp_listening(self.port)

    def stop(self):
        stop_process(self.proc)
        if self.proc:
            self.log.close()
        self.proc = None

    def lines(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8", errors="replace") as f:
            return [l.rstrip("\n") for l in f if l.strip()]

    def stats(self):
        """syslog-ng-ctl stats as {(SourceName, SourceId, Type): number} (summed)."""
        r = subprocess.run(["syslog-ng-ctl", "stats", "-c", self.ctl], capture_output=True,
                           text=True, timeout=30)
        out = {}
        for line in r.stdout.splitlines()[1:]:
            parts = line.split(";")
            if len(parts) == 6 and parts[5].isdigit():
                key = (parts[0], parts[1], parts[4])
                out[key] = out.get(key, 0) + int(parts[5])
        return out

    def settle(self, timeout=60, closed=True):
        """The received lines once syslog-ng has read every connection to its end (TCP/TLS, with
        closed: the sender must have closed them) and written every message it read to the
        file."""
        def done():
            st = self.stats()
            if not st:
                return None
            open_conns = st.get(("src.syslog", "s_in", "connections"),
                                st.get(("src.network", "s_in", "connections"), 0))
            if closed and self.transport != "udp" and open_conns:
                return None
            read = st.get(("source", "s_in", "processed"), 0)
            written = st.get(("destination", "d_out", "processed"), 0)
            lines = self.lines()
            return lines if read == written == len(lines) - self.before else None
        return wait_for(done, timeout, "syslog-ng to write what it received", interval=0.2)


def write_config(path, emu, state_dir, outputs, tenants=None, forwarder=None, streams=None,
                 auth="secret", token_endpoint="v2", secret_files=None, tenant_extra=None):
    """A forwarder configuration pointing every tenant at the emulator. secret_files maps a
    tenant name to another secret file; tenant_extra maps it to extra key/values. A forwarder key
    given as None is left out (the program's default applies)."""
    fw = {"state_dir": state_dir, "poll_interval": "2s", "overlap": "5m", "settle_delay": "0s",
          "initial_lookback": "7d",
          "ca_file": emu.ca_file, "http_timeout": "20s", "log_level": "info"}
    fw.update(forwarder or {})
    lines = ["[forwarder]"] + [f"{k} = {v}" for k, v in fw.items() if v is not None]
    for t in emu.tenants:
        if tenants is not None and t["name"] not in tenants:
            continue
        lines += ["", f"[tenant {t['name']}]", f"tenant_id = {t['tenant_id']}",
                  f"client_id = {t['client_id']}", f"token_endpoint = {token_endpoint}",
                  f"login_url = {emu.url}", f"defender_url = {emu.url}", f"graph_url = {emu.url}",
                  f"streams = {streams or 'm365d-incidents, mde-alerts, graph-alerts'}"]
        if auth == "certificate":
            lines += ["auth = certificate", f"certificate_file = {t['certificate_file']}",
                      f"private_key_file = {t['private_key_file']}"]
        else:
            secret = (secret_files or {}).get(t["name"]) or \
                os.path.join(emu.dir, "secrets", t["name"] + ".secret")
            lines += [f"client_secret_file = {secret}"]
        lines += [f"{k} = {v}" for k, v in (tenant_extra or {}).get(t["name"], {}).items()]
    for name, opts in outputs:
        lines += ["", f"[output {name}]"] + [f"{k} = {v}" for k, v in opts.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_forwarder(config, *args, timeout=600, env=None):
    return subprocess.run([BIN, "-c", config, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def start_forwarder(config, *args, log_path=None):
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen([BIN, "-c", config, "run", *args], stdout=log, stderr=log)


def cef_unescape_ext(value):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            n = value[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_cef(msg):
    """Split a CEF message into its 7 header fields and the extension dict (unescaped)."""
    start = msg.find("CEF:")
    if start < 0:
        raise ValueError("not CEF: " + msg[:80])
    msg = msg[start:]
    header, i, cur = [], 0, []
    while len(header) < 7:
        c = msg[i]
        if c == "\\" and msg[i + 1] in "\\|":
            cur.append(msg[i + 1])
            i += 2
            continue
        if c == "|":
            header.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    ext_text = msg[i:]
    # keys are [A-Za-z0-9_]+ followed by an unescaped '='
    ext, key, j, vstart = {}, None, 0, 0
    import re
    positions = [m for m in re.finditer(r"(?:^| )([A-Za-z0-9_]+)=", ext_text)
                 if not _escaped(ext_text, m.end() - 1)]
    for n, m in enumerate(positions):
        end = positions[n + 1].start() if n + 1 < len(positions) else len(ext_text)
        ext[m.group(1)] = cef_unescape_ext(ext_text[m.end():end])
    return header, ext


def _escaped(text, pos):
    backslashes, k = 0, pos - 1
    while k >= 0 and text[k] == "\\":
        backslashes += 1
        k -= 1
    return backslashes % 2 == 1


class Workdir:
    """A temporary directory that is kept when KEEP_WORKDIR is set (for debugging)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        if not os.environ.get("KEEP_WORKDIR"):
            shutil.rmtree(self.path, ignore_errors=True)


# ---- what the tests check --------------------------------------------------------------------

STREAMS = ("m365d-incidents", "mde-alerts", "graph-alerts")
# Per stream: the record's id / last-update / created / title keys, and the CEF header the
# CEF encoder writes (core/src/format/cef_map.c; docs/cef-mapping.md).
STREAM_INFO = {
    "m365d-incidents": {"id": "incidentId", "updated": "lastUpdateTime", "created": "createdTime",
                        "name": "incidentName", "product": "Microsoft Defender XDR",
                        "version": "1.0", "sig_key": None, "sig_default": "incident"},
    "mde-alerts": {"id": "id", "updated": "lastUpdateTime", "created": "alertCreationTime",
                   "name": "title", "product": "Microsoft Defender ATP", "version": "2.0",
                   "sig_key": "detectorId", "sig_default": "alert"},
    "graph-alerts": {"id": "id", "updated": "lastUpdateDateTime", "created": "createdDateTime",
                     "name": "title", "product": "Microsoft Graph Security", "version": "1.0",
                     "sig_key": "detectorId", "sig_default": "alert"},
    "graph-incidents": {"id": "id", "updated": "lastUpdateDateTime",
                        "created": "createdDateTime", "name": "displayName",
                        "product": "Microsoft Graph Security", "version": "1.0", "sig_key": None,
                        "sig_default": "incident"},
}
# graph-incidents shares its product with graph-alerts: its signature id "incident" tells them
PRODUCT_STREAM = {v["product"]: k for k, v in STREAM_INFO.items() if k != "graph-incidents"}
CEF_SEVERITY = {"informational": 1, "low": 3, "medium": 5, "high": 8}
PROGRAM = "defender-forwarder"


def iso_ms(text):
    """Milliseconds since the epoch of an ISO-8601 UTC time (fraction truncated to ms)."""
    import calendar
    import re
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$", text)
    if not m:
        raise ValueError("not an ISO-8601 UTC time: %r" % text)
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))
    frac = (m.group(7) or "") + "000"
    return secs * 1000 + int(frac[:3])


def record_key(stream, rec):
    info = STREAM_INFO[stream]
    return str(rec[info["id"]]), rec[info["updated"]]


def expected_records(emu, tenants=None, streams=STREAMS):
    """{(tenant, stream, id): record} of what the emulator holds now (current versions)."""
    out = {}
    for t in emu.tenants:
        if tenants is not None and t["name"] not in tenants:
            continue
        for stream in streams:
            for rec in emu.records(t["name"], stream):
                out[(t["name"], stream, str(rec[STREAM_INFO[stream]["id"]]))] = rec
    return out


def header_text(value):
    """What a CEF header field shows for value: line breaks and control characters become
    blanks (the escapes of \\ and | are undone by parse_cef)."""
    return "".join(" " if (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f) else c for c in value)


def parse_received(lines, program=PROGRAM):
    """Split syslog-ng lines ("PROGRAM MSG") into parsed CEF messages and stray lines."""
    events, stray = [], []
    for line in lines:
        prefix = program + " CEF:0|"
        if not line.startswith(prefix):
            stray.append(line)
            continue
        try:
            header, ext = parse_cef(line[len(program) + 1:])
        except (ValueError, IndexError):
            stray.append(line)
            continue
        events.append((header, ext, line))
    return events, stray


def cef_event_key(header, ext):
    """(tenant, stream, id) of a received CEF message."""
    stream = PRODUCT_STREAM.get(header[2])
    if stream == "graph-alerts" and header[4] == "incident":
        stream = "graph-incidents"
    return ext.get("cs2"), stream, ext.get("externalId")


def check_cef_event(header, ext, tenant, stream, rec, kind=None):
    """Problems (a list of text) of one CEF message against the record it should carry."""
    info = STREAM_INFO[stream]
    problems = []
    truncated = ext.get("cn3Label") == "truncated"

    def expect(what, got, want):
        if got != want:
            problems.append(f"{tenant}/{stream}/{rec[info['id']]}: {what} is {got!r}, "
                            f"expected {want!r}")

    expect("header version", header[0], "CEF:0")
    expect("vendor", header[1], "Microsoft")
    expect("product", header[2], info["product"])
    expect("product version", header[3], info["version"])
    sig = rec.get(info["sig_key"]) if info["sig_key"] else None
    expect("signature id", header[4], sig or info["sig_default"])
    expect("name", header[5], header_text(rec[info["name"]]))
    expect("severity", header[6], str(CEF_SEVERITY.get(str(rec.get("severity")).lower(), 0)))
    expect("externalId", ext.get("externalId"), str(rec[info["id"]]))
    expect("cs2 (tenant)", ext.get("cs2"), tenant)
    expect("cs2Label", ext.get("cs2Label"), "tenant")
    expect("rt", ext.get("rt"), str(iso_ms(rec[info["updated"]])))
    if kind is not None:
        expect("cs5 (eventKind)", ext.get("cs5"), kind)
    if not truncated or "deviceSeverity" in ext:
        expect("deviceSeverity", ext.get("deviceSeverity"), rec.get("severity"))
    if not truncated or "deviceCustomDate1" in ext:
        expect("deviceCustomDate1 (created)", ext.get("deviceCustomDate1"),
               str(iso_ms(rec[info["created"]])))
    return problems


def check_cef_delivery(lines, expected, kinds=None, program=PROGRAM):
    """Compare syslog-ng lines with expected {(tenant, stream, id): record}: every record exactly
    once, each message a valid CEF line carrying that record. Returns a list of problems."""
    import collections
    events, stray = parse_received(lines, program)
    problems = [f"stray line: {l[:200]!r}" for l in stray]
    seen = collections.Counter()
    for header, ext, line in events:
        key = cef_event_key(header, ext)
        seen[key] += 1
        rec = expected.get(key)
        if rec is None:
            problems.append(f"unexpected message {key}: {line[:200]!r}")
            continue
        problems += check_cef_event(header, ext, key[0], key[1], rec,
                                    (kinds or {}).get(key))
    for key, n in seen.items():
        if n > 1 and key in expected:
            problems.append(f"{key} received {n} times")
    missing = [k for k in expected if k not in seen]
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} records never arrived, e.g. "
                        f"{sorted(missing)[:5]}")
    return problems


def parse_summary(text):
    """The key=value pairs of the 'summary:' line of run (stdout of --once, else the log)."""
    for line in reversed(text.splitlines()):
        if line.startswith("summary:"):
            out = {}
            for part in line.split()[1:]:
                k, _, v = part.partition("=")
                out[k] = v
            return out
    return None


def state_show(config):
    """`state show` as {(tenant, stream): {checkpoint, lag, delivered, seen, sweep}}."""
    r = run_forwarder(config, "state", "show", timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"state show failed ({r.returncode}): {r.stderr}")
    out = {}
    for line in r.stdout.splitlines()[1:]:
        f = line.split()
        if len(f) == 7:
            out[(f[0], f[1])] = {"checkpoint": f[2], "lag": int(f[3]), "delivered": int(f[4]),
                                 "seen": int(f[5]), "sweep": f[6]}
        elif len(f) >= 2:
            out[(f[0], f[1])] = {"error": line}
    return out


def checkpoint(state_dir, tenant, stream):
    """The committed checkpoint of (tenant, stream) from STATE_DIR/checkpoints.db as JSON, or
    None. Read-only, as `state show` reads it (WAL: never blocks the running forwarder)."""
    import sqlite3
    path = os.path.join(state_dir, "checkpoints.db")
    if not os.path.exists(path):
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        row = db.execute("SELECT body FROM checkpoint WHERE tenant = ? AND stream = ?",
                         (tenant, stream)).fetchone()
    finally:
        db.close()
    return json.loads(row[0]) if row else None


class Forwarder:
    """`defender-forwarder run [ARGS]` as a background process, its stdout+stderr in a log file."""

    def __init__(self, config, *args, log_path):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([BIN, "-c", config, "run", *args], stdout=self._log,
                                     stderr=self._log)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def running(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """Send sig and wait; the exit status (negative: killed by a signal)."""
        try:
            if not stop_process(self.proc, timeout, sig):
                raise AssertionError(f"the forwarder did not exit within {timeout}s after signal "
                                     f"{sig}; log: {self.log_path}")
        finally:
            self._log.close()
        return self.proc.returncode

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()


def read_envelopes(path):
    """The JSON lines of a file output with envelope = yes."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def check_envelope_delivery(envelopes, expected):
    """Compare a file output's envelopes with expected {(tenant, stream, id): record}: every
    record exactly once and unchanged. Returns a list of problems."""
    import collections
    problems, seen = [], collections.Counter()
    for env in envelopes:
        key = (env.get("tenant"), env.get("stream"), env.get("id"))
        seen[key] += 1
        rec = expected.get(key)
        if rec is None:
            problems.append(f"unexpected event {key}")
        elif env.get("record") != rec:
            problems.append(f"{key}: record differs from the emulator's")
    problems += [f"{k} delivered {n} times" for k, n in seen.items() if n > 1]
    missing = [k for k in expected if k not in seen]
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} records never arrived, e.g. "
                        f"{sorted(missing)[:5]}")
    return problems
