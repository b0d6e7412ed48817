/* store.h - the gateway's store: sandboxes, config state, pushed log lines.
 *
 * DESIGN: one interface, two backends. The default is one SQLite database file
 * in the data dir, opened in WAL mode so readers (CLI queries) do not block the
 * writer (log push). The other is a PostgreSQL database (libpq), which several
 * gateways share: sandboxes created through one are listed, logged and deleted
 * through any other, and the config revision is one counter in the database
 * (osh_gw_store_config_advance). The backend is chosen by the locator given to
 * osh_gw_store_create: "postgresql://..." (or "postgres://..."), "sqlite:PATH",
 * or a bare PATH (SQLite). The business logic is shared (store.c); the drivers
 * (store_sqlite.c, store_pg.c) only move values (store_db.h).
 *
 * The schema is versioned (SQLite: PRAGMA user_version; PostgreSQL: a
 * schema_version table) and upgraded by ordered per-dialect migrations for the
 * same versions; each migration runs in its own transaction, so a crash leaves
 * a consistent version. Every statement is prepared once at open and reused.
 * Log retention is a per-sandbox bound in lines and in bytes, kept exact and
 * cheap: per-sandbox line and byte counters are updated in the same transaction
 * as each batch insert (one transaction per push, not per line), and only the
 * excess (oldest) rows are deleted, walking the (sandbox_id, seq, bytes) index.
 * A byte bound matters because lines differ in size by orders of magnitude:
 * 10,000 lines may be 1 MB or 1 GB. Queries read newest first and can stop
 * early, so a caller reads only the rows it returns.
 *
 * A sandbox's labels are one column holding their canonical text
 * (src/common/osh_labels.h), so a record reads back in one row; a label
 * selector is applied to pages in SQL for its first label (an exact substring
 * test) and in C for all of them. Sandbox credentials are stored as SHA-256
 * digests in their own table, deleted with the sandbox, so every gateway on
 * one database authenticates every supervisor.
 *
 * PostgreSQL connection loss: calls fail with OSH_EUNAVAIL (nothing of a failed
 * append is stored or acknowledged) and the store reconnects by itself, with a
 * backoff of 100 ms doubling to 5 s, on a later call.
 *
 * Thread-safety: every function takes the store's internal mutex, so one store may
 * be used from any number of threads; it is one database connection, so calls on
 * it are serialised. For concurrent readers open one store per thread on the same
 * database (SQLite WAL: readers never wait for the writer). Blocking: every call
 * does disk or network I/O. */
#ifndef OSH_GW_STORE_H
#define OSH_GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

struct osh_gw_store;

/* The schema version this code migrates to (both backends). */
#define OSH_GW_STORE_SCHEMA_VERSION 8
/* Default per-sandbox retention of log lines. */
#define OSH_GW_STORE_DEFAULT_RETENTION 10000u
/* Default per-sandbox retention in bytes (line text + 64 per line). */
#define OSH_GW_STORE_DEFAULT_RETENTION_BYTES ((uint64_t)64 << 20)

struct osh_gw_store_opts {
	/** Maximum stored log lines per sandbox (oldest dropped). 0 = the default. */
	size_t log_retention;
	/** Maximum stored bytes per sandbox (oldest lines dropped until under it;
	 * a line costs its text plus 64). 0 = the default. */
	uint64_t log_retention_bytes;
	/** Called when the connection to the database server is lost (up = false,
	 * detail = the driver's message) and when it is back or a new connection
	 * opened (up = true; so it repeats: report transitions only), from the
	 * thread that made the call, under the store's mutex: must not call back
	 * into this store. NULL = not told. SQLite never calls it. */
	void (*on_link)(void *ud, bool up, const char *detail);
	void *link_ud;
};

/* Lifecycle states of a sandbox record. */
enum osh_gw_sb_state {
	OSH_GW_SB_CREATED = 0, /* recorded, no process launched (no command) */
	OSH_GW_SB_RUNNING = 1, /* supervisor process running (pid valid) */
	OSH_GW_SB_EXITED = 2,  /* process ended; exit_code or exit_signal set */
	OSH_GW_SB_FAILED = 3,  /* the launch itself failed */
	OSH_GW_SB_LOST = 4,    /* found gone after a gateway restart; status unknown */
};

