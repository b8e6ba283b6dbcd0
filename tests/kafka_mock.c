/*
 * kafka_mock.c - Kafka for the tests without a broker: librdkafka's mock
 * cluster (rdkafka_mock.h: in-process brokers speaking the real protocol
 * on 127.0.0.1), and a producer that keys each line by its User, as the
 * DSP's producers would.
 *
 *   kafka_mock serve TOPIC[,TOPIC] PARTITIONS
 *                                       prints the bootstrap servers on a
 *                                       line, then serves until stdin closes
 *   kafka_mock produce BOOTSTRAP TOPIC FILE [SPEED]
 *                                       sends FILE's lines, one message per
 *                                       line, keyed by the user tag; with
 *                                       SPEED, paced so that event time runs
 *                                       SPEED times as fast as the wall clock
 *   kafka_mock consume BOOTSTRAP TOPIC SECONDS
 *                                       prints "KEY<TAB>VALUE" per message
 *                                       read from the start, for SECONDS
 *
 * Test code only: never linked into stormwatch.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (bootstrap && rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err))) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        exit(2);
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        exit(2);
    }
    return rk;
}

static int serve(const char *topic, int partitions)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 3);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot start the mock cluster\n");
        return 1;
    }
    char *names = strdup(topic), *save = NULL;
    for (char *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, t, partitions, 1);
        if (e) {
            fprintf(stderr, "kafka_mock: topic %s: %s\n", t, rd_kafka_err2str(e));
            return 1;
        }
    }
    free(names);
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char buf[256];
    while (fgets(buf, sizeof(buf), stdin)) /* until the test closes our stdin */
        ;
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

/* The user tag of a line: "user=" up to ',' or ' '; the whole line when absent. */
static void user_of(const char *line, const char **k, size_t *klen)
{
    const char *u = strstr(line, ",user=");
    if (!u) {
        *k = line;
        *klen = strlen(line);
        return;
    }
    *k = u + 6;
    *klen = strcspn(*k, ", ");
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits until the line's timestamp (its last field, ns) is due at `speed`. */
static void pace(const char *line, double speed, double *t0_wall, double *t0_event)
{
    const char *sp = strrchr(line, ' ');
    if (!sp)
        return;
    double ev = strtod(sp + 1, NULL) / 1e9;
    if (*t0_wall == 0) {
        *t0_wall = wall_s();
        *t0_event = ev;
    }
    double due = *t0_wall + (ev - *t0_event) / speed, now = wall_s();
    if (due > now) {
        struct timespec d = { (time_t)(due - now), (long)((due - now - (time_t)(due - now)) * 1e9) };
        nanosleep(&d, NULL);
    }
}

/* The producer gives up when its queue stays full this long. */
#define PRODUCE_WAIT_S 120

static int produce(const char *bootstrap, const char *topic, const char *path, double speed)
{
    double t0_wall = 0, t0_event = 0;
    if (!*bootstrap) {
        fprintf(stderr, "kafka_mock: produce: no bootstrap servers\n");
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 2;
    }
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, bootstrap);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long sent = 0;
    /* a cluster that never takes the messages (gone, or never reached)
     * fails the producer instead of holding it forever */
    int stuck = 0;
    while (!stuck && (n = getline(&line, &cap, f)) > 0) {
        const char *k;
        size_t klen;
        user_of(line, &k, &klen);
        if (speed > 0)
            pace(line, speed, &t0_wall, &t0_event);
        for (double full_since = 0;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(k, klen),
                RD_KAFKA_V_VALUE(line, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            if (!full_since) {
                full_since = wall_s();
            } else if (wall_s() - full_since > PRODUCE_WAIT_S) {
                stuck = 1;
                break;
            }
            rd_kafka_poll(rk, 100);
        }
        if (stuck)
            break;
        rd_kafka_poll(rk, 0);
        sent++;
    }
    free(line);
    fclose(f);
    int left = rd_kafka_flush(rk, 30000) ? rd_kafka_outq_len(rk) : 0;
    rd_kafka_destroy(rk);
    if (stuck) {
        fprintf(stderr, "kafka_mock: %s: the producer queue stayed full for %d s after %ld lines: "
                        "is the cluster at '%s' up?\n", topic, PRODUCE_WAIT_S, sent, bootstrap);
        return 1;
    }
    fprintf(stderr, "kafka_mock: produced %ld lines to %s%s\n", sent, topic,
            left ? ", some not delivered" : "");
    return left ? 1 : 0;
}

static int consume(const char *bootstrap, const char *topic, int seconds)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)) ||
        rd_kafka_conf_set(c, "group.id", "kafka_mock", err, sizeof(err)) ||
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof(err))) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, t);
    rd_kafka_topic_partition_list_destroy(t);
    for (double end = wall_s() + seconds; wall_s() < end;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err)
            printf("%.*s\t%.*s\n", (int)m->key_len, (const char *)m->key, (int)m->len,
                   (const char *)m->payload);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "consume"))
        return consume(argv[2], argv[3], atoi(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "serve"))
        return serve(argv[2], atoi(argv[3]));
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "produce"))
        return produce(argv[2], argv[3], argv[4], argc == 6 ? atof(argv[5]) : 0);
    fprintf(stderr, "usage: kafka_mock serve TOPIC PARTITIONS | produce BOOTSTRAP TOPIC FILE"
                    " [SPEED] | consume BOOTSTRAP TOPIC SECONDS\n");
    return 2;
}
