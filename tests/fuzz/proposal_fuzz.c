/* proposal_fuzz.c - libFuzzer target for policy proposals: what a supervisor
 * (any holder of a sandbox credential) sends in SubmitPolicyAnalysis, and the
 * mapper's text functions on hosts and paths taken from requests.
 *
 * DESIGN: byte 0 picks the mode.
 *   even: the rest is a SubmitPolicyAnalysisRequest on the wire, unpacked as
 *         src/rpc does; every chunk goes through gw_proposal_check (the
 *         gateway's checks before it stores anything) and, when accepted,
 *         its rule is unpacked from the stored bytes and merged into a valid
 *         base policy with gw_proposal_merge, exactly as DecidePolicyProposal
 *         does, then the result is validated and hashed.
 *   odd:  the rest is split at the first NUL into a host and a path for
 *         osh_denial_rule_name, osh_denial_generalize_path and
 *         osh_denial_ip_internal.
 * Invariants (abort = finding): no crash/leak/UB; a refused chunk has a
 * NUL-terminated reason naming something; an accepted row has confidence in
 * 0..1000, hit_count in 1..1000000, first_seen <= last_seen, a stored rule
 * that unpacks again, and a rule name that passes the policy layer inside a
 * merged policy or is refused by validation with a reason; rule names only
 * hold [A-Za-z0-9_] after "allow_" and fit their buffer; a generalised path
 * is never longer than the input plus one byte. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_denials.h"
#include "osh_policy.h"
#include "proposals.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_yaml[] = "version: 1\n"
				"filesystem_policy: {read_write: [/tmp]}\n"
				"network_policies:\n"
				"  allow_localhost_80:\n"
				"    endpoints: [{host: localhost, port: 80}]\n"
				"    binaries: [{path: /usr/bin/curl}]\n";

static void submit(const uint8_t *data, size_t size)
{
	Openshell__V1__SubmitPolicyAnalysisRequest *req =
	    openshell__v1__submit_policy_analysis_request__unpack(NULL, size, data);

	if (!req)
		return;
	for (size_t i = 0; i < req->n_proposed_chunks; i++) {
		struct osh_gw_proposal row;
		char why[600] = "";
		int rc = gw_proposal_check(req->proposed_chunks[i], "sb-1", &row, why, sizeof(why));

		if (rc != 0) {
			if (rc != OSH_EINVAL && rc != OSH_ENOMEM)
				abort();
			if (rc == OSH_EINVAL && (why[0] == '\0' || !memchr(why, '\0', sizeof(why))))
				abort();
			free(row.rule);
			continue;
		}
		if (row.confidence_milli < 0 || row.confidence_milli > 1000 || row.hit_count < 1 ||
		    row.hit_count > 1000000 || row.first_seen_ms > row.last_seen_ms || !row.host ||
		    !row.binary || !row.rule_name)
			abort();
		{
			Openshell__V1__NetworkPolicyRule *rule =
			    openshell__v1__network_policy_rule__unpack(NULL, row.rule_len,
								       (const uint8_t *)row.rule);
			osh_policy_pb *pol = NULL;
			char err[512], hash[65];

			if (!rule)
				abort(); /* stored bytes must read back */
			if (osh_policy_parse_yaml(base_yaml, sizeof(base_yaml) - 1, "base", &pol,
						  err, sizeof(err)) != 0)
				abort();
			if (gw_proposal_merge(pol, row.rule_name, rule) == 0) {
				err[0] = '\0';
				if (osh_policy_validate(pol, err, sizeof(err)) != 0 &&
				    err[0] == '\0')
					abort();
				if (osh_policy_hash(pol, hash) != 0)
					abort();
			}
			osh_policy_free(pol);
		}
		free(row.rule);
	}
	openshell__v1__submit_policy_analysis_request__free_unpacked(req, NULL);
}

static void text(const uint8_t *data, size_t size)
{
	char *host = malloc(size + 1), *path, name[96], gen[256];
	size_t hl;

	if (!host)
		return;
	memcpy(host, data, size);
	host[size] = '\0';
	hl = strlen(host);
	path = hl < size ? host + hl + 1 : host + hl;
	osh_denial_rule_name(host, (uint16_t)size, name, sizeof(name));
	if (strncmp(name, "allow_", 6) != 0 || strlen(name) >= sizeof(name))
		abort();
	for (const char *p = name + 6; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			abort();
	osh_denial_generalize_path(path, gen, sizeof(gen));
	if (strlen(gen) > strlen(path) + 1 && strlen(gen) > 1)
		abort();
	(void)osh_denial_ip_internal(host);
	free(host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		submit(data + 1, size - 1);
	else
		text(data + 1, size - 1);
	return 0;
}
