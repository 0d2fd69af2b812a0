/* The local HTTP listener: a real libmicrohttpd server on 127.0.0.1 queried with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "dfw/listener.h"

struct seen {
    int calls;
    char path[64];
    char code[64];
    char flag[8];
    int has_flag;
    int has_missing;
};

static void handler(void *ctx, const struct dfw_listener_request *req, struct dfw_listener_reply *r)
{
    struct seen *s = ctx;
    s->calls++;
    snprintf(s->path, sizeof(s->path), "%s", dfw_listener_path(req));
    const char *code = dfw_listener_arg(req, "code");
    snprintf(s->code, sizeof(s->code), "%s", code ? code : "(none)");
    const char *flag = dfw_listener_arg(req, "flag");
    s->has_flag = flag != NULL;
    snprintf(s->flag, sizeof(s->flag), "%s", flag ? flag : "");
    s->has_missing = dfw_listener_arg(req, "missing") != NULL;
    if (strcmp(dfw_listener_path(req), "/teapot") == 0) {
        r->status = 418;
    }
    r->content_type = "text/html; charset=utf-8";
    dfw_buf_printf(&r->body, "<p>%s %s</p>", dfw_listener_method(req), s->code);
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    dfw_buf_append(ud, p, size * n);
    return size * n;
}

static long get(int port, const char *path, const char *method, struct dfw_buf *body, char *ctype)
{
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "a=b");
    }
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(ctype, 64, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
    return status;
}

static void test_requests(void **state)
{
    (void)state;
    struct seen s;
    memset(&s, 0, sizeof(s));
    char err[256] = "";
    struct dfw_listener *l = dfw_listener_new("127.0.0.1", 0, handler, &s, err, sizeof(err));
    assert_non_null(l);
    int port = dfw_listener_port(l);
    assert_true(port > 0);
    struct dfw_buf body = DFW_BUF_INIT;
    char ctype[64];
    assert_int_equal(get(port, "/?code=0.A%2Bb%3D&flag&state=x", "GET", &body, ctype), 200);
    assert_string_equal(s.path, "/");
    assert_string_equal(s.code, "0.A+b=");
    assert_true(s.has_flag);
    assert_string_equal(s.flag, "");
    assert_false(s.has_missing);
    assert_string_equal(body.data, "<p>GET 0.A+b=</p>");
    assert_string_equal(ctype, "text/html; charset=utf-8");
    dfw_buf_reset(&body);
    assert_int_equal(get(port, "/teapot", "GET", &body, ctype), 418);
    assert_string_equal(s.code, "(none)");
    dfw_buf_reset(&body);
    assert_int_equal(get(port, "/", "HEAD", &body, ctype), 200);
    assert_int_equal(body.len, 0);
    int before = s.calls;
    /* other methods never reach the handler */
    assert_int_equal(get(port, "/?code=x", "POST", &body, ctype), 405);
    assert_int_equal(s.calls, before);
    /* the port is taken now */
    struct seen s2;
    assert_null(dfw_listener_new("127.0.0.1", port, handler, &s2, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    dfw_buf_free(&body);
    dfw_listener_free(l);
    dfw_listener_free(NULL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(dfw_listener_new("localhost", 0, handler, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "not an IPv4 address"));
    assert_null(dfw_listener_new("127.0.0.1", 70000, handler, NULL, err, sizeof(err)));
    assert_null(dfw_listener_new("127.0.0.1", 0, NULL, NULL, err, sizeof(err)));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_bad_arguments),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
