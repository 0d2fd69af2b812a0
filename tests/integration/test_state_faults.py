"""The state directory fails under the daemon: full, read-only, or its checkpoint store
(STATE_DIR/checkpoints.db) or a checkpoint file of the layout before damaged. While checkpoints
cannot be written every stream stops advancing (each says so once), the daemon keeps running and
goes on by itself when the file system takes writes again; killed meanwhile, it repeats at most
the one batch per stream delivered since the last commit. A damaged store or checkpoint is an
error naming the file, never a silent reset to initial_lookback.

The state directory is an 8 MiB tmpfs when the test may mount one (root with CAP_SYS_ADMIN, as
here and in CI): filled for "full", remounted read-only before a start. A file system cannot be
remounted read-only while the forwarder holds its store open for writing, so "read-only under the
daemon" (what errors=remount-ro does) comes from the faultfs hook (tests/integration/faultfs),
preloaded into the forwarder: it fails writes to files under the directory, also through file
descriptors opened before, with EROFS (or ENOSPC for "full" where no tmpfs can be mounted)."""

import collections
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STREAMS = harness.STREAMS
HOLD = "holding at the last written checkpoint until the checkpoint store can be written"
STOPPING = "stopping this stream: the checkpoint store cannot be written"
STORE_DOWN = "every stream holds at its last written checkpoint until the store can be written"
RESUME = "checkpoints are written again"
NO_CHECKPOINT = "no checkpoint; starting"


