"""Self-test of the Defender emulator: files, TLS, Entra ID tokens.

Run all self-tests: ``python3 -m unittest discover -s tests/emulator``
(about 15 s).  The list APIs, paging, rate limits and faults are tested in
test_emulator_api.py; helpers are in emutest.py.
"""

import base64
import http.client
import json
import os
import ssl
import stat
import tempfile
import time
import unittest
import urllib.parse
import uuid
import warnings

from emutest import (GRAPH, GUID_RE, M365D, MDE, EmulatorTestCase,
                     jwt_claims, start_emulator, stop_emulator)
import certs  # noqa: I100  (emutest puts this directory on sys.path)
import tenants


class TestSetup(EmulatorTestCase):
    def test_emulator_json_and_files(self):
        self.assertEqual(self.info["url"], "https://127.0.0.1:%d" % self.port)
        self.assertEqual(self.info["ca_file"],
                         os.path.join(self.dir, "ca.pem"))
        self.assertEqual([t["name"] for t in self.info["tenants"]],
                         ["contoso", "fabrikam", "northwind"])
        for t in self.info["tenants"]:
            for key in ("tenant_id", "client_id"):
                self.assertRegex(t[key], GUID_RE)
            ref = tenants.Tenant(t["name"], 7)  # deterministic from seed
            self.assertEqual((t["tenant_id"], t["client_id"],
                              t["client_secret"]),
                             (ref.tenant_id, ref.client_id,
                              ref.client_secret))
            self.assertEqual(t["certificate_file"],
                             os.path.join(self.dir, t["name"] + "-cert.pem"))
            self.assertEqual(t["private_key_file"],
                             os.path.join(self.dir, t["name"] + "-key.pem"))
            mode = stat.S_IMODE(os.stat(t["private_key_file"]).st_mode)
            self.assertEqual(mode, 0o600)
            secret = os.path.join(self.dir, "secrets", t["name"] + ".secret")
            self.assertEqual(stat.S_IMODE(os.stat(secret).st_mode), 0o600)
            with open(secret, encoding="utf-8") as f:
                self.assertEqual(f.read(), t["client_secret"])
        status, body = self.control("GET", "/_emulator/info")
        self.assertEqual(body, self.info)

    def test_tls(self):
        for host in ("127.0.0.1", "localhost"):
            conn = self.conn(host)
            status, _, _ = self.request("GET", "/_emulator/stats", conn=conn)
            conn.close()
            self.assertEqual(status, 200)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(self.info["ca_file"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        conn = http.client.HTTPSConnection("127.0.0.1", self.port,
                                           context=old, timeout=10)
        with self.assertRaises((ssl.SSLError, OSError)):
            conn.request("GET", "/_emulator/stats")
            conn.getresponse()
        conn.close()

    def test_keep_alive_and_unknown_paths(self):
        conn = self.conn()
        for _ in range(3):
            status, resp, raw = self.request("GET", "/_emulator/stats",
                                             conn=conn)
            self.assertEqual(status, 200)
            self.assertEqual(int(resp.getheader("Content-Length")), len(raw))
        sock = conn.sock
        status, resp, raw = self.request("GET", "/nope", conn=conn)
        self.assertEqual(status, 404)
        self.assertIs(conn.sock, sock)  # same connection reused
        conn.close()
        status, body = self.control("GET", "/_emulator/nope")
        self.assertEqual(status, 404)


class TestTokens(EmulatorTestCase):
    def test_v2_client_secret(self):
        t = self.t["contoso"]
        status, body, resp = self.token_request(
            "contoso", grant_type="client_credentials",
            client_id=t["client_id"], client_secret=t["client_secret"],
            scope=MDE + "/.default")
        self.assertEqual(status, 200)
        self.assertEqual(set(body), {"token_type", "expires_in",
                                     "ext_expires_in", "access_token"})
        self.assertEqual(body["expires_in"], 3599)
        self.assertEqual(body["ext_expires_in"], 3599)
        token = body["access_token"]
        header = json.loads(certs.b64url_decode(token.split(".")[0]))
        self.assertEqual(header, {"typ": "JWT", "alg": "HS256",
                                  "kid": "emu"})
        c = jwt_claims(token)
        self.assertEqual(c["aud"], MDE)
        self.assertEqual(c["iss"], "https://login.microsoftonline.com/%s/"
                                   "v2.0" % t["tenant_id"])
        self.assertEqual((c["tid"], c["azp"], c["azpacr"], c["ver"]),
                         (t["tenant_id"], t["client_id"], "1", "2.0"))
        self.assertEqual(c["roles"], ["Alert.Read.All"])
        self.assertEqual(c["exp"] - c["iat"], 3599)
        self.assertLessEqual(c["nbf"], time.time() + 1)
        self.assertIn("oid", c)
        self.assertIn("sub", c)

    def test_v1_client_secret_and_basic_auth(self):
        t = self.t["fabrikam"]
        status, body, _ = self.token_request(
            "fabrikam", v2=False, grant_type="client_credentials",
            client_id=t["client_id"], client_secret=t["client_secret"],
            resource=M365D)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["expires_in"], "3599")
        self.assertEqual(body["ext_expires_in"], "3599")
        self.assertEqual(body["resource"], M365D)
        self.assertTrue(body["expires_on"].isdigit())
        self.assertTrue(body["not_before"].isdigit())
        c = jwt_claims(body["access_token"])
        self.assertEqual(c["iss"], "https://sts.windows.net/%s/"
                         % t["tenant_id"])
        self.assertEqual((c["appid"], c["appidacr"], c["ver"]),
                         (t["client_id"], "1", "1.0"))
        self.assertEqual(c["roles"], ["Incident.Read.All"])
        # graph roles, tenant given by domain name, HTTP Basic client auth
        basic = base64.b64encode(("%s:%s" % (t["client_id"], urllib.parse
                                  .quote_plus(t["client_secret"])))
                                 .encode()).decode()
        status, resp, raw = self.request(
            "POST", "/fabrikam.onmicrosoft.com/oauth2/v2.0/token",
            urllib.parse.urlencode({"grant_type": "client_credentials",
                                    "scope": GRAPH + "/.default"}),
            {"Authorization": "Basic " + basic,
             "Content-Type": "application/x-www-form-urlencoded"})
        body = json.loads(raw)
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(jwt_claims(body["access_token"])["roles"]),
                         ["SecurityAlert.Read.All",
                          "SecurityIncident.Read.All"])

    def test_errors(self):
        t, other = self.t["contoso"], self.t["fabrikam"]
        base = {"grant_type": "client_credentials",
                "client_id": t["client_id"], "scope": MDE + "/.default"}
        status, body, _ = self.token_request(
            "contoso", client_secret="wrong", **base)
        self.assertAad(status, body, 401, "invalid_client", 7000215)
        status, body, _ = self.token_request("contoso", **base)
        self.assertAad(status, body, 401, "invalid_client", 7000218)
        status, body, _ = self.token_request(
            "contoso", segment=str(uuid.uuid4()),
            client_secret=t["client_secret"], **base)
        self.assertAad(status, body, 400, "invalid_request", 90002)
        wrong_app = dict(base, client_id=other["client_id"])
        status, body, _ = self.token_request(
            "contoso", client_secret=other["client_secret"], **wrong_app)
        self.assertAad(status, body, 400, "unauthorized_client", 700016)
        status, body, _ = self.token_request(
            "contoso", client_secret=t["client_secret"],
            **dict(base, scope="https://nope.example.com/.default"))
        self.assertAad(status, body, 400, "invalid_resource", 500011)
        status, body, _ = self.token_request(
            "contoso", client_secret=t["client_secret"],
            **dict(base, scope=MDE + "/Alert.Read.All"))
        self.assertEqual((status, body["error"]), (400, "invalid_scope"))
        status, body, _ = self.token_request(
            "contoso", client_secret=t["client_secret"],
            **dict(base, grant_type="password"))
        self.assertAad(status, body, 400, "unsupported_grant_type", 70003)
        status, body, _ = self.token_request(
            "contoso", v2=False, client_secret=t["client_secret"],
            grant_type="client_credentials", client_id=t["client_id"])
        self.assertAad(status, body, 400, "invalid_request", 900144)

    def test_consent_and_roles(self):
        t = self.t["northwind"]
        self.control("POST", "/_emulator/consent",
                     {"tenant": "northwind", "granted": False})
        try:
            status, body, _ = self.token_request(
                "northwind", grant_type="client_credentials",
                client_id=t["client_id"], client_secret=t["client_secret"],
                scope=MDE + "/.default")
            self.assertAad(status, body, 400, "invalid_grant", 65001)
        finally:
            self.control("POST", "/_emulator/consent",
                         {"tenant": "northwind", "granted": True})
        self.control("POST", "/_emulator/consent", {
            "tenant": "northwind",
            "roles": ["Incident.Read.All", "AdvancedHunting.Read.All"]})
        try:
            c = jwt_claims(self.secret_token("northwind", M365D))
            self.assertEqual(c["roles"], ["Incident.Read.All",
                                          "AdvancedHunting.Read.All"])
            token = self.secret_token("northwind", MDE)
            self.assertNotIn("roles", jwt_claims(token))
            status, _, raw = self.request(
                "GET", "/api/alerts", headers={
                    "Authorization": "Bearer " + token})
            self.assertEqual(status, 403)
            self.assertEqual(json.loads(raw)["error"]["code"], "Forbidden")
        finally:
            self.control("POST", "/_emulator/consent", {
                "tenant": "northwind", "roles": list(tenants.DEFAULT_ROLES)})

    def _assertion(self, tenant, alg="PS256", aud=None, key_tenant=None,
                   thumb="x5t#S256", **over):
        t = self.t[tenant]
        k = self.t[key_tenant or tenant]
        x5t, x5t256 = certs.thumbprints(k["certificate_file"])
        header = {"alg": alg, "typ": "JWT",
                  thumb: x5t256 if thumb == "x5t#S256" else x5t}
        now = int(time.time())
        claims = {"aud": aud or "%s/%s/oauth2/v2.0/token" % (
            self.info["url"], t["tenant_id"]),
            "iss": t["client_id"], "sub": t["client_id"],
            "jti": str(uuid.uuid4()), "nbf": now, "iat": now,
            "exp": now + 600}
        claims.update(over)
        signing = "%s.%s" % (certs.b64url(json.dumps(header).encode()),
                             certs.b64url(json.dumps(claims).encode()))
        sig = certs.sign(k["private_key_file"], signing.encode(), alg)
        return signing + "." + certs.b64url(sig)

    def _assert_token(self, tenant, assertion, v2=True, resource=MDE):
        t = self.t[tenant]
        form = {"grant_type": "client_credentials",
                "client_id": t["client_id"],
                "client_assertion_type": "urn:ietf:params:oauth:"
                                         "client-assertion-type:jwt-bearer",
                "client_assertion": assertion}
        if v2:
            form["scope"] = resource + "/.default"
        else:
            form["resource"] = resource
        status, body, _ = self.token_request(tenant, v2, **form)
        return status, body

    def test_certificate_assertion(self):
        t = self.t["contoso"]
        status, body = self._assert_token("contoso",
                                          self._assertion("contoso"))
        self.assertEqual(status, 200, body)
        self.assertEqual(jwt_claims(body["access_token"])["azpacr"], "2")
        v1_aud = "https://localhost:%d/%s/oauth2/token" % (
            self.port, t["tenant_id"])
        status, body = self._assert_token(
            "contoso", self._assertion("contoso", "RS256", v1_aud,
                                       thumb="x5t"), v2=False)
        self.assertEqual(status, 200, body)
        self.assertEqual(jwt_claims(body["access_token"])["appidacr"], "2")
        now = int(time.time())
        bad = [
            self._assertion("contoso", key_tenant="fabrikam"),  # thumbprint
            self._assertion("contoso", aud="https://127.0.0.1:1/x/token"),
            self._assertion("contoso", exp=now - 3600, nbf=now - 4000),
            self._assertion("contoso", nbf=now + 3600, exp=now + 4000),
            self._assertion("contoso", iss=str(uuid.uuid4())),
            self._assertion("contoso", alg="RS256")[:-8] + "AAAAAAAA",
            "not.a.jwt",
        ]
        for assertion in bad:
            status, body = self._assert_token("contoso", assertion)
            self.assertAad(status, body, 401, "invalid_client", 700027)

    def test_authorization_code_and_refresh_rotation(self):
        t = self.t["fabrikam"]
        status, body = self.control("POST", "/_emulator/auth-code", {
            "tenant": "fabrikam", "redirect_uri": "https://localhost/cb",
            "resource": M365D})
        code = body["code"]
        form = {"grant_type": "authorization_code", "code": code,
                "client_id": t["client_id"],
                "client_secret": t["client_secret"],
                "redirect_uri": "https://localhost/cb"}
        status, body, _ = self.token_request("fabrikam", v2=False, **form)
        self.assertEqual(status, 200, body)
        self.assertIn("refresh_token", body)
        c = jwt_claims(body["access_token"])
        self.assertEqual(c["aud"], M365D)
        self.assertIn("Incident.Read", c["scp"].split())
        # a delegated token is accepted by the API
        status, _, _ = self.request("GET", "/api/incidents?$top=1", headers={
            "Authorization": "Bearer " + body["access_token"]})
        self.assertEqual(status, 200)
        status, again, _ = self.token_request("fabrikam", v2=False, **form)
        self.assertAad(status, again, 400, "invalid_grant", 54005)
        rt1 = body["refresh_token"]
        refresh = {"grant_type": "refresh_token", "client_id": t["client_id"],
                   "client_secret": t["client_secret"]}
        status, body, _ = self.token_request(
            "fabrikam", v2=False, refresh_token=rt1, resource=M365D,
            **refresh)
        self.assertEqual(status, 200, body)
        rt2 = body["refresh_token"]
        self.assertNotEqual(rt1, rt2)
        # single-use (the default): the replaced token is refused at once
        status, body, _ = self.token_request(
            "fabrikam", v2=True, refresh_token=rt1, **refresh)
        self.assertAad(status, body, 400, "invalid_grant", 70008)
        status, body, _ = self.token_request(
            "fabrikam", v2=True, refresh_token="1.Aunknown", **refresh)
        self.assertAad(status, body, 400, "invalid_grant", 70008)
        status, body, _ = self.token_request(
            "fabrikam", v2=True, refresh_token=rt2,
            scope=GRAPH + "/.default", **refresh)
        self.assertEqual(status, 200, body)
        rt3 = body["refresh_token"]
        self.assertEqual(jwt_claims(body["access_token"])["aud"], GRAPH)
        status, body = self.control("POST", "/_emulator/revoke-refresh-"
                                            "tokens", {"tenant": "fabrikam"})
        self.assertGreaterEqual(body["revoked"], 1)
        status, body, _ = self.token_request(
            "fabrikam", v2=True, refresh_token=rt3, **refresh)
        self.assertAad(status, body, 400, "invalid_grant", 70008)


