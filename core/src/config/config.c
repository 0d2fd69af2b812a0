/* The configuration loader. libinih splits "key = value" lines, strips comments and whitespace
 * and reports syntax errors; everything else is ours. Our own line reader sits in front of inih:
 * it counts physical lines (the Debian build of inih has no INI_HANDLER_LINENO), handles section
 * headers itself (inih truncates section names at 49 bytes, ours may be 64 + "tenant ") and
 * strips leading blanks (so an indented line is never an inih multi-line continuation). inih
 * calls the handler for a line before it asks for the next one, so the reader's line count is the
 * handler's line number. */
#include "config_internal.h"
#include "dfw/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_INCLUDE_DEPTH 8 /* nested include levels below the main file */

/* ---- errors and shared setters ---- */

/* Record the first error as "path:line: message" and remember, in every open file, which line
 * was being read. Returns 0 for the handler's "error" convention. */
int dfw__conf_fail_at(struct frame *f, int line, const char *fmt, ...)
{
    struct loader *ld = f->ld;
    if (ld->failed) {
        return 0;
    }
    ld->failed = 1;
    for (struct frame *p = f; p != NULL; p = p->parent) {
        if (p->stop_line == 0) {
            p->stop_line = p->lineno;
        }
    }
    if (ld->errbuf == NULL || ld->errlen == 0) {
        return 0;
    }
    int n = line > 0 ? snprintf(ld->errbuf, ld->errlen, "%s:%d: ", f->path, line)
                     : snprintf(ld->errbuf, ld->errlen, "%s: ", f->path);
    if (n > 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->errbuf + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* the message quotes names and values from the file: no control character or invalid byte
     * of theirs reaches the terminal or a log */
    for (size_t i = 0, len = strlen(ld->errbuf); i < len;) {
        size_t k = dfw_utf8_char_len(ld->errbuf + i, len - i);
        unsigned char c = (unsigned char)ld->errbuf[i];
        if (k == 0 || c < 0x20 || c == 0x7f) {
            ld->errbuf[i] = '?';
            k = 1;
        }
        i += k;
    }
    return 0;
}

/* 1 when a value is text: valid UTF-8 without control characters (tabs included). */
static int is_text(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return dfw_utf8_valid(s, n);
}

int dfw__conf_nomem(struct frame *f)
{
    return dfw__conf_fail(f, "out of memory");
}

/* Replace *slot with a copy of v. */
int dfw__conf_set_str(struct frame *f, char **slot, const char *v)
{
    char *copy = strdup(v);
    if (copy == NULL) {
        return dfw__conf_nomem(f);
    }
    free(*slot);
    *slot = copy;
    return 1;
}

/* Grow an array of elements to hold one more; zero the new element. */
void *dfw__conf_grow(void *arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap) {
        memset((char *)arr + n * elem, 0, elem);
        return arr;
    }
    size_t ncap = *cap ? *cap * 2 : 16;
    char *na = realloc(arr, ncap * elem);
    if (na == NULL) {
        return NULL;
    }
    memset(na + n * elem, 0, elem);
    *cap = ncap;
    return na;
}

/* ---- sections ---- */

static int section_close(struct frame *f)
{
    enum sect_kind kind = f->kind;
    if (f->ld->failed) {
        return 0;
    }
    if (kind == SECT_TENANT && !dfw__conf_tenant_close(f)) {
        return 0;
    }
    if (kind == SECT_OUTPUT && !dfw__conf_output_close(f)) {
        return 0;
    }
    f->kind = SECT_NONE;
    return 1;
}

