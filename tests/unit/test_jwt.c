/* base64url and JWT claims decoding. Tokens are built here from JSON text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dfw/config.h" /* defines enum dfw_assertion_alg before jwt.h names it */
#include "dfw/jwt.h"

static char *b64(const char *s)
{
    char *out = dfw_base64url_encode((const unsigned char *)s, strlen(s));
    assert_non_null(out);
    return out;
}

/* header.payload.signature from JSON texts. */
static char *make_jwt(const char *header, const char *payload)
{
    char *h = b64(header);
    char *p = b64(payload);
    size_t n = strlen(h) + strlen(p) + 64;
    char *jwt = malloc(n);
    assert_non_null(jwt);
    snprintf(jwt, n, "%s.%s.c2lnbmF0dXJlLW5vdC1jaGVja2Vk", h, p);
    free(h);
    free(p);
    return jwt;
}

static const char *const HDR =
    "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5t\":\"abc\",\"kid\":\"abc\"}";

static void test_encode_vectors(void **state)
{
    (void)state;
    /* RFC 4648 §10 vectors, without padding */
    static const struct {
        const char *in;
        const char *out;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *s = b64(v[i].in);
        assert_string_equal(s, v[i].out);
        free(s);
    }
    /* the two characters that differ from standard base64: '+' -> '-', '/' -> '_' */
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char *s = dfw_base64url_encode(bytes, sizeof(bytes));
    assert_string_equal(s, "-_-_");
    free(s);
}

static void test_decode_vectors(void **state)
{
    (void)state;
    unsigned char *out = NULL;
    size_t len = 0;
    assert_int_equal(dfw_base64url_decode("Zm9vYmE", 7, &out, &len), DFW_OK);
    assert_int_equal(len, 5);
    assert_string_equal((char *)out, "fooba");
    free(out);
    assert_int_equal(dfw_base64url_decode("Zm9vYg==", 8, &out, &len), DFW_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "foob", 4);
    free(out);
    assert_int_equal(dfw_base64url_decode("-_-_", 4, &out, &len), DFW_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "\xfb\xff\xbf", 3);
    free(out);
    assert_int_equal(dfw_base64url_decode("", 0, &out, &len), DFW_OK);
    assert_int_equal(len, 0);
    free(out);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "Z",      /* a lone sextet encodes no byte */
        "Zm9v!",  /* not in the alphabet */
        "Zm+v",   /* standard base64, not base64url */
        "Zm/v",   /* likewise */
        "Zg=",    /* padding that does not complete the quantum */
        "Zg===",  /* too much padding */
        "Z=g=",   /* padding in the middle */
        "Zm 9v",  /* whitespace */
        "Zm9v\n", /* newline */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char *out = (unsigned char *)"sentinel";
        size_t len = 99;
        assert_int_equal(dfw_base64url_decode(bad[i], strlen(bad[i]), &out, &len), DFW_ERR_INVALID);
        assert_null(out);
        assert_int_equal(len, 0);
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    unsigned char data[70];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (unsigned char)(i * 37 + 250);
    }
    for (size_t n = 0; n <= sizeof(data); n++) {
        char *s = dfw_base64url_encode(data, n);
        assert_non_null(s);
        assert_null(strchr(s, '='));
        assert_null(strchr(s, '+'));
        assert_null(strchr(s, '/'));
        unsigned char *back = NULL;
        size_t len = 0;
        assert_int_equal(dfw_base64url_decode(s, strlen(s), &back, &len), DFW_OK);
        assert_int_equal(len, n);
        if (n > 0) {
            assert_memory_equal(back, data, n);
        }
        free(back);
        free(s);
    }
}

static void test_claims_v1(void **state)
{
    (void)state;
    char *jwt =
        make_jwt(HDR, "{\"aud\":\"https://api.security.microsoft.com\","
                      "\"iss\":\"https://sts.windows.net/7f0e3c2a-0000-4000-8000-000000000001/\","
                      "\"iat\":1714550000,\"nbf\":1714550000,\"exp\":1714553899,"
                      "\"appid\":\"11111111-2222-3333-4444-555555555555\",\"appidacr\":\"1\","
                      "\"roles\":[\"Incident.Read.All\",\"AdvancedHunting.Read.All\"],"
                      "\"tid\":\"7f0e3c2a-0000-4000-8000-000000000001\",\"ver\":\"1.0\","
                      "\"oid\":\"x\",\"sub\":\"x\"}");
    struct dfw_claims c;
    char err[256] = "";
    assert_int_equal(dfw_jwt_decode_claims(jwt, &c, err, sizeof(err)), DFW_OK);
    assert_string_equal(c.tid, "7f0e3c2a-0000-4000-8000-000000000001");
    assert_string_equal(c.aud, "https://api.security.microsoft.com");
    assert_string_equal(c.iss, "https://sts.windows.net/7f0e3c2a-0000-4000-8000-000000000001/");
    assert_string_equal(c.appid, "11111111-2222-3333-4444-555555555555");
    assert_string_equal(c.ver, "1.0");
    assert_int_equal(c.nroles, 2);
    assert_string_equal(c.roles[0], "Incident.Read.All");
    assert_string_equal(c.roles[1], "AdvancedHunting.Read.All");
    assert_int_equal(c.exp, 1714553899);
    assert_int_equal(c.nbf, 1714550000);
    assert_int_equal(c.iat, 1714550000);
    assert_true(dfw_claims_has_role(&c, "Incident.Read.All"));
    assert_false(dfw_claims_has_role(&c, "incident.read.all"));
    assert_false(dfw_claims_has_role(&c, "Alert.Read.All"));
    dfw_claims_clear(&c);
    assert_null(c.tid);
    assert_null(c.roles);
    assert_int_equal(c.nroles, 0);
    assert_int_equal(c.exp, 0);
    free(jwt);
}

