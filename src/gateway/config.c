/* config.c - the gateway config table, source layers, resolution and YAML editing.
 *
 * DESIGN: the key table below is the single description of the config. YAML is read
 * with libyaml's event API because events carry marks (line and byte offset): the
 * line makes every error point at file:line:key, and the byte offsets let SetConfig
 * replace exactly one value in the operator's file while keeping comments and
 * layout. Writes go through a temp file + fsync + rename + directory fsync so a
 * concurrent reader (our own reload, an editor) never sees a torn file. */
#include "config.h"
#include "ocsf_convert.h"
#include "osh_parse.h"
#include "gwfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define YAML_MAX_BYTES (1u << 20) /* a config file larger than 1 MiB is refused */

static const struct osh_gw_keyinfo key_table[OSH_GW_KEY_COUNT] = {
    [OSH_GW_KEY_OCSF_LOGGING_ENABLED] =
	{
	    .name = "ocsf_logging_enabled",
	    .type = OSH_GW_TYPE_BOOL,
	    .dflt = "false",
	    .flag = "--ocsf-logging",
	    .env = "OPENSHELL_OCSF_LOGGING",
	    .flags = OSH_GW_CFG_RELOADABLE,
	    .help = "write OCSF JSONL (openshell-ocsf.log) in every sandbox",
	    .offset = offsetof(struct osh_gw_values, ocsf_logging_enabled),
	},
    [OSH_GW_KEY_OCSF_SCHEMA_VERSION] =
	{
	    .name = "ocsf_schema_version",
	    .type = OSH_GW_TYPE_OCSF_VERSION,
	    .dflt = "1.7.0",
	    .flag = "--ocsf-schema-version",
	    .env = "OPENSHELL_OCSF_SCHEMA_VERSION",
	    .flags = OSH_GW_CFG_RELOADABLE,
	    .help = "OCSF version of every sandbox's JSONL: " OCSF_VERSION_ACCEPTED,
	    .offset = offsetof(struct osh_gw_values, ocsf_schema_version),
	},
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt,
		  ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
}

const struct osh_gw_keyinfo *osh_gw_key_info(enum osh_gw_key k)
{
	if ((int)k < 0 || k >= OSH_GW_KEY_COUNT)
		return NULL;
	return &key_table[k];
}

int osh_gw_key_lookup(const char *name, enum osh_gw_key *out)
{
	int rc = OSH_ENOTFOUND;

	for (int k = 0; name && k < OSH_GW_KEY_COUNT; k++) {
		if (strcmp(key_table[k].name, name) == 0) {
			*out = (enum osh_gw_key)k;
			rc = 0;
			break;
		}
	}
	return rc;
}

const char *osh_gw_src_name(enum osh_gw_src s)
{
	const char *n = "unknown";

	switch (s) {
	case OSH_GW_SRC_DEFAULT:
		n = "default";
		break;
	case OSH_GW_SRC_ENV:
		n = "env";
		break;
	case OSH_GW_SRC_FLAG:
		n = "flag";
		break;
	case OSH_GW_SRC_YAML:
		n = "yaml";
		break;
	case OSH_GW_SRC_SHARED:
		n = "rpc"; /* set through SetConfig (kept in the store) */
		break;
	}
	return n;
}

void osh_gw_layer_init(struct osh_gw_layer *l)
{
	memset(l, 0, sizeof(*l));
}

/* Parses `value` for key k into *vals. err gets "<why>" only. */
static int parse_value(enum osh_gw_key k, const char *value, struct osh_gw_values *vals, char *err,
		       size_t errlen)
{
	const struct osh_gw_keyinfo *ki = &key_table[k];
	int rc = OSH_EPARSE;
	bool b = false;
	enum ocsf_version ver = OCSF_VERSION_1_7_0;
	int vi;

	switch (ki->type) {
	case OSH_GW_TYPE_BOOL:
		if (value[0] == '\0') {
			errf(err, errlen,
			     "empty value (expected a boolean: true/false, yes/no, on/off, 1/0)");
			goto out;
		}
		if (osh_parse_bool(value, &b) != 0) {
			errf(err, errlen,
			     "invalid boolean '%s' (expected true/false, yes/no, on/off, 1/0)",
			     value);
			goto out;
		}
		memcpy((char *)vals + ki->offset, &b, sizeof(b));
		rc = 0;
		break;
	case OSH_GW_TYPE_OCSF_VERSION:
		if (ocsf_version_parse(value, &ver) != 0) {
			errf(err, errlen, "invalid OCSF version '%s' (accepted: %s)", value,
			     OCSF_VERSION_ACCEPTED);
			goto out;
		}
		vi = (int)ver;
		memcpy((char *)vals + ki->offset, &vi, sizeof(vi));
		rc = 0;
		break;
	}
out:
	return rc;
}

