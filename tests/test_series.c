/*
 * test_series.c - tests of the User and series tables (core/series.h).
 *
 * Interning: the same key gives the same index, any difference in user,
 * direction or class gives a new one; 100k series stay distinct and keep
 * their indices across growth of the arrays, the indexes and the arena.
 * A new User gets two aggregates (south, north) and one call of
 * params_for; strings are NUL-terminated copies, not pointers into the
 * caller's buffer. Every table is destroyed at the end of its test.
 *
 * Removal: st_remove() takes a series out (its User and aggregates with
 * the last one), st_lookup() no longer finds it while every other key
 * keeps its index, also under colliding hashes and wrapping probe runs;
 * the freed slots are reused, blank, without growing the extent; removing
 * twice is refused. Allocation failure inside st_remove() is not injected:
 * test_series is not linked with tests/allocfail.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"
#include "err.h"
#include "hash.h"
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

/* A class is kept once however many series carry it, and goes with the
 * last of them: a new series of it then gets a fresh copy. */
static void test_class_kept_once(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    char user[16];
    int64_t first[3] = { -1, -1, -1 };
    const char *cls[3] = { "request", "response", "alert_0012" };
    for (int u = 0; u < 100; u++) {
        snprintf(user, sizeof(user), "U%03d", u);
        for (int k = 0; k < 3; k++) {
            int64_t i = intern(t, user, k ? 1 : 0, cls[k], &c);
            assert_true(i >= 0);
            if (first[k] < 0)
                first[k] = i;
            assert_ptr_equal(st_series(t, (uint32_t)i)->cls, st_series(t, (uint32_t)first[k])->cls);
            assert_string_equal(st_series(t, (uint32_t)i)->cls, cls[k]);
        }
    }
    assert_int_equal(st_nseries(t), 300);
    assert_int_equal(st_nclasses(t), 3);
    /* the alert codes go one User at a time: the class stays to the last */
    for (int u = 0; u < 100; u++) {
        snprintf(user, sizeof(user), "U%03d", u);
        int64_t i = st_lookup(t, user, strlen(user), 1, cls[2], strlen(cls[2]), NULL);
        assert_true(i >= 0);
        assert_int_equal(st_remove(t, (uint32_t)i), SW_OK);
        assert_int_equal(st_nclasses(t), u < 99 ? 3 : 2);
    }
    int64_t i = intern(t, "U000", 1, "alert_0012", &c);
    assert_true(i >= 0);
    assert_string_equal(st_series(t, (uint32_t)i)->cls, "alert_0012");
    assert_int_equal(st_nclasses(t), 3);
    st_destroy(t);
}

/* ---- the hash (hash.h) ----------------------------------------------------- */

/* The hash as first written: the tail copied into a zeroed word. */
static uint64_t hash_by_copy(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ^ (n * UINT64_C(0x9e3779b97f4a7c15));
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 29;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    return sw_mix64(h ^ v);
}

/* The tail read in overlapping loads gives the value the copy gave, for
 * every length and every byte (each key sits at the very end of its own
 * allocation, so a read past it is an ASan error), and so every hash:
 * which shard owns a User, and where series sit in the index, are as
 * before. */
static void test_hash_tail_same_as_copy(void **state)
{
    (void)state;
    uint64_t rng = 0x1234567;
    for (size_t n = 0; n <= 40; n++) {
        for (int round = 0; round < 200; round++) {
            unsigned char *key = malloc(n ? n : 1);
            assert_non_null(key);
            for (size_t i = 0; i < n; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                /* every byte value, and runs of 0x00 and 0xff */
                key[i] = round % 4 == 0 ? 0xff : round % 4 == 1 ? 0 : (unsigned char)rng;
            }
            if (n < 8) {
                uint64_t want = 0;
                memcpy(&want, key, n);
                assert_int_equal(sw_tail(key, n), want);
            }
            assert_int_equal(sw_hash(key, n, 0x5354524dULL), hash_by_copy(key, n, 0x5354524dULL));
            free(key);
        }
    }
    /* one fixed value, so a change of the function shows (a router's
     * shards and a table's order follow from it) */
    assert_int_equal(sw_hash("90-B3-D5-1F-CF-48-11-D0", 23, 0x53484152ULL),
                     UINT64_C(0x3ffdd890c65dc174));
}

