/* Time stamps, durations, Retry-After: dfw_time_parse / dfw_time_format, dfw_duration_parse,
 * dfw_http_retry_after_ms, dfw_http_delay_seconds_ms.
 * Invariants: an accepted time names a real instant and formats back to the same calendar fields
 * (no normalised impossible dates) and the same ms; any int64 formats without truncation and,
 * in years 0000-9999, parses back; an accepted duration is exactly digits x unit and at most
 * DFW_DURATION_MAX_MS; a delay is -1 or within [0, DFW_HTTP_RETRY_AFTER_MAX_MS]. */
#include "fuzz.h"

#include <ctype.h>

#include "dfw/http.h"
#include "dfw/timeutil.h"

static void check_time(const char *s)
{
    int64_t ms = 0x5a5a5a5a;
    if (dfw_time_parse(s, &ms) != DFW_OK) {
        FUZZ_CHECK(ms == 0x5a5a5a5a, "output written on failure");
        return;
    }
    char out[DFW_TIME_LEN];
    dfw_time_format(ms, out, sizeof(out));
    /* the same year, month, day, hour, minute, second: nothing was normalised */
    FUZZ_CHECK(strncmp(out, s, 10) == 0 && strncmp(out + 11, s + 11, 8) == 0,
               "'%s' formats back as '%s'", s, out);
    int64_t again;
    FUZZ_CHECK(dfw_time_parse(out, &again) == DFW_OK && again == ms, "'%s' does not round-trip",
               out);
}

static void check_format(int64_t ms)
{
    char out[DFW_TIME_LEN];
    dfw_time_format(ms, out, sizeof(out));
    size_t n = strlen(out);
    FUZZ_CHECK(n + 1 < sizeof(out) && n >= 24 && out[n - 1] == 'Z', "%lld -> '%s'", (long long)ms,
               out);
    /* 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z */
    if (ms >= -62167219200000LL && ms <= 253402300799999LL) {
        int64_t back;
        FUZZ_CHECK(n == 24 && dfw_time_parse(out, &back) == DFW_OK && back == ms,
                   "%lld -> '%s' does not parse back", (long long)ms, out);
    }
    else {
        FUZZ_CHECK(out[0] == '+' || out[0] == '-', "%lld -> '%s': no sign", (long long)ms, out);
    }
}

static void check_duration(const char *s)
{
    int64_t ms = -7;
    if (dfw_duration_parse(s, &ms) != DFW_OK) {
        FUZZ_CHECK(ms == -7, "output written on failure");
        return;
    }
    FUZZ_CHECK(ms >= 0 && ms <= DFW_DURATION_MAX_MS, "'%s' -> %lld", s, (long long)ms);
    /* recompute: digits, then exactly one unit */
    uint64_t v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        v = v > UINT64_MAX / 20 ? UINT64_MAX / 20 : v * 10 + (uint64_t)(*p - '0');
    }
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    int found = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            FUZZ_CHECK(v <= UINT64_MAX / (uint64_t)units[i].mult &&
                           v * (uint64_t)units[i].mult == (uint64_t)ms,
                       "'%s' -> %lld", s, (long long)ms);
            found = 1;
        }
    }
    FUZZ_CHECK(found, "'%s' accepted with unit '%s'", s, p);
}

static void check_delay(const char *s, size_t len)
{
    int64_t d = dfw_http_delay_seconds_ms(s, NULL);
    FUZZ_CHECK(d == -1 || (d >= 0 && d <= DFW_HTTP_RETRY_AFTER_MAX_MS), "delay %lld", (long long)d);
    char line[160];
    int n = snprintf(line, sizeof(line), "Retry-After: %.*s\r\n", (int)(len > 140 ? 140 : len), s);
    if (n > 0) {
        int64_t r = dfw_http_retry_after_ms(line, (size_t)n);
        FUZZ_CHECK(r == -1 || (r >= 0 && r <= DFW_HTTP_RETRY_AFTER_MAX_MS), "retry-after %lld",
                   (long long)r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    check_time(s);
    check_duration(s);
    check_delay(s, size);
    if (size >= 8) {
        uint64_t u;
        memcpy(&u, data, 8);
        check_format((int64_t)u);
        /* times near the ends of the 4-digit range */
        check_format((int64_t)(u % 253402300800000ULL));
        check_format(-(int64_t)(u % 62167219200000ULL));
    }
    free(s);
    return 0;
}
