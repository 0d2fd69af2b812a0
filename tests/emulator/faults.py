"""Fault injection, rate limiting and counters of the emulator."""

import json
import math
import threading
import time

FAULT_KEYS = ("status_5xx", "slow_ms", "truncate", "truncate_mode",
              "token_lifetime", "rate_scale", "fail_token", "v1_numeric",
              "refresh_rotation", "token_tid", "expand_fails", "html", "bad_body",
              "token_slow_ms", "hostile_text")
ROTATIONS = ("single-use", "grace", "keep")
# What a broken upstream answers instead of a good 200 page (bad_body.kind).
BAD_BODY_KINDS = ("empty", "value_not_array", "no_id", "bad_time", "nan", "invalid_utf8")


class FaultSet:
    """Faults of one scope (all tenants, or one tenant)."""

    def __init__(self):
        self.status_5xx = 0  # remaining injected 5xx responses
        self.status_code = 500
        self.status_endpoint = "api"  # api | token | any
        self.retry_after = None
        self.slow_ms = 0
        self.truncate = 0  # remaining truncated API responses
        self.truncate_mode = "json"  # json | connection
        self.token_lifetime = None
        self.rate_scale = None
        self.fail_token = None  # AADSTS code (int)
        self.fail_token_count = None  # None = until reset
        self.v1_numeric = None
        self.refresh_rotation = None  # single-use | grace | keep
        self.token_tid = None  # tid that issued tokens carry instead
        self.expand_fails = None  # True: $expand=alerts answers HTTP 500
        self.html = 0  # remaining API answers replaced by a proxy's HTML page
        self.html_status = 502
        self.bad_body = 0  # remaining 200 API answers with a broken body
        self.bad_body_kind = "empty"
        self.token_slow_ms = 0
        self.hostile_text = None  # True: text fields of served records rewritten (hostile())

    def describe(self):
        """Active settings as a dict (for GET /_emulator/faults)."""
        return {k: v for k, v in vars(self).items()
                if v not in (None, 0, "json", "api", 500, 502, "empty")}


def _code(value):
    text = str(value).upper()
    if text.startswith("AADSTS"):
        text = text[6:]
    return int(text)


