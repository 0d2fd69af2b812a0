/* The state directory: every checkpoint in one SQLite database in WAL mode
 * (STATE_DIR/checkpoints.db, one row per tenant and stream), and the instance lock
 * (STATE_DIR/lock). dfw_state_save stages a checkpoint; dfw_state_commit writes every staged one
 * in one transaction: one WAL fsync for many checkpoints (group commit). Checkpoint files of the
 * layout before (STATE_DIR/checkpoints/TENANT/STREAM.json) are imported once, then the folder is
 * renamed checkpoints.imported. docs/architecture.md ("Checkpoint store") has the figures. */
#include "dfw/state.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"
#include "state_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_NAME "checkpoints.db"

/* A checkpoint waiting for the next commit. */
struct staged {
    uint64_t hash; /* of tenant and stream: the index below */
    char *tenant, *stream;
    char *body; /* JSON text */
    int64_t high_water_ms;
    uint64_t delivered;
    size_t seen;
    int sweeping;
};

struct dfw_state {
    char *dir;
    char *db_path;
    int lock_fd;
    sqlite3 *db;
    sqlite3_stmt *upsert, *select;
    struct staged *staged;
    size_t nstaged, capstaged;
    size_t *index;    /* open addressing over staged[]: slot holds position + 1, 0 empty */
    size_t capindex;  /* power of two, at least twice capstaged */
    uint64_t commits; /* transactions written */
};

static int mkdir_p(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST) {
        return 0;
    }
    return -1;
}

static dfw_err db_fail(struct dfw_state *st, const char *what, char *errbuf, size_t errlen)
{
    int sys = errno; /* of the system call that failed, when SQLite's error is one */
    int code = st->db ? sqlite3_errcode(st->db) : SQLITE_CANTOPEN;
    /* SQLite says "disk I/O error" for EROFS, EIO...: the system's reason is what helps */
    if (st->db && sqlite3_system_errno(st->db) != 0) {
        sys = sqlite3_system_errno(st->db);
    }
    if (code != SQLITE_IOERR && code != SQLITE_FULL && code != SQLITE_CANTOPEN &&
        code != SQLITE_READONLY) {
        sys = 0;
    }
    return dfw_errorf(DFW_ERR_IO, errbuf, errlen, "checkpoint store %s: %s: %s%s%s%s%s",
                      st->db_path, what, st->db ? sqlite3_errmsg(st->db) : "cannot open",
                      sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "",
                      code == SQLITE_CORRUPT || code == SQLITE_NOTADB
                          ? "; the file is damaged: restore it from a backup, or move it away to "
                            "start every stream again from initial_lookback"
                          : "");
}

static int exec(struct dfw_state *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void staged_free(struct staged *s)
{
    free(s->tenant);
    free(s->stream);
    free(s->body);
}

/* ---- import of the file layout before (version 1 and 2 checkpoint files) ---- */

static dfw_err import_file(struct dfw_state *st,
                           const char *tenant,
                           const char *stream,
                           const char *path,
                           char *errbuf,
                           size_t errlen)
{
    struct json_object *obj = json_object_from_file(path);
    struct dfw_cursor c;
    if (dfw_cursor_init(&c, 0) != DFW_OK) {
        json_object_put(obj);
        return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    dfw_err rc = obj ? dfw_cursor_from_json(&c, obj) : DFW_ERR_INVALID;
    json_object_put(obj);
    if (rc != DFW_OK) {
        dfw_cursor_clear(&c);
        return dfw_errorf(rc, errbuf, errlen,
                          "cannot import checkpoint %s (%s): move it away or fix it; nothing "
                          "was imported",
                          path, obj ? dfw_strerror(rc) : json_util_get_last_err());
    }
    rc = dfw_state_save(st, tenant, stream, &c, errbuf, errlen);
    dfw_cursor_clear(&c);
    return rc;
}

static dfw_err import_tenant(struct dfw_state *st,
                             const char *base,
                             const char *tenant,
                             size_t *count,
                             char *errbuf,
                             size_t errlen)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", base, tenant) >= sizeof(dir)) {
        return dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "%s/%s: path too long", base, tenant);
    }
    DIR *d = opendir(dir);
    if (d == NULL) {
        return DFW_OK; /* not a folder */
    }
    dfw_err rc = DFW_OK;
    struct dirent *de;
    while (rc == DFW_OK && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
            char stream[256], path[4400];
            snprintf(stream, sizeof(stream), "%.*s", (int)(n - 5), de->d_name);
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
                rc = dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "%s: path too long", dir);
                break;
            }
            rc = import_file(st, tenant, stream, path, errbuf, errlen);
            *count += rc == DFW_OK;
        }
    }
    closedir(d);
    return rc;
}

