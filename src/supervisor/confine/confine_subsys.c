/* confine_subsys.c - confinement as a supervisor subsystem (see
 * sup_subsys.h and osh_confine.h).
 *
 * DESIGN
 * init: check the current policy for unsafe settings (Detection Finding),
 * load the secrets the gateway passed on the inherited fd named by
 * OPENSHELL_SECRETS_FD (never argv or the environment) and give the command
 * placeholders instead, then prepare the confinement (user, directories,
 * Landlock ruleset, seccomp program) and mark what the child will apply as
 * enforced. child_setup applies it (async-signal-safe). on_child reports
 * what was applied: the exec happened, so every child step held. on_policy
 * re-checks a reloaded policy for unsafe settings and says when it changes
 * filesystem, landlock or process settings, which a running command cannot
 * shed (Landlock and the ids are one-way). start runs the thread that
 * answers the seccomp filter's user notifications (EPERM) and reports each
 * denied call (CONFINE_SYSCALL_DENIED, at most DENY_BURST a second); stop
 * ends and joins it. The secret store is published as host->secrets for
 * the proxy: written once in init, before any thread that reads it starts
 * (subsystem threads start after every init), cleared in fini.
 */
#include "confine_subsys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine_sites.h"
#include "osh_emit.h"
#include "osh_confine.h"
#include "osh_policy_store.h"
#include "osh_secret.h"
#include "sup_enforce.h"
#include "osh_time.h"

struct shape {
	uint8_t *b[3]; /* packed filesystem, landlock, process sections */
	size_t n[3];
};

/* Rate limit of CONFINE_SYSCALL_DENIED: at most DENY_BURST events per
 * second; the rest are counted and the count rides on the next event (and
 * one summary at stop). */
#define DENY_BURST 20

struct confine {
	struct osh_sup_host *host;
	/* denied-call reporting (seccomp user notification) */
	pthread_t notify_th;
	bool notify_started;
	int stop_pipe[2];
	int64_t window_ms;
	unsigned in_window;
	uint64_t suppressed;
	struct osh_confine *c;
	struct osh_secret_store *secrets;
	char mode[24];
	char name[64]; /* the command's basename */
	struct shape applied;
};

static void on_note(void *ud, const struct osh_confine_note *n)
{
	const struct confine *st = ud;

	osh_confine_ev_note(n, st->mode);
}

static void shape_free(struct shape *s)
{
	for (int i = 0; i < 3; i++) {
		free(s->b[i]);
		s->b[i] = NULL;
		s->n[i] = 0;
	}
}

static int shape_of(const osh_policy_pb *p, struct shape *s)
{
	const ProtobufCMessage *m[3] = {
	    p && p->filesystem ? &p->filesystem->base : NULL,
	    p && p->landlock ? &p->landlock->base : NULL,
	    p && p->process ? &p->process->base : NULL,
	};
	int rc = 0;

	for (int i = 0; i < 3 && !rc; i++) {
		if (!m[i])
			continue;
		s->n[i] = protobuf_c_message_get_packed_size(m[i]);
		s->b[i] = malloc(s->n[i] + 1);
		if (!s->b[i])
			rc = OSH_ENOMEM;
		else
			protobuf_c_message_pack(m[i], s->b[i]);
	}
	return rc;
}

static void check_unsafe(const struct osh_sup_host *host, const struct osh_policy_snap *snap,
			 bool reload)
{
	struct osh_confine_issue is[OSH_CONFINE_MAX_ISSUES];
	size_t n =
	    osh_confine_unsafe_check(snap->policy, host->args->workdir, is, OSH_CONFINE_MAX_ISSUES);

	if (n)
		osh_confine_ev_unsafe(is, n < OSH_CONFINE_MAX_ISSUES ? n : OSH_CONFINE_MAX_ISSUES,
				      n, snap->source, snap->hash, reload);
}

/* Secrets from the fd in OPENSHELL_SECRETS_FD (closed after reading). */
static int load_secrets(struct confine *st, char *err, size_t errlen)
{
	const char *v = getenv("OPENSHELL_SECRETS_FD");
	char *end = NULL;
	long fd;
	int rc = 0;
	const char *names[OSH_SECRET_MAX];
	size_t n;

	if (!v || !*v)
		goto out;
	errno = 0;
	fd = strtol(v, &end, 10);
	if (errno || !end || *end || fd < 3 || fd > 65535) {
		rc = OSH_EINVAL;
		snprintf(err, errlen, "secrets: OPENSHELL_SECRETS_FD=%.32s is not a descriptor", v);
		goto out;
	}
	rc = osh_secret_store_new(&st->secrets);
	if (!rc)
		rc = osh_secret_store_read_fd(st->secrets, (int)fd, err, errlen);
	close((int)fd);
	if (rc)
		goto out;
	n = osh_secret_store_count(st->secrets);
	for (size_t i = 0; i < n && !rc; i++) {
		char ph[OSH_SECRET_NAME_MAX + sizeof(OSH_SECRET_PREFIX)];

		names[i] = osh_secret_store_name(st->secrets, i);
		rc = osh_secret_placeholder(names[i], ph, sizeof(ph));
		if (!rc)
			rc = osh_sup_host_setenv(st->host, names[i], ph);
		if (rc)
			snprintf(err, errlen, "secrets: cannot give %s to the command: %s",
				 names[i], osh_strerror(rc));
	}
	if (!rc && n)
		osh_confine_ev_secrets(names, n);
out:
	return rc;
}

