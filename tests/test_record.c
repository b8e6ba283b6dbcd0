/*
 * test_record.c - tests of the ingest recording (adapters/ingest/record.h).
 *
 * Rotation is checked exactly: which messages land in which file, that the
 * files concatenated in name order give back the input, and that every gzip
 * file is one complete gzip stream. Failures are made real: /dev/full (every
 * write ENOSPC), a directory that is gone, and a file-size limit
 * (RLIMIT_FSIZE, so writes fail with EFBIG) that is lifted again to see the
 * recording resume. Each test works in its own temporary directory and
 * removes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "err.h"
#include "record.h"
#include "testutil.h"

/* ---- helpers ---- */

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/sw_record_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *join(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* The whole file, NUL-terminated; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/*
 * Inflates `path`; returns 1 when it is exactly one complete gzip stream (end
 * reached, trailer checked by zlib, nothing after it), with the content in
 * *out (caller frees).
 */
static int gunzip_whole(const char *path, char **out, size_t *outlen)
{
    size_t n;
    char *in = slurp(path, &n);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    int zrc;
    do {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        zs.next_out = (Bytef *)buf + len;
        zs.avail_out = (uInt)(cap - len);
        zrc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
    } while (zrc == Z_OK);
    int complete = zrc == Z_STREAM_END && zs.avail_in == 0;
    inflateEnd(&zs);
    free(in);
    *out = buf;
    *outlen = len;
    return complete;
}

/* Reads a gzip file back through gzopen/gzread, as replay does. */
static char *gzslurp(const char *path, size_t *len)
{
    gzFile gz = gzopen(path, "rb");
    assert_non_null(gz);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int got;
    while ((got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    assert_int_equal(got, 0);
    assert_int_equal(gzclose(gz), Z_OK); /* Z_BUF_ERROR would mean a cut stream */
    *len = n;
    return buf;
}

/* The names in `dir` starting with `prefix`, in name order (as a shell glob
 * gives them); returns the count. */
static int list(const char *dir, const char *prefix, char names[][256], int max)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort), k = 0;
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (strncmp(ents[i]->d_name, prefix, strlen(prefix)) == 0 && k < max)
            snprintf(names[k++], 256, "%s", ents[i]->d_name);
        free(ents[i]);
    }
    free(ents);
    return k;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A message of `lines` line-protocol lines; the last newline is left off
 * when `bare` (the recorder adds it). Returns its length. */
static size_t make_msg(char *buf, size_t cap, int i, int lines, int bare)
{
    size_t n = 0;
    for (int l = 0; l < lines; l++)
        n += (size_t)snprintf(buf + n, cap - n,
                              "dsp_traffic,user=90-B3-D5-1F-30-01-00-%02X,dir=north count=%di,"
                              "delivered=%di %lld\n",
                              i % 256, i * 7 + l, i * 7, 1568278800000000000LL + i * 1000000000LL);
    if (bare)
        n--;
    return n;
}

/* Lines of pseudo-random printable text: gzip can barely shrink them. */
static size_t make_noise(char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (i % 80 == 79) ? '\n' : (char)('!' + (seed >> 16) % 94);
    }
    buf[n - 1] = '\n';
    return n;
}

/*
 * Writes `nmsg` messages through a recorder with `max` bytes per file and
 * checks every file against the split the rule gives: a new file when the
 * current one is not empty and the message would take it past `max`.
 */
