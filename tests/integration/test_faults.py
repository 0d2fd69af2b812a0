"""What goes wrong upstream: 429 storms with Retry-After, tokens expiring in the middle of a
sweep, 5xx answers, truncated JSON and cut connections (all retried: every record arrives exactly
once), and the Entra ID errors a user must act on (wrong secret, consent revoked, missing role),
explained without ever showing the secret."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def metrics(path):
    """{(name, labels): value} of a Prometheus text file."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line.strip())
            if m:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


class Case(unittest.TestCase):
    """One emulator per class; a directory, a state dir and (optionally) a syslog-ng per test."""

    TENANTS = 3
    RECORDS = 40
    EMU_ARGS = ("--no-rate-limit",)

    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-faults-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=cls.TENANTS, records=cls.RECORDS,
                                   args=cls.EMU_ARGS)
        cls.addClassCleanup(cls.emu.stop)

    def setUp(self):
        self.emu.control("reset-faults", {})
        self.emu.control("reset-stats", {})
        self.sng = None
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")
        self.events = os.path.join(self.dir, "events.json")

    def tearDown(self):
        self.emu.control("reset-faults", {})
        if self.sng:
            self.sng.stop()

    def config(self, output=None, forwarder=None, **kw):
        if output is None:
            output = {"type": "file", "path": self.events, "envelope": "yes"}
        fw = {"poll_interval": "1s", "metrics_file": os.path.join(self.dir, "metrics.prom")}
        fw.update(forwarder or {})
        return harness.write_config(os.path.join(self.dir, "forwarder.conf"), self.emu,
                                    self.state, [("out", output)], forwarder=fw, **kw)

    def syslog_output(self):
        self.sng = harness.SyslogNg(self.dir, transport="tcp")
        return {"type": "syslog", "host": "127.0.0.1", "port": self.sng.port}

    def fwd(self, conf, *args, timeout=600):
        """The forwarder with args; its output is kept in the test's directory."""
        r = harness.run_forwarder(conf, *args, timeout=timeout)
        with open(os.path.join(self.dir, "forwarder.log"), "a") as f:
            f.write(f"$ defender-forwarder {' '.join(args)}\n{r.stdout}{r.stderr}"
                    f"exit status {r.returncode}\n")
        return r

    def run_once(self, conf, *args):
        r = self.fwd(conf, *args, "run", "--once")
        self.assertEqual(r.returncode, 0, f"run --once failed:\n{r.stdout}\n{r.stderr[-3000:]}")
        summary = harness.parse_summary(r.stdout)
        self.assertIsNotNone(summary, r.stdout)
        self.assertEqual(summary["failed"], "0", summary)
        return summary, r

    def assert_all_syslog(self, expected):
        harness.wait_for(lambda: len(self.sng.lines()) >= len(expected) or None, 60,
                         "syslog-ng to receive every message")
        lines = self.sng.settle()
        problems = harness.check_cef_delivery(lines, expected)
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s); see {self.sng.out}")

    def assert_all_file(self, expected):
        problems = harness.check_envelope_delivery(harness.read_envelopes(self.events), expected)
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s); see {self.events}")


