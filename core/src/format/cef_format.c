/* CEF encoder: the values picked by cef_map.c, escaped per the CEF rules and, when the caller
 * gives a size limit (syslog over UDP), fitted into it. Rules: docs/cef-mapping.md. */
#include "dfw/cef.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cef_internal.h"

/* ---- fields of the line ----------------------------------------------------------------- */

struct field_spec {
    const char *key;
    const char *label_key; /* custom fields carry a label */
    const char *label;
    int cut; /* 1: free text that may be shortened; 0: dropped whole (ids, hashes, times) */
};

/* Output order is the enum order. */
static const struct field_spec specs[DFW_CEF_NFIELDS] = {
    [DFW_CEF_RT] = {"rt", NULL, NULL, 0},
    [DFW_CEF_EXTID] = {"externalId", NULL, NULL, 0},
    [DFW_CEF_DEVSEV] = {"deviceSeverity", NULL, NULL, 0},
    [DFW_CEF_CAT] = {"cat", NULL, NULL, 0},
    [DFW_CEF_SVC] = {"sourceServiceName", NULL, NULL, 0},
    [DFW_CEF_SHOST] = {"shost", NULL, NULL, 0},
    [DFW_CEF_SUSER] = {"suser", NULL, NULL, 0},
    [DFW_CEF_SNTDOM] = {"sntdom", NULL, NULL, 0},
    [DFW_CEF_SRC] = {"src", NULL, NULL, 0},
    [DFW_CEF_FNAME] = {"fname", NULL, NULL, 1},
    [DFW_CEF_FPATH] = {"filePath", NULL, NULL, 1},
    [DFW_CEF_FHASH] = {"fileHash", NULL, NULL, 0},
    [DFW_CEF_CS6] = {"cs6", "cs6Label", "sha256", 0},
    [DFW_CEF_REQUEST] = {"request", NULL, NULL, 1},
    [DFW_CEF_START] = {"start", NULL, NULL, 0},
    [DFW_CEF_END] = {"end", NULL, NULL, 0},
    [DFW_CEF_CREATED] = {"deviceCustomDate1", "deviceCustomDate1Label", "createdTime", 0},
    [DFW_CEF_CS1] = {"cs1", "cs1Label", "threatName", 1},
    [DFW_CEF_CS4] = {"cs4", "cs4Label", "actor", 1},
    [DFW_CEF_CS2] = {"cs2", "cs2Label", "tenant", 0},
    [DFW_CEF_CS3] = {"cs3", "cs3Label", "tenantId", 0},
    [DFW_CEF_CS5] = {"cs5", "cs5Label", "eventKind", 0},
    [DFW_CEF_LINK] = {"flexString1", "flexString1Label", "link", 0},
};

/* Truncation order: least important first (the link can be rebuilt from externalId). */
static const enum dfw_cef_field cut_order[DFW_CEF_NFIELDS] = {
    DFW_CEF_LINK,  DFW_CEF_REQUEST, DFW_CEF_FPATH, DFW_CEF_CS4,   DFW_CEF_CS1,   DFW_CEF_SVC,
    DFW_CEF_CAT,   DFW_CEF_CREATED, DFW_CEF_START, DFW_CEF_END,   DFW_CEF_FNAME, DFW_CEF_CS6,
    DFW_CEF_FHASH, DFW_CEF_SNTDOM,  DFW_CEF_SRC,   DFW_CEF_SUSER, DFW_CEF_SHOST, DFW_CEF_DEVSEV,
    DFW_CEF_CS5,   DFW_CEF_CS3,     DFW_CEF_RT,    DFW_CEF_CS2,   DFW_CEF_EXTID};

/* A cut value keeps at least this many bytes, or is dropped. */
#define CUT_MIN 32

/* A mapped record and how much of it is written. */
struct cef {
    struct dfw_cef_record r;
    size_t esc[DFW_CEF_NFIELDS]; /* escaped bytes of r.f[i] within lim[i] */
    size_t lim[DFW_CEF_NFIELDS];
    size_t name_lim;
    int marked;
};

/* ---- escaping --------------------------------------------------------------------------- */

struct writer {
    struct dfw_buf *out; /* NULL: only count */
    size_t n;            /* bytes produced */
    dfw_err err;
};

