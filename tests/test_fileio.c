/*
 * test_fileio.c - whole writes, atomic replacement and bounded reads.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replace_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_all_and_sync_dir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
