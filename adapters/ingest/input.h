/*
 * input.h - reading line-protocol recordings line by line: a plain file,
 * a gzip file (by its .gz name, through zlib) or standard input ("-").
 *
 * Lines are handed out in place from one large buffer, without copying.
 * A line longer than the buffer is reported as such and skipped whole, so
 * one absurd line never stops a replay.
 *
 * DESIGN: one reader per thread; no shared state.
 */
#ifndef SW_INPUT_H
#define SW_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct reader reader_t;

/* Opens `path` ("-" = stdin). Returns NULL with errno set on failure. */
reader_t *reader_open(const char *path);
/* Closes the reader; reader_close(NULL) is a no-op. */
void reader_close(reader_t *r);

/*
 * The next line, without its newline, in *line and *len (valid until the next
 * call). Returns 1 for a line, 2 for a line too long to hold (*len is then
 * its length so far; its bytes are skipped), 0 at the end, or -1 on a read
 * error (errno, or a zlib error, described by reader_error()).
 */
int reader_next(reader_t *r, const char **line, size_t *len);

/* 1-based number of the line last returned. */
uint64_t reader_lineno(const reader_t *r);
/* Bytes consumed from the (decompressed) input so far. */
uint64_t reader_bytes(const reader_t *r);
/* Size of the file on disk, or 0 when unknown (stdin, pipes). */
uint64_t reader_file_size(const reader_t *r);
/* Bytes read from the file on disk so far (compressed for .gz). */
uint64_t reader_file_pos(const reader_t *r);
/* A description of the last read error. */
const char *reader_error(const reader_t *r);

#endif
