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
#include "osh_testdir.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "sup_push.h"

#define MAXL 4096

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *got[MAXL];
static int n_got;
static int max_batch;
static int bad_ids;
static int n_agent; /* lines with source "agent" (target stdout/stderr) */
static char logdir[1024];
static char *g_logdir; /* osh_testdir: validated, archived, removed in stop_emit */

/* Acknowledging server (F11/F12 tests): per push sequence, how often it was
 * received and whether it is "stored"; how the stream end is answered. */
enum end_mode { END_LEGACY, END_ACK, END_LOSE_ACK, END_HANG };
static enum end_mode end_mode = END_LEGACY;
static int lose_acks; /* END_LOSE_ACK: fail this many stream ends after storing */
static unsigned char stored[MAXL];
static int received_seq[MAXL];
static uint64_t high_seq;

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
		uint64_t seq = r->first_seq ? r->first_seq + i : 0;

		bool agent = strcmp(r->logs[i]->source, "agent") == 0 &&
			     (strcmp(r->logs[i]->target, "stdout") == 0 ||
			      strcmp(r->logs[i]->target, "stderr") == 0);
		if ((!agent && strcmp(r->logs[i]->source, "sandbox") != 0) ||
		    r->logs[i]->timestamp_ms <= 0)
			bad_ids++;
		if (agent)
			n_agent++;
		if (seq && seq < MAXL) {
			received_seq[seq]++;
			if (stored[seq])
				continue; /* duplicate: the gateway skips it */
			stored[seq] = 1;
			if (seq > high_seq)
				high_seq = seq;
		}
		got[n_got++] = strdup(r->logs[i]->message);
	}
	pthread_mutex_unlock(&mu);
}

static void on_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse resp =
	    OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;

	(void)ud;
	pthread_mutex_lock(&mu);
	resp.acked_seq = end_mode == END_LEGACY ? 0 : high_seq;
	if (end_mode == END_LOSE_ACK && lose_acks > 0) {
		lose_acks--;
		pthread_mutex_unlock(&mu);
		/* stored, but the acknowledgement never arrives (gateway died) */
		osh_rpc_call_fail(call, OSH_RPC_UNAVAILABLE, "lost before the answer");
		return;
	}
	pthread_mutex_unlock(&mu);
	if (end_mode == END_HANG)
		return; /* never answers: the client's deadline ends the call */
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

	g_logdir = osh_testdir_new("push");
	snprintf(logdir, sizeof(logdir), "%s", g_logdir);
	osh_emit_config_default(&cfg);
	cfg.log_dir = logdir;
	cfg.stderr_enabled = false;
	cfg.push_bytes = 4u << 20;
	cr_assert_eq(osh_emit_init(&cfg), 0);
}

