/* test_gw_service.c - the gateway's gRPC services, in-process on port 0, driven by
 * the real osh_rpc client: config get/set, sandbox create/list/delete with a real
 * child process, policy + SandboxConfig, log push (no impersonation), queries,
 * watch with replay and follow, restart adoption, readiness file, and the
 * openshell-gateway binary's flags, signals and exit codes.
 *
 * DESIGN: the supervisor binary is replaced by a small shell script (--sandbox-bin)
 * so these tests do not depend on openshell-sandbox; it records its argv, and
 * either sleeps (dies on SIGTERM) or ignores SIGTERM (to exercise SIGKILL). Every
 * wait polls a condition with a deadline. */
#include <criterion/criterion.h>
#include <openssl/sha.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway.h"
#include "gw_test_util.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "sandboxes.h"
#include "store.h"

#define SVC (&openshell__v1__open_shell__descriptor)

struct grig {
	char *dir;
	char *bin;
	struct osh_gw *gw;
	struct osh_rpc_client *c;
};

/* What the stand-ins do with the bootstrap fd (3): keep it in
 * boot.<sandbox-id> next to the script, as a real supervisor would keep the
 * credential, so the tests can act as that sandbox's supervisor. */
#define BOOT_SAVE                                                                                  \
	"sid = sys.argv[sys.argv.index('--sandbox-id') + 1]\n"                                     \
	"data = os.read(3, 4096) if '--bootstrap-fd' in sys.argv else b''\n"                       \
	"open('%s/boot.%s' % (d, sid), 'wb').write(data)\n"

/* Stand-ins for openshell-sandbox. Python, not sh: a shell loop's `sleep`
 * children would be orphaned when the shell is killed. The interpreter keeps the
 * script's argv in /proc/<pid>/cmdline, which restart adoption relies on. */
static const char fake_sleep[] = "#!/usr/bin/python3\n"
				 "import os, sys, time\n"
				 "d = os.path.dirname(sys.argv[0])\n" BOOT_SAVE
				 "with open('%s/args.%d' % (d, os.getpid()), 'w') as f:\n"
				 "    f.write(''.join(a + '\\n' for a in sys.argv[1:]))\n"
				 "time.sleep(1000)\n";

static const char fake_stubborn[] = "#!/usr/bin/python3\n"
				    "import os, signal, sys, time\n"
				    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
				    "d = os.path.dirname(sys.argv[0])\n" BOOT_SAVE
				    "with open('%s/args.%d' % (d, os.getpid()), 'w') as f:\n"
				    "    f.write(''.join(a + '\\n' for a in sys.argv[1:]))\n"
				    "time.sleep(1000)\n";

static void write_fake(struct grig *r, const char *script)
{
	r->bin = gwt_path(r->dir, "fake-sandbox");
	cr_assert_eq(gwt_write(r->bin, script), 0);
	cr_assert_eq(chmod(r->bin, 0755), 0);
}

