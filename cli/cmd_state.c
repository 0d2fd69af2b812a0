#include "cli.h"
#include "dfw/cursor.h"
#include "dfw/state.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <string.h>

#define USAGE                                                                                      \
    "usage: defender-forwarder state show [TENANT] | reset [TENANT [STREAM]] | migrate [TENANT "   \
    "[STREAM]]\n"

enum migrated { M_DONE, M_NOTHING, M_CONFLICT, M_ERROR };

/* Give the Graph stream that replaces a legacy one the legacy stream's checkpoint: its
 * high-water mark, its sweep in progress and its delivered pairs, so that the Graph stream reads
 * on from where the legacy stream stopped (the same incidents and alerts, through the other API),
 * dropping the records of the overlap that the legacy stream delivered. Only dfw/state.h. */
static enum migrated
migrate_one(struct dfw_state *st, const char *tenant, const struct dfw_stream_def *from)
{
    const char *to = from->replacement;
    char err[1024];
    struct dfw_cursor c, existing;
    if (dfw_cursor_init(&c, 0) != DFW_OK || dfw_cursor_init(&existing, 0) != DFW_OK) {
        fprintf(stderr, "defender-forwarder: out of memory\n");
        dfw_cursor_clear(&c);
        return M_ERROR;
    }
    enum migrated res = M_DONE;
    dfw_err rc = dfw_state_load(st, tenant, from->name, &c, err, sizeof(err));
    if (rc == DFW_ERR_NOTFOUND) {
        printf("tenant %s: %s has no checkpoint: nothing to migrate\n", tenant, from->name);
        res = M_NOTHING;
    }
    else if (rc != DFW_OK) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        res = M_ERROR;
    }
    else if ((rc = dfw_state_load(st, tenant, to, &existing, err, sizeof(err))) !=
             DFW_ERR_NOTFOUND) {
        if (rc == DFW_OK) {
            fprintf(stderr,
                    "defender-forwarder: tenant %s: %s has a checkpoint already (it has run); "
                    "left as it is. To start it at the %s checkpoint instead: 'state reset %s "
                    "%s', then 'state migrate %s %s'\n",
                    tenant, to, from->name, tenant, to, tenant, from->name);
        }
        else {
            fprintf(stderr, "defender-forwarder: %s\n", err);
        }
        res = rc == DFW_OK ? M_CONFLICT : M_ERROR;
    }
    else {
        c.delivered = 0; /* counters of the new stream's own deliveries */
        c.late = 0;
        /* staged, then written at once (checkpoints.db): the message below is true on disk */
        rc = dfw_state_save(st, tenant, to, &c, err, sizeof(err));
        if (rc == DFW_OK) {
            rc = dfw_state_commit(st, err, sizeof(err));
        }
        if (rc != DFW_OK) {
            fprintf(stderr, "defender-forwarder: %s\n", err);
            res = M_ERROR;
        }
        else {
            char hw[DFW_TIME_LEN];
            dfw_time_format(c.high_water_ms, hw, sizeof(hw));
            printf("tenant %s: %s starts at the %s checkpoint: high-water mark %s%s, %zu "
                   "delivered (id, last-update) pairs kept, so the overlap is not sent again\n",
                   tenant, to, from->name, hw,
                   c.win.to_ms != 0 ? " (with its sweep in progress)" : "",
                   dfw_cursor_seen_count(&c));
        }
    }
    dfw_cursor_clear(&existing);
    dfw_cursor_clear(&c);
    return res;
}

static int cmd_migrate(struct dfw_state *st,
                       const struct dfw_config *cfg,
                       const char *tenant,
                       const struct dfw_stream_def *only)
{
    size_t done = 0, conflicts = 0, errors = 0;
    for (size_t i = 0; i < cfg->ntenants; i++) {
        const struct dfw_tenant_conf *t = &cfg->tenants[i];
        if (tenant != NULL && strcmp(t->name, tenant) != 0) {
            continue;
        }
        for (size_t s = 0; dfw_streams[s] != NULL; s++) {
            const struct dfw_stream_def *d = dfw_streams[s];
            if (d->replacement == NULL || (only != NULL && only != d)) {
                continue;
            }
            switch (migrate_one(st, t->name, d)) {
            case M_DONE:
                done++;
                break;
            case M_CONFLICT:
                conflicts++;
                break;
            case M_ERROR:
                errors++;
                break;
            case M_NOTHING:
                break;
            }
        }
    }
    printf("migrated %zu checkpoint(s)%s", done,
           done ? "; list the Graph streams in 'streams' instead of the legacy ones (their "
                  "checkpoints are kept: migrating back is 'state reset' of the Graph ones)\n"
                : "\n");
    return errors ? EXIT_RUNTIME : conflicts ? EXIT_RUNTIME : EXIT_OK;
}

int cmd_state(const struct dfw_config *cfg, int argc, char **argv)
{
    static const char *const verbs[] = {"show", "reset", "migrate"};
    size_t verb = 3;
    for (size_t i = 0; argc >= 1 && i < 3; i++) {
        if (strcmp(argv[0], verbs[i]) == 0) {
            verb = i;
        }
    }
    if (verb == 3 || argc > 3 || (verb == 0 && argc > 2)) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *tenant = argc > 1 ? argv[1] : NULL;
    const char *stream = argc > 2 ? argv[2] : NULL;
    if (tenant != NULL && dfw_config_tenant(cfg, tenant) == NULL) {
        fprintf(stderr, "defender-forwarder: no [tenant %s] in the configuration\n", tenant);
        return EXIT_USAGE;
    }
    const struct dfw_stream_def *def = stream ? dfw_stream_find(stream) : NULL;
    if (stream != NULL && def == NULL) {
        fprintf(stderr,
                "defender-forwarder: unknown stream '%s' (graph-incidents, graph-alerts, "
                "m365d-incidents, mde-alerts)\n",
                stream);
        return EXIT_USAGE;
    }
    if (verb == 2 && def != NULL && def->replacement == NULL) {
        fprintf(stderr,
                "defender-forwarder: state migrate: '%s' is not a legacy stream (migrate "
                "m365d-incidents or mde-alerts)\n",
                stream);
        return EXIT_USAGE;
    }
    char err[1024];
    struct dfw_state *st = dfw_state_open(cfg->state_dir, verb != 0, err, sizeof(err));
    if (st == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    dfw_err rc = DFW_OK;
    int status = EXIT_OK;
    if (verb == 1) {
        size_t removed = 0;
        rc = dfw_state_reset(st, tenant, stream, &removed, err, sizeof(err));
        if (rc == DFW_OK) {
            printf("removed %zu checkpoint(s); the next run starts initial_lookback back\n",
                   removed);
        }
    }
    else if (verb == 2) {
        status = cmd_migrate(st, cfg, tenant, def);
    }
    else {
        rc = dfw_state_show(st, tenant, stdout, err, sizeof(err));
    }
    dfw_state_close(st);
    if (rc != DFW_OK) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    return status;
}
