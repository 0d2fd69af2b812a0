/* Reading and writing secrets. Nothing here ever copies secret bytes into errbuf or a log line:
 * messages name the file or the variable only. */
#include "dfw/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A secret file larger than this is surely the wrong file (a PEM key with chain is a few KiB). */
#define SECRET_MAX (1024 * 1024)

/* memset through a volatile pointer so the compiler cannot drop the wipe before free(). */
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;

static void wipe(void *p, size_t n)
{
    if (p != NULL && n > 0) {
        wipe_memset(p, 0, n);
    }
}

void dfw_secret_free(char *secret)
{
    if (secret == NULL) {
        return;
    }
    wipe(secret, strlen(secret));
    free(secret);
}

/* Open path (symlinks followed) and check what was opened, not the name: a regular file without
 * group/other permission bits. Returns an fd, or -1 with *err and errbuf set. */
static int
open_checked(const char *path, struct stat *st, dfw_err *err, char *errbuf, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO must not hang; fstat rejects it right after. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        *err = (e == ENOENT || e == ENOTDIR) ? DFW_ERR_NOTFOUND : DFW_ERR_IO;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(e));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        *err = DFW_ERR_IO;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(e));
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        *err = DFW_ERR_PERM;
        snprintf(errbuf, errlen, "%s is not a regular file", path);
        return -1;
    }
    if ((st->st_mode & 077) != 0) {
        close(fd);
        *err = DFW_ERR_PERM;
        snprintf(errbuf, errlen, "%s is %s by group or others (mode %04o); chmod 600 %s", path,
                 (st->st_mode & 044) ? "readable" : "accessible",
                 (unsigned int)(st->st_mode & 07777), path);
        return -1;
    }
    *err = DFW_OK;
    return fd;
}

