/* store.c - SQLite store for sandboxes, config state and log lines.
 *
 * DESIGN: see store.h. Migrations are an array of SQL scripts; migration i takes
 * user_version i to i+1 and runs with the version bump inside one transaction.
 * Statements live in an enum-indexed table prepared at open, so the hot paths
 * (log append, query) never re-parse SQL. log_lines.seq is AUTOINCREMENT so a seq
 * is never reused after retention deletes: followers can resume "after seq N".
 * The per-sandbox counters (log_counts: lines and bytes) make the retention check
 * O(1) and the trim O(excess): it walks the (sandbox_id, seq, bytes) index, which
 * covers it, and deletes one seq range. One store is one connection guarded by
 * one mutex (statement reuse stays safe); a program that wants concurrent
 * readers opens one store per thread on the same file (WAL). */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "osh_level.h"

/* Bytes a stored line costs beyond its text (row header, numbers, index). */
#define LINE_OVERHEAD	  64
#define LINE_OVERHEAD_SQL "64"

static const char *const migrations[] = {
    /* 0 -> 1: the initial schema. */
    "CREATE TABLE sandboxes ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " policy BLOB,"
    " policy_version INTEGER NOT NULL DEFAULT 0,"
    " policy_hash TEXT NOT NULL DEFAULT '',"
    " command TEXT,"
    " log_dir TEXT,"
    " state INTEGER NOT NULL,"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT 0,"
    " exit_signal INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE config_state ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " revision INTEGER NOT NULL,"
    " snapshot TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE TABLE log_lines ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " ts_ms INTEGER NOT NULL,"
    " level TEXT NOT NULL,"
    " level_rank INTEGER NOT NULL,"
    " target TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " fields TEXT);"
    "CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq);"
    "CREATE TABLE log_counts ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " n INTEGER NOT NULL);",
    /* 1 -> 2: acknowledged log push. The highest supervisor push sequence
     * dealt with per sandbox, written in the same transaction as the lines,
     * so a resent line is recognised as a duplicate after any crash. */
    "CREATE TABLE push_marks ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL);",
    /* 2 -> 3: per-line and per-sandbox byte counts, for byte retention. The
     * index carries `bytes` so the trim walk never reads a row (big lines sit
     * in overflow pages). */
    "ALTER TABLE log_lines ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
    "UPDATE log_lines SET bytes = " LINE_OVERHEAD_SQL " + length(CAST(level AS BLOB))"
    " + length(CAST(target AS BLOB)) + length(CAST(message AS BLOB))"
    " + length(CAST(source AS BLOB)) + coalesce(length(CAST(fields AS BLOB)), 0);"
    "DROP INDEX log_lines_sandbox_seq;"
    "CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq, bytes);"
    "ALTER TABLE log_counts ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
    "UPDATE log_counts SET bytes = (SELECT coalesce(sum(bytes), 0) FROM log_lines"
    " WHERE log_lines.sandbox_id = log_counts.sandbox_id);",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == OSH_GW_STORE_SCHEMA_VERSION,
	       "one migration per schema version");

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_CFG_LOAD,
	S_CFG_SAVE,
	S_SB_INSERT,
	S_SB_BY_ID,
	S_SB_BY_NAME,
	S_SB_LIST,
	S_SB_STATE,
	S_SB_DELETE,
	S_SB_EXISTS,
	S_LOG_INSERT,
	S_LOG_COUNT_ADD,
	S_LOG_OLDEST,
	S_LOG_TRIM,
	S_LOG_COUNT_SUB,
	S_LOG_QUERY,
	S_LOG_QUERY_DESC,
	S_LOG_MATCHING,
	S_SB_PAGE,
	S_LOG_COUNT,
	S_PUSH_MARK_GET,
	S_PUSH_MARK_SET,
	S_COUNT
};

/* The filters of a log query: ?1 sandbox, ?2 after_seq, ?3 since_ms (0 = no
 * bound, so a line with a negative timestamp is still shown), ?4 rank, ?5
 * ",src,src," or NULL. */
