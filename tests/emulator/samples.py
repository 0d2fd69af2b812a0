"""Sample values and record shapes (variants) for the emulator.

Shapes follow the documented schemas (reference/defender-api.md §2.3-2.7,
§3.3-3.4, §5); values are invented.  Titles include non-ASCII text,
quotes, backslashes, CEF/LEEF special characters (``| = \\``) and a
description with a line break, so encoders get exercised.
"""

SEVERITIES = ("Informational", "Low", "Medium", "High")
DETERMINATIONS = ("Malware", "Phishing", "CompromisedUser",
                  "MultiStagedAttack", "SecurityTesting")
GRAPH_DETERMINATIONS = ("malware", "phishing", "compromisedAccount",
                        "multiStagedAttack", "securityTesting")
INVESTIGATION_STATES = ("UnsupportedAlertType", "Running",
                        "SuccessfullyRemediated", "PendingApproval",
                        "Benign")
ANALYSTS = ("secop2@contoso.com", "Automation", "analyst@fabrikam.com")

TITLES = (
    "'Mimikatz' hacktool was detected",
    "Suspicious PowerShell command line",
    "Ransomware behavior detected in the file system",
    "Low-reputation arbitrary code executed by signed executable",
    "Connexion suspecte depuis un pays inhabituel — Zürich",
    "疑わしいプロセスの挿入が検出されました",
    "Подозрительная активность учетной записи",
    "Phishing e-mail \"Invoice #4711\" delivered to 3 mailboxes",
    "Credential theft: lsass.exe memory read \U0001F511",
    "Suspicious file dropped | tag=evil \\ C:\\Temp\\x.dll",
    "Anomalous token activity <script>alert(1)</script>",
    "Möglicher Datendiebstahl über SMB-Freigabe",
)
DESCRIPTIONS = (
    "Readily available tools, such as hacking programs, can be used by "
    "unauthorized individuals to spy on users.",
    "A process injected code into another process.\nInvestigate the "
    "process tree and the network connections.",
    "Binaries signed by Microsoft can be used to run low-reputation "
    "arbitrary code (e.g. rundll32.exe \"c:\\temp\\payload.dll\",Start).",
    "Se detectó actividad sospechosa; revise el dispositivo afectado.",
)
CATEGORIES = ("Malware", "Execution", "CredentialAccess", "InitialAccess",
              "DefenseEvasion", "LateralMovement", "Impact",
              "SuspiciousActivity")
MITRE = ("T1566.001", "T1059.001", "T1003.001", "T1055", "T1218.011",
         "T1486", "T1021.002", "T1078")
THREAT_FAMILIES = (None, None, "Mimikatz", "Emotet", "Qakbot")
ACTORS = (None, None, None, "BORON", "Storm-0501")
HOSTS = ("ws-0042", "srv-db01", "laptop-ænne", "dc01", "kiosk-7")
USERS = ("testUser2", "jdoe", "łukasz.nowak", "svc_backup", "admin")
OS = (("WindowsServer2016", "1607", 14393), ("Windows10", "22H2", 19045),
      ("Windows11", "23H2", 22631), ("Linux", None, None))
FILES = (("rundll32.exe", "C:\\Windows\\SysWOW64"),
         ("mimikatz.exe", "C:\\Users\\Public\\Downloads"),
         ("Detector.UnitTests.dll", "C:\\Agent\\_work\\_temp\\Out"),
         ("invoice.pdf.js", "C:\\Users\\jdoe\\AppData\\Local\\Temp"))
IPS = ("62.216.203.204", "10.1.14.1", "2001:db8::7", "185.220.101.3")
URLS = ("http://down.esales360.cn/a.php?x=1&y=2",
        "https://login.micros0ft-support.com/")

# entity keys of the Defender XDR incident API (full-null shape)
ENTITY_KEYS = (
    "entityType", "sha1", "sha256", "fileName", "filePath", "processId",
    "processCommandLine", "processCreationTime", "parentProcessId",
    "parentProcessCreationTime", "ipAddress", "url", "accountName",
    "domainName", "userSid", "aadUserId", "userPrincipalName",
    "mailboxDisplayName", "mailboxAddress", "clusterBy", "sender",
    "recipient", "subject", "deliveryAction", "securityGroupId",
    "securityGroupName", "registryHive", "registryKey",
    "registryValueType", "registryValue", "deviceId")