static void gw_up(struct grig *r, const char *extra_flag)
{
	struct osh_gw_opts o;
	char *argv[8];
	int argc = 0;
	char err[512] = "";

	osh_gw_opts_init(&o);
	argv[argc++] = (char *)(uintptr_t) "gw";
	if (extra_flag)
		argv[argc++] = (char *)(uintptr_t)extra_flag;
	argv[argc] = NULL;
	cr_assert_eq(osh_gw_opts_parse(&o, argc, argv, err, sizeof(err)), 0, "%s", err);
	o.data_dir = r->dir;
	o.sandbox_bin = r->bin;
	o.stop_grace_ms = 300;
	cr_assert_eq(osh_gw_create(&r->gw, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(osh_gw_spawn(r->gw), 0);
	cr_assert_eq(osh_rpc_client_create(osh_gw_addr(r->gw), SVC, NULL, &r->c), 0);
}

static void gw_down(struct grig *r)
{
	osh_rpc_client_destroy(r->c);
	r->c = NULL;
	osh_gw_destroy(r->gw);
	r->gw = NULL;
}

static void rig_up(struct grig *r, const char *script, const char *flag)
{
	memset(r, 0, sizeof(*r));
	unsetenv("OPENSHELL_OCSF_LOGGING");
	r->dir = gwt_tmpdir();
	cr_assert_not_null(r->dir);
	write_fake(r, script);
	gw_up(r, flag);
}

/* Deletes every sandbox so no stand-in supervisor outlives the test (every
 * page of the list: a test may create more than one page of sandboxes). */
static void delete_all(struct grig *r)
{
	struct osh_rpc_call_opts co = {.timeout_ms = 10000};
	struct osh_rpc_status st;

	for (int round = 0; round < 100; round++) {
		Openshell__V1__ListSandboxesRequest lq =
		    OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		Openshell__V1__ListSandboxesResponse *lr;
		size_t n;

		/* always the first page: what was deleted is gone from it */
		if (osh_rpc_client_unary(r->c, "ListSandboxes", &lq.base, &co, &resp, &st) != 0)
			return;
		lr = (void *)resp;
		n = lr->n_sandboxes;
		for (size_t i = 0; i < n; i++) {
			Openshell__V1__DeleteSandboxRequest dq =
			    OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
			ProtobufCMessage *dr = NULL;

			dq.sandbox_id = lr->sandboxes[i]->id;
			if (osh_rpc_client_unary(r->c, "DeleteSandbox", &dq.base, &co, &dr, &st) ==
			    0)
				osh_rpc_msg_free(dr);
		}
		osh_rpc_msg_free(resp);
		if (n == 0)
			return;
	}
}

static void rig_down(struct grig *r)
{
	delete_all(r);
	gw_down(r);
	free(r->bin);
	gwt_rmdir(r->dir);
}

/* The credential the gateway handed to sandbox `id`'s (stand-in)
 * supervisor, into buf; "" when there is none (yet). */
static void cred_of(struct grig *r, const char *id, char *buf, size_t cap)
{
	char name[80];
	char *path, *text;
	const char *c;

	buf[0] = '\0';
	snprintf(name, sizeof(name), "boot.%s", id);
	path = gwt_path(r->dir, name);
	text = gwt_read(path);
	c = text ? strstr(text, "credential=") : NULL;
	if (c)
		snprintf(buf, cap, "%.*s", (int)strcspn(c + 11, "\n"), c + 11);
	free(text);
	free(path);
}

/* cred_of, waiting (up to 10 s) for a real sandbox id's stand-in
 * supervisor to have saved its bootstrap. */
static void cred_wait(struct grig *r, const char *id, char *buf, size_t cap)
{
	long long end = gwt_now_ms() + 10000;

	cred_of(r, id, buf, cap);
	while (!buf[0] && strlen(id) == 36 && gwt_now_ms() < end) {
		gwt_nap();
		cred_of(r, id, buf, cap);
	}
}

/* A PushSandboxLogs stream opened as sandbox `id`'s supervisor. */
static int open_push(struct grig *r, const char *id, struct osh_rpc_cstream **cs)
{
	static char cred[80];
	static struct osh_rpc_md md[1] = {{OSH_RPC_MD_SANDBOX_CREDENTIAL, cred}};
	struct osh_rpc_call_opts co = {.md = md, .n_md = 1};

	cred_wait(r, id, cred, sizeof(cred));
	return osh_rpc_cstream_open(r->c, "PushSandboxLogs", &co, cs);
}

/* A unary call; the supervisor methods go with the sandbox's credential,
 * as openshell-sandbox sends them. */
static int call(struct grig *r, const char *method, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct osh_rpc_status *st)
{
	char cred[80] = "";
	struct osh_rpc_md md[1] = {{OSH_RPC_MD_SANDBOX_CREDENTIAL, cred}};
	struct osh_rpc_call_opts co = {.timeout_ms = 10000, .md = md};

	if (strcmp(method, "GetSandboxPolicy") == 0) {
		const Openshell__V1__GetSandboxPolicyRequest *pq = (const void *)req;

		cred_wait(r, pq->sandbox_id, cred, sizeof(cred));
		co.n_md = cred[0] ? 1 : 0;
	}
	return osh_rpc_client_unary(r->c, method, req, &co, resp, st);
}

static Openshell__V1__Sandbox *create(struct grig *r, const char *name, bool with_policy, int *code)
{
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	Openshell__V1__SandboxPolicy pol = OPENSHELL__V1__SANDBOX_POLICY__INIT;
	Openshell__V1__ProcessPolicy pp = OPENSHELL__V1__PROCESS_POLICY__INIT;
	Openshell__V1__CreateSandboxRequest__EnvEntry env =
	    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__ENV_ENTRY__INIT;
	Openshell__V1__CreateSandboxRequest__EnvEntry *envp[1] = {&env};
	char *cmd[] = {(char *)(uintptr_t) "sh", (char *)(uintptr_t) "-c",
		       (char *)(uintptr_t) "echo hi"};
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	Openshell__V1__Sandbox *sb = NULL;

	req.name = (char *)(uintptr_t)name;
	req.command = cmd;
	req.n_command = 3;
	env.key = (char *)(uintptr_t) "AGENT_MODE";
	env.value = (char *)(uintptr_t) "test";
	req.env = envp;
	req.n_env = 1;
	if (with_policy) {
		pol.version = 1;
		pp.run_as_user = (char *)(uintptr_t) "sandbox";
		pol.process = &pp;
		req.policy = &pol;
	}
	(void)call(r, "CreateSandbox", &req.base, &resp, &st);
	*code = st.code;
	if (resp) {
		Openshell__V1__CreateSandboxResponse *cr = (void *)resp;

		sb = cr->sandbox;
		cr->sandbox = NULL;
		osh_rpc_msg_free(resp);
	}
	return sb;
}

static bool pid_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno != ESRCH;
}

static Openshell__V1__ListSandboxesResponse *list(struct grig *r)
{
	Openshell__V1__ListSandboxesRequest req = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	cr_assert_eq(call(r, "ListSandboxes", &req.base, &resp, &st), 0, "%s", st.message);
	return (void *)resp;
}

/* ------------------------------------------------------------ config -- */

Test(gw_service, config_get_set_and_revision, .timeout = 120)
{
	struct grig r;
	Openshell__V1__GetConfigRequest g = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	Openshell__V1__SetConfigRequest s = OPENSHELL__V1__SET_CONFIG_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char *yaml_path, *text;

	rig_up(&r, fake_sleep, "--ocsf-logging=false");
	cr_assert_eq(call(&r, "GetConfig", &g.base, &resp, &st), 0, "%s", st.message);
	{
		Openshell__V1__GetConfigResponse *gr = (void *)resp;

		cr_assert_eq(gr->config_revision, 1);
		cr_assert_eq(gr->n_entries, 2);
		cr_assert_str_eq(gr->entries[0]->key, "ocsf_logging_enabled");
		cr_assert_str_eq(gr->entries[0]->value, "false");
		cr_assert_str_eq(gr->entries[0]->source, "flag");
		cr_assert_str_eq(gr->entries[0]->type, "bool");
		cr_assert_str_eq(gr->entries[1]->key, "ocsf_schema_version");
		cr_assert_str_eq(gr->entries[1]->value, "1.7.0");
		cr_assert_str_eq(gr->entries[1]->source, "default");
		cr_assert_str_eq(gr->entries[1]->type, "string");
	}
	osh_rpc_msg_free(resp);

	s.key = (char *)(uintptr_t) "ocsf_logging_enabled";
	s.value = (char *)(uintptr_t) "ON";
	cr_assert_eq(call(&r, "SetConfig", &s.base, &resp, &st), 0, "%s", st.message);
	{
		Openshell__V1__SetConfigResponse *sr = (void *)resp;

		cr_assert(sr->changed);
		cr_assert_eq(sr->config_revision, 2);
		cr_assert_str_eq(sr->entry->value, "true");
		cr_assert_str_eq(sr->entry->source, "rpc");
	}
	osh_rpc_msg_free(resp);
	/* the value lives in the store (shared by every gateway on it), not in
	 * this gateway's file */
	yaml_path = gwt_path(r.dir, "gateway.yaml");
	text = gwt_read(yaml_path);
	cr_assert_null(text, "SetConfig wrote gateway.yaml: %s", text ? text : "");

	s.value = (char *)(uintptr_t) "yes";
	cr_assert_eq(call(&r, "SetConfig", &s.base, &resp, &st), 0, "%s", st.message);
	cr_assert(!((Openshell__V1__SetConfigResponse *)(void *)resp)->changed);
	cr_assert_eq(((Openshell__V1__SetConfigResponse *)(void *)resp)->config_revision, 2);
	osh_rpc_msg_free(resp);

	s.value = (char *)(uintptr_t) "maybe";
	cr_assert_neq(call(&r, "SetConfig", &s.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "maybe") != NULL, "%s", st.message);
	s.key = (char *)(uintptr_t) "ocsf_schema_version";
	s.value = (char *)(uintptr_t) "1.2.0";
	cr_assert_neq(call(&r, "SetConfig", &s.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "invalid OCSF version '1.2.0' (accepted: 1.1.0, 1.3.0, 1.5.0, "
				     "1.7.0)") != NULL,
		  "%s", st.message);
	s.key = (char *)(uintptr_t) "bogus";
	cr_assert_neq(call(&r, "SetConfig", &s.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_NOT_FOUND);
	g.key = (char *)(uintptr_t) "bogus";
	cr_assert_neq(call(&r, "GetConfig", &g.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_NOT_FOUND);

	/* Removing the shared value (settings delete = SetConfig unset) brings
	 * the flag's false back. */
	g.key = NULL;
	s.key = (char *)(uintptr_t) "ocsf_logging_enabled";
	s.value = NULL;
	s.unset = true;
	cr_assert_eq(call(&r, "SetConfig", &s.base, &resp, &st), 0, "%s", st.message);
	{
		Openshell__V1__SetConfigResponse *sr = (void *)resp;

		cr_assert(sr->changed);
		cr_assert_eq(sr->config_revision, 3);
		cr_assert_str_eq(sr->entry->value, "false");
		cr_assert_str_eq(sr->entry->source, "flag");
	}
	osh_rpc_msg_free(resp);
	/* An operator edit of the file is picked up by the watch (no RPC). */
	cr_assert_eq(gwt_write_rename(yaml_path, "ocsf_logging_enabled: on\n"), 0);
	{
		long long end = gwt_now_ms() + 10000;
		uint64_t rev = 0;

		while (gwt_now_ms() < end && rev != 4) {
			cr_assert_eq(call(&r, "GetConfig", &g.base, &resp, &st), 0);
			rev = ((Openshell__V1__GetConfigResponse *)(void *)resp)->config_revision;
			osh_rpc_msg_free(resp);
			gwt_nap();
		}
		cr_assert_eq(rev, 4, "file edit not applied");
	}
	/* An invalid edit keeps revision and value. */
	cr_assert_eq(gwt_write_rename(yaml_path, "ocsf_logging_enabled: off\nnot_a_key: 1\n"), 0);
	{
		long long end = gwt_now_ms() + 300;

		while (gwt_now_ms() < end)
			gwt_nap(); /* give the watcher a chance to (wrongly) act */
	}
	cr_assert_eq(call(&r, "GetConfig", &g.base, &resp, &st), 0);
	cr_assert_eq(((Openshell__V1__GetConfigResponse *)(void *)resp)->config_revision, 4);
	osh_rpc_msg_free(resp);
	free(yaml_path);
	rig_down(&r);
}

/* ------------------------------------------------ sandboxes + policy -- */

static char *find_args_file(const char *dir)
{
	char cmd[512];
	FILE *p;
	char line[512] = "";

	snprintf(cmd, sizeof(cmd), "ls %s | grep '^args\\.' | head -n1", dir);
	p = popen(cmd, "r");
	if (!p)
		return NULL;
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	return line[0] ? gwt_path(dir, line) : NULL;
}

Test(gw_service, create_policy_list_delete, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *sb;
	Openshell__V1__GetSandboxPolicyRequest pq = OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	Openshell__V1__DeleteSandboxRequest dq = OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
	Openshell__V1__ListSandboxesResponse *lr;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char *args_file = NULL, *args = NULL, want[512];
	int code = -1;
	pid_t pid;

	rig_up(&r, fake_sleep, NULL);
	sb = create(&r, "demo", true, &code);
	cr_assert_eq(code, OSH_RPC_OK);
	cr_assert_not_null(sb);
	cr_assert_eq(sb->state, OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING);
	cr_assert_gt(sb->pid, 0);
	cr_assert_eq(strlen(sb->id), 36);
	cr_assert_eq(sb->policy_version, 1);
	cr_assert_eq(sb->n_command, 3);
	pid = sb->pid;

	/* the supervisor got the documented argv */
	{
		long long end = gwt_now_ms() + 10000;

		while (gwt_now_ms() < end && !(args_file = find_args_file(r.dir)))
			gwt_nap();
		cr_assert_not_null(args_file);
		while (gwt_now_ms() < end) {
			free(args);
			args = gwt_read(args_file);
			if (args && strstr(args, "echo hi\n"))
				break;
			gwt_nap();
		}
	}
	snprintf(want, sizeof(want),
		 "--bootstrap-fd\n3\n--sandbox-id\n%s\n--sandbox-name\ndemo\n--log-dir\n%s/"
		 "sandboxes/demo/logs\n"
		 "--env\nAGENT_MODE=test\n--\nsh\n-c\necho hi\n",
		 sb->id, r.dir);
	cr_assert_str_eq(args, want);
	free(args);
	free(args_file);

	/* duplicate name, bad name */
	cr_assert_null(create(&r, "demo", false, &code));
	cr_assert_eq(code, OSH_RPC_ALREADY_EXISTS);
	cr_assert_null(create(&r, "../evil", false, &code));
	cr_assert_eq(code, OSH_RPC_INVALID_ARGUMENT);

	/* policy + SandboxConfig */
	pq.sandbox_id = sb->id;
	cr_assert_eq(call(&r, "GetSandboxPolicy", &pq.base, &resp, &st), 0, "%s", st.message);
	{
		Openshell__V1__GetSandboxPolicyResponse *pr = (void *)resp;

		cr_assert_not_null(pr->policy);
		cr_assert_str_eq(pr->policy->process->run_as_user, "sandbox");
		cr_assert_eq(pr->version, 1);
		cr_assert_eq(strlen(pr->policy_hash), 64);
		cr_assert_not_null(pr->sandbox_config);
		cr_assert_eq(pr->sandbox_config->config_revision, 1);
		cr_assert_not_null(pr->sandbox_config->logging);
		cr_assert(!pr->sandbox_config->logging->ocsf_enabled);
		cr_assert_str_eq(pr->sandbox_config->logging->ocsf_schema_version, "1.7.0");
	}
	osh_rpc_msg_free(resp);
	/* an unknown sandbox has no credential: nobody can ask for its policy */
	pq.sandbox_id = (char *)(uintptr_t) "00000000-0000-4000-8000-00000000000";
	cr_assert_neq(call(&r, "GetSandboxPolicy", &pq.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_UNAUTHENTICATED, "%d %s", st.code, st.message);

	lr = list(&r);
	cr_assert_eq(lr->n_sandboxes, 1);
	cr_assert_str_eq(lr->sandboxes[0]->name, "demo");
	cr_assert_eq(lr->sandboxes[0]->pid, pid);
	osh_rpc_msg_free(&lr->base);

	/* delete: SIGTERM stops the supervisor, the record and the process are gone */
	dq.name = (char *)(uintptr_t) "demo";
	cr_assert_eq(call(&r, "DeleteSandbox", &dq.base, &resp, &st), 0, "%s", st.message);
	{
		Openshell__V1__DeleteSandboxResponse *dr = (void *)resp;

		cr_assert_str_eq(dr->sandbox->name, "demo");
		cr_assert_eq(dr->sandbox->state,
			     OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED);
		cr_assert_eq(dr->sandbox->opt_exit_code_case,
			     OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE);
		cr_assert_eq(dr->sandbox->exit_code, 128 + SIGTERM);
	}
	osh_rpc_msg_free(resp);
	cr_assert(!pid_alive(pid), "supervisor still there");
	lr = list(&r);
	cr_assert_eq(lr->n_sandboxes, 0);
	osh_rpc_msg_free(&lr->base);
	cr_assert_neq(call(&r, "DeleteSandbox", &dq.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_NOT_FOUND);
	/* the name is free again at once */
	{
		Openshell__V1__Sandbox *again = create(&r, "demo", false, &code);

		cr_assert_eq(code, OSH_RPC_OK);
		protobuf_c_message_free_unpacked(&again->base, NULL);
	}
	protobuf_c_message_free_unpacked(&sb->base, NULL);
	rig_down(&r);
}

Test(gw_service, delete_escalates_to_sigkill, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *sb;
	Openshell__V1__DeleteSandboxRequest dq = OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	int code;
	pid_t pid;
	long long t0;

	rig_up(&r, fake_stubborn, NULL);
	sb = create(&r, "stubborn", false, &code);
	cr_assert_eq(code, OSH_RPC_OK);
	pid = sb->pid;
	{
		/* let the script install its trap before the SIGTERM */
		long long end = gwt_now_ms() + 10000;
		char *f = NULL;

		while (gwt_now_ms() < end && !(f = find_args_file(r.dir)))
			gwt_nap();
		cr_assert_not_null(f);
		free(f);
	}
	t0 = gwt_now_ms();
	dq.sandbox_id = sb->id;
	cr_assert_eq(call(&r, "DeleteSandbox", &dq.base, &resp, &st), 0, "%s", st.message);
	cr_assert_geq(gwt_now_ms() - t0, 250, "SIGKILL came before the grace period");
	cr_assert_eq(((Openshell__V1__DeleteSandboxResponse *)(void *)resp)->sandbox->exit_code,
		     128 + SIGKILL);
	osh_rpc_msg_free(resp);
	cr_assert(!pid_alive(pid));
	protobuf_c_message_free_unpacked(&sb->base, NULL);
	rig_down(&r);
}

Test(gw_service, omit_sandbox_config_mode, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *sb;
	Openshell__V1__GetSandboxPolicyRequest pq = OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	int code;

	rig_up(&r, fake_sleep, "--omit-sandbox-config");
	sb = create(&r, "old", false, &code);
	cr_assert_eq(code, OSH_RPC_OK);
	pq.sandbox_id = sb->id;
	cr_assert_eq(call(&r, "GetSandboxPolicy", &pq.base, &resp, &st), 0, "%s", st.message);
	cr_assert_null(((Openshell__V1__GetSandboxPolicyResponse *)(void *)resp)->sandbox_config);
	cr_assert_null(((Openshell__V1__GetSandboxPolicyResponse *)(void *)resp)->policy);
	cr_assert_eq(((Openshell__V1__GetSandboxPolicyResponse *)(void *)resp)->version, 0);
	osh_rpc_msg_free(resp);
	protobuf_c_message_free_unpacked(&sb->base, NULL);
	rig_down(&r);
}

/* --------------------------------------------------------------- logs -- */

static int push(struct grig *r, const char *stream_id, const char *line_id, int from, int n,
		const char *level, const char *source, uint64_t *accepted,
		struct osh_rpc_status *st)
{
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine *lines = calloc((size_t)n, sizeof(*lines));
	Openshell__V1__SandboxLogLine **lp = calloc((size_t)n, sizeof(*lp));
	Openshell__V1__SandboxLogLine__FieldsEntry fe =
	    OPENSHELL__V1__SANDBOX_LOG_LINE__FIELDS_ENTRY__INIT;
	Openshell__V1__SandboxLogLine__FieldsEntry *fep[1] = {&fe};
	char(*msgs)[32] = calloc((size_t)n, sizeof(*msgs));
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	char cred[80] = "";
	struct osh_rpc_md md[1] = {{OSH_RPC_MD_SANDBOX_CREDENTIAL, cred}};
	struct osh_rpc_call_opts co = {.md = md};
	int rc;

	fe.key = (char *)(uintptr_t) "k";
	fe.value = (char *)(uintptr_t) "v";
	for (int i = 0; i < n; i++) {
		openshell__v1__sandbox_log_line__init(&lines[i]);
		snprintf(msgs[i], sizeof(msgs[i]), "msg %d", from + i);
		lines[i].sandbox_id = (char *)(uintptr_t)line_id;
		lines[i].timestamp_ms = 1000 + from + i;
		lines[i].level = (char *)(uintptr_t)level;
		lines[i].target = (char *)(uintptr_t) "test";
		lines[i].message = msgs[i];
		lines[i].source = (char *)(uintptr_t)source;
		lines[i].fields = fep;
		lines[i].n_fields = 1;
		lp[i] = &lines[i];
	}
	req.sandbox_id = (char *)(uintptr_t)stream_id;
	req.logs = lp;
	req.n_logs = (size_t)n;
	cred_wait(r, stream_id, cred, sizeof(cred));
	co.n_md = cred[0] ? 1 : 0;
	rc = osh_rpc_cstream_open(r->c, "PushSandboxLogs", &co, &cs);
	if (rc == 0) {
		int src = osh_rpc_cstream_send(cs, &req.base);

		rc = osh_rpc_cstream_finish(cs, &resp, st);
		if (rc == 0 && src != 0)
			rc = src;
	}
	if (resp && accepted)
		*accepted = ((Openshell__V1__PushSandboxLogsResponse *)(void *)resp)->accepted;
	osh_rpc_msg_free(resp);
	free(lines);
	free(lp);
	free(msgs);
	return rc;
}

static Openshell__V1__GetSandboxLogsResponse *get_logs(struct grig *r, const char *name,
						       unsigned lines, const char *min_level,
						       const char *source)
{
	Openshell__V1__GetSandboxLogsRequest q = OPENSHELL__V1__GET_SANDBOX_LOGS_REQUEST__INIT;
	char *srcs[1] = {(char *)(uintptr_t)source};
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	q.name = (char *)(uintptr_t)name;
	q.lines = lines;
	q.min_level = (char *)(uintptr_t)min_level;
	if (source) {
		q.sources = srcs;
		q.n_sources = 1;
	}
	cr_assert_eq(call(r, "GetSandboxLogs", &q.base, &resp, &st), 0, "%s", st.message);
	return (void *)resp;
}

Test(gw_service, push_forces_identity_and_queries_filter, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a, *b;
	Openshell__V1__GetSandboxLogsResponse *lr;
	struct osh_rpc_status st;
	uint64_t acc = 0;
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "a", false, &code);
	cr_assert_eq(code, 0);
	b = create(&r, "b", false, &code);
	cr_assert_eq(code, 0);

	/* lines claiming sandbox b and source gateway, pushed on a's stream */
	cr_assert_eq(push(&r, a->id, b->id, 0, 5, "INFO", "gateway", &acc, &st), 0, "%s",
		     st.message);
	cr_assert_eq(acc, 5);
	cr_assert_eq(push(&r, a->id, a->id, 5, 3, "ERROR", "sandbox", &acc, &st), 0);

	lr = get_logs(&r, "a", 0, NULL, "sandbox");
	cr_assert_eq(lr->n_logs, 8);
	cr_assert_eq(lr->total_matching, 8);
	for (size_t i = 0; i < lr->n_logs; i++) {
		cr_assert_str_eq(lr->logs[i]->sandbox_id, a->id);
		cr_assert_str_eq(lr->logs[i]->source, "sandbox");
	}
	cr_assert_str_eq(lr->logs[0]->message, "msg 0");
	cr_assert_eq(lr->logs[0]->n_fields, 1);
	cr_assert_str_eq(lr->logs[0]->fields[0]->key, "k");
	cr_assert_str_eq(lr->logs[0]->fields[0]->value, "v");
	osh_rpc_msg_free(&lr->base);

	/* b got nothing from a's stream, only the gateway's own note */
	lr = get_logs(&r, "b", 0, NULL, "sandbox");
	cr_assert_eq(lr->n_logs, 0);
	osh_rpc_msg_free(&lr->base);
	lr = get_logs(&r, "b", 0, NULL, "gateway");
	cr_assert_geq(lr->n_logs, 1);
	cr_assert(strstr(lr->logs[0]->message, "created") != NULL, "%s", lr->logs[0]->message);
	osh_rpc_msg_free(&lr->base);

	/* tail + level */
	lr = get_logs(&r, "a", 2, "error", NULL);
	cr_assert_eq(lr->n_logs, 2);
	cr_assert_eq(lr->total_matching, 3);
	cr_assert_str_eq(lr->logs[0]->message, "msg 6");
	cr_assert_str_eq(lr->logs[1]->message, "msg 7");
	osh_rpc_msg_free(&lr->base);

	/* "agent" (the command's output) is the one other source a supervisor
	 * may name; it is kept and filterable apart from "sandbox" */
	cr_assert_eq(push(&r, a->id, a->id, 8, 2, "INFO", "agent", &acc, &st), 0, "%s", st.message);
	cr_assert_eq(push(&r, a->id, a->id, 10, 1, "INFO", "Agent", &acc, &st), 0);
	lr = get_logs(&r, "a", 0, NULL, "agent");
	cr_assert_eq(lr->n_logs, 2);
	cr_assert_str_eq(lr->logs[0]->source, "agent");
	cr_assert_str_eq(lr->logs[0]->message, "msg 8");
	osh_rpc_msg_free(&lr->base);
	lr = get_logs(&r, "a", 0, NULL, "sandbox");
	cr_assert_eq(lr->n_logs, 9, "8 earlier + 'Agent' (not exactly agent) as sandbox");
	cr_assert_str_eq(lr->logs[8]->message, "msg 10");
	osh_rpc_msg_free(&lr->base);

	/* unknown sandbox (so no credential) and bad level */
	cr_assert_neq(push(&r, "nope", "nope", 0, 1, "INFO", "sandbox", NULL, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_UNAUTHENTICATED, "%d %s", st.code, st.message);
	{
		Openshell__V1__GetSandboxLogsRequest q =
		    OPENSHELL__V1__GET_SANDBOX_LOGS_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;

		q.name = (char *)(uintptr_t) "a";
		q.min_level = (char *)(uintptr_t) "loud";
		cr_assert_neq(call(&r, "GetSandboxLogs", &q.base, &resp, &st), 0);
		cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
		q.name = (char *)(uintptr_t) "zzz";
		q.min_level = NULL;
		cr_assert_neq(call(&r, "GetSandboxLogs", &q.base, &resp, &st), 0);
		cr_assert_eq(st.code, OSH_RPC_NOT_FOUND);
	}
	protobuf_c_message_free_unpacked(&a->base, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	rig_down(&r);
}

/* Reads watch messages until `want` lines arrived or the deadline passes. */
static size_t watch_read(struct osh_rpc_sstream *ws, size_t want, char last[64])
{
	struct osh_rpc_status st;
	long long end = gwt_now_ms() + 10000;
	size_t got = 0;

	while (got < want && gwt_now_ms() < end) {
		ProtobufCMessage *m = NULL;
		int rc = osh_rpc_sstream_next(ws, 200, &m, &st);

		if (rc == OSH_ETIMEDOUT)
			continue;
		cr_assert_eq(rc, 0, "stream ended: %d %s", st.code, st.message);
		{
			Openshell__V1__WatchSandboxLogsResponse *w = (void *)m;

			for (size_t i = 0; i < w->n_logs; i++)
				snprintf(last, 64, "%s", w->logs[i]->message);
			got += w->n_logs;
		}
		osh_rpc_msg_free(m);
	}
	return got;
}

/* Waits until the watch is registered: a watch is set up on a worker thread,
 * so a line pushed right after opening may precede it. Pushes probe lines
 * (target "test") until one arrives. */
static void watch_ready(struct grig *r, const char *id, struct osh_rpc_sstream *ws)
{
	struct osh_rpc_status st;
	long long end = gwt_now_ms() + 10000;
	int rc = OSH_ETIMEDOUT;

	while (rc == OSH_ETIMEDOUT && gwt_now_ms() < end) {
		ProtobufCMessage *m = NULL;

		cr_assert_eq(push(r, id, id, 0, 1, "INFO", "sandbox", NULL, &st), 0);
		rc = osh_rpc_sstream_next(ws, 200, &m, &st);
		if (rc == 0)
			osh_rpc_msg_free(m);
	}
	cr_assert_eq(rc, 0, "the watch never saw a line: %s", st.message);
}

Test(gw_service, watch_replays_tail_then_follows, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__WatchSandboxLogsRequest wq = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_sstream *ws = NULL;
	struct osh_rpc_status st;
	char *src[1] = {(char *)(uintptr_t) "sandbox"};
	char last[64] = "";
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "w", false, &code);
	cr_assert_eq(code, 0);
	cr_assert_eq(push(&r, a->id, a->id, 0, 10, "INFO", "sandbox", NULL, &st), 0);

	wq.name = (char *)(uintptr_t) "w";
	wq.tail_lines = 3;
	wq.sources = src;
	wq.n_sources = 1;
	wq.min_level = (char *)(uintptr_t) "INFO";
	cr_assert_eq(osh_rpc_sstream_open(r.c, "WatchSandboxLogs", &wq.base, NULL, &ws), 0);
	cr_assert_eq(watch_read(ws, 3, last), 3);
	cr_assert_str_eq(last, "msg 9");

	/* DEBUG lines are filtered out of the follow, INFO ones arrive */
	cr_assert_eq(push(&r, a->id, a->id, 10, 4, "DEBUG", "sandbox", NULL, &st), 0);
	cr_assert_eq(push(&r, a->id, a->id, 20, 2, "WARN", "sandbox", NULL, &st), 0);
	cr_assert_eq(watch_read(ws, 2, last), 2);
	cr_assert_str_eq(last, "msg 21");

	/* deleting the sandbox ends the stream cleanly */
	{
		Openshell__V1__DeleteSandboxRequest dq =
		    OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
		ProtobufCMessage *resp = NULL, *m = NULL;
		long long end = gwt_now_ms() + 10000;
		int rc = 0;

		dq.name = (char *)(uintptr_t) "w";
		cr_assert_eq(call(&r, "DeleteSandbox", &dq.base, &resp, &st), 0, "%s", st.message);
		osh_rpc_msg_free(resp);
		while (gwt_now_ms() < end) {
			rc = osh_rpc_sstream_next(ws, 200, &m, &st);
			if (rc == 0) {
				osh_rpc_msg_free(m);
				continue;
			}
			if (rc != OSH_ETIMEDOUT)
				break;
		}
		cr_assert_eq(rc, OSH_ECLOSED);
		cr_assert_eq(st.code, OSH_RPC_OK, "%s", st.message);
	}
	osh_rpc_sstream_destroy(ws);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* ------------------------------------------------------------ restart -- */

Test(gw_service, restart_adopts_running_supervisors_and_keeps_revision, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__SetConfigRequest s = OPENSHELL__V1__SET_CONFIG_REQUEST__INIT;
	Openshell__V1__GetSandboxPolicyRequest pq = OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	Openshell__V1__ListSandboxesResponse *lr;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char id[40];
	int code;
	pid_t pid;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "keep", false, &code);
	cr_assert_eq(code, 0);
	pid = a->pid;
	snprintf(id, sizeof(id), "%s", a->id);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	s.key = (char *)(uintptr_t) "ocsf_logging_enabled";
	s.value = (char *)(uintptr_t) "true";
	cr_assert_eq(call(&r, "SetConfig", &s.base, &resp, &st), 0);
	osh_rpc_msg_free(resp);

	gw_down(&r);
	cr_assert(pid_alive(pid), "the supervisor must outlive the gateway");
	gw_up(&r, NULL);

	lr = list(&r);
	cr_assert_eq(lr->n_sandboxes, 1);
	cr_assert_eq(lr->sandboxes[0]->state, OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING);
	cr_assert_eq(lr->sandboxes[0]->pid, pid);
	osh_rpc_msg_free(&lr->base);
	pq.sandbox_id = id;
	cr_assert_eq(call(&r, "GetSandboxPolicy", &pq.base, &resp, &st), 0);
	cr_assert_eq(((Openshell__V1__GetSandboxPolicyResponse *)(void *)resp)
			 ->sandbox_config->config_revision,
		     2, "revision went backwards across a restart");
	cr_assert(((Openshell__V1__GetSandboxPolicyResponse *)(void *)resp)
		      ->sandbox_config->logging->ocsf_enabled);
	osh_rpc_msg_free(resp);

	/* the adopted supervisor dies: the gateway notices through /proc */
	cr_assert_eq(kill(pid, SIGKILL), 0);
	{
		long long end = gwt_now_ms() + 15000;
		Openshell__V1__SandboxState state = 0;

		while (gwt_now_ms() < end) {
			lr = list(&r);
			state = lr->sandboxes[0]->state;
			cr_assert_eq(lr->sandboxes[0]->opt_exit_code_case,
				     OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE__NOT_SET);
			osh_rpc_msg_free(&lr->base);
			if (state == OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED)
				break;
			gwt_nap();
		}
		cr_assert_eq(state, OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED);
	}
	rig_down(&r);
}

/* ------------------------------------------------------------- binary -- */

static pid_t run_bin(const char *dir, const char *const *extra, const char *errfile)
{
	pid_t pid = fork();

	if (pid == 0) {
		const char *argv[16];
		int n = 0;
		FILE *e = freopen(errfile, "w", stderr);

		(void)e;
		argv[n++] = OSH_GW_BIN;
		argv[n++] = "--data-dir";
		argv[n++] = dir;
		for (; extra && *extra; extra++)
			argv[n++] = *extra;
		argv[n] = NULL;
		execv(OSH_GW_BIN, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status = 0;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

Test(gw_binary, readiness_file_sighup_and_clean_sigterm, .timeout = 120)
{
	char *dir = gwt_tmpdir();
	char *addr_path = gwt_path(dir, "gateway.addr");
	char *errf = gwt_path(dir, "stderr.txt");
	char *yaml = gwt_path(dir, "gateway.yaml");
	char *addr = NULL, *log = NULL;
	long long end = gwt_now_ms() + 20000;
	pid_t pid = run_bin(dir, NULL, errf);
	char want[160];

	cr_assert_gt(pid, 0);
	while (gwt_now_ms() < end && !(addr = gwt_read(addr_path)))
		gwt_nap();
	cr_assert_not_null(addr, "gateway.addr never appeared");
	/* the default listener: the data dir's Unix socket, mode 0660 */
	cr_assert(strncmp(addr, "unix:/", 6) == 0 && strstr(addr, "/gateway.sock\n"), "%s", addr);
	cr_assert_eq(addr[strlen(addr) - 1], '\n');
	addr[strlen(addr) - 1] = '\0';
	{
		struct stat sst;

		cr_assert_eq(stat(addr + 5, &sst), 0);
		cr_assert(S_ISSOCK(sst.st_mode));
		cr_assert_eq(sst.st_mode & 0777, 0660, "%o", sst.st_mode & 0777);
	}
	snprintf(want, sizeof(want), "listening on %s", addr);
	/* the line follows the address file: wait for it */
	end = gwt_now_ms() + 10000;
	while ((log = gwt_read(errf)) && !strstr(log, want) && gwt_now_ms() < end) {
		free(log);
		gwt_nap();
	}
	if (!log || !strstr(log, want))
		kill(pid, SIGKILL); /* do not leave it holding ctest's output pipe */
	cr_assert(log && strstr(log, want), "stderr lacks '%s': %s", want, log ? log : "");
	free(log);

	/* a real client reaches it at that address */
	{
		struct osh_rpc_client *c = NULL;
		Openshell__V1__GetConfigRequest g = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
		ProtobufCMessage *resp = NULL;
		struct osh_rpc_status st;

		cr_assert_eq(osh_rpc_client_create(addr, SVC, NULL, &c), 0);
		cr_assert_eq(osh_rpc_client_unary(c, "GetConfig", &g.base, NULL, &resp, &st), 0,
			     "%s", st.message);
		osh_rpc_msg_free(resp);
		osh_rpc_client_destroy(c);
	}

	/* SIGHUP with an invalid file: logged with file:line:key, gateway keeps running */
	cr_assert_eq(gwt_write(yaml, "ocsf_logging_enabled: true\nwho: me\n"), 0);
	cr_assert_eq(kill(pid, SIGHUP), 0);
	end = gwt_now_ms() + 10000;
	while (gwt_now_ms() < end) {
		log = gwt_read(errf);
		if (log && strstr(log, "gateway.yaml:2:who"))
			break;
		free(log);
		log = NULL;
		gwt_nap();
	}
	cr_assert_not_null(log, "reload error not logged");
	free(log);

	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(wait_exit(pid), 0);
	cr_assert_null(gwt_read(addr_path), "gateway.addr left after shutdown");
	free(addr);
	free(addr_path);
	free(errf);
	free(yaml);
	gwt_rmdir(dir);
}

Test(gw_binary, startup_errors_name_their_source, .timeout = 120)
{
	char *dir = gwt_tmpdir();
	char *errf = gwt_path(dir, "stderr.txt");
	char *yaml = gwt_path(dir, "bad.yaml");
	char *log;
	const char *bad_flag[] = {"--ocsf-logging", "perhaps", NULL};
	const char *bad_yaml[] = {"--config", yaml, NULL};
	const char *unknown[] = {"--frobnicate", NULL};

	cr_assert_eq(wait_exit(run_bin(dir, bad_flag, errf)), 2);
	log = gwt_read(errf);
	cr_assert(strstr(log, "flag --ocsf-logging") && strstr(log, "perhaps"), "%s", log);
	free(log);

	cr_assert_eq(gwt_write(yaml, "# x\nocsf_logging_enabled: [1]\n"), 0);
	cr_assert_eq(wait_exit(run_bin(dir, bad_yaml, errf)), 2);
	log = gwt_read(errf);
	cr_assert(strstr(log, "bad.yaml:2:ocsf_logging_enabled"), "%s", log);
	free(log);

	setenv("OPENSHELL_OCSF_LOGGING", "sure", 1);
	cr_assert_eq(wait_exit(run_bin(dir, NULL, errf)), 2);
	log = gwt_read(errf);
	cr_assert(strstr(log, "env OPENSHELL_OCSF_LOGGING"), "%s", log);
	free(log);
	unsetenv("OPENSHELL_OCSF_LOGGING");

	cr_assert_eq(wait_exit(run_bin(dir, unknown, errf)), 2);
	log = gwt_read(errf);
	cr_assert(strstr(log, "--frobnicate"), "%s", log);
	free(log);
	free(errf);
	free(yaml);
	gwt_rmdir(dir);
}

static size_t sandbox_count(struct grig *r);

Test(gw_service, create_with_policy_yaml, .timeout = 120)
{
	struct grig r;
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	Openshell__V1__GetSandboxPolicyRequest pq = OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char id[40];

	rig_up(&r, fake_sleep, NULL);
	req.name = (char *)(uintptr_t) "bad";
	req.policy_yaml =
	    (char *)(uintptr_t) "version: 1\nfilesystem_policy:\n  read_onyl: [/usr]\n";
	cr_assert_neq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "policy_yaml:3") && strstr(st.message, "read_onyl"), "%s",
		  st.message);

	req.name = (char *)(uintptr_t) "good";
	req.policy_yaml =
	    (char *)(uintptr_t) "version: 2\nnetwork_policies:\n  gh:\n    endpoints:\n"
				"      - {host: api.github.com, port: 443}\n";
	cr_assert_eq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0, "%s", st.message);
	snprintf(id, sizeof(id), "%s",
		 ((Openshell__V1__CreateSandboxResponse *)(void *)resp)->sandbox->id);
	osh_rpc_msg_free(resp);
	pq.sandbox_id = id;
	cr_assert_eq(call(&r, "GetSandboxPolicy", &pq.base, &resp, &st), 0, "%s", st.message);
	{
		Openshell__V1__GetSandboxPolicyResponse *pr = (void *)resp;

		cr_assert_not_null(pr->policy);
		cr_assert_eq(pr->policy->version, 2);
		cr_assert_eq(pr->policy->n_network_policies, 1);
		cr_assert_str_eq(pr->policy->network_policies[0]->key, "gh");
		cr_assert_eq(pr->version, 1);
	}
	osh_rpc_msg_free(resp);

	/* Both policy_yaml and policy: refused by name, nothing created
	 * (docs/proto.md; audit mutant M6). */
	{
		Openshell__V1__SandboxPolicy pol = OPENSHELL__V1__SANDBOX_POLICY__INIT;
		size_t before = sandbox_count(&r);

		pol.version = 3;
		req.name = (char *)(uintptr_t) "both";
		req.policy_yaml = (char *)(uintptr_t) "version: 3\n";
		req.policy = &pol;
		resp = NULL;
		cr_assert_neq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0);
		cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT, "%d %s", st.code, st.message);
		cr_assert(strstr(st.message, "policy_yaml") && strstr(st.message, "not both"), "%s",
			  st.message);
		cr_assert_null(resp);
		cr_assert_eq(sandbox_count(&r), before, "no sandbox created");
	}
	rig_down(&r);
}

/* One push stream is one sandbox's: a later message naming another sandbox
 * fails the stream and none of its lines is stored for either sandbox
 * (docs/security.md; audit mutant M6b, which the per-message credential
 * check now shadows: mutant A1 of tools/mutations.txt). */
Test(gw_service, push_stream_cannot_switch_sandbox, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a, *b;
	Openshell__V1__GetSandboxLogsResponse *lr;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine line = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lp[1] = {&line};
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	int code, send2;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "a", false, &code);
	cr_assert_eq(code, 0);
	b = create(&r, "b", false, &code);
	cr_assert_eq(code, 0);
	line.timestamp_ms = 5000;
	line.level = (char *)(uintptr_t) "INFO";
	line.target = (char *)(uintptr_t) "test";
	line.source = (char *)(uintptr_t) "sandbox";
	req.logs = lp;
	req.n_logs = 1;
	cr_assert_eq(open_push(&r, a->id, &cs), 0);
	req.sandbox_id = a->id;
	line.message = (char *)(uintptr_t) "first, for a";
	cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	req.sandbox_id = b->id;
	line.message = (char *)(uintptr_t) "second, claims b";
	/* The send may already see the failure; finish reports it either way. */
	send2 = osh_rpc_cstream_send(cs, &req.base);
	cr_assert_neq(osh_rpc_cstream_finish(cs, &resp, &st), 0,
		      "the switch was accepted (send %d)", send2);
	/* The credential check on every message refuses it first (it names a's
	 * sandbox); the stream binding in push_bind() stands behind it. */
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	cr_assert(strstr(st.message, "does not belong to sandbox") != NULL, "%s", st.message);
	osh_rpc_msg_free(resp);

	lr = get_logs(&r, "b", 0, NULL, "sandbox");
	cr_assert_eq(lr->n_logs, 0, "b got a line from a's stream");
	osh_rpc_msg_free(&lr->base);
	lr = get_logs(&r, "a", 0, NULL, "sandbox");
	for (size_t i = 0; i < lr->n_logs; i++)
		cr_assert_str_neq(lr->logs[i]->message, "second, claims b");
	osh_rpc_msg_free(&lr->base);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	rig_down(&r);
}

/* A follower that does not read must not stall pushes or other calls; once it
 * reads again it sees the loss as `dropped` instead of the missing lines. */
Test(gw_service, slow_follower_loses_lines_with_marker, .timeout = 120)
{
	enum { N = 6000, LINE = 4096 };
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__WatchSandboxLogsRequest wq = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine line = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lp[1] = {&line};
	Openshell__V1__GetConfigRequest g = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	struct osh_rpc_sstream *ws = NULL;
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	uint64_t dropped = 0, got = 0;
	char *big = malloc(LINE + 1);
	long long t0;
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "slow", false, &code);
	cr_assert_eq(code, 0);
	wq.sandbox_id = a->id;
	cr_assert_eq(osh_rpc_sstream_open(r.c, "WatchSandboxLogs", &wq.base, NULL, &ws), 0);
	/* make sure the follower is registered before pushing */
	watch_ready(&r, a->id, ws);
	memset(big, 'x', LINE);
	big[LINE] = '\0';
	line.level = (char *)(uintptr_t) "INFO";
	line.target = (char *)(uintptr_t) "bulk";
	line.message = big;
	req.sandbox_id = a->id;
	req.logs = lp;
	req.n_logs = 1;
	t0 = gwt_now_ms();
	cr_assert_eq(open_push(&r, a->id, &cs), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0, "push %d", i);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	cr_assert_eq(((Openshell__V1__PushSandboxLogsResponse *)(void *)resp)->accepted, N);
	osh_rpc_msg_free(resp);
	cr_log_info("pushed %d x %d bytes past a stalled follower in %lld ms", N, LINE,
		    gwt_now_ms() - t0);
	/* the gateway still answers */
	cr_assert_eq(call(&r, "GetConfig", &g.base, &resp, &st), 0, "%s", st.message);
	osh_rpc_msg_free(resp);

	/* drain: every line is either delivered or counted as dropped */
	{
		long long end = gwt_now_ms() + 60000;

		while (gwt_now_ms() < end && got + dropped < N) {
			ProtobufCMessage *m = NULL;
			int rc = osh_rpc_sstream_next(ws, 500, &m, &st);

			if (rc == OSH_ETIMEDOUT) {
				/* drops are reported on the next delivered message */
				cr_assert_eq(
				    push(&r, a->id, a->id, 0, 1, "INFO", "sandbox", NULL, &st), 0);
				continue;
			}
			cr_assert_eq(rc, 0, "%s", st.message);
			got += ((Openshell__V1__WatchSandboxLogsResponse *)(void *)m)->n_logs;
			dropped += ((Openshell__V1__WatchSandboxLogsResponse *)(void *)m)->dropped;
			osh_rpc_msg_free(m);
		}
	}
	cr_assert_gt(dropped, 0, "nothing was dropped: the test did not overflow the queue");
	cr_assert_geq(got + dropped, N, "got %llu dropped %llu", (unsigned long long)got,
		      (unsigned long long)dropped);
	osh_rpc_sstream_destroy(ws);
	free(big);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* Answers larger than one gRPC message: GetSandboxLogs keeps the newest lines
 * that fit, a watch replay is split over several messages and loses nothing. */
Test(gw_service, big_answers_fit_grpc_limits, .timeout = 120)
{
	enum { LINES = 200, PER_MSG = 50, LINE = 60 * 1024 };
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine lines[PER_MSG];
	Openshell__V1__SandboxLogLine *lp[PER_MSG];
	Openshell__V1__GetSandboxLogsResponse *lr;
	Openshell__V1__WatchSandboxLogsRequest wq = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_sstream *ws = NULL;
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char *big = malloc(LINE + 1);
	char last[64] = "";
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "big", false, &code);
	cr_assert_eq(code, 0);
	memset(big, 'y', LINE);
	big[LINE] = '\0';
	for (int i = 0; i < PER_MSG; i++) {
		openshell__v1__sandbox_log_line__init(&lines[i]);
		lines[i].level = (char *)(uintptr_t) "INFO";
		lines[i].message = big;
		lp[i] = &lines[i];
	}
	req.sandbox_id = a->id;
	req.logs = lp;
	req.n_logs = PER_MSG;
	cr_assert_eq(open_push(&r, a->id, &cs), 0);
	for (int m = 0; m < LINES / PER_MSG; m++)
		cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	osh_rpc_msg_free(resp);

	lr = get_logs(&r, "big", LINES, NULL, "sandbox");
	cr_assert_eq(lr->total_matching, LINES);
	cr_assert_gt(lr->n_logs, 10);
	cr_assert_lt(lr->n_logs, LINES, "12 MB cannot fit one message");
	cr_assert_eq(strlen(lr->logs[lr->n_logs - 1]->message), LINE);
	/* what was left out is counted, so the CLI can say so (F6) */
	cr_assert_eq(lr->truncated, LINES - lr->n_logs, "truncated %llu, returned %zu",
		     (unsigned long long)lr->truncated, lr->n_logs);
	osh_rpc_msg_free(&lr->base);

	/* A replay is bounded by the follower's queue (F7): the newest lines that
	 * fit, and the rest of the window announced as missed at once. */
	wq.name = (char *)(uintptr_t) "big";
	wq.tail_lines = LINES;
	wq.sources = (char *[]){(char *)(uintptr_t) "sandbox"};
	wq.n_sources = 1;
	cr_assert_eq(osh_rpc_sstream_open(r.c, "WatchSandboxLogs", &wq.base, NULL, &ws), 0);
	{
		uint64_t got = 0, dropped = 0;
		long long end = gwt_now_ms() + 10000;

		while (got + dropped < LINES && gwt_now_ms() < end) {
			ProtobufCMessage *m = NULL;
			int rc = osh_rpc_sstream_next(ws, 200, &m, &st);
			Openshell__V1__WatchSandboxLogsResponse *w = (void *)m;

			if (rc == OSH_ETIMEDOUT)
				continue;
			cr_assert_eq(rc, 0, "stream ended: %d %s", st.code, st.message);
			got += w->n_logs;
			dropped += w->dropped;
			if (w->n_logs)
				snprintf(last, sizeof(last), "%.8s",
					 w->logs[w->n_logs - 1]->message);
			osh_rpc_msg_free(m);
		}
		cr_assert_eq(got + dropped, LINES, "got %llu dropped %llu", (unsigned long long)got,
			     (unsigned long long)dropped);
		cr_assert_gt(got, 0);
		cr_assert_lt(got * LINE, (uint64_t)3 << 20,
			     "replay of %llu lines exceeds the bound", (unsigned long long)got);
		cr_assert_str_eq(last, "yyyyyyyy");
	}
	osh_rpc_sstream_destroy(ws);
	free(big);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

static size_t sandbox_count(struct grig *r)
{
	Openshell__V1__ListSandboxesResponse *lr = list(r);
	size_t n = lr->n_sandboxes;

	osh_rpc_msg_free(&lr->base);
	return n;
}

/* finding 5 of docs/security.md: a policy with fields this gateway does not
 * know is refused (protobuf-c 1.4 would store bytes it cannot read back). */
Test(gw_service, create_refuses_unknown_policy_fields, .timeout = 120)
{
	struct grig r;
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	Openshell__V1__SandboxPolicy pol = OPENSHELL__V1__SANDBOX_POLICY__INIT;
	Openshell__V1__ProcessPolicy pp = OPENSHELL__V1__PROCESS_POLICY__INIT;
	/* The reproducer: field 3 (policy) = 80 00 00, a field-0 tag written as
	 * a non-canonical varint; sent as an unknown field of the request so
	 * the client packs the bytes verbatim (length prefix included). */
	uint8_t repro[] = {0x03, 0x80, 0x00, 0x00};
	uint8_t one[] = {0x01};
	ProtobufCMessageUnknownField uf = {.tag = 3,
					   .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
					   .len = sizeof(repro),
					   .data = repro};
	ProtobufCMessageUnknownField nested = {
	    .tag = 99, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1, .data = one};
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	rig_up(&r, fake_sleep, NULL);
	req.name = (char *)(uintptr_t) "repro";
	req.base.n_unknown_fields = 1;
	req.base.unknown_fields = &uf;
	cr_assert_neq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT, "%d %s", st.code, st.message);
	cr_assert(strstr(st.message, "unknown field in SandboxPolicy: field number 0"), "%s",
		  st.message);

	req.base.n_unknown_fields = 0;
	req.base.unknown_fields = NULL;
	req.name = (char *)(uintptr_t) "nested";
	pol.version = 1;
	pp.run_as_user = (char *)(uintptr_t) "sandbox";
	pp.base.n_unknown_fields = 1;
	pp.base.unknown_fields = &nested;
	pol.process = &pp;
	req.policy = &pol;
	cr_assert_neq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "SandboxPolicy.process: field number 99"), "%s", st.message);
	cr_assert_eq(sandbox_count(&r), 0, "nothing stored");

	/* Without the unknown field the same policy is accepted and reads back. */
	pp.base.n_unknown_fields = 0;
	pp.base.unknown_fields = NULL;
	cr_assert_eq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0, "%s", st.message);
	osh_rpc_msg_free(resp);
	rig_down(&r);
}

