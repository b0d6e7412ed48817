/* osh_policy.c - YAML -> SandboxPolicy message, validation, copy, hash.
 *
 * DESIGN
 * See osh_policy.h. The YAML walker is descriptor driven: a mapping node
 * fills a message (each key must name a field of the message's descriptor),
 * a sequence fills a repeated field, a mapping fills a proto map (repeated
 * *Entry messages with key/value), scalars fill strings, bools and unsigned
 * integers with range checks. Every string and array is malloc'd so the
 * result can be released by protobuf_c_message_free_unpacked(). The first
 * error wins and names file, line and column (libyaml marks are 0-based).
 * Untrusted text (policy_yaml arrives from any gateway client) is bounded
 * before the document is built: at most OSH_POLICY_MAX_BYTES, no aliases,
 * at most OSH_POLICY_MAX_NODES nodes (yaml_prescan), so time and memory
 * are linear in the text.
 */
#include "osh_policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include <openssl/evp.h>

struct ywalk {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	int rc;
};

static void yerr(struct ywalk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void yerr(struct ywalk *w, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->rc)
		return;
	w->rc = OSH_EPARSE;
	k = snprintf(w->err, w->errlen, "%s:%lu:%lu: ", w->name,
		     n ? (unsigned long)n->start_mark.line + 1 : 0UL,
		     n ? (unsigned long)n->start_mark.column + 1 : 0UL);
	if (k < 0 || (size_t)k >= w->errlen)
		return;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above */
	vsnprintf(w->err + k, w->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void *member(void *msg, unsigned off)
{
	return (char *)msg + off;
}

static ProtobufCMessage *new_message(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = malloc(d->sizeof_message);

	if (m)
		d->message_init(m);
	return m;
}

static const ProtobufCMessageDescriptor *fdesc(const ProtobufCFieldDescriptor *f)
{
	return (const ProtobufCMessageDescriptor *)f->descriptor;
}

static bool is_map_entry(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = fdesc(f);
	size_t n;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	n = strlen(d->name);
	return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
	       strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

/* Field name a YAML key stands for in message `d`. */
static const char *alias(const ProtobufCMessageDescriptor *d, const char *key)
{
	if (strcmp(d->short_name, "SandboxPolicy") == 0 && strcmp(key, "filesystem_policy") == 0)
		return "filesystem";
	return key;
}

static void fill_message(struct ywalk *w, yaml_node_t *n, const ProtobufCMessageDescriptor *d,
			 ProtobufCMessage *m);

/* Stores an owned submessage in a slot, freeing what the slot held: no path
 * overwrites (and so leaks) an earlier value. */
static void slot_set_message(void *slot, ProtobufCMessage *m)
{
	ProtobufCMessage **s = slot;

	if (*s)
		protobuf_c_message_free_unpacked(*s, NULL);
	*s = m;
}

/* Parse one scalar value of field f into *slot (a member or an array item). */
static void fill_scalar(struct ywalk *w, yaml_node_t *n, const ProtobufCFieldDescriptor *f,
			void *slot)
{
	const char *s = scalar(n);
	char *end = NULL;
	unsigned long long v;

	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		ProtobufCMessage *sub;

		/* A bare string for an L7 query matcher means {glob: s}. */
		if (s && strcmp(fdesc(f)->short_name, "L7QueryMatcher") == 0) {
			Openshell__V1__L7QueryMatcher *qm =
			    (Openshell__V1__L7QueryMatcher *)new_message(fdesc(f));
			char *g = strdup(s);

			if (!qm || !g) {
				free(qm);
				free(g);
				yerr(w, n, "out of memory");
				return;
			}
			qm->glob = g;
			slot_set_message(slot, &qm->base);
			return;
		}
		if (n->type != YAML_MAPPING_NODE) {
			yerr(w, n, "'%s' must be a mapping", f->name);
			return;
		}
		sub = new_message(fdesc(f));
		if (!sub) {
			yerr(w, n, "out of memory");
			return;
		}
		slot_set_message(slot, sub);
		fill_message(w, n, fdesc(f), sub);
		return;
	}
	if (!s) {
		yerr(w, n, "'%s' must be a scalar", f->name);
		return;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		char *c = strdup(s);

		if (!c) {
			yerr(w, n, "out of memory");
			return;
		}
		/* never overwrite (leak) an owned string; the init value is
		 * protobuf-c's static empty string */
		if (*(char **)slot != protobuf_c_empty_string)
			free(*(char **)slot);
		*(char **)slot = c;
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes"))
			*(protobuf_c_boolean *)slot = 1;
		else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no"))
			*(protobuf_c_boolean *)slot = 0;
		else
			yerr(w, n, "'%s' must be true or false, got '%s'", f->name, s);
		break;
	case PROTOBUF_C_TYPE_UINT32:
		errno = 0;
		v = strtoull(s, &end, 10);
		if (!*s || *end || errno || s[0] == '-' || v > UINT32_MAX)
			yerr(w, n, "'%s' must be an integer in 0..4294967295, got '%s'", f->name,
			     s);
		else
			*(uint32_t *)slot = (uint32_t)v;
		break;
	default:
		yerr(w, n, "'%s' has a type the YAML reader does not support", f->name);
		break;
	}
}

static size_t item_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return sizeof(uint32_t);
	}
}

