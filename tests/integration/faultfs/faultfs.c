/* A fault hook for the state-directory tests on machines where the test cannot mount a small
 * tmpfs (no CAP_SYS_ADMIN): preloaded into the forwarder (LD_PRELOAD), it makes file system calls
 * on paths under $DFW_FAULTFS_DIR fail the way a full or read-only file system does, while the
 * file $DFW_FAULTFS_CTL holds "full" (ENOSPC) or "ro" (EROFS). Creating or writing files and
 * directories fails; reading works. Test-only: never built into the forwarder. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ENOSPC or EROFS when path is under the directory and a fault is on; 0 otherwise. */
static int fault_for(const char *path)
{
    const char *dir = getenv("DFW_FAULTFS_DIR"), *ctl = getenv("DFW_FAULTFS_CTL");
    if (dir == NULL || ctl == NULL || path == NULL || strncmp(path, dir, strlen(dir)) != 0) {
        return 0;
    }
    static int (*real_open)(const char *, int, ...);
    if (real_open == NULL) {
        *(void **)&real_open = dlsym(RTLD_NEXT, "open"); /* POSIX's way to a function */
    }
    int fd = real_open(ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char mode[8] = "";
    ssize_t n = read(fd, mode, sizeof(mode) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    return strncmp(mode, "full", 4) == 0 ? ENOSPC : strncmp(mode, "ro", 2) == 0 ? EROFS : 0;
}

static int writes(int flags)
{
    return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

int open(const char *path, int flags, ...)
{
    static int (*real)(const char *, int, ...);
    if (real == NULL) {
        *(void **)&real = dlsym(RTLD_NEXT, "open");
    }
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
    return real(path, flags, mode);
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

int mkdir(const char *path, mode_t mode)
{
    static int (*real)(const char *, mode_t);
    if (real == NULL) {
        *(void **)&real = dlsym(RTLD_NEXT, "mkdir");
    }
    struct stat st;
    int e = fault_for(path);
    if (e != 0 && stat(path, &st) != 0) {
        errno = e;
        return -1;
    }
    return real(path, mode);
}

int rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    if (real == NULL) {
        *(void **)&real = dlsym(RTLD_NEXT, "rename");
    }
    int e = fault_for(to);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return real(from, to);
}
