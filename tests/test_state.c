/*
 * test_state.c - learned state survives a restart: the encoding round
 * trip, an engine seeded from state detects at once where a fresh one is
 * still warming up, and every corrupt, truncated or incompatible file is
 * refused whole with a clear message. Also the state file: the atomic
 * save, a corrupt file moved aside (or refused when strict), an unreadable
 * one refused, and the daemon's saver, checked writable at start, counting
 * and logging failed saves once per burst.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "engine.h"
#include "err.h"
#include "fileio.h"
#include "series.h"
#include "state.h"
#include "statefile.h"
#include "testutil.h"

#define T0 (INT64_C(1568246400) * SEC) /* 2019-09-12T00:00:00Z */

static int n_alerts;
static alert_t last_alert;

static int n_silences; /* silences fired */

static void count_alert(void *ctx, const alert_t *a)
{
    (void)ctx;
    n_alerts++;
    n_silences += a->firing && a->kind == ALERT_SILENCE;
    last_alert = *a;
}

static engine_t *new_engine(void)
{
    engine_opts_t o = { .emit = count_alert };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    engine_t *e = engine_create(&o, NULL);
    assert_non_null(e);
    return e;
}

/* Feeds User A's south requests at `rate` per second every 5 s over [from, to). */
static void feed(engine_t *e, int64_t from, int64_t to, double rate)
{
    char line[256];
    for (int64_t t = from; t < to; t += 5 * SEC) {
        long c = (long)(rate * 5 + ((t / (5 * SEC)) % 3) - 1); /* a little noise */
        int n = snprintf(line, sizeof(line),
                         "dsp_traffic,user=A,dir=south,class=request count=%ldi %" PRId64, c, T0 + t);
        engine_feed_line(e, line, (size_t)n);
    }
}

/* An engine that has learnt 3 hours of 20 msg/s, saved as state bytes. */
static void learnt_state(unsigned char **buf, size_t *len)
{
    engine_t *e = new_engine();
    feed(e, 0, 3 * 3600 * SEC, 20);
    engine_finish(e);
    assert_int_equal(engine_state_save(e, buf, len), 0);
    engine_destroy(e);
}

