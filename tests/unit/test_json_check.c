/* dfw_json_check (RFC 8259) and dfw_utf8_char_len (RFC 3629): what json-c 0.16 lets through even
 * with JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 is refused here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/buf.h"
#include "dfw/json_check.h"
#include "dfw/json_scan.h"
#include "dfw/utf8.h"

static dfw_err check(const char *s)
{
    char why[128];
    return dfw_json_check(s, strlen(s), why, sizeof(why));
}

static void accepts_json(void **state)
{
    (void)state;
    const char *good[] = {"{}",
                          " [ ] ",
                          "{\"value\":[]}",
                          "\"x\"",
                          "0",
                          "-0",
                          "-1.5e-3",
                          "1E+5",
                          "123456789012345678901234567890",
                          "1.0e999",
                          "true",
                          "false",
                          "null",
                          "{\"a\":[1,{\"b\":null}],\"c\":true}",
                          "\"\\u0000\\ud800\\\"\\\\\\/\"",
                          "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\"",
                          "\r\n\t{ \"a\" : 1 }\r\n"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (check(good[i]) != DFW_OK) {
            fail_msg("refused: %s", good[i]);
        }
    }
}

/* Each of these passed json-c (0.16, strict flags included) and came out of our JSON outputs as
 * it came in, which a receiver such as Splunk HEC refuses. */
