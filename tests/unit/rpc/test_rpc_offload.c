/* test_rpc_offload.c - the osh_rpc worker pool, byte-bounded stream queues,
 * the drain hook, shared packed writes and finish_with, server and client on
 * 127.0.0.1:0.
 *
 * DESIGN: a small service over openshell.v1.OpenShell: GetConfig is
 * offloaded and can block on a flag (a slow query), SetConfig stays on the
 * loop (a cheap poll), PushSandboxLogs is offloaded (order and on_done
 * deferral), WatchSandboxLogs floods a byte-bounded queue. Each Criterion
 * test is its own process, so the static state is private to it. Waits poll
 * a condition with a deadline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "osh_rpc.h"
#include "sandbox.pb-c.h"

#define SVC	    (&openshell__v1__open_shell__descriptor)
#define BLOB	    (64 * 1024)
#define QUEUE_BYTES (256 * 1024)

static struct {
	struct osh_rpc_server *srv;
	char target[64];
	atomic_int slow_entered, slow_release;
	atomic_int push_order_errors, push_msgs;
	atomic_int in_handler, done_during_handler, dones;
	atomic_int flood_full, flood_written, drains;
	pthread_mutex_t mu;
	struct osh_rpc_call *flood_call;
	struct osh_rpc_call *held[3];
	atomic_int n_held;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool wait_ge(atomic_int *v, int want, int ms)
{
	int64_t end = now_ms() + ms;
	while (atomic_load(v) < want && now_ms() < end)
		usleep(2000);
	return atomic_load(v) >= want;
}

/* ------------------------------------------------------------ handlers -- */

static void h_get_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetConfigRequest *req = (const void *)m;
	Openshell__V1__GetConfigResponse resp = OPENSHELL__V1__GET_CONFIG_RESPONSE__INIT;

	(void)ud;
	if (strcmp(req->key, "slow") == 0) {
		atomic_store(&T.slow_entered, 1);
		(void)wait_ge(&T.slow_release, 1, 20000);
	}
	resp.config_revision = 42;
	(void)osh_rpc_call_reply(call, &resp.base);
}

static void h_set_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	Openshell__V1__SetConfigResponse resp = OPENSHELL__V1__SET_CONFIG_RESPONSE__INIT;

	(void)m;
	(void)ud;
	resp.config_revision = 7;
	(void)osh_rpc_call_reply(call, &resp.base);
}

struct push_state {
	long next;
};

static void h_push_msg(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__PushSandboxLogsRequest *req = (const void *)m;
	struct push_state *ps = osh_rpc_call_data(call);
	int64_t end = now_ms() + 10000;

	(void)ud;
	atomic_store(&T.in_handler, 1);
	if (!ps) {
		ps = calloc(1, sizeof(*ps));
		osh_rpc_call_set_data(call, ps);
	}
	if (strcmp(req->sandbox_id, "block") == 0) {
		/* hold the callback until the client is gone: on_done must wait */
		while (!osh_rpc_call_closed(call) && now_ms() < end)
			usleep(2000);
	} else if (req->n_logs != 1 || strtol(req->logs[0]->message, NULL, 10) != ps->next) {
		atomic_fetch_add(&T.push_order_errors, 1);
	}
	ps->next++;
	atomic_fetch_add(&T.push_msgs, 1);
	atomic_store(&T.in_handler, 0);
}

static void h_push_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse resp =
	    OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;
	struct push_state *ps = osh_rpc_call_data(call);

	(void)ud;
	resp.accepted = ps ? (uint64_t)ps->next : 0;
	(void)osh_rpc_call_reply(call, &resp.base);
}

static void h_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	(void)cancelled;
	(void)ud;
	if (atomic_load(&T.in_handler))
		atomic_fetch_add(&T.done_during_handler, 1);
	free(osh_rpc_call_data(call));
	osh_rpc_call_set_data(call, NULL);
	pthread_mutex_lock(&T.mu);
	if (T.flood_call == call) {
		T.flood_call = NULL;
		osh_rpc_call_unref(call);
	}
	for (int i = 0; i < 3; i++) {
		if (T.held[i] == call) {
			T.held[i] = NULL;
			osh_rpc_call_unref(call);
		}
	}
	pthread_mutex_unlock(&T.mu);
	atomic_fetch_add(&T.dones, 1);
}

