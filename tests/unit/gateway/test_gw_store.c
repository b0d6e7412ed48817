/* test_gw_store.c - the gateway store: migrations, sandboxes, log retention,
 * filters, persistence across reopen, several connections on one database.
 * DESIGN: one test body, two backends: ctest runs this binary twice, once on
 * real SQLite files in a mkdtemp dir (test_gw_store) and once on a temporary
 * PostgreSQL cluster started by tests/support/pg_cluster.sh (test_gw_store_pg;
 * gwt_store_locator gives each test a fresh database). */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_test_util.h"
#include "store.h"

struct srig {
	char *dir, *db;
	struct osh_gw_store *st;
};

static void sopen(struct srig *r, size_t retention)
{
	struct osh_gw_store_opts o = {.log_retention = retention};
	char err[256];

	cr_assert_eq(osh_gw_store_create(&r->st, r->db, &o, err, sizeof(err)), 0, "%s", err);
}

static void sinit(struct srig *r, size_t retention)
{
	r->dir = gwt_tmpdir();
	r->db = gwt_store_locator(r->dir);
	cr_assert_not_null(r->db, "store locator");
	sopen(r, retention);
}

static void sfini(struct srig *r)
{
	osh_gw_store_destroy(r->st);
	free(r->db);
	gwt_rmdir(r->dir);
}

static void add_sandbox(struct srig *r, const char *id, const char *name)
{
	struct osh_gw_sandbox sb;
	char pol[] = {0x08, 0x01, 0x00, 0x12};
	char nm[64], cmd[] = "[\"sh\",\"-c\",\"true\"]", ld[] = "/tmp/logs";

	memset(&sb, 0, sizeof(sb));
	snprintf(sb.id, sizeof(sb.id), "%s", id);
	snprintf(nm, sizeof(nm), "%s", name);
	sb.name = nm;
	sb.policy = pol;
	sb.policy_len = sizeof(pol);
	sb.policy_version = 1;
	snprintf(sb.policy_hash, sizeof(sb.policy_hash), "abc123");
	sb.command = cmd;
	sb.log_dir = ld;
	sb.state = OSH_GW_SB_CREATED;
	sb.created_ms = 1000;
	cr_assert_eq(osh_gw_store_sandbox_insert(r->st, &sb), 0, "%s", osh_gw_store_errmsg(r->st));
}

Test(gw_store, migrates_from_empty_and_reopens)
{
	struct srig r;
	int v = -1;
	uint64_t rev = 0;
	char *snap = NULL;

	sinit(&r, 0);
	cr_assert_eq(osh_gw_store_schema_version(r.st, &v), 0);
	cr_assert_eq(v, OSH_GW_STORE_SCHEMA_VERSION);
	cr_assert_eq(osh_gw_store_config_load(r.st, &rev, &snap), OSH_ENOTFOUND);
	cr_assert_eq(osh_gw_store_config_save(r.st, 7, "k=v\n"), 0);
	osh_gw_store_destroy(r.st);
	sopen(&r, 0);
	cr_assert_eq(osh_gw_store_schema_version(r.st, &v), 0);
	cr_assert_eq(v, OSH_GW_STORE_SCHEMA_VERSION);
	cr_assert_eq(osh_gw_store_config_load(r.st, &rev, &snap), 0);
	cr_assert_eq(rev, 7);
	cr_assert_str_eq(snap, "k=v\n");
	free(snap);
	sfini(&r);
}

Test(gw_store, refuses_newer_schema)
{
	struct srig r;
	struct osh_gw_store *st2 = NULL;
	char err[256] = "";

	sinit(&r, 0);
	osh_gw_store_destroy(r.st);
	r.st = NULL;
	cr_assert_eq(gwt_store_exec(r.db,
				    gwt_store_is_pg()
					? "UPDATE schema_version SET version = 99 WHERE id = 1"
					: "PRAGMA user_version = 99",
				    err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(osh_gw_store_create(&st2, r.db, NULL, err, sizeof(err)), OSH_ESTATE);
	cr_assert_null(st2);
	cr_assert(strstr(err, "99") != NULL, "%s", err);
	sfini(&r);
}

Test(gw_store, sandboxes_crud)
{
	struct srig r;
	struct osh_gw_sandbox sb, *list = NULL;
	size_t n = 0;

	sinit(&r, 0);
	add_sandbox(&r, "id-1", "alpha");
	add_sandbox(&r, "id-2", "beta");
	{
		struct osh_gw_sandbox dup;
		char alpha[] = "alpha";

		memset(&dup, 0, sizeof(dup));
		snprintf(dup.id, sizeof(dup.id), "id-3");
		dup.name = alpha;
		cr_assert_eq(osh_gw_store_sandbox_insert(r.st, &dup), OSH_EEXIST);
		cr_assert(strstr(osh_gw_store_errmsg(r.st), "alpha") != NULL);
	}
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "beta", true, &sb), 0);
	cr_assert_str_eq(sb.id, "id-2");
	cr_assert_eq(sb.policy_len, 4);
	cr_assert_eq(((unsigned char *)sb.policy)[3], 0x12);
	cr_assert_str_eq(sb.command, "[\"sh\",\"-c\",\"true\"]");
	cr_assert_eq(sb.policy_version, 1);
	osh_gw_sandbox_fini(&sb);
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "nope", false, &sb), OSH_ENOTFOUND);

	cr_assert_eq(osh_gw_store_sandbox_set_state(r.st, "id-1", OSH_GW_SB_EXITED, 0, 3, 0), 0);
	cr_assert_eq(osh_gw_store_sandbox_set_state(r.st, "zzz", OSH_GW_SB_EXITED, 0, 3, 0),
		     OSH_ENOTFOUND);
	cr_assert_eq(osh_gw_store_sandbox_list(r.st, &list, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(list[0].name, "alpha");
	cr_assert_eq(list[0].state, OSH_GW_SB_EXITED);
	cr_assert_eq(list[0].exit_code, 3);
	cr_assert_str_eq(list[1].name, "beta");
	osh_gw_sandbox_list_free(list, n);

	cr_assert_eq(osh_gw_store_sandbox_delete(r.st, "id-1"), 0);
	cr_assert_eq(osh_gw_store_sandbox_delete(r.st, "id-1"), OSH_ENOTFOUND);
	cr_assert_eq(osh_gw_store_sandbox_list(r.st, &list, &n), 0);
	cr_assert_eq(n, 1);
	osh_gw_sandbox_list_free(list, n);
	sfini(&r);
}

struct collect {
	size_t n;
	char msgs[64][64];
	uint64_t seqs[64];
};

static int collect_fn(void *ud, const struct osh_gw_logline *l)
{
	struct collect *c = ud;

	if (c->n < 64) {
		snprintf(c->msgs[c->n], sizeof(c->msgs[0]), "%s", l->message);
		c->seqs[c->n] = l->seq;
	}
	c->n++;
	return 0;
}

static void append_n(struct srig *r, const char *id, int from, int count, const char *level,
		     const char *source, int64_t ts)
{
	struct osh_gw_logline *lines = calloc((size_t)count, sizeof(*lines));
	char(*msg)[32] = calloc((size_t)count, sizeof(*msg));

	for (int i = 0; i < count; i++) {
		snprintf(msg[i], sizeof(msg[i]), "line %d", from + i);
		lines[i].ts_ms = ts + i;
		lines[i].level = level;
		lines[i].target = "t";
		lines[i].message = msg[i];
		lines[i].source = source;
		lines[i].fields = "{\"k\":\"v\"}";
	}
	cr_assert_eq(osh_gw_store_logs_append(r->st, id, lines, (size_t)count, NULL), 0, "%s",
		     osh_gw_store_errmsg(r->st));
	free(lines);
	free(msg);
}

Test(gw_store, retention_bound_per_sandbox)
{
	struct srig r;
	struct collect c;
	struct osh_gw_logquery q = {.sandbox_id = "a", .tail = 3};
	size_t n = 0;

	sinit(&r, 100);
	add_sandbox(&r, "a", "a");
	add_sandbox(&r, "b", "b");
	for (int i = 0; i < 250; i += 25)
		append_n(&r, "a", i, 25, "INFO", "sandbox", 1000 + i);
	append_n(&r, "b", 0, 40, "INFO", "sandbox", 1);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 100);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "b", &n), 0);
	cr_assert_eq(n, 40, "another sandbox's lines are not trimmed");

	memset(&c, 0, sizeof(c));
	cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
	cr_assert_eq(c.n, 3);
	cr_assert_str_eq(c.msgs[0], "line 247");
	cr_assert_str_eq(c.msgs[2], "line 249");
	cr_assert_lt(c.seqs[0], c.seqs[1]);

	/* the oldest kept line is exactly line 150 */
	memset(&c, 0, sizeof(c));
	q.tail = 0;
	q.since_ms = 0;
	q.after_seq = 0;
	{
		struct osh_gw_logquery q2 = {.sandbox_id = "a", .tail = 0, .since_ms = 0};
		struct {
			size_t n;
			char first[32];
		} f = {0, ""};

		cr_assert_eq(osh_gw_store_logs_query(r.st, &q2, collect_fn, &c), 0);
		cr_assert_eq(c.n, 100);
		cr_assert_str_eq(c.msgs[0], "line 150");
		(void)f;
	}
	/* one batch bigger than the bound keeps only its newest lines */
	append_n(&r, "b", 1000, 150, "INFO", "sandbox", 5000);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "b", &n), 0);
	cr_assert_eq(n, 100);
	sfini(&r);
}

