/* test_confine_run.c - the whole supervisor with confinement against a
 * scripted gateway: unsafe policy at load and at reload, a reload that
 * changes the filesystem section, and the events of what the command got.
 *
 * DESIGN: the same pattern as tests/unit/supervisor/test_sup_run.c: a real
 * gRPC server answers GetSandboxPolicy from a script (a safe policy, then an
 * unsafe one), the real supervisor polls it every 30 ms and runs a real,
 * confined child; the last step sends SIGTERM to this process. The JSONL
 * export is on from the first answer, so every event is checked in JSON
 * (codes, unmapped fields, the enforced list) and the directory ends with
 * osh_testdir_finish (ocsf-validate, logs kept for the site census). The real gateway has no
 * policy-update RPC yet, so a reload can only be scripted here. Needs root (CI runs as root). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_policy.h"
#include "osh_rpc.h"
#include "osh_sup.h"
#include "osh_testdir.h"
#include "sandbox.pb-c.h"
#include "sup_proc.h"

#define A(s) ((char[]){s})

static char h1[] = "1111111111111111111111111111111111111111111111111111111111111111",
	    h2[] = "2222222222222222222222222222222222222222222222222222222222222222";
static _Atomic int calls;
static osh_policy_pb *pol_safe, *pol_unsafe;

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
	int k = atomic_fetch_add(&calls, 1) + 1;

	(void)m;
	(void)ud;
	sc.logging = &lc;
	sc.config_revision = 1;
	lc.ocsf_enabled = true;
	resp.sandbox_config = &sc;
	resp.policy = k <= 2 ? pol_safe : pol_unsafe;
	resp.version = k <= 2 ? 1 : 2;
	resp.policy_hash = k <= 2 ? h1 : h2;
	if (k == 6)
		kill(getpid(), SIGTERM);
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

/* The JSONL line carrying event code `code` (NULL when absent). */
static char *line_of(const char *json, const char *code, int nth)
{
	char key[96];
	const char *p = json;

	snprintf(key, sizeof(key), "\"event_code\":\"%s\"", code);
	for (int i = 0; i <= nth; i++) {
		p = strstr(p, key);
		if (!p)
			return NULL;
		if (i < nth)
			p += strlen(key);
	}
	{
		const char *s = p, *e = strchr(p, '\n');

		while (s > json && s[-1] != '\n')
			s--;
		return strndup(s, e ? (size_t)(e - s) : strlen(s));
	}
}

Test(confine_run, unsafe_at_load_and_reload_and_what_the_command_got, .timeout = 60)
{
	struct osh_rpc_server_opts so = {.service = &openshell__v1__open_shell__descriptor,
					 .listen = "127.0.0.1:0"};
	struct osh_rpc_method gm = {
	    .name = "GetSandboxPolicy", .kind = OSH_RPC_UNARY, .handler = get_policy};
	struct osh_rpc_server *srv = NULL;
	char *dir = NULL;
	char gw[64], path[160];
	char *envp[] = {A("PATH=/usr/bin:/bin"), NULL};
	char *argv[] = {A("openshell-sandbox"),
			A("--gateway"),
			gw,
			A("--sandbox-id"),
			A("sb-confine"),
			A("--log-dir"),
			NULL, /* dir, below */
			A("--poll-interval"),
			A("30ms"),
			A("--"),
			A("sleep"),
			A("60"),
			NULL};
	char *log, *json, *l;
	int code;

	if (geteuid() != 0)
		cr_skip_test("the supervisor switches users: run as root (CI does)");
	cr_assert_eq(osh_sup_signals_block(), 0);
	/* Safe at start-up (one read-write path listed); the reload grants
	 * writes to /etc: unsafe, and a filesystem change the running command
	 * cannot take. */
	pol_safe = yaml("version: 1\nfilesystem_policy: {read_write: [/tmp], read_only: [/usr]}\n"
			"process: {run_as_user: nobody}\n");
	pol_unsafe = yaml("version: 2\nfilesystem_policy: {read_write: [/tmp, /etc]}\n"
			  "process: {run_as_user: nobody}\n");
	dir = osh_testdir_new("confine-run");
	cr_assert_eq(osh_rpc_server_create(&so, &srv), 0);
	cr_assert_eq(osh_rpc_server_add_method(srv, &gm), 0);
	cr_assert_eq(osh_rpc_server_start(srv), 0);
	cr_assert_eq(osh_rpc_server_spawn(srv), 0);
	snprintf(gw, sizeof(gw), "127.0.0.1:%d", osh_rpc_server_port(srv));
	argv[6] = dir;

	code = osh_sup_main((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, envp);
	cr_assert_eq(code, 128 + SIGTERM, "exit %d", code);

	snprintf(path, sizeof(path), "%s/openshell.log", dir);
	log = slurp(path);
	cr_assert_eq(count(log, "\"Unsafe Policy Content\""), 1, "only the reload is unsafe:\n%s",
		     log);
	cr_assert(strstr(log, "PROC:SET_USER_ID [INFO] ALLOWED sleep("), "%s", log);
	cr_assert(strstr(log, "CONFIG:DEFERRED [LOW] new policy changes filesystem:"), "%s", log);
	free(log);

	snprintf(path, sizeof(path), "%s/openshell-ocsf.log", dir);
	json = slurp(path);
	l = line_of(json, "CONFINE_UNSAFE_POLICY", 0);
	cr_assert_not_null(l, "%s", json);
	cr_assert(strstr(l, "\"reload\":true"), "%s", l);
	cr_assert(strstr(l, "\"first_field\":\"filesystem.read_write[1]\""), "%s", l);
	cr_assert(strstr(l, "\"class_uid\":2004"), "%s", l);
	free(l);
	l = line_of(json, "CONFINE_USER", 0);
	cr_assert_not_null(l);
	cr_assert(strstr(l, "\"name\":\"nobody\""), "%s", l);
	free(l);
	cr_assert_not_null((l = line_of(json, "CONFINE_LANDLOCK", 0)));
	free(l);
	cr_assert_not_null((l = line_of(json, "CONFINE_SECCOMP", 0)));
	cr_assert(strstr(l, "\"ptrace\""), "%s", l);
	free(l);
	/* The start-up policy event lists what is really enforced. */
	l = line_of(json, "POLICY_LOAD_GATEWAY", 0);
	cr_assert_not_null(l);
	{
		const char *ne = strstr(l, "not enforced: ");
		const char *end = ne ? strchr(ne, '"') : NULL;
		char list[128] = "";

		if (ne && end)
			snprintf(list, sizeof(list), "%.*s", (int)(end - ne), ne);
		cr_assert(!strstr(list, "filesystem") && !strstr(list, "process") &&
			      !strstr(list, "seccomp"),
			  "confinement claimed not enforced: %s", l);
	}
	{
		const char *en = strstr(l, "\"enforced\":[");
		const char *end = en ? strchr(en, ']') : NULL;
		char arr[160] = "";

		cr_assert_not_null(end, "unmapped.enforced is an array: %s", l);
		snprintf(arr, sizeof(arr), "%.*s", (int)(end - en), en);
		cr_assert(strstr(arr, "\"filesystem\"") && strstr(arr, "\"process\"") &&
			      strstr(arr, "\"seccomp\""),
			  "%s", arr);
	}
	free(l);
	free(json);
	osh_rpc_server_destroy(srv);
	osh_policy_free(pol_safe);
	osh_policy_free(pol_unsafe);
	/* Validates the JSONL (ocsf-validate), keeps the logs for the site
	 * census, removes the directory. */
	osh_testdir_finish(dir);
}
