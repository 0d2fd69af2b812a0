/* The state directory: one checkpoint file per (tenant, stream), written atomically, and a lock
 * so that one instance owns the directory. */
#ifndef DFW_STATE_H
#define DFW_STATE_H

#include <stddef.h>
#include <stdio.h>
#include "dfw/cursor.h"
#include "dfw/err.h"

struct dfw_state;

/* Open (create with mode 0700 when missing) the state directory. With lock != 0, take an exclusive
 * flock on <dir>/lock; DFW_ERR_LOCKED (message names the directory) when another instance holds
 * it. Returns NULL with errbuf set on failure. */
struct dfw_state *dfw_state_open(const char *dir, int lock, char *errbuf, size_t errlen);

/* Release the lock and free. NULL is a no-op. */
void dfw_state_close(struct dfw_state *st);

/* Load the checkpoint of (tenant, stream) into an initialised cursor. DFW_ERR_NOTFOUND when there
 * is none (cursor unchanged), DFW_ERR_INVALID for a corrupt file (named in errbuf). */
dfw_err dfw_state_load(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen);

/* Save atomically: write <file>.tmp, fsync, rename over <file>, fsync the directory. A crash at any
 * point leaves either the old or the new checkpoint. */
dfw_err dfw_state_save(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       const struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen);

/* Delete checkpoints: all (tenant NULL), a tenant's (stream NULL), or one. Returns the number
 * removed in *removed. Needs the lock. */
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
