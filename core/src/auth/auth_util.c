/* Small helpers shared by the token provider (auth*.c), the JWT decoder and the client assertion:
 * one errbuf formatter, one JSON object parser, one URL join rule. */
#include "auth_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
