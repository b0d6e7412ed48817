/* ocsf_serialize.c - the one OCSF event serializer: a descriptor walker.
 *
 * DESIGN
 * Generated code carries only data (struct layouts and descriptor tables);
 * this walker turns any event into JSON by reading those tables. One
 * serializer means one piece of code to test and fuzz for every class, and a
 * schema change shows up as a reviewable table diff instead of thousands of
 * lines of generated writer code. It is fast because it does no lookups by
 * name on the hot path: it visits descriptor rows in order, tests presence
 * bits, and writes through the JSON writer's direct-to-buffer primitives.
 *
 * Derived values are computed where their descriptor row sits, so output
 * stays sorted by key:
 * - class level (flag DERIVED): class_uid, class_name, category_uid,
 *   category_name, type_uid, type_name - always from the class table, never
 *   from what the caller may have stored;
 * - any CAPTION field: the schema caption of its enum sibling's value; for
 *   99 (Other) the caller's label when set, else the schema's "Other"; for a
 *   value the enum does not know, the caller's label if any;
 * - metadata.version (the schema version) and metadata.profiles (profiles
 *   whose attributes are present anywhere in the tree, sorted by name, left
 *   out when there are none). A first pass over presence bits computes them.
 * The event is never modified, so serializing twice gives the same bytes.
 *
 * Caches: key lengths (by field address, lock-free), per-descriptor plans
 * (process-wide, lock-free readers) and the rendered class-level derived
 * members of the last (class, activity) pair (thread-local). All assume
 * descriptor and class tables are immutable static data, as generated ones
 * are: a table must not be rewritten at the same address after it has been
 * serialized once.
 *
 * Speed: scalar rows take one capacity check for key and value; the fast
 * paths do not test the writer's sticky error (what is written after an
 * overflow stays inside cap and is discarded by ocsf_jsonw_finish).
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
	uint8_t pidx[128]; /* indexes of the used profiles, by name */
	unsigned n_pnames;
	bool have_act;			       /* activity_id is set */
	int32_t act;			       /* its value */
	const struct ocsf_enum_item *act_item; /* its enum item, or NULL */
	size_t prof_at;			       /* output offset where metadata.profiles goes */
	bool prof_first;		       /* it would be the first key of metadata */
	bool prof_wanted;		       /* metadata was written (with a profiles slot) */
	int err;
};

/* ------------------------------------------------------ key lengths
 * Descriptor names are static strings; their lengths are cached in a small
 * direct-mapped table keyed by the field's address, so the hot path does
 * not strlen every key. Each entry is one 64-bit word (address << 8 |
 * length), read and written with relaxed atomics: concurrent serializers
 * see either a whole entry or a miss, never a torn one. */
#define KEYCACHE_SIZE 4096

static uint64_t keycache[KEYCACHE_SIZE];

static inline size_t key_len(const struct ocsf_field *f)
{
	uintptr_t a = (uintptr_t)f;
	size_t slot = (a / sizeof(*f)) & (KEYCACHE_SIZE - 1);
	uint64_t e = __atomic_load_n(&keycache[slot], __ATOMIC_RELAXED);
	if ((e >> 8) == (uint64_t)a && a < ((uint64_t)1 << 56))
		return (size_t)(e & 0xff);
	size_t n = strlen(f->name);
	if (n < 256 && a < ((uint64_t)1 << 56))
		__atomic_store_n(&keycache[slot], ((uint64_t)a << 8) | n, __ATOMIC_RELAXED);
	return n;
}

static inline void write_key(struct ser *s, const struct ocsf_field *f)
{
	ocsf_jsonw_key(&s->w, f->name, key_len(f));
}

/* `,"key":` for the next member of an object; clears *first. */
static inline void write_member(struct ser *s, bool *first, const struct ocsf_field *f)
{
	ocsf_jsonw_member(&s->w, !*first, f->name, key_len(f));
	*first = false;
}

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

/* Profile indexes sorted by name, built once (profile names are static
 * generated data): writing metadata.profiles is then a walk of this order
 * testing bits, with no sorting per event. */
static uint8_t prof_order[128];
static uint8_t prof_len[128];  /* strlen of each profile name, by index */
static uint8_t prof_rank[128]; /* position of each profile in prof_order, 255 unnamed */
static unsigned prof_n;
static bool prof_ready; /* published with release after the tables */
static bool prof_lock;	/* spin flag for the one-time build */

static void prof_build(void)
{
	while (__atomic_test_and_set(&prof_lock, __ATOMIC_ACQUIRE))
		;
	if (!__atomic_load_n(&prof_ready, __ATOMIC_ACQUIRE)) {
		unsigned n = 0;
		for (int i = 0; i < 128; i++) {
			const char *nm = ocsf_profile_name(i);
			if (!nm)
				continue;
			size_t l = strlen(nm);
			bool plain = l < 255;
			for (size_t c = 0; c < l && plain; c++)
				plain =
				    nm[c] > 0x20 && nm[c] < 0x7f && nm[c] != '"' && nm[c] != '\\';
			prof_len[i] = (uint8_t)(plain ? l : 255);
			unsigned k = n++;
			while (k > 0 && strcmp(ocsf_profile_name(prof_order[k - 1]), nm) > 0) {
				prof_order[k] = prof_order[k - 1];
				k--;
			}
			prof_order[k] = (uint8_t)i;
		}
		prof_n = n;
		memset(prof_rank, 255, sizeof(prof_rank));
		for (unsigned k = 0; k < n; k++)
			prof_rank[prof_order[k]] = (uint8_t)k;
		__atomic_store_n(&prof_ready, true, __ATOMIC_RELEASE);
	}
	__atomic_clear(&prof_lock, __ATOMIC_RELEASE);
}

