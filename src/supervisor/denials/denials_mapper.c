/* denials_mapper.c - the mechanistic mapper: denial summaries -> proposals.
 *
 * DESIGN
 * No model, no heuristics beyond a few fixed rules an operator can predict
 * (docs/l7.md "Denials and proposals"): one proposed network_policies rule
 * per (host, port, binary), named allow_<host>_<port>; allowed_ips only when
 * the host resolves to an internal address (the SSRF rules would refuse it
 * otherwise); REST rules with the last id-like path segment generalised to
 * '*' when L7 samples exist; a confidence from the count, the port and the
 * stage; notes that say what an operator should think about before
 * accepting. The output is the wire message (PolicyChunk) so the subsystem
 * sends what this file built, field for field.
 */
#include "osh_denials.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define MAX_IPS	  16
#define TEXT_CAP  2048
#define NAME_CAP  256
#define PATH_CAP  1024
#define NOTES_CAP 1024

static const struct {
	uint16_t port;
	const char *name;
	bool db;
} known_ports[] = {
    {80, "HTTP", false},
    {443, "HTTPS", false},
    {8080, "HTTP alt", false},
    {8443, "HTTPS alt", false},
    {5432, "PostgreSQL", true},
    {3306, "MySQL", true},
    {6379, "Redis", true},
    {27017, "MongoDB", true},
    {9200, "Elasticsearch", true},
    {9092, "Kafka", false},
    {2181, "ZooKeeper", false},
    {11211, "Memcached", true},
    {5672, "AMQP", true},
    {6443, "Kubernetes API", false},
    {53, "DNS", false},
    {587, "SMTP submission", false},
    {993, "IMAPS", false},
    {995, "POP3S", false},
};

static int known(uint16_t port)
{
	for (size_t i = 0; i < sizeof(known_ports) / sizeof(known_ports[0]); i++)
		if (known_ports[i].port == port)
			return (int)i;
	return -1;
}

void osh_denial_rule_name(const char *host, uint16_t port, char *out, size_t cap)
{
	size_t o = 0;
	char tail[16];

	if (cap == 0)
		return;
	snprintf(tail, sizeof(tail), "_%u", (unsigned)port);
	o = (size_t)snprintf(out, cap, "allow_");
	for (const char *p = host ? host : ""; *p && o + strlen(tail) + 1 < cap; p++) {
		char c = *p;

		if (c == '.' || c == '-')
			out[o++] = '_';
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_')
			out[o++] = c;
	}
	out[o < cap ? o : cap - 1] = '\0';
	snprintf(out + strlen(out), cap - strlen(out), "%s", tail);
}

static bool all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(set, s[i]))
			return false;
	return true;
}

static bool id_like(const char *seg, size_t n)
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (n >= 2 && all_of(seg, n, "0123456789"))
		return true;
	if (n >= 24 && memchr(seg, '-', n) && all_of(seg, n, "0123456789abcdefABCDEF-"))
		return true;
	return n >= 16 && all_of(seg, n, hex);
}

void osh_denial_generalize_path(const char *path, char *out, size_t cap)
{
	size_t n = strcspn(path ? path : "", "?#"), start;

	if (cap == 0)
		return;
	if (!path || n == 0) {
		snprintf(out, cap, "/");
		return;
	}
	start = n;
	while (start > 0 && path[start - 1] != '/')
		start--;
	if (id_like(path + start, n - start))
		snprintf(out, cap, "%.*s*", (int)start, path);
	else
		snprintf(out, cap, "%.*s", (int)n, path);
}

float osh_denial_confidence(const struct osh_denial_summary *s)
{
	float c = 0.5f;

	if (s->count >= 10)
		c += 0.2f;
	else if (s->count >= 3)
		c += 0.1f;
	if (known(s->port) >= 0)
		c += 0.15f;
	if (s->stage == OSH_DENIAL_SSRF || s->ssrf_seen)
		c -= 0.2f;
	if (c < 0.1f)
		c = 0.1f;
	if (c > 0.95f)
		c = 0.95f;
	return c;
}