class TestDeterminism(unittest.TestCase):
    def test_same_seed_same_data_and_cert_reuse(self):
        with tempfile.TemporaryDirectory() as d1, \
                tempfile.TemporaryDirectory() as d2:
            args = ("--records", "5", "--tenants", "4", "--seed", "3",
                    "--streams", "mde-alerts")
            runs = []
            for d in (d1, d2, d1):
                proc, info = start_emulator(d, *args)
                try:
                    ctx = ssl.create_default_context(cafile=info["ca_file"])
                    conn = http.client.HTTPSConnection(
                        "127.0.0.1", info["port"], context=ctx)
                    conn.request("GET", "/_emulator/records?tenant=tenant4&"
                                        "stream=mde-alerts")
                    recs = json.loads(conn.getresponse().read())["records"]
                    conn.request("GET", "/_emulator/records?tenant=contoso&"
                                        "stream=graph-alerts")
                    empty = json.loads(conn.getresponse().read())["count"]
                    conn.close()
                    with open(info["ca_file"], "rb") as f:
                        ca = f.read()
                finally:
                    self.assertEqual(stop_emulator(proc), 0)
                runs.append((info, recs, ca, empty))
            (i1, r1, ca1, e1), (i2, r2, _, _), (_, _, ca3, _) = runs
            self.assertEqual([t["name"] for t in i1["tenants"]],
                             ["contoso", "fabrikam", "northwind", "tenant4"])
            def strip(info):
                return [(t["tenant_id"], t["client_id"], t["client_secret"])
                        for t in info["tenants"]]
            self.assertEqual(strip(i1), strip(i2))
            self.assertEqual(sorted(r["id"] for r in r1),
                             sorted(r["id"] for r in r2))
            self.assertEqual(sorted(r["title"] for r in r1),
                             sorted(r["title"] for r in r2))
            self.assertEqual(ca1, ca3)  # CA reused from the directory
            self.assertEqual(e1, 0)  # stream not in --streams starts empty


if __name__ == "__main__":
    unittest.main()
