/* ssh_subsys.c - the SSH server as a supervisor subsystem.
 *
 * DESIGN
 * Active only when the gateway handed a preface secret over the bootstrap
 * fd (ssh=HEX): standalone supervisors run no SSH server. init checks the
 * configuration (secret shape, sandbox id usable as a file name, run
 * directory, OPENSHELL_SSH_PREFACE_TIMEOUT: how long a connection may take
 * for its preface and then its SSH handshake, default 10 s); start - the last row of the table, so every other subsystem
 * has published its environment and is ready to confine - builds the
 * sessions' environment (the command's: osh_sup_host_child_env), creates
 * the server (host key, socket) with the host's sandbox plan, starts it,
 * marks "ssh" enforced and starts a reporter thread that tells the gateway
 * the endpoint and host key (ReportSandboxSsh, with the sandbox
 * credential), retrying with a backoff from 200 ms to 5 s until it got
 * through. stop (first of all, reverse order) stops the reporter, the
 * server and its sessions, and takes "ssh" out of the enforced set.
 */
#include "ssh_subsys.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "osh_emit.h"
#include "osh_parse.h"
#include "osh_rpc.h"
#include "osh_ssh.h"
#include "osh_ssh_preface.h"
#include "sandbox.pb-c.h"
#include "sup_enforce.h"
#include "sup_proc.h"

struct ssh_sub {
	struct osh_sup_host *host;
	struct osh_ssh_server *srv;
	char **env;
	char sock[256];
	int64_t preface_ms; /* 0 = the server's default */
	/* reporter */
	pthread_t th;
	bool th_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' ||
		      id[i] == '.'))
			return false;
	return n > 0 && n <= 64 && id[0] != '.';
}

static void ssh_fini(void *state);

static int ssh_init(struct osh_sup_host *host, void **state)
{
	const char *secret = host->args->ssh_secret;
	const char *dir = getenv("OPENSHELL_SSH_RUN_DIR");
	struct ssh_sub *st = NULL;
	int64_t pre_ms = 0;
	int rc = 0;

	*state = NULL;
	if (!secret)
		goto out; /* standalone, or a gateway without SSH: no server */
	rc = OSH_EINVAL;
	if (strlen(secret) != OSH_SSH_SECRET_HEX) {
		osh_log(OSH_LEVEL_ERROR, "ssh", "the bootstrap's ssh= secret is not %d hex digits",
			OSH_SSH_SECRET_HEX);
		goto out;
	}
	if (!id_ok(host->sandbox_id)) {
		osh_log(OSH_LEVEL_ERROR, "ssh",
			"sandbox id '%.80s' cannot name the SSH socket ([A-Za-z0-9._-], 1-64)",
			host->sandbox_id);
		goto out;
	}
	{
		const char *t = getenv("OPENSHELL_SSH_PREFACE_TIMEOUT");

		if (t && *t &&
		    (osh_parse_duration_ms(t, &pre_ms) != 0 || pre_ms < 100 || pre_ms > 600000)) {
			osh_log(OSH_LEVEL_ERROR, "ssh",
				"OPENSHELL_SSH_PREFACE_TIMEOUT=%.40s: not a duration from 100ms to 10m",
				t);
			goto out;
		}
	}
	if (!dir || !*dir)
		dir = OSH_SSH_RUN_DIR_DEFAULT;
	if (dir[0] != '/') {
		osh_log(OSH_LEVEL_ERROR, "ssh", "OPENSHELL_SSH_RUN_DIR=%.200s is not absolute",
			dir);
		goto out;
	}
	rc = OSH_ENOMEM;
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	st->host = host;
	st->preface_ms = pre_ms;
	if (snprintf(st->sock, sizeof(st->sock), "%s/%s.sock", dir, host->sandbox_id) >=
	    (int)sizeof(st->sock)) {
		rc = OSH_ETOOBIG;
		osh_log(OSH_LEVEL_ERROR, "ssh", "OPENSHELL_SSH_RUN_DIR is too long");
		goto out;
	}
	*state = st;
	st = NULL;
	rc = 0;
out:
	ssh_fini(st);
	return rc;
}

