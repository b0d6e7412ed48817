/* gw_test_util.c - see gw_test_util.h. DESIGN: plain POSIX; directories are
 * tests/support/osh_testdir ones (JSONL validated, logs archived, removed);
 * libpq and SQLite directly for the store helpers (the store itself is what
 * the tests check, so its setup does not go through it). */
#include "gw_test_util.h"
#include "osh_testdir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

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

bool gwt_store_is_pg(void)
{
	const char *d = getenv("OSH_TEST_PG_DIR");

	return d && d[0];
}

static char *pg_uri(const char *db)
{
	const char *user = getenv("OSH_TEST_PG_USER");
	char *u = NULL;

	if (asprintf(&u, "postgresql:///%s?host=%s&user=%s", db, getenv("OSH_TEST_PG_DIR"),
		     user && user[0] ? user : "postgres") < 0)
		u = NULL;
	return u;
}

char *gwt_store_locator(const char *dir)
{
	static unsigned counter;
	char name[64], sql[96], err[256];
	char *admin = NULL, *out = NULL;

	if (!gwt_store_is_pg())
		return gwt_path(dir, "gateway.db");
	snprintf(name, sizeof(name), "osh_t%ld_%u", (long)getpid(), counter++);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	admin = pg_uri("postgres");
	if (admin && gwt_store_exec(admin, sql, err, sizeof(err)) == 0)
		out = pg_uri(name);
	else
		fprintf(stderr, "gwt_store_locator: %s\n", admin ? err : "out of memory");
	free(admin);
	return out;
}

int gwt_store_exec(const char *locator, const char *sql, char *err, size_t errlen)
{
	int rc = -1;

	if (strncmp(locator, "postgresql://", 13) == 0) {
		PGconn *c = PQconnectdb(locator);
		PGresult *r = NULL;

		if (PQstatus(c) == CONNECTION_OK) {
			r = PQexec(c, sql);
			if (PQresultStatus(r) == PGRES_COMMAND_OK ||
			    PQresultStatus(r) == PGRES_TUPLES_OK)
				rc = 0;
		}
		if (rc != 0)
			snprintf(err, errlen, "%s", PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
	} else {
		sqlite3 *db = NULL;
		char *msg = NULL;

		if (sqlite3_open(locator, &db) == SQLITE_OK &&
		    sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
			rc = 0;
		else
			snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		sqlite3_close(db);
	}
	return rc;
}
