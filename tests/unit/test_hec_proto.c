/* The Splunk HEC output's protocol pieces (replies, status codes, ack queries, channel ids) and
 * its option checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "registry.h"
#include "splunk_hec_conf.h"
#include "splunk_hec_proto.h"

static void reply_parsing(void **state)
{
    (void)state;
    struct dfw_out_splunk_hec_reply r;
    const char *ok = "{\"text\": \"Success\", \"code\": 0, \"ackId\": 42}";
    dfw_out_splunk_hec_parse_reply(ok, strlen(ok), &r);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.has_ack_id, 1);
    assert_int_equal(r.ack_id, 42);
    assert_string_equal(r.text, "Success");
    const char *bad = "{\"text\":\"Invalid token\",\"code\":4}";
    dfw_out_splunk_hec_parse_reply(bad, strlen(bad), &r);
    assert_int_equal(r.code, 4);
    assert_int_equal(r.has_ack_id, 0);
    /* control characters and quotes in the text never reach the log */
    const char *evil = "{\"text\":\"a\\nlevel=error \\\"x\\\"\",\"code\":\"7\"}";
    dfw_out_splunk_hec_parse_reply(evil, strlen(evil), &r);
    assert_string_equal(r.text, "a_level=error _x_");
    assert_int_equal(r.code, -1); /* a string is not a code */
    dfw_out_splunk_hec_parse_reply("<html>502</html>", 16, &r);
    assert_int_equal(r.code, -1);
    assert_string_equal(r.text, "");
    dfw_out_splunk_hec_parse_reply(NULL, 0, &r);
    assert_int_equal(r.code, -1);
}

static dfw_err classify(long status, int code)
{
    struct dfw_out_splunk_hec_reply r;
    memset(&r, 0, sizeof(r));
    r.code = code;
    const char *advice = NULL;
    dfw_err e = dfw_out_splunk_hec_classify(status, &r, &advice);
    assert_non_null(advice);
    return e;
}

static void status_classes(void **state)
{
    (void)state;
    assert_int_equal(classify(200, 0), DFW_OK);
    assert_int_equal(classify(0, -1), DFW_ERR_RETRY);
    assert_int_equal(classify(503, 9), DFW_ERR_RETRY);
    assert_int_equal(classify(503, 18), DFW_ERR_RETRY);
    assert_int_equal(classify(500, 8), DFW_ERR_RETRY);
    assert_int_equal(classify(502, -1), DFW_ERR_RETRY);
    assert_int_equal(classify(429, -1), DFW_ERR_THROTTLED);
    assert_int_equal(classify(403, 4), DFW_ERR_AUTH);
    assert_int_equal(classify(403, 1), DFW_ERR_AUTH);
    assert_int_equal(classify(401, 2), DFW_ERR_AUTH);
    assert_int_equal(classify(401, -1), DFW_ERR_AUTH);
    assert_int_equal(classify(400, 7), DFW_ERR_CONFIG);
    assert_int_equal(classify(400, 10), DFW_ERR_CONFIG);
    assert_int_equal(classify(400, 11), DFW_ERR_RETRY);
    assert_int_equal(classify(400, 6), DFW_ERR_INVALID);
    assert_int_equal(classify(404, -1), DFW_ERR_CONFIG);
    assert_int_equal(classify(413, -1), DFW_ERR_INVALID);
    const char *advice;
    assert_int_equal(dfw_out_splunk_hec_classify(400, NULL, &advice), DFW_ERR_INVALID);
    assert_string_equal(dfw_out_splunk_hec_code_text(4), "Invalid token");
    assert_string_equal(dfw_out_splunk_hec_code_text(7), "Incorrect index");
    assert_string_equal(dfw_out_splunk_hec_code_text(-1), "unknown code");
    assert_string_equal(dfw_out_splunk_hec_code_text(99), "unknown code");
}

static void ack_query_and_answer(void **state)
{
    (void)state;
    uint64_t ids[] = {0, 7, 18446744073709551615ull};
    struct dfw_buf q = DFW_BUF_INIT;
    assert_int_equal(dfw_out_splunk_hec_ack_query(ids, 3, &q), DFW_OK);
    assert_string_equal(q.data, "{\"acks\":[0,7,18446744073709551615]}");
    dfw_buf_reset(&q);
    assert_int_equal(dfw_out_splunk_hec_ack_query(ids, 0, &q), DFW_OK);
    assert_string_equal(q.data, "{\"acks\":[]}");
    dfw_buf_free(&q);
    int acked[3] = {0, 0, 0};
    const char *ans = "{\"acks\": {\"0\":false,\"7\":true,\"9\":true}}";
    assert_int_equal(dfw_out_splunk_hec_parse_acks(ans, strlen(ans), ids, acked, 3), DFW_OK);
    assert_int_equal(acked[0], 0);
    assert_int_equal(acked[1], 1);
    assert_int_equal(acked[2], 0);
    const char *bad[] = {"{\"acks\":[true]}", "{}", "nope", "{\"acks\":{\"0\":\"true\"}}"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(dfw_out_splunk_hec_parse_acks(bad[i], strlen(bad[i]), ids, acked, 3),
                         DFW_ERR_INVALID);
    }
    acked[0] = 0;
    assert_int_equal(dfw_out_splunk_hec_parse_acks(bad[3], strlen(bad[3]), ids, acked, 3), DFW_OK);
    assert_int_equal(acked[0], 0); /* only a JSON true counts */
}

