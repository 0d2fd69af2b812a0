#include "dfw/json_write.h"

#include <string.h>

/* The escape of byte c (below 0x20, '"' or '\\') into e; its length. */
static size_t escape(unsigned char c, char e[6])
{
    static const char hex[] = "0123456789abcdef";
    static const char shorts[] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',
                                  ['\t'] = 't', ['"'] = '"',  ['\\'] = '\\'};
    e[0] = '\\';
    if (c < sizeof(shorts) && shorts[c] != 0) {
        e[1] = shorts[c];
        return 2;
    }
    memcpy(e + 1, "u00", 3);
    e[4] = hex[c >> 4];
    e[5] = hex[c & 0xf];
    return 6;
}

static int plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

dfw_err dfw_json_append_string(struct dfw_buf *out, const char *s)
{
    size_t len = strlen(s);
    /* room for the common case at once: no byte to escape */
    if (dfw_buf_reserve(out, len + 2) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    size_t start = out->len;
    dfw_err err = dfw_buf_append(out, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (err == DFW_OK && p < end) {
        const unsigned char *run = p;
        while (p < end && plain(*p)) {
            p++;
        }
        err = dfw_buf_append(out, run, (size_t)(p - run));
        if (err == DFW_OK && p < end) {
            char e[6];
            err = dfw_buf_append(out, e, escape(*p++, e));
        }
    }
    if (err == DFW_OK) {
        err = dfw_buf_append(out, "\"", 1);
    }
    if (err != DFW_OK) {
        out->len = start;
        out->data[start] = '\0';
    }
    return err;
}
