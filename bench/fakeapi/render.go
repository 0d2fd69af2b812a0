package main

// JSON of the records: small (about 1 KiB) but shaped like Graph alerts_v2 and MDE alerts, with
// the fields SIEM mappings read (defender-api.md; tests/emulator/samples.py has the full shapes).
// Every string below is JSON-safe as written; ids and times are ASCII.

import (
	"strconv"
	"time"
)

var (
	titles = []string{
		"Suspicious PowerShell command line", "Credential dumping tool detected",
		"Ransomware behavior detected in the file system", "Suspicious sign-in from an unusual location",
		"Malicious URL was clicked", "Process injection detected",
	}
	categories = []string{"Execution", "CredentialAccess", "Ransomware", "InitialAccess",
		"Persistence", "DefenseEvasion"}
	graphSev  = []string{"informational", "low", "medium", "high"}
	mdeSev    = []string{"Informational", "Low", "Medium", "High"}
	threats   = []string{`null`, `"Mimikatz"`, `"Emotet"`, `"CobaltStrike"`}
	mitre     = []string{`[]`, `["T1059.001"]`, `["T1003.001","T1078"]`, `["T1566.002"]`}
	hosts     = []string{"ws-0142", "srv-db01", "laptop-77", "dc01"}
	users     = []string{"alice", "bob", "carol", "dave"}
	fileNames = []string{"mimikatz.exe", "invoice.docm", "payload.ps1", "svch0st.exe"}
)

const ticksAtEpoch = 621355968000000000 // .NET ticks (100 ns since 0001-01-01) of 1970-01-01

// recordID is an alert id as Defender writes them: "da" + creation ticks + "_" + a number.
func recordID(r rec) string {
	b := make([]byte, 0, 40)
	return string(appendID(b, r))
}

func appendID(b []byte, r rec) []byte {
	b = append(b, "da"...)
	b = strconv.AppendInt(b, ticksAtEpoch+r.created*10000+int64(r.seq%10000), 10)
	b = append(b, '_')
	return strconv.AppendInt(b, int64(int32(r.h)), 10)
}

// appendTime writes ms as ISO 8601 UTC with 7 fraction digits (Graph) or 3 (MDE).
func appendTime(b []byte, ms int64, seven bool) []byte {
	b = time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000")
	if seven {
		b = append(b, "0000"...)
	}
	return append(b, 'Z')
}

// updatedString is the record's last-update time as served.
func updatedString(r rec) string {
	return string(appendTime(nil, r.updated, r.stream == streamGraph))
}

func appendQ(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendKey(b []byte, first bool, key string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = appendQ(b, key)
	return append(b, ':')
}

func appendKV(b []byte, key, val string) []byte {
	return appendQ(appendKey(b, false, key), val)
}

func appendKTime(b []byte, key string, ms int64, seven bool) []byte {
	b = appendKey(b, false, key)
	b = append(b, '"')
	b = appendTime(b, ms, seven)
	return append(b, '"')
}

func pick(list []string, h uint64, shift uint) string {
	return list[int((h>>shift)%uint64(len(list)))]
}

func hex40(h uint64) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 40)
	for i := range b {
		h = mix(h)
		b[i] = digits[h&15]
	}
	return string(b)
}