bool osh_denial_ip_internal(const char *ip)
{
	unsigned char b[16];
	bool in = false;

	if (inet_pton(AF_INET, ip, b) == 1) {
		in = b[0] == 127 || b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		     (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254);
	} else if (inet_pton(AF_INET6, ip, b) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		static const unsigned char lo[16] = {0, 0, 0, 0, 0, 0, 0, 0,
						     0, 0, 0, 0, 0, 0, 0, 1};

		if (memcmp(b, mapped, 12) == 0) {
			char v4[INET_ADDRSTRLEN];

			in = inet_ntop(AF_INET, b + 12, v4, sizeof(v4)) &&
			     osh_denial_ip_internal(v4);
		} else {
			in = memcmp(b, lo, 16) == 0 || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
			     (b[0] & 0xfe) == 0xfc;
		}
	}
	return in;
}

static int resolve_default(void *ud, const char *host, uint16_t port, char ips[][46], size_t max,
			   size_t *n, const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char ps[8];
	int gai;

	(void)ud;
	*n = 0;
	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	gai = getaddrinfo(host, ps, &hints, &res);
	if (gai != 0) {
		*why = gai_strerror(gai);
		return OSH_ENOTFOUND;
	}
	for (struct addrinfo *a = res; a && *n < max; a = a->ai_next) {
		const void *src =
		    a->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
			: (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;

		if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
		    inet_ntop(a->ai_family, src, ips[*n], 46))
			(*n)++;
	}
	freeaddrinfo(res);
	if (*n == 0)
		*why = "no address";
	return *n ? 0 : OSH_ENOTFOUND;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, deduplicated addresses when any is internal; n_out 0 otherwise. */
static int internal_ips(const struct osh_denial_summary *s, const struct osh_denial_map_opts *o,
			char ***out, size_t *n_out)
{
	char ips[MAX_IPS][46];
	char *sorted[MAX_IPS] = {NULL};
	const char *why = "unknown";
	size_t n = 0, k = 0;
	bool any = false;
	osh_denial_resolve_fn fn = (o && o->resolve) ? o->resolve : resolve_default;

	*out = NULL;
	*n_out = 0;
	if (fn(o ? o->resolve_ud : NULL, s->host, s->port, ips, MAX_IPS, &n, &why) != 0) {
		if (o && o->on_dns_fail)
			o->on_dns_fail(o->dns_ud, s->host, s->port, why);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		any = any || osh_denial_ip_internal(ips[i]);
		sorted[i] = ips[i];
	}
	if (!any)
		return 0;
	qsort(sorted, n, sizeof(sorted[0]), cmp_str);
	*out = calloc(n, sizeof(char *));
	if (!*out)
		return OSH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp((*out)[k - 1], sorted[i]) == 0)
			continue;
		(*out)[k] = strdup(sorted[i]);
		if (!(*out)[k]) {
			*n_out = k;
			return OSH_ENOMEM;
		}
		k++;
	}
	*n_out = k;
	return 0;
}

/* REST rules, one per (method, generalised path), sorted and unique. */
static int l7_rules(const struct osh_denial_summary *s, Openshell__V1__NetworkEndpoint *ep)
{
	char keys[OSH_DENIAL_L7_MAX][PATH_CAP + 40];
	char *order[OSH_DENIAL_L7_MAX] = {NULL};
	size_t n = 0;

	for (size_t i = 0; i < s->n_l7; i++) {
		char g[PATH_CAP];

		osh_denial_generalize_path(s->l7[i].path, g, sizeof(g));
		snprintf(keys[n], sizeof(keys[n]), "%s %s", s->l7[i].method, g);
		order[n] = keys[n];
		n++;
	}
	qsort(order, n, sizeof(order[0]), cmp_str);
	ep->rules = calloc(n ? n : 1, sizeof(void *));
	if (!ep->rules)
		return OSH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		Openshell__V1__L7Rule *r;
		Openshell__V1__L7Allow *a;
		const char *sp = strchr(order[i], ' ');

		if (i > 0 && strcmp(order[i], order[i - 1]) == 0)
			continue;
		r = malloc(sizeof(*r));
		a = malloc(sizeof(*a));
		if (!r || !a) {
			free(r);
			free(a);
			return OSH_ENOMEM;
		}
		openshell__v1__l7_rule__init(r);
		openshell__v1__l7_allow__init(a);
		r->allow = a;
		ep->rules[ep->n_rules++] = r;
		a->method = strndup(order[i], (size_t)(sp - order[i]));
		a->path = strdup(sp + 1);
		if (!a->method || !a->path)
			return OSH_ENOMEM;
	}
	ep->protocol = strdup("rest");
	ep->enforcement = strdup("enforce");
	return (ep->protocol && ep->enforcement) ? 0 : OSH_ENOMEM;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

