/*
 * alert.c - names of alert kinds and the JSON line of an alert (alert.h).
 */
#include "alert.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "incident.h"
#include "timefmt.h"

static const struct {
    const char *name, *severity;
} kinds[] = {
#define ALERT_ROW(k, name, sev) { name, sev },
    ALERT_KINDS(ALERT_ROW)
#undef ALERT_ROW
};

const char *alert_kind_name(alert_kind_t k)
{
    return k < ALERT_NKINDS ? kinds[k].name : "unknown";
}

const char *alert_severity(alert_kind_t k)
{
    return k < ALERT_NKINDS ? kinds[k].severity : "warning";
}

int alert_severity_level(alert_kind_t k)
{
    const char *s = alert_severity(k);
    return !strcmp(s, "critical") ? SEV_CRITICAL : !strcmp(s, "info") ? SEV_INFO : SEV_WARNING;
}

int incident_id_format(incident_id_t id, char *buf)
{
    unsigned tag = (unsigned)(id >> 32), n = (unsigned)(id & UINT32_MAX);
    return tag ? snprintf(buf, INCIDENT_ID_LEN, "INC-%06X-%04u", tag, n)
               : snprintf(buf, INCIDENT_ID_LEN, "INC-%04u", n);
}

int incident_id_parse(const char *s, incident_id_t *id)
{
    if (strncmp(s, "INC-", 4) != 0)
        return -1;
    s += 4;
    const char *dash = strchr(s, '-');
    uint64_t tag = 0, n = 0;
    for (const char *p = s; dash && p < dash; p++) {
        int v = isdigit((unsigned char)*p) ? *p - '0'
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : -1;
        if (v < 0 || dash - s > 6)
            return -1;
        tag = tag * 16 + (uint64_t)v;
    }
    const char *num = dash ? dash + 1 : s;
    if (!*num || (dash && !tag))
        return -1;
    for (const char *p = num; *p; p++) {
        if (!isdigit((unsigned char)*p) || n > UINT32_MAX / 10)
            return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (!n || n > UINT32_MAX)
        return -1;
    *id = tag << 32 | n;
    return 0;
}

const char *severity_name(int sev)
{
    return sev >= SEV_CRITICAL ? "critical" : sev == SEV_INFO ? "info" : "warning";
}

const char *corr_type_name(corr_type_t c)
{
    switch (c) {
    case CORR_DECLARED: return "declared";
    case CORR_MAINTENANCE: return "maintenance";
    default: return "undeclared";
    }
}

/* A bounded string builder: counts what it would write past the end. */
typedef struct {
    char *buf;
    size_t cap, len;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void puts_(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A JSON number with `decimals` places; null when it is not finite (JSON
 * has no NaN or infinity). The buffer holds any double's %f form. */
static void put_num(out_t *o, double x, int decimals)
{
    char tmp[DBL_MAX_10_EXP + 32];
    if (!isfinite(x)) {
        puts_(o, "null");
        return;
    }
    int n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, x);
    if (n > 0)
        put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string, escaped; NULL becomes null. */
static void put_str(out_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        puts_(o, "null");
        return;
    }
    put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': puts_(o, "\\\""); break;
        case '\\': puts_(o, "\\\\"); break;
        case '\n': puts_(o, "\\n"); break;
        case '\r': puts_(o, "\\r"); break;
        case '\t': puts_(o, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
                put(o, e, 6);
            } else {
                put(o, (const char *)p, 1);
            }
        }
    }
    put(o, "\"", 1);
}

static void put_time(out_t *o, int64_t ns)
{
    char b[TF_BUFLEN];
    size_t n = tf_format(ns, b);
    put(o, "\"", 1);
    put(o, b, n);
    put(o, "\"", 1);
}

