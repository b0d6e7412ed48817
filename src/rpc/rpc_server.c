/* rpc_server.c - gRPC core server loop driving protobuf-c handlers.
 *
 * DESIGN: one completion queue, one loop thread. Every completion carries a
 * pointer to a `struct tag` whose kind says what finished:
 *   TAG_NEW      a request slot got a new call (per method, plus one generic
 *                slot that answers unknown paths UNIMPLEMENTED),
 *   TAG_CLOSE    RECV_CLOSE_ON_SERVER: the call is over (cancelled or not),
 *   TAG_SEND     the one send batch in flight on a call finished,
 *   TAG_RECV     a client-stream RECV_MESSAGE finished,
 *   TAG_SHUTDOWN grpc_server_shutdown_and_notify finished.
 * A call is reference counted: one reference per batch in flight, one while a
 * handler runs, and one per osh_rpc_call_ref(). Sends may start from any
 * thread; all batch starts on a call happen under its mutex so the "one send
 * batch in flight" rule holds. Handlers run without the mutex held.
 * Slots are re-armed before the new call is handled, so there is always a
 * request outstanding per method.
 *
 * Offload: for a method marked `offload` the loop only moves the call's work
 * (request bytes, stream message, half-close) onto a bounded job queue served
 * by opts.workers threads; unpacking and the handler run there. A call counts
 * its jobs (queued or running) under its mutex: no new job is queued once
 * the call closed, and when the close arrives while a job is pending, on_done
 * is deferred to the worker that finishes the last job, so on_done never
 * overlaps a callback and per-call data stays valid while one runs. Every
 * job holds a call reference, which keeps the loop's "all calls gone" exit
 * condition true only once the queue is empty; the workers are joined after
 * the loop, before the completion queue is destroyed. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "osh_rpc.h"
#include "osh_rpc_check.h"
#include "rpc_internal.h"
#include "osh_time.h"

/* grpc_arg keys are non-const char *. */
static char k_max_recv[] = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
static char k_max_send[] = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
static char k_reuseport[] = GRPC_ARG_ALLOW_REUSEPORT;
static char k_min_ping[] = GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS;
static char k_permit_idle[] = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
static char k_idle[] = GRPC_ARG_MAX_CONNECTION_IDLE_MS;
static char k_handshake[] = GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS;
static char k_max_md[] = GRPC_ARG_MAX_METADATA_SIZE;

enum tag_kind { TAG_NEW, TAG_CLOSE, TAG_SEND, TAG_RECV, TAG_SHUTDOWN };

struct tag {
	enum tag_kind kind;
	void *owner; /* struct slot or struct osh_rpc_call */
};

struct method_entry {
	struct osh_rpc_method m;
	const ProtobufCMethodDescriptor *desc;
	char *path;
	void *reg; /* grpc_server_register_method handle */
};

struct slot {
	struct tag tag;
	struct method_entry *me; /* NULL: the generic slot */
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
	grpc_call_details details;
};

struct qnode {
	struct qnode *next;
	grpc_byte_buffer *bb;
	size_t bytes;
};

enum job_kind { JOB_START, JOB_RECV, JOB_END };

struct job {
	struct job *next;
	enum job_kind kind;
	struct osh_rpc_call *call; /* one reference held */
	grpc_byte_buffer *bb;	   /* START: request bytes (may be NULL); RECV: message */
};

struct osh_rpc_packed {
	grpc_byte_buffer *bb;
	const ProtobufCMessageDescriptor *desc;
	size_t bytes;
};

struct md_copy {
	char *key;
	char *value;
};

struct osh_rpc_call {
	struct osh_rpc_server *srv;
	struct method_entry *me; /* NULL for an unknown method */
	grpc_call *gc;
	atomic_int refs;
	pthread_mutex_t mu;
	struct tag t_close, t_send, t_recv;
	grpc_metadata_array md;
	int close_cancelled; /* written by gRPC when TAG_CLOSE completes */
	grpc_byte_buffer *recv_bb;
	/* guarded by mu */
	struct qnode *qhead, *qtail;
	size_t qlen;
	size_t qbytes;
	uint64_t dropped;
	bool want_drain; /* a write was dropped: call on_drain once it drained */
	int jobs;	 /* offload jobs queued or running */
	bool done_deferred;
	bool done_cancelled;
	grpc_byte_buffer *inflight_bb;
	bool md_sent;
	bool send_busy;
	bool ended;	  /* status decided: no more writes or replies */
	bool status_sent; /* the status batch was started */
	bool closed;	  /* TAG_CLOSE completed */
	bool broken;	  /* a send failed: the peer is gone */
	int status_code;
	char *status_msg;
	/* loop thread only */
	void *data;
	char *peer;
	char *unknown_path;
	struct md_copy *mdc;
	size_t n_mdc;
};

struct osh_rpc_server {
	struct osh_rpc_server_opts opts;
	char *listen;
	grpc_server *gs;
	grpc_completion_queue *cq;
	struct method_entry *methods;
	size_t n_methods;
	size_t n_added;
	struct slot **slots; /* n_methods + 1 (generic last) */
	int port;
	bool started;
	bool running;
	atomic_bool stop_req;
	atomic_int live_calls;
	int live_slots;
	pthread_t thread;
	bool spawned;
	struct osh_rpc_listener *listener; /* "unix:" listen only */
	struct tag shutdown_tag;
	/* offload pool */
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	struct job *jhead, *jtail;
	size_t jlen;
	bool wstop;
	pthread_t *wthreads;
	unsigned n_wthreads;
	char err[256];
};

__attribute__((format(printf, 2, 3))) static void set_err(struct osh_rpc_server *s, const char *fmt,
							  ...)
{
	va_list ap;
	if (s->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------- messages -- */

grpc_byte_buffer *osh_rpc_pack(const ProtobufCMessage *m, size_t max, int *rc)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	grpc_byte_buffer *bb = NULL;
	grpc_slice sl;

	*rc = OSH_OK;
	if (max != 0 && n > max) {
		*rc = OSH_ETOOBIG;
		goto out;
	}
	sl = grpc_slice_malloc(n);
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
	bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_slice_unref(sl);
out:
	return bb;
}

ProtobufCMessage *osh_rpc_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb,
				 char *err, size_t errlen)
{
	grpc_byte_buffer_reader r;
	grpc_slice sl;
	ProtobufCMessage *m = NULL;

	if (err && errlen)
		err[0] = '\0';
	if (!grpc_byte_buffer_reader_init(&r, bb))
		goto out;
	sl = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(sl), GRPC_SLICE_START_PTR(sl));
	if (m && err &&
	    osh_rpc_check_strings(d, GRPC_SLICE_START_PTR(sl), GRPC_SLICE_LENGTH(sl), err,
				  errlen) != 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}
	grpc_slice_unref(sl);
