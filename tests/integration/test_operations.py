"""Running the daemon: /metrics and /health on metrics_listen, reload on SIGHUP (tenants added,
removed, changed; a bad configuration refused), systemd's notify protocol (READY, WATCHDOG,
STOPPING) and --once with an output that stays down."""

import json
import os
import signal
import socket
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

STREAM = "graph-alerts"


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening (yet)


def api_requests(emu, tenant):
    return emu.control("stats")["requests"].get(STREAM, {}).get(tenant, 0)


class Operations(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir("dfw-it-ops-")
        self.addCleanup(self.work.cleanup)
        self.emu = harness.Emulator(self.work.path, tenants=3, records=20,
                                    args=("--streams", STREAM, "--no-rate-limit"))
        self.addCleanup(self.emu.stop)
        self.state = os.path.join(self.work.path, "state")
        self.events = os.path.join(self.work.path, "events.jsonl")
        self.conf = os.path.join(self.work.path, "forwarder.conf")
        self.fw = None

    def tearDown(self):
        if self.fw:
            self.fw.cleanup()

    def write(self, tenants, forwarder=None, tenant_extra=None):
        return harness.write_config(self.conf, self.emu, self.state,
                                    [("file", {"type": "file", "path": self.events})],
                                    tenants=tenants, streams=STREAM,
                                    forwarder={"poll_interval": "1s", **(forwarder or {})},
                                    tenant_extra=tenant_extra)

    def delivered_tenants(self):
        return {e["tenant"] for e in harness.read_envelopes(self.events)}

    def test_metrics_and_health(self):
        port = harness.free_port()
        self.write(("contoso", "fabrikam"), {"metrics_listen": f"127.0.0.1:{port}"})
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw.log"))
        harness.wait_for(lambda: http_get(port, "/health")[0] == 200, 60, "a ready /health")
        status, body = http_get(port, "/health")
        health = json.loads(body)
        self.assertEqual((health["ready"], health["tenants"], health["streams"]), (True, 2, 2))
        self.assertEqual(health["checkpoint_store"], "ok")
        status, text = http_get(port, "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('dfw_events_delivered_total{tenant="contoso",stream="graph-alerts"} 20',
                      text)
        self.assertIn("dfw_checkpoint_store_up 1", text)
        self.assertEqual(http_get(port, "/nope")[0], 404)
        self.assertEqual(self.fw.stop(), 0)

    def test_aggregate_metrics(self):
        port = harness.free_port()
        self.write(("contoso", "fabrikam", "northwind"),
                   {"metrics_listen": f"127.0.0.1:{port}", "metrics_per_tenant": "no"})
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw.log"))
        harness.wait_for(lambda: http_get(port, "/health")[0] == 200, 60, "a ready /health")
        text = http_get(port, "/metrics")[1]
        self.assertIn('dfw_events_delivered_total{stream="graph-alerts"} 60', text)
        self.assertNotIn("tenant=", text)
        self.assertEqual(self.fw.stop(), 0)

    def test_quiet_checkpoints_share_commits(self):
        """Sweeps that deliver nothing stage their checkpoints for one shared commit (within
        a second): fewer transactions than sweeps, and every checkpoint still moves on."""
        port = harness.free_port()
        tenants = ("contoso", "fabrikam", "northwind")
        self.write(tenants, {"metrics_listen": f"127.0.0.1:{port}"})
        self.fw = harness.Forwarder(self.conf, log_path=os.path.join(self.work.path, "fw.log"))
        harness.wait_for(lambda: http_get(port, "/health")[0] == 200, 60, "a ready /health")
        harness.wait_for(lambda: len(harness.read_envelopes(self.events)) == 60, 60,
                         "every record")

        def sample():
            text = http_get(port, "/metrics")[1]
            commits = [int(line.split()[1]) for line in text.splitlines()
                       if line.startswith("dfw_checkpoint_commits_total ")]
            marks = {t: (harness.checkpoint(self.state, t, STREAM) or {}).get("high_water")
                     for t in tenants}
            return commits[0], sum(api_requests(self.emu, t) for t in tenants), marks

        commits0, requests0, marks0 = sample()
        time.sleep(6)
        commits1, requests1, marks1 = sample()
        sweeps = requests1 - requests0
        self.assertGreaterEqual(sweeps, 9, "the tenants were not polled every second")
        self.assertLessEqual(2 * (commits1 - commits0), sweeps,
                             f"{commits1 - commits0} commits for {sweeps} quiet sweeps")
        for t in tenants:
            self.assertGreater(marks1[t], marks0[t], f"{t}: the checkpoint did not move on")
        self.assertEqual(len(harness.read_envelopes(self.events)), 60)
        self.assertEqual(self.fw.stop(), 0)

    def test_reload_adds_removes_and_changes_tenants(self):
        self.write(("contoso", "fabrikam"))
        log = os.path.join(self.work.path, "fw.log")
        self.fw = harness.Forwarder(self.conf, log_path=log)
        harness.wait_for(lambda: len(harness.read_envelopes(self.events)) >= 40, 60, "40 events")
        stats = self.emu.control("stats")
        tokens_contoso = stats["tokens_issued"].get("contoso", 0)

        # a configuration that does not load is refused; the running one goes on
        with open(self.conf, "a") as f:
            f.write("[tenant broken]\nthis is not a key\n")
        self.fw.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "reload refused" in self.fw.log(), 30, "the refusal")
        self.assertTrue(self.fw.running())

        # northwind added, fabrikam removed, contoso unchanged
        self.write(("contoso", "northwind"))
        before_fabrikam = api_requests(self.emu, "fabrikam")
        self.fw.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "configuration reloaded" in self.fw.log(), 30, "the reload")
        harness.wait_for(lambda: "northwind" in self.delivered_tenants(), 60, "northwind's events")
        harness.wait_for(lambda: "tenant=fabrikam msg=\"stopped (reload)\"" in self.fw.log(), 30,
                         "fabrikam stopped")
        stopped_at = api_requests(self.emu, "fabrikam")
        time.sleep(3)  # three poll intervals
        self.assertEqual(api_requests(self.emu, "fabrikam"), stopped_at, "fabrikam still polled")
        self.assertGreaterEqual(stopped_at, before_fabrikam)
        # contoso was not disturbed: no new token, still polled
        polled = api_requests(self.emu, "contoso")
        harness.wait_for(lambda: api_requests(self.emu, "contoso") > polled, 30, "contoso polled")
        self.assertEqual(self.emu.control("stats")["tokens_issued"].get("contoso", 0),
                         tokens_contoso)

        # contoso changed (its overlap): it stops and starts again, from its checkpoint
        self.write(("contoso", "northwind"), tenant_extra={"contoso": {"overlap": "7m"}})
        self.fw.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "tenant=contoso msg=\"started (reload)\"" in self.fw.log(), 30,
                         "contoso restarted")
        new = self.emu.control("records", {"tenant": "contoso", "stream": STREAM, "count": 2})
        harness.wait_for(lambda: all(any(e["id"] == i for e in harness.read_envelopes(self.events))
                                     for i in new["ids"]), 60, "contoso's new records")
        self.assertEqual(self.fw.stop(), 0)
        # nothing twice
        keys = [(e["tenant"], e["id"], json.dumps(e["record"], sort_keys=True))
                for e in harness.read_envelopes(self.events)]
        self.assertEqual(len(keys), len(set(keys)))

    def test_systemd_notify_and_watchdog(self):
        self.write(("contoso",))
        sock_path = os.path.join(self.work.path, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(0.2)
        self.addCleanup(sock.close)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="2000000")
        log = open(os.path.join(self.work.path, "fw.log"), "ab")
        self.addCleanup(log.close)
        import subprocess
        proc = subprocess.Popen([harness.BIN, "-c", self.conf, "run"], stdout=log, stderr=log,
                                env=env)
        env["WATCHDOG_PID"] = str(proc.pid)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum("WATCHDOG=1" in m for m in seen) < 3:
            try:
                seen.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        self.assertTrue(any(m.startswith("READY=1") for m in seen), seen)
        self.assertGreaterEqual(sum("WATCHDOG=1" in m for m in seen), 3, seen)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(60), 0)
        while True:  # what it sent is queued on the socket
            try:
                seen.append(sock.recv(4096).decode())
            except socket.timeout:
                break
        self.assertTrue(any("STOPPING=1" in m for m in seen), seen)

    def test_once_with_an_output_that_stays_down_fails(self):
        # a syslog receiver that is not there: connecting fails, and while the reconnect delay
        # runs the output pushes back (busy); --once gives up after max_retries backoffs (here
        # 0.5 s + 1 s), not after the daemon's five minutes of back-pressure
        harness.write_config(self.conf, self.emu, self.state,
                             [("siem", {"type": "syslog", "host": "127.0.0.1",
                                        "port": harness.free_port()})],
                             tenants=("contoso",), streams=STREAM,
                             forwarder={"max_retries": "2"})
        r = harness.run_forwarder(self.conf, "run", "--once", timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr[-3000:])
        self.assertIn("outputs did not acknowledge the batch", r.stderr)
        self.assertIn("stream(s) failed", r.stderr)
        self.assertIsNone(harness.checkpoint(self.state, "contoso", STREAM))


if __name__ == "__main__":
    unittest.main()
