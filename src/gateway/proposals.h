/* proposals.h - the pure parts of the gateway's policy proposals (proposals.c),
 * public so the unit tests and the fuzz target drive them without a server.
 *
 * DESIGN: a submitted PolicyChunk comes from a supervisor, i.e. from any
 * holder of a sandbox credential (an agent that stole it included): every
 * field is checked before anything is stored, and a merge into a policy is
 * validated as a whole before it becomes a version. Both functions are
 * reentrant and allocate only what they hand back.
 */
#ifndef OSH_GW_PROPOSALS_H
#define OSH_GW_PROPOSALS_H

#include <stddef.h>

#include "osh_err.h"
#include "sandbox.pb-c.h"
#include "store.h"

/* Checks one submitted chunk (rule name [A-Za-z0-9_.-]{1,128}, an endpoint
 * with a host and a port 1-65535, no unknown fields, rationale and notes at
 * most 4 KiB, the packed rule at most 64 KiB and valid for the policy layer)
 * and fills the row to store: strings borrowed from c, row->rule heap (the
 * caller frees it, also on error), confidence clamped to 0..1000 milli,
 * hit_count to 1..1000000, first_seen <= last_seen. Returns 0, OSH_EINVAL
 * with the reason in why (naming the rule), or OSH_ENOMEM. */
OSH_MUST_CHECK int gw_proposal_check(const Openshell__V1__PolicyChunk *c, const char *sandbox_id,
				     struct osh_gw_proposal *row, char *why, size_t wlen);

/* Adds `rule` to policy p under `key`: a new network_policies entry, or, when
 * the key exists, its endpoints appended and its binaries added when
 * missing. Takes ownership of rule (malloc'd, e.g. unpacked with the default
 * allocator), also on error. Returns 0 or OSH_ENOMEM. The caller validates
 * the result. */
OSH_MUST_CHECK int gw_proposal_merge(Openshell__V1__SandboxPolicy *p, const char *key,
				     Openshell__V1__NetworkPolicyRule *rule);

#endif
