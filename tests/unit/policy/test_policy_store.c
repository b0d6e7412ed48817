/* test_policy_store.c - the policy store: generations, snapshots, references.
 *
 * DESIGN
 * The store's promises are about lifetimes: a reader's snapshot stays valid
 * across puts until it is released, and the generation grows by exactly one
 * per put. The tests hold snapshots across puts and check the old policy is
 * still readable, and run readers against a writer in threads (under ASan in
 * CI, so a use-after-free or a leak fails the test).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "osh_policy_store.h"

static osh_policy_pb *mk(uint32_t version)
{
	osh_policy_pb *p = NULL;
	char err[256];
	char yaml[64];

	snprintf(yaml, sizeof(yaml), "version: %u\n", version);
	cr_assert_eq(osh_policy_parse_yaml(yaml, strlen(yaml), "t", &p, err, sizeof(err)), 0, "%s",
		     err);
	return p;
}

Test(policy_store, empty_store_has_no_policy)
{
	struct osh_policy_store *st;
	const struct osh_policy_snap *s;

	cr_assert_eq(osh_policy_store_new(&st), 0);
	s = osh_policy_store_get(st);
	cr_assert_null(s->policy);
	cr_assert_eq(s->generation, 0);
	cr_assert_str_eq(s->source, "default");
	cr_assert_str_eq(s->hash, "");
	cr_assert_eq(osh_policy_store_generation(st), 0);
	osh_policy_snap_release(s);
	osh_policy_store_free(st);
}

Test(policy_store, put_bumps_generation_and_hashes)
{
	struct osh_policy_store *st;
	const struct osh_policy_snap *s;
	uint64_t g1 = 0, g2 = 0;
	char want[65];
	osh_policy_pb *p = mk(7);

	cr_assert_eq(osh_policy_hash(p, want), 0);
	cr_assert_eq(osh_policy_store_new(&st), 0);
	cr_assert_eq(osh_policy_store_put(st, p, "file", &g1), 0);
	cr_assert_eq(osh_policy_store_put(st, mk(8), "gateway", &g2), 0);
	cr_assert_eq(g1, 1);
	cr_assert_eq(g2, 2);
	s = osh_policy_store_get(st);
	cr_assert_eq(s->generation, 2);
	cr_assert_eq(s->policy->version, 8);
	cr_assert_str_eq(s->source, "gateway");
	cr_assert_eq(strlen(s->hash), 64);
	cr_assert_str_neq(s->hash, want, "version 8 must not hash like version 7");
	osh_policy_snap_release(s);
	osh_policy_store_free(st);
}

Test(policy_store, snapshot_survives_later_puts)
{
	struct osh_policy_store *st;
	const struct osh_policy_snap *old;

	cr_assert_eq(osh_policy_store_new(&st), 0);
	cr_assert_eq(osh_policy_store_put(st, mk(1), "file", NULL), 0);
	old = osh_policy_store_get(st);
	for (uint32_t v = 2; v < 20; v++)
		cr_assert_eq(osh_policy_store_put(st, mk(v), "gateway", NULL), 0);
	cr_assert_eq(old->policy->version, 1, "a held snapshot is not freed by later puts");
	cr_assert_eq(old->generation, 1);
	osh_policy_snap_release(old);
	/* NULL is a valid policy: "none". */
	cr_assert_eq(osh_policy_store_put(st, NULL, "default", NULL), 0);
	old = osh_policy_store_get(st);
	cr_assert_null(old->policy);
	cr_assert_eq(old->generation, 20);
	osh_policy_snap_release(old);
	osh_policy_store_free(st);
}

static void *reader(void *arg)
{
	struct osh_policy_store *st = arg;
	uint64_t last = 0;

	for (int i = 0; i < 20000; i++) {
		const struct osh_policy_snap *s = osh_policy_store_get(st);

		cr_assert_geq(s->generation, last, "generations never go backwards");
		last = s->generation;
		if (s->policy)
			cr_assert_eq(s->policy->version, (uint32_t)s->generation);
		osh_policy_snap_release(s);
	}
	return NULL;
}

Test(policy_store, readers_race_a_writer)
{
	struct osh_policy_store *st;
	pthread_t th[3];

	cr_assert_eq(osh_policy_store_new(&st), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, reader, st), 0);
	for (uint32_t v = 1; v <= 500; v++)
		cr_assert_eq(osh_policy_store_put(st, mk(v), "gateway", NULL), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(osh_policy_store_generation(st), 500);
	osh_policy_store_free(st);
}
