/* ssh_session.c - one SSH connection after the preface: libssh session,
 * channels, and the sandboxed processes behind them (see osh_ssh.h).
 *
 * DESIGN
 * One thread per connection runs a poll loop over the SSH socket and every
 * channel's descriptors (child stdout/stderr or PTY master, the queue
 * towards the child's stdin, its status pipe, a forwarded socket) and
 * lets libssh process what arrived with ssh_event_dopoll(ev, 0). libssh
 * calls back (server callbacks for auth "none" and session channels,
 * channel callbacks for pty/shell/exec/env/subsystem/data/eof/close/signal,
 * the message callback for everything else: direct-tcpip and refusals).
 *
 * Input for a child is queued (at most QUEUE_MAX bytes per channel; more is
 * a flood: the channel is closed with an event) and written when the
 * descriptor is writable, so a child that writes without reading can never
 * deadlock the loop. Each session process has a keeper (spawn_child): an
 * intermediate started by clone3 with exit signal 0 that never execs, waits
 * for the session and writes its wait status to a pipe, so the supervisor's
 * reaper (waitpid(-1) without __WALL, for the command and orphans) never
 * takes a session's status (an exec resets the exit signal to SIGCHLD).
 * In the child, only async-signal-safe calls run before execve: new session
 * (and controlling terminal for a PTY), death signal, default signals,
 * stdio, workdir, then the sandbox plan (cfg.sandbox_setup). A failure comes
 * back on a close-on-exec pipe as errno + step; the request is refused with
 * an event (SSH_CONFINE_FAILED when a protection could not be applied).
 * Exit: a child's end is reported once its output is drained: EOF,
 * exit-status (or exit-signal), close. When the connection ends, every
 * session's process group gets SIGHUP, then SIGKILL, and is reaped.
 */
#include "ssh_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libssh/callbacks.h>

#include "osh_time.h"
#include "ssh_sites.h"

#define QUEUE_MAX	(4u << 20) /* bytes queued towards one child        */
#define MAX_OPEN_CHANS	10	   /* channels open at once per connection  */
#define READ_CHUNK	32768
#define KILL_GRACE_MS	2000
#define FORWARD_WAIT_MS 10000

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct osh_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

struct queue {
	char *b;
	size_t len;
};

struct sess;

struct chan {
	struct sess *ss;
	struct chan *next;
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	const char *kind; /* "session" until a request; shell exec sftp direct-tcpip */
	char detail[256];
	bool pty;
	char term[64];
	char lang[64];
	struct winsize ws;
	pid_t pid;    /* the session process (its own process group)     */
	pid_t keeper; /* its keeper (see spawn_child)                    */
	int st_fd;    /* the keeper's status pipe: the session's wait status */
	int in_fd;    /* towards the child / socket (may equal out_fd)  */
	int out_fd;   /* child stdout, PTY master, or the socket        */
	int err_fd;   /* child stderr (pipes only)                      */
	struct queue q;
	bool in_eof, out_done, err_done, exited, peer_closed, finished, started;
	int status;
	int64_t hup_at;
};

struct sess {
	struct ssh_conn *c;
	struct osh_ssh_server *srv;
	ssh_session s;
	ssh_event ev;
	struct ssh_server_callbacks_struct scb;
	struct chan *chans;
	unsigned n_total;
	bool authed;
	char user[64];
};

/* ----------------------------------------------------------------- helpers */

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Close the channel's descriptors once (in/out may be the same fd). */
static void chan_close_fds(struct chan *k)
{
	if (k->in_fd == k->out_fd)
		k->in_fd = -1;
	close_fd(&k->in_fd);
	close_fd(&k->out_fd);
	close_fd(&k->err_fd);
}

static unsigned open_chans(const struct sess *ss)
{
	unsigned n = 0;

	for (const struct chan *k = ss->chans; k; k = k->next)
		n += !k->finished;
	return n;
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGABRT:
		return "ABRT";
	case SIGALRM:
		return "ALRM";
	case SIGFPE:
		return "FPE";
	case SIGHUP:
		return "HUP";
	case SIGILL:
		return "ILL";
	case SIGINT:
		return "INT";
	case SIGKILL:
		return "KILL";
	case SIGPIPE:
		return "PIPE";
	case SIGQUIT:
		return "QUIT";
	case SIGSEGV:
		return "SEGV";
	case SIGTERM:
		return "TERM";
	case SIGUSR1:
		return "USR1";
	case SIGUSR2:
		return "USR2";
	default:
		return NULL;
	}
}

static int sig_of(const char *name)
{
	static const int sigs[] = {SIGABRT, SIGALRM, SIGFPE,  SIGHUP,  SIGILL,	SIGINT, SIGKILL,
				   SIGPIPE, SIGQUIT, SIGSEGV, SIGTERM, SIGUSR1, SIGUSR2};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(sig_name(sigs[i]), name) == 0)
			return sigs[i];
	return 0;
}

/* ------------------------------------------------------------ the child */

struct child_fail {
	int err;
	char step[48];
};

struct spawn_req {
	const struct osh_ssh_server *srv;
	char *const *argv;
	char *const *env;
	const char *dir;
	bool dir_required;
	int fd0, fd1, fd2; /* become 0, 1, 2 (-1: /dev/null not needed: keep) */
	int ctty;	   /* PTY slave to make the controlling terminal, or -1 */
	int pass_sock;	   /* forward: socketpair end to send the connected fd  */
	const struct sockaddr *target;
	socklen_t target_len;
};