#define LOG_WHERE                                                                                  \
	"sandbox_id = ?1 AND seq > ?2 AND (?3 = 0 OR ts_ms >= ?3) AND level_rank >= ?4"            \
	" AND (?5 IS NULL OR instr(?5, ',' || source || ',') > 0)"

#define SB_COLS                                                                                    \
	"id, name, policy, policy_version, policy_hash, command, log_dir, state, pid, exit_code, " \
	"exit_signal, created_ms"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_CFG_LOAD] = "SELECT revision, snapshot FROM config_state WHERE id = 1",
    [S_CFG_SAVE] = "INSERT INTO config_state(id, revision, snapshot, updated_ms)"
		   " VALUES (1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET"
		   " revision = excluded.revision, snapshot = excluded.snapshot,"
		   " updated_ms = excluded.updated_ms",
    [S_SB_INSERT] = "INSERT INTO sandboxes(" SB_COLS ")"
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [S_SB_BY_ID] = "SELECT " SB_COLS " FROM sandboxes WHERE id = ?1",
    [S_SB_BY_NAME] = "SELECT " SB_COLS " FROM sandboxes WHERE name = ?1",
    [S_SB_LIST] = "SELECT " SB_COLS " FROM sandboxes ORDER BY created_ms, rowid",
    [S_SB_STATE] = "UPDATE sandboxes SET state = ?2, pid = ?3, exit_code = ?4,"
		   " exit_signal = ?5 WHERE id = ?1",
    [S_SB_DELETE] = "DELETE FROM sandboxes WHERE id = ?1",
    [S_SB_EXISTS] = "SELECT 1 FROM sandboxes WHERE id = ?1",
    [S_LOG_INSERT] = "INSERT INTO log_lines(sandbox_id, ts_ms, level, level_rank, target,"
		     " message, source, fields, bytes)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_LOG_COUNT_ADD] = "INSERT INTO log_counts(sandbox_id, n, bytes) VALUES (?1, ?2, ?3)"
			" ON CONFLICT(sandbox_id) DO UPDATE SET n = n + excluded.n,"
			" bytes = bytes + excluded.bytes RETURNING n, bytes",
    /* Oldest first, from the covering index only. */
    [S_LOG_OLDEST] = "SELECT seq, bytes FROM log_lines WHERE sandbox_id = ?1 ORDER BY seq ASC",
    [S_LOG_TRIM] = "DELETE FROM log_lines WHERE sandbox_id = ?1 AND seq <= ?2",
    [S_LOG_COUNT_SUB] = "UPDATE log_counts SET n = n - ?2, bytes = bytes - ?3"
			" WHERE sandbox_id = ?1",
    [S_LOG_QUERY] = "SELECT seq, ts_ms, level, target, message, source, fields FROM ("
		    " SELECT seq, ts_ms, level, target, message, source, fields"
		    " FROM log_lines WHERE " LOG_WHERE " ORDER BY seq DESC LIMIT ?6)"
		    " ORDER BY seq ASC",
    /* Newest first: the caller stops as soon as it has what it can return,
     * so only those rows are read (walks the (sandbox_id, seq) index). */
    [S_LOG_QUERY_DESC] = "SELECT seq, ts_ms, level, target, message, source, fields"
			 " FROM log_lines WHERE " LOG_WHERE " ORDER BY seq DESC LIMIT ?6",
    /* Counts without reading message/fields (they sit after the filter columns,
     * in overflow pages for big lines). */
    [S_LOG_MATCHING] = "SELECT count(*) FROM log_lines WHERE " LOG_WHERE,
    [S_SB_PAGE] = "SELECT " SB_COLS ", rowid FROM sandboxes WHERE rowid > ?1"
		  " ORDER BY rowid LIMIT ?2",
    [S_LOG_COUNT] = "SELECT n FROM log_counts WHERE sandbox_id = ?1",
    [S_PUSH_MARK_GET] = "SELECT seq FROM push_marks WHERE sandbox_id = ?1",
    [S_PUSH_MARK_SET] = "INSERT INTO push_marks(sandbox_id, seq) VALUES (?1, ?2)"
			" ON CONFLICT(sandbox_id) DO UPDATE SET seq = max(seq, excluded.seq)",
};

