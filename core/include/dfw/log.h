/* Leveled key=value logging to stderr. */
#ifndef DFW_LOG_H
#define DFW_LOG_H

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
 * and should itself be key=value pairs (tenant=, stream=, output= for lines about them). CR and LF
 * in the formatted message are replaced so one call is always one line. Never pass a secret or a
 * token. Thread-safe (one write(2) per line). */
void dfw_log(enum dfw_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
