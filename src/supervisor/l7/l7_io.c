/* l7_io.c - the plain-socket osh_l7_io (see osh_l7_io.h).
 *
 * DESIGN
 * Blocking semantics on top of whatever mode the fd is in: each call polls
 * for readiness with the per-connection deadline, then does one read/send,
 * retrying on EINTR/EAGAIN. send() with MSG_NOSIGNAL so a peer that went away
 * is an EPIPE, never a SIGPIPE.
 */
#include "osh_l7_io.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int wait_fd(const struct osh_l7_fdio *st, short events)
{
	struct pollfd p = {.fd = st->fd, .events = events};
	int timeout = st->timeout_ms ? (int)st->timeout_ms : -1;
	int rc;

	do {
		rc = poll(&p, 1, timeout);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		errno = ETIMEDOUT;
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	const struct osh_l7_fdio *st = ctx;
	ssize_t got = -1;

	for (;;) {
		if (wait_fd(st, POLLIN) < 0)
			break;
		got = read(st->fd, buf, n);
		if (got >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
	}
	return got;
}

static int fd_write_all(void *ctx, const void *buf, size_t n)
{
	const struct osh_l7_fdio *st = ctx;
	const char *p = buf;
	int rc = 0;

	while (n > 0) {
		ssize_t put;

		if (wait_fd(st, POLLOUT) < 0) {
			rc = -1;
			break;
		}
		put = send(st->fd, p, n, MSG_NOSIGNAL);
		if (put < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -1;
			break;
		}
		p += put;
		n -= (size_t)put;
	}
	return rc;
}

static void fd_shutdown_write(void *ctx)
{
	const struct osh_l7_fdio *st = ctx;

	(void)shutdown(st->fd, SHUT_WR);
}

void osh_l7_io_from_fd(struct osh_l7_io *io, struct osh_l7_fdio *st, int fd, unsigned timeout_ms)
{
	st->fd = fd;
	st->timeout_ms = timeout_ms;
	io->ctx = st;
	io->read = fd_read;
	io->write_all = fd_write_all;
	io->shutdown_write = fd_shutdown_write;
}
