/* ocsf_serialize.c - the one OCSF event serializer: a plan interpreter.
 *
 * DESIGN
 * Generated code carries only data: struct layouts, descriptor tables and,
 * beside each descriptor, its serializer plan (struct ocsf_plan: one row per
 * field with the pre-quoted `,"key":` text, an opcode and the member offset;
 * the derived members rendered in full; the visit masks). This file
 * interprets those plans: one code path for every class and object, one
 * piece of code to test and fuzz, and a schema change shows up as a table
 * diff instead of thousands of lines of generated writer code. Nothing is
 * built, cached or locked at run time: the plans are static const data.
 *
 * The walk visits only set bits: the present fields, the caption row of
 * every present enum (masks cap_prev/cap_next/cap_far), and, for the class
 * and its metadata, the derived rows (mask `always`). Every member of an
 * object is written as `,"key":value`; the object's first comma becomes its
 * '{' when it closes. Derived values, so output stays sorted by key:
 * - class level: class_uid, class_name, category_uid, category_name are
 *   fixed texts of the class plan (OCSF_OP_CONST); type_uid and type_name
 *   are texts per activity enum item (type_uid is computed for a value the
 *   enum does not know; type_name is then left out); never what the caller
 *   may have stored;
 * - any CAPTION row: the schema caption of its enum sibling's value; for 99
 *   (Other) the caller's label when set, else the schema's "Other"; for a
 *   value the enum does not know, the caller's label if any;
 * - metadata.version (a fixed text) and metadata.profiles: the profiles
 *   whose attributes are present anywhere in the tree, sorted by name (the
 *   generated profile table is sorted), left out when there are none. They
 *   are noted during the same walk and inserted at their mark at the end.
 * The event is never modified, so serializing twice gives the same bytes.
 *
 * Speed: scalar rows take one capacity check for key and value (ROW_ROOM);
 * the fast paths do not test the writer's sticky error (what is written
 * after an overflow stays inside cap and is discarded by ocsf_jsonw_finish),
 * errors are checked once per 64-row word.
 */
#include <math.h>
#include <string.h>

#include "ocsf.h"
#include "ocsf_jsonw.h"

#define MEMBER(o, off, T)     (*(const T *)(const void *)((const unsigned char *)(o) + (off)))
#define MEMBER_PTR(o, off, T) (*(T *const *)(const void *)((const unsigned char *)(o) + (off)))

struct ser {
	struct ocsf_jsonw w;
	const struct ocsf_class *cls;
	uint64_t profiles[2];
	bool have_act;			       /* activity_id is set */
	int32_t act;			       /* its value */
	const struct ocsf_enum_item *act_item; /* its enum item, or NULL */
	size_t prof_at;			       /* output offset of the metadata.profiles mark */
	bool prof_first;		       /* the mark is metadata's '{' (first member) */
	bool prof_wanted;		       /* metadata was written (with a mark) */
	int err;
};

static const uint64_t *presence_of(const void *o, const struct ocsf_object *d)
{
	return (const uint64_t *)(const void *)((const unsigned char *)o + d->presence_offset);
}

static size_t elem_size(uint8_t kind)
{
	switch (kind) {
	case OCSF_K_INT:
	case OCSF_K_ENUM_INT:
		return sizeof(int32_t);
	case OCSF_K_LONG:
		return sizeof(int64_t);
	case OCSF_K_FLOAT:
		return sizeof(double);
	case OCSF_K_BOOL:
		return sizeof(bool);
	case OCSF_K_PORT:
		return sizeof(uint16_t);
	case OCSF_K_OPEN_OBJECT:
		return sizeof(struct ocsf_array);
	default:
		return sizeof(void *);
	}
}

/* ------------------------------------------------------- profile pass */

static void walk_field(struct ser *s, const void *o, const struct ocsf_field *f, int depth);

