/* A Graph incident with $expand=alerts (0, 1 and 30 alerts; records in data/cef/) through the
 * outputs that do not encode CEF or LEEF (those have their goldens in test_cef.c / test_leef.c):
 * the HEC events (the incident and one event per alert, or one event with split_alerts = no, and
 * which alerts an update sends again), the Kafka message (topic, key, headers, value) and the file
 * output's line. Golden files in data/graph-incident/; DFW_UPDATE_GOLDEN=1 rewrites them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "kafka_conf.h"
#include "kafka_format.h"
#include "registry.h"
#include "splunk_hec_conf.h"
#include "splunk_hec_format.h"

#define TID "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c"

/* The three incidents: data/cef/<name>.json. */
static const struct {
    const char *name, *id, *updated;
    enum dfw_event_kind kind;
    size_t alerts;
} incidents[] = {
    {"graph-incident-0", "3110", "2026-12-01T08:15:00.1234567Z", DFW_EVENT_UPDATE, 0},
    {"graph-incident-1", "3111", "2026-12-01T08:02:10.5Z", DFW_EVENT_NEW, 1},
    {"graph-incident-30", "3112", "2026-12-01T07:55:00.9Z", DFW_EVENT_UPDATE, 30},
};

static const struct dfw_output_plugin *plugin(const char *name)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, name);
    assert_non_null(p);
    return p;
}

/* A conf of output type from "key=value" strings. */
static void *conf_of(const char *type, const char *const *kv)
{
    struct dfw_config_kv kvs[16];
    char buf[16][2][256];
    size_t n = 0;
    for (; kv[n] != NULL; n++) {
        const char *eq = strchr(kv[n], '=');
        snprintf(buf[n][0], sizeof(buf[n][0]), "%.*s", (int)(eq - kv[n]), kv[n]);
        snprintf(buf[n][1], sizeof(buf[n][1]), "%s", eq + 1);
        kvs[n] = (struct dfw_config_kv){buf[n][0], buf[n][1], "t.conf", (int)n + 1};
    }
    void *c = NULL;
    char err[256];
    if (dfw_output_conf_parse(plugin(type), kvs, n, &c, err, sizeof(err)) != DFW_OK) {
        fail_msg("%s", err);
    }
    return c;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct dfw_buf b = DFW_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(dfw_buf_append(&b, chunk, n), DFW_OK);
    }
    fclose(f);
    assert_int_equal(dfw_buf_append(&b, "", 0), DFW_OK);
    return dfw_buf_steal(&b);
}

/* Compare text with data/graph-incident/<name> (which ends with one newline more). */
static void golden(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/graph-incident/%s", DFW_TEST_DATA, name);
    if (getenv("DFW_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fprintf(f, "%s\n", text);
        fclose(f);
    }
    char *want = read_file(path);
    if (want == NULL) {
        fail_msg("missing golden file %s", path);
    }
    size_t n = strlen(want);
    assert_true(n > 0 && want[n - 1] == '\n');
    want[n - 1] = '\0';
    assert_string_equal(text, want);
    free(want);
}

static struct json_object *load(size_t i, struct dfw_event *ev)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/cef/%s.json", DFW_TEST_DATA, incidents[i].name);
    struct json_object *rec = json_object_from_file(path);
    assert_non_null(rec);
    memset(ev, 0, sizeof(*ev));
    ev->tenant = "fabrikam";
    ev->tenant_id = TID;
    ev->stream = "graph-incidents";
    ev->kind = incidents[i].kind;
    ev->id = incidents[i].id;
    ev->updated = incidents[i].updated;
    assert_int_equal(dfw_time_parse(ev->updated, &ev->updated_ms), DFW_OK);
    ev->record = rec;
    return rec;
}

static struct json_object *get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    return v;
}

static const char *str(struct json_object *o, const char *key)
{
    return json_object_get_string(get(o, key));
}

