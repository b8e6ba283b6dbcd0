/*
 * fileio.h - the few file operations several adapters need done right:
 * writing everything despite short writes and EINTR, replacing a file
 * atomically and durably, and reading a whole file with a size bound.
 *
 * DESIGN: plain functions, no state; safe from any thread.
 */
#ifndef SW_FILEIO_H
#define SW_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Writes all len bytes to fd. 0, or -1 with errno set. */
int fio_write_all(int fd, const void *buf, size_t len);

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

#endif
