/* CEF (ArcSight Common Event Format, version 0): one Defender/Graph event to one CEF line,
 *
 *   CEF:0|Microsoft|<Device Product>|<Device Version>|<Signature ID>|<Name>|<Severity>|<extension>
 *
 * Shared by every output that writes CEF (syslog, kafka): the line never depends on the transport,
 * only its size limit does. Sources: the ArcSight "Implementing ArcSight Common Event Format (CEF)"
 * specification (header and extension escaping, key names, the 512-byte Name and 100-byte Signature
 * ID limits) and reference/defender-api.md §4.4 (the ArcSight FlexConnector mapping of Defender
 * fields), with §2.3-2.7, §3.3-3.4, §4.6 and §5.2 for the record shapes of each stream. The field
 * mapping, escaping and truncation rules are documented in docs/cef-mapping.md.
 *
 * All functions are pure (no I/O, no global state) and thread-safe; they only read the event. */
#ifndef DFW_CEF_H
#define DFW_CEF_H

#include <stddef.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"

/* Header Device Vendor of every line. */
#define DFW_CEF_VENDOR    "Microsoft"
#define DFW_CEF_NAME_MAX  512 /* escaped bytes of the header's Name (the CEF limit) */
#define DFW_CEF_SIGID_MAX 100 /* escaped bytes of the header's Signature ID (the CEF limit) */
/* Appended to the extension when values were shortened or dropped to fit a size limit. */
#define DFW_CEF_TRUNC_MARKER "cn3Label=truncated cn3=1"

/* The header's Device Product and Device Version for a stream ("mde-alerts", "m365d-incidents",
 * "graph-alerts", "graph-incidents"). stream may be NULL or unknown: a generic product is given.
 * *product and *version receive static strings (never NULL, never to be freed). */
void dfw_cef_product(const char *stream, const char **product, const char **version);

/* The header's Severity 0-10 for an API severity text, compared case-insensitively:
 * Informational 1, Low 3, Medium 5, High 8; anything else (UnSpecified, unknown, NULL) 0. */
int dfw_cef_severity(const char *api_severity);

/* The record's API severity text (its "severity" string: what dfw_cef_severity maps and the
 * extension's deviceSeverity carries), or NULL when the record has none or it is not a string.
 * Borrowed from ev->severity or ev->record: valid as long as the event. */
const char *dfw_cef_api_severity(const struct dfw_event *ev);

/* Append the CEF line for ev to out, without a trailing newline and without any syslog header.
 *
 * ev: any stream; its record (raw bytes or tree, dfw_event_record_get: parsed once per call when
 *     the event has only bytes) may be absent or of any JSON type: missing, null or mistyped fields
 *     are left out. Read only; nothing of ev is kept after the call.
 * max_len: a limit in bytes of the line (for transports with a size limit, such as syslog over
 *     UDP), or 0 for no limit. When the full line is longer, extension values are shortened or
 *     dropped, least important first, never inside an escape sequence or a UTF-8 character, and
 *     DFW_CEF_TRUNC_MARKER is added; only when the extension is empty and the line is still too
 *     long is the header's Name shortened. The header is never cut otherwise.
 * out: appended to; the caller owns it. On any error out is left as it was (same length).
 *
 * The line is valid UTF-8 and holds no CR, LF or other control character: header fields escape
 * '\' and '|', extension values escape '\' and '=' and write CR/LF as "\r"/"\n"; invalid UTF-8
 * bytes become '?'.
 * Returns DFW_OK, DFW_ERR_NOMEM, or DFW_ERR_INVALID when max_len is too small for any line. */
dfw_err dfw_cef_format(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out);

#endif
