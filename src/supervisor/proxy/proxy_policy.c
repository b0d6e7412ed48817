/* proxy_policy.c - the network policy engine (rules in proxy_policy.h).
 *
 * DESIGN
 * A compiled engine is one calloc'd struct with arrays of rules, endpoints
 * and binaries, each string copied, rules sorted by key so "the smallest
 * matching key" is simply the first match. Globs are matched with a
 * segment-level dynamic programme (O(pattern segments x subject segments),
 * no backtracking blow-up whatever the pattern), each segment with a
 * '*'-only wildcard matcher.
 */
#include "proxy_policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bin {
	char *path;
	bool glob;
};

struct rule {
	char *key;
	char *name;
	struct osh_proxy_endpoint *eps;
	size_t n_eps;
	struct bin *bins;
	size_t n_bins;
};

struct osh_proxy_engine {
	unsigned refs; /* atomic */
	uint64_t generation;
	struct rule *rules; /* sorted by key */
	size_t n_rules;
};

/* ------------------------------------------------------------- globs */

/* '*' matches any run of bytes (within one segment: the caller never
 * passes a separator here). */
static bool seg_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pn && p[pi] == s[si]) {
			pi++;
			si++;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

#define GLOB_SEGS 64

struct segs {
	const char *at[GLOB_SEGS];
	size_t len[GLOB_SEGS];
	size_t n;
};

/* Splits s on sep; false when there are more than GLOB_SEGS segments. */
static bool split(const char *s, char sep, struct segs *out)
{
	const char *start = s;

	out->n = 0;
	for (const char *c = s;; c++) {
		if (*c == sep || *c == '\0') {
			if (out->n == GLOB_SEGS)
				return false;
			out->at[out->n] = start;
			out->len[out->n++] = (size_t)(c - start);
			if (*c == '\0')
				break;
			start = c + 1;
		}
	}
	return true;
}

bool osh_proxy_glob_match(const char *pattern, const char *s, char sep)
{
	struct segs P, S;
	/* m[i][j]: pattern segments [i..) match subject segments [j..) */
	bool m[GLOB_SEGS + 1][GLOB_SEGS + 1] = {{false}};

	if (!split(pattern, sep, &P) || !split(s, sep, &S))
		return false;
	for (size_t i = P.n + 1; i-- > 0;) {
		for (size_t j = S.n + 1; j-- > 0;) {
			bool r;

			if (i == P.n) {
				r = j == S.n;
			} else if (P.len[i] == 2 && P.at[i][0] == '*' && P.at[i][1] == '*') {
				/* one or more segments: consume one, then stay or move on */
				r = j < S.n && (m[i + 1][j + 1] || m[i][j + 1]);
			} else {
				r = j < S.n && seg_match(P.at[i], P.len[i], S.at[j], S.len[j]) &&
				    m[i + 1][j + 1];
			}
			m[i][j] = r;
		}
	}
	return m[0][0];
}

/* ----------------------------------------------------------- compile */

static char *lower_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	for (char *c = d; c && *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	return d;
}

static int cerr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OSH_EINVAL;
}

static int compile_endpoint(const Openshell__V1__NetworkEndpoint *src, const char *key, size_t i,
			    struct osh_proxy_endpoint *ep, char *err, size_t errlen)
{
	const char *h = src->host ? src->host : "";
	size_t np = src->n_ports > 0 ? src->n_ports : 1;
	int rc = 0;