/* "created", "running", "exited", "failed", "lost". Static strings. */
const char *osh_gw_sb_state_name(enum osh_gw_sb_state s);

/* One sandbox record. Strings are heap-owned by the struct after a get/list and
 * released by osh_gw_sandbox_fini; for insert they are borrowed from the caller. */
struct osh_gw_sandbox {
	char id[40];  /* uuid-like, 36 chars + NUL */
	char *name;   /* unique */
	void *policy; /* packed openshell.v1.SandboxPolicy; NULL = none */
	size_t policy_len;
	uint32_t policy_version; /* 0 = no policy */
	char policy_hash[72];	 /* hex SHA-256 of the packed policy, or "" */
	char *command;		 /* JSON array of argv strings; may be NULL */
	char *log_dir;		 /* may be NULL */
	char *labels;		 /* canonical label text (osh_labels.h); NULL or "" = none */
	enum osh_gw_sb_state state;
	int pid;	 /* > 0 while running */
	int exit_code;	 /* valid when state == EXITED and exit_signal == 0 */
	int exit_signal; /* > 0 when killed by a signal */
	int64_t created_ms;
	int64_t rowid; /* creation-order key, set by osh_gw_store_sandbox_page only */
};

/* What a sandbox's supervisor reported about its SSH server
 * (ReportSandboxSsh); stored in sandbox_ssh, deleted with the sandbox. */
struct osh_gw_ssh_info {
	char endpoint[160];   /* "unix:/run/openshell/ssh/<id>.sock" */
	char host_key[256];   /* "ssh-ed25519 AAAA..." */
	char fingerprint[96]; /* "SHA256:..." */
};

/* Frees the heap strings of a record filled by a get/list call; NULL-safe. */
void osh_gw_sandbox_fini(struct osh_gw_sandbox *sb);

/* One log line. Strings are borrowed (input) or valid during a callback (output). */
struct osh_gw_logline {
	uint64_t seq; /* store-assigned, increasing; ignored on append */
	const char *sandbox_id;
	int64_t ts_ms;
	const char *level;
	const char *target;
	const char *message;
	const char *source;    /* "sandbox" or "gateway" */
	const char *fields;    /* JSON object text, or NULL/"" for none */
	const char *ocsf_json; /* the event's OCSF JSON (OCSF export), or NULL/"" for none */
	uint64_t push_seq;     /* supervisor push sequence; 0 = unnumbered (never a duplicate) */
};

/* A log query. Zero values mean "no filter". */
struct osh_gw_logquery {
	const char *sandbox_id;	    /* required */
	size_t tail;		    /* at most the last `tail` matching lines (0 = all) */
	int64_t since_ms;	    /* ts_ms >= since_ms; 0 = no bound (negative ts included) */
	const char *min_level;	    /* rank(level) >= rank(min_level); NULL/"" = all */
	const char *const *sources; /* match any of these sources; NULL = all */
	size_t n_sources;
	uint64_t after_seq; /* seq > after_seq (for resumable follow) */
	bool newest_first;  /* callback order newest first (stop early to read less) */
};

/* Callback per result line, oldest first (newest first with q->newest_first).
 * Return 0 to continue, non-zero to stop (the query then returns that value). */
typedef int (*osh_gw_logline_fn)(void *ud, const struct osh_gw_logline *l);

/* Ranks a line: TRACE 0 < DEBUG 1 < INFO 2 < WARN 3 < ERROR 4 (case-insensitive,
 * WARNING = WARN); "OCSF" ranks by the shorthand severity tag after the message's
 * first space ([INFO]/[LOW] -> INFO, [MED] -> WARN, [HIGH]/[CRIT]/[FATAL] -> ERROR,
 * none -> INFO); unknown labels rank INFO. Delegates to osh_level_rank_line()
 * (src/emit/osh_level.h) when that library is built. Thread-safe. */
int osh_gw_level_rank(const char *level, const char *message);

/* Parses a minimum level name (trace..error, warning, ocsf = info) into a rank.
 * Returns the rank, or -1 for an unknown name. Thread-safe. */
