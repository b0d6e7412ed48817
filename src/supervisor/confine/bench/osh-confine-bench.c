/* osh-confine-bench.c - what confinement costs, each figure a ratio against
 * a baseline measured in the same run.
 *
 * DESIGN
 * Three pairs, each `name value unit` on stdout:
 *   spawn:   fork + execve(/bin/true) + wait, plain (baseline) vs with
 *            osh_confine_child (ids, Landlock, seccomp) before the exec;
 *   allowed: getppid() in a loop, no filter (baseline) vs under the filter
 *            (the BPF program runs on every system call);
 *   denied:  ptrace(PTRACE_TRACEME) in a loop under the plain EPERM filter
 *            (baseline: answered in the kernel) vs under the reporting filter
 *            (user notification: a round trip to the supervisor's thread,
 *            which also builds no event here, so this is the floor).
 * Plus the one-off preparation time (user look-up, ruleset, BPF compile).
 * The loops run in a forked child that reports its timing over a pipe.
 * Needs root (the id switch); bounded: -n iterations (default 200 spawns,
 * 20000 calls).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "osh_confine.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* fork; in the child apply c (when set) and exec /bin/true. Microseconds
 * from fork to reaped. */
static double spawn_once(const struct osh_confine *c)
{
	double t0 = now_us();
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		const char *step = NULL;
		char *argv[] = {(char *)(uintptr_t) "true", NULL};
		char *envp[] = {NULL};

		if (c && osh_confine_child(c, &step) != 0)
			_exit(100);
		execve("/bin/true", argv, envp);
		_exit(101);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "osh-confine-bench: spawn failed (status %d)\n", st);
		exit(1);
	}
	return now_us() - t0;
}

enum loop { LOOP_GETPPID, LOOP_PTRACE };

/* In a child (confined by c when set) run n calls; nanoseconds per call. */
static double calls(const struct osh_confine *c, enum loop what, long n)
{
	int p[2];
	double per = -1;
	pid_t pid;

	if (pipe(p) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		const char *step = NULL;
		double t0, dt;

		close(p[0]);
		if (c && osh_confine_child(c, &step) != 0)
			_exit(100);
		t0 = now_us();
		for (long i = 0; i < n; i++) {
			if (what == LOOP_GETPPID)
				(void)getppid();
			else
				(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		}
		dt = (now_us() - t0) * 1e3 / (double)n;
		_exit(write(p[1], &dt, sizeof(dt)) == (ssize_t)sizeof(dt) ? 0 : 102);
	}
	close(p[1]);
	if (read(p[0], &per, sizeof(per)) != (ssize_t)sizeof(per))
		per = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (per < 0) {
		fprintf(stderr, "osh-confine-bench: call loop failed\n");
		exit(1);
	}
	return per;
}

struct notify {
	const struct osh_confine *c;
	int stop[2];
	pthread_t th;
};

static void *notify_main(void *p)
{
	struct notify *n = p;

	if (osh_confine_notify_run(n->c, n->stop[0], NULL, NULL) != 0)
		fprintf(stderr, "osh-confine-bench: notify loop failed\n");
	return NULL;
}

static struct osh_confine *prep(bool notify, double *us)
{
	struct osh_confine_opts o = {.seccomp_notify = notify};
	struct osh_confine *c = NULL;
	char err[512];
	double t0 = now_us();

	if (osh_confine_prepare(&o, &c, err, sizeof(err)) != 0) {
		fprintf(stderr, "osh-confine-bench: %s\n", err);
		exit(1);
	}
	if (us)
		*us = now_us() - t0;
	return c;
}

int main(int argc, char **argv)
{
	long spawns = 200, n = 20000;
	double prep_us, base, conf;
	struct osh_confine *plain, *rep;
	struct notify nt;

	if (argc > 2 && strcmp(argv[1], "-n") == 0) {
		n = strtol(argv[2], NULL, 10);
		spawns = n / 100 > 10 ? n / 100 : 10;
	}
	if (n < 100 || n > 10000000 || geteuid() != 0) {
		fprintf(stderr, "usage (as root): osh-confine-bench [-n CALLS (100..10000000)]\n");
		return 2;
	}
	plain = prep(false, &prep_us);
	printf("prepare_us %.0f us\n", prep_us);

	base = conf = 0;
	for (long i = 0; i < spawns; i++) {
		base += spawn_once(NULL);
		conf += spawn_once(plain);
	}
	printf("spawn_plain_us %.0f us\n", base / (double)spawns);
	printf("spawn_confined_us %.0f us\n", conf / (double)spawns);
	printf("spawn_ratio %.2f x\n", conf / base);

	base = calls(NULL, LOOP_GETPPID, n);
	conf = calls(plain, LOOP_GETPPID, n);
	printf("allowed_call_plain_ns %.0f ns\n", base);
	printf("allowed_call_filtered_ns %.0f ns\n", conf);
	printf("allowed_call_ratio %.2f x\n", conf / base);

	base = calls(plain, LOOP_PTRACE, n);
	rep = prep(true, NULL);
	nt.c = rep;
	if (!osh_confine_summary(rep)->seccomp_notify || pipe(nt.stop) != 0 ||
	    pthread_create(&nt.th, NULL, notify_main, &nt) != 0) {
		fprintf(stderr, "osh-confine-bench: no seccomp user notification here\n");
		return 1;
	}
	conf = calls(rep, LOOP_PTRACE, n / 10);
	if (write(nt.stop[1], "s", 1) != 1)
		return 1;
	pthread_join(nt.th, NULL);
	printf("denied_call_errno_ns %.0f ns\n", base);
	printf("denied_call_reported_ns %.0f ns\n", conf);
	printf("denied_call_ratio %.1f x\n", conf / base);
	osh_confine_free(plain);
	osh_confine_free(rep);
	return 0;
}
