/* Token provider internals shared by auth*.c, jwt.c and assertion.c; not a public header. */
#ifndef DFW_AUTH_INTERNAL_H
#define DFW_AUTH_INTERNAL_H

#include "dfw/auth.h"

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct cache_entry {
    char *resource;
    char *access_token;  /* a bearer credential: zeroed on free */
    int64_t lifetime_ms; /* expires_in, for the short-token skew rule */
    struct dfw_claims claims;
    struct dfw_token token; /* what dfw_auth_token hands out; points at the fields above */
};

struct dfw_auth {
    char *name;      /* tenant section name, for messages and logs */
    char *tenant_id; /* as configured: a GUID (checked against each token's tid) or a domain */
    char *client_id;
    enum dfw_auth_method method;
    enum dfw_token_endpoint endpoint;
    int alg;
    char *token_url;
    char *client_secret; /* secret or refresh_token method; NULL when not configured */
    char *cert_pem;
    char *key_pem;
    char *refresh_token; /* NULL while authorizing (dfw_auth_new_authorize) */
    char *refresh_token_file;
    int authorizing;      /* made by dfw_auth_new_authorize: the answer must carry a refresh token,
                             and failing to store it is an error */
    int refresh_rejected; /* Entra ID refused refresh_token (expired or revoked grant) */
    int64_t spread_permille; /* 0..999: where in the last tenth of a lifetime it refreshes */
    /* entries are allocated one by one so a handed-out dfw_token stays put while others change */
    struct cache_entry **cache;
    size_t ncache;
};

/* ---- auth_util.c ---- */

/* printf into errbuf (truncating); nothing when errbuf is NULL or errlen is 0. */
__attribute__((format(printf, 3, 4))) void
dfw__set_err(char *errbuf, size_t errlen, const char *fmt, ...);

/* Parse body (len bytes, at most 1 MiB) as one JSON object. Returns a new reference for the
 * caller to json_object_put, or NULL when body is empty, too long, not JSON or not an object. */
json_object *dfw__json_parse_object(const char *body, size_t len);

/* Length of url without its trailing slashes, so joining with "/" never doubles one. */
size_t dfw__url_len_without_slashes(const char *url);

/* A growable string for form bodies and URLs that may hold secrets: every reallocation wipes the
 * old copy. Zero-initialise; after a failed allocation every call is a no-op and failed is 1. */
struct dfw__sbuf {
    char *p;
    size_t len;
    size_t cap;
    int failed;
};

/* Append n bytes of s. */
void dfw__sbuf_append(struct dfw__sbuf *b, const char *s, size_t n);

/* Append a NUL-terminated string. */
void dfw__sbuf_puts(struct dfw__sbuf *b, const char *s);

/* Append s percent-encoded (application/x-www-form-urlencoded and URL query: unreserved
 * characters of RFC 3986 as they are, everything else %XX). */
void dfw__sbuf_escape(struct dfw__sbuf *b, const char *s);

/* Append "&key=<escaped value>" (no '&' before the first parameter). */
void dfw__sbuf_param(struct dfw__sbuf *b, const char *key, const char *value);

/* The built string (the caller frees it with dfw_secret_free), or NULL when an allocation failed
 * (the partial string is wiped). */
char *dfw__sbuf_finish(struct dfw__sbuf *b);

/* Overwrite every occurrence of secret in msg with '*' (secret NULL or shorter than 4 bytes: no
 * change). */
void dfw__auth_scrub(char *msg, const char *secret);

/* ---- auth_errors.c ---- */

/* 1 when an Entra ID error body says the grant (refresh token or code) expired or was revoked:
 * AADSTS70008, 700082, 50173, or error invalid_grant / interaction_required without a more
 * specific known code. */
int dfw__auth_error_expired_grant(const char *body, size_t len);

/* The AADSTS codes of an Entra ID error body (error_codes, else the number that starts
 * error_description), at most max; returns how many. *error (may be NULL) gets the OAuth error
 * string, which points into a copy the caller must free (NULL when absent). */
size_t dfw__auth_error_codes(const char *body, size_t len, long *codes, size_t max, char **error);

/* dfw_auth_explain_error, with every occurrence of each of the nsecrets strings (NULL entries
 * allowed) masked in the answer's texts before anything is quoted or cut to length, so that no
 * part of a secret reaches errbuf. */
dfw_err dfw__auth_explain(const char *tenant,
                          long http_status,
                          const char *body,
                          size_t len,
                          const char *const *secrets,
                          size_t nsecrets,
                          char *errbuf,
                          size_t errlen);

/* ---- auth.c: the token cache ---- */

/* Free e and zero its access token. NULL is a no-op. */
void dfw__auth_entry_free(struct cache_entry *e);

/* Replace or add the entry for e->resource. Takes ownership of e, also on failure (then freed);
 * DFW_ERR_NOMEM when the cache cannot grow. */
dfw_err dfw__auth_cache_put(struct dfw_auth *a, struct cache_entry *e);

#endif
