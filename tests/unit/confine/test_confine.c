/* test_confine.c - run-as user, Landlock, seccomp and unsafe-policy checks.
 *
 * DESIGN
 * The pure parts (path normalisation, sensitive paths, unsafe-policy
 * reasons, ABI rights) are checked directly. The rest runs for real: the
 * test prepares a confinement, forks, applies it with osh_confine_child and
 * execs confine_probe, whose one-line-per-probe output says exactly which
 * errno each operation got. Confinement needs root (CI runs as root); the
 * tests that switch users skip with a message otherwise. Test directories
 * live under /var/tmp, which no baseline rule covers, so Landlock (not file
 * modes) is what decides there.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "osh_confine.h"

#define A(s) ((char[]){s})

/* ------------------------------------------------------------------ notes */

#define MAXN 64
static struct {
	enum osh_confine_note_kind kind;
	char path[256];
	char detail[256];
	char user[64];
	uid_t uid;
	int err_no;
	int abi;
} notes[MAXN];
static int n_notes;

static void record(void *ud, const struct osh_confine_note *n)
{
	(void)ud;
	if (n_notes >= MAXN)
		return;
	notes[n_notes].kind = n->kind;
	snprintf(notes[n_notes].path, sizeof(notes[0].path), "%s", n->path ? n->path : "");
	snprintf(notes[n_notes].detail, sizeof(notes[0].detail), "%s", n->detail ? n->detail : "");
	snprintf(notes[n_notes].user, sizeof(notes[0].user), "%s", n->user ? n->user : "");
	notes[n_notes].uid = n->uid;
	notes[n_notes].err_no = n->err_no;
	notes[n_notes].abi = n->abi;
	n_notes++;
}

static int find_note(enum osh_confine_note_kind k, const char *path)
{
	for (int i = 0; i < n_notes; i++)
		if (notes[i].kind == k && (!path || strcmp(notes[i].path, path) == 0))
			return i;
	return -1;
}

/* ----------------------------------------------------------------- helpers */

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("confinement tests switch users: run as root (CI does)");
}

/* The probe is copied to /tmp (a baseline read-write path, so executable
 * under Landlock and reachable for the sandbox user). */
static char probe[64];

