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

/* ---- auth_util.c ---- */

/* printf into errbuf (truncating); nothing when errbuf is NULL or errlen is 0. */
__attribute__((format(printf, 3, 4))) void
dfw__set_err(char *errbuf, size_t errlen, const char *fmt, ...);

/* Parse body (len bytes, at most 1 MiB) as one JSON object. Returns a new reference for the
 * caller to json_object_put, or NULL when body is empty, too long, not JSON or not an object. */
json_object *dfw__json_parse_object(const char *body, size_t len);

/* Length of url without its trailing slashes, so joining with "/" never doubles one. */
size_t dfw__url_len_without_slashes(const char *url);

/* ---- auth.c: the token cache ---- */

/* Free e and zero its access token. NULL is a no-op. */
void dfw__auth_entry_free(struct cache_entry *e);

/* Replace or add the entry for e->resource. Takes ownership of e, also on failure (then freed);
 * DFW_ERR_NOMEM when the cache cannot grow. */
dfw_err dfw__auth_cache_put(struct dfw_auth *a, struct cache_entry *e);

#endif
