/*
 * test_changes.c - the change register (core/changes) and its YAML loader
 * (config/changes_yaml): contract section 2.
 *
 * Allocation failures are injected when the test is linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
 * (the wrappers below then see every allocation of the code under test);
 * without those flags the allocation-failure tests are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "allocfail.h"
#include "testutil.h"

#include "changes.h"
#include "changes_yaml.h"
#include "err.h"
#include "timefmt.h"

/* ---- allocation-failure injection (active only with --wrap) ---- */


/* ---- helpers ---- */

#define S INT64_C(1000000000)

static changes_t *load(const char *yaml, int want_rc, char *err, size_t errlen)
{
    changes_t *reg = changes_create();
    assert_non_null(reg);
    int rc = changes_load_yaml_buf("changes.yaml", yaml, strlen(yaml), reg, err, errlen);
    if (rc != want_rc)
        print_error("rc %d, want %d; message: %s\n", rc, want_rc, err);
    assert_int_equal(rc, want_rc);
    return reg;
}

static changes_t *load_ok(const char *yaml)
{
    char err[512];
    changes_t *reg = load(yaml, 0, err, sizeof(err));
    assert_string_equal(err, "");
    return reg;
}

static int64_t t(const char *s)
{
    int64_t ns;
    assert_int_equal(tf_parse_rfc3339(s, &ns), 0);
    return ns;
}

static change_t mk(const char *id, const char *user)
{
    return (change_t){ .id = (char *)id, .user = (char *)user, .start = 10 * S, .end = 20 * S };
}

/* ---- the register ---- */

static void test_register_add_find(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    assert_non_null(reg);
    assert_int_equal(changes_count(reg), 0);
    assert_null(changes_get(reg, 0));
    assert_null(changes_find(reg, "CHG-1"));

    char id[] = "CHG-1", user[] = "90-B3-D5-1F-30-01-00-0A", title[] = "Firewall";
    change_t c = mk(id, user);
    c.title = title;
    c.affects = CHG_NORTH;
    c.line = 7;
    assert_int_equal(changes_add(reg, &c), 0);
    /* The register holds copies: changing the caller's strings changes nothing. */
    id[0] = user[0] = title[0] = 'X';
    const change_t *got = changes_find(reg, "CHG-1");
    assert_non_null(got);
    assert_ptr_equal(got, changes_get(reg, 0));
    assert_string_equal(got->id, "CHG-1");
    assert_string_equal(got->user, "90-B3-D5-1F-30-01-00-0A");
    assert_string_equal(got->title, "Firewall");
    assert_null(got->kind);
    assert_null(got->expected);
    assert_null(got->contact);
    assert_true(got->start == 10 * S && got->end == 20 * S);
    assert_int_equal(got->affects, CHG_NORTH);
    assert_int_equal(got->line, 7);
    assert_null(changes_find(reg, "XHG-1"));
    assert_null(changes_find(reg, NULL));
    assert_null(changes_find(NULL, "CHG-1"));
    assert_int_equal(changes_count(NULL), 0);
    changes_destroy(reg);
    changes_destroy(NULL);
}

static void test_register_defaults_and_dcc(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    change_t c = mk("MAINT-1", CHG_DCC_USER);
    c.end = c.start; /* an instant is a valid window */
    assert_int_equal(changes_add(reg, &c), 0);
    const change_t *got = changes_get(reg, 0);
    assert_int_equal(got->affects, CHG_BOTH);
    assert_true(change_is_dcc(got));
    c = mk("CHG-2", "DCCX");
    assert_int_equal(changes_add(reg, &c), 0);
    assert_false(change_is_dcc(changes_get(reg, 1)));
    assert_false(change_is_dcc(NULL));
    changes_destroy(reg);
}

static void test_register_duplicate_and_invalid(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    change_t c = mk("CHG-1", "U1");
    assert_int_equal(changes_add(reg, &c), 0);
    c.user = "U2";
    assert_int_equal(changes_add(reg, &c), SW_EEXISTS);
    assert_int_equal(changes_count(reg), 1);
    assert_string_equal(changes_get(reg, 0)->user, "U1");

    change_t bad = mk(NULL, "U1");
    assert_int_equal(changes_add(reg, &bad), SW_EINVAL);
    bad = mk("CHG-9", NULL);
    assert_int_equal(changes_add(reg, &bad), SW_EINVAL);
    bad = mk("CHG-9", "U1");
    bad.end = bad.start - 1;
    assert_int_equal(changes_add(reg, &bad), SW_EINVAL);
    bad = mk("CHG-9", "U1");
    bad.affects = 4;
    assert_int_equal(changes_add(reg, &bad), SW_EINVAL);
    assert_int_equal(changes_add(reg, NULL), SW_EINVAL);
    assert_int_equal(changes_add(NULL, &c), SW_EINVAL);
    assert_int_equal(changes_count(reg), 1);
    changes_destroy(reg);
}

static void test_register_remove(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    const char *ids[] = { "A", "B", "C", "D" };
    for (size_t i = 0; i < 4; i++) {
        change_t c = mk(ids[i], "U");
        c.title = "t";
        assert_int_equal(changes_add(reg, &c), 0);
    }
    assert_int_equal(changes_remove(reg, "B"), 0);
    assert_int_equal(changes_remove(reg, "B"), SW_ENOTFOUND);
    assert_int_equal(changes_remove(reg, "Z"), SW_ENOTFOUND);
    assert_int_equal(changes_remove(reg, NULL), SW_ENOTFOUND);
    assert_int_equal(changes_remove(NULL, "A"), SW_ENOTFOUND);
    /* The last change fills the hole (nothing shifts). */
    assert_int_equal(changes_count(reg), 3);
    assert_string_equal(changes_get(reg, 0)->id, "A");
    assert_string_equal(changes_get(reg, 1)->id, "D");
    assert_string_equal(changes_get(reg, 2)->id, "C");
    assert_null(changes_find(reg, "B"));
    assert_ptr_equal(changes_find(reg, "D"), changes_get(reg, 1));
    /* The id is free again. */
    change_t c = mk("B", "U");
    assert_int_equal(changes_add(reg, &c), 0);
    assert_string_equal(changes_get(reg, 3)->id, "B");
    assert_int_equal(changes_remove(reg, "B"), 0); /* the last one */
    assert_int_equal(changes_remove(reg, "A"), 0); /* the first one */
    assert_int_equal(changes_count(reg), 2);
    assert_string_equal(changes_get(reg, 0)->id, "C");
    assert_string_equal(changes_get(reg, 1)->id, "D");
    assert_ptr_equal(changes_find(reg, "C"), changes_get(reg, 0));
    assert_ptr_equal(changes_find(reg, "D"), changes_get(reg, 1));
    changes_destroy(reg);
}

/*
 * 40 000 adds, then every other change removed and re-added: each finds
 * its id in O(1). Counted, not timed: a scan per add would look at ~n/2
 * ids each (8e8 in all); the index looks at a couple of slots.
 */
