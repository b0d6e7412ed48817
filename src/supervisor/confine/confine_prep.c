/* confine_prep.c - prepare in the parent, apply in the child.
 *
 * DESIGN
 * osh_confine_prepare runs the three preparations in the order the child
 * applies them (user, filesystem, seccomp) and stops at the first error.
 * osh_confine_child is the only code of this module that runs after fork:
 * raw system calls on the prepared struct, nothing else. The id switch uses
 * setresgid/setresuid directly (not the libc wrappers, which broadcast to
 * threads that do not exist in the child) and then proves that the saved
 * ids cannot bring root back. no_new_privs precedes Landlock and seccomp:
 * the kernel requires it of a task without CAP_SYS_ADMIN, which the
 * command no longer has.
 */
#include "confine_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#define OSH_SECCOMP_SET_MODE_FILTER	     1
#define OSH_SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)

int osh_confine_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void osh_confine_report(const struct osh_confine_opts *o, const struct osh_confine_note *n)
{
	if (o->note)
		o->note(o->note_ud, n);
}

int osh_confine_prepare(const struct osh_confine_opts *o, struct osh_confine **out, char *err,
			size_t errlen)
{
	struct osh_confine *c = calloc(1, sizeof(*c));
	int rc = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!c) {
		rc = osh_confine_fail(OSH_ENOMEM, err, errlen, "confine: out of memory");
		goto out;
	}
	c->ruleset_fd = -1;
	c->notify_sock[0] = c->notify_sock[1] = -1;
	rc = osh_confine_user_prepare(o, c, err, errlen);
	if (!rc)
		rc = osh_confine_fs_prepare(o, c, err, errlen);
	if (!rc && !o->no_seccomp)
		rc = osh_confine_seccomp_prepare(c, o->seccomp_notify, err, errlen);
	if (!rc) {
		*out = c;
		c = NULL;
	}
out:
	osh_confine_free(c);
	return rc;
}

const struct osh_confine_summary *osh_confine_summary(const struct osh_confine *c)
{
	return &c->sum;
}

/* Hand fd to the supervisor over the socketpair (SCM_RIGHTS). sendmsg is
 * async-signal-safe; the buffers are on the stack. 0 or an errno. */
static int send_fd(int sock, int fd)
{
	char byte = 'L';
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
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : errno;
}

int osh_confine_child(const struct osh_confine *c, const char **step)
{
	int e = 0;
	uid_t r, ef, s;
	pid_t parent = getppid();

	if (c->sum.switch_ids) {
		*step = "setgroups";
		if (syscall(SYS_setgroups, (size_t)c->n_groups, c->groups) != 0)
			goto fail;
		*step = "setgid";
		if (syscall(SYS_setresgid, c->sum.gid, c->sum.gid, c->sum.gid) != 0)
			goto fail;
		*step = "setuid";
		if (syscall(SYS_setresuid, c->sum.uid, c->sum.uid, c->sum.uid) != 0)
			goto fail;
		*step = "verify-root-drop";
		if (syscall(SYS_getresuid, &r, &ef, &s) != 0)
			goto fail;
		if (r != c->sum.uid || ef != c->sum.uid || s != c->sum.uid ||
		    syscall(SYS_setresuid, 0, 0, 0) == 0 || syscall(SYS_setresgid, 0, 0, 0) == 0) {
			e = ENOTRECOVERABLE; /* root could be regained: never exec */
			goto out;
		}
		/* The kernel clears the parent-death signal on a credential
		 * change: ask again, and make sure the supervisor is still there. */
		*step = "pdeathsig";
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
			goto fail;
		if (getppid() != parent) {
			e = ESRCH;
			goto out;
		}
	}
	*step = "no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		goto fail;
	if (c->ruleset_fd >= 0) {
		*step = "landlock";
		if (syscall(SYS_landlock_restrict_self, c->ruleset_fd, 0) != 0)
			goto fail;
		close(c->ruleset_fd);
	}
	if (c->bpf) {
		struct sock_fprog prog = {.len = c->bpf_len, .filter = c->bpf};
		long lfd;

		*step = "seccomp";
		lfd = syscall(SYS_seccomp, OSH_SECCOMP_SET_MODE_FILTER,
			      c->sum.seccomp_notify ? OSH_SECCOMP_FILTER_FLAG_NEW_LISTENER : 0UL,
			      &prog);
		if (lfd < 0)
			goto fail;
		if (c->sum.seccomp_notify) {
			*step = "seccomp-listener";
			e = send_fd(c->notify_sock[1], (int)lfd);
			close((int)lfd);
			if (e)
				goto out;
		}
	}
	*step = NULL;
	goto out;
fail:
	e = errno ? errno : EPERM;
out:
	return e;
}

void osh_confine_free(struct osh_confine *c)
{
	if (c) {
		if (c->ruleset_fd >= 0)
			close(c->ruleset_fd);
		for (int i = 0; i < 2; i++)
			if (c->notify_sock[i] >= 0)
				close(c->notify_sock[i]);
		free(c->bpf);
		free(c);
	}
}
