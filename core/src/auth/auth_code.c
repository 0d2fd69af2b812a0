/* The authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636): proof key and state, the
 * authorize URL, what came back to the redirect URI, and the code redemption. The sign-in page is
 * Entra ID's; errors it shows (rather than redirects) reach us only when pasted, so the pasted
 * text is searched for an AADSTS code too. */
#include "auth_internal.h"
#include "dfw/authcode.h"
#include "dfw/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Longest quoted piece of an error_description. */
#define DESC_MAX 300

/* ---- proof key and state ---- */

static dfw_err random_b64url(size_t nbytes, char *out, size_t outlen)
{
    unsigned char raw[32];
    if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1) {
        return DFW_ERR_IO;
    }
    char *enc = dfw_base64url_encode(raw, nbytes);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (enc == NULL || strlen(enc) >= outlen) {
        dfw_secret_free(enc);
        return DFW_ERR_NOMEM;
    }
    memcpy(out, enc, strlen(enc) + 1);
    dfw_secret_free(enc);
    return DFW_OK;
}

dfw_err dfw_pkce_new(struct dfw_pkce *p)
{
    memset(p, 0, sizeof(*p));
    dfw_err rc = random_b64url(32, p->verifier, sizeof(p->verifier));
    if (rc == DFW_OK) {
        rc = random_b64url(16, p->state, sizeof(p->state));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (rc == DFW_OK &&
        EVP_Digest(p->verifier, strlen(p->verifier), md, &mdlen, EVP_sha256(), NULL) != 1) {
        rc = DFW_ERR_IO;
    }
    char *enc = rc == DFW_OK ? dfw_base64url_encode(md, mdlen) : NULL;
    if (rc == DFW_OK && (enc == NULL || strlen(enc) >= sizeof(p->challenge))) {
        rc = DFW_ERR_NOMEM;
    }
    if (rc == DFW_OK) {
        memcpy(p->challenge, enc, strlen(enc) + 1);
    }
    free(enc);
    if (rc != DFW_OK) {
        dfw_pkce_clear(p);
    }
    return rc;
}

void dfw_pkce_clear(struct dfw_pkce *p)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, sizeof(*p));
    }
}

/* ---- the authorize URL ---- */

/* "?key=value" for the first parameter, "&key=value" after. */
static void query_param(struct dfw__sbuf *b, int *first, const char *key, const char *value)
{
    dfw__sbuf_puts(b, *first ? "?" : "&");
    *first = 0;
    dfw__sbuf_puts(b, key);
    dfw__sbuf_puts(b, "=");
    dfw__sbuf_escape(b, value);
}

/* "<resource>/.default offline_access": offline_access makes v2 return a refresh token. */
static char *v2_scope(const char *resource)
{
    struct dfw__sbuf s = {0};
    dfw__sbuf_append(&s, resource, dfw__url_len_without_slashes(resource));
    dfw__sbuf_puts(&s, "/.default offline_access");
    return dfw__sbuf_finish(&s);
}

char *dfw_authcode_url(const char *login_url,
                       const char *tenant_id,
                       const char *client_id,
                       enum dfw_token_endpoint endpoint,
                       const char *resource,
                       const char *redirect_uri,
                       const struct dfw_pkce *pkce)
{
    if (login_url == NULL || tenant_id == NULL || client_id == NULL || resource == NULL ||
        redirect_uri == NULL || pkce == NULL) {
        return NULL;
    }
    char *scope = endpoint == DFW_TOKEN_V2 ? v2_scope(resource) : NULL;
    if (endpoint == DFW_TOKEN_V2 && scope == NULL) {
        return NULL;
    }
    struct dfw__sbuf b = {0};
    int first = 1;
    dfw__sbuf_append(&b, login_url, dfw__url_len_without_slashes(login_url));
    dfw__sbuf_puts(&b, "/");
    dfw__sbuf_escape(&b, tenant_id);
    dfw__sbuf_puts(&b, endpoint == DFW_TOKEN_V2 ? "/oauth2/v2.0/authorize" : "/oauth2/authorize");
    query_param(&b, &first, "client_id", client_id);
    query_param(&b, &first, "response_type", "code");
    query_param(&b, &first, "redirect_uri", redirect_uri);
    query_param(&b, &first, "response_mode", "query");
    if (scope != NULL) {
        query_param(&b, &first, "scope", scope);
    }
    else {
        query_param(&b, &first, "resource", resource);
    }
    query_param(&b, &first, "state", pkce->state);
    query_param(&b, &first, "code_challenge", pkce->challenge);
    query_param(&b, &first, "code_challenge_method", "S256");
    query_param(&b, &first, "prompt", "select_account");
    free(scope);
    return dfw__sbuf_finish(&b);
}

