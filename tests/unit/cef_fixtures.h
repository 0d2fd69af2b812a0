/* Fixtures shared by the CEF and LEEF encoder and syslog framing tests: golden-data records, events
 * built as the pipeline builds them, a record too big for a datagram, and syslog output confs from
 * key=value lists. */
#ifndef DFW_TEST_CEF_FIXTURES_H
#define DFW_TEST_CEF_FIXTURES_H

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"
#include "registry.h"

static inline struct json_object *load_json(const char *name)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/cef/%s", DFW_TEST_DATA, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    struct json_object *o = json_object_from_file(path);
    if (o == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
    }
    return o;
}

/* 1 when s[0..n) is well-formed UTF-8. */
static inline int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = s[i] < 0x80         ? 1
                     : (s[i] >> 5) == 6  ? 2
                     : (s[i] >> 4) == 14 ? 3
                     : (s[i] >> 3) == 30 ? 4
                                         : 0;
        if (len == 0 || i + len > n) {
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += len;
    }
    return 1;
}

/* The whole file, NUL-terminated (malloc'd); NULL when it cannot be read. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - 1 - n, f)) > 0) {
        n += got;
        if (n == cap - 1) {
            char *more = realloc(buf, 2 * cap);
            if (more == NULL) {
                free(buf);
            }
            buf = more;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* An event as the pipeline would build it; updated_ms from the string. */
static inline void make_event(struct dfw_event *ev,
                              const char *stream,
                              struct json_object *rec,
                              const char *id,
                              const char *updated)
{
    memset(ev, 0, sizeof(*ev));
    ev->tenant = "contoso";
    ev->tenant_id = "a839b112-1253-6432-9bf6-94542403f21c";
    ev->stream = stream;
    ev->kind = DFW_EVENT_NEW;
    ev->id = id;
    ev->updated = updated;
    if (updated != NULL) {
        int64_t ms = 0;
        dfw_time_parse(updated, &ms);
        ev->updated_ms = ms;
    }
    ev->record = rec;
}

/* ---- golden files: one realistic record per record shape ------------------------------------ */

struct golden {
    const char
        *name; /* data/cef/<name>.json, the record; data/<format>/<name>.<format>, the line */
    const char *stream;
    const char *id;
    const char *updated;
    const char *tenant_id;
    enum dfw_event_kind kind;
};

/* MDE alert (reference §3.4), Defender XDR incident (§2.7), Graph alert (§5.2 with typed evidence
 * added), Graph incidents with $expand=alerts (§5.1, §5.2): two alerts, none (an incident
 * redirected into another one), one, and thirty of every Defender product with typed evidence. */
static const struct golden goldens[] = {
    {"mde-alert", "mde-alerts", "da637472900382838869_1364969609", "2021-01-26T20:33:59.2Z",
     "a839b112-1253-6432-9bf6-94542403f21c", DFW_EVENT_NEW},
    {"m365d-incident", "m365d-incidents", "924521", "2020-09-06T12:18:03.81Z",
     "a839b112-1253-6432-9bf6-94542403f21c", DFW_EVENT_UPDATE},
    {"graph-alert", "graph-alerts", "da637551227677560813_-961444813",
     "2021-05-02T14:19:01.3266667Z", "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c", DFW_EVENT_NEW},
    {"graph-incident", "graph-incidents", "2972395", "2021-09-30T09:35:45.1133333Z",
     "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c", DFW_EVENT_NEW},
    {"graph-incident-0", "graph-incidents", "3110", "2026-12-01T08:15:00.1234567Z",
     "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c", DFW_EVENT_UPDATE},
    {"graph-incident-1", "graph-incidents", "3111", "2026-12-01T08:02:10.5Z",
     "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c", DFW_EVENT_NEW},
    {"graph-incident-30", "graph-incidents", "3112", "2026-12-01T07:55:00.9Z",
     "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c", DFW_EVENT_UPDATE},
};

typedef dfw_err (*format_fn)(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out);

/* Render each golden record with fmt, check the line with check (a strict parser of the format),
 * and compare it with data/<format>/<name>.<format>; with DFW_UPDATE_GOLDEN set, write the file
 * first. */
