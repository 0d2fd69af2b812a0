#include "dfw/state.h"
#include "dfw/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Layout: <dir>/lock, <dir>/checkpoints/<tenant>/<stream>.json */
struct dfw_state {
    char *dir;
    int lock_fd;
};

static int mkdir_p(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST) {
        return 0;
    }
    return -1;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

struct dfw_state *dfw_state_open(const char *dir, int lock, char *errbuf, size_t errlen)
{
    struct dfw_state *st = calloc(1, sizeof(*st));
    if (st == NULL || (st->dir = strdup(dir)) == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        free(st);
        return NULL;
    }
    st->lock_fd = -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/checkpoints", dir);
    if (mkdir_p(dir, 0700) != 0 || mkdir_p(path, 0700) != 0) {
        snprintf(errbuf, errlen, "state_dir %s: cannot create: %s", dir, strerror(errno));
        dfw_state_close(st);
        return NULL;
    }
    if (lock) {
        snprintf(path, sizeof(path), "%s/lock", dir);
        st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (st->lock_fd < 0) {
            snprintf(errbuf, errlen, "state_dir %s: cannot open lock file: %s", dir,
                     strerror(errno));
            dfw_state_close(st);
            return NULL;
        }
        if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(errbuf, errlen,
                     "state_dir %s is locked by another defender-forwarder instance (%s)", dir,
                     strerror(errno));
            dfw_state_close(st);
            return NULL;
        }
    }
    return st;
}

void dfw_state_close(struct dfw_state *st)
{
    if (st == NULL) {
        return;
    }
    if (st->lock_fd >= 0) {
        close(st->lock_fd); /* releases the flock */
    }
    free(st->dir);
    free(st);
}

static void cp_path(
    const struct dfw_state *st, const char *tenant, const char *stream, char *out, size_t outlen)
{
    if (stream != NULL) {
        snprintf(out, outlen, "%s/checkpoints/%s/%s.json", st->dir, tenant, stream);
    }
    else {
        snprintf(out, outlen, "%s/checkpoints/%s", st->dir, tenant);
    }
}

dfw_err dfw_state_load(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen)
{
    char path[4096];
    cp_path(st, tenant, stream, path, sizeof(path));
    if (access(path, F_OK) != 0) {
        return DFW_ERR_NOTFOUND;
    }
    struct json_object *obj = json_object_from_file(path);
    if (obj == NULL) {
        snprintf(errbuf, errlen, "checkpoint %s is not valid JSON: %s", path,
                 json_util_get_last_err());
        return DFW_ERR_INVALID;
    }
    dfw_err err = dfw_cursor_from_json(c, obj);
    json_object_put(obj);
    if (err != DFW_OK) {
        snprintf(errbuf, errlen, "checkpoint %s is not a checkpoint (%s); `state reset` removes it",
                 path, dfw_strerror(err));
    }
    return err;
}

