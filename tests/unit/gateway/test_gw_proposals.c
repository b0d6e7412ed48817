/* test_gw_proposals.c - the store's policy proposals: upsert keyed (sandbox,
 * host, port, binary) with merged hit counts, reject suppressing repeats
 * until newer denials, accept writing the new policy version in the same
 * transaction, listing with a status filter, cascade on sandbox delete.
 * DESIGN: one test body, two backends, like test_gw_store: ctest runs this
 * binary on SQLite files (test_gw_proposals) and on a temporary PostgreSQL
 * cluster (test_gw_proposals_pg, tests/support/pg_cluster.sh). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_test_util.h"
#include "store.h"

struct prig {
	char *dir, *db;
	struct osh_gw_store *st;
};

static void pinit(struct prig *r)
{
	char err[256];
	struct osh_gw_sandbox sb;
	char pol[] = {0x08, 0x01};
	char nm[] = "box";

	r->dir = gwt_tmpdir();
	r->db = gwt_store_locator(r->dir);
	cr_assert_not_null(r->db);
	cr_assert_eq(osh_gw_store_create(&r->st, r->db, NULL, err, sizeof(err)), 0, "%s", err);
	memset(&sb, 0, sizeof(sb));
	snprintf(sb.id, sizeof(sb.id), "sb-1");
	sb.name = nm;
	sb.policy = pol;
	sb.policy_len = sizeof(pol);
	sb.policy_version = 1;
	snprintf(sb.policy_hash, sizeof(sb.policy_hash), "h1");
	sb.created_ms = 1;
	cr_assert_eq(osh_gw_store_sandbox_insert(r->st, &sb), 0, "%s", osh_gw_store_errmsg(r->st));
}

static void pfini(struct prig *r)
{
	osh_gw_store_destroy(r->st);
	free(r->db);
	gwt_rmdir(r->dir);
}

static struct osh_gw_proposal row(const char *id, const char *host, uint32_t port, const char *bin,
				  int64_t hits, int64_t first, int64_t last)
{
	static char rule[] = {0x0a, 0x03, 'a', 'b', 'c'};
	struct osh_gw_proposal p;

	memset(&p, 0, sizeof(p));
	snprintf(p.id, sizeof(p.id), "%s", id);
	snprintf(p.sandbox_id, sizeof(p.sandbox_id), "sb-1");
	p.host = (char *)(uintptr_t)host;
	p.port = port;
	p.binary = (char *)(uintptr_t)bin;
	p.rule_name = (char *)(uintptr_t) "allow_x";
	p.rule = rule;
	p.rule_len = sizeof(rule);
	p.rationale = (char *)(uintptr_t) "because";
	p.security_notes = (char *)(uintptr_t) "";
	p.confidence_milli = 850;
	p.stage = (char *)(uintptr_t) "forward";
	p.hit_count = hits;
	p.first_seen_ms = first;
	p.last_seen_ms = last;
	return p;
}

static enum osh_gw_prop_outcome up(struct prig *r, struct osh_gw_proposal p, int64_t now,
				   char id[40])
{
	enum osh_gw_prop_outcome oc;

	cr_assert_eq(osh_gw_store_proposal_upsert(r->st, &p, now, &oc, id), 0, "%s",
		     osh_gw_store_errmsg(r->st));
	return oc;
}

Test(gw_proposals, upsert_merges_by_key)
{
	struct prig r;
	struct osh_gw_proposal *v = NULL, g;
	size_t n = 0;
	char id[40], id2[40], id3[40];

	pinit(&r);
	cr_assert_eq(up(&r, row("p-1", "localhost", 8080, "/usr/bin/py", 3, 100, 200), 1000, id),
		     OSH_GW_PROP_INSERTED);
	cr_assert_str_eq(id, "p-1");
	/* same key: hits added, seen widened, the row keeps its id */
	cr_assert_eq(up(&r, row("p-2", "localhost", 8080, "/usr/bin/py", 4, 50, 300), 2000, id2),
		     OSH_GW_PROP_MERGED);
	cr_assert_str_eq(id2, "p-1");
	/* another binary is another key */
	cr_assert_eq(up(&r, row("p-3", "localhost", 8080, "/usr/bin/curl", 1, 10, 10), 3000, id3),
		     OSH_GW_PROP_INSERTED);
	cr_assert_eq(osh_gw_store_proposal_list(r.st, "sb-1", NULL, &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].id, "p-3", "most recently changed first");
	cr_assert_str_eq(v[1].id, "p-1");
	cr_assert_eq(v[1].hit_count, 7);
	cr_assert_eq(v[1].first_seen_ms, 50);
	cr_assert_eq(v[1].last_seen_ms, 300);
	cr_assert_eq(v[1].confidence_milli, 850);
	cr_assert_str_eq(v[1].status, "pending");
	cr_assert_eq(v[1].rule_len, 5);
	cr_assert_eq(memcmp(v[1].rule,
			    "\x0a\x03"
			    "abc",
			    5),
		     0);
	cr_assert_eq(v[1].created_ms, 1000);
	osh_gw_proposal_list_free(v, n);
	cr_assert_eq(osh_gw_store_proposal_get(r.st, "sb-1", "p-1", &g), 0);
	cr_assert_str_eq(g.host, "localhost");
	cr_assert_eq(g.port, 8080);
	cr_assert_str_eq(g.binary, "/usr/bin/py");
	osh_gw_proposal_fini(&g);
	cr_assert_eq(osh_gw_store_proposal_get(r.st, "sb-2", "p-1", &g), OSH_ENOTFOUND,
		     "another sandbox's id is not found");
	/* an unknown sandbox cannot get proposals */
	{
		struct osh_gw_proposal p = row("p-9", "h", 1, "/b", 1, 1, 1);
		enum osh_gw_prop_outcome oc;

		snprintf(p.sandbox_id, sizeof(p.sandbox_id), "nope");
		cr_assert_eq(osh_gw_store_proposal_upsert(r.st, &p, 1, &oc, id), OSH_ENOTFOUND);
	}
	pfini(&r);
}

