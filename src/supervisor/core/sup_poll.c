/* sup_poll.c - config poll state machine (pure, see sup_poll.h).
 *
 * DESIGN: one function, no I/O, no clock: the caller passes the outcome and
 * the interval and gets back what to do and how long to wait.
 */
#include "sup_poll.h"

#include <string.h>

#include "ocsf_convert.h"

void osh_sup_poll_state_init(struct osh_sup_cfg_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ocsf_version = OCSF_VERSION_1_7_0;
}

static int64_t backoff(int64_t interval_ms, unsigned failures)
{
	int64_t cap =
	    interval_ms > OSH_SUP_POLL_BACKOFF_CAP_MS ? interval_ms : OSH_SUP_POLL_BACKOFF_CAP_MS;
	int64_t d = interval_ms;

	for (unsigned i = 1; i < failures && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}

void osh_sup_poll_step(struct osh_sup_cfg_state *st, const struct osh_sup_poll_result *r,
		       int64_t interval_ms, struct osh_sup_poll_actions *act)
{
	const char *hash = r->policy_hash ? r->policy_hash : "";

	memset(act, 0, sizeof(*act));
	act->next_delay_ms = interval_ms;
	if (r->err) {
		st->failures++;
		if (st->reachable || !st->polled)
			act->lost = true;
		st->reachable = false;
		st->polled = true;
		act->next_delay_ms = backoff(interval_ms, st->failures);
		return;
	}
	if (st->polled && !st->reachable) {
		act->restored = true;
		act->failures = st->failures;
	}
	st->reachable = true;
	st->polled = true;
	st->failures = 0;

	if (r->has_config) {
		if (r->revision > st->revision) {
			act->apply_config = true;
			act->old_revision = st->revision;
			act->new_revision = r->revision;
			act->old_enabled = st->ocsf_enabled;
			act->new_enabled = r->ocsf_enabled;
			act->old_version = st->ocsf_version;
			act->new_version = st->ocsf_version;
			if (r->ocsf_schema_version == NULL || r->ocsf_schema_version[0] == '\0') {
				act->new_version = OCSF_VERSION_1_7_0;
			} else {
				enum ocsf_version v;

				if (ocsf_version_parse(r->ocsf_schema_version, &v) == 0)
					act->new_version = (int)v;
				else {
					act->bad_version = true;
					act->bad_version_text = r->ocsf_schema_version;
				}
			}
			st->revision = r->revision;
			st->ocsf_enabled = r->ocsf_enabled;
			st->ocsf_version = act->new_version;
		} else if (r->revision < st->revision && r->revision != st->stale_seen) {
			act->stale_config = true;
			st->stale_seen = r->revision;
			act->old_revision = st->revision;
			act->new_revision = r->revision;
		}
	}
	if (!osh_sup_poll_hash_valid(hash)) {
		/* Not a hash the gateway makes: the policy part of the response
		 * is ignored (current policy and hash kept), reported once until
		 * a valid hash arrives. Comparing a truncated copy would make
		 * every poll a reload. */
		if (!st->bad_hash)
			act->bad_policy_hash = true;
		st->bad_hash = true;
		return;
	}
	st->bad_hash = false;
	if (strcmp(hash, st->policy_hash) != 0) {
		if (r->has_policy && *hash)
			act->reload_policy = true;
		else
			act->policy_absent = true;
		memcpy(st->policy_hash, hash, strlen(hash) + 1); /* <= 64 + NUL */
	}
}

bool osh_sup_poll_hash_valid(const char *hash)
{
	size_t n = 0;

	for (; hash[n] != '\0'; n++) {
		char c = hash[n];

		if (n >= OSH_POLICY_HASH_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return n == 0 || n == OSH_POLICY_HASH_LEN;
}