dfw_err dfw_state_save(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       const struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen)
{
    char dir[4096], path[4200], tmp[4300];
    cp_path(st, tenant, NULL, dir, sizeof(dir));
    if (mkdir_p(dir, 0700) != 0) {
        snprintf(errbuf, errlen, "cannot create %s: %s", dir, strerror(errno));
        return DFW_ERR_IO;
    }
    snprintf(path, sizeof(path), "%s/%s.json", dir, stream);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    struct json_object *obj = dfw_cursor_to_json(c);
    if (obj == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return DFW_ERR_NOMEM;
    }
    size_t len;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    dfw_err err = DFW_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = DFW_ERR_IO;
    }
    const char *p = text;
    size_t left = len;
    while (err == DFW_OK && left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = DFW_ERR_IO;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (err == DFW_OK && (write(fd, "\n", 1) != 1 || fsync(fd) != 0)) {
        err = DFW_ERR_IO;
    }
    if (fd >= 0 && close(fd) != 0) {
        err = DFW_ERR_IO;
    }
    if (err == DFW_OK && (rename(tmp, path) != 0 || fsync_dir(dir) != 0)) {
        err = DFW_ERR_IO;
    }
    if (err != DFW_OK) {
        snprintf(errbuf, errlen, "cannot write checkpoint %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    json_object_put(obj);
    return err;
}

/* Calls fn for each checkpoint file of tenant (or of all tenants). */
typedef dfw_err (*cp_visit_fn)(struct dfw_state *st,
                               const char *tenant,
                               const char *stream,
                               void *arg);

static dfw_err visit_tenant(struct dfw_state *st, const char *tenant, cp_visit_fn fn, void *arg)
{
    char dir[4096];
    cp_path(st, tenant, NULL, dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? DFW_OK : DFW_ERR_IO;
    }
    dfw_err err = DFW_OK;
    struct dirent *de;
    while (err == DFW_OK && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
            char stream[256];
            snprintf(stream, sizeof(stream), "%.*s", (int)(n - 5), de->d_name);
            err = fn(st, tenant, stream, arg);
        }
    }
    closedir(d);
    return err;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static dfw_err visit(struct dfw_state *st, const char *tenant, cp_visit_fn fn, void *arg)
{
    if (tenant != NULL) {
        return visit_tenant(st, tenant, fn, arg);
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/checkpoints", st->dir);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return DFW_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    dfw_err err = DFW_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*names));
            if (nn == NULL) {
                err = DFW_ERR_NOMEM;
                break;
            }
            names = nn;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            err = DFW_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (names != NULL) {
        qsort(names, n, sizeof(*names), cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        if (err == DFW_OK) {
            err = visit_tenant(st, names[i], fn, arg);
        }
        free(names[i]);
    }
    free(names);
    return err;
}

struct reset_arg {
    const char *stream;
    size_t removed;
};

static dfw_err reset_one(struct dfw_state *st, const char *tenant, const char *stream, void *arg)
{
    struct reset_arg *ra = arg;
    if (ra->stream != NULL && strcmp(ra->stream, stream) != 0) {
        return DFW_OK;
    }
    char path[4096];
    cp_path(st, tenant, stream, path, sizeof(path));
    if (unlink(path) != 0) {
        return DFW_ERR_IO;
    }
    ra->removed++;
    return DFW_OK;
}

dfw_err dfw_state_reset(struct dfw_state *st,
                        const char *tenant,
                        const char *stream,
                        size_t *removed,
                        char *errbuf,
                        size_t errlen)
{
    struct reset_arg ra = {stream, 0};
    dfw_err err = visit(st, tenant, reset_one, &ra);
    if (err != DFW_OK) {
        snprintf(errbuf, errlen, "cannot remove checkpoints in %s: %s", st->dir, strerror(errno));
    }
    *removed = ra.removed;
    return err;
}

static dfw_err show_one(struct dfw_state *st, const char *tenant, const char *stream, void *arg)
{
    FILE *out = arg;
    struct dfw_cursor c;
    char err[512];
    if (dfw_cursor_init(&c, 0) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    dfw_err e = dfw_state_load(st, tenant, stream, &c, err, sizeof(err));
    if (e != DFW_OK) {
        fprintf(out, "%-24s %-16s error: %s\n", tenant, stream, err);
    }
    else {
        char hw[DFW_TIME_LEN];
        dfw_time_format(c.high_water_ms, hw, sizeof(hw));
        int64_t lag = (dfw_now_ms() - c.high_water_ms) / 1000;
        fprintf(out, "%-24s %-16s %-24s %8lld %10llu %6zu %s\n", tenant, stream, hw, (long long)lag,
                (unsigned long long)c.delivered, dfw_cursor_seen_count(&c),
                c.win.to_ms ? "paging" : "idle");
    }
    dfw_cursor_clear(&c);
    return DFW_OK;
}

dfw_err
dfw_state_show(struct dfw_state *st, const char *tenant, FILE *out, char *errbuf, size_t errlen)
{
    fprintf(out, "%-24s %-16s %-24s %8s %10s %6s %s\n", "TENANT", "STREAM", "CHECKPOINT", "LAG_S",
            "DELIVERED", "SEEN", "SWEEP");
    dfw_err err = visit(st, tenant, show_one, out);
    if (err != DFW_OK) {
        snprintf(errbuf, errlen, "cannot read %s: %s", st->dir, strerror(errno));
    }
    return err;
}
