"""Self-test of the Defender emulator: list APIs, OData, paging, limits,
faults and control endpoints (helpers in emutest.py)."""

import gzip
import http.client
import json
import time
import unittest
import urllib.parse

import faults
from emutest import (GRAPH, M365D, MDE, TS_RE, WATP, EmulatorTestCase,
                     jwt_claims, norm)


class TestApis(EmulatorTestCase):
    def test_auth_failures(self):
        status, resp, raw = self.request("GET", "/api/incidents")
        body = json.loads(raw)
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["code"], "Unauthorized")
        self.assertIn("message", body["error"])
        self.assertIn("target", body["error"])
        status, _, _ = self.request("GET", "/api/alerts", headers={
            "Authorization": "Bearer abc.def.ghi"})
        self.assertEqual(status, 401)
        graph = self.token("contoso", GRAPH)
        status, _, raw = self.request("GET", "/api/alerts", headers={
            "Authorization": "Bearer " + graph})
        self.assertEqual(status, 401)  # wrong audience
        # api.security.microsoft.com is accepted on /api/alerts but the
        # default grant carries no Alert.Read.All for it
        status, _, raw = self.api("contoso", M365D, "/api/alerts")
        self.assertEqual(status, 403)
        self.control("POST", "/_emulator/consent", {
            "tenant": "contoso", "resource_roles": {
                M365D: ["Incident.Read.All", "Alert.Read.All"]}})
        try:
            token = self.secret_token("contoso", M365D)
            status, _, _ = self.request("GET", "/api/alerts?$top=1", headers={
                "Authorization": "Bearer " + token})
            self.assertEqual(status, 200)
        finally:
            self.control("POST", "/_emulator/consent",
                         {"tenant": "contoso", "resource_roles": {}})
        status, _, _ = self.api("contoso", WATP, "/api/alerts?$top=1")
        self.assertEqual(status, 200)
        # expired token
        self.control("POST", "/_emulator/faults", {"token_lifetime": 1})
        token = self.secret_token("contoso", MDE)
        self.assertEqual(jwt_claims(token)["exp"] -
                         jwt_claims(token)["iat"], 1)
        time.sleep(1.2)
        status, resp, raw = self.request("GET", "/api/alerts", headers={
            "Authorization": "Bearer " + token})
        self.assertEqual(status, 401)
        self.assertIn("expired", json.loads(raw)["error"]["message"])

    def _check_ts(self, value, seen):
        self.assertRegex(value, TS_RE)
        frac = value[20:-1] if "." in value else ""
        self.assertIn(len(frac), (0, 2, 3, 7), value)
        seen.add(len(frac))

    def test_incident_shape(self):
        recs, _ = self.walk("contoso", M365D, "/api/incidents")
        self.assertEqual(len(recs), 40)
        ids, seen, shapes, text = set(), set(), set(), json.dumps(recs)
        self.assertTrue(any(ord(ch) > 127 for ch in
                            "".join(r["incidentName"] for r in recs)
                            + "".join(a["title"] for r in recs
                                      for a in r["alerts"])))
        for r in recs:
            self.assertIsInstance(r["incidentId"], int)
            ids.add(r["incidentId"])
            for key in ("incidentUri", "redirectIncidentId", "incidentName",
                        "createdTime", "lastUpdateTime", "assignedTo",
                        "classification", "determination", "status",
                        "severity", "tags", "comments", "alerts"):
                self.assertIn(key, r)
            self.assertIsNone(r["redirectIncidentId"])
            self._check_ts(r["createdTime"], seen)
            self._check_ts(r["lastUpdateTime"], seen)
            for a in r["alerts"]:
                for key in ("alertId", "providerAlertId", "incidentId",
                            "serviceSource", "creationTime",
                            "lastUpdatedTime", "resolvedTime",
                            "firstActivity", "lastActivity", "title",
                            "description", "category", "status", "severity",
                            "investigationId", "investigationState",
                            "classification", "determination",
                            "detectionSource", "detectorId", "assignedTo",
                            "actorName", "threatFamilyName",
                            "mitreTechniques", "devices", "entities"):
                    self.assertIn(key, a)
                self.assertEqual(a["incidentId"], r["incidentId"])
                for d in a["devices"]:
                    self.assertRegex(d["mdatpDeviceId"], r"^[0-9a-f]{40}$")
                for e in a["entities"]:
                    shapes.add("sparse" if "verdict" in e else "full")
        self.assertEqual(len(ids), 40)
        self.assertEqual(seen, {0, 2, 3, 7})
        self.assertEqual(shapes, {"full", "sparse"})
        self.assertIn("null", text)

    def test_mde_alert_shape_and_expand(self):
        status, body = self.api_json("contoso", MDE, "/api/alerts?$top=5")
        self.assertEqual(status, 200)
        self.assertTrue(body["@odata.context"].endswith(
            "/api/$metadata#Alerts"))
        for a in body["value"]:
            self.assertEqual(a["evidence"], [])
            for key in ("id", "incidentId", "alertCreationTime",
                        "lastUpdateTime", "machineId", "aadTenantId",
                        "severity", "status", "title", "relatedUser"):
                self.assertIn(key, a)
            self.assertEqual(a["aadTenantId"], self.t["contoso"]["tenant_id"])
        status, exp = self.api_json("contoso", MDE,
                                    "/api/v1.0/alerts?$top=5&$expand=evidence")
        self.assertEqual([a["id"] for a in exp["value"]],
                         [a["id"] for a in body["value"]])
        self.assertTrue(all(a["evidence"] for a in exp["value"]))
        self.assertIn("detectionStatus", exp["value"][0]["evidence"][0])

    def test_graph_alert_shape(self):
        status, body = self.api_json("fabrikam", GRAPH,
                                     "/v1.0/security/alerts_v2?$top=40")
        self.assertEqual(status, 200)
        types = set()
        for a in body["value"]:
            self.assertEqual(a["@odata.type"],
                             "#microsoft.graph.security.alert")
            self.assertIsInstance(a["incidentId"], str)
            self.assertIn(a["status"], ("new", "inProgress", "resolved"))
            self.assertIn(a["severity"], ("informational", "low", "medium",
                                          "high"))
            self.assertIn("lastUpdateDateTime", a)
            self.assertTrue(a["alertWebUrl"].startswith("https://"))
            types.update(e["@odata.type"] for e in a["evidence"])
        self.assertIn("#microsoft.graph.security.deviceEvidence", types)
        self.assertGreater(len(types), 3)

    def test_top_limits_and_bad_options(self):
        cases = [(M365D, "/api/incidents?$top=101", "BadRequest"),
                 (MDE, "/api/alerts?$top=10001", "BadRequest"),
                 (MDE, "/api/alerts?$top=abc", "ODataError"),
                 (MDE, "/api/alerts?$orderby=id", "ODataError"),
                 (MDE, "/api/alerts?$expand=comments", "ODataError"),
                 (MDE, "/api/alerts?$skiptoken=nope.0", "BadRequest")]
        for resource, path, code in cases:
            status, body = self.api_json("contoso", resource, path)
            self.assertEqual(status, 400, path)
            self.assertEqual(body["error"]["code"], code, path)
        # Graph alerts_v2 clamps $top to 1,000; $skip above 500 is refused
        self.control("POST", "/_emulator/records", {
            "tenant": "northwind", "stream": "graph-alerts", "count": 1200})
        status, body = self.api_json("northwind", GRAPH,
                                     "/v1.0/security/alerts_v2?$top=5000")
        self.assertEqual(status, 200)
        self.assertEqual(len(body["value"]), 1000)
        self.assertIn("$skip=1000", body["@odata.nextLink"])
        status, body = self.api_json("contoso", GRAPH,
                                     "/v1.0/security/alerts_v2?$skip=501")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "BadRequest")
        self.assertIn("innerError", body["error"])

    def test_filters(self):
        summary = self.records("fabrikam", "mde-alerts")
        times = sorted(r["lastUpdate"] for r in summary)
        pivot = times[len(times) // 2]

        def ids(query):
            recs, _ = self.walk("fabrikam", MDE, "/api/alerts?" + query)
            return [r["id"] for r in recs]

        def expect(pred):
            return sorted(r["id"] for r in summary if pred(r))
        p = norm(pivot)
        self.assertEqual(sorted(ids("$filter=lastUpdateTime+ge+" + pivot)),
                         expect(lambda r: norm(r["lastUpdate"]) >= p))
        self.assertEqual(sorted(ids("$filter=lastUpdateTime%%20gt%%20'%s'"
                                    % pivot)),
                         expect(lambda r: norm(r["lastUpdate"]) > p))
        self.assertEqual(sorted(ids(urllib.parse.urlencode(
            {"$filter": "LastUpdateTime LT %s" % pivot}))),
            expect(lambda r: norm(r["lastUpdate"]) < p))
        self.assertEqual(sorted(ids("$filter=lastUpdateTime+eq+" + pivot)),
                         expect(lambda r: norm(r["lastUpdate"]) == p))
        lo, hi = norm(times[5]), norm(times[30])
        got = ids("$filter=lastUpdateTime+gt+%s+AND+lastUpdateTime+le+%s"
                  % (times[5], times[30]))
        self.assertEqual(sorted(got), expect(
            lambda r: lo < norm(r["lastUpdate"]) <= hi))
        created = sorted(r["created"] for r in summary)[20]
        c = norm(created)
        got = ids("$filter=alertCreationTime+ge+%s+and+lastUpdateTime+ge+"
                  "2000-01-01T00:00:00Z" % created)
        self.assertEqual(sorted(got), expect(
            lambda r: norm(r["created"]) >= c))
        # +00:00 offset, even when '+' arrives unencoded (as a space)
        got = ids("$filter=lastUpdateTime+ge+%s+00:00" % pivot[:19])
        self.assertEqual(sorted(got), expect(
            lambda r: norm(r["lastUpdate"]) >= norm(pivot[:19] + "Z")))
        for bad in ("severity+eq+'High'", "lastUpdateTime+ge+yesterday",
                    "lastUpdateTime+ge+2020-01-01T00:00:00Z+or+"
                    "lastUpdateTime+lt+2020-01-01T00:00:00Z",
                    "lastUpdateTime+ne+2020-01-01T00:00:00Z",
                    "lastUpdateTime+ge"):
            status, body = self.api_json("fabrikam", MDE,
                                         "/api/alerts?$filter=" + bad)
            self.assertEqual(status, 400, bad)
            self.assertEqual(body["error"]["code"], "ODataError", bad)

    def test_live_paging_is_skip_over_live_data(self):
        recs = self.records("fabrikam", "graph-alerts")
        status, first = self.api_json("fabrikam", GRAPH,
                                      "/v1.0/security/alerts_v2?$top=10")
        link = urllib.parse.urlsplit(first["@odata.nextLink"])
        self.assertIn("$skip=10", link.query)
        self.assertEqual([r["id"] for r in first["value"]],
                         [r["id"] for r in recs[:10]])
        # a record of the first page is updated: the rows behind it shift
        self.control("POST", "/_emulator/update", {
            "tenant": "fabrikam", "stream": "graph-alerts",
            "ids": [recs[0]["id"]]})
        status, second = self.api_json("fabrikam", GRAPH,
                                       link.path + "?" + link.query)
        self.assertEqual([r["id"] for r in second["value"]],
                         [r["id"] for r in recs[11:21]])
        # MDE: no next link when $top is set, a full page is the only sign
        status, body = self.api_json("fabrikam", MDE, "/api/alerts?$top=5")
        self.assertEqual(len(body["value"]), 5)
        self.assertNotIn("@odata.nextLink", body)
        # Defender XDR: most recent first
        inc = self.records("fabrikam", "m365d-incidents")
        status, body = self.api_json("fabrikam", M365D,
                                     "/api/incidents?$top=3")
        self.assertEqual([r["incidentId"] for r in body["value"]],
                         [r["id"] for r in inc[::-1][:3]])

    def test_paging_knobs(self):
        base = "/v1.0/security/alerts_v2?$top=100"
        n = len(self.records("contoso", "graph-alerts"))
        self.control("POST", "/_emulator/paging", {
            "tenant": "contoso", "stream": "graph-alerts",
            "order": "random", "duplicates": 3})
        one = self.api_json("contoso", GRAPH, base)[1]["value"]
        two = self.api_json("contoso", GRAPH, base)[1]["value"]
        self.assertEqual(len(one), n + 3)
        self.assertEqual(len({r["id"] for r in one}), n)
        self.assertNotEqual([r["id"] for r in one], [r["id"] for r in two])
        status, body = self.control("POST", "/_emulator/paging", {
            "tenant": "contoso", "order": "sideways"})
        self.assertEqual(status, 400)
        # churn: each response updates records it served
        self.control("POST", "/_emulator/reset-faults", {})
        self.control("POST", "/_emulator/paging", {
            "tenant": "contoso", "stream": "mde-alerts", "churn": 2})
        before = {r["id"]: r["lastUpdate"]
                  for r in self.records("contoso", "mde-alerts")}
        self.api_json("contoso", MDE, "/api/alerts?$top=5")
        after = {r["id"]: r["lastUpdate"]
                 for r in self.records("contoso", "mde-alerts")}
        self.assertEqual(sum(before[k] != after[k] for k in before), 2)
        # lag: a record updated now is hidden for lag_s seconds
        self.control("POST", "/_emulator/reset-faults", {})
        rid = next(iter(before))
        self.control("POST", "/_emulator/update", {
            "tenant": "contoso", "stream": "mde-alerts", "ids": [rid],
            "lag_s": 600})
        ids = [r["id"] for r in self.api_json(
            "contoso", MDE, "/api/alerts?$top=1000")[1]["value"]]
        self.assertNotIn(rid, ids)
        self.assertEqual(len(ids), len(before) - 1)
        # ties: records that share one last-update time exactly
        status, body = self.control("POST", "/_emulator/records", {
            "tenant": "contoso", "stream": "mde-alerts", "count": 4,
            "at": "2026-01-01T00:00:00.1234567Z", "tie": True})
        self.assertEqual({r["lastUpdate"] for r in body["records"]},
                         {"2026-01-01T00:00:00.1234567Z"})

    def test_order_paging_and_snapshot(self):
        self.control("POST", "/_emulator/paging", {
            "tenant": "northwind", "mode": "snapshot", "order": "asc"})
        summary = self.records("northwind", "m365d-incidents")
        recs, pages = self.walk("northwind", M365D,
                                "/api/incidents?$top=7")
        self.assertEqual(pages, 6)
        self.assertEqual([r["incidentId"] for r in recs],
                         [r["id"] for r in summary])  # summary is in order
        keys = [(norm(r["lastUpdateTime"]), r["incidentId"]) for r in recs]
        self.assertEqual(keys, sorted(keys))
        # start paging, then change data: the walk keeps its result set
        status, first = self.api_json("northwind", M365D,
                                      "/api/incidents?$top=10")
        link = urllib.parse.urlsplit(first["@odata.nextLink"])
        self.assertIn("$skiptoken=", link.query)
        self.assertIn("$top=10", link.query)
        before = [r["incidentId"] for r in recs]
        changed = self.control("POST", "/_emulator/update", {
            "tenant": "northwind", "stream": "m365d-incidents",
            "ids": before[12:15]})[1]["ids"]
        added = self.control("POST", "/_emulator/records", {
            "tenant": "northwind", "stream": "m365d-incidents",
            "count": 2})[1]["ids"]
        rest, _ = self.walk("northwind", M365D,
                            link.path + "?" + link.query)
        walked = [r["incidentId"] for r in first["value"] + rest]
        self.assertEqual(walked, before)
        old = {r["incidentId"]: r for r in recs}
        for r in rest:
            if r["incidentId"] in changed:
                self.assertEqual(r["lastUpdateTime"],
                                 old[r["incidentId"]]["lastUpdateTime"])
        # a fresh walk sees the updates at the end, then the new records
        fresh, _ = self.walk("northwind", M365D, "/api/incidents")
        self.assertEqual(len(fresh), 42)
        self.assertEqual([r["incidentId"] for r in fresh][-5:],
                         changed + added)
        # plain $skip works without a token
        status, body = self.api_json("northwind", M365D,
                                     "/api/incidents?$skip=40&$top=100")
        self.assertEqual([r["incidentId"] for r in body["value"]],
                         [r["incidentId"] for r in fresh[40:]])
        self.assertNotIn("@odata.nextLink", body)
        # Graph: nextLink precedes value, $count
        status, _, raw = self.api("northwind", GRAPH,
                                  "/v1.0/security/alerts_v2?$top=3&"
                                  "$count=true")
        text = raw.decode()
        self.assertLess(text.index("@odata.nextLink"), text.index('"value"'))
        self.assertEqual(json.loads(text)["@odata.count"], 40)

    def test_control_records_and_update(self):
        before = self.records("contoso", "graph-alerts")
        high = max(r["lastUpdate"] for r in before)
        status, body = self.control("POST", "/_emulator/records", {
            "tenant": "contoso", "stream": "graph-alerts", "count": 3})
        self.assertEqual(status, 200)
        new_ids = body["ids"]
        self.assertEqual(len(set(new_ids)), 3)
        recs, _ = self.walk("contoso", GRAPH,
                            "/v1.0/security/alerts_v2?$filter="
                            "lastUpdateDateTime+gt+" + high)
        self.assertEqual([r["id"] for r in recs], new_ids)
        target = before[0]["id"]
        status, full = self.control(
            "GET", "/_emulator/records?tenant=contoso&stream=graph-alerts")
        old = next(r for r in full["records"] if r["id"] == target)
        status, body = self.control("POST", "/_emulator/update", {
            "tenant": "contoso", "stream": "graph-alerts", "ids": [target]})
        self.assertEqual(body["ids"], [target])
        status, full = self.control(
            "GET", "/_emulator/records?tenant=contoso&stream=graph-alerts")
        new = next(r for r in full["records"] if r["id"] == target)
        self.assertNotEqual((old["status"], old["severity"]),
                            (new["status"], new["severity"]))
        self.assertEqual(full["records"][-1]["id"], target)
        self.assertEqual(new["lastUpdateDateTime"],
                         body["records"][0]["lastUpdate"])
        status, body = self.control("POST", "/_emulator/update", {
            "tenant": "contoso", "stream": "graph-alerts", "count": 2})
        self.assertEqual(len(body["ids"]), 2)
        status, body = self.control("POST", "/_emulator/update", {
            "tenant": "contoso", "stream": "graph-alerts", "ids": ["nope"]})
        self.assertEqual(status, 404)

    def test_late_records(self):
        summary = self.records("fabrikam", "graph-alerts")
        high = max(norm(r["lastUpdate"]) for r in summary)
        status, body = self.control("POST", "/_emulator/records", {
            "tenant": "fabrikam", "stream": "graph-alerts", "count": 1,
            "age_s": 3 * 86400})
        late = body["records"][0]
        self.assertLess(norm(late["lastUpdate"]), high)
        status, body = self.control("POST", "/_emulator/update", {
            "tenant": "fabrikam", "stream": "graph-alerts",
            "ids": [summary[-1]["id"]], "at": "2030-01-01T00:00:00.5Z"})
        self.assertTrue(body["records"][0]["lastUpdate"].startswith(
            "2030-01-01T00:00:00"))
        status, body = self.control("POST", "/_emulator/records", {
            "tenant": "fabrikam", "stream": "graph-alerts", "count": 1,
            "at": "not a time"})
        self.assertEqual(status, 400)

    def test_compression(self):
        status, resp, raw = self.api("contoso", MDE, "/api/alerts?$top=3",
                                     headers={"Accept-Encoding": "gzip"})
        self.assertEqual(resp.getheader("Content-Encoding"), "gzip")
        self.assertEqual(len(json.loads(gzip.decompress(raw))["value"]), 3)


class TestLimitsAndFaults(EmulatorTestCase):
    def test_rate_limit(self):
        # --rate-scale 100 for the process; 0.1 for northwind -> 5/min
        self.control("POST", "/_emulator/faults",
                     {"tenant": "northwind", "rate_scale": 0.1})
        tid = self.t["northwind"]["tenant_id"]
        for _ in range(5):
            status, _, _ = self.api("northwind", M365D,
                                    "/api/incidents?$top=1")
            self.assertEqual(status, 200)
        status, resp, raw = self.api("northwind", M365D, "/api/incidents")
        self.assertEqual(status, 429)
        wait = int(resp.getheader("Retry-After"))
        self.assertTrue(1 <= wait <= 60)
        err = json.loads(raw)["error"]
        self.assertEqual(err["code"], "429")
        self.assertEqual(err["target"], tid)
        self.assertRegex(err["message"], r"^API calls quota exceeded! "
                         r"Maximum allowed 5 per 00:01:00 for the key "
                         r"Destination\+TenantID\+AppID\. You can send "
                         r"requests again in \d+ seconds\.$")
        status, _, _ = self.api("northwind", MDE, "/api/alerts?$top=1")
        self.assertEqual(status, 200)  # another API has its own quota
        status, _, _ = self.api("contoso", M365D, "/api/incidents?$top=1")
        self.assertEqual(status, 200)  # another tenant too
        stats = self.control("GET", "/_emulator/stats")[1]
        self.assertGreaterEqual(
            stats["throttled"]["northwind"]["m365d-incidents"], 1)
        self.control("POST", "/_emulator/reset-faults", {})
        status, _, _ = self.api("northwind", M365D, "/api/incidents?$top=1")
        self.assertEqual(status, 200)

    def test_5xx_slow_truncate(self):
        self.control("POST", "/_emulator/faults", {
            "tenant": "contoso", "status_5xx": {"count": 2, "status": 503,
                                                "retry_after": 2}})
        status, _, _ = self.api("fabrikam", MDE, "/api/alerts?$top=1")
        self.assertEqual(status, 200)  # other tenant unaffected
        for _ in range(2):
            status, resp, raw = self.api("contoso", MDE, "/api/alerts?$top=1")
            self.assertEqual(status, 503)
            self.assertEqual(resp.getheader("Retry-After"), "2")
        status, _, _ = self.api("contoso", MDE, "/api/alerts?$top=1")
        self.assertEqual(status, 200)
        self.control("POST", "/_emulator/faults", {"slow_ms": 300})
        started = time.monotonic()
        status, _, _ = self.api("contoso", MDE, "/api/alerts?$top=1")
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.control("POST", "/_emulator/reset-faults", {})
        self.control("POST", "/_emulator/faults", {"truncate": 1})
        status, resp, raw = self.api("contoso", MDE, "/api/alerts?$top=5")
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(raw)
        status, _, raw = self.api("contoso", MDE, "/api/alerts?$top=5")
        self.assertEqual(len(json.loads(raw)["value"]), 5)
        self.control("POST", "/_emulator/faults",
                     {"truncate": 1, "truncate_mode": "connection"})
        with self.assertRaises(http.client.IncompleteRead):
            self.api("contoso", MDE, "/api/alerts?$top=5")
        stats = self.control("GET", "/_emulator/stats")[1]
        self.assertGreaterEqual(stats["injected_5xx"], 2)
        self.assertGreaterEqual(stats["truncated"], 2)

    def test_token_faults(self):
        t = self.t["fabrikam"]
        form = {"grant_type": "client_credentials",
                "client_id": t["client_id"],
                "client_secret": t["client_secret"],
                "scope": MDE + "/.default"}
        self.control("POST", "/_emulator/faults", {
            "fail_token": {"tenant": "fabrikam", "error": "AADSTS65001",
                           "count": 1}})
        status, body, _ = self.token_request("fabrikam", **form)
        self.assertAad(status, body, 400, "invalid_grant", 65001)
        status, body, _ = self.token_request("fabrikam", **form)
        self.assertEqual(status, 200)
        self.control("POST", "/_emulator/faults", {
            "fail_token": {"tenant": "fabrikam", "error": "AADSTS7000215"}})
        for _ in range(2):
            status, body, _ = self.token_request("fabrikam", **form)
            self.assertAad(status, body, 401, "invalid_client", 7000215)
        self.control("POST", "/_emulator/faults", {
            "status_5xx": {"count": 1, "endpoint": "token"}})
        status, body, _ = self.token_request("contoso", **dict(
            form, client_id=self.t["contoso"]["client_id"],
            client_secret=self.t["contoso"]["client_secret"]))
        self.assertEqual(status, 500)
        self.control("POST", "/_emulator/reset-faults", {})
        status, body, _ = self.token_request("fabrikam", **form)
        self.assertEqual(status, 200)
        status, body = self.control("POST", "/_emulator/faults",
                                    {"bogus": 1})
        self.assertEqual(status, 400)

    def test_html_and_broken_bodies(self):
        self.control("POST", "/_emulator/faults", {
            "tenant": "contoso", "html": {"count": 1, "status": 502}})
        status, resp, raw = self.api("contoso", MDE, "/api/alerts?$top=2")
        self.assertEqual(status, 502)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/html"))
        self.assertIn(b"<html>", raw)
        for kind in ("empty", "value_not_array", "no_id", "bad_time"):
            self.control("POST", "/_emulator/faults", {
                "tenant": "contoso", "bad_body": {"count": 1, "kind": kind}})
            status, _, raw = self.api("contoso", MDE, "/api/alerts?$top=2")
            self.assertEqual(status, 200)
            if kind == "empty":
                self.assertEqual(raw, b"")
                continue
            page = json.loads(raw)
            if kind == "value_not_array":
                self.assertIsInstance(page["value"], dict)
            elif kind == "no_id":
                self.assertNotIn("id", page["value"][0])
                self.assertIn("id", page["value"][1])
            else:
                self.assertEqual(page["value"][0]["lastUpdateTime"], "yesterday at noon")
        for kind, mark in (("nan", b'"riskScore":NaN,'), ("invalid_utf8", b'"caf\xe9"')):
            self.control("POST", "/_emulator/faults", {
                "tenant": "contoso", "bad_body": {"count": 1, "kind": kind}})
            status, _, raw = self.api("contoso", MDE, "/api/alerts?$top=2")
            self.assertIn(mark, raw)
        status, _, raw = self.api("contoso", MDE, "/api/alerts?$top=2")
        self.assertEqual(len(json.loads(raw)["value"]), 2)  # every fault used up
        stats = self.control("GET", "/_emulator/stats")[1]
        self.assertGreaterEqual(stats["html_pages"], 1)
        self.assertGreaterEqual(stats["bad_bodies"], 6)
        status, _ = self.control("POST", "/_emulator/faults",
                                 {"bad_body": {"kind": "nonsense"}})
        self.assertEqual(status, 400)
        self.control("POST", "/_emulator/faults", {"hostile_text": True})
        status, _, raw = self.api("contoso", MDE, "/api/alerts?$top=2")
        rec = json.loads(raw)["value"][0]
        self.assertEqual(rec["title"], faults.hostile(rec["id"], "title"))
        self.control("POST", "/_emulator/faults", {"hostile_text": False})
        self.control("POST", "/_emulator/faults", {"token_slow_ms": 300})
        started = time.monotonic()
        self.secret_token("contoso", GRAPH)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.control("POST", "/_emulator/reset-faults", {})

    def test_stats(self):
        self.token("contoso", MDE)
        self.control("POST", "/_emulator/reset-stats", {})
        self.secret_token("contoso", GRAPH)
        self.api("contoso", MDE, "/api/alerts?$top=2")
        stats = self.control("GET", "/_emulator/stats")[1]
        self.assertEqual(stats["tokens_issued"]["contoso"], 1)
        self.assertEqual(stats["requests"]["mde-alerts"]["contoso"], 1)
        self.assertEqual(stats["requests"]["token"]["contoso"], 1)
        self.assertEqual(stats["records"]["contoso"]["mde-alerts"], 40)
        for key in ("throttled_total", "injected_5xx", "tokens_issued_total",
                    "responses", "snapshots", "records_served"):
            self.assertIn(key, stats)


if __name__ == "__main__":
    unittest.main()
