"""The Splunk HEC output against our fault endpoint (hec/fault_hec.py): 503/429 retries, 400 HEC
errors that must fail the run clearly, lost and slow indexer acknowledgements, back-pressure,
and the exit status of run --once when HEC is unreachable."""

import collections
import os
import signal
import time
import unittest

import harness
import hec_harness as hh

STREAM = "mde-alerts"


class HecFaultTest(hh.FaultHecCase):
    PREFIX = "dfw-hecfault-"
    STREAM = STREAM

    def config(self, tenants=("contoso",), forwarder=None, **opts):
        out = hh.hec_output(opts.pop("url", self.hec.url), self.token, ack_poll_interval_ms=100,
                            retry_min_ms=100, retry_max_ms=1000, **opts)
        return harness.write_config(os.path.join(self.work.path, "fwd.conf"), self.emu,
                                    self.state, [("splunk", out)], tenants=tenants,
                                    streams=STREAM, forwarder=forwarder)

    def expected(self, tenants=("contoso",)):
        return harness.expected_records(self.emu, tenants=tenants, streams=(STREAM,))

    def received(self):
        return hh.fault_events_as_collector(self.hec.events())

    def check_all_once(self, tenants=("contoso",)):
        problems = hh.check_hec_delivery(self.received(), self.expected(tenants), self.emu,
                                         time_key="time")
        self.assertEqual(problems, [], "\n".join(problems[:20]))

    def test_busy_and_throttled_are_retried(self):
        self.hec.set(statuses=[[503, 9], [503, 9], [429, 0], [500, 8]], retry_after=1)
        r = harness.run_forwarder(self.config(), "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.check_all_once()
        answers = self.hec.stats()["answers"]
        self.assertEqual(answers.get("503/9"), 2)
        self.assertEqual(answers.get("429/0"), 1)
        self.assertIn("HTTP 503 code 9 (Server is busy)", r.stderr)
        self.assertGreater(self.hec.stats()["gzip_requests"], 0)

    def test_invalid_token_fails_the_run_clearly(self):
        self.hec.set(token="another-token")
        r = harness.run_forwarder(self.config(forwarder={"max_retries": 1}), "run", "--once",
                                  timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("output=splunk", r.stderr)
        self.assertIn("HTTP 403 code 4 (Invalid token)", r.stderr)
        self.assertIn("check the HEC token", r.stderr)
        self.assertNotIn(hh.TOKEN, r.stderr + r.stdout)
        summary = harness.parse_summary(r.stdout)
        self.assertEqual(summary["delivered"], "0")
        self.assertEqual(summary["failed"], "1")
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM))
        self.assertEqual(self.hec.events(), [])

    def test_incorrect_index_fails_the_run_clearly(self):
        self.hec.set(indexes=["main"])
        r = harness.run_forwarder(self.config(forwarder={"max_retries": 1}), "run", "--once",
                                  timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("code 7 (Incorrect index)", r.stderr)
        self.assertIn("check index", r.stderr)
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM))
        # fixed: the next run delivers everything
        self.hec.set(indexes=None)
        r = harness.run_forwarder(self.config(), "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.check_all_once()

    def test_lost_acks_are_sent_again(self):
        self.hec.set(lose_acks=2)
        conf = self.config(batch_max_events=5, ack_timeout_ms=1000)
        r = harness.run_forwarder(conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("no indexer acknowledgement for ackId", r.stderr)
        events = self.received()
        problems = hh.check_hec_delivery(events, self.expected(), self.emu, time_key="time",
                                         at_least_once=True)
        self.assertEqual(problems, [], "\n".join(problems[:20]))
        counts = collections.Counter(map(hh.event_key, events))
        self.assertEqual(sorted(counts.values()).count(2), 10)  # the two lost requests, again
        self.assertEqual(harness.state_show(conf)[("contoso", STREAM)]["delivered"], 20)

    def test_slow_acks_hold_the_checkpoint(self):
        self.hec.set(hold_acks=True)
        conf = self.config()
        self.fwd = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "fwd.log"))
        harness.wait_for(lambda: len(self.hec.events()) >= 20, 60, "the events at HEC")
        harness.wait_for(lambda: self.hec.stats()["ack_queries"] >= 3, 30, "ack queries")
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM),
                          "checkpoint written before the indexer acknowledged")
        self.hec.set(hold_acks=False)
        harness.wait_for(lambda: harness.checkpoint(self.state, "contoso", STREAM), 30,
                         "the checkpoint once acks arrive")
        self.assertEqual(self.fwd.stop(signal.SIGTERM), 0, self.fwd.log()[-3000:])
        self.assertEqual(harness.state_show(conf)[("contoso", STREAM)]["delivered"], 20)
        self.check_all_once()

    def test_back_pressure_with_one_pending_request(self):
        self.hec.set(ack_delay=0.3)
        tenants = ("contoso", "fabrikam", "northwind")
        r = harness.run_forwarder(self.config(tenants=tenants, max_pending=1,
                                              batch_timeout_ms=0), "run", "--once", timeout=180)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.check_all_once(tenants)
        self.assertIn("cannot take the batch", r.stderr)  # DFW_ERR_BUSY reached the pipeline

    def test_unreachable_hec_exits_non_zero_with_summary(self):
        url = f"http://127.0.0.1:{harness.free_port()}"
        start = time.monotonic()
        r = harness.run_forwarder(self.config(url=url, max_retries=1,
                                              forwarder={"max_retries": 1}),
                                  "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertLess(time.monotonic() - start, 60)
        self.assertIn("HEC request failed", r.stderr)
        self.assertIn("stream(s) failed", r.stderr)
        self.assertEqual(harness.parse_summary(r.stdout)["failed"], "1")
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM))

    def test_a_failed_batch_is_taken_back_from_hec_unread(self):
        """HEC renders a batch request by request; when the job gives the batch up (another
        output refuses it for good), HEC lets go of the events not rendered yet (they are freed:
        AddressSanitizer runs this too) and never acknowledges it; the next run delivers all.
        The first request's ack comes a second later, while the run's end flushes the outputs:
        room for more requests, but nothing left to render them from."""
        self.hec.set(ack_delay=1.0)
        good = hh.hec_output(self.hec.url, self.token, ack_poll_interval_ms=100,
                             batch_max_events=2, max_pending=1, batch_timeout_ms=0)
        bad_token = os.path.join(self.work.path, "bad.token")
        with open(bad_token, "w") as f:
            f.write("another-token\n")
        os.chmod(bad_token, 0o600)
        bad = hh.hec_output(self.hec.url, bad_token, batch_timeout_ms=0)
        conf = harness.write_config(os.path.join(self.work.path, "two.conf"), self.emu, self.state,
                                    [("good", good), ("bad", bad)], tenants=("contoso",),
                                    streams=STREAM, forwarder={"max_retries": 1})
        r = harness.run_forwarder(conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("output=bad", r.stderr)
        self.assertIn("HTTP 403 code 4 (Invalid token)", r.stderr)
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM))
        # one request of two events went out before the batch was given up; no more were made
        self.assertEqual(len(self.hec.events()), 2)
        self.assertEqual(self.hec.stats()["pending_acks"], 0)  # its ack was read by the flush
        self.hec.set(ack_delay=0.0)
        r = harness.run_forwarder(self.config(), "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(harness.state_show(conf)[("contoso", STREAM)]["delivered"], 20)


if __name__ == "__main__":
    unittest.main()