class StateFs:
    """The state directory: a small tmpfs that can be filled, emptied and remounted read-only
    while no process holds it, plus the faultfs hook for faults under a running forwarder."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.ctl = path + ".fault"
        hook = os.environ.get("DFW_FAULTFS")
        if not hook or not os.path.exists(hook):
            raise unittest.SkipTest("no faultfs hook (DFW_FAULTFS)")
        self.env = {"LD_PRELOAD": hook, "DFW_FAULTFS_DIR": path, "DFW_FAULTFS_CTL": self.ctl,
                    # the sanitizer runtime need not come first for a test hook
                    "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                    ":verify_asan_link_order=0"}
        self.mounted = False
        if os.environ.get("DFW_TEST_FAULTFS") != "1":
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", path],
                               capture_output=True, text=True)
            self.mounted = r.returncode == 0

    def _fault(self, mode):
        with open(self.ctl, "w") as f:
            f.write(mode)

    def fill(self):
        if not self.mounted:
            self._fault("full")
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
        if os.path.exists(self.ctl):
            os.unlink(self.ctl)
        for name in ("filler", "filler2"):
            if os.path.exists(os.path.join(self.path, name)):
                os.unlink(os.path.join(self.path, name))

    def read_only_under_daemon(self, on):
        if on:
            self._fault("ro")
        elif os.path.exists(self.ctl):
            os.unlink(self.ctl)

    def read_only_at_rest(self, on):
        """The whole file system read-only: only while no forwarder runs."""
        if not self.mounted:
            self.read_only_under_daemon(on)
            return
        subprocess.run(["mount", "-o", "remount," + ("ro" if on else "rw"), self.path],
                       check=True, capture_output=True)

    def cleanup(self):
        if os.path.exists(self.ctl):
            os.unlink(self.ctl)
        if self.mounted:
            subprocess.run(["umount", "-l", self.path], capture_output=True)
            self.mounted = False


class Daemon(harness.Forwarder):
    """harness.Forwarder with extra environment (the faultfs hook)."""

    def __init__(self, config, log_path, env, *args):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([harness.BIN, "-c", config, "run", *args], stdout=self._log,
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
        self.db = os.path.join(self.fs.path, "checkpoints.db")
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

    def start(self, name="fw.log", *args):
        self.fw = Daemon(self.conf, os.path.join(self.dir, name), self.fs.env, *args)
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

    def lines(self, text):
        return [l for l in self.fw.log().splitlines() if text in l]

    def wait_held(self, reason):
        """The store's error names the database and the reason; every stream says once that it
        holds. Returns the store's error line."""
        harness.wait_for(lambda: len(self.lines(HOLD)) >= len(STREAMS), 60,
                         "every stream to report the hold")
        held = self.lines(HOLD)
        for stream in STREAMS:
            mine = [l for l in held if f"stream={stream} " in l]
            self.assertEqual(len(mine), 1, held)
        down = self.lines(STORE_DOWN)
        self.assertEqual(len(down), 1, down)
        self.assertIn("level=error component=state", down[0])
        self.assertIn(self.db, down[0])
        self.assertIn(reason, down[0])
        return down[0]

    def check_once(self, expected):
        counts = self.delivered()
        self.assertEqual(sorted(k for k in expected if k not in counts), [], "records lost")
        self.assertEqual({k: n for k, n in counts.items() if n > 1}, {}, "records repeated")

    def test_full_then_space_returns(self):
        fw = self.start()
        self.wait_all("the first records")
        first = self.fault_during_fetch(self.fs.fill)
        self.wait_held("database or disk is full")
        # the page in flight was delivered; its checkpoint is what cannot be written
        harness.wait_for(lambda: all(k in self.delivered() for k in first
                                     if k[1] == "mde-alerts"), 30, "the page fetched at the fill")
        second = self.add(3)  # must wait: nothing is fetched while the checkpoint is old
        time.sleep(6)
        got = self.delivered()
        self.assertEqual([k for k in second if k in got], [], "fetched while holding")
        self.assertTrue(fw.running(), fw.log()[-2000:])
        self.assertEqual(len(self.lines(HOLD)), len(STREAMS), "said more than once per stream")
        # the metrics file (written every 10 s) marks the streams failing and the store down
        prom = os.path.join(self.dir, "metrics.prom")
        harness.wait_for(lambda: all(harness_metrics(prom).get(
            ("dfw_stream_failing", f'{{tenant="contoso",stream="{s}"}}')) == 1 for s in STREAMS)
            and harness_metrics(prom).get(("dfw_checkpoint_store_up", "")) == 0,
            30, "dfw_stream_failing 1 and dfw_checkpoint_store_up 0 in the metrics file")
        self.fs.empty()
        expected = self.wait_all("the records added while the disk was full")
        harness.wait_for(lambda: len(self.lines(RESUME)) == 1, 30, "the store to be back")
        self.assertEqual(fw.stop(signal.SIGTERM), 0)
        self.check_once(expected)
        for stream in STREAMS:
            cp = harness.checkpoint(self.fs.path, self.TENANT, stream)
            self.assertEqual(cp["delivered"], len(self.emu.records(self.TENANT, stream)), cp)

    def test_killed_while_full_repeats_one_batch(self):
        fw = self.start()
        before = self.wait_all("the first records")
        first = self.fault_during_fetch(self.fs.fill)
        self.wait_held("database or disk is full")
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
        self.assertEqual(self.lines(NO_CHECKPOINT), [], "started again from initial_lookback")
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
        first = self.fault_during_fetch(lambda: self.fs.read_only_under_daemon(True))
        self.wait_held("Read-only file system")
        harness.wait_for(lambda: all(k in self.delivered() for k in first
                                     if k[1] == "mde-alerts"), 30, "the page fetched")
        second = self.add(2)
        time.sleep(5)
        self.assertEqual([k for k in second if k in self.delivered()], [],
                         "fetched while holding")
        self.assertTrue(fw.running())
        self.fs.read_only_under_daemon(False)
        expected = self.wait_all("the records added while read-only")
        harness.wait_for(lambda: len(self.lines(RESUME)) == 1, 30, "the store to be back")
        self.assertEqual(fw.stop(signal.SIGTERM), 0)
        self.check_once(expected)

    def test_once_while_full_fails_and_the_next_run_repeats_one_batch(self):
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120,
                                  env={**os.environ, **self.fs.env})
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        before = set(self.delivered())
        self.emu.control("faults", {"slow_ms": 3000})
        reqs = lambda: self.emu.control("stats")["requests"].get("mde-alerts", {}).get(
            self.TENANT, 0)
        self.add(7)  # two pages of mde-alerts: the second one is never asked for
        n0 = reqs()
        fw = self.start("once.log", "--once")
        harness.wait_for(lambda: reqs() > n0, 30, "the run's first request")
        self.fs.fill()
        self.emu.control("reset-faults", {})
        self.assertEqual(fw.proc.wait(120), 1, fw.log()[-3000:])
        stopped = self.lines(STOPPING)
        self.assertEqual(sorted(re.search(r"stream=(\S+)", l).group(1) for l in stopped),
                         sorted(STREAMS), stopped)
        self.assertIn(self.db, "\n".join(self.lines(STORE_DOWN)))
        self.fs.empty()
        held = set(self.delivered()) - before
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120,
                                  env={**os.environ, **self.fs.env})
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertNotIn(NO_CHECKPOINT, r.stderr)
        expected = harness.expected_records(self.emu, tenants=(self.TENANT,))
        counts = self.delivered()
        self.assertEqual(sorted(k for k in expected if k not in counts), [], "records lost")
        repeated = {k for k, n in counts.items() if n > 1}
        self.assertTrue(repeated <= held, sorted(repeated - held))
        for stream in STREAMS:
            self.assertLessEqual(len([k for k in repeated if k[1] == stream]), 5,
                                 "more than one batch (page_size 5) repeated")

    def test_read_only_at_start(self):
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120,
                                  env={**os.environ, **self.fs.env})
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.fs.read_only_at_rest(True)
        try:
            r = subprocess.run([harness.BIN, "-c", self.conf, "run", "--once"],
                               capture_output=True, text=True, timeout=120,
                               env={**os.environ, **self.fs.env})
        finally:
            self.fs.read_only_at_rest(False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(self.fs.path, r.stderr)
        self.assertIn("Read-only file system", r.stderr)
        self.assertNotIn(NO_CHECKPOINT, r.stderr)


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


def set_body(db_path, tenant, stream, damage):
    db = sqlite3.connect(db_path)
    try:
        (body,) = db.execute("SELECT body FROM checkpoint WHERE tenant = ? AND stream = ?",
                             (tenant, stream)).fetchone()
        db.execute("UPDATE checkpoint SET body = ? WHERE tenant = ? AND stream = ?",
                   (damage(body), tenant, stream))
        db.commit()
    finally:
        db.close()
    return body


class DamagedStore(unittest.TestCase):
    """Every way the checkpoint store or a checkpoint can be damaged. A damaged database file
    stops the run at the start with its name; a damaged checkpoint fails its stream with the
    database's name while the others go on; a damaged checkpoint file of the layout before stops
    the import with the file's name. Never a silent reset to initial_lookback: nothing is read
    again, and the damaged file is left as it is."""

    FILE_DAMAGE = {
        "empty": lambda data: b"",
        "truncated to one page": lambda data: data[:4096],
        "cut in the middle of a page": lambda data: data[:len(data) * 3 // 4],
        "garbage": lambda data: b"\x00\x01binary\xff junk\n" * 64,
    }
    ROW_DAMAGE = {
        "not JSON": lambda text: text[:len(text) // 2],
        "not a checkpoint": lambda text: '{"hello": "world"}',
        "wrong type": lambda text: text.replace('"high_water_ms":', '"high_water_ms":"x","o":'),
        "bad pair entry": lambda text: re.sub(r'"seen":\[', '"seen":[[1,2,3],', text, count=1),
    }

    def setUp(self):
        self.work = harness.Workdir("dfw-it-corrupt-")
        self.addCleanup(self.work.cleanup)
        self.emu = harness.Emulator(self.work.path, tenants=1, records=8,
                                    args=("--no-rate-limit",))
        self.addCleanup(self.emu.stop)
        self.state = os.path.join(self.work.path, "state")
        self.db = os.path.join(self.state, "checkpoints.db")
        self.events = os.path.join(self.work.path, "events.json")
        self.conf = harness.write_config(os.path.join(self.work.path, "forwarder.conf"),
                                         self.emu, self.state,
                                         [("archive", {"type": "file", "path": self.events})],
                                         forwarder={"poll_interval": "1s"}, tenants=("contoso",))
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertFalse(os.path.exists(self.db + "-wal"), "the WAL outlived the run")

    def add_one(self, stream="graph-alerts"):
        self.emu.control("records", {"tenant": "contoso", "stream": stream, "count": 1})

    def test_damaged_database_file(self):
        with open(self.db, "rb") as f:
            good = f.read()
        self.assertGreater(len(good), 4096)
        for name, damage in self.FILE_DAMAGE.items():
            with self.subTest(name):
                bad = damage(good)
                with open(self.db, "wb") as f:
                    f.write(bad)
                before = len(harness.read_envelopes(self.events))
                self.add_one()
                r = harness.run_forwarder(self.conf, "run", "--once", timeout=120)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                err = [l for l in r.stderr.splitlines() if self.db in l]
                self.assertTrue(err, r.stderr[-2000:])
                self.assertTrue(any(w in l for l in err for w in ("damaged", "empty", "truncated")),
                                err)
                self.assertNotIn(NO_CHECKPOINT, r.stderr)
                self.assertEqual(len(harness.read_envelopes(self.events)), before,
                                 "records read again from a damaged store")
                with open(self.db, "rb") as f:
                    self.assertEqual(f.read(), bad, "the damaged store was written")
                show = harness.run_forwarder(self.conf, "state", "show", timeout=60)
                self.assertNotEqual(show.returncode, 0, show.stdout)
                self.assertIn(self.db, show.stderr)
                with open(self.db, "rb") as f:
                    self.assertEqual(f.read(), bad, "state show wrote the damaged store")
        with open(self.db, "wb") as f:
            f.write(good)
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        mde = [e for e in harness.read_envelopes(self.events) if e["stream"] == "mde-alerts"]
        self.assertEqual(len(mde), 8, "mde-alerts records were read again")

    def test_damaged_checkpoint(self):
        for name, damage in self.ROW_DAMAGE.items():
            with self.subTest(name):
                good = set_body(self.db, "contoso", "mde-alerts", damage)
                before = len(harness.read_envelopes(self.events))
                self.add_one()
                r = harness.run_forwarder(self.conf, "run", "--once", timeout=120)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                err = [l for l in r.stderr.splitlines() if "stream=mde-alerts" in l and
                       "level=error" in l]
                self.assertTrue(any(self.db in l and "tenant contoso stream mde-alerts" in l
                                    for l in err), r.stderr[-2000:])
                self.assertNotIn(NO_CHECKPOINT, r.stderr)
                after = harness.read_envelopes(self.events)[before:]
                # the other streams went on; nothing of mde-alerts was read again
                self.assertEqual([e["stream"] for e in after], ["graph-alerts"])
                db = sqlite3.connect(self.db)
                (body,) = db.execute("SELECT body FROM checkpoint WHERE stream = 'mde-alerts'"
                                     ).fetchone()
                db.close()
                self.assertEqual(body, damage(good), "the damaged checkpoint was overwritten")
                set_body(self.db, "contoso", "mde-alerts", lambda _: good)
        # the daemon says the same, keeps the other streams going and does not start the
        # stream from scratch either
        set_body(self.db, "contoso", "mde-alerts", self.ROW_DAMAGE["not a checkpoint"])
        fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "daemon.log"))
        try:
            harness.wait_for(lambda: self.db in fw.log(), 60, "the error naming the store")
            self.add_one()
            harness.wait_for(lambda: len([e for e in harness.read_envelopes(self.events)
                                          if e["stream"] == "graph-alerts"]) == 8 + 5, 60,
                             "the other streams to go on")
            self.assertTrue(fw.running())
            self.assertNotIn(NO_CHECKPOINT, fw.log())
        finally:
            self.assertEqual(fw.stop(signal.SIGTERM), 1)
        mde = [e for e in harness.read_envelopes(self.events) if e["stream"] == "mde-alerts"]
        self.assertEqual(len(mde), 8, "mde-alerts records were read again")

    def test_damaged_checkpoint_file_being_imported(self):
        """A checkpoint file of the layout before (STATE_DIR/checkpoints/TENANT/STREAM.json)
        that cannot be read stops the import: nothing is imported, the files stay."""
        os.unlink(self.db)
        legacy = os.path.join(self.state, "checkpoints", "contoso")
        os.makedirs(legacy)
        good = os.path.join(legacy, "graph-alerts.json")
        with open(good, "w") as f:
            f.write('{"version": 1, "high_water_ms": 1700000000000, "delivered": 3, "seen": []}\n')
        for name, text in (("truncated", '{"version": 2, "high_water_ms": 17'),
                           ("empty", ""), ("not a checkpoint", '{"hello": "world"}')):
            with self.subTest(name):
                bad = os.path.join(legacy, "mde-alerts.json")
                with open(bad, "w") as f:
                    f.write(text)
                r = harness.run_forwarder(self.conf, "run", "--once", timeout=120)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(bad, r.stderr)
                self.assertNotIn(NO_CHECKPOINT, r.stderr)
                self.assertTrue(os.path.exists(good) and os.path.exists(bad))
                self.assertFalse(os.path.exists(os.path.join(self.state, "checkpoints.imported")))
                self.assertIsNone(harness.checkpoint(self.state, "contoso", "graph-alerts"),
                                  "imported in part")


if __name__ == "__main__":
    unittest.main()
