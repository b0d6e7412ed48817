/* store_db.h - the store's database driver interface (internal to src/gateway).
 *
 * DESIGN: the store's business logic (transactions, push marks, retention,
 * queries) is written once in store.c against this small interface: numbered
 * prepared statements, positional binds, a row cursor. Two drivers implement
 * it: SQLite (store_sqlite.c, the default embedded file) and PostgreSQL
 * (store_pg.c, libpq, shared by several gateways). SQL is shared: store.c
 * writes it with ?N placeholders and the PostgreSQL driver rewrites them to
 * $N; the few statements whose dialects differ carry a PostgreSQL override.
 *
 * Ownership: a driver connection (struct store_db) is owned by one store and
 * used under that store's mutex (never concurrently). Strings passed to bind_*
 * are borrowed until the next reset of that statement; strings returned by
 * col_* are valid until the next step or reset of that statement. */
#ifndef OSH_GW_STORE_DB_H
#define OSH_GW_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_db;

/* Result of step: a row is available, or the statement is done. Errors are
 * negative osh_err codes (OSH_EEXIST for a uniqueness conflict, OSH_EUNAVAIL
 * when the database server cannot be reached). */
enum { STORE_DONE = 0, STORE_ROW = 1 };

struct store_db_ops {
	const char *name; /* "sqlite" or "postgresql" */
	/* Opens a connection; on failure *db is NULL and err says why. */
	int (*open)(struct store_db **db, const char *locator, char *err, size_t errlen);
	void (*close)(struct store_db *db);
	/* Runs a script of ;-separated statements without results. */
	int (*exec)(struct store_db *db, const char *sql);
	/* Runs a query returning one integer in its first row and column. */
	int (*query_int)(struct store_db *db, const char *sql, int64_t *v);
	/* Prepares statement `id` (0 <= id < n given at open time). */
	int (*prepare)(struct store_db *db, int id, const char *sql);
	/* Resets statement id and clears its bindings. */
	void (*reset)(struct store_db *db, int id);
	void (*bind_i64)(struct store_db *db, int id, int idx, int64_t v);
	void (*bind_text)(struct store_db *db, int id, int idx, const char *s); /* NULL = NULL */
	void (*bind_blob)(struct store_db *db, int id, int idx, const void *p, size_t n);
	/* STORE_ROW, STORE_DONE or a negative osh_err. */
	int (*step)(struct store_db *db, int id);
	bool (*col_null)(struct store_db *db, int id, int col);
	int64_t (*col_i64)(struct store_db *db, int id, int col);
	const char *(*col_text)(struct store_db *db, int id, int col); /* NULL for NULL */
	const void *(*col_blob)(struct store_db *db, int id, int col, size_t *len);
	/* Rows changed by the last step of statement id (UPDATE/DELETE). */
	int64_t (*changes)(struct store_db *db, int id);
	/* Link callback (see osh_gw_store_opts.on_link); NULL op = never calls. */
	void (*set_link_cb)(struct store_db *db, void (*fn)(void *ud, bool up, const char *detail),
			    void *ud);
	/* The driver's last error text. */
	const char *(*errmsg)(struct store_db *db);
	/* SQL of the dialect. */
	const char *begin_migration;   /* opens the migration transaction (and its lock) */
	const char *get_version;       /* one integer: the schema version */
	const char *set_version;       /* SQL setting the version to the decimal that follows */
	const char *set_version_end;   /* SQL after the number ("" when none) */
	const char *const *migrations; /* OSH_GW_STORE_SCHEMA_VERSION scripts */
	bool pg_dialect;	       /* store.c uses its PostgreSQL statement overrides */
};

extern const struct store_db_ops store_db_sqlite;
extern const struct store_db_ops store_db_pg;

/* Number of prepared statements a driver must hold (store.c's enum). */
#define STORE_DB_MAX_STMTS 64
/* Highest placeholder number used by any statement. */
#define STORE_DB_MAX_PARAMS 16
/* Bytes a stored line costs beyond its text (row header, numbers, index). */
#define STORE_LINE_OVERHEAD	64
#define STORE_LINE_OVERHEAD_SQL "64"

#endif
