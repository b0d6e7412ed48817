/* l7_infer.c - the pure half of inference.local (see l7_infer.h): routes
 * file, request framing, pattern table, router, header rules, body rewrite,
 * chunked decoder.
 *
 * DESIGN
 * Nothing here touches a socket, a thread or the emit runtime, so all of it
 * is unit-tested and fuzzed directly (tests/fuzz/infer_request_fuzz.c). The
 * request head is parsed by the proxy's strict parser (proxy_http.h: the one
 * HTTP head parser of the supervisor, with its smuggling guards); this file
 * adds only what inference needs on top of it: the body (Content-Length or
 * chunked, at most 10 MiB and 4096 chunks), the absolute-form reduction and
 * the keep-alive decision. The routes file is walked node by node so that
 * every error names the file, the line and the key path; a key's value is
 * never copied into an error.
 */
#include "l7_infer.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include <cjson/cJSON.h>

#include "osh_parse.h"

/* ------------------------------------------------------------ protocols */

static const struct {
	unsigned bit;
	const char *name;
} protos[] = {
    {OSH_L7_INFER_OPENAI_CHAT, "openai_chat_completions"},
    {OSH_L7_INFER_OPENAI_COMPLETIONS, "openai_completions"},
    {OSH_L7_INFER_OPENAI_RESPONSES, "openai_responses"},
    {OSH_L7_INFER_ANTHROPIC_MESSAGES, "anthropic_messages"},
    {OSH_L7_INFER_MODEL_DISCOVERY, "model_discovery"},
};

#define N_PROTOS (sizeof(protos) / sizeof(protos[0]))

const char *osh_l7_infer_proto_name(unsigned proto)
{
	const char *name = "-";

	for (size_t i = 0; i < N_PROTOS; i++)
		if (protos[i].bit == proto)
			name = protos[i].name;
	return name;
}

static bool span_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static bool span_ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

unsigned osh_l7_infer_classify(const char *method, size_t method_len, const char *path,
			       size_t path_len)
{
	static const char models[] = "/v1/models/";
	const char *q = memchr(path, '?', path_len);
	size_t n = q ? (size_t)(q - path) : path_len;
	unsigned proto = OSH_L7_INFER_PROTO_NONE;

	if (span_ieq(method, method_len, "POST")) {
		if (span_is(path, n, "/v1/chat/completions"))
			proto = OSH_L7_INFER_OPENAI_CHAT;
		else if (span_is(path, n, "/v1/completions"))
			proto = OSH_L7_INFER_OPENAI_COMPLETIONS;
		else if (span_is(path, n, "/v1/responses"))
			proto = OSH_L7_INFER_OPENAI_RESPONSES;
		else if (span_is(path, n, "/v1/messages"))
			proto = OSH_L7_INFER_ANTHROPIC_MESSAGES;
	} else if (span_ieq(method, method_len, "GET")) {
		if (span_is(path, n, "/v1/models") ||
		    (n > sizeof(models) - 1 && memcmp(path, models, sizeof(models) - 1) == 0))
			proto = OSH_L7_INFER_MODEL_DISCOVERY;
	}
	return proto;
}

/* --------------------------------------------------------------- routes */

struct rwalk {
	yaml_document_t *doc;
	const char *source;
	char *err;
	size_t errlen;
	int rc;
};

