/* gx_export.c - hand-off, spooler and delivery threads (see gx_export.h).
 *
 * DESIGN
 * Three kinds of state, three locks, never nested the other way round:
 * the hand-off (in_mu: a ring of heap copies), the destination set (mu:
 * swapped whole on reload, held by the spooler while it appends), and each
 * destination's wake-up (rt->mu/cv). The delivery threads never take `mu`,
 * so a reload can stop and join them while holding it. Drops are counted
 * where they happen and reported by the spooler, at most once a second per
 * destination, so a flood of drops is a handful of events. Every thread
 * blocks SIGPIPE: a receiver that vanished is an EPIPE on that write.
 */
#include "gx_export.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "gx_config.h"
#include "gx_json.h"
#include "gx_send.h"
#include "gx_sites.h"
#include "gx_spool.h"
#include "ocsf_convert.h"
#include "osh_emit.h"
#include "osh_time.h"

#define FEED_BATCH	64
#define IDLE_WAIT_MS	200
#define UNCONF_MAX	64 /* syslog slots written but not yet confirmed */
#define UNCONF_SLOT_MS	100
#define DROP_REPORT_MS	1000
#define STOP_CONFIRM_MS (GX_SYSLOG_CONFIRM_MS + 200)
#define CONV_REPORT_MS	10000
#define GX_NICE		5 /* nice of the export threads (thread_setup) */

struct item {
	char *p;
	size_t n;
};

/* One running destination. */
struct rt {
	struct gx_dest d;
	struct gx_spool *sp;
	const struct gx_transport *ops;
	struct gx_conn *conn;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	/* delivery thread only */
	struct {
		struct gx_spool_pos end;
		uint64_t wire;	/* connection bytes written up to the slot's end */
		int64_t at;	/* last write into this slot */
		int64_t opened; /* first write into this slot */
	} unconf[UNCONF_MAX];
	size_t n_unconf;
	struct gx_spool_pos sent;
	bool down;
	int64_t down_since, backoff, next_try;
	uint64_t conv_pending; /* refused by the version conversion, not yet reported */
	int64_t conv_reported; /* 0 = never */
	char conv_reason[256];
	/* spooler only */
	uint64_t drop_pending, wfail_pending;
	bool wake;
	int64_t drop_reported;
	struct gx_export *x;
};

struct gx_export {
	char data_dir[GX_PATH_MAX];
	char yaml_path[GX_PATH_MAX];
	bool drain_feed;
	pthread_mutex_t mu; /* cfg + rts */
	struct gx_config *cfg;
	struct rt *rts;
	size_t n_rts;
	_Atomic bool active;

	pthread_mutex_t in_mu;
	pthread_cond_t in_cv;
	struct item ring[GX_HANDOFF_MAX];
	size_t head, count;
	bool stop;
	pthread_t spooler;
	bool spooler_started;
	uint64_t handoff_reported;

	_Atomic uint64_t offered, refused, handoff_dropped, queued, queue_dropped, delivered,
	    failures, convert_refused;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Every export thread: SIGPIPE blocked, and a lower CPU priority (nice
 * +GX_NICE for this thread only) so that on a busy gateway the scheduler
 * serves log push and policy polls first; the queues absorb the lag. */
static void thread_setup(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), GX_NICE);
}

static void abs_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ------------------------------------------------------------- delivery */

static void rt_fail(struct rt *r, const char *why, int64_t now)
{
	uint64_t waiting = 0, bytes = 0;

	atomic_fetch_add(&r->x->failures, 1);
	r->ops->reset(r->conn);
	r->n_unconf = 0;
	r->sent = gx_spool_cursor(r->sp); /* rewind: resend what was not confirmed */
	if (!r->down) {
		r->down = true;
		r->down_since = now;
		gx_spool_stats(r->sp, &waiting, &bytes);
		gx_ev_delivery_failed(r->d.name, why, waiting);
	}
	r->backoff = r->backoff ? r->backoff * 2 : r->d.retry_min_ms;
	if (r->backoff > r->d.retry_max_ms)
		r->backoff = r->d.retry_max_ms;
	r->next_try = now + r->backoff;
}

