/*
 * forecast.c - projecting a User's day against its forecast (forecast.h).
 */
#include "forecast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "idindex.h"
#include "vec.h"

#define NS_HOUR (3600 * INT64_C(1000000000))
#define NS_DAY (24 * NS_HOUR)

typedef struct {
    char *user;
    int32_t day;        /* the UTC day counted (days since the epoch) */
    int whole;          /* counted from the day's first hour: a day to learn from */
    int64_t from;       /* time of day counting began (a User seen, or a restart,
                           mid-day: the day is projected from what came since) */
    double today;       /* requests so far */
    double hours[24];   /* requests by hour today */
    double shape[24];   /* the usual share of a day's requests by hour */
    int learnt;         /* days learnt into shape */
    int firing;
    uint32_t id;
} fuser_t;

struct forecasts {
    fuser_t **u;
    size_t n, cap;
    idindex_t ix;       /* u[] by user */
    int dirty;
    uint32_t next_id;
};

forecasts_t *forecasts_create(void)
{
    forecasts_t *f = calloc(1, sizeof(*f));
    if (f) {
        idx_init(&f->ix);
        f->dirty = 1;
    }
    return f;
}

void forecasts_destroy(forecasts_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->u[i]->user);
        free(f->u[i]);
    }
    free(f->u);
    idx_free(&f->ix);
    free(f);
}

void forecasts_register_changed(forecasts_t *f)
{
    f->dirty = 1;
}

size_t forecasts_watching(const forecasts_t *f)
{
    return f->n;
}

static fuser_t *find(const forecasts_t *f, const char *user)
{
    ptrdiff_t i = idx_find(&f->ix, user, strlen(user));
    return i < 0 ? NULL : f->u[i];
}

/* Watches every User with a forecast (a User whose forecasts are gone
 * stays watched: it costs a few hundred bytes and keeps its profile). */
static void refresh(forecasts_t *f, const changes_t *reg)
{
    for (size_t i = 0; i < changes_forecast_count(reg); i++) {
        const char *user = changes_forecast_get(reg, i)->user;
        if (find(f, user))
            continue;
        fuser_t *u = calloc(1, sizeof(*u));
        if (!u || !(u->user = strdup(user)) || VEC_RESERVE(f->u, f->cap, f->n + 1, 8) < 0 ||
            idx_reserve(&f->ix, f->n + 1) < 0) {
            if (u)
                free(u->user);
            free(u);
            return; /* dirty stays set: tried again */
        }
        u->day = INT32_MIN;
        u->id = ++f->next_id;
        f->u[f->n] = u;
        idx_insert(&f->ix, u->user, strlen(u->user), f->n);
        f->n++;
    }
    f->dirty = 0;
}

static int32_t day_of(int64_t t)
{
    return (int32_t)(t >= 0 ? t / NS_DAY : (t - NS_DAY + 1) / NS_DAY);
}

/* The day ended: learn its hours into the profile when it was whole. */
static void learn_day(fuser_t *u)
{
    if (!u->whole || !(u->today > 0))
        return;
    double w = u->learnt ? FORECAST_LEARN : 1.0;
    for (int h = 0; h < 24; h++)
        u->shape[h] = (1 - w) * u->shape[h] + w * u->hours[h] / u->today;
    u->learnt++;
}

/* The usual share of a day's requests sent by time-of-day `tod` (ns). */
static double share_by(const fuser_t *u, int64_t tod)
{
    double x = (double)tod / (double)NS_HOUR; /* hours, 0..24 */
    if (!u->learnt)
        return x / 24.0;
    double s = 0;
    int h = 0;
    for (; h < 24 && h + 1 <= x; h++)
        s += u->shape[h];
    if (h < 24)
        s += u->shape[h] * (x - h);
    return s;
}

size_t forecasts_bucket(forecasts_t *f, const changes_t *reg, const char *user, int64_t at,
                        int64_t dt, double queued, forecast_event_t out[2])
{
    if (f->dirty)
        refresh(f, reg);
    fuser_t *u = f->n ? find(f, user) : NULL;
    if (!u)
        return 0;
    size_t n = 0;
    int32_t day = day_of(at);
    if (day != u->day) {
        if (u->firing)
            out[n++] = (forecast_event_t){ .fire = 0, .id = u->id, .at = at,
                                           .ends_at = (int64_t)(u->day + 1) * NS_DAY };
        u->firing = 0;
        if (day == u->day + 1)
            learn_day(u);
        u->from = at - (int64_t)day * NS_DAY;
        u->whole = u->from < NS_HOUR;
        u->day = day;
        u->today = 0;
        memset(u->hours, 0, sizeof(u->hours));
    }
    int64_t tod = at - (int64_t)day * NS_DAY;
    u->today += queued;
    u->hours[tod / NS_HOUR] += queued;
    const forecast_t *fc = changes_forecast_for(reg, user, day);
    if (!fc)
        return n;
    int64_t end = tod + (dt > 0 ? dt : 0);
    double share = share_by(u, end < NS_DAY ? end : NS_DAY) - (u->whole ? 0 : share_by(u, u->from));
    if (share < FORECAST_MIN_SHARE || u->today < FORECAST_MIN_COUNT)
        return n;
    double projected = u->today / share;
    double low = (u->today - 3 * sqrt(u->today)) / share;
    if (!u->firing && low >= FORECAST_FIRE * fc->per_day) {
        u->firing = 1;
        out[n++] = (forecast_event_t){ .fire = 1, .id = u->id, .at = at, .projected = projected,
                                       .forecast = fc->per_day, .learning = !u->learnt };
    } else if (u->firing && projected < FORECAST_CLEAR * fc->per_day) {
        u->firing = 0;
        out[n++] = (forecast_event_t){ .fire = 0, .id = u->id, .at = at, .ends_at = at };
    }
    return n;
}
