#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dfw/http.h"

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

static void backoff_is_bounded_with_jitter(void **state)
{
    (void)state;
    for (int attempt = 0; attempt < 40; attempt++) {
        int64_t d = dfw_backoff_ms(attempt, 1000, 60000);
        int64_t base = attempt >= 6 ? 60000 : 1000LL << attempt;
        assert_true(d >= base / 2 && d <= base);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_seconds_and_dates),
        cmocka_unit_test(other_headers_and_garbage),
        cmocka_unit_test(backoff_is_bounded_with_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