static void rerr(struct rwalk *w, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rerr(struct rwalk *w, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->rc)
		return;
	w->rc = OSH_EPARSE;
	k = snprintf(w->err, w->errlen, "%s:%lu: ", w->source,
		     n ? (unsigned long)n->start_mark.line + 1 : 0UL);
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

static const char *env_find(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	const char *v = NULL;

	if (!envp)
		return getenv(name);
	for (; *envp && !v; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			v = *envp + n + 1;
	return v;
}

static char *dup_or_fail(struct rwalk *w, const char *s)
{
	char *d = strdup(s);

	if (!d && !w->rc) {
		w->rc = OSH_ENOMEM;
		snprintf(w->err, w->errlen, "%s: out of memory", w->source);
	}
	return d;
}

/* A non-empty string value of `key` (field path `where`), or NULL with an
 * error naming it. */
static const char *str_value(struct rwalk *w, const yaml_node_t *v, const char *where)
{
	const char *s = scalar(v);

	if (!s)
		rerr(w, v, "%s: must be a string", where);
	else if (!*s)
		rerr(w, v, "%s: must not be empty", where);
	return w->rc ? NULL : s;
}

static void parse_endpoint(struct rwalk *w, const yaml_node_t *v, const char *where,
			   struct osh_l7_infer_route *r)
{
	const char *s = r->endpoint, *auth, *slash;
	char hp[OSH_HTTP_HOST_MAX + 16];
	struct osh_http_target t;
	const char *why = NULL;
	size_t alen;

	if (strncasecmp(s, "http://", 7) == 0) {
		auth = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		auth = s + 8;
		r->tls = true;
	} else {
		rerr(w, v, "%s: must start with http:// or https://", where);
		return;
	}
	if (strpbrk(s, "?#")) {
		rerr(w, v, "%s: must not carry a query or a fragment", where);
		return;
	}
	slash = strchr(auth, '/');
	alen = slash ? (size_t)(slash - auth) : strlen(auth);
	if (memchr(auth, '@', alen)) {
		rerr(w, v, "%s: must not carry user info (put the key in api_key or api_key_env)",
		     where);
		return;
	}
	if (alen == 0 || alen >= OSH_HTTP_HOST_MAX + 2) {
		rerr(w, v, "%s: has no valid host", where);
		return;
	}
	/* authority + default port -> the CONNECT target parser validates it */
	if (auth[alen - 1] == ']' || !memchr(auth, ':', alen) ||
	    (auth[0] == '[' && auth[alen - 1] == ']'))
		snprintf(hp, sizeof(hp), "%.*s:%u", (int)alen, auth, r->tls ? 443u : 80u);
	else
		snprintf(hp, sizeof(hp), "%.*s", (int)alen, auth);
	if (osh_http_parse_connect_target(hp, strlen(hp), &t, &why) != 0) {
		rerr(w, v, "%s: bad host or port: %s", where, why);
		return;
	}
	r->host = dup_or_fail(w, t.host);
	r->port = t.port;
	r->base_path = dup_or_fail(w, slash ? slash : "");
}

static unsigned proto_bit(const char *s)
{
	char low[64];
	size_t n, b = 0;
	unsigned bit = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= sizeof(low))
		return 0;
	for (size_t i = 0; i < n; i++)
		low[b++] = (char)tolower((unsigned char)s[i]);
	low[b] = '\0';
	for (size_t i = 0; i < N_PROTOS; i++)
		if (strcmp(protos[i].name, low) == 0)
			bit = protos[i].bit;
	return bit;
}

static void parse_protocols(struct rwalk *w, yaml_node_t *v, const char *where,
			    struct osh_l7_infer_route *r)
{
	if (!v || v->type != YAML_SEQUENCE_NODE) {
		rerr(w, v, "%s: must be a list of protocol names", where);
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start;
	     it < v->data.sequence.items.top && !w->rc; it++) {
		yaml_node_t *p = yaml_document_get_node(w->doc, *it);
		const char *s = scalar(p);
		unsigned bit = s ? proto_bit(s) : 0;

		if (!bit)
			rerr(w, p,
			     "%s: unknown protocol '%s' (known: openai_chat_completions, "
			     "openai_completions, openai_responses, anthropic_messages, "
			     "model_discovery)",
			     where, s ? s : "(not a string)");
		r->protocols |= bit;
	}
	if (!w->rc && r->protocols == 0)
		rerr(w, v, "%s: must name at least one protocol", where);
}

static void parse_route(struct rwalk *w, yaml_node_t *n, size_t idx, struct osh_l7_infer_route *r)
{
	yaml_node_t *key_node = NULL, *env_node = NULL;
	char where[96];
	bool have_ep = false, have_model = false, have_protos = false, have_name = false;

	if (n->type != YAML_MAPPING_NODE) {
		rerr(w, n, "routes[%zu]: must be a mapping", idx);
		return;
	}
	r->timeout_ms = 60000;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !w->rc; p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		const char *key = scalar(k), *s;

		if (!key) {
			rerr(w, k, "routes[%zu]: keys must be strings", idx);
			break;
		}
		snprintf(where, sizeof(where), "routes[%zu].%s", idx, key);
		if (strcmp(key, "name") == 0 && !have_name) {
			have_name = true;
			if ((s = str_value(w, v, where)))
				r->name = dup_or_fail(w, s);
		} else if (strcmp(key, "endpoint") == 0 && !have_ep) {
			have_ep = true;
			if ((s = str_value(w, v, where))) {
				size_t len = strlen(s);

				while (len > 0 && s[len - 1] == '/')
					len--;
				r->endpoint = strndup(s, len);
				if (!r->endpoint)
					w->rc = OSH_ENOMEM;
				else
					parse_endpoint(w, v, where, r);
			}
		} else if (strcmp(key, "model") == 0 && !have_model) {
			have_model = true;
			if ((s = str_value(w, v, where)))
				r->model = dup_or_fail(w, s);
		} else if (strcmp(key, "provider_type") == 0 && !r->provider_type) {
			if ((s = str_value(w, v, where))) {
				r->provider_type = dup_or_fail(w, s);
				for (char *c = r->provider_type; c && *c; c++)
					*c = (char)tolower((unsigned char)*c);
			}
		} else if (strcmp(key, "protocols") == 0 && !have_protos) {
			have_protos = true;
			parse_protocols(w, v, where, r);
		} else if (strcmp(key, "api_key") == 0 && !key_node) {
			key_node = v;
			if (!scalar(v) || !*scalar(v))
				rerr(w, v, "%s: must be a non-empty string", where);
			else
				r->api_key = dup_or_fail(w, scalar(v));
		} else if (strcmp(key, "api_key_env") == 0 && !env_node) {
			env_node = v;
			if ((s = str_value(w, v, where)))
				r->api_key_env = dup_or_fail(w, s);
		} else if (strcmp(key, "timeout_secs") == 0) {
			uint64_t secs = 0;

			if (!scalar(v) || osh_parse_u64(scalar(v), 1, 3600, &secs) != 0)
				rerr(w, v, "%s: must be a whole number of seconds, 1..3600", where);
			r->timeout_ms = (unsigned)secs * 1000u;
		} else {
			rerr(w, k,
			     "%s: unknown or repeated key (known: name, endpoint, model, "
			     "provider_type, protocols, api_key, api_key_env, timeout_secs)",
			     where);
		}
	}
	if (w->rc)
		return;
	if (!have_name)
		rerr(w, n, "routes[%zu].name: required", idx);
	else if (!have_ep)
		rerr(w, n, "routes[%zu].endpoint: required", idx);
	else if (!have_model)
		rerr(w, n, "routes[%zu].model: required", idx);
	else if (!have_protos)
		rerr(w, n, "routes[%zu].protocols: required", idx);
	else if (key_node && env_node)
		rerr(w, env_node, "routes[%zu]: give api_key or api_key_env, not both", idx);
	else if (!key_node && !env_node)
		rerr(w, n, "routes[%zu].api_key: required (or api_key_env)", idx);
}

