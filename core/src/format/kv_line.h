/* Internal to libdfw's encoders: one line made of a header and key=value attributes, escaped per
 * format and, when a size limit is given, fitted into it by shortening or dropping attributes
 * least important first. CEF (cef_format.c) and LEEF (leef_format.c) are tables on top of it.
 * Rules: docs/cef-mapping.md §7-8, docs/leef-mapping.md §5-6. */
#ifndef DFW_FORMAT_KV_LINE_H
#define DFW_FORMAT_KV_LINE_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "fields.h"

/* How one text is written. Every mode keeps the line valid UTF-8 (invalid bytes become '?') and
 * free of CR, LF and other C0/C1 control characters. */
enum dfw__esc {
    DFW__ESC_CEF_HEADER,  /* '\' and '|' escaped with '\'; line breaks and controls: a space */
    DFW__ESC_CEF_VALUE,   /* '\' and '=' escaped; CR, LF as "\r", "\n"; other controls dropped */
    DFW__ESC_LEEF_HEADER, /* LEEF has no escapes: '|' and controls become a space */
    DFW__ESC_LEEF_VALUE /* TAB (the delimiter), CR and LF become a space; other controls dropped */
};

/* Bytes produced, appended to out unless out is NULL (then only counted). The first append error
 * sticks in err. */
struct dfw__writer {
    struct dfw_buf *out;
    size_t n;
    dfw_err err;
};

void dfw__w_put(struct dfw__writer *w, const char *p, size_t n);
void dfw__w_puts(struct dfw__writer *w, const char *s);

/* Write v in mode, stopping before the character (or escape sequence) that would pass limit
 * bytes, so a cut never splits one. Returns the bytes written. */
size_t dfw__escape(struct dfw__writer *w, struct dfw__sv v, size_t limit, enum dfw__esc mode);

/* An attribute as the format names it; keys and labels are fixed by us, never taken from data. */
struct dfw__kv_key {
    const char *key;
    const char *label_key; /* CEF custom fields carry "labelKey=label" before them; else NULL */
    const char *label;
    int cut; /* 1: free text that may be shortened; 0: dropped whole (ids, hashes, times) */
};

/* A format's attribute and where its value comes from: a text field of the record, one of its
 * times (written by the format's time function), or neither (the format sets it in code). */
struct dfw__kv_column {
    struct dfw__kv_key k;
    int field; /* enum dfw__field, or -1 */
    int time;  /* enum dfw__time, or -1 */
};

#define DFW__KV_TEXT(key, lk, label, cut, f)                                                       \
    {                                                                                              \
        {key, lk, label, cut}, f, -1                                                               \
    }
#define DFW__KV_TIME(key, lk, label, t)                                                            \
    {                                                                                              \
        {key, lk, label, 0}, -1, t                                                                 \
    }
#define DFW__KV_CODE(key, cut)                                                                     \
    {                                                                                              \
        {key, NULL, NULL, cut}, -1, -1                                                             \
    }

#define DFW__KV_MAX       32
#define DFW__KV_TIME_TEXT 40

struct dfw__kv_line;

/* Writes the header of l (the record is l->r); a name it writes is cut to l->name_lim bytes. */
typedef void (*dfw__kv_header_fn)(struct dfw__writer *w, const struct dfw__kv_line *l);

/* Writes ms as the format writes times into out (DFW__KV_TIME_TEXT bytes); its length, 0 when it
 * cannot. */
typedef size_t (*dfw__kv_time_fn)(int64_t ms, char *out, size_t outlen);

/* What makes a format: static tables. */
struct dfw__kv_format {
    dfw__kv_header_fn header;
    size_t name_max;        /* bytes of the header's name (r->name); 0: the header has none */
    enum dfw__esc name_esc; /* how the header writes the name */
    const char *sep;        /* between attributes: " " (CEF) or "\t" (LEEF) */
    enum dfw__esc value_esc;
    const char *marker; /* attribute text appended when the line was fitted */
    size_t n;           /* attributes, at most DFW__KV_MAX, in output order */
    const struct dfw__kv_column *columns;
    const unsigned char *cut_order; /* n column indexes, least important first */
    dfw__kv_time_fn time;
};

/* One line to render. */
struct dfw__kv_line {
    const struct dfw__kv_format *fmt;
    const struct dfw__fields *r;     /* borrowed */
    struct dfw__sv val[DFW__KV_MAX]; /* s NULL: left out */
    char times[DFW__NTIMES][DFW__KV_TIME_TEXT];
    size_t name_lim;
    size_t esc[DFW__KV_MAX]; /* escaped bytes of val[i] within lim[i] */
    size_t lim[DFW__KV_MAX];
    int marked;
};

/* Set up l for fmt and the record r: the values of the text and time columns; the format then
 * sets its code columns in l->val. l borrows r. */
void dfw__kv_init(struct dfw__kv_line *l,
                  const struct dfw__kv_format *fmt,
                  const struct dfw__fields *r);

/* Append the line to out. max_len 0: no limit; otherwise the line is at most max_len bytes:
 * the marker is added and values are shortened (cut 1, keeping at least 32 bytes) or dropped in
 * cut_order until it fits, then the most important dropped values that still fit are put back;
 * only when no attribute is left and the header is still too long is the name shortened. On
 * error out is left as it was. DFW_OK, DFW_ERR_NOMEM, or DFW_ERR_INVALID when max_len is too
 * small for any line. */
dfw_err dfw__kv_render(struct dfw__kv_line *l, size_t max_len, struct dfw_buf *out);

#endif
