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


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
        wait_for(lambda: os.path.exists(info) or self.proc.poll() is not None, 60, "the emulator")
        if self.proc.poll() is not None:
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
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
    """A real syslog-ng (Debian's 3.38) receiving on 127.0.0.1 and writing each MSG on a line."""

    def __init__(self, workdir, transport="tcp", port=None, tls=None, name="syslog-ng"):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.transport = transport
        self.port = port or free_port(socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM)
        self.out = os.path.join(self.dir, "received.log")
        self.tls = tls
        tls_opt = ""
        if transport == "tls":
            tls_opt = (f'tls(key-file("{tls["key"]}") cert-file("{tls["cert"]}") '
                       'peer-verify(optional-untrusted))')
        conf = os.path.join(self.dir, "syslog-ng.conf")
        with open(conf, "w") as f:
            f.write(f"""@version: 3.38
options {{ stats-freq(0); keep-hostname(yes); flush-lines(1); log-msg-size(262144); }};
source s_in {{ syslog(ip("127.0.0.1") port({self.port}) transport("{transport}")
                      max-connections(100) log-iw-size(100000) {tls_opt}); }};
destination d_out {{ file("{self.out}" template("${{PROGRAM}} ${{MSG}}\\n") template-escape(no)); }};
log {{ source(s_in); destination(d_out); }};
""")
        self.conf = conf
        self.proc = None
        self.start()

    def start(self):
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
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None

    def lines(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8", errors="replace") as f:
            return [l.rstrip("\n") for l in f if l.strip()]


def write_config(path, emu, state_dir, outputs, tenants=None, forwarder=None, streams=None,
                 auth="secret", token_endpoint="v2"):
    """A forwarder configuration pointing every tenant at the emulator."""
    fw = {"state_dir": state_dir, "poll_interval": "2s", "overlap": "5m", "initial_lookback": "7d",
          "ca_file": emu.ca_file, "http_timeout": "20s", "log_level": "info"}
    fw.update(forwarder or {})
    lines = ["[forwarder]"] + [f"{k} = {v}" for k, v in fw.items()]
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
            secret = os.path.join(emu.dir, "secrets", t["name"] + ".secret")
            lines += [f"client_secret_file = {secret}"]
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
