/* test_gw_file.c - files the gateway touches (F13, F14, F15, F16, F18).
 *
 * DESIGN: real files, FIFOs, symlinks and locks in a mkdtemp dir; every test
 * reproduces the report's attack (a planted symlink, a FIFO, a second
 * gateway) and asserts what the attacker wanted did not happen. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_test_util.h"
#include "gwfile.h"
#include "sandboxes.h"

static bool is_link(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
}

/* F13: a FIFO (no writer) as the config file is an error at once, not a hang. */
Test(gw_file, fifo_and_other_non_regular_files_are_refused, .timeout = 10)
{
	char *d = gwt_tmpdir(), *fifo = gwt_path(d, "gateway.yaml"), *big = gwt_path(d, "big");
	char err[512], *buf = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(osh_gw_file_read(fifo, 1024, &buf, &len, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "a FIFO, not a regular file"), "%s", err);
	cr_assert_null(buf);
	cr_assert_eq(osh_gw_file_read(d, 1024, &buf, &len, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "a directory"), "%s", err);
	cr_assert_eq(osh_gw_file_read("/dev/null", 1024, &buf, &len, err, sizeof(err)), OSH_EINVAL);
	free(fifo);
	fifo = gwt_path(d, "absent");
	cr_assert_eq(osh_gw_file_read(fifo, 1024, &buf, &len, err, sizeof(err)), OSH_ENOTFOUND);
	f = fopen(big, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 1025; i++)
		fputc('a', f);
	fclose(f);
	cr_assert_eq(osh_gw_file_read(big, 1024, &buf, &len, err, sizeof(err)), OSH_ETOOBIG);
	cr_assert(strstr(err, "larger than 1024 bytes"), "%s", err);
	cr_assert_eq(osh_gw_file_read(big, 1025, &buf, &len, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(len, 1025);
	cr_assert_eq(buf[1025], '\0');
	free(buf);
	free(fifo);
	free(big);
	gwt_rmdir(d);
}

/* F15: the old predictable temp name (<path>.tmp.<pid>) and any other planted
 * link are never written through; no temp file is left behind. */
Test(gw_file, replace_never_writes_through_a_planted_symlink)
{
	char *d = gwt_tmpdir(), *conf = gwt_path(d, "gateway.yaml"),
	     *victim = gwt_path(d, "victim.txt"), tmpname[4200], err[512], *got;

	cr_assert_eq(gwt_write(conf, "a: 1\n"), 0);
	cr_assert_eq(gwt_write(victim, "precious\n"), 0);
	snprintf(tmpname, sizeof(tmpname), "%s.tmp.%ld", conf, (long)getpid());
	cr_assert_eq(symlink(victim, tmpname), 0);
	cr_assert_eq(osh_gw_file_replace(conf, "a: 2\n", 5, 0644, true, err, sizeof(err)), 0, "%s",
		     err);
	got = gwt_read(victim);
	cr_assert_str_eq(got, "precious\n", "the planted link's target was written");
	free(got);
	got = gwt_read(conf);
	cr_assert_str_eq(got, "a: 2\n");
	free(got);
	cr_assert_not(is_link(conf), "gateway.yaml became a link");
	cr_assert_eq(gwt_count_entries(d), 3, "a temp file was left behind");
	free(conf);
	free(victim);
	gwt_rmdir(d);
}

/* F14: a config path that is a symlink keeps being one; the file it points to
 * gets the new content (and keeps its mode). */
Test(gw_file, replace_edits_the_file_a_symlink_points_to)
{
	char *d = gwt_tmpdir(), *conf = gwt_path(d, "gateway.yaml"),
	     *real = gwt_path(d, "real.yaml");
	char err[512], *got;
	struct stat st;

	cr_assert_eq(gwt_write(real, "a: 1\n"), 0);
	cr_assert_eq(chmod(real, 0600), 0);
	cr_assert_eq(symlink("real.yaml", conf), 0);
	cr_assert_eq(osh_gw_file_replace(conf, "a: 2\n", 5, 0644, true, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(is_link(conf), "the symlink was replaced by a plain file");
	got = gwt_read(real);
	cr_assert_str_eq(got, "a: 2\n");
	free(got);
	cr_assert_eq(stat(real, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	/* without follow_link (gateway.addr) the link itself is replaced */
	cr_assert_eq(osh_gw_file_replace(conf, "x\n", 2, 0644, false, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_not(is_link(conf));
	got = gwt_read(real);
	cr_assert_str_eq(got, "a: 2\n", "the link's target was written through");
	free(got);
	free(conf);
	free(real);
	gwt_rmdir(d);
}

/* F16: a second lock on the data dir is refused, naming the holder. */
Test(gw_file, the_data_dir_lock_is_exclusive)
{
	char *d = gwt_tmpdir(), err[1024], want[64];
	int fd1 = -1, fd2 = -1;

	cr_assert_eq(osh_gw_file_lock_dir(d, &fd1, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(fd1, 0);
	cr_assert_eq(osh_gw_file_lock_dir(d, &fd2, err, sizeof(err)), OSH_EEXIST);
	cr_assert_eq(fd2, -1);
	snprintf(want, sizeof(want), "in use by another gateway (pid %ld", (long)getpid());
	cr_assert(strstr(err, want), "%s", err);
	close(fd1);
	cr_assert_eq(osh_gw_file_lock_dir(d, &fd2, err, sizeof(err)), 0, "%s", err);
	close(fd2);
	gwt_rmdir(d);
}

/* F18: symlinks planted where a sandbox's directory or files go are refused,
 * and nothing is created outside the data dir. */
Test(gw_file, sandbox_dirs_refuse_planted_symlinks)
{
	char *d = gwt_tmpdir(), *sbs = gwt_path(d, "sandboxes"), *out = gwt_path(d, "outside");
	char *link = gwt_path(sbs, "nextbox"), *ok = gwt_path(sbs, "okbox"), err[4400], p[4200];

	cr_assert_eq(mkdir(sbs, 0750), 0);
	cr_assert_eq(mkdir(out, 0750), 0);
	cr_assert_eq(symlink(out, link), 0);
	cr_assert_eq(osh_gw_sandbox_dirs(sbs, "nextbox", true, err, sizeof(err)), OSH_EPERM);
	cr_assert(strstr(err, "nextbox is a symlink or not a directory: refused"), "%s", err);
	cr_assert_eq(gwt_count_entries(out), 0, "something was created outside the data dir");

	cr_assert_eq(osh_gw_sandbox_dirs(sbs, "okbox", true, err, sizeof(err)), 0, "%s", err);
	snprintf(p, sizeof(p), "%s/logs", ok);
	cr_assert_eq(access(p, F_OK), 0);
	snprintf(p, sizeof(p), "%s/supervisor.stderr", ok);
	cr_assert_eq(access(p, F_OK), 0);
	cr_assert_eq(osh_gw_sandbox_dirs(sbs, "okbox", true, err, sizeof(err)), 0, "reuse: %s",
		     err);
	/* a link in place of logs/ or of a supervisor file */
	snprintf(p, sizeof(p), "%s/logs", ok);
	cr_assert_eq(rmdir(p), 0);
	cr_assert_eq(symlink(out, p), 0);
	cr_assert_eq(osh_gw_sandbox_dirs(sbs, "okbox", true, err, sizeof(err)), OSH_EPERM);
	cr_assert_eq(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/supervisor.stdout", ok);
	cr_assert_eq(unlink(p), 0);
	cr_assert_eq(symlink("../../outside/stolen", p), 0);
	cr_assert_eq(osh_gw_sandbox_dirs(sbs, "okbox", false, err, sizeof(err)), OSH_EPERM);
	cr_assert(strstr(err, "supervisor.stdout: is a symlink: refused"), "%s", err);
	cr_assert_eq(gwt_count_entries(out), 0);
	free(sbs);
	free(out);
	free(link);
	free(ok);
	gwt_rmdir(d);
}
