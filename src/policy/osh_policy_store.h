/* osh_policy_store.h - the current sandbox policy, shared by every subsystem.
 *
 * DESIGN
 * A policy reaches the subsystems of a daemon (proxy, confinement, SSH, ...)
 * only through this store, never through another subsystem's struct. The
 * store holds one immutable snapshot at a time: the policy message (or NULL
 * when no policy applies), its SHA-256 hash, where it came from and a
 * generation number that grows by one on every put. Readers take a counted
 * reference (osh_policy_store_get) and may keep it as long as they like, so a
 * reload never frees a policy under a reader that is in the middle of a
 * decision; the last release frees it. A writer publishes with one pointer
 * swap under a mutex: get/put/release are thread-safe and never block on I/O.
 * Subsystems learn about a new generation through their on_policy callback
 * (the supervisor calls it after each put) and re-read the store; a
 * subsystem that cannot apply the new policy keeps the snapshot it holds
 * (last known good) and says so with an event.
 */
#ifndef OSH_POLICY_STORE_H
#define OSH_POLICY_STORE_H

#include <stdint.h>

#include "osh_err.h"
#include "osh_policy.h"

/* One published policy. Immutable; owned by the store and its readers. */
struct osh_policy_snap {
	const osh_policy_pb *policy; /* NULL: no policy applies (nothing allowed) */
	char hash[65];		     /* hex SHA-256 of the packed policy; "" if none */
	char source[16];	     /* "gateway", "file", "default" */
	uint64_t generation;	     /* 1 for the first put, +1 per put */
};

struct osh_policy_store;

/* New empty store (generation 0; get returns a snapshot with policy NULL and
 * source "default"). Returns 0 or OSH_ENOMEM. Free with osh_policy_store_free
 * once every reader has released its snapshots. */
OSH_MUST_CHECK int osh_policy_store_new(struct osh_policy_store **out);
void osh_policy_store_free(struct osh_policy_store *st);

/* Publishes `policy` (ownership moves to the store, also on error; NULL means
 * "no policy") as the next generation, with `source` (copied, cut to 15
 * bytes). The hash is computed here. *gen_out (may be NULL) receives the new
 * generation. Returns 0 or OSH_ENOMEM. Thread-safe. */
OSH_MUST_CHECK int osh_policy_store_put(struct osh_policy_store *st, osh_policy_pb *policy,
					const char *source, uint64_t *gen_out);

/* The current snapshot with one reference taken; never NULL. Release it with
 * osh_policy_snap_release. Thread-safe, O(1). */
const struct osh_policy_snap *osh_policy_store_get(struct osh_policy_store *st);
void osh_policy_snap_release(const struct osh_policy_snap *snap);

/* Current generation (0 before the first put). Thread-safe. */
uint64_t osh_policy_store_generation(struct osh_policy_store *st);

#endif
