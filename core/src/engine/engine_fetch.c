/* Fetching: rate budget, API requests and their HTTP outcomes. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/permission.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Take one request from the per-minute and per-hour budgets, or say when one is available. */
static int64_t bucket_wait(struct bucket *b, int64_t now)
{
    if (b->capacity <= 0) {
        return 0;
    }
    b->tokens += (double)(now - b->last) * b->per_ms;
    if (b->tokens > b->capacity) {
        b->tokens = b->capacity;
    }
    b->last = now;
    if (b->tokens >= 1.0) {
        return 0;
    }
    return (int64_t)((1.0 - b->tokens) / b->per_ms) + 1;
}

static const char *missing_role(const struct job *j, const struct dfw_claims *claims)
{
    return dfw_claims_missing_permission(claims, j->def->role, j->def->role_alt, j->def->scopes);
}

/* The message of a Defender/Graph error body {"error":{"code","message"}}, for logs. */
static void api_error_text(const struct dfw_http_response *r, char *out, size_t outlen)
{
    const char *m = r->body ? strstr(r->body, "\"message\"") : NULL;
    if (m == NULL) {
        snprintf(out, outlen, "HTTP %ld", r->status);
        return;
    }
    m = strchr(m + 9, '"');
    if (m == NULL) {
        snprintf(out, outlen, "HTTP %ld", r->status);
        return;
    }
    m++;
    size_t n = strcspn(m, "\"\r\n");
    snprintf(out, outlen, "HTTP %ld: %.*s", r->status, (int)(n > 200 ? 200 : n), m);
}

/* Seconds from "You can send requests again in N seconds." (Defender 429 body, reference §6.2). */
static int64_t retry_from_body(const struct dfw_http_response *r)
{
    const char *p = r->body ? strstr(r->body, "again in ") : NULL;
    if (p == NULL) {
        return -1;
    }
    long secs = strtol(p + 9, NULL, 10);
    return secs > 0 ? (int64_t)secs * 1000 : -1;
}

/* The path of a URL (or of a bare path) for log lines: no query, which may be long; never a
 * token. */
static void url_path(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : url;
    if (p == NULL) {
        p = "/";
    }
    snprintf(out, outlen, "%.*s", (int)strcspn(p, "?"), p);
}

