/* osh_l7_rules.h - the REST rules of one policy endpoint: which method, path
 * and query a request may have.
 *
 * DESIGN
 * A network endpoint with `protocol: rest` carries either `rules` (each an
 * `allow` of method / path glob / query matchers) or an `access` preset:
 *   read-only   GET, HEAD, OPTIONS on every path
 *   read-write  read-only + POST, PUT, PATCH
 *   full        every method on every path
 * A request is allowed when one rule allows it:
 *   - method: `*`, or equal ignoring case;
 *   - path (the target without its query): `**` alone, or a glob on '/'
 *     segments where `*` matches within one segment and a `**` segment one
 *     or more segments (osh_proxy_glob_match);
 *   - query: for every key the rule names, the request carries the key at
 *     least once and every value of it matches the rule's `glob` or one of
 *     its `any` globs (`*` matches any run of bytes); keys the rule does not
 *     name are free. The query is split on '&', `key[=value]`, `+` is a
 *     space and %XX is decoded; a malformed escape makes the query
 *     undecodable, which no rule with query matchers allows.
 * `protocol: sql` compiles to a rule set that is never enforced (the relay
 * only audits SQL; docs/l7.md).
 * Compiled once per policy generation, immutable afterwards; matching is
 * pure, allocation-free and bounded (at most OSH_L7_QUERY_MAX pairs are
 * considered; a longer query is undecodable).
 *
 * Ownership: osh_l7_rules_compile returns a set the caller frees with
 * osh_l7_rules_free; the proto is not kept. Matching is thread-safe.
 */
#ifndef OSH_L7_RULES_H
#define OSH_L7_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "osh_err.h"
#include "sandbox.pb-c.h"

#define OSH_L7_QUERY_MAX  64u	/* query pairs decoded per request */
#define OSH_L7_TARGET_MAX 8192u /* bytes of a request target */

enum osh_l7_proto { OSH_L7_NONE, OSH_L7_REST, OSH_L7_SQL };

struct osh_l7_rules;

/* Compiles ep's L7 part. *out is NULL when the endpoint has no protocol
 * (L4 only). Returns 0, OSH_EINVAL (err names the field, prefixed by
 * `where`, e.g. "network_policies.api.endpoints[0]") or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_l7_rules_compile(const Openshell__V1__NetworkEndpoint *ep, const char *where,
					struct osh_l7_rules **out, char *err, size_t errlen);

void osh_l7_rules_free(struct osh_l7_rules *r); /* NULL ok */

enum osh_l7_proto osh_l7_rules_proto(const struct osh_l7_rules *r);
bool osh_l7_rules_enforce(const struct osh_l7_rules *r);  /* enforcement: enforce */
bool osh_l7_rules_tls_skip(const struct osh_l7_rules *r); /* tls: skip */
size_t osh_l7_rules_count(const struct osh_l7_rules *r);

enum osh_l7_match {
	OSH_L7_MATCH_ALLOW,	/* a rule allows it */
	OSH_L7_MATCH_NONE,	/* no rule allows it */
	OSH_L7_MATCH_BAD_QUERY, /* the query could not be decoded (and no rule
				   without query matchers allowed it) */
};

/* Matches method + target (origin-form path[?query], as sent) against r.
 * On ALLOW, `rule` (if rlen > 0) names the allowing rule ("GET /repos/x"
 * or "access read-only"). Pure; never reads past the strings' NULs. */
enum osh_l7_match osh_l7_rules_match(const struct osh_l7_rules *r, const char *method,
				     const char *target, char *rule, size_t rlen);

/* Decodes one %XX/+ query component into out (outcap bytes incl. NUL).
 * Returns the decoded length or -1 on a malformed escape, an embedded NUL
 * or an overflow. Exposed for tests and the fuzz target. */
long osh_l7_query_decode(const char *s, size_t n, char *out, size_t outcap);

/* The wildcard matcher of query values: '*' any run of bytes. */
bool osh_l7_wild_match(const char *pattern, const char *s);

#endif
