/* test_gw_store_outage.c - the store through a PostgreSQL outage.
 *
 * DESIGN
 * Its own binary (ctest test_gw_store_pg_outage, run inside a temporary
 * cluster by tests/support/pg_cluster.sh): the test stops and restarts the
 * cluster, so it must not share one with the other store tests, and a binary
 * of its own needs no --filter (Criterion reports filtered-out cases as
 * skipped, and CI treats a skip as a failure). The rig helpers are the same
 * as test_gw_store.c's.
 */
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

struct link_count {
	int down, up;
};

static void count_link(void *ud, bool up, const char *detail)
{
	struct link_count *c = ud;

	(void)detail;
	if (up)
		c->up++;
	else
		c->down++;
}

static int push_range(struct osh_gw_store *st, uint64_t first, uint64_t last,
		      struct osh_gw_push_result *res)
{
	struct osh_gw_logline lines[8];
	size_t n = 0;

	for (uint64_t s = first; s <= last && n < 8; s++, n++)
		lines[n] = (struct osh_gw_logline){.ts_ms = (int64_t)s,
						   .level = "INFO",
						   .target = "t",
						   .message = "m",
						   .source = "sandbox",
						   .push_seq = s};
	return osh_gw_store_logs_push(st, "a", lines, n, last, NULL, res);
}

/* PostgreSQL killed (immediate stop, like a crash) during pushes: writes fail
 * with OSH_EUNAVAIL and store nothing, the link callback hears of the outage
 * once; after a restart the store reconnects by itself (backoff), says so once,
 * and the resent batch is stored exactly once. Its own ctest entry
 * (test_gw_store_pg_outage): it stops the cluster the other tests use. */
Test(gw_store_outage, unavailable_then_reconnects, .timeout = 120)
{
	struct srig r;
	struct link_count lc = {0, 0};
	struct osh_gw_store_opts o = {.on_link = count_link, .link_ud = &lc};
	struct osh_gw_push_result res;
	char err[256];
	size_t n = 0;
	long long deadline;
	int rc;

	cr_assert(gwt_store_is_pg() && getenv("OSH_TEST_PG_STOP") && getenv("OSH_TEST_PG_START"),
		  "runs inside tests/support/pg_cluster.sh (ctest test_gw_store_pg_outage)");
	r.dir = gwt_tmpdir();
	r.db = gwt_store_locator(r.dir);
	cr_assert_not_null(r.db);
	cr_assert_eq(osh_gw_store_create(&r.st, r.db, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(lc.up, 1, "a new connection reports up");
	add_sandbox(&r, "a", "a");
	cr_assert_eq(push_range(r.st, 1, 3, &res), 0, "%s", osh_gw_store_errmsg(r.st));
	cr_assert_eq(res.stored, 3);

	cr_assert_eq(system(getenv("OSH_TEST_PG_STOP")), 0, "stop the cluster");
	rc = push_range(r.st, 4, 6, &res);
	cr_assert_eq(rc, OSH_EUNAVAIL, "rc %d: %s", rc, osh_gw_store_errmsg(r.st));
	cr_assert_eq(res.stored, 0);
	cr_assert_eq(push_range(r.st, 4, 6, &res), OSH_EUNAVAIL);
	cr_assert_eq(lc.down, 1, "one outage report, got %d", lc.down);
	cr_assert_eq(lc.up, 1);

	cr_assert_eq(system(getenv("OSH_TEST_PG_START")), 0, "start the cluster");
	deadline = gwt_now_ms() + 30000;
	while ((rc = push_range(r.st, 4, 6, &res)) == OSH_EUNAVAIL && gwt_now_ms() < deadline)
		gwt_nap();
	cr_assert_eq(rc, 0, "reconnected: %s", osh_gw_store_errmsg(r.st));
	cr_assert_eq(res.stored, 3);
	cr_assert_eq(res.acked_seq, 6);
	cr_assert_eq(lc.up, 2, "one recovery report, got %d", lc.up - 1);
	cr_assert_eq(push_range(r.st, 4, 6, &res), 0);
	cr_assert_eq(res.duplicates, 3, "resent lines are not stored twice");
	cr_assert_eq(osh_gw_store_logs_count(r.st, "a", &n), 0);
	cr_assert_eq(n, 6);
	sfini(&r);
}