static void resolve_env_key(struct rwalk *w, char *const *envp, yaml_node_t *n, size_t idx,
			    struct osh_l7_infer_route *r)
{
	const char *val;

	if (w->rc || !r->api_key_env)
		return;
	val = env_find(envp, r->api_key_env);
	if (!val || !*val)
		rerr(w, n, "routes[%zu].api_key_env: variable %s is not set or empty", idx,
		     r->api_key_env);
	else
		r->api_key = dup_or_fail(w, val);
}

static void finish_route(struct rwalk *w, struct osh_l7_infer_routes *rs, size_t i, yaml_node_t *n)
{
	struct osh_l7_infer_route *r = &rs->r[i];

	if (w->rc)
		return;
	if (!r->provider_type)
		r->provider_type = dup_or_fail(w, "openai");
	r->anthropic = r->provider_type && strcmp(r->provider_type, "anthropic") == 0;
	for (size_t j = 0; j < i && !w->rc; j++)
		if (strcmp(rs->r[j].name, r->name) == 0)
			rerr(w, n, "routes[%zu].name: '%s' is already the name of routes[%zu]", i,
			     r->name, j);
}

int osh_l7_infer_routes_parse(const char *text, size_t len, const char *source, char *const *envp,
			      struct osh_l7_infer_routes **out, char *err, size_t errlen)
{
	struct osh_l7_infer_routes *rs = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	struct rwalk w = {
	    .doc = &doc, .source = source ? source : "routes", .err = err, .errlen = errlen};
	yaml_node_t *root, *list = NULL;
	bool parser_ok = false, doc_ok = false;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (len > OSH_L7_INFER_ROUTES_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes", w.source,
			 OSH_L7_INFER_ROUTES_BYTES);
		return OSH_ETOOBIG;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs || !(rs->source = strdup(w.source))) {
		w.rc = OSH_ENOMEM;
		goto out;
	}
	parser_ok = yaml_parser_initialize(&parser) != 0;
	if (!parser_ok) {
		w.rc = OSH_ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	doc_ok = yaml_parser_load(&parser, &doc) != 0;
	if (!doc_ok) {
		w.rc = OSH_EPARSE;
		snprintf(err, errlen, "%s:%lu: YAML: %s", w.source,
			 (unsigned long)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "syntax error");
		goto out;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		rerr(&w, NULL, "empty file: expected a mapping with `routes`");
		goto out;
	}
	if (root->type != YAML_MAPPING_NODE) {
		rerr(&w, root, "expected a mapping with `routes`");
		goto out;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top && !w.rc; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		const char *key = scalar(k);

		if (key && strcmp(key, "routes") == 0 && !list)
			list = yaml_document_get_node(&doc, p->value);
		else
			rerr(&w, k, "%s: unknown or repeated key (the file has one key: routes)",
			     key ? key : "(not a string)");
	}
	if (w.rc)
		goto out;
	if (!list) {
		rerr(&w, root, "routes: required");
		goto out;
	}
	if (list->type == YAML_SCALAR_NODE &&
	    (!*scalar(list) || !strcmp(scalar(list), "~") || !strcmp(scalar(list), "null")))
		goto out; /* `routes:` with nothing: no routes */
	if (list->type != YAML_SEQUENCE_NODE) {
		rerr(&w, list, "routes: must be a list");
		goto out;
	}
	{
		size_t n =
		    (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);

		if (n > OSH_L7_INFER_ROUTES_MAX) {
			rerr(&w, list, "routes: %zu routes, at most %u", n,
			     OSH_L7_INFER_ROUTES_MAX);
			goto out;
		}
		rs->r = n ? calloc(n, sizeof(*rs->r)) : NULL;
		if (n && !rs->r) {
			w.rc = OSH_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n && !w.rc; i++) {
			yaml_node_t *it =
			    yaml_document_get_node(&doc, list->data.sequence.items.start[i]);

			rs->n = i + 1;
			parse_route(&w, it, i, &rs->r[i]);
			resolve_env_key(&w, envp, it, i, &rs->r[i]);
			finish_route(&w, rs, i, it);
		}
	}
out:
	if (w.rc == OSH_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", w.source);
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	if (w.rc) {
		osh_l7_infer_routes_free(rs);
		rs = NULL;
	}
	*out = rs;
	return w.rc;
}

int osh_l7_infer_routes_load(const char *path, char *const *envp, struct osh_l7_infer_routes **out,
			     char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return OSH_EIO;
	}
	buf = malloc(OSH_L7_INFER_ROUTES_BYTES + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		rc = OSH_ENOMEM;
	} else {
		len = fread(buf, 1, OSH_L7_INFER_ROUTES_BYTES + 1, f);
		if (ferror(f)) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			rc = OSH_EIO;
		}
	}
	fclose(f);
	if (rc == 0)
		rc = osh_l7_infer_routes_parse(buf, len, path, envp, out, err, errlen);
	free(buf);
	return rc;
}