static int create_in(struct grig *r, const char *name, const char *log_dir,
		     struct osh_rpc_status *st, char *got, size_t gotlen)
{
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc;

	req.name = (char *)(uintptr_t)name;
	req.log_dir = (char *)(uintptr_t)log_dir;
	rc = call(r, "CreateSandbox", &req.base, &resp, st);
	if (rc == 0 && got)
		snprintf(got, gotlen, "%s",
			 ((Openshell__V1__CreateSandboxResponse *)(void *)resp)->sandbox->log_dir);
	osh_rpc_msg_free(resp);
	return rc;
}

/* finding 8 of docs/security.md: log_dir is empty or a directory of this
 * sandbox under <data-dir>/sandboxes/<name>/; no '..' or symlink escape. */
Test(gw_service, log_dir_stays_in_the_sandbox_dir, .timeout = 120)
{
	struct grig r;
	struct osh_rpc_status st;
	char p[1024], real[PATH_MAX], got[1024], want[PATH_MAX + 64];
	struct stat sbuf;

	rig_up(&r, fake_sleep, NULL);
	snprintf(p, sizeof(p), "%s/outside", r.dir);
	cr_assert_neq(create_in(&r, "a1", p, &st, NULL, 0), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "under <data-dir>/sandboxes/<name>/"), "%s", st.message);
	cr_assert_neq(stat(p, &sbuf), 0, "nothing created outside");

	cr_assert_neq(create_in(&r, "a2", "logs", &st, NULL, 0), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "relative"), "%s", st.message);

	snprintf(p, sizeof(p), "%s/sandboxes/a3/../../outside", r.dir);
	cr_assert_neq(create_in(&r, "a3", p, &st, NULL, 0), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "'..'"), "%s", st.message);

	snprintf(p, sizeof(p), "%s/sandboxes/other/logs", r.dir);
	cr_assert_neq(create_in(&r, "a4", p, &st, NULL, 0), 0, "another sandbox's directory");
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);

	/* A symlink inside the sandbox's directory pointing outside. */
	snprintf(p, sizeof(p), "%s/sandboxes/a5", r.dir);
	cr_assert_eq(mkdir(p, 0750), 0);
	snprintf(p, sizeof(p), "%s/target", r.dir);
	cr_assert_eq(mkdir(p, 0750), 0);
	snprintf(want, sizeof(want), "%s/sandboxes/a5/link", r.dir);
	cr_assert_eq(symlink(p, want), 0);
	snprintf(p, sizeof(p), "%s/sandboxes/a5/link/logs", r.dir);
	cr_assert_neq(create_in(&r, "a5", p, &st, NULL, 0), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "resolves to"), "%s", st.message);
	snprintf(p, sizeof(p), "%s/target/logs", r.dir);
	cr_assert_neq(stat(p, &sbuf), 0, "nothing created through the symlink");
	cr_assert_eq(sandbox_count(&r), 0);

	/* Accepted: a directory of the sandbox, stored resolved. */
	snprintf(p, sizeof(p), "%s/sandboxes/ok//custom/logs/", r.dir);
	cr_assert_eq(create_in(&r, "ok", p, &st, got, sizeof(got)), 0, "%s", st.message);
	cr_assert_not_null(realpath(r.dir, real));
	snprintf(want, sizeof(want), "%s/sandboxes/ok/custom/logs", real);
	cr_assert_str_eq(got, want);
	cr_assert_eq(stat(want, &sbuf), 0);
	cr_assert(S_ISDIR(sbuf.st_mode));
	rig_down(&r);
}

