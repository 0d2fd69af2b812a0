/* The private_key_jwt client assertion for certificate credentials (RFC 7523; Microsoft identity
 * platform "certificate credentials", defender-api.md §1.3). */
#include "dfw/config.h" /* before jwt.h: defines enum dfw_assertion_alg */
#include "dfw/jwt.h"
#include "auth_internal.h" /* dfw__set_err */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* Lifetime of an assertion; Microsoft asks for 5 to 10 minutes. */
#define ASSERTION_LIFETIME_S 600

/* A passphrase callback that refuses: an encrypted key must fail, never prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static X509 *read_cert(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL) {
        return NULL;
    }
    X509 *cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    return cert;
}

static EVP_PKEY *read_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    if (bio == NULL) {
        return NULL;
    }
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    return key;
}

/* base64url of the certificate's DER digest: x5t (SHA-1) or x5t#S256 (SHA-256). */
static char *thumbprint(X509 *cert, const EVP_MD *md)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert, md, digest, &n) != 1) {
        return NULL;
    }
    return dfw_base64url_encode(digest, n);
}

/* Random (version 4) UUID, lower-case, 36 characters. */
static int uuid4(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        return -1;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

/* base64url of a JSON object's compact text (slashes unescaped, as every JOSE library writes). */
static char *json_segment(json_object *obj)
{
    const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s == NULL) {
        return NULL;
    }
    return dfw_base64url_encode((const unsigned char *)s, strlen(s));
}

static int add_string(json_object *obj, const char *key, const char *value)
{
    json_object *v = json_object_new_string(value);
    if (v == NULL || json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static int add_int(json_object *obj, const char *key, int64_t value)
{
    json_object *v = json_object_new_int64(value);
    if (v == NULL || json_object_object_add(obj, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

static char *header_segment(X509 *cert, int alg)
{
    char *s256 = thumbprint(cert, EVP_sha256());
    char *s1 = alg == DFW_ALG_RS256 ? thumbprint(cert, EVP_sha1()) : NULL;
    json_object *h = json_object_new_object();
    char *seg = NULL;
    if (s256 != NULL && (alg != DFW_ALG_RS256 || s1 != NULL) && h != NULL &&
        add_string(h, "alg", alg == DFW_ALG_PS256 ? "PS256" : "RS256") == 0 &&
        add_string(h, "typ", "JWT") == 0 && add_string(h, "x5t#S256", s256) == 0 &&
        (s1 == NULL || add_string(h, "x5t", s1) == 0)) {
        seg = json_segment(h);
    }
    json_object_put(h);
    free(s256);
    free(s1);
    return seg;
}

static char *claims_segment(const char *client_id, const char *token_url, int64_t now_s)
{
    char jti[37];
    if (uuid4(jti) != 0) {
        return NULL;
    }
    json_object *c = json_object_new_object();
    char *seg = NULL;
    if (c != NULL && add_string(c, "aud", token_url) == 0 && add_string(c, "iss", client_id) == 0 &&
        add_string(c, "sub", client_id) == 0 && add_string(c, "jti", jti) == 0 &&
        add_int(c, "nbf", now_s) == 0 && add_int(c, "iat", now_s) == 0 &&
        add_int(c, "exp", now_s + ASSERTION_LIFETIME_S) == 0) {
        seg = json_segment(c);
    }
    json_object_put(c);
    return seg;
}

/* RSASSA-PSS (salt length = digest length, MGF1 SHA-256) or PKCS#1 v1.5, both over SHA-256. */
static char *sign_segment(EVP_PKEY *key, int alg, const char *input)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    char *seg = NULL;
    if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1) {
        goto out;
    }
    if (alg == DFW_ALG_PS256) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1) {
            goto out;
        }
    }
    else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
        goto out;
    }
    if (EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        goto out;
    }
    sig = malloc(siglen);
    if (sig == NULL ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        goto out;
    }
    seg = dfw_base64url_encode(sig, siglen);
out:
    free(sig);
    EVP_MD_CTX_free(ctx);
    return seg;
}

dfw_err dfw_client_assertion(const char *client_id,
                             const char *token_url,
                             const char *cert_pem,
                             const char *key_pem,
                             int alg,
                             int64_t now_s,
                             char **out,
                             char *errbuf,
                             size_t errlen)
{
    *out = NULL;
    if (client_id == NULL || token_url == NULL || cert_pem == NULL || key_pem == NULL) {
        dfw__set_err(errbuf, errlen,
                     "client assertion: missing client id, token URL, certificate or key");
        return DFW_ERR_INVALID;
    }
    if (alg != DFW_ALG_PS256 && alg != DFW_ALG_RS256) {
        dfw__set_err(errbuf, errlen, "client assertion: unknown algorithm %d", alg);
        return DFW_ERR_INVALID;
    }
    X509 *cert = read_cert(cert_pem);
    EVP_PKEY *key = NULL;
    char *header = NULL;
    char *claims = NULL;
    char *sig = NULL;
    char *input = NULL;
    dfw_err rc = DFW_ERR_INVALID;
    if (cert == NULL) {
        dfw__set_err(errbuf, errlen, "certificate is not a PEM X.509 certificate");
        goto out;
    }
    key = read_key(key_pem);
    if (key == NULL) {
        dfw__set_err(errbuf, errlen, "private key is not an unencrypted PEM private key");
        goto out;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        dfw__set_err(errbuf, errlen, "private key is not an RSA key (PS256 and RS256 need RSA)");
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        dfw__set_err(errbuf, errlen, "private key does not match the certificate");
        goto out;
    }
    rc = DFW_ERR_NOMEM;
    header = header_segment(cert, alg);
    claims = claims_segment(client_id, token_url, now_s);
    if (header == NULL || claims == NULL) {
        dfw__set_err(errbuf, errlen, "client assertion: cannot build the JWT header and claims");
        goto out;
    }
    size_t inlen = strlen(header) + 1 + strlen(claims);
    input = malloc(inlen + 1);
    if (input == NULL) {
        dfw__set_err(errbuf, errlen, "out of memory");
        goto out;
    }
    snprintf(input, inlen + 1, "%s.%s", header, claims);
    sig = sign_segment(key, alg, input);
    if (sig == NULL) {
        rc = DFW_ERR_INVALID;
        dfw__set_err(errbuf, errlen, "client assertion: signing with the private key failed");
        goto out;
    }
    size_t total = inlen + 1 + strlen(sig);
    *out = malloc(total + 1);
    if (*out == NULL) {
        dfw__set_err(errbuf, errlen, "out of memory");
        goto out;
    }
    snprintf(*out, total + 1, "%s.%s", input, sig);
    rc = DFW_OK;
out:
    if (rc != DFW_OK) {
        ERR_clear_error(); /* leave no stale entries for the next TLS handshake on this thread */
    }
    free(header);
    free(claims);
    free(input);
    free(sig);
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}
