#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dfw/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int64_t ra(const char *line)
{
    return dfw_http_retry_after_ms(line, strlen(line));
}

static void retry_after_seconds_and_dates(void **state)
{
    (void)state;
    assert_int_equal(ra("Retry-After: 8\r\n"), 8000);
    assert_int_equal(ra("retry-after:0\r\n"), 0);
    assert_int_equal(ra("RETRY-AFTER: \t120\r\n"), 120000);
    /* an HTTP-date in the past means now */
    assert_int_equal(ra("Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n"), 0);
    char line[128];
    time_t later = time(NULL) + 3600;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(line, sizeof(line), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    int64_t ms = ra(line);
    assert_true(ms > 3590000 && ms <= 3600000);
}

static void other_headers_and_garbage(void **state)
{
    (void)state;
    assert_int_equal(ra("Content-Type: application/json\r\n"), -1);
    assert_int_equal(ra("Retry-After: soon\r\n"), -1);
    assert_int_equal(ra("Retry-After: -5\r\n"), -1);
    assert_int_equal(ra("Retry-After:"), -1);
}

/* Found by fuzzing: (int64_t)secs * 1000 and the HTTP-date difference overflowed, and nothing
 * capped the wait, so now + wait overflowed in the engine. */
static void retry_after_is_capped(void **state)
{
    (void)state;
    assert_int_equal(ra("Retry-After: 3600\r\n"), DFW_HTTP_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("Retry-After: 3601\r\n"), DFW_HTTP_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("Retry-After: 9223372036854775807\r\n"), DFW_HTTP_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("Retry-After: 99999999999999999999999999999999\r\n"),
                     DFW_HTTP_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("Retry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n"),
                     DFW_HTTP_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("Retry-After: 12 \r\n"), 12000);
    assert_int_equal(ra("Retry-After: 12x\r\n"), -1);
    assert_int_equal(ra("Retry-After: +5\r\n"), -1);
    const char nul[] = "Retry-After: 1\0002\r\n";
    assert_int_equal(dfw_http_retry_after_ms(nul, sizeof(nul) - 1), -1);
    /* the 429 body text of Defender ("again in N seconds") */
    const char *end;
    assert_int_equal(dfw_http_delay_seconds_ms("42 seconds.", &end), 42000);
    assert_string_equal(end, " seconds.");
    assert_int_equal(dfw_http_delay_seconds_ms("99999999999999999999 seconds", NULL),
                     DFW_HTTP_RETRY_AFTER_MAX_MS);
    assert_int_equal(dfw_http_delay_seconds_ms("-1", NULL), -1);
    assert_int_equal(dfw_http_delay_seconds_ms("", NULL), -1);
}

static void backoff_is_bounded_with_jitter(void **state)
{
    (void)state;
    for (int attempt = 0; attempt < 40; attempt++) {
        int64_t d = dfw_backoff_ms(attempt, 1000, 60000);
        int64_t base = attempt >= 6 ? 60000 : 1000LL << attempt;
        assert_true(d >= base / 2 && d <= base);
    }
}

struct order {
    struct dfw_http *http;
    int seen[8];
    int n;
    int max_active_seen;
    int transport_errors;
};

struct req {
    struct order *o;
    int index;
};

static void record_done(void *ctx, const struct dfw_http_response *r)
{
    struct req *q = ctx;
    struct order *o = q->o;
    o->seen[o->n++] = q->index;
    o->transport_errors += r->transport == DFW_ERR_RETRY;
    /* the finished transfer no longer counts while its callback runs */
    if (dfw_http_active(o->http) > o->max_active_seen) {
        o->max_active_seen = dfw_http_active(o->http);
    }
}

/* A port on 127.0.0.1 where nothing listens (bound, then closed): connections are refused. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Requests beyond max_active wait in a FIFO: at most max_active are handed to libcurl, every one
 * completes once, in the order queued. */
static void requests_beyond_max_active_wait_their_turn(void **state)
{
    (void)state;
    assert_int_equal(dfw_http_global_init(), DFW_OK);
    char err[256];
    struct dfw_http_opts opts = {
        .timeout_ms = 5000, .connect_timeout_ms = 5000, .max_connections = 4, .max_active = 2};
    struct order o = {0};
    o.http = dfw_http_new(&opts, err, sizeof(err));
    assert_non_null(o.http);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", closed_port());
    struct req reqs[6];
    for (int i = 0; i < 6; i++) {
        reqs[i] = (struct req){&o, i};
        assert_int_equal(i % 2
                             ? dfw_http_post_form(o.http, url, "a=b", record_done, &reqs[i])
                             : dfw_http_get(o.http, url, "tok", NULL, NULL, record_done, &reqs[i]),
                         DFW_OK);
        assert_true(dfw_http_active(o.http) <= 2);
    }
    assert_int_equal(dfw_http_pending(o.http), 6);
    assert_int_equal(dfw_http_active(o.http), 2);
    for (int turns = 0; dfw_http_pending(o.http) > 0 && turns < 1000; turns++) {
        dfw_http_run(o.http, 100);
        assert_true(dfw_http_active(o.http) <= 2);
    }
    assert_int_equal(o.n, 6);
    assert_int_equal(o.transport_errors, 6);
    assert_true(o.max_active_seen <= 1);
    /* request i started only once i - 1 requests had ended: it cannot end before them */
    for (int k = 0; k < 6; k++) {
        assert_true(k >= o.seen[k] - 1);
    }
    dfw_http_free(o.http);
}

/* With one transfer at a time the queue is strictly first in, first out. */
static void one_at_a_time_in_order(void **state)
{
    (void)state;
    char err[256];
    struct dfw_http_opts opts = {.timeout_ms = 5000, .connect_timeout_ms = 5000, .max_active = 1};
    struct order o = {0};
    o.http = dfw_http_new(&opts, err, sizeof(err));
    assert_non_null(o.http);
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", closed_port());
    struct req reqs[5];
    for (int i = 0; i < 5; i++) {
        reqs[i] = (struct req){&o, i};
        assert_int_equal(dfw_http_get(o.http, url, NULL, NULL, NULL, record_done, &reqs[i]),
                         DFW_OK);
    }
    assert_int_equal(dfw_http_active(o.http), 1);
    for (int turns = 0; dfw_http_pending(o.http) > 0 && turns < 1000; turns++) {
        dfw_http_run(o.http, 100);
        assert_true(dfw_http_active(o.http) <= 1);
    }
    assert_int_equal(o.n, 5);
    assert_int_equal(o.max_active_seen, 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(o.seen[i], i);
    }
    dfw_http_free(o.http);
}

/* Freeing the loop with requests still queued calls no callback and leaks nothing (ASan). */
static void free_with_queued_requests(void **state)
{
    (void)state;
    char err[256];
    struct dfw_http_opts opts = {.timeout_ms = 5000, .connect_timeout_ms = 5000, .max_active = 1};
    struct order o = {0};
    o.http = dfw_http_new(&opts, err, sizeof(err));
    assert_non_null(o.http);
    struct req reqs[3];
    for (int i = 0; i < 3; i++) {
        reqs[i] = (struct req){&o, i};
        assert_int_equal(dfw_http_post_form(o.http, "https://127.0.0.1:1/", "client_secret=s",
                                            record_done, &reqs[i]),
                         DFW_OK);
    }
    assert_int_equal(dfw_http_active(o.http), 1);
    assert_int_equal(dfw_http_pending(o.http), 3);
    dfw_http_free(o.http);
    assert_int_equal(o.n, 0);
}

struct into_seen {
    int calls;
    size_t len, cap;
    char body[64];
};

static void into_done(void *ctx, const struct dfw_http_response *r)
{
    struct into_seen *s = ctx;
    s->calls++;
    s->len = r->len;
    s->cap = r->owner != NULL ? r->owner->cap : 0;
    snprintf(s->body, sizeof(s->body), "%s", r->body);
}

/* The buffer handed in is taken at once and holds this answer only: nothing of what it held
 * before shows, and it keeps no more memory than the answer needs (a large recycled buffer, a
 * small answer). */
static void get_takes_the_buffer_given_and_answers_with_its_own_bytes(void **state)
{
    (void)state;
    char err[256];
    struct dfw_http_opts opts = {.timeout_ms = 5000, .connect_timeout_ms = 5000};
    struct dfw_http *h = dfw_http_new(&opts, err, sizeof(err));
    assert_non_null(h);
    struct dfw_buf old = DFW_BUF_INIT;
    char page[4096];
    memset(page, 'p', sizeof(page));
    for (int i = 0; i < 256; i++) {
        assert_int_equal(dfw_buf_append(&old, page, sizeof(page)), DFW_OK);
    }
    char url[64];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/x", closed_port());
    struct into_seen seen = {0};
    assert_int_equal(dfw_http_get(h, url, NULL, NULL, &old, into_done, &seen), DFW_OK);
    assert_null(old.data);
    assert_int_equal(old.len, 0);
    assert_int_equal(old.cap, 0);
    for (int turns = 0; dfw_http_pending(h) > 0 && turns < 1000; turns++) {
        dfw_http_run(h, 100);
    }
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.len, 0);
    assert_string_equal(seen.body, "");
    assert_true(seen.cap < 256 * sizeof(page));
    /* without one the answer gets a buffer of its own */
    assert_int_equal(dfw_http_get(h, url, NULL, NULL, NULL, into_done, &seen), DFW_OK);
    for (int turns = 0; dfw_http_pending(h) > 0 && turns < 1000; turns++) {
        dfw_http_run(h, 100);
    }
    assert_int_equal(seen.calls, 2);
    dfw_http_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_seconds_and_dates),
        cmocka_unit_test(other_headers_and_garbage),
        cmocka_unit_test(retry_after_is_capped),
        cmocka_unit_test(backoff_is_bounded_with_jitter),
        cmocka_unit_test(requests_beyond_max_active_wait_their_turn),
        cmocka_unit_test(one_at_a_time_in_order),
        cmocka_unit_test(free_with_queued_requests),
        cmocka_unit_test(get_takes_the_buffer_given_and_answers_with_its_own_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
