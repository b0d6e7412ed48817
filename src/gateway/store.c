/* store.c - the gateway store's logic: sandboxes, config state and log lines,
 * over one of two database drivers (SQLite by default, PostgreSQL).
 *
 * DESIGN: see store.h. The business logic (transactions, push marks, retention,
 * query filters) is written once here against store_db.h; the drivers only move
 * values. Migrations are per-dialect scripts (store_sqlite.c, store_pg.c) for
 * the same schema versions; migration i takes version i to i+1 inside one
 * transaction with the version bump. Statements live in an enum-indexed table
 * prepared at open, so the hot paths (log append, query) never re-parse SQL;
 * the SQL is shared, and the few statements whose dialects differ have a
 * PostgreSQL override in pg_sql[]. log_lines.seq never reuses a value after
 * retention deletes (AUTOINCREMENT / a sequence): followers can resume "after
 * seq N". The per-sandbox counters (log_counts: lines and bytes) make the
 * retention check O(1) and the trim O(excess). On PostgreSQL the append
 * transaction first locks the sandbox row, so appends to one sandbox from
 * several gateways serialise and the counters and the trim stay exact. One
 * store is one connection guarded by one mutex; a program that wants concurrent
 * readers opens one store per thread. */
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "osh_level.h"
#include "store_db.h"
#include "osh_time.h"

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_CFG_LOAD,
	S_CFG_SAVE,
	S_CFG_ADVANCE,
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
	S_SSH_PUT,
	S_SSH_GET,
	S_COUNT
};

_Static_assert(S_COUNT <= STORE_DB_MAX_STMTS, "driver statement table too small");

/* The filters of a log query: ?1 sandbox, ?2 after_seq, ?3 since_ms (0 = no
 * bound, so a line with a negative timestamp is still shown), ?4 rank, ?5
 * ",src,src," or NULL. INSTR is the dialect's substring-position function. */
#define LOG_WHERE_WITH(INSTR)                                                                      \
	"sandbox_id = ?1 AND seq > ?2 AND (CAST(?3 AS BIGINT) = 0 OR ts_ms >= CAST(?3 AS BIGINT))" \
	" AND level_rank >= ?4"                                                                    \
	" AND (CAST(?5 AS TEXT) IS NULL OR " INSTR "(CAST(?5 AS TEXT), ',' || source || ',') > 0)"
#define LOG_WHERE    LOG_WHERE_WITH("instr")
#define LOG_WHERE_PG LOG_WHERE_WITH("strpos")

#define SB_COLS                                                                                    \
	"id, name, policy, policy_version, policy_hash, command, log_dir, state, pid, exit_code, " \
	"exit_signal, created_ms"

#define LOG_QUERY_ASC(W)                                                                           \
	"SELECT seq, ts_ms, level, target, message, source, fields FROM ("                         \
	" SELECT seq, ts_ms, level, target, message, source, fields"                               \
	" FROM log_lines WHERE " W " ORDER BY seq DESC LIMIT ?6) AS t"                             \
	" ORDER BY seq ASC"
#define LOG_QUERY_DESC(W)                                                                          \
	"SELECT seq, ts_ms, level, target, message, source, fields"                                \
	" FROM log_lines WHERE " W " ORDER BY seq DESC LIMIT ?6"

/* ssh: the endpoint and host key a supervisor reported (ReportSandboxSsh). */
#define SSH_PUT_SQL                                                                                \
	"INSERT INTO sandbox_ssh(sandbox_id, endpoint, host_key, fingerprint, updated_ms)"         \
	" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(sandbox_id) DO UPDATE SET"                       \
	" endpoint = excluded.endpoint, host_key = excluded.host_key,"                             \
	" fingerprint = excluded.fingerprint, updated_ms = excluded.updated_ms"
