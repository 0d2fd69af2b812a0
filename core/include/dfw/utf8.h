/* UTF-8 well-formedness (RFC 3629 §4), for the parsers and escapers that must never pass invalid
 * text on. */
#ifndef DFW_UTF8_H
#define DFW_UTF8_H

#include <stddef.h>

/* Length (1 to 4) of the well-formed UTF-8 character at s, or 0 when the bytes at s are not one:
 * a stray continuation byte, a truncated sequence, an overlong form, a surrogate (U+D800 to
 * U+DFFF) or a code point above U+10FFFF. n is the number of bytes readable at s; 0 when n is 0.
 * ASCII (including NUL and control characters) is length 1: callers decide about those.
 * Pure and thread-safe. */
size_t dfw_utf8_char_len(const char *s, size_t n);

/* 1 when all n bytes at s are well-formed UTF-8 (as dfw_utf8_char_len), else 0. */
int dfw_utf8_valid(const char *s, size_t n);

#endif