Test(gw_store, filters_level_source_since_tail_after)
{
	struct srig r;
	struct collect c;
	const char *only_gw[] = {"gateway"};
	const char *both[] = {"gateway", "sandbox"};
	struct osh_gw_logline ocsf[3] = {
	    {.ts_ms = 500,
	     .level = "OCSF",
	     .target = "ocsf",
	     .message = "NET:OPEN [HIGH] DENIED x",
	     .source = "sandbox"},
	    {.ts_ms = 501,
	     .level = "OCSF",
	     .target = "ocsf",
	     .message = "NET:OPEN [MED] ALLOWED y",
	     .source = "sandbox"},
	    {.ts_ms = 502,
	     .level = "OCSF",
	     .target = "ocsf",
	     .message = "NET:OPEN [INFO] ALLOWED z",
	     .source = "sandbox"},
	};
	uint64_t seqs[3];

	sinit(&r, 0);
	add_sandbox(&r, "a", "a");
	append_n(&r, "a", 0, 5, "DEBUG", "sandbox", 100);
	append_n(&r, "a", 5, 5, "WARN", "gateway", 200);
	append_n(&r, "a", 10, 5, "error", "sandbox", 300);
	cr_assert_eq(osh_gw_store_logs_append(r.st, "a", ocsf, 3, seqs), 0);
	cr_assert_lt(seqs[0], seqs[2]);

	{
		struct osh_gw_logquery q = {.sandbox_id = "a", .min_level = "warn"};

		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 12, "5 WARN + 5 error + OCSF HIGH + OCSF MED");
	}
	{
		struct osh_gw_logquery q = {.sandbox_id = "a", .min_level = "ERROR"};

		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 6);
		cr_assert_str_eq(c.msgs[5], "NET:OPEN [HIGH] DENIED x");
	}
	{
		struct osh_gw_logquery q = {.sandbox_id = "a", .sources = only_gw, .n_sources = 1};

		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 5);
		cr_assert_str_eq(c.msgs[0], "line 5");
		q.sources = both;
		q.n_sources = 2;
		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 18);
	}
	{
		struct osh_gw_logquery q = {.sandbox_id = "a", .since_ms = 302, .tail = 2};

		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 2);
		cr_assert_str_eq(c.msgs[0], "NET:OPEN [MED] ALLOWED y");
		q.tail = 0;
		q.after_seq = seqs[1];
		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 1);
		cr_assert_eq(c.seqs[0], seqs[2]);
	}
	{
		struct osh_gw_logquery q = {.sandbox_id = "a", .min_level = "loud"};

		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), OSH_EINVAL);
		cr_assert(strstr(osh_gw_store_errmsg(r.st), "loud") != NULL);
	}
	/* the in-memory matcher agrees with SQL */
	{
		const char *src[] = {"sandbox"};
		struct osh_gw_logquery q = {
		    .sandbox_id = "a", .min_level = "WARN", .sources = src, .n_sources = 1};

		cr_assert(osh_gw_logquery_match(&q, &ocsf[0]));
		cr_assert(osh_gw_logquery_match(&q, &ocsf[1]));
		cr_assert(!osh_gw_logquery_match(&q, &ocsf[2]));
		q.since_ms = 501;
		cr_assert(!osh_gw_logquery_match(&q, &ocsf[0]));
	}
	sfini(&r);
}

