"""OData list semantics: $filter, $top, $skip, $count, $expand, paging.

Paging is *live* by default: a next link is the same query with a larger
``$skip``, run again over the data as it is when it arrives (what
Microsoft's next links are; nothing documents a snapshot).  Order, caps,
churn and the other knobs are in paging.py.

With ``mode = snapshot`` (a knob), the remaining ordered list of
(immutable) rows is stored server side under a random token when more
records match than fit in a page, and ``@odata.nextLink`` points to
``<same path>?$skiptoken=<token>.<offset>&$top=N``: following next links
walks one consistent result set, even while records are added or updated.
Snapshots expire 10 minutes after their last use.
"""

import re
import secrets
import threading
import time
import urllib.parse

import paging
from timeutil import now_ticks, parse_iso

SNAPSHOT_TTL = 600
_TOKEN_RE = re.compile(r"\w+'[^']*'|'[^']*'|\(|\)|[^\s()]+")
_OPS = ("eq", "ge", "gt", "le", "lt")
# "+00:00" in an unencoded query string arrives as " 00:00"
_OFFSET_FIX = re.compile(r"(T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)\b")


class ODataError(Exception):
    """A 400 answer: *code* is ``BadRequest`` or ``ODataError``."""

    def __init__(self, message, code="ODataError", status=400):
        super().__init__(message)
        self.code = code
        self.status = status


class Query:
    """Validated query options of one list request."""

    def __init__(self):
        self.top = None
        self.skip = 0
        self.expand = False
        self.count = False
        self.skiptoken = None
        self.lower = None  # (ticks, inclusive) on the last-update field
        self.upper = None
        self.created = []  # [(op, ticks)] on the created field


def parse_params(query_string):
    """Query string -> {name: value}; duplicate options are an error.

    ``+`` means a space (form encoding), so ``lastUpdateTime+ge+...``
    works as in Microsoft's examples.  System option names are
    case-insensitive.
    """
    params = {}
    for key, value in urllib.parse.parse_qsl(query_string,
                                             keep_blank_values=True):
        if key.startswith("$"):
            key = key.lower()
        if key in params:
            raise ODataError("Query option '%s' was specified more than "
                             "once." % key)
        params[key] = value
    return params


def _tighter(old, new, lower):
    if old is None:
        return new
    if new[0] != old[0]:
        return new if (new[0] > old[0]) == lower else old
    return new if not new[1] else old  # exclusive is tighter


def _literal(text):
    if text.startswith("'") or ("'" in text and text.endswith("'")):
        text = text[text.index("'") + 1:-1]
    try:
        return parse_iso(text)
    except ValueError:
        raise ODataError("The filter literal '%s' is not a valid "
                         "DateTimeOffset." % text) from None


