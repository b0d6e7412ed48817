/* sup_poll.h - the config poll loop's decisions, as a pure function.
 *
 * DESIGN
 * Everything the loop decides (apply a config, report connectivity lost or
 * restored, reload the policy, how long to wait) is computed by
 * osh_sup_poll_step() from the previous state and one poll outcome; it does
 * no I/O, so every transition is unit-tested without a gateway. The thread in
 * sup_run.c only performs the returned actions (toggle JSONL, emit events,
 * swap the policy) and sleeps for next_delay_ms.
 *
 * Rules (fixing upstream's loop, see docs/supervisor.md):
 *  - The very first response (at start-up, before the command runs) goes
 *    through the same step, so its config is applied (revision 0 -> N).
 *  - A config is applied only when its revision is newer than the applied
 *    one; equal or older revisions change nothing (an older one is reported
 *    once per distinct revision, not on every poll). An absent sandbox_config
 *    (older gateway) keeps the current config and is not an error.
 *  - A failed poll never ends the loop: the first failure after a success
 *    (or at start) reports "lost" once, later failures stay quiet and back
 *    off (interval doubling, capped); the first success reports "restored".
 *  - A changed policy_hash with a policy asks for a reload; the hash is
 *    adopted whatever the reload's outcome, so a bad policy is reported once
 *    and not retried every poll.
 *  - A policy_hash that is neither "" nor 64 lowercase hex digits (the
 *    gateway's hex SHA-256) is an invalid response: its policy is ignored,
 *    the current policy and hash are kept, and bad_policy_hash is asked
 *    for once until a valid hash arrives. Hashes are compared whole.
 */
#ifndef OSH_SUP_POLL_H
#define OSH_SUP_POLL_H

#include <stdbool.h>
#include <stdint.h>

/* Backoff ceiling after failures: max(interval, this). */
#define OSH_SUP_POLL_BACKOFF_CAP_MS 5000

/* Length of a policy hash: hex SHA-256. */
#define OSH_POLICY_HASH_LEN 64

struct osh_sup_cfg_state {
	uint64_t revision; /* applied config revision, 0 = none yet      */
	bool ocsf_enabled; /* applied JSONL state                         */
	int ocsf_version;  /* applied JSONL OCSF version (enum ocsf_version) */
	bool reachable;	   /* last poll reached the gateway               */
	bool polled;	   /* at least one poll happened                  */
	unsigned failures; /* consecutive failed polls                    */
	char policy_hash[OSH_POLICY_HASH_LEN + 1]; /* last policy seen ("" = none) */
	uint64_t stale_seen;			   /* older revision last reported (once each) */
	bool bad_hash; /* last response had an ill-formed policy_hash  */
};

/* One poll outcome. Strings are borrowed for the duration of the step. */
struct osh_sup_poll_result {
	int err;	 /* 0: response below is valid; <0 enum osh_err */
	bool has_config; /* response carried sandbox_config             */
	uint64_t revision;
	bool ocsf_enabled;
	/* logging.ocsf_schema_version: NULL or "" = 1.7.0 (older gateway) */
	const char *ocsf_schema_version;
	bool has_policy;	 /* response carried a policy                   */
	const char *policy_hash; /* "" or NULL = none                        */
};

struct osh_sup_poll_actions {
	bool apply_config; /* set JSONL to new_enabled, emit CONFIG:UPDATED */
	uint64_t old_revision, new_revision;
	bool old_enabled, new_enabled;
	/* with apply_config: JSONL OCSF version before/after (enum ocsf_version);
	 * bad_version: the response named no known version (kept old_version) */
	int old_version, new_version;
	bool bad_version;
	const char *bad_version_text; /* borrowed from the result */
	bool stale_config;	      /* revision older than applied: ignored         */
	bool lost;		      /* report: gateway unreachable (once)           */
	bool restored;		      /* report: gateway reachable again              */
	unsigned failures;	      /* with restored: how many polls failed         */
	bool reload_policy;	      /* policy_hash changed and a policy is present  */
	bool policy_absent;	      /* policy_hash changed to none: keep current    */
	bool bad_policy_hash;	      /* ill-formed policy_hash: report, keep current */
	int64_t next_delay_ms;	      /* wait before the next poll                    */
};

/* True for "" or exactly OSH_POLICY_HASH_LEN lowercase hex digits.
 * hash must be NUL-terminated. Pure; thread-safe. */
bool osh_sup_poll_hash_valid(const char *hash);

/* Initialise the state for a supervisor that applied nothing yet (JSONL off,
 * OCSF 1.7.0). */
void osh_sup_poll_state_init(struct osh_sup_cfg_state *st);

/* Compute the actions for one poll outcome and advance the state.
 * interval_ms is the configured poll interval (> 0). Pure; thread-compatible. */
void osh_sup_poll_step(struct osh_sup_cfg_state *st, const struct osh_sup_poll_result *r,
		       int64_t interval_ms, struct osh_sup_poll_actions *act);

#endif
