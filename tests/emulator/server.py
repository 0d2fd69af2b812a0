"""HTTPS server: routing, the Defender/Graph list APIs, token endpoints."""

import gzip
import json
import re
import socket
import ssl
import sys
import time
import traceback
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import control
import faults
import odata
import tokens
from timeutil import iso, now_ticks

MAX_BODY = 1 << 20
# The emulated list APIs (figures: reference/defender-api.md §0, 2, 3, 5).
APIS = {
    "m365d-incidents": {
        "name": "m365d-incidents", "role": "Incident.Read.All",
        "auds": {"https://api.security.microsoft.com"},
        "max_top": 100, "default_top": 100,
        "order": "desc",  # "most recent incidents ... at the top" [S1]
        "limits": ((50, 60), (1500, 3600)),
        "update_field": "lastUpdateTime", "created_field": "createdTime",
        "expand": None, "graph": False,
        "context": "/api/$metadata#Incidents"},
    "mde-alerts": {
        "name": "mde-alerts", "role": "Alert.Read.All",
        "auds": {"https://api.securitycenter.microsoft.com",
                 "https://securitycenter.onmicrosoft.com/windowsatpservice",
                 "https://api.security.microsoft.com",
                 "https://api.securitycenter.windows.com"},
        "max_top": 10000, "default_top": 10000,
        "no_next_with_top": True,  # microsoft-365-docs #8489
        "limits": ((100, 60), (1500, 3600)),
        "update_field": "lastUpdateTime",
        "created_field": "alertCreationTime",
        "expand": "evidence", "graph": False,
        "context": "/api/$metadata#Alerts"},
    "graph-alerts": {
        "name": "graph-alerts", "role": "SecurityAlert.Read.All",
        "auds": {"https://graph.microsoft.com"},
        # $top above 1,000 is clamped (elastic/integrations #20234);
        # $skip above 500 is refused (Graph security error codes)
        "max_top": None, "clamp_top": 1000, "default_top": 100,
        "skip_max": 500,
        "limits": ((150, 60),),
        "update_field": "lastUpdateDateTime",
        "created_field": "createdDateTime",
        "expand": None, "graph": True,
        "context": "/v1.0/$metadata#security/alerts_v2"},
    "graph-incidents": {
        "name": "graph-incidents", "role": "SecurityIncident.Read.All",
        # $expand=alerts returns alert resources: SecurityAlert.Read.All too
        "expand_role": "SecurityAlert.Read.All",
        "auds": {"https://graph.microsoft.com"},
        # $top above 50 is HTTP 400 (wazuh/wazuh #28070); $skip at most 500
        "max_top": 50, "default_top": 50, "skip_max": 500,
        "limits": ((150, 60),),
        "update_field": "lastUpdateDateTime",
        "created_field": "createdDateTime",
        "expand": "alerts", "graph": True,
        "context": "/v1.0/$metadata#security/incidents"},
}
API_PATHS = {
    "/api/incidents": "m365d-incidents",
    "/api/alerts": "mde-alerts",
    "/api/v1.0/alerts": "mde-alerts",
    "/v1.0/security/alerts_v2": "graph-alerts",
    "/v1.0/security/incidents": "graph-incidents",
}
TOKEN_RE = re.compile(r"^/([^/]+)/oauth2/(v2\.0/)?token/?$")
AUTHORIZE_RE = re.compile(r"^/([^/]+)/oauth2/(v2\.0/)?authorize/?$")
CONSENT_RE = re.compile(r"^/([^/]+)/(v2\.0/)?adminconsent/?$")
SIGNIN_RE = re.compile(r"^/([^/]+)/(login|consent)/?$")
HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$")
ODATA_TYPE = ("application/json; odata.metadata=minimal; "
              "odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
GRAPH_CODES = {400: "BadRequest", 401: "InvalidAuthenticationToken",
               403: "Forbidden", 404: "ResourceNotFound",
               429: "TooManyRequests", 500: "InternalServerError",
               502: "BadGateway", 503: "ServiceUnavailable",
               504: "GatewayTimeout"}
DEFENDER_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden",
                  404: "NotFound", 429: "429", 500: "InternalServerError",
                  502: "BadGateway", 503: "ServiceUnavailable",
                  504: "GatewayTimeout"}