def parse_filter(text, q, update_field, created_field):
    """Parse ``field op datetime [and ...]`` into *q*'s bounds."""
    tokens = _TOKEN_RE.findall(_OFFSET_FIX.sub(r"\1+\2", text))
    fields = {update_field.lower(): "updated",
              created_field.lower(): "created"}
    clauses, i = [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("(", ")"):
            i += 1
            continue
        if tok.lower() == "and" and clauses:
            i += 1
            continue
        if tok.lower() in ("or", "not"):
            raise ODataError("'%s' is not supported in $filter by the "
                             "emulator." % tok)
        if len(tokens) - i < 3:
            raise ODataError("Syntax error in $filter at '%s'." % tok)
        field, op, lit = tokens[i], tokens[i + 1].lower(), tokens[i + 2]
        if field.lower() not in fields:
            raise ODataError("Filtering on '%s' is not supported; supported "
                             "properties: %s, %s." % (field, update_field,
                                                      created_field))
        if op not in _OPS:
            raise ODataError("Operator '%s' is not supported in $filter."
                             % op)
        clauses.append((fields[field.lower()], op, _literal(lit)))
        i += 3
    if not clauses:
        raise ODataError("The $filter expression is empty.")
    for which, op, ticks in clauses:
        if which == "created":
            q.created.append((op, ticks))
            continue
        if op in ("ge", "gt", "eq"):
            q.lower = _tighter(q.lower, (ticks, op != "gt"), True)
        if op in ("le", "lt", "eq"):
            q.upper = _tighter(q.upper, (ticks, op != "lt"), False)


def _int_option(params, name, maximum=None, graph=False):
    raw = params[name]
    if not re.fullmatch(r"\s*\d+\s*", raw):
        raise ODataError("Invalid value '%s' for %s: a non-negative "
                         "integer is required." % (raw, name))
    value = int(raw)
    if maximum is not None and value > maximum and graph:
        # ASP.NET OData's text, as Graph incidents answer $top=100
        # (wazuh/wazuh #28070)
        raise ODataError("The query specified in the URI is not valid. The "
                         "limit of '%d' for Top query has been exceeded. The "
                         "value from the incoming request is '%d'."
                         % (maximum, value), code="BadRequest")
    if maximum is not None and value > maximum:
        raise ODataError("The limit of '%d' for %s was exceeded. The "
                         "requested value was '%d'." % (maximum, name,
                                                        value),
                         code="BadRequest")
    return value


def parse_query(params, api):
    """Validate list options against the API description *api*."""
    q = Query()
    for name in params:
        if name.startswith("$") and name not in (
                "$filter", "$top", "$skip", "$expand", "$skiptoken",
                "$count"):
            raise ODataError("Query option '%s' is not supported by the "
                             "emulator." % name)
    if "$top" in params:
        q.top = _int_option(params, "$top", api["max_top"], api["graph"])
        if api.get("clamp_top") is not None:
            q.top = min(q.top, api["clamp_top"])
    if "$skip" in params:
        q.skip = _int_option(params, "$skip")
    if "$expand" in params:
        value = params["$expand"].strip().lower()
        if not (api["expand"] and value == api["expand"]):
            raise ODataError("$expand=%s is not supported on this entity "
                             "set." % params["$expand"])
        q.expand = True
    if "$count" in params:
        value = params["$count"].strip().lower()
        if value not in ("true", "false"):
            raise ODataError("$count must be true or false.")
        q.count = value == "true"
    if "$skiptoken" in params:
        q.skiptoken = params["$skiptoken"]
    if "$filter" in params and not q.skiptoken:
        parse_filter(params["$filter"], q, api["update_field"],
                     api["created_field"])
    return q


class Snapshot:
    __slots__ = ("tenant", "stream", "rows", "expand", "total", "used")

    def __init__(self, tenant, stream, rows, expand, total):
        self.tenant = tenant
        self.stream = stream
        self.rows = rows
        self.expand = expand
        self.total = total
        self.used = time.monotonic()


class Snapshots:
    """Server-side result sets behind ``$skiptoken``."""

    def __init__(self, ttl=SNAPSHOT_TTL):
        self.ttl = ttl
        self.lock = threading.Lock()
        self.items = {}

    def _prune(self, now):
        for key in [k for k, s in self.items.items()
                    if s.used + self.ttl < now]:
            del self.items[key]

    def create(self, tenant, stream, rows, expand, total):
        token = secrets.token_urlsafe(12)
        with self.lock:
            now = time.monotonic()
            self._prune(now)
            self.items[token] = Snapshot(tenant, stream, rows, expand, total)
        return token

    def get(self, value, tenant, stream):
        """(snapshot, token, offset) for a ``$skiptoken`` value."""
        token, _, offset = value.rpartition(".")
        with self.lock:
            now = time.monotonic()
            self._prune(now)
            snap = self.items.get(token)
            if (snap is None or snap.tenant != tenant or snap.stream != stream
                    or not offset.isdigit()):
                raise ODataError("The $skiptoken is invalid or has expired.",
                                 code="BadRequest")
            snap.used = now
        return snap, token, int(offset)

    def __len__(self):
        return len(self.items)


def _created_ok(row, conds):
    for op, ticks in conds:
        c = row.created
        if not ((op == "eq" and c == ticks) or (op == "ge" and c >= ticks)
                or (op == "gt" and c > ticks) or (op == "le" and c <= ticks)
                or (op == "lt" and c < ticks)):
            return False
    return True


def _error_limit(what, limit, value):
    return ODataError("The limit of '%d' for %s was exceeded. The requested "
                      "value was '%d'." % (limit, what, value),
                      code="BadRequest")


# Members of Graph's evolvable enums that come after unknownFutureValue
# (§5.1: serviceSource, detectionSource, incidentStatus): without
# "Prefer: include-unknown-enum-members" Graph returns unknownFutureValue.
EVOLVABLE = {
    "serviceSource": ("microsoftDefenderForCloud", "microsoftSentinel",
                      "microsoftInsiderRiskManagement"),
    "detectionSource": ("microsoftDefenderForCloud", "microsoftSentinel",
                        "microsoftDefenderForIoT", "microsoftDefenderForServers",
                        "microsoftInsiderRiskManagement"),
    "status": ("awaitingAction",),
}
_EVOLVABLE_RE = re.compile(("\"(%s)\":\"(%s)\"" % (
    "|".join(EVOLVABLE), "|".join(sorted({m for v in EVOLVABLE.values()
                                          for m in v})))).encode())


def prefers_unknown_members(prefer):
    """True when a Prefer header value asks for include-unknown-enum-members
    (comma-separated preferences, case-insensitive)."""
    return any(p.strip().lower() == "include-unknown-enum-members"
               for p in (prefer or "").split(","))


def hide_unknown_members(body):
    """*body* (bytes) with evolvable members as ``unknownFutureValue``."""
    def repl(m):
        key, member = m.group(1).decode(), m.group(2).decode()
        if member in EVOLVABLE[key]:
            return b'"%s":"unknownFutureValue"' % m.group(1)
        return m.group(0)
    return _EVOLVABLE_RE.sub(repl, body)


def list_page(store, api, params, snapshots, base_url, path, pager,
              unknown_members=True):
    """Build one list response; return (body bytes, records in page).

    *unknown_members* False (a Graph request without the Prefer header)
    turns evolvable enum members into ``unknownFutureValue``."""
    q = parse_query(params, api)
    top = api["default_top"] if q.top is None else q.top
    tenant = store.tenant.name
    how = pager.effective(tenant, api)
    token = None
    if q.skiptoken:
        snap, token, start = snapshots.get(q.skiptoken, tenant, api["name"])
        rows, expand, total = snap.rows, snap.expand or q.expand, snap.total
    else:
        if how.skip_max is not None and q.skip > how.skip_max:
            raise _error_limit("Skip query", how.skip_max, q.skip)
        rows = store.select(q.lower, q.upper, now_ticks())
        if q.created:
            rows = [r for r in rows if _created_ok(r, q.created)]
        rows = pager.shuffle(rows, how.order)
        start, expand, total = q.skip, q.expand, len(rows)
    page = rows[start:start + top]
    end = start + len(page)
    more = top > 0 and end < len(rows)
    link = None
    if how.next_link == "always" and top > 0:
        more = True
    elif how.next_link == "never" or (api.get("no_next_with_top")
                                      and q.top is not None):
        more = False
    if more and (q.skiptoken or how.mode == "snapshot"):
        if token is None:
            token = snapshots.create(tenant, api["name"], rows[end:], expand,
                                     total)
            end = 0
        link = "%s%s?$skiptoken=%s.%d&$top=%d" % (base_url, path, token,
                                                  end, top)
    elif more:
        link = paging.next_link(base_url, path, params, q.skip + top)
    served = pager.duplicate(page, how.duplicates)
    render = store.render
    body = b",".join(render(r, expand).encode("utf-8") for r in served)
    if api["graph"] and not unknown_members:
        body = hide_unknown_members(body)
    if how.churn and page:
        store.update(ids=[r.rid for r in pager.pick(page, how.churn)],
                     lag_s=how.lag_s)
    if how.insert:
        store.add(how.insert, lag_s=how.lag_s)
    context = '"@odata.context":"%s%s"' % (base_url, api["context"])
    extras = []
    if q.count:
        extras.append('"@odata.count":%d' % total)
    if api["graph"]:
        if link:
            extras.append('"@odata.nextLink":"%s"' % link)
        head = "{" + ",".join([context] + extras) + ',"value":['
        tail = "]}"
    else:
        head = "{" + ",".join([context] + extras) + ',"value":['
        tail = ('],"@odata.nextLink":"%s"}' % link) if link else "]}"
    return head.encode() + body + tail.encode(), len(served)
