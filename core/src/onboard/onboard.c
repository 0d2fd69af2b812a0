/* The onboard check (dfw/onboard.h): per tenant a token per resource, then one $top=1 call per
 * stream, all tenants at once on one libcurl multi loop with a cap on transfers in flight. A
 * refresh-token tenant sends one token request at a time (each answer rotates and stores the
 * refresh token). The report is rendered by onboard_report.c. */
#include "dfw/onboard.h"
#include "dfw/auth.h"
#include "dfw/buf.h"
#include "dfw/cloud.h"
#include "dfw/http.h"
#include "dfw/secret.h"
#include "dfw/timeutil.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RES   3
#define MAX_CALLS 8

enum slot_state { S_WAIT, S_FLIGHT, S_DONE, S_FAILED };
enum call_state { C_TOKEN, C_READY, C_FLIGHT, C_DONE };

struct tenant_run;

struct res_slot {
    struct tenant_run *t;
    const char *resource;
    enum slot_state state;
    int attempts;
    int64_t due; /* monotonic ms */
};

struct call {
    struct tenant_run *t;
    struct dfw_onboard_stream *out;
    struct res_slot *slot;
    const char *base_url;
    enum call_state state;
    int attempts;
    int64_t due;
};

struct run;

struct tenant_run {
    struct run *run;
    struct dfw_onboard_tenant *rep;
    struct dfw_auth *auth;
    struct res_slot slots[MAX_RES];
    size_t nslots;
    struct call calls[MAX_CALLS];
    size_t ncalls;
    int finished;
};

struct run {
    const struct dfw_config *cfg;
    struct dfw_http *http;
    struct tenant_run *tenants;
    size_t ntenants;
    size_t finished;
    int inflight;
    int cap;
};

/* ---- verdicts ---- */

static void set_detail(char *dst, size_t n, const char *text)
{
    size_t i = 0;
    for (; text != NULL && text[i] != '\0' && i + 1 < n; i++) {
        unsigned char c = (unsigned char)text[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    dst[i] = '\0';
}

/* The tenant's first token failure is its verdict. */
static void token_failed(struct tenant_run *t, enum dfw_onboard_token why, const char *detail)
{
    if (t->rep->token == DFW_OB_TOKEN_OK) {
        t->rep->token = why;
        set_detail(t->rep->detail, sizeof(t->rep->detail), detail);
    }
}

static void fail_slot(struct res_slot *s, enum dfw_onboard_token why)
{
    s->state = S_FAILED;
    for (size_t i = 0; i < s->t->ncalls; i++) {
        struct call *c = &s->t->calls[i];
        if (c->slot == s && c->state != C_DONE) {
            c->state = C_DONE;
            c->out->verdict =
                why == DFW_OB_TOKEN_NO_CONSENT ? DFW_OB_NO_CONSENT : DFW_OB_TOKEN_FAILED;
        }
    }
}

static int64_t retry_delay(int attempt, int64_t retry_after_ms)
{
    if (retry_after_ms >= 0) {
        return retry_after_ms < 120000 ? retry_after_ms : 120000;
    }
    return dfw_backoff_ms(attempt, 500, 30000);
}

/* ---- tokens ---- */

static int tenant_in_flight(const struct tenant_run *t)
{
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i].state == S_FLIGHT) {
            return 1;
        }
    }
    return 0;
}

