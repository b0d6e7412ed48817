/* test_sup_run.c - the whole supervisor (osh_sup_main) against a scripted gateway.
 *
 * DESIGN: a real gRPC server plays a gateway whose GetSandboxPolicy answers
 * follow a script (config revisions up, an invalid policy, an outage, a
 * policy swap, an older gateway, a stale revision); the real supervisor polls
 * it every 30 ms while running a real child. The last script step sends
 * SIGTERM to this process; the supervisor forwards it to the child and
 * returns 143. The event sequence in openshell.log / openshell-ocsf.log is
 * then checked. Paths the real gateway cannot produce (it refuses invalid
 * policies) are covered here. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_rpc.h"
#include "osh_sup.h"
#include "osh_testdir.h"
#include "sandbox.pb-c.h"
#include "osh_policy.h"
#include "sup_proc.h"

#define A(s) ((char[]){s})

/* Hex SHA-256 shaped, as the gateway sends them (other shapes are refused). */
static char h1[] = "1111111111111111111111111111111111111111111111111111111111111111",
	    h2[] = "2222222222222222222222222222222222222222222222222222222222222222",
	    h3[] = "3333333333333333333333333333333333333333333333333333333333333333";
static _Atomic int calls;
static _Atomic int pushed;
static osh_policy_pb *pol_a, *pol_bad, *pol_c;

static osh_policy_pb *yaml(const char *t)
{
	osh_policy_pb *p = NULL;
	char err[256];

	cr_assert_eq(osh_policy_parse_yaml(t, strlen(t), "t", &p, err, sizeof(err)), 0, "%s", err);
	return p;
}

static void get_policy(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	Openshell__V1__GetSandboxPolicyResponse resp =
	    OPENSHELL__V1__GET_SANDBOX_POLICY_RESPONSE__INIT;
	Openshell__V1__SandboxConfig sc = OPENSHELL__V1__SANDBOX_CONFIG__INIT;
	Openshell__V1__LoggingConfig lc = OPENSHELL__V1__LOGGING_CONFIG__INIT;
	const Openshell__V1__GetSandboxPolicyRequest *req = (const void *)m;
	int k = atomic_fetch_add(&calls, 1) + 1;

	(void)ud;
	cr_assert_str_eq(req->sandbox_id, "sb-run");
	sc.logging = &lc;
	switch (k) {
	case 1: /* start-up: revision 1, export on, valid policy A */
	case 2:
		sc.config_revision = 1;
		lc.ocsf_enabled = true;
		resp.sandbox_config = &sc;
		resp.policy = pol_a;
		resp.version = 1;
		resp.policy_hash = h1;
		break;
	case 3: /* revision 2 off + an invalid policy: rejected, A kept */
		sc.config_revision = 2;
		resp.sandbox_config = &sc;
		resp.policy = pol_bad;
		resp.version = 2;
		resp.policy_hash = h2;
		break;
	case 4: /* outage */
	case 5:
	case 6:
		osh_rpc_call_fail(call, OSH_RPC_UNAVAILABLE, "scripted outage");
		return;
	case 7: /* back: revision 3 on, policy C */
		sc.config_revision = 3;
		lc.ocsf_enabled = true;
		resp.sandbox_config = &sc;
		resp.policy = pol_c;
		resp.version = 3;
		resp.policy_hash = h3;
		break;
	case 8: /* an older gateway: no sandbox_config, no policy */
		break;
	default: /* a stale revision, then stop */
		sc.config_revision = 2;
		resp.sandbox_config = &sc;
		if (k == 9)
			kill(getpid(), SIGTERM);
		break;
	}
	osh_rpc_call_reply(call, &resp.base);
}

static void push_msg(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__PushSandboxLogsRequest *r = (const void *)m;

	(void)call;
	(void)ud;
	atomic_fetch_add(&pushed, (int)r->n_logs);
}

static void push_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse resp =
	    OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;

	(void)ud;
	osh_rpc_call_reply(call, &resp.base);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int c = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		c++;
	return c;
}

