/*
 * reorder.c - event-time reordering with a FIFO fast path and a heap for
 * the stragglers (reorder.h).
 *
 * The FIFO holds input.lateness of the whole feed (30 s of every series),
 * so it is most of the daemon's memory after the series themselves: its
 * records are packed (pack(): what a record carries, about a third of a
 * rec_t, less the User's name when the record before had the same), in a
 * byte ring whose records may wrap around its end, grown by half.
 */
#include "reorder.h"

#include <stdlib.h>
#include <string.h>

#include "dir.h"
#include "err.h"
#include "hash.h"
#include "lineproto.h"
#include "vec.h"

_Static_assert(REC_MAX_ULEN == LP_MAX_ID && REC_MAX_CLEN == LP_MAX_ID,
               "a record holds the longest User and class a line may have");

/* What a packed record may leave out: the record before it in the FIFO's
 * User, time, sequence and source. The writer keeps the last it packed,
 * the reader the last it unpacked; records leave the FIFO in the order
 * they entered, so the two agree record by record. */
typedef struct {
    int64_t ts;
    uint32_t seq;
    uint16_t src;
    uint8_t ulen;
    uint8_t have;              /* a record has been packed (the writer's) */
    char user[REC_MAX_ULEN];
} pk_last_t;

struct reorder {
    int64_t lateness;
    int64_t max_ts;      /* newest event time offered */
    int64_t clock;       /* the time lateness is judged from: max_ts unless set */
    int64_t released_ts; /* newest event time released */
    uint32_t seq;
    /* FIFO of in-order records, packed (packed_size()) in a byte ring */
    unsigned char *fifo;
    size_t fifo_head, fifo_used, fifo_cap; /* bytes */
    size_t fifo_n;                         /* records */
    /* the last record packed, and the last unpacked: a record leaves out
     * what the one before it in the FIFO already says (pack()) */
    pk_last_t in, out;
    /* min-heap of out-of-order records, by (ts, seq) */
    rec_t *heap;
    size_t heap_n, heap_cap;
};

reorder_t *reorder_create(int64_t lateness_ns)
{
    reorder_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->lateness = lateness_ns;
    r->max_ts = r->released_ts = r->clock = INT64_MIN;
    return r;
}

void reorder_destroy(reorder_t *r)
{
    if (!r)
        return;
    free(r->fifo);
    free(r->heap);
    free(r);
}

static int rec_before(const rec_t *a, const rec_t *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts;
    return (int32_t)(a->seq - b->seq) < 0;
}

/*
 * A record in the FIFO: a head of PK_HEAD bytes (a byte saying what
 * follows, the fields, the type and direction, the class's length), then
 * what the record before it in the FIFO does not already say: the User's
 * length (unless PK_SAME_USER), its time, sequence and source (unless
 * PK_SAME_TS: the same time and source, the next sequence, as a User's
 * series and a round's Users mostly come), aux, the numbers that are not
 * zero (4 bytes each when every one of them is a float exactly: counts are
 * whole numbers; else 8), and the key: the class alone after a record of
 * the same User. A 24-byte User's sample with a count and a short class
 * takes 52 bytes instead of 96, 20 after a sample of the same User at the
 * same time. Lossless: a number kept comes back bit for bit, one left out
 * was +0, and what a record leaves out is the record before's.
 */
enum { PK_MASK = 0, PK_FIELDS, PK_TYPE_DIR, PK_CLEN, PK_HEAD };
/* PK_MASK bits: bit i for number i of rec_nums(), then these */
#define PK_AUX 0x10u       /* aux follows (8 bytes) */
#define PK_SAME_USER 0x20u /* the User is the record before's: only the class follows */
#define PK_SAME_TS 0x40u   /* time and source the record before's, sequence the next */
#define PK_FLOAT 0x80u     /* the numbers are floats */
#define PK_TIME 14         /* ts, seq and src, when they follow */
#define PK_MAX (PK_HEAD + 1 + PK_TIME + 8 + 4 * 8 + sizeof(((rec_t *)0)->key))
_Static_assert(PK_MAX <= sizeof(rec_t), "a packed record fits a rec_t");
_Static_assert((LP_F_COUNT | LP_F_DELIVERED | LP_F_REJECTED | LP_F_BACKLOG) <= 0xff,
               "a record's fields fit a byte");
_Static_assert(REC_ACCEPT < 16 && DIR_NORTH < 16, "a type and a direction share a byte");

static unsigned nonzero(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits != 0;
}

/* Whether a record of time ts, sequence seq and source src may leave them
 * out after the record `last` (PK_SAME_TS). */
static unsigned same_time(const pk_last_t *last, int64_t ts, uint32_t seq, uint16_t src)
{
    return last->have && ts == last->ts && seq == last->seq + 1 && src == last->src;
}

