/* ocsf_convert.c - OCSF 1.7.0 event -> older release, by the target's schema.
 *
 * DESIGN (see ocsf_convert.h for the rules): three passes over one call's
 * private arena, so the module has no global state and frees everything at
 * once:
 *   1. parse: a strict RFC 8259 parser builds a flat node array (type, raw
 *      span, first child / next sibling, integer value, code point count);
 *      strings are checked for escapes, control bytes and UTF-8 once, so
 *      their raw span can later be copied to the output unchanged;
 *   2. convert: a walk of the event against the target's descriptor tables
 *      (generated/c/ocsf_versions.c) builds an output tree whose leaves are
 *      either raw input spans or values the converter computes; per object
 *      one slot per target attribute (first occurrence wins, members come
 *      out in descriptor order), then derived values, captions, fill rules
 *      and the required/constraint check; the failure of an object travels
 *      up to the first optional attribute (dropped) or to the class
 *      (refusal, with the reason recorded where the failure happened);
 *   3. write: the output tree through the JSON writer; metadata.profiles is
 *      computed from the profile of every attribute that was kept.
 * Tables are searched by binary search (names sorted by codegen). */
#include "ocsf_convert.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf_jsonw.h"
#include "ocsf_versions.h"
#include "osh_utf8.h"

#define MAX_INPUT (64u << 20)
#define OTHER	  99

static const char *const version_names[OCSF_VERSION_COUNT] = {"1.1.0", "1.3.0", "1.5.0", "1.7.0"};
static const struct ocsf_vschema *const version_tables[OCSF_VERSION_COUNT] = {
    &ocsf_vschema_1_1_0, &ocsf_vschema_1_3_0, &ocsf_vschema_1_5_0, NULL};

int ocsf_version_parse(const char *text, enum ocsf_version *out)
{
	int rc = OSH_EINVAL;

	for (int i = 0; text != NULL && i < OCSF_VERSION_COUNT; i++) {
		if (strcmp(text, version_names[i]) == 0) {
			*out = (enum ocsf_version)i;
			rc = 0;
			break;
		}
	}
	return rc;
}

const char *ocsf_version_name(enum ocsf_version v)
{
	return ((unsigned)v < OCSF_VERSION_COUNT) ? version_names[v] : "?";
}

/* ------------------------------------------------------------ arena */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	void *p = NULL;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (a->head == NULL || a->head->cap - a->head->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		struct chunk *c = malloc(sizeof(*c) + cap);

		if (c != NULL) {
			c->next = a->head;
			c->used = 0;
			c->cap = cap;
			a->head = c;
		}
	}
	if (a->head != NULL && a->head->cap - a->head->used >= n) {
		p = (char *)a->head->data + a->head->used;
		a->head->used += n;
		memset(p, 0, n);
	}
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->head != NULL) {
		struct chunk *c = a->head;

		a->head = c->next;
		free(c);
	}
}

/* ------------------------------------------------------------ parser */

enum jt { J_OBJ, J_ARR, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL };

struct jn {
	uint8_t t;
	uint8_t is_int;		   /* J_NUM: integer syntax that fits int64 */
	uint32_t off, len;	   /* raw span (strings with quotes) */
	uint32_t key_off, key_len; /* object member: key without quotes */
	int32_t child, next;	   /* first child, next sibling (-1: none) */
	uint32_t cp;		   /* J_STR: code points */
	int64_t i;		   /* J_NUM with is_int */
};

struct parser {
	const char *s;
	size_t n, pos;
	struct jn *nodes;
	size_t count, cap;
	int err;
	char why[128];
};

static void skip_ws(struct parser *p)
{
	while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				 p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static void perr(struct parser *p, int err, const char *what)
{
	if (p->err == 0) {
		p->err = err;
		snprintf(p->why, sizeof(p->why), "%s at byte %zu", what, p->pos);
	}
}

static int32_t new_node(struct parser *p, uint8_t t)
{
	int32_t id = -1;

	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 256;
		struct jn *nn = realloc(p->nodes, cap * sizeof(*nn));

		if (nn == NULL) {
			perr(p, OSH_ENOMEM, "out of memory");
			return -1;
		}
		p->nodes = nn;
		p->cap = cap;
	}
	id = (int32_t)p->count++;
	memset(&p->nodes[id], 0, sizeof(p->nodes[id]));
	p->nodes[id].t = t;
	p->nodes[id].child = -1;
	p->nodes[id].next = -1;
	p->nodes[id].off = (uint32_t)p->pos;
	return id;
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

/* A string at p->pos ('"'); *cp = code points. Returns false on error. */
static bool scan_string(struct parser *p, uint32_t *cp)
{
	uint32_t n = 0;

	p->pos++;
	while (p->pos < p->n) {
		unsigned char c;

#if defined(__SSE2__)
		/* 16 plain bytes at a time: none is '"', '\\', a control or >= 0x80 */
		while (p->n - p->pos >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p->s + p->pos));
			__m128i bad = _mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
					 _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
			    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))); /* signed: >= 0x80 too */

			unsigned m = (unsigned)_mm_movemask_epi8(bad);

			if (m != 0) {
				/* skip the plain bytes before the first special one */
				unsigned k = (unsigned)__builtin_ctz(m);

				p->pos += k;
				n += k;
				break;
			}
			p->pos += 16;
			n += 16;
		}
		if (p->pos >= p->n)
			break;
