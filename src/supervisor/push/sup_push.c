/* sup_push.c - log push client (see sup_push.h).
 *
 * DESIGN
 * All gRPC work happens on the push thread; other threads only set the stop
 * flag (under the mutex) and read counters (atomics). The local buffer is a
 * ring of heap-copied, numbered lines owned by the push thread, in sequence
 * order. A round sends the whole ring on one fresh stream and finishes it;
 * only the response's acked_seq removes lines, so a send that "succeeded"
 * into a connection that died a moment later costs a resend, never a line.
 * An older gateway that answers without acked_seq (0) gets the previous
 * at-most-once behaviour: a finished round counts as delivered.
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
#include "osh_time.h"
#include "sandbox.pb-c.h"
#include "push_sites.h"

/* How much longer than flush_ms stop waits for the thread to join. */
#define JOIN_SLACK_MS 1000

struct pline {
	uint64_t seq;
	int64_t ts;
	char level[8];
	char target[OSH_EMIT_TARGET_MAX];
	char *msg;
	char *json; /* the event's OCSF JSON (SandboxLogLine.ocsf_json), or NULL */
	bool agent; /* the command's output (source "agent"), not the supervisor's */
};

/* An agent line waiting in the inbox (osh_sup_push_agent_line). */
struct agent_in {
	int64_t ts;
	char stream[8];
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
	int64_t stop_at; /* monotonic time stop was asked */

	/* push thread only */
	struct pline ring[OSH_SUP_PUSH_BUFFER];
	size_t head, count;
	uint64_t next_seq;  /* sequence of the next line that enters the ring */
	uint64_t sent_upto; /* highest sequence ever handed to gRPC */
	int64_t oldest_ms;  /* monotonic time the oldest buffered line arrived */
	struct osh_rpc_client *client;
	int64_t next_try;
	int64_t backoff;
	uint64_t pending_loss;
	uint64_t feed_dropped_seen;
	struct osh_push_line *scratch;

	/* agent lines from other threads; the push thread moves them into the ring */
	pthread_mutex_t in_mu;
	struct agent_in inbox[OSH_SUP_PUSH_AGENT_INBOX];
	size_t in_n;
	uint64_t in_dropped;

	_Atomic uint64_t sent, batches, dropped, failures, streams, accepted, acked, resent;
};

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
	p->next_seq = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->in_mu, NULL);
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

static struct pline *ring_at(struct osh_sup_push *p, size_t i)
{
	return &p->ring[(p->head + i) % OSH_SUP_PUSH_BUFFER];
}

static void ring_drop_oldest(struct osh_sup_push *p)
{
	free(p->ring[p->head].msg);
	free(p->ring[p->head].json);
	p->ring[p->head].msg = NULL;
	p->ring[p->head].json = NULL;
	p->head = (p->head + 1) % OSH_SUP_PUSH_BUFFER;
	p->count--;
}

/* Takes msg and json (heap; json may be NULL) into the ring as the next
 * numbered line. */
static void ring_push(struct osh_sup_push *p, int64_t ts, const char *level, const char *target,
		      char *msg, char *json, bool agent, int64_t now)
{
	struct pline *slot;

	if (!msg) {
		free(json);
		p->pending_loss++;
		atomic_fetch_add(&p->dropped, 1);
		return;
	}
	if (p->count == OSH_SUP_PUSH_BUFFER) {
		/* Full while the gateway is away. A line already sent but not
		 * acknowledged may be stored yet (a hung gateway that resumes
		 * processes what it had received), so dropping it could count a
		 * line as lost that arrives: keep those and drop this new line;
		 * otherwise drop the oldest (never sent, so surely lost). Either
		 * way the count is exact. */
		if (p->ring[p->head].seq <= p->sent_upto) {
			free(msg);
			free(json);
			p->pending_loss++;
			atomic_fetch_add(&p->dropped, 1);
			return;
		}
		ring_drop_oldest(p);
		p->pending_loss++;
		atomic_fetch_add(&p->dropped, 1);
	}
	if (p->count == 0)
		p->oldest_ms = now;
	slot = ring_at(p, p->count);
	slot->seq = p->next_seq++;
	slot->ts = ts;
	snprintf(slot->level, sizeof(slot->level), "%s", level);
	snprintf(slot->target, sizeof(slot->target), "%s", target);
	slot->msg = msg;
	slot->json = json;
	slot->agent = agent;
	p->count++;
}

/* Forgets every line up to and including sequence `upto`. */
static void ring_ack(struct osh_sup_push *p, uint64_t upto, int64_t now)
{
	uint64_t n = 0;

	while (p->count && p->ring[p->head].seq <= upto) {
		ring_drop_oldest(p);
		n++;
	}
	atomic_fetch_add(&p->acked, n);
	if (p->count)
		p->oldest_ms = now;
}

