/* A growable byte buffer, always NUL-terminated. */
#ifndef DFW_BUF_H
#define DFW_BUF_H

#include <stddef.h>
#include "dfw/err.h"

struct dfw_buf {
    char *data; /* owned; NUL-terminated when len > 0 or after any append; may be NULL when empty */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
    /* Set by the owner of a buffer that may grow to many MiB (a response body: pages of 24 MB):
     * from DFW_BUF_LARGE_MIN bytes on, its storage is a mapping of its own with transparent huge
     * pages advised (madvise(2) MADV_HUGEPAGE), so that filling it takes a page fault per 2 MiB
     * instead of per 4 KiB. Kept by dfw_buf_free and dfw_buf_reset. */
    unsigned char large;
    unsigned char mapped; /* internal: the storage is such a mapping (munmap, not free) */
};

/* From this capacity on a buffer marked large is mapped. A huge page faulted in at the end of
 * what was written can add at most 2 MiB to the resident memory, half of this; none when the
 * capacity was reserved to the byte (only 2 MiB ranges wholly inside the mapping get one). */
#define DFW_BUF_LARGE_MIN ((size_t)4 << 20)

#define DFW_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

/* Append len bytes. Returns DFW_OK or DFW_ERR_NOMEM (buffer unchanged). */
dfw_err dfw_buf_append(struct dfw_buf *b, const void *data, size_t len);

/* Make room for extra more bytes and the NUL after data + len, which stay as they are (a writer
 * such as a compressor then fills data + len directly and moves len). Capacity grows by
 * doubling. Returns DFW_OK or DFW_ERR_NOMEM (buffer unchanged). Not thread-safe (nor is the rest:
 * a buffer has one writer). */
dfw_err dfw_buf_reserve(struct dfw_buf *b, size_t extra);

/* dfw_buf_reserve without the doubling: the capacity becomes len + extra + 1 bytes when it is
 * smaller (for a writer that knows its size ahead, such as a body with its Content-Length).
 * Returns DFW_OK or DFW_ERR_NOMEM (buffer unchanged). */
dfw_err dfw_buf_reserve_exact(struct dfw_buf *b, size_t extra);

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
 * buffer yields a malloc'd "". A mapped buffer (large) is copied into malloc'd memory first, so
 * move the struct instead where the buffer is to stay a buffer. Returns NULL only when out of
 * memory (the buffer then unchanged). */
char *dfw_buf_steal(struct dfw_buf *b);

#endif
