/*
 * test_http.c - the HTTP server (adapters/http) and the runtime change API
 * with its journal (adapters/changes_api), driven by a real HTTP client
 * (libcurl) against a server on a free port of 127.0.0.1.
 *
 * Every request has a timeout, so a server that stops answering fails the
 * test instead of hanging it. /metrics is checked by `promtool check
 * metrics` when /usr/bin/promtool exists, HTTPS when openssl can make a
 * certificate; otherwise those tests are skipped.
 *
 * Allocation failures are injected into jansson (json_set_alloc_funcs)
 * always, and into our own code when the test is linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "allocfail.h"
#include "testutil.h"
#include <curl/curl.h>
#include <jansson.h>

#include "changes.h"
#include "changes_api.h"
#include "changes_yaml.h"
#include "dir.h"
#include "err.h"
#include "http.h"
#include "timefmt.h"

/* ---- allocation-failure injection ---- */

/* jansson's allocations go through the same counter. */
static void *json_counted_malloc(size_t n)
{
    return allocfail_next() ? NULL : malloc(n);
}

/* ---- fixture: a journal in a temporary directory, a server on it ---- */

#define TOKEN "s3cret-T0ken_for-tests"
#define AUTH "Authorization: Bearer " TOKEN

typedef struct {
    char dir[64];
    char journal[128];
    changes_api_t *api;
    _Atomic(http_t *) h;
    unsigned port;
    int tls;
    atomic_int updated;    /* changes_updated calls */
    atomic_int ready;      /* what /readyz reports */
    atomic_int alerts_off; /* the alerts callback returns NULL */
    atomic_int accepts;    /* accept calls */
    atomic_int accept_fail;/* the accept callback refuses */
    char accepted[80];     /* the last User accepted, and its direction */
    int accepted_dir;
    atomic_int check_mode; /* check_json: 0 no verdict, 1 one for CHG-A, 2 not JSON */
    pthread_mutex_t log_mu;
    char log[16384];       /* what the server logged, a line each */
} fx_t;

static void metrics_sample(void *ctx, FILE *out);

static void on_updated(void *ctx)
{
    fx_t *f = ctx;
    atomic_fetch_add(&f->updated, 1);
}

static int is_ready(void *ctx)
{
    fx_t *f = ctx;
    return atomic_load(&f->ready);
}

static const char alerts_body[] =
    "[{\"status\":\"firing\",\"alert\":\"blocked_route\",\"severity\":\"critical\","
    "\"user\":\"90-B3-D5-1F-30-01-00-0A\",\"dir\":\"north\",\"class\":\"all\"}]";

static char *alerts_now(void *ctx)
{
    fx_t *f = ctx;
    return atomic_load(&f->alerts_off) ? NULL : strdup(alerts_body);
}

static int on_accept(void *ctx, const char *user, int dir, char *err, size_t errlen)
{
    fx_t *f = ctx;
    if (atomic_load(&f->accept_fail)) {
        snprintf(err, errlen, "the pipeline is not running");
        return -1;
    }
    snprintf(f->accepted, sizeof(f->accepted), "%s", user);
    f->accepted_dir = dir;
    atomic_fetch_add(&f->accepts, 1);
    return 0;
}

/* Users named BIG... carry a fifth of the DSP's traffic each; the others
 * are unknown (not large). */
static double user_share(void *ctx, const char *user)
{
    (void)ctx;
    return strncmp(user, "BIG", 3) == 0 ? 0.2 : -1;
}

static char *check_now(void *ctx, const char *id)
{
    fx_t *f = ctx;
    int mode = atomic_load(&f->check_mode);
    if (mode == 1 && !strcmp(id, "CHG-A"))
        return strdup("{\"change\":\"CHG-A\",\"verdict\":\"as_declared\"}");
    return mode == 2 ? strdup("{not json") : NULL;
}

static void on_log(void *ctx, const char *msg)
{
    fx_t *f = ctx;
    pthread_mutex_lock(&f->log_mu);
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof(f->log) - n, "%s\n", msg);
    pthread_mutex_unlock(&f->log_mu);
}

static http_opts_t fx_opts(fx_t *f)
{
    return (http_opts_t){ .addr = "127.0.0.1:0", .token = TOKEN, .changes = f->api,
                          .metrics = metrics_sample, .ready = is_ready,
                          .alerts_json = alerts_now, .changes_updated = on_updated,
                          .accept = on_accept, .user_share = user_share,
                          .check_json = check_now, .log = on_log, .ctx = f };
}

static void fx_start_http(fx_t *f, const http_opts_t *o)
{
    char err[512] = "";
    http_t *h = http_start(o, err, sizeof(err));
    if (!h)
        fail_msg("http_start: %s", err);
    atomic_store(&f->h, h);
    f->port = http_port(h);
    assert_true(f->port > 0);
}

static int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/sw_test_http.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->journal, sizeof(f->journal), "%s/changes.journal", f->dir);
    atomic_store(&f->ready, 1);
    pthread_mutex_init(&f->log_mu, NULL);
    char err[512] = "";
    int rc = changes_api_open(f->journal, NULL, &f->api, err, sizeof(err));
    if (rc)
        fail_msg("changes_api_open: %s", err);
    http_opts_t o = fx_opts(f);
    fx_start_http(f, &o);
    *state = f;
    return 0;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    changes_api_close(f->api);
    rm_rf(f->dir);
    pthread_mutex_destroy(&f->log_mu);
    free(f);
    return 0;
}

/* Closes and reopens the journal (a restart of the daemon's change API). */
static changes_api_stats_t fx_reopen(fx_t *f)
{
    char err[512] = "";
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    changes_api_close(f->api);
    f->api = NULL;
    int rc = changes_api_open(f->journal, NULL, &f->api, err, sizeof(err));
    if (rc)
        fail_msg("reopen: %s", err);
    http_opts_t o = fx_opts(f);
    fx_start_http(f, &o);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    return s;
}

/* ---- the HTTP client ---- */

typedef struct {
    long status;
    CURLcode curl;
    char *body;
    size_t len;
    char ctype[128], location[512], allow[64], www_auth[128];
} resp_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    char *b = realloc(r->body, r->len + size * n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, size * n);
    r->body = b;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0)
        return;
    line += k;
    n -= k;
    while (n && *line == ' ') {
        line++;
        n--;
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    snprintf(out, cap, "%.*s", (int)n, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    header_value(p, size * n, "Content-Type:", r->ctype, sizeof(r->ctype));
    header_value(p, size * n, "Location:", r->location, sizeof(r->location));
    header_value(p, size * n, "Allow:", r->allow, sizeof(r->allow));
    header_value(p, size * n, "WWW-Authenticate:", r->www_auth, sizeof(r->www_auth));
    return size * n;
}

typedef struct {
    const char *method;  /* "GET" when NULL */
    const char *path;
    const char *header;  /* one extra header line, e.g. AUTH */
    const char *header2;
    const char *body;
    size_t len;          /* strlen(body) when 0 */
    const char *cainfo;  /* HTTPS with this CA file */
} req_t;

static resp_t request(const fx_t *f, req_t q)
{
    resp_t r = { 0 };
    char url[1024];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", q.cainfo ? "https" : "http", f->port,
             q.path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hdrs = NULL;
    if (q.header)
        hdrs = curl_slist_append(hdrs, q.header);
    if (q.header2)
        hdrs = curl_slist_append(hdrs, q.header2);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    if (q.cainfo)
        curl_easy_setopt(c, CURLOPT_CAINFO, q.cainfo);
    const char *m = q.method ? q.method : "GET";
    if (q.body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, q.body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(q.len ? q.len : strlen(q.body)));
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    if (!strcmp(m, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") != 0 && !(q.body && !strcmp(m, "POST")))
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    r.curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (!r.body)
        r.body = calloc(1, 1);
    return r;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* GET path: the status, and the body into *body when given (caller frees). */
static long get(const fx_t *f, const char *path, char **body)
{
    resp_t r = request(f, (req_t){ .path = path });
    assert_int_equal(r.curl, CURLE_OK);
    if (body)
        *body = r.body;
    else
        resp_free(&r);
    return r.status;
}

static resp_t post_change(const fx_t *f, const char *json)
{
    return request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                               .body = json });
}

/* The "error" of a JSON error body (static storage; "" when none). */
static const char *error_of(const resp_t *r)
{
    static char msg[1024];
    msg[0] = '\0';
    json_t *o = json_loads(r->body, 0, NULL);
    if (json_is_string(json_object_get(o, "error")))
        snprintf(msg, sizeof(msg), "%s", json_string_value(json_object_get(o, "error")));
    json_decref(o);
    return msg;
}

static json_t *list_changes(const fx_t *f)
{
    char *body;
    assert_int_equal(get(f, "/api/v1/changes", &body), 200);
    json_t *arr = json_loads(body, 0, NULL);
    free(body);
    assert_true(json_is_array(arr));
    return arr;
}

static size_t count_changes(const fx_t *f)
{
    json_t *arr = list_changes(f);
    size_t n = json_array_size(arr);
    json_decref(arr);
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    if (len)
        *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int count_lines(const char *path)
{
    char *s = slurp(path, NULL);
    int n = 0;
    for (char *p = s; *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

static int64_t t(const char *s)
{
    int64_t ns;
    assert_int_equal(tf_parse_rfc3339(s, &ns), 0);
    return ns;
}

static const char good_change[] =
    "{\"id\":\"CHG-0412\",\"user\":\"90-B3-D5-1F-30-01-00-0A\","
    "\"title\":\"Firewall rule update at the User's gateway\",\"kind\":\"firewall\","
    "\"start\":\"2019-09-12T09:00:00Z\",\"end\":\"2019-09-12T11:00:00Z\","
    "\"affects\":[\"north\"],\"expected\":\"no change in traffic volumes expected\","
    "\"contact\":\"ops@example.org\"}";

/* The strings of array `a` (or their objects' `key`) joined by `sep`,
 * into buf. */
static const char *join(const json_t *a, const char *key, const char *sep, char *buf, size_t len)
{
    assert_true(json_is_array(a));
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *v = json_array_get(a, i);
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", i ? sep : "",
                 json_string_value(key ? json_object_get(v, key) : v));
    }
    return buf;
}

/* The "affects" list of change o, as "north", "south" or "north,south". */
static const char *affects_of(const json_t *o)
{
    static char buf[64];
    return join(json_object_get(o, "affects"), NULL, ",", buf, sizeof(buf));
}

/* A minimal valid change with this id. */
static char *change_with_id(const char *id)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "user", "DCC", "start",
                          "2019-09-12T09:00:00Z", "end", "2019-09-12T10:00:00Z");
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* ---- plain routes ---- */

static void test_health_and_ready(void **state)
{
    fx_t *f = *state;
    char *body;
    assert_int_equal(get(f, "/healthz", &body), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    assert_int_equal(get(f, "/readyz", &body), 200);
    assert_string_equal(body, "ready\n");
    free(body);
    atomic_store(&f->ready, 0);
    assert_int_equal(get(f, "/readyz", &body), 503);
    assert_string_equal(body, "not ready\n");
    free(body);
    atomic_store(&f->ready, 1);

    resp_t r = request(f, (req_t){ .method = "HEAD", .path = "/healthz" });
    assert_int_equal(r.curl, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    resp_free(&r);
}

static void test_not_found_and_wrong_method(void **state)
{
    fx_t *f = *state;
    static const char *const missing[] = {
        "/", "/nope", "/api/v1", "/api/v1/changes/", "/metrics/x", "/api/v1/changesX",
    };
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        resp_t r = request(f, (req_t){ .path = missing[i] });
        if (r.status != 404)
            fail_msg("GET %s: %ld, want 404", missing[i], r.status);
        assert_string_equal(error_of(&r), "not found");
        assert_string_equal(r.ctype, "application/json");
        resp_free(&r);
    }
    static const struct {
        const char *method, *path, *allow;
    } wrong[] = {
        { "PUT", "/api/v1/changes", "GET, HEAD, POST" },
        { "DELETE", "/api/v1/changes", "GET, HEAD, POST" },
        { "POST", "/api/v1/changes/CHG-1", "GET, HEAD, DELETE" },
        { "POST", "/metrics", "GET, HEAD" },
        { "DELETE", "/healthz", "GET, HEAD" },
        { "PATCH", "/api/v1/alerts", "GET, HEAD" },
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        resp_t r = request(f, (req_t){ .method = wrong[i].method, .path = wrong[i].path,
                                       .header = AUTH });
        if (r.status != 405)
            fail_msg("%s %s: %ld, want 405", wrong[i].method, wrong[i].path, r.status);
        assert_string_equal(r.allow, wrong[i].allow);
        assert_string_equal(error_of(&r), "method not allowed");
        resp_free(&r);
    }
    /* a query string does not change the route */
    assert_int_equal(get(f, "/healthz?verbose=1", NULL), 200);
}

/*
 * POST /api/v1/users/{user}/{north|south}/accept: with the token, 202 and
 * the callback told the User (any bytes but control characters, a slash
 * too) and direction; without it 401; a bad path 400; other methods 405;
 * a callback that refuses 503 with its reason.
 */
static void test_accept_level(void **state)
{
    fx_t *f = *state;
    resp_t r = request(f, (req_t){ .method = "POST",
                                   .path = "/api/v1/users/90-B3-D5-1F-30-01-00-0A/north/accept",
                                   .header = AUTH });
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"user\":\"90-B3-D5-1F-30-01-00-0A\",\"dir\":\"north\","
                                "\"status\":\"queued\"}");
    resp_free(&r);
    assert_int_equal(atomic_load(&f->accepts), 1);
    assert_string_equal(f->accepted, "90-B3-D5-1F-30-01-00-0A");
    assert_int_equal(f->accepted_dir, 1);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/users/a%2Fb/south/accept",
                            .header = AUTH });
    assert_int_equal(r.status, 202);
    resp_free(&r);
    assert_string_equal(f->accepted, "a/b");
    assert_int_equal(f->accepted_dir, 0);

    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/users/U/north/accept" });
    assert_int_equal(r.status, 401);
    resp_free(&r);
    static const char *const bad[] = {
        "/api/v1/users/U/east/accept", "/api/v1/users/north/accept",
        "/api/v1/users//north/accept", "/api/v1/users/U%0Ax/north/accept",
        "/api/v1/users/"
        "x123456789x123456789x123456789x123456789x123456789x123456789x12345/north/accept",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = request(f, (req_t){ .method = "POST", .path = bad[i], .header = AUTH });
        if (r.status != 400)
            fail_msg("POST %s: %ld, want 400", bad[i], r.status);
        resp_free(&r);
    }
    r = request(f, (req_t){ .path = "/api/v1/users/U/north/accept" });
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "POST");
    resp_free(&r);
    assert_int_equal(atomic_load(&f->accepts), 2);

    atomic_store(&f->accept_fail, 1);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/users/U/south/accept",
                            .header = AUTH });
    assert_int_equal(r.status, 503);
    assert_string_equal(error_of(&r), "the pipeline is not running");
    resp_free(&r);
}

static void test_alerts(void **state)
{
    fx_t *f = *state;
    resp_t r = request(f, (req_t){ .path = "/api/v1/alerts" });
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(r.body, alerts_body);
    resp_free(&r);
    atomic_store(&f->alerts_off, 1);
    r = request(f, (req_t){ .path = "/api/v1/alerts" });
    assert_int_equal(r.status, 503);
    assert_string_equal(error_of(&r), "alerts are not available");
    resp_free(&r);
}

/* ---- /metrics ---- */

/* What the daemon's metrics look like (names, labels, a histogram), then
 * the server's and the change API's own counters. */
