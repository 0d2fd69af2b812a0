#include "cli.h"
#include "dfw/log.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>

struct dfw_config *cli_load_config(const char *path)
{
    char err[1024];
    /* a file without [output] sections is valid: the syslog-ng and rsyslog modules use one, and
     * check-config, token and state work on it; run refuses it */
    struct dfw_config *cfg = dfw_config_load_flags(path, DFW_CONFIG_NO_OUTPUTS, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "defender-forwarder: %s\n", err);
        return NULL;
    }
    enum dfw_log_level level;
    if (cfg->log_level != NULL && dfw_log_level_parse(cfg->log_level, &level) == 0) {
        dfw_log_set_level(level);
    }
    return cfg;
}

void cli_outputs_free(struct dfw_output *outs, size_t n)
{
    if (outs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (outs[i].plugin != NULL) {
            if (outs[i].self != NULL) {
                outs[i].plugin->destroy(outs[i].self);
            }
            dfw_output_conf_free(outs[i].plugin, outs[i].conf);
        }
    }
    free(outs);
}

struct dfw_output *cli_outputs_new(const struct dfw_config *cfg, int create)
{
    struct dfw_output *outs = calloc(cfg->noutputs ? cfg->noutputs : 1, sizeof(*outs));
    if (outs == NULL) {
        fprintf(stderr, "defender-forwarder: out of memory\n");
        return NULL;
    }
    char err[1024];
    for (size_t i = 0; i < cfg->noutputs; i++) {
        const struct dfw_output_conf *oc = &cfg->outputs[i];
        const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, oc->type);
        if (p == NULL) {
            fprintf(stderr,
                    "defender-forwarder: %s:%d: output %s: type '%s' is not built in "
                    "(see --help for the outputs of this build)\n",
                    oc->file, oc->line, oc->name, oc->type);
            cli_outputs_free(outs, cfg->noutputs);
            return NULL;
        }
        outs[i].plugin = p;
        outs[i].name = oc->name;
        if (dfw_output_conf_parse(p, oc->kvs, oc->nkvs, &outs[i].conf, err, sizeof(err)) !=
            DFW_OK) {
            fprintf(stderr, "defender-forwarder: %s (output %s at %s:%d)\n", err, oc->name,
                    oc->file, oc->line);
            cli_outputs_free(outs, cfg->noutputs);
            return NULL;
        }
        if (create) {
            outs[i].self = p->init(outs[i].conf, oc->name, err, sizeof(err));
            if (outs[i].self == NULL) {
                fprintf(stderr, "defender-forwarder: %s\n", err);
                cli_outputs_free(outs, cfg->noutputs);
                return NULL;
            }
        }
    }
    return outs;
}