int osh_gw_level_parse(const char *name);

/* The backend a locator selects: "postgresql" for postgresql:// and postgres://
 * URIs, otherwise "sqlite"; *target is what the driver opens (the URI, or the
 * path with any "sqlite:" prefix removed; points into locator). Static strings. */
const char *osh_gw_store_backend(const char *locator, const char **target);

/* Opens the store named by `locator` (see osh_gw_store_backend): SQLite creates
 * the file, enables WAL and foreign keys; PostgreSQL connects (the database must
 * exist). Then runs any pending migrations and prepares statements. A database
 * from a newer version is refused with OSH_ESTATE; an unreachable PostgreSQL
 * server with OSH_EUNAVAIL. On failure *out is NULL and err says why (never
 * echoing a PostgreSQL URI, which may hold a password). The caller owns the
 * store and frees it with osh_gw_store_destroy. */
OSH_MUST_CHECK int osh_gw_store_create(struct osh_gw_store **out, const char *locator,
				       const struct osh_gw_store_opts *opts, char *err,
				       size_t errlen);

/* Finalises statements and closes the database. NULL-safe. Not concurrent with
 * other calls on the same store. */
void osh_gw_store_destroy(struct osh_gw_store *st);

/* The store's last error message (first-error-wins per call; valid until the next
 * call on the store from any thread: copy it under your own serialisation). */
const char *osh_gw_store_errmsg(struct osh_gw_store *st);

/* The server a PostgreSQL URI names, for logs and events (host or socket
 * directory, "localhost" by default; never the password). Writes into out. */
void osh_gw_store_pg_server(const char *uri, char *out, size_t outlen);

/* "sqlite" or "postgresql". Static string. */
const char *osh_gw_store_kind(const struct osh_gw_store *st);

/* Reads the schema version. */
OSH_MUST_CHECK int osh_gw_store_schema_version(struct osh_gw_store *st, int *version);

/* Config state: the revision and the canonical snapshot it belongs to.
 * load: OSH_ENOTFOUND when never saved; *snapshot is heap (caller frees). */
OSH_MUST_CHECK int osh_gw_store_config_load(struct osh_gw_store *st, uint64_t *revision,
					    char **snapshot);
OSH_MUST_CHECK int osh_gw_store_config_save(struct osh_gw_store *st, uint64_t revision,
					    const char *snapshot);

/* Stores `snapshot` as the current config and returns its revision, in one
 * atomic statement: 1 when nothing was stored, the stored revision when the
 * snapshot is unchanged, the stored revision + 1 otherwise. Several gateways
 * on one database thus share one revision sequence that never goes backwards
 * and never gives two different snapshots the same number. */
OSH_MUST_CHECK int osh_gw_store_config_advance(struct osh_gw_store *st, const char *snapshot,
					       uint64_t *revision);

/* One config value set through SetConfig: shared by every gateway on the
 * database (table config_values). Strings valid during the callback only. */
struct osh_gw_cfg_value {
	const char *name;
	const char *value;
};

/* Resolves a gateway's config over the shared values `vals` (n of them, sorted
 * by name) and writes its canonical snapshot into snap (cap bytes, NUL
 * terminated). Called by osh_gw_store_config_sync inside its transaction,
 * under the store's mutex: it must not call into the store. Returns 0, or an
 * osh_err that rolls the transaction back and is returned by the sync. */
typedef int (*osh_gw_cfg_resolve_fn)(void *ud, const struct osh_gw_cfg_value *vals, size_t n,
				     char *snap, size_t cap);

/* What a config sync does (osh_gw_store_config_sync). */
struct osh_gw_cfg_sync {
	const char *set_name;  /* write this shared value first; NULL = none        */
	const char *set_value; /* its new value; NULL = remove it                    */
	/* The snapshot this gateway serves and its revision; NULL at start, when
	 * the resolved snapshot is compared with the one stored last instead. */
	const char *published;
	uint64_t published_rev;
};

/* Outcome of a config sync. */
struct osh_gw_cfg_synced {
	uint64_t revision;   /* the revision to serve with the resolved config  */
	uint64_t values_gen; /* generation of the shared values that were read  */
	bool value_changed;  /* set_name's stored value changed (gen moved)     */
	bool bumped;	     /* a new revision was assigned to the snapshot     */
};

