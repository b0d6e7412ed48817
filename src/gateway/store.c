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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "osh_labels.h"
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
	S_CRED_PUT,
	S_CRED_SET,
	S_CRED_GET,
	S_LOG_INSERT_MANY,
	S_CFG_ENSURE,
	S_CFG_LOCK,
	S_CFG_VAL_SET,
	S_CFG_VAL_DEL,
	S_CFG_GEN_BUMP,
	S_CFG_VALUES,
	S_CFG_BUMP,
	S_CFG_GEN,
	/* policy proposals */
	S_PROP_FIND,
	S_PROP_INSERT,
	S_PROP_UPDATE,
	S_PROP_LIST,
	S_PROP_GET,
	S_PROP_DECIDE,
	S_SB_SET_POLICY,
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
	"exit_signal, created_ms, labels"

/* A page of sandboxes after rowid ?1, at most ?2; ?3 = "\nK=V\n" (one label
 * of the selector, matched exactly since keys hold no '=' and values no
 * newline) or NULL. The caller checks the whole selector on each row. */
#define SB_PAGE_WITH(INSTR)                                                                        \
	"SELECT " SB_COLS ", rowid FROM sandboxes WHERE rowid > ?1"                                \
	" AND (CAST(?3 AS TEXT) IS NULL OR " INSTR "('\n' || labels, CAST(?3 AS TEXT)) > 0)"       \
	" ORDER BY rowid LIMIT ?2"

/* Stores a credential digest if the sandbox exists (?1 id, ?2 digest, ?3 ms). */
#define CRED_PUT(ACTION)                                                                           \
	"INSERT INTO sandbox_credentials(sandbox_id, digest, created_ms)"                          \
	" SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM sandboxes WHERE id = ?1)"                  \
	" ON CONFLICT(sandbox_id) DO " ACTION

#define LOG_QUERY_ASC(W)                                                                           \
	"SELECT seq, ts_ms, level, target, message, source, fields, ocsf_json FROM ("              \
	" SELECT seq, ts_ms, level, target, message, source, fields, ocsf_json"                    \
	" FROM log_lines WHERE " W " ORDER BY seq DESC LIMIT ?6) AS t"                             \
	" ORDER BY seq ASC"
#define LOG_QUERY_DESC(W)                                                                          \
	"SELECT seq, ts_ms, level, target, message, source, fields, ocsf_json"                     \
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
		    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_SB_BY_ID] = "SELECT " SB_COLS " FROM sandboxes WHERE id = ?1",
    [S_SB_BY_NAME] = "SELECT " SB_COLS " FROM sandboxes WHERE name = ?1",
    [S_SB_LIST] = "SELECT " SB_COLS " FROM sandboxes ORDER BY created_ms, rowid",
    [S_SB_STATE] = "UPDATE sandboxes SET state = ?2, pid = ?3, exit_code = ?4,"
		   " exit_signal = ?5 WHERE id = ?1",
    [S_SB_DELETE] = "DELETE FROM sandboxes WHERE id = ?1",
    [S_SB_EXISTS] = "SELECT 1 FROM sandboxes WHERE id = ?1",
    [S_LOG_INSERT] = "INSERT INTO log_lines(sandbox_id, ts_ms, level, level_rank, target,"
		     " message, source, fields, bytes, ocsf_json)"
		     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING seq",
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
    [S_SB_PAGE] = SB_PAGE_WITH("instr"),
    [S_LOG_COUNT] = "SELECT n FROM log_counts WHERE sandbox_id = ?1",
    [S_PUSH_MARK_GET] = "SELECT seq FROM push_marks WHERE sandbox_id = ?1",
    [S_PUSH_MARK_SET] = "INSERT INTO push_marks(sandbox_id, seq) VALUES (?1, ?2)"
			" ON CONFLICT(sandbox_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    [S_CRED_PUT] = CRED_PUT("NOTHING"),
    [S_CRED_SET] =
	CRED_PUT("UPDATE SET digest = excluded.digest, created_ms = excluded.created_ms"),
    [S_CRED_GET] = "SELECT digest FROM sandbox_credentials WHERE sandbox_id = ?1",
    /* SQLite inserts a batch line by line (S_LOG_INSERT): in-process, one
     * prepared step per line is already cheaper than encoding arrays. */
    [S_LOG_INSERT_MANY] = "SELECT 1",
    /* Shared config values (SetConfig), read and written in one transaction
     * with the revision row (osh_gw_store_config_sync). */
    [S_CFG_ENSURE] = "INSERT INTO config_state(id, revision, snapshot, updated_ms)"
		     " VALUES (1, 0, '', ?1) ON CONFLICT(id) DO NOTHING",
    [S_CFG_LOCK] = "SELECT revision, snapshot, values_gen FROM config_state WHERE id = 1",
    /* No row change when the value is the same: changes() says whether it moved. */
    [S_CFG_VAL_SET] =
	"INSERT INTO config_values(name, value, updated_ms) VALUES (?1, ?2, ?3)"
	" ON CONFLICT(name) DO UPDATE SET value = excluded.value,"
	" updated_ms = excluded.updated_ms WHERE config_values.value <> excluded.value",
    [S_CFG_VAL_DEL] = "DELETE FROM config_values WHERE name = ?1",
    [S_CFG_GEN_BUMP] = "UPDATE config_state SET values_gen = values_gen + 1 WHERE id = 1",
    [S_CFG_VALUES] = "SELECT name, value FROM config_values ORDER BY name",
    [S_CFG_BUMP] = "UPDATE config_state SET revision = revision + 1, snapshot = ?1,"
		   " updated_ms = ?2 WHERE id = 1 RETURNING revision",
    [S_CFG_GEN] = "SELECT values_gen FROM config_state WHERE id = 1",
    [S_SSH_PUT] = SSH_PUT_SQL,
    [S_SSH_GET] = SSH_GET_SQL,
};