static void child_fail_copy(struct child_fail *f, const char *what)
{
	size_t i = 0;

	for (; what && what[i] && i + 1 < sizeof(f->step); i++)
		f->step[i] = what[i];
	f->step[i] = '\0';
}

/* Sends fd over sock (SCM_RIGHTS); async-signal-safe. */
static int send_fd(int sock, int fd)
{
	char byte = 'f';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	memset(u.buf, 0, sizeof(u.buf));
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : errno;
}

/* In the clone3 child: async-signal-safe system calls only. */
static void child_main(const struct spawn_req *r, int fail_fd, pid_t parent)
{
	struct child_fail f = {0};
	const char *what = "setsid";
	struct sigaction dfl;
	sigset_t empty;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&empty);
	if (setsid() < 0)
		goto fail;
	what = "death signal";
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		goto fail;
	if (getppid() != parent)
		_exit(125);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, &empty, NULL);
	what = "controlling terminal";
	if (r->ctty >= 0 && ioctl(r->ctty, TIOCSCTTY, 0) != 0)
		goto fail;
	what = "stdio";
	if ((r->fd0 >= 0 && dup2(r->fd0, 0) < 0) || (r->fd1 >= 0 && dup2(r->fd1, 1) < 0) ||
	    (r->fd2 >= 0 && dup2(r->fd2, 2) < 0))
		goto fail;
	what = "workdir";
	if (r->dir && chdir(r->dir) != 0 && r->dir_required)
		goto fail;
	if (r->srv->cfg.sandbox_setup) {
		f.err = r->srv->cfg.sandbox_setup(r->srv->cfg.sandbox_ud, &what);
		if (f.err) {
			child_fail_copy(&f, what);
			goto report;
		}
	}
	if (r->target) {
		int s;

		what = "forward connect";
		s = socket(r->target->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || connect(s, r->target, r->target_len) != 0)
			goto fail;
		f.err = send_fd(r->pass_sock, s);
		if (f.err) {
			child_fail_copy(&f, "forward hand-over");
			goto report;
		}
		_exit(0);
	}
	what = "exec";
	execve(r->argv[0], r->argv, r->env);
fail:
	f.err = errno ? errno : EPERM;
	child_fail_copy(&f, what);
report:
	(void)!write(fail_fd, &f, sizeof(f));
	_exit(127);
}

/* A clone3 "fork": exit_signal as given, no pidfd. Raw system call (no
 * atfork handlers), so it is async-signal-safe in a child. */
static long clone_proc(uint64_t exit_signal)
{
	struct osh_clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = exit_signal;
	return syscall(SYS_clone3, &ca, sizeof(ca));
}

/* The keeper: an intermediate process that never execs, so it keeps exit
 * signal 0 and the supervisor's reaper (waitpid without __WALL) never sees
 * it. It starts the session process (an ordinary child of its own: an exec
 * resets a process's exit signal to SIGCHLD, so a session started directly
 * from here would be reaped by the supervisor's main loop and its status
 * lost), reports its pid, waits for it and reports its wait status on
 * st_fd, then exits. Async-signal-safe only. */
static void keeper_main(const struct spawn_req *r, int fail_fd, int st_fd)
{
	pid_t me = (pid_t)syscall(SYS_getpid);
	long g;
	int st = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		_exit(125);
	g = clone_proc(SIGCHLD);
	if (g == 0) {
		close(st_fd);
		child_main(r, fail_fd, me);
		_exit(127);
	}
	/* Keep only st_fd: a copy of the session's pipes (its stdin above all)
	 * held here would keep the session from ever seeing EOF; the fail pipe
	 * must close so the parent sees EOF once the session exec'd. */
	if (st_fd > 0)
		(void)syscall(SYS_close_range, 0U, (unsigned)st_fd - 1, 0U);
	(void)syscall(SYS_close_range, (unsigned)st_fd + 1, ~0U, 0U);
	if (g < 0)
		_exit(125);
	{
		pid_t gp = (pid_t)g;

		(void)!write(st_fd, &gp, sizeof(gp));
	}
	while (waitpid((pid_t)g, &st, 0) < 0 && errno == EINTR)
		;
	(void)!write(st_fd, &st, sizeof(st));
	_exit(0);
}

/* Starts r through a keeper. On success *pid is the session process,
 * *keeper the keeper and *st_fd the read end on which the session's wait
 * status arrives (then EOF); 0 is returned. Else an errno with step (from
 * the child or our own plumbing). */
static int spawn_child(const struct spawn_req *r, pid_t *pid, pid_t *keeper, int *st_fd, char *step,
		       size_t cap)
{
	int pfd[2], sfd[2] = {-1, -1};
	struct child_fail cf;
	long k;
	ssize_t n;
	int rc;
	pid_t g = -1;

	*pid = -1;
	*keeper = -1;
	*st_fd = -1;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(step, cap, "pipe");
		return errno;
	}
	if (pipe2(sfd, O_CLOEXEC) != 0) {
		rc = errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(step, cap, "pipe");
		return rc;
	}
	k = clone_proc(0); /* exit signal 0: invisible to the supervisor's reaper */
	if (k == 0) {
		close(pfd[0]);
		close(sfd[0]);
		keeper_main(r, pfd[1], sfd[1]);
		_exit(127);
	}
	rc = k < 0 ? errno : 0;
	close(pfd[1]);
	close(sfd[1]);
	if (k < 0) {
		close(pfd[0]);
		close(sfd[0]);
		snprintf(step, cap, "clone3");
		return rc;
	}
	do
		n = read(pfd[0], &cf, sizeof(cf));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (read(sfd[0], &g, sizeof(g)) != (ssize_t)sizeof(g))
		g = -1;
	if (n == (ssize_t)sizeof(cf) || g <= 0) {
		waitpid((pid_t)k, NULL, __WALL); /* the keeper reaped the session */
		close(sfd[0]);
		if (n != (ssize_t)sizeof(cf)) {
			snprintf(step, cap, "clone3");
			return EAGAIN;
		}
		cf.step[sizeof(cf.step) - 1] = '\0';
		snprintf(step, cap, "%s", cf.step);
		return cf.err ? cf.err : ENOEXEC;
	}
	*pid = g;
	*keeper = (pid_t)k;
	*st_fd = sfd[0];
	return 0;
}

