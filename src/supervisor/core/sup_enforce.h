/* sup_enforce.h - which protections are really in force in this supervisor.
 *
 * DESIGN
 * A log must never claim a protection that is not applied. Policy events
 * therefore carry the list of protections that are enforced *now*
 * (unmapped.enforced, e.g. ["network","filesystem"]) and say in their
 * message what is not. Each subsystem marks its protection enforced only
 * once it is really in place (rules installed, filter loaded in the child's
 * set-up plan) and clears it when it is torn down. The set is process-wide
 * (one supervisor, one sandbox); the names are the fixed list below, in the
 * order they are reported.
 */
#ifndef OSH_SUP_ENFORCE_H
#define OSH_SUP_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>

/* Names of the protections a policy asks for, in report order. */
#define OSH_SUP_PROTECTIONS "network", "filesystem", "process", "seccomp", "ssh", "l7"

/* Marks `what` (one of OSH_SUP_PROTECTIONS) enforced or not. Unknown names
 * are ignored. Thread-safe. */
void osh_sup_enforce_set(const char *what, bool on);

/* Whether `what` is enforced now. Thread-safe. */
bool osh_sup_enforce_get(const char *what);

/* Writes the enforced set as a JSON array (`["network"]`, `[]`) into buf and
 * the not-enforced ones as a comma-separated list into `missing` (may be
 * NULL). Both always NUL-terminated; 128 bytes are enough for every name.
 * Thread-safe. */
void osh_sup_enforce_describe(char *json, size_t json_cap, char *missing, size_t missing_cap);

/* Clears every mark (tests). */
void osh_sup_enforce_reset(void);

#endif
