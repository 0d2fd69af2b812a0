#include "cli.h"
#include "dfw/state.h"
#include "dfw/stream.h"

#include <stdio.h>
#include <string.h>

int cmd_state(const struct dfw_config *cfg, int argc, char **argv)
{
    if (argc < 1 || (strcmp(argv[0], "show") != 0 && strcmp(argv[0], "reset") != 0) || argc > 3 ||
        (strcmp(argv[0], "show") == 0 && argc > 2)) {
        fprintf(stderr,
                "usage: defender-forwarder state show [TENANT] | reset [TENANT [STREAM]]\n");
        return EXIT_USAGE;
    }
    const char *tenant = argc > 1 ? argv[1] : NULL;
    const char *stream = argc > 2 ? argv[2] : NULL;
    if (tenant != NULL && dfw_config_tenant(cfg, tenant) == NULL) {
        fprintf(stderr, "defender-forwarder: no [tenant %s] in the configuration\n", tenant);
        return EXIT_USAGE;
    }
    if (stream != NULL && dfw_stream_find(stream) == NULL) {
        fprintf(stderr,
                "defender-forwarder: unknown stream '%s' (m365d-incidents, mde-alerts, "
                "graph-alerts)\n",
                stream);
        return EXIT_USAGE;
    }
    int reset = strcmp(argv[0], "reset") == 0;
    char err[1024];
    struct dfw_state *st = dfw_state_open(cfg->state_dir, reset, err, sizeof(err));
    if (st == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    dfw_err rc;
    if (reset) {
        size_t removed = 0;
        rc = dfw_state_reset(st, tenant, stream, &removed, err, sizeof(err));
        if (rc == DFW_OK) {
            printf("removed %zu checkpoint(s); the next run starts initial_lookback back\n",
                   removed);
        }
    }
    else {
        rc = dfw_state_show(st, tenant, stdout, err, sizeof(err));
    }
    dfw_state_close(st);
    if (rc != DFW_OK) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}