static void check_rotation(int gzip, const char *name, const char *prefix)
{
    char *dir = make_tmpdir(), *path = join(dir, name);
    const uint64_t max = 1000;
    char err[256];
    record_t *r = record_open(path, max, gzip, err, sizeof(err));
    assert_non_null(r);

    enum { NMSG = 60, MAXF = 64 };
    static char expect[MAXF][8192];
    size_t elen[MAXF] = { 0 };
    int nmsgs[MAXF] = { 0 }, nf = 0;
    char msg[4096];
    for (int i = 0; i < NMSG; i++) {
        /* mostly small messages, one bigger than a file, some without '\n' */
        int lines = i == 30 ? 12 : 1 + i % 4;
        size_t n = make_msg(msg, sizeof(msg), i, lines, i % 5 == 0);
        size_t stored = n + (i % 5 == 0);
        if (nf == 0 || (elen[nf - 1] > 0 && elen[nf - 1] + stored > max))
            nf++;
        memcpy(expect[nf - 1] + elen[nf - 1], msg, n);
        if (i % 5 == 0)
            expect[nf - 1][elen[nf - 1] + n] = '\n';
        elen[nf - 1] += stored;
        nmsgs[nf - 1]++;
        assert_int_equal(record_write(r, msg, n), SW_OK);
        if (gzip && i % 7 == 0)
            assert_int_equal(record_flush(r), SW_OK);
    }
    assert_true(nf > 5);
    record_close(r);

    char names[MAXF][256];
    int got = list(dir, prefix, names, MAXF);
    assert_int_equal(got, nf);
    for (int f = 0; f < nf; f++) {
        char want[64];
        snprintf(want, sizeof(want), "%s.%06d%s", prefix, f + 1, gzip ? ".gz" : "");
        assert_string_equal(names[f], want);
        char *fp = join(dir, names[f]), *data;
        size_t len;
        if (gzip) {
            assert_true(gunzip_whole(fp, &data, &len)); /* one complete stream */
            free(data);
            data = gzslurp(fp, &len);
        } else {
            data = slurp(fp, &len);
        }
        assert_int_equal(len, elen[f]);
        assert_memory_equal(data, expect[f], len);
        assert_true(len <= max || nmsgs[f] == 1); /* over only by a message of its own */
        assert_int_equal(data[len - 1], '\n');
        free(data);
        free(fp);
    }
    free(path);
    rm_rf(dir);
    free(dir);
}

/* ---- tests ---- */

static void test_rotation_plain(void **state)
{
    (void)state;
    check_rotation(0, "rec", "rec");
}

static void test_rotation_gzip(void **state)
{
    (void)state;
    /* "rec.gz" counts as "rec": files are rec.000001.gz, ... */
    check_rotation(1, "rec.gz", "rec");
}

