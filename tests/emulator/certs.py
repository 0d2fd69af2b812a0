"""Certificate and signature helpers for the Defender emulator.

Everything cryptographic that needs RSA is done by the ``openssl`` command
line tool (the emulator uses the Python standard library only):

* a test CA (``ca.pem``/``ca.key``) and a server certificate for
  ``127.0.0.1``/``localhost`` signed by it;
* one self-signed RSA 2048 certificate per tenant app (the "certificate
  credential" registered for client assertions);
* verification of RS256/PS256 client-assertion signatures.
"""

import base64
import hashlib
import os
import secrets
import ssl
import subprocess
import tempfile

OPENSSL = os.environ.get("OPENSSL", "openssl")


class CertError(RuntimeError):
    """Raised when an openssl invocation fails."""


def _run(args, data=None, private=False):
    """Run openssl with *args*; return stdout bytes or raise CertError.

    *private* creates files with umask 077 (private keys are never
    group/world readable, not even briefly).
    """
    preexec = (lambda: os.umask(0o077)) if private else None
    proc = subprocess.run([OPENSSL] + list(args), input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          preexec_fn=preexec, check=False)
    if proc.returncode != 0:
        raise CertError("openssl %s failed: %s" % (
            args[0], proc.stderr.decode("utf-8", "replace").strip()))
    return proc.stdout


def _verifies(ca_file, cert_file):
    """True if *cert_file* chains to *ca_file* and has not expired."""
    try:
        _run(["verify", "-CAfile", ca_file, cert_file])
        return True
    except CertError:
        return False


def ensure_ca(directory):
    """Create DIR/ca.pem and DIR/ca.key unless both exist; return paths."""
    ca_pem = os.path.join(directory, "ca.pem")
    ca_key = os.path.join(directory, "ca.key")
    if os.path.exists(ca_pem) and os.path.exists(ca_key):
        return ca_pem, ca_key
    _run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
          "-keyout", ca_key, "-out", ca_pem, "-days", "3650",
          "-subj", "/O=defender-forwarder tests/CN=Defender Emulator Test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], private=True)
    os.chmod(ca_key, 0o600)
    os.chmod(ca_pem, 0o644)
    return ca_pem, ca_key


def ensure_server_cert(directory, ca_pem, ca_key):
    """Create the TLS server certificate (SAN IP:127.0.0.1, DNS:localhost).

    An existing certificate is reused when it still verifies against the
    CA (a regenerated CA forces a new server certificate).
    """
    crt = os.path.join(directory, "server.pem")
    key = os.path.join(directory, "server.key")
    if (os.path.exists(crt) and os.path.exists(key)
            and _verifies(ca_pem, crt)):
        return crt, key
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        csr = os.path.join(tmp, "server.csr")
        ext = os.path.join(tmp, "server.ext")
        with open(ext, "w", encoding="ascii") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid,issuer\n")
        _run(["req", "-newkey", "rsa:2048", "-nodes", "-sha256",
              "-keyout", key, "-out", csr,
              "-subj", "/O=defender-forwarder tests/CN=localhost"],
             private=True)
        _run(["x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
              "-set_serial", "0x" + secrets.token_hex(16), "-days", "825",
              "-sha256", "-extfile", ext, "-out", crt])
    os.chmod(key, 0o600)
    return crt, key


def ensure_client_cert(directory, name):
    """Create DIR/<name>-cert.pem and DIR/<name>-key.pem (self-signed)."""
    crt = os.path.join(directory, "%s-cert.pem" % name)
    key = os.path.join(directory, "%s-key.pem" % name)
    if not (os.path.exists(crt) and os.path.exists(key)):
        _run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
              "-keyout", key, "-out", crt, "-days", "730",
              "-subj", "/CN=%s defender-forwarder app" % name], private=True)
    os.chmod(key, 0o600)
    os.chmod(crt, 0o644)
    return crt, key


def cert_der(cert_file):
    """DER bytes of the first certificate in a PEM file."""
    with open(cert_file, "r", encoding="ascii") as f:
        pem = f.read()
    start = pem.index("-----BEGIN CERTIFICATE-----")
    end = pem.index("-----END CERTIFICATE-----") + 25
    return ssl.PEM_cert_to_DER_cert(pem[start:end])


def b64url(data):
    """base64url without padding (JWT encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Decode base64url with or without padding; raises ValueError."""
    if isinstance(text, str):
        text = text.encode("ascii")
    text += b"=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text)


def thumbprints(cert_file):
    """Return (x5t, x5t#S256) of a certificate, both base64url."""
    der = cert_der(cert_file)
    return (b64url(hashlib.sha1(der).digest()),
            b64url(hashlib.sha256(der).digest()))


def public_key_pem(cert_file, out_file):
    """Write the certificate's public key (PEM) to *out_file*."""
    pub = _run(["x509", "-in", cert_file, "-pubkey", "-noout"])
    with open(out_file, "wb") as f:
        f.write(pub)
    return out_file


def verify_signature(pubkey_file, data, signature, alg, workdir):
    """Verify an RS256/PS256 signature over *data* with openssl dgst.

    For PS256 both salt length = digest length (-1, what the Microsoft
    libraries use) and any salt length ("auto") are accepted.
    """
    fd, sig_file = tempfile.mkstemp(dir=workdir, suffix=".sig")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(signature)
        base = ["dgst", "-sha256", "-verify", pubkey_file,
                "-signature", sig_file]
        if alg == "RS256":
            variants = [[]]
        else:
            pss = ["-sigopt", "rsa_padding_mode:pss"]
            variants = [pss + ["-sigopt", "rsa_pss_saltlen:-1"],
                        pss + ["-sigopt", "rsa_pss_saltlen:auto"]]
        for extra in variants:
            try:
                _run(base + extra, data=data)
                return True
            except CertError:
                continue
        return False
    finally:
        os.unlink(sig_file)


def sign(key_file, data, alg="PS256"):
    """Sign *data* with SHA-256 (PS256 or RS256); used by the self-test."""
    args = ["dgst", "-sha256", "-sign", key_file]
    if alg == "PS256":
        args += ["-sigopt", "rsa_padding_mode:pss",
                 "-sigopt", "rsa_pss_saltlen:-1"]
    return _run(args, data=data)
