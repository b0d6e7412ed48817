/* test_nssh.c - the NSSH1 preface refuses what it must, accepts exactly the
 * gateway's lines, and the nonce cache is bounded and expires.
 *
 * DESIGN
 * The MAC vector is fixed (computed independently with Python's hmac
 * module), so a change of the signed message ("token|ts|nonce") or of the
 * hex encoding fails here, not only in an end-to-end run. Clock values are
 * passed in: no test waits for time to pass.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "osh_ssh_preface.h"

#define SECRET	 "secret-key-for-tests"
#define GOOD_MAC "eae327a141c49501deb6bb0bf5b2d6a6e949bacaed4bc640f23c5a52728ae6c1"
#define NOW	 1700000000LL

static enum osh_ssh_preface_result parse(const char *line, struct osh_ssh_preface *p)
{
	const char *why = NULL;
	enum osh_ssh_preface_result r = osh_ssh_preface_parse(line, strlen(line), p, &why);

	cr_assert_not_null(why);
	if (r != OSH_SSH_PF_OK)
		cr_assert_neq(why[0], '\0', "a refusal names its reason");
	return r;
}

Test(nssh, fixed_vector_verifies)
{
	struct osh_ssh_preface p;

	cr_assert_eq(parse("NSSH1 tok 1700000000 nonce-1 " GOOD_MAC, &p), OSH_SSH_PF_OK);
	cr_assert_str_eq(p.token, "tok");
	cr_assert_str_eq(p.nonce, "nonce-1");
	cr_assert_eq(p.ts, NOW);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW, 300), OSH_SSH_PF_OK);
	/* upper-case hex is the same MAC */
	cr_assert_eq(parse("NSSH1 tok 1700000000 nonce-1 "
			   "EAE327A141C49501DEB6BB0BF5B2D6A6E949BACAED4BC640F23C5A52728AE6C1",
			   &p),
		     OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW, 300), OSH_SSH_PF_OK);
}

Test(nssh, build_matches_the_vector_and_round_trips)
{
	char line[OSH_SSH_PREFACE_MAX + 1];
	struct osh_ssh_preface p;
	int n = osh_ssh_preface_build("tok", NOW, "nonce-1", SECRET, strlen(SECRET), line,
				      sizeof(line));

	cr_assert_gt(n, 0);
	cr_assert_str_eq(line, "NSSH1 tok 1700000000 nonce-1 " GOOD_MAC "\n");
	line[n - 1] = '\0';
	cr_assert_eq(parse(line, &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW + 300, 300),
		     OSH_SSH_PF_OK, "the edge of the window is inside");
	cr_assert_eq(osh_ssh_preface_build("to ken", NOW, "n", SECRET, 3, line, sizeof(line)),
		     OSH_EINVAL, "a blank in the token");
	cr_assert_eq(osh_ssh_preface_build("t", NOW, "", SECRET, 3, line, sizeof(line)), OSH_EINVAL,
		     "an empty nonce");
	cr_assert_eq(osh_ssh_preface_build("t", NOW, "n", SECRET, 3, line, 20), OSH_ETOOBIG);
}

Test(nssh, bad_mac_and_wrong_secret_are_refused)
{
	struct osh_ssh_preface p;

	cr_assert_eq(parse("NSSH1 tok 1700000000 nonce-1 "
			   "eae327a141c49501deb6bb0bf5b2d6a6e949bacaed4bc640f23c5a52728ae6c0",
			   &p),
		     OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW, 300),
		     OSH_SSH_PF_BAD_MAC, "last bit flipped");
	cr_assert_eq(parse("NSSH1 tok 1700000000 nonce-1 " GOOD_MAC, &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, "other", 5, NOW, 300), OSH_SSH_PF_BAD_MAC);
	cr_assert_eq(osh_ssh_preface_verify(&p, "", 0, NOW, 300), OSH_SSH_PF_BAD_MAC,
		     "no secret never verifies");
	/* another token under the same MAC: the token is signed */
	cr_assert_eq(parse("NSSH1 tok2 1700000000 nonce-1 " GOOD_MAC, &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW, 300),
		     OSH_SSH_PF_BAD_MAC);
}

Test(nssh, timestamps_outside_the_skew_are_refused_before_the_mac)
{
	struct osh_ssh_preface p;

	cr_assert_eq(parse("NSSH1 tok 1700000000 nonce-1 " GOOD_MAC, &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW + 301, 300),
		     OSH_SSH_PF_SKEW, "expired");
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW - 301, 300),
		     OSH_SSH_PF_SKEW, "from the future");
	cr_assert_eq(parse("NSSH1 tok -9223372036854775807 n " GOOD_MAC, &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW, 300), OSH_SSH_PF_SKEW,
		     "no overflow at the int64 edge");
	cr_assert_eq(parse("NSSH1 tok 9223372036854775807 n " GOOD_MAC, &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), -NOW, 300),
		     OSH_SSH_PF_SKEW);
}

