/*
 * statefile.h - the --state FILE of replay and the daemon: learned
 * baselines loaded at start and saved atomically (temporary file, fsync,
 * rename, fsync of the directory), so a crash mid-save leaves the previous
 * state intact, never a torn file.
 *
 * Loading. A missing file is a first run. A file that cannot be read
 * (permissions, EIO, not a regular file) is refused: it may be fine, and
 * starting without it would overwrite it at the first save. A file that is
 * read but not valid (not a state file, a bad checksum, truncated, another
 * version or bin layout) is corrupt: by default it is moved aside to
 * PATH.corrupt-<UTC time> (fio_move_aside(): never deleted), logged with
 * the reason, and the caller starts learning from scratch, so a corrupt
 * file cannot hold a restarted daemon down; with STATEFILE_STRICT it is
 * refused instead. A corrupt file that cannot be moved aside is refused:
 * the next save would overwrite it.
 *
 * Saving (the daemon). A statefile_saver_t checks at start that the path
 * can be written (fio_check_writable()), then writes each save atomically,
 * counts saves and failures for /metrics, and logs failures once per burst
 * (errburst.h): a full disk under a checkpoint every few seconds logs its
 * first failure, a reminder a minute, and one line when a save works again.
 *
 * DESIGN: the load and save functions hold no state. A saver's saves and
 * skips come from one thread at a time (the daemon's main thread: its
 * checkpoints and the save on exit); its counters are atomics any thread
 * may read with statefile_saver_stats(). Buffers passed in are borrowed for
 * the call: the caller frees them.
 */
#ifndef SW_STATEFILE_H
#define SW_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* State files larger than this are refused before they are read. */
#define STATE_MAX_BYTES (UINT64_C(16) << 30)

/* Flags of the load calls. */
#define STATEFILE_STRICT 1u /* refuse a corrupt file (SW_EPARSE) rather than move it aside */

/* What a load found, besides errors (negative SW_E* codes). */
#define STATEFILE_LOADED 0
#define STATEFILE_MISSING 1      /* no file: a first run */
#define STATEFILE_MOVED_ASIDE 2  /* corrupt, moved aside (logged): nothing loaded */

/*
 * Decodes the `len` bytes of a state file into the caller's tables: 0,
 * SW_EPARSE with a sentence in `why` when the bytes are not a valid state
 * (nothing is loaded then), or another SW_E* code (SW_ENOMEM, ...), which
 * is not taken for corruption.
 */
typedef int (*statefile_decode_fn)(void *ctx, const unsigned char *buf, size_t len, char *why,
                                   size_t whylen);

/*
 * Reads `path` and hands its bytes to decode(ctx, ...). Returns
 * STATEFILE_LOADED, STATEFILE_MISSING, STATEFILE_MOVED_ASIDE, or with
 * "PATH: reason" in err: SW_EOPEN (cannot be read), SW_EPARSE (corrupt, and
 * STATEFILE_STRICT or it could not be moved aside), SW_ENOMEM, or decode's
 * other codes. On any result but STATEFILE_LOADED nothing is loaded.
 */
int statefile_read(const char *path, unsigned flags, statefile_decode_fn decode, void *ctx,
                   char *err, size_t errlen);

/* statefile_read() into an engine (replay): the same results. */
int statefile_load(const char *path, engine_t *e, unsigned flags, char *err, size_t errlen);

/* Saves the engine's baselines to `path` atomically. 0, or SW_EIO or
 * SW_ENOMEM with "PATH: reason" in err; the old file is then untouched. */
int statefile_save(const char *path, engine_t *e, char *err, size_t errlen);

typedef struct statefile_saver statefile_saver_t;

typedef struct {
    uint64_t saves;         /* state written */
    uint64_t failures;      /* saves that failed: the previous file is kept */
    int64_t last_save_unix; /* wall-clock seconds of the last good save; 0: none */
} statefile_stats_t;

/*
 * A saver for `path`, checked writable now (its directory takes new files,
 * an existing file opens for writing), so an unwritable --state is refused
 * at start, not found out at the first checkpoint. NULL with "PATH: reason"
 * in err. The caller frees it with statefile_saver_destroy().
 */
statefile_saver_t *statefile_saver_create(const char *path, char *err, size_t errlen);

/*
 * Replaces the file with `len` bytes atomically. 0, or SW_EIO (counted,
 * logged once per burst; the previous file is untouched). A success after
 * failures is logged once.
 */
int statefile_saver_save(statefile_saver_t *w, const void *buf, size_t len);

/* A save that could not even be tried (the state could not be encoded, a
 * shard did not stop in time): counted and logged as a failed save. */
void statefile_saver_skip(statefile_saver_t *w, const char *why);

/* A snapshot of the counters; any thread. */
void statefile_saver_stats(const statefile_saver_t *w, statefile_stats_t *out);

/* statefile_saver_destroy(NULL) is a no-op. */
void statefile_saver_destroy(statefile_saver_t *w);

#endif
