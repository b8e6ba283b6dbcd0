/*
 * test_fileio.c - whole writes, atomic replacement, bounded reads, moving
 * a file aside and the writability check.
 *
 * The checks that a path cannot be written must hold as root too (CI runs
 * as root, which passes over permission bits), so they use sysfs, which
 * refuses root as well: no new file in /sys (EACCES, or EROFS where /sys
 * is mounted read-only), and /sys/devices/system/cpu/online cannot be
 * opened for writing (no store method: EACCES). Each skips when this
 * system's /sys does not behave so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"

static char dir[] = "/tmp/sw_fileio_XXXXXX";

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/sw_fileio_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    DIR *dp = opendir(dir);
    struct dirent *de;
    char path[512];
    while (dp && (de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) < 0)
            rmdir(path);
    }
    if (dp)
        closedir(dp);
    return rmdir(dir);
}

/* Files in dir (the temporary ones included). */
static int entries(void)
{
    DIR *dp = opendir(dir);
    int n = 0;
    for (struct dirent *de; dp && (de = readdir(dp));)
        n += de->d_name[0] != '.';
    closedir(dp);
    return n;
}

static void test_replace_and_read(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/f", dir);
    unsigned char *buf;
    size_t len;
    assert_int_equal(fio_read(path, 100, &buf, &len), 1); /* missing */
    assert_int_equal(fio_replace(path, "first", 5), 0);
    assert_int_equal(fio_replace(path, "second!", 7), 0);
    assert_int_equal(entries(), 1); /* no temporary file left */
    assert_int_equal(fio_read(path, 100, &buf, &len), 0);
    assert_int_equal(len, 7);
    assert_string_equal((char *)buf, "second!");
    free(buf);
    /* the bound */
    assert_int_equal(fio_read(path, 6, &buf, &len), -1);
    assert_int_equal(errno, EFBIG);
    /* not a regular file */
    assert_int_equal(fio_read(dir, 100, &buf, &len), -1);
    assert_int_equal(errno, EINVAL);
}

static void test_replace_failure_leaves_nothing(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/missing/f", dir);
    assert_int_equal(fio_replace(path, "x", 1), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(entries(), 0);
    /* a full device: the write fails, the old content stays */
    int fd = open("/dev/full", O_WRONLY);
    if (fd >= 0) {
        assert_int_equal(fio_write_all(fd, "abc", 3), -1);
        assert_int_equal(errno, ENOSPC);
        close(fd);
    }
}

static void test_write_all_and_sync_dir(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/w", dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    char big[200000];
    memset(big, 'z', sizeof(big));
    assert_int_equal(fio_write_all(fd, big, sizeof(big)), 0);
    close(fd);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, sizeof(big));
    assert_int_equal(fio_sync_dir(path), 0);
    char nowhere[256];
    snprintf(nowhere, sizeof(nowhere), "%s/no/such/f", dir);
    assert_int_equal(fio_sync_dir(nowhere), -1);
}

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fio_write_all(fd, text, strlen(text)), 0);
    close(fd);
}

static void assert_content(const char *path, const char *want)
{
    unsigned char *buf;
    size_t len;
    assert_int_equal(fio_read(path, 1000, &buf, &len), 0);
    assert_string_equal((char *)buf, want);
    free(buf);
}

