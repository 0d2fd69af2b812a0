/* base64url and the claims of a compact JWT. The signature is not checked: the token comes from
 * the token endpoint over TLS and the API validates it; we only read tid, roles, scp, exp. */
#include "dfw/config.h" /* before jwt.h: defines enum dfw_assertion_alg, which jwt.h names */
#include "dfw/jwt.h"
#include "auth_internal.h" /* dfw__set_err */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

char *dfw_base64url_encode(const unsigned char *data, size_t len)
{
    if (len > (size_t)INT_MAX / 4 * 3 - 3) {
        return NULL;
    }
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out == NULL) {
        return NULL;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=') {
        n--;
    }
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        }
        else if (out[i] == '/') {
            out[i] = '_';
        }
    }
    return out;
}

static int is_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

dfw_err dfw_base64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    if (outlen != NULL) {
        *outlen = 0;
    }
    size_t pad = 0;
    while (inlen > 0 && in[inlen - 1] == '=' && pad < 2) {
        inlen--;
        pad++;
    }
    /* padding, when present, must complete the last quantum exactly */
    if (pad > 0 && (inlen + pad) % 4 != 0) {
        return DFW_ERR_INVALID;
    }
    if (inlen % 4 == 1 || inlen > (size_t)INT_MAX / 2) {
        return DFW_ERR_INVALID;
    }
    for (size_t i = 0; i < inlen; i++) {
        if (!is_b64url_char(in[i])) {
            return DFW_ERR_INVALID;
        }
    }
    size_t padded = (inlen + 3) / 4 * 4;
    unsigned char *tmp = malloc(padded + 1);
    unsigned char *res = malloc(padded / 4 * 3 + 1);
    if (tmp == NULL || res == NULL) {
        free(tmp);
        free(res);
        return DFW_ERR_NOMEM;
    }
    for (size_t i = 0; i < inlen; i++) {
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : (unsigned char)in[i];
    }
    for (size_t i = inlen; i < padded; i++) {
        tmp[i] = '=';
    }
    int n = EVP_DecodeBlock(res, tmp, (int)padded);
    free(tmp);
    if (n < 0) {
        free(res);
        return DFW_ERR_INVALID;
    }
    /* EVP_DecodeBlock counts the bytes that the '=' padding stands for */
    size_t len = (size_t)n - (padded - inlen);
    res[len] = '\0';
    *out = res;
    if (outlen != NULL) {
        *outlen = len;
    }
    return DFW_OK;
}

/* Decode one base64url JWT segment and parse it as a JSON object. */
static dfw_err segment_json(
    const char *seg, size_t len, const char *what, json_object **out, char *errbuf, size_t errlen)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    dfw_err rc = dfw_base64url_decode(seg, len, &raw, &rawlen);
    if (rc == DFW_ERR_NOMEM) {
        dfw__set_err(errbuf, errlen, "out of memory decoding the JWT %s", what);
        return rc;
    }
    if (rc != DFW_OK) {
        dfw__set_err(errbuf, errlen, "JWT %s is not valid base64url", what);
        return DFW_ERR_INVALID;
    }
    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        free(raw);
        return DFW_ERR_NOMEM;
    }
    json_object *obj = json_tokener_parse_ex(tok, (const char *)raw, (int)rawlen);
    int complete = json_tokener_get_error(tok) == json_tokener_success &&
                   json_tokener_get_parse_end(tok) == rawlen;
    json_tokener_free(tok);
    free(raw);
    if (obj == NULL || !complete || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        dfw__set_err(errbuf, errlen, "JWT %s is not a JSON object", what);
        return DFW_ERR_INVALID;
    }
    *out = obj;
    return DFW_OK;
}

/* Optional string claim: absent leaves *out NULL; present must be a string. */
static dfw_err
claim_string(json_object *payload, const char *name, char **out, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(payload, name, &v) || v == NULL) {
        return DFW_OK;
    }
    if (!json_object_is_type(v, json_type_string)) {
        dfw__set_err(errbuf, errlen, "JWT claim %s is not a string", name);
        return DFW_ERR_INVALID;
    }
    *out = strdup(json_object_get_string(v));
    return *out == NULL ? DFW_ERR_NOMEM : DFW_OK;
}

