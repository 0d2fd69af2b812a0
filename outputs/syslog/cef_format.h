/* CEF encoder of the syslog output: one Defender/Graph record to one CEF line. Pure functions,
 * no I/O. The mapping, escaping and truncation rules are documented in docs/cef-mapping.md. */
#ifndef DFW_OUT_SYSLOG_CEF_FORMAT_H
#define DFW_OUT_SYSLOG_CEF_FORMAT_H

#include <stddef.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"

#define DFW_CEF_VENDOR    "Microsoft"
#define DFW_CEF_NAME_MAX  512 /* escaped bytes of the header's Name (the CEF limit) */
#define DFW_CEF_SIGID_MAX 100 /* escaped bytes of the header's Signature ID */
/* Appended to the extension when values were shortened or dropped to fit a size limit. */
#define DFW_CEF_TRUNC_MARKER "cn3Label=truncated cn3=1"

/* Device Product and Device Version written for a stream ("mde-alerts", ...). Static strings;
 * unknown streams get a generic product. */
void dfw_out_syslog_cef_product(const char *stream, const char **product, const char **version);

/* CEF header severity 0-10 for an API severity text (case-insensitive): Informational 1, Low 3,
 * Medium 5, High 8, anything else (UnSpecified, unknown, NULL) 0. */
int dfw_out_syslog_cef_severity(const char *api_severity);

/* Syslog severity 0-7 for an API severity text: High 2 (crit), Medium 3 (err), Low 4 (warning),
 * Informational 6 (info), anything else 5 (notice). */
int dfw_out_syslog_severity(const char *api_severity);

/* The record's "severity" text, borrowed from ev->record, or NULL. */
const char *dfw_out_syslog_event_severity(const struct dfw_event *ev);

/* Append the CEF line for ev to out (no trailing newline). max_len 0 means no limit; otherwise
 * at most max_len bytes are appended: extension values are shortened or dropped (least important
 * first, never inside an escape sequence or a UTF-8 character) and DFW_CEF_TRUNC_MARKER is added;
 * only when the extension is empty and the line is still too long is the header's Name shortened.
 * ev->record may be NULL or of any JSON type: missing, null or mistyped fields are left out.
 * Returns DFW_OK, DFW_ERR_NOMEM, or DFW_ERR_INVALID when max_len is too small for any line
 * (out is then unchanged). */
dfw_err dfw_out_syslog_cef_format(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out);

#endif