struct osh_gw_store {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	pthread_mutex_t mu;
	size_t retention;
	uint64_t retention_bytes;
	char err[512];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seterr(struct osh_gw_store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void seterr(struct osh_gw_store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt,
		  ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
}

/* Maps a SQLite result to osh_err and records the message. */
static int dberr(struct osh_gw_store *st, int src, const char *what)
{
	int rc = OSH_EIO;

	if (src == SQLITE_CONSTRAINT)
		rc = OSH_EEXIST;
	else if (src == SQLITE_NOMEM)
		rc = OSH_ENOMEM;
	seterr(st, "%s: %s", what, sqlite3_errmsg(st->db));
	return rc;
}

const char *osh_gw_sb_state_name(enum osh_gw_sb_state s)
{
	const char *n = "unknown";

	switch (s) {
	case OSH_GW_SB_CREATED:
		n = "created";
		break;
	case OSH_GW_SB_RUNNING:
		n = "running";
		break;
	case OSH_GW_SB_EXITED:
		n = "exited";
		break;
	case OSH_GW_SB_FAILED:
		n = "failed";
		break;
	case OSH_GW_SB_LOST:
		n = "lost";
		break;
	}
	return n;
}

int osh_gw_level_rank(const char *level, const char *message)
{
	return osh_level_rank_line(level, message);
}

int osh_gw_level_parse(const char *name)
{
	enum osh_level l;

	return osh_level_parse(name, &l) == 0 ? osh_level_rank(l) : -1;
}

void osh_gw_sandbox_fini(struct osh_gw_sandbox *sb)
{
	if (!sb)
		return;
	free(sb->name);
	free(sb->policy);
	sb->policy_len = 0;
	free(sb->command);
	free(sb->log_dir);
	sb->name = sb->policy = sb->command = sb->log_dir = NULL;
}

void osh_gw_sandbox_list_free(struct osh_gw_sandbox *arr, size_t n)
{
	for (size_t i = 0; arr && i < n; i++)
		osh_gw_sandbox_fini(&arr[i]);
	free(arr);
}

static int exec_sql(struct osh_gw_store *st, const char *sql, const char *what)
{
	char *msg = NULL;
	int rc = 0;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		seterr(st, "%s: %s", what, msg ? msg : sqlite3_errmsg(st->db));
		rc = OSH_EIO;
	}
	sqlite3_free(msg);
	return rc;
}

static int get_user_version(struct osh_gw_store *st, int *v)
{
	sqlite3_stmt *s = NULL;
	int rc = OSH_EIO;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		rc = dberr(st, SQLITE_ERROR, "read schema version");
		goto out;
	}
	*v = sqlite3_column_int(s, 0);
	rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

static int migrate(struct osh_gw_store *st)
{
	char sql[64], what[64];
	int v = 0, rc;

	rc = get_user_version(st, &v);
	if (rc != 0)
		goto out;
	if (v > OSH_GW_STORE_SCHEMA_VERSION) {
		seterr(st, "database schema version %d is newer than this gateway's %d", v,
		       OSH_GW_STORE_SCHEMA_VERSION);
		rc = OSH_ESTATE;
		goto out;
	}
	for (; v < OSH_GW_STORE_SCHEMA_VERSION; v++) {
		snprintf(what, sizeof(what), "migration %d -> %d", v, v + 1);
		rc = exec_sql(st, "BEGIN IMMEDIATE", what);
		if (rc != 0)
			goto out;
		rc = exec_sql(st, migrations[v], what);
		if (rc == 0) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
			rc = exec_sql(st, sql, what);
		}
		if (rc == 0)
			rc = exec_sql(st, "COMMIT", what);
		if (rc != 0) {
			char keep[sizeof(st->err)];

			memcpy(keep, st->err, sizeof(keep));
			(void)exec_sql(st, "ROLLBACK", what);
			memcpy(st->err, keep, sizeof(keep));
			goto out;
		}
	}
out:
	return rc;
}

