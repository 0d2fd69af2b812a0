"""How the emulated list APIs page: settings per (tenant, stream) and the
order, caps, churn and next links of one response.

What Microsoft documents (reference/defender-api.md §10, §2, §3, §5):

* next links are the same query with a larger ``$skip`` (MDE, Defender
  XDR) or opaque (Graph); nothing documents a snapshot, so the default
  here is **live** paging: every request, next links included, is run
  again over the data as it is at that moment;
* MDE returns no ``@odata.nextLink`` when ``$top`` is set
  (MicrosoftDocs/microsoft-365-docs #8489): a full page is the only sign
  that more rows exist;
* Defender XDR lists "most recent incidents at the top";
* Graph: ``$skip`` at most 500; alerts_v2 clamps ``$top`` above 1,000
  (not an error); incidents answer HTTP 400 above 50.

The emulator's choices (the harsher behaviours, each a knob):

* ``order``: ``asc`` (oldest first, ties by id: default where Microsoft
  is silent), ``desc`` (newest first: XDR's default), ``shuffle_ties``
  (by time, but equal times in a new random order on every request) or
  ``random`` (a new random order on every request);
* ``lag_s``: records created or updated through the control endpoints
  become visible this many seconds after their last-update time;
* ``churn``: after each list response, this many of the records just
  served are updated (they leave the window, later rows shift back);
* ``insert``: after each list response, this many new records are added;
* ``duplicates``: this many rows of each page are served twice;
* ``skip_max``: ``$skip`` above it is HTTP 400 (Graph: 500);
* ``next_link``: ``auto`` (the API's documented behaviour), ``never``
  (no next link, even when more rows match) or ``always``;
* ``mode``: ``live`` or ``snapshot`` (the result set frozen at the first
  page behind a ``$skiptoken``, like Graph's server-driven paging can be).
"""

import random
import threading
import urllib.parse

ORDERS = ("asc", "desc", "shuffle_ties", "random")
NEXT_LINKS = ("auto", "never", "always")
KEYS = ("mode", "order", "lag_s", "churn", "insert", "duplicates",
        "skip_max", "next_link")


class Settings:
    """Paging behaviour of one scope; None means "inherit"."""

    __slots__ = KEYS

    def __init__(self, **values):
        for key in KEYS:
            setattr(self, key, values.get(key))

    def describe(self):
        return {k: getattr(self, k) for k in KEYS
                if getattr(self, k) is not None}


def _check(key, value):
    if value is None:
        return None
    if key == "mode":
        if value not in ("live", "snapshot"):
            raise ValueError("mode: live|snapshot")
        return value
    if key == "order":
        if value not in ORDERS:
            raise ValueError("order: %s" % "|".join(ORDERS))
        return value
    if key == "next_link":
        if value not in NEXT_LINKS:
            raise ValueError("next_link: %s" % "|".join(NEXT_LINKS))
        return value
    if key == "lag_s":
        value = float(value)
        if value < 0:
            raise ValueError("lag_s must be >= 0")
        return value
    value = int(value)
    if value < 0:
        raise ValueError("%s must be >= 0" % key)
    return value


class Paging:
    """Defaults per API, then global, per-tenant and per-(tenant, stream)
    overrides set through ``POST /_emulator/paging``."""

    def __init__(self, mode="live", seed=1):
        self.lock = threading.Lock()
        self.base_mode = mode
        self.rng = random.Random(seed)
        self.reset()

    def reset(self):
        with self.lock:
            self.scopes = {}  # (tenant or None, stream or None) -> Settings

    def configure(self, body, known_tenants, known_streams):
        unknown = set(body) - set(KEYS) - {"tenant", "stream"}
        if unknown:
            raise ValueError("unknown paging keys: %s" % sorted(unknown))
        tenant, stream = body.get("tenant"), body.get("stream")
        if tenant is not None and tenant not in known_tenants:
            raise KeyError(tenant)
        if stream is not None and stream not in known_streams:
            raise ValueError("unknown stream %r" % stream)
        values = {k: _check(k, body[k]) for k in KEYS if k in body}
        with self.lock:
            scope = self.scopes.setdefault((tenant, stream), Settings())
            for key, value in values.items():
                setattr(scope, key, value)
        return self.describe()

    def describe(self):
        with self.lock:
            return [dict(tenant=t, stream=s, **v.describe())
                    for (t, s), v in self.scopes.items()]

    def effective(self, tenant, api):
        """The settings for one request: most specific scope wins."""
        out = Settings(mode=self.base_mode, order=api.get("order", "asc"),
                       lag_s=0.0, churn=0, insert=0, duplicates=0,
                       skip_max=api.get("skip_max"), next_link="auto")
        stream = api["name"]
        with self.lock:
            for key in ((None, None), (None, stream), (tenant, None),
                        (tenant, stream)):
                scope = self.scopes.get(key)
                if scope is None:
                    continue
                for k in KEYS:
                    value = getattr(scope, k)
                    if value is not None:
                        setattr(out, k, value)
        return out

    def shuffle(self, rows, order):
        """*rows* (sorted by (last update, id)) in the serving order."""
        if order == "asc":
            return rows
        if order == "desc":
            return rows[::-1]
        rows = list(rows)
        with self.lock:
            if order == "random":
                self.rng.shuffle(rows)
                return rows
            start = 0
            while start < len(rows):  # shuffle_ties: each run of equal times
                end = start + 1
                while end < len(rows) and rows[end].updated == \
                        rows[start].updated:
                    end += 1
                if end - start > 1:
                    run = rows[start:end]
                    self.rng.shuffle(run)
                    rows[start:end] = run
                start = end
        return rows

    def pick(self, rows, count):
        with self.lock:
            return self.rng.sample(rows, min(count, len(rows)))

    def duplicate(self, page, count):
        """The page with *count* of its rows served a second time."""
        if not count or not page:
            return page
        with self.lock:
            copies = [self.rng.choice(page) for _ in range(count)]
            out = list(page)
            for row in copies:
                out.insert(self.rng.randrange(len(out) + 1), row)
        return out


def next_link(base_url, path, params, skip):
    """The same query with ``$skip`` = *skip* (Microsoft's next links)."""
    query = dict(params)
    query.pop("$skiptoken", None)
    query["$skip"] = str(skip)
    return "%s%s?%s" % (base_url, path, urllib.parse.urlencode(
        query, quote_via=urllib.parse.quote, safe="$,'():"))
