/*
 * fileio.c - whole writes, atomic replacement, bounded reads, moving aside
 * and writability checks (fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

int fio_write_all_n(int fd, const void *buf, size_t len, size_t *written)
{
    const char *p = buf;
    size_t left = len;
    *written = 0;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        left -= (size_t)w;
        *written += (size_t)w;
    }
    return 0;
}

int fio_write_all(int fd, const void *buf, size_t len)
{
    size_t written;
    return fio_write_all_n(fd, buf, len, &written);
}

int fio_sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd < 0)
        return -1;
    int rc = fsync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

int fio_replace(const char *path, const void *buf, size_t len)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        errno = ENOMEM;
        return -1;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int rc = -1, fd = mkstemp(tmp);
    if (fd >= 0) {
        if (fio_write_all(fd, buf, len) == 0 && fsync(fd) == 0 && close(fd) == 0) {
            fd = -1;
            if (rename(tmp, path) == 0) {
                fio_sync_dir(path); /* best effort: the data itself is durable */
                rc = 0;
            }
        }
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (rc < 0)
            unlink(tmp);
        errno = e;
    }
    free(tmp);
    return rc;
}

int fio_read(const char *path, uint64_t max, unsigned char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) < 0)
        e = errno;
    else if (!S_ISREG(st.st_mode))
        e = EINVAL;
    else if ((uint64_t)st.st_size > max)
        e = EFBIG;
    if (e) {
        close(fd);
        errno = e;
        return -1;
    }
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *b = malloc(n + 1);
    if (!b) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int re = r < 0 ? errno : EIO; /* shrank while read */
            free(b);
            close(fd);
            errno = re;
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* Renames from -> to unless `to` exists. 0, or -1 with errno (EEXIST when
 * it does). */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* a file system without RENAME_NOREPLACE: a hard link cannot replace
     * either */
    if (link(from, to) < 0)
        return -1;
    if (unlink(from) < 0) {
        int e = errno;
        unlink(to);
        errno = e;
        return -1;
    }
    return 0;
}

int fio_move_aside(const char *path, char *newpath, size_t newlen, char *err, size_t errlen)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (int n = 0; n < FIO_ASIDE_TRIES; n++) {
        int len = n ? snprintf(newpath, newlen, "%s" FIO_ASIDE_SUFFIX "%s.%d", path, stamp, n)
                    : snprintf(newpath, newlen, "%s" FIO_ASIDE_SUFFIX "%s", path, stamp);
        if (len < 0 || (size_t)len >= newlen) {
            sw_errf(err, errlen, "%s: the name to move it aside to is too long", path);
            return SW_EINVAL;
        }
        if (rename_noreplace(path, newpath) == 0) {
            fio_sync_dir(path); /* best effort: the rename itself is done */
            return SW_OK;
        }
        if (errno != EEXIST) {
            int e = errno;
            sw_errf(err, errlen, "%s: cannot move it aside to %s: %s", path, newpath, strerror(e));
            return e == ENOENT ? SW_ENOTFOUND : SW_EIO;
        }
    }
    sw_errf(err, errlen, "%s: cannot move it aside: %d names like %s are taken", path,
            FIO_ASIDE_TRIES, newpath);
    return SW_EEXISTS;
}

int fio_check_writable(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            sw_errf(err, errlen, "%s: is a directory", path);
            return SW_EINVAL;
        }
        /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of
         * waiting; nothing is truncated or written */
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 && !(errno == ENXIO && S_ISFIFO(st.st_mode))) {
            sw_errf(err, errlen, "%s: %s", path, strerror(errno));
            return SW_EIO;
        }
        if (fd >= 0)
            close(fd);
        if (!S_ISREG(st.st_mode))
            return SW_OK; /* written in place: its directory does not matter */
    } else if (errno != ENOENT) {
        sw_errf(err, errlen, "%s: %s", path, strerror(errno));
        return SW_EIO;
    }
    static const char probe_suffix[] = ".wcheck.XXXXXX"; /* mkstemp fills the Xs */
    size_t plen = strlen(path) + sizeof(probe_suffix);
    char *probe = malloc(plen), *copy = strdup(path);
    if (!probe || !copy) {
        free(probe);
        free(copy);
        sw_errf(err, errlen, "%s: out of memory", path);
        return SW_ENOMEM;
    }
    snprintf(probe, plen, "%s%s", path, probe_suffix);
    int rc = SW_OK, fd = mkstemp(probe);
    if (fd < 0) {
        sw_errf(err, errlen, "%s: cannot create files in %s: %s", path, dirname(copy),
                strerror(errno));
        rc = SW_EIO;
    } else {
        close(fd);
        unlink(probe);
    }
    free(probe);
    free(copy);
    return rc;
}
