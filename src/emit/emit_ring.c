/* emit_ring.c - bounded MPSC byte ring for log records.
 *
 * DESIGN
 * Producers serialize on a mutex only to reserve space and memcpy an already
 * formatted record (a few hundred bytes to a few KiB); formatting happens
 * before, outside the lock, and no I/O ever happens under it. The consumer
 * (the writer thread) never takes the lock: it reads records between its tail
 * and the published head, which producers never touch, and frees space by a
 * release-store of the tail. A record never wraps: when it does not fit before
 * the end of the buffer, a PAD record fills the rest and the record starts at
 * offset 0. A full ring refuses the record (OSH_EFULL): producers never wait.
 * The consumer may also walk several records with a private cursor
 * (osh_emit_ring_next) and free them all at once (osh_emit_ring_release_to):
 * until then the records are its own, so it can hand their bytes to writev()
 * and even write into them (the writer fills in each line's timestamp).
 */
#include "emit_internal.h"

#include <stdlib.h>
#include <string.h>

#define REC_ALIGN 8u
#define RING_MIN  ((size_t)65536)

static size_t align_up(size_t n)
{
	return (n + REC_ALIGN - 1) & ~(size_t)(REC_ALIGN - 1);
}

int osh_emit_ring_init(struct osh_emit_ring *r, size_t cap)
{
	size_t c = RING_MIN;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	while (c < cap && c < ((size_t)1 << 40))
		c <<= 1;
	r->buf = aligned_alloc(64, c);
	if (r->buf == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	r->cap = c;
	pthread_mutex_init(&r->mu, NULL);
	atomic_init(&r->pub_head, 0);
	atomic_init(&r->tail, 0);
out:
	return rc;
}

void osh_emit_ring_fini(struct osh_emit_ring *r)
{
	if (r->buf != NULL) {
		free(r->buf);
		pthread_mutex_destroy(&r->mu);
	}
	r->buf = NULL;
}

int osh_emit_ring_put(struct osh_emit_ring *r, struct osh_emit_rec *h,
		      struct osh_emit_piece *pieces, size_t n_pieces,
		      void (*gate)(struct osh_emit_rec *h, struct osh_emit_piece *pieces,
				   void *arg),
		      void *gate_arg, uint64_t *committed_head)
{
	size_t payload = 0, need, pos, room_end, total;
	uint64_t tail;
	unsigned char *dst;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (gate != NULL)
		gate(h, pieces, gate_arg);
	for (size_t i = 0; i < n_pieces; i++)
		payload += pieces[i].n;
	need = align_up(sizeof(*h) + payload);
	if (need > r->cap / 2) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	pos = (size_t)(r->head & (r->cap - 1));
	room_end = r->cap - pos;
	total = need <= room_end ? need : room_end + need;
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (r->head + total - tail > r->cap) {
		rc = OSH_EFULL;
		goto out;
	}
	if (need > room_end) {
		struct osh_emit_rec pad = {.len = (uint32_t)room_end, .kind = OSH_REC_PAD};

		/* room_end >= 8 (alignment); a PAD header may be cut short. */
		memcpy(r->buf + pos, &pad, room_end < sizeof(pad) ? room_end : sizeof(pad));
		pos = 0;
	}
	h->len = (uint32_t)need;
	dst = r->buf + pos;
	memcpy(dst, h, sizeof(*h));
	dst += sizeof(*h);
	for (size_t i = 0; i < n_pieces; i++) {
		/* A piece without bytes (p NULL) only reserves room. */
		if (pieces[i].n > 0 && pieces[i].p != NULL)
			memcpy(dst, pieces[i].p, pieces[i].n);
		dst += pieces[i].n;
	}
	r->head += total;
	atomic_store_explicit(&r->pub_head, r->head, memory_order_seq_cst);
	if (committed_head != NULL)
		*committed_head = r->head;
out:
	pthread_mutex_unlock(&r->mu);
	return rc;
}

const struct osh_emit_rec *osh_emit_ring_peek(struct osh_emit_ring *r)
{
	const struct osh_emit_rec *rec = NULL;
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->pub_head, memory_order_acquire);

	while (tail < head) {
		size_t pos = (size_t)(tail & (r->cap - 1));
		size_t room_end = r->cap - pos;
		const struct osh_emit_rec *cand = (const struct osh_emit_rec *)(r->buf + pos);

		/* A PAD record (possibly with a cut header when < 32 bytes remain
		 * before the end) skips to offset 0. */
		if (room_end < sizeof(struct osh_emit_rec) || cand->kind == OSH_REC_PAD) {
			tail += room_end;
			atomic_store_explicit(&r->tail, tail, memory_order_release);
			continue;
		}
		rec = cand;
		break;
	}
	return rec;
}

struct osh_emit_rec *osh_emit_ring_next(struct osh_emit_ring *r, uint64_t *pos)
{
	struct osh_emit_rec *rec = NULL;
	uint64_t at = *pos;
	uint64_t head = atomic_load_explicit(&r->pub_head, memory_order_acquire);

	while (at < head) {
		size_t off = (size_t)(at & (r->cap - 1));
		size_t room_end = r->cap - off;
		struct osh_emit_rec *cand = (struct osh_emit_rec *)(void *)(r->buf + off);

		if (room_end < sizeof(struct osh_emit_rec) || cand->kind == OSH_REC_PAD) {
			at += room_end;
			continue;
		}
		rec = cand;
		at += cand->len;
		break;
	}
	/* Past trailing PADs too, so releasing up to *pos frees them. */
	*pos = at;
	return rec;
}

void osh_emit_ring_release_to(struct osh_emit_ring *r, uint64_t pos)
{
	atomic_store_explicit(&r->tail, pos, memory_order_release);
}

uint64_t osh_emit_ring_tail(struct osh_emit_ring *r)
{
	return atomic_load_explicit(&r->tail, memory_order_relaxed);
}

void osh_emit_ring_release(struct osh_emit_ring *r, const struct osh_emit_rec *rec)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_store_explicit(&r->tail, tail + rec->len, memory_order_release);
}