static void walk_profiles(struct ser *s, const void *o, const struct ocsf_object *d, int depth)
{
	if (depth > OCSF_MAX_DEPTH + 1) {
		s->err = OSH_EDEPTH;
		return;
	}
	const uint64_t *pr = presence_of(o, d);
	unsigned words = ((unsigned)d->n_fields + 63) / 64;
	for (unsigned k = 0; k < words; k++) {
		for (uint64_t m = pr[k]; m && !s->err; m &= m - 1) {
			unsigned i = k * 64 + (unsigned)__builtin_ctzll(m);
			if (i < d->n_fields)
				walk_field(s, o, &d->fields[i], depth);
		}
	}
}

static void walk_field(struct ser *s, const void *o, const struct ocsf_field *f, int depth)
{
	if (f->profile >= 0)
		s->profiles[f->profile / 64] |= (uint64_t)1 << (f->profile % 64);
	if (f->kind != OCSF_K_OBJECT || !f->object)
		return;
	if (f->flags & OCSF_F_ARRAY) {
		const struct ocsf_array *a = &MEMBER(o, f->offset, struct ocsf_array);
		for (uint32_t k = 0; k < a->len; k++) {
			const void *child = ((const void *const *)a->items)[k];
			if (child)
				walk_profiles(s, child, f->object, depth + 1);
		}
	} else {
		const void *child = MEMBER_PTR(o, f->offset, const void);
		if (child)
			walk_profiles(s, child, f->object, depth + 1);
	}
}

void ocsf_event_profiles(const struct ocsf_event *ev, uint64_t mask[2])
{
	struct ser s;
	memset(&s, 0, sizeof(s));
	if (ev && ev->hdr.desc)
		walk_profiles(&s, ev, ev->hdr.desc, 0);
	mask[0] = s.profiles[0];
	mask[1] = s.profiles[1];
}

/* ------------------------------------------------------------- values */

static void write_json_text(struct ser *s, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	if (text && ocsf_json_valid(text, n))
		ocsf_jsonw_raw(&s->w, text, n);
	else
		ocsf_jsonw_strn(&s->w, text, n);
}

static void write_open(struct ser *s, const struct ocsf_array *a)
{
	const struct ocsf_kv *kv = a->items;
	bool first = true;

	ocsf_jsonw_char(&s->w, '{');
	for (uint32_t i = 0; i < a->len; i++) {
		const char *key = kv[i].key ? kv[i].key : "";
		/* A repeated key: the last one wins, written once. */
		bool later = false;
		for (uint32_t j = i + 1; j < a->len && !later; j++)
			later = strcmp(kv[j].key ? kv[j].key : "", key) == 0;
		if (later)
			continue;
		if (kv[i].type == OCSF_KV_FLOAT && !isfinite(kv[i].v.f))
			continue;
		if (!first)
			ocsf_jsonw_char(&s->w, ',');
		first = false;
		ocsf_jsonw_str(&s->w, key);
		ocsf_jsonw_char(&s->w, ':');
		switch (kv[i].type) {
		case OCSF_KV_STRING:
			ocsf_jsonw_str(&s->w, kv[i].v.s);
			break;
		case OCSF_KV_INT:
			ocsf_jsonw_int(&s->w, kv[i].v.i);
			break;
		case OCSF_KV_BOOL:
			ocsf_jsonw_bool(&s->w, kv[i].v.b);
			break;
		case OCSF_KV_FLOAT:
			ocsf_jsonw_double(&s->w, kv[i].v.f);
			break;
		case OCSF_KV_JSON:
			write_json_text(s, kv[i].v.s);
			break;
		default:
			ocsf_jsonw_raw(&s->w, "null", 4);
			break;
		}
	}
	ocsf_jsonw_char(&s->w, '}');
}

static void write_obj(struct ser *s, const void *o, const struct ocsf_object *d, int depth,
		      bool top);

/* One value of field f stored at p (an element for arrays). Scalars are
 * written inline; objects recurse. */
