/* store_pg.c - the PostgreSQL driver of the gateway store (libpq).
 *
 * DESIGN: several gateways share one PostgreSQL database; each store is one
 * libpq connection (the gateway opens one store per worker thread). The
 * locator is a libpq URI (postgresql://...). Statements are prepared once per
 * connection under fixed names after rewriting store.c's ?N placeholders to
 * $N; values travel as text (blobs as binary) and results come back as text,
 * so the driver needs no type OIDs. Results are read whole: every store query
 * is bounded (LIMIT, one sandbox's lines) except an unbounded log query.
 *
 * Connection loss: a statement on a broken connection fails with OSH_EUNAVAIL
 * (the service answers UNAVAILABLE); the next call after a backoff delay
 * (100 ms doubling to 5 s) tries PQreset and, on success, prepares the
 * statements again. A connection that was idle through a server restart is
 * reconnected at once when its first call is a BEGIN or a read outside a
 * transaction (nothing ran: safe to run again), so that call succeeds. A
 * transaction cut by the loss is rolled back by the server, so nothing
 * half-written is ever acknowledged. The schema version lives in a
 * one-row schema_version table; migrations run under a transaction-scoped
 * advisory lock so gateways starting together migrate once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "osh_err.h"
#include "store.h"
#include "store_db.h"
#include "osh_time.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct pg_stmt {
	char *sql; /* rewritten SQL, kept to prepare again after a reconnect */
	int nparams;
	const char *vals[STORE_DB_MAX_PARAMS];
	int lens[STORE_DB_MAX_PARAMS];
	int fmts[STORE_DB_MAX_PARAMS];
	char num[STORE_DB_MAX_PARAMS][24];
	PGresult *res;
	int row, nrows;
	unsigned char *blob; /* PQunescapeBytea scratch of the current row */
	int64_t changes;
};

struct store_db {
	PGconn *c;
	struct pg_stmt st[STORE_DB_MAX_STMTS];
	int64_t next_try_ms;
	int backoff_ms;
	bool down;   /* the link callback was told the server is unreachable */
	bool broken; /* a call failed without a server answer: reset before reuse */
	void (*link_fn)(void *ud, bool up, const char *detail);
	void *link_ud;
	char err[512];
};

