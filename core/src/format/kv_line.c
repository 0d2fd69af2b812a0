/* The line writer shared by the CEF and LEEF encoders: escaping per mode, and fitting a line
 * into a size limit (syslog over UDP). */
#include "kv_line.h"
#include "../base/swar.h"

#include <stdint.h>
#include <string.h>

/* ---- escaping --------------------------------------------------------------------------- */

void dfw__w_put(struct dfw__writer *w, const char *p, size_t n)
{
    if (w->out != NULL && w->err == DFW_OK && n > 0) {
        w->err = dfw_buf_append(w->out, p, n);
    }
    w->n += n;
}

void dfw__w_puts(struct dfw__writer *w, const char *s)
{
    dfw__w_put(w, s, strlen(s));
}

/* What each mode does with the characters that matter. */
struct esc_rules {
    int backslash;      /* 1: '\' becomes "\\" */
    char special;       /* the mode's separator character */
    const char *sp_enc; /* what it becomes */
    const char *cr, *lf;
    int ctl_space; /* other controls: 1 a space, 0 dropped */
};

static const struct esc_rules rules[] = {
    [DFW__ESC_CEF_HEADER] = {1, '|', "\\|", " ", " ", 1},
    [DFW__ESC_CEF_VALUE] = {1, '=', "\\=", "\\r", "\\n", 0},
    [DFW__ESC_LEEF_HEADER] = {0, '|', " ", " ", " ", 1},
    [DFW__ESC_LEEF_VALUE] = {0, '\t', " ", " ", " ", 0},
};

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

static void set_enc(const char *s, const char **enc, size_t *elen)
{
    *enc = s;
    *elen = strlen(s);
}

/* Encode one unit (a character, or one invalid byte) at s. Returns the source bytes consumed;
 * *enc and *elen are the bytes to write. */
static size_t encode_unit(
    const unsigned char *s, size_t n, const struct esc_rules *r, const char **enc, size_t *elen)
{
    unsigned char c = s[0];
    size_t len;
    *enc = (const char *)s;
    *elen = 1;
    if (c == '\\' && r->backslash) {
        set_enc("\\\\", enc, elen);
    }
    else if (c == (unsigned char)r->special) {
        set_enc(r->sp_enc, enc, elen);
    }
    else if (c == '\r' || c == '\n') {
        set_enc(c == '\r' ? r->cr : r->lf, enc, elen);
    }
    else if (c < 0x20 || c == 0x7f) {
        set_enc(r->ctl_space ? " " : "", enc, elen);
    }
    else if (c >= 0x80) {
        len = utf8_len(s, n);
        if (len == 0) {
            *enc = "?"; /* keep the line valid UTF-8 */
            return 1;
        }
        if (len == 2 && c == 0xC2 && s[1] < 0xA0) {
            set_enc(r->ctl_space ? " " : "", enc, elen); /* C1 controls (NEL among them) like C0 */
            return 2;
        }
        *elen = len;
        return len;
    }
    return 1;
}

/* Bytes at s that encode as themselves in every mode: printable ASCII but '\\', the mode's
 * special character and DEL; a block at a time (most values have none of the others). */
static size_t plain_prefix(const unsigned char *s, size_t n, char special)
{
    size_t i = 0;
#if DFW_BLK
    while (n - i >= DFW_BLK) {
        dfw__blk x = dfw__blk_load((const char *)s + i);
        uint64_t m = dfw__blk_ctl_or_high(x) | dfw__blk_eq(x, '\\') | dfw__blk_eq(x, special) |
                     dfw__blk_eq(x, 0x7f);
        if (m != 0) {
            return i + dfw__blk_first(m);
        }
        i += DFW_BLK;
    }
#endif
    while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != (unsigned char)special) {
        i++;
    }
    return i;
}

size_t dfw__escape(struct dfw__writer *w, struct dfw__sv v, size_t limit, enum dfw__esc mode)
{
    const unsigned char *s = (const unsigned char *)v.s;
    const struct esc_rules *r = &rules[mode];
    size_t done = 0, i = 0;
    while (i < v.n) {
        size_t run = plain_prefix(s + i, v.n - i, r->special);
        run = run < limit - done ? run : limit - done;
        dfw__w_put(w, (const char *)s + i, run);
        done += run;
        i += run;
        if (i == v.n) {
            break;
        }
        const char *enc;
        size_t elen;
        size_t used = encode_unit(s + i, v.n - i, r, &enc, &elen);
        if (elen > limit - done) {
            break;
        }
        dfw__w_put(w, enc, elen);
        done += elen;
        i += used;
    }
    return done;
}

static size_t esc_len(struct dfw__sv v, size_t limit, enum dfw__esc mode)
{
    struct dfw__writer w = {NULL, 0, DFW_OK};
    return dfw__escape(&w, v, limit, mode);
}

/* ---- rendering and fitting --------------------------------------------------------------- */

/* A cut value keeps at least this many bytes, or is dropped. */
#define CUT_MIN 32

/* Bytes of "key=value" (and "labelKey=label" before it) for a present attribute. */
static size_t unit_len(const struct dfw__kv_line *l, size_t i)
{
    const struct dfw__kv_key *k = &l->fmt->columns[i].k;
    size_t n = strlen(k->key) + 1 + l->esc[i];
    if (k->label_key != NULL) {
        n += strlen(k->label_key) + 1 + strlen(k->label) + strlen(l->fmt->sep);
    }
    return n;
}

