/*
 * bench_parse.c - line-protocol parse rate (core/lineproto.c) against
 * splitting the same buffer into lines with memchr.
 *
 * The whole recording is read into memory first. Then, alternating
 * A B B A ... so that drift in the machine falls on both alike:
 *   A: split the buffer into lines with memchr and count them (the floor:
 *      touching every byte once, as any parser must);
 *   B: the same split, and lp_parse() on every line, as replay and the
 *      daemon's ingest thread call it (summing a field, so nothing is
 *      optimised away).
 * The best run of each is reported, with ratio = A's time / B's time.
 * Every line must parse (the recording is the simulator's): a bad one
 * fails the benchmark, so a broken parser cannot look fast.
 *
 * Usage: bench_parse FILE [--runs N] [--once]
 *        bench_parse --smoke
 *   --once: parse the buffer once, untimed, and print the line count (for
 *   valgrind --tool=callgrind, which counts instructions per line).
 *   --smoke: 10000 lines made here, one run of each: proves the benchmark
 *   works, for the test suite; it times nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "lineproto.h"

#define MAX_FILE (UINT64_C(4) << 30)
#define SCRATCH (64 * 1024)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Splits the buffer with memchr and counts the lines (A); with a scratch
 * buffer also parses each (B), summing a field so nothing is optimised
 * away and counting bad lines in *bad.
 */
static uint64_t walk(const char *buf, size_t len, char *scratch, double *sum, uint64_t *bad)
{
    uint64_t n = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (nl > p) {
            if (scratch) {
                lp_sample_t s;
                lp_result_t r = lp_parse(p, (size_t)(nl - p), 1, &s, scratch, SCRATCH);
                if (r == LP_OK)
                    *sum += s.count + (double)s.user.len;
                else if (lp_result_is_bad(r))
                    (*bad)++;
            }
            n++;
        }
        p = nl + 1;
    }
    return n;
}

/* --smoke: lines of the simulator's shape, made in memory. */
static unsigned char *smoke_lines(size_t *len)
{
    enum { N = 10000, MAXLINE = 160 };
    char *b = malloc((size_t)N * MAXLINE);
    if (!b)
        return NULL;
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(b + n, MAXLINE,
                              "dsp_traffic,user=90-B3-D5-1F-00-00-%02X-%02X,dir=north,class=alert "
                              "count=%di,delivered=%di,backlog=%di %lld\n",
                              i / 256 % 256, i % 256, i % 97, i % 89, i % 7,
                              1710223205007000000LL + i * 1000000LL);
    *len = n;
    return (unsigned char *)b;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int runs = 5, once = 0, smoke = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--once"))
            once = 1;
        else if (!strcmp(argv[i], "--smoke"))
            smoke = runs = 1;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: bench_parse FILE [--runs N] [--once]\n");
            return 2;
        }
    }
    if ((!path && !smoke) || runs < 1) {
        fprintf(stderr, "usage: bench_parse FILE [--runs N] [--once]\n");
        return 2;
    }
    unsigned char *buf;
    size_t len;
    int rc = smoke ? (buf = smoke_lines(&len)) ? 0 : -1 : fio_read(path, MAX_FILE, &buf, &len);
    if (rc != 0) {
        fprintf(stderr, "bench_parse: %s: %s\n", path ? path : "--smoke",
                rc > 0 ? "no such file" : strerror(errno));
        return 2;
    }
    char *scratch = malloc(SCRATCH);
    if (!scratch)
        return 1;
    double sum = 0;
    uint64_t bad = 0;
    if (once) {
        uint64_t n = walk((const char *)buf, len, scratch, &sum, &bad);
        printf("lines %llu bad %llu\n", (unsigned long long)n, (unsigned long long)bad);
        free(scratch);
        free(buf);
        return bad ? 1 : 0;
    }
    double best_a = 0, best_b = 0;
    uint64_t lines_a = 0, lines_b = 0;
    for (int r = 0; r < 2 * runs; r++) {
        int do_a = (r % 4 == 0 || r % 4 == 3); /* A B B A */
        double t0 = now_s();
        if (do_a)
            lines_a = walk((const char *)buf, len, NULL, NULL, NULL);
        else
            lines_b = walk((const char *)buf, len, scratch, &sum, &bad);
        double dt = now_s() - t0;
        double *best = do_a ? &best_a : &best_b;
        if (*best == 0 || dt < *best)
            *best = dt;
    }
    if (bad || lines_a != lines_b) {
        fprintf(stderr, "bench_parse: %llu bad lines, %llu vs %llu lines: not a clean recording\n",
                (unsigned long long)bad, (unsigned long long)lines_a,
                (unsigned long long)lines_b);
        return 1;
    }
    double rate = lines_b / best_b, ratio = best_a / best_b;
    printf("parse benchmark: %llu lines (%.0f MB) in memory, best of %d alternating runs\n",
           (unsigned long long)lines_b, len / 1e6, runs);
    printf("  memchr split (baseline)  %8.3f s  %8.1f M lines/s\n", best_a, lines_a / best_a / 1e6);
    printf("  split + lp_parse         %8.3f s  %8.1f M lines/s  (%.1f ns/line)\n", best_b,
           rate / 1e6, 1e9 / rate);
    printf("ROW\tline-protocol parse\tmemchr split %.0f M lines/s\t%.1f M lines/s\t%.2f\t"
           ">= 0.25\t%s\n",
           lines_a / best_a / 1e6, rate / 1e6, ratio, ratio >= 0.25 ? "met" : "NOT met");
    fprintf(stderr, "(checksum %g)\n", sum);
    free(scratch);
    free(buf);
    return 0;
}
