"""MSSP onboarding end to end with the real binary: `authorize` through its 127.0.0.1 listener and
through --no-browser (the emulator's sign-in pages driven by a scripted browser), its errors
(cancelled, consent denied, redirect URI not registered, wrong tenant, timeout, stale state), the
daemon on single-use refresh tokens for three token lifetimes, a revoked refresh token failing
one tenant while another keeps delivering, and `onboard` over ready and broken tenants."""

import collections
import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

sys.path.insert(0, os.path.join(harness.SRC, "tests", "emulator"))
from browser import Browser  # noqa: E402

RECORDS = 12


class Authorize:
    """`defender-forwarder authorize` as a child: its URL (first stdout line), then its end."""

    def __init__(self, config, tenant, *args, stdin=False):
        self.proc = subprocess.Popen(
            [harness.BIN, "-c", config, "authorize", tenant, *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def url(self, timeout=30):
        url = self.lines.get(timeout=timeout)
        if url is None:
            raise AssertionError("authorize printed no URL: " + self.proc.stderr.read())
        return url

    def paste(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout=60, keep_stdin=False):
        """Wait for the end; with keep_stdin the input stays open (no end of input) until it."""
        if keep_stdin:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError("authorize did not end: " + err)
        return self.proc.returncode, err


class Mssp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = harness.Workdir("dfw-it-mssp-")
        cls.addClassCleanup(cls.work.cleanup)
        cls.emu = harness.Emulator(cls.work.path, tenants=5, records=RECORDS,
                                   args=("--no-rate-limit",))
        cls.addClassCleanup(cls.emu.stop)
        cls.t = {t["name"]: t for t in cls.emu.tenants}
        cls.browser = Browser(cls.emu.ca_file)

    def setUp(self):
        self.emu.control("reset-faults", {})
        for name in self.t:
            self.emu.control("consent", {"tenant": name, "granted": True,
                                         "roles": ["Incident.Read.All", "Alert.Read.All",
                                                   "SecurityAlert.Read.All"]})
            self.emu.control("app", {"tenant": name, "redirect_uris": None, "blocked_apis": []})
        self.dir = os.path.join(self.work.path, self.id().rsplit(".", 1)[-1])
        os.makedirs(self.dir)
        self.events = os.path.join(self.dir, "events.json")
        self.fw = None

    def tearDown(self):
        if self.fw:
            self.fw.cleanup()

    def rt_file(self, tenant):
        return os.path.join(self.dir, tenant + ".refresh_token")

    def config(self, refresh=("contoso",), tenants=None, name="forwarder.conf", extra=None,
               forwarder=None, secret_files=None, token_endpoint="v2"):
        """Tenants in refresh get auth = refresh_token; the others a client secret."""
        tenant_extra = {t: {"auth": "refresh_token", "refresh_token_file": self.rt_file(t)}
                        for t in refresh}
        for t, kv in (extra or {}).items():
            tenant_extra.setdefault(t, {}).update(kv)
        return harness.write_config(
            os.path.join(self.dir, name), self.emu, os.path.join(self.dir, "state"),
            [("archive", {"type": "file", "path": self.events})],
            tenants=tenants or refresh, tenant_extra=tenant_extra, secret_files=secret_files,
            token_endpoint=token_endpoint,
            forwarder={"poll_interval": "1s", "overlap": "10m", **(forwarder or {})})

    def sign_in(self, url, tenant="contoso", **kw):
        t = self.t[tenant]
        return self.browser.sign_in(url, t["user"], t["user_password"], **kw)

    def authorize(self, conf, tenant="contoso"):
        """A successful authorize through the listener."""
        a = Authorize(conf, tenant, "--port", str(harness.free_port()))
        res = self.sign_in(a.url(), tenant)
        self.assertEqual(res.followed[0], 200, res.followed)
        code, err = a.finish()
        self.assertEqual(code, 0, err)
        return err

    def assert_secret_file(self, path):
        st = os.stat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(path) as f:
            return f.read()

    def delivered(self):
        return collections.Counter((e["tenant"], e["stream"], e["id"])
                                   for e in harness.read_envelopes(self.events))

    # ---- authorize ---------------------------------------------------------------------------

    def test_authorize_listener(self):
        conf = self.config()
        a = Authorize(conf, "contoso", "--port", str(harness.free_port()))
        url = a.url()
        t = self.t["contoso"]
        self.assertTrue(url.startswith(f"{self.emu.url}/{t['tenant_id']}/oauth2/v2.0/authorize?"))
        self.assertIn("code_challenge_method=S256", url)
        self.assertIn("offline_access", url)
        res = self.sign_in(url)
        # the listener answered the browser's redirect, with a page saying so
        self.assertEqual(res.followed[0], 200)
        self.assertIn("Signed in", res.followed[1])
        code, err = a.finish()
        self.assertEqual(code, 0, err)
        self.assertIn("delegated token for tenant " + t["tenant_id"], err)
        self.assertIn(t["user"], err)
        token = self.assert_secret_file(self.rt_file("contoso"))
        self.assertNotIn(token.strip(), err)
        # the stored token gives delegated tokens with scp for every stream
        r = harness.run_forwarder(conf, "token", "contoso", timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("kind:  delegated (user " + t["user"]), 3, r.stdout)
        self.assertIn("scp:   Incident.Read", r.stdout)
        self.assertIn("stream mde-alerts: OK (delegated Alert.Read)", r.stdout)
        self.assertNotEqual(self.assert_secret_file(self.rt_file("contoso")), token)
        # v1 endpoint: resource= instead of scope=
        conf1 = self.config(name="v1.conf", token_endpoint="v1")
        os.unlink(self.rt_file("contoso"))
        a = Authorize(conf1, "contoso", "--port", str(harness.free_port()))
        url = a.url()
        self.assertIn("/oauth2/authorize?", url)
        self.assertIn("resource=https%3A%2F%2Fapi.security.microsoft.com", url)
        self.sign_in(url)
        code, err = a.finish()
        self.assertEqual(code, 0, err)
        self.assert_secret_file(self.rt_file("contoso"))

    def test_authorize_no_browser(self):
        conf = self.config()
        a = Authorize(conf, "contoso", "--no-browser", stdin=True)
        res = self.sign_in(a.url(), follow=False)
        self.assertTrue(res.location.startswith("http://localhost:8400/?code="), res.location)
        a.paste(res.location)
        code, err = a.finish()
        self.assertEqual(code, 0, err)
        self.assertIn("Paste the whole address", err)
        self.assert_secret_file(self.rt_file("contoso"))
        r = harness.run_forwarder(conf, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(set(self.delivered()),
                         set(harness.expected_records(self.emu, tenants=("contoso",))))

    def test_authorize_errors(self):
        conf = self.config()
        path = self.rt_file("contoso")

        def failing(*args, browse=None, paste=None, stdin=False, keep_stdin=False):
            a = Authorize(conf, "contoso", *args, stdin=stdin or paste is not None)
            if browse is not None or paste is not None:
                url = a.url()
                if browse is not None:
                    res = browse(url)
                    if paste is not None:
                        a.paste(paste(res))
            code, err = a.finish(keep_stdin=keep_stdin)
            self.assertEqual(code, 1, err)
            self.assertFalse(os.path.exists(path), err)
            return err
        port = ("--port", str(harness.free_port()))
        err = failing(*port, browse=lambda u: self.sign_in(u, cancel=True))
        self.assertIn("sign-in cancelled", err)
        self.emu.control("consent", {"tenant": "contoso", "granted": False})
        err = failing(*port, browse=lambda u: self.sign_in(u, consent="decline"))
        self.assertIn("consent denied (AADSTS65004)", err)
        self.emu.control("consent", {"tenant": "contoso", "granted": True})
        # the sign-in page would show AADSTS50011: said before any browser is opened
        self.emu.control("app", {"tenant": "contoso",
                                 "redirect_uris": ["https://portal.azure.com"]})
        err = failing(*port)
        self.assertIn("redirect URI not registered (AADSTS50011)", err)
        self.assertIn("http://localhost:", err)
        self.emu.control("app", {"tenant": "contoso", "redirect_uris": None})
        # a token of another directory is refused and not stored
        self.emu.control("faults", {"tenant": "contoso", "token_tid": "fabrikam"})
        err = failing(*port, browse=self.sign_in)
        self.assertIn("wrong tenant", err)
        self.assertIn(self.t["fabrikam"]["tenant_id"], err)
        self.emu.control("reset-faults", {})
        # an account of another tenant: Entra shows AADSTS50020 on its page; pasted, it is named
        err = failing("--no-browser",
                      browse=lambda u: self.sign_in(u, "fabrikam", follow=False),
                      paste=lambda res: res.error)
        self.assertIn("wrong tenant (AADSTS50020", err)
        # a redirect of another sign-in
        err = failing("--no-browser", browse=lambda u: self.sign_in(u, follow=False),
                      paste=lambda res: res.location.replace("state=", "state=x"))
        self.assertIn("state does not match", err)
        # nobody signs in
        err = failing("--timeout", "2s", *port)
        self.assertIn("no sign-in redirect arrived within 2 s", err)
        err = failing("--no-browser", "--timeout", "2s", stdin=True, keep_stdin=True)
        self.assertIn("nothing pasted within 2 s", err)
        err = failing("--no-browser", stdin=True)  # end of input
        self.assertIn("sign-in cancelled (nothing pasted)", err)
        # usage and configuration errors exit 2
        for args, msg in ((["contoso", "--port", "x"], "--port x"),
                          (["nosuch"], "no [tenant nosuch]"), ([], "usage:")):
            r = harness.run_forwarder(conf, "authorize", *args, timeout=60)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(msg, r.stderr)
        conf2 = self.config(refresh=(), tenants=("fabrikam",), name="secret.conf")
        r = harness.run_forwarder(conf2, "authorize", "fabrikam", timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("auth = secret", r.stderr)

    # ---- the daemon on refresh tokens --------------------------------------------------------

    def test_daemon_three_token_lifetimes(self):
        lifetime = 6
        conf = self.config()
        self.authorize(conf)
        first = self.assert_secret_file(self.rt_file("contoso"))
        self.emu.control("faults", {"tenant": "contoso", "token_lifetime": lifetime})
        self.emu.control("reset-stats", {})
        self.fw = harness.Forwarder(conf, log_path=os.path.join(self.dir, "fw.log"))
        start = time.monotonic()
        added = 0
        while time.monotonic() - start < 3 * lifetime + 3:
            for stream in harness.STREAMS:
                self.emu.control("records", {"tenant": "contoso", "stream": stream, "count": 1})
                added += 1
            time.sleep(2)
        expected = harness.expected_records(self.emu, tenants=("contoso",))
        harness.wait_for(lambda: set(expected) <= set(self.delivered()), 60,
                         "every record, also those added while tokens expired")
        self.assertEqual(self.fw.stop(), 0, self.fw.log()[-3000:])
        log = self.fw.log()
        self.assertNotIn("AADSTS70008", log)
        self.assertNotIn("level=error", log)
        stats = self.emu.control("stats")
        # every resource refreshed in each lifetime, all on single-use refresh tokens
        self.assertGreaterEqual(stats["tokens_issued"]["contoso"], 3 * 3, stats)
        self.assertEqual(stats["token_errors"].get("contoso", {}), {})
        last = self.assert_secret_file(self.rt_file("contoso"))
        self.assertNotEqual(first, last)
        self.assertEqual(set(self.delivered()) - set(expected), set())
        self.assertEqual(len(expected), 3 * RECORDS + added)

    def test_revoked_refresh_token_fails_one_tenant(self):
        conf = self.config(refresh=("contoso", "fabrikam"))
        self.authorize(conf, "contoso")
        self.authorize(conf, "fabrikam")
        self.emu.control("faults", {"token_lifetime": 4})
        self.fw = harness.Forwarder(conf, log_path=os.path.join(self.dir, "fw.log"))
        both = harness.expected_records(self.emu, tenants=("contoso", "fabrikam"))
        harness.wait_for(lambda: set(both) <= set(self.delivered()), 60, "the first records")
        self.emu.control("revoke-refresh-tokens", {"tenant": "contoso"})
        advice = "run `defender-forwarder authorize contoso` again"
        harness.wait_for(lambda: advice in self.fw.log(), 30, "the advice to authorize again")
        for stream in harness.STREAMS:
            for tenant in ("contoso", "fabrikam"):
                self.emu.control("records", {"tenant": tenant, "stream": stream, "count": 2})
        later = harness.expected_records(self.emu, tenants=("fabrikam",))
        harness.wait_for(lambda: set(later) <= set(self.delivered()), 60,
                         "fabrikam's new records while contoso fails")
        time.sleep(3)
        got = {k for k in self.delivered() if k[0] == "contoso"}
        self.assertEqual(got, {k for k in both if k[0] == "contoso"},
                         "contoso delivered without a refresh token")
        self.assertTrue(self.fw.running())
        lines = [l for l in self.fw.log().splitlines() if advice in l]
        self.assertTrue(all("tenant=contoso" in l for l in lines), lines)
        self.assertFalse(any("tenant=fabrikam" in l and "level=error" in l
                             for l in self.fw.log().splitlines()))
        # stopped while a tenant fails: the daemon's exit status says so
        self.assertEqual(self.fw.stop(), 1)

    # ---- onboard -----------------------------------------------------------------------------

    def test_onboard_mix(self):
        names = [t["name"] for t in self.emu.tenants]  # contoso fabrikam northwind tenant4 tenant5
        wrong = os.path.join(self.dir, "wrong.secret")
        with open(wrong, "w") as f:
            f.write("not-the-secret")
        os.chmod(wrong, 0o600)
        conf = self.config(refresh=("contoso", "tenant5"), tenants=names,
                           secret_files={"tenant4": wrong})
        self.authorize(conf, "contoso")
        # fabrikam: the MDE API refuses the app (not allowed in the portal), Graph role missing
        self.emu.control("app", {"tenant": "fabrikam", "blocked_apis": ["mde-alerts"]})
        self.emu.control("consent", {"tenant": "fabrikam",
                                     "roles": ["Incident.Read.All", "Alert.Read.All"]})
        self.emu.control("consent", {"tenant": "northwind", "granted": False})
        r = harness.run_forwarder(conf, "onboard", timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        rows = {l.split()[0]: l.split(None, 3) for l in r.stdout.splitlines()[1:6]}
        # the streams in their table order: Graph first
        self.assertEqual(r.stdout.splitlines()[0].split(),
                         ["TENANT", "AUTH", "TOKEN", "graph-alerts", "m365d-incidents",
                          "mde-alerts"])
        self.assertEqual(rows["contoso"][1:3], ["refresh_token", "delegated"])
        self.assertEqual(rows["contoso"][3].split(), ["OK", "OK", "OK"])
        self.assertEqual(rows["fabrikam"][2], "application")
        self.assertRegex(rows["fabrikam"][3],
                         r"^missing SecurityAlert\.Read\.All +OK +app not allowed$")
        self.assertIn("no consent", rows["northwind"][2] + " " + rows["northwind"][3])
        self.assertIn("bad credential", " ".join(rows["tenant4"]))
        self.assertIn("run authorize", " ".join(rows["tenant5"]))
        self.assertIn("1 of 5 tenants ready", r.stdout)
        self.assertIn(f"consent URL (v1): {self.emu.url}/common/oauth2/authorize?prompt=consent"
                      f"&client_id={self.t['northwind']['client_id']}", r.stdout)
        self.assertIn("AADSTS7000215", r.stdout)
        self.assertIn("Settings > Endpoints > APIs > SIEM > MSSP", r.stdout)
        self.assertNotIn(self.t["tenant4"]["client_secret"], r.stdout + r.stderr)
        j = harness.run_forwarder(conf, "onboard", "--json", timeout=300)
        self.assertEqual(j.returncode, 1)
        doc = json.loads(j.stdout)
        self.assertEqual((doc["ready"], doc["total"]), (1, 5))
        by = {t["tenant"]: t for t in doc["tenants"]}
        self.assertEqual(by["contoso"]["token"]["kind"], "delegated")
        self.assertTrue(by["contoso"]["ready"])
        self.assertEqual(by["fabrikam"]["streams"]["mde-alerts"],
                         {"verdict": "app_not_allowed", "http_status": 403,
                          "detail": by["fabrikam"]["streams"]["mde-alerts"]["detail"]})
        self.assertEqual(by["fabrikam"]["streams"]["graph-alerts"]["permission"],
                         "SecurityAlert.Read.All")
        self.assertEqual(by["northwind"]["token"]["status"], "no_consent")
        self.assertIn("/v2.0/adminconsent?", by["northwind"]["consent_urls"]["v2"])
        self.assertEqual(by["tenant4"]["token"]["status"], "credential")
        self.assertEqual(by["tenant5"]["token"]["status"], "authorize")
        self.assertEqual({v["verdict"] for v in by["northwind"]["streams"].values()},
                         {"no_consent", "not_configured"})  # graph-incidents is not configured
        self.assertEqual(by["northwind"]["streams"]["graph-incidents"]["verdict"],
                         "not_configured")
        # an API that keeps failing is an API error with its status; all ready exits 0
        self.emu.control("faults", {"tenant": "contoso",
                                    "status_5xx": {"count": 100, "status": 503}})
        ok = self.config(refresh=("contoso",), name="ready.conf",
                         forwarder={"max_retries": "1"})
        r = harness.run_forwarder(ok, "onboard", timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("API error 503", r.stdout)
        self.emu.control("reset-faults", {})
        r = harness.run_forwarder(ok, "onboard", timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 of 1 tenants ready", r.stdout)


if __name__ == "__main__":
    unittest.main()