/*
 * Packs *rec into buf (PK_MAX bytes) after the record `last`, which then
 * becomes it; returns its size. Without branches on the data but one
 * (every number a float: nearly always so): which numbers a sample carries
 * varies from one to the next, and mispredicted branches cost more than
 * the bytes saved. Every slot is written and the cursor moves on only for
 * what is kept, so buf may be written past the record's end (within
 * PK_MAX).
 */
static size_t pack(const rec_t *rec, uint32_t seq, pk_last_t *last, unsigned char *buf)
{
    const double nums[4] = { rec->count, rec->delivered, rec->rejected, rec->backlog };
    unsigned mask = 0, exact = 1;
    for (unsigned i = 0; i < 4; i++) {
        unsigned nz = nonzero(nums[i]);
        mask |= nz << i;
        exact &= !nz | ((double)(float)nums[i] == nums[i]);
    }
    unsigned same_user = last->have && rec->ulen == last->ulen &&
                         sw_memeq(rec->key, last->user, rec->ulen);
    unsigned same_ts = same_time(last, rec->ts, seq, rec->src);
    unsigned has_aux = rec->aux != 0;
    mask |= (exact ? PK_FLOAT : 0) | (has_aux ? PK_AUX : 0) | (same_user ? PK_SAME_USER : 0) |
            (same_ts ? PK_SAME_TS : 0);
    buf[PK_MASK] = (unsigned char)mask;
    buf[PK_FIELDS] = (unsigned char)rec->fields;
    buf[PK_TYPE_DIR] = (unsigned char)(rec->type | rec->dir << 4);
    buf[PK_CLEN] = rec->clen;
    size_t n = PK_HEAD;
    buf[n] = rec->ulen;
    n += !same_user;
    memcpy(buf + n, &rec->ts, 8);
    memcpy(buf + n + 8, &seq, 4);
    memcpy(buf + n + 12, &rec->src, 2);
    n += !same_ts * PK_TIME;
    memcpy(buf + n, &rec->aux, 8);
    n += has_aux * 8;
    if (exact) {
        for (unsigned i = 0; i < 4; i++) {
            float f = (float)nums[i];
            memcpy(buf + n, &f, 4);
            n += ((mask >> i) & 1u) * 4;
        }
    } else {
        for (unsigned i = 0; i < 4; i++) {
            memcpy(buf + n, &nums[i], 8);
            n += ((mask >> i) & 1u) * 8;
        }
    }
    last->have = 1;
    last->ts = rec->ts;
    last->seq = seq;
    last->src = rec->src;
    /* the whole key array (or the class's longest), a fixed size: moves
     * the compiler unrolls, not a string instruction of a run-time length
     * (which costs more than the rest of the record together) */
    if (same_user) {
        memcpy(buf + n, rec->key + rec->ulen, REC_MAX_CLEN);
        return n + rec->clen;
    }
    memcpy(last->user, rec->key, REC_MAX_ULEN);
    last->ulen = rec->ulen;
    memcpy(buf + n, rec->key, sizeof(rec->key));
    return n + rec->ulen + rec->clen;
}

/* The size of a packed record from its first PK_HEAD + 1 bytes. */
static size_t packed_size(const unsigned char *head)
{
    unsigned mask = head[PK_MASK];
    unsigned nnums = (unsigned)__builtin_popcount(mask & 0xfu);
    return PK_HEAD + (mask & PK_SAME_USER ? 0 : 1u + head[PK_HEAD]) +
           (mask & PK_SAME_TS ? 0 : PK_TIME) + (mask & PK_AUX ? 8 : 0) +
           nnums * (mask & PK_FLOAT ? 4u : 8u) + head[PK_CLEN];
}

/* The time and sequence of the packed record at buf, the record `last`
 * before it: what orders it, without unpacking it. */
static void packed_time(const unsigned char *buf, const pk_last_t *last, int64_t *ts,
                        uint32_t *seq)
{
    unsigned mask = buf[PK_MASK];
    if (mask & PK_SAME_TS) {
        *ts = last->ts;
        *seq = last->seq + 1;
        return;
    }
    size_t at = PK_HEAD + (mask & PK_SAME_USER ? 0 : 1);
    memcpy(ts, buf + at, 8);
    memcpy(seq, buf + at + 8, 4);
}

/* v if `keep`, else +0, without a branch. */
static double kept(double v, unsigned keep)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    bits &= -(uint64_t)keep;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

/*
 * Unpacks the record in buf into *out (every field but the key's unused
 * bytes set) after the record `last`, which then becomes it; returns its
 * size. Like pack(), without branches on which numbers are there: it
 * reads every slot and keeps what the mask says, so it may read past the
 * record's end (within PK_MAX; what it reads there is dropped).
 */