static void metrics_sample(void *ctx, FILE *out)
{
    fx_t *f = ctx;
    fputs("# HELP stormwatch_ingest_lines_total Line-protocol lines read from the feed.\n"
          "# TYPE stormwatch_ingest_lines_total counter\n"
          "stormwatch_ingest_lines_total 1843221\n"
          "# HELP stormwatch_ingest_bad_lines_total Lines skipped as bad input, by reason.\n"
          "# TYPE stormwatch_ingest_bad_lines_total counter\n"
          "stormwatch_ingest_bad_lines_total{reason=\"malformed\"} 3\n"
          "stormwatch_ingest_bad_lines_total{reason=\"late\"} 12\n"
          "stormwatch_ingest_bad_lines_total{reason=\"duplicate\"} 0\n"
          "# HELP stormwatch_ring_depth Records waiting in a shard's ring.\n"
          "# TYPE stormwatch_ring_depth gauge\n"
          "stormwatch_ring_depth{shard=\"0\"} 17\n"
          "stormwatch_ring_depth{shard=\"1\"} 0\n"
          "# HELP stormwatch_series Series tracked, by direction.\n"
          "# TYPE stormwatch_series gauge\n"
          "stormwatch_series{dir=\"north\"} 2048\n"
          "stormwatch_series{dir=\"south\"} 2048\n"
          "# HELP stormwatch_alerts_firing Alerts firing now, by kind.\n"
          "# TYPE stormwatch_alerts_firing gauge\n"
          "stormwatch_alerts_firing{alert=\"storm\"} 1\n"
          "stormwatch_alerts_firing{alert=\"blocked_route\"} 1\n"
          "stormwatch_alerts_firing{alert=\"silence\"} 0\n"
          "stormwatch_alerts_firing{alert=\"feed_stalled\"} 0\n"
          "# HELP stormwatch_alerts_total Alert lines written, by kind and status.\n"
          "# TYPE stormwatch_alerts_total counter\n"
          "stormwatch_alerts_total{alert=\"storm\",status=\"firing\"} 4\n"
          "stormwatch_alerts_total{alert=\"storm\",status=\"resolved\"} 3\n"
          "stormwatch_alerts_total{alert=\"blocked_route\",status=\"firing\"} 1\n"
          "# HELP stormwatch_detection_delay_seconds Event time from onset to detection.\n"
          "# TYPE stormwatch_detection_delay_seconds histogram\n"
          "stormwatch_detection_delay_seconds_bucket{le=\"10\"} 1\n"
          "stormwatch_detection_delay_seconds_bucket{le=\"30\"} 3\n"
          "stormwatch_detection_delay_seconds_bucket{le=\"60\"} 4\n"
          "stormwatch_detection_delay_seconds_bucket{le=\"120\"} 5\n"
          "stormwatch_detection_delay_seconds_bucket{le=\"+Inf\"} 5\n"
          "stormwatch_detection_delay_seconds_sum 187.5\n"
          "stormwatch_detection_delay_seconds_count 5\n"
          "# HELP stormwatch_feed_last_sample_timestamp_seconds Event time of the newest "
          "sample.\n"
          "# TYPE stormwatch_feed_last_sample_timestamp_seconds gauge\n"
          "stormwatch_feed_last_sample_timestamp_seconds 1.568278805e+09\n",
          out);
    http_metrics_write(atomic_load(&f->h), out);
    changes_api_metrics_write(f->api, out);
}

static int have_promtool(void)
{
    return access("/usr/bin/promtool", X_OK) == 0;
}

static void test_metrics(void **state)
{
    fx_t *f = *state;
    /* some traffic first, so the counters are not all zero */
    resp_t p = post_change(f, good_change);
    assert_int_equal(p.status, 201);
    resp_free(&p);
    assert_int_equal(get(f, "/nope", NULL), 404);

    resp_t r = request(f, (req_t){ .path = "/metrics" });
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r.body, "stormwatch_ingest_lines_total 1843221\n"));
    assert_non_null(strstr(r.body, "stormwatch_http_requests_total{code=\"2xx\"} "));
    assert_non_null(strstr(r.body, "stormwatch_http_requests_total{code=\"4xx\"} 1\n"));
    assert_non_null(strstr(r.body, "stormwatch_changes_api_declared_total 1\n"));
    assert_non_null(strstr(r.body, "stormwatch_changes_api_declared_changes 1\n"));
    if (!have_promtool()) {
        resp_free(&r);
        skip();
    }
    char path[256], cmd[512], out[4096] = "";
    snprintf(path, sizeof(path), "%s/metrics.txt", f->dir);
    spit(path, r.body);
    resp_free(&r);
    snprintf(cmd, sizeof(cmd), "timeout 60 /usr/bin/promtool check metrics < %s 2>&1", path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    size_t n = fread(out, 1, sizeof(out) - 1, pp);
    out[n] = '\0';
    int st = pclose(pp);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n)
        fail_msg("promtool check metrics: status %d, output:\n%s", st, out);
}

static void test_metrics_default(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.metrics = NULL;
    fx_start_http(f, &o);
    char *body;
    assert_int_equal(get(f, "/metrics", &body), 200);
    assert_non_null(strstr(body, "# TYPE stormwatch_http_requests_total counter\n"));
    free(body);
}

/* ---- declaring ---- */

static void test_declare_good(void **state)
{
    fx_t *f = *state;
    resp_t r = post_change(f, good_change);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.ctype, "application/json");
    assert_string_equal(r.location, "/api/v1/changes/CHG-0412");
    assert_int_equal(atomic_load(&f->updated), 1);
    json_t *o = json_loads(r.body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "CHG-0412");
    assert_string_equal(json_string_value(json_object_get(o, "user")), "90-B3-D5-1F-30-01-00-0A");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "firewall");
    assert_string_equal(json_string_value(json_object_get(o, "start")), "2019-09-12T09:00:00Z");
    assert_string_equal(json_string_value(json_object_get(o, "end")), "2019-09-12T11:00:00Z");
    assert_string_equal(affects_of(o), "north");
    assert_string_equal(json_string_value(json_object_get(o, "contact")), "ops@example.org");
    assert_string_equal(json_string_value(json_object_get(o, "source")), "api");
    assert_int_equal(json_array_size(json_object_get(o, "conflicts")), 0);
    assert_true(json_is_array(json_object_get(o, "conflicts")));
    int64_t declared;
    assert_int_equal(tf_parse_rfc3339(json_string_value(json_object_get(o, "declared_at")),
                                      &declared), 0);
    resp_free(&r);

    /* listed without its conflicts, and the same object from GET
     * /api/v1/changes/{id}, with a check (none yet: null) */
    json_t *arr = list_changes(f);
    assert_int_equal(json_array_size(arr), 1);
    json_t *listed = json_deep_copy(o);
    json_object_del(listed, "conflicts");
    assert_true(json_equal(json_array_get(arr, 0), listed));
    json_decref(listed);
    json_decref(arr);
    char *body;
    assert_int_equal(get(f, "/api/v1/changes/CHG-0412", &body), 200);
    json_t *one = json_loads(body, 0, NULL);
    free(body);
    assert_true(json_is_null(json_object_get(one, "check")));
    json_object_del(one, "check");
    assert_true(json_equal(one, o));
    json_decref(one);
    json_decref(o);

    /* in a snapshot, as the correlator will see it */
    changes_t *reg = changes_create();
    assert_int_equal(changes_api_snapshot(f->api, reg), 0);
    assert_int_equal(changes_count(reg), 1);
    const change_t *c = changes_find(reg, "CHG-0412");
    assert_non_null(c);
    assert_string_equal(c->title, "Firewall rule update at the User's gateway");
    assert_string_equal(c->expected, "no change in traffic volumes expected");
    assert_true(c->start == t("2019-09-12T09:00:00Z") && c->end == t("2019-09-12T11:00:00Z"));
    assert_int_equal(c->affects, CHG_NORTH);
    assert_int_equal(c->line, 0);
    changes_destroy(reg);

    /* on disk: the header and one declare line */
    assert_int_equal(count_lines(f->journal), 2);
}

static void test_declare_normalises(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json, *affects, *start, *end;
    } cases[] = {
        /* offsets become UTC; affects as in YAML, any case; absent is both */
        { "{\"id\":\"A\",\"user\":\"U1\",\"start\":\"2019-09-12T10:00:00+01:00\","
          "\"end\":\"2019-09-12t10:30:00.250z\"}", "north,south", "2019-09-12T09:00:00Z",
          "2019-09-12T10:30:00.250Z" },
        { "{\"id\":\"B\",\"user\":\"U1\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T09:00:00Z\",\"affects\":\"SOUTH\"}", "south",
          "2019-09-12T09:00:00Z", "2019-09-12T09:00:00Z" },
        { "{\"id\":\"C\",\"user\":\"U1\",\"start\":\"2019-09-12T09:00:00.000000002Z\","
          "\"end\":\"2019-09-12T09:00:00.000001Z\",\"affects\":[\"north\",\"south\"]}",
          "north,south", "2019-09-12T09:00:00.000000002Z", "2019-09-12T09:00:00.000001Z" },
        { "{\"id\":\"D\",\"user\":\"U1\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T09:00:01Z\",\"affects\":null,\"title\":null,\"kind\":\"\","
          "\"ticket\":{\"system\":\"jira\"},\"tags\":[1,2]}", "north,south", "2019-09-12T09:00:00Z",
          "2019-09-12T09:00:01Z" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resp_t r = post_change(f, cases[i].json);
        if (r.status != 201)
            fail_msg("case %zu: %ld %s", i, r.status, r.body);
        json_t *o = json_loads(r.body, 0, NULL);
        assert_string_equal(affects_of(o), cases[i].affects);
        assert_string_equal(json_string_value(json_object_get(o, "start")), cases[i].start);
        assert_string_equal(json_string_value(json_object_get(o, "end")), cases[i].end);
        /* optional fields absent, null or empty are null; unknown keys dropped */
        if (i == 3) {
            assert_true(json_is_null(json_object_get(o, "title")));
            assert_true(json_is_null(json_object_get(o, "kind")));
            assert_null(json_object_get(o, "ticket"));
        }
        json_decref(o);
        resp_free(&r);
    }
    /* the nanoseconds survive the journal */
    changes_api_stats_t s = fx_reopen(f);
    assert_int_equal(s.replayed, 4);
    changes_t *reg = changes_create();
    assert_int_equal(changes_api_snapshot(f->api, reg), 0);
    const change_t *c = changes_find(reg, "C");
    assert_true(c->start == t("2019-09-12T09:00:00Z") + 2);
    assert_true(c->end == t("2019-09-12T09:00:00Z") + 1000);
    assert_int_equal(changes_find(reg, "A")->end, t("2019-09-12T10:30:00.25Z"));
    changes_destroy(reg);
}

static void test_declare_invalid(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *json, *error; /* error: the start of the message */
    } cases[] = {
        { "{\"id\":\"X\"", "body is not valid JSON: " },
        { "", "body is not valid JSON: " },
        { "{\"id\":\"X\"} {}", "body is not valid JSON: " },
        { "{\"id\":\"X\",\"id\":\"Y\"}", "body is not valid JSON: duplicate object key" },
        { "[1,2]", "body is not a JSON object" },
        { "\"CHG-1\"", "body is not a JSON object" },
        { "{}", "missing field 'id'" },
        { "{\"user\":\"U\",\"start\":\"bad\",\"end\":\"bad\"}", "missing field 'id'" },
        { "{\"id\":null,\"user\":\"U\"}", "field 'id': missing value" },
        { "{\"id\":\"\",\"user\":\"U\"}", "field 'id': missing value" },
        { "{\"id\":412,\"user\":\"U\"}", "field 'id': expected text, got a number" },
        { "{\"id\":\"X\",\"start\":\"2019-09-12T09:00:00Z\"}", "missing field 'user'" },
        { "{\"id\":\"X\",\"user\":[\"U\"]}", "field 'user': expected text, got an array" },
        { "{\"id\":\"X\",\"user\":\"U\",\"title\":{}}", "field 'title': expected text, got an "
          "object" },
        { "{\"id\":\"X\",\"user\":\"U\",\"end\":\"2019-09-12T09:00:00Z\"}",
          "missing field 'start'" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\"}",
          "missing field 'end'" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"yesterday\",\"end\":\"2019-09-12T09:00:00Z\"}",
          "field 'start': bad date 'yesterday' (expected RFC 3339, e.g. 2019-09-12T09:00:00Z)" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12\",\"end\":\"2019-09-12T09:00:00Z\"}",
          "field 'start': bad date '2019-09-12'" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-02-30T09:00:00Z\",\"end\":\"x\"}",
          "field 'start': bad date '2019-02-30T09:00:00Z'" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\",\"end\":1568278800}",
          "field 'end': expected text, got a number" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2300-01-01T00:00:00Z\"}",
          "field 'end': date '2300-01-01T00:00:00Z' out of range (1677-09-21 to 2262-04-11)" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T11:00:00Z\","
          "\"end\":\"2019-09-12T09:00:00Z\"}", "field 'end': end is before start" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T10:00:00+01:00\","
          "\"end\":\"2019-09-12T08:59:59Z\"}", "field 'end': end is before start" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"affects\":\"up\"}",
          "field 'affects': expected north, south or both, got 'up'" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"affects\":[]}",
          "field 'affects': expected north, south or both, got an empty list" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"affects\":[\"north\",3]}",
          "field 'affects': expected north, south or both, got a number" },
        { "{\"id\":\"X\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"contact\":true}",
          "field 'contact': expected text, got a boolean" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resp_t r = post_change(f, cases[i].json);
        const char *e = error_of(&r);
        if (r.status != 400 || strncmp(e, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("case %zu %s: %ld %s, want 400 starting \"%s\"", i, cases[i].json,
                     r.status, r.body, cases[i].error);
        assert_string_equal(r.ctype, "application/json");
        resp_free(&r);
    }
    /* nothing declared, nothing written, nobody told */
    assert_int_equal(count_changes(f), 0);
    assert_int_equal(count_lines(f->journal), 1);
    assert_int_equal(atomic_load(&f->updated), 0);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.refused, sizeof(cases) / sizeof(cases[0]));

    /* the direct call gives the same message, and takes a NULL err */
    char err[512];
    assert_int_equal(changes_api_declare(f->api, "[]", 2, err, sizeof(err)), SW_ECONFIG);
    assert_string_equal(err, "body is not a JSON object");
    assert_int_equal(changes_api_declare(f->api, "{}", 2, NULL, 0), SW_ECONFIG);
    assert_int_equal(changes_api_declare(f->api, "{}", 2, err, 4), SW_ECONFIG);
    assert_string_equal(err, "mis");
}

static void test_declare_duplicate(void **state)
{
    fx_t *f = *state;
    resp_t r = post_change(f, good_change);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    r = post_change(f, good_change);
    assert_int_equal(r.status, 409);
    assert_string_equal(error_of(&r), "field 'id': 'CHG-0412' is already declared");
    resp_free(&r);
    assert_int_equal(count_changes(f), 1);
    assert_int_equal(count_lines(f->journal), 2);
    assert_int_equal(atomic_load(&f->updated), 1);
}

/* ---- authorisation ---- */

static void test_auth(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *header;
        long status;
    } cases[] = {
        { NULL, 401 },
        { "Authorization: Basic dXNlcjpwYXNz", 401 },
        { "Authorization: Bearer", 401 },
        { "Authorization: Bearer    ", 401 },
        { "Authorization: Bearer wrong", 403 },
        { "Authorization: Bearer s3cret-T0ken_for-test", 403 },   /* a prefix */
        { "Authorization: Bearer " TOKEN "x", 403 },             /* longer */
        { "Authorization: Bearer S3CRET-T0KEN_FOR-TESTS", 403 }, /* case matters */
        { "Authorization: Bearer s3cret-T0ken_for-tests\t", 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int del = 0; del < 2; del++) {
            resp_t r = request(f, (req_t){ .method = del ? "DELETE" : "POST",
                                           .path = del ? "/api/v1/changes/CHG-0412"
                                                       : "/api/v1/changes",
                                           .header = cases[i].header,
                                           .body = del ? NULL : good_change });
            long want = cases[i].status ? cases[i].status : del ? 204 : 201;
            if (r.status != want)
                fail_msg("case %zu %s: %ld, want %ld", i, del ? "DELETE" : "POST", r.status,
                         want);
            if (want == 401) {
                assert_string_equal(r.www_auth, "Bearer realm=\"stormwatch\"");
                assert_string_equal(error_of(&r), "missing bearer token");
            }
            if (want == 403)
                assert_string_equal(error_of(&r), "wrong token");
            resp_free(&r);
        }
    }
    /* any case of the scheme, spaces around the token */
    resp_t r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes",
                                   .header = "Authorization: bearer   " TOKEN "  ",
                                   .body = good_change });
    assert_int_equal(r.status, 201);
    resp_free(&r);
    /* reads need no token */
    assert_int_equal(get(f, "/api/v1/changes", NULL), 200);
    http_stats_t s;
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.auth_failures, 2 * 8);
    assert_int_equal(atomic_load(&f->updated), 3);
}

static void test_no_token_disables_writes(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.token = "";
    fx_start_http(f, &o);
    resp_t r = post_change(f, good_change);
    assert_int_equal(r.status, 403);
    assert_string_equal(error_of(&r), "writes are disabled (no API token)");
    resp_free(&r);
    r = request(f, (req_t){ .method = "DELETE", .path = "/api/v1/changes/X" });
    assert_int_equal(r.status, 403);
    resp_free(&r);
    assert_int_equal(count_changes(f), 0);
}