int osh_gw_layer_set(struct osh_gw_layer *l, const char *name, const char *value,
		     const char *origin, char *err, size_t errlen)
{
	enum osh_gw_key k;
	char why[256];
	int rc;

	rc = osh_gw_key_lookup(name, &k);
	if (rc != 0) {
		errf(err, errlen, "%s: unknown config key '%s'", origin, name ? name : "(null)");
		goto out;
	}
	rc = parse_value(k, value ? value : "", &l->v, why, sizeof(why));
	if (rc != 0) {
		errf(err, errlen, "%s: %s: %s", origin, name, why);
		goto out;
	}
	l->set[k] = true;
	l->line[k] = 0;
out:
	return rc;
}

int osh_gw_layer_from_env(struct osh_gw_layer *l, char *err, size_t errlen)
{
	char origin[128];
	int rc = 0;

	for (int k = 0; k < OSH_GW_KEY_COUNT; k++) {
		const char *v = getenv(key_table[k].env);

		if (!v || v[0] == '\0')
			continue;
		snprintf(origin, sizeof(origin), "env %s", key_table[k].env);
		rc = osh_gw_layer_set(l, key_table[k].name, v, origin, err, errlen);
		if (rc != 0)
			break;
	}
	return rc;
}

/* Where a top-level key and its value sit in the text (byte offsets). */
struct yaml_span {
	bool present;
	size_t key_start;   /* offset of the key's first byte */
	size_t value_start; /* offset of the value's first byte (quotes included) */
	size_t value_end;   /* one past the value's last byte */
	unsigned line;
};

