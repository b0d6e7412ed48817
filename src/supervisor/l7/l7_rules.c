/* l7_rules.c - REST rule compilation and matching (see osh_l7_rules.h).
 *
 * DESIGN
 * A compiled set is a flat array of allows, each with copied strings and its
 * query matchers as an array of (key, globs). Presets compile to the same
 * allows a policy author would write, so there is one matcher. The request's
 * query is decoded once per match into a stack table (bounded), then every
 * rule is tried in order; the first that allows names the rule.
 */
#include "osh_l7_rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy_policy.h" /* osh_proxy_glob_match: the one segment glob */

struct qm {
	char *key;
	char **globs;
	size_t n_globs;
};

struct allow {
	char *method; /* "*" or a method */
	char *path;   /* glob; "**" = any */
	struct qm *q;
	size_t n_q;
	const char *preset; /* static; NULL for an explicit rule */
};

struct osh_l7_rules {
	enum osh_l7_proto proto;
	bool enforce, tls_skip;
	struct allow *a;
	size_t n;
};

static int rerr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OSH_EINVAL;
}

static int add_allow(struct osh_l7_rules *r, const char *method, const char *path,
		     const char *preset)
{
	struct allow *a = &r->a[r->n];

	a->method = strdup(method);
	a->path = strdup(path);
	a->preset = preset;
	if (!a->method || !a->path) {
		free(a->method);
		free(a->path);
		a->method = a->path = NULL;
		return OSH_ENOMEM;
	}
	r->n++;
	return 0;
}