Test(gw_proposals, rejected_stays_out_until_newer_denials)
{
	struct prig r;
	struct osh_gw_proposal *v = NULL;
	size_t n = 0;
	char id[40];

	pinit(&r);
	(void)up(&r, row("p-1", "h.example", 443, "/bin/x", 5, 100, 200), 1000, id);
	cr_assert_eq(osh_gw_store_proposal_reject(r.st, "sb-1", "p-1", 5000, "uid 0"), 0);
	cr_assert_eq(osh_gw_store_proposal_reject(r.st, "sb-1", "p-1", 5001, "uid 0"), OSH_ESTATE,
		     "not pending any more");
	cr_assert_eq(osh_gw_store_proposal_reject(r.st, "sb-1", "p-x", 5001, "uid 0"),
		     OSH_ENOTFOUND);
	/* the same denials again (last seen before the decision): suppressed */
	cr_assert_eq(up(&r, row("p-2", "h.example", 443, "/bin/x", 5, 100, 4999), 6000, id),
		     OSH_GW_PROP_SUPPRESSED);
	cr_assert_eq(osh_gw_store_proposal_list(r.st, "sb-1", "rejected", &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].hit_count, 5);
	cr_assert_eq(v[0].decided_ms, 5000);
	cr_assert_str_eq(v[0].decided_by, "uid 0");
	osh_gw_proposal_list_free(v, n);
	cr_assert_eq(osh_gw_store_proposal_list(r.st, "sb-1", "pending", &v, &n), 0);
	cr_assert_eq(n, 0);
	osh_gw_proposal_list_free(v, n);
	/* a denial after the decision reopens it with the new round's counts */
	cr_assert_eq(up(&r, row("p-3", "h.example", 443, "/bin/x", 2, 5100, 5200), 7000, id),
		     OSH_GW_PROP_REOPENED);
	cr_assert_str_eq(id, "p-1");
	cr_assert_eq(osh_gw_store_proposal_list(r.st, "sb-1", "pending", &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].hit_count, 2);
	cr_assert_eq(v[0].first_seen_ms, 5100);
	cr_assert_eq(v[0].decided_ms, 0);
	osh_gw_proposal_list_free(v, n);
	pfini(&r);
}