/* Parses text into layer + spans. The core of both reading and editing. */
static int yaml_scan(struct osh_gw_layer *l, struct yaml_span spans[OSH_GW_KEY_COUNT],
		     const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct osh_gw_layer tmp;
	bool have_ev = false, done = false, in_map = false, want_key = true, skipping = false;
	int docs = 0, rc = OSH_EPARSE, depth = 0;
	enum osh_gw_key cur = OSH_GW_KEY_COUNT;
	char curname[128] = "";
	char why[256];

	osh_gw_layer_init(&tmp);
	memset(spans, 0, sizeof(struct yaml_span) * OSH_GW_KEY_COUNT);
	if (len > YAML_MAX_BYTES) {
		errf(err, errlen, "%s: file larger than %u bytes", path, YAML_MAX_BYTES);
		return OSH_ETOOBIG;
	}
	if (!yaml_parser_initialize(&p)) {
		errf(err, errlen, "%s: cannot initialise YAML parser", path);
		return OSH_ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		unsigned line;

		if (!yaml_parser_parse(&p, &ev)) {
			errf(err, errlen, "%s:%lu: YAML syntax error: %s", path,
			     (unsigned long)p.problem_mark.line + 1,
			     p.problem ? p.problem : "unknown problem");
			goto out;
		}
		have_ev = true;
		line = (unsigned)ev.start_mark.line + 1;
		if (skipping) {
			/* The value of `export` (nested: destinations), which
			 * src/gateway/export parses and checks on its own. */
			if (ev.type == YAML_MAPPING_START_EVENT ||
			    ev.type == YAML_SEQUENCE_START_EVENT)
				depth++;
			else if (ev.type == YAML_MAPPING_END_EVENT ||
				 ev.type == YAML_SEQUENCE_END_EVENT)
				depth--;
			if (depth <= 0) {
				skipping = false;
				want_key = true;
			}
			yaml_event_delete(&ev);
			have_ev = false;
			continue;
		}
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
		case YAML_SEQUENCE_END_EVENT: /* never reached: sequences fail at start */
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				errf(err, errlen, "%s:%u: only one YAML document is allowed", path,
				     line);
				goto out;
			}
			break;
		case YAML_MAPPING_START_EVENT:
			if (in_map) {
				errf(err, errlen, "%s:%u:%s: value must be a scalar, not a mapping",
				     path, line, want_key ? "(key)" : curname);
				goto out;
			}
			in_map = true;
			break;
		case YAML_MAPPING_END_EVENT:
			in_map = false;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (in_map)
				errf(err, errlen, "%s:%u:%s: value must be a scalar, not a list",
				     path, line, want_key ? "(key)" : curname);
			else
				errf(
				    err, errlen,
				    "%s:%u: top level must be a mapping of config keys, not a list",
				    path, line);
			goto out;
		case YAML_ALIAS_EVENT:
			errf(err, errlen, "%s:%u: YAML aliases are not allowed", path, line);
			goto out;
		case YAML_SCALAR_EVENT: {
			const char *s = (const char *)ev.data.scalar.value;

			if (!in_map) {
				/* A bare scalar document: only an empty/null one is allowed. */
				if (ev.data.scalar.length == 0 ||
				    (ev.data.scalar.plain_implicit &&
				     (strcmp(s, "~") == 0 || strcmp(s, "null") == 0)))
					break;
				errf(err, errlen,
				     "%s:%u: top level must be a mapping of config keys", path,
				     line);
				goto out;
			}
			if (want_key) {
				snprintf(curname, sizeof(curname), "%s", s);
				if (strcmp(s, "export") == 0) {
					skipping = true;
					depth = 0;
					break;
				}
				if (osh_gw_key_lookup(s, &cur) != 0) {
					errf(err, errlen, "%s:%u:%s: unknown config key", path,
					     line, curname);
					goto out;
				}
				if (tmp.set[cur]) {
					errf(err, errlen,
					     "%s:%u:%s: duplicate key (first set on line %u)", path,
					     line, curname, tmp.line[cur]);
					goto out;
				}
				spans[cur].key_start = ev.start_mark.index;
				want_key = false;
			} else {
				if (parse_value(cur, s, &tmp.v, why, sizeof(why)) != 0) {
					errf(err, errlen, "%s:%u:%s: %s", path, line, curname, why);
					goto out;
				}
				tmp.set[cur] = true;
				tmp.line[cur] = line;
				spans[cur].present = true;
				spans[cur].value_start = ev.start_mark.index;
				spans[cur].value_end = ev.end_mark.index;
				spans[cur].line = line;
				want_key = true;
			}
			break;
		}
		case YAML_NO_EVENT:
			done = true;
			break;
		}
		yaml_event_delete(&ev);
		have_ev = false;
	}
	*l = tmp;
	rc = 0;
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&p);
	return rc;
}

int osh_gw_layer_from_yaml_text(struct osh_gw_layer *l, const char *path, const char *text,
				size_t len, char *err, size_t errlen)
{
	struct yaml_span spans[OSH_GW_KEY_COUNT];

	return yaml_scan(l, spans, path, text, len, err, errlen);
}

/* Reads a whole config file (regular files only, never blocking: F13). */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	return osh_gw_file_read(path, YAML_MAX_BYTES, out, len, err, errlen);
}

int osh_gw_layer_from_yaml_file(struct osh_gw_layer *l, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	osh_gw_layer_init(l);
	rc = read_file(path, &text, &len, err, errlen);
	if (rc != 0)
		goto out;
	rc = osh_gw_layer_from_yaml_text(l, path, text, len, err, errlen);
out:
	free(text);
	return rc;
}

void osh_gw_config_resolve(struct osh_gw_config *out, const struct osh_gw_layer *yaml,
			   const struct osh_gw_layer *flag, const struct osh_gw_layer *env)
{
	osh_gw_config_resolve_shared(out, NULL, yaml, flag, env);
}