static inline void write_value(struct ser *s, const struct ocsf_field *f, const void *p, int depth)
{
	switch (f->kind) {
	case OCSF_K_STRING:
	case OCSF_K_ENUM_STR:
		ocsf_jsonw_str(&s->w, *(const char *const *)p);
		break;
	case OCSF_K_JSON:
		write_json_text(s, *(const char *const *)p);
		break;
	case OCSF_K_INT:
	case OCSF_K_ENUM_INT:
		ocsf_jsonw_int(&s->w, *(const int32_t *)p);
		break;
	case OCSF_K_LONG:
		ocsf_jsonw_int(&s->w, *(const int64_t *)p);
		break;
	case OCSF_K_FLOAT:
		ocsf_jsonw_double(&s->w, *(const double *)p);
		break;
	case OCSF_K_BOOL:
		ocsf_jsonw_bool(&s->w, *(const bool *)p);
		break;
	case OCSF_K_PORT:
		ocsf_jsonw_uint(&s->w, *(const uint16_t *)p);
		break;
	case OCSF_K_OBJECT:
		write_obj(s, *(const void *const *)p, f->object, depth + 1, false);
		break;
	case OCSF_K_OPEN_OBJECT:
		write_open(s, (const struct ocsf_array *)p);
		break;
	default:
		ocsf_jsonw_raw(&s->w, "null", 4);
		break;
	}
}

/* Whether field f of o is written at all (present, and not an empty
 * pointer or a non-finite float). */
static inline bool writable(const void *o, const struct ocsf_field *f)
{
	if (f->flags & OCSF_F_ARRAY)
		return true;
	if (f->kind == OCSF_K_OBJECT)
		return MEMBER_PTR(o, f->offset, const void) != NULL && f->object;
	if (f->kind == OCSF_K_FLOAT)
		return isfinite(MEMBER(o, f->offset, double));
	return true;
}

static void write_array(struct ser *s, const void *o, const struct ocsf_field *f, int depth)
{
	const struct ocsf_array *a = &MEMBER(o, f->offset, struct ocsf_array);
	size_t es = elem_size(f->kind);
	bool first = true;
	ocsf_jsonw_char(&s->w, '[');
	for (uint32_t k = 0; k < a->len; k++) {
		const unsigned char *p = (const unsigned char *)a->items + (size_t)k * es;
		if (f->kind == OCSF_K_OBJECT && !*(const void *const *)(const void *)p)
			continue;
		if (f->kind == OCSF_K_FLOAT && !isfinite(*(const double *)(const void *)p))
			continue;
		if (!first)
			ocsf_jsonw_char(&s->w, ',');
		first = false;
		write_value(s, f, p, depth);
	}
	ocsf_jsonw_char(&s->w, ']');
}

static inline void write_field(struct ser *s, const void *o, const struct ocsf_field *f, int depth)
{
	if (f->profile >= 0)
		s->profiles[f->profile / 64] |= (uint64_t)1 << (f->profile % 64);
	if (f->flags & OCSF_F_ARRAY)
		write_array(s, o, f, depth);
	else
		write_value(s, f, (const unsigned char *)o + f->offset, depth);
}

/* Caption for enum value v: schema caption, caller label for 99/unknown. */
static const char *caption_for(const struct ocsf_enum *e, int64_t v, const char *caller)
{
	const struct ocsf_enum_item *it = ocsf_enum_find(e, v);
	if (v == 99 && caller)
		return caller;
	if (it)
		return it->caption;
	return caller;
}

/* Caption sibling cf (index ci) of enum field ef. Returns true if written
 * (the caller has already written the key). */
