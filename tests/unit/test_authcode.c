/* The authorization-code flow: PKCE S256 (checked against OpenSSL), the authorize URLs, judging
 * redirects and pasted text, the code-redemption body and errors, storing the refresh token of a
 * code redemption (atomic, 0600, refused for another tenant), and the daemon side: a refused
 * refresh token stops requests until refresh_token_file changes. */
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
#include <openssl/evp.h>

#include "dfw/auth.h"
#include "dfw/authcode.h"
#include "dfw/secret.h"

#define TENANT_ID "7f0e3c2a-0000-4000-8000-000000000001"
#define CLIENT_ID "11111111-2222-3333-4444-555555555555"
#define LOGIN     "https://login.microsoftonline.com"
#define DEFENDER  "https://api.security.microsoft.com"
#define REDIRECT  "http://localhost:8400/"
#define NOW_MS    1714550000000LL

static char dir[64];
static char secret_path[128];
static char rt_path[128];

static void write_file(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static char *slurp(const char *path)
{
    struct dfw_secret_ref ref = {.file = (char *)(uintptr_t)path};
    char *out = NULL;
    char err[256];
    if (dfw_secret_read(&ref, &out, NULL, err, sizeof(err)) != DFW_OK) {
        fail_msg("%s", err);
    }
    return out;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/dfw-test-authcode-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(secret_path, sizeof(secret_path), "%s/secret", dir);
    snprintf(rt_path, sizeof(rt_path), "%s/refresh_token", dir);
    write_file(secret_path, "s3cr3t&=\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct dfw_tenant_conf tenant(enum dfw_token_endpoint ep)
{
    struct dfw_tenant_conf t;
    memset(&t, 0, sizeof(t));
    t.name = "contoso";
    t.tenant_id = TENANT_ID;
    t.client_id = CLIENT_ID;
    t.auth = DFW_AUTH_REFRESH_TOKEN;
    t.token_endpoint = ep;
    t.client_secret.file = secret_path;
    t.refresh_token_file = rt_path;
    return t;
}

/* A delegated access token (unsigned) for tid. */
static char *access_token(const char *tid)
{
    char payload[512];
    snprintf(payload, sizeof(payload),
             "{\"aud\":\"" DEFENDER
             "\",\"tid\":\"%s\",\"exp\":1714553899,\"scp\":\"Incident.Read\","
             "\"upn\":\"admin@contoso.onmicrosoft.com\"}",
             tid);
    char *h = dfw_base64url_encode((const unsigned char *)"{}", 2);
    char *p = dfw_base64url_encode((const unsigned char *)payload, strlen(payload));
    char *jwt = malloc(strlen(h) + strlen(p) + 16);
    snprintf(jwt, strlen(h) + strlen(p) + 16, "%s.%s.c2ln", h, p);
    free(h);
    free(p);
    return jwt;
}

static char *answer(const char *tid, const char *refresh)
{
    char *at = access_token(tid);
    char *body = malloc(4096);
    if (refresh != NULL) {
        snprintf(body, 4096,
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"%s\","
                 "\"refresh_token\":\"%s\"}",
                 at, refresh);
    }
    else {
        snprintf(body, 4096,
                 "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"%s\"}", at);
    }
    free(at);
    return body;
}

static void test_pkce(void **state)
{
    (void)state;
    struct dfw_pkce a, b;
    assert_int_equal(dfw_pkce_new(&a), DFW_OK);
    assert_int_equal(dfw_pkce_new(&b), DFW_OK);
    /* RFC 7636 §4.1: 43..128 unreserved characters; 32 random bytes give 43 */
    assert_int_equal(strlen(a.verifier), 43);
    assert_int_equal(strlen(a.state), 22);
    assert_int_equal(strspn(a.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789-_"),
                     43);
    assert_string_not_equal(a.verifier, b.verifier);
    assert_string_not_equal(a.state, b.state);
    /* §4.2 S256: BASE64URL(SHA256(ASCII(code_verifier))) */
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(a.verifier, 43, md, &n, EVP_sha256(), NULL), 1);
    char *want = dfw_base64url_encode(md, n);
    assert_string_equal(a.challenge, want);
    free(want);
    dfw_pkce_clear(&a);
    assert_int_equal(a.verifier[0], '\0');
}

static void test_authorize_urls(void **state)
{
    (void)state;
    struct dfw_pkce p;
    memset(&p, 0, sizeof(p));
    snprintf(p.state, sizeof(p.state), "st");
    snprintf(p.challenge, sizeof(p.challenge), "ch-_");
    char *url =
        dfw_authcode_url(LOGIN "/", TENANT_ID, CLIENT_ID, DFW_TOKEN_V2, DEFENDER, REDIRECT, &p);
    assert_string_equal(url, LOGIN "/" TENANT_ID "/oauth2/v2.0/authorize?client_id=" CLIENT_ID
                                   "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8400"
                                   "%2F&response_mode=query&scope=https%3A%2F%2Fapi.security."
                                   "microsoft.com%2F.default%20offline_access&state=st"
                                   "&code_challenge=ch-_&code_challenge_method=S256"
                                   "&prompt=select_account");
    free(url);
    url = dfw_authcode_url(LOGIN, TENANT_ID, CLIENT_ID, DFW_TOKEN_V1, DEFENDER, REDIRECT, &p);
    assert_string_equal(url, LOGIN "/" TENANT_ID "/oauth2/authorize?client_id=" CLIENT_ID
                                   "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8400"
                                   "%2F&response_mode=query&resource=https%3A%2F%2Fapi.security."
                                   "microsoft.com&state=st&code_challenge=ch-_"
                                   "&code_challenge_method=S256&prompt=select_account");
    free(url);
    assert_null(dfw_authcode_url(LOGIN, TENANT_ID, CLIENT_ID, DFW_TOKEN_V1, NULL, REDIRECT, &p));
}

static enum dfw_authcode_outcome judge(
    const char *code, const char *st, const char *error, const char *desc, char *msg, size_t msglen)
{
    struct dfw_authcode_reply r = {code, st, error, desc};
    struct dfw_authcode_result out;
    assert_int_equal(dfw_authcode_judge(&r, "good", "contoso", REDIRECT, &out), DFW_OK);
    snprintf(msg, msglen, "%s", out.message);
    enum dfw_authcode_outcome o = out.outcome;
    if (o == DFW_AUTHCODE_CODE) {
        assert_string_equal(out.code, code);
    }
    dfw_authcode_result_clear(&out);
    return o;
}

static void test_judge(void **state)
{
    (void)state;
    char m[768];
    assert_int_equal(judge("0.Acode", "good", NULL, NULL, m, sizeof(m)), DFW_AUTHCODE_CODE);
    assert_int_equal(judge("0.Acode", "bad", NULL, NULL, m, sizeof(m)),
                     DFW_AUTHCODE_STATE_MISMATCH);
    assert_non_null(strstr(m, "authorize contoso"));
    assert_int_equal(judge("0.Acode", NULL, NULL, NULL, m, sizeof(m)), DFW_AUTHCODE_STATE_MISMATCH);
    /* the documented cancel answer */
    assert_int_equal(
        judge(NULL, "good", "access_denied", "the user canceled the authentication", m, sizeof(m)),
        DFW_AUTHCODE_CANCELLED);
    assert_non_null(strstr(m, "sign-in cancelled"));
    assert_int_equal(judge(NULL, "good", "access_denied",
                           "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: "
                           "x",
                           m, sizeof(m)),
                     DFW_AUTHCODE_CONSENT_DENIED);
    assert_non_null(strstr(m, "AADSTS65004"));
    assert_null(strstr(m, "Trace"));
    assert_int_equal(judge(NULL, "good", "consent_required", "AADSTS65001: x", m, sizeof(m)),
                     DFW_AUTHCODE_NO_CONSENT);
    assert_non_null(strstr(m, "consent-url contoso"));
    assert_int_equal(judge(NULL, "good", "invalid_request",
                           "AADSTS50020: User account from identity provider does not exist", m,
                           sizeof(m)),
                     DFW_AUTHCODE_WRONG_TENANT);
    assert_int_equal(judge(NULL, "good", "server_error", "boom\x1b[31m", m, sizeof(m)),
                     DFW_AUTHCODE_ERROR);
    assert_null(strchr(m, '\x1b'));
    assert_int_equal(judge(NULL, NULL, NULL, NULL, m, sizeof(m)), DFW_AUTHCODE_INVALID);
}

static enum dfw_authcode_outcome pasted(const char *text, char *code, size_t codelen)
{
    struct dfw_authcode_result out;
    assert_int_equal(dfw_authcode_judge_pasted(text, "good", "contoso", REDIRECT, &out), DFW_OK);
    snprintf(code, codelen, "%s", out.code ? out.code : out.message);
    enum dfw_authcode_outcome o = out.outcome;
    dfw_authcode_result_clear(&out);
    return o;
}

static void test_pasted(void **state)
{
    (void)state;
    char c[768];
    assert_int_equal(pasted("  http://localhost:8400/?code=0.AX%2By%3D&state=good&session_state=s"
                            "\n",
                            c, sizeof(c)),
                     DFW_AUTHCODE_CODE);
    assert_string_equal(c, "0.AX+y=");
    assert_int_equal(pasted("code=abc&state=good", c, sizeof(c)), DFW_AUTHCODE_CODE);
    assert_string_equal(c, "abc");
    assert_int_equal(pasted("http://localhost:8400/?code=abc&state=evil", c, sizeof(c)),
                     DFW_AUTHCODE_STATE_MISMATCH);
    /* a bare code: no state to check */
    assert_int_equal(pasted("0.AbareCode_-x\r\n", c, sizeof(c)), DFW_AUTHCODE_CODE);
    assert_string_equal(c, "0.AbareCode_-x");
    assert_int_equal(pasted("http://localhost:8400/?error=access_denied&error_description=the+user"
                            "+canceled+the+authentication&state=good",
                            c, sizeof(c)),
                     DFW_AUTHCODE_CANCELLED);
    assert_non_null(strstr(c, "the user canceled the authentication"));
    /* the text of Entra ID's error page */
    assert_int_equal(pasted("Sorry, but we're having trouble signing you in. AADSTS50011: The "
                            "redirect URI 'http://localhost:8400/' specified in the request does "
                            "not match",
                            c, sizeof(c)),
                     DFW_AUTHCODE_REDIRECT_URI);
    assert_non_null(strstr(c, REDIRECT));
    assert_int_equal(pasted("", c, sizeof(c)), DFW_AUTHCODE_INVALID);
    assert_int_equal(pasted("http://localhost:8400/?foo=bar", c, sizeof(c)), DFW_AUTHCODE_INVALID);
}

static void test_code_body(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_TOKEN_V2);
    char err[512] = "";
    unlink(rt_path);
    /* dfw_auth_new needs the refresh token file; the authorize provider does not */
    assert_null(dfw_auth_new(&t, LOGIN, err, sizeof(err)));
    struct dfw_auth *a = dfw_auth_new_authorize(&t, LOGIN, err, sizeof(err));
    assert_non_null(a);
    char *body = NULL;
    assert_int_equal(
        dfw_authcode_request_body(a, DEFENDER, "0.Ac+de", REDIRECT, "ver", &body, err, sizeof(err)),
        DFW_OK);
    assert_string_equal(body, "grant_type=authorization_code&client_id=" CLIENT_ID
                              "&code=0.Ac%2Bde&redirect_uri=http%3A%2F%2Flocalhost%3A8400%2F"
                              "&code_verifier=ver&client_secret=s3cr3t%26%3D&scope=https%3A%2F%2F"
                              "api.security.microsoft.com%2F.default%20offline_access");
    dfw_secret_free(body);
    /* no refresh token yet: no refresh request either */
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)),
                     DFW_ERR_AUTH);
    assert_non_null(strstr(err, "authorize contoso"));
    dfw_auth_free(a);
    t = tenant(DFW_TOKEN_V1);
    a = dfw_auth_new_authorize(&t, LOGIN, err, sizeof(err));
    assert_int_equal(
        dfw_authcode_request_body(a, DEFENDER, "c", REDIRECT, "ver", &body, err, sizeof(err)),
        DFW_OK);
    assert_non_null(strstr(body, "&resource=https%3A%2F%2Fapi.security.microsoft.com"));
    dfw_secret_free(body);
    dfw_auth_free(a);
    /* authorize is for refresh-token tenants only */
    t.auth = DFW_AUTH_SECRET;
    assert_null(dfw_auth_new_authorize(&t, LOGIN, err, sizeof(err)));
    assert_non_null(strstr(err, "auth = secret"));
}

