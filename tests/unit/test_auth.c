/* Token provider: request bodies, responses, the cache and its skew, Entra ID error advice,
 * certificate client assertions (checked with OpenSSL against a certificate made by the openssl
 * command at test time) and refresh-token rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dfw/auth.h"
#include "dfw/secret.h"

#define TENANT_ID "7f0e3c2a-0000-4000-8000-000000000001"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"
#define LOGIN     "https://login.microsoftonline.com"
#define DEFENDER  "https://api.security.microsoft.com"
#define GRAPH     "https://graph.microsoft.com"
/* characters that must be percent-encoded in a form body */
#define SECRET     "Xy8Q~s3cr3t+/=&value"
#define SECRET_ENC "Xy8Q~s3cr3t%2B%2F%3D%26value"
#define NOW_MS     1714550000000LL

static char dir[64];
static char secret_path[128];
static char cert_path[128];
static char key_path[128];
static char other_key_path[128];
static char open_key_path[128];

static void write_file(const char *path, const char *content, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void run(const char *cmd)
{
    if (system(cmd) != 0) {
        fail_msg("command failed: %s", cmd);
    }
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/dfw-test-auth-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(secret_path, sizeof(secret_path), "%s/client_secret", dir);
    snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(other_key_path, sizeof(other_key_path), "%s/other.pem", dir);
    snprintf(open_key_path, sizeof(open_key_path), "%s/open.pem", dir);
    write_file(secret_path, SECRET "\n", 0600);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=dfw-test >/dev/null 2>&1 && "
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s >/dev/null 2>&1 "
             "&& chmod 600 %s %s && cp %s %s && chmod 644 %s",
             key_path, cert_path, other_key_path, key_path, other_key_path, key_path, open_key_path,
             open_key_path);
    run(cmd);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct dfw_tenant_conf tenant(enum dfw_auth_method method, enum dfw_token_endpoint ep)
{
    struct dfw_tenant_conf t;
    memset(&t, 0, sizeof(t));
    t.name = "contoso";
    t.tenant_id = TENANT_ID;
    t.client_id = CLIENT_ID;
    t.auth = method;
    t.token_endpoint = ep;
    t.client_secret.file = secret_path;
    return t;
}

static struct dfw_auth *new_auth(const struct dfw_tenant_conf *t)
{
    char err[512] = "";
    struct dfw_auth *a = dfw_auth_new(t, LOGIN "/", err, sizeof(err));
    if (a == NULL) {
        fail_msg("dfw_auth_new: %s", err);
    }
    return a;
}

static char *b64(const char *s)
{
    char *out = dfw_base64url_encode((const unsigned char *)s, strlen(s));
    assert_non_null(out);
    return out;
}

/* An access token as Entra ID issues it (v1 claims), unsigned: the client never checks it. */
static char *access_token(const char *aud)
{
    char payload[1024];
    snprintf(payload, sizeof(payload),
             "{\"aud\":\"%s\",\"iss\":\"https://sts.windows.net/" TENANT_ID "/\","
             "\"iat\":1714550000,\"nbf\":1714550000,\"exp\":1714553899,\"appid\":\"" CLIENT_ID
             "\",\"roles\":[\"Incident.Read.All\"],\"tid\":\"" TENANT_ID "\",\"ver\":\"1.0\"}",
             aud);
    char *h = b64("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k1\"}");
    char *p = b64(payload);
    char *jwt = malloc(strlen(h) + strlen(p) + 32);
    assert_non_null(jwt);
    snprintf(jwt, strlen(h) + strlen(p) + 32, "%s.%s.c2lnbmF0dXJl", h, p);
    free(h);
    free(p);
    return jwt;
}

static dfw_err feed(struct dfw_auth *a,
                    const char *resource,
                    long status,
                    const char *body,
                    int64_t now_ms,
                    char *err,
                    size_t errlen)
{
    return dfw_auth_handle_response(a, resource, status, body, strlen(body), now_ms, err, errlen);
}

/* Feed a 200 with expires_in given as JSON text (3599 or "3599"). */
static dfw_err feed_token(struct dfw_auth *a,
                          const char *resource,
                          const char *expires_in,
                          int64_t now_ms,
                          char **token_out)
{
    char *at = access_token(resource);
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"token_type\":\"Bearer\",\"expires_in\":%s,\"ext_expires_in\":0,"
             "\"access_token\":\"%s\"}",
             expires_in, at);
    char err[512] = "";
    dfw_err rc = feed(a, resource, 200, body, now_ms, err, sizeof(err));
    if (token_out != NULL) {
        *token_out = at;
    }
    else {
        free(at);
    }
    return rc;
}

/* ---- request bodies ---- */

