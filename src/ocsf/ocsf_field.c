/* ocsf_field.c - set any attribute by descriptor index, and check an event.
 *
 * DESIGN
 * Tools (the sample builder, tests) need to fill attributes they only know
 * from the descriptor tables. These functions do what the generated typed
 * setters do (store the member, set the presence bit, append for arrays),
 * with a kind check instead of a C type check. The checker walks the same
 * tables to report the first schema rule an event breaks; it is the C-side
 * twin of tools/ocsf-validate, usable in tests without Python.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ocsf.h"
#include "ocsf_jsonw.h"

#define MEMBER_P(o, off)   ((void *)((unsigned char *)(o) + (off)))
#define CMEMBER(o, off, T) (*(const T *)(const void *)((const unsigned char *)(o) + (off)))

static uint64_t *presence(struct ocsf_hdr *o)
{
	return (uint64_t *)MEMBER_P(o, o->desc->presence_offset);
}

static const uint64_t *cpresence(const struct ocsf_hdr *o)
{
	return (const uint64_t *)(const void *)((const unsigned char *)o +
						o->desc->presence_offset);
}

/* Where to store one value of field idx: the member, or a new array slot.
 * NULL with *rc set when the arena failed. */
static void *slot_for(struct ocsf_hdr *o, const struct ocsf_field *f, unsigned idx, size_t esz,
		      int *rc)
{
	if (o->arena->err) {
		*rc = o->arena->err;
		return NULL;
	}
	if (!(f->flags & OCSF_F_ARRAY)) {
		ocsf_present_set(presence(o), idx);
		return MEMBER_P(o, f->offset);
	}
	void *p = ocsf_array_push(o, (struct ocsf_array *)MEMBER_P(o, f->offset), esz, idx);
	if (o->arena->err) {
		*rc = o->arena->err;
		return NULL;
	}
	return p;
}

static const struct ocsf_field *field_of(const struct ocsf_hdr *o, unsigned idx)
{
	if (!o || !o->desc || idx >= o->desc->n_fields)
		return NULL;
	return &o->desc->fields[idx];
}

int ocsf_field_set_int(struct ocsf_hdr *o, unsigned idx, int64_t v)
{
	const struct ocsf_field *f = field_of(o, idx);
	int rc = OSH_EINVAL;
	void *p;

	if (!f)
		goto out;
	switch (f->kind) {
	case OCSF_K_INT:
	case OCSF_K_ENUM_INT:
		if (v < INT32_MIN || v > INT32_MAX)
			goto out;
		rc = 0;
		p = slot_for(o, f, idx, sizeof(int32_t), &rc);
		if (p)
			*(int32_t *)p = (int32_t)v;
		break;
	case OCSF_K_LONG:
		rc = 0;
		p = slot_for(o, f, idx, sizeof(int64_t), &rc);
		if (p)
			*(int64_t *)p = v;
		break;
	case OCSF_K_PORT:
		if (v < 0 || v > 65535)
			goto out;
		rc = 0;
		p = slot_for(o, f, idx, sizeof(uint16_t), &rc);
		if (p)
			*(uint16_t *)p = (uint16_t)v;
		break;
	case OCSF_K_BOOL:
		rc = ocsf_field_set_bool(o, idx, v != 0);
		break;
	default:
		break;
	}
out:
	return rc;
}

int ocsf_field_set_float(struct ocsf_hdr *o, unsigned idx, double v)
{
	const struct ocsf_field *f = field_of(o, idx);
	int rc = OSH_EINVAL;

	if (f && f->kind == OCSF_K_FLOAT) {
		rc = 0;
		double *p = slot_for(o, f, idx, sizeof(double), &rc);
		if (p)
			*p = v;
	}
	return rc;
}

int ocsf_field_set_bool(struct ocsf_hdr *o, unsigned idx, bool v)
{
	const struct ocsf_field *f = field_of(o, idx);
	int rc = OSH_EINVAL;

	if (f && f->kind == OCSF_K_BOOL) {
		rc = 0;
		bool *p = slot_for(o, f, idx, sizeof(bool), &rc);
		if (p)
			*p = v;
	}
	return rc;
}

int ocsf_field_set_str(struct ocsf_hdr *o, unsigned idx, const char *v)
{
	const struct ocsf_field *f = field_of(o, idx);
	int rc = OSH_EINVAL;

	if (f &&
	    (f->kind == OCSF_K_STRING || f->kind == OCSF_K_JSON || f->kind == OCSF_K_ENUM_STR)) {
		rc = 0;
		const char **p = slot_for(o, f, idx, sizeof(char *), &rc);
		if (p)
			*p = v ? v : "";
	}
	return rc;
}

struct ocsf_hdr *ocsf_field_object(struct ocsf_hdr *o, unsigned idx)
{
	const struct ocsf_field *f = field_of(o, idx);

	if (!f || f->kind != OCSF_K_OBJECT || !f->object)
		return NULL;
	if (f->flags & OCSF_F_ARRAY)
		return ocsf_array_push_object(o, (struct ocsf_array *)MEMBER_P(o, f->offset), idx,
					      f->object);
	return ocsf_object_get(o, (void **)MEMBER_P(o, f->offset), idx, f->object);
}

