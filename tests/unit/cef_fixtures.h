/* Fixtures shared by the CEF encoder and syslog framing tests: golden-data records, events built
 * as the pipeline builds them, and syslog output confs from key=value lists. */
#ifndef DFW_TEST_CEF_FIXTURES_H
#define DFW_TEST_CEF_FIXTURES_H

#include <json-c/json.h>
#include <stdio.h>
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

#endif
