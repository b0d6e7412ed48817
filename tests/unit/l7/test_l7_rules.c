/* test_l7_rules.c - REST rules: presets, method / path glob / query
 * matchers, the engine's L7 decision across policies, compile errors.
 *
 * DESIGN
 * Policies are written as YAML (the form authors use) and parsed by the real
 * policy parser; the endpoint protos then go through osh_l7_rules_compile,
 * or the whole policy through the proxy's engine.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "osh_l7_rules.h"
#include "osh_policy.h"
#include "proxy_policy.h"

static osh_policy_pb *pol;

static const char *yaml_of(const char *endpoint_extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "version: 1\n"
		 "network_policies:\n"
		 "  api:\n"
		 "    endpoints:\n"
		 "      - host: api.example.com\n"
		 "        port: 443\n"
		 "%s"
		 "    binaries:\n"
		 "      - path: /usr/bin/curl\n",
		 endpoint_extra);
	return buf;
}

static struct osh_l7_rules *rules(const char *extra)
{
	const char *y = yaml_of(extra);
	struct osh_l7_rules *r = NULL;
	char err[512];

	cr_assert_eq(osh_policy_parse_yaml(y, strlen(y), "t", &pol, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(osh_l7_rules_compile(pol->network_policies[0]->value->endpoints[0], "ep", &r,
					  err, sizeof(err)),
		     0, "%s", err);
	return r;
}

static void fini(void)
{
	osh_policy_free(pol);
	pol = NULL;
}

TestSuite(l7_rules, .fini = fini);

static bool allows(const struct osh_l7_rules *r, const char *m, const char *t)
{
	char rule[128];

	return osh_l7_rules_match(r, m, t, rule, sizeof(rule)) == OSH_L7_MATCH_ALLOW;
}

Test(l7_rules, no_protocol_is_l4_only)
{
	struct osh_l7_rules *r = rules("");

	cr_assert_null(r);
	cr_assert_eq(osh_l7_rules_proto(r), OSH_L7_NONE);
}

Test(l7_rules, read_only_preset)
{
	struct osh_l7_rules *r = rules("        protocol: rest\n        access: read-only\n");
	char rule[64];

	cr_assert_eq(osh_l7_rules_proto(r), OSH_L7_REST);
	cr_assert_not(osh_l7_rules_enforce(r)); /* audit is the default */
	cr_assert(allows(r, "GET", "/"));
	cr_assert(allows(r, "get", "/a/b/c?x=1"));
	cr_assert(allows(r, "HEAD", "/x"));
	cr_assert(allows(r, "OPTIONS", "*"));
	cr_assert_not(allows(r, "POST", "/x"));
	cr_assert_not(allows(r, "DELETE", "/x"));
	cr_assert_eq(osh_l7_rules_match(r, "GET", "/x", rule, sizeof(rule)), OSH_L7_MATCH_ALLOW);
	cr_assert_str_eq(rule, "access read-only");
	osh_l7_rules_free(r);
}

Test(l7_rules, read_write_and_full_presets)
{
	struct osh_l7_rules *rw = rules("        protocol: rest\n        access: read-write\n");

	cr_assert(allows(rw, "POST", "/x"));
	cr_assert(allows(rw, "PATCH", "/x"));
	cr_assert(allows(rw, "PUT", "/x"));
	cr_assert_not(allows(rw, "DELETE", "/x"));
	osh_l7_rules_free(rw);
	fini();
	rw = rules("        protocol: rest\n        access: full\n        enforcement: enforce\n");
	cr_assert(osh_l7_rules_enforce(rw));
	cr_assert(allows(rw, "DELETE", "/x"));
	cr_assert(allows(rw, "BREW", "/pot"));
	osh_l7_rules_free(rw);
}

Test(l7_rules, method_and_path_globs)
{
	struct osh_l7_rules *r =
	    rules("        protocol: rest\n        enforcement: enforce\n"
		  "        rules:\n"
		  "          - allow: {method: GET, path: \"/repos/*/issues\"}\n"
		  "          - allow: {method: POST, path: \"/repos/**\"}\n"
		  "          - allow: {method: \"*\", path: \"/health\"}\n");
	char rule[64];

	cr_assert_eq(osh_l7_rules_count(r), 3);
	cr_assert(allows(r, "GET", "/repos/octo/issues"));
	cr_assert(allows(r, "GET", "/repos/octo/issues?state=open"));
	cr_assert_not(allows(r, "GET", "/repos/octo/x/issues")); /* '*' is one segment */
	cr_assert_not(allows(r, "GET", "/repos/octo/pulls"));
	cr_assert(allows(r, "POST", "/repos/a"));
	cr_assert(allows(r, "POST", "/repos/a/b/c")); /* '**' any depth */
	cr_assert_not(allows(r, "POST", "/other/a"));
	cr_assert_not(allows(r, "DELETE", "/repos/a"));
	cr_assert(allows(r, "DELETE", "/health"));
	cr_assert_eq(osh_l7_rules_match(r, "POST", "/repos/a/b", rule, sizeof(rule)),
		     OSH_L7_MATCH_ALLOW);
	cr_assert_str_eq(rule, "POST /repos/**");
	osh_l7_rules_free(r);
}

