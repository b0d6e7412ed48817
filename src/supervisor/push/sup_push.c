/* sup_push.c - log push client (see sup_push.h).
 *
 * DESIGN
 * All gRPC work happens on the push thread; other threads only set the stop
 * flag (under the mutex) and read counters (atomics). The local buffer is a
 * ring of heap-copied lines owned by the push thread. A batch is removed from
 * the ring only after cstream_send returned 0, so a failed send keeps its
 * lines for the next stream (a send that "succeeded" into a connection that
 * died a moment later can still lose lines: gRPC does not tell).
 */
#include "sup_push.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "osh_emit.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "push_sites.h"

struct pline {
	int64_t ts;
	char level[8];
	char target[OSH_EMIT_TARGET_MAX];
	char *msg;
};

struct osh_sup_push {
	char *gateway;
	char *sandbox_id;
	pthread_t th;
	bool started;
	bool joined;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	int flush_ms;

	/* push thread only */
	struct pline ring[OSH_SUP_PUSH_BUFFER];
	size_t head, count;
	int64_t oldest_ms; /* monotonic time the oldest buffered line arrived */
	struct osh_rpc_client *client;
	struct osh_rpc_cstream *stream;
	int64_t stream_opened;
	int64_t next_try;
	int64_t backoff;
	uint64_t pending_loss;
	uint64_t feed_dropped_seen;
	struct osh_push_line *scratch;

