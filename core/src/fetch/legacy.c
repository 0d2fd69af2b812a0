/* The legacy streams (m365d-incidents, mde-alerts): which tenants still read them, and the one
 * warning per stream at start-up. Microsoft retires both APIs: they stop working after
 * 1 February 2027 (Message Center MC1220762; defender-api.md §10.1). */
#include "dfw/log.h"
#include "dfw/stream.h"

#include <string.h>

size_t dfw_stream_tenants_using(const struct dfw_config *cfg,
                                const struct dfw_stream_def *def,
                                const char **first)
{
    size_t n = 0;
    *first = NULL;
    for (size_t i = 0; i < cfg->ntenants; i++) {
        const struct dfw_tenant_conf *t = &cfg->tenants[i];
        for (size_t s = 0; s < t->nstreams; s++) {
            if (strcmp(t->streams[s], def->name) == 0) {
                if (n++ == 0) {
                    *first = t->name;
                }
                break;
            }
        }
    }
    return n;
}

size_t dfw_stream_warn_retired(const struct dfw_config *cfg)
{
    size_t warned = 0;
    for (size_t i = 0; dfw_streams[i] != NULL; i++) {
        const struct dfw_stream_def *d = dfw_streams[i];
        const char *first;
        size_t n = d->retirement ? dfw_stream_tenants_using(cfg, d, &first) : 0;
        if (n == 0) {
            continue;
        }
        dfw_log(DFW_LOG_WARN, "config", "stream=%s tenants=%zu first_tenant=%s msg=\"%s\"", d->name,
                n, first, d->retirement);
        warned++;
    }
    return warned;
}
