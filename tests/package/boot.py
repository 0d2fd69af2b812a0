"""The installed package under a real systemd: a Debian 12 root file system (debootstrap, cached)
with the .deb installed is booted with systemd-nspawn, sharing the host's network so that the
forwarder reaches the emulator on 127.0.0.1. Checked, as an operator would use it:

- the one-pass job (defender-forwarder-once.service) under the shipped sandbox reads the client
  secret from /etc/defender-forwarder/credentials (LoadCredential=), writes checkpoints to
  /var/lib/defender-forwarder (0700, the package's system user), the file output's events to
  /var/log/defender-forwarder, and metrics to /run/defender-forwarder that another user can read
  after the job exited;
- the daemon (defender-forwarder.service) delivers records added while it runs, stops cleanly,
  is restarted after being killed, and is not restarted in a loop after a configuration error.

Run by scripts/test-package as root:  python3 tests/package/boot.py DEB WORKDIR
Needs debootstrap and systemd-container (scripts/install-deps)."""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from rootfs import rootfs  # noqa: E402

ETC = "/etc/defender-forwarder"
# what defender-forwarder(1) SYSTEMD tells operators to run commands by hand with
RUN_AS_SERVICE = ("-p User=defender-forwarder -p Group=defender-forwarder "
                  "-p LoadCredential=cred:/etc/defender-forwarder/credentials "
                  "-p StateDirectory=defender-forwarder")


def log(msg):
    print(f"boot: {msg}", flush=True)


def fail(msg):
    raise SystemExit(f"boot: FAILED: {msg}")