/* sw_memeq() answers as memcmp() == 0 for every length, with one byte
 * different at each place (each bit of it), or none; each key at the very
 * end of an exact allocation (ASan sees any read past it). */
static void test_memeq_same_as_memcmp(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b9;
    for (size_t n = 0; n <= 70; n++) {
        unsigned char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
        assert_non_null(a);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            a[i] = b[i] = (unsigned char)rng;
        }
        assert_true(sw_memeq(a, b, n));
        for (size_t i = 0; i < n; i++)
            for (int bit = 0; bit < 8; bit++) {
                b[i] ^= (unsigned char)(1u << bit);
                assert_false(sw_memeq(a, b, n));
                assert_false(sw_memeq(b, a, n));
                b[i] ^= (unsigned char)(1u << bit);
            }
        assert_true(sw_memeq(a, b, n));
        free(a);
        free(b);
    }
}

/* ---- removal (st_remove, st_lookup, st_series_extent) ------------------- */

/* The series hash of series.c (st_lookup), to build colliding keys. If the
 * hash changes, the keys below stop colliding and the tests still hold;
 * they just exercise fewer collisions (the search asserts it finds some). */
static uint32_t key_hash(const char *user, int dir, const char *cls)
{
    uint64_t uh = sw_hash(user, strlen(user), 0x5354524dULL);
    return (uint32_t)sw_mix64(uh ^ sw_hash(cls, strlen(cls), (uint64_t)dir + 1));
}

static uint32_t user_hash(const char *user)
{
    return (uint32_t)sw_hash(user, strlen(user), 0x5354524dULL);
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

typedef struct {
    uint32_t h, i;
} hi_t;

static int hi_cmp(const void *a, const void *b)
{
    const hi_t *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Finds up to `max` pairs among n candidates whose 32-bit hashes are equal
 * (birthday search: n = 300k gives about ten pairs); out[2k], out[2k+1]. */
static size_t find_pairs(uint32_t (*hash_of)(uint32_t i, void *ctx), void *ctx, uint32_t n,
                         uint32_t *out, size_t max)
{
    hi_t *v = malloc(n * sizeof(*v));
    assert_non_null(v);
    for (uint32_t i = 0; i < n; i++)
        v[i] = (hi_t){ hash_of(i, ctx), i };
    qsort(v, n, sizeof(*v), hi_cmp);
    size_t np = 0;
    for (uint32_t i = 1; i < n && np < max; i++)
        if (v[i].h == v[i - 1].h && (i < 2 || v[i - 2].h != v[i].h)) {
            out[2 * np] = v[i - 1].i;
            out[2 * np + 1] = v[i].i;
            np++;
        }
    free(v);
    return np;
}

enum { RM_NUSERS = 500 };

/* Candidate i of the series-hash search: an existing User, class "h%07u". */
static void cand_series(uint32_t i, char *user, size_t ulen, int *dir, char *cls, size_t clen)
{
    snprintf(user, ulen, "usr-%04u", i % RM_NUSERS);
    *dir = (int)(i & 1);
    snprintf(cls, clen, "h%07u", i);
}

static uint32_t cand_series_hash(uint32_t i, void *ctx)
{
    (void)ctx;
    char user[24], cls[24];
    int dir;
    cand_series(i, user, sizeof(user), &dir, cls, sizeof(cls));
    return key_hash(user, dir, cls);
}

static uint32_t cand_user_hash(uint32_t i, void *ctx)
{
    (void)ctx;
    char user[24];
    snprintf(user, sizeof(user), "v%07u", i);
    return user_hash(user);
}

/* One key of the model. */
typedef struct {
    char user[24], cls[40];
    int dir;
    int u;          /* index in the model's Users */
    int64_t idx;    /* index given by st_intern */
    int removed;
} mkey_t;

typedef struct {
    char name[24];
    int live;       /* series of this User in the table */
    int dirs;       /* directions with an aggregate: bit 0 south, bit 1 north */
    uint32_t ui;    /* index in the table's Users */
} muser_t;

typedef struct {
    mkey_t *k;
    size_t nk, capk;
    muser_t *u;
    size_t nu, capu;
} model_t;

static int model_user(model_t *m, const char *name)
{
    for (size_t i = 0; i < m->nu; i++)
        if (strcmp(m->u[i].name, name) == 0)
            return (int)i;
    if (m->nu == m->capu) {
        m->capu = m->capu ? 2 * m->capu : 64;
        m->u = realloc(m->u, m->capu * sizeof(*m->u));
        assert_non_null(m->u);
    }
    m->u[m->nu] = (muser_t){ .live = 0 };
    snprintf(m->u[m->nu].name, sizeof(m->u[0].name), "%s", name);
    return (int)m->nu++;
}

static void model_add(model_t *m, const char *user, int dir, const char *cls)
{
    if (m->nk == m->capk) {
        m->capk = m->capk ? 2 * m->capk : 1024;
        m->k = realloc(m->k, m->capk * sizeof(*m->k));
        assert_non_null(m->k);
    }
    mkey_t *k = &m->k[m->nk++];
    *k = (mkey_t){ .dir = dir, .idx = -1 };
    snprintf(k->user, sizeof(k->user), "%s", user);
    snprintf(k->cls, sizeof(k->cls), "%s", cls);
    k->u = model_user(m, user);
}

static size_t model_live_users(const model_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nu; i++)
        n += m->u[i].live > 0;
    return n;
}

static size_t model_aggs(const model_t *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nu; i++)
        if (m->u[i].live > 0)
            n += (size_t)((m->u[i].dirs & 1) + (m->u[i].dirs >> 1));
    return n;
}

