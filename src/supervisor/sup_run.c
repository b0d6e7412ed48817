/* sup_run.c - openshell-sandbox start-up, config poll thread, shutdown.
 *
 * DESIGN
 * See osh_sup.h for the start-up order. The config poll thread owns its gRPC
 * client and the poll state; it sleeps on a condition variable (so stop is
 * immediate), calls GetSandboxPolicy, feeds the outcome to the pure state
 * machine (sup_poll.c) and performs the actions. After a failed poll the
 * channel is dropped and a new one made for the next try: gRPC's internal
 * reconnect backoff can grow to minutes, ours is bounded (sup_poll.h), so a
 * restarted gateway is picked up at the next poll. The current policy is one
 * pointer under a mutex: a reload validates the new policy off to the side
 * and swaps it in only when valid (last known good otherwise).
 */
#include "osh_sup.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "osh_emit.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "sup_args.h"
#include "sup_events.h"
#include "sup_policy.h"
#include "sup_poll.h"
#include "sup_proc.h"
#include "sup_push.h"

#define RPC_TIMEOUT_MS	3000
#define PUSH_FLUSH_MS	3000
#define PUSH_FEED_BYTES (1u << 20)

struct sup {
	const struct osh_sup_args *a;
	int64_t started_ms;

	/* policy (any thread, under mu) */
	pthread_mutex_t mu;
	osh_sup_policy_pb *policy;
	char policy_hash[72];

	/* poll thread */
	struct osh_rpc_client *client;
	struct osh_sup_cfg_state cfg;
	int64_t lost_at_ms;
	_Atomic uint64_t applied_revision; /* copy for the heartbeat (main thread) */
	pthread_t poll_th;
	bool poll_started;
	pthread_cond_t cv;
	bool stop;

