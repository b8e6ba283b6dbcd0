/*
 * test_kafka.c - the Kafka producer's failures (adapters/ingest/kafka.h), without
 * a broker: the bootstrap server is a loopback port nobody listens on, so
 * every queued message times out (message.timeout.ms, short here), and a
 * message over message.max.bytes is refused at once. Each failure is
 * counted; the log gets one line a burst, not one a message. The consumer
 * group, reader and state handover are covered against librdkafka's mock
 * cluster by e2e_kafka.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "testutil.h"

#define MESSAGES 50

static void test_undelivered_counted_and_logged_once(void **state)
{
    (void)state;
    char brokers[64], err[512];
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%d", free_port());
    static const char *const keys[] = { "message.timeout.ms", "message.max.bytes" };
    static const char *const values[] = { "300", "1000" };
    kafka_out_opts_t o = { .brokers = brokers, .topic = "stormwatch-alerts",
                           .props = { keys, values, 2 } };
    kafka_out_t *k = kafka_out_open(&o, err, sizeof(err));
    if (!k)
        fail_msg("kafka_out_open: %s", err);

    char big[2000];
    memset(big, 'x', sizeof(big));
    int queued = 0, refused = 0, flushed;
    log_capture_t cap;
    log_capture_start(&cap);
    for (int i = 0; i < MESSAGES; i++)
        queued += kafka_out_send(k, "user-A", "{\"alert\":\"storm\"}", 17) == 0;
    flushed = kafka_out_flush(k, 10000);
    /* too large: refused at once, the same burst */
    for (int i = 0; i < 3; i++)
        refused += kafka_out_send(k, "user-A", big, sizeof(big)) == -1;
    char *log = log_capture_end(&cap);

    uint64_t sent, failed;
    kafka_out_counts(k, &sent, &failed);
    assert_int_equal(queued, MESSAGES);
    assert_int_equal(flushed, 0); /* nothing left: every message has its outcome */
    assert_int_equal(refused, 3);
    assert_int_equal(sent, 0);
    assert_int_equal(failed, MESSAGES + 3);
    assert_int_equal(count_of(log, "kafka: messages to stormwatch-alerts not delivered: "
                                   "Local: Message timed out\n"), 1);
    assert_int_equal(count_of(log, "not delivered"), 1);
    free(log);
    kafka_out_close(k, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_undelivered_counted_and_logged_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
