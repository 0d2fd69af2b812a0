/* [forwarder] keys: one declarative table drives parsing, range checks and duplicate checks. */
#include "config_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_STRING, F_DURATION, F_INT, F_LOGLEVEL, F_BOOL, F_LISTEN };

struct fkey {
    const char *name;
    enum ftype type;
    size_t offset; /* into struct dfw_config */
    int64_t min, max;
};

static const struct fkey fkeys[] = {
    {"state_dir", F_STRING, offsetof(struct dfw_config, state_dir), 0, 0},
    {"poll_interval", F_DURATION, offsetof(struct dfw_config, poll_interval_ms), 1000, DAY_MS},
    {"overlap", F_DURATION, offsetof(struct dfw_config, overlap_ms), 0, DAY_MS},
    {"settle_delay", F_DURATION, offsetof(struct dfw_config, settle_delay_ms), 0, DAY_MS},
    {"initial_lookback", F_DURATION, offsetof(struct dfw_config, initial_lookback_ms), 0,
     180 * DAY_MS},
    {"http_timeout", F_DURATION, offsetof(struct dfw_config, http_timeout_ms), 1000, 3600000},
    {"connect_timeout", F_DURATION, offsetof(struct dfw_config, connect_timeout_ms), 1000, 600000},
    {"max_retries", F_INT, offsetof(struct dfw_config, max_retries), 0, 100},
    {"page_size", F_INT, offsetof(struct dfw_config, page_size), 0, 10000},
    {"max_connections", F_INT, offsetof(struct dfw_config, max_connections), 1, 4096},
    {"ca_file", F_STRING, offsetof(struct dfw_config, ca_file), 0, 0},
    {"log_level", F_LOGLEVEL, offsetof(struct dfw_config, log_level), 0, 0},
    {"metrics_file", F_STRING, offsetof(struct dfw_config, metrics_file), 0, 0},
    {"metrics_listen", F_LISTEN, offsetof(struct dfw_config, metrics_listen), 0, 0},
    {"metrics_per_tenant", F_BOOL, offsetof(struct dfw_config, metrics_per_tenant), 0, 0},
    {"read_ahead", F_BOOL, offsetof(struct dfw_config, read_ahead), 0, 0},
};
_Static_assert(sizeof(fkeys) / sizeof(fkeys[0]) == NFKEYS, "NFKEYS must count fkeys[]");

/* Strict decimal integer in [min, max]. */
static int parse_int_range(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (*v == '\0') {
        return -1;
    }
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        return -1;
    }
    *out = n;
    return 0;
}

int dfw__conf_forwarder_key(struct frame *f, const char *key, const char *v)
{
    struct loader *ld = f->ld;
    size_t i;
    for (i = 0; i < NFKEYS && strcmp(fkeys[i].name, key) != 0; i++) {
    }
    if (i == NFKEYS) {
        return dfw__conf_fail(f, "[forwarder] unknown key '%s'", key);
    }
    const struct fkey *k = &fkeys[i];
    if (ld->fkey_line[i] != 0) {
        return dfw__conf_fail(f, "[forwarder] %s: duplicate key (first set at %s:%d)", key,
                              ld->fkey_file[i], ld->fkey_line[i]);
    }
    ld->fkey_file[i] = strdup(f->path);
    if (ld->fkey_file[i] == NULL) {
        return dfw__conf_nomem(f);
    }
    ld->fkey_line[i] = f->lineno;
    if (*v == '\0') {
        return dfw__conf_fail(f, "[forwarder] %s: empty value", key);
    }
    char *field = (char *)ld->cfg + k->offset;
    int64_t n;
    switch (k->type) {
    case F_STRING:
        return dfw__conf_set_str(f, (char **)(void *)field, v);
    case F_LOGLEVEL: {
        enum dfw_log_level level;
        if (dfw_log_level_parse(v, &level) != 0) {
            return dfw__conf_fail(
                f, "[forwarder] log_level: '%s' is not one of error, warn, info, debug", v);
        }
        return dfw__conf_set_str(f, (char **)(void *)field, v);
    }
    case F_DURATION:
        if (dfw_duration_parse(v, &n) != DFW_OK) {
            return dfw__conf_fail(
                f, "[forwarder] %s: '%s' is not a duration (e.g. 500ms, 30s, 5m, 2h, 1d)", key, v);
        }
        if (n < k->min || n > k->max) {
            return dfw__conf_fail(f, "[forwarder] %s: %s is out of range (%lldms to %lldms)", key,
                                  v, (long long)k->min, (long long)k->max);
        }
        *(int64_t *)(void *)field = n;
        return 1;
    case F_BOOL:
        if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 || strcmp(v, "true") == 0 ||
            strcmp(v, "1") == 0) {
            *(int *)(void *)field = 1;
            return 1;
        }
        if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0 || strcmp(v, "false") == 0 ||
            strcmp(v, "0") == 0) {
            *(int *)(void *)field = 0;
            return 1;
        }
        return dfw__conf_fail(f, "[forwarder] %s: '%s' is not yes or no", key, v);
    case F_LISTEN: {
        /* IPv4 literal ":" port: the metrics listener binds exactly this */
        const char *colon = strrchr(v, ':');
        struct in_addr a;
        char host[64];
        if (colon == NULL || (size_t)(colon - v) >= sizeof(host) ||
            parse_int_range(colon + 1, 1, 65535, &n) != 0) {
            return dfw__conf_fail(
                f, "[forwarder] %s: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:9464)", key, v);
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - v), v);
        if (inet_pton(AF_INET, host, &a) != 1) {
            return dfw__conf_fail(f, "[forwarder] %s: '%s' is not an IPv4 address", key, host);
        }
        return dfw__conf_set_str(f, (char **)(void *)field, v);
    }
    case F_INT:
        if (parse_int_range(v, k->min, k->max, &n) != 0) {
            return dfw__conf_fail(f, "[forwarder] %s: '%s' is not an integer from %lld to %lld",
                                  key, v, (long long)k->min, (long long)k->max);
        }
        *(int *)(void *)field = (int)n;
        return 1;
    }
    return 0;
}