static inline void
check_goldens(const char *format, format_fn fmt, void (*check)(const char *line, size_t len))
{
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        const struct golden *g = &goldens[i];
        char file[600];
        size_t len = 0;
        snprintf(file, sizeof(file), "%s.json", g->name);
        struct json_object *rec = load_json(file);
        assert_non_null(rec);
        struct dfw_event ev;
        make_event(&ev, g->stream, rec, g->id, g->updated);
        ev.tenant_id = g->tenant_id;
        ev.kind = g->kind;
        struct dfw_buf out = DFW_BUF_INIT;
        assert_int_equal(fmt(&ev, 0, &out), DFW_OK);
        check(out.data, out.len);
        snprintf(file, sizeof(file), "%s/%s/%s.%s", DFW_TEST_DATA, format, g->name, format);
        if (getenv("DFW_UPDATE_GOLDEN") != NULL) {
            FILE *f = fopen(file, "w");
            assert_non_null(f);
            fprintf(f, "%s\n", out.data);
            fclose(f);
        }
        char *want = slurp(file, &len);
        if (want == NULL) {
            fail_msg("cannot read %s", file);
        }
        assert_true(len > 0 && want[len - 1] == '\n');
        want[len - 1] = '\0';
        assert_string_equal(out.data, want);
        /* the same line from the record's bytes as the pipeline holds them: a row of a page
         * (the file's line breaks taken out), no tree */
        snprintf(file, sizeof(file), "%s/cef/%s.json", DFW_TEST_DATA, g->name);
        char *text = slurp(file, &len);
        assert_non_null(text);
        struct dfw_buf page = DFW_BUF_INIT;
        dfw_buf_puts(&page, "{\"value\":[");
        dfw_buf_puts(&page, text);
        dfw_buf_puts(&page, "]}");
        struct dfw_page pg;
        char err[256];
        if (dfw_stream_parse_page(page.data, page.len, "https://x", &pg, err, 256) != DFW_OK) {
            fail_msg("%s: %s", g->name, err);
        }
        assert_int_equal(pg.nrows, 1);
        ev.record = NULL;
        ev.raw = pg.rows[0].json;
        ev.raw_len = pg.rows[0].len;
        dfw_buf_reset(&out);
        assert_int_equal(fmt(&ev, 0, &out), DFW_OK);
        assert_string_equal(out.data, want);
        dfw_page_free(&pg);
        dfw_buf_free(&page);
        free(text);
        free(want);
        dfw_buf_free(&out);
        json_object_put(rec);
    }
}

/* ---- records with missing, null and mistyped fields --------------------------------------- */

/* Records an encoder must carry as a minimal line: everything odd is left out. */
static const struct {
    const char *stream, *json, *id;
} awkward_records[] = {
    {"mde-alerts", NULL, "1"},
    {"mde-alerts", "[1,2]", "1"},
    {"mde-alerts", "\"just a string\"", "1"},
    {"mde-alerts", "{}", "1"},
    {"mde-alerts",
     "{\"title\":42,\"severity\":null,\"category\":[\"x\"],\"detectorId\":{},"
     "\"computerDnsName\":null,\"firstEventTime\":\"yesterday\",\"lastEventTime\":7,"
     "\"alertCreationTime\":null,\"relatedUser\":5,\"threatName\":\"\","
     "\"evidence\":[null,1,\"x\",[],{\"fileName\":null,\"sha1\":3,\"url\":false}]}",
     "1"},
    {"mde-alerts", "{\"evidence\":\"nope\",\"relatedUser\":{\"userName\":null}}", "1"},
    {"m365d-incidents",
     "{\"incidentName\":null,\"alerts\":[null,7,{\"entities\":null,\"devices\":[null,"
     "{\"deviceDnsName\":1}],\"firstActivity\":\"2024-13-45T00:00:00Z\"}]}",
     "42"},
    {"m365d-incidents", "{\"alerts\":{\"not\":\"an array\"}}", "42"},
    {"graph-alerts",
     "{\"alertWebUrl\":null,\"evidence\":[{},{\"@odata.type\":5},{\"@odata.type\":"
     "\"#microsoft.graph.security.fileEvidence\",\"fileDetails\":\"x\"},"
     "{\"@odata.type\":\"#microsoft.graph.security.userEvidence\",\"userAccount\":"
     "null},{\"@odata.type\":\"ipEvidence\",\"ipAddress\":[]},{\"@odata.type\":"
     "\"#microsoft.graph.security.deviceEvidence\",\"ipInterfaces\":[null,{},\"\"]}]}",
     "g1"},
    {"graph-incidents", "{\"alerts\":[null,{\"evidence\":5},{\"evidence\":[7]}]}", "g2"},
    {"some-future-stream", "{}", "9"},
    /* the record's id is used when the event carries none */
    {"graph-alerts", "{\"id\":\"abc\"}", NULL},
};