static void write_caption(struct ser *s, const void *o, const struct ocsf_field *ef,
			  const struct ocsf_field *cf, bool cap_present, const struct ocsf_enum *e)
{
	if (!(ef->flags & OCSF_F_ARRAY)) {
		const char *caller = cap_present ? MEMBER_PTR(o, cf->offset, const char) : NULL;
		int64_t v = ef->kind == OCSF_K_ENUM_INT ? MEMBER(o, ef->offset, int32_t) : 0;
		if (cf->flags & OCSF_F_ARRAY) {
			/* Odd shape; write the caller's value as is. */
			write_field(s, o, cf, 0);
			return;
		}
		ocsf_jsonw_str(&s->w, caption_for(e, v, caller));
		return;
	}
	const struct ocsf_array *ea = &MEMBER(o, ef->offset, struct ocsf_array);
	const struct ocsf_array *ca = cap_present && (cf->flags & OCSF_F_ARRAY)
					  ? &MEMBER(o, cf->offset, struct ocsf_array)
					  : NULL;
	ocsf_jsonw_char(&s->w, '[');
	for (uint32_t k = 0; k < ea->len; k++) {
		int64_t v = ((const int32_t *)ea->items)[k];
		const char *caller = ca && k < ca->len ? ((const char *const *)ca->items)[k] : NULL;
		const char *c = caption_for(e, v, caller);
		if (k)
			ocsf_jsonw_char(&s->w, ',');
		ocsf_jsonw_str(&s->w, c ? c : "");
	}
	ocsf_jsonw_char(&s->w, ']');
}

/* Whether a caption field has something to write. */
static bool caption_available(const void *o, const struct ocsf_field *ef, bool cap_present,
			      const struct ocsf_enum *e)
{
	if (ef->flags & OCSF_F_ARRAY)
		return true;
	if (ef->kind != OCSF_K_ENUM_INT)
		return cap_present;
	int64_t v = MEMBER(o, ef->offset, int32_t);
	return cap_present || ocsf_enum_find(e, v) != NULL;
}

/* Decimal digits of u at p; returns how many. Values under 10 000 (ports,
 * ids, pids) take one or two table moves with no loop. */
__attribute__((always_inline)) static inline size_t put_uint(char *p, uint64_t u)
{
	const char *d2 = ocsf_jsonw_digits2;
	if (u < 100) {
		if (u < 10) {
			p[0] = (char)('0' + u);
			return 1;
		}
		memcpy(p, d2 + 2 * u, 2);
		return 2;
	}
	if (u < 10000) {
		unsigned hi = (unsigned)u / 100, lo = (unsigned)u % 100;
		if (u < 1000) {
			p[0] = (char)('0' + hi);
			memcpy(p + 1, d2 + 2 * (size_t)lo, 2);
			return 3;
		}
		memcpy(p, d2 + 2 * (size_t)hi, 2);
		memcpy(p + 2, d2 + 2 * (size_t)lo, 2);
		return 4;
	}
	size_t n = ocsf_jsonw_u64_ndigits(u);
	ocsf_jsonw_u64_digits(p + n, u);
	return n;
}

__attribute__((always_inline)) static inline size_t put_int(char *p, int64_t v)
{
	if (v >= 0)
		return put_uint(p, (uint64_t)v);
	/* Negate in unsigned arithmetic so INT64_MIN is exact. */
	p[0] = '-';
	return 1 + put_uint(p + 1, (uint64_t)0 - (uint64_t)v);
}

/* The quoted JSON string of str at p when it is plain printable ASCII of
 * at most 63 bytes (each 16-byte block, read only while it stays inside
 * the string's page, is checked and copied with one load and one store); returns the
 * bytes written, or 0 when the string needs the general writer (which then
 * rewrites from the same place). p has room for 66 bytes. */
static inline size_t str_fast(char *p, const char *str)
{
#if defined(__SSE2__)
	const char *s = str ? str : "";
	size_t in_page = 4096 - ((uintptr_t)s & 4095); /* readable bytes for sure */
	for (unsigned k = 0; k < 64; k += 16) {
		const char *q = s + k;
		if (k + 16 > in_page)
			return 0;
		__m128i v = ocsf_jsonw_load16(q);
		unsigned bad = ocsf_jsonw_care_mask(v);
		_mm_storeu_si128((__m128i *)(void *)(p + 1 + k), v);
		if (bad) {
			unsigned at = (unsigned)__builtin_ctz(bad);
			if (q[at] != '\0')
				return 0;
			p[0] = '"';
			p[k + at + 1] = '"';
			return k + at + 2;
		}
	}
	return 0;
#else
	(void)p;
	(void)str;
	return 0;
#endif
}

/* A JSON string through str_fast() when the buffer has room, else the
 * general inline writer. Same output. */
