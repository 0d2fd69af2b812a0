/* One authorize sign-in (dfw/authorize.h): proof key, listener or pasted redirect, preflight of
 * the sign-in page, code redemption. The refresh token is stored by the token provider (auth
 * module) only after the token's tid matched, atomically and with mode 0600. */
#include "dfw/authorize.h"
#include "dfw/auth.h"
#include "dfw/buf.h"
#include "dfw/cloud.h"
#include "dfw/http.h"
#include "dfw/listener.h"
#include "dfw/secret.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dfw_authorize {
    const struct dfw_config *cfg;
    const struct dfw_tenant_conf *tenant;
    const char *login_url;
    const char *resource;
    struct dfw_auth *auth;
    struct dfw_http *http;
    struct dfw_pkce pkce;
    struct dfw_listener *listener;
    char *redirect_uri;
    char *url;
    /* handed over by the listener's thread */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int have_result;
    struct dfw_authcode_result result;
};

/* ---- the redirect listener ---- */

static void html_escaped(struct dfw_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            dfw_buf_puts(b, "&lt;");
            break;
        case '>':
            dfw_buf_puts(b, "&gt;");
            break;
        case '&':
            dfw_buf_puts(b, "&amp;");
            break;
        case '"':
            dfw_buf_puts(b, "&quot;");
            break;
        default:
            dfw_buf_append(b, s, 1);
        }
    }
}

static void page(struct dfw_listener_reply *r, int status, const char *title, const char *text)
{
    r->status = status;
    r->content_type = "text/html; charset=utf-8";
    dfw_buf_puts(&r->body, "<!doctype html><html><head><meta charset=\"utf-8\"><title>"
                           "defender-forwarder authorize</title></head><body><h1>");
    html_escaped(&r->body, title);
    dfw_buf_puts(&r->body, "</h1><p>");
    html_escaped(&r->body, text);
    dfw_buf_puts(&r->body, "</p></body></html>\n");
}

static void
on_redirect(void *ctx, const struct dfw_listener_request *req, struct dfw_listener_reply *r)
{
    struct dfw_authorize *a = ctx;
    if (strcmp(dfw_listener_path(req), "/") != 0) {
        page(r, 404, "Not found", "defender-forwarder waits for the sign-in redirect on /.");
        return;
    }
    struct dfw_authcode_reply reply = {
        dfw_listener_arg(req, "code"),
        dfw_listener_arg(req, "state"),
        dfw_listener_arg(req, "error"),
        dfw_listener_arg(req, "error_description"),
    };
    pthread_mutex_lock(&a->lock);
    if (a->have_result) {
        pthread_mutex_unlock(&a->lock);
        page(r, 409, "Already done", "This sign-in was already received; see the terminal.");
        return;
    }
    struct dfw_authcode_result res;
    if (dfw_authcode_judge(&reply, a->pkce.state, a->tenant->name, a->redirect_uri, &res) !=
        DFW_OK) {
        pthread_mutex_unlock(&a->lock);
        page(r, 500, "Out of memory", "Run defender-forwarder authorize again.");
        return;
    }
    if (res.outcome == DFW_AUTHCODE_INVALID) {
        /* someone opened http://localhost:PORT/ by hand: keep waiting */
        pthread_mutex_unlock(&a->lock);
        page(r, 400, "Waiting for the sign-in",
             "Open the sign-in URL that defender-forwarder authorize printed.");
        return;
    }
    a->result = res;
    a->have_result = 1;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (res.outcome == DFW_AUTHCODE_CODE) {
        page(r, 200, "Signed in",
             "You can close this window: defender-forwarder is storing the refresh token.");
    }
    else {
        page(r, 400, "Sign-in failed", res.message);
    }
}

/* ---- plain blocking HTTP on the shared client ---- */

struct sync_call {
    int done;
    long status;
    dfw_err transport;
    struct dfw_buf body;
    char error[256];
};

static void on_done(void *ctx, const struct dfw_http_response *r)
{
    struct sync_call *c = ctx;
    c->done = 1;
    c->status = r->status;
    c->transport = r->transport;
    snprintf(c->error, sizeof(c->error), "%s", r->error);
    if (dfw_buf_append(&c->body, r->body ? r->body : "", r->len) != DFW_OK) {
        c->transport = DFW_ERR_NOMEM;
    }
}

/* GET url (form == NULL) or POST form to it and wait for the answer. */
static dfw_err
sync_request(struct dfw_http *http, const char *url, const char *form, struct sync_call *c)
{
    memset(c, 0, sizeof(*c));
    dfw_err rc = form != NULL ? dfw_http_post_form(http, url, form, on_done, c)
                              : dfw_http_get(http, url, NULL, NULL, NULL, on_done, c);
    if (rc != DFW_OK) {
        return rc;
    }
    while (!c->done) {
        dfw_http_run(http, 200);
    }
    return DFW_OK;
}

