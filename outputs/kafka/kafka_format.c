/* Topic, key, headers and value of a Kafka message: pure functions, the test seam. */
#include "kafka_format.h"
#include "kafka_conf.h"

#include <stdio.h>
#include <string.h>

#include "dfw/cef.h"
#include "dfw/leef.h"

static const char *const placeholders[] = {"{tenant}", "{stream}", "{kind}"};

static const char *field(const struct dfw_event *ev, size_t idx)
{
    const char *v = idx == 0 ? ev->tenant : idx == 1 ? ev->stream : dfw_event_kind_name(ev->kind);
    return v != NULL ? v : "";
}

static int topic_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* The placeholder at p (index), or -1. */
static int placeholder_at(const char *p)
{
    for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
        if (strncmp(p, placeholders[i], strlen(placeholders[i])) == 0) {
            return (int)i;
        }
    }
    return -1;
}

dfw_err dfw_out_kafka_topic_check(const char *tmpl, char *why, size_t whylen)
{
    if (tmpl == NULL || tmpl[0] == '\0') {
        snprintf(why, whylen, "must not be empty");
        return DFW_ERR_CONFIG;
    }
    size_t literal = 0;
    for (const char *p = tmpl; *p;) {
        if (*p == '{') {
            int ph = placeholder_at(p);
            if (ph < 0) {
                snprintf(why, whylen,
                         "unknown placeholder at character %zu (use {tenant}, {stream}, {kind})",
                         (size_t)(p - tmpl) + 1);
                return DFW_ERR_CONFIG;
            }
            p += strlen(placeholders[ph]);
            continue;
        }
        if (!topic_char(*p)) {
            /* the byte as hex unless printable: the message goes to a terminal or a log */
            unsigned char c = (unsigned char)*p;
            char shown[8];
            snprintf(shown, sizeof(shown), c > 0x20 && c < 0x7f ? "'%c'" : "byte 0x%02x", c);
            snprintf(why, whylen, "%s is not allowed in a Kafka topic name (A-Z a-z 0-9 . _ -)",
                     shown);
            return DFW_ERR_CONFIG;
        }
        literal++;
        p++;
    }
    if (literal > DFW_KAFKA_TOPIC_MAX) {
        snprintf(why, whylen, "longer than %d characters", DFW_KAFKA_TOPIC_MAX);
        return DFW_ERR_CONFIG;
    }
    if (strcmp(tmpl, ".") == 0 || strcmp(tmpl, "..") == 0) {
        snprintf(why, whylen, "'.' and '..' are not topic names");
        return DFW_ERR_CONFIG;
    }
    return DFW_OK;
}

dfw_err dfw_out_kafka_topic(const char *tmpl, const struct dfw_event *ev, char *out, size_t outlen)
{
    size_t n = 0;
    size_t max = outlen - 1 < DFW_KAFKA_TOPIC_MAX ? outlen - 1 : DFW_KAFKA_TOPIC_MAX;
    for (const char *p = tmpl; *p;) {
        int ph = *p == '{' ? placeholder_at(p) : -1;
        const char *piece = ph >= 0 ? field(ev, (size_t)ph) : p;
        size_t len = ph >= 0 ? strlen(piece) : 1;
        for (size_t i = 0; i < len; i++) {
            if (n >= max || !topic_char(piece[i])) {
                out[0] = '\0';
                return DFW_ERR_INVALID;
            }
            out[n++] = piece[i];
        }
        p += ph >= 0 ? strlen(placeholders[ph]) : 1;
    }
    out[n] = '\0';
    return n > 0 ? DFW_OK : DFW_ERR_INVALID;
}

dfw_err
dfw_out_kafka_key(int mode, const struct dfw_event *ev, char *out, size_t outlen, size_t *len)
{
    int n = 0;
    if (mode == DFW_KAFKA_KEY_NONE) {
        *len = 0;
        return DFW_OK;
    }
    if (mode == DFW_KAFKA_KEY_TENANT_ID) {
        n = snprintf(out, outlen, "%s/%s", ev->tenant ? ev->tenant : "", ev->id ? ev->id : "");
    }
    else {
        n = snprintf(out, outlen, "%s", ev->id ? ev->id : "");
    }
    if (n < 0 || (size_t)n >= outlen) {
        *len = 0;
        return DFW_ERR_INVALID;
    }
    *len = (size_t)n;
    return DFW_OK;
}

void dfw_out_kafka_headers(const struct dfw_event *ev,
                           struct dfw_kafka_header h[DFW_KAFKA_NHEADERS])
{
    h[0].name = "tenant";
    h[0].value = ev->tenant ? ev->tenant : "";
    h[1].name = "stream";
    h[1].value = ev->stream ? ev->stream : "";
    h[2].name = "kind";
    h[2].value = dfw_event_kind_name(ev->kind);
    h[3].name = "last_update";
    h[3].value = ev->updated ? ev->updated : "";
}

dfw_err dfw_out_kafka_value(int format,
                            const struct dfw_event *ev,
                            struct dfw_buf *scratch,
                            const char **value,
                            size_t *len)
{
    if (format == DFW_KAFKA_FMT_CEF || format == DFW_KAFKA_FMT_LEEF) {
        dfw_buf_reset(scratch);
        /* always non-empty: "CEF:0|..." or "LEEF:2.0|..." */
        dfw_err err = format == DFW_KAFKA_FMT_CEF ? dfw_cef_format(ev, 0, scratch)
                                                  : dfw_leef_format(ev, 0, scratch);
        *value = err == DFW_OK ? scratch->data : NULL;
        *len = err == DFW_OK ? scratch->len : 0;
        return err;
    }
    *value = dfw_event_json(ev, len);
    return *value != NULL ? DFW_OK : DFW_ERR_NOMEM;
}

dfw_err dfw_out_kafka_format(const void *conf, const struct dfw_event *ev, struct dfw_buf *out)
{
    const struct dfw_out_kafka_conf *c = conf;
    struct dfw_buf scratch = DFW_BUF_INIT;
    const char *value;
    size_t len;
    dfw_err err =
        dfw_out_kafka_value(c != NULL ? c->format : DFW_KAFKA_FMT_JSON, ev, &scratch, &value, &len);
    if (err == DFW_OK) {
        err = dfw_buf_append(out, value, len);
    }
    dfw_buf_free(&scratch);
    return err;
}
