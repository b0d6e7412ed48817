/* store_sqlite.c - the SQLite driver of the gateway store (the default).
 *
 * DESIGN: a thin mapping of store_db.h onto the SQLite C API: one connection in
 * WAL mode (readers do not block the writer), statements prepared once with
 * SQLITE_PREPARE_PERSISTENT, the schema version in PRAGMA user_version. The
 * locator is a file path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "osh_err.h"
#include "store.h"
#include "store_db.h"

struct store_db {
	sqlite3 *db;
	sqlite3_stmt *st[STORE_DB_MAX_STMTS];
	int64_t changes[STORE_DB_MAX_STMTS];
	char err[512];
};

static const char *const sqlite_migrations[] = {
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
    "UPDATE log_lines SET bytes = " STORE_LINE_OVERHEAD_SQL " + length(CAST(level AS BLOB))"
    " + length(CAST(target AS BLOB)) + length(CAST(message AS BLOB))"
    " + length(CAST(source AS BLOB)) + coalesce(length(CAST(fields AS BLOB)), 0);"
    "DROP INDEX log_lines_sandbox_seq;"
    "CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq, bytes);"
    "ALTER TABLE log_counts ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
    "UPDATE log_counts SET bytes = (SELECT coalesce(sum(bytes), 0) FROM log_lines"
    " WHERE log_lines.sandbox_id = log_counts.sandbox_id);",
    /* 3 -> 4: labels (issue 15) and credentials in the store (issue 16).
     * labels is the canonical text of osh_labels.h ("K=V\n" per label,
     * sorted); sandbox_credentials holds the SHA-256 digest of each
     * sandbox's credential (never the secret), so every gateway on one
     * database recognises every supervisor. */
    "ALTER TABLE sandboxes ADD COLUMN labels TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE sandbox_credentials ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " digest TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);",
    /* 4 -> 5: shared config. Values set by SetConfig live here (one row per
     * key), so every gateway on the database serves them; values_gen moves
     * whenever one changes, so a gateway polls one integer to notice. */
    "CREATE TABLE config_values ("
    " name TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "ALTER TABLE config_state ADD COLUMN values_gen INTEGER NOT NULL DEFAULT 0;",
    /* 5 -> 6: policy proposals made from a sandbox's denials (docs/l7.md),
     * one row per (sandbox, host, port, binary); the rule is a packed
     * NetworkPolicyRule. */
    "CREATE TABLE policy_proposals ("
    " id TEXT PRIMARY KEY,"
    " sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " host TEXT NOT NULL,"
    " port INTEGER NOT NULL,"
    " binary_path TEXT NOT NULL,"
    " rule_name TEXT NOT NULL,"
    " proposed_rule BLOB NOT NULL,"
    " rationale TEXT NOT NULL,"
    " security_notes TEXT NOT NULL,"
    " confidence_milli INTEGER NOT NULL,"
    " stage TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " hit_count INTEGER NOT NULL,"
    " first_seen_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL,"
    " decided_ms INTEGER NOT NULL DEFAULT 0,"
    " decided_by TEXT NOT NULL DEFAULT '',"
    " UNIQUE (sandbox_id, host, port, binary_path));"
    "CREATE INDEX policy_proposals_sandbox ON policy_proposals(sandbox_id, updated_ms);",
    /* 6 -> 7 (OCSF export, issue 17): the pushed event's OCSF JSON, kept with
     * its line (NULL for plain lines and while the export is off). */
    "ALTER TABLE log_lines ADD COLUMN ocsf_json TEXT;",
    /* 7 -> 8 (ssh): the SSH endpoint, host key and fingerprint each
     * sandbox's supervisor reported (ReportSandboxSsh). */
    "CREATE TABLE sandbox_ssh ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " endpoint TEXT NOT NULL,"
    " host_key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " updated_ms INTEGER NOT NULL);",
};

_Static_assert(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]) ==
		   OSH_GW_STORE_SCHEMA_VERSION,
	       "one migration per schema version");

static int map_err(struct store_db *d, int src)
{
	int rc = OSH_EIO;

	if (src == SQLITE_CONSTRAINT)
		rc = OSH_EEXIST;
	else if (src == SQLITE_NOMEM)
		rc = OSH_ENOMEM;
	snprintf(d->err, sizeof(d->err), "%s", sqlite3_errmsg(d->db));
	return rc;
}