int ocsf_field_open_add(struct ocsf_hdr *o, unsigned idx, const struct ocsf_kv *kv)
{
	const struct ocsf_field *f = field_of(o, idx);
	int rc = OSH_EINVAL;

	if (!f || f->kind != OCSF_K_OPEN_OBJECT || (f->flags & OCSF_F_ARRAY) || !kv)
		goto out;
	struct ocsf_array *a = (struct ocsf_array *)MEMBER_P(o, f->offset);
	switch (kv->type) {
	case OCSF_KV_STRING:
		ocsf_open_add_str(o, a, idx, kv->key, kv->v.s);
		break;
	case OCSF_KV_INT:
		ocsf_open_add_int(o, a, idx, kv->key, kv->v.i);
		break;
	case OCSF_KV_BOOL:
		ocsf_open_add_bool(o, a, idx, kv->key, kv->v.b);
		break;
	case OCSF_KV_FLOAT:
		ocsf_open_add_float(o, a, idx, kv->key, kv->v.f);
		break;
	case OCSF_KV_JSON:
		ocsf_open_add_json(o, a, idx, kv->key, kv->v.s);
		break;
	default:
		goto out;
	}
	rc = o->arena->err;
out:
	return rc;
}

bool ocsf_field_present(const struct ocsf_hdr *o, unsigned idx)
{
	if (!o || !o->desc || idx >= o->desc->n_fields)
		return false;
	return ocsf_present_get(cpresence(o), idx);
}

unsigned ocsf_object_count_present(const struct ocsf_hdr *o)
{
	unsigned n = 0;
	for (unsigned i = 0; o && o->desc && i < o->desc->n_fields; i++)
		n += ocsf_present_get(cpresence(o), i);
	return n;
}

/* ---------------------------------------------------------------- checker */

struct chk {
	uint64_t profiles[2]; /* profiles the event uses */
	char *why;
	size_t whylen;
	int rc;
	char path[256];
};