static void test_stats_and_newline(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *path = join(dir, "lp");
    char err[256];
    record_t *r = record_open(path, 0, 0, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(record_write(r, "a v=1i 1\nb v=2i 2", 17), SW_OK); /* '\n' added */
    assert_int_equal(record_write(r, "c v=3i 3\n", 9), SW_OK);
    assert_int_equal(record_write(r, "", 0), SW_OK); /* nothing written */
    assert_int_equal(record_flush(r), SW_OK);
    const record_stats_t *st = record_stats(r);
    assert_int_equal(st->bytes, 27);
    assert_int_equal(st->messages, 3);
    assert_int_equal(st->files, 1);
    assert_int_equal(st->write_errors, 0);
    assert_int_equal(st->dropped_bytes, 0);
    assert_string_equal(st->last_error, "");
    char *want = join(dir, "lp.000001");
    assert_string_equal(record_path(r), want);
    record_close(r);

    size_t len;
    char *data = slurp(want, &len);
    assert_string_equal(data, "a v=1i 1\nb v=2i 2\nc v=3i 3\n");
    free(data);
    free(want);

    assert_int_equal(record_write(NULL, "x", 1), SW_EINVAL);
    assert_int_equal(record_flush(NULL), SW_EINVAL);
    record_close(NULL);
    free(path);
    rm_rf(dir);
    free(dir);
}

/* A restarted recorder continues after the highest number on disk, plain or
 * gzip, and a recorder that recorded nothing leaves no file behind. */
static void test_sequence_continues(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *path = join(dir, "rec");
    const char *olds[] = { "rec.000003.gz", "rec.000007", "rec.12", "rec.000009x", "recx.000050" };
    for (size_t i = 0; i < sizeof(olds) / sizeof(olds[0]); i++) {
        char *p = join(dir, olds[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
        free(p);
    }
    char err[256];
    record_t *r = record_open(path, 0, 0, err, sizeof(err));
    assert_non_null(r);
    char *want = join(dir, "rec.000008");
    assert_string_equal(record_path(r), want);
    assert_int_equal(record_write(r, "a v=1i 1\n", 9), SW_OK);
    record_close(r);
    free(want);

    r = record_open(path, 0, 1, err, sizeof(err));
    assert_non_null(r);
    want = join(dir, "rec.000009.gz");
    assert_string_equal(record_path(r), want);
    record_close(r); /* nothing recorded: removed */
    struct stat st;
    assert_int_equal(stat(want, &st), -1);
    free(want);

    r = record_open(path, 0, 0, err, sizeof(err));
    assert_non_null(r);
    want = join(dir, "rec.000009");
    assert_string_equal(record_path(r), want);
    record_close(r);
    free(want);

    free(path);
    rm_rf(dir);
    free(dir);
}

static void test_bad_paths(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *path = join(dir, "no/such/dir/rec");
    char err[512];
    assert_null(record_open(path, 0, 0, err, sizeof(err)));
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s.000001: No such file or directory", path);
    assert_string_equal(err, want);

    assert_null(record_open(dir, 0, 0, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: is a directory", dir);
    assert_string_equal(err, want);

    assert_null(record_open("", 0, 0, err, sizeof(err)));
    free(path);
    rm_rf(dir);
    free(dir);
}

/* A full disk: every write fails at once, is counted and dropped; the next
 * attempt waits a second. */
static void test_dev_full_plain(void **state)
{
    (void)state;
    char err[256];
    record_t *r = record_open("/dev/full", 1000, 0, err, sizeof(err));
    assert_non_null(r);
    const record_stats_t *st = record_stats(r);
    log_capture_t cap;
    log_capture_start(&cap);
    int rc = record_write(r, "a v=1i 1", 8);
    char *log = log_capture_end(&cap);
    assert_int_equal(rc, SW_EIO);
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->dropped_bytes, 9);
    assert_int_equal(st->dropped_messages, 1);
    assert_string_equal(st->last_error, "/dev/full: No space left on device");
    assert_int_equal(count_of(log, "record: /dev/full: No space left on device; ingested traffic "
                                   "is not recorded until it works again"), 1);
    free(log);

    /* within the second: dropped without another attempt */
    for (int i = 0; i < 100; i++)
        assert_int_equal(record_write(r, "b v=2i 2\n", 9), SW_EIO);
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->dropped_bytes, 9 + 100 * 9);
    assert_int_equal(st->dropped_messages, 101);

    /* the next attempt fails too: counted, and the burst logs nothing more */
    sleep_ms(1100);
    log_capture_start(&cap);
    rc = record_write(r, "c v=3i 3\n", 9);
    log = log_capture_end(&cap);
    assert_int_equal(rc, SW_EIO);
    assert_int_equal(st->write_errors, 2);
    assert_int_equal(st->messages, 0);
    assert_int_equal(st->bytes, 0);
    assert_string_equal(log, "");
    free(log);
    record_close(r);
}

/* With gzip the data wait in zlib's buffer, so the failure shows at the
 * flush, and what was buffered is what is dropped. */
static void test_dev_full_gzip(void **state)
{
    (void)state;
    char err[256];
    record_t *r = record_open("/dev/full", 0, 1, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(record_path(r), "/dev/full");
    const record_stats_t *st = record_stats(r);
    assert_int_equal(record_write(r, "a v=1i 1\n", 9), SW_OK);
    assert_int_equal(record_write(r, "b v=2i 2\n", 9), SW_OK);
    assert_int_equal(record_flush(r), SW_EIO);
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->dropped_bytes, 18);
    assert_int_equal(st->bytes, 0);
    assert_string_equal(st->last_error, "/dev/full: No space left on device");
    assert_int_equal(record_write(r, "c v=3i 3\n", 9), SW_EIO); /* not yet retried */
    assert_int_equal(st->dropped_bytes, 27);
    record_close(r);
}

/* The directory disappears while recording: the rotation fails, is
 * counted; when the directory is back, recording resumes by itself. */
static void test_directory_gone_and_back(void **state)
{
    (void)state;
    char *dir = make_tmpdir(), *sub = join(dir, "d"), *moved = join(dir, "moved");
    assert_int_equal(mkdir(sub, 0755), 0);
    char *path = join(sub, "rec");
    char err[256];
    record_t *r = record_open(path, 10, 0, err, sizeof(err));
    assert_non_null(r);
    const record_stats_t *st = record_stats(r);
    assert_int_equal(record_write(r, "a v=1i 1\n", 9), SW_OK);
    assert_int_equal(rename(sub, moved), 0);

    assert_int_equal(record_write(r, "b v=2i 2\n", 9), SW_EIO); /* rotation: no directory */
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->dropped_bytes, 9);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s.000002: No such file or directory", path);
    assert_string_equal(st->last_error, want);

    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(record_write(r, "c v=3i 3\n", 9), SW_EIO); /* too soon */
    sleep_ms(1100);
    log_capture_t cap;
    log_capture_start(&cap);
    int rc = record_write(r, "d v=4i 4\n", 9);
    char *log = log_capture_end(&cap);
    assert_int_equal(rc, SW_OK);
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->files, 2);
    /* the end of the burst, once */
    snprintf(want, sizeof(want), "record: %s.000002: recording again (18 bytes dropped so far) "
             "after 1 failure over ", path);
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "\n"), 1);
    free(log);
    record_close(r);

    char *f1 = join(moved, "rec.000001"), *f2 = join(sub, "rec.000002");
    size_t len;
    char *data = slurp(f1, &len);
    assert_string_equal(data, "a v=1i 1\n");
    free(data);
    data = slurp(f2, &len);
    assert_string_equal(data, "d v=4i 4\n");
    free(data);
    free(f1);
    free(f2);
    free(path);
    free(sub);
    free(moved);
    rm_rf(dir);
    free(dir);
}

