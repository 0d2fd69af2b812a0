/* The state directory: every (tenant, stream) checkpoint in one SQLite database in WAL mode
 * (STATE_DIR/checkpoints.db, mode 0600), written in group commits (many checkpoints, one
 * transaction, one fsync), and a lock (STATE_DIR/lock) so that one instance owns the directory.
 * Checkpoint files of the layout before (STATE_DIR/checkpoints/TENANT/STREAM.json) are imported
 * when the directory is opened with the lock. Not thread-safe: one thread uses a handle. */
#ifndef DFW_STATE_H
#define DFW_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "dfw/cursor.h"
#include "dfw/err.h"

struct dfw_state;

/* Open (create with mode 0700 when missing) the state directory and its database. With lock != 0,
 * take an exclusive flock on <dir>/lock (the message names the directory when another instance
 * holds it) and import checkpoint files of the layout before (once; the folder is renamed
 * checkpoints.imported; a file that cannot be read stops the open, naming it). Without the lock
 * (state show) the database is only read; readers never block the running instance. Returns NULL
 * with errbuf set on failure. */
struct dfw_state *dfw_state_open(const char *dir, int lock, char *errbuf, size_t errlen);

/* Release the lock and free. NULL is a no-op. */
void dfw_state_close(struct dfw_state *st);

/* Load the checkpoint of (tenant, stream) into an initialised cursor (the staged one when a save
 * is not committed yet). DFW_ERR_NOTFOUND when there is none (cursor unchanged), DFW_ERR_INVALID
 * for a checkpoint that is not one (errbuf names tenant, stream and the database), DFW_ERR_IO
 * when the database cannot be read. */
dfw_err dfw_state_load(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen);

/* Stage the checkpoint of (tenant, stream) for the next dfw_state_commit (a later save of the same
 * pair replaces it). DFW_ERR_NOMEM. Nothing is on disk until the commit. */
dfw_err dfw_state_save(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       const struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen);

/* Write every staged checkpoint in one transaction (SQLite WAL, synchronous=FULL: one fsync of
 * the WAL). Atomic: after a crash at any point the database holds either all of them or none,
 * each pair then at its previous checkpoint. DFW_ERR_IO (disk full, read-only, I/O error; errbuf
 * names the database and the reason): nothing is written and the checkpoints stay staged for the
 * next commit. DFW_OK also when nothing is staged. */
dfw_err dfw_state_commit(struct dfw_state *st, char *errbuf, size_t errlen);

/* Checkpoints staged and not committed yet; transactions committed since open. */
size_t dfw_state_staged(const struct dfw_state *st);
uint64_t dfw_state_commits(const struct dfw_state *st);

/* Delete checkpoints: all (tenant NULL), a tenant's (stream NULL), or one, at once (no commit
 * needed). Returns the number removed in *removed. Needs the lock. */
dfw_err dfw_state_reset(struct dfw_state *st,
                        const char *tenant,
                        const char *stream,
                        size_t *removed,
                        char *errbuf,
                        size_t errlen);

/* Print every checkpoint (or a tenant's) as a human-readable table to out. */
dfw_err
dfw_state_show(struct dfw_state *st, const char *tenant, FILE *out, char *errbuf, size_t errlen);

#endif