static void test_v2_secret_body(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    assert_string_equal(dfw_auth_token_url(a), LOGIN "/" TENANT_ID "/oauth2/v2.0/token");
    char *body = NULL;
    char err[256] = "";
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_string_equal(body, "grant_type=client_credentials&client_id=" CLIENT_ID
                              "&scope=https%3A%2F%2Fapi.security.microsoft.com%2F.default"
                              "&client_secret=" SECRET_ENC);
    dfw_secret_free(body);
    /* a trailing slash on the resource does not double the slash of /.default */
    assert_int_equal(dfw_auth_request_body(a, GRAPH "/", NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_non_null(strstr(body, "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&"));
    dfw_secret_free(body);
    assert_int_equal(dfw_auth_request_body(a, "", NOW_MS, &body, err, sizeof(err)),
                     DFW_ERR_INVALID);
    assert_null(body);
    dfw_auth_free(a);
}

static void test_v1_secret_body(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V1);
    struct dfw_auth *a = new_auth(&t);
    assert_string_equal(dfw_auth_token_url(a), LOGIN "/" TENANT_ID "/oauth2/token");
    char *body = NULL;
    char err[256] = "";
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_string_equal(body, "grant_type=client_credentials&client_id=" CLIENT_ID
                              "&resource=https%3A%2F%2Fapi.security.microsoft.com"
                              "&client_secret=" SECRET_ENC);
    dfw_secret_free(body);
    dfw_auth_free(a);
}

static void test_new_errors(void **state)
{
    (void)state;
    char err[512] = "";
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/no-such-secret", dir);
    t.client_secret.file = missing;
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "contoso"));
    assert_non_null(strstr(err, "no-such-secret"));

    /* a world-readable secret is refused, and its content never shows */
    char loose[160];
    snprintf(loose, sizeof(loose), "%s/loose_secret", dir);
    write_file(loose, "LOOSE-SECRET-VALUE", 0644);
    t.client_secret.file = loose;
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "contoso"));
    assert_non_null(strstr(err, "loose_secret"));
    assert_null(strstr(err, "LOOSE-SECRET-VALUE"));

    t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    assert_null(dfw_auth_new(&t, NULL, err, sizeof(err)));
    t.tenant_id = NULL;
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    dfw_auth_free(NULL);
}