static void test_no_change_api(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.changes = NULL;
    fx_start_http(f, &o);
    resp_t r = request(f, (req_t){ .path = "/api/v1/changes" });
    assert_int_equal(r.status, 503);
    assert_string_equal(error_of(&r), "the change API is not enabled");
    resp_free(&r);
    r = post_change(f, good_change);
    assert_int_equal(r.status, 503);
    resp_free(&r);
    assert_int_equal(get(f, "/healthz", NULL), 200);
}

/* ---- body size ---- */

/* A valid change padded with an ignored key to exactly `size` bytes. */
static char *padded_change(size_t size)
{
    const char *head = "{\"id\":\"BIG\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
                       "\"end\":\"2019-09-12T10:00:00Z\",\"pad\":\"";
    char *s = malloc(size + 1);
    assert_non_null(s);
    size_t h = strlen(head);
    assert_true(size > h + 2);
    memcpy(s, head, h);
    memset(s + h, 'x', size - h - 2);
    memcpy(s + size - 2, "\"}", 3);
    return s;
}

static void test_body_limit(void **state)
{
    fx_t *f = *state;
    /* one byte over: refused from its Content-Length, before it is read */
    char *big = padded_change(HTTP_MAX_BODY + 1);
    resp_t r = post_change(f, big);
    assert_int_equal(r.status, 413);
    assert_string_equal(error_of(&r), "request body larger than 65536 bytes");
    resp_free(&r);
    free(big);
    /* far over (curl then asks "Expect: 100-continue" and is refused first) */
    big = padded_change(4 * 1024 * 1024);
    r = post_change(f, big);
    assert_int_equal(r.status, 413);
    resp_free(&r);
    /* and without Expect: the whole body in flight while the answer comes */
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                            .header2 = "Expect:", .body = big });
    if (r.curl == CURLE_OK)
        assert_int_equal(r.status, 413);
    resp_free(&r);
    free(big);
    /* chunked, with no length to refuse it by: read and dropped past the
     * limit, then refused like the others */
    big = padded_change(HTTP_MAX_BODY + 4096);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                            .header2 = "Transfer-Encoding: chunked", .body = big });
    assert_int_equal(r.curl, CURLE_OK);
    assert_int_equal(r.status, 413);
    assert_string_equal(error_of(&r), "request body larger than 65536 bytes");
    resp_free(&r);
    free(big);
    /* one byte over, chunked */
    big = padded_change(HTTP_MAX_BODY + 1);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                            .header2 = "Transfer-Encoding: chunked", .body = big });
    assert_int_equal(r.status, 413);
    resp_free(&r);
    free(big);
    /* far over, chunked: not read forever, the connection is cut off */
    big = padded_change(HTTP_MAX_BODY + 3 * 1024 * 1024);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                            .header2 = "Transfer-Encoding: chunked", .body = big });
    assert_true(r.curl != CURLE_OK || r.status == 413);
    resp_free(&r);
    free(big);
    http_stats_t s;
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.too_large, 6);
    /* exactly at the limit is fine, chunked or not */
    big = padded_change(HTTP_MAX_BODY);
    r = post_change(f, big);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    assert_int_equal(changes_api_withdraw(f->api, "BIG"), 0);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                            .header2 = "Transfer-Encoding: chunked", .body = big });
    assert_int_equal(r.status, 201);
    resp_free(&r);
    free(big);
    /* the server still answers */
    assert_int_equal(get(f, "/healthz", NULL), 200);
    assert_int_equal(count_changes(f), 1);
}

static void test_body_limit_configured(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.max_body = 200;
    fx_start_http(f, &o);
    resp_t r = post_change(f, good_change); /* 300-odd bytes */
    assert_int_equal(r.status, 413);
    assert_string_equal(error_of(&r), "request body larger than 200 bytes");
    resp_free(&r);
    char *small = change_with_id("S");
    r = post_change(f, small);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    free(small);
}

/* ---- slow clients ---- */

/* A TCP connection to the server from address `from` (a loopback address). */
static int raw_connect(const fx_t *f, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    assert_int_equal(inet_pton(AF_INET, from, &a.sin_addr), 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    a.sin_port = htons((uint16_t)f->port);
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Non-zero once the server has closed fd (end of input or reset), waiting
 * up to ms. */
static int closed_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Half-open requests from one address take at most max_per_ip
 * connections; the rest are refused at once (counted), and another
 * address is still served.
 */
static void test_per_address_limit(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.max_per_ip = 4;
    o.max_connections = 8;
    fx_start_http(f, &o);
    int fds[12];
    for (int i = 0; i < 12; i++) {
        fds[i] = raw_connect(f, "127.0.0.2");
        assert_int_equal(write(fds[i], "GET /metrics HTTP/1.1\r\nHost: x\r\n", 33), 33);
    }
    int closed = 0;
    for (int i = 0; i < 12; i++)
        closed += closed_within(fds[i], i < 4 ? 200 : 5000);
    assert_int_equal(closed, 8);
    for (int i = 0; i < 4; i++)
        assert_false(closed_within(fds[i], 0));
    http_stats_t s;
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.conn_open, 4); /* before curl's, which close in their own time */
    assert_int_equal(get(f, "/healthz", NULL), 200);
    resp_t r = post_change(f, good_change);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.conn_refused, 8);
    char *body;
    assert_int_equal(get(f, "/metrics", &body), 200);
    assert_non_null(strstr(body, "stormwatch_http_connections_refused_total 8\n"));
    free(body);
    for (int i = 0; i < 12; i++)
        close(fds[i]);
}

/*
 * A client trickling its request a byte at a time (so never idle) is cut
 * off at the request deadline; one that sends whole requests in time, on
 * the same connection, is not.
 */
static void test_request_deadline(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.request_timeout_s = 1;
    o.idle_timeout_s = 30;
    fx_start_http(f, &o);
    static const char slow[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static const char body[] = "POST /api/v1/changes HTTP/1.1\r\nHost: x\r\n"
                               "Authorization: Bearer " TOKEN "\r\nContent-Length: 60\r\n\r\n";
    int hdr = raw_connect(f, "127.0.0.1"), post = raw_connect(f, "127.0.0.1");
    int ok = raw_connect(f, "127.0.0.1");
    assert_int_equal(write(post, body, strlen(body)), (ssize_t)strlen(body));
    double t0 = now_s(), hdr_closed = 0, post_closed = 0;
    for (size_t i = 0; i < strlen(slow) && now_s() - t0 < 10; i++) {
        if (!hdr_closed) {
            if (write(hdr, slow + i, 1) != 1 || closed_within(hdr, 0))
                hdr_closed = now_s() - t0;
        }
        if (!post_closed) {
            if (write(post, "{", 1) != 1 || closed_within(post, 0))
                post_closed = now_s() - t0;
        }
        if (i % 4 == 0) { /* whole requests, kept alive, every 200 ms */
            static const char get_req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
            char buf[1024];
            assert_int_equal(write(ok, get_req, strlen(get_req)), (ssize_t)strlen(get_req));
            struct pollfd p = { .fd = ok, .events = POLLIN };
            assert_int_equal(poll(&p, 1, 5000), 1);
            ssize_t n = recv(ok, buf, sizeof(buf) - 1, 0);
            assert_true(n > 0);
            buf[n] = '\0';
            assert_non_null(strstr(buf, "200 OK"));
        }
        if (hdr_closed && post_closed && now_s() - t0 > 2.5)
            break;
        struct timespec pause = { 0, 50 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    if (!hdr_closed)
        hdr_closed = closed_within(hdr, 100) ? now_s() - t0 : 0;
    /* cut off at the deadline (1 s), not by the idle timeout (30 s) */
    if (hdr_closed < 0.9 || hdr_closed > 8 || post_closed < 0.9 || post_closed > 8)
        fail_msg("closed after %.2f s (headers) and %.2f s (body); want ~1 s", hdr_closed,
                 post_closed);
    assert_false(closed_within(ok, 0));
    http_stats_t s;
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.conn_timed_out, 2);
    close(hdr);
    close(post);
    close(ok);
    assert_int_equal(count_changes(f), 0);
}

/*
 * A closed connection's slot is out of the watchdog's sight: its
 * descriptor number, reused by the next socket opened in this process,
 * is not shut down when the old deadline passes.
 */
static void test_deadline_spares_closed_connections(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.request_timeout_s = 1;
    fx_start_http(f, &o);
    for (int i = 0; i < 3; i++)
        assert_int_equal(get(f, "/healthz", NULL), 200);
    http_stats_t s;
    for (int i = 0; i < 100; i++) {
        http_stats(atomic_load(&f->h), &s);
        if (!s.conn_open)
            break;
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    assert_int_equal(s.conn_open, 0);
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    struct timespec wait = { 1, 500 * 1000 * 1000 };
    nanosleep(&wait, NULL);
    char c = 'x';
    assert_int_equal(send(sp[0], &c, 1, MSG_NOSIGNAL), 1);
    assert_int_equal(recv(sp[1], &c, 1, 0), 1);
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.conn_timed_out, 0);
    close(sp[0]);
    close(sp[1]);
}

/* ---- withdrawing ---- */

static void test_withdraw(void **state)
{
    fx_t *f = *state;
    resp_t r = post_change(f, good_change);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    r = request(f, (req_t){ .method = "DELETE", .path = "/api/v1/changes/CHG-0412",
                            .header = AUTH });
    assert_int_equal(r.status, 204);
    assert_int_equal(r.len, 0);
    resp_free(&r);
    assert_int_equal(atomic_load(&f->updated), 2);
    r = request(f, (req_t){ .method = "DELETE", .path = "/api/v1/changes/CHG-0412",
                            .header = AUTH });
    assert_int_equal(r.status, 404);
    assert_string_equal(error_of(&r), "no declared change with id 'CHG-0412'");
    resp_free(&r);
    assert_int_equal(get(f, "/api/v1/changes/CHG-0412", NULL), 404);
    assert_int_equal(count_changes(f), 0);
    assert_int_equal(atomic_load(&f->updated), 2);
    changes_t *reg = changes_create();
    assert_int_equal(changes_api_snapshot(f->api, reg), 0);
    assert_int_equal(changes_count(reg), 0);
    changes_destroy(reg);
    assert_int_equal(changes_api_withdraw(f->api, "CHG-0412"), SW_ENOTFOUND);
    /* the id may be declared again */
    r = post_change(f, good_change);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    assert_int_equal(count_lines(f->journal), 4);
}

static void test_ids_in_urls(void **state)
{
    fx_t *f = *state;
    char *c = change_with_id("FSC 2019/09 #7");
    resp_t r = post_change(f, c);
    free(c);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.location, "/api/v1/changes/FSC%202019%2F09%20%237");
    resp_free(&r);
    char *body;
    assert_int_equal(get(f, "/api/v1/changes/FSC%202019%2F09%20%237", &body), 200);
    json_t *o = json_loads(body, 0, NULL);
    free(body);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "FSC 2019/09 #7");
    json_decref(o);
    r = request(f, (req_t){ .method = "DELETE", .path = "/api/v1/changes/FSC%202019%2F09%20%237",
                            .header = AUTH });
    assert_int_equal(r.status, 204);
    resp_free(&r);
    assert_int_equal(count_changes(f), 0);
}

/* ---- the journal: restarts, crashes, corruption ---- */

static void test_restart_keeps_changes(void **state)
{
    fx_t *f = *state;
    char *a = change_with_id("A"), *b = change_with_id("B"), *c = change_with_id("C");
    resp_t r;
    r = post_change(f, a), assert_int_equal(r.status, 201), resp_free(&r);
    r = post_change(f, good_change), assert_int_equal(r.status, 201), resp_free(&r);
    r = post_change(f, b), assert_int_equal(r.status, 201), resp_free(&r);
    r = request(f, (req_t){ .method = "DELETE", .path = "/api/v1/changes/A", .header = AUTH });
    assert_int_equal(r.status, 204);
    resp_free(&r);
    json_t *before = list_changes(f);

    changes_api_stats_t s = fx_reopen(f);
    assert_int_equal(s.replayed, 4);
    assert_int_equal(s.torn, 0);
    assert_int_equal(s.live, 2);
    json_t *after = list_changes(f);
    assert_true(json_equal(before, after)); /* declared_at included */
    json_decref(before);
    json_decref(after);
    /* the reopened journal takes new operations */
    r = post_change(f, c), assert_int_equal(r.status, 201), resp_free(&r);
    r = post_change(f, b), assert_int_equal(r.status, 409), resp_free(&r);
    s = fx_reopen(f);
    assert_int_equal(s.live, 3);
    free(a);
    free(b);
    free(c);
}

static void test_torn_tail(void **state)
{
    fx_t *f = *state;
    char *a = change_with_id("A"), *b = change_with_id("B"), *c = change_with_id("C");
    assert_int_equal(changes_api_declare(f->api, a, strlen(a), NULL, 0), 0);
    assert_int_equal(changes_api_declare(f->api, b, strlen(b), NULL, 0), 0);
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    changes_api_close(f->api);
    f->api = NULL;

    /* a crash mid-append: B's line is cut short, its newline lost */
    size_t len;
    char *text = slurp(f->journal, &len);
    assert_int_equal(truncate(f->journal, (off_t)(len - 17)), 0);
    char *nl = strrchr(text, '\n');
    *nl = '\0';
    size_t b_start = (size_t)(strrchr(text, '\n') - text) + 1;
    free(text);

    char err[512] = "";
    int rc = changes_api_open(f->journal, NULL, &f->api, err, sizeof(err));
    if (rc)
        fail_msg("open after a crash: %s", err);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.torn, 1);
    assert_int_equal(s.live, 1);
    /* the torn line is gone from the file, so the next append starts clean */
    size_t len2;
    text = slurp(f->journal, &len2);
    assert_int_equal(len2, b_start);
    assert_int_equal(text[len2 - 1], '\n');
    free(text);
    http_opts_t o = fx_opts(f);
    fx_start_http(f, &o);
    assert_int_equal(get(f, "/api/v1/changes/A", NULL), 200);
    assert_int_equal(get(f, "/api/v1/changes/B", NULL), 404);
    resp_t r = post_change(f, c);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    s = fx_reopen(f);
    assert_int_equal(s.torn, 0);
    assert_int_equal(s.live, 2);
    free(a);
    free(b);
    free(c);
}

static void test_torn_header(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    changes_api_close(f->api);
    f->api = NULL;
    /* a crash while the journal was being created */
    spit(f->journal, "{\"stormwatch_chan");
    char err[512] = "";
    assert_int_equal(changes_api_open(f->journal, NULL, &f->api, err, sizeof(err)), 0);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.torn, 1);
    char *text = slurp(f->journal, NULL);
    assert_string_equal(text, "{\"stormwatch_changes_journal\":1}\n");
    free(text);
    /* an empty file too is a new journal */
    changes_api_close(f->api);
    f->api = NULL;
    spit(f->journal, "");
    assert_int_equal(changes_api_open(f->journal, NULL, &f->api, err, sizeof(err)), 0);
    assert_int_equal(count_lines(f->journal), 1);
}

/* Opens a journal holding `text` (strict: a corrupt one is refused, not
 * set aside): the return code, the message in err. */
static int open_text_as(fx_t *f, const char *text, int strict, char *err, size_t errlen)
{
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    changes_api_close(f->api);
    f->api = NULL;
    spit(f->journal, text);
    changes_api_opts_t o = { .strict = strict };
    return changes_api_open(f->journal, &o, &f->api, err, errlen);
}

static int open_text(fx_t *f, const char *text, char *err, size_t errlen)
{
    return open_text_as(f, text, 1, err, errlen);
}

/* The names in dir that start with `prefix` (up to 8, in *names, malloc'd). */
static int list_prefixed(const char *dir, const char *prefix, char *names[8])
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 8)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            names[n++] = strdup(e->d_name);
    closedir(d);
    return n;
}