	ep->host = lower_dup(h);
	ep->protocol = strdup(src->protocol ? src->protocol : "");
	ep->tls = strdup(src->tls ? src->tls : "");
	ep->enforcement = strdup(src->enforcement ? src->enforcement : "");
	ep->ports = calloc(np, sizeof(*ep->ports));
	ep->allowed = calloc(src->n_allowed_ips + 1, sizeof(*ep->allowed));
	ep->glob = strchr(h, '*') != NULL;
	if (!ep->host || !ep->protocol || !ep->tls || !ep->enforcement || !ep->ports ||
	    !ep->allowed)
		rc = OSH_ENOMEM;
	else if (strcmp(h, "*") == 0 || strcmp(h, "**") == 0)
		rc = cerr(err, errlen,
			  "network_policies.%s.endpoints[%zu].host: '%s' would match every host",
			  key, i, h);
	else if (ep->glob && strncmp(h, "*.", 2) != 0 && strncmp(h, "**.", 3) != 0)
		rc = cerr(err, errlen,
			  "network_policies.%s.endpoints[%zu].host: glob '%s' must start with "
			  "'*.' or '**.'",
			  key, i, h);
	else if (!*h && src->n_allowed_ips == 0)
		rc =
		    cerr(err, errlen,
			 "network_policies.%s.endpoints[%zu]: needs a host or allowed_ips", key, i);
	for (size_t k = 0; k < np && rc == 0; k++) {
		uint32_t p = src->n_ports > 0 ? src->ports[k] : src->port;

		if (p == 0 || p > 65535)
			rc = cerr(err, errlen,
				  "network_policies.%s.endpoints[%zu].port%s: %u is not a port "
				  "(1..65535)",
				  key, i, src->n_ports > 0 ? "s" : "", p);
		else
			ep->ports[k] = (uint16_t)p;
	}
	if (rc == 0) {
		char where[300];

		snprintf(where, sizeof(where), "network_policies.%s.endpoints[%zu]", key, i);
		rc = osh_l7_rules_compile(src, where, &ep->l7, err, errlen);
	}
	for (size_t k = 0; k < src->n_allowed_ips && rc == 0; k++)
		if (osh_proxy_cidr_parse(src->allowed_ips[k], &ep->allowed[k]) != 0)
			rc = cerr(err, errlen,
				  "network_policies.%s.endpoints[%zu].allowed_ips[%zu]: '%s' is "
				  "not an IP address or CIDR",
				  key, i, k, src->allowed_ips[k]);
	if (rc == 0) {
		ep->n_ports = np;
		ep->n_allowed = src->n_allowed_ips;
		ep->extended = ep->n_allowed > 0 || *ep->protocol || *ep->tls;
	}
	return rc;
}

static int compile_rule(const Openshell__V1__SandboxPolicy__NetworkPoliciesEntry *src,
			struct rule *r, char *err, size_t errlen)
{
	const Openshell__V1__NetworkPolicyRule *v = src->value;
	const char *key = src->key ? src->key : "";
	int rc = 0;

	r->key = strdup(key);
	r->name = strdup(v && v->name && *v->name ? v->name : key);
	if (!r->key || !r->name)
		return OSH_ENOMEM;
	if (!v)
		return 0;
	r->eps = calloc(v->n_endpoints + 1, sizeof(*r->eps));
	r->bins = calloc(v->n_binaries + 1, sizeof(*r->bins));
	if (!r->eps || !r->bins)
		return OSH_ENOMEM;
	for (size_t i = 0; i < v->n_endpoints && rc == 0; i++) {
		rc = compile_endpoint(v->endpoints[i], key, i, &r->eps[i], err, errlen);
		r->n_eps = i + 1; /* freed by the caller, even half-built */
	}
	for (size_t i = 0; i < v->n_binaries && rc == 0; i++) {
		const char *p = v->binaries[i]->path ? v->binaries[i]->path : "";

		if (p[0] != '/')
			rc = cerr(err, errlen,
				  "network_policies.%s.binaries[%zu].path: '%s' is not an absolute "
				  "path",
				  key, i, p);
		else if (!(r->bins[i].path = strdup(p)))
			rc = OSH_ENOMEM;
		r->bins[i].glob = strchr(p, '*') != NULL;
		r->n_bins = i + 1;
	}
	return rc;
}

static void free_rule(struct rule *r)
{
	for (size_t i = 0; i < r->n_eps; i++) {
		free(r->eps[i].host);
		free(r->eps[i].ports);
		free(r->eps[i].allowed);
		osh_l7_rules_free(r->eps[i].l7);
		free(r->eps[i].protocol);
		free(r->eps[i].tls);
		free(r->eps[i].enforcement);
	}
	for (size_t i = 0; i < r->n_bins; i++)
		free(r->bins[i].path);
	free(r->eps);
	free(r->bins);
	free(r->key);
	free(r->name);
}

