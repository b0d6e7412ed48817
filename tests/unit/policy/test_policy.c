/* test_osh_policy.c - YAML policy reader, validation, copy and hash.
 * DESIGN: policies as inline YAML texts; errors are checked for the
 * file:line:col and the key they must name. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_policy.h"
#include "osh_testdir.h"

static const char full[] = "version: 3\n"
			   "filesystem_policy:\n"
			   "  include_workdir: true\n"
			   "  read_only: [/usr, /lib]\n"
			   "  read_write:\n"
			   "    - /sandbox\n"
			   "    - /tmp\n"
			   "landlock:\n"
			   "  compatibility: best_effort\n"
			   "process:\n"
			   "  run_as_user: sandbox\n"
			   "  run_as_group: sandbox\n"
			   "network_policies:\n"
			   "  github:\n"
			   "    endpoints:\n"
			   "      - host: api.github.com\n"
			   "        port: 443\n"
			   "        protocol: rest\n"
			   "        rules:\n"
			   "          - allow:\n"
			   "              method: GET\n"
			   "              path: /repos/**\n"
			   "              query:\n"
			   "                page: \"[0-9]*\"\n"
			   "                sort: {any: [asc, desc]}\n"
			   "      - host: \"*.githubusercontent.com\"\n"
			   "        ports: [443, 8443]\n"
			   "    binaries:\n"
			   "      - path: /usr/bin/curl\n"
			   "  internal:\n"
			   "    name: corp-net\n"
			   "    endpoints:\n"
			   "      - allowed_ips: [10.0.5.0/24, 10.0.6.7]\n"
			   "        port: 5432\n"
			   "    binaries: [{path: /usr/bin/psql}]\n";

static osh_policy_pb *parse_ok(const char *text)
{
	osh_policy_pb *p = NULL;
	char err[512];

	cr_assert_eq(osh_policy_parse_yaml(text, strlen(text), "t.yaml", &p, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_not_null(p);
	return p;
}

static void parse_fails(const char *text, const char *needle)
{
	osh_policy_pb *p = (osh_policy_pb *)1;
	char err[512];
	int rc = osh_policy_parse_yaml(text, strlen(text), "t.yaml", &p, err, sizeof(err));

	cr_assert_eq(rc, OSH_EPARSE, "'%s' parsed", text);
	cr_assert_null(p);
	cr_assert(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
}

static void invalid(const char *text, const char *needle)
{
	osh_policy_pb *p = parse_ok(text);
	char err[512];

	cr_assert_eq(osh_policy_validate(p, err, sizeof(err)), OSH_EINVAL, "'%s' valid", text);
	cr_assert(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
	osh_policy_free(p);
}

Test(policy, full_document_maps_onto_the_proto)
{
	osh_policy_pb *p = parse_ok(full);
	char err[256];
	const Openshell__V1__NetworkPolicyRule *gh, *in;
	const Openshell__V1__L7Allow *allow;

	cr_assert_eq(p->version, 3);
	cr_assert(p->filesystem->include_workdir);
	cr_assert_eq(p->filesystem->n_read_only, 2);
	cr_assert_str_eq(p->filesystem->read_write[1], "/tmp");
	cr_assert_str_eq(p->landlock->compatibility, "best_effort");
	cr_assert_str_eq(p->process->run_as_group, "sandbox");
	cr_assert_eq(p->n_network_policies, 2);
	cr_assert_str_eq(p->network_policies[0]->key, "github");
	gh = p->network_policies[0]->value;
	cr_assert_str_eq(gh->name, "github", "name defaults to the key");
	cr_assert_eq(gh->n_endpoints, 2);
	cr_assert_eq(gh->endpoints[0]->port, 443);
	allow = gh->endpoints[0]->rules[0]->allow;
	cr_assert_str_eq(allow->method, "GET");
	cr_assert_eq(allow->n_query, 2);
	cr_assert_str_eq(allow->query[0]->value->glob, "[0-9]*", "bare string = glob");
	cr_assert_eq(allow->query[1]->value->n_any, 2);
	cr_assert_eq(gh->endpoints[1]->n_ports, 2);
	cr_assert_eq(gh->endpoints[1]->ports[1], 8443);
	cr_assert_str_eq(gh->binaries[0]->path, "/usr/bin/curl");
	in = p->network_policies[1]->value;
	cr_assert_str_eq(in->name, "corp-net", "an explicit name is kept");
	cr_assert_eq(in->endpoints[0]->n_allowed_ips, 2);
	cr_assert_eq(osh_policy_validate(p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(osh_policy_rule_count(p), 2);
	osh_policy_free(p);
}

Test(policy, unknown_keys_are_rejected_with_position)
{
	parse_fails("version: 1\nfilesystem_policy:\n  read_only: [/usr]\n  writeable: [/x]\n",
		    "t.yaml:4:3: unknown key 'writeable' in FilesystemPolicy");
	parse_fails("versoin: 1\n", "t.yaml:1:1: unknown key 'versoin'");
	parse_fails("network_policies:\n  a:\n    endpoints:\n      - host: x\n        prot: 1\n",
		    "t.yaml:5:9: unknown key 'prot' in NetworkEndpoint");
}

Test(policy, wrong_types_and_syntax)
{
	parse_fails("version: three\n", "t.yaml:1:10: 'version' must be an integer");
	parse_fails("version: -1\n", "must be an integer");
	parse_fails("version: 4294967296\n", "must be an integer");
	parse_fails("filesystem_policy: [a]\n", "'filesystem' must be a mapping");
	parse_fails("filesystem_policy:\n  read_only: /usr\n", "'read_only' must be a list");
	parse_fails("filesystem_policy:\n  include_workdir: maybe\n", "must be true or false");
	parse_fails("version: 1\nversion: 2\n", "t.yaml:2:1: duplicate key 'version'");
	parse_fails("network_policies: {a: {}, a: {}}\n", "duplicate key 'a'");
	parse_fails("version: [1\n", "t.yaml:");
	parse_fails("- 1\n- 2\n", "a policy must be a mapping");
	parse_fails("", "empty policy");
}

/* F23: a field given twice under its alias was an overwrite (the first
 * value leaked, the second silently won); it is a duplicate key now. Under
 * ASan/LSan (the sanitizer CI pass) these also prove the error paths free. */
