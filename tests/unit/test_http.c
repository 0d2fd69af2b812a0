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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_after_seconds_and_dates),
        cmocka_unit_test(other_headers_and_garbage),
        cmocka_unit_test(retry_after_is_capped),
        cmocka_unit_test(backoff_is_bounded_with_jitter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
