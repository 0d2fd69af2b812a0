"""A Debian 12 root file system for the package checks: made once with debootstrap, cached as a
tar under ~/.cache/defender-forwarder (DFW_BOOT_CACHE), and unpacked fresh for every use.

It holds what the packages depend on, so that dpkg -i needs no network inside the root, and
rsyslog (the daemon defender-forwarder-rsyslog loads into; it conflicts with the syslog-ng the
test machine runs, so that package is checked in a root). tests/package/boot.py boots a copy
under systemd-nspawn; scripts/test-package installs the rsyslog module into another.

    python3 tests/package/rootfs.py WORKDIR     unpacks WORKDIR/root and prints its path"""

import hashlib
import os
import shutil
import subprocess
import sys

CACHE = os.path.expanduser(os.environ.get("DFW_BOOT_CACHE", "~/.cache/defender-forwarder"))
# the Depends of defender-forwarder and defender-forwarder-rsyslog (dpkg-deb -f DEB Depends)
INCLUDE = ("systemd,systemd-sysv,dbus,libcurl4,libjson-c5,libinih1,libmicrohttpd12,librdkafka1,"
           "libsqlite3-0,libssl3,libdeflate0,ca-certificates,man-db,rsyslog")


def rootfs(work, log=print):
    """A fresh copy of the cached bookworm root (made with debootstrap the first time) in
    WORK/root; returns its path."""
    os.makedirs(CACHE, exist_ok=True)
    # the cache is named for the package list, so a new dependency makes a new root
    tag = hashlib.sha256(INCLUDE.encode()).hexdigest()[:12]
    tar = os.path.join(CACHE, f"bookworm-nspawn-root-{tag}.tar")
    if not os.path.exists(tar):
        base = os.path.join(work, "debootstrap")
        log("debootstrap bookworm (once; cached in %s)" % tar)
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={INCLUDE}", "bookworm",
                        base, "http://deb.debian.org/debian"], check=True,
                       stdout=subprocess.DEVNULL)
        part = f"{tar}.{os.getpid()}.part"  # another run may be making the same cache
        subprocess.run(["tar", "--numeric-owner", "-cf", part, "-C", base, "."], check=True)
        os.replace(part, tar)
        shutil.rmtree(base)
    root = os.path.join(work, "root")
    os.makedirs(root)
    subprocess.run(["tar", "--numeric-owner", "-xf", tar, "-C", root], check=True)
    return root


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    work = os.path.abspath(sys.argv[1])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    print(rootfs(work, log=lambda m: print(f"rootfs: {m}", file=sys.stderr, flush=True)))