/* aud is a string, or (RFC 7519 §4.1.3) an array of strings of which we keep the first. */
static dfw_err claim_aud(json_object *payload, char **out, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(payload, "aud", &v) || v == NULL) {
        return DFW_OK;
    }
    if (json_object_is_type(v, json_type_array)) {
        if (json_object_array_length(v) == 0) {
            return DFW_OK;
        }
        v = json_object_array_get_idx(v, 0);
    }
    if (!json_object_is_type(v, json_type_string)) {
        dfw__set_err(errbuf, errlen, "JWT claim aud is not a string or an array of strings");
        return DFW_ERR_INVALID;
    }
    *out = strdup(json_object_get_string(v));
    return *out == NULL ? DFW_ERR_NOMEM : DFW_OK;
}

/* NumericDate: a JSON number, or a string of decimal digits as some issuers send. */
static dfw_err
claim_time(json_object *payload, const char *name, int64_t *out, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    *out = 0;
    if (!json_object_object_get_ex(payload, name, &v) || v == NULL) {
        return DFW_OK;
    }
    switch (json_object_get_type(v)) {
    case json_type_int:
        *out = json_object_get_int64(v);
        return DFW_OK;
    case json_type_double: {
        double d = json_object_get_double(v);
        if (isfinite(d) && d > -9.2e18 && d < 9.2e18) {
            *out = (int64_t)d;
            return DFW_OK;
        }
        break;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        char *end = NULL;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0) {
            *out = n;
            return DFW_OK;
        }
        break;
    }
    default:
        break;
    }
    dfw__set_err(errbuf, errlen, "JWT claim %s is not a number", name);
    return DFW_ERR_INVALID;
}

static dfw_err claim_roles(json_object *payload, struct dfw_claims *c, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(payload, "roles", &v) || v == NULL) {
        return DFW_OK;
    }
    if (!json_object_is_type(v, json_type_array)) {
        dfw__set_err(errbuf, errlen, "JWT claim roles is not an array");
        return DFW_ERR_INVALID;
    }
    size_t n = json_object_array_length(v);
    if (n == 0) {
        return DFW_OK;
    }
    c->roles = calloc(n, sizeof(*c->roles));
    if (c->roles == NULL) {
        return DFW_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(v, i);
        if (!json_object_is_type(r, json_type_string)) {
            dfw__set_err(errbuf, errlen, "JWT claim roles[%zu] is not a string", i);
            return DFW_ERR_INVALID;
        }
        c->roles[i] = strdup(json_object_get_string(r));
        if (c->roles[i] == NULL) {
            return DFW_ERR_NOMEM;
        }
        c->nroles = i + 1;
    }
    return DFW_OK;
}

/* scp: one string of space-separated delegated permissions (RFC 8693 §4.2 style, as Entra ID
 * issues it). Present (even empty) marks a delegated token. */
static dfw_err claim_scp(json_object *payload, struct dfw_claims *c, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(payload, "scp", &v) || v == NULL) {
        return DFW_OK;
    }
    if (!json_object_is_type(v, json_type_string)) {
        dfw__set_err(errbuf, errlen, "JWT claim scp is not a string");
        return DFW_ERR_INVALID;
    }
    c->has_scp = 1;
    const char *s = json_object_get_string(v);
    size_t n = 0;
    for (const char *p = s; *p != '\0';) {
        p += strspn(p, " ");
        if (*p != '\0') {
            n++;
            p += strcspn(p, " ");
        }
    }
    if (n == 0) {
        return DFW_OK;
    }
    c->scopes = calloc(n, sizeof(*c->scopes));
    if (c->scopes == NULL) {
        return DFW_ERR_NOMEM;
    }
    for (const char *p = s; *p != '\0';) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " ");
        if (len == 0) {
            break;
        }
        c->scopes[c->nscopes] = strndup(p, len);
        if (c->scopes[c->nscopes] == NULL) {
            return DFW_ERR_NOMEM;
        }
        c->nscopes++;
        p += len;
    }
    return DFW_OK;
}