/* Render one record with fmt and give its attribute keys, space-separated, via keys(). */
static inline void keys_of(const char *stream,
                           const char *json,
                           const char *id,
                           format_fn fmt,
                           void (*keys)(const char *line, size_t len, char *out, size_t outlen),
                           char *out,
                           size_t outlen)
{
    struct json_object *rec = json ? json_tokener_parse(json) : NULL;
    assert_true(json == NULL || rec != NULL);
    struct dfw_event ev;
    make_event(&ev, stream, rec, id, "2024-05-01T10:00:00Z");
    struct dfw_buf buf = DFW_BUF_INIT;
    assert_int_equal(fmt(&ev, 0, &buf), DFW_OK);
    keys(buf.data, buf.len, out, outlen);
    dfw_buf_free(&buf);
    json_object_put(rec);
}

/* Every awkward record gives exactly the attributes base. */
static inline void check_awkward_records(format_fn fmt,
                                         void (*keys)(const char *, size_t, char *, size_t),
                                         const char *base)
{
    for (size_t i = 0; i < sizeof(awkward_records) / sizeof(awkward_records[0]); i++) {
        char got[1024];
        keys_of(awkward_records[i].stream, awkward_records[i].json, awkward_records[i].id, fmt,
                keys, got, sizeof(got));
        if (strcmp(got, base) != 0) {
            fail_msg("record %zu (%s): keys '%s', expected '%s'", i, awkward_records[i].stream, got,
                     base);
        }
    }
}

/* Parse "key=value" pairs (NULL-terminated list) into a syslog conf; NULL with the reason on
 * stderr when the option table rejects them. */
static inline void *syslog_conf(const char *const *kv)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "syslog");
    struct dfw_config_kv kvs[32];
    char buf[32][2][256];
    size_t n = 0;
    for (; kv[n] != NULL && n < 32; n++) {
        const char *eq = strchr(kv[n], '=');
        snprintf(buf[n][0], sizeof(buf[n][0]), "%.*s", (int)(eq - kv[n]), kv[n]);
        snprintf(buf[n][1], sizeof(buf[n][1]), "%s", eq + 1);
        kvs[n].key = buf[n][0];
        kvs[n].value = buf[n][1];
        kvs[n].file = "test.conf";
        kvs[n].line = (int)n + 1;
    }
    void *conf = NULL;
    char err[256];
    if (dfw_output_conf_parse(p, kvs, n, &conf, err, sizeof(err)) != DFW_OK) {
        fprintf(stderr, "conf: %s\n", err);
        return NULL;
    }
    return conf;
}

/* A record whose values are long and full of characters that need escaping or are multi-byte. */
static inline struct json_object *big_record(void)
{
    static char path[6001], url[4001], threat[801];
    const char unit[] = "dir\\=é|";
    for (size_t i = 0; i < 6000; i++) {
        path[i] = i % 500 == 499 ? '\\' : unit[i % (sizeof(unit) - 1)];
    }
    /* keep é (2 bytes) whole: the pattern has 8 bytes and 6000 is a multiple of 8 */
    path[6000] = '\0';
    for (size_t i = 0; i < 4000; i++) {
        url[i] = "http://x/?a=b&c=\xe2\x82\xac"[i % 19];
    }
    url[3990] = '\0';
    memset(threat, 'T', 800);
    threat[800] = '\0';
    struct json_object *rec = json_tokener_parse(
        "{\"title\":\"Suspicious | activity \\\\ with = signs\",\"severity\":\"High\","
        "\"category\":\"Execution\",\"detectorId\":\"17e10bbc-3a68-474a-8aad-faef14d43952\","
        "\"computerDnsName\":\"host1.contoso.com\",\"firstEventTime\":\"2024-05-01T09:00:00Z\","
        "\"lastEventTime\":\"2024-05-01T09:30:00Z\",\"alertCreationTime\":\"2024-05-01T09:31:00Z\","
        "\"relatedUser\":{\"userName\":\"alice\",\"domainName\":\"CONTOSO\"}}");
    struct json_object *evid = json_object_new_array();
    struct json_object *f = json_object_new_object();
    json_object_object_add(f, "entityType", json_object_new_string("File"));
    json_object_object_add(f, "fileName", json_object_new_string("evil.exe"));
    json_object_object_add(f, "filePath", json_object_new_string(path));
    json_object_object_add(f, "sha1",
                           json_object_new_string("5de839186691aa96ee2ca6d74f0a38fb8d1bd6dd"));
    json_object_array_add(evid, f);
    struct json_object *u = json_object_new_object();
    json_object_object_add(u, "url", json_object_new_string(url));
    json_object_object_add(u, "ipAddress", json_object_new_string("203.0.113.9"));
    json_object_array_add(evid, u);
    json_object_object_add(rec, "evidence", evid);
    json_object_object_add(rec, "threatName", json_object_new_string(threat));
    return rec;
}

#endif