Test(nssh, malformed_lines_are_refused)
{
	struct osh_ssh_preface p;
	static const char *const bad[] = {
	    "",
	    "NSSH1",
	    "NSSH1 tok 1700000000 nonce-1",
	    "NSSH1 tok 1700000000 nonce-1 " GOOD_MAC " extra",
	    "NSSH2 tok 1700000000 nonce-1 " GOOD_MAC,
	    "nssh1 tok 1700000000 nonce-1 " GOOD_MAC,
	    "NSSH1 tok 17x0000000 nonce-1 " GOOD_MAC,
	    "NSSH1 tok 99999999999999999999 nonce-1 " GOOD_MAC,
	    "NSSH1 tok 9223372036854775808 nonce-1 " GOOD_MAC,
	    "NSSH1 tok - nonce-1 " GOOD_MAC,
	    "NSSH1 tok 1700000000 nonce-1 " GOOD_MAC "0",
	    "NSSH1 tok 1700000000 nonce-1 zz" GOOD_MAC,
	    "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(parse(bad[i], &p), OSH_SSH_PF_MALFORMED, "line %zu: '%s'", i, bad[i]);
	/* a NUL or a control byte inside a field */
	{
		char line[] = "NSSH1 t\x01k 1700000000 nonce-1 " GOOD_MAC;
		const char *why;

		cr_assert_eq(osh_ssh_preface_parse(line, strlen(line), &p, &why),
			     OSH_SSH_PF_MALFORMED);
		line[7] = '\0';
		cr_assert_eq(osh_ssh_preface_parse(line, sizeof(line) - 1, &p, &why),
			     OSH_SSH_PF_MALFORMED);
	}
}

Test(nssh, blanks_and_a_carriage_return_are_tolerated)
{
	struct osh_ssh_preface p;

	cr_assert_eq(parse("NSSH1  tok\t1700000000   nonce-1 " GOOD_MAC "\r", &p), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_preface_verify(&p, SECRET, strlen(SECRET), NOW, 300), OSH_SSH_PF_OK);
}

Test(nssh, oversized_lines_and_fields)
{
	char line[OSH_SSH_PREFACE_MAX + 64];
	struct osh_ssh_preface p;
	const char *why;
	char tok[OSH_SSH_FIELD_MAX + 2];

	memset(line, 'A', sizeof(line));
	cr_assert_eq(osh_ssh_preface_parse(line, OSH_SSH_PREFACE_MAX, &p, &why),
		     OSH_SSH_PF_TOO_LONG);
	memset(tok, 't', sizeof(tok) - 1);
	tok[sizeof(tok) - 1] = '\0';
	snprintf(line, sizeof(line), "NSSH1 %s 1700000000 n %s", tok, GOOD_MAC);
	cr_assert_eq(osh_ssh_preface_parse(line, strlen(line), &p, &why), OSH_SSH_PF_MALFORMED,
		     "a 257-byte token");
	tok[sizeof(tok) - 2] = '\0';
	snprintf(line, sizeof(line), "NSSH1 %s 1700000000 n %s", tok, GOOD_MAC);
	cr_assert_eq(osh_ssh_preface_parse(line, strlen(line), &p, &why), OSH_SSH_PF_OK,
		     "a 256-byte token");
	cr_assert_eq(strlen(p.token), OSH_SSH_FIELD_MAX);
}

Test(nssh, nonce_cache_refuses_replays_until_expiry)
{
	struct osh_ssh_nonce *c = NULL;

	cr_assert_eq(osh_ssh_nonce_new(600, &c), 0);
	cr_assert_eq(osh_ssh_nonce_check(c, "a", NOW), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_nonce_check(c, "b", NOW), OSH_SSH_PF_OK);
	cr_assert_eq(osh_ssh_nonce_check(c, "a", NOW + 1), OSH_SSH_PF_REPLAY);
	cr_assert_eq(osh_ssh_nonce_check(c, "a", NOW + 600), OSH_SSH_PF_REPLAY, "still live");
	cr_assert_eq(osh_ssh_nonce_count(c, NOW + 600), 2);
	cr_assert_eq(osh_ssh_nonce_count(c, NOW + 601), 0, "both expired");
	cr_assert_eq(osh_ssh_nonce_check(c, "a", NOW + 601), OSH_SSH_PF_OK, "forgotten");
	osh_ssh_nonce_free(c);
}

Test(nssh, nonce_cache_is_bounded_and_fails_closed)
{
	struct osh_ssh_nonce *c = NULL;
	char n[32];

	cr_assert_eq(osh_ssh_nonce_new(600, &c), 0);
	for (int i = 0; i < OSH_SSH_NONCE_CAP; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		cr_assert_eq(osh_ssh_nonce_check(c, n, NOW), OSH_SSH_PF_OK, "%s", n);
	}
	cr_assert_eq(osh_ssh_nonce_count(c, NOW), OSH_SSH_NONCE_CAP);
	cr_assert_eq(osh_ssh_nonce_check(c, "one-more", NOW + 10), OSH_SSH_PF_CACHE_FULL,
		     "full of live nonces: refused, none forgotten early");
	cr_assert_eq(osh_ssh_nonce_check(c, "n0", NOW + 10), OSH_SSH_PF_REPLAY,
		     "a full cache still knows its nonces");
	cr_assert_eq(osh_ssh_nonce_check(c, "one-more", NOW + 601), OSH_SSH_PF_OK,
		     "room again once they expire");
	osh_ssh_nonce_free(c);
}

Test(nssh, result_names_are_stable)
{
	cr_assert_str_eq(osh_ssh_preface_result_name(OSH_SSH_PF_BAD_MAC), "bad-hmac");
	cr_assert_str_eq(osh_ssh_preface_result_name(OSH_SSH_PF_SKEW), "expired-timestamp");
	cr_assert_str_eq(osh_ssh_preface_result_name(OSH_SSH_PF_REPLAY), "nonce-replay");
	cr_assert_str_eq(osh_ssh_preface_result_name(OSH_SSH_PF_TOO_LONG), "too-long");
}