class Container:
    """systemd booted in root by systemd-nspawn; commands run in it through nsenter."""

    def __init__(self, root, work):
        self.log_path = os.path.join(work, "nspawn.log")
        self._log = open(self.log_path, "ab")
        # no machined on the host: --register=no --keep-unit; the host's network (127.0.0.1)
        self.proc = subprocess.Popen(["systemd-nspawn", "-q", "-D", root, "-b", "--register=no",
                                      "--keep-unit", "-M", "dfwboot"], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        try:
            self.pid = harness.wait_for(self._leader, 60, "the container's systemd")
            harness.wait_for(lambda: self.sh("systemctl is-system-running").stdout.strip()
                             in ("running", "degraded"), 120, "the container to boot")
        except BaseException:
            self.stop()
            raise

    def _leader(self):
        if self.proc.poll() is not None:
            fail(f"systemd-nspawn exited; see {self.log_path}")
        # nspawn forks a helper first; the leader is the child that runs systemd
        r = subprocess.run(["pgrep", "-P", str(self.proc.pid), "-x", "systemd"],
                           capture_output=True, text=True)
        return int(r.stdout.split()[0]) if r.stdout.split() else None

    def sh(self, cmd, check=False):
        r = subprocess.run(["nsenter", "-t", str(self.pid), "-a", "sh", "-c", cmd],
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            fail(f"{cmd}: exit {r.returncode}: {r.stdout}{r.stderr}")
        return r

    def prop(self, unit, name):
        return self.sh(f"systemctl show -P {name} {unit}").stdout.strip()

    def journal(self, unit):
        return self.sh(f"journalctl -u {unit} --no-pager -o cat").stdout

    def stop(self):
        harness.stop_process(self.proc, timeout=30)
        self._log.close()


def lines(c, path):
    r = c.sh(f"cat {path}")
    return [l for l in r.stdout.splitlines() if l.strip()] if r.returncode == 0 else []


def main(deb, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    root = rootfs(work, log)
    log("dpkg -i in the root")
    shutil.copy(deb, os.path.join(root, "root"))
    subprocess.run(["chroot", root, "dpkg", "-i", "/root/" + os.path.basename(deb)], check=True,
                   stdout=subprocess.DEVNULL)

    emu = harness.Emulator(work, tenants=1, records=20, args=("--no-rate-limit",))
    c = None
    try:
        t = emu.tenants[0]
        shutil.copy(emu.ca_file, os.path.join(root, "etc/dfw-emulator-ca.pem"))
        os.chmod(os.path.join(root, "etc/dfw-emulator-ca.pem"), 0o644)
        secret = os.path.join(root, ETC[1:], "credentials", "contoso.secret")
        with open(os.path.join(emu.dir, "secrets", t["name"] + ".secret")) as f:
            value = f.read()
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(value)
        conf = os.path.join(root, ETC[1:], "defender-forwarder.conf")
        with open(conf, "a") as f:  # the operator adds to the shipped commented configuration
            f.write(f"""
[forwarder]
ca_file = /etc/dfw-emulator-ca.pem
poll_interval = 2s
settle_delay = 0s
initial_lookback = 7d
metrics_file = /run/defender-forwarder/defender-forwarder.prom

[tenant contoso]
tenant_id = {t['tenant_id']}
client_id = {t['client_id']}
client_secret_credential = cred_contoso.secret
login_url = {emu.url}
defender_url = {emu.url}
graph_url = {emu.url}
streams = m365d-incidents, mde-alerts, graph-alerts

[output archive]
type = file
path = /var/log/defender-forwarder/events.json
""")
        log("boot the container")
        c = Container(root, work)
        expected = 3 * 20

        log("a command by hand, as the service's user with its credentials (systemd-run)")
        r = c.sh(f"systemd-run --pipe --wait --collect --quiet {RUN_AS_SERVICE} "
                 "/usr/bin/defender-forwarder check-config")
        if r.returncode != 0 or "OK (1 tenant(s)" not in r.stdout:
            fail(f"check-config through systemd-run: exit {r.returncode}: {r.stdout}{r.stderr}")

        log("systemctl start defender-forwarder-once.service")
        r = c.sh("systemctl start defender-forwarder-once.service")
        if r.returncode != 0:
            fail("the one-pass job failed:\n" + c.journal("defender-forwarder-once.service"))
        got = lines(c, "/var/log/defender-forwarder/events.json")
        if len(got) != expected:
            fail(f"{len(got)} events in the file output, expected {expected}")
        st = c.sh("stat -c '%U %a' /var/lib/defender-forwarder "
                  "/var/lib/defender-forwarder/checkpoints.db", check=True)
        if st.stdout.split() != ["defender-forwarder", "700", "defender-forwarder", "600"]:
            fail(f"state directory and checkpoint: {st.stdout!r}")
        m = c.sh("su -s /bin/sh nobody -c 'cat /run/defender-forwarder/defender-forwarder.prom'")
        if m.returncode != 0 or "dfw_records_fetched_total" not in m.stdout:
            fail(f"the metrics are not readable after the job: {m.stdout}{m.stderr}")

        log("systemctl enable --now defender-forwarder.service; records added while it runs")
        c.sh("systemctl enable --now defender-forwarder.service", check=True)
        harness.wait_for(lambda: c.prop("defender-forwarder.service", "ActiveState") == "active",
                         30, "the daemon to run")
        for stream in ("mde-alerts", "graph-alerts"):
            emu.control("records", {"tenant": t["name"], "stream": stream, "count": 3})
        harness.wait_for(lambda: len(lines(c, "/var/log/defender-forwarder/events.json"))
                         >= expected + 6, 60, "the daemon to deliver the new records")
        pid = c.prop("defender-forwarder.service", "MainPID")
        c.sh("systemctl kill -s KILL defender-forwarder.service", check=True)
        harness.wait_for(lambda: c.prop("defender-forwarder.service", "MainPID") not in
                         ("0", pid) and c.prop("defender-forwarder.service", "ActiveState")
                         == "active", 60, "a restart after kill -9")
        c.sh("systemctl stop defender-forwarder.service", check=True)
        if c.prop("defender-forwarder.service", "ExecMainStatus") != "0":
            fail("the daemon did not exit 0 on stop:\n" + c.journal("defender-forwarder.service"))

        log("a configuration error stops the daemon without a restart loop")
        c.sh(f"echo 'bogus_key = 1' >> {ETC}/defender-forwarder.conf", check=True)
        c.sh("systemctl start defender-forwarder.service")
        harness.wait_for(lambda: c.prop("defender-forwarder.service", "ActiveState") == "failed",
                         30, "the daemon to fail")
        time.sleep(12)  # longer than RestartSec=
        state = (c.prop("defender-forwarder.service", "ActiveState"),
                 c.prop("defender-forwarder.service", "ExecMainStatus"))
        if state != ("failed", "2") or "unknown key 'bogus_key'" not in \
                c.journal("defender-forwarder.service"):
            fail(f"after a configuration error: {state}")
        log("OK")
    finally:
        if c is not None:
            c.stop()
        emu.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