static void token_ok(struct res_slot *s)
{
    struct tenant_run *t = s->t;
    const struct dfw_token *tok = dfw_auth_token(t->auth, s->resource, INT64_MIN / 2);
    s->state = S_DONE;
    if (tok == NULL) {
        token_failed(t, DFW_OB_TOKEN_ERROR, "the token is not usable");
        fail_slot(s, DFW_OB_TOKEN_ERROR);
        return;
    }
    t->rep->kind = dfw_claims_kind(tok->claims);
    t->rep->have_kind = 1;
    set_detail(t->rep->tid, sizeof(t->rep->tid), tok->claims->tid);
    for (size_t i = 0; i < t->ncalls; i++) {
        struct call *c = &t->calls[i];
        if (c->slot != s || c->state != C_TOKEN) {
            continue;
        }
        const struct dfw_stream_def *d = c->out->def;
        c->out->permission =
            dfw_stream_missing_permission(d, dfw_stream_expands(d, t->rep->conf), tok->claims);
        if (c->out->permission != NULL) {
            c->out->verdict = DFW_OB_MISSING_PERMISSION;
            c->state = C_DONE;
        }
        else {
            c->state = C_READY;
        }
    }
}

static void token_done(void *ctx, const struct dfw_http_response *r)
{
    struct res_slot *s = ctx;
    struct tenant_run *t = s->t;
    const struct dfw_config *cfg = t->run->cfg;
    t->run->inflight--;
    char err[640] = "";
    dfw_err rc;
    enum dfw_auth_failure kind = DFW_AUTHF_TRANSIENT;
    if (r->transport != DFW_OK) {
        rc = r->transport == DFW_ERR_RETRY ? DFW_ERR_RETRY : DFW_ERR_IO;
        snprintf(err, sizeof(err), "token request failed: %s", r->error);
    }
    else {
        rc = dfw_auth_handle_response(t->auth, s->resource, r->status, r->body, r->len,
                                      dfw_now_ms(), err, sizeof(err));
        if (rc != DFW_OK && r->status != 200) {
            kind = dfw_auth_classify_error(r->status, r->body, r->len);
        }
    }
    if (rc == DFW_OK) {
        token_ok(s);
        return;
    }
    if (dfw_err_retryable(rc) && ++s->attempts <= cfg->max_retries) {
        s->state = S_WAIT;
        s->due = dfw_mono_ms() + retry_delay(s->attempts, r->retry_after_ms);
        return;
    }
    enum dfw_onboard_token why = DFW_OB_TOKEN_ERROR;
    if (r->transport == DFW_OK && r->status == 200) {
        why = DFW_OB_TOKEN_WRONG_TENANT; /* the only refusal of a 200: tid */
    }
    else if (r->transport == DFW_OK) {
        why = kind == DFW_AUTHF_CONSENT         ? DFW_OB_TOKEN_NO_CONSENT
              : kind == DFW_AUTHF_GRANT_EXPIRED ? DFW_OB_TOKEN_AUTHORIZE
              : kind == DFW_AUTHF_CREDENTIAL    ? DFW_OB_TOKEN_CREDENTIAL
              : kind == DFW_AUTHF_TENANT        ? DFW_OB_TOKEN_WRONG_TENANT
                                                : DFW_OB_TOKEN_ERROR;
    }
    token_failed(t, why, err);
    fail_slot(s, why);
    /* a refused grant or a wrong tenant holds for every resource of the tenant */
    if (why == DFW_OB_TOKEN_AUTHORIZE || why == DFW_OB_TOKEN_WRONG_TENANT) {
        for (size_t i = 0; i < t->nslots; i++) {
            if (t->slots[i].state == S_WAIT) {
                fail_slot(&t->slots[i], why);
            }
        }
    }
}

static void start_token(struct res_slot *s)
{
    struct tenant_run *t = s->t;
    char err[640] = "";
    char *body = NULL;
    dfw_err rc = dfw_auth_request_body(t->auth, s->resource, dfw_now_ms(), &body, err, sizeof(err));
    if (rc == DFW_OK) {
        rc = dfw_http_post_form(t->run->http, dfw_auth_token_url(t->auth), body, token_done, s);
        dfw_secret_free(body);
        if (rc == DFW_OK) {
            s->state = S_FLIGHT;
            t->run->inflight++;
            return;
        }
        snprintf(err, sizeof(err), "cannot queue the token request: %s", dfw_strerror(rc));
    }
    enum dfw_onboard_token why =
        dfw_auth_needs_authorize(t->auth) ? DFW_OB_TOKEN_AUTHORIZE : DFW_OB_TOKEN_ERROR;
    token_failed(t, why, err);
    fail_slot(s, why);
}

