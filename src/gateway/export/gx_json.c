/* gx_json.c - one-pass JSON check and field finder (see gx_json.h).
 *
 * DESIGN: recursive descent with an explicit depth bound; the path from the
 * root decides which values are recorded (a key is only compared while the
 * path can still lead to a wanted field). */
#include "gx_json.h"

#include <string.h>

enum path { P_NONE = 0, P_ROOT, P_METADATA, P_DEVICE, P_CONTAINER };

struct scan {
	const char *p, *end;
	int depth;
	struct gx_meta *m;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string at s->p ('"'): its raw content in *out. */
static int str(struct scan *s, struct gx_span *out)
{
	const char *start;

	if (s->p >= s->end || *s->p != '"')
		return OSH_EPARSE;
	start = ++s->p;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '"') {
			out->p = start;
			out->n = (size_t)(s->p - start);
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return OSH_EPARSE;
		if (c == '\\') {
			if (s->end - s->p < 2)
				return OSH_EPARSE;
			c = (unsigned char)s->p[1];
			if (c == 'u') {
				if (s->end - s->p < 6 || !hex(s->p[2]) || !hex(s->p[3]) ||
				    !hex(s->p[4]) || !hex(s->p[5]))
					return OSH_EPARSE;
				s->p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", (int)c) || c == '\0')
				return OSH_EPARSE;
			s->p += 2;
			continue;
		}
		s->p++;
	}
	return OSH_EPARSE;
}

/* A number; *iv and *integral when it has no fraction/exponent and fits. */
static int num(struct scan *s, int64_t *iv, bool *integral)
{
	bool neg = false, ok = true;
	uint64_t v = 0;

	*integral = false;
	if (s->p < s->end && *s->p == '-') {
		neg = true;
		s->p++;
	}
	if (s->p >= s->end || *s->p < '0' || *s->p > '9')
		return OSH_EPARSE;
	if (*s->p == '0') {
		s->p++;
	} else {
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
			unsigned d = (unsigned)(*s->p - '0');

			if (v > (UINT64_C(1) << 62) / 10)
				ok = false;
			else
				v = v * 10 + d;
			s->p++;
		}
	}
	if (s->p < s->end && *s->p == '.') {
		ok = false;
		s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return OSH_EPARSE;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		ok = false;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || *s->p < '0' || *s->p > '9')
			return OSH_EPARSE;
		while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
			s->p++;
	}
	if (ok) {
		*iv = neg ? -(int64_t)v : (int64_t)v;
		*integral = true;
	}
	return 0;
}

static int lit(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return OSH_EPARSE;
	s->p += n;
	return 0;
}

static int value(struct scan *s, enum path path, struct gx_span *sv, int64_t *iv, bool *has_iv);

static int array(struct scan *s)
{
	int rc;

	s->p++; /* '[' */
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		rc = value(s, P_NONE, NULL, NULL, NULL);
		if (rc)
			return rc;
		ws(s);
		if (s->p >= s->end)
			return OSH_EPARSE;
		if (*s->p == ']') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return OSH_EPARSE;
		s->p++;
	}
}

/* Which path a key leads to from `path`, and which field it fills. */
enum field { F_NONE = 0, F_CLASS, F_SEV, F_TIME, F_UID, F_SB_NAME, F_SB_ID };

static enum path child(enum path path, struct gx_span k, enum field *f)
{
	*f = F_NONE;
	switch (path) {
	case P_ROOT:
		if (gx_span_eq(k, "metadata"))
			return P_METADATA;
		if (gx_span_eq(k, "device"))
			return P_DEVICE;
		if (gx_span_eq(k, "class_uid"))
			*f = F_CLASS;
		else if (gx_span_eq(k, "severity_id"))
			*f = F_SEV;
		else if (gx_span_eq(k, "time"))
			*f = F_TIME;
		break;
	case P_METADATA:
		if (gx_span_eq(k, "uid"))
			*f = F_UID;
		break;
	case P_DEVICE:
		if (gx_span_eq(k, "container"))
			return P_CONTAINER;
		break;
	case P_CONTAINER:
		if (gx_span_eq(k, "name"))
			*f = F_SB_NAME;
		else if (gx_span_eq(k, "uid"))
			*f = F_SB_ID;
		break;
	case P_NONE:
		break;
	}
	return P_NONE;
}

static int object(struct scan *s, enum path path)
{
	int rc;

	s->p++; /* '{' */
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		struct gx_span k = {0}, sv = {0};
		int64_t iv = 0;
		bool has_iv = false;
		enum field f = F_NONE;
		enum path cp;

		ws(s);
		rc = str(s, &k);
		if (rc)
			return rc;
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			return OSH_EPARSE;
		s->p++;
		cp = path == P_NONE ? P_NONE : child(path, k, &f);
		rc = value(s, cp, &sv, &iv, &has_iv);
		if (rc)
			return rc;
		switch (f) {
		case F_CLASS:
			s->m->has_class = has_iv;
			s->m->class_uid = iv;
			break;
		case F_SEV:
			s->m->has_severity = has_iv;
			s->m->severity_id = iv;
			break;
		case F_TIME:
			s->m->has_time = has_iv;
			s->m->time = iv;
			break;
		case F_UID:
			s->m->uid = sv;
			break;
		case F_SB_NAME:
			s->m->sb_name = sv;
			break;
		case F_SB_ID:
			s->m->sb_id = sv;
			break;
		case F_NONE:
			break;
		}
		ws(s);
		if (s->p >= s->end)
			return OSH_EPARSE;
		if (*s->p == '}') {
			s->p++;
			return 0;
		}
		if (*s->p != ',')
			return OSH_EPARSE;
		s->p++;
	}
}

/* One value; a string's span in *sv and an integral number in *iv (both
 * optional). */
static int value(struct scan *s, enum path path, struct gx_span *sv, int64_t *iv, bool *has_iv)
{
	struct gx_span tmp = {0};
	int64_t itmp = 0;
	bool btmp = false;
	int rc;

	ws(s);
	if (s->p >= s->end)
		return OSH_EPARSE;
	switch (*s->p) {
	case '{':
	case '[':
		if (++s->depth > GX_JSON_DEPTH)
			return OSH_EDEPTH;
		rc = *s->p == '{' ? object(s, path) : array(s);
		s->depth--;
		return rc;
	case '"':
		rc = str(s, &tmp);
		if (rc == 0 && sv)
			*sv = tmp;
		return rc;
	case 't':
		return lit(s, "true");
	case 'f':
		return lit(s, "false");
	case 'n':
		return lit(s, "null");
	default:
		rc = num(s, &itmp, &btmp);
		if (rc == 0 && iv) {
			*iv = itmp;
			*has_iv = btmp;
		}
		return rc;
	}
}

int gx_json_meta(const char *text, size_t n, struct gx_meta *m)
{
	struct scan s = {.p = text, .end = text + n, .depth = 1, .m = m};
	int rc;

	memset(m, 0, sizeof(*m));
	ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return OSH_EPARSE;
	rc = object(&s, P_ROOT);
	if (rc)
		return rc;
	ws(&s);
	return s.p == s.end ? 0 : OSH_EPARSE;
}

bool gx_span_eq(struct gx_span s, const char *z)
{
	size_t n = strlen(z);

	return s.p && s.n == n && memcmp(s.p, z, n) == 0;
}
