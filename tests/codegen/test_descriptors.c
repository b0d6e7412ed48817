/* test_descriptors.c - invariants of the generated descriptor tables.
 *
 * DESIGN
 * The runtime (serializer, caption fill, profile computation, sample
 * builder) trusts generated/c/ocsf_gen.c blindly; this test proves the
 * properties it relies on for every class and object: fields sorted by JSON
 * name, offsets inside the struct, presence bits that fit, symmetric
 * enum/caption siblings, sorted enum tables, valid constraint and profile
 * indexes, a closed object set, a working class lookup, and serializer
 * plans that say what the descriptors say (keys, opcodes, offsets, masks,
 * derived texts; checked against rules restated here). It links
 * ocsf_gen.c alone (no runtime), so it checks the generator output only.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ocsf_gen.h"

static bool in_all_objects(const struct ocsf_object *o)
{
	bool found = false;

	for (size_t i = 0; i < ocsf_all_objects_count; i++)
		if (ocsf_all_objects[i] == o)
			found = true;
	return found;
}

static void check_enum(const struct ocsf_enum *e, bool is_str)
{
	cr_assert_not_null(e);
	cr_assert_gt(e->count, 0, "%s empty", e->name);
	for (uint32_t i = 0; i + 1 < e->count; i++) {
		if (is_str)
			cr_assert_lt(strcmp(e->items[i].key, e->items[i + 1].key), 0, "%s",
				     e->name);
		else
			cr_assert_lt(e->items[i].value, e->items[i + 1].value, "%s", e->name);
	}
	for (uint32_t i = 0; i < e->count; i++)
		cr_assert(e->items[i].caption != NULL && e->items[i].caption[0] != '\0');
}

static void check_object(const struct ocsf_object *o, bool is_class)
{
	size_t words = ((size_t)o->n_fields + 63) / 64;

	cr_assert_gt(o->n_fields, 0, "%s has no fields", o->name);
	cr_assert_geq(o->presence_offset,
		      is_class ? sizeof(struct ocsf_event) : sizeof(struct ocsf_hdr), "%s",
		      o->name);
	if (!is_class)
		cr_assert_leq(o->size, OCSF_MAX_OBJECT_SIZE, "%s", o->name);
	for (uint16_t i = 0; i < o->n_fields; i++) {
		const struct ocsf_field *f = &o->fields[i];

		if (i > 0)
			cr_assert_lt(strcmp(o->fields[i - 1].name, f->name), 0, "%s.%s not sorted",
				     o->name, f->name);
		cr_assert_geq(f->offset, o->presence_offset + words * sizeof(uint64_t), "%s.%s",
			      o->name, f->name);
		cr_assert_lt(f->offset, o->size, "%s.%s", o->name, f->name);
		cr_assert_leq(f->kind, OCSF_K_OPEN_OBJECT);
		cr_assert(f->profile >= -1 && f->profile < (int)ocsf_profile_names_count);
		if (f->kind == OCSF_K_OBJECT) {
			cr_assert_not_null(f->object, "%s.%s", o->name, f->name);
			cr_assert(in_all_objects(f->object), "%s.%s -> %s not in ocsf_all_objects",
				  o->name, f->name, f->object->name);
		} else {
			cr_assert_null(f->object);
		}
		if (f->kind == OCSF_K_ENUM_INT || f->kind == OCSF_K_ENUM_STR)
			check_enum(f->enumeration, f->kind == OCSF_K_ENUM_STR);
		if (f->kind == OCSF_K_PORT)
			cr_assert(f->has_range && f->min == 0 && f->max == 65535);
		if (f->sibling >= 0) {
			const struct ocsf_field *s = &o->fields[f->sibling];

			cr_assert_lt(f->sibling, o->n_fields);
			cr_assert_eq(s->sibling, i, "%s.%s sibling not symmetric", o->name,
				     f->name);
			if (f->flags & OCSF_F_CAPTION)
				cr_assert(s->kind == OCSF_K_ENUM_INT || s->kind == OCSF_K_ENUM_STR);
			else
				cr_assert(s->flags & OCSF_F_CAPTION, "%s.%s", o->name, s->name);
		}
	}
	for (uint16_t c = 0; c < o->n_constraints; c++) {
		const int16_t *idx = o->constraints[c].fields;
		int n = 0;

		for (; *idx != -1; idx++, n++)
			cr_assert(*idx >= 0 && *idx < o->n_fields, "%s constraint %u", o->name, c);
		cr_assert_gt(n, 0);
	}
}

static uint64_t bit_of(unsigned i)
{
	return (uint64_t)1 << (i % 64);
}

/* The opcode a field's plan row must have (enum ocsf_op), restated from the
 * descriptor: derived rows first, then the class's metadata, captions,
 * arrays, scalars by kind. */
