/* Token kind, per-stream permission and tenant checks over decoded claims. An application token
 * is judged by roles only and a delegated one by scp only: Entra ID puts application permissions in
 * roles and delegated permissions in scp, and a permission of the other kind grants nothing. */
#include "dfw/permission.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>

enum dfw_token_kind dfw_claims_kind(const struct dfw_claims *claims)
{
    return claims != NULL && claims->has_scp ? DFW_KIND_DELEGATED : DFW_KIND_APPLICATION;
}

const char *dfw_token_kind_name(enum dfw_token_kind kind)
{
    return kind == DFW_KIND_DELEGATED ? "delegated" : "application";
}

const char *dfw_claims_missing_permission(const struct dfw_claims *claims,
                                          const char *role,
                                          const char *role_alt,
                                          const char *const scopes[2])
{
    if (dfw_claims_kind(claims) == DFW_KIND_DELEGATED) {
        const char *least = scopes != NULL ? scopes[0] : NULL;
        const char *higher = scopes != NULL ? scopes[1] : NULL;
        if ((least != NULL && dfw_claims_has_scope(claims, least)) ||
            (higher != NULL && dfw_claims_has_scope(claims, higher))) {
            return NULL;
        }
        /* a stream with no delegated permission cannot be read with a delegated token */
        return least != NULL ? least : role;
    }
    if (dfw_claims_has_role(claims, role) ||
        (role_alt != NULL && dfw_claims_has_role(claims, role_alt))) {
        return NULL;
    }
    return role;
}

int dfw_is_guid(const char *s)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    if (s == NULL) {
        return 0;
    }
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (int i = 0; i < groups[g]; i++, s++) {
            if (!isxdigit((unsigned char)*s)) {
                return 0;
            }
        }
        if (g + 1 < sizeof(groups) / sizeof(groups[0]) && *s++ != '-') {
            return 0;
        }
    }
    return *s == '\0';
}

dfw_err dfw_claims_check_tenant(const struct dfw_claims *claims,
                                const char *tenant_id,
                                char *errbuf,
                                size_t errlen)
{
    if (claims == NULL || claims->tid == NULL || !dfw_is_guid(tenant_id) ||
        strcasecmp(claims->tid, tenant_id) == 0) {
        return DFW_OK;
    }
    /* the tid came from the token endpoint; print it only when it looks like a GUID */
    return dfw_errorf(DFW_ERR_AUTH, errbuf, errlen,
                      "the token was issued by tenant %s, not by tenant_id %s",
                      dfw_is_guid(claims->tid) ? claims->tid : "(not a GUID)", tenant_id);
}