static void test_corrupt_journal(void **state)
{
    fx_t *f = *state;
#define HDR "{\"stormwatch_changes_journal\":1}\n"
#define DECL(id, start, end)                                                        \
    "{\"op\":\"declare\",\"at\":\"2019-09-01T00:00:00Z\",\"change\":{\"id\":\"" id \
    "\",\"user\":\"U\",\"start\":\"" start "\",\"end\":\"" end "\"}}\n"
    static const struct {
        const char *text;
        const char *error; /* after "PATH:" */
    } cases[] = {
        { HDR DECL("A", "2019-09-12T09:00:00Z", "2019-09-12T10:00:00Z") "{\"op\":\"decl\n"
          DECL("B", "2019-09-12T09:00:00Z", "2019-09-12T10:00:00Z"),
          "3: not a JSON line: " },
        { HDR "{\"op\":\"withdraw\",\"at\":\"2019-09-01T00:00:00Z\",\"id\":\"X\"}\n",
          "2: withdraw: id 'X' is not declared" },
        { HDR DECL("A", "2019-09-12T11:00:00Z", "2019-09-12T10:00:00Z"),
          "2: declare: field 'end': end is before start" },
        { HDR DECL("A", "2019-09-12T09:00:00Z", "2019-09-12T10:00:00Z")
          DECL("A", "2019-09-12T09:00:00Z", "2019-09-12T10:00:00Z"),
          "3: declare: id 'A' is already declared" },
        { HDR "{\"op\":\"rename\"}\n", "2: unknown operation 'rename'" },
        { HDR "[]\n", "2: unknown operation (no 'op')" },
        { HDR "{\"op\":\"declare\",\"at\":\"soon\",\"change\":{}}\n",
          "2: declare: 'at' is not an RFC 3339 date" },
        { HDR "{\"op\":\"declare\",\"at\":\"2019-09-01T00:00:00Z\"}\n",
          "2: declare: missing field 'change'" },
        { "{\"stormwatch_changes_journal\":2}\n", "1: journal version 2, this program reads "
          "version 1" },
        { "changes:\n  - id: CHG-1\n", "1: not a stormwatch change journal" },
        /* a stranger without a newline is not mistaken for a torn header */
        { "hello", "1: not a stormwatch change journal" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512] = "", want[512];
        int rc = open_text(f, cases[i].text, err, sizeof(err));
        snprintf(want, sizeof(want), "%s:%s", f->journal, cases[i].error);
        if (rc != SW_ECONFIG || strncmp(err, want, strlen(want)) != 0)
            fail_msg("case %zu: rc %d, \"%s\", want \"%s...\"", i, rc, err, want);
        assert_null(f->api);
        /* refused means untouched */
        char *text = slurp(f->journal, NULL);
        assert_string_equal(text, cases[i].text);
        free(text);
        /* a file that is no journal of ours is refused without strict too */
        if (i >= sizeof(cases) / sizeof(cases[0]) - 3) {
            assert_int_equal(open_text_as(f, cases[i].text, 0, err, sizeof(err)), SW_ECONFIG);
            assert_int_equal(strncmp(err, want, strlen(want)), 0);
            text = slurp(f->journal, NULL);
            assert_string_equal(text, cases[i].text);
            free(text);
        }
    }
    char *aside[8];
    assert_int_equal(list_prefixed(f->dir, "changes.journal.corrupt-", aside), 0);
    /* blank lines are harmless */
    char err[512] = "";
    assert_int_equal(open_text(f, HDR "\n" DECL("A", "2019-09-12T09:00:00Z",
                                                 "2019-09-12T10:00:00Z") "  \n", err,
                               sizeof(err)), 0);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.live, 1);
#undef HDR
#undef DECL
}

/*
 * By default a corrupt journal no longer keeps the daemon down: it is
 * renamed aside (never deleted), the caller gets the reason to log, and
 * the API starts empty on a new journal.
 */
static void test_corrupt_journal_set_aside(void **state)
{
    fx_t *f = *state;
    static const char corrupt[] =
        "{\"stormwatch_changes_journal\":1}\n"
        "{\"op\":\"declare\",\"at\":\"2019-09-01T00:00:00Z\",\"change\":{\"id\":\"A\","
        "\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\",\"end\":\"2019-09-12T10:00:00Z\"}}\n"
        "{\"op\":\"decl\n";
    char err[1024] = "", want[512];
    assert_int_equal(open_text_as(f, corrupt, 0, err, sizeof(err)), 0);
    assert_non_null(f->api);
    snprintf(want, sizeof(want), "%s:3: not a JSON line: ", f->journal);
    assert_int_equal(strncmp(err, want, strlen(want)), 0);
    snprintf(want, sizeof(want), "; set aside as %s.corrupt-", f->journal);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, ", starting with no declared changes"));
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.set_aside, 1);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.replayed, 0);
    /* the old file, whole, under the name in the message */
    char *names[8], path[512];
    assert_int_equal(list_prefixed(f->dir, "changes.journal.corrupt-", names), 1);
    snprintf(path, sizeof(path), "%s/%s", f->dir, names[0]);
    assert_non_null(strstr(err, path));
    char *text = slurp(path, NULL);
    assert_string_equal(text, corrupt);
    free(text);
    free(names[0]);
    /* a new journal, in use */
    text = slurp(f->journal, NULL);
    assert_string_equal(text, "{\"stormwatch_changes_journal\":1}\n");
    free(text);
    char *metrics = NULL;
    size_t mlen = 0;
    FILE *mf = open_memstream(&metrics, &mlen);
    changes_api_metrics_write(f->api, mf);
    fclose(mf);
    assert_non_null(strstr(metrics, "stormwatch_changes_api_journals_set_aside_total 1\n"));
    free(metrics);
    char *b = change_with_id("B");
    assert_int_equal(changes_api_declare(f->api, b, strlen(b), NULL, 0), 0);
    free(b);
    /* the lock is on the new journal */
    changes_api_t *other = NULL;
    assert_int_equal(changes_api_open(f->journal, NULL, &other, err, sizeof(err)), SW_EIO);
    changes_api_stats_t s2 = fx_reopen(f);
    assert_int_equal(s2.set_aside, 0);
    assert_int_equal(s2.live, 1);
    assert_int_equal(get(f, "/api/v1/changes/B", NULL), 200);

    /* corrupt again: a second file aside, the first one kept */
    assert_int_equal(open_text_as(f, corrupt, 0, err, sizeof(err)), 0);
    int n = list_prefixed(f->dir, "changes.journal.corrupt-", names);
    assert_int_equal(n, 2);
    assert_string_not_equal(names[0], names[1]);
    free(names[0]);
    free(names[1]);
}

/* The journal's directory must be writable (compaction and setting aside
 * create files there): found at open, as nobody when run as root. */
static void test_journal_dir_not_writable(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h)); /* no other thread while forking */
    atomic_store(&f->h, NULL);
    char dir[256], journal[512], want[1024];
    snprintf(dir, sizeof(dir), "%s/ro", f->dir);
    snprintf(journal, sizeof(journal), "%s/changes.journal", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(f->dir, 0711), 0); /* mkdtemp's 0700: nobody could not enter */
    spit(journal, "{\"stormwatch_changes_journal\":1}\n");
    assert_int_equal(chmod(journal, 0666), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    snprintf(want, sizeof(want), "%s: its directory %s is not writable (Permission denied); "
             "the journal is rewritten there", journal, dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        char err[1024] = "";
        changes_api_t *api = NULL;
        int rc = changes_api_open(journal, NULL, &api, err, sizeof(err));
        if (rc != SW_EIO || api) {
            fprintf(stderr, "rc %d: %s\n", rc, err);
            _exit(1);
        }
        if (strcmp(err, want) != 0) {
            fprintf(stderr, "got: %s\nwant: %s\n", err, want);
            _exit(2);
        }
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    chmod(dir, 0755);
    chmod(f->dir, 0700);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    unlink(journal);
    rmdir(dir);
}

/* What on_change sees, in order: "+ID USER" and "-ID". */
typedef struct {
    char log[16][64];
    int n;
    changes_t *reg; /* kept up to date from the calls alone */
} deltas_t;

static void on_change(void *ctx, const change_t *declared, const char *withdrawn)
{
    deltas_t *d = ctx;
    if (d->n < 16) {
        if (declared)
            snprintf(d->log[d->n++], sizeof(d->log[0]), "+%s %s", declared->id, declared->user);
        else
            snprintf(d->log[d->n++], sizeof(d->log[0]), "-%s", withdrawn);
    }
    if (declared)
        assert_int_equal(changes_add(d->reg, declared), 0);
    else
        assert_int_equal(changes_remove(d->reg, withdrawn), 0);
}

/* The per-operation feed for a register kept up to date without snapshots. */
static void test_on_change_and_copy(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    changes_api_close(f->api);
    deltas_t d = { .reg = changes_create() };
    changes_api_opts_t o = { .on_change = on_change, .ctx = &d };
    char err[512] = "";
    assert_int_equal(changes_api_open(f->journal, &o, &f->api, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    char *a = change_with_id("A"), *b = change_with_id("B");
    assert_int_equal(changes_api_declare(f->api, a, strlen(a), NULL, 0), 0);
    assert_int_equal(changes_api_declare(f->api, good_change, strlen(good_change), NULL, 0), 0);
    assert_int_equal(changes_api_declare(f->api, a, strlen(a), NULL, 0), SW_EEXISTS);
    assert_int_equal(changes_api_declare(f->api, "{}", 2, NULL, 0), SW_ECONFIG);
    assert_int_equal(changes_api_withdraw(f->api, "A"), 0);
    assert_int_equal(changes_api_withdraw(f->api, "A"), SW_ENOTFOUND);
    assert_int_equal(changes_api_declare(f->api, b, strlen(b), NULL, 0), 0);
    assert_int_equal(changes_api_declare(f->api, a, strlen(a), NULL, 0), 0);
    assert_int_equal(d.n, 5);
    assert_string_equal(d.log[0], "+A DCC");
    assert_string_equal(d.log[1], "+CHG-0412 90-B3-D5-1F-30-01-00-0A");
    assert_string_equal(d.log[2], "-A");
    assert_string_equal(d.log[3], "+B DCC");
    assert_string_equal(d.log[4], "+A DCC");
    /* the register fed by the calls holds what a snapshot holds */
    changes_t *snap = changes_create();
    assert_int_equal(changes_api_snapshot(f->api, snap), 0);
    assert_int_equal(changes_count(snap), changes_count(d.reg));
    for (size_t i = 0; i < changes_count(snap); i++)
        assert_non_null(changes_find(d.reg, changes_get(snap, i)->id));
    changes_destroy(snap);
    /* one change, copied by id */
    change_t c;
    assert_int_equal(changes_api_copy(f->api, "CHG-0412", &c), 0);
    assert_string_equal(c.title, "Firewall rule update at the User's gateway");
    assert_int_equal(c.affects, CHG_NORTH);
    assert_int_equal(c.line, 0);
    change_free_strings(&c);
    assert_int_equal(changes_api_copy(f->api, "Z", &c), SW_ENOTFOUND);
    assert_int_equal(changes_api_copy(NULL, "Z", &c), SW_EINVAL);
    /* replaying is not an operation: no calls at open */
    changes_api_close(f->api);
    d.n = 0;
    assert_int_equal(changes_api_open(f->journal, &o, &f->api, err, sizeof(err)), 0);
    assert_int_equal(d.n, 0);
    changes_destroy(d.reg);
    free(a);
    free(b);
}

/*
 * 2 000 declarations: each finds its id in the index, not by comparing it
 * with every change declared before (2e6 comparisons). Counted, not timed.
 */
static void test_declare_scales(void **state)
{
    fx_t *f = *state;
    enum { N = 2000 };
    char id[32];
    strcmp_count_reset();
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "CHG-%05d", i);
        char *c = change_with_id(id);
        assert_int_equal(changes_api_declare(f->api, c, strlen(c), NULL, 0), 0);
        free(c);
    }
    long calls = strcmp_count();
    if (calls > 20L * N)
        fail_msg("%ld string comparisons for %d declarations: not O(1) each", calls, N);
    /* withdrawals keep the order declared and the index right */
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof(id), "CHG-%05d", i);
        assert_int_equal(changes_api_withdraw(f->api, id), 0);
    }
    json_t *arr = list_changes(f);
    size_t k = 0;
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            continue;
        snprintf(id, sizeof(id), "CHG-%05d", i);
        assert_string_equal(json_string_value(json_object_get(json_array_get(arr, k++), "id")),
                            id);
        int found;
        char *one = changes_api_get_json(f->api, id, &found);
        assert_non_null(one);
        free(one);
    }
    assert_int_equal(json_array_size(arr), k);
    json_decref(arr);
}

/* Text limits and control characters: a 400 naming the field. */
static void test_declare_text_limits(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *key;
        size_t len;
        int ok;
        const char *error;
    } cases[] = {
        { "id", CHG_MAX_ID, 1, NULL },
        { "id", CHG_MAX_ID + 1, 0, "field 'id': longer than 128 bytes (129)" },
        { "id", 60000, 0, "field 'id': longer than 128 bytes (60000)" },
        { "user", CHG_MAX_USER, 1, NULL },
        { "user", CHG_MAX_USER + 1, 0, "field 'user': longer than 64 bytes (65)" },
        /* no known kind is that long: refused for it, not for its length */
        { "kind", CHG_MAX_KIND, 0, "field 'kind': unknown kind 'aaaaaaaaaa" },
        { "kind", CHG_MAX_KIND + 1, 0, "field 'kind': longer than 64 bytes (65)" },
        { "title", CHG_MAX_TEXT, 1, NULL },
        { "title", CHG_MAX_TEXT + 1, 0, "field 'title': longer than 4096 bytes (4097)" },
        { "expected", CHG_MAX_TEXT + 1, 0, "field 'expected': longer than 4096 bytes (4097)" },
        { "contact", CHG_MAX_TEXT + 1, 0, "field 'contact': longer than 4096 bytes (4097)" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *v = malloc(cases[i].len + 1), id[32];
        assert_non_null(v);
        memset(v, 'a', cases[i].len);
        v[cases[i].len] = '\0';
        snprintf(id, sizeof(id), "T%zu", i);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "user", "U", "start",
                              "2019-09-12T09:00:00Z", "end", "2019-09-12T10:00:00Z");
        json_object_set_new(o, cases[i].key, json_string(v));
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        free(v);
        resp_t r = post_change(f, body);
        free(body);
        if (r.status != (cases[i].ok ? 201 : 400))
            fail_msg("case %zu (%s, %zu bytes): %ld %s", i, cases[i].key, cases[i].len,
                     r.status, r.body);
        if (!cases[i].ok && strncmp(error_of(&r), cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("case %zu: %s, want \"%s\"", i, error_of(&r), cases[i].error);
        resp_free(&r);
    }
    static const struct {
        const char *json, *error; /* error NULL: accepted */
    } controls[] = {
        { "{\"id\":\"C\\n1\",\"user\":\"U\"}",
          "field 'id': control character 0x0a at byte 2" },
        { "{\"id\":\"C1\",\"user\":\"U\\u007f\"}",
          "field 'user': control character 0x7f at byte 2" },
        { "{\"id\":\"C1\",\"user\":\"U\",\"kind\":\"a\\tb\"}",
          "field 'kind': control character 0x09 at byte 2" },
        { "{\"id\":\"C1\",\"user\":\"U\",\"title\":\"a\\rb\"}",
          "field 'title': control character 0x0d at byte 2 (only tabs and line feeds are "
          "allowed)" },
        { "{\"id\":\"C1\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"affects\":[\"north\",\"south\",\"both\","
          "\"north\"]}", "field 'affects': expected at most 3 words, got 4" },
        { "{\"id\":\"C1\",\"user\":\"U\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"title\":\"two\\tcolumns\",\"expected\":"
          "\"line one\\nline two\"}", NULL },
    };
    for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
        resp_t r = post_change(f, controls[i].json);
        if (r.status != (controls[i].error ? 400 : 201))
            fail_msg("control case %zu: %ld %s", i, r.status, r.body);
        if (controls[i].error)
            assert_string_equal(error_of(&r), controls[i].error);
        resp_free(&r);
    }
}

static void test_open_errors(void **state)
{
    fx_t *f = *state;
    char err[512] = "", path[256];
    changes_api_t *other = (changes_api_t *)1;
    /* one journal, one writer */
    assert_int_equal(changes_api_open(f->journal, NULL, &other, err, sizeof(err)), SW_EIO);
    assert_null(other);
    snprintf(path, sizeof(path), "%s: in use by another process (locked)", f->journal);
    assert_string_equal(err, path);
    snprintf(path, sizeof(path), "%s/no/such/dir/journal", f->dir);
    assert_int_equal(changes_api_open(path, NULL, &other, err, sizeof(err)), SW_EIO);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(changes_api_open(NULL, NULL, &other, err, sizeof(err)), SW_EINVAL);
    changes_api_close(NULL);
    http_stop(NULL);
}

