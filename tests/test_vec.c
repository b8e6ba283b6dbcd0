/*
 * test_vec.c - the growable array (core/vec.h): doubling from the first
 * capacity, contents kept, no move when there is room, and a failure that
 * leaves the array as it was.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling),
        cmocka_unit_test(test_room_left_moves_nothing),
        cmocka_unit_test(test_failure_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
