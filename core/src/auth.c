/* Token provider per tenant (defender-api.md §1): request bodies for the client-credentials and
 * refresh-token grants, token responses, and a per-resource cache of access tokens.
 *
 * Validity: a cached token is handed out while now + skew < expires_at, skew being
 * DFW_AUTH_SKEW_MS. A token whose expires_in is shorter than 2 * DFW_AUTH_SKEW_MS (test tenants,
 * the emulator, conditional-access policies) uses a quarter of its lifetime as skew instead, so it
 * is still used for three quarters of its life rather than never. */
#include "dfw/auth.h"
#include "dfw/log.h"
#include "dfw/secret.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

/* A certificate is public but should still be small. */
#define CERT_MAX_BYTES (256 * 1024)
/* Longest expires_in accepted (a year); anything above is a broken answer. */
#define EXPIRES_IN_MAX_S (366LL * 24 * 3600)

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct cache_entry {
    char *resource;
    char *access_token;  /* a bearer credential: zeroed on free */
    int64_t lifetime_ms; /* expires_in, for the short-token skew rule */
    struct dfw_claims claims;
    struct dfw_token token; /* what dfw_auth_token hands out; points at the fields above */
};

struct dfw_auth {
    char *name; /* tenant section name, for messages and logs */
    char *client_id;
    enum dfw_auth_method method;
    enum dfw_token_endpoint endpoint;
    int alg;
    char *token_url;
    char *client_secret; /* secret or refresh_token method; NULL when not configured */
    char *cert_pem;
    char *key_pem;
    char *refresh_token;
    char *refresh_token_file;
    /* entries are allocated one by one so a handed-out dfw_token stays put while others change */
    struct cache_entry **cache;
    size_t ncache;
};

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

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

/* ---- construction ---- */