void osh_l7_infer_routes_free(struct osh_l7_infer_routes *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		struct osh_l7_infer_route *r = &rs->r[i];

		if (r->api_key) {
			explicit_bzero(r->api_key, strlen(r->api_key));
			free(r->api_key);
		}
		free(r->name);
		free(r->endpoint);
		free(r->model);
		free(r->provider_type);
		free(r->api_key_env);
		free(r->host);
		free(r->base_path);
	}
	free(rs->r);
	free(rs->source);
	free(rs);
}

const struct osh_l7_infer_route *osh_l7_infer_route_pick(const struct osh_l7_infer_routes *rs,
							 unsigned proto)
{
	const struct osh_l7_infer_route *r = NULL;

	for (size_t i = 0; rs && i < rs->n && !r; i++)
		if (rs->r[i].protocols & proto)
			r = &rs->r[i];
	return r;
}

int osh_l7_infer_upstream_target(const struct osh_l7_infer_route *r, const char *path,
				 size_t path_len, char *out, size_t cap)
{
	const char *base = r->base_path ? r->base_path : "";
	size_t blen = strlen(base);
	int k;

	if (blen >= 3 && strcmp(base + blen - 3, "/v1") == 0 && path_len >= 3 &&
	    memcmp(path, "/v1", 3) == 0 && (path_len == 3 || path[3] == '/' || path[3] == '?'))
		blen -= 3;
	k = snprintf(out, cap, "%.*s%.*s", (int)blen, base, (int)path_len, path);
	if (k < 0 || (size_t)k >= cap)
		return OSH_ETOOBIG;
	if (out[0] != '/') /* an empty base and path cannot happen; keep it origin-form */
		return OSH_EINVAL;
	return 0;
}

