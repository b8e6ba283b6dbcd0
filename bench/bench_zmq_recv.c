/*
 * bench_zmq_recv.c - the baseline of bench/ingest.sh: a bare ZeroMQ
 * receive loop that only counts what it is sent.
 *
 * It binds a PULL socket at the endpoint given, as `stormwatch run
 * --ingest` does (same receive high-water mark, 1000 messages), and
 * receives messages until it has counted the lines or bytes it was told
 * to expect, or until nothing has come for the quiet timeout. Per message
 * it counts the message, its bytes and its newlines (a memchr scan, the
 * least any line-protocol reader must do), and nothing else: what
 * stormwatch does on top of this is what bench/ingest.sh measures.
 *
 * Once bound it says `bench_zmq_recv: listening on ENDPOINT` on standard
 * error, so a script can start the sender then. At the end it prints one
 * line on standard output:
 *
 *   recv messages=2593 bytes=299695960 lines=2592001 seconds=0.412 lines_per_s=6291264 complete=1
 *
 * seconds runs from the arrival of the first message to that of the last
 * (0 with fewer than two messages); complete is 1 when the expected count
 * was reached. Exit status: 0 complete, 1 quiet timeout or receive error
 * first (the line is printed all the same), 2 bad usage or no socket.
 *
 * DESIGN: one thread; ZeroMQ's own I/O thread fills the socket's queue.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* As the daemon sets on its ingest sockets (adapters/daemon/daemon.c), so the
 * sender sees the same back-pressure from both receivers. */
#define RCV_HWM 1000
#define DEFAULT_QUIET_MS 5000

typedef struct {
    uint64_t messages, bytes, lines;
    double first, last; /* CLOCK_MONOTONIC seconds of the first and last message */
} counts_t;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t count_newlines(const char *p, size_t n)
{
    uint64_t lines = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* Parses a whole decimal number >= 1 into *out; -1 (and *out untouched)
 * on anything else. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v < 1 || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/*
 * Receives on sock until want_lines lines or want_bytes bytes have come
 * (0: no such limit), or nothing for quiet_ms. Fills *c. Returns 0 when
 * a limit was reached, 1 on the quiet timeout, -1 on a receive error
 * (reported on standard error).
 */
static int receive(void *sock, uint64_t want_lines, uint64_t want_bytes, counts_t *c)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int rc = 1;
    for (;;) {
        if (zmq_msg_recv(&msg, sock, 0) < 0) {
            int e = zmq_errno();
            if (e == EINTR)
                continue;
            if (e != EAGAIN) {
                fprintf(stderr, "bench_zmq_recv: receive: %s\n", zmq_strerror(e));
                rc = -1;
            }
            break; /* EAGAIN: the quiet timeout (ZMQ_RCVTIMEO) */
        }
        double now = mono_s();
        if (!c->messages)
            c->first = now;
        c->last = now;
        size_t n = zmq_msg_size(&msg);
        c->messages++;
        c->bytes += n;
        c->lines += count_newlines(zmq_msg_data(&msg), n);
        if ((want_lines && c->lines >= want_lines) || (want_bytes && c->bytes >= want_bytes)) {
            rc = 0;
            break;
        }
    }
    zmq_msg_close(&msg);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_zmq_recv ENDPOINT [--lines N] [--bytes N] [--quiet-ms MS]\n"
            "  ENDPOINT      where to bind the PULL socket, e.g. tcp://127.0.0.1:5557\n"
            "  --lines N     stop once N lines (newlines) have been received\n"
            "  --bytes N     stop once N bytes have been received\n"
            "  --quiet-ms MS stop when nothing has come for MS ms (default %d)\n"
            "Prints: recv messages=M bytes=B lines=L seconds=S lines_per_s=R complete=0|1\n",
            DEFAULT_QUIET_MS);
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL;
    uint64_t want_lines = 0, want_bytes = 0, quiet_ms = DEFAULT_QUIET_MS;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        uint64_t *dst = NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--lines"))
            dst = &want_lines;
        else if (!strcmp(o, "--bytes"))
            dst = &want_bytes;
        else if (!strcmp(o, "--quiet-ms"))
            dst = &quiet_ms;
        else if (o[0] != '-' && !endpoint) {
            endpoint = o;
            continue;
        }
        if (!dst || i + 1 >= argc || parse_u64(argv[i + 1], dst) != 0 ||
            (dst == &quiet_ms && quiet_ms > 3600000)) {
            fprintf(stderr, "bench_zmq_recv: bad option or value: %s\n", o);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!endpoint) {
        usage(stderr);
        return 2;
    }

    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_PULL) : NULL;
    int hwm = RCV_HWM, linger = 0, timeout = (int)quiet_ms;
    if (!sock || zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
        zmq_bind(sock, endpoint) != 0) {
        fprintf(stderr, "bench_zmq_recv: cannot bind %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        if (sock)
            zmq_close(sock);
        if (ctx)
            zmq_ctx_term(ctx);
        return 2;
    }
    fprintf(stderr, "bench_zmq_recv: listening on %s\n", endpoint);

    counts_t c = { 0 };
    int rc = receive(sock, want_lines, want_bytes, &c);
    double secs = c.messages > 1 ? c.last - c.first : 0.0;
    printf("recv messages=%" PRIu64 " bytes=%" PRIu64 " lines=%" PRIu64
           " seconds=%.6f lines_per_s=%.0f complete=%d\n",
           c.messages, c.bytes, c.lines, secs, secs > 0 ? (double)c.lines / secs : 0.0, rc == 0);
    fflush(stdout);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return rc == 0 ? 0 : 1;
}