	_Atomic uint64_t sent, batches, dropped, failures, streams, accepted;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int osh_sup_push_create(const char *gateway, const char *sandbox_id, struct osh_sup_push **out)
{
	int rc = OSH_ENOMEM;
	struct osh_sup_push *p = NULL;

	*out = NULL;
	if (!gateway || !sandbox_id) {
		rc = OSH_EINVAL;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out;
	p->gateway = strdup(gateway);
	p->sandbox_id = strdup(sandbox_id);
	p->scratch = calloc(OSH_SUP_PUSH_BATCH, sizeof(*p->scratch));
	if (!p->gateway || !p->sandbox_id || !p->scratch)
		goto out;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (p) {
		free(p->gateway);
		free(p->sandbox_id);
		free(p->scratch);
		free(p);
	}
	return rc;
}

/* ------------------------------------------------------------ ring buffer */

static void ring_push(struct osh_sup_push *p, const struct osh_push_line *l, int64_t now)
{
	struct pline *slot;
	char *msg = strdup(l->message);

	if (!msg) {
		p->pending_loss++;
		atomic_fetch_add(&p->dropped, 1);
		return;
	}
	if (p->count == OSH_SUP_PUSH_BUFFER) {
		/* Full while the gateway is away: keep the newest lines. */
		free(p->ring[p->head].msg);
		p->ring[p->head].msg = NULL;
		p->head = (p->head + 1) % OSH_SUP_PUSH_BUFFER;
		p->count--;
		p->pending_loss++;
		atomic_fetch_add(&p->dropped, 1);
	}
	if (p->count == 0)
		p->oldest_ms = now;
	slot = &p->ring[(p->head + p->count) % OSH_SUP_PUSH_BUFFER];
	slot->ts = l->timestamp_ms;
	snprintf(slot->level, sizeof(slot->level), "%s", l->level);
	snprintf(slot->target, sizeof(slot->target), "%s", l->target);
	slot->msg = msg;
	p->count++;
}

static void ring_pop(struct osh_sup_push *p, size_t n, int64_t now)
{
	for (size_t i = 0; i < n && p->count; i++) {
		free(p->ring[p->head].msg);
		p->ring[p->head].msg = NULL;
		p->head = (p->head + 1) % OSH_SUP_PUSH_BUFFER;
		p->count--;
	}
	if (p->count)
		p->oldest_ms = now; /* the remainder is sent on the next round */
}

static void drain_feed(struct osh_sup_push *p)
{
	size_t n;
	struct osh_emit_stats es;
	int64_t now = mono_ms();

	while ((n = osh_emit_push_drain(p->scratch, OSH_SUP_PUSH_BATCH)) > 0)
		for (size_t i = 0; i < n; i++)
			ring_push(p, &p->scratch[i], now);
	osh_emit_stats_get(&es);
	if (es.push_dropped > p->feed_dropped_seen) {
		uint64_t d = es.push_dropped - p->feed_dropped_seen;

		p->pending_loss += d;
		atomic_fetch_add(&p->dropped, d);
		p->feed_dropped_seen = es.push_dropped;
	}
}

/* ----------------------------------------------------------------- stream */

static void close_stream(struct osh_sup_push *p, bool finish)
{
	if (p->stream && finish) {
		ProtobufCMessage *resp = NULL;
		struct osh_rpc_status st;

		if (osh_rpc_cstream_finish(p->stream, &resp, &st) == 0 && resp) {
			const Openshell__V1__PushSandboxLogsResponse *r = (const void *)resp;

			atomic_fetch_add(&p->accepted, r->accepted);
		}
		osh_rpc_msg_free(resp);
	} else if (p->stream) {
		osh_rpc_cstream_destroy(p->stream);
	}
	p->stream = NULL;
}

static void failed(struct osh_sup_push *p, int64_t now)
{
	close_stream(p, false);
	/* A fresh channel per retry: gRPC's own reconnect backoff can grow to
	 * minutes, ours is bounded at 30 s. */
	osh_rpc_client_destroy(p->client);
	p->client = NULL;
	p->backoff = p->backoff ? p->backoff * 2 : OSH_SUP_PUSH_BACKOFF_MIN;
	if (p->backoff > OSH_SUP_PUSH_BACKOFF_MAX)
		p->backoff = OSH_SUP_PUSH_BACKOFF_MAX;
	p->next_try = now + p->backoff;
	atomic_fetch_add(&p->failures, 1);
}

static int open_stream(struct osh_sup_push *p)
{
	int rc = 0;
	struct osh_rpc_call_opts o = {.timeout_ms = OSH_SUP_PUSH_STREAM_MS + 10000};

	if (!p->client)
		rc = osh_rpc_client_create(p->gateway, &openshell__v1__open_shell__descriptor, NULL,
					   &p->client);
	if (!rc)
		rc = osh_rpc_cstream_open(p->client, "PushSandboxLogs", &o, &p->stream);
	if (!rc) {
		p->stream_opened = mono_ms();
		atomic_fetch_add(&p->streams, 1);
	}
	return rc;
}

/* Send one batch (up to OSH_SUP_PUSH_BATCH oldest lines). */
static int send_batch(struct osh_sup_push *p)
{
	Openshell__V1__SandboxLogLine lines[OSH_SUP_PUSH_BATCH];
	Openshell__V1__SandboxLogLine *ptrs[OSH_SUP_PUSH_BATCH];
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	size_t n = p->count < OSH_SUP_PUSH_BATCH ? p->count : OSH_SUP_PUSH_BATCH;
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct pline *l = &p->ring[(p->head + i) % OSH_SUP_PUSH_BUFFER];

		openshell__v1__sandbox_log_line__init(&lines[i]);
		lines[i].sandbox_id = p->sandbox_id;
		lines[i].timestamp_ms = l->ts;
		lines[i].level = l->level;
		lines[i].target = l->target;
		lines[i].message = l->msg;
		lines[i].source = (char *)(uintptr_t) "sandbox";
		ptrs[i] = &lines[i];
	}
	req.sandbox_id = p->sandbox_id;
	req.n_logs = n;
	req.logs = ptrs;
	rc = osh_rpc_cstream_send(p->stream, &req.base);
	if (rc == 0) {
		ring_pop(p, n, mono_ms());
		atomic_fetch_add(&p->sent, n);
		atomic_fetch_add(&p->batches, 1);
	}
	return rc;
}

static bool due(struct osh_sup_push *p, int64_t now, bool stopping)
{
	if (!p->count || now < p->next_try)
		return false;
	return stopping || p->count >= OSH_SUP_PUSH_BATCH ||
	       now - p->oldest_ms >= OSH_SUP_PUSH_LINGER_MS;
}

static void round_trip(struct osh_sup_push *p, bool stopping)
{
	int64_t now = mono_ms();

	while (due(p, now, stopping)) {
		if (!p->stream && open_stream(p) != 0) {
			failed(p, now);
			return;
		}
		if (send_batch(p) != 0) {
			failed(p, now);
			return;
		}
		p->backoff = 0;
		if (p->pending_loss) {
			/* Delivery works again: say how much never arrived. The
			 * report itself goes through the feed like any event. */
			osh_sup_ev_push_dropped(p->pending_loss,
						"gateway unreachable or log feed full");
			p->pending_loss = 0;
		}
		now = mono_ms();
		if (!stopping && p->count < OSH_SUP_PUSH_BATCH)
			break;
	}
	if (p->stream && mono_ms() - p->stream_opened >= OSH_SUP_PUSH_STREAM_MS)
		close_stream(p, true);
}

static void *push_main(void *arg)
{
	struct osh_sup_push *p = arg;
	int64_t deadline = -1;

	for (;;) {
		bool stopping;
		struct timespec ts;

		pthread_mutex_lock(&p->mu);
		stopping = p->stopping;
		if (!stopping) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			stopping = p->stopping;
		}
		pthread_mutex_unlock(&p->mu);

		drain_feed(p);
		if (stopping) {
			if (deadline < 0) {
				deadline = mono_ms() + p->flush_ms;
				p->next_try = 0; /* one last try at once */
			}
			round_trip(p, true);
			if (p->count == 0 || mono_ms() >= deadline)
				break;
			if (p->next_try > deadline)
				break;
			continue;
		}
		round_trip(p, false);
	}
	if (p->count) {
		atomic_fetch_add(&p->dropped, p->count);
		p->pending_loss += p->count;
	}
	if (p->pending_loss)
		/* Cannot reach the gateway any more, but openshell.log (and the
		 * JSONL file) still say what it never received. */
		osh_sup_ev_push_dropped(p->pending_loss, "gateway unreachable at shutdown");
	close_stream(p, true);
	osh_rpc_client_destroy(p->client);
	p->client = NULL;
	return NULL;
}

