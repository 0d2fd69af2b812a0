/* The Splunk HEC event encoder (dfw_out_splunk_hec_format, dfw_out_splunk_hec_source) on records
 * as the page parser hands them on (strict JSON: dfw_json_check) and configuration text (source
 * template, host, index; the configuration loader only passes valid UTF-8 without control
 * characters, see fuzz_config.c).
 * Invariants: the event object is strict JSON, parses back, carries the record unchanged as
 * "event", time = updated_ms / 1000 with exact milliseconds, host, index, sourcetype and
 * fields tenant / tenant_id / stream / kind as given, source = the template with {tenant},
 * {tenant_id} and {stream} replaced. */
#include "fuzz.h"

#include <json-c/json.h>

#include "dfw/json_check.h"
#include "dfw/utf8.h"
#include "splunk_hec_conf.h"
#include "splunk_hec_format.h"

static const char *const streams[] = {"mde-alerts", "m365d-incidents", "graph-alerts", "other"};

/* Config text as the loader passes it: valid UTF-8, no control characters. */
static int config_text(const char *s, size_t n)
{
    return strlen(s) == n && dfw_utf8_valid(s, n) && fuzz_no_controls(s, n);
}

static const char *get_str(struct json_object *o, const char *key)
{
    struct json_object *v;
    FUZZ_CHECK(json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string),
               "no string %s", key);
    return json_object_get_string(v);
}