Test(gw_proposals, accept_writes_policy_version_atomically)
{
	struct prig r;
	struct osh_gw_sandbox sb;
	struct osh_gw_proposal g;
	char id[40], newpol[] = {0x08, 0x02, 0x2a, 0x00};

	pinit(&r);
	(void)up(&r, row("p-1", "h.example", 443, "/bin/x", 5, 100, 200), 1000, id);
	(void)up(&r, row("p-2", "i.example", 443, "/bin/x", 5, 100, 200), 1000, id);
	/* a stale base version: nothing changes, the proposal stays pending */
	cr_assert_eq(osh_gw_store_proposal_accept(r.st, "sb-1", "p-1", 2000, "uid 0", newpol,
						  sizeof(newpol), 7, 8, "h8"),
		     OSH_ESTATE);
	cr_assert_eq(osh_gw_store_proposal_get(r.st, "sb-1", "p-1", &g), 0);
	cr_assert_str_eq(g.status, "pending");
	osh_gw_proposal_fini(&g);
	cr_assert_eq(osh_gw_store_proposal_accept(r.st, "sb-1", "p-1", 2000, "uid 0", newpol,
						  sizeof(newpol), 1, 2, "h2"),
		     0, "%s", osh_gw_store_errmsg(r.st));
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "sb-1", false, &sb), 0);
	cr_assert_eq(sb.policy_version, 2);
	cr_assert_str_eq(sb.policy_hash, "h2");
	cr_assert_eq(sb.policy_len, sizeof(newpol));
	cr_assert_eq(memcmp(sb.policy, newpol, sizeof(newpol)), 0);
	osh_gw_sandbox_fini(&sb);
	cr_assert_eq(osh_gw_store_proposal_get(r.st, "sb-1", "p-1", &g), 0);
	cr_assert_str_eq(g.status, "accepted");
	cr_assert_eq(g.decided_ms, 2000);
	osh_gw_proposal_fini(&g);
	/* accepting an accepted one fails and leaves the policy alone */
	cr_assert_eq(
	    osh_gw_store_proposal_accept(r.st, "sb-1", "p-1", 3000, "uid 0", "x", 1, 2, 3, "h3"),
	    OSH_ESTATE);
	cr_assert_eq(osh_gw_store_sandbox_get(r.st, "sb-1", false, &sb), 0);
	cr_assert_eq(sb.policy_version, 2);
	osh_gw_sandbox_fini(&sb);
	/* denials made before the supervisor applied the new version (within the
	 * settle time) do not reopen it; later ones do */
	cr_assert_eq(up(&r, row("p-4", "h.example", 443, "/bin/x", 3, 2100, 2500), 2600, id),
		     OSH_GW_PROP_SUPPRESSED);
	cr_assert_eq(osh_gw_store_proposal_get(r.st, "sb-1", "p-1", &g), 0);
	cr_assert_str_eq(g.status, "accepted");
	osh_gw_proposal_fini(&g);
	cr_assert_eq(
	    up(&r,
	       row("p-5", "h.example", 443, "/bin/x", 1, 2000 + OSH_GW_PROP_ACCEPT_SETTLE_MS + 1,
		   2000 + OSH_GW_PROP_ACCEPT_SETTLE_MS + 1),
	       2000 + OSH_GW_PROP_ACCEPT_SETTLE_MS + 5, id),
	    OSH_GW_PROP_REOPENED);
	/* deleting the sandbox deletes its proposals */
	cr_assert_eq(osh_gw_store_sandbox_delete(r.st, "sb-1"), 0);
	cr_assert_eq(osh_gw_store_proposal_get(r.st, "sb-1", "p-2", &g), OSH_ENOTFOUND);
	pfini(&r);
}