static void w_put(struct writer *w, const char *p, size_t n)
{
    if (w->out != NULL && w->err == DFW_OK && n > 0) {
        w->err = dfw_buf_append(w->out, p, n);
    }
    w->n += n;
}

static void w_puts(struct writer *w, const char *s)
{
    w_put(w, s, strlen(s));
}

/* Length (2-4) of the well-formed UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo; /* overlong */
        hi = c == 0xED ? 0x9F : hi; /* surrogates */
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    }
    else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return len;
}

/* Encode one unit (a character, or one invalid byte) at s for the header (ext 0) or an extension
 * value (ext 1). Returns the source bytes consumed; *enc and *elen are the bytes to write. */
static size_t encode_unit(const unsigned char *s, size_t n, int ext, const char **enc, size_t *elen)
{
    unsigned char c = s[0];
    size_t len;
    *enc = (const char *)s;
    *elen = 1;
    if (c == '\\') {
        *enc = "\\\\";
        *elen = 2;
    }
    else if ((!ext && c == '|') || (ext && c == '=')) {
        *enc = c == '|' ? "\\|" : "\\=";
        *elen = 2;
    }
    else if (c == '\r' || c == '\n') {
        *enc = !ext ? " " : c == '\r' ? "\\r" : "\\n";
        *elen = ext ? 2 : 1;
    }
    else if (c < 0x20 || c == 0x7f) {
        *enc = " "; /* other controls: a space in the header, dropped from values */
        *elen = ext ? 0 : 1;
    }
    else if (c >= 0x80) {
        len = utf8_len(s, n);
        if (len == 0) {
            *enc = "?"; /* keep the line valid UTF-8 */
            return 1;
        }
        if (len == 2 && c == 0xC2 && s[1] < 0xA0) {
            *enc = " "; /* C1 controls (U+0080-U+009F, NEL among them) like C0 */
            *elen = ext ? 0 : 1;
            return 2;
        }
        *elen = len;
        return len;
    }
    return 1;
}

/* Write v escaped, stopping before the unit that would pass limit bytes, so a cut never splits
 * an escape sequence or a character. Returns the bytes written. */
static size_t escape(struct writer *w, struct dfw_cef_sv v, size_t limit, int ext)
{
    const unsigned char *s = (const unsigned char *)v.s;
    size_t done = 0, i = 0;
    while (i < v.n) {
        const char *enc;
        size_t elen;
        size_t used = encode_unit(s + i, v.n - i, ext, &enc, &elen);
        if (elen > limit - done) {
            break;
        }
        w_put(w, enc, elen);
        done += elen;
        i += used;
    }
    return done;
}

static size_t esc_len(struct dfw_cef_sv v, size_t limit, int ext)
{
    struct writer w = {NULL, 0, DFW_OK};
    return escape(&w, v, limit, ext);
}

/* ---- rendering and truncation ------------------------------------------------------------ */

static void put_header(struct writer *w, const struct cef *c)
{
    char sev[8];
    struct dfw_cef_sv vendor = {DFW_CEF_VENDOR, sizeof(DFW_CEF_VENDOR) - 1};
    struct dfw_cef_sv product = {c->r.product, strlen(c->r.product)};
    struct dfw_cef_sv version = {c->r.version, strlen(c->r.version)};
    w_put(w, "CEF:0|", 6);
    escape(w, vendor, SIZE_MAX, 0);
    w_put(w, "|", 1);
    escape(w, product, SIZE_MAX, 0);
    w_put(w, "|", 1);
    escape(w, version, SIZE_MAX, 0);
    w_put(w, "|", 1);
    escape(w, c->r.sig, DFW_CEF_SIGID_MAX, 0);
    w_put(w, "|", 1);
    escape(w, c->r.name, c->name_lim, 0);
    int n = snprintf(sev, sizeof(sev), "|%d|", c->r.severity);
    w_put(w, sev, (size_t)n);
}

/* Bytes of " key=value" (and " labelKey=label") for a present field. */
static size_t unit_len(const struct cef *c, enum dfw_cef_field i)
{
    const struct field_spec *s = &specs[i];
    size_t n = 1 + strlen(s->key) + 1 + c->esc[i];
    if (s->label_key != NULL) {
        n += 1 + strlen(s->label_key) + 1 + strlen(s->label);
    }
    return n;
}

