/*
 * testutil.h - small helpers shared by the unit tests (include after
 * <cmocka.h>).
 */
#ifndef SW_TESTUTIL_H
#define SW_TESTUTIL_H

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEC INT64_C(1000000000)

/* cmocka 1.1 compares floats only in single precision. */
#define assert_near(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (a), b_ = (b);                                               \
        if (!(fabs(a_ - b_) <= (tol)))                                           \
            fail_msg("%s = %.17g, want %.17g +- %g", #a, a_, b_, (double)(tol)); \
    } while (0)

/* A scratch folder made for one test, and a file path in it: the cmocka
 * state of tests that write files (tu_dir_setup / tu_dir_teardown from
 * their setup and teardown). */
typedef struct {
    char dir[64];
    char path[256];
} tu_dir_t;

static inline int tu_dir_setup(void **state, const char *name, const char *file)
{
    tu_dir_t *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/%s_XXXXXX", name);
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir, file);
    *state = fx;
    return 0;
}

static inline int tu_dir_teardown(void **state)
{
    tu_dir_t *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
    int rc = system(cmd);
    free(fx);
    return rc;
}

/* The whole file at `path` (up to 1 MiB), NUL-terminated; the caller
 * frees it. Fails the test when it cannot be read. */
static inline char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: cannot open", path);
    char *buf = malloc((1 << 20) + 1);
    if (!buf)
        fail_msg("out of memory");
    size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* splitmix64: a seeded, platform-independent generator of test data. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double rng_u01(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* A new string: `n` copies of `unit` between `head` and `tail` (big or
 * deeply nested YAML, for the loaders' limits). The caller frees it. */
static inline char *tu_repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
    char *s = malloc(h + u * n + t + 1);
    assert_non_null(s);
    memcpy(s, head, h);
    for (size_t i = 0; i < n; i++)
        memcpy(s + h + i * u, unit, u);
    memcpy(s + h + u * n, tail, t + 1);
    return s;
}

/*
 * What the code under test logs (standard error) between log_capture_start()
 * and log_capture_end(), which returns it (the caller frees it) and echoes it
 * to the real standard error, so a test's log stays visible. Assert only
 * after log_capture_end(): a failed assertion would leave stderr captured.
 */
typedef struct {
    int saved;
    FILE *tmp;
} log_capture_t;

static inline void log_capture_start(log_capture_t *c)
{
    fflush(stderr);
    c->tmp = tmpfile();
    c->saved = dup(STDERR_FILENO);
    if (!c->tmp || c->saved < 0 || dup2(fileno(c->tmp), STDERR_FILENO) < 0)
        abort();
}

/* What was captured so far (the caller frees it); capturing goes on. */
static inline char *log_capture_text(log_capture_t *c)
{
    fflush(stderr);
    int fd = fileno(c->tmp);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = malloc(n > 0 ? (size_t)n + 1 : 1);
    ssize_t got = text && n > 0 ? pread(fd, text, (size_t)n, 0) : 0;
    if (!text)
        abort();
    text[got > 0 ? got : 0] = '\0';
    return text;
}

static inline char *log_capture_end(log_capture_t *c)
{
    char *text = log_capture_text(c);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    fclose(c->tmp);
    fputs(text, stderr);
    return text;
}

/* A loopback TCP port nothing listens on now (bound, then released). */
static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Sets the soft file-size limit (writes past it fail with EFBIG once
 * SIGXFSZ is ignored; it holds for every file, a captured log's too);
 * returns the previous one. */
static inline struct rlimit limit_file_size(rlim_t bytes)
{
    struct rlimit old, now;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    now = old;
    now.rlim_cur = bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &now), 0);
    return old;
}

/* How many times `needle` occurs in `hay`. */
static inline size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

#endif