static void test_round_trip(void **state)
{
    (void)state;
    unsigned char *buf, *again;
    size_t len, len2;
    learnt_state(&buf, &len);
    assert_int_equal(len, 8 + 4 + 4 + 8 + 8 + STATE_SERIES_FIXED + 1 + 7 + 4);

    char err[256];
    assert_int_equal(state_decode(NULL, buf, len, NULL, NULL, err, sizeof(err)), SW_EINVAL);

    engine_t *e = new_engine();
    assert_int_equal(engine_state_load(e, buf, len, err, sizeof(err)), 0);
    assert_int_equal(engine_nseries(e), 1);
    assert_int_equal(engine_state_save(e, &again, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len); /* nothing lost or changed */
    free(again);
    engine_destroy(e);
    free(buf);
}

static void test_seeded_engine_detects_at_once(void **state)
{
    (void)state;
    unsigned char *buf;
    size_t len;
    char err[256];
    learnt_state(&buf, &len);
    /* after a restart: 2 min of normal traffic, then a x10 flood */
    for (int seeded = 0; seeded < 2; seeded++) {
        n_alerts = 0;
        engine_t *e = new_engine();
        if (seeded)
            assert_int_equal(engine_state_load(e, buf, len, err, sizeof(err)), 0);
        int64_t restart = 4 * 3600 * SEC;
        feed(e, restart, restart + 120 * SEC, 20);
        feed(e, restart + 120 * SEC, restart + 300 * SEC, 200);
        engine_finish(e);
        if (seeded) {
            assert_int_equal(n_alerts, 1);
            assert_int_equal(last_alert.kind, ALERT_STORM);
            assert_true(last_alert.starts_at == T0 + restart + 120 * SEC);
        } else {
            assert_int_equal(n_alerts, 0); /* still warming up: relearning from scratch */
        }
        engine_destroy(e);
    }
    free(buf);
}

static void expect_refused(const unsigned char *buf, size_t len, const char *want)
{
    engine_t *e = new_engine();
    char err[256] = "";
    int rc = engine_state_load(e, buf, len, err, sizeof(err));
    assert_int_equal(rc, SW_EPARSE);
    if (want && strstr(err, want) == NULL)
        fail_msg("message '%s' lacks '%s'", err, want);
    assert_int_equal(engine_nseries(e), 0); /* nothing half-loaded */
    engine_destroy(e);
}

static void test_corruption_refused(void **state)
{
    (void)state;
    unsigned char *buf;
    size_t len;
    learnt_state(&buf, &len);
    /* every single flipped bit anywhere */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (unsigned char)(1u << bit);
            expect_refused(buf, len, NULL);
            buf[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* every truncation, and trailing bytes */
    for (size_t n = 0; n < len; n++)
        expect_refused(buf, n, NULL);
    unsigned char *longer = calloc(1, len + 3);
    memcpy(longer, buf, len);
    expect_refused(longer, len + 3, NULL);
    free(longer);
    expect_refused((const unsigned char *)"hello, world", 12, "not a stormwatch state file");
    free(buf);
}

static void test_incompatible_refused(void **state)
{
    (void)state;
    unsigned char *buf;
    size_t len;
    learnt_state(&buf, &len);
    buf[8] = STATE_VERSION + 1; /* version field */
    char want[64];
    snprintf(want, sizeof(want), "state version %d, this stormwatch reads version %d",
             STATE_VERSION + 1, STATE_VERSION);
    expect_refused(buf, len, want);
    buf[8] = STATE_VERSION;
    buf[12] = 48; /* bin count */
    expect_refused(buf, len, "daily bins");
    free(buf);
}

/* Makes a state's checksum (its last 4 bytes) right again after an edit. */
static void recrc(unsigned char *buf, size_t len)
{
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        buf[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

/* Feeds User A's south requests every 5 s over [from, to): a clump of
 * ten every tenth sample (a mean of one), or nothing when `gap`. */
static void feed_clumps(engine_t *e, int64_t from, int64_t to, int gap)
{
    char line[256];
    for (int64_t t = from; t < to; t += 5 * SEC) {
        long c = !gap && (t / (5 * SEC)) % 10 == 0 ? 10 : 0;
        int n = snprintf(line, sizeof(line),
                         "dsp_traffic,user=A,dir=south,class=request count=%ldi %" PRId64, c, T0 + t);
        engine_feed_line(e, line, (size_t)n);
    }
}

/*
 * The clumping a series learnt is in its state: after a restart (the
 * direction's learnt gaps are not kept) 200 s of nothing from a User whose
 * requests come ten at a time, a mean of one a sample, is no silence; 25
 * minutes is one. A baseline saved at version 2 (no clumping) still loads.
 */
static void test_clumping_survives_restart(void **state)
{
    (void)state;
    engine_t *e = new_engine();
    feed_clumps(e, 0, 3 * 3600 * SEC, 0);
    unsigned char *buf;
    size_t len;
    assert_int_equal(engine_state_save(e, &buf, &len), 0);
    engine_destroy(e);
    const int64_t at = 4 * 3600 * SEC;
    for (int longer = 0; longer < 2; longer++) {
        char err[256];
        e = new_engine();
        assert_int_equal(engine_state_load(e, buf, len, err, sizeof(err)), 0);
        n_silences = 0;
        int64_t gap = longer ? 1500 * SEC : 200 * SEC;
        feed_clumps(e, at, at + 150 * SEC, 0);
        feed_clumps(e, at + 150 * SEC, at + 150 * SEC + gap, 1);
        feed_clumps(e, at + 150 * SEC + gap, at + 300 * SEC + gap, 0);
        engine_finish(e);
        assert_int_equal(n_silences, longer);
        engine_destroy(e);
    }
    /* version 2: the same bytes without the clumping, the last 4 of the
     * one baseline (just before the checksum) */
    unsigned char *v2 = malloc(len - 4);
    assert_non_null(v2);
    memcpy(v2, buf, len - 8);
    v2[8] = 2;
    recrc(v2, len - 4);
    char err[256];
    e = new_engine();
    assert_int_equal(engine_state_load(e, v2, len - 4, err, sizeof(err)), 0);
    assert_int_equal(engine_nseries(e), 1);
    engine_destroy(e);
    v2[8] = 1; /* and version 1 is refused */
    recrc(v2, len - 4);
    expect_refused(v2, len - 4, "state version 1, this stormwatch reads version 3");
    free(v2);
    free(buf);
}

/* A learnt clumping (the last 4 bytes of the one baseline, before the
 * checksum) is at most BASE_DISP_OBS_MAX: that loads, more or NaN is
 * refused whole, however right the checksum. */
static void test_clumping_out_of_range_refused(void **state)
{
    (void)state;
    unsigned char *buf;
    size_t len;
    char err[256];
    learnt_state(&buf, &len);
    const float disps[] = { (float)BASE_DISP_OBS_MAX, (float)BASE_DISP_OBS_MAX + 0.5f, NAN };
    for (int k = 0; k < 3; k++) {
        memcpy(buf + len - 8, &disps[k], 4); /* little-endian, as the writer */
        recrc(buf, len);
        if (k == 0) {
            engine_t *e = new_engine();
            assert_int_equal(engine_state_load(e, buf, len, err, sizeof(err)), 0);
            engine_destroy(e);
        } else {
            expect_refused(buf, len, "series 1 of 1: value out of range");
        }
    }
    free(buf);
}

/* Sets the first series' age (learnt state of User A, class request) and
 * makes the checksum right again, so that only the value is wrong. */
static void set_first_age(unsigned char *buf, size_t len, int64_t age)
{
    /* header, count, user "A", dir, class "request", cadence, then the
     * baseline: rate, phi, the two day scales, and the age */
    size_t at = 8 + 4 + 4 + 8 + 8 + 2 + 1 + 1 + 2 + 7 + 4 + 8 + 4 + 4 + 4;
    for (int i = 0; i < 8; i++)
        buf[at + (size_t)i] = (unsigned char)((uint64_t)age >> (8 * i));
    recrc(buf, len);
}

/* Found by fuzz_state: an age near INT64_MAX was loaded, and the next
 * interval learnt overflowed it (base_learn: age += dt). No run learns more
 * than the span of sample times, so a larger age is refused. */
static void test_age_out_of_range_refused(void **state)
{
    (void)state;
    unsigned char *buf;
    size_t len;
    char err[256];
    learnt_state(&buf, &len);
    set_first_age(buf, len, INT64_MAX);
    expect_refused(buf, len, "series 1 of 1: value out of range");
    set_first_age(buf, len, LP_TS_MAX + 1);
    expect_refused(buf, len, "value out of range");

    /* the largest age allowed loads, and learning goes on from it */
    set_first_age(buf, len, LP_TS_MAX);
    engine_t *e = new_engine();
    assert_int_equal(engine_state_load(e, buf, len, err, sizeof(err)), 0);
    feed(e, 4 * 3600 * SEC, 4 * 3600 * SEC + 120 * SEC, 20);
    engine_finish(e);
    assert_int_equal(engine_nseries(e), 1);
    engine_destroy(e);
    free(buf);
}

static void test_load_after_samples_refused(void **state)
{
    (void)state;
    unsigned char *buf;
    size_t len;
    char err[256];
    learnt_state(&buf, &len);
    engine_t *e = new_engine();
    feed(e, 0, 10 * SEC, 5);
    assert_int_equal(engine_state_load(e, buf, len, err, sizeof(err)), SW_EINVAL);
    engine_destroy(e);
    free(buf);
}

static void test_state_file_atomic_save_and_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw_state_XXXXXX", path[64], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.bin", dir);

    engine_t *e = new_engine();
    assert_int_equal(statefile_load(path, e, STATEFILE_STRICT, err, sizeof(err)),
                     STATEFILE_MISSING); /* first run: none yet */
    feed(e, 0, 3600 * SEC, 20);
    engine_finish(e);
    assert_int_equal(statefile_save(path, e, err, sizeof(err)), 0);
    engine_destroy(e);

    e = new_engine();
    assert_int_equal(statefile_load(path, e, STATEFILE_STRICT, err, sizeof(err)),
                     STATEFILE_LOADED);
    assert_int_equal(engine_nseries(e), 1);
    engine_destroy(e);

    /* strict: a corrupt file is refused with its path named, and kept */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc('X', f);
    fclose(f);
    e = new_engine();
    assert_int_equal(statefile_load(path, e, STATEFILE_STRICT, err, sizeof(err)), SW_EPARSE);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "checksum"));
    assert_int_equal(access(path, F_OK), 0);
    engine_destroy(e);

    /* a save into a directory that does not exist fails cleanly */
    e = new_engine();
    char bad[128];
    snprintf(bad, sizeof(bad), "%s/missing/state.bin", dir);
    assert_int_equal(statefile_save(bad, e, err, sizeof(err)), SW_EIO);
    assert_non_null(strstr(err, bad));
    engine_destroy(e);

    /* no temporary file is left behind */
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

static void write_bytes(const char *path, const unsigned char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fio_write_all(fd, buf, len), 0);
    close(fd);
}