Test(gw_store, unknown_sandbox_and_delete_cascade_and_persistence)
{
	struct srig r;
	struct osh_gw_logline l = {
	    .ts_ms = 1, .level = "INFO", .message = "m", .source = "sandbox"};
	struct osh_gw_sandbox sb;
	size_t n = 0;

	sinit(&r, 0);
	cr_assert_eq(osh_gw_store_logs_append(r.st, "ghost", &l, 1, NULL), OSH_ENOTFOUND);
	add_sandbox(&r, "a", "a");
	add_sandbox(&r, "b", "b");
	append_n(&r, "a", 0, 30, "INFO", "sandbox", 1);
	append_n(&r, "b", 0, 10, "INFO", "sandbox", 1);
	cr_assert_eq(osh_gw_store_sandbox_set_state(r.st, "b", OSH_GW_SB_RUNNING, 4242, 0, 0), 0);

	osh_gw_store_destroy(r.st);
	sopen(&r, 0);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 30);
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "b", false, &sb), 0);
	cr_assert_eq(sb.state, OSH_GW_SB_RUNNING);
	cr_assert_eq(sb.pid, 4242);
	osh_gw_sandbox_fini(&sb);

	cr_assert_eq(osh_gw_store_sandbox_delete(r.st, "a"), 0);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 0);
	{
		struct collect c;
		struct osh_gw_logquery q = {.sandbox_id = "a"};

		memset(&c, 0, sizeof(c));
		cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
		cr_assert_eq(c.n, 0, "lines went with the sandbox");
	}
	cr_assert_eq(osh_gw_store_logs_count(r.st, "b", &n), 0);
	cr_assert_eq(n, 10);
	sfini(&r);
}

Test(gw_store, level_rank_table)
{
	cr_assert_eq(osh_gw_level_rank("TRACE", NULL), 0);
	cr_assert_eq(osh_gw_level_rank("debug", NULL), 1);
	cr_assert_eq(osh_gw_level_rank("INFO", NULL), 2);
	cr_assert_eq(osh_gw_level_rank("Warn", NULL), 3);
	cr_assert_eq(osh_gw_level_rank("ERROR", NULL), 4);
	cr_assert_eq(osh_gw_level_rank("OCSF", "PROC:LAUNCH [INFO] sh(1)"), 2);
	cr_assert_eq(osh_gw_level_rank("OCSF", "FINDING:BLOCKED [CRIT] \"x\""), 4);
	cr_assert_eq(osh_gw_level_rank("OCSF", "NET:OPEN [MED] ALLOWED"), 3);
	cr_assert_eq(osh_gw_level_rank("OCSF", "no tag"), 2);
	cr_assert_eq(osh_gw_level_rank("whatever", NULL), 2);
	cr_assert_eq(osh_gw_level_parse("warning"), 3);
	cr_assert_eq(osh_gw_level_parse("nope"), -1);
}

static int count_cb(void *ud, const struct osh_gw_logline *l)
{
	char *seen = ud;

	/* messages are "m<N>": record each N once per stored copy */
	seen[strtol(l->message + 1, NULL, 10)]++;
	return 0;
}

/* F11: numbered lines at or below the push mark are duplicates; the mark moves
 * in the same transaction as the lines and survives a reopen (a kill -9). */
Test(gw_store, acknowledged_push_skips_duplicates_across_reopen)
{
	struct srig r;
	struct osh_gw_logline l[8];
	struct osh_gw_push_result res;
	char msgs[8][8], seen[32];
	uint64_t seqs[8], mark = 99;
	struct osh_gw_logquery q = {.sandbox_id = "p1"};

	sinit(&r, 1000);
	add_sandbox(&r, "p1", "push1");
	cr_assert_eq(osh_gw_store_push_mark(r.st, "p1", &mark), 0);
	cr_assert_eq(mark, 0, "no numbered line yet");
	memset(l, 0, sizeof(l));
	for (int i = 0; i < 8; i++) {
		l[i].ts_ms = 5;
		l[i].level = "INFO";
		l[i].target = "t";
		l[i].source = "sandbox";
	}
	/* seqs 1..5 */
	for (int i = 0; i < 5; i++) {
		snprintf(msgs[i], sizeof(msgs[i]), "m%d", i + 1);
		l[i].message = msgs[i];
		l[i].push_seq = (uint64_t)i + 1;
	}
	cr_assert_eq(osh_gw_store_logs_push(r.st, "p1", l, 5, 5, seqs, &res), 0);
	cr_assert_eq(res.stored, 5);
	cr_assert_eq(res.duplicates, 0);
	cr_assert_eq(res.acked_seq, 5);
	/* reopen, then resend 3..8 (3 duplicates) */
	osh_gw_store_destroy(r.st);
	sopen(&r, 1000);
	for (int i = 0; i < 6; i++) {
		snprintf(msgs[i], sizeof(msgs[i]), "m%d", i + 3);
		l[i].message = msgs[i];
		l[i].push_seq = (uint64_t)i + 3;
	}
	cr_assert_eq(osh_gw_store_logs_push(r.st, "p1", l, 6, 8, seqs, &res), 0);
	cr_assert_eq(res.stored, 3);
	cr_assert_eq(res.duplicates, 3);
	cr_assert_eq(res.acked_seq, 8);
	cr_assert_eq(seqs[0], 0, "a duplicate gets no store seq");
	cr_assert_neq(seqs[5], 0);
	/* refused lines (only the mark moves) and unnumbered lines (never
	 * duplicates) */
	cr_assert_eq(osh_gw_store_logs_push(r.st, "p1", l, 0, 12, NULL, &res), 0);
	cr_assert_eq(res.acked_seq, 12);
	l[0].push_seq = 0;
	snprintf(msgs[0], sizeof(msgs[0]), "m20");
	cr_assert_eq(osh_gw_store_logs_append(r.st, "p1", l, 1, NULL), 0);
	cr_assert_eq(osh_gw_store_logs_append(r.st, "p1", l, 1, NULL), 0);
	memset(seen, 0, sizeof(seen));
	cr_assert_eq(osh_gw_store_logs_query(r.st, &q, count_cb, seen), 0);
	for (int i = 1; i <= 8; i++)
		cr_assert_eq(seen[i], 1, "line m%d stored %d times", i, seen[i]);
	cr_assert_eq(seen[20], 2);
	cr_assert_eq(osh_gw_store_push_mark(r.st, "p1", &mark), 0);
	cr_assert_eq(mark, 12);
	/* unknown sandbox */
	cr_assert_eq(osh_gw_store_logs_push(r.st, "nope", l, 1, 1, NULL, &res), OSH_ENOTFOUND);
	sfini(&r);
}

/* Byte retention (F3): lines of very different sizes are bounded by bytes as
 * well as by count; the newest lines are kept. */
