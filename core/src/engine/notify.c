/* systemd integration (sd_notify(3), libsystemd): READY=1 once the loop runs, STATUS= with a
 * one-line summary, WATCHDOG=1 from the loop at half of WatchdogSec= (so a stuck loop is
 * restarted), STOPPING=1 on the way out. Without NOTIFY_SOCKET (not under systemd) every call is a
 * no-op. */
#include "engine_internal.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

void dfw__notify_start(struct dfw_engine *e, int64_t now)
{
    uint64_t usec = 0;
    e->watchdog_ms = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 2000) : 0;
    e->next_watchdog = now;
    sd_notifyf(0, "READY=1\nSTATUS=%zu tenants, %zu streams: reading", e->ntenants, e->njobs);
}

void dfw__notify_turn(struct dfw_engine *e, int64_t now)
{
    if (e->watchdog_ms > 0 && now >= e->next_watchdog) {
        sd_notify(0, "WATCHDOG=1");
        e->next_watchdog = now + e->watchdog_ms;
    }
}

void dfw__notify_status(const struct dfw_engine *e)
{
    struct dfw_engine_summary s;
    dfw_engine_get_summary(e, &s);
    sd_notifyf(0, "STATUS=%zu tenants, %zu streams (%zu failing), %llu events delivered", s.tenants,
               s.jobs, s.jobs_failed, (unsigned long long)s.delivered);
}

void dfw__notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}
