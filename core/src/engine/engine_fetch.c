/* One API request of a job: the access token, the rate budget, the URL of the window's slice; and
 * the verdict on the answer (page, retry, wait, fail). Below job.c: it never changes the job's
 * life-cycle state itself. */
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
    return dfw_stream_missing_permission(j->def, dfw_stream_expands(j->def, j->tenant->conf),
                                         claims);
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
    int64_t ms = dfw_http_delay_seconds_ms(p + 9, NULL); /* capped: now + ms cannot overflow */
    return ms > 0 ? ms : -1;
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

void dfw__fetch_verdict(struct job *j, const struct dfw_http_response *r, struct fetch_verdict *v)
{
    const char *tenant = j->tenant->conf->name;
    char path[256];
    url_path(j->def->path, path, sizeof(path));
    v->kind = V_RETRY;
    v->wait_ms = -1;
    v->err = DFW_OK;
    v->why[0] = '\0';
    if (r->transport != DFW_OK) {
        dfw_log(DFW_LOG_WARN, "fetch",
                "tenant=%s stream=%s path=%s msg=\"request failed\" error=\"%s\"", tenant,
                j->def->name, path, DFW_LOG_ESC(r->error));
        snprintf(v->why, sizeof(v->why), "%s", r->error);
        return;
    }
    if (r->status == 200) {
        v->kind = V_PAGE;
        return;
    }
    api_error_text(r, v->why, sizeof(v->why));
    if (r->status == 429) {
        j->throttled++;
        v->kind = V_THROTTLED;
        v->wait_ms = r->retry_after_ms >= 0 ? r->retry_after_ms : retry_from_body(r);
        dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s path=%s status=429 retry_after_ms=%lld",
                tenant, j->def->name, path, (long long)v->wait_ms);
        return;
    }
    if (r->status == 401) {
        dfw_auth_invalidate(j->tenant->auth, j->resource);
        dfw_log(DFW_LOG_WARN, "fetch",
                "tenant=%s stream=%s path=%s status=401 msg=\"token rejected; "
                "getting a new one\"",
                tenant, j->def->name, path);
        v->wait_ms = j->attempts == 0 ? 0 : -1;
        return;
    }
    if (r->status == 403) {
        dfw_log(DFW_LOG_ERROR, "fetch",
                "tenant=%s stream=%s path=%s status=403 msg=\"%s; the "
                "application needs the %s permission with admin consent\"",
                tenant, j->def->name, path, DFW_LOG_ESC(v->why), j->def->role);
        v->kind = V_FAIL;
        v->err = DFW_ERR_FORBIDDEN;
        return;
    }
    if (r->status >= 500 || r->status == 408) {
        dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s path=%s status=%ld msg=\"%s\"", tenant,
                j->def->name, path, r->status, DFW_LOG_ESC(v->why));
        v->wait_ms = r->retry_after_ms;
        return;
    }
    dfw_log(DFW_LOG_ERROR, "fetch", "tenant=%s stream=%s path=%s status=%ld msg=\"%s\"", tenant,
            j->def->name, path, r->status, DFW_LOG_ESC(v->why));
    if (j->tenant->engine->once) {
        v->kind = V_FAIL;
        v->err = DFW_ERR_INVALID;
    }
}

enum fetch_send dfw__fetch_send(struct job *j,
                                int64_t now,
                                const struct dfw_window *w,
                                struct dfw_slice *slice,
                                int ahead,
                                dfw_http_done_fn done)
{
    struct tenant_rt *t = j->tenant;
    struct dfw_engine *e = t->engine;
    if (ahead) {
        /* only when it can go at once: a missing token or permission is the next send's to say */
        const struct dfw_token *tk =
            j->slot->failed == DFW_OK ? dfw_auth_token(t->auth, j->resource, dfw_now_ms()) : NULL;
        if (tk == NULL || missing_role(j, tk->claims) != NULL) {
            return FS_WAIT;
        }
    }
    if (j->slot->failed != DFW_OK) {
        j->fail_err = j->slot->failed;
        return FS_FAILED;
    }
    const struct dfw_token *tok = dfw_auth_token(t->auth, j->resource, dfw_now_ms());
    if (tok == NULL) {
        dfw__token_request(j->slot, now);
        if (j->slot->failed != DFW_OK) {
            j->fail_err = j->slot->failed;
            return FS_FAILED;
        }
        dfw__token_wait(j->slot, j, now); /* woken when a token request of the tenant ends */
        return FS_WAIT;
    }
    const char *missing = missing_role(j, tok->claims);
    if (missing != NULL) {
        const char *kind = dfw_token_kind_name(dfw_claims_kind(tok->claims));
        dfw_log(DFW_LOG_ERROR, "auth",
                "tenant=%s stream=%s msg=\"the %s access token for %s lacks the %s permission "
                "%s: add it to the app and grant admin consent (defender-forwarder consent-url "
                "%s)\"",
                t->conf->name, j->def->name, kind, j->resource, kind, missing, t->conf->name);
        j->fail_err = DFW_ERR_FORBIDDEN;
        return FS_FAILED;
    }
    int64_t wait = bucket_wait(&j->per_min, now);
    int64_t wait_h = bucket_wait(&j->per_hour, now);
    struct bucket *app = j->def->host == DFW_HOST_GRAPH ? &e->apps[t->graph_app].b : NULL;
    int64_t wait_a = app ? bucket_wait(app, now) : 0;
    wait = wait_h > wait ? wait_h : wait;
    wait = wait_a > wait ? wait_a : wait;
    if (wait > 0) {
        if (!ahead) {
            dfw__job_at(j, now + wait);
        }
        return FS_WAIT;
    }
    dfw_window_slice(w, slice);
    char *url =
        dfw_stream_url(j->def, j->base_url, slice, j->top, dfw_stream_expands(j->def, t->conf));
    dfw_err rc = url ? dfw_http_get(e->http, url, tok->access_token, dfw_stream_header(j->def),
                                    &j->spare, done, j)
                     : DFW_ERR_NOMEM;
    free(url);
    if (rc != DFW_OK) {
        if (!ahead) {
            dfw__job_at(j, now + 1000);
        }
        return FS_WAIT;
    }
    if (j->per_min.capacity > 0) {
        j->per_min.tokens -= 1.0;
    }
    if (j->per_hour.capacity > 0) {
        j->per_hour.tokens -= 1.0;
    }
    if (app != NULL) {
        app->tokens -= 1.0;
    }
    j->in_flight = 1;
    j->api_calls++;
    return FS_SENT;
}
