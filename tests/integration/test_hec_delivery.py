"""The Splunk HEC output against a third-party HEC receiver: the OpenTelemetry Collector's
splunk_hec receiver with its indexer-acknowledgement extension, writing what it receives with the
file exporter (built from the Go module proxy once, then cached: hec_harness.collector_binary)."""

import collections
import os
import signal
import unittest

import harness
import hec_harness as hh


class HecDeliveryTest(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir("dfw-hec-")
        self.emu = self.col = self.fwd = None

    def tearDown(self):
        if self.fwd:
            self.fwd.cleanup()
        if self.col:
            self.col.stop()
        if self.emu:
            self.emu.stop()
        self.work.cleanup()

    def config(self, outputs, name="fwd.conf", **forwarder):
        self.state = os.path.join(self.work.path, "state")
        return harness.write_config(os.path.join(self.work.path, name), self.emu, self.state,
                                    outputs, forwarder=forwarder or None,
                                    streams=getattr(self, "streams", None))

    def test_a_receiver_whose_certificate_is_not_trusted_gets_nothing(self):
        """TLS verification stays on with the CAs loaded once: HEC's certificate from a CA that
        is neither in the system store (no ca_file) nor the ca_file given (another CA's) fails
        the run with the reason, delivers nothing and moves no checkpoint; with its CA it
        delivers."""
        self.emu = harness.Emulator(self.work.path, tenants=1, records=5)
        self.col = hh.Collector(self.work.path, tls=True)
        token = hh.write_token(self.work.path)
        for ca in (None, self.emu.ca_file):
            out = hh.hec_output(self.col.url, token, ca, max_retries=1, retry_min_ms=100,
                                retry_max_ms=200)
            conf = self.config([("splunk", out)], max_retries=1)
            r = harness.run_forwarder(conf, "run", "--once", timeout=120)
            self.assertEqual(r.returncode, 1, r.stderr[-3000:])
            self.assertIn("HEC request failed", r.stderr)
            self.assertRegex(r.stderr, r"(?i)certificate")
            self.assertEqual(harness.parse_summary(r.stdout)["delivered"], "0")
            self.assertIsNone(harness.checkpoint(self.state, "contoso", "mde-alerts"))
            self.assertEqual(self.col.count(), 0)
        out = hh.hec_output(self.col.url, token, self.col.ca_file)
        r = harness.run_forwarder(self.config([("splunk", out)]), "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        expected = harness.expected_records(self.emu)
        self.assertEqual(len(self.col.settle(len(expected))), len(expected))

    def test_every_record_once_over_tls_with_acks(self):
        """gzip + indexer acknowledgement over TLS: every record exactly once with its last-update
        time, the add-on sourcetype, tenant/stream fields; the checkpoint covers what was acked
        and a second run sends nothing."""
        self.emu = harness.Emulator(self.work.path, tenants=2, records=15)
        self.col = hh.Collector(self.work.path, tls=True)
        token = hh.write_token(self.work.path)
        out = hh.hec_output(self.col.url, token, self.col.ca_file, host="fwd1.example.com",
                            batch_max_events=7, ack_poll_interval_ms=100)
        conf = self.config([("splunk", out)])
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        summary = harness.parse_summary(r.stdout)
        self.assertEqual(summary["failed"], "0")
        self.assertEqual(summary["delivered"], "90")
        expected = harness.expected_records(self.emu)
        events = self.col.settle(len(expected))
        problems = hh.check_hec_delivery(events, expected, self.emu, host="fwd1.example.com")
        self.assertEqual(problems, [], "\n".join(problems[:20]))
        self.assertNotIn(hh.TOKEN, r.stderr + r.stdout)
        state = harness.state_show(conf)
        for t in ("contoso", "fabrikam"):
            for s in harness.STREAMS:
                self.assertEqual(state[(t, s)]["delivered"], 15, state)
        # nothing new: a second run delivers nothing and the receiver gets nothing more
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(harness.parse_summary(r.stdout)["delivered"], "0")
        self.assertEqual(len(self.col.settle(len(expected))), len(expected))

    def test_plain_body_without_acks(self):
        """gzip = off and ack = off: HTTP 200 is the acknowledgement."""
        self.streams = "mde-alerts, graph-alerts"
        self.emu = harness.Emulator(self.work.path, tenants=1, records=12)
        self.col = hh.Collector(self.work.path, tls=False)
        token = hh.write_token(self.work.path)
        out = hh.hec_output(self.col.url, token, gzip="off", ack="off", index="main",
                            batch_max_bytes="8k")
        conf = self.config([("splunk", out)])
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        expected = harness.expected_records(self.emu, streams=("mde-alerts", "graph-alerts"))
        problems = hh.check_hec_delivery(self.col.settle(len(expected)), expected, self.emu,
                                         index="main")
        self.assertEqual(problems, [], "\n".join(problems[:20]))

    def test_last_request_of_a_page_does_not_wait_when_nothing_can_join_it(self):
        """One tenant and stream in pages of 4 with batch_timeout_ms at its maximum (60 s): the
        request that ends a page goes out as soon as no job reads a page, since no other batch can
        join it before it is acknowledged. Were it held for batch_timeout_ms, each of the five or more
        pages would wait a minute and the run would not end within its timeout."""
        self.streams = "mde-alerts"
        self.emu = harness.Emulator(self.work.path, tenants=1, records=20)
        self.col = hh.Collector(self.work.path, tls=False)
        token = hh.write_token(self.work.path)
        out = hh.hec_output(self.col.url, token, gzip="off", ack="off", batch_timeout_ms=60000)
        conf = self.config([("splunk", out)], page_size=4)
        r = harness.run_forwarder(conf, "run", "--once", timeout=150)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        summary = harness.parse_summary(r.stdout)
        self.assertEqual(summary["delivered"], "20")
        self.assertGreaterEqual(int(summary["api_calls"]), 5)
        expected = harness.expected_records(self.emu, streams=("mde-alerts",))
        problems = hh.check_hec_delivery(self.col.settle(len(expected)), expected, self.emu)
        self.assertEqual(problems, [], "\n".join(problems[:20]))

    def test_graph_incidents_split_into_incident_and_alert_events(self):
        """graph-incidents as the Splunk add-on indexes incidents: the incident without its alerts
        as ms365:defender:incident and each expanded alert as ms365:defender:incident:alerts with
        the incident id, checked at the receiver. An update of an incident delivered moments
        before sends the incident and the one alert that changed; an update of an incident whose
        previous version is no longer remembered (older than overlap) sends all its alerts, as
        updates; split_alerts = no sends one event per incident."""
        self.streams = "graph-incidents"
        self.emu = harness.Emulator(self.work.path, tenants=1, records=30,
                                    args=["--streams", "graph-incidents", "--no-rate-limit"])
        tenant = self.emu.tenants[0]["name"]
        incidents = self.emu.records(tenant, "graph-incidents")
        multi = [r["id"] for r in incidents if len(r["alerts"]) >= 2]
        self.assertGreaterEqual(len(multi), 2, "the test needs incidents with several alerts")
        recent, old = multi[0], multi[1]
        # recent: updated now, so its version is remembered (overlap 5m) when it changes again
        self.emu.control("update", {"tenant": tenant, "stream": "graph-incidents",
                                    "ids": [recent]})
        self.col = hh.Collector(self.work.path, tls=True)
        token = hh.write_token(self.work.path)
        out = hh.hec_output(self.col.url, token, self.col.ca_file, ack_poll_interval_ms=100)
        conf = self.config([("splunk", out)])
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        incidents = {i["id"]: i for i in self.emu.records(tenant, "graph-incidents")}
        alerts = {a["id"]: (i["id"], a) for i in incidents.values() for a in i["alerts"]}
        events = self.col.settle(len(incidents) + len(alerts))
        by_type = collections.defaultdict(list)
        for ev in events:
            by_type[ev["sourcetype"]].append(ev)
        self.assertEqual(sorted(by_type), ["ms365:defender:incident",
                                           "ms365:defender:incident:alerts"])
        got = collections.Counter(ev["event"]["id"] for ev in by_type["ms365:defender:incident"])
        self.assertEqual(got, collections.Counter(list(incidents)))
        for ev in by_type["ms365:defender:incident"]:
            want = dict(incidents[ev["event"]["id"]])
            del want["alerts"]
            self.assertEqual(ev["event"], want)
            self.assertEqual(ev["fields"]["stream"], "graph-incidents")
            self.assertNotIn("incident_id", ev["fields"])
        got = collections.Counter(ev["event"]["id"] for ev in
                                  by_type["ms365:defender:incident:alerts"])
        self.assertEqual(got, collections.Counter(list(alerts)))
        for ev in by_type["ms365:defender:incident:alerts"]:
            incident_id, alert = alerts[ev["event"]["id"]]
            self.assertEqual(ev["event"], alert)
            self.assertEqual(ev["fields"]["incident_id"], incident_id)
            self.assertEqual(ev["event"]["incidentId"], incident_id)
            self.assertEqual(round(ev["time_ns"] / 1e6), harness.iso_ms(alert["lastUpdateDateTime"]))
            self.assertEqual(ev["fields"]["kind"], "new")

        # the two updates: one alert of "recent" changes (its first update changed alert 0, this
        # one changes alert 1); "old" was last delivered hours ago
        before = len(events)
        for rid in (recent, old):
            self.emu.control("update", {"tenant": tenant, "stream": "graph-incidents",
                                        "ids": [rid]})
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        now = {i["id"]: i for i in self.emu.records(tenant, "graph-incidents")}
        changed = [a["id"] for a in now[recent]["alerts"]
                   if a["lastUpdateDateTime"] != {x["id"]: x for x in
                                                  incidents[recent]["alerts"]}[a["id"]][
                                                      "lastUpdateDateTime"]]
        self.assertEqual(len(changed), 1)
        want = 2 + 1 + len(now[old]["alerts"])
        events = self.col.settle(before + want)
        self.assertEqual(len(events), before + want)
        second = events[before:]
        got = collections.Counter((ev["sourcetype"], ev["fields"].get("incident_id"),
                                   ev["event"]["id"], ev["fields"]["kind"]) for ev in second)
        alert_type = "ms365:defender:incident:alerts"
        want = collections.Counter([("ms365:defender:incident", None, recent, "update"),
                                    ("ms365:defender:incident", None, old, "update"),
                                    (alert_type, recent, changed[0], "update")] +
                                   [(alert_type, old, a["id"], "update")
                                    for a in now[old]["alerts"]])
        self.assertEqual(got, want)

        # split_alerts = no: one event per incident, the record unchanged
        self.col.stop()
        self.col = hh.Collector(self.work.path, tls=True, name="otelcol2")
        out = hh.hec_output(self.col.url, token, self.col.ca_file, ack_poll_interval_ms=100,
                            split_alerts="no")
        self.state = os.path.join(self.work.path, "state-whole")
        conf = harness.write_config(os.path.join(self.work.path, "whole.conf"), self.emu,
                                    self.state, [("splunk", out)], streams="graph-incidents")
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        expected = harness.expected_records(self.emu, streams=("graph-incidents",))
        problems = hh.check_hec_delivery(self.col.settle(len(expected)), expected, self.emu)
        self.assertEqual(problems, [], "\n".join(problems[:20]))

    def test_kill_during_push_then_rerun_loses_nothing(self):
        """kill -9 while pages are being pushed, then run --once: every record arrives at least
        once; repeats are limited to what was not acknowledged when the process died."""
        self.streams = "mde-alerts"
        page = 50
        self.emu = harness.Emulator(self.work.path, tenants=1, records=1200,
                                    args=["--streams", "mde-alerts", "--no-rate-limit"])
        self.col = hh.Collector(self.work.path, tls=True)
        token = hh.write_token(self.work.path)
        out = hh.hec_output(self.col.url, token, self.col.ca_file, batch_max_events=20,
                            ack_poll_interval_ms=250)
        conf = self.config([("splunk", out)], page_size=page)
        self.fwd = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "fwd.log"))
        harness.wait_for(lambda: len(self.col.events()) >= 300, 120, "300 events at the receiver")
        self.assertIsNone(self.fwd.proc.poll(), "the forwarder ended before the kill")
        self.fwd.stop(signal.SIGKILL)
        before = len(self.col.events())
        self.assertLess(before, 1200, "the push finished before the kill; nothing was tested")
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        expected = harness.expected_records(self.emu, streams=("mde-alerts",))
        events = self.col.settle(len(expected), timeout=60)
        problems = hh.check_hec_delivery(events, expected, self.emu, at_least_once=True)
        self.assertEqual(problems, [], "\n".join(problems[:20]))
        repeats = sum(n - 1 for n in collections.Counter(map(hh.event_key, events)).values())
        # at most the pages in flight at the kill (one job: one page) come again, plus the
        # overlap window's records with an unchanged last-update time (deduplicated)
        self.assertLessEqual(repeats, 2 * page, f"{repeats} repeats")


if __name__ == "__main__":
    unittest.main()
