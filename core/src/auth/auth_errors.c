/* Entra ID token-endpoint errors turned into what the operator should do (defender-api.md §1.5).
 * Branch on error_codes (then the OAuth error), never on description text; the description is
 * quoted only up to its first line so trace and correlation ids stay out of logs. */
#include "auth_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Longest piece of error_description quoted back. */
#define DESC_MAX 300

enum advice {
    ADV_NONE = 0,
    ADV_SECRET_WRONG,
    ADV_SECRET_EXPIRED,
    ADV_APP_NOT_FOUND,
    ADV_CONSENT,
    ADV_TENANT_NOT_FOUND,
    ADV_CERTIFICATE,
    ADV_NO_CREDENTIAL,
    ADV_REFRESH_EXPIRED,
    ADV_RESOURCE,
    ADV_THROTTLED
};

/* In priority order: with several codes (e.g. [70002,70008]) the first listed here wins. */
static const struct {
    long code;
    enum advice advice;
} known_codes[] = {
    {90055, ADV_THROTTLED},        {7000215, ADV_SECRET_WRONG},   {7000222, ADV_SECRET_EXPIRED},
    {7000218, ADV_NO_CREDENTIAL},  {700016, ADV_APP_NOT_FOUND},   {700011, ADV_APP_NOT_FOUND},
    {90002, ADV_TENANT_NOT_FOUND}, {700027, ADV_CERTIFICATE},     {50012, ADV_CERTIFICATE},
    {70008, ADV_REFRESH_EXPIRED},  {700082, ADV_REFRESH_EXPIRED}, {50173, ADV_REFRESH_EXPIRED},
    {65001, ADV_CONSENT},          {90094, ADV_CONSENT},          {500011, ADV_RESOURCE},
    {50001, ADV_RESOURCE},
};

/* OAuth error strings that decide when no known code is present. */
static const struct {
    const char *error;
    enum advice advice;
} known_errors[] = {
    {"consent_required", ADV_CONSENT},
    {"invalid_grant", ADV_REFRESH_EXPIRED}, /* only refresh tokens and codes are grants here */
    {"interaction_required", ADV_REFRESH_EXPIRED},
    {"invalid_resource", ADV_RESOURCE},
};

struct entra_error {
    char *error; /* malloc'd copy with the secrets masked, or NULL */
    char *desc;  /* likewise */
    long codes[8];
    size_t ncodes;
};

static const char *get_string(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string)) {
        return json_object_get_string(v);
    }
    return NULL;
}

/* "AADSTS70011: ..." -> 70011, else 0. */
static long desc_code(const char *desc)
{
    if (desc == NULL || strncmp(desc, "AADSTS", 6) != 0 || !isdigit((unsigned char)desc[6])) {
        return 0;
    }
    return strtol(desc + 6, NULL, 10);
}

/* A copy of s with every secret masked, so that no later cut to length can leave part of one.
 * NULL when s is NULL or memory is short (then the text is left out of the message). */
static char *masked_copy(const char *s, const char *const *secrets, size_t nsecrets)
{
    char *copy = s != NULL ? strdup(s) : NULL;
    for (size_t i = 0; copy != NULL && i < nsecrets; i++) {
        dfw__auth_scrub(copy, secrets[i]);
    }
    return copy;
}

static void read_entra_error(json_object *obj,
                             const char *const *secrets,
                             size_t nsecrets,
                             struct entra_error *e)
{
    memset(e, 0, sizeof(*e));
    e->error = masked_copy(get_string(obj, "error"), secrets, nsecrets);
    e->desc = masked_copy(get_string(obj, "error_description"), secrets, nsecrets);
    json_object *codes = NULL;
    if (json_object_object_get_ex(obj, "error_codes", &codes) &&
        json_object_is_type(codes, json_type_array)) {
        size_t n = json_object_array_length(codes);
        for (size_t i = 0; i < n && e->ncodes < sizeof(e->codes) / sizeof(e->codes[0]); i++) {
            json_object *c = json_object_array_get_idx(codes, i);
            if (json_object_is_type(c, json_type_int)) {
                e->codes[e->ncodes++] = (long)json_object_get_int64(c);
            }
        }
    }
    if (e->ncodes == 0 && desc_code(e->desc) != 0) {
        e->codes[e->ncodes++] = desc_code(e->desc);
    }
}

