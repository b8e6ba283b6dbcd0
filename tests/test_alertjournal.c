/*
 * test_alertjournal.c - the journal of open alerts beside --state
 * (adapters/store/alertjournal.c): what a restart resumes, a torn last line, a
 * corrupt file set aside (or refused when strict), the rewrite that keeps
 * it small, and a write that fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alertjournal.h"
#include "err.h"
#include "testutil.h"

#define S INT64_C(1000000000)

typedef struct {
    int n;
    shard_resume_t r[8];
    char user[8][LP_MAX_ID + 1], cls[8][LP_MAX_ID + 1], change[8][LP_MAX_ID + 1];
} seen_t;

static void each(void *ctx, const shard_resume_t *r)
{
    seen_t *s = ctx;
    if (s->n < 8) {
        s->r[s->n] = *r;
        snprintf(s->user[s->n], sizeof(s->user[0]), "%s", r->user);
        snprintf(s->cls[s->n], sizeof(s->cls[0]), "%s", r->cls);
        snprintf(s->change[s->n], sizeof(s->change[0]), "%s", r->change ? r->change : "");
    }
    s->n++;
}

static void tmp_path(char *path, size_t len)
{
    snprintf(path, len, "/tmp/sw_alertjournal_%d_XXXXXX", (int)getpid());
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
}

static alert_t storm(const char *user, int firing)
{
    return (alert_t){ .kind = ALERT_STORM, .firing = firing, .user = user,
                      .dir = DIR_SOUTH, .cls = "request", .starts_at = 1000 * S,
                      .detected_at = 1010 * S, .value = 50, .baseline = 10, .backlog = -1 };
}

static size_t lines_in(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Two alerts fire, one resolves: the next open resumes the other alone,
 * with what it fired with, and the file holds it alone. */
static void test_resumes_what_was_open(void **state)
{
    (void)state;
    char path[128], err[512];
    tmp_path(path, sizeof(path));
    seen_t seen = { 0 };
    alertjournal_t *j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(seen.n, 0);
    alert_t a = storm("A", 1), b = storm("B", 1);
    b.kind = ALERT_SILENCE;
    b.dir = DIR_NORTH;
    b.cls = "all";
    b.backlog = 42;
    assert_int_equal(alertjournal_record(j, &a), 0);
    assert_int_equal(alertjournal_record(j, &b), 0);
    a.firing = 0;
    assert_int_equal(alertjournal_record(j, &a), 0);
    alertjournal_close(j); /* or killed: every line is written already */
    assert_int_equal(lines_in(path), 3);

    j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.r[0].kind, ALERT_SILENCE);
    assert_int_equal(seen.r[0].dir, DIR_NORTH);
    assert_string_equal(seen.user[0], "B");
    assert_true(seen.r[0].fire.starts_at == 1000 * S);
    assert_true(seen.r[0].fire.detected_at == 1010 * S);
    assert_true(seen.r[0].fire.backlog == 42);
    assert_int_equal(lines_in(path), 1); /* rewritten with the open one */
    alertjournal_stats_t st;
    alertjournal_stats(j, &st);
    assert_int_equal(st.resumed, 1);
    assert_int_equal(st.open, 1);
    alertjournal_close(j);
    unlink(path);
}

/*
 * Alerts go on in their incidents after a restart: a member keeps its
 * incident, role, severity and learning flag; two widespread alerts open at
 * once (User "*", the same kind and direction) are both kept, each with its
 * symptom and change, and the one that resolved goes.
 */
