/* ocsf_arena.c - per-event arena and the entry points generated code calls.
 *
 * DESIGN
 * One bump allocator per event, 16-byte aligned, over storage the event
 * owns (its embedded buffer) or the caller lent (ocsf_event_use_buffer).
 * The tail of that storage is kept back as a scratch area:
 *   [ allocations ... | object scratch (max object size) | element scratch ]
 * Failure is sticky: the first exhaustion or depth error is recorded in the
 * arena and every later accessor returns scratch at once, re-zeroed and with
 * its header re-stamped, so a log site can keep calling setters and
 * accessors on whatever it got back without a NULL check and without harm.
 * Element slots of scalar arrays get their own small scratch so that a
 * caller writing an element can never overwrite the header of a scratch
 * object it still holds. Nothing here calls malloc.
 *
 * init does not clear the arena buffer (16 KiB): allocations are zeroed when
 * handed out, which keeps event set-up cheap on the emit path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ocsf.h"
#include "osh_err.h"

#define ALIGN	     16u
#define ELEM_SCRATCH 64u

static size_t align_up(size_t n)
{
	return (n + (ALIGN - 1)) & ~(size_t)(ALIGN - 1);
}

static void record(struct ocsf_arena *a, int err, const char *what)
{
	if (!a->err) {
		a->err = err;
		a->err_what = what;
	}
}

/* Lay out `len` bytes at `base` as allocations + scratch. */
static int arena_setup(struct ocsf_arena *a, void *base, size_t len)
{
	uintptr_t b = (uintptr_t)base;
	uintptr_t ab = (b + (ALIGN - 1)) & ~(uintptr_t)(ALIGN - 1);
	size_t scratch = align_up(ocsf_object_size_max()) + ELEM_SCRATCH;

	if (!base || len < (size_t)(ab - b) + scratch + ALIGN)
		return OSH_EINVAL;
	len -= (size_t)(ab - b);
	a->base = (unsigned char *)ab;
	a->cap = (len - scratch) & ~(size_t)(ALIGN - 1);
	a->used = 0;
	a->err = 0;
	a->err_what = NULL;
	a->scratch = a->base + a->cap;
	a->scratch_size = scratch;
	return 0;
}

void ocsf_event_init(struct ocsf_event *ev, size_t size, const struct ocsf_class *cls)
{
	/* Clear the header and the class members, not the arena buffer. */
	memset(ev, 0, offsetof(struct ocsf_event, buf));
	if (size > sizeof(*ev))
		memset((unsigned char *)ev + sizeof(*ev), 0, size - sizeof(*ev));
	ev->cls = cls;
	ev->hdr.arena = &ev->arena;
	ev->hdr.desc = cls ? cls->object : NULL;
	ev->hdr.depth = 0;
	if (arena_setup(&ev->arena, ev->buf, sizeof(ev->buf)) != 0) {
		/* Only possible if the generated max object size outgrows the
		 * embedded buffer; then every allocation fails cleanly. */
		ev->arena.base = ev->buf;
		ev->arena.cap = 0;
		ev->arena.used = 0;
		ev->arena.scratch = ev->buf;
		ev->arena.scratch_size = sizeof(ev->buf);
		record(&ev->arena, OSH_ENOMEM, "event arena smaller than the largest object");
	}
}

int ocsf_event_use_buffer(struct ocsf_event *ev, void *buf, size_t len)
{
	struct ocsf_arena tmp;
	int rc = OSH_EINVAL;

	if (!ev || ev->arena.used != 0 || ev->arena.err)
		goto out;
	rc = arena_setup(&tmp, buf, len);
	if (rc)
		goto out;
	ev->arena = tmp;
out:
	return rc;
}

/* Bump allocation; NULL (nothing recorded) when it does not fit. */
static void *take(struct ocsf_arena *a, size_t size)
{
	size_t n = align_up(size ? size : 1);
	if (a->err || n > a->cap - a->used)
		return NULL;
	void *p = a->base + a->used;
	a->used += n;
	return p;
}

