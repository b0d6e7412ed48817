/* test_rpc.c - osh_rpc server and client against each other on 127.0.0.1:0.
 *
 * DESIGN: a test service implements three methods of openshell.v1.OpenShell
 * with behaviour keyed by request fields (GetConfig = unary, PushSandboxLogs
 * = client stream, WatchSandboxLogs = server stream). Each Criterion test is
 * its own process, so the one static `T` state is private to it; gRPC is
 * initialised inside the test body (osh_rpc_*_create), after the fork.
 * Waiting is always "poll a condition with a deadline", never a fixed sleep. */
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

#define SVC (&openshell__v1__open_shell__descriptor)

struct tstate {
	struct osh_rpc_server *srv;
	int port;
	char target[64];
	pthread_mutex_t mu;
	struct osh_rpc_call *held_unary;
	struct osh_rpc_call *held_watch;
	atomic_int done_cancelled;
	atomic_int done_clean;
	atomic_int ticks;
	atomic_int push_msgs;
	atomic_int flood_full;
	atomic_int flood_written;
};

static struct tstate T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll until *v >= want, every 5 ms, for up to ms; true when it held. */
static bool wait_ge(atomic_int *v, int want, int ms)
{
	int64_t end = now_ms() + ms;
	while (atomic_load(v) < want && now_ms() < end)
		usleep(5000);
	return atomic_load(v) >= want;
}

static bool watch_held(void)
{
	bool h;
	pthread_mutex_lock(&T.mu);
	h = T.held_watch != NULL;
	pthread_mutex_unlock(&T.mu);
	return h;
}

/* ------------------------------------------------------------ handlers -- */

static void h_get_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetConfigRequest *req = (const void *)m;
	Openshell__V1__GetConfigResponse resp = OPENSHELL__V1__GET_CONFIG_RESPONSE__INIT;
	Openshell__V1__ConfigEntry e = OPENSHELL__V1__CONFIG_ENTRY__INIT;
	Openshell__V1__ConfigEntry *ep = &e;
	char *big = NULL;

	(void)ud;
	if (strcmp(req->key, "missing") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "no config key '%s'", req->key);
		return;
	}
	if (strcmp(req->key, "hold") == 0) {
		osh_rpc_call_ref(call);
		pthread_mutex_lock(&T.mu);
		T.held_unary = call;
		pthread_mutex_unlock(&T.mu);
		return;
	}
	if (strcmp(req->key, "wrongtype") == 0) {
		Openshell__V1__SetConfigResponse other = OPENSHELL__V1__SET_CONFIG_RESPONSE__INIT;
		cr_assert_eq(osh_rpc_call_reply(call, &other.base), OSH_EINVAL);
		return;
	}
	e.key = req->key;
	e.value = OSH_RPC_STR("v");
	if (strcmp(req->key, "md") == 0) {
		const char *v = osh_rpc_call_metadata(call, "x-test");
		e.value = OSH_RPC_STR(v != NULL ? v : "(none)");
	}
	if (strcmp(req->key, "big") == 0) {
		big = malloc(200000);
		memset(big, 'b', 199999);
		big[199999] = '\0';
		e.value = big;
	}
	resp.n_entries = 1;
	resp.entries = &ep;
	resp.config_revision = 7;
	cr_assert_eq(osh_rpc_call_reply(call, &resp.base), 0);
	cr_assert_eq(osh_rpc_call_reply(call, &resp.base), OSH_ECLOSED, "second reply refused");
	free(big);
}

static void h_set_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__SetConfigRequest *req = (const void *)m;
	Openshell__V1__SetConfigResponse resp = OPENSHELL__V1__SET_CONFIG_RESPONSE__INIT;
	(void)ud;
	resp.config_revision = strlen(req->value);
	osh_rpc_call_reply(call, &resp.base);
}

struct push_state {
	uint64_t lines;
};

static void h_push_msg(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__PushSandboxLogsRequest *req = (const void *)m;
	struct push_state *ps = osh_rpc_call_data(call);
	(void)ud;
	if (ps == NULL) {
		ps = calloc(1, sizeof(*ps));
		osh_rpc_call_set_data(call, ps);
	}
	atomic_fetch_add(&T.push_msgs, 1);
	if (strcmp(req->sandbox_id, "reject") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "sandbox %s not found", req->sandbox_id);
		return;
	}
	ps->lines += req->n_logs;
}