static bool extra_env_has(const struct osh_sup_args *a, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < a->n_extra_env; i++)
		if (strncmp(a->extra_env[i], name, n) == 0 && a->extra_env[i][n] == '=')
			return true;
	return false;
}

/* The command's USER/LOGNAME/HOME follow the user it runs as. */
static int set_user_env(struct confine *st, const struct osh_confine_summary *s)
{
	const struct osh_sup_args *a = st->host->args;
	struct stat sb;
	const char *home = a->workdir;
	int rc = 0;

	if (!s->switch_ids)
		goto out;
	if (!home)
		home = stat("/sandbox", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/sandbox" : "/tmp";
	if (!extra_env_has(a, "USER"))
		rc = osh_sup_host_setenv(st->host, "USER", s->user);
	if (!rc && !extra_env_has(a, "LOGNAME"))
		rc = osh_sup_host_setenv(st->host, "LOGNAME", s->user);
	if (!rc && !extra_env_has(a, "HOME"))
		rc = osh_sup_host_setenv(st->host, "HOME", home);
out:
	return rc;
}

/* OPENSHELL_LANDLOCK_ABI_MAX=N: behave as if the kernel's Landlock ABI were
 * at most N (0: as if Landlock were absent). For trying out, and testing,
 * what a sandbox does on an older kernel. */
static int abi_cap(int *cap, char *err, size_t errlen)
{
	const char *v = getenv("OPENSHELL_LANDLOCK_ABI_MAX");
	char *end = NULL;
	long n;
	int rc = 0;

	if (!v || !*v)
		goto out;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || !end || *end || n < 0 || n > 64) {
		rc = OSH_EINVAL;
		snprintf(err, errlen, "OPENSHELL_LANDLOCK_ABI_MAX=%.32s: not a number from 0 to 64",
			 v);
		goto out;
	}
	*cap = n == 0 ? -1 : (int)n;
out:
	return rc;
}

static void confine_fini(void *state);

