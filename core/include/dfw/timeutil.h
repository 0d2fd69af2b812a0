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
 * millisecond are truncated. Returns DFW_OK or DFW_ERR_INVALID. Source: defender-api.md §3.4. */
dfw_err dfw_time_parse(const char *s, int64_t *out_ms);

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least DFW_TIME_LEN bytes). */
#define DFW_TIME_LEN 25
void dfw_time_format(int64_t ms, char *out, size_t outlen);

/* Parse a duration "250ms", "30s", "5m", "2h", "1d" (a bare number is seconds) to ms.
 * Returns DFW_OK or DFW_ERR_INVALID. */
dfw_err dfw_duration_parse(const char *s, int64_t *out_ms);

#endif
