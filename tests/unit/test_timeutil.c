#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_0_to_7_fraction_digits),
        cmocka_unit_test(rejects_malformed),
        cmocka_unit_test(formats_round_trip),
        cmocka_unit_test(durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