static void *scratch_object(struct ocsf_arena *a, const struct ocsf_object *desc, uint16_t depth)
{
	size_t n = a->scratch_size - ELEM_SCRATCH;
	memset(a->scratch, 0, n);
	if (n >= sizeof(struct ocsf_hdr)) {
		struct ocsf_hdr *h = (struct ocsf_hdr *)(void *)a->scratch;
		h->arena = a;
		h->desc = desc;
		h->depth = depth;
	}
	return a->scratch;
}

static void *scratch_elem(struct ocsf_arena *a, size_t elem_size)
{
	if (elem_size > ELEM_SCRATCH)
		return scratch_object(a, NULL, OCSF_MAX_DEPTH);
	unsigned char *p = a->scratch + a->scratch_size - ELEM_SCRATCH;
	memset(p, 0, ELEM_SCRATCH);
	return p;
}

void *ocsf_arena_alloc(struct ocsf_arena *a, size_t size)
{
	void *p = take(a, size);
	if (p) {
		memset(p, 0, size);
		return p;
	}
	record(a, OSH_ENOMEM, "event arena exhausted");
	if (size <= a->scratch_size - ELEM_SCRATCH) {
		memset(a->scratch, 0, size);
		return a->scratch;
	}
	return NULL;
}

const char *ocsf_arena_strdup(struct ocsf_arena *a, const char *s)
{
	if (!s)
		return "";
	size_t n = strlen(s) + 1;
	char *p = take(a, n);
	if (!p) {
		record(a, OSH_ENOMEM, "event arena exhausted (string)");
		return "";
	}
	memcpy(p, s, n);
	return p;
}

const char *ocsf_arena_printf(struct ocsf_arena *a, const char *fmt, ...)
{
	const char *res = "";
	va_list ap;

	if (a->err)
		goto out;
	size_t room = a->cap - a->used;
	char *p = (char *)a->base + a->used;
	va_start(ap, fmt);
	int n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		record(a, OSH_EINVAL, "ocsf_arena_printf: bad format");
		goto out;
	}
	if ((size_t)n >= room) {
		record(a, OSH_ENOMEM, "event arena exhausted (printf)");
		goto out;
	}
	a->used += align_up((size_t)n + 1);
	if (a->used > a->cap)
		a->used = a->cap;
	res = p;
out:
	return res;
}

void *ocsf_object_get(struct ocsf_hdr *parent, void **slot, unsigned bit,
		      const struct ocsf_object *desc)
{
	struct ocsf_arena *a = parent->arena;
	void *res;

	if (a->err) {
		res = scratch_object(a, desc, OCSF_MAX_DEPTH);
		goto out;
	}
	uint64_t *present =
	    (uint64_t *)(void *)((unsigned char *)parent + parent->desc->presence_offset);
	if (ocsf_present_get(present, bit) && *slot) {
		res = *slot;
		goto out;
	}
	if (parent->depth + 1 > OCSF_MAX_DEPTH) {
		record(a, OSH_EDEPTH, "object nesting deeper than OCSF_MAX_DEPTH");
		res = scratch_object(a, desc, OCSF_MAX_DEPTH);
		goto out;
	}
	struct ocsf_hdr *h = take(a, desc->size);
	if (!h) {
		record(a, OSH_ENOMEM, "event arena exhausted (object)");
		res = scratch_object(a, desc, OCSF_MAX_DEPTH);
		goto out;
	}
	memset(h, 0, desc->size);
	h->arena = a;
	h->desc = desc;
	h->depth = (uint16_t)(parent->depth + 1);
	*slot = h;
	ocsf_present_set(present, bit);
	res = h;
out:
	return res;
}

/* Make room for one more element; NULL on failure (error recorded). */
static void *grow(struct ocsf_hdr *owner, struct ocsf_array *arr, size_t elem_size)
{
	struct ocsf_arena *a = owner->arena;

	if (arr->len == arr->cap) {
		uint32_t ncap = arr->cap ? arr->cap * 2 : 4;
		if (ncap < arr->cap || (size_t)ncap > SIZE_MAX / elem_size) {
			record(a, OSH_ENOMEM, "array too long");
			return NULL;
		}
		void *items = take(a, (size_t)ncap * elem_size);
		if (!items) {
			record(a, OSH_ENOMEM, "event arena exhausted (array)");
			return NULL;
		}
		if (arr->len)
			memcpy(items, arr->items, (size_t)arr->len * elem_size);
		arr->items = items;
		arr->cap = ncap;
	}
	void *slot = (unsigned char *)arr->items + (size_t)arr->len * elem_size;
	memset(slot, 0, elem_size);
	return slot;
}