#endif
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			*cp = n;
			return true;
		}
		if (c < 0x20) {
			perr(p, OSH_EPARSE, "control character in string");
			return false;
		}
		if (c == '\\') {
			char e = p->pos + 1 < p->n ? p->s[p->pos + 1] : 0;

			if (e == 'u') {
				if (p->pos + 5 >= p->n || hexval(p->s[p->pos + 2]) < 0 ||
				    hexval(p->s[p->pos + 3]) < 0 || hexval(p->s[p->pos + 4]) < 0 ||
				    hexval(p->s[p->pos + 5]) < 0) {
					perr(p, OSH_EPARSE, "bad \\u escape");
					return false;
				}
				p->pos += 6;
			} else if (e != 0 && strchr("\"\\/bfnrt", e) != NULL) {
				p->pos += 2;
			} else {
				perr(p, OSH_EPARSE, "bad escape");
				return false;
			}
		} else if (c < 0x80) {
			p->pos++;
		} else {
			uint32_t code;
			size_t k = osh_utf8_decode((const unsigned char *)p->s + p->pos,
						   p->n - p->pos, &code);

			if (k == 0) {
				perr(p, OSH_EPARSE, "invalid UTF-8 in string");
				return false;
			}
			p->pos += k;
		}
		n++;
	}
	perr(p, OSH_EPARSE, "unterminated string");
	return false;
}

static void scan_number(struct parser *p, struct jn *nd)
{
	size_t st = p->pos;
	bool is_int = true;
	bool neg = false;
	uint64_t mag = 0;
	bool over = false;

	if (p->s[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
		perr(p, OSH_EPARSE, "bad number");
		return;
	}
	if (p->s[p->pos] == '0') {
		p->pos++;
	} else {
		while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
			unsigned d = (unsigned)(p->s[p->pos] - '0');

			if (mag > (UINT64_MAX - d) / 10)
				over = true;
			else
				mag = mag * 10 + d;
			p->pos++;
		}
	}
	if (p->pos < p->n && p->s[p->pos] == '.') {
		is_int = false;
		p->pos++;
		if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
			perr(p, OSH_EPARSE, "bad number");
			return;
		}
		while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		is_int = false;
		p->pos++;
		if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
			perr(p, OSH_EPARSE, "bad number");
			return;
		}
		while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
			p->pos++;
	}
	(void)st;
	if (is_int && !over &&
	    (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
		nd->is_int = 1;
		nd->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	}
}

static int32_t parse_value(struct parser *p, int depth);

