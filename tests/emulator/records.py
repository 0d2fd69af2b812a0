"""Record stores for the three emulated streams.

Design (chosen for speed with 200,000+ records):

* A record is a small immutable :class:`Row` (id, generation index, hash,
  created/updated ticks, precision of those two times, version).  An update
  replaces the row by a new one, so a list of rows is a cheap, consistent
  "copy as it was" (used by the paging snapshots).
* The JSON text of a record is produced from one of ~61 precompiled
  *variants* per stream and tenant (a JSON template with slots); per record
  only the dynamic values (ids, times, status, severity ...) are formatted
  and joined in.  No per-record dict is built and nothing is re-serialised.
* Everything is derived from (seed, tenant, stream, index), so runs with
  the same ``--seed`` produce the same records (times are relative to the
  emulator's start time).

Stores keep rows sorted by (last-update time, id): the order the emulator
serves pages in.

``graph-incidents`` has no store of its own: Microsoft Graph and Defender
XDR serve the same incidents, so it is a view (graph_incidents.py) of the
``m365d-incidents`` store that renders each row in Graph's schema.
"""

import bisect
import hashlib
import json
import random
import re
import threading

import graph_incidents
import samples
from timeutil import (PRECISIONS, TICKS_PER_SECOND, dotnet_ticks, iso,
                      now_ticks, truncate)

STREAMS = ("m365d-incidents", "mde-alerts", "graph-alerts", "graph-incidents")
# streams served from another stream's records: (base stream)
VIEWS = {"graph-incidents": "m365d-incidents"}
MASK64 = (1 << 64) - 1
TWO_DAYS = 2 * 86400 * TICKS_PER_SECOND
SIX_HOURS = 6 * 3600 * TICKS_PER_SECOND
N_VARIANTS = 61
ID_BASE_TICKS = 1_767_225_600 * TICKS_PER_SECOND  # 2026-01-01T00:00:00Z
_SLOT_RE = re.compile(r'"@@(\w+)@@"')


