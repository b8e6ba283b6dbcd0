/*
 * curve.c - CurveZMQ keys and the ZAP handler that admits producers
 * (curve.h).
 *
 * The allowed keys are held decoded, sorted and deduplicated, and looked up
 * with bsearch. Secret key material is wiped from our buffers
 * (explicit_bzero) once handed to libzmq.
 */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "err.h"
#include "errburst.h"
#include "log.h"

#define KEY_BYTES 32
#define KEY_Z85 40                       /* Z85 text of a key: 5 characters per 4 bytes */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
#define ZAP_FRAMES 7                     /* a CURVE request: 6 frames and the client key */
#define BLANKS " \t\r\n"
#define ADDR_SHOWN 45 /* a client address in the log: the longest IPv6 text */

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

typedef struct {
    uint8_t k[KEY_BYTES];
} curve_key_t;

struct curve_auth {
    void *ctrl;        /* our end of the stop signal (caller's thread) */
    char ctrl_ep[64];  /* where it is bound */
    pthread_t thread;
    /* owned by the handler thread once started */
    void *rep, *ctrl_peer;
    curve_key_t *keys; /* sorted, read-only */
    size_t nkeys;
    errburst_t refusals; /* the handler's */
    /* statistics: written by the handler, read by anyone */
    _Atomic uint64_t accepted, refused_key, refused_other;
};

static int no_curve(char *err, size_t errlen)
{
    if (zmq_has("curve"))
        return 0;
    sw_errf(err, errlen, "CurveZMQ: this libzmq was built without CURVE support "
                          "(zmq_has(\"curve\") is false); install one built with libsodium");
    return 1;
}

static void free_keys(curve_key_t *keys, size_t n)
{
    if (keys)
        explicit_bzero(keys, n * sizeof(*keys));
    free(keys);
}

/*
 * Reads the keys of `file` into *keys (the caller frees them with
 * free_keys()) and *n. With `max` > 0, a key beyond the max-th is an error.
 * On error nothing is returned and err says "FILE[:LINE]: reason".
 */
static int load_keys(const char *file, size_t max, curve_key_t **keys, size_t *n, char *err,
                     size_t errlen)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        sw_errf(err, errlen, "%s: %s", file, strerror(errno));
        return SW_EOPEN;
    }
    char *line = NULL, z[KEY_Z85 + 1];
    size_t cap = 0, nv = 0, capv = 0;
    curve_key_t *v = NULL;
    unsigned lineno = 0;
    int rc = SW_OK;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        const char *p = line + strspn(line, BLANKS);
        if (!*p || *p == '#')
            continue;
        size_t tok = strcspn(p, BLANKS), valid = strspn(p, z85_chars);
        const char *rest = p + tok + strspn(p + tok, BLANKS);
        rc = SW_EPARSE;
        if (tok != KEY_Z85) {
            sw_errf(err, errlen, "%s:%u: not a CURVE key: expected %d Z85 characters, found %zu",
                     file, lineno, KEY_Z85, tok);
            break;
        }
        if (valid < KEY_Z85) {
            sw_errf(err, errlen, "%s:%u: not a CURVE key: column %zu is not a Z85 character",
                     file, lineno, (size_t)(p - line) + valid + 1);
            break;
        }
        if (*rest && *rest != '#') {
            sw_errf(err, errlen, "%s:%u: unexpected text after the key (a comment starts with '#')",
                     file, lineno);
            break;
        }
        if (max && nv == max) {
            sw_errf(err, errlen, "%s:%u: a second key (this file holds one)", file, lineno);
            break;
        }
        if (nv == capv) {
            size_t nc = capv ? 2 * capv : 16;
            curve_key_t *nvv = calloc(nc, sizeof(*nvv));
            if (!nvv) {
                sw_errf(err, errlen, "%s: out of memory", file);
                rc = SW_ENOMEM;
                break;
            }
            if (v)
                memcpy(nvv, v, nv * sizeof(*v));
            free_keys(v, nv);
            v = nvv;
            capv = nc;
        }
        memcpy(z, p, KEY_Z85);
        z[KEY_Z85] = '\0';
        if (!zmq_z85_decode(v[nv].k, z)) {
            sw_errf(err, errlen, "%s:%u: not a CURVE key: a 5-character group is out of range",
                     file, lineno);
            break;
        }
        nv++;
        rc = SW_OK;
    }
    if (rc == SW_OK && ferror(f)) {
        sw_errf(err, errlen, "%s: %s", file, strerror(errno));
        rc = SW_EIO;
    }
    if (rc == SW_OK && nv == 0) {
        sw_errf(err, errlen, "%s: no key in the file", file);
        rc = SW_EPARSE;
    }
    explicit_bzero(z, sizeof(z));
    if (line)
        explicit_bzero(line, cap);
    free(line);
    fclose(f);
    if (rc < 0) {
        free_keys(v, nv);
        return rc;
    }
    *keys = v;
    *n = nv;
    return SW_OK;
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, KEY_BYTES);
}

