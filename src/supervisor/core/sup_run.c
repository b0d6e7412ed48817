/* sup_run.c - openshell-sandbox start-up, config poll thread, shutdown.
 *
 * DESIGN
 * See osh_sup.h for the start-up order. The config poll thread owns its gRPC
 * client and the poll state; it sleeps on a condition variable (so stop is
 * immediate), calls GetSandboxPolicy, feeds the outcome to the pure state
 * machine (sup_poll.c) and performs the actions. After a failed poll the
 * channel is dropped and a new one made for the next try: gRPC's internal
 * reconnect backoff can grow to minutes, ours is bounded (sup_poll.h), so a
 * restarted gateway is picked up at the next poll. The current policy lives
 * in the policy store (src/policy/osh_policy_store.h): a reload validates the
 * new policy off to the side, publishes it only when valid (last known good
 * otherwise) and tells every subsystem (on_policy) to re-read the store.
 *
 * Subsystems (sup_subsys.h) are one table below: adding the proxy, the
 * namespace, confinement or SSH is one row. They are initialised and started
 * in table order before the command launches, their child_setup hooks run in
 * table order in the forked child, and they are stopped in reverse order on
 * every exit path. The first policy event is emitted after they started, so
 * its `enforced` list says what is really in force when the command runs.
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
#include "osh_time.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "sup_args.h"
#include "sup_events.h"
#include "osh_policy.h"
#include "osh_policy_store.h"
#include "agentlog_subsys.h"
#include "confine_subsys.h"
#include "denials_subsys.h"
#include "net_subsys.h"
#include "proxy_subsys.h"
#include "push_subsys.h"
#include "ssh_subsys.h"
#include "sup_poll.h"
#include "sup_proc.h"
#include "sup_subsys.h"

#define RPC_TIMEOUT_MS	3000
#define PUSH_FEED_BYTES (1u << 20)

/* The subsystems, in start-up and child set-up order (see sup_subsys.h). */
static const struct osh_sup_subsys *const subsystems[] = {
    &osh_sup_push_subsys,     /* first: later rows push through it */
    &osh_sup_agentlog_subsys, /* the command's stdout and stderr */
    &osh_sup_denials_subsys,  /* before net and proxy: they record into it */
    &osh_sup_net_subsys,      /* before the proxy: it publishes net_host_ip */
    &osh_sup_proxy_subsys,    /* the egress proxy */
    &osh_sup_confine_subsys,  /* ids, Landlock, seccomp right before exec */
    &osh_sup_ssh_subsys,      /* last: its sessions use the plan above; first stopped */
};
#define N_SUBSYS (sizeof(subsystems) / sizeof(subsystems[0]))

/* A policy event held back until the subsystems have started (start-up). */
struct policy_note {
	bool pending;
	char source[16];
	char path[512];
	uint32_t version;
	char hash[72];
	unsigned rules;
	bool reload;
};

struct sup {
	const struct osh_sup_args *a;
	int64_t started_ms;

	/* policy: the store (thread-safe) and the held-back first event */
	pthread_mutex_t mu;
	/* held across "subsystems running?" + on_policy calls, and while
	 * subsys_stop_all() flips subsys_running: no on_policy runs into a
	 * subsystem being stopped, even with the poll thread still in a call */
	pthread_mutex_t notify_mu;
	struct osh_policy_store *policy;
	struct policy_note first_note;
	bool subsys_running; /* after start: notify on_policy, emit at once */

