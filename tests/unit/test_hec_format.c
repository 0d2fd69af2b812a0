/* The Splunk HEC output's event objects (golden files in data/hec/), time stamps, source
 * templates and gzip bodies. DFW_GOLDEN_UPDATE=1 rewrites the golden files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "registry.h"
#include "splunk_hec_conf.h"
#include "splunk_hec_format.h"

static const struct dfw_output_plugin *plugin(void)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "splunk_hec");
    assert_non_null(p);
    return p;
}

/* A conf from "key=value" strings (no token check: format never reads it). */
static struct dfw_out_splunk_hec_conf *conf_of(const char *const *kv)
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
    char err[256];
    if (dfw_output_conf_parse(plugin(), kvs, n, &c, err, sizeof(err)) != DFW_OK) {
        fail_msg("%s", err);
    }
    return c;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct dfw_buf b = DFW_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        assert_int_equal(dfw_buf_append(&b, chunk, n), DFW_OK);
    }
    fclose(f);
    return dfw_buf_steal(&b);
}

/* Compare out with data/hec/<name> (one line, trailing newline in the file). */
static void golden(const char *name, const struct dfw_buf *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/hec/%s", DFW_TEST_DATA, name);
    if (getenv("DFW_GOLDEN_UPDATE") != NULL) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fprintf(f, "%s\n", out->data);
        fclose(f);
    }
    char *want = read_file(path);
    if (want == NULL) {
        fail_msg("missing golden file %s", path);
    }
    size_t n = strlen(want);
    if (n > 0 && want[n - 1] == '\n') {
        want[n - 1] = '\0';
    }
    assert_string_equal(out->data, want);
    free(want);
}

static struct json_object *record(const char *path)
{
    char full[512];
    snprintf(full, sizeof(full), "%s/hec/%s", DFW_TEST_DATA, path);
    struct json_object *r = json_object_from_file(full);
    assert_non_null(r);
    return r;
}

static void mde_alert_golden(void **state)
{
    (void)state;
    const char *kv[] = {"url=https://splunk.example.com:8088", "token_env=HEC_TOKEN",
                        "index=defender", "host=fwd1.example.com", NULL};
    struct dfw_out_splunk_hec_conf *c = conf_of(kv);
    struct json_object *rec = record("mde_alert.record.json");
    struct dfw_event ev = {"contoso",
                           "d581233e-ba75-410e-88cc-aaeb5da98658",
                           "mde-alerts",
                           DFW_EVENT_NEW,
                           "da637f",
                           1700000000123,
                           "2023-11-14T22:13:20.1234567Z",
                           rec,
                           0,
                           0,
                           NULL,
                           0,
                           NULL,
                           NULL};
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(plugin()->format(c, &ev, &out), DFW_OK);
    golden("mde_alert.hec.json", &out);
    /* it is one JSON object and carries the record unchanged */
    struct json_object *back = json_tokener_parse(out.data);
    assert_non_null(back);
    struct json_object *v;
    assert_true(json_object_object_get_ex(back, "event", &v));
    assert_true(json_object_equal(v, rec));
    json_object_put(back);
    dfw_buf_free(&out);
    json_object_put(rec);
    dfw_output_conf_free(plugin(), c);
}

static void incident_golden_custom_fields(void **state)
{
    (void)state;
    const char *kv[] = {"url=https://splunk:8088",
                        "token_env=HEC_TOKEN",
                        "host=fwd2",
                        "source=m365d:{tenant}/{stream}/{unknown",
                        "sourcetype=defender:json",
                        NULL};
    struct dfw_out_splunk_hec_conf *c = conf_of(kv);
    struct json_object *rec = record("incident.record.json");
    struct dfw_event ev = {"fabrikam",
                           "fabrikam.onmicrosoft.com",
                           "m365d-incidents",
                           DFW_EVENT_UPDATE,
                           "924565",
                           1699999999005,
                           "2023-11-14T22:13:19.005Z",
                           rec,
                           0,
                           0,
                           NULL,
                           0,
                           NULL,
                           NULL};
    struct dfw_buf out = DFW_BUF_INIT;
    struct dfw_out_splunk_hec_fmt f;
    dfw_out_splunk_hec_fmt_init(&f, c);
    assert_int_equal(dfw_out_splunk_hec_format(&f, &ev, &out), DFW_OK);
    /* no index key (the token's default index), one sourcetype for every stream */
    golden("incident.hec.json", &out);
    dfw_out_splunk_hec_fmt_free(&f);
    dfw_buf_free(&out);
    json_object_put(rec);
    dfw_output_conf_free(plugin(), c);
}

static void sourcetypes_per_stream(void **state)
{
    (void)state;
    const char *kv[] = {"url=https://splunk:8088", "token_env=T", NULL};
    struct dfw_out_splunk_hec_conf *c = conf_of(kv);
    assert_string_equal(dfw_out_splunk_hec_sourcetype(c, "mde-alerts"), "ms:defender:atp:alerts");
    assert_string_equal(dfw_out_splunk_hec_sourcetype(c, "m365d-incidents"),
                        "ms365:defender:incident");
    assert_string_equal(dfw_out_splunk_hec_sourcetype(c, "graph-alerts"),
                        "ms365:defender:incident:alerts");
    assert_string_equal(dfw_out_splunk_hec_sourcetype(c, "other"), "defender:event");
    dfw_output_conf_free(plugin(), c);
    /* per-stream keys win over sourcetype, which wins over the defaults */
    const char *kv2[] = {"url=https://splunk:8088", "token_env=T", "sourcetype=all",
                         "sourcetype_mde_alerts=mine", NULL};
    c = conf_of(kv2);
    assert_string_equal(dfw_out_splunk_hec_sourcetype(c, "mde-alerts"), "mine");
    assert_string_equal(dfw_out_splunk_hec_sourcetype(c, "graph-alerts"), "all");
    dfw_output_conf_free(plugin(), c);
}

