"""Self-test of the emulator's interactive Entra ID legs, driven by the
scripted browser (browser.py): sign-in and consent pages, the errors shown
on the page or sent to the redirect URI, PKCE, admin consent, refresh-token
rotation modes and the fault and app knobs used by the MSSP tests."""

import hashlib
import http.server
import threading
import urllib.parse

from browser import Browser
from emutest import GRAPH, M365D, MDE, EmulatorTestCase, jwt_claims
import certs  # noqa: I100


class Listener:
    """A local redirect target that records the query it got."""

    def __init__(self):
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                got.append(dict(urllib.parse.parse_qsl(
                    urllib.parse.urlsplit(self.path).query)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TestSignIn(EmulatorTestCase):
    def setUp(self):
        super().setUp()
        self.browser = Browser(self.info["ca_file"])
        self.listener = Listener()
        self.redirect = "http://localhost:%d/" % self.listener.port
        for name in self.t:
            self.control("POST", "/_emulator/consent",
                         {"tenant": name, "granted": True})
            self.control("POST", "/_emulator/app",
                         {"tenant": name, "redirect_uris": None,
                          "blocked_apis": []})

    def tearDown(self):
        self.listener.close()

    def url(self, tenant, v2=True, segment=None, **extra):
        t = self.t[tenant]
        params = {"client_id": t["client_id"], "response_type": "code",
                  "redirect_uri": self.redirect, "state": "st-1",
                  "response_mode": "query"}
        if v2:
            params["scope"] = M365D + "/.default offline_access"
        else:
            params["resource"] = M365D
        params.update(extra)
        return "%s/%s/oauth2/%sauthorize?%s" % (
            self.info["url"], segment or t["tenant_id"], "v2.0/" if v2 else "",
            urllib.parse.urlencode(params))

    def sign_in(self, tenant, url, **kw):
        t = self.t[tenant]
        return self.browser.sign_in(url, kw.pop("login", t["user"]),
                                    kw.pop("password", t["user_password"]),
                                    **kw)

    def redeem(self, tenant, code, v2=True, **extra):
        t = self.t[tenant]
        form = {"grant_type": "authorization_code", "code": code,
                "client_id": t["client_id"],
                "client_secret": t["client_secret"],
                "redirect_uri": self.redirect}
        form.update(extra)
        return self.token_request(tenant, v2=v2, **form)

    def test_sign_in_follows_redirect_and_pkce(self):
        verifier = "v" * 43
        challenge = certs.b64url(hashlib.sha256(verifier.encode()).digest())
        url = self.url("contoso", code_challenge=challenge,
                       code_challenge_method="S256")
        res = self.sign_in("contoso", url)
        self.assertEqual(res.status, 302)
        self.assertEqual(res.followed[0], 200)
        got = self.listener.got[-1]
        self.assertEqual(got["state"], "st-1")
        # without or with a wrong verifier the code is refused
        status, body, _ = self.redeem("contoso", got["code"])
        self.assertAad(status, body, 400, "invalid_grant", 501481)
        res = self.sign_in("contoso", url)
        code = self.listener.got[-1]["code"]
        status, body, _ = self.redeem("contoso", code, code_verifier="x" * 43)
        self.assertAad(status, body, 400, "invalid_grant", 501481)
        res = self.sign_in("contoso", url)
        code = self.listener.got[-1]["code"]
        status, body, _ = self.redeem("contoso", code, code_verifier=verifier)
        self.assertEqual(status, 200, body)
        claims = jwt_claims(body["access_token"])
        self.assertEqual(claims["tid"], self.t["contoso"]["tenant_id"])
        self.assertEqual(claims["upn"], self.t["contoso"]["user"])
        self.assertIn("Incident.Read", claims["scp"].split())
        self.assertNotIn("roles", claims)
        self.assertIn("refresh_token", body)
        # v1: the resource parameter, a session_state, a refresh token always
        res = self.sign_in("contoso", self.url("contoso", v2=False))
        got = self.listener.got[-1]
        self.assertIn("session_state", got)
        status, body, _ = self.redeem("contoso", got["code"], v2=False)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["resource"], M365D)

    def test_errors_on_the_page(self):
        # an unregistered redirect URI is shown, not redirected
        self.control("POST", "/_emulator/app", {
            "tenant": "contoso", "redirect_uris": ["https://portal.azure.com"]})
        res = self.sign_in("contoso", self.url("contoso"))
        self.assertEqual(res.status, 400)
        self.assertIn("AADSTS50011", res.error)
        self.assertIsNone(res.location)
        # the port of a registered localhost URI does not matter
        self.control("POST", "/_emulator/app", {
            "tenant": "contoso", "redirect_uris": ["http://localhost/"]})
        self.assertEqual(self.sign_in("contoso", self.url("contoso")).status,
                         302)
        # unknown tenant, unknown app
        res = self.sign_in("contoso", self.url("contoso", segment="nosuch"))
        self.assertIn("AADSTS90002", res.error)
        res = self.sign_in("contoso", self.url("contoso", client_id=GRAPH))
        self.assertIn("AADSTS700016", res.error)
        # an account of another tenant; a wrong password keeps the form
        res = self.sign_in("contoso", self.url("contoso"),
                           login=self.t["fabrikam"]["user"],
                           password=self.t["fabrikam"]["user_password"])
        self.assertIn("AADSTS50020", res.error)
        res = self.sign_in("contoso", self.url("contoso"), password="wrong")
        self.assertIn("AADSTS50126", res.error)
        self.assertEqual(len(self.listener.got), 1)

    def test_cancel_and_declined_consent_are_redirected(self):
        res = self.sign_in("contoso", self.url("contoso"), cancel=True)
        self.assertEqual(res.query()["error"], "access_denied")
        self.assertEqual(res.query()["state"], "st-1")
        self.assertNotIn("AADSTS", res.query()["error_description"])
        # no consent yet: the consent page; declining gives AADSTS65004
        self.control("POST", "/_emulator/consent",
                     {"tenant": "contoso", "granted": False})
        res = self.sign_in("contoso", self.url("contoso"), consent="decline")
        q = res.query()
        self.assertEqual(q["error"], "access_denied")
        self.assertTrue(q["error_description"].startswith("AADSTS65004"))
        # accepting grants it for the tenant (also client credentials)
        res = self.sign_in("contoso", self.url("contoso"), consent="accept")
        self.assertIn("code", res.query())
        self.secret_token("contoso", MDE)

    def test_admin_consent_and_common(self):
        t = self.t["northwind"]
        self.control("POST", "/_emulator/consent",
                     {"tenant": "northwind", "granted": False})
        query = urllib.parse.urlencode({
            "client_id": t["client_id"], "redirect_uri": self.redirect,
            "state": "b", "scope": GRAPH + "/.default"})
        url = "%s/%s/v2.0/adminconsent?%s" % (self.info["url"],
                                              t["tenant_id"], query)
        res = self.sign_in("northwind", url, consent="decline")
        q = res.query()
        self.assertEqual((q["error"], q["admin_consent"], q["state"]),
                         ("consent_required", "True", "b"))
        self.assertTrue(q["error_description"].startswith("AADSTS65004"))
        res = self.sign_in("northwind", url)
        q = res.query()
        self.assertEqual((q["admin_consent"], q["tenant"]),
                         ("True", t["tenant_id"]))
        self.secret_token("northwind", MDE)
        # the v1 MSSP onboarding link on /common: the user's tenant
        self.control("POST", "/_emulator/consent",
                     {"tenant": "northwind", "granted": False})
        query = urllib.parse.urlencode({
            "client_id": t["client_id"], "response_type": "code",
            "prompt": "consent", "sso_reload": "true",
            "redirect_uri": self.redirect})
        res = self.sign_in("northwind", "%s/common/oauth2/authorize?%s" % (
            self.info["url"], query))
        self.assertIn("code", res.query())
        self.secret_token("northwind", MDE)

    def test_rotation_modes(self):
        t = self.t["fabrikam"]
        refresh = {"grant_type": "refresh_token", "client_id": t["client_id"],
                   "client_secret": t["client_secret"]}

        def first():
            self.sign_in("fabrikam", self.url("fabrikam"))
            _, body, _ = self.redeem("fabrikam", self.listener.got[-1]["code"])
            return body["refresh_token"]

        def use(token, **extra):
            return self.token_request("fabrikam", refresh_token=token,
                                      **refresh, **extra)
        # single-use (default): the replaced token is refused at once
        rt1 = first()
        status, body, _ = use(rt1)
        self.assertEqual(status, 200, body)
        status, body, _ = use(rt1)
        self.assertAad(status, body, 400, "invalid_grant", 70008)
        # grace: once more; keep (Microsoft's documented behaviour): always
        for mode, uses in (("grace", 1), ("keep", 3)):
            self.control("POST", "/_emulator/faults", {
                "tenant": "fabrikam", "refresh_rotation": mode})
            rt = first()
            self.assertEqual(use(rt)[0], 200)
            for _ in range(uses):
                self.assertEqual(use(rt)[0], 200)
            if mode == "grace":
                self.assertEqual(use(rt)[0], 400)
        # a refresh token serves any resource the app is consented for
        status, body, _ = use(first(), scope=MDE + "/.default")
        self.assertEqual(jwt_claims(body["access_token"])["aud"], MDE)

    def test_token_tid_fault_and_blocked_api(self):
        other = self.t["fabrikam"]["tenant_id"]
        self.control("POST", "/_emulator/faults",
                     {"tenant": "contoso", "token_tid": "fabrikam"})
        claims = jwt_claims(self.secret_token("contoso", MDE))
        self.assertEqual(claims["tid"], other)
        self.control("POST", "/_emulator/reset-faults", {})
        self.control("POST", "/_emulator/app", {
            "tenant": "contoso", "blocked_apis": ["mde-alerts"]})
        status, body = self.api_json("contoso", MDE, "/api/alerts?$top=1")
        self.assertEqual(status, 403, body)
        self.assertIn("not allowed", body["error"]["message"])
        status, _ = self.api_json("contoso", M365D, "/api/incidents?$top=1")
        self.assertEqual(status, 200)
        status, body = self.control("POST", "/_emulator/app", {
            "tenant": "contoso", "blocked_apis": ["nope"]})
        self.assertEqual(status, 400)
