/* shorthand.h - one-line human form of an OCSF event ("NET:OPEN [INFO] ...").
 *
 * DESIGN: the class-common attributes are read through the generated
 * shared-attribute row of the event's class (ocsf_shared.h); the classes
 * with a grammar of their own (the eight OpenShell emits) then read their
 * generated structs directly, and any other class gets a generic grammar.
 * Grammar, budgets and escaping rules are in docs/logging.md. No timestamp
 * inside: each sink adds its own. */
#ifndef OSH_SHORTHAND_H
#define OSH_SHORTHAND_H

#include <stddef.h>

#include "ocsf_model.h"

/* Per-value output budgets (bytes of escaped text, "..." marker included). */
#define OSH_SH_NAME_BUDGET  128 /* names, hosts, ips, rule names, labels   */
#define OSH_SH_PATH_BUDGET  256 /* URL paths, command lines               */
#define OSH_SH_TEXT_BUDGET  256 /* messages, [msg:], [reason:]            */
#define OSH_SH_TITLE_BUDGET 120 /* finding titles                         */
#define OSH_SH_KV_BUDGET    64	/* Base Event unmapped keys and values    */

/* Formats `ev` into buf (NUL-terminated, no newline); *len = bytes written.
 * Any class is formatted: a class without a dedicated grammar (or a class
 * descriptor not generated here) gets the generic one. Returns 0, OSH_EINVAL
 * (NULL event, class or buffer) or OSH_ETOOBIG (cap below 512 bytes; with
 * cap >= OSH_EMIT_LINE_MAX every event fits). Does not modify the event; no
 * heap; thread-compatible. */
int osh_emit_shorthand(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len);

struct ocsf_shared;

/* osh_emit_shorthand() with the shared-attribute row of ev's class already
 * looked up (ocsf_shared_of): the emit path looks it up once for enrichment
 * and the line. `sh` is borrowed for the call. */
int osh_emit_shorthand_with(const struct ocsf_event *ev, const struct ocsf_shared *sh, char *buf,
			    size_t cap, size_t *len);

/* Same, but always with the generic grammar (what a class without a
 * dedicated formatter gets): for tests and tools. */
int osh_emit_shorthand_generic(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len);

#endif