static void time_has_millisecond_fraction(void **state)
{
    (void)state;
    char t[32];
    dfw_out_splunk_hec_time(1700000000123, t, sizeof(t));
    assert_string_equal(t, "1700000000.123");
    dfw_out_splunk_hec_time(1700000000000, t, sizeof(t));
    assert_string_equal(t, "1700000000.000");
    dfw_out_splunk_hec_time(5, t, sizeof(t));
    assert_string_equal(t, "0.005");
    dfw_out_splunk_hec_time(-1, t, sizeof(t));
    assert_string_equal(t, "-1.999");
}

static void source_template(void **state)
{
    (void)state;
    struct dfw_event ev = {"contoso", "tid", "mde-alerts", DFW_EVENT_NEW, "1", 0, "", NULL, 0, 0,
                           NULL,      0,     NULL,         NULL};
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_out_splunk_hec_source("{stream}:{tenant_id}/{tenant}{x}", &ev, &out),
                     DFW_OK);
    assert_string_equal(out.data, "mde-alerts:tid/contoso{x}");
    dfw_buf_reset(&out);
    assert_int_equal(dfw_out_splunk_hec_source("", &ev, &out), DFW_OK);
    assert_string_equal(out.data, "");
    dfw_buf_free(&out);
}

/* gunzip src into a malloc'd buffer of *len bytes. */
static char *gunzip(const struct dfw_buf *src, size_t *len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    struct dfw_buf out = DFW_BUF_INIT;
    unsigned char chunk[8192];
    zs.next_in = (unsigned char *)src->data;
    zs.avail_in = (uInt)src->len;
    int rc;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        rc = inflate(&zs, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
        assert_int_equal(dfw_buf_append(&out, chunk, sizeof(chunk) - zs.avail_out), DFW_OK);
    } while (rc != Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0); /* one gzip member, nothing after it */
    inflateEnd(&zs);
    *len = out.len;
    return dfw_buf_steal(&out);
}

static void gzip_round_trip(void **state)
{
    (void)state;
    /* 3 MB of JSON-like text with some variety, larger than one deflate chunk */
    struct dfw_buf raw = DFW_BUF_INIT;
    for (int i = 0; raw.len < 3 * 1024 * 1024; i++) {
        assert_int_equal(dfw_buf_printf(&raw, "{\"time\":%d.%03d,\"event\":{\"id\":\"da%08x\"}}\n",
                                        1700000000 + i, i % 1000, (unsigned)(i * 2654435761u)),
                         DFW_OK);
    }
    struct dfw_buf gz = DFW_BUF_INIT;
    assert_int_equal(dfw_buf_append(&gz, "prefix", 6), DFW_OK);
    assert_int_equal(dfw_out_splunk_hec_gzip(raw.data, raw.len, 6, &gz), DFW_OK);
    assert_memory_equal(gz.data, "prefix", 6); /* appended, not overwritten */
    assert_true(gz.len - 6 < raw.len / 4);
    assert_int_equal((unsigned char)gz.data[6], 0x1f); /* gzip magic */
    assert_int_equal((unsigned char)gz.data[7], 0x8b);
    struct dfw_buf body = {.data = gz.data + 6, .len = gz.len - 6, .cap = gz.len - 6};
    size_t len;
    char *back = gunzip(&body, &len);
    assert_int_equal(len, raw.len);
    assert_memory_equal(back, raw.data, raw.len);
    free(back);
    /* the fastest and the smallest level the output allows decode to the same text */
    for (int level = 1; level <= 9; level += 8) {
        dfw_buf_reset(&gz);
        assert_int_equal(dfw_out_splunk_hec_gzip(raw.data, raw.len, level, &gz), DFW_OK);
        back = gunzip(&gz, &len);
        assert_int_equal(len, raw.len);
        assert_memory_equal(back, raw.data, raw.len);
        free(back);
    }
    /* a level libdeflate does not have: an error, out unchanged */
    dfw_buf_reset(&gz);
    assert_int_equal(dfw_out_splunk_hec_gzip(raw.data, raw.len, 13, &gz), DFW_ERR_INVALID);
    assert_int_equal(gz.len, 0);
    /* empty input: still a valid gzip member */
    dfw_buf_reset(&gz);
    assert_int_equal(dfw_out_splunk_hec_gzip("", 0, -1, &gz), DFW_OK);
    back = gunzip(&gz, &len);
    assert_int_equal(len, 0);
    free(back);
    dfw_buf_free(&gz);
    dfw_buf_free(&raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mde_alert_golden),       cmocka_unit_test(incident_golden_custom_fields),
        cmocka_unit_test(sourcetypes_per_stream), cmocka_unit_test(time_has_millisecond_fraction),
        cmocka_unit_test(source_template),        cmocka_unit_test(gzip_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