/* Syslog: commits the batches written long enough ago on a connection that
 * is still healthy and whose bytes the receiver's TCP acknowledged; a
 * connection found dead, or one whose oldest unconfirmed bytes are still
 * unacknowledged timeout_ms after their write (a stalled receiver),
 * rewinds. force: confirm all acknowledged. */
static void rt_confirm(struct rt *r, int64_t now, bool force)
{
	size_t k = 0;
	uint64_t written = 0, acked = 0;

	if (r->n_unconf == 0)
		return;
	if (r->ops->alive(r->conn) != 0) {
		rt_fail(r, "connection closed by the receiver", now);
		return;
	}
	r->ops->progress(r->conn, &written, &acked);
	if (r->unconf[0].wire > acked && now - r->unconf[0].at > (int64_t)r->d.timeout_ms) {
		/* The receiver's TCP stopped acknowledging: it accepted and does
		 * not read (its receive buffer is full). Resend on a new one. */
		char why[160];

		snprintf(why, sizeof(why),
			 "receiver stalled: %llu bytes written not acknowledged after %u ms",
			 (unsigned long long)(written - acked), r->d.timeout_ms);
		rt_fail(r, why, now);
		return;
	}
	while (k < r->n_unconf && (force || now - r->unconf[k].at >= GX_SYSLOG_CONFIRM_MS) &&
	       r->unconf[k].wire <= acked)
		k++;
	if (k == 0)
		return;
	if (r->down) {
		r->down = false;
		gx_ev_delivery_resumed(r->d.name, now - r->down_since);
	}
	(void)gx_spool_commit(r->sp, r->unconf[k - 1].end);
	memmove(r->unconf, r->unconf + k, (r->n_unconf - k) * sizeof(r->unconf[0]));
	r->n_unconf -= k;
}

/* Syslog: records a written batch for confirmation. Batches written within
 * UNCONF_SLOT_MS share a slot (confirmed together, GX_SYSLOG_CONFIRM_MS
 * after the slot's last write), so the slots cover seconds of writes at
 * any batch rate. */
static void unconf_add(struct rt *r, struct gx_spool_pos end, int64_t now)
{
	uint64_t written = 0, acked = 0;

	r->ops->progress(r->conn, &written, &acked);
	if (r->n_unconf && now - r->unconf[r->n_unconf - 1].opened < UNCONF_SLOT_MS) {
		r->unconf[r->n_unconf - 1].end = end;
		r->unconf[r->n_unconf - 1].wire = written;
		r->unconf[r->n_unconf - 1].at = now;
		return;
	}
	r->unconf[r->n_unconf].end = end;
	r->unconf[r->n_unconf].wire = written;
	r->unconf[r->n_unconf].at = now;
	r->unconf[r->n_unconf].opened = now;
	r->n_unconf++;
}

/* The destination's OCSF version: each event of buf (lines ending '\n')
 * converted (src/ocsf/ocsf_convert.h); refused events are left out, their
 * number in *refused and the last reason in r->conv_reason. *out is heap
 * (caller frees), *n_out the events in it. */
static int convert_batch(struct rt *r, const char *buf, size_t len, char **out, size_t *olen,
			 size_t *n_out, uint64_t *refused)
{
	const char *p = buf, *end = buf + len;
	char *o = malloc(len + 1), why[256];
	size_t cap = len + 1, on = 0;

	*out = NULL;
	*olen = *n_out = 0;
	*refused = 0;
	if (!o)
		return OSH_ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *c = NULL;
		size_t cl = 0;

		if (ocsf_convert_json(p, ln, r->d.schema, &c, &cl, why, sizeof(why)) == 0) {
			if (on + cl + 2 > cap) {
				char *no = realloc(o, (on + cl + 2) * 2);

				if (!no) {
					free(c);
					free(o);
					return OSH_ENOMEM;
				}
				o = no;
				cap = (on + cl + 2) * 2;
			}
			memcpy(o + on, c, cl);
			on += cl;
			o[on++] = '\n';
			(*n_out)++;
			free(c);
		} else {
			(*refused)++;
			snprintf(r->conv_reason, sizeof(r->conv_reason), "%s", why);
		}
		p += ln + 1;
	}
	o[on] = '\0';
	*out = o;
	*olen = on;
	return 0;
}

