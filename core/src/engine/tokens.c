/* Access tokens for the jobs: one request in flight per (tenant, resource) (single-flight), backoff
 * on transient failures, and the permanent failure that stops the tenant's streams.
 *
 * A refresh-token tenant (auth = refresh_token) sends one token request at a time across all its
 * resources: each answer rotates the refresh token, and dfw_auth_handle_response has written the
 * new one to refresh_token_file before it returns, so the next request (built afterwards) always
 * carries the newest, stored token. When Entra ID refuses the refresh token (expired or revoked
 * grant), every stream of that tenant fails with the advice to run `authorize` again; other
 * tenants are not touched. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/secret.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A token request failed transiently: back off; in --once mode give up after max_retries. */
static void token_retry(struct token_slot *s, int64_t now, int64_t retry_after_ms)
{
    const struct dfw_engine *e = s->tenant->engine;
    s->attempts++;
    s->retry_at =
        now + (retry_after_ms >= 0 ? retry_after_ms : dfw_backoff_ms(s->attempts, 1000, 60000));
    if (e->once && s->attempts > e->cfg->max_retries) {
        dfw_log(DFW_LOG_ERROR, "auth",
                "tenant=%s resource=%s msg=\"token endpoint still failing "
                "after %d attempts\"",
                s->tenant->conf->name, s->resource, s->attempts);
        s->failed = DFW_ERR_RETRY;
    }
}

/* A refused refresh token fails every resource of the tenant at once: they share the grant. */
static void fail_tenant_if_grant_refused(struct tenant_rt *t, dfw_err rc)
{
    if (rc != DFW_ERR_AUTH || !dfw_auth_needs_authorize(t->auth)) {
        return;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        t->slots[i].failed = rc;
    }
}

/* Another resource of a refresh-token tenant is being refreshed: wait for its answer. */
static int other_refresh_in_flight(const struct token_slot *s)
{
    const struct tenant_rt *t = s->tenant;
    if (t->conf->auth != DFW_AUTH_REFRESH_TOKEN) {
        return 0;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        if (&t->slots[i] != s && t->slots[i].in_flight) {
            return 1;
        }
    }
    return 0;
}

void dfw__token_wait(struct token_slot *s, struct job *j, int64_t now)
{
    if (!s->in_flight && now < s->retry_at) {
        dfw__job_at(j, s->retry_at);
        return;
    }
    if (j->waiting_token) {
        return;
    }
    if (s->nwaiters == s->capwaiters) {
        size_t cap = s->capwaiters ? s->capwaiters * 2 : 4;
        struct job **w = realloc(s->waiters, cap * sizeof(*w));
        if (w == NULL) {
            dfw__job_at(j, now + 1000); /* out of memory: look again later */
            return;
        }
        s->waiters = w;
        s->capwaiters = cap;
    }
    s->waiters[s->nwaiters++] = j;
    j->waiting_token = 1;
}

void dfw__token_forget(struct token_slot *s, struct job *j)
{
    for (size_t i = 0; i < s->nwaiters; i++) {
        if (s->waiters[i] == j) {
            s->waiters[i] = s->waiters[--s->nwaiters];
            j->waiting_token = 0;
            return;
        }
    }
}

/* A token request of the tenant ended: every job waiting for a token of it looks again (a
 * refresh-token tenant's other resources may now send theirs). */
static void wake_waiters(struct tenant_rt *t, int64_t now)
{
    for (size_t i = 0; i < t->nslots; i++) {
        struct token_slot *s = &t->slots[i];
        for (size_t k = 0; k < s->nwaiters; k++) {
            s->waiters[k]->waiting_token = 0;
            dfw__job_at(s->waiters[k], now);
        }
        s->nwaiters = 0;
    }
}

static void token_done(void *ctx, const struct dfw_http_response *r)
{
    struct token_slot *s = ctx;
    struct tenant_rt *t = s->tenant;
    int64_t now = dfw_mono_ms();
    char err[512];
    s->in_flight = 0;
    wake_waiters(t, now);
    if (r->transport != DFW_OK) {
        token_retry(s, now, -1);
        dfw_log(DFW_LOG_WARN, "auth",
                "tenant=%s resource=%s msg=\"token request failed\" error=\"%s\"", t->conf->name,
                s->resource, DFW_LOG_ESC(r->error));
        if (r->transport == DFW_ERR_INVALID) {
            s->failed = DFW_ERR_AUTH;
        }
        return;
    }
    dfw_err rc = dfw_auth_handle_response(t->auth, s->resource, r->status, r->body, r->len,
                                          dfw_now_ms(), err, sizeof(err));
    if (rc == DFW_OK) {
        s->attempts = 0;
        return;
    }
    if (dfw_err_retryable(rc)) {
        token_retry(s, now, r->retry_after_ms);
        dfw_log(DFW_LOG_WARN, "auth", "tenant=%s resource=%s msg=\"%s\"", t->conf->name,
                s->resource, DFW_LOG_ESC(err));
        return;
    }
    s->failed = rc;
    fail_tenant_if_grant_refused(t, rc);
    dfw_log(DFW_LOG_ERROR, "auth", "tenant=%s resource=%s msg=\"%s\"", t->conf->name, s->resource,
            DFW_LOG_ESC(err));
}

void dfw__token_request(struct token_slot *s, int64_t now)
{
    struct tenant_rt *t = s->tenant;
    if (s->in_flight || now < s->retry_at || other_refresh_in_flight(s)) {
        return;
    }
    char err[512];
    char *body = NULL;
    dfw_err rc = dfw_auth_request_body(t->auth, s->resource, dfw_now_ms(), &body, err, sizeof(err));
    if (rc != DFW_OK) {
        s->failed = rc;
        fail_tenant_if_grant_refused(t, rc);
        dfw_log(DFW_LOG_ERROR, "auth", "tenant=%s msg=\"%s\"", t->conf->name, DFW_LOG_ESC(err));
        return;
    }
    rc = dfw_http_post_form(t->engine->http, dfw_auth_token_url(t->auth), body, token_done, s);
    dfw_secret_free(body);
    if (rc == DFW_OK) {
        s->in_flight = 1;
        t->token_requests++;
    }
    else {
        s->retry_at = now + 1000;
    }
}