static void test_consent_url(void **state)
{
    (void)state;
    /* v1: the form of the Defender partner and MSSP docs, on /common */
    char *url = dfw_auth_consent_url(LOGIN "/", CLIENT_ID);
    assert_string_equal(url, LOGIN "/common/oauth2/authorize?prompt=consent&client_id=" CLIENT_ID
                                   "&response_type=code&sso_reload=true");
    free(url);
    url = dfw_auth_consent_url("https://login.microsoftonline.us", CLIENT_ID);
    assert_string_equal(url, "https://login.microsoftonline.us/common/oauth2/"
                             "authorize?prompt=consent&client_id=" CLIENT_ID
                             "&response_type=code&sso_reload=true");
    free(url);
    assert_null(dfw_auth_consent_url(LOGIN, NULL));
    /* v2: the tenant's admin-consent endpoint, redirect URI and static scope encoded */
    url = dfw_auth_admin_consent_url(LOGIN, TENANT_ID, CLIENT_ID, "http://localhost:8400/", GRAPH);
    assert_string_equal(url, LOGIN "/" TENANT_ID "/v2.0/adminconsent?client_id=" CLIENT_ID
                                   "&redirect_uri=http%3A%2F%2Flocalhost%3A8400%2F"
                                   "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
    free(url);
    assert_null(dfw_auth_admin_consent_url(LOGIN, TENANT_ID, CLIENT_ID, NULL, GRAPH));
}

/* ---- responses and the cache ---- */

static void test_response_expires_number_and_string(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    assert_null(dfw_auth_token(a, DEFENDER, NOW_MS));

    char *at = NULL;
    assert_int_equal(feed_token(a, DEFENDER, "3599", NOW_MS, &at), DFW_OK);
    const struct dfw_token *tok = dfw_auth_token(a, DEFENDER, NOW_MS);
    assert_non_null(tok);
    assert_string_equal(tok->access_token, at);
    assert_int_equal(tok->expires_at_ms, NOW_MS + 3599000);
    assert_string_equal(tok->claims->tid, TENANT_ID);
    assert_string_equal(tok->claims->aud, DEFENDER);
    assert_true(dfw_claims_has_role(tok->claims, "Incident.Read.All"));
    free(at);

    /* v1 sends expires_in as a string */
    assert_int_equal(feed_token(a, GRAPH, "\"3600\"", NOW_MS + 5, &at), DFW_OK);
    tok = dfw_auth_token(a, GRAPH, NOW_MS + 5);
    assert_non_null(tok);
    assert_int_equal(tok->expires_at_ms, NOW_MS + 5 + 3600000);
    assert_string_equal(tok->access_token, at);
    free(at);
    /* the first resource's token is untouched */
    assert_int_equal(dfw_auth_token(a, DEFENDER, NOW_MS)->expires_at_ms, NOW_MS + 3599000);
    assert_null(dfw_auth_token(a, "https://other.example", NOW_MS));
    dfw_auth_free(a);
}

static void test_response_malformed(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    char *at = access_token(DEFENDER);
    char err[512];
    char body[2048];
    static const char *const shapes[] = {
        "{\"token_type\":\"Bearer\",\"expires_in\":3599}",     /* no token */
        "{\"token_type\":\"Bearer\",\"access_token\":\"%s\"}", /* no expiry */
        "{\"token_type\":\"Bearer\",\"expires_in\":\"soon\",\"access_token\":\"%s\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":\"%s\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":-5,\"access_token\":\"%s\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":[1],\"access_token\":\"%s\"}",
        "{\"token_type\":\"mac\",\"expires_in\":3599,\"access_token\":\"%s\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"opaque-token\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"%s\"", /* truncated */
        "<html>Bad gateway</html>",
        "",
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        /* every shape has at most one %s */
        const char *fmt = shapes[i];
        const char *pct = strstr(fmt, "%s");
        if (pct != NULL) {
            snprintf(body, sizeof(body), "%.*s%s%s", (int)(pct - fmt), fmt, at, pct + 2);
        }
        else {
            snprintf(body, sizeof(body), "%s", fmt);
        }
        err[0] = '\0';
        dfw_err rc = feed(a, DEFENDER, 200, body, NOW_MS, err, sizeof(err));
        if (rc != DFW_ERR_RETRY) {
            fail_msg("shape %zu: rc %d (%s)", i, rc, err);
        }
        assert_non_null(strstr(err, "contoso"));
        assert_null(strstr(err, at));
        assert_null(dfw_auth_token(a, DEFENDER, NOW_MS));
    }
    free(at);
    dfw_auth_free(a);
}

static void test_cache_skew(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    dfw_auth_set_refresh_spread(a, 0);
    /* an hour: valid until 5 minutes before expiry, not one millisecond longer */
    assert_int_equal(feed_token(a, DEFENDER, "3600", NOW_MS, NULL), DFW_OK);
    int64_t expiry = NOW_MS + 3600000;
    assert_non_null(dfw_auth_token(a, DEFENDER, expiry - DFW_AUTH_SKEW_MS - 1));
    assert_null(dfw_auth_token(a, DEFENDER, expiry - DFW_AUTH_SKEW_MS));
    assert_null(dfw_auth_token(a, DEFENDER, expiry + 1));

    /* exactly 2 * skew (600 s) still uses the full skew */
    assert_int_equal(feed_token(a, DEFENDER, "600", NOW_MS, NULL), DFW_OK);
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS + 300000 - 1));
    assert_null(dfw_auth_token(a, DEFENDER, NOW_MS + 300000));

    /* shorter than 2 * skew: a quarter of the lifetime is the skew */
    assert_int_equal(feed_token(a, DEFENDER, "60", NOW_MS, NULL), DFW_OK);
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS));
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS + 44999));
    assert_null(dfw_auth_token(a, DEFENDER, NOW_MS + 45000));
    assert_int_equal(feed_token(a, DEFENDER, "\"599\"", NOW_MS, NULL), DFW_OK);
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS + 449250 - 1));
    assert_null(dfw_auth_token(a, DEFENDER, NOW_MS + 449250));
    /* a spread of 500: half of a tenth of the hour (3 minutes) earlier still */
    dfw_auth_set_refresh_spread(a, 500);
    assert_int_equal(feed_token(a, DEFENDER, "3600", NOW_MS, NULL), DFW_OK);
    assert_non_null(dfw_auth_token(a, DEFENDER, expiry - DFW_AUTH_SKEW_MS - 180000 - 1));
    assert_null(dfw_auth_token(a, DEFENDER, expiry - DFW_AUTH_SKEW_MS - 180000));
    dfw_auth_free(a);
}

static void test_invalidate(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    char *d = NULL;
    char *g = NULL;
    assert_int_equal(feed_token(a, DEFENDER, "3599", NOW_MS, &d), DFW_OK);
    const struct dfw_token *dt = dfw_auth_token(a, DEFENDER, NOW_MS);
    assert_int_equal(feed_token(a, GRAPH, "3599", NOW_MS, &g), DFW_OK);
    /* adding another resource leaves the first token where it was */
    assert_ptr_equal(dfw_auth_token(a, DEFENDER, NOW_MS), dt);
    assert_string_equal(dt->access_token, d);
    dfw_auth_invalidate(a, DEFENDER);
    assert_null(dfw_auth_token(a, DEFENDER, NOW_MS));
    const struct dfw_token *gt = dfw_auth_token(a, GRAPH, NOW_MS);
    assert_non_null(gt);
    assert_string_equal(gt->access_token, g);
    dfw_auth_invalidate(a, DEFENDER); /* twice: no-op */
    dfw_auth_invalidate(a, "https://never.example");
    assert_int_equal(feed_token(a, DEFENDER, "3599", NOW_MS, NULL), DFW_OK);
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS));
    free(d);
    free(g);
    dfw_auth_free(a);
}

