/* test_denials.c - the denial aggregator (fold by key, bounds, drain,
 * restore after a failed round, the process-wide hook, concurrent
 * recorders) and the mechanistic mapper (rule names, path generalisation,
 * confidence, allowed_ips from a stub resolver, L7 rules, notes, ordering).
 * DESIGN: the mapper's resolver is a stub, so no test makes a DNS query;
 * every proposed rule is also run through the policy layer's validation,
 * which is what the gateway applies before storing it. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osh_denials.h"
#include "osh_policy.h"

static struct osh_denial den(const char *host, uint16_t port, const char *bin, int64_t ts)
{
	struct osh_denial d = {.host = host,
			       .port = port,
			       .binary = bin,
			       .reason = "endpoint not in policy",
			       .stage = OSH_DENIAL_FORWARD,
			       .ts_ms = ts};
	return d;
}

static const struct osh_denial_summary *find(const struct osh_denial_batch *b, const char *host,
					     uint16_t port, const char *bin)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->v[i].host, host) == 0 && b->v[i].port == port &&
		    strcmp(b->v[i].binary, bin) == 0)
			return &b->v[i];
	return NULL;
}

Test(aggregator, folds_by_host_port_binary)
{
	struct osh_denial_agg *a;
	struct osh_denial_batch b;
	const char *anc[] = {"/bin/sh", "/usr/bin/bash"};
	struct osh_denial d = den("api.example.com", 443, "/usr/bin/curl", 1000);
	const struct osh_denial_summary *s;

	cr_assert_eq(osh_denial_agg_create(0, &a), 0);
	d.ancestors = anc;
	d.n_ancestors = 2;
	d.stage = OSH_DENIAL_CONNECT;
	cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	d.ts_ms = 500; /* out of order: first_seen goes back */
	d.stage = OSH_DENIAL_FORWARD;
	cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	d.ts_ms = 3000;
	cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	d = den("api.example.com", 443, "/usr/bin/python3", 2000);
	cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	d = den("api.example.com", 80, "/usr/bin/curl", 2000);
	cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	d = den(NULL, 9, NULL, 2000); /* unknown host and binary -> "-" */
	cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	cr_assert_eq(osh_denial_agg_keys(a), 4);

	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 4);
	cr_assert_eq(b.denials, 6);
	cr_assert_eq(b.overflow, 0);
	s = find(&b, "api.example.com", 443, "/usr/bin/curl");
	cr_assert_not_null(s);
	cr_assert_eq(s->count, 3);
	cr_assert_eq(s->first_ms, 500);
	cr_assert_eq(s->last_ms, 3000);
	cr_assert_eq(s->stage, OSH_DENIAL_CONNECT, "the first denial's stage is kept");
	cr_assert_eq(s->n_ancestors, 2);
	cr_assert_str_eq(s->ancestors[1], "/usr/bin/bash");
	cr_assert_str_eq(s->reason, "endpoint not in policy");
	cr_assert_not_null(find(&b, "-", 9, "-"));
	osh_denial_batch_free(&b);
	cr_assert_eq(osh_denial_agg_keys(a), 0, "a drain empties the aggregator");
	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 0);
	cr_assert_eq(b.denials, 0);
	osh_denial_agg_destroy(a);
}

Test(aggregator, l7_samples_bounded_and_counted)
{
	struct osh_denial_agg *a;
	struct osh_denial_batch b;
	char path[64];

	cr_assert_eq(osh_denial_agg_create(0, &a), 0);
	for (int i = 0; i < 30; i++) {
		struct osh_denial d = den("h.example", 443, "/bin/x", 0);

		snprintf(path, sizeof(path), "/items/%d?page=%d", i % 25, i);
		d.stage = OSH_DENIAL_FORWARD_L7;
		d.method = "GET";
		d.path = path;
		cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	}
	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 1);
	cr_assert_eq(b.v[0].count, 30);
	cr_assert_eq(b.v[0].n_l7, OSH_DENIAL_L7_MAX);
	/* /items/0..4 seen twice (query ignored), the rest once */
	cr_assert_str_eq(b.v[0].l7[0].path, "/items/0");
	cr_assert_eq(b.v[0].l7[0].count, 2);
	cr_assert_eq(b.v[0].l7[19].count, 1);
	osh_denial_batch_free(&b);
	osh_denial_agg_destroy(a);
}