/* Is step part of the sandbox plan (as opposed to our own plumbing)? */
static bool plan_step(const char *step)
{
	static const char *const own[] = {"setsid", "death signal", "controlling terminal",
					  "stdio",  "workdir",	    "exec",
					  "pipe",   "clone3",	    "forward connect"};

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(step, own[i]) == 0)
			return false;
	return true;
}

/* ------------------------------------------------------------- sessions */

static const char *shell_path(void)
{
	return access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

static const char *env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* The session's environment: the agent's, TERM/LANG as asked, SHELL.
 * Heap array of heap strings. */
static char **session_env(const struct chan *k, const char *shell)
{
	char *const *base = k->ss->srv->cfg.env;
	size_t nb = 0, n = 0;
	char **e;
	const char *term = k->term[0] ? k->term : (k->pty ? "xterm-256color" : NULL);

	while (base && base[nb])
		nb++;
	e = calloc(nb + 5, sizeof(*e));
	if (!e)
		return NULL;
	for (size_t i = 0; i < nb; i++) {
		if (strncmp(base[i], "TERM=", 5) == 0 || strncmp(base[i], "SHELL=", 6) == 0 ||
		    (k->lang[0] && strncmp(base[i], "LANG=", 5) == 0))
			continue;
		e[n++] = strdup(base[i]);
	}
	if (term && asprintf(&e[n++], "TERM=%s", term) < 0)
		e[--n] = NULL;
	if (k->lang[0] && asprintf(&e[n++], "LANG=%s", k->lang) < 0)
		e[--n] = NULL;
	if (asprintf(&e[n++], "SHELL=%s", shell) < 0)
		e[--n] = NULL;
	e[n] = NULL;
	for (size_t i = 0; i < n; i++)
		if (!e[i]) {
			for (size_t j = 0; j < n; j++)
				free(e[j]);
			free(e);
			return NULL;
		}
	return e;
}

static void env_free(char **e)
{
	for (size_t i = 0; e && e[i]; i++)
		free(e[i]);
	free(e);
}

/* Starts the process of a session channel: kind "shell", "exec" or "sftp". */
static int start_session(struct chan *k, const char *kind, const char *cmd)
{
	struct sess *ss = k->ss;
	const struct osh_ssh_server *srv = ss->srv;
	const char *shell = shell_path();
	char *argv[4] = {NULL};
	char **env = NULL;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	int master = -1, slave = -1;
	struct spawn_req r = {.srv = srv, .ctty = -1, .pass_sock = -1};
	char step[64] = "";
	int e = 0, rc = -1;

	if (k->started)
		goto out;
	k->kind = kind;
	if (!ssh_server_wait_ready(ss->srv)) {
		ssh_ev_channel_refused(ss->c, kind, cmd ? cmd : "",
				       "the sandbox's command is not running (yet or any more)");
		goto out;
	}
	snprintf(k->detail, sizeof(k->detail), "%s",
		 cmd ? cmd : (strcmp(kind, "sftp") == 0 ? srv->cfg.sftp_server : shell));
	if (strcmp(kind, "sftp") == 0) {
		argv[0] = (char *)(uintptr_t)srv->cfg.sftp_server;
	} else if (cmd) {
		argv[0] = (char *)(uintptr_t)shell;
		argv[1] = (char *)(uintptr_t) "-c";
		argv[2] = (char *)(uintptr_t)cmd;
	} else {
		argv[0] = (char *)(uintptr_t)shell;
	}
	env = session_env(k, shell);
	if (!env) {
		e = ENOMEM;
		snprintf(step, sizeof(step), "environment");
		goto fail;
	}
	r.argv = argv;
	r.env = env;
	r.dir = srv->cfg.workdir ? srv->cfg.workdir : env_get(env, "HOME");
	r.dir_required = srv->cfg.workdir != NULL;
	if (k->pty && strcmp(kind, "sftp") != 0) {
		if (openpty(&master, &slave, NULL, NULL, &k->ws) != 0) {
			e = errno;
			snprintf(step, sizeof(step), "openpty");
			goto fail;
		}
		(void)fcntl(master, F_SETFD, FD_CLOEXEC);
		(void)fcntl(slave, F_SETFD, FD_CLOEXEC);
		r.fd0 = r.fd1 = r.fd2 = slave;
		r.ctty = slave;
	} else {
		k->pty = false;
		if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
		    pipe2(er, O_CLOEXEC) != 0) {
			e = errno;
			snprintf(step, sizeof(step), "pipe");
			goto fail;
		}
		r.fd0 = in[0];
		r.fd1 = out[1];
		r.fd2 = er[1];
	}
	e = spawn_child(&r, &k->pid, &k->keeper, &k->st_fd, step, sizeof(step));
	if (e)
		goto fail;
	k->started = true;
	if (master >= 0) {
		k->in_fd = k->out_fd = master;
		master = -1;
		k->err_done = true;
	} else {
		k->in_fd = in[1];
		k->out_fd = out[0];
		k->err_fd = er[0];
		in[1] = out[0] = er[0] = -1;
	}
	set_nonblock(k->out_fd);
	set_nonblock(k->in_fd);
	if (k->err_fd >= 0)
		set_nonblock(k->err_fd);
	ssh_ev_channel_open(ss->c, kind, k->detail, k->pid, k->pty);
	rc = 0;
	goto out;
fail:
	if (plan_step(step))
		ssh_ev_confine_failed(ss->c, kind, step, e);
	else
		ssh_ev_channel_refused(ss->c, kind, k->detail,
				       strcmp(step, "exec") == 0 ? "cannot execute the program"
								 : "cannot start the process");
out:
	close_fd(&slave);
	close_fd(&master);
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&er[i]);
	}
	env_free(env);
	return rc;
}

