/*
 * test_hindex.c - the one hash index (core/hindex.h): every position filed
 * stays reachable through inserts, removals and moves, also when many
 * share a hash or a home slot (the backward shift of a removal), and the
 * table grows only when asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "err.h"
#include "hindex.h"

#define N 4000

/* Whether pos is found under hash. */
static int has(const hindex_t *ix, uint32_t hash, uint32_t pos)
{
    size_t j = hix_home(ix, hash);
    for (ptrdiff_t p; (p = hix_next(ix, hash, &j)) >= 0;)
        if ((uint32_t)p == pos)
            return 1;
    return 0;
}

static void test_empty(void **state)
{
    (void)state;
    hindex_t ix = { 0 };
    assert_false(has(&ix, 7, 0));
    assert_int_equal(hix_del(&ix, 7, 0), SW_ENOTFOUND);
    assert_int_equal(hix_move(&ix, 7, 0, 1), SW_ENOTFOUND);
    hix_free(&ix);
}

/* Random inserts and removals against an array, with hashes drawn from a
 * small set (long runs of equal hashes and of equal home slots). */
static void test_random_against_array(void **state)
{
    (void)state;
    static uint32_t hash_of[N];
    static char present[N];
    hindex_t ix = { 0 };
    unsigned seed = 99;
    for (uint32_t p = 0; p < N; p++) {
        seed = seed * 1103515245u + 12345u;
        hash_of[p] = (seed >> 8) % 37 * 1024; /* 37 hashes, all on few homes */
    }
    size_t n = 0;
    for (int op = 0; op < 40000; op++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t p = (seed >> 8) % N;
        if (present[p]) {
            assert_int_equal(hix_del(&ix, hash_of[p], p), SW_OK);
            present[p] = 0;
            n--;
        } else {
            assert_int_equal(hix_reserve(&ix, n + 1), SW_OK);
            hix_put(&ix, hash_of[p], p);
            present[p] = 1;
            n++;
        }
        assert_int_equal(ix.n, n);
        assert_true(ix.cap >= 2 * n);
        if (op % 4000 == 0)
            for (uint32_t q = 0; q < N; q++)
                assert_int_equal(has(&ix, hash_of[q], q), present[q]);
    }
    for (uint32_t q = 0; q < N; q++)
        assert_int_equal(has(&ix, hash_of[q], q), present[q]);
    hix_free(&ix);
}

static void test_move_and_reserve(void **state)
{
    (void)state;
    hindex_t ix = { 0 };
    assert_int_equal(hix_reserve(&ix, 100), SW_OK);
    size_t cap = ix.cap;
    assert_true(cap >= 200);
    for (uint32_t p = 0; p < 100; p++)
        hix_put(&ix, p % 3, p);
    assert_int_equal(ix.cap, cap); /* reserved: no growth */
    assert_int_equal(hix_move(&ix, 1, 4, 500), SW_OK);
    assert_false(has(&ix, 1, 4));
    assert_true(has(&ix, 1, 500));
    assert_int_equal(hix_move(&ix, 2, 4, 501), SW_ENOTFOUND); /* 4 is not under 2 */
    assert_int_equal(hix_reserve(&ix, SIZE_MAX / 4), SW_ENOMEM);
    assert_int_equal(ix.cap, cap);
    for (uint32_t p = 0; p < 100; p++)
        if (p != 4)
            assert_true(has(&ix, p % 3, p));
    hix_free(&ix);
    assert_null(ix.slots);
    assert_int_equal(ix.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_random_against_array),
        cmocka_unit_test(test_move_and_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
