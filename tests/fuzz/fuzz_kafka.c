/* What the Kafka output makes of an event, without a broker: topic template check and rendering,
 * key, headers, value as the record JSON or its CEF line (kafka_format.c).
 * Invariants: a template that passes the check renders, for any event, either a topic of 1-249
 * characters of A-Z a-z 0-9 . _ - equal to the template with {tenant} {stream} {kind} replaced,
 * or DFW_ERR_INVALID (never a bad name); the key is exactly the id, "tenant/id" or empty; the
 * four headers carry tenant, stream, kind and last_update; a JSON value is strict JSON equal to
 * the record; a CEF value is the encoder's line and a valid CEF line (cef_check.h). */
#include "cef_check.h"

#include <json-c/json.h>

#include "dfw/cef.h"
#include "dfw/json_check.h"
#include "kafka_conf.h"
#include "kafka_format.h"

static const char *const streams[] = {"mde-alerts", "m365d-incidents", "graph-alerts"};

static int topic_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static void check_topic(const char *tmpl, const struct dfw_event *ev)
{
    char why[256];
    if (dfw_out_kafka_topic_check(tmpl, why, sizeof(why)) != DFW_OK) {
        FUZZ_CHECK(fuzz_no_controls(why, strlen(why)), "control character in '%s'", why);
        return;
    }
    char topic[DFW_KAFKA_TOPIC_MAX + 1];
    if (dfw_out_kafka_topic(tmpl, ev, topic, sizeof(topic)) != DFW_OK) {
        FUZZ_CHECK(topic[0] == '\0', "topic left on failure");
        return;
    }
    size_t n = strlen(topic);
    FUZZ_CHECK(n > 0 && n <= DFW_KAFKA_TOPIC_MAX, "topic of %zu characters", n);
    struct dfw_buf want = DFW_BUF_INIT;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{tenant}", 8) == 0) {
            dfw_buf_puts(&want, ev->tenant);
            p += 8;
        }
        else if (strncmp(p, "{stream}", 8) == 0) {
            dfw_buf_puts(&want, ev->stream);
            p += 8;
        }
        else if (strncmp(p, "{kind}", 6) == 0) {
            dfw_buf_puts(&want, dfw_event_kind_name(ev->kind));
            p += 6;
        }
        else {
            dfw_buf_append(&want, p++, 1);
        }
    }
    FUZZ_CHECK(want.len == n && memcmp(want.data, topic, n) == 0, "topic %s for %s", topic, tmpl);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(topic_char(topic[i]), "topic %s", topic);
    }
    dfw_buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    unsigned o = fuzz_byte(&in);
    char *tmpl = fuzz_field(&in, NULL), *tenant = fuzz_field(&in, NULL),
         *id = fuzz_field(&in, NULL);
    char *page = fuzz_cstr(in.p, in.n);
    char why[128];
    struct json_object *rec = NULL;
    if (dfw_json_check(page, in.n, why, sizeof(why)) == DFW_OK) {
        rec = json_tokener_parse(page);
    }
    if (rec == NULL) {
        rec = json_object_new_object();
    }
    struct dfw_event ev = {.tenant = tenant,
                           .tenant_id = "a839b112-1253-6432-9bf6-94542403f21c",
                           .stream = streams[o % 3],
                           .kind = (o & 4) ? DFW_EVENT_UPDATE : DFW_EVENT_NEW,
                           .id = id,
                           .updated = "2024-03-01T10:00:00.123Z",
                           .updated_ms = 1709287200123LL,
                           .record = rec};
    check_topic(tmpl, &ev);
    char key[256];
    size_t klen = 99;
    for (int mode = 0; mode < 3; mode++) {
        dfw_err rc = dfw_out_kafka_key(mode, &ev, key, sizeof(key), &klen);
        char want[600];
        snprintf(want, sizeof(want), "%s%s%s", mode == DFW_KAFKA_KEY_TENANT_ID ? tenant : "",
                 mode == DFW_KAFKA_KEY_TENANT_ID ? "/" : "", mode == DFW_KAFKA_KEY_NONE ? "" : id);
        if (rc != DFW_OK) {
            FUZZ_CHECK(strlen(want) >= sizeof(key) && klen == 0, "key refused: %s", want);
            continue;
        }
        FUZZ_CHECK(klen == strlen(want) && memcmp(key, want, klen) == 0, "key mode %d", mode);
    }
    struct dfw_kafka_header h[DFW_KAFKA_NHEADERS];
    dfw_out_kafka_headers(&ev, h);
    FUZZ_CHECK(strcmp(h[0].name, "tenant") == 0 && strcmp(h[0].value, tenant) == 0 &&
                   strcmp(h[1].value, ev.stream) == 0 &&
                   strcmp(h[2].value, dfw_event_kind_name(ev.kind)) == 0 &&
                   strcmp(h[3].value, ev.updated) == 0,
               "headers");
    struct dfw_buf scratch = DFW_BUF_INIT;
    const char *value;
    size_t vlen;
    FUZZ_CHECK(dfw_out_kafka_value(DFW_KAFKA_FMT_JSON, &ev, &scratch, &value, &vlen) == DFW_OK,
               "JSON value");
    FUZZ_CHECK(dfw_json_check(value, vlen, why, sizeof(why)) == DFW_OK, "JSON value (%s)", why);
    struct json_object *back = json_tokener_parse(value);
    FUZZ_CHECK(json_object_equal(back, rec), "JSON value is not the record");
    json_object_put(back);
    FUZZ_CHECK(dfw_out_kafka_value(DFW_KAFKA_FMT_CEF, &ev, &scratch, &value, &vlen) == DFW_OK,
               "CEF value");
    struct dfw_buf cef = DFW_BUF_INIT;
    FUZZ_CHECK(dfw_cef_format(&ev, 0, &cef) == DFW_OK && cef.len == vlen &&
                   memcmp(cef.data, value, vlen) == 0,
               "CEF value is not the encoder's line");
    struct cef_line cl;
    cef_parse(value, vlen, &cl);
    cef_free(&cl);
    dfw_buf_free(&cef);
    dfw_buf_free(&scratch);
    json_object_put(rec);
    free(page);
    free(tmpl);
    free(tenant);
    free(id);
    return 0;
}
