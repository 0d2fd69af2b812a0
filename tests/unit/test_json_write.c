#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <string.h>

#include "dfw/json_write.h"

/* What json-c writes for s, the serialiser the envelopes were written with before. */
static const char *json_c(struct json_object **o, const char *s)
{
    *o = json_object_new_string(s);
    return json_object_to_json_string_ext(*o,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void assert_like_json_c(const char *s)
{
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_buf_puts(&out, "x="), DFW_OK);
    assert_int_equal(dfw_json_append_string(&out, s), DFW_OK);
    struct json_object *o;
    const char *want = json_c(&o, s);
    assert_memory_equal(out.data, "x=", 2); /* appended */
    assert_string_equal(out.data + 2, want);
    json_object_put(o);
    dfw_buf_free(&out);
}

/* Every byte, alone and between plain text, is written as json-c writes it. */
static void every_byte_escapes_like_json_c(void **state)
{
    (void)state;
    for (int c = 1; c < 256; c++) {
        char alone[2] = {(char)c, 0};
        char inside[8] = {'a', 'b', (char)c, 'c', (char)c, (char)c, 'd', 0};
        assert_like_json_c(alone);
        assert_like_json_c(inside);
    }
    assert_like_json_c("");
    assert_like_json_c("da0f1c2e-4b5a-6789-abcd-ef0123456789_1a2b3c4d");
    assert_like_json_c("contoso \xc3\xa9 \xe2\x82\xac / \"quoted\" \\ back\r\n\ttab\x7f");
}

/* The result reads back as the string it was made of. */
static void reads_back_as_the_string(void **state)
{
    (void)state;
    const char *s = "line\nbreak \x01\x1f \"q\" \\ </script>";
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(dfw_json_append_string(&out, s), DFW_OK);
    struct json_object *back = json_tokener_parse(out.data);
    assert_non_null(back);
    assert_string_equal(json_object_get_string(back), s);
    assert_null(memchr(out.data, '\n', out.len)); /* one line */
    json_object_put(back);
    dfw_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_byte_escapes_like_json_c),
        cmocka_unit_test(reads_back_as_the_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