void osh_gw_config_resolve_shared(struct osh_gw_config *out, const struct osh_gw_layer *shared,
				  const struct osh_gw_layer *yaml, const struct osh_gw_layer *flag,
				  const struct osh_gw_layer *env)
{
	struct osh_gw_layer dflt;
	char why[64];
	const struct {
		const struct osh_gw_layer *l;
		enum osh_gw_src src;
	} order[] = {{shared, OSH_GW_SRC_SHARED},
		     {yaml, OSH_GW_SRC_YAML},
		     {flag, OSH_GW_SRC_FLAG},
		     {env, OSH_GW_SRC_ENV}};

	/* Defaults come from the table's text so --help and behaviour agree. */
	osh_gw_layer_init(&dflt);
	for (int k = 0; k < OSH_GW_KEY_COUNT; k++) {
		if (parse_value((enum osh_gw_key)k, key_table[k].dflt, &dflt.v, why, sizeof(why)) !=
		    0)
			abort(); /* the table itself is wrong: a programming error */
	}
	memset(out, 0, sizeof(*out));
	for (int k = 0; k < OSH_GW_KEY_COUNT; k++) {
		const struct osh_gw_layer *from = &dflt;
		enum osh_gw_src src = OSH_GW_SRC_DEFAULT;
		size_t off = key_table[k].offset;

		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
			if (order[i].l && order[i].l->set[k]) {
				from = order[i].l;
				src = order[i].src;
				break;
			}
		}
		switch (key_table[k].type) {
		case OSH_GW_TYPE_BOOL:
			memcpy((char *)&out->v + off, (const char *)&from->v + off, sizeof(bool));
			break;
		case OSH_GW_TYPE_OCSF_VERSION:
			memcpy((char *)&out->v + off, (const char *)&from->v + off, sizeof(int));
			break;
		}
		out->src[k] = src;
	}
}

int osh_gw_value_text(const struct osh_gw_values *v, enum osh_gw_key k, char *buf, size_t cap)
{
	const struct osh_gw_keyinfo *ki = osh_gw_key_info(k);
	int rc = OSH_EINVAL;
	bool b;
	int n, vi;

	if (!ki)
		goto out;
	switch (ki->type) {
	case OSH_GW_TYPE_BOOL:
		memcpy(&b, (const char *)v + ki->offset, sizeof(b));
		n = snprintf(buf, cap, "%s", b ? "true" : "false");
		rc = (n < 0 || (size_t)n >= cap) ? OSH_ETOOBIG : 0;
		break;
	case OSH_GW_TYPE_OCSF_VERSION:
		memcpy(&vi, (const char *)v + ki->offset, sizeof(vi));
		n = snprintf(buf, cap, "%s", ocsf_version_name((enum ocsf_version)vi));
		rc = (n < 0 || (size_t)n >= cap) ? OSH_ETOOBIG : 0;
		break;
	}
out:
	return rc;
}

int osh_gw_config_snapshot(const struct osh_gw_config *c, char *buf, size_t cap)
{
	size_t used = 0;
	char val[64];
	int rc = 0;

	if (cap == 0)
		return OSH_ETOOBIG;
	buf[0] = '\0';
	for (int k = 0; k < OSH_GW_KEY_COUNT; k++) {
		int n;

		rc = osh_gw_value_text(&c->v, (enum osh_gw_key)k, val, sizeof(val));
		if (rc != 0)
			break;
		n = snprintf(buf + used, cap - used, "%s=%s\n", key_table[k].name, val);
		if (n < 0 || (size_t)n >= cap - used) {
			rc = OSH_ETOOBIG;
			break;
		}
		used += (size_t)n;
	}
	return rc;
}

/* Replaces the config file atomically: exclusive temp file with an
 * unpredictable name, rename over the file a symlinked path points to (F14,
 * F15). */
static int write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	return osh_gw_file_replace(path, data, len, 0644, true, err, errlen);
}