static inline void put_str(struct ocsf_jsonw *w, const char *str)
{
	if (w->cap - w->len >= 66) {
		size_t n = str_fast(w->buf + w->len, str);
		if (n) {
			w->len += n;
			return;
		}
	}
	ocsf_jsonw_str_inline(w, str);
}

/* `,"key":` of field f, checked (the slow paths). */
static void write_member(struct ser *s, const struct ocsf_field *f)
{
	ocsf_jsonw_member(&s->w, true, f->name, strlen(f->name));
}

/* The pre-quoted `,"key":` of row r at p (room checked by the caller). */
__attribute__((always_inline)) static inline void key_move(char *p, const struct ocsf_plan_row *r)
{
	memcpy(p, r->key, 32);
	if (r->klen > 32)
		memcpy(p + 32, r->key + 32, OCSF_PLAN_KEY - 32);
}

/* `,"key":` of row r, checked. */
static inline void put_key(struct ocsf_jsonw *w, const struct ocsf_plan_row *r)
{
	if (w->cap - w->len >= OCSF_PLAN_KEY) {
		key_move(w->buf + w->len, r);
		w->len += r->klen;
		return;
	}
	ocsf_jsonw_raw(w, r->key, r->klen);
}

/* n bytes of generated text (derived members), checked. */
static inline void put_text(struct ocsf_jsonw *w, const char *t, size_t n)
{
	if (w->cap - w->len >= n + 32) {
		ocsf_jsonw_copy_short(w->buf + w->len, t, n);
		w->len += n;
		return;
	}
	ocsf_jsonw_raw(w, t, n);
}

/* Caption row i (op OCSF_OP_CAPTION: scalar caption of the scalar ENUM_INT
 * row r->sibling). Written when the enum is present with a caption to show,
 * else the caller's own value if it set one. */
__attribute__((always_inline)) static inline void write_caption_fast(struct ser *s, const void *o,
								     const uint64_t *pr,
								     const struct ocsf_plan *pl,
								     unsigned i)
{
	const struct ocsf_plan_row *r = &pl->rows[i];
	const struct ocsf_enum *e = r->ref;
	bool present = ocsf_present_get(pr, i);
	const char *caller = present ? MEMBER_PTR(o, r->offset, const char) : NULL;
	const struct ocsf_enum_item *it = NULL;

	if (ocsf_present_get(pr, (unsigned)r->sibling)) {
		int64_t v = MEMBER(o, pl->rows[r->sibling].offset, int32_t);
		/* Most enums are dense from 0: the direct slot, else the search. */
		if (e && v >= 0 && (uint64_t)v < e->count && e->items[v].value == v)
			it = &e->items[v];
		else
			it = ocsf_enum_find(e, v);
		if (it && !(v == 99 && caller))
			caller = it->caption;
	}
	if (!caller)
		return;
	struct ocsf_jsonw *w = &s->w;
	if (w->cap - w->len >= OCSF_PLAN_KEY + 66) {
		char *p = w->buf + w->len;
		key_move(p, r);
		size_t n = str_fast(p + r->klen, caller);
		w->len += r->klen + n;
		if (n)
			return;
		ocsf_jsonw_str_inline(w, caller);
		return;
	}
	put_key(w, r);
	put_str(w, caller);
}

/* Caption row i of another shape (op OCSF_OP_CAPTION_ANY), from the
 * descriptors. */
static void write_caption_any(struct ser *s, const void *o, const uint64_t *pr,
			      const struct ocsf_object *d, unsigned i, int depth)
{
	const struct ocsf_field *f = &d->fields[i];
	bool present = ocsf_present_get(pr, i);

	if (f->sibling >= 0 && f->sibling < d->n_fields) {
		const struct ocsf_field *ef = &d->fields[f->sibling];
		const struct ocsf_enum *e = ef->enumeration;
		if (ocsf_present_get(pr, (unsigned)f->sibling) && ef->kind == OCSF_K_ENUM_INT &&
		    caption_available(o, ef, present, e)) {
			write_member(s, f);
			write_caption(s, o, ef, f, present, e);
			return;
		}
	}
	if (!present || !writable(o, f))
		return;
	write_member(s, f);
	write_field(s, o, f, depth);
}