static void h_push_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse resp =
	    OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;
	struct push_state *ps = osh_rpc_call_data(call);
	(void)ud;
	resp.accepted = ps != NULL ? ps->lines : 0;
	osh_rpc_call_reply(call, &resp.base);
}

static void h_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	(void)ud;
	free(osh_rpc_call_data(call));
	osh_rpc_call_set_data(call, NULL);
	pthread_mutex_lock(&T.mu);
	if (T.held_unary == call) {
		T.held_unary = NULL;
		osh_rpc_call_unref(call);
	}
	if (T.held_watch == call) {
		T.held_watch = NULL;
		osh_rpc_call_unref(call);
	}
	pthread_mutex_unlock(&T.mu);
	atomic_fetch_add(cancelled ? &T.done_cancelled : &T.done_clean, 1);
}

static void line_msg(Openshell__V1__WatchSandboxLogsResponse *r, Openshell__V1__SandboxLogLine *l,
		     Openshell__V1__SandboxLogLine **lp, const char *text)
{
	openshell__v1__watch_sandbox_logs_response__init(r);
	openshell__v1__sandbox_log_line__init(l);
	l->message = OSH_RPC_STR(text);
	l->level = OSH_RPC_STR("INFO");
	*lp = l;
	r->n_logs = 1;
	r->logs = lp;
}

static void h_watch(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__WatchSandboxLogsRequest *req = (const void *)m;
	Openshell__V1__WatchSandboxLogsResponse r;
	Openshell__V1__SandboxLogLine l, *lp;
	char text[64];
	(void)ud;

	if (strcmp(req->sandbox_id, "flood") == 0) {
		char *blob = malloc(65536);
		memset(blob, 'x', 65535);
		blob[65535] = '\0';
		line_msg(&r, &l, &lp, blob);
		for (int i = 0; i < 200; i++) {
			int rc = osh_rpc_call_write(call, &r.base);
			if (rc == OSH_EFULL)
				atomic_fetch_add(&T.flood_full, 1);
			else if (rc == 0)
				atomic_fetch_add(&T.flood_written, 1);
		}
		free(blob);
		osh_rpc_call_finish(call);
		return;
	}
	for (uint32_t i = 0; i < req->tail_lines; i++) {
		snprintf(text, sizeof(text), "line %u", i);
		line_msg(&r, &l, &lp, text);
		cr_assert_eq(osh_rpc_call_write(call, &r.base), 0);
	}
	if (strcmp(req->sandbox_id, "follow") == 0) {
		osh_rpc_call_ref(call);
		pthread_mutex_lock(&T.mu);
		T.held_watch = call;
		pthread_mutex_unlock(&T.mu);
		return;
	}
	if (strcmp(req->sandbox_id, "fail") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_FAILED_PRECONDITION, "watch refused");
		return;
	}
	osh_rpc_call_finish(call);
}

static void tick(struct osh_rpc_server *srv, void *ud)
{
	(void)srv;
	(void)ud;
	atomic_fetch_add(&T.ticks, 1);
}

static void start_server(size_t max_recv, size_t queue_max, enum osh_rpc_full_policy pol,
			 unsigned grace_ms)
{
	struct osh_rpc_server_opts o = {.service = SVC,
					.listen = "127.0.0.1:0",
					.max_recv_bytes = max_recv,
					.tick_ms = 10,
					.tick = tick,
					.shutdown_grace_ms = grace_ms};
	struct osh_rpc_method ms[] = {
	    {.name = "GetConfig",
	     .kind = OSH_RPC_UNARY,
	     .handler = h_get_config,
	     .on_done = h_done},
	    {.name = "SetConfig", .kind = OSH_RPC_UNARY, .handler = h_set_config},
	    {.name = "PushSandboxLogs",
	     .kind = OSH_RPC_CLIENT_STREAM,
	     .on_message = h_push_msg,
	     .on_end = h_push_end,
	     .on_done = h_done},
	    {.name = "WatchSandboxLogs",
	     .kind = OSH_RPC_SERVER_STREAM,
	     .handler = h_watch,
	     .on_done = h_done,
	     .queue_max = queue_max,
	     .full_policy = pol},
	};
	cr_assert_eq(osh_rpc_server_create(&o, &T.srv), 0);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		cr_assert_eq(osh_rpc_server_add_method(T.srv, &ms[i]), 0, "%s", ms[i].name);
	cr_assert_eq(osh_rpc_server_start(T.srv), 0, "%s", osh_rpc_server_error(T.srv));
	T.port = osh_rpc_server_port(T.srv);
	cr_assert_gt(T.port, 0);
	snprintf(T.target, sizeof(T.target), "127.0.0.1:%d", T.port);
	cr_assert_eq(osh_rpc_server_spawn(T.srv), 0);
}

