/* Syslog headers and framing. RFC 5424 §6, RFC 3164 §4.1, RFC 6587 §3.4. */
#include "syslog_frame.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dfw/cef.h"
#include "dfw/timeutil.h"
#include "syslog_conf.h"

/* Append a header field: PRINTUSASCII only, at most max bytes, "-" when empty. */
static dfw_err put_field(struct dfw_buf *out, const char *s, size_t max)
{
    char tmp[256];
    size_t n = 0;
    for (; s != NULL && s[n] != '\0' && n < max && n < sizeof(tmp); n++) {
        unsigned char c = (unsigned char)s[n];
        tmp[n] = (c < 33 || c > 126) ? '_' : (char)c;
    }
    if (n == 0) {
        return dfw_buf_append(out, "-", 1);
    }
    return dfw_buf_append(out, tmp, n);
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* One header field, then the separator that follows it. */
static dfw_err field_then(struct dfw_buf *out, const char *value, size_t max, const char *sep)
{
    dfw_err err = put_field(out, value, max);
    return err == DFW_OK ? dfw_buf_puts(out, sep) : err;
}

static dfw_err header_5424(const struct dfw_syslog_header *h, int pri, struct dfw_buf *out)
{
    char ts[DFW_TIME_LEN];
    dfw_time_format(h->time_ms, ts, sizeof(ts));
    /* FULL-DATE has a 4-digit year (RFC 5424 §6.2.3): else the NILVALUE */
    dfw_err err = dfw_buf_printf(out, "<%d>1 %s ", pri, ts[0] == '+' || ts[0] == '-' ? "-" : ts);
    if (err == DFW_OK) {
        err = field_then(out, h->hostname, 255, " ");
    }
    if (err == DFW_OK) {
        err = field_then(out, h->app_name, 48, " ");
    }
    if (err == DFW_OK) {
        err = field_then(out, h->procid, 128, " ");
    }
    if (err == DFW_OK) {
        err = field_then(out, h->msgid, 32, " - "); /* no STRUCTURED-DATA */
    }
    return err;
}

static dfw_err header_3164(const struct dfw_syslog_header *h, int pri, struct dfw_buf *out)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t ms = h->time_ms;
    /* floor division that cannot overflow (ms - 999 does for INT64_MIN) */
    time_t secs = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
        tm.tm_mday = 1; /* a time gmtime cannot represent: Jan  1 00:00:00 */
    }
    dfw_err err = dfw_buf_printf(out, "<%d>%s %2d %02d:%02d:%02d ", pri, months[tm.tm_mon % 12],
                                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (err == DFW_OK) {
        err = field_then(out, h->hostname, 255, " ");
    }
    if (err == DFW_OK) {
        err = field_then(out, h->app_name, 48, ": ");
    }
    return err;
}

dfw_err dfw_out_syslog_header(const struct dfw_syslog_header *h, struct dfw_buf *out)
{
    int pri = clamp(h->facility, 0, 23) * 8 + clamp(h->severity, 0, 7);
    size_t start = out->len;
    dfw_err err =
        h->protocol == DFW_SYSLOG_RFC3164 ? header_3164(h, pri, out) : header_5424(h, pri, out);
    if (err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return err;
}

dfw_err dfw_out_syslog_frame(int framing, const char *msg, size_t len, struct dfw_buf *out)
{
    size_t start = out->len;
    dfw_err err;
    if (framing == DFW_SYSLOG_OCTET_COUNTING) {
        err = dfw_buf_printf(out, "%zu ", len);
        if (err == DFW_OK) {
            err = dfw_buf_append(out, msg, len);
        }
    }
    else {
        err = dfw_buf_append(out, msg, len);
        if (err == DFW_OK) {
            err = dfw_buf_append(out, "\n", 1);
        }
    }
    if (err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return err;
}

int dfw_out_syslog_severity(const char *api_severity)
{
    /* indexed by the CEF severity: 8 High -> 2, 5 Medium -> 3, 3 Low -> 4, 1 Informational -> 6 */
    static const int map[11] = {5, 6, 5, 4, 5, 3, 5, 5, 2, 5, 5};
    return map[dfw_cef_severity(api_severity)];
}
