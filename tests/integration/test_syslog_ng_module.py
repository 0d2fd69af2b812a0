"""The defender() source inside a real syslog-ng 3.38 (Debian's, with our libdefender.so):
emulator -> syslog-ng -> file. Every record of 3 tenants exactly once with its .defender.* values;
CEF messages; a blocked destination holds the checkpoint and catches up; kill -9, stop/start and
syslog-ng-ctl reload lose nothing and repeat at most one batch per (tenant, stream); bad
configurations are refused with a clear error."""

import json
import os
import signal
import subprocess
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import module_harness as mh  # noqa: E402

RECORDS = 40  # per tenant and stream: 3 x 3 x 40 = 360 events
PAGE = 10     # page_size: the batch size, so repeats are bounded by 10 per (tenant, stream)


@unittest.skipUnless(mh.SYSLOG_NG_MODULE_DIR, "DFW_SYSLOG_NG_MODULE_DIR not set")
class SyslogNgModule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-sngmod-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=3, records=RECORDS,
                                   args=("--no-rate-limit",))
        cls.addClassCleanup(cls.emu.stop)
        cls.expected = harness.expected_records(cls.emu)

    def setUp(self):
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")
        self.out = os.path.join(self.dir, "events.json")
        self.fwconf = mh.module_config(os.path.join(self.dir, "forwarder.conf"), self.emu,
                                       self.state, page_size=PAGE)
        self.sng = None
        self.addCleanup(lambda: self.sng and self.sng.stop())
        self.addCleanup(lambda: self.emu.control("reset-faults", {}))

    def file_dest(self, path=None, template=mh.SYSLOG_NG_TEMPLATE):
        return ("d_file", f'file("{path or self.out}" template("{template}") template-escape(no))')

    def start(self, source_opts=None, destinations=None):
        opts = source_opts or f'config("{self.fwconf}") format(json)'
        self.sng = mh.SyslogNg(self.dir, opts, destinations or [self.file_dest()]).start()
        return self.sng

    def events(self):
        return mh.read_json_lines(self.out)

    def wait_all(self, timeout=120):
        return harness.wait_for(
            lambda: len(set(mh.count_events(self.events())) & set(self.expected)) ==
            len(self.expected), timeout, "every event in the file")

    def assert_checkpoints_complete(self):
        total = harness.wait_for(
            lambda: mh.delivered_total(self.fwconf) == len(self.expected) or None, 60,
            "the checkpoints to count every event")
        self.assertTrue(total)

    def test_every_record_once_with_defender_fields(self):
        self.start()
        self.wait_all()
        self.assert_checkpoints_complete()
        objs = self.events()
        self.assertEqual(mh.check_delivery(mh.count_events(objs), self.expected), [])
        self.assertEqual(len(objs), len(self.expected))
        self.assertEqual(mh.check_fields(objs, self.expected, socket.gethostname()), [])
        tids = {t["name"]: t["tenant_id"] for t in self.emu.tenants}
        for o in objs:
            self.assertEqual(o["tenant_id"], tids[o["tenant"]])
        # the Defender severity picks the syslog severity
        by_sev = {o["severity"].lower(): o["severity_name"] for o in objs}
        self.assertEqual(by_sev.get("high"), "err")
        self.assertEqual(by_sev.get("low"), "notice")
        # the forwarder's own log lines reach syslog-ng's internal() source
        self.assertIn("access token acquired", self.sng.internal_log())
        # the tenants read two legacy streams: one warning each, naming its Graph stream
        self.assertEqual(sorted(mh.retired_warnings(self.sng.internal_log())),
                         [("m365d-incidents", 3, "graph-incidents"),
                          ("mde-alerts", 3, "graph-alerts")])

    def test_cef_format(self):
        plain = os.path.join(self.dir, "cef.log")
        self.start(f'config("{self.fwconf}") format(cef) tags("defender")',
                   [("d_cef", f'file("{plain}" template("${{PROGRAM}} ${{MESSAGE}}\\n") '
                              'template-escape(no))')])
        harness.wait_for(lambda: self._lines(plain) >= len(self.expected) or None, 120,
                         "every CEF message")
        self.assert_checkpoints_complete()
        with open(plain, encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        kinds = {k: "new" for k in self.expected}
        problems = harness.check_cef_delivery(lines, self.expected, kinds, harness.PROGRAM)
        self.assertEqual(problems[:10], [])

    @staticmethod
    def _lines(path):
        if not os.path.exists(path):
            return 0
        with open(path, encoding="utf-8", errors="replace") as f:
            return sum(1 for l in f if l.strip())

    def test_setting_options_instead_of_a_file(self):
        t = self.emu.tenants[0]
        secret = os.path.join(self.emu.dir, "secrets", t["name"] + ".secret")
        sec = f"tenant {t['name']}"
        opts = [("forwarder/state_dir", self.state), ("forwarder/ca_file", self.emu.ca_file),
                ("forwarder/poll_interval", "1s"), ("forwarder/initial_lookback", "7d"),
                (f"{sec}/tenant_id", t["tenant_id"]), (f"{sec}/client_id", t["client_id"]),
                (f"{sec}/client_secret_file", secret), (f"{sec}/login_url", self.emu.url),
                (f"{sec}/defender_url", self.emu.url), (f"{sec}/graph_url", self.emu.url),
                (f"{sec}/streams", "graph-alerts")]
        src = " ".join(f'setting("{k}" "{v}")' for k, v in opts) + " format(json)"
        self.start(src)
        want = {k: v for k, v in self.expected.items()
                if k[0] == t["name"] and k[1] == "graph-alerts"}
        harness.wait_for(lambda: set(mh.count_events(self.events())) == set(want) or None, 120,
                         "the tenant's graph alerts")
        self.assertEqual(mh.check_delivery(mh.count_events(self.events()), want), [])
        self.assertEqual(mh.retired_warnings(self.sng.internal_log()), [])

    def test_blocked_destination_holds_the_checkpoint_then_catches_up(self):
        rx = mh.TcpReceiver(blocked=True)
        self.addCleanup(rx.close)
        tcp = ("d_tcp", f'network("127.0.0.1" port({rx.port}) transport("tcp") so-sndbuf(4096) '
                        f'template("{mh.SYSLOG_NG_TEMPLATE}") template-escape(no))')
        self.start(f'config("{self.fwconf}") format(json) log-iw-size(20)', [tcp])
        held = mh.wait_stable(lambda: mh.delivered_total(self.fwconf), 4, timeout=90)
        self.assertLess(held, len(self.expected) // 2,
                        "the checkpoints moved although the destination reads nothing")
        self.assertLess(len(rx.lines()), 1)
        rx.unblock()
        harness.wait_for(lambda: set(mh.count_events(
            [json.loads(l) for l in rx.lines()])) == set(self.expected) or None,
            120, "every event at the unblocked receiver")
        self.assert_checkpoints_complete()
        objs = [json.loads(l) for l in rx.lines()]
        self.assertEqual(mh.check_delivery(mh.count_events(objs), self.expected), [])
        self.assertEqual(len(objs), len(self.expected))

    def interrupted(self, interrupt):
        """Deliver slowly, interrupt half-way, let it finish: nothing lost, at most one batch
        repeated per (tenant, stream)."""
        self.emu.control("faults", {"slow_ms": 150})
        self.start()
        harness.wait_for(lambda: len(self.events()) >= len(self.expected) // 4 or None, 120,
                         "a quarter of the events")
        self.assertLess(len(set(mh.count_events(self.events()))), len(self.expected),
                        "everything arrived before the interruption: the test proves nothing")
        interrupt()
        self.emu.control("reset-faults", {})
        self.wait_all()
        self.assert_checkpoints_complete()
        counts = mh.count_events(self.events())
        self.assertEqual(mh.check_delivery(counts, self.expected, max_repeats=PAGE), [])
        return counts

    def test_kill_9_and_restart(self):
        def kill():
            self.sng.stop(signal.SIGKILL)
            self.start()
        self.interrupted(kill)

    def test_stop_and_start(self):
        def restart():
            self.assertEqual(self.sng.stop(), 0)
            self.start()
        self.interrupted(restart)

    def test_reload(self):
        def reload():
            self.sng.reload()
            time.sleep(0.5)
            self.assertIsNone(self.sng.proc.poll())
        self.interrupted(reload)
        self.assertIn("access token acquired", self.sng.internal_log())
        # the source started twice: the legacy-stream warnings both times
        self.assertEqual(sorted(mh.retired_warnings(self.sng.internal_log())),
                         [("m365d-incidents", 3, "graph-incidents")] * 2 +
                         [("mde-alerts", 3, "graph-alerts")] * 2)

    # ---- the configurations of docs/syslog-ng.md, as written there ----

    def doc_start(self, name, **subst):
        text = mh.doc_config("syslog-ng.md", name, {
            "/etc/defender-forwarder/syslog-ng.conf": self.fwconf,
            "/var/log/defender/": self.dir + "/", **subst})
        if not text.startswith("@version"):
            text = "@version: 3.38\n" + text
        self.sng = mh.SyslogNg(self.dir, None, None, text=text).start()

    def test_doc_three_lines(self):
        self.doc_start("json-file")
        path = os.path.join(self.dir, "alerts.json")
        want = sorted(json.dumps(r, sort_keys=True) for r in self.expected.values())
        harness.wait_for(lambda: len(mh.read_json_lines(path)) >= len(want) or None, 120,
                         "every record in alerts.json")
        self.assert_checkpoints_complete()
        got = sorted(json.dumps(r, sort_keys=True) for r in mh.read_json_lines(path))
        self.assertEqual(got, want)

    def test_doc_json_files(self):
        self.doc_start("json-files")
        index = os.path.join(self.dir, "index.json")
        harness.wait_for(lambda: len(mh.read_json_lines(index)) >= len(self.expected) or None,
                         120, "every event in index.json")
        self.assert_checkpoints_complete()
        idx = mh.read_json_lines(index)
        self.assertEqual(mh.check_delivery(mh.count_events(idx), self.expected), [])
        self.assertEqual(len(idx), len(self.expected))
        for o in idx:
            rec = self.expected[mh.event_key(o)]
            info = harness.STREAM_INFO[o["stream"]]
            self.assertEqual(o["title"], rec.get(info["name"], ""))
            self.assertEqual(o["last_update"], rec[info["updated"]])
        recs = mh.read_json_lines(os.path.join(self.dir, "alerts.json"))
        self.assertEqual(sorted(json.dumps(r, sort_keys=True) for r in recs),
                         sorted(json.dumps(r, sort_keys=True) for r in self.expected.values()))

    def test_doc_arcsight(self):
        rx = mh.TcpReceiver(blocked=False)
        self.addCleanup(rx.close)
        self.doc_start("arcsight", **{"arcsight.example.net": "127.0.0.1",
                                      "port(514)": f"port({rx.port})"})
        harness.wait_for(lambda: len(rx.lines()) >= len(self.expected) or None, 120,
                         "every CEF message at the receiver")
        self.assert_checkpoints_complete()
        lines = rx.lines()
        host = socket.gethostname()
        for line in lines:
            self.assertRegex(line, r"^<\d+>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d " + host +
                             " defender-forwarder: CEF:0\|")
        cef = [harness.PROGRAM + " " + l[l.index("CEF:0|"):] for l in lines]
        kinds = {k: "new" for k in self.expected}
        self.assertEqual(harness.check_cef_delivery(cef, self.expected, kinds)[:10], [])

    def test_doc_kafka(self):
        import kafka_harness as kh
        broker = kh.KafkaBroker(self.work.path, name="kafka-" + str(os.getpid()))
        self.addCleanup(broker.stop)
        self.doc_start("kafka", **{"kafka.example.net:9092": broker.bootstrap})
        want = {f"{k[0]}/{k[2]}": (k, rec) for k, rec in self.expected.items()}

        def consumed():
            msgs = broker.consume_all("defender.")
            return msgs if len(msgs) >= len(want) else None
        msgs = harness.wait_for(consumed, 180, "every record in Kafka", interval=2)
        self.assert_checkpoints_complete()
        self.assertEqual(len(msgs), len(want))
        for m in msgs:
            key, rec = want[m["key"]]
            self.assertEqual(m["topic"], "defender." + key[1])
            self.assertEqual(json.loads(m["value"]), rec)

    def test_configuration_errors(self):
        bad = os.path.join(self.dir, "bad.conf")
        with open(self.fwconf) as f, open(bad, "w") as g:
            g.write(f.read() + "\n[output f]\ntype = file\npath = /dev/null\n")
        for opts, needle in [
                (f'config("{bad}")', "[output f]"),
                ('config("/nonexistent/x.conf")', "/nonexistent/x.conf: cannot open"),
                ("format(json)", "either config() or setting()"),
                (f'config("{self.fwconf}") setting("forwarder/poll_interval" "1s")',
                 "either config() or setting()")]:
            sng = mh.SyslogNg(self.dir, opts, [self.file_dest()], name="bad")
            r = subprocess_run(sng)
            self.assertNotEqual(r.returncode, 0, opts)
            self.assertIn(needle, r.stderr + r.stdout, opts)
        sng = mh.SyslogNg(self.dir, f'config("{self.fwconf}") format(xml)', [self.file_dest()],
                          name="bad")
        r = subprocess_run(sng, syntax_only=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("format() of defender() is json or cef", r.stderr + r.stdout)


def subprocess_run(sng, syntax_only=False):
    args = ["syslog-ng", "-F", "--no-caps", "-f", sng.conf,
            "--module-path", f"{mh.SYSLOG_NG_MODULE_DIR}:/usr/lib/syslog-ng/3.38",
            "-R", os.path.join(sng.dir, "persist"), "-p", os.path.join(sng.dir, "pid"),
            "-c", sng.ctl, "--stderr"]
    if syntax_only:
        args.append("--syntax-only")
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


if __name__ == "__main__":
    unittest.main()