/* ------------------------------------------------------------- chunked */

enum {
	CK_SIZE,
	CK_EXT,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER,
	CK_TRAILER_LF,
	CK_LAST_LF,
	CK_DONE
};

#define CK_LINE_MAX 1024u

static int hexval(char c)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v;
}

ssize_t osh_l7_chunk_dec_feed(struct osh_l7_chunk_dec *d, const char *in, size_t n,
			      bool (*out)(void *arg, const char *p, size_t len), void *arg,
			      const char **reason)
{
	size_t i = 0;
	const char *why = NULL;

	while (i < n && !why && d->st != CK_DONE) {
		char c = in[i];

		switch (d->st) {
		case CK_SIZE:
			if (hexval(c) >= 0) {
				if (++d->digits > 15)
					why = "chunk size has too many digits";
				d->left = d->left * 16 + (uint64_t)hexval(c);
			} else if (d->digits > 0 && (c == ';' || c == ' ' || c == '\t')) {
				d->st = CK_EXT;
				d->line = 0;
			} else if (d->digits > 0 && c == '\r') {
				d->st = CK_SIZE_LF;
			} else {
				why = "chunk size is not hexadecimal";
			}
			i++;
			break;
		case CK_EXT:
			if (c == '\r')
				d->st = CK_SIZE_LF;
			else if (c == '\n' || ++d->line > CK_LINE_MAX ||
				 (c != '\t' && (unsigned char)c < 0x20))
				why = "chunk extension malformed or too long";
			i++;
			break;
		case CK_SIZE_LF:
			if (c != '\n') {
				why = "CR not followed by LF after the chunk size";
			} else if (d->left == 0) {
				d->st = CK_TRAILER;
				d->line = 0;
			} else {
				d->st = CK_DATA;
				d->chunks++;
			}
			i++;
			break;
		case CK_DATA: {
			size_t take = n - i < d->left ? n - i : (size_t)d->left;

			if (out && !out(arg, in + i, take))
				why = "stopped";
			d->left -= take;
			d->total += take;
			i += take;
			if (d->left == 0)
				d->st = CK_DATA_CR;
			break;
		}
		case CK_DATA_CR:
			if (c != '\r')
				why = "chunk data longer than its size";
			d->st = CK_DATA_LF;
			i++;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				why = "CR not followed by LF after chunk data";
			d->st = CK_SIZE;
			d->digits = 0;
			d->left = 0;
			i++;
			break;
		case CK_TRAILER:
			if (c == '\r' && d->line == 0)
				d->st = CK_LAST_LF;
			else if (c == '\r')
				d->st = CK_TRAILER_LF;
			else if (c == '\n' || ++d->line > CK_LINE_MAX ||
				 (c != '\t' && (unsigned char)c < 0x20))
				why = "trailer line malformed or too long";
			i++;
			break;
		case CK_TRAILER_LF:
			if (c != '\n')
				why = "CR not followed by LF in a trailer";
			d->st = CK_TRAILER;
			d->line = 0;
			i++;
			break;
		case CK_LAST_LF:
			if (c != '\n')
				why = "CR not followed by LF at the end of the chunked body";
			d->st = CK_DONE;
			d->done = true;
			i++;
			break;
		default:
			why = "chunked decoder in a bad state";
			break;
		}
	}
	if (why) {
		*reason = why;
		return -1;
	}
	return (ssize_t)i;
}

