"""Emulator -> defender-forwarder -> a real Apache Kafka broker (KRaft, 127.0.0.1), read back with
kcat: every record once with its key, headers and value, on the topic of its tenant and stream,
as JSON, (format = cef) as a CEF line whose externalId and tenant fields match, and (format =
leef) as a LEEF 2.0 line whose attributes carry the record; an unknown topic with auto-creation
off is a clear error and holds the checkpoint; a broker stop
and restart loses nothing (the checkpoint holds, then advances); kill -9 of the forwarder and a
restart lose nothing and duplicate at most one batch, identifiable by key."""

import collections
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import kafka_harness as kh  # noqa: E402
import leef_harness as lh  # noqa: E402

RECORDS = 40  # per tenant and stream: 3 x 3 x 40 = 360 records


def kafka_output(broker, **opts):
    return {"type": "kafka", "brokers": broker.bootstrap, **opts}


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")
        self.fw = None

    def tearDown(self):
        if self.fw is not None and self.fw.poll() is None:
            self.fw.kill()
            self.fw.wait()

    def config(self, output, **kw):
        fw = {"poll_interval": "1s", "max_retries": "2", **kw.pop("forwarder", {})}
        return harness.write_config(os.path.join(self.dir, "forwarder.conf"), self.emu,
                                    self.state, [("siem", output)], forwarder=fw, **kw)

    def log(self):
        with open(os.path.join(self.dir, "forwarder.log"), encoding="utf-8",
                  errors="replace") as f:
            return f.read()

    def start(self, conf):
        with open(os.path.join(self.dir, "forwarder.log"), "ab") as log:
            self.fw = subprocess.Popen([harness.BIN, "-c", conf, "run"], stdout=log, stderr=log)

    def stop(self):
        self.fw.send_signal(signal.SIGTERM)
        self.assertEqual(self.fw.wait(60), 0, self.log()[-3000:])

    def assert_every_record(self, messages, expected, max_duplicates=0):
        """Every expected record at least once (exactly once when max_duplicates is 0), with
        key = id, the headers and the record JSON as value. Returns the duplicate count."""
        seen = collections.Counter()
        for m in messages:
            key = kh.message_key(m)
            self.assertIn(key, expected, f"unexpected message {m['topic']} {m['key']}")
            rec = expected[key]
            seen[key] += 1
            self.assertEqual(json.loads(m["value"]), rec, key)
            tenant, stream, _ = key
            self.assertEqual(m["topic"], f"dfw.{tenant}.{stream}")
            self.assertEqual(m["headers"]["kind"], "new")
            self.assertEqual(m["headers"]["last_update"], rec[kh.UPDATED_FIELD[stream]], key)
        missing = [k for k in expected if k not in seen]
        self.assertEqual(missing[:5], [], f"{len(missing)} of {len(expected)} never arrived")
        duplicates = sum(n - 1 for n in seen.values())
        self.assertLessEqual(duplicates, max_duplicates,
                             [k for k, n in seen.items() if n > 1][:5])
        return duplicates