/* ---- API calls ---- */

/* error.message of a Defender or Graph error body, else "". */
static void api_message(const struct dfw_http_response *r, char *out, size_t n)
{
    out[0] = '\0';
    json_tokener *tok = r->body != NULL && r->len > 0 ? json_tokener_new() : NULL;
    json_object *root = tok ? json_tokener_parse_ex(tok, r->body, (int)r->len) : NULL;
    json_object *e = NULL, *m = NULL;
    if (root != NULL && json_object_object_get_ex(root, "error", &e) &&
        json_object_object_get_ex(e, "message", &m) && json_object_is_type(m, json_type_string)) {
        set_detail(out, n < 240 ? n : 240, json_object_get_string(m));
        size_t len = strlen(out);
        while (len > 0 && (out[len - 1] == '.' || out[len - 1] == ' ')) {
            out[--len] = '\0';
        }
    }
    json_object_put(root);
    if (tok != NULL) {
        json_tokener_free(tok);
    }
}

static void call_done(void *ctx, const struct dfw_http_response *r)
{
    struct call *c = ctx;
    struct dfw_onboard_stream *o = c->out;
    const struct dfw_config *cfg = c->t->run->cfg;
    c->t->run->inflight--;
    o->http_status = r->status;
    int retry = 0;
    int64_t retry_after = r->retry_after_ms;
    if (r->transport != DFW_OK) {
        set_detail(o->detail, sizeof(o->detail), r->error);
        retry = r->transport == DFW_ERR_RETRY;
    }
    else if (r->status == 200) {
        struct dfw_page page;
        char why[256] = "";
        if (dfw_stream_parse_page(r->body, r->len, c->base_url, &page, why, sizeof(why)) ==
            DFW_OK) {
            dfw_page_free(&page);
            o->verdict = DFW_OB_OK;
            o->detail[0] = '\0';
            c->state = C_DONE;
            return;
        }
        set_detail(o->detail, sizeof(o->detail), why);
        retry = 1;
    }
    else {
        api_message(r, o->detail, sizeof(o->detail));
        retry = r->status == 429 || r->status == 408 || r->status >= 500;
        if (r->status == 403) {
            o->verdict = DFW_OB_NOT_ALLOWED;
            c->state = C_DONE;
            return;
        }
    }
    if (retry && ++c->attempts <= cfg->max_retries) {
        c->state = C_READY;
        c->due = dfw_mono_ms() + retry_delay(c->attempts, retry_after);
        return;
    }
    o->verdict = DFW_OB_API_ERROR;
    c->state = C_DONE;
}

static void start_call(struct call *c)
{
    struct tenant_run *t = c->t;
    const struct dfw_token *tok = dfw_auth_token(t->auth, c->slot->resource, dfw_now_ms());
    if (tok == NULL) {
        /* expired while waiting (short-lived tokens): get a new one first */
        c->slot->state = S_WAIT;
        c->slot->due = 0;
        c->state = C_TOKEN;
        return;
    }
    struct dfw_buf url = DFW_BUF_INIT;
    dfw_err rc = dfw_buf_printf(&url, "%s%s?$top=1", c->base_url, c->out->def->path);
    if (rc == DFW_OK) {
        rc = dfw_http_get(t->run->http, url.data, tok->access_token, dfw_stream_header(c->out->def),
                          NULL, call_done, c);
    }
    dfw_buf_free(&url);
    if (rc != DFW_OK) {
        c->out->verdict = DFW_OB_API_ERROR;
        set_detail(c->out->detail, sizeof(c->out->detail), dfw_strerror(rc));
        c->state = C_DONE;
        return;
    }
    c->state = C_FLIGHT;
    t->run->inflight++;
}