static int64_t lookup(const series_table_t *t, const mkey_t *k, uint32_t *h)
{
    return st_lookup(t, k->user, strlen(k->user), k->dir, k->cls, strlen(k->cls), h);
}

/* Every key found where the model says, the counts the model's. */
static void model_check(const series_table_t *t, series_table_t *tw, const model_t *m)
{
    size_t live = 0;
    for (size_t i = 0; i < m->nk; i++) {
        const mkey_t *k = &m->k[i];
        int64_t got = lookup(t, k, NULL);
        if (k->removed) {
            if (got != -1)
                fail_msg("removed key %s/%d/%s found at %lld", k->user, k->dir, k->cls,
                         (long long)got);
            continue;
        }
        live++;
        if (got != k->idx)
            fail_msg("key %s/%d/%s at %lld, want %lld", k->user, k->dir, k->cls, (long long)got,
                     (long long)k->idx);
        const series_t *s = st_series(tw, (uint32_t)got);
        assert_int_equal(s->live, 1);
        assert_int_equal(s->dir, k->dir);
        assert_string_equal(s->cls, k->cls);
        const user_t *u = st_user(tw, s->user);
        assert_string_equal(u->name, k->user);
        assert_int_equal(u->nseries, m->u[k->u].live);
        assert_int_equal(s->agg, u->agg[k->dir]);
        assert_int_equal(st_agg(tw, s->agg)->user, s->user);
        assert_int_equal(st_agg(tw, s->agg)->dir, k->dir);
    }
    assert_int_equal(st_nseries(t), live);
    assert_int_equal(st_nusers(t), model_live_users(m));
    assert_int_equal(st_naggs(t), model_aggs(m));
    /* each class a live key carries is held once, and no other */
    size_t classes = 0;
    for (size_t i = 0; i < m->nk; i++) {
        if (m->k[i].removed)
            continue;
        size_t j = 0;
        while (j < i && (m->k[j].removed || strcmp(m->k[j].cls, m->k[i].cls) != 0))
            j++;
        classes += j == i;
    }
    assert_int_equal(st_nclasses(t), classes);
}

static void model_intern(series_table_t *t, model_t *m, mkey_t *k, ctx_t *c)
{
    k->idx = intern(t, k->user, k->dir, k->cls, c);
    assert_true(k->idx >= 0);
    k->removed = 0;
    muser_t *mu = &m->u[k->u];
    mu->live++;
    mu->dirs |= 1 << k->dir;
    mu->ui = st_series(t, (uint32_t)k->idx)->user;
}

static void model_remove(series_table_t *t, model_t *m, mkey_t *k)
{
    assert_int_equal(st_remove(t, (uint32_t)k->idx), SW_OK);
    k->removed = 1;
    muser_t *mu = &m->u[k->u];
    if (--mu->live == 0)
        mu->dirs = 0; /* the User and its aggregates went with the last series */
}