/* The one config transaction of every gateway, under the config_state row
 * lock (all gateways on the database are ordered by it): writes the shared
 * value in->set_name (if any; the generation moves only when the stored value
 * changes), reads every shared value, calls fn to resolve the gateway's config
 * over them, and assigns the next revision when the resolved snapshot differs
 * from in->published (or, at start, from the snapshot stored last); else keeps
 * in->published_rev (at start: the stored revision). The snapshot of each new
 * revision is stored with it. A fresh database starts at revision 1. */
OSH_MUST_CHECK int osh_gw_store_config_sync(struct osh_gw_store *st,
					    const struct osh_gw_cfg_sync *in,
					    osh_gw_cfg_resolve_fn fn, void *ud,
					    struct osh_gw_cfg_synced *out);

/* The generation of the shared config values: one integer read, for polling
 * (it changes whenever any gateway sets or removes a value). 0 before any. */
OSH_MUST_CHECK int osh_gw_store_config_gen(struct osh_gw_store *st, uint64_t *gen);

/* Inserts a sandbox. OSH_EEXIST if the name or id is taken. */
OSH_MUST_CHECK int osh_gw_store_sandbox_insert(struct osh_gw_store *st,
					       const struct osh_gw_sandbox *sb);

/* Looks up by id, or by name when by_name. Fills *out (caller finis it).
 * OSH_ENOTFOUND when absent. */
OSH_MUST_CHECK int osh_gw_store_sandbox_get(struct osh_gw_store *st, const char *key, bool by_name,
					    struct osh_gw_sandbox *out);

/* Lists all sandboxes in creation order. *out is a heap array of *n records; free
 * with osh_gw_sandbox_list_free. */
OSH_MUST_CHECK int osh_gw_store_sandbox_list(struct osh_gw_store *st, struct osh_gw_sandbox **out,
					     size_t *n);
void osh_gw_sandbox_list_free(struct osh_gw_sandbox *arr, size_t n);

/* One page of sandboxes in creation order: at most `limit` records whose
 * rowid is above `after` (0 = from the start); each record's rowid is set, so
 * the last one's is the `after` of the next page. Free like a list. Reads only
 * the returned rows. */
OSH_MUST_CHECK int osh_gw_store_sandbox_page(struct osh_gw_store *st, int64_t after, size_t limit,
					     struct osh_gw_sandbox **out, size_t *n);

/* Like osh_gw_store_sandbox_page, but only sandboxes whose labels hold every
 * label of `selector` (canonical text, osh_labels_selector_parse; NULL or ""
 * = all). The rows are walked in creation order until `limit` match, so a
 * selective filter reads more rows than it returns (see docs/gateway.md). */
OSH_MUST_CHECK int osh_gw_store_sandbox_page_sel(struct osh_gw_store *st, int64_t after,
						 size_t limit, const char *selector,
						 struct osh_gw_sandbox **out, size_t *n);

/* Sandbox credentials: the hex SHA-256 digest (64 lower-case hex digits,
 * never the secret) of each sandbox's credential, in the store so every
 * gateway on one database recognises every supervisor. A sandbox's digest
 * goes with its record (deleted with it). */
#define OSH_GW_CRED_DIGEST_HEX 64

/* Stores the digest of sandbox `id`: replaces one already stored when
 * `replace`, else keeps it (*stored = false). OSH_EINVAL for a digest that
 * is not 64 lower-case hex digits. When the sandbox does not exist nothing
 * is stored (*stored = false; with replace, OSH_ENOTFOUND). */
OSH_MUST_CHECK int osh_gw_store_cred_put(struct osh_gw_store *st, const char *id,
					 const char *digest, bool replace, bool *stored);

/* Reads the digest of sandbox `id` into digest. OSH_ENOTFOUND when none. */
OSH_MUST_CHECK int osh_gw_store_cred_get(struct osh_gw_store *st, const char *id,
					 char digest[OSH_GW_CRED_DIGEST_HEX + 1]);