/* Refusals of the conversion: the first at once, then at most every
 * CONV_REPORT_MS (the count since the last report). */
static void conv_report(struct rt *r, int64_t now, bool force)
{
	if (!r->conv_pending ||
	    (!force && r->conv_reported && now - r->conv_reported < CONV_REPORT_MS))
		return;
	gx_ev_convert_refused(r->d.name, r->d.schema_version, r->conv_pending, r->conv_reason);
	r->conv_pending = 0;
	r->conv_reported = now;
}

static bool rt_wait(struct rt *r, int64_t ms)
{
	struct timespec ts;
	bool stop;

	abs_deadline(&ts, ms);
	pthread_mutex_lock(&r->mu);
	if (!r->stop)
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static void *rt_main(void *arg)
{
	struct rt *r = arg;
	bool syslog = r->d.kind == GX_KIND_SYSLOG;
	char why[512];

	thread_setup();
	r->sent = gx_spool_cursor(r->sp);
	for (;;) {
		int64_t now = osh_time_mono_ms();
		struct gx_spool_pos from, end;
		char *buf = NULL;
		size_t len = 0, n = 0, sent_n;
		uint64_t conv_refused = 0;
		bool stop;

		pthread_mutex_lock(&r->mu);
		stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		if (now < r->next_try) {
			(void)rt_wait(r, r->next_try - now < IDLE_WAIT_MS ? r->next_try - now
									  : IDLE_WAIT_MS);
			continue;
		}
		if (syslog)
			rt_confirm(r, now, false);
		if (now < r->next_try)
			continue;
		from = syslog ? r->sent : gx_spool_cursor(r->sp);
		if (syslog && r->n_unconf == UNCONF_MAX) {
			(void)rt_wait(r, 50);
			continue;
		}
		if (gx_spool_read(r->sp, from, r->d.batch_max_events, r->d.batch_max_bytes, &buf,
				  &len, &n, &end) != 0 ||
		    n == 0) {
			free(buf);
			(void)rt_wait(r, syslog && r->n_unconf ? 100 : IDLE_WAIT_MS);
			continue;
		}
		sent_n = n;
		why[0] = '\0';
		if (r->d.schema != OCSF_VERSION_1_7_0) {
			char *cbuf = NULL;
			size_t clen = 0, cn = 0;

			if (convert_batch(r, buf, len, &cbuf, &clen, &cn, &conv_refused) != 0) {
				free(buf);
				(void)rt_wait(r, IDLE_WAIT_MS); /* out of memory: try later */
				continue;
			}
			free(buf);
			buf = cbuf;
			len = clen;
			sent_n = cn;
		}
		if ((sent_n == 0 && n > 0) ||
		    r->ops->send(r->conn, buf, len, sent_n, why, sizeof(why)) == 0) {
			/* syslog: resumed once a batch is confirmed (rt_confirm), not
			 * when a write was taken by a socket buffer */
			if (r->down && !syslog) {
				r->down = false;
				gx_ev_delivery_resumed(r->d.name, now - r->down_since);
			}
			r->backoff = 0;
			if (syslog) {
				r->sent = end;
				unconf_add(r, end, now);
			} else {
				(void)gx_spool_commit(r->sp, end);
			}
			atomic_fetch_add(&r->x->delivered, sent_n);
			if (conv_refused) {
				atomic_fetch_add(&r->x->convert_refused, conv_refused);
				r->conv_pending += conv_refused;
			}
			conv_report(r, now, false);
		} else {
			rt_fail(r, why[0] ? why : "delivery failed", now);
		}
		free(buf);
	}
	conv_report(r, osh_time_mono_ms(), true);
	if (syslog && r->n_unconf) {
		/* Give the last batches their confirmation window, so a clean
		 * restart does not send them again. */
		int64_t until = osh_time_mono_ms() + STOP_CONFIRM_MS;

		while (r->n_unconf && osh_time_mono_ms() < until) {
			struct timespec nap = {0, 50 * 1000000L};

			nanosleep(&nap, NULL);
			rt_confirm(r, osh_time_mono_ms(), false);
		}
	}
	return NULL;
}

/* ------------------------------------------------------- destination set */

/* Stops and joins the delivery threads (their queues stay open). */
static void rts_halt(struct rt *rts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&rts[i].mu);
		rts[i].stop = true;
		pthread_cond_signal(&rts[i].cv);
		pthread_mutex_unlock(&rts[i].mu);
	}
	for (size_t i = 0; i < n; i++)
		if (rts[i].started) {
			pthread_join(rts[i].th, NULL);
			rts[i].started = false;
		}
}

