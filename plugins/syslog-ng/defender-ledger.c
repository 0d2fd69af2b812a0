/* The ack ledger of defender(): see defender-ledger.h. */
#include "defender-ledger.h"

typedef struct _LedgerEntry {
    struct dfw_embed_batch *batch;
    guint64 first;    /* index of the batch's first message */
    guint64 posted;   /* messages of it posted so far */
    guint64 resolved; /* of those, destroyed by syslog-ng */
    gboolean ended;   /* no more messages of it will be posted */
    gboolean lost;    /* some message was not acknowledged */
} LedgerEntry;

struct _DefenderLedger {
    GMutex lock;
    gint refs;
    guint64 next;    /* index of the next message posted */
    guint64 saved;   /* every message below this index was acknowledged */
    GQueue *entries; /* LedgerEntry, in post order */
    LedgerEntry *current;
};

/* What a bookmark holds (at most MAX_BOOKMARK_DATA_LENGTH bytes). */
typedef struct _DefenderBookmark {
    DefenderLedger *ledger;
    guint64 index;
} DefenderBookmark;

G_STATIC_ASSERT(sizeof(DefenderBookmark) <= sizeof(BookmarkContainer));

DefenderLedger *defender_ledger_new(void)
{
    DefenderLedger *self = g_new0(DefenderLedger, 1);
    g_mutex_init(&self->lock);
    self->refs = 1;
    self->entries = g_queue_new();
    return self;
}

static void ledger_ref(DefenderLedger *self)
{
    g_atomic_int_inc(&self->refs);
}

void defender_ledger_unref(DefenderLedger *self)
{
    if (self == NULL || !g_atomic_int_dec_and_test(&self->refs)) {
        return;
    }
    /* no bookmark is left: every entry was resolved and given back */
    LedgerEntry *e;
    while ((e = g_queue_pop_head(self->entries)) != NULL) {
        dfw_embed_ack(e->batch, DFW_ERR_RETRY);
        g_free(e);
    }
    g_queue_free(self->entries);
    g_mutex_clear(&self->lock);
    g_free(self);
}

/* Under the lock: take the entry out when it is complete; the caller acks it after unlocking. */
static LedgerEntry *take_if_done(DefenderLedger *self, LedgerEntry *e)
{
    if (!e->ended || e->resolved < e->posted) {
        return NULL;
    }
    g_queue_remove(self->entries, e);
    if (self->current == e) {
        self->current = NULL;
    }
    return e;
}

static void give_back(LedgerEntry *e)
{
    if (e != NULL) {
        dfw_embed_ack(e->batch, e->lost ? DFW_ERR_RETRY : DFW_OK);
        g_free(e);
    }
}

void defender_ledger_begin(DefenderLedger *self, struct dfw_embed_batch *batch)
{
    LedgerEntry *e = g_new0(LedgerEntry, 1);
    e->batch = batch;
    g_mutex_lock(&self->lock);
    e->first = self->next;
    g_queue_push_tail(self->entries, e);
    self->current = e;
    g_mutex_unlock(&self->lock);
}

static void on_bookmark_save(Bookmark *bookmark)
{
    DefenderBookmark *bm = (DefenderBookmark *)&bookmark->container;
    DefenderLedger *self = bm->ledger;
    g_mutex_lock(&self->lock);
    if (bm->index + 1 > self->saved) {
        self->saved = bm->index + 1;
    }
    g_mutex_unlock(&self->lock);
}

static void on_bookmark_destroy(Bookmark *bookmark)
{
    DefenderBookmark *bm = (DefenderBookmark *)&bookmark->container;
    DefenderLedger *self = bm->ledger;
    LedgerEntry *done = NULL;
    g_mutex_lock(&self->lock);
    for (GList *l = self->entries->head; l != NULL; l = l->next) {
        LedgerEntry *e = l->data;
        if (bm->index >= e->first && bm->index < e->first + e->posted) {
            e->resolved++;
            if (bm->index >= self->saved) {
                e->lost = TRUE;
            }
            done = take_if_done(self, e);
            break;
        }
    }
    g_mutex_unlock(&self->lock);
    give_back(done);
    bm->ledger = NULL;
    defender_ledger_unref(self);
}

void defender_ledger_fill_bookmark(DefenderLedger *self, Bookmark *bookmark)
{
    DefenderBookmark *bm = (DefenderBookmark *)&bookmark->container;
    ledger_ref(self);
    g_mutex_lock(&self->lock);
    bm->ledger = self;
    bm->index = self->next++;
    self->current->posted++;
    g_mutex_unlock(&self->lock);
    bookmark->save = on_bookmark_save;
    bookmark->destroy = on_bookmark_destroy;
}

void defender_ledger_end(DefenderLedger *self, gboolean complete)
{
    g_mutex_lock(&self->lock);
    LedgerEntry *e = self->current;
    e->ended = TRUE;
    if (!complete || e->posted < e->batch->count) {
        e->lost = TRUE;
    }
    LedgerEntry *done = take_if_done(self, e);
    self->current = NULL;
    g_mutex_unlock(&self->lock);
    give_back(done);
}