/* The one file of `dir` whose name starts with `prefix`, or "" (its path
 * in out); returns how many there are. */
static int files_like(const char *dir, const char *prefix, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    out[0] = '\0';
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && n++ == 0)
            snprintf(out, cap, "%s/%s", dir, de->d_name);
    closedir(d);
    return n;
}

/*
 * By default a corrupt state file is moved aside, never deleted, with a
 * line naming it and the fault, and nothing of it is loaded: the daemon
 * starts learning afresh instead of failing at every restart.
 */
static void test_corrupt_state_file_moved_aside(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw_state_XXXXXX", path[64], err[512], aside[PATH_MAX], want[PATH_MAX * 2];
    char newer[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/state.bin", dir);
    unsigned char *good;
    size_t len;
    learnt_state(&good, &len);
    unsigned char *bad = malloc(len);
    for (int i = 0; i < 3; i++) {
        memcpy(bad, good, len);
        const char *why;
        size_t n = len;
        if (i == 0) {
            bad[40] ^= 0x10;
            why = "checksum mismatch: the file is corrupt or truncated";
        } else if (i == 1) {
            bad[8] = STATE_VERSION + 1;
            snprintf(newer, sizeof(newer), "state version %d, this stormwatch reads version %d",
                     STATE_VERSION + 1, STATE_VERSION);
            why = newer;
        } else {
            memcpy(bad, "hello, world", 12);
            n = 12;
            why = "not a stormwatch state file";
        }
        write_bytes(path, bad, n);
        engine_t *e = new_engine();
        log_capture_t cap;
        log_capture_start(&cap);
        int rc = statefile_load(path, e, 0, err, sizeof(err));
        char *log = log_capture_end(&cap);
        assert_int_equal(rc, STATEFILE_MOVED_ASIDE);
        assert_int_equal(engine_nseries(e), 0);
        engine_destroy(e);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(files_like(dir, "state.bin" FIO_ASIDE_SUFFIX, aside, sizeof(aside)), 1);
        unsigned char *kept;
        size_t klen;
        assert_int_equal(fio_read(aside, len + 1, &kept, &klen), 0);
        assert_int_equal(klen, n);
        assert_memory_equal(kept, bad, n); /* moved, not changed */
        free(kept);
        snprintf(want, sizeof(want), "state: %s: %s: moved aside to %s; learning from scratch\n",
                 path, why, aside);
        assert_int_equal(count_of(log, want), 1);
        assert_int_equal(count_of(log, "\n"), 1);
        free(log);
        assert_int_equal(unlink(aside), 0);
    }
    free(bad);
    free(good);
    assert_int_equal(rmdir(dir), 0);
}

/* A state file that cannot be read may be fine: refused, never moved, in
 * any mode. As root too: a directory, and sysfs's write-only attributes,
 * which nobody can open for reading (EACCES). */
static void test_unreadable_state_file_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw_state_XXXXXX", err[512], want[256];
    assert_non_null(mkdtemp(dir));
    engine_t *e = new_engine();
    assert_int_equal(statefile_load(dir, e, 0, err, sizeof(err)), SW_EOPEN);
    snprintf(want, sizeof(want), "%s: not a regular file", dir);
    assert_string_equal(err, want);
    assert_int_equal(rmdir(dir), 0);

    const char *unreadable = "/sys/bus/platform/uevent";
    int fd = open(unreadable, O_RDONLY);
    if (fd >= 0 || errno != EACCES) {
        if (fd >= 0)
            close(fd);
        engine_destroy(e);
        skip();
    }
    assert_int_equal(statefile_load(unreadable, e, 0, err, sizeof(err)), SW_EOPEN);
    assert_string_equal(err, "/sys/bus/platform/uevent: Permission denied");
    assert_int_equal(access(unreadable, F_OK), 0);
    engine_destroy(e);
}