static void model_free(model_t *m)
{
    free(m->k);
    free(m->u);
}

/*
 * ~2000 series over ~500 Users, with keys whose 32-bit series hashes are
 * equal, Users whose User-index hashes are equal, and a run of keys whose
 * home slots sit at the end of the series index so that probing wraps
 * (the index holds up to 2047 entries in 4096 slots, load just under 1/2:
 * long probe chains). A pseudo-random half is removed: the rest keep their
 * indices, the removed are gone, a User goes with its last series and its
 * aggregates with it; the extent stays. Interning the removed keys again
 * reuses exactly the freed slots and gives blank series.
 */
static void test_remove_and_reuse_under_collisions(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    model_t m = { 0 };
    char user[24], cls[40];

    /* 500 Users with 1 to 7 series; a third of them southbound only */
    for (int u = 0; u < RM_NUSERS; u++) {
        snprintf(user, sizeof(user), "usr-%04d", u);
        for (int k = 0; k < 1 + u % 7; k++) {
            if (k == 0)
                snprintf(cls, sizeof(cls), "all");
            else
                snprintf(cls, sizeof(cls), "class-%.*s%d", k * 3, "abcdefghijklmnopqrstu", k);
            model_add(&m, user, u % 3 == 0 ? 0 : (u + k) & 1, cls);
        }
    }
    size_t nplain = m.nk;
    assert_int_equal(nplain, 1994);

    /* series keys with equal 32-bit hashes (of existing Users) */
    uint32_t sp[16];
    size_t nsp = find_pairs(cand_series_hash, NULL, 300000, sp, 8);
    assert_true(nsp >= 4);
    for (size_t i = 0; i < 2 * nsp; i++) {
        int dir;
        cand_series(sp[i], user, sizeof(user), &dir, cls, sizeof(cls));
        model_add(&m, user, dir, cls);
    }
    for (size_t p = 0; p < nsp; p++) {
        const mkey_t *a = &m.k[nplain + 2 * p], *b = &m.k[nplain + 2 * p + 1];
        assert_int_equal(key_hash(a->user, a->dir, a->cls), key_hash(b->user, b->dir, b->cls));
    }

    /* Users with equal User-index hashes: one series each, northbound */
    uint32_t up[8];
    size_t nup = find_pairs(cand_user_hash, NULL, 300000, up, 4);
    assert_true(nup >= 2);
    for (size_t i = 0; i < 2 * nup; i++) {
        snprintf(user, sizeof(user), "v%07u", up[i]);
        model_add(&m, user, 1, "all");
    }

    /* keys whose home slot in a 4096-slot index is one of the last six */
    int nwrap = 0;
    for (uint32_t i = 0; nwrap < 12; i++) {
        snprintf(user, sizeof(user), "usr-%04u", i % RM_NUSERS);
        snprintf(cls, sizeof(cls), "w%u", i);
        if ((key_hash(user, 0, cls) & 4095) >= 4090) {
            model_add(&m, user, 0, cls);
            nwrap++;
        }
    }
    size_t nk = m.nk;
    assert_true(nk < 2048); /* so the index is 4096 slots: the run above wraps */

    series_table_t *t = st_create();
    assert_non_null(t);
    for (size_t i = 0; i < nk; i++) {
        model_intern(t, &m, &m.k[i], &c);
        assert_true(m.k[i].idx == (int64_t)i); /* dense, in order */
    }
    size_t nusers = m.nu, naggs = model_aggs(&m);
    assert_int_equal(st_nseries(t), nk);
    assert_int_equal(st_series_extent(t), nk);
    assert_int_equal(st_nusers(t), nusers);
    assert_int_equal(c.calls, (int)nusers);
    model_check(t, t, &m);

    /* mark every series and aggregate as used, to see the reused ones blank */
    for (size_t i = 0; i < nk; i++) {
        series_t *s = st_series(t, (uint32_t)i);
        s->seen = 1;
        s->base.age = 12345;
        s->base.rate = 7.5;
        s->rate = 3.25;
        s->last_sample = 99;
        s->storm.state = LIFE_FIRING;
        s->alert = 4;
        agg_t *g = st_agg(t, s->agg);
        g->obs = 42;
        g->sil.llr = 9;
        g->backlog = 17;
    }

    /* remove a pseudo-random half: from each colliding pair exactly one
     * (the first inserted of even pairs, the second of odd ones), and the
     * first two users of the User-hash pairs entirely */
    uint64_t rng = 0x1234567887654321ULL;
    uint8_t *freed = calloc(nk, 1);
    assert_non_null(freed);
    size_t nremoved = 0;
    for (size_t i = 0; i < nk; i++) {
        mkey_t *k = &m.k[i];
        int go;
        if (i >= nplain && i < nplain + 2 * nsp) {
            size_t p = (i - nplain) / 2, second = (i - nplain) & 1;
            go = (p & 1) == second;
        } else if (i >= nplain + 2 * nsp && i < nplain + 2 * nsp + 2) {
            go = 1;
        } else {
            go = (int)(xorshift(&rng) >> 63);
        }
        if (!go)
            continue;
        uint32_t ui = st_series(t, (uint32_t)k->idx)->user;
        model_remove(t, &m, k);
        freed[k->idx] = 1;
        nremoved++;
        model_check(t, t, &m); /* after every removal: no shift may strand a key */
        const series_t *s = st_series(t, (uint32_t)k->idx);
        assert_int_equal(s->live, 0);
        assert_null(s->cls);
        if (m.u[k->u].live == 0) {
            const user_t *u = st_user(t, ui);
            assert_null(u->name);
            assert_int_equal(u->agg[0], ST_NO_AGG);
            assert_int_equal(u->agg[1], ST_NO_AGG);
        }
    }
    assert_true(nremoved > nk / 2 - 100 && nremoved < nk / 2 + 100);
    size_t gone_users = nusers - model_live_users(&m);
    assert_true(gone_users > 50); /* Users with few series vanish often */
    assert_true(model_aggs(&m) < naggs);
    assert_int_equal(st_series_extent(t), nk);
    model_check(t, t, &m);
    /* the aggregates of a gone User are marked removed */
    size_t marked = 0;
    for (size_t i = 0; i < naggs; i++)
        marked += st_agg(t, (uint32_t)i)->user == ST_NO_USER;
    assert_int_equal(marked, naggs - model_aggs(&m));

    /* intern the removed keys again, in another order: each takes a freed
     * slot, once; the extent stays; the series and new aggregates are blank */
    int calls_before = c.calls;
    size_t reused = 0;
    for (size_t j = 0; j < nk; j++) {
        mkey_t *k = &m.k[(j * 7919) % nk]; /* 7919 is prime, nk is not a multiple */
        if (!k->removed)
            continue;
        int user_was_gone = m.u[k->u].live == 0;
        uint32_t had_dirs = (uint32_t)m.u[k->u].dirs;
        model_intern(t, &m, k, &c);
        assert_true(k->idx < (int64_t)nk);
        assert_int_equal(freed[k->idx], 1);
        freed[k->idx] = 2; /* taken */
        reused++;
        const series_t *s = st_series(t, (uint32_t)k->idx);
        assert_int_equal(s->live, 1);
        assert_int_equal(s->seen, 0);
        assert_true(s->base.age == 0);
        assert_true(s->base.rate == 0.0);
        assert_true(s->rate == 0.0);
        assert_true(s->last_sample == 0);
        assert_int_equal(s->alert, 0);
        assert_int_equal(s->storm.state, LIFE_OK);
        assert_string_equal(s->cls, k->cls);
        agg_t *g = st_agg(t, s->agg);
        if (user_was_gone || !(had_dirs & (1u << k->dir))) {
            /* a new aggregate (maybe in a freed slot): blank; marked used
             * now, as the later series of this User and direction share it */
            assert_true(g->obs == 0.0);
            assert_true(g->sil.llr == 0);
            assert_true(g->backlog == 0.0);
            assert_int_equal(g->user, s->user);
            assert_int_equal(g->dir, k->dir);
            g->obs = 42;
        } else {
            assert_true(g->obs == 42.0); /* the User's own, kept */
        }
        assert_int_equal(st_series_extent(t), nk);
    }
    assert_int_equal(reused, nremoved);
    assert_int_equal(c.calls - calls_before, (int)gone_users); /* params once per new User */
    assert_int_equal(st_nseries(t), nk);
    assert_int_equal(st_nusers(t), nusers);
    assert_int_equal(st_naggs(t), naggs);
    assert_int_equal(st_series_extent(t), nk);
    model_check(t, t, &m);

    /* and one more key goes to the end: no freed slot is left */
    assert_true(intern(t, "usr-0000", 1, "brand-new", &c) == (int64_t)nk);
    assert_int_equal(st_series_extent(t), nk + 1);
    free(freed);
    model_free(&m);
    st_destroy(t);
}