/* The lines of a HEC rendering, parsed; returns how many (at most max). */
static size_t hec_lines(const char *text, struct json_object **objs, size_t max)
{
    size_t n = 0;
    for (const char *p = text; *p != '\0' && n < max;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        struct json_tokener *tok = json_tokener_new();
        objs[n] = json_tokener_parse_ex(tok, p, (int)len);
        assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
        json_tokener_free(tok);
        assert_non_null(objs[n]);
        n++;
        p += len + (nl != NULL);
    }
    return n;
}

static int64_t time_of(struct json_object *o, const char *key)
{
    int64_t ms = 0;
    assert_int_equal(dfw_time_parse(str(o, key), &ms), DFW_OK);
    return ms;
}

/* split_alerts = on (the default): the incident without alerts as ms365:defender:incident, then
 * every alert as ms365:defender:incident:alerts with its own time and the incident id. */
static void hec_split(void **state)
{
    (void)state;
    const char *kv[] = {"url=https://splunk:8088", "token_env=T", "host=fwd1", "index=defender",
                        NULL};
    struct dfw_out_splunk_hec_conf *c = conf_of("splunk_hec", kv);
    for (size_t i = 0; i < sizeof(incidents) / sizeof(incidents[0]); i++) {
        struct dfw_event ev;
        struct json_object *rec = load(i, &ev);
        struct dfw_buf out = DFW_BUF_INIT;
        assert_int_equal(plugin("splunk_hec")->format(c, &ev, &out), DFW_OK);
        char name[64];
        snprintf(name, sizeof(name), "%s.hec", incidents[i].name);
        golden(name, out.data);
        struct json_object *objs[40];
        size_t n = hec_lines(out.data, objs, 40);
        assert_int_equal(n, 1 + incidents[i].alerts);
        assert_string_equal(str(objs[0], "sourcetype"), "ms365:defender:incident");
        struct json_object *inc = get(objs[0], "event");
        struct json_object *v;
        assert_false(json_object_object_get_ex(inc, "alerts", &v));
        assert_string_equal(str(inc, "id"), incidents[i].id);
        assert_string_equal(str(get(objs[0], "fields"), "kind"), dfw_event_kind_name(ev.kind));
        assert_false(json_object_object_get_ex(get(objs[0], "fields"), "incident_id", &v));
        struct json_object *alerts = get(rec, "alerts");
        for (size_t k = 1; k < n; k++) {
            struct json_object *a = json_object_array_get_idx(alerts, k - 1);
            assert_string_equal(str(objs[k], "sourcetype"), "ms365:defender:incident:alerts");
            assert_string_equal(str(objs[k], "index"), "defender");
            assert_true(json_object_equal(get(objs[k], "event"), a));
            struct json_object *fields = get(objs[k], "fields");
            assert_string_equal(str(fields, "incident_id"), incidents[i].id);
            assert_string_equal(str(fields, "stream"), "graph-incidents");
            assert_string_equal(str(fields, "tenant"), "fabrikam");
            /* every alert is sent: nothing of this incident was delivered before */
            double t = json_object_get_double(get(objs[k], "time"));
            assert_int_equal((int64_t)(t * 1000.0 + 0.5), time_of(a, "lastUpdateDateTime"));
        }
        for (size_t k = 0; k < n; k++) {
            json_object_put(objs[k]);
        }
        dfw_buf_free(&out);
        json_object_put(rec);
    }
    dfw_output_conf_free(plugin("splunk_hec"), c);
}

