/* HEC event objects (docs/splunk-hec.md: the field mapping) and gzip request bodies. */
#include "splunk_hec_format.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#define ZLIB_CONST /* next_in is const: the body is never written to */
#include <zlib.h>

void dfw_out_splunk_hec_fmt_init(struct dfw_out_splunk_hec_fmt *f,
                                 const struct dfw_out_splunk_hec_conf *c)
{
    memset(f, 0, sizeof(*f));
    f->conf = c;
    if (c->host != NULL) {
        snprintf(f->host, sizeof(f->host), "%s", c->host);
        return;
    }
    if (gethostname(f->host, sizeof(f->host)) != 0 || f->host[0] == '\0') {
        snprintf(f->host, sizeof(f->host), "localhost");
    }
    f->host[sizeof(f->host) - 1] = '\0';
}

void dfw_out_splunk_hec_time(int64_t ms, char *out, size_t outlen)
{
    /* floor division so times before 1970 still read as seconds + a positive fraction */
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        secs -= 1;
        frac += 1000;
    }
    snprintf(out, outlen, "%lld.%03d", (long long)secs, (int)frac);
}

dfw_err dfw_out_splunk_hec_source(const char *tmpl, const struct dfw_event *ev, struct dfw_buf *out)
{
    const struct {
        const char *name;
        const char *value;
    } vars[] = {
        {"{tenant}", ev->tenant},
        {"{tenant_id}", ev->tenant_id},
        {"{stream}", ev->stream},
    };
    const char *p = tmpl;
    while (*p) {
        const char *brace = strchr(p, '{');
        size_t lit = brace ? (size_t)(brace - p) : strlen(p);
        if (lit > 0 && dfw_buf_append(out, p, lit) != DFW_OK) {
            return DFW_ERR_NOMEM;
        }
        p += lit;
        if (brace == NULL) {
            break;
        }
        size_t i = 0;
        while (i < sizeof(vars) / sizeof(vars[0]) &&
               strncmp(p, vars[i].name, strlen(vars[i].name)) != 0) {
            i++;
        }
        if (i == sizeof(vars) / sizeof(vars[0])) {
            /* not a placeholder: keep the brace */
            if (dfw_buf_append(out, "{", 1) != DFW_OK) {
                return DFW_ERR_NOMEM;
            }
            p++;
            continue;
        }
        if (dfw_buf_puts(out, vars[i].value ? vars[i].value : "") != DFW_OK) {
            return DFW_ERR_NOMEM;
        }
        p += strlen(vars[i].name);
    }
    if (out->data == NULL) {
        return dfw_buf_append(out, "", 0);
    }
    return DFW_OK;
}

static int add_string(struct json_object *o, const char *key, const char *value)
{
    struct json_object *v = json_object_new_string(value ? value : "");
    if (v == NULL) {
        return -1;
    }
    return json_object_object_add(o, key, v);
}

dfw_err dfw_out_splunk_hec_format(const struct dfw_out_splunk_hec_fmt *f,
                                  const struct dfw_event *ev,
                                  struct dfw_buf *out)
{
    const struct dfw_out_splunk_hec_conf *c = f->conf;
    char when[32];
    dfw_out_splunk_hec_time(ev->updated_ms, when, sizeof(when));
    struct dfw_buf source = DFW_BUF_INIT;
    if (dfw_out_splunk_hec_source(c->source ? c->source : "defender-forwarder", ev, &source) !=
        DFW_OK) {
        dfw_buf_free(&source);
        return DFW_ERR_NOMEM;
    }
    /* json-c escapes every string: record text, names and ids come from outside */
    struct json_object *o = json_object_new_object();
    struct json_object *fields = json_object_new_object();
    /* the literal keeps the exact milliseconds (a double would print 0.12299999) */
    struct json_object *t = json_object_new_double_s((double)ev->updated_ms / 1000.0, when);
    int bad = o == NULL || fields == NULL || t == NULL;
    if (!bad) {
        bad |= json_object_object_add(o, "time", t) != 0;
        t = NULL; /* owned by o */
        bad |= add_string(o, "host", f->host) != 0;
        bad |= add_string(o, "source", source.data) != 0;
        bad |= add_string(o, "sourcetype", dfw_out_splunk_hec_sourcetype(c, ev->stream)) != 0;
        if (c->index != NULL) {
            bad |= add_string(o, "index", c->index) != 0;
        }
        bad |= json_object_object_add(o, "event", json_object_get(ev->record)) != 0;
        bad |= add_string(fields, "tenant", ev->tenant) != 0;
        bad |= add_string(fields, "tenant_id", ev->tenant_id) != 0;
        bad |= add_string(fields, "stream", ev->stream) != 0;
        bad |= add_string(fields, "kind", dfw_event_kind_name(ev->kind)) != 0;
        bad |= json_object_object_add(o, "fields", fields) != 0;
        fields = NULL; /* owned by o, or freed with it when the add failed */
    }
    dfw_err err = bad ? DFW_ERR_NOMEM : DFW_OK;
    if (err == DFW_OK) {
        size_t len;
        const char *json = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        err = json ? dfw_buf_append(out, json, len) : DFW_ERR_NOMEM;
    }
    json_object_put(t);
    json_object_put(fields);
    json_object_put(o);
    dfw_buf_free(&source);
    return err;
}

dfw_err dfw_out_splunk_hec_gzip(const void *data, size_t len, int level, struct dfw_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return DFW_ERR_INVALID;
    }
    size_t start = out->len;
    unsigned char chunk[16384];
    const unsigned char *in = data;
    size_t left = len;
    dfw_err err = DFW_OK;
    int rc = Z_OK;
    while (err == DFW_OK && rc != Z_STREAM_END) {
        if (zs.avail_in == 0 && left > 0) {
            /* avail_in is 32 bits: feed large bodies in slices */
            uInt n = left > (1u << 30) ? (1u << 30) : (uInt)left;
            zs.next_in = in;
            zs.avail_in = n;
            in += n;
            left -= n;
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        rc = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            err = DFW_ERR_INVALID;
            break;
        }
        err = dfw_buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
    }
    deflateEnd(&zs);
    if (err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return err;
}
