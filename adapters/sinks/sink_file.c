/*
 * sink_file.c - the JSON Lines alerts file (sink_file.h).
 *
 * A line is written in up to three pieces, each with fio_write_all_n():
 * the newline that closes a fragment left by an earlier torn write, the
 * line, and its '\n' when the caller's line lacks one. What went out of a
 * failed line is known to the byte, which is what cutting it back needs.
 */
#include "sink_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "errburst.h"
#include "fileio.h"
#include "log.h"

struct sink_file {
    char *path;
    const char *name;   /* for messages: the path, or "standard output" */
    int is_stdout;
    /* writer thread only */
    int fd;
    int regular;        /* a regular file: a torn line can be cut back */
    int torn;           /* the output ends in a fragment: start with '\n' */
    errburst_t burst;
    /* any thread */
    atomic_int reopen_req;
    /* written by the writer, read by anyone; relaxed: statistics, nothing
     * else is published with them */
    atomic_uint_fast64_t lines, bytes, write_errors, dropped_bytes, reopens, reopen_errors;
};

#define COUNT(s, field, n) atomic_fetch_add_explicit(&(s)->field, (n), memory_order_relaxed)
#define LOAD(s, field) atomic_load_explicit(&(s)->field, memory_order_relaxed)

/* Opens the path as the sink writes it. The descriptor, or -1 with errno. */
static int open_path(const char *path)
{
    struct stat st;
    /* a FIFO or a device: never wait for its reader (see the header) */
    int nonblock = stat(path, &st) == 0 && !S_ISREG(st.st_mode) ? O_NONBLOCK : 0;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC | nonblock,
                SINK_FILE_MODE);
}

static int is_regular(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

sink_file_t *sink_file_open(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        sw_errf(err, errlen, "alerts file: no path");
        return NULL;
    }
    sink_file_t *s = calloc(1, sizeof(*s));
    if (s)
        s->path = strdup(path);
    if (!s || !s->path) {
        sw_errf(err, errlen, "%s: out of memory", path);
        free(s);
        return NULL;
    }
    s->is_stdout = strcmp(path, "-") == 0;
    s->name = s->is_stdout ? "standard output" : s->path;
    s->fd = s->is_stdout ? STDOUT_FILENO : open_path(path);
    if (s->fd < 0) {
        sw_errf(err, errlen, "%s: %s", path, strerror(errno));
        free(s->path);
        free(s);
        return NULL;
    }
    s->regular = is_regular(s->fd);
    return s;
}

static void reopen(sink_file_t *s)
{
    int fd = open_path(s->path);
    if (fd < 0) {
        COUNT(s, reopen_errors, 1);
        sw_log(LOG_ERROR, "%s: cannot reopen: %s; writing on to the file opened before", s->name,
               strerror(errno));
        return;
    }
    if (close(s->fd) < 0)
        sw_log(LOG_WARN, "%s: closing the file before the reopen: %s", s->name, strerror(errno));
    s->fd = fd;
    s->regular = is_regular(fd);
    s->torn = 0; /* a new file: no fragment to close */
    COUNT(s, reopens, 1);
    sw_log(LOG_INFO, "%s: reopened", s->name);
}

/* Takes back the `n` bytes of a failed line: cut off a regular file, or
 * closed by the next line's leading newline elsewhere. */
static void take_back(sink_file_t *s, size_t n)
{
    if (n == 0)
        return;
    off_t end = s->regular ? lseek(s->fd, 0, SEEK_END) : -1;
    if (end >= (off_t)n && ftruncate(s->fd, end - (off_t)n) == 0)
        return;
    s->torn = 1;
}

int sink_file_write(sink_file_t *s, const char *line, size_t len)
{
    if (!s || (!line && len))
        return SW_EINVAL;
    /* acquire: pairs with the release in sink_file_reopen(), though only
     * the flag itself is handed over */
    if (!s->is_stdout && atomic_exchange_explicit(&s->reopen_req, 0, memory_order_acquire))
        reopen(s);
    int add_nl = len == 0 || line[len - 1] != '\n';
    size_t total = len + (size_t)add_nl, done = 0, w = 0;
    int rc = 0;
    if (s->torn) {
        rc = fio_write_all_n(s->fd, "\n", 1, &w);
        if (rc == 0)
            s->torn = 0;
    }
    if (rc == 0) {
        rc = fio_write_all_n(s->fd, line, len, &w);
        done = w;
    }
    if (rc == 0 && add_nl) {
        rc = fio_write_all_n(s->fd, "\n", 1, &w);
        done += w;
    }
    int64_t now = errburst_now();
    if (rc < 0) {
        int e = errno;
        take_back(s, done);
        COUNT(s, write_errors, 1);
        COUNT(s, dropped_bytes, total);
        errburst_fail(&s->burst, now, LOG_ERROR, "%s: cannot write an alert line: %s", s->name,
                      strerror(e));
        return SW_EIO;
    }
    COUNT(s, lines, 1);
    COUNT(s, bytes, total);
    errburst_ok(&s->burst, now, "%s: alert lines written again", s->name);
    return SW_OK;
}

void sink_file_reopen(sink_file_t *s)
{
    if (s)
        atomic_store_explicit(&s->reopen_req, 1, memory_order_release);
}

void sink_file_stats(const sink_file_t *s, sink_file_stats_t *out)
{
    sink_file_t *w = (sink_file_t *)s; /* atomic loads only */
    *out = (sink_file_stats_t){
        .lines = LOAD(w, lines),
        .bytes = LOAD(w, bytes),
        .write_errors = LOAD(w, write_errors),
        .dropped_bytes = LOAD(w, dropped_bytes),
        .reopens = LOAD(w, reopens),
        .reopen_errors = LOAD(w, reopen_errors),
    };
}

const char *sink_file_path(const sink_file_t *s)
{
    return s->path;
}

void sink_file_close(sink_file_t *s)
{
    if (!s)
        return;
    if (!s->is_stdout && close(s->fd) < 0)
        sw_log(LOG_ERROR, "%s: closing: %s", s->name, strerror(errno));
    free(s->path);
    free(s);
}
