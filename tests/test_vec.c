/*
 * test_vec.c - the growable array (core/vec.h): doubling from the first
 * capacity, contents kept, no move when there is room, and a failure that
 * leaves the array as it was; and the ring's growth, its elements in order
 * from the start however they wrapped, up to a bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "err.h"
#include "vec.h"

static void test_grows_by_doubling(void **state)
{
    (void)state;
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        assert_int_equal(VEC_RESERVE(v, cap, n + 1, 16), SW_OK);
        v[n++] = i * 7;
        /* 16, 32, 64, ...: never less than needed, never more than twice */
        assert_true(cap >= n);
        assert_true(cap == 16 || cap < 2 * n);
    }
    assert_int_equal(cap, 1024);
    for (uint32_t i = 0; i < 1000; i++)
        assert_int_equal(v[i], i * 7);
    free(v);
}

static void test_room_left_moves_nothing(void **state)
{
    (void)state;
    double *v = NULL;
    size_t cap = 0;
    assert_int_equal(VEC_RESERVE(v, cap, 5, 8), SW_OK);
    assert_int_equal(cap, 8);
    double *before = v;
    assert_int_equal(VEC_RESERVE(v, cap, 8, 8), SW_OK);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 8);
    /* a jump past twice the capacity doubles until it fits */
    assert_int_equal(VEC_RESERVE(v, cap, 100, 8), SW_OK);
    assert_int_equal(cap, 128);
    free(v);
}

static void test_failure_changes_nothing(void **state)
{
    (void)state;
    char *v = NULL;
    size_t cap = 0;
    assert_int_equal(VEC_RESERVE(v, cap, 3, 4), SW_OK);
    v[0] = 'x';
    char *before = v;
    /* more bytes than a size_t holds */
    assert_int_equal(vec_reserve(&v, &cap, SIZE_MAX / 2 + 2, 4, 4), SW_ENOMEM);
    assert_int_equal(vec_reserve(&v, &cap, SIZE_MAX / 4, 8, 4), SW_ENOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 4);
    assert_int_equal(v[0], 'x');
    free(v);
}

/* A ring of uint32 in which value k sits at (head + k) & (cap - 1) grows
 * with every wrap point: the values come out in order from index 0, the
 * capacity doubles and stays a power of two. */
static void test_ring_grows_in_order(void **state)
{
    (void)state;
    for (size_t head = 0; head < 8; head++) {
        for (size_t n = 0; n <= 8; n++) {
            uint32_t *v = NULL;
            size_t cap = 0, h = 0;
            assert_int_equal(VEC_RING_GROW(v, cap, h, 0, 8, 0), SW_OK);
            assert_int_equal(cap, 8);
            h = head;
            for (size_t k = 0; k < n; k++)
                v[(head + k) & (cap - 1)] = (uint32_t)(100 + k);
            assert_int_equal(VEC_RING_GROW(v, cap, h, n, 8, 0), SW_OK);
            assert_int_equal(cap, 16);
            assert_int_equal(h, 0);
            for (size_t k = 0; k < n; k++)
                assert_int_equal(v[k], 100 + k);
            free(v);
        }
    }
}

/* A bound caps the growth, and a ring at its bound cannot grow: nothing
 * changes then. */
static void test_ring_bound(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0, head = 0;
    assert_int_equal(VEC_RING_GROW(v, cap, head, 0, 16, 24), SW_OK);
    assert_int_equal(cap, 16);
    for (int k = 0; k < 16; k++)
        v[(5 + k) % 16] = k;
    head = 5;
    assert_int_equal(VEC_RING_GROW(v, cap, head, 16, 16, 24), SW_OK);
    assert_int_equal(cap, 24); /* 32 bounded to 24 */
    for (int k = 0; k < 16; k++)
        assert_int_equal(v[k], k);
    int *before = v;
    head = 3;
    assert_int_equal(VEC_RING_GROW(v, cap, head, 24, 16, 24), SW_ENOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 24);
    assert_int_equal(head, 3);
    /* nor when the bytes would overflow a size_t */
    size_t huge = SIZE_MAX / 2 + 1, h2 = 0;
    assert_int_equal(vec_ring_grow(&v, &huge, &h2, 0, 1, 1, 0), SW_ENOMEM);
    assert_ptr_equal(v, before);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling),
        cmocka_unit_test(test_room_left_moves_nothing),
        cmocka_unit_test(test_failure_changes_nothing),
        cmocka_unit_test(test_ring_grows_in_order),
        cmocka_unit_test(test_ring_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
