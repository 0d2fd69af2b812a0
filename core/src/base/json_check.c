/* RFC 8259 grammar, checked in one pass without building anything. */
#include "dfw/json_check.h"
#include "dfw/utf8.h"
#include "swar.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    const char *start;
    const char *p;
    const char *end;
    const char *why;
    size_t max_depth;
    struct dfw_json_index *ix; /* NULL: no index wanted, or given up (out of memory) */
    size_t *open_at;           /* per open container: its offset, and ix->n when it opened */
    size_t *slot;
    struct dfw_json_capture *cap; /* NULL: none wanted, or given up (out of memory) */
    size_t name_len[DFW_JSON_CAPTURE_MAX];
    int escaped; /* the last string read held a backslash */
};

static int fail(struct scan *s, const char *why)
{
    s->why = why;
    return -1;
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Past the bytes that stand for themselves in a string: printable ASCII but '"' and '\\'. */
static const char *plain_run(const char *p, const char *end)
{
#if DFW_BLK
    while (end - p >= DFW_BLK) {
        dfw__blk x = dfw__blk_load(p);
        uint64_t m = dfw__blk_eq(x, '"') | dfw__blk_eq(x, '\\') | dfw__blk_ctl_or_high(x);
        if (m != 0) {
            return p + dfw__blk_first(m);
        }
        p += DFW_BLK;
    }
#endif
    while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' &&
           *p != '\\') {
        p++;
    }
    return p;
}

/* At the opening quote. */
static int string(struct scan *s)
{
    s->p++;
    while ((s->p = plain_run(s->p, s->end)) < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return 0;
        }
        if (c == '\\') {
            if (s->end - s->p < 2) {
                return fail(s, "truncated escape");
            }
            char e = s->p[1];
            s->escaped = 1;
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                s->p += 2;
                continue;
            }
            if (e != 'u') {
                return fail(s, "invalid escape in a string");
            }
            if (s->end - s->p < 6 || !is_hex(s->p[2]) || !is_hex(s->p[3]) || !is_hex(s->p[4]) ||
                !is_hex(s->p[5])) {
                return fail(s, "invalid \\u escape in a string");
            }
            s->p += 6;
            continue;
        }
        if (c < 0x20) {
            return fail(s, "control character in a string");
        }
        size_t n = dfw_utf8_char_len(s->p, (size_t)(s->end - s->p));
        if (n == 0) {
            return fail(s, "invalid UTF-8 in a string");
        }
        s->p += n;
    }
    return fail(s, "truncated: unterminated string");
}

static int digits(struct scan *s)
{
    if (s->p >= s->end || !is_digit(*s->p)) {
        return -1;
    }
    while (s->p < s->end && is_digit(*s->p)) {
        s->p++;
    }
    return 0;
}

/* number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ) */
static int number(struct scan *s)
{
    if (*s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
        if (s->p < s->end && is_digit(*s->p)) {
            return fail(s, "number with a leading zero");
        }
    }
    else if (digits(s) != 0) {
        return fail(s, "invalid number");
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (digits(s) != 0) {
            return fail(s, "number without digits after the decimal point");
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (digits(s) != 0) {
            return fail(s, "number without exponent digits");
        }
    }
    return 0;
}

static int literal(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        return fail(s, "invalid literal (only true, false and null)");
    }
    s->p += n;
    return 0;
}

static void capture_drop(struct scan *s)
{
    dfw_json_capture_free(s->cap);
    s->cap = NULL; /* only an aid: the check goes on without it */
}

/* An object at the capture's depth opens at s->p. */
static void capture_open(struct scan *s)
{
    struct dfw_json_capture *c = s->cap;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        struct dfw_json_capture_obj *o = realloc(c->obj, cap * sizeof(*o));
        if (o == NULL) {
            capture_drop(s);
            return;
        }
        c->obj = o;
        c->cap = cap;
    }
    c->obj[c->n++] = (struct dfw_json_capture_obj){(size_t)(s->p - s->start), 0, {{0, 0}}};
}