int osh_gw_store_create(struct osh_gw_store **out, const char *path,
			const struct osh_gw_store_opts *opts, char *err, size_t errlen)
{
	struct osh_gw_store *st = NULL;
	int rc = OSH_ENOMEM;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pthread_mutex_init(&st->mu, NULL);
	st->retention =
	    (opts && opts->log_retention) ? opts->log_retention : OSH_GW_STORE_DEFAULT_RETENTION;
	st->retention_bytes = (opts && opts->log_retention_bytes)
				  ? opts->log_retention_bytes
				  : OSH_GW_STORE_DEFAULT_RETENTION_BYTES;
	if (sqlite3_open_v2(path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = OSH_EIO;
		snprintf(err, errlen, "%s: cannot open database: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(st->db, 5000);
	rc = exec_sql(st,
		      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
		      " PRAGMA foreign_keys = ON;",
		      "configure database");
	if (rc == 0)
		rc = migrate(st);
	for (int i = 0; rc == 0 && i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &st->st[i], NULL) != SQLITE_OK)
			rc = dberr(st, SQLITE_ERROR, "prepare statement");
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		goto out;
	}
	*out = st;
	st = NULL;
out:
	osh_gw_store_destroy(st);
	return rc;
}

void osh_gw_store_destroy(struct osh_gw_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->st[i]);
	if (st->db)
		sqlite3_close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const char *osh_gw_store_errmsg(struct osh_gw_store *st)
{
	return st->err;
}

int osh_gw_store_schema_version(struct osh_gw_store *st, int *version)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = get_user_version(st, version);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Resets a statement for reuse (bindings cleared). */
static sqlite3_stmt *stmt(struct osh_gw_store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->st[id];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int step_done(struct osh_gw_store *st, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);
	int rc = (r == SQLITE_DONE || r == SQLITE_ROW) ? 0 : dberr(st, r, what);

	sqlite3_reset(s);
	return rc;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

int osh_gw_store_config_load(struct osh_gw_store *st, uint64_t *revision, char **snapshot)
{
	sqlite3_stmt *s;
	int rc, r;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_CFG_LOAD);
	r = sqlite3_step(s);
	if (r == SQLITE_DONE) {
		seterr(st, "no config state stored");
		rc = OSH_ENOTFOUND;
	} else if (r != SQLITE_ROW) {
		rc = dberr(st, r, "load config state");
	} else {
		*revision = (uint64_t)sqlite3_column_int64(s, 0);
		*snapshot = col_dup(s, 1);
		rc = *snapshot ? 0 : OSH_ENOMEM;
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_config_save(struct osh_gw_store *st, uint64_t revision, const char *snapshot)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_CFG_SAVE);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)revision);
	sqlite3_bind_text(s, 2, snapshot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ms());
	rc = step_done(st, s, "save config state");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_sandbox_insert(struct osh_gw_store *st, const struct osh_gw_sandbox *sb)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_SB_INSERT);
	sqlite3_bind_text(s, 1, sb->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sb->name, -1, SQLITE_STATIC);
	if (sb->policy)
		sqlite3_bind_blob(s, 3, sb->policy, (int)sb->policy_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, sb->policy_version);
	sqlite3_bind_text(s, 5, sb->policy_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, sb->command, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, sb->log_dir, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, (int)sb->state);
	sqlite3_bind_int(s, 9, sb->pid);
	sqlite3_bind_int(s, 10, sb->exit_code);
	sqlite3_bind_int(s, 11, sb->exit_signal);
	sqlite3_bind_int64(s, 12, sb->created_ms);
	rc = step_done(st, s, "insert sandbox");
	if (rc == OSH_EEXIST)
		seterr(st, "a sandbox named '%s' (or with id %s) exists already", sb->name, sb->id);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int row_to_sandbox(sqlite3_stmt *s, struct osh_gw_sandbox *sb)
{
	const unsigned char *t;

	memset(sb, 0, sizeof(*sb));
	t = sqlite3_column_text(s, 0);
	snprintf(sb->id, sizeof(sb->id), "%s", t ? (const char *)t : "");
	sb->name = col_dup(s, 1);
	if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
		const void *b = sqlite3_column_blob(s, 2);
		int bl = sqlite3_column_bytes(s, 2);

		sb->policy = malloc(bl > 0 ? (size_t)bl : 1);
		if (sb->policy && bl > 0)
			memcpy(sb->policy, b, (size_t)bl);
		sb->policy_len = bl > 0 ? (size_t)bl : 0;
	}
	sb->policy_version = (uint32_t)sqlite3_column_int64(s, 3);
	t = sqlite3_column_text(s, 4);
	snprintf(sb->policy_hash, sizeof(sb->policy_hash), "%s", t ? (const char *)t : "");
	sb->command = col_dup(s, 5);
	sb->log_dir = col_dup(s, 6);
	sb->state = (enum osh_gw_sb_state)sqlite3_column_int(s, 7);
	sb->pid = sqlite3_column_int(s, 8);
	sb->exit_code = sqlite3_column_int(s, 9);
	sb->exit_signal = sqlite3_column_int(s, 10);
	sb->created_ms = sqlite3_column_int64(s, 11);
	if (!sb->name || (sqlite3_column_type(s, 2) != SQLITE_NULL && !sb->policy) ||
	    (sqlite3_column_type(s, 5) != SQLITE_NULL && !sb->command) ||
	    (sqlite3_column_type(s, 6) != SQLITE_NULL && !sb->log_dir)) {
		osh_gw_sandbox_fini(sb);
		return OSH_ENOMEM;
	}
	return 0;
}

