"""Emulator -> defender-forwarder `run --once` -> a real syslog-ng on 127.0.0.1: every record of
3 tenants x 3 streams arrives exactly once as a valid CEF (or JSON) message, over TCP (octet
counting and non-transparent framing), UDP and TLS, with RFC 5424 and RFC 3164 headers; a TLS
receiver whose certificate the forwarder cannot verify gets nothing and the checkpoint holds."""

import collections
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RECORDS = 60  # per tenant and stream: 3 x 3 x 60 = 540 messages per run


class SyslogDelivery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-syslog-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=3, records=RECORDS,
                                   args=("--no-rate-limit",))
        cls.addClassCleanup(cls.emu.stop)
        cls.expected = harness.expected_records(cls.emu)
        cls.kinds = {k: "new" for k in cls.expected}  # a first read: every record is new
        cls.tls = harness.make_tls_cert(cls.work.path, "syslog")

    def setUp(self):
        self.sng = None
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")

    def tearDown(self):
        if self.sng:
            self.sng.stop()

    def config(self, output, forwarder=None):
        return harness.write_config(os.path.join(self.dir, "forwarder.conf"), self.emu,
                                    self.state, [("siem", output)],
                                    forwarder={"poll_interval": "1s", **(forwarder or {})})

    def run_once(self, conf):
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, f"run --once failed:\n{r.stdout}\n{r.stderr}")
        summary = harness.parse_summary(r.stdout)
        self.assertIsNotNone(summary, f"no summary line in {r.stdout!r}")
        self.assertEqual(summary["failed"], "0")
        self.assertEqual(int(summary["delivered"]), len(self.expected), summary)
        return summary

    def assert_checkpoints(self, conf, delivered):
        show = harness.state_show(conf)
        for t in self.emu.tenants:
            for stream in harness.STREAMS:
                row = show.get((t["name"], stream))
                self.assertIsNotNone(row, f"no checkpoint for {t['name']}/{stream}: {show}")
                self.assertEqual(row.get("delivered"), delivered, row)
                self.assertEqual(row.get("sweep"), "idle", row)

    def deliver_cef(self, sng, output, program=harness.PROGRAM):
        self.sng = sng
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": sng.port, **output})
        self.run_once(conf)
        lines = harness.wait_for(lambda: len(sng.lines()) >= len(self.expected) or None, 60,
                                 "syslog-ng to receive every message")
        lines = sng.settle()
        problems = harness.check_cef_delivery(lines, self.expected, self.kinds, program)
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s); see {sng.out}")
        self.assertEqual(len(lines), len(self.expected))
        self.assert_checkpoints(conf, RECORDS)
        return lines

    def test_tcp_octet_counting_rfc5424(self):
        sng = harness.SyslogNg(self.dir, transport="tcp")
        lines = self.deliver_cef(sng, {"transport": "tcp", "framing": "octet-counting",
                                       "protocol": "rfc5424", "format": "cef"})
        # the escaping of the sample titles (| = \ and line breaks) survived the whole way
        names = {harness.parse_cef(l)[0][5] for l in lines}
        self.assertIn("Suspicious file dropped | tag=evil \\ C:\\Temp\\x.dll", names)

    def test_tcp_non_transparent_framing(self):
        # syslog-ng's network() source reads one message per line
        sng = harness.SyslogNg(self.dir, transport="tcp", driver="network",
                               flags=("syslog-protocol",))
        self.deliver_cef(sng, {"transport": "tcp", "framing": "non-transparent",
                               "protocol": "rfc5424", "format": "cef"})

    def test_udp(self):
        sng = harness.SyslogNg(self.dir, transport="udp")
        lines = self.deliver_cef(sng, {"transport": "udp", "protocol": "rfc5424", "format": "cef",
                                       "max_message_size": "1024"})
        # every datagram fits max_message_size: long extensions were cut (and marked), never the
        # header nor the identifying fields (checked above for every message)
        truncated = 0
        for line in lines:
            msg = line[len(harness.PROGRAM) + 1:]
            self.assertLess(len(msg.encode()), 1024, msg[:100])
            ext = harness.parse_cef(msg)[1]
            if "cn3Label" in ext:
                truncated += 1
                self.assertEqual((ext["cn3Label"], ext.get("cn3")), ("truncated", "1"), msg)
        self.assertGreater(truncated, 0, "no message needed truncating: the test proves nothing")

    def test_tls(self):
        sng = harness.SyslogNg(self.dir, transport="tls", tls=self.tls)
        self.deliver_cef(sng, {"transport": "tls", "ca_file": self.tls["ca"],
                               "protocol": "rfc5424", "format": "cef"})

    def test_graph_incidents_cef_over_tls(self):
        """graph-incidents (Graph /v1.0/security/incidents with $expand=alerts): one CEF message
        per incident, its values picked from the incident and its alerts (docs/cef-mapping.md),
        syslog-ng reading every one exactly once."""
        sng = self.sng = harness.SyslogNg(self.dir, transport="tls", tls=self.tls)
        expected = harness.expected_records(self.emu, streams=("graph-incidents",))
        self.assertTrue(all(r["alerts"] for r in expected.values()))
        conf = harness.write_config(
            os.path.join(self.dir, "forwarder.conf"), self.emu, self.state,
            [("siem", {"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                       "transport": "tls", "ca_file": self.tls["ca"], "format": "cef"})],
            streams="graph-incidents")
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(int(harness.parse_summary(r.stdout)["delivered"]), len(expected))
        harness.wait_for(lambda: len(sng.lines()) >= len(expected) or None, 60,
                         "syslog-ng to receive every incident")
        lines = sng.settle()
        problems = harness.check_cef_delivery(lines, expected, {k: "new" for k in expected})
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s); see {sng.out}")
        # values of the expanded alerts: the first alert's category, the activity span of all
        for header, ext, _ in harness.parse_received(lines)[0]:
            rec = expected[harness.cef_event_key(header, ext)]
            self.assertEqual(ext.get("cat"), rec["alerts"][0]["category"])
            self.assertEqual(ext.get("start"), str(min(
                harness.iso_ms(a["firstActivityDateTime"]) for a in rec["alerts"])))
            self.assertEqual(ext.get("end"), str(max(
                harness.iso_ms(a["lastActivityDateTime"]) for a in rec["alerts"])))

    def test_tcp_rfc3164(self):
        # syslog-ng takes PROGRAM from the RFC 3164 TAG: every line starting with "dfw3164 CEF:"
        # shows each header was parsed as RFC 3164
        sng = harness.SyslogNg(self.dir, transport="tcp")
        self.deliver_cef(sng, {"transport": "tcp", "protocol": "rfc3164", "format": "cef",
                               "app_name": "dfw3164"}, program="dfw3164")

    def test_rfc5424_header_fields(self):
        # what syslog-ng's RFC 5424 parser makes of the header: facility (default local4),
        # severity from the record's severity, APP-NAME, PROCID, MSGID = stream, HOSTNAME
        sng = harness.SyslogNg(self.dir, transport="tcp", template=(
            "${FACILITY}|${LEVEL}|${PROGRAM}|${PID}|${MSGID}|${HOST}|${MSG}"))
        self.sng = sng
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                            "hostname": "fwd-host.example", "app_name": "dfw-test"})
        self.run_once(conf)
        harness.wait_for(lambda: len(sng.lines()) >= len(self.expected) or None, 60,
                         "syslog-ng to receive every message")
        levels = {"high": "crit", "medium": "err", "low": "warning", "informational": "info"}
        pids = set()
        for line in sng.settle():
            facility, level, program, pid, msgid, host, msg = line.split("|", 6)
            header, ext = harness.parse_cef(msg)
            key = harness.cef_event_key(header, ext)
            rec = self.expected[key]
            self.assertEqual((facility, program, msgid, host),
                             ("local4", "dfw-test", key[1], "fwd-host.example"), line[:200])
            self.assertEqual(level, levels.get(rec["severity"].lower(), "notice"), line[:200])
            pids.add(pid)
        self.assertEqual(len(pids), 1)
        self.assertTrue(pids.pop().isdigit())

    def test_tcp_json(self):
        sng = harness.SyslogNg(self.dir, transport="tcp", template="${MSGID} ${MSG}")
        self.sng = sng
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                            "transport": "tcp", "format": "json"})
        self.run_once(conf)
        harness.wait_for(lambda: len(sng.lines()) >= len(self.expected) or None, 60,
                         "syslog-ng to receive every message")
        lines = sng.settle()
        # each message is the record exactly as the API served it (MDE alerts with evidence)
        want = collections.Counter()
        for (tenant, stream, rid), rec in self.expected.items():
            want[(stream, json.dumps(rec, sort_keys=True))] += 1
        got = collections.Counter()
        for line in lines:
            msgid, _, msg = line.partition(" ")
            try:
                rec = json.loads(msg)
            except ValueError:
                self.fail(f"not JSON: {line[:200]!r}")
            got[(msgid, json.dumps(rec, sort_keys=True))] += 1
        self.assertEqual(len(lines), len(self.expected))
        self.assertEqual(got, want)
        self.assert_checkpoints(conf, RECORDS)

    def test_tls_server_name_mismatch(self):
        # the receiver's certificate is trusted but names 127.0.0.1 and localhost only
        sng = harness.SyslogNg(self.dir, transport="tls", tls=self.tls)
        self.sng = sng
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                            "transport": "tls", "ca_file": self.tls["ca"],
                            "tls_server_name": "siem.example.net", "reconnect_min": "200ms",
                            "reconnect_max": "1s"}, forwarder={"max_retries": "2"})
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr[-2000:])
        self.assertIn("certificate verification failed", r.stderr)
        self.assertEqual(sng.lines(), [])
        for key, row in harness.state_show(conf).items():
            self.assertEqual(row.get("delivered"), 0, f"checkpoint advanced: {key} {row}")
        # by its DNS name it verifies
        conf = self.config({"type": "syslog", "host": "localhost", "port": sng.port,
                            "transport": "tls", "ca_file": self.tls["ca"]})
        self.run_once(conf)
        harness.wait_for(lambda: len(sng.lines()) >= len(self.expected) or None, 60,
                         "syslog-ng to receive every message")
        self.assertEqual(harness.check_cef_delivery(sng.settle(), self.expected)[:20], [])

    def test_certificate_auth_v1_endpoint_file_output(self):
        # client assertion (certificate) on the v1 token endpoint, into the file output: each
        # record once, exactly as the API served it; envelope = no writes the bare record
        events = os.path.join(self.dir, "events.json")
        bare = os.path.join(self.dir, "bare.json")
        conf = harness.write_config(
            os.path.join(self.dir, "forwarder.conf"), self.emu, self.state,
            [("archive", {"type": "file", "path": events, "envelope": "yes"}),
             ("bare", {"type": "file", "path": bare, "envelope": "no"})],
            auth="certificate", token_endpoint="v1")
        self.run_once(conf)
        envelopes = harness.read_envelopes(events)
        problems = harness.check_envelope_delivery(envelopes, self.expected)
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s)")
        self.assertEqual({e["kind"] for e in envelopes}, {"new"})
        self.assertEqual(sorted(json.dumps(r, sort_keys=True)
                                for r in harness.read_envelopes(bare)),
                         sorted(json.dumps(e["record"], sort_keys=True) for e in envelopes))
        self.assert_checkpoints(conf, RECORDS)

    def test_tls_unverifiable_receiver(self):
        # the receiver's certificate is signed by a CA the forwarder was not given
        other = harness.make_tls_cert(self.dir, "other")
        sng = harness.SyslogNg(self.dir, transport="tls", tls=self.tls)
        self.sng = sng
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                            "transport": "tls", "ca_file": other["ca"], "reconnect_min": "200ms",
                            "reconnect_max": "1s"}, forwarder={"max_retries": "2"})
        fw = harness.Forwarder(conf, "--once", log_path=os.path.join(self.dir, "forwarder.log"))
        try:
            # it must say why, then either give up (exit 1) or keep retrying
            harness.wait_for(lambda: "certificate verification failed" in fw.log()
                             or not fw.running(), 120, "the TLS verification error in the log")
            log = fw.log()
            self.assertIn("certificate verification failed", log)
            self.assertIn("TLS handshake failed", log)
            if fw.running():
                # still trying: a few more attempts, each refused the same way
                harness.wait_for(lambda: fw.log().count("certificate verification failed") >= 3
                                 or not fw.running(), 120, "more reconnect attempts")
            if not fw.running():
                self.assertNotEqual(fw.proc.returncode, 0, "gave up but exited 0")
        finally:
            fw.stop()
        self.assertEqual(sng.lines(), [], "the untrusted receiver got messages")
        show = harness.state_show(conf)
        for key, row in show.items():
            self.assertEqual(row.get("delivered"), 0, f"checkpoint advanced: {key} {row}")
        # and nothing was held back: a run with the right CA delivers every record
        conf = self.config({"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                            "transport": "tls", "ca_file": self.tls["ca"]})
        self.run_once(conf)
        harness.wait_for(lambda: len(sng.lines()) >= len(self.expected) or None, 60,
                         "syslog-ng to receive every message")
        problems = harness.check_cef_delivery(sng.settle(), self.expected, self.kinds)
        self.assertEqual(problems[:20], [], f"{len(problems)} problem(s); see {sng.out}")


if __name__ == "__main__":
    unittest.main()
