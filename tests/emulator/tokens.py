"""Entra ID (Azure AD) token service emulation.

Implements ``POST /{tenant}/oauth2/token`` (v1, ``resource=``) and
``POST /{tenant}/oauth2/v2.0/token`` (v2, ``scope=<resource>/.default``)
with the grants client_credentials (secret or certificate assertion),
authorization_code (with PKCE) and refresh_token (rotation modes
single-use, grace, keep).  The interactive ``/oauth2/authorize`` and
``/adminconsent`` legs are in signin.py.

Access tokens are JWTs signed with HS256 and a key that only this process
knows; clients only decode them, the emulator's APIs verify them.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.parse
import uuid

import certs
from tenants import (DELEGATED, RESOURCES, normalise_resource)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CODE_LIFETIME = 600
SKEW = 300  # accepted clock skew for client assertions (seconds)

# AADSTS code -> (HTTP status, OAuth error, message template)
AADSTS = {
    7000215: (401, "invalid_client", "Invalid client secret provided. "
              "Ensure the secret being sent in the request is the client "
              "secret value, not the client secret ID, for a secret added "
              "to app '{client_id}'."),
    7000218: (401, "invalid_client", "The request body must contain the "
              "following parameter: 'client_assertion' or 'client_secret'."),
    7000222: (401, "invalid_client", "The provided client secret keys for "
              "app '{client_id}' are expired."),
    700027: (401, "invalid_client", "Client assertion failed signature "
             "validation. {detail}"),
    700016: (400, "unauthorized_client", "Application with identifier "
             "'{client_id}' was not found in the directory '{tenant}'. This "
             "can happen if the application has not been installed by the "
             "administrator of the tenant or consented to by any user in "
             "the tenant. You may have sent your authentication request to "
             "the wrong tenant."),
    50011: (400, "invalid_request", "The redirect URI '{detail}' specified "
            "in the request does not match the redirect URIs configured for "
            "the application '{client_id}'. Make sure the redirect URI sent "
            "in the request matches one added to your application in the "
            "Azure portal."),
    50020: (400, "invalid_request", "User account '{detail}' from identity "
            "provider 'https://sts.windows.net/' does not exist in tenant "
            "'{tenant}' and cannot access the application. The account "
            "needs to be added as an external user in the tenant first."),
    50034: (400, "invalid_request", "The user account does not exist in the "
            "directory."),
    50089: (400, "invalid_request", "Flow token expired - Authentication "
            "Failed. Have the user try signing-in again."),
    50126: (400, "invalid_request", "Error validating credentials due to "
            "invalid username or password."),
    65004: (400, "access_denied", "User declined to consent to access the "
            "app."),
    90002: (400, "invalid_request", "Tenant '{tenant}' not found. Check to "
            "make sure you have the correct tenant ID and are signing into "
            "the correct cloud."),
    65001: (400, "invalid_grant", "The user or administrator has not "
            "consented to use the application with ID '{client_id}'. Send "
            "an interactive authorization request for this user and "
            "resource."),
    70008: (400, "invalid_grant", "The provided authorization code or "
            "refresh token has expired due to inactivity. Send a new "
            "interactive authorization request for this user and "
            "resource."),
    700082: (400, "invalid_grant", "The refresh token has expired due to "
             "inactivity."),
    501481: (400, "invalid_grant", "The Code_Verifier does not match the "
             "code_challenge supplied in the authorization request."),
    50173: (400, "invalid_grant", "The provided grant has expired due to "
            "it being revoked, a fresh auth token is needed."),
    70000: (400, "invalid_grant", "The provided value for the '{param}' "
            "parameter is not valid."),
    54005: (400, "invalid_grant", "OAuth2 Authorization code was already "
            "redeemed, please retry with a new valid code or use an "
            "existing refresh token."),
    700005: (400, "invalid_grant", "Provided Authorization Code is intended "
             "to use against other tenant, thus rejected."),
    500112: (400, "invalid_grant", "The reply address '{detail}' does not "
             "match the reply address provided when requesting "
             "Authorization code."),
    500011: (400, "invalid_resource", "The resource principal named "
             "{detail} was not found in the tenant named {tenant}. This can "
             "happen if the application has not been installed by the "
             "administrator of the tenant or consented to by any user in "
             "the tenant."),
    900144: (400, "invalid_request", "The request body must contain the "
             "following parameter: '{param}'."),
    70003: (400, "unsupported_grant_type", "The app requested an "
            "unsupported grant type '{detail}'."),
    1002012: (400, "invalid_scope", "The provided value for scope {detail} "
              "is not valid. Client credential flows must have a scope "
              "value with /.default suffixed to the resource identifier "
              "(application ID URI)."),
    700022: (400, "invalid_scope", "The provided value for the input "
             "parameter scope is not valid because it contains more than "
             "one resource. Scope {detail} is not valid."),
    9001023: (400, "invalid_request", "The grant type is not supported "
              "over the /common or /consumers endpoints."),
    90055: (429, "temporarily_unavailable", "The request has been "
            "throttled (TenantThrottlingError). Retry later."),
    50196: (400, "invalid_grant", "The server terminated an operation "
            "because it encountered a client request loop. Please contact "
            "your app vendor."),
    50000: (500, "temporarily_unavailable", "There was an error issuing a "
            "token or an issue with our sign-in service."),
}


class TokenError(Exception):
    """An Entra ID error response (status + JSON body)."""

    def __init__(self, code, **fmt):
        status, error, template = AADSTS.get(
            code, (400, "invalid_request", "Emulated error {detail}"))
        fmt.setdefault("detail", "")
        fmt.setdefault("client_id", "")
        fmt.setdefault("tenant", "")
        fmt.setdefault("param", "")
        super().__init__("AADSTS%d" % code)
        self.code = code
        self.status = status
        self.error = error
        self.text = template.format(**fmt).strip()

    def body(self):
        """The documented error body."""
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return {
            "error": self.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\n"
                                 "Correlation ID: %s\r\nTimestamp: %s"
                                 % (self.code, self.text, trace, corr, stamp),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": "https://login.microsoftonline.com/error?code=%d"
                         % self.code,
        }


class AuthError(Exception):
    """An access token was rejected by an API (-> 401)."""


def _b64json(part):
    return json.loads(certs.b64url_decode(part))


class TokenService:
    """Token issuing and validation for all emulated tenants."""

    def __init__(self, tenants, faults, stats, workdir, lifetime=3599,
                 rotation="single-use"):
        self.tenants = tenants
        self.by_key = {}
        for t in tenants:
            for key in (t.tenant_id, t.domain, t.name):
                self.by_key[key.lower()] = t
        self.by_client = {t.client_id: t for t in tenants}
        self.faults = faults
        self.stats = stats
        self.workdir = workdir
        self.lifetime = lifetime
        self.rotation = rotation  # single-use | grace | keep (faults win)
        self.key = os.urandom(32)
        self.hosts = {"login.microsoftonline.com", "login.windows.net"}
        self.lock = threading.Lock()
        self.refresh_tokens = {}  # token -> grant dict
        self.codes = {}  # code -> grant dict

    # -- helpers ------------------------------------------------------
    def add_hosts(self, *hosts):
        """Hosts accepted in a client assertion's ``aud`` URL."""
        self.hosts.update(h.lower() for h in hosts)

    def find_tenant(self, segment):
        """Tenant by GUID, ``<name>.onmicrosoft.com`` or name."""
        return self.by_key.get(urllib.parse.unquote(segment).lower())

    def _sign(self, claims):
        header = {"typ": "JWT", "alg": "HS256", "kid": "emu"}
        head = certs.b64url(json.dumps(header, separators=(",", ":"))
                            .encode())
        body = certs.b64url(json.dumps(claims, separators=(",", ":"))
                            .encode())
        mac = hmac.new(self.key, ("%s.%s" % (head, body)).encode(),
                       hashlib.sha256).digest()
        return "%s.%s.%s" % (head, body, certs.b64url(mac))

    def verify_access(self, token):
        """Claims of a valid access token, else raise AuthError."""
        parts = token.split(".")
        if len(parts) != 3:
            raise AuthError("The access token is malformed.")
        mac = hmac.new(self.key, ("%s.%s" % (parts[0], parts[1])).encode(),
                       hashlib.sha256).digest()
        try:
            good = hmac.compare_digest(certs.b64url_decode(parts[2]), mac)
            claims = _b64json(parts[1]) if good else None
        except (ValueError, TypeError):
            good = False
        if not good or not isinstance(claims, dict):
            raise AuthError("The access token signature is invalid "
                            "(not issued by this emulator instance).")
        now = time.time()
        if claims.get("exp", 0) <= now:
            raise AuthError("The access token has expired.")
        if claims.get("nbf", 0) > now + SKEW:
            raise AuthError("The access token is not yet valid.")
        return claims

    # -- token endpoint -----------------------------------------------
    def token(self, segment, v2, form, basic=None):
        """Handle a token request; return (status, body dict, headers)."""
        name = "-"
        try:
            tenant, client_id = self._resolve(segment, form, basic)
            name = tenant.name
            body = self._token(tenant, client_id, v2, form, basic)
            self.stats.token_issued(tenant.name)
            return 200, body, {}
        except TokenError as err:
            self.stats.token_error(name, "AADSTS%d" % err.code)
            headers = {"Retry-After": "5"} if err.status == 429 else {}
            return err.status, err.body(), headers

    def _resolve(self, segment, form, basic):
        grant = form.get("grant_type")
        client_id = form.get("client_id") or (basic[0] if basic else None)
        tenant = self.find_tenant(segment)
        if tenant is None and segment.lower() in ("common", "organizations"):
            if grant == "client_credentials":
                raise TokenError(9001023)
            tenant = self.by_client.get(client_id or "")
        if tenant is None:
            raise TokenError(90002, tenant=segment)
        if not grant:
            raise TokenError(900144, param="grant_type")
        if grant not in ("client_credentials", "authorization_code",
                         "refresh_token"):
            raise TokenError(70003, detail=grant)
        if not client_id:
            raise TokenError(900144, param="client_id")
        if client_id != tenant.client_id:
            raise TokenError(700016, client_id=client_id,
                             tenant=tenant.tenant_id)
        return tenant, client_id

    def _token(self, tenant, client_id, v2, form, basic):
        forced = self.faults.take_token_failure(tenant.name)
        if forced:
            raise TokenError(forced, client_id=client_id,
                             tenant=tenant.tenant_id, param="code",
                             detail=form.get("resource") or "")
        acr = self._authenticate(tenant, client_id, form, basic)
        if not tenant.consent:
            raise TokenError(65001, client_id=client_id)
        grant = form["grant_type"]
        if grant == "client_credentials":
            resource = self._resource(tenant, v2, form, required=True)
            return self._response(tenant, resource, v2, acr)
        if grant == "authorization_code":
            return self._redeem_code(tenant, client_id, v2, form, acr)
        return self._refresh(tenant, client_id, v2, form, acr)

    def _authenticate(self, tenant, client_id, form, basic):
        """Check the client credential; return appidacr ("1"/"2")."""
        if form.get("client_assertion") or form.get("client_assertion_type"):
            if form.get("client_assertion_type") != JWT_BEARER:
                raise TokenError(700027, detail="client_assertion_type must "
                                 "be '%s'." % JWT_BEARER)
            self._check_assertion(tenant, client_id,
                                  form.get("client_assertion", ""))
            return "2"
        secret = form.get("client_secret")
        if secret is None and basic:
            secret = basic[1]
        if secret is None:
            raise TokenError(7000218)
        if not hmac.compare_digest(secret.encode(),
                                   tenant.client_secret.encode()):
            raise TokenError(7000215, client_id=client_id)
        return "1"

    def _check_assertion(self, tenant, client_id, assertion):
        def fail(why):
            raise TokenError(700027, detail=why)
        parts = assertion.split(".")
        if len(parts) != 3:
            fail("The assertion is not a JWS compact serialisation.")
        try:
            header, claims = _b64json(parts[0]), _b64json(parts[1])
            signature = certs.b64url_decode(parts[2])
        except (ValueError, TypeError):
            fail("The assertion could not be decoded.")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            fail("The assertion header/payload is not a JSON object.")
        alg = header.get("alg")
        if alg not in ("PS256", "RS256"):
            fail("Unsupported alg '%s' (use PS256 or RS256)." % alg)
        if not self._thumbprint_ok(tenant, header):
            fail("Key was not found: no certificate with the x5t#S256/x5t "
                 "thumbprint is registered for app '%s'." % client_id)
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            fail("iss and sub must both be the client id.")
        auds = claims.get("aud")
        auds = auds if isinstance(auds, list) else [auds]
        if not any(self._aud_ok(tenant, a) for a in auds):
            fail("Invalid audience '%s': use the token endpoint URL." % (
                claims.get("aud"),))
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, (int, float)) or exp + SKEW <= now:
            fail("The assertion has expired or has no exp claim.")
        if isinstance(nbf, (int, float)) and nbf - SKEW > now:
            fail("The assertion is not yet valid (nbf).")
        data = ("%s.%s" % (parts[0], parts[1])).encode("ascii")
        if not certs.verify_signature(tenant.pub_file, data, signature, alg,
                                      self.workdir):
            fail("The signature does not verify with the registered "
                 "certificate.")

    @staticmethod
    def _thumbprint_ok(tenant, header):
        def digest(value):
            try:
                value = value.replace("+", "-").replace("/", "_")
                return certs.b64url_decode(value.rstrip("="))
            except (ValueError, TypeError, AttributeError):
                return None
        if "x5t#S256" in header:
            got = digest(header["x5t#S256"])
            return got is not None and got == digest(tenant.x5t_s256)
        if "x5t" in header:
            got = digest(header["x5t"])
            return got is not None and got == digest(tenant.x5t)
        return False

    def _aud_ok(self, tenant, aud):
        if not isinstance(aud, str):
            return False
        url = urllib.parse.urlsplit(aud)
        if url.scheme != "https" or url.netloc.lower() not in self.hosts:
            return False
        seg, _, rest = url.path.lstrip("/").partition("/")
        if self.find_tenant(seg) is not tenant:
            return False
        return rest.rstrip("/") in ("oauth2/v2.0/token", "oauth2/token",
                                    "v2.0")

    def _resource(self, tenant, v2, form, required, default=None):
        """The App ID URI asked for (``resource`` or ``scope``)."""
        if not v2:
            resource = form.get("resource") or default
            if not resource:
                raise TokenError(900144, param="resource")
        else:
            scope = form.get("scope")
            if not scope:
                if not required and default:
                    return default
                raise TokenError(900144, param="scope")
            uris = [s for s in scope.split() if "/" in s]
            if not uris:
                raise TokenError(70011 if not required else 1002012,
                                 detail=scope)
            bases = {normalise_resource(s.rsplit("/", 1)[0]) for s in uris}
            if len(bases) > 1:
                raise TokenError(700022, detail=scope)
            if required and not all(s.endswith("/.default") for s in uris):
                raise TokenError(1002012, detail=scope)
            resource = bases.pop()
        resource = normalise_resource(resource)
        if resource not in RESOURCES:
            raise TokenError(500011, detail=resource,
                             tenant=tenant.tenant_id)
        return resource

    def _response(self, tenant, resource, v2, acr, delegated=False,
                  scope_text=None, refresh=None):
        now = int(time.time())
        lifetime = self.faults.token_lifetime(tenant.name) or self.lifetime
        iss = ("https://login.microsoftonline.com/%s/v2.0" % tenant.tenant_id
               if v2 else "https://sts.windows.net/%s/" % tenant.tenant_id)
        claims = {"aud": resource, "iss": iss, "iat": now, "nbf": now,
                  "exp": now + lifetime,
                  "aio": certs.b64url(os.urandom(18)),
                  "idp": "https://sts.windows.net/%s/" % tenant.tenant_id}
        if v2:
            claims.update(azp=tenant.client_id, azpacr=acr)
        else:
            claims.update(appid=tenant.client_id, appidacr=acr)
        roles = tenant.roles_for(resource)
        if delegated:
            claims.update(oid=tenant.user_object_id,
                          sub=certs.b64url(hashlib.sha256(
                              tenant.user_object_id.encode()).digest()[:24]),
                          scp=" ".join(DELEGATED.get(r, r) for r in roles),
                          upn=tenant.user, name="Emulated Admin")
        else:
            claims.update(oid=tenant.sp_object_id, sub=tenant.sp_object_id)
            if roles:
                claims["roles"] = roles
        tid = self.faults.token_tid(tenant.name)
        if tid is not None:
            # fault injection: a token of another directory (what a
            # tenant_id that names the wrong directory would give)
            other = self.find_tenant(tid)
            tid = other.tenant_id if other is not None else tid
        claims.update(tid=tid or tenant.tenant_id,
                      uti=certs.b64url(os.urandom(16)),
                      ver="2.0" if v2 else "1.0")
        token = self._sign(claims)
        if v2:
            body = {"token_type": "Bearer", "expires_in": lifetime,
                    "ext_expires_in": lifetime, "access_token": token}
        else:
            as_text = not self.faults.v1_numeric(tenant.name)
            num = (lambda n: str(n)) if as_text else (lambda n: n)
            body = {"token_type": "Bearer", "expires_in": num(lifetime),
                    "ext_expires_in": num(lifetime),
                    "expires_on": num(now + lifetime), "not_before": num(now),
                    "resource": resource, "access_token": token}
        if delegated:
            body["scope"] = scope_text or claims["scp"]
        if refresh:
            body["refresh_token"] = refresh
        return body

    # -- delegated flows (authorization code, refresh token) ----------
    def issue_code(self, tenant, redirect_uri=None, resource=None,
                   scope=None, challenge=None, method=None):
        """A one-time authorization code (valid 10 minutes); with a PKCE
        challenge the redemption must send the matching code_verifier."""
        code = "0.A" + secrets.token_urlsafe(48)
        with self.lock:
            self._prune()
            self.codes[code] = {
                "tenant": tenant.name, "client_id": tenant.client_id,
                "redirect_uri": redirect_uri, "resource": resource,
                "scope": scope, "expires": time.time() + CODE_LIFETIME,
                "redeemed": False, "challenge": challenge,
                "method": method or ("plain" if challenge else None)}
        return code

    def _prune(self):
        now = time.time()
        for code in [c for c, g in self.codes.items()
                     if g["expires"] + 3600 < now]:
            del self.codes[code]

    def _new_refresh(self, tenant, resource, offline):
        token = "1.A" + secrets.token_urlsafe(96)
        self.refresh_tokens[token] = {
            "tenant": tenant.name, "client_id": tenant.client_id,
            "resource": resource, "state": "active", "grace": 1,
            "offline": offline}
        return token

    @staticmethod
    def _default_resource(scope):
        for s in (scope or "").split():
            if "/" in s:
                return normalise_resource(s.rsplit("/", 1)[0])
        return None

    def _redeem_code(self, tenant, client_id, v2, form, acr):
        code = form.get("code")
        if not code:
            raise TokenError(900144, param="code")
        with self.lock:
            grant = self.codes.get(code)
            if grant is None or grant["client_id"] != client_id:
                raise TokenError(70000, param="code")
            if grant["tenant"] != tenant.name:
                raise TokenError(700005)
            if grant["redeemed"]:
                raise TokenError(54005)
            if grant["expires"] < time.time():
                raise TokenError(70008)
            if grant["redirect_uri"] and \
                    form.get("redirect_uri") != grant["redirect_uri"]:
                raise TokenError(500112, detail=form.get("redirect_uri"))
            if grant["challenge"] and not _pkce_ok(
                    grant["challenge"], grant["method"],
                    form.get("code_verifier")):
                raise TokenError(501481)
            default = grant["resource"] or \
                self._default_resource(grant["scope"])
            resource = self._resource(tenant, v2, form, False, default)
            grant["redeemed"] = True
            scope = form.get("scope") or grant["scope"] or ""
            offline = (not v2) or "offline_access" in scope.split()
            refresh = self._new_refresh(tenant, resource, offline) \
                if offline else None
        return self._response(tenant, resource, v2, acr, True,
                              refresh=refresh)

    def _refresh(self, tenant, client_id, v2, form, acr):
        token = form.get("refresh_token")
        if not token:
            raise TokenError(900144, param="refresh_token")
        with self.lock:
            grant = self.refresh_tokens.get(token)
            if (grant is None or grant["tenant"] != tenant.name
                    or grant["client_id"] != client_id
                    or grant["state"] == "revoked"):
                raise TokenError(70008)
            rotation = self.faults.refresh_rotation(tenant.name) or \
                self.rotation
            if grant["state"] == "rotated" and rotation != "keep":
                if rotation == "single-use" or grant["grace"] <= 0:
                    raise TokenError(70008)
                grant["grace"] -= 1
            resource = self._resource(tenant, v2, form, False,
                                      grant["resource"])
            grant["state"] = "rotated"
            new = self._new_refresh(tenant, resource, grant["offline"])
        return self._response(tenant, resource, v2, acr, True, refresh=new)

    def revoke_refresh_tokens(self, tenant):
        """Revoke every refresh token of *tenant*; return how many."""
        n = 0
        with self.lock:
            for grant in self.refresh_tokens.values():
                if grant["tenant"] == tenant.name \
                        and grant["state"] != "revoked":
                    grant["state"] = "revoked"
                    n += 1
        return n


def _pkce_ok(challenge, method, verifier):
    """RFC 7636 §4.6: S256 compares BASE64URL(SHA256(verifier))."""
    if not verifier:
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        return hmac.compare_digest(certs.b64url(digest), challenge)
    return hmac.compare_digest(verifier, challenge)


def _add_query(url, query):
    sep = "&" if "?" in url else "?"
    return url + sep + urllib.parse.urlencode(query)


def parse_basic(header):
    """(client_id, secret) from an HTTP Basic header, else None."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = raw.partition(":")
    if not sep:
        return None
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(
        password)
