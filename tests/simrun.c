/*
 * simrun.c - a simulator run replayed through the engine (simrun.h).
 */
#include "simrun.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changes_yaml.h"
#include "engine.h"

static void collect(void *ctx, const alert_t *a)
{
    simrun_t *s = ctx;
    if (s->n >= SIMRUN_MAX)
        fail_msg("more than %d alert transitions", SIMRUN_MAX);
    int i = s->n++;
    snprintf(s->user[i], sizeof(s->user[0]), "%s", a->user);
    snprintf(s->cls[i], sizeof(s->cls[0]), "%s", a->cls);
    snprintf(s->change[i], sizeof(s->change[0]), "%s", a->change ? a->change->id : "");
    size_t n = alert_format_json(a, s->line[i], sizeof(s->line[0]));
    assert_true(n < sizeof(s->line[0]));
    s->a[i] = *a;
    s->a[i].user = s->user[i];
    s->a[i].cls = s->cls[i];
    s->a[i].change = NULL; /* the register is gone after the run: change[] has its id */
    s->a[i].impacted = NULL;
}

/* Writes `affects` over every "affects: [...]" the simulator wrote that
 * has room for it. */
static void rewrite_affects(char *changes, const char *affects)
{
    const char *tag = "affects: [";
    for (char *a = strstr(changes, tag); a; a = strstr(a + 1, tag)) {
        char *end = strchr(a, ']');
        assert_non_null(end);
        size_t room = (size_t)(end - a) - strlen(tag);
        if (strlen(affects) > room)
            continue; /* a no-op change's [both]: left as it is */
        memset(a + strlen(tag), ' ', room);
        memcpy(a + strlen(tag), affects, strlen(affects));
    }
}

void simrun_replay(const sim_opts_t *o, unsigned nshards, const char *affects,
                   void (*emit)(void *ctx, const alert_t *a), void *ctx, engine_stats_t *stats)
{
    if (o->timezone) {
        setenv("TZ", o->timezone, 1);
        tzset();
    }
    char *traffic = NULL, *changes = NULL;
    size_t tlen = 0, clen = 0;
    FILE *tf = open_memstream(&traffic, &tlen), *cf = open_memstream(&changes, &clen);
    assert_non_null(tf);
    assert_non_null(cf);
    char why[256] = "";
    if (sim_validate(o, why, sizeof(why)) != 0)
        fail_msg("simulator options: %s", why);
    assert_int_equal(sim_write(o, tf, cf, NULL), 0);
    fclose(tf);
    fclose(cf);
    if (affects)
        rewrite_affects(changes, affects);
    changes_t *reg = changes_create();
    char err[512];
    if (changes_load_yaml_buf("sim-changes.yaml", changes, clen, reg, err, sizeof(err)) != 0)
        fail_msg("change register: %s", err);
    engine_opts_t eo = { .emit = emit, .emit_ctx = ctx, .nshards = nshards,
                         .local_time = o->timezone != NULL };
    ingest_params_defaults(&eo.ingest);
    corr_params_defaults(&eo.corr);
    engine_t *e = engine_create(&eo, reg);
    assert_non_null(e);
    for (char *p = traffic, *end = traffic + tlen; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        engine_feed_line(e, p, len);
        p += len + 1;
    }
    engine_finish(e);
    if (stats)
        *stats = *engine_stats(e);
    engine_destroy(e);
    changes_destroy(reg);
    free(traffic);
    free(changes);
    if (o->timezone) {
        setenv("TZ", "UTC", 1);
        tzset();
    }
}

simrun_t *simrun(const sim_opts_t *o, unsigned nshards, const char *affects)
{
    simrun_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    simrun_replay(o, nshards, affects, collect, s, NULL);
    return s;
}

int simrun_find(const simrun_t *s, const sim_opts_t *o, int user, alert_kind_t k, int dir,
                int firing, int64_t from)
{
    char id[SIM_ID_LEN];
    if (user >= 0)
        sim_user_id(o, user, id);
    else
        snprintf(id, sizeof(id), "*");
    for (int i = 0; i < s->n; i++)
        if (s->a[i].kind == k && s->a[i].firing == firing && (dir < 0 || s->a[i].dir == dir) &&
            !strcmp(s->user[i], id) && (firing ? s->a[i].detected_at : s->a[i].ends_at) >= from)
            return i;
    return -1;
}

int simrun_pages(const simrun_t *s, int64_t from)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->a[i].firing && s->a[i].detected_at >= from && s->a[i].role == ROLE_PRIMARY &&
             !s->a[i].learning;
    return n;
}
