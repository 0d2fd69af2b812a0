/* The configuration loader (dfw_config_load, libinih underneath) and every output's option
 * table (dfw_output_conf_parse) on arbitrary file contents.
 * Invariants: a rejected file gets one line of error that starts with the file name and holds
 * no control character or invalid UTF-8; an accepted file has at least one tenant and output,
 * tenant names of A-Z a-z 0-9 _ . -, durations and counts within their documented ranges,
 * every string valid UTF-8 without control characters (what reaches JSON outputs, syslog
 * headers and logs), and each output's keys pass or fail its option table cleanly.
 * "include" lines are left out: they would read arbitrary files of the machine. */
#include "fuzz.h"

#include <unistd.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "dfw/utf8.h"
#include "registry.h"

static char path[64];

static int text_ok(const char *s)
{
    return s == NULL || (dfw_utf8_valid(s, strlen(s)) && fuzz_no_controls(s, strlen(s)));
}

static int name_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static void check_config(const struct dfw_config *cfg)
{
    FUZZ_CHECK(cfg->ntenants > 0 && cfg->noutputs > 0, "no tenant or no output");
    FUZZ_CHECK(cfg->poll_interval_ms > 0 && cfg->poll_interval_ms <= DFW_DURATION_MAX_MS &&
                   cfg->overlap_ms >= 0 && cfg->overlap_ms <= DFW_DURATION_MAX_MS &&
                   cfg->initial_lookback_ms >= 0 &&
                   cfg->initial_lookback_ms <= DFW_DURATION_MAX_MS && cfg->http_timeout_ms > 0 &&
                   cfg->connect_timeout_ms > 0 && cfg->max_retries >= 0,
               "forwarder values out of range");
    FUZZ_CHECK(text_ok(cfg->state_dir) && text_ok(cfg->ca_file) && text_ok(cfg->metrics_file),
               "forwarder strings");
    for (size_t i = 0; i < cfg->ntenants; i++) {
        const struct dfw_tenant_conf *t = &cfg->tenants[i];
        FUZZ_CHECK(t->name && name_ok(t->name) && t->tenant_id && t->client_id, "tenant %zu", i);
        FUZZ_CHECK(text_ok(t->tenant_id) && text_ok(t->client_id) && text_ok(t->login_url) &&
                       text_ok(t->defender_url) && text_ok(t->graph_url) &&
                       text_ok(t->certificate_file) && text_ok(t->client_secret.file),
                   "tenant %s strings", t->name);
        FUZZ_CHECK(t->nstreams > 0, "tenant %s without streams", t->name);
    }
    for (size_t i = 0; i < cfg->noutputs; i++) {
        const struct dfw_output_conf *o = &cfg->outputs[i];
        FUZZ_CHECK(o->name && name_ok(o->name) && o->type, "output %zu", i);
        for (size_t k = 0; k < o->nkvs; k++) {
            FUZZ_CHECK(text_ok(o->kvs[k].key) && text_ok(o->kvs[k].value), "output %s key %zu",
                       o->name, k);
        }
        const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, o->type);
        if (p == NULL) {
            continue;
        }
        void *conf = NULL;
        char err[512] = "";
        if (dfw_output_conf_parse(p, o->kvs, o->nkvs, &conf, err, sizeof(err)) == DFW_OK) {
            dfw_output_conf_free(p, conf);
        }
        else {
            FUZZ_CHECK(err[0] != '\0' && fuzz_no_controls(err, strlen(err)), "output error '%s'",
                       err);
        }
    }
}

static int has_include(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 7 <= size; i++) {
        if (memcmp(data + i, "include", 7) == 0) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536 || has_include(data, size)) {
        return 0;
    }
    if (path[0] == '\0') {
        snprintf(path, sizeof(path), "/tmp/dfw-fuzz-config-%ld.conf", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot write %s", path);
    if (size > 0) {
        fwrite(data, 1, size, f);
    }
    fclose(f);
    char err[1024] = "";
    struct dfw_config *cfg = dfw_config_load(path, err, sizeof(err));
    if (cfg == NULL) {
        size_t n = strlen(err);
        FUZZ_CHECK(n > 0 && strncmp(err, path, strlen(path)) == 0, "error '%s'", err);
        FUZZ_CHECK(fuzz_no_controls(err, n) && dfw_utf8_valid(err, n), "error '%s'", err);
    }
    else {
        check_config(cfg);
        dfw_config_free(cfg);
    }
    unlink(path);
    return 0;
}