Test(aggregator, keys_bounded_overflow_counted)
{
	struct osh_denial_agg *a;
	struct osh_denial_batch b;
	char host[32];

	cr_assert_eq(osh_denial_agg_create(4, &a), 0);
	for (int i = 0; i < 10; i++) {
		struct osh_denial d;

		snprintf(host, sizeof(host), "h%d.example", i);
		d = den(host, 443, "/bin/x", 0);
		cr_assert_eq(osh_denial_agg_add(a, &d), i < 4 ? 0 : OSH_EFULL);
	}
	/* an existing key still counts when the table is full */
	{
		struct osh_denial d = den("h0.example", 443, "/bin/x", 0);

		cr_assert_eq(osh_denial_agg_add(a, &d), 0);
	}
	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 4);
	cr_assert_eq(b.overflow, 6);
	cr_assert_eq(b.denials, 5);
	osh_denial_batch_free(&b);
	osh_denial_agg_destroy(a);
}

Test(aggregator, restore_merges_and_bounds)
{
	struct osh_denial_agg *a;
	struct osh_denial_batch b, b2;
	const struct osh_denial_summary *s;

	cr_assert_eq(osh_denial_agg_create(2, &a), 0);
	{
		struct osh_denial d1 = den("a.example", 80, "/bin/x", 100);
		struct osh_denial d2 = den("b.example", 80, "/bin/x", 100);

		cr_assert_eq(osh_denial_agg_add(a, &d1), 0);
		cr_assert_eq(osh_denial_agg_add(a, &d1), 0);
		cr_assert_eq(osh_denial_agg_add(a, &d2), 0);
	}
	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 2);
	/* while the round failed, new denials arrived: one for a, one new key */
	{
		struct osh_denial d1 = den("a.example", 80, "/bin/x", 900);
		struct osh_denial d3 = den("c.example", 80, "/bin/x", 900);

		cr_assert_eq(osh_denial_agg_add(a, &d1), 0);
		cr_assert_eq(osh_denial_agg_add(a, &d3), 0);
	}
	/* a merges, b does not fit (c took the last key): counted as dropped */
	cr_assert_eq(osh_denial_agg_restore(a, &b), 1);
	cr_assert_eq(b.n, 0);
	cr_assert_eq(osh_denial_agg_drain(a, &b2), 0);
	cr_assert_eq(b2.n, 2);
	cr_assert_eq(b2.dropped, 1);
	s = find(&b2, "a.example", 80, "/bin/x");
	cr_assert_not_null(s);
	cr_assert_eq(s->count, 3);
	cr_assert_eq(s->first_ms, 100);
	cr_assert_eq(s->last_ms, 900);
	cr_assert_null(find(&b2, "b.example", 80, "/bin/x"));
	osh_denial_batch_free(&b2);
	osh_denial_agg_destroy(a);
}

Test(aggregator, record_hook_only_when_installed)
{
	struct osh_denial_agg *a;
	struct osh_denial_batch b;
	struct osh_denial d = den("x.example", 443, "/bin/x", 0);

	cr_assert_eq(osh_denial_agg_create(0, &a), 0);
	osh_denials_record(&d); /* nothing installed: no-op */
	osh_denials_install(a);
	osh_denials_record(&d);
	osh_denials_record(&d);
	osh_denials_install(NULL);
	osh_denials_record(&d);
	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 1);
	cr_assert_eq(b.v[0].count, 2);
	osh_denial_batch_free(&b);
	osh_denial_agg_destroy(a);
}

#define THREADS 4
#define PER	2000

static void *recorder(void *arg)
{
	char host[32];

	snprintf(host, sizeof(host), "t%d.example", (int)(intptr_t)arg % 2);
	for (int i = 0; i < PER; i++) {
		struct osh_denial d = den(host, 443, "/bin/x", 0);

		osh_denials_record(&d);
	}
	return NULL;
}

