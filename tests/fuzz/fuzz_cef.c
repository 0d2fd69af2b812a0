/* The CEF encoder (dfw_cef_format) on records with hostile text in every field ('|', '=', '\\',
 * CR, LF, NUL, ANSI escapes, invalid UTF-8, 64 KiB values), built field by field or parsed from
 * the input as any JSON json-c reads, with and without a size limit.
 * Invariants (cef_check.h): one line, no control character, valid UTF-8; a header of exactly
 * seven fields with only \\ and \| escapes: CEF:0, Microsoft, the stream's product and version,
 * a signature id of at most 100 and a name of at most 512 escaped bytes, the severity of the
 * record's severity; extension keys [A-Za-z0-9_]+ from the documented set, each once, '='
 * escaped inside values; name, externalId, cs2 (tenant) and fname unescape back to the input
 * with the documented replacements (cut only when a limit applies); the line fits max_len. */
#include "cef_check.h"
#include "fuzz_alert.h"

#include <json-c/json.h>

#include "dfw/cef.h"

static const char *const known_keys[] = {"rt",
                                         "externalId",
                                         "deviceSeverity",
                                         "cat",
                                         "sourceServiceName",
                                         "shost",
                                         "suser",
                                         "sntdom",
                                         "src",
                                         "fname",
                                         "filePath",
                                         "fileHash",
                                         "cs6",
                                         "cs6Label",
                                         "request",
                                         "start",
                                         "end",
                                         "deviceCustomDate1",
                                         "cs1",
                                         "cs1Label",
                                         "cs4",
                                         "cs4Label",
                                         "cs2",
                                         "cs2Label",
                                         "cs3",
                                         "cs3Label",
                                         "cs5",
                                         "cs5Label",
                                         "flexString1",
                                         "flexString1Label",
                                         "deviceCustomDate1Label",
                                         "cn3Label",
                                         "cn3"};

/* Check the value of key against the input text (n bytes). */
static void
check_value(const struct cef_line *c, const char *key, const char *in, size_t n, int cut_ok)
{
    size_t glen, wlen;
    const char *got = cef_get(c, key, &glen);
    char *want = cef_expect(in, n, 1, &wlen);
    if (got != NULL) {
        FUZZ_CHECK(cef_same(got, glen, want, wlen, cut_ok), "%s is '%s', expected '%s'", key, got,
                   want);
    }
    else {
        FUZZ_CHECK(cut_ok || wlen == 0, "%s missing", key);
    }
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct fuzz_alert a;
    fuzz_alert_read(&in, &a);
    struct dfw_buf out = DFW_BUF_INIT;
    dfw_err rc = dfw_cef_format(&a.ev, a.max_len, &out);
    FUZZ_CHECK(rc == DFW_OK || (rc == DFW_ERR_INVALID && a.max_len > 0), "rc %d", rc);
    if (rc != DFW_OK) {
        FUZZ_CHECK(out.len == 0, "output left on failure");
        goto done;
    }
    FUZZ_CHECK(a.max_len == 0 || out.len <= a.max_len, "%zu bytes > max_len %zu", out.len,
               a.max_len);
    struct cef_line c;
    cef_parse(out.data, out.len, &c);
    const char *product, *version;
    dfw_cef_product(fuzz_streams[a.si], &product, &version);
    FUZZ_CHECK(strcmp(c.hdr[0], "CEF:0") == 0 && strcmp(c.hdr[1], "Microsoft") == 0 &&
                   strcmp(c.hdr[2], product) == 0 && strcmp(c.hdr[3], version) == 0,
               "header starts '%s|%s|%s|%s'", c.hdr[0], c.hdr[1], c.hdr[2], c.hdr[3]);
    FUZZ_CHECK(c.hdr_esc_len[4] <= DFW_CEF_SIGID_MAX && c.hdr_esc_len[5] <= DFW_CEF_NAME_MAX,
               "signature id %zu / name %zu escaped bytes", c.hdr_esc_len[4], c.hdr_esc_len[5]);
    char sevtext[8];
    snprintf(sevtext, sizeof(sevtext), "%d", dfw_cef_severity(dfw_cef_api_severity(&a.ev)));
    FUZZ_CHECK(strcmp(c.hdr[6], sevtext) == 0, "severity %s, expected %s", c.hdr[6], sevtext);
    for (size_t k = 0; k < c.nkeys; k++) {
        int known = 0;
        for (size_t j = 0; j < sizeof(known_keys) / sizeof(known_keys[0]); j++) {
            known |= strcmp(c.key[k], known_keys[j]) == 0;
        }
        FUZZ_CHECK(known, "unknown extension key %s", c.key[k]);
    }
    int truncated = cef_get(&c, "cn3Label", NULL) != NULL;
    FUZZ_CHECK(!truncated || a.max_len > 0, "truncation marker without a limit");
    if (a.structured) {
        size_t wlen;
        char *want = a.nn > 0 ? cef_expect(a.name, a.nn, 0, &wlen)
                              : cef_dup(fuzz_name_defaults[a.si], strlen(fuzz_name_defaults[a.si]));
        if (a.nn == 0) {
            wlen = strlen(want);
        }
        FUZZ_CHECK(cef_same(c.hdr[5], strlen(c.hdr[5]), want, wlen, 1), "name '%s', expected '%s'",
                   c.hdr[5], want);
        FUZZ_CHECK(strlen(c.hdr[5]) == wlen || c.hdr_esc_len[5] + 4 > DFW_CEF_NAME_MAX ||
                       a.max_len > 0,
                   "name cut without reason");
        free(want);
        if (a.si == 0) {
            check_value(&c, "fname", a.fname, a.fnn, truncated);
        }
    }
    /* ev->id and ev->tenant are C strings: the encoder sees them up to their first NUL */
    if (a.structured || a.id[0] != '\0') { /* else the record's own "id" is used */
        check_value(&c, "externalId", a.id, strlen(a.id), truncated);
    }
    check_value(&c, "cs2", a.tenant, strlen(a.tenant), truncated);
    cef_free(&c);
done:
    dfw_buf_free(&out);
    fuzz_alert_free(&a);
    return 0;
}