/* ---------------------------------------------------- channel callbacks */

static int cb_pty(ssh_session s, ssh_channel ch, const char *term, int w, int h, int pw, int ph,
		  void *ud)
{
	struct chan *k = ud;

	(void)s;
	(void)ch;
	(void)pw;
	(void)ph;
	if (k->started)
		return SSH_ERROR;
	k->pty = true;
	snprintf(k->term, sizeof(k->term), "%s", term ? term : "");
	for (char *p = k->term; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			*p = '_';
	k->ws.ws_col = (unsigned short)(w > 0 && w < 10000 ? w : 80);
	k->ws.ws_row = (unsigned short)(h > 0 && h < 10000 ? h : 24);
	return SSH_OK;
}

static int cb_winch(ssh_session s, ssh_channel ch, int w, int h, int pw, int ph, void *ud)
{
	struct chan *k = ud;

	(void)s;
	(void)ch;
	(void)pw;
	(void)ph;
	k->ws.ws_col = (unsigned short)(w > 0 && w < 10000 ? w : 1);
	k->ws.ws_row = (unsigned short)(h > 0 && h < 10000 ? h : 1);
	if (k->pty && k->out_fd >= 0)
		(void)ioctl(k->out_fd, TIOCSWINSZ, &k->ws);
	return SSH_OK;
}

static int cb_env(ssh_session s, ssh_channel ch, const char *name, const char *value, void *ud)
{
	struct chan *k = ud;
	char *dst = NULL;
	size_t vl = value ? strlen(value) : 0;

	(void)s;
	(void)ch;
	if (strcmp(name, "TERM") == 0)
		dst = k->term;
	else if (strcmp(name, "LANG") == 0)
		dst = k->lang;
	if (!dst || k->started || vl == 0 || vl >= 64)
		return SSH_ERROR; /* ignored: only TERM and LANG are taken */
	for (size_t i = 0; i < vl; i++)
		if (value[i] <= 0x20 || value[i] >= 0x7f)
			return SSH_ERROR;
	memcpy(dst, value, vl + 1);
	return SSH_OK;
}

static int cb_shell(ssh_session s, ssh_channel ch, void *ud)
{
	(void)s;
	(void)ch;
	return start_session(ud, "shell", NULL) == 0 ? SSH_OK : SSH_ERROR;
}

static int cb_exec(ssh_session s, ssh_channel ch, const char *cmd, void *ud)
{
	(void)s;
	(void)ch;
	return start_session(ud, "exec", cmd ? cmd : "") == 0 ? SSH_OK : SSH_ERROR;
}

static int cb_subsystem(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct chan *k = ud;

	(void)s;
	(void)ch;
	if (strcmp(name, "sftp") == 0)
		return start_session(k, "sftp", NULL) == 0 ? SSH_OK : SSH_ERROR;
	ssh_ev_channel_refused(k->ss->c, "subsystem", name, "only the sftp subsystem is served");
	return SSH_ERROR;
}

static int cb_data(ssh_session s, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *ud)
{
	struct chan *k = ud;
	char *grown;

	(void)s;
	(void)ch;
	(void)is_stderr;
	if (k->finished || k->in_fd < 0 || k->in_eof)
		return (int)len; /* nobody to read it: dropped */
	if (k->q.len + len > QUEUE_MAX) {
		ssh_ev_channel_refused(k->ss->c, k->kind, k->detail,
				       "input flood: more than 4 MiB waiting for the process; "
				       "channel closed");
		k->peer_closed = true;
		if (k->pid > 0)
			kill(-k->pid, SIGKILL);
		ssh_channel_close(k->ch);
		return (int)len;
	}
	grown = realloc(k->q.b, k->q.len + len);
	if (!grown)
		return (int)len;
	k->q.b = grown;
	memcpy(k->q.b + k->q.len, data, len);
	k->q.len += len;
	return (int)len;
}

static void input_eof(struct chan *k)
{
	if (k->q.len || k->in_fd < 0)
		return;
	if (strcmp(k->kind, "direct-tcpip") == 0)
		(void)shutdown(k->in_fd, SHUT_WR);
	else if (!k->pty)
		close_fd(&k->in_fd);
}

static void cb_eof(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *k = ud;

	(void)s;
	(void)ch;
	k->in_eof = true;
	input_eof(k);
}

static void cb_close(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *k = ud;

	(void)s;
	(void)ch;
	k->peer_closed = true;
}

static void cb_signal(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	struct chan *k = ud;
	int sig = name ? sig_of(name) : 0;

	(void)s;
	(void)ch;
	if (sig && k->pid > 0 && !k->exited)
		kill(-k->pid, sig);
}

static struct chan *chan_new(struct sess *ss, ssh_channel ch, const char *kind)
{
	struct chan *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ss = ss;
	k->ch = ch;
	k->kind = kind;
	k->pid = k->keeper = -1;
	k->st_fd = k->in_fd = k->out_fd = k->err_fd = -1;
	k->cb.userdata = k;
	k->cb.channel_data_function = cb_data;
	k->cb.channel_eof_function = cb_eof;
	k->cb.channel_close_function = cb_close;
	if (strcmp(kind, "session") == 0) {
		k->cb.channel_signal_function = cb_signal;
		k->cb.channel_pty_request_function = cb_pty;
		k->cb.channel_pty_window_change_function = cb_winch;
		k->cb.channel_env_request_function = cb_env;
		k->cb.channel_shell_request_function = cb_shell;
		k->cb.channel_exec_request_function = cb_exec;
		k->cb.channel_subsystem_request_function = cb_subsystem;
	}
	ssh_callbacks_init(&k->cb);
	ssh_set_channel_callbacks(ch, &k->cb);
	k->next = ss->chans;
	ss->chans = k;
	ss->n_total++;
	return k;
}

/* ----------------------------------------------------- server callbacks */

static int cb_auth_none(ssh_session s, const char *user, void *ud)
{
	struct sess *ss = ud;

	(void)s;
	/* Only a connection that passed the NSSH1 preface reaches libssh. */
	snprintf(ss->user, sizeof(ss->user), "%s", user ? user : "");
	for (char *p = ss->user; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			*p = '_';
	if (!ss->authed)
		ssh_ev_open(ss->c, ss->user,
			    ssh_get_clientbanner(ss->s) ? ssh_get_clientbanner(ss->s) : "");
	ss->authed = true;
	return SSH_AUTH_SUCCESS;
}

static ssh_channel cb_open_session(ssh_session s, void *ud)
{
	struct sess *ss = ud;
	ssh_channel ch;

	if (open_chans(ss) >= MAX_OPEN_CHANS) {
		ssh_ev_channel_refused(ss->c, "session", "",
				       "too many channels open on this connection (10)");
		return NULL;
	}
	ch = ssh_channel_new(s);
	if (ch && !chan_new(ss, ch, "session")) {
		ssh_channel_free(ch);
		ch = NULL;
	}
	return ch;
}

/* direct-tcpip targets: the sandbox's loopback only. */
static bool loopback_target(const char *host, int port, struct sockaddr_storage *sa, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	char h[64];
	size_t hl;

	memset(sa, 0, sizeof(*sa));
	if (!host || port < 1 || port > 65535)
		return false;
	hl = strlen(host);
	if (hl >= sizeof(h))
		return false;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memcpy(h, host + 1, hl - 2);
		h[hl - 2] = '\0';
	} else {
		memcpy(h, host, hl + 1);
	}
	if (strcmp(h, "localhost") == 0)
		snprintf(h, sizeof(h), "127.0.0.1");
	if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
		if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
			return false;
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return true;
	}
	if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
		const uint8_t *b = v6->sin6_addr.s6_addr;
		bool mapped = IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && b[12] == 127;

		if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) && !mapped)
			return false;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return true;
	}
	return false;
}

