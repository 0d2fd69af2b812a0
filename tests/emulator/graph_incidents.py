"""Microsoft Graph security incidents (``GET /v1.0/security/incidents``).

Graph and Defender XDR serve the same incidents (reference/defender-api.md
§5.2: the same incident through another API, with other names), so this
stream has no records of its own: a :class:`View` of the
``m365d-incidents`` store renders each of its rows in Graph's schema (§5.1,
§5.2): a string ``id`` (the XDR ``incidentId``), ``displayName``,
``createdDateTime`` / ``lastUpdateDateTime``, lowerCamel enums,
``incidentWebUrl``, ``tenantId``, ``customTags`` / ``systemTags`` and, with
``$expand=alerts`` only, ``alerts[]``: the incident's alerts as Graph alert
resources (the same ids), each with typed ``evidence[]`` built from the XDR
alert's ``devices[]`` and ``entities[]``.  Records added or updated through
either stream appear in both.

Each alert has its own last-update time (Row.sub): an update changes one
alert at a time, and every (n+1)-th update only the incident (a comment, an
assignment), so a client can tell which alerts changed.

Evolvable enums (emulator's choice of where they occur): one variant in
eight has a Microsoft Defender for Cloud alert first (``serviceSource`` and
``detectionSource`` ``microsoftDefenderForCloud``, members added after
``unknownFutureValue``), and every third incident in progress is
``awaitingAction``.  odata.py hides those members as
``unknownFutureValue`` unless the request sends
``Prefer: include-unknown-enum-members``.
"""

import json

import records
import samples
from timeutil import iso

# Defender XDR names -> Graph names (§5.1 enums)
SERVICE_SOURCES = {
    "MicrosoftDefenderATP": ("microsoftDefenderForEndpoint",
                             "Microsoft Defender for Endpoint"),
    "MicrosoftDefenderForOffice365": ("microsoftDefenderForOffice365",
                                      "Microsoft Defender for Office 365"),
    "MicrosoftCloudAppSecurity": ("microsoftDefenderForCloudApps",
                                  "Microsoft Defender for Cloud Apps"),
}
DETECTION_SOURCES = {
    "WindowsDefenderAv": "antivirus",
    "WindowsDefenderAtp": "microsoftDefenderForEndpoint",
    "OfficeATP": "microsoftDefenderForOffice365",
    "MCAS": "cloudAppSecurity",
}
EVOLVABLE_EVERY = 8  # variant index % 8 == 5: a Defender for Cloud alert first


def _evidence_common(kind, slot, entity):
    verdict = (entity.get("verdict") or "unknown")
    return {"@odata.type": "#microsoft.graph.security.%s" % kind,
            "createdDateTime": slot("ev"),
            "verdict": verdict[:1].lower() + verdict[1:],
            "remediationStatus": "none", "remediationStatusDetails": None,
            "roles": [], "detailedRoles": [], "tags": []}


def _account(ent):
    return {"accountName": ent.get("accountName"),
            "domainName": ent.get("domainName"),
            "userSid": ent.get("userSid"),
            "azureAdUserId": ent.get("aadUserId"),
            "userPrincipalName": ent.get("userPrincipalName"),
            "displayName": ent.get("accountName")}


def _file_details(ent):
    return {"sha1": ent.get("sha1"), "sha256": ent.get("sha256"),
            "fileName": ent.get("fileName"), "filePath": ent.get("filePath"),
            "fileSize": None, "filePublisher": None, "signer": None,
            "issuer": None}


