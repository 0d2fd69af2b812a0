"""Time helpers: 100 ns ticks, ISO-8601 rendering and parsing.

Record times are kept as integers in 100 ns units since the Unix epoch
("ticks", the resolution of .NET DateTimeOffset, i.e. 7 fractional
digits).  A time rendered with *p* fractional digits is first truncated to
that precision, so the text a client sees compares exactly like the value
the emulator filters and sorts on.
"""

import calendar
import re
import time

TICKS_PER_SECOND = 10_000_000
TICKS_PER_MS = 10_000
DOTNET_EPOCH_TICKS = 621_355_968_000_000_000  # 0001-01-01 -> 1970-01-01
PRECISIONS = (0, 2, 3, 7)  # fractional digits used by the emulator

_DAY_CACHE = {}
_ISO_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)"
    r"(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d\d:?\d\d)?$")


def now_ticks():
    """Current wall-clock time in ticks."""
    return time.time_ns() // 100


def truncate(ticks, digits):
    """Truncate *ticks* to *digits* fractional digits (0..7)."""
    quantum = 10 ** (7 - digits)
    return ticks - ticks % quantum


def _day_prefix(day):
    prefix = _DAY_CACHE.get(day)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
        if len(_DAY_CACHE) > 4096:
            _DAY_CACHE.clear()
        _DAY_CACHE[day] = prefix
    return prefix


def iso(ticks, digits=7):
    """Render ticks as ``YYYY-MM-DDTHH:MM:SS[.f{digits}]Z`` (UTC)."""
    sec, frac = divmod(ticks, TICKS_PER_SECOND)
    day, rem = divmod(sec, 86400)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    head = "%s%02d:%02d:%02d" % (_day_prefix(day), hour, minute, second)
    if digits == 0:
        return head + "Z"
    if digits == 7:
        return "%s.%07dZ" % (head, frac)
    return "%s.%0*dZ" % (head, digits, frac // 10 ** (7 - digits))


def parse_iso(text):
    """Parse an ISO-8601 date/time into ticks; raise ValueError.

    Accepts 0-9+ fractional digits (beyond 7 are truncated), ``Z``,
    ``+HH:MM``/``-HH:MM`` offsets or no zone (UTC), and date-only values.
    """
    m = _ISO_RE.match(text.strip())
    if not m:
        raise ValueError("not an ISO-8601 date/time: %r" % text)
    year, mon, mday, hour, minute, sec, frac, zone = m.groups()
    secs = calendar.timegm((int(year), int(mon), int(mday), int(hour or 0),
                            int(minute or 0), int(sec or 0), 0, 0, 0))
    if not (1 <= int(mon) <= 12 and 1 <= int(mday) <= 31
            and int(hour or 0) < 24 and int(minute or 0) < 60
            and int(sec or 0) < 61):
        raise ValueError("date/time out of range: %r" % text)
    ticks = secs * TICKS_PER_SECOND
    if frac:
        ticks += int((frac + "0000000")[:7])
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        ticks -= sign * offset * TICKS_PER_SECOND
    return ticks


def dotnet_ticks(ticks):
    """Unix ticks -> .NET DateTime ticks (used in MDE alert ids)."""
    return ticks + DOTNET_EPOCH_TICKS