int osh_gw_store_sandbox_get(struct osh_gw_store *st, const char *key, bool by_name,
			     struct osh_gw_sandbox *out)
{
	sqlite3_stmt *s;
	int rc, r;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, by_name ? S_SB_BY_NAME : S_SB_BY_ID);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		rc = row_to_sandbox(s, out);
	} else if (r == SQLITE_DONE) {
		seterr(st, "no sandbox with %s '%s'", by_name ? "name" : "id", key);
		rc = OSH_ENOTFOUND;
	} else {
		rc = dberr(st, r, "get sandbox");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Collects the rows of a prepared sandbox statement (list or page). */
static int list_rows(struct osh_gw_store *st, enum stmt_id id, int64_t after, int64_t limit,
		     struct osh_gw_sandbox **out, size_t *n)
{
	struct osh_gw_sandbox *arr = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s;
	int rc = 0, r;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, id);
	if (id == S_SB_PAGE) {
		sqlite3_bind_int64(s, 1, after);
		sqlite3_bind_int64(s, 2, limit);
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			struct osh_gw_sandbox *na;

			cap = cap ? cap * 2 : 8;
			na = realloc(arr, cap * sizeof(*arr));
			if (!na) {
				rc = OSH_ENOMEM;
				goto out;
			}
			arr = na;
		}
		rc = row_to_sandbox(s, &arr[cnt]);
		if (rc != 0)
			goto out;
		arr[cnt].rowid = id == S_SB_PAGE ? sqlite3_column_int64(s, 12) : 0;
		cnt++;
	}
	if (r != SQLITE_DONE)
		rc = dberr(st, r, "list sandboxes");
out:
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->mu);
	if (rc != 0) {
		osh_gw_sandbox_list_free(arr, cnt);
		arr = NULL;
		cnt = 0;
	}
	*out = arr;
	*n = cnt;
	return rc;
}

int osh_gw_store_sandbox_list(struct osh_gw_store *st, struct osh_gw_sandbox **out, size_t *n)
{
	return list_rows(st, S_SB_LIST, 0, 0, out, n);
}

int osh_gw_store_sandbox_page(struct osh_gw_store *st, int64_t after, size_t limit,
			      struct osh_gw_sandbox **out, size_t *n)
{
	return list_rows(st, S_SB_PAGE, after, (int64_t)limit, out, n);
}

