"""Shared helpers of the emulator self-tests (test_emulator*.py).

``EmulatorTestCase`` starts one emulator subprocess per test class on
127.0.0.1 with an ephemeral port (``--records 40 --seed 7 --rate-scale
100``) and offers small HTTPS helpers.
"""

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import certs  # noqa: E402  pylint: disable=wrong-import-position

EMULATOR = os.path.join(HERE, "defender_emulator.py")
MDE = "https://api.securitycenter.microsoft.com"
M365D = "https://api.security.microsoft.com"
GRAPH = "https://graph.microsoft.com"
WATP = "https://securitycenter.onmicrosoft.com/windowsatpservice"
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}$")


def start_emulator(directory, *extra):
    """Start an emulator; return (process, emulator.json dict)."""
    ready = os.path.join(directory, "ready")
    proc = subprocess.Popen(
        [sys.executable, EMULATOR, "--dir", directory, "--port", "0",
         "--ready-file", ready] + list(extra),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not os.path.exists(ready):
        if proc.poll() is not None:
            raise RuntimeError("emulator exited: %s" %
                               proc.stderr.read().decode())
        if time.time() > deadline:
            proc.kill()
            raise RuntimeError("emulator did not become ready")
        time.sleep(0.05)
    with open(os.path.join(directory, "emulator.json"),
              encoding="utf-8") as f:
        return proc, json.load(f)


def stop_emulator(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=15)
    finally:
        proc.stderr.close()
    return code


def norm(ts):
    """Comparable form of an ISO time with 0-7 fractional digits."""
    ts = ts.rstrip("Z")
    if "." not in ts:
        ts += "."
    return ts.ljust(27, "0")


def jwt_claims(token):
    return json.loads(certs.b64url_decode(token.split(".")[1]))


class EmulatorTestCase(unittest.TestCase):
    """One emulator for all tests of this class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.proc, cls.info = start_emulator(
            cls.dir, "--records", "40", "--seed", "7", "--rate-scale", "100")
        cls.port = cls.info["port"]
        cls.ctx = ssl.create_default_context(cafile=cls.info["ca_file"])
        cls.t = {t["name"]: t for t in cls.info["tenants"]}
        cls.tokens = {}

    @classmethod
    def tearDownClass(cls):
        code = stop_emulator(cls.proc)
        cls.exit_code = code
        assert code == 0, "emulator exit status %s" % code
        assert not os.path.exists(os.path.join(cls.dir, "emulator.json"))
        cls.tmp.cleanup()

    def setUp(self):
        self.control("POST", "/_emulator/reset-faults", {})

    # -- HTTP helpers -------------------------------------------------
    def conn(self, host="127.0.0.1"):
        return http.client.HTTPSConnection(host, self.port, context=self.ctx,
                                           timeout=30)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Return (status, headers, raw body)."""
        own = conn is None
        conn = conn or self.conn()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp, data
        finally:
            if own:
                conn.close()

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        status, _, raw = self.request(method, path, data, {
            "Content-Type": "application/json"})
        return status, json.loads(raw)

    def token_request(self, tenant, v2=True, segment=None, **form):
        seg = segment or self.t[tenant]["tenant_id"]
        path = "/%s/oauth2/%stoken" % (seg, "v2.0/" if v2 else "")
        status, resp, raw = self.request(
            "POST", path, urllib.parse.urlencode(form),
            {"Content-Type": "application/x-www-form-urlencoded"})
        return status, json.loads(raw), resp

    def secret_token(self, tenant, resource, v2=True):
        t = self.t[tenant]
        form = {"grant_type": "client_credentials",
                "client_id": t["client_id"],
                "client_secret": t["client_secret"]}
        if v2:
            form["scope"] = resource + "/.default"
        else:
            form["resource"] = resource
        status, body, _ = self.token_request(tenant, v2, **form)
        self.assertEqual(status, 200, body)
        return body["access_token"]

    def token(self, tenant, resource):
        key = (tenant, resource)
        if key not in self.tokens:
            self.tokens[key] = self.secret_token(tenant, resource)
        return self.tokens[key]

    def api(self, tenant, resource, path, conn=None, headers=None):
        hdrs = {"Authorization": "Bearer " + self.token(tenant, resource)}
        hdrs.update(headers or {})
        status, resp, raw = self.request("GET", path, headers=hdrs,
                                         conn=conn)
        return status, resp, raw

    def api_json(self, tenant, resource, path):
        status, _, raw = self.api(tenant, resource, path)
        return status, json.loads(raw)

    def walk(self, tenant, resource, path):
        """Follow @odata.nextLink; return (records, pages)."""
        out, pages = [], 0
        while path:
            status, body = self.api_json(tenant, resource, path)
            self.assertEqual(status, 200, body)
            out.extend(body["value"])
            pages += 1
            link = body.get("@odata.nextLink")
            if link:
                url = urllib.parse.urlsplit(link)
                self.assertEqual(url.scheme, "https")
                self.assertEqual(url.netloc, "127.0.0.1:%d" % self.port)
                path = url.path + "?" + url.query
            else:
                path = None
        return out, pages

    def records(self, tenant, stream):
        status, body = self.control(
            "GET", "/_emulator/records?tenant=%s&stream=%s&summary=1"
            % (tenant, stream))
        self.assertEqual(status, 200, body)
        return body["records"]

    def assertAad(self, status, body, want_status, error, code):  # noqa
        self.assertEqual(status, want_status, body)
        self.assertEqual(body["error"], error)
        self.assertEqual(body["error_codes"], [code])
        desc = body["error_description"]
        self.assertTrue(desc.startswith("AADSTS%d: " % code), desc)
        self.assertRegex(desc, r"\r\nTrace ID: [0-9a-f-]{36}\r\n"
                               r"Correlation ID: [0-9a-f-]{36}\r\n"
                               r"Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
        self.assertRegex(body["timestamp"],
                         r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
        self.assertRegex(body["trace_id"], GUID_RE)
        self.assertRegex(body["correlation_id"], GUID_RE)