static dfw_err import_files(struct dfw_state *st, char *errbuf, size_t errlen)
{
    char base[4096], done[4200];
    snprintf(base, sizeof(base), "%s/checkpoints", st->dir);
    DIR *d = opendir(base);
    if (d == NULL) {
        return DFW_OK;
    }
    dfw_err rc = DFW_OK;
    size_t count = 0;
    struct dirent *de;
    while (rc == DFW_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.') {
            rc = import_tenant(st, base, de->d_name, &count, errbuf, errlen);
        }
    }
    closedir(d);
    if (rc == DFW_OK) {
        rc = dfw_state_commit(st, errbuf, errlen);
    }
    if (rc != DFW_OK) {
        return rc;
    }
    snprintf(done, sizeof(done), "%s/checkpoints.imported", st->dir);
    if (rename(base, done) != 0) {
        return dfw_errorf(DFW_ERR_IO, errbuf, errlen, "cannot rename %s after importing it: %s",
                          base, strerror(errno));
    }
    dfw_log(DFW_LOG_INFO, "state",
            "msg=\"imported %zu checkpoint file(s) into %s; the files are kept in %s\"", count,
            DFW_LOG_ESC(st->db_path), DFW_LOG_ESC(done));
    return DFW_OK;
}

/* ---- open, close ---- */

static dfw_err open_db(struct dfw_state *st, char *errbuf, size_t errlen)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    /* the file is private: the umask of sqlite's create is not enough */
    mode_t old = umask(077);
    int rc = sqlite3_open_v2(st->db_path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    umask(old);
    if (rc != SQLITE_OK) {
        return db_fail(st, "cannot open", errbuf, errlen);
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* WAL: readers (state show) never block the writer; FULL: each commit is on disk */
    if (exec(st, "PRAGMA journal_mode=WAL") != 0 || exec(st, "PRAGMA synchronous=FULL") != 0 ||
        exec(st, "CREATE TABLE IF NOT EXISTS checkpoint (tenant TEXT NOT NULL, stream TEXT "
                 "NOT NULL, high_water_ms INTEGER NOT NULL, delivered INTEGER NOT NULL, seen "
                 "INTEGER NOT NULL, sweeping INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY "
                 "(tenant, stream)) WITHOUT ROWID") != 0) {
        return db_fail(st, "cannot use", errbuf, errlen);
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO checkpoint VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT "
                           "(tenant, stream) DO UPDATE SET high_water_ms = ?3, delivered = ?4, "
                           "seen = ?5, sweeping = ?6, body = ?7",
                           -1, &st->upsert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "SELECT body FROM checkpoint WHERE tenant = ?1 AND stream = ?2",
                           -1, &st->select, NULL) != SQLITE_OK) {
        return db_fail(st, "cannot prepare", errbuf, errlen);
    }
    return DFW_OK;
}

/* The lock, when nobody holds it (-1 otherwise). */
static int try_lock(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

struct dfw_state *dfw_state_open(const char *dir, int lock, char *errbuf, size_t errlen)
{
    struct dfw_state *st = calloc(1, sizeof(*st));
    size_t n = strlen(dir) + sizeof(DB_NAME) + 2;
    if (st == NULL || (st->dir = strdup(dir)) == NULL || (st->db_path = malloc(n)) == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        dfw_state_close(st);
        return NULL;
    }
    snprintf(st->db_path, n, "%s/%s", dir, DB_NAME);
    st->lock_fd = -1;
    if (mkdir_p(dir, 0700) != 0) {
        snprintf(errbuf, errlen, "state_dir %s: cannot create: %s", dir, strerror(errno));
        dfw_state_close(st);
        return NULL;
    }
    if (lock) {
        char path[4096];
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
    if (dfw__state_file_prepare(st->dir, st->db_path, errbuf, errlen) != DFW_OK ||
        open_db(st, errbuf, errlen) != DFW_OK) {
        dfw_state_close(st);
        return NULL;
    }
    /* files of the layout before are imported by whoever holds the lock; `state show` takes it
     * for that when no instance runs (an older instance may still be writing them) */
    int fd = lock ? st->lock_fd : try_lock(dir);
    dfw_err rc = fd >= 0 ? import_files(st, errbuf, errlen) : DFW_OK;
    if (!lock && fd >= 0) {
        close(fd);
    }
    if (rc != DFW_OK) {
        dfw_state_close(st);
        return NULL;
    }
    return st;
}

void dfw_state_close(struct dfw_state *st)
{
    if (st == NULL) {
        return;
    }
    for (size_t i = 0; i < st->nstaged; i++) {
        staged_free(&st->staged[i]);
    }
    free(st->staged);
    free(st->index);
    sqlite3_finalize(st->upsert);
    sqlite3_finalize(st->select);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0) {
        close(st->lock_fd); /* releases the flock */
    }
    free(st->db_path);
    free(st->dir);
    free(st);
}

/* ---- checkpoints ---- */

static uint64_t key_hash(const char *tenant, const char *stream)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)tenant; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)stream; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

