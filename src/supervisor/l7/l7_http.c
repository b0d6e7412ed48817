/* l7_http.c - chunked decoder and response-head parser (osh_l7_http.h).
 *
 * DESIGN
 * Both are written as loops over single bytes with explicit states, so a
 * message split anywhere parses the same and nothing is read past `n`.
 */
#include "osh_l7_http.h"

#include <string.h>
#include <strings.h>

enum {
	C_SIZE,	     /* hex digits */
	C_EXT,	     /* after ';' until CR */
	C_SIZE_LF,   /* CR seen after the size line */
	C_DATA,	     /* remaining bytes of data */
	C_DATA_CR,   /* CR after data */
	C_DATA_LF,   /* LF after data */
	C_TRAIL,     /* start of a trailer line (CR = end) */
	C_TRAIL_TXT, /* inside a trailer line */
	C_TRAIL_LF,  /* CR seen after a trailer line */
	C_END_LF,    /* CR seen on the empty line */
	C_DONE,
	C_ERR, /* sticky: a framing error was reported */
};

void osh_l7_chunked_init(struct osh_l7_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = C_SIZE;
}

bool osh_l7_chunked_done(const struct osh_l7_chunked *c)
{
	return c->state == C_DONE;
}

static int hex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

ssize_t osh_l7_chunked_feed(struct osh_l7_chunked *c, const char *buf, size_t n, const char **why)
{
	size_t i = 0;

	*why = c->state == C_ERR ? "chunked body already malformed" : NULL;
	while (i < n && c->state != C_DONE && !*why) {
		unsigned char ch = (unsigned char)buf[i];

		switch (c->state) {
		case C_SIZE:
			if (hex(ch) >= 0) {
				if (++c->digits > 15)
					*why = "chunk size has more than 15 hex digits";
				c->remaining = c->remaining * 16 + (uint64_t)hex(ch);
			} else if (c->digits == 0) {
				*why = "chunk size is not a hex number";
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = C_EXT;
			} else if (ch == '\r') {
				c->state = C_SIZE_LF;
			} else if (ch == '\n') {
				*why = "bare LF in chunk size line";
			} else {
				*why = "invalid byte in chunk size line";
			}
			c->line++;
			break;
		case C_EXT:
			if (ch == '\r')
				c->state = C_SIZE_LF;
			else if (ch == '\n' || ch == 0)
				*why = "bare LF or NUL in chunk extension";
			c->line++;
			break;
		case C_SIZE_LF:
			if (ch != '\n') {
				*why = "chunk size line does not end in CRLF";
			} else {
				c->state = c->remaining ? C_DATA : C_TRAIL;
				c->line = 0;
				c->digits = 0;
			}
			break;
		case C_DATA: {
			size_t take = n - i;

			if ((uint64_t)take > c->remaining)
				take = (size_t)c->remaining;
			c->remaining -= take;
			c->body += take;
			i += take;
			if (c->remaining == 0)
				c->state = C_DATA_CR;
			continue;
		}
		case C_DATA_CR:
			if (ch != '\r')
				*why = "chunk data is not followed by CRLF";
			c->state = C_DATA_LF;
			break;
		case C_DATA_LF:
			if (ch != '\n')
				*why = "chunk data is not followed by CRLF";
			c->state = C_SIZE;
			break;
		case C_TRAIL:
			c->state = ch == '\r' ? C_END_LF : C_TRAIL_TXT;
			if (ch == '\n' || ch == 0)
				*why = "bare LF or NUL in chunked trailers";
			c->trailers++;
			break;
		case C_TRAIL_TXT:
			if (ch == '\r')
				c->state = C_TRAIL_LF;
			else if (ch == '\n' || ch == 0)
				*why = "bare LF or NUL in chunked trailers";
			c->trailers++;
			break;
		case C_TRAIL_LF:
			if (ch != '\n')
				*why = "trailer line does not end in CRLF";
			c->state = C_TRAIL;
			c->trailers++;
			break;
		case C_END_LF:
			if (ch != '\n')
				*why = "chunked body does not end in CRLF";
			c->state = C_DONE;
			break;
		default:
			break;
		}
		i++;
		if (!*why && c->line > OSH_L7_CHUNK_LINE_MAX)
			*why = "chunk size line too long";
		if (!*why && c->trailers > OSH_L7_TRAILERS_MAX)
			*why = "chunked trailers too long";
	}
	if (*why)
		c->state = C_ERR;
	return *why ? -1 : (ssize_t)i;
}

/* ---------------------------------------------------------- response */

