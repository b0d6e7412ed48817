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
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#define OSH_SECCOMP_SET_MODE_FILTER 1

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
	rc = osh_confine_user_prepare(o, c, err, errlen);
	if (!rc)
		rc = osh_confine_fs_prepare(o, c, err, errlen);
	if (!rc && !o->no_seccomp)
		rc = osh_confine_seccomp_prepare(c, err, errlen);
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

		*step = "seccomp";
		if (syscall(SYS_seccomp, OSH_SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
			goto fail;
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
	if (!c)
		return;
	if (c->ruleset_fd >= 0)
		close(c->ruleset_fd);
	free(c->bpf);
	free(c);
}
