/* The file output: one JSON object per line, to a file (appended) or stdout ("-"). */
#include "dfw/json_write.h"
#include "dfw/log.h"
#include "dfw/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct file_conf {
    char *path;   /* "-" = stdout */
    int envelope; /* 1: {"tenant","stream","kind","id","record"}; 0: the record alone */
    int fsync;    /* fsync before acknowledging */
};

static const struct dfw_option file_options[] = {
    {"path", DFW_OPT_STRING, "-", offsetof(struct file_conf, path), NULL, 0,
     "file to append JSON lines to; - for standard output"},
    {"envelope", DFW_OPT_BOOL, "yes", offsetof(struct file_conf, envelope), NULL, 0,
     "wrap each record with tenant, stream, kind and id"},
    {"fsync", DFW_OPT_BOOL, "no", offsetof(struct file_conf, fsync), NULL, 0,
     "fsync the file before acknowledging a batch"},
    {NULL, 0, NULL, 0, NULL, 0, NULL},
};

struct file_out {
    const struct file_conf *conf;
    char *name;
    int fd;
    int owns_fd;
    struct dfw_buf buf;
};

static void file_destroy(void *self)
{
    struct file_out *f = self;
    if (f == NULL) {
        return;
    }
    if (f->owns_fd && f->fd >= 0) {
        close(f->fd);
    }
    dfw_buf_free(&f->buf);
    free(f->name);
    free(f);
}

static void *file_init(const void *conf, const char *instance, char *errbuf, size_t errlen)
{
    const struct file_conf *c = conf;
    struct file_out *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", instance);
        return NULL;
    }
    f->conf = c;
    f->fd = -1;
    f->name = strdup(instance);
    if (f->name == NULL) {
        file_destroy(f);
        return NULL;
    }
    if (strcmp(c->path, "-") == 0) {
        f->fd = STDOUT_FILENO;
        return f;
    }
    f->fd = open(c->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (f->fd < 0) {
        snprintf(errbuf, errlen, "output %s: cannot open %s: %s", instance, c->path,
                 strerror(errno));
        file_destroy(f);
        return NULL;
    }
    f->owns_fd = 1;
    return f;
}

static dfw_err file_format(const void *conf, const struct dfw_event *ev, struct dfw_buf *out)
{
    const struct file_conf *c = conf;
    size_t start = out->len;
    dfw_err err = DFW_OK;
    if (c->envelope) {
        /* {"tenant":..,"tenant_id":..,"stream":..,"kind":..,"id":..,"record":<record>}: every
         * string escaped (ids and names come from outside), the record as its bytes */
        static const char *const names[] = {
            "{\"tenant\":", ",\"tenant_id\":", ",\"stream\":", ",\"kind\":", ",\"id\":"};
        const char *v[] = {ev->tenant, ev->tenant_id, ev->stream, dfw_event_kind_name(ev->kind),
                           ev->id};
        for (size_t i = 0; err == DFW_OK && i < sizeof(names) / sizeof(names[0]); i++) {
            err = dfw_buf_puts(out, names[i]);
            if (err == DFW_OK) {
                err = dfw_json_append_string(out, v[i]);
            }
        }
        if (err == DFW_OK) {
            err = dfw_buf_puts(out, ",\"record\":");
        }
        if (err == DFW_OK) {
            err = dfw_event_append_json(ev, out);
        }
        if (err == DFW_OK) {
            err = dfw_buf_append(out, "}", 1);
        }
    }
    else {
        err = dfw_event_append_json(ev, out);
    }
    if (err == DFW_OK) {
        err = dfw_buf_append(out, "\n", 1);
    }
    if (err != DFW_OK) {
        out->len = start; /* nothing half-written */
    }
    return err;
}

static dfw_err write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return DFW_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return DFW_OK;
}

/* Lines are written in chunks of about this many bytes, so the buffer stays small whatever the
 * batch (a 10,000-record page is some 25 MB of lines). */
#define WRITE_CHUNK (256u << 10)

static dfw_err write_failed(const struct file_out *f)
{
    dfw_log(DFW_LOG_WARN, "output", "output=%s msg=\"write failed\" error=\"%s\"", f->name,
            strerror(errno));
    return DFW_ERR_RETRY;
}

/* A batch that fails part way is written again whole (at-least-once): its first lines may then
 * stand twice in the file. */
static dfw_err file_submit(void *self, const struct dfw_batch *batch, dfw_ack_fn ack, void *ack_ctx)
{
    struct file_out *f = self;
    dfw_buf_reset(&f->buf);
    for (size_t i = 0; i < batch->count; i++) {
        dfw_err err = file_format(f->conf, &batch->events[i], &f->buf);
        if (err != DFW_OK) {
            return err;
        }
        if (f->buf.len >= WRITE_CHUNK || i + 1 == batch->count) {
            if (write_all(f->fd, f->buf.data, f->buf.len) != DFW_OK) {
                return write_failed(f);
            }
            dfw_buf_reset(&f->buf);
        }
    }
    if (f->conf->fsync && f->owns_fd && fsync(f->fd) != 0) {
        return write_failed(f);
    }
    ack(ack_ctx, batch->seq, DFW_OK);
    return DFW_OK;
}

static dfw_err file_flush(void *self, int timeout_ms)
{
    (void)self;
    (void)timeout_ms;
    return DFW_OK;
}

const struct dfw_output_plugin dfw_out_file_plugin = {
    .name = "file",
    .description = "JSON lines to a file or standard output",
    .options = file_options,
    .conf_size = sizeof(struct file_conf),
    .init = file_init,
    .format = file_format,
    .submit = file_submit,
    .poll = NULL,
    .flush = file_flush,
    .destroy = file_destroy,
};