/* split_alerts = no: one event, the record as the API sent it; the same without $expand. */
static void hec_whole(void **state)
{
    (void)state;
    const char *kv[] = {"url=https://splunk:8088", "token_env=T", "split_alerts=no", NULL};
    struct dfw_out_splunk_hec_conf *c = conf_of("splunk_hec", kv);
    struct dfw_event ev;
    struct json_object *rec = load(2, &ev);
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(plugin("splunk_hec")->format(c, &ev, &out), DFW_OK);
    assert_null(strchr(out.data, '\n'));
    struct json_object *o = json_tokener_parse(out.data);
    assert_string_equal(str(o, "sourcetype"), "ms365:defender:incident");
    assert_true(json_object_equal(get(o, "event"), rec));
    json_object_put(o);
    dfw_buf_free(&out);
    dfw_output_conf_free(plugin("splunk_hec"), c);
    /* expand_alerts = no: no alerts key, nothing to split */
    const char *kv2[] = {"url=https://splunk:8088", "token_env=T", NULL};
    c = conf_of("splunk_hec", kv2);
    json_object_object_del(rec, "alerts");
    assert_int_equal(plugin("splunk_hec")->format(c, &ev, &out), DFW_OK);
    assert_null(strchr(out.data, '\n'));
    o = json_tokener_parse(out.data);
    assert_true(json_object_equal(get(o, "event"), rec));
    json_object_put(o);
    dfw_buf_free(&out);
    dfw_output_conf_free(plugin("splunk_hec"), c);
    json_object_put(rec);
}

/* An update of the incident whose earlier version is remembered sends only the alerts updated
 * after that version; new are the alerts created after it. Without a remembered version every
 * alert is sent; new are those created inside the window. */
static void hec_update_sends_changed_alerts(void **state)
{
    (void)state;
    const char *kv[] = {"url=https://splunk:8088", "token_env=T", "sourcetype_graph_incidents=inc",
                        "sourcetype_graph_incident_alerts=al", NULL};
    struct dfw_out_splunk_hec_conf *c = conf_of("splunk_hec", kv);
    struct dfw_event ev;
    struct json_object *rec = load(2, &ev);
    struct json_object *alerts = get(rec, "alerts");
    int64_t prev;
    assert_int_equal(dfw_time_parse("2026-12-01T07:00:00Z", &prev), DFW_OK);
    ev.prev_updated_ms = prev;
    size_t due = 0, fresh = 0;
    for (size_t k = 0; k < json_object_array_length(alerts); k++) {
        struct json_object *a = json_object_array_get_idx(alerts, k);
        if (time_of(a, "lastUpdateDateTime") > prev) {
            due++;
            fresh += time_of(a, "createdDateTime") > prev;
        }
    }
    assert_true(due > 0 && due < 30 && fresh > 0 && fresh < due);
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(plugin("splunk_hec")->format(c, &ev, &out), DFW_OK);
    struct json_object *objs[40];
    size_t n = hec_lines(out.data, objs, 40);
    assert_int_equal(n, 1 + due);
    assert_string_equal(str(objs[0], "sourcetype"), "inc");
    size_t news = 0;
    for (size_t k = 1; k < n; k++) {
        struct json_object *a = get(objs[k], "event");
        assert_string_equal(str(objs[k], "sourcetype"), "al");
        assert_true(time_of(a, "lastUpdateDateTime") > prev);
        const char *kind = str(get(objs[k], "fields"), "kind");
        assert_string_equal(kind, time_of(a, "createdDateTime") > prev ? "new" : "update");
        news += strcmp(kind, "new") == 0;
    }
    assert_int_equal(news, fresh);
    for (size_t k = 0; k < n; k++) {
        json_object_put(objs[k]);
    }
    dfw_buf_free(&out);

    /* nothing remembered: all 30, new when created at or after the window's start */
    ev.prev_updated_ms = 0;
    ev.window_from_ms = prev;
    assert_int_equal(plugin("splunk_hec")->format(c, &ev, &out), DFW_OK);
    n = hec_lines(out.data, objs, 40);
    assert_int_equal(n, 31);
    for (size_t k = 1; k < n; k++) {
        struct json_object *a = get(objs[k], "event");
        assert_string_equal(str(get(objs[k], "fields"), "kind"),
                            time_of(a, "createdDateTime") >= prev ? "new" : "update");
    }
    for (size_t k = 0; k < n; k++) {
        json_object_put(objs[k]);
    }
    dfw_buf_free(&out);

    /* a new incident: every alert new, whatever the window */
    ev.kind = DFW_EVENT_NEW;
    enum dfw_event_kind kind = DFW_EVENT_UPDATE;
    assert_true(dfw_out_splunk_hec_alert_sent(&ev, json_object_array_get_idx(alerts, 0), &kind));
    assert_int_equal(kind, DFW_EVENT_NEW);
    /* an alert without times is sent, as an update */
    ev.kind = DFW_EVENT_UPDATE;
    ev.prev_updated_ms = prev;
    struct json_object *bare = json_tokener_parse("{\"id\":\"x\"}");
    assert_true(dfw_out_splunk_hec_alert_sent(&ev, bare, &kind));
    assert_int_equal(kind, DFW_EVENT_UPDATE);
    json_object_put(bare);
    json_object_put(rec);
    dfw_output_conf_free(plugin("splunk_hec"), c);
}

