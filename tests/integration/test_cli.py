"""The command line: help, version, usage errors (exit 2), configuration errors with file:line,
unsafe secret files refused, one instance per state directory, `state reset` making the next run
read again, and the exit status of an interrupted `run --once`."""

import collections
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RECORDS = 20


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-cli-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=3, records=RECORDS,
                                   args=("--no-rate-limit",))
        cls.addClassCleanup(cls.emu.stop)

    def setUp(self):
        self.emu.control("reset-faults", {})
        self.emu.control("reset-stats", {})
        self.fw = None
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.state = os.path.join(self.dir, "state")
        self.events = os.path.join(self.dir, "events.json")

    def tearDown(self):
        self.emu.control("reset-faults", {})
        if self.fw:
            self.fw.cleanup()

    def config(self, **kw):
        kw.setdefault("forwarder", {"poll_interval": "1s"})
        return harness.write_config(os.path.join(self.dir, "forwarder.conf"), self.emu,
                                    self.state, [("archive", {"type": "file",
                                                              "path": self.events})], **kw)

    def cli(self, *args, config=None, timeout=120):
        cmd = [harness.BIN] + (["-c", config] if config else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def delivered(self):
        """Counter of (tenant, stream, id) in the file output."""
        return collections.Counter((e["tenant"], e["stream"], e["id"])
                                   for e in harness.read_envelopes(self.events))

    # ---- usage -------------------------------------------------------------------------------

    def test_help(self):
        for flag in ("--help", "-h"):
            r = self.cli(flag)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Usage: defender-forwarder [-c FILE] COMMAND", r.stdout)
            for command in ("run [--once]", "check-config", "token TENANT", "consent-url TENANT",
                            "state show", "state reset"):
                self.assertIn(command, r.stdout)
            outputs = re.search(r"^Outputs in this build:(.*)$", r.stdout, re.M)
            self.assertIsNotNone(outputs, r.stdout)
            self.assertLessEqual({"syslog", "file"}, set(outputs.group(1).split()))

    def test_version(self):
        with open(os.path.join(harness.SRC, "docs", "defender-forwarder.1")) as f:
            th = next(l for l in f if l.startswith(".TH"))
        man_version = re.search(r'"defender-forwarder (\d+\.\d+\.\d+)"', th).group(1)
        for flag in ("--version", "-V"):
            r = self.cli(flag)
            self.assertEqual(r.returncode, 0)
            self.assertEqual(r.stdout, f"defender-forwarder {man_version}\n")

    def test_usage_errors_exit_2(self):
        conf = self.config()
        for args, message in ((["frobnicate"], "unknown command 'frobnicate'"),
                              (["--frobnicate"], "unknown option --frobnicate"),
                              ([], "Usage:"),
                              (["run", "--forever"], "unknown argument --forever"),
                              (["state", "frob"], "usage:"),
                              (["token"], "usage:"),
                              (["token", "nosuchtenant"], "no [tenant nosuchtenant]"),
                              (["state", "show", "nosuchtenant"], "no [tenant nosuchtenant]")):
            r = self.cli(*args, config=conf)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stdout}{r.stderr}")
            self.assertIn(message, r.stderr, args)
            self.assertFalse(os.path.exists(self.events), f"{args} ran something")

    def test_consent_url(self):
        conf = self.config()
        t = self.emu.tenants[1]
        r = self.cli("consent-url", t["name"], config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        urls = [l.strip() for l in r.stdout.splitlines() if l.strip().startswith("https://")]
        v1 = next(u for u in urls if "/common/oauth2/authorize?" in u)
        self.assertEqual(v1, f"{self.emu.url}/common/oauth2/authorize?prompt=consent&client_id="
                             f"{t['client_id']}&response_type=code&sso_reload=true")
        v2 = next(u for u in urls if "/v2.0/adminconsent?" in u)
        self.assertTrue(v2.startswith(f"{self.emu.url}/{t['tenant_id']}/v2.0/adminconsent?"
                                      f"client_id={t['client_id']}&redirect_uri="
                                      "http%3A%2F%2Flocalhost%3A8400%2F"), v2)
        self.assertIn(f"https://security.microsoft.com/?tid={t['tenant_id']} > Settings > "
                      "Endpoints > APIs > SIEM > MSSP", r.stdout)
        r = self.cli("consent-url", t["name"], "--redirect-uri", "https://portal.azure.com",
                     config=conf)
        self.assertIn("redirect_uri=https%3A%2F%2Fportal.azure.com&", r.stdout)
        r = self.cli("consent-url", t["name"], "--redirect-uri", "http://example.com/",
                     config=conf)
        self.assertEqual(r.returncode, 2)

    # ---- configuration -----------------------------------------------------------------------

    def line_of(self, path, text):
        with open(path) as f:
            return next(n for n, l in enumerate(f, 1) if l.startswith(text))

    def test_check_config_ok(self):
        conf = self.config()
        r = self.cli("check-config", config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{conf}: OK (3 tenant(s), 1 output(s)", r.stdout)

    def test_unknown_key_names_file_and_line(self):
        conf = self.config(forwarder={"poll_interval": "1s", "pol_interval": "5s"})
        line = self.line_of(conf, "pol_interval")
        for args in (["check-config"], ["run", "--once"]):
            r = self.cli(*args, config=conf)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn(f"{conf}:{line}:", r.stderr)
            self.assertIn("pol_interval", r.stderr)
        # a key the output module does not know: the same, with the module's option table
        conf = harness.write_config(os.path.join(self.dir, "output.conf"), self.emu, self.state,
                                    [("siem", {"type": "syslog", "port": 6514,
                                               "transprot": "tls"})])
        line = self.line_of(conf, "transprot")
        r = self.cli("check-config", config=conf)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{conf}:{line}:", r.stderr)
        self.assertIn("transprot", r.stderr)
        self.assertFalse(os.path.exists(self.events))

    def test_secret_file_readable_by_others_is_refused(self):
        t = self.emu.tenants[0]
        path = os.path.join(self.dir, "open.secret")
        with open(path, "w") as f:
            f.write(t["client_secret"] + "\n")
        os.chmod(path, 0o644)
        conf = self.config(secret_files={t["name"]: path})
        r = self.cli("check-config", config=conf)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{path} is readable by group or others (mode 0644)", r.stderr)
        self.assertIn(f"chmod 600 {path}", r.stderr)
        self.assertNotIn(t["client_secret"], r.stdout + r.stderr)
        r = self.cli("run", "--once", config=conf)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("readable by group or others", r.stderr)
        self.assertNotIn(t["client_secret"], r.stdout + r.stderr)
        self.assertEqual(self.delivered(), collections.Counter())
        self.assertEqual(self.emu.control("stats")["tokens_issued"].get(t["name"], 0), 0)
        os.chmod(path, 0o600)
        self.assertEqual(self.cli("check-config", config=conf).returncode, 0)

    def test_secret_from_environment(self):
        t = self.emu.tenants[0]
        conf = self.config(tenants=(t["name"],))
        with open(conf) as f:
            text = f.read()
        text = re.sub(r"^client_secret_file = .*$", "client_secret_env = DFW_IT_SECRET", text,
                      flags=re.M)
        with open(conf, "w") as f:
            f.write(text)
        env = dict(os.environ)
        env.pop("DFW_IT_SECRET", None)
        r = harness.run_forwarder(conf, "check-config", env=env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("DFW_IT_SECRET", r.stderr)
        env["DFW_IT_SECRET"] = t["client_secret"]
        r = harness.run_forwarder(conf, "-v", "run", "--once", env=env)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertNotIn(t["client_secret"], r.stdout + r.stderr)
        self.assertEqual(self.delivered(), collections.Counter(
            harness.expected_records(self.emu, tenants=(t["name"],)).keys()))

    # ---- state directory ---------------------------------------------------------------------

    def test_second_instance_is_locked_out(self):
        conf = self.config()
        self.fw = harness.Forwarder(conf, log_path=os.path.join(self.dir, "daemon.log"))
        total = 3 * 3 * RECORDS
        harness.wait_for(lambda: sum(self.delivered().values()) >= total or
                         not self.fw.running(), 120, "the daemon to deliver the backfill")
        self.assertTrue(self.fw.running(), self.fw.log()[-2000:])
        # the checkpoint of the last batch is written just after its delivery
        harness.wait_for(lambda: sum(r.get("delivered", 0) for r in
                                     harness.state_show(conf).values()) == total, 30,
                         "every checkpoint")
        r = self.cli("run", "--once", config=conf)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("locked", r.stderr)
        self.assertIn(self.state, r.stderr)
        r = self.cli("state", "reset", config=conf)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("locked", r.stderr)
        # reading the checkpoints does not need the lock
        show = harness.state_show(conf)
        self.assertEqual(len(show), 9)
        self.assertTrue(all(row["delivered"] == RECORDS for row in show.values()), show)
        self.assertTrue(self.fw.running())
        self.assertEqual(self.fw.stop(signal.SIGTERM), 0)
        self.assertEqual(sum(self.delivered().values()), total)  # the refused run sent nothing
        r = self.cli("run", "--once", config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_state_reset_reads_again(self):
        conf = self.config()
        all_records = harness.expected_records(self.emu)
        names = [t["name"] for t in self.emu.tenants]

        def run_once(delivered):
            r = self.cli("run", "--once", config=conf, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(harness.parse_summary(r.stdout)["delivered"], str(delivered),
                             r.stdout)

        run_once(len(all_records))
        self.assertEqual(self.delivered(), collections.Counter(all_records.keys()))
        self.assertEqual(len(harness.state_show(conf)), 9)
        db = os.path.join(self.state, "checkpoints.db")  # defender-forwarder(1) FILES: mode 0600
        self.assertEqual(os.stat(db).st_mode & 0o777, 0o600, db)
        run_once(0)  # checkpoints: nothing again

        r = self.cli("state", "reset", names[0], config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 3 checkpoint(s)", r.stdout)
        self.assertEqual({k[0] for k in harness.state_show(conf)}, set(names[1:]))
        run_once(3 * RECORDS)

        r = self.cli("state", "reset", names[1], "mde-alerts", config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 1 checkpoint(s)", r.stdout)
        run_once(RECORDS)

        want = collections.Counter(all_records.keys())
        want.update(k for k in all_records if k[0] == names[0])
        want.update(k for k in all_records if k[:2] == (names[1], "mde-alerts"))
        self.assertEqual(self.delivered(), want)

        r = self.cli("state", "reset", config=conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 9 checkpoint(s)", r.stdout)
        self.assertEqual(harness.state_show(conf), {})
        run_once(len(all_records))
        want.update(all_records.keys())
        self.assertEqual(self.delivered(), want)

    def test_state_reset_unknown_stream_is_a_usage_error(self):
        # like an unknown TENANT (exit 2, "no [tenant ...]"): a typo must not look like success
        conf = self.config()
        r = self.cli("state", "reset", self.emu.tenants[0]["name"], "mde-alert", config=conf)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("mde-alert", r.stderr)

    # ---- exit status -------------------------------------------------------------------------

    def test_interrupted_run_once_is_not_success(self):
        # A --once run stopped (systemd TimeoutStartSec=, a shutdown) before it read every stream
        # up to its start has not done its job: a scheduler must not see success.
        self.emu.control("faults", {"slow_ms": 3000})
        conf = self.config(forwarder={"poll_interval": "1s", "page_size": "5"})
        self.fw = harness.Forwarder(conf, "--once", log_path=os.path.join(self.dir, "once.log"))
        harness.wait_for(lambda: "access token acquired" in self.fw.log() or
                         not self.fw.running(), 60, "the run to start fetching")
        self.assertTrue(self.fw.running())
        status = self.fw.stop(signal.SIGTERM)
        self.assertEqual(sum(self.delivered().values()), 0)
        self.assertNotEqual(status, 0, self.fw.log()[-1500:])


if __name__ == "__main__":
    unittest.main()
