"""bench/throughput end to end at a tiny size: 3,000 MDE alerts in pages of $top 1,000 from nginx
into every output once. The benchmark checks each answer against its query and every record
delivered once at the receiver; this test checks that it ran every pipeline and that the figures
it prints are there and consistent (records, API calls), never their size or any time."""

import json
import os
import random
import re
import ssl
import subprocess
import sys
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness

SCRIPT = os.path.join(harness.SRC, "bench", "throughput")
sys.path.insert(0, os.path.join(harness.SRC, "bench"))
import static_api  # noqa: E402
ROW = re.compile(r"^\| (?P<label>[^|]+) \| (?P<records>[\d,]+) \| (?P<read>[\d,]+) \| "
                 r"(?P<cpu>[\d.]+) \| (?P<rate>[\d,]+) \| (?P<rss>[\d.]+) \| (?P<per_page>[\d.]+)"
                 r" \| (?P<above>-?[\d.]+) \| (?P<calls>\d+) \|$", re.M)


class ThroughputBenchSmoke(unittest.TestCase):
    def run_bench(self, *args):
        env = dict(os.environ)
        env.pop("FLUENT_BIT", None)  # the comparison is optional; this test runs without it
        return subprocess.run([sys.executable, SCRIPT, "--bin", harness.BIN, *args],
                              capture_output=True, text=True, timeout=900, env=env)

    def test_every_output(self):
        r = self.run_bench("--records", "3000", "--page-size", "1000", "--runs", "1")
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-3000:])
        out = r.stdout
        self.assertRegex(out, r"input: 3000 MDE alerts with evidence \([\d,]+ bytes each")
        self.assertIn("5 clusters of up to 700", out)
        rows = {m.group("label"): m for m in ROW.finditer(out)}
        self.assertEqual(set(rows), {"syslog TCP, CEF", "Splunk HEC, gzip (ack off)",
                                     "Splunk HEC, plain (ack off)", "file (JSON lines)",
                                     "file -> /dev/null"}, out)
        for label, m in rows.items():
            self.assertEqual(m.group("records"), "3,000", label)
            # 5 clusters: two full pages at the start of the sweep, one page per cluster, at
            # most two empty answers up to the end of the window
            self.assertTrue(7 <= int(m.group("calls")) <= 9, (label, m.group("calls")))
            read = int(m.group("read").replace(",", ""))
            self.assertTrue(3000 <= read <= 3000 + 2 * 1000, (label, read))
            self.assertGreater(float(m.group("cpu")), 0, label)
            self.assertGreater(float(m.group("rss")), 0, label)
        self.assertNotIn("Fluent Bit", out)

    def test_answers_are_the_apis(self):
        """nginx's routing against Pages.honest on random ranges around the cluster times, in the
        URL form of dfw_stream_url; other queries are refused."""
        work = harness.Workdir("dfw-test-static-api-")
        try:
            pages = static_api.Pages(os.path.join(work.path, "api"), 2500, 100)
            api = static_api.Nginx(work.path, pages)
            try:
                ctx = ssl.create_default_context(cafile=api.ca_file)

                def get(lo, hi, top=100, extra=""):
                    f = "lastUpdateTime ge %s and lastUpdateTime lt %s" % (iso(lo), iso(hi))
                    url = (f"{api.url}/api/alerts?$filter={urllib.parse.quote(f, safe='')}"
                           f"&$top={top}{extra}&$expand=evidence")
                    try:
                        with urllib.request.urlopen(url, context=ctx, timeout=30) as r:
                            return r.status, json.loads(r.read())["value"]
                    except urllib.error.HTTPError as e:
                        return e.code, None

                ids = [None] * pages.n
                times = pages.times_ms
                rng = random.Random(7)
                points = sorted({t + d for t in times for d in (-1, 0, 1)} |
                                {times[0] - 86400000, times[-1] + 60000})
                for _ in range(120):
                    lo, hi = sorted(rng.sample(points, 2))
                    status, value = get(lo, hi)
                    first, count = pages.honest(lo, hi, 100)
                    self.assertEqual((status, len(value)), (200, count), (lo, hi))
                    for i, rec in enumerate(value):  # the same record always at one place
                        self.assertIn(ids[first + i], (None, rec["id"]))
                        ids[first + i] = rec["id"]
                        self.assertTrue(lo <= harness.iso_ms(rec["lastUpdateTime"]) < hi)
                self.assertEqual(get(times[0], times[1], top=99)[0], 400)
                self.assertEqual(get(times[0], times[1], extra="&$skip=100")[0], 400)
                calls, _, problems = api.check()
                self.assertEqual([p.split(" for ")[0] for p in problems], ["400", "400"],
                                 problems)
                self.assertEqual(calls, 122)
            finally:
                api.stop()
        finally:
            work.cleanup()

    def test_bad_options(self):
        r = self.run_bench("--output", "kafka")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--output: unknown kafka", r.stderr)
        r = self.run_bench("--page-size", "20000")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--page-size must be 1..10000", r.stderr)


def iso(ms):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


if __name__ == "__main__":
    unittest.main()