static void refuses_what_json_c_lets_through(void **state)
{
    (void)state;
    const char *bad[] = {"{\"a\":NaN}",
                         "{\"a\":Infinity}",
                         "{\"a\":-Infinity}",
                         "{\"a\":1.}",
                         "{\"a\":00.1}",
                         "{\"a\":\"\xed\xa0\x80\"}",
                         "{\"a\":\"\xc0\xaf\"}",
                         "{\"a\":\"\xf4\x90\x80\x80\"}",
                         "{\"a\":\"\xf0\x80\x80\x80\"}",
                         "{\"a\":\"x\ty\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(bad[i]) != DFW_ERR_INVALID) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
}

static void refuses_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",          " ",     "{",          "[1,]",        "{\"a\":1,}",  "[,1]",
        "{\"a\" 1}", "[1 2]", "{\"a\":1}x", "/*c*/{}",     "{a:1}",       "{'a':1}",
        "[TRUE]",    "nul",   "[\"\\x\"]",  "[\"\\u12\"]", "[01]",        "[.5]",
        "[+1]",      "[1e]",  "[-]",        "[\"\xff\"]",  "[\"a\"\x00]", "{\"a\":\"b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(bad[i]) != DFW_ERR_INVALID) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
    /* a NUL byte inside the given length */
    const char nul[] = "{\"a\":\"x\0y\"}";
    char why[128];
    assert_int_equal(dfw_json_check(nul, sizeof(nul) - 1, why, sizeof(why)), DFW_ERR_INVALID);
    assert_string_equal(why, "byte 7: control character in a string");
}

static void nesting_limit(void **state)
{
    (void)state;
    char deep[2 * DFW_JSON_MAX_DEPTH + 4];
    size_t n = 0;
    for (int i = 0; i < DFW_JSON_MAX_DEPTH; i++) {
        deep[n++] = '[';
    }
    for (int i = 0; i < DFW_JSON_MAX_DEPTH; i++) {
        deep[n++] = ']';
    }
    char why[128];
    assert_int_equal(dfw_json_check(deep, n, why, sizeof(why)), DFW_OK);
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[n + 1] = ']';
    assert_int_equal(dfw_json_check(deep, n + 2, why, sizeof(why)), DFW_ERR_INVALID);
    assert_non_null(strstr(why, "nested too deep"));
}

static void utf8_table(void **state)
{
    (void)state;
    assert_int_equal(dfw_utf8_char_len("a", 1), 1);
    assert_int_equal(dfw_utf8_char_len("\xc3\xa9", 2), 2);
    assert_int_equal(dfw_utf8_char_len("\xc3", 1), 0);
    assert_int_equal(dfw_utf8_char_len("\xc1\xbf", 2), 0);         /* overlong */
    assert_int_equal(dfw_utf8_char_len("\xe0\x9f\xbf", 3), 0);     /* overlong */
    assert_int_equal(dfw_utf8_char_len("\xed\x9f\xbf", 3), 3);     /* U+D7FF */
    assert_int_equal(dfw_utf8_char_len("\xed\xa0\x80", 3), 0);     /* U+D800 */
    assert_int_equal(dfw_utf8_char_len("\xf4\x8f\xbf\xbf", 4), 4); /* U+10FFFF */
    assert_int_equal(dfw_utf8_char_len("\xf4\x90\x80\x80", 4), 0); /* U+110000 */
    assert_int_equal(dfw_utf8_char_len("\x80", 1), 0);
    assert_int_equal(dfw_utf8_char_len("\xf5\x80\x80\x80", 4), 0);
    assert_int_equal(dfw_utf8_char_len("", 0), 0);
    assert_true(dfw_utf8_valid("caf\xc3\xa9", 5));
    assert_false(dfw_utf8_valid("caf\xc3", 4));
}

/* A page of n rows, each {"id":"<i>","pad":"<pad bytes>","ev":[{"a":"<pad>"},[]]}: rows and
 * their "ev" arrays big or small with pad; strings with escaped quotes and brackets inside. */
static char *page_text(int n, size_t pad)
{
    struct dfw_buf b = DFW_BUF_INIT;
    assert_int_equal(dfw_buf_append(&b, "{\"value\": [", 11), DFW_OK);
    for (int i = 0; i < n; i++) {
        assert_int_equal(
            dfw_buf_printf(&b, "%s{\"id\":\"%d\\\"]}\",\"ev\":[{\"a\":\"", i ? ", " : "", i),
            DFW_OK);
        for (size_t k = 0; k < pad; k++) {
            assert_int_equal(dfw_buf_append(&b, k % 7 ? "x" : "{", 1), DFW_OK);
        }
        assert_int_equal(dfw_buf_append(&b, "\"},[ ]]}", 8), DFW_OK);
    }
    assert_int_equal(dfw_buf_append(&b, "], \"n\": 1}", 11), DFW_OK);
    return dfw_buf_steal(&b);
}

/* The index holds exactly the containers of DFW_JSON_INDEX_MIN bytes or more, sorted by where
 * they open, each with its own closing bracket; the scanners jump with it exactly where they
 * would have read to. */
static void index_of_big_containers(void **state)
{
    (void)state;
    char *t = page_text(40, 300);
    size_t len = strlen(t);
    struct dfw_json_index ix = {0};
    assert_int_equal(dfw_json_check_index(t, len, 32, &ix, NULL, 0), DFW_OK);
    /* the root, "value", and per row: the row, "ev", its object */
    assert_int_equal(ix.n, 2 + 40 * 3);
    for (size_t i = 0; i < ix.n; i++) {
        const struct dfw_json_container *c = &ix.c[i];
        assert_true(i == 0 || ix.c[i - 1].open < c->open);
        assert_true(c->close + 1 - c->open >= DFW_JSON_INDEX_MIN);
        assert_true(t[c->open] == '{' || t[c->open] == '[');
        assert_int_equal(t[c->close], t[c->open] == '{' ? '}' : ']');
        struct dfw_json_span plain, fast;
        size_t a = dfw_json_value(t, len, c->open, &plain, NULL);
        size_t b = dfw_json_value(t, len, c->open, &fast, &ix);
        assert_int_equal(a, b);
        assert_int_equal(a, c->close + 1);
        assert_int_equal(plain.off, fast.off);
    }
    /* rows read through the index are the rows read without it */
    struct dfw_json_span root = {0, len}, name, arr, r1, r2;
    size_t pos = 0, p1, p2;
    assert_int_equal(dfw_json_next_name(t, root, &pos, &name, NULL), 1);
    dfw_json_value(t, len, pos, &arr, NULL);
    p1 = p2 = arr.off;
    int n = 0;
    while (dfw_json_next_item(t, arr, &p1, &r1, NULL) == 1) {
        assert_int_equal(dfw_json_next_item(t, arr, &p2, &r2, &ix), 1);
        assert_int_equal(r1.off, r2.off);
        assert_int_equal(r1.len, r2.len);
        n++;
    }
    assert_int_equal(n, 40);
    /* a copy of the text is not the indexed memory: scanned, with the same answers */
    char *copy = strdup(t);
    struct dfw_json_span s1, s2;
    assert_int_equal(dfw_json_value(copy, len, 0, &s1, &ix), dfw_json_value(t, len, 0, &s2, &ix));
    assert_int_equal(s1.len, s2.len);
    free(copy);
    dfw_json_index_free(&ix);
    assert_int_equal(ix.n, 0);
    free(t);
}

/* Small containers are not indexed; text the check refuses leaves the index empty. */
static void index_small_and_refused(void **state)
{
    (void)state;
    char *t = page_text(3, 10);
    struct dfw_json_index ix = {0};
    assert_int_equal(dfw_json_check_index(t, strlen(t), 32, &ix, NULL, 0), DFW_OK);
    assert_int_equal(ix.n, 0);
    free(t);
    t = page_text(5, 400);
    size_t len = strlen(t);
    t[len - 1] = ','; /* no closing brace */
    char why[128];
    assert_int_equal(dfw_json_check_index(t, len, 32, &ix, why, sizeof(why)), DFW_ERR_INVALID);
    assert_int_equal(ix.n, 0);
    assert_null(ix.c);
    free(t);
}

/* Member names come with whether they hold an escape: those are compared decoded, the others in
 * place; both ways give the same answer. */
static void names_say_when_they_are_escaped(void **state)
{
    (void)state;
    const char *t = "{\"id\":1, \"\\u0069d\":2, \"a\\\"b\":3, \"x\\\\\":4}";
    struct dfw_json_span obj = {0, strlen(t)}, name, v;
    const int want[] = {0, 1, 1, 1};
    const char *decoded[] = {"id", "id", "a\"b", "x\\"};
    size_t pos = 0;
    int escaped = -1, n = 0;
    while (dfw_json_next_name(t, obj, &pos, &name, &escaped) == 1) {
        assert_int_equal(escaped, want[n]);
        assert_true(dfw_json_name_is(t, name, decoded[n]));
        pos = dfw_json_value(t, obj.len, pos, &v, NULL);
        n++;
    }
    assert_int_equal(n, 4);
    const char *keys[] = {"id", "a\"b"};
    struct dfw_json_span m[2];
    assert_int_equal(dfw_json_members(t, obj, keys, 2, m, NULL), 0);
    assert_int_equal(t[m[0].off], '2'); /* the last "id", written with an escape */
    assert_int_equal(t[m[1].off], '3');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_json),
        cmocka_unit_test(refuses_what_json_c_lets_through),
        cmocka_unit_test(refuses_malformed),
        cmocka_unit_test(nesting_limit),
        cmocka_unit_test(utf8_table),
        cmocka_unit_test(index_of_big_containers),
        cmocka_unit_test(index_small_and_refused),
        cmocka_unit_test(names_say_when_they_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