static void test_compaction(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    changes_api_close(f->api);
    char err[512] = "";
    changes_api_opts_t o = { .compact_after = 4 };
    assert_int_equal(changes_api_open(f->journal, &o, &f->api, err, sizeof(err)), 0);
    char id[16];
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof(id), "C%02d", i);
        char *c = change_with_id(id);
        assert_int_equal(changes_api_declare(f->api, c, strlen(c), NULL, 0), 0);
        free(c);
    }
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "C%02d", i);
        assert_int_equal(changes_api_withdraw(f->api, id), 0);
    }
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.compactions, 2);
    assert_int_equal(s.compaction_errors, 0);
    /* rewritten at the 5th withdrawal (7 live) and the 10th (2 live) */
    assert_int_equal(count_lines(f->journal), 1 + 2);
    char *before = changes_api_list_json(f->api);
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->journal);
    assert_int_equal(access(tmp, F_OK), -1);

    /* the lock moved to the new file with the journal */
    changes_api_t *other = NULL;
    assert_int_equal(changes_api_open(f->journal, NULL, &other, err, sizeof(err)), SW_EIO);

    changes_api_close(f->api);
    assert_int_equal(changes_api_open(f->journal, &o, &f->api, err, sizeof(err)), 0);
    char *after = changes_api_list_json(f->api);
    assert_string_equal(before, after);
    free(before);
    free(after);
    changes_api_stats(f->api, &s);
    assert_int_equal(s.replayed, 2);
}

static void test_snapshot_conflict(void **state)
{
    fx_t *f = *state;
    char *a = change_with_id("A"), *b = change_with_id("B");
    assert_int_equal(changes_api_declare(f->api, a, strlen(a), NULL, 0), 0);
    assert_int_equal(changes_api_declare(f->api, b, strlen(b), NULL, 0), 0);
    free(a);
    free(b);
    changes_t *reg = changes_create();
    change_t yaml = { .id = "B", .user = "U", .start = 0, .end = 1, .line = 3 };
    assert_int_equal(changes_add(reg, &yaml), 0);
    assert_int_equal(changes_api_snapshot(f->api, reg), SW_EEXISTS);
    assert_int_equal(changes_count(reg), 1);
    assert_int_equal(changes_get(reg, 0)->line, 3);
    changes_destroy(reg);
}

static void test_full(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h));
    changes_api_close(f->api);
    char err[512] = "";
    changes_api_opts_t o = { .max_changes = 2 };
    assert_int_equal(changes_api_open(f->journal, &o, &f->api, err, sizeof(err)), 0);
    http_opts_t ho = fx_opts(f);
    fx_start_http(f, &ho);
    char *a = change_with_id("A"), *b = change_with_id("B"), *c = change_with_id("C");
    resp_t r;
    r = post_change(f, a), assert_int_equal(r.status, 201), resp_free(&r);
    r = post_change(f, b), assert_int_equal(r.status, 201), resp_free(&r);
    r = post_change(f, c);
    assert_int_equal(r.status, 507);
    assert_string_equal(error_of(&r), "the register is full (2 declared changes)");
    resp_free(&r);
    free(a);
    free(b);
    free(c);
}

/* A declare that cannot be written leaves neither memory nor file changed. */
static void test_journal_write_failure(void **state)
{
    fx_t *f = *state;
    char *a = change_with_id("A"), *b = change_with_id("B");
    assert_int_equal(changes_api_declare(f->api, a, strlen(a), NULL, 0), 0);
    size_t before;
    free(slurp(f->journal, &before));

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = before + 20; /* room for part of a line: a short write */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char err[512] = "";
    int rc = changes_api_declare(f->api, b, strlen(b), err, sizeof(err));
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);
    assert_int_equal(rc, SW_EIO);
    assert_non_null(strstr(err, "cannot write the journal: File too large"));

    size_t after;
    free(slurp(f->journal, &after));
    assert_int_equal(after, before);
    assert_int_equal(count_changes(f), 1);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.journal_errors, 1);
    /* the journal goes on */
    assert_int_equal(changes_api_declare(f->api, b, strlen(b), NULL, 0), 0);
    s = fx_reopen(f);
    assert_int_equal(s.live, 2);
    assert_int_equal(s.torn, 0);
    free(a);
    free(b);
}

static void test_alloc_failure(void **state)
{
    fx_t *f = *state;
    http_stop(atomic_load(&f->h)); /* only this thread allocates from here */
    atomic_store(&f->h, NULL);
    json_set_alloc_funcs(json_counted_malloc, free);
    char err[512];
    size_t lines = (size_t)count_lines(f->journal);
    int rc = -1;
    long n;
    for (n = 0; n < 500 && rc != 0; n++) {
        allocfail_reset(n);
        char *stored = NULL;
        rc = changes_api_declare_ex(f->api, good_change, strlen(good_change), &stored, err,
                                    sizeof(err));
        allocfail_reset(-1);
        if (rc != 0) {
            /* jansson reports some failed allocations while parsing as a
             * syntax error: the body is valid, so that is one too */
            if (rc != SW_ENOMEM && !(rc == SW_ECONFIG && strstr(err, "not valid JSON")))
                fail_msg("allocation %ld failed: rc %d (%s)", n, rc, err);
            assert_null(stored);
            assert_int_equal(count_lines(f->journal), lines);
            char *list = changes_api_list_json(f->api);
            assert_string_equal(list, "[]");
            free(list);
        }
        free(stored);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 5);
    /* readers report out of memory as NULL */
    for (n = 0; n < 500; n++) {
        allocfail_reset(n);
        char *list = changes_api_list_json(f->api);
        allocfail_reset(-1);
        if (list) {
            assert_non_null(strstr(list, "CHG-0412"));
            free(list);
            break;
        }
    }
    assert_true(n > 0 && n < 500);
    /* withdraw, snapshot: SW_ENOMEM and unchanged, until they succeed */
    for (n = 0, rc = -1; n < 500 && rc != 0; n++) {
        changes_t *reg = changes_create();
        allocfail_reset(n);
        rc = changes_api_snapshot(f->api, reg);
        allocfail_reset(-1);
        assert_true(rc == 0 || rc == SW_ENOMEM);
        assert_int_equal(changes_count(reg), rc == 0 ? 1 : 0);
        changes_destroy(reg);
    }
    assert_int_equal(rc, 0);
    for (n = 0, rc = -1; n < 500 && rc != 0; n++) {
        allocfail_reset(n);
        rc = changes_api_withdraw(f->api, "CHG-0412");
        allocfail_reset(-1);
        assert_true(rc == 0 || rc == SW_ENOMEM);
        assert_int_equal(count_lines(f->journal), lines + 1 + (rc == 0));
    }
    assert_int_equal(rc, 0);
    json_set_alloc_funcs(malloc, free);
}

/* Several clients declaring at once: every one stored, none lost. */
#define WRITERS 4
#define PER_WRITER 25

typedef struct {
    fx_t *f;
    int index, created;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    for (int i = 0; i < PER_WRITER; i++) {
        char id[32];
        snprintf(id, sizeof(id), "W%d-%02d", w->index, i);
        char *c = change_with_id(id);
        resp_t r = post_change(w->f, c);
        w->created += r.status == 201;
        resp_free(&r);
        free(c);
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    fx_t *f = *state;
    pthread_t tid[WRITERS];
    writer_t w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){ .f = f, .index = i };
        assert_int_equal(pthread_create(&tid[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(w[i].created, PER_WRITER);
    }
    assert_int_equal(count_changes(f), WRITERS * PER_WRITER);
    assert_int_equal(atomic_load(&f->updated), WRITERS * PER_WRITER);
    changes_api_stats_t s = fx_reopen(f);
    assert_int_equal(s.live, WRITERS * PER_WRITER);
}

/* ---- the register file, conflicts, checks and the schedule ---- */

/* The register file of these tests: DCC maintenance, a User's firewall
 * change (north), and a large User's change. */
static const char file_yaml[] =
    "changes:\n"
    "  - {id: CHG-0110, user: DCC, kind: maintenance, start: 2019-09-12T06:20:30Z,"
    " end: 2019-09-12T06:40:30Z}\n"
    "  - {id: CHG-0200, user: U1, kind: firewall, start: 2019-09-12T09:00:00Z,"
    " end: 2019-09-12T10:00:00Z, affects: [north], impact: {north: 0}}\n"
    "  - {id: CHG-0300, user: BIG1, start: 2019-09-12T12:00:00Z, end: 2019-09-12T12:30:00Z}\n"
    "forecasts:\n"
    "  - {user: U1, from: 2019-09-01, to: 2019-09-30, requests_per_day: 1000}\n";

/* Gives the API the register file `yaml`. */
static void fx_set_file(fx_t *f, const char *yaml)
{
    char err[512];
    changes_t *file = changes_create();
    assert_int_equal(changes_load_yaml_buf("changes.yaml", yaml, strlen(yaml), file, err,
                                           sizeof(err)), 0);
    assert_int_equal(changes_api_set_file(f->api, file), 0);
    changes_destroy(file); /* the API keeps its own copy */
}

/* A change of `user` on 2019-09-12 from HH:MM[:SS] to HH:MM[:SS], with `extra`
 * fields (",\"affects\":...") as JSON text (the caller frees it). */
static char *decl(const char *id, const char *user, const char *from, const char *to,
                  const char *extra)
{
    char *s = malloc(512);
    assert_non_null(s);
    snprintf(s, 512, "{\"id\":\"%s\",\"user\":\"%s\",\"start\":\"2019-09-12T%s%sZ\","
             "\"end\":\"2019-09-12T%s%sZ\"%s}", id, user, from, strlen(from) == 5 ? ":00" : "",
             to, strlen(to) == 5 ? ":00" : "", extra ? extra : "");
    return s;
}

/* The body of r (freed) parsed, when its status is `status`; `what` names
 * the request in a failure. The caller frees the result. */
static json_t *parsed(resp_t *r, long status, const char *what)
{
    if (r->status != status)
        fail_msg("%s: %ld %s", what, r->status, r->body);
    json_t *o = json_loads(r->body, 0, NULL);
    resp_free(r);
    assert_non_null(o);
    return o;
}

/* GET path, wants `status`, returns the body parsed (the caller frees it). */
static json_t *get_json(const fx_t *f, const char *path, long status)
{
    resp_t r = request(f, (req_t){ .path = path });
    return parsed(&r, status, path);
}

/* POSTs decl(...), wants 201, and returns the reply (the caller frees it). */
static json_t *declared(const fx_t *f, const char *id, const char *user, const char *from,
                        const char *to, const char *extra)
{
    char *body = decl(id, user, from, to, extra);
    resp_t r = post_change(f, body);
    free(body);
    return parsed(&r, 201, id);
}

/* The conflicts of reply o as "type:with" (or "type:user+user") words. */
static const char *conflicts_of(const json_t *o)
{
    static char buf[1024];
    json_t *k = json_object_get(o, "conflicts");
    assert_true(json_is_array(k));
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(k); i++) {
        json_t *one = json_array_get(k, i), *users = json_object_get(one, "users");
        char names[256];
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof(buf) - n, "%s%s:%s", i ? " " : "",
                 json_string_value(json_object_get(one, "type")),
                 users ? join(users, NULL, "+", names, sizeof(names))
                       : json_string_value(json_object_get(one, "with")));
    }
    return buf;
}

/* What the server logged so far (static copy). */
static const char *logged(fx_t *f)
{
    static char copy[sizeof(f->log)];
    pthread_mutex_lock(&f->log_mu);
    memcpy(copy, f->log, sizeof(copy));
    pthread_mutex_unlock(&f->log_mu);
    return copy;
}

static void test_file_ids_refused(void **state)
{
    fx_t *f = *state;
    fx_set_file(f, file_yaml);
    char *body = decl("CHG-0200", "U1", "09:00", "10:00", NULL);
    resp_t r = post_change(f, body);
    assert_int_equal(r.status, 409);
    assert_string_equal(error_of(&r), "field 'id': 'CHG-0200' is owned by the change register "
                                      "file; change it there");
    resp_free(&r);
    /* not stored, not journalled, nobody told */
    assert_int_equal(count_lines(f->journal), 1);
    assert_int_equal(atomic_load(&f->updated), 0);
    changes_api_stats_t s;
    changes_api_stats(f->api, &s);
    assert_int_equal(s.live, 0);
    assert_int_equal(s.refused, 1);
    /* an id the file does not hold is declared */
    json_decref(declared(f, "CHG-0201", "U1", "09:00", "10:00", NULL));
    /* a file without that id: it may be declared */
    fx_set_file(f, "changes: []\n");
    r = post_change(f, body);
    assert_int_equal(r.status, 201);
    resp_free(&r);
    free(body);
    assert_int_equal(count_lines(f->journal), 3);
    assert_int_equal(changes_api_set_file(f->api, NULL), 0);
    assert_int_equal(changes_api_set_file(NULL, NULL), SW_EINVAL);
}

static void test_list_with_source(void **state)
{
    fx_t *f = *state;
    fx_set_file(f, file_yaml);
    json_decref(declared(f, "API-1", "U2", "08:00", "08:30", NULL));
    json_decref(declared(f, "API-0", "U2", "09:00", "09:30", ",\"affects\":\"both\""));
    json_t *arr = list_changes(f);
    static const char *const want[][2] = { { "CHG-0110", "file" }, { "API-1", "api" },
                                           { "API-0", "api" },     { "CHG-0200", "file" },
                                           { "CHG-0300", "file" } };
    assert_int_equal(json_array_size(arr), 5);
    for (size_t i = 0; i < 5; i++) { /* by start, then id */
        json_t *o = json_array_get(arr, i);
        assert_string_equal(json_string_value(json_object_get(o, "id")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(o, "source")), want[i][1]);
        assert_null(json_object_get(o, "conflicts"));
        assert_null(json_object_get(o, "shadowed"));
        assert_int_equal(!json_object_get(o, "declared_at"), !strcmp(want[i][1], "file"));
    }
    /* the file's changes in the same form: affects a list, impact as declared */
    json_t *fw = json_array_get(arr, 3);
    assert_string_equal(affects_of(fw), "north");
    json_t *impact = json_pack("{s:f}", "north", 0.0);
    assert_true(json_equal(json_object_get(fw, "impact"), impact));
    json_decref(impact);
    assert_string_equal(affects_of(json_array_get(arr, 2)), "north,south");
    json_decref(arr);

    /* a reload that brings a declared id: the file's is used, the declared one shows */
    fx_set_file(f, "changes:\n  - {id: API-1, user: U9, start: 2019-09-12T07:00:00Z,"
                   " end: 2019-09-12T07:10:00Z}\n");
    arr = list_changes(f);
    assert_int_equal(json_array_size(arr), 3);
    json_t *a = json_array_get(arr, 0), *b = json_array_get(arr, 1);
    assert_string_equal(json_string_value(json_object_get(a, "source")), "file");
    assert_string_equal(json_string_value(json_object_get(a, "user")), "U9");
    assert_string_equal(json_string_value(json_object_get(b, "id")), "API-1");
    assert_string_equal(json_string_value(json_object_get(b, "source")), "api");
    assert_true(json_is_true(json_object_get(b, "shadowed")));
    json_decref(arr);
    json_t *one = get_json(f, "/api/v1/changes/API-1", 200);
    assert_string_equal(json_string_value(json_object_get(one, "user")), "U9");
    json_decref(one);
    /* withdrawing the declared one leaves the file's */
    resp_t r = request(f, (req_t){ .method = "DELETE", .path = "/api/v1/changes/API-1",
                                   .header = AUTH });
    assert_int_equal(r.status, 204);
    resp_free(&r);
    assert_int_equal(count_changes(f), 2);
    assert_int_equal(get(f, "/api/v1/changes/API-1", NULL), 200);
}

static void test_unknown_kind(void **state)
{
    fx_t *f = *state;
    resp_t r = post_change(f, "{\"id\":\"K1\",\"user\":\"U\",\"kind\":\"dns\","
                              "\"start\":\"2019-09-12T09:00:00Z\",\"end\":\"2019-09-12T10:00:00Z\"}");
    assert_int_equal(r.status, 400);
    assert_string_equal(error_of(&r), "field 'kind': unknown kind 'dns' (known kinds: firewall, "
                                      "network, mdm, headend, firmware, maintenance)");
    resp_free(&r);
    assert_int_equal(count_lines(f->journal), 1);
    /* a known kind in any case, and no kind at all */
    json_decref(declared(f, "K2", "U", "09:00", "10:00", ",\"kind\":\"FireWall\""));
    json_decref(declared(f, "K3", "U", "09:00", "10:00", NULL));

    /* a journal written before the rule, with such a kind, still replays */
    FILE *fp = fopen(f->journal, "ab");
    assert_non_null(fp);
    fputs("{\"op\":\"declare\",\"at\":\"2019-09-01T00:00:00Z\",\"change\":{\"id\":\"OLD\","
          "\"user\":\"U\",\"kind\":\"dns\",\"start\":\"2019-09-12T09:00:00Z\","
          "\"end\":\"2019-09-12T10:00:00Z\",\"affects\":\"north\"}}\n", fp);
    fclose(fp);
    changes_api_stats_t s = fx_reopen(f);
    assert_int_equal(s.set_aside, 0);
    assert_int_equal(s.live, 3);
    json_t *o = get_json(f, "/api/v1/changes/OLD", 200);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "dns");
    assert_string_equal(affects_of(o), "north");
    json_decref(o);
}