static void drain_feed(struct osh_sup_push *p)
{
	size_t n;
	struct osh_emit_stats es;
	int64_t now = osh_time_mono_ms();

	struct agent_in in[OSH_SUP_PUSH_AGENT_INBOX];
	size_t n_in;

	while ((n = osh_emit_push_drain(p->scratch, OSH_SUP_PUSH_BATCH)) > 0)
		for (size_t i = 0; i < n; i++)
			ring_push(p, p->scratch[i].timestamp_ms, p->scratch[i].level,
				  p->scratch[i].target, strdup(p->scratch[i].message),
				  p->scratch[i].json, false, now);
	pthread_mutex_lock(&p->in_mu);
	n_in = p->in_n;
	memcpy(in, p->inbox, n_in * sizeof(in[0]));
	p->in_n = 0;
	p->pending_loss += p->in_dropped;
	p->in_dropped = 0;
	pthread_mutex_unlock(&p->in_mu);
	for (size_t i = 0; i < n_in; i++)
		ring_push(p, in[i].ts, "INFO", in[i].stream, in[i].msg, NULL, true, now);
	osh_emit_stats_get(&es);
	if (es.push_dropped > p->feed_dropped_seen) {
		uint64_t d = es.push_dropped - p->feed_dropped_seen;

		p->pending_loss += d;
		atomic_fetch_add(&p->dropped, d);
		p->feed_dropped_seen = es.push_dropped;
	}
}

/* ------------------------------------------------------------------ round */

static void failed(struct osh_sup_push *p, int64_t now)
{
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

/* Sends ring lines [from, from + n) as one numbered message. */
static int send_batch(struct osh_sup_push *p, struct osh_rpc_cstream *s, size_t from, size_t n)
{
	Openshell__V1__SandboxLogLine lines[OSH_SUP_PUSH_BATCH];
	Openshell__V1__SandboxLogLine *ptrs[OSH_SUP_PUSH_BATCH];
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	uint64_t resent = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		struct pline *l = ring_at(p, from + i);

		openshell__v1__sandbox_log_line__init(&lines[i]);
		lines[i].sandbox_id = p->sandbox_id;
		lines[i].timestamp_ms = l->ts;
		lines[i].level = l->level;
		lines[i].target = l->target;
		lines[i].message = l->msg;
		lines[i].ocsf_json = l->json ? l->json : OSH_RPC_STR("");
		lines[i].source = OSH_RPC_STR(l->agent ? "agent" : "sandbox");
		ptrs[i] = &lines[i];
		if (l->seq <= p->sent_upto)
			resent++;
	}
	req.sandbox_id = p->sandbox_id;
	req.n_logs = n;
	req.logs = ptrs;
	req.first_seq = ring_at(p, from)->seq;
	rc = osh_rpc_cstream_send(s, &req.base);
	if (rc == 0) {
		uint64_t last = ring_at(p, from + n - 1)->seq;

		if (last > p->sent_upto)
			p->sent_upto = last;
		atomic_fetch_add(&p->sent, n);
		atomic_fetch_add(&p->batches, 1);
		atomic_fetch_add(&p->resent, resent);
	}
	return rc;
}

/* One round: a stream carrying every buffered line, finished within
 * budget_ms; acknowledged lines leave the ring. 0, or an error (lines kept). */
static int round_once(struct osh_sup_push *p, int64_t budget_ms)
{
	struct osh_rpc_call_opts o = {.timeout_ms = budget_ms};
	struct osh_rpc_cstream *s = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	size_t total = p->count;
	uint64_t last;
	int rc = 0;

	if (total == 0)
		goto out;
	last = ring_at(p, total - 1)->seq;
	if (!p->client)
		rc = osh_rpc_client_create(p->gateway, &openshell__v1__open_shell__descriptor, NULL,
					   &p->client);
	if (!rc)
		rc = osh_rpc_cstream_open(p->client, "PushSandboxLogs", &o, &s);
	if (rc)
		goto out;
	atomic_fetch_add(&p->streams, 1);
	for (size_t off = 0; off < total && rc == 0; off += OSH_SUP_PUSH_BATCH)
		rc = send_batch(
		    p, s, off, total - off < OSH_SUP_PUSH_BATCH ? total - off : OSH_SUP_PUSH_BATCH);
	/* Finish even after a failed send: it reaps the call and its status. */
	if (osh_rpc_cstream_finish(s, &resp, &st) != 0 && rc == 0)
		rc = OSH_EUNAVAIL;
	s = NULL;
	if (rc == 0 && resp) {
		const Openshell__V1__PushSandboxLogsResponse *r = (const void *)resp;

		atomic_fetch_add(&p->accepted, r->accepted);
		if (r->dropped) {
			/* Refused by the gateway (caps): they will not come back. */
			p->pending_loss += r->dropped;
			atomic_fetch_add(&p->dropped, r->dropped);
		}
		ring_ack(p, r->acked_seq ? r->acked_seq : last, osh_time_mono_ms());
	}
out:
	osh_rpc_cstream_destroy(s);
	osh_rpc_msg_free(resp);
	return rc;
}

static bool due(struct osh_sup_push *p, int64_t now, bool stopping)
{
	if (!p->count || now < p->next_try)
		return false;
	return stopping || p->count >= OSH_SUP_PUSH_BATCH ||
	       now - p->oldest_ms >= OSH_SUP_PUSH_LINGER_MS;
}

