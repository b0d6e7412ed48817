/* ocsf_convert.h - convert one OCSF 1.7.0 event (JSON text) to an older OCSF
 * release by that release's schema, for SIEMs pinned to it.
 *
 * DESIGN
 * Events are built in 1.7.0 only. A SIEM that accepts 1.1.0 (AWS Security
 * Lake), 1.3.0 or 1.5.0 gets each event converted by the target release's
 * own descriptor tables (generated/c/ocsf_versions.{h,c}, read from that
 * release's raw schema by codegen), never by a hand-made list of fields:
 *   - attributes, objects, profiles and enum values the target lacks (or has
 *     deprecated) are dropped; an enum value the target lacks becomes 99
 *     "Other" where the target has it (the producer's caption kept), else the
 *     attribute is dropped (optional) or the object fails (required);
 *   - values whose JSON type, range or length the target refuses are dropped
 *     the same way;
 *   - derived attributes are recomputed for the target: class/category name
 *     and uid, type_uid/type_name, captions of enum values, metadata.version
 *     and metadata.profiles (exactly the profiles whose attributes remain);
 *   - attributes the target requires and the event lacks are filled by the
 *     fill rules of schema/ocsf.yaml (first present source path, converted as
 *     the attribute's type); an object that still misses a required attribute
 *     or breaks an at_least_one/just_one constraint is dropped when optional
 *     and fails its parent otherwise; a failing class refuses the event with
 *     a reason naming the JSON path and the rule.
 * Per target and class, what is dropped and filled is listed in
 * docs/siem-version-matrix.md (generated from the same tables).
 * The input is untrusted text (it may come from the wire): it is parsed by a
 * strict RFC 8259 parser with a nesting limit (OCSF_CONVERT_MAX_DEPTH), and
 * every output string is either a copied input string that parsed as valid
 * JSON with valid UTF-8 or text the writer escapes, so the output is valid
 * JSON whatever the input. 1.7.0 -> 1.7.0 is the identity: a copy, after a
 * syntax check (one JSON object) and no tree.
 *
 * Thread-safety: no global mutable state; every call allocates its own
 * working memory and frees it before returning. */
#ifndef OCSF_CONVERT_H
#define OCSF_CONVERT_H

#include <stddef.h>

#include "osh_err.h"

enum ocsf_version {
	OCSF_VERSION_1_1_0,
	OCSF_VERSION_1_3_0,
	OCSF_VERSION_1_5_0,
	OCSF_VERSION_1_7_0
};

#define OCSF_VERSION_COUNT 4
/* Nesting the input may have (objects and arrays); deeper input is refused
 * with OSH_EDEPTH. */
#define OCSF_CONVERT_MAX_DEPTH 48

/* "1.1.0", "1.3.0", "1.5.0", "1.7.0" -> enum. Anything else (NULL too):
 * OSH_EINVAL, *out untouched (the caller's message should list
 * OCSF_VERSION_ACCEPTED). */
#define OCSF_VERSION_ACCEPTED "1.1.0, 1.3.0, 1.5.0, 1.7.0"
OSH_MUST_CHECK int ocsf_version_parse(const char *text, enum ocsf_version *out);

/* "1.1.0".."1.7.0"; "?" for a value outside the enum. Static storage. */
const char *ocsf_version_name(enum ocsf_version v);

/* Converts one 1.7.0 event (json[0..len), one JSON object) to `target`.
 * On success returns 0; *out is a heap NUL-terminated JSON object owned by
 * the caller (free()), *out_len its length (without the NUL).
 * On failure *out = NULL, *out_len = 0, and `reason` (when not NULL and
 * reason_cap > 0; always NUL-terminated, truncated to reason_cap) says why:
 *   OSH_EINVAL  the event cannot be made valid for `target` (a refusal: the
 *               caller counts it), or target is not a version;
 *   OSH_EPARSE  json is not one JSON object, or not an OCSF 1.7.0 event
 *               (no class_uid, metadata.version not 1.7.0; for the 1.7.0
 *               identity only the JSON syntax is checked);
 *   OSH_EDEPTH  nesting deeper than OCSF_CONVERT_MAX_DEPTH;
 *   OSH_ETOOBIG len above 64 MiB;
 *   OSH_ENOMEM  out of memory.
 * Thread-safe. */
OSH_MUST_CHECK int ocsf_convert_json(const char *json, size_t len, enum ocsf_version target,
				     char **out, size_t *out_len, char *reason, size_t reason_cap);

#endif
