/*
 * report_axis.c - the geometry of the report's charts (report_int.h): a
 * value axis fitted to the data with round ticks, time ticks thinned to
 * what their labels leave room for, and the boxes of text labels, so that
 * report_chart.c never draws two labels over each other.
 *
 * Text is measured without a browser: a label's width is estimated from
 * DejaVu Sans, the widest common sans-serif (what system-ui is on Debian),
 * at REP_FONT px, rounded up, so that a narrower font only leaves more room.
 * The browser test measures the real boxes.
 */
#include "report_int.h"

#include <math.h>
#include <string.h>

#include "timefmt.h"

/* Advance widths in em, DejaVu Sans, rounded up per class of character. */
static double char_em(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return 0.64;
    if (strchr(":.,;' ", c))
        return 0.34;
    if (strchr("-/()[]", c))
        return 0.40;
    if (c == 'm' || c == 'w' || c == 'M' || c == 'W' || c == '%')
        return 1.0;
    if (c >= 'a' && c <= 'z')
        return 0.64;
    return 0.80; /* capitals and the rest */
}

double rep_text_width(const char *text)
{
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if ((*p & 0xC0) != 0x80) /* one per UTF-8 character */
            em += char_em(*p);
    return em * REP_FONT;
}

rep_box_t rep_text_box(double x, double y, int anchor, const char *text)
{
    double w = rep_text_width(text);
    double left = anchor < 0 ? x : anchor == 0 ? x - w / 2 : x - w;
    /* a line box: the font's ascent above the baseline, its descent below */
    return (rep_box_t){ left, y - REP_ASCENT * REP_FONT, left + w, y + REP_DESCENT * REP_FONT };
}

static int overlap(const rep_box_t *a, const rep_box_t *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

void rep_labels_init(rep_labels_t *l, double width, double height)
{
    l->n = 0;
    l->width = width;
    l->height = height;
}

int rep_label_take(rep_labels_t *l, rep_box_t b)
{
    if (b.x0 < 0 || b.y0 < 0 || b.x1 > l->width || b.y1 > l->height || l->n == REP_LABELS_MAX)
        return 0;
    for (size_t i = 0; i < l->n; i++)
        if (overlap(&l->v[i], &b))
            return 0;
    l->v[l->n++] = b;
    return 1;
}

/* The round step nearest `raw` (> 0): 1, 2, 2.5 or 5 times a power of ten. */
static double nice_step(double raw)
{
    double p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 2.25 ? 2 : m < 3.5 ? 2.5 : m < 7.5 ? 5 : 10) * p;
}

rep_axis_t rep_fit_axis(double lo, double hi, int ticks)
{
    if (ticks < 1)
        ticks = 1;
    if (isnan(lo) || isnan(hi) || hi < lo) /* nothing to show: 0 to 1 */
        return (rep_axis_t){ 0, 1, nice_step(1.0 / ticks) };
    double room = (hi - lo) * REP_HEADROOM;
    if (!(room > 0)) /* flat: a band around the value, or 0 to 1 at 0 */
        room = hi != 0 ? fabs(hi) * REP_HEADROOM * 2 : 1;
    double a = lo - room, b = hi + room;
    if (lo >= 0 && a < 0)
        a = 0; /* rates and backlogs are never negative */
    double step = nice_step((b - a) / ticks);
    rep_axis_t ax = { floor(a / step) * step, ceil(b / step) * step, step };
    if (ax.max - ax.min < step / 2) /* rounding of huge values */
        ax.max = ax.min + step;
    return ax;
}

/* Round steps of the time axis, in seconds, finest first. */
static const int64_t steps_s[] = {
    10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400,
};
#define NSTEPS (sizeof(steps_s) / sizeof(steps_s[0]))

/* A tick's label: "MM-DD" on daily steps; else "HH:MM" (":SS" on steps under
 * a minute), with the date before it ("MM-DD HH:MM") on the first label and
 * where the day changes. */
static void tick_label(int64_t t, int64_t step, int dated, char *out, size_t n)
{
    char b[TF_BUFLEN];
    tf_format(t, b); /* YYYY-MM-DDTHH:MM:SS... */
    int secs = step < 60 * (int64_t)REP_NS_S;
    if (step >= REP_DAY_NS)
        snprintf(out, n, "%.5s", b + 5);
    else if (dated)
        snprintf(out, n, "%.5s %.*s", b + 5, secs ? 8 : 5, b + 11);
    else
        snprintf(out, n, "%.*s", secs ? 8 : 5, b + 11);
}

static int64_t day_of(int64_t t)
{
    return t / REP_DAY_NS - (t % REP_DAY_NS < 0);
}

/* The labelled ticks of `step` whose labels lie within [x0, x1]: their
 * number, or -1 when two of them would touch or there are too many. When
 * `skip`, a label that would touch the one before is left out instead. */
static ptrdiff_t lay_ticks(int64_t t0, int64_t t1, double x0, double x1, int64_t step, int skip,
                           rep_tick_t *out)
{
    size_t n = 0;
    int64_t last_day = INT64_MIN;
    double right = -INFINITY; /* where the previous label ends */
    int64_t t = t0 - (t0 % step + step) % step; /* the round time at or before t0 */
    for (t = t < t0 ? t + step : t; t < t1; t += step) {
        rep_tick_t k = { .t = t, .x = x0 + (x1 - x0) * (double)(t - t0) / (double)(t1 - t0) };
        tick_label(t, step, n == 0 || day_of(t) != last_day, k.label, sizeof(k.label));
        rep_box_t b = rep_text_box(k.x, 0, 0, k.label);
        if (b.x0 < x0) /* the first label, dated, runs off the left: the next one */
            continue;
        if (b.x1 > x1)
            break;
        if (b.x0 < right + REP_LABEL_GAP || n == REP_TICKS_MAX) {
            if (!skip)
                return -1;
            continue;
        }
        right = b.x1;
        last_day = day_of(t);
        out[n++] = k;
    }
    return (ptrdiff_t)n;
}

size_t rep_time_ticks(int64_t t0, int64_t t1, double x0, double x1, rep_tick_t out[REP_TICKS_MAX],
                      int64_t *step)
{
    *step = 0;
    if (t1 <= t0 || x1 <= x0)
        return 0;
    for (size_t i = 0; i < NSTEPS; i++) {
        *step = steps_s[i] * (int64_t)REP_NS_S;
        ptrdiff_t n = lay_ticks(t0, t1, x0, x1, *step, 0, out);
        if (n >= 0)
            return (size_t)n;
    }
    /* years: even four-week labels touch, so some are left out */
    return (size_t)lay_ticks(t0, t1, x0, x1, *step, 1, out);
}
