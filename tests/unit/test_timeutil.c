#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dfw/timeutil.h"

static void parses_0_to_7_fraction_digits(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(dfw_time_parse("2020-09-06T12:18:03Z", &ms), DFW_OK);
    assert_int_equal(ms, 1599394683000LL);
    assert_int_equal(dfw_time_parse("2020-09-06T12:18:03.81Z", &ms), DFW_OK);
    assert_int_equal(ms, 1599394683810LL);
    assert_int_equal(dfw_time_parse("2020-09-06T12:18:03.6266667Z", &ms), DFW_OK);
    assert_int_equal(ms, 1599394683626LL);
    assert_int_equal(dfw_time_parse("2020-09-06T12:18:03.1+00:00", &ms), DFW_OK);
    assert_int_equal(ms, 1599394683100LL);
}

static void rejects_malformed(void **state)
{
    (void)state;
    int64_t ms = 42;
    const char *bad[] = {"",
                         "2020-09-06",
                         "2020-09-06T12:18:03",
                         "2020-13-06T12:18:03Z",
                         "2020-09-06T12:18:03.Z",
                         "2020-09-06T12:18:03.12345678Z",
                         "2020-09-06T12:18:03+02:00",
                         "2020-09-06 12:18:03Z",
                         "garbage"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(dfw_time_parse(bad[i], &ms), DFW_ERR_INVALID);
    }
    assert_int_equal(ms, 42);
}

/* Found by fuzzing: impossible calendar dates were accepted and normalised (2024-04-31 became
 * 2024-05-01), and second 60 became the next minute. */
static void rejects_impossible_dates(void **state)
{
    (void)state;
    int64_t ms = 42;
    const char *bad[] = {"2024-04-31T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
                         "2024-06-31T12:00:00Z", "2024-01-32T00:00:00Z", "2024-00-10T00:00:00Z",
                         "2024-01-00T00:00:00Z", "2016-12-31T23:59:60Z", "2024-01-01T24:00:00Z",
                         "2024-01-01T23:60:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (dfw_time_parse(bad[i], &ms) != DFW_ERR_INVALID) {
            fail_msg("%s accepted", bad[i]);
        }
    }
    assert_int_equal(ms, 42);
    assert_int_equal(dfw_time_parse("2024-02-29T00:00:00Z", &ms), DFW_OK);
    assert_int_equal(dfw_time_parse("2000-02-29T00:00:00Z", &ms), DFW_OK);
    assert_int_equal(ms, 951782400000LL);
    assert_int_equal(dfw_time_parse("2024-12-31T23:59:59.9999999Z", &ms), DFW_OK);
    assert_int_equal(ms, 1735689599999LL);
}

/* Found by fuzzing: DFW_TIME_LEN could not hold year 10000, and gmtime failed (leaving the
 * buffer uninitialised) far outside it. Every int64_t now has one text. */
static void formats_any_int64(void **state)
{
    (void)state;
    char buf[DFW_TIME_LEN];
    dfw_time_format(253402300799999LL, buf, sizeof(buf));
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
    dfw_time_format(253402300800000LL, buf, sizeof(buf));
    assert_string_equal(buf, "+10000-01-01T00:00:00.000Z");
    dfw_time_format(-62167219200000LL, buf, sizeof(buf));
    assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
    dfw_time_format(-62167219200001LL, buf, sizeof(buf));
    assert_string_equal(buf, "-0001-12-31T23:59:59.999Z");
    dfw_time_format(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    dfw_time_format(INT64_MAX, buf, sizeof(buf));
    assert_string_equal(buf, "+292278994-08-17T07:12:55.807Z");
    dfw_time_format(INT64_MIN, buf, sizeof(buf));
    assert_string_equal(buf, "-292275055-05-16T16:47:04.192Z");
    assert_true(strlen(buf) + 1 < sizeof(buf));
}

static void formats_round_trip(void **state)
{
    (void)state;
    char buf[DFW_TIME_LEN];
    dfw_time_format(1599394683626LL, buf, sizeof(buf));
    assert_string_equal(buf, "2020-09-06T12:18:03.626Z");
    int64_t ms;
    assert_int_equal(dfw_time_parse(buf, &ms), DFW_OK);
    assert_int_equal(ms, 1599394683626LL);
    dfw_time_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

/* Any time of years 0-9999 is written as gmtime_r and snprintf write it. */
static void formats_like_gmtime(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL; /* xorshift64: the same values on every run */
    const int64_t first = -62167219200000LL, span = 253402300799999LL - first + 1;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = first + (int64_t)(x % (uint64_t)span);
        char got[DFW_TIME_LEN], want[64];
        dfw_time_format(ms, got, sizeof(got));
        time_t secs = (time_t)(ms / 1000 - (ms % 1000 < 0));
        struct tm tm;
        assert_non_null(gmtime_r(&secs, &tm));
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(((ms % 1000) + 1000) % 1000));
        assert_string_equal(got, want);
    }
}

static void durations(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(dfw_duration_parse("250ms", &ms), DFW_OK);
    assert_int_equal(ms, 250);
    assert_int_equal(dfw_duration_parse("30", &ms), DFW_OK);
    assert_int_equal(ms, 30000);
    assert_int_equal(dfw_duration_parse("5m", &ms), DFW_OK);
    assert_int_equal(ms, 300000);
    assert_int_equal(dfw_duration_parse("1d", &ms), DFW_OK);
    assert_int_equal(ms, 86400000);
    assert_int_equal(dfw_duration_parse("5 m", &ms), DFW_ERR_INVALID);
    assert_int_equal(dfw_duration_parse("-1s", &ms), DFW_ERR_INVALID);
    assert_int_equal(dfw_duration_parse("1w", &ms), DFW_ERR_INVALID);
    /* found by fuzzing: an overflowing number was taken as INT64_MAX ms */
    ms = 7;
    assert_int_equal(dfw_duration_parse("99999999999999999999ms", &ms), DFW_ERR_INVALID);
    assert_int_equal(dfw_duration_parse("9223372036854775807ms", &ms), DFW_ERR_INVALID);
    assert_int_equal(dfw_duration_parse("106751991167d", &ms), DFW_ERR_INVALID);
    assert_int_equal(ms, 7);
    /* the longest accepted duration keeps now + duration far from overflow */
    assert_int_equal(dfw_duration_parse("36600d", &ms), DFW_OK);
    assert_int_equal(ms, DFW_DURATION_MAX_MS);
    assert_int_equal(dfw_duration_parse("36601d", &ms), DFW_ERR_INVALID);
    assert_true(dfw_now_ms() + DFW_DURATION_MAX_MS > dfw_now_ms());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_0_to_7_fraction_digits),
        cmocka_unit_test(formats_like_gmtime),
        cmocka_unit_test(rejects_malformed),
        cmocka_unit_test(rejects_impossible_dates),
        cmocka_unit_test(formats_any_int64),
        cmocka_unit_test(formats_round_trip),
        cmocka_unit_test(durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
