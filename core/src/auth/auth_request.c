/* Token requests (defender-api.md §1): the form bodies of the client-credentials and refresh-token
 * grants, and the two admin-consent URLs (§1.8). */
#include "auth_internal.h"
#include "dfw/secret.h"

#include <stdlib.h>
#include <string.h>


#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* ---- requests ---- */

/* v1 names the resource; v2 asks for its statically consented permissions, <resource>/.default. */
static void put_resource(const struct dfw_auth *a, struct dfw__sbuf *b, const char *resource)
{
    if (a->endpoint == DFW_TOKEN_V1) {
        dfw__sbuf_param(b, "resource", resource);
        return;
    }
    struct dfw__sbuf scope = {0};
    dfw__sbuf_append(&scope, resource, dfw__url_len_without_slashes(resource));
    dfw__sbuf_puts(&scope, "/.default");
    if (scope.failed) {
        b->failed = 1;
    }
    else {
        dfw__sbuf_param(b, "scope", scope.p);
    }
    free(scope.p);
}

/* After Entra ID refused the refresh token, only a new one can help: `authorize` may have written
 * it to refresh_token_file meanwhile (the daemon keeps running). Until then no request is sent:
 * the answer is known. */
static dfw_err current_refresh_token(struct dfw_auth *a, char *errbuf, size_t errlen)
{
    if (a->refresh_token != NULL && !a->refresh_rejected) {
        return DFW_OK;
    }
    char *fresh = NULL;
    char msg[512] = "";
    struct dfw_secret_ref ref = {.file = a->refresh_token_file};
    if (dfw_secret_read(&ref, &fresh, NULL, msg, sizeof(msg)) == DFW_OK &&
        (a->refresh_token == NULL || strcmp(fresh, a->refresh_token) != 0)) {
        dfw_secret_free(a->refresh_token);
        a->refresh_token = fresh;
        a->refresh_rejected = 0;
        return DFW_OK;
    }
    dfw_secret_free(fresh);
    dfw__set_err(
        errbuf, errlen, "tenant %s: %s: run `defender-forwarder authorize %s` again", a->name,
        a->refresh_token == NULL ? "no refresh token yet" : "refresh token expired or revoked",
        a->name);
    return DFW_ERR_AUTH;
}

dfw_err dfw_auth_request_body(struct dfw_auth *auth,
                              const char *resource,
                              int64_t now_ms,
                              char **body,
                              char *errbuf,
                              size_t errlen)
{
    *body = NULL;
    if (resource == NULL || resource[0] == '\0') {
        dfw__set_err(errbuf, errlen, "tenant %s: no resource for the token request", auth->name);
        return DFW_ERR_INVALID;
    }
    struct dfw__sbuf b = {0};
    if (auth->method == DFW_AUTH_REFRESH_TOKEN) {
        dfw_err rc = current_refresh_token(auth, errbuf, errlen);
        if (rc != DFW_OK) {
            return rc;
        }
        dfw__sbuf_param(&b, "grant_type", "refresh_token");
        dfw__sbuf_param(&b, "refresh_token", auth->refresh_token);
        dfw__sbuf_param(&b, "client_id", auth->client_id);
        if (auth->client_secret != NULL) {
            dfw__sbuf_param(&b, "client_secret", auth->client_secret);
        }
        put_resource(auth, &b, resource);
    }
    else {
        dfw__sbuf_param(&b, "grant_type", "client_credentials");
        dfw__sbuf_param(&b, "client_id", auth->client_id);
        put_resource(auth, &b, resource);
        if (auth->method == DFW_AUTH_CERTIFICATE) {
            char msg[256] = "";
            char *assertion = NULL;
            dfw_err rc = dfw_client_assertion(auth->client_id, auth->token_url, auth->cert_pem,
                                              auth->key_pem, auth->alg, now_ms / 1000, &assertion,
                                              msg, sizeof(msg));
            if (rc != DFW_OK) {
                dfw_secret_free(b.p);
                dfw__set_err(errbuf, errlen, "tenant %s: %s", auth->name, msg);
                return rc;
            }
            dfw__sbuf_param(&b, "client_assertion_type", ASSERTION_TYPE);
            dfw__sbuf_param(&b, "client_assertion", assertion);
            dfw_secret_free(assertion);
        }
        else {
            dfw__sbuf_param(&b, "client_secret", auth->client_secret);
        }
    }
    *body = dfw__sbuf_finish(&b);
    if (*body == NULL) {
        dfw__set_err(errbuf, errlen, "tenant %s: out of memory building the token request",
                     auth->name);
        return DFW_ERR_NOMEM;
    }
    return DFW_OK;
}

char *dfw_auth_consent_url(const char *login_url, const char *client_id)
{
    if (login_url == NULL || client_id == NULL) {
        return NULL;
    }
    struct dfw__sbuf b = {0};
    dfw__sbuf_append(&b, login_url, dfw__url_len_without_slashes(login_url));
    dfw__sbuf_puts(&b, "/common/oauth2/authorize?prompt=consent&client_id=");
    dfw__sbuf_escape(&b, client_id);
    dfw__sbuf_puts(&b, "&response_type=code&sso_reload=true");
    return dfw__sbuf_finish(&b);
}

char *dfw_auth_admin_consent_url(const char *login_url,
                                 const char *tenant_id,
                                 const char *client_id,
                                 const char *redirect_uri,
                                 const char *resource)
{
    if (login_url == NULL || tenant_id == NULL || client_id == NULL || redirect_uri == NULL ||
        resource == NULL) {
        return NULL;
    }
    struct dfw__sbuf scope = {0};
    dfw__sbuf_append(&scope, resource, dfw__url_len_without_slashes(resource));
    dfw__sbuf_puts(&scope, "/.default");
    char *sc = dfw__sbuf_finish(&scope);
    if (sc == NULL) {
        return NULL;
    }
    struct dfw__sbuf b = {0};
    dfw__sbuf_append(&b, login_url, dfw__url_len_without_slashes(login_url));
    dfw__sbuf_puts(&b, "/");
    dfw__sbuf_escape(&b, tenant_id);
    dfw__sbuf_puts(&b, "/v2.0/adminconsent?client_id=");
    dfw__sbuf_escape(&b, client_id);
    dfw__sbuf_puts(&b, "&redirect_uri=");
    dfw__sbuf_escape(&b, redirect_uri);
    dfw__sbuf_puts(&b, "&scope=");
    dfw__sbuf_escape(&b, sc);
    free(sc);
    return dfw__sbuf_finish(&b);
}
