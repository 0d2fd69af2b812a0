/* The LEEF 2.0 encoder (dfw_leef_format) on records with hostile text in every field ('|', '=',
 * '^', '\\', TAB, CR, LF, NUL, ANSI escapes, invalid UTF-8, 64 KiB values), built field by field
 * or parsed from the input as any JSON json-c reads, with and without a size limit.
 * Invariants (docs/leef-mapping.md §1, §2, §5, §6): one line, valid UTF-8, no control character
 * but the TAB delimiters; a header of exactly six fields, LEEF:2.0, Microsoft, the stream's
 * product and version, an Event ID of at most 100 bytes and the delimiter x09; then TAB-separated
 * key=value attributes, keys [A-Za-z0-9_]+ from the documented set, each once; title, externalId,
 * tenant and resource read back as the input with the documented replacements (cut only when a
 * limit applies and truncated=1 says so); the line fits max_len. */
#include "fuzz_alert.h"

#include <json-c/json.h>

#include "dfw/cef.h"
#include "dfw/leef.h"
#include "dfw/utf8.h"

static const char *const known_keys[] = {
    "devTime",   "devTimeFormat",   "cat",           "sev",        "externalId", "title",
    "severity",  "detectionSource", "identHostName", "usrName",    "domain",     "src",
    "dst",       "resource",        "filePath",      "sha1",       "sha256",     "url",
    "startTime", "endTime",         "createdTime",   "threatName", "actor",      "tenant",
    "tenantId",  "eventKind",       "link",          "truncated"};

#define MAX_ATTRS 64

struct leef_line {
    char *hdr[6];
    size_t nattrs;
    char *key[MAX_ATTRS];
    char *val[MAX_ATTRS];
};

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL) {
        abort();
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void parse(const char *line, size_t len, struct leef_line *l)
{
    memset(l, 0, sizeof(*l));
    FUZZ_CHECK(dfw_utf8_valid(line, len), "LEEF line is not valid UTF-8");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f), "control byte 0x%02x", c);
    }
    size_t i = 0;
    for (int f = 0; f < 6; f++) {
        const char *bar = memchr(line + i, '|', len - i);
        FUZZ_CHECK(bar != NULL, "header has %d of 6 fields", f);
        l->hdr[f] = dup_n(line + i, (size_t)(bar - (line + i)));
        FUZZ_CHECK(strchr(l->hdr[f], '\t') == NULL, "TAB in header field %d", f);
        i = (size_t)(bar - line) + 1;
    }
    while (i < len) {
        const char *tab = memchr(line + i, '\t', len - i);
        size_t end = tab ? (size_t)(tab - line) : len;
        const char *eq = memchr(line + i, '=', end - i);
        FUZZ_CHECK(eq != NULL && eq > line + i, "attribute without key=: '%.40s'", line + i);
        FUZZ_CHECK(l->nattrs < MAX_ATTRS, "too many attributes");
        l->key[l->nattrs] = dup_n(line + i, (size_t)(eq - (line + i)));
        l->val[l->nattrs] = dup_n(eq + 1, end - (size_t)(eq + 1 - line));
        for (const char *k = l->key[l->nattrs]; *k; k++) {
            FUZZ_CHECK((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') ||
                           (*k >= '0' && *k <= '9') || *k == '_',
                       "key %s", l->key[l->nattrs]);
        }
        for (size_t k = 0; k < l->nattrs; k++) {
            FUZZ_CHECK(strcmp(l->key[k], l->key[l->nattrs]) != 0, "key %s twice", l->key[k]);
        }
        l->nattrs++;
        i = end + (tab != NULL);
        FUZZ_CHECK(tab == NULL || i < len, "TAB at the end of the line");
    }
}

static void free_line(struct leef_line *l)
{
    for (int f = 0; f < 6; f++) {
        free(l->hdr[f]);
    }
    for (size_t k = 0; k < l->nattrs; k++) {
        free(l->key[k]);
        free(l->val[k]);
    }
}

static const char *get(const struct leef_line *l, const char *key)
{
    for (size_t k = 0; k < l->nattrs; k++) {
        if (strcmp(l->key[k], key) == 0) {
            return l->val[k];
        }
    }
    return NULL;
}