def _entity_evidence(ent, slot):
    """A Defender XDR entity (§2.6) as Graph typed evidence (§5.2)."""
    kind = ent.get("entityType")
    if kind == "File":
        ev = _evidence_common("fileEvidence", slot, ent)
        ev.update(fileDetails=_file_details(ent), detectionStatus="detected",
                  mdeDeviceId=ent.get("deviceId"))
    elif kind == "Process":
        ev = _evidence_common("processEvidence", slot, ent)
        ev.update(processId=ent.get("processId"),
                  parentProcessId=ent.get("parentProcessId"),
                  processCommandLine=ent.get("processCommandLine"),
                  processCreationDateTime=ent.get("processCreationTime"),
                  parentProcessCreationDateTime=ent.get(
                      "parentProcessCreationTime"),
                  imageFile=_file_details(ent), parentProcessImageFile=None,
                  userAccount=None, detectionStatus="detected",
                  mdeDeviceId=ent.get("deviceId"))
    elif kind == "User":
        ev = _evidence_common("userEvidence", slot, ent)
        ev["userAccount"] = _account(ent)
    elif kind == "Ip":
        ev = _evidence_common("ipEvidence", slot, ent)
        ev.update(ipAddress=ent.get("ipAddress"), countryLetterCode=None)
    elif kind == "Url":
        ev = _evidence_common("urlEvidence", slot, ent)
        ev["url"] = ent.get("url")
    elif kind == "MailBox":
        ev = _evidence_common("mailboxEvidence", slot, ent)
        ev.update(displayName=ent.get("mailboxDisplayName"),
                  primaryAddress=ent.get("mailboxAddress"), userAccount=None)
    else:  # Registry
        ev = _evidence_common("registryValueEvidence", slot, ent)
        ev.update(registryHive=ent.get("registryHive"),
                  registryKey=ent.get("registryKey"),
                  registryValueType=ent.get("registryValueType"),
                  registryValue=ent.get("registryValue"),
                  registryValueName=None, mdeDeviceId=ent.get("deviceId"))
    return ev


def _device_evidence(dev, slot):
    ev = _evidence_common("deviceEvidence", slot, {})
    n = int(dev["mdatpDeviceId"][:6], 16)
    ev.update(mdeDeviceId=dev["mdatpDeviceId"],
              azureAdDeviceId=dev.get("aadDeviceId"),
              deviceDnsName=dev.get("deviceDnsName"),
              osPlatform=dev.get("osPlatform"), osBuild=dev.get("osBuild"),
              rbacGroupId=dev.get("rbacGroupId"),
              rbacGroupName=dev.get("rbacGroupName"),
              healthStatus=dev.get("healthStatus", "").lower(),
              riskScore=dev.get("riskScore", "").lower(),
              onboardingStatus="onboarded", defenderAvStatus="updated",
              ipInterfaces=["10.%d.%d.%d" % (n >> 16 & 255, n >> 8 & 255,
                                              n & 255 or 1)],
              loggedOnUsers=[], vmMetadata=None)
    return ev


def _alert(src, i, index, slot):
    service, product = SERVICE_SOURCES[src["serviceSource"]]
    detection = DETECTION_SOURCES[src["detectionSource"]]
    if i == 0 and index % EVOLVABLE_EVERY == 5:
        service = detection = "microsoftDefenderForCloud"
        product = "Microsoft Defender for Cloud"
    evidence = [_device_evidence(d, slot) for d in src["devices"]]
    evidence += [_entity_evidence(e, slot) for e in src["entities"]]
    return {
        "@odata.type": "#microsoft.graph.security.alert",
        "id": slot("a%d_id" % i), "providerAlertId": slot("a%d_id" % i),
        "incidentId": slot("iid"), "status": slot("a_status"),
        "severity": slot("severity"), "classification": slot("a_class"),
        "determination": slot("a_determination"),
        "serviceSource": service, "detectionSource": detection,
        "productName": product, "detectorId": src["detectorId"],
        "tenantId": slot("tid"), "title": src["title"],
        "description": src["description"], "recommendedActions": "",
        "category": src["category"], "assignedTo": None,
        "alertWebUrl": slot("a%d_url" % i),
        "incidentWebUrl": slot("iurl"),
        "actorDisplayName": src["actorName"],
        "threatDisplayName": src["threatFamilyName"],
        "threatFamilyName": src["threatFamilyName"],
        "mitreTechniques": src["mitreTechniques"],
        "createdDateTime": slot("a%d_created" % i),
        "lastUpdateDateTime": slot("a%d_updated" % i),
        "resolvedDateTime": slot("a_resolved"),
        "firstActivityDateTime": slot("first"),
        "lastActivityDateTime": slot("last"),
        "comments": [], "evidence": evidence, "systemTags": [],
    }