/* ------------------------------------------------------ load and bounds -- */

/* F5: a line with a negative timestamp is shown with since_ms = 0 ("no
 * bound") and counted, not stored and hidden. */
Test(gw_service, negative_timestamps_are_shown, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine l1 = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine l2 = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lp[2] = {&l1, &l2};
	Openshell__V1__GetSandboxLogsResponse *lr;
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "neg", false, &code);
	cr_assert_eq(code, 0);
	l1.timestamp_ms = -5000;
	l1.message = (char *)(uintptr_t) "before the epoch";
	l2.timestamp_ms = INT64_MIN;
	l2.message = (char *)(uintptr_t) "the earliest";
	req.sandbox_id = a->id;
	req.logs = lp;
	req.n_logs = 2;
	cr_assert_eq(open_push(&r, a->id, &cs), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	osh_rpc_msg_free(resp);
	lr = get_logs(&r, "neg", 0, NULL, "sandbox");
	cr_assert_eq(lr->total_matching, 2);
	cr_assert_eq(lr->n_logs, 2);
	cr_assert_eq(lr->logs[0]->timestamp_ms, -5000);
	cr_assert_eq(lr->logs[1]->timestamp_ms, INT64_MIN);
	osh_rpc_msg_free(&lr->base);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* F3: every field of a pushed line is capped, not only the message. */
Test(gw_service, push_caps_every_field, .timeout = 120)
{
	enum { N = 6 };
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine l[N];
	Openshell__V1__SandboxLogLine *lp[N];
	Openshell__V1__SandboxLogLine__FieldsEntry fe[40];
	Openshell__V1__SandboxLogLine__FieldsEntry *fep[40];
	Openshell__V1__PushSandboxLogsResponse *pr;
	Openshell__V1__GetSandboxLogsResponse *lr;
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char *big = malloc(8192);
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "caps", false, &code);
	cr_assert_eq(code, 0);
	memset(big, 'z', 8191);
	big[8191] = '\0';
	for (int i = 0; i < 40; i++) {
		openshell__v1__sandbox_log_line__fields_entry__init(&fe[i]);
		fe[i].key = (char *)(uintptr_t) "k";
		fe[i].value = (char *)(uintptr_t) "v";
		fep[i] = &fe[i];
	}
	for (int i = 0; i < N; i++) {
		openshell__v1__sandbox_log_line__init(&l[i]);
		l[i].level = (char *)(uintptr_t) "INFO";
		l[i].target = (char *)(uintptr_t) "t";
		l[i].message = (char *)(uintptr_t) "m";
		lp[i] = &l[i];
	}
	big[300] = '\0';
	l[1].target = strdup(big); /* 300-byte target */
	big[300] = 'z';
	big[20] = '\0';
	l[2].level = strdup(big); /* 20-byte level */
	big[20] = 'z';
	l[3].fields = fep; /* 40 fields */
	l[3].n_fields = 40;
	fe[39].key = (char *)(uintptr_t) "last";
	l[4].fields = &fep[39];
	l[4].n_fields = 1;
	fe[39].value = strdup(big); /* an 8 KiB value */
	l[5].fields = &fep[38];
	l[5].n_fields = 1;
	big[200] = '\0';
	fe[38].key = strdup(big); /* a 200-byte key */
	req.sandbox_id = a->id;
	req.logs = lp;
	req.n_logs = N;
	cr_assert_eq(open_push(&r, a->id, &cs), 0);
	cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	pr = (void *)resp;
	cr_assert_eq(pr->accepted, 1, "accepted %llu", (unsigned long long)pr->accepted);
	cr_assert_eq(pr->dropped, N - 1);
	osh_rpc_msg_free(resp);
	lr = get_logs(&r, "caps", 0, NULL, "sandbox");
	cr_assert_eq(lr->n_logs, 1);
	cr_assert_str_eq(lr->logs[0]->target, "t");
	osh_rpc_msg_free(&lr->base);
	free(l[1].target);
	free(l[2].level);
	free(fe[38].key);
	free(fe[39].value);
	free(big);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* Reads a watch until got + dropped reaches `want`, the stream ends, or the
 * deadline; never pushes (a marker must come without further lines). Counts
 * the "bulk" lines only (late probe lines of watch_ready are never dropped:
 * they precede the bulk into an empty queue). */
static int watch_account(struct osh_rpc_sstream *ws, uint64_t want, uint64_t *got,
			 uint64_t *dropped, struct osh_rpc_status *st)
{
	long long end = gwt_now_ms() + 30000;
	int rc = 0;

	while (*got + *dropped < want && gwt_now_ms() < end) {
		ProtobufCMessage *m = NULL;

		rc = osh_rpc_sstream_next(ws, 200, &m, st);
		if (rc == OSH_ETIMEDOUT) {
			rc = 0;
			continue;
		}
		if (rc != 0)
			break;
		{
			Openshell__V1__WatchSandboxLogsResponse *w = (void *)m;

			for (size_t i = 0; i < w->n_logs; i++)
				*got += strcmp(w->logs[i]->target, "bulk") == 0;
			*dropped += w->dropped;
		}
		osh_rpc_msg_free(m);
	}
	return rc;
}

static void push_bulk(struct grig *r, const char *id, int n, size_t len)
{
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine line = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lp[1] = {&line};
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char *big = malloc(len + 1);

	memset(big, 'x', len);
	big[len] = '\0';
	line.level = (char *)(uintptr_t) "INFO";
	line.target = (char *)(uintptr_t) "bulk";
	line.message = big;
	req.sandbox_id = (char *)(uintptr_t)id;
	req.logs = lp;
	req.n_logs = 1;
	cr_assert_eq(open_push(r, id, &cs), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(osh_rpc_cstream_send(cs, &req.base), 0, "push %d", i);
	cr_assert_eq(osh_rpc_cstream_finish(cs, &resp, &st), 0, "%s", st.message);
	cr_assert_eq(((Openshell__V1__PushSandboxLogsResponse *)(void *)resp)->accepted,
		     (uint64_t)n);
	osh_rpc_msg_free(resp);
	free(big);
}

/* F7 + F9: a stalled follower's queue is bounded in bytes; once it reads
 * again it is told at once how many lines it missed (no further line needed),
 * and when the stream ends (sandbox deleted) the last message says what it
 * missed since. Every line is delivered or counted, exactly. */
Test(gw_service, stalled_follower_told_missed_lines_exactly, .timeout = 180)
{
	enum { N = 3000, LINE = 4096 };
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__WatchSandboxLogsRequest wq = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__DeleteSandboxRequest dq = OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
	struct osh_rpc_sstream *ws = NULL;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	uint64_t got = 0, dropped = 0;
	int code, rc;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "stall", false, &code);
	cr_assert_eq(code, 0);
	wq.sandbox_id = a->id;
	wq.sources = (char *[]){(char *)(uintptr_t) "sandbox"};
	wq.n_sources = 1;
	cr_assert_eq(osh_rpc_sstream_open(r.c, "WatchSandboxLogs", &wq.base, NULL, &ws), 0);
	watch_ready(&r, a->id, ws);

	/* 12 MB past a follower that does not read */
	push_bulk(&r, a->id, N, LINE);
	rc = watch_account(ws, N, &got, &dropped, &st);
	cr_assert_eq(rc, 0, "%d %s", st.code, st.message);
	cr_assert_gt(dropped, 0, "nothing dropped: the queue was never full");
	cr_assert_eq(got + dropped, N, "got %llu + dropped %llu != %d (told at once)",
		     (unsigned long long)got, (unsigned long long)dropped, N);

	/* stall again, then the sandbox goes away: the end carries the count */
	got = dropped = 0;
	push_bulk(&r, a->id, N, LINE);
	dq.sandbox_id = a->id;
	cr_assert_eq(call(&r, "DeleteSandbox", &dq.base, &resp, &st), 0, "%s", st.message);
	osh_rpc_msg_free(resp);
	rc = watch_account(ws, (uint64_t)N + 1000000, &got, &dropped, &st);
	cr_assert_eq(rc, OSH_ECLOSED, "the stream did not end");
	cr_assert_eq(st.code, OSH_RPC_OK, "%s", st.message);
	cr_assert_gt(dropped, 0);
	cr_assert_eq(got + dropped, N, "got %llu + dropped %llu != %d at the end",
		     (unsigned long long)got, (unsigned long long)dropped, N);
	osh_rpc_sstream_destroy(ws);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* Opens a watch of sandbox `name` on client c (not waited for). */
static struct osh_rpc_sstream *watch_open(struct osh_rpc_client *c, const char *name)
{
	Openshell__V1__WatchSandboxLogsRequest wq = OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_sstream *ws = NULL;

	wq.name = (char *)(uintptr_t)name;
	cr_assert_eq(osh_rpc_sstream_open(c, "WatchSandboxLogs", &wq.base, NULL, &ws), 0);
	return ws;
}

/* Classifies n watches: each gets a line (accepted) or ends RESOURCE_EXHAUSTED
 * (refused); pushes a line to `id` per round until all are classified. */
static size_t watch_refused(struct grig *r, const char *id, struct osh_rpc_sstream **ws, size_t n,
			    const char *why)
{
	int *state = calloc(n, sizeof(int)); /* 0 unknown, 1 accepted, 2 refused */
	size_t left = n, refused = 0;
	long long end = gwt_now_ms() + 30000;
	struct osh_rpc_status st;

	while (left > 0 && gwt_now_ms() < end) {
		cr_assert_eq(push(r, id, id, 0, 1, "INFO", "sandbox", NULL, &st), 0);
		for (size_t i = 0; i < n; i++) {
			ProtobufCMessage *m = NULL;
			int rc;

			if (state[i])
				continue;
			rc = osh_rpc_sstream_next(ws[i], 20, &m, &st);
			if (rc == OSH_ETIMEDOUT)
				continue;
			if (rc == 0) {
				state[i] = 1;
				osh_rpc_msg_free(m);
			} else {
				cr_assert_eq(st.code, OSH_RPC_RESOURCE_EXHAUSTED, "%d %s", st.code,
					     st.message);
				cr_assert(strstr(st.message, why) != NULL, "%s", st.message);
				state[i] = 2;
				refused++;
			}
			left--;
		}
	}
	cr_assert_eq(left, 0, "%zu watches neither served nor refused", left);
	free(state);
	return refused;
}

/* Followers are capped per connection and per sandbox (F7/F8). */
Test(gw_service, followers_capped_per_connection_and_sandbox, .timeout = 180)
{
	enum { PER_CONN = 32, PER_SB = 64 };
	struct grig r;
	Openshell__V1__Sandbox *a;
	struct osh_rpc_client *c2 = NULL, *c3 = NULL;
	struct osh_rpc_sstream *w1[PER_CONN + 1], *w2[PER_CONN], *w3;
	struct osh_rpc_client_opts ka2 = {.keepalive_ms = 600000}, ka3 = {.keepalive_ms = 700000};
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "many", false, &code);
	cr_assert_eq(code, 0);
	for (int i = 0; i <= PER_CONN; i++)
		w1[i] = watch_open(r.c, "many");
	cr_assert_eq(watch_refused(&r, a->id, w1, PER_CONN + 1, "this connection"), 1);
	/* gRPC shares one connection between channels with equal arguments:
	 * a different keepalive gives each client its own connection. */
	cr_assert_eq(osh_rpc_client_create(osh_gw_addr(r.gw), SVC, &ka2, &c2), 0);
	for (int i = 0; i < PER_CONN; i++)
		w2[i] = watch_open(c2, "many");
	cr_assert_eq(watch_refused(&r, a->id, w2, PER_CONN, "followers"), 0);
	cr_assert_eq(osh_rpc_client_create(osh_gw_addr(r.gw), SVC, &ka3, &c3), 0);
	w3 = watch_open(c3, "many");
	cr_assert_eq(watch_refused(&r, a->id, &w3, 1, "sandbox"), 1, "cap %d per sandbox", PER_SB);
	osh_rpc_sstream_destroy(w3);
	for (int i = 0; i < PER_CONN; i++)
		osh_rpc_sstream_destroy(w2[i]);
	for (int i = 0; i <= PER_CONN; i++)
		osh_rpc_sstream_destroy(w1[i]);
	osh_rpc_client_destroy(c3);
	osh_rpc_client_destroy(c2);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* F4: ListSandboxes pages (page_size/page_token), and a page is cut so the
 * response fits one message even when sandboxes carry megabyte argvs. */
Test(gw_service, list_pages_and_fits, .timeout = 180)
{
	struct grig r;
	Openshell__V1__ListSandboxesRequest lq = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	Openshell__V1__ListSandboxesResponse *lr;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char token[64] = "", name[16];
	size_t seen = 0, pages = 0;
	char *arg = malloc(100001);
	char *cmd[16];
	int code;

	rig_up(&r, fake_sleep, NULL);
	for (int i = 0; i < 5; i++) {
		Openshell__V1__Sandbox *sb;

		snprintf(name, sizeof(name), "p%d", i);
		sb = create(&r, name, false, &code);
		cr_assert_eq(code, 0);
		protobuf_c_message_free_unpacked(&sb->base, NULL);
	}
	lq.page_size = 2;
	do {
		lq.page_token = token;
		cr_assert_eq(call(&r, "ListSandboxes", &lq.base, &resp, &st), 0, "%s", st.message);
		lr = (void *)resp;
		cr_assert_leq(lr->n_sandboxes, 2);
		for (size_t i = 0; i < lr->n_sandboxes; i++) {
			snprintf(name, sizeof(name), "p%zu", seen + i);
			cr_assert_str_eq(lr->sandboxes[i]->name, name);
		}
		seen += lr->n_sandboxes;
		pages++;
		snprintf(token, sizeof(token), "%s", lr->next_page_token);
		osh_rpc_msg_free(resp);
	} while (token[0] && pages < 10);
	cr_assert_eq(seen, 5);
	cr_assert_eq(pages, 3);
	lq.page_token = (char *)(uintptr_t) "bogus";
	cr_assert_neq(call(&r, "ListSandboxes", &lq.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "page_token") != NULL, "%s", st.message);

	/* three sandboxes of 1.5 MB argv each: 4.5 MB would not fit one message */
	memset(arg, 'a', 100000);
	arg[100000] = '\0';
	cmd[0] = (char *)(uintptr_t) "true";
	for (int i = 1; i < 16; i++)
		cmd[i] = arg;
	for (int i = 0; i < 3; i++) {
		Openshell__V1__CreateSandboxRequest cq =
		    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;

		snprintf(name, sizeof(name), "fat%d", i);
		cq.name = name;
		cq.command = cmd;
		cq.n_command = 16;
		cr_assert_eq(call(&r, "CreateSandbox", &cq.base, &resp, &st), 0, "%s", st.message);
		osh_rpc_msg_free(resp);
	}
	seen = pages = 0;
	token[0] = '\0';
	lq.page_size = 0;
	do {
		lq.page_token = token;
		cr_assert_eq(call(&r, "ListSandboxes", &lq.base, &resp, &st), 0, "%s", st.message);
		lr = (void *)resp;
		seen += lr->n_sandboxes;
		pages++;
		snprintf(token, sizeof(token), "%s", lr->next_page_token);
		osh_rpc_msg_free(resp);
	} while (token[0] && pages < 10);
	cr_assert_eq(seen, 8);
	cr_assert_geq(pages, 2, "4.5 MB of sandboxes in one page");
	free(arg);
	rig_down(&r);
}

/* A stand-in supervisor that records what arrived on OPENSHELL_SECRETS_FD. */
static const char fake_secrets[] =
    "#!/usr/bin/python3\n"
    "import os, sys, time\n"
    "d = os.path.dirname(sys.argv[0])\n"
    "fd = os.environ.get('OPENSHELL_SECRETS_FD')\n"
    "data = os.read(int(fd), 65536).decode() if fd else ''\n"
    "with open('%s/args.%d' % (d, os.getpid()), 'w') as f:\n"
    "    f.write(''.join(a + '\\n' for a in sys.argv[1:]))\n"
    "with open('%s/secrets.%d.tmp' % (d, os.getpid()), 'w') as f:\n"
    "    f.write('fd=%s\\n%s' % (fd, data))\n"
    "os.rename('%s/secrets.%d.tmp' % (d, os.getpid()), '%s/secrets.%d' % (d, os.getpid()))\n"
    "time.sleep(1000)\n";

/* Secrets reach the supervisor on an inherited pipe (fd 4), never argv; a
 * bad name or a value with CR/LF is refused naming the secret, not the value,
 * and leaves no sandbox behind. */
Test(gw_service, secrets_go_to_the_supervisor_on_a_pipe, .timeout = 120)
{
	struct grig r;
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	Openshell__V1__CreateSandboxRequest__SecretsEntry e1 =
	    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__SECRETS_ENTRY__INIT;
	Openshell__V1__CreateSandboxRequest__SecretsEntry e2 =
	    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__SECRETS_ENTRY__INIT;
	Openshell__V1__CreateSandboxRequest__SecretsEntry *es[2] = {&e1, &e2};
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char path[512];
	char *got = NULL, *args = NULL;
	int pid;
	long long deadline;

	rig_up(&r, fake_secrets, NULL);
	req.name = (char *)(uintptr_t) "sec";
	req.secrets = es;
	req.n_secrets = 2;
	e1.key = (char *)(uintptr_t) "API_KEY";
	e1.value = (char *)(uintptr_t) "sk-unit-4711";
	e2.key = (char *)(uintptr_t) "GH_TOKEN";
	e2.value = (char *)(uintptr_t) "ghp x=y";
	cr_assert_eq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0, "%s", st.message);
	pid = ((Openshell__V1__CreateSandboxResponse *)(void *)resp)->sandbox->pid;
	osh_rpc_msg_free(resp);
	snprintf(path, sizeof(path), "%s/secrets.%d", r.dir, pid);
	deadline = gwt_now_ms() + 15000;
	while (!(got = gwt_read(path)) && gwt_now_ms() < deadline)
		gwt_nap();
	cr_assert_not_null(got, "the stand-in never wrote %s", path);
	cr_assert_str_eq(got, "fd=4\nAPI_KEY=sk-unit-4711\nGH_TOKEN=ghp x=y\n");
	snprintf(path, sizeof(path), "%s/args.%d", r.dir, pid);
	args = gwt_read(path);
	cr_assert_not_null(args);
	cr_assert_null(strstr(args, "sk-unit-4711"), "a secret in argv: %s", args);
	free(got);
	free(args);

	req.name = (char *)(uintptr_t) "bad1";
	e1.value = (char *)(uintptr_t) "line1\nline2";
	cr_assert_neq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "secret API_KEY: value contains LF"), "%s", st.message);
	cr_assert_null(strstr(st.message, "line1"), "value leaked: %s", st.message);
	req.name = (char *)(uintptr_t) "bad2";
	e1.key = (char *)(uintptr_t) "1API";
	e1.value = (char *)(uintptr_t) "v";
	cr_assert_neq(call(&r, "CreateSandbox", &req.base, &resp, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(st.message, "secret name '1API' is invalid"), "%s", st.message);
	{
		Openshell__V1__ListSandboxesRequest lq =
		    OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;

		cr_assert_eq(call(&r, "ListSandboxes", &lq.base, &resp, &st), 0);
		cr_assert_eq(((Openshell__V1__ListSandboxesResponse *)(void *)resp)->n_sandboxes, 1,
			     "refused creates leave no sandbox");
		osh_rpc_msg_free(resp);
	}
	rig_down(&r);
}

