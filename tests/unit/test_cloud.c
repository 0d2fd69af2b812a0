/* Cloud presets: defender-api.md §1.9-§1.10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dfw/cloud.h"

static void test_global(void **state)
{
    (void)state;
    const struct dfw_cloud *c = dfw_cloud_find("global");
    assert_non_null(c);
    assert_string_equal(c->name, "global");
    assert_string_equal(c->login_url, "https://login.microsoftonline.com");
    assert_string_equal(c->defender_url, "https://api.security.microsoft.com");
    assert_string_equal(c->graph_url, "https://graph.microsoft.com");
    assert_string_equal(c->portal_url, "https://security.microsoft.com");
    assert_string_equal(c->defender_resource, "https://api.security.microsoft.com");
    assert_string_equal(c->mde_resource, "https://api.securitycenter.microsoft.com");
    assert_string_equal(c->graph_resource, "https://graph.microsoft.com");
}

static void test_gcc(void **state)
{
    (void)state;
    const struct dfw_cloud *c = dfw_cloud_find("gcc");
    assert_non_null(c);
    assert_string_equal(c->login_url, "https://login.microsoftonline.com");
    assert_string_equal(c->defender_url, "https://api-gcc.security.microsoft.us");
    assert_string_equal(c->graph_url, "https://graph.microsoft.com");
    assert_string_equal(c->portal_url, "https://security.microsoft.com");
    assert_string_equal(c->defender_resource, "https://api-gcc.security.microsoft.us");
    assert_string_equal(c->mde_resource, "https://api-gcc.securitycenter.microsoft.us");
    assert_string_equal(c->graph_resource, "https://graph.microsoft.com");
}

static void test_gcc_high(void **state)
{
    (void)state;
    const struct dfw_cloud *c = dfw_cloud_find("gcc-high");
    assert_non_null(c);
    assert_string_equal(c->login_url, "https://login.microsoftonline.us");
    assert_string_equal(c->defender_url, "https://api-gov.security.microsoft.us");
    assert_string_equal(c->graph_url, "https://graph.microsoft.us");
    assert_string_equal(c->portal_url, "https://security.microsoft.us");
    assert_string_equal(c->defender_resource, "https://api-gov.security.microsoft.us");
    assert_string_equal(c->mde_resource, "https://api-gov.securitycenter.microsoft.us");
    assert_string_equal(c->graph_resource, "https://graph.microsoft.us");
}

static void test_dod(void **state)
{
    (void)state;
    const struct dfw_cloud *c = dfw_cloud_find("dod");
    assert_non_null(c);
    assert_string_equal(c->login_url, "https://login.microsoftonline.us");
    assert_string_equal(c->defender_url, "https://api-gov.security.microsoft.us");
    assert_string_equal(c->graph_url, "https://dod-graph.microsoft.us");
    assert_string_equal(c->portal_url, "https://security.apps.mil");
    assert_string_equal(c->defender_resource, "https://api-gov.security.microsoft.us");
    assert_string_equal(c->mde_resource, "https://api-gov.securitycenter.microsoft.us");
    assert_string_equal(c->graph_resource, "https://dod-graph.microsoft.us");
}

static void test_unknown_and_case(void **state)
{
    (void)state;
    assert_null(dfw_cloud_find(NULL));
    assert_null(dfw_cloud_find(""));
    assert_null(dfw_cloud_find("china"));
    assert_null(dfw_cloud_find("gcc high"));
    const struct dfw_cloud *c = dfw_cloud_find("GCC-High");
    assert_non_null(c);
    assert_string_equal(c->name, "gcc-high"); /* canonical spelling comes back */
}

/* Every name listed for error messages is a preset, and every URL is a bare https base (streams
 * append "/api/..." to them). */
static void test_names_and_urls(void **state)
{
    (void)state;
    assert_string_equal(dfw_cloud_names(), "global, gcc, gcc-high, dod");
    const char *names[] = {"global", "gcc", "gcc-high", "dod"};
    for (size_t i = 0; i < 4; i++) {
        const struct dfw_cloud *c = dfw_cloud_find(names[i]);
        assert_non_null(c);
        assert_ptr_equal(c, dfw_cloud_find(c->name));
        const char *urls[] = {c->login_url,     c->defender_url,      c->graph_url,
                              c->portal_url,    c->defender_resource, c->mde_resource,
                              c->graph_resource};
        for (size_t j = 0; j < 7; j++) {
            assert_non_null(urls[j]);
            assert_int_equal(strncmp(urls[j], "https://", 8), 0);
            assert_true(urls[j][strlen(urls[j]) - 1] != '/');
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global),           cmocka_unit_test(test_gcc),
        cmocka_unit_test(test_gcc_high),         cmocka_unit_test(test_dod),
        cmocka_unit_test(test_unknown_and_case), cmocka_unit_test(test_names_and_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
