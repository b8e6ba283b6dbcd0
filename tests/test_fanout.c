/*
 * test_fanout.c - tests of the alert fanout (adapters/sinks/fanout.h): one
 * line formatted once, counted before any sink has it, then written to the
 * alerts file and published on PUB; the file reopened on request; no sink
 * at all is fine. The sinks themselves have their own tests
 * (test_sink_file, test_sink_zmq, test_sink_am).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "alert.h"
#include "err.h"
#include "fanout.h"
#include "testutil.h"

typedef tu_dir_t fx_t;

static int setup(void **state)
{
    return tu_dir_setup(state, "sw_fanout", "alerts.jsonl");
}

static int teardown(void **state)
{
    return tu_dir_teardown(state);
}

static alert_t mk(alert_kind_t kind, const char *user, int firing)
{
    return (alert_t){ .kind = kind, .firing = firing, .user = user, .dir = DIR_NORTH,
                      .cls = "all", .starts_at = 1568278800 * SEC,
                      .detected_at = 1568278830 * SEC, .value = 12.5, .baseline = 3.25,
                      .backlog = -1, .corr = CORR_UNDECLARED };
}

/* a's line as alert_format_json() writes it (the caller frees it) */
static char *line_of(const alert_t *a)
{
    size_t n = alert_format_json(a, NULL, 0);
    char *s = malloc(n + 1);
    assert_non_null(s);
    alert_format_json(a, s, n + 1);
    return s;
}

static uint64_t lines_of(const fanout_t *f)
{
    fanout_stats_t st;
    fanout_stats(f, &st);
    return st.lines;
}

/* A fanout to the fixture's alerts file alone. */
static fanout_t *file_fanout(const fx_t *fx)
{
    char err[512];
    fanout_t *f = fanout_create();
    assert_non_null(f);
    assert_int_equal(fanout_add_file(f, fx->path, err, sizeof(err)), SW_OK);
    return f;
}

static void test_line_counted_before_the_file_has_it(void **state)
{
    fx_t *fx = *state;
    fanout_t *f = file_fanout(fx);
    alert_t a = mk(ALERT_STORM, "90-B3-D5-1F-30-01-00-0A", 1);
    char *want = line_of(&a);
    size_t n = 0;
    const char *line = fanout_format(f, &a, &n);
    assert_non_null(line);
    assert_string_equal(line, want);
    assert_int_equal(n, strlen(want));
    /* counted, not yet written: a scrape now sees it before a reader can */
    assert_int_equal(lines_of(f), 1);
    char *got = tu_slurp(fx->path);
    assert_string_equal(got, "");
    free(got);
    fanout_write(f);
    fanout_publish(f, &a); /* no PUB, no Alertmanager: nothing more */
    got = tu_slurp(fx->path);
    assert_string_equal(got, want);
    free(got);
    fanout_stats_t st;
    fanout_stats(f, &st);
    assert_true(st.has_file);
    assert_false(st.has_pub);
    assert_false(st.has_am);
    assert_int_equal(st.file.lines, 1);
    assert_int_equal(st.file.write_errors, 0);
    fanout_destroy(f);
    free(want);
}

/* One buffer for every line: a long one grows it, a short one after it
 * is not left with the long one's tail. */
static void test_buffer_grows_and_lines_stay_whole(void **state)
{
    fx_t *fx = *state;
    fanout_t *f = file_fanout(fx);
    char *long_user = tu_repeat("U", "x", 20000, "");
    alert_t a = mk(ALERT_SILENCE, "u-short", 1), b = mk(ALERT_STORM, long_user, 1),
            c = mk(ALERT_SILENCE, "u-short", 0);
    char *la = line_of(&a), *lb = line_of(&b), *lc = line_of(&c);
    const alert_t *all[] = { &a, &b, &c };
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        assert_non_null(fanout_format(f, all[i], &n));
        fanout_write(f);
    }
    size_t want_len = strlen(la) + strlen(lb) + strlen(lc);
    char *want = malloc(want_len + 1);
    assert_non_null(want);
    snprintf(want, want_len + 1, "%s%s%s", la, lb, lc);
    char *got = tu_slurp(fx->path);
    assert_string_equal(got, want);
    assert_int_equal(lines_of(f), 3);
    fanout_destroy(f);
    free(got);
    free(want);
    free(la);
    free(lb);
    free(lc);
    free(long_user);
}

