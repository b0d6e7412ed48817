/* secret_store.c - secret store, placeholders, header-block substitution.
 *
 * DESIGN
 * See osh_secret.h. The store is a small array (at most OSH_SECRET_MAX
 * entries, looked up linearly by name). Substitution rewrites one line at a
 * time into a growing buffer: the request line's target with
 * percent-encoding, header values raw, Basic credentials through a
 * decode-substitute-encode round trip. The fail-closed check then looks for
 * the placeholder prefix in the output, in the percent-decoded request
 * target and in every decoded Basic credential, so an unresolved
 * placeholder can never leave the supervisor. Error texts name secrets and
 * lines, never values.
 */
#include "osh_secret.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PREFIX_LEN (sizeof(OSH_SECRET_PREFIX) - 1)

struct secret {
	char *name;
	char *value;
	size_t vlen;
};

struct osh_secret_store {
	struct secret v[OSH_SECRET_MAX];
	size_t n;
};

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int osh_secret_store_new(struct osh_secret_store **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : OSH_ENOMEM;
}

void osh_secret_store_free(struct osh_secret_store *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		explicit_bzero(s->v[i].value, s->v[i].vlen);
		free(s->v[i].value);
		free(s->v[i].name);
	}
	if (s) {
		explicit_bzero(s, sizeof(*s));
		free(s);
	}
}

static bool name_char(int c)
{
	return isalnum(c) || c == '_';
}

static const struct secret *find(const struct osh_secret_store *s, const char *name, size_t nlen)
{
	const struct secret *hit = NULL;

	for (size_t i = 0; s && i < s->n && !hit; i++)
		if (strlen(s->v[i].name) == nlen && memcmp(s->v[i].name, name, nlen) == 0)
			hit = &s->v[i];
	return hit;
}

int osh_secret_store_add(struct osh_secret_store *s, const char *name, const char *value,
			 size_t vlen, char *err, size_t errlen)
{
	int rc = 0;
	char why[128];
	struct secret *e;

	if (!osh_secret_name_ok(name)) {
		rc = fail(OSH_EINVAL, err, errlen,
			  "secret name %.64s is invalid (letters, digits, '_', not starting "
			  "with a digit, at most %d bytes)",
			  name ? name : "(null)", OSH_SECRET_NAME_MAX);
		goto out;
	}
	rc = osh_secret_value_check(value, vlen, why, sizeof(why));
	if (rc) {
		rc = fail(rc, err, errlen, "secret %s: %s", name, why);
		goto out;
	}
	if (find(s, name, strlen(name))) {
		rc = fail(OSH_EEXIST, err, errlen, "secret %s given twice", name);
		goto out;
	}
	if (s->n >= OSH_SECRET_MAX) {
		rc = fail(OSH_ETOOBIG, err, errlen, "more than %d secrets", OSH_SECRET_MAX);
		goto out;
	}
	e = &s->v[s->n];
	e->name = strdup(name);
	e->value = malloc(vlen + 1);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		e->name = e->value = NULL;
		rc = fail(OSH_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	memcpy(e->value, value, vlen);
	e->value[vlen] = '\0';
	e->vlen = vlen;
	s->n++;
out:
	return rc;
}

int osh_secret_store_parse(struct osh_secret_store *s, const char *text, size_t len, char *err,
			   size_t errlen)
{
	int rc = 0;
	size_t line = 0;
	const char *p = text, *end = text + len;
	char name[OSH_SECRET_NAME_MAX + 1];
	char why[256];

	if (len > OSH_SECRET_TEXT_MAX) {
		rc = fail(OSH_ETOOBIG, err, errlen, "secrets: more than %d bytes",
			  OSH_SECRET_TEXT_MAX);
		goto out;
	}
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(eol - p));
		size_t nlen;

		line++;
		if (eol == p) {
			p = eol + 1;
			continue;
		}
		nlen = eq ? (size_t)(eq - p) : 0;
		if (!eq || nlen == 0 || nlen > OSH_SECRET_NAME_MAX) {
			rc = fail(OSH_EPARSE, err, errlen, "secrets line %zu: expected NAME=VALUE",
				  line);
			goto out;
		}
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		rc =
		    osh_secret_store_add(s, name, eq + 1, (size_t)(eol - eq - 1), why, sizeof(why));
		if (rc)
			rc = fail(rc, err, errlen, "secrets line %zu: %s", line, why);
		p = nl ? nl + 1 : end;
	}
