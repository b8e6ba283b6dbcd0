/*
 * test_sink_zmq.c - tests of the ZeroMQ alert publisher (adapters/sinks/sink_zmq.h)
 * with real subscribers over tcp://127.0.0.1 in the same process.
 *
 * PUB/SUB has a slow joiner: a subscription takes a moment to reach the
 * publisher, and what is published before that is not delivered. Each test
 * therefore first publishes probes until one arrives (with a deadline), and
 * only then checks what it means to. Every receive has a timeout, so a
 * failure is a failed assertion, never a hang.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "err.h"
#include "sink_zmq.h"
#include "testutil.h"

#define PROBE_BODY "{\"probe\":true}"
#define SYNC_DEADLINE_MS 5000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_int(void *sock, int opt, int v)
{
    assert_int_equal(zmq_setsockopt(sock, opt, &v, sizeof(v)), 0);
}

static void *subscriber(void *ctx, const char *endpoint, const char *topic)
{
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    assert_non_null(sub);
    set_int(sub, ZMQ_LINGER, 0);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)), 0);
    assert_int_equal(zmq_connect(sub, endpoint), 0);
    return sub;
}

/*
 * Receives one two-frame alert within `timeout_ms`: 1 with topic and body
 * (NUL-terminated), 0 on timeout. Fails on a message of another shape.
 */
static int recv_alert(void *sub, int timeout_ms, char *topic, size_t tcap, char *body, size_t bcap)
{
    set_int(sub, ZMQ_RCVTIMEO, timeout_ms);
    int n = zmq_recv(sub, topic, tcap - 1, 0);
    if (n < 0) {
        assert_int_equal(zmq_errno(), EAGAIN);
        return 0;
    }
    topic[n < (int)tcap - 1 ? n : (int)tcap - 1] = '\0';
    int more = 0;
    size_t ml = sizeof(more);
    assert_int_equal(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml), 0);
    assert_true(more);
    n = zmq_recv(sub, body, bcap - 1, 0);
    assert_true(n >= 0);
    body[n < (int)bcap - 1 ? n : (int)bcap - 1] = '\0';
    assert_int_equal(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml), 0);
    assert_false(more);
    return 1;
}

/* Publishes probes of kind `kind` until `sub` gets one (the subscription
 * is then in place), within SYNC_DEADLINE_MS. */
static void sync_subscriber(sink_zmq_t *s, void *sub, const char *kind)
{
    char topic[64], body[256];
    int64_t deadline = now_ms() + SYNC_DEADLINE_MS;
    while (now_ms() < deadline) {
        assert_int_equal(sink_zmq_send(s, kind, PROBE_BODY, strlen(PROBE_BODY)), SW_OK);
        if (recv_alert(sub, 20, topic, sizeof(topic), body, sizeof(body))) {
            assert_string_equal(body, PROBE_BODY);
            return;
        }
    }
    fail_msg("the subscriber got no probe within %d ms", SYNC_DEADLINE_MS);
}

/* The next alert that is not a leftover probe, or 0 on timeout. */
static int next_alert(void *sub, int timeout_ms, char *topic, size_t tcap, char *body, size_t bcap)
{
    for (;;) {
        if (!recv_alert(sub, timeout_ms, topic, tcap, body, bcap))
            return 0;
        if (strcmp(body, PROBE_BODY) != 0)
            return 1;
    }
}

static const char storm1[] =
    "{\"status\":\"firing\",\"alert\":\"storm\",\"user\":\"90-B3-D5-1F-30-01-00-0A\"}\n";
static const char silence1[] =
    "{\"status\":\"firing\",\"alert\":\"silence\",\"user\":\"90-B3-D5-1F-30-01-00-0B\"}\n";
static const char storm2[] =
    "{\"status\":\"resolved\",\"alert\":\"storm\",\"user\":\"90-B3-D5-1F-30-01-00-0A\"}";

