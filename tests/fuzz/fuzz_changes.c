/*
 * fuzz_changes.c - the change-register loader, config/changes_yaml.h.
 *
 * Feeds: the input as the YAML text of a change register, to
 * changes_load_yaml_buf().
 *
 * Checks, beyond "no crash" and no leak:
 *   - the return code is 0, SW_ECONFIG or SW_ENOMEM, and every error has a
 *     message that starts with the name given;
 *   - on success, every change is what changes.h promises of a register:
 *     an id and a user, end >= start, affects one of CHG_SOUTH, CHG_NORTH,
 *     CHG_BOTH, ids unique (changes_find() finds each at its own index);
 *   - the register is then used as the alert stage uses it: corr_score()
 *     and corr_best() for every kind and direction at onsets at and around
 *     the start and end of each of the first 16 changes (extreme dates
 *     included), with the default correlation settings; scores must be in
 *     [0,1] and a change found must be the alert's User's or DCC-led.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "changes_yaml.h"
#include "correlate.h"
#include "err.h"

#define NAME "fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_changes: %s\n", what);
    abort();
}

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static void correlate_all(const changes_t *reg, const change_t *c)
{
    corr_params_t p;
    corr_params_defaults(&p);
    const int64_t at[] = { c->start, c->end, add_sat(c->start, -p.early), add_sat(c->end, p.late),
                           add_sat(c->start, -1), add_sat(c->end, 1),
                           c->start / 2 + c->end / 2 };
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        for (int kind = 0; kind < ALERT_NKINDS; kind++) {
            for (int dir = DIR_SOUTH; dir <= DIR_BOTH; dir++) {
                double s = corr_score(c, &p, (alert_kind_t)kind, dir, at[i]);
                if (!(s >= 0 && s <= 1))
                    fail("corr_score outside [0,1]");
                corr_result_t r = corr_best(reg, &p, c->user, (alert_kind_t)kind, dir, at[i]);
                if (!(r.score >= 0 && r.score <= 1))
                    fail("corr_best score outside [0,1]");
                if (r.change && strcmp(r.change->user, c->user) != 0 && !change_is_dcc(r.change))
                    fail("corr_best picked another User's change");
                if ((r.change == NULL) != (r.type == CORR_UNDECLARED))
                    fail("corr_best type and change disagree");
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    changes_t *reg = changes_create();
    if (!reg)
        fail("changes_create failed");
    char err[512];
    int rc = changes_load_yaml_buf(NAME, (const char *)data, size, reg, err, sizeof(err));
    if (rc != 0) {
        if (rc != SW_ECONFIG && rc != SW_ENOMEM)
            fail("unexpected error code");
        if (strncmp(err, NAME, strlen(NAME)) != 0) {
            fprintf(stderr, "message: %s\n", err);
            fail("error message does not start with the name");
        }
        changes_destroy(reg);
        return 0;
    }
    size_t n = changes_count(reg);
    for (size_t i = 0; i < n; i++) {
        const change_t *c = changes_get(reg, i);
        if (!c || !c->id || !c->user || !c->id[0] || !c->user[0])
            fail("change without id or user");
        if (c->end < c->start)
            fail("end before start");
        if (c->affects != CHG_SOUTH && c->affects != CHG_NORTH && c->affects != CHG_BOTH)
            fail("affects out of range");
        if (changes_find(reg, c->id) != c)
            fail("changes_find does not find the change (duplicate id?)");
    }
    for (size_t i = 0; i < n && i < 16; i++) /* enough to reach every kind of date */
        correlate_all(reg, changes_get(reg, i));
    changes_destroy(reg);
    return 0;
}
