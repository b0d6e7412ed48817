/* denials_agg.c - the denial aggregator and the process-wide recording hook.
 *
 * DESIGN
 * Denials are rare next to allowed traffic and a round holds at most a few
 * hundred keys, so the keys are a flat array searched linearly under one
 * mutex: no hash table to get wrong, bounded memory (max_keys summaries,
 * OSH_DENIAL_L7_MAX samples each, strings capped at STR_CAP bytes), and a
 * drain is one pointer swap. The process-wide hook is a pointer behind its
 * own mutex, so a decider calling osh_denials_record while the subsystem
 * uninstalls either records into a live aggregator or does nothing.
 */
#include "osh_denials.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "osh_time.h"

/* Longest string kept from a denial (host, path, reason, ...). */
#define STR_CAP 1024
/* Ancestors kept per key. */
#define ANC_MAX 16

struct osh_denial_agg {
	pthread_mutex_t mu;
	struct osh_denial_summary *v;
	size_t n, max;
	uint64_t denials, overflow, dropped;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct osh_denial_agg *g_agg;
static uint64_t g_agg_errors; /* under g_mu: adds that failed (full or no memory) */

const char *osh_denial_stage_name(enum osh_denial_stage s)
{
	const char *n = "connect";

	switch (s) {
	case OSH_DENIAL_CONNECT:
		break;
	case OSH_DENIAL_SSRF:
		n = "ssrf";
		break;
	case OSH_DENIAL_FORWARD:
		n = "forward";
		break;
	case OSH_DENIAL_FORWARD_L7:
		n = "forward-l7-deny";
		break;
	case OSH_DENIAL_BYPASS:
		n = "bypass";
		break;
	}
	return n;
}

static char *dup_cap(const char *s, const char *dflt)
{
	const char *v = (s && *s) ? s : dflt;

	return v ? strndup(v, STR_CAP) : NULL;
}

static void summary_fini(struct osh_denial_summary *s)
{
	free(s->host);
	free(s->binary);
	free(s->reason);
	for (size_t i = 0; s->ancestors && i < s->n_ancestors; i++)
		free(s->ancestors[i]);
	free(s->ancestors);
	for (size_t i = 0; i < s->n_l7; i++) {
		free(s->l7[i].method);
		free(s->l7[i].path);
	}
	memset(s, 0, sizeof(*s));
}

int osh_denial_agg_create(size_t max_keys, struct osh_denial_agg **out)
{
	struct osh_denial_agg *a = calloc(1, sizeof(*a));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (!a)
		goto out;
	a->max = max_keys ? max_keys : OSH_DENIAL_DEFAULT_KEYS;
	a->v = calloc(a->max, sizeof(*a->v));
	if (!a->v) {
		free(a);
		goto out;
	}
	pthread_mutex_init(&a->mu, NULL);
	*out = a;
	rc = 0;
out:
	return rc;
}

void osh_denial_agg_destroy(struct osh_denial_agg *agg)
{
	if (!agg)
		return;
	for (size_t i = 0; i < agg->n; i++)
		summary_fini(&agg->v[i]);
	free(agg->v);
	pthread_mutex_destroy(&agg->mu);
	free(agg);
}

static struct osh_denial_summary *find(struct osh_denial_agg *a, const char *host, uint16_t port,
				       const char *binary)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].port == port && strcmp(a->v[i].host, host) == 0 &&
		    strcmp(a->v[i].binary, binary) == 0)
			return &a->v[i];
	return NULL;
}

/* Adds `count` to the (method, path) sample of s; a new pair beyond the cap
 * is not kept (the key's count still has it). */
static int add_l7(struct osh_denial_summary *s, const char *method, const char *path,
		  uint32_t count)
{
	size_t plen = strcspn(path, "?#");

	for (size_t i = 0; i < s->n_l7; i++)
		if (strcmp(s->l7[i].method, method) == 0 && strlen(s->l7[i].path) == plen &&
		    strncmp(s->l7[i].path, path, plen) == 0) {
			s->l7[i].count += count;
			return 0;
		}
	if (s->n_l7 >= OSH_DENIAL_L7_MAX)
		return 0;
	s->l7[s->n_l7].method = strndup(method, 32);
	s->l7[s->n_l7].path = strndup(path, plen < STR_CAP ? plen : STR_CAP);
	if (!s->l7[s->n_l7].method || !s->l7[s->n_l7].path) {
		free(s->l7[s->n_l7].method);
		free(s->l7[s->n_l7].path);
		s->l7[s->n_l7].method = s->l7[s->n_l7].path = NULL;
		return OSH_ENOMEM;
	}
	s->l7[s->n_l7++].count = count;
	return 0;
}

