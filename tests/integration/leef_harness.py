"""LEEF 2.0 in the integration tests: a syslog-ng parser block that reads the LEEF header and
splits the attributes on the delimiter the header names (TAB), what the forwarder must have
written for a record (docs/leef-mapping.md), and a strict reader for LEEF lines from Kafka."""

import collections
import json
import time

import harness

COLUMNS = 40  # attribute slots of the csv-parser: more than a line ever carries

# syslog-ng 3.38 has no LEEF parser. regexp-parser takes the header apart (LEEF has no escapes,
# so a header field is everything up to the next '|'); csv-parser splits the attributes on TAB
# with quoting and escapes off, as LEEF defines neither. Its kv-parser is no LEEF parser: it
# starts a key at any " word=" whatever the pair separator is.
SYSLOG_NG_PARSER = (
    "regexp-parser(patterns('^LEEF:(?<version>[^|]*)\\|(?<vendor>[^|]*)\\|(?<product>[^|]*)"
    "\\|(?<product_version>[^|]*)\\|(?<event_id>[^|]*)\\|(?<delimiter>[^|]*)\\|"
    "(?<attributes>.*)$') prefix(\"LEEF.\"));"
    " csv-parser(columns(" + ", ".join(f'"a{i:02d}"' for i in range(COLUMNS)) + ")"
    " prefix(\"LEEF.attr.\") delimiters(chars(\"\\t\")) dialect(escape-none) quote-pairs(\"\")"
    " template(\"${LEEF.attributes}\"));")
# One JSON object per message: the parsed header and attribute slots, the raw MSG and PROGRAM.
SYSLOG_NG_TEMPLATE = ("$(format-json --scope none --key LEEF.* --exclude LEEF.attributes "
                      "--pair msg=$MSG --pair program=$PROGRAM)")

HEADER = ("version", "vendor", "product", "product_version", "event_id", "delimiter")
KEYS = {"devTime", "devTimeFormat", "cat", "sev", "externalId", "title", "severity",
        "detectionSource", "identHostName", "usrName", "domain", "src", "dst", "resource",
        "filePath", "sha1", "sha256", "url", "startTime", "endTime", "createdTime", "threatName",
        "actor", "tenant", "tenantId", "eventKind", "link", "truncated"}
SEV = {"informational": "1", "low": "3", "medium": "5", "high": "8"}
TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"


def split_attributes(parts):
    """[(key, value)] of "key=value" texts, each split at its first '='; problems as text."""
    attrs, problems = collections.OrderedDict(), []
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key.isalnum():
            problems.append(f"attribute without a key: {part[:80]!r}")
        elif key in attrs:
            problems.append(f"key {key} twice")
        else:
            attrs[key] = value
    return attrs, problems


def from_syslog_ng(line):
    """(header dict, attributes, raw message, program, problems) of one syslog-ng JSON line."""
    obj = json.loads(line)
    leef = obj.get("LEEF", {})
    header = {k: leef.get(k) for k in HEADER}
    slots = leef.get("attr", {})
    parts = [slots[f"a{i:02d}"] for i in range(COLUMNS) if slots.get(f"a{i:02d}")]
    attrs, problems = split_attributes(parts)
    if not leef:
        problems.append(f"syslog-ng could not parse the LEEF header: {obj.get('msg', '')[:200]!r}")
    if len(parts) >= COLUMNS:
        problems.append("more attributes than csv-parser columns")
    return header, attrs, obj.get("msg", ""), obj.get("program"), problems


def parse_leef(line):
    """(header dict, attributes, problems) of a LEEF 2.0 line, read strictly."""
    if not line.startswith("LEEF:"):
        return {}, {}, [f"not LEEF: {line[:80]!r}"]
    fields = line[5:].split("|", 6)
    if len(fields) != 7:
        return {}, {}, [f"only {len(fields)} header fields: {line[:120]!r}"]
    header = dict(zip(HEADER, fields[:6]))
    delim = header["delimiter"]  # one character, or its hex value after "0x" or "x"
    hexa = delim[2:] if delim.startswith("0x") else delim[1:] if delim.startswith("x") else None
    sep = chr(int(hexa, 16)) if hexa else delim
    attrs, problems = split_attributes(fields[6].split(sep) if fields[6] else [])
    return header, attrs, problems


def text(value):
    """What an attribute value shows for value: TAB, CR and LF become a blank, other control
    characters are dropped."""
    return "".join(" " if c in "\t\r\n" else "" if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f else c
                   for c in value)


def header_text(value):
    """What a header field shows for value: '|' and control characters become a blank."""
    return "".join(" " if c == "|" or ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f else c
                   for c in value)


def leef_time(iso):
    """An API time as the forwarder writes it: 2024-05-01T10:00:00.123+0000."""
    ms = harness.iso_ms(iso)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + \
        ".%03d+0000" % (ms % 1000)


def check_event(header, attrs, tenant, stream, rec, kind=None):
    """Problems (a list of text) of one LEEF event against the record it should carry."""
    info = harness.STREAM_INFO[stream]
    problems = []
    truncated = attrs.get("truncated") == "1"

    def expect(what, got, want):
        if got != want:
            problems.append(f"{tenant}/{stream}/{rec[info['id']]}: {what} is {got!r}, "
                            f"expected {want!r}")

    sig = rec.get(info["sig_key"]) if info["sig_key"] else None
    expect("header", header, {"version": "2.0", "vendor": "Microsoft", "product": info["product"],
                              "product_version": info["version"],
                              "event_id": header_text(sig or info["sig_default"]),
                              "delimiter": "x09"})
    unknown = set(attrs) - KEYS
    if unknown:
        problems.append(f"{tenant}/{stream}/{rec[info['id']]}: keys {sorted(unknown)} that the "
                        "forwarder never writes: an attribute came from the data")
    expect("externalId", attrs.get("externalId"), str(rec[info["id"]]))
    expect("tenant", attrs.get("tenant"), tenant)
    expect("devTime", attrs.get("devTime"), leef_time(rec[info["updated"]]))
    expect("devTimeFormat", attrs.get("devTimeFormat"), TIME_FORMAT)
    if not truncated or "title" in attrs:
        expect("title", attrs.get("title"), text(rec[info["name"]]))
    if not truncated or "sev" in attrs:
        expect("sev", attrs.get("sev"), SEV.get(str(rec.get("severity")).lower()))
    if not truncated or "severity" in attrs:
        expect("severity", attrs.get("severity"), rec.get("severity"))
    if not truncated or "createdTime" in attrs:
        expect("createdTime", attrs.get("createdTime"), leef_time(rec[info["created"]]))
    if kind is not None and (not truncated or "eventKind" in attrs):
        expect("eventKind", attrs.get("eventKind"), kind)
    return problems