/* ---- the ZAP handler (RFC 27) ---- */

static int send_frame(void *sock, const void *data, size_t len, int more)
{
    return zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

static int frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/*
 * Answers one request. A REP socket must answer every request, so even a
 * malformed one gets a reply (500). -1 when the context is terminating.
 */
static int zap_serve(curve_auth_t *a)
{
    zmq_msg_t f[ZAP_FRAMES];
    int n = 0, extra = 0, more = 1, rc = 0;
    while (more) {
        zmq_msg_t scratch, *m = n < ZAP_FRAMES ? &f[n] : &scratch;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, a->rep, 0) < 0) {
            zmq_msg_close(m);
            if (zmq_errno() == EINTR)
                continue;
            rc = -1;
            goto out;
        }
        more = zmq_msg_more(m);
        if (m == &scratch) {
            extra++;
            zmq_msg_close(m);
        } else {
            n++;
        }
    }

    const char *status = "500", *text = "malformed ZAP request";
    char user[KEY_Z85 + 1] = "", client[KEY_Z85 + 1] = "", addr[ADDR_SHOWN * 4 + 1] = "";
    if (n == ZAP_FRAMES && !extra && frame_is(&f[0], "1.0")) {
        status = "400";
        log_escape(addr, sizeof(addr), zmq_msg_data(&f[3]), zmq_msg_size(&f[3]), ADDR_SHOWN);
        if (!frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != KEY_BYTES) {
            text = "only CURVE clients are admitted";
        } else if (!bsearch(zmq_msg_data(&f[6]), a->keys, a->nkeys, sizeof(curve_key_t),
                            key_cmp)) {
            text = "client key not allowed";
            zmq_z85_encode(client, zmq_msg_data(&f[6]), KEY_BYTES); /* public: safe to log */
        } else {
            status = "200";
            text = "OK";
            zmq_z85_encode(user, zmq_msg_data(&f[6]), KEY_BYTES); /* the User-Id of its messages */
        }
    } else if (n >= 1 && !frame_is(&f[0], "1.0")) {
        text = "unsupported ZAP version";
    }
    /* relaxed: these are statistics; no other data are published with them */
    if (status[0] == '2') {
        atomic_fetch_add_explicit(&a->accepted, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(client[0] ? &a->refused_key : &a->refused_other, 1,
                                  memory_order_relaxed);
        /* a refused producer retries every reconnect interval: once per burst */
        errburst_fail(&a->refusals, errburst_now(), LOG_WARN,
                      "curve: refused a producer%s%s: %s%s%s%s", addr[0] ? " at " : "", addr, text,
                      client[0] ? " (its public key: " : "", client, client[0] ? ")" : "");
    }

    if (send_frame(a->rep, "1.0", 3, 1) < 0 ||
        send_frame(a->rep, n >= 2 ? zmq_msg_data(&f[1]) : "", n >= 2 ? zmq_msg_size(&f[1]) : 0,
                   1) < 0 ||
        send_frame(a->rep, status, 3, 1) < 0 || send_frame(a->rep, text, strlen(text), 1) < 0 ||
        send_frame(a->rep, user, strlen(user), 1) < 0 || send_frame(a->rep, "", 0, 0) < 0)
        rc = zmq_errno() == ETERM ? -1 : 0;
out:
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

static void *zap_main(void *arg)
{
    curve_auth_t *a = arg;
    zmq_pollitem_t items[2] = {
        { a->rep, 0, ZMQ_POLLIN, 0 },
        { a->ctrl_peer, 0, ZMQ_POLLIN, 0 },
    };
    for (;;) {
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break; /* ETERM: the context is going away */
        }
        if (items[1].revents & ZMQ_POLLIN)
            break; /* curve_auth_stop() */
        if ((items[0].revents & ZMQ_POLLIN) && zap_serve(a) < 0)
            break;
    }
    /* unbinding is immediate, closing is not: once curve_auth_stop() has
     * joined us, the context can have a new handler */
    zmq_unbind(a->rep, ZAP_ENDPOINT);
    zmq_close(a->rep);
    zmq_close(a->ctrl_peer);
    return NULL;
}