/* How a torn write is seen: the bytes that went out before the failure. */
static void test_write_all_n_counts_what_went_out(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        skip();
    size_t written = 99;
    assert_int_equal(fio_write_all_n(fd, "abc", 3, &written), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(written, 0);
    close(fd);
    char path[256];
    snprintf(path, sizeof(path), "%s/n", dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(fio_write_all_n(fd, "abcd", 4, &written), 0);
    assert_int_equal(written, 4);
    close(fd);
}

/* Moved aside under a timestamped name, never over another file. */
static void test_move_aside(void **state)
{
    (void)state;
    char path[256], moved[3][512], err[1024];
    snprintf(path, sizeof(path), "%s/state.bin", dir);
    const char *texts[3] = { "first", "second", "third" };
    for (int i = 0; i < 3; i++) {
        write_text(path, texts[i]);
        assert_int_equal(fio_move_aside(path, moved[i], sizeof(moved[i]), err, sizeof(err)), SW_OK);
        assert_int_equal(access(path, F_OK), -1); /* gone from its place */
        /* PATH.corrupt-YYYYMMDDTHHMMSSZ, maybe with .N */
        const char *stamp = moved[i] + strlen(path);
        assert_true(strncmp(stamp, ".corrupt-", 9) == 0);
        stamp += 9;
        assert_int_equal(strspn(stamp, "0123456789"), 8);
        assert_int_equal(stamp[8], 'T');
        assert_int_equal(strspn(stamp + 9, "0123456789"), 6);
        assert_int_equal(stamp[15], 'Z');
        assert_true(stamp[16] == '\0' || stamp[16] == '.');
    }
    /* three moves within a second or two: three names, nothing overwritten */
    assert_string_not_equal(moved[0], moved[1]);
    assert_string_not_equal(moved[1], moved[2]);
    assert_string_not_equal(moved[0], moved[2]);
    for (int i = 0; i < 3; i++)
        assert_content(moved[i], texts[i]);

    /* nothing there */
    assert_int_equal(fio_move_aside(path, moved[0], sizeof(moved[0]), err, sizeof(err)),
                     SW_ENOTFOUND);
    char want[1024];
    snprintf(want, sizeof(want), "%s: cannot move it aside to ", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "No such file or directory"));
    /* a name that does not fit */
    write_text(path, "x");
    assert_int_equal(fio_move_aside(path, moved[0], 10, err, sizeof(err)), SW_EINVAL);
    assert_content(path, "x");
}

/* A rename the file system refuses, root or not: the file stays. */
static void test_move_aside_refused(void **state)
{
    (void)state;
    const char *path = "/sys/devices/system/cpu/online";
    char moved[512], err[1024];
    if (access(path, F_OK) != 0)
        skip();
    assert_int_equal(fio_move_aside(path, moved, sizeof(moved), err, sizeof(err)), SW_EIO);
    assert_int_equal(access(path, F_OK), 0);
    const char *want = "/sys/devices/system/cpu/online: cannot move it aside to "
                       "/sys/devices/system/cpu/online.corrupt-";
    assert_true(strncmp(err, want, strlen(want)) == 0);
}

static void test_check_writable(void **state)
{
    (void)state;
    char path[256], err[1024], want[1024];
    /* a new file in a writable directory, then an existing one */
    snprintf(path, sizeof(path), "%s/state.bin", dir);
    assert_int_equal(fio_check_writable(path, err, sizeof(err)), SW_OK);
    assert_int_equal(entries(), 0); /* the probe is gone, nothing created */
    write_text(path, "kept");
    assert_int_equal(fio_check_writable(path, err, sizeof(err)), SW_OK);
    assert_content(path, "kept");
    assert_int_equal(entries(), 1);

    /* a directory that does not exist */
    snprintf(path, sizeof(path), "%s/missing/state.bin", dir);
    assert_int_equal(fio_check_writable(path, err, sizeof(err)), SW_EIO);
    snprintf(want, sizeof(want), "%s: cannot create files in %s/missing: No such file or directory",
             path, dir);
    assert_string_equal(err, want);
    /* a directory where a file should be */
    assert_int_equal(fio_check_writable(dir, err, sizeof(err)), SW_EINVAL);
    snprintf(want, sizeof(want), "%s: is a directory", dir);
    assert_string_equal(err, want);
    /* a device is written in place */
    assert_int_equal(fio_check_writable("/dev/null", err, sizeof(err)), SW_OK);
}

/* What root cannot write either: a new file in /sys, a read-only attribute. */
static void test_check_writable_refused_even_to_root(void **state)
{
    (void)state;
    char err[1024];
    int fd = open("/sys/stormwatch-probe", O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        close(fd);
        unlink("/sys/stormwatch-probe");
        skip();
    }
    assert_int_equal(fio_check_writable("/sys/stormwatch-state", err, sizeof(err)), SW_EIO);
    if (strcmp(err, "/sys/stormwatch-state: cannot create files in /sys: Permission denied") != 0 &&
        strcmp(err, "/sys/stormwatch-state: cannot create files in /sys: Read-only file system") != 0)
        fail_msg("unexpected message: %s", err);

    const char *ro = "/sys/devices/system/cpu/online";
    if (access(ro, F_OK) != 0)
        skip();
    assert_int_equal(fio_check_writable(ro, err, sizeof(err)), SW_EIO);
    if (strcmp(err, "/sys/devices/system/cpu/online: Permission denied") != 0 &&
        strcmp(err, "/sys/devices/system/cpu/online: Read-only file system") != 0)
        fail_msg("unexpected message: %s", err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replace_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_all_and_sync_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_all_n_counts_what_went_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move_aside, setup, teardown),
        cmocka_unit_test(test_move_aside_refused),
        cmocka_unit_test_setup_teardown(test_check_writable, setup, teardown),
        cmocka_unit_test(test_check_writable_refused_even_to_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