static bool private_looking(const char *h)
{
	return strncmp(h, "10.", 3) == 0 || strncmp(h, "172.", 4) == 0 ||
	       strncmp(h, "192.168.", 8) == 0 || strncmp(h, "127.", 4) == 0 ||
	       strcasecmp(h, "localhost") == 0 || osh_denial_ip_internal(h);
}

static void append(char *buf, size_t cap, const char *a)
{
	size_t n = strlen(buf);

	if (n + 1 < cap)
		snprintf(buf + n, cap - n, "%s", a);
}

static char *notes_for(const struct osh_denial_summary *s, size_t n_ips)
{
	char buf[NOTES_CAP] = "";
	int k = known(s->port);
	const char *sep = "";

	if (s->stage == OSH_DENIAL_SSRF || s->ssrf_seen) {
		append(buf, sizeof(buf),
		       "SSRF: the host resolves to an internal address; accepting admits it "
		       "through allowed_ips");
		sep = "; ";
	}
	if (private_looking(s->host) || n_ips > 0) {
		append(buf, sizeof(buf), sep);
		append(buf, sizeof(buf),
		       "private or loopback destination: check it is meant to be reachable "
		       "from the sandbox");
		sep = "; ";
	}
	if (s->port > 49152) {
		append(buf, sizeof(buf), sep);
		append(buf, sizeof(buf), "ephemeral port (> 49152): likely a transient service");
		sep = "; ";
	}
	if (k >= 0 && known_ports[k].db) {
		append(buf, sizeof(buf), sep);
		append(buf, sizeof(buf), "direct ");
		append(buf, sizeof(buf), known_ports[k].name);
		append(buf, sizeof(buf), " access from the sandbox");
		sep = "; ";
	}
	if (strcmp(s->binary, "-") == 0) {
		append(buf, sizeof(buf), sep);
		append(buf, sizeof(buf),
		       "the client process was not identified: the rule names no binary and "
		       "admits nothing until one is added");
	}
	return strdup(buf);
}

static char *rationale_for(const struct osh_denial_summary *s, size_t n_ips)
{
	char buf[TEXT_CAP], port[32];
	int k = known(s->port);

	if (k >= 0)
		snprintf(port, sizeof(port), "%s", known_ports[k].name);
	else
		snprintf(port, sizeof(port), "port %u", (unsigned)s->port);
	snprintf(buf, sizeof(buf), "Allow %s to connect to %s:%u (%s).",
		 strcmp(s->binary, "-") == 0 ? "unknown binary" : base_name(s->binary), s->host,
		 (unsigned)s->port, port);
	if (s->n_l7 > 0) {
		append(buf, sizeof(buf), " L7 requests denied:");
		for (size_t i = 0; i < s->n_l7; i++) {
			char g[PATH_CAP];

			osh_denial_generalize_path(s->l7[i].path, g, sizeof(g));
			append(buf, sizeof(buf), " ");
			append(buf, sizeof(buf), s->l7[i].method);
			append(buf, sizeof(buf), " ");
			append(buf, sizeof(buf), g);
			append(buf, sizeof(buf), i + 1 < s->n_l7 ? "," : ".");
		}
	}
	if (n_ips > 0)
		append(buf, sizeof(buf),
		       " The host resolves to a private address: allowed_ips lists its addresses.");
	return strdup(buf);
}

