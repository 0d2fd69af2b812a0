/* A tenant's runtime: its token provider (which reads its secrets), one token slot per resource
 * and one job per configured stream. */
#include "engine_internal.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct token_slot *slot_for(struct tenant_rt *t, const char *resource)
{
    for (size_t i = 0; i < t->nslots; i++) {
        if (strcmp(t->slots[i].resource, resource) == 0) {
            return &t->slots[i];
        }
    }
    struct token_slot *s = &t->slots[t->nslots++];
    memset(s, 0, sizeof(*s));
    s->tenant = t;
    s->resource = resource;
    return s;
}

static void bucket_init(struct bucket *b, int per_period, int64_t period_ms, int64_t now)
{
    b->capacity = per_period > 0 ? per_period : 0;
    b->tokens = b->capacity;
    b->per_ms = per_period > 0 ? (double)per_period / (double)period_ms : 0;
    b->last = now;
}

static dfw_err job_init(struct tenant_rt *t, struct job *j, const char *stream, int64_t now)
{
    const struct dfw_engine *e = t->engine;
    const struct dfw_config *cfg = e->cfg;
    j->tenant = t;
    j->def = dfw_stream_find(stream);
    if (j->def == NULL) {
        return DFW_ERR_CONFIG;
    }
    j->resource = dfw_stream_resource(j->def, t->cloud);
    j->base_url = j->def->host == DFW_HOST_GRAPH ? t->graph_url
                  : j->def->host == DFW_HOST_MDE ? t->mde_url
                                                 : t->defender_url;
    j->slot = slot_for(t, j->resource);
    j->overlap_ms = t->conf->overlap_ms >= 0 ? t->conf->overlap_ms : cfg->overlap_ms;
    j->settle_ms = t->conf->settle_delay_ms >= 0 ? t->conf->settle_delay_ms : cfg->settle_delay_ms;
    j->top = cfg->page_size > 0 ? cfg->page_size : j->def->page_size;
    if (j->top > j->def->page_size_max) {
        j->top = j->def->page_size_max;
    }
    /* where in the interval this job's polls fall (not security relevant) */
    j->phase_ms = cfg->poll_interval_ms > 0 ? rand() % cfg->poll_interval_ms : 0;
    j->acks = calloc(e->noutputs, sizeof(*j->acks));
    if (j->acks == NULL || dfw_cursor_init(&j->cursor, 0) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    for (unsigned o = 0; o < e->noutputs; o++) {
        j->acks[o].job = j;
        j->acks[o].out = o;
    }
    bucket_init(&j->per_min, j->def->rate_per_min, 60000, now);
    bucket_init(&j->per_hour, j->def->rate_per_hour, 3600000, now);
    return DFW_OK;
}

/* The index of client_id's app-wide Graph bucket, made on first use; -1 when out of memory. */
static long graph_app(struct dfw_engine *e, const char *client_id, int64_t now)
{
    for (size_t i = 0; i < e->napps; i++) {
        if (strcmp(e->apps[i].client_id, client_id) == 0) {
            return (long)i;
        }
    }
    if (e->napps == e->capapps) {
        size_t cap = e->capapps ? e->capapps * 2 : 8;
        struct app_bucket *n = realloc(e->apps, cap * sizeof(*n));
        if (n == NULL) {
            return -1;
        }
        e->apps = n;
        e->capapps = cap;
    }
    struct app_bucket *a = &e->apps[e->napps];
    a->client_id = strdup(client_id);
    if (a->client_id == NULL) {
        return -1;
    }
    bucket_init(&a->b, GRAPH_APP_REQUESTS, GRAPH_APP_PERIOD_MS, now);
    return (long)e->napps++;
}

struct tenant_rt *
dfw__tenant_new(struct dfw_engine *e, const struct dfw_tenant_conf *tc, char *errbuf, size_t errlen)
{
    struct tenant_rt *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    t->engine = e;
    t->conf = tc;
    t->cloud = dfw_cloud_find(tc->cloud ? tc->cloud : "global");
    if (t->cloud == NULL) {
        snprintf(errbuf, errlen, "tenant %s: unknown cloud %s", tc->name, tc->cloud);
        dfw__tenant_free(t);
        return NULL;
    }
    t->defender_url = tc->defender_url ? tc->defender_url : t->cloud->defender_url;
    t->graph_url = tc->graph_url ? tc->graph_url : t->cloud->graph_url;
    /* defender_url overrides both Defender hosts (a regional host or the emulator) */
    t->mde_url = tc->defender_url ? tc->defender_url : t->cloud->mde_url;
    t->auth = dfw_auth_new(tc, tc->login_url ? tc->login_url : t->cloud->login_url, errbuf, errlen);
    t->jobs = calloc(tc->nstreams ? tc->nstreams : 1, sizeof(*t->jobs));
    if (t->auth == NULL || t->jobs == NULL) {
        if (t->auth != NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        dfw__tenant_free(t);
        return NULL;
    }
    int64_t now = dfw_mono_ms();
    t->graph_app = graph_app(e, tc->client_id, now);
    if (t->graph_app < 0) {
        snprintf(errbuf, errlen, "tenant %s: out of memory", tc->name);
        dfw__tenant_free(t);
        return NULL;
    }
    for (size_t s = 0; s < tc->nstreams; s++) {
        dfw_err rc = job_init(t, &t->jobs[t->njobs], tc->streams[s], now);
        t->njobs++;
        if (rc != DFW_OK) {
            snprintf(errbuf, errlen, "tenant %s: %s %s", tc->name,
                     rc == DFW_ERR_CONFIG ? "unknown stream" : "out of memory", tc->streams[s]);
            dfw__tenant_free(t);
            return NULL;
        }
    }
    return t;
}

void dfw__tenant_free(struct tenant_rt *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->njobs; i++) {
        dfw__job_release(&t->jobs[i]);
    }
    for (size_t i = 0; i < t->nslots; i++) {
        free(t->slots[i].waiters);
    }
    dfw_auth_free(t->auth);
    free(t->jobs);
    free(t);
}
