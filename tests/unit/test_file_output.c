#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "registry.h"

static int acks;
static uint64_t acked_seq;

static void on_ack(void *ctx, uint64_t seq, dfw_err result)
{
    (void)ctx;
    assert_int_equal(result, DFW_OK);
    acks++;
    acked_seq = seq;
}

static void *make(const char *path, int envelope, void **conf_out)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "file");
    static char pathbuf[256];
    snprintf(pathbuf, sizeof(pathbuf), "%s", path);
    struct dfw_config_kv kvs[] = {{"path", pathbuf, "t.conf", 1},
                                  {"envelope", envelope ? "yes" : "no", "t.conf", 2}};
    char err[256];
    assert_int_equal(dfw_output_conf_parse(p, kvs, 2, conf_out, err, sizeof(err)), DFW_OK);
    void *self = p->init(*conf_out, "jsonl", err, sizeof(err));
    assert_non_null(self);
    return self;
}

static void envelope_is_escaped_json_line(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "file");
    void *conf;
    void *self = make("/dev/null", 1, &conf);
    struct json_object *rec = json_tokener_parse("{\"id\":\"a\\\"b\",\"title\":\"x\\ny\"}");
    struct dfw_event ev = {
        "contoso", "tid-1", "mde-alerts", DFW_EVENT_UPDATE, "a\"b\n", 5, "t", rec, 0, 0, NULL,
        0,         NULL,    NULL};
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(p->format(conf, &ev, &out), DFW_OK);
    /* exactly one line */
    assert_int_equal(out.data[out.len - 1], '\n');
    assert_null(memchr(out.data, '\n', out.len - 1));
    struct json_object *back = json_tokener_parse(out.data);
    assert_non_null(back);
    struct json_object *v;
    assert_true(json_object_object_get_ex(back, "id", &v));
    assert_string_equal(json_object_get_string(v), "a\"b\n");
    assert_true(json_object_object_get_ex(back, "kind", &v));
    assert_string_equal(json_object_get_string(v), "update");
    assert_true(json_object_object_get_ex(back, "record", &v));
    assert_true(json_object_equal(v, rec));
    json_object_put(back);
    dfw_buf_free(&out);
    json_object_put(rec);
    p->destroy(self);
    dfw_output_conf_free(p, conf);
}

static void submit_writes_and_acks(void **state)
{
    (void)state;
    char path[] = "/tmp/dfw-file-out-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "file");
    void *conf;
    void *self = make(path, 0, &conf);
    struct json_object *r1 = json_tokener_parse("{\"id\":\"1\"}");
    struct json_object *r2 = json_tokener_parse("{\"id\":\"2\"}");
    struct dfw_event evs[2] = {
        {"t", "tid", "s", DFW_EVENT_NEW, "1", 1, "u", r1, 0, 0, NULL, 0, NULL, NULL},
        {"t", "tid", "s", DFW_EVENT_NEW, "2", 2, "u", r2, 0, 0, NULL, 0, NULL, NULL}};
    struct dfw_batch b = {evs, 2, 42, NULL};
    acks = 0;
    assert_int_equal(p->submit(self, &b, on_ack, NULL), DFW_OK);
    assert_int_equal(acks, 1);
    assert_int_equal(acked_seq, 42);
    FILE *f = fopen(path, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "{\"id\":\"1\"}\n");
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "{\"id\":\"2\"}\n");
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    unlink(path);
    json_object_put(r1);
    json_object_put(r2);
    p->destroy(self);
    dfw_output_conf_free(p, conf);
}

static void unwritable_path_fails_init(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "file");
    struct dfw_config_kv kvs[] = {{"path", "/nonexistent-dir/x.jsonl", "t.conf", 1}};
    void *conf;
    char err[256];
    assert_int_equal(dfw_output_conf_parse(p, kvs, 1, &conf, err, sizeof(err)), DFW_OK);
    assert_null(p->init(conf, "broken", err, sizeof(err)));
    assert_non_null(strstr(err, "broken"));
    assert_non_null(strstr(err, "/nonexistent-dir/x.jsonl"));
    dfw_output_conf_free(p, conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_is_escaped_json_line),
        cmocka_unit_test(submit_writes_and_acks),
        cmocka_unit_test(unwritable_path_fails_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