class APIError(Exception):
    """An error answer of a list API."""

    def __init__(self, status, message, code=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or {}


def _window(seconds):
    return "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60,
                               seconds % 60)


class Handler(BaseHTTPRequestHandler):
    """One HTTPS connection (keep-alive; every answer has a length)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "DefenderEmulator/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this
    request_id = ""
    claims = None

    # -- plumbing -----------------------------------------------------
    def log_message(self, fmt, *args):  # noqa: N802 (stdlib name)
        if self.server.emulator.verbose:
            sys.stderr.write("%s - [%s] %s\n" % (
                self.address_string(), self.log_date_time_string(),
                fmt % args))

    def version_string(self):
        return self.server_version

    def do_GET(self):  # noqa: N802
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY:
            raise APIError(413, "Request body too large")
        return self.rfile.read(int(length))

    def _send(self, status, body=b"", headers=None,
              content_type="application/json; charset=utf-8"):
        self.send_response(status)
        if body or status not in (204, 302):
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.server.emulator.stats.response(status)

    def _send_json(self, status, obj, headers=None):
        self._send(status, json.dumps(obj, ensure_ascii=False,
                                      separators=(",", ":"))
                   .encode("utf-8"), headers)

    def _dispatch(self):
        emu = self.server.emulator
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
            if path.startswith("/_emulator/"):
                if self.client_address[0] != "127.0.0.1":
                    raise APIError(403, "control endpoint is local only")
                emu.stats.request("control", "-")
                status, obj = control.handle(emu, self.command, path,
                                             query, body)
                return self._send_json(status, obj)
            if path in API_PATHS:
                return self._api(API_PATHS[path], path, query)
            match = TOKEN_RE.match(path)
            if match:
                return self._token(match.group(1), bool(match.group(2)),
                                   body)
            match = AUTHORIZE_RE.match(path) or CONSENT_RE.match(path)
            if match and self.command == "GET":
                return self._interactive(match, path, query)
            match = SIGNIN_RE.match(path)
            if match and self.command == "POST":
                return self._signin_post(match, body)
            raise APIError(404, "No emulated endpoint at %s" % path,
                           "NotFound")
        except APIError as err:
            self._send_json(err.status, {"error": {
                "code": err.code or DEFENDER_CODES.get(err.status, "Error"),
                "message": str(err), "target": str(uuid.uuid4())}},
                err.headers)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            self.close_connection = True
        except Exception:  # pylint: disable=broad-except
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            try:
                self._send_json(500, {"error": {
                    "code": "InternalServerError",
                    "message": "emulator bug (see its stderr)",
                    "target": str(uuid.uuid4())}})
            except OSError:
                pass

    # -- Entra ID -----------------------------------------------------
    def _token(self, segment, v2, body):
        emu = self.server.emulator
        if self.command != "POST":
            raise APIError(405, "The token endpoint only accepts POST",
                           "MethodNotAllowed", {"Allow": "POST"})
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        tenant = emu.tokens.find_tenant(segment)
        name = tenant.name if tenant else "-"
        emu.stats.request("token", name)
        fault = emu.faults.take_5xx(tenant and tenant.name, "token")
        if fault:
            emu.stats.add("injected_5xx")
            err = tokens.TokenError(50000)
            err.status = fault[0]
            headers = {"Retry-After": str(fault[1])} if fault[1] else {}
            return self._send_json(err.status, err.body(), headers)
        slow = emu.faults.token_slow_ms(tenant and tenant.name)
        if slow:
            time.sleep(slow / 1000.0)
        basic = tokens.parse_basic(self.headers.get("Authorization"))
        status, obj, headers = emu.tokens.token(segment, v2, form, basic)
        headers.update({"Cache-Control": "no-store, no-cache",
                        "Pragma": "no-cache"})
        self._send_json(status, obj, headers)

    def _interactive(self, match, path, query):
        """GET authorize / adminconsent: the sign-in page (signin.py)."""
        emu = self.server.emulator
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        admin = path.rstrip("/").endswith("adminconsent")
        status, headers, body = emu.signin.start(
            match.group(1), bool(match.group(2)), params, admin)
        self._send_page(status, headers, body)

    def _signin_post(self, match, body):
        """POST login / consent: the forms of the sign-in pages."""
        emu = self.server.emulator
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        step = emu.signin.login if match.group(2) == "login" \
            else emu.signin.consent
        self._send_page(*step(match.group(1), form))

    def _send_page(self, status, headers, body):
        headers = dict(headers)
        ctype = headers.pop("Content-Type", "text/html; charset=utf-8")
        headers["Cache-Control"] = "no-store"
        self._send(status, body or b"", headers, ctype)

    # -- list APIs ----------------------------------------------------
    def _base_url(self):
        host = self.headers.get("Host", "")
        if not HOST_RE.match(host):
            return self.server.emulator.url
        return "https://" + host

    def _api_error(self, api, err, tenant_id):
        if api["graph"]:
            rid = self.request_id
            body = {"error": {
                "code": GRAPH_CODES.get(err.status, "Error")
                if err.code in (None, "429") else err.code,
                "message": str(err),
                "innerError": {"date": iso(now_ticks(), 0), "request-id": rid,
                               "client-request-id": self.headers.get(
                                   "client-request-id", rid)}}}
        else:
            body = {"error": {
                "code": err.code or DEFENDER_CODES.get(err.status, "Error"),
                "message": str(err), "target": tenant_id or str(uuid.uuid4())}}
        return err.status, json.dumps(body, separators=(",", ":")).encode(), \
            err.headers

    def _api(self, stream, path, query):
        emu = self.server.emulator
        api = APIS[stream]
        tenant = None
        self.request_id = str(uuid.uuid4())
        try:
            if self.command != "GET":
                raise APIError(405, "Only GET is emulated on %s" % path,
                               "MethodNotAllowed", {"Allow": "GET"})
            tenant = self._authorise(api)
            emu.stats.request(stream, tenant.name)
            status, body, headers = self._api_ok(api, tenant, path, query)
        except APIError as err:
            if tenant is None:
                emu.stats.request(stream, "-")
            status, body, headers = self._api_error(
                api, err, tenant.tenant_id if tenant else None)
        except odata.ODataError as err:
            status, body, headers = self._api_error(
                api, APIError(err.status, str(err), err.code),
                tenant.tenant_id)
        name = tenant.name if tenant else None
        slow = emu.faults.slow_ms(name)
        if slow:
            time.sleep(slow / 1000.0)
        self._send_api(status, body, headers, name)

    def _authorise(self, api):
        emu = self.server.emulator
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() != "bearer " or not auth[7:].strip():
            raise APIError(401, "Authorization header is missing or is not "
                           "a Bearer token.", headers={
                               "WWW-Authenticate": 'Bearer'})
        try:
            claims = emu.tokens.verify_access(auth[7:].strip())
        except tokens.AuthError as err:
            raise APIError(401, str(err), headers={
                "WWW-Authenticate": 'Bearer error="invalid_token", '
                                    'error_description="%s"' % err})
        tenant = emu.tenant_by_id.get(claims.get("tid"))
        if tenant is None:
            raise APIError(401, "Unknown tenant in token.")
        if claims.get("aud") not in api["auds"]:
            raise APIError(401, "Invalid audience '%s' for this API; "
                           "expected one of %s." % (claims.get("aud"),
                                                    sorted(api["auds"])),
                           headers={"WWW-Authenticate":
                                    'Bearer error="invalid_token"'})
        self.claims = claims
        self._check_role(api["role"])
        if api["name"] in tenant.blocked_apis:
            raise APIError(403, "The application is not allowed to access "
                           "this tenant's data (authorize it in the "
                           "Microsoft Defender portal).", "Forbidden")
        return tenant

    def _check_role(self, role):
        """403 unless the token (self.claims) holds *role*: in roles
        (application) or, delegated, its scope in scp."""
        claims = self.claims
        scopes = (claims.get("scp") or "").split()
        if role not in (claims.get("roles") or []) and \
                tokens.DELEGATED.get(role, role) not in scopes:
            raise APIError(403, "The application does not have the "
                           "required permission '%s'." % role)

    def _api_ok(self, api, tenant, path, query):
        emu = self.server.emulator
        scale = emu.faults.rate_scale(tenant.name)
        limited = emu.limiter.check(tenant.name, api["name"], api["limits"],
                                    scale)
        if limited:
            wait, allowed, seconds = limited
            emu.stats.throttle(tenant.name, api["name"])
            raise APIError(429, "API calls quota exceeded! Maximum allowed "
                           "%d per %s for the key Destination+TenantID+"
                           "AppID. You can send requests again in %d "
                           "seconds." % (allowed, _window(seconds), wait),
                           "429", {"Retry-After": str(wait)})
        fault = emu.faults.take_5xx(tenant.name, "api")
        if fault:
            emu.stats.add("injected_5xx")
            headers = {"Retry-After": str(fault[1])} if fault[1] else {}
            raise APIError(fault[0], "Injected server error (emulator "
                           "fault).", headers=headers)
        params = odata.parse_params(query)
        query_opts = odata.parse_query(params, api)
        if query_opts.expand and api.get("expand_role"):
            self._check_role(api["expand_role"])
            if emu.faults.expand_fails(tenant.name):
                emu.stats.add("injected_5xx")
                raise APIError(500, "An error has occurred while expanding "
                               "the alerts of the incidents (emulator "
                               "fault expand_fails).",
                               "InternalServerError")
        store = emu.db.store(tenant, api["name"])
        prefer = self.headers.get("Prefer", "")
        body, count = odata.list_page(store, api, params, emu.snapshots,
                                      self._base_url(), path, emu.paging,
                                      odata.prefers_unknown_members(prefer))
        emu.stats.add("records_served", count)
        return 200, body, {}

    def _send_api(self, status, body, headers, tenant):
        emu = self.server.emulator
        headers = dict(headers)
        headers.update({"OData-Version": "4.0",
                        "request-id": self.request_id})
        html = emu.faults.take_html(tenant) if tenant else None
        if html is not None:
            # a proxy or load balancer in front of the API: no JSON at all
            emu.stats.add("html_pages")
            page = ("<html><head><title>%d</title></head><body><h1>%d</h1>"
                    "<p>The proxy server received an invalid response from an "
                    "upstream server.</p></body></html>" % (html, html))
            return self._send(html, page.encode(), {}, "text/html")
        if status == 200 and tenant and emu.faults.hostile_text(tenant):
            body = faults.hostile_body(body)
        kind = emu.faults.take_bad_body(tenant) if status == 200 else None
        if kind is not None:
            emu.stats.add("bad_bodies")
            body = faults.broken_body(body, kind)
        mode = emu.faults.take_truncate(tenant) if status == 200 else None
        if mode == "json":
            body = body[:max(1, len(body) // 2)]
        if mode:
            emu.stats.add("truncated")
        accept = self.headers.get("Accept-Encoding", "").lower()
        if emu.compress and "gzip" in accept:
            body = gzip.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        elif emu.compress and "deflate" in accept:
            body = zlib.compress(body, 1)
            headers["Content-Encoding"] = "deflate"
        if mode != "connection":
            return self._send(status, body, headers, ODATA_TYPE)
        self.send_response(status)
        self.send_header("Content-Type", ODATA_TYPE)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:max(1, len(body) // 2)])
        self.wfile.flush()
        self.close_connection = True
        emu.stats.response(status)


class EmulatorServer(ThreadingHTTPServer):
    """Threading HTTPS server; TLS handshakes run in the worker thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, emulator, context):
        self.emulator = emulator
        self.context = context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            if self.emulator.verbose:
                sys.stderr.write("TLS handshake with %s failed: %s\n"
                                 % (client_address[0], err))
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def tls_context(cert_file, key_file):
    """Server TLS context: TLS 1.2+, HTTP/1.1 via ALPN."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
