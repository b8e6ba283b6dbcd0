/*
 * test_conflict.c - the conflicts of a planned change (core/conflict):
 * each type fires, and does not at its edges (touching windows, the other
 * direction, another User, a small User, no share function); the output's
 * order and bound; the index gives what the plain scan gives; the cost.
 *
 * Linked with the allocation-failure wrappers (tests/CMakeLists.txt), so
 * the busy-hour sweep's allocations fail in turn too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "allocfail.h"
#include "testutil.h"

#include "changes.h"
#include "conflict.h"
#include "err.h"
#include "timefmt.h"

#define MAXK 16

static int64_t t(const char *s)
{
    int64_t ns;
    assert_int_equal(tf_parse_rfc3339(s, &ns), 0);
    return ns;
}

/* A change on 2019-09-12 from HH:MM to HH:MM (UTC). */
static change_t at(const char *id, const char *user, const char *from, const char *to,
                   unsigned affects)
{
    char a[32], b[32];
    snprintf(a, sizeof(a), "2019-09-12T%s:00Z", from);
    snprintf(b, sizeof(b), "2019-09-12T%s:00Z", to);
    return (change_t){ .id = (char *)id, .user = (char *)user, .start = t(a), .end = t(b),
                       .affects = affects ? affects : CHG_BOTH };
}

static void add(changes_t *reg, change_t c)
{
    assert_int_equal(changes_add(reg, &c), 0);
}

/* Shares: BIG* hold 20%, EDGE exactly 10%, SMALL 9.99%, others unknown;
 * DCC half, as a share function that knows nothing of DCC might say: DCC
 * work is never counted as a User's anyway. */
typedef struct {
    int calls;
    char asked[8][32];
} share_log_t;

static double share_of(void *ctx, const char *user)
{
    share_log_t *log = ctx;
    if (log) {
        if (log->calls < 8)
            snprintf(log->asked[log->calls], sizeof(log->asked[0]), "%s", user);
        log->calls++;
    }
    if (!strncmp(user, "BIG", 3))
        return 0.2;
    if (!strcmp(user, "DCC"))
        return 0.5;
    if (!strcmp(user, "EDGE"))
        return CONFLICT_LARGE_SHARE;
    if (!strcmp(user, "SMALL"))
        return 0.0999;
    return -1;
}

/* The same n conflicts (of which out holds MAXK at most) in a and b. */
static void assert_same(const conflict_t *a, const conflict_t *b, size_t n)
{
    for (size_t i = 0; i < n && i < MAXK; i++) {
        assert_int_equal(a[i].type, b[i].type);
        assert_ptr_equal(a[i].with, b[i].with);
        assert_true(a[i].from == b[i].from && a[i].to == b[i].to);
        assert_int_equal(a[i].nusers, b[i].nusers);
    }
}

/* The conflicts of c (by id, from reg) with the index and without; both
 * must agree. Returns how many, with them in out. */
static size_t find(const changes_t *reg, const change_t *c, conflict_share_fn share, void *ctx,
                   conflict_t *out)
{
    size_t n = 0, n2 = 0;
    conflict_t out2[MAXK];
    assert_int_equal(conflicts_find(reg, c, share, ctx, out, MAXK, &n), 0);
    conflict_index_t *ix = conflict_index_create(reg, share, ctx);
    assert_non_null(ix);
    assert_int_equal(conflict_index_find(ix, c, out2, MAXK, &n2), 0);
    conflict_index_destroy(ix);
    assert_int_equal(n, n2);
    assert_same(out, out2, n);
    return n;
}

static const char *msg(const conflict_t *k, const change_t *c)
{
    static char buf[512];
    return conflict_message(k, c, buf, sizeof(buf));
}

/* ---- maintenance ---- */

