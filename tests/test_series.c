/*
 * test_series.c - tests of the User and series tables (core/series.h).
 *
 * Interning: the same key gives the same index, any difference in user,
 * direction or class gives a new one; 100k series stay distinct and keep
 * their indices across growth of the arrays, the indexes and the arena.
 * A new User gets two aggregates (south, north) and one call of
 * params_for; strings are NUL-terminated copies, not pointers into the
 * caller's buffer. Every table is destroyed at the end of its test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "series.h"

/* Counts calls of params_for and returns a params block per User. */
typedef struct {
    int calls;
    detect_params_t params[2];
    char last_user[64];
    size_t last_len;
    int last_nul_terminated;
} ctx_t;

static const detect_params_t *params_for(void *vctx, const char *user, size_t len)
{
    ctx_t *c = vctx;
    c->calls++;
    c->last_len = len;
    c->last_nul_terminated = user[len] == '\0';
    snprintf(c->last_user, sizeof(c->last_user), "%.*s", (int)len, user);
    /* Users whose id starts with 'B' get the second block */
    return &c->params[user[0] == 'B'];
}

static int64_t intern(series_table_t *t, const char *user, int dir, const char *cls, ctx_t *c)
{
    return st_intern(t, user, strlen(user), dir, cls, strlen(cls), params_for, c);
}

static void test_create_destroy(void **state)
{
    (void)state;
    series_table_t *t = st_create();
    assert_non_null(t);
    assert_int_equal(st_nseries(t), 0);
    assert_int_equal(st_nusers(t), 0);
    assert_int_equal(st_naggs(t), 0);
    st_destroy(t);
    st_destroy(NULL);
}

static void test_same_key_same_index(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    int64_t a = intern(t, "90-B3-D5-1F-30-01-00-0A", 1, "alerts", &c);
    assert_true(a >= 0);
    int64_t b = intern(t, "90-B3-D5-1F-30-01-00-0A", 1, "alerts", &c);
    assert_true(a == b);
    assert_int_equal(st_nseries(t), 1);
    assert_int_equal(st_nusers(t), 1);
    assert_int_equal(c.calls, 1);
    st_destroy(t);
}

static void test_different_user_dir_class(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    int64_t base = intern(t, "U1", 0, "reads", &c);
    int64_t other_dir = intern(t, "U1", 1, "reads", &c);
    int64_t other_cls = intern(t, "U1", 0, "writes", &c);
    int64_t other_user = intern(t, "U2", 0, "reads", &c);
    int64_t prefix_user = intern(t, "U", 0, "reads", &c);     /* a prefix of U1 */
    int64_t longer_cls = intern(t, "U1", 0, "reads2", &c);    /* extends the class */
    int64_t empty_cls = intern(t, "U1", 0, "", &c);
    int64_t ids[] = { base, other_dir, other_cls, other_user, prefix_user, longer_cls, empty_cls };
    size_t n = sizeof(ids) / sizeof(ids[0]);
    for (size_t i = 0; i < n; i++) {
        assert_true(ids[i] >= 0);
        assert_true(ids[i] == (int64_t)i); /* dense, in creation order */
        for (size_t j = 0; j < i; j++)
            assert_true(ids[i] != ids[j]);
    }
    assert_int_equal(st_nseries(t), n);
    assert_int_equal(st_nusers(t), 3);
    assert_int_equal(st_naggs(t), 4); /* U1 both ways, U2 and U southbound only */
    assert_int_equal(c.calls, 3);

    const series_t *s = st_series(t, (uint32_t)other_dir);
    assert_int_equal(s->dir, 1);
    assert_string_equal(s->cls, "reads");
    assert_int_equal(s->cls_len, 5);
    assert_string_equal(st_user(t, s->user)->name, "U1");
    assert_string_equal(st_series(t, (uint32_t)empty_cls)->cls, "");
    /* the lookups again, in another order, give the same indices */
    assert_true(intern(t, "U", 0, "reads", &c) == prefix_user);
    assert_true(intern(t, "U1", 0, "", &c) == empty_cls);
    assert_true(intern(t, "U1", 1, "reads", &c) == other_dir);
    assert_true(intern(t, "U1", 0, "reads", &c) == base);
    assert_int_equal(st_nseries(t), n);
    st_destroy(t);
}

