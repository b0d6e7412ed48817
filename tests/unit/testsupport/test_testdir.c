/* test_testdir.c - the test-directory fixture validates, archives, removes.
 *
 * DESIGN
 * The fixture is what makes "every JSONL line a test writes is validated"
 * true, so it must itself be able to fail: a schema-invalid line (the
 * status_id 42 of the audit's mutant M8) must make it report failure, a valid
 * one must pass, and in both cases the directory must be gone afterwards.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osh_testdir.h"

/* The synthetic events here carry no registered event code: keep them out of
 * the site census. */
static void no_census(void)
{
	unsetenv("OSH_TEST_LOG_DIR");
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(testdir, valid_jsonl_passes_and_dir_is_removed, .init = no_census)
{
	char *d = osh_testdir_new("fixture");
	char keep[4096];
	struct stat st;
	const char *good =
	    "{\"activity_id\":0,\"category_uid\":0,\"class_uid\":0,\"metadata\":{\"product\":"
	    "{\"name\":\"t\",\"vendor_name\":\"t\"},\"version\":\"1.7.0\"},\"severity_id\":1,"
	    "\"time\":1,\"type_uid\":0}\n";

	snprintf(keep, sizeof(keep), "%s", d);
	put(d, "openshell.log", "2026-12-06T00:00:00.000Z INFO test: hello\n");
	put(d, "openshell-ocsf.log", good);
	cr_assert_eq(osh_testdir_finish_rc(d), 0);
	cr_assert_neq(stat(keep, &st), 0, "directory removed");
}

Test(testdir, invalid_jsonl_fails_and_dir_is_removed, .init = no_census)
{
	char *d = osh_testdir_new("fixture");
	char keep[4096];
	struct stat st;
	const char *bad =
	    "{\"activity_id\":0,\"category_uid\":0,\"class_uid\":0,\"metadata\":{\"product\":"
	    "{\"name\":\"t\",\"vendor_name\":\"t\"},\"version\":\"1.7.0\"},\"severity_id\":1,"
	    "\"status_id\":42,\"time\":1,\"type_uid\":0}\n";

	snprintf(keep, sizeof(keep), "%s", d);
	mkdir(keep, 0755);
	put(d, "openshell-ocsf.log.1", bad);
	cr_assert_neq(osh_testdir_finish_rc(d), 0, "status_id 42 is not a valid status");
	cr_assert_neq(stat(keep, &st), 0, "directory removed even on failure");
}

Test(testdir, honours_tmpdir, .init = no_census)
{
	char *base = osh_testdir_new("base");
	char *d;

	setenv("TMPDIR", base, 1);
	d = osh_testdir_new("inner");
	cr_assert_eq(strncmp(d, base, strlen(base)), 0, "%s is under %s", d, base);
	unsetenv("TMPDIR");
	osh_testdir_finish(d);
	osh_testdir_finish(base);
}