static void blob_msg(Openshell__V1__WatchSandboxLogsResponse *r, Openshell__V1__SandboxLogLine *l,
		     Openshell__V1__SandboxLogLine **lp, char *text)
{
	openshell__v1__watch_sandbox_logs_response__init(r);
	openshell__v1__sandbox_log_line__init(l);
	l->message = text;
	*lp = l;
	r->n_logs = 1;
	r->logs = lp;
}

static void h_watch(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__WatchSandboxLogsRequest *req = (const void *)m;
	Openshell__V1__WatchSandboxLogsResponse r;
	Openshell__V1__SandboxLogLine l, *lp;

	(void)ud;
	osh_rpc_call_ref(call);
	if (strcmp(req->sandbox_id, "flood") == 0) {
		char *blob = malloc(BLOB);

		memset(blob, 'x', BLOB - 1);
		blob[BLOB - 1] = '\0';
		blob_msg(&r, &l, &lp, blob);
		pthread_mutex_lock(&T.mu);
		T.flood_call = call;
		/* under T.mu: the drain hook (which also takes it) sees every count */
		for (int i = 0; i < 200; i++) {
			int rc = osh_rpc_call_write(call, &r.base);

			if (rc == OSH_EFULL)
				atomic_fetch_add(&T.flood_full, 1);
			else if (rc == 0)
				atomic_fetch_add(&T.flood_written, 1);
		}
		pthread_mutex_unlock(&T.mu);
		free(blob);
		return;
	}
	pthread_mutex_lock(&T.mu);
	T.held[atomic_fetch_add(&T.n_held, 1) % 3] = call;
	pthread_mutex_unlock(&T.mu);
}

/* The flood reader caught up: say what it missed, then end the stream. A
 * drop after the hook was armed can call it again: only the first ends it. */
static void h_drain(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__WatchSandboxLogsResponse r =
	    OPENSHELL__V1__WATCH_SANDBOX_LOGS_RESPONSE__INIT;

	(void)ud;
	if (atomic_fetch_add(&T.drains, 1) > 0)
		return;
	pthread_mutex_lock(&T.mu); /* waits for the flood loop: all counts final */
	r.dropped = (uint64_t)atomic_load(&T.flood_full);
	pthread_mutex_unlock(&T.mu);
	cr_assert_eq(osh_rpc_call_write(call, &r.base), 0, "the marker fits a drained queue");
	(void)osh_rpc_call_finish(call);
}

static void start_server(unsigned workers)
{
	struct osh_rpc_server_opts o = {
	    .service = SVC, .listen = "127.0.0.1:0", .shutdown_grace_ms = 200, .workers = workers};
	struct osh_rpc_method ms[] = {
	    {.name = "GetConfig", .kind = OSH_RPC_UNARY, .handler = h_get_config, .offload = true},
	    {.name = "SetConfig", .kind = OSH_RPC_UNARY, .handler = h_set_config},
	    {.name = "PushSandboxLogs",
	     .kind = OSH_RPC_CLIENT_STREAM,
	     .on_message = h_push_msg,
	     .on_end = h_push_end,
	     .on_done = h_done,
	     .offload = true},
	    {.name = "WatchSandboxLogs",
	     .kind = OSH_RPC_SERVER_STREAM,
	     .handler = h_watch,
	     .on_done = h_done,
	     .on_drain = h_drain,
	     .queue_max = 1000,
	     .queue_max_bytes = QUEUE_BYTES,
	     .full_policy = OSH_RPC_FULL_DROP,
	     .offload = true},
	};

	cr_assert_eq(osh_rpc_server_create(&o, &T.srv), 0);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		cr_assert_eq(osh_rpc_server_add_method(T.srv, &ms[i]), 0, "%s", ms[i].name);
	cr_assert_eq(osh_rpc_server_start(T.srv), 0, "%s", osh_rpc_server_error(T.srv));
	snprintf(T.target, sizeof(T.target), "127.0.0.1:%d", osh_rpc_server_port(T.srv));
	cr_assert_eq(osh_rpc_server_spawn(T.srv), 0);
}

