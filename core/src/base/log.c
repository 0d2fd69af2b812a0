#include "dfw/log.h"
#include "dfw/timeutil.h"
#include "dfw/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum dfw_log_level max_level = DFW_LOG_INFO;
static dfw_log_sink_fn sink;
static void *sink_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void dfw_log_set_level(enum dfw_log_level level)
{
    max_level = level;
}

enum dfw_log_level dfw_log_get_level(void)
{
    return max_level;
}

void dfw_log_set_sink(dfw_log_sink_fn fn, void *ctx)
{
    sink = fn;
    sink_ctx = ctx;
}

int dfw_log_level_parse(const char *name, enum dfw_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum dfw_log_level)i;
            return 0;
        }
    }
    return -1;
}

static const char hex[] = "0123456789abcdef";

/* The escape of the character at s (k bytes, from dfw_utf8_char_len; 0 = an invalid byte) into
 * esc; returns its length, or 0 when the character is written as it is. */
static size_t escape_of(const char *s, size_t k, char esc[5])
{
    unsigned char c = (unsigned char)s[0];
    if (k == 0 || c < 0x20 || c == 0x7f) {
        const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (k != 0 && named != NULL) {
            memcpy(esc, named, 2);
            return 2;
        }
        esc[0] = '\\';
        esc[1] = 'x';
        esc[2] = hex[c >> 4];
        esc[3] = hex[c & 15];
        return 4;
    }
    if (c == '"' || c == '\\') {
        esc[0] = '\\';
        esc[1] = (char)c;
        return 2;
    }
    return 0;
}

/* Append the escape of value to out[*n..] (room: outlen - 1 - reserve bytes); 1 when cut. */
static int escape_into(const char *value, char *out, size_t outlen, size_t *n, size_t reserve)
{
    size_t len = strlen(value), i = 0;
    while (i < len) {
        size_t k = dfw_utf8_char_len(value + i, len - i);
        char esc[5];
        size_t e = escape_of(value + i, k, esc);
        size_t need = e ? e : k;
        if (*n + need + reserve + 1 > outlen) {
            return 1;
        }
        memcpy(out + *n, e ? esc : value + i, need);
        *n += need;
        i += k ? k : 1;
    }
    return 0;
}

static void finish(char *out, size_t n, int cut, const char *tail)
{
    if (cut) {
        /* escape_into left room for "..." plus the tail */
        memcpy(out + n, "...", 3);
        n += 3;
    }
    size_t t = strlen(tail);
    memcpy(out + n, tail, t);
    out[n + t] = '\0';
}

const char *dfw_log_esc(const char *value, char *out, size_t outlen)
{
    if (out == NULL || outlen < 4) {
        return "";
    }
    size_t n = 0;
    int cut = escape_into(value ? value : "", out, outlen, &n, 3);
    finish(out, n, cut, "");
    return out;
}

static int bare_ok(const char *v)
{
    if (*v == '\0') {
        return 0;
    }
    for (; *v != '\0'; v++) {
        unsigned char c = (unsigned char)*v;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("._-:/@+", c) != NULL)) {
            return 0;
        }
    }
    return 1;
}

const char *dfw_log_val(const char *value, char *out, size_t outlen)
{
    if (out == NULL || outlen < 6) {
        return "\"\"";
    }
    if (value == NULL) {
        value = "-";
    }
    if (bare_ok(value) && strlen(value) < outlen) {
        memcpy(out, value, strlen(value) + 1);
        return out;
    }
    size_t n = 1;
    out[0] = '"';
    int cut = escape_into(value, out, outlen, &n, 4); /* "..." and the closing quote */
    finish(out, n, cut, "\"");
    return out;
}

void dfw_log(enum dfw_log_level level, const char *component, const char *fmt, ...)
{
    if (level > max_level) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0) {
        return;
    }
    char line[2048 + 64];
    char ts[DFW_TIME_LEN];
    dfw_time_format(dfw_now_ms(), ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "%s level=%s component=%s ", ts, level_names[level],
                     component);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return;
    }
    /* the last guard: whatever a caller left unescaped, control characters and invalid UTF-8
     * never reach the line raw, so one call is one line */
    size_t len = (size_t)n, mlen = strlen(msg), i = 0;
    while (i < mlen) {
        size_t k = dfw_utf8_char_len(msg + i, mlen - i);
        unsigned char c = (unsigned char)msg[i];
        char esc[5];
        size_t e = (k == 0 || c < 0x20 || c == 0x7f) ? escape_of(msg + i, k, esc) : 0;
        size_t need = e ? e : k;
        if (len + need + 1 >= sizeof(line)) {
            break;
        }
        memcpy(line + len, e ? esc : msg + i, need);
        len += need;
        i += k ? k : 1;
    }
    if (sink != NULL) {
        line[len] = '\0';
        sink(sink_ctx, level, component, line + n);
        return;
    }
    line[len++] = '\n'; /* the loop above kept room for it */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