/* The info line of a refresh names tenant, resource and expires_in, and never the token. */
static void test_refresh_log_line(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    char logpath[160];
    snprintf(logpath, sizeof(logpath), "%s/stderr.log", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    char *at = NULL;
    dfw_err rc = feed_token(a, DEFENDER, "3599", NOW_MS, &at);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_int_equal(rc, DFW_OK);
    char *log = slurp(logpath);
    assert_non_null(strstr(log, "level=info component=auth tenant=contoso resource=" DEFENDER
                                " expires_in=3599"));
    assert_null(strstr(log, at));
    assert_null(strstr(log, strrchr(at, '.')));
    assert_null(strstr(log, SECRET));
    free(log);
    free(at);
    dfw_auth_free(a);
}

/* ---- Entra ID errors ---- */

static char *error_body(const char *code)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/auth/error_%s.json", DFW_TEST_DATA, code);
    return slurp(path);
}

struct expectation {
    const char *file;
    long status;
    dfw_err rc;
    const char *aadsts; /* "AADSTSnnn" expected in the message */
    const char *advice; /* a phrase of the advice */
};

static const struct expectation mappings[] = {
    {"7000215", 401, DFW_ERR_AUTH, "AADSTS7000215",
     "client secret is wrong: check client_secret_file (copy the secret Value, not the Secret ID)"},
    {"7000222", 401, DFW_ERR_AUTH, "AADSTS7000222", "client secret expired: create a new one"},
    {"700016", 400, DFW_ERR_AUTH, "AADSTS700016",
     "application " CLIENT_ID " not found in tenant: the tenant's admin must grant admin consent "
     "— run `defender-forwarder consent-url contoso`"},
    {"65001", 400, DFW_ERR_AUTH, "AADSTS65001",
     "admin consent missing or revoked: the tenant's admin must open the link from "
     "`defender-forwarder consent-url contoso`"},
    {"90002", 400, DFW_ERR_AUTH, "AADSTS90002", "tenant not found: check tenant_id and cloud"},
    {"700027", 401, DFW_ERR_AUTH, "AADSTS700027",
     "certificate not registered or signature invalid"},
    {"50012", 401, DFW_ERR_AUTH, "AADSTS50012", "certificate not registered or signature invalid"},
    {"7000218", 401, DFW_ERR_AUTH, "AADSTS7000218", "no credential sent"},
    /* error_codes [70002,70008]: the refresh-token code wins over the generic one */
    {"70008", 400, DFW_ERR_AUTH, "AADSTS70008",
     "refresh token expired or revoked: run `defender-forwarder authorize contoso` again"},
    {"700082", 400, DFW_ERR_AUTH, "AADSTS700082",
     "refresh token expired or revoked: run `defender-forwarder authorize contoso` again"},
    {"50173", 400, DFW_ERR_AUTH, "AADSTS50173",
     "refresh token expired or revoked: run `defender-forwarder authorize contoso` again"},
    {"500011", 400, DFW_ERR_AUTH, "AADSTS500011", "API not available or permission missing"},
    {"90055", 400, DFW_ERR_THROTTLED, "AADSTS90055", "throttled by Entra ID"},
    {"90055", 429, DFW_ERR_THROTTLED, "AADSTS90055", "throttled by Entra ID"},
    /* not mapped: the OAuth error, the code and the first line of the description */
    {"70011", 400, DFW_ERR_AUTH, "AADSTS70011",
     "invalid_scope: AADSTS70011: The provided request must include a 'scope' input parameter. "
     "The provided value for the input parameter 'scope' is not valid. The scope "
     "https://api.security.microsoft.com/.default offline_access is not valid."},
    /* 5xx is retried whatever the body says */
    {"7000215", 503, DFW_ERR_RETRY, "AADSTS7000215", "will retry"},
};

static void check_message(const struct expectation *x, const char *err)
{
    char status[32];
    snprintf(status, sizeof(status), "HTTP %ld", x->status);
    if (strstr(err, "tenant contoso") == NULL || strstr(err, status) == NULL ||
        strstr(err, x->aadsts) == NULL || strstr(err, x->advice) == NULL) {
        fail_msg("%s/%ld: message \"%s\" lacks tenant, status, %s or \"%s\"", x->file, x->status,
                 err, x->aadsts, x->advice);
    }
    /* the first line only: trace and correlation ids stay out */
    assert_null(strstr(err, "Trace ID"));
    assert_null(strstr(err, "0c4a1f6e"));
    assert_null(strstr(err, "8e2b0d41"));
    assert_null(strchr(err, '\r'));
    assert_null(strchr(err, '\n'));
    assert_null(strstr(err, SECRET));
}