class Throttling(Case):
    """Quotas scaled to 10% (incidents 5/min, MDE alerts 10/min, Graph 15/min) and each stream
    needing more requests than that (10, 15 and 21 with pages of 10): every stream is answered
    429 with Retry-After."""

    RECORDS = 0
    EMU_ARGS = ("--rate-scale", "0.1")
    COUNTS = {"m365d-incidents": 22, "mde-alerts": 60, "graph-alerts": 100}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # one record a few seconds apart (records sharing one millisecond cost extra requests)
        for t in cls.emu.tenants:
            for stream, n in cls.COUNTS.items():
                for i in range(n):
                    cls.emu.control("records", {"tenant": t["name"], "stream": stream,
                                                "count": 1, "age_s": 3600 + 7 * i})

    def test_429_storm(self):
        conf = self.config(self.syslog_output(), forwarder={"page_size": "10"})
        expected = harness.expected_records(self.emu)
        self.assertEqual(len(expected), 3 * sum(self.COUNTS.values()))
        summary, r = self.run_once(conf)
        stats = self.emu.control("stats")
        for t in self.emu.tenants:
            for stream in harness.STREAMS:
                self.assertGreater(stats["throttled"].get(t["name"], {}).get(stream, 0), 0,
                                   f"{t['name']}/{stream} was never throttled: no storm")
        self.assertEqual(int(summary["throttled"]), stats["throttled_total"], summary)
        self.assertEqual(int(summary["delivered"]), len(expected), summary)
        self.assertIn("status=429 retry_after_ms=", r.stderr)
        m = metrics(os.path.join(self.dir, "metrics.prom"))
        self.assertEqual(sum(v for (name, _), v in m.items() if name == "dfw_api_throttled_total"),
                         stats["throttled_total"])
        self.assert_all_syslog(expected)


class TokenExpiry(Case):
    """Tokens live 3 s; 5-record pages answered after 250 ms each: every sweep (12+ pages) outlives
    its first token."""

    RECORDS = 60

    def test_tokens_expire_while_paging(self):
        self.emu.control("faults", {"token_lifetime": 3, "slow_ms": 250})
        conf = self.config(self.syslog_output(), forwarder={"page_size": "5"})
        expected = harness.expected_records(self.emu)
        summary, r = self.run_once(conf)
        self.assertEqual(int(summary["delivered"]), len(expected), summary)
        stats = self.emu.control("stats")
        # 3 resources per tenant, each read for more than one token lifetime
        for t in self.emu.tenants:
            self.assertGreaterEqual(stats["tokens_issued"].get(t["name"], 0), 6, stats)
        self.assertEqual(int(summary["token_requests"]), stats["tokens_issued_total"])
        self.assertGreaterEqual(int(summary["token_requests"]), 2 * 9, summary)
        self.assert_all_syslog(expected)