static void test_incidents_kept(void **state)
{
    (void)state;
    char path[128], err[512];
    tmp_path(path, sizeof(path));
    seen_t seen = { 0 };
    alertjournal_t *j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_non_null(j);
    alert_t m = storm("A", 1);
    m.kind = ALERT_BLOCKED;
    m.dir = DIR_NORTH;
    m.cls = "all";
    /* an instance's tag in the ids (Kafka): 64 bits kept */
    const incident_id_t tag = (incident_id_t)0x3FA2C1 << 32;
    m.incident = tag | 7;
    m.role = ROLE_MEMBER;
    m.severity = SEV_WARNING;
    m.learning = 1;
    change_t chg = { .id = (char *)"CHG-0412" };
    alert_t w1 = { .kind = ALERT_WIDESPREAD, .firing = 1, .user = "*", .dir = DIR_NORTH,
                   .cls = "all", .starts_at = 900 * S, .detected_at = 905 * S, .backlog = -1,
                   .incident = 7, .severity = SEV_WARNING, .symptom = ALERT_BLOCKED,
                   .change = &chg, .corr = CORR_MAINTENANCE };
    alert_t w2 = w1;
    w2.incident = 9;
    w2.severity = SEV_CRITICAL;
    w2.change = NULL;
    w2.corr = CORR_UNDECLARED;
    alert_t w3 = w2; /* the same number as w2's, another instance's: another alert */
    w3.incident = tag | 9;
    assert_int_equal(alertjournal_record(j, &w1), 0);
    assert_int_equal(alertjournal_record(j, &m), 0);
    assert_int_equal(alertjournal_record(j, &w2), 0);
    assert_int_equal(alertjournal_record(j, &w3), 0);
    w3.firing = 0;
    assert_int_equal(alertjournal_record(j, &w3), 0);
    alertjournal_close(j);

    j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(seen.n, 3);
    int got = 0;
    for (int i = 0; i < seen.n; i++) {
        const shard_resume_t *r = &seen.r[i];
        if (r->kind == ALERT_BLOCKED) {
            assert_true(r->fire.incident == (tag | 7));
            assert_int_equal(r->fire.role, ROLE_MEMBER);
            assert_int_equal(r->fire.severity, SEV_WARNING);
            assert_int_equal(r->fire.learning, 1);
            got |= 1;
        } else if (r->fire.incident == 7) {
            assert_int_equal(r->kind, ALERT_WIDESPREAD);
            assert_int_equal(r->symptom, ALERT_BLOCKED);
            assert_int_equal(r->dir, DIR_NORTH);
            assert_string_equal(seen.change[i], "CHG-0412");
            assert_true(r->fire.detected_at == 905 * S);
            got |= 2;
        } else {
            assert_int_equal(r->fire.incident, 9);
            assert_int_equal(r->fire.severity, SEV_CRITICAL);
            assert_string_equal(seen.change[i], "");
            got |= 4;
        }
    }
    assert_int_equal(got, 7);
    alertjournal_close(j);
    unlink(path);
}

