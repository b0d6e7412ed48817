/* denials_subsys.c - the denial flush timer and its gateway client.
 *
 * DESIGN
 * One thread sleeps on a condition variable (CLOCK_MONOTONIC) for the flush
 * interval; the first round is one full interval after start, as upstream.
 * A round drains the aggregator, maps the keys (osh_denial_map) and sends
 * one SubmitPolicyAnalysis over a fresh channel (a restarted gateway is
 * found at once; the sandbox credential is the process-wide call identity).
 * A delivered round is a DENIAL_FLUSH event; a failed one is a
 * DENIAL_FLUSH_FAILED event and its keys go back into the aggregator, so the
 * next round carries them (bounded by the aggregator's key limit; the rest
 * is counted). stop wakes the thread for a last round with a short
 * deadline, so a denial made just before the command exited is not lost
 * when the gateway is there.
 */
#include "denials_subsys.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "denials_sites.h"
#include "osh_denials.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"

#define SUBMIT_MS      5000
#define LAST_SUBMIT_MS 1000

struct denials_state {
	struct osh_denial_agg *agg;
	const char *gateway;
	const char *sandbox_id;
	const char *sandbox_name;
	int64_t interval_ms;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping, started;
	pthread_t th;
	uint64_t round;
};

static void dns_fail(void *ud, const char *host, uint16_t port, const char *why)
{
	(void)ud;
	osh_denials_ev_dns_fail(host, port, why);
}

/* Fills the wire summaries (borrowing the batch's strings): a heap array of
 * n + 1 pointers whose last one is the heap block of the n messages
 * (summaries_free). samples has room for every L7 sample of the batch. */
static Openshell__V1__DenialSummary **summaries(const struct osh_denial_batch *b,
						Openshell__V1__L7RequestSample *samples)
{
	Openshell__V1__DenialSummary **v = calloc(b->n + 1, sizeof(void *));
	Openshell__V1__DenialSummary *m = calloc(b->n + 1, sizeof(Openshell__V1__DenialSummary));
	size_t k = 0;

	if (!v || !m) {
		free(v);
		free(m);
		return NULL;
	}
	v[b->n] = m;
	for (size_t i = 0; i < b->n; i++) {
		const struct osh_denial_summary *s = &b->v[i];
		Openshell__V1__DenialSummary *d = &m[i];

		openshell__v1__denial_summary__init(d);
		d->host = s->host;
		d->port = s->port;
		d->binary = s->binary;
		d->ancestors = s->ancestors;
		d->n_ancestors = s->n_ancestors;
		d->deny_reason = s->reason;
		d->first_seen_ms = s->first_ms;
		d->last_seen_ms = s->last_ms;
		d->count = s->count > UINT32_MAX ? UINT32_MAX : (uint32_t)s->count;
		d->total_count = d->count;
		d->denial_stage = (char *)(uintptr_t)osh_denial_stage_name(s->stage);
		if (s->n_l7 > 0)
			d->l7_request_samples = calloc(s->n_l7, sizeof(void *));
		for (size_t j = 0; d->l7_request_samples && j < s->n_l7; j++) {
			Openshell__V1__L7RequestSample *x = &samples[k++];

			openshell__v1__l7_request_sample__init(x);
			x->method = s->l7[j].method;
			x->path = s->l7[j].path;
			x->decision = (char *)(uintptr_t) "deny";
			x->count = s->l7[j].count;
			d->l7_request_samples[d->n_l7_request_samples++] = x;
		}
		v[i] = d;
	}
	return v;
}

static void summaries_free(Openshell__V1__DenialSummary **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]->l7_request_samples);
	free(v[n]);
	free(v);
}

/* One SubmitPolicyAnalysis. 0, or an osh_err with why filled. */
static int submit(struct denials_state *st, const struct osh_denial_batch *b,
		  Openshell__V1__PolicyChunk **chunks, size_t n_chunks, int64_t deadline_ms,
		  struct osh_denials_round *r, char *why, size_t wlen)
{
	Openshell__V1__SubmitPolicyAnalysisRequest req =
	    OPENSHELL__V1__SUBMIT_POLICY_ANALYSIS_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = deadline_ms};
	struct osh_rpc_status rs = {0};
	struct osh_rpc_client *c = NULL;
	ProtobufCMessage *resp = NULL;
	Openshell__V1__L7RequestSample *samples = NULL;
	size_t n_samples = 0;
	int rc;

	for (size_t i = 0; i < b->n; i++)
		n_samples += b->v[i].n_l7;
	samples = calloc(n_samples ? n_samples : 1, sizeof(*samples));
	req.summaries = samples ? summaries(b, samples) : NULL;
	if (!req.summaries) {
		snprintf(why, wlen, "out of memory");
		rc = OSH_ENOMEM;
		goto out;
	}
	req.n_summaries = b->n;
	req.proposed_chunks = chunks;
	req.n_proposed_chunks = n_chunks;
	req.analysis_mode = (char *)(uintptr_t) "mechanistic";
	req.name = (char *)(uintptr_t)(st->sandbox_name[0] ? st->sandbox_name : st->sandbox_id);
	req.sandbox_id = (char *)(uintptr_t)st->sandbox_id;
	rc = osh_rpc_client_create(st->gateway, &openshell__v1__open_shell__descriptor, NULL, &c);
	if (rc != 0) {
		snprintf(why, wlen, "cannot create a channel: %s", osh_strerror(rc));
		goto out;
	}
	rc = osh_rpc_client_unary(c, "SubmitPolicyAnalysis", &req.base, &o, &resp, &rs);
	if (rc != 0) {
		snprintf(why, wlen, "SubmitPolicyAnalysis: %s: %.300s",
			 osh_rpc_status_name(rs.code), rs.message);
		goto out;
	}
	{
		const Openshell__V1__SubmitPolicyAnalysisResponse *a = (const void *)resp;

		r->accepted = a->accepted;
		r->rejected = a->rejected;
		if (a->n_reasons > 0)
			snprintf(why, wlen, "%.200s", a->reasons[0]);
	}