static int expected_op(const struct ocsf_object *o, const struct ocsf_field *f, bool is_class)
{
	static const char *const consts[] = {"class_uid", "class_name", "category_uid",
					     "category_name", "version"};
	bool is_meta = o == &ocsf_metadata_desc;

	if (f->flags & OCSF_F_DERIVED) {
		for (size_t k = 0; k < sizeof(consts) / sizeof(consts[0]); k++)
			if (strcmp(f->name, consts[k]) == 0)
				return OCSF_OP_CONST;
		if (is_class && strcmp(f->name, "type_uid") == 0)
			return OCSF_OP_TYPE_UID;
		if (is_class && strcmp(f->name, "type_name") == 0)
			return OCSF_OP_TYPE_NAME;
		if (is_meta && strcmp(f->name, "profiles") == 0)
			return OCSF_OP_PROFILES;
	}
	if (is_class && strcmp(f->name, "metadata") == 0)
		return OCSF_OP_METADATA;
	if (f->flags & OCSF_F_CAPTION) {
		const struct ocsf_field *e = &o->fields[f->sibling];
		return e->kind == OCSF_K_ENUM_INT && !((e->flags | f->flags) & OCSF_F_ARRAY)
			   ? OCSF_OP_CAPTION
			   : OCSF_OP_CAPTION_ANY;
	}
	if (f->flags & OCSF_F_ARRAY)
		return OCSF_OP_GENERIC;
	switch (f->kind) {
	case OCSF_K_STRING:
	case OCSF_K_ENUM_STR:
		return OCSF_OP_STR;
	case OCSF_K_INT:
	case OCSF_K_ENUM_INT:
		return OCSF_OP_I32;
	case OCSF_K_LONG:
		return OCSF_OP_I64;
	case OCSF_K_PORT:
		return OCSF_OP_PORT;
	case OCSF_K_BOOL:
		return OCSF_OP_BOOL;
	case OCSF_K_OBJECT:
		return OCSF_OP_OBJ;
	default:
		return OCSF_OP_GENERIC;
	}
}