/* ------------------------------------------------------------- auth -- */

/* One PushSandboxLogs of one line for `id`, sent with `cred` (NULL: none). */
static int push_as(struct grig *r, const char *cred, const char *id, struct osh_rpc_status *st)
{
	Openshell__V1__PushSandboxLogsRequest req = OPENSHELL__V1__PUSH_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__SandboxLogLine line = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine *lp[1] = {&line};
	struct osh_rpc_md md[1] = {{OSH_RPC_MD_SANDBOX_CREDENTIAL, cred}};
	struct osh_rpc_call_opts co = {.timeout_ms = 10000, .md = md, .n_md = cred ? 1 : 0};
	struct osh_rpc_cstream *cs = NULL;
	ProtobufCMessage *resp = NULL;
	int rc;

	line.sandbox_id = (char *)(uintptr_t)id;
	line.timestamp_ms = 5;
	line.level = (char *)(uintptr_t) "INFO";
	line.target = (char *)(uintptr_t) "test";
	line.message = (char *)(uintptr_t) "LIFECYCLE:STOP [INFO] forged";
	req.sandbox_id = (char *)(uintptr_t)id;
	req.logs = lp;
	req.n_logs = 1;
	rc = osh_rpc_cstream_open(r->c, "PushSandboxLogs", &co, &cs);
	if (rc == 0) {
		int src = osh_rpc_cstream_send(cs, &req.base);

		rc = osh_rpc_cstream_finish(cs, &resp, st);
		if (rc == 0 && src != 0)
			rc = src;
	}
	osh_rpc_msg_free(resp);
	return rc;
}

