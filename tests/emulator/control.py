"""Control endpoints under ``/_emulator/`` (plain JSON, no auth, local).

Tests use them to add or update records while a client runs, to inject
faults, to change consent/roles and to read counters.
"""

import json
import urllib.parse

from records import STREAMS
from timeutil import TICKS_PER_SECOND, iso, now_ticks, parse_iso


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _json(body):
    if not body:
        return {}
    try:
        obj = json.loads(body)
    except ValueError as err:
        raise ControlError(400, "body is not JSON: %s" % err) from None
    if not isinstance(obj, dict):
        raise ControlError(400, "body must be a JSON object")
    return obj


def _tenant(emu, name):
    if not name:
        raise ControlError(400, "'tenant' is required")
    tenant = emu.tenant_by_name.get(name) or emu.tenant_by_id.get(name)
    if tenant is None:
        raise ControlError(404, "unknown tenant '%s'" % name)
    return tenant


def _store(emu, args):
    tenant = _tenant(emu, args.get("tenant"))
    stream = args.get("stream")
    if stream not in STREAMS:
        raise ControlError(400, "'stream' must be one of %s" % list(STREAMS))
    return emu.db.store(tenant, stream)


def _summary(row, spec=None):
    """id/created/lastUpdate/version of a row; the id as the stream's API
    writes it (graph-incidents: a string)."""
    rid = spec.show_id(row.rid) if hasattr(spec, "show_id") else row.rid
    out = {"id": rid, "created": iso(row.created, row.pc),
           "lastUpdate": iso(row.updated, row.pu), "version": row.version}
    if row.visible:
        out["visibleAt"] = iso(row.visible, 7)
    return out


def _at(args):
    """Optional explicit time: "at" (ISO-8601) or "age_s" (seconds ago)."""
    try:
        if args.get("at") is not None:
            return parse_iso(str(args["at"]))
        if args.get("age_s") is not None:
            return now_ticks() - int(float(args["age_s"]) * TICKS_PER_SECOND)
    except (ValueError, TypeError) as err:
        raise ControlError(400, "bad 'at'/'age_s': %s" % err) from None
    return None


def _records_get(emu, args):
    store = _store(emu, args)
    rows = list(store.rows)
    summary = args.get("summary", "") in ("1", "true", "yes")
    return 200, {
        "tenant": store.tenant.name, "stream": store.spec.name,
        "count": len(rows), "id_field": store.spec.id_field,
        "update_field": store.spec.update_field,
        "records": [_summary(r, store.spec) if summary else store.as_dict(r)
                    for r in rows]}


def _lag(args):
    try:
        lag = float(args.get("lag_s", 0))
    except (TypeError, ValueError):
        raise ControlError(400, "'lag_s' must be a number") from None
    if lag < 0:
        raise ControlError(400, "'lag_s' must be >= 0")
    return lag


def _records_post(emu, args):
    store = _store(emu, args)
    count = args.get("count", 1)
    if not isinstance(count, int) or not 0 <= count <= 1_000_000:
        raise ControlError(400, "'count' must be an integer 0..1000000")
    rows = store.add(count, _at(args), _lag(args), bool(args.get("tie")))
    return 200, {"ids": [_summary(r, store.spec)["id"] for r in rows],
                 "records": [_summary(r, store.spec) for r in rows]}


def _update(emu, args):
    store = _store(emu, args)
    if "ids" in args:
        if not isinstance(args["ids"], list):
            raise ControlError(400, "'ids' must be a list")
        try:
            rows = store.update(ids=args["ids"], at=_at(args),
                                lag_s=_lag(args), tie=bool(args.get("tie")))
        except (KeyError, ValueError) as err:
            raise ControlError(404, "unknown record id %s" % err) from None
    elif isinstance(args.get("count"), int):
        rows = store.update(count=args["count"], at=_at(args),
                            lag_s=_lag(args), tie=bool(args.get("tie")))
    else:
        raise ControlError(400, "give 'ids' (list) or 'count' (integer)")
    return 200, {"ids": [_summary(r, store.spec)["id"] for r in rows],
                 "records": [_summary(r, store.spec) for r in rows]}


def _faults(emu, args):
    try:
        active = emu.faults.configure(args, emu.tenant_by_name)
    except KeyError as err:
        raise ControlError(404, "unknown tenant %s" % err) from None
    except (ValueError, TypeError, AttributeError) as err:
        raise ControlError(400, "bad fault specification: %s" % err) \
            from None
    return 200, {"faults": active}