Test(l7_rules, query_matchers)
{
	struct osh_l7_rules *r = rules("        protocol: rest\n"
				       "        rules:\n"
				       "          - allow:\n"
				       "              method: GET\n"
				       "              path: /search\n"
				       "              query:\n"
				       "                q: \"repo:*\"\n"
				       "                sort: {any: [stars, forks]}\n");

	cr_assert(allows(r, "GET", "/search?q=repo:octo&sort=stars"));
	cr_assert(allows(r, "GET", "/search?sort=forks&q=repo%3Aocto&page=2")); /* %XX decoded */
	cr_assert(allows(r, "GET", "/search?q=repo:a+b&sort=stars"));		/* '+' = space */
	cr_assert_not(allows(r, "GET", "/search?q=user:octo&sort=stars"));
	cr_assert_not(allows(r, "GET", "/search?q=repo:octo"));		       /* sort missing */
	cr_assert_not(allows(r, "GET", "/search?q=repo:a&sort=stars&sort=x")); /* every value */
	cr_assert_not(allows(r, "GET", "/search"));
	cr_assert_eq(osh_l7_rules_match(r, "GET", "/search?q=repo:%zz&sort=stars", NULL, 0),
		     OSH_L7_MATCH_BAD_QUERY);
	osh_l7_rules_free(r);
}

Test(l7_query, decode)
{
	char out[16];

	cr_assert_eq(osh_l7_query_decode("a%20b+c", 7, out, sizeof(out)), 5);
	cr_assert_str_eq(out, "a b c");
	cr_assert_eq(osh_l7_query_decode("%4", 2, out, sizeof(out)), -1);
	cr_assert_eq(osh_l7_query_decode("%00", 3, out, sizeof(out)), -1); /* no NUL inside */
	cr_assert_eq(osh_l7_query_decode("0123456789abcdefg", 17, out, sizeof(out)), -1);
	cr_assert(osh_l7_wild_match("a*c", "abbbc"));
	cr_assert(osh_l7_wild_match("*", ""));
	cr_assert_not(osh_l7_wild_match("a*c", "abd"));
}

Test(l7_rules, compile_errors_name_the_field)
{
	static Openshell__V1__NetworkEndpoint ep = OPENSHELL__V1__NETWORK_ENDPOINT__INIT;
	static char rest[] = "rest", sql[] = "sql", grpc[] = "grpc", bad[] = "write-everything",
		    ro[] = "read-only", enf[] = "enforce";
	struct osh_l7_rules *r = NULL;
	char err[256];

	ep.protocol = rest;
	cr_assert_eq(
	    osh_l7_rules_compile(&ep, "network_policies.a.endpoints[0]", &r, err, sizeof(err)),
	    OSH_EINVAL);
	cr_assert(strstr(err, "network_policies.a.endpoints[0]: protocol 'rest' needs rules"), "%s",
		  err);
	ep.access = bad;
	cr_assert_eq(osh_l7_rules_compile(&ep, "e", &r, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "e.access: unknown 'write-everything'"), "%s", err);
	ep.access = ro;
	ep.protocol = sql;
	ep.enforcement = enf;
	cr_assert_eq(osh_l7_rules_compile(&ep, "e", &r, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "SQL enforcement is not supported"), "%s", err);
	ep.protocol = grpc;
	cr_assert_eq(osh_l7_rules_compile(&ep, "e", &r, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "unknown 'grpc'"), "%s", err);
	cr_assert_null(r);
}

/* ------------------------------------------------------- the engine */

static const char *const none[1];

Test(l7_engine, any_admitting_policy_may_allow_and_binaries_count)
{
	static const char y[] =
	    "version: 1\n"
	    "network_policies:\n"
	    "  a_readonly:\n"
	    "    endpoints:\n"
	    "      - {host: api.example.com, port: 443, protocol: rest, access: "
	    "read-only, enforcement: enforce}\n"
	    "    binaries: [{path: /usr/bin/curl}]\n"
	    "  b_writer:\n"
	    "    endpoints:\n"
	    "      - host: api.example.com\n"
	    "        port: 443\n"
	    "        protocol: rest\n"
	    "        rules: [{allow: {method: POST, path: /issues}}]\n"
	    "    binaries: [{path: /usr/bin/python3}]\n";
	struct osh_proxy_engine *e = NULL;
	struct osh_proxy_who curl = {.exe = "/usr/bin/curl", .ancestors = none, .cmdline = none};
	struct osh_proxy_who py = {.exe = "/usr/bin/python3", .ancestors = none, .cmdline = none};
	struct osh_proxy_verdict v;
	const char *p = NULL;
	char err[512], rule[64];

	cr_assert_eq(osh_policy_parse_yaml(y, strlen(y), "t", &pol, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(osh_proxy_engine_compile(pol, 1, &e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(osh_proxy_engine_l7_endpoints(e, NULL), 2);
	osh_proxy_engine_decide(e, "API.example.com", 443, &curl, &v);
	cr_assert(v.allow);
	cr_assert_not_null(v.ep);
	cr_assert(osh_l7_rules_enforce(v.ep->l7));
	cr_assert(osh_proxy_engine_l7_allow(e, "api.example.com", 443, &curl, "GET", "/x", &p, rule,
					    sizeof(rule)));
	cr_assert_str_eq(p, "a_readonly");
	cr_assert_not(osh_proxy_engine_l7_allow(e, "api.example.com", 443, &curl, "POST", "/issues",
						&p, rule, sizeof(rule)));
	cr_assert(osh_proxy_engine_l7_allow(e, "api.example.com", 443, &py, "POST", "/issues", &p,
					    rule, sizeof(rule)));
	cr_assert_str_eq(p, "b_writer");
	cr_assert_not(osh_proxy_engine_l7_allow(e, "api.example.com", 8443, &py, "POST", "/issues",
						&p, rule, sizeof(rule)));
	osh_proxy_engine_unref(e);
}