/* ------------------------------------------------------------ requests */

struct bodybuf {
	char *p;
	size_t len, cap;
	bool over;
};

static bool body_put(void *arg, const char *p, size_t len)
{
	struct bodybuf *b = arg;

	if (b->len + len > OSH_L7_INFER_BODY_MAX) {
		b->over = true;
		return false;
	}
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;

		while (cap < b->len + len)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return false;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return true;
}

static bool hdr_has_token(const struct osh_http_req *h, const char *name, const char *token)
{
	bool found = false;

	for (size_t i = 0; i < h->n_hdr && !found; i++) {
		const struct osh_http_hdr *x = &h->hdr[i];
		const char *v = x->value, *end = x->value + x->value_len;

		if (!span_ieq(x->name, x->name_len, name))
			continue;
		while (v < end && !found) {
			const char *c = memchr(v, ',', (size_t)(end - v));
			const char *e = c ? c : end;
			const char *a = v;

			while (a < e && (*a == ' ' || *a == '\t'))
				a++;
			while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			found = span_ieq(a, (size_t)(e - a), token);
			v = c ? c + 1 : end;
		}
	}
	return found;
}

/* Absolute-form http(s)://authority/path -> /path ("/" when none). */
static int origin_path(const char *t, size_t n, const char **path, size_t *plen)
{
	const char *p = t, *end = t + n;
	int rc = 0;

	if (n > 0 && t[0] == '/') {
		*path = t;
		*plen = n;
	} else if ((n > 7 && strncasecmp(t, "http://", 7) == 0) ||
		   (n > 8 && strncasecmp(t, "https://", 8) == 0)) {
		p = (const char *)memchr(t, ':', n) + 3;
		while (p < end && *p != '/' && *p != '?')
			p++;
		if (p == end) {
			*path = "/";
			*plen = 1;
		} else if (*p == '?') {
			rc = OSH_EPARSE; /* "http://h?q": no path to route */
		} else {
			*path = p;
			*plen = (size_t)(end - p);
		}
	} else {
		rc = OSH_EPARSE;
	}
	return rc;
}

int osh_l7_infer_parse_request(const char *buf, size_t len, struct osh_l7_infer_req *rq,
			       int *status, const char **reason)
{
	struct osh_http_err herr = {0};
	int rc;

	osh_l7_infer_req_fini(rq);
	*status = 0;
	*reason = NULL;
	rc = osh_http_parse_head(buf, len, &rq->head, &herr);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		*status = herr.status ? herr.status : 400;
		*reason = herr.reason ? herr.reason : "malformed request head";
		return rc;
	}
	if (osh_http_method_is(&rq->head, "CONNECT")) {
		*status = 400;
		*reason = "CONNECT inside the inference.local tunnel";
		return OSH_EPARSE;
	}
	if (origin_path(rq->head.target, rq->head.target_len, &rq->path, &rq->path_len) != 0) {
		*status = 400;
		*reason = "request target is neither origin-form nor an http(s) URL";
		return OSH_EPARSE;
	}
	rq->keep_alive = rq->head.minor == 1 ? !hdr_has_token(&rq->head, "connection", "close")
					     : hdr_has_token(&rq->head, "connection", "keep-alive");
	rq->expect_continue = hdr_has_token(&rq->head, "expect", "100-continue");
	if (rq->head.content_length > (int64_t)OSH_L7_INFER_BODY_MAX ||
	    (rq->head.content_length >= 0 &&
	     rq->head.head_len + (uint64_t)rq->head.content_length > OSH_L7_INFER_BODY_MAX)) {
		*status = 413;
		*reason = "request larger than 10 MiB";
		return OSH_ETOOBIG;
	}
	if (rq->head.content_length > 0) {
		size_t cl = (size_t)rq->head.content_length;

		if (len - rq->head.head_len < cl)
			return 0;
		rq->body = malloc(cl);
		if (!rq->body) {
			*status = 500;
			*reason = "out of memory";
			return OSH_ENOMEM;
		}
		memcpy(rq->body, buf + rq->head.head_len, cl);
		rq->body_len = cl;
		rq->consumed = rq->head.head_len + cl;
		return 1;
	}
	if (rq->head.chunked) {
		struct osh_l7_chunk_dec d = {0};
		struct bodybuf b = {0};
		const char *why = NULL;
		ssize_t used = osh_l7_chunk_dec_feed(&d, buf + rq->head.head_len,
						     len - rq->head.head_len, body_put, &b, &why);

		rq->body = b.p;
		rq->body_len = b.len;
		if (used < 0 && (b.over || d.chunks > OSH_L7_INFER_CHUNKS_MAX)) {
			*status = 413;
			*reason = "request larger than 10 MiB";
			return OSH_ETOOBIG;
		}
		if (used < 0 && strcmp(why, "stopped") == 0) {
			*status = 500;
			*reason = "out of memory";
			return OSH_ENOMEM;
		}
		if (used < 0) {
			*status = 400;
			*reason = why;
			return OSH_EPARSE;
		}
		if (d.chunks > OSH_L7_INFER_CHUNKS_MAX) {
			*status = 413;
			*reason = "request body has more than 4096 chunks";
			return OSH_ETOOBIG;
		}
		if (!d.done) {
			if (len >= OSH_L7_INFER_BODY_MAX) {
				*status = 413;
				*reason = "request larger than 10 MiB";
				return OSH_ETOOBIG;
			}
			return 0;
		}
		rq->consumed = rq->head.head_len + (size_t)used;
		return 1;
	}
	rq->consumed = rq->head.head_len;
	return 1;
}

