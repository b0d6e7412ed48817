/* osh_testdir.c - test directories that are validated, archived and removed.
 *
 * DESIGN
 * See osh_testdir.h. JSONL files are recognised by name (openshell-ocsf.log
 * and its rotations, *-ocsf.log*, *.jsonl); they are validated in one
 * ocsf-validate run per directory (the validator compiles each class schema
 * once per process). Archiving keeps the relative path under a per-directory
 * folder so the census sees every file once.
 */
#include "osh_testdir.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef OSH_SOURCE_DIR
#error "OSH_SOURCE_DIR must point at the source tree"
#endif

extern char **environ;

#define MAX_FILES 256

char *osh_testdir_new(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char path[PATH_MAX];
	char *dup;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(path, sizeof(path), "%s/osh-%s-XXXXXX", tmp, tag ? tag : "test");
	cr_assert_not_null(mkdtemp(path), "mkdtemp %s: %s", path, strerror(errno));
	dup = strdup(path);
	cr_assert_not_null(dup);
	return dup;
}

/* ---------------------------------------------------------------- walk */

static struct {
	char *jsonl[MAX_FILES];
	int n_jsonl;
	char *logs[MAX_FILES];
	int n_logs;
} found;

static bool is_jsonl(const char *name)
{
	return strstr(name, "-ocsf.log") != NULL || strstr(name, ".jsonl") != NULL;
}

static bool is_log(const char *name)
{
	return strstr(name, ".log") != NULL || is_jsonl(name);
}

static int collect(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *name = path + ftw->base;

	(void)st;
	if (type != FTW_F)
		return 0;
	if (is_jsonl(name) && found.n_jsonl < MAX_FILES)
		found.jsonl[found.n_jsonl++] = strdup(path);
	if (is_log(name) && found.n_logs < MAX_FILES)
		found.logs[found.n_logs++] = strdup(path);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

/* ------------------------------------------------------------ validate */

/* Runs ocsf-validate --version auto over the JSONL files (each line against
 * the OCSF version its metadata.version names: a sandbox may write 1.1.0 ..
 * 1.7.0, docs/siem.md); 0 when all valid. */
static int validate(void)
{
	static char python[] = "/usr/bin/python3";
	static char validator[] = OSH_SOURCE_DIR "/tools/ocsf-validate";
	static char opt_version[] = "--version", opt_auto[] = "auto";
	char *argv[MAX_FILES + 6];
	int n = 0, status = 0, rc = -1;
	pid_t pid;

	if (found.n_jsonl == 0)
		return 0;
	argv[n++] = python;
	argv[n++] = validator;
	argv[n++] = opt_version;
	argv[n++] = opt_auto;
	for (int i = 0; i < found.n_jsonl; i++)
		argv[n++] = found.jsonl[i];
	argv[n] = NULL;
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		goto out;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
out:
	return rc;
}

/* --------------------------------------------------------------- archive */

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t r;

	while (out >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
}

/* mkdir -p */
static void make_dirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *q = p + 1; *q; q++) {
		if (*q == '/') {
			*q = '\0';
			(void)mkdir(p, 0755);
			*q = '/';
		}
	}
	(void)mkdir(p, 0755);
}

static void archive(const char *dir)
{
	static _Atomic unsigned seq;
	const char *root = getenv("OSH_TEST_LOG_DIR");
	const char *base = strrchr(dir, '/');
	char dest[PATH_MAX];
	size_t dl = strlen(dir);

	if (!root || !*root || found.n_logs == 0)
		return;
	make_dirs(root);
	snprintf(dest, sizeof(dest), "%s/%s-%d-%u", root, base ? base + 1 : dir, (int)getpid(),
		 atomic_fetch_add(&seq, 1));
	if (mkdir(dest, 0755) != 0 && errno != EEXIST)
		return;
	for (int i = 0; i < found.n_logs; i++) {
		char to[PATH_MAX + 256];
		const char *rel = found.logs[i] + dl + 1;
		size_t k;

		/* Flatten the relative path: a/b/openshell.log -> a_b_openshell.log */
		snprintf(to, sizeof(to), "%s/%s", dest, rel);
		for (k = strlen(dest) + 1; to[k]; k++)
			if (to[k] == '/')
				to[k] = '_';
		copy_file(found.logs[i], to);
	}
}

int osh_testdir_finish_rc(char *dir)
{
	int rc = 0;

	if (!dir)
		return 0;
	memset(&found, 0, sizeof(found));
	(void)nftw(dir, collect, 16, FTW_PHYS);
	rc = validate();
	archive(dir);
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < found.n_jsonl; i++)
		free(found.jsonl[i]);
	for (int i = 0; i < found.n_logs; i++)
		free(found.logs[i]);
	free(dir);
	return rc;
}

void osh_testdir_finish(char *dir)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", dir ? dir : "");
	cr_assert_eq(osh_testdir_finish_rc(dir), 0,
		     "invalid OCSF JSONL under %s (ocsf-validate output above)", copy);
}