Test(policy, a_field_given_twice_under_its_alias_is_a_duplicate)
{
	parse_fails(
	    "filesystem:\n  read_write: [/tmp/a]\nfilesystem_policy:\n  read_only: [/usr]\n",
	    "t.yaml:3:1: duplicate key 'filesystem_policy': 'filesystem' sets the same field");
	parse_fails(
	    "filesystem_policy: {read_only: [/usr]}\nfilesystem: {include_workdir: true}\n",
	    "t.yaml:2:1: duplicate key 'filesystem': 'filesystem_policy' sets the same field");
	parse_fails("filesystem: {read_only: [/a]}\nversion: 1\nfilesystem: {read_only: [/b]}\n",
		    "t.yaml:3:1: duplicate key 'filesystem'");
}

Test(policy, validation_names_the_problem)
{
	invalid("filesystem_policy: {read_only: [usr]}\n", "filesystem.read_only[0]");
	invalid("filesystem_policy: {read_write: [/]}\n", "overly broad");
	invalid("filesystem_policy: {read_write: [/a/../etc]}\n", "contains '..'");
	invalid("landlock: {compatibility: strict}\n", "landlock.compatibility");
	invalid("network_policies: {a: {endpoints: [{host: '*', port: 1}]}}\n",
		"matches every host");
	invalid("network_policies: {a: {endpoints: [{host: 'api.*.com', port: 1}]}}\n",
		"must start with '*.'");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 70000}]}}\n",
		"a.endpoints[0].port");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 1, ports: [2]}]}}\n",
		"not both");
	invalid("network_policies: {a: {endpoints: [{host: h}]}}\n", "needs port or ports");
	invalid("network_policies: {a: {endpoints: [{port: 1}]}}\n", "needs a host");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 1, protocol: ftp}]}}\n",
		"protocol: unknown 'ftp'");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 1, protocol: rest}]}}\n",
		"needs rules or access");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 1, protocol: sql, access: "
		"full, enforcement: enforce}]}}\n",
		"SQL enforcement");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 1, allowed_ips: "
		"[10.0.0.0/33]}]}}\n",
		"allowed_ips[0]");
	invalid("network_policies: {a: {endpoints: [{host: h, port: 1, rules: [{allow: "
		"{query: {q: {glob: x, any: [y]}}}}]}]}}\n",
		"exactly one of glob / any");
	invalid("network_policies: {a: {binaries: [{path: ''}]}}\n", "binaries[0].path");
}