out:
	osh_rpc_msg_free(resp);
	osh_rpc_client_destroy(c);
	summaries_free(req.summaries, req.n_summaries);
	free(samples);
	return rc;
}

static void flush_round(struct denials_state *st, int64_t deadline_ms)
{
	struct osh_denial_map_opts mo = {.on_dns_fail = dns_fail};
	struct osh_denial_batch b;
	struct osh_denials_round r;
	Openshell__V1__PolicyChunk **chunks = NULL;
	size_t n_chunks = 0;
	char why[512] = "";
	int rc;

	memset(&r, 0, sizeof(r));
	if (osh_denial_agg_drain(st->agg, &b) != 0 ||
	    (b.n == 0 && b.overflow == 0 && b.dropped == 0))
		goto out;
	r.round = ++st->round;
	r.keys = b.n;
	r.denials = b.denials;
	r.overflow = b.overflow;
	r.dropped = b.dropped;
	rc = osh_denial_map(b.v, b.n, &mo, &chunks, &n_chunks);
	if (rc != 0)
		snprintf(why, sizeof(why), "mapper: %s", osh_strerror(rc));
	else
		rc = submit(st, &b, chunks, n_chunks, deadline_ms, &r, why, sizeof(why));
	r.proposals = n_chunks;
	r.reason = why;
	if (rc == 0) {
		osh_denials_ev_flush(&r);
	} else {
		uint64_t keys = b.n;
		size_t lost = osh_denial_agg_restore(st->agg, &b);

		r.dropped += lost;
		osh_denials_ev_flush_failed(&r, keys - lost);
	}
out:
	osh_denial_chunks_free(chunks, n_chunks);
	osh_denial_batch_free(&b);
}

static void *flush_main(void *arg)
{
	struct denials_state *st = arg;
	bool stopping = false;

	while (!stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += st->interval_ms / 1000;
		ts.tv_nsec += (st->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&st->mu);
		while (!st->stopping) {
			if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) != 0)
				break; /* ETIMEDOUT: a round is due */
		}
		stopping = st->stopping;
		pthread_mutex_unlock(&st->mu);
		flush_round(st, stopping ? LAST_SUBMIT_MS : SUBMIT_MS);
	}
	return NULL;
}

static int d_init(struct osh_sup_host *host, void **state)
{
	struct denials_state *st;
	pthread_condattr_t ca;
	int rc = 0;

	*state = NULL;
	if (!host->args->gateway || !host->sandbox_id || !host->sandbox_id[0])
		goto out; /* standalone: nobody to propose to */
	st = calloc(1, sizeof(*st));
	if (!st) {
		rc = OSH_ENOMEM;
		goto out;
	}
	rc = osh_denial_agg_create(0, &st->agg);
	if (rc != 0) {
		free(st);
		goto out;
	}
	st->gateway = host->args->gateway;
	st->sandbox_id = host->sandbox_id;
	st->sandbox_name = host->sandbox_name ? host->sandbox_name : "";
	st->interval_ms = host->args->denial_flush_ms;
	pthread_mutex_init(&st->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cv, &ca);
	pthread_condattr_destroy(&ca);
	osh_denials_install(st->agg);
	*state = st;
out:
	return rc;
}

static int d_start(void *state)
{
	struct denials_state *st = state;
	int rc = pthread_create(&st->th, NULL, flush_main, st);

	st->started = rc == 0;
	return rc == 0 ? 0 : OSH_ESYS;
}

static void d_stop(void *state)
{
	struct denials_state *st = state;

	pthread_mutex_lock(&st->mu);
	st->stopping = true;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (st->started)
		pthread_join(st->th, NULL);
	st->started = false;
	osh_denials_install(NULL);
}

static void d_fini(void *state)
{
	struct denials_state *st = state;

	osh_denials_install(NULL);
	osh_denial_agg_destroy(st->agg);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const struct osh_sup_subsys osh_sup_denials_subsys = {
    .name = "denials",
    .init = d_init,
    .start = d_start,
    .stop = d_stop,
    .fini = d_fini,
};
