/* sup_proc.c - spawn and supervise the sandboxed command.
 *
 * DESIGN
 * See sup_proc.h. The wait loop is a single sigtimedwait() whose timeout is
 * the nearest of: the --timeout deadline, the SIGTERM->SIGKILL deadline, the
 * post-exit group clean-up deadline and the next heartbeat tick. Every wake
 * reaps with waitpid(-1, WNOHANG) until nothing is left, so one coalesced
 * SIGCHLD for several children loses nothing. The child is started with fork
 * and an immediate exec (see spawn()): gRPC and the log writer run threads in
 * this process, so the child only makes async-signal-safe system calls
 * before exec.
 */
#include "sup_proc.h"

#include "osh_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const osh_sup_env_allow[] = {
    "PATH", "HOME", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "TMPDIR", NULL,
};

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* ------------------------------------------------------------ environment */

struct envb {
	char **v;
	int n;
};

static int envb_find(const struct envb *b, const char *name, size_t nlen)
{
	for (int i = 0; i < b->n; i++)
		if (strncmp(b->v[i], name, nlen) == 0 && b->v[i][nlen] == '=')
			return i;
	return -1;
}

/* Set name=value (name length nlen), replacing an earlier entry. */
static int envb_set(struct envb *b, const char *name, size_t nlen, const char *value)
{
	int rc = OSH_ENOMEM;
	size_t vlen = strlen(value);
	char *s = malloc(nlen + 1 + vlen + 1);
	int at;

	if (!s)
		goto out;
	memcpy(s, name, nlen);
	s[nlen] = '=';
	memcpy(s + nlen + 1, value, vlen + 1);
	at = envb_find(b, name, nlen);
	if (at >= 0) {
		free(b->v[at]);
		b->v[at] = s;
	} else {
		char **grown = realloc(b->v, sizeof(*b->v) * (size_t)(b->n + 2));

		if (!grown) {
			free(s);
			goto out;
		}
		b->v = grown;
		b->v[b->n++] = s;
		b->v[b->n] = NULL;
	}
	rc = 0;
out:
	return rc;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

int osh_sup_env_build(char *const *envp, const char *const *pass, int n_pass,
		      const char *const *extra, int n_extra, const char *sandbox_id,
		      const char *sandbox_name, char ***out)
{
	int rc = 0;
	struct envb b = {0};
	const char *v;

	b.v = calloc(1, sizeof(*b.v));
	if (!b.v) {
		rc = OSH_ENOMEM;
		goto out;
	}
	for (int i = 0; osh_sup_env_allow[i] && !rc; i++)
		if ((v = env_get(envp, osh_sup_env_allow[i])))
			rc = envb_set(&b, osh_sup_env_allow[i], strlen(osh_sup_env_allow[i]), v);
	for (int i = 0; i < n_pass && !rc; i++)
		if ((v = env_get(envp, pass[i])))
			rc = envb_set(&b, pass[i], strlen(pass[i]), v);
	for (int i = 0; i < n_extra && !rc; i++) {
		const char *eq = strchr(extra[i], '=');

		if (!eq) {
			rc = OSH_EINVAL;
			break;
		}
		rc = envb_set(&b, extra[i], (size_t)(eq - extra[i]), eq + 1);
	}
	if (!rc && sandbox_id)
		rc = envb_set(&b, "OPENSHELL_SANDBOX_ID", 20, sandbox_id);
	if (!rc && sandbox_name)
		rc = envb_set(&b, "OPENSHELL_SANDBOX_NAME", 22, sandbox_name);
	if (!rc && envb_find(&b, "PATH", 4) < 0)
		rc = envb_set(&b, "PATH", 4, DEFAULT_PATH);
out:
	if (rc) {
		osh_sup_env_free(b.v);
		b.v = NULL;
	}
	*out = b.v;
	return rc;
}

void osh_sup_env_free(char **env)
{
	for (int i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* --------------------------------------------------------------- resolve */

static int check_exec(const char *p)
{
	struct stat st;

	if (stat(p, &st) != 0)
		return OSH_ENOTFOUND;
	if (!S_ISREG(st.st_mode) || access(p, X_OK) != 0)
		return OSH_EPERM;
	return 0;
}

int osh_sup_resolve(const char *cmd, const char *path, char *out, size_t cap)
{
	int rc = OSH_ENOTFOUND;
	const char *p;

	if (!cmd || !*cmd)
		goto out;
	if (strchr(cmd, '/')) {
		if (strlen(cmd) >= cap) {
			rc = OSH_ETOOBIG;
			goto out;
		}
		rc = check_exec(cmd);
		if (!rc)
			snprintf(out, cap, "%s", cmd);
		goto out;
	}
	p = path && *path ? path : DEFAULT_PATH;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		int n = snprintf(out, cap, "%.*s/%s", (int)(dlen ? dlen : 1), dlen ? p : ".", cmd);

		if (n > 0 && (size_t)n < cap) {
			int r = check_exec(out);

			if (r == 0) {
				rc = 0;
				goto out;
			}
			if (r == OSH_EPERM)
				rc = OSH_EPERM; /* remember, keep looking */
		}
		if (!colon)
			break;
		p = colon + 1;
	}
out:
	return rc;
}

char *osh_sup_cmdline(char *const *argv)
{
	size_t len = 1;
	char *s;
	char *w;

	for (int i = 0; argv[i]; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	w = s;
	for (int i = 0; argv[i]; i++) {
		size_t n = strlen(argv[i]);

		if (i)
			*w++ = ' ';
		memcpy(w, argv[i], n);
		w += n;
	}
	*w = '\0';
	return s;
}

/* --------------------------------------------------------------- signals */

static void wait_set(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGCHLD);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGHUP);
}

int osh_sup_signals_block(void)
{
	int rc = OSH_ESYS;
	sigset_t s;
	struct sigaction sa;

	wait_set(&s);
	if (pthread_sigmask(SIG_BLOCK, &s, NULL) != 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		goto out;
	/* Orphaned descendants of the command are re-parented to us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		goto out;
	rc = 0;
out:
	return rc;
}

/* ------------------------------------------------------------------- run */

struct run {
	const struct osh_sup_proc_opts *o;
	struct osh_sup_proc_note base; /* pid, name, path, cmd_line */
	pid_t pid;
	bool exited;
	int status;
	int64_t started;
};

static void note(struct run *r, enum osh_sup_note_kind kind, int sig, int err_no)
{
	struct osh_sup_proc_note n = r->base;

	if (!r->o->note)
		return;
	n.kind = kind;
	n.signal = sig;
	n.err_no = err_no;
	r->o->note(r->o->note_ud, &n);
}

static void reap(struct run *r)
{
	pid_t p;
	int st;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == r->pid && !r->exited) {
			r->exited = true;
			r->status = st;
		}
	}
}

/* Signal the child's process group; report failures other than "gone". */
static void signal_group(struct run *r, int sig)
{
	if (kill(-r->pid, sig) != 0 && errno != ESRCH)
		note(r, OSH_SUP_NOTE_KILL_FAIL, sig, errno);
}

static bool group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* What a failed child reports through the close-on-exec pipe. */
struct child_fail {
	int err;
	char step[48];
};

/* fork + immediate exec, so the child can ask for SIGKILL when the
 * supervisor dies (PR_SET_PDEATHSIG: an agent must never outlive its
 * supervisor), which posix_spawn cannot do, and so subsystems can confine it
 * (namespaces, ids, Landlock, seccomp: o->child_setup) between fork and
 * execve. In between the child only makes async-signal-safe system calls (no
 * malloc, no locks: other threads' state is not valid in the child). A
 * failure comes back through a close-on-exec pipe as the child's errno and
 * the name of the step. Returns 0 or an errno (*step set to the step). */
static int spawn(struct run *r, const char *exe, const char **step, char *step_buf, size_t step_cap)
{
	int rc = 0;
	int pfd[2];
	struct child_fail cf;
	ssize_t n;
	pid_t pid;
	pid_t parent = getpid();
	struct sigaction dfl;
	sigset_t empty;

	*step = "exec";
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&empty);
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return errno;
	pid = fork();
	if (pid < 0) {
		rc = errno;
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid == 0) {
		const char *what = "exec";
		struct child_fail f;

		close(pfd[0]);
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
			f.err = errno;
			what = "death signal";
			goto fail;
		}
		if (getppid() != parent) /* the supervisor died already */
			_exit(OSH_SUP_EXIT_INTERNAL);
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				sigaction(sig, &dfl, NULL); /* glibc-internal ones: EINVAL */
		sigprocmask(SIG_SETMASK, &empty, NULL);
		if (r->o->workdir && chdir(r->o->workdir) != 0) {
			f.err = errno;
			what = "workdir";
			goto fail;
		}
		if (r->o->child_setup) {
			f.err = r->o->child_setup(r->o->child_ud, &what);
			if (f.err)
				goto fail;
			what = "exec";
		}
		execve(exe, r->o->argv, r->o->env);
		f.err = errno;
	fail:
		/* Copy the step name byte by byte: async-signal-safe, bounded. */
		{
			size_t i = 0;

			for (; what && what[i] && i + 1 < sizeof(f.step); i++)
				f.step[i] = what[i];
			f.step[i] = '\0';
		}
		if (write(pfd[1], &f, sizeof(f)) < 0)
			_exit(OSH_SUP_EXIT_NOTFOUND);
		_exit(OSH_SUP_EXIT_NOTFOUND);
	}
	close(pfd[1]);
	setpgid(pid, pid); /* also here: no window where the group does not exist */
	do
		n = read(pfd[0], &cf, sizeof(cf));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(cf)) {
		waitpid(pid, NULL, 0);
		cf.step[sizeof(cf.step) - 1] = '\0';
		snprintf(step_buf, step_cap, "%s", cf.step);
		*step = step_buf;
		return cf.err ? cf.err : ENOEXEC;
	}
	r->pid = pid;
	return 0;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int osh_sup_proc_run(const struct osh_sup_proc_opts *o)
{
	int code = OSH_SUP_EXIT_INTERNAL;
	struct run r = {.o = o};
	char exe[4096];
	char step_buf[48];
	const char *step = "exec";
	char *cmd_line = osh_sup_cmdline(o->argv);
	const char *slash;
	int e;
	sigset_t set;
	int64_t deadline = -1, kill_at = -1, group_at = -1, tick_at = -1;
	int64_t hup_at = -1, hup_last = -1;
	unsigned hups = 0;
	bool timed_out = false, killed = false, group_term = false;

	wait_set(&set);
	r.base.cmd_line = cmd_line ? cmd_line : o->argv[0];
	slash = strrchr(o->argv[0], '/');
	r.base.name = slash ? slash + 1 : o->argv[0];
	r.base.path = o->argv[0];

	e = osh_sup_resolve(o->argv[0], env_get(o->env, "PATH"), exe, sizeof(exe));
	if (e) {
		note(&r, OSH_SUP_NOTE_LAUNCH_FAIL, 0, e == OSH_EPERM ? EACCES : ENOENT);
		code = e == OSH_EPERM ? OSH_SUP_EXIT_NOEXEC : OSH_SUP_EXIT_NOTFOUND;
		goto out;
	}
	r.base.path = exe;
	e = spawn(&r, exe, &step, step_buf, sizeof(step_buf));
	if (e) {
		r.base.step = step;
		note(&r, OSH_SUP_NOTE_LAUNCH_FAIL, 0, e);
		if (strcmp(step, "exec") != 0)
			code = OSH_SUP_EXIT_INTERNAL; /* a set-up step, not the command */
		else
			code = e == ENOENT ? OSH_SUP_EXIT_NOTFOUND : OSH_SUP_EXIT_NOEXEC;
		goto out;
	}
	r.started = osh_time_mono_ms();
	r.base.pid = r.pid;
	note(&r, OSH_SUP_NOTE_LAUNCH, 0, 0);
	if (o->timeout_ms > 0)
		deadline = r.started + o->timeout_ms;
	if (o->tick_ms > 0)
		tick_at = r.started + o->tick_ms;

	for (;;) {
		int64_t now = osh_time_mono_ms();
		int64_t wake = -1;
		struct timespec ts;
		siginfo_t si;
		int sig;

		if (!timed_out)
			wake = min_deadline(wake, deadline);
		if (!r.exited)
			wake = min_deadline(wake, kill_at);
		wake = min_deadline(wake, group_at);
		wake = min_deadline(wake, tick_at);
		wake = min_deadline(wake, hup_at);
		if (wake < 0)
			wake = now + 1000; /* reap orphans at least once a second */
		if (wake < now)
			wake = now;
		ts.tv_sec = (wake - now) / 1000;
		ts.tv_nsec = ((wake - now) % 1000) * 1000000;
		sig = sigtimedwait(&set, &si, &ts);
		now = osh_time_mono_ms();
		if (sig == SIGTERM || sig == SIGINT) {
			if (!r.exited) {
				note(&r, OSH_SUP_NOTE_SIGNAL, sig, 0);
				signal_group(&r, sig);
				if (kill_at < 0)
					kill_at = now + o->grace_ms;
			}
		} else if (sig == SIGHUP) {
			/* Coalesced: at most one reopen (and one line) per
			 * OSH_SUP_HUP_MIN_MS, however many signals arrive. */
			hups++;
			if (hup_at < 0)
				hup_at = hup_last < 0 ? now : hup_last + OSH_SUP_HUP_MIN_MS;
		}
		if (hup_at >= 0 && now >= hup_at) {
			struct osh_sup_proc_note n = r.base;

			n.kind = OSH_SUP_NOTE_HUP;
			n.signal = SIGHUP;
			n.hups = hups;
			if (o->note)
				o->note(o->note_ud, &n);
			hups = 0;
			hup_last = now;
			hup_at = -1;
		}
		reap(&r);
		if (r.exited && !group_term) {
			struct osh_sup_proc_note n = r.base;

			n.kind = OSH_SUP_NOTE_EXIT;
			n.timed_out = timed_out;
			n.runtime_ms = now - r.started;
			if (WIFEXITED(r.status)) {
				n.exit_code = WEXITSTATUS(r.status);
			} else if (WIFSIGNALED(r.status)) {
				n.signal = WTERMSIG(r.status);
				n.exit_code = 128 + n.signal;
			}
			code = timed_out ? OSH_SUP_EXIT_TIMEOUT : n.exit_code;
			if (o->note)
				o->note(o->note_ud, &n);
			/* Clean up what the command left in its process group. */
			group_term = true;
			if (group_alive(r.pid)) {
				signal_group(&r, SIGTERM);
				group_at = now + o->grace_ms;
			}
		}
		if (group_term) {
			if (!group_alive(r.pid))
				break;
			if (group_at >= 0 && now >= group_at) {
				signal_group(&r, SIGKILL);
				group_at = now + 1000; /* re-check; KILL cannot be caught */
			}
			continue;
		}
		if (!timed_out && deadline >= 0 && now >= deadline) {
			timed_out = true;
			note(&r, OSH_SUP_NOTE_TIMEOUT, SIGTERM, 0);
			signal_group(&r, SIGTERM);
			if (kill_at < 0)
				kill_at = now + o->grace_ms;
		}
		if (!killed && kill_at >= 0 && now >= kill_at) {
			killed = true;
			note(&r, OSH_SUP_NOTE_KILL, SIGKILL, 0);
			signal_group(&r, SIGKILL);
		}
		if (tick_at >= 0 && now >= tick_at) {
			note(&r, OSH_SUP_NOTE_TICK, 0, 0);
			tick_at = now + o->tick_ms;
		}
	}
	reap(&r);
out:
	free(cmd_line);
	return code;
}