static int32_t parse_container(struct parser *p, int depth, bool obj)
{
	int32_t id = new_node(p, obj ? J_OBJ : J_ARR);
	int32_t last = -1;
	char close = obj ? '}' : ']';

	if (id < 0)
		return -1;
	if (depth >= OCSF_CONVERT_MAX_DEPTH) {
		perr(p, OSH_EDEPTH, "nesting too deep");
		return -1;
	}
	p->pos++;
	skip_ws(p);
	if (p->pos < p->n && p->s[p->pos] == close) {
		p->pos++;
		p->nodes[id].len = (uint32_t)(p->pos - p->nodes[id].off);
		return id;
	}
	for (;;) {
		uint32_t koff = 0, klen = 0, kcp;
		int32_t v;

		skip_ws(p);
		if (obj) {
			if (p->pos >= p->n || p->s[p->pos] != '"') {
				perr(p, OSH_EPARSE, "expected a key");
				return -1;
			}
			koff = (uint32_t)p->pos + 1;
			if (!scan_string(p, &kcp))
				return -1;
			klen = (uint32_t)p->pos - 1 - koff;
			skip_ws(p);
			if (p->pos >= p->n || p->s[p->pos] != ':') {
				perr(p, OSH_EPARSE, "expected ':'");
				return -1;
			}
			p->pos++;
			skip_ws(p);
		}
		v = parse_value(p, depth + 1);
		if (v < 0)
			return -1;
		p->nodes[v].key_off = koff;
		p->nodes[v].key_len = klen;
		if (last < 0)
			p->nodes[id].child = v;
		else
			p->nodes[last].next = v;
		last = v;
		skip_ws(p);
		if (p->pos < p->n && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->n && p->s[p->pos] == close) {
			p->pos++;
			break;
		}
		perr(p, OSH_EPARSE, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		return -1;
	}
	p->nodes[id].len = (uint32_t)(p->pos - p->nodes[id].off);
	return id;
}

static int32_t parse_value(struct parser *p, int depth)
{
	int32_t id = -1;

	skip_ws(p);
	if (p->pos >= p->n) {
		perr(p, OSH_EPARSE, "unexpected end of input");
		return -1;
	}
	switch (p->s[p->pos]) {
	case '{':
		return parse_container(p, depth, true);
	case '[':
		return parse_container(p, depth, false);
	case '"': {
		uint32_t cp;

		id = new_node(p, J_STR);
		if (id < 0 || !scan_string(p, &cp))
			return -1;
		p->nodes[id].cp = cp;
		break;
	}
	case 't':
	case 'f':
	case 'n': {
		static const char *const lit[] = {"true", "false", "null"};
		int k = p->s[p->pos] == 't' ? 0 : p->s[p->pos] == 'f' ? 1 : 2;
		size_t l = strlen(lit[k]);

		if (p->n - p->pos < l || memcmp(p->s + p->pos, lit[k], l) != 0) {
			perr(p, OSH_EPARSE, "bad literal");
			return -1;
		}
		id = new_node(p, k == 0 ? J_TRUE : k == 1 ? J_FALSE : J_NULL);
		if (id < 0)
			return -1;
		p->pos += l;
		break;
	}
	default:
		id = new_node(p, J_NUM);
		if (id < 0)
			return -1;
		scan_number(p, &p->nodes[id]);
		if (p->err)
			return -1;
		break;
	}
	p->nodes[id].len = (uint32_t)(p->pos - p->nodes[id].off);
	return id;
}

/* ------------------------------------------------------------ output tree */

enum ot { O_OBJ, O_ARR, O_RAW, O_STR, O_INT, O_PROFILES };

struct on {
	uint8_t t;
	int8_t profile;	   /* member: its attribute's profile (-1 core) */
	const char *key;   /* member of an object: attribute name */
	uint32_t off, len; /* O_RAW: input span */
	const char *str;   /* O_STR */
	int64_t i;	   /* O_INT; for enum values (raw or not) the value */
	uint8_t other;	   /* enum value mapped to 99 */
	struct on *child, *last, *next;
};

struct conv {
	struct arena ar;
	const char *in;
	const struct jn *nodes;
	int32_t root;
	const struct ocsf_vschema *vs;
	uint64_t profiles; /* bit per target profile used by kept attributes */
	const char *pkey[OCSF_CONVERT_MAX_DEPTH + 2]; /* path frames: key, or NULL + index */
	long pidx[OCSF_CONVERT_MAX_DEPTH + 2];
	size_t depth;
	char why[384]; /* reason of the most recent object failure */
	int err;       /* OSH_ENOMEM */
};

static struct on *on_new(struct conv *c, uint8_t t)
{
	struct on *o = arena_alloc(&c->ar, sizeof(*o));

	if (o == NULL)
		c->err = OSH_ENOMEM;
	else {
		o->t = t;
		o->profile = -1;
	}
	return o;
}

static void on_add(struct on *parent, struct on *kid)
{
	if (parent->last == NULL)
		parent->child = kid;
	else
		parent->last->next = kid;
	parent->last = kid;
}

/* The path is a stack of (key or array index) frames, only rendered into
 * text when a failure is recorded: no formatting per member. */
static size_t path_push(struct conv *c, const char *key, long index)
{
	size_t saved = c->depth;

	if (c->depth < sizeof(c->pkey) / sizeof(c->pkey[0])) {
		c->pkey[c->depth] = key;
		c->pidx[c->depth] = index;
	}
	c->depth++;
	return saved;
}

static void path_pop(struct conv *c, size_t saved)
{
	c->depth = saved;
}

/* "$.a.b[2].c" of the current frames into buf. */
static void path_text(const struct conv *c, char *buf, size_t cap)
{
	size_t n = 0, frames = c->depth;

	if (frames > sizeof(c->pkey) / sizeof(c->pkey[0]))
		frames = sizeof(c->pkey) / sizeof(c->pkey[0]);
	n = (size_t)snprintf(buf, cap, "$");
	for (size_t i = 0; i < frames && n < cap; i++) {
		int w = c->pkey[i] != NULL ? snprintf(buf + n, cap - n, ".%s", c->pkey[i])
					   : snprintf(buf + n, cap - n, "[%ld]", c->pidx[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static void fail(struct conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct conv *c, const char *fmt, ...)
{
	va_list ap;
	char path[256];
	int n;

	path_text(c, path, sizeof(path));
	n = snprintf(c->why, sizeof(c->why), "%s: ", path);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(c->why))
		vsnprintf(c->why + n, sizeof(c->why) - (size_t)n, fmt, ap);
	va_end(ap);
}

static const struct ocsf_vattr *find_attr(const struct ocsf_vitem *it, const char *key, size_t klen)
{
	size_t lo = 0, hi = it->n_attrs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const unsigned char *nm = (const unsigned char *)it->attrs[mid].name;
		int cmp = 0;
		size_t i = 0;

		/* names are short: an inline compare beats strncmp's call */
		while (i < klen && nm[i] == (unsigned char)key[i])
			i++;
		if (i < klen)
			cmp = nm[i] < (unsigned char)key[i] ? -1 : 1;
		else
			cmp = nm[klen] == 0 ? 0 : 1;
		if (cmp == 0)
			return &it->attrs[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Index of an int value in an enum, or -1. */
static long enum_find_int(const struct ocsf_venum *e, int64_t v)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->vals[mid] == v)
			return (long)mid;
		if (e->vals[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static long enum_find_str(const struct ocsf_venum *e, const char *s, size_t n)
{
	for (size_t i = 0; i < e->n; i++)
		if (strlen(e->keys[i]) == n && memcmp(e->keys[i], s, n) == 0)
			return (long)i;
	return -1;
}

static int convert_object(struct conv *c, int32_t in, const struct ocsf_vitem *it, bool is_class,
			  struct on **res);

static bool is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_hex(unsigned char ch)
{
	return hexval((char)ch) >= 0;
}

static bool digits(const char *s, size_t n, size_t *i, size_t k)
{
	for (size_t j = 0; j < k; j++, (*i)++)
		if (*i >= n || s[*i] < '0' || s[*i] > '9')
			return false;
	return true;
}

/* ^labels joined by '.', each alnum or alnum [alnum-]* alnum$ */
static bool fmt_hostname(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t st = i;

		while (i < n && s[i] != '.')
			i++;
		if (i == st || !is_alnum((unsigned char)s[st]) ||
		    !is_alnum((unsigned char)s[i - 1]))
			return false;
		for (size_t j = st; j < i; j++)
			if (!is_alnum((unsigned char)s[j]) && s[j] != '-')
				return false;
		if (i < n && ++i == n)
			return false; /* trailing dot */
	}
	return n > 0;
}

/* ^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$, lower t/z too
 * when `lower` */
static bool fmt_datetime(const char *s, size_t n, bool lower)
{
	size_t i = 0;

	if (!digits(s, n, &i, 4) || i >= n || s[i++] != '-' || !digits(s, n, &i, 2) || i >= n ||
	    s[i++] != '-' || !digits(s, n, &i, 2) || i >= n ||
	    !(s[i] == 'T' || (lower && s[i] == 't')))
		return false;
	i++;
	if (!digits(s, n, &i, 2) || i >= n || s[i++] != ':' || !digits(s, n, &i, 2) || i >= n ||
	    s[i++] != ':' || !digits(s, n, &i, 2))
		return false;
	if (i < n && s[i] == '.') {
		size_t st = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == st)
			return false;
	}
	if (i < n && (s[i] == 'Z' || (lower && s[i] == 'z')))
		i++;
	else if (i < n && (s[i] == '+' || s[i] == '-')) {
		i++;
		if (!digits(s, n, &i, 2) || i >= n || s[i++] != ':' || !digits(s, n, &i, 2))
			return false;
	}
	return i == n;
}

/* local@domain: local from the set, domain [alnum-]+ '.' [alnum-.]+ */
static bool fmt_email(const char *s, size_t n, bool narrow)
{
	const char *at = memchr(s, '@', n);
	size_t l, k;

	if (at == NULL || at == s)
		return false;
	l = (size_t)(at - s);
	for (size_t i = 0; i < l; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool ok = is_alnum(ch) || (narrow ? strchr("_.+-", ch) != NULL
						  : (ch >= '+' && ch <= '/') ||
							strchr("!#$%&'*=?^_`{|}~", ch) != NULL);

		if (!ok || ch == 0)
			return false;
	}
	s += l + 1;
	n -= l + 1;
	for (k = 0; k < n && s[k] != '.'; k++)
		if (!is_alnum((unsigned char)s[k]) && s[k] != '-')
			return false;
	if (k == 0 || k + 1 >= n)
		return false;
	for (size_t i = k + 1; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static bool fmt_ok(uint8_t fmt, const char *s, size_t n)
{
	bool ok = true;

	if (fmt != OCSF_VFMT_NONE && memchr(s, '\\', n) != NULL)
		return false; /* escapes never spell a format's characters here */
	switch (fmt) {
	case OCSF_VFMT_HOSTNAME:
		ok = fmt_hostname(s, n);
		break;
	case OCSF_VFMT_DATETIME_UPPER:
	case OCSF_VFMT_DATETIME:
		ok = fmt_datetime(s, n, fmt == OCSF_VFMT_DATETIME);
		break;
	case OCSF_VFMT_EMAIL_NARROW:
	case OCSF_VFMT_EMAIL:
		ok = fmt_email(s, n, fmt == OCSF_VFMT_EMAIL_NARROW);
		break;
	case OCSF_VFMT_MAC:
		ok = n == 17;
		for (size_t i = 0; ok && i < n; i++)
			ok = (i % 3 == 2) ? (s[i] == ':' || s[i] == '-')
					  : is_hex((unsigned char)s[i]);
		break;
	case OCSF_VFMT_FILE_HASH:
		ok = n > 0;
		for (size_t i = 0; ok && i < n; i++)
			ok = is_hex((unsigned char)s[i]);
		break;
	default:
		break;
	}
	return ok;
}

/* One value (an array element or a scalar attribute) as attribute a.
 * Returns 0 (*res set), 1 (unusable: drop), or <0. */
static int convert_one(struct conv *c, int32_t in, const struct ocsf_vattr *a, struct on **res)
{
	const struct jn *n = &c->nodes[in];
	struct on *o = NULL;
	int rc = 1;

	c->why[0] = 0;
	switch (a->kind) {
	case OCSF_VK_OBJECT:
		if (n->t != J_OBJ) {
			fail(c, "%s must be an object", a->name);
			break;
		}
		rc = convert_object(c, in, &c->vs->objects[a->object], false, &o);
		break;
	case OCSF_VK_OPEN_OBJECT:
		rc = n->t == J_OBJ ? 0 : 1;
		break;
	case OCSF_VK_JSON:
		rc = 0;
		break;
	case OCSF_VK_STRING:
		rc = (n->t == J_STR && (a->max_len == 0 || n->cp <= a->max_len) &&
		      fmt_ok(a->fmt, c->in + n->off + 1, n->len - 2))
			 ? 0
			 : 1;
		break;
	case OCSF_VK_INT:
	case OCSF_VK_LONG:
	case OCSF_VK_PORT:
		rc = (n->t == J_NUM && n->is_int && n->i >= a->min && n->i <= a->max) ? 0 : 1;
		break;
	case OCSF_VK_FLOAT:
		rc = n->t == J_NUM ? 0 : 1;
		break;
	case OCSF_VK_BOOL:
		rc = (n->t == J_TRUE || n->t == J_FALSE) ? 0 : 1;
		break;
	case OCSF_VK_ENUM_INT: {
		const struct ocsf_venum *e = &c->vs->enums[a->enumi];

		if (n->t != J_NUM || !n->is_int)
			break;
		if (enum_find_int(e, n->i) >= 0) {
			o = on_new(c, O_RAW);
			if (o != NULL)
				o->i = n->i;
			rc = 0;
		} else if (enum_find_int(e, OTHER) >= 0) {
			o = on_new(c, O_INT);
			if (o != NULL) {
				o->i = OTHER;
				o->other = 1;
			}
			rc = 0;
		}
		break;
	}
	case OCSF_VK_ENUM_STR:
		rc = (n->t == J_STR &&
		      enum_find_str(&c->vs->enums[a->enumi], c->in + n->off + 1, n->len - 2) >= 0)
			 ? 0
			 : 1;
		break;
	default:
		break;
	}
	if (rc == 0 && o == NULL) {
		o = on_new(c, O_RAW);
		if (o == NULL)
			rc = OSH_ENOMEM;
	}
	if (rc == 0 && o == NULL)
		rc = OSH_ENOMEM;
	if (rc == 0 && o->t == O_RAW) {
		o->off = n->off;
		o->len = n->len;
	}
	if (rc == 1 && c->why[0] == 0)
		fail(c, "%s: value not valid for OCSF %s", a->name, c->vs->version);
	*res = rc == 0 ? o : NULL;
	return rc;
}

/* Attribute a from input node `in` (array or not). 0 / 1 (drop) / <0. */
static int convert_attr(struct conv *c, int32_t in, const struct ocsf_vattr *a, struct on **res)
{
	const struct jn *n = &c->nodes[in];
	struct on *arr;
	long k = 0;
	int rc = 0;

	if (!(a->flags & OCSF_VF_ARRAY))
		return convert_one(c, in, a, res);
	*res = NULL;
	if (n->t != J_ARR) {
		fail(c, "%s must be an array", a->name);
		return 1;
	}
	arr = on_new(c, O_ARR);
	if (arr == NULL)
		return OSH_ENOMEM;
	for (int32_t e = n->child; e >= 0; e = c->nodes[e].next, k++) {
		struct on *o;
		size_t saved = path_push(c, NULL, k);

		rc = convert_one(c, e, a, &o);
		path_pop(c, saved);
		if (rc < 0)
			return rc;
		if (rc == 0)
			on_add(arr, o);
	}
	if (arr->child == NULL) {
		if (n->child >= 0)
			return 1; /* every element dropped (why kept) */
	}
	*res = arr;
	return 0;
}

/* The input node at a dotted path from `from` (an object node), or -1. */
static int32_t find_path(const struct conv *c, int32_t from, const char *path)
{
	int32_t cur = from;

	while (cur >= 0 && *path) {
		const char *dot = strchr(path, '.');
		size_t l = dot ? (size_t)(dot - path) : strlen(path);
		int32_t k = -1;

		if (c->nodes[cur].t != J_OBJ)
			return -1;
		for (int32_t m = c->nodes[cur].child; m >= 0 && k < 0; m = c->nodes[m].next)
			if (c->nodes[m].key_len == l &&
			    memcmp(c->in + c->nodes[m].key_off, path, l) == 0)
				k = m; /* the first occurrence, which the conversion keeps */
		cur = k;
		path += l + (dot ? 1 : 0);
	}
	return cur;
}

static int try_fill(struct conv *c, const struct ocsf_vitem *it, bool is_class, size_t ai,
		    int32_t in, struct on **res)
{
	size_t item = (size_t)(it - (is_class ? c->vs->classes : c->vs->objects));

	*res = NULL;
	for (size_t f = 0; f < c->vs->n_fills; f++) {
		const struct ocsf_vfill *fl = &c->vs->fills[f];

		if (fl->in_class != is_class || fl->item != item || fl->attr != ai)
			continue;
		for (const char *const *p = fl->from; *p != NULL; p++) {
			int32_t src =
			    **p == '@' ? find_path(c, in, *p + 1) : find_path(c, c->root, *p);
			int rc;

			if (src < 0)
				continue;
			rc = convert_attr(c, src, &it->attrs[ai], res);
			if (rc <= 0)
				return rc;
		}
	}
	return 1;
}

static bool in_constraint(const struct ocsf_vitem *it, size_t ai)
{
	for (size_t k = 0; k < it->n_cons; k++)
		for (size_t j = 0; j < it->cons[k].n; j++)
			if (it->cons[k].attrs[j] == ai)
				return true;
	return false;
}

static const char *enum_caption(const struct ocsf_vschema *vs, const struct ocsf_vattr *a,
				const struct on *v)
{
	const struct ocsf_venum *e = &vs->enums[a->enumi];
	long k = e->is_str ? -1 : enum_find_int(e, v->i);

	return k >= 0 ? e->caps[k] : NULL;
}

/* Caption member for enum attribute a (value node v, input caption node
 * cap_in or -1). */
static struct on *caption_of(struct conv *c, const struct ocsf_vattr *a, const struct on *v,
			     int32_t cap_in)
{
	struct on *o = NULL;
	const char *cap;

	if (v->i == OTHER && cap_in >= 0 && c->nodes[cap_in].t == J_STR) {
		o = on_new(c, O_RAW);
		if (o != NULL) {
			o->off = c->nodes[cap_in].off;
			o->len = c->nodes[cap_in].len;
		}
		return o;
	}
	cap = enum_caption(c->vs, a, v);
	if (cap != NULL) {
		o = on_new(c, O_STR);
		if (o != NULL)
			o->str = cap;
	}
	return o;
}

static int convert_object(struct conv *c, int32_t in, const struct ocsf_vitem *it, bool is_class,
			  struct on **res)
{
	/* one output slot (a pointer) per target attribute */
	struct on **slot = arena_alloc(&c->ar, (it->n_attrs + 1u) * sizeof(void *));
	int32_t *src = arena_alloc(&c->ar, sizeof(*src) * (it->n_attrs + 1u));
	struct on *obj = on_new(c, O_OBJ);
	bool is_meta = !is_class && strcmp(it->name, "metadata") == 0;
	int rc = 0;

	*res = NULL;
	if (slot == NULL || src == NULL || obj == NULL)
		return OSH_ENOMEM;
	for (size_t i = 0; i < it->n_attrs; i++)
		src[i] = -1;
	/* 1. members the target knows, first occurrence wins */
	for (int32_t m = c->nodes[in].child; m >= 0; m = c->nodes[m].next) {
		const struct jn *mn = &c->nodes[m];
		const struct ocsf_vattr *a = find_attr(it, c->in + mn->key_off, mn->key_len);
		size_t ai;
		size_t saved;

		if (a == NULL || (a->flags & OCSF_VF_DEPRECATED))
			continue;
		ai = (size_t)(a - it->attrs);
		if (src[ai] >= 0)
			continue;
		src[ai] = m;
		if (a->flags & (OCSF_VF_DERIVED | OCSF_VF_CAPTION))
			continue; /* recomputed below */
		saved = path_push(c, a->name, -1);
		rc = convert_attr(c, m, a, &slot[ai]);
		path_pop(c, saved);
		if (rc < 0)
			return rc;
		/* A required value the target cannot hold fails the object: fill
		 * rules stand in for an absent attribute, never for a present one
		 * (an unusable dst_endpoint is not the device). */
		if (rc == 1 && (a->flags & OCSF_VF_REQUIRED) && !in_constraint(it, ai) &&
		    !(is_class && a->profile >= 0))
			return 1; /* why: the value's failure */
	}
	/* 2. derived values */
	for (size_t i = 0; i < it->n_attrs; i++) {
		const struct ocsf_vattr *a = &it->attrs[i];
		struct on *o = NULL;

		if (!(a->flags & OCSF_VF_DERIVED))
			continue;
		if (is_class && strcmp(a->name, "class_uid") == 0) {
			o = on_new(c, O_INT);
			if (o != NULL)
				o->i = it->class_uid;
		} else if (is_class && strcmp(a->name, "category_uid") == 0) {
			o = on_new(c, O_INT);
			if (o != NULL)
				o->i = it->category_uid;
		} else if (is_class && strcmp(a->name, "class_name") == 0) {
			o = on_new(c, O_STR);
			if (o != NULL)
				o->str = it->caption;
		} else if (is_class && strcmp(a->name, "category_name") == 0) {
			o = on_new(c, O_STR);
			if (o != NULL)
				o->str = it->category_name;
		} else if (is_meta && strcmp(a->name, "version") == 0) {
			o = on_new(c, O_STR);
			if (o != NULL)
				o->str = c->vs->version;
		} else if (is_meta && strcmp(a->name, "profiles") == 0) {
			o = on_new(c, O_PROFILES);
		} else {
			continue; /* type_uid / type_name: after activity_id */
		}
		if (o == NULL)
			return OSH_ENOMEM;
		slot[i] = o;
	}
	if (is_class) {
		const struct ocsf_vattr *act = find_attr(it, "activity_id", 11);
		const struct ocsf_vattr *tu = find_attr(it, "type_uid", 8);
		const struct ocsf_vattr *tn = find_attr(it, "type_name", 9);

		if (act != NULL && tu != NULL && slot[act - it->attrs] != NULL) {
			struct on *o = on_new(c, O_INT);

			if (o == NULL)
				return OSH_ENOMEM;
			o->i = (int64_t)it->class_uid * 100 + slot[act - it->attrs]->i;
			slot[tu - it->attrs] = o;
			if (tn != NULL) {
				const char *cap = enum_caption(c->vs, tu, o);

				if (cap != NULL) {
					struct on *t = on_new(c, O_STR);

					if (t == NULL)
						return OSH_ENOMEM;
					t->str = cap;
					slot[tn - it->attrs] = t;
				}
			}
		}
	}
	/* 3. captions of enum values */
	for (size_t i = 0; i < it->n_attrs; i++) {
		const struct ocsf_vattr *a = &it->attrs[i];
		const struct ocsf_vattr *s;

		if (a->kind != OCSF_VK_ENUM_INT || a->sibling < 0 || slot[i] == NULL)
			continue;
		s = &it->attrs[a->sibling];
		if (!(s->flags & OCSF_VF_CAPTION) || (s->flags & OCSF_VF_DERIVED))
			continue;
		if (a->flags & OCSF_VF_ARRAY) {
			struct on *arr = on_new(c, O_ARR);
			int32_t ce = src[a->sibling] >= 0 && c->nodes[src[a->sibling]].t == J_ARR
					 ? c->nodes[src[a->sibling]].child
					 : -1;

			if (arr == NULL)
				return OSH_ENOMEM;
			for (struct on *v = slot[i]->child; v != NULL; v = v->next) {
				struct on *cap = caption_of(c, a, v, ce);

				if (c->err)
					return c->err;
				if (cap == NULL) {
					arr = NULL;
					break;
				}
				on_add(arr, cap);
				if (ce >= 0)
					ce = c->nodes[ce].next;
			}
			slot[a->sibling] = arr;
		} else {
			slot[a->sibling] = caption_of(c, a, slot[i], src[a->sibling]);
			if (c->err)
				return c->err;
		}
	}
	/* 4. required attributes (fill rules) and constraints */
	for (size_t i = 0; i < it->n_attrs; i++) {
		const struct ocsf_vattr *a = &it->attrs[i];

		if (slot[i] != NULL || !(a->flags & OCSF_VF_REQUIRED) ||
		    (a->flags & (OCSF_VF_DEPRECATED | OCSF_VF_DERIVED | OCSF_VF_CAPTION)) ||
		    in_constraint(it, i) || (is_class && a->profile >= 0))
			continue;
		rc = try_fill(c, it, is_class, i, in, &slot[i]);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			fail(c, "OCSF %s %s requires %s: absent and no fill rule source present",
			     c->vs->version, it->name, a->name);
			return 1;
		}
	}
	for (size_t k = 0; k < it->n_cons; k++) {
		const struct ocsf_vcons *cs = &it->cons[k];
		unsigned present = 0, live = 0;

		for (size_t j = 0; j < cs->n; j++) {
			if (!(it->attrs[cs->attrs[j]].flags & OCSF_VF_DEPRECATED))
				live++;
			if (slot[cs->attrs[j]] != NULL)
				present++;
		}
		if (live == 0)
			continue;
		for (size_t j = 0; j < cs->n && present == 0; j++) {
			rc = try_fill(c, it, is_class, cs->attrs[j], in, &slot[cs->attrs[j]]);
			if (rc < 0)
				return rc;
			present += rc == 0;
		}
		if (present == 0 || (cs->just_one && present > 1)) {
			char names[160];
			size_t nl = 0;

			names[0] = 0;
			for (size_t j = 0; j < cs->n && nl < sizeof(names); j++) {
				int w = snprintf(names + nl, sizeof(names) - nl, "%s%s",
						 j ? ", " : "", it->attrs[cs->attrs[j]].name);
				if (w > 0)
					nl += (size_t)w;
			}
			fail(c, "OCSF %s %s needs %s of: %s (has %u)", c->vs->version, it->name,
			     cs->just_one ? "exactly one" : "at least one", names, present);
			return 1;
		}
	}
	/* 5. members in descriptor order */
	for (size_t i = 0; i < it->n_attrs; i++) {
		if (slot[i] == NULL)
			continue;
		slot[i]->key = it->attrs[i].name;
		slot[i]->profile = it->attrs[i].profile;
		on_add(obj, slot[i]);
	}
	c->why[0] = 0;
	*res = obj;
	return 0;
}

/* Profiles of every kept attribute. */
static uint64_t collect_profiles(const struct on *o)
{
	uint64_t bits = 0;

	for (const struct on *k = o->child; k != NULL; k = k->next) {
		if (k->profile >= 0)
			bits |= 1ull << k->profile;
		if (k->t == O_OBJ || k->t == O_ARR)
			bits |= collect_profiles(k);
	}
	return bits;
}

/* Required attributes of a profile declared at class level. */
static int check_profiles(struct conv *c, const struct ocsf_vitem *it, struct on *obj)
{
	for (size_t i = 0; i < it->n_attrs; i++) {
		const struct ocsf_vattr *a = &it->attrs[i];
		const struct on *k;
		struct on *f;
		int rc;

		if (a->profile < 0 || !(a->flags & OCSF_VF_REQUIRED) ||
		    !(c->profiles & (1ull << a->profile)))
			continue;
		for (k = obj->child; k != NULL && strcmp(k->key, a->name) != 0; k = k->next)
			;
		if (k != NULL)
			continue;
		rc = try_fill(c, it, true, i, c->root, &f);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			fail(c,
			     "OCSF %s %s requires %s when profile %s is used: absent and no fill "
			     "rule source present",
			     c->vs->version, it->name, a->name, c->vs->profiles[a->profile]);
			return 1;
		}
		f->key = a->name;
		f->profile = a->profile;
		on_add(obj, f); /* order: appended after the sorted members */
		c->profiles |= collect_profiles(f);
	}
	return 0;
}

static void write_node(const struct conv *c, struct ocsf_jsonw *w, const struct on *o)
{
	bool first = true;

	switch (o->t) {
	case O_OBJ:
	case O_ARR:
		ocsf_jsonw_char(w, o->t == O_OBJ ? '{' : '[');
		for (const struct on *k = o->child; k != NULL; k = k->next) {
			if (k->t == O_PROFILES && c->profiles == 0)
				continue;
			if (!first)
				ocsf_jsonw_char(w, ',');
			first = false;
			if (o->t == O_OBJ) {
				ocsf_jsonw_str(w, k->key);
				ocsf_jsonw_char(w, ':');
			}
			write_node(c, w, k);
		}
		ocsf_jsonw_char(w, o->t == O_OBJ ? '}' : ']');
		break;
	case O_RAW:
		ocsf_jsonw_raw(w, c->in + o->off, o->len);
		break;
	case O_STR:
		ocsf_jsonw_str(w, o->str);
		break;
	case O_INT:
		ocsf_jsonw_int(w, o->i);
		break;
	case O_PROFILES:
		ocsf_jsonw_char(w, '[');
		for (unsigned p = 0; p < c->vs->n_profiles; p++) {
			if (!(c->profiles & (1ull << p)))
				continue;
			if (!first)
				ocsf_jsonw_char(w, ',');
			first = false;
			ocsf_jsonw_str(w, c->vs->profiles[p]);
		}
		ocsf_jsonw_char(w, ']');
		break;
	default:
		break;
	}
}

static void set_reason(char *reason, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_reason(char *reason, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (reason == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
}

static int write_out(const struct conv *c, const struct on *root, char **out, size_t *out_len)
{
	size_t cap = (size_t)c->nodes[c->root].len + 4096;
	int rc = OSH_ENOMEM;

	for (int tries = 0; tries < 8; tries++, cap *= 2) {
		char *buf = malloc(cap + 1);
		struct ocsf_jsonw w;
		size_t n;

		if (buf == NULL)
			return OSH_ENOMEM;
		ocsf_jsonw_init(&w, buf, cap);
		write_node(c, &w, root);
		rc = ocsf_jsonw_finish(&w, &n);
		if (rc == 0) {
			buf[n] = 0;
			*out = buf;
			*out_len = n;
			return 0;
		}
		free(buf);
	}
	return rc;
}

/* 1.7.0 -> 1.7.0: a copy, once the text is one JSON object (the writer's
 * syntax check; no tree is built). */
static int identity(const char *json, size_t len, char **out, size_t *out_len, char *reason,
		    size_t reason_cap)
{
	size_t i = 0;
	char *buf;

	while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
		i++;
	if (i == len || json[i] != '{' || !ocsf_json_valid(json, len)) {
		set_reason(reason, reason_cap, "not JSON: not one JSON object");
		return OSH_EPARSE;
	}
	buf = malloc(len + 1);
	if (buf == NULL)
		return OSH_ENOMEM;
	memcpy(buf, json, len);
	buf[len] = 0;
	*out = buf;
	*out_len = len;
	return 0;
}

int ocsf_convert_json(const char *json, size_t len, enum ocsf_version target, char **out,
		      size_t *out_len, char *reason, size_t reason_cap)
{
	struct parser p = {0};
	struct conv c = {0};
	struct on *root = NULL;
	const struct ocsf_vitem *cls = NULL;
	int32_t uid_node, ver_node;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (reason != NULL && reason_cap > 0)
		reason[0] = 0;
	if ((unsigned)target >= OCSF_VERSION_COUNT) {
		set_reason(reason, reason_cap, "unknown target version %d (accepted: %s)",
			   (int)target, OCSF_VERSION_ACCEPTED);
		return OSH_EINVAL;
	}
	if (json == NULL || len > MAX_INPUT) {
		set_reason(reason, reason_cap, "event of %zu bytes (limit %u)", len, MAX_INPUT);
		return json == NULL ? OSH_EPARSE : OSH_ETOOBIG;
	}
	if (target == OCSF_VERSION_1_7_0)
		return identity(json, len, out, out_len, reason, reason_cap);
	p.s = json;
	p.n = len;
	c.root = parse_value(&p, 0);
	skip_ws(&p);
	if (p.err == 0 && p.pos != p.n)
		perr(&p, OSH_EPARSE, "trailing bytes after the JSON value");
	if (p.err != 0) {
		set_reason(reason, reason_cap, "not JSON: %s", p.why);
		rc = p.err;
		goto out;
	}
	c.in = json;
	c.nodes = p.nodes;
	c.vs = version_tables[target];
	if (p.nodes[c.root].t != J_OBJ) {
		set_reason(reason, reason_cap, "not an OCSF event: not a JSON object");
		rc = OSH_EPARSE;
		goto out;
	}
	uid_node = find_path(&c, c.root, "class_uid");
	ver_node = find_path(&c, c.root, "metadata.version");
	if (ver_node < 0 || p.nodes[ver_node].t != J_STR || p.nodes[ver_node].len != 7 ||
	    memcmp(json + p.nodes[ver_node].off, "\"1.7.0\"", 7) != 0) {
		set_reason(reason, reason_cap,
			   "not an OCSF 1.7.0 event: metadata.version is not \"1.7.0\"");
		rc = OSH_EPARSE;
		goto out;
	}
	if (uid_node < 0 || p.nodes[uid_node].t != J_NUM || !p.nodes[uid_node].is_int) {
		set_reason(reason, reason_cap, "not an OCSF event: no integer class_uid");
		rc = OSH_EPARSE;
		goto out;
	}
	for (size_t i = 0; i < c.vs->n_classes; i++)
		if (c.vs->classes[i].class_uid == p.nodes[uid_node].i)
			cls = &c.vs->classes[i];
	if (cls == NULL) {
		set_reason(reason, reason_cap, "class_uid %lld is not a class of OCSF %s",
			   (long long)p.nodes[uid_node].i, c.vs->version);
		rc = OSH_EINVAL;
		goto out;
	}
	rc = convert_object(&c, c.root, cls, true, &root);
	if (rc == 0) {
		c.profiles = collect_profiles(root);
		rc = check_profiles(&c, cls, root);
	}
	if (rc == 1) {
		set_reason(reason, reason_cap, "refused for OCSF %s: %s", c.vs->version,
			   c.why[0] ? c.why : "not valid");
		rc = OSH_EINVAL;
	} else if (rc == 0) {
		rc = write_out(&c, root, out, out_len);
	}
	if (rc == OSH_ENOMEM || c.err)
		set_reason(reason, reason_cap, "out of memory");
out:
	arena_free(&c.ar);
	free(p.nodes);
	return rc;
}