static void *socket_nolinger(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    int zero = 0;
    if (s)
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    return s;
}

curve_auth_t *curve_auth_start(void *zmq_ctx, const char *allowed_keys_file, char *err,
                               size_t errlen)
{
    if (no_curve(err, errlen))
        return NULL;
    if (!zmq_ctx || !allowed_keys_file) {
        sw_errf(err, errlen, "CurveZMQ: no ZeroMQ context or allowed-keys file");
        return NULL;
    }
    curve_auth_t *a = calloc(1, sizeof(*a));
    if (!a) {
        sw_errf(err, errlen, "%s: out of memory", allowed_keys_file);
        return NULL;
    }
    if (load_keys(allowed_keys_file, 0, &a->keys, &a->nkeys, err, errlen) < 0) {
        free(a);
        return NULL;
    }
    qsort(a->keys, a->nkeys, sizeof(curve_key_t), key_cmp);
    size_t u = 0;
    for (size_t i = 0; i < a->nkeys; i++)
        if (u == 0 || key_cmp(&a->keys[i], &a->keys[u - 1]) != 0)
            a->keys[u++] = a->keys[i];
    a->nkeys = u;

    snprintf(a->ctrl_ep, sizeof(a->ctrl_ep), "inproc://stormwatch-curve-stop-%p", (void *)a);
    a->rep = socket_nolinger(zmq_ctx, ZMQ_REP);
    a->ctrl = socket_nolinger(zmq_ctx, ZMQ_PAIR);
    a->ctrl_peer = socket_nolinger(zmq_ctx, ZMQ_PAIR);
    if (!a->rep || !a->ctrl || !a->ctrl_peer) {
        sw_errf(err, errlen, "CurveZMQ: cannot create sockets: %s", zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (zmq_bind(a->rep, ZAP_ENDPOINT) < 0) {
        int e = zmq_errno();
        sw_errf(err, errlen, "%s: %s%s", ZAP_ENDPOINT, zmq_strerror(e),
                 e == EADDRINUSE ? " (this context has a ZAP handler already)" : "");
        goto fail;
    }
    if (zmq_bind(a->ctrl, a->ctrl_ep) < 0 || zmq_connect(a->ctrl_peer, a->ctrl_ep) < 0) {
        sw_errf(err, errlen, "%s: %s", a->ctrl_ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* the handler takes no signals: they belong to the daemon's own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&a->thread, NULL, zap_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        sw_errf(err, errlen, "%s: cannot start the ZAP handler thread: %s", ZAP_ENDPOINT,
                 strerror(prc));
        goto fail;
    }
    return a;
fail:
    /* unbind first: a closed socket lets go of its endpoint only later */
    if (a->rep) {
        zmq_unbind(a->rep, ZAP_ENDPOINT);
        zmq_close(a->rep);
    }
    if (a->ctrl) {
        zmq_unbind(a->ctrl, a->ctrl_ep);
        zmq_close(a->ctrl);
    }
    if (a->ctrl_peer)
        zmq_close(a->ctrl_peer);
    free_keys(a->keys, a->nkeys);
    free(a);
    return NULL;
}

void curve_auth_stop(curve_auth_t *a)
{
    if (!a)
        return;
    /* fails only if the context is terminating, and then the handler has
     * seen ETERM and is leaving by itself */
    zmq_send(a->ctrl, "", 0, 0);
    pthread_join(a->thread, NULL);
    zmq_unbind(a->ctrl, a->ctrl_ep); /* at once, unlike the close: the address may be reused */
    zmq_close(a->ctrl);
    free_keys(a->keys, a->nkeys);
    free(a);
}

void curve_auth_stats(const curve_auth_t *a, curve_auth_stats_t *out)
{
    curve_auth_t *m = (curve_auth_t *)a; /* atomic loads only */
    /* relaxed: statistics, see zap_serve() */
    *out = (curve_auth_stats_t){
        .accepted = atomic_load_explicit(&m->accepted, memory_order_relaxed),
        .refused_key = atomic_load_explicit(&m->refused_key, memory_order_relaxed),
        .refused_other = atomic_load_explicit(&m->refused_other, memory_order_relaxed),
    };
}

/* ---- server keys ---- */

int curve_server_setup(void *socket, const char *secret_key_file, const char *public_key_file,
                       char *err, size_t errlen)
{
    if (no_curve(err, errlen))
        return SW_ECONFIG;
    if (!socket || !secret_key_file) {
        sw_errf(err, errlen, "CurveZMQ: no socket or secret key file");
        return SW_EINVAL;
    }
    curve_key_t *sec = NULL, *pub = NULL;
    size_t n;
    int rc = load_keys(secret_key_file, 1, &sec, &n, err, errlen);
    if (rc < 0)
        return rc;
    char sec_z85[KEY_Z85 + 1], derived_z85[KEY_Z85 + 1];
    uint8_t derived[KEY_BYTES];
    zmq_z85_encode(sec_z85, sec->k, KEY_BYTES);
    if (zmq_curve_public(derived_z85, sec_z85) < 0 || !zmq_z85_decode(derived, derived_z85)) {
        sw_errf(err, errlen, "%s: cannot derive the public key: %s", secret_key_file,
                 zmq_strerror(zmq_errno()));
        rc = SW_EPARSE;
        goto out;
    }
    if (public_key_file) {
        if ((rc = load_keys(public_key_file, 1, &pub, &n, err, errlen)) < 0)
            goto out;
        if (memcmp(pub->k, derived, KEY_BYTES) != 0) {
            sw_errf(err, errlen, "%s: not the public key of %s", public_key_file,
                     secret_key_file);
            rc = SW_EPARSE;
            goto out;
        }
    }
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, sec->k, KEY_BYTES) < 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, derived, KEY_BYTES) < 0) {
        sw_errf(err, errlen, "%s: the socket refused the CURVE options: %s", secret_key_file,
                 zmq_strerror(zmq_errno()));
        rc = SW_EINVAL;
    }