out:
	return m;
}

char *osh_rpc_path(const ProtobufCServiceDescriptor *svc, const char *method)
{
	size_t n = strlen(svc->name) + strlen(method) + 3;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "/%s/%s", svc->name, method);
	return p;
}

/* -------------------------------------------------------------- calls -- */

static void call_free(struct osh_rpc_call *c)
{
	struct osh_rpc_server *s = c->srv;
	struct qnode *q = c->qhead;

	while (q != NULL) {
		struct qnode *nx = q->next;
		grpc_byte_buffer_destroy(q->bb);
		free(q);
		q = nx;
	}
	if (c->inflight_bb != NULL)
		grpc_byte_buffer_destroy(c->inflight_bb);
	if (c->recv_bb != NULL)
		grpc_byte_buffer_destroy(c->recv_bb);
	grpc_metadata_array_destroy(&c->md);
	if (c->gc != NULL)
		grpc_call_unref(c->gc);
	for (size_t i = 0; i < c->n_mdc; i++) {
		free(c->mdc[i].key);
		free(c->mdc[i].value);
	}
	free(c->mdc);
	free(c->status_msg);
	if (c->peer != NULL)
		gpr_free(c->peer);
	free(c->unknown_path);
	pthread_mutex_destroy(&c->mu);
	free(c);
	atomic_fetch_sub(&s->live_calls, 1);
}

void osh_rpc_call_ref(struct osh_rpc_call *call)
{
	atomic_fetch_add(&call->refs, 1);
}

void osh_rpc_call_unref(struct osh_rpc_call *call)
{
	if (call != NULL && atomic_fetch_sub(&call->refs, 1) == 1)
		call_free(call);
}

static void drop_queue_locked(struct osh_rpc_call *c)
{
	struct qnode *q = c->qhead;
	while (q != NULL) {
		struct qnode *nx = q->next;
		grpc_byte_buffer_destroy(q->bb);
		free(q);
		q = nx;
	}
	c->qhead = c->qtail = NULL;
	c->qlen = 0;
	c->qbytes = 0;
}

/* Start the next send batch if none is in flight. Caller holds c->mu. */
static void pump_locked(struct osh_rpc_call *c)
{
	grpc_op ops[3];
	size_t n = 0;
	grpc_slice details;
	bool with_status = false;
	grpc_call_error e;

	if (c->send_busy || c->status_sent || c->closed || c->broken)
		return;
	memset(ops, 0, sizeof(ops));
	if (!c->md_sent) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		n++;
	}
	if (c->qhead != NULL) {
		struct qnode *q = c->qhead;
		c->qhead = q->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		c->qlen--;
		c->qbytes -= q->bytes;
		c->inflight_bb = q->bb;
		free(q);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = c->inflight_bb;
		n++;
	}
	if (c->ended && c->qhead == NULL) {
		details = grpc_slice_from_copied_string(c->status_msg != NULL ? c->status_msg : "");
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = (grpc_status_code)c->status_code;
		ops[n].data.send_status_from_server.status_details = &details;
		ops[n].data.send_status_from_server.trailing_metadata_count = 0;
		n++;
		with_status = true;
	}
	if (n == 0)
		return;
	c->send_busy = true;
	c->md_sent = true;
	if (with_status)
		c->status_sent = true;
	osh_rpc_call_ref(c);
	e = grpc_call_start_batch(c->gc, ops, n, &c->t_send, NULL);
	if (with_status)
		grpc_slice_unref(details);
	if (e != GRPC_CALL_OK) {
		c->send_busy = false;
		c->broken = true;
		if (c->inflight_bb != NULL) {
			grpc_byte_buffer_destroy(c->inflight_bb);
			c->inflight_bb = NULL;
		}
		atomic_fetch_sub(&c->refs, 1); /* the caller holds another ref */
	}
}

static void end_locked(struct osh_rpc_call *c, int code, const char *msg)
{
	c->ended = true;
	c->status_code = code;
	free(c->status_msg);
	c->status_msg = strdup(msg != NULL ? msg : "");
}

static int vfail(struct osh_rpc_call *c, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int vfail(struct osh_rpc_call *c, int code, const char *fmt, va_list ap)
{
	char buf[1024];
	int rc = OSH_OK;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&c->mu);
	if (c->ended || c->closed) {
		rc = OSH_ECLOSED;
		goto out;
	}
	drop_queue_locked(c);
	end_locked(c, code == OSH_RPC_OK ? OSH_RPC_UNKNOWN : code, buf);
	pump_locked(c);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int osh_rpc_call_fail(struct osh_rpc_call *call, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = vfail(call, code, fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 3, 4))) static void fail_internal(struct osh_rpc_call *c, int code,
								const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vfail(c, code, fmt, ap);
	va_end(ap);
}

static size_t max_send(const struct osh_rpc_call *c)
{
	return c->srv->opts.max_send_bytes;
}

int osh_rpc_call_reply(struct osh_rpc_call *call, const ProtobufCMessage *resp)
{
	grpc_byte_buffer *bb = NULL;
	struct qnode *q = NULL;
	int rc = OSH_OK;

	if (call->me == NULL || call->me->m.kind == OSH_RPC_SERVER_STREAM || resp == NULL ||
	    resp->descriptor != call->me->desc->output) {
		fail_internal(call, OSH_RPC_INTERNAL, "server replied with the wrong message type");
		rc = OSH_EINVAL;
		goto out;
	}
	bb = osh_rpc_pack(resp, max_send(call), &rc);
	if (bb == NULL) {
		fail_internal(call, OSH_RPC_RESOURCE_EXHAUSTED,
			      "response of %zu bytes exceeds the server's %zu byte limit",
			      protobuf_c_message_get_packed_size(resp), max_send(call));
		goto out;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		grpc_byte_buffer_destroy(bb);
		fail_internal(call, OSH_RPC_INTERNAL, "out of memory");
		rc = OSH_ENOMEM;
		goto out;
	}
	q->bb = bb;
	pthread_mutex_lock(&call->mu);
	if (call->ended || call->closed) {
		pthread_mutex_unlock(&call->mu);
		grpc_byte_buffer_destroy(bb);
		free(q);
		rc = OSH_ECLOSED;
		goto out;
	}
	call->qhead = call->qtail = q;
	call->qlen = 1;
	end_locked(call, OSH_RPC_OK, "");
	pump_locked(call);
	pthread_mutex_unlock(&call->mu);
out:
	return rc;
}

/* Queues bb (consumed) on a server-stream call under the method's bounds;
 * `force` ignores them (a final summary). */
