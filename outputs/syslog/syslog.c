/* placeholder until the syslog output lands */
#include "dfw/output.h"
static const struct dfw_option syslog_options[] = {{NULL, 0, NULL, 0, NULL, 0, NULL}};
const struct dfw_output_plugin dfw_out_syslog_plugin = {.name = "syslog", .options = syslog_options};