/* Each User has an aggregate per direction it has series in, that they point to. */
static void test_users_and_aggregates(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    int64_t s0 = intern(t, "A-user", 0, "all", &c);
    int64_t s1 = intern(t, "A-user", 1, "alerts", &c);
    int64_t s2 = intern(t, "B-user", 1, "alerts", &c);
    int64_t s3 = intern(t, "A-user", 1, "responses", &c);
    assert_true(s0 >= 0 && s1 >= 0 && s2 >= 0 && s3 >= 0);
    assert_int_equal(st_nusers(t), 2);
    assert_int_equal(st_naggs(t), 3); /* B-user has no southbound series: no aggregate */
    assert_int_equal(c.calls, 2);

    for (uint32_t u = 0; u < st_nusers(t); u++) {
        const user_t *us = st_user(t, u);
        for (int d = 0; d < 2; d++) {
            if (us->agg[d] == ST_NO_AGG)
                continue;
            const agg_t *g = st_agg(t, us->agg[d]);
            assert_int_equal(g->user, u);
            assert_int_equal(g->dir, d);
        }
        assert_true(us->agg[0] != us->agg[1]);
    }
    assert_int_equal(st_user(t, 1)->agg[0], ST_NO_AGG);
    const series_t *a0 = st_series(t, (uint32_t)s0), *a1 = st_series(t, (uint32_t)s1);
    const series_t *b1 = st_series(t, (uint32_t)s2), *a3 = st_series(t, (uint32_t)s3);
    assert_int_equal(a0->user, a1->user);
    assert_int_equal(a1->user, a3->user);
    assert_true(a0->user != b1->user);
    assert_int_equal(a0->agg, st_user(t, a0->user)->agg[0]);
    assert_int_equal(a1->agg, st_user(t, a1->user)->agg[1]);
    assert_int_equal(a1->agg, a3->agg); /* same User, same dir: one aggregate */
    assert_true(a1->agg != b1->agg);
    assert_int_equal(st_agg(t, b1->agg)->dir, 1);

    /* params come from params_for, once per User */
    assert_ptr_equal(st_user(t, a0->user)->params, &c.params[0]);
    assert_ptr_equal(st_user(t, b1->user)->params, &c.params[1]);
    /* the new series starts blank */
    assert_int_equal(a1->seen, 0);
    assert_int_equal(a1->alert, 0);
    assert_true(a1->base.rate == 0.0);
    assert_int_equal(a1->storm.state, LIFE_OK);
    st_destroy(t);
}

/* params_for sees the User's id, NUL-terminated, once per new User. */
static void test_params_for_called_once_per_user(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    const char raw[] = "B-42xyz"; /* the User id is the first 4 bytes */
    assert_true(st_intern(t, raw, 4, 1, "c1", 2, params_for, &c) >= 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.last_len, 4);
    assert_true(c.last_nul_terminated);
    assert_string_equal(c.last_user, "B-42");
    for (int k = 0; k < 10; k++) {
        char cls[16];
        snprintf(cls, sizeof(cls), "c%d", k);
        assert_true(intern(t, "B-42", k % 2, cls, &c) >= 0);
    }
    assert_int_equal(c.calls, 1);
    assert_true(intern(t, "B-43", 0, "c1", &c) >= 0);
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.last_user, "B-43");

    /* rebind asks again for every User */
    c.calls = 0;
    st_rebind(t, params_for, &c);
    assert_int_equal(c.calls, 2);
    st_destroy(t);
}

/* Strings are copies: changing the caller's buffer changes nothing. */
static void test_strings_are_copies(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    char user[] = "USER-0001,extra";
    char cls[] = "alerts tail";
    int64_t i = st_intern(t, user, 9, 1, cls, 6, params_for, &c);
    assert_true(i >= 0);
    const series_t *s = st_series(t, (uint32_t)i);
    const user_t *u = st_user(t, s->user);
    assert_ptr_not_equal(u->name, user);
    assert_ptr_not_equal(s->cls, cls);
    memset(user, 'X', sizeof(user) - 1);
    memset(cls, 'Y', sizeof(cls) - 1);
    assert_string_equal(u->name, "USER-0001"); /* NUL-terminated at len */
    assert_int_equal(u->len, 9);
    assert_string_equal(s->cls, "alerts");
    assert_int_equal(s->cls_len, 6);
    /* and still found by content */
    assert_true(intern(t, "USER-0001", 1, "alerts", &c) == i);
    st_destroy(t);
}

/* Keys with embedded NULs and long ids are compared by length and bytes. */
static void test_binary_and_long_keys(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    static const char a[] = { 'U', '\0', 'x' }, b[] = { 'U', '\0', 'y' };
    int64_t ia = st_intern(t, a, 3, 0, "k", 1, params_for, &c);
    int64_t ib = st_intern(t, b, 3, 0, "k", 1, params_for, &c);
    assert_true(ia >= 0 && ib >= 0 && ia != ib);
    assert_int_equal(st_nusers(t), 2);

    /* a User id longer than an arena chunk */
    size_t len = 100 * 1024;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, 'q', len);
    int64_t ibig = st_intern(t, big, len, 1, "all", 3, params_for, &c);
    assert_true(ibig >= 0);
    big[len - 1] = 'r';
    int64_t ibig2 = st_intern(t, big, len, 1, "all", 3, params_for, &c);
    assert_true(ibig2 >= 0 && ibig2 != ibig);
    big[len - 1] = 'q';
    assert_true(st_intern(t, big, len, 1, "all", 3, params_for, &c) == ibig);
    const user_t *u = st_user(t, st_series(t, (uint32_t)ibig)->user);
    assert_int_equal(u->len, len);
    assert_int_equal(u->name[len], '\0');
    free(big);
    st_destroy(t);
}

