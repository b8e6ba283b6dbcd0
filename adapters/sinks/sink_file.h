/*
 * sink_file.h - the alert lines of `--alerts FILE`: JSON Lines appended to
 * FILE ("-" is standard output), written so that every failure is seen.
 *
 * Each line goes to the kernel with write(2) at once (no stdio buffer that
 * fails later, or not at all when nobody checks fflush), its result checked:
 * a short write, ENOSPC, EIO, EPIPE are counted, the line is counted as
 * dropped, and the failure is logged once per burst (errburst.h): a full
 * disk logs its first failure, a reminder a minute, and one line when lines
 * are written again.
 *
 * A line is in the output whole or not at all where that can be done: a
 * regular file that took part of a line is cut back to where the line
 * began, so the fragment never runs into the next line. Where nothing can
 * be taken back (a pipe or FIFO), the next line written starts with a
 * newline, so the fragment stands alone as one bad line and the good lines
 * after it parse.
 *
 * A FIFO or device named as FILE is opened non-blocking, as the recording
 * does: a reader that stops reading costs lines (counted), never a stalled
 * alert stage. Standard output is used as it is (its flags are shared with
 * whoever started us).
 *
 * Reopening for logrotate (on SIGHUP): sink_file_reopen() from any thread
 * asks, and the writer reopens FILE before its next line; if FILE cannot be
 * opened, the writer keeps the file it had (logged, counted): lines still
 * land somewhere rather than nowhere.
 *
 * DESIGN: one writer thread writes (the daemon's alert thread); open and
 * close come from one thread at a time with it (the daemon: main, before
 * the alert thread starts and after it is joined). The counters are
 * atomics written by the writer and read by any thread (sink_file_stats(),
 * for /metrics); the reopen request is an atomic flag. Lines are borrowed
 * for the call.
 */
#ifndef SW_SINK_FILE_H
#define SW_SINK_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Alert lines name Users and their traffic, like the recording: not for
 * every local user; the group can read them for the operators' tools. */
#define SINK_FILE_MODE 0640

typedef struct sink_file sink_file_t;

typedef struct {
    uint64_t lines;         /* lines written whole */
    uint64_t bytes;         /* bytes of those lines */
    uint64_t write_errors;  /* failed writes, each one line dropped */
    uint64_t dropped_bytes; /* bytes of the dropped lines */
    uint64_t reopens;       /* reopens done */
    uint64_t reopen_errors; /* reopens that failed (the file before kept) */
} sink_file_stats_t;

/*
 * Opens `path` for appending, creating it (SINK_FILE_MODE) when missing;
 * "-" is standard output. Returns NULL with "PATH: reason" in err. The
 * caller closes it with sink_file_close().
 */
sink_file_t *sink_file_open(const char *path, char *err, size_t errlen);

/*
 * Writes one line: `len` bytes, a '\n' added when the last one is not.
 * Reopens first when asked. Returns 0, SW_EIO when the line was dropped
 * (counted, logged once per burst, the output left without a torn line
 * where it can be), SW_EINVAL for a missing sink or line. The caller need
 * not act on an error: it is counted already.
 */
int sink_file_write(sink_file_t *s, const char *line, size_t len);

/* Asks the writer to reopen the path before its next line (logrotate).
 * Any thread; a no-op for standard output. */
void sink_file_reopen(sink_file_t *s);

/* A snapshot of the counters; any thread. */
void sink_file_stats(const sink_file_t *s, sink_file_stats_t *out);

/* The path as given ("-" for standard output). */
const char *sink_file_path(const sink_file_t *s);

/* Closes the file (not standard output; a failed close is logged) and frees
 * the sink. sink_file_close(NULL) is a no-op. */
void sink_file_close(sink_file_t *s);

#endif
