/* test_sup_proc.c - child environment, spawn, exit codes, signals, timeout.
 * DESIGN: every test runs real child processes through osh_sup_proc_run and
 * records the notes it reports; Criterion forks each test, so the recorded
 * notes and the signal mask are per test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A mutable string literal for argv/envp arrays (-Wwrite-strings). */
#define A(s) ((char[]){s})

#include "sup_proc.h"
#include "osh_testdir.h"

#define MAXN 64

static struct {
	enum osh_sup_note_kind kind;
	pid_t pid;
	int exit_code;
	int signal;
	int err_no;
	bool timed_out;
	char name[64];
	char cmd[256];
} notes[MAXN];
static int n_notes;
static bool term_on_launch;

static void record(void *ud, const struct osh_sup_proc_note *n)
{
	(void)ud;
	if (n_notes >= MAXN)
		return;
	notes[n_notes].kind = n->kind;
	notes[n_notes].pid = n->pid;
	notes[n_notes].exit_code = n->exit_code;
	notes[n_notes].signal = n->signal;
	notes[n_notes].err_no = n->err_no;
	notes[n_notes].timed_out = n->timed_out;
	snprintf(notes[n_notes].name, sizeof(notes[0].name), "%s", n->name ? n->name : "");
	snprintf(notes[n_notes].cmd, sizeof(notes[0].cmd), "%s", n->cmd_line ? n->cmd_line : "");
	n_notes++;
	if (n->kind == OSH_SUP_NOTE_LAUNCH && term_on_launch)
		kill(getpid(), SIGTERM); /* pending until the wait loop takes it */
}

static int find(enum osh_sup_note_kind k)
{
	for (int i = 0; i < n_notes; i++)
		if (notes[i].kind == k)
			return i;
	return -1;
}

static int count(enum osh_sup_note_kind k)
{
	int c = 0;

	for (int i = 0; i < n_notes; i++)
		c += notes[i].kind == k;
	return c;
}

static char *default_env[] = {A("PATH=/usr/bin:/bin"), NULL};

static int run(char **argv, int64_t timeout_ms, int64_t grace_ms, int64_t tick_ms, char **env)
{
	struct osh_sup_proc_opts o = {
	    .argv = argv,
	    .env = env ? env : default_env,
	    .timeout_ms = timeout_ms,
	    .grace_ms = grace_ms,
	    .tick_ms = tick_ms,
	    .note = record,
	};

	cr_assert_eq(osh_sup_signals_block(), 0);
	return osh_sup_proc_run(&o);
}

static void assert_no_children(void)
{
	errno = 0;
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1, "a child is left over");
	cr_assert_eq(errno, ECHILD);
}

Test(proc, exit_code_propagates)
{
	char *argv[] = {A("sh"), A("-c"), A("exit 3"), NULL};
	int code = run(argv, 0, 1000, 0, NULL);
	int l, x;

	cr_assert_eq(code, 3);
	l = find(OSH_SUP_NOTE_LAUNCH);
	x = find(OSH_SUP_NOTE_EXIT);
	cr_assert(l >= 0 && x > l);
	cr_assert_gt(notes[l].pid, 0);
	cr_assert_str_eq(notes[l].name, "sh");
	cr_assert_str_eq(notes[l].cmd, "sh -c exit 3");
	cr_assert_eq(notes[x].pid, notes[l].pid, "exit note keeps the pid");
	cr_assert_str_eq(notes[x].name, "sh", "exit note keeps the name");
	cr_assert_eq(notes[x].exit_code, 3);
	cr_assert_eq(notes[x].signal, 0);
	cr_assert_not(notes[x].timed_out);
	assert_no_children();
}

Test(proc, killed_by_signal_is_128_plus)
{
	char *argv[] = {A("sh"), A("-c"), A("kill -KILL $$"), NULL};

	cr_assert_eq(run(argv, 0, 1000, 0, NULL), 128 + SIGKILL);
	cr_assert_eq(notes[find(OSH_SUP_NOTE_EXIT)].signal, SIGKILL);
}

Test(proc, timeout_terminates_and_returns_124)
{
	char *argv[] = {A("sleep"), A("30"), NULL};
	int x;

	cr_assert_eq(run(argv, 150, 5000, 0, NULL), OSH_SUP_EXIT_TIMEOUT);
	cr_assert_geq(find(OSH_SUP_NOTE_TIMEOUT), 0);
	x = find(OSH_SUP_NOTE_EXIT);
	cr_assert_gt(x, find(OSH_SUP_NOTE_TIMEOUT));
	cr_assert(notes[x].timed_out);
	cr_assert_eq(notes[x].signal, SIGTERM);
	cr_assert_str_eq(notes[x].name, "sleep");
	cr_assert_gt(notes[x].pid, 0);
	cr_assert_eq(count(OSH_SUP_NOTE_KILL), 0, "SIGTERM was enough");
	assert_no_children();
}

Test(proc, timeout_escalates_to_sigkill)
{
	char *argv[] = {A("sh"), A("-c"), A("trap '' TERM; while :; do sleep 0.05; done"), NULL};
	int x;

	cr_assert_eq(run(argv, 100, 300, 0, NULL), OSH_SUP_EXIT_TIMEOUT);
	cr_assert_eq(count(OSH_SUP_NOTE_KILL), 1);
	x = find(OSH_SUP_NOTE_EXIT);
	cr_assert_eq(notes[x].signal, SIGKILL);
	assert_no_children();
}