bool osh_l7_has_token(const char *v, size_t n, const char *t)
{
	size_t tl = strlen(t), s = 0;

	for (size_t k = 0; k <= n; k++) {
		if (k == n || v[k] == ',') {
			const char *a = v + s;
			size_t an = k - s;

			while (an && (*a == ' ' || *a == '\t')) {
				a++;
				an--;
			}
			while (an && (a[an - 1] == ' ' || a[an - 1] == '\t'))
				an--;
			if (an == tl && strncasecmp(a, t, tl) == 0)
				return true;
			s = k + 1;
		}
	}
	return false;
}

static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool name_is(const char *n, size_t nl, const char *want)
{
	return nl == strlen(want) && strncasecmp(n, want, nl) == 0;
}

/* One header line [p, eol) (without CRLF). */
static int header(const char *p, size_t len, struct osh_l7_resp *r, bool *keep_alive, bool *have_te,
		  const char **why)
{
	size_t nl = 0;
	const char *v;
	size_t vl;

	while (nl < len && tchar((unsigned char)p[nl]))
		nl++;
	if (nl == 0 || nl == len || p[nl] != ':') {
		*why = "malformed response header line";
		return -1;
	}
	v = p + nl + 1;
	vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	for (size_t k = 0; k < vl; k++)
		if ((unsigned char)v[k] < 0x20 && v[k] != '\t') {
			*why = "control byte in a response header value";
			return -1;
		}
	if (name_is(p, nl, "content-length")) {
		int64_t cl = 0;

		if (vl == 0 || vl > 18) {
			*why = "invalid Content-Length in the response";
			return -1;
		}
		for (size_t k = 0; k < vl; k++) {
			if (v[k] < '0' || v[k] > '9') {
				*why = "invalid Content-Length in the response";
				return -1;
			}
			cl = cl * 10 + (v[k] - '0');
		}
		if (r->content_length >= 0 && r->content_length != cl) {
			*why = "two different Content-Lengths in the response";
			return -1;
		}
		r->content_length = cl;
	} else if (name_is(p, nl, "transfer-encoding")) {
		*have_te = true;
		r->chunked = vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0 &&
			     (vl == 7 || v[vl - 8] == ',' || v[vl - 8] == ' ');
	} else if (name_is(p, nl, "connection")) {
		if (osh_l7_has_token(v, vl, "close"))
			r->close = true;
		if (osh_l7_has_token(v, vl, "keep-alive"))
			*keep_alive = true;
	} else if (name_is(p, nl, "upgrade")) {
		r->upgrade = true;
	}
	return 0;
}

int osh_l7_parse_response(const char *buf, size_t len, struct osh_l7_resp *r, const char **why)
{
	const char *end = NULL;
	const char *p, *eol;
	bool keep_alive = false, have_te = false;
	size_t scan = len < OSH_L7_RESP_HEAD_MAX ? len : OSH_L7_RESP_HEAD_MAX;
	unsigned nh = 0;

	*why = NULL;
	for (size_t k = 0; k + 3 < scan; k++) {
		if (buf[k] == '\r' && buf[k + 1] == '\n' && buf[k + 2] == '\r' &&
		    buf[k + 3] == '\n') {
			end = buf + k + 4;
			break;
		}
	}
	if (!end) {
		if (len >= OSH_L7_RESP_HEAD_MAX) {
			*why = "response head larger than 16384 bytes";
			return -1;
		}
		if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0) {
			*why = "response does not start with HTTP/";
			return -1;
		}
		return 0;
	}
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->head_len = (size_t)(end - buf);
	if (r->head_len < 16 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ' || buf[9] < '1' || buf[9] > '9' ||
	    buf[10] < '0' || buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
	    (buf[12] != ' ' && buf[12] != '\r')) {
		*why = "malformed response status line";
		return -1;
	}
	r->minor = buf[7] - '0';
	r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	p = buf;
	eol = memchr(p, '\r', r->head_len);
	for (const char *q = p; q < eol; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			*why = "control byte in the response status line";
			return -1;
		}
	while (eol && eol[1] == '\n') {
		p = eol + 2;
		if (p >= end - 2)
			break;
		eol = memchr(p, '\r', (size_t)(end - p));
		if (!eol || eol[1] != '\n' || memchr(p, '\n', (size_t)(eol - p))) {
			*why = "response header line does not end in CRLF";
			return -1;
		}
		if (++nh > OSH_L7_RESP_HEADERS_MX) {
			*why = "more than 100 response header lines";
			return -1;
		}
		if (header(p, (size_t)(eol - p), r, &keep_alive, &have_te, why) != 0)
			return -1;
	}
	if (have_te && r->content_length >= 0) {
		*why = "response has both Content-Length and Transfer-Encoding";
		return -1;
	}
	if (have_te && !r->chunked) {
		*why = "response Transfer-Encoding does not end in chunked";
		return -1;
	}
	if (r->minor == 0 && !keep_alive)
		r->close = true;
	return 1;
}
