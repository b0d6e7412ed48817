/* test_sup_push.c - the log push client against a real gRPC server.
 *
 * DESIGN: an osh_rpc server implementing PushSandboxLogs records every line
 * it receives; the emit runtime runs for real (temp log dir, push feed on);
 * lines are produced with osh_log(). Waits poll a condition with a deadline.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "osh_emit.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "sup_push.h"

#define MAXL 4096

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *got[MAXL];
static int n_got;
static int max_batch;
static int bad_ids;
static char logdir[64];

static void on_message(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__PushSandboxLogsRequest *r = (const void *)m;

	(void)call;
	(void)ud;
	pthread_mutex_lock(&mu);
	if ((int)r->n_logs > max_batch)
		max_batch = (int)r->n_logs;
	if (strcmp(r->sandbox_id, "sb-push") != 0)
		bad_ids++;
	for (size_t i = 0; i < r->n_logs && n_got < MAXL; i++) {
		if (strcmp(r->logs[i]->source, "sandbox") != 0 || r->logs[i]->timestamp_ms <= 0)
			bad_ids++;
		got[n_got++] = strdup(r->logs[i]->message);
	}
	pthread_mutex_unlock(&mu);
}

static void on_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse resp =
	    OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;

	(void)ud;
	osh_rpc_call_reply(call, &resp.base);
}

static struct osh_rpc_server *serve(const char *listen)
{
	struct osh_rpc_server_opts o = {.service = &openshell__v1__open_shell__descriptor,
					.listen = listen};
	struct osh_rpc_method m = {.name = "PushSandboxLogs",
				   .kind = OSH_RPC_CLIENT_STREAM,
				   .on_message = on_message,
				   .on_end = on_end};
	struct osh_rpc_server *srv = NULL;

	cr_assert_eq(osh_rpc_server_create(&o, &srv), 0);
	cr_assert_eq(osh_rpc_server_add_method(srv, &m), 0);
	cr_assert_eq(osh_rpc_server_start(srv), 0, "%s", osh_rpc_server_error(srv));
	cr_assert_eq(osh_rpc_server_spawn(srv), 0);
	return srv;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int received(void)
{
	int n;

	pthread_mutex_lock(&mu);
	n = n_got;
	pthread_mutex_unlock(&mu);
	return n;
}

static bool received_text(const char *needle)
{
	bool found = false;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < n_got && !found; i++)
		found = strstr(got[i], needle) != NULL;
	pthread_mutex_unlock(&mu);
	return found;
}

static bool received_exact(const char *text)
{
	bool found = false;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < n_got && !found; i++)
		found = strcmp(got[i], text) == 0;
	pthread_mutex_unlock(&mu);
	return found;
}

static void start_emit(void)
{
	struct osh_emit_config cfg;

	snprintf(logdir, sizeof(logdir), "/tmp/osh-push-XXXXXX");
	cr_assert_not_null(mkdtemp(logdir));
	osh_emit_config_default(&cfg);
	cfg.log_dir = logdir;
	cfg.stderr_enabled = false;
	cfg.push_bytes = 4u << 20;
	cr_assert_eq(osh_emit_init(&cfg), 0);
}

static void stop_emit(void)
{
	char p[128];

	osh_emit_shutdown();
	snprintf(p, sizeof(p), "%s/openshell.log", logdir);
	unlink(p);
	rmdir(logdir);
	for (int i = 0; i < n_got; i++)
		free(got[i]);
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

#define WAIT_FOR(cond, ms, what)                                                                   \
	do {                                                                                       \
		int64_t dl_ = now_ms() + (ms);                                                     \
		while (!(cond)) {                                                                  \
			cr_assert_lt(now_ms(), dl_, "timed out waiting for %s", what);             \
			usleep(10000);                                                             \
		}                                                                                  \
	} while (0)

Test(push, batches_in_order_and_flushes_on_stop)
{
	struct osh_rpc_server *srv = serve("127.0.0.1:0");
	char target[64];
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;

	start_emit();
	snprintf(target, sizeof(target), "127.0.0.1:%d", osh_rpc_server_port(srv));
	cr_assert_eq(osh_sup_push_create(target, "sb-push", &p), 0);
	cr_assert_eq(osh_sup_push_start(p), 0);
	for (int i = 0; i < 120; i++)
		osh_log(OSH_LEVEL_INFO, "pushtest", "line %03d", i);
	WAIT_FOR(received() >= 120, 10000, "120 pushed lines");
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 120; i++) {
		char want[32];

		snprintf(want, sizeof(want), "line %03d", i);
		cr_assert(strstr(got[i], want), "line %d is '%s'", i, got[i]);
	}
	cr_assert_leq(max_batch, OSH_SUP_PUSH_BATCH);
	cr_assert_eq(bad_ids, 0);
	pthread_mutex_unlock(&mu);

	/* A few lines below the batch size go out after the linger time or at
	 * the latest on stop. */
	osh_log(OSH_LEVEL_INFO, "pushtest", "tail line");
	osh_sup_push_stop(p, 3000);
	cr_assert(received_text("tail line"));
	osh_sup_push_stats_get(p, &st);
	cr_assert_geq(st.sent, 121);
	cr_assert_eq(st.dropped, 0);
	cr_assert_geq(st.batches, 3);
	osh_sup_push_destroy(p);
	osh_rpc_server_destroy(srv);
	stop_emit();
}