static void test_redeem_stores_refresh_token(void **state)
{
    (void)state;
    struct dfw_tenant_conf t = tenant(DFW_TOKEN_V2);
    char err[512] = "";
    unlink(rt_path);
    struct dfw_auth *a = dfw_auth_new_authorize(&t, LOGIN, err, sizeof(err));
    assert_non_null(a);
    /* another tenant's token: refused, nothing stored */
    char *body = answer("00000000-1111-4222-8333-444444444444", "1.Awrong");
    assert_int_equal(
        dfw_auth_handle_response(a, DEFENDER, 200, body, strlen(body), NOW_MS, err, sizeof(err)),
        DFW_ERR_AUTH);
    assert_non_null(strstr(err, "wrong tenant"));
    assert_int_equal(access(rt_path, F_OK), -1);
    free(body);
    /* no refresh token in the answer: an error while authorizing */
    body = answer(TENANT_ID, NULL);
    assert_int_equal(
        dfw_auth_handle_response(a, DEFENDER, 200, body, strlen(body), NOW_MS, err, sizeof(err)),
        DFW_ERR_AUTH);
    assert_non_null(strstr(err, "no refresh token"));
    free(body);
    body = answer(TENANT_ID, "1.Afirst");
    assert_int_equal(
        dfw_auth_handle_response(a, DEFENDER, 200, body, strlen(body), NOW_MS, err, sizeof(err)),
        DFW_OK);
    free(body);
    struct stat st;
    assert_int_equal(stat(rt_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *saved = slurp(rt_path);
    assert_string_equal(saved, "1.Afirst");
    dfw_secret_free(saved);
    assert_non_null(dfw_auth_token(a, DEFENDER, NOW_MS));
    dfw_auth_free(a);
    /* a directory that cannot take the file: the error names it */
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/missing-dir/refresh_token", dir);
    t.refresh_token_file = bad;
    a = dfw_auth_new_authorize(&t, LOGIN, err, sizeof(err));
    body = answer(TENANT_ID, "1.Asecond");
    assert_int_equal(
        dfw_auth_handle_response(a, DEFENDER, 200, body, strlen(body), NOW_MS, err, sizeof(err)),
        DFW_ERR_IO);
    assert_non_null(strstr(err, "missing-dir"));
    assert_null(strstr(err, "1.Asecond"));
    free(body);
    dfw_auth_free(a);
}

static void test_refused_refresh_token_waits_for_authorize(void **state)
{
    (void)state;
    write_file(rt_path, "1.Aold\n");
    struct dfw_tenant_conf t = tenant(DFW_TOKEN_V2);
    char err[512] = "";
    struct dfw_auth *a = dfw_auth_new(&t, LOGIN, err, sizeof(err));
    assert_non_null(a);
    assert_false(dfw_auth_needs_authorize(a));
    static const char expired[] =
        "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: The refresh token has "
        "expired due to inactivity.\",\"error_codes\":[700082]}";
    assert_int_equal(dfw_auth_handle_response(a, DEFENDER, 400, expired, strlen(expired), NOW_MS,
                                              err, sizeof(err)),
                     DFW_ERR_AUTH);
    assert_non_null(strstr(err, "run `defender-forwarder authorize contoso` again"));
    assert_true(dfw_auth_needs_authorize(a));
    /* the file still holds the refused token: no request */
    char *body = NULL;
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)),
                     DFW_ERR_AUTH);
    assert_null(body);
    assert_non_null(strstr(err, "authorize contoso"));
    /* `authorize` wrote a new one: it is used */
    write_file(rt_path, "1.Anew\n");
    assert_int_equal(dfw_auth_request_body(a, DEFENDER, NOW_MS, &body, err, sizeof(err)), DFW_OK);
    assert_non_null(strstr(body, "refresh_token=1.Anew&"));
    assert_false(dfw_auth_needs_authorize(a));
    dfw_secret_free(body);
    /* a consent error is no reason to re-authorize */
    static const char consent[] =
        "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS65001: no consent\","
        "\"error_codes\":[65001]}";
    assert_int_equal(dfw_auth_handle_response(a, DEFENDER, 400, consent, strlen(consent), NOW_MS,
                                              err, sizeof(err)),
                     DFW_ERR_AUTH);
    assert_false(dfw_auth_needs_authorize(a));
    dfw_auth_free(a);
}

