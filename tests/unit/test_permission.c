/* Tokens checked by kind: scp decoding, application vs delegated, the per-stream permission and
 * the tid check. Tokens are built here from JSON text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dfw/config.h" /* defines enum dfw_assertion_alg before jwt.h names it */
#include "dfw/jwt.h"
#include "dfw/permission.h"
#include "dfw/stream.h"

#define TID "7f0e3c2a-0000-4000-8000-000000000001"

static struct dfw_claims decode(const char *payload)
{
    static const char hdr[] = "{\"typ\":\"JWT\",\"alg\":\"RS256\"}";
    char *h = dfw_base64url_encode((const unsigned char *)hdr, strlen(hdr));
    char *p = dfw_base64url_encode((const unsigned char *)payload, strlen(payload));
    assert_non_null(h);
    assert_non_null(p);
    char jwt[4096];
    snprintf(jwt, sizeof(jwt), "%s.%s.c2ln", h, p);
    free(h);
    free(p);
    struct dfw_claims c;
    char err[256] = "";
    if (dfw_jwt_decode_claims(jwt, &c, err, sizeof(err)) != DFW_OK) {
        fail_msg("decode: %s", err);
    }
    return c;
}

static void test_scp_decoded(void **state)
{
    (void)state;
    struct dfw_claims c = decode("{\"tid\":\"" TID "\",\"scp\":\" Alert.Read  Incident.Read "
                                 "\",\"upn\":\"admin@contoso.onmicrosoft.com\"}");
    assert_int_equal(c.has_scp, 1);
    assert_int_equal(c.nscopes, 2);
    assert_string_equal(c.scopes[0], "Alert.Read");
    assert_string_equal(c.scopes[1], "Incident.Read");
    assert_string_equal(c.upn, "admin@contoso.onmicrosoft.com");
    assert_true(dfw_claims_has_scope(&c, "Incident.Read"));
    assert_false(dfw_claims_has_scope(&c, "Incident"));
    assert_int_equal(dfw_claims_kind(&c), DFW_KIND_DELEGATED);
    dfw_claims_clear(&c);
    /* an empty scp is still a delegated token, with no permission */
    c = decode("{\"scp\":\"\",\"unique_name\":\"live.com#x@y\"}");
    assert_int_equal(dfw_claims_kind(&c), DFW_KIND_DELEGATED);
    assert_int_equal(c.nscopes, 0);
    assert_string_equal(c.upn, "live.com#x@y");
    dfw_claims_clear(&c);
    /* scp must be a string */
    static const char hdr[] = "e30";
    char *p = dfw_base64url_encode((const unsigned char *)"{\"scp\":[\"a\"]}", 13);
    char jwt[256];
    snprintf(jwt, sizeof(jwt), "%s.%s.c2ln", hdr, p);
    free(p);
    char err[128] = "";
    assert_int_equal(dfw_jwt_decode_claims(jwt, &c, err, sizeof(err)), DFW_ERR_INVALID);
    assert_non_null(strstr(err, "scp"));
}

static void test_kind_and_permission(void **state)
{
    (void)state;
    const struct dfw_stream_def *mde = dfw_stream_find("mde-alerts");
    const struct dfw_stream_def *inc = dfw_stream_find("m365d-incidents");
    const struct dfw_stream_def *gra = dfw_stream_find("graph-alerts");
    assert_non_null(mde);
    /* application token: roles decide, scp-like names in roles do not count */
    struct dfw_claims app = decode("{\"roles\":[\"Alert.Read.All\",\"Incident.Read\"]}");
    assert_int_equal(dfw_claims_kind(&app), DFW_KIND_APPLICATION);
    assert_string_equal(dfw_token_kind_name(dfw_claims_kind(&app)), "application");
    assert_null(dfw_claims_missing_permission(&app, mde->role, mde->role_alt, mde->scopes));
    assert_string_equal(dfw_claims_missing_permission(&app, inc->role, inc->role_alt, inc->scopes),
                        "Incident.Read.All");
    dfw_claims_clear(&app);
    /* the higher application permission is enough */
    app = decode("{\"roles\":[\"SecurityAlert.ReadWrite.All\"]}");
    assert_null(dfw_claims_missing_permission(&app, gra->role, gra->role_alt, gra->scopes));
    dfw_claims_clear(&app);
    /* delegated token: scp decides; an application permission name in roles is ignored */
    struct dfw_claims del = decode(
        "{\"scp\":\"Incident.Read Alert.ReadWrite\",\"roles\":[\"SecurityAlert.Read.All\"]}");
    assert_string_equal(dfw_token_kind_name(dfw_claims_kind(&del)), "delegated");
    assert_null(dfw_claims_missing_permission(&del, inc->role, inc->role_alt, inc->scopes));
    assert_null(dfw_claims_missing_permission(&del, mde->role, mde->role_alt, mde->scopes));
    assert_string_equal(dfw_claims_missing_permission(&del, gra->role, gra->role_alt, gra->scopes),
                        "SecurityAlert.Read.All");
    dfw_claims_clear(&del);
    /* a delegated token never satisfies a stream through the application name */
    del = decode("{\"scp\":\"Alert.Read.All\"}");
    assert_string_equal(dfw_claims_missing_permission(&del, mde->role, mde->role_alt, mde->scopes),
                        "Alert.Read");
    dfw_claims_clear(&del);
    /* no claims at all: an application token without the role */
    assert_string_equal(dfw_claims_missing_permission(NULL, mde->role, NULL, NULL),
                        "Alert.Read.All");
}

