/*
 * record.c - the ingest recording of `--record FILE` (record.h).
 *
 * Plain files are written with write(2), one message at a time, opened
 * O_APPEND: a message that fails half-way is cut off again with ftruncate,
 * so the file keeps whole messages and the next write continues it.
 *
 * Gzip files go through zlib's gz layer on a file descriptor we open
 * ourselves (O_EXCL: never someone else's file) and keep a duplicate of.
 * A sync flush, at least once a second of writing and at record_flush(),
 * notes where it ended: the file offset, the line protocol written and its
 * CRC-32. When a write fails the
 * stream cannot be continued, so the file is trimmed back to that point and
 * sealed there: after a sync flush the deflate stream is byte-aligned, so an
 * empty final stored block and the gzip trailer (CRC-32 and length of what
 * was kept) make it a complete, valid gzip file again. What was buffered
 * since the flush is counted as dropped. The next attempt starts a new file.
 *
 * Numbers have six digits (the name order breaks only after 999999 files).
 */
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"
#include "errburst.h"
#include "fileio.h"
#include "log.h"
#include "monotime.h"

#define RETRY_NS INT64_C(1000000000)  /* after a failure, try again at most once a second */
#define SYNC_NS INT64_C(1000000000)   /* gzip: a sync flush a second bounds what a failure loses */
#define GZ_BUFFER (128u * 1024)       /* zlib's buffers: a few messages per deflate call */
#define SEQ_DIGITS 6                  /* FILE.000001: name order = creation order */
#define SEQ_MAX_DIGITS 9              /* longer digit runs in a name are not ours */
#define OPEN_TRIES 1000               /* names skipped when someone else took them */
#define FILE_MODE 0640                /* traffic records are not for every local user */

struct record {
    char *base;          /* the name files are numbered after (direct: the target) */
    char *cur;           /* the current or last file name */
    size_t cur_len;
    uint64_t max_bytes;
    int gzip;
    int direct;          /* an existing FIFO or device: no numbering, no rotation */
    unsigned long seq;   /* number of the next file to create */

    int fd;              /* -1: no file open. gzip: our duplicate, for trimming */
    gzFile gz;
    uint64_t file_bytes; /* line protocol written to the current file */

    /* gzip: the last point known to be in the file (record_flush) */
    off_t sync_off;
    uint64_t sync_bytes;
    uLong sync_crc, crc;
    uint64_t pending;    /* bytes in zlib's hands since that point */
    int64_t synced_at;   /* monotonic time of that point (or of the opening) */

    int failed;          /* waiting for retry_at before the next attempt */
    int64_t retry_at;
    errburst_t burst;    /* failures are logged once per burst */
    record_stats_t st;
};

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Counts a failure of `what` on the current file, logs it if it starts a
 * burst, and defers the next try. */
static void fail(record_t *r, const char *file, const char *what)
{
    int64_t now = sw_mono_ns();
    r->st.write_errors++;
    snprintf(r->st.last_error, sizeof(r->st.last_error), "%s: %s", file, what);
    errburst_fail(&r->burst, now, LOG_ERROR,
                  "record: %s: %s; ingested traffic is not recorded until it works again "
                  "(tried again every second)", file, what);
    r->failed = 1;
    r->retry_at = now + RETRY_NS;
}

/* Data reached the file: ends a burst of failures, logged once. The flag
 * is tested first: no clock read per message on the ingest thread. */
static void recorded(record_t *r)
{
    if (r->burst.failing)
        errburst_ok(&r->burst, sw_mono_ns(), "record: %s: recording again (%" PRIu64 " bytes "
                    "dropped so far)", r->cur, r->st.dropped_bytes);
}

static void drop(record_t *r, uint64_t n)
{
    r->st.dropped_bytes += n;
    r->st.dropped_messages++;
}

/* The highest number among the files already recorded under `base`. */
static unsigned long last_seq(const char *base)
{
    char *d = strdup(base), *b = strdup(base);
    unsigned long max = 0;
    DIR *dir = d && b ? opendir(dirname(d)) : NULL;
    if (dir) {
        const char *stem = basename(b);
        size_t sl = strlen(stem);
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            const char *p = de->d_name;
            if (strncmp(p, stem, sl) != 0 || p[sl] != '.')
                continue;
            p += sl + 1;
            size_t k = strspn(p, "0123456789");
            if (k < SEQ_DIGITS || k > SEQ_MAX_DIGITS || (p[k] && strcmp(p + k, ".gz") != 0))
                continue;
            unsigned long n = strtoul(p, NULL, 10);
            if (n > max)
                max = n;
        }
        closedir(dir);
    }
    free(d);
    free(b);
    return max;
}

/* Opens the next file (or the direct target). On failure, the reason is in
 * `why` (errno text) and nothing is open. */