static size_t unpack(const unsigned char *buf, pk_last_t *last, rec_t *out)
{
    unsigned mask = buf[PK_MASK], has_aux = (mask & PK_AUX) != 0;
    unsigned same_user = (mask & PK_SAME_USER) != 0, same_ts = (mask & PK_SAME_TS) != 0;
    out->fields = buf[PK_FIELDS];
    out->type = buf[PK_TYPE_DIR] & 0xfu;
    out->dir = buf[PK_TYPE_DIR] >> 4;
    out->clen = buf[PK_CLEN];
    size_t n = PK_HEAD;
    out->ulen = same_user ? last->ulen : buf[n];
    n += !same_user;
    if (same_ts) {
        out->ts = last->ts;
        out->seq = last->seq + 1;
        out->src = last->src;
    } else {
        memcpy(&out->ts, buf + n, 8);
        memcpy(&out->seq, buf + n + 8, 4);
        memcpy(&out->src, buf + n + 12, 2);
        n += PK_TIME;
    }
    last->ts = out->ts;
    last->seq = out->seq;
    last->src = out->src;
    int64_t aux;
    memcpy(&aux, buf + n, 8);
    out->aux = aux & -(int64_t)has_aux;
    n += has_aux * 8;
    double nums[4];
    if (mask & PK_FLOAT) {
        for (unsigned i = 0; i < 4; i++) {
            unsigned bit = (mask >> i) & 1u;
            float f;
            memcpy(&f, buf + n, 4);
            nums[i] = kept(f, bit);
            n += bit * 4;
        }
    } else {
        for (unsigned i = 0; i < 4; i++) {
            unsigned bit = (mask >> i) & 1u;
            double d;
            memcpy(&d, buf + n, 8);
            nums[i] = kept(d, bit);
            n += bit * 8;
        }
    }
    out->count = nums[0];
    out->delivered = nums[1];
    out->rejected = nums[2];
    out->backlog = nums[3];
    if (same_user) { /* fixed sizes, as in pack() */
        memcpy(out->key, last->user, REC_MAX_ULEN);
        memcpy(out->key + out->ulen, buf + n, REC_MAX_CLEN);
        return n + out->clen;
    }
    memcpy(out->key, buf + n, sizeof(out->key));
    memcpy(last->user, out->key, REC_MAX_ULEN);
    last->ulen = out->ulen;
    return n + out->ulen + out->clen;
}

/* Copies n bytes into the ring at offset `at`, wrapping at its end. */
static inline void ring_put(reorder_t *r, size_t at, const void *src, size_t n)
{
    if (at >= r->fifo_cap) /* offsets come in below twice the capacity */
        at -= r->fifo_cap;
    if (at + n <= r->fifo_cap) { /* the common case: no wrap */
        memcpy(r->fifo + at, src, n);
        return;
    }
    size_t first = r->fifo_cap - at;
    memcpy(r->fifo + at, src, first);
    memcpy(r->fifo, (const unsigned char *)src + first, n - first);
}

/* Copies n bytes out of the ring from offset `at`, wrapping at its end. */
static inline void ring_get(const reorder_t *r, size_t at, void *dst, size_t n)
{
    if (at >= r->fifo_cap)
        at -= r->fifo_cap;
    if (at + n <= r->fifo_cap) {
        memcpy(dst, r->fifo + at, n);
        return;
    }
    size_t first = r->fifo_cap - at;
    memcpy(dst, r->fifo + at, first);
    memcpy((unsigned char *)dst + first, r->fifo, n - first);
}

/* Room for `need` more bytes: the ring grows by half, its bytes in order
 * from 0. By half, not double: a ring's head goes round its whole
 * capacity, so every byte of it ends up resident, and the FIFO is the
 * daemon's largest buffer after the series. */
static int fifo_reserve(reorder_t *r, size_t need)
{
    if (r->fifo_cap - r->fifo_used >= need)
        return SW_OK;
    size_t cap = r->fifo_cap ? r->fifo_cap : 64 * 1024;
    while (cap - r->fifo_used < need) {
        if (cap > SIZE_MAX / 4)
            return SW_ENOMEM;
        cap += cap / 2;
    }
    unsigned char *v = malloc(cap);
    if (!v)
        return SW_ENOMEM;
    if (r->fifo_used)
        ring_get(r, r->fifo_head, v, r->fifo_used);
    free(r->fifo);
    r->fifo = v;
    r->fifo_cap = cap;
    r->fifo_head = 0;
    return SW_OK;
}

static int heap_push(reorder_t *r, const rec_t *rec)
{
    if (VEC_RESERVE(r->heap, r->heap_cap, r->heap_n + 1, 256) < 0)
        return SW_ENOMEM;
    size_t i = r->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!rec_before(rec, &r->heap[parent]))
            break;
        r->heap[i] = r->heap[parent];
        i = parent;
    }
    r->heap[i] = *rec;
    return SW_OK;
}

