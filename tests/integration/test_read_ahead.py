"""Read-ahead (read_ahead, on by default): while a batch waits for its acknowledgement, the request
for the stream's next slice is already sent; the checkpoint still moves only with the
acknowledgements, and nothing is lost when an answer read ahead is an error or is dropped at stop.
The output is our HEC fault endpoint (hec/fault_hec.py), whose indexer acknowledgements the test
holds back; the API is the emulator, whose request counters show what was asked and when."""

import os
import signal
import unittest

import harness
import hec_harness as hh

STREAM = "mde-alerts"
RECORDS = 60
PAGE = 10  # several slices: the window planner splits the first full page


class ReadAheadTest(hh.FaultHecCase):
    PREFIX = "dfw-readahead-"
    TENANTS = 1
    RECORDS = RECORDS
    STREAM = STREAM

    def config(self, read_ahead=None, **hec):
        out = hh.hec_output(self.hec.url, self.token, ack_poll_interval_ms=100, retry_min_ms=100,
                            retry_max_ms=1000, batch_timeout_ms=0, **hec)
        return harness.write_config(os.path.join(self.work.path, "fwd.conf"), self.emu,
                                    self.state, [("splunk", out)], tenants=("contoso",),
                                    streams=STREAM,
                                    forwarder={"page_size": PAGE, "read_ahead": read_ahead})

    def api_requests(self):
        return self.emu.control("stats")["requests"].get(STREAM, {}).get("contoso", 0)

    def start(self, conf):
        self.fwd = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "fwd.log"))

    def first_batch_held(self):
        """The first batch is at HEC and its acknowledgement is being asked for, held back."""
        harness.wait_for(lambda: len(self.hec.events()) >= PAGE, 60, "the first batch at HEC")
        harness.wait_for(lambda: self.hec.stats()["ack_queries"] >= 3, 30, "ack queries")

    def check_all(self, at_least_once=False):
        events = hh.fault_events_as_collector(self.hec.events())
        problems = hh.check_hec_delivery(
            events, harness.expected_records(self.emu, tenants=("contoso",), streams=(STREAM,)),
            self.emu, time_key="time", at_least_once=at_least_once)
        self.assertEqual(problems, [], "\n".join(problems[:20]))

    def release_and_finish(self, conf):
        self.hec.set(hold_acks=False)
        harness.wait_for(
            lambda: (harness.checkpoint(self.state, "contoso", STREAM) or {}).get("delivered")
            == RECORDS, 60, "every record acknowledged and checkpointed")
        self.assertEqual(self.fwd.stop(signal.SIGTERM), 0, self.fwd.log()[-3000:])
        self.assertEqual(harness.state_show(conf)[("contoso", STREAM)]["delivered"], RECORDS)

    def test_next_slice_is_fetched_while_the_batch_waits_for_its_ack(self):
        self.hec.set(hold_acks=True)
        conf = self.config()  # the default: read_ahead = yes
        self.start(conf)
        self.first_batch_held()
        harness.wait_for(lambda: self.api_requests() >= 2, 30,
                         "the next slice's request while the first batch is unacknowledged")
        self.assertEqual(self.api_requests(), 2, "more than one page read ahead")
        self.assertEqual(len(self.hec.events()), PAGE, "the page read ahead was delivered early")
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM),
                          "checkpoint written before the indexer acknowledged")
        self.release_and_finish(conf)
        self.check_all()

    def test_without_read_ahead_the_next_request_waits_for_the_ack(self):
        self.hec.set(hold_acks=True)
        conf = self.config(read_ahead="no")
        self.start(conf)
        self.first_batch_held()
        self.assertEqual(self.api_requests(), 1)
        self.release_and_finish(conf)
        self.check_all()

    def test_an_error_answer_read_ahead_is_retried(self):
        self.hec.set(hold_acks=True)
        conf = self.config()
        self.start(conf)
        self.first_batch_held()
        harness.wait_for(lambda: self.api_requests() >= 2, 30, "the first page read ahead")
        # the next requests (read ahead while the second batch waits, or sent after it) fail
        self.emu.control("faults", {"status_5xx": {"count": 2, "status": 503}})
        self.release_and_finish(conf)
        self.check_all()
        self.assertIn("status=503", self.fwd.log())

    def test_a_batch_failing_after_its_page_was_given_back_is_read_again(self):
        # HEC holds every event of a page in its requests, so the page is freed and the next one
        # read ahead before the acknowledgement; the output gives the first request up at once
        # (max_retries = 0): the pipeline has no page to send again and reads the slice again
        self.hec.set(statuses=[[503, 9]])
        conf = self.config(max_retries=0)
        r = harness.run_forwarder(conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertIn("giving up on request after 1 attempts", r.stderr)
        self.assertIn("its page was given back; reading the slice again", r.stderr)
        self.assertEqual(harness.state_show(conf)[("contoso", STREAM)]["delivered"], RECORDS)
        self.check_all()  # the refused request was not recorded: every record once

    def test_stop_with_a_page_read_ahead_loses_nothing(self):
        self.hec.set(hold_acks=True)
        conf = self.config()
        self.start(conf)
        self.first_batch_held()
        harness.wait_for(lambda: self.api_requests() >= 2, 30, "a page read ahead")
        # the acknowledgement never comes: the stop grace ends the run, nothing is committed
        self.assertEqual(self.fwd.stop(signal.SIGTERM), 0, self.fwd.log()[-3000:])
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM))
        self.hec.set(hold_acks=False)
        r = harness.run_forwarder(conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(harness.state_show(conf)[("contoso", STREAM)]["delivered"], RECORDS)
        self.check_all(at_least_once=True)  # the first batch was at HEC twice


if __name__ == "__main__":
    unittest.main()
