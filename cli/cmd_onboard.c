/* `onboard [--json] [--progress|--no-progress]`: every tenant's readiness (dfw/onboard.h). */
#include "cli.h"
#include "dfw/log.h"
#include "dfw/onboard.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Above this many tenants the progress line is on even without a terminal. */
#define PROGRESS_TENANTS 100

int cmd_onboard(const struct dfw_config *cfg, int argc, char **argv)
{
    int json = 0, progress = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        }
        else if (strcmp(argv[i], "--progress") == 0) {
            progress = 1;
        }
        else if (strcmp(argv[i], "--no-progress") == 0) {
            progress = 0;
        }
        else {
            fprintf(stderr, "defender-forwarder: onboard: unknown argument %s\n", argv[i]);
            fprintf(stderr,
                    "usage: defender-forwarder onboard [--json] [--progress|--no-progress]\n");
            return EXIT_USAGE;
        }
    }
    if (cfg->ntenants == 0) {
        fprintf(stderr, "defender-forwarder: onboard: no [tenant] in the configuration\n");
        return EXIT_USAGE;
    }
    /* one info line per token of thousands of tenants would bury the report */
    if (dfw_log_get_level() == DFW_LOG_INFO) {
        dfw_log_set_level(DFW_LOG_WARN);
    }
    struct dfw_onboard_opts opts = {progress};
    if (progress < 0) {
        opts.progress = isatty(STDERR_FILENO) || cfg->ntenants >= PROGRESS_TENANTS;
    }
    char err[1024];
    struct dfw_onboard_report *r = dfw_onboard_run(cfg, &opts, err, sizeof(err));
    if (r == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    if (json) {
        dfw_onboard_print_json(r, stdout);
    }
    else {
        dfw_onboard_print_table(r, stdout);
    }
    int ready = r->ready == r->ntenants;
    dfw_onboard_report_free(r);
    return ready ? EXIT_OK : EXIT_RUNTIME;
}
