/* osh_policy_store.c - counted immutable policy snapshots (see osh_policy_store.h).
 *
 * DESIGN
 * Each snapshot carries its own reference count; the store holds one
 * reference to the current snapshot. get() takes a reference under the store
 * mutex (so the snapshot cannot be freed between reading the pointer and
 * counting it); release() drops one with an atomic decrement and frees the
 * policy on the last one. A mutex rather than a lock-free scheme: puts are
 * rare (policy reloads), gets are a handful per connection, and the critical
 * section is two instructions.
 */
#include "osh_policy_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct snap {
	struct osh_policy_snap pub; /* first: callers see only this */
	_Atomic unsigned refs;
	osh_policy_pb *owned;
};

struct osh_policy_store {
	pthread_mutex_t mu;
	struct snap *cur;
	uint64_t generation;
};

static struct snap *snap_new(osh_policy_pb *policy, const char *source, uint64_t gen)
{
	struct snap *s = calloc(1, sizeof(*s));

	if (!s)
		goto out;
	if (policy && osh_policy_hash(policy, s->pub.hash) != 0) {
		free(s);
		s = NULL;
		goto out;
	}
	s->owned = policy;
	s->pub.policy = policy;
	s->pub.generation = gen;
	snprintf(s->pub.source, sizeof(s->pub.source), "%s", source ? source : "");
	atomic_init(&s->refs, 1);
out:
	return s;
}

static void snap_unref(struct snap *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
		osh_policy_free(s->owned);
		free(s);
	}
}

int osh_policy_store_new(struct osh_policy_store **out)
{
	struct osh_policy_store *st = calloc(1, sizeof(*st));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (!st)
		goto out;
	st->cur = snap_new(NULL, "default", 0);
	if (!st->cur) {
		free(st);
		goto out;
	}
	pthread_mutex_init(&st->mu, NULL);
	*out = st;
	rc = 0;
out:
	return rc;
}

void osh_policy_store_free(struct osh_policy_store *st)
{
	if (!st)
		return;
	snap_unref(st->cur);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int osh_policy_store_put(struct osh_policy_store *st, osh_policy_pb *policy, const char *source,
			 uint64_t *gen_out)
{
	struct snap *s, *old;
	uint64_t gen;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	gen = st->generation + 1;
	s = snap_new(policy, source, gen);
	if (!s) {
		pthread_mutex_unlock(&st->mu);
		osh_policy_free(policy);
		rc = OSH_ENOMEM;
		goto out;
	}
	old = st->cur;
	st->cur = s;
	st->generation = gen;
	pthread_mutex_unlock(&st->mu);
	snap_unref(old);
	if (gen_out)
		*gen_out = gen;
out:
	return rc;
}

const struct osh_policy_snap *osh_policy_store_get(struct osh_policy_store *st)
{
	struct snap *s;

	pthread_mutex_lock(&st->mu);
	s = st->cur;
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&st->mu);
	return &s->pub;
}

void osh_policy_snap_release(const struct osh_policy_snap *snap)
{
	/* pub is the first member of struct snap. */
	snap_unref((struct snap *)(uintptr_t)snap);
}

uint64_t osh_policy_store_generation(struct osh_policy_store *st)
{
	uint64_t g;

	pthread_mutex_lock(&st->mu);
	g = st->generation;
	pthread_mutex_unlock(&st->mu);
	return g;
}
