/* Syslog headers (RFC 5424, RFC 3164), TCP framing (RFC 6587) and the whole message as the
 * output's format() renders it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "registry.h"
#include "syslog_conf.h"
#include "syslog_frame.h"
#include "cef_fixtures.h"

/* ---- syslog headers and framing ----------------------------------------------------------- */

static void header_rfc5424(void **state)
{
    (void)state;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_syslog_header h = {
        DFW_SYSLOG_RFC5424,   20,     4,           1700000000123LL, "fw1.example.com",
        "defender-forwarder", "4242", "mde-alerts"};
    assert_int_equal(dfw_out_syslog_header(&h, &out), DFW_OK);
    assert_string_equal(out.data, "<164>1 2023-11-14T22:13:20.123Z fw1.example.com "
                                  "defender-forwarder 4242 mde-alerts - ");
    /* nil values, unsafe bytes, over-long MSGID (32) */
    dfw_buf_reset(&out);
    struct dfw_syslog_header h2 = {
        DFW_SYSLOG_RFC5424, 1,  6,    0,
        "a b\nc",           "", NULL, "0123456789012345678901234567890123456789"};
    assert_int_equal(dfw_out_syslog_header(&h2, &out), DFW_OK);
    assert_string_equal(out.data, "<14>1 1970-01-01T00:00:00.000Z a_b_c - - "
                                  "01234567890123456789012345678901 - ");
    dfw_buf_free(&out);
}

static void header_rfc3164(void **state)
{
    (void)state;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_syslog_header h = {
        DFW_SYSLOG_RFC3164, 20, 2, 1700000000123LL, "fw1", "dfw", "1", "x"};
    assert_int_equal(dfw_out_syslog_header(&h, &out), DFW_OK);
    assert_string_equal(out.data, "<162>Nov 14 22:13:20 fw1 dfw: ");
    dfw_buf_reset(&out);
    h.time_ms = 1704416645000LL; /* 2024-01-05T01:04:05Z: day padded with a space */
    h.facility = 0;
    h.severity = 0;
    assert_int_equal(dfw_out_syslog_header(&h, &out), DFW_OK);
    assert_string_equal(out.data, "<0>Jan  5 01:04:05 fw1 dfw: ");
    dfw_buf_free(&out);
}

/* Found by fuzzing: the RFC 3164 time overflowed for INT64_MIN ((ms - 999) / 1000), and the
 * RFC 5424 TIMESTAMP must have four year digits. */
static void header_times_out_of_range(void **state)
{
    (void)state;
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_syslog_header h = {DFW_SYSLOG_RFC3164, 1, 5, INT64_MIN, "h", "a", "1", "m"};
    assert_int_equal(dfw_out_syslog_header(&h, &out), DFW_OK);
    assert_string_equal(out.data, "<13>May 16 16:47:04 h a: "); /* -292275055-05-16 */
    dfw_buf_reset(&out);
    h.protocol = DFW_SYSLOG_RFC5424;
    h.time_ms = 253402300800000LL; /* year 10000 */
    assert_int_equal(dfw_out_syslog_header(&h, &out), DFW_OK);
    assert_string_equal(out.data, "<13>1 - h a 1 m - ");
    dfw_buf_reset(&out);
    h.time_ms = -1; /* 1969-12-31T23:59:59.999Z */
    assert_int_equal(dfw_out_syslog_header(&h, &out), DFW_OK);
    assert_string_equal(out.data, "<13>1 1969-12-31T23:59:59.999Z h a 1 m - ");
    dfw_buf_free(&out);
}

static void framing(void **state)
{
    (void)state;
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_out_syslog_frame(DFW_SYSLOG_OCTET_COUNTING, "abc", 3, &out), DFW_OK);
    assert_int_equal(dfw_out_syslog_frame(DFW_SYSLOG_OCTET_COUNTING, "\xc3\xa9 x", 4, &out),
                     DFW_OK);
    assert_int_equal(dfw_out_syslog_frame(DFW_SYSLOG_OCTET_COUNTING, "", 0, &out), DFW_OK);
    assert_string_equal(out.data, "3 abc4 \xc3\xa9 x0 ");
    dfw_buf_reset(&out);
    assert_int_equal(dfw_out_syslog_frame(DFW_SYSLOG_NON_TRANSPARENT, "abc", 3, &out), DFW_OK);
    assert_int_equal(dfw_out_syslog_frame(DFW_SYSLOG_NON_TRANSPARENT, "d", 1, &out), DFW_OK);
    assert_string_equal(out.data, "abc\nd\n");
    dfw_buf_free(&out);
}

/* A full message through the plugin's format(): PRI from facility and alert severity. */
static void format_callback_message(void **state)
{
    (void)state;
    const struct dfw_output_plugin *pl = dfw_output_find(dfw_output_registry, "syslog");
    const char *kv[] = {"facility=local0", "hostname=fw1", "protocol=rfc3164", NULL};
    void *conf = syslog_conf(kv);
    assert_non_null(conf);
    struct json_object *rec = load_json("m365d-incident.json");
    struct dfw_event ev;
    make_event(&ev, "m365d-incidents", rec, "924521", "2020-09-06T12:18:03.81Z");
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(pl->format(conf, &ev, &out), DFW_OK);
    assert_true(strncmp(out.data, "<132>", 5) == 0); /* local0 (16) * 8 + warning (Low) */
    assert_non_null(
        strstr(out.data, " fw1 defender-forwarder: CEF:0|Microsoft|Microsoft Defender XDR|"));
    assert_null(memchr(out.data, '\n', out.len));
    dfw_buf_free(&out);
    dfw_output_conf_free(pl, conf);
    json_object_put(rec);
}

static void severity_from_api_text(void **state)
{
    (void)state;
    const char *text[] = {"High", "medium", "LOW", "Informational", "UnSpecified", "unknown", NULL};
    const int sys[] = {2, 3, 4, 6, 5, 5, 5};
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
        assert_int_equal(dfw_out_syslog_severity(text[i]), sys[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_rfc5424),
        cmocka_unit_test(header_rfc3164),
        cmocka_unit_test(header_times_out_of_range),
        cmocka_unit_test(framing),
        cmocka_unit_test(format_callback_message),
        cmocka_unit_test(severity_from_api_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
