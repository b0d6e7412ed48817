/* gw_test_util.h - helpers shared by the gateway unit tests: temp dirs, files,
 * polling a condition with a deadline. Test-only; not thread-safe. */
#ifndef GW_TEST_UTIL_H
#define GW_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (osh_testdir_new); returns a heap
 * path the caller owns (gwt_rmdir frees). */
char *gwt_tmpdir(void);

/* Validates every JSONL log under dir (the test fails on an invalid line),
 * archives the logs for the site census, removes the directory and frees
 * the path (osh_testdir_finish). NULL is a no-op. */
void gwt_rmdir(char *dir);

/* Joins dir and name into a heap string. */
char *gwt_path(const char *dir, const char *name);

/* Writes text to path (truncating). Returns 0 or -1. */
int gwt_write(const char *path, const char *text);

/* Writes text to path via a temp file + rename (atomic replacement). */
int gwt_write_rename(const char *path, const char *text);

/* Reads a whole file into a heap string (NULL on error). */
char *gwt_read(const char *path);

/* Milliseconds on the monotonic clock. */
long long gwt_now_ms(void);

/* Sleeps a few milliseconds (for polling loops only, never as synchronisation). */
void gwt_nap(void);

/* Number of entries in a directory (excluding . and ..), -1 on error. */
int gwt_count_entries(const char *dir);

/* The store backend under test: PostgreSQL when OSH_TEST_PG_DIR names the socket
 * dir of a temporary cluster (tests/support/pg_cluster.sh), SQLite otherwise. */
bool gwt_store_is_pg(void);

/* A locator for a fresh, empty store: a new database on the temporary
 * PostgreSQL cluster (postgresql://...), or DIR/gateway.db. Heap string; NULL on
 * failure (reason on stderr). */
char *gwt_store_locator(const char *dir);

/* Runs an SQL script directly on the store named by locator (SQLite file or
 * PostgreSQL URI), bypassing the store. Returns 0, or -1 with err filled. */
int gwt_store_exec(const char *locator, const char *sql, char *err, size_t errlen);

#endif