static void rts_stop(struct rt *rts, size_t n)
{
	rts_halt(rts, n);
	for (size_t i = 0; i < n; i++) {
		gx_conn_destroy(rts[i].ops, rts[i].conn);
		gx_spool_close(rts[i].sp);
		pthread_mutex_destroy(&rts[i].mu);
		pthread_cond_destroy(&rts[i].cv);
	}
	free(rts);
}

static void queue_dir_of(struct gx_export *x, const struct gx_config *c, const char *name,
			 char *out, size_t cap)
{
	if (c->queue_dir[0])
		snprintf(out, cap, "%s/%s", c->queue_dir, name);
	else
		snprintf(out, cap, "%s/export/%s", x->data_dir, name);
}

/* Opens queues and transports of every destination of c and starts their
 * threads. On error nothing is left running. */
static int rts_start(struct gx_export *x, const struct gx_config *c, struct rt **out, char *err,
		     size_t errlen)
{
	struct rt *rts = calloc(c->n ? c->n : 1, sizeof(*rts));
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!rts)
		return OSH_ENOMEM;
	for (i = 0; i < c->n && rc == 0; i++) {
		struct rt *r = &rts[i];
		char dir[GX_PATH_MAX + 80], why[400] = "";

		r->d = c->dests[i];
		r->x = x;
		pthread_mutex_init(&r->mu, NULL);
		pthread_cond_init(&r->cv, NULL);
		queue_dir_of(x, c, r->d.name, dir, sizeof(dir));
		rc = gx_spool_open(dir, r->d.queue_max_bytes, &r->sp, why, sizeof(why));
		if (rc == 0)
			rc = gx_conn_create(&r->d, &r->ops, &r->conn, why, sizeof(why));
		if (rc != 0)
			snprintf(err, errlen, "export destination %s: %s", r->d.name, why);
	}
	for (size_t k = 0; k < i && rc == 0; k++) {
		if (pthread_create(&rts[k].th, NULL, rt_main, &rts[k]) != 0) {
			snprintf(err, errlen, "export destination %s: cannot start its thread",
				 rts[k].d.name);
			rc = OSH_ESYS;
			break;
		}
		rts[k].started = true;
	}
	if (rc != 0) {
		rts_stop(rts, i);
		return rc;
	}
	*out = rts;
	return 0;
}

/* --------------------------------------------------------------- spooler */

static bool filter_pass(const struct gx_filter *f, int64_t cls, int64_t sev, struct gx_span sb_name,
			struct gx_span sb_id)
{
	bool ok = f->n_classes == 0;

