/* LEEF (IBM QRadar Log Event Extended Format, version 2.0): one Defender/Graph event to one LEEF
 * line,
 *
 *   LEEF:2.0|Microsoft|<Product>|<Version>|<Event ID>|x09|<attributes, TAB-separated>
 *
 * Shared by every output that writes LEEF (syslog, kafka). Sources: IBM's "Log Event Extended
 * Format (LEEF)" guide, version 2 (LEEF event components: the header and the delimiter field
 * given as a hex value; Predefined LEEF event attributes: devTime, devTimeFormat, cat, sev, src,
 * dst, usrName, domain, identHostName, resource, url; Custom event keys; Best practices: no tab,
 * pipe or caret in keys and values; Custom event date format: Java SimpleDateFormat patterns),
 * and the record shapes of reference/defender-api.md §2-5. The record values are the ones the CEF
 * encoder carries (dfw/cef.h); the mapping, the character rules and the size limit are documented
 * in docs/leef-mapping.md.
 *
 * All functions are pure (no I/O, no global state) and thread-safe; they only read the event. */
#ifndef DFW_LEEF_H
#define DFW_LEEF_H

#include <stddef.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"

/* Header Vendor of every line. */
#define DFW_LEEF_VENDOR "Microsoft"
/* The header's delimiter field: the attributes are separated by TAB (0x09). */
#define DFW_LEEF_DELIMITER "x09"
/* devTimeFormat of every line (Java SimpleDateFormat); times are written as
 * 2024-05-01T10:00:00.123+0000 (UTC). */
#define DFW_LEEF_TIME_FORMAT "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
/* Bytes of the header's Event ID at most (the same limit as the CEF Signature ID). */
#define DFW_LEEF_EVENTID_MAX 100
/* Appended as the last attribute when values were shortened or dropped to fit a size limit. */
#define DFW_LEEF_TRUNC_MARKER "truncated=1"

/* Append the LEEF 2.0 line for ev to out, without a trailing newline and without any syslog
 * header.
 *
 * ev: any stream; its record (raw bytes or tree, dfw_event_record_get: parsed once per call when
 *     the event has only bytes) may be absent or of any JSON type: missing, null or mistyped fields
 *     are left out. Read only; nothing of ev is kept after the call.
 * max_len: a limit in bytes of the line (syslog over UDP), or 0 for no limit. When the full line
 *     is longer, attribute values are shortened or dropped, least important first, never inside
 *     a UTF-8 character, and DFW_LEEF_TRUNC_MARKER is added. The header is never cut.
 * out: appended to; the caller owns it. On any error out is left as it was (same length).
 *
 * LEEF defines no escape sequences, so the line is made safe by replacement: it is valid UTF-8
 * (invalid bytes become '?') and holds no CR, LF or other control character; in header fields
 * '|' and control characters become a space; in attribute values TAB, CR and LF become a space
 * and other control characters are dropped. An alert text can therefore neither end the line nor
 * start an attribute. Keys are fixed by us, never taken from the data.
 * Returns DFW_OK, DFW_ERR_NOMEM, or DFW_ERR_INVALID when max_len is too small for any line. */
dfw_err dfw_leef_format(const struct dfw_event *ev, size_t max_len, struct dfw_buf *out);

#endif