static void test_explain_mappings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(mappings) / sizeof(mappings[0]); i++) {
        const struct expectation *x = &mappings[i];
        char *body = error_body(x->file);
        char err[1024] = "";
        dfw_err rc =
            dfw_auth_explain_error("contoso", x->status, body, strlen(body), err, sizeof(err));
        if (rc != x->rc) {
            fail_msg("%s/%ld: rc %d, want %d (%s)", x->file, x->status, rc, x->rc, err);
        }
        check_message(x, err);
        free(body);
    }
}

/* The same bodies through a provider: same mapping, and no secret in errbuf. */
static void test_handle_response_errors(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    for (size_t i = 0; i < sizeof(mappings) / sizeof(mappings[0]); i++) {
        const struct expectation *x = &mappings[i];
        char *body = error_body(x->file);
        char err[1024] = "";
        assert_int_equal(feed(a, DEFENDER, x->status, body, NOW_MS, err, sizeof(err)), x->rc);
        check_message(x, err);
        assert_null(dfw_auth_token(a, DEFENDER, NOW_MS));
        free(body);
    }
    /* even if the token endpoint echoed the secret, it is masked */
    char err[1024] = "";
    const char *echo =
        "{\"error\":\"invalid_request\",\"error_description\":\"AADSTS900144: The "
        "value '" SECRET "' is not valid.\\r\\nTrace ID: x\",\"error_codes\":[900144]}";
    assert_int_equal(feed(a, DEFENDER, 400, echo, NOW_MS, err, sizeof(err)), DFW_ERR_AUTH);
    assert_non_null(strstr(err, "AADSTS900144"));
    assert_null(strstr(err, SECRET));
    dfw_auth_free(a);
}

/* Found by fuzzing: the secret was masked after the message was cut to errbuf's size, so a
 * secret cut at the end of the buffer kept its first characters. Every cut is a prefix of the
 * masked message now. */
static void test_secret_masked_before_the_cut(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_AUTH_SECRET, DFW_TOKEN_V2);
    struct dfw_auth *a = new_auth(&t);
    const char *echo = "{\"error\":\"invalid_request\",\"error_description\":\"AADSTS900144: The "
                       "value '" SECRET "' is not valid.\",\"error_codes\":[900144]}";
    char full[1024];
    assert_int_equal(feed(a, DEFENDER, 400, echo, NOW_MS, full, sizeof(full)), DFW_ERR_AUTH);
    const char *mask = strstr(full, "****");
    assert_non_null(mask);
    size_t at = (size_t)(mask - full);
    for (size_t cut = at + 1; cut < at + strlen(SECRET) + 2; cut++) {
        char err[1024];
        assert_int_equal(feed(a, DEFENDER, 400, echo, NOW_MS, err, cut + 1), DFW_ERR_AUTH);
        assert_int_equal(strlen(err), cut);
        assert_memory_equal(err, full, cut);
        assert_null(strstr(err, "Xy8Q"));
    }
    dfw_auth_free(a);
}

/* Found by fuzzing: the OAuth "error" text was copied raw, so a hostile or broken endpoint could
 * end the msg="..." of the log line, add keys or start a new line. */
static void test_error_text_is_quotable(void **state)
{
    (void)state;
    const char *body = "{\"error\":\"invalid_request\\u001b[2J\\n\\\"x\\\" level=error "
                       "forged=1\\\\\",\"error_description\":\"AADSTS90014: A \\\"quoted\\\" "
                       "\\\\ part\\u0007.\",\"error_codes\":[90014]}";
    char err[1024];
    assert_int_equal(dfw_auth_explain_error("contoso", 400, body, strlen(body), err, sizeof(err)),
                     DFW_ERR_AUTH);
    assert_non_null(strstr(err, "AADSTS90014"));
    for (const char *p = err; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            fail_msg("byte 0x%02x in: %s", c, err);
        }
    }
    assert_non_null(strstr(err, "invalid_request?[2J??x? level=error forged=1?"));
}

