#include "cli.h"
#include "dfw/engine.h"
#include "dfw/log.h"
#include "dfw/state.h"
#include "dfw/stream.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct dfw_engine *running;

static void on_signal(int sig)
{
    if (running == NULL) {
        return;
    }
    if (sig == SIGHUP) {
        dfw_engine_request_reload(running);
    }
    else {
        dfw_engine_stop(running);
    }
}

/* Configurations loaded by reloads: the engine borrows them until it is freed. */
struct reloads {
    const char *path;
    struct dfw_config **cfgs;
    size_t n;
};

static const struct dfw_config *reload(void *ctx, char *errbuf, size_t errlen)
{
    struct reloads *r = ctx;
    struct dfw_config **grown = realloc(r->cfgs, (r->n + 1) * sizeof(*grown));
    if (grown == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    r->cfgs = grown;
    struct dfw_config *cfg = dfw_config_load(r->path, errbuf, errlen);
    if (cfg == NULL) {
        return NULL;
    }
    r->cfgs[r->n++] = cfg;
    dfw_stream_warn_retired(cfg); /* a legacy stream listed again is warned about again */
    return cfg;
}

int cmd_run(const struct dfw_config *cfg, const char *path, int argc, char **argv)
{
    int once = 0, progress = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0) {
            once = 1;
        }
        else if (strcmp(argv[i], "--progress") == 0) {
            progress = 1;
        }
        else if (strcmp(argv[i], "--no-progress") == 0) {
            progress = 0;
        }
        else {
            fprintf(stderr, "defender-forwarder: run: unknown argument %s\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (progress < 0) {
        progress = once && isatty(STDERR_FILENO);
    }
    if (cfg->noutputs == 0) {
        fprintf(stderr,
                "defender-forwarder: no [output NAME] section: run needs at least one output "
                "(a configuration without outputs is for the syslog-ng and rsyslog "
                "modules)\n");
        return EXIT_USAGE;
    }
    dfw_stream_warn_retired(cfg);
    char err[1024];
    struct dfw_state *st = dfw_state_open(cfg->state_dir, 1, err, sizeof(err));
    if (st == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    struct dfw_output *outs = cli_outputs_new(cfg, 1);
    if (outs == NULL) {
        dfw_state_close(st);
        return EXIT_USAGE;
    }
    struct dfw_engine *e = dfw_engine_new(cfg, outs, cfg->noutputs, st, err, sizeof(err));
    if (e == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        cli_outputs_free(outs, cfg->noutputs);
        dfw_state_close(st);
        return EXIT_RUNTIME;
    }
    struct reloads reloads = {path, NULL, 0};
    dfw_engine_set_reload(e, reload, &reloads);
    running = e;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    dfw_log(DFW_LOG_INFO, "engine", "msg=\"starting\" tenants=%zu outputs=%zu once=%d",
            cfg->ntenants, cfg->noutputs, once);
    dfw_err rc = dfw_engine_run(e, once, progress);
    struct dfw_engine_summary s;
    dfw_engine_get_summary(e, &s);
    double secs = (double)s.elapsed_ms / 1000.0;
    fprintf(
        once ? stdout : stderr,
        "summary: tenants=%zu streams=%zu failed=%zu records=%llu delivered=%llu "
        "duplicates=%llu late=%llu bytes=%llu api_calls=%llu throttled=%llu token_requests=%llu "
        "seconds=%.1f rate=%.0f/s\n",
        s.tenants, s.jobs, s.jobs_failed, (unsigned long long)s.fetched,
        (unsigned long long)s.delivered, (unsigned long long)s.duplicates,
        (unsigned long long)s.late, (unsigned long long)s.bytes, (unsigned long long)s.api_calls,
        (unsigned long long)s.throttled, (unsigned long long)s.token_requests, secs,
        secs > 0 ? (double)s.delivered / secs : 0.0);
    running = NULL;
    dfw_engine_free(e);
    for (size_t i = 0; i < reloads.n; i++) {
        dfw_config_free(reloads.cfgs[i]);
    }
    free(reloads.cfgs);
    cli_outputs_free(outs, cfg->noutputs);
    dfw_state_close(st);
    if (rc != DFW_OK) {
        if (s.jobs_failed == 0) {
            fprintf(stderr, "defender-forwarder: interrupted before every stream was read; the "
                            "checkpoints keep what was delivered\n");
        }
        else {
            fprintf(stderr, "defender-forwarder: %zu stream(s) failed (%s); see the errors above\n",
                    s.jobs_failed, dfw_strerror(rc));
        }
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