/* st_lookup finds without interning, and reports the hash the series carries. */
static void test_lookup_changes_nothing(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    uint32_t h = 0;
    assert_true(st_lookup(t, "U1", 2, 0, "a", 1, &h) == -1); /* empty table */
    assert_int_equal(h, key_hash("U1", 0, "a"));
    int64_t i = intern(t, "U1", 0, "a", &c);
    assert_true(i == 0);
    h = 0;
    assert_true(st_lookup(t, "U1", 2, 0, "a", 1, &h) == 0);
    assert_int_equal(h, st_series(t, 0)->hash);
    assert_true(st_lookup(t, "U1", 2, 1, "a", 1, NULL) == -1);
    assert_true(st_lookup(t, "U2", 2, 0, "a", 1, NULL) == -1);
    assert_true(st_lookup(t, "U1", 2, 0, "ab", 2, NULL) == -1);
    assert_int_equal(st_nseries(t), 1);
    assert_int_equal(st_nusers(t), 1);
    assert_int_equal(c.calls, 1);
    st_destroy(t);
}

/*
 * Removing a slot not in use is refused and changes nothing: not the
 * counts, not the other keys, and not the free list (a slot pushed twice
 * would be handed to two new series).
 */
static void test_remove_twice_refused(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    assert_non_null(t);
    int64_t a = intern(t, "UA", 0, "x", &c);
    int64_t b = intern(t, "UA", 1, "x", &c);
    int64_t d = intern(t, "UB", 0, "x", &c);
    assert_true(a == 0 && b == 1 && d == 2);
    assert_int_equal(st_remove(t, (uint32_t)b), SW_OK);
    assert_int_equal(st_nseries(t), 2);
    assert_int_equal(st_nusers(t), 2);
    assert_int_equal(st_naggs(t), 3); /* UA keeps its north aggregate while it lives */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(st_remove(t, (uint32_t)b), SW_EINVAL);
        assert_int_equal(st_nseries(t), 2);
        assert_int_equal(st_nusers(t), 2);
        assert_int_equal(st_naggs(t), 3);
        assert_int_equal(st_series_extent(t), 3);
        assert_true(st_lookup(t, "UA", 2, 0, "x", 1, NULL) == a);
        assert_true(st_lookup(t, "UA", 2, 1, "x", 1, NULL) == -1);
        assert_true(st_lookup(t, "UB", 2, 0, "x", 1, NULL) == d);
    }
    /* the last series of UB: the User and its aggregate go; twice is refused */
    assert_int_equal(st_remove(t, (uint32_t)d), SW_OK);
    assert_int_equal(st_nusers(t), 1);
    assert_int_equal(st_naggs(t), 2);
    assert_int_equal(st_remove(t, (uint32_t)d), SW_EINVAL);
    assert_int_equal(st_nseries(t), 1);
    assert_int_equal(st_nusers(t), 1);
    assert_int_equal(st_naggs(t), 2);
    /* exactly two slots are free: two new series take them, the third grows */
    int64_t n1 = intern(t, "UC", 0, "x", &c);
    int64_t n2 = intern(t, "UD", 0, "x", &c);
    int64_t n3 = intern(t, "UE", 0, "x", &c);
    assert_true(n1 >= 1 && n1 <= 2 && n2 >= 1 && n2 <= 2 && n1 != n2);
    assert_true(n3 == 3);
    assert_int_equal(st_series_extent(t), 4);
    assert_int_equal(st_nseries(t), 4);
    assert_int_equal(st_nusers(t), 4);
    assert_int_equal(st_naggs(t), 5);
    /* UA's series was never touched */
    assert_true(st_lookup(t, "UA", 2, 0, "x", 1, NULL) == a);
    assert_string_equal(st_user(t, st_series(t, (uint32_t)a)->user)->name, "UA");
    st_destroy(t);
}

