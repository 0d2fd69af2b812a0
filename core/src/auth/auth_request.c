/* Token requests (defender-api.md §1): the form bodies of the client-credentials and refresh-token
 * grants, and the admin-consent URL. */
#include "auth_internal.h"
#include "dfw/secret.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* ---- a growable string for secrets: every reallocation wipes the old copy ---- */

struct sbuf {
    char *p;
    size_t len;
    size_t cap;
    int failed;
};

static void sbuf_append(struct sbuf *b, const char *s, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = malloc(cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        if (b->p != NULL) {
            memcpy(p, b->p, b->len);
            OPENSSL_cleanse(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_append(b, s, strlen(s));
}

/* application/x-www-form-urlencoded value: unreserved characters as is, the rest %XX. */
static void sbuf_escape(struct sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            sbuf_append(b, s, 1);
        }
        else {
            char pct[3] = {'%', hex[c >> 4], hex[c & 15]};
            sbuf_append(b, pct, 3);
        }
    }
}

/* "&key=<escaped value>" (no '&' for the first parameter). */
static void sbuf_param(struct sbuf *b, const char *key, const char *value)
{
    if (b->len > 0) {
        sbuf_puts(b, "&");
    }
    sbuf_puts(b, key);
    sbuf_puts(b, "=");
    sbuf_escape(b, value);
}

static char *sbuf_finish(struct sbuf *b)
{
    if (b->failed) {
        dfw_secret_free(b->p);
        return NULL;
    }
    return b->p;
}

/* ---- requests ---- */

/* v1 names the resource; v2 asks for its statically consented permissions, <resource>/.default. */
static void put_resource(const struct dfw_auth *a, struct sbuf *b, const char *resource)
{
    if (a->endpoint == DFW_TOKEN_V1) {
        sbuf_param(b, "resource", resource);
        return;
    }
    struct sbuf scope = {0};
    sbuf_append(&scope, resource, dfw__url_len_without_slashes(resource));
    sbuf_puts(&scope, "/.default");
    if (scope.failed) {
        b->failed = 1;
    }
    else {
        sbuf_param(b, "scope", scope.p);
    }
    free(scope.p);
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
    struct sbuf b = {0};
    if (auth->method == DFW_AUTH_REFRESH_TOKEN) {
        sbuf_param(&b, "grant_type", "refresh_token");
        sbuf_param(&b, "refresh_token", auth->refresh_token);
        sbuf_param(&b, "client_id", auth->client_id);
        if (auth->client_secret != NULL) {
            sbuf_param(&b, "client_secret", auth->client_secret);
        }
        put_resource(auth, &b, resource);
    }
    else {
        sbuf_param(&b, "grant_type", "client_credentials");
        sbuf_param(&b, "client_id", auth->client_id);
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
            sbuf_param(&b, "client_assertion_type", ASSERTION_TYPE);
            sbuf_param(&b, "client_assertion", assertion);
            dfw_secret_free(assertion);
        }
        else {
            sbuf_param(&b, "client_secret", auth->client_secret);
        }
    }
    *body = sbuf_finish(&b);
    if (*body == NULL) {
        dfw__set_err(errbuf, errlen, "tenant %s: out of memory building the token request",
                     auth->name);
        return DFW_ERR_NOMEM;
    }
    return DFW_OK;
}

char *dfw_auth_consent_url(const char *login_url, const char *client_id, const char *tenant_id)
{
    if (login_url == NULL || client_id == NULL || tenant_id == NULL) {
        return NULL;
    }
    struct sbuf b = {0};
    sbuf_append(&b, login_url, dfw__url_len_without_slashes(login_url));
    sbuf_puts(&b, "/");
    sbuf_escape(&b, tenant_id);
    sbuf_puts(&b, "/oauth2/authorize?prompt=consent&client_id=");
    sbuf_escape(&b, client_id);
    sbuf_puts(&b, "&response_type=code&sso_reload=true");
    return sbuf_finish(&b);
}
