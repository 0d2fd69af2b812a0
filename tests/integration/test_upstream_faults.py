"""What a broken upstream sends: a proxy's HTML error pages, 200 answers with an empty body or a
"value" that is no array, records without an id or with a last-update time that is no time, and
a token endpoint that answers 5xx or too slowly. Each is retried; while it lasts longer than
max_retries the stream is reported (log line and dfw_stream_failing) with its checkpoint held;
once it is over every record arrives exactly once. Other tenants are not held up."""

import collections
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FAULTS = {
    "html 502": {"html": {"status": 502}},
    "html 200": {"html": {"status": 200}},
    "html 403": {"html": {"status": 403}},
    "empty body": {"bad_body": {"kind": "empty"}},
    "value not an array": {"bad_body": {"kind": "value_not_array"}},
    "record without id": {"bad_body": {"kind": "no_id"}},
    "unparsable time": {"bad_body": {"kind": "bad_time"}},
    "NaN number": {"bad_body": {"kind": "nan"}},
    "invalid UTF-8": {"bad_body": {"kind": "invalid_utf8"}},
}
# what the log says about each (quotes inside msg="..." come escaped: dfw/log.h)
SAYS = {"html 502": "status=502", "html 200": "bad page", "html 403": "status=403",
        "empty body": "bad page", "value not an array": "no \\\"value\\\" array",
        "record without id": "has no valid", "unparsable time": "has no valid",
        "NaN number": "not valid JSON (RFC 8259)", "invalid UTF-8": "invalid UTF-8"}


def metrics(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                m = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line.strip())
                if m:
                    out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


class UpstreamFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-upstream-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=2, records=6,
                                   args=("--no-rate-limit",))
        cls.addClassCleanup(cls.emu.stop)

    def setUp(self):
        self.emu.control("reset-faults", {})

    def tearDown(self):
        self.emu.control("reset-faults", {})

    def make(self, name, **fw):
        d = os.path.join(self.work.path, re.sub(r"\W+", "-", self.id().rsplit(".", 1)[-1] +
                                                "-" + name))
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.events = os.path.join(d, "events.json")
        self.prom = os.path.join(d, "metrics.prom")
        forwarder = {"poll_interval": "1s", "max_retries": "2", "metrics_file": self.prom}
        forwarder.update(fw)
        return harness.write_config(os.path.join(d, "forwarder.conf"), self.emu,
                                    os.path.join(d, "state"),
                                    [("archive", {"type": "file", "path": self.events})],
                                    forwarder=forwarder)

    def run_once(self, conf, timeout=300):
        r = harness.run_forwarder(conf, "run", "--once", timeout=timeout)
        with open(os.path.join(self.dir, "forwarder.log"), "a") as f:
            f.write(r.stdout + r.stderr + f"exit status {r.returncode}\n")
        return r

    def delivered(self):
        return collections.Counter((e["tenant"], e["stream"], e["id"])
                                   for e in harness.read_envelopes(self.events))

    def assert_exactly_once(self, expected):
        got = self.delivered()
        self.assertEqual(sorted(k for k in expected if k not in got), [], "records lost")
        self.assertEqual({k: n for k, n in got.items() if n > 1}, {}, "records repeated")
        self.assertEqual([k for k in got if k not in expected], [])

    def test_api_faults_retried_reported_held(self):
        for name, fault in FAULTS.items():
            with self.subTest(name):
                self.emu.control("reset-faults", {})
                self.emu.control("reset-stats", {})
                expected = harness.expected_records(self.emu)
                # short: retried and gone before max_retries
                spec = {k: dict(v, count=2) for k, v in fault.items()}
                conf = self.make(name + "-short", max_retries="6")
                self.emu.control("faults", {"tenant": "contoso", **spec})
                r = self.run_once(conf)
                stats = self.emu.control("stats")
                self.assertEqual(stats["html_pages"] + stats["bad_bodies"], 2, stats)
                if name != "html 403":  # a 403 is the API's "permission missing": not retried
                    self.assertEqual(r.returncode, 0, r.stderr[-3000:])
                    self.assertIn(SAYS[name], r.stderr)
                    self.assert_exactly_once(expected)
                # lasting: reported, the checkpoint held, the other tenant delivered
                self.emu.control("reset-faults", {})
                spec = {k: dict(v, count=100000) for k, v in fault.items()}
                conf = self.make(name + "-lasting")
                self.emu.control("faults", {"tenant": "contoso", **spec})
                r = self.run_once(conf)
                self.assertEqual(r.returncode, 1, r.stderr[-3000:])
                self.assertIn(SAYS[name], r.stderr)
                self.assertIn("tenant=contoso", r.stderr)
                if name != "html 403":
                    self.assertIn("still failing after 3 attempts; checkpoint held", r.stderr)
                got = self.delivered()
                self.assertEqual([k for k in got if k[0] == "contoso"], [],
                                 "records of the failing tenant passed on")
                self.assertEqual(sorted(k for k in expected if k[0] == "fabrikam" and
                                        k not in got), [], "the other tenant was held up")
                show = harness.state_show(conf)
                for stream in harness.STREAMS:
                    self.assertEqual(show.get(("contoso", stream), {"delivered": 0})
                                     .get("delivered"), 0, show)
                    self.assertEqual(metrics(self.prom).get(
                        ("dfw_stream_failing", f'{{tenant="contoso",stream="{stream}"}}')), 1)
                # over: the next run delivers what was held, once
                self.emu.control("reset-faults", {})
                r = self.run_once(conf)
                self.assertEqual(r.returncode, 0, r.stderr[-3000:])
                self.assert_exactly_once(expected)

    def test_daemon_rides_out_a_proxy_outage(self):
        conf = self.make("daemon")
        expected = harness.expected_records(self.emu)
        self.emu.control("faults", {"tenant": "contoso",
                                    "html": {"status": 503, "count": 100000}})
        fw = harness.Forwarder(conf, log_path=os.path.join(self.dir, "daemon.log"))
        try:
            harness.wait_for(lambda: fw.log().count("still failing after") >= 3, 120,
                             "every contoso stream to be reported")
            self.assertTrue(fw.running())
            added = []
            for stream in harness.STREAMS:
                res = self.emu.control("records", {"tenant": "contoso", "stream": stream,
                                                   "count": 2})
                added += [("contoso", stream, str(i)) for i in res["ids"]]
            time.sleep(3)
            self.assertEqual([k for k in self.delivered() if k[0] == "contoso"], [])
            self.emu.control("reset-faults", {})
            expected = harness.expected_records(self.emu)
            harness.wait_for(lambda: all(k in self.delivered() for k in expected), 180,
                             "every record once the proxy answers again")
            reports = [l for l in fw.log().splitlines() if "still failing after" in l]
            self.assertEqual(len(reports), 3, "reported more than once per stream")
        finally:
            self.assertEqual(fw.stop(signal.SIGTERM), 0)
        self.assert_exactly_once(expected)

    def test_token_endpoint_slow(self):
        expected = harness.expected_records(self.emu)
        # slower than http_timeout: each request times out, retried, then the tenant fails
        conf = self.make("too-slow", http_timeout="1s", connect_timeout="1s")
        self.emu.control("faults", {"tenant": "contoso", "token_slow_ms": 2500})
        r = self.run_once(conf)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("tenant=contoso", r.stderr)
        self.assertIn("token endpoint still failing after 3 attempts", r.stderr)
        self.assertRegex(r.stderr, r"token request failed.*timed out")
        got = self.delivered()
        self.assertEqual([k for k in got if k[0] == "contoso"], [])
        self.assertEqual(sorted(k for k in expected if k[0] == "fabrikam" and k not in got), [])
        # slow but within the timeout: only slower
        self.emu.control("faults", {"tenant": "contoso", "token_slow_ms": 400})
        r = self.run_once(conf)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assert_exactly_once(expected)

    def test_token_endpoint_5xx(self):
        expected = harness.expected_records(self.emu)
        conf = self.make("5xx")
        self.emu.control("faults", {"tenant": "contoso", "status_5xx": {
            "count": 100000, "status": 503, "endpoint": "token"}})
        r = self.run_once(conf)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("token endpoint HTTP 503", r.stderr)
        self.assertIn("token endpoint still failing after 3 attempts", r.stderr)
        self.assertEqual([k for k in self.delivered() if k[0] == "contoso"], [])
        self.emu.control("reset-faults", {})
        self.emu.control("faults", {"tenant": "contoso", "status_5xx": {
            "count": 2, "status": 500, "endpoint": "token"}})
        r = self.run_once(conf)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assert_exactly_once(expected)


if __name__ == "__main__":
    unittest.main()