/*
 * Random interning and removal over a small set of keys, checked against
 * a model every 50 steps: small indexes (128 to 512 slots) at every load,
 * wrapping and shifting all the time. The extent never exceeds the most
 * series ever live at once; everything is freed (ASan build).
 */
static void test_remove_churn_against_model(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    model_t m = { 0 };
    char user[24], cls[40];
    for (int u = 0; u < 60; u++) {
        snprintf(user, sizeof(user), "churn-%02d", u);
        for (int k = 0; k < 5; k++) {
            snprintf(cls, sizeof(cls), "c%d", k);
            model_add(&m, user, k & 1, cls);
        }
    }
    for (size_t i = 0; i < m.nk; i++)
        m.k[i].removed = 1;
    series_table_t *t = st_create();
    assert_non_null(t);
    uint64_t rng = 0xdeadbeefcafef00dULL;
    size_t live = 0, peak = 0;
    for (int step = 1; step <= 60000; step++) {
        /* phases of growth and shrinking, so the load sweeps up and down */
        int grow_phase = (step / 5000) % 2 == 0;
        mkey_t *k = &m.k[xorshift(&rng) % m.nk];
        if (k->removed) {
            if (!grow_phase && xorshift(&rng) % 4)
                continue;
            model_intern(t, &m, k, &c);
            live++;
        } else {
            if (grow_phase && xorshift(&rng) % 4)
                continue;
            model_remove(t, &m, k);
            live--;
        }
        if (live > peak)
            peak = live;
        assert_true(st_series_extent(t) <= peak);
        if (step % 50 == 0)
            model_check(t, t, &m);
    }
    model_check(t, t, &m);
    assert_true(peak > 250);
    model_free(&m);
    st_destroy(t);
}

