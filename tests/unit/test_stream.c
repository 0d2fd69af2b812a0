#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/cloud.h"
#include "dfw/stream.h"

static void documented_limits(void **state)
{
    (void)state;
    const struct dfw_stream_def *inc = dfw_stream_find("m365d-incidents");
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    const struct dfw_stream_def *gr = dfw_stream_find("graph-alerts");
    assert_non_null(inc);
    assert_non_null(mde);
    assert_non_null(gr);
    assert_null(dfw_stream_find("nope"));
    assert_int_equal(inc->page_size_max, 100);
    assert_int_equal(inc->rate_per_min, 50);
    assert_int_equal(mde->page_size_max, 10000);
    assert_int_equal(mde->rate_per_min, 100);
    assert_int_equal(gr->rate_per_min, 150);
    assert_int_equal(gr->page_size_max, 1000);
    assert_int_equal(gr->skip_max, 500);
    assert_false(mde->next_link_on_more); /* MDE: no next link when $top is set */
    assert_true(gr->next_link_on_more);
    assert_string_equal(mde->role, "Alert.Read.All");
}

static void url_has_filter_top_expand(void **state)
{
    (void)state;
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    struct dfw_slice s = {
        1574380800000LL, 1574467200000LL, DFW_WINDOW_OPEN_LO, DFW_WINDOW_OPEN_HI, 0, 0};
    char *url = dfw_stream_url(mde, "https://api.security.microsoft.com", &s, 500, 1);
    assert_non_null(url);
    assert_string_equal(url, "https://api.security.microsoft.com/api/alerts?$filter="
                             "lastUpdateTime%20ge%202019-11-22T00%3A00%3A00.000Z%20and%20"
                             "lastUpdateTime%20lt%202019-11-23T00%3A00%3A00.000Z&$top=500"
                             "&$expand=evidence");
    free(url);
    /* a cell split by creation time, read with $skip */
    struct dfw_slice cell = {
        1574380800000LL, 1574380800001LL, 1574294400000LL, 1574294400001LL, 200, 1};
    url = dfw_stream_url(dfw_stream_find("graph-alerts"), "https://graph.microsoft.com", &cell, 100,
                         1);
    assert_string_equal(url, "https://graph.microsoft.com/v1.0/security/alerts_v2?$filter="
                             "lastUpdateDateTime%20ge%202019-11-22T00%3A00%3A00.000Z%20and%20"
                             "lastUpdateDateTime%20lt%202019-11-22T00%3A00%3A00.001Z%20and%20"
                             "createdDateTime%20ge%202019-11-21T00%3A00%3A00.000Z%20and%20"
                             "createdDateTime%20lt%202019-11-21T00%3A00%3A00.001Z"
                             "&$top=100&$skip=200&$count=true");
    free(url);
}

static void parse_page_and_keys(void **state)
{
    (void)state;
    const char *body = "{\"@odata.context\":\"x\",\"value\":[{\"incidentId\":924521,"
                       "\"createdTime\":\"2020-09-06T12:18:03.6266667Z\","
                       "\"lastUpdateTime\":\"2020-09-06T12:18:03.81Z\"}],"
                       "\"@odata.nextLink\":\"https://api.security.microsoft.com/api/"
                       "incidents?$skip=100\"}";
    struct dfw_page p;
    char err[256];
    assert_int_equal(dfw_stream_parse_page(body, strlen(body), "https://api.security.microsoft.com",
                                           &p, err, sizeof(err)),
                     DFW_OK);
    assert_string_equal(p.next_link, "https://api.security.microsoft.com/api/incidents?$skip=100");
    assert_int_equal(p.nrows, 1);
    /* the row is the record's bytes, exactly */
    const char *rec = strstr(body, "{\"incidentId\"");
    assert_int_equal(p.rows[0].len, strcspn(rec, "]"));
    assert_memory_equal(p.rows[0].json, rec, p.rows[0].len);
    struct dfw_buf a = DFW_BUF_INIT;
    struct dfw_row_key k;
    assert_int_equal(dfw_stream_row_key(dfw_stream_find("m365d-incidents"), p.rows[0].json,
                                        p.rows[0].len, 64, &a, &k, &p.index, NULL),
                     DFW_OK);
    assert_string_equal(a.data + k.id, "924521");
    assert_string_equal(a.data + k.updated, "2020-09-06T12:18:03.81Z");
    assert_int_equal(k.severity, SIZE_MAX);
    assert_int_equal(k.updated_ms, 1599394683810LL);
    assert_int_equal(k.created_ms, 1599394683626LL);
    dfw_buf_free(&a);
    dfw_page_free(&p);
}