out:
	return rc;
}

int osh_secret_store_read_fd(struct osh_secret_store *s, int fd, char *err, size_t errlen)
{
	char *buf = malloc(OSH_SECRET_TEXT_MAX + 1);
	size_t len = 0;
	int rc = 0;

	if (!buf) {
		rc = fail(OSH_ENOMEM, err, errlen, "secrets: out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, OSH_SECRET_TEXT_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(OSH_EIO, err, errlen, "secrets: read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > OSH_SECRET_TEXT_MAX) {
			rc = fail(OSH_ETOOBIG, err, errlen, "secrets: more than %d bytes",
				  OSH_SECRET_TEXT_MAX);
			goto out;
		}
	}
	rc = osh_secret_store_parse(s, buf, len, err, errlen);
out:
	if (buf) {
		explicit_bzero(buf, OSH_SECRET_TEXT_MAX + 1);
		free(buf);
	}
	return rc;
}

size_t osh_secret_store_count(const struct osh_secret_store *s)
{
	return s ? s->n : 0;
}

const char *osh_secret_store_name(const struct osh_secret_store *s, size_t i)
{
	return s && i < s->n ? s->v[i].name : NULL;
}

int osh_secret_placeholder(const char *name, char *out, size_t cap)
{
	int n;
	int rc = OSH_EINVAL;

	if (osh_secret_name_ok(name)) {
		n = snprintf(out, cap, "%s%s", OSH_SECRET_PREFIX, name);
		rc = n > 0 && (size_t)n < cap ? 0 : OSH_ETOOBIG;
	}
	return rc;
}

/* ----------------------------------------------------------- substitution */

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (!b->oom && n > 0 && (!b->p || b->n + n + 1 > b->cap)) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->n + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np) {
			b->p = np;
			b->cap = cap;
		} else {
			b->oom = true;
		}
	}
	if (!b->oom && n > 0) {
		memcpy(b->p + b->n, s, n);
		b->n += n;
		b->p[b->n] = '\0';
	}
}