/* Connects inside the sandbox (a confined child) and returns the socket. */
static int forward_connect(struct sess *ss, const struct sockaddr *sa, socklen_t len, char *step,
			   size_t cap, int *err)
{
	int sp[2] = {-1, -1};
	struct spawn_req r = {.srv = ss->srv,
			      .fd0 = -1,
			      .fd1 = -1,
			      .fd2 = -1,
			      .ctty = -1,
			      .target = sa,
			      .target_len = len};
	pid_t pid = -1, keeper = -1;
	int st_fd = -1, fd = -1;

	*err = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
		*err = errno;
		snprintf(step, cap, "socketpair");
		goto out;
	}
	r.pass_sock = sp[1];
	*err = spawn_child(&r, &pid, &keeper, &st_fd, step, cap);
	close_fd(&sp[1]);
	if (*err)
		goto out;
	{
		struct pollfd p = {.fd = sp[0], .events = POLLIN};
		char byte;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = u.buf,
				   .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *h;

		memset(&u, 0, sizeof(u));
		if (poll(&p, 1, FORWARD_WAIT_MS) == 1 &&
		    recvmsg(sp[0], &m, MSG_CMSG_CLOEXEC) == 1 && (h = CMSG_FIRSTHDR(&m)) != NULL &&
		    h->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(h), sizeof(int));
	}
	if (fd < 0) {
		*err = ETIMEDOUT;
		snprintf(step, cap, "forward hand-over");
		kill(pid, SIGKILL);
	}
	waitpid(keeper, NULL, __WALL);
out:
	close_fd(&st_fd);
	close_fd(&sp[0]);
	close_fd(&sp[1]);
	return fd;
}