static void heap_pop(reorder_t *r, rec_t *out)
{
    *out = r->heap[0];
    rec_t last = r->heap[--r->heap_n];
    size_t i = 0, n = r->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && rec_before(&r->heap[c + 1], &r->heap[c]))
            c++;
        if (!rec_before(&r->heap[c], &last))
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (n)
        r->heap[i] = last;
}

int reorder_push(reorder_t *r, const rec_t *in)
{
    if (r->released_ts != INT64_MIN && in->ts < r->released_ts)
        return 1;
    int64_t now = r->clock != INT64_MIN ? r->clock : r->max_ts;
    if (now != INT64_MIN && in->ts < now - r->lateness)
        return 1;
    uint32_t seq = r->seq++;
    if (in->ts >= r->max_ts) { /* packed straight from the caller's record */
        if (fifo_reserve(r, PK_MAX) < 0)
            return SW_ENOMEM;
        size_t at = r->fifo_head + r->fifo_used, n;
        if (at >= r->fifo_cap)
            at -= r->fifo_cap;
        if (at + PK_MAX <= r->fifo_cap) { /* the common case: packed in place */
            n = pack(in, seq, &r->in, r->fifo + at);
        } else {
            unsigned char buf[PK_MAX];
            n = pack(in, seq, &r->in, buf);
            ring_put(r, at, buf, n);
        }
        r->fifo_used += n;
        r->fifo_n++;
        r->max_ts = in->ts;
        return 0;
    }
    rec_t rec = *in;
    rec.seq = seq;
    return heap_push(r, &rec);
}

int reorder_push_control(reorder_t *r, const rec_t *in)
{
    rec_t rec = *in;
    if (r->released_ts != INT64_MIN && rec.ts < r->released_ts)
        rec.ts = r->released_ts;
    rec.seq = r->seq++;
    return heap_push(r, &rec); /* the heap takes any order; the FIFO stays sorted */
}

int reorder_pop(reorder_t *r, rec_t *out, int drain)
{
    /* the FIFO's first record: what orders it (ts, seq) to peek, the rest
     * once it is taken */
    rec_t front;
    const rec_t *f = NULL;
    if (r->fifo_n) {
        if (r->fifo_head + PK_MAX <= r->fifo_cap) { /* the common case: read in place */
            packed_time(r->fifo + r->fifo_head, &r->out, &front.ts, &front.seq);
        } else {
            unsigned char head[PK_HEAD + 1 + PK_TIME];
            ring_get(r, r->fifo_head, head, sizeof(head)); /* may read past it: dropped */
            packed_time(head, &r->out, &front.ts, &front.seq);
        }
        f = &front;
    }
    const rec_t *h = r->heap_n ? &r->heap[0] : NULL;
    const rec_t *next = f && (!h || rec_before(f, h)) ? f : h;
    if (!next)
        return 0;
    int64_t now = r->clock != INT64_MIN ? r->clock : r->max_ts;
    if (!drain && next->ts >= now - r->lateness)
        return 0;
    if (next == f) {
        size_t n;
        if (r->fifo_head + PK_MAX <= r->fifo_cap) { /* the common case: read in place */
            n = unpack(r->fifo + r->fifo_head, &r->out, out);
        } else {
            unsigned char buf[PK_MAX];
            ring_get(r, r->fifo_head, buf, PK_HEAD + 1); /* may read past it: dropped */
            size_t len = packed_size(buf);
            if (len > PK_HEAD + 1)
                ring_get(r, r->fifo_head + PK_HEAD + 1, buf + PK_HEAD + 1, len - PK_HEAD - 1);
            n = unpack(buf, &r->out, out);
        }
        r->fifo_head += n;
        if (r->fifo_head >= r->fifo_cap)
            r->fifo_head -= r->fifo_cap;
        r->fifo_used -= n;
        r->fifo_n--;
    } else {
        heap_pop(r, out);
    }
    r->released_ts = out->ts;
    return 1;
}

void reorder_set_clock(reorder_t *r, int64_t ts)
{
    r->clock = ts;
}

int64_t reorder_released_ts(const reorder_t *r)
{
    return r->released_ts;
}

int64_t reorder_max_ts(const reorder_t *r)
{
    return r->max_ts;
}

size_t reorder_depth(const reorder_t *r)
{
    return r->fifo_n + r->heap_n;
}

size_t reorder_fifo_bytes(const reorder_t *r)
{
    return r->fifo_used;
}

size_t reorder_bytes(const reorder_t *r)
{
    return r->fifo_cap + r->heap_cap * sizeof(rec_t);
}
