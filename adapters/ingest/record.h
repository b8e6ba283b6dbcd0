/*
 * record.h - `--record FILE`: keeps what the daemon ingested, as line
 * protocol, in numbered files rotated by size and optionally gzip'd, so an
 * incident can be replayed later with `stormwatch replay FILE.*`.
 *
 * Files are named FILE.000001, FILE.000002, ... in the order they are
 * created (with gzip: FILE.000001.gz, ...; a FILE given as "x.gz" counts as
 * "x"). The sequence continues after the highest number already on disk, so
 * a restarted daemon never appends to an old file and the shell's name order
 * is always the recording order. Each file holds whole ZeroMQ messages, hence
 * whole lines; a gzip file is one complete gzip stream.
 *
 * If FILE already exists and is not a regular file (a FIFO, /dev/stdout), the
 * recording goes to it directly, unnumbered and never rotated.
 *
 * Recording must never hold up detection: a write that fails (full disk,
 * EIO, permissions) is counted, its text kept, the data dropped and counted,
 * and the next attempt is made no sooner than a second later, so recording
 * resumes by itself when space comes back. Failures are logged once per
 * burst (errburst.h): the first, a reminder a minute, and one line when
 * data reach the file again. A file cut short by a failure is
 * first trimmed back to its last whole message (plain) or to its last flush,
 * then closed as a valid gzip stream (gzip); a file left empty is removed.
 *
 * DESIGN: a recorder belongs to one thread at a time: the ingest thread
 * that receives the messages writes it; the daemon opens it on main before
 * that thread starts, and flushes and closes it after joining it. Nothing
 * in it is locked or atomic, and its statistics are read by the thread
 * that holds it (the ingest thread publishes them as it publishes its own).
 * Data are borrowed for the call.
 * Writes are synchronous: a full disk fails at once, but a filesystem that
 * hangs (a dead NFS server) would stall that thread.
 */
#ifndef SW_RECORD_H
#define SW_RECORD_H

#include <stddef.h>
#include <stdint.h>

typedef struct record record_t;

typedef struct {
    uint64_t bytes;            /* line protocol handed to the OS (gzip: up to the last flush) */
    uint64_t messages;         /* messages written, or buffered by gzip */
    uint64_t files;            /* files opened */
    uint64_t write_errors;     /* failed opens, writes, flushes and closes */
    uint64_t dropped_bytes;    /* bytes lost to errors, or refused while waiting to retry */
    uint64_t dropped_messages; /* messages refused (a gzip buffer lost counts its bytes only) */
    char last_error[512];      /* "FILE: strerror" of the last failure, "" if none */
} record_stats_t;

/*
 * Starts a recording at `path` and opens its first file at once, so a path
 * that cannot be written (no such directory, no permission) is refused at
 * start-up rather than found out later. `max_bytes` bounds the line protocol
 * in each file, before compression (0 = never rotate); a single message larger
 * than that gets a file of its own. Returns NULL with "FILE: reason" in err.
 * The caller closes it with record_close().
 */
record_t *record_open(const char *path, uint64_t max_bytes, int gzip, char *err, size_t errlen);

/*
 * Records one ZeroMQ message: `len` bytes of complete newline-separated
 * lines; a '\n' is appended when the last one lacks it, and an empty message
 * writes nothing. Returns 0 when recorded, SW_EIO when data were dropped
 * (an error now, a retry not yet due, or a failed gzip flush losing what was
 * buffered; see record_stats()), SW_EINVAL for a NULL recorder. The caller
 * need not act on an error: it is already counted in the statistics.
 */
int record_write(record_t *r, const char *data, size_t len);

/*
 * Hands buffered data to the OS: for gzip a sync flush, after which
 * everything written so far is readable from the file; for plain files a
 * no-op (every write goes straight to the OS). record_write() does it by
 * itself when a second has passed since the last one, so a failure loses at
 * most about a second of gzip'd data; call it too when the input goes idle.
 * 0, or SW_EIO (counted; the buffered data are dropped).
 */
int record_flush(record_t *r);

/* Flushes and closes the current file (a gzip file is finished properly)
 * and frees the recorder. record_close(NULL) is a no-op. */
void record_close(record_t *r);

/* The counters; valid until the recorder is closed. */
const record_stats_t *record_stats(const record_t *r);

/* The name of the file being written, or last written. */
const char *record_path(const record_t *r);

#endif