static void engine_free(struct osh_proxy_engine *e)
{
	for (size_t i = 0; i < e->n_rules; i++)
		free_rule(&e->rules[i]);
	free(e->rules);
	free(e);
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct rule *)a)->key, ((const struct rule *)b)->key);
}

int osh_proxy_engine_compile(const Openshell__V1__SandboxPolicy *policy, uint64_t generation,
			     struct osh_proxy_engine **out, char *err, size_t errlen)
{
	struct osh_proxy_engine *e = calloc(1, sizeof(*e));
	size_t n = policy ? policy->n_network_policies : 0;
	int rc = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!e || !(e->rules = calloc(n + 1, sizeof(*e->rules)))) {
		rc = OSH_ENOMEM;
		goto out;
	}
	e->refs = 1;
	e->generation = generation;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = compile_rule(policy->network_policies[i], &e->rules[i], err, errlen);
		e->n_rules = i + 1;
	}
	if (rc == 0) {
		qsort(e->rules, e->n_rules, sizeof(*e->rules), by_key);
		for (size_t i = 1; i < e->n_rules && rc == 0; i++)
			if (strcmp(e->rules[i - 1].key, e->rules[i].key) == 0)
				rc = cerr(err, errlen, "network_policies.%s: duplicate key",
					  e->rules[i].key);
	}
out:
	if (rc == OSH_ENOMEM && err && errlen)
		snprintf(err, errlen, "out of memory compiling the network policy");
	if (rc != 0 && e)
		engine_free(e);
	else
		*out = e;
	return rc;
}

