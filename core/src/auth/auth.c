/* Token provider per tenant (defender-api.md §1): construction, which reads the tenant's
 * credentials, and the per-resource cache of access tokens. Request bodies are built in
 * auth_request.c, token responses handled in auth_response.c, errors explained in auth_errors.c.
 *
 * Validity: a cached token is handed out while now + skew < expires_at, skew being
 * DFW_AUTH_SKEW_MS. A token whose expires_in is shorter than 2 * DFW_AUTH_SKEW_MS (test tenants,
 * the emulator, conditional-access policies) uses a quarter of its lifetime as skew instead, so it
 * is still used for three quarters of its life rather than never. On top of the skew, each
 * provider refreshes a little earlier still, by a fraction of a tenth of the lifetime picked at
 * random when it is made, so thousands of tenants started together do not all refresh at once. */
#include "auth_internal.h"
#include "dfw/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A certificate is public but should still be small. */
#define CERT_MAX_BYTES (256 * 1024)

/* ---- construction ---- */

static int has_source(const struct dfw_secret_ref *ref)
{
    return ref->file != NULL || ref->credential != NULL || ref->env != NULL;
}

/* Read a secret, prefixing secret.c's message (which names the file, never the content). */
static int read_secret(const struct dfw_auth *a,
                       const struct dfw_secret_ref *ref,
                       const char *what,
                       char **out,
                       char *errbuf,
                       size_t errlen)
{
    char msg[512] = "";
    dfw_err rc = dfw_secret_read(ref, out, NULL, msg, sizeof(msg));
    if (rc != DFW_OK) {
        *out = NULL;
        dfw__set_err(errbuf, errlen, "tenant %s: %s: %s", a->name, what, msg);
        return -1;
    }
    return 0;
}

