/* imdefender's instance helpers (see imdefender.h). */
#include "config.h"
#include "rsyslog.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "msg.h" /* libfastjson's json.h */
#include "ratelimit.h"

#include "imdefender.h"

/* Messages queued before submit says "busy": the input thread is behind. */
#define MAX_QUEUED_MSGS 20000

dfw_err imdefender_queue_push(struct imdefender_queue *q, struct dfw_embed_batch *b)
{
    if (q->count > 0 && q->msgs + b->count > MAX_QUEUED_MSGS) {
        return DFW_ERR_BUSY;
    }
    if (q->count == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 16;
        struct dfw_embed_batch **n = malloc(ncap * sizeof(*n));
        if (n == NULL) {
            return DFW_ERR_NOMEM;
        }
        for (size_t i = 0; i < q->count; i++) {
            n[i] = q->items[(q->head + i) % q->cap];
        }
        free(q->items);
        q->items = n;
        q->head = 0;
        q->cap = ncap;
    }
    q->items[(q->head + q->count) % q->cap] = b;
    q->count++;
    q->msgs += b->count;
    return DFW_OK;
}

struct dfw_embed_batch *imdefender_queue_pop(struct imdefender_queue *q)
{
    if (q->count == 0) {
        return NULL;
    }
    struct dfw_embed_batch *b = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->msgs -= b->count;
    return b;
}

int imdefender_parse_format(const char *s, enum dfw_embed_format *out)
{
    if (strcmp(s, "json") == 0) {
        *out = DFW_EMBED_JSON;
        return 1;
    }
    if (strcmp(s, "cef") == 0) {
        *out = DFW_EMBED_CEF;
        return 1;
    }
    return 0;
}

int imdefender_settings_add(struct imdefender_settings *s, const char *text)
{
    const char *slash = strchr(text, '/');
    const char *eq = slash ? strchr(slash, '=') : NULL;
    if (slash == NULL || slash == text || eq == NULL || eq == slash + 1) {
        return 0;
    }
    struct dfw_config_setting *n = realloc(s->items, (s->count + 1) * sizeof(*n));
    if (n == NULL) {
        return 0;
    }
    s->items = n;
    char **o = realloc(s->owned, (s->count + 1) * 3 * sizeof(*o));
    if (o == NULL) {
        return 0;
    }
    s->owned = o;
    char *section = strndup(text, (size_t)(slash - text));
    char *key = strndup(slash + 1, (size_t)(eq - slash - 1));
    char *value = strdup(eq + 1);
    if (section == NULL || key == NULL || value == NULL) {
        free(section);
        free(key);
        free(value);
        return 0;
    }
    s->owned[s->count * 3] = section;
    s->owned[s->count * 3 + 1] = key;
    s->owned[s->count * 3 + 2] = value;
    s->items[s->count++] = (struct dfw_config_setting){section, key, value};
    return 1;
}

int imdefender_syslog_severity(const char *sev)
{
    if (strcasecmp(sev, "high") == 0) {
        return LOG_ERR;
    }
    if (strcasecmp(sev, "medium") == 0) {
        return LOG_WARNING;
    }
    if (strcasecmp(sev, "low") == 0) {
        return LOG_NOTICE;
    }
    return LOG_INFO;
}

struct json_object *imdefender_properties(const struct dfw_embed_msg *m)
{
    struct json_object *o = json_object_new_object();
    if (o == NULL) {
        return NULL;
    }
    const char *names[] = {"tenant", "tenant_id", "stream", "kind",
                           "id",     "severity",  "title",  "last_update"};
    const char *values[] = {m->tenant, m->tenant_id, m->stream, m->kind,
                            m->id,     m->severity,  m->title,  m->last_update};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct json_object *v = json_object_new_string(values[i]);
        if (v == NULL) {
            json_object_put(o);
            return NULL;
        }
        json_object_object_add(o, names[i], v);
    }
    return o;
}

dfw_err imdefender_instance_create(instanceConf_t *inst,
                                   dfw_err (*submit)(void *, struct dfw_embed_batch *),
                                   char *errbuf,
                                   size_t errlen)
{
    struct dfw_embed_opts opts = {
        .config_file = inst->config_file,
        .settings = inst->settings.count ? inst->settings.items : NULL,
        .nsettings = inst->settings.count,
        .settings_origin = "imdefender settings",
        .format = inst->format,
        .stop_grace_ms = 0, /* rsyslog gives inputs one second to stop */
        .host = {.name = "rsyslog", .ctx = inst, .submit = submit},
    };
    inst->em = dfw_embed_new(&opts, errbuf, errlen);
    dfw_embed_warn_retired(inst->em); /* rsyslog keeps start-up messages for its rulesets */
    return inst->em != NULL ? DFW_OK : DFW_ERR_CONFIG;
}

void imdefender_instance_free(instanceConf_t *inst)
{
    dfw_embed_free(inst->em);
    struct dfw_embed_batch *b;
    while ((b = imdefender_queue_pop(&inst->queue)) != NULL) {
        dfw_embed_ack(b, DFW_ERR_RETRY);
    }
    free(inst->queue.items);
    for (size_t i = 0; i < inst->settings.count * 3; i++) {
        free(inst->settings.owned[i]);
    }
    free(inst->settings.owned);
    free(inst->settings.items);
    free(inst->config_file);
    free(inst->pszBindRuleset);
    if (inst->ratelimiter != NULL) {
        ratelimitDestruct(inst->ratelimiter);
    }
    free(inst);
}