struct osh_proxy_engine *osh_proxy_engine_ref(struct osh_proxy_engine *e)
{
	if (e)
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

void osh_proxy_engine_unref(struct osh_proxy_engine *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		engine_free(e);
}

uint64_t osh_proxy_engine_generation(const struct osh_proxy_engine *e)
{
	return e->generation;
}

size_t osh_proxy_engine_rules(const struct osh_proxy_engine *e)
{
	return e->n_rules;
}

/* ------------------------------------------------------------ decide */

static bool port_in(const struct osh_proxy_endpoint *ep, uint16_t port)
{
	for (size_t i = 0; i < ep->n_ports; i++)
		if (ep->ports[i] == port)
			return true;
	return false;
}

static bool ep_match(const struct osh_proxy_endpoint *ep, const char *host, uint16_t port)
{
	bool h;

	if (!port_in(ep, port))
		return false;
	if (!*ep->host)
		h = ep->n_allowed > 0;
	else if (ep->glob)
		h = osh_proxy_glob_match(ep->host, host, '.');
	else
		h = strcmp(ep->host, host) == 0;
	return h;
}

static bool bin_one(const struct bin *b, const char *path)
{
	if (!path || !*path)
		return false;
	return b->glob ? osh_proxy_glob_match(b->path, path, '/') : strcmp(b->path, path) == 0;
}

static bool bin_match(const struct rule *r, const struct osh_proxy_who *who)
{
	for (size_t i = 0; i < r->n_bins; i++) {
		if (bin_one(&r->bins[i], who->exe))
			return true;
		for (size_t k = 0; k < who->n_ancestors; k++)
			if (bin_one(&r->bins[i], who->ancestors[k]))
				return true;
	}
	return false;
}

/* Appends printf text to v->reason (silently cut at its size). */
static void addf(struct osh_proxy_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void addf(struct osh_proxy_verdict *v, const char *fmt, ...)
{
	size_t used = strlen(v->reason);
	va_list ap;

	if (used + 1 >= sizeof(v->reason))
		return;
	va_start(ap, fmt);
	vsnprintf(v->reason + used, sizeof(v->reason) - used, fmt, ap);
	va_end(ap);
}

static void add_list(struct osh_proxy_verdict *v, const char *const *xs, size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++)
		addf(v, "%s%s", i ? sep : "", xs[i]);
}

void osh_proxy_engine_decide(const struct osh_proxy_engine *e, const char *host_any, uint16_t port,
			     const struct osh_proxy_who *who, struct osh_proxy_verdict *v)
{
	char host[256];
	size_t n = 0;

	memset(v, 0, sizeof(*v));
	for (; host_any[n] && n + 1 < sizeof(host); n++)
		host[n] = (char)((host_any[n] >= 'A' && host_any[n] <= 'Z') ? host_any[n] + 32
									    : host_any[n]);
	host[n] = '\0';
	if (!e || e->n_rules == 0) {
		addf(v, "network connections not allowed by policy");
		return;
	}
	for (size_t i = 0; i < e->n_rules && !v->allow; i++) {
		const struct rule *r = &e->rules[i];
		bool any_ep = false;

		for (size_t k = 0; k < r->n_eps && !any_ep; k++)
			any_ep = ep_match(&r->eps[k], host, port);
		if (any_ep && bin_match(r, who)) {
			v->allow = true;
			v->policy = r->key;
			v->policy_name = r->name;
		}
	}
	if (v->allow) {
		/* first extended endpoint over matching policies, key order */
		for (size_t i = 0; i < e->n_rules && !v->ep; i++) {
			const struct rule *r = &e->rules[i];

			if (!bin_match(r, who))
				continue;
			for (size_t k = 0; k < r->n_eps && !v->ep; k++)
				if (r->eps[k].extended && ep_match(&r->eps[k], host, port))
					v->ep = &r->eps[k];
		}
		return;
	}
	for (size_t i = 0; i < e->n_rules; i++) {
		const struct rule *r = &e->rules[i];
		bool any_ep = false;

		for (size_t k = 0; k < r->n_eps && !any_ep; k++)
			any_ep = ep_match(&r->eps[k], host, port);
		if (v->reason[0])
			addf(v, "; ");
		if (!any_ep) {
			addf(v, "endpoint %s:%u not in policy '%s'", host, port, r->name);
		} else {
			addf(v, "binary '%s' (ancestors: [", who->exe ? who->exe : "-");
			add_list(v, who->ancestors, who->n_ancestors, " -> ");
			addf(v, "], cmdline: [");
			add_list(v, who->cmdline, who->n_cmdline, ", ");
			addf(v, "]) not allowed in policy '%s'", r->name);
		}
	}
}

bool osh_proxy_engine_l7_allow(const struct osh_proxy_engine *e, const char *host_any,
			       uint16_t port, const struct osh_proxy_who *who, const char *method,
			       const char *target, const char **policy, char *rule, size_t rlen)
{
	char host[256];
	size_t n = 0;
	bool ok = false;

	*policy = NULL;
	for (; host_any[n] && n + 1 < sizeof(host); n++)
		host[n] = (char)((host_any[n] >= 'A' && host_any[n] <= 'Z') ? host_any[n] + 32
									    : host_any[n]);
	host[n] = '\0';
	for (size_t i = 0; e && i < e->n_rules && !ok; i++) {
		const struct rule *r = &e->rules[i];

		if (!bin_match(r, who))
			continue;
		for (size_t k = 0; k < r->n_eps && !ok; k++) {
			const struct osh_proxy_endpoint *ep = &r->eps[k];

			if (ep->l7 && osh_l7_rules_proto(ep->l7) == OSH_L7_REST &&
			    ep_match(ep, host, port) &&
			    osh_l7_rules_match(ep->l7, method, target, rule, rlen) ==
				OSH_L7_MATCH_ALLOW) {
				ok = true;
				*policy = r->key;
			}
		}
	}
	return ok;
}

size_t osh_proxy_engine_l7_endpoints(const struct osh_proxy_engine *e, size_t *tls_skip)
{
	size_t n = 0, skip = 0;

	for (size_t i = 0; e && i < e->n_rules; i++)
		for (size_t k = 0; k < e->rules[i].n_eps; k++) {
			const struct osh_l7_rules *r = e->rules[i].eps[k].l7;

			if (osh_l7_rules_proto(r) == OSH_L7_REST) {
				n++;
				skip += osh_l7_rules_tls_skip(r);
			}
		}
	if (tls_skip)
		*tls_skip = skip;
	return n;
}
