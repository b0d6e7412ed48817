/* shorthand.h - one-line human form of an OCSF event ("NET:OPEN [INFO] ...").
 *
 * DESIGN: reads the generated structs directly (typed access) for the eight
 * classes OpenShell emits; the grammar, budgets and escaping rules are in
 * docs/logging.md. No timestamp inside: each sink adds its own. */
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
 * Returns 0, OSH_EINVAL (NULL / unknown class) or OSH_ETOOBIG (cap below
 * 512 bytes; with cap >= OSH_EMIT_LINE_MAX every event fits). Does not modify
 * the event; no heap; thread-compatible. */
int osh_emit_shorthand(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len);

#endif