/* One ReportSandboxSsh. 0 or an OSH_E*. */
static int report_once(struct ssh_sub *st, char *why, size_t cap)
{
	Openshell__V1__ReportSandboxSshRequest req =
	    OPENSHELL__V1__REPORT_SANDBOX_SSH_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = 2000};
	struct osh_rpc_status rs = {0};
	struct osh_rpc_client *cl = NULL;
	ProtobufCMessage *resp = NULL;
	int rc;

	rc = osh_rpc_client_create(st->host->args->gateway, &openshell__v1__open_shell__descriptor,
				   NULL, &cl);
	if (rc) {
		snprintf(why, cap, "cannot create a channel: %s", osh_strerror(rc));
		goto out;
	}
	req.sandbox_id = OSH_RPC_STR(st->host->sandbox_id);
	req.endpoint = OSH_RPC_STR(osh_ssh_server_endpoint(st->srv));
	req.host_key = OSH_RPC_STR(osh_ssh_server_pubkey(st->srv));
	req.fingerprint = OSH_RPC_STR(osh_ssh_server_fingerprint(st->srv));
	rc = osh_rpc_client_unary(cl, "ReportSandboxSsh", &req.base, &o, &resp, &rs);
	if (rc)
		snprintf(why, cap, "%s: %s", osh_rpc_status_name(rs.code), rs.message);
out:
	osh_rpc_msg_free(resp);
	osh_rpc_client_destroy(cl);
	return rc;
}

static void *report_main(void *p)
{
	struct ssh_sub *st = p;
	int64_t delay_ms = 200;
	unsigned fails = 0;

	for (;;) {
		char why[640] = "";
		struct timespec ts;
		bool stop;

		if (report_once(st, why, sizeof(why)) == 0) {
			osh_log(OSH_LEVEL_INFO, "ssh",
				"SSH endpoint %s (host key %s) reported to the gateway",
				osh_ssh_server_endpoint(st->srv),
				osh_ssh_server_fingerprint(st->srv));
			break;
		}
		if (fails++ == 0)
			osh_log(OSH_LEVEL_WARN, "ssh",
				"cannot report the SSH endpoint to the gateway (%s); retrying",
				why);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += delay_ms / 1000;
		ts.tv_nsec += (delay_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&st->mu);
		while (!st->stop && pthread_cond_timedwait(&st->cv, &st->mu, &ts) != ETIMEDOUT)
			;
		stop = st->stop;
		pthread_mutex_unlock(&st->mu);
		if (stop)
			break;
		delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
	}
	return NULL;
}

static int ssh_start(void *state)
{
	struct ssh_sub *st = state;
	const struct osh_sup_host *h = st->host;
	const char *secret = h->args->ssh_secret;
	char err[512] = "";
	struct osh_ssh_cfg cfg;
	int rc;

	rc = osh_sup_host_child_env(h, &st->env);
	if (rc) {
		snprintf(err, sizeof(err), "environment: %s", osh_strerror(rc));
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.sock_path = st->sock;
	cfg.secret = secret;
	cfg.secret_len = strlen(secret);
	cfg.sandbox_setup = h->sandbox_setup;
	cfg.sandbox_ud = h->sandbox_ud;
	cfg.env = st->env;
	cfg.workdir = h->args->workdir;
	cfg.preface_ms = st->preface_ms;
	rc = osh_ssh_server_new(&cfg, &st->srv, err, sizeof(err));
	if (!rc)
		rc = osh_ssh_server_start(st->srv);
	if (rc) {
		if (!err[0])
			snprintf(err, sizeof(err), "cannot start the listener thread");
		goto out;
	}
	osh_sup_enforce_set("ssh", true);
	if (h->args->gateway) {
		if (pthread_create(&st->th, NULL, report_main, st) != 0)
			osh_log(OSH_LEVEL_WARN, "ssh",
				"cannot start the reporter thread: the gateway will not know the "
				"SSH endpoint");
		else
			st->th_started = true;
	}
out:
	if (rc)
		osh_log(OSH_LEVEL_ERROR, "ssh", "SSH server not started: %s", err);
	return rc;
}

static void ssh_on_child(void *state, pid_t pid)
{
	struct ssh_sub *st = state;

	(void)pid;
	osh_ssh_server_set_ready(st->srv);
}

static void ssh_stop(void *state)
{
	struct ssh_sub *st = state;

	if (st->th_started) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_broadcast(&st->cv);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->th, NULL);
		st->th_started = false;
	}
	osh_sup_enforce_set("ssh", false);
	osh_ssh_server_stop(st->srv);
}

static void ssh_fini(void *state)
{
	struct ssh_sub *st = state;

	if (!st)
		return;
	osh_ssh_server_free(st->srv);
	osh_sup_env_free(st->env);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const struct osh_sup_subsys osh_sup_ssh_subsys = {
    .name = "ssh",
    .init = ssh_init,
    .start = ssh_start,
    .on_child = ssh_on_child,
    .stop = ssh_stop,
    .fini = ssh_fini,
};
