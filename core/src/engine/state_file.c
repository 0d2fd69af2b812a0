/* The checkpoint store's database file (STATE_DIR/checkpoints.db) before SQLite opens it: made
 * whole when new, and refused when truncated. SQLite takes an empty file for a new database and
 * reads pages missing at the end as zeros, where a lookup may find no checkpoint: every stream
 * (or some) would silently start again from initial_lookback. The header layout is SQLite's
 * "Database File Format" (sqlite.org/fileformat2.html, §1.3). */
#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHAT_TO_DO                                                                                 \
    "restore it from a backup, or remove it to start every stream again from initial_lookback"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The size the header says the database has, in bytes; 0 when the header does not say (not an
 * SQLite file, which SQLite itself reports, or an in-header size that is not valid). */
static int64_t header_size(const char *path)
{
    unsigned char h[100];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, h, sizeof(h));
    close(fd);
    if (n != (ssize_t)sizeof(h) || memcmp(h, "SQLite format 3", 16) != 0) {
        return 0;
    }
    uint32_t page = (uint32_t)h[16] << 8 | h[17];
    page = page == 1 ? 65536 : page;
    uint32_t pages = be32(h + 28);
    /* valid only when the change counter equals version-valid-for (§1.3.7) */
    if (page < 512 || pages == 0 || be32(h + 24) != be32(h + 92)) {
        return 0;
    }
    return (int64_t)page * pages;
}

static dfw_err
check_existing(const char *db_path, const struct stat *sb, char *errbuf, size_t errlen)
{
    if (sb->st_size == 0) {
        return dfw_errorf(DFW_ERR_INVALID, errbuf, errlen,
                          "checkpoint store %s is empty (0 bytes), it was truncated: " WHAT_TO_DO,
                          db_path);
    }
    char wal[4200];
    struct stat wb;
    snprintf(wal, sizeof(wal), "%s-wal", db_path);
    if (stat(wal, &wb) == 0 && wb.st_size > 0) {
        return DFW_OK; /* after a crash: SQLite completes the database from its log */
    }
    int64_t want = header_size(db_path);
    if (want > 0 && (int64_t)sb->st_size < want) {
        return dfw_errorf(DFW_ERR_INVALID, errbuf, errlen,
                          "checkpoint store %s is truncated (%lld bytes of %lld): " WHAT_TO_DO,
                          db_path, (long long)sb->st_size, (long long)want);
    }
    return DFW_OK;
}

dfw_err dfw__state_file_prepare(const char *dir, const char *db_path, char *errbuf, size_t errlen)
{
    struct stat sb;
    if (stat(db_path, &sb) == 0) {
        return check_existing(db_path, &sb, errbuf, errlen);
    }
    if (errno != ENOENT) {
        return dfw_errorf(DFW_ERR_IO, errbuf, errlen, "checkpoint store %s: %s", db_path,
                          strerror(errno));
    }
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", db_path) >= sizeof(tmp)) {
        return dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "%s: path too long", db_path);
    }
    unlink(tmp); /* left by a start that was interrupted */
    sqlite3 *db = NULL;
    mode_t old = umask(077); /* the file is private */
    int ok =
        sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK &&
        sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) == SQLITE_OK;
    umask(old);
    dfw_err rc = DFW_OK;
    if (!ok) {
        rc = dfw_errorf(DFW_ERR_IO, errbuf, errlen, "checkpoint store %s: cannot create: %s", tmp,
                        db ? sqlite3_errmsg(db) : "out of memory");
    }
    sqlite3_close(db); /* the header is written, the log removed */
    int fd = rc == DFW_OK ? open(tmp, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd); /* on disk before its name is: never an empty checkpoints.db after a crash */
        close(fd);
    }
    if (rc == DFW_OK && rename(tmp, db_path) != 0) {
        rc = dfw_errorf(DFW_ERR_IO, errbuf, errlen, "checkpoint store %s: cannot create: %s",
                        db_path, strerror(errno));
    }
    int dfd = rc == DFW_OK ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself on disk */
        close(dfd);
    }
    return rc;
}