static struct osh_rpc_client *client(void)
{
	struct osh_rpc_client *c = NULL;

	cr_assert_eq(osh_rpc_client_create(T.target, SVC, NULL, &c), 0);
	return c;
}

struct slow_arg {
	struct osh_rpc_client *c;
	int rc;
	uint64_t rev;
};

static void *slow_call(void *p)
{
	struct slow_arg *a = p;
	Openshell__V1__GetConfigRequest req = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = 30000};
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	req.key = OSH_RPC_STR("slow");
	a->rc = osh_rpc_client_unary(a->c, "GetConfig", &req.base, &o, &resp, &st);
	if (resp)
		a->rev = ((Openshell__V1__GetConfigResponse *)(void *)resp)->config_revision;
	osh_rpc_msg_free(resp);
	return NULL;
}

/* --------------------------------------------------------------- tests -- */

/* A slow offloaded call never delays a call served on the loop (F6/F10). */
Test(rpc_offload, slow_call_does_not_delay_the_loop, .timeout = 60)
{
	Openshell__V1__SetConfigRequest sreq = OPENSHELL__V1__SET_CONFIG_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = 3000};
	struct slow_arg a = {0};
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	pthread_t th;

	start_server(2);
	a.c = client();
	cr_assert_eq(pthread_create(&th, NULL, slow_call, &a), 0);
	cr_assert(wait_ge(&T.slow_entered, 1, 10000), "the slow handler never ran");
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(osh_rpc_client_unary(a.c, "SetConfig", &sreq.base, &o, &resp, &st), 0,
			     "loop call %d while a slow call runs: %d %s", i, st.code, st.message);
		osh_rpc_msg_free(resp);
	}
	cr_assert_eq(atomic_load(&T.slow_release), 0, "still blocked: the calls above overlapped");
	atomic_store(&T.slow_release, 1);
	pthread_join(th, NULL);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(a.rev, 42);
	osh_rpc_client_destroy(a.c);
	osh_rpc_server_destroy(T.srv);
}

