/* gx_config.c - the export section parser (see gx_config.h).
 *
 * DESIGN
 * libyaml loads the whole file as a document (it is small: the gateway's
 * config, capped at 1 MiB); one walk per level checks every key against a
 * table of the keys that level allows, so a typo is refused with its line
 * rather than ignored. Each value parser writes its error as "what was
 * wrong" and the walker prefixes file:line:key, so every message has the
 * same shape. The OCSF versions accepted are the converter's list once it
 * exists; until then 1.7.0 only (the version the bindings are generated
 * from).
 */
#include "gx_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "gwfile.h"
#include "osh_parse.h"

#define YAML_MAX_BYTES (1u << 20)

/* The walk's state: the document, the file name and the error buffer. */
struct walk {
	yaml_document_t *doc;
	const char *path;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int fail(struct walk *w, const yaml_node_t *n,
						      const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(w->err, w->errlen, "%s:%lu:%s: %s", w->path,
		 n ? (unsigned long)n->start_mark.line + 1 : 0ul, key, what);
	return OSH_EPARSE;
}

static yaml_node_t *node(struct walk *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Copies a non-empty scalar of at most cap-1 bytes without control bytes. */
static int get_str(struct walk *w, const yaml_node_t *n, const char *key, char *out, size_t cap)
{
	const char *s = scalar(n);

	if (!s)
		return fail(w, n, key, "must be a scalar");
	if (!s[0])
		return fail(w, n, key, "must not be empty");
	if (strlen(s) >= cap)
		return fail(w, n, key, "longer than %zu bytes", cap - 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return fail(w, n, key, "contains a control character");
	snprintf(out, cap, "%s", s);
	return 0;
}

static int get_bool(struct walk *w, const yaml_node_t *n, const char *key, bool *out)
{
	const char *s = scalar(n);

	if (!s || osh_parse_bool(s, out) != 0)
		return fail(w, n, key, "must be true or false, got '%s'", s ? s : "(not a scalar)");
	return 0;
}

static int get_u64(struct walk *w, const yaml_node_t *n, const char *key, uint64_t min,
		   uint64_t max, uint64_t *out)
{
	const char *s = scalar(n);
	char num[32];
	uint64_t mult = 1, v;
	size_t len;

	if (!s || !s[0] || (len = strlen(s)) >= sizeof(num))
		return fail(w, n, key, "must be a number");
	snprintf(num, sizeof(num), "%s", s);
	/* sizes may say KiB / MiB / GiB */
	if (len > 3 && strcmp(num + len - 3, "KiB") == 0)
		mult = 1u << 10;
	else if (len > 3 && strcmp(num + len - 3, "MiB") == 0)
		mult = 1u << 20;
	else if (len > 3 && strcmp(num + len - 3, "GiB") == 0)
		mult = 1u << 30;
	if (mult != 1)
		num[len - 3] = '\0';
	if (osh_parse_u64(num, 0, UINT64_MAX / mult, &v) != 0 || v * mult < min || v * mult > max)
		return fail(w, n, key, "must be a number from %llu to %llu, got '%s'",
			    (unsigned long long)min, (unsigned long long)max, s);
	*out = v * mult;
	return 0;
}

static int get_u32(struct walk *w, const yaml_node_t *n, const char *key, uint32_t min,
		   uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	int rc = get_u64(w, n, key, min, max, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

static const char *const sev_names[] = {"unknown", "informational", "low",  "medium",
					"high",	   "critical",	    "fatal"};

static int get_severity(struct walk *w, const yaml_node_t *n, const char *key, int *out)
{
	const char *s = scalar(n);
	uint64_t v;

	if (!s)
		return fail(w, n, key, "must be a severity name or number");
	for (int i = 0; i < 7; i++)
		if (strcasecmp(s, sev_names[i]) == 0 || (i == 1 && strcasecmp(s, "info") == 0)) {
			*out = i;
			return 0;
		}
	if (osh_parse_u64(s, 0, 6, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	return fail(w, n, key,
		    "unknown severity '%s' (expected informational, low, medium, high, critical, "
		    "fatal or 0-6)",
		    s);
}

static int check_schema_version(struct walk *w, const yaml_node_t *n, const char *key,
				const char *v, enum ocsf_version *out)
{
	if (ocsf_version_parse(v, out) != 0)
		return fail(w, n, key,
			    "unknown OCSF version '%s' (expected " OCSF_VERSION_ACCEPTED ")", v);
	return 0;
}

static int token_check(struct walk *w, const yaml_node_t *n, const char *key, const char *path)
{
	char *text = NULL, why[256];
	size_t len = 0;
	int rc;

	rc = osh_gw_file_read(path, GX_TOKEN_MAX, &text, &len, why, sizeof(why));
	if (rc != 0)
		rc = fail(w, n, key, "cannot read token file: %s", why);
	else if (len == 0 || text[0] == '\n' || text[0] == '\r')
		rc = fail(w, n, key, "token file %s is empty", path);
	free(text);
	return rc;
}

/* ---------------------------------------------------------------- filter */

static int walk_filter(struct walk *w, const yaml_node_t *m, const char *pre, struct gx_filter *f)
{
	char key[160];
	int rc = 0;

	if (m->type != YAML_MAPPING_NODE)
		return fail(w, m, pre,
			    "must be a mapping (classes, min_severity, sandboxes, "
			    "gateway_events)");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	     rc == 0 && p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
		const char *name = scalar(k);

		if (snprintf(key, sizeof(key), "%s.%s", pre, name ? name : "?") >= (int)sizeof(key))
			key[sizeof(key) - 1] = '\0';
		if (!name) {
			rc = fail(w, k, pre, "keys must be scalars");
		} else if (strcmp(name, "classes") == 0 || strcmp(name, "sandboxes") == 0) {
			bool cls = name[0] == 'c';

			if (v->type != YAML_SEQUENCE_NODE) {
				rc = fail(w, v, key, "must be a list");
				break;
			}
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     rc == 0 && it < v->data.sequence.items.top; it++) {
				yaml_node_t *e = node(w, *it);
				size_t *cnt = cls ? &f->n_classes : &f->n_sandboxes;
				uint64_t uid = 0;

				if (*cnt == GX_FILTER_MAX) {
					rc = fail(w, e, key, "more than %d entries", GX_FILTER_MAX);
				} else if (cls) {
					rc = get_u64(w, e, key, 0, 999999, &uid);
					if (rc == 0)
						f->classes[(*cnt)++] = (uint32_t)uid;
				} else {
					rc = get_str(w, e, key, f->sandboxes[*cnt], GX_NAME_MAX);
					if (rc == 0)
						(*cnt)++;
				}
			}
		} else if (strcmp(name, "min_severity") == 0) {
			rc = get_severity(w, v, key, &f->min_severity);
		} else if (strcmp(name, "gateway_events") == 0) {
			rc = get_bool(w, v, key, &f->gateway_events);
		} else {
			rc = fail(w, k, key,
				  "unknown filter key (expected classes, min_severity, sandboxes, "
				  "gateway_events)");
		}
	}
	return rc;
}

/* ----------------------------------------------------------- destination */

/* Which keys each kind takes (besides the common ones). */
static const char *const syslog_keys[] = {"address",   "tls",	   "tls_verify",  "ca_file",
					  "cert_file", "key_file", "server_name", "app_name",
					  "facility",  NULL};
static const char *const http_keys[] = {"url", "format", "token_file", "gzip", "ca_file", NULL};
static const char *const file_keys[] = {"path", "rotate_bytes", "keep", NULL};
static const char *const common_keys[] = {
    "name",	  "type",	  "queue_max_bytes", "batch_max_events", "batch_max_bytes",
    "timeout_ms", "retry_min_ms", "retry_max_ms",    "schema_version",	 "filter",
    NULL};

static bool in_list(const char *const *l, const char *k)
{
	for (; *l; l++)
		if (strcmp(*l, k) == 0)
			return true;
	return false;
}

static void dest_defaults(struct gx_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->tls_verify = true;
	snprintf(d->app_name, sizeof(d->app_name), "openshell");
	d->facility = 13;
	d->format = GX_FORMAT_NDJSON;
	d->rotate_bytes = (uint64_t)64 << 20;
	d->keep = 5;
	d->queue_max_bytes = GX_QUEUE_DEFAULT;
	d->batch_max_events = 500;
	d->batch_max_bytes = 1u << 20;
	d->timeout_ms = 5000;
	d->retry_min_ms = 500;
	d->retry_max_ms = 30000;
	snprintf(d->schema_version, sizeof(d->schema_version), GX_SCHEMA_DEFAULT);
	d->schema = OCSF_VERSION_1_7_0;
	d->filter.gateway_events = true;
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* One key of a destination. */
static int dest_key(struct walk *w, struct gx_dest *d, const char *name, yaml_node_t *v,
		    const char *key)
{
	uint64_t u = 0;
	int rc = 0;
	char tmp[32];

	if (strcmp(name, "name") == 0) {
		rc = get_str(w, v, key, d->name, sizeof(d->name));
		if (rc == 0 && !name_ok(d->name))
			rc = fail(w, v, key, "'%s' may hold only letters, digits, '-' and '_'",
				  d->name);
	} else if (strcmp(name, "address") == 0) {
		char buf[300];

		rc = get_str(w, v, key, buf, sizeof(buf));
		if (rc == 0 && osh_parse_hostport(buf, false, d->host, sizeof(d->host), &d->port))
			rc = fail(w, v, key, "'%s' is not HOST:PORT (port 1-65535)", buf);
	} else if (strcmp(name, "tls") == 0) {
		rc = get_bool(w, v, key, &d->tls);
	} else if (strcmp(name, "tls_verify") == 0) {
		rc = get_bool(w, v, key, &d->tls_verify);
	} else if (strcmp(name, "ca_file") == 0) {
		rc = get_str(w, v, key, d->ca_file, sizeof(d->ca_file));
	} else if (strcmp(name, "cert_file") == 0) {
		rc = get_str(w, v, key, d->cert_file, sizeof(d->cert_file));
	} else if (strcmp(name, "key_file") == 0) {
		rc = get_str(w, v, key, d->key_file, sizeof(d->key_file));
	} else if (strcmp(name, "server_name") == 0) {
		rc = get_str(w, v, key, d->server_name, sizeof(d->server_name));
	} else if (strcmp(name, "app_name") == 0) {
		rc = get_str(w, v, key, d->app_name, sizeof(d->app_name));
		for (const char *c = d->app_name; rc == 0 && *c; c++)
			if (*c == ' ')
				rc = fail(w, v, key, "must not contain spaces (RFC 5424 APP-NAME)");
	} else if (strcmp(name, "facility") == 0) {
		rc = get_u64(w, v, key, 0, 23, &u);
		d->facility = (int)u;
	} else if (strcmp(name, "url") == 0) {
		rc = get_str(w, v, key, d->url, sizeof(d->url));
		if (rc == 0 && strncmp(d->url, "http://", 7) != 0 &&
		    strncmp(d->url, "https://", 8) != 0)
			rc = fail(w, v, key, "'%s' must start with http:// or https://", d->url);
	} else if (strcmp(name, "format") == 0) {
		rc = get_str(w, v, key, tmp, sizeof(tmp));
		if (rc == 0 && strcmp(tmp, "ndjson") == 0)
			d->format = GX_FORMAT_NDJSON;
		else if (rc == 0 && strcmp(tmp, "splunk_hec") == 0)
			d->format = GX_FORMAT_SPLUNK_HEC;
		else if (rc == 0)
			rc = fail(w, v, key, "unknown format '%s' (expected ndjson or splunk_hec)",
				  tmp);
	} else if (strcmp(name, "token_file") == 0) {
		rc = get_str(w, v, key, d->token_file, sizeof(d->token_file));
		if (rc == 0)
			rc = token_check(w, v, key, d->token_file);
	} else if (strcmp(name, "gzip") == 0) {
		rc = get_bool(w, v, key, &d->gzip);
	} else if (strcmp(name, "path") == 0) {
		rc = get_str(w, v, key, d->path, sizeof(d->path));
		if (rc == 0 && d->path[0] != '/')
			rc = fail(w, v, key, "'%s' must be an absolute path", d->path);
	} else if (strcmp(name, "rotate_bytes") == 0) {
		rc = get_u64(w, v, key, 0, (uint64_t)1 << 40, &d->rotate_bytes);
	} else if (strcmp(name, "keep") == 0) {
		rc = get_u64(w, v, key, 0, 100, &u);
		d->keep = (unsigned)u;
	} else if (strcmp(name, "queue_max_bytes") == 0) {
		rc = get_u64(w, v, key, GX_QUEUE_MIN, (uint64_t)1 << 40, &d->queue_max_bytes);
	} else if (strcmp(name, "batch_max_events") == 0) {
		rc = get_u32(w, v, key, 1, 100000, &d->batch_max_events);
	} else if (strcmp(name, "batch_max_bytes") == 0) {
		rc = get_u32(w, v, key, 4096, 64u << 20, &d->batch_max_bytes);
	} else if (strcmp(name, "timeout_ms") == 0) {
		rc = get_u32(w, v, key, 100, 600000, &d->timeout_ms);
	} else if (strcmp(name, "retry_min_ms") == 0) {
		rc = get_u32(w, v, key, 10, 600000, &d->retry_min_ms);
	} else if (strcmp(name, "retry_max_ms") == 0) {
		rc = get_u32(w, v, key, 10, 3600000, &d->retry_max_ms);
	} else if (strcmp(name, "schema_version") == 0) {
		rc = get_str(w, v, key, d->schema_version, sizeof(d->schema_version));
		if (rc == 0)
			rc = check_schema_version(w, v, key, d->schema_version, &d->schema);
	} else if (strcmp(name, "filter") == 0) {
		rc = walk_filter(w, v, key, &d->filter);
	}
	return rc;
}

static int walk_dest(struct walk *w, const yaml_node_t *m, size_t idx, struct gx_dest *d)
{
	char pre[64], key[160];
	const char *const *kind_keys = NULL;
	yaml_node_t *type_node = NULL;
	int rc = 0;

	snprintf(pre, sizeof(pre), "export.destinations[%zu]", idx);
	dest_defaults(d);
	if (m->type != YAML_MAPPING_NODE)
		return fail(w, m, pre, "must be a mapping with name, type and its settings");
	/* The type first: it decides which keys are allowed. */
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(w, p->key));

		if (k && strcmp(k, "type") == 0)
			type_node = node(w, p->value);
	}
	snprintf(key, sizeof(key), "%s.type", pre);
	if (!type_node)
		return fail(w, m, key, "missing (syslog, http or file)");
	if (scalar(type_node) && strcmp(scalar(type_node), "syslog") == 0) {
		d->kind = GX_KIND_SYSLOG;
		kind_keys = syslog_keys;
	} else if (scalar(type_node) && strcmp(scalar(type_node), "http") == 0) {
		d->kind = GX_KIND_HTTP;
		kind_keys = http_keys;
	} else if (scalar(type_node) && strcmp(scalar(type_node), "file") == 0) {
		d->kind = GX_KIND_FILE;
		kind_keys = file_keys;
	} else {
		return fail(w, type_node, key, "unknown type '%s' (expected syslog, http or file)",
			    scalar(type_node) ? scalar(type_node) : "(not a scalar)");
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	     rc == 0 && p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(w, p->key);
		const char *name = scalar(k);

		if (snprintf(key, sizeof(key), "%s.%s", pre, name ? name : "?") >= (int)sizeof(key))
			key[sizeof(key) - 1] = '\0';
		if (!name)
			rc = fail(w, k, pre, "keys must be scalars");
		else if (strcmp(name, "type") == 0)
			continue;
		else if (!in_list(common_keys, name) && !in_list(kind_keys, name))
			rc = fail(w, k, key, "unknown key for a %s destination",
				  gx_kind_name(d->kind));
		else
			rc = dest_key(w, d, name, node(w, p->value), key);
	}
	if (rc != 0)
		return rc;
	if (!d->name[0])
		return fail(w, m, pre, "name is required");
	if (d->kind == GX_KIND_SYSLOG && !d->host[0])
		return fail(w, m, pre, "address (HOST:PORT) is required for syslog");
	if (d->kind == GX_KIND_HTTP && !d->url[0])
		return fail(w, m, pre, "url is required for http");
	if (d->kind == GX_KIND_FILE && !d->path[0])
		return fail(w, m, pre, "path is required for file");
	if (!!d->cert_file[0] != !!d->key_file[0])
		return fail(w, m, pre, "cert_file and key_file go together");
	if (d->retry_min_ms > d->retry_max_ms)
		return fail(w, m, pre, "retry_min_ms %u is above retry_max_ms %u", d->retry_min_ms,
			    d->retry_max_ms);
	return 0;
}

static int walk_export(struct walk *w, const yaml_node_t *m, struct gx_config *c)
{
	int rc = 0;

	if (m->type != YAML_MAPPING_NODE)
		return fail(w, m, "export", "must be a mapping (queue_dir, destinations)");
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
	     rc == 0 && p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
		const char *name = scalar(k);

		if (name && strcmp(name, "queue_dir") == 0) {
			rc = get_str(w, v, "export.queue_dir", c->queue_dir, sizeof(c->queue_dir));
			if (rc == 0 && c->queue_dir[0] != '/')
				rc = fail(w, v, "export.queue_dir", "must be an absolute path");
		} else if (name && strcmp(name, "destinations") == 0) {
			if (v->type != YAML_SEQUENCE_NODE)
				return fail(w, v, "export.destinations", "must be a list");
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     rc == 0 && it < v->data.sequence.items.top; it++) {
				if (c->n == GX_DEST_MAX)
					return fail(w, node(w, *it), "export.destinations",
						    "more than %d destinations", GX_DEST_MAX);
				rc = walk_dest(w, node(w, *it), c->n, &c->dests[c->n]);
				for (size_t j = 0; rc == 0 && j < c->n; j++)
					if (strcmp(c->dests[j].name, c->dests[c->n].name) == 0)
						rc = fail(w, node(w, *it), "export.destinations",
							  "name '%s' used twice", c->dests[j].name);
				if (rc == 0)
					c->n++;
			}
		} else {
			rc = fail(w, k, name ? name : "export",
				  "unknown export key (expected queue_dir, destinations)");
		}
	}
	return rc;
}

int gx_config_load_text(const char *path, const char *text, size_t len, struct gx_config *out,
			char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;
	struct walk w = {.doc = &doc, .path = path, .err = err, .errlen = errlen};
	struct gx_config *c = calloc(1, sizeof(*c));
	int rc = 0;
	bool have_doc = false;

	memset(out, 0, sizeof(*out));
	if (!c)
		return OSH_ENOMEM;
	if (len > YAML_MAX_BYTES) {
		snprintf(err, errlen, "%s: file larger than %u bytes", path, YAML_MAX_BYTES);
		free(c);
		return OSH_ETOOBIG;
	}
	if (!yaml_parser_initialize(&p)) {
		free(c);
		return OSH_ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		snprintf(err, errlen, "%s:%lu: YAML syntax error: %s", path,
			 (unsigned long)p.problem_mark.line + 1,
			 p.problem ? p.problem : "unknown problem");
		rc = OSH_EPARSE;
		goto out;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     rc == 0 && pr < root->data.mapping.pairs.top; pr++) {
			const char *k = scalar(node(&w, pr->key));

			if (k && strcmp(k, "export") == 0)
				rc = walk_export(&w, node(&w, pr->value), c);
		}
	}
	if (rc == 0)
		*out = *c;
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	free(c);
	return rc;
}

int gx_config_load(const char *path, struct gx_config *out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	/* the gateway's one safe reader: a FIFO or device planted as the file
	 * is an error at once, never a hang of the reload */
	rc = osh_gw_file_read(path, YAML_MAX_BYTES, &text, &len, err, errlen);
	if (rc == OSH_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	rc = gx_config_load_text(path, text, len, out, err, errlen);
	free(text);
	return rc;
}

static bool filter_same(const struct gx_filter *a, const struct gx_filter *b)
{
	if (a->n_classes != b->n_classes || a->n_sandboxes != b->n_sandboxes ||
	    a->min_severity != b->min_severity || a->gateway_events != b->gateway_events)
		return false;
	for (size_t i = 0; i < a->n_classes; i++)
		if (a->classes[i] != b->classes[i])
			return false;
	for (size_t i = 0; i < a->n_sandboxes; i++)
		if (strcmp(a->sandboxes[i], b->sandboxes[i]) != 0)
			return false;
	return true;
}

/* Member by member (padding bytes are not part of the value). */
static bool dest_same(const struct gx_dest *a, const struct gx_dest *b)
{
#define S(m) (strcmp(a->m, b->m) == 0)
#define N(m) (a->m == b->m)
	return S(name) && N(kind) && S(host) && N(port) && N(tls) && N(tls_verify) && S(ca_file) &&
	       S(cert_file) && S(key_file) && S(server_name) && S(app_name) && N(facility) &&
	       S(url) && N(format) && S(token_file) && N(gzip) && S(path) && N(rotate_bytes) &&
	       N(keep) && N(queue_max_bytes) && N(batch_max_events) && N(batch_max_bytes) &&
	       N(timeout_ms) && N(retry_min_ms) && N(retry_max_ms) && S(schema_version) &&
	       N(schema) && filter_same(&a->filter, &b->filter);
#undef S
#undef N
}

bool gx_config_same(const struct gx_config *a, const struct gx_config *b)
{
	if (a->n != b->n || strcmp(a->queue_dir, b->queue_dir) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!dest_same(&a->dests[i], &b->dests[i]))
			return false;
	return true;
}

const char *gx_kind_name(enum gx_kind k)
{
	return k == GX_KIND_SYSLOG ? "syslog" : k == GX_KIND_HTTP ? "http" : "file";
}
