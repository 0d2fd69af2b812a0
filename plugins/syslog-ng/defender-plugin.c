/* The defender module: registers the defender() source with syslog-ng (module_info is what
 * syslog-ng's plugin loader reads from libdefender.so). */
#include "cfg-parser.h"
#include "messages.h"
#include "plugin.h"
#include "plugin-types.h"

#include "dfw/embed.h"
#include "dfw/log.h"

extern CfgParser defender_parser;

static Plugin defender_plugins[] = {
    {
        .type = LL_CONTEXT_SOURCE,
        .name = "defender",
        .parser = &defender_parser,
    },
};

/* The forwarder's log lines go to syslog-ng's internal() source. */
static void
log_to_syslog_ng(void *ctx, enum dfw_log_level level, const char *component, const char *message)
{
    (void)ctx;
    switch (level) {
    case DFW_LOG_ERROR:
        msg_error("defender-forwarder", evt_tag_str("component", component),
                  evt_tag_str("message", message));
        break;
    case DFW_LOG_WARN:
        msg_warning("defender-forwarder", evt_tag_str("component", component),
                    evt_tag_str("message", message));
        break;
    case DFW_LOG_INFO:
        msg_info("defender-forwarder", evt_tag_str("component", component),
                 evt_tag_str("message", message));
        break;
    case DFW_LOG_DEBUG:
        msg_debug("defender-forwarder", evt_tag_str("component", component),
                  evt_tag_str("message", message));
        break;
    }
}

gboolean defender_module_init(PluginContext *context, CfgArgs *args);

gboolean defender_module_init(PluginContext *context, CfgArgs *args)
{
    (void)args;
    static gboolean global_done;
    if (!global_done) {
        if (dfw_embed_global_init() != DFW_OK) {
            msg_error("defender: cannot initialise libcurl");
            return FALSE;
        }
        dfw_log_set_sink(log_to_syslog_ng, NULL);
        global_done = TRUE;
    }
    plugin_register(context, defender_plugins, G_N_ELEMENTS(defender_plugins));
    return TRUE;
}

const ModuleInfo module_info = {
    .canonical_name = "defender",
    .version = SYSLOG_NG_VERSION,
    .description = "Microsoft Defender alerts and incidents (defender-forwarder) as a source",
    .core_revision = SYSLOG_NG_SOURCE_REVISION,
    .plugins = defender_plugins,
    .plugins_len = G_N_ELEMENTS(defender_plugins),
};