static void test_affects_and_impact_round_trip(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *extra, *affects, *impact;
    } cases[] = {
        { ",\"affects\":\"north\"", "north", "{}" },
        { ",\"affects\":[\"south\"]", "south", "{}" },
        { ",\"affects\":\"both\"", "north,south", "{}" },
        { ",\"affects\":[\"south\",\"north\"]", "north,south", "{}" },
        { "", "north,south", "{}" },
        { ",\"impact\":{\"south\":0.5,\"north\":3}", "north,south",
          "{\"south\":0.5,\"north\":3.0}" },
        { ",\"impact\":{\"north\":2}", "north,south", "{\"north\":2.0}" },
        { ",\"impact\":{\"south\":0,\"north\":1000}", "north,south",
          "{\"south\":0.0,\"north\":1000.0}" },
        { ",\"impact\":null", "north,south", "{}" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[16], again[16];
        snprintf(id, sizeof(id), "R%zu", i);
        snprintf(again, sizeof(again), "R%zu-again", i);
        json_t *o = declared(f, id, "U", "09:00", "10:00", cases[i].extra);
        assert_string_equal(affects_of(o), cases[i].affects);
        json_t *want = json_loads(cases[i].impact, 0, NULL);
        if (!json_equal(json_object_get(o, "impact"), want))
            fail_msg("case %zu: impact %s", i, json_dumps(json_object_get(o, "impact"), 0));
        json_decref(want);
        /* what comes out goes back in as the same change */
        json_object_set_new(o, "id", json_string(again));
        char *text = json_dumps(o, JSON_COMPACT);
        resp_t r = post_change(f, text);
        free(text);
        assert_int_equal(r.status, 201);
        json_t *o2 = json_loads(r.body, 0, NULL);
        resp_free(&r);
        assert_true(json_equal(json_object_get(o2, "affects"), json_object_get(o, "affects")));
        assert_true(json_equal(json_object_get(o2, "impact"), json_object_get(o, "impact")));
        json_decref(o2);
        json_decref(o);
    }
    /* in the register: the directions declared, the others 1 */
    changes_t *reg = changes_create();
    assert_int_equal(changes_api_snapshot(f->api, reg), 0);
    const change_t *c = changes_find(reg, "R6");
    assert_int_equal(c->impact_set, CHG_NORTH);
    assert_near(change_impact(c, DIR_NORTH), 2, 0);
    assert_near(change_impact(c, DIR_SOUTH), 1, 0);
    changes_destroy(reg);
    /* and through the journal */
    char *before = changes_api_list_json(f->api);
    fx_reopen(f);
    char *after = changes_api_list_json(f->api);
    assert_string_equal(before, after);
    free(before);
    free(after);

    static const struct {
        const char *extra, *error;
    } bad[] = {
        { ",\"impact\":{\"south\":-1}",
          "field 'impact.south': expected a number from 0 to 1000, got -1" },
        { ",\"impact\":{\"north\":1000.5}",
          "field 'impact.north': expected a number from 0 to 1000, got 1000.5" },
        { ",\"impact\":{\"north\":\"2\"}",
          "field 'impact.north': expected a number from 0 to 1000, got '2'" },
        { ",\"impact\":{\"east\":1}",
          "field 'impact.east': unknown key (expected south or north)" },
        { ",\"impact\":2", "field 'impact': expected an object of south and north, got a number" },
        { ",\"impact\":[1]", "field 'impact': expected an object of south and north, got an array" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *body = decl("BAD", "U", "09:00", "10:00", bad[i].extra);
        resp_t r = post_change(f, body);
        free(body);
        if (r.status != 400 || strcmp(error_of(&r), bad[i].error) != 0)
            fail_msg("bad case %zu: %ld %s", i, r.status, r.body);
        resp_free(&r);
    }
}

static void test_declare_conflicts(void **state)
{
    fx_t *f = *state;
    fx_set_file(f, file_yaml);
    /* none: an empty list */
    json_t *o = declared(f, "N1", "U2", "04:00", "05:00", NULL);
    assert_string_equal(conflicts_of(o), "");
    json_decref(o);
    /* DCC Planned Maintenance, in another direction too */
    o = declared(f, "M1", "U2", "06:30", "07:00", ",\"affects\":\"south\"");
    assert_string_equal(conflicts_of(o), "maintenance:CHG-0110");
    json_t *k = json_array_get(json_object_get(o, "conflicts"), 0);
    assert_string_equal(json_string_value(json_object_get(k, "message")),
                        "overlaps DCC Planned Maintenance CHG-0110 "
                        "(2019-09-12T06:20:30Z..06:40:30Z)");
    assert_string_equal(json_string_value(json_object_get(k, "from")), "2019-09-12T06:30:00Z");
    assert_string_equal(json_string_value(json_object_get(k, "to")), "2019-09-12T06:40:30Z");
    json_decref(o);
    assert_non_null(strstr(logged(f), "change M1 declared with a maintenance conflict: overlaps "
                                      "DCC Planned Maintenance CHG-0110 "
                                      "(2019-09-12T06:20:30Z..06:40:30Z)\n"));
    /* touching the maintenance window is not overlapping it */
    o = declared(f, "M2", "U4", "06:40:30", "07:00", NULL);
    assert_string_equal(conflicts_of(o), "");
    json_decref(o);
    /* the same User in the same direction; not in the other one */
    o = declared(f, "S1", "U1", "09:30", "09:45", ",\"affects\":[\"north\"]");
    assert_string_equal(conflicts_of(o), "same_user:CHG-0200");
    json_decref(o);
    o = declared(f, "S2", "U1", "09:30", "09:45", ",\"affects\":[\"south\"]");
    assert_string_equal(conflicts_of(o), "");
    json_decref(o);
    o = declared(f, "S3", "U7", "09:30", "09:45", ",\"affects\":[\"north\"]");
    assert_string_equal(conflicts_of(o), "");
    json_decref(o);
    /* DCC work reports the User changes it overlaps, file and API */
    o = declared(f, "D1", "DCC", "09:40", "09:50", ",\"kind\":\"maintenance\"");
    assert_string_equal(conflicts_of(o),
                        "maintenance:CHG-0200 maintenance:S1 maintenance:S2 maintenance:S3");
    json_decref(o);
    /* a busy hour: two large Users; one large User is not busy */
    o = declared(f, "B1", "BIG2", "12:40", "12:50", NULL);
    assert_string_equal(conflicts_of(o), "busy_hour:BIG1+BIG2");
    k = json_array_get(json_object_get(o, "conflicts"), 0);
    assert_string_equal(json_string_value(json_object_get(k, "from")), "2019-09-12T12:00:00Z");
    assert_string_equal(json_string_value(json_object_get(k, "to")), "2019-09-12T13:00:00Z");
    assert_null(json_object_get(k, "with"));
    json_decref(o);
    o = declared(f, "B2", "BIG2", "13:00", "13:30", NULL);
    assert_string_equal(conflicts_of(o), "");
    json_decref(o);
    /* without a share function, no busy-hour check */
    http_stop(atomic_load(&f->h));
    http_opts_t opts = fx_opts(f);
    opts.user_share = NULL;
    fx_start_http(f, &opts);
    o = declared(f, "B3", "BIG3", "12:40", "12:50", NULL);
    assert_string_equal(conflicts_of(o), "");
    json_decref(o);
}

static void test_get_change_with_check(void **state)
{
    fx_t *f = *state;
    fx_set_file(f, file_yaml);
    json_decref(declared(f, "CHG-A", "U2", "06:00", "06:30", NULL));
    /* no verdict yet: null */
    json_t *o = get_json(f, "/api/v1/changes/CHG-A", 200);
    assert_true(json_is_null(json_object_get(o, "check")));
    assert_string_equal(conflicts_of(o), "maintenance:CHG-0110");
    assert_string_equal(json_string_value(json_object_get(o, "source")), "api");
    json_decref(o);
    /* a verdict */
    atomic_store(&f->check_mode, 1);
    o = get_json(f, "/api/v1/changes/CHG-A", 200);
    json_t *want = json_pack("{s:s, s:s}", "change", "CHG-A", "verdict", "as_declared");
    assert_true(json_equal(json_object_get(o, "check"), want));
    json_decref(want);
    json_decref(o);
    /* a file change, without a verdict of its own */
    o = get_json(f, "/api/v1/changes/CHG-0110", 200);
    assert_string_equal(json_string_value(json_object_get(o, "source")), "file");
    assert_true(json_is_null(json_object_get(o, "check")));
    assert_string_equal(conflicts_of(o), "maintenance:CHG-A");
    json_decref(o);
    /* a callback that returns no JSON object: null, and logged */
    atomic_store(&f->check_mode, 2);
    o = get_json(f, "/api/v1/changes/CHG-A", 200);
    assert_true(json_is_null(json_object_get(o, "check")));
    json_decref(o);
    assert_non_null(strstr(logged(f), "change CHG-A: the check is not a JSON object"));
    /* no such change */
    resp_t r = request(f, (req_t){ .path = "/api/v1/changes/NOPE" });
    assert_int_equal(r.status, 404);
    assert_string_equal(error_of(&r), "no change with id 'NOPE'");
    resp_free(&r);
}

/* The ids of a schedule's changes, space-separated. */
static const char *ids_of(const json_t *sched)
{
    static char buf[1024];
    return join(json_object_get(sched, "changes"), "id", " ", buf, sizeof(buf));
}

static void test_schedule(void **state)
{
    fx_t *f = *state;
    fx_set_file(f, file_yaml);
    json_decref(declared(f, "A-END", "U3", "05:00", "06:00", NULL));  /* ends at `from` */
    json_decref(declared(f, "A-AT", "U3", "06:00", "06:00", NULL));   /* an instant at it */
    json_decref(declared(f, "A-IN", "U2", "06:30", "06:35", NULL));
    json_decref(declared(f, "A-TO", "U3", "10:00", "11:00", NULL));   /* starts at `to` */
    json_t *s = get_json(f, "/api/v1/schedule?from=2019-09-12T06:00:00Z&to=2019-09-12T10:00:00Z",
                         200);
    assert_string_equal(ids_of(s), "A-AT CHG-0110 A-IN CHG-0200");
    assert_string_equal(json_string_value(json_object_get(s, "from")), "2019-09-12T06:00:00Z");
    assert_string_equal(json_string_value(json_object_get(s, "to")), "2019-09-12T10:00:00Z");
    assert_int_equal(json_integer_value(json_object_get(s, "omitted")), 0);
    json_t *a = json_object_get(s, "changes");
    json_t *maint = json_array_get(a, 1);
    assert_string_equal(json_string_value(json_object_get(maint, "source")), "file");
    assert_string_equal(conflicts_of(maint), "maintenance:A-IN");
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "source")),
                        "api");
    json_decref(s);
    /* offsets, sent as %2B */
    s = get_json(f, "/api/v1/schedule?from=2019-09-12T13:00:00%2B01:00&to=2019-09-12T13:00:00Z",
                 200);
    if (strcmp(ids_of(s), "CHG-0300") != 0)
        fail_msg("%s", json_dumps(s, 0));
    json_decref(s);
    /* `to` defaults to a week after `from` */
    s = get_json(f, "/api/v1/schedule?from=2019-09-05T12:00:00Z", 200);
    assert_string_equal(json_string_value(json_object_get(s, "to")), "2019-09-12T12:00:00Z");
    assert_string_equal(ids_of(s), "A-END A-AT CHG-0110 A-IN CHG-0200 A-TO");
    json_decref(s);
    /* bad parameters, each named */
    static const struct {
        const char *query, *error;
    } bad[] = {
        { "?from=tomorrow", "parameter 'from': bad date 'tomorrow' (expected RFC 3339, e.g. "
          "2019-09-12T09:00:00Z, with a '+' sent as %2B)" },
        { "?from=2019-09-12T06:00:00Z&to=", "parameter 'to': bad date '' (expected RFC 3339, e.g. "
          "2019-09-12T09:00:00Z, with a '+' sent as %2B)" },
        { "?from=2019-09-12T13:00:00+01:00", "parameter 'from': bad date '2019-09-12T13:00:00 "
          "01:00' (expected RFC 3339, e.g. 2019-09-12T09:00:00Z, with a '+' sent as %2B)" },
        { "?from=2019-09-12T06:00:00Z&to=2019-09-12T05:59:59Z", "parameter 'to': before 'from'" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/api/v1/schedule%s", bad[i].query);
        resp_t r = request(f, (req_t){ .path = path });
        if (r.status != 400 || strcmp(error_of(&r), bad[i].error) != 0)
            fail_msg("bad case %zu: %ld %s", i, r.status, r.body);
        resp_free(&r);
    }
    /* a range of no length: what is in force across that instant (A-IN
     * starts at it); HEAD too; POST is not allowed */
    s = get_json(f, "/api/v1/schedule?from=2019-09-12T06:30:00Z&to=2019-09-12T06:30:00Z", 200);
    assert_string_equal(ids_of(s), "CHG-0110");
    json_decref(s);
    resp_t r = request(f, (req_t){ .method = "HEAD", .path = "/api/v1/schedule" });
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/schedule", .header = AUTH,
                            .body = "{}" });
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    resp_free(&r);
}

/* A change of `user` from now + a to now + b (seconds), JSON (caller frees). */
static char *decl_now(const char *id, int64_t a, int64_t b)
{
    char from[TF_BUFLEN], to[TF_BUFLEN];
    int64_t now = (int64_t)time(NULL) * SEC;
    tf_format(now + a * SEC, from);
    tf_format(now + b * SEC, to);
    char *s = malloc(256);
    assert_non_null(s);
    snprintf(s, 256, "{\"id\":\"%s\",\"user\":\"U\",\"start\":\"%s\",\"end\":\"%s\"}", id, from,
             to);
    return s;
}

static void test_schedule_default_range(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *id;
        int64_t a, b; /* seconds from now */
    } cases[] = {
        { "PAST", -7200, -3600 },                       /* over an hour ago */
        { "NOW", -600, 600 },                           /* in force */
        { "SOON", 3600, 7200 },                         /* in an hour */
        { "WEEK", 6 * 86400, 6 * 86400 + 60 },          /* within the week */
        { "LATER", 8 * 86400, 8 * 86400 + 60 },         /* after it */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = decl_now(cases[i].id, cases[i].a, cases[i].b);
        resp_t r = post_change(f, body);
        free(body);
        assert_int_equal(r.status, 201);
        resp_free(&r);
    }
    json_t *s = get_json(f, "/api/v1/schedule", 200);
    assert_string_equal(ids_of(s), "NOW SOON WEEK");
    int64_t from, to;
    assert_int_equal(tf_parse_rfc3339(json_string_value(json_object_get(s, "from")), &from), 0);
    assert_int_equal(tf_parse_rfc3339(json_string_value(json_object_get(s, "to")), &to), 0);
    assert_true(to - from == 7 * 86400 * SEC);
    json_decref(s);
}

/* Out of memory: a new file is refused whole (the last one kept), and the
 * views report NULL. */