/* The index slot of (tenant, stream): its entry, or the empty slot where it would go. */
static size_t *
slot_of(const struct dfw_state *st, uint64_t h, const char *tenant, const char *stream)
{
    size_t mask = st->capindex - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        size_t *slot = &st->index[i];
        if (*slot == 0) {
            return slot;
        }
        const struct staged *s = &st->staged[*slot - 1];
        if (s->hash == h && strcmp(s->tenant, tenant) == 0 && strcmp(s->stream, stream) == 0) {
            return slot;
        }
    }
}

static struct staged *
find_staged(const struct dfw_state *st, const char *tenant, const char *stream)
{
    if (st->nstaged == 0) {
        return NULL;
    }
    size_t *slot = slot_of(st, key_hash(tenant, stream), tenant, stream);
    return *slot ? &st->staged[*slot - 1] : NULL;
}

/* Room for one more staged checkpoint, in the array and the index. 0 when out of memory. */
static int reserve(struct dfw_state *st)
{
    if (st->nstaged == st->capstaged) {
        size_t cap = st->capstaged ? st->capstaged * 2 : 64;
        struct staged *n = realloc(st->staged, cap * sizeof(*n));
        if (n == NULL) {
            return 0;
        }
        st->staged = n;
        st->capstaged = cap;
    }
    if (st->capindex < 2 * st->capstaged) {
        size_t cap = 4 * st->capstaged;
        size_t *idx = calloc(cap, sizeof(*idx));
        if (idx == NULL) {
            return 0;
        }
        free(st->index);
        st->index = idx;
        st->capindex = cap;
        for (size_t i = 0; i < st->nstaged; i++) {
            const struct staged *x = &st->staged[i];
            *slot_of(st, x->hash, x->tenant, x->stream) = i + 1;
        }
    }
    return 1;
}

