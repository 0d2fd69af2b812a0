/* Token responses (defender-api.md §1): a 200 answer fills the cache and stores a rotated refresh
 * token; any other answer goes to dfw_auth_explain_error. Secrets are scrubbed from errbuf. */
#include "auth_internal.h"
#include "dfw/log.h"
#include "dfw/permission.h"
#include "dfw/secret.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest expires_in accepted (a year); anything above is a broken answer. */
#define EXPIRES_IN_MAX_S (366LL * 24 * 3600)

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

/* Store a rotated refresh token: in memory first (it is the one to use now), then on disk, before
 * this function returns, so no later request (the caller sends one at a time per tenant) and no
 * restart uses an older one. In the daemon a failed write is logged, not returned: the access
 * token is good, the next rotation tries again, and Entra ID does not revoke the replaced token
 * (an emulator run with single-use refresh tokens shows what a restart then costs). While
 * authorizing, storing the token is the whole point: a failed write is an error. */
static dfw_err
rotate_refresh_token(struct dfw_auth *a, const char *token, char *errbuf, size_t errlen)
{
    if (token == NULL || token[0] == '\0' ||
        (a->refresh_token != NULL && strcmp(token, a->refresh_token) == 0)) {
        return DFW_OK;
    }
    char *copy = strdup(token);
    if (copy == NULL) {
        dfw__set_err(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    dfw_secret_free(a->refresh_token);
    a->refresh_token = copy;
    char msg[512] = "";
    if (dfw_secret_write_file(a->refresh_token_file, copy, msg, sizeof(msg)) != DFW_OK) {
        dfw__auth_scrub(msg, copy);
        if (a->authorizing) {
            dfw__set_err(errbuf, errlen, "tenant %s: cannot store the refresh token: %s", a->name,
                         msg);
            return DFW_ERR_IO;
        }
        dfw_log(DFW_LOG_ERROR, "auth",
                "tenant=%s msg=\"cannot save the rotated refresh token\" "
                "error=\"%s\"",
                a->name, DFW_LOG_ESC(msg));
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
        dfw__set_err(errbuf, errlen, "tenant %s: token response has no access_token; will retry",
                     a->name);
        return DFW_ERR_RETRY;
    }
    int64_t expires_in = json_object_object_get_ex(obj, "expires_in", &exp) ? expires_in_s(exp) : 0;
    if (expires_in == 0) {
        dfw__set_err(errbuf, errlen,
                     "tenant %s: token response has no usable expires_in; will retry", a->name);
        return DFW_ERR_RETRY;
    }
    if (json_object_object_get_ex(obj, "token_type", &type) &&
        (!json_object_is_type(type, json_type_string) ||
         strcasecmp(json_object_get_string(type), "Bearer") != 0)) {
        dfw__set_err(errbuf, errlen,
                     "tenant %s: token response token_type is not Bearer; will retry", a->name);
        return DFW_ERR_RETRY;
    }
    struct cache_entry *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        dfw__set_err(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    char msg[256] = "";
    dfw_err rc = dfw_jwt_decode_claims(json_object_get_string(at), &e->claims, msg, sizeof(msg));
    if (rc != DFW_OK) {
        dfw__auth_entry_free(e);
        dfw__set_err(errbuf, errlen, "tenant %s: token response: %s; will retry", a->name, msg);
        return rc == DFW_ERR_NOMEM ? rc : DFW_ERR_RETRY;
    }
    char why[256] = "";
    if (dfw_claims_check_tenant(&e->claims, a->tenant_id, why, sizeof(why)) != DFW_OK) {
        dfw__auth_entry_free(e);
        dfw__set_err(errbuf, errlen,
                     "tenant %s: wrong tenant: %s; check tenant_id (and, for auth = "
                     "refresh_token, sign in with an account of tenant %s)",
                     a->name, why, a->tenant_id);
        return DFW_ERR_AUTH;
    }
    e->resource = strdup(resource);
    e->access_token = strdup(json_object_get_string(at));
    if (e->resource == NULL || e->access_token == NULL) {
        dfw__auth_entry_free(e);
        dfw__set_err(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    e->lifetime_ms = expires_in * 1000;
    e->token.access_token = e->access_token;
    e->token.expires_at_ms = now_ms + e->lifetime_ms;
    e->token.claims = &e->claims;
    if (a->method == DFW_AUTH_REFRESH_TOKEN) {
        const char *fresh = json_object_object_get_ex(obj, "refresh_token", &rt) &&
                                    json_object_is_type(rt, json_type_string)
                                ? json_object_get_string(rt)
                                : NULL;
        if (a->authorizing && (fresh == NULL || fresh[0] == '\0')) {
            dfw__auth_entry_free(e);
            dfw__set_err(errbuf, errlen,
                         "tenant %s: the token endpoint returned no refresh token (v2 sends one "
                         "only for the offline_access scope)",
                         a->name);
            return DFW_ERR_AUTH;
        }
        dfw_err rrc = rotate_refresh_token(a, fresh, errbuf, errlen);
        if (rrc != DFW_OK) {
            dfw__auth_entry_free(e);
            return rrc;
        }
        a->refresh_rejected = 0;
    }
    if (dfw__auth_cache_put(a, e) != DFW_OK) {
        dfw__set_err(errbuf, errlen, "out of memory");
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
        dfw__set_err(errbuf, errlen, "tenant %s: no resource for the token response", auth->name);
        return DFW_ERR_INVALID;
    }
    dfw_err rc;
    if (http_status != 200) {
        /* masked before the message is cut: a secret at the cut would leave its start */
        const char *secrets[] = {auth->client_secret, auth->refresh_token};
        rc = dfw__auth_explain(auth->name, http_status, body, len, secrets,
                               sizeof(secrets) / sizeof(secrets[0]), errbuf, errlen);
        if (rc == DFW_ERR_AUTH && auth->method == DFW_AUTH_REFRESH_TOKEN && !auth->authorizing &&
            dfw__auth_error_expired_grant(body, len)) {
            auth->refresh_rejected = 1;
        }
    }
    else {
        json_object *obj = dfw__json_parse_object(body, len);
        if (obj == NULL) {
            dfw__set_err(errbuf, errlen,
                         "tenant %s: token endpoint HTTP 200 but the body is not a JSON "
                         "object; will retry",
                         auth->name);
            return DFW_ERR_RETRY;
        }
        rc = handle_success(auth, resource, obj, now_ms, errbuf, errlen);
        json_object_put(obj);
    }
    if (rc != DFW_OK && errbuf != NULL && errlen > 0) {
        dfw__auth_scrub(errbuf, auth->client_secret);
        dfw__auth_scrub(errbuf, auth->refresh_token);
    }
    return rc;
}
