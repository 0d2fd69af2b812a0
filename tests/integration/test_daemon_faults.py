"""The daemon under long faults: both outputs (syslog-ng and a Splunk HEC receiver with indexer
acknowledgement) down for a long outage while alerts keep coming. (SIGHUP reloads the
configuration: test_operations.py.)

The outage lasts DFW_TEST_OUTAGE_S seconds (default 60; 600 gives the full 10 minutes) in
compressed time: polls every second and reconnects capped at 2 s, so it spans as many poll and
reconnect cycles as 10 minutes do at the intervals of a real deployment and more. The receivers
are stopped while the daemon is idle (a TCP syslog receiver killed with unread data in its socket
loses it: syslog over TCP has no acknowledgement). Nothing is lost, syslog-ng gets each record
once, HEC repeats at most one batch per stream, and the checkpoints hold until the receivers are
back."""

import collections
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import hec_harness  # noqa: E402

OUTAGE_S = int(os.environ.get("DFW_TEST_OUTAGE_S", "60"))
TENANTS = ("contoso", "fabrikam")
RECORDS = 10
PAGE = 5


class DaemonFaults(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir("dfw-it-daemon-")
        self.addCleanup(self.work.cleanup)
        self.emu = harness.Emulator(self.work.path, tenants=2, records=RECORDS,
                                    args=("--no-rate-limit",))
        self.addCleanup(self.emu.stop)

    def daemon(self, outputs):
        conf = harness.write_config(os.path.join(self.work.path, "forwarder.conf"), self.emu,
                                    os.path.join(self.work.path, "state"), outputs,
                                    forwarder={"poll_interval": "1s", "page_size": str(PAGE)},
                                    tenants=TENANTS)
        fw = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "fw.log"))
        self.addCleanup(fw.cleanup)
        return conf, fw

    def test_outputs_down_for_a_long_outage(self):
        sng = harness.SyslogNg(self.work.path, transport="tcp")
        self.addCleanup(sng.stop)
        hec = hec_harness.Collector(self.work.path)
        self.addCleanup(hec.stop)
        token = hec_harness.write_token(self.work.path)
        conf, fw = self.daemon([
            ("siem", {"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                      "reconnect_min": "200ms", "reconnect_max": "2s"}),
            ("splunk", hec_harness.hec_output(hec.url, token, hec.ca_file, retry_max_ms="2000",
                                              batch_timeout_ms="200"))])
        expected = harness.expected_records(self.emu, tenants=TENANTS)
        harness.wait_for(lambda: len(sng.lines()) >= len(expected) and
                         hec.count() >= len(expected), 180, "the first records at both")
        harness.wait_for(lambda: all(r.get("delivered") == RECORDS for r in
                                     harness.state_show(conf).values()), 60, "the checkpoints")
        before = {k: v["delivered"] for k, v in harness.state_show(conf).items()}
        sng.stop()
        hec.stop()
        started, added = time.monotonic(), []
        while time.monotonic() - started < OUTAGE_S:
            for t in TENANTS:
                for stream in harness.STREAMS:
                    res = self.emu.control("records", {"tenant": t, "stream": stream,
                                                       "count": 1})
                    added += [(t, stream, str(i)) for i in res["ids"]]
            time.sleep(10)
            self.assertTrue(fw.running(), fw.log()[-3000:])
            now = {k: v["delivered"] for k, v in harness.state_show(conf).items()}
            self.assertEqual(now, before, "a checkpoint advanced while both outputs were down")
        self.assertIn("checkpoint held", fw.log())
        sng.start()
        hec.start()
        expected = harness.expected_records(self.emu, tenants=TENANTS)
        self.assertTrue(all(k in expected for k in added))
        harness.wait_for(lambda: all(r.get("delivered") == len(self.emu.records(t, s))
                                     for (t, s), r in harness.state_show(conf).items()), 300,
                         "every checkpoint past the records added during the outage")
        harness.wait_for(lambda: len(sng.lines()) >= len(expected) or None, 60, "syslog-ng")
        self.assertEqual(fw.stop(signal.SIGTERM), 0)
        self.assertEqual(harness.check_cef_delivery(sng.settle(), expected)[:20], [])
        events = hec.settle(len(expected))
        self.assertEqual(hec_harness.check_hec_delivery(events, expected, self.emu,
                                                        at_least_once=True)[:20], [])
        repeats = collections.Counter()
        for key, n in collections.Counter(hec_harness.event_key(e) for e in events).items():
            repeats[key[:2]] += n - 1
        for job, n in repeats.items():
            self.assertLessEqual(n, PAGE, f"{job}: {n} HEC events repeated, more than a batch")


if __name__ == "__main__":
    unittest.main()
