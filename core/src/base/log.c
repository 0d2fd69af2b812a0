#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum dfw_log_level max_level = DFW_LOG_INFO;
static dfw_log_sink_fn sink;
static void *sink_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void dfw_log_set_level(enum dfw_log_level level)
{
    max_level = level;
}

enum dfw_log_level dfw_log_get_level(void)
{
    return max_level;
}

void dfw_log_set_sink(dfw_log_sink_fn fn, void *ctx)
{
    sink = fn;
    sink_ctx = ctx;
}

int dfw_log_level_parse(const char *name, enum dfw_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum dfw_log_level)i;
            return 0;
        }
    }
    return -1;
}

void dfw_log(enum dfw_log_level level, const char *component, const char *fmt, ...)
{
    if (level > max_level) {
        return;
    }
    char line[2048];
    char ts[DFW_TIME_LEN];
    dfw_time_format(dfw_now_ms(), ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "%s level=%s component=%s ", ts, level_names[level],
                     component);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0) {
        return;
    }
    size_t len = strlen(line);
    /* one call is one line: a newline inside data must not forge a second log line */
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r') {
            line[i] = ' ';
        }
    }
    if (sink != NULL) {
        line[len] = '\0';
        sink(sink_ctx, level, component, line + n);
        return;
    }
    if (len + 1 < sizeof(line)) {
        line[len++] = '\n';
    }
    else {
        line[sizeof(line) - 2] = '\n';
        len = sizeof(line) - 1;
    }
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