Test(gw_store, byte_retention_bound_per_sandbox)
{
	enum { LEN = 1000, N = 200 };
	struct srig r;
	struct osh_gw_store_opts o = {.log_retention = 1000, .log_retention_bytes = 64 * 1024};
	struct osh_gw_logline lines[N];
	struct collect c;
	struct osh_gw_logquery q = {.sandbox_id = "a", .tail = 1};
	char *msg = malloc(LEN + 1), err[256];
	/* what one line costs: its text plus 64 */
	size_t per_line = 64 + strlen("INFO") + strlen("t") + LEN + strlen("sandbox"), n = 0;

	r.dir = gwt_tmpdir();
	r.db = gwt_store_locator(r.dir);
	cr_assert_not_null(r.db, "store locator");
	cr_assert_eq(osh_gw_store_create(&r.st, r.db, &o, err, sizeof(err)), 0, "%s", err);
	add_sandbox(&r, "a", "a");
	add_sandbox(&r, "b", "b");
	memset(msg, 'm', LEN);
	msg[LEN] = '\0';
	for (int i = 0; i < N; i++)
		lines[i] = (struct osh_gw_logline){.ts_ms = i,
						   .level = "INFO",
						   .target = "t",
						   .message = msg,
						   .source = "sandbox"};
	for (int i = 0; i < N; i += 20)
		cr_assert_eq(osh_gw_store_logs_append(r.st, "a", lines + i, 20, NULL), 0, "%s",
			     osh_gw_store_errmsg(r.st));
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, (64 * 1024) / per_line, "kept %zu lines of %zu bytes", n, per_line);
	memset(&c, 0, sizeof(c));
	cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_fn, &c), 0);
	cr_assert_eq(c.n, 1);
	/* small lines in another sandbox: the line bound applies, not bytes */
	append_n(&r, "b", 0, 50, "INFO", "sandbox", 1);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "b", &n), 0);
	cr_assert_eq(n, 50);
	free(msg);
	sfini(&r);
}

/* A version-1 database of each dialect, with ten 1000-byte lines of sandbox a. */
#define V1_SQLITE                                                                                  \
	"CREATE TABLE sandboxes (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                  \
	" policy BLOB, policy_version INTEGER NOT NULL DEFAULT 0,"                                 \
	" policy_hash TEXT NOT NULL DEFAULT '', command TEXT, log_dir TEXT,"                       \
	" state INTEGER NOT NULL, pid INTEGER NOT NULL DEFAULT 0,"                                 \
	" exit_code INTEGER NOT NULL DEFAULT 0,"                                                   \
	" exit_signal INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"                   \
	"CREATE TABLE config_state (id INTEGER PRIMARY KEY CHECK (id = 1),"                        \
	" revision INTEGER NOT NULL, snapshot TEXT NOT NULL,"                                      \
	" updated_ms INTEGER NOT NULL);"                                                           \
	"CREATE TABLE log_lines (seq INTEGER PRIMARY KEY AUTOINCREMENT,"                           \
	" sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,"                    \
	" ts_ms INTEGER NOT NULL, level TEXT NOT NULL,"                                            \
	" level_rank INTEGER NOT NULL, target TEXT NOT NULL,"                                      \
	" message TEXT NOT NULL, source TEXT NOT NULL, fields TEXT);"                              \
	"CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq);"                        \
	"CREATE TABLE log_counts (sandbox_id TEXT PRIMARY KEY"                                     \
	" REFERENCES sandboxes(id) ON DELETE CASCADE, n INTEGER NOT NULL);"                        \
	"INSERT INTO sandboxes(id, name, state, created_ms)"                                       \
	" VALUES ('a', 'a', 0, 1);"                                                                \
	"WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"                           \
	" WHERE i < 10) INSERT INTO log_lines(sandbox_id, ts_ms, level,"                           \
	" level_rank, target, message, source) SELECT 'a', i, 'INFO', 2, 't',"                     \
	" printf('%.1000c', 'x'), 'sandbox' FROM k;"                                               \
	"INSERT INTO log_counts VALUES ('a', 10);"                                                 \
	"PRAGMA user_version = 1;"
#define V1_PG                                                                                      \
	"CREATE TABLE schema_version (id INTEGER PRIMARY KEY CHECK (id = 1),"                      \
	" version INTEGER NOT NULL);"                                                              \
	"INSERT INTO schema_version VALUES (1, 1);"                                                \
	"CREATE TABLE sandboxes (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"                  \
	" policy BYTEA, policy_version BIGINT NOT NULL DEFAULT 0,"                                 \
	" policy_hash TEXT NOT NULL DEFAULT '', command TEXT, log_dir TEXT,"                       \
	" state INTEGER NOT NULL, pid INTEGER NOT NULL DEFAULT 0,"                                 \
	" exit_code INTEGER NOT NULL DEFAULT 0, exit_signal INTEGER NOT NULL DEFAULT 0,"           \
	" created_ms BIGINT NOT NULL, rowid BIGSERIAL UNIQUE);"                                    \
	"CREATE TABLE config_state (id INTEGER PRIMARY KEY CHECK (id = 1),"                        \
	" revision BIGINT NOT NULL, snapshot TEXT NOT NULL, updated_ms BIGINT NOT NULL);"          \
	"CREATE TABLE log_lines (seq BIGSERIAL PRIMARY KEY,"                                       \
	" sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,"                    \
	" ts_ms BIGINT NOT NULL, level TEXT NOT NULL, level_rank INTEGER NOT NULL,"                \
	" target TEXT NOT NULL, message TEXT NOT NULL, source TEXT NOT NULL, fields TEXT);"        \
	"CREATE INDEX log_lines_sandbox_seq ON log_lines(sandbox_id, seq);"                        \
	"CREATE TABLE log_counts (sandbox_id TEXT PRIMARY KEY"                                     \
	" REFERENCES sandboxes(id) ON DELETE CASCADE, n BIGINT NOT NULL);"                         \
	"INSERT INTO sandboxes(id, name, state, created_ms) VALUES ('a', 'a', 0, 1);"              \
	"INSERT INTO log_lines(sandbox_id, ts_ms, level, level_rank, target, message, source)"     \
	" SELECT 'a', i, 'INFO', 2, 't', repeat('x', 1000), 'sandbox'"                             \
	" FROM generate_series(1, 10) AS i;"                                                       \
	"INSERT INTO log_counts VALUES ('a', 10);"

/* A version-1 database (no byte counts) is migrated: byte counts are filled
 * from the stored lines, so byte retention applies to old data at once. */