/* Activity-dependent class member (type_uid / type_name): the generated
 * text for the activity's enum item; type_uid of a value the enum does not
 * know is computed, type_name is then left out. */
static void write_type(struct ser *s, const struct ocsf_plan_row *r, bool is_uid)
{
	const char *const *texts = r->ref;
	const struct ocsf_enum *ae = s->cls->activity;

	if (!s->have_act || (!is_uid && !s->act_item))
		return;
	if (s->act_item && texts && ae) {
		/* Generated texts start with their length byte. */
		const char *t = texts[s->act_item - ae->items];
		put_text(&s->w, t + 1, (unsigned char)t[0]);
		return;
	}
	put_key(&s->w, r);
	if (s->w.cap - s->w.len >= 24)
		s->w.len += put_int(s->w.buf + s->w.len, (int64_t)s->cls->class_uid * 100 + s->act);
	else
		ocsf_jsonw_int(&s->w, (int64_t)s->cls->class_uid * 100 + s->act);
}

/* Notes where metadata.profiles goes; the list is inserted there once the
 * whole event has been written and the profiles in use are known. `start`
 * is the offset of metadata's first member (its '{' once it closes). */
static void mark_profiles(struct ser *s, size_t start)
{
	s->prof_at = s->w.len;
	s->prof_first = s->w.len == start;
	s->prof_wanted = true;
}

/* The class's metadata row: the metadata object (with its derived
 * members), or, when the site set none, what the schema fixes. */
static void write_metadata(struct ser *s, const void *o, const uint64_t *pr,
			   const struct ocsf_plan *pl, unsigned i, int depth)
{
	const struct ocsf_plan_row *r = &pl->rows[i];
	const void *md = ocsf_present_get(pr, i) ? MEMBER_PTR(o, r->offset, const void) : NULL;
	const struct ocsf_plan *mp = r->ref;

	put_key(&s->w, r);
	if (md) {
		write_obj(s, md, mp->desc, depth + 1, true);
		return;
	}
	ocsf_jsonw_char(&s->w, '{');
	s->prof_at = s->w.len - 1;
	s->prof_first = true;
	s->prof_wanted = true;
	ocsf_jsonw_key(&s->w, "version", 7);
	put_str(&s->w, ocsf_schema_version());
	ocsf_jsonw_char(&s->w, '}');
}

/* Room for any one fast row: its 40-byte key move, then up to 21 integer
 * bytes or a quoted string of up to 64 bytes (1 + 64 + 1). */
#define ROW_ROOM 128

/* One visited row of object o. Scalars take one capacity check for key and
 * value together. */
