/* gx_json.h - the few fields the export needs from an event, in one pass.
 *
 * DESIGN
 * Every exported event is read at least twice (the spooler's filter, the
 * syslog frame or HEC envelope), at ingestion rate. A general parser builds
 * a tree (cJSON: one allocation per node, ~60 per event); this scanner
 * instead checks the whole text against the JSON grammar (RFC 8259: strings
 * with their escapes and no raw control bytes, numbers, literals, nesting up
 * to GX_JSON_DEPTH) without allocating, and records where the wanted fields
 * are: class_uid, severity_id, time, metadata.uid and device.container
 * name/uid. Strings are returned raw (as written, escapes included) as
 * pointers into the caller's text. The input is untrusted (a supervisor's
 * push): fuzzed by tests/fuzz/gx_json_fuzz.c.
 */
#ifndef OSH_GX_JSON_H
#define OSH_GX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

#define GX_JSON_DEPTH 64

struct gx_span {
	const char *p; /* NULL = absent */
	size_t n;
};

struct gx_meta {
	bool has_class, has_severity, has_time;
	int64_t class_uid, severity_id, time; /* integral values only */
	struct gx_span uid;		      /* metadata.uid (raw) */
	struct gx_span sb_name, sb_id;	      /* device.container.name / .uid (raw) */
};

/* Scans text[0, n): 0 when it is exactly one JSON object (surrounding
 * whitespace allowed) and *m holds its fields; OSH_EPARSE (or OSH_EDEPTH)
 * otherwise, *m then unspecified. Never reads past n, never allocates. */
OSH_MUST_CHECK int gx_json_meta(const char *text, size_t n, struct gx_meta *m);

/* Whether span s equals the NUL-terminated string z. */
bool gx_span_eq(struct gx_span s, const char *z);

#endif
