/* confine_notify.c - the supervisor's side of seccomp user notification:
 * denied system calls answered with EPERM and reported.
 *
 * DESIGN
 * seccomp's ERRNO action cannot log, so with seccomp_notify the filter's
 * deny rules are NOTIFY: the kernel parks the calling task and queues a
 * notification on the listener fd the child got when it loaded the filter
 * (and passed here over the socketpair). This loop answers every
 * notification with EPERM at once, then reports it; it never lets a call
 * proceed (no SECCOMP_USER_NOTIF_FLAG_CONTINUE), so there is no
 * time-of-check race to exploit. The listener reports POLLHUP when no task
 * uses the filter any more; a stop fd ends the loop earlier. If the loop is
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

int osh_confine_notify_run(const struct osh_confine *c, int stop_fd, osh_confine_denial_fn fn,
			   void *ud)
{
	int rc = 0;
	int lfd = -1;
	struct pollfd p[2];

	if (!c->sum.seccomp_notify)
		goto out;
	lfd = recv_listener(c->notify_sock[0], stop_fd);
	if (lfd < 0)
		goto out;
	p[0].fd = lfd;
	p[0].events = POLLIN;
	p[1].fd = stop_fd;
	p[1].events = POLLIN;
	for (;;) {
		struct seccomp_notif n;
		struct seccomp_notif_resp r;
		struct osh_confine_denial d;
		char name[64], comm[32];

		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = OSH_ESYS;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
			break; /* no task uses the filter any more */
		if (!(p[0].revents & POLLIN))
			continue;
		memset(&n, 0, sizeof(n));
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0) {
			if (errno == EINTR || errno == ENOENT)
				continue; /* the task died or was interrupted */
			rc = OSH_ESYS;
			break;
		}
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
		if (!fn)
			continue;
		osh_confine_syscall_name(n.data.nr, name, sizeof(name));
		memset(&d, 0, sizeof(d));
		d.pid = (pid_t)n.pid;
		d.nr = n.data.nr;
		d.syscall = name;
		d.comm = comm;
		memcpy(d.args, n.data.args, sizeof(d.args));
		fn(ud, &d);
	}
out:
	if (lfd >= 0)
		close(lfd);
	return rc;
}