def graph_variant(base, index, slot):
    """The Graph schema of one Defender XDR incident variant *base*."""
    src = base.meta["source"]
    incident = {
        "@odata.type": "#microsoft.graph.security.incident",
        "id": slot("iid"), "tenantId": slot("tid"), "status": slot("status"),
        "incidentWebUrl": slot("iurl"), "redirectIncidentId": None,
        "displayName": src["incidentName"],
        "description": src["alerts"][0]["description"],
        "createdDateTime": slot("created"),
        "lastUpdateDateTime": slot("updated"),
        "assignedTo": slot("assigned"),
        "classification": slot("classification"),
        "determination": slot("determination"), "severity": slot("severity"),
        "customTags": src["tags"],
        "systemTags": ["Defender Experts"] if index % 5 == 2 else [],
        "comments": [{"comment": c["comment"], "createdBy": c["createdBy"],
                      "createdDateTime": c["createdTime"]}
                     for c in src["comments"]],
    }
    expanded = dict(incident)
    expanded["alerts"] = [_alert(a, i, index, slot)
                          for i, a in enumerate(src["alerts"])]
    return records.Variant(incident, expanded, base.meta)


class GraphIncidentSpec:
    """Graph incidents: the Graph schema of the Defender XDR incidents."""

    name = "graph-incidents"
    id_field = "id"
    update_field = "lastUpdateDateTime"
    created_field = "createdDateTime"

    @staticmethod
    def coerce_id(rid):
        return int(rid)  # the store's ids are the XDR incidentId numbers

    @staticmethod
    def show_id(rid):
        return str(rid)  # Graph's id is a string

    def values(self, store, row, meta):
        h = records.mix(row.h)
        status = records._status(row, ("active", "inProgress", "resolved",
                                       "active"))
        if status == "inProgress" and row.h % 3 == 0:
            status = "awaitingAction"
        resolved = status == "resolved"
        sev = samples.SEVERITIES[((row.h >> 8) + row.version) % 4].lower()
        updated = iso(row.updated, row.pu)
        first, last, ev = records._times(row, h)
        tid = store.tenant.tenant_id
        vals = {
            "iid": records.q(str(row.rid)), "tid": records.q(tid),
            "iurl": records.q("https://security.microsoft.com/incidents/%d"
                              "?tid=%s" % (row.rid, tid)),
            "created": records.q(iso(row.created, row.pc)),
            "updated": records.q(updated),
            "assigned": records.q(samples.ANALYSTS[row.h %
                                                   len(samples.ANALYSTS)])
            if status != "active" else "null",
            "classification": records.q("truePositive" if resolved
                                        else "unknown"),
            "determination": records.q(samples.GRAPH_DETERMINATIONS[row.h % 5]
                                       if resolved else "unknown"),
            "status": records.q(status), "severity": records.q(sev),
            "a_status": records.q("resolved" if resolved else
                                  ("inProgress" if status in (
                                      "inProgress", "awaitingAction")
                                   else "new")),
            "a_class": records.q("truePositive" if resolved else "unknown"),
            "a_determination": records.q(
                samples.GRAPH_DETERMINATIONS[row.h % 5] if resolved
                else "unknown"),
            "a_resolved": records.q(updated) if resolved else "null",
            "first": records.q(first), "last": records.q(last),
            "ev": records.q(ev),
        }
        for i, (aid, created, a_upd) in enumerate(records.alert_parts(row,
                                                                      meta)):
            vals["a%d_id" % i] = records.q(aid)
            vals["a%d_created" % i] = records.q(created)
            vals["a%d_updated" % i] = records.q(a_upd)
            vals["a%d_url" % i] = records.q(
                "https://security.microsoft.com/alerts/%s?tid=%s" % (aid, tid))
        return vals


class View:
    """A stream served from another stream's store (same rows, same
    updates, its own schema and templates)."""

    def __init__(self, base, spec):
        self.base = base
        self.spec = spec
        self.tenant = base.tenant
        self.lock = base.lock
        self.variants = [graph_variant(v, i, records.slot)
                         for i, v in enumerate(base.variants)]

    @property
    def rows(self):
        return self.base.rows

    def select(self, lower=None, upper=None, now=None):
        return self.base.select(lower, upper, now)

    def add(self, count, at=None, lag_s=0, tie=False):
        return self.base.add(count, at, lag_s, tie)

    def update(self, ids=None, count=None, at=None, lag_s=0, tie=False):
        return self.base.update(ids, count, at, lag_s, tie)

    def variant(self, row):
        return self.variants[(row.h >> 24) % len(self.variants)]

    def render(self, row, expand=False):
        variant = self.variant(row)
        values = self.spec.values(self, row, variant.meta)
        template = variant.expanded if expand else variant.plain
        return template.render(values)

    def as_dict(self, row):
        return json.loads(self.render(row, expand=True))

    def __len__(self):
        return len(self.base)