/* Append one zeroed item to repeated field f of m; returns its slot. */
static void *push_item(struct ywalk *w, yaml_node_t *n, const ProtobufCFieldDescriptor *f,
		       ProtobufCMessage *m)
{
	size_t *count = member(m, f->quantifier_offset);
	void **arr = member(m, f->offset);
	size_t isz = item_size(f);
	char *grown = realloc(*arr, isz * (*count + 1));

	if (!grown) {
		yerr(w, n, "out of memory");
		return NULL;
	}
	memset(grown + isz * *count, 0, isz);
	*arr = grown;
	return grown + isz * (*count)++;
}

static void fill_map(struct ywalk *w, yaml_node_t *n, const ProtobufCFieldDescriptor *f,
		     ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *ed = fdesc(f);

	if (n->type != YAML_MAPPING_NODE) {
		yerr(w, n, "'%s' must be a mapping", f->name);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !w->rc; p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		ProtobufCMessage **slot;
		ProtobufCMessage *e;

		if (!scalar(k)) {
			yerr(w, k, "keys of '%s' must be scalars", f->name);
			return;
		}
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
			if (!strcmp(scalar(yaml_document_get_node(w->doc, q->key)), scalar(k))) {
				yerr(w, k, "duplicate key '%s' in '%s'", scalar(k), f->name);
				return;
			}
		slot = push_item(w, n, f, m);
		if (!slot)
			return;
		e = new_message(ed);
		if (!e) {
			yerr(w, n, "out of memory");
			return;
		}
		*slot = e;
		fill_scalar(w, k, &ed->fields[0], member(e, ed->fields[0].offset));
		fill_scalar(w, v, &ed->fields[1], member(e, ed->fields[1].offset));
	}
}

static void fill_field(struct ywalk *w, yaml_node_t *v, const ProtobufCFieldDescriptor *f,
		       ProtobufCMessage *m)
{
	if (is_map_entry(f)) {
		fill_map(w, v, f, m);
	} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (v->type != YAML_SEQUENCE_NODE) {
			yerr(w, v, "'%s' must be a list", f->name);
			return;
		}
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top && !w->rc; it++) {
			yaml_node_t *in = yaml_document_get_node(w->doc, *it);
			void *slot = push_item(w, in, f, m);

			if (slot)
				fill_scalar(w, in, f, slot);
		}
	} else {
		fill_scalar(w, v, f, member(m, f->offset));
	}
}

static void fill_message(struct ywalk *w, yaml_node_t *n, const ProtobufCMessageDescriptor *d,
			 ProtobufCMessage *m)
{
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !w->rc; p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const ProtobufCFieldDescriptor *f;
		const char *ks = scalar(k);

		if (!ks) {
			yerr(w, k, "keys must be scalars");
			return;
		}
		/* Keys are compared by the field they name, so a field given
		 * twice under its alias (filesystem + filesystem_policy) is a
		 * duplicate too, not a silent overwrite (F23). */
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			const char *qs = scalar(yaml_document_get_node(w->doc, q->key));

			if (strcmp(alias(d, qs), alias(d, ks)) != 0)
				continue;
			if (strcmp(qs, ks) == 0)
				yerr(w, k, "duplicate key '%s'", ks);
			else
				yerr(w, k, "duplicate key '%s': '%s' sets the same field", ks, qs);
			return;
		}
		f = protobuf_c_message_descriptor_get_field_by_name(d, alias(d, ks));
		if (!f) {
			yerr(w, k, "unknown key '%s' in %s", ks, d->short_name);
			return;
		}
		if (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0 &&
		    v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			continue; /* "key:" with no value = unset */
		fill_field(w, v, f, m);
	}
}