/* A member of the current captured object is named by the string at [name, name_end) (quotes
 * included): the index of the wanted name it is, or -1. */
static int capture_name(struct scan *s, const char *name, const char *name_end)
{
    struct dfw_json_capture *c = s->cap;
    if (s->escaped) {
        c->obj[c->n - 1].unsure = 1;
        return -1;
    }
    struct dfw_json_span span = {(size_t)(name - s->start), (size_t)(name_end - name)};
    for (size_t k = 0; k < c->nnames && k < DFW_JSON_CAPTURE_MAX; k++) {
        if (dfw_json_name_eq(s->start, span, 0, c->names[k], s->name_len[k])) {
            return (int)k;
        }
    }
    return -1;
}

/* A scalar, or the opening bracket of a container (pushed). */
static int value_start(struct scan *s, unsigned char *stack, size_t *depth)
{
    skip_ws(s);
    if (s->p >= s->end) {
        return fail(s, "truncated: a value is missing");
    }
    switch (*s->p) {
    case '{':
    case '[':
        if (*depth >= s->max_depth) {
            return fail(s, "nested too deep");
        }
        if (s->ix != NULL) {
            s->open_at[*depth] = (size_t)(s->p - s->start);
            s->slot[*depth] = s->ix->n;
        }
        stack[(*depth)++] = (unsigned char)*s->p;
        if (s->cap != NULL && *depth == s->cap->depth && *s->p == '{') {
            capture_open(s);
        }
        s->p++;
        return 0;
    case '"':
        return string(s);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        if (*s->p == '-' || is_digit(*s->p)) {
            return number(s);
        }
        return fail(s, "unexpected character where a value must start");
    }
}

/* "key" : at the key's opening quote (after optional whitespace); *name: where the key's
 * opening quote is, *name_end: after its closing one. */
static int member_key(struct scan *s, const char **name, const char **name_end)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"') {
        return fail(s,
                    s->p >= s->end ? "truncated: unclosed object" : "object key must be a string");
    }
    *name = s->p;
    s->escaped = 0;
    if (string(s) != 0) {
        return -1;
    }
    *name_end = s->p;
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':') {
        return fail(s, "':' expected after an object key");
    }
    s->p++;
    return 0;
}

/* The container that opened at depth d closes at s->p: indexed when big, before the ones inside it
 * (they were added since it opened), so that entries stay sorted by where they open. */
static void index_close(struct scan *s, size_t d)
{
    struct dfw_json_index *ix = s->ix;
    size_t open = s->open_at[d], close = (size_t)(s->p - s->start);
    if (close + 1 - open < DFW_JSON_INDEX_MIN) {
        return;
    }
    if (ix->n == ix->cap) {
        size_t cap = ix->cap ? 2 * ix->cap : 1024;
        struct dfw_json_container *c = realloc(ix->c, cap * sizeof(*c));
        if (c == NULL) {
            dfw_json_index_free(ix);
            s->ix = NULL; /* only an aid: the check goes on without it */
            return;
        }
        ix->c = c;
        ix->cap = cap;
    }
    size_t at = s->slot[d];
    memmove(ix->c + at + 1, ix->c + at, (ix->n - at) * sizeof(*ix->c));
    ix->c[at] = (struct dfw_json_container){(uint32_t)open, (uint32_t)close};
    ix->n++;
}