static void test_views_alloc_failure(void **state)
{
    fx_t *f = *state;
    if (!allocfail_active())
        skip();
    http_stop(atomic_load(&f->h)); /* only this thread allocates from here */
    atomic_store(&f->h, NULL);
    json_set_alloc_funcs(json_counted_malloc, free);
    fx_set_file(f, "changes:\n  - {id: OLD, user: DCC, start: 2019-09-12T06:00:00Z,"
                   " end: 2019-09-12T07:00:00Z}\n");
    char *c = decl("API-1", "BIG1", "06:30", "06:45", NULL);
    assert_int_equal(changes_api_declare(f->api, c, strlen(c), NULL, 0), 0);
    free(c);
    char *before = changes_api_list_json(f->api), err[512];
    const char *yaml = "changes:\n  - {id: NEW, user: BIG2, start: 2019-09-12T06:00:00Z,"
                       " end: 2019-09-12T07:00:00Z}\nforecasts:\n  - {user: U, from: 2019-09-01,"
                       " to: 2019-09-30, requests_per_day: 5}\n";
    changes_t *file = changes_create();
    assert_int_equal(changes_load_yaml_buf("f", yaml, strlen(yaml), file, err, sizeof(err)), 0);
    int rc = -1;
    long n;
    for (n = 0; n < 500 && rc != 0; n++) {
        allocfail_reset(n);
        rc = changes_api_set_file(f->api, file);
        allocfail_reset(-1);
        if (rc != 0) {
            assert_int_equal(rc, SW_ENOMEM);
            char *now = changes_api_list_json(f->api);
            assert_string_equal(now, before);
            free(now);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(n > 3);
    changes_destroy(file);
    free(before);
    /* the views: NULL until they have memory, then the whole answer */
    for (n = 0; n < 500; n++) {
        int found = -1;
        allocfail_reset(n);
        char *v = changes_api_view_json(f->api, "API-1", user_share, NULL, &found);
        allocfail_reset(-1);
        assert_int_equal(found, 1);
        if (v) {
            assert_non_null(strstr(v, "busy_hour"));
            free(v);
            break;
        }
    }
    assert_true(n > 0 && n < 500);
    for (n = 0; n < 500; n++) {
        allocfail_reset(n);
        char *v = changes_api_schedule_json(f->api, t("2019-09-12T00:00:00Z"),
                                            t("2019-09-13T00:00:00Z"), user_share, NULL);
        allocfail_reset(-1);
        if (v) {
            assert_non_null(strstr(v, "\"omitted\":0"));
            assert_non_null(strstr(v, "busy_hour"));
            free(v);
            break;
        }
    }
    assert_true(n > 0 && n < 500);
    json_set_alloc_funcs(malloc, free);
}

/* ---- starting ---- */

static void test_start_errors(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *addr, *error;
    } cases[] = {
        { "127.0.0.1:http", "--http 127.0.0.1:http: expected ADDR:PORT, [ADDR]:PORT or PORT" },
        { "127.0.0.1:70000", "--http 127.0.0.1:70000: expected" },
        { "127.0.0.1:", "--http 127.0.0.1:: expected" },
        { "[::1:80", "--http [::1:80: expected" },
    };
    char err[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_opts_t o = fx_opts(f);
        o.addr = cases[i].addr;
        http_t *h = http_start(&o, err, sizeof(err));
        if (h || strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
            fail_msg("%s: \"%s\", want \"%s...\"", cases[i].addr, err, cases[i].error);
    }
    /* the port is taken */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", f->port);
    http_opts_t o = fx_opts(f);
    o.addr = addr;
    assert_null(http_start(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot serve on 127.0.0.1:"));
    /* "PORT" alone is 127.0.0.1:PORT: taken too */
    snprintf(addr, sizeof(addr), "%u", f->port);
    assert_null(http_start(&o, err, sizeof(err)));
    o = fx_opts(f);
    o.tls_cert = "/nonexistent/cert.pem";
    assert_null(http_start(&o, err, sizeof(err)));
    assert_string_equal(err, "http: TLS needs both a certificate and a key file");
    o.tls_key = "/nonexistent/key.pem";
    assert_null(http_start(&o, err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/cert.pem: No such file or directory");
    o = fx_opts(f);
    o.addr = NULL;
    assert_null(http_start(&o, err, sizeof(err)));
    /* one thread, IPv6 loopback when the machine has it */
    o = fx_opts(f);
    o.addr = "[::1]:0";
    o.threads = 1;
    http_t *h = http_start(&o, err, sizeof(err));
    if (h) {
        assert_true(http_port(h) > 0);
        http_stop(h);
    }
}

static void test_stats(void **state)
{
    fx_t *f = *state;
    assert_int_equal(get(f, "/healthz", NULL), 200);
    assert_int_equal(get(f, "/healthz", NULL), 200);
    assert_int_equal(get(f, "/nope", NULL), 404);
    atomic_store(&f->alerts_off, 1);
    assert_int_equal(get(f, "/api/v1/alerts", NULL), 503);
    http_stats_t s;
    http_stats(atomic_load(&f->h), &s);
    assert_int_equal(s.requests[0], 0);
    assert_int_equal(s.requests[1], 2);
    assert_int_equal(s.requests[2], 0);
    assert_int_equal(s.requests[3], 1);
    assert_int_equal(s.requests[4], 1);
    assert_int_equal(s.dropped, 0);
}

/* ---- TLS ---- */

static void test_tls(void **state)
{
    fx_t *f = *state;
    char cert[256], key[256], cmd[1024];
    snprintf(cert, sizeof(cert), "%s/cert.pem", f->dir);
    snprintf(key, sizeof(key), "%s/key.pem", f->dir);
    snprintf(cmd, sizeof(cmd),
             "timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             "-keyout %s -out %s >/dev/null 2>&1", key, cert);
    if (system(cmd) != 0)
        skip(); /* no openssl here */
    http_stop(atomic_load(&f->h));
    http_opts_t o = fx_opts(f);
    o.tls_cert = cert;
    o.tls_key = key;
    char err[512] = "";
    http_t *h = http_start(&o, err, sizeof(err));
    if (!h && strstr(err, "no TLS support"))
        skip();
    if (!h)
        fail_msg("https: %s", err);
    atomic_store(&f->h, h);
    f->port = http_port(h);
    resp_t r = request(f, (req_t){ .path = "/healthz", .cainfo = cert });
    assert_int_equal(r.curl, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    resp_free(&r);
    r = request(f, (req_t){ .method = "POST", .path = "/api/v1/changes", .header = AUTH,
                            .body = good_change, .cainfo = cert });
    assert_int_equal(r.status, 201);
    resp_free(&r);
    /* plain HTTP to the TLS port gets no answer */
    r = request(f, (req_t){ .path = "/healthz" });
    assert_true(r.curl != CURLE_OK || r.status != 200);
    resp_free(&r);
    /* a key that does not parse */
    http_stop(h);
    atomic_store(&f->h, NULL);
    spit(key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    assert_null(http_start(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot serve on 127.0.0.1:0"));
}

/* ---- the live console (console.h) ---- */

#include "alert.h" /* the kinds and severities a snapshot notes */

/* Restarts the fixture's server with the console on. */
static console_t *fx_console(fx_t *f)
{
    http_stop(atomic_load(&f->h));
    atomic_store(&f->h, NULL);
    http_opts_t o = fx_opts(f);
    o.console = 1;
    fx_start_http(f, &o);
    console_t *c = http_console(atomic_load(&f->h));
    assert_non_null(c);
    return c;
}

/* A request's status, body and every response header, one per line. */
typedef struct {
    resp_t r;
    char headers[4096];
} full_resp_t;

static size_t on_any_header(char *p, size_t size, size_t n, void *arg)
{
    full_resp_t *fr = arg;
    size_t len = strlen(fr->headers);
    snprintf(fr->headers + len, sizeof(fr->headers) - len, "%.*s", (int)(size * n), p);
    return size * n;
}

static full_resp_t console_request(const fx_t *f, const char *method, const char *path)
{
    full_resp_t fr = { 0 };
    char url[1024];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &fr.r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_any_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &fr);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    fr.r.curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &fr.r.status);
    curl_easy_cleanup(c);
    assert_int_equal(fr.r.curl, CURLE_OK);
    if (!fr.r.body)
        fr.r.body = calloc(1, 1);
    return fr;
}

/* The answer's value of header `name` ("" when absent). */
static const char *header_of(const full_resp_t *fr, const char *name)
{
    static char v[1024];
    v[0] = '\0';
    for (const char *l = fr->headers; *l; l = strchr(l, '\n') + 1) {
        const char *eol = strchr(l, '\n');
        if (!eol)
            break;
        header_value(l, (size_t)(eol - l + 1), name, v, sizeof(v));
    }
    return v;
}

static void test_console_page(void **state)
{
    fx_t *f = *state;
    /* off unless asked for: the routes are unknown */
    static const char *const console_paths[] = {
        "/", "/console.js", "/console.css", "/console.svg", "/api/v1/users", "/api/v1/users/U",
        "/api/v1/history",
    };
    for (size_t i = 0; i < sizeof(console_paths) / sizeof(console_paths[0]); i++)
        if (get(f, console_paths[i], NULL) != 404)
            fail_msg("GET %s without the console: want 404", console_paths[i]);
    assert_null(http_console(atomic_load(&f->h)));

    fx_console(f);
    static const struct {
        const char *path, *type, *has;
    } assets[] = {
        { "/", "text/html; charset=utf-8", "<script src=\"/console.js\" defer></script>" },
        { "/console.js", "text/javascript; charset=utf-8", "fetch(" },
        { "/console.css", "text/css; charset=utf-8", "#users-table" },
        { "/console.svg", "image/svg+xml", "<svg" },
    };
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        full_resp_t fr = console_request(f, "GET", assets[i].path);
        assert_int_equal(fr.r.status, 200);
        assert_string_equal(header_of(&fr, "Content-Type:"), assets[i].type);
        assert_string_equal(header_of(&fr, "Content-Security-Policy:"),
                            "default-src 'self'; base-uri 'none'; form-action 'none'; "
                            "frame-ancestors 'none'");
        assert_string_equal(header_of(&fr, "X-Content-Type-Options:"), "nosniff");
        if (!strstr(fr.r.body, assets[i].has))
            fail_msg("GET %s: no '%s' in it", assets[i].path, assets[i].has);
        /* self-contained: nothing from another origin, no inline code or
         * style that the policy would refuse, no markup made from data */
        static const char *const never[] = { "http://", "https://", "src=\"//", "href=\"//",
                                             "<style", " style=", " onload=", " onclick=",
                                             "innerHTML", "eval(", "document.write" };
        for (size_t k = 0; k < sizeof(never) / sizeof(never[0]); k++)
            if (strstr(fr.r.body, never[k]) && strcmp(never[k], "http://") != 0)
                fail_msg("GET %s: '%s' in it", assets[i].path, never[k]);
        if (strstr(fr.r.body, "http://") && !strstr(fr.r.body, "http://www.w3.org/2000/svg"))
            fail_msg("GET %s: a URL of another origin in it", assets[i].path);
        resp_free(&fr.r);
    }
    const char *page = console_asset("/")->body;
    for (const char *p = page; (p = strstr(p, "<script")); p++) /* every script is a file */
        assert_true(!strncmp(p, "<script src=\"/console.js\"", 25));
    /* every answer says nosniff; HEAD as GET; other methods and paths */
    full_resp_t fr = console_request(f, "HEAD", "/");
    assert_int_equal(fr.r.status, 200);
    assert_int_equal(fr.r.len, 0);
    assert_string_equal(header_of(&fr, "X-Content-Type-Options:"), "nosniff");
    resp_free(&fr.r);
    fr = console_request(f, "GET", "/healthz");
    assert_string_equal(header_of(&fr, "X-Content-Type-Options:"), "nosniff");
    assert_string_equal(header_of(&fr, "Content-Security-Policy:"), "");
    resp_free(&fr.r);
    fr = console_request(f, "POST", "/");
    assert_int_equal(fr.r.status, 405);
    assert_string_equal(header_of(&fr, "Allow:"), "GET, HEAD");
    resp_free(&fr.r);
    fr = console_request(f, "DELETE", "/api/v1/users/U");
    assert_int_equal(fr.r.status, 405);
    resp_free(&fr.r);
    assert_int_equal(get(f, "/console.jsx", NULL), 404);
    assert_int_equal(get(f, "/index.html", NULL), 404);
    assert_int_equal(get(f, "/api/v1/users/", NULL), 404);
    assert_int_equal(get(f, "/api/v1/historyX", NULL), 404);
}

#define UA "90-B3-D5-1F-30-01-00-0A" /* the stub's alert fires for it */

/* Publishes a snapshot of five Users: UA storming south (critical), "b-quiet"
 * and "B-LOUD" without alerts, "c-silent" silent northbound (a warning),
 * "d-remote" firing without a level of its own; and the feed's "*". */
static void publish_five(console_t *c)
{
    console_users_t *s = console_users_new();
    assert_non_null(s);
    console_dir_t lv[2] = { { .seen = 1, .rate = 12.34567, .baseline = 1.5, .at = t("2024-03-12T07:00:05Z") },
                            { .seen = 1, .rate = 0.0004, .baseline = 3, .at = t("2024-03-12T07:00:00Z") } };
    assert_int_equal(console_users_add(s, "c-silent", lv), 0);
    assert_int_equal(console_users_add(s, UA, lv), 0);
    console_dir_t south_only[2] = { lv[0], { 0 } };
    assert_int_equal(console_users_add(s, "b-quiet", south_only), 0);
    assert_int_equal(console_users_add(s, "B-LOUD", lv), 0);
    assert_int_equal(console_users_firing(s, UA, DIR_SOUTH, ALERT_STORM, SEV_CRITICAL), 0);
    assert_int_equal(console_users_firing(s, "c-silent", DIR_NORTH, ALERT_SILENCE, SEV_WARNING), 0);
    assert_int_equal(console_users_firing(s, "d-remote", DIR_BOTH, ALERT_BLOCKED, SEV_CRITICAL), 0);
    assert_int_equal(console_users_firing(s, "d-remote", DIR_NORTH, ALERT_SHIFT, SEV_WARNING), 0);
    assert_int_equal(console_users_firing(s, "*", DIR_BOTH, ALERT_FEED, SEV_CRITICAL), 0);
    console_publish_users(c, s, t("2026-01-02T03:04:05Z"));
}

/* The ids listed by GET path, joined with spaces. */
static char *listed(const fx_t *f, const char *path, json_int_t *matched)
{
    json_t *o = get_json(f, path, 200);
    static char ids[1024];
    ids[0] = '\0';
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(o, "users"), i, u) {
        size_t n = strlen(ids);
        snprintf(ids + n, sizeof(ids) - n, "%s%s", n ? " " : "",
                 json_string_value(json_object_get(u, "user")));
    }
    if (matched)
        *matched = json_integer_value(json_object_get(o, "matched"));
    json_decref(o);
    return ids;
}

static void test_console_users(void **state)
{
    fx_t *f = *state;
    console_t *c = fx_console(f);
    assert_false(console_users_wanted(c));
    /* before the first snapshot: pending, ask again in a second */
    full_resp_t fr = console_request(f, "GET", "/api/v1/users");
    assert_int_equal(fr.r.status, 202);
    assert_string_equal(fr.r.body, "{\"pending\":true}");
    assert_string_equal(header_of(&fr, "Retry-After:"), "1");
    resp_free(&fr.r);
    assert_true(console_users_wanted(c)); /* the request keeps them coming */
    assert_int_equal(get(f, "/api/v1/users/" UA, NULL), 202);

    publish_five(c);
    json_t *o = get_json(f, "/api/v1/users", 200);
    assert_int_equal(json_integer_value(json_object_get(o, "total")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "matched")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "limit")), 1000);
    assert_string_equal(json_string_value(json_object_get(o, "q")), "");
    assert_string_equal(json_string_value(json_object_get(o, "built_at")), "2026-01-02T03:04:05Z");
    assert_string_equal(json_string_value(json_object_get(o, "feed_time")), "2024-03-12T07:00:05Z");
    /* the alerting first, by id, then the others by id ("*" is no User) */
    json_t *users = json_object_get(o, "users");
    assert_int_equal(json_array_size(users), 5);
    static const char *const order[] = { UA, "c-silent", "d-remote", "B-LOUD", "b-quiet" };
    static const char *const states[] = { "critical", "warning", "critical", "ok", "ok" };
    for (size_t i = 0; i < 5; i++) {
        json_t *u = json_array_get(users, i);
        assert_string_equal(json_string_value(json_object_get(u, "user")), order[i]);
        assert_string_equal(json_string_value(json_object_get(u, "state")), states[i]);
    }
    char *row = json_dumps(json_array_get(users, 0), JSON_COMPACT | JSON_REAL_PRECISION(12));
    assert_string_equal(row, "{\"user\":\"" UA "\",\"state\":\"critical\",\"south\":{\"rate\":12.346,"
                             "\"baseline\":1.5,\"at\":\"2024-03-12T07:00:05Z\",\"state\":\"critical\","
                             "\"alerts\":[\"storm\"]},\"north\":{\"rate\":0.0,\"baseline\":3.0,"
                             "\"at\":\"2024-03-12T07:00:00Z\",\"state\":\"ok\",\"alerts\":[]}}");
    free(row);
    /* no level that way: nulls; both ways of DIR_BOTH, the worst severity */
    row = json_dumps(json_array_get(users, 2), JSON_COMPACT);
    assert_string_equal(row, "{\"user\":\"d-remote\",\"state\":\"critical\",\"south\":{\"rate\":null,"
                             "\"baseline\":null,\"at\":null,\"state\":\"critical\",\"alerts\":"
                             "[\"blocked_route\"]},\"north\":{\"rate\":null,\"baseline\":null,"
                             "\"at\":null,\"state\":\"critical\",\"alerts\":[\"blocked_route\","
                             "\"shift\"]}}");
    free(row);
    row = json_dumps(json_object_get(json_array_get(users, 4), "north"), JSON_COMPACT);
    assert_string_equal(row, "{\"rate\":null,\"baseline\":null,\"at\":null,\"state\":\"ok\","
                             "\"alerts\":[]}");
    free(row);
    json_decref(o);

    /* q: any case, server side; limit: the first of the order, all counted */
    json_int_t matched;
    assert_string_equal(listed(f, "/api/v1/users?q=B-", &matched), "B-LOUD b-quiet");
    assert_int_equal(matched, 2);
    assert_string_equal(listed(f, "/api/v1/users?q=-S", NULL), "c-silent");
    assert_string_equal(listed(f, "/api/v1/users?q=30-01", NULL), UA);
    assert_string_equal(listed(f, "/api/v1/users?q=nobody", &matched), "");
    assert_int_equal(matched, 0);
    assert_string_equal(listed(f, "/api/v1/users?q=", NULL),
                        UA " c-silent d-remote B-LOUD b-quiet");
    assert_string_equal(listed(f, "/api/v1/users?limit=2", &matched), UA " c-silent");
    assert_int_equal(matched, 5);
    assert_string_equal(listed(f, "/api/v1/users?limit=0", &matched), "");
    assert_int_equal(matched, 5);
    assert_string_equal(listed(f, "/api/v1/users?q=b-&limit=1", &matched), "B-LOUD");
    assert_int_equal(matched, 2);
    assert_string_equal(listed(f, "/api/v1/users?limit=10000", NULL),
                        UA " c-silent d-remote B-LOUD b-quiet");
    static const char *const bad_limits[] = { "10001", "-1", "+3", "x", "", "2x", "99999999999999999999" };
    for (size_t i = 0; i < sizeof(bad_limits) / sizeof(bad_limits[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/users?limit=%s", bad_limits[i]);
        resp_t r = request(f, (req_t){ .path = path });
        if (r.status != 400 || !strstr(error_of(&r), "parameter 'limit'"))
            fail_msg("GET %s: %ld %s, want 400 naming limit", path, r.status, r.body);
        resp_free(&r);
    }
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/users?q=%065d", 0);
    resp_t r = request(f, (req_t){ .path = path });
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(error_of(&r), "parameter 'q'"));
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/users?q=%064d", 0);
    assert_string_equal(listed(f, path, NULL), "");

    /* one User: its row, its alerts firing (the others' left out) */
    o = get_json(f, "/api/v1/users/" UA, 200);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "critical");
    assert_string_equal(json_string_value(json_object_get(o, "built_at")), "2026-01-02T03:04:05Z");
    json_t *alerts = json_object_get(o, "alerts");
    assert_int_equal(json_array_size(alerts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(alerts, 0), "alert")),
                        "blocked_route");
    json_decref(o);
    o = get_json(f, "/api/v1/users/b-quiet", 200);
    assert_int_equal(json_array_size(json_object_get(o, "alerts")), 0);
    assert_true(json_is_array(json_object_get(o, "alerts")));
    assert_true(json_is_null(json_object_get(json_object_get(o, "north"), "rate")));
    json_decref(o);
    o = get_json(f, "/api/v1/users/d-remote", 200);
    json_decref(o);
    atomic_store(&f->alerts_off, 1); /* alerts unknown: null, the row all the same */
    o = get_json(f, "/api/v1/users/" UA, 200);
    assert_true(json_is_null(json_object_get(o, "alerts")));
    json_decref(o);
    r = request(f, (req_t){ .path = "/api/v1/users/nobody" });
    assert_int_equal(r.status, 404);
    assert_string_equal(error_of(&r), "no User 'nobody'");
    resp_free(&r);
    assert_int_equal(get(f, "/api/v1/users/*", NULL), 404);
    assert_int_equal(get(f, "/api/v1/users/b-QUIET", NULL), 404); /* ids are exact */

    /* a new snapshot replaces it whole */
    console_users_t *s = console_users_new();
    console_dir_t none[2] = { { 0 }, { 0 } };
    assert_int_equal(console_users_add(s, "only-one", none), 0);
    console_publish_users(c, s, t("2026-01-02T03:04:06Z"));
    assert_string_equal(listed(f, "/api/v1/users", NULL), "only-one");
    o = get_json(f, "/api/v1/users", 200);
    assert_true(json_is_null(json_object_get(o, "feed_time")));
    json_decref(o);
    assert_int_equal(get(f, "/api/v1/users/" UA, NULL), 404);
}

/* A transition's alert line, as the alert stage writes it (with its newline). */
static void keep_line(console_t *c, const char *at, const char *status, const char *user)
{
    char line[256];
    snprintf(line, sizeof(line), "{\"status\":\"%s\",\"alert\":\"storm\",\"user\":\"%s\"}\n",
             status, user);
    console_transition(c, t(at), line, strlen(line));
}

static void test_console_history(void **state)
{
    fx_t *f = *state;
    console_t *c = fx_console(f);
    json_t *o = get_json(f, "/api/v1/history", 200);
    assert_int_equal(json_integer_value(json_object_get(o, "kept")), 0);
    assert_int_equal(json_array_size(json_object_get(o, "transitions")), 0);
    json_decref(o);
    keep_line(c, "2024-03-12T07:00:00Z", "firing", "U1");
    keep_line(c, "2024-03-12T07:05:00Z", "firing", "U2");
    keep_line(c, "2024-03-12T07:10:00.250Z", "resolved", "U1");
    char *body;
    assert_int_equal(get(f, "/api/v1/history", &body), 200);
    assert_string_equal(body,
                        "{\"since\":null,\"kept\":3,\"transitions\":["
                        "{\"at\":\"2024-03-12T07:00:00Z\",\"alert\":{\"status\":\"firing\","
                        "\"alert\":\"storm\",\"user\":\"U1\"}},"
                        "{\"at\":\"2024-03-12T07:05:00Z\",\"alert\":{\"status\":\"firing\","
                        "\"alert\":\"storm\",\"user\":\"U2\"}},"
                        "{\"at\":\"2024-03-12T07:10:00.250Z\",\"alert\":{\"status\":\"resolved\","
                        "\"alert\":\"storm\",\"user\":\"U1\"}}]}");
    free(body);
    /* since: at or after it, any offset; nothing after the last */
    o = get_json(f, "/api/v1/history?since=2024-03-12T07:05:00Z", 200);
    assert_string_equal(json_string_value(json_object_get(o, "since")), "2024-03-12T07:05:00Z");
    assert_int_equal(json_array_size(json_object_get(o, "transitions")), 2);
    json_decref(o);
    o = get_json(f, "/api/v1/history?since=2024-03-12T09:05:00.001%2B02:00", 200);
    json_t *tr = json_object_get(o, "transitions");
    assert_int_equal(json_array_size(tr), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tr, 0), "at")),
                        "2024-03-12T07:10:00.250Z");
    json_decref(o);
    o = get_json(f, "/api/v1/history?since=2024-03-12T07:10:00.251Z", 200);
    assert_int_equal(json_array_size(json_object_get(o, "transitions")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "kept")), 3);
    json_decref(o);
    resp_t r = request(f, (req_t){ .path = "/api/v1/history?since=yesterday" });
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(error_of(&r), "parameter 'since': bad date 'yesterday'"));
    resp_free(&r);

    /* the last CONSOLE_HISTORY kept, oldest first */
    for (int i = 0; i < CONSOLE_HISTORY + 5; i++) {
        char at[64], user[16];
        snprintf(at, sizeof(at), "2024-03-13T%02d:%02d:%02dZ", i / 3600, i / 60 % 60, i % 60);
        snprintf(user, sizeof(user), "N%d", i);
        keep_line(c, at, "firing", user);
    }
    o = get_json(f, "/api/v1/history", 200);
    assert_int_equal(json_integer_value(json_object_get(o, "kept")), CONSOLE_HISTORY);
    tr = json_object_get(o, "transitions");
    assert_int_equal(json_array_size(tr), CONSOLE_HISTORY);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(tr, 0), "alert"), "user")), "N5");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(tr, CONSOLE_HISTORY - 1), "alert"),
                            "user")), "N1004");
    json_decref(o);
    /* and at most CONSOLE_HISTORY_BYTES of lines: long ones push out the oldest */
    size_t big = CONSOLE_HISTORY_BYTES / 4 + 1;
    char *line = malloc(CONSOLE_HISTORY_BYTES + 2);
    assert_non_null(line);
    memset(line, ' ', CONSOLE_HISTORY_BYTES + 1);
    memcpy(line, "{\"status\":\"firing\"}", 19);
    for (int i = 0; i < 4; i++)
        console_transition(c, t("2024-03-14T00:00:00Z"), line, big);
    console_transition(c, t("2024-03-14T00:00:00Z"), line, CONSOLE_HISTORY_BYTES + 1); /* not kept */
    free(line);
    o = get_json(f, "/api/v1/history", 200);
    assert_int_equal(json_integer_value(json_object_get(o, "kept")), 3);
    json_decref(o);
}