/* The certificate is public: a plain read, no permission check. */
static int
read_cert_file(const struct dfw_auth *a, const char *path, char **out, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        dfw__set_err(errbuf, errlen, "tenant %s: certificate_file %s: %s", a->name, path,
                     strerror(errno));
        return -1;
    }
    char *buf = malloc(CERT_MAX_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, CERT_MAX_BYTES + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n == 0 || n > CERT_MAX_BYTES;
    fclose(f);
    if (bad) {
        dfw__set_err(errbuf, errlen, "tenant %s: certificate_file %s: %s", a->name, path,
                     buf == NULL ? "out of memory"
                     : n == 0    ? "empty or unreadable"
                                 : "larger than 256 KiB");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int
load_credentials(struct dfw_auth *a, const struct dfw_tenant_conf *t, char *errbuf, size_t errlen)
{
    static const char *const names[] = {"secret", "certificate", "refresh_token"};
    if (a->authorizing && t->auth != DFW_AUTH_REFRESH_TOKEN) {
        dfw__set_err(errbuf, errlen,
                     "tenant %s: authorize gets a refresh token for auth = refresh_token; this "
                     "tenant uses auth = %s",
                     a->name, (unsigned)t->auth < 3 ? names[t->auth] : "?");
        return -1;
    }
    switch (t->auth) {
    case DFW_AUTH_SECRET:
        return read_secret(a, &t->client_secret, "client secret", &a->client_secret, errbuf,
                           errlen);
    case DFW_AUTH_CERTIFICATE: {
        if (t->certificate_file == NULL) {
            dfw__set_err(errbuf, errlen, "tenant %s: auth = certificate needs certificate_file",
                         a->name);
            return -1;
        }
        if (read_cert_file(a, t->certificate_file, &a->cert_pem, errbuf, errlen) != 0 ||
            read_secret(a, &t->private_key, "private key", &a->key_pem, errbuf, errlen) != 0) {
            return -1;
        }
        /* sign once now so a key that does not match the certificate fails at start-up */
        char msg[256] = "";
        char *probe = NULL;
        if (dfw_client_assertion(a->client_id, a->token_url, a->cert_pem, a->key_pem, a->alg, 0,
                                 &probe, msg, sizeof(msg)) != DFW_OK) {
            dfw__set_err(errbuf, errlen, "tenant %s: %s (certificate_file %s)", a->name, msg,
                         t->certificate_file);
            return -1;
        }
        dfw_secret_free(probe);
        return 0;
    }
    case DFW_AUTH_REFRESH_TOKEN: {
        if (t->refresh_token_file == NULL) {
            dfw__set_err(errbuf, errlen, "tenant %s: auth = refresh_token needs refresh_token_file",
                         a->name);
            return -1;
        }
        a->refresh_token_file = strdup(t->refresh_token_file);
        if (a->refresh_token_file == NULL) {
            dfw__set_err(errbuf, errlen, "out of memory");
            return -1;
        }
        struct dfw_secret_ref ref = {.file = a->refresh_token_file};
        /* authorize writes the file: it need not exist yet */
        if (!a->authorizing &&
            read_secret(a, &ref, "refresh token", &a->refresh_token, errbuf, errlen) != 0) {
            if (errbuf != NULL && access(a->refresh_token_file, F_OK) != 0) {
                size_t n = strlen(errbuf);
                snprintf(errbuf + n, errlen - n, " (run `defender-forwarder authorize %s` first)",
                         a->name);
            }
            return -1;
        }
        /* a public client has no secret; a confidential (web) app sends one */
        if (has_source(&t->client_secret)) {
            return read_secret(a, &t->client_secret, "client secret", &a->client_secret, errbuf,
                               errlen);
        }
        return 0;
    }
    }
    dfw__set_err(errbuf, errlen, "tenant %s: unknown auth method %d", a->name, (int)t->auth);
    return -1;
}

static struct dfw_auth *auth_create(const struct dfw_tenant_conf *tenant,
                                    const char *login_url,
                                    int authorizing,
                                    char *errbuf,
                                    size_t errlen)
{
    if (tenant == NULL || tenant->name == NULL || tenant->tenant_id == NULL ||
        tenant->client_id == NULL || login_url == NULL) {
        dfw__set_err(errbuf, errlen, "tenant %s: tenant_id, client_id and a login URL are required",
                     tenant != NULL && tenant->name != NULL ? tenant->name : "(unnamed)");
        return NULL;
    }
    struct dfw_auth *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        dfw__set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    a->method = tenant->auth;
    a->endpoint = tenant->token_endpoint;
    a->alg = (int)tenant->assertion_alg;
    a->authorizing = authorizing;
    a->spread_permille = rand() % 1000; /* spreads refreshes, not security relevant */
    a->name = strdup(tenant->name);
    a->tenant_id = strdup(tenant->tenant_id);
    a->client_id = strdup(tenant->client_id);
    size_t base = dfw__url_len_without_slashes(login_url);
    const char *path = a->endpoint == DFW_TOKEN_V1 ? "oauth2/token" : "oauth2/v2.0/token";
    size_t urllen = base + strlen(tenant->tenant_id) + strlen(path) + 3;
    a->token_url = malloc(urllen);
    if (a->name == NULL || a->tenant_id == NULL || a->client_id == NULL || a->token_url == NULL) {
        dfw__set_err(errbuf, errlen, "out of memory");
        dfw_auth_free(a);
        return NULL;
    }
    snprintf(a->token_url, urllen, "%.*s/%s/%s", (int)base, login_url, tenant->tenant_id, path);
    if (load_credentials(a, tenant, errbuf, errlen) != 0) {
        dfw_auth_free(a);
        return NULL;
    }
    return a;
}

struct dfw_auth *dfw_auth_new(const struct dfw_tenant_conf *tenant,
                              const char *login_url,
                              char *errbuf,
                              size_t errlen)
{
    return auth_create(tenant, login_url, 0, errbuf, errlen);
}

struct dfw_auth *dfw_auth_new_authorize(const struct dfw_tenant_conf *tenant,
                                        const char *login_url,
                                        char *errbuf,
                                        size_t errlen)
{
    return auth_create(tenant, login_url, 1, errbuf, errlen);
}

void dfw_auth_free(struct dfw_auth *auth)
{
    if (auth == NULL) {
        return;
    }
    for (size_t i = 0; i < auth->ncache; i++) {
        dfw__auth_entry_free(auth->cache[i]);
    }
    free(auth->cache);
    free(auth->name);
    free(auth->tenant_id);
    free(auth->client_id);
    free(auth->token_url);
    dfw_secret_free(auth->client_secret);
    free(auth->cert_pem);
    dfw_secret_free(auth->key_pem);
    dfw_secret_free(auth->refresh_token);
    free(auth->refresh_token_file);
    free(auth);
}

const char *dfw_auth_token_url(const struct dfw_auth *auth)
{
    return auth->token_url;
}

int dfw_auth_needs_authorize(const struct dfw_auth *auth)
{
    return auth != NULL && auth->refresh_rejected;
}

/* ---- the cache ---- */

void dfw__auth_entry_free(struct cache_entry *e)
{
    if (e == NULL) {
        return;
    }
    free(e->resource);
    dfw_secret_free(e->access_token);
    dfw_claims_clear(&e->claims);
    free(e);
}

static struct cache_entry *find_entry(const struct dfw_auth *a, const char *resource, size_t *idx)
{
    for (size_t i = 0; resource != NULL && i < a->ncache; i++) {
        if (strcmp(a->cache[i]->resource, resource) == 0) {
            if (idx != NULL) {
                *idx = i;
            }
            return a->cache[i];
        }
    }
    return NULL;
}

/* Replace or add the entry for e->resource; takes ownership of e. */
dfw_err dfw__auth_cache_put(struct dfw_auth *a, struct cache_entry *e)
{
    size_t i = 0;
    if (find_entry(a, e->resource, &i) != NULL) {
        dfw__auth_entry_free(a->cache[i]);
        a->cache[i] = e;
        return DFW_OK;
    }
    struct cache_entry **p = realloc(a->cache, (a->ncache + 1) * sizeof(*p));
    if (p == NULL) {
        dfw__auth_entry_free(e);
        return DFW_ERR_NOMEM;
    }
    a->cache = p;
    a->cache[a->ncache++] = e;
    return DFW_OK;
}

const struct dfw_token *
dfw_auth_token(const struct dfw_auth *auth, const char *resource, int64_t now_ms)
{
    const struct cache_entry *e = find_entry(auth, resource, NULL);
    if (e == NULL) {
        return NULL;
    }
    int64_t skew = DFW_AUTH_SKEW_MS;
    if (e->lifetime_ms < 2 * (int64_t)DFW_AUTH_SKEW_MS) {
        skew = e->lifetime_ms / 4; /* see the comment at the top of this file */
    }
    /* each tenant refreshes at its own point of the last tenth of the lifetime before the skew */
    skew += e->lifetime_ms / 10 * auth->spread_permille / 1000;
    return now_ms + skew < e->token.expires_at_ms ? &e->token : NULL;
}

void dfw_auth_set_refresh_spread(struct dfw_auth *auth, int permille)
{
    auth->spread_permille = permille < 0 ? 0 : permille > 999 ? 999 : permille;
}

void dfw_auth_invalidate(struct dfw_auth *auth, const char *resource)
{
    size_t i = 0;
    if (find_entry(auth, resource, &i) == NULL) {
        return;
    }
    dfw__auth_entry_free(auth->cache[i]);
    auth->cache[i] = auth->cache[--auth->ncache];
}