/* Only northbound aggregates carry route state; a removed one's is
 * reused, cleared, by the next. */
static void test_route_state_northbound_only(void **state)
{
    (void)state;
    ctx_t c = { 0 };
    series_table_t *t = st_create();
    int64_t s1 = intern(t, "U1", DIR_SOUTH, "all", &c);
    int64_t n1 = intern(t, "U1", DIR_NORTH, "all", &c);
    assert_true(s1 >= 0 && n1 >= 0);
    agg_t *south = st_agg(t, st_series(t, (uint32_t)s1)->agg);
    agg_t *north = st_agg(t, st_series(t, (uint32_t)n1)->agg);
    assert_null(st_route(t, south));
    det_route_t *r1 = st_route(t, north);
    assert_non_null(r1);
    r1->prev_backlog = 1234;
    r1->low_since = 99;
    /* another User's route is its own */
    int64_t n2 = intern(t, "U2", DIR_NORTH, "all", &c);
    det_route_t *r2 = st_route(t, st_agg(t, st_series(t, (uint32_t)n2)->agg));
    assert_non_null(r2);
    assert_true(r2->prev_backlog == 0);
    /* U1 goes; a new northbound User takes its route slot, cleared */
    assert_int_equal(st_remove(t, (uint32_t)s1), 0);
    assert_int_equal(st_remove(t, (uint32_t)n1), 0);
    int64_t n3 = intern(t, "U3", DIR_NORTH, "all", &c);
    det_route_t *r3 = st_route(t, st_agg(t, st_series(t, (uint32_t)n3)->agg));
    assert_non_null(r3);
    assert_true(r3->prev_backlog == 0 && r3->low_since == 0);
    r2 = st_route(t, st_agg(t, st_series(t, (uint32_t)n2)->agg));
    assert_ptr_not_equal(r2, r3);
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
        cmocka_unit_test(test_remove_and_reuse_under_collisions),
        cmocka_unit_test(test_lookup_changes_nothing),
        cmocka_unit_test(test_remove_twice_refused),
        cmocka_unit_test(test_remove_churn_against_model),
        cmocka_unit_test(test_route_state_northbound_only),
        cmocka_unit_test(test_class_kept_once),
        cmocka_unit_test(test_hash_tail_same_as_copy),
        cmocka_unit_test(test_memeq_same_as_memcmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
