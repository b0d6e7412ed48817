/* confine_seccomp.c - the seccomp filter, compiled in the parent.
 *
 * DESIGN
 * A default-allow filter for the native architecture that answers EPERM to
 * the system calls an agent has no business making and that widen the
 * kernel attack surface or break out of the other protections: tracing and
 * reading other processes (ptrace, process_vm_*, pidfd_getfd), eBPF,
 * io_uring (it bypasses seccomp for its queued operations), the mount family
 * and namespace changes (mount, umount2, pivot_root, the new mount API,
 * setns, unshare/clone with CLONE_NEWUSER), kexec and module loading, the
 * kernel keyring, userfaultfd, perf_event_open, fileless execution
 * (memfd_create, execveat with AT_EMPTY_PATH), terminal input injection
 * (ioctl TIOCSTI), raw packet / bluetooth / vsock sockets and stacking a
 * filter of one's own. clone3 answers ENOSYS: its flags live in memory
 * seccomp cannot read, and libc falls back to clone, whose flags are
 * checked. Calls from another ABI (x32, i386) hit libseccomp's bad-arch
 * action and kill the process.
 *
 * With seccomp_notify the denials are SCMP_ACT_NOTIFY instead of an errno:
 * the child loads the filter with a listener fd and passes it to the
 * supervisor over a socketpair (confine_notify.c), which answers EPERM and
 * reports the call; the command sees the same EPERM.
 *
 * libseccomp 2.5 only exports to an fd, so the program goes through a
 * memfd into a heap buffer; the child loads it with one seccomp(2) call
 * (no libseccomp, no allocation after fork). Failing to build or load it is
 * always fatal: there is no best-effort seccomp.
 */
#include "confine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif
#define OSH_AT_EMPTY_PATH	    0x1000
#define OSH_SECCOMP_SET_MODE_FILTER 1

/* Every denial, as reported in CONFINE_SECCOMP: a bare name is denied
 * whatever its arguments (the filter takes those rows from this list); a
 * "name[...]" row is denied for the arguments named and built by its own rule
 * in build() below. */
const char *const osh_confine_seccomp_denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "bpf",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "mount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "perf_event_open",
    "memfd_create",
    "unshare[CLONE_NEWUSER]",
    "clone[CLONE_NEWUSER]",
    "clone3[ENOSYS]",
    "execveat[AT_EMPTY_PATH]",
    "ioctl[TIOCSTI]",
    "socket[AF_PACKET,AF_BLUETOOTH,AF_VSOCK]",
    "seccomp[SET_MODE_FILTER]",
    NULL,
};

/* Argument `arg` equals v in its low 32 bits (int arguments: the upper half
 * of the register is not defined by the ABI, so it is masked off). */
static struct scmp_arg_cmp arg32(unsigned arg, uint32_t v)
{
	struct scmp_arg_cmp a = {
	    .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = v};

	return a;
}

/* Argument `arg` has every bit of flag set. */
static struct scmp_arg_cmp argmask(unsigned arg, uint64_t flag)
{
	struct scmp_arg_cmp a = {
	    .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = flag, .datum_b = flag};

	return a;
}

static int rule(scmp_filter_ctx ctx, uint32_t act, const char *name, unsigned *n, unsigned arg_cnt,
		const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r = 0;

	/* __NR_SCMP_ERROR: not a system call on this architecture. */
	if (nr != __NR_SCMP_ERROR) {
		r = seccomp_rule_add_array(ctx, act, nr, arg_cnt, cmp);
		if (r == 0)
			(*n)++;
	}
	return r;
}

void osh_confine_syscall_name(int nr, char *out, size_t cap)
{
	char *n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

	if (n)
		snprintf(out, cap, "%s", n);
	else
		snprintf(out, cap, "syscall_%d", nr);
	free(n);
}

int osh_confine_seccomp_prepare(struct osh_confine *c, bool notify, char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	/* User notification needs API level 5 (kernel 5.0, libseccomp 2.5). */
	bool use_notify = notify && seccomp_api_get() >= 5;
	const uint32_t deny = use_notify ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(EPERM);
	unsigned n = 0;
	int r = 0;
	int rc = 0;
	int fd = -1;
	const char *what = "init";
	struct stat st;

	if (!ctx) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "seccomp: seccomp_init failed");
		goto out;
	}
	for (size_t i = 0; osh_confine_seccomp_denied[i] && !r; i++) {
		if (strchr(osh_confine_seccomp_denied[i], '['))
			continue; /* argument-dependent: its own rule below */
		what = osh_confine_seccomp_denied[i];
		r = rule(ctx, deny, what, &n, 0, NULL);
	}
	if (!r) {
		const int families[] = {AF_PACKET, AF_BLUETOOTH, AF_VSOCK};

		what = "socket";
		for (size_t i = 0; i < 3 && !r; i++) {
			struct scmp_arg_cmp a = arg32(0, (uint32_t)families[i]);

			r = rule(ctx, deny, "socket", &n, 1, &a);
		}
	}
	if (!r) {
		struct scmp_arg_cmp a = argmask(0, CLONE_NEWUSER);

		what = "unshare";
		r = rule(ctx, deny, "unshare", &n, 1, &a);
		if (!r) {
			what = "clone";
			r = rule(ctx, deny, "clone", &n, 1, &a);
		}
	}
	if (!r) {
		what = "clone3";
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", &n, 0, NULL);
	}
	if (!r) {
		struct scmp_arg_cmp a = argmask(4, OSH_AT_EMPTY_PATH);

		what = "execveat";
		r = rule(ctx, deny, "execveat", &n, 1, &a);
	}
	if (!r) {
		struct scmp_arg_cmp a = arg32(1, TIOCSTI);

		what = "ioctl";
		r = rule(ctx, deny, "ioctl", &n, 1, &a);
	}
	if (!r) {
		struct scmp_arg_cmp a = arg32(0, OSH_SECCOMP_SET_MODE_FILTER);

		what = "seccomp";
		r = rule(ctx, deny, "seccomp", &n, 1, &a);
	}
	if (r) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "seccomp: rule for %s: %s", what,
				      strerror(-r));
		goto out;
	}
	fd = memfd_create("osh-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "seccomp: memfd_create: %s",
				      strerror(errno));
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r || fstat(fd, &st) != 0 || st.st_size <= 0 ||
	    st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > 0xffff) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "seccomp: export_bpf: %s",
				      r ? strerror(-r) : "bad program size");
		goto out;
	}
	c->bpf = malloc((size_t)st.st_size);
	if (!c->bpf) {
		rc = osh_confine_fail(OSH_ENOMEM, err, errlen, "seccomp: out of memory");
		goto out;
	}
	if (pread(fd, c->bpf, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "seccomp: reading the program: %s",
				      strerror(errno));
		goto out;
	}
	if (use_notify &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->notify_sock) != 0) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "seccomp: socketpair: %s",
				      strerror(errno));
		goto out;
	}
	c->sum.seccomp_notify = use_notify;
	c->bpf_len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	c->sum.seccomp = true;
	c->sum.seccomp_rules = n;
	c->sum.seccomp_insns = c->bpf_len;
out:
	if (fd >= 0)
		close(fd);
	if (ctx)
		seccomp_release(ctx);
	return rc;
}
