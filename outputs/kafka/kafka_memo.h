/* What a failed batch already delivered, so that re-sending it (same seq, same events) produces
 * only the records whose delivery failed instead of the whole batch again. */
#ifndef DFW_OUT_KAFKA_MEMO_H
#define DFW_OUT_KAFKA_MEMO_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"
#include "dfw/event.h"

/* Most batches remembered at once; the oldest is forgotten first (its re-send is then whole). */
#define DFW_KAFKA_MEMO_MAX 1024

struct dfw_kafka_memo;

struct dfw_kafka_memos {
    struct dfw_kafka_memo *head; /* newest first */
    size_t count;
};

/* A fingerprint of the batch's records (id and last-update time, in order). */
uint64_t dfw_out_kafka_batch_hash(const struct dfw_batch *batch);

/* The delivered-bitmap ((count + 7) / 8 bytes, bit i = record i delivered) saved for seq, or
 * NULL when none was saved or the batch differs (count or hash). Borrowed from memos. */
const unsigned char *dfw_out_kafka_memo_find(const struct dfw_kafka_memos *memos,
                                             uint64_t seq,
                                             size_t count,
                                             uint64_t hash);

/* Remember (or replace) the delivered-bitmap of seq; copies it. DFW_ERR_NOMEM leaves nothing
 * saved for seq (the re-send is then whole). */
dfw_err dfw_out_kafka_memo_save(struct dfw_kafka_memos *memos,
                                uint64_t seq,
                                size_t count,
                                uint64_t hash,
                                const unsigned char *delivered);

/* Forget seq (no-op when unknown). */
void dfw_out_kafka_memo_drop(struct dfw_kafka_memos *memos, uint64_t seq);

/* Forget everything. */
void dfw_out_kafka_memo_free(struct dfw_kafka_memos *memos);

#endif
