/*
 * statefile.c - atomic load and save of learned state (statefile.h).
 */
#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"

#define STATE_MAX_BYTES (INT64_C(16) << 30) /* refuse absurd files before reading them */

int statefile_load(const char *path, engine_t *e, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SW_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX_BYTES) {
        snprintf(err, errlen, "%s: not a regular state file of sensible size", path);
        close(fd);
        return SW_EIO;
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        snprintf(err, errlen, "%s: out of memory", path);
        return SW_ENOMEM;
    }
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "file shrank while read");
            free(buf);
            close(fd);
            return SW_EIO;
        }
        got += (size_t)n;
    }
    close(fd);
    char why[256];
    int rc = engine_state_load(e, buf, len, why, sizeof(why));
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, rc == SW_ENOMEM ? "out of memory" : why);
        return rc == SW_ENOMEM ? SW_ENOMEM : SW_EPARSE;
    }
    return SW_OK;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int statefile_save(const char *path, engine_t *e, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    if (engine_state_save(e, &buf, &len) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return SW_ENOMEM;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16), *dir = strdup(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        free(buf);
        snprintf(err, errlen, "%s: out of memory", path);
        return SW_ENOMEM;
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int rc = SW_EIO;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
        goto out;
    }
    if (write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* make the rename itself durable */
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = SW_OK;
out:
    free(tmp);
    free(dir);
    free(buf);
    return rc;
}
