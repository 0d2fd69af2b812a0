/* The defender() source driver (see defender-source.h).
 *
 * Threads: the forwarder's engine loop runs on its own thread (dfw_embed_start) and hands each
 * batch to submit, which only queues it; the driver's worker thread (run) turns the queued
 * batches into LogMessages and posts them with log_threaded_source_blocking_post, which waits
 * while the source's window (log-iw-size) is full: syslog-ng's flow control reaches the engine as
 * back-pressure. Acknowledgements arrive on syslog-ng's threads through the bookmarks of the
 * consecutive ack tracker (defender-ledger.c). */
#include "defender-source.h"
#include "defender-ledger.h"

#include "ack-tracker/ack_tracker.h"
#include "ack-tracker/ack_tracker_factory.h"
#include "apphook.h"
#include "logmsg/logmsg.h"
#include "logthrsource/logthrsourcedrv.h"
#include "messages.h"

#include "dfw/embed.h"

#include <string.h>
#include <syslog.h>

/* Batches taken but not yet posted, in messages: beyond this submit answers "busy". */
#define MAX_QUEUED_MSGS 20000
#define PROGRAM_NAME    "defender-forwarder"

typedef struct _DefenderSourceDriver {
    LogThreadedSourceDriver super;
    gchar *config_file;
    GPtrArray *settings; /* gchar *: section, key, value, section, key, value, ... */
    enum dfw_embed_format format;
    struct dfw_embed *em;
    DefenderLedger *ledger;

    GMutex lock; /* guards what follows: the hand-over from the engine thread to the worker */
    GCond cond;
    GQueue *queue; /* struct dfw_embed_batch *, taken by submit, not yet posted */
    gsize queued_msgs;
    gboolean exit_requested;
} DefenderSourceDriver;

enum {
    NV_TENANT,
    NV_TENANT_ID,
    NV_STREAM,
    NV_KIND,
    NV_ID,
    NV_SEVERITY,
    NV_TITLE,
    NV_LAST_UPDATE,
    NV_COUNT
};
static const gchar *const nv_names[NV_COUNT] = {
    ".defender.tenant", ".defender.tenant_id", ".defender.stream", ".defender.kind",
    ".defender.id",     ".defender.severity",  ".defender.title",  ".defender.last_update",
};
static NVHandle nv_handles[NV_COUNT];

/* Syslog severity of a Defender severity: high err, medium warning, low notice, else info. */
static gint syslog_severity(const gchar *sev)
{
    if (g_ascii_strcasecmp(sev, "high") == 0) {
        return LOG_ERR;
    }
    if (g_ascii_strcasecmp(sev, "medium") == 0) {
        return LOG_WARNING;
    }
    if (g_ascii_strcasecmp(sev, "low") == 0) {
        return LOG_NOTICE;
    }
    return LOG_INFO;
}

static LogMessage *make_message(const struct dfw_embed_msg *m)
{
    LogMessage *msg = log_msg_new_empty();
    msg->flags |= LF_LOCAL; /* HOST: this host's name, as for other local sources */
    msg->pri = LOG_USER | syslog_severity(m->severity);
    log_msg_set_value(msg, LM_V_MESSAGE, m->text, (gssize)m->text_len);
    log_msg_set_value(msg, LM_V_PROGRAM, PROGRAM_NAME, -1);
    const gchar *values[NV_COUNT] = {m->tenant, m->tenant_id, m->stream, m->kind,
                                     m->id,     m->severity,  m->title,  m->last_update};
    for (gint i = 0; i < NV_COUNT; i++) {
        log_msg_set_value(msg, nv_handles[i], values[i], -1);
    }
    /* the record's last-update time is the message's time stamp (keep-timestamp(no) overrides) */
    UnixTime *stamp = &msg->timestamps[LM_TS_STAMP];
    stamp->ut_sec = m->time_ms / 1000;
    stamp->ut_usec = (guint32)(m->time_ms % 1000) * 1000;
    stamp->ut_gmtoff = 0;
    return msg;
}