Test(gw_store, migrates_v1_byte_counts)
{
	struct srig r;
	struct osh_gw_store_opts o = {.log_retention = 1000, .log_retention_bytes = 4096};
	char err[256];
	size_t n = 0;
	int v = 0;

	r.dir = gwt_tmpdir();
	r.db = gwt_store_locator(r.dir);
	cr_assert_not_null(r.db, "store locator");
	cr_assert_eq(gwt_store_exec(r.db, gwt_store_is_pg() ? V1_PG : V1_SQLITE, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(osh_gw_store_create(&r.st, r.db, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(osh_gw_store_schema_version(r.st, &v), 0);
	cr_assert_eq(v, OSH_GW_STORE_SCHEMA_VERSION);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 10, "migration keeps the lines");
	{
		struct osh_gw_sandbox sb;
		char d[OSH_GW_CRED_DIGEST_HEX + 1];

		cr_assert_eq(osh_gw_store_sandbox_get(r.st, "a", false, &sb), 0);
		cr_assert_str_eq(sb.labels, "", "an old sandbox has no labels");
		osh_gw_sandbox_fini(&sb);
		cr_assert_eq(osh_gw_store_cred_get(r.st, "a", d), OSH_ENOTFOUND,
			     "and no credential in the store");
	}
	/* the next append trims to 4 KiB: 3 lines of ~1.1 KB (old ones counted) */
	append_n(&r, "a", 0, 1, "INFO", "sandbox", 100);
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 4, "kept %zu", n);
	sfini(&r);
}

/* The config revision is assigned by the database: 1 first, unchanged for the
 * same snapshot, +1 for a different one, and it survives a reopen. */
Test(gw_store, config_advance_assigns_revisions)
{
	struct srig r;
	uint64_t rev = 0;
	char *snap = NULL;

	sinit(&r, 0);
	cr_assert_eq(osh_gw_store_config_advance(r.st, "a=1\n", &rev), 0);
	cr_assert_eq(rev, 1);
	cr_assert_eq(osh_gw_store_config_advance(r.st, "a=1\n", &rev), 0);
	cr_assert_eq(rev, 1, "same snapshot keeps its revision");
	cr_assert_eq(osh_gw_store_config_advance(r.st, "a=2\n", &rev), 0);
	cr_assert_eq(rev, 2);
	osh_gw_store_destroy(r.st);
	sopen(&r, 0);
	cr_assert_eq(osh_gw_store_config_load(r.st, &rev, &snap), 0);
	cr_assert_eq(rev, 2);
	cr_assert_str_eq(snap, "a=2\n");
	free(snap);
	cr_assert_str_eq(osh_gw_store_kind(r.st), gwt_store_is_pg() ? "postgresql" : "sqlite");
	sfini(&r);
}

struct cfg_worker {
	const char *locator;
	char tag;
	uint64_t revs[100];
	int rc;
};

static void *cfg_worker_run(void *arg)
{
	struct cfg_worker *w = arg;
	struct osh_gw_store *st = NULL;
	char err[256], snap[32];

	w->rc = osh_gw_store_create(&st, w->locator, NULL, err, sizeof(err));
	for (int i = 0; w->rc == 0 && i < 100; i++) {
		snprintf(snap, sizeof(snap), "%c=%d\n", w->tag, i);
		w->rc = osh_gw_store_config_advance(st, snap, &w->revs[i]);
	}
	osh_gw_store_destroy(st);
	return NULL;
}

/* Two connections (two gateways) change the config at once, 100 rounds each,
 * every snapshot distinct: each sees strictly increasing revisions and
 * together they use 1..200 exactly once (never backwards, never forked). */
Test(gw_store, concurrent_config_one_sequence, .timeout = 120)
{
	struct srig r;
	struct cfg_worker w[2] = {{.tag = 'a'}, {.tag = 'b'}};
	pthread_t t[2];
	bool seen[201] = {false};

	sinit(&r, 0);
	for (int k = 0; k < 2; k++) {
		w[k].locator = r.db;
		cr_assert_eq(pthread_create(&t[k], NULL, cfg_worker_run, &w[k]), 0);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(w[k].rc, 0, "worker %d: %d", k, w[k].rc);
		for (int i = 0; i < 100; i++) {
			uint64_t v = w[k].revs[i];

			cr_assert(v >= 1 && v <= 200, "revision %llu", (unsigned long long)v);
			cr_assert(!seen[v], "revision %llu given twice", (unsigned long long)v);
			seen[v] = true;
			if (i > 0)
				cr_assert_gt(v, w[k].revs[i - 1]);
		}
	}
	sfini(&r);
}

struct log_worker {
	const char *locator;
	int rc;
};

static void *log_worker_run(void *arg)
{
	struct log_worker *w = arg;
	struct osh_gw_store *st = NULL;
	struct osh_gw_store_opts o = {.log_retention = 100};
	struct osh_gw_logline lines[10];
	char err[256];

	for (int i = 0; i < 10; i++)
		lines[i] = (struct osh_gw_logline){.ts_ms = i,
						   .level = "INFO",
						   .target = "t",
						   .message = "m",
						   .source = "sandbox"};
	w->rc = osh_gw_store_create(&st, w->locator, &o, err, sizeof(err));
	for (int i = 0; w->rc == 0 && i < 40; i++)
		w->rc = osh_gw_store_logs_append(st, "a", lines, 10, NULL);
	osh_gw_store_destroy(st);
	return NULL;
}

/* Sandboxes are shared by every connection, and batches appended to one
 * sandbox through two connections at once keep retention exact: the counter
 * and the rows agree and equal the bound. */
Test(gw_store, two_connections_share_sandboxes_and_exact_retention, .timeout = 120)
{
	struct srig r, r2;
	struct log_worker w[2];
	pthread_t t[2];
	struct osh_gw_sandbox sb;
	struct osh_gw_logquery q = {.sandbox_id = "a"};
	uint64_t matching = 0;
	size_t n = 0;

	sinit(&r, 100);
	r2 = r;
	sopen(&r2, 100);
	add_sandbox(&r, "a", "alpha");
	cr_assert_eq(osh_gw_store_sandbox_get(r2.st, "alpha", true, &sb), 0,
		     "created through one, seen through the other");
	cr_assert_eq(sb.policy_len, 4);
	osh_gw_sandbox_fini(&sb);
	for (int k = 0; k < 2; k++) {
		w[k].locator = r.db;
		cr_assert_eq(pthread_create(&t[k], NULL, log_worker_run, &w[k]), 0);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	for (int k = 0; k < 2; k++)
		cr_assert_eq(w[k].rc, 0, "worker %d: %d", k, w[k].rc);
	cr_assert_eq(osh_gw_store_logs_count(r2.st, "a", &n), 0);
	cr_assert_eq(n, 100);
	cr_assert_eq(osh_gw_store_logs_matching(r.st, &q, &matching), 0);
	cr_assert_eq(matching, 100, "rows: %llu", (unsigned long long)matching);
	cr_assert_eq(osh_gw_store_sandbox_delete(r2.st, "a"), 0);
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "a", false, &sb), OSH_ENOTFOUND);
	osh_gw_store_destroy(r2.st);
	sfini(&r);
}

/* A big line after many small ones frees more rows than one trim chunk (64):
 * the walk continues chunk after chunk until the byte bound holds. */
Test(gw_store, byte_trim_spans_several_chunks)
{
	struct srig r;
	struct osh_gw_store_opts o = {.log_retention = 10000, .log_retention_bytes = 40000};
	struct osh_gw_logline small[100], big;
	struct osh_gw_logquery q = {.sandbox_id = "a"};
	char err[256], *huge = malloc(30001);
	uint64_t matching = 0;
	size_t n = 0;

	cr_assert_not_null(huge);
	memset(huge, 'x', 30000);
	huge[30000] = '\0';
	r.dir = gwt_tmpdir();
	r.db = gwt_store_locator(r.dir);
	cr_assert_not_null(r.db);
	cr_assert_eq(osh_gw_store_create(&r.st, r.db, &o, err, sizeof(err)), 0, "%s", err);
	add_sandbox(&r, "a", "a");
	for (int i = 0; i < 100; i++)
		small[i] = (struct osh_gw_logline){.ts_ms = i,
						   .level = "INFO",
						   .target = "t",
						   .message = "m",
						   .source = "sandbox"};
	/* 300 lines of 64 + 13 = 77 bytes: 23,100 bytes */
	for (int k = 0; k < 3; k++)
		cr_assert_eq(osh_gw_store_logs_append(r.st, "a", small, 100, NULL), 0);
	big = small[0];
	big.message = huge;
	cr_assert_eq(osh_gw_store_logs_append(r.st, "a", &big, 1, NULL), 0, "%s",
		     osh_gw_store_errmsg(r.st));
	/* 30,076 + 77 * m <= 40,000 -> m = 128 small lines kept (172 trimmed:
	 * three chunks) + the big one */
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 129, "kept %zu", n);
	cr_assert_eq(osh_gw_store_logs_matching(r.st, &q, &matching), 0);
	cr_assert_eq(matching, 129);
	free(huge);
	sfini(&r);
}

