#include "dfw/utf8.h"

/* The table of RFC 3629 §4: each lead byte range with the allowed range of its second byte. */
size_t dfw_utf8_char_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0) {
        return 0;
    }
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong 3-byte forms */
        hi = c == 0xed ? 0x9f : 0xbf; /* no surrogates */
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80; /* no overlong 4-byte forms */
        hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
    }
    else {
        return 0; /* continuation byte, 0xc0/0xc1 (overlong) or 0xf5-0xff */
    }
    if (n < len || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

int dfw_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = dfw_utf8_char_len(s + i, n - i);
        if (k == 0) {
            return 0;
        }
        i += k;
    }
    return 1;
}
