"""Emulator -> defender-forwarder `run --once` (format = leef) -> a real syslog-ng on 127.0.0.1
that takes each LEEF 2.0 message apart (header, then the attributes split on the TAB the header
names): every record of 3 tenants x 3 streams arrives exactly once, its attributes parse back to
the record's values under QRadar's keys, no alert text adds an attribute, and over UDP every
message fits max_message_size with the identity of the event kept."""

import collections
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import leef_harness as lh  # noqa: E402

RECORDS = 40  # per tenant and stream: 3 x 3 x 40 = 360 messages per run


class LeefDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-leef-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=3, records=RECORDS,
                                   args=("--no-rate-limit",))
        cls.addClassCleanup(cls.emu.stop)
        cls.expected = harness.expected_records(cls.emu)

    def setUp(self):
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")

    def deliver(self, transport, output):
        """Run --once into a syslog-ng with the LEEF parser; the parsed messages."""
        sng = harness.SyslogNg(self.dir, transport=transport, parser=lh.SYSLOG_NG_PARSER,
                               template=lh.SYSLOG_NG_TEMPLATE)
        self.addCleanup(sng.stop)
        conf = harness.write_config(
            os.path.join(self.dir, "forwarder.conf"), self.emu, self.state,
            [("qradar", {"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                         "transport": transport, "format": "leef", **output})],
            forwarder={"poll_interval": "1s"})
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, f"run --once failed:\n{r.stdout}\n{r.stderr}")
        summary = harness.parse_summary(r.stdout)
        self.assertEqual(int(summary["delivered"]), len(self.expected), summary)
        harness.wait_for(lambda: len(sng.lines()) >= len(self.expected) or None, 60,
                         "syslog-ng to receive every message")
        lines = sng.settle()
        self.assertEqual(len(lines), len(self.expected), sng.out)
        return [lh.from_syslog_ng(l) for l in lines], sng

    def check_all(self, messages):
        """Every record exactly once, each message carrying its record. Returns the messages
        by (tenant, stream, id)."""
        seen, problems, by_key = collections.Counter(), [], {}
        for header, attrs, msg, program, parse_problems in messages:
            problems += parse_problems
            self.assertEqual(program, harness.PROGRAM)
            self.assertTrue(msg.startswith("LEEF:2.0|Microsoft|"), msg[:100])
            key = (attrs.get("tenant"), harness.PRODUCT_STREAM.get(header["product"]),
                   attrs.get("externalId"))
            seen[key] += 1
            rec = self.expected.get(key)
            if rec is None:
                problems.append(f"unexpected message {key}: {msg[:200]!r}")
                continue
            by_key[key] = (header, attrs, msg)
            problems += lh.check_event(header, attrs, key[0], key[1], rec, "new")
        problems += [f"{k} received {n} times" for k, n in seen.items() if n > 1]
        missing = [k for k in self.expected if k not in seen]
        if missing:
            problems.append(f"{len(missing)} records never arrived, e.g. {sorted(missing)[:3]}")
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s)")
        return by_key

    def test_tcp_every_attribute_parses_back(self):
        messages, _ = self.deliver("tcp", {"protocol": "rfc5424"})
        by_key = self.check_all(messages)
        # the sample title with '|', '=' and '\' is one attribute: no "tag" key, the title whole
        tricky = [a for _, a, _ in by_key.values() if "tag=evil" in a.get("title", "")]
        self.assertTrue(tricky, "no record with the tricky sample title: the test proves nothing")
        for attrs in tricky:
            self.assertTrue(attrs["title"].startswith(
                "Suspicious file dropped | tag=evil \\ C:\\Temp\\x.dll"), attrs["title"])
            self.assertNotIn("tag", attrs)
        # QRadar's predefined keys carry the values of the documented mapping
        keys = collections.Counter(k for _, a, _ in by_key.values() for k in a)
        for key in ("devTime", "devTimeFormat", "sev", "cat", "identHostName", "usrName", "src",
                    "resource"):
            self.assertGreater(keys[key], 0, f"no message carries {key}: {keys}")
        for (tenant, stream, rid), (header, attrs, _) in by_key.items():
            rec = self.expected[(tenant, stream, rid)]
            if stream == "mde-alerts" and rec.get("computerDnsName"):
                self.assertEqual(attrs.get("identHostName"), rec["computerDnsName"])
            if stream == "mde-alerts" and rec.get("category"):
                self.assertEqual(attrs.get("cat"), rec["category"])

    def test_udp_messages_fit_and_keep_the_event_identity(self):
        messages, sng = self.deliver("udp", {"max_message_size": "1024"})
        by_key = self.check_all(messages)
        truncated = 0
        for (tenant, stream, rid), (header, attrs, msg) in by_key.items():
            self.assertLessEqual(len(msg.encode()), 1024, msg[:100])
            truncated += attrs.get("truncated") == "1"
        self.assertGreater(truncated, 0, "no message needed shortening: the test proves nothing")


if __name__ == "__main__":
    unittest.main()
