/*
 * alert.c - names of alert kinds and the JSON line of an alert (alert.h).
 */
#include "alert.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "incident.h"
#include "jsonout.h"
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

static void put_summary(jo_t *o, const alert_t *a)
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
    case ALERT_FORECAST:
        snprintf(s, sizeof(s), "southbound requests from %s on course for %.0f today, %.2fx "
                 "the forecast %.0f a day", a->user, a->value * 86400.0,
                 a->baseline > 0 ? a->value / a->baseline : 0.0, a->baseline * 86400.0);
        break;
    default:
        s[0] = '\0';
    }
    size_t n = strlen(s);
    if (a->change && a->impact != IMPACT_NA && n < sizeof(s)) {
        double decl = change_impact(a->change, a->dir == DIR_NORTH ? DIR_NORTH : DIR_SOUTH);
        if (a->impact == IMPACT_WITHIN)
            snprintf(s + n, sizeof(s) - n, "; within the impact %s declared (%.1fx): expected",
                     a->change->id, decl);
        else if (decl == 1.0)
            snprintf(s + n, sizeof(s) - n, "; %s declared no change in traffic: it deviated "
                     "from its declaration", a->change->id);
        else
            snprintf(s + n, sizeof(s) - n, "; %s declared %.1fx: it deviated from its "
                     "declaration", a->change->id, decl);
    }
    jo_str(o, s);
}

size_t alert_format_json(const alert_t *a, char *buf, size_t cap)
{
    jo_t o = { buf, cap, 0 };
    jo_puts(&o, "{\"status\":");
    jo_str(&o, a->firing ? "firing" : "resolved");
    jo_puts(&o, ",\"alert\":");
    jo_str(&o, alert_kind_name(a->kind));
    jo_puts(&o, ",\"severity\":");
    jo_str(&o, a->severity == SEV_KIND ? alert_severity(a->kind) : severity_name(a->severity));
    jo_puts(&o, ",\"user\":");
    jo_str(&o, a->user);
    jo_puts(&o, ",\"dir\":");
    jo_str(&o, dir_name(a->dir));
    jo_puts(&o, ",\"class\":");
    jo_str(&o, a->cls);
    if (a->source) {
        char b[16];
        jo_puts(&o, ",\"partition\":");
        jo_put(&o, b, (size_t)snprintf(b, sizeof(b), "%u", a->source - 1));
    }
    jo_puts(&o, ",\"starts_at\":");
    jo_time(&o, a->starts_at);
    jo_puts(&o, ",\"detected_at\":");
    jo_time(&o, a->detected_at);
    jo_puts(&o, ",\"ends_at\":");
    if (a->firing)
        jo_puts(&o, "null");
    else
        jo_time(&o, a->ends_at);
    jo_puts(&o, ",\"value\":");
    jo_num(&o, a->value, 2);
    jo_puts(&o, ",\"baseline\":");
    jo_num(&o, a->baseline, 2);
    jo_puts(&o, ",\"backlog\":");
    if (a->backlog < 0)
        jo_puts(&o, "null");
    else
        jo_num(&o, a->backlog, 0);
    jo_puts(&o, ",\"summary\":");
    put_summary(&o, a);
    jo_puts(&o, ",\"correlation\":");
    jo_str(&o, corr_type_name(a->corr));
    jo_puts(&o, ",\"change\":");
    if (a->change) {
        jo_puts(&o, "{\"id\":");
        jo_str(&o, a->change->id);
        jo_puts(&o, ",\"title\":");
        jo_str(&o, a->change->title);
        jo_puts(&o, ",\"kind\":");
        jo_str(&o, a->change->kind);
        jo_puts(&o, ",\"score\":");
        jo_num(&o, a->score, 2);
        jo_puts(&o, "}");
    } else {
        jo_puts(&o, "null");
    }
    jo_puts(&o, ",\"impacted_users\":[");
    for (size_t i = 0; i < a->n_impacted; i++) {
        if (i)
            jo_put(&o, ",", 1);
        jo_str(&o, a->impacted[i]);
    }
    jo_puts(&o, "]");
    if (a->incident) {
        char b[32];
        jo_puts(&o, ",\"incident\":");
        char id[INCIDENT_ID_LEN];
        jo_put(&o, b, (size_t)snprintf(b, sizeof(b), "\"%.*s\"", incident_id_format(a->incident, id), id));
        jo_puts(&o, ",\"incident_role\":");
        jo_str(&o, a->role == ROLE_MEMBER ? "member" : "primary");
        jo_puts(&o, a->learning ? ",\"learning\":true" : ",\"learning\":false");
    }
    jo_puts(&o, "}\n");
    return jo_end(&o);
}