Test(run, poll_loop_follows_the_gateway_script, .timeout = 60)
{
	struct osh_rpc_server_opts so = {.service = &openshell__v1__open_shell__descriptor,
					 .listen = "127.0.0.1:0"};
	struct osh_rpc_method gm = {
	    .name = "GetSandboxPolicy", .kind = OSH_RPC_UNARY, .handler = get_policy};
	struct osh_rpc_method pm = {.name = "PushSandboxLogs",
				    .kind = OSH_RPC_CLIENT_STREAM,
				    .on_message = push_msg,
				    .on_end = push_end};
	struct osh_rpc_server *srv = NULL;
	char *dir = osh_testdir_new("run"); /* validated, archived, removed at the end */
	char gw[64], path[4096];
	char *envp[] = {A("PATH=/usr/bin:/bin"), A("OPENSHELL_SANDBOX_NAME=runner"), NULL};
	char *argv[] = {A("openshell-sandbox"),
			A("--gateway"),
			gw,
			A("--sandbox-id"),
			A("sb-run"),
			A("--log-dir"),
			dir,
			A("--poll-interval"),
			A("30ms"),
			A("--"),
			A("sleep"),
			A("60"),
			NULL};
	char *log, *json;
	int code;

	/* Before any thread: the gRPC server's threads must not take SIGTERM. */
	cr_assert_eq(osh_sup_signals_block(), 0);
	pol_a = yaml(
	    "version: 1\nnetwork_policies: {a: {endpoints: [{host: a.example, port: 443}]}}\n");
	pol_bad = yaml("version: 2\nfilesystem_policy: {read_only: [relative/path]}\n");
	pol_c = yaml("version: 3\nfilesystem_policy: {read_write: [/sandbox]}\n");
	cr_assert_eq(osh_rpc_server_create(&so, &srv), 0);
	cr_assert_eq(osh_rpc_server_add_method(srv, &gm), 0);
	cr_assert_eq(osh_rpc_server_add_method(srv, &pm), 0);
	cr_assert_eq(osh_rpc_server_start(srv), 0);
	cr_assert_eq(osh_rpc_server_spawn(srv), 0);
	snprintf(gw, sizeof(gw), "127.0.0.1:%d", osh_rpc_server_port(srv));

	code = osh_sup_main((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, envp);
	cr_assert_eq(code, 128 + SIGTERM, "exit %d", code);
	cr_assert_geq(atomic_load(&calls), 9);
	cr_assert_gt(atomic_load(&pushed), 0, "log lines were pushed");

	snprintf(path, sizeof(path), "%s/openshell.log", dir);
	log = slurp(path);
	/* start-up: JSONL on before the first event */
	cr_assert(strstr(log, "CONFIG:UPDATED [INFO] sandbox config revision 1 applied: OCSF JSONL "
			      "export enabled"),
		  "%s", log);
	cr_assert(strstr(log, "CONFIG:LOADED [INFO] policy loaded from gateway (version 1, 1 "
			      "network policies)"),
		  "%s", log);
	cr_assert(strstr(log, "CONFIG:UPDATED [INFO] sandbox config revision 2 applied: OCSF JSONL "
			      "export disabled"),
		  "%s", log);
	cr_assert(strstr(log, "CONFIG:FAILED [MED] new policy from gateway rejected, keeping the "
			      "current one: filesystem.read_only[0]"),
		  "%s", log);
	cr_assert_eq(count(log, "CONFIG:DEGRADED"), 1, "one lost event for three failures:\n%s",
		     log);
	cr_assert(strstr(log, "reachable again after 3 failed polls"), "%s", log);
	cr_assert(strstr(log, "CONFIG:LOADED [INFO] policy reloaded from gateway (version 3"), "%s",
		  log);
	cr_assert(strstr(log, "CONFIG:KEPT [LOW] gateway no longer sends a policy"), "%s", log);
	cr_assert(strstr(log, "CONFIG:STALE [LOW] gateway sent config revision 2, older than the "
			      "applied 3"),
		  "%s", log);
	cr_assert_eq(count(log, "CONFIG:UPDATED"), 3, "revisions 1, 2, 3 once each:\n%s", log);
	cr_assert_eq(count(log, "CONFIG:STALE"), 1, "stale reported once per response:\n%s", log);
	cr_assert(strstr(log, "PROC:TERMINATE [INFO] sleep("), "%s", log);
	cr_assert(strstr(log, "LIFECYCLE:STOP [INFO] openshell-sandbox"), "%s", log);
	free(log);

	/* JSONL: on for revision 1 (start-up events), off for 2, on again for 3. */
	snprintf(path, sizeof(path), "%s/openshell-ocsf.log", dir);
	json = slurp(path);
	cr_assert(strstr(json, "\"event_code\":\"SUP_START\""), "start-up events in JSONL");
	cr_assert(strstr(json, "\"event_code\":\"POLICY_LOAD_GATEWAY\""));
	cr_assert_null(strstr(json, "\"event_code\":\"POLICY_REJECTED\""),
		       "the rejection happened while the export was off");
	cr_assert(strstr(json, "\"new_config_revision\":3"), "revision 3 turned it on again");
	cr_assert(strstr(json, "\"reload\":true"), "the reload after it is in JSONL");
	cr_assert(strstr(json, "\"event_code\":\"SUP_STOP\""));
	free(json);

	osh_rpc_server_destroy(srv);
	osh_policy_free(pol_a);
	osh_policy_free(pol_bad);
	osh_policy_free(pol_c);
	osh_testdir_finish(dir); /* every JSONL line schema-valid */
}