/* Snapshots replaced while clients read them: every answer whole. */
typedef struct {
    console_t *c;
    atomic_int stop;
} publisher_t;

static void *publisher_main(void *arg)
{
    publisher_t *p = arg;
    console_dir_t lv[2] = { { .seen = 1, .rate = 1 }, { .seen = 1, .rate = 2 } };
    for (int i = 0; !atomic_load(&p->stop); i++) {
        console_users_t *s = console_users_new();
        int n = 2 + i % 3;
        for (int k = 0; k < n; k++) {
            char id[16];
            snprintf(id, sizeof(id), "P%d", k);
            assert_int_equal(console_users_add(s, id, lv), 0);
        }
        assert_int_equal(console_users_firing(s, "P1", DIR_NORTH, ALERT_STORM, SEV_CRITICAL), 0);
        console_publish_users(p->c, s, t("2026-01-01T00:00:00Z"));
        keep_line(p->c, "2026-01-01T00:00:00Z", "firing", "P1");
    }
    return NULL;
}

static void test_console_concurrent(void **state)
{
    fx_t *f = *state;
    publisher_t p = { .c = fx_console(f) };
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, publisher_main, &p), 0);
    int seen[5] = { 0 };
    /* 60 reads at least, and on until the publisher's first snapshot has
     * been read (a loaded machine may not run it for a while) */
    for (int i = 0; i < 60 || (seen[2] + seen[3] + seen[4] == 0 && i < 20000); i++) {
        char *body;
        long status = get(f, i % 3 == 2 ? "/api/v1/users/P1" : "/api/v1/users", &body);
        json_t *o = json_loads(body, 0, NULL);
        assert_non_null(o);
        if (status == 200 && i % 3 != 2) {
            json_int_t total = json_integer_value(json_object_get(o, "total"));
            json_t *users = json_object_get(o, "users");
            assert_true(total >= 2 && total <= 4);
            assert_int_equal(json_array_size(users), (size_t)total);
            assert_string_equal(json_string_value(json_object_get(json_array_get(users, 0),
                                                                  "user")), "P1");
            seen[total]++;
        } else if (status == 200) {
            assert_string_equal(json_string_value(json_object_get(o, "state")), "critical");
        } else {
            assert_int_equal(status, 202); /* before the first snapshot only */
            assert_int_equal(seen[2] + seen[3] + seen[4], 0);
        }
        json_decref(o);
        free(body);
        if (i % 10 == 0)
            assert_int_equal(get(f, "/api/v1/history", NULL), 200);
    }
    atomic_store(&p.stop, 1);
    pthread_join(tid, NULL);
    assert_true(seen[2] + seen[3] + seen[4] > 0);
}

/* Out of memory: building fails cleanly; renderers answer 0 until they
 * have it, then the whole answer; a snapshot left unsealed is sealed by
 * the next reader. */
static void test_console_alloc_failure(void **state)
{
    fx_t *f = *state;
    if (!allocfail_active())
        skip();
    console_t *c = fx_console(f);
    http_stop(atomic_load(&f->h)); /* only this thread allocates from here; c is gone too */
    atomic_store(&f->h, NULL);
    json_set_alloc_funcs(json_counted_malloc, free);
    for (long n = 0;; n++) {
        allocfail_reset(n);
        c = console_create();
        allocfail_reset(-1);
        if (c)
            break;
        assert_true(n < 10);
    }
    console_dir_t lv[2] = { { .seen = 1, .rate = 1 }, { 0 } };
    long n;
    for (n = 0; n < 500; n++) {
        allocfail_reset(n);
        console_users_t *s = console_users_new();
        int rc = s ? SW_OK : SW_ENOMEM;
        for (int k = 0; k < 300 && rc == SW_OK; k++) {
            char id[16];
            snprintf(id, sizeof(id), "U%03d", 299 - k);
            rc = console_users_add(s, id, lv);
        }
        if (rc == SW_OK)
            rc = console_users_firing(s, "U007", DIR_SOUTH, ALERT_STORM, SEV_CRITICAL);
        if (rc == SW_OK)
            rc = console_users_firing(s, "Z-new", DIR_NORTH, ALERT_SILENCE, SEV_WARNING);
        allocfail_reset(-1);
        assert_true(rc == SW_OK || rc == SW_ENOMEM);
        if (rc == SW_OK) {
            console_publish_users(c, s, 0);
            break;
        }
        console_users_free(s);
    }
    assert_true(n > 3 && n < 500);
    for (n = 0; n < 500; n++) {
        char *json = NULL;
        allocfail_reset(n);
        int status = console_users_json(c, NULL, 2, &json);
        allocfail_reset(-1);
        if (!status) {
            assert_null(json);
            continue;
        }
        assert_int_equal(status, 200);
        assert_non_null(strstr(json, "\"total\":301,\"matched\":301"));
        char *first = strstr(json, "\"user\":\"U007\""), *second = strstr(json, "\"user\":\"Z-new\"");
        assert_true(first && second && first < second);
        free(json);
        break;
    }
    assert_true(n > 0 && n < 500);
    for (n = 0; n < 500; n++) {
        char *json = NULL;
        allocfail_reset(n);
        int status = console_user_json(c, "Z-new", "[]", &json);
        allocfail_reset(-1);
        if (status) {
            assert_int_equal(status, 200);
            if (!strstr(json, "\"alerts\":[\"silence\"]"))
                fail_msg("%s", json);
            free(json);
            break;
        }
    }
    assert_true(n > 0 && n < 500);
    for (n = 0; n < 50; n++) { /* a line not kept, or kept whole */
        allocfail_reset(n);
        keep_line(c, "2024-03-12T07:00:00Z", "firing", "U1");
        allocfail_reset(-1);
    }
    char *json;
    assert_int_equal(console_history_json(c, INT64_MIN, &json), 200);
    assert_non_null(strstr(json, "\"kept\":49,"));
    free(json);
    console_destroy(c);
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_health_and_ready),
        T(test_not_found_and_wrong_method),
        T(test_alerts),
        T(test_accept_level),
        T(test_metrics),
        T(test_metrics_default),
        T(test_declare_good),
        T(test_declare_normalises),
        T(test_declare_invalid),
        T(test_declare_duplicate),
        T(test_auth),
        T(test_no_token_disables_writes),
        T(test_no_change_api),
        T(test_body_limit),
        T(test_body_limit_configured),
        T(test_per_address_limit),
        T(test_request_deadline),
        T(test_deadline_spares_closed_connections),
        T(test_withdraw),
        T(test_ids_in_urls),
        T(test_restart_keeps_changes),
        T(test_torn_tail),
        T(test_torn_header),
        T(test_corrupt_journal),
        T(test_corrupt_journal_set_aside),
        T(test_journal_dir_not_writable),
        T(test_on_change_and_copy),
        T(test_declare_scales),
        T(test_declare_text_limits),
        T(test_open_errors),
        T(test_compaction),
        T(test_snapshot_conflict),
        T(test_full),
        T(test_journal_write_failure),
        T(test_alloc_failure),
        T(test_concurrent_writers),
        T(test_file_ids_refused),
        T(test_list_with_source),
        T(test_unknown_kind),
        T(test_affects_and_impact_round_trip),
        T(test_declare_conflicts),
        T(test_get_change_with_check),
        T(test_schedule),
        T(test_schedule_default_range),
        T(test_views_alloc_failure),
        T(test_start_errors),
        T(test_stats),
        T(test_tls),
        T(test_console_page),
        T(test_console_users),
        T(test_console_history),
        T(test_console_concurrent),
        T(test_console_alloc_failure),
    };
#undef T
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