static int open_forward(struct sess *ss, ssh_message msg)
{
	const char *host = ssh_message_channel_request_open_destination(msg);
	int port = ssh_message_channel_request_open_destination_port(msg);
	struct sockaddr_storage sa;
	socklen_t len = 0;
	char target[96], step[64] = "";
	ssh_channel ch;
	struct chan *k;
	int fd, err = 0;

	snprintf(target, sizeof(target), "%.64s:%d", host ? host : "?", port);
	if (!ss->authed)
		return 1;
	if (!loopback_target(host, port, &sa, &len)) {
		ssh_ev_channel_refused(ss->c, "direct-tcpip", target,
				       "forwarding is allowed only to the sandbox's loopback "
				       "(localhost, 127.0.0.0/8, ::1)");
		return 1;
	}
	if (open_chans(ss) >= MAX_OPEN_CHANS) {
		ssh_ev_channel_refused(ss->c, "direct-tcpip", target,
				       "too many channels open on this connection (10)");
		return 1;
	}
	if (!ssh_server_wait_ready(ss->srv)) {
		ssh_ev_channel_refused(ss->c, "direct-tcpip", target,
				       "the sandbox's command is not running (yet or any more)");
		return 1;
	}
	fd = forward_connect(ss, (struct sockaddr *)&sa, len, step, sizeof(step), &err);
	if (fd < 0) {
		if (plan_step(step) && strcmp(step, "socketpair") != 0 &&
		    strcmp(step, "forward hand-over") != 0)
			ssh_ev_confine_failed(ss->c, "direct-tcpip", step, err);
		else
			ssh_ev_channel_refused(ss->c, "direct-tcpip", target,
					       err == ECONNREFUSED
						   ? "connection refused in the sandbox"
						   : strerror(err));
		return 1;
	}
	ch = ssh_message_channel_request_open_reply_accept(msg);
	if (!ch) {
		close(fd);
		return 0;
	}
	k = chan_new(ss, ch, "direct-tcpip");
	if (!k) {
		close(fd);
		ssh_channel_close(ch);
		ssh_channel_free(ch);
		return 0;
	}
	snprintf(k->detail, sizeof(k->detail), "%s", target);
	k->in_fd = k->out_fd = fd;
	k->err_done = true;
	k->exited = true; /* no process to wait for */
	k->started = true;
	set_nonblock(fd);
	ssh_ev_channel_open(ss->c, "direct-tcpip", target, 0, false);
	return 0;
}

/* Everything the server callbacks did not take. 0 = handled, 1 = refuse. */
static int cb_message(ssh_session s, ssh_message msg, void *ud)
{
	struct sess *ss = ud;
	int type = ssh_message_type(msg), sub = ssh_message_subtype(msg);

	(void)s;
	if (type == SSH_REQUEST_CHANNEL_OPEN) {
		if (sub == SSH_CHANNEL_DIRECT_TCPIP)
			return open_forward(ss, msg);
		if (ss->authed)
			ssh_ev_channel_refused(ss->c, "channel",
					       sub == SSH_CHANNEL_X11 ? "x11"
					       : sub == SSH_CHANNEL_FORWARDED_TCPIP
						   ? "forwarded-tcpip"
						   : "other",
					       "channel type not served");
	} else if (type == SSH_REQUEST_CHANNEL && ss->authed) {
		ssh_ev_channel_refused(ss->c, "request",
				       sub == SSH_CHANNEL_REQUEST_X11	      ? "x11-req"
				       : sub == SSH_CHANNEL_REQUEST_PTY	      ? "pty-req (late)"
				       : sub == SSH_CHANNEL_REQUEST_SUBSYSTEM ? "subsystem"
									      : "other",
				       "channel request not served");
	} else if (type == SSH_REQUEST_GLOBAL && sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD &&
		   ss->authed) {
		ssh_ev_channel_refused(ss->c, "tcpip-forward", "", "remote forwarding is refused");
	}
	return 1;
}

/* ------------------------------------------------------------ main loop */

/* Reads what fd has (non-blocking) to the channel; *done at EOF. */
static void pump_out(struct chan *k, int fd, bool err, bool *done)
{
	char buf[READ_CHUNK];

	for (int i = 0; i < 8; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EOF, or EIO on a PTY whose slave closed */
			*done = true;
			return;
		}
		if (k->peer_closed || ssh_channel_is_closed(k->ch))
			continue; /* nobody to send it to: drain and drop */
		if ((err ? ssh_channel_write_stderr(k->ch, buf, (uint32_t)n)
			 : ssh_channel_write(k->ch, buf, (uint32_t)n)) == SSH_ERROR) {
			*done = true;
			return;
		}
	}
}

static void pump_in(struct chan *k)
{
	ssize_t n;

	if (k->in_fd < 0 || !k->q.len)
		return;
	n = write(k->in_fd, k->q.b, k->q.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		k->q.len = 0; /* the reader is gone */
	} else {
		memmove(k->q.b, k->q.b + n, k->q.len - (size_t)n);
		k->q.len -= (size_t)n;
	}
	if (!k->q.len && k->in_eof)
		input_eof(k);
}

static void reap(struct chan *k, bool block)
{
	int st;
	ssize_t n;

	if (k->pid <= 0 || k->exited || k->st_fd < 0)
		return;
	if (!block) {
		struct pollfd p = {.fd = k->st_fd, .events = POLLIN};

		if (poll(&p, 1, 0) != 1)
			return;
	}
	do
		n = read(k->st_fd, &st, sizeof(st));
	while (n < 0 && errno == EINTR);
	k->exited = true;
	/* no status (the keeper died): report it as killed */
	k->status = n == (ssize_t)sizeof(st) ? st : SIGKILL;
	close_fd(&k->st_fd);
	waitpid(k->keeper, NULL, __WALL);
	k->keeper = -1;
}

