/* osh-rpc-bench - gRPC throughput of the gateway, with an in-process baseline.
 *
 * DESIGN: absolute numbers depend on the machine, so every figure comes with
 * a baseline measured in the same run and a ratio:
 *  - PushSandboxLogs ingestion: S concurrent client streams of B-line batches
 *    into the real gateway, vs the same load into an in-process osh_rpc
 *    server whose handler only counts (the cost of the transport alone);
 *  - GetSandboxPolicy round trips, vs GetConfig round trips on the same
 *    gateway (the cheapest unary call it serves).
 * With --load N instead: the supervisor poll under load. N sandboxes are
 * created, GetSandboxPolicy p99 is measured idle (the baseline), then again
 * while N push streams (one per sandbox, 50-line batches without pause) and
 * N followers (WatchSandboxLogs, one per sandbox, read by their own threads
 * over N/25 connections) run. The target is a p99 under load <= 50 ms: a
 * supervisor's poll deadline is 3 s, and a poll must never wait behind log
 * work (the gateway runs log work on its worker pool).
 * Output: one `name value unit` line per figure on stdout.
 *
 * Usage: osh-rpc-bench --gateway HOST:PORT --sandbox NAME
 *            [--streams 8] [--lines 20000] [--batch 50] [--calls 3000]
 *        osh-rpc-bench --gateway ADDR --load N [--calls 2000] [--pace-ms 100]
 *            [--tap-dir DIR]   (DIR: where tools/sandbox-tap.sh keeps each
 *            sandbox's bootstrap; its credential authenticates the pushes and
 *            polls made as that sandbox's supervisor)
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "osh_time.h"

#define SVC    (&openshell__v1__open_shell__descriptor)
#define ROUNDS 3

struct opts {
	const char *gateway;
	const char *sandbox;
	int streams;
	int lines;
	int batch;
	int calls;
	int load;
	int pace_ms;
	const char *tap_dir;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- pushing -- */

/* --ocsf-json: every pushed line carries an OCSF event (a Network Activity
 * of ~1 KiB, unique metadata.uid), as supervisors do while the OCSF export
 * is on (tools/bench/export-bench.sh). */
static int g_json;

#define JSON_MAX 1536

static void event_json(char *out, size_t cap, int stream, uint64_t n)
{
	snprintf(out, cap,
		 "{\"activity_id\":1,\"activity_name\":\"Open\",\"category_uid\":4,"
		 "\"category_name\":\"Network Activity\",\"class_uid\":4001,\"class_name\":"
		 "\"Network Activity\",\"severity_id\":1,\"severity\":\"Informational\","
		 "\"type_uid\":400101,\"type_name\":\"Network Activity: Open\",\"time\":%lld,"
		 "\"action_id\":1,\"action\":\"Allowed\",\"disposition_id\":1,\"disposition\":"
		 "\"Allowed\",\"message\":\"CONNECT api.example.com:443 allowed\","
		 "\"metadata\":{\"uid\":\"bench-%08x-%016llx\",\"version\":\"1.7.0\","
		 "\"event_code\":\"PROXY_CONNECT_ALLOW\",\"product\":{\"name\":\"OpenShell "
		 "Sandbox Supervisor\",\"vendor_name\":\"OpenShell\",\"version\":\"0.1.0\"},"
		 "\"profiles\":[\"container\",\"host\",\"security_control\"]},"
		 "\"src_endpoint\":{\"ip\":\"10.200.0.2\",\"port\":41234},"
		 "\"dst_endpoint\":{\"hostname\":\"api.example.com\",\"port\":443},"
		 "\"actor\":{\"process\":{\"name\":\"python3\",\"pid\":42,\"cmd_line\":"
		 "\"python3 agent.py --task build\"}},\"device\":{\"hostname\":\"bench\","
		 "\"type_id\":1,\"type\":\"Server\",\"container\":{\"name\":\"bench\","
		 "\"uid\":\"bench-sandbox\"}}}",
		 (long long)osh_time_wall_ms(), (unsigned)stream, (unsigned long long)n);
}

