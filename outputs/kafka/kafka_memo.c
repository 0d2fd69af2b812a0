/* Delivered-record memos of failed batches (see kafka_memo.h). */
#include "kafka_memo.h"

#include <stdlib.h>
#include <string.h>

struct dfw_kafka_memo {
    struct dfw_kafka_memo *next;
    uint64_t seq;
    uint64_t hash;
    size_t count;
    unsigned char delivered[]; /* (count + 7) / 8 bytes */
};

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s != NULL && *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return (h ^ 0xff) * 1099511628211ULL; /* separator: "ab","c" differs from "a","bc" */
}

uint64_t dfw_out_kafka_batch_hash(const struct dfw_batch *batch)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < batch->count; i++) {
        h = fnv(h, batch->events[i].tenant);
        h = fnv(h, batch->events[i].stream);
        h = fnv(h, batch->events[i].id);
        h = fnv(h, batch->events[i].updated);
    }
    return h;
}

static struct dfw_kafka_memo **find(struct dfw_kafka_memos *memos, uint64_t seq)
{
    struct dfw_kafka_memo **p = &memos->head;
    while (*p != NULL && (*p)->seq != seq) {
        p = &(*p)->next;
    }
    return p;
}

const unsigned char *dfw_out_kafka_memo_find(const struct dfw_kafka_memos *memos,
                                             uint64_t seq,
                                             size_t count,
                                             uint64_t hash)
{
    for (const struct dfw_kafka_memo *m = memos->head; m != NULL; m = m->next) {
        if (m->seq == seq) {
            return m->count == count && m->hash == hash ? m->delivered : NULL;
        }
    }
    return NULL;
}

void dfw_out_kafka_memo_drop(struct dfw_kafka_memos *memos, uint64_t seq)
{
    struct dfw_kafka_memo **p = find(memos, seq);
    if (*p != NULL) {
        struct dfw_kafka_memo *m = *p;
        *p = m->next;
        free(m);
        memos->count--;
    }
}

dfw_err dfw_out_kafka_memo_save(struct dfw_kafka_memos *memos,
                                uint64_t seq,
                                size_t count,
                                uint64_t hash,
                                const unsigned char *delivered)
{
    dfw_out_kafka_memo_drop(memos, seq);
    size_t bytes = (count + 7) / 8;
    struct dfw_kafka_memo *m = malloc(sizeof(*m) + bytes);
    if (m == NULL) {
        return DFW_ERR_NOMEM;
    }
    m->seq = seq;
    m->hash = hash;
    m->count = count;
    memcpy(m->delivered, delivered, bytes);
    m->next = memos->head;
    memos->head = m;
    memos->count++;
    if (memos->count > DFW_KAFKA_MEMO_MAX) {
        struct dfw_kafka_memo **p = &memos->head;
        while ((*p)->next != NULL) {
            p = &(*p)->next;
        }
        free(*p);
        *p = NULL;
        memos->count--;
    }
    return DFW_OK;
}

void dfw_out_kafka_memo_free(struct dfw_kafka_memos *memos)
{
    while (memos->head != NULL) {
        struct dfw_kafka_memo *m = memos->head;
        memos->head = m->next;
        free(m);
    }
    memos->count = 0;
}
