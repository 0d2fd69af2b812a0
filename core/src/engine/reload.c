/* Reload without restart (SIGHUP): the configuration is read again on the loop thread; tenants
 * added start, removed ones stop once their in-flight batch is acknowledged, changed ones stop
 * like removed ones and then start again with the new section; the others are not touched. A new
 * configuration that cannot be loaded, or a new tenant whose credentials cannot be read, refuses
 * the whole reload: the running configuration stays. [forwarder] and [output] changes need a
 * restart (said in the log). */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dfw_engine_set_reload(struct dfw_engine *e, dfw_reload_fn fn, void *ctx)
{
    e->reload_fn = fn;
    e->reload_ctx = ctx;
}

void dfw_engine_request_reload(struct dfw_engine *e)
{
    e->reload_requested = 1;
    dfw_http_wakeup(e->http);
}

static struct tenant_rt *running_tenant(const struct dfw_engine *e, const char *name)
{
    for (size_t i = 0; i < e->ntenants; i++) {
        struct tenant_rt *t = e->tenants[i];
        if (!t->retiring && strcmp(t->conf->name, name) == 0) {
            return t;
        }
    }
    return NULL;
}

static int in_config(const struct dfw_config *cfg, const char *name)
{
    return dfw_config_tenant(cfg, name) != NULL;
}

/* Stop starting anything for t; what is in flight finishes (see quiescent). */
static void retire(struct dfw_engine *e, struct tenant_rt *t)
{
    t->retiring = 1;
    e->nretiring++;
    for (size_t k = 0; k < t->njobs; k++) {
        struct job *j = &t->jobs[k];
        if (j->state != J_DELIVER) {
            dfw__sched_cancel(&e->sched, &j->node);
        }
    }
}

static int quiescent(const struct tenant_rt *t)
{
    for (size_t k = 0; k < t->njobs; k++) {
        if (t->jobs[k].state == J_DELIVER || t->jobs[k].in_flight) {
            return 0;
        }
    }
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i].in_flight) {
            return 0;
        }
    }
    return 1;
}

static int grow(struct dfw_engine *e, size_t more)
{
    if (e->ntenants + more <= e->captenants) {
        return 0;
    }
    size_t cap = e->ntenants + more + 16;
    struct tenant_rt **n = realloc(e->tenants, cap * sizeof(*n));
    if (n == NULL) {
        return -1;
    }
    e->tenants = n;
    e->captenants = cap;
    return 0;
}

void dfw__reload(struct dfw_engine *e)
{
    e->reload_requested = 0;
    if (e->reload_fn == NULL || e->once) {
        dfw_log(DFW_LOG_INFO, "engine", "msg=\"reload applies to the daemon (run); ignored\"");
        return;
    }
    char err[1024] = "";
    const struct dfw_config *n = e->reload_fn(e->reload_ctx, err, sizeof(err));
    if (n == NULL) {
        dfw_log(DFW_LOG_ERROR, "engine",
                "msg=\"reload refused: %s; the running configuration stays\"", DFW_LOG_ESC(err));
        return;
    }
    struct tenant_rt **fresh = calloc(n->ntenants ? n->ntenants : 1, sizeof(*fresh));
    size_t nfresh = 0, changed = 0, same = 0, removed = 0;
    if (fresh == NULL || grow(e, n->ntenants) != 0) {
        free(fresh);
        dfw_log(DFW_LOG_ERROR, "engine", "msg=\"reload refused: out of memory\"");
        return;
    }
    /* every new or changed tenant first: one that cannot start refuses the reload */
    for (size_t i = 0; i < n->ntenants; i++) {
        const struct dfw_tenant_conf *tc = &n->tenants[i];
        struct tenant_rt *old = running_tenant(e, tc->name);
        if (old != NULL && dfw_config_tenant_same(old->conf, tc)) {
            same++;
            continue;
        }
        struct tenant_rt *t = dfw__tenant_new(e, tc, err, sizeof(err));
        if (t == NULL) {
            for (size_t k = 0; k < nfresh; k++) {
                dfw__tenant_free(fresh[k]);
            }
            free(fresh);
            dfw_log(DFW_LOG_ERROR, "engine",
                    "msg=\"reload refused: %s; the running configuration stays\"",
                    DFW_LOG_ESC(err));
            return;
        }
        t->waits_for = old;
        t->starting = 1;
        changed += old != NULL;
        fresh[nfresh++] = t;
    }
    /* now the plan cannot fail: retire, then queue the new ones */
    for (size_t i = 0; i < e->ntenants; i++) {
        struct tenant_rt *t = e->tenants[i];
        if (t->retiring) {
            continue;
        }
        int keep = in_config(n, t->conf->name);
        for (size_t k = 0; k < nfresh && keep; k++) {
            keep = fresh[k]->waits_for != t;
        }
        if (!keep) {
            removed += !in_config(n, t->conf->name);
            retire(e, t);
        }
    }
    for (size_t k = 0; k < nfresh; k++) {
        e->tenants[e->ntenants++] = fresh[k];
        e->nstarting++;
    }
    free(fresh);
    if (!dfw_config_forwarder_same(e->cfg, n)) {
        dfw_log(DFW_LOG_WARN, "engine",
                "msg=\"the [forwarder] section changed: restart to apply it; tenants reloaded\"");
    }
    if (!dfw_config_outputs_same(e->cfg, n)) {
        dfw_log(DFW_LOG_WARN, "engine",
                "msg=\"the outputs changed: restart to apply them; tenants reloaded\"");
    }
    dfw_log(DFW_LOG_INFO, "engine",
            "msg=\"configuration reloaded\" added=%zu changed=%zu removed=%zu unchanged=%zu",
            nfresh - changed, changed, removed, same);
}

void dfw__reload_tick(struct dfw_engine *e, int64_t now)
{
    if (e->nretiring == 0 && e->nstarting == 0) {
        return;
    }
    for (size_t i = 0; i < e->ntenants;) {
        struct tenant_rt *t = e->tenants[i];
        if (!t->retiring || !quiescent(t)) {
            i++;
            continue;
        }
        for (size_t k = 0; k < e->ntenants; k++) {
            if (e->tenants[k]->waits_for == t) {
                e->tenants[k]->waits_for = NULL;
            }
        }
        for (size_t k = 0; k < t->njobs; k++) {
            dfw__job_uncount(&t->jobs[k]);
        }
        e->njobs -= t->njobs;
        e->nretiring--;
        dfw_log(DFW_LOG_INFO, "engine", "tenant=%s msg=\"stopped (reload)\"", t->conf->name);
        dfw__tenant_free(t);
        memmove(&e->tenants[i], &e->tenants[i + 1], (e->ntenants - i - 1) * sizeof(*e->tenants));
        e->ntenants--;
    }
    for (size_t i = 0; i < e->ntenants; i++) {
        struct tenant_rt *t = e->tenants[i];
        if (!t->starting || t->waits_for != NULL) {
            continue;
        }
        t->starting = 0;
        e->nstarting--;
        e->njobs += t->njobs;
        for (size_t k = 0; k < t->njobs; k++) {
            dfw__job_init_run(&t->jobs[k], now);
        }
        dfw_log(DFW_LOG_INFO, "engine", "tenant=%s msg=\"started (reload)\" streams=%zu",
                t->conf->name, t->njobs);
    }
}
