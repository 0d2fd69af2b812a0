/* Which posted messages syslog-ng has acknowledged, per batch of the forwarder.
 *
 * Every message carries a bookmark of syslog-ng's consecutive ack tracker holding (ledger,
 * index). syslog-ng calls the bookmark's save on the last message of a contiguous range of
 * acknowledged messages (never for an aborted one) and destroy on every message when it leaves
 * the tracker. A message destroyed at an index below the highest saved one was acknowledged; one
 * destroyed above it was dropped unacknowledged (a queue freed at shutdown). When every message
 * of a batch was destroyed, the batch goes back to the engine: DFW_OK when all were acknowledged,
 * DFW_ERR_RETRY otherwise (the checkpoint stays before it, the batch is fetched again).
 *
 * Thread rules: begin/posted/end on the source's worker thread; save and destroy on any thread
 * (syslog-ng calls them under its tracker lock); a mutex guards the ledger. The ledger is
 * reference counted: the driver holds one reference, every bookmark one, so late
 * acknowledgements after a reload or stop find it alive. */
#ifndef DEFENDER_LEDGER_H
#define DEFENDER_LEDGER_H

#include "syslog-ng.h"
#include "ack-tracker/bookmark.h"
#include "dfw/embed.h"

typedef struct _DefenderLedger DefenderLedger;

DefenderLedger *defender_ledger_new(void);
void defender_ledger_unref(DefenderLedger *self);

/* A batch starts being posted: the ledger owns it until it is given back with dfw_embed_ack. */
void defender_ledger_begin(DefenderLedger *self, struct dfw_embed_batch *batch);

/* Fill the bookmark of the next message of the current batch (call right before posting it). */
void defender_ledger_fill_bookmark(DefenderLedger *self, Bookmark *bookmark);

/* The current batch is fully posted, or (complete FALSE) posting stopped early: the messages not
 * posted count as not acknowledged. */
void defender_ledger_end(DefenderLedger *self, gboolean complete);

#endif
