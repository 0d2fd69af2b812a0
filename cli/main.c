/* defender-forwarder: argument parsing and dispatch; the work is in libdfw. */
#include "cli.h"
#include "dfw/http.h"
#include "dfw/log.h"
#include "registry.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: defender-forwarder [-c FILE] COMMAND [ARGS]\n"
        "\n"
        "Forward Microsoft Defender incidents and alerts to a SIEM (syslog CEF/LEEF/JSON, Kafka,\n"
        "Splunk HEC, files).\n"
        "\n"
        "Commands:\n"
        "  run [--once] [--progress|--no-progress]\n"
        "                             poll every tenant and stream and deliver to the outputs;\n"
        "                             --once: read up to now, wait for acknowledgements,\n"
        "                             print a summary and exit (for timers and cron)\n"
        "  check-config               validate the configuration, the outputs and the secrets\n"
        "  token TENANT               get access tokens, print their kind and claims (tid, aud,\n"
        "                             roles or scp, exp) and the permissions the streams lack\n"
        "  consent-url TENANT [--redirect-uri URI]\n"
        "                             print the admin-consent URLs for the tenant's admin and\n"
        "                             the Defender portal step\n"
        "  authorize TENANT [--port N] [--no-browser] [--timeout DURATION]\n"
        "                             MSSP delegated access: sign in to the tenant (code flow\n"
        "                             with PKCE) and store the refresh token\n"
        "  onboard [--json]           check every tenant: token, kind, permission and one API\n"
        "                             call per stream; a table (or JSON); exit 1 unless all ready\n"
        "  state show [TENANT]        print the checkpoints\n"
        "  state reset [TENANT [STREAM]]  delete checkpoints (re-reads initial_lookback)\n"
        "  state migrate [TENANT [STREAM]]\n"
        "                             start graph-incidents / graph-alerts at the checkpoint of\n"
        "                             m365d-incidents / mde-alerts (before their first run)\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE  configuration file (default %s)\n"
        "  -v, --verbose      debug logging\n"
        "  -h, --help         this help\n"
        "  -V, --version      print the version\n"
        "\n"
        "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n"
        "Outputs in this build:",
        DEFAULT_CONFIG);
    for (size_t i = 0; dfw_output_registry[i] != NULL; i++) {
        fprintf(out, " %s", dfw_output_registry[i]->name);
    }
    fprintf(out, "\nSee defender-forwarder(1) and defender-forwarder.conf(5).\n");
}

int main(int argc, char **argv)
{
    /* Buffers of 1 MiB and more (response bodies, pages of 24 MB) are mmap'd whatever glibc has
     * freed before: its dynamic threshold would otherwise rise to the size of the last page freed,
     * and the next body would grow on the heap by copying, old and new copy resident at once
     * (bench/throughput, docs/performance.md). Only the CLI: a module leaves its host's
     * allocator alone. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /* No fastbins: when pages were json-c trees, freeing their millions of small chunks ended in
     * malloc_consolidate (83 -> 60 CPU-us/record into /dev/null). Pages are no trees now and the
     * difference is within the bench's noise; kept, as it costs nothing measurable. */
    mallopt(M_MXFAST, 0);
    const char *config = DEFAULT_CONFIG;
    int verbose = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("defender-forwarder %s\n", DFW_VERSION);
            return EXIT_OK;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = 1;
        }
        else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            config = argv[++i];
        }
        else {
            fprintf(stderr, "defender-forwarder: unknown option %s (try --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[i];
    int cargc = argc - i - 1;
    char **cargv = argv + i + 1;
    if (strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    static const char *const known[] = {"run",   "check-config", "token",  "consent-url",
                                        "state", "authorize",    "onboard"};
    size_t k;
    for (k = 0; k < sizeof(known) / sizeof(known[0]) && strcmp(cmd, known[k]) != 0; k++) {
    }
    if (k == sizeof(known) / sizeof(known[0])) {
        fprintf(stderr, "defender-forwarder: unknown command '%s' (try --help)\n", cmd);
        return EXIT_USAGE;
    }
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    if (dfw_http_global_init() != DFW_OK) {
        fprintf(stderr, "defender-forwarder: cannot initialise libcurl\n");
        return EXIT_RUNTIME;
    }
    struct dfw_config *cfg = cli_load_config(config);
    if (cfg == NULL) {
        return EXIT_USAGE;
    }
    if (verbose) {
        dfw_log_set_level(DFW_LOG_DEBUG);
    }
    int rc;
    if (strcmp(cmd, "run") == 0) {
        rc = cmd_run(cfg, config, cargc, cargv);
    }
    else if (strcmp(cmd, "check-config") == 0) {
        rc = cmd_check_config(cfg, config);
    }
    else if (strcmp(cmd, "token") == 0) {
        rc = cmd_token(cfg, cargc, cargv);
    }
    else if (strcmp(cmd, "consent-url") == 0) {
        rc = cmd_consent_url(cfg, cargc, cargv);
    }
    else if (strcmp(cmd, "authorize") == 0) {
        rc = cmd_authorize(cfg, cargc, cargv);
    }
    else if (strcmp(cmd, "onboard") == 0) {
        rc = cmd_onboard(cfg, cargc, cargv);
    }
    else {
        rc = cmd_state(cfg, cargc, cargv);
    }
    dfw_config_free(cfg);
    return rc;
}