static void test_explain_transport_shapes(void **state)
{
    (void)state;
    char err[512];
    const char *html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    assert_int_equal(dfw_auth_explain_error("contoso", 502, html, strlen(html), err, sizeof(err)),
                     DFW_ERR_RETRY);
    assert_non_null(strstr(err, "HTTP 502"));
    assert_int_equal(dfw_auth_explain_error("contoso", 429, "", 0, err, sizeof(err)),
                     DFW_ERR_THROTTLED);
    assert_non_null(strstr(err, "throttled"));
    /* a 4xx that is not an Entra error (a proxy page) is retried, not reported as credentials */
    assert_int_equal(dfw_auth_explain_error("contoso", 403, html, strlen(html), err, sizeof(err)),
                     DFW_ERR_RETRY);
    const char *unavailable = "{\"error\":\"temporarily_unavailable\",\"error_description\":"
                              "\"AADSTS50001: The service is temporarily unavailable.\\r\\n"
                              "Trace ID: abc\"}";
    assert_int_equal(
        dfw_auth_explain_error("contoso", 400, unavailable, strlen(unavailable), err, sizeof(err)),
        DFW_ERR_RETRY);
    assert_null(strstr(err, "Trace ID"));
    /* invalid_resource without a code, consent_required without a code */
    const char *res = "{\"error\":\"invalid_resource\"}";
    assert_int_equal(dfw_auth_explain_error("contoso", 400, res, strlen(res), err, sizeof(err)),
                     DFW_ERR_AUTH);
    assert_non_null(strstr(err, "API not available or permission missing"));
    /* a code only in the description still maps */
    const char *desc_only = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000222: "
                            "The provided client secret keys are expired.\"}";
    assert_int_equal(
        dfw_auth_explain_error("contoso", 401, desc_only, strlen(desc_only), err, sizeof(err)),
        DFW_ERR_AUTH);
    assert_non_null(strstr(err, "AADSTS7000222: client secret expired"));
    /* a tiny errbuf is truncated, not overrun */
    char tiny[8];
    assert_int_equal(
        dfw_auth_explain_error("contoso", 401, desc_only, strlen(desc_only), tiny, sizeof(tiny)),
        DFW_ERR_AUTH);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

/* ---- certificate assertions ---- */

/* base64url of a digest the openssl command prints as "... Fingerprint=AB:CD:...". */
static char *cli_thumbprint(const char *digest)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -fingerprint -%s", cert_path, digest);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof(line), p));
    pclose(p);
    const char *hex = strchr(line, '=');
    assert_non_null(hex);
    unsigned char bytes[64];
    size_t n = 0;
    for (hex++; hex[0] != '\0' && hex[1] != '\0' && n < sizeof(bytes); hex += 3) {
        unsigned int b = 0;
        assert_int_equal(sscanf(hex, "%2x", &b), 1);
        bytes[n++] = (unsigned char)b;
        if (hex[2] != ':') {
            break;
        }
    }
    char *out = dfw_base64url_encode(bytes, n);
    assert_non_null(out);
    return out;
}

static EVP_PKEY *cert_public_key(void)
{
    FILE *f = fopen(cert_path, "r");
    assert_non_null(f);
    X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(cert);
    EVP_PKEY *pub = X509_get_pubkey(cert);
    X509_free(cert);
    assert_non_null(pub);
    return pub;
}

/* 1 when the JWT's signature verifies with pub under the given padding (PSS: salt = 32). */
static int verify(const char *jwt, size_t inlen, EVP_PKEY *pub, int pss)
{
    const char *sig64 = jwt + inlen + 1;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    assert_int_equal(dfw_base64url_decode(sig64, strlen(sig64), &sig, &siglen), DFW_OK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pub), 1);
    if (pss) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
    }
    else {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
    }
    int ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)jwt, inlen);
    EVP_MD_CTX_free(ctx);
    free(sig);
    return ok == 1;
}

static json_object *segment(const char *start, size_t len)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(dfw_base64url_decode(start, len, &raw, &rawlen), DFW_OK);
    json_object *obj = json_tokener_parse((const char *)raw);
    free(raw);
    assert_non_null(obj);
    return obj;
}

static const char *jstr(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v)) {
        return NULL;
    }
    return json_object_get_string(v);
}