# evidence keys of the MDE alerts API (all present, null when N/A)
EVIDENCE_KEYS = (
    "entityType", "evidenceCreationTime", "sha1", "sha256", "fileName",
    "filePath", "processId", "processCommandLine", "processCreationTime",
    "parentProcessId", "parentProcessCreationTime",
    "parentProcessFileName", "parentProcessFilePath", "ipAddress", "url",
    "registryKey", "registryHive", "registryValueType", "registryValue",
    "accountName", "domainName", "userSid", "aadUserId",
    "userPrincipalName", "detectionStatus")

INCIDENT_ALERT_KINDS = (
    ("MicrosoftDefenderATP", "WindowsDefenderAv", "da"),
    ("MicrosoftDefenderATP", "WindowsDefenderAtp", "da"),
    ("MicrosoftDefenderForOffice365", "OfficeATP", "fa"),
    ("MicrosoftCloudAppSecurity", "MCAS", "ca"),
)
GRAPH_KINDS = (
    ("microsoftDefenderForEndpoint", "antivirus", "da"),
    ("microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint", "da"),
    ("microsoftDefenderForOffice365", "microsoftDefenderForOffice365", "fa"),
    ("microsoftDefenderForCloudApps", "cloudAppSecurity", "ca"),
    ("microsoftDefenderForIdentity", "microsoftDefenderForIdentity", "aa"),
)


def guid(rng):
    """Random (seeded) GUID string."""
    return "%08x-%04x-4%03x-%04x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
        0x8000 | rng.getrandbits(14), rng.getrandbits(48))


def guid_from(h):
    """GUID-shaped text derived from a 64-bit hash (not random)."""
    h2 = (h * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)
    return "%08x-%04x-%04x-%04x-%012x" % (
        h >> 32, (h >> 16) & 0xFFFF, h & 0xFFFF, h2 >> 48,
        h2 & 0xFFFFFFFFFFFF)


def hex40(rng):
    """MDE device id shape (40 hex digits)."""
    return "%040x" % rng.getrandbits(160)


def _sid(rng):
    parts = [rng.randrange(10 ** 9, 4 * 10 ** 9) for _ in range(3)]
    return "S-1-5-21-%d-%d-%d-%d" % (parts[0], parts[1], parts[2],
                                     rng.randrange(1000, 99999))


def _device(rng, tenant):
    os_platform, version, build = rng.choice(OS)
    dev = {
        "mdatpDeviceId": hex40(rng),
        "aadDeviceId": rng.choice((None, guid(rng))),
        "deviceDnsName": "%s.%s.corp" % (rng.choice(HOSTS), tenant.name),
        "osPlatform": os_platform, "version": version,
        "osProcessor": "x64", "osBuild": build,
        "healthStatus": rng.choice(("Active", "Inactive")),
        "riskScore": rng.choice(("None", "Low", "Medium", "High")),
        "rbacGroupName": "WDATP-Ring%d" % rng.randrange(3),
        "rbacGroupId": rng.randrange(1, 20),
        "firstSeen": "2025-02-06T14:16:01.9330135Z",
    }
    if rng.random() < 0.5:
        dev["tags"] = rng.choice(([], ["VIP"], ["Finance", "Tier 0"]))
    return dev, dev["mdatpDeviceId"]