/* ---- the loop ---- */

static int tenant_finished(struct tenant_run *t)
{
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i].state == S_WAIT || t->slots[i].state == S_FLIGHT) {
            return 0;
        }
    }
    for (size_t i = 0; i < t->ncalls; i++) {
        if (t->calls[i].state != C_DONE) {
            return 0;
        }
    }
    int ready = t->rep->token == DFW_OB_TOKEN_OK;
    for (size_t i = 0; i < t->rep->nstreams; i++) {
        enum dfw_onboard_verdict v = t->rep->streams[i].verdict;
        ready = ready && (v == DFW_OB_OK || v == DFW_OB_NOT_CONFIGURED);
    }
    t->rep->ready = ready;
    return 1;
}

static void step(struct run *run, struct tenant_run *t, int64_t now)
{
    int refresh = t->rep->conf->auth == DFW_AUTH_REFRESH_TOKEN;
    for (size_t i = 0; i < t->nslots && run->inflight < run->cap; i++) {
        struct res_slot *s = &t->slots[i];
        if (s->state == S_WAIT && now >= s->due && !(refresh && tenant_in_flight(t))) {
            start_token(s);
        }
    }
    for (size_t i = 0; i < t->ncalls && run->inflight < run->cap; i++) {
        struct call *c = &t->calls[i];
        if (c->state == C_READY && now >= c->due) {
            start_call(c);
        }
    }
    if (tenant_finished(t)) {
        t->finished = 1;
        run->finished++;
    }
}

static const char *base_url(const struct dfw_tenant_conf *tc,
                            const struct dfw_cloud *cloud,
                            const struct dfw_stream_def *d)
{
    switch (d->host) {
    case DFW_HOST_GRAPH:
        return tc->graph_url ? tc->graph_url : cloud->graph_url;
    case DFW_HOST_MDE:
        return tc->defender_url ? tc->defender_url : cloud->mde_url;
    case DFW_HOST_DEFENDER:
        break;
    }
    return tc->defender_url ? tc->defender_url : cloud->defender_url;
}

static void tenant_init(struct run *run,
                        struct tenant_run *t,
                        struct dfw_onboard_tenant *rep,
                        const struct dfw_tenant_conf *tc)
{
    t->run = run;
    t->rep = rep;
    rep->conf = tc;
    const struct dfw_cloud *cloud = dfw_cloud_find(tc->cloud ? tc->cloud : "global");
    for (size_t i = 0; dfw_streams[i] != NULL && rep->nstreams < MAX_CALLS; i++) {
        struct dfw_onboard_stream *o = &rep->streams[rep->nstreams++];
        o->def = dfw_streams[i];
        o->verdict = DFW_OB_NOT_CONFIGURED;
        for (size_t k = 0; k < tc->nstreams; k++) {
            if (strcmp(tc->streams[k], o->def->name) == 0) {
                o->verdict = DFW_OB_TOKEN_FAILED; /* until decided */
            }
        }
    }
    char err[640] = "";
    t->auth = dfw_auth_new(tc, tc->login_url ? tc->login_url : cloud->login_url, err, sizeof(err));
    if (t->auth == NULL) {
        int no_rt = tc->auth == DFW_AUTH_REFRESH_TOKEN && tc->refresh_token_file != NULL &&
                    access(tc->refresh_token_file, F_OK) != 0;
        token_failed(t, no_rt ? DFW_OB_TOKEN_AUTHORIZE : DFW_OB_TOKEN_CREDENTIAL, err);
        return;
    }
    for (size_t i = 0; i < rep->nstreams; i++) {
        struct dfw_onboard_stream *o = &rep->streams[i];
        if (o->verdict == DFW_OB_NOT_CONFIGURED) {
            continue;
        }
        const char *resource = dfw_stream_resource(o->def, cloud);
        struct res_slot *s = NULL;
        for (size_t k = 0; k < t->nslots; k++) {
            if (strcmp(t->slots[k].resource, resource) == 0) {
                s = &t->slots[k];
            }
        }
        if (s == NULL && t->nslots < MAX_RES) {
            s = &t->slots[t->nslots++];
            s->t = t;
            s->resource = resource;
            s->state = S_WAIT;
        }
        struct call *c = &t->calls[t->ncalls++];
        c->t = t;
        c->out = o;
        c->slot = s;
        c->base_url = base_url(tc, cloud, o->def);
        c->state = C_TOKEN;
    }
}