func appendGraph(b []byte, r rec, t *tenant) []byte {
	id := recordID(r)
	incident := strconv.FormatInt(int64(r.h>>40), 10)
	b = append(b, `{"@odata.type":"#microsoft.graph.security.alert"`...)
	b = appendKV(b, "id", id)
	b = appendKV(b, "providerAlertId", id)
	b = appendKV(b, "incidentId", incident)
	status, assigned, resolved := "new", `null`, false
	if r.version == 2 {
		status, assigned = "inProgress", `"soc@`+t.Name+`.example"`
		if r.h&1 == 1 {
			status, resolved = "resolved", true
		}
	}
	b = appendKV(b, "status", status)
	b = appendKV(b, "severity", pick(graphSev, r.h, 3))
	b = append(b, `,"classification":null,"determination":null`...)
	b = append(b, `,"serviceSource":"microsoftDefenderForEndpoint","detectionSource":"antivirus"`...)
	b = append(b, `,"productName":"Microsoft Defender for Endpoint"`...)
	b = appendKV(b, "detectorId", guid(mix(r.h), mix(r.h+1)))
	b = appendKV(b, "tenantId", t.TenantID)
	b = appendKV(b, "title", pick(titles, r.h, 7))
	b = append(b, `,"description":"A process ran a command that matches known attacker behavior."`...)
	b = appendKV(b, "category", pick(categories, r.h, 11))
	b = append(b, `,"assignedTo":`...)
	b = append(b, assigned...)
	b = appendKV(b, "alertWebUrl", "https://security.microsoft.com/alerts/"+id+"?tid="+t.TenantID)
	b = appendKV(b, "incidentWebUrl",
		"https://security.microsoft.com/incidents/"+incident+"?tid="+t.TenantID)
	threat := pick(threats, r.h, 15)
	b = append(b, `,"actorDisplayName":null,"threatDisplayName":`...)
	b = append(b, threat...)
	b = append(b, `,"threatFamilyName":`...)
	b = append(b, threat...)
	b = append(b, `,"mitreTechniques":`...)
	b = append(b, pick(mitre, r.h, 19)...)
	b = appendKTime(b, "createdDateTime", r.created, true)
	b = appendKTime(b, "lastUpdateDateTime", r.updated, true)
	if resolved {
		b = appendKTime(b, "resolvedDateTime", r.updated, true)
	} else {
		b = append(b, `,"resolvedDateTime":null`...)
	}
	b = appendKTime(b, "firstActivityDateTime", r.created-60000, true)
	b = appendKTime(b, "lastActivityDateTime", r.created-1000, true)
	b = append(b, `,"comments":[],"evidence":[{"@odata.type":"#microsoft.graph.security.deviceEvidence"`...)
	b = appendKTime(b, "createdDateTime", r.created, true)
	b = append(b, `,"verdict":"suspicious","remediationStatus":"none","roles":[],"tags":[]`...)
	b = appendKV(b, "mdeDeviceId", hex40(r.h))
	b = appendKV(b, "deviceDnsName", pick(hosts, r.h, 23)+"."+t.Name+".corp")
	b = append(b, `,"osPlatform":"Windows11","healthStatus":"active","riskScore":"medium"}]`...)
	return append(b, `,"systemTags":[]}`...)
}

func appendMDE(b []byte, r rec, t *tenant, expand bool) []byte {
	b = append(b, '{')
	b = appendQ(appendKey(b, true, "id"), recordID(r))
	b = append(b, `,"incidentId":`...)
	b = strconv.AppendInt(b, int64(r.h>>44), 10)
	status, assigned, resolved := "New", `null`, false
	if r.version == 2 {
		status, assigned = "InProgress", `"soc@`+t.Name+`.example"`
		if r.h&1 == 1 {
			status, resolved = "Resolved", true
		}
	}
	b = append(b, `,"investigationId":null,"assignedTo":`...)
	b = append(b, assigned...)
	b = appendKV(b, "severity", pick(mdeSev, r.h, 3))
	b = appendKV(b, "status", status)
	b = append(b, `,"classification":null,"determination":null,"investigationState":"Queued"`...)
	b = append(b, `,"detectionSource":"WindowsDefenderAv"`...)
	b = appendKV(b, "detectorId", guid(mix(r.h), mix(r.h+1)))
	b = appendKV(b, "category", pick(categories, r.h, 11))
	threat := pick(threats, r.h, 15)
	b = append(b, `,"threatFamilyName":`...)
	b = append(b, threat...)
	b = appendKV(b, "title", pick(titles, r.h, 7))
	b = append(b, `,"description":"A process ran a command that matches known attacker behavior."`...)
	b = appendKTime(b, "alertCreationTime", r.created, false)
	b = appendKTime(b, "firstEventTime", r.created-60000, false)
	b = appendKTime(b, "lastEventTime", r.created-1000, false)
	b = appendKTime(b, "lastUpdateTime", r.updated, false)
	if resolved {
		b = appendKTime(b, "resolvedTime", r.updated, false)
	} else {
		b = append(b, `,"resolvedTime":null`...)
	}
	machine := hex40(r.h)
	b = appendKV(b, "machineId", machine)
	b = appendKV(b, "computerDnsName", pick(hosts, r.h, 23)+"."+t.Name+".corp")
	b = append(b, `,"rbacGroupName":"WDATP-Ring0"`...)
	b = appendKV(b, "aadTenantId", t.TenantID)
	b = append(b, `,"threatName":null,"mitreTechniques":`...)
	b = append(b, pick(mitre, r.h, 19)...)
	user := pick(users, r.h, 27)
	b = append(b, `,"relatedUser":{"userName":"`+user+`","domainName":"CORP"},"loggedOnUsers":[]`...)
	b = append(b, `,"comments":[],"evidence":[`...)
	if expand {
		b = append(b, `{"entityType":"File"`...)
		b = appendKTime(b, "evidenceCreationTime", r.created, false)
		b = appendKV(b, "sha1", hex40(r.h+2))
		b = appendKV(b, "fileName", pick(fileNames, r.h, 31))
		b = append(b, `,"filePath":"C:\\Users\\Public","processId":null,"accountName":"`+user+`"`...)
		b = append(b, `,"domainName":"CORP","detectionStatus":"Detected"}`...)
	}
	return append(b, "]}"...)
}
