/* confine_probe.c - what a confined command can and cannot do.
 *
 * DESIGN
 * One tiny program the unit and e2e tests run inside the confinement; each
 * argument is one probe and prints one line "probe=result" where result is
 * "ok" or the errno name, so tests compare exact outcomes (EPERM from
 * seccomp, EACCES from Landlock or file modes) instead of guessing from a
 * shell's exit status. Probes: id, read:PATH, write:PATH, setuid0, ptrace,
 * mount, bpf, unshare-user, clone-user, io_uring, memfd, env:NAME.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e)
{
	switch (e) {
	case 0:
		return "ok";
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case ENOENT:
		return "ENOENT";
	case ENOSYS:
		return "ENOSYS";
	case EINVAL:
		return "EINVAL";
	case EROFS:
		return "EROFS";
	default:
		return strerror(e);
	}
}

static int rc_errno(long r)
{
	return r < 0 ? errno : 0;
}

static int child_fn(void *arg)
{
	(void)arg;
	return 0;
}

static int probe(const char *p)
{
	int e = EINVAL;

	if (strcmp(p, "id") == 0) {
		gid_t g[64];
		int n = getgroups(64, g);

		printf("id=%u:%u:%u:%u:%d\n", (unsigned)getuid(), (unsigned)geteuid(),
		       (unsigned)getgid(), (unsigned)getegid(), n);
		return 0;
	}
	if (strncmp(p, "env:", 4) == 0) {
		const char *v = getenv(p + 4);

		printf("%s=%s\n", p, v ? v : "(unset)");
		return 0;
	}
	if (strncmp(p, "read:", 5) == 0) {
		int fd = open(p + 5, O_RDONLY | O_CLOEXEC);

		e = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
	} else if (strncmp(p, "write:", 6) == 0) {
		int fd = open(p + 6, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		e = fd < 0 ? errno : 0;
		if (fd >= 0) {
			if (write(fd, "x\n", 2) != 2)
				e = errno;
			close(fd);
		}
	} else if (strcmp(p, "setuid0") == 0) {
		e = rc_errno(setuid(0));
	} else if (strcmp(p, "ptrace") == 0) {
		e = rc_errno(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	} else if (strcmp(p, "mount") == 0) {
		e = rc_errno(mount("none", "/tmp", "tmpfs", 0, NULL));
	} else if (strcmp(p, "bpf") == 0) {
		e = rc_errno(syscall(SYS_bpf, 0, NULL, 0));
	} else if (strcmp(p, "unshare-user") == 0) {
		e = rc_errno(unshare(CLONE_NEWUSER));
	} else if (strcmp(p, "clone-user") == 0) {
		static char stack[16384];
		int pid = clone(child_fn, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD, NULL);

		e = pid < 0 ? errno : 0;
		if (pid > 0)
			waitpid(pid, NULL, 0);
	} else if (strcmp(p, "io_uring") == 0) {
		e = rc_errno(syscall(SYS_io_uring_setup, 1, NULL));
	} else if (strcmp(p, "memfd") == 0) {
		int fd = memfd_create("probe", 0);

		e = fd < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
	}
	printf("%s=%s\n", p, ename(e));
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		probe(argv[i]);
	return fflush(stdout) == 0 ? 0 : 1;
}
