"""docs/mssp-onboarding.md's emulator walkthrough, run as it is written: the shell blocks between
its walkthrough markers, with defender-forwarder from this build, a real syslog-ng as the SIEM
and free ports. It must end with the CEF messages of a tenant read on a delegated refresh
token."""

import os
import re
import signal
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOC = os.path.join(harness.SRC, "docs", "mssp-onboarding.md")


def walkthrough():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    part = text.split("<!-- walkthrough:begin -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", part, re.S))


class MsspDoc(unittest.TestCase):
    def test_walkthrough(self):
        work = harness.Workdir("dfw-it-mssp-doc-")
        self.addCleanup(work.cleanup)
        env = dict(os.environ, W=os.path.join(work.path, "w"),
                   SIEM_PORT=str(harness.free_port()), AUTH_PORT=str(harness.free_port()),
                   PATH=os.path.dirname(harness.BIN) + os.pathsep + os.environ["PATH"])
        script = "set -euo pipefail\n" + walkthrough()
        proc = subprocess.Popen(["bash", "-c", script], cwd=harness.SRC, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=600)
        finally:
            try:  # whatever the script left running when it failed
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        self.assertEqual(proc.returncode, 0, out[-4000:])
        # before authorize: onboard names the missing refresh token
        self.assertRegex(out, r"contoso +refresh_token +run authorize")
        # authorize stored a refresh token; token and onboard see a delegated token
        self.assertIn("refresh token stored in", out)
        self.assertIn("kind:  delegated (user admin@contoso.onmicrosoft.com)", out)
        self.assertRegex(out, r"contoso +refresh_token +delegated +OK +OK +OK")
        self.assertIn("1 of 1 tenants ready", out)
        rt = os.path.join(env["W"], "contoso.refresh_token")
        self.assertEqual(stat.S_IMODE(os.stat(rt).st_mode), 0o600)
        # the SIEM got every record of the three streams
        self.assertEqual(out.rstrip().splitlines()[-1].strip(), "60", out[-2000:])
        with open(os.path.join(env["W"], "siem.log"), encoding="utf-8") as f:
            cef = [l for l in f if l.startswith("CEF:0|Microsoft|")]
        self.assertEqual(len(cef), 60)


if __name__ == "__main__":
    unittest.main()