static int file_open(record_t *r, const char **why)
{
    int fd = -1;
    if (r->direct) {
        /* O_NONBLOCK: a FIFO without reader, or a full one, is an error
         * (counted), never a wait */
        fd = open(r->base, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    } else {
        for (int tries = 0; tries < OPEN_TRIES; tries++) {
            snprintf(r->cur, r->cur_len, "%s.%0*lu%s", r->base, SEQ_DIGITS, r->seq,
                     r->gzip ? ".gz" : "");
            fd = open(r->cur, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (r->gzip ? 0 : O_APPEND),
                      FILE_MODE);
            if (fd >= 0 || errno != EEXIST)
                break;
            r->seq++;
        }
    }
    if (fd < 0) {
        *why = strerror(errno);
        return SW_EIO;
    }
    if (r->gzip) {
        int fd2 = dup(fd);
        r->gz = fd2 >= 0 ? gzdopen(fd2, "wb") : NULL;
        if (!r->gz || gzbuffer(r->gz, GZ_BUFFER) != 0) {
            *why = fd2 < 0 ? strerror(errno) : "cannot start a gzip stream";
            if (r->gz)
                gzclose(r->gz);
            else if (fd2 >= 0)
                close(fd2);
            r->gz = NULL;
            close(fd);
            if (!r->direct)
                unlink(r->cur);
            return SW_EIO;
        }
    }
    if (!r->direct)
        r->seq++;
    r->fd = fd;
    r->file_bytes = 0;
    r->sync_off = 0;
    r->sync_bytes = 0;
    r->sync_crc = r->crc = crc32(0, Z_NULL, 0);
    r->pending = 0;
    r->synced_at = sw_mono_ns();
    r->st.files++;
    return SW_OK;
}

/* Removes the current file when it holds nothing, and gives its number back. */
static void unlink_if_empty(record_t *r, uint64_t kept)
{
    if (r->direct || kept > 0)
        return;
    if (unlink(r->cur) == 0)
        r->seq--;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * The gzip stream is closed but failed: cuts the file back to the last sync
 * flush and ends the stream there, or removes the file if nothing was
 * flushed. What zlib held since is dropped. Closes our descriptor.
 */
static void gz_salvage(record_t *r)
{
    r->st.dropped_bytes += r->pending;
    r->pending = 0;
    if (!r->direct && r->sync_bytes > 0) {
        /* a final empty stored block (BFINAL=1, LEN=0, NLEN=0xffff), then
         * the trailer: CRC-32 and length mod 2^32 of the kept data */
        unsigned char tail[13] = { 0x01, 0x00, 0x00, 0xff, 0xff };
        put_le32(tail + 5, (uint32_t)r->sync_crc);
        put_le32(tail + 9, (uint32_t)r->sync_bytes);
        if (ftruncate(r->fd, r->sync_off) < 0 ||
            pwrite(r->fd, tail, sizeof(tail), r->sync_off) != (ssize_t)sizeof(tail)) {
            size_t n = strlen(r->st.last_error);
            snprintf(r->st.last_error + n, sizeof(r->st.last_error) - n,
                     " (left unfinished: %s)", strerror(errno));
        }
    }
    close(r->fd);
    r->fd = -1;
    unlink_if_empty(r, r->sync_bytes);
}

/* After a failed write or flush: leaves the current file holding only what
 * was written whole, and closes it unless it can be continued. */
static void file_abandon(record_t *r)
{
    if (r->gzip) {
        gzclose(r->gz); /* frees zlib's state; its errors are known already */
        r->gz = NULL;
        gz_salvage(r);
        return;
    }
    if (!r->direct && ftruncate(r->fd, (off_t)r->file_bytes) == 0)
        return; /* whole messages only: the next write continues this file */
    close(r->fd);
    r->fd = -1;
}

/* Closes the current file properly (rotation, close). 0 or SW_EIO (counted). */
static int file_close(record_t *r)
{
    int rc = SW_OK;
    if (r->gzip) {
        int zrc = gzclose(r->gz);
        r->gz = NULL;
        if (zrc != Z_OK) {
            fail(r, r->cur, zrc == Z_ERRNO ? strerror(errno) : "gzip stream error on close");
            gz_salvage(r);
            return SW_EIO;
        }
        r->st.bytes += r->pending;
        r->pending = 0;
    }
    if (close(r->fd) < 0) {
        fail(r, r->cur, strerror(errno));
        rc = SW_EIO;
    }
    r->fd = -1;
    if (rc == SW_OK)
        unlink_if_empty(r, r->file_bytes);
    return rc;
}

/* Whether a write may be attempted now: no failure waiting, or its retry
 * is due and a file could be opened. */
static int ready(record_t *r)
{
    if (r->failed) {
        if (sw_mono_ns() < r->retry_at)
            return 0;
        r->failed = 0;
    }
    if (r->fd < 0) {
        const char *why;
        if (file_open(r, &why) < 0) {
            fail(r, r->direct ? r->base : r->cur, why);
            return 0;
        }
    }
    return 1;
}

static int gz_put(gzFile gz, const char *p, size_t n)
{
    while (n) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        if (gzwrite(gz, p, chunk) != (int)chunk)
            return -1;
        p += chunk;
        n -= chunk;
    }
    return 0;
}

/* zlib's reason for a failed write; for a system error it reads
 * "<fd:N>: strerror", of which the strerror part is kept. */
static const char *gz_why(gzFile gz)
{
    int zerr;
    const char *msg = gzerror(gz, &zerr);
    const char *sep = zerr == Z_ERRNO ? strstr(msg, ": ") : NULL;
    return sep ? sep + 2 : msg;
}

/*
 * A sync flush: everything written so far reaches the file as whole deflate
 * blocks, and the point is noted for gz_salvage(). On failure the file is
 * salvaged and closed; 0 or SW_EIO.
 */
static int gz_sync(record_t *r)
{
    if (gzflush(r->gz, Z_SYNC_FLUSH) != Z_OK) {
        fail(r, r->cur, gz_why(r->gz));
        file_abandon(r);
        return SW_EIO;
    }
    if (!r->direct) {
        off_t off = lseek(r->fd, 0, SEEK_CUR); /* shared with zlib's duplicate */
        if (off >= 0) {
            r->sync_off = off;
            r->sync_bytes = r->file_bytes;
            r->sync_crc = r->crc;
        }
    }
    r->synced_at = sw_mono_ns();
    r->st.bytes += r->pending;
    r->pending = 0;
    recorded(r);
    return SW_OK;
}

record_t *record_open(const char *path, uint64_t max_bytes, int gzip, char *err, size_t errlen)
{
    if (!path || !*path) {
        sw_errf(err, errlen, "record: no file name");
        return NULL;
    }
    struct stat st;
    int direct = 0;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            sw_errf(err, errlen, "%s: is a directory", path);
            return NULL;
        }
        direct = !S_ISREG(st.st_mode);
    }
    record_t *r = calloc(1, sizeof(*r));
    size_t plen = strlen(path);
    if (r) {
        r->fd = -1;
        r->base = strdup(path);
        r->cur_len = plen + 32;
        r->cur = malloc(r->cur_len);
    }
    if (!r || !r->base || !r->cur) {
        sw_errf(err, errlen, "%s: out of memory", path);
        record_close(r);
        return NULL;
    }
    if (gzip && !direct && has_suffix(r->base, ".gz"))
        r->base[plen - 3] = '\0';
    snprintf(r->cur, r->cur_len, "%s", path);
    r->max_bytes = max_bytes;
    r->gzip = gzip != 0;
    r->direct = direct;
    r->seq = direct ? 0 : last_seq(r->base) + 1;
    const char *why;
    if (file_open(r, &why) < 0) {
        sw_errf(err, errlen, "%s: %s", r->cur, why);
        record_close(r);
        return NULL;
    }
    return r;
}