__attribute__((always_inline)) static inline void write_row(struct ser *s, const void *o,
							    const uint64_t *pr,
							    const struct ocsf_plan *pl, unsigned i,
							    size_t start, int depth)
{
	struct ocsf_jsonw *w = &s->w;
	const struct ocsf_plan_row *r = &pl->rows[i];
	const unsigned char *m = (const unsigned char *)o + r->offset;
	/* After an overflow the output is discarded, so writing on inside cap
	 * is harmless: the fast paths test room only, not w->err. */
	bool room = w->cap - w->len >= ROW_ROOM;
	char *p = w->buf + w->len;
	int64_t iv;

	switch ((enum ocsf_op)r->op) {
	case OCSF_OP_STR: {
		const char *v = *(const char *const *)(const void *)m;
		if (room) {
			key_move(p, r);
			size_t n = str_fast(p + r->klen, v);
			w->len += r->klen + n;
			if (!n)
				ocsf_jsonw_str_inline(w, v);
			return;
		}
		put_key(w, r);
		ocsf_jsonw_str_inline(w, v);
		return;
	}
	case OCSF_OP_I32:
		iv = *(const int32_t *)(const void *)m;
		goto integer;
	case OCSF_OP_I64:
		iv = *(const int64_t *)(const void *)m;
		goto integer;
	case OCSF_OP_PORT:
		iv = *(const uint16_t *)(const void *)m;
		goto integer;
	case OCSF_OP_BOOL: {
		bool b = *(const bool *)(const void *)m;
		if (room) {
			key_move(p, r);
			memcpy(p + r->klen, b ? "true" : "false", 5);
			w->len += r->klen + (b ? 4u : 5u);
			return;
		}
		put_key(w, r);
		ocsf_jsonw_bool(w, b);
		return;
	}
	case OCSF_OP_OBJ: {
		const void *child = *(const void *const *)(const void *)m;
		const struct ocsf_plan *cp = r->ref;
		if (!child)
			return;
		put_key(w, r);
		write_obj(s, child, cp->desc, depth + 1, false);
		return;
	}
	case OCSF_OP_CAPTION:
		write_caption_fast(s, o, pr, pl, i);
		return;
	case OCSF_OP_CAPTION_ANY:
		write_caption_any(s, o, pr, pl->desc, i, depth);
		return;
	case OCSF_OP_CONST:
		put_text(w, r->ref, r->klen);
		return;
	case OCSF_OP_TYPE_UID:
	case OCSF_OP_TYPE_NAME:
		write_type(s, r, r->op == OCSF_OP_TYPE_UID);
		return;
	case OCSF_OP_PROFILES:
		mark_profiles(s, start);
		return;
	case OCSF_OP_METADATA:
		write_metadata(s, o, pr, pl, i, depth);
		return;
	case OCSF_OP_GENERIC:
	default: {
		const struct ocsf_field *f = &pl->desc->fields[i];
		if (!ocsf_present_get(pr, i) || !writable(o, f))
			return;
		put_key(w, r);
		write_field(s, o, f, depth);
		return;
	}
	}
integer:
	if (room) {
		key_move(p, r);
		w->len += r->klen + put_int(p + r->klen, iv);
		return;
	}
	put_key(w, r);
	ocsf_jsonw_int(w, iv);
}

/* Object o of descriptor d through its plan. `top`: o is the class or its
 * metadata, whose derived rows are written without a presence bit. */
static void write_obj(struct ser *s, const void *o, const struct ocsf_object *d, int depth,
		      bool top)
{
	const struct ocsf_plan *pl = d->plan;
	const uint64_t *pr = presence_of(o, d);
	uint64_t want[OCSF_PLAN_WORDS];
	size_t start = s->w.len;
	unsigned words;

	if (depth > OCSF_MAX_DEPTH + 1) {
		s->err = OSH_EDEPTH;
		return;
	}
	if (!pl || pl->words > OCSF_PLAN_WORDS) {
		s->err = OSH_EINVAL;
		return;
	}
	words = pl->words;
	/* Rows to visit: the present ones, the captions of present enums and,
	 * at the top, the derived rows; profiles of the visited rows noted. */
	for (unsigned k = 0; k < words; k++)
		want[k] = pr[k] | ((pr[k] & pl->cap_prev[k]) >> 1) |
			  ((pr[k] & pl->cap_next[k]) << 1) | (top ? pl->always[k] : 0);
	for (unsigned k = 0; k < words; k++) {
		for (uint64_t m = pr[k] & pl->cap_far[k]; m; m &= m - 1) {
			int sib = pl->rows[k * 64 + (unsigned)__builtin_ctzll(m)].sibling;
			if (sib >= 0 && sib < 64 * (int)words)
				want[sib / 64] |= (uint64_t)1 << (sib % 64);
		}
	}
	for (unsigned k = 0; k < words; k++) {
		uint64_t wk = want[k] & pl->valid[k];
		for (uint64_t m = wk & pl->profrows[k]; m; m &= m - 1) {
			unsigned pf =
			    (uint8_t)pl->rows[k * 64 + (unsigned)__builtin_ctzll(m)].profile;
			s->profiles[pf / 64 % 2] |= (uint64_t)1 << (pf % 64);
		}
		for (uint64_t m = wk; m; m &= m - 1)
			write_row(s, o, pr, pl, k * 64 + (unsigned)__builtin_ctzll(m), start,
				  depth);
		/* Errors are checked once per word: what is written after one
		 * stays inside cap and is discarded. */
		if (s->err || s->w.err)
			break;
	}
	/* The first member's comma becomes the '{'. */
	if (s->w.len == start)
		ocsf_jsonw_char(&s->w, '{');
	else
		s->w.buf[start] = '{';
	ocsf_jsonw_char(&s->w, '}');
}