/* A corrupt file that cannot be moved aside is refused: starting afresh
 * would overwrite it at the first save. The move is made impossible, as
 * root too, by a path so long that the moved-aside name would not fit. */
static void test_corrupt_state_not_movable_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw_state_XXXXXX", err[3 * PATH_MAX], path[PATH_MAX];
    assert_non_null(mkdtemp(dir));
    /* PATH_MAX - 16 bytes with "/state.bin": ".corrupt-<time>" does not fit */
    const size_t target = PATH_MAX - 16 - strlen("/state.bin");
    char name[201];
    size_t at = (size_t)snprintf(path, sizeof(path), "%s", dir);
    int depth = 0;
    while (at < target) {
        size_t n = target - at - 1 < 200 ? target - at - 1 : 200;
        memset(name, 'd', n);
        name[n] = '\0';
        at += (size_t)snprintf(path + at, sizeof(path) - at, "/%s", name);
        assert_int_equal(mkdir(path, 0700), 0);
        depth++;
    }
    snprintf(path + at, sizeof(path) - at, "/state.bin");
    write_bytes(path, (const unsigned char *)"hello, world", 12);
    engine_t *e = new_engine();
    assert_int_equal(statefile_load(path, e, 0, err, sizeof(err)), SW_EPARSE);
    assert_non_null(strstr(err, "not a stormwatch state file, and "));
    assert_non_null(strstr(err, ": the name to move it aside to is too long"));
    assert_int_equal(access(path, F_OK), 0);
    engine_destroy(e);
    assert_int_equal(unlink(path), 0);
    for (; depth >= 0; depth--) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        assert_int_equal(rmdir(path), 0);
    }
}