static int compile_preset(struct osh_l7_rules *r, const char *access, const char *where, char *err,
			  size_t errlen)
{
	static const char *const ro[] = {"GET", "HEAD", "OPTIONS", NULL};
	static const char *const rw[] = {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", NULL};
	static const char *const full[] = {"*", NULL};
	const char *const *m = NULL;
	int rc = 0;

	if (strcmp(access, "read-only") == 0)
		m = ro;
	else if (strcmp(access, "read-write") == 0)
		m = rw;
	else if (strcmp(access, "full") == 0)
		m = full;
	if (!m)
		return rerr(err, errlen, "%s.access: unknown '%s' (read-only, read-write, full)",
			    where, access);
	r->a = calloc(7, sizeof(*r->a));
	if (!r->a)
		return OSH_ENOMEM;
	for (size_t i = 0; m[i] && rc == 0; i++)
		rc = add_allow(r, m[i], "**",
			       strcmp(access, "read-only") == 0	   ? "read-only"
			       : strcmp(access, "read-write") == 0 ? "read-write"
								   : "full");
	return rc;
}

static int compile_query(struct allow *a, const Openshell__V1__L7Allow *src, const char *where,
			 size_t i, char *err, size_t errlen)
{
	int rc = 0;

	a->q = calloc(src->n_query + 1, sizeof(*a->q));
	if (!a->q)
		return OSH_ENOMEM;
	for (size_t k = 0; k < src->n_query && rc == 0; k++) {
		const Openshell__V1__L7Allow__QueryEntry *e = src->query[k];
		const Openshell__V1__L7QueryMatcher *m = e->value;
		struct qm *q = &a->q[k];
		size_t ng = m ? m->n_any + (m->glob && *m->glob ? 1 : 0) : 0;

		a->n_q = k + 1;
		q->key = strdup(e->key ? e->key : "");
		q->globs = calloc(ng + 1, sizeof(*q->globs));
		if (!q->key || !q->globs) {
			rc = OSH_ENOMEM;
			break;
		}
		if (ng == 0) {
			rc = rerr(err, errlen, "%s.rules[%zu].allow.query.%s: needs glob or any",
				  where, i, q->key);
			break;
		}
		if (m->glob && *m->glob && !(q->globs[q->n_globs++] = strdup(m->glob)))
			rc = OSH_ENOMEM;
		for (size_t g = 0; g < m->n_any && rc == 0; g++)
			if (!(q->globs[q->n_globs++] = strdup(m->any[g] ? m->any[g] : "")))
				rc = OSH_ENOMEM;
	}
	return rc;
}

static int compile_rules(struct osh_l7_rules *r, const Openshell__V1__NetworkEndpoint *ep,
			 const char *where, char *err, size_t errlen)
{
	int rc = 0;

	r->a = calloc(ep->n_rules + 1, sizeof(*r->a));
	if (!r->a)
		return OSH_ENOMEM;
	for (size_t i = 0; i < ep->n_rules && rc == 0; i++) {
		const Openshell__V1__L7Allow *al = ep->rules[i] ? ep->rules[i]->allow : NULL;
		const char *m = al && al->method && *al->method ? al->method : NULL;
		const char *p = al && al->path && *al->path ? al->path : "**";

		if (r->proto == OSH_L7_SQL)
			m = al && al->command && *al->command ? al->command : NULL;
		if (!m) {
			rc = rerr(err, errlen, "%s.rules[%zu].allow.%s: required", where, i,
				  r->proto == OSH_L7_SQL ? "command" : "method");
			break;
		}
		if (r->proto == OSH_L7_REST && p[0] != '/' && strcmp(p, "**") != 0) {
			rc = rerr(err, errlen,
				  "%s.rules[%zu].allow.path: '%s' must start with '/' (or be '**')",
				  where, i, p);
			break;
		}
		rc = add_allow(r, m, p, NULL);
		if (rc == 0)
			rc = compile_query(&r->a[r->n - 1], al, where, i, err, errlen);
	}
	return rc;
}

int osh_l7_rules_compile(const Openshell__V1__NetworkEndpoint *ep, const char *where,
			 struct osh_l7_rules **out, char *err, size_t errlen)
{
	const char *proto = ep->protocol ? ep->protocol : "";
	const char *access = ep->access ? ep->access : "";
	struct osh_l7_rules *r;
	int rc;

	*out = NULL;
	if (!*proto)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return OSH_ENOMEM;
	r->proto = strcasecmp(proto, "rest") == 0  ? OSH_L7_REST
		   : strcasecmp(proto, "sql") == 0 ? OSH_L7_SQL
						   : OSH_L7_NONE;
	r->enforce = ep->enforcement && strcmp(ep->enforcement, "enforce") == 0;
	r->tls_skip = ep->tls && strcmp(ep->tls, "skip") == 0;
	if (r->proto == OSH_L7_NONE)
		rc = rerr(err, errlen, "%s.protocol: unknown '%s' (rest, sql)", where, proto);
	else if (*access && ep->n_rules)
		rc = rerr(err, errlen, "%s: set either rules or access, not both", where);
	else if (!*access && !ep->n_rules)
		rc = rerr(err, errlen, "%s: protocol '%s' needs rules or access", where, proto);
	else if (r->proto == OSH_L7_SQL && r->enforce)
		rc = rerr(err, errlen,
			  "%s: SQL enforcement is not supported (use enforcement: audit)", where);
	else if (*access)
		rc = compile_preset(r, access, where, err, errlen);
	else
		rc = compile_rules(r, ep, where, err, errlen);
	if (rc != 0)
		osh_l7_rules_free(r);
	else
		*out = r;
	return rc;
}

void osh_l7_rules_free(struct osh_l7_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		for (size_t k = 0; k < r->a[i].n_q; k++) {
			for (size_t g = 0; g < r->a[i].q[k].n_globs; g++)
				free(r->a[i].q[k].globs[g]);
			free(r->a[i].q[k].globs);
			free(r->a[i].q[k].key);
		}
		free(r->a[i].q);
		free(r->a[i].method);
		free(r->a[i].path);
	}
	/* a half-built allow (query compile failed) is counted in n */
	free(r->a);
	free(r);
}

enum osh_l7_proto osh_l7_rules_proto(const struct osh_l7_rules *r)
{
	return r ? r->proto : OSH_L7_NONE;
}

bool osh_l7_rules_enforce(const struct osh_l7_rules *r)
{
	return r && r->enforce;
}

bool osh_l7_rules_tls_skip(const struct osh_l7_rules *r)
{
	return r && r->tls_skip;
}

size_t osh_l7_rules_count(const struct osh_l7_rules *r)
{
	return r ? r->n : 0;
}

