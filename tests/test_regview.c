/*
 * test_regview.c - the file's and the API's changes as one register
 * (core/regview.c): the file's change wins on a shared id, and comes back
 * out of the way when the file drops it; updates cost O(1) (counted by the
 * index, never timed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "regview.h"

static change_t chg(const char *id, const char *title)
{
    return (change_t){ .id = (char *)id, .user = (char *)"U1", .title = (char *)title,
                       .start = 100, .end = 200 };
}

static changes_t *file_with(const char *id, const char *title)
{
    changes_t *f = changes_create();
    assert_non_null(f);
    change_t c = chg(id, title);
    assert_int_equal(changes_add(f, &c), 0);
    return f;
}

static void test_file_wins_then_api_comes_back(void **state)
{
    (void)state;
    regview_t *rv = regview_create();
    assert_non_null(rv);
    assert_int_equal(regview_set_file(rv, file_with("CHG-1", "from the file")), 0);
    change_t api = chg("CHG-1", "from the API");
    assert_int_equal(regview_declare(rv, &api), 1); /* shadowed */
    assert_string_equal(changes_find(regview_merged(rv), "CHG-1")->title, "from the file");
    assert_int_equal(regview_declare(rv, &api), SW_EEXISTS);
    /* a reload without CHG-1: the API's comes through */
    assert_int_equal(regview_set_file(rv, NULL), 0);
    assert_string_equal(changes_find(regview_merged(rv), "CHG-1")->title, "from the API");
    /* withdrawn over the API: gone; a file change cannot be withdrawn */
    assert_int_equal(regview_withdraw(rv, "CHG-1"), 0);
    assert_null(changes_find(regview_merged(rv), "CHG-1"));
    assert_int_equal(regview_set_file(rv, file_with("CHG-2", "file")), 0);
    assert_int_equal(regview_withdraw(rv, "CHG-2"), SW_ENOTFOUND);
    assert_non_null(changes_find(regview_merged(rv), "CHG-2"));
    /* withdrawing an API change the file shadows leaves the file's */
    change_t api2 = chg("CHG-2", "api");
    assert_int_equal(regview_declare(rv, &api2), 1);
    assert_int_equal(regview_withdraw(rv, "CHG-2"), 0);
    assert_string_equal(changes_find(regview_merged(rv), "CHG-2")->title, "file");
    regview_destroy(rv);
}

/* 20 000 declarations then 20 000 withdrawals: the merged register holds
 * exactly the API's changes all along, and nothing is rebuilt per update
 * (the file is set once). */
static void test_many_declarations(void **state)
{
    (void)state;
    enum { N = 20000 };
    regview_t *rv = regview_create();
    assert_non_null(rv);
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "API-%05d", i);
        change_t c = chg(id, NULL);
        assert_int_equal(regview_declare(rv, &c), 0);
    }
    assert_int_equal(changes_count(regview_merged(rv)), N);
    for (int i = 0; i < N; i += 2) {
        snprintf(id, sizeof(id), "API-%05d", i);
        assert_int_equal(regview_withdraw(rv, id), 0);
    }
    assert_int_equal(changes_count(regview_merged(rv)), N / 2);
    assert_null(changes_find(regview_merged(rv), "API-00000"));
    assert_non_null(changes_find(regview_merged(rv), "API-00001"));
    regview_destroy(rv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_wins_then_api_comes_back),
        cmocka_unit_test(test_many_declarations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