struct push_job {
	struct osh_rpc_client *c;
	const char *sid;
	int lines;
	int batch;
	int idx;
	uint64_t accepted;
	int rc;
	char err[600];
};

/* The sandbox credential (rpc-bench.sh passes it in $OSH_BENCH_CREDENTIAL):
 * the supervisor methods are called as the sandbox's supervisor, the
 * operator ones without it. */
static struct osh_rpc_md cred_md[1] = {{OSH_RPC_MD_SANDBOX_CREDENTIAL, ""}};

static const struct osh_rpc_call_opts *sandbox_opts(void)
{
	static struct osh_rpc_call_opts o = {.md = cred_md, .n_md = 1};
	const char *v = getenv("OSH_BENCH_CREDENTIAL");

	if (v == NULL || *v == '\0')
		return NULL;
	cred_md[0].value = v;
	return &o;
}

static void *push_worker(void *arg)
{
	struct push_job *j = arg;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine *lines = calloc((size_t)j->batch, sizeof(*lines));
	Openshell__V1__SandboxLogLine **lp =
	    calloc((size_t)j->batch, sizeof(Openshell__V1__SandboxLogLine *));
	char(*msgs)[128] = calloc((size_t)j->batch, sizeof(*msgs));
	char *jsons = g_json ? calloc((size_t)j->batch, JSON_MAX) : NULL;
	struct osh_rpc_cstream *cs = NULL;
	struct osh_rpc_status st = {0};
	ProtobufCMessage *resp = NULL;
	int sent = 0;

	j->rc = OSH_ENOMEM;
	if (lines == NULL || lp == NULL || msgs == NULL || (g_json && jsons == NULL))
		goto out;
	j->rc = osh_rpc_cstream_open(j->c, "PushSandboxLogs", sandbox_opts(), &cs);
	if (j->rc != OSH_OK) {
		snprintf(j->err, sizeof(j->err), "open: %s", osh_strerror(j->rc));
		goto out;
	}
	req.sandbox_id = OSH_RPC_STR(j->sid);
	req.logs = lp;
	while (sent < j->lines) {
		int n = j->lines - sent < j->batch ? j->lines - sent : j->batch;
		int64_t ts = osh_time_wall_ms();
		for (int i = 0; i < n; i++) {
			openshell__v1__sandbox_log_line__init(&lines[i]);
			snprintf(msgs[i], sizeof(msgs[i]),
				 "NET:OPEN [INFO] ALLOWED python3(42) -> api.example.com:443 "
				 "[policy:default-egress engine:opa] s%d n%d",
				 j->idx, sent + i);
			lines[i].timestamp_ms = ts;
			lines[i].level = OSH_RPC_STR("OCSF");
			lines[i].target = OSH_RPC_STR("ocsf");
			lines[i].source = OSH_RPC_STR("sandbox");
			lines[i].message = msgs[i];
			if (g_json) {
				event_json(jsons + (size_t)i * JSON_MAX, JSON_MAX, j->idx,
					   (uint64_t)sent + (uint64_t)i);
				lines[i].ocsf_json = jsons + (size_t)i * JSON_MAX;
			}
			lp[i] = &lines[i];
		}
		req.n_logs = (size_t)n;
		j->rc = osh_rpc_cstream_send(cs, &req.base);
		if (j->rc != OSH_OK)
			break;
		sent += n;
	}
	j->rc = osh_rpc_cstream_finish(cs, &resp, &st);
	cs = NULL;
	if (j->rc != OSH_OK) {
		snprintf(j->err, sizeof(j->err), "%s: %s", osh_rpc_status_name(st.code),
			 st.message);
		goto out;
	}
	j->accepted = ((Openshell__V1__PushSandboxLogsResponse *)resp)->accepted;
	osh_rpc_msg_free(resp);
out:
	osh_rpc_cstream_destroy(cs);
	free(lines);
	free(lp);
	free(msgs);
	free(jsons);
	return NULL;
}