int record_write(record_t *r, const char *data, size_t len)
{
    if (!r || (!data && len))
        return SW_EINVAL;
    if (len == 0) {
        r->st.messages++;
        return SW_OK;
    }
    int newline = data[len - 1] != '\n';
    uint64_t n = len + (uint64_t)newline;
    if (!ready(r)) {
        drop(r, n);
        return SW_EIO;
    }
    if (!r->direct && r->max_bytes && r->file_bytes > 0 && r->file_bytes + n > r->max_bytes) {
        if (file_close(r) < 0 || !ready(r)) {
            drop(r, n);
            return SW_EIO;
        }
    }
    if (r->gzip) {
        if (gz_put(r->gz, data, len) < 0 || (newline && gz_put(r->gz, "\n", 1) < 0)) {
            fail(r, r->cur, gz_why(r->gz));
            file_abandon(r);
            drop(r, n);
            return SW_EIO;
        }
        r->crc = crc32_z(r->crc, (const Bytef *)data, len);
        if (newline)
            r->crc = crc32_z(r->crc, (const Bytef *)"\n", 1);
        r->pending += n;
    } else {
        if (fio_write_all(r->fd, data, len) < 0 || (newline && fio_write_all(r->fd, "\n", 1) < 0)) {
            fail(r, r->cur, strerror(errno));
            file_abandon(r);
            drop(r, n);
            return SW_EIO;
        }
        r->st.bytes += n;
        recorded(r);
    }
    r->file_bytes += n;
    r->st.messages++;
    if (r->gz && sw_mono_ns() - r->synced_at >= SYNC_NS)
        return gz_sync(r); /* the caller may never flush: bound the loss ourselves */
    return SW_OK;
}

int record_flush(record_t *r)
{
    if (!r)
        return SW_EINVAL;
    return r->gz ? gz_sync(r) : SW_OK;
}

void record_close(record_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        file_close(r);
    free(r->base);
    free(r->cur);
    free(r);
}

const record_stats_t *record_stats(const record_t *r)
{
    return &r->st;
}

const char *record_path(const record_t *r)
{
    return r->cur;
}
