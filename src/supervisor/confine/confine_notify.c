/* confine_notify.c - the supervisor's side of seccomp user notification:
 * denied system calls answered with EPERM and reported.
 *
 * DESIGN
 * seccomp's ERRNO action cannot log, so with seccomp_notify the filter's
 * deny rules are NOTIFY: the kernel parks the calling task and queues a
 * notification on the listener fd the child got when it loaded the filter
 * (and passed here over the socketpair; every confined process started
 * with the same plan, e.g. an SSH session, passes its own, and all are
 * served by this one loop). This loop answers every
 * notification with EPERM at once, then reports it; it never lets a call
 * proceed (no SECCOMP_USER_NOTIF_FLAG_CONTINUE), so there is no
 * time-of-check race to exploit. A listener reports POLLHUP when no task
 * uses its filter any more; the loop ends when all are gone, or earlier
 * through the stop fd. If the loop is
 * gone, the kernel fails denied calls with ENOSYS: still denied.
 */
#include "confine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Wait for the listener fd from the child (or stop). -1 on stop/error. */
static int recv_listener(int sock, int stop_fd)
{
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
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
	int fd = -1;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (p[1].revents)
			goto out;
		if (p[0].revents)
			break;
	}
	memset(&u, 0, sizeof(u));
	if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1)
		goto out;
	h = CMSG_FIRSTHDR(&m);
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
	    h->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
out:
	return fd;
}

static void comm_of(pid_t pid, char *out, size_t cap)
{
	char path[64];
	int fd;
	ssize_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, out, cap - 1);
		close(fd);
	}
	if (n < 0)
		n = 0;
	out[n] = '\0';
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
}

/* Listeners served at once: the command's plus one per process the
 * supervisor starts inside the sandbox with the same plan (SSH sessions);
 * each confined child hands its own listener over the socketpair. */
#define MAX_LISTENERS 64

/* Answer one notification on lfd with EPERM, then report it. 0 or OSH_ESYS. */
static int serve_one(int lfd, osh_confine_denial_fn fn, void *ud)
{
	struct seccomp_notif n;
	struct seccomp_notif_resp r;
	struct osh_confine_denial d;
	char name[64], comm[32];

	memset(&n, 0, sizeof(n));
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0)
		return errno == EINTR || errno == ENOENT ? 0 : OSH_ESYS;
	/* Name the task while it still waits in the system call (after the
	 * answer it may exit at once and its /proc entry with it); the
	 * notification must still be valid after the read, or the pid may
	 * already name another process. */
	comm_of((pid_t)n.pid, comm, sizeof(comm));
	if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) != 0)
		comm[0] = '\0';
	memset(&r, 0, sizeof(r));
	r.id = n.id;
	r.error = -EPERM;
	(void)ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, &r); /* ENOENT: the task is gone */
	if (fn) {
		osh_confine_syscall_name(n.data.nr, name, sizeof(name));
		memset(&d, 0, sizeof(d));
		d.pid = (pid_t)n.pid;
		d.nr = n.data.nr;
		d.syscall = name;
		d.comm = comm;
		memcpy(d.args, n.data.args, sizeof(d.args));
		fn(ud, &d);
	}
	return 0;
}

int osh_confine_notify_run(const struct osh_confine *c, int stop_fd, osh_confine_denial_fn fn,
			   void *ud)
{
	int rc = 0;
	/* p[0] stop, p[1] the hand-over socket, p[2..] listeners */
	struct pollfd p[2 + MAX_LISTENERS];
	nfds_t n = 2;
	bool had_one = false;

	if (!c->sum.seccomp_notify)
		goto out;
	p[0] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = c->notify_sock[0], .events = POLLIN};
	for (;;) {
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = OSH_ESYS;
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			int lfd = recv_listener(c->notify_sock[0], stop_fd);

			if (lfd >= 0 && n < 2 + MAX_LISTENERS) {
				p[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
				had_one = true;
			} else if (lfd >= 0) {
				close(lfd); /* its denied calls fail with ENOSYS: still denied */
			}
		}
		for (nfds_t i = 2; i < n && !rc; i++) {
			if (p[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				/* no task uses this filter any more */
				close(p[i].fd);
				p[i--] = p[--n];
				continue;
			}
			if (p[i].revents & POLLIN)
				rc = serve_one(p[i].fd, fn, ud);
		}
		if (rc)
			break;
		/* Done when every listener handed over so far is gone: no task
		 * uses the filter any more. Sessions start only while the command
		 * runs (osh_ssh.h), so the command's listener is the first and
		 * the last to go. */
		if (had_one && n == 2)
			break;
		for (nfds_t i = 0; i < n; i++)
			p[i].revents = 0;
	}
out:
	for (nfds_t i = 2; i < n; i++)
		close(p[i].fd);
	return rc;
}