	/* subsystems */
	struct osh_sup_host host;
	void *subsys_state[N_SUBSYS];
	bool subsys_inited[N_SUBSYS];
	bool subsys_started[N_SUBSYS];

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

/* ---------------------------------------------------------------- policy */

/* Hash of the current policy ("" when none) into out[72]. */
static void current_hash(struct sup *s, char *out, size_t cap)
{
	const struct osh_policy_snap *snap = osh_policy_store_get(s->policy);

	snprintf(out, cap, "%s", snap->hash);
	osh_policy_snap_release(snap);
}

static bool have_policy(struct sup *s)
{
	const struct osh_policy_snap *snap = osh_policy_store_get(s->policy);
	bool r = snap->policy != NULL;

	osh_policy_snap_release(snap);
	return r;
}

/* Tells every running subsystem that the store holds generation `gen`. */
static void notify_policy(struct sup *s, uint64_t gen)
{
	for (size_t i = 0; i < N_SUBSYS; i++)
		if (s->subsys_started[i] && subsystems[i]->on_policy)
			subsystems[i]->on_policy(s->subsys_state[i], gen);
}

static void policy_adopt(struct sup *s, const osh_policy_pb *pb, uint32_t version, const char *hash,
			 const char *source, const char *path)
{
	char err[512];
	osh_policy_pb *copy = NULL;
	char h[72];
	unsigned rules;
	uint64_t gen = 0;
	bool reload, running;

	if (osh_policy_validate(pb, err, sizeof(err)) != 0) {
		current_hash(s, h, sizeof(h));
		osh_sup_ev_policy_rejected(source, err, h);
		return;
	}
	if (osh_policy_copy(pb, &copy) != 0) {
		osh_sup_ev_policy_rejected(source, "out of memory copying the policy", "");
		return;
	}
	if (!version)
		version = copy->version;
	rules = (unsigned)osh_policy_rule_count(copy);
	reload = have_policy(s);
	if (osh_policy_store_put(s->policy, copy, source, &gen) != 0) {
		osh_sup_ev_policy_rejected(source, "out of memory publishing the policy", "");
		return;
	}
	if (!hash || !*hash) {
		current_hash(s, h, sizeof(h));
		hash = h;
	}
	pthread_mutex_lock(&s->notify_mu);
	pthread_mutex_lock(&s->mu);
	running = s->subsys_running;
	if (!running) {
		struct policy_note *n = &s->first_note;

		n->pending = true;
		snprintf(n->source, sizeof(n->source), "%s", source);
		snprintf(n->path, sizeof(n->path), "%s", path ? path : "");
		n->version = version;
		snprintf(n->hash, sizeof(n->hash), "%s", hash);
		n->rules = rules;
		n->reload = reload;
	}
	pthread_mutex_unlock(&s->mu);
	if (running)
		notify_policy(s, gen);
	pthread_mutex_unlock(&s->notify_mu);
	if (running)
		osh_sup_ev_policy_loaded(source, path, version, hash, rules, reload);
}

/* Emits the policy event held back during start-up (after the subsystems
 * started, so its enforced list is true when the command runs). */
static void policy_announce(struct sup *s)
{
	struct policy_note n;

	pthread_mutex_lock(&s->mu);
	n = s->first_note;
	s->first_note.pending = false;
	s->subsys_running = true;
	pthread_mutex_unlock(&s->mu);
	if (n.pending)
		osh_sup_ev_policy_loaded(n.source, n.path[0] ? n.path : NULL, n.version, n.hash,
					 n.rules, n.reload);
	else if (!have_policy(s) && !s->a->policy_file)
		osh_sup_ev_policy_default();
}

static void policy_local(struct sup *s)
{
	const char *path = s->a->policy_file;
	osh_policy_pb *pb = NULL;
	char err[512];

	if (have_policy(s) || !path)
		return;
	if (osh_policy_load_file(path, &pb, err, sizeof(err)) != 0) {
		osh_sup_ev_policy_fallback(path, err);
		return;
	}
	if (osh_policy_validate(pb, err, sizeof(err)) != 0) {
		osh_sup_ev_policy_fallback(path, err);
		osh_policy_free(pb);
		return;
	}
	policy_adopt(s, pb, pb->version, NULL, "file", path);
	osh_policy_free(pb);
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
		r->ocsf_schema_version = g->sandbox_config->logging
					     ? g->sandbox_config->logging->ocsf_schema_version
					     : NULL;
	}
	r->has_policy = g->policy != NULL;
	r->policy_hash = g->policy_hash;
}

