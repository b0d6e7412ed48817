/* ocsf_sample.h - build minimal and maximal sample events from descriptors.
 *
 * DESIGN
 * Samples prove the generated model, the serializer and the JSON Schemas
 * agree, for every class and object, without anyone writing events by hand:
 * - minimal: the required attributes (core ones; a profile's required
 *   attributes only matter once that profile is used) and one member of
 *   each at_least_one / just_one group, recursively;
 * - maximal: every non-deprecated attribute the caller can set, for the
 *   class and for every object type reachable from it. An object type is
 *   expanded fully at its first occurrence in a depth-first walk; later
 *   occurrences (and recursive edges such as process.parent_process) get a
 *   minimal valid instance, which keeps the event finite and its size in
 *   the hundreds of KiB. Arrays get one element. just_one groups get exactly
 *   one member. Objects deeper than OCSF_MAX_DEPTH are left out.
 * Values are valid for the attribute's OCSF type: enums take their first
 * real value (not 0 Unknown / 99 Other), numbers respect descriptor ranges,
 * and string attributes whose OCSF type has a format (ip_t, mac_t, email_t,
 * file_hash_t, uuid_t, url_t, hostname_t, subnet_t, file_path_t) are
 * recognised by their attribute name, since the descriptor carries only the
 * storage kind (the mapping was derived from generated/manifest.json; the
 * validator test proves it still holds).
 * Derived attributes (class/type/category identity, captions,
 * metadata.version/profiles) are left to the serializer.
 */
#ifndef OCSF_SAMPLE_H
#define OCSF_SAMPLE_H

#include <stdbool.h>

#include "ocsf.h"

enum ocsf_sample_mode {
	OCSF_SAMPLE_MINIMAL,
	OCSF_SAMPLE_MAXIMAL,
};

/* Called once per object instance the builder filled (the class first).
 * `settable`: attributes a caller can set on that type (not deprecated, not
 * derived, not a caption, only one per just_one group); `set`: how many the
 * builder set; `full`: whether this was the type's full expansion. */
typedef void (*ocsf_sample_cb)(void *ctx, const struct ocsf_object *desc, unsigned set,
			       unsigned settable, bool full);

/* Fill the event `ev` (already initialised with ocsf_event_init or a
 * generated <class>_init, ideally given a large buffer with
 * ocsf_event_use_buffer for MAXIMAL). Sets activity_id (first real activity
 * of the class), time and severity_id too. `cb` may be NULL. Strings stored
 * are static. Returns 0 or the arena's sticky error. Not thread-safe per
 * event; no heap allocation. */
int ocsf_sample_build(struct ocsf_event *ev, enum ocsf_sample_mode mode, ocsf_sample_cb cb,
		      void *ctx);

/* The sample string for a string attribute called `name` (static). */
const char *ocsf_sample_string(const char *name);

#endif