dfw_err dfw_state_load(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen)
{
    const struct staged *s = find_staged(st, tenant, stream);
    char *text = NULL;
    if (s != NULL) {
        text = strdup(s->body);
    }
    else {
        sqlite3_reset(st->select);
        sqlite3_bind_text(st->select, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->select, 2, stream, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st->select);
        if (rc == SQLITE_DONE) {
            sqlite3_reset(st->select);
            return DFW_ERR_NOTFOUND;
        }
        if (rc != SQLITE_ROW) {
            dfw_err e = db_fail(st, "cannot read", errbuf, errlen);
            sqlite3_reset(st->select);
            return e;
        }
        const unsigned char *t = sqlite3_column_text(st->select, 0);
        text = t ? strdup((const char *)t) : NULL;
        sqlite3_reset(st->select);
    }
    if (text == NULL) {
        return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    struct json_object *obj = json_tokener_parse(text);
    free(text);
    dfw_err err = obj ? dfw_cursor_from_json(c, obj) : DFW_ERR_INVALID;
    json_object_put(obj);
    if (err != DFW_OK) {
        return dfw_errorf(err, errbuf, errlen,
                          "checkpoint of tenant %s stream %s in %s is not a checkpoint (%s); "
                          "`state reset %s %s` removes it",
                          tenant, stream, st->db_path, dfw_strerror(err), tenant, stream);
    }
    return DFW_OK;
}

dfw_err dfw_state_save(struct dfw_state *st,
                       const char *tenant,
                       const char *stream,
                       const struct dfw_cursor *c,
                       char *errbuf,
                       size_t errlen)
{
    struct dfw_buf text = DFW_BUF_INIT;
    char *body = dfw_cursor_to_text(c, &text) == DFW_OK ? dfw_buf_steal(&text) : NULL;
    dfw_buf_free(&text);
    if (body == NULL) {
        return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    struct staged *s = find_staged(st, tenant, stream);
    if (s == NULL) {
        if (!reserve(st)) {
            free(body);
            return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        }
        s = &st->staged[st->nstaged];
        memset(s, 0, sizeof(*s));
        s->hash = key_hash(tenant, stream);
        s->tenant = strdup(tenant);
        s->stream = strdup(stream);
        if (s->tenant == NULL || s->stream == NULL) {
            staged_free(s);
            free(body);
            return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        }
        *slot_of(st, s->hash, tenant, stream) = ++st->nstaged;
    }
    free(s->body);
    s->body = body;
    s->high_water_ms = c->high_water_ms;
    s->delivered = c->delivered;
    s->seen = dfw_cursor_seen_count(c);
    s->sweeping = c->win.to_ms != 0;
    return DFW_OK;
}

size_t dfw_state_staged(const struct dfw_state *st)
{
    return st->nstaged;
}

dfw_err dfw_state_commit(struct dfw_state *st, char *errbuf, size_t errlen)
{
    if (st->nstaged == 0) {
        return DFW_OK;
    }
    if (exec(st, "BEGIN IMMEDIATE") != 0) {
        return db_fail(st, "cannot begin a transaction", errbuf, errlen);
    }
    for (size_t i = 0; i < st->nstaged; i++) {
        const struct staged *s = &st->staged[i];
        sqlite3_reset(st->upsert);
        sqlite3_bind_text(st->upsert, 1, s->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->upsert, 2, s->stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st->upsert, 3, s->high_water_ms);
        sqlite3_bind_int64(st->upsert, 4, (sqlite3_int64)s->delivered);
        sqlite3_bind_int64(st->upsert, 5, (sqlite3_int64)s->seen);
        sqlite3_bind_int(st->upsert, 6, s->sweeping);
        sqlite3_bind_text(st->upsert, 7, s->body, -1, SQLITE_STATIC);
        if (sqlite3_step(st->upsert) != SQLITE_DONE) {
            dfw_err e = db_fail(st, "cannot write checkpoints", errbuf, errlen);
            sqlite3_reset(st->upsert);
            exec(st, "ROLLBACK");
            return e; /* staged checkpoints stay staged: the next commit tries again */
        }
    }
    sqlite3_reset(st->upsert);
    if (exec(st, "COMMIT") != 0) {
        dfw_err e = db_fail(st, "cannot commit checkpoints", errbuf, errlen);
        exec(st, "ROLLBACK");
        return e;
    }
    for (size_t i = 0; i < st->nstaged; i++) {
        staged_free(&st->staged[i]);
    }
    st->nstaged = 0;
    memset(st->index, 0, st->capindex * sizeof(*st->index));
    st->commits++;
    return DFW_OK;
}

uint64_t dfw_state_commits(const struct dfw_state *st)
{
    return st->commits;
}

/* ---- reset, show ---- */

dfw_err dfw_state_reset(struct dfw_state *st,
                        const char *tenant,
                        const char *stream,
                        size_t *removed,
                        char *errbuf,
                        size_t errlen)
{
    sqlite3_stmt *q;
    *removed = 0;
    if (sqlite3_prepare_v2(st->db,
                           "DELETE FROM checkpoint WHERE (?1 IS NULL OR tenant = ?1) AND "
                           "(?2 IS NULL OR stream = ?2)",
                           -1, &q, NULL) != SQLITE_OK) {
        return db_fail(st, "cannot prepare", errbuf, errlen);
    }
    if (tenant) {
        sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
    }
    if (stream) {
        sqlite3_bind_text(q, 2, stream, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        return db_fail(st, "cannot remove checkpoints", errbuf, errlen);
    }
    *removed = (size_t)sqlite3_changes(st->db);
    return DFW_OK;
}

dfw_err
dfw_state_show(struct dfw_state *st, const char *tenant, FILE *out, char *errbuf, size_t errlen)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT tenant, stream, high_water_ms, delivered, seen, sweeping FROM "
                           "checkpoint WHERE ?1 IS NULL OR tenant = ?1 ORDER BY tenant, stream",
                           -1, &q, NULL) != SQLITE_OK) {
        return db_fail(st, "cannot prepare", errbuf, errlen);
    }
    if (tenant) {
        sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
    }
    fprintf(out, "%-24s %-16s %-24s %8s %10s %6s %s\n", "TENANT", "STREAM", "CHECKPOINT", "LAG_S",
            "DELIVERED", "SEEN", "SWEEP");
    int64_t now = dfw_now_ms();
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        char hw[DFW_TIME_LEN];
        int64_t h = sqlite3_column_int64(q, 2);
        dfw_time_format(h, hw, sizeof(hw));
        fprintf(out, "%-24s %-16s %-24s %8lld %10lld %6lld %s\n",
                (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
                hw, (long long)((now - h) / 1000), (long long)sqlite3_column_int64(q, 3),
                (long long)sqlite3_column_int64(q, 4),
                sqlite3_column_int(q, 5) ? "paging" : "idle");
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        return db_fail(st, "cannot read", errbuf, errlen);
    }
    return DFW_OK;
}
