#include "cli.h"
#include "dfw/auth.h"
#include "dfw/cloud.h"

#include <stdio.h>
#include <stdlib.h>

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
    return EXIT_OK;
}

int cmd_consent_url(const struct dfw_config *cfg, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: defender-forwarder consent-url TENANT\n");
        return EXIT_USAGE;
    }
    const struct dfw_tenant_conf *t = dfw_config_tenant(cfg, argv[0]);
    if (t == NULL) {
        fprintf(stderr, "defender-forwarder: no [tenant %s] in the configuration\n", argv[0]);
        return EXIT_USAGE;
    }
    const struct dfw_cloud *c = dfw_cloud_find(t->cloud ? t->cloud : "global");
    char *url = dfw_auth_consent_url(t->login_url ? t->login_url : c->login_url, t->client_id);
    if (url == NULL) {
        return EXIT_RUNTIME;
    }
    printf("%s\n", url);
    fprintf(stderr,
            "Send this URL to an administrator of tenant %s (%s): after signing in they "
            "grant admin consent to application %s.\n",
            t->name, t->tenant_id, t->client_id);
    free(url);
    return EXIT_OK;
}