static struct osh_rpc_client *client(size_t max_recv, size_t max_send)
{
	struct osh_rpc_client *c = NULL;
	struct osh_rpc_client_opts o = {.max_recv_bytes = max_recv, .max_send_bytes = max_send};
	cr_assert_eq(osh_rpc_client_create(T.target, SVC, &o, &c), 0);
	return c;
}

static int get_config(struct osh_rpc_client *c, const char *key, int64_t timeout_ms,
		      Openshell__V1__GetConfigResponse **out, struct osh_rpc_status *st)
{
	Openshell__V1__GetConfigRequest req = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = timeout_ms};
	ProtobufCMessage *resp = NULL;
	int rc;
	req.key = OSH_RPC_STR(key);
	rc = osh_rpc_client_unary(c, "GetConfig", &req.base, &o, &resp, st);
	*out = (Openshell__V1__GetConfigResponse *)resp;
	return rc;
}

/* --------------------------------------------------------------- tests -- */

Test(rpc, registration_is_checked)
{
	struct osh_rpc_server *s = NULL;
	struct osh_rpc_server_opts o = {.service = SVC, .listen = "127.0.0.1:0"};
	struct osh_rpc_method bad_name = {
	    .name = "NoSuchMethod", .kind = OSH_RPC_UNARY, .handler = h_get_config};
	struct osh_rpc_method no_cb = {.name = "GetConfig", .kind = OSH_RPC_CLIENT_STREAM};
	struct osh_rpc_method ok = {
	    .name = "GetConfig", .kind = OSH_RPC_UNARY, .handler = h_get_config};
	struct osh_rpc_server_opts no_svc = {.listen = "127.0.0.1:0"};

	cr_assert_eq(osh_rpc_server_create(&no_svc, &s), OSH_EINVAL);
	cr_assert_null(s);
	cr_assert_eq(osh_rpc_server_create(&o, &s), 0);
	cr_assert_eq(osh_rpc_server_add_method(s, &bad_name), OSH_ENOTFOUND);
	cr_assert_eq(osh_rpc_server_add_method(s, &no_cb), OSH_EINVAL);
	cr_assert_eq(osh_rpc_server_add_method(s, &ok), 0);
	cr_assert_eq(osh_rpc_server_add_method(s, &ok), OSH_EEXIST);
	cr_assert_eq(osh_rpc_server_start(s), 0);
	cr_assert_eq(osh_rpc_server_add_method(s, &ok), OSH_ESTATE);
	osh_rpc_server_destroy(s); /* started, never run: must still shut down cleanly */
}