static void test_maintenance(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    add(reg, at("CHG-0110", "DCC", "06:20", "06:40", 0));
    add(reg, at("CHG-0412", "U1", "06:30", "07:00", CHG_NORTH));
    add(reg, at("CHG-0413", "U2", "06:00", "06:20", 0)); /* ends as the DCC work starts */
    add(reg, at("CHG-0414", "U3", "06:40", "07:00", 0)); /* starts as it ends */
    conflict_t out[MAXK];

    /* a User's change overlapping DCC work, in another direction too */
    const change_t *c = changes_find(reg, "CHG-0412");
    assert_int_equal(find(reg, c, NULL, NULL, out), 1);
    assert_int_equal(out[0].type, CONFLICT_MAINTENANCE);
    assert_string_equal(out[0].with->id, "CHG-0110");
    assert_true(out[0].from == t("2019-09-12T06:30:00Z") && out[0].to == t("2019-09-12T06:40:00Z"));
    assert_string_equal(msg(&out[0], c), "overlaps DCC Planned Maintenance CHG-0110 "
                                         "(2019-09-12T06:20:00Z..06:40:00Z)");
    assert_string_equal(conflict_type_name(out[0].type), "maintenance");

    /* touching windows do not overlap, either way */
    assert_int_equal(find(reg, changes_find(reg, "CHG-0413"), NULL, NULL, out), 0);
    assert_int_equal(find(reg, changes_find(reg, "CHG-0414"), NULL, NULL, out), 0);

    /* DCC work reports the User changes it overlaps */
    c = changes_find(reg, "CHG-0110");
    assert_int_equal(find(reg, c, NULL, NULL, out), 1);
    assert_string_equal(out[0].with->id, "CHG-0412");
    assert_string_equal(msg(&out[0], c),
                        "overlaps CHG-0412 of User U1 (2019-09-12T06:30:00Z..07:00:00Z)");

    /* a change not in the register yet (checked before it is added) */
    change_t fresh = at("NEW", "U9", "06:39", "06:41", CHG_SOUTH);
    assert_int_equal(find(reg, &fresh, NULL, NULL, out), 1);
    assert_string_equal(out[0].with->id, "CHG-0110");
    changes_destroy(reg);
}

static void test_maintenance_instants_and_days(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    add(reg, at("DCC-I", "DCC", "06:30", "06:30", 0)); /* an instant inside U1's window */
    add(reg, at("DCC-E", "DCC", "07:00", "07:00", 0)); /* an instant at its end */
    add(reg, at("CHG-1", "U1", "06:00", "07:00", 0));
    change_t night = { .id = "CHG-2", .user = "U2", .start = t("2019-09-12T23:00:00Z"),
                       .end = t("2019-09-13T01:00:00.500Z"), .affects = CHG_BOTH };
    add(reg, night);
    change_t dcc_night = { .id = "DCC-N", .user = "DCC", .start = t("2019-09-12T22:00:00Z"),
                           .end = t("2019-09-13T00:30:00Z"), .affects = CHG_BOTH };
    add(reg, dcc_night);
    conflict_t out[MAXK];
    assert_int_equal(find(reg, changes_find(reg, "CHG-1"), NULL, NULL, out), 1);
    assert_string_equal(out[0].with->id, "DCC-I");
    /* a window across midnight shows both dates, milliseconds too */
    const change_t *c = changes_find(reg, "DCC-N");
    assert_int_equal(find(reg, c, NULL, NULL, out), 1);
    assert_string_equal(msg(&out[0], c), "overlaps CHG-2 of User U2 "
                                         "(2019-09-12T23:00:00Z..2019-09-13T01:00:00.500Z)");
    changes_destroy(reg);
}

/* ---- same User ---- */