dfw_err dfw_secret_check_file(const char *path, char *errbuf, size_t errlen)
{
    struct stat st;
    dfw_err err;
    if (path == NULL || *path == '\0') {
        snprintf(errbuf, errlen, "secret file: empty path");
        return DFW_ERR_NOTFOUND;
    }
    int fd = open_checked(path, &st, &err, errbuf, errlen);
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

/* Read the whole file into a fresh buffer. Every buffer that held secret bytes is wiped. */
static dfw_err read_fd(int fd,
                       const struct stat *st,
                       const char *path,
                       char **out,
                       size_t *len,
                       char *errbuf,
                       size_t errlen)
{
    /* Room for the whole file, the NUL and the 0-byte read that tells EOF without growing. */
    size_t cap = (st->st_size > 0 && st->st_size < SECRET_MAX) ? (size_t)st->st_size + 2 : 4096;
    size_t n = 0;
    if (st->st_size > SECRET_MAX) {
        snprintf(errbuf, errlen, "%s: larger than %d bytes; not a secret file", path, SECRET_MAX);
        return DFW_ERR_INVALID;
    }
    char *buf = malloc(cap);
    if (buf == NULL) {
        snprintf(errbuf, errlen, "%s: out of memory", path);
        return DFW_ERR_NOMEM;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (n >= SECRET_MAX) {
                wipe(buf, n);
                free(buf);
                snprintf(errbuf, errlen, "%s: larger than %d bytes; not a secret file", path,
                         SECRET_MAX);
                return DFW_ERR_INVALID;
            }
            /* Not realloc: it could leave a copy of the secret in freed memory. */
            char *bigger = malloc(cap * 2);
            if (bigger == NULL) {
                wipe(buf, n);
                free(buf);
                snprintf(errbuf, errlen, "%s: out of memory", path);
                return DFW_ERR_NOMEM;
            }
            memcpy(bigger, buf, n);
            wipe(buf, n);
            free(buf);
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            wipe(buf, n);
            free(buf);
            snprintf(errbuf, errlen, "%s: read: %s", path, strerror(e));
            return DFW_ERR_IO;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return DFW_OK;
}

/* Strip trailing CR/LF, reject empty and NUL-containing secrets. what names the source. */
static dfw_err
finish(char *buf, size_t n, const char *what, char **out, size_t *len, char *errbuf, size_t errlen)
{
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    if (n == 0) {
        free(buf);
        snprintf(errbuf, errlen, "%s is empty", what);
        return DFW_ERR_NOTFOUND;
    }
    if (memchr(buf, '\0', n) != NULL) {
        wipe(buf, n);
        free(buf);
        snprintf(errbuf, errlen, "%s contains a NUL byte (expected text, e.g. PEM)", what);
        return DFW_ERR_INVALID;
    }
    *out = buf;
    if (len != NULL) {
        *len = n;
    }
    return DFW_OK;
}

static dfw_err read_file(const char *path, char **out, size_t *len, char *errbuf, size_t errlen)
{
    struct stat st;
    dfw_err err;
    int fd = open_checked(path, &st, &err, errbuf, errlen);
    if (fd < 0) {
        return err;
    }
    char *buf = NULL;
    size_t n = 0;
    err = read_fd(fd, &st, path, &buf, &n, errbuf, errlen);
    close(fd);
    if (err != DFW_OK) {
        return err;
    }
    return finish(buf, n, path, out, len, errbuf, errlen);
}

static dfw_err
read_credential(const char *name, char **out, size_t *len, char *errbuf, size_t errlen)
{
    if (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        snprintf(errbuf, errlen, "credential '%s': not a valid credential name", name);
        return DFW_ERR_CONFIG;
    }
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (dir == NULL || *dir == '\0') {
        snprintf(errbuf, errlen,
                 "credential '%s': $CREDENTIALS_DIRECTORY is not set (start the service with "
                 "LoadCredential=%s:/path/to/file or use a *_file key)",
                 name, name);
        return DFW_ERR_NOTFOUND;
    }
    size_t plen = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(plen);
    if (path == NULL) {
        snprintf(errbuf, errlen, "credential '%s': out of memory", name);
        return DFW_ERR_NOMEM;
    }
    snprintf(path, plen, "%s/%s", dir, name);
    dfw_err err = read_file(path, out, len, errbuf, errlen);
    free(path);
    return err;
}

static dfw_err read_env(const char *name, char **out, size_t *len, char *errbuf, size_t errlen)
{
    const char *v = getenv(name);
    if (v == NULL) {
        snprintf(errbuf, errlen, "environment variable %s is not set", name);
        return DFW_ERR_NOTFOUND;
    }
    char *copy = strdup(v);
    if (copy == NULL) {
        snprintf(errbuf, errlen, "environment variable %s: out of memory", name);
        return DFW_ERR_NOMEM;
    }
    char what[300];
    snprintf(what, sizeof(what), "environment variable %s", name);
    return finish(copy, strlen(copy), what, out, len, errbuf, errlen);
}

dfw_err dfw_secret_read(
    const struct dfw_secret_ref *ref, char **out, size_t *len, char *errbuf, size_t errlen)
{
    if (out == NULL) {
        snprintf(errbuf, errlen, "secret: no output pointer");
        return DFW_ERR_INVALID;
    }
    *out = NULL;
    if (len != NULL) {
        *len = 0;
    }
    int nset = 0;
    if (ref != NULL) {
        nset = (ref->file != NULL) + (ref->credential != NULL) + (ref->env != NULL);
    }
    if (nset != 1) {
        snprintf(errbuf, errlen, "secret: %s",
                 nset == 0 ? "no source set (file, credential or env)"
                           : "more than one source set");
        return DFW_ERR_CONFIG;
    }
    if (ref->file != NULL) {
        if (*ref->file == '\0') {
            snprintf(errbuf, errlen, "secret file: empty path");
            return DFW_ERR_NOTFOUND;
        }
        return read_file(ref->file, out, len, errbuf, errlen);
    }
    if (ref->credential != NULL) {
        return read_credential(ref->credential, out, len, errbuf, errlen);
    }
    return read_env(ref->env, out, len, errbuf, errlen);
}

static dfw_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return DFW_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return DFW_OK;
}

/* Create "<dir>/.<base>.<pid>.<n>.tmp" with O_EXCL, mode 0600. *tmp is malloc'd. */
static int create_temp(const char *dir, const char *base, char **tmp)
{
    static atomic_uint counter;
    size_t cap = strlen(dir) + strlen(base) + 64;
    char *name = malloc(cap);
    if (name == NULL) {
        errno = ENOMEM;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned int n = atomic_fetch_add(&counter, 1);
        snprintf(name, cap, "%s/.%s.%ld.%u.tmp", dir, base, (long)getpid(), n);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            *tmp = name;
            return fd;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    int e = errno;
    free(name);
    errno = e;
    return -1;
}

dfw_err dfw_secret_write_file(const char *path, const char *secret, char *errbuf, size_t errlen)
{
    if (path == NULL || *path == '\0' || secret == NULL) {
        snprintf(errbuf, errlen, "secret write: no path or no secret");
        return DFW_ERR_INVALID;
    }
    /* Split into directory and base name; "tok" is "./tok", "/tok" is "/" + "tok". */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (*base == '\0') {
        snprintf(errbuf, errlen, "%s: not a file name", path);
        return DFW_ERR_INVALID;
    }
    char *dir;
    if (slash == NULL) {
        dir = strdup(".");
    }
    else if (slash == path) {
        dir = strdup("/");
    }
    else {
        dir = strndup(path, (size_t)(slash - path));
    }
    if (dir == NULL) {
        snprintf(errbuf, errlen, "%s: out of memory", path);
        return DFW_ERR_NOMEM;
    }

    char *tmp = NULL;
    int fd = create_temp(dir, base, &tmp);
    if (fd < 0) {
        snprintf(errbuf, errlen, "%s: cannot create a temporary file in %s: %s", path, dir,
                 strerror(errno));
        free(dir);
        return DFW_ERR_IO;
    }
    const char *step = NULL;
    /* Explicit 0600 whatever the umask did; a stricter umask must not make it unreadable. */
    if (fchmod(fd, 0600) != 0) {
        step = "chmod";
    }
    else if (write_all(fd, secret, strlen(secret)) != DFW_OK) {
        step = "write";
    }
    else if (fsync(fd) != 0) {
        step = "fsync";
    }
    int e = errno;
    if (close(fd) != 0 && step == NULL) {
        e = errno;
        step = "close";
    }
    if (step == NULL && rename(tmp, path) != 0) {
        e = errno;
        step = "rename";
    }
    if (step != NULL) {
        unlink(tmp);
        snprintf(errbuf, errlen, "%s: %s: %s", path, step, strerror(e));
        free(tmp);
        free(dir);
        return DFW_ERR_IO;
    }
    free(tmp);

    /* The rename is durable only once the directory entry is on disk. */
    dfw_err err = DFW_OK;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        snprintf(errbuf, errlen, "%s: fsync directory %s: %s", path, dir, strerror(errno));
        err = DFW_ERR_IO;
    }
    if (dfd >= 0) {
        close(dfd);
    }
    free(dir);
    return err;
}