static int confine_init(struct osh_sup_host *host, void **state)
{
	struct confine *st = calloc(1, sizeof(*st));
	const struct osh_policy_snap *snap = osh_policy_store_get(host->policy);
	const osh_policy_pb *p = snap->policy;
	const struct osh_confine_summary *s;
	char err[512] = "";
	int rc = 0;
	const char *cmd0 = host->args->n_command > 0 ? host->args->command[0] : "";
	const char *slash = strrchr(cmd0, '/');

	*state = NULL;
	if (!st) {
		rc = OSH_ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	st->host = host;
	st->stop_pipe[0] = st->stop_pipe[1] = -1;
	snprintf(st->name, sizeof(st->name), "%s", slash ? slash + 1 : cmd0);
	snprintf(st->mode, sizeof(st->mode), "%s",
		 p && p->landlock && p->landlock->compatibility &&
			 strcmp(p->landlock->compatibility, "hard_requirement") == 0
		     ? "hard_requirement"
		     : "best_effort");
	check_unsafe(host, snap, false);
	rc = load_secrets(st, err, sizeof(err));
	if (!rc) {
		struct osh_confine_opts o = {
		    .policy = p,
		    .workdir = host->args->workdir,
		    .note = on_note,
		    .note_ud = st,
		    .seccomp_notify = true,
		};

		rc = abi_cap(&o.landlock_abi_cap, err, sizeof(err));
		if (!rc)
			rc = osh_confine_prepare(&o, &st->c, err, sizeof(err));
	}
	if (rc)
		goto out;
	s = osh_confine_summary(st->c);
	rc = set_user_env(st, s);
	if (!rc)
		rc = shape_of(p, &st->applied);
	if (rc) {
		snprintf(err, sizeof(err), "environment: %s", osh_strerror(rc));
		goto out;
	}
	osh_sup_enforce_set("process", s->switch_ids);
	osh_sup_enforce_set("filesystem", s->landlock);
	osh_sup_enforce_set("seccomp", s->seccomp);
	host->secrets = st->secrets;
	*state = st;
	st = NULL;
out:
	if (rc)
		osh_confine_ev_failed(err);
	osh_policy_snap_release(snap);
	confine_fini(st);
	return rc;
}

/* On the notify thread only: report one denial, rate-limited. */
static void on_denial(void *ud, const struct osh_confine_denial *d)
{
	struct confine *st = ud;
	int64_t now = osh_time_mono_ms();

	if (now - st->window_ms >= 1000) {
		st->window_ms = now;
		st->in_window = 0;
	}
	if (st->in_window >= DENY_BURST) {
		st->suppressed++;
	} else {
		st->in_window++;
		osh_confine_ev_denied(d, st->suppressed);
		st->suppressed = 0;
	}
}

static void *notify_main(void *p)
{
	struct confine *st = p;

	if (osh_confine_notify_run(st->c, st->stop_pipe[0], on_denial, st) != 0)
		osh_log(OSH_LEVEL_WARN, "confine",
			"seccomp notification loop failed: %s; denied calls now fail with "
			"ENOSYS, unreported",
			strerror(errno));
	if (st->suppressed)
		osh_confine_ev_denied(NULL, st->suppressed);
	st->suppressed = 0;
	return NULL;
}

static int confine_start(void *state)
{
	struct confine *st = state;
	int rc = 0;

	if (!osh_confine_summary(st->c)->seccomp_notify)
		goto out;
	if (pipe2(st->stop_pipe, O_CLOEXEC) != 0) {
		rc = OSH_ESYS;
		goto out;
	}
	if (pthread_create(&st->notify_th, NULL, notify_main, st) != 0) {
		rc = OSH_ESYS;
		goto out;
	}
	st->notify_started = true;
out:
	return rc;
}

static int confine_child_setup(void *state, const char **step)
{
	const struct confine *st = state;

	return osh_confine_child(st->c, step);
}

static void confine_on_child(void *state, pid_t pid)
{
	const struct confine *st = state;
	const struct osh_confine_summary *s = osh_confine_summary(st->c);

	if (s->switch_ids)
		osh_confine_ev_user(s, pid, st->name);
	if (s->landlock)
		osh_confine_ev_landlock(s, pid);
	if (s->seccomp)
		osh_confine_ev_seccomp(s, pid);
}

static void confine_on_policy(void *state, uint64_t generation)
{
	struct confine *st = state;
	const struct osh_policy_snap *snap = osh_policy_store_get(st->host->policy);
	struct shape now = {0};
	static const char *const what[3] = {"filesystem", "landlock", "process"};
	char changed[64] = "";

	(void)generation;
	check_unsafe(st->host, snap, true);
	if (shape_of(snap->policy, &now) == 0) {
		for (int i = 0; i < 3; i++) {
			if (now.n[i] == st->applied.n[i] &&
			    (now.n[i] == 0 || memcmp(now.b[i], st->applied.b[i], now.n[i]) == 0))
				continue;
			snprintf(changed + strlen(changed), sizeof(changed) - strlen(changed),
				 "%s%s", changed[0] ? ", " : "", what[i]);
		}
	}
	if (changed[0])
		osh_confine_ev_reload_deferred(changed);
	shape_free(&now);
	osh_policy_snap_release(snap);
}

static void confine_stop(void *state)
{
	struct confine *st = state;

	if (st->notify_started) {
		if (write(st->stop_pipe[1], "s", 1) != 1)
			osh_log(OSH_LEVEL_WARN, "confine", "cannot stop the notify thread: %s",
				strerror(errno));
		pthread_join(st->notify_th, NULL);
		st->notify_started = false;
	}
	/* The command is gone: nothing of ours is enforced any more. */
	osh_sup_enforce_set("process", false);
	osh_sup_enforce_set("filesystem", false);
	osh_sup_enforce_set("seccomp", false);
}

static void confine_fini(void *state)
{
	struct confine *st = state;

	if (st) {
		if (st->host && st->host->secrets == st->secrets)
			st->host->secrets = NULL;
		for (int i = 0; i < 2; i++)
			if (st->stop_pipe[i] >= 0)
				close(st->stop_pipe[i]);
		osh_secret_store_free(st->secrets);
		osh_confine_free(st->c);
		shape_free(&st->applied);
		free(st);
	}
}

const struct osh_sup_subsys osh_sup_confine_subsys = {
    .name = "confine",
    .init = confine_init,
    .start = confine_start,
    .child_setup = confine_child_setup,
    .on_child = confine_on_child,
    .on_policy = confine_on_policy,
    .stop = confine_stop,
    .fini = confine_fini,
    .confines = true,
};