static void put_summary(out_t *o, const alert_t *a)
{
    char s[512];
    const char *d = a->dir == DIR_NORTH ? "northbound" : "southbound";
    const char *what = a->dir == DIR_NORTH ? "messages for" : "requests from";
    switch (a->kind) {
    case ALERT_STORM:
        snprintf(s, sizeof(s), "%s %s %s (class %s) at %.1f/s, %.1fx the usual %.1f/s", d, what,
                 a->user, a->cls, a->value, a->baseline > 0 ? a->value / a->baseline : 0.0,
                 a->baseline);
        break;
    case ALERT_BLOCKED:
        snprintf(s, sizeof(s), "%s deliveries to %s at %.1f/s against %.1f/s queued; backlog %.0f%s",
                 d, a->user, a->value, a->baseline, a->backlog > 0 ? a->backlog : 0.0,
                 a->firing ? " and rising" : "");
        break;
    case ALERT_SILENCE:
        snprintf(s, sizeof(s), "%s traffic %s %s fell to %.1f/s against %.1f/s expected", d,
                 a->dir == DIR_NORTH ? "for" : "from", a->user, a->value, a->baseline);
        break;
    case ALERT_FEED:
        if (a->source)
            snprintf(s, sizeof(s), "no samples from Kafka partition %u while the others flow; "
                     "its Users are not judged silent until it resumes", a->source - 1);
        else
            snprintf(s, sizeof(s), "no samples from the feed");
        break;
    case ALERT_LIMIT:
        snprintf(s, sizeof(s), "%s %s %s at %.1f/s, over the fixed limit of %.1f/s", d, what,
                 a->user, a->value, a->limit);
        break;
    case ALERT_SHIFT:
        snprintf(s, sizeof(s), "%s %s %s settled at %.1f/s for the last hour, %.1fx the usual "
                 "%.1f/s: a new level, or an operator may accept it as the new normal", d, what,
                 a->user, a->value, a->baseline > 0 ? a->value / a->baseline : 0.0, a->baseline);
        break;
    case ALERT_WIDESPREAD:
        snprintf(s, sizeof(s), "%zu Users show %s %s at once: %s", a->n_impacted,
                 alert_kind_name((alert_kind_t)a->symptom), dir_name(a->dir),
                 a->corr == CORR_UNDECLARED ? "no declared change explains it (a fault on the "
                                              "DSP's side?)"
                                            : "the DCC's change explains it");
        break;
    default:
        s[0] = '\0';
    }
    put_str(o, s);
}

size_t alert_format_json(const alert_t *a, char *buf, size_t cap)
{
    out_t o = { buf, cap, 0 };
    puts_(&o, "{\"status\":");
    put_str(&o, a->firing ? "firing" : "resolved");
    puts_(&o, ",\"alert\":");
    put_str(&o, alert_kind_name(a->kind));
    puts_(&o, ",\"severity\":");
    put_str(&o, a->severity == SEV_KIND ? alert_severity(a->kind) : severity_name(a->severity));
    puts_(&o, ",\"user\":");
    put_str(&o, a->user);
    puts_(&o, ",\"dir\":");
    put_str(&o, dir_name(a->dir));
    puts_(&o, ",\"class\":");
    put_str(&o, a->cls);
    if (a->source) {
        char b[16];
        puts_(&o, ",\"partition\":");
        put(&o, b, (size_t)snprintf(b, sizeof(b), "%u", a->source - 1));
    }
    puts_(&o, ",\"starts_at\":");
    put_time(&o, a->starts_at);
    puts_(&o, ",\"detected_at\":");
    put_time(&o, a->detected_at);
    puts_(&o, ",\"ends_at\":");
    if (a->firing)
        puts_(&o, "null");
    else
        put_time(&o, a->ends_at);
    puts_(&o, ",\"value\":");
    put_num(&o, a->value, 2);
    puts_(&o, ",\"baseline\":");
    put_num(&o, a->baseline, 2);
    puts_(&o, ",\"backlog\":");
    if (a->backlog < 0)
        puts_(&o, "null");
    else
        put_num(&o, a->backlog, 0);
    puts_(&o, ",\"summary\":");
    put_summary(&o, a);
    puts_(&o, ",\"correlation\":");
    put_str(&o, corr_type_name(a->corr));
    puts_(&o, ",\"change\":");
    if (a->change) {
        puts_(&o, "{\"id\":");
        put_str(&o, a->change->id);
        puts_(&o, ",\"title\":");
        put_str(&o, a->change->title);
        puts_(&o, ",\"kind\":");
        put_str(&o, a->change->kind);
        puts_(&o, ",\"score\":");
        put_num(&o, a->score, 2);
        puts_(&o, "}");
    } else {
        puts_(&o, "null");
    }
    puts_(&o, ",\"impacted_users\":[");
    for (size_t i = 0; i < a->n_impacted; i++) {
        if (i)
            put(&o, ",", 1);
        put_str(&o, a->impacted[i]);
    }
    puts_(&o, "]");
    if (a->incident) {
        char b[32];
        puts_(&o, ",\"incident\":");
        char id[INCIDENT_ID_LEN];
        put(&o, b, (size_t)snprintf(b, sizeof(b), "\"%.*s\"", incident_id_format(a->incident, id), id));
        puts_(&o, ",\"incident_role\":");
        put_str(&o, a->role == ROLE_MEMBER ? "member" : "primary");
        puts_(&o, a->learning ? ",\"learning\":true" : ",\"learning\":false");
    }
    puts_(&o, "}\n");
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}