static dfw_err read_claims(json_object *payload, struct dfw_claims *c, char *errbuf, size_t errlen)
{
    dfw_err rc;
    if ((rc = claim_string(payload, "tid", &c->tid, errbuf, errlen)) != DFW_OK ||
        (rc = claim_aud(payload, &c->aud, errbuf, errlen)) != DFW_OK ||
        (rc = claim_string(payload, "iss", &c->iss, errbuf, errlen)) != DFW_OK ||
        (rc = claim_string(payload, "ver", &c->ver, errbuf, errlen)) != DFW_OK ||
        (rc = claim_string(payload, "appid", &c->appid, errbuf, errlen)) != DFW_OK) {
        return rc;
    }
    if (c->appid == NULL &&
        (rc = claim_string(payload, "azp", &c->appid, errbuf, errlen)) != DFW_OK) {
        return rc;
    }
    if (c->upn == NULL && (rc = claim_string(payload, "upn", &c->upn, errbuf, errlen)) != DFW_OK) {
        return rc;
    }
    if (c->upn == NULL &&
        (rc = claim_string(payload, "unique_name", &c->upn, errbuf, errlen)) != DFW_OK) {
        return rc;
    }
    if ((rc = claim_roles(payload, c, errbuf, errlen)) != DFW_OK ||
        (rc = claim_scp(payload, c, errbuf, errlen)) != DFW_OK ||
        (rc = claim_time(payload, "exp", &c->exp, errbuf, errlen)) != DFW_OK ||
        (rc = claim_time(payload, "nbf", &c->nbf, errbuf, errlen)) != DFW_OK ||
        (rc = claim_time(payload, "iat", &c->iat, errbuf, errlen)) != DFW_OK) {
        return rc;
    }
    return DFW_OK;
}

dfw_err dfw_jwt_decode_claims(const char *jwt, struct dfw_claims *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (jwt == NULL) {
        dfw__set_err(errbuf, errlen, "no JWT");
        return DFW_ERR_INVALID;
    }
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        dfw__set_err(errbuf, errlen, "JWT does not have three dot-separated parts");
        return DFW_ERR_INVALID;
    }
    const char *sig = dot2 + 1;
    for (const char *p = sig; *p != '\0'; p++) {
        if (!is_b64url_char(*p)) {
            dfw__set_err(errbuf, errlen, "JWT signature is not valid base64url");
            return DFW_ERR_INVALID;
        }
    }
    json_object *header = NULL;
    json_object *payload = NULL;
    dfw_err rc = segment_json(jwt, (size_t)(dot1 - jwt), "header", &header, errbuf, errlen);
    if (rc != DFW_OK) {
        return rc;
    }
    json_object_put(header); /* only checked for shape: nothing in it is used */
    rc = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", &payload, errbuf, errlen);
    if (rc != DFW_OK) {
        return rc;
    }
    rc = read_claims(payload, out, errbuf, errlen);
    json_object_put(payload);
    if (rc == DFW_ERR_NOMEM) {
        dfw__set_err(errbuf, errlen, "out of memory decoding JWT claims");
    }
    if (rc != DFW_OK) {
        dfw_claims_clear(out);
    }
    return rc;
}

void dfw_claims_clear(struct dfw_claims *claims)
{
    if (claims == NULL) {
        return;
    }
    free(claims->tid);
    free(claims->aud);
    free(claims->iss);
    free(claims->appid);
    free(claims->ver);
    free(claims->upn);
    for (size_t i = 0; i < claims->nroles; i++) {
        free(claims->roles[i]);
    }
    free(claims->roles);
    for (size_t i = 0; i < claims->nscopes; i++) {
        free(claims->scopes[i]);
    }
    free(claims->scopes);
    memset(claims, 0, sizeof(*claims));
}

int dfw_claims_has_role(const struct dfw_claims *claims, const char *role)
{
    if (claims == NULL || role == NULL) {
        return 0;
    }
    for (size_t i = 0; i < claims->nroles; i++) {
        if (strcmp(claims->roles[i], role) == 0) {
            return 1;
        }
    }
    return 0;
}

int dfw_claims_has_scope(const struct dfw_claims *claims, const char *scope)
{
    if (claims == NULL || scope == NULL) {
        return 0;
    }
    for (size_t i = 0; i < claims->nscopes; i++) {
        if (strcmp(claims->scopes[i], scope) == 0) {
            return 1;
        }
    }
    return 0;
}