/* NetworkPolicyRule.name defaults to its map key. */
static int default_rule_names(osh_policy_pb *p)
{
	for (size_t i = 0; i < p->n_network_policies; i++) {
		Openshell__V1__SandboxPolicy__NetworkPoliciesEntry *e = p->network_policies[i];

		if (e->value && (!e->value->name || !*e->value->name)) {
			char *c = strdup(e->key);

			if (!c)
				return OSH_ENOMEM;
			e->value->name = c;
		}
	}
	return 0;
}

/* Event pass before the document is built: refuses aliases (libyaml's
 * document API shares the anchored node, and the walk above would expand it
 * once per reference: exponential in the nesting depth) and counts nodes, so
 * the walk that follows is linear in the text and bounded. Syntax errors are
 * left to yaml_parser_load(), which reports them with the same marks. */
static int yaml_prescan(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t nodes = 0;
	int rc = 0;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		return OSH_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev))
			break; /* syntax error: yaml_parser_load() reports it */
		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			snprintf(err, errlen,
				 "%s:%lu:%lu: YAML aliases (*name) are not allowed in a policy",
				 name, (unsigned long)ev.start_mark.line + 1,
				 (unsigned long)ev.start_mark.column + 1);
			rc = OSH_EPARSE;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++nodes > OSH_POLICY_MAX_NODES) {
				snprintf(err, errlen, "%s:%lu:%lu: more than %u YAML nodes", name,
					 (unsigned long)ev.start_mark.line + 1,
					 (unsigned long)ev.start_mark.column + 1,
					 (unsigned)OSH_POLICY_MAX_NODES);
				rc = OSH_ETOOBIG;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

int osh_policy_parse_yaml(const char *text, size_t len, const char *name, osh_policy_pb **out,
			  char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_doc = false;
	struct ywalk w = {.doc = &doc, .name = name, .err = err, .errlen = errlen};
	osh_policy_pb *p = NULL;
	yaml_node_t *root;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > OSH_POLICY_MAX_BYTES) {
		snprintf(err, errlen,
			 "%s: policy text of %zu bytes is larger than %u bytes (1 MiB)", name, len,
			 (unsigned)OSH_POLICY_MAX_BYTES);
		w.rc = OSH_ETOOBIG;
		goto out;
	}
	w.rc = yaml_prescan(text, len, name, err, errlen);
	if (w.rc)
		goto out;
	if (!yaml_parser_initialize(&parser)) {
		w.rc = OSH_ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%lu:%lu: %s", name,
			 (unsigned long)parser.problem_mark.line + 1,
			 (unsigned long)parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		w.rc = OSH_EPARSE;
		goto out_parser;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(err, errlen, "%s: empty policy document", name);
		w.rc = OSH_EPARSE;
		goto out_parser;
	}
	if (root->type != YAML_MAPPING_NODE) {
		yerr(&w, root, "a policy must be a mapping");
		goto out_parser;
	}
	p = (osh_policy_pb *)new_message(&openshell__v1__sandbox_policy__descriptor);
	if (!p) {
		w.rc = OSH_ENOMEM;
		goto out_parser;
	}
	fill_message(&w, root, &openshell__v1__sandbox_policy__descriptor, &p->base);
	if (!w.rc && default_rule_names(p))
		w.rc = OSH_ENOMEM;
out_parser:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
out:
	if (w.rc) {
		osh_policy_free(p);
		p = NULL;
	}
	*out = p;
	return w.rc;
}

int osh_policy_load_file(const char *path, osh_policy_pb **out, char *err, size_t errlen)
{
	int rc = OSH_EIO;
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		size_t got;

		if (len + 4096 > cap) {
			char *g;

			if (cap > OSH_POLICY_MAX_BYTES) {
				snprintf(err, errlen, "%s: larger than 1 MiB", path);
				rc = OSH_ETOOBIG;
				goto out;
			}
			g = realloc(buf, cap ? cap * 2 : 8192);
			if (!g) {
				rc = OSH_ENOMEM;
				goto out;
			}
			buf = g;
			cap = cap ? cap * 2 : 8192;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = osh_policy_parse_yaml(buf, len, path, out, err, errlen);
out:
	if (f)
		fclose(f);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ validation */

struct vctx {
	char *err;
	size_t errlen;
	int rc;
};

static void verr(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void verr(struct vctx *v, const char *fmt, ...)
{
	va_list ap;

	if (v->rc)
		return;
	v->rc = OSH_EINVAL;
	va_start(ap, fmt);
	vsnprintf(v->err, v->errlen, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s ? s : "", *set))
			return true;
	return false;
}

static void check_paths(struct vctx *v, const char *what, char **paths, size_t n, bool rw)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i];
		bool only_slash = true;

		if (p[0] != '/') {
			verr(v, "filesystem.%s[%zu]: '%s' is not an absolute path", what, i, p);
			return;
		}
		if (strlen(p) > 4096) {
			verr(v, "filesystem.%s[%zu]: longer than 4096 bytes", what, i);
			return;
		}
		for (const char *s = p; *s; s++)
			only_slash &= *s == '/';
		if (rw && only_slash) {
			verr(v, "filesystem.%s[%zu]: '/' is overly broad for read-write", what, i);
			return;
		}
		for (const char *s = p; (s = strstr(s, "..")); s += 2)
			if (s[-1] == '/' && (s[2] == '/' || s[2] == '\0')) {
				verr(v, "filesystem.%s[%zu]: '%s' contains '..'", what, i, p);
				return;
			}
	}
}