static void test_claims_v2_aud_array_numeric_strings(void **state)
{
    (void)state;
    char *jwt = make_jwt("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k\"}",
                         "{\"aud\":[\"https://graph.microsoft.com\",\"other\"],"
                         "\"iss\":\"https://login.microsoftonline.com/t1/v2.0\","
                         "\"azp\":\"22222222-2222-3333-4444-555555555555\",\"ver\":\"2.0\","
                         "\"tid\":\"t1\",\"exp\":\"1714553899\",\"nbf\":\"1714550000\","
                         "\"iat\":1714550000.0,\"roles\":[]}");
    struct dfw_claims c;
    char err[256] = "";
    assert_int_equal(dfw_jwt_decode_claims(jwt, &c, err, sizeof(err)), DFW_OK);
    assert_string_equal(c.aud, "https://graph.microsoft.com");
    assert_string_equal(c.appid, "22222222-2222-3333-4444-555555555555");
    assert_string_equal(c.ver, "2.0");
    assert_int_equal(c.exp, 1714553899);
    assert_int_equal(c.nbf, 1714550000);
    assert_int_equal(c.iat, 1714550000);
    assert_int_equal(c.nroles, 0);
    assert_false(dfw_claims_has_role(&c, "Alert.Read.All"));
    dfw_claims_clear(&c);
    free(jwt);
}

static void test_claims_absent(void **state)
{
    (void)state;
    /* appid wins over azp; absent claims stay NULL / 0; an empty signature is accepted */
    char *h = b64(HDR);
    char *p = b64("{\"appid\":\"a\",\"azp\":\"b\"}");
    char jwt[256];
    snprintf(jwt, sizeof(jwt), "%s.%s.", h, p);
    struct dfw_claims c;
    assert_int_equal(dfw_jwt_decode_claims(jwt, &c, NULL, 0), DFW_OK);
    assert_string_equal(c.appid, "a");
    assert_null(c.tid);
    assert_null(c.aud);
    assert_int_equal(c.exp, 0);
    dfw_claims_clear(&c);
    free(h);
    free(p);
}

/* One malformed token: DFW_ERR_INVALID, a reason containing want, no part of the token echoed. */
static void expect_invalid(const char *jwt, const char *want)
{
    struct dfw_claims c;
    char err[256] = "";
    assert_int_equal(dfw_jwt_decode_claims(jwt, &c, err, sizeof(err)), DFW_ERR_INVALID);
    if (strstr(err, want) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    }
    assert_null(c.tid);
    assert_null(c.roles);
    const char *dot = strchr(jwt, '.');
    if (dot != NULL && dot - jwt >= 8) {
        char head[9];
        memcpy(head, jwt, 8);
        head[8] = '\0';
        assert_null(strstr(err, head));
    }
    if (dot != NULL && strlen(dot + 1) >= 8) {
        char pay[9];
        memcpy(pay, dot + 1, 8);
        pay[8] = '\0';
        assert_null(strstr(err, pay));
    }
}

static void expect_invalid_payload(const char *payload, const char *want)
{
    char *jwt = make_jwt(HDR, payload);
    expect_invalid(jwt, want);
    free(jwt);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_invalid("eyJhbGciOiJSUzI1NiJ9", "three");
    expect_invalid("eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0", "three");
    expect_invalid("eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2ln.c2ln", "three");
    expect_invalid("", "three");
    expect_invalid("eyJhbGciOiJSUzI1NiJ9.eyJ0a!WQiOiJ4In0.c2ln", "base64url");
    expect_invalid("eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2l+", "signature");
    expect_invalid("bm90IGpzb24.eyJ0aWQiOiJ4In0.c2ln", "header");
    expect_invalid_payload("hello, not JSON", "payload is not a JSON object");
    expect_invalid_payload("[\"tid\"]", "payload is not a JSON object");
    expect_invalid_payload("{\"tid\":\"x\"} trailing", "payload is not a JSON object");
    expect_invalid_payload("{\"tid\":\"x\"", "payload is not a JSON object");
    expect_invalid_payload("{\"tid\":42}", "tid");
    expect_invalid_payload("{\"aud\":7}", "aud");
    expect_invalid_payload("{\"aud\":[7]}", "aud");
    expect_invalid_payload("{\"iss\":null,\"ver\":1}", "ver");
    expect_invalid_payload("{\"roles\":\"Alert.Read.All\"}", "roles");
    expect_invalid_payload("{\"roles\":[\"Alert.Read.All\",3]}", "roles[1]");
    expect_invalid_payload("{\"exp\":\"12abc\"}", "exp");
    expect_invalid_payload("{\"nbf\":true}", "nbf");
    expect_invalid_payload("{\"iat\":\"\"}", "iat");
    expect_invalid_payload("{\"exp\":\"-5\"}", "exp");
    assert_int_equal(dfw_jwt_decode_claims(NULL, &(struct dfw_claims){0}, NULL, 0),
                     DFW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_claims_v1),
        cmocka_unit_test(test_claims_v2_aud_array_numeric_strings),
        cmocka_unit_test(test_claims_absent),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
