"""Self-test of the emulator's Graph security incidents
(/v1.0/security/incidents): the schema, $expand=alerts and its permission,
the $top limit of 50 with Graph's error body, live paging, evolvable enums
and the Prefer header, per-alert updates, the expand_fails fault."""

import json
import re
import urllib.parse

from emutest import GRAPH, M365D, TS_RE, EmulatorTestCase, norm

PATH = "/v1.0/security/incidents"
PREFER = {"Prefer": "include-unknown-enum-members"}


class TestGraphIncidents(EmulatorTestCase):
    def get(self, tenant, path, headers=None):
        status, _, raw = self.api(tenant, GRAPH, path, headers=headers)
        return status, json.loads(raw)

    def all_incidents(self, tenant, query="$expand=alerts", headers=None):
        out, path = [], PATH + "?" + query
        while path:
            status, body = self.get(tenant, path, headers)
            self.assertEqual(status, 200, body)
            out.extend(body["value"])
            link = body.get("@odata.nextLink")
            path = None
            if link:
                url = urllib.parse.urlsplit(link)
                path = url.path + "?" + url.query
        return out

    def test_schema_and_the_same_incidents_as_defender_xdr(self):
        graph = self.all_incidents("contoso", "$expand=alerts", PREFER)
        self.assertEqual(len(graph), 40)
        xdr, _ = self.walk("contoso", M365D, "/api/incidents")
        by_id = {str(r["incidentId"]): r for r in xdr}
        self.assertEqual(set(by_id), {g["id"] for g in graph})
        types = set()
        for g in graph:
            x = by_id[g["id"]]
            self.assertEqual(g["@odata.type"],
                             "#microsoft.graph.security.incident")
            for key in ("id", "tenantId", "status", "incidentWebUrl",
                        "redirectIncidentId", "displayName", "description",
                        "createdDateTime", "lastUpdateDateTime", "assignedTo",
                        "classification", "determination", "severity",
                        "customTags", "systemTags", "comments", "alerts"):
                self.assertIn(key, g)
            self.assertIsInstance(g["id"], str)
            self.assertEqual(g["tenantId"], self.t["contoso"]["tenant_id"])
            self.assertEqual(g["displayName"], x["incidentName"])
            self.assertEqual(g["lastUpdateDateTime"], x["lastUpdateTime"])
            self.assertEqual(g["createdDateTime"], x["createdTime"])
            self.assertEqual(g["severity"], x["severity"].lower())
            self.assertIn(g["status"], ("active", "inProgress", "resolved",
                                        "awaitingAction"))
            self.assertRegex(g["lastUpdateDateTime"], TS_RE)
            self.assertEqual([a["id"] for a in g["alerts"]],
                             [a["alertId"] for a in x["alerts"]])
            for a in g["alerts"]:
                self.assertEqual(a["@odata.type"],
                                 "#microsoft.graph.security.alert")
                self.assertEqual(a["incidentId"], g["id"])
                for key in ("createdDateTime", "lastUpdateDateTime",
                            "serviceSource", "detectionSource", "title",
                            "category", "alertWebUrl", "evidence"):
                    self.assertIn(key, a)
                self.assertLessEqual(norm(a["lastUpdateDateTime"]),
                                     norm(g["lastUpdateDateTime"]))
                self.assertTrue(a["evidence"])
                types.update(e["@odata.type"] for e in a["evidence"])
        self.assertIn("#microsoft.graph.security.deviceEvidence", types)
        self.assertGreater(len(types), 4)
        # without $expand the incidents carry no alerts
        plain = self.all_incidents("contoso", "$top=50")
        self.assertEqual(len(plain), 40)
        self.assertFalse(any("alerts" in g for g in plain))
        status, body = self.get("contoso", PATH + "?$top=1")
        self.assertTrue(body["@odata.context"].endswith(
            "/v1.0/$metadata#security/incidents"))

    def test_top_limit_and_options(self):
        status, body = self.get("contoso", PATH + "?$top=100")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "BadRequest")
        self.assertEqual(body["error"]["message"],
                         "The query specified in the URI is not valid. The "
                         "limit of '50' for Top query has been exceeded. The "
                         "value from the incoming request is '100'.")
        self.assertIn("request-id", body["error"]["innerError"])
        status, body = self.get("contoso", PATH + "?$top=50")
        self.assertEqual((status, len(body["value"])), (200, 40))
        for query in ("$expand=evidence", "$skip=501", "$orderby=id"):
            status, body = self.get("contoso", PATH + "?" + query)
            self.assertEqual(status, 400, query)

    def test_live_paging(self):
        status, body = self.get("fabrikam", PATH + "?$top=15&$count=true")
        self.assertEqual(status, 200)
        self.assertEqual(body["@odata.count"], 40)
        self.assertIn("$skip=15", body["@odata.nextLink"])
        # the link comes before value, as Graph writes it
        _, _, raw = self.api("fabrikam", GRAPH, PATH + "?$top=15")
        self.assertLess(raw.index(b"@odata.nextLink"), raw.index(b'"value"'))
        first = [g["id"] for g in body["value"]]
        # an update moves the first record out of the rows: $skip=15 now
        # starts one row later (live data, no snapshot)
        self.control("POST", "/_emulator/update", {
            "tenant": "fabrikam", "stream": "graph-incidents",
            "ids": [first[0]]})
        status, page2 = self.get("fabrikam", PATH + "?$top=15&$skip=15")
        status, again = self.get("fabrikam", PATH + "?$top=15")
        self.assertEqual([g["id"] for g in again["value"]][:14], first[1:])
        self.assertNotIn(first[0], [g["id"] for g in page2["value"]])

    def test_evolvable_enums_and_prefer(self):
        def members(body):
            return set(re.findall(r'"(?:serviceSource|detectionSource|status)"'
                                  r':"(\w+)"', body))
        for tenant, path in (("contoso", PATH + "?$expand=alerts&$top=50"),
                             ("contoso", "/v1.0/security/alerts_v2?$top=40")):
            _, _, hidden = self.api(tenant, GRAPH, path)
            _, _, shown = self.api(tenant, GRAPH, path, headers=PREFER)
            hidden, shown = members(hidden.decode()), members(shown.decode())
            self.assertIn("microsoftDefenderForCloud", shown, path)
            self.assertNotIn("microsoftDefenderForCloud", hidden, path)
            self.assertIn("unknownFutureValue", hidden, path)
            self.assertNotIn("unknownFutureValue", shown, path)
        # a Prefer header with several preferences
        _, _, raw = self.api("contoso", GRAPH, PATH + "?$expand=alerts",
                             headers={"Prefer": "odata.maxpagesize=10, "
                                      "include-unknown-enum-members"})
        self.assertIn(b"microsoftDefenderForCloud", raw)

    def test_update_changes_one_alert_at_a_time(self):
        graph = self.all_incidents("northwind")
        target = next(g for g in graph if len(g["alerts"]) >= 2)
        before = {a["id"]: a["lastUpdateDateTime"] for a in target["alerts"]}
        changed = []
        for _ in range(len(before) + 1):
            status, body = self.control("POST", "/_emulator/update", {
                "tenant": "northwind", "stream": "graph-incidents",
                "ids": [target["id"]]})
            self.assertEqual(status, 200, body)
            now = next(g for g in self.all_incidents("northwind")
                       if g["id"] == target["id"])
            after = {a["id"]: a["lastUpdateDateTime"] for a in now["alerts"]}
            changed.append([k for k in after if after[k] != before[k]])
            self.assertTrue(all(norm(a["lastUpdateDateTime"]) <=
                                norm(now["lastUpdateDateTime"])
                                for a in now["alerts"]))
            before = after
        # one alert per update in turn, then an update of the incident alone
        self.assertEqual([len(c) for c in changed],
                         [1] * (len(changed) - 1) + [0])
        self.assertEqual(len({c[0] for c in changed[:-1]}),
                         len(changed) - 1)
        # the Defender XDR view shows the same incident, updated
        xdr, _ = self.walk("northwind", M365D, "/api/incidents")
        x = next(r for r in xdr if str(r["incidentId"]) == target["id"])
        self.assertEqual(x["lastUpdateTime"], now["lastUpdateDateTime"])
        self.assertEqual({a["alertId"]: a["lastUpdatedTime"]
                          for a in x["alerts"]}, before)

    def test_expand_needs_security_alert_permission(self):
        self.control("POST", "/_emulator/consent", {
            "tenant": "fabrikam", "granted": True,
            "roles": ["SecurityIncident.Read.All"]})
        try:
            token = self.secret_token("fabrikam", GRAPH)
            auth = {"Authorization": "Bearer " + token}
            status, _, raw = self.request("GET", PATH + "?$top=5",
                                          headers=auth)
            self.assertEqual(status, 200, raw)
            status, _, raw = self.request("GET", PATH + "?$expand=alerts",
                                          headers=auth)
            self.assertEqual(status, 403, raw)
            self.assertIn(b"SecurityAlert.Read.All", raw)
            status, _, raw = self.request(
                "GET", "/v1.0/security/incidents?$top=5", headers={
                    "Authorization": "Bearer " + self.secret_token(
                        "contoso", GRAPH)})
            self.assertEqual(status, 200)
        finally:
            self.control("POST", "/_emulator/consent", {
                "tenant": "fabrikam", "granted": True,
                "roles": ["Incident.Read.All", "Alert.Read.All",
                          "SecurityAlert.Read.All",
                          "SecurityIncident.Read.All"]})
            self.tokens.pop(("fabrikam", GRAPH), None)

    def test_expand_fails_fault(self):
        self.control("POST", "/_emulator/faults", {"tenant": "contoso",
                                                   "expand_fails": True})
        status, body = self.get("contoso", PATH + "?$expand=alerts")
        self.assertEqual(status, 500)
        self.assertEqual(body["error"]["code"], "InternalServerError")
        status, body = self.get("contoso", PATH + "?$top=50")
        self.assertEqual(status, 200)
        status, body = self.get("fabrikam", PATH + "?$expand=alerts")
        self.assertEqual(status, 200)