static void progress(const struct run *run, int final)
{
    size_t ready = 0;
    for (size_t i = 0; i < run->ntenants; i++) {
        ready += run->tenants[i].finished && run->tenants[i].rep->ready;
    }
    fprintf(stderr, "\ronboard: %zu/%zu tenants checked, %zu ready, %d requests in flight%s",
            run->finished, run->ntenants, ready, run->inflight, final ? "\n" : "   ");
}

struct dfw_onboard_report *dfw_onboard_run(const struct dfw_config *cfg,
                                           const struct dfw_onboard_opts *opts,
                                           char *errbuf,
                                           size_t errlen)
{
    struct dfw_onboard_report *r = calloc(1, sizeof(*r));
    struct run run = {cfg, NULL, NULL, cfg->ntenants, 0, 0, 64};
    if (cfg->max_connections > 0) {
        run.cap = cfg->max_connections;
    }
    run.tenants = calloc(cfg->ntenants ? cfg->ntenants : 1, sizeof(*run.tenants));
    if (r != NULL) {
        r->tenants = calloc(cfg->ntenants ? cfg->ntenants : 1, sizeof(*r->tenants));
    }
    struct dfw_http_opts ho = {.ca_file = cfg->ca_file,
                               .timeout_ms = cfg->http_timeout_ms,
                               .connect_timeout_ms = cfg->connect_timeout_ms,
                               .max_connections = run.cap,
                               .user_agent = "defender-forwarder/" DFW_VERSION};
    if (r == NULL || r->tenants == NULL || run.tenants == NULL ||
        (run.http = dfw_http_new(&ho, errbuf, errlen)) == NULL) {
        if (r == NULL || r->tenants == NULL || run.tenants == NULL) {
            dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        }
        free(run.tenants);
        dfw_onboard_report_free(r);
        return NULL;
    }
    int64_t start = dfw_mono_ms();
    r->ntenants = cfg->ntenants;
    for (size_t i = 0; i < cfg->ntenants; i++) {
        tenant_init(&run, &run.tenants[i], &r->tenants[i], &cfg->tenants[i]);
    }
    int64_t last = start;
    while (run.finished < run.ntenants) {
        int64_t now = dfw_mono_ms();
        for (size_t i = 0; i < run.ntenants; i++) {
            if (!run.tenants[i].finished) {
                step(&run, &run.tenants[i], now);
            }
        }
        if (run.finished == run.ntenants) {
            break;
        }
        dfw_http_run(run.http, 50);
        if (opts != NULL && opts->progress && dfw_mono_ms() - last >= 2000) {
            progress(&run, 0);
            last = dfw_mono_ms();
        }
    }
    if (opts != NULL && opts->progress) {
        progress(&run, 1);
    }
    dfw_http_free(run.http);
    for (size_t i = 0; i < run.ntenants; i++) {
        dfw_auth_free(run.tenants[i].auth);
        r->ready += r->tenants[i].ready;
    }
    free(run.tenants);
    r->elapsed_ms = dfw_mono_ms() - start;
    return r;
}

void dfw_onboard_report_free(struct dfw_onboard_report *r)
{
    if (r == NULL) {
        return;
    }
    free(r->tenants);
    free(r);
}
