/* The defender() source driver: the forwarder's engine runs inside syslog-ng; every fetched alert
 * or incident becomes a LogMessage, and the checkpoint moves when syslog-ng acknowledged every
 * message of a batch (defender-ledger.h). docs/syslog-ng.md. */
#ifndef DEFENDER_SOURCE_H
#define DEFENDER_SOURCE_H

#include "syslog-ng.h"
#include "driver.h"

LogDriver *defender_sd_new(GlobalConfig *cfg);

/* config("FILE"): a defender-forwarder.conf(5) without [output] sections. */
void defender_sd_set_config_file(LogDriver *s, const gchar *path);

/* setting("SECTION/KEY" "VALUE") instead of config(): FALSE when name has no '/'. */
gboolean defender_sd_add_setting(LogDriver *s, const gchar *name, const gchar *value);

/* format(json|cef): FALSE for anything else. */
gboolean defender_sd_set_format(LogDriver *s, const gchar *format);

#endif
