/* JWT claims decoding (dfw_jwt_decode_claims) and base64url (dfw_base64url_encode/_decode), on
 * raw token text and on tokens built from a fuzzed header and payload.
 * Invariants: base64url encoding has only A-Z a-z 0-9 - _ and no padding, and decodes back to
 * the same bytes; a decoded segment is at most 3/4 of its text; claims taken from a payload are
 * the payload's strings (tid, roles); an error message names no part of the token (a token is a
 * bearer credential) and has no control characters. */
#include "fuzz.h"

#include <json-c/json.h>

#include "dfw/config.h"
#include "dfw/jwt.h"

static void check_b64(const uint8_t *data, size_t size)
{
    char *enc = dfw_base64url_encode(data, size);
    FUZZ_CHECK(enc != NULL, "encode failed");
    size_t n = strlen(enc);
    FUZZ_CHECK(n == (size * 4 + 2) / 3, "%zu bytes encode to %zu characters", size, n);
    for (size_t i = 0; i < n; i++) {
        char c = enc[i];
        FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_',
                   "character %c", c);
    }
    unsigned char *dec;
    size_t dlen;
    FUZZ_CHECK(dfw_base64url_decode(enc, n, &dec, &dlen) == DFW_OK && dlen == size &&
                   (size == 0 || memcmp(dec, data, size) == 0),
               "no round trip");
    free(dec);
    free(enc);
    /* the input itself as base64url text */
    if (dfw_base64url_decode((const char *)data, size, &dec, &dlen) == DFW_OK) {
        FUZZ_CHECK(dlen <= size / 4 * 3 + 2, "%zu characters decode to %zu bytes", size, dlen);
        free(dec);
    }
}

/* payload NULL: raw input text, whose pieces may be any text, so only built tokens (base64url
 * text) are searched for in the message. */
static void check_claims(const char *token, const struct json_object *payload, int built)
{
    struct dfw_claims c;
    memset(&c, 0, sizeof(c));
    char err[256] = "";
    dfw_err rc = dfw_jwt_decode_claims(token, &c, err, sizeof(err));
    if (rc != DFW_OK) {
        FUZZ_CHECK(fuzz_no_controls(err, strlen(err)), "control character in '%s'", err);
        /* no piece of the token of 16 characters in the message */
        size_t tl = built ? strlen(token) : 0;
        for (size_t i = 0; i + 16 <= tl; i += 8) {
            char piece[17];
            memcpy(piece, token + i, 16);
            piece[16] = '\0';
            FUZZ_CHECK(strstr(err, piece) == NULL, "token text in '%s'", err);
        }
        dfw_claims_clear(&c);
        return;
    }
    if (payload != NULL) {
        struct json_object *v;
        if (json_object_object_get_ex(payload, "tid", &v) &&
            json_object_is_type(v, json_type_string) && c.tid != NULL) {
            FUZZ_CHECK(strcmp(c.tid, json_object_get_string(v)) == 0, "tid %s", c.tid);
        }
        if (json_object_object_get_ex(payload, "roles", &v) &&
            json_object_is_type(v, json_type_array)) {
            FUZZ_CHECK(c.nroles <= json_object_array_length(v), "%zu roles", c.nroles);
            for (size_t i = 0; i < c.nroles; i++) {
                FUZZ_CHECK(dfw_claims_has_role(&c, c.roles[i]), "role %s", c.roles[i]);
            }
        }
    }
    dfw_claims_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_b64(data, size);
    char *text = fuzz_cstr(data, size);
    check_claims(text, NULL, 0);
    free(text);
    /* header 0xFF payload 0xFF signature: a token built around fuzzed JSON */
    struct fuzz_in in = {data, size};
    size_t hn, pn, sn;
    char *hdr = fuzz_field(&in, &hn), *pay = fuzz_field(&in, &pn), *sig = fuzz_field(&in, &sn);
    char *h64 = dfw_base64url_encode((const unsigned char *)hdr, hn);
    char *p64 = dfw_base64url_encode((const unsigned char *)pay, pn);
    char *s64 = dfw_base64url_encode((const unsigned char *)sig, sn);
    size_t tl = strlen(h64) + strlen(p64) + strlen(s64) + 3;
    char *token = malloc(tl);
    snprintf(token, tl, "%s.%s.%s", h64, p64, s64);
    struct json_object *payload = json_tokener_parse(pay);
    check_claims(token, payload, 1);
    json_object_put(payload);
    free(token);
    free(h64);
    free(p64);
    free(s64);
    free(hdr);
    free(pay);
    free(sig);
    return 0;
}
