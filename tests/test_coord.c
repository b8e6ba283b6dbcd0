/*
 * test_coord.c - tests of the daemon's change coordination
 * (adapters/coord/coord.h): a check kept, replaced when made again, the
 * oldest dropped past COORD_MAX_CHECKS, unknown ids; the Users' shares
 * before any are set and after; the line in the checks file (and after a
 * reopen), the log line, the counters by verdict and their metric text;
 * out of memory; and the alert thread writing while HTTP threads read
 * (under TSan: the `threads` label).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocfail.h"
#include "testutil.h"

#include "checks.h"
#include "coord.h"
#include "err.h"
#include "log.h"

typedef tu_dir_t fx_t;

static int setup(void **state)
{
    return tu_dir_setup(state, "sw_coord", "checks.jsonl");
}

static int teardown(void **state)
{
    return tu_dir_teardown(state);
}

static change_t chg(const char *id, const char *user)
{
    return (change_t){ .id = (char *)id, .user = (char *)user, .start = 1568278800 * SEC,
                       .end = 1568282400 * SEC, .affects = CHG_BOTH };
}

static change_check_t check_of(const change_t *c, verdict_t v, const char *summary)
{
    return (change_check_t){ .change = c, .verdict = v, .observed = { 1.0, 2.5 },
                             .delivered = -1, .summary = summary };
}

/* ck's line as change_check_format_json() writes it, its newline cut when
 * `cut` (the caller frees it) */
