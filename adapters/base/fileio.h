/*
 * fileio.h - the few file operations several adapters need done right:
 * writing everything despite short writes and EINTR, replacing a file
 * atomically and durably, reading a whole file with a size bound, moving a
 * corrupt file aside, and checking at start that a path can be written.
 *
 * The low-level calls return -1 with errno set, for callers that word
 * their own message; fio_move_aside() and fio_check_writable() are for
 * messages a person reads, and return SW_E* codes (err.h) with the message
 * in a buffer.
 *
 * DESIGN: plain functions, no state; safe from any thread.
 */
#ifndef SW_FILEIO_H
#define SW_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all len bytes to fd. 0, or -1 with errno set. */
int fio_write_all(int fd, const void *buf, size_t len);

/* The same, and says in *written how many bytes went out before a failure
 * (len on success), so a caller can take back a torn record. */
int fio_write_all_n(int fd, const void *buf, size_t len, size_t *written);

/* fsync of the directory holding `path`, so a created, renamed or removed
 * entry lasts. 0, or -1 with errno set. */
int fio_sync_dir(const char *path);

/*
 * Replaces `path` with `len` bytes atomically and durably: a temporary file
 * beside it, fsync, rename, fsync of the directory. 0, or -1 with errno
 * set; on error the old file is untouched and no temporary file remains.
 */
int fio_replace(const char *path, const void *buf, size_t len);

/*
 * Reads the whole regular file `path` into a new buffer (*buf, *len; NUL-
 * terminated for convenience, the caller frees it). Returns 0, 1 when the
 * file does not exist (nothing allocated), or -1 with errno set: EFBIG when
 * it is larger than `max` bytes, EINVAL when it is not a regular file.
 */
int fio_read(const char *path, uint64_t max, unsigned char **buf, size_t *len);

/* A moved-aside file is named PATH.corrupt-<UTC time>, e.g.
 * state.bin.corrupt-20261204T161700Z: the time says when it was found, and
 * the names sort in that order. */
#define FIO_ASIDE_SUFFIX ".corrupt-"
/* Files moved aside within the same second get ".1", ".2", ... after the
 * time; beyond this many something is looping, and the move is refused. */
#define FIO_ASIDE_TRIES 100

/*
 * Moves the file `path` aside, never deleting or overwriting anything:
 * renamed (same directory) to PATH.corrupt-YYYYMMDDTHHMMSSZ, or with ".N"
 * added when that name exists, then the directory is synced. The new name
 * goes to newpath (newlen bytes, NUL-terminated; the name tried when it
 * failed). Returns 0; SW_ENOTFOUND when `path` does not exist; SW_EEXISTS
 * when FIO_ASIDE_TRIES names are taken; SW_EIO (a rename that failed:
 * permissions, read-only file system); SW_EINVAL (newpath too small). On
 * error `path` is where it was, and err says "PATH: cannot move it aside to
 * NEWPATH: strerror".
 */
int fio_move_aside(const char *path, char *newpath, size_t newlen, char *err, size_t errlen);

/*
 * Checks at start that `path` can be created, appended to and replaced
 * atomically, so a path that cannot be written is refused with a message
 * then rather than found out at the first save: when it exists and is a
 * regular file, it opens for writing (nothing is written or truncated);
 * then a temporary file PATH.wcheck.XXXXXX is created beside it and
 * removed, which proves the directory exists and takes new files (what
 * the atomic replacement of fio_replace() needs). An existing file that is
 * not a regular one (a FIFO, /dev/stdout) must only be writable: it is
 * written in place, so its directory is not probed. Nothing about free
 * space is checked. Returns 0, or SW_EIO with "PATH: strerror" or "PATH:
 * cannot create files in DIR: strerror" in err, SW_EINVAL for a directory,
 * SW_ENOMEM.
 */
int fio_check_writable(const char *path, char *err, size_t errlen);

#endif
