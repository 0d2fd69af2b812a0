#include "dfw/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        return DFW_ERR_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return DFW_OK;
}

void dfw_buf_fit(struct dfw_buf *b, size_t slack)
{
    if (b->data == NULL || b->cap - (b->len + 1) <= slack) {
        return;
    }
    char *p = realloc(b->data, b->len + 1);
    if (p != NULL) {
        b->data = p;
        b->cap = b->len + 1;
    }
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
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *dfw_buf_steal(struct dfw_buf *b)
{
    if (b->data == NULL && dfw_buf_reserve(b, 0) != DFW_OK) {
        return NULL;
    }
    if (b->len == 0) {
        b->data[0] = '\0';
    }
    char *p = b->data;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