/* ---- the session ---- */

struct dfw_authorize *dfw_authorize_new(const struct dfw_config *cfg,
                                        const char *tenant_name,
                                        const struct dfw_authorize_opts *opts,
                                        dfw_err *err,
                                        char *errbuf,
                                        size_t errlen)
{
    dfw_err dummy;
    err = err != NULL ? err : &dummy;
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, tenant_name);
    if (t == NULL) {
        *err = dfw_errorf(DFW_ERR_NOTFOUND, errbuf, errlen, "no [tenant %s] in the configuration",
                          tenant_name);
        return NULL;
    }
    struct dfw_authorize *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        *err = dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->cfg = cfg;
    a->tenant = t;
    const struct dfw_cloud *cloud = dfw_cloud_find(t->cloud ? t->cloud : "global");
    const struct dfw_stream_def *first = t->nstreams > 0 ? dfw_stream_find(t->streams[0]) : NULL;
    if (cloud == NULL || first == NULL) {
        *err =
            dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "tenant %s: no cloud or no stream", t->name);
        dfw_authorize_free(a);
        return NULL;
    }
    a->login_url = t->login_url ? t->login_url : cloud->login_url;
    a->resource = dfw_stream_resource(first, cloud);
    a->auth = dfw_auth_new_authorize(t, a->login_url, errbuf, errlen);
    if (a->auth == NULL) {
        *err = DFW_ERR_CONFIG;
        dfw_authorize_free(a);
        return NULL;
    }
    struct dfw_http_opts ho = {.ca_file = cfg->ca_file,
                               .timeout_ms = cfg->http_timeout_ms,
                               .connect_timeout_ms = cfg->connect_timeout_ms,
                               .max_connections = 2,
                               .user_agent = "defender-forwarder/" DFW_VERSION};
    a->http = dfw_http_new(&ho, errbuf, errlen);
    if (a->http == NULL || (*err = dfw_pkce_new(&a->pkce)) != DFW_OK) {
        if (a->http != NULL) {
            dfw_errorf(DFW_ERR_IO, errbuf, errlen, "the random generator failed");
        }
        *err = DFW_ERR_IO;
        dfw_authorize_free(a);
        return NULL;
    }
    int port = opts->port;
    if (opts->listen) {
        a->listener = dfw_listener_new("127.0.0.1", port, on_redirect, a, errbuf, errlen);
        if (a->listener == NULL) {
            *err = DFW_ERR_IO;
            dfw_authorize_free(a);
            return NULL;
        }
        port = dfw_listener_port(a->listener);
    }
    struct dfw_buf uri = DFW_BUF_INIT;
    if (dfw_buf_printf(&uri, "http://localhost:%d/", port) != DFW_OK ||
        (a->redirect_uri = dfw_buf_steal(&uri)) == NULL ||
        (a->url = dfw_authcode_url(a->login_url, t->tenant_id, t->client_id, t->token_endpoint,
                                   a->resource, a->redirect_uri, &a->pkce)) == NULL) {
        dfw_buf_free(&uri);
        *err = dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        dfw_authorize_free(a);
        return NULL;
    }
    *err = DFW_OK;
    return a;
}

