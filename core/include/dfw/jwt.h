/* JWT claims decoding (no signature check: the token is ours, the API validates it) and the
 * certificate client assertion. Sources: RFC 7519; defender-api.md §1.3, §1.7. */
#ifndef DFW_JWT_H
#define DFW_JWT_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

/* Claims of an Entra ID access token that the forwarder uses. Strings are owned (malloc'd).
 * An application (app-only) token carries roles; a delegated token (a user signed in, as in the
 * MSSP authorization-code flow) carries scp instead (Microsoft "access token claims reference";
 * defender-api.md §1.7). */
struct dfw_claims {
    char *tid; /* tenant id */
    char *aud; /* audience (resource) */
    char *iss;
    char *appid;  /* appid (v1) or azp (v2) */
    char *ver;    /* "1.0" or "2.0" */
    char *upn;    /* delegated tokens: the signed-in user (upn, else unique_name); NULL otherwise */
    char **roles; /* application permissions, e.g. "Alert.Read.All" */
    size_t nroles;
    char **scopes; /* delegated permissions: the space-separated scp claim, e.g. "Alert.Read" */
    size_t nscopes;
    int has_scp; /* 1 when the token has an scp claim (even an empty one): a delegated token */
    int64_t exp; /* seconds since epoch; 0 when absent */
    int64_t nbf;
    int64_t iat;
};

/* Decode the payload of a compact JWT (header.payload.signature, base64url). Fills *out (clear it
 * with dfw_claims_clear). DFW_ERR_INVALID with a reason in errbuf for malformed input; the token
 * itself is never copied into errbuf. */
dfw_err dfw_jwt_decode_claims(const char *jwt, struct dfw_claims *out, char *errbuf, size_t errlen);

/* Free the strings of claims and zero it. */
void dfw_claims_clear(struct dfw_claims *claims);

/* 1 when roles contains role (exact, case-sensitive), else 0. */
int dfw_claims_has_role(const struct dfw_claims *claims, const char *role);

/* 1 when scp contains scope (exact, case-sensitive), else 0. */
int dfw_claims_has_scope(const struct dfw_claims *claims, const char *scope);

/* base64url without padding. Returns a malloc'd string or NULL on ENOMEM. */
char *dfw_base64url_encode(const unsigned char *data, size_t len);

/* Decode base64url (padding optional). *out is malloc'd (NUL-terminated for convenience).
 * DFW_ERR_INVALID on bad characters. */
dfw_err dfw_base64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);

/* Build a signed private_key_jwt client assertion (RFC 7523; Microsoft "certificate credentials"):
 * header {alg, typ:"JWT", x5t#S256 (and x5t for RS256)} from cert_pem's DER, claims aud=token_url,
 * iss=sub=client_id, jti=random UUID, nbf=iat=now_s, exp=now_s+600; signed with key_pem (PS256 =
 * RSA-PSS SHA-256, RS256 = PKCS#1 v1.5 SHA-256; alg is an enum dfw_assertion_alg value from
 * config.h) using OpenSSL. Returns DFW_OK and a malloc'd
 * assertion in *out, or DFW_ERR_INVALID (unreadable PEM, key/cert mismatch) with errbuf set. */
dfw_err dfw_client_assertion(const char *client_id,
                             const char *token_url,
                             const char *cert_pem,
                             const char *key_pem,
                             int alg,
                             int64_t now_s,
                             char **out,
                             char *errbuf,
                             size_t errlen);

#endif