static void add_labelled(struct srig *r, const char *id, const char *labels)
{
	struct osh_gw_sandbox sb;
	char nm[64], lab[256];

	memset(&sb, 0, sizeof(sb));
	snprintf(sb.id, sizeof(sb.id), "%s", id);
	snprintf(nm, sizeof(nm), "n-%s", id);
	snprintf(lab, sizeof(lab), "%s", labels ? labels : "");
	sb.name = nm;
	sb.labels = labels ? lab : NULL;
	sb.state = OSH_GW_SB_CREATED;
	sb.created_ms = 1000;
	cr_assert_eq(osh_gw_store_sandbox_insert(r->st, &sb), 0, "%s", osh_gw_store_errmsg(r->st));
}

/* Every page of a selector, following the last rowid as the service does. */
static size_t select_all(struct srig *r, const char *sel, size_t page, char ids[][40], size_t cap)
{
	int64_t after = 0;
	size_t total = 0, pages = 0;

	for (;;) {
		struct osh_gw_sandbox *arr = NULL;
		size_t n = 0;

		cr_assert_eq(osh_gw_store_sandbox_page_sel(r->st, after, page, sel, &arr, &n), 0,
			     "%s", osh_gw_store_errmsg(r->st));
		cr_assert_leq(n, page);
		for (size_t i = 0; i < n; i++) {
			cr_assert_lt(total, cap);
			cr_assert_gt(arr[i].rowid, after, "pages advance");
			snprintf(ids[total++], 40, "%s", arr[i].id);
		}
		after = n ? arr[n - 1].rowid : after;
		osh_gw_sandbox_list_free(arr, n);
		cr_assert_lt(++pages, 1000, "bounded");
		if (n < page)
			break;
	}
	return total;
}

/* Labels are stored in their canonical text, read back by get/list/page, and
 * a selector returns exactly the sandboxes holding all of its labels, in
 * creation order, across pages and across the 64-row chunks of the walk. */
Test(gw_store, labels_stored_and_selected)
{
	struct srig r;
	struct osh_gw_sandbox sb, *list = NULL;
	char ids[200][40], id[40], bad[] = "b=1\na=2\n", badname[] = "badname";
	size_t n = 0, k;

	sinit(&r, 0);
	for (int i = 0; i < 150; i++) {
		char lab[96];

		snprintf(id, sizeof(id), "s%03d", i);
		snprintf(lab, sizeof(lab), "%sapp=%s\nzone=eu-%d\n",
			 i % 3 == 0 ? "a.b/c=x=y\n" : "", i % 2 ? "web" : "db", i % 5);
		add_labelled(&r, id, lab);
	}
	add_labelled(&r, "s150", NULL);
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "s003", false, &sb), 0);
	cr_assert_str_eq(sb.labels, "a.b/c=x=y\napp=web\nzone=eu-3\n");
	osh_gw_sandbox_fini(&sb);
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "n-s150", true, &sb), 0);
	cr_assert_str_eq(sb.labels, "", "no labels read back as empty");
	osh_gw_sandbox_fini(&sb);
	cr_assert_eq(osh_gw_store_sandbox_list(r.st, &list, &n), 0);
	cr_assert_eq(n, 151);
	cr_assert_str_eq(list[10].labels, "app=db\nzone=eu-0\n");
	osh_gw_sandbox_list_free(list, n);

	/* one label: every odd sandbox, 75, in creation order, pages of 7 */
	k = select_all(&r, "app=web\n", 7, ids, 200);
	cr_assert_eq(k, 75);
	for (size_t i = 0; i < k; i++) {
		snprintf(id, sizeof(id), "s%03zu", 2 * i + 1);
		cr_assert_str_eq(ids[i], id);
	}
	/* two labels: i % 6 == 3 (i%3==0 and odd): 3, 9, ... 147 -> 25 */
	k = select_all(&r, "a.b/c=x=y\napp=web\n", 2, ids, 200);
	cr_assert_eq(k, 25);
	cr_assert_str_eq(ids[0], "s003");
	cr_assert_str_eq(ids[24], "s147");
	/* three labels, sparse (one row in 30) with a page of 1 */
	k = select_all(&r, "a.b/c=x=y\napp=web\nzone=eu-4\n", 1, ids, 200);
	cr_assert_eq(k, 5, "got %zu", k);
	cr_assert_str_eq(ids[0], "s009");
	/* a value that is a prefix of a stored one does not match */
	cr_assert_eq(select_all(&r, "zone=eu-\n", 500, ids, 200), 0);
	cr_assert_eq(select_all(&r, "app=we\n", 500, ids, 200), 0);
	cr_assert_eq(select_all(&r, "pp=web\n", 500, ids, 200), 0, "no match inside a key");
	/* no selector: all */
	cr_assert_eq(select_all(&r, NULL, 64, ids, 200), 151);
	cr_assert_eq(select_all(&r, "", 500, ids, 200), 151);

	/* text that is not canonical is refused, naming the sandbox */
	memset(&sb, 0, sizeof(sb));
	snprintf(sb.id, sizeof(sb.id), "bad");
	sb.name = badname;
	sb.labels = bad;
	cr_assert_eq(osh_gw_store_sandbox_insert(r.st, &sb), OSH_EINVAL);
	cr_assert(strstr(osh_gw_store_errmsg(r.st), "sandbox 'badname': labels") != NULL, "%s",
		  osh_gw_store_errmsg(r.st));
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "bad", false, &sb), OSH_ENOTFOUND);
	sfini(&r);
}