/* Sorted names of the profiles in s->profiles (once per serialization). */
static void collect_profiles(struct ser *s)
{
	if (!__atomic_load_n(&prof_ready, __ATOMIC_ACQUIRE))
		prof_build();
	s->n_pnames = 0;
	if (!s->profiles[0] && !s->profiles[1])
		return;
	/* Re-index the used profiles by name rank, then read them back in
	 * rank order: proportional to the profiles used, not to all of them. */
	uint64_t by_rank[2] = {0, 0};
	for (unsigned k = 0; k < 2; k++) {
		for (uint64_t m = s->profiles[k]; m; m &= m - 1) {
			unsigned r = prof_rank[k * 64 + (unsigned)__builtin_ctzll(m)];
			if (r < 128)
				by_rank[r / 64] |= (uint64_t)1 << (r % 64);
		}
	}
	for (unsigned k = 0; k < 2; k++)
		for (uint64_t m = by_rank[k]; m; m &= m - 1)
			s->pidx[s->n_pnames++] = prof_order[k * 64 + (unsigned)__builtin_ctzll(m)];
}

static void write_profiles(struct ser *s)
{
	ocsf_jsonw_char(&s->w, '[');
	for (unsigned k = 0; k < s->n_pnames; k++) {
		unsigned i = s->pidx[k];
		const char *nm = ocsf_profile_name((int)i);
		if (k)
			ocsf_jsonw_char(&s->w, ',');
		if (prof_len[i] < 255) { /* names are identifiers: no escaping */
			ocsf_jsonw_char(&s->w, '"');
			ocsf_jsonw_raw(&s->w, nm, prof_len[i]);
			ocsf_jsonw_char(&s->w, '"');
		} else {
			ocsf_jsonw_str(&s->w, nm);
		}
	}
	ocsf_jsonw_char(&s->w, ']');
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

static void write_object(struct ser *s, const void *o, const struct ocsf_object *d, int depth,
			 bool is_metadata);

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
		write_object(s, *(const void *const *)p, f->object, depth + 1, false);
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

enum derived {
	D_NONE,
	D_CLASS_UID,
	D_CLASS_NAME,
	D_CATEGORY_UID,
	D_CATEGORY_NAME,
	D_TYPE_UID,
	D_TYPE_NAME,
	D_VERSION,  /* metadata.version */
	D_PROFILES, /* metadata.profiles */
};

static enum derived derived_kind(const char *name)
{
	switch (name[0]) {
	case 'c':
		if (strcmp(name, "class_uid") == 0)
			return D_CLASS_UID;
		if (strcmp(name, "class_name") == 0)
			return D_CLASS_NAME;
		if (strcmp(name, "category_uid") == 0)
			return D_CATEGORY_UID;
		if (strcmp(name, "category_name") == 0)
			return D_CATEGORY_NAME;
		break;
	case 't':
		if (strcmp(name, "type_uid") == 0)
			return D_TYPE_UID;
		if (strcmp(name, "type_name") == 0)
			return D_TYPE_NAME;
		break;
	case 'v':
		if (strcmp(name, "version") == 0)
			return D_VERSION;
		break;
	case 'p':
		if (strcmp(name, "profiles") == 0)
			return D_PROFILES;
		break;
	default:
		break;
	}
	return D_NONE;
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

/* put_int() with its own capacity check (derived class-level numbers). */
static inline void put_int_checked(struct ocsf_jsonw *w, int64_t v)
{
	if (w->cap - w->len >= 24)
		w->len += put_int(w->buf + w->len, v);
	else
		ocsf_jsonw_int(w, v);
}

/* Length of s; *plain tells whether it is printable ASCII needing no
 * escape (one SIMD pass where available). */
static size_t scan_plain(const char *s, bool *plain)
{
#if defined(__SSE2__)
	return ocsf_jsonw_scan(s, plain);
#else
	size_t n = strlen(s);
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		ok = ok && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
	}
	*plain = ok;
	return n;
#endif
}

/* Fields to visit: the present ones, the caption of every present enum,
 * and (class and metadata only) the DERIVED rows, plus the metadata row.
 * Visiting set bits keeps the cost proportional to what the event carries
 * rather than to the schema's size. Returns false if d is too wide. */
#define MAX_WORDS 16

/* ------------------------------------------------------------ plans
 * Per-descriptor facts the walk needs on every event, computed once per
 * descriptor (lazily, on its first serialization) into a process-wide
 * store of static storage: the DERIVED rows with their kinds, the enum rows
 * that have a caption sibling, and one row per field with everything the
 * hot loop reads - the member's offset, an opcode folding kind and flags
 * into one switch, and the pre-quoted `,"key":` text so a key is one fixed
 * 32-byte move. Readers are lock-free (the descriptor pointer of a slot is
 * published with release after the rest of the slot is written); builders
 * serialize on a spin flag, which is taken at most once per descriptor.
 * A descriptor wider than PLAN_WORDS * 64 fields, or one that finds the
 * store full, takes the uncached path (same output, slower). */
#define PLAN_WORDS 2
#define PLAN_SLOTS 512
#define PLAN_ROWS  4096
#define PLAN_PROBE 16
#define KEY_ROOM   40

enum op {
	OP_GENERIC = 0, /* anything not below: the descriptor-driven path */
	OP_STR,		/* STRING / ENUM_STR scalar */
	OP_I32,		/* INT scalar */
	OP_ENUM,	/* ENUM_INT scalar */
	OP_I64,		/* LONG scalar */
	OP_PORT,	/* PORT scalar */
	OP_BOOL,	/* BOOL scalar */
	OP_OBJ,		/* OBJECT scalar with a descriptor */
	OP_CAPTION,	/* caption sibling of an enum */
};

struct plan;

struct prow {
	char key[KEY_ROOM];	  /* `,"name":` then zero padding */
	uint8_t klen;		  /* bytes of `,"name":`; 0 when the name is too long */
	uint8_t op;		  /* enum op */
	uint8_t dkind;		  /* enum derived of a DERIVED row, else D_NONE */
	int8_t profile;		  /* the field's profile index, -1 core */
	uint8_t capfast;	  /* OP_CAPTION whose sibling is a scalar ENUM_INT */
	const struct plan *child; /* OP_OBJ: plan of f->object, set on first use */
	uint32_t offset;	  /* member offset */
	const struct ocsf_field *f;
};

struct plan {
	const struct ocsf_object *d;	 /* published last (release) */
	struct prow *rows;		 /* n_fields rows */
	uint64_t derived[PLAN_WORDS];	 /* DERIVED rows */
	uint64_t enums[PLAN_WORDS];	 /* ENUM_INT rows with a sibling elsewhere */
	uint64_t enums_prev[PLAN_WORDS]; /* ... whose sibling is the row before (same word) */
	uint64_t enums_next[PLAN_WORDS]; /* ... whose sibling is the row after (same word) */
	uint64_t special[PLAN_WORDS];	 /* DERIVED or CAPTION rows (class/metadata walk) */
	uint64_t profrows[PLAN_WORDS];	 /* rows with a profile */
	uint64_t valid[PLAN_WORDS];	 /* rows 0..n_fields-1 */
};

static struct plan plans[PLAN_SLOTS];
static struct prow plan_rows[PLAN_ROWS];
static size_t plan_rows_used; /* under plan_lock */
static bool plan_lock;	      /* spin flag (atomic test-and-set) */

static enum op op_of(const struct ocsf_field *f)
{
	if (f->flags & OCSF_F_CAPTION)
		return OP_CAPTION;
	if (f->flags & (OCSF_F_ARRAY | OCSF_F_DERIVED))
		return OP_GENERIC;
	switch (f->kind) {
	case OCSF_K_STRING:
	case OCSF_K_ENUM_STR:
		return OP_STR;
	case OCSF_K_INT:
		return OP_I32;
	case OCSF_K_ENUM_INT:
		return OP_ENUM;
	case OCSF_K_LONG:
		return OP_I64;
	case OCSF_K_PORT:
		return OP_PORT;
	case OCSF_K_BOOL:
		return OP_BOOL;
	case OCSF_K_OBJECT:
		return f->object ? OP_OBJ : OP_GENERIC;
	default:
		return OP_GENERIC;
	}
}

/* Fills slot e for d from the row pool; false if the pool is full. Called
 * with plan_lock held. */
static bool plan_build(struct plan *e, const struct ocsf_object *d)
{
	if (d->n_fields > PLAN_ROWS - plan_rows_used)
		return false;
	struct prow *rows = &plan_rows[plan_rows_used];
	memset(e->derived, 0, sizeof(e->derived));
	memset(e->enums, 0, sizeof(e->enums));
	memset(e->enums_prev, 0, sizeof(e->enums_prev));
	memset(e->enums_next, 0, sizeof(e->enums_next));
	memset(e->special, 0, sizeof(e->special));
	memset(e->profrows, 0, sizeof(e->profrows));
	memset(e->valid, 0, sizeof(e->valid));
	for (unsigned i = 0; i < d->n_fields; i++) {
		const struct ocsf_field *f = &d->fields[i];
		struct prow *r = &rows[i];
		size_t n = strlen(f->name);
		memset(r, 0, sizeof(*r));
		r->f = f;
		r->offset = f->offset;
		r->profile = f->profile;
		r->op = (uint8_t)op_of(f);
		if (r->op == OP_CAPTION && (f->sibling < 0 || f->sibling >= d->n_fields))
			r->op = OP_GENERIC;
		if (n + 4 <= KEY_ROOM - 8) {
			r->key[0] = ',';
			r->key[1] = '"';
			memcpy(r->key + 2, f->name, n);
			r->key[n + 2] = '"';
			r->key[n + 3] = ':';
			r->klen = (uint8_t)(n + 4);
		}
		/* The scalar fast paths rely on the pre-quoted key. */
		if (!r->klen && r->op >= OP_STR && r->op <= OP_BOOL)
			r->op = OP_GENERIC;
		if (r->op == OP_CAPTION) {
			const struct ocsf_field *ef = &d->fields[f->sibling];
			r->capfast =
			    !((ef->flags | f->flags) & OCSF_F_ARRAY) && ef->kind == OCSF_K_ENUM_INT;
		}
		if (f->kind == OCSF_K_ENUM_INT && f->sibling >= 0 && f->sibling < d->n_fields) {
			uint64_t bit = (uint64_t)1 << (i % 64);
			if ((unsigned)f->sibling + 1 == i && i % 64 != 0)
				e->enums_prev[i / 64] |= bit;
			else if ((unsigned)f->sibling == i + 1 && i % 64 != 63)
				e->enums_next[i / 64] |= bit;
			else
				e->enums[i / 64] |= bit;
		}
		e->valid[i / 64] |= (uint64_t)1 << (i % 64);
		if (f->profile >= 0)
			e->profrows[i / 64] |= (uint64_t)1 << (i % 64);
		if (f->flags & (OCSF_F_DERIVED | OCSF_F_CAPTION))
			e->special[i / 64] |= (uint64_t)1 << (i % 64);
		if (!(f->flags & OCSF_F_DERIVED))
			continue;
		r->dkind = (uint8_t)derived_kind(f->name);
		e->derived[i / 64] |= (uint64_t)1 << (i % 64);
	}
	plan_rows_used += d->n_fields;
	e->rows = rows;
	return true;
}

static const struct plan *plan_slow(const struct ocsf_object *d, size_t h)
{
	const struct plan *res = NULL;
	while (__atomic_test_and_set(&plan_lock, __ATOMIC_ACQUIRE))
		;
	for (unsigned k = 0; k < PLAN_PROBE; k++) {
		struct plan *e = &plans[(h + k) % PLAN_SLOTS];
		const struct ocsf_object *cur = __atomic_load_n(&e->d, __ATOMIC_ACQUIRE);
		if (cur == d) {
			res = e;
			break;
		}
		if (cur)
			continue;
		if (plan_build(e, d)) {
			__atomic_store_n(&e->d, d, __ATOMIC_RELEASE);
			res = e;
		}
		break;
	}
	__atomic_clear(&plan_lock, __ATOMIC_RELEASE);
	return res;
}

/* The plan of d, or NULL when d takes the uncached path. */
static inline const struct plan *plan_of(const struct ocsf_object *d)
{
	if (d->n_fields > 64 * PLAN_WORDS)
		return NULL;
	size_t h = ((uintptr_t)d / sizeof(*d)) * 0x9e3779b97f4a7c15ull >> 40;
	for (unsigned k = 0; k < PLAN_PROBE; k++) {
		const struct plan *e = &plans[(h + k) % PLAN_SLOTS];
		const struct ocsf_object *cur = __atomic_load_n(&e->d, __ATOMIC_ACQUIRE);
		if (cur == d)
			return e;
		if (!cur)
			break;
	}
	return plan_slow(d, h);
}

/* Derived kind of row i of d (D_NONE if it is not DERIVED). */
static enum derived derived_kind_at(const struct ocsf_object *d, const struct plan *e, unsigned i)
{
	if (e)
		return (enum derived)e->rows[i].dkind;
	return i < d->n_fields ? derived_kind(d->fields[i].name) : D_NONE;
}

__attribute__((always_inline)) static inline bool
visit_mask(const struct ser *s, const void *o, const struct ocsf_object *d, const struct plan *di,
	   bool is_class, bool is_metadata, uint64_t want[MAX_WORDS])
{
	const uint64_t *pr = presence_of(o, d);
	unsigned words = ((unsigned)d->n_fields + 63) / 64;
	bool derived = is_class || is_metadata;

	if (words > MAX_WORDS)
		return false;
	if (di) {
		for (unsigned k = 0; k < words; k++)
			want[k] = pr[k] | (derived ? di->derived[k] : 0) |
				  ((pr[k] & di->enums_prev[k]) >> 1) |
				  ((pr[k] & di->enums_next[k]) << 1);
		for (unsigned k = 0; k < words; k++) {
			for (uint64_t m = pr[k] & di->enums[k]; m; m &= m - 1) {
				unsigned i = k * 64 + (unsigned)__builtin_ctzll(m);
				int16_t sib = d->fields[i].sibling;
				want[sib / 64] |= (uint64_t)1 << (sib % 64);
			}
		}
	} else {
		/* uncached path: clear the whole mask (no word is left unset) */
		for (unsigned k = 0; k < MAX_WORDS; k++)
			want[k] = k < words ? pr[k] : 0;
		for (unsigned i = 0; i < d->n_fields; i++) {
			const struct ocsf_field *f = &d->fields[i];
			if (derived && (f->flags & OCSF_F_DERIVED))
				want[i / 64] |= (uint64_t)1 << (i % 64);
			if (ocsf_present_get(pr, i) && f->kind == OCSF_K_ENUM_INT &&
			    f->sibling >= 0 && f->sibling < d->n_fields)
				want[f->sibling / 64] |= (uint64_t)1 << (f->sibling % 64);
		}
	}
	if (is_class && s->cls->metadata_field >= 0 && s->cls->metadata_field < d->n_fields)
		want[s->cls->metadata_field / 64] |= (uint64_t)1 << (s->cls->metadata_field % 64);
	return true;
}

static inline void comma(struct ser *s, bool *first)
{
	if (!*first)
		ocsf_jsonw_char(&s->w, ',');
	*first = false;
}

/* Marks where metadata.profiles goes; the list is inserted there once the
 * whole event has been written and the profiles in use are known. */
static void mark_profiles(struct ser *s, bool first)
{
	s->prof_at = s->w.len;
	s->prof_first = first;
	s->prof_wanted = true;
}

static void write_metadata_fixed(struct ser *s, bool *first)
{
	mark_profiles(s, *first);
	comma(s, first);
	ocsf_jsonw_key(&s->w, "version", 7);
	ocsf_jsonw_str(&s->w, ocsf_schema_version());
}

/* The caption row r (index i) of o: written when its enum sibling is
 * present with a caption to show, else the caller's own value if it set
 * one. `e` is the enum to caption with. */
static void write_caption_row(struct ser *s, const void *o, const struct ocsf_object *d, unsigned i,
			      const struct ocsf_enum *e, bool *first, int depth)
{
	const uint64_t *pr = presence_of(o, d);
	const struct ocsf_field *f = &d->fields[i];
	bool present = ocsf_present_get(pr, i);

	if (f->sibling >= 0 && f->sibling < d->n_fields) {
		const struct ocsf_field *ef = &d->fields[f->sibling];
		if (ocsf_present_get(pr, (unsigned)f->sibling) && ef->kind == OCSF_K_ENUM_INT &&
		    caption_available(o, ef, present, e)) {
			comma(s, first);
			write_key(s, f);
			write_caption(s, o, ef, f, present, e);
			return;
		}
	}
	if (!present || !writable(o, f))
		return;
	write_member(s, first, f);
	write_field(s, o, f, depth);
}

/* `,"key":` of row r (without the comma for the first member): one fixed
 * 32-byte move when the buffer has room, the checked writer otherwise. */
__attribute__((always_inline)) static inline void put_key(struct ser *s, const struct prow *r,
							  bool *first, bool plain)
{
	struct ocsf_jsonw *w = &s->w;
	size_t skip = plain ? 0 : (*first ? 1 : 0);
	if (!plain)
		*first = false;
	if (r->klen && w->cap - w->len >= 32) {
		memcpy(w->buf + w->len, r->key + skip, 32);
		w->len += r->klen - skip;
		return;
	}
	ocsf_jsonw_member(w, skip == 0, r->f->name, key_len(r->f));
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

/* Caption row i of a planned object when its enum sibling is a present
 * scalar ENUM_INT (the usual shape): one enum lookup, the key in one move.
 * Returns false when the shape is another one or there is nothing to
 * caption, leaving the row to write_caption_row(). Same output. */
__attribute__((always_inline)) static inline bool
caption_fast(struct ser *s, const void *o, const struct ocsf_object *d, const struct prow *rows,
	     unsigned i, const struct ocsf_enum *e, bool *first)
{
	const struct ocsf_field *f = rows[i].f;
	const struct ocsf_field *ef = &d->fields[f->sibling];
	const uint64_t *pr = presence_of(o, d);

	if (!rows[i].capfast || !ocsf_present_get(pr, (unsigned)f->sibling))
		return false;
	bool present = ocsf_present_get(pr, i);
	const char *caller = present ? MEMBER_PTR(o, f->offset, const char) : NULL;
	int64_t v = MEMBER(o, ef->offset, int32_t);
	const struct ocsf_enum_item *it;
	/* Most enums are dense from 0: the direct slot, else the search. */
	if (e && v >= 0 && (uint64_t)v < e->count && e->items[v].value == v)
		it = &e->items[v];
	else
		it = ocsf_enum_find(e, v);
	if (!present && !it)
		return false;
	put_key(s, &rows[i], first, false);
	put_str(&s->w, (v == 99 && caller) ? caller : it ? it->caption : caller);
	return true;
}

static void write_plain_pl(struct ser *s, const void *o, const struct ocsf_object *d,
			   const struct plan *pl, int depth);

/* Room for any one fast row: its 32-byte key move, then up to 21 integer
 * bytes or a quoted string of up to 64 bytes (1 + 64 + 1). */
#define ROW_ROOM 128

/* One present row of a planned object. In a plain object (`plain`) every
 * member is written with its leading comma (the object's first comma is
 * turned into the '{' when it closes) and profiles are noted per word by
 * the caller; otherwise *first says whether to leave the comma out and the
 * row notes its profile. Scalars take one capacity check for key and value
 * together. */
__attribute__((always_inline)) static inline void write_row(struct ser *s, const void *o,
							    const struct ocsf_object *d,
							    struct prow *r, unsigned i, bool *first,
							    int depth, bool plain)
{
	struct ocsf_jsonw *w = &s->w;
	const unsigned char *m = (const unsigned char *)o + r->offset;
	size_t skip = plain ? 0 : (*first ? 1 : 0);
	/* After an overflow the output is discarded, so writing on inside cap
	 * is harmless: the fast paths test room only, not w->err. */
	bool room = w->cap - w->len >= ROW_ROOM; /* scalar ops have a key (plan_build) */
	char *p = w->buf + w->len;
	int64_t iv;

	if (!plain && r->profile >= 0)
		s->profiles[r->profile / 64] |= (uint64_t)1 << (r->profile % 64);
	switch ((enum op)r->op) {
	case OP_STR: {
		const char *v = *(const char *const *)(const void *)m;
		if (room) {
			memcpy(p, r->key + skip, 32);
			size_t kl = r->klen - skip;
			size_t n = str_fast(p + kl, v);
			if (!plain)
				*first = false;
			w->len += kl + n;
			if (!n)
				ocsf_jsonw_str_inline(w, v);
			return;
		}
		put_key(s, r, first, plain);
		ocsf_jsonw_str_inline(w, v);
		return;
	}
	case OP_I32:
	case OP_ENUM:
		iv = *(const int32_t *)(const void *)m;
		goto integer;
	case OP_I64:
		iv = *(const int64_t *)(const void *)m;
		goto integer;
	case OP_PORT:
		iv = *(const uint16_t *)(const void *)m;
		goto integer;
	case OP_BOOL: {
		bool b = *(const bool *)(const void *)m;
		if (room) {
			memcpy(p, r->key + skip, 32);
			size_t kl = r->klen - skip;
			memcpy(p + kl, b ? "true" : "false", 5);
			w->len += kl + (b ? 4 : 5);
			if (!plain)
				*first = false;
			return;
		}
		put_key(s, r, first, plain);
		ocsf_jsonw_bool(w, b);
		return;
	}
	case OP_OBJ: {
		const void *child = *(const void *const *)(const void *)m;
		if (!child)
			return;
		put_key(s, r, first, plain);
		const struct plan *cp = __atomic_load_n(&r->child, __ATOMIC_ACQUIRE);
		if (!cp) {
			cp = plan_of(r->f->object);
			if (cp)
				__atomic_store_n(&r->child, cp, __ATOMIC_RELEASE);
		}
		if (depth + 1 > OCSF_MAX_DEPTH + 1) {
			s->err = OSH_EDEPTH;
			return;
		}
		write_plain_pl(s, child, r->f->object, cp, depth + 1);
		return;
	}
	case OP_CAPTION: {
		const struct ocsf_enum *e = d->fields[r->f->sibling].enumeration;
		if (!caption_fast(s, o, d, r - i, i, e, first))
			write_caption_row(s, o, d, i, e, first, depth);
		return;
	}
	case OP_GENERIC:
	default:
		if (!writable(o, r->f))
			return;
		write_member(s, first, r->f);
		write_field(s, o, r->f, depth);
		return;
	}
integer:
	if (room) {
		memcpy(p, r->key + skip, 32);
		size_t kl = r->klen - skip;
		w->len += kl + put_int(p + kl, iv);
		if (!plain)
			*first = false;
		return;
	}
	put_key(s, r, first, plain);
	ocsf_jsonw_int(w, iv);
}

/* An ordinary object (not the class, not metadata): present fields plus
 * the captions of present enums, nothing derived. */
static void write_plain_pl(struct ser *s, const void *o, const struct ocsf_object *d,
			   const struct plan *pl, int depth)
{
	const uint64_t *pr = presence_of(o, d);
	unsigned words = ((unsigned)d->n_fields + 63) / 64;
	uint64_t want[MAX_WORDS];
	bool first = true;

	if (!visit_mask(s, o, d, pl, false, false, want)) {
		s->err = OSH_EINVAL;
		return;
	}
	if (pl) {
		/* Every member goes out as `,"key":value`; the first comma
		 * becomes the '{' at the end (or '{' is written if there was no
		 * member). Generic paths see first == false, so they write
		 * their comma too. */
		size_t start = s->w.len;
		first = false;
		for (unsigned k = 0; k < words; k++) {
			uint64_t wk = want[k] & pl->valid[k];
			for (uint64_t m = wk & pl->profrows[k]; m; m &= m - 1) {
				unsigned pf =
				    (uint8_t)pl->rows[k * 64 + (unsigned)__builtin_ctzll(m)]
					.profile;
				s->profiles[pf / 64] |= (uint64_t)1 << (pf % 64);
			}
			for (uint64_t m = wk; m; m &= m - 1) {
				unsigned i = k * 64 + (unsigned)__builtin_ctzll(m);
				write_row(s, o, d, &pl->rows[i], i, &first, depth, true);
			}
			if (s->err || s->w.err)
				break;
		}
		if (s->w.len == start)
			ocsf_jsonw_char(&s->w, '{');
		else
			s->w.buf[start] = '{';
		ocsf_jsonw_char(&s->w, '}');
		return;
	}
	ocsf_jsonw_char(&s->w, '{');
	for (unsigned k = 0; k < words; k++) {
		for (uint64_t m = want[k]; m; m &= m - 1) {
			unsigned i = k * 64 + (unsigned)__builtin_ctzll(m);
			if (i >= d->n_fields)
				break;
			const struct ocsf_field *f = &d->fields[i];
			if (f->flags & OCSF_F_CAPTION) {
				write_caption_row(s, o, d, i,
						  f->sibling >= 0 && f->sibling < d->n_fields
						      ? d->fields[f->sibling].enumeration
						      : NULL,
						  &first, depth);
				continue;
			}
			if (!ocsf_present_get(pr, i) || !writable(o, f))
				continue;
			write_member(s, &first, f);
			write_field(s, o, f, depth);
		}
		if (s->err || s->w.err)
			break;
	}
	ocsf_jsonw_char(&s->w, '}');
}

/* Class-level derived value, with its key from row r, else field f, else
 * none; false when there is nothing to write. */
static bool write_derived(struct ser *s, const void *ev, enum derived k, bool *first,
			  const struct ocsf_field *f, const struct prow *r)
{
	const struct ocsf_class *c = s->cls;
	bool have_act = s->have_act;
	int32_t act = s->act;
	const struct ocsf_enum_item *ai = s->act_item;
	(void)ev;

	if ((k == D_TYPE_UID && !have_act) || (k == D_TYPE_NAME && !ai))
		return false;
	if (r) {
		put_key(s, r, first, false);
	} else if (f) { /* NULL f: the value only (dcache_fill) */
		if (!*first)
			ocsf_jsonw_char(&s->w, ',');
		*first = false;
		write_key(s, f);
	}
	switch (k) {
	case D_CLASS_UID:
		put_int_checked(&s->w, c->class_uid);
		break;
	case D_CLASS_NAME:
		put_str(&s->w, c->class_name);
		break;
	case D_CATEGORY_UID:
		put_int_checked(&s->w, c->category_uid);
		break;
	case D_CATEGORY_NAME:
		put_str(&s->w, c->category_name);
		break;
	case D_TYPE_UID:
		put_int_checked(&s->w, (int64_t)c->class_uid * 100 + act);
		break;
	case D_TYPE_NAME: {
		const char *cn = c->class_name ? c->class_name : "";
		const char *an = ai->caption ? ai->caption : "";
		struct ocsf_jsonw *w = &s->w;
		bool pc, pa;
		size_t nc = scan_plain(cn, &pc), na = scan_plain(an, &pa);
		/* Schema captions are plain text: copy both straight in. */
		if (pc && pa && !w->err && nc + na + 4 <= w->cap - w->len) {
			char *p = w->buf + w->len;
			p[0] = '"';
			memcpy(p + 1, cn, nc);
			p[1 + nc] = ':';
			p[2 + nc] = ' ';
			memcpy(p + 3 + nc, an, na);
			p[3 + nc + na] = '"';
			w->len += nc + na + 4;
			break;
		}
		ocsf_jsonw_char(w, '"');
		ocsf_jsonw_strbody(w, cn, nc);
		ocsf_jsonw_raw(w, ": ", 2);
		ocsf_jsonw_strbody(w, an, na);
		ocsf_jsonw_char(w, '"');
		break;
	}
	default:
		break;
	}
	return true;
}

/* The class-level derived members depend only on the class and the
 * activity, which repeat from event to event at a site: the last pair's
 * `"key":value` texts are kept per thread and copied in. */
#define DCACHE_ROOM 512
#define DCACHE_NONE 0xffffu /* text did not fit: take write_derived() */

struct dcache {
	const struct ocsf_class *cls;
	const struct ocsf_enum_item *ai;
	int32_t act;
	bool have_act;
	uint16_t at[D_TYPE_NAME + 1];  /* start of each kind's text in buf */
	uint16_t len[D_TYPE_NAME + 1]; /* its length; 0 nothing to write */
	char buf[DCACHE_ROOM];
};

static _Thread_local struct dcache dcache;

static void dcache_fill(const struct ser *s)
{
	static const char *const names[D_TYPE_NAME + 1] = {
	    [D_CLASS_UID] = "class_uid",       [D_CLASS_NAME] = "class_name",
	    [D_CATEGORY_UID] = "category_uid", [D_CATEGORY_NAME] = "category_name",
	    [D_TYPE_UID] = "type_uid",	       [D_TYPE_NAME] = "type_name",
	};
	struct dcache *c = &dcache;
	size_t pos = 0;

	for (int k = D_CLASS_UID; k <= D_TYPE_NAME; k++) {
		struct ser t = *s;
		bool first = true;
		ocsf_jsonw_init(&t.w, c->buf + pos, DCACHE_ROOM - pos);
		ocsf_jsonw_key(&t.w, names[k], strlen(names[k]));
		bool wrote = write_derived(&t, NULL, (enum derived)k, &first, NULL, NULL);
		size_t n = 0;
		if (ocsf_jsonw_finish(&t.w, &n) != 0) {
			c->at[k] = DCACHE_NONE;
			c->len[k] = 0;
			continue;
		}
		c->at[k] = (uint16_t)pos;
		c->len[k] = wrote ? (uint16_t)n : 0;
		pos += c->len[k];
	}
	c->cls = s->cls;
	c->ai = s->act_item;
	c->act = s->act;
	c->have_act = s->have_act;
}

/* Derived member k from the cache; false when it must be written by
 * write_derived() instead. */
static inline bool derived_cached(struct ser *s, enum derived k, bool *first)
{
	struct dcache *c = &dcache;
	struct ocsf_jsonw *w = &s->w;

	if (c->cls != s->cls || c->ai != s->act_item || c->act != s->act ||
	    c->have_act != s->have_act)
		dcache_fill(s);
	if (c->at[k] == DCACHE_NONE)
		return false;
	size_t n = c->len[k];
	if (!n)
		return true;
	if (n + 1 > w->cap - w->len)
		return false;
	char *p = w->buf + w->len;
	if (!*first)
		*p++ = ',';
	ocsf_jsonw_copy_short(p, c->buf + c->at[k], n);
	w->len += n + (*first ? 0 : 1);
	*first = false;
	return true;
}

static void write_object(struct ser *s, const void *o, const struct ocsf_object *d, int depth,
			 bool is_metadata)
{
	const uint64_t *pr = presence_of(o, d);
	bool is_class = depth == 0;
	bool first = true;
	uint64_t want[MAX_WORDS];

	if (depth > OCSF_MAX_DEPTH + 1) {
		s->err = OSH_EDEPTH;
		return;
	}
	if (!is_class && !is_metadata) {
		write_plain_pl(s, o, d, plan_of(d), depth);
		return;
	}
	const struct plan *pl = plan_of(d);
	if (!visit_mask(s, o, d, pl, is_class, is_metadata, want)) {
		s->err = OSH_EINVAL;
		return;
	}
	unsigned words = ((unsigned)d->n_fields + 63) / 64;
	int md_idx = is_class ? s->cls->metadata_field : -1;
	ocsf_jsonw_char(&s->w, '{');
	for (unsigned k = 0; k < words; k++) {
		/* Ordinary rows (present, not derived/caption/metadata) go
		 * straight to the row writer. */
		uint64_t ord = pl ? pr[k] & ~pl->special[k] & pl->valid[k] : 0;
		uint64_t valid = ~(uint64_t)0;
		if (md_idx >= 0 && (unsigned)md_idx / 64 == k)
			ord &= ~((uint64_t)1 << (md_idx % 64));
		if (k == words - 1 && d->n_fields % 64)
			valid = ((uint64_t)1 << (d->n_fields % 64)) - 1;
		/* Errors are checked once per word: what is written after one
		 * stays inside cap and is discarded. */
		if (s->err || s->w.err)
			break;
		for (uint64_t m = want[k] & valid; m; m &= m - 1) {
			unsigned i = k * 64 + (unsigned)__builtin_ctzll(m);
			if ((ord >> (i % 64)) & 1) {
				write_row(s, o, d, &pl->rows[i], i, &first, depth, false);
				continue;
			}
			const struct ocsf_field *f = &d->fields[i];
			bool present = ocsf_present_get(pr, i);

			if (f->flags & OCSF_F_DERIVED) {
				enum derived dk = derived_kind_at(d, pl, i);
				if (is_class && dk >= D_CLASS_UID && dk <= D_TYPE_NAME) {
					if (!derived_cached(s, dk, &first))
						write_derived(s, o, dk, &first, f,
							      pl ? &pl->rows[i] : NULL);
					continue;
				}
				if (is_metadata && dk == D_VERSION) {
					if (pl)
						put_key(s, &pl->rows[i], &first, false);
					else
						write_member(s, &first, f);
					put_str(&s->w, ocsf_schema_version());
					continue;
				}
				if (is_metadata && dk == D_PROFILES) {
					mark_profiles(s, first);
					continue;
				}
			}
			if ((f->flags & OCSF_F_CAPTION) && f->sibling >= 0 &&
			    f->sibling < d->n_fields) {
				const struct ocsf_field *ef = &d->fields[f->sibling];
				const struct ocsf_enum *e = ef->enumeration;
				if (is_class && s->cls->activity_field == f->sibling &&
				    s->cls->activity)
					e = s->cls->activity;
				if (pl && pl->rows[i].op == OP_CAPTION &&
				    caption_fast(s, o, d, pl->rows, i, e, &first))
					continue;
				if (ocsf_present_get(pr, (unsigned)f->sibling) &&
				    ef->kind == OCSF_K_ENUM_INT &&
				    caption_available(o, ef, present, e)) {
					comma(s, &first);
					write_key(s, f);
					write_caption(s, o, ef, f, present, e);
					continue;
				}
			}
			if (is_class && (int)i == s->cls->metadata_field &&
			    f->kind == OCSF_K_OBJECT && !(f->flags & OCSF_F_ARRAY)) {
				const void *md =
				    present ? MEMBER_PTR(o, f->offset, const void) : NULL;
				comma(s, &first);
				write_key(s, f);
				if (md) {
					write_object(s, md, f->object, depth + 1, true);
				} else {
					/* No metadata set: still carry what the schema fixes. */
					bool mfirst = true;
					ocsf_jsonw_char(&s->w, '{');
					write_metadata_fixed(s, &mfirst);
					ocsf_jsonw_char(&s->w, '}');
				}
				continue;
			}
			if (!present)
				continue;
			if (pl && pl->rows[i].op != OP_CAPTION) {
				write_row(s, o, d, &pl->rows[i], i, &first, depth, false);
				continue;
			}
			if (!writable(o, f))
				continue;
			write_member(s, &first, f);
			write_field(s, o, f, depth);
		}
	}
	ocsf_jsonw_char(&s->w, '}');
}

/* Inserts `"profiles":[...]` at the mark left in metadata. */
static void insert_profiles(struct ser *s)
{
	char tmp[4096];
	struct ocsf_jsonw w = s->w;
	size_t n;

	collect_profiles(s);
	if (!s->prof_wanted || !s->n_pnames || s->w.err)
		return;
	/* Common case: every name is plain, so the exact size is known; open
	 * the gap once and write the list straight into it. */
	n = 1 + 12 + 1 + (s->n_pnames - 1); /* one comma, `"profiles":[`, `]`, separators */
	bool plain = true;
	for (unsigned k = 0; k < s->n_pnames && plain; k++) {
		plain = prof_len[s->pidx[k]] < 255;
		n += (size_t)prof_len[s->pidx[k]] + 2;
	}
	if (plain) {
		if (n > s->w.cap - s->w.len) {
			s->w.err = OSH_ETOOBIG;
			return;
		}
		char *p = s->w.buf + s->prof_at;
		memmove(p + n, p, s->w.len - s->prof_at);
		if (!s->prof_first)
			*p++ = ',';
		memcpy(p, "\"profiles\":[", 12);
		p += 12;
		for (unsigned k = 0; k < s->n_pnames; k++) {
			unsigned i = s->pidx[k];
			if (k)
				*p++ = ',';
			*p++ = '"';
			ocsf_jsonw_copy_short(p, ocsf_profile_name((int)i), prof_len[i]);
			p += prof_len[i];
			*p++ = '"';
		}
		*p++ = ']';
		if (s->prof_first) /* "version" always follows */
			*p++ = ',';
		s->w.len += n;
		return;
	}
	s->w.buf = tmp;
	s->w.cap = sizeof(tmp);
	s->w.len = 0;
	if (!s->prof_first)
		ocsf_jsonw_char(&s->w, ',');
	ocsf_jsonw_key(&s->w, "profiles", 8);
	write_profiles(s);
	if (s->prof_first) /* "version" always follows */
		ocsf_jsonw_char(&s->w, ',');
	n = s->w.len;
	int err = s->w.err;
	s->w = w;
	if (err || n > s->w.cap - s->w.len) {
		s->w.err = OSH_ETOOBIG;
		return;
	}
	memmove(s->w.buf + s->prof_at + n, s->w.buf + s->prof_at, s->w.len - s->prof_at);
	memcpy(s->w.buf + s->prof_at, tmp, n);
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
	s.n_pnames = 0;
	s.prof_wanted = false;
	s.err = 0;
	ocsf_jsonw_init(&s.w, buf, cap);
	write_object(&s, ev, ev->cls->object, 0, false);
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