#define SSH_GET_SQL "SELECT endpoint, host_key, fingerprint FROM sandbox_ssh WHERE sandbox_id = ?1"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_CFG_LOAD] = "SELECT revision, snapshot FROM config_state WHERE id = 1",
    [S_CFG_SAVE] = "INSERT INTO config_state(id, revision, snapshot, updated_ms)"
		   " VALUES (1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET"
		   " revision = excluded.revision, snapshot = excluded.snapshot,"
		   " updated_ms = excluded.updated_ms",
    /* One statement, so concurrent writers (several gateways) serialise on
     * the row: the revision moves by one per distinct snapshot and never
     * backwards or twice to the same number. */
    [S_CFG_ADVANCE] = "INSERT INTO config_state(id, revision, snapshot, updated_ms)"
		      " VALUES (1, 1, ?1, ?2) ON CONFLICT(id) DO UPDATE SET"
		      " revision = config_state.revision + CASE WHEN config_state.snapshot ="
		      " excluded.snapshot THEN 0 ELSE 1 END,"
		      " snapshot = excluded.snapshot, updated_ms = excluded.updated_ms"
		      " RETURNING revision",
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
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING seq",
    [S_LOG_COUNT_ADD] = "INSERT INTO log_counts(sandbox_id, n, bytes) VALUES (?1, ?2, ?3)"
			" ON CONFLICT(sandbox_id) DO UPDATE SET n = log_counts.n + excluded.n,"
			" bytes = log_counts.bytes + excluded.bytes RETURNING n, bytes",
    /* Oldest first, from the covering index only, in chunks (the caller
     * stops early; a chunk bounds what a client-side result holds). */
    [S_LOG_OLDEST] = "SELECT seq, bytes FROM log_lines WHERE sandbox_id = ?1 AND seq > ?2"
		     " ORDER BY seq ASC LIMIT ?3",
    [S_LOG_TRIM] = "DELETE FROM log_lines WHERE sandbox_id = ?1 AND seq <= ?2",
    [S_LOG_COUNT_SUB] = "UPDATE log_counts SET n = n - ?2, bytes = bytes - ?3"
			" WHERE sandbox_id = ?1",
    [S_LOG_QUERY] = LOG_QUERY_ASC(LOG_WHERE),
    /* Newest first: the caller stops as soon as it has what it can return,
     * so only those rows are read (walks the (sandbox_id, seq) index). */
    [S_LOG_QUERY_DESC] = LOG_QUERY_DESC(LOG_WHERE),
    /* Counts without reading message/fields. */
    [S_LOG_MATCHING] = "SELECT count(*) FROM log_lines WHERE " LOG_WHERE,
    [S_SB_PAGE] = "SELECT " SB_COLS ", rowid FROM sandboxes WHERE rowid > ?1"
		  " ORDER BY rowid LIMIT ?2",
    [S_LOG_COUNT] = "SELECT n FROM log_counts WHERE sandbox_id = ?1",
    [S_PUSH_MARK_GET] = "SELECT seq FROM push_marks WHERE sandbox_id = ?1",
    [S_PUSH_MARK_SET] = "INSERT INTO push_marks(sandbox_id, seq) VALUES (?1, ?2)"
			" ON CONFLICT(sandbox_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    [S_SSH_PUT] = SSH_PUT_SQL,
    [S_SSH_GET] = SSH_GET_SQL,
};

/* PostgreSQL spellings of the statements whose dialects differ. */
static const char *const pg_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    /* The row lock serialises appends to one sandbox across gateways (and
     * makes a concurrent delete wait), keeping counters and trim exact. */
    [S_SB_EXISTS] = "SELECT 1 FROM sandboxes WHERE id = ?1 FOR NO KEY UPDATE",
    [S_LOG_QUERY] = LOG_QUERY_ASC(LOG_WHERE_PG),
    [S_LOG_QUERY_DESC] = LOG_QUERY_DESC(LOG_WHERE_PG),
    [S_LOG_MATCHING] = "SELECT count(*) FROM log_lines WHERE " LOG_WHERE_PG,
    /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one statement over lines */
    [S_PUSH_MARK_SET] = "INSERT INTO push_marks(sandbox_id, seq) VALUES (?1, ?2)"
			" ON CONFLICT(sandbox_id) DO UPDATE SET"
			" seq = GREATEST(push_marks.seq, excluded.seq)",
};

struct osh_gw_store {
	const struct store_db_ops *ops;
	struct store_db *db;
	pthread_mutex_t mu;
	size_t retention;
	uint64_t retention_bytes;
	char err[512];
};

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

/* Records a driver error (rc is its osh_err code) with what was being done. */
static int dberr(struct osh_gw_store *st, int rc, const char *what)
{
	seterr(st, "%s: %s", what, st->ops->errmsg(st->db));
	return rc;
}