static void fail(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct chk *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (c->rc)
		goto out;
	c->rc = OSH_EINVAL;
	if (!c->why || !c->whylen)
		goto out;
	n = snprintf(c->why, c->whylen, "%s%s", c->path, c->path[0] ? ": " : "");
	if (n < 0 || (size_t)n >= c->whylen)
		goto out;
	/* ap is started above on every path; the analyzer loses track of it
	 * across the gotos. */
	vsnprintf(c->why + n, c->whylen - (size_t)n, fmt,
		  ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
out:
	va_end(ap);
}

/* Appends ".name" (or "name") to the path; returns the old length. */
static size_t path_push(struct chk *c, const char *name, int index)
{
	size_t old = strlen(c->path);
	size_t room = sizeof(c->path) - old;
	if (index >= 0)
		snprintf(c->path + old, room, "%s%s[%d]", old ? "." : "", name, index);
	else
		snprintf(c->path + old, room, "%s%s", old ? "." : "", name);
	return old;
}

static bool is_derived_name(const char *n)
{
	return strcmp(n, "class_uid") == 0 || strcmp(n, "class_name") == 0 ||
	       strcmp(n, "category_uid") == 0 || strcmp(n, "category_name") == 0 ||
	       strcmp(n, "type_uid") == 0 || strcmp(n, "type_name") == 0;
}

static void check_object(struct chk *c, const struct ocsf_hdr *o, int depth, bool is_class,
			 bool is_metadata);

static void check_value(struct chk *c, const struct ocsf_field *f, const void *p, int depth)
{
	switch (f->kind) {
	case OCSF_K_ENUM_INT: {
		int32_t v = *(const int32_t *)p;
		if (f->enumeration && !ocsf_enum_find(f->enumeration, v))
			fail(c, "%s: value %d is not in enum %s", f->name, (int)v,
			     f->enumeration->name ? f->enumeration->name : "?");
		break;
	}
	case OCSF_K_ENUM_STR: {
		const char *v = *(const char *const *)p;
		if (f->enumeration && !ocsf_enum_find_key(f->enumeration, v))
			fail(c, "%s: \"%s\" is not in enum %s", f->name, v ? v : "",
			     f->enumeration->name ? f->enumeration->name : "?");
		break;
	}
	case OCSF_K_FLOAT: {
		double v = *(const double *)p;
		if (!isfinite(v))
			fail(c, "%s: float is NaN or infinite", f->name);
		else if (f->has_range && (v < f->min || v > f->max))
			fail(c, "%s: %g outside [%g, %g]", f->name, v, f->min, f->max);
		break;
	}
	case OCSF_K_INT:
	case OCSF_K_LONG:
	case OCSF_K_PORT: {
		double v = f->kind == OCSF_K_INT    ? (double)*(const int32_t *)p
			   : f->kind == OCSF_K_LONG ? (double)*(const int64_t *)p
						    : (double)*(const uint16_t *)p;
		if (f->has_range && (v < f->min || v > f->max))
			fail(c, "%s: %.0f outside [%g, %g]", f->name, v, f->min, f->max);
		break;
	}
	case OCSF_K_JSON: {
		const char *t = *(const char *const *)p;
		if (!t || !ocsf_json_valid(t, strlen(t)))
			fail(c, "%s: json_t value is not valid JSON text", f->name);
		break;
	}
	case OCSF_K_OBJECT: {
		const struct ocsf_hdr *h = *(const struct ocsf_hdr *const *)p;
		if (h && f->object)
			check_object(c, h, depth + 1, false, false);
		break;
	}
	default:
		break;
	}
}

static void check_object(struct chk *c, const struct ocsf_hdr *o, int depth, bool is_class,
			 bool is_metadata)
{
	const struct ocsf_object *d = o->desc;
	const uint64_t *pr = cpresence(o);

	if (depth > OCSF_MAX_DEPTH + 1) {
		fail(c, "objects nest deeper than %d", OCSF_MAX_DEPTH);
		return;
	}
	for (unsigned i = 0; i < d->n_fields && !c->rc; i++) {
		const struct ocsf_field *f = &d->fields[i];
		bool present = ocsf_present_get(pr, i);
		if (!present) {
			/* Filled by the serializer: not the caller's job. */
			bool filled = (f->flags & (OCSF_F_DERIVED | OCSF_F_CAPTION)) ||
				      (is_class && is_derived_name(f->name)) ||
				      (is_metadata && strcmp(f->name, "version") == 0);
			/* A profile's attribute is required only when the
			 * event declares (uses) that profile. */
			bool active = f->profile < 0 ||
				      ((c->profiles[f->profile / 64] >> (f->profile % 64)) & 1);
			if ((f->flags & OCSF_F_REQUIRED) && !filled && active)
				fail(c, "required attribute %s is missing", f->name);
			continue;
		}
		if (is_class && is_derived_name(f->name))
			continue;
		if (f->flags & OCSF_F_ARRAY) {
			const struct ocsf_array *a = &CMEMBER(o, f->offset, struct ocsf_array);
			if (f->kind == OCSF_K_OPEN_OBJECT)
				continue;
			size_t es =
			    f->kind == OCSF_K_INT || f->kind == OCSF_K_ENUM_INT ? sizeof(int32_t)
			    : f->kind == OCSF_K_PORT				? sizeof(uint16_t)
			    : f->kind == OCSF_K_BOOL				? sizeof(bool)
			    : f->kind == OCSF_K_LONG || f->kind == OCSF_K_FLOAT ? 8
										: sizeof(void *);
			for (uint32_t k = 0; k < a->len && !c->rc; k++) {
				size_t old = path_push(c, f->name, (int)k);
				if (f->kind != OCSF_K_OBJECT)
					c->path[old] = '\0';
				check_value(c, f, (const unsigned char *)a->items + (size_t)k * es,
					    depth);
				if (!c->rc)
					c->path[old] = '\0';
			}
			continue;
		}
		if (f->kind == OCSF_K_OBJECT) {
			size_t old = path_push(c, f->name, -1);
			const struct ocsf_hdr *h = *(
			    const struct ocsf_hdr *const *)(const void *)((const unsigned char *)o +
									  f->offset);
			if (h && f->object)
				check_object(c, h, depth + 1, false,
					     is_class && c->rc == 0 &&
						 strcmp(f->name, "metadata") == 0);
			if (!c->rc)
				c->path[old] = '\0';
			continue;
		}
		check_value(c, f, (const unsigned char *)o + f->offset, depth);
	}
	for (unsigned k = 0; k < d->n_constraints && !c->rc; k++) {
		const struct ocsf_constraint *cn = &d->constraints[k];
		unsigned n = 0;
		char names[160];
		size_t nl = 0;
		names[0] = '\0';
		for (const int16_t *fi = cn->fields; *fi >= 0; fi++) {
			if (*fi < d->n_fields && ocsf_present_get(pr, (unsigned)*fi))
				n++;
			if (*fi < d->n_fields && nl < sizeof(names)) {
				int w = snprintf(names + nl, sizeof(names) - nl, "%s%s",
						 nl ? ", " : "", d->fields[*fi].name);
				if (w > 0)
					nl += (size_t)w;
			}
		}
		if (cn->just_one && n != 1)
			fail(c, "exactly one of %s required (%u set)", names, n);
		else if (!cn->just_one && n == 0)
			fail(c, "at least one of %s required", names);
	}
}

int ocsf_event_check(const struct ocsf_event *ev, char *why, size_t whylen)
{
	struct chk c;

	memset(&c, 0, sizeof(c));
	c.why = why;
	c.whylen = whylen;
	if (why && whylen)
		why[0] = '\0';
	if (!ev || !ev->cls || !ev->hdr.desc) {
		fail(&c, "no event or no class");
		goto out;
	}
	if (ev->arena.err) {
		c.rc = ev->arena.err;
		if (why && whylen)
			snprintf(why, whylen, "event build failed: %s",
				 ev->arena.err_what ? ev->arena.err_what : "error");
		goto out;
	}
	ocsf_event_profiles(ev, c.profiles);
	check_object(&c, &ev->hdr, 0, true, false);
out:
	return c.rc;
}