#define DIG_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIG_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* Credential digests live in the store: written through one connection,
 * read through another (another gateway), kept or replaced as asked, refused
 * when malformed or for an unknown sandbox, and deleted with the sandbox. */
Test(gw_store, credentials_shared_and_deleted_with_the_sandbox)
{
	struct srig r, r2;
	char d[OSH_GW_CRED_DIGEST_HEX + 1];
	bool stored = true;

	sinit(&r, 0);
	r2 = r;
	sopen(&r2, 0);
	add_sandbox(&r, "id-1", "alpha");
	cr_assert_eq(osh_gw_store_cred_get(r2.st, "id-1", d), OSH_ENOTFOUND);
	cr_assert_eq(osh_gw_store_cred_put(r.st, "id-1", DIG_A, true, &stored), 0, "%s",
		     osh_gw_store_errmsg(r.st));
	cr_assert(stored);
	cr_assert_eq(osh_gw_store_cred_get(r2.st, "id-1", d), 0, "%s", osh_gw_store_errmsg(r2.st));
	cr_assert_str_eq(d, DIG_A, "seen through the other connection");
	/* an import never overwrites */
	cr_assert_eq(osh_gw_store_cred_put(r2.st, "id-1", DIG_B, false, &stored), 0);
	cr_assert(!stored);
	cr_assert_eq(osh_gw_store_cred_get(r.st, "id-1", d), 0);
	cr_assert_str_eq(d, DIG_A);
	/* a reissue does */
	cr_assert_eq(osh_gw_store_cred_put(r2.st, "id-1", DIG_B, true, &stored), 0);
	cr_assert(stored);
	cr_assert_eq(osh_gw_store_cred_get(r.st, "id-1", d), 0);
	cr_assert_str_eq(d, DIG_B);
	/* unknown sandbox: nothing stored */
	cr_assert_eq(osh_gw_store_cred_put(r.st, "nope", DIG_A, true, &stored), OSH_ENOTFOUND);
	cr_assert(!stored);
	cr_assert_eq(osh_gw_store_cred_put(r.st, "nope", DIG_A, false, &stored), 0);
	cr_assert(!stored);
	cr_assert_eq(osh_gw_store_cred_get(r.st, "nope", d), OSH_ENOTFOUND);
	/* malformed digests (upper case, short, the secret itself) */
	cr_assert_eq(osh_gw_store_cred_put(r.st, "id-1", "ABCDEF", true, &stored), OSH_EINVAL);
	cr_assert(strstr(osh_gw_store_errmsg(r.st), "64 lower-case hex") != NULL);
	cr_assert_eq(osh_gw_store_cred_put(
			 r.st, "id-1",
			 "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", true,
			 &stored),
		     OSH_EINVAL);
	cr_assert_eq(osh_gw_store_cred_get(r.st, "id-1", d), 0);
	cr_assert_str_eq(d, DIG_B, "a refused put changes nothing");
	/* deleted with the sandbox, through the other connection */
	cr_assert_eq(osh_gw_store_sandbox_delete(r2.st, "id-1"), 0);
	cr_assert_eq(osh_gw_store_cred_get(r.st, "id-1", d), OSH_ENOTFOUND);
	add_sandbox(&r, "id-1", "alpha");
	cr_assert_eq(osh_gw_store_cred_get(r.st, "id-1", d), OSH_ENOTFOUND,
		     "a new sandbox with the same id inherits nothing");
	osh_gw_store_destroy(r2.st);
	sfini(&r);
}

struct got_lines {
	size_t n;
	uint64_t seq[16];
	char *msg[16], *target[16], *fields[16];
};

static int collect_line(void *ud, const struct osh_gw_logline *l)
{
	struct got_lines *g = ud;

	if (g->n < 16) {
		g->seq[g->n] = l->seq;
		g->msg[g->n] = strdup(l->message);
		g->target[g->n] = strdup(l->target);
		g->fields[g->n] = l->fields ? strdup(l->fields) : NULL;
	}
	g->n++;
	return 0;
}

/* A push batch goes in as one statement on PostgreSQL (array literals): text
 * that needs escaping there (quotes, backslashes, braces, commas, the word
 * NULL, newlines, UTF-8) comes back byte for byte, absent fields stay NULL,
 * each line gets its own seq in batch order, and a duplicate in the middle of
 * a batch is skipped without shifting the seqs of the lines after it. */
Test(gw_store, push_batch_round_trips_text_and_seqs)
{
	static const char *const msgs[] = {
	    "plain",
	    "quote \" in it",
	    "back\\slash \\\" both",
	    "{brace},comma",
	    "NULL",
	    "new\nline\ttab",
	    "utf-8 \xc3\xa9\xe2\x82\xac",
	    "",
	    "trailing backslash \\",
	};
	enum { N = sizeof(msgs) / sizeof(msgs[0]) };
	struct osh_gw_logline lines[N];
	struct osh_gw_push_result res;
	struct osh_gw_logquery q = {.sandbox_id = "a"};
	struct got_lines g = {0};
	uint64_t seqs[N];
	struct srig r;

	sinit(&r, 0);
	add_sandbox(&r, "a", "alpha");
	for (size_t i = 0; i < N; i++)
		lines[i] = (struct osh_gw_logline){.ts_ms = (int64_t)i,
						   .level = "INFO",
						   .target = i % 2 ? "t\"x" : "t",
						   .message = msgs[i],
						   .source = "sandbox",
						   .fields = i % 3 ? "{\"k\":\"v\\\\\"}" : NULL,
						   .push_seq = i + 1};
	/* lines 1..3 are already held: line 4 (push_seq 4) onwards is new */
	cr_assert_eq(osh_gw_store_logs_push(r.st, "a", lines, 3, 0, NULL, &res), 0, "%s",
		     osh_gw_store_errmsg(r.st));
	cr_assert_eq(res.stored, 3);
	cr_assert_eq(osh_gw_store_logs_push(r.st, "a", lines, N, 0, seqs, &res), 0, "%s",
		     osh_gw_store_errmsg(r.st));
	cr_assert_eq(res.stored, N - 3);
	cr_assert_eq(res.duplicates, 3);
	cr_assert_eq(res.acked_seq, N);
	for (size_t i = 0; i < N; i++) {
		if (i < 3)
			cr_assert_eq(seqs[i], 0, "duplicate %zu got seq %llu", i,
				     (unsigned long long)seqs[i]);
		else if (i > 3)
			cr_assert_gt(seqs[i], seqs[i - 1], "seqs follow batch order");
	}
	cr_assert_eq(osh_gw_store_logs_query(r.st, &q, collect_line, &g), 0);
	cr_assert_eq(g.n, N);
	for (size_t i = 0; i < N; i++) {
		cr_assert_str_eq(g.msg[i], msgs[i], "line %zu", i);
		cr_assert_str_eq(g.target[i], lines[i].target);
		if (lines[i].fields)
			cr_assert_str_eq(g.fields[i], lines[i].fields);
		else
			cr_assert_null(g.fields[i], "line %zu: absent fields must stay NULL", i);
		if (i >= 3)
			cr_assert_eq(g.seq[i], seqs[i], "line %zu: reported seq is the stored one",
				     i);
		free(g.msg[i]);
		free(g.target[i]);
		free(g.fields[i]);
	}
	sfini(&r);
}