/* 100k series: distinct, dense, stable across every growth. */
static void test_many_series_stable(void **state)
{
    (void)state;
    enum { NUSERS = 25000, NSERIES = 4 * NUSERS };
    static const char *const classes[] = { "alerts", "responses" };
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    const char **cls_ptr = malloc(NSERIES * sizeof(*cls_ptr));
    assert_non_null(cls_ptr);
    char user[32];
    for (int u = 0; u < NUSERS; u++) {
        snprintf(user, sizeof(user), "90-B3-D5-1F-%02X-%02X-%02X", u >> 16, (u >> 8) & 255,
                 u & 255);
        for (int k = 0; k < 4; k++) {
            int64_t i = intern(t, user, k >> 1, classes[k & 1], &c);
            assert_true(i == (int64_t)u * 4 + k);
            cls_ptr[i] = st_series(t, (uint32_t)i)->cls;
        }
    }
    assert_int_equal(st_nseries(t), NSERIES);
    assert_int_equal(st_nusers(t), NUSERS);
    assert_int_equal(st_naggs(t), 2 * NUSERS);
    assert_int_equal(c.calls, NUSERS);
    /* same indices in reverse order, and the series carry their keys */
    for (int u = NUSERS - 1; u >= 0; u--) {
        snprintf(user, sizeof(user), "90-B3-D5-1F-%02X-%02X-%02X", u >> 16, (u >> 8) & 255,
                 u & 255);
        for (int k = 3; k >= 0; k--) {
            int64_t i = intern(t, user, k >> 1, classes[k & 1], &c);
            assert_true(i == (int64_t)u * 4 + k);
            const series_t *s = st_series(t, (uint32_t)i);
            assert_int_equal(s->dir, k >> 1);
            assert_ptr_equal(s->cls, cls_ptr[i]); /* arena strings never move */
            assert_string_equal(s->cls, classes[k & 1]);
            assert_int_equal(s->user, (uint32_t)u);
            assert_string_equal(st_user(t, s->user)->name, user);
            assert_int_equal(s->agg, st_user(t, (uint32_t)u)->agg[k >> 1]);
        }
    }
    assert_int_equal(st_nseries(t), NSERIES);
    assert_int_equal(c.calls, NUSERS);
    free(cls_ptr);
    st_destroy(t);
}

/*
 * Keys whose 32-bit hashes collide must still be told apart by their bytes.
 * Under the hash of core/hash.h (found by search; if the hash changes the
 * test still holds, it just stops exercising the collision path):
 *   users "U0001ad9c" and "U00017c64" share a User-index hash;
 *   series (U1, north, "c00010909") and (U1, north, "c0000e4fb") share one;
 *   series ("U000115c6", south, "all") and ("U0000ba1d", south, "all") too;
 *   series ("U00855a43c7", south, "all") and (same, north, "all") too.
 */
static void test_hash_collisions_told_apart(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    static const struct {
        const char *user;
        int dir;
        const char *cls;
    } keys[] = {
        { "U0001ad9c", 0, "x" },         { "U00017c64", 0, "x" },
        { "U1", 1, "c00010909" },        { "U1", 1, "c0000e4fb" },
        { "U000115c6", 0, "all" },       { "U0000ba1d", 0, "all" },
        { "U00855a43c7", 0, "all" },     { "U00855a43c7", 1, "all" },
    };
    enum { NK = sizeof(keys) / sizeof(keys[0]) };
    int64_t idx[NK];
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < NK; i++) {
            int64_t k = intern(t, keys[i].user, keys[i].dir, keys[i].cls, &c);
            assert_true(k >= 0);
            if (pass == 0)
                idx[i] = k;
            else
                assert_true(k == idx[i]);
            const series_t *s = st_series(t, (uint32_t)k);
            assert_string_equal(st_user(t, s->user)->name, keys[i].user);
            assert_int_equal(s->dir, keys[i].dir);
            assert_string_equal(s->cls, keys[i].cls);
        }
    }
    assert_int_equal(st_nseries(t), NK);
    assert_int_equal(st_nusers(t), 6);
    assert_int_equal(c.calls, 6);
    st_destroy(t);
}

/* A class longer than the series can record is refused, table unchanged. */
static void test_class_too_long_refused(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    size_t len = (size_t)UINT16_MAX + 1;
    char *cls = malloc(len);
    assert_non_null(cls);
    memset(cls, 'c', len);
    int64_t rc = st_intern(t, "U1", 2, 0, cls, len, params_for, &c);
    assert_int_equal(rc, SW_EINVAL); /* not in series.h's contract yet */
    assert_int_equal(st_nseries(t), 0);
    assert_int_equal(st_nusers(t), 0);
    assert_int_equal(c.calls, 0);
    free(cls);
    st_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_same_key_same_index),
        cmocka_unit_test(test_different_user_dir_class),
        cmocka_unit_test(test_users_and_aggregates),
        cmocka_unit_test(test_params_for_called_once_per_user),
        cmocka_unit_test(test_strings_are_copies),
        cmocka_unit_test(test_binary_and_long_keys),
        cmocka_unit_test(test_many_series_stable),
        cmocka_unit_test(test_hash_collisions_told_apart),
        cmocka_unit_test(test_class_too_long_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