/* A plain file that fills up mid-message keeps whole messages only, and
 * recording continues in the same file once there is room again. */
static void test_full_mid_message_plain(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
    char *dir = make_tmpdir(), *path = join(dir, "rec");
    char err[256], a[100], b[100], c[100];
    make_noise(a, sizeof(a), 1);
    make_noise(b, sizeof(b), 2);
    make_noise(c, sizeof(c), 3);
    record_t *r = record_open(path, 0, 0, err, sizeof(err));
    assert_non_null(r);
    const record_stats_t *st = record_stats(r);
    assert_int_equal(record_write(r, a, sizeof(a)), SW_OK);

    struct rlimit old = limit_file_size(150); /* half of b fits */
    int rc = record_write(r, b, sizeof(b));
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc, SW_EIO);
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->dropped_bytes, sizeof(b));
    assert_non_null(strstr(st->last_error, "rec.000001: File too large"));
    char *f1 = join(dir, "rec.000001");
    struct stat sb;
    assert_int_equal(stat(f1, &sb), 0);
    assert_int_equal(sb.st_size, sizeof(a)); /* the torn half is cut off */

    sleep_ms(1100);
    assert_int_equal(record_write(r, c, sizeof(c)), SW_OK);
    assert_int_equal(st->files, 1);
    record_close(r);
    size_t len;
    char *data = slurp(f1, &len);
    assert_int_equal(len, sizeof(a) + sizeof(c));
    assert_memory_equal(data, a, sizeof(a));
    assert_memory_equal(data + sizeof(a), c, sizeof(c));
    free(data);
    free(f1);
    free(path);
    rm_rf(dir);
    free(dir);
}

/* A gzip file that fills up is cut back to its last flush and sealed there:
 * a complete stream of exactly what was flushed. The next file starts
 * when there is room again. */
static void test_full_gzip_sealed(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    char *dir = make_tmpdir(), *path = join(dir, "rec.gz");
    static char a[2000], b[4000], c[3000];
    make_noise(a, sizeof(a), 4);
    make_noise(b, sizeof(b), 5);
    make_noise(c, sizeof(c), 6);
    char err[256];
    record_t *r = record_open(path, 0, 1, err, sizeof(err));
    assert_non_null(r);
    const record_stats_t *st = record_stats(r);
    assert_int_equal(record_write(r, a, sizeof(a)), SW_OK);
    assert_int_equal(record_flush(r), SW_OK);
    assert_int_equal(st->bytes, sizeof(a));

    char *f1 = join(dir, "rec.000001.gz");
    struct stat sb;
    assert_int_equal(stat(f1, &sb), 0);
    struct rlimit old = limit_file_size((rlim_t)sb.st_size + 20); /* room for the seal only */
    int rc1 = record_write(r, b, sizeof(b)); /* buffered */
    int rc2 = record_flush(r);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc1, SW_OK);
    assert_int_equal(rc2, SW_EIO);
    assert_int_equal(st->write_errors, 1);
    assert_int_equal(st->bytes, sizeof(a));
    assert_int_equal(st->dropped_bytes, sizeof(b));
    assert_non_null(strstr(st->last_error, "rec.000001.gz: File too large"));
    assert_null(strstr(st->last_error, "unfinished"));

    char *data;
    size_t len;
    assert_true(gunzip_whole(f1, &data, &len));
    assert_int_equal(len, sizeof(a));
    assert_memory_equal(data, a, sizeof(a));
    free(data);
    data = gzslurp(f1, &len);
    assert_int_equal(len, sizeof(a));
    free(data);

    sleep_ms(1100);
    assert_int_equal(record_write(r, c, sizeof(c)), SW_OK);
    assert_int_equal(st->files, 2);
    record_close(r);
    char *f2 = join(dir, "rec.000002.gz");
    assert_true(gunzip_whole(f2, &data, &len));
    assert_int_equal(len, sizeof(c));
    assert_memory_equal(data, c, sizeof(c));
    free(data);
    free(f1);
    free(f2);
    free(path);
    rm_rf(dir);
    free(dir);
}

