"""Log injection through alert text, end to end: the emulator serves every record with hostile
titles, descriptions, file names, paths and command lines (faults.hostile: '|', '=', '\\', CR, LF,
NUL, ANSI escapes, forged "cs2=" and "externalId=" keys, ...), the forwarder sends CEF over
syslog (RFC 5424, octet counting) to a real syslog-ng, and syslog-ng itself takes the messages
apart: regexp-parser for the CEF header, kv-parser for the extension (syslog-ng 3.38 has no
cef-parser; both leave the CEF escapes in place, which the test undoes). Each record arrives as
exactly one message, and the fields syslog-ng parsed give back what the record held, with the
replacements docs/cef-mapping.md documents; no forged key or field appears."""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))
import faults  # noqa: E402  (the emulator's hostile text)
import harness  # noqa: E402

FIELD = r"(?:[^|\\]|\\.)*"
PATTERN = (r"^CEF:(?<version>\d+)\|(?<vendor>F)\|(?<product>F)\|(?<dversion>F)\|(?<sig>F)\|"
           r"(?<name>F)\|(?<severity>\d+)\|(?<ext>.*)$").replace("F", FIELD)


def unescape_header(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            assert v[i + 1] in "\\|", v
            out.append(v[i + 1])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def unescape_value(v):
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\":
            assert v[i + 1] in "\\=rn", v
            out.append({"r": "\r", "n": "\n"}.get(v[i + 1], v[i + 1]))
            i += 2
        else:
            assert v[i] != "=", v
            out.append(v[i])
            i += 1
    return "".join(out)


def controls(c):
    return ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f


def header_text(s):
    return "".join(" " if controls(c) else c for c in s)


def value_text(s):
    """A value after the CEF encoder and a CEF parser: controls but CR and LF dropped, and the
    spaces at its ends gone (kv-parser, like ArcSight, trims values; CEF has no escape for a
    space)."""
    return "".join(c for c in s if c in "\r\n" or not controls(c)).strip(" ")


class CefThroughSyslogNg(unittest.TestCase):
    def test_syslog_ng_parses_back_the_hostile_fields(self):
        work = harness.Workdir("dfw-it-inject-")
        self.addCleanup(work.cleanup)
        emu = harness.Emulator(work.path, tenants=2, records=25, args=("--no-rate-limit",))
        self.addCleanup(emu.stop)
        emu.control("faults", {"hostile_text": True})
        sng = harness.SyslogNg(work.path, transport="tcp", template="$(format-json --key cef.* "
                               "--key ext.* --key PROGRAM --exclude cef.ext)")
        self.addCleanup(sng.stop)
        # the parsers go between the source and the destination
        with open(sng.conf) as f:
            conf = f.read()
        pattern = PATTERN.replace("'", "\\'")
        conf = conf.replace("log { source(s_in); destination(d_out); };", f"""
parser p_hdr {{ regexp-parser(prefix("cef.") patterns('{pattern}')); }};
parser p_ext {{ kv-parser(prefix("ext.") template("${{cef.ext}}")); }};
log {{ source(s_in); parser(p_hdr); parser(p_ext); destination(d_out); }};
""")
        with open(sng.conf, "w") as f:
            f.write(conf)
        sng.stop()
        sng.start()
        cfg = harness.write_config(os.path.join(work.path, "forwarder.conf"), emu,
                                   os.path.join(work.path, "state"),
                                   [("siem", {"type": "syslog", "host": "127.0.0.1",
                                              "port": sng.port})],
                                   forwarder={"page_size": "10"})
        r = harness.run_forwarder(cfg, "run", "--once", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        expected = {k: faults.hostile_record(rec) for k, rec in
                    harness.expected_records(emu).items()}
        lines = sng.settle()
        self.assertEqual(len(lines), len(expected), "not one message per record")
        seen, compared, skipped = set(), 0, 0
        for line in lines:
            msg = json.loads(line)
            cef, ext = msg.get("cef"), msg.get("ext")
            self.assertIsNotNone(cef, f"syslog-ng could not parse the CEF header: {line[:300]}")
            self.assertEqual(cef["vendor"], "Microsoft")
            stream = harness.PRODUCT_STREAM[unescape_header(cef["product"])]
            # kv-parser reads a value that starts with a quote as a quoted string (CEF has no
            # quoting): such values are not compared, the keys after them still are
            quoted = {k for k, v in ext.items() if v.lstrip(" ")[:1] in ("'", '"')}
            ext = {k: None if k in quoted else unescape_value(v).strip(" ")
                   for k, v in ext.items()}
            compared += len(ext) - len(quoted)
            skipped += len(quoted)
            key = (ext["cs2"], stream, ext["externalId"])
            self.assertIn(key, expected, f"forged or unknown event {key}")
            self.assertNotIn(key, seen, f"{key} twice")
            seen.add(key)
            rec = expected[key]
            info = harness.STREAM_INFO[stream]
            name, want = unescape_header(cef["name"]), header_text(rec[info["name"]])
            # the Name is cut at 512 escaped bytes (CEF), at a character boundary
            self.assertTrue(want.startswith(name) and (name == want or len(cef["name"]) > 500),
                            f"{key}: name {name!r}, expected {want!r}")
            self.assertEqual(ext["cs2Label"], "tenant")
            self.assertTrue(set(ext) <= KNOWN_KEYS, sorted(set(ext) - KNOWN_KEYS))
            evidence = rec.get("evidence") or rec.get("entities") or []
            files = [e for e in evidence if isinstance(e, dict) and e.get("fileName")]
            if ext.get("fname") is not None and stream == "mde-alerts":
                self.assertIn(ext["fname"], {value_text(e["fileName"]) for e in files})
            if ext.get("filePath") is not None and stream == "mde-alerts":
                self.assertIn(ext["filePath"], {value_text(e.get("filePath", "")) for e in files})
        self.assertEqual(seen, set(expected))
        self.assertGreater(compared, 20 * skipped, (compared, skipped))


KNOWN_KEYS = {"rt", "externalId", "deviceSeverity", "cat", "sourceServiceName", "shost", "suser",
              "sntdom", "src", "fname", "filePath", "fileHash", "cs6", "cs6Label", "request",
              "start", "end", "deviceCustomDate1", "deviceCustomDate1Label", "cs1", "cs1Label",
              "cs4", "cs4Label", "cs2", "cs2Label", "cs3", "cs3Label", "cs5", "cs5Label",
              "flexString1", "flexString1Label", "cn3Label", "cn3"}


if __name__ == "__main__":
    unittest.main()