static enum advice advise(const struct entra_error *e, long *code)
{
    for (size_t k = 0; k < sizeof(known_codes) / sizeof(known_codes[0]); k++) {
        for (size_t i = 0; i < e->ncodes; i++) {
            if (e->codes[i] == known_codes[k].code) {
                *code = known_codes[k].code;
                return known_codes[k].advice;
            }
        }
    }
    *code = e->ncodes > 0 ? e->codes[0] : 0;
    for (size_t k = 0; e->error != NULL && k < sizeof(known_errors) / sizeof(known_errors[0]);
         k++) {
        if (strcmp(e->error, known_errors[k].error) == 0) {
            return known_errors[k].advice;
        }
    }
    return ADV_NONE;
}

/* What may be quoted from the answer: RFC 6749 §5.2 allows only %x20-21 / %x23-5B / %x5D-7E in
 * error and error_description; anything else (control characters, '"', '\\', non-ASCII) becomes
 * '?', so a hostile endpoint can neither break a log line nor a key="value" in it. */
static char quotable(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
}

/* The OAuth error code, as quotable text of at most outlen - 1 bytes. */
static void error_code_text(const char *error, char *out, size_t outlen)
{
    size_t n = 0;
    for (; error != NULL && error[n] != '\0' && n + 1 < outlen; n++) {
        out[n] = quotable((unsigned char)error[n]);
    }
    out[n] = '\0';
}

/* The first line of the description, without its "AADSTSnnn: " prefix, quotable text only. */
static void first_line(const char *desc, char *out, size_t outlen)
{
    out[0] = '\0';
    if (desc == NULL || outlen == 0) {
        return;
    }
    if (desc_code(desc) != 0) {
        const char *colon = strstr(desc, ": ");
        const char *eol = strpbrk(desc, "\r\n");
        if (colon != NULL && (eol == NULL || colon < eol)) {
            desc = colon + 2;
        }
    }
    size_t n = 0;
    for (; desc[n] != '\0' && desc[n] != '\r' && desc[n] != '\n' && n + 1 < outlen; n++) {
        out[n] = quotable((unsigned char)desc[n]);
    }
    out[n] = '\0';
}

/* The application id quoted in AADSTS700016 ("Application with identifier '<id>' was not
 * found"); a GUID is not a secret. "" when absent or odd-looking. */
