"""Microsoft Graph first: the legacy streams warned about at start-up and in check-config, a
switch from a legacy stream to its Graph stream with `state migrate` that sends nothing twice and
skips nothing, `token` naming a missing SecurityIncident.Read.All (and SecurityAlert.Read.All for
$expand=alerts), expand_alerts = no against a tenant whose expansion fails, and the Prefer header
that brings new enum members as themselves. Emulator and file outputs on 127.0.0.1."""

import collections
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RETIRING = "stops working after 1 February 2027 (Message Center MC1220762)"


def pairs(path, id_key, updated_key):
    """Counter of (id, last-update) of the records of a file output."""
    return collections.Counter((str(e["record"][id_key]), e["record"][updated_key])
                               for e in harness.read_envelopes(path))


class GraphFirst(unittest.TestCase):
    def setUp(self):
        self.work = harness.Workdir("dfw-it-graph-")
        self.addCleanup(self.work.cleanup)
        self.emu = harness.Emulator(self.work.path, tenants=1, records=20,
                                    args=("--no-rate-limit",))
        self.addCleanup(self.emu.stop)
        self.tenant = self.emu.tenants[0]["name"]

    def config(self, name, streams, state="state", tenant_extra=None, **forwarder):
        out = os.path.join(self.work.path, name + ".jsonl")
        conf = harness.write_config(os.path.join(self.work.path, name + ".conf"), self.emu,
                                    os.path.join(self.work.path, state),
                                    [("file", {"type": "file", "path": out})],
                                    streams=streams, forwarder=forwarder or None,
                                    tenant_extra={self.tenant: tenant_extra or {}})
        return conf, out

    def update(self, stream, ids):
        self.emu.control("update", {"tenant": self.tenant, "stream": stream, "ids": ids})

    def test_migrate_from_a_legacy_checkpoint_sends_nothing_twice(self):
        ids = [r["incidentId"] for r in self.emu.records(self.tenant, "m365d-incidents")]
        # five incidents change now: inside the overlap the Graph stream's first sweep reads again
        self.update("m365d-incidents", ids[:5])
        legacy, legacy_out = self.config("legacy", "m365d-incidents")
        r = harness.run_forwarder(legacy, "check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: stream m365d-incidents reads the Defender XDR incidents API "
                      "(/api/incidents), which Microsoft is retiring: it " + RETIRING, r.stdout)
        self.assertIn("use graph-incidents", r.stdout)
        r = harness.run_forwarder(legacy, "run", "--once")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        warnings = [l for l in r.stderr.splitlines() if RETIRING in l]
        self.assertEqual(len(warnings), 1, r.stderr)
        self.assertIn("level=warn", warnings[0])
        self.assertIn("stream=m365d-incidents", warnings[0])
        sent = pairs(legacy_out, "incidentId", "lastUpdateTime")
        self.assertEqual(sum(sent.values()), 20)

        # three more change after the legacy stream's checkpoint; then the switch
        self.update("m365d-incidents", ids[10:13])
        graph, graph_out = self.config("graph", "graph-incidents")
        r = harness.run_forwarder(graph, "state", "migrate", self.tenant)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("graph-incidents starts at the m365d-incidents checkpoint", r.stdout)
        self.assertIn("mde-alerts has no checkpoint: nothing to migrate", r.stdout)
        r = harness.run_forwarder(graph, "run", "--once")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertNotIn(RETIRING, r.stderr)
        got = pairs(graph_out, "id", "lastUpdateDateTime")
        current = {(str(i["id"]), i["lastUpdateDateTime"])
                   for i in self.emu.records(self.tenant, "graph-incidents")}
        changed = {(str(i), u) for i, u in current if int(i) in ids[10:13]}
        # exactly the three: nothing twice (not the 5 of the overlap, nor the other 12) ...
        self.assertEqual(set(got), changed)
        self.assertEqual(max(got.values()), 1)
        self.assertEqual(set(got) & set(sent), set())
        # ... and nothing skipped: every incident's current version went out once
        self.assertEqual(current - set(got) - set(sent), set())
        # a Graph stream that has run is not overwritten
        r = harness.run_forwarder(graph, "state", "migrate", self.tenant, "m365d-incidents")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("graph-incidents has a checkpoint already", r.stderr)
        r = harness.run_forwarder(graph, "state", "migrate", self.tenant, "graph-alerts")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a legacy stream", r.stderr)
        # without the migration the Graph stream would have started initial_lookback back
        fresh, fresh_out = self.config("fresh", "graph-incidents", state="fresh-state")
        r = harness.run_forwarder(fresh, "run", "--once")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(sum(pairs(fresh_out, "id", "lastUpdateDateTime").values()), 20)

    def test_reload_warns_about_a_legacy_stream(self):
        conf, out = self.config("r", "graph-incidents", poll_interval="1s")
        fw = harness.Forwarder(conf, log_path=os.path.join(self.work.path, "r.log"))
        self.addCleanup(fw.cleanup)
        harness.wait_for(lambda: len(harness.read_envelopes(out)) >= 20, 60, "20 incidents")
        self.assertNotIn(RETIRING, fw.log())
        self.config("r", "graph-incidents, mde-alerts", poll_interval="1s")
        fw.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: "configuration reloaded" in fw.log(), 30, "the reload")
        warnings = [l for l in fw.log().splitlines() if RETIRING in l]
        self.assertEqual(len(warnings), 1, fw.log()[-3000:])
        self.assertIn("stream=mde-alerts", warnings[0])
        self.assertIn("use graph-alerts", warnings[0])
        self.assertEqual(fw.stop(), 0)

    def test_token_names_the_missing_graph_permissions(self):
        conf, out = self.config("t", "graph-incidents, graph-alerts")
        self.emu.control("consent", {"tenant": self.tenant, "granted": True,
                                     "roles": ["SecurityAlert.Read.All"]})
        r = harness.run_forwarder(conf, "token", self.tenant)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("stream graph-incidents: MISSING application permission "
                      "SecurityIncident.Read.All", r.stdout)
        self.assertIn("stream graph-alerts: OK (application SecurityAlert.Read.All)", r.stdout)
        r = harness.run_forwarder(conf, "run", "--once")
        self.assertEqual(r.returncode, 1)
        self.assertIn("lacks the application permission SecurityIncident.Read.All", r.stderr)
        # the incident permission alone: $expand=alerts needs SecurityAlert.Read.All too
        self.emu.control("consent", {"tenant": self.tenant, "granted": True,
                                     "roles": ["SecurityIncident.Read.All"]})
        r = harness.run_forwarder(conf, "token", self.tenant)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("stream graph-incidents: MISSING application permission "
                      "SecurityAlert.Read.All", r.stdout)
        conf, out = self.config("t2", "graph-incidents", tenant_extra={"expand_alerts": "no"})
        r = harness.run_forwarder(conf, "token", self.tenant)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("stream graph-incidents: OK (application SecurityIncident.Read.All)",
                      r.stdout)
        r = harness.run_forwarder(conf, "run", "--once")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        records = [e["record"] for e in harness.read_envelopes(out)]
        self.assertEqual(len(records), 20)
        self.assertFalse(any("alerts" in rec for rec in records))

    def test_expand_alerts_no_when_the_expansion_fails(self):
        """Big tenants get persistent HTTP 500 with $expand=alerts: the run fails (the checkpoint
        holds); with expand_alerts = no the incidents arrive without their alerts."""
        self.emu.control("faults", {"tenant": self.tenant, "expand_fails": True})
        conf, out = self.config("x", "graph-incidents", max_retries="1")
        r = harness.run_forwarder(conf, "run", "--once")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("status=500", r.stderr)
        self.assertEqual(harness.read_envelopes(out), [])
        self.assertIsNone(harness.checkpoint(os.path.join(self.work.path, "state"), self.tenant,
                                             "graph-incidents"))
        conf, out = self.config("x", "graph-incidents", tenant_extra={"expand_alerts": "no"},
                                max_retries="1")
        r = harness.run_forwarder(conf, "run", "--once")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        expected = harness.expected_records(self.emu, streams=("graph-incidents",))
        for rec in expected.values():
            del rec["alerts"]
        problems = harness.check_envelope_delivery(harness.read_envelopes(out), expected)
        self.assertEqual(problems, [], problems[:10])

    def test_new_enum_members_arrive_as_themselves(self):
        """The forwarder sends Prefer: include-unknown-enum-members to Graph: serviceSource
        microsoftDefenderForCloud (added after unknownFutureValue) is not hidden."""
        conf, out = self.config("e", "graph-incidents, graph-alerts")
        r = harness.run_forwarder(conf, "run", "--once")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        with open(out, encoding="utf-8") as f:
            text = f.read()
        self.assertIn('"serviceSource":"microsoftDefenderForCloud"', text)
        self.assertNotIn("unknownFutureValue", text)
        expected = harness.expected_records(self.emu, streams=("graph-incidents",
                                                               "graph-alerts"))
        problems = harness.check_envelope_delivery(harness.read_envelopes(out), expected)
        self.assertEqual(problems, [], problems[:10])


if __name__ == "__main__":
    unittest.main()