void osh_l7_infer_req_fini(struct osh_l7_infer_req *rq)
{
	free(rq->body);
	memset(rq, 0, sizeof(*rq));
}

/* -------------------------------------------------------- header rules */

static bool in_list(const char *name, size_t len, const char *const *list)
{
	bool hit = false;

	for (; *list && !hit; list++)
		hit = span_ieq(name, len, *list);
	return hit;
}

static const char *const hop_by_hop[] = {"connection",
					 "keep-alive",
					 "proxy-authenticate",
					 "proxy-authorization",
					 "proxy-connection",
					 "te",
					 "trailer",
					 "transfer-encoding",
					 "upgrade",
					 NULL};

bool osh_l7_infer_strip_request_header(const char *name, size_t len)
{
	static const char *const own[] = {"authorization",  "x-api-key", "host",
					  "content-length", "expect",	 NULL};

	return in_list(name, len, own) || in_list(name, len, hop_by_hop);
}

bool osh_l7_infer_strip_response_header(const char *name, size_t len)
{
	return span_ieq(name, len, "content-length") || in_list(name, len, hop_by_hop);
}

/* ---------------------------------------------------------- model body */

int osh_l7_infer_rewrite_model(const char *body, size_t len, const char *model, char **out,
			       size_t *out_len)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	char *text = NULL;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (root && cJSON_IsObject(root)) {
		cJSON *m = cJSON_CreateString(model);

		rc = OSH_ENOMEM;
		if (m && cJSON_GetObjectItemCaseSensitive(root, "model"))
			cJSON_ReplaceItemInObjectCaseSensitive(root, "model", m);
		else if (m)
			cJSON_AddItemToObject(root, "model", m);
		if (m)
			text = cJSON_PrintUnformatted(root);
		if (text) {
			*out = text;
			*out_len = strlen(text);
			rc = 1;
		}
	}
	cJSON_Delete(root);
	return rc;
}

const char *osh_l7_infer_reason_phrase(int status)
{
	static const struct {
		int code;
		const char *text;
	} t[] = {
	    {100, "Continue"},
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {204, "No Content"},
	    {206, "Partial Content"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {304, "Not Modified"},
	    {307, "Temporary Redirect"},
	    {308, "Permanent Redirect"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {402, "Payment Required"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {413, "Content Too Large"},
	    {415, "Unsupported Media Type"},
	    {422, "Unprocessable Content"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	    {505, "HTTP Version Not Supported"},
	};
	const char *r = "Unknown";

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == status)
			r = t[i].text;
	return r;
}