int osh_gw_store_sandbox_set_state(struct osh_gw_store *st, const char *id,
				   enum osh_gw_sb_state state, int pid, int exit_code,
				   int exit_signal)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_SB_STATE);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)state);
	sqlite3_bind_int(s, 3, pid);
	sqlite3_bind_int(s, 4, exit_code);
	sqlite3_bind_int(s, 5, exit_signal);
	rc = step_done(st, s, "update sandbox state");
	if (rc == 0 && sqlite3_changes(st->db) == 0) {
		seterr(st, "no sandbox with id '%s'", id);
		rc = OSH_ENOTFOUND;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_sandbox_delete(struct osh_gw_store *st, const char *id)
{
	sqlite3_stmt *s;
	int rc;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_SB_DELETE);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = step_done(st, s, "delete sandbox");
	if (rc == 0 && sqlite3_changes(st->db) == 0) {
		seterr(st, "no sandbox with id '%s'", id);
		rc = OSH_ENOTFOUND;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static uint64_t line_bytes(const struct osh_gw_logline *l)
{
	return LINE_OVERHEAD + (l->level ? strlen(l->level) : 0) +
	       (l->target ? strlen(l->target) : 0) + (l->message ? strlen(l->message) : 0) +
	       (l->source ? strlen(l->source) : 0) + (l->fields ? strlen(l->fields) : 0);
}

/* Deletes the oldest lines of a sandbox until at least `lines` lines and
 * `bytes` bytes are gone (either may be <= 0), inside the caller's
 * transaction: one walk of the covering index, one range delete. */
static int trim(struct osh_gw_store *st, const char *sandbox_id, int64_t lines, int64_t bytes)
{
	sqlite3_stmt *s = stmt(st, S_LOG_OLDEST);
	int64_t k = 0, freed = 0, last = -1;
	int rc = 0;

	sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
	while ((k < lines || freed < bytes) && sqlite3_step(s) == SQLITE_ROW) {
		last = sqlite3_column_int64(s, 0);
		freed += sqlite3_column_int64(s, 1);
		k++;
	}
	sqlite3_reset(s);
	if (last < 0)
		goto out;
	s = stmt(st, S_LOG_TRIM);
	sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, last);
	rc = step_done(st, s, "trim log lines");
	if (rc != 0)
		goto out;
	s = stmt(st, S_LOG_COUNT_SUB);
	sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, k);
	sqlite3_bind_int64(s, 3, freed);
	rc = step_done(st, s, "count log lines");
out:
	return rc;
}

/* Reads the push mark of sandbox_id (0 when none) into *mark; mutex held. */
static int push_mark_get(struct osh_gw_store *st, const char *sandbox_id, uint64_t *mark)
{
	sqlite3_stmt *s = stmt(st, S_PUSH_MARK_GET);
	int rc = 0, r;

	*mark = 0;
	sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*mark = (uint64_t)sqlite3_column_int64(s, 0);
	else if (r != SQLITE_DONE)
		rc = dberr(st, r, "read push mark");
	sqlite3_reset(s);
	return rc;
}

/* Inserts the lines not yet held, raises the push mark to max(mark, last_seq,
 * every inserted push_seq) and trims to retention, all in one transaction.
 * Mutex held by the caller. */
