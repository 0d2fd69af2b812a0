"""The state directory fails under the daemon: full, read-only, or a checkpoint file truncated or
corrupt. A checkpoint that cannot be written stops the stream from advancing (said once per
tenant and stream), the daemon keeps running and goes on by itself when the file system takes
writes again; killed meanwhile, it repeats at most the one batch delivered before the hold. A
corrupt checkpoint is an error naming the file, never a silent reset to initial_lookback.

The state directory is a 1 MiB tmpfs when the test may mount one (root with CAP_SYS_ADMIN, as
here and in CI); elsewhere the forwarder runs with the faultfs hook (tests/integration/faultfs),
which fails the same calls with the same errors (ENOSPC, EROFS)."""

import collections
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STREAMS = harness.STREAMS
HOLD = "holding this stream until the checkpoint can be written"
RESUME = "checkpoint written again after"


class StateFs:
    """A small file system for the state directory that can be filled, emptied, made read-only
    and writable again."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.ctl = path + ".fault"
        self.env = {}
        self.mounted = False
        if os.environ.get("DFW_TEST_FAULTFS") != "1":
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", path],
                               capture_output=True, text=True)
            self.mounted = r.returncode == 0
        if not self.mounted:
            hook = os.environ.get("DFW_FAULTFS")
            if not hook or not os.path.exists(hook):
                raise unittest.SkipTest("cannot mount a tmpfs and no faultfs hook (DFW_FAULTFS)")
            self.env = {"LD_PRELOAD": hook, "DFW_FAULTFS_DIR": path, "DFW_FAULTFS_CTL": self.ctl,
                        # the sanitizer runtime need not come first for a test hook
                        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                        ":verify_asan_link_order=0"}

    def fill(self):
        if not self.mounted:
            with open(self.ctl, "w") as f:
                f.write("full")
            return
        with open(os.path.join(self.path, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        # the last blocks: small writes until nothing fits
        with open(os.path.join(self.path, "filler2"), "wb", buffering=0) as f:
            try:
                while f.write(b"\0" * 512):
                    pass
            except OSError:
                pass

    def empty(self):
        if not self.mounted:
            os.unlink(self.ctl)
            return
        for name in ("filler", "filler2"):
            if os.path.exists(os.path.join(self.path, name)):
                os.unlink(os.path.join(self.path, name))

    def read_only(self, on):
        if not self.mounted:
            if on:
                with open(self.ctl, "w") as f:
                    f.write("ro")
            elif os.path.exists(self.ctl):
                os.unlink(self.ctl)
            return
        # the forwarder keeps its lock file open for writing, so the file system itself cannot
        # be remounted read-only: the checkpoints directory becomes a read-only bind mount
        cps = os.path.join(self.path, "checkpoints")
        if on:
            for args in (["--bind", cps, cps], ["-o", "remount,bind,ro", cps]):
                subprocess.run(["mount", *args], check=True, capture_output=True)
        else:
            subprocess.run(["umount", cps], check=True, capture_output=True)

    def cleanup(self):
        if self.mounted:
            subprocess.run(["umount", "-l", os.path.join(self.path, "checkpoints")],
                           capture_output=True)
            subprocess.run(["umount", "-l", self.path], capture_output=True)
            self.mounted = False


class Daemon(harness.Forwarder):
    """harness.Forwarder with extra environment (the faultfs hook)."""

    def __init__(self, config, log_path, env):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([harness.BIN, "-c", config, "run"], stdout=self._log,
                                     stderr=self._log, env={**os.environ, **env})


class StateFaults(unittest.TestCase):
    TENANT = "contoso"

    def setUp(self):
        # an emulator per test: its records are 2 days old, so that every later sweep is the
        # one page of the records a test adds (and the page in flight at a fault holds them)
        self.work = harness.Workdir("dfw-it-state-")
        self.addCleanup(self.work.cleanup)
        self.dir = self.work.path
        self.emu = harness.Emulator(self.work.path, tenants=1, records=12,
                                    args=("--no-rate-limit",))
        self.addCleanup(self.emu.stop)
        self.fs = StateFs(os.path.join(self.dir, "state"))
        self.addCleanup(self.fs.cleanup)
        self.events = os.path.join(self.dir, "events.json")
        self.fw = None
        self.conf = harness.write_config(
            os.path.join(self.dir, "forwarder.conf"), self.emu, self.fs.path,
            [("archive", {"type": "file", "path": self.events, "envelope": "yes"})],
            forwarder={"poll_interval": "1s", "page_size": "5",
                       "metrics_file": os.path.join(self.dir, "metrics.prom")},
            tenants=(self.TENANT,))

    def tearDown(self):
        if self.fw is not None:
            self.fw.cleanup()

    def start(self, name="fw.log"):
        self.fw = Daemon(self.conf, os.path.join(self.dir, name), self.fs.env)
        return self.fw

    def delivered(self):
        """Counter of (tenant, stream, id) in the output file."""
        return collections.Counter((e["tenant"], e["stream"], e["id"])
                                   for e in harness.read_envelopes(self.events))

    def wait_all(self, what, timeout=120):
        expected = harness.expected_records(self.emu, tenants=(self.TENANT,))
        harness.wait_for(lambda: all(k in self.delivered() for k in expected), timeout, what)
        return expected

    def add(self, count):
        keys = []
        for stream in STREAMS:
            res = self.emu.control("records", {"tenant": self.TENANT, "stream": stream,
                                               "count": count})
            keys += [(self.TENANT, stream, str(i)) for i in res["ids"]]
        return keys

    def fault_during_fetch(self, fault, stream="mde-alerts"):
        """Add records, wait until a request of stream that sees them is in flight (answers
        slowed down), then apply fault: that page is delivered and its checkpoint cannot be
        written. Returns the keys added."""
        self.emu.control("faults", {"slow_ms": 3000})
        reqs = lambda: self.emu.control("stats")["requests"].get(stream, {}).get(self.TENANT, 0)
        keys = self.add(2)
        n0 = reqs()
        harness.wait_for(lambda: reqs() > n0, 30, "a request after the records were added")
        fault()
        self.emu.control("reset-faults", {})
        return keys

    def hold_lines(self):
        return [l for l in self.fw.log().splitlines() if HOLD in l]

    def wait_held(self):
        """Every stream says once that it holds; returns the lines."""
        harness.wait_for(lambda: len(self.hold_lines()) >= len(STREAMS), 60,
                         "every stream to report the failed checkpoint")
        lines = self.hold_lines()
        for stream in STREAMS:
            mine = [l for l in lines if f"stream={stream} " in l]
            self.assertEqual(len(mine), 1, lines)
        return lines

    def check_once(self, expected):
        counts = self.delivered()
        self.assertEqual(sorted(k for k in expected if k not in counts), [], "records lost")
        self.assertEqual({k: n for k, n in counts.items() if n > 1}, {}, "records repeated")

    def test_full_then_space_returns(self):
        fw = self.start()
        self.wait_all("the first records")
        first = self.fault_during_fetch(self.fs.fill)
        lines = self.wait_held()
        self.assertIn("No space left on device", lines[0])
        self.assertIn("checkpoints/contoso/", lines[0])
        # the page in flight was delivered; its checkpoint is what cannot be written
        harness.wait_for(lambda: all(k in self.delivered() for k in first
                                     if k[1] == "mde-alerts"), 30, "the page fetched at the fill")
        second = self.add(3)  # must wait: nothing is fetched while the checkpoint is old
        time.sleep(6)
        got = self.delivered()
        self.assertEqual([k for k in second if k in got], [], "fetched while holding")
        self.assertTrue(fw.running(), fw.log()[-2000:])
        self.assertEqual(len(self.hold_lines()), len(STREAMS), "said more than once per stream")
        # the metrics file (written every 10 s) marks the streams failing
        prom = os.path.join(self.dir, "metrics.prom")
        harness.wait_for(lambda: all(harness_metrics(prom).get(
            ("dfw_stream_failing", f'{{tenant="contoso",stream="{s}"}}')) == 1 for s in STREAMS),
            30, "dfw_stream_failing 1 in the metrics file")
        self.fs.empty()
        expected = self.wait_all("the records added while the disk was full")
        harness.wait_for(lambda: fw.log().count(RESUME) >= len(STREAMS), 30,
                         "every stream to resume")
        self.assertEqual(fw.stop(signal.SIGTERM), 0)
        self.check_once(expected)
        for stream in STREAMS:
            cp = harness.checkpoint(self.fs.path, self.TENANT, stream)
            self.assertEqual(cp["delivered"], len(self.emu.records(self.TENANT, stream)), cp)

    def test_killed_while_full_repeats_one_batch(self):
        fw = self.start()
        before = self.wait_all("the first records")
        first = self.fault_during_fetch(self.fs.fill)
        self.wait_held()
        harness.wait_for(lambda: all(k in self.delivered() for k in first
                                     if k[1] == "mde-alerts"), 30, "the page fetched at the fill")
        self.add(3)
        time.sleep(2)
        held = set(self.delivered()) - set(before)
        self.assertEqual(fw.stop(signal.SIGKILL), -signal.SIGKILL)
        self.fs.empty()
        fw = self.start("fw2.log")
        expected = self.wait_all("every record after the restart")
        self.assertEqual(fw.stop(signal.SIGTERM), 0)
        counts = self.delivered()
        self.assertEqual(sorted(k for k in expected if k not in counts), [], "records lost")
        repeated = {k for k, n in counts.items() if n > 1}
        # only what was delivered after the last checkpoint that could be written comes again
        self.assertTrue(repeated <= held, sorted(repeated - held))
        self.assertTrue(any(k[1] == "mde-alerts" for k in repeated), "no batch was held")
        for stream in STREAMS:
            self.assertLessEqual(len([k for k in repeated if k[1] == stream]), 5,
                                 "more than one batch (page_size 5) repeated")

    def test_read_only_then_writable(self):
        fw = self.start()
        self.wait_all("the first records")
        first = self.fault_during_fetch(lambda: self.fs.read_only(True))
        lines = self.wait_held()
        self.assertIn("Read-only file system", lines[0])
        harness.wait_for(lambda: all(k in self.delivered() for k in first
                                     if k[1] == "mde-alerts"), 30, "the page fetched")
        second = self.add(2)
        time.sleep(5)
        self.assertEqual([k for k in second if k in self.delivered()], [],
                         "fetched while holding")
        self.assertTrue(fw.running())
        self.fs.read_only(False)
        expected = self.wait_all("the records added while read-only")
        self.assertEqual(fw.stop(signal.SIGTERM), 0)
        self.check_once(expected)

    def test_read_only_at_start(self):
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120,
                                  env={**os.environ, **self.fs.env})
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.fs.read_only(True)
        r = subprocess.run([harness.BIN, "-c", self.conf, "run", "--once"], capture_output=True,
                           text=True, timeout=120, env={**os.environ, **self.fs.env})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(self.fs.path, r.stderr)
        self.assertIn("Read-only file system", r.stderr)
        self.fs.read_only(False)


def harness_metrics(path):
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line.strip())
            if m:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


class CorruptCheckpoint(unittest.TestCase):
    """Every way a checkpoint file can be damaged: the run fails for that stream with the file's
    name, reads nothing of it again and leaves the file as it is; the other streams go on."""

    DAMAGE = {
        "truncated": lambda text: text[:len(text) // 2],
        "empty": lambda text: "",
        "garbage": lambda text: "\x00\x01binary\xff junk\n",
        "not a checkpoint": lambda text: '{"hello": "world"}\n',
        "wrong type": lambda text: text.replace('"high_water_ms":', '"high_water_ms": "x", "o":'),
        "bad seen entry": lambda text: text.replace('"seen":[', '"seen":[[1,2,3],', 1)
                                           .replace('"seen": [', '"seen": [[1,2,3],', 1),
    }

    def test_damaged_checkpoints(self):
        work = harness.Workdir("dfw-it-corrupt-")
        self.addCleanup(work.cleanup)
        emu = harness.Emulator(work.path, tenants=1, records=8, args=("--no-rate-limit",))
        self.addCleanup(emu.stop)
        state = os.path.join(work.path, "state")
        events = os.path.join(work.path, "events.json")
        conf = harness.write_config(os.path.join(work.path, "forwarder.conf"), emu, state,
                                    [("archive", {"type": "file", "path": events})],
                                    forwarder={"poll_interval": "1s"}, tenants=("contoso",))
        r = harness.run_forwarder(conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        path = os.path.join(state, "checkpoints", "contoso", "mde-alerts.json")
        with open(path, encoding="latin-1") as f:
            good = f.read()
        for name, damage in self.DAMAGE.items():
            with self.subTest(name):
                bad = damage(good)
                self.assertNotEqual(bad, good)
                with open(path, "w", encoding="latin-1") as f:
                    f.write(bad)
                before = len(harness.read_envelopes(events))
                emu.control("records", {"tenant": "contoso", "stream": "graph-alerts",
                                        "count": 1})
                r = harness.run_forwarder(conf, "run", "--once", timeout=120)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                err = [l for l in r.stderr.splitlines() if "stream=mde-alerts" in l and
                       "level=error" in l]
                self.assertTrue(any(path in l for l in err), r.stderr[-2000:])
                self.assertNotIn("no checkpoint; starting", r.stderr)
                after = harness.read_envelopes(events)[before:]
                # the other streams went on; nothing of mde-alerts was read again
                self.assertEqual([e["stream"] for e in after], ["graph-alerts"])
                with open(path, encoding="latin-1") as f:
                    self.assertEqual(f.read(), bad, "the damaged file was overwritten")
                show = harness.run_forwarder(conf, "state", "show", timeout=60)
                self.assertIn(path, show.stdout)
        # the daemon says the same and does not start the stream from scratch either
        fw = harness.Forwarder(conf, log_path=os.path.join(work.path, "daemon.log"))
        try:
            harness.wait_for(lambda: path in fw.log(), 60, "the error naming the file")
            time.sleep(3)
            self.assertTrue(fw.running())
            self.assertNotIn("starting", [l for l in fw.log().splitlines()
                                          if "mde-alerts" in l and "no checkpoint" in l])
        finally:
            self.assertEqual(fw.stop(signal.SIGTERM), 1)
        with open(path, encoding="latin-1") as f:
            self.assertEqual(f.read(), bad)
        mde = [e for e in harness.read_envelopes(events) if e["stream"] == "mde-alerts"]
        self.assertEqual(len(mde), 8, "mde-alerts records were read again")


if __name__ == "__main__":
    unittest.main()
