"""The fast API of bench/throughput: MDE alerts (with evidence) rendered once into static pages
that nginx serves over TLS on 127.0.0.1, so that the API costs next to nothing and the figures
are the forwarder's.

Honest answers from static files. `mde-alerts` asks `$filter=lastUpdateTime ge A and
lastUpdateTime lt B&$top=N&$expand=evidence`; MDE sends no next link when `$top` is set (and the
forwarder follows none: a next link only marks an answer as incomplete), so the pages have none.
The window planner (core/src/fetch/window.c) accepts a slice only from an answer with fewer
than $top rows, splits a slice whose answer was full, and sizes the next slice from the last
one. A fixed list of pages would answer most of its queries wrongly (and make it split and
re-read, or miss records), so the pages are what the API would answer:

* the records come in *clusters*; every record of cluster k has the last-update time t_k (one
  millisecond, whole seconds apart), so any range [A, B) holds whole clusters: those with
  A <= t_k < B, the first $top of them in (time, id) order;
* nginx finds these clusters from the query alone: two `map`s turn A and B into the number of
  clusters before them (ka, jb), a third picks the file with the first $top records of clusters
  ka .. jb-1 (`c<ka>-<jb>.json`, `c<ka>-full.json` once $top is reached, `empty.json`); any other
  query (a creation-time clause, $skip, another $top) finds no file and gets HTTP 400;
* a cluster holds 70 % of $top, the planner's target, so each slice after the first ones is one
  complete page. A sweep over a backlog starts with the whole window: that first answer is full
  (cluster 0 and part of 1), the next completes cluster 0, the one after is full again (its width
  came from the window's start), then every call is one cluster, and one or two empty answers
  reach the window's end. So API calls = clusters + 3 or 4 (200,000 records, $top 10,000:
  29 + 4), and the forwarder reads two full pages twice (the `read` column; re-read records
  are dropped as duplicates, every record is delivered once);
* every answer is checked against the query after the run (Nginx.check: the access log holds
  each request and the file it was given).

Records are the emulator's (tests/emulator/records.py: same variants, ids, evidence, ~2.4 KB
each); only their last-update times are moved into the clusters (creation times stay at or
before them). The token endpoint is nginx too: one client-credentials answer with a JWT carrying
the tenant and the Alert.Read.All role (the forwarder reads the claims, it does not verify a
signature).
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "emulator"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402
import records  # noqa: E402
import tenants  # noqa: E402
from timeutil import TICKS_PER_MS, TICKS_PER_SECOND, now_ticks  # noqa: E402

MDE_RESOURCE = "https://api.securitycenter.microsoft.com"
CONTEXT = '{"@odata.context":"%s/api/$metadata#Alerts","value":[' % MDE_RESOURCE
TARGET = (7, 10)  # the window planner's aim for a slice: 70 % of $top (window.c TARGET_*)
TIME_RE = r"(\d{4})-(\d\d)-(\d\d)T(\d\d)(?::|%3A)(\d\d)(?::|%3A)(\d\d)\.(\d{3})Z"
SP = r"(?:%20|\+| )"


def cluster_size(top):
    return max(1, top * TARGET[0] // TARGET[1])


def digits(ms):
    """The 17 digits of dfw_time_format(ms): YYYYMMDDHHMMSSmmm (UTC)."""
    t = time.gmtime(ms // 1000)
    return "%04d%02d%02d%02d%02d%02d%03d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour,
                                             t.tm_min, t.tm_sec, ms % 1000)


def greater_regex(x):
    """A regex matching the strings of len(x) digits greater than the digit string x."""
    alts = []
    for i, c in enumerate(x):
        if c != "9":
            rest = len(x) - i - 1
            alts.append(x[:i] + "[%d-9]" % (int(c) + 1) + (r"\d{%d}" % rest if rest else ""))
    return "^(?:" + "|".join(alts) + ")$" if alts else "^(?!)$"


class Pages:
    """n_records MDE alerts of one tenant in clusters of cluster_size(top), rendered into the
    answer files under directory (see the module docstring)."""

    def __init__(self, directory, n_records, top, seed=1, tenant_name="contoso", jsonl=None):
        self.dir = directory
        self.top = top
        self.tenant = tenants.Tenant(tenant_name, seed)
        os.makedirs(os.path.join(directory, "pages"), exist_ok=True)
        size = cluster_size(top)
        k = max(1, -(-n_records // size))
        # clusters whole seconds apart, the last 2 gaps before now; the first far enough after
        # the window's start that the planner's first slices span more than one cluster
        gap_s = max(1, min(60, 6 * 3600 // k))
        end_s = now_ticks() // TICKS_PER_SECOND - 2 * gap_s
        self.times_ms = [(end_s - (k - 1 - i) * gap_s) * 1000 for i in range(k)]
        self.lookback_s = 86400 + k * gap_s  # initial_lookback of the forwarder's configuration
        self.starts = [min(i * size, n_records) for i in range(k)] + [n_records]
        self.n = n_records
        self.record_bytes = 0
        self.files = {}  # file name -> (first record, count)
        self._render(seed, jsonl)

    def clusters(self):
        return len(self.times_ms)

    def _render(self, seed, jsonl):
        st = records.Store(records.SPECS["mde-alerts"], self.tenant, seed, now_ticks(), self.n)
        rows = list(st.rows)  # by (last update, id): cluster 0 gets the oldest
        for k, t_ms in enumerate(self.times_ms):
            ticks = t_ms * TICKS_PER_MS
            for row in rows[self.starts[k]:self.starts[k + 1]]:
                row.updated = ticks
                if row.created > ticks:
                    row.created = ticks
        key = lambda r: (r.updated, r.rid)
        rows.sort(key=key)
        texts = {}  # cluster -> rendered records (kept while a later page may need them)
        jl = open(jsonl, "w") if jsonl else None

        def cluster(c):
            if c not in texts:
                texts[c] = [st.render(r, expand=True) for r in
                            rows[self.starts[c]:self.starts[c + 1]]]
                self.record_bytes += sum(len(t.encode()) for t in texts[c])
                if jl:
                    jl.write("".join(t + "\n" for t in texts[c]))
            return texts[c]

        self._write("empty.json", 0, [])
        k = self.clusters()
        for ka in range(k):
            got = []
            for jb in range(ka + 1, k + 1):
                got += cluster(jb - 1)
                if len(got) >= self.top:
                    self._write(f"c{ka}-full.json", self.starts[ka], got[:self.top])
                    break
                self._write(f"c{ka}-{jb}.json", self.starts[ka], got)
            for old in [c for c in texts if c < ka + 1]:
                del texts[old]
        if jl:
            jl.close()

    def _write(self, name, first, texts):
        with open(os.path.join(self.dir, "pages", name), "w") as f:
            f.write(CONTEXT + ",".join(texts) + "]}")
        self.files[name] = (first, len(texts))

    def largest_page(self):
        return max(os.path.getsize(os.path.join(self.dir, "pages", n)) for n in self.files)

    def honest(self, lo_ms, hi_ms, top):
        """(first record, count) of the answer to [lo_ms, hi_ms) with $top = top."""
        ka = sum(1 for t in self.times_ms if t < lo_ms)
        jb = sum(1 for t in self.times_ms if t < hi_ms)
        if jb <= ka:
            return (0, 0)
        return (self.starts[ka], min(top, self.starts[jb] - self.starts[ka]))

    def nginx_maps(self):
        """The map blocks that route a list query to its answer file."""
        top = self.top
        t_cap, t_any = TIME_RE, TIME_RE.replace("(", "(?:").replace("(?:?:", "(?:")

        def query(lo, hi, top_re):  # the exact query of dfw_stream_url for mde-alerts
            return (r"^\$filter=lastUpdateTime{sp}ge{sp}{lo}{sp}and{sp}lastUpdateTime{sp}lt{sp}"
                    r"{hi}&\$top={top}&\$expand=evidence$").format(sp=SP, lo=lo, hi=hi,
                                                                   top=top_re)
        digits_re, top_cap = r"\d+", r"(\d+)"
        q_lo, q_hi = query(t_cap, t_any, digits_re), query(t_any, t_cap, digits_re)
        q_top = query(t_any, t_any, top_cap)
        # nginx numbers captures up to $9: one map per captured part
        out = ['map $args $dfw_lo { default bad; "~%s" $1$2$3$4$5$6$7; }' % q_lo,
               'map $args $dfw_hi { default bad; "~%s" $1$2$3$4$5$6$7; }' % q_hi,
               'map $args $dfw_top { default bad; "~%s" $1; }' % q_top]
        for var, src in (("dfw_ka", "$dfw_lo"), ("dfw_jb", "$dfw_hi")):
            lines = [f"map {src} ${var} {{", "    default 0;", '    "~bad" bad;']
            for k in range(self.clusters() - 1, -1, -1):
                lines.append(f'    "~{greater_regex(digits(self.times_ms[k]))}" {k + 1};')
            out.append("\n".join(lines + ["}"]))
        lines = ["map $dfw_top:$dfw_ka:$dfw_jb $dfw_page {", "    default c$dfw_ka-full.json;",
                 f'    "~^(?!{top}:)" bad;', '    "~bad" bad;',
                 f'    "~^{top}:(\\d+):\\1$" empty.json;']
        for name in self.files:
            m = re.match(r"^c(\d+)-(\d+)\.json$", name)
            if m:
                lines.append(f"    {top}:{m.group(1)}:{m.group(2)} {name};")
        out.append("\n".join(lines + ["}"]))
        return "\n".join(out)


def access_token(tenant, lifetime_s=86400):
    """An unsigned-in-spirit JWT with the claims the forwarder checks (tid, roles, exp)."""
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()) \
            .rstrip(b"=").decode()
    now = int(time.time())
    claims = {"aud": MDE_RESOURCE, "iss": f"https://sts.windows.net/{tenant.tenant_id}/",
              "iat": now, "nbf": now, "exp": now + lifetime_s, "appid": tenant.client_id,
              "azp": tenant.client_id, "oid": tenant.sp_object_id, "sub": tenant.sp_object_id,
              "roles": ["Alert.Read.All"], "tid": tenant.tenant_id, "ver": "2.0"}
    return f"{b64({'typ': 'JWT', 'alg': 'HS256'})}.{b64(claims)}.{b64('bench')}"


class Nginx:
    """nginx (Debian's) serving pages over TLS (HTTP/2 by ALPN unless http2 is false) on 127.0.0.1
    with a throwaway CA, as the MDE API and the tenant's token endpoint; rate: nginx's limit_rate
    (bytes/s per answer, e.g. "20m"), None for none. The master runs as the caller, workers as
    nobody when that is root. ca_file is what the forwarder trusts."""

    def __init__(self, workdir, pages, http2=True, rate=None):
        self.pages = pages
        self.dir = pages.dir
        self.port = harness.free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        tls = harness.make_tls_cert(workdir, "nginx")
        self.ca_file = tls["ca"]
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "error.log")
        tenant = pages.tenant
        token = json.dumps({"token_type": "Bearer", "expires_in": 86399,
                            "ext_expires_in": 86399, "access_token": access_token(tenant)})
        user = ""
        if os.geteuid() == 0:
            user = "user nobody nogroup;"
            os.chmod(workdir, 0o711)  # the workers read the pages (the master reads the key)
            for d in (self.dir, os.path.join(self.dir, "pages")):
                os.chmod(d, 0o755)
        self.conf = os.path.join(self.dir, "nginx.conf")
        tmp = os.path.join(self.dir, "tmp")
        os.makedirs(tmp, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""{user}
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.error_log} warn;
events {{ worker_connections 256; }}
http {{
    default_type application/json;
    log_format dfw '$status $body_bytes_sent $uri "$request_uri"';
    access_log {self.access_log} dfw;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    keepalive_requests 100000;
    {f"limit_rate {rate};" if rate else ""}
{pages.nginx_maps()}
    server {{
        listen 127.0.0.1:{self.port} ssl{" http2" if http2 else ""};
        ssl_certificate {tls["cert"]};
        ssl_certificate_key {tls["key"]};
        root {self.dir};
        location = /{tenant.tenant_id}/oauth2/v2.0/token {{
            return 200 '{token}';
        }}
        location = /api/alerts {{
            try_files /pages/$dfw_page =400;
        }}
        location /pages/ {{
            internal;
        }}
        location / {{
            return 404 '{{"error":{{"code":"NotFound","message":"not served by the bench"}}}}';
        }}
    }}
}}
""")
        self.log = open(os.path.join(self.dir, "nginx.out"), "ab")
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-e",
                                      self.error_log, "-g", "daemon off;"],
                                     stdout=self.log, stderr=self.log)
        try:
            harness.wait_for(self._listening, 30, "nginx to listen")
        except AssertionError:
            self.stop()
            raise

    def _listening(self):
        if self.proc.poll() is not None:
            with open(self.error_log, errors="replace") as f:
                raise RuntimeError("nginx exited: " + f.read()[-2000:])
        return harness.tcp_listening(self.port)

    def stop(self):
        harness.stop_process(self.proc)
        self.log.close()

    def rotate(self):
        """Start a new access log (the answers of one run)."""
        if os.path.exists(self.access_log):
            os.unlink(self.access_log)
        self.proc.send_signal(10)  # SIGUSR1: reopen the log files
        harness.wait_for(lambda: os.path.exists(self.access_log), 10, "nginx's new access log",
                         interval=0.02)

    def check(self):
        """Every list request since rotate() against the honest answer of its query: returns
        (list calls, largest answer in bytes, problems)."""
        calls, largest, problems = 0, 0, []
        with open(self.access_log) as f:
            lines = f.read().splitlines()
        for line in lines:
            m = re.match(r'^(\d+) (\d+) (\S+) "(.*)"$', line)
            if not m:
                problems.append(f"unreadable access log line {line!r}")
                continue
            status, size, uri, req = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
            if "/oauth2/" in req:
                continue
            calls += 1
            largest = max(largest, size)
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(req).query)
            f_ = q.get("$filter", [""])[0]
            fm = re.match(r"^lastUpdateTime ge (\S+) and lastUpdateTime lt (\S+)$", f_)
            if status != 200 or not fm:
                problems.append(f"{status} for {req}")
                continue
            want = self.pages.honest(harness.iso_ms(fm.group(1)), harness.iso_ms(fm.group(2)),
                                     int(q["$top"][0]))
            got = self.pages.files.get(os.path.basename(uri))
            if got is None or (got[1] != want[1] or (want[1] and got[0] != want[0])):
                problems.append(f"{req} was answered with {uri} {got}, the API would give "
                                f"records {want[0]}..{want[0] + want[1]}")
        return calls, largest, problems
