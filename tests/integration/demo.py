"""The README's main job: the bundled emulator (three sample tenants) -> defender-forwarder on the
Microsoft Graph streams (graph-incidents with their alerts, graph-alerts) -> a real syslog-ng over
TCP (RFC 5424, octet counting, CEF). Prints what syslog-ng received."""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    work = os.path.join(harness.SRC, "build", "demo")
    shutil.rmtree(work, ignore_errors=True)  # a fresh emulator, state and syslog-ng log each time
    os.makedirs(work)
    print(f"demo directory: {work}")
    emu = harness.Emulator(work, tenants=3, records=50)
    sng = None
    try:
        print(f"emulator: {emu.url} (tenants: {', '.join(t['name'] for t in emu.tenants)})")
        sng = harness.SyslogNg(work, transport="tcp")
        print(f"syslog-ng: 127.0.0.1:{sng.port} tcp -> {sng.out}")
        state = os.path.join(work, "state")
        conf = harness.write_config(
            os.path.join(work, "defender-forwarder.conf"), emu, state,
            [("siem", {"type": "syslog", "host": "127.0.0.1", "port": sng.port,
                       "transport": "tcp", "format": "cef"})],
            streams="graph-incidents, graph-alerts")
        print(f"config: {conf}\n")
        delivered = 0
        for args in (["check-config"], ["token", emu.tenants[0]["name"]],
                     ["run", "--once"], ["state", "show"]):
            print("$ defender-forwarder -c " + conf + " " + " ".join(args))
            r = harness.run_forwarder(conf, *args)
            sys.stdout.write(r.stdout)
            if r.returncode != 0:
                sys.stdout.write(r.stderr)
                print(f"exit status {r.returncode}")
                return 1
            m = re.search(r"delivered=(\d+)", r.stdout)
            delivered = int(m.group(1)) if m else delivered
            print()
        lines = harness.wait_for(lambda: len(sng.lines()) >= delivered and sng.lines(), 30,
                                 "syslog-ng to write every message")
        incidents = [l for l in lines if "|incident|" in l]
        print(f"syslog-ng received {len(lines)} messages ({len(incidents)} incidents, "
              f"{len(lines) - len(incidents)} alerts); an incident and two alerts:")
        for line in incidents[:1] + [l for l in lines if "|incident|" not in l][:2]:
            print("  " + (line if len(line) < 400 else line[:400] + "..."))
        return 0
    finally:
        if sng:
            sng.stop()
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