/* Length of a URL without its trailing slashes, so joining with "/" never doubles one. */
static size_t len_without_slashes(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    return n;
}

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
        set_err(errbuf, errlen, "tenant %s: %s: %s", a->name, what, msg);
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
        set_err(errbuf, errlen, "tenant %s: certificate_file %s: %s", a->name, path,
                strerror(errno));
        return -1;
    }
    char *buf = malloc(CERT_MAX_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, CERT_MAX_BYTES + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n == 0 || n > CERT_MAX_BYTES;
    fclose(f);
    if (bad) {
        set_err(errbuf, errlen, "tenant %s: certificate_file %s: %s", a->name, path,
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
    switch (t->auth) {
    case DFW_AUTH_SECRET:
        return read_secret(a, &t->client_secret, "client secret", &a->client_secret, errbuf,
                           errlen);
    case DFW_AUTH_CERTIFICATE: {
        if (t->certificate_file == NULL) {
            set_err(errbuf, errlen, "tenant %s: auth = certificate needs certificate_file",
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
            set_err(errbuf, errlen, "tenant %s: %s (certificate_file %s)", a->name, msg,
                    t->certificate_file);
            return -1;
        }
        dfw_secret_free(probe);
        return 0;
    }
    case DFW_AUTH_REFRESH_TOKEN: {
        if (t->refresh_token_file == NULL) {
            set_err(errbuf, errlen, "tenant %s: auth = refresh_token needs refresh_token_file",
                    a->name);
            return -1;
        }
        a->refresh_token_file = strdup(t->refresh_token_file);
        if (a->refresh_token_file == NULL) {
            set_err(errbuf, errlen, "out of memory");
            return -1;
        }
        struct dfw_secret_ref ref = {.file = a->refresh_token_file};
        if (read_secret(a, &ref, "refresh token", &a->refresh_token, errbuf, errlen) != 0) {
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
    set_err(errbuf, errlen, "tenant %s: unknown auth method %d", a->name, (int)t->auth);
    return -1;
}

struct dfw_auth *dfw_auth_new(const struct dfw_tenant_conf *tenant,
                              const char *login_url,
                              char *errbuf,
                              size_t errlen)
{
    if (tenant == NULL || tenant->name == NULL || tenant->tenant_id == NULL ||
        tenant->client_id == NULL || login_url == NULL) {
        set_err(errbuf, errlen, "tenant %s: tenant_id, client_id and a login URL are required",
                tenant != NULL && tenant->name != NULL ? tenant->name : "(unnamed)");
        return NULL;
    }
    struct dfw_auth *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        set_err(errbuf, errlen, "out of memory");
        return NULL;
    }
    a->method = tenant->auth;
    a->endpoint = tenant->token_endpoint;
    a->alg = (int)tenant->assertion_alg;
    a->name = strdup(tenant->name);
    a->client_id = strdup(tenant->client_id);
    size_t base = len_without_slashes(login_url);
    const char *path = a->endpoint == DFW_TOKEN_V1 ? "oauth2/token" : "oauth2/v2.0/token";
    size_t urllen = base + strlen(tenant->tenant_id) + strlen(path) + 3;
    a->token_url = malloc(urllen);
    if (a->name == NULL || a->client_id == NULL || a->token_url == NULL) {
        set_err(errbuf, errlen, "out of memory");
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

static void entry_free(struct cache_entry *e)
{
    if (e == NULL) {
        return;
    }
    free(e->resource);
    dfw_secret_free(e->access_token);
    dfw_claims_clear(&e->claims);
    free(e);
}

void dfw_auth_free(struct dfw_auth *auth)
{
    if (auth == NULL) {
        return;
    }
    for (size_t i = 0; i < auth->ncache; i++) {
        entry_free(auth->cache[i]);
    }
    free(auth->cache);
    free(auth->name);
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

/* ---- requests ---- */

/* v1 names the resource; v2 asks for its statically consented permissions, <resource>/.default. */
static void put_resource(const struct dfw_auth *a, struct sbuf *b, const char *resource)
{
    if (a->endpoint == DFW_TOKEN_V1) {
        sbuf_param(b, "resource", resource);
        return;
    }
    struct sbuf scope = {0};
    sbuf_append(&scope, resource, len_without_slashes(resource));
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
        set_err(errbuf, errlen, "tenant %s: no resource for the token request", auth->name);
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
                set_err(errbuf, errlen, "tenant %s: %s", auth->name, msg);
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
        set_err(errbuf, errlen, "tenant %s: out of memory building the token request", auth->name);
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
    sbuf_append(&b, login_url, len_without_slashes(login_url));
    sbuf_puts(&b, "/");
    sbuf_escape(&b, tenant_id);
    sbuf_puts(&b, "/oauth2/authorize?prompt=consent&client_id=");
    sbuf_escape(&b, client_id);
    sbuf_puts(&b, "&response_type=code&sso_reload=true");
    return sbuf_finish(&b);
}

/* ---- responses and the cache ---- */

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
static dfw_err cache_put(struct dfw_auth *a, struct cache_entry *e)
{
    size_t i = 0;
    if (find_entry(a, e->resource, &i) != NULL) {
        entry_free(a->cache[i]);
        a->cache[i] = e;
        return DFW_OK;
    }
    struct cache_entry **p = realloc(a->cache, (a->ncache + 1) * sizeof(*p));
    if (p == NULL) {
        entry_free(e);
        return DFW_ERR_NOMEM;
    }
    a->cache = p;
    a->cache[a->ncache++] = e;
    return DFW_OK;
}

/* Overwrite each occurrence of secret in msg, in case the token endpoint ever echoes one. */
static void scrub(char *msg, const char *secret)
{
    size_t n = secret != NULL ? strlen(secret) : 0;
    if (msg == NULL || n < 4) {
        return;
    }
    for (char *p = strstr(msg, secret); p != NULL; p = strstr(p + n, secret)) {
        memset(p, '*', n);
    }
}

/* expires_in: a number in v2 answers, a string ("3599") in v1 answers. 0 when unusable. */
static int64_t expires_in_s(json_object *v)
{
    int64_t n = 0;
    if (json_object_is_type(v, json_type_int)) {
        n = json_object_get_int64(v);
    }
    else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        errno = 0;
        long long l = strtoll(s, &end, 10);
        if (s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0) {
            n = l;
        }
    }
    return n > 0 && n <= EXPIRES_IN_MAX_S ? n : 0;
}

static json_object *parse_object(const char *body, size_t len)
{
    if (body == NULL || len == 0 || len > 1024 * 1024) {
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        return NULL;
    }
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    int complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (obj == NULL || !complete || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

/* Store a rotated refresh token: in memory first (it is the one to use now), then on disk. A
 * failed write is logged, not returned: the access token is good and the old refresh token on
 * disk still works after a restart (Entra does not revoke it on rotation); the next rotation
 * tries again. */
static dfw_err rotate_refresh_token(struct dfw_auth *a, const char *token)
{
    if (token == NULL || token[0] == '\0' || strcmp(token, a->refresh_token) == 0) {
        return DFW_OK;
    }
    char *copy = strdup(token);
    if (copy == NULL) {
        return DFW_ERR_NOMEM;
    }
    dfw_secret_free(a->refresh_token);
    a->refresh_token = copy;
    char msg[512] = "";
    if (dfw_secret_write_file(a->refresh_token_file, copy, msg, sizeof(msg)) != DFW_OK) {
        scrub(msg, copy);
        dfw_log(DFW_LOG_ERROR, "auth",
                "tenant=%s msg=\"cannot save the rotated refresh token\" "
                "error=\"%s\"",
                a->name, msg);
    }
    return DFW_OK;
}

static dfw_err handle_success(struct dfw_auth *a,
                              const char *resource,
                              json_object *obj,
                              int64_t now_ms,
                              char *errbuf,
                              size_t errlen)
{
    json_object *at = NULL;
    json_object *exp = NULL;
    json_object *type = NULL;
    json_object *rt = NULL;
    if (!json_object_object_get_ex(obj, "access_token", &at) ||
        !json_object_is_type(at, json_type_string) || json_object_get_string_len(at) == 0) {
        set_err(errbuf, errlen, "tenant %s: token response has no access_token; will retry",
                a->name);
        return DFW_ERR_RETRY;
    }
    int64_t expires_in = json_object_object_get_ex(obj, "expires_in", &exp) ? expires_in_s(exp) : 0;
    if (expires_in == 0) {
        set_err(errbuf, errlen, "tenant %s: token response has no usable expires_in; will retry",
                a->name);
        return DFW_ERR_RETRY;
    }
    if (json_object_object_get_ex(obj, "token_type", &type) &&
        (!json_object_is_type(type, json_type_string) ||
         strcasecmp(json_object_get_string(type), "Bearer") != 0)) {
        set_err(errbuf, errlen, "tenant %s: token response token_type is not Bearer; will retry",
                a->name);
        return DFW_ERR_RETRY;
    }
    struct cache_entry *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        set_err(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    char msg[256] = "";
    dfw_err rc = dfw_jwt_decode_claims(json_object_get_string(at), &e->claims, msg, sizeof(msg));
    if (rc != DFW_OK) {
        entry_free(e);
        set_err(errbuf, errlen, "tenant %s: token response: %s; will retry", a->name, msg);
        return rc == DFW_ERR_NOMEM ? rc : DFW_ERR_RETRY;
    }
    e->resource = strdup(resource);
    e->access_token = strdup(json_object_get_string(at));
    if (e->resource == NULL || e->access_token == NULL) {
        entry_free(e);
        set_err(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    e->lifetime_ms = expires_in * 1000;
    e->token.access_token = e->access_token;
    e->token.expires_at_ms = now_ms + e->lifetime_ms;
    e->token.claims = &e->claims;
    if (a->method == DFW_AUTH_REFRESH_TOKEN &&
        json_object_object_get_ex(obj, "refresh_token", &rt) &&
        json_object_is_type(rt, json_type_string)) {
        if (rotate_refresh_token(a, json_object_get_string(rt)) != DFW_OK) {
            entry_free(e);
            set_err(errbuf, errlen, "out of memory");
            return DFW_ERR_NOMEM;
        }
    }
    if (cache_put(a, e) != DFW_OK) {
        set_err(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    dfw_log(DFW_LOG_INFO, "auth",
            "tenant=%s resource=%s expires_in=%lld msg=\"access token acquired\"", a->name,
            resource, (long long)expires_in);
    return DFW_OK;
}

dfw_err dfw_auth_handle_response(struct dfw_auth *auth,
                                 const char *resource,
                                 long http_status,
                                 const char *body,
                                 size_t len,
                                 int64_t now_ms,
                                 char *errbuf,
                                 size_t errlen)
{
    if (resource == NULL || resource[0] == '\0') {
        set_err(errbuf, errlen, "tenant %s: no resource for the token response", auth->name);
        return DFW_ERR_INVALID;
    }
    dfw_err rc;
    if (http_status != 200) {
        rc = dfw_auth_explain_error(auth->name, http_status, body, len, errbuf, errlen);
    }
    else {
        json_object *obj = parse_object(body, len);
        if (obj == NULL) {
            set_err(errbuf, errlen,
                    "tenant %s: token endpoint HTTP 200 but the body is not a JSON "
                    "object; will retry",
                    auth->name);
            return DFW_ERR_RETRY;
        }
        rc = handle_success(auth, resource, obj, now_ms, errbuf, errlen);
        json_object_put(obj);
    }
    if (rc != DFW_OK && errbuf != NULL && errlen > 0) {
        scrub(errbuf, auth->client_secret);
        scrub(errbuf, auth->refresh_token);
    }
    return rc;
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
    return now_ms + skew < e->token.expires_at_ms ? &e->token : NULL;
}

void dfw_auth_invalidate(struct dfw_auth *auth, const char *resource)
{
    size_t i = 0;
    if (find_entry(auth, resource, &i) == NULL) {
        return;
    }
    entry_free(auth->cache[i]);
    auth->cache[i] = auth->cache[--auth->ncache];
}