/* Resolution used by the config sync tests: the snapshot is the shared
 * values, "name=value\n" each, or "none\n". */
static int snap_of_values(void *ud, const struct osh_gw_cfg_value *vals, size_t n, char *snap,
			  size_t cap)
{
	size_t len = 0;

	(void)ud;
	snap[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(snap + len, cap - len, "%s=%s\n", vals[i].name, vals[i].value);
	if (n == 0)
		snprintf(snap, cap, "none\n");
	return 0;
}

/* Two connections on one database (two gateways): a value set through one is
 * read by the other once the generation moves; a set of the same value moves
 * nothing; each new snapshot gets the next revision, an unchanged one keeps
 * the caller's; removing a value moves the generation again. */
Test(gw_store, config_sync_shares_values_between_connections)
{
	struct srig r;
	struct osh_gw_store *b = NULL;
	struct osh_gw_cfg_sync in = {0};
	struct osh_gw_cfg_synced out;
	char err[256];
	uint64_t gen = 99;

	sinit(&r, 0);
	cr_assert_eq(osh_gw_store_create(&b, r.db, NULL, err, sizeof(err)), 0, "%s", err);
	/* start (published NULL): a fresh database gives revision 1 */
	cr_assert_eq(osh_gw_store_config_sync(r.st, &in, snap_of_values, NULL, &out), 0, "%s",
		     osh_gw_store_errmsg(r.st));
	cr_assert_eq(out.revision, 1);
	cr_assert(out.bumped);
	cr_assert_eq(osh_gw_store_config_gen(b, &gen), 0);
	cr_assert_eq(gen, 0);
	/* B starts with the same snapshot: keeps revision 1 */
	cr_assert_eq(osh_gw_store_config_sync(b, &in, snap_of_values, NULL, &out), 0);
	cr_assert_eq(out.revision, 1);
	cr_assert(!out.bumped);

	in.set_name = "k";
	in.set_value = "true";
	in.published = "none\n";
	in.published_rev = 1;
	cr_assert_eq(osh_gw_store_config_sync(r.st, &in, snap_of_values, NULL, &out), 0);
	cr_assert(out.value_changed);
	cr_assert(out.bumped);
	cr_assert_eq(out.revision, 2);
	cr_assert_eq(out.values_gen, 1);
	cr_assert_eq(osh_gw_store_config_gen(b, &gen), 0);
	cr_assert_eq(gen, 1, "B sees the generation move");

	/* B re-reads: its snapshot changed, so it takes the next revision */
	{
		struct osh_gw_cfg_sync rd = {.published = "none\n", .published_rev = 1};

		cr_assert_eq(osh_gw_store_config_sync(b, &rd, snap_of_values, NULL, &out), 0);
		cr_assert(out.bumped);
		cr_assert_eq(out.revision, 3);
		cr_assert_eq(out.values_gen, 1);
		/* and again: nothing new, its revision stays */
		rd.published = "k=true\n";
		rd.published_rev = 3;
		cr_assert_eq(osh_gw_store_config_sync(b, &rd, snap_of_values, NULL, &out), 0);
		cr_assert(!out.bumped);
		cr_assert_eq(out.revision, 3);
	}
	/* the same value again: no generation, no revision */
	in.published = "k=true\n";
	in.published_rev = 2;
	cr_assert_eq(osh_gw_store_config_sync(r.st, &in, snap_of_values, NULL, &out), 0);
	cr_assert(!out.value_changed);
	cr_assert(!out.bumped);
	cr_assert_eq(out.revision, 2);
	cr_assert_eq(out.values_gen, 1);
	/* removed through B */
	in.set_value = NULL;
	in.published_rev = 3;
	cr_assert_eq(osh_gw_store_config_sync(b, &in, snap_of_values, NULL, &out), 0);
	cr_assert(out.value_changed);
	cr_assert_eq(out.revision, 4);
	cr_assert_eq(out.values_gen, 2);
	cr_assert_eq(osh_gw_store_config_gen(r.st, &gen), 0);
	cr_assert_eq(gen, 2);
	osh_gw_store_destroy(b);
	sfini(&r);
}

static int json_fn(void *ud, const struct osh_gw_logline *l)
{
	char(*got)[64] = ud;
	size_t i = 0;

	while (got[i][0])
		i++;
	snprintf(got[i], sizeof(got[i]), "%s", l->ocsf_json ? l->ocsf_json : "(null)");
	return 0;
}

/* Issue 17: an event's OCSF JSON is stored with its line, counted in the
 * byte retention, survives a reopen, and a line without one reads NULL. */
Test(gw_store, ocsf_json_kept_with_the_line)
{
	struct srig r;
	struct osh_gw_logline l[2] = {
	    {.ts_ms = 1,
	     .level = "OCSF",
	     .target = "ocsf",
	     .message = "EVENT [INFO] hb",
	     .source = "sandbox",
	     .ocsf_json = "{\"class_uid\":0,\"metadata\":{\"uid\":\"u-1\"}}"},
	    {.ts_ms = 2, .level = "INFO", .target = "m", .message = "plain", .source = "sandbox"}};
	struct osh_gw_logquery q = {.sandbox_id = "a"};
	char got[4][64];

	sinit(&r, 0);
	add_sandbox(&r, "a", "a");
	cr_assert_eq(osh_gw_store_logs_append(r.st, "a", l, 2, NULL), 0, "%s",
		     osh_gw_store_errmsg(r.st));
	osh_gw_store_destroy(r.st);
	sopen(&r, 0);
	memset(got, 0, sizeof(got));
	cr_assert_eq(osh_gw_store_logs_query(r.st, &q, json_fn, got), 0);
	cr_assert_str_eq(got[0], "{\"class_uid\":0,\"metadata\":{\"uid\":\"u-1\"}}");
	cr_assert_str_eq(got[1], "(null)");
	sfini(&r);
}