static const char *const pg_migrations[] = {
    /* 0 -> 1: the initial schema. rowid gives sandboxes SQLite's creation
     * order key under the same name. */
    "CREATE TABLE sandboxes ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " policy BYTEA,"
    " policy_version BIGINT NOT NULL DEFAULT 0,"
    " policy_hash TEXT NOT NULL DEFAULT '',"
    " command TEXT,"
    " log_dir TEXT,"
    " state INTEGER NOT NULL,"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " exit_code INTEGER NOT NULL DEFAULT 0,"
    " exit_signal INTEGER NOT NULL DEFAULT 0,"
    " created_ms BIGINT NOT NULL,"
    " rowid BIGSERIAL UNIQUE);"
    "CREATE TABLE config_state ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " revision BIGINT NOT NULL,"
    " snapshot TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL);"
    "CREATE TABLE log_lines ("
    " seq BIGSERIAL PRIMARY KEY,"
    " sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " ts_ms BIGINT NOT NULL,"
    " level TEXT NOT NULL,"
    " level_rank INTEGER NOT NULL,"
    " target TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " fields TEXT);"
    "CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq);"
    "CREATE TABLE log_counts ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " n BIGINT NOT NULL);",
    /* 1 -> 2: acknowledged log push marks. */
    "CREATE TABLE push_marks ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " seq BIGINT NOT NULL);",
    /* 2 -> 3: per-line and per-sandbox byte counts, for byte retention. */
    "ALTER TABLE log_lines ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;"
    "UPDATE log_lines SET bytes = " STORE_LINE_OVERHEAD_SQL " + octet_length(level)"
    " + octet_length(target) + octet_length(message) + octet_length(source)"
    " + coalesce(octet_length(fields), 0);"
    "DROP INDEX log_lines_sandbox_seq;"
    "CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq) INCLUDE (bytes);"
    "ALTER TABLE log_counts ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;"
    "UPDATE log_counts SET bytes = (SELECT coalesce(sum(bytes), 0) FROM log_lines"
    " WHERE log_lines.sandbox_id = log_counts.sandbox_id);",
    /* 3 -> 4: labels (issue 15) and credential digests (issue 16). */
    "ALTER TABLE sandboxes ADD COLUMN labels TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE sandbox_credentials ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " digest TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL);",
    /* 4 -> 5: shared config values (SetConfig) and their generation. */
    "CREATE TABLE config_values ("
    " name TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL);"
    "ALTER TABLE config_state ADD COLUMN values_gen BIGINT NOT NULL DEFAULT 0;",
    /* 5 -> 6: policy proposals made from a sandbox's denials (docs/l7.md),
     * one row per (sandbox, host, port, binary); the rule is a packed
     * NetworkPolicyRule. */
    "CREATE TABLE policy_proposals ("
    " id TEXT PRIMARY KEY,"
    " sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " host TEXT NOT NULL,"
    " port BIGINT NOT NULL,"
    " binary_path TEXT NOT NULL,"
    " rule_name TEXT NOT NULL,"
    " proposed_rule BYTEA NOT NULL,"
    " rationale TEXT NOT NULL,"
    " security_notes TEXT NOT NULL,"
    " confidence_milli INTEGER NOT NULL,"
    " stage TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " hit_count BIGINT NOT NULL,"
    " first_seen_ms BIGINT NOT NULL,"
    " last_seen_ms BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " updated_ms BIGINT NOT NULL,"
    " decided_ms BIGINT NOT NULL DEFAULT 0,"
    " decided_by TEXT NOT NULL DEFAULT '',"
    " UNIQUE (sandbox_id, host, port, binary_path));"
    "CREATE INDEX policy_proposals_sandbox ON policy_proposals(sandbox_id, updated_ms);",
    /* 6 -> 7 (OCSF export, issue 17): the pushed event's OCSF JSON. */
    "ALTER TABLE log_lines ADD COLUMN ocsf_json TEXT;",
    /* 7 -> 8 (ssh): the SSH endpoint, host key and fingerprint each
     * sandbox's supervisor reported (ReportSandboxSsh). */
    "CREATE TABLE sandbox_ssh ("
    " sandbox_id TEXT PRIMARY KEY REFERENCES sandboxes(id) ON DELETE CASCADE,"
    " endpoint TEXT NOT NULL,"
    " host_key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " updated_ms BIGINT NOT NULL);",
};

_Static_assert(sizeof(pg_migrations) / sizeof(pg_migrations[0]) == OSH_GW_STORE_SCHEMA_VERSION,
	       "one migration per schema version");

static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Copies the libpq message without its trailing newline. */
static void set_err(struct store_db *d, const char *msg)
{
	size_t n;

	snprintf(d->err, sizeof(d->err), "%s", msg && msg[0] ? msg : "unknown PostgreSQL error");
	n = strlen(d->err);
	while (n > 0 && d->err[n - 1] == '\n')
		d->err[--n] = '\0';
}

/* Tells the link callback about a transition (once per outage). */
static void link_state(struct store_db *d, bool up)
{
	if (d->down == !up)
		return;
	d->down = !up;
	if (d->link_fn)
		d->link_fn(d->link_ud, up, up ? "reconnected" : d->err);
}

/* Maps a failed result (or a NULL one) to osh_err and records the message. */
static int map_err(struct store_db *d, const PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	int rc = OSH_EIO;

	set_err(d,
		r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(d->c));
	/* No SQLSTATE: libpq itself failed (the server vanished mid-call; the
	 * status may still read OK until the next call). */
	if (PQstatus(d->c) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0) {
		rc = OSH_EUNAVAIL;
		d->broken = true;
		link_state(d, false);
	} else if (state && strcmp(state, "23505") == 0)
		rc = OSH_EEXIST;
	else if (state && strncmp(state, "53", 2) == 0)
		rc = OSH_ENOMEM;
	return rc;
}

