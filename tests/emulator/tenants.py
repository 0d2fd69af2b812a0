"""Emulated Entra ID tenants and their registered app (one app per tenant).

Tenant ids, client ids, client secrets and object ids are derived from
``--seed`` and the tenant name, so they are stable across runs.
"""

import random
import string
import urllib.parse

DEFAULT_NAMES = ("contoso", "fabrikam", "northwind")

# App ID URI (token audience) -> application permissions it can carry.
RESOURCES = {
    "https://api.security.microsoft.com":
        ("Incident.Read.All", "AdvancedHunting.Read.All"),
    "https://api.securitycenter.microsoft.com": ("Alert.Read.All",),
    "https://securitycenter.onmicrosoft.com/windowsatpservice":
        ("Alert.Read.All",),
    "https://api.securitycenter.windows.com": ("Alert.Read.All",),
    "https://graph.microsoft.com":
        ("SecurityAlert.Read.All", "SecurityIncident.Read.All"),
    "https://graph.windows.net": (),
}
DEFAULT_ROLES = ("Incident.Read.All", "Alert.Read.All",
                 "SecurityAlert.Read.All", "SecurityIncident.Read.All")
# application permission -> delegated scope that grants the same access
DELEGATED = {
    "Incident.Read.All": "Incident.Read",
    "Alert.Read.All": "Alert.Read",
    "AdvancedHunting.Read.All": "AdvancedHunting.Read",
    "SecurityAlert.Read.All": "SecurityAlert.Read.All",
    "SecurityIncident.Read.All": "SecurityIncident.Read.All",
}
_SECRET_CHARS = string.ascii_letters + string.digits + "_~.-"


def normalise_resource(resource):
    """Canonical App ID URI: lower-case scheme/host, no trailing slash."""
    resource = (resource or "").strip().rstrip("/")
    if "://" in resource:
        scheme, rest = resource.split("://", 1)
        host, sep, path = rest.partition("/")
        resource = "%s://%s%s%s" % (scheme.lower(), host.lower(), sep, path)
    return resource


def _guid(rng):
    return "%08x-%04x-4%03x-%04x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
        0x8000 | rng.getrandbits(14), rng.getrandbits(48))


class Tenant:
    """One customer tenant with the forwarder's app registered in it."""

    def __init__(self, name, seed):
        rng = random.Random("%s:tenant:%s" % (seed, name))
        self.name = name
        self.tenant_id = _guid(rng)
        self.client_id = _guid(rng)
        # Entra-style secret: 3 chars, "8Q~", 34 chars (40 in total)
        self.client_secret = (
            "".join(rng.choice(string.ascii_letters + string.digits)
                    for _ in range(3)) + "8Q~"
            + "".join(rng.choice(_SECRET_CHARS) for _ in range(34)))
        self.sp_object_id = _guid(rng)  # service principal (app-only oid)
        self.user_object_id = _guid(rng)  # the admin of delegated flows
        self.domain = "%s.onmicrosoft.com" % name
        self.user = "admin@%s" % self.domain
        # the administrator who signs in on the emulated sign-in page
        self.user_password = "".join(
            rng.choice(string.ascii_letters + string.digits) for _ in range(16))
        self.consent = True
        # None: every loopback redirect URI (http://localhost or
        # http://127.0.0.1, any port and path) and https://localhost/...
        # is registered (emulator's choice); a list: exactly these, with the
        # port of a localhost URI ignored (Microsoft's localhost exception)
        self.redirect_uris = None
        # APIs (stream names) whose calls answer 403 although the token
        # holds the permission: the app is not allowed in the tenant's
        # Defender portal (Settings > Endpoints > APIs > SIEM > MSSP)
        self.blocked_apis = set()
        self.roles = list(DEFAULT_ROLES)
        self.resource_roles = {}  # resource -> roles (explicit override)
        self.cert_file = self.key_file = self.pub_file = None
        self.x5t = self.x5t_s256 = None
        self.secret_file = None

    def roles_for(self, resource):
        """Application roles a token for *resource* carries."""
        resource = normalise_resource(resource)
        if resource in self.resource_roles:
            return list(self.resource_roles[resource])
        allowed = RESOURCES.get(resource, ())
        return [role for role in self.roles if role in allowed]

    def redirect_registered(self, uri):
        """True when *uri* matches a redirect URI of the app registration."""
        try:
            url = urllib.parse.urlsplit(uri or "")
        except ValueError:
            return False
        loopback = url.scheme == "http" and url.hostname in ("localhost",
                                                             "127.0.0.1")
        if self.redirect_uris is None:
            return loopback or (url.scheme == "https"
                                and url.hostname == "localhost")

        def key(u):
            u = urllib.parse.urlsplit(u)
            port = "" if u.scheme == "http" and u.hostname in (
                "localhost", "127.0.0.1") else (u.port or "")
            return (u.scheme, u.hostname, port, u.path or "/", u.query)
        return any(key(uri) == key(r) for r in self.redirect_uris)

    def info(self):
        """The tenant's entry in emulator.json."""
        return {
            "name": self.name,
            "tenant_id": self.tenant_id,
            "domain": self.domain,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "user": self.user,
            "user_password": self.user_password,
            "secret_file": self.secret_file,
            "certificate_file": self.cert_file,
            "private_key_file": self.key_file,
            "certificate_thumbprint_sha1": self.x5t,
            "certificate_thumbprint_sha256": self.x5t_s256,
        }


def tenant_names(count, names=None):
    """Names for *count* tenants: given names, then the defaults, then
    tenant4, tenant5, ..."""
    out = list(names or ())
    for default in DEFAULT_NAMES:
        if len(out) >= count:
            break
        if default not in out:
            out.append(default)
    i = len(out) + 1
    while len(out) < count:
        name = "tenant%d" % i
        if name not in out:
            out.append(name)
        i += 1
    return out[:count]


def make_tenants(count, seed, names=None):
    """Create the Tenant objects (no certificates yet)."""
    return [Tenant(name, seed) for name in tenant_names(count, names)]
