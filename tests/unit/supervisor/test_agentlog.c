/* test_agentlog.c - agent.log writer: escaping, stream tags, long lines,
 * rotation, never through a symlink (F20).
 *
 * DESIGN: a real file in a mkdtemp dir, read back and compared line by line. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentlog.h"
#include "osh_testdir.h"

static char dir[4096];
static char *g_dir; /* osh_testdir: removed (and validated) by rm_tmp */

static void mkdir_tmp(void)
{
	g_dir = osh_testdir_new("agentlog");
	snprintf(dir, sizeof(dir), "%s", g_dir);
}

static void rm_tmp(void)
{
	char *d = g_dir;

	g_dir = NULL;
	osh_testdir_finish(d);
}

/* Lines of agent.log without their timestamps ("stdout text"). */
static int read_lines(const char *name, char lines[][8192], int max)
{
	char p[4200];
	FILE *f;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "r");
	cr_assert_not_null(f, "%s", p);
	while (n < max && fgets(lines[n], 8192, f)) {
		size_t l = strlen(lines[n]);

		cr_assert_gt(l, 25, "'%s'", lines[n]);
		cr_assert_eq(lines[n][23], 'Z', "timestamp first: '%s'", lines[n]);
		memmove(lines[n], lines[n] + 25, l - 25 + 1);
		lines[n][strcspn(lines[n], "\n")] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

static char lines[8][8192];

Test(agentlog, forged_lines_are_tagged_and_escaped)
{
	struct osh_agentlog *w = NULL;
	const char *forged = "2026-12-06T00:00:00.000Z OCSF LIFECYCLE:STOP [INFO] "
			     "openshell-sandbox success\n";
	const char *evil = "\x1b[31mred\r\\ \xff \xe2\x80\xae rtl\n";
	uint64_t n, lost;

	mkdir_tmp();
	cr_assert_eq(osh_agentlog_open(dir, 0, &w), 0);
	cr_assert_eq(osh_agentlog_feed(w, 1, forged, strlen(forged)), 0);
	cr_assert_eq(osh_agentlog_feed(w, 0, evil, strlen(evil)), 0);
	cr_assert_eq(osh_agentlog_feed(w, 0, "par", 3), 0);
	cr_assert_eq(osh_agentlog_feed(w, 1, "x\n", 2), 0, "streams keep their own partials");
	cr_assert_eq(osh_agentlog_feed(w, 0, "tial", 4), 0);
	osh_agentlog_close(w);
	cr_assert_eq(read_lines("agent.log", lines, 8), 4);
	cr_assert_str_eq(lines[0], "stderr 2026-12-06T00:00:00.000Z OCSF LIFECYCLE:STOP [INFO] "
				   "openshell-sandbox success");
	cr_assert_str_eq(lines[1], "stdout \\x1b[31mred\\x0d\\\\ \\xff \\u{202E} rtl");
	cr_assert_str_eq(lines[2], "stderr x");
	cr_assert_str_eq(lines[3], "stdout partial", "a partial line is written at close");
	(void)n;
	(void)lost;
	rm_tmp();
}

Test(agentlog, long_lines_are_cut_into_tagged_pieces)
{
	struct osh_agentlog *w = NULL;
	char *big = malloc(OSH_AGENTLOG_LINE_MAX * 2 + 10);
	uint64_t n, lost;

	mkdir_tmp();
	memset(big, 'a', OSH_AGENTLOG_LINE_MAX * 2 + 10);
	big[OSH_AGENTLOG_LINE_MAX * 2 + 9] = '\n';
	cr_assert_eq(osh_agentlog_open(dir, 0, &w), 0);
	cr_assert_eq(osh_agentlog_feed(w, 0, big, OSH_AGENTLOG_LINE_MAX * 2 + 10), 0);
	/* exactly the maximum, then its newline: no empty continuation */
	memset(big, 'b', OSH_AGENTLOG_LINE_MAX);
	big[OSH_AGENTLOG_LINE_MAX] = '\n';
	cr_assert_eq(osh_agentlog_feed(w, 0, big, OSH_AGENTLOG_LINE_MAX + 1), 0);
	cr_assert_eq(osh_agentlog_feed(w, 0, "next\n", 5), 0);
	osh_agentlog_counts(w, &n, &lost);
	cr_assert_eq(n, 5);
	cr_assert_eq(lost, 0);
	osh_agentlog_close(w);
	cr_assert_eq(read_lines("agent.log", lines, 8), 5);
	cr_assert_eq(strncmp(lines[0], "stdout aaa", 10), 0);
	cr_assert_eq(strlen(lines[0]), 7 + OSH_AGENTLOG_LINE_MAX);
	cr_assert_eq(strncmp(lines[1], "stdout+ aaa", 11), 0);
	cr_assert_str_eq(lines[2], "stdout+ aaaaaaaaa");
	cr_assert_eq(strncmp(lines[3], "stdout bbb", 10), 0);
	cr_assert_str_eq(lines[4], "stdout next");
	free(big);
	rm_tmp();
}

Test(agentlog, rotates_and_never_writes_through_a_symlink)
{
	struct osh_agentlog *w = NULL;
	char p[4200], victim[4200];
	struct stat st;

	mkdir_tmp();
	cr_assert_eq(osh_agentlog_open(dir, 200, &w), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(osh_agentlog_feed(w, 0, "0123456789012345678901234567890123\n", 35),
			     0);
	osh_agentlog_close(w);
	snprintf(p, sizeof(p), "%s/agent.log", dir);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_leq(st.st_size, 200);
	snprintf(p, sizeof(p), "%s/agent.log.1", dir);
	cr_assert_eq(stat(p, &st), 0, "rotated file kept");
	cr_assert_leq(st.st_size, 200);
	/* a planted link */
	rm_tmp();
	mkdir_tmp();
	snprintf(victim, sizeof(victim), "%s.victim", dir);
	snprintf(p, sizeof(p), "%s/agent.log", dir);
	cr_assert_eq(symlink(victim, p), 0);
	cr_assert_eq(osh_agentlog_open(dir, 0, &w), OSH_EIO);
	cr_assert_neq(access(victim, F_OK), 0, "the link's target was created");
	rm_tmp();
}