class KafkaDelivery(Base):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-kafka-")
        cls.emu = harness.Emulator(cls.work.path, tenants=3, records=RECORDS,
                                   args=("--no-rate-limit",))
        cls.broker = kh.KafkaBroker(cls.work.path)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.emu.stop()
        cls.work.cleanup()

    def test_every_record_once_with_key_headers_and_topic(self):
        expected = kh.expected_records(self.emu)
        conf = self.config(kafka_output(self.broker, topic="dfw.{tenant}.{stream}"))
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-3000:])
        summary = kh.parse_summary(r.stdout)
        self.assertEqual(int(summary["delivered"]), len(expected), summary)
        want_topics = sorted(f"dfw.{t['name']}.{s}" for t in self.emu.tenants for s in kh.STREAMS)
        self.assertEqual([t for t in self.broker.topics() if t.startswith("dfw.")], want_topics)
        self.assert_every_record(self.broker.consume_all("dfw."), expected)
        for t in self.emu.tenants:
            for s in kh.STREAMS:
                self.assertEqual(kh.checkpoint(self.state, t["name"], s)["delivered"], RECORDS)

    def test_graph_incidents_one_message_per_incident(self):
        """graph-incidents: one message per incident keyed by its id, the expanded alerts inside
        the JSON value, the headers of every stream (kind new on a first read)."""
        expected = kh.expected_records(self.emu, streams=("graph-incidents",))
        conf = self.config(kafka_output(self.broker, topic="dfw.{tenant}.{stream}"),
                           streams="graph-incidents")
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-3000:])
        self.assertEqual(int(kh.parse_summary(r.stdout)["delivered"]), len(expected))
        messages = [m for m in self.broker.consume_all("dfw.")
                    if m["headers"].get("stream") == "graph-incidents"]
        self.assert_every_record(messages, expected)
        self.assertEqual(sum(len(json.loads(m["value"])["alerts"]) for m in messages),
                         sum(len(r["alerts"]) for r in expected.values()))

    def run_text_format(self, fmt, check):
        """Run --once with format = fmt into topics fmt.{tenant}.{stream}; every record exactly
        once, with key, topic and headers as with JSON; check(message, key, record) gives the
        problems of its value. Returns nothing; fails on any problem."""
        expected = kh.expected_records(self.emu)
        conf = self.config(kafka_output(self.broker, topic=fmt + ".{tenant}.{stream}",
                                        format=fmt))
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-3000:])
        seen = collections.Counter()
        problems = []
        for m in self.broker.consume_all(fmt + "."):
            key = kh.message_key(m)
            self.assertIn(key, expected, f"unexpected message {m['topic']} {m['key']}")
            seen[key] += 1
            tenant, stream, _ = key
            self.assertNotIn("\n", m["value"])
            self.assertEqual(m["topic"], f"{fmt}.{tenant}.{stream}")
            self.assertEqual(m["headers"]["kind"], "new")
            self.assertEqual(m["headers"]["last_update"],
                             expected[key][kh.UPDATED_FIELD[stream]], key)
            problems += check(m, key, expected[key])
        self.assertEqual(problems[:10], [])
        missing = [k for k in expected if k not in seen]
        self.assertEqual(missing[:5], [], f"{len(missing)} of {len(expected)} never arrived")
        self.assertEqual([k for k, n in seen.items() if n > 1][:5], [])

    def test_cef_values_carry_the_record_id_and_tenant(self):
        """format = cef: the value is the CEF line (no syslog header) of the record; key and
        headers are the same as with JSON."""
        tenant_ids = {t["name"]: t["tenant_id"] for t in self.emu.tenants}

        def check(m, key, rec):
            tenant, stream, rid = key
            self.assertTrue(m["value"].startswith("CEF:0|Microsoft|"), m["value"][:120])
            header, ext = harness.parse_cef(m["value"])
            self.assertEqual(ext.get("externalId"), rid, m["value"][:300])
            self.assertEqual(ext.get("cs2Label"), "tenant")
            self.assertEqual(ext.get("cs2"), tenant)
            self.assertEqual(ext.get("cs3Label"), "tenantId")
            self.assertEqual(ext.get("cs3"), tenant_ids[tenant])
            self.assertNotIn("cn3Label", ext)  # no size limit: never truncated
            return harness.check_cef_event(header, ext, tenant, stream, rec, "new")

        self.run_text_format("cef", check)

    def test_leef_values_carry_the_record(self):
        """format = leef: the value is the LEEF 2.0 line (no syslog header, never shortened) of
        the record, read strictly; key and headers are the same as with JSON."""
        def check(m, key, rec):
            tenant, stream, rid = key
            header, attrs, problems = lh.parse_leef(m["value"])
            self.assertEqual(attrs.get("externalId"), rid, m["value"][:300])
            self.assertNotIn("truncated", attrs)  # no size limit: never shortened
            return problems + lh.check_event(header, attrs, tenant, stream, rec, "new")

        self.run_text_format("leef", check)

    def test_unknown_topic_with_auto_create_off_holds_the_checkpoint(self):
        conf = self.config(kafka_output(self.broker, topic="missing.{stream}",
                                        delivery_timeout="5s",
                                        **{"kafka.allow.auto.create.topics": "false",
                                           "kafka.topic.metadata.propagation.max.ms": "1000"}),
                           tenants=[self.emu.tenants[0]["name"]], streams="mde-alerts",
                           forwarder={"max_retries": "1"})
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stderr, r"output=siem .*does not exist")
        self.assertIsNone(kh.checkpoint(self.state, self.emu.tenants[0]["name"], "mde-alerts"))
        self.assertNotIn("missing.mde-alerts", self.broker.topics())


