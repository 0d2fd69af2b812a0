/* imdefender's instance (one per input()) and its helpers: the queue between the engine's loop
 * thread and rsyslog's input thread, settings, message properties. */
#ifndef IMDEFENDER_H
#define IMDEFENDER_H

#include <stddef.h>

#include "dfw/config.h"
#include "dfw/embed.h"
#include "dfw/log.h"

struct json_object; /* libfastjson's, through rsyslog's json.h */

/* Batches an engine handed over and the input thread has not submitted yet (FIFO). Guarded by
 * imdefender.c's queue_lock. */
struct imdefender_queue {
    struct dfw_embed_batch **items;
    size_t head, count, cap;
    size_t msgs; /* messages in the queued batches */
};

/* settings=["SECTION/KEY=VALUE", ...], parsed: items point into owned (3 strings each). */
struct imdefender_settings {
    struct dfw_config_setting *items;
    char **owned;
    size_t count;
};

typedef struct instanceConf_s instanceConf_t;
struct instanceConf_s {
    char *config_file;
    struct imdefender_settings settings;
    unsigned char *pszBindRuleset;
    struct ruleset_s *pBindRuleset; /* NULL: the default ruleset */
    enum dfw_embed_format format;
    struct ratelimit_s *ratelimiter;
    struct dfw_embed *em;
    struct imdefender_queue queue;
    instanceConf_t *next;
};

/* Take a batch: DFW_OK, or DFW_ERR_BUSY when a batch is queued and too many messages wait. */
dfw_err imdefender_queue_push(struct imdefender_queue *q, struct dfw_embed_batch *b);
/* The oldest batch, or NULL. */
struct dfw_embed_batch *imdefender_queue_pop(struct imdefender_queue *q);

/* "json" or "cef" into *out: 1, or 0 for anything else. */
int imdefender_parse_format(const char *s, enum dfw_embed_format *out);

/* Add "SECTION/KEY=VALUE" (copied): 1, or 0 when it has not that shape. */
int imdefender_settings_add(struct imdefender_settings *s, const char *text);

/* LOG_ERR for high, LOG_WARNING medium, LOG_NOTICE low, LOG_INFO anything else. */
int imdefender_syslog_severity(const char *severity);

/* {"tenant": ..., "last_update": ...} for $!defender; NULL out of memory. */
struct json_object *imdefender_properties(const struct dfw_embed_msg *m);

/* Build the instance's engine (dfw_embed_new) with submit as its host: DFW_OK or an error with
 * the reason in errbuf. */
dfw_err imdefender_instance_create(instanceConf_t *inst,
                                   dfw_err (*submit)(void *, struct dfw_embed_batch *),
                                   char *errbuf,
                                   size_t errlen);

/* Stop and free the engine, give back queued batches, free the instance. */
void imdefender_instance_free(instanceConf_t *inst);

#endif
