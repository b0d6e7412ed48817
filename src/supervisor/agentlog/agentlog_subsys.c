/* agentlog_subsys.c - the agent output subsystem (see agentlog.h).
 *
 * DESIGN
 * init makes two CLOEXEC pipes and opens agent.log; start runs the copy
 * thread (poll on both read ends and a wake pipe); child_setup (in the forked
 * child: dup2 only) puts the write ends on fds 1 and 2; on_child closes the
 * supervisor's copies of the write ends, so the pipes reach EOF when the
 * command (and whatever it left holding them) is gone; stop wakes the thread,
 * which drains what is readable without blocking and exits; fini frees.
 */
#include "agentlog_subsys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "agentlog.h"
#include "sup_push.h"

struct agentlog_state {
	struct osh_agentlog *log;
	int rd[2], wr[2]; /* per stream: read end (ours), write end (the child's) */
	int wake[2];	  /* stop -> thread */
	pthread_t th;
	bool started;
};

/* agentlog sink: each escaped line also goes to the gateway as source
 * "agent" (bounded and counted by the push client). */
static void to_push(void *ud, const char *stream, const char *escaped)
{
	(void)osh_sup_push_agent_line(ud, stream, escaped);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reads what one pipe holds now; false at EOF or error. */
static bool pump(struct agentlog_state *st, int s)
{
	char buf[8192];
	ssize_t n = read(st->rd[s], buf, sizeof(buf));

	if (n > 0) {
		(void)osh_agentlog_feed(st->log, s, buf, (size_t)n);
		return true;
	}
	return n < 0 && (errno == EINTR || errno == EAGAIN);
}

static void *copy_main(void *arg)
{
	struct agentlog_state *st = arg;
	bool open_[2] = {true, true}, stopping = false;

	while ((open_[0] || open_[1]) && !stopping) {
		struct pollfd pf[3] = {{.fd = open_[0] ? st->rd[0] : -1, .events = POLLIN},
				       {.fd = open_[1] ? st->rd[1] : -1, .events = POLLIN},
				       {.fd = st->wake[0], .events = POLLIN}};

		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		for (int s = 0; s < 2; s++)
			if (open_[s] && (pf[s].revents & (POLLIN | POLLHUP | POLLERR)))
				open_[s] = pump(st, s);
		stopping = pf[2].revents != 0;
	}
	/* Stop asked (or both ended): take what is already there, never wait
	 * for a writer that may never close (an orphan holding the pipe). */
	for (int s = 0; s < 2; s++)
		while (open_[s] && (open_[s] = pump(st, s)))
			;
	osh_agentlog_flush(st->log);
	return NULL;
}

static int al_init(struct osh_sup_host *host, void **state)
{
	struct agentlog_state *st = NULL;
	int rc = 0;

	*state = NULL;
	if (!host->args->gateway)
		goto out;
	rc = OSH_ENOMEM;
	st = calloc(1, sizeof(*st));
	if (!st)
		goto out;
	st->rd[0] = st->rd[1] = st->wr[0] = st->wr[1] = st->wake[0] = st->wake[1] = -1;
	rc = OSH_ESYS;
	for (int s = 0; s < 2; s++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) != 0)
			goto out;
		st->rd[s] = p[0];
		st->wr[s] = p[1];
		/* reads never block the drain at stop */
		(void)fcntl(st->rd[s], F_SETFL, O_NONBLOCK);
	}
	if (pipe2(st->wake, O_CLOEXEC) != 0)
		goto out;
	rc = osh_agentlog_open(host->log_dir, 0, &st->log);
	if (rc != 0)
		goto out;
	if (host->push != NULL)
		osh_agentlog_set_sink(st->log, to_push, host->push);
	*state = st;
	st = NULL;
out:
	if (st) {
		for (int s = 0; s < 2; s++) {
			close_fd(&st->rd[s]);
			close_fd(&st->wr[s]);
			close_fd(&st->wake[s]);
		}
		free(st);
	}
	return rc;
}

static int al_start(void *state)
{
	struct agentlog_state *st = state;

	if (pthread_create(&st->th, NULL, copy_main, st) != 0)
		return OSH_ESYS;
	st->started = true;
	return 0;
}

/* Forked child, before execve: async-signal-safe only. dup2 leaves the new
 * descriptors without FD_CLOEXEC; the pipes' own descriptors close at exec. */
static int al_child_setup(void *state, const char **step)
{
	struct agentlog_state *st = state;

	if (dup2(st->wr[0], 1) < 0 || dup2(st->wr[1], 2) < 0) {
		*step = "agent output: dup2 of stdout/stderr";
		return errno;
	}
	return 0;
}

static void al_on_child(void *state, pid_t pid)
{
	struct agentlog_state *st = state;

	(void)pid;
	close_fd(&st->wr[0]);
	close_fd(&st->wr[1]);
}

static void al_stop(void *state)
{
	struct agentlog_state *st = state;

	if (!st->started)
		return;
	/* The command has exited: its last words are in the pipes, and the
	 * drain after the wake-up takes them. */
	close_fd(&st->wr[0]);
	close_fd(&st->wr[1]);
	if (write(st->wake[1], "x", 1) < 0) {
		/* the thread still ends at EOF of both pipes */
	}
	pthread_join(st->th, NULL);
	st->started = false;
}

static void al_fini(void *state)
{
	struct agentlog_state *st = state;

	if (!st)
		return;
	for (int s = 0; s < 2; s++) {
		close_fd(&st->rd[s]);
		close_fd(&st->wr[s]);
		close_fd(&st->wake[s]);
	}
	osh_agentlog_close(st->log);
	free(st);
}

const struct osh_sup_subsys osh_sup_agentlog_subsys = {
    .name = "agentlog",
    .init = al_init,
    .start = al_start,
    .child_setup = al_child_setup,
    .on_child = al_on_child,
    .stop = al_stop,
    .fini = al_fini,
};