static void stop_emit(void)
{
	char *d = g_logdir;

	osh_emit_shutdown();
	g_logdir = NULL;
	osh_testdir_finish(d);
	for (int i = 0; i < n_got; i++)
		free(got[i]);
	n_got = 0;
	end_mode = END_LEGACY;
	high_seq = 0;
	memset(stored, 0, sizeof(stored));
	memset(received_seq, 0, sizeof(received_seq));
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

static int agent_count(void)
{
	int n;
	pthread_mutex_lock(&mu);
	n = n_agent;
	pthread_mutex_unlock(&mu);
	return n;
}

Test(push, agent_lines_go_out_as_source_agent)
{
	struct osh_rpc_server *srv = serve("127.0.0.1:0");
	char target[64];
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;

	start_emit();
	snprintf(target, sizeof(target), "127.0.0.1:%d", osh_rpc_server_port(srv));
	cr_assert_eq(osh_sup_push_create(target, "sb-push", &p), 0);
	cr_assert_eq(osh_sup_push_start(p), 0);
	for (int i = 0; i < 20; i++) {
		char line[32];
		snprintf(line, sizeof(line), "agent says %02d", i);
		cr_assert_eq(osh_sup_push_agent_line(p, "stdout", line), 0);
	}
	cr_assert_eq(osh_sup_push_agent_line(p, "stderr", "agent oops"), 0);
	osh_log(OSH_LEVEL_INFO, "pushtest", "supervisor line");
	cr_assert_eq(osh_sup_push_agent_line(NULL, "stdout", "x"), OSH_EINVAL);
	WAIT_FOR(agent_count() >= 21, 10000, "21 agent lines");
	WAIT_FOR(received_text("supervisor line"), 10000, "the supervisor's line");
	cr_assert(received_exact("agent says 00"));
	cr_assert(received_exact("agent says 19"));
	cr_assert(received_exact("agent oops"));
	pthread_mutex_lock(&mu);
	cr_assert_eq(bad_ids, 0,
		     "every line is source sandbox, or agent with target stdout/stderr");
	cr_assert_eq(n_agent, 21, "the supervisor's own line is not source agent");
	pthread_mutex_unlock(&mu);
	osh_sup_push_stop(p, 3000);
	osh_sup_push_stats_get(p, &st);
	cr_assert_eq(st.dropped, 0);
	osh_sup_push_destroy(p);
	osh_rpc_server_destroy(srv);
	stop_emit();
}

Test(push, agent_inbox_is_bounded_and_counts_drops)
{
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;
	int full = 0;

	/* not started: nothing drains the inbox */
	cr_assert_eq(osh_sup_push_create("127.0.0.1:1", "sb-push", &p), 0);
	for (int i = 0; i < OSH_SUP_PUSH_AGENT_INBOX + 10; i++)
		if (osh_sup_push_agent_line(p, "stdout", "flood") == OSH_EFULL)
			full++;
	cr_assert_eq(full, 10);
	osh_sup_push_stats_get(p, &st);
	cr_assert_eq(st.dropped, 10);
	osh_sup_push_destroy(p); /* frees what waits in the inbox (LeakSanitizer) */
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
	char target[64], path[1100];
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

/* F11: the gateway stored a round but its answer was lost (twice): the
 * supervisor resends, the gateway skips what it holds, every line is stored
 * exactly once and none is reported lost. */
Test(push, unacknowledged_rounds_are_resent_and_stored_once)
{
	struct osh_rpc_server *srv;
	char target[64];
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;
	int resent = 0;

	end_mode = END_LOSE_ACK;
	lose_acks = 2;
	srv = serve("127.0.0.1:0");
	start_emit();
	snprintf(target, sizeof(target), "127.0.0.1:%d", osh_rpc_server_port(srv));
	cr_assert_eq(osh_sup_push_create(target, "sb-push", &p), 0);
	cr_assert_eq(osh_sup_push_start(p), 0);
	for (int i = 0; i < 300; i++)
		osh_log(OSH_LEVEL_INFO, "pushtest", "acked %03d", i);
	WAIT_FOR(received_exact("acked 299") &&
		     (osh_sup_push_stats_get(p, &st), st.acked >= 300 && st.failures >= 2),
		 20000, "300 lines acknowledged after two lost answers");
	osh_sup_push_stop(p, 3000);
	osh_sup_push_stats_get(p, &st);
	pthread_mutex_lock(&mu);
	for (uint64_t q = 1; q <= high_seq; q++) {
		cr_assert_eq(stored[q], 1, "sequence %llu stored", (unsigned long long)q);
		resent += received_seq[q] > 1;
	}
	cr_assert_geq(high_seq, 300);
	for (int i = 0; i < 300; i++) {
		char want[32];
		int copies = 0;

		snprintf(want, sizeof(want), "acked %03d", i);
		for (int k = 0; k < n_got; k++)
			copies += strcmp(got[k], want) == 0;
		cr_assert_eq(copies, 1, "'%s' stored %d times", want, copies);
	}
	pthread_mutex_unlock(&mu);
	cr_assert_gt(resent, 0, "lines of the unacknowledged rounds were sent again");
	cr_assert_gt(st.resent, 0);
	cr_assert_eq(st.dropped, 0, "nothing was lost, nothing reported");
	cr_assert_not(received_text("were not delivered"));
	osh_sup_push_destroy(p);
	osh_rpc_server_destroy(srv);
	stop_emit();
}

/* F12: a gateway that takes the lines but never answers (SIGSTOP) does not
 * hold stop beyond flush_ms + 1 s, and what was not acknowledged is reported
 * in openshell.log, the report counting itself. */
Test(push, stop_is_bounded_when_the_gateway_hangs)
{
	struct osh_rpc_server *srv;
	char target[64], path[1100], line[4096];
	struct osh_sup_push *p = NULL;
	struct osh_sup_push_stats st;
	int64_t t0, took;
	FILE *f;
	long lost = -1;

	end_mode = END_HANG;
	srv = serve("127.0.0.1:0");
	start_emit();
	snprintf(target, sizeof(target), "127.0.0.1:%d", osh_rpc_server_port(srv));
	cr_assert_eq(osh_sup_push_create(target, "sb-push", &p), 0);
	cr_assert_eq(osh_sup_push_start(p), 0);
	for (int i = 0; i < 60; i++)
		osh_log(OSH_LEVEL_INFO, "pushtest", "hung %d", i);
	WAIT_FOR(received_exact("hung 59"), 10000, "the lines to reach the hung gateway");
	t0 = now_ms();
	osh_sup_push_stop(p, 1500);
	took = now_ms() - t0;
	cr_assert_lt(took, 1500 + 1200, "stop took %lld ms", (long long)took);
	osh_sup_push_stats_get(p, &st);
	cr_assert_eq(st.acked, 0);
	cr_assert_geq(st.dropped, 61);
	osh_sup_push_destroy(p);
	cr_assert_eq(osh_emit_flush(5000), 0);
	snprintf(path, sizeof(path), "%s/openshell.log", logdir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *m = strstr(line, "OCSF EVENT [MED] ");

		if (m && strstr(line, "gateway unreachable at shutdown (this report included)"))
			lost = strtol(m + strlen("OCSF EVENT [MED] "), NULL, 10);
	}
	fclose(f);
	cr_assert_eq(lost, (long)st.dropped, "report says %ld, counters %llu", lost,
		     (unsigned long long)st.dropped);
	osh_rpc_server_destroy(srv);
	stop_emit();
}
