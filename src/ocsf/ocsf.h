/* ocsf.h - OCSF event runtime: serializer, checker, generic field access.
 *
 * DESIGN
 * Log sites build events with the generated typed API (generated/c/ocsf_gen.h,
 * see docs/ocsf-runtime.md). Everything that has to look at a whole event is
 * written once here and walks the descriptor tables of ocsf_model.h:
 * - ocsf_serialize(): one compact JSON object per event, with every derived
 *   value (class_name, category_*, type_*, activity_name, severity, enum
 *   captions, metadata.version, metadata.profiles) filled from the schema.
 * - ocsf_event_check(): required attributes, constraints and enum values.
 * - ocsf_field_*(): set any attribute by descriptor index (sample builder,
 *   tests, tooling); log sites use the typed setters instead.
 * None of these allocates from the heap. All are thread-compatible: an event
 * is used by one thread at a time; the schema tables are read-only.
 */
#ifndef OCSF_H
#define OCSF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocsf_model.h"
#include "osh_err.h"

/* ------------------------------------------------------------ schema info */

/* Schema version written to metadata.version ("1.7.0"). Static string. */
const char *ocsf_schema_version(void);

/* Profiles known to the generated model, indexed as ocsf_field.profile. */
unsigned ocsf_profile_count(void);
/* Name of profile `idx`, or NULL when out of range. Static string. */
const char *ocsf_profile_name(int idx);
/* Index of the profile called `name`, or -1. */
int ocsf_profile_index(const char *name);

/* Size in bytes of the largest generated object struct (the scratch size). */
size_t ocsf_object_size_max(void);

/* Item of enum `e` with numeric value `value` (ENUM_INT), or NULL. */
const struct ocsf_enum_item *ocsf_enum_find(const struct ocsf_enum *e, int64_t value);
/* Item of string enum `e` with key `key` (ENUM_STR), or NULL. */
const struct ocsf_enum_item *ocsf_enum_find_key(const struct ocsf_enum *e, const char *key);

/* Index of the field called `name` in `desc`, or -1. */
int ocsf_object_field_index(const struct ocsf_object *desc, const char *name);

/* -------------------------------------------------------------- serializer */

/* Size of a buffer that holds any event built in the embedded arena. The
 * emit path uses it; ocsf_serialize() returns OSH_ETOOBIG beyond `cap`. */
#define OCSF_JSON_MAX 65536

/* Serialize `ev` as one compact JSON object (no trailing newline) into
 * buf[0..cap). Returns 0 and the length in *len, or:
 *   the event arena's sticky error (OSH_ENOMEM, OSH_EDEPTH, ...) if building
 *   the event failed at some point (nothing is written);
 *   OSH_ETOOBIG if the JSON does not fit in cap (the buffer content is then
 *   undefined and *len is 0: never a truncated line);
 *   OSH_EDEPTH if objects nest deeper than OCSF_MAX_DEPTH + 1 (a pointer
 *   cycle made by hand); OSH_EINVAL if ev or its class is NULL.
 * Fields appear in descriptor order (sorted by name), only present ones,
 * plus the derived values. A json_t value (and an open-object JSON member)
 * that is not valid JSON text is written as a JSON string instead, so the
 * line stays valid JSON. A float field holding NaN or +-Inf is left out.
 * Bytes of buf past *len (up to cap) may be overwritten: keys and short
 * strings are stored with fixed-size moves. Does not modify the event; no
 * heap allocation. */
int ocsf_serialize(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len) OSH_MUST_CHECK;

/* Bitmask of profiles (bit i = profile index i) whose attributes are present
 * anywhere in the event tree: what metadata.profiles will list. */
void ocsf_event_profiles(const struct ocsf_event *ev, uint64_t mask[2]);

/* ----------------------------------------------------------------- checker */

/* Check `ev` against the schema rules the descriptors carry: arena error,
 * required attributes (recursively, in every present object), at_least_one
 * and just_one constraints, known enum values, port/numeric ranges, finite
 * floats, valid json_t text. Returns 0 if the event is valid, else
 * OSH_EINVAL (or the arena's sticky error) with a description of the first
 * problem, such as "src_endpoint: at least one of ip, hostname, ... required",
 * written NUL-terminated into why[0..whylen) (may be NULL). No allocation. */
int ocsf_event_check(const struct ocsf_event *ev, char *why, size_t whylen);

/* ------------------------------------------------ generic field access
 * Set field `idx` of the object `o` (any generated struct, via its header)
 * by descriptor. For an ARRAY field each call appends one element. Each
 * returns 0, or OSH_EINVAL when idx is out of range or the field's kind does
 * not take that C type, or the arena's sticky error. Strings are borrowed
 * as with the typed setters.
 *   _int:   INT, LONG, ENUM_INT, PORT (0..65535, else OSH_EINVAL), BOOL
 *   _float: FLOAT
 *   _bool:  BOOL
 *   _str:   STRING, JSON, ENUM_STR */
int ocsf_field_set_int(struct ocsf_hdr *o, unsigned idx, int64_t v);
int ocsf_field_set_float(struct ocsf_hdr *o, unsigned idx, double v);
int ocsf_field_set_bool(struct ocsf_hdr *o, unsigned idx, bool v);
int ocsf_field_set_str(struct ocsf_hdr *o, unsigned idx, const char *v);

/* OBJECT field: get-or-create (single) or append (array) a sub-object and
 * return its header; never NULL (scratch after a failure, see ocsf_model.h),
 * except when idx is not an OBJECT field: NULL. */
struct ocsf_hdr *ocsf_field_object(struct ocsf_hdr *o, unsigned idx);

/* OPEN_OBJECT field: append one key/value (value kinds as ocsf_kv). */
int ocsf_field_open_add(struct ocsf_hdr *o, unsigned idx, const struct ocsf_kv *kv);

/* Whether field idx of `o` is present. */
bool ocsf_field_present(const struct ocsf_hdr *o, unsigned idx);

/* Number of present fields of `o` (not recursive). */
unsigned ocsf_object_count_present(const struct ocsf_hdr *o);

/* First error the event's arena recorded (0 if none); *what (may be NULL)
 * receives its static description. */
int ocsf_event_error(const struct ocsf_event *ev, const char **what);

#endif
