/* The host as the engine's output: submit renders the batch and offers it to the host;
 * acknowledgements come back on the host's threads (dfw_embed_ack), wait in the shell and are
 * handed to the engine by poll on the loop thread, which dfw_embed_ack wakes. */
#include "embed_internal.h"
#include "dfw/log.h"

#include <stdlib.h>

static dfw_err embed_submit(void *self, const struct dfw_batch *in, dfw_ack_fn ack, void *ack_ctx)
{
    struct dfw_embed *em = self;
    struct batch *b = dfw__embed_batch_new(in, em->format);
    if (b == NULL) {
        return DFW_ERR_NOMEM;
    }
    b->shell = em->shell;
    b->ack = ack;
    b->ack_ctx = ack_ctx;
    pthread_mutex_lock(&em->shell->lock);
    em->shell->refs++;
    pthread_mutex_unlock(&em->shell->lock);
    dfw_err rc = em->host.submit(em->host.ctx, &b->pub);
    if (rc != DFW_OK) {
        /* not taken: the batch is still ours */
        pthread_mutex_lock(&em->shell->lock);
        em->shell->refs--;
        pthread_mutex_unlock(&em->shell->lock);
        dfw__embed_batch_free(b);
    }
    return rc;
}

static void embed_poll(void *self, int timeout_ms)
{
    (void)timeout_ms; /* acknowledgements wake the loop; nothing to wait for here */
    struct dfw_embed *em = self;
    pthread_mutex_lock(&em->shell->lock);
    struct batch *list = em->shell->acked;
    em->shell->acked = em->shell->acked_tail = NULL;
    pthread_mutex_unlock(&em->shell->lock);
    while (list != NULL) {
        struct batch *b = list;
        list = b->next;
        b->ack(b->ack_ctx, b->pub.seq, b->result);
        dfw__embed_batch_free(b);
        pthread_mutex_lock(&em->shell->lock);
        em->shell->refs--; /* the dfw_embed still holds one: never the last */
        pthread_mutex_unlock(&em->shell->lock);
    }
}

static dfw_err embed_flush(void *self, int timeout_ms)
{
    (void)timeout_ms;
    embed_poll(self, 0);
    return DFW_OK;
}

static void *embed_init(const void *conf, const char *instance, char *errbuf, size_t errlen)
{
    (void)conf;
    (void)instance;
    (void)errbuf;
    (void)errlen;
    return NULL; /* never created from a config: dfw_embed_new sets the instance */
}

static dfw_err embed_format(const void *conf, const struct dfw_event *ev, struct dfw_buf *out)
{
    (void)conf;
    (void)ev;
    (void)out;
    return DFW_ERR_INVALID;
}

static void embed_destroy(void *self)
{
    (void)self; /* the dfw_embed owns everything */
}

const struct dfw_output_plugin dfw__embed_output = {
    .name = "embedded",
    .description = "the log daemon this forwarder runs inside",
    .flags = DFW_OUTPUT_ACK_WAKES,
    .options = NULL,
    .conf_size = 0,
    .init = embed_init,
    .format = embed_format,
    .submit = embed_submit,
    .poll = embed_poll,
    .flush = embed_flush,
    .destroy = embed_destroy,
};

void dfw_embed_ack(struct dfw_embed_batch *pub, dfw_err result)
{
    if (pub == NULL) {
        return;
    }
    struct batch *b = (struct batch *)pub;
    struct shell *s = b->shell;
    pthread_mutex_lock(&s->lock);
    if (s->em != NULL) {
        b->result = result;
        b->next = NULL;
        if (s->acked_tail != NULL) {
            s->acked_tail->next = b;
        }
        else {
            s->acked = b;
        }
        s->acked_tail = b;
        /* under the lock: dfw_embed_free cannot free the engine meanwhile */
        dfw_engine_wakeup(s->em->engine);
        pthread_mutex_unlock(&s->lock);
        return;
    }
    /* the engine is gone: what it did not commit is fetched again by the next run */
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->lock);
    dfw__embed_batch_free(b);
    if (last) {
        pthread_mutex_destroy(&s->lock);
        free(s);
    }
}
