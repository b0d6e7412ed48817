/* test_sup_poll.c - the config poll state machine over sequences of outcomes.
 * DESIGN: osh_sup_poll_step is pure; each test feeds responses/failures and
 * checks the actions and the state. */
#include <criterion/criterion.h>
#include <string.h>

#include "osh_err.h"
#include "ocsf_convert.h"
#include "sup_poll.h"

#define IV 1000

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "cafecafecafecafecafecafecafecafecafecafecafecafecafecafecafecafe"

static struct osh_sup_poll_result ok_cfg(uint64_t rev, bool on)
{
	struct osh_sup_poll_result r = {.has_config = true, .revision = rev, .ocsf_enabled = on};

	return r;
}

static struct osh_sup_poll_result failed(void)
{
	struct osh_sup_poll_result r = {.err = OSH_EUNAVAIL};

	return r;
}

Test(poll, initial_response_is_applied)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(5, true);

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config, "the first snapshot must be applied (upstream bug a)");
	cr_assert_eq(a.old_revision, 0);
	cr_assert_eq(a.new_revision, 5);
	cr_assert(a.new_enabled);
	cr_assert_not(a.old_enabled);
	cr_assert_not(a.lost);
	cr_assert_not(a.restored);
	cr_assert_eq(a.next_delay_ms, IV);
	cr_assert_eq(st.revision, 5);
	cr_assert(st.ocsf_enabled);
}

Test(poll, newer_equal_older)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(3, false);

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.apply_config, "equal revision changes nothing");
	cr_assert_not(a.stale_config);
	r = ok_cfg(4, true);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config);
	cr_assert_eq(a.old_revision, 3);
	cr_assert_eq(a.new_revision, 4);
	cr_assert_not(a.old_enabled);
	cr_assert(a.new_enabled);
	r = ok_cfg(2, false);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.apply_config, "older revision is ignored");
	cr_assert(a.stale_config);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.stale_config, "the same stale revision is reported once");
	cr_assert_eq(st.revision, 4);
	cr_assert(st.ocsf_enabled, "the applied state is kept");
	r = ok_cfg(5, true);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config, "a newer revision applies even with the same value");
	cr_assert(a.old_enabled && a.new_enabled);
}

Test(poll, absent_config_keeps_current)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(7, true);
	struct osh_sup_poll_result none = {0};

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, IV, &a);
	osh_sup_poll_step(&st, &none, IV, &a);
	cr_assert_not(a.apply_config);
	cr_assert_not(a.stale_config);
	cr_assert_not(a.lost, "an older gateway is not an error");
	cr_assert_eq(st.revision, 7);
	cr_assert(st.ocsf_enabled);

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &none, IV, &a);
	cr_assert_not(a.apply_config, "never toggles without sandbox_config");
	cr_assert_eq(st.revision, 0);
	cr_assert_not(st.ocsf_enabled);
}

Test(poll, unreachable_reports_once_backs_off_and_recovers)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(1, false);
	struct osh_sup_poll_result f = failed();
	int lost = 0;
	int64_t last = 0;

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, IV, &a);
	for (int i = 0; i < 8; i++) {
		osh_sup_poll_step(&st, &f, IV, &a);
		lost += a.lost;
		cr_assert_not(a.apply_config);
		cr_assert_geq(a.next_delay_ms, last, "backoff never shrinks while failing");
		cr_assert_leq(a.next_delay_ms, OSH_SUP_POLL_BACKOFF_CAP_MS);
		last = a.next_delay_ms;
	}
	cr_assert_eq(lost, 1, "exactly one lost report for a run of failures");
	cr_assert_eq(last, OSH_SUP_POLL_BACKOFF_CAP_MS);
	cr_assert_eq(st.failures, 8);
	cr_assert_eq(st.revision, 1, "the last config is kept");

	r = ok_cfg(2, true);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.restored);
	cr_assert_eq(a.failures, 8);
	cr_assert(a.apply_config, "a change made while away is applied on return");
	cr_assert_eq(a.next_delay_ms, IV);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.restored, "restored is reported once");
}

Test(poll, unreachable_at_start_reports_lost_once)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result f = failed();
	struct osh_sup_poll_result r = ok_cfg(1, true);

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &f, IV, &a);
	cr_assert(a.lost);
	osh_sup_poll_step(&st, &f, IV, &a);
	cr_assert_not(a.lost);
	cr_assert_eq(a.next_delay_ms, 2 * IV);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.restored);
	cr_assert(a.apply_config);
}

Test(poll, backoff_cap_follows_long_intervals)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result f = failed();

	osh_sup_poll_state_init(&st);
	for (int i = 0; i < 5; i++)
		osh_sup_poll_step(&st, &f, 30000, &a);
	cr_assert_eq(a.next_delay_ms, 30000, "never faster than the interval, never slower");
}