/* On the engine's loop thread: queue the batch for the worker. */
static dfw_err submit(void *ctx, struct dfw_embed_batch *batch)
{
    DefenderSourceDriver *self = ctx;
    dfw_err rc = DFW_OK;
    g_mutex_lock(&self->lock);
    if (self->queued_msgs > 0 && self->queued_msgs + batch->count > MAX_QUEUED_MSGS) {
        rc = DFW_ERR_BUSY;
    }
    else {
        g_queue_push_tail(self->queue, batch);
        self->queued_msgs += batch->count;
        g_cond_signal(&self->cond);
    }
    g_mutex_unlock(&self->lock);
    return rc;
}

static struct dfw_embed_batch *next_batch(DefenderSourceDriver *self)
{
    struct dfw_embed_batch *b = NULL;
    g_mutex_lock(&self->lock);
    while (!self->exit_requested && g_queue_is_empty(self->queue)) {
        g_cond_wait(&self->cond, &self->lock);
    }
    if (!self->exit_requested) {
        b = g_queue_pop_head(self->queue);
        self->queued_msgs -= b->count;
    }
    g_mutex_unlock(&self->lock);
    return b;
}

static gboolean exiting(DefenderSourceDriver *self)
{
    g_mutex_lock(&self->lock);
    gboolean r = self->exit_requested;
    g_mutex_unlock(&self->lock);
    return r;
}

/* The worker thread. */
static void run(LogThreadedSourceDriver *s)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    AckTracker *tracker = self->super.worker->super.ack_tracker;
    struct dfw_embed_batch *b;
    while ((b = next_batch(self)) != NULL) {
        defender_ledger_begin(self->ledger, b); /* the ledger owns b now */
        gboolean complete = TRUE;
        for (size_t i = 0; i < b->count; i++) {
            if (exiting(self)) {
                complete = FALSE;
                break;
            }
            Bookmark *bookmark = ack_tracker_request_bookmark(tracker);
            if (bookmark == NULL) {
                msg_error("defender(): no acknowledgement slot for a message; the batch is sent "
                          "again",
                          log_pipe_location_tag(&s->super.super.super));
                complete = FALSE;
                break;
            }
            LogMessage *msg = make_message(&b->msgs[i]);
            defender_ledger_fill_bookmark(self->ledger, bookmark);
            log_threaded_source_blocking_post(s, msg);
        }
        defender_ledger_end(self->ledger, complete);
    }
}

static void request_exit(LogThreadedSourceDriver *s)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    g_mutex_lock(&self->lock);
    self->exit_requested = TRUE;
    g_cond_signal(&self->cond);
    g_mutex_unlock(&self->lock);
}

/* The legacy-stream warnings, once syslog-ng runs: what is logged while it loads its
 * configuration goes to its stderr, not to internal() (messages.c sends warnings there until the
 * main loop runs). At start-up this runs with AH_RUNNING; after a reload at once. The driver is
 * held until then. */
static void warn_retired(gint type, gpointer user_data)
{
    (void)type;
    DefenderSourceDriver *self = user_data;
    dfw_embed_warn_retired(self->em); /* NULL (deinit meanwhile): nothing */
    log_pipe_unref(&self->super.super.super.super);
}

static gboolean init(LogPipe *s)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    if ((self->config_file != NULL) == (self->settings->len > 0)) {
        msg_error("defender(): give either config() or setting() options",
                  log_pipe_location_tag(s));
        return FALSE;
    }
    GArray *settings = g_array_new(FALSE, FALSE, sizeof(struct dfw_config_setting));
    for (guint i = 0; i + 2 < self->settings->len; i += 3) {
        struct dfw_config_setting st = {g_ptr_array_index(self->settings, i),
                                        g_ptr_array_index(self->settings, i + 1),
                                        g_ptr_array_index(self->settings, i + 2)};
        g_array_append_val(settings, st);
    }
    struct dfw_embed_opts opts = {
        .config_file = self->config_file,
        .settings = settings->len ? (const struct dfw_config_setting *)settings->data : NULL,
        .nsettings = settings->len,
        .settings_origin = "defender() setting",
        .format = self->format,
        .stop_grace_ms = 0, /* a reload must not wait: unacknowledged batches come again */
        .host = {.name = "syslog-ng", .ctx = self, .submit = submit},
    };
    gchar err[1024];
    self->em = dfw_embed_new(&opts, err, sizeof(err));
    g_array_free(settings, TRUE);
    if (self->em == NULL) {
        msg_error("defender(): cannot start the forwarder", evt_tag_str("error", err),
                  log_pipe_location_tag(s));
        return FALSE;
    }
    self->exit_requested = FALSE;
    if (!log_threaded_source_driver_init_method(s)) {
        dfw_embed_free(self->em);
        self->em = NULL;
        return FALSE;
    }
    if (dfw_embed_start(self->em) != DFW_OK) {
        log_threaded_source_driver_deinit_method(s);
        dfw_embed_free(self->em);
        self->em = NULL;
        return FALSE;
    }
    register_application_hook(AH_RUNNING, warn_retired, log_pipe_ref(s), AHM_RUN_ONCE);
    return TRUE;
}