static Openshell__V1__PolicyChunk *chunk_for(const struct osh_denial_summary *s,
					     const struct osh_denial_map_opts *o)
{
	Openshell__V1__PolicyChunk *c = malloc(sizeof(*c));
	Openshell__V1__NetworkPolicyRule *r = malloc(sizeof(*r));
	Openshell__V1__NetworkEndpoint *ep = malloc(sizeof(*ep));
	char name[NAME_CAP];
	char **ips = NULL;
	size_t n_ips = 0;
	bool ok = false;

	if (!c || !r || !ep) {
		free(c);
		free(r);
		free(ep);
		return NULL;
	}
	openshell__v1__policy_chunk__init(c);
	openshell__v1__network_policy_rule__init(r);
	openshell__v1__network_endpoint__init(ep);
	c->proposed_rule = r;
	r->endpoints = calloc(1, sizeof(void *));
	if (!r->endpoints) {
		free(ep);
		goto out;
	}
	r->endpoints[r->n_endpoints++] = ep;
	osh_denial_rule_name(s->host, s->port, name, sizeof(name));
	r->name = strdup(name);
	c->rule_name = strdup(name);
	ep->host = strdup(s->host);
	ep->port = s->port;
	if (internal_ips(s, o, &ips, &n_ips) != 0) {
		ep->allowed_ips = ips;
		ep->n_allowed_ips = n_ips;
		goto out;
	}
	ep->allowed_ips = ips;
	ep->n_allowed_ips = n_ips;
	if (s->n_l7 > 0 && l7_rules(s, ep) != 0)
		goto out;
	if (strcmp(s->binary, "-") != 0) {
		Openshell__V1__NetworkBinary *b = malloc(sizeof(*b));

		r->binaries = calloc(1, sizeof(void *));
		if (!b || !r->binaries) {
			free(b);
			goto out;
		}
		openshell__v1__network_binary__init(b);
		r->binaries[r->n_binaries++] = b;
		b->path = strdup(s->binary);
		if (!b->path)
			goto out;
	}
	c->status = strdup("pending");
	c->rationale = rationale_for(s, n_ips);
	c->security_notes = notes_for(s, n_ips);
	c->confidence = osh_denial_confidence(s);
	c->stage = strdup(osh_denial_stage_name(s->stage));
	c->hit_count = s->count > INT32_MAX ? INT32_MAX : (int32_t)s->count;
	c->first_seen_ms = s->first_ms;
	c->last_seen_ms = s->last_ms;
	c->binary = strdup(s->binary);
	c->host = strdup(s->host);
	c->port = s->port;
	ok = r->name && c->rule_name && ep->host && c->status && c->rationale &&
	     c->security_notes && c->stage && c->binary && c->host;
out:
	if (!ok) {
		/* protobuf-c frees what is set; unset strings must be NULL-safe */
		protobuf_c_message_free_unpacked(&c->base, NULL);
		c = NULL;
	}
	return c;
}

static int by_confidence(const void *a, const void *b)
{
	const Openshell__V1__PolicyChunk *x = *(Openshell__V1__PolicyChunk *const *)a;
	const Openshell__V1__PolicyChunk *y = *(Openshell__V1__PolicyChunk *const *)b;

	if (x->confidence != y->confidence)
		return x->confidence > y->confidence ? -1 : 1;
	return strcmp(x->rule_name, y->rule_name);
}

int osh_denial_map(const struct osh_denial_summary *s, size_t n,
		   const struct osh_denial_map_opts *opts, Openshell__V1__PolicyChunk ***out,
		   size_t *n_out)
{
	Openshell__V1__PolicyChunk **v = calloc(n ? n : 1, sizeof(void *));
	size_t k = 0;
	int rc = OSH_ENOMEM;

	*out = NULL;
	*n_out = 0;
	if (!v)
		goto out;
	for (; k < n; k++) {
		v[k] = chunk_for(&s[k], opts);
		if (!v[k])
			goto out;
	}
	qsort(v, n, sizeof(void *), by_confidence);
	*out = v;
	*n_out = n;
	v = NULL;
	rc = 0;
out:
	osh_denial_chunks_free(v, k);
	return rc;
}

void osh_denial_chunks_free(Openshell__V1__PolicyChunk **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		if (v[i])
			protobuf_c_message_free_unpacked(&v[i]->base, NULL);
	free(v);
}