static size_t line_len(const struct cef *c, size_t header_len)
{
    size_t n = 0;
    for (int i = 0; i < DFW_CEF_NFIELDS; i++) {
        if (c->r.f[i].s != NULL) {
            n += unit_len(c, (enum dfw_cef_field)i);
        }
    }
    if (c->marked) {
        n += 1 + strlen(DFW_CEF_TRUNC_MARKER);
    }
    return header_len + (n > 0 ? n - 1 : 0); /* no space before the first key */
}

static void put_extension(struct writer *w, const struct cef *c)
{
    const char *sep = "";
    for (int i = 0; i < DFW_CEF_NFIELDS; i++) {
        const struct field_spec *s = &specs[i];
        if (c->r.f[i].s == NULL) {
            continue;
        }
        w_puts(w, sep);
        if (s->label_key != NULL) {
            w_puts(w, s->label_key);
            w_put(w, "=", 1);
            w_puts(w, s->label);
            w_put(w, " ", 1);
        }
        w_puts(w, s->key);
        w_put(w, "=", 1);
        escape(w, c->r.f[i], c->lim[i], 1);
        sep = " ";
    }
    if (c->marked) {
        w_puts(w, sep);
        w_puts(w, DFW_CEF_TRUNC_MARKER);
    }
}

static size_t header_len(const struct cef *c)
{
    struct writer w = {NULL, 0, DFW_OK};
    put_header(&w, c);
    return w.n;
}

/* Shorten or drop values, least important first, until the line fits in max_len; then put back
 * the most important dropped values that still fit. */
static dfw_err shrink(struct cef *c, size_t max_len)
{
    struct dfw_cef_sv all[DFW_CEF_NFIELDS];
    size_t hlen = header_len(c);
    int k;
    memcpy(all, c->r.f, sizeof(all));
    c->marked = 1;
    for (k = 0; k < DFW_CEF_NFIELDS && line_len(c, hlen) > max_len; k++) {
        enum dfw_cef_field i = cut_order[k];
        size_t excess = line_len(c, hlen) - max_len;
        if (c->r.f[i].s == NULL) {
            continue;
        }
        if (specs[i].cut && c->esc[i] >= excess + CUT_MIN) {
            c->lim[i] = c->esc[i] - excess;
            c->esc[i] = esc_len(c->r.f[i], c->lim[i], 1);
        }
        else {
            c->r.f[i].s = NULL;
        }
    }
    for (k = k - 1; k >= 0; k--) {
        enum dfw_cef_field i = cut_order[k];
        if (c->r.f[i].s == NULL && all[i].s != NULL) {
            c->r.f[i] = all[i];
            if (line_len(c, hlen) > max_len) {
                c->r.f[i].s = NULL;
            }
        }
    }
    size_t len = line_len(c, hlen);
    if (len > max_len) {
        /* last resort, only with an empty extension: shorten the Name */
        size_t name_len = esc_len(c->r.name, c->name_lim, 0);
        if (len - max_len > name_len) {
            return DFW_ERR_INVALID;
        }
        c->name_lim = name_len - (len - max_len);
    }
    return DFW_OK;
}

dfw_err dfw_cef_format(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out)
{
    struct cef c;
    memset(&c, 0, sizeof(c));
    dfw_cef_map(ev, &c.r);
    c.name_lim = DFW_CEF_NAME_MAX;
    for (int i = 0; i < DFW_CEF_NFIELDS; i++) {
        c.lim[i] = SIZE_MAX;
        c.esc[i] = c.r.f[i].s ? esc_len(c.r.f[i], SIZE_MAX, 1) : 0;
    }
    if (max_len > 0 && line_len(&c, header_len(&c)) > max_len) {
        dfw_err err = shrink(&c, max_len);
        if (err != DFW_OK) {
            return err;
        }
    }
    size_t start = out->len;
    struct writer w = {out, 0, DFW_OK};
    put_header(&w, &c);
    put_extension(&w, &c);
    if (w.err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return w.err;
}