/* Shorthands for the driver calls on this store's connection. */
#define RESET(id)	    st->ops->reset(st->db, (id))
#define BIND_I64(id, i, v)  st->ops->bind_i64(st->db, (id), (i), (int64_t)(v))
#define BIND_TEXT(id, i, v) st->ops->bind_text(st->db, (id), (i), (v))
#define STEP(id)	    st->ops->step(st->db, (id))
#define COL_I64(id, c)	    st->ops->col_i64(st->db, (id), (c))
#define COL_TEXT(id, c)	    st->ops->col_text(st->db, (id), (c))

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
	int rc = st->ops->exec(st->db, sql);

	return rc != 0 ? dberr(st, rc, what) : 0;
}

static int get_version(struct osh_gw_store *st, int *v)
{
	int64_t x = 0;
	int rc = st->ops->query_int(st->db, st->ops->get_version, &x);

	if (rc != 0)
		return dberr(st, rc, "read schema version");
	*v = (int)x;
	return 0;
}

/* Each step: open the migration transaction (PostgreSQL: under an advisory
 * lock, so concurrent gateways migrate once), read the version, apply the next
 * script and bump the version, commit. */
static int migrate(struct osh_gw_store *st)
{
	char sql[96], what[64];
	int v = 0, rc = 0;

	for (;;) {
		snprintf(what, sizeof(what), "migration from version %d", v);
		rc = exec_sql(st, st->ops->begin_migration, what);
		if (rc != 0)
			goto out;
		rc = get_version(st, &v);
		if (rc == 0 && v > OSH_GW_STORE_SCHEMA_VERSION) {
			seterr(st, "database schema version %d is newer than this gateway's %d", v,
			       OSH_GW_STORE_SCHEMA_VERSION);
			rc = OSH_ESTATE;
		}
		if (rc == 0 && v == OSH_GW_STORE_SCHEMA_VERSION) {
			rc = exec_sql(st, "COMMIT", "commit schema check");
			goto out;
		}
		snprintf(what, sizeof(what), "migration %d -> %d", v, v + 1);
		if (rc == 0)
			rc = exec_sql(st, st->ops->migrations[v], what);
		if (rc == 0) {
			snprintf(sql, sizeof(sql), "%s%d%s", st->ops->set_version, v + 1,
				 st->ops->set_version_end);
			rc = exec_sql(st, sql, what);
		}
		if (rc == 0)
			rc = exec_sql(st, "COMMIT", what);
		if (rc != 0) {
			char keep[sizeof(st->err)];

			memcpy(keep, st->err, sizeof(keep));
			(void)st->ops->exec(st->db, "ROLLBACK");
			memcpy(st->err, keep, sizeof(keep));
			goto out;
		}
	}
out:
	return rc;
}

const char *osh_gw_store_backend(const char *locator, const char **target)
{
	const char *name = "sqlite";

	*target = locator;
	if (strncmp(locator, "postgresql://", 13) == 0 || strncmp(locator, "postgres://", 11) == 0)
		name = "postgresql";
	else if (strncmp(locator, "sqlite:", 7) == 0)
		*target = locator + 7;
	return name;
}