static bool valid_ip_or_cidr(const char *s)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	unsigned char addr[16];
	int fam;
	long bits = -1;

	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (inet_pton(AF_INET, buf, addr) == 1)
		fam = 32;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		fam = 128;
	else
		return false;
	if (slash) {
		char *end = NULL;

		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || bits < 0 || bits > fam)
			return false;
	}
	return true;
}

static void check_endpoint(struct vctx *v, const char *rule, size_t i,
			   const Openshell__V1__NetworkEndpoint *e)
{
	static const char *const protocols[] = {"", "rest", "sql", NULL};
	static const char *const tls[] = {"", "skip", "terminate", "passthrough", NULL};
	static const char *const enforcement[] = {"", "audit", "enforce", NULL};
	static const char *const access[] = {"", "read-only", "read-write", "full", NULL};
	const char *h = e->host ? e->host : "";
	const char *star = strchr(h, '*');

	if (!strcmp(h, "*") || !strcmp(h, "**"))
		verr(v, "network_policies.%s.endpoints[%zu].host: '%s' matches every host", rule, i,
		     h);
	else if (star && strncmp(h, "*.", 2) != 0 && strncmp(h, "**.", 3) != 0)
		verr(v,
		     "network_policies.%s.endpoints[%zu].host: a glob must start with '*.' or "
		     "'**.', got '%s'",
		     rule, i, h);
	else if (!*h && e->n_allowed_ips == 0)
		verr(v, "network_policies.%s.endpoints[%zu]: needs a host or allowed_ips", rule, i);
	if (e->port > 65535)
		verr(v, "network_policies.%s.endpoints[%zu].port: %u is not a TCP port", rule, i,
		     e->port);
	if (e->port && e->n_ports)
		verr(v, "network_policies.%s.endpoints[%zu]: set either port or ports, not both",
		     rule, i);
	if (!e->port && !e->n_ports)
		verr(v, "network_policies.%s.endpoints[%zu]: needs port or ports", rule, i);
	for (size_t k = 0; k < e->n_ports; k++)
		if (e->ports[k] == 0 || e->ports[k] > 65535)
			verr(v,
			     "network_policies.%s.endpoints[%zu].ports[%zu]: %u is not a TCP port",
			     rule, i, k, e->ports[k]);
	if (!one_of(e->protocol, protocols))
		verr(v, "network_policies.%s.endpoints[%zu].protocol: unknown '%s' (rest, sql)",
		     rule, i, e->protocol);
	if (!one_of(e->tls, tls))
		verr(v, "network_policies.%s.endpoints[%zu].tls: unknown '%s' (skip)", rule, i,
		     e->tls);
	if (!one_of(e->enforcement, enforcement))
		verr(v,
		     "network_policies.%s.endpoints[%zu].enforcement: unknown '%s' (audit, "
		     "enforce)",
		     rule, i, e->enforcement);
	if (!one_of(e->access, access))
		verr(v,
		     "network_policies.%s.endpoints[%zu].access: unknown '%s' (read-only, "
		     "read-write, full)",
		     rule, i, e->access);
	if (e->n_rules && e->access && *e->access)
		verr(v, "network_policies.%s.endpoints[%zu]: set either rules or access, not both",
		     rule, i);
	if (e->protocol && *e->protocol && !e->n_rules && !(e->access && *e->access))
		verr(v, "network_policies.%s.endpoints[%zu]: protocol '%s' needs rules or access",
		     rule, i, e->protocol);
	if (e->protocol && !strcmp(e->protocol, "sql") && e->enforcement &&
	    !strcmp(e->enforcement, "enforce"))
		verr(v,
		     "network_policies.%s.endpoints[%zu]: SQL enforcement is not supported (use "
		     "audit)",
		     rule, i);
	for (size_t k = 0; k < e->n_allowed_ips; k++)
		if (!valid_ip_or_cidr(e->allowed_ips[k]))
			verr(v,
			     "network_policies.%s.endpoints[%zu].allowed_ips[%zu]: '%s' is not an "
			     "IP address or CIDR",
			     rule, i, k, e->allowed_ips[k]);
	for (size_t r = 0; r < e->n_rules; r++) {
		const Openshell__V1__L7Allow *a = e->rules[r]->allow;

		if (!a) {
			verr(v, "network_policies.%s.endpoints[%zu].rules[%zu]: needs 'allow'",
			     rule, i, r);
			continue;
		}
		for (size_t q = 0; q < a->n_query; q++) {
			const Openshell__V1__L7QueryMatcher *m = a->query[q]->value;
			bool glob = m && m->glob && *m->glob;
			bool any = m && m->n_any;

			if (glob == any)
				verr(
				    v,
				    "network_policies.%s.endpoints[%zu].rules[%zu].allow.query.%s: "
				    "needs exactly one of glob / any",
				    rule, i, r, a->query[q]->key);
		}
	}
}