/* Inserts the profiles in use at the mark left in metadata: `,"profiles":[...]`
 * before the member that follows, or `"profiles":[...],` right after the '{'
 * when it is metadata's first member ("version" always follows). */
static void insert_profiles(struct ser *s)
{
	const char *names[128];
	size_t lens[128];
	unsigned n_names = 0;
	size_t n = 13; /* `"profiles":[` and `]` */

	if (!s->prof_wanted || s->w.err || (!s->profiles[0] && !s->profiles[1]))
		return;
	/* The generated profile table is sorted by name: index order is name
	 * order. */
	for (unsigned k = 0; k < 2; k++) {
		for (uint64_t m = s->profiles[k]; m; m &= m - 1) {
			const char *nm =
			    ocsf_profile_name((int)(k * 64 + (unsigned)__builtin_ctzll(m)));
			if (!nm)
				continue;
			names[n_names] = nm;
			lens[n_names] = strlen(nm);
			n += lens[n_names] + 2 + (n_names ? 1 : 0);
			n_names++;
		}
	}
	if (!n_names)
		return;
	n += 1; /* the separating comma */
	if (n > s->w.cap - s->w.len) {
		s->w.err = OSH_ETOOBIG;
		return;
	}
	size_t at = s->prof_at + (s->prof_first ? 1 : 0);
	char *p = s->w.buf + at;
	memmove(p + n, p, s->w.len - at);
	if (!s->prof_first)
		*p++ = ',';
	static const char open_list[12] = {'"', 'p', 'r', 'o', 'f', 'i',
					   'l', 'e', 's', '"', ':', '['};
	memcpy(p, open_list, sizeof(open_list));
	p += sizeof(open_list);
	for (unsigned k = 0; k < n_names; k++) {
		if (k)
			*p++ = ',';
		*p++ = '"';
		memcpy(p, names[k], lens[k]);
		p += lens[k];
		*p++ = '"';
	}
	*p++ = ']';
	if (s->prof_first)
		*p = ',';
	s->w.len += n;
}

int ocsf_serialize(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len)
{
	struct ser s;
	int rc = OSH_EINVAL;

	if (len)
		*len = 0;
	if (!ev || !ev->cls || !ev->cls->object || !buf)
		goto out;
	if (ev->arena.err) {
		rc = ev->arena.err;
		goto out;
	}
	s.cls = ev->cls;
	const struct ocsf_object *cd = ev->cls->object;
	int af = ev->cls->activity_field;
	s.have_act =
	    af >= 0 && af < cd->n_fields && ocsf_present_get(presence_of(ev, cd), (unsigned)af);
	s.act = s.have_act ? MEMBER(ev, cd->fields[af].offset, int32_t) : 0;
	s.act_item = s.have_act ? ocsf_enum_find(ev->cls->activity, s.act) : NULL;
	s.profiles[0] = s.profiles[1] = 0;
	s.prof_wanted = false;
	s.prof_first = false;
	s.prof_at = 0;
	s.err = 0;
	ocsf_jsonw_init(&s.w, buf, cap);
	write_obj(&s, ev, cd, 0, true);
	if (s.err) {
		rc = s.err;
		goto out;
	}
	insert_profiles(&s);
	rc = ocsf_jsonw_finish(&s.w, len);
out:
	return rc;
}

int ocsf_event_error(const struct ocsf_event *ev, const char **what)
{
	if (what)
		*what = ev ? ev->arena.err_what : NULL;
	return ev ? ev->arena.err : OSH_EINVAL;
}