/* s points at '[' (leading blanks already skipped). Close the current section, open the new. */
static int section_header(struct frame *f, char *s)
{
    char *end = strchr(s, ']');
    if (end == NULL) {
        return dfw__conf_fail(f, "section header without closing ']'");
    }
    char *rest = end + 1;
    rest += strspn(rest, " \t");
    if (*rest != '\0' && *rest != ';' && *rest != '#') {
        return dfw__conf_fail(f, "unexpected text after ']'");
    }
    *end = '\0';
    char *type = s + 1;
    type += strspn(type, " \t");
    size_t tlen = strcspn(type, " \t");
    char *name = type + tlen;
    name += strspn(name, " \t");
    size_t nlen = strlen(name);
    while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) {
        name[--nlen] = '\0';
    }
    type[tlen] = '\0';

    if (!section_close(f)) {
        return 0;
    }
    if (strcmp(type, "forwarder") == 0) {
        if (*name != '\0') {
            return dfw__conf_fail(f, "[forwarder] takes no name");
        }
        f->kind = SECT_FORWARDER;
        return 1;
    }
    if (strcmp(type, "tenant") != 0 && strcmp(type, "output") != 0) {
        return dfw__conf_fail(f,
                              "unknown section type '%s' (expected [forwarder], [tenant NAME] or "
                              "[output NAME])",
                              type);
    }
    if (*name == '\0') {
        return dfw__conf_fail(f, "[%s] needs a name: [%s NAME]", type, type);
    }
    if (!dfw__conf_valid_name(name)) {
        return dfw__conf_fail(
            f,
            "[%s %s] the name must be 1 to %d characters of A-Z a-z 0-9 _ . - and not "
            "start with '.' or '-'",
            type, name, NAME_MAX_LEN);
    }
    return type[0] == 't' ? dfw__conf_tenant_open(f, name, f->lineno)
                          : dfw__conf_output_open(f, name, f->lineno);
}

/* ---- reading files ---- */

/* inih's fgets-style reader: one physical line per call, pre-processed as described at the top of
 * this file. Section headers and comments reach inih as empty lines. */
static char *read_line(char *str, int num, void *stream)
{
    struct frame *f = stream;
    if (f->ld->failed) {
        return NULL;
    }
    errno = 0;
    ssize_t n = getline(&f->buf, &f->bufcap, f->fp);
    if (n < 0) {
        if (ferror(f->fp)) {
            dfw__conf_fail_at(f, 0, "read error: %s", strerror(errno ? errno : EIO));
        }
        return NULL;
    }
    f->lineno++;
    char *s = f->buf;
    if (memchr(s, '\0', (size_t)n) != NULL) {
        dfw__conf_fail(f, "NUL byte in line (not a text file?)");
        return NULL;
    }
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    if (f->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3; /* UTF-8 byte order mark */
    }
    s += strspn(s, " \t");
    if (*s == '[') {
        if (!section_header(f, s)) {
            return NULL;
        }
        s += strlen(s); /* inih sees an empty line */
    }
    else if (*s == ';' || *s == '#') {
        s += strlen(s);
    }
    size_t len = strlen(s);
    if (num <= 0 || len + 1 > (size_t)num) {
        dfw__conf_fail(f, "line too long (the limit is %d characters)", num > 0 ? num - 1 : 0);
        return NULL;
    }
    memcpy(str, s, len + 1);
    return str;
}

static int parse_file(struct loader *ld, struct frame *parent, const char *path);

/* True when s has glob(3) wildcards. */
static int has_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* The directory glob(3) could not read (and why); glob's error callback takes no user pointer. */
static _Thread_local int glob_errno;
static _Thread_local char glob_errpath[256];

/* A directory that does not exist matches nothing, like an empty one; anything else stops. */
static int glob_error(const char *epath, int eerrno)
{
    if (eerrno == ENOENT || eerrno == ENOTDIR) {
        return 0;
    }
    glob_errno = eerrno;
    snprintf(glob_errpath, sizeof(glob_errpath), "%s", epath);
    return 1;
}