static void channel_is_a_v4_guid(void **state)
{
    (void)state;
    char a[40], b[40];
    assert_int_equal(dfw_out_splunk_hec_channel(a, sizeof(a)), DFW_OK);
    assert_int_equal(dfw_out_splunk_hec_channel(b, sizeof(b)), DFW_OK);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(a[i], '-');
        }
        else {
            assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
        }
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_int_equal(dfw_out_splunk_hec_channel(a, 36), DFW_ERR_IO);
}

/* ---- options ---------------------------------------------------------------------------- */

static const struct dfw_output_plugin *plugin(void)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "splunk_hec");
    assert_non_null(p);
    return p;
}

static char token_path[64];
static char errtext[512];

/* init with these options: NULL when it succeeds, else its error text. */
static const char *init_error(const char *const *kv)
{
    struct dfw_config_kv kvs[16];
    char buf[16][2][256];
    size_t n = 0;
    for (; kv[n] != NULL; n++) {
        const char *eq = strchr(kv[n], '=');
        snprintf(buf[n][0], sizeof(buf[n][0]), "%.*s", (int)(eq - kv[n]), kv[n]);
        snprintf(buf[n][1], sizeof(buf[n][1]), "%s", eq + 1);
        kvs[n] = (struct dfw_config_kv){buf[n][0], buf[n][1], "hec.conf", (int)n + 1};
    }
    void *c = NULL;
    if (dfw_output_conf_parse(plugin(), kvs, n, &c, errtext, sizeof(errtext)) != DFW_OK) {
        return errtext;
    }
    void *self = plugin()->init(c, "splunk", errtext, sizeof(errtext));
    plugin()->destroy(self);
    dfw_output_conf_free(plugin(), c);
    return self == NULL ? errtext : NULL;
}

static int token_setup(void **state)
{
    (void)state;
    snprintf(token_path, sizeof(token_path), "/tmp/dfw-hec-token-XXXXXX");
    int fd = mkstemp(token_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cr3t-token\n", 13), 13);
    close(fd);
    chmod(token_path, 0600);
    return 0;
}

static int token_teardown(void **state)
{
    (void)state;
    unlink(token_path);
    return 0;
}

static void option_checks(void **state)
{
    (void)state;
    char tok[128];
    snprintf(tok, sizeof(tok), "token_file=%s", token_path);
    const char *good[] = {"url=https://splunk.example.com:8088", tok, NULL};
    assert_null(init_error(good));
    const char *local_http[] = {"url=http://127.0.0.1:8088/", tok, "gzip=off", "ack=no", NULL};
    assert_null(init_error(local_http));

    const char *no_url[] = {tok, NULL};
    assert_non_null(strstr(init_error(no_url), "url"));
    const char *remote_http[] = {"url=http://splunk.example.com:8088", tok, NULL};
    assert_non_null(strstr(init_error(remote_http), "https://"));
    const char *query[] = {"url=https://splunk:8088/?x=1", tok, NULL};
    assert_non_null(strstr(init_error(query), "query"));
    const char *no_token[] = {"url=https://splunk:8088", NULL};
    assert_non_null(strstr(init_error(no_token), "token_file"));
    const char *two_tokens[] = {"url=https://splunk:8088", tok, "token_env=HEC", NULL};
    assert_non_null(strstr(init_error(two_tokens), "exactly one"));
    const char *unknown[] = {"url=https://splunk:8088", tok, "sourcetypes=x", NULL};
    assert_non_null(strstr(init_error(unknown), "sourcetypes"));
    const char *zero[] = {"url=https://splunk:8088", tok, "batch_max_events=0", NULL};
    assert_non_null(strstr(init_error(zero), "batch_max_events"));
    const char *level[] = {"url=https://splunk:8088", tok, "gzip_level=10", NULL};
    assert_non_null(strstr(init_error(level), "gzip_level must be between 1 and 9"));
    const char *level0[] = {"url=https://splunk:8088", tok, "gzip_level=0", NULL};
    assert_non_null(strstr(init_error(level0), "gzip_level"));
    const char *small[] = {"url=https://splunk:8088", tok, "batch_max_bytes=1k", NULL};
    assert_non_null(strstr(init_error(small), "batch_max_bytes"));
    const char *retry[] = {"url=https://splunk:8088", tok, "retry_min_ms=5000", "retry_max_ms=10",
                           NULL};
    assert_non_null(strstr(init_error(retry), "retry_max_ms"));
    const char *tmpl[] = {"url=https://splunk:8088", tok, "source=x:{tenantid}", NULL};
    assert_non_null(strstr(init_error(tmpl), "placeholder"));
    const char *ctl[] = {"url=https://splunk:8088", tok, "index=a\tb", NULL};
    assert_non_null(strstr(init_error(ctl), "index"));

    /* a token file others can read is refused, and the token never shows in the error */
    chmod(token_path, 0644);
    const char *err = init_error(good);
    assert_non_null(err);
    assert_non_null(strstr(err, "token_file"));
    assert_null(strstr(err, "s3cr3t"));
    chmod(token_path, 0600);
    /* a missing token variable names the variable only */
    const char *env[] = {"url=https://splunk:8088", "token_env=DFW_TEST_NO_SUCH_VAR", NULL};
    err = init_error(env);
    assert_non_null(err);
    assert_non_null(strstr(err, "DFW_TEST_NO_SUCH_VAR"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reply_parsing),
        cmocka_unit_test(status_classes),
        cmocka_unit_test(ack_query_and_answer),
        cmocka_unit_test(channel_is_a_v4_guid),
        cmocka_unit_test_setup_teardown(option_checks, token_setup, token_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