	for (size_t i = 0; !ok && i < f->n_classes; i++)
		ok = f->classes[i] == (uint32_t)cls;
	if (!ok)
		return false;
	if ((sev == 99 ? 0 : sev) < f->min_severity)
		return false;
	if (!sb_name.p && !sb_id.p)
		return f->gateway_events;
	if (f->n_sandboxes == 0)
		return true;
	for (size_t i = 0; i < f->n_sandboxes; i++)
		if (gx_span_eq(sb_name, f->sandboxes[i]) || gx_span_eq(sb_id, f->sandboxes[i]))
			return true;
	return false;
}

/* Filters one event and appends it to every destination that takes it.
 * Caller holds x->mu. */
static void spool_one(struct gx_export *x, const char *p, size_t n)
{
	struct gx_meta m;

	/* One line per event on disk: the scan proved the text one JSON
	 * object, and a raw newline can only sit between tokens. */
	if (gx_json_meta(p, n, &m) != 0 || !m.uid.p || m.uid.n == 0 || memchr(p, '\n', n)) {
		atomic_fetch_add(&x->refused, 1);
		return;
	}
	for (size_t i = 0; i < x->n_rts; i++) {
		struct rt *r = &x->rts[i];
		uint64_t dropped = 0;

		if (!filter_pass(&r->d.filter, m.has_class ? m.class_uid : 0,
				 m.has_severity ? m.severity_id : 0, m.sb_name, m.sb_id))
			continue;
		if (gx_spool_append(r->sp, p, n, &dropped) == 0) {
			atomic_fetch_add(&x->queued, 1);
		} else if (dropped) { /* this event: the queue's disk refused it */
			dropped--;
			r->wfail_pending++;
			atomic_fetch_add(&x->queue_dropped, 1);
		}
		if (dropped) {
			r->drop_pending += dropped;
			atomic_fetch_add(&x->queue_dropped, dropped);
		}
		r->wake = true;
	}
}