static int fill_new(struct osh_denial_summary *s, const struct osh_denial *d, const char *host,
		    const char *binary, int64_t now)
{
	size_t na = d->n_ancestors < ANC_MAX ? d->n_ancestors : ANC_MAX;

	memset(s, 0, sizeof(*s));
	s->host = dup_cap(host, NULL);
	s->binary = dup_cap(binary, NULL);
	s->reason = dup_cap(d->reason, "");
	s->ancestors = na ? calloc(na, sizeof(char *)) : NULL;
	if (!s->host || !s->binary || !s->reason || (na && !s->ancestors)) {
		summary_fini(s);
		return OSH_ENOMEM;
	}
	for (size_t i = 0; i < na; i++) {
		s->ancestors[i] = dup_cap(d->ancestors[i], "-");
		if (!s->ancestors[i]) {
			s->n_ancestors = i;
			summary_fini(s);
			return OSH_ENOMEM;
		}
	}
	s->n_ancestors = na;
	s->port = d->port;
	s->stage = d->stage;
	s->first_ms = s->last_ms = now;
	return 0;
}

int osh_denial_agg_add(struct osh_denial_agg *agg, const struct osh_denial *d)
{
	const char *host = (d->host && *d->host) ? d->host : "-";
	const char *binary = (d->binary && *d->binary) ? d->binary : "-";
	int64_t now = d->ts_ms ? d->ts_ms : osh_time_wall_ms();
	struct osh_denial_summary *s;
	int rc = 0;

	pthread_mutex_lock(&agg->mu);
	s = find(agg, host, d->port, binary);
	if (!s) {
		if (agg->n >= agg->max) {
			agg->overflow++;
			rc = OSH_EFULL;
			goto out;
		}
		rc = fill_new(&agg->v[agg->n], d, host, binary, now);
		if (rc != 0)
			goto out;
		s = &agg->v[agg->n++];
	}
	s->count++;
	agg->denials++;
	if (now < s->first_ms)
		s->first_ms = now;
	if (now > s->last_ms)
		s->last_ms = now;
	if (d->stage == OSH_DENIAL_SSRF)
		s->ssrf_seen = true;
	if (d->method && *d->method && d->path && *d->path)
		rc = add_l7(s, d->method, d->path, 1);
out:
	pthread_mutex_unlock(&agg->mu);
	return rc;
}

int osh_denial_agg_drain(struct osh_denial_agg *agg, struct osh_denial_batch *out)
{
	struct osh_denial_summary *fresh = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&agg->mu);
	if (agg->n > 0) {
		fresh = calloc(agg->max, sizeof(*fresh));
		if (!fresh) {
			rc = OSH_ENOMEM;
			goto out;
		}
		out->v = agg->v;
		out->n = agg->n;
		agg->v = fresh;
		agg->n = 0;
	}
	out->denials = agg->denials;
	out->overflow = agg->overflow;
	out->dropped = agg->dropped;
	agg->denials = agg->overflow = agg->dropped = 0;
out:
	pthread_mutex_unlock(&agg->mu);
	return rc;
}

/* Merges a restored summary into an existing key (its strings stay with r,
 * freed by the caller). */
static void merge_into(struct osh_denial_summary *s, const struct osh_denial_summary *r)
{
	s->count += r->count;
	if (r->first_ms < s->first_ms) {
		/* the restored one is older: its first denial describes the key */
		s->first_ms = r->first_ms;
		s->stage = r->stage;
	}
	if (r->last_ms > s->last_ms)
		s->last_ms = r->last_ms;
	s->ssrf_seen = s->ssrf_seen || r->ssrf_seen;
	for (size_t i = 0; i < r->n_l7; i++)
		(void)add_l7(s, r->l7[i].method, r->l7[i].path, r->l7[i].count);
}

size_t osh_denial_agg_restore(struct osh_denial_agg *agg, struct osh_denial_batch *b)
{
	size_t dropped = 0;

	pthread_mutex_lock(&agg->mu);
	for (size_t i = 0; i < b->n; i++) {
		struct osh_denial_summary *r = &b->v[i];
		struct osh_denial_summary *s = find(agg, r->host, r->port, r->binary);

		if (s) {
			merge_into(s, r);
			agg->denials += r->count;
			summary_fini(r);
		} else if (agg->n < agg->max) {
			agg->v[agg->n++] = *r; /* moves the strings */
			agg->denials += r->count;
			memset(r, 0, sizeof(*r));
		} else {
			dropped++;
			summary_fini(r);
		}
	}
	agg->dropped += dropped;
	/* what the failed round had counted is still owed to the next report */
	agg->overflow += b->overflow;
	agg->dropped += b->dropped;
	pthread_mutex_unlock(&agg->mu);
	free(b->v);
	memset(b, 0, sizeof(*b));
	return dropped;
}

size_t osh_denial_agg_keys(struct osh_denial_agg *agg)
{
	size_t n;

	pthread_mutex_lock(&agg->mu);
	n = agg->n;
	pthread_mutex_unlock(&agg->mu);
	return n;
}

void osh_denial_batch_free(struct osh_denial_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		summary_fini(&b->v[i]);
	free(b->v);
	memset(b, 0, sizeof(*b));
}

void osh_denials_install(struct osh_denial_agg *agg)
{
	pthread_mutex_lock(&g_mu);
	g_agg = agg;
	pthread_mutex_unlock(&g_mu);
}

void osh_denials_record(const struct osh_denial *d)
{
	pthread_mutex_lock(&g_mu);
	/* a full aggregator counts the denial in its overflow itself */
	if (g_agg && osh_denial_agg_add(g_agg, d) != 0)
		g_agg_errors++;
	pthread_mutex_unlock(&g_mu);
}