/*
 * The daemon's saver: refused at start when the path cannot be written;
 * failed saves counted, logged once per burst, and the first good save
 * after them logged once.
 */
static void test_saver_counts_and_logs_once(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw_state_XXXXXX", sub[64], path[96], err[512], want[512];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/s", dir);
    snprintf(path, sizeof(path), "%s/state.bin", sub);
    assert_null(statefile_saver_create(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: cannot create files in %s: No such file or directory", path,
             sub);
    assert_string_equal(err, want);
    assert_int_equal(mkdir(sub, 0700), 0);
    statefile_saver_t *w = statefile_saver_create(path, err, sizeof(err));
    assert_non_null(w);
    statefile_stats_t st;
    statefile_saver_stats(w, &st);
    assert_int_equal(st.saves, 0);
    assert_int_equal(st.last_save_unix, 0);
    assert_int_equal(statefile_saver_save(w, "one", 3), SW_OK);

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(sub), 0);
    int failed = 0;
    log_capture_t cap;
    log_capture_start(&cap);
    for (int i = 0; i < 20; i++)
        failed += statefile_saver_save(w, "two", 3) == SW_EIO;
    statefile_saver_skip(w, "shard 1 did not stop within 2 s");
    int made = mkdir(sub, 0700);
    int rc = statefile_saver_save(w, "three", 5);
    char *log = log_capture_end(&cap);
    assert_int_equal(failed, 20);
    assert_int_equal(made, 0);
    assert_int_equal(rc, SW_OK);
    snprintf(want, sizeof(want), "state: %s: cannot save: No such file or directory; the previous "
             "state is kept\n", path);
    assert_int_equal(count_of(log, want), 1);
    snprintf(want, sizeof(want), "state: %s: saved again after 21 failures over ", path);
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "\n"), 2);
    free(log);
    statefile_saver_stats(w, &st);
    assert_int_equal(st.saves, 2);
    assert_int_equal(st.failures, 21);
    assert_true(st.last_save_unix > 0);
    unsigned char *buf;
    size_t len;
    assert_int_equal(fio_read(path, 100, &buf, &len), 0);
    assert_string_equal((char *)buf, "three");
    free(buf);
    statefile_saver_destroy(w);
    statefile_saver_destroy(NULL);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(sub), 0);

    /* what root cannot write either: a new file in /sys */
    w = statefile_saver_create("/sys/stormwatch-state.bin", err, sizeof(err));
    if (w) { /* a system whose /sys takes files: nothing to show */
        statefile_saver_destroy(w);
        assert_int_equal(rmdir(dir), 0);
        skip();
    }
    assert_non_null(strstr(err, "/sys/stormwatch-state.bin: cannot create files in /sys: "));
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_clumping_survives_restart),
        cmocka_unit_test(test_clumping_out_of_range_refused),
        cmocka_unit_test(test_seeded_engine_detects_at_once),
        cmocka_unit_test(test_corruption_refused),
        cmocka_unit_test(test_incompatible_refused),
        cmocka_unit_test(test_age_out_of_range_refused),
        cmocka_unit_test(test_load_after_samples_refused),
        cmocka_unit_test(test_state_file_atomic_save_and_load),
        cmocka_unit_test(test_corrupt_state_file_moved_aside),
        cmocka_unit_test(test_unreadable_state_file_refused),
        cmocka_unit_test(test_corrupt_state_not_movable_refused),
        cmocka_unit_test(test_saver_counts_and_logs_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
