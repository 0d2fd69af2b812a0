#include "dfw/timeutil.h"

#include <ctype.h>
#include <errno.h>
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

/* The date of a day count since 1970-01-01 (the inverse of days_from_civil). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
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
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59) {
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
    /* floor division: the time of day is never negative, also before 1970 */
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        days -= 1;
        rem += 86400000;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    if (y >= 0 && y <= 9999 && outlen > 24) {
        /* the usual case without snprintf's parsing of its format (once per message and time) */
        const int v[] = {(int)(y / 100), (int)(y % 100), m, d, h, mi, s};
        const char sep[] = {0, 0, '-', '-', 'T', ':', ':'};
        char *p = out;
        for (int i = 0; i < 7; i++) {
            if (sep[i] != 0) {
                *p++ = sep[i];
            }
            *p++ = (char)('0' + v[i] / 10);
            *p++ = (char)('0' + v[i] % 10);
        }
        p[0] = '.';
        p[1] = (char)('0' + frac / 100);
        p[2] = (char)('0' + frac / 10 % 10);
        p[3] = (char)('0' + frac % 10);
        p[4] = 'Z';
        p[5] = '\0';
        return;
    }
    snprintf(out, outlen,
             y >= 0 && y <= 9999 ? "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ"
                                 : "%+05lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (long long)y, m, d, h, mi, s, frac);
}

dfw_err dfw_duration_parse(const char *s, int64_t *out_ms)
{
    if (s == NULL || !isdigit((unsigned char)*s)) {
        return DFW_ERR_INVALID;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE) {
        return DFW_ERR_INVALID;
    }
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
    if (v < 0 || v > DFW_DURATION_MAX_MS / mult) {
        return DFW_ERR_INVALID;
    }
    *out_ms = (int64_t)v * mult;
    return DFW_OK;
}