def _entity_values(rng, kind, device_id, slot):
    fname, fpath = rng.choice(FILES)
    user = rng.choice(USERS)
    vals = {"entityType": kind}
    if kind in ("File", "Process"):
        vals.update(sha1="%040x" % rng.getrandbits(160),
                    sha256=rng.choice((None, "%064x" % rng.getrandbits(256))),
                    fileName=fname, filePath=fpath, deviceId=device_id)
    if kind == "Process":
        vals.update(processId=rng.randrange(100, 30000),
                    processCommandLine="%s  \"%s\\%s\",Run" % (
                        fname, fpath, fname),
                    processCreationTime=slot("first"),
                    parentProcessId=rng.randrange(100, 30000),
                    parentProcessCreationTime=slot("first"))
    elif kind == "User":
        vals.update(accountName=user, domainName="corp.example",
                    userSid=_sid(rng), aadUserId=guid(rng),
                    userPrincipalName="%s@example.com" % user)
    elif kind == "Ip":
        vals["ipAddress"] = rng.choice(IPS)
    elif kind == "Url":
        vals["url"] = rng.choice(URLS)
    elif kind == "MailBox":
        vals.update(mailboxDisplayName=user, mailboxAddress=user
                    + "@example.com")
    elif kind == "Registry":
        vals.update(registryHive="HKEY_LOCAL_MACHINE",
                    registryKey="SOFTWARE\\Microsoft\\Windows\\CurrentVersion"
                    "\\Run", registryValueType="String",
                    registryValue="C:\\Temp\\evil.exe")
    return vals


def _entity(rng, device_id, slot):
    kind = rng.choice(("File", "Process", "User", "Ip", "Url", "MailBox",
                       "Registry"))
    vals = _entity_values(rng, kind, device_id, slot)
    if rng.random() < 0.5:  # documented full-null shape
        return {key: vals.get(key) for key in ENTITY_KEYS}
    sparse = dict(vals)  # observed sparse shape with extra keys
    sparse.update(evidenceCreationTime=slot("ev"),
                  verdict=rng.choice(("Suspicious", "Malicious")),
                  remediationStatus="None")
    return sparse


def incident_variant(rng, tenant, variant_cls, slot):
    """One Defender XDR incident shape with 1-3 embedded alerts."""
    shapes, alerts = [], []
    for i in range(rng.choice((1, 1, 2, 3))):
        source, detection, shape = rng.choice(INCIDENT_ALERT_KINDS)
        shapes.append(shape)
        device, device_id = _device(rng, tenant)
        alerts.append({
            "alertId": slot("a%d_id" % i),
            "providerAlertId": slot("a%d_id" % i),
            "incidentId": slot("iid"),
            "serviceSource": source,
            "creationTime": slot("a%d_created" % i),
            "lastUpdatedTime": slot("a%d_updated" % i),
            "resolvedTime": slot("a_resolved"),
            "firstActivity": slot("first"),
            "lastActivity": slot("last"),
            "title": rng.choice(TITLES),
            "description": rng.choice(DESCRIPTIONS),
            "category": rng.choice(CATEGORIES),
            "status": slot("a_status"),
            "severity": slot("severity"),
            "investigationId": None,
            "investigationState": rng.choice(INVESTIGATION_STATES),
            "classification": None,
            "determination": None,
            "detectionSource": detection,
            "detectorId": guid(rng),
            "assignedTo": None,
            "actorName": rng.choice(ACTORS),
            "threatFamilyName": rng.choice(THREAT_FAMILIES),
            "mitreTechniques": rng.sample(MITRE, rng.randrange(0, 3)),
            "devices": [device] if shape == "da" else [],
            "entities": [_entity(rng, device_id, slot)
                         for _ in range(rng.randrange(1, 4))],
        })
    comments = []
    if rng.random() < 0.3:
        comments.append({"comment": "Escalated to tier 2 — see ticket "
                                    "#%d" % rng.randrange(1000, 9999),
                         "createdBy": ANALYSTS[0], "createdTime": slot("ev")})
    incident = {
        "incidentId": slot("iid"),
        "incidentUri": slot("iuri"),
        "redirectIncidentId": None,
        "incidentName": "%s on one endpoint" % alerts[0]["title"]
        if len(alerts) == 1 else "Multi-stage incident involving %s"
        % alerts[0]["category"],
        "createdTime": slot("created"),
        "lastUpdateTime": slot("updated"),
        "assignedTo": slot("assigned"),
        "classification": slot("classification"),
        "determination": slot("determination"),
        "status": slot("status"),
        "severity": slot("severity"),
        "tags": rng.choice(([], [], ["Ransomware"], ["Demo", "Ünicode-tag"])),
        "comments": comments,
        "alerts": alerts,
    }
    # the source shape stays in meta: graph_incidents.py builds Graph's
    # schema of the same incident from it
    return variant_cls(incident, meta={"alert_shapes": shapes,
                                       "source": incident})


