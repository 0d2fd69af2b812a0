"""bench/scale end to end at a tiny size: the fake API (bench/fakeapi) serves 20 tenants, the
daemon reads them, and the benchmark's own check finds every record delivered once. Guards the
benchmark against changes of the configuration, `state show` or the file output; no figure is
judged."""

import os
import re
import subprocess
import sys
import unittest

import harness

SCRIPT = os.path.join(harness.SRC, "bench", "scale")


class ScaleBenchSmoke(unittest.TestCase):
    def test_twenty_tenants(self):
        r = subprocess.run([sys.executable, SCRIPT, "--tenants", "20", "--minutes", "0.2",
                            "--count-syscalls", "off", "--bin", harness.BIN],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        out = r.stdout
        self.assertIn("== 20 tenants, 40 jobs", out)
        self.assertRegex(out, r"first cycle: \d+\.\d s")
        delivery = re.search(r"delivery: (\d+) record versions below the checkpoints, (\d+) "
                             r"delivered \((\d+) lines\), lost (\d+), duplicated (\d+), not from "
                             r"the API (\d+), unparsable (\d+); 40 checkpoints", out)
        self.assertIsNotNone(delivery, out)
        required, unique, lines, lost, dup, unknown, bad = map(int, delivery.groups())
        # 5 records per stream from the day before, all below the first checkpoint
        self.assertGreaterEqual(required, 200)
        self.assertEqual((lost, dup, unknown, bad), (0, 0, 0, 0), out)
        self.assertEqual(unique, lines)
        self.assertRegex(out, r"fake API: 40 tokens \(0 refused\), \d+ list requests \(0 refused\)")
        self.assertRegex(out, r"\n\| 20 \| 40 \| \d+\.\d \| .* \| 0 / 0 \| [\d.]+ / [\d.]+ \|\n")


if __name__ == "__main__":
    unittest.main()