static gboolean deinit(LogPipe *s)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    dfw_embed_stop(self->em); /* no submit after this */
    gboolean r = log_threaded_source_driver_deinit_method(s);
    struct dfw_embed_batch *b;
    while ((b = g_queue_pop_head(self->queue)) != NULL) {
        dfw_embed_ack(b, DFW_ERR_RETRY); /* never posted: fetched again by the next start */
    }
    self->queued_msgs = 0;
    dfw_embed_free(self->em);
    self->em = NULL;
    return r;
}

static void free_fn(LogPipe *s)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    g_free(self->config_file);
    g_ptr_array_free(self->settings, TRUE);
    g_queue_free(self->queue);
    g_cond_clear(&self->cond);
    g_mutex_clear(&self->lock);
    defender_ledger_unref(self->ledger);
    log_threaded_source_driver_free_method(s);
}

static const gchar *format_stats_instance(LogThreadedSourceDriver *s)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    static gchar name[1024];
    if (s->super.super.super.persist_name) {
        g_snprintf(name, sizeof(name), "defender,%s", s->super.super.super.persist_name);
    }
    else {
        g_snprintf(name, sizeof(name), "defender,%s",
                   self->config_file ? self->config_file : "settings");
    }
    return name;
}

void defender_sd_set_config_file(LogDriver *s, const gchar *path)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    g_free(self->config_file);
    self->config_file = g_strdup(path);
}

gboolean defender_sd_add_setting(LogDriver *s, const gchar *name, const gchar *value)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    const gchar *slash = strchr(name, '/');
    if (slash == NULL || slash == name || slash[1] == '\0') {
        return FALSE;
    }
    g_ptr_array_add(self->settings, g_strndup(name, (gsize)(slash - name)));
    g_ptr_array_add(self->settings, g_strdup(slash + 1));
    g_ptr_array_add(self->settings, g_strdup(value));
    return TRUE;
}

gboolean defender_sd_set_format(LogDriver *s, const gchar *format)
{
    DefenderSourceDriver *self = (DefenderSourceDriver *)s;
    if (strcmp(format, "json") == 0) {
        self->format = DFW_EMBED_JSON;
        return TRUE;
    }
    if (strcmp(format, "cef") == 0) {
        self->format = DFW_EMBED_CEF;
        return TRUE;
    }
    return FALSE;
}

LogDriver *defender_sd_new(GlobalConfig *cfg)
{
    DefenderSourceDriver *self = g_new0(DefenderSourceDriver, 1);
    log_threaded_source_driver_init_instance(&self->super, cfg);
    for (gint i = 0; i < NV_COUNT; i++) {
        nv_handles[i] = log_msg_get_value_handle(nv_names[i]);
    }
    self->settings = g_ptr_array_new_with_free_func(g_free);
    self->format = DFW_EMBED_JSON;
    self->ledger = defender_ledger_new();
    self->queue = g_queue_new();
    g_mutex_init(&self->lock);
    g_cond_init(&self->cond);
    /* bookmarks: the checkpoint follows syslog-ng's acknowledgements */
    self->super.worker_options.ack_tracker_factory = consecutive_ack_tracker_factory_new();

    self->super.super.super.super.init = init;
    self->super.super.super.super.deinit = deinit;
    self->super.super.super.super.free_fn = free_fn;
    self->super.format_stats_instance = format_stats_instance;
    self->super.run = run;
    self->super.request_exit = request_exit;
    return &self->super.super.super;
}