/* What the encoder makes of s (n bytes) in the header (ext 0) or an attribute value (ext 1). */
static char *expect(const char *s, size_t n, int ext)
{
    char *d = malloc(n + 1);
    size_t k = 0, i = 0;
    if (d == NULL) {
        abort();
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t u = dfw_utf8_char_len(s + i, n - i);
        if (u == 0) {
            d[k++] = '?';
            i++;
            continue;
        }
        int ctl = c < 0x20 || c == 0x7f || (u == 2 && c == 0xc2 && (unsigned char)s[i + 1] < 0xa0);
        if ((!ext && (ctl || c == '|')) || (ext && (c == '\t' || c == '\r' || c == '\n'))) {
            d[k++] = ' ';
        }
        else if (!ctl) {
            memcpy(d + k, s + i, u);
            k += u;
        }
        i += u;
    }
    d[k] = '\0';
    return d;
}

static void
check_value(const struct leef_line *l, const char *key, const char *in, size_t n, int cut_ok)
{
    const char *got = get(l, key);
    char *want = expect(in, n, 1);
    if (got == NULL) {
        FUZZ_CHECK(cut_ok || want[0] == '\0', "%s missing", key);
    }
    else {
        size_t g = strlen(got), w = strlen(want);
        FUZZ_CHECK(g <= w && memcmp(got, want, g) == 0 && (cut_ok || g == w),
                   "%s is '%s', expected '%s'", key, got, want);
    }
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    struct fuzz_alert a;
    fuzz_alert_read(&in, &a);
    struct dfw_buf out = DFW_BUF_INIT;
    dfw_err rc = dfw_leef_format(&a.ev, a.max_len, &out);
    FUZZ_CHECK(rc == DFW_OK || (rc == DFW_ERR_INVALID && a.max_len > 0), "rc %d", rc);
    if (rc == DFW_OK) {
        FUZZ_CHECK(a.max_len == 0 || out.len <= a.max_len, "%zu bytes > %zu", out.len, a.max_len);
        struct leef_line l;
        parse(out.data, out.len, &l);
        const char *product, *version;
        dfw_cef_product(fuzz_streams[a.si], &product, &version);
        FUZZ_CHECK(strcmp(l.hdr[0], "LEEF:2.0") == 0 && strcmp(l.hdr[1], DFW_LEEF_VENDOR) == 0 &&
                       strcmp(l.hdr[2], product) == 0 && strcmp(l.hdr[3], version) == 0 &&
                       strcmp(l.hdr[5], DFW_LEEF_DELIMITER) == 0,
                   "header %s|%s|%s|%s|..|%s", l.hdr[0], l.hdr[1], l.hdr[2], l.hdr[3], l.hdr[5]);
        FUZZ_CHECK(strlen(l.hdr[4]) <= DFW_LEEF_EVENTID_MAX, "Event ID of %zu bytes",
                   strlen(l.hdr[4]));
        for (size_t k = 0; k < l.nattrs; k++) {
            int known = 0;
            for (size_t j = 0; j < sizeof(known_keys) / sizeof(known_keys[0]); j++) {
                known |= strcmp(l.key[k], known_keys[j]) == 0;
            }
            FUZZ_CHECK(known, "unknown attribute %s", l.key[k]);
        }
        int truncated = get(&l, "truncated") != NULL;
        FUZZ_CHECK(!truncated || a.max_len > 0, "truncated without a limit");
        if (a.structured) {
            /* an empty title is the stream's default, as in the CEF Name */
            check_value(&l, "title", a.nn ? a.name : fuzz_name_defaults[a.si],
                        a.nn ? a.nn : strlen(fuzz_name_defaults[a.si]), truncated);
            if (a.sign > 0 && a.si != 1 && a.si != 3) {
                char *want = expect(a.sig, a.sign, 0);
                size_t g = strlen(l.hdr[4]);
                FUZZ_CHECK(g <= strlen(want) && memcmp(l.hdr[4], want, g) == 0,
                           "Event ID '%s', expected '%s'", l.hdr[4], want);
                free(want);
            }
            if (a.si == 0) {
                check_value(&l, "resource", a.fname, a.fnn, truncated);
            }
            check_value(&l, "externalId", a.id, strlen(a.id), truncated);
        }
        check_value(&l, "tenant", a.tenant, strlen(a.tenant), truncated);
        free_line(&l);
    }
    else {
        FUZZ_CHECK(out.len == 0, "output left on failure");
    }
    dfw_buf_free(&out);
    fuzz_alert_free(&a);
    return 0;
}
