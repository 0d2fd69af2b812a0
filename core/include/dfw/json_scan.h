/* Where the values and members of JSON text lie, without building anything: the page parser finds
 * the records of "value" and each record's id and times this way, and keeps the records as the
 * API's bytes instead of a json-c tree of the whole page.
 *
 * Every function here expects text that dfw_json_check accepted (RFC 8259); it does not check
 * again. On other text the results are unspecified, but every read stays inside the len bytes
 * given. Pure and thread-safe. */
#ifndef DFW_JSON_SCAN_H
#define DFW_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
#include "dfw/buf.h"
#include "dfw/err.h"

/* Bytes [off, off + len) of a text. */
struct dfw_json_span {
    size_t off;
    size_t len;
};

/* Where the big objects and arrays of a checked text end, so that the scanners below jump over
 * them instead of reading them again (dfw_json_check_index builds it while it checks the text).
 * Entries are sorted by where the container opens; offsets count bytes from base. A text read
 * through other memory than base (a copy) is simply not found in it: scanned as without it. */
struct dfw_json_container {
    uint32_t open;  /* offset of '{' or '[' */
    uint32_t close; /* offset of the matching '}' or ']' */
};
struct dfw_json_index {
    const char *base;
    size_t len;                   /* bytes of the text at base */
    struct dfw_json_container *c; /* owned */
    size_t n, cap;
};

/* Containers this long or longer are indexed (bytes, brackets included): smaller ones cost less
 * to scan than to look up. */
#define DFW_JSON_INDEX_MIN 256

/* Free the entries; the index is empty afterwards. NULL is a no-op. */
void dfw_json_index_free(struct dfw_json_index *ix);

/* The value that starts at text[off] or after whitespace there: *span receives its bytes, without
 * the whitespace around it; the return value is the offset just after it. ix: the index of the
 * text's memory, or NULL (then containers are scanned). */
size_t dfw_json_value(const char *text,
                      size_t len,
                      size_t off,
                      struct dfw_json_span *span,
                      const struct dfw_json_index *ix);

/* The members of the object whose bytes are span: for each i < nkeys, out[i] receives the value of
 * the member named keys[i] (the last one when the name repeats, as json-c keeps it), or {0, 0}
 * when there is none. Names are compared as dfw_json_name_is does. ix as for dfw_json_value.
 * Returns 0, or -1 when span is not an object. */
int dfw_json_members(const char *text,
                     struct dfw_json_span span,
                     const char *const *keys,
                     size_t nkeys,
                     struct dfw_json_span *out,
                     const struct dfw_json_index *ix);

/* Walk an object one member at a time, for callers that read a member's value in place (the
 * page's "value" array) instead of skipping it. obj: the object's bytes, or any span that starts
 * at its '{' and reaches at least to its '}'. *pos: obj.off before the first call. Returns 1 with
 * the member's name (its bytes, quotes included) in *name and *pos at the first byte of the
 * member's value (which
 * the caller must then pass: dfw_json_value, or dfw_json_next_item to the end of an array); 0
 * after the last member, with *pos after the '}'; -1 when obj is not an object. escaped (may be
 * NULL) is set with the name: 1 when it holds a backslash escape, 0 when its bytes between the
 * quotes are the name itself (then compared with memcmp). */
int dfw_json_next_name(const char *text,
                       struct dfw_json_span obj,
                       size_t *pos,
                       struct dfw_json_span *name,
                       int *escaped);

/* Is the member name (its bytes, quotes included) key? Compared as JSON strings: a name written
 * with escapes ("\u0069d") is decoded first, as json-c does. */
int dfw_json_name_is(const char *text, struct dfw_json_span name, const char *key);

/* dfw_json_name_is for a name whose escaped flag dfw_json_next_name gave and a key of klen bytes:
 * without escapes the bytes between the quotes are compared in place (no scan, no strlen). */
int dfw_json_name_eq(
    const char *text, struct dfw_json_span name, int escaped, const char *key, size_t klen);

/* The next element of an array: arr is the array's bytes, or any span that starts at its '[' and
 * reaches at least to its ']'; *pos is the offset to read from (arr.off before the first call;
 * advanced by each call). Returns 1 with the element's bytes in *item, 0 after the last element
 * with *pos after the ']', -1 when arr is not an array. ix as for dfw_json_value. */
int dfw_json_next_item(const char *text,
                       struct dfw_json_span arr,
                       size_t *pos,
                       struct dfw_json_span *item,
                       const struct dfw_json_index *ix);

/* The string whose bytes (quotes included) are span, decoded (escapes resolved, as json-c does),
 * appended to out with a terminating NUL; *n receives its length, which counts an escaped NUL
 * inside it (compare with strlen). DFW_ERR_INVALID when span is not a string (out unchanged),
 * DFW_ERR_NOMEM. */
dfw_err
dfw_json_string(const char *text, struct dfw_json_span span, struct dfw_buf *out, size_t *n);

/* The one JSON value in the len bytes at text parsed by json-c (a bare number too, which json-c
 * completes only at a delimiter). The caller owns it (json_object_put); NULL when out of memory
 * or when json-c refuses the text. */
struct json_object *dfw_json_parse(const char *text, size_t len);

#endif