static void test_register_scales(void **state)
{
    (void)state;
    enum { N = 40000 };
    changes_t *reg = changes_create();
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "CHG-%06d", i);
        change_t c = mk(id, "U");
        assert_int_equal(changes_add(reg, &c), 0);
    }
    for (int i = 0; i < N; i += 2) {
        snprintf(id, sizeof(id), "CHG-%06d", i);
        assert_int_equal(changes_remove(reg, id), 0);
    }
    assert_int_equal(changes_count(reg), N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "CHG-%06d", i);
        const change_t *c = changes_find(reg, id);
        if (i % 2) {
            assert_non_null(c);
            assert_string_equal(c->id, id);
        } else {
            assert_null(c);
        }
    }
    for (int i = 0; i < N; i += 2) {
        snprintf(id, sizeof(id), "CHG-%06d", i);
        change_t c = mk(id, "U");
        assert_int_equal(changes_add(reg, &c), 0);
    }
    for (size_t i = 0; i < changes_count(reg); i++)
        assert_ptr_equal(changes_find(reg, changes_get(reg, i)->id), changes_get(reg, i));
    uint64_t ops = N + N / 2 + N / 2;
    if (changes_probes(reg) > 8 * ops)
        fail_msg("%llu probes for %llu adds and removes: not O(1) each",
                 (unsigned long long)changes_probes(reg), (unsigned long long)ops);
    changes_destroy(reg);
}

/* The limits of change_check_text(), at and one past each edge. */
static void test_register_text_limits(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        size_t max;
    } limits[] = {
        { "id", CHG_MAX_ID },         { "user", CHG_MAX_USER },    { "kind", CHG_MAX_KIND },
        { "title", CHG_MAX_TEXT },    { "expected", CHG_MAX_TEXT }, { "contact", CHG_MAX_TEXT },
    };
    char buf[CHG_MAX_TEXT + 2], why[128], want[128];
    memset(buf, 'x', sizeof(buf));
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        assert_int_equal(change_check_text(limits[i].key, buf, limits[i].max, why, sizeof(why)),
                         0);
        assert_int_equal(change_check_text(limits[i].key, buf, limits[i].max + 1, why,
                                           sizeof(why)),
                         SW_ERANGE);
        snprintf(want, sizeof(want), "longer than %zu bytes (%zu)", limits[i].max,
                 limits[i].max + 1);
        assert_string_equal(why, want);
    }
    assert_int_equal(CHG_MAX_USER, 64); /* the line protocol's LP_MAX_ID */
    /* control characters: none in ids, tabs and line feeds in free text */
    assert_int_equal(change_check_text("id", "A\nB", 3, why, sizeof(why)), SW_EPARSE);
    assert_string_equal(why, "control character 0x0a at byte 2");
    assert_int_equal(change_check_text("user", "U\x7f", 2, why, sizeof(why)), SW_EPARSE);
    assert_string_equal(why, "control character 0x7f at byte 2");
    assert_int_equal(change_check_text("kind", "fire\twall", 9, why, sizeof(why)), SW_EPARSE);
    assert_int_equal(change_check_text("id", "A\0B", 3, why, sizeof(why)), SW_EPARSE);
    assert_string_equal(why, "control character 0x00 at byte 2");
    const char *free_text = "two\tcolumns\nand lines";
    assert_int_equal(change_check_text("title", free_text, strlen(free_text), NULL, 0), 0);
    assert_int_equal(change_check_text("expected", "a\r\n", 3, why, sizeof(why)), SW_EPARSE);
    assert_string_equal(why, "control character 0x0d at byte 2 (only tabs and line feeds "
                             "are allowed)");
    assert_int_equal(change_check_text("contact", "\x1b[31m", 5, why, sizeof(why)), SW_EPARSE);
    /* UTF-8 beyond ASCII is text, and an unknown key has no limit */
    assert_int_equal(change_check_text("title", "M\xc3\xa9tro", 6, why, sizeof(why)), 0);
    assert_int_equal(change_check_text("other", "\n", 1, why, sizeof(why)), 0);
}

static void test_register_growth(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "CHG-%04d", i);
        change_t c = mk(id, "U");
        assert_int_equal(changes_add(reg, &c), 0);
    }
    assert_int_equal(changes_count(reg), 100);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof(id), "CHG-%04d", i);
        assert_ptr_equal(changes_find(reg, id), changes_get(reg, (size_t)i));
    }
    changes_destroy(reg);
}

static void test_register_alloc_failure(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    changes_t *reg = changes_create();
    change_t c = mk("CHG-1", "U1");
    c.title = "title";
    c.kind = "kind";
    c.expected = "expected";
    c.contact = "contact";
    /* Every allocation of an add fails in turn; the register stays as it was. */
    for (long k = 0;; k++) {
        allocfail_reset(k);
        int rc = changes_add(reg, &c);
        allocfail_disarm();
        if (allocfail_count() <= k) {
            assert_int_equal(rc, 0);
            assert_true(k >= 6); /* six strings (and the array, kept once grown) */
            break;
        }
        assert_int_equal(rc, SW_ENOMEM);
        assert_int_equal(changes_count(reg), 0);
    }
    assert_int_equal(changes_count(reg), 1);
    assert_string_equal(changes_get(reg, 0)->contact, "contact");
    allocfail_reset(0);
    assert_null(changes_create());
    allocfail_disarm();
    changes_destroy(reg);
}

/* ---- declared impact and forecasts, in the register ---- */

static void test_register_impact(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    change_t c = mk("CHG-1", "U1");
    /* undeclared: 1 both ways, whatever impact[] holds */
    c.impact[DIR_SOUTH] = 7;
    assert_int_equal(changes_add(reg, &c), 0);
    const change_t *got = changes_find(reg, "CHG-1");
    assert_near(change_impact(got, DIR_SOUTH), 1.0, 0);
    assert_near(change_impact(got, DIR_NORTH), 1.0, 0);
    /* declared: the bounds 0 and CHG_MAX_IMPACT are in */
    c = mk("CHG-2", "U1");
    c.impact[DIR_SOUTH] = 0;
    c.impact[DIR_NORTH] = CHG_MAX_IMPACT;
    c.impact_set = CHG_BOTH;
    assert_int_equal(changes_add(reg, &c), 0);
    got = changes_find(reg, "CHG-2");
    assert_near(change_impact(got, DIR_SOUTH), 0.0, 0);
    assert_near(change_impact(got, DIR_NORTH), CHG_MAX_IMPACT, 0);
    assert_near(change_impact(got, DIR_BOTH), 1.0, 0); /* not a direction of its own */
    /* one direction declared, the other 1 */
    c = mk("CHG-3", "U1");
    c.impact[DIR_NORTH] = 3;
    c.impact_set = CHG_NORTH;
    assert_int_equal(changes_add(reg, &c), 0);
    got = changes_find(reg, "CHG-3");
    assert_near(change_impact(got, DIR_NORTH), 3.0, 0);
    assert_near(change_impact(got, DIR_SOUTH), 1.0, 0);
    /* refused: below 0, above the limit, NaN, an unknown bit; nothing added */
    static const struct {
        double x;
        unsigned set;
    } bad[] = { { -0.001, CHG_SOUTH }, { CHG_MAX_IMPACT + 0.001, CHG_NORTH }, { NAN, CHG_SOUTH },
                { 1, 4 } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = mk("CHG-BAD", "U1");
        c.impact[DIR_SOUTH] = c.impact[DIR_NORTH] = bad[i].x;
        c.impact_set = bad[i].set;
        assert_int_equal(changes_add(reg, &c), SW_EINVAL);
    }
    assert_int_equal(changes_count(reg), 3);
    changes_destroy(reg);
}