/* Returns lines/s, or -1 on failure (message on stderr). */
static double push_run(const char *target, const char *sid, const struct opts *o, uint64_t *acc)
{
	struct osh_rpc_client *c = NULL;
	struct push_job *jobs = calloc((size_t)o->streams, sizeof(*jobs));
	pthread_t *th = calloc((size_t)o->streams, sizeof(*th));
	double t0, dt, res = -1;

	*acc = 0;
	if (jobs == NULL || th == NULL || osh_rpc_client_create(target, SVC, NULL, &c) != OSH_OK)
		goto out;
	t0 = now_s();
	for (int i = 0; i < o->streams; i++) {
		jobs[i] = (struct push_job){
		    .c = c, .sid = sid, .lines = o->lines, .batch = o->batch, .idx = i};
		pthread_create(&th[i], NULL, push_worker, &jobs[i]);
	}
	for (int i = 0; i < o->streams; i++)
		pthread_join(th[i], NULL);
	dt = now_s() - t0;
	for (int i = 0; i < o->streams; i++) {
		if (jobs[i].rc != OSH_OK) {
			fprintf(stderr, "osh-rpc-bench: push stream %d to %s failed: %s\n", i,
				target, jobs[i].err);
			goto out;
		}
		*acc += jobs[i].accepted;
	}
	res = (double)*acc / dt;
out:
	osh_rpc_client_destroy(c);
	free(jobs);
	free(th);
	return res;
}

/* In-process baseline server: counts lines, stores nothing. */
static atomic_ullong base_lines;

static void base_msg(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__PushSandboxLogsRequest *r = (const void *)m;
	uint64_t *n = osh_rpc_call_data(call);
	(void)ud;
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		osh_rpc_call_set_data(call, n);
	}
	if (n != NULL)
		*n += r->n_logs;
	atomic_fetch_add(&base_lines, r->n_logs);
}

static void base_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse r = OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;
	uint64_t *n = osh_rpc_call_data(call);
	(void)ud;
	r.accepted = n != NULL ? *n : 0;
	osh_rpc_call_reply(call, &r.base);
}

static void base_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	(void)cancelled;
	(void)ud;
	free(osh_rpc_call_data(call));
	osh_rpc_call_set_data(call, NULL);
}

/* --------------------------------------------------------------- unary -- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* calls/s of `method`; p50/p99 latency in µs. -1 on failure. */
static double unary_run(struct osh_rpc_client *c, const char *method, const ProtobufCMessage *req,
			int calls, double *p50, double *p99)
{
	double *lat = calloc((size_t)calls, sizeof(*lat));
	double t0, res = -1;
	struct osh_rpc_status st;

	if (lat == NULL)
		return -1;
	t0 = now_s();
	for (int i = 0; i < calls; i++) {
		ProtobufCMessage *resp = NULL;
		double a = now_s();
		if (osh_rpc_client_unary(c, method, req,
					 strcmp(method, "GetSandboxPolicy") == 0 ? sandbox_opts()
										 : NULL,
					 &resp, &st) != OSH_OK) {
			fprintf(stderr, "osh-rpc-bench: %s failed: %s: %s\n", method,
				osh_rpc_status_name(st.code), st.message);
			goto out;
		}
		lat[i] = (now_s() - a) * 1e6;
		osh_rpc_msg_free(resp);
	}
	res = (double)calls / (now_s() - t0);
	qsort(lat, (size_t)calls, sizeof(*lat), cmp_d);
	*p50 = lat[calls / 2];
	*p99 = lat[(calls * 99) / 100];
out:
	free(lat);
	return res;
}

static int find_sandbox(struct osh_rpc_client *c, const char *name, char *id, size_t cap)
{
	Openshell__V1__ListSandboxesRequest req = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	int rc = osh_rpc_client_unary(c, "ListSandboxes", &req.base, NULL, &resp, &st);
	if (rc != OSH_OK) {
		fprintf(stderr, "osh-rpc-bench: ListSandboxes: %s: %s\n",
			osh_rpc_status_name(st.code), st.message);
		return rc;
	}
	rc = OSH_ENOTFOUND;
	{
		Openshell__V1__ListSandboxesResponse *l = (void *)resp;
		for (size_t i = 0; i < l->n_sandboxes; i++) {
			if (strcmp(l->sandboxes[i]->name, name) == 0) {
				snprintf(id, cap, "%s", l->sandboxes[i]->id);
				rc = OSH_OK;
			}
		}
	}
	osh_rpc_msg_free(resp);
	if (rc != OSH_OK)
		fprintf(stderr, "osh-rpc-bench: no sandbox named '%s'\n", name);
	return rc;
}