	/* main thread: supervision */
	int child_pid;
	char why[160];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- policy */

static void policy_adopt(struct sup *s, const osh_sup_policy_pb *pb, uint32_t version,
			 const char *hash, const char *source, const char *path)
{
	char err[512];
	osh_sup_policy_pb *copy = NULL;
	osh_sup_policy_pb *old;
	char h[72];
	bool reload;

	if (osh_sup_policy_validate(pb, err, sizeof(err)) != 0) {
		pthread_mutex_lock(&s->mu);
		snprintf(h, sizeof(h), "%s", s->policy_hash);
		pthread_mutex_unlock(&s->mu);
		osh_sup_ev_policy_rejected(source, err, h);
		return;
	}
	if (osh_sup_policy_copy(pb, &copy) != 0) {
		osh_sup_ev_policy_rejected(source, "out of memory copying the policy", "");
		return;
	}
	if (!hash || !*hash) {
		if (osh_sup_policy_hash(copy, h) != 0)
			h[0] = '\0';
		hash = h;
	}
	pthread_mutex_lock(&s->mu);
	old = s->policy;
	reload = old != NULL;
	s->policy = copy;
	snprintf(s->policy_hash, sizeof(s->policy_hash), "%s", hash);
	pthread_mutex_unlock(&s->mu);
	osh_sup_policy_free(old);
	osh_sup_ev_policy_loaded(source, path, version ? version : copy->version, hash,
				 (unsigned)osh_sup_policy_rule_count(copy), reload);
}

static bool have_policy(struct sup *s)
{
	bool r;

	pthread_mutex_lock(&s->mu);
	r = s->policy != NULL;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void policy_local(struct sup *s)
{
	const char *path = s->a->policy_file;
	osh_sup_policy_pb *pb = NULL;
	char err[512];

	if (have_policy(s))
		return;
	if (!path) {
		osh_sup_ev_policy_default();
		return;
	}
	if (osh_sup_policy_load_file(path, &pb, err, sizeof(err)) != 0) {
		osh_sup_ev_policy_fallback(path, err);
		return;
	}
	if (osh_sup_policy_validate(pb, err, sizeof(err)) != 0) {
		osh_sup_ev_policy_fallback(path, err);
		osh_sup_policy_free(pb);
		return;
	}
	policy_adopt(s, pb, pb->version, NULL, "file", path);
	osh_sup_policy_free(pb);
}

/* ------------------------------------------------------------------ poll */

/* One GetSandboxPolicy. On success *resp holds the response (caller frees). */
static void poll_once(struct sup *s, struct osh_sup_poll_result *r,
		      Openshell__V1__GetSandboxPolicyResponse **resp, char *detail, size_t dlen)
{
	Openshell__V1__GetSandboxPolicyRequest req =
	    OPENSHELL__V1__GET_SANDBOX_POLICY_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = RPC_TIMEOUT_MS};
	struct osh_rpc_status st = {0};
	ProtobufCMessage *m = NULL;
	const Openshell__V1__GetSandboxPolicyResponse *g;

	memset(r, 0, sizeof(*r));
	*resp = NULL;
	detail[0] = '\0';
	if (!s->client) {
		r->err = osh_rpc_client_create(
		    s->a->gateway, &openshell__v1__open_shell__descriptor, NULL, &s->client);
		if (r->err) {
			snprintf(detail, dlen, "cannot create a channel: %s", osh_strerror(r->err));
			return;
		}
	}
	req.sandbox_id = (char *)(uintptr_t)s->a->sandbox_id;
	r->err = osh_rpc_client_unary(s->client, "GetSandboxPolicy", &req.base, &o, &m, &st);
	if (r->err) {
		snprintf(detail, dlen, "GetSandboxPolicy: %s: %s", osh_rpc_status_name(st.code),
			 st.message);
		osh_rpc_client_destroy(s->client); /* fresh channel next time */
		s->client = NULL;
		return;
	}
	g = (const Openshell__V1__GetSandboxPolicyResponse *)m;
	*resp = (Openshell__V1__GetSandboxPolicyResponse *)m;
	if (g->sandbox_config) {
		r->has_config = true;
		r->revision = g->sandbox_config->config_revision;
		r->ocsf_enabled =
		    g->sandbox_config->logging && g->sandbox_config->logging->ocsf_enabled;
	}
	r->has_policy = g->policy != NULL;
	r->policy_hash = g->policy_hash;
}

static void perform(struct sup *s, const struct osh_sup_poll_actions *act,
		    const Openshell__V1__GetSandboxPolicyResponse *resp, const char *detail,
		    bool at_start)
{
	int64_t now = mono_ms();

	if (act->lost) {
		s->lost_at_ms = now;
		osh_sup_ev_gateway_lost(s->a->gateway, detail, at_start);
	}
	if (act->restored)
		osh_sup_ev_gateway_restored(s->a->gateway, act->failures, now - s->lost_at_ms);
	if (act->apply_config) {
		/* Enable before the event, disable after it: the CONFIG_UPDATED
		 * event is in the JSONL file either way. */
		if (act->new_enabled)
			osh_emit_set_jsonl(true);
		osh_sup_ev_config_updated(act);
		atomic_store(&s->applied_revision, act->new_revision);
		if (!act->new_enabled)
			osh_emit_set_jsonl(false);
	}
	if (act->stale_config)
		osh_sup_ev_config_stale(act);
	if (act->bad_policy_hash) {
		char h[72], why[128];

		pthread_mutex_lock(&s->mu);
		snprintf(h, sizeof(h), "%s", s->policy_hash);
		pthread_mutex_unlock(&s->mu);
		snprintf(
		    why, sizeof(why),
		    "invalid response: policy_hash of %zu bytes is not %d lowercase hex digits",
		    resp && resp->policy_hash ? strlen(resp->policy_hash) : (size_t)0,
		    OSH_SUP_POLICY_HASH_LEN);
		osh_sup_ev_policy_rejected("gateway", why, h);
	}
	if (act->reload_policy && resp && resp->policy)
		policy_adopt(s, resp->policy, resp->version, resp->policy_hash, "gateway", NULL);
	if (act->policy_absent && have_policy(s)) {
		char h[72];

		pthread_mutex_lock(&s->mu);
		snprintf(h, sizeof(h), "%s", s->policy_hash);
		pthread_mutex_unlock(&s->mu);
		osh_sup_ev_policy_absent(h);
	}
}

static void *poll_main(void *arg)
{
	struct sup *s = arg;
	int64_t delay = s->a->poll_ms;

	for (;;) {
		struct timespec ts;
		struct osh_sup_poll_result r;
		struct osh_sup_poll_actions act;
		Openshell__V1__GetSandboxPolicyResponse *resp = NULL;
		char detail[640];
		bool stop;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += delay / 1000;
		ts.tv_nsec += (delay % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->mu);
		while (!s->stop) {
			if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
				break;
		}
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		poll_once(s, &r, &resp, detail, sizeof(detail));
		osh_sup_poll_step(&s->cfg, &r, s->a->poll_ms, &act);
		perform(s, &act, resp, detail, false);
		osh_rpc_msg_free(resp ? &resp->base : NULL);
		delay = act.next_delay_ms;
	}
	return NULL;
}

/* ----------------------------------------------------------- supervision */

static void on_note(void *ud, const struct osh_sup_proc_note *n)
{
	struct sup *s = ud;

	switch (n->kind) {
	case OSH_SUP_NOTE_TICK:
		osh_sup_ev_heartbeat(s->child_pid, mono_ms() - s->started_ms,
				     atomic_load(&s->applied_revision));
		return;
	case OSH_SUP_NOTE_HUP:
		osh_emit_request_reopen();
		osh_log(OSH_LEVEL_INFO, "supervisor", "SIGHUP: reopening log files");
		return;
	case OSH_SUP_NOTE_LAUNCH:
		s->child_pid = n->pid;
		osh_sup_ev_proc(n, s->a->timeout_ms);
		osh_sup_ev_ready(n->pid, mono_ms() - s->started_ms);
		return;
	case OSH_SUP_NOTE_LAUNCH_FAIL:
		snprintf(s->why, sizeof(s->why), "command could not be launched: %s",
			 strerror(n->err_no));
		break;
	case OSH_SUP_NOTE_EXIT:
		if (n->timed_out)
			snprintf(s->why, sizeof(s->why), "command timed out");
		else if (n->signal)
			snprintf(s->why, sizeof(s->why), "command killed by signal %d", n->signal);
		else
			snprintf(s->why, sizeof(s->why), "command exited with code %d",
				 n->exit_code);
		break;
	case OSH_SUP_NOTE_SIGNAL:
		snprintf(s->why, sizeof(s->why), "supervisor received signal %d", n->signal);
		break;
	default:
		break;
	}
	osh_sup_ev_proc(n, s->a->timeout_ms);
}

static int setup_context(const struct osh_sup_args *a)
{
	char host[256] = "";
	int rc;

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "openshell-sandbox");
	rc = osh_ctx_set_sandbox(a->sandbox_id ? a->sandbox_id : "",
				 a->sandbox_name ? a->sandbox_name : "");
	if (!rc)
		rc = osh_ctx_set_hostname(host);
	if (!rc)
		rc = osh_ctx_set_product(OSH_SUP_PRODUCT, OSH_SUP_VENDOR, OSH_VERSION);
	return rc;
}