void dfw_authorize_free(struct dfw_authorize *a)
{
    if (a == NULL) {
        return;
    }
    dfw_listener_free(a->listener); /* first: its thread may be in on_redirect */
    dfw_authcode_result_clear(&a->result);
    dfw_pkce_clear(&a->pkce);
    dfw_http_free(a->http);
    dfw_auth_free(a->auth);
    free(a->redirect_uri);
    free(a->url);
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

const char *dfw_authorize_url(const struct dfw_authorize *a)
{
    return a->url;
}

const char *dfw_authorize_redirect_uri(const struct dfw_authorize *a)
{
    return a->redirect_uri;
}

const char *dfw_authorize_resource(const struct dfw_authorize *a)
{
    return a->resource;
}

/* Errors Entra ID shows on its sign-in page rather than sending to the redirect URI. */
static const long page_errors[] = {50011, 700016, 90002, 50194};

dfw_err dfw_authorize_preflight(struct dfw_authorize *a, char *errbuf, size_t errlen)
{
    struct sync_call c;
    dfw_err rc = sync_request(a->http, a->url, NULL, &c);
    if (rc == DFW_OK && c.transport != DFW_OK) {
        rc = dfw_errorf(DFW_ERR_IO, errbuf, errlen, "cannot load the sign-in page from %s: %s",
                        a->login_url, c.error);
    }
    else if (rc != DFW_OK) {
        dfw_errorf(rc, errbuf, errlen, "cannot load the sign-in page: %s", dfw_strerror(rc));
    }
    for (const char *p = c.body.data; rc == DFW_OK && p != NULL && (p = strstr(p, "AADSTS"));
         p += 6) {
        long code = strtol(p + 6, NULL, 10);
        for (size_t i = 0; i < sizeof(page_errors) / sizeof(page_errors[0]); i++) {
            if (code != page_errors[i]) {
                continue;
            }
            struct dfw_authcode_reply reply = {NULL, NULL, "error", p};
            struct dfw_authcode_result res;
            if (dfw_authcode_judge(&reply, NULL, a->tenant->name, a->redirect_uri, &res) ==
                DFW_OK) {
                rc =
                    dfw_errorf(DFW_ERR_AUTH, errbuf, errlen, "tenant %s: the sign-in page says: %s",
                               a->tenant->name, res.message);
            }
            break;
        }
    }
    dfw_buf_free(&c.body);
    return rc;
}

dfw_err dfw_authorize_wait(struct dfw_authorize *a,
                           int64_t timeout_ms,
                           struct dfw_authcode_result *out,
                           char *errbuf,
                           size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (a->listener == NULL) {
        return dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "no redirect listener");
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->lock);
    int rc = 0;
    while (!a->have_result && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&a->cond, &a->lock, &until);
    }
    int have = a->have_result;
    if (have) {
        *out = a->result; /* the code now belongs to out */
        a->result.code = NULL;
    }
    pthread_mutex_unlock(&a->lock);
    if (!have) {
        return dfw_errorf(DFW_ERR_RETRY, errbuf, errlen,
                          "no sign-in redirect arrived within %lld s: run `defender-forwarder "
                          "authorize %s` again (with --timeout for more time); if the sign-in "
                          "page showed an error such as AADSTS50011, register %s as a redirect "
                          "URI of the app",
                          (long long)(timeout_ms / 1000), a->tenant->name, a->redirect_uri);
    }
    return DFW_OK;
}

dfw_err
dfw_authorize_submit(struct dfw_authorize *a, const char *pasted, struct dfw_authcode_result *out)
{
    return dfw_authcode_judge_pasted(pasted, a->pkce.state, a->tenant->name, a->redirect_uri, out);
}

dfw_err dfw_authorize_redeem(struct dfw_authorize *a, const char *code, char *errbuf, size_t errlen)
{
    char *body = NULL;
    dfw_err rc = dfw_authcode_request_body(a->auth, a->resource, code, a->redirect_uri,
                                           a->pkce.verifier, &body, errbuf, errlen);
    if (rc != DFW_OK) {
        return rc;
    }
    int max = a->cfg->max_retries > 0 ? a->cfg->max_retries : 1;
    for (int attempt = 0;; attempt++) {
        struct sync_call c;
        rc = sync_request(a->http, dfw_auth_token_url(a->auth), body, &c);
        if (rc != DFW_OK) {
            dfw_errorf(rc, errbuf, errlen, "cannot send the token request: %s", dfw_strerror(rc));
        }
        else if (c.transport != DFW_OK) {
            rc = dfw_errorf(c.transport == DFW_ERR_RETRY ? DFW_ERR_RETRY : DFW_ERR_IO, errbuf,
                            errlen, "tenant %s: token request to %s failed: %s", a->tenant->name,
                            dfw_auth_token_url(a->auth), c.error);
        }
        else if (c.status != 200) {
            rc = dfw_authcode_explain_error(a->tenant->name, c.status, c.body.data, c.body.len,
                                            errbuf, errlen);
        }
        else {
            rc = dfw_auth_handle_response(a->auth, a->resource, c.status, c.body.data, c.body.len,
                                          dfw_now_ms(), errbuf, errlen);
        }
        if (c.body.data != NULL) {
            memset(c.body.data, 0, c.body.len); /* tokens */
        }
        dfw_buf_free(&c.body);
        if (!dfw_err_retryable(rc) || attempt + 1 >= max) {
            break;
        }
        struct timespec ts = {0, 0};
        int64_t ms = dfw_backoff_ms(attempt + 1, 500, 8000);
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
    dfw_secret_free(body);
    if (dfw_err_retryable(rc)) {
        rc = DFW_ERR_IO;
    }
    return rc;
}

const struct dfw_claims *dfw_authorize_claims(const struct dfw_authorize *a)
{
    /* a token of any age: the claims are what matters here */
    const struct dfw_token *tok = dfw_auth_token(a->auth, a->resource, INT64_MIN / 2);
    return tok != NULL ? tok->claims : NULL;
}