class Faults:
    """Global faults plus per-tenant overrides."""

    def __init__(self, rate_scale=1.0):
        self.lock = threading.Lock()
        self.base_rate_scale = rate_scale
        self.reset()

    def reset(self):
        """Remove every fault (POST /_emulator/reset-faults)."""
        with self.lock:
            self.glob = FaultSet()
            self.per_tenant = {}

    def configure(self, body, known_tenants):
        """Apply a POST /_emulator/faults body; raise ValueError."""
        unknown = set(body) - set(FAULT_KEYS) - {"tenant"}
        if unknown:
            raise ValueError("unknown fault keys: %s" % sorted(unknown))
        with self.lock:
            target = self._scope(body.get("tenant"), known_tenants)
            if "status_5xx" in body:
                spec = body["status_5xx"]
                if isinstance(spec, int):
                    spec = {"count": spec}
                code = int(spec.get("status", 500))
                endpoint = spec.get("endpoint", "api")
                if not 500 <= code <= 599:
                    raise ValueError("status_5xx.status must be 5xx")
                if endpoint not in ("api", "token", "any"):
                    raise ValueError("status_5xx.endpoint: api|token|any")
                target.status_5xx = int(spec.get("count", 1))
                target.status_code = code
                target.status_endpoint = endpoint
                target.retry_after = spec.get("retry_after")
            if "slow_ms" in body:
                target.slow_ms = max(0, int(body["slow_ms"]))
            if "truncate" in body:
                target.truncate = max(0, int(body["truncate"]))
            if "truncate_mode" in body:
                if body["truncate_mode"] not in ("json", "connection"):
                    raise ValueError("truncate_mode: json|connection")
                target.truncate_mode = body["truncate_mode"]
            if "token_lifetime" in body:
                value = body["token_lifetime"]
                target.token_lifetime = None if value is None else \
                    max(1, int(value))
            if "rate_scale" in body:
                value = body["rate_scale"]
                target.rate_scale = None if value is None else float(value)
            if "html" in body:
                spec = body["html"]
                if isinstance(spec, int):
                    spec = {"count": spec}
                status = int(spec.get("status", 502))
                if not 200 <= status <= 599:
                    raise ValueError("html.status must be 200..599")
                target.html = max(0, int(spec.get("count", 1)))
                target.html_status = status
            if "bad_body" in body:
                spec = body["bad_body"]
                if spec.get("kind", "empty") not in BAD_BODY_KINDS:
                    raise ValueError("bad_body.kind: %s" % "|".join(BAD_BODY_KINDS))
                target.bad_body = max(0, int(spec.get("count", 1)))
                target.bad_body_kind = spec.get("kind", "empty")
            if "hostile_text" in body:
                target.hostile_text = bool(body["hostile_text"]) or None
            if "token_slow_ms" in body:
                target.token_slow_ms = max(0, int(body["token_slow_ms"]))
            if "v1_numeric" in body:
                target.v1_numeric = bool(body["v1_numeric"])
            if "refresh_rotation" in body:
                value = body["refresh_rotation"]
                if value is not None and value not in ROTATIONS:
                    raise ValueError("refresh_rotation: %s" % "|".join(
                        ROTATIONS))
                target.refresh_rotation = value
            if "expand_fails" in body:
                value = body["expand_fails"]
                target.expand_fails = None if value is None else bool(value)
            if "token_tid" in body:
                value = body["token_tid"]
                target.token_tid = None if value is None else str(value)
            if "fail_token" in body:
                spec = body["fail_token"]
                if spec is None:
                    target.fail_token = None
                else:
                    if isinstance(spec, (str, int)):
                        spec = {"error": spec}
                    scope = self._scope(spec.get("tenant"), known_tenants) \
                        if spec.get("tenant") else target
                    scope.fail_token = _code(spec["error"])
                    count = spec.get("count")
                    scope.fail_token_count = None if count is None \
                        else int(count)
            return self.describe()

    def _scope(self, tenant, known_tenants):
        if tenant is None:
            return self.glob
        if tenant not in known_tenants:
            raise KeyError(tenant)
        return self.per_tenant.setdefault(tenant, FaultSet())

    def _sets(self, tenant):
        own = self.per_tenant.get(tenant) if tenant else None
        return (own, self.glob) if own else (self.glob,)

    def describe(self):
        """All active faults."""
        out = {"global": self.glob.describe()}
        for name, fs in self.per_tenant.items():
            out[name] = fs.describe()
        return out

    # -- queries used while serving -----------------------------------
    def take_5xx(self, tenant, endpoint):
        """(status, retry_after) if this response must be a 5xx."""
        with self.lock:
            for fs in self._sets(tenant):
                if fs.status_5xx > 0 and fs.status_endpoint in (endpoint,
                                                                "any"):
                    fs.status_5xx -= 1
                    return fs.status_code, fs.retry_after
        return None

    def take_truncate(self, tenant):
        """Truncation mode if this API response must be truncated."""
        with self.lock:
            for fs in self._sets(tenant):
                if fs.truncate > 0:
                    fs.truncate -= 1
                    return fs.truncate_mode
        return None

    def take_html(self, tenant):
        """HTTP status of the HTML error page this API answer must be, or None."""
        with self.lock:
            for fs in self._sets(tenant):
                if fs.html > 0:
                    fs.html -= 1
                    return fs.html_status
        return None

    def take_bad_body(self, tenant):
        """Kind of broken body this 200 API answer must have, or None."""
        with self.lock:
            for fs in self._sets(tenant):
                if fs.bad_body > 0:
                    fs.bad_body -= 1
                    return fs.bad_body_kind
        return None

    def hostile_text(self, tenant):
        return bool(self._first(tenant, "hostile_text"))

    def token_slow_ms(self, tenant):
        with self.lock:
            return max(fs.token_slow_ms for fs in self._sets(tenant))

    def slow_ms(self, tenant):
        with self.lock:
            return max(fs.slow_ms for fs in self._sets(tenant))

    def _first(self, tenant, attr):
        with self.lock:
            for fs in self._sets(tenant):
                value = getattr(fs, attr)
                if value is not None:
                    return value
        return None

    def token_lifetime(self, tenant):
        return self._first(tenant, "token_lifetime")

    def v1_numeric(self, tenant):
        return bool(self._first(tenant, "v1_numeric"))

    def refresh_rotation(self, tenant):
        return self._first(tenant, "refresh_rotation")

    def token_tid(self, tenant):
        return self._first(tenant, "token_tid")

    def expand_fails(self, tenant):
        """True while graph-incidents' $expand=alerts must answer 500 (big
        tenants see that persistently, elastic/integrations #18144)."""
        return bool(self._first(tenant, "expand_fails"))

    def rate_scale(self, tenant):
        value = self._first(tenant, "rate_scale")
        return self.base_rate_scale if value is None else value

    def take_token_failure(self, tenant):
        """AADSTS code to force for this token request, or None."""
        with self.lock:
            for fs in self._sets(tenant):
                if fs.fail_token is not None:
                    code = fs.fail_token
                    if fs.fail_token_count is not None:
                        fs.fail_token_count -= 1
                        if fs.fail_token_count <= 0:
                            fs.fail_token = fs.fail_token_count = None
                    return code
        return None