static void test_every_stream_has_delegated_scopes(void **state)
{
    (void)state;
    for (size_t i = 0; dfw_streams[i] != NULL; i++) {
        assert_non_null(dfw_streams[i]->scopes[0]);
        assert_non_null(dfw_streams[i]->scopes[1]);
    }
}

/* graph-incidents needs SecurityIncident.Read.All, and with $expand=alerts SecurityAlert.Read.All
 * too; an incident permission alone reads it only with expand_alerts = no. */
static void test_graph_incidents_needs_both(void **state)
{
    (void)state;
    const struct dfw_stream_def *d = dfw_stream_find("graph-incidents");
    assert_non_null(d);
    struct dfw_claims c = decode("{\"roles\":[\"SecurityAlert.Read.All\"]}");
    assert_string_equal(dfw_stream_missing_permission(d, 1, &c), "SecurityIncident.Read.All");
    assert_string_equal(dfw_stream_missing_permission(d, 0, &c), "SecurityIncident.Read.All");
    dfw_claims_clear(&c);
    c = decode("{\"roles\":[\"SecurityIncident.Read.All\"]}");
    assert_string_equal(dfw_stream_missing_permission(d, 1, &c), "SecurityAlert.Read.All");
    assert_null(dfw_stream_missing_permission(d, 0, &c));
    dfw_claims_clear(&c);
    c = decode("{\"roles\":[\"SecurityIncident.ReadWrite.All\",\"SecurityAlert.Read.All\"]}");
    assert_null(dfw_stream_missing_permission(d, 1, &c));
    dfw_claims_clear(&c);
    /* delegated: the scopes have the same names on Graph */
    c = decode("{\"scp\":\"SecurityIncident.Read.All\"}");
    assert_string_equal(dfw_stream_missing_permission(d, 1, &c), "SecurityAlert.Read.All");
    assert_null(dfw_stream_missing_permission(d, 0, &c));
    dfw_claims_clear(&c);
    /* a stream without an expansion permission is judged by its own */
    c = decode("{\"roles\":[\"Alert.Read.All\"]}");
    assert_null(dfw_stream_missing_permission(dfw_stream_find("mde-alerts"), 1, &c));
    dfw_claims_clear(&c);
}

static void test_tenant_check(void **state)
{
    (void)state;
    char err[256] = "";
    struct dfw_claims c = decode("{\"tid\":\"" TID "\"}");
    assert_int_equal(dfw_claims_check_tenant(&c, TID, err, sizeof(err)), DFW_OK);
    assert_int_equal(
        dfw_claims_check_tenant(&c, "7F0E3C2A-0000-4000-8000-000000000001", err, sizeof(err)),
        DFW_OK);
    /* a domain cannot be compared with a tid */
    assert_int_equal(dfw_claims_check_tenant(&c, "contoso.onmicrosoft.com", err, sizeof(err)),
                     DFW_OK);
    assert_int_equal(
        dfw_claims_check_tenant(&c, "00000000-1111-4222-8333-444444444444", err, sizeof(err)),
        DFW_ERR_AUTH);
    assert_string_equal(err, "the token was issued by tenant " TID
                             ", not by tenant_id 00000000-1111-4222-8333-444444444444");
    dfw_claims_clear(&c);
    /* a tid that is no GUID is not echoed */
    c = decode("{\"tid\":\"x\\\"y\"}");
    assert_int_equal(dfw_claims_check_tenant(&c, TID, err, sizeof(err)), DFW_ERR_AUTH);
    assert_null(strchr(err, '"'));
    dfw_claims_clear(&c);
    assert_true(dfw_is_guid(TID));
    assert_false(dfw_is_guid("7f0e3c2a-0000-4000-8000-00000000000"));
    assert_false(dfw_is_guid("7f0e3c2a-0000-4000-8000-0000000000011"));
    assert_false(dfw_is_guid("7f0e3c2a00000-4000-8000-000000000001"));
    assert_false(dfw_is_guid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scp_decoded),
        cmocka_unit_test(test_kind_and_permission),
        cmocka_unit_test(test_every_stream_has_delegated_scopes),
        cmocka_unit_test(test_graph_incidents_needs_both),
        cmocka_unit_test(test_tenant_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