static void rejects_bad_pages(void **state)
{
    (void)state;
    struct dfw_page p;
    char err[256];
    const char *base = "https://api.security.microsoft.com";
    const char *truncated = "{\"value\":[{\"id\":\"a\",\"lastUpdateTime\":\"2020-";
    assert_int_equal(
        dfw_stream_parse_page(truncated, strlen(truncated), base, &p, err, sizeof(err)),
        DFW_ERR_INVALID);
    assert_non_null(strstr(err, "truncated"));
    const char *novalue = "{\"error\":{\"code\":\"x\"}}";
    assert_int_equal(dfw_stream_parse_page(novalue, strlen(novalue), base, &p, err, sizeof(err)),
                     DFW_ERR_INVALID);
    /* a next link to another host would leak the bearer token: left out, and said so */
    const char *evil = "{\"value\":[],\"@odata.nextLink\":\"https://api.security.microsoft.com."
                       "evil.example/api/alerts\"}";
    assert_int_equal(dfw_stream_parse_page(evil, strlen(evil), base, &p, err, sizeof(err)), DFW_OK);
    assert_null(p.next_link);
    assert_true(p.foreign_next_link);
    dfw_page_free(&p);
    const char *plain =
        "{\"value\":[],\"@odata.nextLink\":\"http://api.security.microsoft.com/x\"}";
    assert_int_equal(dfw_stream_parse_page(plain, strlen(plain), base, &p, err, sizeof(err)),
                     DFW_OK);
    assert_null(p.next_link);
    assert_true(p.foreign_next_link);
    dfw_page_free(&p);
    const char *same = "{\"value\":[],\"@odata.nextLink\":\"https://api.security.microsoft.com"
                       "/api/alerts?$skip=5\"}";
    assert_int_equal(dfw_stream_parse_page(same, strlen(same), base, &p, err, sizeof(err)), DFW_OK);
    assert_non_null(p.next_link);
    assert_false(p.foreign_next_link);
    dfw_page_free(&p);
}

static void record_without_key_is_invalid(void **state)
{
    (void)state;
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    const char *recs[] = {"{\"lastUpdateTime\":\"2020-09-06T12:18:03Z\"}", "{\"id\":\"a\"}",
                          "{\"id\":\"a\",\"lastUpdateTime\":null}",
                          "{\"id\":12.5,\"lastUpdateTime\":\"2020-09-06T12:18:03Z\"}", "[1,2]"};
    struct dfw_buf a = DFW_BUF_INIT;
    dfw_buf_puts(&a, "kept");
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        struct dfw_row_key k;
        assert_int_equal(dfw_stream_row_key(mde, recs[i], strlen(recs[i]), 64, &a, &k, NULL, NULL),
                         DFW_ERR_INVALID);
        assert_string_equal(a.data, "kept"); /* the arena as it was */
    }
    dfw_buf_free(&a);
}

/* graph-incidents: Graph's documented limits, $expand=alerts unless the tenant turns it off, the
 * Prefer header on every Graph stream, legacy streams saying what replaces them. */
