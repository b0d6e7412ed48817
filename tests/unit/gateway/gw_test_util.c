/* gw_test_util.c - see gw_test_util.h. DESIGN: plain POSIX; directories are
 * tests/support/osh_testdir ones (JSONL validated, logs archived, removed). */
#include "gw_test_util.h"
#include "osh_testdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *gwt_tmpdir(void)
{
	return osh_testdir_new("gw-test");
}

void gwt_rmdir(char *dir)
{
	osh_testdir_finish(dir);
}

char *gwt_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

int gwt_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc = -1;

	if (!f)
		return -1;
	if (fputs(text, f) >= 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int gwt_write_rename(const char *path, const char *text)
{
	size_t n = strlen(path) + 8;
	char *tmp = malloc(n);
	int rc = -1;

	if (!tmp)
		return -1;
	snprintf(tmp, n, "%s.new~", path);
	if (gwt_write(tmp, text) == 0 && rename(tmp, path) == 0)
		rc = 0;
	free(tmp);
	return rc;
}

char *gwt_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

long long gwt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gwt_nap(void)
{
	struct timespec ts = {0, 5 * 1000 * 1000};

	nanosleep(&ts, NULL);
}

int gwt_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}
