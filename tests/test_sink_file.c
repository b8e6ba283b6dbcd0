/*
 * test_sink_file.c - tests of the alerts file (adapters/sinks/sink_file.h).
 *
 * Failures are made real and work as root: /dev/full (every write ENOSPC),
 * a file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG, and
 * part of a line fits) that is lifted again to see lines written again,
 * and a FIFO with a one-page buffer nobody reads (a partial write). What
 * is logged is captured and counted: a burst of failures is one line, its
 * end another.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "sink_file.h"
#include "testutil.h"

typedef tu_dir_t fx_t;

static int setup(void **state)
{
    return tu_dir_setup(state, "sw_sink_file", "alerts.jsonl");
}

static int teardown(void **state)
{
    return tu_dir_teardown(state);
}

static sink_file_stats_t stats_of(const sink_file_t *s)
{
    sink_file_stats_t st;
    sink_file_stats(s, &st);
    return st;
}

#define L1 "{\"alert\":\"storm\",\"user\":\"A\"}\n"
#define L2 "{\"alert\":\"silence\",\"user\":\"B\"}"
#define L3 "{\"alert\":\"storm\",\"user\":\"C\"}\n"

static void test_lines_appended(void **state)
{
    fx_t *fx = *state;
    char err[512];
    sink_file_t *s = sink_file_open(fx->path, err, sizeof(err));
    assert_non_null(s);
    assert_string_equal(sink_file_path(s), fx->path);
    assert_int_equal(sink_file_write(s, L1, strlen(L1)), SW_OK);
    assert_int_equal(sink_file_write(s, L2, strlen(L2)), SW_OK); /* newline added */
    sink_file_close(s);
    /* a restart appends */
    s = sink_file_open(fx->path, err, sizeof(err));
    assert_int_equal(sink_file_write(s, L3, strlen(L3)), SW_OK);
    sink_file_stats_t st = stats_of(s);
    assert_int_equal(st.lines, 1);
    assert_int_equal(st.bytes, strlen(L3));
    assert_int_equal(st.write_errors, 0);
    sink_file_close(s);
    char *got = tu_slurp(fx->path);
    assert_string_equal(got, L1 L2 "\n" L3);
    free(got);
    struct stat sb;
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, SINK_FILE_MODE & ~(unsigned)umask(022));

    assert_int_equal(sink_file_write(NULL, L1, 3), SW_EINVAL);
    sink_file_close(NULL);
    char want[512];
    snprintf(want, sizeof(want), "%s/no/such/alerts.jsonl: No such file or directory", fx->dir);
    snprintf(fx->path, sizeof(fx->path), "%s/no/such/alerts.jsonl", fx->dir);
    assert_null(sink_file_open(fx->path, err, sizeof(err)));
    assert_string_equal(err, want);
}

/* A full disk: every line fails, each one counted, the burst logged once. */
static void test_dev_full_counted_and_logged_once(void **state)
{
    (void)state;
    char err[512];
    sink_file_t *s = sink_file_open("/dev/full", err, sizeof(err));
    if (!s)
        skip();
    int fails = 0;
    log_capture_t cap;
    log_capture_start(&cap);
    for (int i = 0; i < 200; i++)
        fails += sink_file_write(s, L1, strlen(L1)) == SW_EIO;
    char *log = log_capture_end(&cap);
    sink_file_stats_t st = stats_of(s);
    sink_file_close(s);
    assert_int_equal(fails, 200);
    assert_int_equal(st.write_errors, 200);
    assert_int_equal(st.dropped_bytes, 200 * strlen(L1));
    assert_int_equal(st.lines, 0);
    assert_int_equal(count_of(log, "/dev/full: cannot write an alert line: No space left on device"),
                     1);
    assert_int_equal(count_of(log, "\n"), 1);
    free(log);
}

/*
 * The file fills up part-way through a line: the fragment is cut off, the
 * burst of failures is logged once, and when there is room again the next
 * line is written right after the last whole one and the recovery logged.
 */
