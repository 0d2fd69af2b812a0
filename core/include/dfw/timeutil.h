/* Time stamps: milliseconds since the Unix epoch, UTC, as int64_t everywhere. */
#ifndef DFW_TIMEUTIL_H
#define DFW_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

/* Wall-clock now, ms since epoch UTC. */
int64_t dfw_now_ms(void);

/* Monotonic clock in ms (for timeouts and rate limits, never stored). */
int64_t dfw_mono_ms(void);

/* Parse an ISO-8601 UTC timestamp as the Defender and Graph APIs send it: "YYYY-MM-DDTHH:MM:SS"
 * with 0 to 7 fractional-second digits and a "Z" (or "+00:00") suffix. Fractions below a
 * millisecond are truncated. Only real instants are accepted: month 01-12, a day that exists in
 * that month and year (proleptic Gregorian: 2024-02-29 yes, 2023-02-29 and 2024-04-31 no), hour
 * 00-23, minute and second 00-59 (no leap second: .NET, which the APIs are written in, has none).
 * Returns DFW_OK, or DFW_ERR_INVALID with *out_ms unchanged. Sources: defender-api.md §3.4,
 * RFC 3339 §5.6-5.7. Thread-safe. */
dfw_err dfw_time_parse(const char *s, int64_t *out_ms);

/* Bytes dfw_time_format needs for any int64_t: "-292275055-05-16T16:47:04.192Z" + NUL. */
#define DFW_TIME_LEN 32

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (outlen >= DFW_TIME_LEN never truncates).
 * Years 0000-9999 have four digits (what dfw_time_parse reads back); any other year is written
 * in the ISO 8601 expanded form with a sign ("+10000-01-01T00:00:00.000Z", "-0001-..."), so
 * every int64_t has exactly one text. Thread-safe. */
void dfw_time_format(int64_t ms, char *out, size_t outlen);

/* Longest duration accepted: 100 years in ms. Bounding every configured duration keeps
 * "now + duration" far from int64_t overflow. */
#define DFW_DURATION_MAX_MS (100LL * 366 * 86400000)

/* Parse a duration "250ms", "30s", "5m", "2h", "1d" (a bare number is seconds) to ms: decimal
 * digits then the unit, nothing else. Returns DFW_OK, or DFW_ERR_INVALID (malformed, or longer
 * than DFW_DURATION_MAX_MS) with *out_ms unchanged. Thread-safe. */
dfw_err dfw_duration_parse(const char *s, int64_t *out_ms);

#endif
