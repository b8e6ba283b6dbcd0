/*
 * test_idindex.c - the id -> position hash index (core/idindex): inserts,
 * updates, removals with backward shift checked against a plain array
 * over many random operations, keys that are not NUL-terminated, growth,
 * and the probe count that the scaling tests of its users rely on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "idindex.h"

static void test_basic(void **state)
{
    (void)state;
    idindex_t ix;
    idx_init(&ix);
    assert_int_equal(idx_find(&ix, "A", 1), -1);
    assert_int_equal(idx_remove(&ix, "A", 1), SW_ENOTFOUND);
    assert_int_equal(idx_update(&ix, "A", 1, 3), SW_ENOTFOUND);
    assert_int_equal(idx_insert(&ix, "A", 1, 7), 0);
    assert_int_equal(idx_insert(&ix, "AB", 2, 8), 0);
    assert_int_equal(idx_insert(&ix, "A", 1, 9), SW_EEXISTS);
    assert_int_equal(idx_find(&ix, "A", 1), 7);
    assert_int_equal(idx_find(&ix, "AB", 2), 8);
    /* the length is part of the key: "ABC" read as 1 or 2 bytes */
    assert_int_equal(idx_find(&ix, "ABC", 1), 7);
    assert_int_equal(idx_find(&ix, "ABC", 2), 8);
    assert_int_equal(idx_find(&ix, "ABC", 3), -1);
    assert_int_equal(idx_update(&ix, "A", 1, 1), 0);
    assert_int_equal(idx_find(&ix, "A", 1), 1);
    assert_int_equal(idx_remove(&ix, "A", 1), 0);
    assert_int_equal(idx_find(&ix, "A", 1), -1);
    assert_int_equal(idx_find(&ix, "AB", 2), 8);
    assert_int_equal(ix.n, 1);
    idx_free(&ix);
    assert_int_equal(ix.n, 0);
    assert_int_equal(idx_find(&ix, "AB", 2), -1);
    idx_free(&ix); /* twice is fine */
}

/* Random inserts and removals against a plain array of present keys. */
static void test_random_against_array(void **state)
{
    (void)state;
    enum { KEYS = 3000, OPS = 60000 };
    static char keys[KEYS][16];
    static int present[KEYS];
    for (int i = 0; i < KEYS; i++)
        snprintf(keys[i], sizeof(keys[i]), "k%d", i * 7919);
    idindex_t ix;
    idx_init(&ix);
    unsigned seed = 12345;
    size_t n = 0;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % KEYS);
        const char *key = keys[k];
        if (present[k]) {
            assert_int_equal(idx_find(&ix, key, strlen(key)), k);
            assert_int_equal(idx_remove(&ix, key, strlen(key)), 0);
            present[k] = 0;
            n--;
        } else {
            assert_int_equal(idx_find(&ix, key, strlen(key)), -1);
            assert_int_equal(idx_insert(&ix, key, strlen(key), (size_t)k), 0);
            present[k] = 1;
            n++;
        }
        assert_int_equal(ix.n, n);
        if (op % 5000 == 0)
            for (int j = 0; j < KEYS; j++)
                assert_int_equal(idx_find(&ix, keys[j], strlen(keys[j])), present[j] ? j : -1);
    }
    for (int j = 0; j < KEYS; j++)
        assert_int_equal(idx_find(&ix, keys[j], strlen(keys[j])), present[j] ? j : -1);
    /* a couple of slots an operation, growth included */
    assert_true(ix.probes < 4 * (uint64_t)OPS);
    idx_free(&ix);
}

static void test_reserve(void **state)
{
    (void)state;
    idindex_t ix;
    idx_init(&ix);
    assert_int_equal(idx_reserve(&ix, 100), 0);
    size_t cap = ix.h.cap; /* the index's slots: at most half full */
    assert_true(cap >= 200);
    char keys[100][8];
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%d", i);
        assert_int_equal(idx_insert(&ix, keys[i], strlen(keys[i]), (size_t)i), 0);
    }
    assert_int_equal(ix.h.cap, cap); /* reserved: no growth */
    assert_int_equal(idx_reserve(&ix, (SIZE_MAX / 4)), SW_ENOMEM);
    assert_int_equal(ix.h.cap, cap);
    for (int i = 0; i < 100; i++)
        assert_int_equal(idx_find(&ix, keys[i], strlen(keys[i])), i);
    idx_free(&ix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_random_against_array),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
