/*
 * test_state.c - learned state survives a restart: the encoding round
 * trip, an engine seeded from state detects at once where a fresh one is
 * still warming up, and every corrupt, truncated or incompatible file is
 * refused whole with a clear message. Also the atomic file save.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "engine.h"
#include "err.h"
#include "series.h"
#include "state.h"
#include "statefile.h"
#include "testutil.h"

#define T0 (INT64_C(1568246400) * SEC) /* 2019-09-12T00:00:00Z */

static int n_alerts;
static alert_t last_alert;

static void count_alert(void *ctx, const alert_t *a)
{
    (void)ctx;
    n_alerts++;
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
    expect_refused(buf, len, "state version 2, this stormwatch reads version 1");
    buf[8] = STATE_VERSION;
    buf[12] = 48; /* bin count */
    expect_refused(buf, len, "daily bins");
    free(buf);
}

/* Sets the first series' age (learnt state of User A, class request) and
 * makes the checksum right again, so that only the value is wrong. */
static void set_first_age(unsigned char *buf, size_t len, int64_t age)
{
    /* header, user "A", dir, class "request", rate, phi */
    size_t at = 8 + 4 + 4 + 8 + 8 + 2 + 1 + 1 + 2 + 7 + 8 + 4;
    for (int i = 0; i < 8; i++)
        buf[at + (size_t)i] = (unsigned char)((uint64_t)age >> (8 * i));
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        buf[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
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
    assert_int_equal(statefile_load(path, e, err, sizeof(err)), 1); /* first run: none yet */
    feed(e, 0, 3600 * SEC, 20);
    engine_finish(e);
    assert_int_equal(statefile_save(path, e, err, sizeof(err)), 0);
    engine_destroy(e);

    e = new_engine();
    assert_int_equal(statefile_load(path, e, err, sizeof(err)), 0);
    assert_int_equal(engine_nseries(e), 1);
    engine_destroy(e);

    /* a corrupt file is refused with its path named */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc('X', f);
    fclose(f);
    e = new_engine();
    assert_int_equal(statefile_load(path, e, err, sizeof(err)), SW_EPARSE);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "checksum"));
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_seeded_engine_detects_at_once),
        cmocka_unit_test(test_corruption_refused),
        cmocka_unit_test(test_incompatible_refused),
        cmocka_unit_test(test_age_out_of_range_refused),
        cmocka_unit_test(test_load_after_samples_refused),
        cmocka_unit_test(test_state_file_atomic_save_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
