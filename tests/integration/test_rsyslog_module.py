"""imdefender inside Debian's rsyslogd 8.2302 (run from dpkg -x of the package, with our
imdefender.so): emulator -> rsyslog (ruleset with a disk queue) -> file. Every record of 3 tenants
exactly once with its $!defender properties; CEF; a blocked destination (full-delay flow
control) holds the checkpoint and catches up; kill -9 and restart lose nothing and repeat at most
one batch per (tenant, stream); SIGHUP changes nothing; bad configurations are refused."""

import json
import os
import signal
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import module_harness as mh  # noqa: E402

RECORDS = 40  # per tenant and stream: 3 x 3 x 40 = 360 events
PAGE = 10     # page_size: the batch size


@unittest.skipUnless(mh.RSYSLOG_MODULE_DIR and mh.RSYSLOG_ROOT,
                     "DFW_RSYSLOG_MODULE_DIR / DFW_RSYSLOG_ROOT not set")
class RsyslogModule(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-rsmod-")
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
        self.rs = None
        self.addCleanup(lambda: self.rs and self.rs.stop())
        self.addCleanup(lambda: self.emu.control("reset-faults", {}))

    def file_action(self, path=None, template="defender_json"):
        return f'action(type="omfile" file="{path or self.out}" template="{template}")'

    def start(self, input_params=None, actions=None, **kw):
        params = input_params or f'config="{self.fwconf}" format="json"'
        self.rs = mh.Rsyslog(self.dir, params, actions or self.file_action(), **kw).start()
        return self.rs

    def events(self):
        return mh.read_json_lines(self.out)

    def wait_all(self, timeout=120):
        return harness.wait_for(
            lambda: len(set(mh.count_events(self.events())) & set(self.expected)) ==
            len(self.expected), timeout, "every event in the file")

    def assert_checkpoints_complete(self):
        harness.wait_for(lambda: mh.delivered_total(self.fwconf) == len(self.expected) or None,
                         60, "the checkpoints to count every event")

    def test_every_record_once_with_properties(self):
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
        by_sev = {o["severity"].lower(): o["severity_name"] for o in objs}
        self.assertEqual(by_sev.get("high"), "err")
        self.assertEqual(by_sev.get("low"), "notice")
        self.assertIn("imdefender: component=auth", self.rs.internal_log())

    def test_cef_format(self):
        plain = os.path.join(self.dir, "cef.log")
        self.start(f'config="{self.fwconf}" format="cef"', self.file_action(plain, "plain"),
                   templates='template(name="plain" type="string" string="%app-name% %msg%\\n")')
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

    def test_settings_instead_of_a_file(self):
        t = self.emu.tenants[1]
        secret = os.path.join(self.emu.dir, "secrets", t["name"] + ".secret")
        sec = f"tenant {t['name']}"
        opts = [("forwarder/state_dir", self.state), ("forwarder/ca_file", self.emu.ca_file),
                ("forwarder/poll_interval", "1s"), ("forwarder/initial_lookback", "7d"),
                (f"{sec}/tenant_id", t["tenant_id"]), (f"{sec}/client_id", t["client_id"]),
                (f"{sec}/client_secret_file", secret), (f"{sec}/login_url", self.emu.url),
                (f"{sec}/defender_url", self.emu.url), (f"{sec}/graph_url", self.emu.url),
                (f"{sec}/streams", "mde-alerts")]
        arr = ", ".join(f'"{k}={v}"' for k, v in opts)
        self.start(f"settings=[{arr}] format=\"json\"")
        want = {k: v for k, v in self.expected.items()
                if k[0] == t["name"] and k[1] == "mde-alerts"}
        harness.wait_for(lambda: set(mh.count_events(self.events())) == set(want) or None, 120,
                         "the tenant's MDE alerts")
        self.assertEqual(mh.check_delivery(mh.count_events(self.events()), want), [])
        # mde-alerts is a legacy stream: one warning at start-up, naming graph-alerts
        self.assertEqual(mh.retired_warnings(self.rs.internal_log()),
                         [("mde-alerts", 1, "graph-alerts")])

    def test_blocked_destination_holds_the_checkpoint_then_catches_up(self):
        # The blocked destination is a program (omprog) that does not read its standard input
        # until told to: a pipe holds 64 KiB. (A TCP peer that never reads would do the same, but
        # loopback sockets buffer ~3 MB and omfwd has no send-buffer option: all 360 events fit.)
        flag = os.path.join(self.dir, "unblock")
        got = os.path.join(self.dir, "received.json")
        reader = os.path.join(self.dir, "reader.py")
        with open(reader, "w") as f:
            f.write("import os, sys, time\n"
                    f"while not os.path.exists({flag!r}):\n    time.sleep(0.05)\n"
                    f"with open({got!r}, 'a') as out:\n"
                    "    for line in sys.stdin:\n        out.write(line)\n        out.flush()\n")
        prog = (f'action(type="omprog" binary="{sys.executable} {reader}" '
                'template="defender_json_nl" action.resumeRetryCount="-1")')
        tmpl = 'module(load="omprog")\ntemplate(name="defender_json_nl" type="list") { ' \
               'property(name="$!defender") constant(value="\\t") property(name="msg") ' \
               'constant(value="\\n") }'
        # a small in-memory queue: full-delay flow control reaches imdefender at once
        self.start(None, prog, queue='queue.type="LinkedList" queue.size="50"', templates=tmpl)
        held = mh.wait_stable(lambda: mh.delivered_total(self.fwconf), 4, timeout=90)
        self.assertLess(held, len(self.expected) // 2,
                        "the checkpoints moved although the destination reads nothing")
        self.assertFalse(os.path.exists(got))
        with open(flag, "w"):
            pass

        def received():
            objs = [json.loads(l.split("\t", 1)[0]) for l in self._read(got)]
            return objs if set(mh.count_events(objs)) >= set(self.expected) else None
        objs = harness.wait_for(received, 120, "every event at the unblocked program")
        self.assert_checkpoints_complete()
        self.assertEqual(mh.check_delivery(mh.count_events(objs), self.expected), [])
        self.assertEqual(len(objs), len(self.expected))

    @staticmethod
    def _read(path):
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8", errors="replace") as f:
            return [l for l in f if l.strip()]

    def interrupted(self, interrupt, max_repeats, queue=mh.RSYSLOG_DIRECT_QUEUE):
        self.emu.control("faults", {"slow_ms": 150})
        self.start(queue=queue)
        harness.wait_for(lambda: len(self.events()) >= len(self.expected) // 4 or None, 120,
                         "a quarter of the events")
        self.assertLess(len(set(mh.count_events(self.events()))), len(self.expected),
                        "everything arrived before the interruption: the test proves nothing")
        interrupt()
        self.emu.control("reset-faults", {})
        self.wait_all()
        self.assert_checkpoints_complete()
        counts = mh.count_events(self.events())
        self.assertEqual(mh.check_delivery(counts, self.expected, max_repeats=max_repeats), [])

    def test_kill_9_and_restart(self):
        def kill():
            self.rs.stop(signal.SIGKILL)
            self.rs.start()
        self.interrupted(kill, PAGE)

    def test_stop_and_start(self):
        def restart():
            self.assertEqual(self.rs.stop(), 0)
            self.rs.start()
        self.interrupted(restart, PAGE)

    def test_stop_and_start_with_a_disk_queue(self):
        def restart():
            self.assertEqual(self.rs.stop(), 0)
            self.rs.start()
        self.interrupted(restart, PAGE, queue=mh.RSYSLOG_DISK_QUEUE)

    def test_hup(self):
        def hup():
            self.rs.hup()
            harness.wait_for(lambda: "HUP" in self.rs.internal_log() or None, 30,
                             "rsyslog to log the HUP")
            self.assertIsNone(self.rs.proc.poll())
        self.interrupted(hup, 0)

    # ---- the configurations of docs/rsyslog.md, as written there ----

    def doc_start(self, name, **subst):
        text = mh.doc_config("rsyslog.md", name, {
            "/etc/defender-forwarder/rsyslog.conf": self.fwconf,
            "/var/log/defender/": self.dir + "/", **subst})
        self.rs = mh.Rsyslog(self.dir, None, None, text=text).start()

    def assert_records_file(self, path):
        want = sorted(json.dumps(r, sort_keys=True) for r in self.expected.values())
        harness.wait_for(lambda: len(mh.read_json_lines(path)) >= len(want) or None, 120,
                         "every record in " + path)
        self.assert_checkpoints_complete()
        got = sorted(json.dumps(r, sort_keys=True) for r in mh.read_json_lines(path))
        self.assertEqual(got, want)

    def test_doc_minimal(self):
        self.doc_start("json-file")
        self.assert_records_file(os.path.join(self.dir, "alerts.json"))

    def test_doc_disk_queue(self):
        self.doc_start("disk-queue")
        self.assert_records_file(os.path.join(self.dir, "alerts.json"))

    def test_doc_json_files(self):
        self.doc_start("json-files")
        self.assert_records_file(os.path.join(self.dir, "alerts.json"))
        idx = mh.read_json_lines(os.path.join(self.dir, "index.json"))
        self.assertEqual(mh.check_delivery(mh.count_events(idx), self.expected), [])
        self.assertEqual(len(idx), len(self.expected))

    def test_doc_arcsight(self):
        rx = mh.TcpReceiver(blocked=False)
        self.addCleanup(rx.close)
        self.doc_start("arcsight", **{"arcsight.example.net": "127.0.0.1",
                                      'port="514"': f'port="{rx.port}"'})
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

    @unittest.skipUnless(os.path.exists(os.path.join(mh.RSYSLOG_ROOT or "", "usr", "lib",
                                                     "x86_64-linux-gnu", "rsyslog", "omkafka.so")),
                         "omkafka.so (rsyslog-kafka) not unpacked by scripts/rsyslog-tree")
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

    def test_oversize_record_is_reported(self):
        text = mh.doc_config("rsyslog.md", "json-file", {
            "/etc/defender-forwarder/rsyslog.conf": self.fwconf,
            "/var/log/defender/": self.dir + "/", 'maxMessageSize="1m"': 'maxMessageSize="2k"'})
        self.rs = mh.Rsyslog(self.dir, None, None, text=text).start()
        harness.wait_for(lambda: "more than maxMessageSize (2048)" in self.rs.internal_log()
                         or None, 60, "the report of a record larger than maxMessageSize")

    def test_configuration_errors(self):
        bad = os.path.join(self.dir, "bad.conf")
        with open(self.fwconf) as f, open(bad, "w") as g:
            g.write(f.read() + "\n[output f]\ntype = file\npath = /dev/null\n")
        cases = [(f'config="{bad}"', "[output f]"),
                 ('config="/nonexistent/x.conf"', "/nonexistent/x.conf: cannot open"),
                 (f'config="{self.fwconf}" format="xml"', 'format="xml": must be'),
                 ('format="json"', "give either config= or settings="),
                 ('settings=["no-slash"]', '"no-slash" is not "SECTION/KEY=VALUE"')]
        for i, (params, needle) in enumerate(cases):
            rs = mh.Rsyslog(self.dir, params, self.file_action(), name=f"bad{i}").start()
            try:
                harness.wait_for(lambda: needle in rs.internal_log() or None, 30, needle)
            finally:
                rs.stop()
            self.assertEqual(self._lines(self.out), 0)


if __name__ == "__main__":
    unittest.main()
