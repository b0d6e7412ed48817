/* proxy_policy.h - the network policy engine: which binary may reach which
 * host:port, and why not.
 *
 * DESIGN
 * Upstream evaluates a Rego program; here the same rules are plain C over a
 * structure compiled once per policy generation:
 *   - endpoint match: a host without '*' is compared case-insensitively; a
 *     host glob is matched label by label ('.' separator): '*' inside a
 *     label matches within that label only, a '**' label matches one or
 *     more labels ("*.example.com" matches a.example.com but neither
 *     example.com nor a.b.example.com); an endpoint with an empty host and
 *     allowed_ips matches any host. The port must be in `ports` (or equal
 *     `port` when `ports` is empty).
 *   - binary match: a path without '*' equals the executable or one of its
 *     ancestors' executables; a path glob is matched segment by segment
 *     ('/' separator: '*' within a segment, '**' one or more segments).
 *     Command-line paths never grant (argv is the caller's to forge); they
 *     only appear in deny reasons.
 *   - allow iff one network policy matches both endpoint and binary; the
 *     matched policy is the lexicographically smallest key (deterministic
 *     with overlapping policies). Its first endpoint (in key order) that
 *     matches and carries extended config (allowed_ips, protocol or tls) is
 *     the verdict's endpoint: its allowed_ips feed the SSRF check, its
 *     protocol/tls/enforcement and compiled REST rules (osh_l7_rules.h) the
 *     L7 hand-off (docs/l7.md).
 *   - deny reason: "network connections not allowed by policy" without any
 *     network policy, else "; "-joined per policy:
 *     "endpoint <host>:<port> not in policy '<name>'" or
 *     "binary '<exe>' (ancestors: [a -> b], cmdline: [x, y]) not allowed in
 *     policy '<name>'".
 * Compilation refuses what it cannot apply (host '*', a glob not starting
 * with "*." / "**.", a port outside 1..65535 or none, a malformed
 * allowed_ips entry, an empty or relative binary path) with a message naming
 * the field, so a bad policy never half-applies: the caller keeps the last
 * good engine.
 *
 * Ownership and threads: an engine is immutable after compile and
 * refcounted; osh_proxy_engine_ref/unref are atomic, so any number of
 * threads may decide on one engine while a new one is compiled and swapped
 * in. Everything a verdict points to is owned by the engine and valid while
 * the caller holds a reference.
 */
#ifndef OSH_PROXY_POLICY_H
#define OSH_PROXY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"
#include "osh_l7_rules.h"
#include "proxy_ssrf.h"
#include "sandbox.pb-c.h"

struct osh_proxy_engine;

/* One endpoint of a compiled policy (read-only for callers). */
struct osh_proxy_endpoint {
	char *host; /* lower-cased; "" = any host (allowed_ips endpoint) */
	bool glob;
	uint16_t *ports;
	size_t n_ports;
	struct osh_cidr *allowed;
	size_t n_allowed;
	char *protocol; /* "" = L4 only */
	char *tls;
	char *enforcement;
	bool extended;		 /* allowed_ips, protocol or tls set */
	struct osh_l7_rules *l7; /* REST/SQL rules (osh_l7_rules.h); NULL = L4 only */
};

/* Who is connecting: the executable, its ancestors' executables (nearest
 * first) and the absolute paths seen on their command lines. Borrowed. */
struct osh_proxy_who {
	const char *exe;
	const char *const *ancestors;
	size_t n_ancestors;
	const char *const *cmdline;
	size_t n_cmdline;
};

#define OSH_PROXY_REASON_MAX 1024

struct osh_proxy_verdict {
	bool allow;
	const char *policy;		     /* matched policy key (engine-owned), NULL on deny */
	const char *policy_name;	     /* its `name` (defaults to the key) */
	const struct osh_proxy_endpoint *ep; /* endpoint with extended config or NULL */
	char reason[OSH_PROXY_REASON_MAX];   /* deny reason; "" on allow */
};

/* Compiles `policy` (NULL = no policy: everything is denied) into a new
 * engine with one reference. Returns 0, OSH_EINVAL with err naming the
 * field ("network_policies.github.endpoints[0].host: ..."), or OSH_ENOMEM.
 * The policy is not kept (everything is copied). */
OSH_MUST_CHECK int osh_proxy_engine_compile(const Openshell__V1__SandboxPolicy *policy,
					    uint64_t generation, struct osh_proxy_engine **out,
					    char *err, size_t errlen);

struct osh_proxy_engine *osh_proxy_engine_ref(struct osh_proxy_engine *e);
void osh_proxy_engine_unref(struct osh_proxy_engine *e); /* NULL ok */

uint64_t osh_proxy_engine_generation(const struct osh_proxy_engine *e);
size_t osh_proxy_engine_rules(const struct osh_proxy_engine *e);
/* Endpoints with REST rules (protocol: rest) in the engine; *tls_skip (may
 * be NULL) gets how many of them say `tls: skip` (their CONNECT tunnels
 * stay opaque). */
size_t osh_proxy_engine_l7_endpoints(const struct osh_proxy_engine *e, size_t *tls_skip);

/* The decision for `host` (any case) : `port` by `who`. Never fails. */
void osh_proxy_engine_decide(const struct osh_proxy_engine *e, const char *host, uint16_t port,
			     const struct osh_proxy_who *who, struct osh_proxy_verdict *v);

/* L7: is the request method + target (origin-form path[?query]) allowed
 * by the REST rules of some endpoint matching host:port in a policy whose
 * binaries match `who`? (Any such policy may allow it; an L4-only endpoint
 * has no rules and allows nothing here.) On true, *policy is that policy's
 * key and rule names the allowing rule. Never fails. */
bool osh_proxy_engine_l7_allow(const struct osh_proxy_engine *e, const char *host, uint16_t port,
			       const struct osh_proxy_who *who, const char *method,
			       const char *target, const char **policy, char *rule, size_t rlen);

/* The glob matchers, exposed for tests. `sep` is '.' for hosts, '/' for
 * paths. Case-sensitive: hosts are lower-cased by the caller. */
bool osh_proxy_glob_match(const char *pattern, const char *s, char sep);

#endif