Test(push, survives_an_absent_gateway_and_reports_losses)
{
	char target[64];
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;
	struct osh_rpc_server *srv;
	int port = free_port();

	start_emit();
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	cr_assert_eq(osh_sup_push_create(target, "sb-push", &p), 0);
	cr_assert_eq(osh_sup_push_start(p), 0);
	for (int i = 0; i < OSH_SUP_PUSH_BUFFER + 300; i++)
		osh_log(OSH_LEVEL_INFO, "pushtest", "early %d", i);
	WAIT_FOR((osh_sup_push_stats_get(p, &st), st.failures >= 1 && st.dropped >= 300), 10000,
		 "failed attempts and the buffer overflow");
	srv = serve(target); /* the gateway comes (back) on the same port */
	WAIT_FOR(received_text("log lines were not delivered to the gateway"), 15000,
		 "the PUSH_LOGS_DROPPED report");
	WAIT_FOR(received_exact("early 2299"), 15000, "the newest buffered line");
	cr_assert(received_exact("early 1000"), "lines buffered while away are delivered");
	cr_assert_not(received_exact("early 0"), "the oldest lines were the ones dropped");
	osh_sup_push_stats_get(p, &st);
	cr_assert_geq(st.dropped, 300);
	cr_assert_geq(st.streams, 1);
	osh_sup_push_stop(p, 3000);
	osh_sup_push_destroy(p);
	osh_rpc_server_destroy(srv);
	stop_emit();
}

Test(push, undelivered_lines_are_reported_at_stop)
{
	char target[64], path[128];
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;
	FILE *f;
	char line[4096];
	bool reported = false;

	start_emit();
	snprintf(target, sizeof(target), "127.0.0.1:%d", free_port());
	cr_assert_eq(osh_sup_push_create(target, "sb-push", &p), 0);
	cr_assert_eq(osh_sup_push_start(p), 0);
	for (int i = 0; i < 5; i++)
		osh_log(OSH_LEVEL_INFO, "pushtest", "never delivered %d", i);
	osh_sup_push_stop(p, 200);
	osh_sup_push_stats_get(p, &st);
	cr_assert_geq(st.dropped, 5);
	cr_assert_eq(st.sent, 0);
	osh_sup_push_destroy(p);
	cr_assert_eq(osh_emit_flush(5000), 0);
	snprintf(path, sizeof(path), "%s/openshell.log", logdir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		reported |= strstr(line, "OCSF EVENT [MED] ") &&
			    strstr(line, "log lines were not delivered to the gateway: gateway "
					 "unreachable at shutdown");
	fclose(f);
	cr_assert(reported, "PUSH_LOGS_DROPPED at stop is in openshell.log");
	stop_emit();
}