int osh_policy_validate(const osh_policy_pb *p, char *err, size_t errlen)
{
	static const char *const compat[] = {"", "best_effort", "hard_requirement", NULL};
	struct vctx v = {.err = err, .errlen = errlen};

	if (errlen)
		err[0] = '\0';
	if (!p) {
		verr(&v, "no policy");
		goto out;
	}
	if (p->filesystem) {
		const Openshell__V1__FilesystemPolicy *fs = p->filesystem;

		if (fs->n_read_only + fs->n_read_write > 256)
			verr(&v, "filesystem: more than 256 paths");
		check_paths(&v, "read_only", fs->read_only, fs->n_read_only, false);
		check_paths(&v, "read_write", fs->read_write, fs->n_read_write, true);
	}
	if (p->landlock && !one_of(p->landlock->compatibility, compat))
		verr(&v, "landlock.compatibility: unknown '%s' (best_effort, hard_requirement)",
		     p->landlock->compatibility);
	for (size_t i = 0; i < p->n_network_policies && !v.rc; i++) {
		const Openshell__V1__SandboxPolicy__NetworkPoliciesEntry *e =
		    p->network_policies[i];
		const Openshell__V1__NetworkPolicyRule *r = e->value;

		if (!e->key || !*e->key) {
			verr(&v, "network_policies: empty policy key");
			break;
		}
		if (!r)
			continue;
		for (size_t k = 0; k < r->n_endpoints && !v.rc; k++)
			check_endpoint(&v, e->key, k, r->endpoints[k]);
		for (size_t k = 0; k < r->n_binaries && !v.rc; k++)
			if (!r->binaries[k]->path || !*r->binaries[k]->path)
				verr(&v, "network_policies.%s.binaries[%zu].path: empty", e->key,
				     k);
	}
out:
	return v.rc;
}

/* ------------------------------------------------------- copy, hash, free */

int osh_policy_copy(const osh_policy_pb *src, osh_policy_pb **out)
{
	int rc = OSH_ENOMEM;
	size_t n = protobuf_c_message_get_packed_size(&src->base);
	uint8_t *buf = malloc(n ? n : 1);

	*out = NULL;
	if (!buf)
		goto out;
	protobuf_c_message_pack(&src->base, buf);
	*out = openshell__v1__sandbox_policy__unpack(NULL, n, buf);
	rc = *out ? 0 : OSH_EPARSE;
out:
	free(buf);
	return rc;
}

int osh_policy_hash(const osh_policy_pb *p, char out[65])
{
	int rc = OSH_ENOMEM;
	size_t n = protobuf_c_message_get_packed_size(&p->base);
	uint8_t *buf = malloc(n ? n : 1);
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (!buf)
		goto out;
	protobuf_c_message_pack(&p->base, buf);
	if (!EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		rc = OSH_EPROTO;
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + (size_t)2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	free(buf);
	return rc;
}

size_t osh_policy_rule_count(const osh_policy_pb *p)
{
	return p ? p->n_network_policies : 0;
}

void osh_policy_free(osh_policy_pb *p)
{
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
}
