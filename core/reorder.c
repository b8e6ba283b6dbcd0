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

#include "err.h"
#include "lineproto.h"
#include "vec.h"

_Static_assert(REC_MAX_ULEN == LP_MAX_ID && REC_MAX_CLEN == LP_MAX_ID,
               "a record holds the longest User and class a line may have");

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
    /* the User of the last record packed, and of the last unpacked: a
     * record of the same User as the one before it leaves its name out */
    char in_user[REC_MAX_ULEN], out_user[REC_MAX_ULEN];
    uint8_t in_ulen;
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
 * A record in the FIFO: a fixed head (PK_HEAD bytes: ts, seq, fields,
 * type, dir, ulen, clen, src and a byte saying which numbers follow and
 * how), then aux and the numbers that are not zero, 4 bytes each when
 * every one of them is a float exactly (counts are whole numbers), else 8,
 * then the key bytes: the class alone (PK_SAME_USER) when the record packed
 * before it had the same User, as a User's series mostly come together. A
 * 24-byte User's sample with a count and a short class takes 63 bytes
 * instead of 96, 39 after a sample of the same User. Lossless: a number
 * kept comes back bit for bit, one left out was +0.
 */
enum {
    PK_TS = 0, PK_SEQ = 8, PK_FIELDS = 12, PK_TYPE = 16, PK_DIR, PK_ULEN, PK_CLEN,
    PK_SRC = 20, PK_MASK = 22, PK_HEAD = 23,
};
/* PK_MASK bits: bit i for number i of rec_nums(), then these */
#define PK_AUX 0x10u    /* aux follows (8 bytes) */
#define PK_SAME_USER 0x20u /* the User is the record before's: only the class follows */
#define PK_FLOAT 0x80u  /* the numbers are floats */
#define PK_MAX (PK_HEAD + 8 + 4 * 8 + sizeof(((rec_t *)0)->key))
_Static_assert(PK_MAX <= sizeof(rec_t), "a packed record fits a rec_t");

static unsigned nonzero(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return bits != 0;
}

/*
 * Packs *rec into buf (PK_MAX bytes); returns its size. Without branches
 * on the data but one (every number a float: nearly always so): which
 * numbers a sample carries varies from one to the next, and mispredicted
 * branches cost more than the bytes saved. Every slot is written and the
 * cursor moves on only for what is kept, so buf may be written past the
 * record's end (within PK_MAX).
 */
static size_t pack(const rec_t *rec, uint32_t seq, unsigned same_user, unsigned char *buf)
{
    const double nums[4] = { rec->count, rec->delivered, rec->rejected, rec->backlog };
    unsigned mask = 0, exact = 1;
    for (unsigned i = 0; i < 4; i++) {
        unsigned nz = nonzero(nums[i]);
        mask |= nz << i;
        exact &= !nz | ((double)(float)nums[i] == nums[i]);
    }
    unsigned has_aux = rec->aux != 0;
    mask |= (exact ? PK_FLOAT : 0) | (has_aux ? PK_AUX : 0) | (same_user ? PK_SAME_USER : 0);
    memcpy(buf + PK_TS, &rec->ts, 8);
    memcpy(buf + PK_SEQ, &seq, 4);
    memcpy(buf + PK_FIELDS, &rec->fields, 4);
    buf[PK_TYPE] = rec->type;
    buf[PK_DIR] = rec->dir;
    buf[PK_ULEN] = rec->ulen;
    buf[PK_CLEN] = rec->clen;
    memcpy(buf + PK_SRC, &rec->src, 2);
    buf[PK_MASK] = (unsigned char)mask;
    size_t n = PK_HEAD;
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
    /* the whole key array (or the class's longest), a fixed size: moves
     * the compiler unrolls, not a string instruction of a run-time length
     * (which costs more than the rest of the record together) */
    if (same_user) {
        memcpy(buf + n, rec->key + rec->ulen, REC_MAX_CLEN);
        return n + rec->clen;
    }
    memcpy(buf + n, rec->key, sizeof(rec->key));
    return n + rec->ulen + rec->clen;
}

/* The size of a packed record from its head. */
static size_t packed_size(const unsigned char *head)
{
    unsigned mask = head[PK_MASK];
    unsigned nnums = (unsigned)__builtin_popcount(mask & 0xfu);
    return PK_HEAD + (mask & PK_AUX ? 8 : 0) + nnums * (mask & PK_FLOAT ? 4u : 8u) +
           (mask & PK_SAME_USER ? 0 : head[PK_ULEN]) + head[PK_CLEN];
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
 * bytes set); returns its size. Like pack(), without branches on which
 * numbers are there: it reads every slot and keeps what the mask says, so
 * it may read past the record's end (within PK_MAX; what it reads there
 * is dropped). `user` is the User of the record unpacked before, and
 * becomes this one's.
 */
static size_t unpack(const unsigned char *buf, char user[REC_MAX_ULEN], rec_t *out)
{
    unsigned mask = buf[PK_MASK], has_aux = (mask & PK_AUX) != 0;
    memcpy(&out->ts, buf + PK_TS, 8);
    memcpy(&out->seq, buf + PK_SEQ, 4);
    memcpy(&out->fields, buf + PK_FIELDS, 4);
    out->type = buf[PK_TYPE];
    out->dir = buf[PK_DIR];
    out->ulen = buf[PK_ULEN];
    out->clen = buf[PK_CLEN];
    memcpy(&out->src, buf + PK_SRC, 2);
    size_t n = PK_HEAD;
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
    if (mask & PK_SAME_USER) { /* fixed sizes, as in pack() */
        memcpy(out->key, user, REC_MAX_ULEN);
        memcpy(out->key + out->ulen, buf + n, REC_MAX_CLEN);
        return n + out->clen;
    }
    memcpy(out->key, buf + n, sizeof(out->key));
    memcpy(user, out->key, REC_MAX_ULEN);
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
        unsigned same = in->ulen == r->in_ulen && memcmp(in->key, r->in_user, in->ulen) == 0;
        if (!same) {
            memcpy(r->in_user, in->key, REC_MAX_ULEN);
            r->in_ulen = in->ulen;
        }
        size_t at = r->fifo_head + r->fifo_used, n;
        if (at >= r->fifo_cap)
            at -= r->fifo_cap;
        if (at + PK_MAX <= r->fifo_cap) { /* the common case: packed in place */
            n = pack(in, seq, same, r->fifo + at);
        } else {
            unsigned char buf[PK_MAX];
            n = pack(in, seq, same, buf);
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
        ring_get(r, r->fifo_head + PK_TS, &front.ts, sizeof(front.ts));
        ring_get(r, r->fifo_head + PK_SEQ, &front.seq, sizeof(front.seq));
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
            n = unpack(r->fifo + r->fifo_head, r->out_user, out);
        } else {
            unsigned char buf[PK_MAX];
            ring_get(r, r->fifo_head, buf, PK_HEAD);
            size_t len = packed_size(buf);
            ring_get(r, r->fifo_head + PK_HEAD, buf + PK_HEAD, len - PK_HEAD);
            n = unpack(buf, r->out_user, out);
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
