/* ocsf_schema.c - schema-wide facts the runtime needs from the generated model.
 *
 * DESIGN
 * The one place of the hand-written runtime that reads the generated header
 * (generated/c/ocsf_gen.h, committed): the profile list, schema version and
 * largest object size come from it, so the runtime never carries a second copy
 * of facts the generator owns.
 */
#include <string.h>

#include "ocsf.h"

#include "ocsf_gen.h"

#define PROFILE_NAMES	ocsf_profile_names
#define PROFILE_COUNT	OCSF_GEN_N_PROFILES
#define SCHEMA_VERSION	OCSF_GEN_SCHEMA_VERSION
#define MAX_OBJECT_SIZE OCSF_MAX_OBJECT_SIZE

_Static_assert(MAX_OBJECT_SIZE + 64 + 4096 <= OCSF_EVENT_ARENA_SIZE,
	       "the embedded event arena must hold the scratch area and leave room");

const char *ocsf_schema_version(void)
{
	return SCHEMA_VERSION;
}

unsigned ocsf_profile_count(void)
{
	return (unsigned)PROFILE_COUNT;
}

const char *ocsf_profile_name(int idx)
{
	if (idx < 0 || (unsigned)idx >= (unsigned)PROFILE_COUNT)
		return NULL;
	return PROFILE_NAMES[idx];
}

int ocsf_profile_index(const char *name)
{
	for (unsigned i = 0; name && i < (unsigned)PROFILE_COUNT; i++)
		if (strcmp(PROFILE_NAMES[i], name) == 0)
			return (int)i;
	return -1;
}

size_t ocsf_object_size_max(void)
{
	return MAX_OBJECT_SIZE;
}

const struct ocsf_enum_item *ocsf_enum_find(const struct ocsf_enum *e, int64_t value)
{
	if (!e)
		return NULL;
	/* Most enums are dense from 0: try the direct slot first. */
	if (value >= 0 && (uint64_t)value < e->count && e->items[value].value == value)
		return &e->items[value];
	/* Items are sorted by value: binary search. */
	uint32_t lo = 0, hi = e->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int64_t v = e->items[mid].value;
		if (v == value)
			return &e->items[mid];
		if (v < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct ocsf_enum_item *ocsf_enum_find_key(const struct ocsf_enum *e, const char *key)
{
	if (!e || !key)
		return NULL;
	for (uint32_t i = 0; i < e->count; i++)
		if (e->items[i].key && strcmp(e->items[i].key, key) == 0)
			return &e->items[i];
	return NULL;
}

int ocsf_object_field_index(const struct ocsf_object *desc, const char *name)
{
	if (!desc || !name)
		return -1;
	/* Fields are sorted by name: binary search. */
	int lo = 0, hi = desc->n_fields;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(desc->fields[mid].name, name);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