static void graph_incidents(void **state)
{
    (void)state;
    const struct dfw_stream_def *gi = dfw_stream_find("graph-incidents");
    assert_non_null(gi);
    assert_ptr_equal(dfw_streams[0], gi); /* Graph first */
    assert_string_equal(gi->path, "/v1.0/security/incidents");
    assert_int_equal(gi->page_size_max, 50); /* $top=100 is HTTP 400 */
    assert_int_equal(gi->skip_max, 500);
    assert_int_equal(gi->rate_per_min, 150);
    assert_true(gi->count_supported);
    assert_string_equal(gi->role, "SecurityIncident.Read.All");
    assert_string_equal(gi->expand_role, "SecurityAlert.Read.All");
    struct dfw_tenant_conf t;
    memset(&t, 0, sizeof(t));
    t.expand_alerts = 1;
    assert_true(dfw_stream_expands(gi, &t));
    assert_true(dfw_stream_expands(gi, NULL));
    t.expand_alerts = 0;
    assert_false(dfw_stream_expands(gi, &t));
    /* evidence is not optional: MDE alerts expand whatever expand_alerts says */
    assert_true(dfw_stream_expands(dfw_stream_find("mde-alerts"), &t));
    assert_false(dfw_stream_expands(dfw_stream_find("graph-alerts"), NULL));

    struct dfw_slice s = {
        1574380800000LL, 1574467200000LL, DFW_WINDOW_OPEN_LO, DFW_WINDOW_OPEN_HI, 0, 0};
    char *url = dfw_stream_url(gi, "https://graph.microsoft.com", &s, 50, 1);
    assert_string_equal(url, "https://graph.microsoft.com/v1.0/security/incidents?$filter="
                             "lastUpdateDateTime%20ge%202019-11-22T00%3A00%3A00.000Z%20and%20"
                             "lastUpdateDateTime%20lt%202019-11-23T00%3A00%3A00.000Z&$top=50"
                             "&$expand=alerts");
    free(url);
    url = dfw_stream_url(gi, "https://graph.microsoft.com", &s, 50, 0);
    assert_null(strstr(url, "$expand"));
    free(url);

    assert_string_equal(dfw_stream_header(gi), "Prefer: include-unknown-enum-members");
    assert_string_equal(dfw_stream_header(dfw_stream_find("graph-alerts")),
                        "Prefer: include-unknown-enum-members");
    assert_null(dfw_stream_header(dfw_stream_find("mde-alerts")));
    assert_null(dfw_stream_header(dfw_stream_find("m365d-incidents")));

    const struct dfw_stream_def *old = dfw_stream_find("m365d-incidents");
    assert_string_equal(old->replacement, "graph-incidents");
    assert_non_null(strstr(old->retirement, "1 February 2027"));
    assert_non_null(strstr(old->retirement, "MC1220762"));
    assert_string_equal(dfw_stream_find("mde-alerts")->replacement, "graph-alerts");
    assert_null(gi->replacement);
    assert_null(gi->retirement);

    const char *body = "{\"value\":[{\"id\":\"2972395\",\"createdDateTime\":"
                       "\"2021-08-13T08:43:35.5533333Z\",\"lastUpdateDateTime\":"
                       "\"2021-09-30T09:35:45.1133333Z\",\"alerts\":[]}]}";
    struct dfw_page p;
    char err[256];
    assert_int_equal(
        dfw_stream_parse_page(body, strlen(body), "https://graph.microsoft.com", &p, err, 256),
        DFW_OK);
    struct dfw_buf a = DFW_BUF_INIT;
    struct dfw_row_key k;
    assert_int_equal(
        dfw_stream_row_key(gi, p.rows[0].json, p.rows[0].len, 64, &a, &k, &p.index, NULL), DFW_OK);
    assert_string_equal(a.data + k.id, "2972395");
    assert_int_equal(k.updated_ms, 1632994545113LL);
    assert_int_equal(k.created_ms, 1628844215553LL);
    dfw_buf_free(&a);
    dfw_page_free(&p);
}

/* Found by fuzzing: numbers that are not JSON and invalid UTF-8 went through to every JSON
 * output (Splunk answers 400). Such a page is refused, so the engine retries and reports it. */
static void refuses_pages_that_are_not_strict_json(void **state)
{
    (void)state;
    const char *base = "https://api.security.microsoft.com";
    const char *bad[] = {"NaN",  "Infinity", "-Infinity",        "1.",
                         "00.1", "\"\xff\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[256], err[256];
        snprintf(body, sizeof(body),
                 "{\"value\":[{\"id\":\"a\",\"lastUpdateTime\":\"2020-09-06T12:18:03Z\","
                 "\"x\":%s}]}",
                 bad[i]);
        struct dfw_page p;
        if (dfw_stream_parse_page(body, strlen(body), base, &p, err, sizeof(err)) !=
            DFW_ERR_INVALID) {
            fail_msg("accepted: %s", body);
        }
        assert_non_null(strstr(err, "not valid JSON (RFC 8259) at byte "));
    }
}

/* Found by fuzzing: "a\u0000b" and "a\u0000c" were both cut to "a" and collided in dedup. */
static void id_with_nul_is_invalid(void **state)
{
    (void)state;
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    const char *rec = "{\"id\":\"a\\u0000b\",\"lastUpdateTime\":\"2020-09-06T12:18:03Z\"}";
    struct dfw_buf a = DFW_BUF_INIT;
    struct dfw_row_key k;
    assert_int_equal(dfw_stream_row_key(mde, rec, strlen(rec), 64, &a, &k, NULL, NULL),
                     DFW_ERR_INVALID);
    dfw_buf_free(&a);
}

/* A record's identity is read from its bytes as json-c would read the tree: top-level members
 * only, escaped names and values decoded, the last of repeated names, integer ids printed. */
