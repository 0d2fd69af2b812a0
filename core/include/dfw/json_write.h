/* Writing JSON text: string literals (RFC 8259 §7) for the envelopes the outputs put around a
 * record's own bytes, where a json-c object per record only to escape a few short strings cost
 * more than the rest of the file output (docs/performance.md). */
#ifndef DFW_JSON_WRITE_H
#define DFW_JSON_WRITE_H

#include <stddef.h>
#include "dfw/buf.h"
#include "dfw/err.h"

/* Append the NUL-terminated string s to out as a JSON string literal, quotes included, escaped
 * byte for byte as json-c 0.16 does with JSON_C_TO_STRING_NOSLASHESCAPE: \" \\ \b \f \n \r \t,
 * other bytes below 0x20 as \u00xx (lower-case hex), every other byte as it is (s is taken to
 * be UTF-8 already). Returns DFW_OK or DFW_ERR_NOMEM (out unchanged). Thread-safe for distinct
 * buffers. */
dfw_err dfw_json_append_string(struct dfw_buf *out, const char *s);

#endif
