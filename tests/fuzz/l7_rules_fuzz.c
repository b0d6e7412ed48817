/* l7_rules_fuzz.c - libFuzzer target for the L7 REST rule matcher
 * (src/supervisor/l7/l7_rules.c): method and target come straight from a
 * sandboxed agent's request.
 *
 * DESIGN: the input is "METHOD\nTARGET" (a missing newline leaves the
 * method empty); it is matched against fixed rule sets compiled once from
 * YAML (globs, query matchers, presets). Oracles besides ASan/UBSan:
 *   - the verdict is one of the three; ALLOW names a rule (non-empty text);
 *   - full and read-only presets are total: full allows everything,
 *     read-only allows exactly GET/HEAD/OPTIONS (any case);
 *   - the matcher is deterministic (same verdict twice) and does not depend
 *     on the rule buffer's size (a 0-byte buffer gives the same verdict);
 *   - query decoding never writes past its buffer and a decoded string has
 *     no NUL inside (its length equals strlen).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osh_l7_rules.h"
#include "osh_policy.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static const char yaml[] = "version: 1\n"
			   "network_policies:\n"
			   "  a:\n"
			   "    endpoints:\n"
			   "      - {host: a.test, port: 443, protocol: rest, access: full}\n"
			   "      - {host: b.test, port: 443, protocol: rest, access: read-only}\n"
			   "      - host: c.test\n"
			   "        port: 443\n"
			   "        protocol: rest\n"
			   "        rules:\n"
			   "          - allow: {method: GET, path: \"/repos/*/issues/**\"}\n"
			   "          - allow: {method: POST, path: \"/a/*b*/c\"}\n"
			   "          - allow:\n"
			   "              method: \"*\"\n"
			   "              path: /search\n"
			   "              query: {q: \"x*y\", sort: {any: [\"*a*\", b]}}\n"
			   "    binaries: [{path: /usr/bin/curl}]\n";

static struct osh_l7_rules *full, *ro, *custom;

static void init(void)
{
	osh_policy_pb *p = NULL;
	char err[512];
	const Openshell__V1__NetworkPolicyRule *r;

	CHECK(osh_policy_parse_yaml(yaml, sizeof(yaml) - 1, "fuzz", &p, err, sizeof(err)) == 0);
	r = p->network_policies[0]->value;
	CHECK(osh_l7_rules_compile(r->endpoints[0], "e0", &full, err, sizeof(err)) == 0);
	CHECK(osh_l7_rules_compile(r->endpoints[1], "e1", &ro, err, sizeof(err)) == 0);
	CHECK(osh_l7_rules_compile(r->endpoints[2], "e2", &custom, err, sizeof(err)) == 0);
	osh_policy_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	const char *method, *target;
	char *nl, rule[64], dec[256];
	enum osh_l7_match m, m2;
	long dl;

	if (!full)
		init();
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	nl = strchr(in, '\n');
	method = nl ? in : "";
	target = nl ? nl + 1 : in;
	if (nl)
		*nl = '\0';

	m = osh_l7_rules_match(full, method, target, rule, sizeof(rule));
	CHECK(m == OSH_L7_MATCH_ALLOW && rule[0]);
	m = osh_l7_rules_match(ro, method, target, rule, sizeof(rule));
	CHECK((m == OSH_L7_MATCH_ALLOW) ==
	      (!strcasecmp(method, "GET") || !strcasecmp(method, "HEAD") ||
	       !strcasecmp(method, "OPTIONS")));
	m = osh_l7_rules_match(custom, method, target, rule, sizeof(rule));
	CHECK(m == OSH_L7_MATCH_ALLOW || m == OSH_L7_MATCH_NONE || m == OSH_L7_MATCH_BAD_QUERY);
	if (m == OSH_L7_MATCH_ALLOW)
		CHECK(rule[0]);
	m2 = osh_l7_rules_match(custom, method, target, NULL, 0);
	CHECK(m == m2);

	dl = osh_l7_query_decode(target, strlen(target), dec, sizeof(dec));
	CHECK(dl >= -1 && dl < (long)sizeof(dec));
	if (dl >= 0)
		CHECK((size_t)dl == strlen(dec));
	free(in);
	return 0;
}
