/* Shared pieces of the defender-forwarder commands. */
#ifndef DFW_CLI_H
#define DFW_CLI_H

#include "dfw/config.h"
#include "dfw/output.h"

/* Exit status (DESIGN.md §7). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define DEFAULT_CONFIG "/etc/defender-forwarder/defender-forwarder.conf"

/* Load the config and set the log level; prints the error and returns NULL on failure. */
struct dfw_config *cli_load_config(const char *path);

/* Parse and create every output of cfg; with create == 0 only validate the options.
 * Returns the array (free with cli_outputs_free) or NULL after printing the error. */
struct dfw_output *cli_outputs_new(const struct dfw_config *cfg, int create);
void cli_outputs_free(struct dfw_output *outs, size_t n);

/* path: the configuration file, read again on SIGHUP (reload). */
int cmd_run(const struct dfw_config *cfg, const char *path, int argc, char **argv);
int cmd_check_config(const struct dfw_config *cfg, const char *path);
int cmd_token(const struct dfw_config *cfg, int argc, char **argv);
int cmd_consent_url(const struct dfw_config *cfg, int argc, char **argv);
int cmd_authorize(const struct dfw_config *cfg, int argc, char **argv);
int cmd_onboard(const struct dfw_config *cfg, int argc, char **argv);
int cmd_state(const struct dfw_config *cfg, int argc, char **argv);

#endif