static void buf_wipe(struct buf *b)
{
	if (b->p)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static const char *find_prefix(const char *s, size_t n)
{
	return memmem(s, n, OSH_SECRET_PREFIX, PREFIX_LEN);
}

enum mode { RAW, PCT };

struct sub {
	const struct osh_secret_store *s;
	unsigned replaced;
	int rc;
	char *err;
	size_t errlen;
};

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Copy s[0..n) to b, replacing known placeholders (raw or percent-encoded
 * value). Unknown ones are copied as they are (the final scan refuses them). */
static void subst(struct sub *x, struct buf *b, const char *s, size_t n, enum mode m)
{
	const char *end = s + n;

	while (s < end && !x->rc) {
		const char *hit = find_prefix(s, (size_t)(end - s));
		const char *nm;
		const struct secret *e;
		size_t nl = 0;

		if (!hit) {
			put(b, s, (size_t)(end - s));
			break;
		}
		put(b, s, (size_t)(hit - s));
		nm = hit + PREFIX_LEN;
		while (nm + nl < end && name_char((unsigned char)nm[nl]))
			nl++;
		e = nl ? find(x->s, nm, nl) : NULL;
		if (!e) {
			put(b, hit, PREFIX_LEN + nl);
			s = nm + nl;
			continue;
		}
		if (m == PCT) {
			if (strpbrk(e->value, "/\\?#") || strstr(e->value, "..")) {
				x->rc = fail(OSH_EPERM, x->err, x->errlen,
					     "secret %s cannot go into a request target (it "
					     "contains '/', '\\', '?', '#' or '..')",
					     e->name);
				break;
			}
			for (size_t i = 0; i < e->vlen; i++) {
				unsigned char c = (unsigned char)e->value[i];
				char pc[4];

				if (unreserved(c)) {
					put(b, &e->value[i], 1);
				} else {
					(void)snprintf(pc, sizeof(pc), "%%%02X", c);
					put(b, pc, 3);
				}
			}
		} else {
			put(b, e->value, e->vlen);
		}
		x->replaced++;
		s = nm + nl;
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Does the percent-decoded s contain the prefix? */
static bool decoded_has_prefix(const char *s, size_t n)
{
	struct buf d = {0};
	bool r;

	for (size_t i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			char c = (char)(h * 16 + l);

			put(&d, &c, 1);
			i += 2;
		} else {
			put(&d, &s[i], 1);
		}
	}
	r = d.oom || (d.p && find_prefix(d.p, d.n));
	buf_wipe(&d);
	return r;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(struct buf *b, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		put(b, q, 4);
	}
}

/* Strict standard base64 (padding required). false on bad input. */
static bool b64_decode(struct buf *b, const char *s, size_t n)
{
	bool ok = n % 4 == 0;

	for (size_t i = 0; ok && i < n; i += 4) {
		uint32_t v = 0;
		int pad = 0;

		for (int k = 0; ok && k < 4; k++) {
			const char *p = NULL;

			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				v <<= 6;
			} else if (pad || s[i + k] == '\0' || !(p = strchr(b64, s[i + k]))) {
				ok = false;
			} else {
				v = (v << 6) | (uint32_t)(p - b64);
			}
		}
		if (ok) {
			unsigned char o[3] = {(unsigned char)(v >> 16), (unsigned char)(v >> 8),
					      (unsigned char)v};

			put(b, o, (size_t)(3 - pad));
		}
	}
	return ok;
}

/* Is header line s (n bytes, colon at nl) an Authorization or
 * Proxy-Authorization header with Basic credentials? On true tok and tn are
 * the credentials token (blanks trimmed). */
static bool basic_credentials(const char *s, size_t n, size_t nl, const char **tok, size_t *tn)
{
	const char *v = s + nl + 1;
	size_t vn = n - nl - 1;
	bool r;

	while (vn && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	r = ((nl == 13 && strncasecmp(s, "Authorization", 13) == 0) ||
	     (nl == 19 && strncasecmp(s, "Proxy-Authorization", 19) == 0)) &&
	    vn > 6 && strncasecmp(v, "Basic ", 6) == 0;
	*tok = v + 6;
	*tn = r ? vn - 6 : 0;
	while (*tn && (*tok)[*tn - 1] == ' ')
		(*tn)--;
	while (*tn && **tok == ' ') {
		(*tok)++;
		(*tn)--;
	}
	return r;
}

/* Header line "Name: value" (without its line ending). */
static void header_line(struct sub *x, struct buf *b, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t nl = colon ? (size_t)(colon - s) : 0;
	const char *tok = NULL;
	size_t tn = 0;
	struct buf dec = {0}, rep = {0};

	if (!colon || !basic_credentials(s, n, nl, &tok, &tn)) {
		subst(x, b, s, n, RAW);
	} else if (b64_decode(&dec, tok, tn) && dec.p && find_prefix(dec.p, dec.n)) {
		subst(x, &rep, dec.p, dec.n, RAW);
		if (rep.p && find_prefix(rep.p, rep.n) && !x->rc)
			x->rc = fail(OSH_EPERM, x->err, x->errlen,
				     "%.*s: Basic credentials hold an unresolved placeholder",
				     (int)nl, s);
		put(b, s, (size_t)(tok - s));
		b64_encode(b, (const unsigned char *)(rep.p ? rep.p : ""), rep.n);
		put(b, tok + tn, (size_t)(s + n - (tok + tn)));
	} else {
		/* Invalid base64, or no placeholder inside: not ours to judge,
		 * copied as is (raw placeholders are still caught later). */
		put(b, s, n);
	}
	if (dec.oom || rep.oom)
		b->oom = true;
	buf_wipe(&dec);
	buf_wipe(&rep);
}

int osh_secret_substitute(const struct osh_secret_store *s, const char *in, size_t len, char **out,
			  size_t *out_len, unsigned *replaced, char *err, size_t errlen)
{
	struct sub x = {.s = s, .err = err, .errlen = errlen};
	struct buf b = {0};
	const char *p = in, *end = in + len;
	bool first = true;
	int rc = 0;
	size_t t0 = 0, t1 = 0; /* the request target in b */

	*out = NULL;
	*out_len = 0;
	*replaced = 0;
	if (err && errlen)
		err[0] = '\0';
	if (len > OSH_SECRET_BLOCK_MAX) {
		rc = fail(OSH_ETOOBIG, err, errlen, "header block over %d bytes",
			  OSH_SECRET_BLOCK_MAX);
		goto out;
	}
	while (p < end && !x.rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *le = eol; /* line content end (before CR) */

		if (le > p && le[-1] == '\r')
			le--;
		if (first) {
			const char *sp1 = memchr(p, ' ', (size_t)(le - p));
			const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1)) : NULL;

			if (!sp1 || !sp2) {
				rc = fail(OSH_EPARSE, err, errlen,
					  "no HTTP request line (METHOD TARGET VERSION)");
				goto out;
			}
			put(&b, p, (size_t)(sp1 + 1 - p));
			t0 = b.n;
			subst(&x, &b, sp1 + 1, (size_t)(sp2 - sp1 - 1), PCT);
			t1 = b.n;
			put(&b, sp2, (size_t)(le - sp2));
			first = false;
		} else if (le == p) { /* empty line: end of the header block */
			put(&b, p, (size_t)(end - p));
			break;
		} else {
			header_line(&x, &b, p, (size_t)(le - p));
		}
		put(&b, le, (size_t)((nl ? nl + 1 : end) - le));
		p = nl ? nl + 1 : end;
	}
	if (x.rc) {
		rc = x.rc;
		goto out;
	}
	if (b.oom) {
		rc = fail(OSH_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	if (b.p && decoded_has_prefix(b.p + t0, t1 - t0)) {
		rc = fail(OSH_EPERM, err, errlen,
			  "request target holds an unresolved or percent-encoded secret "
			  "placeholder: request refused");
		goto out;
	}
	/* Fail closed: nothing that looks like a placeholder may leave, in the
	 * header part (the body after the empty line is not ours to judge). */
	{
		const char *blank = NULL;
		size_t hdr_n = b.n;

		for (size_t i = 0; b.p && i + 1 < b.n; i++) {
			if (b.p[i] == '\n' &&
			    (b.p[i + 1] == '\n' ||
			     (b.p[i + 1] == '\r' && i + 2 < b.n && b.p[i + 2] == '\n'))) {
				blank = b.p + i + 1;
				break;
			}
		}
		if (blank)
			hdr_n = (size_t)(blank - b.p);
		if (b.p && find_prefix(b.p, hdr_n)) {
			const char *h = find_prefix(b.p, hdr_n) + PREFIX_LEN;
			size_t nl = 0;

			while (h + nl < b.p + hdr_n && name_char((unsigned char)h[nl]) && nl < 64)
				nl++;
			rc = fail(OSH_EPERM, err, errlen,
				  "unresolved secret placeholder %s%.*s: request refused",
				  OSH_SECRET_PREFIX, (int)nl, h);
			goto out;
		}
	}
	*replaced = x.replaced;
	if (x.replaced) {
		*out = b.p;
		*out_len = b.n;
		b.p = NULL;
	}
out:
	buf_wipe(&b);
	return rc;
}