/* A last line torn by a kill mid-write is dropped; the rest is read. */
static void test_torn_last_line(void **state)
{
    (void)state;
    char path[128], err[512];
    tmp_path(path, sizeof(path));
    seen_t seen = { 0 };
    alertjournal_t *j = alertjournal_open(path, 1, each, &seen, err, sizeof(err));
    assert_non_null(j);
    alert_t a = storm("A", 1);
    assert_int_equal(alertjournal_record(j, &a), 0);
    alertjournal_close(j);
    FILE *f = fopen(path, "a");
    fputs("{\"open\":true,\"alert\":\"sto", f);
    fclose(f);
    j = alertjournal_open(path, 1, each, &seen, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(seen.n, 1);
    alertjournal_close(j);
    unlink(path);
}

/* A line that is not a transition: refused when strict, naming the line;
 * otherwise set aside (never deleted) and nothing resumed. */
static void test_corrupt_file(void **state)
{
    (void)state;
    char path[128], err[512];
    tmp_path(path, sizeof(path));
    FILE *f = fopen(path, "w");
    fputs("{\"open\":true,\"alert\":\"storm\",\"user\":\"A\",\"dir\":\"south\",\"class\":\"r\","
          "\"src\":0,\"starts_at\":1,\"detected_at\":2,\"value\":1,\"baseline\":1,\"backlog\":null,"
          "\"limit\":0}\n{\"open\":true,\"alert\":\"gale\"}\n{}\n", f);
    fclose(f);
    seen_t seen = { 0 };
    assert_null(alertjournal_open(path, 1, each, &seen, err, sizeof(err)));
    assert_non_null(strstr(err, ":2: "));
    assert_int_equal(seen.n, 0);

    log_capture_t cap;
    log_capture_start(&cap);
    alertjournal_t *j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    char *log = log_capture_end(&cap);
    assert_non_null(j);
    assert_int_equal(seen.n, 0);
    assert_non_null(strstr(log, "set aside as"));
    alertjournal_stats_t st;
    alertjournal_stats(j, &st);
    assert_int_equal(st.moved_aside, 1);
    char aside[256];
    const char *p = strstr(log, "set aside as ");
    assert_int_equal(sscanf(p + strlen("set aside as "), "%255[^,\n]", aside), 1);
    struct stat sb;
    assert_int_equal(stat(aside, &sb), 0); /* kept */
    unlink(aside);
    free(log);
    alertjournal_close(j);
    unlink(path);
}

/* Thousands of transitions of few alerts: the file is rewritten with the
 * open ones, so it stays small. */
static void test_rewrite_keeps_it_small(void **state)
{
    (void)state;
    char path[128], err[512];
    tmp_path(path, sizeof(path));
    seen_t seen = { 0 };
    alertjournal_t *j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_non_null(j);
    alert_t keep = storm("K", 1);
    assert_int_equal(alertjournal_record(j, &keep), 0);
    for (int i = 0; i < 5000; i++) {
        alert_t a = storm("A", i % 2 == 0);
        assert_int_equal(alertjournal_record(j, &a), 0);
    }
    alertjournal_stats_t st;
    alertjournal_stats(j, &st);
    assert_true(st.compactions >= 4);
    assert_true(lines_in(path) <= ALERTJOURNAL_COMPACT_MIN);
    alertjournal_close(j);
    j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.user[0], "K");
    alertjournal_close(j);
    unlink(path);
}

/* A write that fails (the file-size limit) is counted and logged once,
 * and the alert stays known for the next rewrite. */
static void test_write_failure_counted(void **state)
{
    (void)state;
    char path[128], err[512];
    tmp_path(path, sizeof(path));
    seen_t seen = { 0 };
    alertjournal_t *j = alertjournal_open(path, 0, each, &seen, err, sizeof(err));
    assert_non_null(j);
    signal(SIGXFSZ, SIG_IGN);
    log_capture_t cap;
    log_capture_start(&cap);
    /* below a line (a long User id), above the log line */
    struct rlimit old = limit_file_size(220);
    alert_t a = storm("90-B3-D5-1F-30-01-00-0A-90-B3-D5-1F-30-01-00-0A-90-B3-D5-1F-30-01-00-0A", 1);
    alert_t b = storm("90-B3-D5-1F-30-01-00-0B-90-B3-D5-1F-30-01-00-0A-90-B3-D5-1F-30-01-00-0A", 1);
    int rc1 = alertjournal_record(j, &a), rc2 = alertjournal_record(j, &b);
    setrlimit(RLIMIT_FSIZE, &old);
    char *log = log_capture_end(&cap);
    assert_int_equal(rc1, SW_EIO);
    assert_int_equal(rc2, SW_EIO);
    assert_int_equal(count_of(log, "cannot append"), 1);
    alertjournal_stats_t st;
    alertjournal_stats(j, &st);
    assert_int_equal(st.write_errors, 2);
    free(log);
    alertjournal_close(j);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resumes_what_was_open),
        cmocka_unit_test(test_incidents_kept),
        cmocka_unit_test(test_torn_last_line),
        cmocka_unit_test(test_corrupt_file),
        cmocka_unit_test(test_rewrite_keeps_it_small),
        cmocka_unit_test(test_write_failure_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