static void check_plan(const struct ocsf_object *o, const struct ocsf_class *c)
{
	const struct ocsf_plan *pl = o->plan;
	bool top = c != NULL || o == &ocsf_metadata_desc;
	uint64_t valid[OCSF_PLAN_WORDS] = {0}, always[OCSF_PLAN_WORDS] = {0};
	uint64_t prev[OCSF_PLAN_WORDS] = {0}, next[OCSF_PLAN_WORDS] = {0};
	uint64_t far[OCSF_PLAN_WORDS] = {0}, prof[OCSF_PLAN_WORDS] = {0};
	char want[128];

	cr_assert_not_null(pl, "%s has no plan", o->name);
	cr_assert_eq(pl->desc, o, "%s plan points elsewhere", o->name);
	cr_assert_eq(pl->words, (o->n_fields + 63) / 64, "%s", o->name);
	for (uint16_t i = 0; i < o->n_fields; i++) {
		const struct ocsf_field *f = &o->fields[i];
		const struct ocsf_plan_row *r = &pl->rows[i];
		int op = expected_op(o, f, c != NULL);

		snprintf(want, sizeof(want), ",\"%s\":", f->name);
		cr_assert_eq(r->op, op, "%s.%s op %d, expected %d", o->name, f->name, r->op, op);
		cr_assert_str_eq(r->key, want, "%s.%s", o->name, f->name);
		if (op != OCSF_OP_CONST)
			cr_assert_eq(r->klen, strlen(want), "%s.%s", o->name, f->name);
		cr_assert_eq(r->offset, f->offset, "%s.%s", o->name, f->name);
		cr_assert_eq(r->profile, f->profile, "%s.%s", o->name, f->name);
		cr_assert_eq(r->sibling, f->sibling, "%s.%s", o->name, f->name);
		valid[i / 64] |= bit_of(i);
		if (f->profile >= 0)
			prof[i / 64] |= bit_of(i);
		if (top && ((f->flags & OCSF_F_DERIVED) || op == OCSF_OP_METADATA))
			always[i / 64] |= bit_of(i);
		if (f->kind == OCSF_K_ENUM_INT && f->sibling >= 0) {
			if (f->sibling + 1 == i && i % 64 != 0)
				prev[i / 64] |= bit_of(i);
			else if (f->sibling == i + 1 && i % 64 != 63)
				next[i / 64] |= bit_of(i);
			else
				far[i / 64] |= bit_of(i);
		}
		switch (op) {
		case OCSF_OP_OBJ:
		case OCSF_OP_METADATA:
			cr_assert_eq(r->ref, f->object->plan, "%s.%s", o->name, f->name);
			break;
		case OCSF_OP_CAPTION:
			cr_assert_eq(r->ref, o->fields[f->sibling].enumeration, "%s.%s", o->name,
				     f->name);
			break;
		case OCSF_OP_CONST: {
			const char *t = r->ref;
			cr_assert_eq(strlen(t), r->klen);
			cr_assert_eq(strncmp(t, want, strlen(want)), 0, "%s: %s", f->name, t);
			if (strcmp(f->name, "class_uid") == 0) {
				snprintf(want, sizeof(want), ",\"class_uid\":%d", c->class_uid);
				cr_assert_str_eq(t, want);
			} else if (strcmp(f->name, "category_name") == 0) {
				snprintf(want, sizeof(want), ",\"category_name\":\"%s\"",
					 c->category_name);
				cr_assert_str_eq(t, want);
			} else if (strcmp(f->name, "version") == 0) {
				cr_assert_str_eq(t, ",\"version\":\"" OCSF_GEN_SCHEMA_VERSION "\"");
			}
			break;
		}
		case OCSF_OP_TYPE_UID:
		case OCSF_OP_TYPE_NAME:
			for (uint32_t k = 0; k < c->activity->count; k++) {
				const struct ocsf_enum_item *it = &c->activity->items[k];
				const char *t = ((const char *const *)r->ref)[k];
				if (op == OCSF_OP_TYPE_UID)
					snprintf(want, sizeof(want), ",\"type_uid\":%lld",
						 (long long)c->class_uid * 100 + it->value);
				else
					snprintf(want, sizeof(want), ",\"type_name\":\"%s: %s\"",
						 c->class_name, it->caption);
				cr_assert_eq((unsigned char)t[0], strlen(want), "%s", want);
				cr_assert_str_eq(t + 1, want);
			}
			break;
		default:
			break;
		}
	}
	for (unsigned k = 0; k < OCSF_PLAN_WORDS; k++) {
		cr_assert_eq(pl->valid[k], valid[k], "%s valid[%u]", o->name, k);
		cr_assert_eq(pl->always[k], always[k], "%s always[%u]", o->name, k);
		cr_assert_eq(pl->cap_prev[k], prev[k], "%s cap_prev[%u]", o->name, k);
		cr_assert_eq(pl->cap_next[k], next[k], "%s cap_next[%u]", o->name, k);
		cr_assert_eq(pl->cap_far[k], far[k], "%s cap_far[%u]", o->name, k);
		cr_assert_eq(pl->profrows[k], prof[k], "%s profrows[%u]", o->name, k);
	}
}

Test(codegen_descriptors, plans_match_descriptors)
{
	for (size_t i = 0; i < ocsf_all_objects_count; i++)
		check_plan(ocsf_all_objects[i], NULL);
	for (size_t i = 0; i < ocsf_all_classes_count; i++)
		check_plan(ocsf_all_classes[i]->object, ocsf_all_classes[i]);
}

Test(codegen_descriptors, objects_are_consistent)
{
	cr_assert_eq(ocsf_all_objects_count, OCSF_GEN_N_OBJECTS);
	for (size_t i = 0; i < ocsf_all_objects_count; i++) {
		if (i > 0)
			cr_assert_lt(
			    strcmp(ocsf_all_objects[i - 1]->name, ocsf_all_objects[i]->name), 0);
		check_object(ocsf_all_objects[i], false);
	}
	cr_assert_eq(ocsf_max_object_size, OCSF_MAX_OBJECT_SIZE);
}

