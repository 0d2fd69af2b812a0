#!/usr/bin/env python3
"""Microsoft Defender + Entra ID emulator for defender-forwarder tests.

Serves, over HTTPS on 127.0.0.1 with a generated CA:

* Entra ID token endpoints (v1 and v2; client credentials with a secret
  or a certificate assertion, authorization code, refresh-token rotation,
  AADSTS errors);
* ``GET /api/incidents`` (Defender XDR), ``GET /api/alerts`` (Defender for
  Endpoint) and ``GET /v1.0/security/alerts_v2`` (Graph) with OData
  $filter/$top/$skip/$count/$expand, live @odata.nextLink paging (or
  snapshots), documented page-size and rate limits, and knobs for result
  order, ingestion lag, churn and duplicates (paging.py);
* control endpoints under ``/_emulator/`` (records, faults, consent,
  stats).

Standard library only (plus the ``openssl`` command line tool).  See
README.md next to this file.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# pylint: disable=wrong-import-position
import certs  # noqa: E402
import faults  # noqa: E402
import odata  # noqa: E402
import paging  # noqa: E402
import records  # noqa: E402
import server  # noqa: E402
import signin  # noqa: E402
import tenants as tenants_mod  # noqa: E402
import timeutil  # noqa: E402
import tokens  # noqa: E402

EAGER_TENANT_LIMIT = 100  # build records at start-up up to this many tenants


class Emulator:
    """Shared state of one emulator process."""

    def __init__(self, args, tenant_list):
        self.verbose = args.verbose
        self.compress = not args.no_compress
        self.tenants = tenant_list
        self.tenant_by_id = {t.tenant_id: t for t in tenant_list}
        self.tenant_by_name = {t.name: t for t in tenant_list}
        self.stats = faults.Stats()
        self.faults = faults.Faults(args.rate_scale)
        self.limiter = faults.RateLimiter(enabled=not args.no_rate_limit)
        self.snapshots = odata.Snapshots()
        self.paging = paging.Paging(args.paging, args.seed)
        self.tokens = tokens.TokenService(
            tenant_list, self.faults, self.stats,
            os.path.join(args.dir, ".work"), args.token_lifetime,
            args.refresh_rotation)
        self.signin = signin.SignIn(self.tokens, self.stats)
        self.db = records.RecordDB(tenant_list, args.seed, args.records,
                                   args.streams, args.start_time)
        self.url = None
        self.info = {}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Microsoft Defender + Entra ID emulator (HTTPS on "
                    "127.0.0.1) for defender-forwarder tests.")
    p.add_argument("--dir", required=True,
                   help="state directory: CA, certificates, secrets, "
                        "emulator.json (created if missing)")
    p.add_argument("--port", type=int, default=0,
                   help="TCP port on 127.0.0.1 (default 0 = ephemeral)")
    p.add_argument("--tenants", type=int, default=3,
                   help="number of tenants (default 3: contoso, fabrikam, "
                        "northwind, then tenant4, ...)")
    p.add_argument("--tenant-names", default="",
                   help="comma-separated names for the first tenants")
    p.add_argument("--records", type=int, default=50,
                   help="records per tenant per stream at start (default "
                        "50), spread over the 2 days before start")
    p.add_argument("--streams", default=",".join(records.STREAMS),
                   help="streams that get --records records (default all: "
                        "%s); the others start empty" %
                        ",".join(records.STREAMS))
    p.add_argument("--seed", type=int, default=1,
                   help="seed for ids, secrets and records (default 1)")
    p.add_argument("--start-time",
                   help="pin the emulator's notion of 'start' (ISO-8601) "
                        "for fully reproducible record times; default now")
    p.add_argument("--ready-file",
                   help="write 'ready\\n' to this file once listening")
    p.add_argument("--token-lifetime", type=int, default=3599,
                   help="access-token lifetime in seconds (default 3599)")
    p.add_argument("--refresh-rotation", default="single-use",
                   choices=faults.ROTATIONS,
                   help="what a refresh token is worth once it was used: "
                        "single-use (default, emulator's choice: refused "
                        "at once), grace (accepted once more), keep "
                        "(Microsoft's documented behaviour: stays valid)")
    p.add_argument("--rate-scale", type=float, default=1.0,
                   help="multiply the documented rate limits (default 1.0)")
    p.add_argument("--no-rate-limit", action="store_true",
                   help="disable rate limiting")
    p.add_argument("--paging", choices=("live", "snapshot"), default="live",
                   help="live (default): every request and next link runs "
                        "the query again over the data as it is; snapshot: "
                        "next links walk the result set of the first page")
    p.add_argument("--no-compress", action="store_true",
                   help="never gzip/deflate API responses")
    p.add_argument("--max-certs", type=int, default=16,
                   help="generate certificates for at most this many "
                        "tenants; later tenants share one of them "
                        "(default 16)")
    p.add_argument("--verbose", action="store_true",
                   help="log one line per request to stderr")
    args = p.parse_args(argv)
    args.dir = os.path.abspath(args.dir)
    args.streams = [s.strip() for s in args.streams.split(",") if s.strip()]
    for stream in args.streams:
        if stream not in records.STREAMS:
            p.error("unknown stream %r (choose from %s)"
                    % (stream, ", ".join(records.STREAMS)))
    if args.tenants < 1 or args.records < 0 or args.max_certs < 1:
        p.error("--tenants and --max-certs must be >= 1, --records >= 0")
    if args.start_time:
        try:
            args.start_time = timeutil.parse_iso(args.start_time)
        except ValueError as err:
            p.error("--start-time: %s" % err)
    args.tenant_names = [n.strip() for n in args.tenant_names.split(",")
                         if n.strip()]
    return args


def _write_private(path, text):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def write_atomic(path, text, mode=0o644):
    """Write *text* to a temp file next to *path*, then rename."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def prepare_tenants(args):
    """Tenants with certificate credentials and secret files."""
    tenant_list = tenants_mod.make_tenants(args.tenants, args.seed,
                                           args.tenant_names)
    work = os.path.join(args.dir, ".work")
    secrets_dir = os.path.join(args.dir, "secrets")
    for path in (work, secrets_dir):
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)
    for i, tenant in enumerate(tenant_list):
        if i < args.max_certs:
            crt, key = certs.ensure_client_cert(args.dir, tenant.name)
            pub = certs.public_key_pem(crt, os.path.join(
                work, "%s-pub.pem" % tenant.name))
            tenant.cert_file, tenant.key_file, tenant.pub_file = crt, key, pub
            tenant.x5t, tenant.x5t_s256 = certs.thumbprints(crt)
        else:  # share a certificate (allowed in Entra ID: same key, 2 apps)
            src = tenant_list[i % args.max_certs]
            tenant.cert_file, tenant.key_file = src.cert_file, src.key_file
            tenant.pub_file = src.pub_file
            tenant.x5t, tenant.x5t_s256 = src.x5t, src.x5t_s256
        tenant.secret_file = os.path.join(secrets_dir,
                                          "%s.secret" % tenant.name)
        _write_private(tenant.secret_file, tenant.client_secret)
    return tenant_list


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    info_file = os.path.join(args.dir, "emulator.json")
    for stale in (info_file, args.ready_file):
        if stale and os.path.exists(stale):
            os.unlink(stale)
    started = time.monotonic()
    ca_pem, ca_key = certs.ensure_ca(args.dir)
    srv_pem, srv_key = certs.ensure_server_cert(args.dir, ca_pem, ca_key)
    tenant_list = prepare_tenants(args)
    emu = Emulator(args, tenant_list)
    if args.tenants <= EAGER_TENANT_LIMIT:
        emu.db.generate_all()
    httpd = server.EmulatorServer(("127.0.0.1", args.port), emu,
                                  server.tls_context(srv_pem, srv_key))
    port = httpd.server_address[1]
    emu.url = "https://127.0.0.1:%d" % port
    emu.tokens.add_hosts("127.0.0.1:%d" % port, "localhost:%d" % port)
    emu.info = {
        "url": emu.url, "port": port, "ca_file": ca_pem, "pid": os.getpid(),
        "seed": args.seed, "streams": list(records.STREAMS),
        "tenants": [t.info() for t in tenant_list],
    }
    write_atomic(info_file, json.dumps(emu.info, indent=2) + "\n")

    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=httpd.serve_forever,
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    if args.ready_file:
        write_atomic(os.path.abspath(args.ready_file), "ready\n")
    sys.stderr.write("defender-emulator: listening on %s (%d tenants, %d "
                     "records/stream, ready in %.2fs)\n" % (
                         emu.url, len(tenant_list), args.records,
                         time.monotonic() - started))
    sys.stderr.flush()
    while not stop.wait(1.0):
        pass
    httpd.shutdown()
    httpd.server_close()
    for path in (info_file, args.ready_file):
        if path and os.path.exists(path):
            os.unlink(path)
    sys.stderr.write("defender-emulator: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