int osh_gw_yaml_set(const char *path, const char *name, const char *value, bool *changed, char *err,
		    size_t errlen)
{
	struct osh_gw_layer l, check;
	struct yaml_span spans[OSH_GW_KEY_COUNT];
	enum osh_gw_key k;
	char *text = NULL, *out_text = NULL;
	size_t len = 0, olen = 0;
	char why[256], canon[64];
	int rc;

	if (changed)
		*changed = false;
	rc = osh_gw_key_lookup(name, &k);
	if (rc != 0) {
		errf(err, errlen, "unknown config key '%s'", name ? name : "(null)");
		goto out;
	}
	if (value) {
		/* Validate and canonicalise: the file gets "true"/"false". */
		struct osh_gw_values v;

		memset(&v, 0, sizeof(v));
		rc = parse_value(k, value, &v, why, sizeof(why));
		if (rc != 0) {
			errf(err, errlen, "%s: %s", name, why);
			goto out;
		}
		rc = osh_gw_value_text(&v, k, canon, sizeof(canon));
		if (rc != 0)
			goto out;
	}
	rc = read_file(path, &text, &len, err, errlen);
	if (rc == OSH_ENOTFOUND) {
		text = calloc(1, 1);
		len = 0;
		rc = text ? 0 : OSH_ENOMEM;
	}
	if (rc != 0)
		goto out;
	rc = yaml_scan(&l, spans, path, text, len, err, errlen);
	if (rc != 0)
		goto out;
	out_text = malloc(len + strlen(name) + sizeof(canon) + 8);
	if (!out_text) {
		rc = OSH_ENOMEM;
		goto out;
	}
	if (spans[k].present && value) {
		/* Replace the value bytes in place. */
		size_t cl = strlen(canon);

		memcpy(out_text, text, spans[k].value_start);
		memcpy(out_text + spans[k].value_start, canon, cl);
		memcpy(out_text + spans[k].value_start + cl, text + spans[k].value_end,
		       len - spans[k].value_end);
		olen = len - (spans[k].value_end - spans[k].value_start) + cl;
	} else if (spans[k].present) {
		/* Unset: drop the lines from the key's line start to the value's line end. */
		size_t a = spans[k].key_start, b = spans[k].value_end;

		while (a > 0 && text[a - 1] != '\n')
			a--;
		while (b < len && text[b] != '\n')
			b++;
		if (b < len)
			b++;
		memcpy(out_text, text, a);
		memcpy(out_text + a, text + b, len - b);
		olen = len - (b - a);
	} else if (value) {
		/* Append, on a line of its own. Only block-style top-level maps are
		 * appendable; a flow map ("{...}") would need rewriting: refuse it. */
		size_t i = 0;

		while (i < len &&
		       (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
			i++;
		if (i < len && text[i] == '{') {
			rc = OSH_EPARSE;
			errf(err, errlen,
			     "%s: flow-style mapping ({...}) cannot be edited; use block style",
			     path);
			goto out;
		}
		memcpy(out_text, text, len);
		olen = len;
		if (olen > 0 && out_text[olen - 1] != '\n')
			out_text[olen++] = '\n';
		{
			size_t cap = len + strlen(name) + sizeof(canon) + 8;
			int n = snprintf(out_text + olen, cap - olen, "%s: %s\n", name, canon);

			if (n < 0 || (size_t)n >= cap - olen) {
				rc = OSH_ETOOBIG;
				goto out;
			}
			olen += (size_t)n;
		}
	} else {
		memcpy(out_text, text, len);
		olen = len;
	}
	out_text[olen] = '\0';
	/* The result must parse and carry the intended value. */
	rc = yaml_scan(&check, spans, path, out_text, olen, err, errlen);
	if (rc != 0)
		goto out;
	if (olen == len && memcmp(out_text, text, len) == 0)
		goto out; /* nothing to write */
	rc = write_atomic(path, out_text, olen, err, errlen);
	if (rc == 0 && changed)
		*changed = true;
out:
	free(text);
	free(out_text);
	return rc;
}

void osh_gw_config_help(void *out)
{
	FILE *f = out;

	fprintf(f, "Config keys (priority: YAML file > flag > environment > default):\n");
	for (int k = 0; k < OSH_GW_KEY_COUNT; k++) {
		const struct osh_gw_keyinfo *ki = &key_table[k];

		fprintf(f, "  %-22s %s (default %s)\n", ki->name, ki->help, ki->dflt);
		fprintf(f, "  %-22s flag %s BOOL, env %s, YAML key %s%s\n", "", ki->flag, ki->env,
			ki->name, (ki->flags & OSH_GW_CFG_RELOADABLE) ? ", reloadable" : "");
	}
}