static void row_keys_read_like_json_c(void **state)
{
    (void)state;
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    const char *rec = "{ \"evidence\" : [{\"id\":\"inner\",\"severity\":\"Low\"}],"
                      "\"\\u0069d\":\"x\\\"\\u00e9\",\"severity\":\"Medium\",\"severity\":\"High\","
                      "\"lastUpdateTime\" : \"2020-09-06T12:18:03Z\", \"alertCreationTime\":7}";
    struct dfw_buf a = DFW_BUF_INIT;
    struct dfw_row_key k;
    assert_int_equal(dfw_stream_row_key(mde, rec, strlen(rec), 64, &a, &k, NULL, NULL), DFW_OK);
    assert_string_equal(a.data + k.id, "x\"\xc3\xa9");
    assert_string_equal(a.data + k.severity, "High");
    assert_string_equal(a.data + k.updated, "2020-09-06T12:18:03Z");
    assert_int_equal(k.created_ms, k.updated_ms); /* not a time: the last-update time */
    const struct dfw_stream_def *inc = dfw_stream_find("m365d-incidents");
    const char *num = "{\"incidentId\":-42,\"lastUpdateTime\":\"2020-09-06T12:18:03Z\"}";
    assert_int_equal(dfw_stream_row_key(inc, num, strlen(num), 64, &a, &k, NULL, NULL), DFW_OK);
    assert_string_equal(a.data + k.id, "-42");
    const char *big =
        "{\"incidentId\":99999999999999999999,\"lastUpdateTime\":\"2020-09-06T12:18:03Z\"}";
    assert_int_equal(dfw_stream_row_key(inc, big, strlen(big), 64, &a, &k, NULL, NULL), DFW_OK);
    assert_string_equal(a.data + k.id, "9223372036854775807"); /* json-c saturates */
    dfw_buf_free(&a);
}

/* The row's identity from its members read while the page was checked (keyed) is the one read
 * from its bytes; what that pass cannot read (an escaped name, an identity member that is an
 * object, a record with line breaks, which is flattened) leaves the row unkeyed, and objects at a
 * record's depth outside "value" are no rows. */
static void keyed_rows_read_like_their_bytes(void **state)
{
    (void)state;
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    const char *body =
        "{\"other\":[{\"id\":\"not a row\"}],\"value\":["
        "{\"id\":\"a\",\"severity\":\"Low\",\"severity\":\"High\",\"lastUpdateTime\" : "
        "\"2020-09-06T12:18:03Z\",\"evidence\":[{\"id\":\"inner\",\"severity\":\"Low\"}]},"
        "{\"\\u0069d\":\"b\",\"lastUpdateTime\":\"2020-09-06T12:18:04Z\"},"
        "{\"id\":{\"x\":1},\"lastUpdateTime\":\"2020-09-06T12:18:05Z\"},"
        "{\"id\":\"d\",\n\"lastUpdateTime\":\"2020-09-06T12:18:06Z\","
        "\"alertCreationTime\":\"2020-09-06T12:00:00Z\"},"
        "{\"id\":7,\"lastUpdateTime\":\"2020-09-06T12:18:07Z\",\"severity\":1}]}";
    struct dfw_page p;
    char err[256];
    assert_int_equal(
        dfw_stream_parse_page_keyed(body, strlen(body), "https://x", mde, &p, err, sizeof(err)),
        DFW_OK);
    assert_int_equal(p.nrows, 5);
    const int keyed[] = {1, 0, 0, 0, 1};
    const char *ids[] = {"a", "b", NULL, "d", "7"};
    for (size_t i = 0; i < p.nrows; i++) {
        assert_int_equal(p.rows[i].keyed, keyed[i]);
        struct dfw_buf a = DFW_BUF_INIT, b = DFW_BUF_INIT;
        struct dfw_row_key ka, kb;
        const struct dfw_page_row *r = &p.rows[i];
        dfw_err ra = dfw_stream_row_key(mde, r->json, r->len, 64, &a, &ka, &p.index,
                                        r->keyed ? r->key : NULL);
        dfw_err rb = dfw_stream_row_key(mde, r->json, r->len, 64, &b, &kb, NULL, NULL);
        assert_int_equal(ra, rb);
        assert_int_equal(ra, ids[i] ? DFW_OK : DFW_ERR_INVALID);
        if (ids[i] != NULL) {
            assert_string_equal(a.data + ka.id, ids[i]);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
            assert_int_equal(ka.updated_ms, kb.updated_ms);
            assert_int_equal(ka.created_ms, kb.created_ms);
            assert_int_equal(ka.severity, kb.severity);
        }
        dfw_buf_free(&a);
        dfw_buf_free(&b);
    }
    struct dfw_buf a = DFW_BUF_INIT;
    struct dfw_row_key k;
    assert_int_equal(
        dfw_stream_row_key(mde, p.rows[0].json, p.rows[0].len, 64, &a, &k, &p.index, p.rows[0].key),
        DFW_OK);
    assert_string_equal(a.data + k.severity, "High"); /* the last of the repeated name */
    dfw_buf_reset(&a);
    assert_int_equal(
        dfw_stream_row_key(mde, p.rows[3].json, p.rows[3].len, 64, &a, &k, &p.index, NULL), DFW_OK);
    assert_int_equal(k.created_ms, 1599393600000LL); /* read from the flattened row */
    dfw_buf_reset(&a);
    assert_int_equal(
        dfw_stream_row_key(mde, p.rows[4].json, p.rows[4].len, 64, &a, &k, &p.index, p.rows[4].key),
        DFW_OK);
    assert_int_equal(k.severity, SIZE_MAX); /* not a string: none */
    dfw_buf_free(&a);
    dfw_page_free(&p);
}