static uint64_t *presence(struct ocsf_hdr *o)
{
	return (uint64_t *)(void *)((unsigned char *)o + o->desc->presence_offset);
}

void *ocsf_array_push(struct ocsf_hdr *owner, struct ocsf_array *arr, size_t elem_size,
		      unsigned bit)
{
	struct ocsf_arena *a = owner->arena;
	void *slot = NULL;

	if (!a->err && elem_size)
		slot = grow(owner, arr, elem_size);
	if (!slot)
		return scratch_elem(a, elem_size);
	arr->len++;
	ocsf_present_set(presence(owner), bit);
	return slot;
}

void *ocsf_array_push_object(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			     const struct ocsf_object *desc)
{
	struct ocsf_arena *a = owner->arena;
	void *res;

	if (a->err) {
		res = scratch_object(a, desc, OCSF_MAX_DEPTH);
		goto out;
	}
	if (owner->depth + 1 > OCSF_MAX_DEPTH) {
		record(a, OSH_EDEPTH, "object nesting deeper than OCSF_MAX_DEPTH");
		res = scratch_object(a, desc, OCSF_MAX_DEPTH);
		goto out;
	}
	/* Take the slot first, then the object: if the object does not fit,
	 * the slot is not committed (len unchanged). */
	void **slot = grow(owner, arr, sizeof(void *));
	struct ocsf_hdr *h = slot ? take(a, desc->size) : NULL;
	if (!h) {
		record(a, OSH_ENOMEM, "event arena exhausted (object)");
		res = scratch_object(a, desc, OCSF_MAX_DEPTH);
		goto out;
	}
	memset(h, 0, desc->size);
	h->arena = a;
	h->desc = desc;
	h->depth = (uint16_t)(owner->depth + 1);
	*slot = h;
	arr->len++;
	ocsf_present_set(presence(owner), bit);
	res = h;
out:
	return res;
}

static struct ocsf_kv *open_add(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
				const char *key)
{
	if (owner->arena->err)
		return NULL;
	struct ocsf_kv *kv = grow(owner, arr, sizeof(*kv));
	if (!kv)
		return NULL;
	arr->len++;
	ocsf_present_set(presence(owner), bit);
	kv->key = key ? key : "";
	return kv;
}

void ocsf_open_add_str(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
		       const char *key, const char *val)
{
	struct ocsf_kv *kv = open_add(owner, arr, bit, key);
	if (kv) {
		kv->type = OCSF_KV_STRING;
		kv->v.s = val ? val : "";
	}
}

void ocsf_open_add_int(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
		       const char *key, int64_t val)
{
	struct ocsf_kv *kv = open_add(owner, arr, bit, key);
	if (kv) {
		kv->type = OCSF_KV_INT;
		kv->v.i = val;
	}
}

void ocsf_open_add_bool(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			const char *key, bool val)
{
	struct ocsf_kv *kv = open_add(owner, arr, bit, key);
	if (kv) {
		kv->type = OCSF_KV_BOOL;
		kv->v.b = val;
	}
}

void ocsf_open_add_float(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			 const char *key, double val)
{
	struct ocsf_kv *kv = open_add(owner, arr, bit, key);
	if (kv) {
		kv->type = OCSF_KV_FLOAT;
		kv->v.f = val;
	}
}

void ocsf_open_add_json(struct ocsf_hdr *owner, struct ocsf_array *arr, unsigned bit,
			const char *key, const char *json_text)
{
	struct ocsf_kv *kv = open_add(owner, arr, bit, key);
	if (kv) {
		kv->type = OCSF_KV_JSON;
		kv->v.s = json_text ? json_text : "null";
	}
}

int64_t ocsf_now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