/* ---- what came back ---- */

/* The first line of text, printable ASCII only, at most outlen - 1 bytes. */
static void first_line(const char *text, char *out, size_t outlen)
{
    size_t n = 0;
    for (; text != NULL && text[n] != '\0' && text[n] != '\r' && text[n] != '\n' && n + 1 < outlen;
         n++) {
        unsigned char c = (unsigned char)text[n];
        out[n] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = '\0';
}

/* The number after the first "AADSTS" in text, else 0. */
static long aadsts_code(const char *text)
{
    const char *p = text != NULL ? strstr(text, "AADSTS") : NULL;
    return p != NULL && isdigit((unsigned char)p[6]) ? strtol(p + 6, NULL, 10) : 0;
}

static void judge_error(const struct dfw_authcode_reply *r,
                        const char *tenant,
                        const char *redirect_uri,
                        struct dfw_authcode_result *out)
{
    char desc[DESC_MAX];
    first_line(r->error_description, desc, sizeof(desc));
    long code = aadsts_code(r->error_description);
    if (code == 0) {
        code = aadsts_code(r->error);
    }
    const char *error = r->error != NULL ? r->error : "error";
    size_t n = sizeof(out->message);
    if (code == 65004) {
        out->outcome = DFW_AUTHCODE_CONSENT_DENIED;
        snprintf(out->message, n,
                 "consent denied (AADSTS65004): the signed-in account declined the application's "
                 "permissions; sign in as an administrator of the tenant and accept, or have one "
                 "grant admin consent first (`defender-forwarder consent-url %s`)",
                 tenant);
    }
    else if (code == 50011) {
        out->outcome = DFW_AUTHCODE_REDIRECT_URI;
        snprintf(out->message, n,
                 "redirect URI not registered (AADSTS50011): add %s as a Web redirect URI of the "
                 "app registration (Authentication; Entra ID ignores the port of a localhost "
                 "redirect URI), then run `defender-forwarder authorize %s` again",
                 redirect_uri != NULL ? redirect_uri : "the redirect URI", tenant);
    }
    else if (code == 50020 || code == 50034 || code == 90002 || code == 700016 || code == 16000) {
        out->outcome = DFW_AUTHCODE_WRONG_TENANT;
        snprintf(out->message, n,
                 "wrong tenant (AADSTS%ld: %s): sign in with an account of the tenant configured "
                 "for [tenant %s], and check its tenant_id, cloud and client_id",
                 code, desc, tenant);
    }
    else if (code == 65001 || strcmp(error, "consent_required") == 0) {
        out->outcome = DFW_AUTHCODE_NO_CONSENT;
        snprintf(out->message, n,
                 "admin consent missing (%s): an administrator of the tenant must grant it "
                 "(`defender-forwarder consent-url %s`), or sign in as one and accept",
                 error, tenant);
    }
    else if (strcmp(error, "access_denied") == 0) {
        out->outcome = DFW_AUTHCODE_CANCELLED;
        snprintf(out->message, n,
                 "sign-in cancelled (access_denied%s%s): run `defender-forwarder authorize %s` "
                 "again and complete the sign-in",
                 desc[0] != '\0' ? ": " : "", desc, tenant);
    }
    else {
        out->outcome = DFW_AUTHCODE_ERROR;
        char err[64];
        first_line(error, err, sizeof(err));
        snprintf(out->message, n, "sign-in failed: %s%s%s", err, desc[0] != '\0' ? ": " : "", desc);
    }
}

dfw_err dfw_authcode_judge(const struct dfw_authcode_reply *reply,
                           const char *expected_state,
                           const char *tenant,
                           const char *redirect_uri,
                           struct dfw_authcode_result *out)
{
    memset(out, 0, sizeof(*out));
    if (tenant == NULL) {
        tenant = "TENANT";
    }
    int has_code = reply->code != NULL && reply->code[0] != '\0';
    if (!has_code && reply->error == NULL) {
        out->outcome = DFW_AUTHCODE_INVALID;
        snprintf(out->message, sizeof(out->message),
                 "the redirect carries neither a code nor an error: paste the whole address the "
                 "browser shows after the sign-in");
        return DFW_OK;
    }
    if (expected_state != NULL &&
        (reply->state == NULL || strcmp(reply->state, expected_state) != 0)) {
        out->outcome = DFW_AUTHCODE_STATE_MISMATCH;
        snprintf(out->message, sizeof(out->message),
                 "the redirect's state does not match this sign-in (an old or forged redirect): "
                 "run `defender-forwarder authorize %s` again and use the URL it prints",
                 tenant);
        return DFW_OK;
    }
    if (reply->error != NULL) {
        judge_error(reply, tenant, redirect_uri, out);
        return DFW_OK;
    }
    out->code = strdup(reply->code);
    if (out->code == NULL) {
        return DFW_ERR_NOMEM;
    }
    out->outcome = DFW_AUTHCODE_CODE;
    return DFW_OK;
}

/* The decoded value of key in an application/x-www-form-urlencoded query, malloc'd, or NULL. */
static char *query_value(const char *query, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = query; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, "&#");
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            char *raw = strndup(p + klen + 1, len - klen - 1);
            if (raw == NULL) {
                return NULL;
            }
            for (char *c = raw; *c != '\0'; c++) {
                if (*c == '+') {
                    *c = ' ';
                }
            }
            int outlen = 0;
            char *dec = curl_easy_unescape(NULL, raw, 0, &outlen);
            dfw_secret_free(raw);
            char *copy = dec != NULL ? strndup(dec, (size_t)outlen) : NULL;
            if (dec != NULL) {
                OPENSSL_cleanse(dec, (size_t)outlen);
                curl_free(dec);
            }
            return copy;
        }
        p += len;
        if (*p != '&') {
            break;
        }
        p++;
    }
    return NULL;
}