static int start_sinks(const struct osh_sup_args *a)
{
	struct osh_emit_config cfg;

	osh_emit_config_default(&cfg);
	cfg.log_dir = a->log_dir;
	cfg.jsonl = false;
	if (a->gateway)
		cfg.push_bytes = PUSH_FEED_BYTES;
	return osh_emit_init(&cfg);
}

int osh_sup_main(int argc, char **argv, char **envp)
{
	int code = OSH_SUP_EXIT_INTERNAL;
	struct osh_sup_args a;
	struct sup s;
	char err[512];
	char **child_env = NULL;
	char **cmd = NULL;
	struct osh_sup_push *push = NULL;
	bool sinks = false;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	s.started_ms = mono_ms();
	osh_sup_poll_state_init(&s.cfg);

	/* 1. signals first: every thread created later inherits the mask. */
	if (osh_sup_signals_block() != 0) {
		fprintf(stderr, "openshell-sandbox: cannot set up signal handling: %s\n",
			strerror(errno));
		goto out_args;
	}
	/* 2. arguments */
	rc = osh_sup_args_parse(&a, argc, argv, envp, err, sizeof(err));
	s.a = &a;
	if (rc) {
		fprintf(stderr, "openshell-sandbox: %s\n", err);
		goto out_args;
	}
	/* The sandbox credential goes with every call to the gateway. */
	if (a.credential != NULL &&
	    osh_rpc_client_set_identity(OSH_RPC_MD_SANDBOX_CREDENTIAL, a.credential) != 0) {
		fprintf(stderr, "openshell-sandbox: cannot keep the sandbox credential\n");
		goto out_args;
	}
	if (a.help || a.version) {
		if (a.help)
			osh_sup_args_usage(stdout, argv[0]);
		else
			printf("openshell-sandbox %s\n", OSH_VERSION);
		code = 0;
		goto out_args;
	}
	/* 3. context, 4. sinks */
	if (setup_context(&a) != 0 || start_sinks(&a) != 0) {
		fprintf(stderr, "openshell-sandbox: cannot start the log runtime\n");
		goto out_args;
	}
	sinks = true;

	/* 5. first fetch: decides the initial JSONL state before any event. */
	if (a.gateway) {
		struct osh_sup_poll_result r;
		struct osh_sup_poll_actions act;
		Openshell__V1__GetSandboxPolicyResponse *resp = NULL;
		char detail[640];

		poll_once(&s, &r, &resp, detail, sizeof(detail));
		osh_sup_poll_step(&s.cfg, &r, a.poll_ms, &act);
		if (act.apply_config && act.new_enabled)
			osh_emit_set_jsonl(true);
		/* 6. */
		osh_sup_ev_start(a.sandbox_id, a.gateway, a.log_dir);
		perform(&s, &act, resp, detail, true);
		osh_rpc_msg_free(resp ? &resp->base : NULL);
	} else {
		osh_sup_ev_start(a.sandbox_id, NULL, a.log_dir);
	}
	/* 7. */
	policy_local(&s);

	if (a.workdir) {
		struct stat wd;
		const char *bad = NULL;

		if (stat(a.workdir, &wd) != 0)
			bad = strerror(errno);
		else if (!S_ISDIR(wd.st_mode))
			bad = "not a directory";
		if (bad) {
			char why[600];

			snprintf(why, sizeof(why), "--workdir %s: %s", a.workdir, bad);
			fprintf(stderr, "openshell-sandbox: %s\n", why);
			osh_sup_ev_start_failed(why);
			goto out;
		}
	}

	if (osh_sup_env_build(envp, a.pass_env, a.n_pass_env, a.extra_env, a.n_extra_env,
			      a.sandbox_id, a.sandbox_name, &child_env) != 0) {
		osh_sup_ev_start_failed("cannot build the command's environment");
		goto out;
	}
	cmd = calloc((size_t)a.n_command + 1, sizeof(*cmd));
	if (!cmd) {
		osh_sup_ev_start_failed("out of memory");
		goto out;
	}
	memcpy(cmd, a.command, sizeof(*cmd) * (size_t)a.n_command);

	/* 8. */
	if (a.gateway) {
		if (osh_sup_push_create(a.gateway, a.sandbox_id, &push) != 0 ||
		    osh_sup_push_start(push) != 0) {
			osh_sup_ev_start_failed("cannot start the log push thread");
			goto out;
		}
		if (pthread_create(&s.poll_th, NULL, poll_main, &s) != 0) {
			osh_sup_ev_start_failed("cannot start the config poll thread");
			goto out;
		}
		s.poll_started = true;
	}
	/* 9. */
	{
		struct osh_sup_proc_opts po = {
		    .argv = cmd,
		    .env = child_env,
		    .workdir = a.workdir,
		    .timeout_ms = a.timeout_ms,
		    .grace_ms = a.grace_ms,
		    .tick_ms = a.heartbeat_ms,
		    .note = on_note,
		    .note_ud = &s,
		};

		snprintf(s.why, sizeof(s.why), "command finished");
		code = osh_sup_proc_run(&po);
	}
	/* 10. */
	osh_sup_ev_stop(code, s.why);
out:
	if (s.poll_started) {
		pthread_mutex_lock(&s.mu);
		s.stop = true;
		pthread_cond_signal(&s.cv);
		pthread_mutex_unlock(&s.mu);
		pthread_join(s.poll_th, NULL);
	}
	osh_rpc_client_destroy(s.client);
	if (push) {
		osh_sup_push_stop(push, PUSH_FLUSH_MS);
		osh_sup_push_destroy(push);
	}
	if (sinks)
		osh_emit_shutdown();
	osh_sup_env_free(child_env);
	free(cmd);
	osh_sup_policy_free(s.policy);
out_args:
	osh_sup_args_fini(&a);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
	return code;
}