Test(policy, copy_and_hash_are_stable)
{
	osh_policy_pb *p = parse_ok(full);
	osh_policy_pb *c = NULL;
	char h1[65], h2[65];

	cr_assert_eq(osh_policy_copy(p, &c), 0);
	cr_assert_eq(osh_policy_hash(p, h1), 0);
	cr_assert_eq(osh_policy_hash(c, h2), 0);
	cr_assert_str_eq(h1, h2);
	cr_assert_eq(strlen(h1), 64);
	c->version = 4;
	cr_assert_eq(osh_policy_hash(c, h2), 0);
	cr_assert_str_neq(h1, h2);
	osh_policy_free(p);
	osh_policy_free(c);
}

Test(policy, load_file)
{
	char *dir = osh_testdir_new("pol");
	char path[4200];
	FILE *f;
	osh_policy_pb *p = NULL;
	char err[256];

	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	cr_assert_eq(osh_policy_load_file(path, &p, err, sizeof(err)), OSH_EIO);
	cr_assert(strstr(err, "cannot open"), "%s", err);
	f = fopen(path, "w");
	fputs(full, f);
	fclose(f);
	cr_assert_eq(osh_policy_load_file(path, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p->version, 3);
	osh_policy_free(p);
	osh_testdir_finish(dir);
}

/* finding 1 of docs/security.md: aliases used to be expanded per reference
 * (exponential); now any alias is refused where it stands. */
Test(policy, aliases_are_refused_with_position)
{
	parse_fails("version: 1\nfilesystem: &fs\n  read_only: [/usr]\nx: *fs\n",
		    "t.yaml:4:4: YAML aliases");
	parse_fails("version: 1\nlandlock: {compatibility: &c best_effort}\n"
		    "process: {run_as_user: *c}\n",
		    "aliases (*name) are not allowed");
}

Test(policy, alias_bomb_is_refused_fast)
{
	/* 30 nested levels of 2 references each: 2^30 expansions if walked. */
	char text[4096];
	size_t n = 0;
	osh_policy_pb *p = NULL;
	char err[512];

	n += (size_t)snprintf(text + n, sizeof(text) - n, "version: 1\nx0: &a0 [a]\n");
	for (int i = 1; i <= 30; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "x%d: &a%d [*a%d, *a%d]\n", i, i,
				      i - 1, i - 1);
	cr_assert_lt(n, sizeof(text));
	cr_assert_eq(osh_policy_parse_yaml(text, n, "bomb.yaml", &p, err, sizeof(err)), OSH_EPARSE);
	cr_assert_null(p);
	cr_assert(strstr(err, "bomb.yaml:3:") && strstr(err, "aliases"), "%s", err);
}

Test(policy, size_and_node_limits)
{
	size_t big = OSH_POLICY_MAX_BYTES + 1, n = 0;
	char *text = malloc(big + 1);
	osh_policy_pb *p = NULL;
	char err[512];

	cr_assert_not_null(text);
	memset(text, '#', big); /* a comment: valid YAML, only too long */
	text[big] = '\0';
	cr_assert_eq(osh_policy_parse_yaml(text, big, "big.yaml", &p, err, sizeof(err)),
		     OSH_ETOOBIG);
	cr_assert_null(p);
	cr_assert(strstr(err, "big.yaml:") && strstr(err, "1 MiB"), "%s", err);

	/* Under the byte cap but over the node cap: a flat list of scalars. */
	n += (size_t)snprintf(text, big, "version: 1\nfilesystem: {read_only: [");
	for (unsigned i = 0; i <= OSH_POLICY_MAX_NODES; i++)
		n += (size_t)snprintf(text + n, big - n, "/a,");
	n += (size_t)snprintf(text + n, big - n, "/a]}\n");
	cr_assert_lt(n, OSH_POLICY_MAX_BYTES);
	cr_assert_eq(osh_policy_parse_yaml(text, n, "many.yaml", &p, err, sizeof(err)),
		     OSH_ETOOBIG);
	cr_assert_null(p);
	cr_assert(strstr(err, "many.yaml:2:") && strstr(err, "YAML nodes"), "%s", err);
	free(text);
}

Test(policy, anchors_without_aliases_still_parse)
{
	osh_policy_pb *p = parse_ok("version: 2\nfilesystem: &fs {read_only: [/usr]}\n");

	cr_assert_eq(p->version, 2);
	osh_policy_free(p);
}