def _mde_evidence(rng, tenant, device_id, slot):
    items = []
    for _ in range(rng.randrange(1, 4)):
        kind = rng.choice(("File", "Process", "User", "Ip", "Url",
                           "Registry"))
        vals = _entity_values(rng, kind, device_id, slot)
        vals["evidenceCreationTime"] = slot("ev")
        if kind == "Process":
            vals.update(parentProcessFileName="cmd.exe",
                        parentProcessFilePath="C:\\Windows\\System32")
        if kind in ("File", "Process"):
            vals["detectionStatus"] = rng.choice(("Detected", "Blocked",
                                                  None))
        items.append({key: vals.get(key) for key in EVIDENCE_KEYS})
    return items


def mde_alert_variant(rng, tenant, variant_cls, slot):
    """One MDE alert shape; the expanded form carries evidence."""
    device, device_id = _device(rng, tenant)
    user = rng.choice(USERS)
    comments = []
    if rng.random() < 0.25:
        comments.append({"comment": "test comment ✓", "createdBy":
                         ANALYSTS[0], "createdTime": slot("ev")})
    threat = rng.choice(THREAT_FAMILIES)
    alert = {
        "id": slot("id"), "incidentId": slot("incident"),
        "investigationId": slot("inv"), "assignedTo": slot("assigned"),
        "severity": slot("severity"), "status": slot("status"),
        "classification": slot("classification"),
        "determination": slot("determination"),
        "investigationState": slot("invstate"),
        "detectionSource": rng.choice(("WindowsDefenderAtp",
                                       "WindowsDefenderAv", "CustomerTI",
                                       "AutomatedInvestigation")),
        "detectorId": guid(rng), "category": rng.choice(CATEGORIES),
        "threatFamilyName": threat,
        "title": rng.choice(TITLES), "description": rng.choice(DESCRIPTIONS),
        "alertCreationTime": slot("created"), "firstEventTime": slot("first"),
        "lastEventTime": slot("last"), "lastUpdateTime": slot("updated"),
        "resolvedTime": slot("resolved"), "machineId": device_id,
        "computerDnsName": device["deviceDnsName"],
        "rbacGroupName": device["rbacGroupName"],
        "aadTenantId": tenant.tenant_id,
        "threatName": None if threat is None else
        "HackTool:Win32/%s!dha" % threat,
        "mitreTechniques": rng.sample(MITRE, rng.randrange(0, 4)),
        "relatedUser": rng.choice((None, {"userName": user,
                                          "domainName": "CORP"})),
        "loggedOnUsers": [{"accountName": user, "domainName": "CORP"}]
        if rng.random() < 0.3 else [],
        "comments": comments,
        "evidence": [],
    }
    expanded = dict(alert)
    expanded["evidence"] = _mde_evidence(rng, tenant, device_id, slot)
    return variant_cls(alert, expanded)