/* A gzip file that fails before anything was flushed is removed, and its
 * number is used by the next file. */
static void test_full_gzip_nothing_flushed(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    char *dir = make_tmpdir(), *path = join(dir, "rec");
    static char b[4000];
    make_noise(b, sizeof(b), 7);
    char err[256];
    record_t *r = record_open(path, 0, 1, err, sizeof(err));
    assert_non_null(r);
    struct rlimit old = limit_file_size(5);
    int rc1 = record_write(r, b, sizeof(b));
    int rc2 = record_flush(r);
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc1, SW_OK);
    assert_int_equal(rc2, SW_EIO);
    char names[4][256];
    assert_int_equal(list(dir, "rec", names, 4), 0);

    sleep_ms(1100);
    assert_int_equal(record_write(r, b, sizeof(b)), SW_OK);
    char *want = join(dir, "rec.000001.gz");
    assert_string_equal(record_path(r), want);
    record_close(r);
    char *data;
    size_t len;
    assert_true(gunzip_whole(want, &data, &len));
    assert_int_equal(len, sizeof(b));
    free(data);
    free(want);
    free(path);
    rm_rf(dir);
    free(dir);
}

/* A caller that never flushes: the recorder syncs by itself once a second
 * of writing has passed, so a later failure keeps all but the last second. */
static void test_gzip_syncs_itself(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    char *dir = make_tmpdir(), *path = join(dir, "rec");
    static char a[2000], b[2000], c[4000], ab[4000];
    make_noise(a, sizeof(a), 8);
    make_noise(b, sizeof(b), 9);
    make_noise(c, sizeof(c), 10);
    char err[256];
    record_t *r = record_open(path, 0, 1, err, sizeof(err));
    assert_non_null(r);
    const record_stats_t *st = record_stats(r);
    assert_int_equal(record_write(r, a, sizeof(a)), SW_OK);
    assert_int_equal(st->bytes, 0); /* still in zlib's buffer */
    sleep_ms(1100);
    assert_int_equal(record_write(r, b, sizeof(b)), SW_OK);
    assert_int_equal(st->bytes, sizeof(a) + sizeof(b)); /* synced without being asked */

    char *f1 = join(dir, "rec.000001.gz");
    struct stat sb;
    assert_int_equal(stat(f1, &sb), 0);
    struct rlimit old = limit_file_size((rlim_t)sb.st_size + 20);
    int rc1 = record_write(r, c, sizeof(c));
    sleep_ms(1100);
    int rc2 = record_write(r, c, sizeof(c)); /* its sync fails */
    setrlimit(RLIMIT_FSIZE, &old);
    assert_int_equal(rc1, SW_OK);
    assert_int_equal(rc2, SW_EIO);
    assert_int_equal(st->bytes, sizeof(a) + sizeof(b));
    assert_int_equal(st->dropped_bytes, 2 * sizeof(c));
    record_close(r);

    memcpy(ab, a, sizeof(a));
    memcpy(ab + sizeof(a), b, sizeof(b));
    char *data;
    size_t len;
    assert_true(gunzip_whole(f1, &data, &len));
    assert_int_equal(len, sizeof(ab));
    assert_memory_equal(data, ab, sizeof(ab));
    free(data);
    free(f1);
    free(path);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_plain),
        cmocka_unit_test(test_rotation_gzip),
        cmocka_unit_test(test_stats_and_newline),
        cmocka_unit_test(test_sequence_continues),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_dev_full_plain),
        cmocka_unit_test(test_dev_full_gzip),
        cmocka_unit_test(test_directory_gone_and_back),
        cmocka_unit_test(test_full_mid_message_plain),
        cmocka_unit_test(test_full_gzip_sealed),
        cmocka_unit_test(test_full_gzip_nothing_flushed),
        cmocka_unit_test(test_gzip_syncs_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
