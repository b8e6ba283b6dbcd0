/*
 * input.c - line reader over plain, gzip and standard input (input.h).
 *
 * Plain input is read with read(2) in 1 MiB blocks; gzip input through
 * zlib's gzread into the same buffer. Each call scans for the next '\n'
 * with memchr and, when the buffer holds no complete line, moves the
 * partial line to the front and refills.
 */
#include "input.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_LEN (1u << 20)

struct reader {
    int fd;
    gzFile gz;
    char *buf;
    size_t start, end;   /* unread bytes are buf[start, end) */
    int eof;
    int skipping;        /* inside an over-long line */
    uint64_t lineno, bytes, size;
    char err[256];
};

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

reader_t *reader_open(const char *path)
{
    reader_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->buf = malloc(BUF_LEN);
    if (!r->buf) {
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    r->fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        goto fail;
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode))
        r->size = (uint64_t)st.st_size;
    if (has_suffix(path, ".gz")) {
        int fd2 = dup(r->fd);
        if (fd2 < 0)
            goto fail;
        r->gz = gzdopen(fd2, "rb");
        if (!r->gz) {
            close(fd2);
            errno = ENOMEM;
            goto fail;
        }
        gzbuffer(r->gz, 256 * 1024);
    }
    return r;
fail: {
    int saved = errno;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r);
    errno = saved;
    return NULL;
}
}

void reader_close(reader_t *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    close(r->fd);
    free(r->buf);
    free(r);
}

/* Moves the unread bytes to the front and reads more. -1 on error. */
static int refill(reader_t *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    size_t room = BUF_LEN - r->end;
    ssize_t n;
    if (r->gz) {
        int got = gzread(r->gz, r->buf + r->end, (unsigned)room);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            snprintf(r->err, sizeof(r->err), "gzip: %s", msg ? msg : "error");
            return -1;
        }
        n = got;
        if (got == 0 && !gzeof(r->gz)) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            snprintf(r->err, sizeof(r->err), "gzip: %s", msg && *msg ? msg : "truncated stream");
            return -1;
        }
    } else {
        do
            n = read(r->fd, r->buf + r->end, room);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            snprintf(r->err, sizeof(r->err), "%s", strerror(errno));
            return -1;
        }
    }
    if (n == 0)
        r->eof = 1;
    r->end += (size_t)n;
    return 0;
}

int reader_next(reader_t *r, const char **line, size_t *len)
{
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p);
            r->start += n + 1;
            r->bytes += n + 1;
            if (r->skipping) {
                r->skipping = 0;
                continue; /* the tail of an over-long line, already reported */
            }
            r->lineno++;
            *line = p;
            *len = n;
            return 1;
        }
        if (r->eof) {
            if (!avail)
                return 0;
            r->start = r->end;
            r->bytes += avail;
            if (r->skipping) {
                r->skipping = 0;
                return 0;
            }
            r->lineno++; /* a last line without its newline */
            *line = p;
            *len = avail;
            return 1;
        }
        if (avail == BUF_LEN) {
            /* no newline in a whole buffer: report the line, skip to its end */
            int was_skipping = r->skipping;
            r->bytes += avail;
            r->start = r->end = 0;
            r->skipping = 1;
            if (!was_skipping) {
                r->lineno++;
                *line = r->buf;
                *len = avail;
                return 2;
            }
        }
        if (refill(r) < 0)
            return -1;
    }
}

uint64_t reader_lineno(const reader_t *r)
{
    return r->lineno;
}

uint64_t reader_bytes(const reader_t *r)
{
    return r->bytes;
}

uint64_t reader_file_size(const reader_t *r)
{
    return r->size;
}

uint64_t reader_file_pos(const reader_t *r)
{
    if (r->gz)
        return (uint64_t)gzoffset(r->gz);
    off_t pos = lseek(r->fd, 0, SEEK_CUR);
    return pos < 0 ? 0 : (uint64_t)pos;
}

const char *reader_error(const reader_t *r)
{
    return r->err;
}