class ServerFaults(Case):
    """5xx answers, truncated JSON and cut connections: retried, nothing skipped."""

    def test_5xx_and_truncated_json(self):
        self.emu.control("faults", {"status_5xx": {"count": 6, "status": 503, "retry_after": 1},
                                    "truncate": 4})
        # the token endpoint of one tenant fails twice as well
        self.emu.control("faults", {"tenant": "contoso",
                                    "status_5xx": {"count": 2, "endpoint": "token"}})
        conf = self.config(forwarder={"page_size": "10", "max_retries": "20"})
        expected = harness.expected_records(self.emu)
        summary, r = self.run_once(conf)
        stats = self.emu.control("stats")
        self.assertEqual(stats["injected_5xx"], 8, stats)
        self.assertEqual(stats["truncated"], 4, stats)
        self.assertIn("status=503", r.stderr)
        self.assertIn("bad page", r.stderr)
        self.assertEqual(int(summary["delivered"]), len(expected), summary)
        self.assert_all_file(expected)
        for row in harness.state_show(conf).values():
            self.assertEqual(row.get("delivered"), self.RECORDS, row)

    def test_connection_cut_mid_body(self):
        self.emu.control("faults", {"truncate": 5, "truncate_mode": "connection"})
        conf = self.config(forwarder={"page_size": "10", "max_retries": "20"})
        expected = harness.expected_records(self.emu)
        summary, r = self.run_once(conf)
        self.assertEqual(self.emu.control("stats")["truncated"], 5)
        self.assertEqual(int(summary["delivered"]), len(expected), summary)
        self.assert_all_file(expected)

    def test_persistent_bad_pages_fail_without_skipping(self):
        # every page of fabrikam is cut short: its streams fail, the checkpoint holds, the other
        # tenants are not held up, and the run says so with exit status 1
        self.emu.control("faults", {"tenant": "fabrikam", "truncate": 100000})
        conf = self.config(forwarder={"page_size": "10", "max_retries": "2"})
        expected = harness.expected_records(self.emu)
        r = self.fwd(conf, "run", "--once", timeout=600)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr[-3000:])
        summary = harness.parse_summary(r.stdout)
        self.assertEqual(summary["failed"], "3", summary)
        self.assertIn("tenant=fabrikam", r.stderr)
        self.assertIn("checkpoint held", r.stderr)
        others = {k: v for k, v in expected.items() if k[0] != "fabrikam"}
        self.assert_all_file(others)
        show = harness.state_show(conf)
        for stream in harness.STREAMS:
            row = show.get(("fabrikam", stream), {"delivered": 0})
            self.assertEqual(row.get("delivered"), 0, row)
            self.assertEqual(show[("contoso", stream)]["delivered"], self.RECORDS)
        m = metrics(os.path.join(self.dir, "metrics.prom"))
        for stream in harness.STREAMS:
            self.assertEqual(m[("dfw_stream_failing",
                                f'{{tenant="fabrikam",stream="{stream}"}}')], 1)
            self.assertEqual(m[("dfw_stream_failing",
                                f'{{tenant="contoso",stream="{stream}"}}')], 0)

    def wait_exit_or(self, fw, predicate, what):
        """Wait until the --once run exits or predicate() holds (it retried too often)."""
        harness.wait_for(lambda: not fw.running() or predicate(), 300, what)
        return not fw.running()

    def test_token_endpoint_5xx_forever_fails_the_tenant(self):
        # defender-forwarder.conf(5) max_retries: "Retries of one request (after timeouts, 5xx
        # and 429 answers) before the tenant is reported as failing". Token requests included:
        # a --once run must end (exit 1), not retry for ever.
        self.emu.control("faults", {"tenant": "contoso", "status_5xx": {
            "count": 1000000, "endpoint": "token", "retry_after": 1}})
        conf = self.config(forwarder={"max_retries": "1"})
        fw = harness.Forwarder(conf, "--once", log_path=os.path.join(self.dir, "once.log"))
        try:
            tokens = lambda: self.emu.control("stats")["requests"].get("token", {}).get(
                "contoso", 0)
            ended = self.wait_exit_or(fw, lambda: tokens() > 30,
                                      "the run to end or 30 token requests")
            n = tokens()
        finally:
            status = fw.stop()
        self.assertTrue(ended, f"run --once still retrying after {n} token requests for 3 "
                               f"resources with max_retries = 1")
        self.assertLessEqual(n, 3 * 2)
        self.assertEqual(status, 1, fw.log()[-2000:])
        self.assertIn("AADSTS50000", fw.log())
        others = {k: v for k, v in harness.expected_records(self.emu).items()
                  if k[0] != "contoso"}
        self.assert_all_file(others)

    def test_login_host_unreachable_fails_the_tenant(self):
        conf = self.config(forwarder={"max_retries": "1"}, tenants=("contoso",))
        with open(conf) as f:
            text = f.read()
        dead = f"https://127.0.0.1:{harness.free_port()}"
        with open(conf, "w") as f:
            f.write(text.replace(f"login_url = {self.emu.url}", f"login_url = {dead}"))
        fw = harness.Forwarder(conf, "--once", log_path=os.path.join(self.dir, "once.log"))
        try:
            failures = lambda: fw.log().count("token request failed")
            ended = self.wait_exit_or(fw, lambda: failures() > 12,
                                      "the run to end or 12 failed token requests")
            n = failures()
        finally:
            status = fw.stop()
        self.assertTrue(ended, f"run --once still retrying after {n} failed token requests for "
                               f"3 resources with max_retries = 1")
        self.assertEqual(status, 1, fw.log()[-2000:])
        self.assertIn("127.0.0.1", fw.log())