static void test_reopen_for_logrotate(void **state)
{
    fx_t *fx = *state;
    char moved[300];
    fanout_t *f = file_fanout(fx);
    alert_t a = mk(ALERT_STORM, "u-a", 1), b = mk(ALERT_STORM, "u-a", 0);
    size_t n;
    assert_non_null(fanout_format(f, &a, &n));
    fanout_write(f);
    snprintf(moved, sizeof(moved), "%s.1", fx->path);
    assert_int_equal(rename(fx->path, moved), 0);
    fanout_reopen(f);
    assert_non_null(fanout_format(f, &b, &n));
    fanout_write(f);
    char *la = line_of(&a), *lb = line_of(&b);
    char *old = tu_slurp(moved), *now = tu_slurp(fx->path);
    assert_string_equal(old, la);
    assert_string_equal(now, lb);
    fanout_stats_t st;
    fanout_stats(f, &st);
    assert_int_equal(st.file.reopens, 1);
    assert_int_equal(st.file.lines, 2);
    fanout_destroy(f);
    free(la);
    free(lb);
    free(old);
    free(now);
}

static void test_file_that_cannot_open(void **state)
{
    (void)state;
    char err[512] = "";
    fanout_t *f = fanout_create();
    assert_non_null(f);
    assert_int_equal(fanout_add_file(f, "/nonexistent-dir/alerts.jsonl", err, sizeof(err)),
                     SW_EOPEN);
    assert_non_null(strstr(err, "/nonexistent-dir/alerts.jsonl"));
    fanout_stats_t st;
    fanout_stats(f, &st);
    assert_false(st.has_file);
    fanout_destroy(f);
}

/* Without a sink lines are still formatted and counted (for Kafka and
 * the metrics); reopen and handover do nothing; NULL is no fanout. */
static void test_no_sinks(void **state)
{
    (void)state;
    fanout_stats_t st;
    fanout_stats(NULL, &st);
    assert_int_equal(st.lines, 0);
    assert_false(st.has_file || st.has_pub || st.has_am);
    fanout_reopen(NULL);
    fanout_destroy(NULL);
    fanout_t *f = fanout_create();
    assert_non_null(f);
    alert_t a = mk(ALERT_LIMIT, "u-c", 1);
    size_t n;
    assert_non_null(fanout_format(f, &a, &n));
    fanout_write(f);
    fanout_publish(f, &a);
    fanout_handover(f, &a, 0);
    fanout_handover(f, &a, 1);
    fanout_reopen(f);
    assert_int_equal(lines_of(f), 1);
    fanout_destroy(f);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PUB: topic the kind, body the line without its newline, each send
 * counted as sent (PUB has a slow joiner: publish until one arrives). */
static void test_pub_topic_body_and_counts(void **state)
{
    (void)state;
    char err[512], topic[64], body[1024];
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    fanout_t *f = fanout_create();
    assert_non_null(f);
    assert_int_equal(fanout_add_pub(f, ctx, "inproc://test-fanout", err, sizeof(err)), SW_OK);
    fanout_stats_t st;
    fanout_stats(f, &st);
    assert_true(st.has_pub);
    assert_int_equal(st.pub.sent, 0);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_non_null(sub);
    int v = 0;
    assert_int_equal(zmq_setsockopt(sub, ZMQ_LINGER, &v, sizeof(v)), 0);
    v = 20;
    assert_int_equal(zmq_setsockopt(sub, ZMQ_RCVTIMEO, &v, sizeof(v)), 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(sub, "inproc://test-fanout"), 0);
    alert_t a = mk(ALERT_SILENCE, "u-pub", 1);
    char *want = line_of(&a);
    want[strlen(want) - 1] = '\0';
    size_t n;
    assert_non_null(fanout_format(f, &a, &n));
    uint64_t published = 0;
    int got = -1;
    for (int64_t deadline = now_ms() + 5000; got < 0 && now_ms() < deadline;) {
        fanout_publish(f, &a);
        published++;
        got = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
    }
    assert_true(got > 0);
    topic[got] = '\0';
    assert_string_equal(topic, "silence");
    got = zmq_recv(sub, body, sizeof(body) - 1, 0);
    assert_true(got > 0);
    body[got] = '\0';
    assert_string_equal(body, want);
    fanout_stats(f, &st);
    assert_int_equal(st.pub.sent, published);
    assert_int_equal(st.pub.dropped, 0);
    assert_int_equal(st.pub.errors, 0);
    assert_int_equal(st.lines, 1); /* formatted once, however often sent */
    zmq_close(sub);
    fanout_destroy(f); /* before the context ends */
    zmq_ctx_term(ctx);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_counted_before_the_file_has_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_grows_and_lines_stay_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_for_logrotate, setup, teardown),
        cmocka_unit_test(test_file_that_cannot_open),
        cmocka_unit_test(test_no_sinks),
        cmocka_unit_test(test_pub_topic_body_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
