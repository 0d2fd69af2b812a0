"""Secrets never leak: one run at log_level = debug (with librdkafka's own debug output on too)
with every kind of secret in use: client secrets, a certificate's private key (client
assertion), a refresh token (rotated by the token endpoint during the run), the access tokens
Entra ID issues, a Splunk HEC token and a Kafka SASL password, against a real HEC receiver and
a real Kafka broker with SASL PLAIN. Then every log line, the metrics file, every file of the
state directory and the output of `state show` and `token` are searched for each secret (and
for anything that looks like a JWT): none may be there."""

import base64
import json
import os
import re
import ssl
import sys
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import hec_harness  # noqa: E402
import kafka_harness  # noqa: E402

SASL_PASSWORD = "Sasl-Pa55word-9f1e2d3c4b5a6f70-never-logged"
HEC_TOKEN = "7c1e0d41-5c6a-4f3e-b1d2-hec0token0secret"
JWT_RE = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


def private_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def refresh_token(emu, tenant, redirect):
    """A refresh token from the authorization-code grant (what `authorize` would store)."""
    scope = "https://api.security.microsoft.com/.default offline_access"
    code = emu.control("auth-code", {"tenant": tenant["name"], "redirect_uri": redirect,
                                     "scope": scope})["code"]
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": redirect, "client_id": tenant["client_id"],
                                   "client_secret": tenant["client_secret"], "scope": scope})
    req = urllib.request.Request(f"{emu.url}/{tenant['tenant_id']}/oauth2/v2.0/token",
                                 data=form.encode(), method="POST")
    ctx = ssl.create_default_context(cafile=emu.ca_file)
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        return json.loads(r.read())["refresh_token"]


class Secrets(unittest.TestCase):
    def test_no_secret_anywhere(self):
        work = harness.Workdir("dfw-it-secrets-")
        self.addCleanup(work.cleanup)
        emu = harness.Emulator(work.path, tenants=3, records=5, args=("--no-rate-limit",))
        self.addCleanup(emu.stop)
        broker = kafka_harness.KafkaBroker(work.path, sasl_users={"dfw": SASL_PASSWORD})
        self.addCleanup(broker.stop)
        hec = hec_harness.Collector(work.path)
        self.addCleanup(hec.stop)
        secrets_dir = os.path.join(work.path, "secrets")
        os.makedirs(secrets_dir)
        hec_token = hec_harness.write_token(secrets_dir, HEC_TOKEN)
        sasl_file = private_file(os.path.join(secrets_dir, "sasl.password"), SASL_PASSWORD + "\n")
        contoso, fabrikam, northwind = emu.tenants
        rt_file = private_file(os.path.join(secrets_dir, "northwind.refresh_token"),
                               refresh_token(emu, northwind, "http://localhost:8400/callback"))
        with open(rt_file) as f:
            first_rt = f.read().strip()
        state = os.path.join(work.path, "state")
        prom = os.path.join(work.path, "metrics.prom")
        events = os.path.join(work.path, "events.json")
        conf = harness.write_config(
            os.path.join(work.path, "forwarder.conf"), emu, state,
            [("archive", {"type": "file", "path": events}),
             ("splunk", hec_harness.hec_output(hec.url, hec_token, hec.ca_file)),
             ("bus", {"type": "kafka", "brokers": broker.sasl_bootstrap,
                      "topic": "defender.{stream}", "sasl_password_file": sasl_file,
                      "kafka.security.protocol": "SASL_PLAINTEXT",
                      "kafka.sasl.mechanisms": "PLAIN", "kafka.sasl.username": "dfw",
                      "kafka.debug": "all"})],
            forwarder={"log_level": "debug", "metrics_file": prom},
            tenant_extra={
                "northwind": {"auth": "refresh_token", "refresh_token_file": rt_file}})
        # fabrikam signs a client assertion with its private key instead of a secret
        with open(conf) as f:
            text = f.read()
        fab = [t for t in emu.tenants if t["name"] == "fabrikam"][0]
        text = text.replace(
            f"client_secret_file = {os.path.join(emu.dir, 'secrets', 'fabrikam.secret')}",
            f"auth = certificate\ncertificate_file = {fab['certificate_file']}\n"
            f"private_key_file = {fab['private_key_file']}")
        # northwind's app authenticates with its secret from the environment
        text = text.replace(
            f"client_secret_file = {os.path.join(emu.dir, 'secrets', 'northwind.secret')}",
            "client_secret_env = NORTHWIND_APP_SECRET")
        with open(conf, "w") as f:
            f.write(text)
        env = dict(os.environ, NORTHWIND_APP_SECRET=northwind["client_secret"])
        r = harness.run_forwarder(conf, "-v", "run", "--once", timeout=600, env=env)
        logs = (r.stdout + r.stderr).encode()
        with open(os.path.join(work.path, "forwarder.log"), "wb") as f:
            f.write(logs)
        self.assertIn(b"level=debug", logs)
        self.assertIn(b"librdkafka=", logs)  # librdkafka's own debug lines went through
        for t in emu.tenants:
            self.assertIn(f"tenant={t['name']} resource=".encode() +
                          b"https://api.security.microsoft.com expires_in=", logs,
                          f"{t['name']} got no access token: the secret was not used")
        # the secrets were used: HEC and the SASL listener took records
        self.assertGreater(hec.settle(1, events=False), 0)
        self.assertGreater(len(broker.consume_all("defender.")), 0)
        with open(rt_file) as f:
            rotated = f.read().strip()
        self.assertNotEqual(rotated, first_rt, "the refresh token was not rotated")
        show = harness.run_forwarder(conf, "state", "show", timeout=60, env=env)
        token = harness.run_forwarder(conf, "-v", "token", "contoso", timeout=60, env=env)

        with open(fab["private_key_file"]) as f:
            key_lines = [l for l in f.read().splitlines() if l and not l.startswith("-----")]
        secrets = {
            "client secret " + t["name"]: t["client_secret"] for t in emu.tenants}
        secrets.update({f"private key line {i}": l for i, l in enumerate(key_lines)})
        secrets.update({"refresh token": first_rt, "rotated refresh token": rotated,
                        "HEC token": HEC_TOKEN, "SASL password": SASL_PASSWORD})
        places = {"log": logs, "state show": (show.stdout + show.stderr).encode(),
                  "token command": (token.stdout + token.stderr).encode()}
        with open(prom, "rb") as f:
            places["metrics file"] = f.read()
        for root, _, files in os.walk(state):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    places[os.path.relpath(os.path.join(root, name), work.path)] = f.read()
        self.assertGreater(len(places), 5)
        for what, secret in secrets.items():
            needles = {secret.encode(), urllib.parse.quote(secret, safe="").encode(),
                       base64.b64encode(secret.encode())}
            for where, data in places.items():
                for n in needles:
                    self.assertNotIn(n, data, f"{what} found in {where}")
        for where, data in places.items():
            self.assertIsNone(JWT_RE.search(data), f"a JWT (access token?) in {where}")


if __name__ == "__main__":
    unittest.main()