static int unary_as(struct grig *r, const char *cred, const char *method,
		    const ProtobufCMessage *req, struct osh_rpc_status *st)
{
	struct osh_rpc_md md[1] = {{OSH_RPC_MD_SANDBOX_CREDENTIAL, cred}};
	struct osh_rpc_call_opts co = {.timeout_ms = 10000, .md = md, .n_md = cred ? 1 : 0};
	ProtobufCMessage *resp = NULL;
	int rc = osh_rpc_client_unary(r->c, method, req, &co, &resp, st);

	osh_rpc_msg_free(resp);
	return rc;
}

Test(gw_service, credentials_bind_a_supervisor_to_its_sandbox, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a, *b;
	Openshell__V1__GetSandboxPolicyRequest pq = OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	Openshell__V1__ListSandboxesRequest lq = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	Openshell__V1__DeleteSandboxRequest dq = OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
	Openshell__V1__GetSandboxLogsResponse *lr;
	struct osh_rpc_status st;
	char ca[80], cb[80], *cpath, *stored, *log = NULL, *boot, *bootp;
	struct stat cst;
	long long end;
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "ca", false, &code);
	cr_assert_eq(code, 0);
	b = create(&r, "cb", false, &code);
	cr_assert_eq(code, 0);
	cred_wait(&r, a->id, ca, sizeof(ca));
	cred_wait(&r, b->id, cb, sizeof(cb));
	cr_assert_eq(strlen(ca), 64, "%s", ca);
	cr_assert_str_neq(ca, cb);

	/* the supervisor got the socket address and its credential on fd 3,
	 * not in argv: the args file has --bootstrap-fd and no --gateway */
	{
		char name[80];

		snprintf(name, sizeof(name), "boot.%s", a->id);
		bootp = gwt_path(r.dir, name);
		boot = gwt_read(bootp);
		cr_assert(boot && strstr(boot, "gateway=unix:/"), "%s", boot ? boot : "");
		free(boot);
		free(bootp);
	}

	/* the gateway keeps only a hash, in the store (no credentials dir) */
	cpath = gwt_path(r.dir, "credentials");
	cr_assert_neq(stat(cpath, &cst), 0, "no credential files any more");
	free(cpath);
	{
		struct osh_gw_store *st2 = NULL;
		char err[256], want[65];
		unsigned char dg[SHA256_DIGEST_LENGTH];

		stored = gwt_path(r.dir, "gateway.db");
		cr_assert_eq(osh_gw_store_create(&st2, stored, NULL, err, sizeof(err)), 0, "%s",
			     err);
		free(stored);
		stored = calloc(1, 65);
		cr_assert_not_null(stored);
		cr_assert_eq(osh_gw_store_cred_get(st2, a->id, stored), 0, "%s",
			     osh_gw_store_errmsg(st2));
		SHA256((const unsigned char *)ca, strlen(ca), dg);
		for (size_t i = 0; i < sizeof(dg); i++)
			snprintf(want + 2 * i, 3, "%02x", dg[i]);
		cr_assert_str_eq(stored, want, "the store holds the SHA-256 of the credential");
		cr_assert(strstr(stored, ca) == NULL, "the secret itself is stored");
		free(stored);
		osh_gw_store_destroy(st2);
	}

	/* a's credential cannot push into b, nor read b's policy */
	cr_assert_neq(push_as(&r, ca, b->id, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	cr_assert(strstr(st.message, b->id) != NULL, "%s", st.message);
	pq.sandbox_id = b->id;
	cr_assert_neq(unary_as(&r, ca, "GetSandboxPolicy", &pq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	/* no credential, or a malformed one: UNAUTHENTICATED (the CLI cannot push) */
	cr_assert_neq(push_as(&r, NULL, b->id, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_UNAUTHENTICATED, "%d %s", st.code, st.message);
	cr_assert_neq(push_as(&r, "not-hex", b->id, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_UNAUTHENTICATED, "%d %s", st.code, st.message);
	cr_assert_neq(unary_as(&r, NULL, "GetSandboxPolicy", &pq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_UNAUTHENTICATED, "%d %s", st.code, st.message);
	/* a credential is not an operator: no list, no delete */
	cr_assert_neq(unary_as(&r, ca, "ListSandboxes", &lq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	dq.sandbox_id = b->id;
	cr_assert_neq(unary_as(&r, ca, "DeleteSandbox", &dq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	/* nothing was stored or deleted by the refused calls */
	lr = get_logs(&r, "cb", 0, NULL, "sandbox");
	cr_assert_eq(lr->n_logs, 0, "a refused push stored %zu lines", lr->n_logs);
	osh_rpc_msg_free(&lr->base);
	cr_assert_eq(unary_as(&r, NULL, "ListSandboxes", &lq.base, &st), 0, "%s", st.message);
	/* its own sandbox works */
	cr_assert_eq(push_as(&r, ca, a->id, &st), 0, "%d %s", st.code, st.message);
	pq.sandbox_id = a->id;
	cr_assert_eq(unary_as(&r, ca, "GetSandboxPolicy", &pq.base, &st), 0, "%s", st.message);

	/* every refusal is an event; the fifth within a minute a finding */
	{
		char *lp = gwt_path(r.dir, "openshell-gateway.log");

		end = gwt_now_ms() + 10000;
		while (gwt_now_ms() < end) {
			free(log);
			log = gwt_read(lp);
			if (log && strstr(log, "FINDING"))
				break;
			gwt_nap();
		}
		free(lp);
	}
	cr_assert(log && strstr(log, "NET:REFUSE"), "%s", log ? log : "");
	cr_assert(log && strstr(log, "FINDING"), "%s", log ? log : "");
	free(log);

	/* delete forgets the credential: the old one no longer works */
	dq.sandbox_id = a->id;
	cr_assert_eq(unary_as(&r, NULL, "DeleteSandbox", &dq.base, &st), 0, "%s", st.message);
	{
		struct osh_gw_store *st2 = NULL;
		char err[256], d[65];

		stored = gwt_path(r.dir, "gateway.db");
		cr_assert_eq(osh_gw_store_create(&st2, stored, NULL, err, sizeof(err)), 0, "%s",
			     err);
		free(stored);
		cr_assert_eq(osh_gw_store_cred_get(st2, a->id, d), OSH_ENOTFOUND,
			     "credential kept after delete");
		osh_gw_store_destroy(st2);
	}
	cr_assert_neq(push_as(&r, ca, a->id, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
	rig_down(&r);
}

/* SSH (docs/ssh.md): the gateway makes a preface secret per sandbox and
 * hands it over on the bootstrap pipe (kept 0600, gone with the sandbox);
 * only the sandbox's credential may report its SSH endpoint, only an
 * operator may relay; reported keys show in ListSandboxes. */
Test(gw_service, ssh_secret_report_and_relay_rights, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *a;
	Openshell__V1__ReportSandboxSshRequest rq = OPENSHELL__V1__REPORT_SANDBOX_SSH_REQUEST__INIT;
	Openshell__V1__SendSandboxSshRequest sq = OPENSHELL__V1__SEND_SANDBOX_SSH_REQUEST__INIT;
	Openshell__V1__ListSandboxesRequest lq = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	Openshell__V1__DeleteSandboxRequest dq = OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
	Openshell__V1__ListSandboxesResponse *lr = NULL;
	struct osh_rpc_call_opts co = {.timeout_ms = 10000};
	struct osh_rpc_status st;
	char ca[80], name[120], *spath, *secret, *boot;
	const char *ssh_line;
	struct stat sst;
	int code;

	rig_up(&r, fake_sleep, NULL);
	a = create(&r, "sa", false, &code);
	cr_assert_eq(code, 0);
	cred_wait(&r, a->id, ca, sizeof(ca));
	/* the secret: on the bootstrap pipe and in <data>/ssh/<id>.secret, 0600 */
	snprintf(name, sizeof(name), "ssh/%s.secret", a->id);
	spath = gwt_path(r.dir, name);
	cr_assert_eq(stat(spath, &sst), 0);
	cr_assert_eq(sst.st_mode & 0777, 0600, "%o", sst.st_mode & 0777);
	secret = gwt_read(spath);
	cr_assert(secret && strlen(secret) == 64, "%s", secret ? secret : "");
	snprintf(name, sizeof(name), "boot.%s", a->id);
	{
		char *bp = gwt_path(r.dir, name);

		boot = gwt_read(bp);
		free(bp);
	}
	ssh_line = boot ? strstr(boot, "ssh=") : NULL;
	cr_assert(ssh_line && strncmp(ssh_line + 4, secret, 64) == 0, "%s", boot ? boot : "");
	cr_assert_str_neq(secret, ca, "the preface secret is not the credential");

	rq.sandbox_id = a->id;
	rq.endpoint = OSH_RPC_STR("unix:/run/openshell/ssh/x.sock");
	rq.host_key = OSH_RPC_STR("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE");
	rq.fingerprint = OSH_RPC_STR("SHA256:abc");
	cr_assert_neq(unary_as(&r, NULL, "ReportSandboxSsh", &rq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_UNAUTHENTICATED, "an operator cannot report: %s", st.message);
	rq.endpoint = OSH_RPC_STR("tcp:10.0.0.1:22");
	cr_assert_neq(unary_as(&r, ca, "ReportSandboxSsh", &rq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT, "%d %s", st.code, st.message);
	rq.endpoint = OSH_RPC_STR("unix:/run/openshell/ssh/x.sock");
	rq.host_key = OSH_RPC_STR("ssh-rsa AAAA");
	cr_assert_neq(unary_as(&r, ca, "ReportSandboxSsh", &rq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_INVALID_ARGUMENT, "%d %s", st.code, st.message);
	rq.host_key = OSH_RPC_STR("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE");
	cr_assert_eq(unary_as(&r, ca, "ReportSandboxSsh", &rq.base, &st), 0, "%s", st.message);
	cr_assert_eq(osh_rpc_client_unary(r.c, "ListSandboxes", &lq.base, &co,
					  (ProtobufCMessage **)&lr, &st),
		     0, "%s", st.message);
	cr_assert_eq(lr->n_sandboxes, 1);
	cr_assert_str_eq(lr->sandboxes[0]->ssh_host_key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE");
	cr_assert_str_eq(lr->sandboxes[0]->ssh_fingerprint, "SHA256:abc");
	osh_rpc_msg_free(&lr->base);

	/* relays are operator calls: a credential cannot send; an unknown
	 * session is NOT_FOUND */
	sq.session = OSH_RPC_STR("0123456789abcdef0123456789abcdef");
	cr_assert_neq(unary_as(&r, ca, "SendSandboxSsh", &sq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_PERMISSION_DENIED, "%d %s", st.code, st.message);
	cr_assert_neq(unary_as(&r, NULL, "SendSandboxSsh", &sq.base, &st), 0);
	cr_assert_eq(st.code, OSH_RPC_NOT_FOUND, "%d %s", st.code, st.message);

	/* delete forgets the secret */
	dq.sandbox_id = a->id;
	cr_assert_eq(unary_as(&r, NULL, "DeleteSandbox", &dq.base, &st), 0, "%s", st.message);
	cr_assert_neq(stat(spath, &sst), 0, "preface secret kept after delete");
	free(boot);
	free(secret);
	free(spath);
	protobuf_c_message_free_unpacked(&a->base, NULL);
	rig_down(&r);
}

/* page_token: only "" and what the gateway issues (1-18 digits, no leading
 * zero) parse; everything else is refused with 0. */
Test(gw_service, page_tokens_parse_strictly)
{
	const char *bad[] = {
	    "0", "01", "-1", "+1", " 1", "1 ", "1a", "0x10", "1234567890123456789", "\xff", "1e3"};
	int64_t v = -1;

	cr_assert_eq(osh_gw_page_token_parse("", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(osh_gw_page_token_parse(NULL, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(osh_gw_page_token_parse("1", &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(osh_gw_page_token_parse("999999999999999999", &v), 0);
	cr_assert_eq(v, 999999999999999999LL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = -1;
		cr_assert_eq(osh_gw_page_token_parse(bad[i], &v), OSH_EINVAL, "'%s' accepted",
			     bad[i]);
		cr_assert_eq(v, 0);
	}
}

/* --listen: the port is range-checked (it used to wrap modulo 65536). */
Test(gw_opts, listen_port_out_of_range_is_refused)
{
	const char *bad[] = {"127.0.0.1:99999", "0.0.0.0:65536", "127.0.0.1:", "noport",
			     "[::1]:70000"};
	const char *good[] = {"127.0.0.1:0", "127.0.0.1:65535", "[::1]:8080"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct osh_gw_opts o;
		char err[512] = "";
		char *argv[] = {(char *)(uintptr_t) "gw", (char *)(uintptr_t) "--listen",
				(char *)(uintptr_t)bad[i], NULL};
		osh_gw_opts_init(&o);
		cr_assert_neq(osh_gw_opts_parse(&o, 3, argv, err, sizeof(err)), 0, "%s", bad[i]);
		cr_assert(strstr(err, "flag --listen") != NULL && strstr(err, bad[i]) != NULL, "%s",
			  err);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct osh_gw_opts o;
		char err[512] = "";
		char *argv[] = {(char *)(uintptr_t) "gw", (char *)(uintptr_t) "--listen",
				(char *)(uintptr_t)good[i], (char *)(uintptr_t) "--insecure-tcp",
				NULL};
		osh_gw_opts_init(&o);
		cr_assert_eq(osh_gw_opts_parse(&o, 4, argv, err, sizeof(err)), 0, "%s: %s", good[i],
			     err);
		cr_assert_str_eq(o.listen, good[i]);
	}
}

/* ------------------------------------------------------------- labels -- */

/* CreateSandbox with labels (ks/vs, n of them); returns the status code and
 * fills msg; *out gets the sandbox (caller frees) when not NULL. */
static int create_labelled(struct grig *r, const char *name, const char *const *ks,
			   const char *const *vs, size_t n, char *msg, size_t cap,
			   Openshell__V1__Sandbox **out)
{
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	Openshell__V1__CreateSandboxRequest__LabelsEntry e[70], *ep[70];
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	cr_assert_leq(n, 70);
	for (size_t i = 0; i < n; i++) {
		openshell__v1__create_sandbox_request__labels_entry__init(&e[i]);
		e[i].key = (char *)(uintptr_t)ks[i];
		e[i].value = (char *)(uintptr_t)vs[i];
		ep[i] = &e[i];
	}
	req.name = (char *)(uintptr_t)name;
	req.labels = ep;
	req.n_labels = n;
	(void)call(r, "CreateSandbox", &req.base, &resp, &st);
	snprintf(msg, cap, "%s", st.message);
	if (out)
		*out = NULL;
	if (resp && out) {
		*out = ((Openshell__V1__CreateSandboxResponse *)resp)->sandbox;
		((Openshell__V1__CreateSandboxResponse *)resp)->sandbox = NULL;
	}
	osh_rpc_msg_free(resp);
	return st.code;
}

/* Names listed for a selector, every page followed (page size 2). */
static size_t list_sel(struct grig *r, const char *sel, char names[][32], size_t cap, int *code,
		       char *msg, size_t mcap)
{
	Openshell__V1__ListSandboxesRequest req = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	char token[32] = "";
	size_t n = 0;

	*code = 0;
	for (int pages = 0; pages < 100; pages++) {
		ProtobufCMessage *resp = NULL;
		Openshell__V1__ListSandboxesResponse *lr;
		struct osh_rpc_status st;

		req.label_selector = (char *)(uintptr_t)sel;
		req.page_size = 2;
		req.page_token = token;
		(void)call(r, "ListSandboxes", &req.base, &resp, &st);
		*code = st.code;
		snprintf(msg, mcap, "%s", st.message);
		if (st.code != 0)
			break;
		lr = (void *)resp;
		for (size_t i = 0; i < lr->n_sandboxes && n < cap; i++)
			snprintf(names[n++], 32, "%s", lr->sandboxes[i]->name);
		snprintf(token, sizeof(token), "%s", lr->next_page_token);
		osh_rpc_msg_free(resp);
		if (!token[0])
			break;
	}
	return n;
}

static const char *label_of(const Openshell__V1__Sandbox *sb, const char *key)
{
	for (size_t i = 0; i < sb->n_labels; i++)
		if (strcmp(sb->labels[i]->key, key) == 0)
			return sb->labels[i]->value;
	return NULL;
}

/* Labels given at create come back from create and list; a selector lists
 * exactly the sandboxes holding all its labels, across pages; a bad label or
 * selector is INVALID_ARGUMENT naming it and creates nothing. */
Test(gw_service, labels_created_listed_and_selected, .timeout = 120)
{
	struct grig r;
	Openshell__V1__Sandbox *sb = NULL;
	Openshell__V1__ListSandboxesResponse *lr;
	const char *k1[] = {"team", "tier"}, *v1[] = {"infra", "gold"};
	const char *k2[] = {"team"}, *v2[] = {"infra"};
	const char *k3[] = {"team", "tier"}, *v3[] = {"web", "gold"};
	char names[16][32], msg[512];
	size_t n;
	int code;

	rig_up(&r, fake_sleep, NULL);
	cr_assert_eq(create_labelled(&r, "l1", k1, v1, 2, msg, sizeof(msg), &sb), 0, "%s", msg);
	cr_assert_eq(sb->n_labels, 2);
	cr_assert_str_eq(label_of(sb, "tier"), "gold");
	protobuf_c_message_free_unpacked(&sb->base, NULL);
	cr_assert_eq(create_labelled(&r, "l2", k2, v2, 1, msg, sizeof(msg), NULL), 0, "%s", msg);
	cr_assert_eq(create_labelled(&r, "l3", k3, v3, 2, msg, sizeof(msg), NULL), 0, "%s", msg);
	cr_assert_eq(create_labelled(&r, "l4", NULL, NULL, 0, msg, sizeof(msg), NULL), 0, "%s",
		     msg);
	cr_assert_eq(create_labelled(&r, "l5", k1, v1, 2, msg, sizeof(msg), NULL), 0, "%s", msg);

	lr = list(&r);
	cr_assert_eq(lr->n_sandboxes, 5);
	cr_assert_str_eq(label_of(lr->sandboxes[2], "team"), "web");
	cr_assert_eq(lr->sandboxes[3]->n_labels, 0);
	osh_rpc_msg_free(&lr->base);

	n = list_sel(&r, "team=infra", names, 16, &code, msg, sizeof(msg));
	cr_assert_eq(code, 0, "%s", msg);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(names[0], "l1");
	cr_assert_str_eq(names[1], "l2");
	cr_assert_str_eq(names[2], "l5");
	n = list_sel(&r, "tier=gold,team=infra", names, 16, &code, msg, sizeof(msg));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(names[1], "l5");
	n = list_sel(&r, "tier=silver", names, 16, &code, msg, sizeof(msg));
	cr_assert_eq(code, 0);
	cr_assert_eq(n, 0);
	n = list_sel(&r, "", names, 16, &code, msg, sizeof(msg));
	cr_assert_eq(n, 5, "no selector lists all");

	/* bad selectors */
	(void)list_sel(&r, "team", names, 16, &code, msg, sizeof(msg));
	cr_assert_eq(code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(msg, "label_selector 'team': selector term 1: label 'team': expected "
			      "KEY=VALUE") != NULL,
		  "%s", msg);
	(void)list_sel(&r, "a=1,-b=2", names, 16, &code, msg, sizeof(msg));
	cr_assert_eq(code, OSH_RPC_INVALID_ARGUMENT);
	cr_assert(strstr(msg, "term 2: label key '-b'") != NULL, "%s", msg);

	/* bad labels: refused, naming the label, nothing created */
	{
		const char *bk[] = {"ok", "bad key"}, *bv[] = {"1", "2"};
		const char *ck[] = {"ctl"}, *cv[] = {"a\x1b[2Jb"};
		const char *dk[] = {"same", "same"}, *dv[] = {"1", "2"};
		const char *many_k[65], *many_v[65];
		char keys[65][8];

		cr_assert_eq(create_labelled(&r, "bad1", bk, bv, 2, msg, sizeof(msg), NULL),
			     OSH_RPC_INVALID_ARGUMENT);
		cr_assert(strstr(msg, "label key 'bad key'") != NULL, "%s", msg);
		cr_assert_eq(create_labelled(&r, "bad2", ck, cv, 1, msg, sizeof(msg), NULL),
			     OSH_RPC_INVALID_ARGUMENT);
		cr_assert(strstr(msg, "label 'ctl': value character 2 is not printable") != NULL,
			  "%s", msg);
		cr_assert_eq(create_labelled(&r, "bad3", dk, dv, 2, msg, sizeof(msg), NULL),
			     OSH_RPC_INVALID_ARGUMENT, "a repeated key on the wire");
		cr_assert(strstr(msg, "label 'same' given twice") != NULL, "%s", msg);
		for (int i = 0; i < 65; i++) {
			snprintf(keys[i], sizeof(keys[i]), "k%d", i);
			many_k[i] = keys[i];
			many_v[i] = "v";
		}
		cr_assert_eq(
		    create_labelled(&r, "bad4", many_k, many_v, 65, msg, sizeof(msg), NULL),
		    OSH_RPC_INVALID_ARGUMENT);
		cr_assert(strstr(msg, "65 labels: at most 64") != NULL, "%s", msg);
		cr_assert_eq(
		    create_labelled(&r, "ok64", many_k, many_v, 64, msg, sizeof(msg), NULL), 0,
		    "%s", msg);
	}
	lr = list(&r);
	cr_assert_eq(lr->n_sandboxes, 6, "only the valid ones exist");
	cr_assert_eq(lr->sandboxes[5]->n_labels, 64);
	osh_rpc_msg_free(&lr->base);
	rig_down(&r);
}