class KafkaFaults(Base):
    """Each test has its own tenant set and topics on one broker that a test may stop."""

    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-kafka-faults-")
        cls.emu = harness.Emulator(cls.work.path, tenants=2, records=30,
                                   args=("--no-rate-limit",))
        cls.broker = kh.KafkaBroker(cls.work.path)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()
        cls.emu.stop()
        cls.work.cleanup()

    def test_broker_stop_and_restart_loses_nothing(self):
        names = [t["name"] for t in self.emu.tenants]
        before = kh.expected_records(self.emu)
        self.start(self.config(kafka_output(self.broker, topic="dfw.{tenant}.{stream}")))
        harness.wait_for(lambda: kh.delivered(self.state, names) == len(before), 120,
                         "the first records to be delivered")
        self.broker.stop()
        for t in names:
            for s in kh.STREAMS:
                self.emu.control("records", {"tenant": t, "stream": s, "count": 5})
        after = kh.expected_records(self.emu)
        # fetched but not deliverable: the checkpoints hold
        harness.wait_for(lambda: "all brokers down" in self.log(), 60, "the broker-down error")
        time.sleep(4)
        self.assertEqual(kh.delivered(self.state, names), len(before))
        self.broker.start()
        harness.wait_for(lambda: kh.delivered(self.state, names) == len(after), 180,
                         "the held records to be delivered after the restart")
        self.stop()
        self.assert_every_record(self.broker.consume_all("dfw."), after,
                                 max_duplicates=len(after) - len(before))
        self.assertIn("output=siem", self.log())

    def test_kill9_mid_run_then_restart_loses_nothing(self):
        tenant = self.emu.tenants[0]["name"]
        for _ in range(4):
            self.emu.control("records", {"tenant": tenant, "stream": "graph-alerts",
                                         "count": 100})
        expected = kh.expected_records(self.emu, tenants=[tenant], streams=("graph-alerts",))
        page = 50
        self.emu.control("faults", {"slow_ms": 150})
        try:
            conf = self.config(kafka_output(self.broker, topic="k9.{tenant}.{stream}",
                                            **{"kafka.linger.ms": "100"}),
                               tenants=[tenant], streams="graph-alerts",
                               forwarder={"page_size": str(page)})
            self.start(conf)
            harness.wait_for(lambda: kh.delivered(self.state, [tenant], ["graph-alerts"]) >=
                             2 * page, 120, "a few batches to be delivered")
            self.fw.send_signal(signal.SIGKILL)
            self.fw.wait(30)
        finally:
            self.emu.control("reset-faults", {})
        held = kh.delivered(self.state, [tenant], ["graph-alerts"])
        self.assertLess(held, len(expected), "the run finished before the kill")
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-3000:])
        msgs = [dict(m, topic=m["topic"].replace("k9.", "dfw.", 1))
                for m in self.broker.consume_all("k9.")]
        # at most the batch in flight at the kill is sent again, and its copies carry the id key
        self.assert_every_record(msgs, expected, max_duplicates=page)


if __name__ == "__main__":
    unittest.main()
