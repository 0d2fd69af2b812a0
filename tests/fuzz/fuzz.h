/* Shared by the libFuzzer targets (tests/fuzz/fuzz_<target>.c): invariant checks that abort (a
 * crash for libFuzzer, a failed replay for ctest) and a reader that splits one input into fields.
 * Input layout used by the structured targets: a few option bytes, then fields separated by the
 * byte 0xFF (never part of UTF-8, so every hostile string but that byte can be expressed). */
#ifndef DFW_FUZZ_H
#define DFW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the failed condition and a printf message: libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FUZZ_SEP 0xFF

struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

/* The next option byte, 0 when the input is used up. */
static inline unsigned fuzz_byte(struct fuzz_in *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

/* The next field up to FUZZ_SEP (or the end) as a malloc'd NUL-terminated copy; *len is its
 * length (it may hold NUL bytes). Never NULL. */
static inline char *fuzz_field(struct fuzz_in *in, size_t *len)
{
    const uint8_t *sep = in->n ? memchr(in->p, FUZZ_SEP, in->n) : NULL;
    size_t k = sep ? (size_t)(sep - in->p) : in->n;
    char *s = malloc(k + 1);
    if (s == NULL) {
        abort();
    }
    if (k > 0) {
        memcpy(s, in->p, k);
    }
    s[k] = '\0';
    in->p += k;
    in->n -= k;
    if (sep != NULL) {
        in->p++;
        in->n--;
    }
    if (len != NULL) {
        *len = k;
    }
    return s;
}

/* The whole input as a malloc'd NUL-terminated string. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(s, data, size);
    }
    s[size] = '\0';
    return s;
}

/* 1 when s (n bytes) holds no control character (0x00-0x1f, 0x7f). */
static inline int fuzz_no_controls(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

#endif
