/* A fault hook for the state-directory tests (test_state_faults.py): preloaded into the forwarder
 * (LD_PRELOAD), it makes the file system under $DFW_FAULTFS_DIR fail the way a full or read-only
 * one does while the file $DFW_FAULTFS_CTL holds "full" (ENOSPC) or "ro" (EROFS). It works at the
 * file descriptor level too: writes to files opened under the directory before the fault (the
 * checkpoint store and its WAL, which SQLite keeps open) fail like new ones. A file system cannot
 * be remounted read-only while a process holds files on it open for writing, so this is how the
 * tests make the state directory read-only under a running daemon (as errors=remount-ro does).
 * Reading works throughout. Test-only: never built into the forwarder. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FD 4096

static unsigned char tracked[MAX_FD]; /* fds of files under the directory */

typedef int (*open_fn)(const char *, int, ...);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*close_fn)(int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*mkdir_fn)(const char *, mode_t);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*unlink_fn)(const char *);

/* real_NAME: the next definition of NAME (POSIX's way to a function through dlsym) */
#define REAL(name, type)                                                                           \
    static type real_##name;                                                                       \
    if (real_##name == NULL) {                                                                     \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                          \
    }

static int under_dir(const char *path)
{
    const char *dir = getenv("DFW_FAULTFS_DIR");
    size_t n = dir != NULL ? strlen(dir) : 0;
    return n > 0 && path != NULL && strncmp(path, dir, n) == 0 &&
           (path[n] == '/' || path[n] == '\0');
}

/* ENOSPC or EROFS while a fault is on; 0 otherwise. */
static int fault_now(void)
{
    const char *ctl = getenv("DFW_FAULTFS_CTL");
    if (ctl == NULL) {
        return 0;
    }
    REAL(open, open_fn);
    int fd = real_open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char mode[8] = "";
    REAL(read, read_fn);
    ssize_t n = real_read(fd, mode, sizeof(mode) - 1);
    REAL(close, close_fn);
    real_close(fd);
    if (n <= 0) {
        return 0;
    }
    return strncmp(mode, "full", 4) == 0 ? ENOSPC : strncmp(mode, "ro", 2) == 0 ? EROFS : 0;
}

static int fault_for(const char *path)
{
    return under_dir(path) ? fault_now() : 0;
}

static int fault_fd(int fd)
{
    return fd >= 0 && fd < MAX_FD && tracked[fd] ? fault_now() : 0;
}

static int writes(int flags)
{
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

static int opened(const char *path, int fd)
{
    if (fd >= 0 && fd < MAX_FD) {
        tracked[fd] = (unsigned char)under_dir(path);
    }
    return fd;
}

int open(const char *path, int flags, ...)
{
    REAL(open, open_fn);
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    int e = writes(flags) ? fault_for(path) : 0;
    if (e != 0) {
        errno = e;
        return -1;
    }
    return opened(path, real_open(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open(path, flags, mode);
}

int close(int fd)
{
    REAL(close, close_fn);
    if (fd >= 0 && fd < MAX_FD) {
        tracked[fd] = 0;
    }
    return real_close(fd);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write, write_fn);
    int e = fault_fd(fd);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return real_write(fd, buf, n);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64, pwrite_fn);
    int e = fault_fd(fd);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return real_pwrite64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite64(fd, buf, n, off);
}

int ftruncate64(int fd, off_t len)
{
    REAL(ftruncate64, ftruncate_fn);
    int e = fault_fd(fd);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return real_ftruncate64(fd, len);
}

int ftruncate(int fd, off_t len)
{
    return ftruncate64(fd, len);
}

int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir, mkdir_fn);
    struct stat st;
    int e = fault_for(path);
    if (e != 0 && stat(path, &st) != 0) {
        errno = e;
        return -1;
    }
    return real_mkdir(path, mode);
}

int rename(const char *from, const char *to)
{
    REAL(rename, rename_fn);
    int e = fault_for(to);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return real_rename(from, to);
}

int unlink(const char *path)
{
    REAL(unlink, unlink_fn);
    int e = fault_for(path);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return real_unlink(path);
}
