/* HEC event objects (docs/splunk-hec.md: the field mapping) and gzip request bodies. */
#include "splunk_hec_format.h"
#include "dfw/timeutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libdeflate.h>

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

void dfw_out_splunk_hec_fmt_free(struct dfw_out_splunk_hec_fmt *f)
{
    dfw_buf_free(&f->source);
    dfw_buf_free(&f->key);
    dfw_buf_free(&f->head_key);
    dfw_buf_free(&f->head);
    dfw_buf_free(&f->fields_key);
    dfw_buf_free(&f->fields);
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

/* One part of an event: the record (or one of its alerts) with its own sourcetype, time and
 * kind; incident_id adds that indexed field (the alerts split out of an incident). */
struct part {
    struct json_object *record; /* borrowed; NULL: the event's record (dfw_event_json) */
    const char *sourcetype;
    int64_t time_ms;
    enum dfw_event_kind kind;
    const char *incident_id;
};

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static dfw_err append_json(struct dfw_buf *out, struct json_object *o)
{
    size_t len;
    const char *json = json_object_to_json_string_length(o, FLAGS, &len);
    return json != NULL ? dfw_buf_append(out, json, len) : DFW_ERR_NOMEM;
}

/* f->key = the n strings, each after a byte saying whether it is there ('1') or NULL ('0'), NUL
 * after each. */
static dfw_err make_key(struct dfw_out_splunk_hec_fmt *f, const char *const *v, size_t n)
{
    dfw_buf_reset(&f->key);
    dfw_err err = DFW_OK;
    for (size_t i = 0; err == DFW_OK && i < n; i++) {
        err = dfw_buf_append(&f->key, v[i] ? "1" : "0", 1);
        if (err == DFW_OK && v[i] != NULL) {
            err = dfw_buf_puts(&f->key, v[i]);
        }
        if (err == DFW_OK) {
            err = dfw_buf_append(&f->key, "", 1);
        }
    }
    return err;
}

/* *cached holds what f->key stands for (cached_key): keep it, or make it again with o, an object
 * of string members (names[i] = v[i], left out when v[i] is NULL and optional[i]); inner: without
 * its braces. json-c escapes every string: names and ids come from outside. */
static dfw_err shared(struct dfw_out_splunk_hec_fmt *f,
                      struct dfw_buf *cached_key,
                      struct dfw_buf *cached,
                      const char *const *names,
                      const char *const *v,
                      const int *optional,
                      size_t n,
                      int inner)
{
    dfw_err err = make_key(f, v, n);
    if (err != DFW_OK) {
        return err;
    }
    if (cached_key->len == f->key.len && cached->len > 0 &&
        memcmp(cached_key->data, f->key.data, f->key.len) == 0) {
        return DFW_OK;
    }
    dfw_buf_reset(cached_key);
    dfw_buf_reset(cached);
    struct json_object *o = json_object_new_object();
    int bad = o == NULL;
    for (size_t i = 0; !bad && i < n; i++) {
        if (v[i] != NULL || !optional[i]) {
            bad |= add_string(o, names[i], v[i]) != 0;
        }
    }
    size_t len = 0;
    const char *json = bad ? NULL : json_object_to_json_string_length(o, FLAGS, &len);
    err = json == NULL ? DFW_ERR_NOMEM
          : inner      ? dfw_buf_append(cached, json + 1, len - 2)
                       : dfw_buf_append(cached, json, len);
    json_object_put(o);
    if (err == DFW_OK) {
        err = dfw_buf_append(cached_key, f->key.data, f->key.len);
    }
    if (err != DFW_OK) {
        dfw_buf_reset(cached_key);
        dfw_buf_reset(cached);
    }
    return err;
}

static dfw_err append_object(struct dfw_out_splunk_hec_fmt *f,
                             const struct dfw_event *ev,
                             const struct part *pt,
                             const char *source,
                             struct dfw_buf *out)
{
    const struct dfw_out_splunk_hec_conf *c = f->conf;
    /* {"time":T,"host","source","sourcetype"[,"index"],"event":<record>,"fields":{...}}; the
     * time literal keeps the exact milliseconds (a double would print 0.12299999); the record
     * goes in as its bytes */
    static const char *const head_names[] = {"host", "source", "sourcetype", "index"};
    static const int head_opt[] = {0, 0, 0, 1};
    const char *head_v[] = {f->host, source, pt->sourcetype, c->index};
    static const char *const field_names[] = {"tenant", "tenant_id", "stream", "kind",
                                              "incident_id"};
    static const int field_opt[] = {0, 0, 0, 0, 1};
    const char *field_v[] = {ev->tenant, ev->tenant_id, ev->stream, dfw_event_kind_name(pt->kind),
                             pt->incident_id};
    char when[32];
    dfw_out_splunk_hec_time(pt->time_ms, when, sizeof(when));
    dfw_err err = shared(f, &f->head_key, &f->head, head_names, head_v, head_opt, 4, 1);
    if (err == DFW_OK) {
        err = shared(f, &f->fields_key, &f->fields, field_names, field_v, field_opt, 5, 0);
    }
    if (err == DFW_OK) {
        err = dfw_buf_printf(out, "{\"time\":%s,", when);
    }
    if (err == DFW_OK) {
        err = dfw_buf_append(out, f->head.data, f->head.len);
    }
    if (err == DFW_OK) {
        err = dfw_buf_puts(out, ",\"event\":");
    }
    if (err == DFW_OK && pt->record != NULL) {
        err = append_json(out, pt->record);
    }
    else if (err == DFW_OK) {
        err = dfw_event_append_json(ev, out);
    }
    if (err == DFW_OK) {
        err = dfw_buf_puts(out, ",\"fields\":");
    }
    if (err == DFW_OK) {
        err = dfw_buf_append(out, f->fields.data, f->fields.len);
    }
    if (err == DFW_OK) {
        err = dfw_buf_append(out, "}", 1);
    }
    return err;
}

static int jtime(struct json_object *o, const char *key, int64_t *ms)
{
    struct json_object *v;
    return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
           json_object_is_type(v, json_type_string) &&
           dfw_time_parse(json_object_get_string(v), ms) == DFW_OK;
}

int dfw_out_splunk_hec_alert_sent(const struct dfw_event *ev,
                                  struct json_object *alert,
                                  enum dfw_event_kind *kind)
{
    int64_t upd, created;
    int has_upd = jtime(alert, "lastUpdateDateTime", &upd);
    if (ev->prev_updated_ms > 0 && has_upd && upd <= ev->prev_updated_ms) {
        return 0; /* it went out with the incident's earlier version */
    }
    int has_created = jtime(alert, "createdDateTime", &created);
    if (ev->kind == DFW_EVENT_NEW) {
        *kind = DFW_EVENT_NEW;
    }
    else if (ev->prev_updated_ms > 0) {
        *kind = has_created && created > ev->prev_updated_ms ? DFW_EVENT_NEW : DFW_EVENT_UPDATE;
    }
    else {
        *kind = has_created && ev->window_from_ms > 0 && created >= ev->window_from_ms
                    ? DFW_EVENT_NEW
                    : DFW_EVENT_UPDATE;
    }
    return 1;
}

/* graph-incidents split: the incident without "alerts" (a shallow copy: the record is shared
 * with the other outputs and read-only), then each alert that is due (see
 * dfw_out_splunk_hec_alert_sent), one object per line. */
static dfw_err append_split(struct dfw_out_splunk_hec_fmt *f,
                            const struct dfw_event *ev,
                            struct json_object *rec,
                            struct json_object *alerts,
                            const char *source,
                            struct dfw_buf *out)
{
    const struct dfw_out_splunk_hec_conf *c = f->conf;
    struct json_object *inc = json_object_new_object();
    if (inc == NULL) {
        return DFW_ERR_NOMEM;
    }
    json_object_object_foreach(rec, key, val)
    {
        if (strcmp(key, "alerts") != 0 &&
            json_object_object_add(inc, key, json_object_get(val)) != 0) {
            json_object_put(inc);
            return DFW_ERR_NOMEM;
        }
    }
    struct part pt = {inc, dfw_out_splunk_hec_sourcetype(c, ev->stream), ev->updated_ms, ev->kind,
                      NULL};
    dfw_err err = append_object(f, ev, &pt, source, out);
    json_object_put(inc);
    size_t n = json_object_array_length(alerts);
    for (size_t i = 0; err == DFW_OK && i < n; i++) {
        struct json_object *a = json_object_array_get_idx(alerts, i);
        struct part ap = {a, dfw_out_splunk_hec_alert_sourcetype(c), ev->updated_ms,
                          DFW_EVENT_UPDATE, ev->id};
        if (!json_object_is_type(a, json_type_object) ||
            !dfw_out_splunk_hec_alert_sent(ev, a, &ap.kind)) {
            continue;
        }
        (void)jtime(a, "lastUpdateDateTime", &ap.time_ms);
        err = dfw_buf_append(out, "\n", 1);
        if (err == DFW_OK) {
            err = append_object(f, ev, &ap, source, out);
        }
    }
    return err;
}

dfw_err dfw_out_splunk_hec_format(struct dfw_out_splunk_hec_fmt *f,
                                  const struct dfw_event *ev,
                                  struct dfw_buf *out)
{
    const struct dfw_out_splunk_hec_conf *c = f->conf;
    struct dfw_buf *source = &f->source;
    dfw_buf_reset(source);
    if (dfw_out_splunk_hec_source(c->source ? c->source : "defender-forwarder", ev, source) !=
        DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    size_t start = out->len;
    struct json_object *alerts, *rec = NULL;
    dfw_err err = DFW_OK;
    if (c->split_alerts && ev->stream != NULL && strcmp(ev->stream, "graph-incidents") == 0) {
        rec = dfw_event_record_get(ev);
        err = rec == NULL && ev->raw != NULL ? DFW_ERR_NOMEM : DFW_OK;
    }
    if (json_object_is_type(rec, json_type_object) &&
        json_object_object_get_ex(rec, "alerts", &alerts) &&
        json_object_is_type(alerts, json_type_array)) {
        err = append_split(f, ev, rec, alerts, source->data, out);
    }
    else if (err == DFW_OK) {
        struct part pt = {ev->record, dfw_out_splunk_hec_sourcetype(c, ev->stream), ev->updated_ms,
                          ev->kind, NULL};
        err = append_object(f, ev, &pt, source->data, out);
    }
    dfw_event_record_put(ev, rec);
    if (err != DFW_OK) {
        out->len = start; /* nothing half-written */
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return err;
}

dfw_err dfw_out_splunk_hec_gzip(const void *data, size_t len, int level, struct dfw_buf *out)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level < 0 ? 6 : level);
    if (c == NULL) {
        return level > 12 ? DFW_ERR_INVALID : DFW_ERR_NOMEM; /* a negative level asked for 6 */
    }
    /* one call over the whole body into room for the worst case: a gzip member (RFC 1952) */
    size_t bound = libdeflate_gzip_compress_bound(c, len);
    dfw_err err = dfw_buf_reserve(out, bound);
    if (err == DFW_OK) {
        size_t n = libdeflate_gzip_compress(c, data, len, out->data + out->len, bound);
        if (n == 0) {
            err = DFW_ERR_INVALID; /* cannot happen with the bound's room */
        }
        else {
            out->len += n;
            out->data[out->len] = '\0';
        }
    }
    libdeflate_free_compressor(c);
    return err;
}