static void sq_close(struct store_db *d)
{
	if (!d)
		return;
	for (int i = 0; i < STORE_DB_MAX_STMTS; i++)
		sqlite3_finalize(d->st[i]);
	if (d->db)
		sqlite3_close(d->db);
	free(d);
}

static int sq_exec(struct store_db *d, const char *sql)
{
	char *msg = NULL;
	int rc = 0;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(d->err, sizeof(d->err), "%s", msg ? msg : sqlite3_errmsg(d->db));
		rc = OSH_EIO;
	}
	sqlite3_free(msg);
	return rc;
}

static int sq_open(struct store_db **out, const char *path, char *err, size_t errlen)
{
	struct store_db *d = calloc(1, sizeof(*d));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (sqlite3_open_v2(path, &d->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = OSH_EIO;
		snprintf(err, errlen, "%s: cannot open database: %s", path,
			 d->db ? sqlite3_errmsg(d->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(d->db, 5000);
	rc = sq_exec(d, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			" PRAGMA foreign_keys = ON;");
	if (rc != 0) {
		snprintf(err, errlen, "%s: configure database: %s", path, d->err);
		goto out;
	}
	*out = d;
	d = NULL;
out:
	sq_close(d);
	return rc;
}

static int sq_query_int(struct store_db *d, const char *sql, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(d->db, sql, -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		rc = map_err(d, SQLITE_ERROR);
	else
		*v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc;
}

static int sq_prepare(struct store_db *d, int id, const char *sql)
{
	if (sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &d->st[id], NULL) !=
	    SQLITE_OK)
		return map_err(d, SQLITE_ERROR);
	return 0;
}

static void sq_reset(struct store_db *d, int id)
{
	sqlite3_reset(d->st[id]);
	sqlite3_clear_bindings(d->st[id]);
}

static void sq_bind_i64(struct store_db *d, int id, int idx, int64_t v)
{
	sqlite3_bind_int64(d->st[id], idx, (sqlite3_int64)v);
}

static void sq_bind_text(struct store_db *d, int id, int idx, const char *s)
{
	if (s)
		sqlite3_bind_text(d->st[id], idx, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(d->st[id], idx);
}

static void sq_bind_blob(struct store_db *d, int id, int idx, const void *p, size_t n)
{
	sqlite3_bind_blob(d->st[id], idx, p, (int)n, SQLITE_STATIC);
}

static int sq_step(struct store_db *d, int id)
{
	int r = sqlite3_step(d->st[id]);
	int rc = STORE_DONE;

	if (r == SQLITE_ROW)
		rc = STORE_ROW;
	else if (r != SQLITE_DONE)
		rc = map_err(d, r);
	else
		d->changes[id] = sqlite3_changes(d->db);
	return rc;
}

static bool sq_col_null(struct store_db *d, int id, int col)
{
	return sqlite3_column_type(d->st[id], col) == SQLITE_NULL;
}

static int64_t sq_col_i64(struct store_db *d, int id, int col)
{
	return sqlite3_column_int64(d->st[id], col);
}

static const char *sq_col_text(struct store_db *d, int id, int col)
{
	return (const char *)sqlite3_column_text(d->st[id], col);
}

static const void *sq_col_blob(struct store_db *d, int id, int col, size_t *len)
{
	const void *b = sqlite3_column_blob(d->st[id], col);
	int n = sqlite3_column_bytes(d->st[id], col);

	*len = n > 0 ? (size_t)n : 0;
	return b;
}

static int64_t sq_changes(struct store_db *d, int id)
{
	return d->changes[id];
}

static const char *sq_errmsg(struct store_db *d)
{
	return d->err;
}

const struct store_db_ops store_db_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .query_int = sq_query_int,
    .prepare = sq_prepare,
    .reset = sq_reset,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .col_null = sq_col_null,
    .col_i64 = sq_col_i64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .changes = sq_changes,
    .set_link_cb = NULL,
    .errmsg = sq_errmsg,
    .begin_migration = "BEGIN IMMEDIATE",
    .get_version = "PRAGMA user_version",
    .set_version = "PRAGMA user_version = ",
    .set_version_end = "",
    .migrations = sqlite_migrations,
    .pg_dialect = false,
};
