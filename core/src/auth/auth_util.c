/* Small helpers shared by the token provider (auth*.c), the JWT decoder and the client assertion:
 * one errbuf formatter, one JSON object parser, one URL join rule, one secret-safe string builder.
 */
#include "auth_internal.h"

#include "dfw/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void dfw__set_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

json_object *dfw__json_parse_object(const char *body, size_t len)
{
    if (body == NULL || len == 0 || len > 1024 * 1024) {
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    if (tok == NULL) {
        return NULL;
    }
    json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    int complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    if (obj == NULL || !complete || !json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

size_t dfw__url_len_without_slashes(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    return n;
}

/* ---- a growable string for secrets: every reallocation wipes the old copy ---- */

void dfw__sbuf_append(struct dfw__sbuf *b, const char *s, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = malloc(cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        if (b->p != NULL) {
            memcpy(p, b->p, b->len);
            OPENSSL_cleanse(b->p, b->cap);
            free(b->p);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void dfw__sbuf_puts(struct dfw__sbuf *b, const char *s)
{
    dfw__sbuf_append(b, s, strlen(s));
}

/* application/x-www-form-urlencoded value: unreserved characters as is, the rest %XX. */
void dfw__sbuf_escape(struct dfw__sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            dfw__sbuf_append(b, s, 1);
        }
        else {
            char pct[3] = {'%', hex[c >> 4], hex[c & 15]};
            dfw__sbuf_append(b, pct, 3);
        }
    }
}

/* "&key=<escaped value>" (no '&' for the first parameter). */
void dfw__sbuf_param(struct dfw__sbuf *b, const char *key, const char *value)
{
    if (b->len > 0) {
        dfw__sbuf_puts(b, "&");
    }
    dfw__sbuf_puts(b, key);
    dfw__sbuf_puts(b, "=");
    dfw__sbuf_escape(b, value);
}

char *dfw__sbuf_finish(struct dfw__sbuf *b)
{
    if (b->failed) {
        dfw_secret_free(b->p);
        return NULL;
    }
    return b->p;
}

void dfw__auth_scrub(char *msg, const char *secret)
{
    size_t n = secret != NULL ? strlen(secret) : 0;
    if (msg == NULL || n < 4) {
        return;
    }
    for (char *p = strstr(msg, secret); p != NULL; p = strstr(p + n, secret)) {
        memset(p, '*', n);
    }
}