out:
    explicit_bzero(sec_z85, sizeof(sec_z85));
    free_keys(sec, 1);
    free_keys(pub, pub ? 1 : 0);
    return rc;
}

/* ---- keygen ---- */

static int write_key(int fd, const char *z85)
{
    char buf[KEY_Z85 + 1];
    memcpy(buf, z85, KEY_Z85);
    buf[KEY_Z85] = '\n';
    ssize_t w;
    do
        w = write(fd, buf, sizeof(buf));
    while (w < 0 && errno == EINTR);
    explicit_bzero(buf, sizeof(buf));
    if (w >= 0 && w != (ssize_t)sizeof(buf))
        errno = EIO; /* a short write of 41 bytes: the disk is full */
    return w == (ssize_t)sizeof(buf) && fsync(fd) == 0 ? 0 : -1;
}

int curve_keygen(const char *dir, const char *name, char *err, size_t errlen)
{
    if (!dir || !name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        sw_errf(err, errlen, "keygen: the key name \"%s\" is not a plain file name",
                 name ? name : "");
        return SW_EINVAL;
    }
    if (no_curve(err, errlen))
        return SW_ECONFIG;
    size_t len = strlen(dir) + strlen(name) + 8;
    char *kpath = malloc(len), *ppath = malloc(len);
    if (!kpath || !ppath) {
        free(kpath);
        free(ppath);
        sw_errf(err, errlen, "%s/%s: out of memory", dir, name);
        return SW_ENOMEM;
    }
    snprintf(kpath, len, "%s/%s.key", dir, name);
    snprintf(ppath, len, "%s/%s.pub", dir, name);

    char pub[KEY_Z85 + 1], sec[KEY_Z85 + 1];
    int rc = SW_EIO, kfd, pfd;
    if (zmq_curve_keypair(pub, sec) < 0) {
        sw_errf(err, errlen, "%s: cannot generate a key pair: %s", kpath, zmq_strerror(zmq_errno()));
        goto out;
    }
    kfd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (kfd < 0) {
        rc = errno == EEXIST ? SW_EEXISTS : SW_EOPEN;
        sw_errf(err, errlen, "%s: %s", kpath, strerror(errno));
        goto out;
    }
    pfd = open(ppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (pfd < 0) {
        rc = errno == EEXIST ? SW_EEXISTS : SW_EOPEN;
        sw_errf(err, errlen, "%s: %s", ppath, strerror(errno));
        close(kfd);
        unlink(kpath);
        goto out;
    }
    /* the first error wins; both descriptors are closed whatever happens */
    int ke = write_key(kfd, sec) < 0 ? errno : 0;
    if (close(kfd) < 0 && !ke)
        ke = errno;
    int pe = ke ? 0 : write_key(pfd, pub) < 0 ? errno : 0;
    if (close(pfd) < 0 && !ke && !pe)
        pe = errno;
    if (ke || pe) {
        sw_errf(err, errlen, "%s: %s", ke ? kpath : ppath, strerror(ke ? ke : pe));
        unlink(kpath);
        unlink(ppath);
    } else {
        rc = SW_OK;
    }
out:
    explicit_bzero(sec, sizeof(sec));
    free(kpath);
    free(ppath);
    return rc;
}