static void clear_result(struct pg_stmt *s)
{
	if (s->blob)
		PQfreemem(s->blob);
	s->blob = NULL;
	PQclear(s->res);
	s->res = NULL;
	s->row = s->nrows = 0;
}

static void pg_close(struct store_db *d)
{
	if (!d)
		return;
	for (int i = 0; i < STORE_DB_MAX_STMTS; i++) {
		clear_result(&d->st[i]);
		free(d->st[i].sql);
	}
	PQfinish(d->c);
	free(d);
}

static int prepare_on_server(struct store_db *d, int id)
{
	char name[16];
	PGresult *r;
	int rc = 0;

	snprintf(name, sizeof(name), "osh%d", id);
	r = PQprepare(d->c, name, d->st[id].sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = map_err(d, r);
	PQclear(r);
	return rc;
}

/* Makes sure the connection is usable: after a loss, reconnects once the
 * backoff delay has passed and prepares every statement again. */
static int ensure(struct store_db *d)
{
	int rc = 0;

	if (PQstatus(d->c) == CONNECTION_OK && !d->broken)
		goto out;
	if (osh_time_mono_ms() < d->next_try_ms) {
		snprintf(d->err, sizeof(d->err),
			 "PostgreSQL unreachable (next reconnect attempt in %" PRId64 " ms)",
			 d->next_try_ms - osh_time_mono_ms());
		rc = OSH_EUNAVAIL;
		goto out;
	}
	PQreset(d->c);
	for (int i = 0; rc == 0 && PQstatus(d->c) == CONNECTION_OK && i < STORE_DB_MAX_STMTS; i++)
		if (d->st[i].sql)
			rc = prepare_on_server(d, i);
	if (PQstatus(d->c) != CONNECTION_OK || rc != 0) {
		set_err(d, PQerrorMessage(d->c));
		d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (d->backoff_ms > BACKOFF_MAX_MS)
			d->backoff_ms = BACKOFF_MAX_MS;
		d->next_try_ms = osh_time_mono_ms() + d->backoff_ms;
		rc = OSH_EUNAVAIL;
		link_state(d, false);
		goto out;
	}
	d->backoff_ms = 0;
	d->broken = false;
	link_state(d, true);
out:
	return rc;
}

static int pg_exec(struct store_db *d, const char *sql)
{
	PGresult *r;
	int rc = ensure(d);

	if (rc != 0)
		return rc;
	r = PQexec(d->c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = map_err(d, r);
	PQclear(r);
	if (rc == OSH_EUNAVAIL)
		d->next_try_ms = osh_time_mono_ms() + BACKOFF_MIN_MS;
	return rc;
}

static int pg_open(struct store_db **out, const char *uri, char *err, size_t errlen)
{
	struct store_db *d = calloc(1, sizeof(*d));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	d->c = PQconnectdb(uri);
	if (!d->c || PQstatus(d->c) != CONNECTION_OK) {
		rc = OSH_EUNAVAIL;
		set_err(d, d->c ? PQerrorMessage(d->c) : "out of memory");
		snprintf(err, errlen, "PostgreSQL store: cannot connect: %s", d->err);
		goto out;
	}
	PQsetNoticeProcessor(d->c, quiet_notice, NULL);
	rc = pg_exec(d, "SET client_min_messages = warning");
	if (rc != 0) {
		snprintf(err, errlen, "PostgreSQL store: configure session: %s", d->err);
		goto out;
	}
	*out = d;
	d = NULL;
out:
	pg_close(d);
	return rc;
}

static int pg_query_int(struct store_db *d, const char *sql, int64_t *v)
{
	PGresult *r;
	int rc = ensure(d);

	if (rc != 0)
		return rc;
	r = PQexec(d->c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = map_err(d, r);
	} else if (PQntuples(r) < 1 || PQgetisnull(r, 0, 0)) {
		snprintf(d->err, sizeof(d->err), "query returned no value: %s", sql);
		rc = OSH_EIO;
	} else {
		*v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	return rc;
}

/* Rewrites ?N placeholders to $N outside quoted literals; counts parameters. */
static char *rewrite(const char *sql, int *nparams)
{
	size_t n = strlen(sql);
	char *o = malloc(n + 1), *p = o;
	char quote = 0;

	*nparams = 0;
	if (!o)
		return NULL;
	for (const char *s = sql; *s; s++) {
		if (quote) {
			if (*s == quote)
				quote = 0;
			*p++ = *s;
		} else if (*s == '\'' || *s == '"') {
			quote = *s;
			*p++ = *s;
		} else if (*s == '?' && s[1] >= '0' && s[1] <= '9') {
			int k = (int)strtol(s + 1, NULL, 10);

			if (k > *nparams)
				*nparams = k;
			*p++ = '$';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return o;
}

static int pg_prepare(struct store_db *d, int id, const char *sql)
{
	struct pg_stmt *s = &d->st[id];
	int rc;

	free(s->sql);
	s->sql = rewrite(sql, &s->nparams);
	if (!s->sql)
		return OSH_ENOMEM;
	if (s->nparams > STORE_DB_MAX_PARAMS) {
		snprintf(d->err, sizeof(d->err), "statement %d has %d parameters (max %d)", id,
			 s->nparams, STORE_DB_MAX_PARAMS);
		return OSH_EINVAL;
	}
	rc = ensure(d);
	if (rc == 0)
		rc = prepare_on_server(d, id);
	return rc;
}

static void pg_reset(struct store_db *d, int id)
{
	struct pg_stmt *s = &d->st[id];

	clear_result(s);
	for (int i = 0; i < STORE_DB_MAX_PARAMS; i++) {
		s->vals[i] = NULL;
		s->lens[i] = 0;
		s->fmts[i] = 0;
	}
}

static void pg_bind_i64(struct store_db *d, int id, int idx, int64_t v)
{
	struct pg_stmt *s = &d->st[id];

	if (idx < 1 || idx > s->nparams)
		return;
	snprintf(s->num[idx - 1], sizeof(s->num[0]), "%" PRId64, v);
	s->vals[idx - 1] = s->num[idx - 1];
}

static void pg_bind_text(struct store_db *d, int id, int idx, const char *t)
{
	struct pg_stmt *s = &d->st[id];

	if (idx < 1 || idx > s->nparams)
		return;
	s->vals[idx - 1] = t;
	s->fmts[idx - 1] = 0;
}

static void pg_bind_blob(struct store_db *d, int id, int idx, const void *p, size_t n)
{
	struct pg_stmt *s = &d->st[id];

	if (idx < 1 || idx > s->nparams)
		return;
	s->vals[idx - 1] = p ? (const char *)p : "";
	s->lens[idx - 1] = (int)n;
	s->fmts[idx - 1] = 1;
}

/* A statement that changes nothing when it runs twice: BEGIN and reads. */
static bool retry_safe(const struct pg_stmt *s)
{
	return strncmp(s->sql, "BEGIN", 5) == 0 || strncmp(s->sql, "SELECT", 6) == 0;
}

static int pg_step(struct store_db *d, int id)
{
	struct pg_stmt *s = &d->st[id];
	char name[16];
	bool fresh, idle;
	int rc = 0;

	if (s->res) {
		if (s->blob)
			PQfreemem(s->blob);
		s->blob = NULL;
		s->row++;
		return s->row < s->nrows ? STORE_ROW : STORE_DONE;
	}
	rc = ensure(d);
	if (rc != 0)
		return rc;
	snprintf(name, sizeof(name), "osh%d", id);
	/* A connection idle through a server restart only learns it is dead on
	 * its next call. When that call is a BEGIN or a read outside any
	 * transaction, nothing can have happened on the server: reconnect at
	 * once and run it again, so the first call after an outage does not
	 * fail (a supervisor would otherwise back off for seconds). */
	fresh = !d->broken && !d->down;
	idle = PQtransactionStatus(d->c) == PQTRANS_IDLE;
	s->res = PQexecPrepared(d->c, name, s->nparams, s->vals, s->lens, s->fmts, 0);
	if (fresh && idle && retry_safe(s) && PQresultStatus(s->res) != PGRES_TUPLES_OK &&
	    PQresultStatus(s->res) != PGRES_COMMAND_OK && map_err(d, s->res) == OSH_EUNAVAIL) {
		clear_result(s);
		d->next_try_ms = 0;
		rc = ensure(d);
		if (rc != 0)
			return rc;
		s->res = PQexecPrepared(d->c, name, s->nparams, s->vals, s->lens, s->fmts, 0);
	}
	switch (PQresultStatus(s->res)) {
	case PGRES_TUPLES_OK:
		s->row = 0;
		s->nrows = PQntuples(s->res);
		s->changes = s->nrows;
		rc = s->nrows > 0 ? STORE_ROW : STORE_DONE;
		break;
	case PGRES_COMMAND_OK:
		s->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
		rc = STORE_DONE;
		break;
	default:
		rc = map_err(d, s->res);
		clear_result(s);
		if (rc == OSH_EUNAVAIL)
			d->next_try_ms = osh_time_mono_ms() + BACKOFF_MIN_MS;
		break;
	}
	return rc;
}

static bool pg_col_null(struct store_db *d, int id, int col)
{
	struct pg_stmt *s = &d->st[id];

	return !s->res || s->row >= s->nrows || PQgetisnull(s->res, s->row, col);
}

static int64_t pg_col_i64(struct store_db *d, int id, int col)
{
	return pg_col_null(d, id, col)
		   ? 0
		   : strtoll(PQgetvalue(d->st[id].res, d->st[id].row, col), NULL, 10);
}

static const char *pg_col_text(struct store_db *d, int id, int col)
{
	return pg_col_null(d, id, col) ? NULL : PQgetvalue(d->st[id].res, d->st[id].row, col);
}

static const void *pg_col_blob(struct store_db *d, int id, int col, size_t *len)
{
	struct pg_stmt *s = &d->st[id];

	*len = 0;
	if (pg_col_null(d, id, col))
		return NULL;
	if (s->blob)
		PQfreemem(s->blob);
	s->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, col), len);
	return s->blob;
}

static int64_t pg_changes(struct store_db *d, int id)
{
	return d->st[id].changes;
}

static void pg_set_link_cb(struct store_db *d, void (*fn)(void *ud, bool up, const char *detail),
			   void *ud)
{
	d->link_fn = fn;
	d->link_ud = ud;
}

static const char *pg_errmsg(struct store_db *d)
{
	return d->err;
}

const struct store_db_ops store_db_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .query_int = pg_query_int,
    .prepare = pg_prepare,
    .reset = pg_reset,
    .bind_i64 = pg_bind_i64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .col_null = pg_col_null,
    .col_i64 = pg_col_i64,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .changes = pg_changes,
    .set_link_cb = pg_set_link_cb,
    .errmsg = pg_errmsg,
    /* One gateway migrates at a time (the lock ends with the transaction). */
    .begin_migration = "BEGIN; SELECT pg_advisory_xact_lock(7170400316);"
		       " CREATE TABLE IF NOT EXISTS schema_version ("
		       " id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);"
		       " INSERT INTO schema_version VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    .get_version = "SELECT version FROM schema_version WHERE id = 1",
    .set_version = "UPDATE schema_version SET version = ",
    .set_version_end = " WHERE id = 1",
    .migrations = pg_migrations,
    .pg_dialect = true,
};

void osh_gw_store_pg_server(const char *uri, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(uri, NULL);
	const char *host = NULL;

	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "host") == 0 && o->val && o->val[0])
			host = o->val;
	snprintf(out, outlen, "%s", host ? host : "localhost");
	PQconninfoFree(opts);
}