static void app_identifier(const char *desc, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *p = desc != NULL ? strstr(desc, "identifier '") : NULL;
    if (p == NULL) {
        return;
    }
    p += strlen("identifier '");
    size_t n = 0;
    while (p[n] != '\'' && n + 1 < outlen &&
           (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '.')) {
        n++;
    }
    if (p[n] != '\'') {
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

static dfw_err explain_known(enum advice adv,
                             const char *tenant,
                             const char *prefix,
                             const struct entra_error *e,
                             char *errbuf,
                             size_t errlen)
{
    char app[80];
    switch (adv) {
    case ADV_SECRET_WRONG:
        snprintf(errbuf, errlen,
                 "%sclient secret is wrong: check client_secret_file (copy the secret Value, not "
                 "the Secret ID)",
                 prefix);
        return DFW_ERR_AUTH;
    case ADV_SECRET_EXPIRED:
        snprintf(errbuf, errlen,
                 "%sclient secret expired: create a new one (app registration > Certificates & "
                 "secrets) and update client_secret_file",
                 prefix);
        return DFW_ERR_AUTH;
    case ADV_APP_NOT_FOUND:
        app_identifier(e->desc, app, sizeof(app));
        snprintf(errbuf, errlen,
                 "%sapplication %s not found in tenant: the tenant's admin must grant admin "
                 "consent — run `defender-forwarder consent-url %s`",
                 prefix, app[0] != '\0' ? app : "(client_id)", tenant);
        return DFW_ERR_AUTH;
    case ADV_CONSENT:
        snprintf(errbuf, errlen,
                 "%sadmin consent missing or revoked: the tenant's admin must open the link from "
                 "`defender-forwarder consent-url %s` and accept",
                 prefix, tenant);
        return DFW_ERR_AUTH;
    case ADV_TENANT_NOT_FOUND:
        snprintf(errbuf, errlen,
                 "%stenant not found: check tenant_id and cloud (a tenant of another cloud is not "
                 "found at this login host)",
                 prefix);
        return DFW_ERR_AUTH;
    case ADV_CERTIFICATE:
        snprintf(
            errbuf, errlen,
            "%scertificate not registered or signature invalid: upload certificate_file to the "
            "app registration (Certificates & secrets) and check that private_key belongs to it",
            prefix);
        return DFW_ERR_AUTH;
    case ADV_NO_CREDENTIAL:
        snprintf(errbuf, errlen,
                 "%sno credential sent (neither client_secret nor client_assertion): check auth= "
                 "and the secret settings of the tenant",
                 prefix);
        return DFW_ERR_AUTH;
    case ADV_REFRESH_EXPIRED:
        snprintf(errbuf, errlen,
                 "%srefresh token expired or revoked: run `defender-forwarder authorize %s` again",
                 prefix, tenant);
        return DFW_ERR_AUTH;
    case ADV_RESOURCE:
        snprintf(errbuf, errlen,
                 "%sAPI not available or permission missing: the tenant has no service principal "
                 "for this API (not licensed, or wrong cloud) or the application lacks the API "
                 "permission",
                 prefix);
        return DFW_ERR_AUTH;
    case ADV_THROTTLED:
        snprintf(errbuf, errlen, "%sthrottled by Entra ID (too many token requests): retry later",
                 prefix);
        return DFW_ERR_THROTTLED;
    case ADV_NONE:
        break;
    }
    return DFW_ERR_AUTH;
}

static void entra_error_free(struct entra_error *e)
{
    free(e->error);
    free(e->desc);
    memset(e, 0, sizeof(*e));
}

dfw_err dfw_auth_explain_error(
    const char *tenant, long http_status, const char *body, size_t len, char *errbuf, size_t errlen)
{
    return dfw__auth_explain(tenant, http_status, body, len, NULL, 0, errbuf, errlen);
}

dfw_err dfw__auth_explain(const char *tenant,
                          long http_status,
                          const char *body,
                          size_t len,
                          const char *const *secrets,
                          size_t nsecrets,
                          char *errbuf,
                          size_t errlen)
{
    char scratch[2];
    if (errbuf == NULL || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof(scratch);
    }
    if (tenant == NULL) {
        tenant = "(unknown)";
    }
    json_object *obj = dfw__json_parse_object(body, len);
    struct entra_error e;
    memset(&e, 0, sizeof(e));
    if (obj != NULL) {
        read_entra_error(obj, secrets, nsecrets, &e);
    }
    if (obj == NULL || (e.error == NULL && e.ncodes == 0)) {
        /* a proxy page, a truncated body, or an answer that is no Entra error */
        entra_error_free(&e);
        json_object_put(obj);
        int throttled = http_status == 429;
        snprintf(errbuf, errlen, "tenant %s: token endpoint HTTP %ld: %s", tenant, http_status,
                 throttled ? "throttled by Entra ID (too many token requests): retry later"
                           : "no Entra ID error in the answer; will retry");
        return throttled ? DFW_ERR_THROTTLED : DFW_ERR_RETRY;
    }
    long code = 0;
    enum advice adv = advise(&e, &code);
    char prefix[320];
    char codebuf[32] = "";
    char error[80];
    if (code != 0) {
        snprintf(codebuf, sizeof(codebuf), "AADSTS%ld: ", code);
    }
    error_code_text(e.error != NULL ? e.error : "error", error, sizeof(error));
    snprintf(prefix, sizeof(prefix), "tenant %s: token endpoint HTTP %ld, %s: %s", tenant,
             http_status, error, codebuf);
    dfw_err rc;
    if (adv == ADV_THROTTLED || http_status == 429) {
        rc = explain_known(ADV_THROTTLED, tenant, prefix, &e, errbuf, errlen);
    }
    else if (http_status >= 500 ||
             (e.error != NULL && strcmp(e.error, "temporarily_unavailable") == 0)) {
        char desc[DESC_MAX];
        first_line(e.desc, desc, sizeof(desc));
        snprintf(errbuf, errlen, "%s%s%swill retry", prefix, desc, desc[0] != '\0' ? "; " : "");
        rc = DFW_ERR_RETRY;
    }
    else if (adv != ADV_NONE) {
        rc = explain_known(adv, tenant, prefix, &e, errbuf, errlen);
    }
    else {
        char desc[DESC_MAX];
        first_line(e.desc, desc, sizeof(desc));
        snprintf(errbuf, errlen, "%s%s", prefix, desc[0] != '\0' ? desc : "(no description)");
        rc = DFW_ERR_AUTH;
    }
    entra_error_free(&e);
    json_object_put(obj);
    return rc;
}

int dfw__auth_error_expired_grant(const char *body, size_t len)
{
    json_object *obj = dfw__json_parse_object(body, len);
    if (obj == NULL) {
        return 0;
    }
    struct entra_error e;
    read_entra_error(obj, NULL, 0, &e);
    long code = 0;
    int expired = advise(&e, &code) == ADV_REFRESH_EXPIRED;
    entra_error_free(&e);
    json_object_put(obj);
    return expired;
}

size_t dfw__auth_error_codes(const char *body, size_t len, long *codes, size_t max, char **error)
{
    if (error != NULL) {
        *error = NULL;
    }
    json_object *obj = dfw__json_parse_object(body, len);
    if (obj == NULL) {
        return 0;
    }
    struct entra_error e;
    read_entra_error(obj, NULL, 0, &e);
    size_t n = e.ncodes < max ? e.ncodes : max;
    memcpy(codes, e.codes, n * sizeof(*codes));
    if (error != NULL) {
        *error = e.error; /* the copy is the caller's now */
        e.error = NULL;
    }
    entra_error_free(&e);
    json_object_put(obj);
    return n;
}

enum dfw_auth_failure dfw_auth_classify_error(long http_status, const char *body, size_t len)
{
    json_object *obj = dfw__json_parse_object(body, len);
    struct entra_error e;
    memset(&e, 0, sizeof(e));
    if (obj != NULL) {
        read_entra_error(obj, NULL, 0, &e);
    }
    if (obj == NULL || (e.error == NULL && e.ncodes == 0) || http_status == 429 ||
        http_status >= 500) {
        entra_error_free(&e);
        json_object_put(obj);
        return DFW_AUTHF_TRANSIENT;
    }
    long code = 0;
    enum advice adv = advise(&e, &code);
    int unavailable = e.error != NULL && strcmp(e.error, "temporarily_unavailable") == 0;
    entra_error_free(&e);
    json_object_put(obj);
    if (unavailable) {
        return DFW_AUTHF_TRANSIENT;
    }
    switch (adv) {
    case ADV_CONSENT:
    case ADV_APP_NOT_FOUND:
        return DFW_AUTHF_CONSENT;
    case ADV_REFRESH_EXPIRED:
        return DFW_AUTHF_GRANT_EXPIRED;
    case ADV_SECRET_WRONG:
    case ADV_SECRET_EXPIRED:
    case ADV_CERTIFICATE:
    case ADV_NO_CREDENTIAL:
        return DFW_AUTHF_CREDENTIAL;
    case ADV_TENANT_NOT_FOUND:
        return DFW_AUTHF_TENANT;
    case ADV_RESOURCE:
        return DFW_AUTHF_RESOURCE;
    case ADV_THROTTLED:
        return DFW_AUTHF_TRANSIENT;
    case ADV_NONE:
        break;
    }
    return DFW_AUTHF_OTHER;
}