/* ------------------------------------------------------------- match */

bool osh_l7_wild_match(const char *p, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		if (*p == '*') {
			star = p++;
			mark = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long osh_l7_query_decode(const char *s, size_t n, char *out, size_t outcap)
{
	size_t o = 0;
	long rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
				rc = -1;
				break;
			}
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0 || o + 1 >= outcap) {
			rc = -1;
			break;
		}
		out[o++] = (char)c;
	}
	if (outcap > 0)
		out[o < outcap ? o : outcap - 1] = '\0';
	return rc == 0 ? (long)o : -1;
}

struct qpair {
	const char *key; /* into the decode buffer */
	const char *val;
};

/* Decodes the query into buf (at most cap bytes) and pairs. Returns the pair
 * count or -1 when undecodable / too many pairs. */
static long parse_query(const char *q, char *buf, size_t cap, struct qpair *pairs)
{
	size_t used = 0, np = 0;
	const char *p = q;

	while (*p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t kl = eq ? (size_t)(eq - p) : len;
		long k, v;

		if (len > 0) {
			if (np == OSH_L7_QUERY_MAX)
				return -1;
			k = osh_l7_query_decode(p, kl, buf + used, cap - used);
			if (k < 0)
				return -1;
			pairs[np].key = buf + used;
			used += (size_t)k + 1;
			v = eq ? osh_l7_query_decode(eq + 1, len - kl - 1, buf + used, cap - used)
			       : osh_l7_query_decode("", 0, buf + used, cap - used);
			if (v < 0)
				return -1;
			pairs[np++].val = buf + used;
			used += (size_t)v + 1;
		}
		p += len + (amp ? 1 : 0);
	}
	return (long)np;
}

static bool query_ok(const struct allow *a, const struct qpair *pairs, long np)
{
	for (size_t k = 0; k < a->n_q; k++) {
		const struct qm *m = &a->q[k];
		size_t seen = 0;

		if (np < 0)
			return false;
		for (long i = 0; i < np; i++) {
			bool one = false;

			if (strcmp(pairs[i].key, m->key) != 0)
				continue;
			seen++;
			for (size_t g = 0; g < m->n_globs && !one; g++)
				one = osh_l7_wild_match(m->globs[g], pairs[i].val);
			if (!one)
				return false;
		}
		if (seen == 0)
			return false;
	}
	return true;
}

enum osh_l7_match osh_l7_rules_match(const struct osh_l7_rules *r, const char *method,
				     const char *target, char *rule, size_t rlen)
{
	char path[OSH_L7_TARGET_MAX];
	char qbuf[OSH_L7_TARGET_MAX + OSH_L7_QUERY_MAX * 2];
	struct qpair pairs[OSH_L7_QUERY_MAX];
	const char *qm = strchr(target, '?');
	size_t plen = qm ? (size_t)(qm - target) : strlen(target);
	long np = 0;
	bool any_q = false;

	if (rlen > 0)
		rule[0] = '\0';
	if (!r || plen >= sizeof(path))
		return OSH_L7_MATCH_NONE;
	memcpy(path, target, plen);
	path[plen] = '\0';
	if (qm)
		np = strlen(qm + 1) < OSH_L7_TARGET_MAX
			 ? parse_query(qm + 1, qbuf, sizeof(qbuf), pairs)
			 : -1;
	for (size_t i = 0; i < r->n; i++) {
		const struct allow *a = &r->a[i];

		any_q |= a->n_q > 0;
		if (strcmp(a->method, "*") != 0 && strcasecmp(a->method, method) != 0)
			continue;
		if (strcmp(a->path, "**") != 0 && !osh_proxy_glob_match(a->path, path, '/'))
			continue;
		if (!query_ok(a, pairs, np))
			continue;
		if (rlen > 0) {
			if (a->preset)
				snprintf(rule, rlen, "access %s", a->preset);
			else
				snprintf(rule, rlen, "%s %s", a->method, a->path);
		}
		return OSH_L7_MATCH_ALLOW;
	}
	return np < 0 && any_q ? OSH_L7_MATCH_BAD_QUERY : OSH_L7_MATCH_NONE;
}