def _graph_evidence(rng, tenant, slot):
    def common(kind, verdict):
        return {"@odata.type": "#microsoft.graph.security.%s" % kind,
                "createdDateTime": slot("ev"), "verdict": verdict,
                "remediationStatus": rng.choice(("none", "remediated",
                                                 "notFound")),
                "remediationStatusDetails": None, "roles": [],
                "detailedRoles": [], "tags": []}

    user = rng.choice(USERS)
    account = {"accountName": user, "domainName": "CORP",
               "userSid": _sid(rng), "azureAdUserId": guid(rng),
               "userPrincipalName": "%s@example.com" % user,
               "displayName": user.title()}
    fname, fpath = rng.choice(FILES)
    file_details = {"sha1": "%040x" % rng.getrandbits(160),
                    "sha256": "%064x" % rng.getrandbits(256),
                    "fileName": fname, "filePath": fpath,
                    "fileSize": rng.randrange(1000, 10 ** 7),
                    "filePublisher": None, "signer": None, "issuer": None}
    device = common("deviceEvidence", "suspicious")
    os_platform, _, build = rng.choice(OS)
    device.update(mdeDeviceId=hex40(rng), azureAdDeviceId=guid(rng),
                  deviceDnsName="%s.%s.corp" % (rng.choice(HOSTS),
                                                tenant.name),
                  osPlatform=os_platform, osBuild=build,
                  rbacGroupId=rng.randrange(1, 20),
                  rbacGroupName="WDATP-Ring0", healthStatus="active",
                  riskScore=rng.choice(("low", "medium", "high")),
                  onboardingStatus="onboarded",
                  defenderAvStatus="updated", ipInterfaces=[rng.choice(IPS)],
                  loggedOnUsers=[{"accountName": user,
                                  "domainName": "CORP"}],
                  vmMetadata=None)
    files = common("fileEvidence", "malicious")
    files.update(fileDetails=file_details, detectionStatus="detected",
                 mdeDeviceId=device["mdeDeviceId"])
    proc = common("processEvidence", "suspicious")
    proc.update(processId=rng.randrange(100, 30000),
                parentProcessId=rng.randrange(100, 30000),
                processCommandLine="powershell.exe -enc SQBFAFgA",
                processCreationDateTime=slot("first"),
                parentProcessCreationDateTime=slot("first"),
                imageFile=file_details, parentProcessImageFile=None,
                userAccount=account, detectionStatus="detected",
                mdeDeviceId=device["mdeDeviceId"])
    users = common("userEvidence", "unknown")
    users["userAccount"] = account
    ip = common("ipEvidence", "suspicious")
    ip.update(ipAddress=rng.choice(IPS), countryLetterCode="NL")
    url = common("urlEvidence", "malicious")
    url["url"] = rng.choice(URLS)
    pool = [device, files, proc, users, ip, url]
    picked = [device] + rng.sample(pool[1:], rng.randrange(0, 4))
    return picked


def graph_alert_variant(rng, tenant, variant_cls, slot, evolvable=False):
    """One Graph alerts_v2 shape (typed evidence is always included).
    *evolvable*: a Microsoft Defender for Cloud alert, whose serviceSource
    and detectionSource were added to their enums after
    unknownFutureValue (§5.1)."""
    source, detection, prefix = rng.choice(GRAPH_KINDS)
    threat = rng.choice(THREAT_FAMILIES)
    alert = {
        "@odata.type": "#microsoft.graph.security.alert",
        "id": slot("id"), "providerAlertId": slot("id"),
        "incidentId": slot("incident"), "status": slot("status"),
        "severity": slot("severity"),
        "classification": slot("classification"),
        "determination": slot("determination"),
        "serviceSource": source, "detectionSource": detection,
        "productName": "Microsoft Defender for Endpoint"
        if source == "microsoftDefenderForEndpoint" else None,
        "detectorId": guid(rng), "tenantId": tenant.tenant_id,
        "title": rng.choice(TITLES), "description": rng.choice(DESCRIPTIONS),
        "recommendedActions": "1. Isolate the device.\n2. Reset "
                              "credentials." if rng.random() < 0.5 else "",
        "category": rng.choice(CATEGORIES), "assignedTo": slot("assigned"),
        "alertWebUrl": slot("alert_url"),
        "incidentWebUrl": slot("incident_url"),
        "actorDisplayName": rng.choice(ACTORS),
        "threatDisplayName": threat, "threatFamilyName": threat,
        "mitreTechniques": rng.sample(MITRE, rng.randrange(0, 4)),
        "createdDateTime": slot("created"),
        "lastUpdateDateTime": slot("updated"),
        "resolvedDateTime": slot("resolved"),
        "firstActivityDateTime": slot("first"),
        "lastActivityDateTime": slot("last"),
        "comments": [], "evidence": _graph_evidence(rng, tenant, slot),
        "systemTags": rng.choice(([], ["Defender Experts"])),
    }
    if evolvable:  # after every rng draw: the other variants stay the same
        alert.update(serviceSource="microsoftDefenderForCloud",
                     detectionSource="microsoftDefenderForCloud",
                     productName="Microsoft Defender for Cloud")
    return variant_cls(alert, meta={"id_prefix": prefix})
