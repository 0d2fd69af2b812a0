/* What an access token grants: its kind (application or delegated), whether it holds the permission
 * a stream needs, and whether it was issued by the configured tenant. Pure functions over decoded
 * claims (dfw/jwt.h); thread-safe. Sources: Microsoft identity platform "access token claims
 * reference" (roles for application permissions, scp for delegated ones), defender-api.md §1.7,
 * §2.2, §3.2, §5.1 (the permission names per API). */
#ifndef DFW_PERMISSION_H
#define DFW_PERMISSION_H

#include <stddef.h>
#include "dfw/err.h"
#include "dfw/jwt.h"

enum dfw_token_kind {
    DFW_KIND_APPLICATION = 0, /* app-only (client credentials): permissions in roles */
    DFW_KIND_DELEGATED = 1    /* a user signed in (authorization code, refresh token): in scp */
};

/* DFW_KIND_DELEGATED when the token has an scp claim, else DFW_KIND_APPLICATION. */
enum dfw_token_kind dfw_claims_kind(const struct dfw_claims *claims);

/* "application" or "delegated". Static storage. */
const char *dfw_token_kind_name(enum dfw_token_kind kind);

/* The permission a stream needs and that this token lacks, or NULL when it holds it.
 * An application token must list role or role_alt (the higher permission, may be NULL) in roles;
 * a delegated token must list scopes[0] or scopes[1] (may be NULL) in scp. The returned name is the
 * least permission of the token's kind (role or scopes[0]): one of the arguments, not a copy. */
const char *dfw_claims_missing_permission(const struct dfw_claims *claims,
                                          const char *role,
                                          const char *role_alt,
                                          const char *const scopes[2]);

/* Check the token's tid against the configured tenant_id. DFW_OK when they are the same GUID
 * (case-insensitive), when tenant_id is a domain name (a domain cannot be compared with a tid; the
 * caller may print the tid), or when the token has no tid. DFW_ERR_AUTH when both are GUIDs and
 * differ, with "the token was issued by tenant <tid>, not by tenant_id <configured>" in errbuf. */
dfw_err dfw_claims_check_tenant(const struct dfw_claims *claims,
                                const char *tenant_id,
                                char *errbuf,
                                size_t errlen);

/* 1 when s is a GUID (8-4-4-4-12 hex digits), else 0. */
int dfw_is_guid(const char *s);

#endif