class RateLimiter:
    """Fixed-window quotas per (tenant, API), e.g. 50/min + 1500/h.

    A window starts with the first request after the previous window
    ended; requests answered 429 do not count.
    """

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.lock = threading.Lock()
        self.windows = {}  # (tenant, api, seconds) -> [start, count]

    def check(self, tenant, api, limits, scale):
        """None if allowed (and counted), else (retry_after, limit, secs)."""
        if not self.enabled:
            return None
        now = time.monotonic()
        with self.lock:
            states = []
            for limit, seconds in limits:
                allowed = max(1, int(round(limit * scale)))
                key = (tenant, api, seconds)
                state = self.windows.get(key)
                if state is None or now >= state[0] + seconds:
                    state = self.windows[key] = [now, 0]
                if state[1] >= allowed:
                    wait = max(1, math.ceil(state[0] + seconds - now))
                    return wait, allowed, seconds
                states.append(state)
            for state in states:
                state[1] += 1
        return None

    def reset(self):
        with self.lock:
            self.windows.clear()


class Stats:
    """Counters returned by GET /_emulator/stats."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.time()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = {}  # endpoint -> tenant -> n
            self.responses = {}  # status -> n
            self.throttled = {}  # tenant -> api -> n
            self.tokens_issued = {}  # tenant -> n
            self.token_errors = {}  # tenant -> AADSTS -> n
            self.injected_5xx = 0
            self.truncated = 0
            self.records_served = 0
            self.html_pages = 0
            self.bad_bodies = 0

    @staticmethod
    def _bump(table, *keys):
        for key in keys[:-1]:
            table = table.setdefault(key, {})
        table[keys[-1]] = table.get(keys[-1], 0) + 1

    def request(self, endpoint, tenant):
        with self.lock:
            self._bump(self.requests, endpoint, tenant or "-")

    def response(self, status):
        with self.lock:
            self._bump(self.responses, str(status))

    def throttle(self, tenant, api):
        with self.lock:
            self._bump(self.throttled, tenant, api)

    def token_issued(self, tenant):
        with self.lock:
            self._bump(self.tokens_issued, tenant)

    def token_error(self, tenant, code):
        with self.lock:
            self._bump(self.token_errors, tenant, code)

    def add(self, name, n=1):
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self):
        """Copy of every counter."""
        with self.lock:
            return {
                "uptime_s": round(time.time() - self.started, 3),
                "requests": {k: dict(v) for k, v in self.requests.items()},
                "responses": dict(self.responses),
                "throttled": {k: dict(v) for k, v in self.throttled.items()},
                "throttled_total": sum(sum(v.values()) for v in
                                       self.throttled.values()),
                "tokens_issued": dict(self.tokens_issued),
                "tokens_issued_total": sum(self.tokens_issued.values()),
                "token_errors": {k: dict(v) for k, v in
                                 self.token_errors.items()},
                "injected_5xx": self.injected_5xx,
                "truncated": self.truncated,
                "records_served": self.records_served,
                "html_pages": self.html_pages,
                "bad_bodies": self.bad_bodies,
            }


def broken_body(body, kind):
    """A 200 page body broken as ``kind`` (BAD_BODY_KINDS): nothing at all, "value" that is not
    an array, the first record without its id or with a last-update time that is no time, or
    with a NaN number or a byte that is not UTF-8 (what lax JSON writers produce)."""
    if kind == "empty":
        return b""
    if kind in ("nan", "invalid_utf8"):
        bad = b'"riskScore":NaN,' if kind == "nan" else b'"note":"caf\xe9",'
        start = body.find(b'"value":[{')
        if start < 0:
            return body
        at = start + len(b'"value":[{')
        return body[:at] + bad + body[at:]
    page = json.loads(body)
    if kind == "value_not_array":
        page["value"] = {"count": len(page.get("value") or [])}
    elif page.get("value"):
        rec = page["value"][0]
        if kind == "no_id":
            for key in ("id", "incidentId"):
                rec.pop(key, None)
        else:
            for key in ("lastUpdateTime", "lastUpdateDateTime"):
                if key in rec:
                    rec[key] = "yesterday at noon"
    return json.dumps(page, separators=(",", ":")).encode()


# Text an attacker controls in an alert (title, description, file names, command lines), for the
# injection tests: CEF and syslog delimiters, escapes, line breaks, NUL, terminal escapes, forged
# CEF keys and log keys, non-ASCII.
HOSTILE_ATOMS = ("|", "=", "\\", "\r", "\n", "\u0000", "\u001b[31m", "\"", " ", "cs2=evil",
                 " externalId=forged", "|High|", "\u0085", "\u2028", "\u00e9", "\U0001f525",
                 "level=error msg=\"x\"", "\\=", "\\|", "%s%n", "a", "Z")
HOSTILE_FIELDS = ("title", "incidentName", "description")
HOSTILE_EVIDENCE = ("fileName", "filePath", "processCommandLine")


def hostile(rid, field):
    """The hostile text that replaces field of record rid (deterministic, so tests can
    recompute what was served)."""
    import hashlib
    h = hashlib.sha256(("%s/%s" % (rid, field)).encode()).digest()
    return "".join(HOSTILE_ATOMS[b % len(HOSTILE_ATOMS)] for b in h[:2 + h[0] % 14])


def hostile_record(rec):
    """rec with its text fields replaced by hostile() (in place; returned)."""
    rid = rec.get("id", rec.get("incidentId"))
    for key in HOSTILE_FIELDS:
        if isinstance(rec.get(key), str):
            rec[key] = hostile(rid, key)
    for i, ev in enumerate(rec.get("evidence") or rec.get("entities") or []):
        if isinstance(ev, dict):
            for key in HOSTILE_EVIDENCE:
                if isinstance(ev.get(key), str):
                    ev[key] = hostile(rid, "%s%d" % (key, i))
    return rec


def hostile_body(body):
    """A 200 page body with every record rewritten by hostile_record."""
    page = json.loads(body)
    for rec in page.get("value") or []:
        hostile_record(rec)
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