Test(aggregator, concurrent_recorders_count_exactly)
{
	struct osh_denial_agg *a;
	struct osh_denial_batch b;
	pthread_t th[THREADS];
	uint64_t total = 0;

	cr_assert_eq(osh_denial_agg_create(0, &a), 0);
	osh_denials_install(a);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, recorder, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	osh_denials_install(NULL);
	cr_assert_eq(osh_denial_agg_drain(a, &b), 0);
	cr_assert_eq(b.n, 2);
	for (size_t i = 0; i < b.n; i++)
		total += b.v[i].count;
	cr_assert_eq(total, THREADS * PER);
	cr_assert_eq(b.denials, THREADS * PER);
	osh_denial_batch_free(&b);
	osh_denial_agg_destroy(a);
}

/* ---------------------------------------------------------------- mapper */

Test(mapper, rule_names)
{
	char n[64];

	osh_denial_rule_name("api.github.com", 443, n, sizeof(n));
	cr_assert_str_eq(n, "allow_api_github_com_443");
	osh_denial_rule_name("my-host.internal", 8080, n, sizeof(n));
	cr_assert_str_eq(n, "allow_my_host_internal_8080");
	osh_denial_rule_name("[::1]x*y", 1, n, sizeof(n));
	cr_assert_str_eq(n, "allow_1xy_1");
	osh_denial_rule_name("10.0.0.1", 5432, n, 12); /* cut, never overflows */
	cr_assert_eq(strlen(n), 11);
}

Test(mapper, path_generalisation)
{
	char g[128];
	static const char *const cases[][2] = {
	    {"/users/42", "/users/*"},
	    {"/users/7", "/users/7"}, /* one digit is not an id */
	    {"/v1/items/123456?x=1", "/v1/items/*"},
	    {"/o/550e8400-e29b-41d4-a716-446655440000", "/o/*"},
	    {"/blob/0123456789abcdef", "/blob/*"},
	    {"/blob/0123456789abcde", "/blob/0123456789abcde"}, /* 15 hex */
	    {"/repos/list", "/repos/list"},
	    {"", "/"},
	    {"/", "/"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		osh_denial_generalize_path(cases[i][0], g, sizeof(g));
		cr_assert_str_eq(g, cases[i][1], "%s", cases[i][0]);
	}
}

Test(mapper, confidence)
{
	struct osh_denial_summary s;

	memset(&s, 0, sizeof(s));
	s.port = 12345;
	s.count = 1;
	cr_assert_float_eq(osh_denial_confidence(&s), 0.5f, 1e-5);
	s.count = 3;
	cr_assert_float_eq(osh_denial_confidence(&s), 0.6f, 1e-5);
	s.count = 10;
	cr_assert_float_eq(osh_denial_confidence(&s), 0.7f, 1e-5);
	s.port = 443;
	cr_assert_float_eq(osh_denial_confidence(&s), 0.85f, 1e-5);
	s.stage = OSH_DENIAL_SSRF;
	cr_assert_float_eq(osh_denial_confidence(&s), 0.65f, 1e-5);
	s.count = 1;
	s.port = 9;
	cr_assert_float_eq(osh_denial_confidence(&s), 0.3f, 1e-5);
}

Test(mapper, internal_addresses)
{
	static const char *const in[] = {
	    "127.0.0.1",       "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
	    "169.254.169.254", "::1",	   "fe80::1",	 "fd00::5",	   "::ffff:10.0.0.1"};
	static const char *const out[] = {"8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:1.2.3.4",
					  "not-an-ip"};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		cr_assert(osh_denial_ip_internal(in[i]), "%s", in[i]);
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		cr_assert_not(osh_denial_ip_internal(out[i]), "%s", out[i]);
}

/* Stub resolver: "localhost" -> both loopbacks (twice, unsorted), "*.ext"
 * -> a public address, an IPv4 literal -> itself, anything else fails. */
static int stub(void *ud, const char *host, uint16_t port, char ips[][46], size_t max, size_t *n,
		const char **why)
{
	(void)ud;
	(void)port;
	(void)max;
	*n = 0;
	if (strcmp(host, "localhost") == 0) {
		snprintf(ips[0], 46, "::1");
		snprintf(ips[1], 46, "127.0.0.1");
		snprintf(ips[2], 46, "::1");
		*n = 3;
		return 0;
	}
	if (strspn(host, "0123456789.") == strlen(host)) {
		snprintf(ips[0], 46, "%s", host);
		*n = 1;
		return 0;
	}
	if (strstr(host, ".ext")) {
		snprintf(ips[0], 46, "203.0.113.7");
		*n = 1;
		return 0;
	}
	*why = "Name or service not known";
	return OSH_ENOTFOUND;
}

static int dns_fails;
static void on_dns(void *ud, const char *host, uint16_t port, const char *why)
{
	(void)ud;
	(void)port;
	cr_assert_str_eq(why, "Name or service not known");
	cr_assert_str_eq(host, "gone.invalid");
	dns_fails++;
}

static void mk(struct osh_denial_summary *s, const char *host, uint16_t port, const char *bin,
	       uint64_t count, enum osh_denial_stage stage)
{
	memset(s, 0, sizeof(*s));
	s->host = strdup(host);
	s->binary = strdup(bin);
	s->reason = strdup("denied");
	s->port = port;
	s->count = count;
	s->stage = stage;
	s->ssrf_seen = stage == OSH_DENIAL_SSRF;
	s->first_ms = 10;
	s->last_ms = 20;
}

/* The rule as the gateway validates it: alone in a policy under its name. */
static void assert_valid(const Openshell__V1__PolicyChunk *c)
{
	Openshell__V1__SandboxPolicy p = OPENSHELL__V1__SANDBOX_POLICY__INIT;
	Openshell__V1__SandboxPolicy__NetworkPoliciesEntry e =
	    OPENSHELL__V1__SANDBOX_POLICY__NETWORK_POLICIES_ENTRY__INIT;
	Openshell__V1__SandboxPolicy__NetworkPoliciesEntry *ev[1] = {&e};
	char err[256];

	e.key = c->rule_name;
	e.value = c->proposed_rule;
	p.network_policies = ev;
	p.n_network_policies = 1;
	cr_assert_eq(osh_policy_validate(&p, err, sizeof(err)), 0, "%s: %s", c->rule_name, err);
}

static const Openshell__V1__PolicyChunk *by_rule(Openshell__V1__PolicyChunk **v, size_t n,
						 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i]->rule_name, name) == 0)
			return v[i];
	return NULL;
}

