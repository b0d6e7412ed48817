/* rpc_client.c - synchronous gRPC client calls over gRPC core.
 *
 * DESIGN: every call owns a pluck completion queue, so calls on one channel
 * from many threads never see each other's completions and no lock is
 * needed. The status (RECV_STATUS_ON_CLIENT) of a streaming call is started
 * as its own batch when the call opens, so whatever ends the call (server
 * status, deadline, cancel, peer gone) is always collected, and a blocked
 * receive can be interrupted by grpc_call_cancel from another thread.
 * Method names are resolved through the protoc-c service descriptor, so
 * a request of the wrong message type is refused before it is sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "osh_rpc.h"
#include "rpc_internal.h"

/* grpc_arg keys are non-const char *. */
static char k_max_recv[] = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
static char k_max_send[] = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
static char k_keepalive[] = GRPC_ARG_KEEPALIVE_TIME_MS;
static char k_keepalive_permit[] = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS;
static char k_pings_no_data[] = GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA;

struct osh_rpc_client {
	grpc_channel *ch;
	const ProtobufCServiceDescriptor *svc;
	char **paths; /* per method of svc */
	char *target;
	struct osh_rpc_client_opts opts;
};

/* State shared by both stream kinds. */
struct stream {
	struct osh_rpc_client *c;
	const ProtobufCMethodDescriptor *md;
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_metadata_array init_md;
	grpc_metadata_array trail_md;
	grpc_status_code code;
	grpc_slice details;
	bool status_pending; /* status batch started, not yet plucked */
	bool status_done;
	int tag_status;
	int tag_op;
};

struct osh_rpc_cstream {
	struct stream s;
	bool broken;
	bool finished;
};

struct osh_rpc_sstream {
	struct stream s;
	bool recv_pending;
	bool first_recv;
	bool ended;
	grpc_byte_buffer *recv_bb;
};

static void status_set(struct osh_rpc_status *st, int code, const char *msg)
{
	if (st == NULL)
		return;
	st->code = code;
	snprintf(st->message, sizeof(st->message), "%s", msg != NULL ? msg : "");
}

static void status_from(struct osh_rpc_status *st, grpc_status_code code, grpc_slice details)
{
	char *s = grpc_slice_to_c_string(details);
	status_set(st, (int)code, s);
	gpr_free(s);
}

static gpr_timespec deadline_of(const struct osh_rpc_call_opts *o, int64_t dflt_ms)
{
	int64_t ms = o != NULL && o->timeout_ms > 0 ? o->timeout_ms : dflt_ms;
	if (ms <= 0)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Process-wide identity pair (osh_rpc_client_set_identity). */
static char *id_key, *id_value;

int osh_rpc_client_set_identity(const char *key, const char *value)
{
	char *k = NULL, *v = NULL;
	int rc = OSH_OK;

	if (key != NULL) {
		for (const char *p = key; *p; p++) {
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
			      *p == '_' || *p == '.'))
				rc = OSH_EINVAL;
		}
		if (rc != OSH_OK || *key == '\0' || value == NULL) {
			rc = OSH_EINVAL;
			goto out;
		}
		k = strdup(key);
		v = strdup(value);
		if (k == NULL || v == NULL) {
			free(k);
			free(v);
			rc = OSH_ENOMEM;
			goto out;
		}
	}
	free(id_key);
	free(id_value);
	id_key = k;
	id_value = v;
out:
	return rc;
}

/* The call's metadata: the caller's pairs plus the process identity. */
static grpc_metadata *make_md(const struct osh_rpc_call_opts *o, size_t *count)
{
	grpc_metadata *md;
	size_t n = o != NULL ? o->n_md : 0, k = 0;

	*count = 0;
	if (n == 0 && id_key == NULL)
		return NULL;
	md = calloc(n + 1, sizeof(*md));
	if (md == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++, k++) {
		md[k].key = grpc_slice_from_copied_string(o->md[i].key);
		md[k].value = grpc_slice_from_copied_string(o->md[i].value);
	}
	if (id_key != NULL) {
		md[k].key = grpc_slice_from_copied_string(id_key);
		md[k++].value = grpc_slice_from_copied_string(id_value);
	}
	*count = k;
	return md;
}

