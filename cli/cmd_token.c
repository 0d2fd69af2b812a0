#include "cli.h"
#include "dfw/auth.h"
#include "dfw/cloud.h"
#include "dfw/http.h"
#include "dfw/permission.h"
#include "dfw/secret.h"
#include "dfw/stream.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct token_call {
    struct dfw_auth *auth;
    const char *resource;
    dfw_err rc;
    int done;
    char err[1024];
};

static void on_token(void *ctx, const struct dfw_http_response *r)
{
    struct token_call *tc = ctx;
    tc->done = 1;
    if (r->transport != DFW_OK) {
        tc->rc = r->transport;
        snprintf(tc->err, sizeof(tc->err), "token request failed: %s", r->error);
        return;
    }
    tc->rc = dfw_auth_handle_response(tc->auth, tc->resource, r->status, r->body, r->len,
                                      dfw_now_ms(), tc->err, sizeof(tc->err));
}

static void print_list(const char *label, char *const *items, size_t n)
{
    printf("  %-6s", label);
    for (size_t i = 0; i < n; i++) {
        printf(" %s", items[i]);
    }
    printf("%s\n", n ? "" : " (none)");
}

static void print_claims(const struct dfw_tenant_conf *t, const struct dfw_token *tok)
{
    const struct dfw_claims *c = tok->claims;
    enum dfw_token_kind kind = dfw_claims_kind(c);
    char exp[DFW_TIME_LEN];
    dfw_time_format(c->exp * 1000, exp, sizeof(exp));
    printf("  kind:  %s%s%s%s\n", dfw_token_kind_name(kind), c->upn ? " (user " : "",
           c->upn ? c->upn : "", c->upn ? ")" : "");
    printf("  tid:   %s%s\n", c->tid ? c->tid : "-",
           dfw_is_guid(t->tenant_id) ? ""
                                     : " (tenant_id is a domain: put this GUID in tenant_id to "
                                       "have every token's tid checked)");
    printf("  aud:   %s\n  appid: %s\n  exp:   %s (in %lld s)\n", c->aud ? c->aud : "-",
           c->appid ? c->appid : "-", exp, (long long)(c->exp - dfw_now_ms() / 1000));
    if (kind == DFW_KIND_DELEGATED) {
        print_list("scp:", c->scopes, c->nscopes);
    }
    else {
        print_list("roles:", c->roles, c->nroles);
    }
}

/* One resource: request, print claims, check the permission of the streams that use it by the
 * token's kind (roles for application tokens, scp for delegated ones). */
static int token_for(struct dfw_http *http,
                     struct dfw_auth *auth,
                     const struct dfw_tenant_conf *t,
                     const struct dfw_cloud *cloud,
                     const char *resource)
{
    struct token_call tc = {auth, resource, DFW_OK, 0, ""};
    char *body = NULL;
    printf("resource %s:\n", resource);
    if (dfw_auth_request_body(auth, resource, dfw_now_ms(), &body, tc.err, sizeof(tc.err)) !=
        DFW_OK) {
        printf("  error: %s\n", tc.err);
        return 1;
    }
    dfw_err rc = dfw_http_post_form(http, dfw_auth_token_url(auth), body, on_token, &tc);
    dfw_secret_free(body);
    if (rc != DFW_OK) {
        return 1;
    }
    while (!tc.done) {
        dfw_http_run(http, 200);
    }
    if (tc.rc != DFW_OK) {
        printf("  error: %s\n", tc.err);
        return 1;
    }
    const struct dfw_token *tok = dfw_auth_token(auth, resource, dfw_now_ms() - DFW_AUTH_SKEW_MS);
    if (tok == NULL) {
        printf("  error: the token expired immediately\n");
        return 1;
    }
    print_claims(t, tok);
    int delegated = dfw_claims_kind(tok->claims) == DFW_KIND_DELEGATED;
    int missing = 0;
    for (size_t s = 0; s < t->nstreams; s++) {
        const struct dfw_stream_def *d = dfw_stream_find(t->streams[s]);
        if (d == NULL || strcmp(dfw_stream_resource(d, cloud), resource) != 0) {
            continue;
        }
        int expand = dfw_stream_expands(d, t);
        const char *lacks = dfw_stream_missing_permission(d, expand, tok->claims);
        if (lacks == NULL) {
            int both = expand && d->expand_role != NULL;
            printf("  stream %s: OK (%s %s%s%s)\n", d->name,
                   delegated ? "delegated" : "application", delegated ? d->scopes[0] : d->role,
                   both ? " and " : "",
                   both ? (delegated ? d->expand_scopes[0] : d->expand_role) : "");
        }
        else {
            printf("  stream %s: MISSING %s permission %s: add it to the app registration and "
                   "grant admin consent (defender-forwarder consent-url %s)\n",
                   d->name, delegated ? "delegated" : "application", lacks, t->name);
            missing = 1;
        }
    }
    return missing;
}

int cmd_token(const struct dfw_config *cfg, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: defender-forwarder token TENANT\n");
        return EXIT_USAGE;
    }
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, argv[0]);
    if (t == NULL) {
        fprintf(stderr, "defender-forwarder: no [tenant %s] in the configuration\n", argv[0]);
        return EXIT_USAGE;
    }
    const struct dfw_cloud *cloud = dfw_cloud_find(t->cloud ? t->cloud : "global");
    char err[1024];
    struct dfw_auth *auth =
        dfw_auth_new(t, t->login_url ? t->login_url : cloud->login_url, err, sizeof(err));
    if (auth == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_USAGE;
    }
    struct dfw_http_opts ho = {.ca_file = cfg->ca_file,
                               .timeout_ms = cfg->http_timeout_ms,
                               .connect_timeout_ms = cfg->connect_timeout_ms,
                               .max_connections = 4,
                               .user_agent = "defender-forwarder/" DFW_VERSION};
    struct dfw_http *http = dfw_http_new(&ho, err, sizeof(err));
    if (http == NULL) {
        dfw_auth_free(auth);
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    printf("tenant %s (%s), client %s, token endpoint %s\n", t->name, t->tenant_id, t->client_id,
           dfw_auth_token_url(auth));
    int failed = 0;
    const char *done[8];
    size_t ndone = 0;
    for (size_t s = 0; s < t->nstreams && ndone < 8; s++) {
        const struct dfw_stream_def *d = dfw_stream_find(t->streams[s]);
        const char *res = d ? dfw_stream_resource(d, cloud) : NULL;
        size_t k;
        for (k = 0; res && k < ndone && strcmp(done[k], res) != 0; k++) {
        }
        if (res == NULL || k < ndone) {
            continue;
        }
        done[ndone++] = res;
        failed |= token_for(http, auth, t, cloud, res);
    }
    dfw_http_free(http);
    dfw_auth_free(auth);
    return failed ? EXIT_RUNTIME : EXIT_OK;
}