#define BEFORE 100 /* lines written before the file fills */
static void test_full_then_room_again(void **state)
{
    fx_t *fx = *state;
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
    char err[512];
    sink_file_t *s = sink_file_open(fx->path, err, sizeof(err));
    assert_non_null(s);
    /* the limit holds for every file, the captured log's too: the alerts
     * file is made larger than the log will grow first */
    for (int i = 0; i < BEFORE; i++)
        assert_int_equal(sink_file_write(s, L1, strlen(L1)), SW_OK);
    size_t before = BEFORE * strlen(L1);

    log_capture_t cap;
    log_capture_start(&cap);
    struct rlimit old = limit_file_size(before + 10); /* 10 bytes of L3 fit */
    int rc_torn = sink_file_write(s, L3, strlen(L3));
    struct stat sb;
    int st_torn = stat(fx->path, &sb);
    off_t size_torn = sb.st_size;
    int fails = 0;
    for (int i = 0; i < 50; i++)
        fails += sink_file_write(s, L2, strlen(L2)) == SW_EIO;
    setrlimit(RLIMIT_FSIZE, &old);
    int rc_back = sink_file_write(s, L2, strlen(L2));
    int rc_more = sink_file_write(s, L3, strlen(L3));
    char *log = log_capture_end(&cap);

    assert_int_equal(rc_torn, SW_EIO);
    assert_int_equal(st_torn, 0);
    assert_int_equal(size_torn, before); /* the 10 bytes were taken back */
    assert_int_equal(fails, 50);
    assert_int_equal(rc_back, SW_OK);
    assert_int_equal(rc_more, SW_OK);
    sink_file_stats_t st = stats_of(s);
    sink_file_close(s);
    assert_int_equal(st.lines, BEFORE + 2);
    assert_int_equal(st.write_errors, 51);
    assert_int_equal(st.dropped_bytes, strlen(L3) + 50 * (strlen(L2) + 1));
    char want[512];
    snprintf(want, sizeof(want), "%s: cannot write an alert line: File too large\n", fx->path);
    assert_int_equal(count_of(log, want), 1);
    snprintf(want, sizeof(want), "%s: alert lines written again after 51 failures over ", fx->path);
    assert_int_equal(count_of(log, want), 1);
    assert_int_equal(count_of(log, "\n"), 2);
    free(log);
    char *got = tu_slurp(fx->path);
    assert_int_equal(strlen(got), before + strlen(L2 "\n" L3));
    assert_string_equal(got + before, L2 "\n" L3);
    free(got);
}

/*
 * A FIFO whose reader stops reading: a line longer than its buffer goes out
 * in part, which cannot be taken back, so the next line starts with a
 * newline and the fragment stands alone. The writer never waits.
 */
static void test_fifo_fragment_stands_alone(void **state)
{
    fx_t *fx = *state;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(mkfifo(fx->path, 0600), 0);
    int rd = open(fx->path, O_RDONLY | O_NONBLOCK);
    assert_true(rd >= 0);
    long page = sysconf(_SC_PAGESIZE);
    assert_true(fcntl(rd, F_SETPIPE_SZ, (int)page) >= page);
    long cap = fcntl(rd, F_GETPIPE_SZ);
    char err[512];
    sink_file_t *s = sink_file_open(fx->path, err, sizeof(err));
    assert_non_null(s);

    size_t big = (size_t)cap + 100;
    char *line = malloc(big + 1);
    memset(line, 'x', big);
    line[0] = '{';
    line[big - 1] = '\n';
    log_capture_t capt;
    log_capture_start(&capt);
    int rc_big = sink_file_write(s, line, big);
    char *log = log_capture_end(&capt);
    assert_int_equal(rc_big, SW_EIO);
    assert_non_null(strstr(log, "cannot write an alert line: Resource temporarily unavailable"));
    free(log);

    char *buf = malloc((size_t)cap * 2);
    ssize_t n = read(rd, buf, (size_t)cap * 2); /* the fragment */
    assert_int_equal(n, cap);
    assert_int_equal(sink_file_write(s, L1, strlen(L1)), SW_OK);
    n = read(rd, buf, (size_t)cap * 2);
    assert_int_equal(n, 1 + strlen(L1));
    assert_memory_equal(buf, "\n" L1, (size_t)n);
    sink_file_stats_t st = stats_of(s);
    assert_int_equal(st.write_errors, 1);
    assert_int_equal(st.dropped_bytes, big);
    assert_int_equal(st.lines, 1);
    sink_file_close(s);
    close(rd);
    free(buf);
    free(line);
}