int osh_sup_push_start(struct osh_sup_push *p)
{
	if (p->started)
		return OSH_ESTATE;
	if (pthread_create(&p->th, NULL, push_main, p) != 0)
		return OSH_ESYS;
	p->started = true;
	return 0;
}

void osh_sup_push_stop(struct osh_sup_push *p, int flush_ms)
{
	struct timespec ts;

	if (!p || !p->started || p->joined)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	p->flush_ms = flush_ms;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* A send stuck on a hung gateway ends at the stream deadline at the
	 * latest; do not hold the supervisor's exit hostage for longer. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += flush_ms / 1000 + OSH_SUP_PUSH_STREAM_MS / 1000 + 10;
	if (pthread_timedjoin_np(p->th, NULL, &ts) == 0)
		p->joined = true;
}

void osh_sup_push_stats_get(struct osh_sup_push *p, struct osh_sup_push_stats *out)
{
	out->sent = atomic_load(&p->sent);
	out->batches = atomic_load(&p->batches);
	out->dropped = atomic_load(&p->dropped);
	out->failures = atomic_load(&p->failures);
	out->streams = atomic_load(&p->streams);
	out->accepted = atomic_load(&p->accepted);
}

void osh_sup_push_destroy(struct osh_sup_push *p)
{
	if (!p)
		return;
	osh_sup_push_stop(p, 0);
	if (p->started && !p->joined)
		return; /* thread still inside gRPC: leave it to process exit */
	for (size_t i = 0; i < p->count; i++)
		free(p->ring[(p->head + i) % OSH_SUP_PUSH_BUFFER].msg);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->gateway);
	free(p->sandbox_id);
	free(p->scratch);
	free(p);
}
