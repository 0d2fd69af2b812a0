/* The embedding life cycle: config, state lock and engine for a host; the loop thread. */
#include "embed_internal.h"
#include "dfw/http.h"
#include "dfw/log.h"
#include "dfw/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dfw_err dfw_embed_global_init(void)
{
    return dfw_http_global_init();
}

static struct dfw_config *load_config(const struct dfw_embed_opts *o, char *errbuf, size_t errlen)
{
    if ((o->config_file != NULL) == (o->settings != NULL)) {
        dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                   "give either a configuration file or settings (not both, not neither)");
        return NULL;
    }
    struct dfw_config *cfg =
        o->config_file != NULL
            ? dfw_config_load_flags(o->config_file, DFW_CONFIG_NO_OUTPUTS, errbuf, errlen)
            : dfw_config_from_settings(o->settings, o->nsettings, o->settings_origin,
                                       DFW_CONFIG_NO_OUTPUTS, errbuf, errlen);
    if (cfg != NULL && cfg->noutputs > 0) {
        const struct dfw_output_conf *oc = &cfg->outputs[0];
        dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                   "%s:%d: [output %s]: outputs are not used inside %s (its destinations receive "
                   "the events); remove the section",
                   oc->file, oc->line, oc->name, o->host.name ? o->host.name : "a log daemon");
        dfw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct dfw_embed *dfw_embed_new(const struct dfw_embed_opts *o, char *errbuf, size_t errlen)
{
    if (o == NULL || o->host.submit == NULL) {
        dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "no host submit callback");
        return NULL;
    }
    struct dfw_embed *em = calloc(1, sizeof(*em));
    struct shell *s = calloc(1, sizeof(*s));
    char *name = strdup(o->host.name ? o->host.name : "host");
    if (em == NULL || s == NULL || name == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        free(em);
        free(s);
        free(name);
        return NULL;
    }
    s->refs = 1;
    s->em = em;
    em->shell = s;
    em->host = o->host;
    em->host_name = name;
    em->host.name = name;
    em->format = o->format;
    em->cfg = load_config(o, errbuf, errlen);
    if (em->cfg == NULL) {
        dfw_embed_free(em);
        return NULL;
    }
    enum dfw_log_level level;
    if (em->cfg->log_level != NULL && dfw_log_level_parse(em->cfg->log_level, &level) == 0) {
        dfw_log_set_level(level);
    }
    em->state = dfw_state_open(em->cfg->state_dir, 1, errbuf, errlen);
    if (em->state == NULL) {
        dfw_embed_free(em);
        return NULL;
    }
    em->out.plugin = &dfw__embed_output;
    em->out.name = em->host_name;
    em->out.self = em;
    em->engine = dfw_engine_new(em->cfg, &em->out, 1, em->state, errbuf, errlen);
    if (em->engine == NULL) {
        dfw_embed_free(em);
        return NULL;
    }
    dfw_engine_set_stop_grace(em->engine, o->stop_grace_ms);
    return em;
}

static void *loop_thread(void *arg)
{
    struct dfw_embed *em = arg;
    dfw_log(DFW_LOG_INFO, "engine", "msg=\"starting inside %s\" tenants=%zu", em->host_name,
            em->cfg->ntenants);
    dfw_err rc = dfw_engine_run(em->engine, 0, 0);
    dfw_log(rc == DFW_OK ? DFW_LOG_INFO : DFW_LOG_WARN, "engine", "msg=\"stopped\" result=\"%s\"",
            dfw_strerror(rc));
    return NULL;
}

dfw_err dfw_embed_start(struct dfw_embed *em)
{
    if (em == NULL || em->running) {
        return DFW_ERR_INVALID;
    }
    int rc = pthread_create(&em->thread, NULL, loop_thread, em);
    if (rc != 0) {
        dfw_log(DFW_LOG_ERROR, "engine", "msg=\"cannot start the loop thread: %s\"", strerror(rc));
        return DFW_ERR_NOMEM;
    }
    em->running = 1;
    return DFW_OK;
}

size_t dfw_embed_warn_retired(const struct dfw_embed *em)
{
    return em != NULL ? dfw_stream_warn_retired(em->cfg) : 0; /* they stop after 1 Feb 2027 */
}

void dfw_embed_stop(struct dfw_embed *em)
{
    if (em == NULL || !em->running) {
        return;
    }
    dfw_engine_stop(em->engine);
    dfw_engine_wakeup(em->engine);
    pthread_join(em->thread, NULL);
    em->running = 0;
}

void dfw_embed_free(struct dfw_embed *em)
{
    if (em == NULL) {
        return;
    }
    dfw_embed_stop(em);
    struct shell *s = em->shell;
    pthread_mutex_lock(&s->lock);
    s->em = NULL; /* from now on dfw_embed_ack only frees */
    struct batch *list = s->acked;
    s->acked = s->acked_tail = NULL;
    size_t dropped = 0;
    for (struct batch *b = list; b != NULL; b = b->next) {
        dropped++;
    }
    s->refs -= dropped + 1;
    int last = s->refs == 0;
    pthread_mutex_unlock(&s->lock);
    while (list != NULL) {
        struct batch *b = list;
        list = b->next;
        dfw__embed_batch_free(b);
    }
    if (last) {
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
    dfw_engine_free(em->engine);
    dfw_state_close(em->state);
    dfw_config_free(em->cfg);
    free(em->host_name);
    free(em);
}