/* Offloaded stream messages keep their order, one callback at a time. */
Test(rpc_offload, stream_messages_stay_in_order, .timeout = 60)
{
	enum { N = 500 };
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine line = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lp = &line;
	struct osh_rpc_client *c;
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char num[16];

	start_server(4);
	c = client();
	req.sandbox_id = OSH_RPC_STR("seq");
	req.logs = &lp;
	req.n_logs = 1;
	line.message = num;
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	for (int i = 0; i < N; i++) {
		snprintf(num, sizeof(num), "%d", i);
		cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	}
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	cr_assert_eq(((Openshell__V1__PushSandboxLogsResponse *)(void *)resp)->accepted, N);
	osh_rpc_msg_free(resp);
	cr_assert_eq(atomic_load(&T.push_order_errors), 0);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

/* A client that goes away while a worker runs its callback: on_done waits for
 * the callback to return (per-call data stays valid). */
Test(rpc_offload, on_done_waits_for_the_running_callback, .timeout = 60)
{
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_client *c;
	struct osh_rpc_cstream *cs = NULL;

	start_server(2);
	c = client();
	req.sandbox_id = OSH_RPC_STR("block");
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert(wait_ge(&T.in_handler, 1, 10000), "the callback never ran");
	osh_rpc_cstream_destroy(cs); /* cancels: the server sees the close */
	cr_assert(wait_ge(&T.dones, 1, 15000), "on_done never ran");
	cr_assert_eq(atomic_load(&T.push_msgs), 1);
	cr_assert_eq(atomic_load(&T.done_during_handler), 0, "on_done overlapped the callback");
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

/* A stream queue bounded in bytes refuses what does not fit, and the drain
 * hook runs once the reader caught up, so the loss is told at once (F7/F9). */
Test(rpc_offload, byte_bound_then_drain_hook, .timeout = 60)
{
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st;
	ProtobufCMessage *msg = NULL;
	uint64_t lines = 0, dropped = 0;
	int rc;

	start_server(2);
	c = client();
	w.sandbox_id = OSH_RPC_STR("flood");
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	while ((rc = osh_rpc_sstream_next(ss, 10000, &msg, &st)) == 0) {
		Openshell__V1__WatchSandboxLogsResponse *r = (void *)msg;

		lines += r->n_logs;
		dropped += r->dropped;
		osh_rpc_msg_free(msg);
	}
	cr_assert_eq(rc, OSH_ECLOSED);
	cr_assert_eq(st.code, OSH_RPC_OK, "%d %s", st.code, st.message);
	cr_assert_gt(atomic_load(&T.flood_full), 0, "12.8 MB into a 256 KiB queue must overflow");
	cr_assert_geq(atomic_load(&T.drains), 1, "the drain hook never ran");
	cr_assert_eq(lines, (uint64_t)atomic_load(&T.flood_written), "every accepted one arrives");
	cr_assert_eq(lines + dropped, 200, "lines %llu + dropped %llu", (unsigned long long)lines,
		     (unsigned long long)dropped);
	osh_rpc_sstream_destroy(ss);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

/* One packed message written to several streams arrives intact on each, and
 * finish_with queues a last message even into a full queue. */
Test(rpc_offload, packed_fanout_and_finish_with, .timeout = 60)
{
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__WatchSandboxLogsResponse r,
	    last = OPENSHELL__V1__WATCH_SANDBOX_LOGS_RESPONSE__INIT;
	Openshell__V1__SandboxLogLine l, *lp;
	struct osh_rpc_packed *p = NULL;
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss[3];
	struct osh_rpc_status st;
	char text[] = "shared line";

	start_server(2);
	c = client();
	w.sandbox_id = OSH_RPC_STR("hold");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss[i]), 0);
	cr_assert(wait_ge(&T.n_held, 3, 10000));
	blob_msg(&r, &l, &lp, text);
	cr_assert_eq(osh_rpc_packed_new(&r.base, 0, &p), 0);
	cr_assert_eq(osh_rpc_packed_size(p),
		     openshell__v1__watch_sandbox_logs_response__get_packed_size(&r));
	last.dropped = 99;
	pthread_mutex_lock(&T.mu);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(osh_rpc_call_write_packed(T.held[i], p), 0);
		cr_assert_eq(osh_rpc_call_finish_with(T.held[i], &last.base), 0);
	}
	pthread_mutex_unlock(&T.mu);
	osh_rpc_packed_free(p); /* the calls keep their own references */
	for (int i = 0; i < 3; i++) {
		ProtobufCMessage *m = NULL;
		Openshell__V1__WatchSandboxLogsResponse *got;

		cr_assert_eq(osh_rpc_sstream_next(ss[i], 10000, &m, &st), 0, "%s", st.message);
		got = (void *)m;
		cr_assert_eq(got->n_logs, 1);
		cr_assert_str_eq(got->logs[0]->message, "shared line");
		osh_rpc_msg_free(m);
		cr_assert_eq(osh_rpc_sstream_next(ss[i], 10000, &m, &st), 0, "%s", st.message);
		cr_assert_eq(((Openshell__V1__WatchSandboxLogsResponse *)(void *)m)->dropped, 99);
		osh_rpc_msg_free(m);
		cr_assert_eq(osh_rpc_sstream_next(ss[i], 10000, &m, &st), OSH_ECLOSED);
		cr_assert_eq(st.code, OSH_RPC_OK);
		osh_rpc_sstream_destroy(ss[i]);
	}
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}