static int write_bb(struct osh_rpc_call *call, grpc_byte_buffer *bb, size_t bytes, bool force)
{
	struct qnode *q = NULL;
	int rc = OSH_OK;
	size_t qmax = call->me->m.queue_max != 0 ? call->me->m.queue_max : 256;
	size_t bmax = call->me->m.queue_max_bytes;

	pthread_mutex_lock(&call->mu);
	if (call->ended || call->closed || call->broken) {
		rc = OSH_ECLOSED;
		goto unlock;
	}
	if (!force &&
	    (call->qlen >= qmax || (bmax != 0 && call->qlen > 0 && call->qbytes + bytes > bmax))) {
		if (call->me->m.full_policy == OSH_RPC_FULL_CLOSE) {
			drop_queue_locked(call);
			end_locked(call, OSH_RPC_RESOURCE_EXHAUSTED,
				   "stream reader too slow: send queue full");
			pump_locked(call);
		}
		call->dropped++;
		call->want_drain = true;
		rc = OSH_EFULL;
		goto unlock;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		call->dropped++;
		rc = OSH_ENOMEM;
		goto unlock;
	}
	q->bb = bb;
	q->bytes = bytes;
	bb = NULL;
	if (call->qtail != NULL)
		call->qtail->next = q;
	else
		call->qhead = q;
	call->qtail = q;
	call->qlen++;
	call->qbytes += bytes;
	pump_locked(call);
unlock:
	pthread_mutex_unlock(&call->mu);
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	return rc;
}

static bool stream_output(const struct osh_rpc_call *call, const ProtobufCMessageDescriptor *d)
{
	return call->me != NULL && call->me->m.kind == OSH_RPC_SERVER_STREAM &&
	       d == call->me->desc->output;
}

int osh_rpc_call_write(struct osh_rpc_call *call, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb = NULL;
	int rc = OSH_OK;

	if (msg == NULL || !stream_output(call, msg->descriptor)) {
		rc = OSH_EINVAL;
		goto out;
	}
	bb = osh_rpc_pack(msg, max_send(call), &rc);
	if (bb == NULL) {
		pthread_mutex_lock(&call->mu);
		call->dropped++;
		pthread_mutex_unlock(&call->mu);
		if (rc == OSH_OK)
			rc = OSH_ENOMEM;
		goto out;
	}
	rc = write_bb(call, bb, protobuf_c_message_get_packed_size(msg), false);
out:
	return rc;
}