static void fetch_done(void *ctx, const struct dfw_http_response *r)
{
    struct job *j = ctx;
    struct dfw_engine *e = j->tenant->engine;
    int64_t now = dfw_mono_ms();
    j->in_flight = 0;
    j->bytes += r->len;
    char path[256], why[320];
    url_path(j->cursor.next_link ? j->cursor.next_link : j->def->path, path, sizeof(path));
    if (r->transport != DFW_OK) {
        dfw_log(DFW_LOG_WARN, "fetch",
                "tenant=%s stream=%s path=%s msg=\"request failed\" error=\"%s\"",
                j->tenant->conf->name, j->def->name, path, r->error);
        dfw__job_retry(j, now, -1, r->error);
        return;
    }
    if (r->status == 200) {
        dfw__job_page_received(j, r, now);
        return;
    }
    api_error_text(r, why, sizeof(why));
    if (r->status == 429) {
        j->throttled++;
        int64_t wait = r->retry_after_ms >= 0 ? r->retry_after_ms : retry_from_body(r);
        dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s path=%s status=429 retry_after_ms=%lld",
                j->tenant->conf->name, j->def->name, path, (long long)wait);
        /* a 429 is the service's own pacing, not a failure: it never marks the job failing */
        j->due = now + (wait >= 0 ? wait : dfw_backoff_ms(j->attempts + 1, 1000, 60000));
        return;
    }
    if (r->status == 401) {
        dfw_auth_invalidate(j->tenant->auth, j->resource);
        dfw_log(DFW_LOG_WARN, "fetch",
                "tenant=%s stream=%s path=%s status=401 msg=\"token rejected; "
                "getting a new one\"",
                j->tenant->conf->name, j->def->name, path);
        dfw__job_retry(j, now, j->attempts == 0 ? 0 : -1, why);
        return;
    }
    if (r->status == 403) {
        dfw_log(DFW_LOG_ERROR, "fetch",
                "tenant=%s stream=%s path=%s status=403 msg=\"%s; the "
                "application needs the %s permission with admin consent\"",
                j->tenant->conf->name, j->def->name, path, why, j->def->role);
        dfw__job_fail(j, DFW_ERR_FORBIDDEN);
        return;
    }
    if (r->status == 400 && j->cursor.next_link != NULL) {
        /* an expired next link: read the sweep again; the seen set drops what was delivered */
        dfw_log(DFW_LOG_WARN, "fetch",
                "tenant=%s stream=%s path=%s status=400 msg=\"next link "
                "rejected (%s); restarting the sweep\"",
                j->tenant->conf->name, j->def->name, path, why);
        dfw_cursor_restart_sweep(&j->cursor);
        dfw__job_retry(j, now, -1, why);
        return;
    }
    if (r->status >= 500 || r->status == 408) {
        dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s path=%s status=%ld msg=\"%s\"",
                j->tenant->conf->name, j->def->name, path, r->status, why);
        dfw__job_retry(j, now, r->retry_after_ms, why);
        return;
    }
    dfw_log(DFW_LOG_ERROR, "fetch", "tenant=%s stream=%s path=%s status=%ld msg=\"%s\"",
            j->tenant->conf->name, j->def->name, path, r->status, why);
    if (e->once) {
        dfw__job_fail(j, DFW_ERR_INVALID);
    }
    else {
        dfw__job_retry(j, now, -1, why);
    }
}

void dfw__job_fetch(struct job *j, int64_t now)
{
    struct tenant_rt *t = j->tenant;
    struct dfw_engine *e = t->engine;
    if (j->slot->failed != DFW_OK) {
        dfw__job_fail(j, j->slot->failed);
        return;
    }
    const struct dfw_token *tok = dfw_auth_token(t->auth, j->resource, dfw_now_ms());
    if (tok == NULL) {
        dfw__token_request(j->slot, now);
        j->due = now + 20; /* re-check when the token request completes */
        return;
    }
    const char *missing = missing_role(j, tok->claims);
    if (missing != NULL) {
        dfw_log(DFW_LOG_ERROR, "auth",
                "tenant=%s stream=%s msg=\"the access token for %s has no "
                "%s role: add the application permission %s and grant admin consent "
                "(defender-forwarder consent-url %s)\"",
                t->conf->name, j->def->name, j->resource, missing, missing, t->conf->name);
        dfw__job_fail(j, DFW_ERR_FORBIDDEN);
        return;
    }
    int64_t wait = bucket_wait(&j->per_min, now);
    int64_t wait_h = bucket_wait(&j->per_hour, now);
    if (wait_h > wait) {
        wait = wait_h;
    }
    if (wait > 0) {
        j->due = now + wait;
        return;
    }
    char *url = NULL;
    if (j->cursor.next_link == NULL) {
        int top = e->cfg->page_size > 0 ? e->cfg->page_size : j->def->page_size;
        if (top > j->def->page_size_max) {
            top = j->def->page_size_max;
        }
        url = dfw_stream_url(j->def, j->base_url, j->cursor.sweep_from_ms, j->cursor.sweep_to_ms,
                             top);
    }
    dfw_err rc =
        dfw_http_get(e->http, url ? url : j->cursor.next_link, tok->access_token, fetch_done, j);
    free(url);
    if (rc != DFW_OK) {
        j->due = now + 1000;
        return;
    }
    if (j->per_min.capacity > 0) {
        j->per_min.tokens -= 1.0;
    }
    if (j->per_hour.capacity > 0) {
        j->per_hour.tokens -= 1.0;
    }
    j->in_flight = 1;
    j->api_calls++;
}