static int append_locked(struct osh_gw_store *st, const char *sandbox_id,
			 const struct osh_gw_logline *lines, size_t n, uint64_t last_seq,
			 uint64_t *seqs, struct osh_gw_push_result *res)
{
	sqlite3_stmt *s;
	bool in_tx = false;
	int64_t total = 0, total_bytes = 0;
	uint64_t mark = 0, new_mark, added_bytes = 0;
	size_t stored = 0;
	int rc = 0, r;

	s = stmt(st, S_BEGIN);
	rc = step_done(st, s, "begin");
	if (rc != 0)
		goto out;
	in_tx = true;
	s = stmt(st, S_SB_EXISTS);
	sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_reset(s);
	if (r == SQLITE_DONE) {
		seterr(st, "no sandbox with id '%s'", sandbox_id);
		rc = OSH_ENOTFOUND;
		goto out;
	} else if (r != SQLITE_ROW) {
		rc = dberr(st, r, "check sandbox");
		goto out;
	}
	rc = push_mark_get(st, sandbox_id, &mark);
	if (rc != 0)
		goto out;
	new_mark = mark > last_seq ? mark : last_seq;
	for (size_t i = 0; i < n; i++) {
		const struct osh_gw_logline *l = &lines[i];

		if (seqs)
			seqs[i] = 0;
		if (l->push_seq != 0 && l->push_seq <= mark) {
			if (res)
				res->duplicates++;
			continue;
		}
		s = stmt(st, S_LOG_INSERT);
		sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, l->ts_ms);
		sqlite3_bind_text(s, 3, l->level ? l->level : "", -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 4, osh_gw_level_rank(l->level, l->message));
		sqlite3_bind_text(s, 5, l->target ? l->target : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, l->message ? l->message : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, l->source ? l->source : "", -1, SQLITE_STATIC);
		if (l->fields && l->fields[0])
			sqlite3_bind_text(s, 8, l->fields, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 9, (sqlite3_int64)line_bytes(l));
		added_bytes += line_bytes(l);
		rc = step_done(st, s, "insert log line");
		if (rc != 0)
			goto out;
		if (seqs)
			seqs[i] = (uint64_t)sqlite3_last_insert_rowid(st->db);
		if (l->push_seq > new_mark)
			new_mark = l->push_seq;
		stored++;
	}
	if (new_mark > mark) {
		s = stmt(st, S_PUSH_MARK_SET);
		sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)new_mark);
		rc = step_done(st, s, "write push mark");
		if (rc != 0)
			goto out;
	}
	if (stored) {
		s = stmt(st, S_LOG_COUNT_ADD);
		sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)stored);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)added_bytes);
		r = sqlite3_step(s);
		if (r != SQLITE_ROW) {
			rc = dberr(st, r, "count log lines");
			sqlite3_reset(s);
			goto out;
		}
		total = sqlite3_column_int64(s, 0);
		total_bytes = sqlite3_column_int64(s, 1);
		sqlite3_reset(s);
	}
	if (total > (int64_t)st->retention || total_bytes > (int64_t)st->retention_bytes)
		rc = trim(st, sandbox_id, total - (int64_t)st->retention,
			  total_bytes - (int64_t)st->retention_bytes);
	if (rc != 0)
		goto out;
	s = stmt(st, S_COMMIT);
	rc = step_done(st, s, "commit");
	if (rc == 0) {
		in_tx = false;
		if (res) {
			res->stored = stored;
			res->acked_seq = new_mark;
		}
	}
out:
	if (in_tx)
		(void)step_done(st, stmt(st, S_ROLLBACK), "rollback");
	return rc;
}

int osh_gw_store_logs_append(struct osh_gw_store *st, const char *sandbox_id,
			     const struct osh_gw_logline *lines, size_t n, uint64_t *seqs)
{
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	if (n > 0)
		rc = append_locked(st, sandbox_id, lines, n, 0, seqs, NULL);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_logs_push(struct osh_gw_store *st, const char *sandbox_id,
			   const struct osh_gw_logline *lines, size_t n, uint64_t last_seq,
			   uint64_t *seqs, struct osh_gw_push_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&st->mu);
	rc = append_locked(st, sandbox_id, lines, n, last_seq, seqs, res);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_push_mark(struct osh_gw_store *st, const char *sandbox_id, uint64_t *mark)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = push_mark_get(st, sandbox_id, mark);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Builds ",a,b," for the source filter; NULL when there is no filter. */
static char *source_list(const struct osh_gw_logquery *q)
{
	size_t len = 2;
	char *buf, *p;

	if (!q->sources || q->n_sources == 0)
		return NULL;
	for (size_t i = 0; i < q->n_sources; i++)
		len += strlen(q->sources[i]) + 1;
	buf = malloc(len);
	if (!buf)
		return NULL;
	p = buf;
	*p++ = ',';
	for (size_t i = 0; i < q->n_sources; i++) {
		size_t l = strlen(q->sources[i]);

		memcpy(p, q->sources[i], l);
		p += l;
		*p++ = ',';
	}
	*p = '\0';
	return buf;
}

/* Binds ?1..?5 of LOG_WHERE. */
static void bind_filters(sqlite3_stmt *s, const struct osh_gw_logquery *q, int min_rank,
			 const char *srcs)
{
	sqlite3_bind_text(s, 1, q->sandbox_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)q->after_seq);
	sqlite3_bind_int64(s, 3, q->since_ms);
	sqlite3_bind_int(s, 4, min_rank);
	if (srcs)
		sqlite3_bind_text(s, 5, srcs, -1, SQLITE_STATIC);
}

