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

#include <json-c/json.h>

#include "dfw/cef.h"

static const char *const streams[] = {"mde-alerts", "m365d-incidents", "graph-alerts",
                                      "graph-incidents", "other"};
static const char *const name_keys[] = {"title", "incidentName", "title", "displayName", "title"};
static const char *const name_defaults[] = {
    "Microsoft Defender alert", "Microsoft Defender XDR incident", "Microsoft Graph alert",
    "Microsoft Graph incident", "Microsoft Defender event"};

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

static void add_str(struct json_object *o, const char *key, const char *v, size_t n)
{
    json_object_object_add(o, key, json_object_new_string_len(v, (int)n));
}

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
    unsigned si = fuzz_byte(&in) % 5, opt = fuzz_byte(&in), lim = fuzz_byte(&in);
    size_t max_len = (opt & 4) ? 64 + lim * 8 : 0;
    size_t tn, idn, nn, fnn, sevn, sign;
    char *tenant = fuzz_field(&in, &tn);
    char *id = fuzz_field(&in, &idn);
    char *name = fuzz_field(&in, &nn);
    char *sev = fuzz_field(&in, &sevn);
    char *sig = fuzz_field(&in, &sign);
    char *fname = fuzz_field(&in, &fnn);
    struct json_object *rec;
    int structured = !(opt & 2);
    if (structured) {
        rec = json_object_new_object();
        add_str(rec, name_keys[si], name, nn);
        add_str(rec, "severity", sev, sevn);
        add_str(rec, "detectorId", sig, sign);
        struct json_object *e = json_object_new_object();
        add_str(e, "entityType", "File", 4);
        add_str(e, "fileName", fname, fnn);
        struct json_object *evidence = json_object_new_array();
        json_object_array_add(evidence, e);
        json_object_object_add(rec, "evidence", evidence);
    }
    else {
        /* the rest of the input as a record, any shape */
        char *rest = fuzz_cstr(in.p, in.n);
        rec = json_tokener_parse(rest);
        free(rest);
    }
    struct dfw_event ev = {
        .tenant = tenant,
        .tenant_id = "a839b112-1253-6432-9bf6-94542403f21c",
        .stream = streams[si],
        .kind = (opt & 1) ? DFW_EVENT_UPDATE : DFW_EVENT_NEW,
        .id = id,
        .updated = "2024-03-01T10:00:00.123Z",
        .updated_ms = 1709287200123LL,
        .record = rec,
    };
    struct dfw_buf out = DFW_BUF_INIT;
    dfw_err rc = dfw_cef_format(&ev, max_len, &out);
    FUZZ_CHECK(rc == DFW_OK || (rc == DFW_ERR_INVALID && max_len > 0), "rc %d", rc);
    if (rc != DFW_OK) {
        FUZZ_CHECK(out.len == 0, "output left on failure");
        goto done;
    }
    FUZZ_CHECK(max_len == 0 || out.len <= max_len, "%zu bytes > max_len %zu", out.len, max_len);
    struct cef_line c;
    cef_parse(out.data, out.len, &c);
    const char *product, *version;
    dfw_cef_product(streams[si], &product, &version);
    FUZZ_CHECK(strcmp(c.hdr[0], "CEF:0") == 0 && strcmp(c.hdr[1], "Microsoft") == 0 &&
                   strcmp(c.hdr[2], product) == 0 && strcmp(c.hdr[3], version) == 0,
               "header starts '%s|%s|%s|%s'", c.hdr[0], c.hdr[1], c.hdr[2], c.hdr[3]);
    FUZZ_CHECK(c.hdr_esc_len[4] <= DFW_CEF_SIGID_MAX && c.hdr_esc_len[5] <= DFW_CEF_NAME_MAX,
               "signature id %zu / name %zu escaped bytes", c.hdr_esc_len[4], c.hdr_esc_len[5]);
    char sevtext[8];
    snprintf(sevtext, sizeof(sevtext), "%d", dfw_cef_severity(dfw_cef_api_severity(&ev)));
    FUZZ_CHECK(strcmp(c.hdr[6], sevtext) == 0, "severity %s, expected %s", c.hdr[6], sevtext);
    for (size_t k = 0; k < c.nkeys; k++) {
        int known = 0;
        for (size_t j = 0; j < sizeof(known_keys) / sizeof(known_keys[0]); j++) {
            known |= strcmp(c.key[k], known_keys[j]) == 0;
        }
        FUZZ_CHECK(known, "unknown extension key %s", c.key[k]);
    }
    int truncated = cef_get(&c, "cn3Label", NULL) != NULL;
    FUZZ_CHECK(!truncated || max_len > 0, "truncation marker without a limit");
    if (structured) {
        size_t wlen;
        char *want = nn > 0 ? cef_expect(name, nn, 0, &wlen)
                            : cef_dup(name_defaults[si], strlen(name_defaults[si]));
        if (nn == 0) {
            wlen = strlen(want);
        }
        FUZZ_CHECK(cef_same(c.hdr[5], strlen(c.hdr[5]), want, wlen, 1), "name '%s', expected '%s'",
                   c.hdr[5], want);
        FUZZ_CHECK(strlen(c.hdr[5]) == wlen || c.hdr_esc_len[5] + 4 > DFW_CEF_NAME_MAX ||
                       max_len > 0,
                   "name cut without reason");
        free(want);
        if (si == 0) {
            check_value(&c, "fname", fname, fnn, truncated);
        }
    }
    /* ev->id and ev->tenant are C strings: the encoder sees them up to their first NUL */
    if (structured || id[0] != '\0') { /* else the record's own "id" is used */
        check_value(&c, "externalId", id, strlen(id), truncated);
    }
    check_value(&c, "cs2", tenant, strlen(tenant), truncated);
    cef_free(&c);
done:
    dfw_buf_free(&out);
    json_object_put(rec);
    free(tenant);
    free(id);
    free(name);
    free(sev);
    free(sig);
    free(fname);
    return 0;
}