Test(poll, policy_hash_changes)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(1, false);

	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.reload_policy, "no policy, no hash: nothing to load");
	cr_assert_not(a.policy_absent);
	r.has_policy = true;
	r.policy_hash = HASH_A;
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.reload_policy);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.reload_policy, "same hash: no reload");
	r.policy_hash = HASH_B;
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.reload_policy);
	cr_assert_not(a.apply_config, "policy change alone is not a config change");
	r.has_policy = false;
	r.policy_hash = "";
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.policy_absent);
	cr_assert_not(a.reload_policy);
}

Test(poll, config_and_policy_in_one_response)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(9, true);

	r.has_policy = true;
	r.policy_hash = HASH_C;
	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config && a.reload_policy,
		  "a policy change must not skip the toggle (upstream bug b)");
}

Test(poll, long_hash_is_an_invalid_response_reported_once)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(1, false);
	char big[101];

	/* finding 2 of docs/security.md: 100 hex digits used to be truncated
	 * into the state, so the same response reloaded on every poll. */
	memset(big, 'a', 100);
	big[100] = '\0';
	osh_sup_poll_state_init(&st);
	r.has_policy = true;
	r.policy_hash = HASH_A;
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.reload_policy);
	r.policy_hash = big;
	for (int i = 0; i < 5; i++) {
		osh_sup_poll_step(&st, &r, IV, &a);
		cr_assert_not(a.reload_policy, "poll %d: an ill-formed hash must not reload", i);
		cr_assert_not(a.policy_absent);
		cr_assert_eq(a.bad_policy_hash, i == 0, "poll %d: reported once, not every poll",
			     i);
		cr_assert_str_eq(st.policy_hash, HASH_A, "the current hash is kept");
	}
	/* Back to the current hash: nothing to do; a new valid one reloads. */
	r.policy_hash = HASH_A;
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.reload_policy || a.bad_policy_hash || a.policy_absent);
	r.policy_hash = "zz";
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.bad_policy_hash, "a second bad spell is reported again");
	r.policy_hash = HASH_B;
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.reload_policy);
	cr_assert_not(a.bad_policy_hash);
}

Test(poll, bad_hash_does_not_block_config)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(4, true);

	osh_sup_poll_state_init(&st);
	r.has_policy = true;
	r.policy_hash = HASH_A "0"; /* 65 digits */
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config, "the config part of the response still applies");
	cr_assert(a.bad_policy_hash);
	cr_assert_not(a.reload_policy);
	cr_assert_str_eq(st.policy_hash, "");
}

Test(poll, hash_shape)
{
	cr_assert(osh_sup_poll_hash_valid(""));
	cr_assert(osh_sup_poll_hash_valid(HASH_C));
	cr_assert_not(osh_sup_poll_hash_valid(HASH_A "a"));
	cr_assert_not(osh_sup_poll_hash_valid("abc123"));
	cr_assert_not(osh_sup_poll_hash_valid(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	cr_assert_not(osh_sup_poll_hash_valid(
	    "gaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

Test(poll, ocsf_schema_version_applied_with_its_revision)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_actions a;
	struct osh_sup_poll_result r = ok_cfg(2, true);

	osh_sup_poll_state_init(&st);
	cr_assert_eq(st.ocsf_version, OCSF_VERSION_1_7_0);
	/* an older gateway sends no version: 1.7.0 */
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config);
	cr_assert_eq(a.old_version, OCSF_VERSION_1_7_0);
	cr_assert_eq(a.new_version, OCSF_VERSION_1_7_0);
	cr_assert_not(a.bad_version);
	/* a newer revision with 1.1.0 */
	r = ok_cfg(3, true);
	r.ocsf_schema_version = "1.1.0";
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config);
	cr_assert_eq(a.old_version, OCSF_VERSION_1_7_0);
	cr_assert_eq(a.new_version, OCSF_VERSION_1_1_0);
	cr_assert_eq(st.ocsf_version, OCSF_VERSION_1_1_0);
	/* the same revision again: nothing applied, version kept */
	r.ocsf_schema_version = "1.5.0";
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_not(a.apply_config);
	cr_assert_eq(st.ocsf_version, OCSF_VERSION_1_1_0);
	/* an invalid version from a newer revision: reported, the old one kept */
	r = ok_cfg(4, false);
	r.ocsf_schema_version = "2.0.0";
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert(a.apply_config);
	cr_assert(a.bad_version);
	cr_assert_str_eq(a.bad_version_text, "2.0.0");
	cr_assert_eq(a.new_version, OCSF_VERSION_1_1_0);
	cr_assert_eq(st.ocsf_version, OCSF_VERSION_1_1_0);
	cr_assert_not(a.new_enabled);
	/* "" is 1.7.0 */
	r = ok_cfg(5, true);
	r.ocsf_schema_version = "";
	osh_sup_poll_step(&st, &r, IV, &a);
	cr_assert_eq(a.new_version, OCSF_VERSION_1_7_0);
	cr_assert_not(a.bad_version);
}