int osh_gw_store_logs_query(struct osh_gw_store *st, const struct osh_gw_logquery *q,
			    osh_gw_logline_fn fn, void *ud)
{
	sqlite3_stmt *s;
	char *srcs = NULL;
	int rc = 0, r, min_rank = 0;

	if (q->min_level && q->min_level[0]) {
		min_rank = osh_gw_level_parse(q->min_level);
		if (min_rank < 0) {
			pthread_mutex_lock(&st->mu);
			seterr(st, "unknown level '%s' (expected TRACE, DEBUG, INFO, WARN, ERROR)",
			       q->min_level);
			pthread_mutex_unlock(&st->mu);
			return OSH_EINVAL;
		}
	}
	srcs = source_list(q);
	if (q->sources && q->n_sources && !srcs)
		return OSH_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = stmt(st, q->newest_first ? S_LOG_QUERY_DESC : S_LOG_QUERY);
	bind_filters(s, q, min_rank, srcs);
	sqlite3_bind_int64(s, 6, q->tail ? (sqlite3_int64)q->tail : -1);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		struct osh_gw_logline l = {
		    .seq = (uint64_t)sqlite3_column_int64(s, 0),
		    .sandbox_id = q->sandbox_id,
		    .ts_ms = sqlite3_column_int64(s, 1),
		    .level = (const char *)sqlite3_column_text(s, 2),
		    .target = (const char *)sqlite3_column_text(s, 3),
		    .message = (const char *)sqlite3_column_text(s, 4),
		    .source = (const char *)sqlite3_column_text(s, 5),
		    .fields = (const char *)sqlite3_column_text(s, 6),
		};

		rc = fn(ud, &l);
		if (rc != 0)
			break;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = dberr(st, r, "query log lines");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->mu);
	free(srcs);
	return rc;
}

int osh_gw_store_logs_matching(struct osh_gw_store *st, const struct osh_gw_logquery *q,
			       uint64_t *n)
{
	sqlite3_stmt *s;
	char *srcs = NULL;
	int rc = 0, r, min_rank = 0;

	*n = 0;
	if (q->min_level && q->min_level[0]) {
		min_rank = osh_gw_level_parse(q->min_level);
		if (min_rank < 0)
			return OSH_EINVAL;
	}
	srcs = source_list(q);
	if (q->sources && q->n_sources && !srcs)
		return OSH_ENOMEM;
	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_LOG_MATCHING);
	bind_filters(s, q, min_rank, srcs);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(s, 0);
	else
		rc = dberr(st, r, "count matching log lines");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->mu);
	free(srcs);
	return rc;
}

int osh_gw_store_logs_count(struct osh_gw_store *st, const char *sandbox_id, size_t *n)
{
	sqlite3_stmt *s;
	int rc = 0, r;

	pthread_mutex_lock(&st->mu);
	s = stmt(st, S_LOG_COUNT);
	sqlite3_bind_text(s, 1, sandbox_id, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(s, 0);
	else if (r == SQLITE_DONE)
		*n = 0;
	else
		rc = dberr(st, r, "count log lines");
	sqlite3_reset(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

bool osh_gw_logquery_match(const struct osh_gw_logquery *q, const struct osh_gw_logline *l)
{
	bool ok = true;

	if (l->seq <= q->after_seq && q->after_seq)
		ok = false;
	if (ok && q->since_ms != 0 && l->ts_ms < q->since_ms)
		ok = false;
	if (ok && q->min_level && q->min_level[0] &&
	    osh_gw_level_rank(l->level, l->message) < osh_gw_level_parse(q->min_level))
		ok = false;
	if (ok && q->sources && q->n_sources) {
		bool any = false;

		for (size_t i = 0; i < q->n_sources && !any; i++)
			any = l->source && strcmp(q->sources[i], l->source) == 0;
		ok = any;
	}
	return ok;
}
