#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Fill b with len bytes of a pattern that shows a byte moved or lost. */
static void fill(struct dfw_buf *b, size_t len)
{
    char chunk[65536];
    while (b->len < len) {
        size_t n = len - b->len < sizeof(chunk) ? len - b->len : sizeof(chunk);
        for (size_t i = 0; i < n; i++) {
            chunk[i] = (char)('a' + (b->len + i) % 23);
        }
        assert_int_equal(dfw_buf_append(b, chunk, n), DFW_OK);
    }
}

static void assert_pattern(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != (char)('a' + i % 23)) {
            fail_msg("byte %zu is %d", i, p[i]);
        }
    }
    assert_int_equal(p[len], '\0');
}

/* The VmFlags of the mapping holding p (/proc/self/smaps), "" when none holds it; " hg" (the
 * advice) when the kernel has no transparent huge pages to advise. */
static void vm_flags(const void *p, char *out, size_t outlen)
{
    if (access("/sys/kernel/mm/transparent_hugepage", F_OK) != 0) {
        snprintf(out, outlen, " hg");
        return;
    }
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    int inside = 0;
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        }
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, outlen, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

/* A large buffer is a mapping of its own with huge pages advised from DFW_BUF_LARGE_MIN on, and
 * keeps every byte through growing, shrinking back below it, and being stolen. */
static void large_buffers_map_huge_pages_and_keep_their_bytes(void **state)
{
    (void)state;
    char flags[512];
    struct dfw_buf b = DFW_BUF_INIT;
    b.large = 1;
    fill(&b, DFW_BUF_LARGE_MIN / 4);
    assert_false(b.mapped);
    fill(&b, DFW_BUF_LARGE_MIN + 12345); /* moved from malloc'd memory into a mapping */
    assert_true(b.mapped);
    assert_true(b.cap >= b.len + 1);
    vm_flags(b.data, flags, sizeof(flags));
    assert_non_null(strstr(flags, " hg"));
    fill(&b, 3 * DFW_BUF_LARGE_MIN); /* the mapping grows */
    assert_true(b.mapped);
    assert_pattern(b.data, b.len);
    vm_flags(b.data, flags, sizeof(flags));
    assert_non_null(strstr(flags, " hg")); /* the advice moved with it */

    b.len = DFW_BUF_LARGE_MIN + 1;
    b.data[b.len] = '\0';
    dfw_buf_fit(&b, 0); /* still large enough: the mapping shrinks */
    assert_true(b.mapped);
    assert_true(b.cap >= b.len + 1 && b.cap < b.len + 1 + 65536);
    assert_pattern(b.data, b.len);
    b.len = 1000;
    b.data[b.len] = '\0';
    dfw_buf_fit(&b, 0); /* below: back to malloc'd memory */
    assert_false(b.mapped);
    assert_int_equal(b.cap, 1001);
    assert_pattern(b.data, b.len);

    fill(&b, 2 * DFW_BUF_LARGE_MIN);
    assert_true(b.mapped);
    char *copy = dfw_buf_steal(&b); /* malloc'd: free() takes it */
    assert_non_null(copy);
    assert_pattern(copy, 2 * DFW_BUF_LARGE_MIN);
    free(copy);
    assert_null(b.data);
    assert_false(b.mapped);
    assert_true(b.large); /* the buffer's use, kept */

    assert_int_equal(dfw_buf_reserve_exact(&b, DFW_BUF_LARGE_MIN + 1), DFW_OK);
    assert_true(b.mapped);
    assert_true(b.cap >= DFW_BUF_LARGE_MIN + 2 && b.cap < DFW_BUF_LARGE_MIN + 2 + 65536);
    fill(&b, DFW_BUF_LARGE_MIN + 1);
    assert_pattern(b.data, b.len);
    dfw_buf_free(&b);
    assert_null(b.data);
    assert_false(b.mapped);
}

/* A buffer not marked large stays malloc'd however large it grows. */
static void other_buffers_stay_malloced(void **state)
{
    (void)state;
    struct dfw_buf b = DFW_BUF_INIT;
    fill(&b, DFW_BUF_LARGE_MIN + 1);
    assert_false(b.mapped);
    assert_pattern(b.data, b.len);
    char *p = dfw_buf_steal(&b);
    assert_pattern(p, DFW_BUF_LARGE_MIN + 1);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fit_shrinks_to_the_contents_beyond_the_slack),
        cmocka_unit_test(large_buffers_map_huge_pages_and_keep_their_bytes),
        cmocka_unit_test(other_buffers_stay_malloced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
