/* A strict reader of the CEF lines dfw_cef_format writes, for the CEF, syslog and Kafka targets:
 * it fails (FUZZ_CHECK) on anything the CEF specification or docs/cef-mapping.md does not allow,
 * and gives back the header fields and extension values unescaped. */
#ifndef DFW_FUZZ_CEF_CHECK_H
#define DFW_FUZZ_CEF_CHECK_H

#include "fuzz.h"

#include "dfw/utf8.h"

#define CEF_MAX_KEYS 64

struct cef_line {
    char *hdr[7]; /* unescaped: "CEF:0", vendor, product, version, signature id, name, severity */
    size_t hdr_esc_len[7]; /* escaped bytes of each header field */
    size_t nkeys;
    char *key[CEF_MAX_KEYS];
    char *val[CEF_MAX_KEYS]; /* unescaped */
    size_t val_len[CEF_MAX_KEYS];
};

static inline int cef_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static inline char *cef_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL) {
        abort();
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Unescape an extension value: \\ \= \r \n are the only escapes the encoder writes. */
static inline char *cef_unescape_ext(const char *s, size_t n, size_t *outlen)
{
    char *d = malloc(n + 1);
    size_t k = 0;
    if (d == NULL) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            FUZZ_CHECK(i + 1 < n, "extension value ends in a lone backslash");
            char e = s[++i];
            FUZZ_CHECK(e == '\\' || e == '=' || e == 'r' || e == 'n', "unknown escape \\%c", e);
            d[k++] = e == 'r' ? '\r' : e == 'n' ? '\n' : e;
        }
        else {
            FUZZ_CHECK(s[i] != '=', "unescaped '=' inside a value");
            d[k++] = s[i];
        }
    }
    d[k] = '\0';
    *outlen = k;
    return d;
}

/* Parse line (len bytes) into c; every violation is a FUZZ_CHECK failure. */
static inline void cef_parse(const char *line, size_t len, struct cef_line *c)
{
    memset(c, 0, sizeof(*c));
    FUZZ_CHECK(fuzz_no_controls(line, len), "control character in a CEF line");
    FUZZ_CHECK(dfw_utf8_valid(line, len), "CEF line is not valid UTF-8");
    size_t i = 0;
    for (int f = 0; f < 7; f++) {
        char *d = malloc(len + 1);
        size_t k = 0, start = i;
        if (d == NULL) {
            abort();
        }
        while (i < len && line[i] != '|') {
            if (line[i] == '\\') {
                FUZZ_CHECK(i + 1 < len && (line[i + 1] == '\\' || line[i + 1] == '|'),
                           "header escape other than \\\\ or \\|");
                i++;
            }
            d[k++] = line[i++];
        }
        FUZZ_CHECK(i < len, "header has %d of 7 fields", f);
        c->hdr_esc_len[f] = i - start;
        d[k] = '\0';
        c->hdr[f] = d;
        i++; /* the '|' */
    }
    const char *ext = line + i;
    size_t n = len - i;
    /* every unescaped '=' ends a key that starts the extension or follows a space */
    size_t vstart = 0;
    int have = 0;
    for (size_t j = 0; j <= n; j++) {
        if (j < n && ext[j] == '\\') {
            j++;
            continue;
        }
        if (j < n && ext[j] != '=') {
            continue;
        }
        size_t kend = j, kstart = j;
        if (j < n) {
            while (kstart > 0 && cef_key_char(ext[kstart - 1])) {
                kstart--;
            }
            FUZZ_CHECK(kstart < kend, "'=' without a key");
            FUZZ_CHECK(kstart == 0 || ext[kstart - 1] == ' ', "key not after a space");
            FUZZ_CHECK(have || kstart == 0, "text before the first key");
        }
        if (have) {
            size_t vend = j < n ? kstart - 1 : n;
            FUZZ_CHECK(vend >= vstart, "overlapping fields");
            c->val[c->nkeys - 1] =
                cef_unescape_ext(ext + vstart, vend - vstart, &c->val_len[c->nkeys - 1]);
        }
        if (j == n) {
            break;
        }
        FUZZ_CHECK(c->nkeys < CEF_MAX_KEYS, "too many keys");
        c->key[c->nkeys++] = cef_dup(ext + kstart, kend - kstart);
        for (size_t k = 0; k + 1 < c->nkeys; k++) {
            FUZZ_CHECK(strcmp(c->key[k], c->key[c->nkeys - 1]) != 0, "key %s twice", c->key[k]);
        }
        vstart = j + 1;
        have = 1;
    }
    FUZZ_CHECK(n == 0 || have, "extension without keys");
}

static inline void cef_free(struct cef_line *c)
{
    for (int f = 0; f < 7; f++) {
        free(c->hdr[f]);
    }
    for (size_t k = 0; k < c->nkeys; k++) {
        free(c->key[k]);
        free(c->val[k]);
    }
}

/* The value of key, or NULL. */
static inline const char *cef_get(const struct cef_line *c, const char *key, size_t *len)
{
    for (size_t k = 0; k < c->nkeys; k++) {
        if (strcmp(c->key[k], key) == 0) {
            if (len != NULL) {
                *len = c->val_len[k];
            }
            return c->val[k];
        }
    }
    return NULL;
}

/* What the encoder makes of s (n bytes) in the header (ext 0) or in a value (ext 1), after
 * unescaping (docs/cef-mapping.md): CR/LF stay in values and become a space in the header; other
 * C0 and C1 controls and DEL become a space in the header and are dropped from values; an
 * invalid UTF-8 byte becomes '?'. */
static inline char *cef_expect(const char *s, size_t n, int ext, size_t *outlen)
{
    char *d = malloc(n + 1);
    size_t k = 0, i = 0;
    if (d == NULL) {
        abort();
    }
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        size_t u = dfw_utf8_char_len(s + i, n - i);
        if (u == 0) {
            d[k++] = '?';
            i++;
        }
        else if (ch == '\r' || ch == '\n') {
            d[k++] = ext ? (char)ch : ' ';
            i++;
        }
        else if (ch < 0x20 || ch == 0x7f ||
                 (u == 2 && ch == 0xc2 && (unsigned char)s[i + 1] < 0xa0)) {
            if (!ext) {
                d[k++] = ' ';
            }
            i += u;
        }
        else {
            memcpy(d + k, s + i, u);
            k += u;
            i += u;
        }
    }
    d[k] = '\0';
    *outlen = k;
    return d;
}

/* got (glen bytes) equals want, or (prefix_ok) is a prefix of it. */
static inline int
cef_same(const char *got, size_t glen, const char *want, size_t wlen, int prefix_ok)
{
    return glen <= wlen && memcmp(got, want, glen) == 0 && (prefix_ok || glen == wlen);
}

#endif