Test(proc, supervisor_sigterm_is_forwarded)
{
	char *argv[] = {A("sleep"), A("30"), NULL};
	int s;

	term_on_launch = true;
	cr_assert_eq(run(argv, 0, 5000, 0, NULL), 128 + SIGTERM);
	s = find(OSH_SUP_NOTE_SIGNAL);
	cr_assert_geq(s, 0);
	cr_assert_eq(notes[s].signal, SIGTERM);
	cr_assert_eq(notes[find(OSH_SUP_NOTE_EXIT)].signal, SIGTERM);
	assert_no_children();
}

Test(proc, command_not_found_is_127)
{
	char *argv[] = {A("definitely-not-a-command-osh"), NULL};
	int f;

	cr_assert_eq(run(argv, 0, 1000, 0, NULL), OSH_SUP_EXIT_NOTFOUND);
	f = find(OSH_SUP_NOTE_LAUNCH_FAIL);
	cr_assert_geq(f, 0);
	cr_assert_eq(notes[f].err_no, ENOENT);
	cr_assert_eq(find(OSH_SUP_NOTE_LAUNCH), -1);
}

Test(proc, not_executable_is_126)
{
	char *dir = osh_testdir_new("sup");
	char path[4096];
	FILE *f;
	char *argv[] = {path, NULL};

	snprintf(path, sizeof(path), "%s/script", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	cr_assert_eq(run(argv, 0, 1000, 0, NULL), OSH_SUP_EXIT_NOEXEC);
	osh_testdir_finish(dir);
}

Test(proc, leftover_group_members_are_cleaned_up)
{
	char *argv[] = {A("sh"), A("-c"), A("sleep 30 & exit 0"), NULL};

	cr_assert_eq(run(argv, 0, 2000, 0, NULL), 0);
	assert_no_children();
}

Test(proc, ticks_are_reported)
{
	char *argv[] = {A("sleep"), A("0.4"), NULL};

	cr_assert_eq(run(argv, 0, 1000, 50, NULL), 0);
	cr_assert_geq(count(OSH_SUP_NOTE_TICK), 3);
}

Test(proc, child_sees_only_the_clean_environment)
{
	char *parent[] = {A("PATH=/usr/bin:/bin"),
			  A("HOME=/home/x"),
			  A("SECRET_TOKEN=hunter2"),
			  A("KEEP_ME=yes"),
			  A("OPENSHELL_GATEWAY=127.0.0.1:1"),
			  NULL};
	const char *pass[] = {A("KEEP_ME")};
	const char *extra[] = {A("EXTRA=1"), A("HOME=/sandbox")};
	char **env = NULL;
	char *argv[] = {
	    A("sh"), A("-c"),
	    A("test \"$OPENSHELL_SANDBOX_ID\" = sb1 && test \"$OPENSHELL_SANDBOX_NAME\" = "
	      "n1 && test -z \"$SECRET_TOKEN\" && test -z \"$OPENSHELL_GATEWAY\" && "
	      "test \"$KEEP_ME\" = yes && test \"$EXTRA\" = 1 && test \"$HOME\" = /sandbox"),
	    NULL};

	cr_assert_eq(osh_sup_env_build(parent, pass, 1, extra, 2, "sb1", "n1", &env), 0);
	cr_assert_eq(run(argv, 0, 1000, 0, env), 0, "child saw a wrong environment");
	osh_sup_env_free(env);
}

Test(env, build_defaults_path_and_overrides)
{
	char *parent[] = {A("TERM=xterm"), A("LANG=C.UTF-8"), A("AWS_SECRET=x"), NULL};
	char **env = NULL;
	int n = 0;
	bool path = false, term = false, lang = false;

	cr_assert_eq(osh_sup_env_build(parent, NULL, 0, NULL, 0, "id", NULL, &env), 0);
	for (; env[n]; n++) {
		cr_assert_null(strstr(env[n], "AWS_SECRET"));
		cr_assert_null(strstr(env[n], "OPENSHELL_SANDBOX_NAME"));
		path |= strcmp(env[n], "PATH=/usr/local/bin:/usr/bin:/bin") == 0;
		term |= strcmp(env[n], "TERM=xterm") == 0;
		lang |= strcmp(env[n], "LANG=C.UTF-8") == 0;
	}
	cr_assert(path && term && lang);
	cr_assert_eq(n, 4, "TERM, LANG, OPENSHELL_SANDBOX_ID, PATH");
	osh_sup_env_free(env);
}

Test(resolve, finds_on_path_and_reports_missing)
{
	char out[256];

	cr_assert_eq(osh_sup_resolve("sh", "/nonexistent:/bin:/usr/bin", out, sizeof(out)), 0);
	cr_assert(strcmp(out, "/bin/sh") == 0 || strcmp(out, "/usr/bin/sh") == 0);
	cr_assert_eq(osh_sup_resolve("no-such-cmd-x", "/bin", out, sizeof(out)), OSH_ENOTFOUND);
	cr_assert_eq(osh_sup_resolve("/etc/passwd", NULL, out, sizeof(out)), OSH_EPERM);
	cr_assert_eq(osh_sup_resolve("/no/such/file", NULL, out, sizeof(out)), OSH_ENOTFOUND);
	cr_assert_eq(osh_sup_resolve("", NULL, out, sizeof(out)), OSH_ENOTFOUND);
}

Test(proc, workdir_is_the_childs_cwd)
{
	char *dir = osh_testdir_new("wd");
	char script[4200];
	char *argv[] = {A("sh"), A("-c"), script, NULL};
	struct osh_sup_proc_opts o = {
	    .argv = argv,
	    .env = default_env,
	    .workdir = dir,
	    .grace_ms = 1000,
	    .note = record,
	};

	snprintf(script, sizeof(script), "test \"$(pwd -P)\" = \"%s\"", dir);
	cr_assert_eq(osh_sup_signals_block(), 0);
	cr_assert_eq(osh_sup_proc_run(&o), 0, "child did not start in %s", dir);
	osh_testdir_finish(dir);
}