/* Sends EOF, exit status and close once the process ended and its output
 * was drained (or, for a forward, once the socket reached EOF). */
static void maybe_finish(struct chan *k)
{
	bool fwd = strcmp(k->kind, "direct-tcpip") == 0;

	if (k->finished || !k->started)
		return;
	if (!fwd && k->exited) {
		/* the process is gone: what is in the pipes is all there is (a
		 * grandchild may hold them open: do not wait for it) */
		if (!k->out_done && k->out_fd >= 0)
			pump_out(k, k->out_fd, false, &k->out_done);
		if (!k->err_done && k->err_fd >= 0)
			pump_out(k, k->err_fd, true, &k->err_done);
		k->out_done = k->err_done = true;
	}
	if (!(k->out_done && k->err_done && k->exited) && !k->peer_closed)
		return;
	if (!k->peer_closed && !ssh_channel_is_closed(k->ch)) {
		ssh_channel_send_eof(k->ch);
		if (!fwd) {
			int code = WIFEXITED(k->status) ? WEXITSTATUS(k->status) : 0;
			int sig = WIFSIGNALED(k->status) ? WTERMSIG(k->status) : 0;

			if (sig && sig_name(sig))
				ssh_channel_request_send_exit_signal(k->ch, sig_name(sig),
								     WCOREDUMP(k->status), "", "");
			else
				ssh_channel_request_send_exit_status(k->ch, sig ? 128 + sig : code);
		}
	}
	if (!fwd && !k->exited) {
		/* the client closed first: end the process group */
		int64_t now = osh_time_mono_ms();

		if (!k->hup_at) {
			k->hup_at = now;
			kill(-k->pid, SIGHUP);
			kill(-k->pid, SIGCONT);
		} else if (now - k->hup_at > KILL_GRACE_MS) {
			kill(-k->pid, SIGKILL);
		}
		return;
	}
	ssh_channel_close(k->ch);
	if (!fwd)
		ssh_ev_channel_exit(k->ss->c, k->kind, k->pid,
				    WIFEXITED(k->status) ? WEXITSTATUS(k->status) : 0,
				    WIFSIGNALED(k->status) ? WTERMSIG(k->status) : 0);
	chan_close_fds(k);
	k->finished = true;
}

static void end_all(struct sess *ss)
{
	for (struct chan *k = ss->chans; k; k = k->next) {
		if (k->pid > 0 && !k->exited) {
			kill(-k->pid, SIGHUP);
			kill(-k->pid, SIGKILL);
			reap(k, true);
			ssh_ev_channel_exit(ss->c, k->kind, k->pid,
					    WIFEXITED(k->status) ? WEXITSTATUS(k->status) : 0,
					    WIFSIGNALED(k->status) ? WTERMSIG(k->status) : 0);
		}
		chan_close_fds(k);
		close_fd(&k->st_fd);
	}
}

static void free_chans(struct sess *ss, bool all)
{
	struct chan **pp = &ss->chans;

	while (*pp) {
		struct chan *k = *pp;

		if (all || (k->finished && (k->exited || k->pid <= 0))) {
			*pp = k->next;
			/* libssh keeps a channel the peer has not closed yet and
			 * may still call back: detach k before it goes. */
			ssh_remove_channel_callbacks(k->ch, &k->cb);
			ssh_channel_free(k->ch);
			free(k->q.b);
			free(k);
		} else {
			pp = &k->next;
		}
	}
}

/* Our descriptors live in the session's ssh_event, so one
 * ssh_event_dopoll() waits for the SSH socket and the sessions' pipes
 * together and libssh handles its socket the moment it is ready (its own
 * buffering is invisible to an outside poll()). Registrations are
 * reconciled between polls, never changed inside a callback; a callback
 * only records what happened (fd_seen), which the loop then handles. */
#define MAX_FDS (4 * (MAX_OPEN_CHANS + 2))

struct fdreg {
	int fd;
	short events;
};

struct fdset {
	struct fdreg reg[MAX_FDS]; /* in the ssh_event now */
	int n_reg;
	struct fdreg seen[MAX_FDS]; /* revents of the last dopoll */
	int n_seen;
};

static int fd_seen(socket_t fd, int revents, void *ud)
{
	struct fdset *fs = ud;

	for (int i = 0; i < fs->n_seen; i++)
		if (fs->seen[i].fd == fd) {
			fs->seen[i].events = (short)(fs->seen[i].events | revents);
			return 0;
		}
	if (fs->n_seen < MAX_FDS)
		fs->seen[fs->n_seen++] = (struct fdreg){.fd = fd, .events = (short)revents};
	return 0;
}

static short seen(const struct fdset *fs, int fd)
{
	for (int i = 0; fd >= 0 && i < fs->n_seen; i++)
		if (fs->seen[i].fd == fd)
			return fs->seen[i].events;
	return 0;
}

static void want(struct fdreg *d, int *n, int fd, short ev)
{
	for (int i = 0; i < *n; i++)
		if (d[i].fd == fd) {
			d[i].events = (short)(d[i].events | ev);
			return;
		}
	if (*n < MAX_FDS)
		d[(*n)++] = (struct fdreg){.fd = fd, .events = ev};
}