Test(codegen_descriptors, classes_are_consistent)
{
	cr_assert_eq(ocsf_all_classes_count, OCSF_GEN_N_CLASSES);
	for (size_t i = 0; i < ocsf_all_classes_count; i++) {
		const struct ocsf_class *c = ocsf_all_classes[i];
		const struct ocsf_object *o = c->object;

		if (i > 0)
			cr_assert_lt(ocsf_all_classes[i - 1]->class_uid, c->class_uid);
		check_object(o, true);
		cr_assert_eq(ocsf_class_by_uid(c->class_uid), c);
		cr_assert_eq(c->class_uid / 1000, c->category_uid, "%s", c->class_name);
		cr_assert_str_eq(o->fields[c->activity_field].name, "activity_id");
		cr_assert_str_eq(o->fields[c->severity_field].name, "severity_id");
		cr_assert_str_eq(o->fields[c->metadata_field].name, "metadata");
		cr_assert_str_eq(o->fields[c->time_field].name, "time");
		cr_assert_eq(o->fields[c->activity_field].enumeration, c->activity);
		check_enum(c->activity, false);
		cr_assert_eq(c->activity->items[0].value, 0);
		cr_assert_eq(c->activity->items[c->activity->count - 1].value, 99);
		for (uint16_t f = 0; f < o->n_fields; f++) {
			const char *n = o->fields[f].name;
			bool derived = strcmp(n, "class_uid") == 0 || strcmp(n, "type_uid") == 0 ||
				       strcmp(n, "category_name") == 0;

			if (derived)
				cr_assert(o->fields[f].flags & OCSF_F_DERIVED, "%s", n);
		}
	}
	cr_assert_null(ocsf_class_by_uid(4003));
	cr_assert_null(ocsf_class_by_uid(-1));
	cr_assert_null(ocsf_class_by_uid(999999));
}

Test(codegen_descriptors, layout_matches_structs)
{
	const struct ocsf_field *f =
	    &ocsf_network_activity_desc.fields[OCSF_NETWORK_ACTIVITY_F_SRC_ENDPOINT];

	cr_assert_str_eq(f->name, "src_endpoint");
	cr_assert_eq(f->offset, offsetof(struct ocsf_network_activity, src_endpoint));
	cr_assert_eq(f->object, &ocsf_network_endpoint_desc);
	cr_assert_eq(ocsf_network_activity_desc.size, sizeof(struct ocsf_network_activity));
	cr_assert_eq(ocsf_network_activity_class.class_uid, 4001);
	cr_assert_str_eq(ocsf_network_activity_class.category_name, "Network Activity");

	f = &ocsf_process_desc.fields[OCSF_PROCESS_F_PARENT_PROCESS];
	cr_assert_eq(f->object, &ocsf_process_desc);
	cr_assert(ocsf_process_desc.recursive);
	cr_assert_not(ocsf_metadata_desc.recursive);

	f = &ocsf_location_desc.fields[OCSF_LOCATION_F_LONG];
	cr_assert_eq(f->offset, offsetof(struct ocsf_location, long_));
	cr_assert_eq(f->kind, OCSF_K_FLOAT);

	f = &ocsf_network_activity_desc.fields[OCSF_NETWORK_ACTIVITY_F_ACTION_ID];
	cr_assert_str_eq(ocsf_profile_names[f->profile], "security_control");
	cr_assert_eq(f->enumeration, &ocsf_enum_action_id);
	cr_assert_str_eq(ocsf_network_activity_desc.fields[OCSF_NETWORK_ACTIVITY_F_UNMAPPED].name,
			 "unmapped");
	cr_assert_eq(ocsf_network_activity_desc.fields[OCSF_NETWORK_ACTIVITY_F_UNMAPPED].kind,
		     OCSF_K_OPEN_OBJECT);
	f = &ocsf_http_request_desc.fields[OCSF_HTTP_REQUEST_F_HTTP_METHOD];
	cr_assert_eq(f->kind, OCSF_K_ENUM_STR);
	cr_assert_str_eq(OCSF_HTTP_METHOD_GET, "GET");
	cr_assert_eq(OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, 3);
	cr_assert_eq(OCSF_SEVERITY_ID_INFORMATIONAL, 1);
	cr_assert(ocsf_network_activity_desc.fields[OCSF_NETWORK_ACTIVITY_F_PROXY].flags &
		  OCSF_F_DEPRECATED);
}