static char *line_of(const change_check_t *ck, int cut)
{
    size_t n = change_check_format_json(ck, NULL, 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    change_check_format_json(ck, s, n + 1);
    if (cut && n && s[n - 1] == '\n')
        s[n - 1] = '\0';
    return s;
}

/* The check coord keeps for id is exactly ck's line, without its newline. */
static void assert_kept(coord_t *c, const char *id, const change_check_t *ck)
{
    char *want = line_of(ck, 1), *got = coord_check_json(c, id);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static coord_t *open_no_file(void)
{
    char err[256] = "";
    coord_t *c = coord_open(NULL, err, sizeof(err));
    assert_non_null(c);
    return c;
}

static void test_check_kept_and_replaced(void **state)
{
    (void)state;
    coord_t *c = open_no_file();
    change_t a = chg("CHG-1", "U-1"), b = chg("CHG-2", "U-2");
    change_check_t ca = check_of(&a, VERDICT_AS_DECLARED, "as declared");
    change_check_t cb = check_of(&b, VERDICT_UNVERIFIABLE, "too little traffic");
    coord_check(c, &ca);
    coord_check(c, &cb);
    assert_kept(c, "CHG-1", &ca);
    assert_kept(c, "CHG-2", &cb);
    /* judged again (a restart inside its slack): the latest replaces it */
    change_check_t ca2 = check_of(&a, VERDICT_DEVIATED, "x8 north");
    coord_check(c, &ca2);
    assert_kept(c, "CHG-1", &ca2);
    assert_kept(c, "CHG-2", &cb);
    coord_close(c);
}

static void test_unknown_id_is_null(void **state)
{
    (void)state;
    coord_t *c = open_no_file();
    assert_null(coord_check_json(c, "CHG-1"));
    change_t a = chg("CHG-1", "U-1");
    change_check_t ca = check_of(&a, VERDICT_AS_DECLARED, "ok");
    coord_check(c, &ca);
    assert_null(coord_check_json(c, "CHG-2"));
    assert_null(coord_check_json(c, "CHG-"));
    assert_null(coord_check_json(c, ""));
    assert_null(coord_check_json(NULL, "CHG-1"));
    coord_close(c);
}

/* Whether a check of change id is kept. */
static int has(coord_t *c, const char *id)
{
    char *s = coord_check_json(c, id);
    free(s);
    return s != NULL;
}

/* Past COORD_MAX_CHECKS changes the oldest goes, one for each new one; a
 * change judged again keeps its place. */
static void test_ring_drops_the_oldest(void **state)
{
    (void)state;
    log_set_level("error"); /* ten thousand info lines */
    coord_t *c = open_no_file();
    char id[32];
    change_t ch = chg("", "U-1");
    ch.id = id;
    change_check_t ck = check_of(&ch, VERDICT_AS_DECLARED, "ok");
    for (int i = 0; i < COORD_MAX_CHECKS; i++) {
        snprintf(id, sizeof(id), "CHG-%d", i);
        coord_check(c, &ck);
    }
    assert_true(has(c, "CHG-0")); /* full, nothing gone yet */
    /* CHG-1 judged again: replaced in place, still the second oldest */
    snprintf(id, sizeof(id), "CHG-1");
    ck.verdict = VERDICT_DEVIATED;
    coord_check(c, &ck);
    assert_kept(c, "CHG-1", &ck);
    ck.verdict = VERDICT_AS_DECLARED;
    const char *after[][2] = { { "CHG-0", "CHG-1" }, { "CHG-1", "CHG-2" } }; /* gone, next */
    for (int i = 0; i < 2; i++) {
        snprintf(id, sizeof(id), "CHG-%d", COORD_MAX_CHECKS + i);
        coord_check(c, &ck);
        assert_kept(c, id, &ck);
        assert_false(has(c, after[i][0]));
        assert_true(has(c, after[i][1]));
    }
    coord_close(c);
    log_set_level("info");
}

static void test_shares_before_and_after(void **state)
{
    (void)state;
    assert_true(coord_user_share(NULL, "U-1") < 0);
    coord_t *c = open_no_file();
    /* none set yet: unknown, not 0 */
    assert_true(coord_user_share(c, "U-1") < 0);
    coord_share_t v[] = { { "U-1", 0.25 }, { "U-2", 0.125 } };
    assert_int_equal(coord_set_shares(c, v, 2), SW_OK);
    assert_near(coord_user_share(c, "U-1"), 0.25, 0);
    assert_near(coord_user_share(c, "U-2"), 0.125, 0);
    /* known now: a User not among them has none */
    assert_near(coord_user_share(c, "U-3"), 0, 0);
    /* the next replace them whole */
    coord_share_t w[] = { { "U-2", 0.5 } };
    assert_int_equal(coord_set_shares(c, w, 1), SW_OK);
    assert_near(coord_user_share(c, "U-1"), 0, 0);
    assert_near(coord_user_share(c, "U-2"), 0.5, 0);
    /* none at all is still known */
    assert_int_equal(coord_set_shares(c, NULL, 0), SW_OK);
    assert_near(coord_user_share(c, "U-2"), 0, 0);
    coord_close(c);
}

/* The line goes to the file whole, with its newline; a long one too (past
 * the formatting buffer on the stack); after a reopen, to the new file. */
static void test_file_line_written(void **state)
{
    fx_t *fx = *state;
    char err[512] = "";
    coord_t *c = coord_open(fx->path, err, sizeof(err));
    assert_non_null(c);
    char *got = tu_slurp(fx->path);
    assert_string_equal(got, "");
    free(got);
    change_t a = chg("CHG-1", "U-1"), b = chg("CHG-2", "U-2");
    change_check_t ca = check_of(&a, VERDICT_AS_DECLARED, "as declared");
    char *big = tu_repeat("long ", "y", 6000, "");
    change_check_t cb = check_of(&b, VERDICT_DEVIATED, big);
    coord_check(c, &ca);
    coord_check(c, &cb);
    char *la = line_of(&ca, 0), *lb = line_of(&cb, 0);
    assert_true(strlen(lb) > 4096);
    got = tu_slurp(fx->path);
    size_t want_len = strlen(la) + strlen(lb);
    char *want = malloc(want_len + 1);
    assert_non_null(want);
    snprintf(want, want_len + 1, "%s%s", la, lb);
    assert_string_equal(got, want);
    free(got);
    assert_kept(c, "CHG-2", &cb);
    /* logrotate moved it */
    char moved[300];
    snprintf(moved, sizeof(moved), "%s.1", fx->path);
    assert_int_equal(rename(fx->path, moved), 0);
    coord_reopen(c);
    coord_check(c, &ca);
    got = tu_slurp(fx->path);
    assert_string_equal(got, la);
    free(got);
    got = tu_slurp(moved);
    assert_string_equal(got, want);
    free(got);
    coord_close(c);
    free(want);
    free(la);
    free(lb);
    free(big);
}

static void test_file_that_cannot_open(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(coord_open("/nonexistent-dir/checks.jsonl", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent-dir/checks.jsonl: "));
    coord_close(NULL);
    coord_reopen(NULL);
}

/* The log line of each verdict: a warning when it deviated. */
static void test_log_line(void **state)
{
    fx_t *fx = *state;
    char logpath[300];
    snprintf(logpath, sizeof(logpath), "%s/log.txt", fx->dir);
    coord_t *c = open_no_file();
    change_t a = chg("CHG-1", "U-1"), b = chg("CHG-2", "DCC");
    change_check_t ca = check_of(&a, VERDICT_AS_DECLARED, "as declared: x1.0");
    change_check_t cb = check_of(&b, VERDICT_DEVIATED, "x8 north, declared x1");
    log_set_format(LOG_TEXT);
    log_set_level("info");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    coord_check(c, &ca);
    coord_check(c, &cb);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(fd);
    close(saved);
    char *log = tu_slurp(logpath);
    assert_non_null(strstr(log, " info  change CHG-1 of U-1: as_declared: as declared: x1.0\n"));
    assert_non_null(strstr(log, " warn  change CHG-2 of DCC: deviated: x8 north, declared x1\n"));
    free(log);
    coord_close(c);
}

static void test_counted_by_verdict(void **state)
{
    (void)state;
    coord_stats_t st;
    coord_stats(NULL, &st);
    for (int v = 0; v < COORD_NVERDICTS; v++)
        assert_int_equal(st.by_verdict[v], 0);
    coord_t *c = open_no_file();
    change_t a = chg("CHG-1", "U-1"), b = chg("CHG-2", "U-2"), d = chg("CHG-3", "U-3");
    change_check_t ck[] = { check_of(&a, VERDICT_DEVIATED, "s"),
                            check_of(&b, VERDICT_DEVIATED, "s"),
                            check_of(&d, VERDICT_UNVERIFIABLE, "s"),
                            check_of(&a, VERDICT_DEVIATED, "again") };
    log_set_level("error");
    for (size_t i = 0; i < sizeof(ck) / sizeof(ck[0]); i++)
        coord_check(c, &ck[i]);
    log_set_level("info");
    coord_stats(c, &st);
    assert_int_equal(st.by_verdict[VERDICT_AS_DECLARED], 0);
    assert_int_equal(st.by_verdict[VERDICT_DEVIATED], 3); /* a check made again counts again */
    assert_int_equal(st.by_verdict[VERDICT_UNVERIFIABLE], 1);
    /* the metric, byte for byte as /metrics has always written it */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    coord_metrics_write(c, out);
    fclose(out);
    assert_string_equal(text,
                        "# HELP stormwatch_change_checks_total Declared changes judged once "
                        "their window ended, by verdict.\n"
                        "# TYPE stormwatch_change_checks_total counter\n"
                        "stormwatch_change_checks_total{verdict=\"as_declared\"} 0\n"
                        "stormwatch_change_checks_total{verdict=\"deviated\"} 3\n"
                        "stormwatch_change_checks_total{verdict=\"unverifiable\"} 1\n");
    free(text);
    coord_close(c);
}

/* Out of memory: nothing half kept, the count and the file go on; the
 * shares before stay. */
static void test_alloc_failure(void **state)
{
    fx_t *fx = *state;
    if (!allocfail_active())
        skip();
    char err[512] = "";
    allocfail_reset(0);
    assert_null(coord_open(NULL, err, sizeof(err)));
    allocfail_disarm();
    assert_string_equal(err, "out of memory");
    coord_t *c = coord_open(fx->path, err, sizeof(err));
    assert_non_null(c);
    change_t a = chg("CHG-1", "U-1");
    change_check_t ca = check_of(&a, VERDICT_AS_DECLARED, "ok");
    log_set_level("error");
    long made = 0;
    for (long k = 0;; k++) {
        char id[32];
        snprintf(id, sizeof(id), "CHG-%ld", k);
        a.id = id;
        allocfail_reset(k);
        coord_check(c, &ca);
        allocfail_disarm();
        long allocs = allocfail_count();
        char *s = coord_check_json(c, id);
        made++;
        if (allocs <= k) { /* nothing failed: kept */
            assert_non_null(s);
            free(s);
            break;
        }
        assert_null(s);
    }
    log_set_level("info");
    coord_stats_t st;
    coord_stats(c, &st);
    assert_int_equal(st.by_verdict[VERDICT_AS_DECLARED], made);
    char *got = tu_slurp(fx->path);
    long lines = 0;
    for (const char *p = got; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, made);
    free(got);

    /* a line too long for the stack that cannot be formatted: dropped
     * whole, neither kept, counted nor written */
    char *big = tu_repeat("long ", "y", 6000, "");
    change_t b = chg("CHG-big", "U-2");
    change_check_t cb = check_of(&b, VERDICT_DEVIATED, big);
    allocfail_reset(0);
    coord_check(c, &cb);
    allocfail_disarm();
    assert_null(coord_check_json(c, "CHG-big"));
    coord_stats(c, &st);
    assert_int_equal(st.by_verdict[VERDICT_DEVIATED], 0);
    got = tu_slurp(fx->path);
    assert_null(strstr(got, "CHG-big"));
    free(got);
    free(big);

    coord_share_t v[] = { { "U-1", 0.25 } }, w[] = { { "U-1", 0.5 } };
    allocfail_reset(0);
    assert_int_equal(coord_set_shares(c, v, 1), SW_ENOMEM);
    allocfail_disarm();
    assert_true(coord_user_share(c, "U-1") < 0); /* still none known */
    assert_int_equal(coord_set_shares(c, v, 1), SW_OK);
    allocfail_reset(0);
    assert_int_equal(coord_set_shares(c, w, 1), SW_ENOMEM);
    allocfail_disarm();
    assert_near(coord_user_share(c, "U-1"), 0.25, 0);
    coord_close(c);
}

/* ---- threads ---------------------------------------------------------------- */

#define RACE_CHECKS 3000
#define RACE_READERS 2

typedef struct {
    coord_t *c;
    atomic_int ready, done; /* readers running; the writer finished */
    atomic_long wrong;              /* what a reader found amiss */
} race_t;

/* The alert thread: checks of changes CHG-0.., and U-1's share growing. */
static void *race_writer(void *arg)
{
    race_t *r = arg;
    char id[32];
    change_t ch = chg("", "U-1");
    ch.id = id;
    change_check_t ck = check_of(&ch, VERDICT_AS_DECLARED, "ok");
    while (atomic_load(&r->ready) < RACE_READERS) /* they start in microseconds */
        sched_yield();
    for (int i = 0; i < RACE_CHECKS; i++) {
        snprintf(id, sizeof(id), "CHG-%d", i % (RACE_CHECKS / 3)); /* some judged again */
        ck.verdict = (verdict_t)(i % COORD_NVERDICTS);
        coord_check(r->c, &ck);
        if (i % 10 == 0) {
            coord_share_t v[] = { { "U-0", 0.01 }, { "U-1", (double)i / RACE_CHECKS } };
            coord_set_shares(r->c, v, 2);
        }
    }
    atomic_store(&r->done, 1);
    return NULL;
}

/* An HTTP thread: a check found is the one asked for; U-1's share never
 * goes back. */
static void *race_reader(void *arg)
{
    race_t *r = arg;
    double last = -1;
    atomic_fetch_add(&r->ready, 1);
    for (unsigned i = 0; !atomic_load(&r->done); i++) {
        char id[32], want[48];
        snprintf(id, sizeof(id), "CHG-%u", i % (RACE_CHECKS / 3));
        snprintf(want, sizeof(want), "{\"change\":\"%s\",", id);
        char *s = coord_check_json(r->c, id);
        if (s && strncmp(s, want, strlen(want)) != 0)
            atomic_fetch_add(&r->wrong, 1);
        free(s);
        double share = coord_user_share(r->c, "U-1");
        if (share < last)
            atomic_fetch_add(&r->wrong, 1);
        last = share;
    }
    return NULL;
}

static void test_writer_and_readers(void **state)
{
    (void)state;
    log_set_level("error");
    race_t r = { .c = open_no_file() };
    pthread_t w, rd[RACE_READERS];
    for (int i = 0; i < RACE_READERS; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, race_reader, &r), 0);
    assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
    coord_stats_t st;
    while (!atomic_load(&r.done))
        coord_stats(r.c, &st); /* a scrape of /metrics meanwhile */
    pthread_join(w, NULL);
    for (int i = 0; i < RACE_READERS; i++)
        pthread_join(rd[i], NULL);
    log_set_level("info");
    assert_int_equal(atomic_load(&r.wrong), 0);
    coord_stats(r.c, &st);
    uint64_t total = 0;
    for (int v = 0; v < COORD_NVERDICTS; v++)
        total += st.by_verdict[v];
    assert_int_equal(total, RACE_CHECKS);
    for (int i = 0; i < RACE_CHECKS / 3; i++) { /* every change's last check kept */
        char id[32];
        snprintf(id, sizeof(id), "CHG-%d", i);
        char *s = coord_check_json(r.c, id);
        assert_non_null(s);
        free(s);
    }
    coord_close(r.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_kept_and_replaced),
        cmocka_unit_test(test_unknown_id_is_null),
        cmocka_unit_test(test_ring_drops_the_oldest),
        cmocka_unit_test(test_shares_before_and_after),
        cmocka_unit_test_setup_teardown(test_file_line_written, setup, teardown),
        cmocka_unit_test(test_file_that_cannot_open),
        cmocka_unit_test_setup_teardown(test_log_line, setup, teardown),
        cmocka_unit_test(test_counted_by_verdict),
        cmocka_unit_test_setup_teardown(test_alloc_failure, setup, teardown),
        cmocka_unit_test(test_writer_and_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
