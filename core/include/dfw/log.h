/* Leveled key=value logging to stderr, with escaping for values from outside. */
#ifndef DFW_LOG_H
#define DFW_LOG_H

#include <stddef.h>

enum dfw_log_level { DFW_LOG_ERROR = 0, DFW_LOG_WARN = 1, DFW_LOG_INFO = 2, DFW_LOG_DEBUG = 3 };

/* Set the most verbose level that is written (default DFW_LOG_INFO). Not thread-safe: call at
 * start-up. */
void dfw_log_set_level(enum dfw_log_level level);

/* The level set last (DFW_LOG_INFO until set). */
enum dfw_log_level dfw_log_get_level(void);

/* Where lines go instead of stderr: a host (syslog-ng, rsyslog) sends them to its own log. The
 * sink gets the level, the component and the key=value message (no time stamp, no newline: CR/LF
 * already replaced); the strings are valid only during the call. It is called from whichever
 * thread logs and must be thread-safe. fn NULL restores stderr. Not thread-safe: call before
 * threads that log start (a module's init). */
typedef void (*dfw_log_sink_fn)(void *ctx,
                                enum dfw_log_level level,
                                const char *component,
                                const char *message);
void dfw_log_set_sink(dfw_log_sink_fn fn, void *ctx);

/* Parse "error", "warn", "info", "debug". Returns 0 and sets *out, or -1 for an unknown name. */
int dfw_log_level_parse(const char *name, enum dfw_log_level *out);

/* Write one line: "<UTC time> level=<l> component=<c> <message>". The message is printf-formatted
 * and should itself be key=value pairs (tenant=, stream=, output= for lines about them). A value
 * that comes from outside (the API, a server, the configuration, an output's library) goes
 * through DFW_LOG_VAL (after key=) or DFW_LOG_ESC (inside key="..."), so that it cannot end its
 * value, add a key or start a line. As a last guard, a control character (0x00-0x1f, 0x7f) or a
 * byte that is not well-formed UTF-8 left in the formatted message is written as \xHH, so one
 * call is always one line and none reaches the terminal or journal raw. Lines longer than 2 KiB
 * are cut. Never pass a secret or a token. Thread-safe (one write(2) per line). */
void dfw_log(enum dfw_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Bytes of the buffers DFW_LOG_ESC and DFW_LOG_VAL use: longer values are cut (ending "..."). */
#define DFW_LOG_VALUE_MAX 512

/* Escape value for the inside of a quoted log value (key="..."): '\' and '"' get a backslash, CR,
 * LF and TAB become \r, \n, \t, any other control character (0x00-0x1f, 0x7f) and every byte that
 * is not well-formed UTF-8 (dfw/utf8.h) becomes \xHH. NULL is written as "". When out is too
 * small, the result is cut at a character boundary and ends with "..."; outlen < 4 gives "". Always
 * NUL-terminated. Returns out. Pure and thread-safe. Undo it by reading \\, \", \r, \n, \t and
 * \xHH. */
const char *dfw_log_esc(const char *value, char *out, size_t outlen);

/* A log value for after "key=": value itself when it is non-empty and only holds A-Z a-z 0-9
 * and . _ - : / @ + (names, GUIDs, ids, paths, plain URLs); else the value quoted and escaped as
 * dfw_log_esc does ("a b", "\"x\""). NULL is "-". Cut as dfw_log_esc when out is too small
 * (outlen < 6 gives two quotes). Returns out, or a static string. Pure and thread-safe. */
const char *dfw_log_val(const char *value, char *out, size_t outlen);

/* dfw_log_esc / dfw_log_val into a buffer that lives until the end of the enclosing block, for use
 * as an argument of dfw_log: dfw_log(..., "host=%s error=\"%s\"", DFW_LOG_VAL(h),
 * DFW_LOG_ESC(e)). */
#define DFW_LOG_ESC(value) dfw_log_esc((value), (char[DFW_LOG_VALUE_MAX]){0}, DFW_LOG_VALUE_MAX)
#define DFW_LOG_VAL(value) dfw_log_val((value), (char[DFW_LOG_VALUE_MAX]){0}, DFW_LOG_VALUE_MAX)

#endif