def mix(x):
    """splitmix64 finaliser: a fast, well-distributed 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def slot(name):
    """Placeholder for a per-record value inside a variant template."""
    return "@@%s@@" % name


def q(text):
    """JSON string literal for ASCII-safe text (ids, times)."""
    return '"' + text + '"'


class Template:
    """A JSON document with ``slot()`` placeholders, split once."""

    __slots__ = ("lits", "names")

    def __init__(self, obj):
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        parts = _SLOT_RE.split(text)
        self.lits = parts[0::2]
        self.names = parts[1::2]

    def render(self, values):
        """Join the literal parts with the JSON-encoded *values*."""
        out = [self.lits[0]]
        append = out.append
        for name, lit in zip(self.names, self.lits[1:]):
            append(values[name])
            append(lit)
        return "".join(out)


class Row:
    """One record version (immutable by convention)."""

    __slots__ = ("rid", "idx", "h", "created", "updated", "pc", "pu",
                 "version", "visible", "sub")

    def __init__(self, rid, idx, h, created, updated, pc, pu, version,
                 visible=0, sub=None):
        self.visible = visible  # ticks: hidden from the list APIs before
        # (last-update ticks, digits) of each part (an incident's alerts);
        # None: all equal to *updated*
        self.sub = sub
        self.rid = rid
        self.idx = idx
        self.h = h
        self.created = created
        self.updated = updated
        self.pc = pc
        self.pu = pu
        self.version = version


def _upd_key(row):
    return row.updated


def _sort_key(row):
    return (row.updated, row.rid)


class Store:
    """All records of one (tenant, stream), sorted by (updated, id)."""

    def __init__(self, spec, tenant, seed, start_ticks, count):
        self.spec = spec
        self.tenant = tenant
        self.start = start_ticks
        digest = hashlib.sha256(("%s:%s:%s" % (seed, tenant.name, spec.name))
                                .encode()).digest()
        self.salt = int.from_bytes(digest[:8], "big")
        rng = random.Random(digest)
        self.variants = spec.build_variants(rng, tenant)
        self.lock = threading.Lock()
        self.rows = []
        self.by_id = {}
        self.next_idx = 0
        self.lagged = False  # some row has a visible time in the future
        self._generate(count, start_ticks)

    # -- creation -----------------------------------------------------
    def _new_row(self, idx, created, updated, pc, pu):
        h = mix(self.salt + idx)
        rid = self.spec.make_id(self, idx, h, created)
        while rid in self.by_id:  # practically never; keeps ids unique
            h = mix(h)
            rid = self.spec.make_id(self, idx, h, created)
        return Row(rid, idx, h, created, updated, pc, pu, 0)

    def _generate(self, count, start):
        rows = []
        by_id = self.by_id
        for idx in range(count):
            h2 = mix(self.salt ^ (idx * 0x9E3779B97F4A7C15 & MASK64))
            pc = PRECISIONS[(h2 >> 2) & 3]
            pu = PRECISIONS[(h2 >> 4) & 3]
            created = truncate(start - TWO_DAYS + (h2 >> 8) % TWO_DAYS, pc)
            if (h2 >> 6) & 3 == 0:
                updated, pu = created, pc
            else:
                room = min(start - created, SIX_HOURS)
                updated = truncate(created + (h2 >> 20) % (room + 1), pu)
                if updated < created:
                    updated, pu = created, pc
            row = self._new_row(idx, created, updated, pc, pu)
            by_id[row.rid] = row
            rows.append(row)
        rows.sort(key=_sort_key)
        self.rows = rows
        self.next_idx = count

    def _stamp(self, now, digits, at_least):
        """Time for a control-made change: *now* truncated to *digits*,
        but later than *at_least* (then with 7 digits)."""
        t = truncate(now, digits)
        if t <= at_least:
            return at_least + 1, 7
        return t, digits

    def _visible(self, updated, lag_s):
        if not lag_s:
            return 0
        self.lagged = True
        return updated + int(lag_s * TICKS_PER_SECOND)

    def add(self, count, at=None, lag_s=0, tie=False):
        """Create *count* new records (created = last update = now).

        Unless *at* (ticks) is given, their last-update times are later
        than every record's, in creation order.  *at* creates "late"
        records stamped in the past; with *tie* they all get exactly *at*
        (7 digits).  *lag_s* hides each from the list APIs until that
        many seconds after its last-update time.
        """
        with self.lock:
            now = now_ticks() if at is None else at
            made = []
            for _ in range(count):
                idx = self.next_idx
                self.next_idx += 1
                floor = self.rows[-1].updated if self.rows and at is None \
                    else -1
                if tie and at is not None:
                    t, p = at, 7
                else:
                    t, p = self._stamp(now, PRECISIONS[mix(self.salt + idx)
                                                       & 3], floor)
                row = self._new_row(idx, t, t, p, p)
                row.visible = self._visible(t, lag_s)
                self.by_id[row.rid] = row
                bisect.insort(self.rows, row, key=_sort_key)
                made.append(row)
            return made

    def update(self, ids=None, count=None, at=None, lag_s=0, tie=False):
        """Bump last-update time to now and advance status/severity.

        *ids* selects records by id; *count* the n least recently
        updated.  Unless *at* (ticks) is given, the new times are later
        than every record's; with *tie* they are all exactly *at*.
        *lag_s* as in add().  Returns the new rows; unknown ids raise
        KeyError.
        """
        with self.lock:
            now = now_ticks() if at is None else at
            if ids is None:
                targets = list(self.rows[:max(0, int(count or 0))])
            else:
                targets = []
                for rid in ids:
                    key = self.spec.coerce_id(rid)
                    if key not in self.by_id:
                        raise KeyError(rid)
                    targets.append(self.by_id[key])
            made = []
            for old in targets:
                old = self.by_id[old.rid]  # ids may repeat
                floor = self.rows[-1].updated if at is None else old.created
                if tie and at is not None and at >= old.created:
                    t, pu = at, 7
                else:
                    t, pu = self._stamp(now, PRECISIONS[mix(old.h + old.version
                                                            + 1) & 3], floor)
                new = Row(old.rid, old.idx, old.h, old.created, t, old.pc, pu,
                          old.version + 1, self._visible(t, lag_s),
                          self._parts_after_update(old, t, pu))
                pos = bisect.bisect_left(self.rows, _sort_key(old),
                                         key=_sort_key)
                del self.rows[pos]
                bisect.insort(self.rows, new, key=_sort_key)
                self.by_id[new.rid] = new
                made.append(new)
            return made

    def _parts_after_update(self, old, t, digits):
        """Per-part last-update times after an update at *t*: one part
        (alert) changes per update, in turn; every (n+1)-th update changes
        the record itself only (a comment, an assignment)."""
        parts = getattr(self.spec, "parts", None)
        n = parts(self, old) if parts else 0
        if n == 0:
            return None
        sub = list(old.sub or ((old.updated, old.pu),) * n)
        k = old.version % (n + 1)
        if k < n:
            sub[k] = (t, digits)
        return tuple(sub)

    def variant(self, row):
        """The record shape (variant) of *row*."""
        return self.variants[(row.h >> 24) % len(self.variants)]

    # -- queries ------------------------------------------------------
    def select(self, lower=None, upper=None, now=None):
        """Rows whose last update lies in the bounds, sorted by (last
        update, id); with *now*, only those visible at *now*.

        *lower*/*upper* are ``(ticks, inclusive)`` or None.
        """
        with self.lock:
            rows = self.rows
            lo, hi = 0, len(rows)
            if lower is not None:
                ticks, inclusive = lower
                find = bisect.bisect_left if inclusive else bisect.bisect_right
                lo = find(rows, ticks, key=_upd_key)
            if upper is not None:
                ticks, inclusive = upper
                find = bisect.bisect_right if inclusive else bisect.bisect_left
                hi = find(rows, ticks, key=_upd_key)
            if lo >= hi:
                return []
            if now is not None and self.lagged:
                return [r for r in rows[lo:hi] if r.visible <= now]
            return rows[lo:hi]

    def __len__(self):
        return len(self.rows)

    def render(self, row, expand=False):
        """JSON text of *row* (``expand`` adds MDE alert evidence)."""
        variant = self.variant(row)
        values = self.spec.values(self, row, variant.meta)
        template = variant.expanded if expand else variant.plain
        return template.render(values)

    def as_dict(self, row):
        """The full record as a dict (control endpoint, tests)."""
        return json.loads(self.render(row, expand=True))


class Variant:
    """Precompiled templates of one record shape."""

    __slots__ = ("plain", "expanded", "meta")

    def __init__(self, plain, expanded=None, meta=None):
        self.plain = Template(plain)
        self.expanded = Template(expanded) if expanded is not None \
            else self.plain
        self.meta = meta or {}


def id_ticks(idx, h):
    """.NET-ticks part of MDE-style ids ("da<ticks>_<n>").

    Real ids carry the creation time; here the number grows with the
    record index from a fixed base, so ids depend only on --seed and stay
    the same from run to run.
    """
    return dotnet_ticks(ID_BASE_TICKS) + idx * 4_321_000_000 \
        + h % 1_000_000_000


def _times(row, h):
    """Derived activity times of a row: (first, last, evidence) as text."""
    p_first = PRECISIONS[(h >> 40) & 3]
    p_last = PRECISIONS[(h >> 42) & 3]
    first = row.created - TICKS_PER_SECOND \
        - (h >> 8) % (900 * TICKS_PER_SECOND)
    last = max(first, row.created - (h >> 20) % (30 * TICKS_PER_SECOND))
    ev = row.created + (h >> 30) % (2 * TICKS_PER_SECOND)
    return (iso(truncate(first, p_first), p_first),
            iso(truncate(last, p_last), p_last),
            iso(ev, 7))


def alert_parts(row, meta):
    """(id, created, last update) of each alert of an incident row, as
    text: the same alerts whichever API shows the incident."""
    h = mix(row.h)
    dn = id_ticks(row.idx, h)
    out = []
    for i, shape in enumerate(meta["alert_shapes"]):
        ah = mix(h + i)
        if shape == "da":
            aid = "da%d_%d" % (dn + i, (ah & 0xFFFFFFFF) - 0x80000000)
        elif shape == "fa":
            aid = "fa%s" % samples.guid_from(ah)[:-2]
        else:
            aid = "ca%s" % samples.guid_from(ah).upper()
        created = iso(row.created - (i + 1) * TICKS_PER_SECOND - ah % 9999, 7)
        ticks, digits = row.sub[i] if row.sub else (row.updated, row.pu)
        updated = iso(ticks, digits)
        out.append((aid, created, updated))
    return out


def _status(row, choices):
    return choices[(row.h + row.version) % len(choices)]


class IncidentSpec:
    """Defender XDR incidents (``GET /api/incidents``)."""

    name = "m365d-incidents"
    id_field = "incidentId"
    update_field = "lastUpdateTime"
    created_field = "createdTime"

    def build_variants(self, rng, tenant):
        return [samples.incident_variant(rng, tenant, Variant, slot)
                for _ in range(N_VARIANTS)]

    def make_id(self, store, idx, h, created):
        base = 10_000 + store.salt % 900_000
        return base + idx  # unique per tenant

    @staticmethod
    def coerce_id(rid):
        return int(rid)

    def values(self, store, row, meta):
        h = mix(row.h)
        status = _status(row, ("Active", "InProgress", "Resolved",
                               "Active"))
        resolved = status == "Resolved"
        sev = samples.SEVERITIES[((row.h >> 8) + row.version) % 4]
        created = iso(row.created, row.pc)
        updated = iso(row.updated, row.pu)
        first, last, ev = _times(row, h)
        vals = {
            "iid": str(row.rid),
            "iuri": q("https://security.microsoft.com/incidents/%d?tid=%s"
                      % (row.rid, store.tenant.tenant_id)),
            "created": q(created), "updated": q(updated),
            "assigned": q(samples.ANALYSTS[row.h % len(samples.ANALYSTS)])
            if status != "Active" else "null",
            "classification": q("TruePositive" if resolved else "Unknown"),
            "determination": q(samples.DETERMINATIONS[row.h % 5]
                               if resolved else "NotAvailable"),
            "status": q(status), "severity": q(sev),
            "a_status": q("Resolved" if resolved else
                          ("InProgress" if status == "InProgress" else "New")),
            "a_resolved": q(updated) if resolved else "null",
            "first": q(first), "last": q(last), "ev": q(ev),
        }
        for i, (aid, created, updated) in enumerate(alert_parts(row, meta)):
            vals["a%d_id" % i] = q(aid)
            vals["a%d_created" % i] = q(created)
            vals["a%d_updated" % i] = q(updated)
        return vals

    def parts(self, store, row):
        """Number of alerts of *row* (they change one at a time)."""
        return len(store.variant(row).meta["alert_shapes"])


class MdeAlertSpec:
    """Defender for Endpoint alerts (``GET /api/alerts``)."""

    name = "mde-alerts"
    id_field = "id"
    update_field = "lastUpdateTime"
    created_field = "alertCreationTime"

    def build_variants(self, rng, tenant):
        return [samples.mde_alert_variant(rng, tenant, Variant, slot)
                for _ in range(N_VARIANTS)]

    def make_id(self, store, idx, h, created):
        return "da%d_%d" % (id_ticks(idx, h),
                            (h & 0xFFFFFFFF) - 0x80000000)

    @staticmethod
    def coerce_id(rid):
        return str(rid)

    def values(self, store, row, meta):
        h = mix(row.h)
        status = _status(row, ("New", "InProgress", "Resolved"))
        resolved = status == "Resolved"
        sev = samples.SEVERITIES[((row.h >> 8) + row.version) % 4]
        first, last, ev = _times(row, h)
        updated = iso(row.updated, row.pu)
        inv = (row.h >> 12) % 5
        return {
            "id": q(row.rid),
            "incident": str(10_000 + (row.h >> 16) % 900_000),
            "inv": "null" if inv == 0 else str(1000 + (row.h >> 20) % 90_000),
            "invstate": q(samples.INVESTIGATION_STATES[inv]),
            "assigned": "null" if status == "New" else
            q(samples.ANALYSTS[row.h % len(samples.ANALYSTS)]),
            "severity": q(sev), "status": q(status),
            "classification": q("TruePositive") if resolved else "null",
            "determination": q(samples.DETERMINATIONS[row.h % 5])
            if resolved else "null",
            "created": q(iso(row.created, row.pc)), "updated": q(updated),
            "resolved": q(updated) if resolved else "null",
            "first": q(first), "last": q(last), "ev": q(ev),
        }


class GraphAlertSpec:
    """Microsoft Graph security alerts v2 (``/v1.0/security/alerts_v2``)."""

    name = "graph-alerts"
    id_field = "id"
    update_field = "lastUpdateDateTime"
    created_field = "createdDateTime"

    def build_variants(self, rng, tenant):
        # one variant in eight: an evolvable enum member (odata.EVOLVABLE)
        return [samples.graph_alert_variant(rng, tenant, Variant, slot,
                                            evolvable=i % 8 == 5)
                for i in range(N_VARIANTS)]

    def make_id(self, store, idx, h, created):
        variant = store.variants[(h >> 24) % len(store.variants)]
        prefix = variant.meta["id_prefix"]
        if prefix == "da":
            return "da%d_%d" % (id_ticks(idx, h),
                                (h & 0xFFFFFFFF) - 0x80000000)
        return prefix + samples.guid_from(h)

    @staticmethod
    def coerce_id(rid):
        return str(rid)

    def values(self, store, row, meta):
        h = mix(row.h)
        status = _status(row, ("new", "inProgress", "resolved"))
        resolved = status == "resolved"
        sev = samples.SEVERITIES[((row.h >> 8) + row.version) % 4].lower()
        first, last, ev = _times(row, h)
        updated = iso(row.updated, row.pu)
        incident = 10_000 + (row.h >> 16) % 900_000
        tid = store.tenant.tenant_id
        return {
            "id": q(row.rid),
            "incident": q(str(incident)),
            "alert_url": q("https://security.microsoft.com/alerts/%s?tid=%s"
                           % (row.rid, tid)),
            "incident_url": q("https://security.microsoft.com/incidents/%d"
                              "?tid=%s" % (incident, tid)),
            "assigned": "null" if status == "new" else
            q(samples.ANALYSTS[row.h % len(samples.ANALYSTS)]),
            "severity": q(sev), "status": q(status),
            "classification": q("truePositive" if resolved else "unknown"),
            "determination": q(samples.GRAPH_DETERMINATIONS[row.h % 5]
                               if resolved else "unknown"),
            "created": q(iso(row.created, row.pc)), "updated": q(updated),
            "resolved": q(updated) if resolved else "null",
            "first": q(first), "last": q(last), "ev": q(ev),
        }


SPECS = {spec.name: spec for spec in
         (IncidentSpec(), MdeAlertSpec(), GraphAlertSpec(),
          graph_incidents.GraphIncidentSpec())}


class RecordDB:
    """Stores of every (tenant, stream), generated on first use."""

    def __init__(self, tenants, seed, count, streams, start_ticks=None):
        self.tenants = tenants
        self.seed = seed
        self.count = count
        self.streams = set(streams)
        self.start = now_ticks() if start_ticks is None else start_ticks
        self._stores = {}
        self._lock = threading.Lock()

    def store(self, tenant, stream):
        """The store of *tenant* (a Tenant object) and *stream*."""
        key = (tenant.name, stream)
        st = self._stores.get(key)
        if st is None:
            base = self.store(tenant, VIEWS[stream]) if stream in VIEWS \
                else None
            with self._lock:
                st = self._stores.get(key)
                if st is None and base is not None:
                    st = graph_incidents.View(base, SPECS[stream])
                    self._stores[key] = st
                elif st is None:
                    views = {v for v, b in VIEWS.items() if b == stream}
                    count = self.count if self.streams & ({stream} | views) \
                        else 0
                    st = Store(SPECS[stream], tenant, self.seed, self.start,
                               count)
                    self._stores[key] = st
        return st

    def generate_all(self):
        """Build every store now (instead of on first request)."""
        for tenant in self.tenants:
            for stream in STREAMS:
                self.store(tenant, stream)

    def counts(self):
        """{tenant: {stream: n}} for the stores built so far."""
        out = {}
        for (name, stream), st in list(self._stores.items()):
            out.setdefault(name, {})[stream] = len(st)
        return out
