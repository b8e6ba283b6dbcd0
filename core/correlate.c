/*
 * correlate.c - scoring declared changes against an alert (correlate.h).
 */
#include "correlate.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/*
 * Kind affinity: how plausibly a change of a kind causes each alert.
 * Columns: storm south, storm north, blocked_route, silence.
 * A firewall or network change blocks routes and silences Users; a new
 * meter-data system floods southbound; a firmware roll-out makes devices
 * raise alerts northbound; a head-end release can do a bit of everything;
 * maintenance slows everyone. Unknown kinds get KIND_UNKNOWN.
 */
#define KIND_UNKNOWN 0.6
static const struct {
    const char *kind;
    double storm_south, storm_north, blocked, silence, shift;
} affinity[] = {
    { "firewall",    0.3, 0.3, 1.0, 1.0, 0.6 },
    { "network",     0.4, 0.4, 1.0, 1.0, 0.8 },
    { "mdm",         1.0, 0.6, 0.5, 0.8, 1.0 },
    { "headend",     0.8, 0.8, 0.7, 0.8, 0.8 },
    { "firmware",    0.5, 1.0, 0.5, 0.6, 0.8 },
    { "maintenance", 0.8, 0.8, 1.0, 1.0, 1.0 },
};

const char *corr_kind_name(size_t i)
{
    return i < sizeof(affinity) / sizeof(affinity[0]) ? affinity[i].kind : NULL;
}

int corr_kind_known(const char *kind)
{
    for (size_t i = 0; kind && corr_kind_name(i); i++)
        if (strcasecmp(kind, corr_kind_name(i)) == 0)
            return 1;
    return 0;
}

double corr_kind_affinity(const char *kind, alert_kind_t alert, int dir)
{
    if (!kind)
        return KIND_UNKNOWN;
    for (size_t i = 0; i < sizeof(affinity) / sizeof(affinity[0]); i++) {
        if (strcasecmp(kind, affinity[i].kind) != 0)
            continue;
        switch (alert) {
        case ALERT_STORM:
        case ALERT_LIMIT:
            return dir == DIR_NORTH ? affinity[i].storm_north : affinity[i].storm_south;
        case ALERT_BLOCKED:
            return affinity[i].blocked;
        case ALERT_SILENCE:
            return affinity[i].silence;
        case ALERT_SHIFT:
            return affinity[i].shift;
        case ALERT_FEED: /* only the DSP's own work stops the whole feed */
            return strcasecmp(kind, "maintenance") == 0 ? 1.0 : KIND_UNKNOWN;
        default:
            return KIND_UNKNOWN;
        }
    }
    return KIND_UNKNOWN;
}

double corr_score(const change_t *c, const corr_params_t *p, alert_kind_t kind, int dir,
                  int64_t onset)
{
    /* differences in double: a change declared centuries away from the
     * onset (any int64 times) must not overflow, only score 0 */
    double fit;
    if (onset < c->start && change_is_dcc(c)) {
        /* the DSP starts its own work when it says: only a short lead */
        double lead = (double)p->early * CORR_DCC_LEAD;
        fit = lead > 0 ? 1.0 - ((double)c->start - (double)onset) / lead : 0.0;
    } else if (onset < c->start) { /* declared late: a fit, at half at most `early` after */
        fit = p->early > 0 && (double)c->start - (double)onset <= (double)p->early
                  ? 1.0 - CORR_LATE_FLOOR * ((double)c->start - (double)onset) / (double)p->early
                  : 0.0;
    } else if (onset > c->end)
        fit = p->late > 0 ? 1.0 - ((double)onset - (double)c->end) / (double)p->late : 0.0;
    else
        fit = 1.0;
    if (fit <= 0)
        return 0.0;
    double since_start = onset > c->start ? (double)onset - (double)c->start : 0.0;
    double prox = p->proximity > 0 ? exp(-since_start / (double)p->proximity) : 1.0;
    double time = fit * (1.0 + prox) / 2.0;
    unsigned want = dir == DIR_NORTH ? CHG_NORTH : dir == DIR_SOUTH ? CHG_SOUTH : CHG_BOTH;
    double dirf = (c->affects & want) ? 1.0 : CORR_WRONG_DIR;
    return time * dirf * corr_kind_affinity(c->kind, kind, dir);
}

corr_result_t corr_best(const changes_t *reg, const corr_params_t *p, const char *user,
                        alert_kind_t kind, int dir, int64_t onset)
{
    corr_result_t own = { CORR_UNDECLARED, NULL, 0 }, dcc = own;
    size_t n = changes_count(reg);
    for (size_t i = 0; i < n; i++) {
        const change_t *c = changes_get(reg, i);
        int is_dcc = change_is_dcc(c);
        if (!is_dcc && strcmp(c->user, user) != 0)
            continue;
        double s = corr_score(c, p, kind, dir, onset);
        if (s < p->min_score)
            continue;
        corr_result_t *best = is_dcc ? &dcc : &own;
        if (s > best->score ||
            (s == best->score && best->change && strcmp(c->id, best->change->id) < 0)) {
            best->change = c;
            best->score = s;
            best->type = is_dcc ? CORR_MAINTENANCE : CORR_DECLARED;
        }
    }
    /* the User's own change, unless DCC work explains it clearly better */
    if (own.change && (!dcc.change || own.score >= dcc.score - CORR_OWN_MARGIN))
        return own;
    return dcc;
}

double corr_impact_distance(double observed, double declared)
{
    double o = observed + CORR_IMPACT_FLOOR, d = declared + CORR_IMPACT_FLOOR;
    return o > d ? o / d : d / o;
}

impact_fit_t corr_impact(const change_t *c, alert_kind_t kind, int dir, double value,
                         double baseline)
{
    if (!c || (dir != DIR_SOUTH && dir != DIR_NORTH) || !(baseline > 0))
        return IMPACT_NA;
    switch (kind) {
    case ALERT_STORM:
    case ALERT_SILENCE:
    case ALERT_SHIFT:
    case ALERT_LIMIT:
        break;
    default:
        return IMPACT_NA;
    }
    double dist = corr_impact_distance(value / baseline, change_impact(c, dir));
    return dist <= CORR_IMPACT_TOLERANCE ? IMPACT_WITHIN : IMPACT_DEVIATED;
}