/* Updates the process state of sandbox `id`. OSH_ENOTFOUND when absent. */
OSH_MUST_CHECK int osh_gw_store_sandbox_set_state(struct osh_gw_store *st, const char *id,
						  enum osh_gw_sb_state state, int pid,
						  int exit_code, int exit_signal);

/* Deletes sandbox `id` and all its log lines. OSH_ENOTFOUND when absent. */
OSH_MUST_CHECK int osh_gw_store_sandbox_delete(struct osh_gw_store *st, const char *id);

/* Appends n lines for sandbox_id in one transaction (each line's own sandbox_id is
 * ignored: the argument wins), then trims that sandbox to the retention bound.
 * seqs (may be NULL) receives the assigned seq of each line. Level ranks are
 * computed here. OSH_ENOTFOUND if the sandbox does not exist. */
OSH_MUST_CHECK int osh_gw_store_logs_append(struct osh_gw_store *st, const char *sandbox_id,
					    const struct osh_gw_logline *lines, size_t n,
					    uint64_t *seqs);

/* Outcome of osh_gw_store_logs_push. */
struct osh_gw_push_result {
	size_t stored;	    /* lines inserted                                  */
	size_t duplicates;  /* numbered lines skipped: push_seq <= the old mark */
	uint64_t acked_seq; /* the sandbox's push mark after the call          */
};

/* Acknowledged push: like osh_gw_store_logs_append, but a line whose push_seq is
 * non-zero and at or below the sandbox's push mark is a duplicate (skipped,
 * seqs[i] = 0), and the mark is raised, in the same transaction, to the
 * highest of its old value, last_seq (numbered lines refused before the store,
 * which must not come back) and every inserted push_seq. n may be 0 (only the
 * mark moves). *res is always written (zero on error). OSH_ENOTFOUND if the
 * sandbox does not exist. */
OSH_MUST_CHECK int osh_gw_store_logs_push(struct osh_gw_store *st, const char *sandbox_id,
					  const struct osh_gw_logline *lines, size_t n,
					  uint64_t last_seq, uint64_t *seqs,
					  struct osh_gw_push_result *res);

/* Records (or replaces) the SSH endpoint of sandbox_id. 0 or an OSH_E*
 * (OSH_EINVAL naming the missing sandbox is the foreign key's). */
OSH_MUST_CHECK int osh_gw_store_ssh_put(struct osh_gw_store *st, const char *sandbox_id,
					const struct osh_gw_ssh_info *info);
/* The recorded SSH endpoint of sandbox_id: 0, OSH_ENOTFOUND (never
 * reported) or an OSH_E* store error. */
OSH_MUST_CHECK int osh_gw_store_ssh_get(struct osh_gw_store *st, const char *sandbox_id,
					struct osh_gw_ssh_info *out);

/* The sandbox's push mark (0 when it never received a numbered line). */
OSH_MUST_CHECK int osh_gw_store_push_mark(struct osh_gw_store *st, const char *sandbox_id,
					  uint64_t *mark);

/* Runs a query; calls fn per matching line, oldest first. */
OSH_MUST_CHECK int osh_gw_store_logs_query(struct osh_gw_store *st, const struct osh_gw_logquery *q,
					   osh_gw_logline_fn fn, void *ud);

/* Number of lines a query matches (its filters; `tail` ignored), counted on
 * the filter columns only. */
OSH_MUST_CHECK int osh_gw_store_logs_matching(struct osh_gw_store *st,
					      const struct osh_gw_logquery *q, uint64_t *n);

/* Number of stored lines for a sandbox. */
OSH_MUST_CHECK int osh_gw_store_logs_count(struct osh_gw_store *st, const char *sandbox_id,
					   size_t *n);

/* Whether a log line passes a query's level/source/since filters (the same rules
 * the SQL applies), for filtering live lines that never went through the store. */
bool osh_gw_logquery_match(const struct osh_gw_logquery *q, const struct osh_gw_logline *l);

