/* A growable byte buffer, always NUL-terminated. */
#ifndef DFW_BUF_H
#define DFW_BUF_H

#include <stddef.h>
#include "dfw/err.h"

struct dfw_buf {
    char *data; /* owned; NUL-terminated when len > 0 or after any append; may be NULL when empty */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
};

#define DFW_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Append len bytes. Returns DFW_OK or DFW_ERR_NOMEM (buffer unchanged). */
dfw_err dfw_buf_append(struct dfw_buf *b, const void *data, size_t len);

/* Make room for extra more bytes and the NUL after data + len, which stay as they are (a writer
 * such as a compressor then fills data + len directly and moves len). Capacity grows by
 * doubling. Returns DFW_OK or DFW_ERR_NOMEM (buffer unchanged). Not thread-safe (nor is the rest:
 * a buffer has one writer). */
dfw_err dfw_buf_reserve(struct dfw_buf *b, size_t extra);

/* Append a NUL-terminated string. */
dfw_err dfw_buf_puts(struct dfw_buf *b, const char *s);

/* Append printf-formatted text. */
dfw_err dfw_buf_printf(struct dfw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set len to 0, keep the allocation. */
void dfw_buf_reset(struct dfw_buf *b);

/* Shrink the allocation to len + 1 bytes when that gives back more than slack bytes (a buffer
 * reused for smaller contents keeps no memory it no longer needs). The data stays; when realloc
 * fails the buffer is left as it was. */
void dfw_buf_fit(struct dfw_buf *b, size_t slack);

/* Free the storage; the buffer is empty and reusable afterwards. */
void dfw_buf_free(struct dfw_buf *b);

/* Hand the storage to the caller (free() it) and leave the buffer empty. Never NULL: an empty
 * buffer yields a malloc'd "". Returns NULL only when out of memory. */
char *dfw_buf_steal(struct dfw_buf *b);

#endif