static int check(struct scan *s)
{
    unsigned char stack[DFW_JSON_MAX_DEPTH];
    size_t open_at[DFW_JSON_MAX_DEPTH], slot[DFW_JSON_MAX_DEPTH];
    s->open_at = open_at;
    s->slot = slot;
    size_t depth = 0;
    if (value_start(s, stack, &depth) != 0) {
        return -1;
    }
    /* p is after a scalar or an opening bracket; fresh marks an opening bracket just read */
    int fresh = depth > 0;
    while (depth > 0) {
        skip_ws(s);
        if (s->p >= s->end) {
            return fail(s, "truncated: unclosed object or array");
        }
        unsigned char top = stack[depth - 1];
        char c = *s->p;
        if ((top == '{' && c == '}') || (top == '[' && c == ']')) {
            if (s->ix != NULL) {
                index_close(s, depth - 1);
            }
            s->p++;
            depth--;
            fresh = 0;
            continue;
        }
        if (!fresh) {
            if (c != ',') {
                return fail(s, "',' or a closing bracket expected");
            }
            s->p++;
        }
        int want = -1;
        if (top == '{') {
            const char *name, *name_end;
            if (member_key(s, &name, &name_end) != 0) {
                return -1;
            }
            if (s->cap != NULL && depth == s->cap->depth) {
                skip_ws(s);
                want = capture_name(s, name, name_end);
            }
        }
        size_t before = depth;
        const char *value = s->p;
        if (value_start(s, stack, &depth) != 0) {
            return -1;
        }
        fresh = depth > before;
        if (want >= 0 && s->cap != NULL) {
            struct dfw_json_capture_obj *o = &s->cap->obj[s->cap->n - 1];
            if (fresh) {
                o->unsure = 1; /* a container: its end is not known yet */
            }
            else {
                o->v[want] =
                    (struct dfw_json_span){(size_t)(value - s->start), (size_t)(s->p - value)};
            }
        }
    }
    skip_ws(s);
    if (s->p != s->end) {
        return fail(s, "trailing characters after the JSON value");
    }
    return 0;
}

dfw_err dfw_json_check(const char *text, size_t len, char *errbuf, size_t errlen)
{
    return dfw_json_check_depth(text, len, DFW_JSON_MAX_DEPTH, errbuf, errlen);
}

dfw_err
dfw_json_check_depth(const char *text, size_t len, size_t max_depth, char *errbuf, size_t errlen)
{
    return dfw_json_check_index(text, len, max_depth, NULL, errbuf, errlen);
}

dfw_err dfw_json_check_index(const char *text,
                             size_t len,
                             size_t max_depth,
                             struct dfw_json_index *ix,
                             char *errbuf,
                             size_t errlen)
{
    return dfw_json_check_capture(text, len, max_depth, ix, NULL, errbuf, errlen);
}

void dfw_json_capture_free(struct dfw_json_capture *c)
{
    if (c == NULL) {
        return;
    }
    free(c->obj);
    c->obj = NULL;
    c->n = c->cap = 0;
}

dfw_err dfw_json_check_capture(const char *text,
                               size_t len,
                               size_t max_depth,
                               struct dfw_json_index *ix,
                               struct dfw_json_capture *cap,
                               char *errbuf,
                               size_t errlen)
{
    if (max_depth > DFW_JSON_MAX_DEPTH) {
        max_depth = DFW_JSON_MAX_DEPTH;
    }
    if (ix != NULL) {
        dfw_json_index_free(ix);
        ix->base = text;
        ix->len = len;
    }
    struct scan s = {text, text, text + len, NULL, max_depth, len <= UINT32_MAX ? ix : NULL,
                     NULL, NULL, cap,        {0},  0};
    if (cap != NULL) {
        dfw_json_capture_free(cap);
        for (size_t k = 0; k < cap->nnames && k < DFW_JSON_CAPTURE_MAX; k++) {
            s.name_len[k] = strlen(cap->names[k]);
        }
    }
    if (text == NULL || check(&s) != 0) {
        dfw_json_capture_free(cap);
        dfw_json_index_free(ix);
        if (errbuf != NULL && errlen > 0) {
            snprintf(errbuf, errlen, "byte %zu: %s", text ? (size_t)(s.p - s.start) : (size_t)0,
                     s.why ? s.why : "no text");
        }
        return DFW_ERR_INVALID;
    }
    return DFW_OK;
}