static void test_code_errors(void **state)
{
    (void)state;
    static const struct {
        long code;
        const char *want;
    } cases[] = {
        {70008, "authorization code expired"}, {54005, "already redeemed"},
        {501481, "PKCE check failed"},         {500112, "redirect URI of the token request"},
        {700005, "issued for another tenant"}, {7000215, "client secret is wrong"},
        {65001, "admin consent missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256], err[512];
        snprintf(body, sizeof(body),
                 "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS%ld: x\","
                 "\"error_codes\":[%ld]}",
                 cases[i].code, cases[i].code);
        assert_int_equal(
            dfw_authcode_explain_error("contoso", 400, body, strlen(body), err, sizeof(err)),
            DFW_ERR_AUTH);
        if (strstr(err, cases[i].want) == NULL) {
            fail_msg("AADSTS%ld: %s", cases[i].code, err);
        }
    }
    char err[256];
    assert_int_equal(dfw_authcode_explain_error("contoso", 503, "", 0, err, sizeof(err)),
                     DFW_ERR_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkce),
        cmocka_unit_test(test_authorize_urls),
        cmocka_unit_test(test_judge),
        cmocka_unit_test(test_pasted),
        cmocka_unit_test(test_code_body),
        cmocka_unit_test(test_redeem_stores_refresh_token),
        cmocka_unit_test(test_refused_refresh_token_waits_for_authorize),
        cmocka_unit_test(test_code_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