Test(mapper, proposals_from_summaries)
{
	struct osh_denial_batch b = {0};
	struct osh_denial_map_opts o = {.resolve = stub, .on_dns_fail = on_dns};
	Openshell__V1__PolicyChunk **v = NULL;
	const Openshell__V1__PolicyChunk *c;
	size_t n = 0;

	b.v = calloc(5, sizeof(*b.v));
	b.n = 5;
	mk(&b.v[0], "localhost", 8080, "/usr/bin/python3.11", 12, OSH_DENIAL_FORWARD);
	mk(&b.v[1], "api.ext", 443, "/usr/bin/curl", 1, OSH_DENIAL_CONNECT);
	b.v[1].l7[0] = (struct osh_denial_l7){strdup("POST"), strdup("/v1/items/12345"), 2};
	b.v[1].l7[1] = (struct osh_denial_l7){strdup("GET"), strdup("/v1/items"), 1};
	b.v[1].l7[2] = (struct osh_denial_l7){strdup("POST"), strdup("/v1/items/999"), 1};
	b.v[1].n_l7 = 3;
	mk(&b.v[2], "db.ext", 5432, "/usr/bin/psql", 3, OSH_DENIAL_SSRF);
	mk(&b.v[3], "gone.invalid", 50000, "/usr/bin/curl", 1, OSH_DENIAL_CONNECT);
	mk(&b.v[4], "10.200.0.1", 9, "-", 1, OSH_DENIAL_BYPASS);
	dns_fails = 0;
	cr_assert_eq(osh_denial_map(b.v, b.n, &o, &v, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(dns_fails, 1, "gone.invalid does not resolve");
	for (size_t i = 0; i + 1 < n; i++)
		cr_assert_geq(v[i]->confidence, v[i + 1]->confidence, "sorted by confidence");
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(v[i]->status, "pending");
		assert_valid(v[i]);
	}

	c = by_rule(v, n, "allow_localhost_8080");
	cr_assert_not_null(c);
	cr_assert_float_eq(c->confidence, 0.85f, 1e-5); /* >= 10 hits, well-known port */
	cr_assert_eq(c->proposed_rule->n_endpoints, 1);
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->host, "localhost");
	cr_assert_eq(c->proposed_rule->endpoints[0]->port, 8080);
	cr_assert_eq(c->proposed_rule->endpoints[0]->n_allowed_ips, 2, "sorted, deduplicated");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->allowed_ips[0], "127.0.0.1");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->allowed_ips[1], "::1");
	cr_assert_eq(c->proposed_rule->n_binaries, 1);
	cr_assert_str_eq(c->proposed_rule->binaries[0]->path, "/usr/bin/python3.11");
	cr_assert_eq(c->hit_count, 12);
	cr_assert_str_eq(c->stage, "forward");
	cr_assert_str_eq(c->host, "localhost");
	cr_assert_str_eq(c->rationale,
			 "Allow python3.11 to connect to localhost:8080 (HTTP alt). The host "
			 "resolves to a private address: allowed_ips lists its addresses.");
	cr_assert(strstr(c->security_notes, "private or loopback destination"), "%s",
		  c->security_notes);

	c = by_rule(v, n, "allow_api_ext_443");
	cr_assert_not_null(c);
	cr_assert_eq(c->proposed_rule->endpoints[0]->n_allowed_ips, 0, "public: no allowed_ips");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->protocol, "rest");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->enforcement, "enforce");
	cr_assert_eq(c->proposed_rule->endpoints[0]->n_rules, 2, "POST ids folded into one");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->rules[0]->allow->method, "GET");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->rules[0]->allow->path, "/v1/items");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->rules[1]->allow->method, "POST");
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->rules[1]->allow->path, "/v1/items/*");
	cr_assert(strstr(c->rationale, "L7 requests denied:"), "%s", c->rationale);
	cr_assert_str_eq(c->security_notes, "");

	c = by_rule(v, n, "allow_db_ext_5432");
	cr_assert_not_null(c);
	cr_assert_float_eq(c->confidence, 0.55f, 1e-5); /* 0.5 + 0.1 + 0.15 - 0.2 */
	cr_assert(strstr(c->security_notes, "SSRF"), "%s", c->security_notes);
	cr_assert(strstr(c->security_notes, "direct PostgreSQL access"), "%s", c->security_notes);

	c = by_rule(v, n, "allow_gone_invalid_50000");
	cr_assert_not_null(c);
	cr_assert_eq(c->proposed_rule->endpoints[0]->n_allowed_ips, 0);
	cr_assert(strstr(c->security_notes, "ephemeral port"), "%s", c->security_notes);

	c = by_rule(v, n, "allow_10_200_0_1_9");
	cr_assert_not_null(c);
	cr_assert_eq(c->proposed_rule->n_binaries, 0, "unknown binary: none named");
	cr_assert_eq(c->proposed_rule->endpoints[0]->n_allowed_ips, 1);
	cr_assert_str_eq(c->proposed_rule->endpoints[0]->allowed_ips[0], "10.200.0.1");
	cr_assert_str_eq(c->stage, "bypass");
	cr_assert(strstr(c->rationale, "unknown binary"), "%s", c->rationale);
	cr_assert(strstr(c->security_notes, "not identified"), "%s", c->security_notes);

	osh_denial_chunks_free(v, n);
	osh_denial_batch_free(&b);
}

Test(mapper, dns_failure_keeps_proposal)
{
	struct osh_denial_summary s;
	struct osh_denial_map_opts o = {.resolve = stub, .on_dns_fail = on_dns};
	Openshell__V1__PolicyChunk **v = NULL;
	size_t n = 0;
	struct osh_denial_batch b = {.v = &s, .n = 1};

	mk(&s, "gone.invalid", 443, "/usr/bin/curl", 4, OSH_DENIAL_CONNECT);
	dns_fails = 0;
	cr_assert_eq(osh_denial_map(&s, 1, &o, &v, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(dns_fails, 1);
	cr_assert_eq(v[0]->proposed_rule->endpoints[0]->n_allowed_ips, 0);
	cr_assert_float_eq(v[0]->confidence, 0.75f, 1e-5);
	osh_denial_chunks_free(v, n);
	b.v = malloc(sizeof(s));
	memcpy(b.v, &s, sizeof(s));
	osh_denial_batch_free(&b);
}
