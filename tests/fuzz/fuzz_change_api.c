/*
 * fuzz_change_api.c - the change API's JSON, adapters/http/changes_api.h.
 *
 * Feeds: the input as the JSON body of a declare, changes_api_declare_ex(),
 * on a journal opened once (LLVMFuzzerInitialize) in a fresh directory in
 * /dev/shm (tmpfs: the fsync of every append costs nothing), removed at
 * exit. Every change stored is withdrawn again before the next input, and
 * the journal compacts after 8 withdrawals, so it stays a few lines long.
 *
 * Checks, beyond "no crash" and no leak:
 *   - the result is 0 or SW_ECONFIG (the register is empty before each
 *     input, the journal on tmpfs), with a message and no stored text on
 *     error, none on success;
 *   - on success: the stored text is a JSON object whose id is found by
 *     changes_api_get_json() with the same content, one change is live, and
 *     a snapshot holds it with end >= start and a known `affects`;
 *   - durability: the journal is closed and reopened (replayed) - the
 *     change must come back identical (a change the API accepts must be one
 *     its own journal replays);
 *   - round trip: after withdrawing it, declaring the stored text itself
 *     must succeed and store the same change (all but declared_at);
 *   - withdrawals succeed and leave nothing live.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "changes.h"
#include "changes_api.h"
#include "err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], journal[96];
static changes_api_t *api;
/* strict: a journal of its own that does not replay is a bug to report, not to set aside */
static const changes_api_opts_t opts = { .compact_after = 8, .strict = 1 };

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_change_api: %s%s%s\n", what, err ? ": " : "", err ? err : "");
    abort();
}

static void open_journal(void)
{
    char err[512];
    if (changes_api_open(journal, &opts, &api, err, sizeof(err)) != 0)
        fail("cannot open the journal", err);
}

static void cleanup(void)
{
    changes_api_close(api);
    api = NULL;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char p[512];
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/dev/shm/sw_fuzz_change_api.XXXXXX");
    if (!mkdtemp(dir)) {
        /* no /dev/shm: the temporary directory will do, only slower */
        snprintf(dir, sizeof(dir), "%s/sw_fuzz_change_api.XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
            fail("mkdtemp", NULL);
    }
    snprintf(journal, sizeof(journal), "%s/changes.jsonl", dir);
    open_journal();
    atexit(cleanup);
    return 0;
}

/* The stored change with declared_at removed (new reference). */
static json_t *without_declared_at(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    if (!json_is_object(v))
        fail("stored text is not a JSON object", text);
    json_object_del(v, "declared_at");
    return v;
}

static void expect_live(size_t n)
{
    changes_api_stats_t st;
    changes_api_stats(api, &st);
    if (st.live != n)
        fail("wrong number of live changes", NULL);
}

static void withdraw(const char *id)
{
    if (changes_api_withdraw(api, id) != 0)
        fail("cannot withdraw a declared change", id);
    expect_live(0);
}

/* get_json(id) must give exactly `want`. */
static void expect_get(const char *id, const char *want)
{
    int found = 0;
    char *got = changes_api_get_json(api, id, &found);
    if (!got || !found)
        fail("declared change not found by id", id);
    json_t *a = json_loads(got, 0, NULL), *b = json_loads(want, 0, NULL);
    if (!a || !b || !json_equal(a, b)) {
        fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
        fail("changes_api_get_json differs from the stored change", id);
    }
    json_decref(a);
    json_decref(b);
    free(got);
}

static void check_snapshot(void)
{
    changes_t *reg = changes_create();
    if (!reg || changes_api_snapshot(api, reg) != 0 || changes_count(reg) != 1)
        fail("snapshot does not hold the one change", NULL);
    const change_t *c = changes_get(reg, 0);
    if (!c->id || !c->user || c->end < c->start ||
        (c->affects != CHG_SOUTH && c->affects != CHG_NORTH && c->affects != CHG_BOTH))
        fail("snapshot change breaks the register's rules", c->id);
    changes_destroy(reg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    char *stored = (char *)1;
    int rc = changes_api_declare_ex(api, (const char *)data, size, &stored, err, sizeof(err));
    if (rc != 0) {
        if (rc != SW_ECONFIG && rc != SW_ENOMEM)
            fail("unexpected error code", err);
        if (stored != NULL || err[0] == '\0')
            fail("error without a message, or with stored text", err);
        expect_live(0);
        return 0;
    }
    if (!stored)
        fail("success without stored text", NULL);
    json_t *v = json_loads(stored, 0, NULL);
    const char *idp = json_string_value(json_object_get(v, "id"));
    if (!idp)
        fail("stored change has no id", stored);
    char *id = strdup(idp);
    json_decref(v);
    expect_live(1);
    expect_get(id, stored);
    check_snapshot();

    /* durability: what the journal replays is what was stored */
    changes_api_close(api);
    api = NULL;
    open_journal();
    expect_live(1);
    expect_get(id, stored);
    withdraw(id);

    /* round trip: the stored form declares the same change */
    char *again = NULL;
    rc = changes_api_declare_ex(api, stored, strlen(stored), &again, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "stored: %s\n", stored);
        fail("the stored change is refused when declared again", err);
    }
    json_t *a = without_declared_at(stored), *b = without_declared_at(again);
    if (!json_equal(a, b)) {
        fprintf(stderr, "first:  %s\nsecond: %s\n", stored, again);
        fail("declaring the stored change stores another change", id);
    }
    json_decref(a);
    json_decref(b);
    withdraw(id);
    free(again);
    free(stored);
    free(id);
    return 0;
}