static size_t line_len(const struct dfw__kv_line *l, size_t header_len)
{
    size_t n = 0, units = 0, sep = strlen(l->fmt->sep);
    for (size_t i = 0; i < l->fmt->n; i++) {
        if (l->val[i].s != NULL) {
            n += unit_len(l, i);
            units++;
        }
    }
    if (l->marked) {
        n += strlen(l->fmt->marker);
        units++;
    }
    return header_len + n + (units > 0 ? (units - 1) * sep : 0);
}

static void put_attributes(struct dfw__writer *w, const struct dfw__kv_line *l)
{
    const struct dfw__kv_format *f = l->fmt;
    const char *sep = "";
    for (size_t i = 0; i < f->n; i++) {
        const struct dfw__kv_key *k = &f->columns[i].k;
        if (l->val[i].s == NULL) {
            continue;
        }
        dfw__w_puts(w, sep);
        if (k->label_key != NULL) {
            dfw__w_puts(w, k->label_key);
            dfw__w_put(w, "=", 1);
            dfw__w_puts(w, k->label);
            dfw__w_puts(w, f->sep);
        }
        dfw__w_puts(w, k->key);
        dfw__w_put(w, "=", 1);
        dfw__escape(w, l->val[i], l->lim[i], f->value_esc);
        sep = f->sep;
    }
    if (l->marked) {
        dfw__w_puts(w, sep);
        dfw__w_puts(w, f->marker);
    }
}

static size_t header_len(const struct dfw__kv_line *l)
{
    struct dfw__writer w = {NULL, 0, DFW_OK};
    l->fmt->header(&w, l);
    return w.n;
}

/* Shorten or drop values, least important first, until the line fits in max_len; then put back
 * the most important dropped values that still fit. */
static dfw_err shrink(struct dfw__kv_line *l, size_t max_len)
{
    const struct dfw__kv_format *f = l->fmt;
    struct dfw__sv all[DFW__KV_MAX];
    size_t hlen = header_len(l), k;
    memcpy(all, l->val, sizeof(all));
    l->marked = 1;
    for (k = 0; k < f->n && line_len(l, hlen) > max_len; k++) {
        size_t i = f->cut_order[k];
        size_t excess = line_len(l, hlen) - max_len;
        if (l->val[i].s == NULL) {
            continue;
        }
        if (f->columns[i].k.cut && l->esc[i] >= excess + CUT_MIN) {
            l->lim[i] = l->esc[i] - excess;
            l->esc[i] = esc_len(l->val[i], l->lim[i], f->value_esc);
        }
        else {
            l->val[i].s = NULL;
        }
    }
    while (k-- > 0) {
        size_t i = f->cut_order[k];
        if (l->val[i].s == NULL && all[i].s != NULL) {
            l->val[i] = all[i];
            if (line_len(l, hlen) > max_len) {
                l->val[i].s = NULL;
            }
        }
    }
    size_t len = line_len(l, hlen);
    if (len > max_len) {
        /* last resort, only with no attribute left: shorten the header's name */
        size_t name_len = f->name_max > 0 ? esc_len(l->r->name, l->name_lim, f->name_esc) : 0;
        if (len - max_len > name_len) {
            return DFW_ERR_INVALID;
        }
        l->name_lim = name_len - (len - max_len);
    }
    return DFW_OK;
}

void dfw__kv_init(struct dfw__kv_line *l,
                  const struct dfw__kv_format *fmt,
                  const struct dfw__fields *r)
{
    memset(l, 0, sizeof(*l));
    l->fmt = fmt;
    l->r = r;
    l->name_lim = fmt->name_max;
    for (size_t i = 0; i < fmt->n; i++) {
        const struct dfw__kv_column *c = &fmt->columns[i];
        if (c->field >= 0) {
            l->val[i] = r->f[c->field];
        }
        else if (c->time >= 0 && r->has_t[c->time]) {
            size_t n = fmt->time(r->t[c->time], l->times[c->time], sizeof(l->times[0]));
            l->val[i].s = n > 0 ? l->times[c->time] : NULL;
            l->val[i].n = n;
        }
    }
}

dfw_err dfw__kv_render(struct dfw__kv_line *l, size_t max_len, struct dfw_buf *out)
{
    for (size_t i = 0; i < l->fmt->n; i++) {
        l->lim[i] = SIZE_MAX;
        /* the escaped lengths matter only for fitting into max_len */
        l->esc[i] =
            l->val[i].s && max_len > 0 ? esc_len(l->val[i], SIZE_MAX, l->fmt->value_esc) : 0;
    }
    l->marked = 0;
    if (max_len > 0 && line_len(l, header_len(l)) > max_len) {
        dfw_err err = shrink(l, max_len);
        if (err != DFW_OK) {
            return err;
        }
    }
    size_t start = out->len;
    struct dfw__writer w = {out, 0, DFW_OK};
    l->fmt->header(&w, l);
    put_attributes(&w, l);
    if (w.err != DFW_OK) {
        out->len = start;
        if (out->data != NULL) {
            out->data[start] = '\0';
        }
    }
    return w.err;
}