/* Wakes the delivery threads that got events in this pass (once each). */
static void wake_all(struct gx_export *x)
{
	for (size_t i = 0; i < x->n_rts; i++) {
		struct rt *r = &x->rts[i];

		if (!r->wake)
			continue;
		r->wake = false;
		pthread_mutex_lock(&r->mu);
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

/* Drop reports (outside x->mu: the report is an event of its own). */
struct drop_note {
	char name[GX_NAME_MAX];
	uint64_t n;
	const char *reason;
};

static void *spooler_main(void *arg)
{
	struct gx_export *x = arg;
	struct osh_push_line *feed = x->drain_feed ? calloc(FEED_BATCH, sizeof(*feed)) : NULL;
	struct item *local = calloc(GX_HANDOFF_MAX, sizeof(*local));
	struct drop_note notes[2 * GX_DEST_MAX];

	thread_setup();
	for (;;) {
		struct timespec ts;
		size_t n = 0, nf, nn = 0;
		bool stop;
		uint64_t hd;
		int64_t now;

		pthread_mutex_lock(&x->in_mu);
		if (x->count == 0 && !x->stop) {
			abs_deadline(&ts, x->drain_feed ? 50 : IDLE_WAIT_MS);
			pthread_cond_timedwait(&x->in_cv, &x->in_mu, &ts);
		}
		while (local && x->count) {
			local[n++] = x->ring[x->head];
			x->head = (x->head + 1) % GX_HANDOFF_MAX;
			x->count--;
		}
		stop = x->stop;
		pthread_mutex_unlock(&x->in_mu);

		pthread_mutex_lock(&x->mu);
		for (size_t i = 0; i < n; i++) {
			spool_one(x, local[i].p, local[i].n);
			free(local[i].p);
		}
		while (feed && (nf = osh_emit_push_drain(feed, FEED_BATCH)) > 0)
			for (size_t i = 0; i < nf; i++) {
				if (feed[i].json) {
					atomic_fetch_add(&x->offered, 1);
					if (x->n_rts)
						spool_one(x, feed[i].json, feed[i].json_len);
				}
				free(feed[i].json);
			}
		wake_all(x);
		now = osh_time_mono_ms();
		for (size_t i = 0; i < x->n_rts; i++) {
			struct rt *r = &x->rts[i];

			if ((r->drop_pending || r->wfail_pending) &&
			    now - r->drop_reported >= DROP_REPORT_MS &&
			    nn + 2 <= (size_t)2 * GX_DEST_MAX) {
				if (r->drop_pending) {
					snprintf(notes[nn].name, sizeof(notes[nn].name), "%s",
						 r->d.name);
					notes[nn].reason = "queue_full";
					notes[nn++].n = r->drop_pending;
				}
				if (r->wfail_pending) {
					snprintf(notes[nn].name, sizeof(notes[nn].name), "%s",
						 r->d.name);
					notes[nn].reason = "write_failed";
					notes[nn++].n = r->wfail_pending;
				}
				r->drop_pending = r->wfail_pending = 0;
				r->drop_reported = now;
			}
		}
		pthread_mutex_unlock(&x->mu);
		for (size_t i = 0; i < nn; i++)
			gx_ev_dropped(notes[i].name, notes[i].n, notes[i].reason);
		hd = atomic_load(&x->handoff_dropped);
		if (hd > x->handoff_reported) {
			gx_ev_dropped("*", hd - x->handoff_reported, "handoff_full");
			x->handoff_reported = hd;
		}
		if (stop)
			break;
	}
	free(feed);
	free(local);
	return NULL;
}

/* ------------------------------------------------------------- interface */

int gx_export_create(const struct gx_export_opts *o, struct gx_export **out, char *err,
		     size_t errlen)
{
	struct gx_export *x = calloc(1, sizeof(*x));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (!x)
		return rc;
	(void)pthread_once(&curl_once, curl_init_once);
	snprintf(x->data_dir, sizeof(x->data_dir), "%s", o->data_dir ? o->data_dir : ".");
	snprintf(x->yaml_path, sizeof(x->yaml_path), "%s", o->yaml_path ? o->yaml_path : "");
	x->drain_feed = o->drain_feed;
	pthread_mutex_init(&x->mu, NULL);
	pthread_mutex_init(&x->in_mu, NULL);
	pthread_cond_init(&x->in_cv, NULL);
	x->cfg = calloc(1, sizeof(*x->cfg));
	if (!x->cfg)
		goto fail;
	if (x->yaml_path[0]) {
		rc = gx_config_load(x->yaml_path, x->cfg, err, errlen);
		if (rc != 0)
			goto fail;
	}
	rc = rts_start(x, x->cfg, &x->rts, err, errlen);
	if (rc != 0)
		goto fail;
	x->n_rts = x->cfg->n;
	atomic_store(&x->active, x->n_rts > 0);
	if (pthread_create(&x->spooler, NULL, spooler_main, x) != 0) {
		snprintf(err, errlen, "export: cannot start the spooler thread");
		rc = OSH_ESYS;
		goto fail;
	}
	x->spooler_started = true;
	*out = x;
	return 0;
fail:
	gx_export_destroy(x);
	return rc;
}

void gx_export_offer(struct gx_export *x, const char *json, size_t len)
{
	char *copy;

	if (!x || !json || len == 0 || !atomic_load_explicit(&x->active, memory_order_relaxed))
		return;
	atomic_fetch_add(&x->offered, 1);
	copy = malloc(len + 1);
	if (!copy) {
		atomic_fetch_add(&x->handoff_dropped, 1);
		return;
	}
	memcpy(copy, json, len);
	copy[len] = '\0';
	pthread_mutex_lock(&x->in_mu);
	if (x->count == GX_HANDOFF_MAX) {
		pthread_mutex_unlock(&x->in_mu);
		free(copy);
		atomic_fetch_add(&x->handoff_dropped, 1);
		return;
	}
	x->ring[(x->head + x->count) % GX_HANDOFF_MAX] = (struct item){copy, len};
	x->count++;
	if (x->count == 1)
		pthread_cond_signal(&x->in_cv);
	pthread_mutex_unlock(&x->in_mu);
}

int gx_export_reload(struct gx_export *x, char *err, size_t errlen)
{
	struct gx_config *c = calloc(1, sizeof(*c));
	struct rt *nrts = NULL;
	int rc;

	if (!c)
		return OSH_ENOMEM;
	rc = x->yaml_path[0] ? gx_config_load(x->yaml_path, c, err, errlen) : 0;
	if (rc != 0) {
		gx_ev_config_refused(err);
		free(c);
		return rc;
	}
	pthread_mutex_lock(&x->mu);
	if (gx_config_same(c, x->cfg)) {
		pthread_mutex_unlock(&x->mu);
		free(c);
		return 0;
	}
	/* Queues are opened by name: the old set must let go of them first. */
	rts_stop(x->rts, x->n_rts);
	x->rts = NULL;
	x->n_rts = 0;
	rc = rts_start(x, c, &nrts, err, errlen);
	if (rc == 0) {
		x->rts = nrts;
		x->n_rts = c->n;
		free(x->cfg);
		x->cfg = c;
		c = NULL;
	} else {
		/* the new set cannot run (queue dir, TLS files): back to the old */
		char err2[256];

		gx_ev_config_refused(err);
		if (rts_start(x, x->cfg, &nrts, err2, sizeof(err2)) == 0) {
			x->rts = nrts;
			x->n_rts = x->cfg->n;
		}
	}
	atomic_store(&x->active, x->n_rts > 0);
	pthread_mutex_unlock(&x->mu);
	free(c);
	return rc;
}

bool gx_export_active(struct gx_export *x)
{
	return x && atomic_load(&x->active);
}

void gx_export_stats_get(struct gx_export *x, struct gx_export_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->offered = atomic_load(&x->offered);
	out->refused = atomic_load(&x->refused);
	out->handoff_dropped = atomic_load(&x->handoff_dropped);
	out->queued = atomic_load(&x->queued);
	out->queue_dropped = atomic_load(&x->queue_dropped);
	out->delivered = atomic_load(&x->delivered);
	out->failures = atomic_load(&x->failures);
	out->convert_refused = atomic_load(&x->convert_refused);
	pthread_mutex_lock(&x->mu);
	out->destinations = x->n_rts;
	for (size_t i = 0; i < x->n_rts; i++) {
		uint64_t ev = 0, b = 0;

		gx_spool_stats(x->rts[i].sp, &ev, &b);
		out->waiting += ev;
	}
	pthread_mutex_unlock(&x->mu);
}

void gx_export_destroy(struct gx_export *x)
{
	if (!x)
		return;
	/* Delivery threads first: what they report on their way out (an
	 * outage found at the last confirmation) still reaches the queues
	 * through the spooler's last pass over the feed. */
	pthread_mutex_lock(&x->mu);
	rts_halt(x->rts, x->n_rts);
	pthread_mutex_unlock(&x->mu);
	pthread_mutex_lock(&x->in_mu);
	x->stop = true;
	pthread_cond_signal(&x->in_cv);
	pthread_mutex_unlock(&x->in_mu);
	if (x->spooler_started)
		pthread_join(x->spooler, NULL);
	/* Anything offered after the spooler's last pass still goes to disk:
	 * delivered by the next start. */
	while (x->count) {
		if (x->n_rts)
			spool_one(x, x->ring[x->head].p, x->ring[x->head].n);
		wake_all(x);
		free(x->ring[x->head].p);
		x->head = (x->head + 1) % GX_HANDOFF_MAX;
		x->count--;
	}
	rts_stop(x->rts, x->n_rts);
	free(x->cfg);
	pthread_mutex_destroy(&x->mu);
	pthread_mutex_destroy(&x->in_mu);
	pthread_cond_destroy(&x->in_cv);
	free(x);
}