dfw_err dfw_authcode_judge_pasted(const char *text,
                                  const char *expected_state,
                                  const char *tenant,
                                  const char *redirect_uri,
                                  struct dfw_authcode_result *out)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        text = "";
    }
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t len = strlen(text);
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    char *t = strndup(text, len);
    if (t == NULL) {
        return DFW_ERR_NOMEM;
    }
    struct dfw_authcode_reply r = {0};
    dfw_err rc;
    const char *q = strchr(t, '?');
    q = q != NULL ? q + 1 : t;
    if (strchr(t, '=') == NULL && strchr(t, ' ') == NULL && len > 0) {
        /* a bare code: nothing to compare the state with */
        r.code = t;
        rc = dfw_authcode_judge(&r, NULL, tenant, redirect_uri, out);
    }
    else if (strstr(q, "code=") == NULL && strstr(q, "error=") == NULL && aadsts_code(t) != 0) {
        /* the text of an error page: Entra ID shows AADSTS50011 and the like instead of
         * redirecting */
        r.error = "error";
        r.error_description = strstr(t, "AADSTS");
        rc = dfw_authcode_judge(&r, NULL, tenant, redirect_uri, out);
    }
    else {
        char *code = query_value(q, "code");
        char *state = query_value(q, "state");
        char *error = query_value(q, "error");
        char *desc = query_value(q, "error_description");
        r.code = code;
        r.state = state;
        r.error = error;
        r.error_description = desc;
        rc = dfw_authcode_judge(&r, expected_state, tenant, redirect_uri, out);
        dfw_secret_free(code);
        free(state);
        free(error);
        free(desc);
    }
    dfw_secret_free(t);
    return rc;
}