static void test_register_forecasts(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    forecast_t f = { .user = "U1", .from_day = 100, .to_day = 129, .per_day = 1200000, .line = 4 };
    assert_int_equal(changes_add_forecast(reg, &f), 0);
    /* the next month of the same User, and the same days of another */
    f = (forecast_t){ .user = "U1", .from_day = 130, .to_day = 130, .per_day = 5 };
    assert_int_equal(changes_add_forecast(reg, &f), 0);
    f = (forecast_t){ .user = "U2", .from_day = 100, .to_day = 129, .per_day = 0.5 };
    assert_int_equal(changes_add_forecast(reg, &f), 0);
    assert_int_equal(changes_forecast_count(reg), 3);
    /* a day already forecast for the User, at either end */
    f = (forecast_t){ .user = "U1", .from_day = 129, .to_day = 129, .per_day = 1 };
    assert_int_equal(changes_add_forecast(reg, &f), SW_EEXISTS);
    f = (forecast_t){ .user = "U1", .from_day = 90, .to_day = 100, .per_day = 1 };
    assert_int_equal(changes_add_forecast(reg, &f), SW_EEXISTS);
    /* invalid */
    f = (forecast_t){ .user = "U3", .from_day = 10, .to_day = 9, .per_day = 1 };
    assert_int_equal(changes_add_forecast(reg, &f), SW_EINVAL);
    f.to_day = 10;
    f.per_day = 0;
    assert_int_equal(changes_add_forecast(reg, &f), SW_EINVAL);
    f.per_day = NAN;
    assert_int_equal(changes_add_forecast(reg, &f), SW_EINVAL);
    f = (forecast_t){ .user = NULL, .from_day = 1, .to_day = 1, .per_day = 1 };
    assert_int_equal(changes_add_forecast(reg, &f), SW_EINVAL);
    assert_int_equal(changes_add_forecast(NULL, &f), SW_EINVAL);
    assert_int_equal(changes_forecast_count(reg), 3);

    /* lookups: both ends inclusive, the day before and after not */
    const forecast_t *got = changes_forecast_for(reg, "U1", 100);
    assert_non_null(got);
    assert_near(got->per_day, 1200000, 0);
    assert_int_equal(got->line, 4);
    assert_ptr_equal(changes_forecast_for(reg, "U1", 129), got);
    assert_near(changes_forecast_for(reg, "U1", 130)->per_day, 5, 0);
    assert_null(changes_forecast_for(reg, "U1", 99));
    assert_null(changes_forecast_for(reg, "U1", 131));
    assert_near(changes_forecast_for(reg, "U2", 115)->per_day, 0.5, 0);
    assert_null(changes_forecast_for(reg, "U3", 115));
    assert_null(changes_forecast_for(NULL, "U1", 100));
    assert_ptr_equal(changes_forecast_get(reg, 0), got);
    assert_null(changes_forecast_get(reg, 3));

    /* copied with their Users' strings */
    changes_t *copy = changes_create();
    assert_int_equal(changes_copy_forecasts(copy, reg), 0);
    assert_int_equal(changes_forecast_count(copy), 3);
    changes_destroy(reg);
    assert_near(changes_forecast_for(copy, "U1", 100)->per_day, 1200000, 0);
    changes_destroy(copy);
}

/* ---- the YAML loader ---- */

static const char contract_example[] =
    "changes:\n"
    "  - id: CHG-0412                       # unique, required\n"
    "    user: 90-B3-D5-1F-30-01-00-0A      # the User making the change\n"
    "    title: Firewall rule update at the User's gateway\n"
    "    kind: firewall                     # free text\n"
    "    start: 2019-09-12T09:00:00Z        # RFC 3339, required\n"
    "    end: 2019-09-12T11:00:00Z          # RFC 3339, required, not before start\n"
    "    affects: [north]                   # north, south or both; default both\n"
    "    expected: no change in traffic volumes expected   # optional free text\n"
    "    contact: ops@example.org           # optional\n";

static void check_contract_change(const changes_t *reg)
{
    assert_int_equal(changes_count(reg), 1);
    const change_t *c = changes_find(reg, "CHG-0412");
    assert_non_null(c);
    assert_string_equal(c->user, "90-B3-D5-1F-30-01-00-0A");
    assert_string_equal(c->title, "Firewall rule update at the User's gateway");
    assert_string_equal(c->kind, "firewall");
    assert_true(c->start == INT64_C(1568278800) * S);
    assert_true(c->end == INT64_C(1568286000) * S);
    assert_int_equal(c->affects, CHG_NORTH);
    assert_string_equal(c->expected, "no change in traffic volumes expected");
    assert_string_equal(c->contact, "ops@example.org");
    assert_int_equal(c->line, 2);
    assert_false(change_is_dcc(c));
}

static void test_yaml_contract_example(void **state)
{
    (void)state;
    changes_t *reg = load_ok(contract_example);
    check_contract_change(reg);
    changes_destroy(reg);
}

static void test_yaml_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sw_changes_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, contract_example, sizeof(contract_example) - 1),
                     (ssize_t)sizeof(contract_example) - 1);
    close(fd);
    changes_t *reg = changes_create();
    char err[512] = "x";
    assert_int_equal(changes_load_yaml(path, reg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    check_contract_change(reg);
    changes_destroy(reg);
    unlink(path);

    /* A file that cannot be read: SW_EIO naming the path and the reason. */
    reg = changes_create();
    assert_int_equal(changes_load_yaml(path, reg, err, sizeof(err)), SW_EIO);
    char want[600];
    snprintf(want, sizeof(want), "%s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_int_equal(changes_load_yaml("/tmp", reg, err, sizeof(err)), SW_EIO);
    assert_string_equal(err, "/tmp: Is a directory");
    assert_int_equal(changes_count(reg), 0);
    changes_destroy(reg);
}

static void test_yaml_several_and_dcc(void **state)
{
    (void)state;
    changes_t *reg = load_ok("# a register\n"
                             "changes:\n"
                             "  - id: MAINT-7\n"
                             "    user: DCC\n"
                             "    kind: maintenance\n"
                             "    start: \"2019-09-12T06:20:30Z\"\n"
                             "    end: '2019-09-12T07:40:30+01:00'\n"
                             "  - {id: CHG-2, user: U2, start: 2019-09-12 06:00:00.5Z,\n"
                             "     end: 2019-09-12T06:00:00.5Z}\n");
    assert_int_equal(changes_count(reg), 2);
    const change_t *m = changes_get(reg, 0);
    assert_string_equal(m->id, "MAINT-7");
    assert_true(change_is_dcc(m));
    assert_true(m->end - m->start == 20 * 60 * S);
    assert_int_equal(m->affects, CHG_BOTH);
    assert_null(m->title);
    assert_null(m->expected);
    assert_null(m->contact);
    assert_int_equal(m->line, 3);
    const change_t *c = changes_get(reg, 1);
    assert_string_equal(c->id, "CHG-2");
    assert_true(c->start == c->end);
    assert_true(c->start == t("2019-09-12T06:00:00Z") + S / 2);
    assert_int_equal(c->line, 8);
    changes_destroy(reg);
}

static void test_yaml_affects(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        unsigned want;
    } cases[] = {
        { "    affects: north\n", CHG_NORTH },
        { "    affects: south\n", CHG_SOUTH },
        { "    affects: both\n", CHG_BOTH },
        { "    affects: North\n", CHG_NORTH },
        { "    affects: [north]\n", CHG_NORTH },
        { "    affects: [south]\n", CHG_SOUTH },
        { "    affects: [both]\n", CHG_BOTH },
        { "    affects: [north, south]\n", CHG_BOTH },
        { "    affects: [south, north]\n", CHG_BOTH },
        { "    affects: [north, north]\n", CHG_NORTH },
        { "    affects:\n      - south\n", CHG_SOUTH },
        { "    affects:\n", CHG_BOTH },
        { "    affects: ~\n", CHG_BOTH },
        { "", CHG_BOTH },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "changes:\n  - id: C\n    user: U\n%s"
                 "    start: 2019-09-12T09:00:00Z\n    end: 2019-09-12T10:00:00Z\n",
                 cases[i].line);
        changes_t *reg = load_ok(yaml);
        assert_int_equal(changes_get(reg, 0)->affects, cases[i].want);
        changes_destroy(reg);
    }
}

