/* test_proxy_policy.c - the network policy engine
 * (src/supervisor/proxy/proxy_policy.c): globs, the choice rule, the deny
 * reasons and what compilation refuses. Policies are written as YAML and
 * loaded with the supervisor's policy parser, as the proxy gets them. */
#include <criterion/criterion.h>
#include <string.h>

#include "proxy_policy.h"
#include "osh_policy.h"

/* YAML -> compiled engine (asserts success). */
static struct osh_proxy_engine *engine(const char *yaml, uint64_t gen)
{
	osh_policy_pb *p = NULL;
	struct osh_proxy_engine *e = NULL;
	char err[512];

	cr_assert_eq(osh_policy_parse_yaml(yaml, strlen(yaml), "test", &p, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_proxy_engine_compile(p, gen, &e, err, sizeof(err)), 0, "%s", err);
	osh_policy_free(p);
	return e;
}

/* YAML that parses but must not compile; returns the error. */
static void refused(const char *yaml, const char *frag)
{
	osh_policy_pb *p = NULL;
	struct osh_proxy_engine *e = NULL;
	char err[512];

	cr_assert_eq(osh_policy_parse_yaml(yaml, strlen(yaml), "test", &p, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_proxy_engine_compile(p, 1, &e, err, sizeof(err)), OSH_EINVAL);
	cr_assert_null(e);
	cr_assert(strstr(err, frag), "'%s' lacks '%s'", err, frag);
	osh_policy_free(p);
}

static const char *const no_anc[1];

static struct osh_proxy_who who(const char *exe)
{
	struct osh_proxy_who w = {.exe = exe, .ancestors = no_anc, .cmdline = no_anc};

	return w;
}

Test(glob, hosts_per_label)
{
	cr_assert(osh_proxy_glob_match("*.example.com", "a.example.com", '.'));
	cr_assert_not(osh_proxy_glob_match("*.example.com", "example.com", '.'));
	cr_assert_not(osh_proxy_glob_match("*.example.com", "a.b.example.com", '.'));
	cr_assert(osh_proxy_glob_match("**.example.com", "a.b.example.com", '.'));
	cr_assert(osh_proxy_glob_match("**.example.com", "a.example.com", '.'));
	cr_assert_not(osh_proxy_glob_match("**.example.com", "example.com", '.'));
	cr_assert(osh_proxy_glob_match("api-*.example.com", "api-v2.example.com", '.'));
	cr_assert_not(osh_proxy_glob_match("api-*.example.com", "web.example.com", '.'));
	cr_assert_not(osh_proxy_glob_match("*.example.com", "a.example.com.evil.net", '.'));
	cr_assert_not(osh_proxy_glob_match("*.example.com", "aexample.com", '.'));
}

Test(glob, paths_per_segment)
{
	cr_assert(osh_proxy_glob_match("/usr/bin/*", "/usr/bin/curl", '/'));
	cr_assert_not(osh_proxy_glob_match("/usr/bin/*", "/usr/bin/x/curl", '/'));
	cr_assert(osh_proxy_glob_match("/usr/**", "/usr/lib/node/bin/node", '/'));
	cr_assert(osh_proxy_glob_match("/usr/**/python3*", "/usr/local/bin/python3.11", '/'));
	cr_assert_not(osh_proxy_glob_match("/usr/**/python3*", "/opt/bin/python3", '/'));
	cr_assert(osh_proxy_glob_match("/opt/*/bin/tool", "/opt/v1/bin/tool", '/'));
	/* many ** and a long subject stay cheap (no backtracking blow-up) */
	cr_assert_not(osh_proxy_glob_match(
	    "/**/**/**/**/**/**/x", "/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/y", '/'));
}

static const char *two_policies = "network_policies:\n"
				  "  zeta:\n"
				  "    endpoints:\n"
				  "      - host: api.github.com\n"
				  "        ports: [443, 8443]\n"
				  "    binaries:\n"
				  "      - path: /usr/bin/curl\n"
				  "  alpha:\n"
				  "    name: Alpha Rule\n"
				  "    endpoints:\n"
				  "      - host: \"*.github.com\"\n"
				  "        port: 443\n"
				  "    binaries:\n"
				  "      - path: \"/usr/bin/*\"\n";

Test(engine, allow_picks_smallest_key)
{
	struct osh_proxy_engine *e = engine(two_policies, 7);
	struct osh_proxy_who w = who("/usr/bin/curl");
	struct osh_proxy_verdict v;

	cr_assert_eq(osh_proxy_engine_generation(e), 7);
	cr_assert_eq(osh_proxy_engine_rules(e), 2);
	osh_proxy_engine_decide(e, "API.GitHub.com", 443, &w, &v);
	cr_assert(v.allow);
	cr_assert_str_eq(v.policy, "alpha");
	cr_assert_str_eq(v.policy_name, "Alpha Rule");
	cr_assert_str_eq(v.reason, "");
	cr_assert_null(v.ep, "L4-only endpoints carry no extended config");
	/* only zeta has 8443 */
	osh_proxy_engine_decide(e, "api.github.com", 8443, &w, &v);
	cr_assert(v.allow);
	cr_assert_str_eq(v.policy, "zeta");
	osh_proxy_engine_unref(e);
}

Test(engine, deny_reasons_exact)
{
	struct osh_proxy_engine *e = engine(two_policies, 1);
	const char *anc[] = {"/bin/bash", "/sbin/tini"};
	const char *cmd[] = {"/usr/bin/curl", "/tmp/x"};
	struct osh_proxy_who w = {
	    .exe = "/opt/evil", .ancestors = anc, .n_ancestors = 2, .cmdline = cmd, .n_cmdline = 2};
	struct osh_proxy_verdict v;

	osh_proxy_engine_decide(e, "api.github.com", 443, &w, &v);
	cr_assert_not(v.allow);
	cr_assert_null(v.policy);
	cr_assert_str_eq(v.reason,
			 "binary '/opt/evil' (ancestors: [/bin/bash -> /sbin/tini], cmdline: "
			 "[/usr/bin/curl, /tmp/x]) not allowed in policy 'Alpha Rule'; binary "
			 "'/opt/evil' (ancestors: [/bin/bash -> /sbin/tini], cmdline: "
			 "[/usr/bin/curl, /tmp/x]) not allowed in policy 'zeta'",
			 "cmdline paths never grant");
	osh_proxy_engine_decide(e, "evil.com", 443, &w, &v);
	cr_assert_str_eq(v.reason, "endpoint evil.com:443 not in policy 'Alpha Rule'; endpoint "
				   "evil.com:443 not in policy 'zeta'");
	osh_proxy_engine_decide(e, "github.com", 443, &w, &v);
	cr_assert_not(v.allow, "*.github.com does not match github.com");
	osh_proxy_engine_decide(e, "api.github.com", 80, &w, &v);
	cr_assert_not(v.allow);
	cr_assert(strstr(v.reason, "endpoint api.github.com:80 not in policy 'zeta'"));
	osh_proxy_engine_unref(e);
}

Test(engine, ancestor_grants)
{
	struct osh_proxy_engine *e = engine(two_policies, 1);
	const char *anc[] = {"/usr/bin/curl"};
	struct osh_proxy_who w = {
	    .exe = "/opt/child", .ancestors = anc, .n_ancestors = 1, .cmdline = no_anc};
	struct osh_proxy_verdict v;

	osh_proxy_engine_decide(e, "api.github.com", 8443, &w, &v);
	cr_assert(v.allow, "%s", v.reason);
	cr_assert_str_eq(v.policy, "zeta");
	osh_proxy_engine_unref(e);
}

Test(engine, no_policy)
{
	struct osh_proxy_engine *e = engine("version: 1\n", 1);
	struct osh_proxy_who w = who("/usr/bin/curl");
	struct osh_proxy_verdict v;

	osh_proxy_engine_decide(e, "a.b", 443, &w, &v);
	cr_assert_not(v.allow);
	cr_assert_str_eq(v.reason, "network connections not allowed by policy");
	osh_proxy_engine_decide(NULL, "a.b", 443, &w, &v);
	cr_assert_str_eq(v.reason, "network connections not allowed by policy");
	osh_proxy_engine_unref(e);
	osh_proxy_engine_unref(NULL);
}

Test(engine, allowed_ips_endpoint_config)
{
	struct osh_proxy_engine *e = engine("network_policies:\n"
					    "  l4:\n"
					    "    endpoints: [{host: db.internal, port: 5432}]\n"
					    "    binaries: [{path: /usr/bin/psql}]\n"
					    "  pinned:\n"
					    "    endpoints:\n"
					    "      - host: db.internal\n"
					    "        port: 5432\n"
					    "        allowed_ips: [10.0.5.0/24]\n"
					    "    binaries: [{path: /usr/bin/psql}]\n"
					    "  hostless:\n"
					    "    endpoints:\n"
					    "      - port: 9000\n"
					    "        allowed_ips: [10.9.0.0/16]\n"
					    "    binaries: [{path: /usr/bin/psql}]\n",
					    1);
	struct osh_proxy_who w = who("/usr/bin/psql");
	struct osh_proxy_verdict v;

	osh_proxy_engine_decide(e, "db.internal", 5432, &w, &v);
	cr_assert(v.allow);
	cr_assert_str_eq(v.policy, "l4");
	cr_assert_not_null(v.ep, "extended config comes from the matching 'pinned' policy");
	cr_assert_eq(v.ep->n_allowed, 1);
	cr_assert_eq(v.ep->allowed[0].prefix, 24);
	osh_proxy_engine_decide(e, "anything.example", 9000, &w, &v);
	cr_assert(v.allow, "hostless allowed_ips endpoint matches any host");
	cr_assert_str_eq(v.policy, "hostless");
	cr_assert_not_null(v.ep);
	osh_proxy_engine_decide(e, "anything.example", 9001, &w, &v);
	cr_assert_not(v.allow);
	osh_proxy_engine_unref(e);
}

Test(engine, compile_refusals_name_the_field)
{
	refused("network_policies:\n  p:\n    endpoints: [{host: \"*\", port: 443}]\n",
		"network_policies.p.endpoints[0].host: '*' would match every host");
	refused("network_policies:\n  p:\n    endpoints: [{host: \"**\", port: 443}]\n",
		"would match every host");
	refused("network_policies:\n  p:\n    endpoints: [{host: \"api*.x.com\", port: 443}]\n",
		"must start with '*.'");
	refused("network_policies:\n  p:\n    endpoints: [{host: a.com}]\n",
		"network_policies.p.endpoints[0].port: 0 is not a port");
	refused("network_policies:\n  p:\n    endpoints: [{host: a.com, ports: [80, 70000]}]\n",
		"ports: 70000");
	refused("network_policies:\n  p:\n    endpoints: [{host: a.com, port: 1, allowed_ips: "
		"[10.0.0.1/8]}]\n",
		"allowed_ips[0]: '10.0.0.1/8' is not an IP address or CIDR");
	refused("network_policies:\n  p:\n    endpoints: [{port: 1}]\n",
		"needs a host or allowed_ips");
	refused("network_policies:\n  p:\n    endpoints: [{host: a.com, port: 1}]\n"
		"    binaries: [{path: curl}]\n",
		"network_policies.p.binaries[0].path: 'curl' is not an absolute path");
}
