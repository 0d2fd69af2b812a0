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

static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
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