/* ------------------------------------------------------- policy proposals --
 * Proposals a supervisor's mechanistic mapper made from its denials
 * (docs/l7.md "Denials and proposals"), one row per (sandbox, host, port,
 * binary). A new submission for a pending row adds its hit count and widens
 * first/last seen; for a decided row it reopens the row as pending only when
 * its last denial is newer than the decision (rejected) or than the decision
 * plus OSH_GW_PROP_ACCEPT_SETTLE_MS (accepted), so a rejected proposal is not
 * proposed again unless new denials arrive. */

/* An accepted proposal is reopened only by denials later than this after
 * its acceptance: denials made before the supervisor's next policy poll
 * applied the new version are expected, not news. */
#define OSH_GW_PROP_ACCEPT_SETTLE_MS 60000

/* Statuses of a proposal. */
#define OSH_GW_PROP_PENDING  "pending"
#define OSH_GW_PROP_ACCEPTED "accepted"
#define OSH_GW_PROP_REJECTED "rejected"

/* One proposal row. Strings and the rule are heap-owned after a get/list
 * (osh_gw_proposal_fini); borrowed for upsert. */
struct osh_gw_proposal {
	char id[40];
	char sandbox_id[40];
	char *host;
	uint32_t port;
	char *binary;
	char *rule_name;
	void *rule; /* packed openshell.v1.NetworkPolicyRule */
	size_t rule_len;
	char *rationale;
	char *security_notes;
	int confidence_milli; /* 0..1000 */
	char *stage;
	char status[16];
	int64_t hit_count;
	int64_t first_seen_ms, last_seen_ms;
	int64_t created_ms, decided_ms; /* decided_ms 0 = never decided */
	char *decided_by;
};

void osh_gw_proposal_fini(struct osh_gw_proposal *p);
void osh_gw_proposal_list_free(struct osh_gw_proposal *v, size_t n);

/* What an upsert did. */
enum osh_gw_prop_outcome {
	OSH_GW_PROP_INSERTED = 0, /* new row (pending), id = in->id */
	OSH_GW_PROP_MERGED,	  /* pending row: hits added, seen widened */
	OSH_GW_PROP_REOPENED,	  /* decided row with newer denials: pending again */
	OSH_GW_PROP_SUPPRESSED,	  /* decided row, no denial after the decision: unchanged */
};

/* Upserts a proposal of sandbox in->sandbox_id keyed (host, port, binary);
 * in->id is the id a new row gets; the row's id is written to id_out.
 * hit_count is added (merged rows) or taken (new, reopened). One
 * transaction. OSH_ENOTFOUND when the sandbox does not exist. */
OSH_MUST_CHECK int osh_gw_store_proposal_upsert(struct osh_gw_store *st,
						const struct osh_gw_proposal *in, int64_t now_ms,
						enum osh_gw_prop_outcome *outcome, char id_out[40]);

/* The proposals of a sandbox, most recently changed first; status NULL or ""
 * = every status. Free with osh_gw_proposal_list_free. */
OSH_MUST_CHECK int osh_gw_store_proposal_list(struct osh_gw_store *st, const char *sandbox_id,
					      const char *status, struct osh_gw_proposal **out,
					      size_t *n);

/* One proposal of a sandbox by id. OSH_ENOTFOUND when absent. */
OSH_MUST_CHECK int osh_gw_store_proposal_get(struct osh_gw_store *st, const char *sandbox_id,
					     const char *id, struct osh_gw_proposal *out);

/* Rejects a pending proposal. OSH_ENOTFOUND, or OSH_ESTATE when it is not
 * pending. */
OSH_MUST_CHECK int osh_gw_store_proposal_reject(struct osh_gw_store *st, const char *sandbox_id,
						const char *id, int64_t now_ms,
						const char *decided_by);

/* Accepts a pending proposal and stores the sandbox's new policy (packed,
 * its version and hash) in one transaction; the policy is written only when
 * the stored version is still old_version (else OSH_ESTATE: it changed
 * meanwhile, decide again). OSH_ENOTFOUND, OSH_ESTATE (not pending). */
OSH_MUST_CHECK int osh_gw_store_proposal_accept(struct osh_gw_store *st, const char *sandbox_id,
						const char *id, int64_t now_ms,
						const char *decided_by, const void *policy,
						size_t policy_len, uint32_t old_version,
						uint32_t new_version, const char *policy_hash);

#endif