static void test_same_user(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    add(reg, at("A", "U1", "09:00", "11:00", CHG_NORTH));
    add(reg, at("B", "U1", "10:00", "12:00", CHG_BOTH));  /* shares north */
    add(reg, at("C", "U1", "10:00", "12:00", CHG_SOUTH)); /* the other direction */
    add(reg, at("D", "U2", "10:00", "12:00", CHG_NORTH)); /* another User */
    add(reg, at("E", "U1", "11:00", "12:00", CHG_NORTH)); /* starts as A ends */
    add(reg, at("F", "U1", "08:00", "09:00", CHG_NORTH)); /* ends as A starts */
    conflict_t out[MAXK];
    const change_t *a = changes_find(reg, "A");
    assert_int_equal(find(reg, a, NULL, NULL, out), 1);
    assert_int_equal(out[0].type, CONFLICT_SAME_USER);
    assert_string_equal(out[0].with->id, "B");
    assert_string_equal(conflict_type_name(out[0].type), "same_user");
    assert_string_equal(msg(&out[0], a), "overlaps B of the same User, also affecting north "
                                         "(2019-09-12T10:00:00Z..12:00:00Z)");
    /* both directions shared */
    const change_t *b = changes_find(reg, "B");
    assert_int_equal(find(reg, b, NULL, NULL, out), 3); /* A, C, E */
    assert_string_equal(out[0].with->id, "A");
    assert_string_equal(out[1].with->id, "C");
    assert_string_equal(msg(&out[1], b), "overlaps C of the same User, also affecting south "
                                         "(2019-09-12T10:00:00Z..12:00:00Z)");
    assert_string_equal(out[2].with->id, "E");
    /* two DCC windows at once are one User's (the DSP's) too */
    add(reg, at("M1", "DCC", "09:00", "10:00", 0));
    add(reg, at("M2", "DCC", "09:30", "10:30", 0));
    const change_t *m1 = changes_find(reg, "M1");
    assert_int_equal(find(reg, m1, NULL, NULL, out), 2);
    assert_int_equal(out[0].type, CONFLICT_MAINTENANCE); /* A, a User's */
    assert_int_equal(out[1].type, CONFLICT_SAME_USER);
    assert_string_equal(out[1].with->id, "M2");
    assert_string_equal(msg(&out[1], m1), "overlaps other DCC Planned Maintenance M2, also "
                                          "affecting both directions "
                                          "(2019-09-12T09:30:00Z..10:30:00Z)");
    changes_destroy(reg);
}

/* ---- busy hours ---- */

static void test_busy_hour(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    add(reg, at("C", "BIG1", "09:00", "09:30", 0));
    add(reg, at("O", "BIG2", "09:50", "10:00", 0)); /* same hour, no overlap with C */
    conflict_t out[MAXK];
    share_log_t log = { 0 };
    const change_t *c = changes_find(reg, "C");
    assert_int_equal(find(reg, c, share_of, &log, out), 1);
    assert_int_equal(out[0].type, CONFLICT_BUSY_HOUR);
    assert_null(out[0].with);
    assert_true(out[0].from == t("2019-09-12T09:00:00Z") && out[0].to == t("2019-09-12T10:00:00Z"));
    assert_int_equal(out[0].nusers, 2);
    assert_string_equal(out[0].users[0], "BIG1");
    assert_string_equal(out[0].users[1], "BIG2");
    assert_string_equal(conflict_type_name(out[0].type), "busy_hour");
    assert_string_equal(msg(&out[0], c), "in a busy hour (2019-09-12T09:00:00Z..10:00:00Z), "
                                         "2 large Users have changes in force: BIG1, BIG2");
    /* each User's share asked once a query (find() queries twice) */
    assert_int_equal(log.calls, 4);

    /* no share function: no busy-hour check */
    assert_int_equal(find(reg, c, NULL, NULL, out), 0);
    /* DCC work alone in its hours: no User to count */
    change_t lone = at("M", "DCC", "03:00", "04:00", 0);
    assert_int_equal(find(reg, &lone, share_of, NULL, out), 0);
    changes_destroy(reg);

    /* the next hour is another hour: a change from 10:00 is not in force in 09:xx */
    reg = changes_create();
    add(reg, at("C", "BIG1", "09:00", "10:00", 0));
    add(reg, at("O", "BIG2", "10:00", "11:00", 0));
    assert_int_equal(find(reg, changes_find(reg, "C"), share_of, NULL, out), 0);
    assert_int_equal(find(reg, changes_find(reg, "O"), share_of, NULL, out), 0);
    changes_destroy(reg);
}