/* "include = GLOB": matches in sorted order, relative to the including file's directory. */
static int do_include(struct frame *f, const char *value)
{
    if (*value == '\0') {
        return dfw__conf_fail(f, "include: empty value");
    }
    char *pattern;
    if (value[0] == '/') {
        pattern = strdup(value);
    }
    else {
        /* Escape wildcards in the directory part: only the configured value is a pattern. */
        size_t cap = strlen(f->dir) * 2 + strlen(value) + 2;
        pattern = malloc(cap);
        if (pattern != NULL) {
            size_t n = 0;
            for (const char *d = f->dir; *d; d++) {
                if (strchr("*?[]\\", *d) != NULL) {
                    pattern[n++] = '\\';
                }
                pattern[n++] = *d;
            }
            snprintf(pattern + n, cap - n, "/%s", value);
        }
    }
    if (pattern == NULL) {
        return dfw__conf_nomem(f);
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    glob_errno = 0;
    glob_errpath[0] = '\0';
    int r = glob(pattern, 0, glob_error, &g);
    free(pattern);
    int ok = 1;
    if (r == GLOB_NOMATCH) {
        if (!has_magic(value)) {
            ok = dfw__conf_fail(f, "include: %s: no such file", value);
        }
    }
    else if (r == GLOB_NOSPACE) {
        ok = dfw__conf_nomem(f);
    }
    else if (r != 0) {
        ok = dfw__conf_fail(f, "include: %s: cannot read %s: %s", value, glob_errpath,
                            strerror(glob_errno ? glob_errno : EIO));
    }
    else {
        for (size_t i = 0; i < g.gl_pathc && ok; i++) {
            ok = parse_file(f->ld, f, g.gl_pathv[i]) == 0;
        }
    }
    globfree(&g);
    return ok;
}

/* Append "name=value\n" to *canon (what reload compares). 0 when out of memory. */
static int canon_add(char **canon, const char *name, const char *value)
{
    size_t old = *canon ? strlen(*canon) : 0, add = strlen(name) + strlen(value) + 2;
    char *n = realloc(*canon, old + add + 1);
    if (n == NULL) {
        return 0;
    }
    snprintf(n + old, add + 1, "%s=%s\n", name, value);
    *canon = n;
    return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct frame *f = user;
    (void)section; /* sections are tracked by read_line */
    if (f->ld->failed) {
        return 0;
    }
    if (*name == '\0') {
        return dfw__conf_fail(f, "missing key name before '='");
    }
    if (!is_text(name) || !is_text(value)) {
        /* the value reaches JSON outputs, headers and logs: only text */
        return dfw__conf_fail(f, "%s: control characters or invalid UTF-8 in the %s", name,
                              is_text(name) ? "value" : "key");
    }
    if (strcmp(name, "include") == 0) {
        if (f->kind != SECT_NONE && f->kind != SECT_FORWARDER) {
            return dfw__conf_fail(
                f, "include is only allowed in [forwarder] or before the first section");
        }
        return do_include(f, value);
    }
    switch (f->kind) {
    case SECT_NONE:
        return dfw__conf_fail(f, "key '%s' outside any section (put it under [forwarder])", name);
    case SECT_FORWARDER:
        if (!canon_add(&f->ld->cfg->forwarder_canon, name, value)) {
            return dfw__conf_nomem(f);
        }
        return dfw__conf_forwarder_key(f, name, value);
    case SECT_TENANT:
        if (!canon_add(&f->ld->cfg->tenants[f->idx].canon, name, value)) {
            return dfw__conf_nomem(f);
        }
        return dfw__conf_tenant_key(f, name, value);
    case SECT_OUTPUT:
        return dfw__conf_output_key(f, name, value);
    }
    return 0;
}

/* Opening the main file fails as "path: why"; an included one at the include line. */
static int open_fail(struct frame *fr, const char *why)
{
    if (fr->parent == NULL) {
        return dfw__conf_fail_at(fr, 0, "cannot open: %s", why);
    }
    return dfw__conf_fail(fr->parent, "include: %s: %s", fr->path, why);
}

/* Open fr->path as a regular file for reading. */
static FILE *open_conf(struct frame *fr, struct stat *st)
{
    int fd = open(fr->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        open_fail(fr, strerror(errno));
        return NULL;
    }
    const char *why = NULL;
    if (fstat(fd, st) != 0) {
        why = strerror(errno);
    }
    else if (!S_ISREG(st->st_mode)) {
        why = "not a regular file";
    }
    FILE *fp = why ? NULL : fdopen(fd, "r");
    if (fp == NULL) {
        open_fail(fr, why ? why : strerror(errno));
        close(fd);
    }
    return fp;
}

/* Read one file (and, through include, the files it names). Returns 0 or -1 (ld->failed). */
static int parse_file(struct loader *ld, struct frame *parent, const char *path)
{
    struct frame fr;
    memset(&fr, 0, sizeof(fr));
    fr.parent = parent;
    fr.ld = ld;
    fr.path = path;
    if (parent != NULL && ld->depth > MAX_INCLUDE_DEPTH) {
        dfw__conf_fail(parent, "include: %s: includes nested deeper than %d levels", path,
                       MAX_INCLUDE_DEPTH);
        return -1;
    }
    struct stat st;
    fr.fp = open_conf(&fr, &st);
    if (fr.fp == NULL) {
        return -1;
    }
    for (struct frame *p = parent; p != NULL; p = p->parent) {
        if (p->dev == st.st_dev && p->ino == st.st_ino) {
            fclose(fr.fp);
            dfw__conf_fail(parent, "include: %s: include cycle (%s is already being read)", path,
                           p->path);
            return -1;
        }
    }
    fr.dev = st.st_dev;
    fr.ino = st.st_ino;
    const char *slash = strrchr(path, '/');
    fr.dir = slash == NULL   ? strdup(".")
             : slash == path ? strdup("")
                             : strndup(path, (size_t)(slash - path));
    if (fr.dir == NULL) {
        fclose(fr.fp);
        dfw__conf_nomem(parent ? parent : &fr);
        return -1;
    }

    ld->depth++;
    int r = ini_parse_stream(read_line, &fr, handler, &fr);
    ld->depth--;
    if (!ld->failed && !ferror(fr.fp)) {
        section_close(&fr);
    }
    /* inih returns the first line it could not parse (or where the handler failed). A syntax
     * error before the line that stopped us is the first error of this file: report it. */
    if (r > 0 && (!ld->failed || r < fr.stop_line)) {
        ld->failed = 0;
        fr.stop_line = 0;
        dfw__conf_fail_at(&fr, r, "syntax error: expected 'key = value', '[section]' or a comment");
    }
    else if (r == -2 && !ld->failed) {
        dfw__conf_nomem(&fr);
    }
    free(fr.buf);
    free(fr.dir);
    fclose(fr.fp);
    return ld->failed ? -1 : 0;
}

/* ---- public ---- */

void dfw_config_free(struct dfw_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    for (size_t i = 0; i < cfg->ntenants; i++) {
        dfw__conf_tenant_free(&cfg->tenants[i]);
    }
    free(cfg->tenants);
    for (size_t i = 0; i < cfg->noutputs; i++) {
        dfw__conf_output_free(&cfg->outputs[i]);
    }
    free(cfg->outputs);
    free(cfg->state_dir);
    free(cfg->ca_file);
    free(cfg->log_level);
    free(cfg->metrics_file);
    free(cfg->forwarder_canon);
    free(cfg->metrics_listen);
    free(cfg);
}

/* Key/values a host took from its own configuration, fed through the same handlers as a file: the
 * n-th setting is "line" n of origin in messages. */
static void parse_settings(struct loader *ld,
                           struct frame *top,
                           const struct dfw_config_setting *settings,
                           size_t n)
{
    top->dir = strdup(".");
    if (top->dir == NULL) {
        dfw__conf_nomem(top);
        return;
    }
    const char *section = NULL;
    for (size_t i = 0; i < n && !ld->failed; i++) {
        const struct dfw_config_setting *st = &settings[i];
        top->lineno = (int)(i + 1);
        if (st->section == NULL || st->key == NULL || st->value == NULL) {
            dfw__conf_fail(top, "setting without a section, key or value");
            break;
        }
        if (section == NULL || strcmp(section, st->section) != 0) {
            size_t len = strlen(st->section) + 3;
            char *header = malloc(len);
            if (header == NULL) {
                dfw__conf_nomem(top);
                break;
            }
            snprintf(header, len, "[%s]", st->section);
            int ok = section_header(top, header);
            free(header);
            if (!ok) {
                break;
            }
            section = st->section;
        }
        handler(top, st->section, st->key, st->value);
    }
    if (!ld->failed) {
        section_close(top);
    }
    free(top->dir);
    top->dir = NULL;
}

/* Defaults, then a file (path) or the settings, then the checks of the whole configuration. */
static struct dfw_config *load(const char *path,
                               const struct dfw_config_setting *settings,
                               size_t nsettings,
                               int flags,
                               char *errbuf,
                               size_t errlen)
{
    struct loader ld;
    memset(&ld, 0, sizeof(ld));
    ld.errbuf = errbuf;
    ld.errlen = errlen;
    if (errbuf != NULL && errlen > 0) {
        errbuf[0] = '\0';
    }
    struct frame top;
    memset(&top, 0, sizeof(top));
    top.ld = &ld;
    top.path = path ? path : "(null)";

    ld.cfg = calloc(1, sizeof(*ld.cfg));
    if (ld.cfg == NULL) {
        dfw__conf_nomem(&top);
        return NULL;
    }
    struct dfw_config *cfg = ld.cfg;
    cfg->state_dir = strdup("/var/lib/defender-forwarder");
    cfg->log_level = strdup("info");
    cfg->poll_interval_ms = 60 * 1000;
    cfg->overlap_ms = 10 * 60 * 1000;
    cfg->settle_delay_ms = 2 * 60 * 1000;
    cfg->metrics_per_tenant = 1;
    cfg->read_ahead = 1;
    cfg->initial_lookback_ms = DAY_MS;
    cfg->http_timeout_ms = 60 * 1000;
    cfg->connect_timeout_ms = 10 * 1000;
    cfg->max_retries = 6;
    cfg->page_size = 0;
    cfg->max_connections = 64;
    int parsed = 0;
    if (cfg->state_dir == NULL || cfg->log_level == NULL) {
        dfw__conf_nomem(&top);
    }
    else if (settings != NULL) {
        parse_settings(&ld, &top, settings, nsettings);
        parsed = !ld.failed;
    }
    else if (path == NULL || *path == '\0') {
        dfw__conf_fail_at(&top, 0, "no configuration file given");
    }
    else {
        parsed = parse_file(&ld, NULL, path) == 0;
    }
    if (parsed) {
        if (cfg->ntenants == 0) {
            dfw__conf_fail_at(&top, 0, "no [tenant NAME] section: at least one tenant is required");
        }
        else if (cfg->noutputs == 0 && !(flags & DFW_CONFIG_NO_OUTPUTS)) {
            dfw__conf_fail_at(&top, 0, "no [output NAME] section: at least one output is required");
        }
    }
    dfw__conf_nameset_free(&ld.tenant_names);
    dfw__conf_nameset_free(&ld.output_names);
    for (size_t i = 0; i < NFKEYS; i++) {
        free(ld.fkey_file[i]);
    }
    if (ld.failed) {
        dfw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

struct dfw_config *dfw_config_load(const char *path, char *errbuf, size_t errlen)
{
    return load(path, NULL, 0, 0, errbuf, errlen);
}

struct dfw_config *dfw_config_load_flags(const char *path, int flags, char *errbuf, size_t errlen)
{
    return load(path, NULL, 0, flags, errbuf, errlen);
}

struct dfw_config *dfw_config_from_settings(const struct dfw_config_setting *settings,
                                            size_t n,
                                            const char *origin,
                                            int flags,
                                            char *errbuf,
                                            size_t errlen)
{
    static const struct dfw_config_setting none;
    return load(origin ? origin : "settings", n ? settings : &none, n, flags, errbuf, errlen);
}

const struct dfw_tenant_conf *dfw_config_tenant(const struct dfw_config *cfg, const char *name)
{
    if (cfg == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < cfg->ntenants; i++) {
        if (strcmp(cfg->tenants[i].name, name) == 0) {
            return &cfg->tenants[i];
        }
    }
    return NULL;
}