class AuthFaults(Case):
    """Entra ID errors: the message says what to do and never shows a secret."""

    TENANTS = 1
    RECORDS = 5

    def tearDown(self):
        self.emu.control("consent", {"tenant": "contoso", "granted": True,
                                     "roles": ["Incident.Read.All", "Alert.Read.All",
                                               "SecurityAlert.Read.All",
                                               "SecurityIncident.Read.All"]})
        super().tearDown()

    def secrets(self):
        return [t["client_secret"] for t in self.emu.tenants]

    def assert_no_secret(self, *texts, extra=()):
        for text in texts:
            for secret in list(self.secrets()) + list(extra):
                self.assertNotIn(secret, text)

    def test_wrong_secret(self):
        wrong = "Qx98Q~this-is-not-the-secret.but_looks_like_one"
        path = os.path.join(self.dir, "wrong.secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(wrong + "\n")
        conf = self.config(secret_files={"contoso": path})
        r = self.fwd(conf, "-v", "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("AADSTS7000215", r.stderr)
        self.assertIn("client secret is wrong", r.stderr)
        self.assertIn("client_secret_file", r.stderr)
        self.assert_no_secret(r.stdout, r.stderr, extra=[wrong])
        self.assertEqual(harness.read_envelopes(self.events), [])
        t = self.fwd(conf, "token", "contoso", timeout=120)
        self.assertEqual(t.returncode, 1, t.stdout + t.stderr)
        self.assertIn("AADSTS7000215", t.stdout + t.stderr)
        self.assert_no_secret(t.stdout, t.stderr, extra=[wrong])

    def test_consent_revoked(self):
        self.emu.control("consent", {"tenant": "contoso", "granted": False})
        conf = self.config()
        r = self.fwd(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("AADSTS65001", r.stderr)
        self.assertIn("consent-url contoso", r.stderr)
        self.assert_no_secret(r.stdout, r.stderr)
        self.assertEqual(harness.read_envelopes(self.events), [])
        t = self.fwd(conf, "token", "contoso", timeout=120)
        self.assertEqual(t.returncode, 1)
        self.assertIn("AADSTS65001", t.stdout + t.stderr)
        # consent granted again: the next run reads everything
        self.emu.control("consent", {"tenant": "contoso", "granted": True})
        self.run_once(conf)
        self.assert_all_file(harness.expected_records(self.emu))

    def test_missing_role(self):
        self.emu.control("consent", {"tenant": "contoso",
                                     "roles": ["Incident.Read.All", "SecurityAlert.Read.All"]})
        conf = self.config()
        r = self.fwd(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = [l for l in r.stderr.splitlines() if re.search(r"(?<![A-Za-z])Alert\.Read\.All", l)]
        self.assertTrue(any("stream=mde-alerts" in l for l in err), r.stderr)
        self.assertTrue(any("consent-url contoso" in l for l in err), r.stderr)
        # the streams whose roles are there were delivered
        expected = harness.expected_records(self.emu, streams=("m365d-incidents",
                                                               "graph-alerts"))
        self.assert_all_file(expected)
        t = self.fwd(conf, "token", "contoso", timeout=120)
        self.assertEqual(t.returncode, 1, t.stdout + t.stderr)
        tenant_id = self.emu.tenants[0]["tenant_id"]
        self.assertIn(f"tid:   {tenant_id}", t.stdout)
        self.assertIn("aud:   https://api.securitycenter.microsoft.com", t.stdout)
        self.assertIn("kind:  application", t.stdout)
        self.assertIn("stream m365d-incidents: OK (application Incident.Read.All)", t.stdout)
        self.assertIn("stream graph-alerts: OK (application SecurityAlert.Read.All)", t.stdout)
        self.assertRegex(t.stdout,
                         r"stream mde-alerts: MISSING application permission Alert\.Read\.All")
        self.assert_no_secret(t.stdout, t.stderr)


if __name__ == "__main__":
    unittest.main()