/* Kafka: one message per incident, alerts inside the value; topic, key and headers. */
static void kafka_message(void **state)
{
    (void)state;
    const char *kv[] = {"brokers=127.0.0.1:9092", NULL};
    struct dfw_out_kafka_conf *c = conf_of("kafka", kv);
    for (size_t i = 0; i < sizeof(incidents) / sizeof(incidents[0]); i++) {
        struct dfw_event ev;
        struct json_object *rec = load(i, &ev);
        struct dfw_buf text = DFW_BUF_INIT;
        char topic[256], key[256];
        size_t klen;
        assert_int_equal(dfw_out_kafka_topic(c->topic, &ev, topic, sizeof(topic)), DFW_OK);
        assert_int_equal(dfw_out_kafka_key(c->key, &ev, key, sizeof(key), &klen), DFW_OK);
        struct dfw_kafka_header h[DFW_KAFKA_NHEADERS];
        dfw_out_kafka_headers(&ev, h);
        assert_int_equal(dfw_buf_printf(&text, "topic=%s\nkey=%.*s", topic, (int)klen, key),
                         DFW_OK);
        for (size_t k = 0; k < DFW_KAFKA_NHEADERS; k++) {
            assert_int_equal(dfw_buf_printf(&text, "\nheader %s=%s", h[k].name, h[k].value),
                             DFW_OK);
        }
        struct dfw_buf value = DFW_BUF_INIT;
        assert_int_equal(plugin("kafka")->format(c, &ev, &value), DFW_OK);
        struct json_object *back = json_tokener_parse(value.data);
        assert_true(json_object_equal(back, rec));
        assert_int_equal(json_object_array_length(get(back, "alerts")), incidents[i].alerts);
        json_object_put(back);
        char name[64];
        snprintf(name, sizeof(name), "%s.kafka", incidents[i].name);
        golden(name, text.data);
        dfw_buf_free(&value);
        dfw_buf_free(&text);
        json_object_put(rec);
    }
    dfw_output_conf_free(plugin("kafka"), c);
}

/* The file output: one line per incident, the alerts inside the record. */
static void file_line(void **state)
{
    (void)state;
    const char *kv[] = {"path=-", NULL};
    void *c = conf_of("file", kv);
    for (size_t i = 0; i < sizeof(incidents) / sizeof(incidents[0]); i++) {
        struct dfw_event ev;
        struct json_object *rec = load(i, &ev);
        struct dfw_buf out = DFW_BUF_INIT;
        assert_int_equal(plugin("file")->format(c, &ev, &out), DFW_OK);
        assert_int_equal(out.data[out.len - 1], '\n');
        assert_ptr_equal(strchr(out.data, '\n'), out.data + out.len - 1);
        out.data[--out.len] = '\0';
        struct json_object *line = json_tokener_parse(out.data);
        assert_true(json_object_equal(get(line, "record"), rec));
        assert_string_equal(str(line, "stream"), "graph-incidents");
        json_object_put(line);
        char name[64];
        snprintf(name, sizeof(name), "%s.jsonl", incidents[i].name);
        golden(name, out.data);
        dfw_buf_free(&out);
        json_object_put(rec);
    }
    dfw_output_conf_free(plugin("file"), c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hec_split),
        cmocka_unit_test(hec_whole),
        cmocka_unit_test(hec_update_sends_changed_alerts),
        cmocka_unit_test(kafka_message),
        cmocka_unit_test(file_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