def _paging(emu, args):
    try:
        settings = emu.paging.configure(args, emu.tenant_by_name, STREAMS)
    except KeyError as err:
        raise ControlError(404, "unknown tenant %s" % err) from None
    except (ValueError, TypeError) as err:
        raise ControlError(400, "bad paging settings: %s" % err) from None
    return 200, {"paging": settings}


def _consent(emu, args):
    tenant = _tenant(emu, args.get("tenant"))
    if "granted" in args:
        tenant.consent = bool(args["granted"])
    if "roles" in args:
        if not isinstance(args["roles"], list):
            raise ControlError(400, "'roles' must be a list")
        tenant.roles = [str(r) for r in args["roles"]]
    if "resource_roles" in args:
        value = args["resource_roles"]
        if not isinstance(value, dict):
            raise ControlError(400, "'resource_roles' must be an object")
        tenant.resource_roles = {k.rstrip("/"): list(v)
                                 for k, v in value.items()}
    return 200, {"tenant": tenant.name, "granted": tenant.consent,
                 "roles": tenant.roles,
                 "resource_roles": tenant.resource_roles}


def _app(emu, args):
    """The app registration in a tenant: redirect URIs, APIs it may read."""
    tenant = _tenant(emu, args.get("tenant"))
    if "redirect_uris" in args:
        value = args["redirect_uris"]
        if value is not None and not isinstance(value, list):
            raise ControlError(400, "'redirect_uris' must be a list or null")
        tenant.redirect_uris = None if value is None else [str(u)
                                                           for u in value]
    if "blocked_apis" in args:
        value = args["blocked_apis"]
        if not isinstance(value, list) or any(v not in STREAMS
                                              for v in value):
            raise ControlError(400, "'blocked_apis' must list streams of %s"
                               % list(STREAMS))
        tenant.blocked_apis = set(value)
    return 200, {"tenant": tenant.name, "redirect_uris": tenant.redirect_uris,
                 "blocked_apis": sorted(tenant.blocked_apis)}


def _auth_code(emu, args):
    tenant = _tenant(emu, args.get("tenant"))
    code = emu.tokens.issue_code(tenant, args.get("redirect_uri"),
                                 args.get("resource"), args.get("scope"))
    return 200, {"code": code, "expires_in": 600,
                 "client_id": tenant.client_id}


def _revoke(emu, args):
    tenant = _tenant(emu, args.get("tenant"))
    return 200, {"revoked": emu.tokens.revoke_refresh_tokens(tenant)}


def _stats(emu):
    out = emu.stats.snapshot()
    out["snapshots"] = len(emu.snapshots)
    out["records"] = emu.db.counts()
    return 200, out


def _reset_faults(emu):
    emu.faults.reset()
    emu.limiter.reset()
    emu.paging.reset()
    return 200, {"faults": emu.faults.describe()}


ROUTES = {
    ("GET", "info"): lambda emu, a: (200, emu.info),
    ("GET", "records"): _records_get,
    ("POST", "records"): _records_post,
    ("POST", "update"): _update,
    ("GET", "faults"): lambda emu, a: (200, {"faults":
                                             emu.faults.describe()}),
    ("POST", "faults"): _faults,
    ("GET", "paging"): lambda emu, a: (200, {"paging": emu.paging.describe()}),
    ("POST", "paging"): _paging,
    ("POST", "reset-faults"): lambda emu, a: _reset_faults(emu),
    ("POST", "consent"): _consent,
    ("GET", "stats"): lambda emu, a: _stats(emu),
    ("POST", "reset-stats"): lambda emu, a: (emu.stats.reset(), (200, {}))[1],
    ("POST", "auth-code"): _auth_code,
    ("POST", "app"): _app,
    ("POST", "revoke-refresh-tokens"): _revoke,
}


def handle(emu, method, path, query, body):
    """Dispatch a control request; return (status, JSON object)."""
    name = path[len("/_emulator/"):].strip("/")
    route = ROUTES.get((method, name))
    if route is None:
        known = sorted({"%s /_emulator/%s" % k for k in ROUTES})
        return 404, {"error": "unknown control endpoint %s %s" % (method,
                                                                   path),
                     "endpoints": known}
    args = dict(urllib.parse.parse_qsl(query))
    try:
        if method == "POST":
            args.update(_json(body))
        return route(emu, args)
    except ControlError as err:
        return err.status, {"error": str(err)}