void dfw_authcode_result_clear(struct dfw_authcode_result *out)
{
    if (out != NULL) {
        dfw_secret_free(out->code);
        out->code = NULL;
    }
}

/* ---- redeeming the code ---- */

dfw_err dfw_authcode_request_body(struct dfw_auth *auth,
                                  const char *resource,
                                  const char *code,
                                  const char *redirect_uri,
                                  const char *code_verifier,
                                  char **body,
                                  char *errbuf,
                                  size_t errlen)
{
    *body = NULL;
    if (auth == NULL || resource == NULL || code == NULL || redirect_uri == NULL ||
        code_verifier == NULL) {
        return dfw_errorf(DFW_ERR_INVALID, errbuf, errlen,
                          "authorization code request: missing argument");
    }
    struct dfw__sbuf b = {0};
    dfw__sbuf_param(&b, "grant_type", "authorization_code");
    dfw__sbuf_param(&b, "client_id", auth->client_id);
    dfw__sbuf_param(&b, "code", code);
    dfw__sbuf_param(&b, "redirect_uri", redirect_uri);
    dfw__sbuf_param(&b, "code_verifier", code_verifier);
    if (auth->client_secret != NULL) {
        dfw__sbuf_param(&b, "client_secret", auth->client_secret);
    }
    if (auth->endpoint == DFW_TOKEN_V1) {
        dfw__sbuf_param(&b, "resource", resource);
    }
    else {
        char *scope = v2_scope(resource);
        if (scope == NULL) {
            b.failed = 1;
        }
        else {
            dfw__sbuf_param(&b, "scope", scope);
        }
        free(scope);
    }
    *body = dfw__sbuf_finish(&b);
    if (*body == NULL) {
        return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen,
                          "tenant %s: out of memory building the token request", auth->name);
    }
    return DFW_OK;
}

/* The advice for a code-redemption error code, written after prefix; 0 when code is not one. */
static int code_advice(long code, const char *tenant, const char *prefix, char *out, size_t n)
{
    switch (code) {
    case 70008:
        snprintf(out, n,
                 "%sthe authorization code expired (codes live about 10 minutes): run "
                 "`defender-forwarder authorize %s` again and finish the sign-in sooner",
                 prefix, tenant);
        return 1;
    case 54005:
        snprintf(out, n,
                 "%sthe authorization code was already redeemed: run `defender-forwarder "
                 "authorize %s` again",
                 prefix, tenant);
        return 1;
    case 501481:
        snprintf(out, n,
                 "%sthe PKCE check failed (code_verifier does not match the code_challenge): "
                 "run `defender-forwarder authorize %s` again",
                 prefix, tenant);
        return 1;
    case 500112:
    case 50011:
        snprintf(out, n,
                 "%sthe redirect URI of the token request is not the sign-in's: run "
                 "`defender-forwarder authorize %s` again",
                 prefix, tenant);
        return 1;
    case 700005:
        snprintf(out, n,
                 "%sthe code was issued for another tenant: sign in with an account of the "
                 "tenant configured for [tenant %s]",
                 prefix, tenant);
        return 1;
    default:
        return 0;
    }
}

dfw_err dfw_authcode_explain_error(
    const char *tenant, long http_status, const char *body, size_t len, char *errbuf, size_t errlen)
{
    if (tenant == NULL) {
        tenant = "(unknown)";
    }
    long codes[8];
    size_t n = http_status >= 400 && http_status < 500 && http_status != 429
                   ? dfw__auth_error_codes(body, len, codes, 8, NULL)
                   : 0;
    char scratch[2];
    if (errbuf == NULL || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof(scratch);
    }
    for (size_t i = 0; i < n; i++) {
        char prefix[160];
        snprintf(prefix, sizeof(prefix), "tenant %s: token endpoint HTTP %ld, AADSTS%ld: ", tenant,
                 http_status, codes[i]);
        if (code_advice(codes[i], tenant, prefix, errbuf, errlen)) {
            return DFW_ERR_AUTH;
        }
    }
    return dfw_auth_explain_error(tenant, http_status, body, len, errbuf, errlen);
}
