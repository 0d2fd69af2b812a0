#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/seed-*).

Seeds are records and pages served by the emulator (tests/emulator, started here with a fixed
seed and start time, so the output is the same on every run) plus hostile strings: '|', '=',
'\\', CR, LF, NUL, invalid UTF-8, ANSI escapes, 64 KiB fields, deep nesting, non-JSON numbers,
impossible dates. Structured targets read option bytes, then fields separated by 0xFF
(tests/fuzz/fuzz.h). Run it after changing a target's input layout:

    python3 tests/fuzz/make_corpus.py
"""

import base64
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402

SEP = b"\xff"
HOSTILE = [
    b"a|b|c", b"key=value x=y", b"back\\slash\\", b"line1\r\nline2", b"cr\ronly", b"lf\nonly",
    b"nul\x00inside", b"\x1b[31mred\x1b[0m", b"bad utf8 \xc3\x28 \xa0\xa1 \xf0\x28\x8c\x28",
    b"overlong \xc0\xaf surrogate \xed\xa0\x80 big \xf4\x90\x80\x80", b"tab\there",
    b"quote \" and \\\" end", b"C1 \xc2\x85 NEL \xc2\x9b CSI", b"emoji \xf0\x9f\x94\xa5 ok",
    b"\\=\\|\\\\n", b" leading and trailing ", b"", b"=", b"|", b"\\", b"level=error msg=\"x\"",
    b"\n level=error component=forged",
]
BIG = b"A" * 65536


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def fields(*parts):
    return SEP.join(p if isinstance(p, bytes) else p.encode() for p in parts)


def js(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def pages(records):
    """Pages and hostile page variants from emulator records {stream: [record, ...]}."""
    out = {}
    base = "https://api.security.microsoft.com"
    for stream, recs in records.items():
        out[stream] = js({"@odata.context": base + "/api/$metadata#x", "value": recs[:3]})
        out[stream + "-next"] = js({"value": recs[3:5],
                                    "@odata.nextLink": base + "/api/alerts?$skip=5"})
    rec = records["mde-alerts"][0]
    bad = dict(rec)
    out["empty"] = b""
    out["empty-value"] = b'{"value":[]}'
    out["value-not-array"] = b'{"value":{"id":"x"}}'
    out["html"] = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    for name, literal in (("nan", b"NaN"), ("inf", b"Infinity"), ("minf", b"-Infinity"),
                          ("dot", b"1."), ("zero", b"00.1"), ("exp", b"1e"), ("plus", b"+1"),
                          ("big", b"123456789012345678901234567890"), ("dbl", b"1.0e999")):
        out["num-" + name] = b'{"value":[{"id":"a","lastUpdateTime":"2024-01-01T00:00:00Z",' \
                             b'"riskScore":' + literal + b"}]}"
    out["bad-utf8"] = b'{"value":[{"id":"\xff\xfe","lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    out["surrogate"] = b'{"value":[{"id":"\xed\xa0\x80","lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    out["raw-control"] = b'{"value":[{"id":"a\x01b","lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    out["nul-id"] = b'{"value":[{"id":"a\\u0000b","lastUpdateTime":"2024-01-01T00:00:00Z"},' \
                    b'{"id":"a\\u0000c","lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    out["no-id"] = b'{"value":[{"lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    out["long-id"] = b'{"value":[{"id":"' + b"x" * 200 + b'","lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    out["int-id"] = b'{"value":[{"incidentId":-9223372036854775808,"lastUpdateTime":"2024-01-01T00:00:00Z"}]}'
    for name, t in (("apr31", "2024-04-31T00:00:00Z"), ("feb29", "2023-02-29T00:00:00Z"),
                    ("y10000", "10000-01-01T00:00:00Z"), ("sec60", "2016-12-31T23:59:60Z"),
                    ("frac8", "2024-01-01T00:00:00.12345678Z"), ("offset", "2024-01-01T00:00:00+01:00")):
        out["time-" + name] = js({"value": [{"id": "a", "lastUpdateTime": t}]})
    out["deep"] = b'{"value":[' + b"[" * 40 + b"]" * 40 + b"]}"
    out["trailing-comma"] = b'{"value":[1,],}'
    out["comment"] = b'/* x */{"value":[]}'
    out["evil-next"] = js({"value": [], "@odata.nextLink": base + ".evil.example/api/alerts"})
    out["http-next"] = js({"value": [], "@odata.nextLink": "http://api.security.microsoft.com/x"})
    bad["title"] = "\u001b[31m|=\\\r\n\u0000"
    out["hostile-record"] = js({"value": [bad]})
    out["big-field"] = js({"value": [dict(rec, description="D" * 65536)]})
    return out


def main():
    # only the seeds are rewritten; inputs scripts/fuzz --merge added stay
    for root, _, files in os.walk(os.path.join(HERE, "corpus")):
        for name in files:
            if name.startswith("seed-"):
                os.unlink(os.path.join(root, name))
    work = harness.Workdir("dfw-corpus-")
    emu = harness.Emulator(work.path, tenants=1, records=6,
                           args=("--seed", "7", "--start-time", "2026-06-01T12:00:00Z",
                                 "--no-rate-limit"))
    try:
        tenant = emu.tenants[0]
        records = {s: emu.records(tenant["name"], s) for s in harness.STREAMS}
    finally:
        emu.stop()
        work.cleanup()
    streams = {"mde-alerts": 0, "m365d-incidents": 1, "graph-alerts": 2}

    # page: response bodies
    for name, body in pages(records).items():
        write("page", name, body)

    # cef: stream, options, limit, tenant, id, name, severity, signature, file name [, record]
    for stream, recs in records.items():
        si = streams[stream]
        for i, rec in enumerate(recs[:2]):
            info = harness.STREAM_INFO[stream]
            write("cef", f"{stream}-{i}", bytes([si, 0, 0]) + fields(
                "contoso", str(rec[info["id"]]), rec[info["name"]], rec.get("severity", ""),
                rec.get("detectorId", ""), "powershell.exe"))
            write("cef", f"{stream}-{i}-raw", bytes([si, 2, 0]) + fields(
                "contoso", str(rec[info["id"]]), "", "", "", "", js(rec)))
            write("cef", f"{stream}-{i}-udp", bytes([si, 4, 100]) + fields(
                "contoso", str(rec[info["id"]]), "", "", "", "", js(rec)))
    for k, h in enumerate(HOSTILE):
        write("cef", f"hostile-{k}", bytes([k % 5, 4 if k % 3 == 0 else 0, k * 7 % 256]) +
              fields(h, h[:64], h, b"High", h[:200], h))
    write("cef", "big", bytes([0, 0, 0]) + fields(b"contoso", b"id", BIG, b"", b"", BIG[:4096]))
    write("cef", "big-udp", bytes([0, 4, 200]) + fields(b"contoso", b"id", BIG, b"", b"", b""))

    # leef: the same layout as cef
    cef_dir = os.path.join(HERE, "corpus", "cef")
    for name in sorted(os.listdir(cef_dir)):
        if name.startswith("seed-"):
            with open(os.path.join(cef_dir, name), "rb") as f:
                write("leef", name[len("seed-"):], f.read())
    for k, h in enumerate((b"a\tsrc=6.6.6.6", b"x^y|z\\w", b"tab\tcr\rlf\n")):
        write("leef", f"hostile-tab-{k}", bytes([k, 0, 0]) + fields(h, h, h, b"High", h, h))

    # syslog: header seeds (mode 0) and whole messages (mode 1)
    write("syslog", "header-big", bytes([0, 0, 1, 6]) + bytes(8) + fields(BIG[:300], BIG[:60],
                                                                          BIG[:200], BIG[:40], BIG))
    for k, h in enumerate(HOSTILE[:12]):
        write("syslog", f"header-{k}", bytes([0, k & 7, 16 + k, 6]) + bytes(8) +
              fields(h[:300], b"defender-forwarder", b"1234", b"mde-alerts", h))
    for i, rec in enumerate(records["mde-alerts"][:2] + records["graph-alerts"][:2]):
        for c in range(8):
            write("syslog", f"msg-{i}-{c}", bytes([1, c]) + fields(str(rec["id"]), js(rec)))

    # hec: options, time, source, host, index, tenant id, record
    tid = "a839b112-1253-6432-9bf6-94542403f21c"
    for stream, recs in records.items():
        for i, rec in enumerate(recs[:2]):
            o = 7 | (streams[stream] << 3)
            write("hec", f"{stream}-{i}", bytes([o]) + (1709287200123).to_bytes(8, "big") +
                  fields("defender-forwarder:{stream}:{tenant_id}", "splunk-fwd", "security",
                         tid, js(rec)))
    write("hec", "hostile", bytes([7]) + bytes(8) + fields(
        "{tenant}{tenant_id}{stream}{x}{", "h\u00e9st", "idx", "contoso.onmicrosoft.com",
        js({"a": "\u001b\r\n\"\\", "n": [1, -0.5, 1e300, {}]})))

    # kafka: options, topic template, tenant, id, record
    for stream, recs in records.items():
        info = harness.STREAM_INFO[stream]
        rec = recs[0]
        write("kafka", stream, bytes([streams[stream]]) + fields(
            "defender.{stream}.{tenant}.{kind}", "contoso", str(rec[info["id"]]), js(rec)))
    for k, h in enumerate(HOSTILE[:10]):
        write("kafka", f"hostile-{k}", bytes([k]) + fields(b"t.{tenant}" + h[:20], h[:40],
                                                           h[:300], b"{}"))

    # jwt: raw tokens, then header 0xFF payload 0xFF signature
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    header = js({"typ": "JWT", "alg": "RS256", "x5t": "abc", "kid": "abc"})
    payload = js({"aud": "https://api.security.microsoft.com", "iss": "https://sts.windows.net/"
                  + tid + "/", "iat": 1714550000, "nbf": 1714550000, "exp": 1714553899,
                  "appid": "5d1574f2-16b9-4790-a6a8-b9dd6c8eccdd", "roles": ["Alert.Read.All",
                  "Incident.Read.All"], "tid": tid, "ver": "1.0"})
    write("jwt", "token", b64(header) + b"." + b64(payload) + b"." + b64(b"sig" * 20))
    write("jwt", "parts", fields(header, payload, b"sig"))
    write("jwt", "v2", fields(header, js({"aud": ["a", "b"], "azp": "x", "ver": "2.0",
                                          "exp": 1.5e300, "roles": [1, "x"]}), b""))
    write("jwt", "padded", b"eyJ0eXAiOiJKV1QifQ==.e30=.")

    # config: the example file and small variants
    with open(os.path.join(SRC, "packaging", "examples", "defender-forwarder.conf"), "rb") as f:
        example = f.read()
    write("config", "example", example.replace(b"include", b"inc_lude"))
    minimal = (b"[forwarder]\nstate_dir = /tmp/x\npoll_interval = 2s\n\n[tenant contoso]\n"
               b"tenant_id = " + tid.encode() + b"\nclient_id = " + tid.encode() +
               b"\nclient_secret_env = X\nstreams = mde-alerts\n\n[output o]\ntype = file\n"
               b"path = /tmp/x.json\n")
    write("config", "minimal", minimal)
    for name, extra in (("kafka", b"[output k]\ntype = kafka\nbrokers = 127.0.0.1:9092\n"
                                  b"topic = defender.{stream}\nkafka.linger.ms = 5\n"),
                        ("hec", b"[output h]\ntype = splunk_hec\nurl = https://127.0.0.1:8088\n"
                                b"token_env = T\nsource = x{tenant}\n"),
                        ("syslog", b"[output s]\ntype = syslog\nhost = 127.0.0.1\nport = 514\n"
                                   b"transport = udp\nmax_message_size = 1400\nformat = json\n"),
                        ("durations", b"[output s2]\ntype = syslog\nwrite_timeout = "
                                      b"99999999999999999999ms\n"),
                        ("hostile", b"[output s3]\ntype = syslog\napp_name = a\x1b[31m\xff\n")):
        write("config", name, minimal + b"\n" + extra)

    # token: status, small errlen, secret position, body
    auth_dir = os.path.join(SRC, "tests", "unit", "data", "auth")
    for i, name in enumerate(sorted(os.listdir(auth_dir))):
        if name.endswith(".json"):
            with open(os.path.join(auth_dir, name), "rb") as f:
                body = f.read().strip()
            write("token", name[:-5], bytes([1 + i % 7, 40 + i * 13 % 200, 0, 60]) + body)
    at = b64(header) + b"." + b64(payload) + b"." + b64(b"sig")
    write("token", "ok", bytes([0, 50, 0, 200]) + js({"token_type": "Bearer",
                                                      "expires_in": "3599",
                                                      "access_token": at.decode()}))
    write("token", "html", bytes([5, 30, 0, 10]) + b"<html>502 Bad Gateway</html>")
    write("token", "hostile", bytes([1, 80, 0, 30]) + js({
        "error": "invalid_request\u001b[2J\n\"forged\"=1",
        "error_description": "AADSTS900144: The value 'x' \\ \"q\" \u0000 is not valid.\r\nTrace ID: x",
        "error_codes": [900144]}))

    # time: times, durations, Retry-After values
    for k, t in enumerate(("2024-02-29T10:00:00.5Z", "2024-04-31T00:00:00Z", "2023-02-29T00:00:00Z",
                           "2020-09-06T12:18:03.6266667Z", "2020-09-06T12:18:03+00:00",
                           "9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z",
                           "2016-12-31T23:59:60Z", "250ms", "30s", "5m", "2h", "1d",
                           "99999999999999999999ms", "36500d", "120", "0",
                           "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT",
                           "Fri, 31 Dec 9999 23:59:59 GMT")):
        write("time", f"t{k}", t.encode())
    for k, ms in enumerate((0, -1, 1599394683626, 253402300800000, -62167219200001,
                            (1 << 63) - 1, -(1 << 63))):
        write("time", f"ms{k}", (ms & ((1 << 64) - 1)).to_bytes(8, "little"))

    seeds = [(t, n) for t in sorted(os.listdir(os.path.join(HERE, "corpus")))
             for n in sorted(os.listdir(os.path.join(HERE, "corpus", t))) if n.startswith("seed-")]
    total = len(seeds)
    digest = hashlib.sha256()
    for t, n in seeds:
        with open(os.path.join(HERE, "corpus", t, n), "rb") as f:
            digest.update(t.encode() + n.encode() + f.read())
    print(f"wrote {total} seeds under {os.path.join(HERE, 'corpus')} (sha256 {digest.hexdigest()[:16]})")


if __name__ == "__main__":
    main()