/* logrotate: the file is renamed, a reopen is asked for, and the next line
 * goes to a new file at the path; when the path cannot be opened, lines go
 * on into the file opened before. */
static void test_reopen(void **state)
{
    fx_t *fx = *state;
    char err[512], rotated[300], sub[128], moved[128];
    snprintf(sub, sizeof(sub), "%s/d", fx->dir);
    snprintf(moved, sizeof(moved), "%s/moved", fx->dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(fx->path, sizeof(fx->path), "%s/alerts.jsonl", sub);
    snprintf(rotated, sizeof(rotated), "%s.1", fx->path);
    sink_file_t *s = sink_file_open(fx->path, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(sink_file_write(s, L1, strlen(L1)), SW_OK);
    assert_int_equal(rename(fx->path, rotated), 0);
    assert_int_equal(sink_file_write(s, L3, strlen(L3)), SW_OK); /* no reopen asked: old file */
    sink_file_reopen(s);
    assert_int_equal(sink_file_write(s, L2, strlen(L2)), SW_OK);
    char *got = tu_slurp(rotated);
    assert_string_equal(got, L1 L3);
    free(got);
    got = tu_slurp(fx->path);
    assert_string_equal(got, L2 "\n");
    free(got);
    assert_int_equal(stats_of(s).reopens, 1);

    /* the directory is gone: the reopen fails, the line still lands */
    assert_int_equal(rename(sub, moved), 0);
    sink_file_reopen(s);
    log_capture_t cap;
    log_capture_start(&cap);
    int rc = sink_file_write(s, L1, strlen(L1));
    char *log = log_capture_end(&cap);
    assert_int_equal(rc, SW_OK);
    char want[512];
    snprintf(want, sizeof(want), "%s: cannot reopen: No such file or directory; writing on to the "
             "file opened before", fx->path);
    assert_non_null(strstr(log, want));
    free(log);
    sink_file_stats_t st = stats_of(s);
    assert_int_equal(st.reopens, 1);
    assert_int_equal(st.reopen_errors, 1);
    assert_int_equal(st.lines, 4);
    sink_file_close(s);
    snprintf(fx->path, sizeof(fx->path), "%s/alerts.jsonl", moved);
    got = tu_slurp(fx->path);
    assert_string_equal(got, L2 "\n" L1);
    free(got);
}

/* "-" writes to standard output, which a reopen leaves alone. */
static void test_stdout(void **state)
{
    fx_t *fx = *state;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    char err[512];
    sink_file_t *s = sink_file_open("-", err, sizeof(err));
    int rc1 = s ? sink_file_write(s, L1, strlen(L1)) : -1;
    sink_file_reopen(s);
    int rc2 = s ? sink_file_write(s, L3, strlen(L3)) : -1;
    sink_file_stats_t st = { 0 };
    if (s)
        sink_file_stats(s, &st);
    sink_file_close(s);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_non_null(s);
    assert_int_equal(rc1, SW_OK);
    assert_int_equal(rc2, SW_OK);
    assert_int_equal(st.reopens, 0);
    char *got = tu_slurp(fx->path);
    assert_string_equal(got, L1 L3);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_appended, setup, teardown),
        cmocka_unit_test(test_dev_full_counted_and_logged_once),
        cmocka_unit_test_setup_teardown(test_full_then_room_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_fragment_stands_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