static int64_t jint(json_object *obj, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(obj, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

/* Split, verify and inspect an assertion; returns its jti (malloc'd). */
static char *check_assertion(const char *jwt, int alg, const char *aud, int64_t now_s)
{
    const char *dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    const char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    size_t inlen = (size_t)(dot2 - jwt);

    EVP_PKEY *pub = cert_public_key();
    int pss = alg == DFW_ALG_PS256;
    assert_true(verify(jwt, inlen, pub, pss));
    assert_false(verify(jwt, inlen, pub, !pss)); /* the other padding does not verify */
    char *tampered = strdup(jwt);
    tampered[dot1 - jwt + 3] = tampered[dot1 - jwt + 3] == 'A' ? 'B' : 'A';
    assert_false(verify(tampered, inlen, pub, pss));
    free(tampered);
    EVP_PKEY_free(pub);

    json_object *h = segment(jwt, (size_t)(dot1 - jwt));
    assert_string_equal(jstr(h, "alg"), pss ? "PS256" : "RS256");
    assert_string_equal(jstr(h, "typ"), "JWT");
    char *s256 = cli_thumbprint("sha256");
    assert_string_equal(jstr(h, "x5t#S256"), s256);
    free(s256);
    if (pss) {
        assert_null(jstr(h, "x5t"));
    }
    else {
        char *s1 = cli_thumbprint("sha1");
        assert_string_equal(jstr(h, "x5t"), s1);
        free(s1);
    }
    json_object_put(h);

    json_object *c = segment(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    assert_string_equal(jstr(c, "aud"), aud);
    assert_string_equal(jstr(c, "iss"), CLIENT_ID);
    assert_string_equal(jstr(c, "sub"), CLIENT_ID);
    assert_int_equal(jint(c, "nbf"), now_s);
    assert_int_equal(jint(c, "iat"), now_s);
    assert_int_equal(jint(c, "exp"), now_s + 600);
    const char *jti = jstr(c, "jti");
    assert_non_null(jti);
    assert_int_equal(strlen(jti), 36);
    assert_int_equal(jti[8], '-');
    assert_int_equal(jti[14], '4'); /* version 4 */
    assert_non_null(strchr("89ab", jti[19]));
    char *copy = strdup(jti);
    json_object_put(c);
    return copy;
}

static void test_assertion_ps256_rs256(void **state)
{
    (void)state;
    char *cert = slurp(cert_path);
    char *key = slurp(key_path);
    const char *aud = LOGIN "/" TENANT_ID "/oauth2/v2.0/token";
    char err[256] = "";
    char *a1 = NULL;
    char *a2 = NULL;
    assert_int_equal(dfw_client_assertion(CLIENT_ID, aud, cert, key, DFW_ALG_PS256, 1714550000, &a1,
                                          err, sizeof(err)),
                     DFW_OK);
    char *jti1 = check_assertion(a1, DFW_ALG_PS256, aud, 1714550000);
    assert_int_equal(dfw_client_assertion(CLIENT_ID, aud, cert, key, DFW_ALG_RS256, 1714550001, &a2,
                                          err, sizeof(err)),
                     DFW_OK);
    char *jti2 = check_assertion(a2, DFW_ALG_RS256, aud, 1714550001);
    assert_string_not_equal(jti1, jti2);
    free(jti1);
    free(jti2);
    free(a1);
    free(a2);

    /* a key that does not belong to the certificate, garbage, an unknown algorithm */
    char *other = slurp(other_key_path);
    assert_int_equal(
        dfw_client_assertion(CLIENT_ID, aud, cert, other, DFW_ALG_PS256, 0, &a1, err, sizeof(err)),
        DFW_ERR_INVALID);
    assert_non_null(strstr(err, "does not match"));
    assert_null(a1);
    assert_int_equal(dfw_client_assertion(CLIENT_ID, aud, cert, "KEY-GARBAGE", DFW_ALG_PS256, 0,
                                          &a1, err, sizeof(err)),
                     DFW_ERR_INVALID);
    assert_null(strstr(err, "KEY-GARBAGE"));
    assert_int_equal(
        dfw_client_assertion(CLIENT_ID, aud, key, key, DFW_ALG_PS256, 0, &a1, err, sizeof(err)),
        DFW_ERR_INVALID);
    assert_non_null(strstr(err, "certificate"));
    assert_null(strstr(err, "PRIVATE KEY"));
    assert_int_equal(dfw_client_assertion(CLIENT_ID, aud, cert, key, 7, 0, &a1, err, sizeof(err)),
                     DFW_ERR_INVALID);
    free(other);
    free(cert);
    free(key);
}

static void test_certificate_tenant(void **state)
{
    (void)state;
    for (int v = 0; v < 2; v++) {
        struct dfw_tenant_conf t = tenant(DFW_AUTH_CERTIFICATE, v ? DFW_TOKEN_V1 : DFW_TOKEN_V2);
        t.client_secret.file = NULL;
        t.certificate_file = cert_path;
        t.private_key.file = key_path;
        t.assertion_alg = v ? DFW_ALG_RS256 : DFW_ALG_PS256;
        struct dfw_auth *a = new_auth(&t);
        char *body = NULL;
        char err[256] = "";
        assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS + 999, &body, err, sizeof(err)),
                         DFW_OK);
        const char *want =
            v ? "grant_type=client_credentials&client_id=" CLIENT_ID
                "&resource=https%3A%2F%2Fapi.security.microsoft.com"
                "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
                "bearer&client_assertion="
              : "grant_type=client_credentials&client_id=" CLIENT_ID
                "&scope=https%3A%2F%2Fapi.security.microsoft.com%2F.default"
                "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-"
                "bearer&client_assertion=";
        assert_memory_equal(body, want, strlen(want));
        assert_null(strstr(body, "client_secret"));
        char *jti = check_assertion(body + strlen(want), t.assertion_alg, dfw_auth_token_url(a),
                                    NOW_MS / 1000);
        free(jti);
        dfw_secret_free(body);
        dfw_auth_free(a);
    }

    char err[512] = "";
    struct dfw_tenant_conf t = tenant(DFW_AUTH_CERTIFICATE, DFW_TOKEN_V2);
    t.certificate_file = cert_path;
    t.private_key.file = other_key_path;
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "contoso"));
    assert_non_null(strstr(err, "does not match"));
    t.private_key.file = open_key_path; /* mode 0644 */
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "open.pem"));
    assert_null(strstr(err, "PRIVATE KEY"));
    t.private_key.file = key_path;
    t.certificate_file = NULL;
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "certificate_file"));
}