static void perform(struct sup *s, const struct osh_sup_poll_actions *act,
		    const Openshell__V1__GetSandboxPolicyResponse *resp, const char *detail,
		    bool at_start)
{
	int64_t now = osh_time_mono_ms();

	if (act->lost) {
		s->lost_at_ms = now;
		osh_sup_ev_gateway_lost(s->a->gateway, detail, at_start);
	}
	if (act->restored)
		osh_sup_ev_gateway_restored(s->a->gateway, act->failures, now - s->lost_at_ms);
	if (act->apply_config) {
		/* Enable before the event, disable after it: the CONFIG_UPDATED
		 * event is in the JSONL file either way. */
		/* The version first: the event itself is written in it. */
		osh_emit_set_jsonl_version((enum ocsf_version)act->new_version);
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

		current_hash(s, h, sizeof(h));
		snprintf(
		    why, sizeof(why),
		    "invalid response: policy_hash of %zu bytes is not %d lowercase hex digits",
		    resp && resp->policy_hash ? strlen(resp->policy_hash) : (size_t)0,
		    OSH_POLICY_HASH_LEN);
		osh_sup_ev_policy_rejected("gateway", why, h);
	}
	if (act->reload_policy && resp && resp->policy)
		policy_adopt(s, resp->policy, resp->version, resp->policy_hash, "gateway", NULL);
	if (act->policy_absent && have_policy(s)) {
		char h[72];

		current_hash(s, h, sizeof(h));
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

static void on_child_all(struct sup *s, pid_t pid)
{
	for (size_t i = 0; i < N_SUBSYS; i++)
		if (s->subsys_started[i] && subsystems[i]->on_child)
			subsystems[i]->on_child(s->subsys_state[i], pid);
}

static void on_note(void *ud, const struct osh_sup_proc_note *n)
{
	struct sup *s = ud;

	switch (n->kind) {
	case OSH_SUP_NOTE_TICK:
		osh_sup_ev_heartbeat(s->child_pid, osh_time_mono_ms() - s->started_ms,
				     atomic_load(&s->applied_revision));
		return;
	case OSH_SUP_NOTE_HUP:
		osh_emit_request_reopen();
		osh_log(OSH_LEVEL_INFO, "supervisor",
			"SIGHUP: reopening log files (%u signal%s since the last reopen)", n->hups,
			n->hups == 1 ? "" : "s");
		return;
	case OSH_SUP_NOTE_LAUNCH:
		s->child_pid = n->pid;
		on_child_all(s, n->pid);
		osh_sup_ev_proc(n, s->a->timeout_ms);
		osh_sup_ev_ready(n->pid, osh_time_mono_ms() - s->started_ms);
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

/* --------------------------------------------------------- subsystems */

/* In the forked child: every subsystem's set-up, in table order. */
static int child_setup_all(void *ud, const char **step)
{
	struct sup *s = ud;
	int e = 0;

	for (size_t i = 0; i < N_SUBSYS && !e; i++)
		if (s->subsys_started[i] && subsystems[i]->child_setup)
			e = subsystems[i]->child_setup(s->subsys_state[i], step);
	return e;
}

/* In a forked child: the confining subsystems' set-up only (the sandbox
 * plan that SSH sessions get, host->sandbox_setup). Started subsystems only:
 * a stopped one's prepared data may be gone. */
static int sandbox_setup_all(void *ud, const char **step)
{
	struct sup *s = ud;
	int e = 0;

	for (size_t i = 0; i < N_SUBSYS && !e; i++)
		if (s->subsys_started[i] && subsystems[i]->confines && subsystems[i]->child_setup)
			e = subsystems[i]->child_setup(s->subsys_state[i], step);
	return e;
}

/* init then start every subsystem; on failure *why names it. */
static int subsys_start_all(struct sup *s, char *why, size_t cap)
{
	int rc = 0;

	for (size_t i = 0; i < N_SUBSYS && !rc; i++) {
		rc = subsystems[i]->init(&s->host, &s->subsys_state[i]);
		if (rc)
			snprintf(why, cap, "subsystem %s: init failed: %s", subsystems[i]->name,
				 osh_strerror(rc));
		else
			s->subsys_inited[i] = s->subsys_state[i] != NULL;
	}
	for (size_t i = 0; i < N_SUBSYS && !rc; i++) {
		if (!s->subsys_inited[i])
			continue;
		if (subsystems[i]->start)
			rc = subsystems[i]->start(s->subsys_state[i]);
		if (rc)
			snprintf(why, cap, "subsystem %s: start failed: %s", subsystems[i]->name,
				 osh_strerror(rc));
		else
			s->subsys_started[i] = true;
	}
	return rc;
}

static void subsys_stop_all(struct sup *s)
{
	pthread_mutex_lock(&s->notify_mu);
	pthread_mutex_lock(&s->mu);
	s->subsys_running = false;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_unlock(&s->notify_mu);
	for (size_t i = N_SUBSYS; i-- > 0;) {
		if (s->subsys_started[i] && subsystems[i]->stop)
			subsystems[i]->stop(s->subsys_state[i]);
		s->subsys_started[i] = false;
	}
	for (size_t i = N_SUBSYS; i-- > 0;) {
		if (s->subsys_inited[i] && subsystems[i]->fini)
			subsystems[i]->fini(s->subsys_state[i]);
		s->subsys_inited[i] = false;
		s->subsys_state[i] = NULL;
	}
}

int osh_sup_main(int argc, char **argv, char **envp)
{
	int code = OSH_SUP_EXIT_INTERNAL;
	struct osh_sup_args a;
	struct sup s;
	char err[512];
	char **child_env = NULL;
	char **cmd = NULL;
	bool sinks = false;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&a, 0, sizeof(a));
	pthread_mutex_init(&s.mu, NULL);
	pthread_mutex_init(&s.notify_mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	s.started_ms = osh_time_mono_ms();
	osh_sup_poll_state_init(&s.cfg);
	if (osh_policy_store_new(&s.policy) != 0) {
		fprintf(stderr, "openshell-sandbox: out of memory\n");
		goto out_args;
	}

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
	s.host.args = &a;
	s.host.policy = s.policy;
	s.host.sandbox_id = a.sandbox_id ? a.sandbox_id : "";
	s.host.sandbox_name = a.sandbox_name ? a.sandbox_name : "";
	s.host.log_dir = a.log_dir ? a.log_dir : "";
	s.host.sandbox_setup = sandbox_setup_all;
	s.host.sandbox_ud = &s;
	s.host.envp = envp;
	/* The operator's --env first; subsystems' variables override them. */
	for (int i = 0; i < a.n_extra_env; i++) {
		const char *eq = strchr(a.extra_env[i], '=');
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)(eq - a.extra_env[i]), a.extra_env[i]);
		if (osh_sup_host_setenv(&s.host, name, eq + 1) != 0) {
			fprintf(stderr, "openshell-sandbox: --env %s: cannot add it\n", name);
			goto out_args;
		}
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
		if (act.apply_config)
			osh_emit_set_jsonl_version((enum ocsf_version)act.new_version);
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

	/* 8. subsystems (push, ...), then the config poll thread. */
	{
		char why[256];

		if (subsys_start_all(&s, why, sizeof(why)) != 0) {
			fprintf(stderr, "openshell-sandbox: %s\n", why);
			osh_sup_ev_start_failed(why);
			goto out;
		}
	}
	policy_announce(&s);
	if (a.gateway) {
		if (pthread_create(&s.poll_th, NULL, poll_main, &s) != 0) {
			osh_sup_ev_start_failed("cannot start the config poll thread");
			goto out;
		}
		s.poll_started = true;
	}

	if (osh_sup_host_child_env(&s.host, &child_env) != 0) {
		osh_sup_ev_start_failed("cannot build the command's environment");
		goto out;
	}
	cmd = calloc((size_t)a.n_command + 1, sizeof(*cmd));
	if (!cmd) {
		osh_sup_ev_start_failed("out of memory");
		goto out;
	}
	memcpy(cmd, a.command, sizeof(*cmd) * (size_t)a.n_command);

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
		    .child_setup = child_setup_all,
		    .child_ud = &s,
		};

		snprintf(s.why, sizeof(s.why), "command finished");
		code = osh_sup_proc_run(&po);
	}
	/* 10. */
	osh_sup_ev_stop(code, s.why);
out:
	/* Shutdown is bounded by the push's 3 s (F12): the poll thread is asked
	 * to stop first but joined only after the subsystems stopped, so a
	 * GetSandboxPolicy in flight to a hung gateway (RPC_TIMEOUT_MS, begun
	 * before the stop) runs out while the push flushes, not before it. */
	if (s.poll_started) {
		pthread_mutex_lock(&s.mu);
		s.stop = true;
		pthread_cond_signal(&s.cv);
		pthread_mutex_unlock(&s.mu);
	}
	subsys_stop_all(&s);
	if (s.poll_started)
		pthread_join(s.poll_th, NULL);
	osh_rpc_client_destroy(s.client);
	if (sinks)
		osh_emit_shutdown();
	osh_sup_env_free(child_env);
	free(cmd);
out_args:
	osh_sup_host_fini(&s.host);
	osh_policy_store_free(s.policy);
	osh_sup_args_fini(&a);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.notify_mu);
	pthread_mutex_destroy(&s.mu);
	return code;
}