int osh_gw_store_create(struct osh_gw_store **out, const char *locator,
			const struct osh_gw_store_opts *opts, char *err, size_t errlen)
{
	struct osh_gw_store *st = NULL;
	const char *target = NULL;
	int rc = OSH_ENOMEM;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pthread_mutex_init(&st->mu, NULL);
	st->ops = strcmp(osh_gw_store_backend(locator, &target), "postgresql") == 0
		      ? &store_db_pg
		      : &store_db_sqlite;
	st->retention =
	    (opts && opts->log_retention) ? opts->log_retention : OSH_GW_STORE_DEFAULT_RETENTION;
	st->retention_bytes = (opts && opts->log_retention_bytes)
				  ? opts->log_retention_bytes
				  : OSH_GW_STORE_DEFAULT_RETENTION_BYTES;
	if (target[0] == '\0') {
		rc = OSH_EINVAL;
		snprintf(err, errlen, "store '%s': empty database path", locator);
		goto out;
	}
	rc = st->ops->open(&st->db, target, err, errlen);
	if (rc != 0)
		goto out;
	if (opts && opts->on_link && st->ops->set_link_cb)
		st->ops->set_link_cb(st->db, opts->on_link, opts->link_ud);
	rc = migrate(st);
	for (int i = 0; rc == 0 && i < S_COUNT; i++) {
		const char *sql = (st->ops->pg_dialect && pg_sql[i]) ? pg_sql[i] : stmt_sql[i];

		rc = st->ops->prepare(st->db, i, sql);
		if (rc != 0)
			rc = dberr(st, rc, "prepare statement");
	}
	if (rc != 0) {
		/* A PostgreSQL URI may carry a password: name the backend, not it. */
		snprintf(err, errlen, "%s: %s", st->ops->pg_dialect ? "PostgreSQL store" : target,
			 st->err);
		goto out;
	}
	/* A new connection that works is news after an outage (the caller's
	 * callback reports transitions only). */
	if (opts && opts->on_link && st->ops->set_link_cb)
		opts->on_link(opts->link_ud, true, "connected");
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
	if (st->db)
		st->ops->close(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const char *osh_gw_store_errmsg(struct osh_gw_store *st)
{
	return st->err;
}

const char *osh_gw_store_kind(const struct osh_gw_store *st)
{
	return st->ops->name;
}

int osh_gw_store_schema_version(struct osh_gw_store *st, int *version)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = get_version(st, version);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Steps a statement that returns no row we need, then resets it. */
static int step_done(struct osh_gw_store *st, enum stmt_id id, const char *what)
{
	int r = STEP(id);
	int rc = r >= 0 ? 0 : dberr(st, r, what);

	RESET(id);
	return rc;
}

static char *col_dup(struct osh_gw_store *st, enum stmt_id id, int i)
{
	const char *t = COL_TEXT(id, i);

	return t ? strdup(t) : NULL;
}

int osh_gw_store_config_load(struct osh_gw_store *st, uint64_t *revision, char **snapshot)
{
	int rc, r;

	pthread_mutex_lock(&st->mu);
	RESET(S_CFG_LOAD);
	r = STEP(S_CFG_LOAD);
	if (r == STORE_DONE) {
		seterr(st, "no config state stored");
		rc = OSH_ENOTFOUND;
	} else if (r < 0) {
		rc = dberr(st, r, "load config state");
	} else {
		*revision = (uint64_t)COL_I64(S_CFG_LOAD, 0);
		*snapshot = col_dup(st, S_CFG_LOAD, 1);
		rc = *snapshot ? 0 : OSH_ENOMEM;
	}
	RESET(S_CFG_LOAD);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_config_save(struct osh_gw_store *st, uint64_t revision, const char *snapshot)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	RESET(S_CFG_SAVE);
	BIND_I64(S_CFG_SAVE, 1, revision);
	BIND_TEXT(S_CFG_SAVE, 2, snapshot);
	BIND_I64(S_CFG_SAVE, 3, osh_time_wall_ms());
	rc = step_done(st, S_CFG_SAVE, "save config state");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_config_advance(struct osh_gw_store *st, const char *snapshot, uint64_t *revision)
{
	int rc = 0, r;

	pthread_mutex_lock(&st->mu);
	RESET(S_CFG_ADVANCE);
	BIND_TEXT(S_CFG_ADVANCE, 1, snapshot);
	BIND_I64(S_CFG_ADVANCE, 2, osh_time_wall_ms());
	r = STEP(S_CFG_ADVANCE);
	if (r == STORE_ROW)
		*revision = (uint64_t)COL_I64(S_CFG_ADVANCE, 0);
	else
		rc = dberr(st, r < 0 ? r : OSH_EIO, "advance config revision");
	RESET(S_CFG_ADVANCE);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_sandbox_insert(struct osh_gw_store *st, const struct osh_gw_sandbox *sb)
{
	const enum stmt_id s = S_SB_INSERT;
	int rc;

	pthread_mutex_lock(&st->mu);
	RESET(s);
	BIND_TEXT(s, 1, sb->id);
	BIND_TEXT(s, 2, sb->name);
	if (sb->policy)
		st->ops->bind_blob(st->db, s, 3, sb->policy, sb->policy_len);
	BIND_I64(s, 4, sb->policy_version);
	BIND_TEXT(s, 5, sb->policy_hash);
	BIND_TEXT(s, 6, sb->command);
	BIND_TEXT(s, 7, sb->log_dir);
	BIND_I64(s, 8, (int)sb->state);
	BIND_I64(s, 9, sb->pid);
	BIND_I64(s, 10, sb->exit_code);
	BIND_I64(s, 11, sb->exit_signal);
	BIND_I64(s, 12, sb->created_ms);
	rc = step_done(st, s, "insert sandbox");
	if (rc == OSH_EEXIST)
		seterr(st, "a sandbox named '%s' (or with id %s) exists already", sb->name, sb->id);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int row_to_sandbox(struct osh_gw_store *st, enum stmt_id s, struct osh_gw_sandbox *sb)
{
	const char *t;
	bool has_policy = !st->ops->col_null(st->db, s, 2);

	memset(sb, 0, sizeof(*sb));
	t = COL_TEXT(s, 0);
	snprintf(sb->id, sizeof(sb->id), "%s", t ? t : "");
	sb->name = col_dup(st, s, 1);
	if (has_policy) {
		size_t bl = 0;
		const void *b = st->ops->col_blob(st->db, s, 2, &bl);

		sb->policy = malloc(bl > 0 ? bl : 1);
		if (sb->policy && bl > 0)
			memcpy(sb->policy, b, bl);
		sb->policy_len = bl;
	}
	sb->policy_version = (uint32_t)COL_I64(s, 3);
	t = COL_TEXT(s, 4);
	snprintf(sb->policy_hash, sizeof(sb->policy_hash), "%s", t ? t : "");
	sb->command = col_dup(st, s, 5);
	sb->log_dir = col_dup(st, s, 6);
	sb->state = (enum osh_gw_sb_state)COL_I64(s, 7);
	sb->pid = (int)COL_I64(s, 8);
	sb->exit_code = (int)COL_I64(s, 9);
	sb->exit_signal = (int)COL_I64(s, 10);
	sb->created_ms = COL_I64(s, 11);
	if (!sb->name || (has_policy && !sb->policy) ||
	    (!st->ops->col_null(st->db, s, 5) && !sb->command) ||
	    (!st->ops->col_null(st->db, s, 6) && !sb->log_dir)) {
		osh_gw_sandbox_fini(sb);
		return OSH_ENOMEM;
	}
	return 0;
}

int osh_gw_store_sandbox_get(struct osh_gw_store *st, const char *key, bool by_name,
			     struct osh_gw_sandbox *out)
{
	const enum stmt_id s = by_name ? S_SB_BY_NAME : S_SB_BY_ID;
	int rc, r;

	pthread_mutex_lock(&st->mu);
	RESET(s);
	BIND_TEXT(s, 1, key);
	r = STEP(s);
	if (r == STORE_ROW) {
		rc = row_to_sandbox(st, s, out);
	} else if (r == STORE_DONE) {
		seterr(st, "no sandbox with %s '%s'", by_name ? "name" : "id", key);
		rc = OSH_ENOTFOUND;
	} else {
		rc = dberr(st, r, "get sandbox");
	}
	RESET(s);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Collects the rows of a prepared sandbox statement (list or page). */
static int list_rows(struct osh_gw_store *st, enum stmt_id id, int64_t after, int64_t limit,
		     struct osh_gw_sandbox **out, size_t *n)
{
	struct osh_gw_sandbox *arr = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, r;

	pthread_mutex_lock(&st->mu);
	RESET(id);
	if (id == S_SB_PAGE) {
		BIND_I64(id, 1, after);
		BIND_I64(id, 2, limit);
	}
	while ((r = STEP(id)) == STORE_ROW) {
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
		rc = row_to_sandbox(st, id, &arr[cnt]);
		if (rc != 0)
			goto out;
		arr[cnt].rowid = id == S_SB_PAGE ? COL_I64(id, 12) : 0;
		cnt++;
	}
	if (r < 0)
		rc = dberr(st, r, "list sandboxes");
out:
	RESET(id);
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
	int rc;

	pthread_mutex_lock(&st->mu);
	RESET(S_SB_STATE);
	BIND_TEXT(S_SB_STATE, 1, id);
	BIND_I64(S_SB_STATE, 2, (int)state);
	BIND_I64(S_SB_STATE, 3, pid);
	BIND_I64(S_SB_STATE, 4, exit_code);
	BIND_I64(S_SB_STATE, 5, exit_signal);
	rc = step_done(st, S_SB_STATE, "update sandbox state");
	if (rc == 0 && st->ops->changes(st->db, S_SB_STATE) == 0) {
		seterr(st, "no sandbox with id '%s'", id);
		rc = OSH_ENOTFOUND;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_sandbox_delete(struct osh_gw_store *st, const char *id)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	RESET(S_SB_DELETE);
	BIND_TEXT(S_SB_DELETE, 1, id);
	rc = step_done(st, S_SB_DELETE, "delete sandbox");
	if (rc == 0 && st->ops->changes(st->db, S_SB_DELETE) == 0) {
		seterr(st, "no sandbox with id '%s'", id);
		rc = OSH_ENOTFOUND;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static uint64_t line_bytes(const struct osh_gw_logline *l)
{
	return STORE_LINE_OVERHEAD + (l->level ? strlen(l->level) : 0) +
	       (l->target ? strlen(l->target) : 0) + (l->message ? strlen(l->message) : 0) +
	       (l->source ? strlen(l->source) : 0) + (l->fields ? strlen(l->fields) : 0);
}

/* Deletes the oldest lines of a sandbox until at least `lines` lines and
 * `bytes` bytes are gone (either may be <= 0), inside the caller's
 * transaction: a walk of the covering index in chunks of at least 64 rows
 * (usually one), one range delete. */
static int trim(struct osh_gw_store *st, const char *sandbox_id, int64_t lines, int64_t bytes)
{
	int64_t k = 0, freed = 0, last = -1, got, chunk;
	int rc = 0, r = STORE_ROW;

	do {
		chunk = lines - k > 64 ? lines - k : 64;
		got = 0;
		RESET(S_LOG_OLDEST);
		BIND_TEXT(S_LOG_OLDEST, 1, sandbox_id);
		BIND_I64(S_LOG_OLDEST, 2, last);
		BIND_I64(S_LOG_OLDEST, 3, chunk);
		while ((k < lines || freed < bytes) && (r = STEP(S_LOG_OLDEST)) == STORE_ROW) {
			last = COL_I64(S_LOG_OLDEST, 0);
			freed += COL_I64(S_LOG_OLDEST, 1);
			k++;
			got++;
		}
		RESET(S_LOG_OLDEST);
	} while (r >= 0 && got == chunk && (k < lines || freed < bytes));
	if (r < 0)
		rc = dberr(st, r, "walk oldest log lines");
	if (rc != 0 || last < 0)
		goto out;
	RESET(S_LOG_TRIM);
	BIND_TEXT(S_LOG_TRIM, 1, sandbox_id);
	BIND_I64(S_LOG_TRIM, 2, last);
	rc = step_done(st, S_LOG_TRIM, "trim log lines");
	if (rc != 0)
		goto out;
	RESET(S_LOG_COUNT_SUB);
	BIND_TEXT(S_LOG_COUNT_SUB, 1, sandbox_id);
	BIND_I64(S_LOG_COUNT_SUB, 2, k);
	BIND_I64(S_LOG_COUNT_SUB, 3, freed);
	rc = step_done(st, S_LOG_COUNT_SUB, "count log lines");
out:
	return rc;
}

/* Reads the push mark of sandbox_id (0 when none) into *mark; mutex held. */
static int push_mark_get(struct osh_gw_store *st, const char *sandbox_id, uint64_t *mark)
{
	int rc = 0, r;

	*mark = 0;
	RESET(S_PUSH_MARK_GET);
	BIND_TEXT(S_PUSH_MARK_GET, 1, sandbox_id);
	r = STEP(S_PUSH_MARK_GET);
	if (r == STORE_ROW)
		*mark = (uint64_t)COL_I64(S_PUSH_MARK_GET, 0);
	else if (r < 0)
		rc = dberr(st, r, "read push mark");
	RESET(S_PUSH_MARK_GET);
	return rc;
}

/* Inserts one line inside the append transaction; *seq gets its seq. */
static int insert_line(struct osh_gw_store *st, const char *sandbox_id,
		       const struct osh_gw_logline *l, uint64_t bytes, uint64_t *seq)
{
	const enum stmt_id s = S_LOG_INSERT;
	int rc = 0, r;

	RESET(s);
	BIND_TEXT(s, 1, sandbox_id);
	BIND_I64(s, 2, l->ts_ms);
	BIND_TEXT(s, 3, l->level ? l->level : "");
	BIND_I64(s, 4, osh_gw_level_rank(l->level, l->message));
	BIND_TEXT(s, 5, l->target ? l->target : "");
	BIND_TEXT(s, 6, l->message ? l->message : "");
	BIND_TEXT(s, 7, l->source ? l->source : "");
	BIND_TEXT(s, 8, (l->fields && l->fields[0]) ? l->fields : NULL);
	BIND_I64(s, 9, bytes);
	r = STEP(s);
	if (r == STORE_ROW)
		*seq = (uint64_t)COL_I64(s, 0);
	else
		rc = dberr(st, r < 0 ? r : OSH_EIO, "insert log line");
	RESET(s);
	return rc;
}

/* Inserts the lines not yet held, raises the push mark to max(mark, last_seq,
 * every inserted push_seq) and trims to retention, all in one transaction.
 * Mutex held by the caller. */
static int append_locked(struct osh_gw_store *st, const char *sandbox_id,
			 const struct osh_gw_logline *lines, size_t n, uint64_t last_seq,
			 uint64_t *seqs, struct osh_gw_push_result *res)
{
	bool in_tx = false;
	int64_t total = 0, total_bytes = 0;
	uint64_t mark = 0, new_mark, added_bytes = 0;
	size_t stored = 0;
	int rc = 0, r;

	rc = step_done(st, S_BEGIN, "begin");
	if (rc != 0)
		goto out;
	in_tx = true;
	RESET(S_SB_EXISTS);
	BIND_TEXT(S_SB_EXISTS, 1, sandbox_id);
	r = STEP(S_SB_EXISTS);
	RESET(S_SB_EXISTS);
	if (r == STORE_DONE) {
		seterr(st, "no sandbox with id '%s'", sandbox_id);
		rc = OSH_ENOTFOUND;
		goto out;
	} else if (r < 0) {
		rc = dberr(st, r, "check sandbox");
		goto out;
	}
	rc = push_mark_get(st, sandbox_id, &mark);
	if (rc != 0)
		goto out;
	new_mark = mark > last_seq ? mark : last_seq;
	for (size_t i = 0; i < n; i++) {
		const struct osh_gw_logline *l = &lines[i];
		uint64_t b = line_bytes(l), seq = 0;

		if (seqs)
			seqs[i] = 0;
		if (l->push_seq != 0 && l->push_seq <= mark) {
			if (res)
				res->duplicates++;
			continue;
		}
		rc = insert_line(st, sandbox_id, l, b, &seq);
		if (rc != 0)
			goto out;
		added_bytes += b;
		if (seqs)
			seqs[i] = seq;
		if (l->push_seq > new_mark)
			new_mark = l->push_seq;
		stored++;
	}
	if (new_mark > mark) {
		RESET(S_PUSH_MARK_SET);
		BIND_TEXT(S_PUSH_MARK_SET, 1, sandbox_id);
		BIND_I64(S_PUSH_MARK_SET, 2, new_mark);
		rc = step_done(st, S_PUSH_MARK_SET, "write push mark");
		if (rc != 0)
			goto out;
	}
	if (stored) {
		RESET(S_LOG_COUNT_ADD);
		BIND_TEXT(S_LOG_COUNT_ADD, 1, sandbox_id);
		BIND_I64(S_LOG_COUNT_ADD, 2, stored);
		BIND_I64(S_LOG_COUNT_ADD, 3, added_bytes);
		r = STEP(S_LOG_COUNT_ADD);
		if (r != STORE_ROW) {
			rc = dberr(st, r < 0 ? r : OSH_EIO, "count log lines");
			RESET(S_LOG_COUNT_ADD);
			goto out;
		}
		total = COL_I64(S_LOG_COUNT_ADD, 0);
		total_bytes = COL_I64(S_LOG_COUNT_ADD, 1);
		RESET(S_LOG_COUNT_ADD);
	}
	if (total > (int64_t)st->retention || total_bytes > (int64_t)st->retention_bytes)
		rc = trim(st, sandbox_id, total - (int64_t)st->retention,
			  total_bytes - (int64_t)st->retention_bytes);
	if (rc != 0)
		goto out;
	rc = step_done(st, S_COMMIT, "commit");
	if (rc == 0) {
		in_tx = false;
		if (res) {
			res->stored = stored;
			res->acked_seq = new_mark;
		}
	}
out:
	if (in_tx)
		(void)step_done(st, S_ROLLBACK, "rollback");
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
	if (rc != 0)
		memset(res, 0, sizeof(*res));
	return rc;
}

int osh_gw_store_ssh_put(struct osh_gw_store *st, const char *sandbox_id,
			 const struct osh_gw_ssh_info *info)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	RESET(S_SSH_PUT);
	BIND_TEXT(S_SSH_PUT, 1, sandbox_id);
	BIND_TEXT(S_SSH_PUT, 2, info->endpoint);
	BIND_TEXT(S_SSH_PUT, 3, info->host_key);
	BIND_TEXT(S_SSH_PUT, 4, info->fingerprint);
	BIND_I64(S_SSH_PUT, 5, osh_time_wall_ms());
	rc = step_done(st, S_SSH_PUT, "record the sandbox's SSH endpoint");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_ssh_get(struct osh_gw_store *st, const char *sandbox_id,
			 struct osh_gw_ssh_info *out)
{
	int rc = 0, r;
	const char *t;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->mu);
	RESET(S_SSH_GET);
	BIND_TEXT(S_SSH_GET, 1, sandbox_id);
	r = STEP(S_SSH_GET);
	if (r == STORE_ROW) {
		t = COL_TEXT(S_SSH_GET, 0);
		snprintf(out->endpoint, sizeof(out->endpoint), "%s", t ? t : "");
		t = COL_TEXT(S_SSH_GET, 1);
		snprintf(out->host_key, sizeof(out->host_key), "%s", t ? t : "");
		t = COL_TEXT(S_SSH_GET, 2);
		snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", t ? t : "");
	} else if (r == STORE_DONE) {
		rc = OSH_ENOTFOUND;
	} else {
		rc = dberr(st, r < 0 ? r : OSH_EIO, "read the sandbox's SSH endpoint");
	}
	RESET(S_SSH_GET);
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
static void bind_filters(struct osh_gw_store *st, enum stmt_id s, const struct osh_gw_logquery *q,
			 int min_rank, const char *srcs)
{
	BIND_TEXT(s, 1, q->sandbox_id);
	BIND_I64(s, 2, q->after_seq);
	BIND_I64(s, 3, q->since_ms);
	BIND_I64(s, 4, min_rank);
	BIND_TEXT(s, 5, srcs);
}

int osh_gw_store_logs_query(struct osh_gw_store *st, const struct osh_gw_logquery *q,
			    osh_gw_logline_fn fn, void *ud)
{
	const enum stmt_id s = q->newest_first ? S_LOG_QUERY_DESC : S_LOG_QUERY;
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
	RESET(s);
	bind_filters(st, s, q, min_rank, srcs);
	BIND_I64(s, 6, q->tail ? (int64_t)q->tail : INT64_MAX);
	while ((r = STEP(s)) == STORE_ROW) {
		struct osh_gw_logline l = {
		    .seq = (uint64_t)COL_I64(s, 0),
		    .sandbox_id = q->sandbox_id,
		    .ts_ms = COL_I64(s, 1),
		    .level = COL_TEXT(s, 2),
		    .target = COL_TEXT(s, 3),
		    .message = COL_TEXT(s, 4),
		    .source = COL_TEXT(s, 5),
		    .fields = COL_TEXT(s, 6),
		};

		rc = fn(ud, &l);
		if (rc != 0)
			break;
	}
	if (rc == 0 && r < 0)
		rc = dberr(st, r, "query log lines");
	RESET(s);
	pthread_mutex_unlock(&st->mu);
	free(srcs);
	return rc;
}

int osh_gw_store_logs_matching(struct osh_gw_store *st, const struct osh_gw_logquery *q,
			       uint64_t *n)
{
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
	RESET(S_LOG_MATCHING);
	bind_filters(st, S_LOG_MATCHING, q, min_rank, srcs);
	r = STEP(S_LOG_MATCHING);
	if (r == STORE_ROW)
		*n = (uint64_t)COL_I64(S_LOG_MATCHING, 0);
	else
		rc = dberr(st, r < 0 ? r : OSH_EIO, "count matching log lines");
	RESET(S_LOG_MATCHING);
	pthread_mutex_unlock(&st->mu);
	free(srcs);
	return rc;
}

int osh_gw_store_logs_count(struct osh_gw_store *st, const char *sandbox_id, size_t *n)
{
	int rc = 0, r;

	pthread_mutex_lock(&st->mu);
	RESET(S_LOG_COUNT);
	BIND_TEXT(S_LOG_COUNT, 1, sandbox_id);
	r = STEP(S_LOG_COUNT);
	if (r == STORE_ROW)
		*n = (size_t)COL_I64(S_LOG_COUNT, 0);
	else if (r == STORE_DONE)
		*n = 0;
	else
		rc = dberr(st, r, "count log lines");
	RESET(S_LOG_COUNT);
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
