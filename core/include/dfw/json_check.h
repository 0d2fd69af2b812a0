/* A strict JSON check (RFC 8259) for text the forwarder passes on: json-c's own parser, even with
 * JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 (json-c 0.16), accepts NaN, Infinity, "1.",
 * "00.1", UTF-8 surrogates, overlong forms and code points above U+10FFFF, and its serialiser
 * writes such numbers back as they came. A page that passes this check re-serialises as valid
 * JSON in every output (HEC, Kafka, file, syslog JSON). */
#ifndef DFW_JSON_CHECK_H
#define DFW_JSON_CHECK_H

#include <stddef.h>
#include "dfw/err.h"
#include "dfw/json_scan.h"

/* Deepest nesting of objects and arrays the check accepts. */
#define DFW_JSON_MAX_DEPTH 512

/* Check that the len bytes at text are exactly one JSON value (RFC 8259 §2-8), surrounded only by
 * JSON whitespace: numbers as in §6 (no NaN, Infinity, leading zeros, "1.", ".5", "+1"), strings
 * without raw control characters and with only the escapes of §7, text well-formed UTF-8 (RFC
 * 3629: no overlong forms, surrogates or code points above U+10FFFF; see dfw/utf8.h), literals
 * true, false and null in lower case, no trailing commas or comments, at most DFW_JSON_MAX_DEPTH
 * levels. Escaped lone surrogates ("\ud800") are valid JSON grammar and pass.
 * Returns DFW_OK, or DFW_ERR_INVALID with "byte N: <reason>" in errbuf (N counted from 0; the
 * text itself is never copied into errbuf). Pure and thread-safe. */
dfw_err dfw_json_check(const char *text, size_t len, char *errbuf, size_t errlen);

/* dfw_json_check with at most max_depth levels of nesting (capped at DFW_JSON_MAX_DEPTH): text
 * nested deeper is DFW_ERR_INVALID ("nested too deep"). */
dfw_err
dfw_json_check_depth(const char *text, size_t len, size_t max_depth, char *errbuf, size_t errlen);

/* dfw_json_check_depth that also fills *ix (emptied first; free with dfw_json_index_free) with
 * the objects and arrays of at least DFW_JSON_INDEX_MIN bytes, in the same pass. The index is
 * only an aid: out of memory, or text above 4 GiB, leaves it empty and is no error. On
 * DFW_ERR_INVALID the index is empty. */
dfw_err dfw_json_check_index(const char *text,
                             size_t len,
                             size_t max_depth,
                             struct dfw_json_index *ix,
                             char *errbuf,
                             size_t errlen);

/* Members read while checking: for every object opened at depth `depth` (1: the root; a page's
 * records are at 3: root object, "value" array, record), the values of its members named
 * names[0..nnames) (nnames at most DFW_JSON_CAPTURE_MAX). Set depth, names and nnames; the check
 * fills obj. Reading the members of such an object from the text afterwards (dfw_json_members)
 * gives the same values, without a second walk of the text. */
#define DFW_JSON_CAPTURE_MAX 4
struct dfw_json_capture_obj {
    size_t open; /* offset of the object's '{' in the text */
    int unsure;  /* 1: read the object's members instead (dfw_json_members): one of its names
                    holds an escape, or a wanted member's value is an object or an array */
    struct dfw_json_span v[DFW_JSON_CAPTURE_MAX]; /* offsets in the text; {0, 0}: none. The
                                                     last one when a name repeats, as json-c */
};
struct dfw_json_capture {
    size_t depth;
    const char *names[DFW_JSON_CAPTURE_MAX]; /* borrowed; compared byte for byte */
    size_t nnames;
    struct dfw_json_capture_obj *obj; /* owned: in the order the objects open */
    size_t n, cap;
};

/* Free the captured objects (not the names); the capture keeps depth and names. NULL: no-op. */
void dfw_json_capture_free(struct dfw_json_capture *c);

/* dfw_json_check_index that also fills *cap (its objects emptied first) in the same pass, when cap
 * is not NULL. Like the index, only an aid: out of memory leaves cap->n 0 and is no error; on
 * DFW_ERR_INVALID cap->n is 0. Thread-safe for distinct ix and cap. */
dfw_err dfw_json_check_capture(const char *text,
                               size_t len,
                               size_t max_depth,
                               struct dfw_json_index *ix,
                               struct dfw_json_capture *cap,
                               char *errbuf,
                               size_t errlen);

#endif
