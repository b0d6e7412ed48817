/* net_ns.c - run work inside the sandbox's network namespace.
 *
 * DESIGN
 * unshare(CLONE_NEWNET) and setns(fd, CLONE_NEWNET) switch the network
 * namespace of the calling thread only, so namespace-side work (rtnetlink
 * inside, libnftables, /proc/thread-self/net files) runs on a short-lived
 * helper thread that switches and then exits: the supervisor's own threads
 * never leave the host namespace, and a failed switch cannot strand them.
 * The namespace created this way is anonymous; the fd opened on
 * /proc/thread-self/ns/net keeps it alive after the helper exits.
 */
#include "net_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

struct job {
	int nsfd;   /* -1: create */
	int out_fd; /* created namespace */
	int (*fn)(void *arg);
	void *arg;
	int rc;
	int sys_errno;
};

static void *job_main(void *p)
{
	struct job *j = p;

	j->rc = 0;
	if (j->nsfd < 0) {
		if (unshare(CLONE_NEWNET) != 0) {
			j->rc = OSH_ESYS;
			j->sys_errno = errno;
		} else {
			j->out_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
			if (j->out_fd < 0) {
				j->rc = OSH_ESYS;
				j->sys_errno = errno;
			}
		}
	} else if (setns(j->nsfd, CLONE_NEWNET) != 0) {
		j->rc = OSH_ESYS;
		j->sys_errno = errno;
	}
	if (j->rc == 0 && j->fn)
		j->rc = j->fn(j->arg);
	return NULL;
}

static int run(struct job *j)
{
	pthread_t th;
	int e = pthread_create(&th, NULL, job_main, j);

	if (e != 0) {
		j->rc = OSH_ESYS;
		j->sys_errno = e;
	} else {
		pthread_join(th, NULL);
	}
	return j->rc;
}

int net_ns_create(int *nsfd, int (*fn)(void *arg), void *arg, int *sys_errno)
{
	struct job j = {.nsfd = -1, .out_fd = -1, .fn = fn, .arg = arg};
	int rc = run(&j);

	*nsfd = j.out_fd;
	if (sys_errno)
		*sys_errno = j.sys_errno;
	return rc;
}

int net_ns_run(int nsfd, int (*fn)(void *arg), void *arg, int *sys_errno)
{
	struct job j = {.nsfd = nsfd, .out_fd = -1, .fn = fn, .arg = arg};
	int rc = run(&j);

	if (sys_errno)
		*sys_errno = j.sys_errno;
	return rc;
}