static int int_arg(const char *s, int *out)
{
	char *end = NULL;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v <= 0 || v > 100000000)
		return OSH_EINVAL;
	*out = (int)v;
	return OSH_OK;
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o =
	    (struct opts){.streams = 8, .lines = 20000, .batch = 50, .calls = 3000, .pace_ms = 100};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = OSH_OK;
		if (v == NULL)
			goto bad;
		if (strcmp(a, "--gateway") == 0)
			o->gateway = v;
		else if (strcmp(a, "--sandbox") == 0)
			o->sandbox = v;
		else if (strcmp(a, "--streams") == 0)
			rc = int_arg(v, &o->streams);
		else if (strcmp(a, "--lines") == 0)
			rc = int_arg(v, &o->lines);
		else if (strcmp(a, "--batch") == 0)
			rc = int_arg(v, &o->batch);
		else if (strcmp(a, "--calls") == 0)
			rc = int_arg(v, &o->calls);
		else if (strcmp(a, "--load") == 0)
			rc = int_arg(v, &o->load);
		else if (strcmp(a, "--pace-ms") == 0)
			rc = int_arg(v, &o->pace_ms);
		else if (strcmp(a, "--ocsf-json") == 0 && strcmp(v, "1") == 0)
			g_json = 1;
		else if (strcmp(a, "--tap-dir") == 0)
			o->tap_dir = v;
		else
			goto bad;
		if (rc != OSH_OK)
			goto bad;
		i++;
		continue;
	bad:
		fprintf(stderr, "osh-rpc-bench: bad argument '%s'\n", a);
		return OSH_EINVAL;
	}
	if (o->gateway == NULL || (o->sandbox == NULL && o->load == 0)) {
		fprintf(stderr,
			"usage: osh-rpc-bench --gateway HOST:PORT --sandbox NAME "
			"[--streams N] [--lines N] [--batch N] [--calls N] [--ocsf-json 1]\n"
			"       osh-rpc-bench --gateway ADDR --load N [--calls N] "
			"[--pace-ms MS] [--tap-dir DIR]\n");
		return OSH_EINVAL;
	}
	return OSH_OK;
}

/* ---------------------------------------------------------------- load -- */

#define LOAD_PER_CONN  25     /* followers per client connection (gateway cap: 32) */
#define LOAD_MAX_LINES 400000 /* per push stream: the loop is bounded */

/* A load sandbox: its id and the credential its supervisor got (read from
 * the tap file tools/sandbox-tap.sh keeps; "" when no tap dir is given). */
struct load_sb {
	char id[64];
	char cred[256];
	struct osh_rpc_md md[1];
	struct osh_rpc_call_opts opts;
};

/* Waits (up to 20 s) for <tap_dir>/boot.<id> and takes its credential=
 * line. */
static int load_cred(const char *tap_dir, struct load_sb *sb)
{
	char path[512], line[256];
	double end = now_s() + 20;
	int rc = OSH_ENOTFOUND;

	sb->md[0].key = OSH_RPC_MD_SANDBOX_CREDENTIAL;
	sb->md[0].value = sb->cred;
	sb->opts.md = sb->md;
	sb->opts.n_md = 1;
	sb->opts.timeout_ms = 10000;
	if (tap_dir == NULL)
		return OSH_OK;
	snprintf(path, sizeof(path), "%s/boot.%s", tap_dir, sb->id);
	while (rc != OSH_OK && now_s() < end) {
		FILE *f = fopen(path, "r");

		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "credential=", 11) == 0) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(sb->cred, sizeof(sb->cred), "%s", line + 11);
				rc = OSH_OK;
			}
		}
		if (f != NULL)
			fclose(f);
		if (rc != OSH_OK) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (rc != OSH_OK)
		fprintf(stderr, "osh-rpc-bench: no credential in %s\n", path);
	return rc;
}

