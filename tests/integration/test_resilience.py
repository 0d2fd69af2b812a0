"""Crashes and outages: the forwarder killed with SIGKILL in the middle of a sweep loses nothing
and repeats at most one page per stream when restarted; a syslog receiver that is down holds the
checkpoint (the daemon keeps running and retrying) and gets everything once it is back."""

import collections
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Resilience(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir("dfw-it-resil-")
        self.fw = None
        self.sng = None
        self.emu = None

    def tearDown(self):
        if self.fw:
            self.fw.cleanup()
        if self.sng:
            self.sng.stop()
        if self.emu:
            self.emu.stop()
        self.work.cleanup()

    def config(self, output, forwarder):
        return harness.write_config(os.path.join(self.work.path, "forwarder.conf"), self.emu,
                                    os.path.join(self.work.path, "state"), [("siem", output)],
                                    forwarder={"poll_interval": "1s", **forwarder},
                                    tenants=("contoso", "fabrikam"))

    def test_sigkill_mid_sweep_then_restart(self):
        page = 5
        records = 150  # 30 pages per stream
        self.emu = harness.Emulator(self.work.path, tenants=2, records=records,
                                    args=("--no-rate-limit",))
        self.sng = harness.SyslogNg(self.work.path, transport="tcp")
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": self.sng.port},
                           {"page_size": str(page)})
        expected = harness.expected_records(self.emu)
        self.emu.control("faults", {"slow_ms": 100})
        self.fw = harness.Forwarder(conf, "--once",
                                    log_path=os.path.join(self.work.path, "first.log"))
        harness.wait_for(lambda: len(self.sng.lines()) >= len(expected) // 3 or
                         not self.fw.running(), 300, "a third of the records")
        self.assertTrue(self.fw.running(), "the first run ended before it could be killed")
        self.assertEqual(self.fw.stop(signal.SIGKILL), -signal.SIGKILL)
        self.emu.control("reset-faults", {})
        first = len(self.sng.lines())
        self.assertLess(first, len(expected), "killed too late: everything had arrived")
        show = harness.state_show(conf)
        self.assertTrue(any(r.get("sweep") == "paging" for r in show.values()),
                        f"no sweep was in progress when killed: {show}")

        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-3000:])
        harness.wait_for(lambda: len(self.sng.lines()) >= len(expected) or None, 60,
                         "every record")
        lines = self.sng.settle()
        events, stray = harness.parse_received(lines)
        self.assertEqual(stray, [])
        counts = collections.Counter(harness.cef_event_key(h, e) for h, e, _ in events)
        missing = [k for k in expected if k not in counts]
        self.assertEqual(missing, [], f"{len(missing)} records lost")
        self.assertEqual([k for k in counts if k not in expected], [])
        repeats = collections.Counter()
        for key, n in counts.items():
            repeats[key[:2]] += n - 1
        for job, n in repeats.items():
            self.assertLessEqual(n, page, f"{job}: {n} records repeated, more than one page")
        for row in harness.state_show(conf).values():
            self.assertEqual((row.get("delivered"), row.get("sweep")), (records, "idle"), row)

    def test_receiver_down_then_back(self):
        self.emu = harness.Emulator(self.work.path, tenants=2, records=30,
                                    args=("--no-rate-limit",))
        self.sng = harness.SyslogNg(self.work.path, transport="tcp")
        self.sng.stop()  # the port is known, nobody listens
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": self.sng.port,
                            "reconnect_min": "200ms", "reconnect_max": "2s"}, {})
        self.fw = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "fw.log"))
        harness.wait_for(lambda: self.fw.log().count("connect failed") >= 3 or
                         not self.fw.running(), 120, "several failed connection attempts")
        self.assertTrue(self.fw.running(), self.fw.log()[-2000:])
        self.assertIn("checkpoint held, retrying", self.fw.log())
        added = []
        for t in ("contoso", "fabrikam"):
            for stream in harness.STREAMS:
                res = self.emu.control("records", {"tenant": t, "stream": stream, "count": 3})
                added += [(t, stream, str(i)) for i in res["ids"]]
        harness.wait_for(lambda: self.fw.log().count("connect failed") >= 6, 120,
                         "more failed connection attempts")
        self.assertTrue(self.fw.running())
        show = harness.state_show(conf)
        for t in ("contoso", "fabrikam"):
            for stream in harness.STREAMS:
                row = show.get((t, stream), {"delivered": 0})
                self.assertEqual(row.get("delivered"), 0, f"checkpoint advanced: {t} {row}")

        self.sng.start()
        expected = harness.expected_records(self.emu, tenants=("contoso", "fabrikam"))
        self.assertTrue(all(k in expected for k in added))

        def all_in():
            show = harness.state_show(conf)
            return len(show) == 6 and all(r.get("delivered") == 33 for r in show.values())
        harness.wait_for(all_in, 180, "every checkpoint to advance past all records")
        harness.wait_for(lambda: len(self.sng.lines()) >= len(expected) or None, 60,
                         "every record at the receiver")
        events, stray = harness.parse_received(self.sng.settle(closed=False))
        self.assertEqual(stray, [])
        got = {harness.cef_event_key(h, e) for h, e, _ in events}
        self.assertEqual(sorted(k for k in expected if k not in got), [])
        # everything was written once: nothing was sent while nobody listened
        self.assertEqual(len(events), len(expected))

        # the receiver goes away again while the daemon is connected and idle
        failures = self.fw.log().count("connect failed")
        self.sng.stop()
        more = []
        for stream in harness.STREAMS:
            res = self.emu.control("records", {"tenant": "contoso", "stream": stream, "count": 2})
            more += [("contoso", stream, str(i)) for i in res["ids"]]
        harness.wait_for(lambda: self.fw.log().count("connect failed") >= failures + 2, 120,
                         "failed connection attempts after the receiver stopped")
        self.sng.start()
        harness.wait_for(lambda: len(self.sng.lines()) >= len(expected) + len(more) or None, 180,
                         "the records added while the receiver was down")
        events, stray = harness.parse_received(self.sng.settle(closed=False))
        self.assertEqual(stray, [])
        got = {harness.cef_event_key(h, e) for h, e, _ in events}
        self.assertEqual([k for k in more if k not in got], [])
        self.assertEqual(self.fw.stop(signal.SIGTERM), 0)

    def test_one_output_down_the_other_gets_each_record_once(self):
        # two outputs: the file takes every batch at once, syslog-ng is down. The checkpoint waits
        # for both; batches are re-sent only to the output that has not acknowledged them.
        self.emu = harness.Emulator(self.work.path, tenants=2, records=20,
                                    args=("--no-rate-limit",))
        self.sng = harness.SyslogNg(self.work.path, transport="tcp")
        self.sng.stop()
        events = os.path.join(self.work.path, "events.json")
        conf = harness.write_config(
            os.path.join(self.work.path, "forwarder.conf"), self.emu,
            os.path.join(self.work.path, "state"),
            [("archive", {"type": "file", "path": events}),
             ("siem", {"type": "syslog", "host": "127.0.0.1", "port": self.sng.port,
                       "reconnect_min": "200ms", "reconnect_max": "2s"})],
            forwarder={"poll_interval": "1s", "page_size": "5"})
        expected = harness.expected_records(self.emu)
        self.fw = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "fw.log"))
        harness.wait_for(lambda: self.fw.log().count("connect failed") >= 4, 120,
                         "failed connection attempts")
        show = harness.state_show(conf)
        self.assertTrue(all(r.get("delivered", 0) == 0 for r in show.values()), show)
        self.sng.start()
        harness.wait_for(lambda: len(self.sng.lines()) >= len(expected) or None, 180,
                         "every record at syslog-ng")
        harness.wait_for(lambda: all(r.get("delivered") == 20 for r in
                                     harness.state_show(conf).values()), 60, "the checkpoints")
        self.assertEqual(self.fw.stop(signal.SIGTERM), 0)
        self.assertEqual(harness.check_cef_delivery(self.sng.settle(), expected)[:20], [])
        problems = harness.check_envelope_delivery(harness.read_envelopes(events), expected)
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s)")


if __name__ == "__main__":
    unittest.main()