static void test_busy_hour_large_users(void **state)
{
    (void)state;
    conflict_t out[MAXK];
    /* exactly a tenth is large; just under it, or unknown, is not */
    static const struct {
        const char *other;
        size_t want;
    } cases[] = { { "EDGE", 1 }, { "SMALL", 0 }, { "U-UNKNOWN", 0 }, { "DCC", 0 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        changes_t *reg = changes_create();
        add(reg, at("C", "BIG1", "09:00", "09:30", 0));
        add(reg, at("O", cases[i].other, "09:40", "09:50", 0));
        size_t got = find(reg, changes_find(reg, "C"), share_of, NULL, out);
        if (got != cases[i].want)
            fail_msg("%s: %zu busy hours, want %zu", cases[i].other, got, cases[i].want);
        changes_destroy(reg);
    }
    /* c's own User small: the hour is still busy with two large others */
    changes_t *reg = changes_create();
    add(reg, at("C", "SMALL", "09:00", "09:10", 0));
    add(reg, at("X", "BIG1", "09:20", "09:30", 0));
    add(reg, at("Y", "BIG2", "09:40", "09:50", 0));
    add(reg, at("Z", "BIG2", "09:45", "09:55", 0)); /* one User counts once */
    assert_int_equal(find(reg, changes_find(reg, "C"), share_of, NULL, out), 1);
    assert_int_equal(out[0].nusers, 2);
    assert_string_equal(out[0].users[0], "BIG1");
    assert_string_equal(out[0].users[1], "BIG2");
    /* ... but one large User twice is not two */
    changes_remove(reg, "X");
    assert_int_equal(find(reg, changes_find(reg, "C"), share_of, NULL, out), 0);
    changes_destroy(reg);

    /* DCC work is no User: one large User beside it is not busy, two are */
    reg = changes_create();
    add(reg, at("M", "DCC", "09:00", "09:10", 0));
    add(reg, at("X", "BIG1", "09:20", "09:30", 0));
    assert_int_equal(find(reg, changes_find(reg, "M"), share_of, NULL, out), 0);
    add(reg, at("Y", "BIG2", "09:40", "09:50", 0));
    assert_int_equal(find(reg, changes_find(reg, "M"), share_of, NULL, out), 1);
    assert_int_equal(out[0].type, CONFLICT_BUSY_HOUR);
    assert_int_equal(out[0].nusers, 2);
    changes_destroy(reg);
}

static void test_busy_hours_join_and_split(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    add(reg, at("C", "BIG1", "09:00", "12:00", 0));
    add(reg, at("O", "BIG2", "09:30", "11:30", 0));
    conflict_t out[MAXK];
    const change_t *c = changes_find(reg, "C");
    /* the same two Users for three hours: one conflict */
    assert_int_equal(find(reg, c, share_of, NULL, out), 1);
    assert_true(out[0].from == t("2019-09-12T09:00:00Z") && out[0].to == t("2019-09-12T12:00:00Z"));
    assert_string_equal(msg(&out[0], c), "in busy hours (2019-09-12T09:00:00Z..12:00:00Z), "
                                         "2 large Users have changes in force: BIG1, BIG2");
    /* a third User in the middle hour splits it in three */
    add(reg, at("P", "BIG3", "10:00", "10:30", 0));
    c = changes_find(reg, "C");
    assert_int_equal(find(reg, c, share_of, NULL, out), 3);
    assert_true(out[0].to == t("2019-09-12T10:00:00Z") && out[0].nusers == 2);
    assert_true(out[1].from == t("2019-09-12T10:00:00Z") && out[1].nusers == 3);
    assert_string_equal(out[1].users[2], "BIG3");
    assert_true(out[2].from == t("2019-09-12T11:00:00Z") && out[2].nusers == 2);
    /* back to back changes of one User keep a run whole */
    changes_remove(reg, "P");
    changes_remove(reg, "O");
    add(reg, at("O1", "BIG2", "09:00", "10:00", 0));
    add(reg, at("O2", "BIG2", "10:00", "12:00", 0));
    c = changes_find(reg, "C");
    assert_int_equal(find(reg, c, share_of, NULL, out), 1);
    assert_true(out[0].from == t("2019-09-12T09:00:00Z") && out[0].to == t("2019-09-12T12:00:00Z"));
    changes_destroy(reg);
}

static void test_busy_hour_lists_at_most(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    char ids[CONFLICT_MAX_USERS + 2][16], users[CONFLICT_MAX_USERS + 2][16];
    for (int i = 0; i < CONFLICT_MAX_USERS + 2; i++) {
        snprintf(ids[i], sizeof(ids[i]), "C%02d", i);
        snprintf(users[i], sizeof(users[i]), "BIG%02d", i);
        add(reg, at(ids[i], users[i], "09:00", "09:30", 0));
    }
    conflict_t out[MAXK];
    const change_t *c = changes_find(reg, "C00");
    assert_int_equal(find(reg, c, share_of, NULL, out), 1);
    assert_int_equal(out[0].nusers, CONFLICT_MAX_USERS + 2);
    assert_string_equal(out[0].users[CONFLICT_MAX_USERS - 1], "BIG09");
    const char *m = msg(&out[0], c);
    assert_non_null(strstr(m, "12 large Users have changes in force: BIG00, BIG01,"));
    assert_non_null(strstr(m, "BIG09, ..."));
    changes_destroy(reg);
}

/* ---- the output ---- */

static void test_order_and_bound(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    /* added latest first: the output is sorted by start, then id */
    add(reg, at("U5", "U5", "09:50", "10:30", 0));
    add(reg, at("U4", "U4", "09:40", "10:30", 0));
    add(reg, at("U3b", "U3", "09:30", "10:30", 0));
    add(reg, at("U3a", "U3", "09:30", "10:30", 0));
    add(reg, at("U1", "U1", "09:10", "10:30", 0));
    add(reg, at("M", "DCC", "09:00", "10:00", 0));
    conflict_t out[MAXK];
    const change_t *m = changes_find(reg, "M");
    size_t n = 0;
    assert_int_equal(conflicts_find(reg, m, NULL, NULL, out, 3, &n), 0);
    assert_int_equal(n, 5);
    assert_string_equal(out[0].with->id, "U1");
    assert_string_equal(out[1].with->id, "U3a");
    assert_string_equal(out[2].with->id, "U3b");
    /* no room at all: still counted */
    assert_int_equal(conflicts_find(reg, m, NULL, NULL, NULL, 0, &n), 0);
    assert_int_equal(n, 5);
    /* a change with itself: its own id is skipped, in or out of the register */
    change_t copy = *m;
    assert_int_equal(conflicts_find(reg, &copy, NULL, NULL, out, MAXK, &n), 0);
    assert_int_equal(n, 5);
    changes_destroy(reg);
}

/* ---- the index agrees with the scan, and the scan stays linear ---- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_index_agrees(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    static const char *const users[] = { "DCC", "BIG1", "BIG2", "BIG3", "SMALL", "EDGE", "U7" };
    int64_t base = t("2019-09-12T00:00:00Z");
    for (int i = 0; i < 3000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "C%04d", i);
        int64_t start = base + (int64_t)(next_rand() % (14 * 24 * 60)) * 60 * SEC;
        /* mostly short, some of days; some instants */
        uint64_t r = next_rand() % 100;
        int64_t len = r < 5 ? 0 : r < 90 ? (int64_t)(next_rand() % 240) * 60 * SEC
                                          : (int64_t)(next_rand() % (5 * 24)) * 3600 * SEC;
        change_t c = { .id = id, .user = (char *)users[next_rand() % 7], .start = start,
                       .end = start + len, .affects = (unsigned)(next_rand() % 3) + 1 };
        add(reg, c);
    }
    conflict_index_t *ix = conflict_index_create(reg, share_of, NULL);
    assert_non_null(ix);
    size_t total = 0;
    for (size_t i = 0; i < changes_count(reg); i++) {
        const change_t *c = changes_get(reg, i);
        conflict_t a[MAXK], b[MAXK];
        size_t na, nb;
        assert_int_equal(conflicts_find(reg, c, share_of, NULL, a, MAXK, &na), 0);
        assert_int_equal(conflict_index_find(ix, c, b, MAXK, &nb), 0);
        assert_int_equal(na, nb);
        assert_same(a, b, na);
        total += na;
    }
    assert_true(total > 1000); /* the register does collide */
    conflict_index_destroy(ix);
    conflict_index_destroy(NULL);
    changes_destroy(reg);
}

