#include "cli.h"
#include "dfw/auth.h"
#include "dfw/cloud.h"
#include "dfw/consent.h"
#include "dfw/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_check_config(const struct dfw_config *cfg, const char *path)
{
    struct dfw_output *outs = cli_outputs_new(cfg, 0);
    if (outs == NULL) {
        return EXIT_USAGE;
    }
    cli_outputs_free(outs, cfg->noutputs);
    int bad = 0;
    char err[1024];
    for (size_t i = 0; i < cfg->ntenants; i++) {
        const struct dfw_tenant_conf *t = &cfg->tenants[i];
        const struct dfw_cloud *c = dfw_cloud_find(t->cloud ? t->cloud : "global");
        struct dfw_auth *a =
            dfw_auth_new(t, t->login_url ? t->login_url : c->login_url, err, sizeof(err));
        if (a == NULL) {
            fprintf(stderr, "defender-forwarder: %s\n", err);
            bad++;
        }
        dfw_auth_free(a);
    }
    if (bad) {
        return EXIT_USAGE;
    }
    printf("%s: OK (%zu tenant(s), %zu output(s), state_dir %s)\n", path, cfg->ntenants,
           cfg->noutputs, cfg->state_dir);
    /* valid, but reading an API that stops working after 1 Feb 2027 */
    for (size_t i = 0; dfw_streams[i] != NULL; i++) {
        const char *first;
        size_t n =
            dfw_streams[i]->retirement ? dfw_stream_tenants_using(cfg, dfw_streams[i], &first) : 0;
        if (n > 0) {
            printf("warning: %s; read by %zu tenant(s) (%s%s)\n", dfw_streams[i]->retirement, n,
                   first, n > 1 ? ", ..." : "");
        }
    }
    return EXIT_OK;
}

int cmd_consent_url(const struct dfw_config *cfg, int argc, char **argv)
{
    const char *tenant = NULL;
    const char *redirect = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--redirect-uri") == 0 && i + 1 < argc) {
            redirect = argv[++i];
        }
        else if (argv[i][0] != '-' && tenant == NULL) {
            tenant = argv[i];
        }
        else {
            tenant = NULL;
            break;
        }
    }
    if (tenant == NULL) {
        fprintf(stderr, "usage: defender-forwarder consent-url TENANT [--redirect-uri URI]\n");
        return EXIT_USAGE;
    }
    if (redirect != NULL && strncmp(redirect, "https://", 8) != 0 &&
        strncmp(redirect, "http://localhost", 16) != 0 &&
        strncmp(redirect, "http://127.0.0.1", 16) != 0) {
        fprintf(stderr, "defender-forwarder: consent-url: --redirect-uri must be https:// or "
                        "http://localhost (Entra ID accepts no other http redirect URI)\n");
        return EXIT_USAGE;
    }
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, tenant);
    if (t == NULL) {
        fprintf(stderr, "defender-forwarder: no [tenant %s] in the configuration\n", tenant);
        return EXIT_USAGE;
    }
    struct dfw_buf text = DFW_BUF_INIT;
    dfw_err rc = dfw_consent_instructions(t, redirect, &text);
    if (rc == DFW_OK) {
        fputs(text.data, stdout);
    }
    else {
        fprintf(stderr, "defender-forwarder: tenant %s: %s\n", tenant, dfw_strerror(rc));
    }
    dfw_buf_free(&text);
    return rc == DFW_OK ? EXIT_OK : EXIT_RUNTIME;
}