static void probe_install(void)
{
	char cmd[256];

	snprintf(probe, sizeof(probe), "/tmp/osh-confine-probe-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd), "install -m 0755 '%s' '%s'", CONFINE_PROBE, probe);
	cr_assert_eq(system(cmd), 0);
}

/* Run confine_probe with args under c; output into out. Returns the exit
 * status (or 200 + errno-ish on a child_setup failure, step in step). */
static int run_probe(const struct osh_confine *c, char *const *args, char *out, size_t cap,
		     char *step, size_t steplen)
{
	int po[2], pe[2];
	pid_t pid;
	int st = 0;
	size_t n = 0;
	ssize_t r;
	char *argv[16];
	int i = 0;
	char *env[] = {A("PATH=/usr/bin:/bin"), A("OSH_TEST_SECRET=plain-visible"), NULL};

	probe_install();
	argv[i++] = probe;
	for (; args[i - 1] && i < 15; i++)
		argv[i] = args[i - 1];
	argv[i] = NULL;
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *s = NULL;
		int e;

		dup2(po[1], 1);
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		e = osh_confine_child(c, &s);
		if (e == 0) {
			execve(argv[0], argv, env);
			e = errno;
			s = "execve";
		}
		if (write(pe[1], s, strlen(s)) < 0)
			_exit(99);
		_exit(100);
	}
	close(po[1]);
	close(pe[1]);
	while (n + 1 < cap && (r = read(po[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	r = read(pe[0], step, steplen - 1);
	step[r > 0 ? r : 0] = '\0';
	close(po[0]);
	close(pe[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	unlink(probe);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool has_line(const char *out, const char *line)
{
	size_t n = strlen(line);
	const char *p = out;

	while ((p = strstr(p, line))) {
		if ((p == out || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

#define ASSERT_LINE(out, line) cr_assert(has_line(out, line), "missing '%s' in:\n%s", line, out)

/* A policy with the given lists (no network section). */
struct pol {
	Openshell__V1__SandboxPolicy p;
	Openshell__V1__FilesystemPolicy fs;
	Openshell__V1__LandlockPolicy ll;
	Openshell__V1__ProcessPolicy pr;
	char *ro[8], *rw[8];
};

static void pol_init(struct pol *x)
{
	Openshell__V1__SandboxPolicy p = OPENSHELL__V1__SANDBOX_POLICY__INIT;
	Openshell__V1__FilesystemPolicy fs = OPENSHELL__V1__FILESYSTEM_POLICY__INIT;
	Openshell__V1__LandlockPolicy ll = OPENSHELL__V1__LANDLOCK_POLICY__INIT;
	Openshell__V1__ProcessPolicy pr = OPENSHELL__V1__PROCESS_POLICY__INIT;

	memset(x, 0, sizeof(*x));
	x->p = p;
	x->fs = fs;
	x->ll = ll;
	x->pr = pr;
	x->p.version = 1;
	x->p.filesystem = &x->fs;
	x->fs.include_workdir = true;
	x->fs.read_only = x->ro;
	x->fs.read_write = x->rw;
	x->p.landlock = &x->ll;
	x->ll.compatibility = (char *)(uintptr_t) "best_effort";
}

static void pol_ro(struct pol *x, const char *p)
{
	x->ro[x->fs.n_read_only++] = (char *)(uintptr_t)p;
}

static void pol_rw(struct pol *x, const char *p)
{
	x->rw[x->fs.n_read_write++] = (char *)(uintptr_t)p;
}

/* A scratch dir under /var/tmp, mode 0777 (so only Landlock can refuse). */
static char scratch[64];

static void scratch_make(void)
{
	snprintf(scratch, sizeof(scratch), "/var/tmp/osh-confine-XXXXXX");
	cr_assert_not_null(mkdtemp(scratch));
	cr_assert_eq(chmod(scratch, 0777), 0);
}

static void scratch_rm(void)
{
	char cmd[128];

	if (scratch[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		cr_expect_eq(system(cmd), 0);
	}
}

/* -------------------------------------------------------------- pure parts */

Test(confine, path_norm)
{
	char out[64];

	cr_assert_eq(osh_confine_path_norm("/a//b/./c/", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/a/b/c");
	cr_assert_eq(osh_confine_path_norm("///", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/");
	cr_assert_eq(osh_confine_path_norm("/x/../y", out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/x/../y");
	cr_assert_eq(osh_confine_path_norm("rel/path", out, sizeof(out)), OSH_EINVAL);
	cr_assert_eq(osh_confine_path_norm("/aaaaaaaaaa", out, 6), OSH_ETOOBIG);
}

Test(confine, sensitive_paths)
{
	const char *bad[] = {
	    "/",     "/etc",	  "/etc/cron.d", "/usr/local", "//usr/",	   "/var",
	    "/root", "/proc/sys", "/dev",	 "/dev/sda",   "/run/docker.sock", "/var/lib/dpkg",
	    "/boot", NULL};
	const char *ok[] = {"/sandbox",	   "/tmp",     "/tmp/x",    "/dev/null",  "/dev/shm/x",
			    "/home/agent", "/var/tmp", "/etcetera", "/workspace", NULL};

	for (int i = 0; bad[i]; i++)
		cr_expect(osh_confine_path_sensitive(bad[i]), "%s should be sensitive", bad[i]);
	for (int i = 0; ok[i]; i++)
		cr_expect(!osh_confine_path_sensitive(ok[i]), "%s should not be sensitive", ok[i]);
}

Test(confine, unsafe_policy_reasons)
{
	struct pol x;
	struct osh_confine_issue is[OSH_CONFINE_MAX_ISSUES];
	size_t n;

	pol_init(&x);
	pol_rw(&x, "/sandbox");
	pol_ro(&x, "/etc");
	cr_assert_eq(osh_confine_unsafe_check(&x.p, "/work", is, 16), 0);
	cr_assert_eq(osh_confine_unsafe_check(NULL, NULL, is, 16), 0, "default is safe");

	pol_rw(&x, "/etc");
	pol_rw(&x, "/");
	x.p.process = &x.pr;
	x.pr.run_as_user = (char *)(uintptr_t)("root");
	x.pr.run_as_group = (char *)(uintptr_t)("0");
	n = osh_confine_unsafe_check(&x.p, "/usr/src", is, 16);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(is[0].field, "filesystem.read_write[1]");
	cr_assert(strstr(is[0].reason, "/etc"), "%s", is[0].reason);
	cr_assert_str_eq(is[1].field, "filesystem.read_write[2]");
	cr_assert_str_eq(is[2].field, "filesystem.include_workdir");
	cr_assert(strstr(is[2].reason, "/usr/src"));
	cr_assert_str_eq(is[3].field, "process.run_as_user");
	cr_assert_str_eq(is[4].field, "process.run_as_group");
	/* Only max filled, the count is still whole. */
	cr_assert_eq(osh_confine_unsafe_check(&x.p, "/usr/src", is, 2), 5);
	/* include_workdir false: the workdir is not granted, not a reason. */
	x.fs.include_workdir = false;
	cr_assert_eq(osh_confine_unsafe_check(&x.p, "/usr/src", is, 16), 4);
}

Test(confine, landlock_rights_by_abi)
{
	cr_assert_eq(osh_confine_ll_fs_rights(0), 0);
	cr_assert_eq(osh_confine_ll_fs_rights(1), (1ULL << 13) - 1);
	cr_assert_eq(osh_confine_ll_fs_rights(2), (1ULL << 14) - 1);
	cr_assert_eq(osh_confine_ll_fs_rights(3), (1ULL << 15) - 1);
	cr_assert_eq(osh_confine_ll_fs_rights(4), (1ULL << 15) - 1);
	cr_assert_eq(osh_confine_ll_fs_rights(5), (1ULL << 16) - 1);
	cr_assert_eq(osh_confine_ll_fs_rights(7), (1ULL << 16) - 1);
	cr_assert_geq(osh_confine_landlock_abi(), 0);
}

/* --------------------------------------------------------- real children */

Test(confine, runs_as_sandbox_user_and_cannot_regain_root, .fini = scratch_rm)
{
	struct osh_confine_opts o = {.note = record};
	struct osh_confine *c = NULL;
	const struct osh_confine_summary *s;
	char err[256], out[2048], step[64], want[96];
	char *args[] = {A("id"), A("setuid0"), A("read:/etc/shadow"), A("env:OSH_TEST_SECRET"),
			NULL};
	struct passwd *pw;

	need_root();
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	s = osh_confine_summary(c);
	cr_assert(s->switch_ids);
	cr_assert_str_eq(s->user, OSH_CONFINE_DEFAULT_USER);
	pw = getpwnam(OSH_CONFINE_DEFAULT_USER);
	cr_assert_not_null(pw, "the default user exists after prepare");
	cr_assert_neq(pw->pw_uid, 0);
	cr_assert_eq(s->uid, pw->pw_uid);
	cr_assert_eq(run_probe(c, args, out, sizeof(out), step, sizeof(step)), 0, "step %s", step);
	snprintf(want, sizeof(want), "id=%u:%u:%u:%u:%d", (unsigned)s->uid, (unsigned)s->uid,
		 (unsigned)s->gid, (unsigned)s->gid, s->n_groups);
	ASSERT_LINE(out, want);
	ASSERT_LINE(out, "setuid0=EPERM");
	ASSERT_LINE(out, "read:/etc/shadow=EACCES");
	osh_confine_free(c);
}

Test(confine, creates_the_default_user_once)
{
	char name[32];
	struct osh_confine_opts o = {.note = record, .default_user = name, .no_seccomp = true};
	struct osh_confine *c = NULL;
	char err[256], cmd[96];
	int i;

	need_root();
	snprintf(name, sizeof(name), "osh-t%d", (int)getpid() % 100000);
	cr_assert_null(getpwnam(name));
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	i = find_note(OSH_CONFINE_NOTE_USER_CREATED, NULL);
	cr_assert_geq(i, 0);
	cr_assert_str_eq(notes[i].user, name);
	cr_assert_neq(notes[i].uid, 0);
	cr_assert_eq(osh_confine_summary(c)->uid, notes[i].uid);
	osh_confine_free(c);
	/* Second time: exists, no new note. */
	n_notes = 0;
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(find_note(OSH_CONFINE_NOTE_USER_CREATED, NULL), -1);
	osh_confine_free(c);
	snprintf(cmd, sizeof(cmd), "userdel %s", name);
	cr_expect_eq(system(cmd), 0);
}

Test(confine, policy_user_must_exist)
{
	struct pol x;
	struct osh_confine_opts o = {.policy = &x.p, .note = record};
	struct osh_confine *c = NULL;
	char err[256];

	need_root();
	pol_init(&x);
	x.p.process = &x.pr;
	x.pr.run_as_user = (char *)(uintptr_t)("osh-no-such-user");
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), OSH_ENOTFOUND);
	cr_assert_null(c);
	cr_assert(strstr(err, "sandbox user not found: osh-no-such-user"), "%s", err);
	cr_assert_eq(find_note(OSH_CONFINE_NOTE_USER_CREATED, NULL), -1, "never created");
	x.pr.run_as_user = (char *)(uintptr_t)("nobody");
	x.pr.run_as_group = (char *)(uintptr_t)("osh-no-such-group");
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), OSH_ENOTFOUND);
	cr_assert(strstr(err, "sandbox group not found: osh-no-such-group"), "%s", err);
}

Test(confine, filesystem_read_only_read_write_and_outside, .fini = scratch_rm)
{
	struct pol x;
	struct osh_confine_opts o = {.policy = &x.p, .note = record};
	struct osh_confine *c = NULL;
	char err[512], out[4096], step[64];
	char ro[96], rw[96], outside[96], newdir[128];
	char a1[160], a2[160], a3[160], a4[160], a5[160];
	char *args[] = {a1, a2, a3, a4, a5, A("write:/tmp/osh-confine-probe"), NULL};
	struct stat st;
	const struct osh_confine_summary *s;

	need_root();
	scratch_make();
	snprintf(ro, sizeof(ro), "%s/ro", scratch);
	snprintf(rw, sizeof(rw), "%s/rw", scratch);
	snprintf(outside, sizeof(outside), "%s/outside", scratch);
	snprintf(newdir, sizeof(newdir), "%s/made/by/policy", scratch);
	cr_assert_eq(mkdir(ro, 0777), 0);
	cr_assert_eq(mkdir(rw, 0777), 0);
	cr_assert_eq(mkdir(outside, 0777), 0);
	cr_assert_eq(chmod(ro, 0777) | chmod(rw, 0777) | chmod(outside, 0777), 0);
	pol_init(&x);
	pol_ro(&x, ro);
	pol_rw(&x, rw);
	pol_rw(&x, newdir);
	snprintf(a1, sizeof(a1), "write:%s/f", ro);
	snprintf(a2, sizeof(a2), "write:%s/f", rw);
	snprintf(a3, sizeof(a3), "write:%s/f", outside);
	snprintf(a4, sizeof(a4), "read:%s", outside);
	snprintf(a5, sizeof(a5), "write:%s/f", newdir);
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	s = osh_confine_summary(c);
	cr_assert(s->landlock);
	cr_assert_eq(s->landlock_abi, osh_confine_landlock_abi());
	cr_assert_geq(s->rules_rw, 3); /* rw, newdir, /tmp ... */
	/* The new directory and its new parents belong to the sandbox user;
	 * the existing scratch dir was not re-owned. */
	cr_assert_eq(stat(newdir, &st), 0);
	cr_assert_eq(st.st_uid, s->uid);
	cr_assert_geq(find_note(OSH_CONFINE_NOTE_DIR_CREATED, newdir), 0);
	snprintf(a1, sizeof(a1), "%s/made", scratch);
	cr_assert_eq(stat(a1, &st), 0);
	cr_assert_eq(st.st_uid, s->uid);
	cr_assert_eq(stat(scratch, &st), 0);
	cr_assert_eq(st.st_uid, 0, "existing path keeps its owner");
	snprintf(a1, sizeof(a1), "write:%s/f", ro);

	cr_assert_eq(run_probe(c, args, out, sizeof(out), step, sizeof(step)), 0, "step %s", step);
	{
		char l[200];

		snprintf(l, sizeof(l), "%s=EACCES", a1);
		ASSERT_LINE(out, l);
		snprintf(l, sizeof(l), "%s=ok", a2);
		ASSERT_LINE(out, l);
		snprintf(l, sizeof(l), "%s=EACCES", a3);
		ASSERT_LINE(out, l);
		snprintf(l, sizeof(l), "%s=EACCES", a4);
		ASSERT_LINE(out, l);
		snprintf(l, sizeof(l), "%s=ok", a5);
		ASSERT_LINE(out, l);
	}
	ASSERT_LINE(out, "write:/tmp/osh-confine-probe=ok");
	unlink("/tmp/osh-confine-probe");
	osh_confine_free(c);
}

Test(confine, seccomp_denies_with_eperm)
{
	/* Supervisor ids kept (root) so only seccomp can be the one refusing:
	 * as root every one of these would otherwise pass or fail differently. */
	struct osh_confine_opts o = {.note = record, .no_switch_ids = true};
	struct osh_confine_opts off = o;
	struct osh_confine *c = NULL;
	char err[256], out[2048], step[64];
	char *args[] = {A("ptrace"),	 A("mount"),	A("bpf"),   A("unshare-user"),
			A("clone-user"), A("io_uring"), A("memfd"), NULL};

	need_root();
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(osh_confine_summary(c)->seccomp);
	cr_assert_gt(osh_confine_summary(c)->seccomp_rules, 30);
	cr_assert_eq(run_probe(c, args, out, sizeof(out), step, sizeof(step)), 0, "step %s", step);
	ASSERT_LINE(out, "ptrace=EPERM");
	ASSERT_LINE(out, "mount=EPERM");
	ASSERT_LINE(out, "bpf=EPERM");
	ASSERT_LINE(out, "unshare-user=EPERM");
	ASSERT_LINE(out, "clone-user=EPERM");
	ASSERT_LINE(out, "io_uring=EPERM");
	ASSERT_LINE(out, "memfd=EPERM");
	osh_confine_free(c);

	/* The same probes without the filter: ptrace and the namespace calls
	 * succeed, so the EPERMs above came from seccomp. */
	off.no_seccomp = true;
	cr_assert_eq(osh_confine_prepare(&off, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(!osh_confine_summary(c)->seccomp);
	cr_assert_eq(run_probe(c, args, out, sizeof(out), step, sizeof(step)), 0);
	ASSERT_LINE(out, "ptrace=ok");
	ASSERT_LINE(out, "unshare-user=ok");
	ASSERT_LINE(out, "memfd=ok");
	cr_assert(!has_line(out, "bpf=EPERM") || !has_line(out, "io_uring=EPERM"));
	osh_confine_free(c);
}

Test(confine, landlock_unavailable_best_effort_and_hard)
{
	struct pol x;
	struct osh_confine_opts o = {
	    .policy = &x.p, .note = record, .landlock_abi_cap = -1, .no_seccomp = true};
	struct osh_confine *c = NULL;
	char err[256];
	int i;

	pol_init(&x);
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(!osh_confine_summary(c)->landlock, "never claimed when not applied");
	i = find_note(OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE, NULL);
	cr_assert_geq(i, 0);
	cr_assert(strstr(notes[i].detail, "WITHOUT filesystem restrictions"));
	osh_confine_free(c);

	x.ll.compatibility = (char *)(uintptr_t) "hard_requirement";
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), OSH_EPERM);
	cr_assert_null(c);
	cr_assert(strstr(err, "landlock: hard_requirement"), "%s", err);
}

Test(confine, landlock_weaker_than_asked)
{
	struct osh_confine_opts o = {.note = record, .landlock_abi_cap = 2, .no_seccomp = true};
	struct osh_confine *c = NULL;
	char err[256];
	int i;

	if (osh_confine_landlock_abi() < 2)
		cr_skip_test("kernel Landlock ABI below 2");
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(osh_confine_summary(c)->landlock);
	cr_assert_eq(osh_confine_summary(c)->landlock_abi, 2);
	cr_assert_eq(osh_confine_summary(c)->handled_fs & OSH_LL_FS_TRUNCATE, 0);
	i = find_note(OSH_CONFINE_NOTE_LANDLOCK_WEAK, NULL);
	cr_assert_geq(i, 0);
	cr_assert_eq(notes[i].abi, 2);
	cr_assert(strstr(notes[i].detail, "truncate"), "%s", notes[i].detail);
	osh_confine_free(c);
}

Test(confine, missing_read_only_path_best_effort_and_hard)
{
	struct pol x;
	struct osh_confine_opts o = {.policy = &x.p, .note = record, .no_seccomp = true};
	struct osh_confine *c = NULL;
	char err[256];
	int i;

	pol_init(&x);
	pol_ro(&x, "/osh-no-such-dir/x");
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	i = find_note(OSH_CONFINE_NOTE_PATH_SKIPPED, "/osh-no-such-dir/x");
	cr_assert_geq(i, 0);
	cr_assert_eq(notes[i].err_no, ENOENT);
	cr_assert(osh_confine_summary(c)->landlock, "the other rules still apply");
	osh_confine_free(c);

	x.ll.compatibility = (char *)(uintptr_t) "hard_requirement";
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), OSH_ESYS);
	cr_assert(strstr(err, "/osh-no-such-dir/x"), "%s", err);
}

Test(confine, root_is_never_the_run_as_user)
{
	struct pol x;
	struct osh_confine_opts o = {.policy = &x.p, .note = record, .no_seccomp = true};
	struct osh_confine *c = NULL;
	char err[256];

	need_root();
	pol_init(&x);
	x.p.process = &x.pr;
	x.pr.run_as_user = (char *)(uintptr_t)("root");
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), OSH_EPERM);
	cr_assert_null(c);
	cr_assert(strstr(err, "never runs as root"), "%s", err);
	x.pr.run_as_user = (char *)(uintptr_t)("nobody");
	x.pr.run_as_group = (char *)(uintptr_t)("root");
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), OSH_EPERM);
	cr_assert(strstr(err, "gid 0"), "%s", err);
}

/* ------------------------------------------------ reported denials (notify) */

static struct {
	char syscall[32];
	char comm[32];
	pid_t pid;
} denials[16];
static int n_denials;

static void on_denial(void *ud, const struct osh_confine_denial *d)
{
	(void)ud;
	if (n_denials < 16) {
		snprintf(denials[n_denials].syscall, sizeof(denials[0].syscall), "%s", d->syscall);
		snprintf(denials[n_denials].comm, sizeof(denials[0].comm), "%s", d->comm);
		denials[n_denials].pid = d->pid;
		n_denials++;
	}
}

struct notify_arg {
	const struct osh_confine *c;
	int stop;
	int rc;
};

static void *notify_main(void *p)
{
	struct notify_arg *a = p;

	a->rc = osh_confine_notify_run(a->c, a->stop, on_denial, NULL);
	return NULL;
}

Test(confine, denied_calls_are_answered_eperm_and_reported)
{
	struct osh_confine_opts o = {.note = record, .seccomp_notify = true};
	struct osh_confine *c = NULL;
	char err[256], out[2048], step[64];
	char *args[] = {A("ptrace"), A("bpf"), A("unshare-user"), A("id"), NULL};
	int stop[2];
	pthread_t th;
	struct notify_arg na;
	int found = 0;

	need_root();
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(osh_confine_summary(c)->seccomp_notify, "kernel with user notification");
	cr_assert_eq(pipe(stop), 0);
	na.c = c;
	na.stop = stop[0];
	na.rc = -1;
	cr_assert_eq(pthread_create(&th, NULL, notify_main, &na), 0);
	cr_assert_eq(run_probe(c, args, out, sizeof(out), step, sizeof(step)), 0, "step %s", step);
	ASSERT_LINE(out, "ptrace=EPERM");
	ASSERT_LINE(out, "bpf=EPERM");
	ASSERT_LINE(out, "unshare-user=EPERM");
	/* The probe has exited: no task uses the filter, the loop ends by
	 * itself (POLLHUP), no stop needed. */
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(na.rc, 0);
	cr_assert_eq(n_denials, 3, "one report per denied call, got %d", n_denials);
	for (int i = 0; i < n_denials; i++) {
		found |= strcmp(denials[i].syscall, "ptrace") == 0 ? 1 : 0;
		found |= strcmp(denials[i].syscall, "bpf") == 0 ? 2 : 0;
		found |= strcmp(denials[i].syscall, "unshare") == 0 ? 4 : 0;
		cr_assert_gt(denials[i].pid, 0);
	}
	cr_assert_eq(found, 7, "ptrace, bpf and unshare reported");
	cr_assert(strncmp(denials[0].comm, "osh-confine-pro", 15) == 0, "comm %s", denials[0].comm);
	close(stop[0]);
	close(stop[1]);
	osh_confine_free(c);
}

Test(confine, notify_loop_stops_on_request)
{
	struct osh_confine_opts o = {.note = record, .seccomp_notify = true, .no_switch_ids = true};
	struct osh_confine *c = NULL;
	char err[256];
	int stop[2];
	pthread_t th;
	struct notify_arg na;

	need_root();
	cr_assert_eq(osh_confine_prepare(&o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pipe(stop), 0);
	na.c = c;
	na.stop = stop[0];
	na.rc = -1;
	cr_assert_eq(pthread_create(&th, NULL, notify_main, &na), 0);
	/* No child ever hands over a listener: the stop fd ends the wait. */
	cr_assert_eq(write(stop[1], "x", 1), 1);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(na.rc, 0);
	close(stop[0]);
	close(stop[1]);
	osh_confine_free(c);
}