int osh_rpc_packed_new(const ProtobufCMessage *msg, size_t max_bytes, struct osh_rpc_packed **out)
{
	struct osh_rpc_packed *p = NULL;
	int rc = OSH_OK;

	*out = NULL;
	if (msg == NULL) {
		rc = OSH_EINVAL;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	p->bb = osh_rpc_pack(msg, max_bytes, &rc);
	if (p->bb == NULL) {
		free(p);
		p = NULL;
		if (rc == OSH_OK)
			rc = OSH_ENOMEM;
		goto out;
	}
	p->desc = msg->descriptor;
	p->bytes = grpc_byte_buffer_length(p->bb);
	*out = p;
out:
	return rc;
}

void osh_rpc_packed_free(struct osh_rpc_packed *p)
{
	if (p == NULL)
		return;
	grpc_byte_buffer_destroy(p->bb);
	free(p);
}

size_t osh_rpc_packed_size(const struct osh_rpc_packed *p)
{
	return p->bytes;
}

int osh_rpc_call_write_packed(struct osh_rpc_call *call, const struct osh_rpc_packed *p)
{
	grpc_byte_buffer *bb;
	int rc = OSH_OK;

	if (p == NULL || !stream_output(call, p->desc)) {
		rc = OSH_EINVAL;
		goto out;
	}
	if (max_send(call) != 0 && p->bytes > max_send(call)) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	bb = grpc_byte_buffer_copy(p->bb); /* shares the slices: no byte copy */
	if (bb == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	rc = write_bb(call, bb, p->bytes, false);
out:
	return rc;
}

int osh_rpc_call_finish_with(struct osh_rpc_call *call, const ProtobufCMessage *last)
{
	grpc_byte_buffer *bb = NULL;
	int rc = OSH_OK, frc;

	if (last == NULL || !stream_output(call, last->descriptor)) {
		rc = OSH_EINVAL;
	} else {
		bb = osh_rpc_pack(last, max_send(call), &rc);
		if (bb != NULL)
			rc = write_bb(call, bb, protobuf_c_message_get_packed_size(last), true);
		else if (rc == OSH_OK)
			rc = OSH_ENOMEM;
	}
	frc = osh_rpc_call_finish(call);
	if (rc == OSH_OK || frc == OSH_ECLOSED)
		rc = frc;
	return rc;
}

int osh_rpc_call_finish(struct osh_rpc_call *call)
{
	int rc = OSH_OK;
	pthread_mutex_lock(&call->mu);
	if (call->ended || call->closed) {
		rc = OSH_ECLOSED;
		goto out;
	}
	end_locked(call, OSH_RPC_OK, "");
	pump_locked(call);
out:
	pthread_mutex_unlock(&call->mu);
	return rc;
}

uint64_t osh_rpc_call_dropped(const struct osh_rpc_call *call)
{
	struct osh_rpc_call *c = (struct osh_rpc_call *)(uintptr_t)call;
	uint64_t d;
	pthread_mutex_lock(&c->mu);
	d = c->dropped;
	pthread_mutex_unlock(&c->mu);
	return d;
}

size_t osh_rpc_call_queued(const struct osh_rpc_call *call)
{
	struct osh_rpc_call *c = (struct osh_rpc_call *)(uintptr_t)call;
	size_t n;
	pthread_mutex_lock(&c->mu);
	n = c->qlen;
	pthread_mutex_unlock(&c->mu);
	return n;
}

bool osh_rpc_call_closed(const struct osh_rpc_call *call)
{
	struct osh_rpc_call *c = (struct osh_rpc_call *)(uintptr_t)call;
	bool b;
	pthread_mutex_lock(&c->mu);
	b = c->closed || c->ended || c->broken;
	pthread_mutex_unlock(&c->mu);
	return b;
}

void osh_rpc_call_set_data(struct osh_rpc_call *call, void *data)
{
	call->data = data;
}

void *osh_rpc_call_data(const struct osh_rpc_call *call)
{
	return call->data;
}

const char *osh_rpc_call_method(const struct osh_rpc_call *call)
{
	if (call->me != NULL)
		return call->me->path;
	return call->unknown_path != NULL ? call->unknown_path : "";
}

const char *osh_rpc_call_peer(const struct osh_rpc_call *call)
{
	struct osh_rpc_call *c = (struct osh_rpc_call *)(uintptr_t)call;
	if (c->peer == NULL)
		c->peer = grpc_call_get_peer(c->gc);
	return c->peer != NULL ? c->peer : "";
}

struct osh_rpc_server *osh_rpc_call_server(const struct osh_rpc_call *call)
{
	return call->srv;
}

const char *osh_rpc_call_metadata(struct osh_rpc_call *call, const char *key)
{
	const char *res = NULL;
	size_t klen = strlen(key);

	for (size_t i = 0; i < call->n_mdc; i++) {
		if (strcmp(call->mdc[i].key, key) == 0)
			return call->mdc[i].value;
	}
	for (size_t i = 0; i < call->md.count; i++) {
		const grpc_metadata *m = &call->md.metadata[i];
		struct md_copy *grown;
		size_t vlen;
		if (GRPC_SLICE_LENGTH(m->key) != klen ||
		    memcmp(GRPC_SLICE_START_PTR(m->key), key, klen) != 0)
			continue;
		grown = realloc(call->mdc, (call->n_mdc + 1) * sizeof(*grown));
		if (grown == NULL)
			break;
		call->mdc = grown;
		vlen = GRPC_SLICE_LENGTH(m->value);
		grown[call->n_mdc].key = strdup(key);
		grown[call->n_mdc].value = malloc(vlen + 1);
		if (grown[call->n_mdc].key == NULL || grown[call->n_mdc].value == NULL) {
			free(grown[call->n_mdc].key);
			free(grown[call->n_mdc].value);
			break;
		}
		memcpy(grown[call->n_mdc].value, GRPC_SLICE_START_PTR(m->value), vlen);
		grown[call->n_mdc].value[vlen] = '\0';
		res = grown[call->n_mdc].value;
		call->n_mdc++;
		break;
	}
	return res;
}

/* ----------------------------------------------------------- offload -- */

static bool offloaded(const struct osh_rpc_server *s, const struct method_entry *me)
{
	return me != NULL && me->m.offload && s->n_wthreads > 0;
}

/* Queues a job for call c (takes a call reference; bb is consumed on
 * success). Refused (false) when the queue is full, the pool stopped, or
 * (except for START) the call closed already. */
static bool job_push(struct osh_rpc_server *s, struct osh_rpc_call *c, enum job_kind kind,
		     grpc_byte_buffer *bb)
{
	size_t max = s->opts.work_queue_max != 0 ? s->opts.work_queue_max : 4096;
	struct job *j = calloc(1, sizeof(*j));
	bool ok = false;

	if (j == NULL)
		return false;
	j->kind = kind;
	j->call = c;
	j->bb = bb;
	pthread_mutex_lock(&c->mu);
	if (kind == JOB_START || !c->closed) {
		c->jobs++;
		ok = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (ok) {
		pthread_mutex_lock(&s->wmu);
		if (s->wstop || s->jlen >= max) {
			ok = false;
		} else {
			osh_rpc_call_ref(c);
			if (s->jtail != NULL)
				s->jtail->next = j;
			else
				s->jhead = j;
			s->jtail = j;
			s->jlen++;
			pthread_cond_signal(&s->wcv);
		}
		pthread_mutex_unlock(&s->wmu);
		if (!ok) {
			pthread_mutex_lock(&c->mu);
			c->jobs--;
			pthread_mutex_unlock(&c->mu);
		}
	}
	if (!ok)
		free(j);
	return ok;
}

static void run_done(struct osh_rpc_call *c, bool cancelled)
{
	if (c->me != NULL && c->me->m.on_done != NULL)
		c->me->m.on_done(c, cancelled, c->me->m.ud);
}

static void start_recv(struct osh_rpc_call *c);
static bool call_ended(struct osh_rpc_call *c);
static const char *method_name(const struct osh_rpc_call *c);

/* Unpacks the request and runs a unary/server-stream handler (loop or worker). */
/* The server's authorisation hook for a request or stream message: true when
 * it refused (the hook ended the call; if it did not, PERMISSION_DENIED). */
static bool authz_refused(struct osh_rpc_call *c, const ProtobufCMessage *m)
{
	struct osh_rpc_server *s = c->srv;
	bool refused = s->opts.authz != NULL && s->opts.authz(c, m, s->opts.authz_ud) != 0;

	if (refused && !call_ended(c))
		fail_internal(c, OSH_RPC_PERMISSION_DENIED, "%s: not allowed", method_name(c));
	return refused;
}

static void run_start(struct osh_rpc_call *c, grpc_byte_buffer *payload)
{
	struct method_entry *me = c->me;
	ProtobufCMessage *req = NULL;
	char why[320];

	if (payload == NULL) {
		fail_internal(c, OSH_RPC_INVALID_ARGUMENT, "%s: missing request message",
			      method_name(c));
		goto out;
	}
	req = osh_rpc_unpack(me->desc->input, payload, why, sizeof(why));
	if (req == NULL && why[0]) {
		fail_internal(c, OSH_RPC_INVALID_ARGUMENT, "%s: %s", method_name(c), why);
		goto out;
	} else if (req == NULL) {
		fail_internal(c, OSH_RPC_INVALID_ARGUMENT, "%s: request is not a valid %s message",
			      method_name(c), me->desc->input->name);
		goto out;
	}
	if (authz_refused(c, req))
		goto out;
	if (me->m.kind == OSH_RPC_SERVER_STREAM) {
		/* Open the stream at once so the client sees it accepted. */
		pthread_mutex_lock(&c->mu);
		pump_locked(c);
		pthread_mutex_unlock(&c->mu);
	}
	me->m.handler(c, req, me->m.ud);
out:
	if (req != NULL)
		protobuf_c_message_free_unpacked(req, NULL);
}

/* One client-stream message (loop or worker); bb is not consumed. */
static void run_recv(struct osh_rpc_call *c, grpc_byte_buffer *bb)
{
	ProtobufCMessage *msg = NULL;
	char why[320];

	if (call_ended(c))
		goto out;
	msg = osh_rpc_unpack(c->me->desc->input, bb, why, sizeof(why));
	if (msg == NULL && why[0]) {
		fail_internal(c, OSH_RPC_INVALID_ARGUMENT, "%s: %s", method_name(c), why);
		goto out;
	} else if (msg == NULL) {
		fail_internal(c, OSH_RPC_INVALID_ARGUMENT, "%s: stream message is not a valid %s",
			      method_name(c), c->me->desc->input->name);
		goto out;
	}
	if (authz_refused(c, msg))
		goto out;
	c->me->m.on_message(c, msg, c->me->m.ud);
	if (!call_ended(c))
		start_recv(c);
out:
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static void job_run(struct job *j)
{
	struct osh_rpc_call *c = j->call;
	bool done = false, cancelled = false;

	switch (j->kind) {
	case JOB_START:
		run_start(c, j->bb);
		break;
	case JOB_RECV:
		run_recv(c, j->bb);
		break;
	case JOB_END:
		if (!call_ended(c) && c->me->m.on_end != NULL)
			c->me->m.on_end(c, c->me->m.ud);
		break;
	}
	if (j->bb != NULL)
		grpc_byte_buffer_destroy(j->bb);
	pthread_mutex_lock(&c->mu);
	c->jobs--;
	if (c->jobs == 0 && c->done_deferred) {
		c->done_deferred = false;
		done = true;
		cancelled = c->done_cancelled;
	}
	pthread_mutex_unlock(&c->mu);
	if (done) {
		run_done(c, cancelled);
		/* the close reference on_close left to us; the job's reference
		 * below is still held, so this is never the last one */
		atomic_fetch_sub(&c->refs, 1);
	}
	osh_rpc_call_unref(c); /* the job's reference */
	free(j);
}

static void *worker_main(void *arg)
{
	struct osh_rpc_server *s = arg;

	pthread_mutex_lock(&s->wmu);
	for (;;) {
		struct job *j;

		while (s->jhead == NULL && !s->wstop)
			pthread_cond_wait(&s->wcv, &s->wmu);
		if (s->jhead == NULL)
			break; /* stopping and drained */
		j = s->jhead;
		s->jhead = j->next;
		if (s->jhead == NULL)
			s->jtail = NULL;
		s->jlen--;
		pthread_mutex_unlock(&s->wmu);
		job_run(j);
		pthread_mutex_lock(&s->wmu);
	}
	pthread_mutex_unlock(&s->wmu);
	return NULL;
}

static int pool_start(struct osh_rpc_server *s)
{
	int rc = OSH_OK;

	if (s->opts.workers == 0)
		goto out;
	s->wthreads = calloc(s->opts.workers, sizeof(*s->wthreads));
	if (s->wthreads == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < s->opts.workers; i++) {
		if (pthread_create(&s->wthreads[i], NULL, worker_main, s) != 0) {
			set_err(s, "cannot start worker threads");
			rc = OSH_ESYS;
			goto out;
		}
		s->n_wthreads++;
	}
out:
	return rc;
}

/* Lets the workers finish every queued job, then joins them. */
static void pool_stop(struct osh_rpc_server *s)
{
	pthread_mutex_lock(&s->wmu);
	s->wstop = true;
	pthread_cond_broadcast(&s->wcv);
	pthread_mutex_unlock(&s->wmu);
	for (unsigned i = 0; i < s->n_wthreads; i++)
		pthread_join(s->wthreads[i], NULL);
	s->n_wthreads = 0;
}

/* ---------------------------------------------------------- dispatch -- */

static void start_recv(struct osh_rpc_call *c)
{
	grpc_op op;
	grpc_call_error e;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv_bb;
	osh_rpc_call_ref(c);
	pthread_mutex_lock(&c->mu);
	e = grpc_call_start_batch(c->gc, &op, 1, &c->t_recv, NULL);
	pthread_mutex_unlock(&c->mu);
	if (e != GRPC_CALL_OK) {
		atomic_fetch_sub(&c->refs, 1);
		fail_internal(c, OSH_RPC_INTERNAL, "cannot read the request stream (%d)", (int)e);
	}
}

static bool call_ended(struct osh_rpc_call *c)
{
	bool b;
	pthread_mutex_lock(&c->mu);
	b = c->ended || c->closed || c->broken;
	pthread_mutex_unlock(&c->mu);
	return b;
}

static const char *method_name(const struct osh_rpc_call *c)
{
	return c->me->desc->name;
}

static void dispatch_new(struct osh_rpc_server *s, struct method_entry *me, grpc_call *gc,
			 grpc_metadata_array *md, grpc_byte_buffer *payload, char *unknown_path)
{
	struct osh_rpc_call *c = calloc(1, sizeof(*c));
	grpc_op op;

	if (c == NULL) {
		grpc_call_cancel_with_status(gc, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
					     NULL);
		grpc_call_unref(gc);
		grpc_metadata_array_destroy(md);
		if (payload != NULL)
			grpc_byte_buffer_destroy(payload);
		free(unknown_path);
		return;
	}
	atomic_fetch_add(&s->live_calls, 1);
	c->srv = s;
	c->me = me;
	c->gc = gc;
	c->md = *md;
	c->unknown_path = unknown_path;
	atomic_init(&c->refs, 1); /* the dispatch reference, dropped at the end */
	pthread_mutex_init(&c->mu, NULL);
	c->t_close.kind = TAG_CLOSE;
	c->t_close.owner = c;
	c->t_send.kind = TAG_SEND;
	c->t_send.owner = c;
	c->t_recv.kind = TAG_RECV;
	c->t_recv.owner = c;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	osh_rpc_call_ref(c);
	pthread_mutex_lock(&c->mu);
	if (grpc_call_start_batch(gc, &op, 1, &c->t_close, NULL) != GRPC_CALL_OK) {
		atomic_fetch_sub(&c->refs, 1);
		c->closed = true; /* no close event will come: behave as closed */
	}
	pthread_mutex_unlock(&c->mu);

	if (me == NULL) {
		fail_internal(c, OSH_RPC_UNIMPLEMENTED, "unknown method %s",
			      unknown_path != NULL ? unknown_path : "?");
		goto out;
	}
	switch (me->m.kind) {
	case OSH_RPC_UNARY:
	case OSH_RPC_SERVER_STREAM:
		if (offloaded(s, me)) {
			if (job_push(s, c, JOB_START, payload))
				payload = NULL; /* the job owns it */
			else
				fail_internal(c, OSH_RPC_RESOURCE_EXHAUSTED,
					      "%s: server busy (work queue full), retry later",
					      method_name(c));
			goto out;
		}
		run_start(c, payload);
		break;
	case OSH_RPC_CLIENT_STREAM:
		start_recv(c);
		break;
	}
out:
	if (payload != NULL)
		grpc_byte_buffer_destroy(payload);
	osh_rpc_call_unref(c);
}

static int arm_slot(struct osh_rpc_server *s, struct slot *sl)
{
	grpc_call_error e;

	sl->call = NULL;
	sl->payload = NULL;
	grpc_metadata_array_init(&sl->md);
	if (sl->me != NULL) {
		bool want_payload = sl->me->m.kind != OSH_RPC_CLIENT_STREAM;
		e = grpc_server_request_registered_call(
		    s->gs, sl->me->reg, &sl->call, &sl->deadline, &sl->md,
		    want_payload ? &sl->payload : NULL, s->cq, s->cq, &sl->tag);
	} else {
		grpc_call_details_init(&sl->details);
		e = grpc_server_request_call(s->gs, &sl->call, &sl->details, &sl->md, s->cq, s->cq,
					     &sl->tag);
	}
	if (e != GRPC_CALL_OK) {
		grpc_metadata_array_destroy(&sl->md);
		if (sl->me == NULL)
			grpc_call_details_destroy(&sl->details);
		set_err(s, "cannot request calls (%d)", (int)e);
		return OSH_EPROTO;
	}
	s->live_slots++;
	return OSH_OK;
}

static char *slice_dup(grpc_slice sl)
{
	size_t n = GRPC_SLICE_LENGTH(sl);
	char *p = malloc(n + 1);
	if (p != NULL) {
		memcpy(p, GRPC_SLICE_START_PTR(sl), n);
		p[n] = '\0';
	}
	return p;
}

static void on_new(struct osh_rpc_server *s, struct slot *sl, int success)
{
	grpc_call *gc = sl->call;
	grpc_metadata_array md = sl->md;
	grpc_byte_buffer *payload = sl->payload;
	char *path = NULL;

	s->live_slots--;
	if (sl->me == NULL) {
		if (success && gc != NULL)
			path = slice_dup(sl->details.method);
		grpc_call_details_destroy(&sl->details);
	}
	if (!success || gc == NULL) {
		/* Shutting down: the slot is retired. */
		grpc_metadata_array_destroy(&md);
		if (payload != NULL)
			grpc_byte_buffer_destroy(payload);
		free(path);
		return;
	}
	if (arm_slot(s, sl) != OSH_OK) /* re-arm first: a request stays outstanding */
		osh_rpc_server_stop(s);
	dispatch_new(s, sl->me, gc, &md, payload, path);
}

static void on_close(struct osh_rpc_call *c)
{
	bool cancelled, defer;

	pthread_mutex_lock(&c->mu);
	cancelled = c->close_cancelled != 0 || !c->status_sent;
	c->closed = true;
	if (cancelled) {
		c->ended = true;
		drop_queue_locked(c);
	}
	defer = c->jobs > 0; /* a worker runs on_done after the last job */
	if (defer) {
		c->done_deferred = true;
		c->done_cancelled = cancelled;
	}
	pthread_mutex_unlock(&c->mu);
	if (defer)
		return; /* the close reference passes to that worker */
	run_done(c, cancelled);
	osh_rpc_call_unref(c);
}

static void on_send(struct osh_rpc_call *c, int success)
{
	bool drain = false;

	pthread_mutex_lock(&c->mu);
	c->send_busy = false;
	if (c->inflight_bb != NULL) {
		grpc_byte_buffer_destroy(c->inflight_bb);
		c->inflight_bb = NULL;
	}
	if (!success) {
		c->broken = true;
		drop_queue_locked(c);
	} else {
		pump_locked(c);
		if (c->want_drain && !c->ended && c->me != NULL &&
		    c->qbytes <= c->me->m.queue_max_bytes / 2 &&
		    c->qlen <= (c->me->m.queue_max != 0 ? c->me->m.queue_max : 256) / 2) {
			c->want_drain = false;
			drain = c->me->m.on_drain != NULL;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (drain)
		c->me->m.on_drain(c, c->me->m.ud);
	osh_rpc_call_unref(c);
}

static void on_recv(struct osh_rpc_call *c, int success)
{
	grpc_byte_buffer *bb = c->recv_bb;
	struct osh_rpc_server *s = c->srv;
	bool off = offloaded(s, c->me);

	c->recv_bb = NULL;
	if (!success || bb == NULL) {
		/* Half-close (or the client went away: on_done tells). */
		if (success && !call_ended(c) && c->me->m.on_end != NULL) {
			if (!off)
				c->me->m.on_end(c, c->me->m.ud);
			else if (!job_push(s, c, JOB_END, NULL))
				fail_internal(c, OSH_RPC_RESOURCE_EXHAUSTED,
					      "%s: server busy (work queue full)", method_name(c));
		}
		goto out;
	}
	if (off) {
		if (job_push(s, c, JOB_RECV, bb))
			bb = NULL;
		else if (!call_ended(c))
			fail_internal(c, OSH_RPC_RESOURCE_EXHAUSTED,
				      "%s: server busy (work queue full)", method_name(c));
		goto out;
	}
	run_recv(c, bb);
out:
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	osh_rpc_call_unref(c);
}

static void handle_event(struct osh_rpc_server *s, grpc_event ev, bool *shutdown_done)
{
	struct tag *t = ev.tag;

	switch (t->kind) {
	case TAG_NEW:
		on_new(s, t->owner, ev.success);
		break;
	case TAG_CLOSE:
		on_close(t->owner);
		break;
	case TAG_SEND:
		on_send(t->owner, ev.success);
		break;
	case TAG_RECV:
		on_recv(t->owner, ev.success);
		break;
	case TAG_SHUTDOWN:
		*shutdown_done = true;
		break;
	}
}

/* ------------------------------------------------------------- server -- */

int osh_rpc_server_create(const struct osh_rpc_server_opts *opts, struct osh_rpc_server **out)
{
	struct osh_rpc_server *s = NULL;
	int rc = OSH_OK;

	*out = NULL;
	if (opts == NULL || opts->service == NULL || opts->listen == NULL) {
		rc = OSH_EINVAL;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	s->opts = *opts;
	if (s->opts.max_recv_bytes == 0)
		s->opts.max_recv_bytes = 4u << 20;
	if (s->opts.max_send_bytes == 0)
		s->opts.max_send_bytes = 4u << 20;
	if (s->opts.tick_ms == 0)
		s->opts.tick_ms = 100;
	if (s->opts.shutdown_grace_ms == 0)
		s->opts.shutdown_grace_ms = 1000;
	s->listen = strdup(opts->listen);
	s->n_methods = opts->service->n_methods;
	s->methods = calloc(s->n_methods, sizeof(*s->methods));
	if (s->listen == NULL || s->methods == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->n_methods; i++)
		s->methods[i].desc = &opts->service->methods[i];
	s->opts.listen = s->listen;
	atomic_init(&s->stop_req, false);
	atomic_init(&s->live_calls, 0);
	pthread_mutex_init(&s->wmu, NULL);
	pthread_cond_init(&s->wcv, NULL);
	s->shutdown_tag.kind = TAG_SHUTDOWN;
	s->shutdown_tag.owner = s;
	grpc_init();
	*out = s;
	s = NULL;
out:
	if (s != NULL) {
		free(s->listen);
		free(s->methods);
		free(s);
	}
	return rc;
}

int osh_rpc_server_add_method(struct osh_rpc_server *srv, const struct osh_rpc_method *m)
{
	struct method_entry *me = NULL;
	int rc = OSH_OK;

	if (srv->started) {
		rc = OSH_ESTATE;
		goto out;
	}
	if (m == NULL || m->name == NULL) {
		rc = OSH_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < srv->n_methods; i++) {
		if (strcmp(srv->methods[i].desc->name, m->name) == 0)
			me = &srv->methods[i];
	}
	if (me == NULL) {
		rc = OSH_ENOTFOUND;
		goto out;
	}
	if (me->path != NULL) {
		rc = OSH_EEXIST;
		goto out;
	}
	switch (m->kind) {
	case OSH_RPC_UNARY:
	case OSH_RPC_SERVER_STREAM:
		if (m->handler == NULL)
			rc = OSH_EINVAL;
		break;
	case OSH_RPC_CLIENT_STREAM:
		if (m->on_message == NULL || m->on_end == NULL)
			rc = OSH_EINVAL;
		break;
	default:
		rc = OSH_EINVAL;
	}
	if (rc != OSH_OK)
		goto out;
	me->path = osh_rpc_path(srv->opts.service, m->name);
	if (me->path == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	me->m = *m;
	me->m.name = me->desc->name;
	srv->n_added++;
out:
	return rc;
}

/* The credentials of a HOST:PORT listener: TLS with required, verified
 * client certificates when the three PEM texts are set, else plaintext. */
static grpc_server_credentials *tcp_creds(struct osh_rpc_server *srv)
{
	grpc_ssl_pem_key_cert_pair kp;
	const struct osh_rpc_server_opts *o = &srv->opts;

	if (o->tls_cert_pem == NULL && o->tls_key_pem == NULL && o->tls_client_ca_pem == NULL)
		return grpc_insecure_server_credentials_create();
	if (o->tls_cert_pem == NULL || o->tls_key_pem == NULL || o->tls_client_ca_pem == NULL)
		return NULL;
	kp.private_key = o->tls_key_pem;
	kp.cert_chain = o->tls_cert_pem;
	return grpc_ssl_server_credentials_create_ex(
	    o->tls_client_ca_pem, &kp, 1,
	    GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
}

static int bind_listener(struct osh_rpc_server *srv, const char *addr)
{
	int rc = OSH_OK;

	if (strncmp(addr, "unix:", 5) == 0) {
		struct osh_rpc_listen_opts lo = {
		    .mode = srv->opts.socket_mode,
		    .set_gid = srv->opts.socket_set_gid,
		    .gid = srv->opts.socket_gid,
		    .check = srv->opts.peer_check,
		    .on_refuse = srv->opts.on_refuse,
		    .ud = srv->opts.peer_ud,
		    .max_conns = srv->opts.max_conns,
		};
		char err[256] = "";

		if (srv->listener != NULL) {
			set_err(srv, "only one unix: address per server");
			rc = OSH_EINVAL;
			goto out;
		}
		rc = osh_rpc_listener_open(addr + 5, &lo, &srv->listener, err, sizeof(err));
		if (rc != OSH_OK) {
			set_err(srv, "%s", err);
			rc = OSH_EIO;
		}
	} else {
		grpc_server_credentials *creds = tcp_creds(srv);

		if (creds == NULL) {
			set_err(srv, "TLS needs a certificate, its key and a client CA together");
			rc = OSH_EINVAL;
			goto out;
		}
		srv->port = grpc_server_add_http2_port(srv->gs, addr, creds);
		grpc_server_credentials_release(creds);
		if (srv->port == 0) {
			set_err(srv,
				"cannot listen on %s (address in use, invalid, or bad TLS "
				"certificate/key)",
				addr);
			rc = OSH_EIO;
		}
	}
out:
	return rc;
}

int osh_rpc_server_start(struct osh_rpc_server *srv)
{
	grpc_arg args[8];
	grpc_channel_args ca;
	int rc = OSH_OK;
	size_t n_slots = 0;

	if (srv->started) {
		rc = OSH_ESTATE;
		goto out;
	}
	memset(args, 0, sizeof(args));
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = k_max_recv;
	args[0].value.integer = (int)srv->opts.max_recv_bytes;
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = k_max_send;
	args[1].value.integer = (int)srv->opts.max_send_bytes;
	/* A second server on a busy port must fail, not share it. */
	args[2].type = GRPC_ARG_INTEGER;
	args[2].key = k_reuseport;
	args[2].value.integer = 0;
	/* Clients may keep idle streams alive with pings every >= 5 s
	 * (osh_rpc_client_opts.keepalive_ms); gRPC's default would answer
	 * pings more often than every 5 min with GOAWAY "too_many_pings". */
	args[3].type = GRPC_ARG_INTEGER;
	args[3].key = k_min_ping;
	args[3].value.integer = 5000;
	args[4].type = GRPC_ARG_INTEGER;
	args[4].key = k_permit_idle;
	args[4].value.integer = 1;
	/* A connection without calls is closed after idle_ms (one that never
	 * speaks included), a handshake must finish in handshake_ms, and
	 * request metadata is capped (a credential is far below it). */
	args[5].type = GRPC_ARG_INTEGER;
	args[5].key = k_idle;
	args[5].value.integer = srv->opts.idle_ms ? (int)srv->opts.idle_ms : 300000;
	args[6].type = GRPC_ARG_INTEGER;
	args[6].key = k_handshake;
	args[6].value.integer = srv->opts.handshake_ms ? (int)srv->opts.handshake_ms : 10000;
	args[7].type = GRPC_ARG_INTEGER;
	args[7].key = k_max_md;
	args[7].value.integer = 8192;
	ca.num_args = 8;
	ca.args = args;
	srv->gs = grpc_server_create(&ca, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->gs, srv->cq, NULL);
	for (size_t i = 0; i < srv->n_methods; i++) {
		struct method_entry *me = &srv->methods[i];
		if (me->path == NULL)
			continue;
		me->reg = grpc_server_register_method(
		    srv->gs, me->path, NULL,
		    me->m.kind == OSH_RPC_CLIENT_STREAM ? GRPC_SRM_PAYLOAD_NONE
							: GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
		    0);
		if (me->reg == NULL) {
			set_err(srv, "cannot register %s", me->path);
			rc = OSH_EINVAL;
			goto out;
		}
	}
	rc = bind_listener(srv, srv->listen);
	if (rc == OSH_OK && srv->opts.also_listen != NULL && srv->opts.also_listen[0] != '\0')
		rc = bind_listener(srv, srv->opts.also_listen);
	if (rc != OSH_OK)
		goto out;
	grpc_server_start(srv->gs);
	srv->started = true;
	if (srv->listener != NULL && osh_rpc_listener_start(srv->listener, srv->gs) != OSH_OK) {
		set_err(srv, "cannot start the listener thread");
		rc = OSH_ESYS;
		goto out;
	}
	srv->slots = calloc(srv->n_methods + 1, sizeof(struct slot *));
	if (srv->slots == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i <= srv->n_methods; i++) {
		struct method_entry *me = i < srv->n_methods ? &srv->methods[i] : NULL;
		if (me != NULL && me->path == NULL)
			continue;
		srv->slots[i] = calloc(1, sizeof(struct slot));
		if (srv->slots[i] == NULL) {
			rc = OSH_ENOMEM;
			goto out;
		}
		srv->slots[i]->tag.kind = TAG_NEW;
		srv->slots[i]->tag.owner = srv->slots[i];
		srv->slots[i]->me = me;
		rc = arm_slot(srv, srv->slots[i]);
		if (rc != OSH_OK)
			goto out;
		n_slots++;
	}
	rc = pool_start(srv);
out:
	(void)n_slots;
	return rc;
}

int osh_rpc_server_port(const struct osh_rpc_server *srv)
{
	return srv->port;
}

bool osh_rpc_call_peer_cred(struct osh_rpc_call *call, struct osh_rpc_peer *out)
{
	const char *p = osh_rpc_call_peer(call);
	char *end = NULL;
	long fd;

	if (call->srv->listener == NULL || p == NULL || strncmp(p, "fd:", 3) != 0)
		return false;
	fd = strtol(p + 3, &end, 10);
	if (end == p + 3 || *end != '\0' || fd < 0 || fd > 1 << 24)
		return false;
	return osh_rpc_listener_peer(call->srv->listener, (int)fd, out);
}

void osh_rpc_server_listen_stats(const struct osh_rpc_server *srv, struct osh_rpc_listen_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (srv->listener != NULL)
		osh_rpc_listener_stats(srv->listener, st);
}

const char *osh_rpc_server_error(const struct osh_rpc_server *srv)
{
	return srv->err;
}

void osh_rpc_server_stop(struct osh_rpc_server *srv)
{
	atomic_store(&srv->stop_req, true);
}

int osh_rpc_server_run(struct osh_rpc_server *srv)
{
	int64_t next_tick, shutdown_at = 0, hard_stop = 0;
	bool shutting = false, cancelled_all = false, shutdown_done = false;
	int rc = OSH_OK;

	if (!srv->started || srv->running) {
		rc = OSH_ESTATE;
		goto out;
	}
	srv->running = true;
	next_tick = osh_time_mono_ms() + srv->opts.tick_ms;
	for (;;) {
		int64_t now = osh_time_mono_ms();
		int64_t wait = 20;
		grpc_event ev;

		if (!shutting && atomic_load(&srv->stop_req)) {
			shutting = true;
			shutdown_at = now + srv->opts.shutdown_grace_ms;
			hard_stop = shutdown_at + 5000;
			osh_rpc_listener_stop(srv->listener); /* no new connections */
			grpc_server_shutdown_and_notify(srv->gs, srv->cq, &srv->shutdown_tag);
		}
		if (shutting && !cancelled_all && now >= shutdown_at) {
			grpc_server_cancel_all_calls(srv->gs);
			cancelled_all = true;
		}
		if (shutting && shutdown_done &&
		    ((atomic_load(&srv->live_calls) == 0 && srv->live_slots == 0) ||
		     now >= hard_stop))
			break;
		if (next_tick - now < wait)
			wait = next_tick - now > 0 ? next_tick - now : 0;
		ev = grpc_completion_queue_next(
		    srv->cq,
		    gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
				 gpr_time_from_millis(wait, GPR_TIMESPAN)),
		    NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			handle_event(srv, ev, &shutdown_done);
		now = osh_time_mono_ms();
		if (now >= next_tick) {
			next_tick = now + srv->opts.tick_ms;
			if (srv->opts.tick != NULL && !shutting)
				srv->opts.tick(srv, srv->opts.tick_ud);
		}
	}
	pool_stop(srv); /* queued jobs hold call references: they finish first */
	if (atomic_load(&srv->live_calls) != 0)
		set_err(srv, "%d calls still referenced at shutdown",
			atomic_load(&srv->live_calls));
	grpc_server_destroy(srv->gs);
	srv->gs = NULL;
	grpc_completion_queue_shutdown(srv->cq);
	for (;;) {
		grpc_event ev =
		    grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			handle_event(srv, ev, &shutdown_done);
	}
	grpc_completion_queue_destroy(srv->cq);
	srv->cq = NULL;
	srv->running = false;
out:
	return rc;
}

static void *loop_main(void *arg)
{
	struct osh_rpc_server *srv = arg;
	if (osh_rpc_server_run(srv) != OSH_OK)
		set_err(srv, "server loop failed to run");
	return NULL;
}

int osh_rpc_server_spawn(struct osh_rpc_server *srv)
{
	int rc = OSH_OK;
	if (!srv->started || srv->spawned) {
		rc = OSH_ESTATE;
		goto out;
	}
	if (pthread_create(&srv->thread, NULL, loop_main, srv) != 0) {
		rc = OSH_ESYS;
		goto out;
	}
	srv->spawned = true;
out:
	return rc;
}

void osh_rpc_server_destroy(struct osh_rpc_server *srv)
{
	if (srv == NULL)
		return;
	osh_rpc_server_stop(srv);
	if (srv->spawned)
		pthread_join(srv->thread, NULL);
	else if (srv->started && srv->cq != NULL) {
		/* Started but never run: shut down through the loop to drain slots. */
		if (osh_rpc_server_run(srv) != OSH_OK)
			set_err(srv, "shutdown without a loop failed");
	}
	pool_stop(srv);
	if (srv->gs != NULL) /* create/start failed before the loop ever ran */
		grpc_server_destroy(srv->gs);
	if (srv->cq != NULL) {
		grpc_completion_queue_shutdown(srv->cq);
		while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			   .type != GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(srv->cq);
	}
	if (srv->slots != NULL) {
		for (size_t i = 0; i <= srv->n_methods; i++)
			free(srv->slots[i]);
		free(srv->slots);
	}
	osh_rpc_listener_close(srv->listener);
	for (size_t i = 0; i < srv->n_methods; i++)
		free(srv->methods[i].path);
	free(srv->methods);
	free(srv->wthreads);
	pthread_mutex_destroy(&srv->wmu);
	pthread_cond_destroy(&srv->wcv);
	free(srv->listen);
	free(srv);
	grpc_shutdown();
}
