#define _GNU_SOURCE /* mremap */
#include "dfw/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

/* Move b's storage to cap bytes (at least len + 1): a mapping with huge pages advised when b is
 * large and cap reaches DFW_BUF_LARGE_MIN, malloc'd memory otherwise. -1 when out of memory (b
 * unchanged). */
static int move_to(struct dfw_buf *b, size_t cap)
{
    int map = b->large && cap >= DFW_BUF_LARGE_MIN;
    char *p;
    if (map) {
        cap = page_round(cap);
        if (b->mapped) {
            p = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE); /* the advice moves with it */
            if (p == MAP_FAILED) {
                return -1;
            }
        }
        else {
            p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                return -1;
            }
            (void)madvise(p, cap, MADV_HUGEPAGE); /* a hint: without THP, small pages */
            if (b->data != NULL) {
                memcpy(p, b->data, b->len + 1);
                free(b->data);
            }
        }
    }
    else if (b->mapped) {
        p = malloc(cap);
        if (p == NULL) {
            return -1;
        }
        memcpy(p, b->data, b->len + 1);
        munmap(b->data, b->cap);
    }
    else {
        p = realloc(b->data, cap);
        if (p == NULL) {
            return -1;
        }
    }
    b->data = p;
    b->cap = cap;
    b->mapped = (unsigned char)map;
    return 0;
}

dfw_err dfw_buf_reserve(struct dfw_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return DFW_OK;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    return move_to(b, cap) == 0 ? DFW_OK : DFW_ERR_NOMEM;
}

dfw_err dfw_buf_reserve_exact(struct dfw_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return DFW_OK;
    }
    return move_to(b, need) == 0 ? DFW_OK : DFW_ERR_NOMEM;
}

void dfw_buf_fit(struct dfw_buf *b, size_t slack)
{
    if (b->data == NULL || b->cap - (b->len + 1) <= slack) {
        return;
    }
    (void)move_to(b, b->len + 1); /* when it fails the buffer stays as it was */
}

dfw_err dfw_buf_append(struct dfw_buf *b, const void *data, size_t len)
{
    if (dfw_buf_reserve(b, len) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return DFW_OK;
}

dfw_err dfw_buf_puts(struct dfw_buf *b, const char *s)
{
    return dfw_buf_append(b, s, strlen(s));
}

dfw_err dfw_buf_printf(struct dfw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return DFW_ERR_INVALID;
    }
    if (dfw_buf_reserve(b, (size_t)n) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return DFW_OK;
}

void dfw_buf_reset(struct dfw_buf *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void dfw_buf_free(struct dfw_buf *b)
{
    if (b->mapped) {
        munmap(b->data, b->cap);
    }
    else {
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->mapped = 0;
}

char *dfw_buf_steal(struct dfw_buf *b)
{
    if (b->data == NULL && dfw_buf_reserve(b, 0) != DFW_OK) {
        return NULL;
    }
    if (b->len == 0) {
        b->data[0] = '\0';
    }
    if (b->mapped) {
        char *copy = malloc(b->len + 1);
        if (copy == NULL) {
            return NULL;
        }
        memcpy(copy, b->data, b->len + 1);
        dfw_buf_free(b);
        return copy;
    }
    char *p = b->data;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