static void test_yaml_empty_registers(void **state)
{
    (void)state;
    static const char *const empty[] = {
        "",
        "# nothing declared yet\n",
        "---\n",
        "changes: []\n",
        "changes:\n",
        "changes: ~\n",
        "version: 2\nchanges: []\n",
    };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        changes_t *reg = load_ok(empty[i]);
        assert_int_equal(changes_count(reg), 0);
        changes_destroy(reg);
    }
    changes_t *reg = changes_create();
    assert_int_equal(changes_load_yaml_buf("x", NULL, 0, reg, NULL, 0), 0);
    changes_destroy(reg);
}

static void test_yaml_unknown_keys_ignored(void **state)
{
    (void)state;
    changes_t *reg = load_ok("version: 3\n"
                             "meta:\n"
                             "  owner: {team: ops, ids: [1, 2, {x: y}]}\n"
                             "changes:\n"
                             "  - ticket: INC-9\n"
                             "    id: CHG-1\n"
                             "    notes:\n"
                             "      - {id: NOT-THIS, start: bad, end: bad}\n"
                             "      - [user, title]\n"
                             "    approvals: {by: {name: X, user: Y}, when: yesterday}\n"
                             "    user: U1\n"
                             "    risk: [low, {start: also not this}]\n"
                             "    start: 2019-09-12T09:00:00Z\n"
                             "    end: 2019-09-12T10:00:00Z\n"
                             "    ? [a, complex, key]\n"
                             "    : ignored too\n"
                             "    title: after the unknown keys\n"
                             "trailer: {changes: not this either}\n");
    assert_int_equal(changes_count(reg), 1);
    const change_t *c = changes_get(reg, 0);
    assert_string_equal(c->id, "CHG-1");
    assert_string_equal(c->user, "U1");
    assert_string_equal(c->title, "after the unknown keys");
    assert_true(c->start == t("2019-09-12T09:00:00Z"));
    changes_destroy(reg);
}

/* ---- impact, forecasts and warnings in the YAML ---- */

/* A change C of user U at 09:00-10:00 with `extra` lines appended. */
static char *one_change(const char *extra)
{
    size_t n = strlen(extra) + 256;
    char *yaml = malloc(n);
    assert_non_null(yaml);
    snprintf(yaml, n,
             "changes:\n  - id: C\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
             "    end: 2019-09-12T10:00:00Z\n%s", extra);
    return yaml;
}

/* Case i: loading `yaml` fails with exactly `msg`. */
static void expect_error(size_t i, const char *yaml, const char *msg)
{
    char err[512];
    changes_t *reg = load(yaml, SW_ECONFIG, err, sizeof(err));
    if (strcmp(err, msg) != 0)
        print_error("case %zu:\n got: %s\nwant: %s\n", i, err, msg);
    assert_string_equal(err, msg);
    changes_destroy(reg);
}