static void free_md(grpc_metadata *md, size_t count)
{
	if (md == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		grpc_slice_unref(md[i].key);
		grpc_slice_unref(md[i].value);
	}
	free(md);
}

static void init_md_op(grpc_op *op, grpc_metadata *md, size_t count,
		       const struct osh_rpc_call_opts *o)
{
	op->op = GRPC_OP_SEND_INITIAL_METADATA;
	op->data.send_initial_metadata.count = md != NULL ? count : 0;
	op->data.send_initial_metadata.metadata = md;
	if (o != NULL && o->wait_for_ready)
		op->flags = GRPC_INITIAL_METADATA_WAIT_FOR_READY |
			    GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
}

static void cq_close(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (
	    grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	    GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

static grpc_event pluck(grpc_completion_queue *cq, void *tag)
{
	return grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

static const ProtobufCMethodDescriptor *find_method(struct osh_rpc_client *c, const char *name,
						    const char **path)
{
	for (size_t i = 0; i < c->svc->n_methods; i++) {
		if (strcmp(c->svc->methods[i].name, name) == 0) {
			*path = c->paths[i];
			return &c->svc->methods[i];
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- client -- */

int osh_rpc_client_create(const char *target, const ProtobufCServiceDescriptor *service,
			  const struct osh_rpc_client_opts *opts, struct osh_rpc_client **out)
{
	struct osh_rpc_client *c = NULL;
	grpc_channel_credentials *creds;
	grpc_arg args[5];
	grpc_channel_args ca;
	int rc = OSH_OK;
	size_t na = 0;

	*out = NULL;
	if (target == NULL || *target == '\0' || service == NULL) {
		rc = OSH_EINVAL;
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	if (opts != NULL)
		c->opts = *opts;
	if (c->opts.max_recv_bytes == 0)
		c->opts.max_recv_bytes = 4u << 20;
	if (c->opts.max_send_bytes == 0)
		c->opts.max_send_bytes = 4u << 20;
	c->svc = service;
	c->target = strdup(target);
	c->paths = calloc(service->n_methods, sizeof(*c->paths));
	if (c->target == NULL || c->paths == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < service->n_methods; i++) {
		c->paths[i] = osh_rpc_path(service, service->methods[i].name);
		if (c->paths[i] == NULL) {
			rc = OSH_ENOMEM;
			goto out;
		}
	}
	memset(args, 0, sizeof(args));
	args[na].type = GRPC_ARG_INTEGER;
	args[na].key = k_max_recv;
	args[na++].value.integer = (int)c->opts.max_recv_bytes;
	args[na].type = GRPC_ARG_INTEGER;
	args[na].key = k_max_send;
	args[na++].value.integer = (int)c->opts.max_send_bytes;
	if (c->opts.keepalive_ms != 0) {
		args[na].type = GRPC_ARG_INTEGER;
		args[na].key = k_keepalive;
		args[na++].value.integer = (int)c->opts.keepalive_ms;
		args[na].type = GRPC_ARG_INTEGER;
		args[na].key = k_keepalive_permit;
		args[na++].value.integer = 1;
		/* keep pinging an idle stream (default: stop after 2) */
		args[na].type = GRPC_ARG_INTEGER;
		args[na].key = k_pings_no_data;
		args[na++].value.integer = 0;
	}
	ca.num_args = na;
	ca.args = args;
	grpc_init();
	if (c->opts.tls_ca_pem != NULL) {
		grpc_ssl_pem_key_cert_pair kp = {.private_key = c->opts.tls_key_pem,
						 .cert_chain = c->opts.tls_cert_pem};
		bool mutual = c->opts.tls_cert_pem != NULL && c->opts.tls_key_pem != NULL;

		creds = grpc_ssl_credentials_create_ex(c->opts.tls_ca_pem, mutual ? &kp : NULL,
						       NULL, NULL);
	} else {
		creds = grpc_insecure_credentials_create();
	}
	c->opts.tls_ca_pem = c->opts.tls_cert_pem = c->opts.tls_key_pem = NULL; /* not kept */
	c->ch = grpc_channel_create(target, creds, &ca);
	grpc_channel_credentials_release(creds);
	if (c->ch == NULL) {
		grpc_shutdown();
		rc = OSH_EINVAL;
		goto out;
	}
	*out = c;
	c = NULL;
out:
	if (c != NULL) {
		if (c->paths != NULL) {
			for (size_t i = 0; i < service->n_methods; i++)
				free(c->paths[i]);
		}
		free(c->paths);
		free(c->target);
		free(c);
	}
	return rc;
}

void osh_rpc_client_destroy(struct osh_rpc_client *c)
{
	if (c == NULL)
		return;
	grpc_channel_destroy(c->ch);
	for (size_t i = 0; i < c->svc->n_methods; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c->target);
	free(c);
	grpc_shutdown();
}

const char *osh_rpc_client_target(const struct osh_rpc_client *c)
{
	return c->target;
}

void osh_rpc_msg_free(ProtobufCMessage *m)
{
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

/* One unary round trip on bytes. *out_bb set on OK. Returns 0 or osh_err. */
static int unary_bb(struct osh_rpc_client *c, const char *path, grpc_byte_buffer *req,
		    const struct osh_rpc_call_opts *o, grpc_byte_buffer **out_bb,
		    struct osh_rpc_status *st)
{
	grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
	size_t n_md = 0;
	grpc_metadata *md = make_md(o, &n_md);
	grpc_metadata_array init_md, trail_md;
	grpc_byte_buffer *resp = NULL;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_slice method = grpc_slice_from_static_string(path);
	grpc_call *call;
	grpc_op ops[6];
	grpc_event ev;
	int tag = 0;
	int rc = OSH_OK;

	*out_bb = NULL;
	grpc_metadata_array_init(&init_md);
	grpc_metadata_array_init(&trail_md);
	call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
					deadline_of(o, 30000), NULL);
	memset(ops, 0, sizeof(ops));
	init_md_op(&ops[0], md, n_md, o);
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &resp;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &details;
	if (grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
		status_set(st, OSH_RPC_INTERNAL, "cannot start the call");
		rc = OSH_EPROTO;
		goto out;
	}
	ev = pluck(cq, &tag);
	(void)ev;
	status_from(st, code, details);
	rc = osh_rpc_code_to_err((int)code);
	if (rc == OSH_OK && resp == NULL) {
		status_set(st, OSH_RPC_INTERNAL, "server sent no response message");
		rc = OSH_EPROTO;
	}
	if (rc == OSH_OK) {
		*out_bb = resp;
		resp = NULL;
	}
out:
	if (resp != NULL)
		grpc_byte_buffer_destroy(resp);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&init_md);
	grpc_metadata_array_destroy(&trail_md);
	grpc_call_unref(call);
	cq_close(cq);
	free_md(md, n_md);
	return rc;
}

int osh_rpc_client_unary(struct osh_rpc_client *c, const char *method, const ProtobufCMessage *req,
			 const struct osh_rpc_call_opts *opts, ProtobufCMessage **resp,
			 struct osh_rpc_status *st)
{
	const char *path = NULL;
	const ProtobufCMethodDescriptor *md = find_method(c, method, &path);
	grpc_byte_buffer *bb = NULL, *out_bb = NULL;
	int rc = OSH_OK;

	*resp = NULL;
	if (md == NULL) {
		status_set(st, OSH_RPC_INVALID_ARGUMENT, "unknown method");
		rc = OSH_EINVAL;
		goto out;
	}
	if (req == NULL || req->descriptor != md->input) {
		status_set(st, OSH_RPC_INVALID_ARGUMENT, "request has the wrong message type");
		rc = OSH_EINVAL;
		goto out;
	}
	bb = osh_rpc_pack(req, c->opts.max_send_bytes, &rc);
	if (bb == NULL) {
		status_set(st, OSH_RPC_RESOURCE_EXHAUSTED, "request larger than the send limit");
		goto out;
	}
	rc = unary_bb(c, path, bb, opts, &out_bb, st);
	if (rc != OSH_OK)
		goto out;
	*resp = osh_rpc_unpack(md->output, out_bb, NULL, 0);
	if (*resp == NULL) {
		status_set(st, OSH_RPC_INTERNAL, "response is not a valid message");
		rc = OSH_EPARSE;
	}
out:
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	if (out_bb != NULL)
		grpc_byte_buffer_destroy(out_bb);
	return rc;
}

int osh_rpc_client_unary_raw(struct osh_rpc_client *c, const char *path, const void *req,
			     size_t req_len, const struct osh_rpc_call_opts *opts, void **out,
			     size_t *out_len, struct osh_rpc_status *st)
{
	grpc_slice sl = grpc_slice_from_copied_buffer(req, req_len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&sl, 1);
	grpc_byte_buffer *out_bb = NULL;
	int rc;

	grpc_slice_unref(sl);
	*out = NULL;
	*out_len = 0;
	rc = unary_bb(c, path, bb, opts, &out_bb, st);
	if (rc == OSH_OK) {
		grpc_byte_buffer_reader r;
		grpc_slice all;
		if (!grpc_byte_buffer_reader_init(&r, out_bb)) {
			rc = OSH_EPARSE;
			goto out;
		}
		all = grpc_byte_buffer_reader_readall(&r);
		grpc_byte_buffer_reader_destroy(&r);
		*out_len = GRPC_SLICE_LENGTH(all);
		*out = malloc(*out_len + 1);
		if (*out == NULL)
			rc = OSH_ENOMEM;
		else
			memcpy(*out, GRPC_SLICE_START_PTR(all), *out_len);
		grpc_slice_unref(all);
	}
out:
	grpc_byte_buffer_destroy(bb);
	if (out_bb != NULL)
		grpc_byte_buffer_destroy(out_bb);
	return rc;
}

/* --------------------------------------------------------------- streams -- */

static int stream_open(struct stream *s, struct osh_rpc_client *c, const char *method,
		       const struct osh_rpc_call_opts *o)
{
	const char *path = NULL;
	grpc_op op;

	s->c = c;
	s->md = find_method(c, method, &path);
	if (s->md == NULL)
		return OSH_EINVAL;
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	s->details = grpc_empty_slice();
	grpc_metadata_array_init(&s->init_md);
	grpc_metadata_array_init(&s->trail_md);
	s->call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
					   grpc_slice_from_static_string(path), NULL,
					   deadline_of(o, 0), NULL);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op.data.recv_status_on_client.trailing_metadata = &s->trail_md;
	op.data.recv_status_on_client.status = &s->code;
	op.data.recv_status_on_client.status_details = &s->details;
	if (grpc_call_start_batch(s->call, &op, 1, &s->tag_status, NULL) != GRPC_CALL_OK)
		return OSH_EPROTO;
	s->status_pending = true;
	return OSH_OK;
}

/* Collect the final status (blocks until the call ends). */
static int stream_status(struct stream *s, struct osh_rpc_status *st)
{
	if (s->status_pending) {
		(void)pluck(s->cq, &s->tag_status);
		s->status_pending = false;
		s->status_done = true;
	}
	if (!s->status_done) {
		status_set(st, OSH_RPC_INTERNAL, "call did not start");
		return OSH_EPROTO;
	}
	status_from(st, s->code, s->details);
	return osh_rpc_code_to_err((int)s->code);
}

static void stream_free(struct stream *s)
{
	if (s->call != NULL) {
		if (s->status_pending) {
			grpc_call_cancel(s->call, NULL);
			(void)pluck(s->cq, &s->tag_status);
		}
		grpc_call_unref(s->call);
	}
	if (s->cq != NULL)
		cq_close(s->cq);
	grpc_slice_unref(s->details);
	grpc_metadata_array_destroy(&s->init_md);
	grpc_metadata_array_destroy(&s->trail_md);
}

int osh_rpc_cstream_open(struct osh_rpc_client *c, const char *method,
			 const struct osh_rpc_call_opts *opts, struct osh_rpc_cstream **out)
{
	struct osh_rpc_cstream *cs = calloc(1, sizeof(*cs));
	size_t n_md = 0;
	grpc_metadata *md = make_md(opts, &n_md);
	grpc_op op;
	int rc = OSH_OK;

	*out = NULL;
	if (cs == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	rc = stream_open(&cs->s, c, method, opts);
	if (rc != OSH_OK)
		goto out;
	memset(&op, 0, sizeof(op));
	init_md_op(&op, md, n_md, opts);
	if (grpc_call_start_batch(cs->s.call, &op, 1, &cs->s.tag_op, NULL) != GRPC_CALL_OK) {
		rc = OSH_EPROTO;
		goto out;
	}
	if (!pluck(cs->s.cq, &cs->s.tag_op).success)
		cs->broken = true; /* finish reports why */
	*out = cs;
	cs = NULL;
out:
	free_md(md, n_md);
	if (cs != NULL) {
		stream_free(&cs->s);
		free(cs);
	}
	return rc;
}

int osh_rpc_cstream_send(struct osh_rpc_cstream *cs, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op op;
	int rc = OSH_OK;

	if (msg == NULL || msg->descriptor != cs->s.md->input) {
		rc = OSH_EINVAL;
		goto out;
	}
	if (cs->broken || cs->finished) {
		rc = OSH_ECLOSED;
		goto out;
	}
	bb = osh_rpc_pack(msg, cs->s.c->opts.max_send_bytes, &rc);
	if (bb == NULL)
		goto out;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = bb;
	if (grpc_call_start_batch(cs->s.call, &op, 1, &cs->s.tag_op, NULL) != GRPC_CALL_OK ||
	    !pluck(cs->s.cq, &cs->s.tag_op).success) {
		cs->broken = true;
		rc = OSH_ECLOSED;
	}
out:
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	return rc;
}

int osh_rpc_cstream_finish(struct osh_rpc_cstream *cs, ProtobufCMessage **resp,
			   struct osh_rpc_status *st)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op ops[3];
	size_t n = 0;
	int rc;

	*resp = NULL;
	memset(ops, 0, sizeof(ops));
	if (!cs->broken) {
		ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	}
	ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[n++].data.recv_initial_metadata.recv_initial_metadata = &cs->s.init_md;
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = &bb;
	if (grpc_call_start_batch(cs->s.call, ops, n, &cs->s.tag_op, NULL) == GRPC_CALL_OK)
		(void)pluck(cs->s.cq, &cs->s.tag_op);
	cs->finished = true;
	rc = stream_status(&cs->s, st);
	if (rc == OSH_OK) {
		*resp = bb != NULL ? osh_rpc_unpack(cs->s.md->output, bb, NULL, 0) : NULL;
		if (*resp == NULL) {
			status_set(st, OSH_RPC_INTERNAL, "no valid response message");
			rc = OSH_EPARSE;
		}
	}
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	stream_free(&cs->s);
	free(cs);
	return rc;
}

void osh_rpc_cstream_destroy(struct osh_rpc_cstream *cs)
{
	if (cs == NULL)
		return;
	stream_free(&cs->s);
	free(cs);
}

int osh_rpc_sstream_open(struct osh_rpc_client *c, const char *method, const ProtobufCMessage *req,
			 const struct osh_rpc_call_opts *opts, struct osh_rpc_sstream **out)
{
	struct osh_rpc_sstream *ss = calloc(1, sizeof(*ss));
	size_t n_md = 0;
	grpc_metadata *md = make_md(opts, &n_md);
	grpc_byte_buffer *bb = NULL;
	grpc_op ops[3];
	int rc = OSH_OK;

	*out = NULL;
	if (ss == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	rc = stream_open(&ss->s, c, method, opts);
	if (rc != OSH_OK)
		goto out;
	if (req == NULL || req->descriptor != ss->s.md->input) {
		rc = OSH_EINVAL;
		goto out;
	}
	bb = osh_rpc_pack(req, c->opts.max_send_bytes, &rc);
	if (bb == NULL)
		goto out;
	memset(ops, 0, sizeof(ops));
	init_md_op(&ops[0], md, n_md, opts);
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	if (grpc_call_start_batch(ss->s.call, ops, 3, &ss->s.tag_op, NULL) != GRPC_CALL_OK) {
		rc = OSH_EPROTO;
		goto out;
	}
	if (!pluck(ss->s.cq, &ss->s.tag_op).success)
		ss->ended = true; /* next() returns the status */
	ss->first_recv = true;
	*out = ss;
	ss = NULL;
out:
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	free_md(md, n_md);
	if (ss != NULL) {
		stream_free(&ss->s);
		free(ss);
	}
	return rc;
}

int osh_rpc_sstream_next(struct osh_rpc_sstream *ss, int timeout_ms, ProtobufCMessage **msg,
			 struct osh_rpc_status *st)
{
	grpc_event ev;
	gpr_timespec dl;
	int rc = OSH_OK;

	*msg = NULL;
	if (ss->ended)
		goto ended;
	if (!ss->recv_pending) {
		grpc_op ops[2];
		size_t n = 0;
		memset(ops, 0, sizeof(ops));
		if (ss->first_recv) {
			ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
			ops[n++].data.recv_initial_metadata.recv_initial_metadata = &ss->s.init_md;
			ss->first_recv = false;
		}
		ops[n].op = GRPC_OP_RECV_MESSAGE;
		ops[n++].data.recv_message.recv_message = &ss->recv_bb;
		if (grpc_call_start_batch(ss->s.call, ops, n, &ss->s.tag_op, NULL) !=
		    GRPC_CALL_OK) {
			ss->ended = true;
			goto ended;
		}
		ss->recv_pending = true;
	}
	dl = timeout_ms < 0 ? gpr_inf_future(GPR_CLOCK_REALTIME)
			    : gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
					   gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
	ev = grpc_completion_queue_pluck(ss->s.cq, &ss->s.tag_op, dl, NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT) {
		status_set(st, OSH_RPC_OK, "");
		rc = OSH_ETIMEDOUT;
		goto out;
	}
	ss->recv_pending = false;
	if (ss->recv_bb == NULL) {
		ss->ended = true;
		goto ended;
	}
	*msg = osh_rpc_unpack(ss->s.md->output, ss->recv_bb, NULL, 0);
	grpc_byte_buffer_destroy(ss->recv_bb);
	ss->recv_bb = NULL;
	if (*msg == NULL) {
		grpc_call_cancel(ss->s.call, NULL);
		ss->ended = true;
		status_set(st, OSH_RPC_INTERNAL, "stream message is not a valid message");
		rc = OSH_EPARSE;
	}
	goto out;
ended:
	(void)stream_status(&ss->s, st);
	rc = OSH_ECLOSED;
out:
	return rc;
}

void osh_rpc_sstream_cancel(struct osh_rpc_sstream *ss)
{
	grpc_call_cancel(ss->s.call, NULL);
}

void osh_rpc_sstream_destroy(struct osh_rpc_sstream *ss)
{
	if (ss == NULL)
		return;
	if (ss->recv_pending) {
		grpc_call_cancel(ss->s.call, NULL);
		(void)pluck(ss->s.cq, &ss->s.tag_op);
		if (ss->recv_bb != NULL)
			grpc_byte_buffer_destroy(ss->recv_bb);
	}
	stream_free(&ss->s);
	free(ss);
}