#define PROP_COLS                                                                                  \
	"id, sandbox_id, host, port, binary_path, rule_name, proposed_rule, rationale,"            \
	" security_notes, confidence_milli, stage, status, hit_count, first_seen_ms, "             \
	"last_seen_ms,"                                                                            \
	" created_ms, decided_ms, decided_by"

/* The policy proposal statements (appended to stmt_sql at open). */
static const char *const prop_sql[S_COUNT] = {
    /* NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one statement over lines */
    [S_PROP_FIND] = "SELECT id, status, decided_ms, hit_count, first_seen_ms, last_seen_ms"
		    " FROM policy_proposals WHERE sandbox_id = ?1 AND host = ?2 AND port = ?3"
		    " AND binary_path = ?4",
    [S_PROP_INSERT] = "INSERT INTO policy_proposals(" PROP_COLS ", updated_ms) VALUES (?1, ?2,"
		      " ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'pending', ?12, ?13, ?14, ?15, 0,"
		      " '', ?15)",
    [S_PROP_UPDATE] = "UPDATE policy_proposals SET hit_count = ?2, first_seen_ms = ?3,"
		      " last_seen_ms = ?4, rule_name = ?5, proposed_rule = ?6, rationale = ?7,"
		      " security_notes = ?8, confidence_milli = ?9, stage = ?10,"
		      " status = 'pending', decided_ms = 0, decided_by = '', updated_ms = ?11"
		      " WHERE id = ?1",
    [S_PROP_LIST] = "SELECT " PROP_COLS " FROM policy_proposals WHERE sandbox_id = ?1"
		    " AND (CAST(?2 AS TEXT) IS NULL OR status = CAST(?2 AS TEXT))"
		    " ORDER BY updated_ms DESC, id",
    [S_PROP_GET] = "SELECT " PROP_COLS " FROM policy_proposals WHERE sandbox_id = ?1 AND id = ?2",
    [S_PROP_DECIDE] = "UPDATE policy_proposals SET status = ?3, decided_ms = ?4,"
		      " decided_by = ?5, updated_ms = ?4 WHERE sandbox_id = ?1 AND id = ?2"
		      " AND status = 'pending'",
    [S_SB_SET_POLICY] = "UPDATE sandboxes SET policy = ?2, policy_version = ?3,"
			" policy_hash = ?4 WHERE id = ?1 AND policy_version = ?5",
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
    [S_SB_PAGE] = SB_PAGE_WITH("strpos"),
    /* A whole push batch in one statement (one round trip instead of one per
     * line): ?2..?10 are PostgreSQL array literals, one element per line, in
     * batch order; ORDER BY ord makes the sequence hand out seqs in that
     * order. */
    /* The row lock orders every config transaction of every gateway. */
    [S_CFG_LOCK] =
	"SELECT revision, snapshot, values_gen FROM config_state WHERE id = 1 FOR UPDATE",
    [S_LOG_INSERT_MANY] =
	"INSERT INTO log_lines(sandbox_id, ts_ms, level, level_rank, target, message, source,"
	" fields, bytes, ocsf_json)"
	" SELECT ?1, u.ts, u.lv, u.rk, u.tg, u.msg, u.src, u.fld, u.b, u.oj FROM unnest("
	"CAST(?2 AS BIGINT[]), CAST(?3 AS TEXT[]), CAST(?4 AS INTEGER[]), CAST(?5 AS TEXT[]),"
	" CAST(?6 AS TEXT[]), CAST(?7 AS TEXT[]), CAST(?8 AS TEXT[]), CAST(?9 AS BIGINT[]),"
	" CAST(?10 AS TEXT[]))"
	" WITH ORDINALITY AS u(ts, lv, rk, tg, msg, src, fld, b, oj, ord) ORDER BY u.ord"
	" RETURNING seq",
    /* concurrent submissions from several gateways queue on the row */
    [S_PROP_FIND] = "SELECT id, status, decided_ms, hit_count, first_seen_ms, last_seen_ms"
		    " FROM policy_proposals WHERE sandbox_id = ?1 AND host = ?2 AND port = ?3"
		    " AND binary_path = ?4 FOR UPDATE",
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
	free(sb->labels);
	sb->name = sb->policy = sb->command = sb->log_dir = sb->labels = NULL;
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
		const char *sql = (st->ops->pg_dialect && pg_sql[i]) ? pg_sql[i]
				  : stmt_sql[i]			     ? stmt_sql[i]
								     : prop_sql[i];

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

/* The shared values, read inside the sync transaction (heap copies). */
struct cfg_vals {
	struct osh_gw_cfg_value *v;
	size_t n;
};

static void cfg_vals_free(struct cfg_vals *cv)
{
	for (size_t i = 0; i < cv->n; i++) {
		free((char *)(uintptr_t)cv->v[i].name);
		free((char *)(uintptr_t)cv->v[i].value);
	}
	free(cv->v);
	cv->v = NULL;
	cv->n = 0;
}

static int cfg_vals_read(struct osh_gw_store *st, struct cfg_vals *cv)
{
	size_t cap = 0;
	int rc = 0, r;

	RESET(S_CFG_VALUES);
	while (rc == 0 && (r = STEP(S_CFG_VALUES)) == STORE_ROW) {
		char *name = col_dup(st, S_CFG_VALUES, 0), *value = col_dup(st, S_CFG_VALUES, 1);

		if (cv->n == cap) {
			struct osh_gw_cfg_value *nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(cv->v, cap * sizeof(*nv));
			if (nv)
				cv->v = nv;
			else
				cap = cv->n;
		}
		if (!name || !value || cv->n == cap) {
			free(name);
			free(value);
			seterr(st, "read shared config values: out of memory");
			rc = OSH_ENOMEM;
			break;
		}
		cv->v[cv->n].name = name;
		cv->v[cv->n].value = value;
		cv->n++;
	}
	if (rc == 0 && r < 0)
		rc = dberr(st, r, "read shared config values");
	RESET(S_CFG_VALUES);
	return rc;
}

/* Writes (or removes) one shared value; *moved says whether it changed.
 * Inside the sync transaction. */
static int cfg_val_write(struct osh_gw_store *st, const char *name, const char *value, bool *moved)
{
	const enum stmt_id s = value ? S_CFG_VAL_SET : S_CFG_VAL_DEL;
	int rc;

	RESET(s);
	BIND_TEXT(s, 1, name);
	if (value) {
		BIND_TEXT(s, 2, value);
		BIND_I64(s, 3, osh_time_wall_ms());
	}
	rc = step_done(st, s, "write shared config value");
	*moved = rc == 0 && st->ops->changes(st->db, s) > 0;
	if (rc == 0 && *moved)
		rc = step_done(st, S_CFG_GEN_BUMP, "bump shared config generation");
	return rc;
}

int osh_gw_store_config_sync(struct osh_gw_store *st, const struct osh_gw_cfg_sync *in,
			     osh_gw_cfg_resolve_fn fn, void *ud, struct osh_gw_cfg_synced *out)
{
	struct cfg_vals cv = {0};
	char snap[4096], *stored = NULL;
	uint64_t cur_rev = 0;
	bool in_tx = false;
	int rc, r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->mu);
	rc = step_done(st, S_BEGIN, "begin");
	if (rc != 0)
		goto out;
	in_tx = true;
	RESET(S_CFG_ENSURE);
	BIND_I64(S_CFG_ENSURE, 1, osh_time_wall_ms());
	rc = step_done(st, S_CFG_ENSURE, "create config state");
	if (rc != 0)
		goto out;
	RESET(S_CFG_LOCK);
	r = STEP(S_CFG_LOCK);
	if (r == STORE_ROW) {
		cur_rev = (uint64_t)COL_I64(S_CFG_LOCK, 0);
		stored = col_dup(st, S_CFG_LOCK, 1);
		out->values_gen = (uint64_t)COL_I64(S_CFG_LOCK, 2);
		if (!stored)
			rc = OSH_ENOMEM;
	} else {
		rc = dberr(st, r < 0 ? r : OSH_EIO, "lock config state");
	}
	RESET(S_CFG_LOCK);
	if (rc != 0)
		goto out;
	if (in->set_name) {
		rc = cfg_val_write(st, in->set_name, in->set_value, &out->value_changed);
		if (rc != 0)
			goto out;
		if (out->value_changed)
			out->values_gen++;
	}
	rc = cfg_vals_read(st, &cv);
	if (rc != 0)
		goto out;
	snap[0] = '\0';
	rc = fn(ud, cv.v, cv.n, snap, sizeof(snap));
	if (rc != 0) {
		seterr(st, "resolve config: %s", osh_strerror(rc));
		goto out;
	}
	if (strcmp(snap, in->published ? in->published : stored) != 0) {
		RESET(S_CFG_BUMP);
		BIND_TEXT(S_CFG_BUMP, 1, snap);
		BIND_I64(S_CFG_BUMP, 2, osh_time_wall_ms());
		r = STEP(S_CFG_BUMP);
		if (r == STORE_ROW)
			out->revision = (uint64_t)COL_I64(S_CFG_BUMP, 0);
		else
			rc = dberr(st, r < 0 ? r : OSH_EIO, "advance config revision");
		RESET(S_CFG_BUMP);
		if (rc != 0)
			goto out;
		out->bumped = true;
	} else {
		out->revision = in->published ? in->published_rev : cur_rev;
	}
	rc = step_done(st, S_COMMIT, "commit");
	if (rc == 0)
		in_tx = false;
out:
	if (in_tx)
		(void)step_done(st, S_ROLLBACK, "rollback");
	pthread_mutex_unlock(&st->mu);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	cfg_vals_free(&cv);
	free(stored);
	return rc;
}