/* A schedule of 10 000 changes: the plain scan compares strings in
 * proportion to the register (linear), and the index to the changes near
 * each query only. strcmp is counted by the test's wrappers. */
static void test_cost(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    int64_t base = t("2019-09-12T00:00:00Z");
    for (int i = 0; i < 10000; i++) {
        char id[16], user[16];
        snprintf(id, sizeof(id), "C%05d", i);
        snprintf(user, sizeof(user), "U%03d", i % 500);
        /* one change an hour apart each, an hour long: none overlap in time */
        change_t c = { .id = id, .user = user, .start = base + (int64_t)i * 3600 * SEC,
                       .end = base + (int64_t)i * 3600 * SEC + 1800 * SEC,
                       .affects = CHG_BOTH };
        add(reg, c);
    }
    const change_t *c = changes_get(reg, 5000);
    conflict_t out[MAXK];
    size_t n;
    strcmp_count_reset();
    assert_int_equal(conflicts_find(reg, c, share_of, NULL, out, MAXK, &n), 0);
    long scan = strcmp_count();
    assert_int_equal(n, 0);
    if (allocfail_active())
        assert_true(scan <= 2 * 10000 + 100); /* an id compare a change, and a few */
    conflict_index_t *ix = conflict_index_create(reg, share_of, NULL);
    strcmp_count_reset();
    for (size_t i = 0; i < changes_count(reg); i++)
        assert_int_equal(conflict_index_find(ix, changes_get(reg, i), out, MAXK, &n), 0);
    long indexed = strcmp_count();
    if (allocfail_active())
        assert_true(indexed <= 10000 * 100); /* a day's changes around each, not 10 000 */
    conflict_index_destroy(ix);
    changes_destroy(reg);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    changes_t *reg = changes_create();
    add(reg, at("C", "BIG1", "09:00", "09:30", 0));
    add(reg, at("O", "BIG2", "09:50", "10:00", 0));
    add(reg, at("M", "DCC", "09:00", "10:00", 0));
    const change_t *c = changes_find(reg, "C");
    conflict_t out[MAXK];
    for (long k = 0;; k++) {
        size_t n = 99;
        allocfail_reset(k);
        int rc = conflicts_find(reg, c, share_of, NULL, out, MAXK, &n);
        allocfail_disarm();
        if (allocfail_count() <= k) {
            assert_int_equal(rc, 0);
            assert_int_equal(n, 2);
            break;
        }
        assert_int_equal(rc, SW_ENOMEM);
        assert_int_equal(n, 0);
    }
    allocfail_reset(0);
    assert_null(conflict_index_create(reg, share_of, NULL));
    allocfail_reset(1);
    assert_null(conflict_index_create(reg, share_of, NULL));
    allocfail_disarm();
    changes_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maintenance),
        cmocka_unit_test(test_maintenance_instants_and_days),
        cmocka_unit_test(test_same_user),
        cmocka_unit_test(test_busy_hour),
        cmocka_unit_test(test_busy_hour_large_users),
        cmocka_unit_test(test_busy_hours_join_and_split),
        cmocka_unit_test(test_busy_hour_lists_at_most),
        cmocka_unit_test(test_order_and_bound),
        cmocka_unit_test(test_index_agrees),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