struct load_push {
	struct osh_rpc_client *c;
	const struct osh_rpc_call_opts *opts;
	char id[64];
	atomic_bool *stop;
	int pace_ms;
	uint64_t sent, accepted;
	int rc;
};

static void *load_push_main(void *arg)
{
	struct load_push *j = arg;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine lines[50];
	Openshell__V1__SandboxLogLine *lp[50];
	char msgs[50][96];
	static _Thread_local char jsons[50][JSON_MAX];
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	j->rc = osh_rpc_cstream_open(j->c, "PushSandboxLogs", j->opts, &cs);
	if (j->rc != OSH_OK)
		return NULL;
	req.sandbox_id = j->id;
	req.logs = lp;
	req.n_logs = 50;
	while (!atomic_load(j->stop) && j->sent < LOAD_MAX_LINES) {
		for (int i = 0; i < 50; i++) {
			openshell__v1__sandbox_log_line__init(&lines[i]);
			snprintf(
			    msgs[i], sizeof(msgs[i]),
			    "NET:OPEN [INFO] ALLOWED python3(42) -> api.example.com:443 n%" PRIu64,
			    j->sent + (uint64_t)i);
			lines[i].timestamp_ms = osh_time_wall_ms();
			lines[i].level = OSH_RPC_STR("OCSF");
			lines[i].target = OSH_RPC_STR("ocsf");
			lines[i].message = msgs[i];
			if (g_json) {
				event_json(jsons[i], JSON_MAX, (int)(uintptr_t)j & 0x7fffffff,
					   j->sent + (uint64_t)i);
				lines[i].ocsf_json = jsons[i];
			}
			lp[i] = &lines[i];
		}
		j->rc = osh_rpc_cstream_send(cs, &req.base);
		if (j->rc != OSH_OK)
			break;
		j->sent += 50;
		if (j->pace_ms > 0) { /* a supervisor batches: one message per period */
			struct timespec ts = {.tv_sec = j->pace_ms / 1000,
					      .tv_nsec = (long)(j->pace_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	j->rc = osh_rpc_cstream_finish(cs, &resp, &st);
	if (j->rc == OSH_OK)
		j->accepted = ((Openshell__V1__PushSandboxLogsResponse *)(void *)resp)->accepted;
	osh_rpc_msg_free(resp);
	return NULL;
}

struct load_watch {
	struct osh_rpc_sstream *ss;
	atomic_ullong *lines;
	atomic_ullong *dropped;
};

static void *load_watch_main(void *arg)
{
	struct load_watch *w = arg;
	struct osh_rpc_status st;
	int rc;

	do {
		ProtobufCMessage *m = NULL;

		rc = osh_rpc_sstream_next(w->ss, 200, &m, &st);
		if (rc == OSH_OK) {
			atomic_fetch_add(
			    w->lines,
			    ((Openshell__V1__WatchSandboxLogsResponse *)(void *)m)->n_logs);
			atomic_fetch_add(
			    w->dropped,
			    ((Openshell__V1__WatchSandboxLogsResponse *)(void *)m)->dropped);
			osh_rpc_msg_free(m);
		}
	} while (rc == OSH_OK || rc == OSH_ETIMEDOUT);
	return NULL;
}

/* GetSandboxPolicy latencies over `calls` calls spread over the sandboxes,
 * one every gap_ms (0 = back to back): p50/p99/max in ms. */
static int poll_lat(struct osh_rpc_client *c, const struct load_sb *sbs, int n, int calls,
		    int gap_ms, double *p50, double *p99, double *max)
{
	double *lat = calloc((size_t)calls, sizeof(*lat));
	struct osh_rpc_call_opts co = {.timeout_ms = 10000};
	int rc = OSH_OK;

	if (!lat)
		return OSH_ENOMEM;
	for (int i = 0; i < calls && rc == OSH_OK; i++) {
		Openshell__V1__GetSandboxPolicyRequest req =
		    OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		struct osh_rpc_status st;
		double a = now_s();

		req.sandbox_id = OSH_RPC_STR(sbs[i % n].id);
		rc = osh_rpc_client_unary(c, "GetSandboxPolicy", &req.base,
					  sbs[i % n].cred[0] ? &sbs[i % n].opts : &co, &resp, &st);
		if (rc != OSH_OK)
			fprintf(stderr, "osh-rpc-bench: GetSandboxPolicy: %s: %s\n",
				osh_rpc_status_name(st.code), st.message);
		lat[i] = (now_s() - a) * 1e3;
		osh_rpc_msg_free(resp);
		if (gap_ms > 0) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)gap_ms * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	if (rc == OSH_OK) {
		qsort(lat, (size_t)calls, sizeof(*lat), cmp_d);
		*p50 = lat[calls / 2];
		*p99 = lat[(calls * 99) / 100];
		*max = lat[calls - 1];
	}
	free(lat);
	return rc;
}

static int load_main(const struct opts *o)
{
	int n = o->load, n_conn = (o->load + LOAD_PER_CONN - 1) / LOAD_PER_CONN, rc = 1;
	struct osh_rpc_client *c = NULL;
	void **wc = calloc((size_t)n_conn, sizeof(void *)); /* struct osh_rpc_client * each */
	struct load_sb *ids = calloc((size_t)n, sizeof(*ids));
	struct load_push *pj = calloc((size_t)n, sizeof(*pj));
	struct load_watch *wj = calloc((size_t)n, sizeof(*wj));
	pthread_t *pt = calloc((size_t)n, sizeof(*pt)), *wt = calloc((size_t)n, sizeof(*wt));
	atomic_bool stop = false;
	atomic_ullong wlines = 0, wdropped = 0;
	double i50 = 0, i99 = 0, imax = 0, l50 = 0, l99 = 0, lmax = 0, t0 = now_s(), dt = 0;
	uint64_t pushed = 0;
	int started_p = 0, started_w = 0;

	if (!wc || !ids || !pj || !wj || !pt || !wt ||
	    osh_rpc_client_create(o->gateway, SVC, NULL, &c) != OSH_OK)
		goto out;
	for (int i = 0; i < n; i++) {
		Openshell__V1__CreateSandboxRequest req =
		    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		struct osh_rpc_status st;
		char name[32];

		snprintf(name, sizeof(name), "load-%d", i);
		req.name = name;
		if (osh_rpc_client_unary(c, "CreateSandbox", &req.base, NULL, &resp, &st) !=
		    OSH_OK) {
			fprintf(stderr, "osh-rpc-bench: CreateSandbox %s: %s: %s\n", name,
				osh_rpc_status_name(st.code), st.message);
			goto out;
		}
		snprintf(ids[i].id, sizeof(ids[i].id), "%s",
			 ((Openshell__V1__CreateSandboxResponse *)(void *)resp)->sandbox->id);
		osh_rpc_msg_free(resp);
		if (load_cred(o->tap_dir, &ids[i]) != OSH_OK)
			goto out;
	}
	if (poll_lat(c, ids, n, o->calls, 2, &i50, &i99, &imax) != OSH_OK)
		goto out;
	/* followers first, each connection its own (distinct channel arguments:
	 * gRPC would otherwise share one connection between channels) */
	for (int k = 0; k < n_conn; k++) {
		struct osh_rpc_client_opts co = {.keepalive_ms = 600000u + 1000u * (unsigned)k};

		struct osh_rpc_client *cc = NULL;

		if (osh_rpc_client_create(o->gateway, SVC, &co, &cc) != OSH_OK)
			goto out;
		wc[k] = cc;
	}
	for (int i = 0; i < n; i++) {
		Openshell__V1__WatchSandboxLogsRequest wq =
		    OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;

		wq.sandbox_id = ids[i].id;
		wj[i].lines = &wlines;
		wj[i].dropped = &wdropped;
		if (osh_rpc_sstream_open(wc[i / LOAD_PER_CONN], "WatchSandboxLogs", &wq.base, NULL,
					 &wj[i].ss) != OSH_OK)
			goto out;
		pthread_create(&wt[i], NULL, load_watch_main, &wj[i]);
		started_w++;
	}
	for (int i = 0; i < n; i++) {
		pj[i].c = wc[i / LOAD_PER_CONN];
		snprintf(pj[i].id, sizeof(pj[i].id), "%s", ids[i].id);
		pj[i].opts = ids[i].cred[0] ? &ids[i].opts : NULL;
		pj[i].stop = &stop;
		pj[i].pace_ms = o->pace_ms;
		pthread_create(&pt[i], NULL, load_push_main, &pj[i]);
		started_p++;
	}
	t0 = now_s();
	/* measure once every follower is served: the first batch of each push
	 * stream reached its follower */
	while (atomic_load(&wlines) < (unsigned long long)n * 50 && now_s() - t0 < 30) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 5000000L};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&wlines) < (unsigned long long)n * 50) {
		fprintf(stderr, "osh-rpc-bench: the followers got no lines in 30 s\n");
		goto out;
	}
	if (poll_lat(c, ids, n, o->calls, 2, &l50, &l99, &lmax) != OSH_OK)
		goto out;
	rc = 0;
out:
	atomic_store(&stop, true);
	for (int i = 0; i < started_p; i++) {
		pthread_join(pt[i], NULL);
		pushed += pj[i].accepted;
	}
	dt = now_s() - t0; /* until every push stream was answered */
	for (int i = 0; i < started_w; i++) {
		osh_rpc_sstream_cancel(wj[i].ss);
		pthread_join(wt[i], NULL);
	}
	for (int i = 0; i < n && wj; i++)
		osh_rpc_sstream_destroy(wj[i].ss);
	if (rc == 0) {
		printf("poll_load_sandboxes %d sandboxes\n", n);
		printf("poll_load_push_streams %d streams\n", started_p);
		printf("poll_load_followers %d streams\n", started_w);
		printf("poll_load_pace %d ms\n", o->pace_ms);
		printf("poll_load_stored %.0f lines/s\n", dt > 0 ? (double)pushed / dt : 0.0);
		printf("poll_load_stored_total %llu lines\n", (unsigned long long)pushed);
		printf("poll_load_followers_got %llu lines\n",
		       (unsigned long long)atomic_load(&wlines));
		printf("poll_load_followers_missed %llu lines\n",
		       (unsigned long long)atomic_load(&wdropped));
		printf("poll_p50_idle_ms %.2f ms\n", i50);
		printf("poll_p99_idle_ms %.2f ms\n", i99);
		printf("poll_max_idle_ms %.2f ms\n", imax);
		printf("poll_p50_under_load_ms %.2f ms\n", l50);
		printf("poll_p99_under_load_ms %.2f ms\n", l99);
		printf("poll_max_under_load_ms %.2f ms\n", lmax);
		printf("poll_p99_under_load_vs_idle %.2f ratio\n", i99 > 0 ? l99 / i99 : 0.0);
	}
	for (int k = 0; wc && k < n_conn; k++)
		osh_rpc_client_destroy(wc[k]);
	osh_rpc_client_destroy(c);
	free(wc);
	free(ids);
	free(pj);
	free(wj);
	free(pt);
	free(wt);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct osh_rpc_client *c = NULL;
	struct osh_rpc_server *srv = NULL;
	char sid[128], base_target[64];
	double gw_push, base_push, pol, cfg, p50, p99, c50, c99;
	uint64_t acc = 0, base_acc = 0, want;
	int rc = 1;
	Openshell__V1__GetSandboxPolicyRequest preq =
	    OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	Openshell__V1__GetConfigRequest creq = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	struct osh_rpc_server_opts so = {.service = SVC, .listen = "127.0.0.1:0"};
	struct osh_rpc_method bm = {.name = "PushSandboxLogs",
				    .kind = OSH_RPC_CLIENT_STREAM,
				    .on_message = base_msg,
				    .on_end = base_end,
				    .on_done = base_done};

	if (parse(argc, argv, &o) != OSH_OK)
		return 64;
	if (o.load > 0)
		return load_main(&o);
	if (osh_rpc_client_create(o.gateway, SVC, NULL, &c) != OSH_OK ||
	    find_sandbox(c, o.sandbox, sid, sizeof(sid)) != OSH_OK)
		goto out;

	/* baseline: the same push load into a counting in-process server */
	if (osh_rpc_server_create(&so, &srv) != OSH_OK || osh_rpc_server_add_method(srv, &bm) ||
	    osh_rpc_server_start(srv) != OSH_OK || osh_rpc_server_spawn(srv) != OSH_OK) {
		fprintf(stderr, "osh-rpc-bench: baseline server failed\n");
		goto out;
	}
	snprintf(base_target, sizeof(base_target), "127.0.0.1:%d", osh_rpc_server_port(srv));

	/* The machine may be shared: interleave baseline and subject in ROUNDS
	 * rounds so a burst of outside load hits both, and sum the times. */
	{
		struct opts ro = o;
		double tb = 0, tg = 0, tc = 0, tp = 0;
		double lp50[ROUNDS], lp99[ROUNDS], lc50[ROUNDS], lc99[ROUNDS];
		ro.lines = o.lines / ROUNDS > 0 ? o.lines / ROUNDS : 1;
		ro.calls = o.calls / ROUNDS > 0 ? o.calls / ROUNDS : 1;
		want = (uint64_t)ro.streams * (uint64_t)ro.lines * ROUNDS;
		preq.sandbox_id = sid;
		creq.key = OSH_RPC_STR("");
		for (int r = 0; r < ROUNDS; r++) {
			uint64_t a = 0, b = 0;
			double x;
			x = push_run(base_target, "baseline", &ro, &b);
			if (x <= 0)
				goto out;
			tb += (double)b / x;
			base_acc += b;
			x = push_run(o.gateway, sid, &ro, &a);
			if (x <= 0)
				goto out;
			tg += (double)a / x;
			acc += a;
			x = unary_run(c, "GetConfig", &creq.base, ro.calls, &lc50[r], &lc99[r]);
			if (x <= 0)
				goto out;
			tc += ro.calls / x;
			x = unary_run(c, "GetSandboxPolicy", &preq.base, ro.calls, &lp50[r],
				      &lp99[r]);
			if (x <= 0)
				goto out;
			tp += ro.calls / x;
		}
		base_push = (double)base_acc / tb;
		gw_push = (double)acc / tg;
		cfg = (double)ro.calls * ROUNDS / tc;
		pol = (double)ro.calls * ROUNDS / tp;
		qsort(lp50, ROUNDS, sizeof(double), cmp_d);
		qsort(lp99, ROUNDS, sizeof(double), cmp_d);
		qsort(lc50, ROUNDS, sizeof(double), cmp_d);
		qsort(lc99, ROUNDS, sizeof(double), cmp_d);
		p50 = lp50[ROUNDS / 2];
		p99 = lp99[ROUNDS / 2];
		c50 = lc50[ROUNDS / 2];
		c99 = lc99[ROUNDS / 2];
	}
	osh_rpc_server_destroy(srv);
	srv = NULL;

	printf("rpc_push_streams %d streams\n", o.streams);
	printf("rpc_push_batch %d lines\n", o.batch);
	printf("rpc_push_gateway %.0f lines/s\n", gw_push);
	printf("rpc_push_gateway_accepted %llu lines\n", (unsigned long long)acc);
	printf("rpc_push_gateway_sent %llu lines\n", (unsigned long long)want);
	printf("rpc_push_baseline %.0f lines/s\n", base_push);
	printf("rpc_push_gateway_vs_baseline %.3f ratio\n", gw_push / base_push);
	printf("rpc_policy_gateway %.0f calls/s\n", pol);
	printf("rpc_policy_p50 %.0f us\n", p50);
	printf("rpc_policy_p99 %.0f us\n", p99);
	printf("rpc_getconfig_baseline %.0f calls/s\n", cfg);
	printf("rpc_getconfig_p50 %.0f us\n", c50);
	printf("rpc_getconfig_p99 %.0f us\n", c99);
	printf("rpc_policy_vs_getconfig %.3f ratio\n", pol / cfg);
	rc = base_acc == want ? 0 : 1;
	if (base_acc != want)
		fprintf(stderr, "osh-rpc-bench: baseline accepted %llu of %llu lines\n",
			(unsigned long long)base_acc, (unsigned long long)want);
out:
	osh_rpc_server_destroy(srv);
	osh_rpc_client_destroy(c);
	return rc;
}