int osh_gw_store_config_gen(struct osh_gw_store *st, uint64_t *gen)
{
	int rc = 0, r;

	*gen = 0;
	pthread_mutex_lock(&st->mu);
	RESET(S_CFG_GEN);
	r = STEP(S_CFG_GEN);
	if (r == STORE_ROW)
		*gen = (uint64_t)COL_I64(S_CFG_GEN, 0);
	else if (r < 0)
		rc = dberr(st, r, "read shared config generation");
	RESET(S_CFG_GEN);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_sandbox_insert(struct osh_gw_store *st, const struct osh_gw_sandbox *sb)
{
	const enum stmt_id s = S_SB_INSERT;
	char why[160];
	int rc;

	pthread_mutex_lock(&st->mu);
	if (osh_labels_validate(sb->labels, why, sizeof(why)) != 0) {
		seterr(st, "sandbox '%s': %s", sb->name, why);
		rc = OSH_EINVAL;
		goto out;
	}
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
	BIND_TEXT(s, 13, sb->labels ? sb->labels : "");
	rc = step_done(st, s, "insert sandbox");
	if (rc == OSH_EEXIST)
		seterr(st, "a sandbox named '%s' (or with id %s) exists already", sb->name, sb->id);
out:
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
	sb->labels = col_dup(st, s, 12);
	if (!sb->name || (has_policy && !sb->policy) ||
	    (!st->ops->col_null(st->db, s, 12) && !sb->labels) ||
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

/* Appends one more record slot to *arr (capacity *cap); NULL when out of memory. */
static struct osh_gw_sandbox *grow(struct osh_gw_sandbox **arr, size_t cnt, size_t *cap)
{
	struct osh_gw_sandbox *na = *arr;

	if (cnt == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;

		na = realloc(*arr, ncap * sizeof(*na));
		if (!na)
			return NULL;
		*arr = na;
		*cap = ncap;
	}
	return &na[cnt];
}

/* The first label of a canonical selector as "\nK=V\n" (the SQL prefilter of
 * S_SB_PAGE) into buf; false when the selector is empty. */
static bool first_label(const char *selector, char *buf, size_t cap)
{
	const char *nl = selector ? strchr(selector, '\n') : NULL;
	size_t n = nl ? (size_t)(nl - selector) + 1 : 0;

	if (n == 0 || n + 2 > cap)
		return false;
	buf[0] = '\n';
	memcpy(buf + 1, selector, n);
	buf[n + 1] = '\0';
	return true;
}

/* Collects the rows of a prepared sandbox statement (list or page). A page
 * with a selector walks chunks of rows until `limit` match or none are left. */
static int list_rows(struct osh_gw_store *st, enum stmt_id id, int64_t after, int64_t limit,
		     const char *selector, struct osh_gw_sandbox **out, size_t *n)
{
	struct osh_gw_sandbox *arr = NULL, *slot;
	char first[OSH_LABEL_KEY_MAX + OSH_LABEL_VALUE_MAX + 4];
	bool filtered = first_label(selector, first, sizeof(first));
	size_t cnt = 0, cap = 0;
	int64_t got, chunk = limit < 64 && filtered ? 64 : limit;
	int rc = 0, r = STORE_DONE;

	pthread_mutex_lock(&st->mu);
	do {
		got = 0;
		RESET(id);
		if (id == S_SB_PAGE) {
			BIND_I64(id, 1, after);
			BIND_I64(id, 2, chunk);
			BIND_TEXT(id, 3, filtered ? first : NULL);
		}
		while ((id != S_SB_PAGE || cnt < (size_t)limit) && (r = STEP(id)) == STORE_ROW) {
			got++;
			slot = grow(&arr, cnt, &cap);
			if (!slot) {
				rc = OSH_ENOMEM;
				goto out;
			}
			rc = row_to_sandbox(st, id, slot);
			if (rc != 0)
				goto out;
			slot->rowid = id == S_SB_PAGE ? COL_I64(id, 13) : 0;
			after = slot->rowid;
			if (filtered && !osh_labels_match(slot->labels, selector)) {
				osh_gw_sandbox_fini(slot);
				continue;
			}
			cnt++;
		}
		if (r < 0)
			rc = dberr(st, r, "list sandboxes");
	} while (rc == 0 && filtered && got == chunk && cnt < (size_t)limit);
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
	return list_rows(st, S_SB_LIST, 0, 0, NULL, out, n);
}

int osh_gw_store_sandbox_page(struct osh_gw_store *st, int64_t after, size_t limit,
			      struct osh_gw_sandbox **out, size_t *n)
{
	return list_rows(st, S_SB_PAGE, after, (int64_t)limit, NULL, out, n);
}

int osh_gw_store_sandbox_page_sel(struct osh_gw_store *st, int64_t after, size_t limit,
				  const char *selector, struct osh_gw_sandbox **out, size_t *n)
{
	return list_rows(st, S_SB_PAGE, after, (int64_t)limit, selector, out, n);
}

/* ---------------------------------------------------------- credentials -- */

static bool digest_ok(const char *d)
{
	size_t n = 0;

	for (; d && d[n]; n++)
		if (!((d[n] >= '0' && d[n] <= '9') || (d[n] >= 'a' && d[n] <= 'f')))
			return false;
	return n == OSH_GW_CRED_DIGEST_HEX;
}

int osh_gw_store_cred_put(struct osh_gw_store *st, const char *id, const char *digest, bool replace,
			  bool *stored)
{
	const enum stmt_id s = replace ? S_CRED_SET : S_CRED_PUT;
	int rc = OSH_EINVAL;

	*stored = false;
	pthread_mutex_lock(&st->mu);
	if (!digest_ok(digest)) {
		seterr(st, "sandbox %s: a credential digest is %d lower-case hex digits", id,
		       OSH_GW_CRED_DIGEST_HEX);
		goto out;
	}
	RESET(s);
	BIND_TEXT(s, 1, id);
	BIND_TEXT(s, 2, digest);
	BIND_I64(s, 3, osh_time_wall_ms());
	rc = step_done(st, s, "store sandbox credential");
	if (rc == 0)
		*stored = st->ops->changes(st->db, s) > 0;
	if (rc == 0 && replace && !*stored) {
		seterr(st, "no sandbox with id '%s'", id);
		rc = OSH_ENOTFOUND;
	}
out:
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_cred_get(struct osh_gw_store *st, const char *id,
			  char digest[OSH_GW_CRED_DIGEST_HEX + 1])
{
	const char *t;
	int rc = 0, r;

	digest[0] = '\0';
	pthread_mutex_lock(&st->mu);
	RESET(S_CRED_GET);
	BIND_TEXT(S_CRED_GET, 1, id);
	r = STEP(S_CRED_GET);
	t = r == STORE_ROW ? COL_TEXT(S_CRED_GET, 0) : NULL;
	if (r == STORE_ROW && t && digest_ok(t)) {
		memcpy(digest, t, OSH_GW_CRED_DIGEST_HEX + 1);
	} else if (r == STORE_ROW) {
		seterr(st, "sandbox %s: the stored credential digest is malformed", id);
		rc = OSH_EPARSE;
	} else if (r == STORE_DONE) {
		seterr(st, "no credential stored for sandbox '%s'", id);
		rc = OSH_ENOTFOUND;
	} else {
		rc = dberr(st, r, "read sandbox credential");
	}
	RESET(S_CRED_GET);
	pthread_mutex_unlock(&st->mu);
	return rc;
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
	       (l->source ? strlen(l->source) : 0) + (l->fields ? strlen(l->fields) : 0) +
	       (l->ocsf_json ? strlen(l->ocsf_json) : 0);
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
	BIND_TEXT(s, 10, (l->ocsf_json && l->ocsf_json[0]) ? l->ocsf_json : NULL);
	r = STEP(s);
	if (r == STORE_ROW)
		*seq = (uint64_t)COL_I64(s, 0);
	else
		rc = dberr(st, r < 0 ? r : OSH_EIO, "insert log line");
	RESET(s);
	return rc;
}

/* A growable text buffer for the PostgreSQL array literals of a batch. */
struct abuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void ab_reserve(struct abuf *b, size_t more)
{
	char *np;
	size_t cap;

	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	np = realloc(b->p, cap);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void ab_put(struct abuf *b, const char *s, size_t n)
{
	ab_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Appends one element (',' before all but the first): a number, NULL, or a
 * double-quoted string with '"' and '\' escaped (array literal syntax). */
static void ab_elem_text(struct abuf *b, const char *s)
{
	ab_put(b, b->len > 1 ? "," : "", b->len > 1 ? 1 : 0);
	if (!s) {
		ab_put(b, "NULL", 4);
		return;
	}
	ab_reserve(b, 2 * strlen(s) + 2);
	if (b->oom)
		return;
	b->p[b->len++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			b->p[b->len++] = '\\';
		b->p[b->len++] = *s;
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

static void ab_elem_i64(struct abuf *b, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%s%lld", b->len > 1 ? "," : "", (long long)v);

	ab_put(b, num, (size_t)n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* PostgreSQL: inserts the n lines idx[] of `lines` with one statement (arrays
 * per column) inside the append transaction; seqs[idx[i]] gets each seq. */
static int insert_many(struct osh_gw_store *st, const char *sandbox_id,
		       const struct osh_gw_logline *lines, const size_t *idx, size_t n,
		       uint64_t *seqs)
{
	enum { A_TS, A_LEVEL, A_RANK, A_TARGET, A_MSG, A_SRC, A_FIELDS, A_BYTES, A_OCSF, A_N };
	const enum stmt_id s = S_LOG_INSERT_MANY;
	struct abuf a[A_N];
	uint64_t *got = NULL;
	size_t k = 0;
	int rc = 0, r;

	memset(a, 0, sizeof(a));
	for (int c = 0; c < A_N; c++)
		ab_put(&a[c], "{", 1);
	for (size_t i = 0; i < n; i++) {
		const struct osh_gw_logline *l = &lines[idx[i]];

		ab_elem_i64(&a[A_TS], l->ts_ms);
		ab_elem_text(&a[A_LEVEL], l->level ? l->level : "");
		ab_elem_i64(&a[A_RANK], osh_gw_level_rank(l->level, l->message));
		ab_elem_text(&a[A_TARGET], l->target ? l->target : "");
		ab_elem_text(&a[A_MSG], l->message ? l->message : "");
		ab_elem_text(&a[A_SRC], l->source ? l->source : "");
		ab_elem_text(&a[A_FIELDS], (l->fields && l->fields[0]) ? l->fields : NULL);
		ab_elem_i64(&a[A_BYTES], (int64_t)line_bytes(l));
		ab_elem_text(&a[A_OCSF], (l->ocsf_json && l->ocsf_json[0]) ? l->ocsf_json : NULL);
	}
	for (int c = 0; c < A_N; c++) {
		ab_put(&a[c], "}", 1);
		if (a[c].oom)
			rc = OSH_ENOMEM;
	}
	got = seqs ? calloc(n, sizeof(*got)) : NULL;
	if (rc == 0 && seqs && !got)
		rc = OSH_ENOMEM;
	if (rc != 0) {
		seterr(st, "insert log lines: out of memory for a batch of %zu lines", n);
		goto out;
	}
	RESET(s);
	BIND_TEXT(s, 1, sandbox_id);
	for (int c = 0; c < A_N; c++)
		BIND_TEXT(s, 2 + c, a[c].p);
	while ((r = STEP(s)) == STORE_ROW) {
		if (got && k < n)
			got[k] = (uint64_t)COL_I64(s, 0);
		k++;
	}
	RESET(s);
	if (r < 0) {
		rc = dberr(st, r, "insert log lines");
	} else if (k != n) {
		seterr(st, "insert log lines: %zu of %zu rows inserted", k, n);
		rc = OSH_EIO;
	} else if (got) {
		/* nextval ran in batch order: the ascending seqs are the lines' */
		qsort(got, n, sizeof(*got), cmp_u64);
		for (size_t i = 0; i < n; i++)
			seqs[idx[i]] = got[i];
	}
out:
	free(got);
	for (int c = 0; c < A_N; c++)
		free(a[c].p);
	return rc;
}

/* Inserts the lines not yet held, raises the push mark to max(mark, last_seq,
 * every inserted push_seq) and trims to retention, all in one transaction.
 * Mutex held by the caller. */
static int append_locked(struct osh_gw_store *st, const char *sandbox_id,
			 const struct osh_gw_logline *lines, size_t n, uint64_t last_seq,
			 uint64_t *seqs, struct osh_gw_push_result *res)
{
	/* PostgreSQL: the batch is one statement (a round trip per line would
	 * dominate); SQLite: one prepared step per line, in-process. */
	const bool batch = st->ops->pg_dialect;
	bool in_tx = false;
	int64_t total = 0, total_bytes = 0;
	uint64_t mark = 0, new_mark, added_bytes = 0;
	size_t stored = 0, *idx = NULL;
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
	if (batch && n > 0) {
		idx = malloc(n * sizeof(*idx));
		if (!idx) {
			seterr(st, "insert log lines: out of memory");
			rc = OSH_ENOMEM;
			goto out;
		}
	}
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
		if (batch) {
			idx[stored] = i;
		} else {
			rc = insert_line(st, sandbox_id, l, b, &seq);
			if (rc != 0)
				goto out;
			if (seqs)
				seqs[i] = seq;
		}
		added_bytes += b;
		if (l->push_seq > new_mark)
			new_mark = l->push_seq;
		stored++;
	}
	if (batch && stored > 0) {
		rc = insert_many(st, sandbox_id, lines, idx, stored, seqs);
		if (rc != 0)
			goto out;
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
	free(idx);
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
		    .ocsf_json = COL_TEXT(s, 7),
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

/* ------------------------------------------------------- policy proposals -- */

#define BIND_BLOB(id, i, p, n) st->ops->bind_blob(st->db, (id), (i), (p), (n))

void osh_gw_proposal_fini(struct osh_gw_proposal *p)
{
	if (!p)
		return;
	free(p->host);
	free(p->binary);
	free(p->rule_name);
	free(p->rule);
	free(p->rationale);
	free(p->security_notes);
	free(p->stage);
	free(p->decided_by);
	memset(p, 0, sizeof(*p));
}

void osh_gw_proposal_list_free(struct osh_gw_proposal *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		osh_gw_proposal_fini(&v[i]);
	free(v);
}

static int row_to_proposal(struct osh_gw_store *st, enum stmt_id s, struct osh_gw_proposal *p)
{
	const char *t;
	const void *b;
	size_t bl = 0;

	memset(p, 0, sizeof(*p));
	t = COL_TEXT(s, 0);
	snprintf(p->id, sizeof(p->id), "%s", t ? t : "");
	t = COL_TEXT(s, 1);
	snprintf(p->sandbox_id, sizeof(p->sandbox_id), "%s", t ? t : "");
	p->host = col_dup(st, s, 2);
	p->port = (uint32_t)COL_I64(s, 3);
	p->binary = col_dup(st, s, 4);
	p->rule_name = col_dup(st, s, 5);
	b = st->ops->col_blob(st->db, s, 6, &bl);
	p->rule = malloc(bl ? bl : 1);
	if (p->rule && bl)
		memcpy(p->rule, b, bl);
	p->rule_len = bl;
	p->rationale = col_dup(st, s, 7);
	p->security_notes = col_dup(st, s, 8);
	p->confidence_milli = (int)COL_I64(s, 9);
	p->stage = col_dup(st, s, 10);
	t = COL_TEXT(s, 11);
	snprintf(p->status, sizeof(p->status), "%s", t ? t : "");
	p->hit_count = COL_I64(s, 12);
	p->first_seen_ms = COL_I64(s, 13);
	p->last_seen_ms = COL_I64(s, 14);
	p->created_ms = COL_I64(s, 15);
	p->decided_ms = COL_I64(s, 16);
	p->decided_by = col_dup(st, s, 17);
	if (!p->host || !p->binary || !p->rule_name || !p->rule || !p->rationale ||
	    !p->security_notes || !p->stage || !p->decided_by) {
		osh_gw_proposal_fini(p);
		return OSH_ENOMEM;
	}
	return 0;
}

/* Binds the rule columns shared by insert and update: ?5..?10 of update. */
static void bind_rule(struct osh_gw_store *st, enum stmt_id s, int first,
		      const struct osh_gw_proposal *in)
{
	BIND_TEXT(s, first, in->rule_name);
	BIND_BLOB(s, first + 1, in->rule, in->rule_len);
	BIND_TEXT(s, first + 2, in->rationale ? in->rationale : "");
	BIND_TEXT(s, first + 3, in->security_notes ? in->security_notes : "");
	BIND_I64(s, first + 4, in->confidence_milli);
	BIND_TEXT(s, first + 5, in->stage ? in->stage : "");
}

int osh_gw_store_proposal_upsert(struct osh_gw_store *st, const struct osh_gw_proposal *in,
				 int64_t now_ms, enum osh_gw_prop_outcome *outcome, char id_out[40])
{
	bool in_tx = false, found = false;
	char id[40] = "", status[16] = "";
	int64_t decided = 0, hits = 0, first = 0, last = 0;
	int rc, r;

	*outcome = OSH_GW_PROP_INSERTED;
	id_out[0] = '\0';
	pthread_mutex_lock(&st->mu);
	rc = step_done(st, S_BEGIN, "begin");
	if (rc != 0)
		goto out;
	in_tx = true;
	RESET(S_SB_EXISTS);
	BIND_TEXT(S_SB_EXISTS, 1, in->sandbox_id);
	r = STEP(S_SB_EXISTS);
	RESET(S_SB_EXISTS);
	if (r != STORE_ROW) {
		rc = r < 0 ? dberr(st, r, "check sandbox") : OSH_ENOTFOUND;
		if (r == STORE_DONE)
			seterr(st, "no sandbox with id '%s'", in->sandbox_id);
		goto out;
	}
	RESET(S_PROP_FIND);
	BIND_TEXT(S_PROP_FIND, 1, in->sandbox_id);
	BIND_TEXT(S_PROP_FIND, 2, in->host);
	BIND_I64(S_PROP_FIND, 3, in->port);
	BIND_TEXT(S_PROP_FIND, 4, in->binary);
	r = STEP(S_PROP_FIND);
	if (r == STORE_ROW) {
		const char *t = COL_TEXT(S_PROP_FIND, 0);

		found = true;
		snprintf(id, sizeof(id), "%s", t ? t : "");
		t = COL_TEXT(S_PROP_FIND, 1);
		snprintf(status, sizeof(status), "%s", t ? t : "");
		decided = COL_I64(S_PROP_FIND, 2);
		hits = COL_I64(S_PROP_FIND, 3);
		first = COL_I64(S_PROP_FIND, 4);
		last = COL_I64(S_PROP_FIND, 5);
	}
	RESET(S_PROP_FIND);
	if (r < 0) {
		rc = dberr(st, r, "find proposal");
		goto out;
	}
	if (!found) {
		const enum stmt_id s = S_PROP_INSERT;

		snprintf(id, sizeof(id), "%s", in->id);
		RESET(s);
		BIND_TEXT(s, 1, id);
		BIND_TEXT(s, 2, in->sandbox_id);
		BIND_TEXT(s, 3, in->host);
		BIND_I64(s, 4, in->port);
		BIND_TEXT(s, 5, in->binary);
		bind_rule(st, s, 6, in);
		BIND_I64(s, 12, in->hit_count);
		BIND_I64(s, 13, in->first_seen_ms);
		BIND_I64(s, 14, in->last_seen_ms);
		BIND_I64(s, 15, now_ms);
		rc = step_done(st, s, "insert proposal");
	} else if (strcmp(status, OSH_GW_PROP_PENDING) != 0 &&
		   in->last_seen_ms <= decided + (strcmp(status, OSH_GW_PROP_ACCEPTED) == 0
						      ? OSH_GW_PROP_ACCEPT_SETTLE_MS
						      : 0)) {
		*outcome = OSH_GW_PROP_SUPPRESSED; /* decided, and nothing new since */
	} else {
		const enum stmt_id s = S_PROP_UPDATE;
		bool pending = strcmp(status, OSH_GW_PROP_PENDING) == 0;

		*outcome = pending ? OSH_GW_PROP_MERGED : OSH_GW_PROP_REOPENED;
		if (pending) {
			hits += in->hit_count;
			first = in->first_seen_ms < first ? in->first_seen_ms : first;
			last = in->last_seen_ms > last ? in->last_seen_ms : last;
		} else {
			hits = in->hit_count;
			first = in->first_seen_ms;
			last = in->last_seen_ms;
		}
		RESET(s);
		BIND_TEXT(s, 1, id);
		BIND_I64(s, 2, hits > INT32_MAX ? INT32_MAX : hits);
		BIND_I64(s, 3, first);
		BIND_I64(s, 4, last);
		bind_rule(st, s, 5, in);
		BIND_I64(s, 11, now_ms);
		rc = step_done(st, s, "update proposal");
	}
	if (rc != 0)
		goto out;
	rc = step_done(st, S_COMMIT, "commit");
	if (rc == 0) {
		in_tx = false;
		snprintf(id_out, 40, "%s", id);
	}
out:
	if (in_tx)
		(void)step_done(st, S_ROLLBACK, "rollback");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_proposal_list(struct osh_gw_store *st, const char *sandbox_id, const char *status,
			       struct osh_gw_proposal **out, size_t *n)
{
	const enum stmt_id s = S_PROP_LIST;
	struct osh_gw_proposal *arr = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, r;

	pthread_mutex_lock(&st->mu);
	RESET(s);
	BIND_TEXT(s, 1, sandbox_id);
	BIND_TEXT(s, 2, status && *status ? status : NULL);
	while ((r = STEP(s)) == STORE_ROW) {
		if (cnt == cap) {
			struct osh_gw_proposal *na;

			cap = cap ? cap * 2 : 8;
			na = realloc(arr, cap * sizeof(*arr));
			if (!na) {
				rc = OSH_ENOMEM;
				goto out;
			}
			arr = na;
		}
		rc = row_to_proposal(st, s, &arr[cnt]);
		if (rc != 0)
			goto out;
		cnt++;
	}
	if (r < 0)
		rc = dberr(st, r, "list proposals");
out:
	RESET(s);
	pthread_mutex_unlock(&st->mu);
	if (rc != 0) {
		osh_gw_proposal_list_free(arr, cnt);
		arr = NULL;
		cnt = 0;
	}
	*out = arr;
	*n = cnt;
	return rc;
}

/* Mutex held. */
static int proposal_get_locked(struct osh_gw_store *st, const char *sandbox_id, const char *id,
			       struct osh_gw_proposal *out)
{
	int rc, r;

	RESET(S_PROP_GET);
	BIND_TEXT(S_PROP_GET, 1, sandbox_id);
	BIND_TEXT(S_PROP_GET, 2, id);
	r = STEP(S_PROP_GET);
	if (r == STORE_ROW) {
		rc = row_to_proposal(st, S_PROP_GET, out);
	} else if (r == STORE_DONE) {
		seterr(st, "no proposal '%s' for this sandbox", id);
		rc = OSH_ENOTFOUND;
	} else {
		rc = dberr(st, r, "get proposal");
	}
	RESET(S_PROP_GET);
	return rc;
}

int osh_gw_store_proposal_get(struct osh_gw_store *st, const char *sandbox_id, const char *id,
			      struct osh_gw_proposal *out)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = proposal_get_locked(st, sandbox_id, id, out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Mutex held, inside or outside a transaction: pending -> status. */
static int decide_locked(struct osh_gw_store *st, const char *sandbox_id, const char *id,
			 const char *status, int64_t now_ms, const char *by)
{
	struct osh_gw_proposal cur;
	int rc;

	RESET(S_PROP_DECIDE);
	BIND_TEXT(S_PROP_DECIDE, 1, sandbox_id);
	BIND_TEXT(S_PROP_DECIDE, 2, id);
	BIND_TEXT(S_PROP_DECIDE, 3, status);
	BIND_I64(S_PROP_DECIDE, 4, now_ms);
	BIND_TEXT(S_PROP_DECIDE, 5, by ? by : "");
	rc = step_done(st, S_PROP_DECIDE, "decide proposal");
	if (rc != 0 || st->ops->changes(st->db, S_PROP_DECIDE) > 0)
		return rc;
	rc = proposal_get_locked(st, sandbox_id, id, &cur);
	if (rc == 0) {
		seterr(st, "proposal '%s' is %s already, not pending", id, cur.status);
		osh_gw_proposal_fini(&cur);
		rc = OSH_ESTATE;
	}
	return rc;
}

int osh_gw_store_proposal_reject(struct osh_gw_store *st, const char *sandbox_id, const char *id,
				 int64_t now_ms, const char *decided_by)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = decide_locked(st, sandbox_id, id, OSH_GW_PROP_REJECTED, now_ms, decided_by);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int osh_gw_store_proposal_accept(struct osh_gw_store *st, const char *sandbox_id, const char *id,
				 int64_t now_ms, const char *decided_by, const void *policy,
				 size_t policy_len, uint32_t old_version, uint32_t new_version,
				 const char *policy_hash)
{
	bool in_tx = false;
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = step_done(st, S_BEGIN, "begin");
	if (rc != 0)
		goto out;
	in_tx = true;
	rc = decide_locked(st, sandbox_id, id, OSH_GW_PROP_ACCEPTED, now_ms, decided_by);
	if (rc != 0)
		goto out;
	RESET(S_SB_SET_POLICY);
	BIND_TEXT(S_SB_SET_POLICY, 1, sandbox_id);
	BIND_BLOB(S_SB_SET_POLICY, 2, policy, policy_len);
	BIND_I64(S_SB_SET_POLICY, 3, new_version);
	BIND_TEXT(S_SB_SET_POLICY, 4, policy_hash);
	BIND_I64(S_SB_SET_POLICY, 5, old_version);
	rc = step_done(st, S_SB_SET_POLICY, "store the new policy");
	if (rc == 0 && st->ops->changes(st->db, S_SB_SET_POLICY) == 0) {
		seterr(st, "the policy of sandbox %s changed meanwhile (no longer version %u)",
		       sandbox_id, old_version);
		rc = OSH_ESTATE;
	}
	if (rc != 0)
		goto out;
	rc = step_done(st, S_COMMIT, "commit");
	if (rc == 0)
		in_tx = false;
out:
	if (in_tx) {
		char keep[sizeof(st->err)];

		memcpy(keep, st->err, sizeof(keep));
		(void)step_done(st, S_ROLLBACK, "rollback");
		memcpy(st->err, keep, sizeof(keep));
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}