static void test_yaml_impact(void **state)
{
    (void)state;
    static const struct {
        const char *lines;
        unsigned set;
        double south, north;
    } cases[] = {
        { "", 0, 1, 1 },
        { "    impact:\n", 0, 1, 1 },
        { "    impact: ~\n", 0, 1, 1 },
        { "    impact: {}\n", 0, 1, 1 },
        { "    impact:\n      south: 1.0\n      north: 1.0\n", CHG_BOTH, 1, 1 },
        { "    impact: {south: 0, north: 1000}\n", CHG_BOTH, 0, 1000 },
        { "    impact: {north: 3}\n", CHG_NORTH, 1, 3 },
        { "    impact: {south: 0.25}\n", CHG_SOUTH, 0.25, 1 },
        { "    impact: {south: 1e2, north: '2.5'}\n", CHG_BOTH, 100, 2.5 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *yaml = one_change(cases[i].lines);
        changes_t *reg = load_ok(yaml);
        const change_t *c = changes_get(reg, 0);
        if (c->impact_set != cases[i].set)
            fail_msg("case %zu: impact_set %u, want %u", i, c->impact_set, cases[i].set);
        assert_near(change_impact(c, DIR_SOUTH), cases[i].south, 0);
        assert_near(change_impact(c, DIR_NORTH), cases[i].north, 0);
        changes_destroy(reg);
        free(yaml);
    }
}

static void test_yaml_impact_refused(void **state)
{
    (void)state;
    static const struct {
        const char *lines, *msg;
    } cases[] = {
        { "    impact: {south: -1}\n", "changes.yaml:6: change C: key 'impact.south': expected "
          "a number from 0 to 1000, got '-1'" },
        { "    impact: {south: -0.0001}\n", "changes.yaml:6: change C: key 'impact.south': "
          "expected a number from 0 to 1000, got '-0.0001'" },
        { "    impact:\n      north: 1000.001\n", "changes.yaml:7: change C: key "
          "'impact.north': expected a number from 0 to 1000, got '1000.001'" },
        { "    impact: {north: lots}\n", "changes.yaml:6: change C: key 'impact.north': "
          "expected a number from 0 to 1000, got 'lots'" },
        { "    impact: {north: .nan}\n", "changes.yaml:6: change C: key 'impact.north': "
          "expected a number from 0 to 1000, got '.nan'" },
        { "    impact: {north: 0x10}\n", "changes.yaml:6: change C: key 'impact.north': "
          "expected a number from 0 to 1000, got '0x10'" },
        { "    impact: {north: 1e999}\n", "changes.yaml:6: change C: key 'impact.north': "
          "expected a number from 0 to 1000, got '1e999'" },
        { "    impact: {north: }\n", "changes.yaml:6: change C: key 'impact.north': "
          "expected a number from 0 to 1000, got an empty value" },
        { "    impact: {north: [1]}\n", "changes.yaml:6: change C: key 'impact.north': "
          "expected a number from 0 to 1000, got a sequence" },
        { "    impact:\n      south: 1\n      east: 2\n", "changes.yaml:8: change C: key "
          "'impact.east': unknown key (expected south or north)" },
        { "    impact: {south: 1, south: 2}\n", "changes.yaml:6: change C: key "
          "'impact.south': duplicate key" },
        { "    impact: 2\n", "changes.yaml:6: change C: key 'impact': expected a mapping of "
          "south and north, got '2'" },
        { "    impact: [1, 2]\n", "changes.yaml:6: change C: key 'impact': expected a mapping "
          "of south and north, got a sequence" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *yaml = one_change(cases[i].lines);
        expect_error(i, yaml, cases[i].msg);
        free(yaml);
    }
}

/* Days since 1970-01-01 of a UTC date. */
static int32_t day_of(const char *date)
{
    char stamp[32];
    snprintf(stamp, sizeof(stamp), "%sT00:00:00Z", date);
    return (int32_t)(t(stamp) / (86400 * S));
}

static void test_yaml_forecasts(void **state)
{
    (void)state;
    changes_t *reg = load_ok("changes: []\n"
                             "forecasts:\n"
                             "  - user: 90-B3-D5-1F-30-01-00-0A\n"
                             "    from: 2019-09-01\n"
                             "    to: 2019-09-30\n"
                             "    requests_per_day: 1200000\n"
                             "  - {user: 90-B3-D5-1F-30-01-00-0A, from: 2019-10-01, to: 2019-10-01,"
                             " requests_per_day: 0.5}\n"
                             "  - {user: U2, from: '2019-09-15', to: 2019-09-20,"
                             " requests_per_day: 1e3}\n"
                             "  - {user: U3, from: 1969-12-31, to: 1969-12-31,"
                             " requests_per_day: 1}\n");
    assert_int_equal(changes_forecast_count(reg), 4);
    const forecast_t *f = changes_forecast_get(reg, 0);
    assert_string_equal(f->user, "90-B3-D5-1F-30-01-00-0A");
    assert_int_equal(f->from_day, day_of("2019-09-01"));
    assert_int_equal(f->to_day, day_of("2019-09-30"));
    assert_near(f->per_day, 1200000, 0);
    assert_int_equal(f->line, 3);
    f = changes_forecast_for(reg, "90-B3-D5-1F-30-01-00-0A", day_of("2019-10-01"));
    assert_non_null(f);
    assert_near(f->per_day, 0.5, 0);
    assert_int_equal(f->from_day, f->to_day);
    assert_near(changes_forecast_for(reg, "U2", day_of("2019-09-20"))->per_day, 1000, 0);
    assert_null(changes_forecast_for(reg, "U2", day_of("2019-09-21")));
    assert_int_equal(changes_forecast_get(reg, 3)->from_day, -1);
    changes_destroy(reg);

    /* empty lists, and forecasts written before the changes */
    reg = load_ok("forecasts: []\nchanges: []\n");
    assert_int_equal(changes_forecast_count(reg), 0);
    changes_destroy(reg);
    reg = load_ok("forecasts:\nchanges:\n  - {id: A, user: U, start: 2019-09-12T09:00:00Z,"
                  " end: 2019-09-12T09:00:00Z}\n");
    assert_int_equal(changes_count(reg), 1);
    changes_destroy(reg);
}

static void test_yaml_forecasts_refused(void **state)
{
    (void)state;
#define FC(body) "changes: []\nforecasts:\n  - " body "\n"
    static const struct {
        const char *yaml, *msg;
    } cases[] = {
        { FC("{user: U, from: 2019-09-02, to: 2019-09-01, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'to': to is before from" },
        { FC("{user: U, from: 2019-09-01, to: 2019-09-30, requests_per_day: 0}"),
          "changes.yaml:3: forecast #1: key 'requests_per_day': expected a number above 0, "
          "got '0'" },
        { FC("{user: U, from: 2019-09-01, to: 2019-09-30, requests_per_day: -5}"),
          "changes.yaml:3: forecast #1: key 'requests_per_day': expected a number above 0, "
          "got '-5'" },
        { FC("{user: U, from: 2019-09-01, to: 2019-09-30, requests_per_day: many}"),
          "changes.yaml:3: forecast #1: key 'requests_per_day': expected a number above 0, "
          "got 'many'" },
        { FC("{user: U, from: 2019-09-01, to: 2019-09-30}"),
          "changes.yaml:3: forecast #1: key 'requests_per_day': missing required key" },
        { FC("{from: 2019-09-01, to: 2019-09-30, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'user': missing required key" },
        { FC("{user: U, to: 2019-09-30, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'from': missing required key" },
        { FC("{user: U, from: 2019-09-01, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'to': missing required key" },
        { FC("{user: U, from: 2019-9-1, to: 2019-09-30, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'from': bad date '2019-9-1' (expected YYYY-MM-DD, "
          "e.g. 2019-09-01)" },
        { FC("{user: U, from: 2019-09-01, to: 2019-02-30, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'to': bad date '2019-02-30' (expected YYYY-MM-DD, "
          "e.g. 2019-09-01)" },
        { FC("{user: U, from: 2019-09-01T00:00:00Z, to: 2019-09-30, requests_per_day: 1}"),
          "changes.yaml:3: forecast #1: key 'from': bad date '2019-09-01T00:00:00Z' (expected "
          "YYYY-MM-DD, e.g. 2019-09-01)" },
        { FC("{user: U, user: V}"),
          "changes.yaml:3: forecast #1: key 'user': duplicate key (first at line 3)" },
        { FC("{user: U, from: 2019-09-01, to: 2019-09-30, requests_per_day: 1}\n"
             "  - {user: V, from: 2019-09-01, to: 2019-09-30, requests_per_day: 1}\n"
             "  - {user: U, from: 2019-09-30, to: 2019-10-30, requests_per_day: 1}"),
          "changes.yaml:5: forecast #3: key 'from': overlaps the forecast of the same User at "
          "line 3" },
        { FC("just text"), "changes.yaml:3: forecast #1: expected a mapping, got 'just text'" },
        { "changes: []\nforecasts: {user: U}\n",
          "changes.yaml:2: key 'forecasts': expected a sequence of forecasts, got a mapping" },
        { "changes: []\nforecasts: []\nforecasts: []\n",
          "changes.yaml:3: key 'forecasts': duplicate key (first at line 2)" },
        { "forecasts: []\n", "changes.yaml:1: key 'changes': missing required key" },
    };
#undef FC
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_error(i, cases[i].yaml, cases[i].msg);
}

/* Warnings, collected one a line. */
typedef struct {
    char text[4096];
    int n;
} warnings_t;

static void on_warning(void *ctx, const char *msg)
{
    warnings_t *w = ctx;
    size_t off = strlen(w->text);
    snprintf(w->text + off, sizeof(w->text) - off, "%s\n", msg);
    w->n++;
}

static void load_warned(const char *yaml, warnings_t *w)
{
    char err[512];
    changes_t *reg = changes_create();
    *w = (warnings_t){ 0 };
    int rc = changes_load_yaml_buf_ex("changes.yaml", yaml, strlen(yaml), reg, on_warning, w,
                                      err, sizeof(err));
    if (rc != 0)
        fail_msg("rc %d: %s", rc, err);
    changes_destroy(reg);
}

static void test_yaml_warnings(void **state)
{
    (void)state;
    warnings_t w;
    /* the contract's example and its impact and forecasts: not a word */
    load_warned(contract_example, &w);
    assert_int_equal(w.n, 0);
    char *yaml = one_change("    kind: Firewall\n    impact: {south: 1}\n"
                            "forecasts:\n  - {user: U, from: 2019-09-01, to: 2019-09-30,"
                            " requests_per_day: 1}\n");
    load_warned(yaml, &w);
    free(yaml);
    assert_string_equal(w.text, "");

    /* unknown keys of a change, of a forecast, of the file; an unknown kind */
    load_warned("version: 3\n"
                "changes:\n"
                "  - id: CHG-0412\n"
                "    user: U1\n"
                "    owner: ops\n"
                "    kind: dns\n"
                "    start: 2019-09-12T09:00:00Z\n"
                "    end: 2019-09-12T10:00:00Z\n"
                "    ? [a, complex, key]\n"
                "    : ignored\n"
                "  - {user: U2, id: C2, start: 2019-09-12T09:00:00Z, end: 2019-09-12T09:00:00Z,"
                " afects: north}\n"
                "forecasts:\n"
                "  - {user: U, from: 2019-09-01, to: 2019-09-30, requests_per_day: 1, note: x}\n"
                "forcasts: []\n",
                &w);
    assert_string_equal(w.text,
                        "changes.yaml:6: change CHG-0412: key 'kind': unknown kind 'dns', kept "
                        "but unknown to the correlator (it knows firewall, network, mdm, "
                        "headend, firmware, maintenance)\n"
                        "changes.yaml:5: change CHG-0412: key 'owner': unknown key, ignored\n"
                        "changes.yaml:9: change CHG-0412: a sequence as a key, ignored\n"
                        "changes.yaml:11: change C2: key 'afects': unknown key, ignored\n"
                        "changes.yaml:13: forecast #1: key 'note': unknown key, ignored\n"
                        "changes.yaml:1: key 'version': unknown key, ignored\n"
                        "changes.yaml:14: key 'forcasts': unknown key, ignored\n");

    /* an error: the change in error is not warned of */
    char err[512];
    changes_t *reg = changes_create();
    w = (warnings_t){ 0 };
    const char *bad = "changes:\n  - {id: A, user: U, owner: x, start: bad}\n";
    assert_int_equal(changes_load_yaml_buf_ex("changes.yaml", bad, strlen(bad), reg, on_warning,
                                              &w, err, sizeof(err)),
                     SW_ECONFIG);
    assert_int_equal(w.n, 0);
    changes_destroy(reg);
}

static void test_yaml_warnings_from_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sw_changes_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yaml = "changes:\n  - {id: A, user: U, start: 2019-09-12T09:00:00Z,"
                       " end: 2019-09-12T09:00:00Z, owner: x}\n";
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    warnings_t w = { 0 };
    changes_t *reg = changes_create();
    char err[512], want[256];
    assert_int_equal(changes_load_yaml_ex(path, reg, on_warning, &w, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s:2: change A: key 'owner': unknown key, ignored\n", path);
    assert_string_equal(w.text, want);
    changes_destroy(reg);
    /* the old entry point takes no warnings, and loads the same */
    reg = changes_create();
    assert_int_equal(changes_load_yaml(path, reg, err, sizeof(err)), 0);
    assert_int_equal(changes_count(reg), 1);
    changes_destroy(reg);
    unlink(path);
}

/* Every error, pinned: the YAML and the exact message. */
static const struct {
    const char *yaml;
    const char *msg;
} yaml_errors[] = {
    { "changes:\n"
      "  - id: CHG-0412\n"
      "    user: U1\n"
      "    start: 2019-09-12T11:00:00Z\n"
      "    end: 2019-09-12T09:00:00Z\n",
      "changes.yaml:5: change CHG-0412: key 'end': end is before start" },
    { "changes:\n"
      "  - {id: A, user: U, start: 2019-09-12T09:00:00Z, end: 2019-09-12T09:00:00Z}\n"
      "  - {id: B, user: U, start: 2019-09-12T09:00:00Z, end: 2019-09-12T09:00:00Z}\n"
      "  - user: U\n"
      "    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12T10:00:00Z\n",
      "changes.yaml:4: change #3: key 'id': missing required key" },
    { "changes:\n  - id: C1\n    start: 2019-09-12T09:00:00Z\n    end: 2019-09-12T10:00:00Z\n",
      "changes.yaml:2: change C1: key 'user': missing required key" },
    { "changes:\n  - id: C1\n    user: U\n    end: 2019-09-12T10:00:00Z\n",
      "changes.yaml:2: change C1: key 'start': missing required key" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T10:00:00Z\n",
      "changes.yaml:2: change C1: key 'end': missing required key" },
    { "changes:\n  - id:\n    user: U\n",
      "changes.yaml:2: change #1: key 'id': missing value" },
    { "changes:\n  - id: ''\n    user: U\n",
      "changes.yaml:2: change #1: key 'id': missing value" },
    { "changes:\n  - id: {a: b}\n    user: U\n",
      "changes.yaml:2: change #1: key 'id': expected text, got a mapping" },
    { "changes:\n  - id: C1\n    user: ~\n",
      "changes.yaml:3: change C1: key 'user': missing value" },
    { "changes:\n  - id: C1\n    user: [U1, U2]\n",
      "changes.yaml:3: change C1: key 'user': expected text, got a sequence" },
    { "changes:\n  - id: C1\n    user: U\n    title: {text: x}\n",
      "changes.yaml:4: change C1: key 'title': expected text, got a mapping" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-02-29T09:00:00Z\n",
      "changes.yaml:4: change C1: key 'start': bad date '2019-02-29T09:00:00Z' "
      "(expected RFC 3339, e.g. 2019-09-12T09:00:00Z)" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12\n",
      "changes.yaml:5: change C1: key 'end': bad date '2019-09-12' "
      "(expected RFC 3339, e.g. 2019-09-12T09:00:00Z)" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-13-01T09:00:00Z\n",
      "changes.yaml:4: change C1: key 'start': bad date '2019-13-01T09:00:00Z' "
      "(expected RFC 3339, e.g. 2019-09-12T09:00:00Z)" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 9999-12-31T00:00:00Z\n",
      "changes.yaml:5: change C1: key 'end': date '9999-12-31T00:00:00Z' out of range "
      "(1677-09-21 to 2262-04-11)" },
    { "changes:\n"
      "  - {id: C1, user: U, start: 2019-09-12T09:00:00Z, end: 2019-09-12T09:00:00Z}\n"
      "  - id: C1\n"
      "    user: V\n",
      "changes.yaml:3: change C1: key 'id': duplicate id (first at line 2)" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    start: 2019-09-12T10:00:00Z\n",
      "changes.yaml:5: change C1: key 'start': duplicate key (first at line 4)" },
    { "changes:\n  - user: U\n    user: V\n",
      "changes.yaml:3: change #1: key 'user': duplicate key (first at line 2)" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12T10:00:00Z\n    affects: east\n",
      "changes.yaml:6: change C1: key 'affects': expected north, south or both, got 'east'" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12T10:00:00Z\n    affects:\n      - north\n      - up\n",
      "changes.yaml:8: change C1: key 'affects': expected north, south or both, got 'up'" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12T10:00:00Z\n    affects: []\n",
      "changes.yaml:6: change C1: key 'affects': expected north, south or both, "
      "got an empty list" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12T10:00:00Z\n    affects: {north: yes}\n",
      "changes.yaml:6: change C1: key 'affects': expected north, south or both, got a mapping" },
    { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
      "    end: 2019-09-12T10:00:00Z\n    contact: [a, b]\n",
      "changes.yaml:6: change C1: key 'contact': expected text, got a sequence" },
    { "changes:\n  - just text\n",
      "changes.yaml:2: change #1: expected a mapping, got 'just text'" },
    { "changes:\n  - [a, b]\n",
      "changes.yaml:2: change #1: expected a mapping, got a sequence" },
    { "changes: {id: C1}\n",
      "changes.yaml:1: key 'changes': expected a sequence of changes, got a mapping" },
    { "changes: none\n",
      "changes.yaml:1: key 'changes': expected a sequence of changes, got 'none'" },
    { "- id: C1\n",
      "changes.yaml:1: expected a mapping with the key 'changes', got a sequence" },
    { "just text\n",
      "changes.yaml:1: expected a mapping with the key 'changes', got 'just text'" },
    { "version: 2\nchange: []\n",
      "changes.yaml:1: key 'changes': missing required key" },
    { "changes: []\nchanges: []\n",
      "changes.yaml:2: key 'changes': duplicate key (first at line 1)" },
    { "changes:\n  - id: C1\n    user: [U\n",
      "changes.yaml:4: invalid YAML: did not find expected ',' or ']' "
      "(while parsing a flow sequence at line 3)" },
    { "changes:\n  - id: C1\n   user: U\n",
      "changes.yaml:3: invalid YAML: did not find expected '-' indicator "
      "(while parsing a block collection at line 2)" },
    { "changes:\n  - id: *nowhere\n",
      "changes.yaml:2: invalid YAML: found undefined alias" },
    { "changes: []\n---\nchanges: []\n",
      "changes.yaml:3: expected a single YAML document, found another" },
    { "changes:\n  - id: \xff\n",
      "changes.yaml: invalid YAML: invalid leading UTF-8 octet at byte 17" },
};

static void test_yaml_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(yaml_errors) / sizeof(yaml_errors[0]); i++)
        expect_error(i, yaml_errors[i].yaml, yaml_errors[i].msg);
}

/* YAML of one change whose key `key` holds `len` bytes of `fill`. */
static char *change_with(const char *key, size_t len, char fill)
{
    char *v = malloc(len + 1);
    assert_non_null(v);
    memset(v, fill, len);
    v[len] = '\0';
    size_t n = len + 512;
    char *yaml = malloc(n);
    assert_non_null(yaml);
    snprintf(yaml, n,
             "changes:\n  - id: %s\n    user: %s\n    title: %s\n"
             "    start: 2019-09-12T09:00:00Z\n    end: 2019-09-12T10:00:00Z\n",
             strcmp(key, "id") ? "C1" : v, strcmp(key, "user") ? "U" : v,
             strcmp(key, "title") ? "T" : v);
    free(v);
    return yaml;
}

static void test_yaml_text_limits(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        size_t max;
        const char *msg; /* one byte over */
    } cases[] = {
        { "id", CHG_MAX_ID, "changes.yaml:2: change #1: key 'id': longer than 128 bytes (129)" },
        { "user", CHG_MAX_USER,
          "changes.yaml:3: change C1: key 'user': longer than 64 bytes (65)" },
        { "title", CHG_MAX_TEXT,
          "changes.yaml:4: change C1: key 'title': longer than 4096 bytes (4097)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *yaml = change_with(cases[i].key, cases[i].max, 'a');
        changes_t *reg = load_ok(yaml);
        assert_int_equal(changes_count(reg), 1);
        changes_destroy(reg);
        free(yaml);
        char err[512];
        yaml = change_with(cases[i].key, cases[i].max + 1, 'a');
        reg = load(yaml, SW_ECONFIG, err, sizeof(err));
        assert_string_equal(err, cases[i].msg);
        changes_destroy(reg);
        free(yaml);
    }
    /* 60 KB ids are refused before anything else is read */
    char err[512];
    char *yaml = change_with("id", 60000, 'x');
    changes_t *reg = load(yaml, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:2: change #1: key 'id': longer than 128 bytes (60000)");
    changes_destroy(reg);
    free(yaml);
}

static void test_yaml_control_characters(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *msg;
    } cases[] = {
        { "changes:\n  - id: \"CHG\\n1\"\n    user: U\n",
          "changes.yaml:2: change #1: key 'id': control character 0x0a at byte 4" },
        { "changes:\n  - id: \"A\\0B\"\n    user: U\n",
          "changes.yaml:2: change #1: key 'id': control character 0x00 at byte 2" },
        { "changes:\n  - id: C1\n    user: \"U\\x7f\"\n",
          "changes.yaml:3: change C1: key 'user': control character 0x7f at byte 2" },
        { "changes:\n  - id: C1\n    user: U\n    kind: \"fire\\twall\"\n",
          "changes.yaml:4: change C1: key 'kind': control character 0x09 at byte 5" },
        { "changes:\n  - id: C1\n    user: U\n    title: \"a\\rb\"\n",
          "changes.yaml:4: change C1: key 'title': control character 0x0d at byte 2 (only "
          "tabs and line feeds are allowed)" },
        { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
          "    end: 2019-09-12T10:00:00Z\n    contact: \"\\e[31mops\"\n",
          "changes.yaml:6: change C1: key 'contact': control character 0x1b at byte 1 (only "
          "tabs and line feeds are allowed)" },
        { "changes:\n  - id: C1\n    user: U\n    start: 2019-09-12T09:00:00Z\n"
          "    end: 2019-09-12T10:00:00Z\n    affects: [north, south, north, south]\n",
          "changes.yaml:6: change C1: key 'affects': expected at most 3 words, got 4" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512];
        changes_t *reg = load(cases[i].yaml, SW_ECONFIG, err, sizeof(err));
        if (strcmp(err, cases[i].msg) != 0)
            print_error("case %zu:\n got: %s\nwant: %s\n", i, err, cases[i].msg);
        assert_string_equal(err, cases[i].msg);
        changes_destroy(reg);
    }
    /* free text may hold tabs and line feeds: a folded title, a block of notes */
    changes_t *reg = load_ok("changes:\n  - id: C1\n    user: U\n"
                             "    title: >\n      Firewall\n      change\n"
                             "    start: 2019-09-12T09:00:00Z\n    end: 2019-09-12T10:00:00Z\n"
                             "    affects: [north, south, both]\n"
                             "    expected: |\n      line one\n      \tline two\n");
    assert_string_equal(changes_get(reg, 0)->title, "Firewall change\n");
    assert_string_equal(changes_get(reg, 0)->expected, "line one\n\tline two\n");
    changes_destroy(reg);
}

/*
 * 200 KB of nesting took 33 s in libyaml's parser (quadratic in the
 * depth): it is refused at the 33rd level, after reading a few bytes.
 */
static void test_yaml_nesting_limit(void **state)
{
    (void)state;
    char err[512];
    char *open = tu_repeat("", "[", 100000, ""), *close = tu_repeat("", "]", 100000, "\n");
    char *yaml = malloc(strlen(open) + strlen(close) + 16);
    assert_non_null(yaml);
    sprintf(yaml, "changes: %s%s", open, close);
    free(open);
    free(close);
    changes_t *reg = load(yaml, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:1: nesting deeper than 32 levels");
    changes_destroy(reg);
    free(yaml);
    /* in block style too, on the line where it goes too deep */
    yaml = malloc(64 * 1024);
    assert_non_null(yaml);
    size_t n = (size_t)sprintf(yaml, "changes:\n");
    for (int d = 0; d < 40; d++)
        n += (size_t)sprintf(yaml + n, "%*s- \n", 2 * d, "");
    reg = load(yaml, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:33: nesting deeper than 32 levels");
    changes_destroy(reg);
    free(yaml);
    /* 32 levels (the root mapping, `changes` and 30 more) are read as usual, 33 are not */
    yaml = tu_repeat("changes: [", "[", 30, "");
    char *full = tu_repeat(yaml, "]", 31, "\n");
    reg = load(full, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:1: change #1: expected a mapping, got a sequence");
    changes_destroy(reg);
    free(yaml);
    free(full);
    yaml = tu_repeat("changes: [", "[", 31, "");
    full = tu_repeat(yaml, "]", 32, "\n");
    reg = load(full, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:1: nesting deeper than 32 levels");
    changes_destroy(reg);
    free(yaml);
    free(full);
}

static void test_yaml_count_and_size_limits(void **state)
{
    (void)state;
    char err[512], want[600];
    /* the count is checked before any change is read */
    char *yaml = tu_repeat("changes:\n", "  - 0\n", CHANGES_YAML_MAX_CHANGES + 1, "");
    changes_t *reg = load(yaml, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:2: key 'changes': more than 100000 changes (100001)");
    changes_destroy(reg);
    free(yaml);
    yaml = tu_repeat("changes:\n", "  - 0\n", CHANGES_YAML_MAX_CHANGES, "");
    reg = load(yaml, SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:2: change #1: expected a mapping, got '0'");
    changes_destroy(reg);
    free(yaml);
    /* the size before anything is parsed, from a buffer and from a file */
    size_t big = (size_t)CHANGES_YAML_MAX_BYTES + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, ' ', big);
    reg = changes_create();
    assert_int_equal(changes_load_yaml_buf("changes.yaml", buf, big, reg, err, sizeof(err)),
                     SW_ECONFIG);
    assert_string_equal(err, "changes.yaml: larger than 64 MiB");
    free(buf);
    char path[] = "/tmp/sw_changes_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)big), 0); /* sparse: costs no disk */
    close(fd);
    assert_int_equal(changes_load_yaml(path, reg, err, sizeof(err)), SW_ECONFIG);
    snprintf(want, sizeof(want), "%s: larger than 64 MiB", path);
    assert_string_equal(err, want);
    unlink(path);
    changes_destroy(reg);
}

/*
 * 40 000 changes (5.5 s before: a scan of the register per change) load
 * in linear time: counted, not timed, as index probes per change.
 */
static void test_yaml_large_register(void **state)
{
    (void)state;
    enum { N = 40000 };
    size_t cap = (size_t)N * 128 + 64, n = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    n += (size_t)snprintf(yaml, cap, "changes:\n");
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(yaml + n, cap - n,
                              "  - {id: CHG-%06d, user: U%d, start: 2019-09-12T09:00:00Z, "
                              "end: 2019-09-12T10:00:00Z}\n", i, i % 97);
    changes_t *reg = load_ok(yaml);
    assert_int_equal(changes_count(reg), N);
    assert_string_equal(changes_get(reg, N - 1)->id, "CHG-039999");
    if (changes_probes(reg) > 8 * (uint64_t)N)
        fail_msg("%llu index probes for %d changes: not linear",
                 (unsigned long long)changes_probes(reg), N);
    changes_destroy(reg);
    free(yaml);
}

static void test_yaml_error_keeps_earlier_changes(void **state)
{
    (void)state;
    char err[512];
    changes_t *reg = load("changes:\n"
                          "  - {id: A, user: U, start: 2019-09-12T09:00:00Z, "
                          "end: 2019-09-12T09:00:00Z}\n"
                          "  - {id: B, user: U, start: 2019-09-12T09:00:00Z, end: nope}\n",
                          SW_ECONFIG, err, sizeof(err));
    assert_string_equal(err, "changes.yaml:3: change B: key 'end': bad date 'nope' "
                             "(expected RFC 3339, e.g. 2019-09-12T09:00:00Z)");
    /* As documented: what was read before the error stays; the caller discards it. */
    assert_int_equal(changes_count(reg), 1);
    changes_destroy(reg);

    /* An id already in the register (added by the API: no line). */
    reg = changes_create();
    change_t c = mk("A", "U");
    assert_int_equal(changes_add(reg, &c), 0);
    const char *yaml = "changes:\n  - {id: A, user: U}\n";
    assert_int_equal(changes_load_yaml_buf("changes.yaml", yaml, strlen(yaml), reg, err,
                                           sizeof(err)),
                     SW_ECONFIG);
    assert_string_equal(err, "changes.yaml:2: change A: key 'id': duplicate id "
                             "(already in the register)");
    changes_destroy(reg);
}

static void test_yaml_message_buffer(void **state)
{
    (void)state;
    const char *yaml = "changes:\n  - id: C1\n";
    changes_t *reg = changes_create();
    /* No buffer at all is fine; a short one is truncated and terminated. */
    assert_int_equal(changes_load_yaml_buf("changes.yaml", yaml, strlen(yaml), reg, NULL, 0),
                     SW_ECONFIG);
    char err[16];
    assert_int_equal(changes_load_yaml_buf("changes.yaml", yaml, strlen(yaml), reg, err,
                                           sizeof(err)),
                     SW_ECONFIG);
    assert_string_equal(err, "changes.yaml:2:");
    assert_int_equal(changes_load_yaml_buf("x", yaml, strlen(yaml), NULL, err, sizeof(err)),
                     SW_EINVAL);
    assert_int_equal(changes_load_yaml(NULL, reg, err, sizeof(err)), SW_EINVAL);
    changes_destroy(reg);
}

static void test_yaml_alloc_failure(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    char path[] = "/tmp/sw_changes_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yaml = "changes:\n"
                       "  - {id: A, user: U, title: T, kind: K, expected: E, contact: C,\n"
                       "     start: 2019-09-12T09:00:00Z, end: 2019-09-12T09:00:00Z}\n"
                       "  - {id: B, user: U, start: 2019-09-12T09:00:00Z,"
                       " end: 2019-09-12T09:00:00Z, impact: {north: 2}}\n"
                       "forecasts:\n"
                       "  - {user: U, from: 2019-09-01, to: 2019-09-30, requests_per_day: 9}\n";
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    char want[600];
    snprintf(want, sizeof(want), "%s: out of memory", path);
    for (long k = 0;; k++) {
        changes_t *reg = changes_create();
        char err[512];
        allocfail_reset(k);
        int rc = changes_load_yaml(path, reg, err, sizeof(err));
        allocfail_disarm();
        if (allocfail_count() <= k) {
            assert_int_equal(rc, 0);
            assert_int_equal(changes_count(reg), 2);
            assert_int_equal(changes_forecast_count(reg), 1);
            changes_destroy(reg);
            break;
        }
        assert_int_equal(rc, SW_ENOMEM);
        assert_string_equal(err, want);
        changes_destroy(reg);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_add_find),
        cmocka_unit_test(test_register_defaults_and_dcc),
        cmocka_unit_test(test_register_duplicate_and_invalid),
        cmocka_unit_test(test_register_remove),
        cmocka_unit_test(test_register_growth),
        cmocka_unit_test(test_register_alloc_failure),
        cmocka_unit_test(test_register_scales),
        cmocka_unit_test(test_register_text_limits),
        cmocka_unit_test(test_register_impact),
        cmocka_unit_test(test_register_forecasts),
        cmocka_unit_test(test_yaml_text_limits),
        cmocka_unit_test(test_yaml_control_characters),
        cmocka_unit_test(test_yaml_nesting_limit),
        cmocka_unit_test(test_yaml_count_and_size_limits),
        cmocka_unit_test(test_yaml_large_register),
        cmocka_unit_test(test_yaml_contract_example),
        cmocka_unit_test(test_yaml_file),
        cmocka_unit_test(test_yaml_several_and_dcc),
        cmocka_unit_test(test_yaml_affects),
        cmocka_unit_test(test_yaml_empty_registers),
        cmocka_unit_test(test_yaml_unknown_keys_ignored),
        cmocka_unit_test(test_yaml_impact),
        cmocka_unit_test(test_yaml_impact_refused),
        cmocka_unit_test(test_yaml_forecasts),
        cmocka_unit_test(test_yaml_forecasts_refused),
        cmocka_unit_test(test_yaml_warnings),
        cmocka_unit_test(test_yaml_warnings_from_a_file),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_yaml_error_keeps_earlier_changes),
        cmocka_unit_test(test_yaml_message_buffer),
        cmocka_unit_test(test_yaml_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