static void test_topics_filter_and_bodies(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    char err[256];
    sink_zmq_t *s = sink_zmq_create(ctx, "tcp://127.0.0.1:*", err, sizeof(err));
    assert_non_null(s);
    const char *ep = sink_zmq_endpoint(s);
    assert_true(strncmp(ep, "tcp://127.0.0.1:", 16) == 0);
    assert_string_not_equal(ep, "tcp://127.0.0.1:*");

    void *storms = subscriber(ctx, ep, "storm");
    void *all = subscriber(ctx, ep, "");
    sync_subscriber(s, storms, "storm");
    sync_subscriber(s, all, "storm");

    assert_int_equal(sink_zmq_send(s, "storm", storm1, strlen(storm1)), SW_OK);
    assert_int_equal(sink_zmq_send(s, "silence", silence1, strlen(silence1)), SW_OK);
    assert_int_equal(sink_zmq_send(s, "storm", storm2, strlen(storm2)), SW_OK);

    char topic[64], body[512];
    /* the storm subscriber: both storms in order, bodies without '\n' */
    assert_true(next_alert(storms, 2000, topic, sizeof(topic), body, sizeof(body)));
    assert_string_equal(topic, "storm");
    assert_int_equal(strlen(body), strlen(storm1) - 1);
    assert_memory_equal(body, storm1, strlen(storm1) - 1);
    assert_true(next_alert(storms, 2000, topic, sizeof(topic), body, sizeof(body)));
    assert_string_equal(topic, "storm");
    assert_string_equal(body, storm2);
    /* the silence was sent between them, so it would have come by now */
    assert_false(next_alert(storms, 300, topic, sizeof(topic), body, sizeof(body)));

    /* the subscriber to everything did get the silence */
    assert_true(next_alert(all, 2000, topic, sizeof(topic), body, sizeof(body)));
    assert_string_equal(topic, "storm");
    assert_true(next_alert(all, 2000, topic, sizeof(topic), body, sizeof(body)));
    assert_string_equal(topic, "silence");
    assert_memory_equal(body, silence1, strlen(silence1) - 1);
    assert_true(next_alert(all, 2000, topic, sizeof(topic), body, sizeof(body)));
    assert_string_equal(body, storm2);

    const sink_zmq_stats_t *st = sink_zmq_stats(s);
    assert_true(st->sent >= 5); /* three alerts and at least two probes */
    assert_int_equal(st->dropped, 0);
    assert_int_equal(st->errors, 0);

    zmq_close(storms);
    zmq_close(all);
    sink_zmq_destroy(s);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

/* A subscriber that stops reading: the queue fills and alerts are counted
 * as dropped, at once, without the sender ever waiting. */
static void test_full_queue_drops_never_blocks(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    sink_zmq_t *s = sink_zmq_create_hwm(ctx, "tcp://127.0.0.1:*", 1, err, sizeof(err));
    assert_non_null(s);
    void *sub = subscriber(ctx, sink_zmq_endpoint(s), "");
    set_int(sub, ZMQ_RCVHWM, 1);
    sync_subscriber(s, sub, "storm");

    const sink_zmq_stats_t *st = sink_zmq_stats(s);
    uint64_t sent0 = st->sent, tries = 0, refused = 0, odd = 0;
    int64_t t0 = now_ms();
    log_capture_t cap;
    log_capture_start(&cap);
    while (st->dropped < 100 && tries < 5000000) {
        int rc = sink_zmq_send(s, "storm", storm1, strlen(storm1));
        odd += rc != SW_OK && rc != SW_EFULL;
        refused += rc == SW_EFULL;
        tries++;
    }
    char *log = log_capture_end(&cap);
    assert_int_equal(odd, 0);
    assert_int_equal(st->dropped, 100);
    assert_int_equal(refused, 100);
    assert_int_equal(st->sent - sent0 + st->dropped, tries);
    assert_int_equal(st->errors, 0);
    assert_true(now_ms() - t0 < 30000);
    char want[256];
    snprintf(want, sizeof(want), "%s: a subscriber's queue is full (1 alerts): storm alert dropped",
             sink_zmq_endpoint(s));
    assert_true(count_of(log, want) >= 1);
    free(log);

    /* the subscriber still reads nothing: alerts are dropped, and the
     * burst, logged already, logs nothing more. (A SUB socket drops what
     * is over its own high-water mark, so its side keeps reading and now
     * and then a slot frees: a send taken ends the burst, and only then
     * may a drop be logged again. Under TSan on a busy machine one was.) */
    int more = 0, took = 0;
    log_capture_start(&cap);
    for (int i = 0; i < 50; i++) {
        int rc = sink_zmq_send(s, "storm", storm1, strlen(storm1));
        more += rc == SW_EFULL;
        took += rc == SW_OK;
    }
    log = log_capture_end(&cap);
    assert_int_equal(more + took, 50);
    assert_true(more > took);
    assert_true(count_of(log, want) <= (size_t)took);
    if (!took)
        assert_string_equal(log, "");
    free(log);

    zmq_close(sub);
    sink_zmq_destroy(s);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

/* A send that fails for another reason than a full queue (here the
 * context is shut down) loses the alert: counted, and logged once. */
static void test_send_errors_counted_and_logged_once(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256];
    sink_zmq_t *s = sink_zmq_create(ctx, "tcp://127.0.0.1:*", err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(zmq_ctx_shutdown(ctx), 0);
    int failed = 0;
    log_capture_t cap;
    log_capture_start(&cap);
    for (int i = 0; i < 50; i++)
        failed += sink_zmq_send(s, "storm", storm1, strlen(storm1)) == SW_EIO;
    char *log = log_capture_end(&cap);
    const sink_zmq_stats_t *st = sink_zmq_stats(s);
    assert_int_equal(failed, 50);
    assert_int_equal(st->errors, 50);
    assert_int_equal(st->sent, 0);
    assert_int_equal(st->dropped, 0);
    char want[256];
    snprintf(want, sizeof(want), "%s: cannot publish a storm alert: %s", sink_zmq_endpoint(s),
             zmq_strerror(ETERM));
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "\n"), 1);
    free(log);
    sink_zmq_destroy(s);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_bad_endpoints_and_arguments(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char err[256], want[300];
    assert_null(sink_zmq_create(ctx, "tcp://127.0.0.1:notaport", err, sizeof(err)));
    assert_string_equal(err, "tcp://127.0.0.1:notaport: Invalid argument");
    assert_null(sink_zmq_create(ctx, "nosuch://x", err, sizeof(err)));
    assert_true(strncmp(err, "nosuch://x: ", 12) == 0);
    assert_null(sink_zmq_create(ctx, "", err, sizeof(err)));
    assert_null(sink_zmq_create(NULL, "tcp://127.0.0.1:*", err, sizeof(err)));

    sink_zmq_t *s = sink_zmq_create(ctx, "tcp://127.0.0.1:*", err, sizeof(err));
    assert_non_null(s);
    char ep[256];
    snprintf(ep, sizeof(ep), "%s", sink_zmq_endpoint(s));
    assert_null(sink_zmq_create(ctx, ep, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: Address already in use", ep);
    assert_string_equal(err, want);

    assert_int_equal(sink_zmq_send(NULL, "storm", "{}", 2), SW_EINVAL);
    assert_int_equal(sink_zmq_send(s, NULL, "{}", 2), SW_EINVAL);
    assert_int_equal(sink_zmq_send(s, "", "{}", 2), SW_EINVAL);
    assert_int_equal(sink_zmq_send(s, "storm", NULL, 2), SW_EINVAL);
    /* no subscriber: ZeroMQ discards it, as PUB does; it counts as sent */
    assert_int_equal(sink_zmq_send(s, "storm", "{}\n", 3), SW_OK);
    assert_int_equal(sink_zmq_stats(s)->sent, 1);
    sink_zmq_destroy(s);
    sink_zmq_destroy(NULL);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_filter_and_bodies),
        cmocka_unit_test(test_full_queue_drops_never_blocks),
        cmocka_unit_test(test_send_errors_counted_and_logged_once),
        cmocka_unit_test(test_bad_endpoints_and_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
