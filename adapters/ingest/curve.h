/*
 * curve.h - optional CurveZMQ on the ingest sockets: traffic is encrypted,
 * and only producers whose public key is on an allowed list can feed the
 * daemon.
 *
 * The server's key pair comes from two files and the allowed producers'
 * public keys from a third. Keys are Z85 text (40 characters for 32 bytes),
 * as zmq_curve_keypair() writes them and curve_keygen() saves them. In every
 * key file a line holds one key, optionally followed by blanks and a '#'
 * comment; blank lines and lines starting with '#' are skipped (a Z85 key
 * never starts with '#': its first character encodes at most 0xffffffff /
 * 85^4, which is '%'). A key file of the server holds exactly one key.
 * Anything else is an error naming the file and line, never quoting the
 * line (it may be a secret).
 *
 * Authorisation is the ZeroMQ Authentication Protocol (ZAP, RFC 27): a
 * handler thread answers the context's handshakes on
 * inproc://zeromq.zap.01, 200 for an allowed key and 400 for any other key
 * or mechanism. One handler serves a whole context: every CURVE server
 * socket of it is checked against the same list.
 *
 * Order matters, because libzmq accepts every client key when no ZAP handler
 * is bound: curve_auth_start() before the first curve_server_setup() socket
 * binds, and curve_auth_stop() only after those sockets are closed (and
 * before zmq_ctx_term()).
 *
 * Every handshake the handler answers is counted (curve_auth_stats()):
 * admitted, refused for a key not on the list, refused for anything else
 * (another mechanism, a malformed request). Refusals are logged once per
 * burst (errburst.h), naming the client's address and its public key, so
 * an operator sees a producer knocking with the wrong key without a line
 * per retry. A client without CURVE at all is turned away by libzmq's
 * handshake before any ZAP request, so it is not counted here.
 *
 * DESIGN: the handler thread owns its two sockets, the key list (read-only
 * once the thread starts: pthread_create orders the writes before it) and
 * its log burst. The only shared data are the counters, atomics written by
 * the handler and read by anyone. curve_auth_stop() wakes the handler
 * through an inproc PAIR socket and joins it; the handler waits on nothing
 * else.
 */
#ifndef SW_CURVE_H
#define SW_CURVE_H

#include <stddef.h>
#include <stdint.h>

typedef struct curve_auth curve_auth_t;

/*
 * Loads the allowed producer keys from `allowed_keys_file` (at least one)
 * and starts the ZAP handler on `zmq_ctx`. Returns NULL with a message in
 * err: "FILE:LINE: reason" for a bad key, "FILE: reason" for an unreadable
 * or empty file, the endpoint for a context that already has a handler, or
 * that this libzmq has no CURVE. Stop it with curve_auth_stop().
 */
curve_auth_t *curve_auth_start(void *zmq_ctx, const char *allowed_keys_file, char *err,
                               size_t errlen);

/* Stops the handler thread, closes its sockets and frees everything.
 * curve_auth_stop(NULL) is a no-op. */
void curve_auth_stop(curve_auth_t *a);

typedef struct {
    uint64_t accepted;      /* handshakes admitted: a key on the list */
    uint64_t refused_key;   /* CURVE handshakes with a key not on the list */
    uint64_t refused_other; /* other mechanisms, malformed or unsupported requests */
} curve_auth_stats_t;

/* The counters so far; any thread. */
void curve_auth_stats(const curve_auth_t *a, curve_auth_stats_t *out);

/*
 * Makes `socket` a CURVE server with the key pair from `secret_key_file` and
 * `public_key_file` (NULL: derived from the secret key). Call it before
 * bind/connect. The public key must belong to the secret key. Returns 0, or
 * SW_ECONFIG (no CURVE in libzmq), SW_EOPEN (a file that cannot be opened),
 * SW_EIO (a read error), SW_EPARSE (bad
 * key, mismatched pair) or SW_EINVAL (socket refused the options), with
 * "FILE[:LINE]: reason" in err. On error the socket may have some options set
 * and should be closed.
 */
int curve_server_setup(void *socket, const char *secret_key_file, const char *public_key_file,
                       char *err, size_t errlen);

/*
 * Generates a key pair and saves it as DIR/NAME.key (the secret, mode 0600)
 * and DIR/NAME.pub, each one Z85 key and a newline. Never overwrites: an
 * existing file is SW_EEXISTS and nothing is written. 0, or SW_EINVAL (bad
 * name), SW_EEXISTS, SW_EOPEN (a file that cannot be created), SW_EIO (a
 * write error) or SW_ECONFIG with the path in err.
 */
int curve_keygen(const char *dir, const char *name, char *err, size_t errlen);

#endif
