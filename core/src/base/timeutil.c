#include "dfw/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t dfw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t dfw_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

dfw_err dfw_time_parse(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (s == NULL || strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) ||
        s[7] != '-' || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec)) {
        return DFW_ERR_INVALID;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return DFW_ERR_INVALID;
    }
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n < 3) {
                ms = ms * 10 + (*p - '0');
            }
            n++;
            p++;
        }
        if (n == 0 || n > 7) {
            return DFW_ERR_INVALID;
        }
        for (int i = n; i < 3; i++) {
            ms *= 10;
        }
    }
    if (!(strcmp(p, "Z") == 0 || strcmp(p, "z") == 0 || strcmp(p, "+00:00") == 0)) {
        return DFW_ERR_INVALID;
    }
    int64_t days = days_from_civil(y, mo, d);
    *out_ms = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
    return DFW_OK;
}

void dfw_time_format(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

dfw_err dfw_duration_parse(const char *s, int64_t *out_ms)
{
    if (s == NULL || !isdigit((unsigned char)*s)) {
        return DFW_ERR_INVALID;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    int64_t mult;
    if (*end == '\0' || strcmp(end, "s") == 0) {
        mult = 1000;
    }
    else if (strcmp(end, "ms") == 0) {
        mult = 1;
    }
    else if (strcmp(end, "m") == 0) {
        mult = 60000;
    }
    else if (strcmp(end, "h") == 0) {
        mult = 3600000;
    }
    else if (strcmp(end, "d") == 0) {
        mult = 86400000;
    }
    else {
        return DFW_ERR_INVALID;
    }
    if (v < 0 || v > INT64_MAX / mult) {
        return DFW_ERR_INVALID;
    }
    *out_ms = (int64_t)v * mult;
    return DFW_OK;
}
