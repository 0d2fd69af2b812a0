/* Embedding internals shared by embed*.c; not a public header (dfw/embed.h is). */
#ifndef DFW_EMBED_INTERNAL_H
#define DFW_EMBED_INTERNAL_H

#include "dfw/embed.h"
#include "dfw/engine.h"
#include "dfw/event.h"
#include "dfw/output.h"
#include "dfw/state.h"

#include <pthread.h>

struct batch;

/* What acknowledgements need: it outlives the engine while the host still holds batches. */
struct shell {
    pthread_mutex_t lock;
    size_t refs;          /* 1 for the dfw_embed, plus 1 per batch the host holds */
    struct dfw_embed *em; /* NULL once dfw_embed_free ran */
    struct batch *acked;  /* acknowledged, not yet handed to the engine: FIFO */
    struct batch *acked_tail;
};

/* A batch with what the engine needs back. One allocation: the messages follow it, their
 * strings live in arena. */
struct batch {
    struct dfw_embed_batch pub; /* first: dfw_embed_ack casts back */
    struct shell *shell;
    dfw_ack_fn ack; /* the engine's callback, called on the loop thread */
    void *ack_ctx;
    dfw_err result;
    struct batch *next;
    char *arena;
    struct dfw_embed_msg msgs[];
};

struct dfw_embed {
    struct shell *shell;
    struct dfw_config *cfg;
    struct dfw_state *state;
    struct dfw_output out; /* the host as the engine's only output */
    struct dfw_engine *engine;
    struct dfw_embed_host host;
    char *host_name;
    enum dfw_embed_format format;
    pthread_t thread;
    int running;
};

/* embed_output.c: the output plugin that hands batches to the host */
extern const struct dfw_output_plugin dfw__embed_output;

/* embed_batch.c: render a dfw_batch for the host (NULL out of memory), and free one. */
struct batch *dfw__embed_batch_new(const struct dfw_batch *b, enum dfw_embed_format format);
void dfw__embed_batch_free(struct batch *b);

#endif