/* Rows keep the API's bytes; line breaks between tokens go (one line per record in JSON-lines
 * outputs), those escaped in strings stay. Deeper than json-c parses: refused. */
static void rows_are_one_line(void **state)
{
    (void)state;
    const char *body =
        "{\n  \"value\": [\n    {\n      \"id\": \"a\\nb\",\r\n      \"x\": [ 1, 2 ]\n    },"
        "\n    {\"id\":\"c\"}\n  ],\n  \"@odata.count\": 2\n}\n";
    struct dfw_page p;
    char err[256];
    assert_int_equal(dfw_stream_parse_page(body, strlen(body), "https://graph.microsoft.com", &p,
                                           err, sizeof(err)),
                     DFW_OK);
    assert_int_equal(p.nrows, 2);
    assert_int_equal(p.count, 2);
    const char *flat = "{      \"id\": \"a\\nb\",      \"x\": [ 1, 2 ]    }";
    assert_int_equal(p.rows[0].len, strlen(flat));
    assert_memory_equal(p.rows[0].json, flat, strlen(flat));
    assert_int_equal(p.rows[1].len, 10);
    assert_memory_equal(p.rows[1].json, "{\"id\":\"c\"}", 10);
    assert_ptr_equal(p.rows[1].json, strstr(body, "{\"id\":\"c\"}")); /* not copied */
    dfw_page_free(&p);
    char deep[256];
    int n = snprintf(deep, sizeof(deep), "{\"value\":[");
    for (int i = 0; i < DFW_PAGE_MAX_DEPTH; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < DFW_PAGE_MAX_DEPTH; i++) {
        deep[n++] = ']';
    }
    snprintf(deep + n, sizeof(deep) - (size_t)n, "]}");
    assert_int_equal(dfw_stream_parse_page(deep, strlen(deep), "https://graph.microsoft.com", &p,
                                           err, sizeof(err)),
                     DFW_ERR_INVALID);
    assert_non_null(strstr(err, "nested too deep"));
}

static void resources_per_cloud(void **state)
{
    (void)state;
    const struct dfw_cloud *g = dfw_cloud_find("global");
    assert_non_null(g);
    assert_string_equal(dfw_stream_resource(dfw_stream_find("m365d-incidents"), g),
                        "https://api.security.microsoft.com");
    assert_string_equal(dfw_stream_resource(dfw_stream_find("mde-alerts"), g),
                        "https://api.securitycenter.microsoft.com");
    assert_string_equal(dfw_stream_resource(dfw_stream_find("graph-alerts"), g),
                        "https://graph.microsoft.com");
    assert_string_equal(dfw_stream_resource(dfw_stream_find("graph-incidents"), g),
                        "https://graph.microsoft.com");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documented_limits),
        cmocka_unit_test(url_has_filter_top_expand),
        cmocka_unit_test(parse_page_and_keys),
        cmocka_unit_test(rejects_bad_pages),
        cmocka_unit_test(refuses_pages_that_are_not_strict_json),
        cmocka_unit_test(id_with_nul_is_invalid),
        cmocka_unit_test(row_keys_read_like_json_c),
        cmocka_unit_test(keyed_rows_read_like_their_bytes),
        cmocka_unit_test(rows_are_one_line),
        cmocka_unit_test(record_without_key_is_invalid),
        cmocka_unit_test(graph_incidents),
        cmocka_unit_test(resources_per_cloud),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