/* Makes the ssh_event hold exactly the descriptors the channels wait on. */
static void fds_reconcile(struct sess *ss, struct fdset *fs, bool all_gone)
{
	struct fdreg d[MAX_FDS];
	int nd = 0;

	for (struct chan *k = ss->chans; k && !all_gone; k = k->next) {
		if (k->finished || !k->started)
			continue;
		if (!k->out_done && k->out_fd >= 0)
			want(d, &nd, k->out_fd, POLLIN);
		if (!k->err_done && k->err_fd >= 0)
			want(d, &nd, k->err_fd, POLLIN);
		if (k->q.len && k->in_fd >= 0)
			want(d, &nd, k->in_fd, POLLOUT);
		if (k->st_fd >= 0 && !k->exited)
			want(d, &nd, k->st_fd, POLLIN);
	}
	for (int i = 0; i < fs->n_reg;) {
		bool keep = false;

		for (int j = 0; j < nd && !keep; j++)
			keep = d[j].fd == fs->reg[i].fd && d[j].events == fs->reg[i].events;
		if (keep) {
			i++;
			continue;
		}
		ssh_event_remove_fd(ss->ev, fs->reg[i].fd);
		fs->reg[i] = fs->reg[--fs->n_reg];
	}
	for (int j = 0; j < nd; j++) {
		bool have = false;

		for (int i = 0; i < fs->n_reg && !have; i++)
			have = fs->reg[i].fd == d[j].fd;
		if (!have && fs->n_reg < MAX_FDS &&
		    ssh_event_add_fd(ss->ev, d[j].fd, d[j].events, fd_seen, fs) == SSH_OK)
			fs->reg[fs->n_reg++] = d[j];
	}
}

static void loop(struct sess *ss)
{
	struct ssh_conn *c = ss->c;
	int64_t auth_deadline = c->t0_ms + ss->srv->cfg.preface_ms;
	struct fdset fs;

	memset(&fs, 0, sizeof(fs));
	for (;;) {
		if (c->stop)
			break;
		if (!ss->authed && osh_time_mono_ms() > auth_deadline) {
			ssh_ev_handshake_failed(c, "no authentication before the deadline");
			break;
		}
		fds_reconcile(ss, &fs, false);
		fs.n_seen = 0;
		if (ssh_event_dopoll(ss->ev, 100) == SSH_ERROR && !ssh_is_connected(ss->s))
			break;
		for (struct chan *k = ss->chans; k; k = k->next) {
			if (k->finished || !k->started)
				continue;
			if (!k->out_done && seen(&fs, k->out_fd))
				pump_out(k, k->out_fd, false, &k->out_done);
			if (!k->err_done && seen(&fs, k->err_fd))
				pump_out(k, k->err_fd, true, &k->err_done);
			if (k->q.len && (seen(&fs, k->in_fd) & (POLLOUT | POLLERR | POLLHUP)))
				pump_in(k);
			if (!k->exited && seen(&fs, k->st_fd))
				reap(k, false);
		}
		for (struct chan *k = ss->chans; k; k = k->next) {
			if (!k->finished && k->started && !k->peer_closed && k->q.len)
				pump_in(k);
			maybe_finish(k);
		}
		free_chans(ss, false);
		if (!ssh_is_connected(ss->s))
			break;
	}
	fds_reconcile(ss, &fs, true); /* out of the event before anything closes */
}

void ssh_session_serve(struct ssh_conn *c)
{
	struct sess ss;
	long timeout_s;
	int fd;

	memset(&ss, 0, sizeof(ss));
	ss.c = c;
	ss.srv = c->srv;
	ss.s = ssh_new();
	if (!ss.s)
		return;
	timeout_s = (long)(c->srv->cfg.preface_ms / 1000 > 0 ? c->srv->cfg.preface_ms / 1000 : 1);
	ssh_options_set(ss.s, SSH_OPTIONS_TIMEOUT, &timeout_s);
	/* libssh owns (and at ssh_free closes) a duplicate: c->fd stays ours
	 * until the connection is unlinked, so a stop's shutdown() of it never
	 * hits a reused descriptor number. */
	fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		goto out;
	pthread_mutex_lock(&c->srv->bind_mu);
	if (ssh_bind_accept_fd(c->srv->bind, ss.s, fd) != SSH_OK) {
		pthread_mutex_unlock(&c->srv->bind_mu);
		ssh_ev_handshake_failed(c, ssh_get_error(ss.s));
		goto out;
	}
	pthread_mutex_unlock(&c->srv->bind_mu);
	ss.scb.userdata = &ss;
	ss.scb.auth_none_function = cb_auth_none;
	ss.scb.channel_open_request_session_function = cb_open_session;
	ssh_callbacks_init(&ss.scb);
	ssh_set_server_callbacks(ss.s, &ss.scb);
	ssh_set_message_callback(ss.s, cb_message, &ss);
	ssh_set_auth_methods(ss.s, SSH_AUTH_METHOD_NONE);
	if (ssh_handle_key_exchange(ss.s) != SSH_OK) {
		ssh_ev_handshake_failed(c, ssh_get_error(ss.s));
		goto out;
	}
	ss.ev = ssh_event_new();
	if (!ss.ev || ssh_event_add_session(ss.ev, ss.s) != SSH_OK)
		goto out;
	loop(&ss);
out:
	end_all(&ss);
	if (ss.ev) {
		ssh_event_remove_session(ss.ev, ss.s);
		ssh_event_free(ss.ev);
	}
	free_chans(&ss, true);
	if (ss.authed)
		ssh_ev_close(c, osh_time_mono_ms() - c->t0_ms, ss.n_total);
	ssh_disconnect(ss.s);
	ssh_free(ss.s);
}
