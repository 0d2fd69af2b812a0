#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dfw/buf.h"

/* A buffer reused for smaller contents gives back what it no longer needs, and keeps its data. */
static void fit_shrinks_to_the_contents_beyond_the_slack(void **state)
{
    (void)state;
    struct dfw_buf b = DFW_BUF_INIT;
    char big[4096];
    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 64; i++) {
        assert_int_equal(dfw_buf_append(&b, big, sizeof(big)), DFW_OK);
    }
    assert_true(b.cap >= 64 * sizeof(big));
    dfw_buf_reset(&b);
    assert_int_equal(dfw_buf_puts(&b, "{\"value\":[]}"), DFW_OK);
    size_t before = b.cap;
    dfw_buf_fit(&b, before); /* within the slack: kept */
    assert_int_equal(b.cap, before);
    dfw_buf_fit(&b, 1024);
    assert_int_equal(b.cap, b.len + 1);
    assert_string_equal(b.data, "{\"value\":[]}");
    /* and it still grows */
    assert_int_equal(dfw_buf_append(&b, big, sizeof(big)), DFW_OK);
    assert_int_equal(b.len, 12 + sizeof(big));
    assert_int_equal(b.data[b.len], '\0');
    dfw_buf_free(&b);
    dfw_buf_fit(&b, 0); /* empty: nothing to do */
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fit_shrinks_to_the_contents_beyond_the_slack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