/* The template expanded by hand: replace each placeholder where it starts. */
static char *expand(const char *t, const struct dfw_event *ev)
{
    struct dfw_buf b = DFW_BUF_INIT;
    while (*t) {
        if (strncmp(t, "{tenant}", 8) == 0) {
            dfw_buf_puts(&b, ev->tenant);
            t += 8;
        }
        else if (strncmp(t, "{tenant_id}", 11) == 0) {
            dfw_buf_puts(&b, ev->tenant_id);
            t += 11;
        }
        else if (strncmp(t, "{stream}", 8) == 0) {
            dfw_buf_puts(&b, ev->stream);
            t += 8;
        }
        else {
            dfw_buf_append(&b, t++, 1);
        }
    }
    dfw_buf_append(&b, "", 0);
    return dfw_buf_steal(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    unsigned o = fuzz_byte(&in);
    uint64_t t = 0;
    for (int i = 0; i < 8; i++) {
        t = t << 8 | fuzz_byte(&in);
    }
    size_t sn, hn, inn, tn;
    char *source = fuzz_field(&in, &sn), *host = fuzz_field(&in, &hn);
    char *index = fuzz_field(&in, &inn), *tenant_id = fuzz_field(&in, &tn);
    char *page = fuzz_cstr(in.p, in.n);
    char why[128];
    struct json_object *rec = NULL;
    if (dfw_json_check(page, in.n, why, sizeof(why)) == DFW_OK) {
        rec = json_tokener_parse(page);
    }
    if (rec == NULL || !config_text(source, sn) || !config_text(host, hn) ||
        !config_text(index, inn) || !config_text(tenant_id, tn) || hn > 255) {
        /* dfw_out_splunk_hec_conf_check refuses a host longer than 255 bytes */
        goto done;
    }
    struct dfw_out_splunk_hec_conf c;
    memset(&c, 0, sizeof(c));
    c.url = "https://127.0.0.1:8088";
    c.source = (o & 1) ? source : NULL;
    c.host = (o & 2) && hn > 0 ? host : "fuzz.example";
    c.index = (o & 4) ? index : NULL;
    struct dfw_out_splunk_hec_fmt f;
    dfw_out_splunk_hec_fmt_init(&f, &c);
    struct dfw_event ev = {.tenant = "contoso",
                           .tenant_id = tenant_id,
                           .stream = streams[(o >> 3) & 3],
                           .kind = (o & 32) ? DFW_EVENT_UPDATE : DFW_EVENT_NEW,
                           .id = "x",
                           .updated = "2024-03-01T10:00:00.123Z",
                           /* the API's time range: years 0001-9999 */
                           .updated_ms = (int64_t)(t % 253402300800000ULL) - 62135596800000LL,
                           .record = rec};
    struct dfw_buf out = DFW_BUF_INIT;
    FUZZ_CHECK(dfw_out_splunk_hec_format(&f, &ev, &out) == DFW_OK, "format failed");
    FUZZ_CHECK(dfw_json_check(out.data, out.len, why, sizeof(why)) == DFW_OK,
               "HEC event is not valid JSON (%s): %.300s", why, out.data);
    struct json_object *obj = json_tokener_parse(out.data);
    FUZZ_CHECK(obj != NULL && json_object_is_type(obj, json_type_object), "does not parse");
    struct json_object *event, *fields, *time;
    FUZZ_CHECK(json_object_object_get_ex(obj, "event", &event) && json_object_equal(event, rec),
               "event is not the record");
    FUZZ_CHECK(json_object_object_get_ex(obj, "time", &time) &&
                   json_object_is_type(time, json_type_double),
               "no time");
    char want[32];
    dfw_out_splunk_hec_time(ev.updated_ms, want, sizeof(want));
    FUZZ_CHECK(strstr(out.data, want) != NULL, "time %s not in the event", want);
    int64_t secs = ev.updated_ms / 1000 - (ev.updated_ms % 1000 < 0);
    char sec_text[24];
    snprintf(sec_text, sizeof(sec_text), "%lld.", (long long)secs);
    FUZZ_CHECK(strncmp(want, sec_text, strlen(sec_text)) == 0, "time %s for %lld ms", want,
               (long long)ev.updated_ms);
    FUZZ_CHECK(strcmp(get_str(obj, "host"), c.host) == 0, "host");
    FUZZ_CHECK(strcmp(get_str(obj, "sourcetype"), dfw_out_splunk_hec_sourcetype(&c, ev.stream)) ==
                   0,
               "sourcetype");
    if (c.index != NULL) {
        FUZZ_CHECK(strcmp(get_str(obj, "index"), index) == 0, "index");
    }
    char *src = expand(c.source ? c.source : "defender-forwarder", &ev);
    FUZZ_CHECK(strcmp(get_str(obj, "source"), src) == 0, "source '%s', expected '%s'",
               get_str(obj, "source"), src);
    free(src);
    FUZZ_CHECK(json_object_object_get_ex(obj, "fields", &fields), "no fields");
    FUZZ_CHECK(strcmp(get_str(fields, "tenant"), "contoso") == 0 &&
                   strcmp(get_str(fields, "tenant_id"), tenant_id) == 0 &&
                   strcmp(get_str(fields, "stream"), ev.stream) == 0 &&
                   strcmp(get_str(fields, "kind"), dfw_event_kind_name(ev.kind)) == 0,
               "fields");
    json_object_put(obj);
    /* the parts f kept from this event are used again only where the next event shares them: a
     * second event of another tenant, stream and kind reads as with a fresh f */
    struct dfw_event other = ev;
    other.tenant = "fabrikam";
    other.stream = streams[((o >> 3) + 1) & 3];
    other.kind = ev.kind == DFW_EVENT_NEW ? DFW_EVENT_UPDATE : DFW_EVENT_NEW;
    for (int k = 0; k < 2; k++) {
        const struct dfw_event *e = k == 0 ? &other : &ev;
        struct dfw_out_splunk_hec_fmt fresh;
        dfw_out_splunk_hec_fmt_init(&fresh, &c);
        struct dfw_buf a = DFW_BUF_INIT, b = DFW_BUF_INIT;
        FUZZ_CHECK(dfw_out_splunk_hec_format(&f, e, &a) == DFW_OK &&
                       dfw_out_splunk_hec_format(&fresh, e, &b) == DFW_OK,
                   "format failed");
        FUZZ_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
                   "a kept part changed the event: %.300s", a.data);
        dfw_buf_free(&a);
        dfw_buf_free(&b);
        dfw_out_splunk_hec_fmt_free(&fresh);
    }
    dfw_out_splunk_hec_fmt_free(&f);
    dfw_buf_free(&out);
done:
    json_object_put(rec);
    free(page);
    free(source);
    free(host);
    free(index);
    free(tenant_id);
    return 0;
}