/* A round if one is due; budget_ms bounds it. */
static void tick(struct osh_sup_push *p, bool stopping, int64_t budget_ms)
{
	int64_t now = osh_time_mono_ms();

	if (!due(p, now, stopping))
		return;
	if (round_once(p, budget_ms) != 0) {
		failed(p, now);
		return;
	}
	p->backoff = 0;
	if (p->pending_loss) {
		/* Delivery works again: say how much never arrived. The report
		 * itself goes through the feed like any event. */
		osh_sup_ev_push_dropped(p->pending_loss,
					"gateway unreachable, log feed full or lines refused");
		p->pending_loss = 0;
	}
}

static void *push_main(void *arg)
{
	struct osh_sup_push *p = arg;
	int64_t deadline = -1;
	bool last_try = false;

	for (;;) {
		bool stopping;
		struct timespec ts;
		int64_t now;

		pthread_mutex_lock(&p->mu);
		stopping = p->stopping;
		if (stopping && deadline < 0)
			deadline = p->stop_at + p->flush_ms;
		if (!stopping) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			stopping = p->stopping;
			if (stopping)
				deadline = p->stop_at + p->flush_ms;
		}
		pthread_mutex_unlock(&p->mu);

		drain_feed(p);
		if (!stopping) {
			tick(p, false, OSH_SUP_PUSH_ROUND_MS);
			continue;
		}
		now = osh_time_mono_ms();
		if (!last_try) {
			last_try = true;
			p->next_try = 0; /* one last try at once */
		}
		if (p->count == 0 && p->pending_loss && p->backoff == 0 && now < deadline) {
			/* Losses from the feed with nothing buffered: the gateway
			 * still answers, so deliver the report like any line. */
			osh_sup_ev_push_dropped(p->pending_loss, "log feed full");
			p->pending_loss = 0;
			drain_feed(p);
		}
		if (p->count == 0 || now >= deadline || p->next_try > deadline)
			break;
		if (now < p->next_try) {
			struct timespec nap = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};

			nanosleep(&nap, NULL); /* backing off until next_try */
			continue;
		}
		tick(p, true, deadline - now);
		/* The loss report of a successful round is in the feed now. */
		drain_feed(p);
	}
	if (p->count) {
		atomic_fetch_add(&p->dropped, p->count);
		p->pending_loss += p->count;
	}
	if (p->pending_loss) {
		/* Cannot reach the gateway any more, but openshell.log (and the
		 * JSONL file) still say what it never received, this report
		 * included (it cannot be delivered either). */
		atomic_fetch_add(&p->dropped, 1);
		osh_sup_ev_push_dropped(p->pending_loss + 1,
					"gateway unreachable at shutdown (this report included)");
	}
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
	int64_t wait_ms;

	if (!p || !p->started || p->joined)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	p->flush_ms = flush_ms;
	p->stop_at = osh_time_mono_ms();
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	/* The flush deadline counts from now. A round already running when stop
	 * came ends within OSH_SUP_PUSH_ROUND_MS (< flush_ms), later rounds get
	 * only what is left of flush_ms; the slack covers thread wake-ups. A
	 * thread still inside gRPC after that is left to process exit. */
	wait_ms = (int64_t)flush_ms + JOIN_SLACK_MS;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
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
	out->acked = atomic_load(&p->acked);
	out->resent = atomic_load(&p->resent);
}

int osh_sup_push_agent_line(struct osh_sup_push *p, const char *stream, const char *text)
{
	char *msg;
	int rc = OSH_OK;

	if (!p || !stream || !text)
		return OSH_EINVAL;
	msg = strndup(text, OSH_SUP_PUSH_AGENT_LINE_MAX);
	pthread_mutex_lock(&p->in_mu);
	if (!msg || p->in_n == OSH_SUP_PUSH_AGENT_INBOX) {
		p->in_dropped++;
		atomic_fetch_add(&p->dropped, 1);
		free(msg);
		rc = msg ? OSH_EFULL : OSH_ENOMEM;
	} else {
		struct agent_in *a = &p->inbox[p->in_n++];
		a->ts = osh_time_wall_ms();
		snprintf(a->stream, sizeof(a->stream), "%s", stream);
		a->msg = msg;
	}
	pthread_mutex_unlock(&p->in_mu);
	return rc;
}

void osh_sup_push_destroy(struct osh_sup_push *p)
{
	if (!p)
		return;
	osh_sup_push_stop(p, 0);
	if (p->started && !p->joined)
		return; /* thread still inside gRPC: leave it to process exit */
	for (size_t i = 0; i < p->count; i++) {
		free(ring_at(p, i)->msg);
		free(ring_at(p, i)->json);
	}
	for (size_t i = 0; i < p->in_n; i++)
		free(p->inbox[i].msg);
	pthread_mutex_destroy(&p->in_mu);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->gateway);
	free(p->sandbox_id);
	free(p->scratch);
	free(p);
}