/* ---- refresh tokens ---- */

static void test_refresh_token_rotation(void **state)
{
    (void)state;
    char rt_path[160];
    snprintf(rt_path, sizeof(rt_path), "%s/refresh_token", dir);
    write_file(rt_path, "0.ARoA-first-refresh-token\n", 0600);
    struct dfw_tenant_conf t = tenant(DFW_AUTH_REFRESH_TOKEN, DFW_TOKEN_V1);
    t.refresh_token_file = rt_path;
    struct dfw_auth *a = new_auth(&t);

    char *body = NULL;
    char err[512] = "";
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_string_equal(body, "grant_type=refresh_token&refresh_token=0.ARoA-first-refresh-token"
                              "&client_id=" CLIENT_ID "&client_secret=" SECRET_ENC
                              "&resource=https%3A%2F%2Fapi.security.microsoft.com");
    dfw_secret_free(body);

    char *at = access_token(DEFENDER);
    char resp[2048];
    snprintf(resp, sizeof(resp),
             "{\"token_type\":\"Bearer\",\"expires_in\":\"3599\",\"expires_on\":\"1714553599\","
             "\"resource\":\"" DEFENDER "\",\"access_token\":\"%s\","
             "\"refresh_token\":\"0.ARoA-second+token/==\"}",
             at);
    assert_int_equal(feed(a, DEFENDER, 200, resp, NOW_MS, err, sizeof(err)), DFW_OK);
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS));
    struct stat st;
    assert_int_equal(stat(rt_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *saved = slurp(rt_path);
    saved[strcspn(saved, "\r\n")] = '\0';
    assert_string_equal(saved, "0.ARoA-second+token/==");
    free(saved);
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_non_null(strstr(body, "&refresh_token=0.ARoA-second%2Btoken%2F%3D%3D&"));
    dfw_secret_free(body);

    /* an answer without refresh_token keeps the stored one */
    free(at);
    assert_int_equal(feed_token(a, GRAPH, "3599", NOW_MS, NULL), DFW_OK);
    saved = slurp(rt_path);
    assert_non_null(strstr(saved, "0.ARoA-second+token/=="));
    free(saved);

    /* the rotated token is what a restarted provider reads */
    dfw_auth_free(a);
    t.token_endpoint = DFW_TOKEN_V2;
    t.client_secret.file = NULL; /* a public client sends no secret */
    a = new_auth(&t);
    assert_int_equal(dfw_auth_request_body(a, GRAPH, NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_string_equal(
        body, "grant_type=refresh_token&refresh_token=0.ARoA-second%2Btoken%2F%3D%3D"
              "&client_id=" CLIENT_ID "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
    dfw_secret_free(body);

    /* an expired refresh token asks for `authorize`; the refresh token never shows */
    char *expired = error_body("700082");
    assert_int_equal(feed(a, GRAPH, 400, expired, NOW_MS, err, sizeof(err)), DFW_ERR_AUTH);
    assert_non_null(strstr(err, "run `defender-forwarder authorize contoso` again"));
    assert_null(strstr(err, "second"));
    free(expired);
    dfw_auth_free(a);

    /* a missing refresh token file fails early, naming tenant and file */
    snprintf(rt_path, sizeof(rt_path), "%s/absent_refresh_token", dir);
    t.refresh_token_file = rt_path;
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "contoso"));
    assert_non_null(strstr(err, "absent_refresh_token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_secret_body),
        cmocka_unit_test(test_v1_secret_body),
        cmocka_unit_test(test_new_errors),
        cmocka_unit_test(test_consent_url),
        cmocka_unit_test(test_response_expires_number_and_string),
        cmocka_unit_test(test_response_malformed),
        cmocka_unit_test(test_cache_skew),
        cmocka_unit_test(test_invalidate),
        cmocka_unit_test(test_refresh_log_line),
        cmocka_unit_test(test_explain_mappings),
        cmocka_unit_test(test_handle_response_errors),
        cmocka_unit_test(test_secret_masked_before_the_cut),
        cmocka_unit_test(test_error_text_is_quotable),
        cmocka_unit_test(test_explain_transport_shapes),
        cmocka_unit_test(test_assertion_ps256_rs256),
        cmocka_unit_test(test_certificate_tenant),
        cmocka_unit_test(test_refresh_token_rotation),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