Test(rpc, busy_port_is_an_error_not_a_shared_socket)
{
	struct osh_rpc_server *s2 = NULL;
	char listen[64];
	struct osh_rpc_server_opts o = {.service = SVC, .listen = listen};
	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", T.port);
	cr_assert_eq(osh_rpc_server_create(&o, &s2), 0);
	cr_assert_eq(osh_rpc_server_start(s2), OSH_EIO);
	cr_assert(strstr(osh_rpc_server_error(s2), listen) != NULL, "%s", osh_rpc_server_error(s2));
	osh_rpc_server_destroy(s2);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, unary_ok_not_found_and_metadata)
{
	struct osh_rpc_client *c;
	Openshell__V1__GetConfigResponse *r = NULL;
	struct osh_rpc_status st;
	struct osh_rpc_md md[] = {{"x-test", "hello-md"}};
	struct osh_rpc_call_opts o = {.timeout_ms = 5000, .md = md, .n_md = 1};
	Openshell__V1__GetConfigRequest req = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	cr_assert_eq(get_config(c, "alpha", 5000, &r, &st), 0, "%s", st.message);
	cr_assert_eq(st.code, OSH_RPC_OK);
	cr_assert_eq(r->config_revision, 7);
	cr_assert_eq(r->n_entries, 1);
	cr_assert_str_eq(r->entries[0]->key, "alpha");
	osh_rpc_msg_free(&r->base);

	cr_assert_eq(get_config(c, "missing", 5000, &r, &st), OSH_ENOTFOUND);
	cr_assert_null(r);
	cr_assert_eq(st.code, OSH_RPC_NOT_FOUND);
	cr_assert_str_eq(st.message, "no config key 'missing'");

	req.key = OSH_RPC_STR("md");
	cr_assert_eq(osh_rpc_client_unary(c, "GetConfig", &req.base, &o, &resp, &st), 0);
	r = (Openshell__V1__GetConfigResponse *)resp;
	cr_assert_str_eq(r->entries[0]->value, "hello-md");
	osh_rpc_msg_free(resp);

	/* Wrong request type for the method: refused locally. */
	cr_assert_eq(osh_rpc_client_unary(c, "SetConfig", &req.base, NULL, &resp, &st), OSH_EINVAL);
	cr_assert_eq(osh_rpc_client_unary(c, "Nope", &req.base, NULL, &resp, &st), OSH_EINVAL);

	/* Handler replying with the wrong message type: INTERNAL, not a crash. */
	cr_assert_eq(get_config(c, "wrongtype", 5000, &r, &st), OSH_EPROTO);
	cr_assert_eq(st.code, OSH_RPC_INTERNAL);

	cr_assert(wait_ge(&T.ticks, 3, 5000), "tick hook runs");
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, unknown_and_unhandled_methods_are_unimplemented_at_once)
{
	struct osh_rpc_client *c;
	struct osh_rpc_status st;
	struct osh_rpc_call_opts o = {.timeout_ms = 10000};
	void *out = NULL;
	size_t n = 0;
	int64_t t0;
	Openshell__V1__ListSandboxesRequest lreq = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	t0 = now_ms();
	cr_assert_eq(osh_rpc_client_unary_raw(c, "/openshell.v1.OpenShell/NoSuchThing", "", 0, &o,
					      &out, &n, &st),
		     OSH_EPROTO);
	cr_assert_eq(st.code, OSH_RPC_UNIMPLEMENTED, "%d %s", st.code, st.message);
	cr_assert(strstr(st.message, "NoSuchThing") != NULL, "%s", st.message);
	cr_assert_lt(now_ms() - t0, 5000, "answered, not left to the deadline");
	cr_assert_null(out);

	/* In the service but without a handler. */
	t0 = now_ms();
	cr_assert_eq(osh_rpc_client_unary(c, "ListSandboxes", &lreq.base, &o, &resp, &st),
		     OSH_EPROTO);
	cr_assert_eq(st.code, OSH_RPC_UNIMPLEMENTED);
	cr_assert_lt(now_ms() - t0, 5000);

	/* The server still serves afterwards (slots re-armed). */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(osh_rpc_client_unary_raw(c, "/x.Y/Z", "", 0, &o, &out, &n, &st),
			     OSH_EPROTO);
		cr_assert_eq(st.code, OSH_RPC_UNIMPLEMENTED);
	}
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, garbage_bytes_are_invalid_argument)
{
	struct osh_rpc_client *c;
	struct osh_rpc_status st;
	const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
	const uint8_t good[] = {0x0a, 0x01, 'k'}; /* GetConfigRequest{key="k"} */
	void *out = NULL;
	size_t n = 0;
	Openshell__V1__GetConfigResponse *r;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	cr_assert_eq(osh_rpc_client_unary_raw(c, "/openshell.v1.OpenShell/GetConfig", garbage,
					      sizeof(garbage), NULL, &out, &n, &st),
		     OSH_EINVAL);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "GetConfigRequest") != NULL, "%s", st.message);
	/* garbage into a server-stream method too */
	cr_assert_eq(osh_rpc_client_unary_raw(c, "/openshell.v1.OpenShell/WatchSandboxLogs",
					      garbage, sizeof(garbage), NULL, &out, &n, &st),
		     OSH_EINVAL);
	/* raw path works with valid bytes */
	cr_assert_eq(osh_rpc_client_unary_raw(c, "/openshell.v1.OpenShell/GetConfig", good,
					      sizeof(good), NULL, &out, &n, &st),
		     0, "%s", st.message);
	r = openshell__v1__get_config_response__unpack(NULL, n, out);
	cr_assert(r != NULL);
	cr_assert_str_eq(r->entries[0]->key, "k");
	openshell__v1__get_config_response__free_unpacked(r, NULL);
	free(out);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, oversize_messages_are_refused_both_ways)
{
	struct osh_rpc_client *c, *small;
	struct osh_rpc_status st;
	Openshell__V1__SetConfigRequest req = OPENSHELL__V1__SET_CONFIG_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	Openshell__V1__GetConfigResponse *r = NULL;
	char *v = malloc(100001);

	start_server(64 * 1024, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	memset(v, 'a', 100000);
	v[100000] = '\0';
	req.key = OSH_RPC_STR("k");
	req.value = v;
	cr_assert_eq(osh_rpc_client_unary(c, "SetConfig", &req.base, NULL, &resp, &st),
		     OSH_ETOOBIG);
	cr_assert_eq(st.code, OSH_RPC_RESOURCE_EXHAUSTED, "%d %s", st.code, st.message);
	/* just under the limit passes */
	v[60000] = '\0';
	cr_assert_eq(osh_rpc_client_unary(c, "SetConfig", &req.base, NULL, &resp, &st), 0, "%s",
		     st.message);
	cr_assert_eq(((Openshell__V1__SetConfigResponse *)resp)->config_revision, 60000);
	osh_rpc_msg_free(resp);

	/* A response above the client's receive limit. */
	small = client(64 * 1024, 0);
	cr_assert_eq(get_config(small, "big", 5000, &r, &st), OSH_ETOOBIG);
	cr_assert_eq(st.code, OSH_RPC_RESOURCE_EXHAUSTED, "%d %s", st.code, st.message);
	cr_assert_eq(get_config(c, "big", 5000, &r, &st), 0);
	cr_assert_eq(strlen(r->entries[0]->value), 199999);
	osh_rpc_msg_free(&r->base);
	free(v);
	osh_rpc_client_destroy(small);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, deadline_exceeded_and_server_sees_the_cancel)
{
	struct osh_rpc_client *c;
	struct osh_rpc_status st;
	Openshell__V1__GetConfigResponse *r = NULL;
	int64_t t0;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	t0 = now_ms();
	cr_assert_eq(get_config(c, "hold", 300, &r, &st), OSH_ETIMEDOUT);
	cr_assert_eq(st.code, OSH_RPC_DEADLINE_EXCEEDED);
	cr_assert_geq(now_ms() - t0, 250);
	cr_assert(wait_ge(&T.done_cancelled, 1, 5000));
	pthread_mutex_lock(&T.mu);
	cr_assert_null(T.held_unary, "on_done released the held call");
	pthread_mutex_unlock(&T.mu);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, no_server_fails_fast_or_waits_for_ready)
{
	struct osh_rpc_client *c = NULL;
	struct osh_rpc_status st;
	Openshell__V1__GetConfigRequest req = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	struct osh_rpc_call_opts wfr = {.timeout_ms = 300, .wait_for_ready = true};
	ProtobufCMessage *resp = NULL;
	Openshell__V1__GetConfigResponse *r;
	int64_t t0;

	/* Find a port nobody listens on: start a server, note its port, stop it. */
	start_server(0, 0, OSH_RPC_FULL_DROP, 100);
	osh_rpc_server_destroy(T.srv);
	cr_assert_eq(osh_rpc_client_create(T.target, SVC, NULL, &c), 0);
	req.key = OSH_RPC_STR("x");
	t0 = now_ms();
	cr_assert_eq(get_config(c, "x", 10000, &r, &st), OSH_EUNAVAIL);
	cr_assert_eq(st.code, OSH_RPC_UNAVAILABLE);
	cr_assert_lt(now_ms() - t0, 5000, "fail-fast");
	cr_assert_gt(strlen(st.message), 0);
	t0 = now_ms();
	cr_assert_eq(osh_rpc_client_unary(c, "GetConfig", &req.base, &wfr, &resp, &st),
		     OSH_ETIMEDOUT);
	cr_assert_geq(now_ms() - t0, 250, "waited for the server");
	osh_rpc_client_destroy(c);
}

Test(rpc, client_stream_counts_and_early_failure)
{
	struct osh_rpc_client *c;
	struct osh_rpc_cstream *cs = NULL;
	struct osh_rpc_status st;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine l = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lines[5] = {&l, &l, &l, &l, &l};
	Openshell__V1__GetConfigRequest wrong = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc = 0;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	l.message = OSH_RPC_STR("hello");
	req.sandbox_id = OSH_RPC_STR("sb");
	req.logs = lines;
	req.n_logs = 5;
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &wrong.base), OSH_EINVAL);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	cr_assert_eq(((Openshell__V1__PushSandboxLogsResponse *)resp)->accepted, 50);
	osh_rpc_msg_free(resp);

	/* Empty stream: zero accepted, still OK. */
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0);
	cr_assert_eq(((Openshell__V1__PushSandboxLogsResponse *)resp)->accepted, 0);
	osh_rpc_msg_free(resp);

	/* The server fails the stream on its first message: later sends see it. */
	req.sandbox_id = OSH_RPC_STR("reject");
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	for (int i = 0; i < 200 && rc == 0; i++) {
		rc = osh_rpc_cstream_send(cs, &req.base);
		if (rc == 0)
			usleep(1000);
	}
	cr_assert_eq(rc, OSH_ECLOSED);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), OSH_ENOTFOUND);
	cr_assert_eq(st.code, OSH_RPC_NOT_FOUND);
	cr_assert_str_eq(st.message, "sandbox reject not found");
	cr_assert_null(resp);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, client_disconnect_mid_stream_keeps_server_serving)
{
	struct osh_rpc_client *c;
	struct osh_rpc_cstream *cs = NULL;
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__GetConfigResponse *r = NULL;
	ProtobufCMessage *msg = NULL;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	req.sandbox_id = OSH_RPC_STR("sb");
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert(wait_ge(&T.push_msgs, 2, 5000));
	osh_rpc_cstream_destroy(cs); /* cancel mid-stream */
	cr_assert(wait_ge(&T.done_cancelled, 1, 5000), "server saw the cancel");

	w.sandbox_id = OSH_RPC_STR("follow");
	w.tail_lines = 3;
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	cr_assert_eq(osh_rpc_sstream_next(ss, 5000, &msg, &st), 0);
	osh_rpc_msg_free(msg);
	osh_rpc_sstream_destroy(ss);
	cr_assert(wait_ge(&T.done_cancelled, 2, 5000), "watch cancel seen");
	pthread_mutex_lock(&T.mu);
	cr_assert_null(T.held_watch);
	pthread_mutex_unlock(&T.mu);

	cr_assert_eq(get_config(c, "after", 5000, &r, &st), 0, "%s", st.message);
	osh_rpc_msg_free(&r->base);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

static void *writer_thread(void *arg)
{
	struct osh_rpc_call *call = arg;
	Openshell__V1__WatchSandboxLogsResponse r;
	Openshell__V1__SandboxLogLine l, *lp;
	char text[32];
	for (int i = 0; i < 20; i++) {
		snprintf(text, sizeof(text), "live %d", i);
		line_msg(&r, &l, &lp, text);
		while (osh_rpc_call_write(call, &r.base) == OSH_EFULL)
			usleep(1000);
	}
	osh_rpc_call_finish(call);
	osh_rpc_call_unref(call);
	return NULL;
}

Test(rpc, server_stream_tail_then_writes_from_another_thread)
{
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st;
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	struct osh_rpc_call *held = NULL;
	pthread_t th;
	char want[32];
	int got = 0, rc;

	start_server(0, 4, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	w.sandbox_id = OSH_RPC_STR("follow");
	w.tail_lines = 3;
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(osh_rpc_sstream_next(ss, 5000, &msg, &st), 0, "%s", st.message);
		snprintf(want, sizeof(want), "line %d", i);
		cr_assert_str_eq(((Openshell__V1__WatchSandboxLogsResponse *)msg)->logs[0]->message,
				 want);
		osh_rpc_msg_free(msg);
	}
	/* Nothing more yet: a short wait times out and the stream stays open. */
	cr_assert_eq(osh_rpc_sstream_next(ss, 50, &msg, &st), OSH_ETIMEDOUT);
	cr_assert_null(msg);

	pthread_mutex_lock(&T.mu);
	held = T.held_watch;
	if (held != NULL)
		osh_rpc_call_ref(held);
	pthread_mutex_unlock(&T.mu);
	cr_assert(held != NULL);
	cr_assert_eq(pthread_create(&th, NULL, writer_thread, held), 0);
	for (;;) {
		rc = osh_rpc_sstream_next(ss, 5000, &msg, &st);
		if (rc != 0)
			break;
		snprintf(want, sizeof(want), "live %d", got);
		cr_assert_str_eq(((Openshell__V1__WatchSandboxLogsResponse *)msg)->logs[0]->message,
				 want, "in order, none lost");
		got++;
		osh_rpc_msg_free(msg);
	}
	cr_assert_eq(rc, OSH_ECLOSED);
	cr_assert_eq(st.code, OSH_RPC_OK, "%d %s", st.code, st.message);
	cr_assert_eq(got, 20);
	pthread_join(th, NULL);
	cr_assert(wait_ge(&T.done_clean, 1, 5000));
	osh_rpc_sstream_destroy(ss);

	/* A watch the server refuses after writing its tail. */
	w.sandbox_id = OSH_RPC_STR("fail");
	w.tail_lines = 1;
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	cr_assert_eq(osh_rpc_sstream_next(ss, 5000, &msg, &st), OSH_ECLOSED);
	cr_assert_eq(st.code, OSH_RPC_FAILED_PRECONDITION, "queued tail dropped on failure");
	osh_rpc_sstream_destroy(ss);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, slow_reader_drop_policy_bounds_the_queue)
{
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st;
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	int got = 0, rc;

	start_server(0, 4, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	w.sandbox_id = OSH_RPC_STR("flood");
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	while ((rc = osh_rpc_sstream_next(ss, 5000, &msg, &st)) == 0) {
		got++;
		osh_rpc_msg_free(msg);
	}
	cr_assert_eq(rc, OSH_ECLOSED);
	cr_assert_eq(st.code, OSH_RPC_OK, "%s", st.message);
	cr_assert_gt(atomic_load(&T.flood_full), 0, "a 4-deep queue must overflow");
	cr_assert_eq(atomic_load(&T.flood_full) + atomic_load(&T.flood_written), 200);
	cr_assert_eq(got, atomic_load(&T.flood_written), "every accepted message arrives");
	osh_rpc_sstream_destroy(ss);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

Test(rpc, slow_reader_close_policy_ends_the_stream)
{
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st;
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	int got = 0, rc;

	start_server(0, 4, OSH_RPC_FULL_CLOSE, 200);
	c = client(0, 0);
	w.sandbox_id = OSH_RPC_STR("flood");
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	while ((rc = osh_rpc_sstream_next(ss, 5000, &msg, &st)) == 0) {
		got++;
		osh_rpc_msg_free(msg);
	}
	cr_assert_eq(rc, OSH_ECLOSED);
	cr_assert_eq(st.code, OSH_RPC_RESOURCE_EXHAUSTED, "%d %s", st.code, st.message);
	cr_assert_lt(got, 200);
	osh_rpc_sstream_destroy(ss);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

struct next_arg {
	struct osh_rpc_sstream *ss;
	int rc;
	struct osh_rpc_status st;
};

static void *blocked_next(void *arg)
{
	struct next_arg *a = arg;
	ProtobufCMessage *msg = NULL;
	do {
		osh_rpc_msg_free(msg);
		a->rc = osh_rpc_sstream_next(a->ss, -1, &msg, &a->st);
	} while (a->rc == 0);
	return NULL;
}

Test(rpc, shutdown_cancels_open_streams)
{
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_cstream *cs = NULL;
	struct osh_rpc_status st;
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__PushSandboxLogsRequest p = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	ProtobufCMessage *msg = NULL;
	struct next_arg na = {0};
	pthread_t th;
	int64_t t0;

	start_server(0, 0, OSH_RPC_FULL_DROP, 300);
	c = client(0, 0);
	w.sandbox_id = OSH_RPC_STR("follow");
	w.tail_lines = 1;
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	cr_assert_eq(osh_rpc_sstream_next(ss, 5000, &msg, &st), 0);
	osh_rpc_msg_free(msg);
	p.sandbox_id = OSH_RPC_STR("sb");
	cr_assert_eq(osh_rpc_cstream_open(c, "PushSandboxLogs", NULL, &cs), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &p.base), 0);
	cr_assert(wait_ge(&T.push_msgs, 1, 5000));
	na.ss = ss;
	cr_assert_eq(pthread_create(&th, NULL, blocked_next, &na), 0);

	t0 = now_ms();
	osh_rpc_server_destroy(T.srv); /* grace 300 ms, then cancel all */
	cr_assert_lt(now_ms() - t0, 8000, "shutdown does not hang on open streams");
	cr_assert_eq(atomic_load(&T.done_cancelled), 2, "on_done ran for both streams");
	pthread_join(th, NULL);
	cr_assert_eq(na.rc, OSH_ECLOSED);
	cr_assert_neq(na.st.code, OSH_RPC_OK);
	cr_assert_neq(osh_rpc_cstream_finish(cs, &msg, &st), 0);
	cr_assert_null(msg);
	osh_rpc_sstream_destroy(ss);
	osh_rpc_client_destroy(c);
}

Test(rpc, cancel_from_another_thread_unblocks_next)
{
	struct osh_rpc_client *c;
	struct osh_rpc_sstream *ss = NULL;
	Openshell__V1__WatchSandboxLogsRequest w = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct next_arg na = {0};
	pthread_t th;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	w.sandbox_id = OSH_RPC_STR("follow");
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &w.base, NULL, &ss), 0);
	for (int i = 0; i < 1000 && !watch_held(); i++)
		usleep(5000);
	cr_assert(watch_held());
	na.ss = ss;
	cr_assert_eq(pthread_create(&th, NULL, blocked_next, &na), 0);
	osh_rpc_sstream_cancel(ss);
	pthread_join(th, NULL);
	cr_assert_eq(na.rc, OSH_ECLOSED);
	cr_assert_eq(na.st.code, OSH_RPC_CANCELLED);
	cr_assert(wait_ge(&T.done_cancelled, 1, 5000));
	osh_rpc_sstream_destroy(ss);
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}

struct par_arg {
	struct osh_rpc_client *c;
	int ok;
};

static void *par_calls(void *arg)
{
	struct par_arg *a = arg;
	struct osh_rpc_status st;
	Openshell__V1__GetConfigResponse *r;
	char key[32];
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (get_config(a->c, key, 5000, &r, &st) == 0) {
			if (strcmp(r->entries[0]->key, key) == 0)
				a->ok++;
			osh_rpc_msg_free(&r->base);
		}
	}
	return NULL;
}

Test(rpc, one_client_shared_by_threads)
{
	struct par_arg a[4];
	pthread_t th[4];
	struct osh_rpc_client *c;

	start_server(0, 0, OSH_RPC_FULL_DROP, 200);
	c = client(0, 0);
	for (int i = 0; i < 4; i++) {
		a[i].c = c;
		a[i].ok = 0;
		cr_assert_eq(pthread_create(&th[i], NULL, par_calls, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(a[i].ok, 50);
	}
	cr_assert(wait_ge(&T.done_clean, 200, 5000), "%d", atomic_load(&T.done_clean));
	osh_rpc_client_destroy(c);
	osh_rpc_server_destroy(T.srv);
}
