/* proxy_http.c - strict HTTP/1.1 request-head and target parsers (see
 * proxy_http.h for the rules).
 *
 * DESIGN
 * One pass over the bytes with an explicit state per position: the same
 * code answers "complete", "valid prefix, need more" and "refused, because"
 * so the proxy can call it after every read without keeping parser state
 * (heads are at most 8 KiB: re-scanning costs less than a resumable parser
 * would in bugs). Semantic checks (Content-Length, Transfer-Encoding, Host)
 * run once the head is complete.
 */
#include "proxy_http.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

enum st {
	ST_METHOD,
	ST_TARGET,
	ST_VERSION,
	ST_RL_LF,  /* CR seen at the end of the request line */
	ST_LINE,   /* at the start of a header line (or the final CRLF) */
	ST_NAME,   /* inside a header name */
	ST_VALUE,  /* inside a header value (OWS included) */
	ST_HDR_LF, /* CR seen at the end of a header line */
	ST_END_LF, /* CR seen on the empty line */
};

static int fail(struct osh_http_err *err, int status, const char *reason, int rc)
{
	err->status = status;
	err->reason = reason;
	return rc;
}

static void trim_ows(const char **v, size_t *n)
{
	while (*n > 0 && ((*v)[0] == ' ' || (*v)[0] == '\t')) {
		(*v)++;
		(*n)--;
	}
	while (*n > 0 && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
		(*n)--;
}

static bool name_is(const struct osh_http_hdr *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* Last comma-separated coding of a Transfer-Encoding value is "chunked",
 * and no earlier coding is. */
static bool te_ends_chunked(const char *v, size_t n)
{
	size_t start = 0;
	bool last_chunked = false;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || v[i] == ',') {
			const char *t = v + start;
			size_t tn = i - start;

			trim_ows(&t, &tn);
			if (tn == 0)
				return false;
			if (last_chunked)
				return false; /* chunked must be the final coding */
			last_chunked = tn == 7 && strncasecmp(t, "chunked", 7) == 0;
			start = i + 1;
		}
	}
	return last_chunked;
}

/* Semantic checks once the head is complete. */
static int check_framing(struct osh_http_req *req, struct osh_http_err *err)
{
	int n_cl = 0, n_te = 0;
	int rc = 1;

	for (size_t i = 0; i < req->n_hdr && rc == 1; i++) {
		const struct osh_http_hdr *h = &req->hdr[i];

		if (name_is(h, "content-length")) {
			int64_t v = 0;

			if (++n_cl > 1)
				rc = fail(err, 400, "duplicate Content-Length header", OSH_EPARSE);
			else if (h->value_len == 0 || h->value_len > 18)
				rc = fail(err, 400, "invalid Content-Length value", OSH_EPARSE);
			for (size_t k = 0; rc == 1 && k < h->value_len; k++) {
				if (!is_digit((unsigned char)h->value[k]))
					rc = fail(err, 400, "invalid Content-Length value",
						  OSH_EPARSE);
				else
					v = v * 10 + (h->value[k] - '0');
			}
			req->content_length = v;
		} else if (name_is(h, "transfer-encoding")) {
			if (++n_te > 1)
				rc = fail(err, 400, "duplicate Transfer-Encoding header",
					  OSH_EPARSE);
			else if (req->minor == 0)
				rc = fail(err, 400, "Transfer-Encoding in an HTTP/1.0 request",
					  OSH_EPARSE);
			else if (!te_ends_chunked(h->value, h->value_len))
				rc =
				    fail(err, 400, "Transfer-Encoding must end with chunked (once)",
					 OSH_EPARSE);
			else
				req->chunked = true;
		} else if (name_is(h, "host")) {
			if (req->host_idx >= 0)
				rc = fail(err, 400, "duplicate Host header", OSH_EPARSE);
			req->host_idx = (int)i;
		}
	}
	if (rc == 1 && n_cl > 0 && n_te > 0)
		rc = fail(err, 400, "both Content-Length and Transfer-Encoding (request smuggling)",
			  OSH_EPARSE);
	if (rc == 1 && req->minor == 1 && req->host_idx < 0)
		rc = fail(err, 400, "HTTP/1.1 request without a Host header", OSH_EPARSE);
	return rc;
}

/* Checks the 8 version bytes "HTTP/1.x" given `have` of them. */
static int check_version(const char *v, size_t have, struct osh_http_err *err)
{
	static const char lit[] = "HTTP/1.";
	int rc = 0;

	for (size_t i = 0; i < have && i < 8 && rc == 0; i++) {
		unsigned char c = (unsigned char)v[i];

		if (i < 5 && c != (unsigned char)lit[i])
			rc = fail(err, 400, "request line does not end in an HTTP version",
				  OSH_EPARSE);
		else if (i >= 5 && i < 7 && c != (unsigned char)lit[i])
			rc = fail(err, is_digit(c) || c == '.' ? 505 : 400,
				  is_digit(c) || c == '.'
				      ? "only HTTP/1.0 and HTTP/1.1 are supported"
				      : "malformed HTTP version",
				  OSH_EPARSE);
		else if (i == 7 && c != '0' && c != '1')
			rc = fail(err, is_digit(c) ? 505 : 400,
				  is_digit(c) ? "only HTTP/1.0 and HTTP/1.1 are supported"
					      : "malformed HTTP version",
				  OSH_EPARSE);
	}
	return rc;
}

int osh_http_parse_head(const char *buf, size_t len, struct osh_http_req *req,
			struct osh_http_err *err)
{
	enum st st = ST_METHOD;
	size_t mark = 0; /* start of the current token */
	size_t lim = len < OSH_HTTP_HEAD_MAX ? len : OSH_HTTP_HEAD_MAX;
	struct osh_http_hdr *h = NULL;
	int rc = 0;
	size_t i;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	req->host_idx = -1;
	err->status = 0;
	err->reason = NULL;
	for (i = 0; i < lim && rc == 0; i++) {
		unsigned char c = (unsigned char)buf[i];

		switch (st) {
		case ST_METHOD:
			if (c == ' ' && i > 0) {
				req->method = buf;
				req->method_len = i;
				mark = i + 1;
				st = ST_TARGET;
			} else if (!is_tchar(c)) {
				rc = fail(err, 400,
					  i == 0 ? "not an HTTP request (bad first byte)"
						 : "invalid character in the request method",
					  OSH_EPARSE);
			} else if (i >= OSH_HTTP_METHOD_MAX) {
				rc = fail(err, 400, "request method too long", OSH_EPARSE);
			}
			break;
		case ST_TARGET:
			if (c == ' ' && i > mark) {
				req->target = buf + mark;
				req->target_len = i - mark;
				mark = i + 1;
				st = ST_VERSION;
			} else if (c <= 0x20 || c >= 0x7f) {
				rc = fail(err, 400,
					  c == ' ' ? "empty request target or double space"
						   : "invalid character in the request target",
					  OSH_EPARSE);
			}
			break;
		case ST_VERSION:
			if (i - mark < 8) {
				rc = check_version(buf + mark, i - mark + 1, err);
			} else if (c == '\r') {
				req->minor = buf[mark + 7] - '0';
				st = ST_RL_LF;
			} else {
				rc = fail(err, 400,
					  "request line does not end in CRLF after the version",
					  OSH_EPARSE);
			}
			break;
		case ST_RL_LF:
		case ST_HDR_LF:
			if (c != '\n')
				rc = fail(err, 400, "CR not followed by LF", OSH_EPARSE);
			else
				st = ST_LINE;
			break;
		case ST_LINE:
			if (c == '\r') {
				st = ST_END_LF;
			} else if (c == ' ' || c == '\t') {
				rc = fail(err, 400, "header line folding (obs-fold) is not allowed",
					  OSH_EPARSE);
			} else if (!is_tchar(c)) {
				rc = fail(err, 400,
					  c == '\n' ? "bare LF line ending"
						    : "invalid character in a header name",
					  OSH_EPARSE);
			} else if (req->n_hdr == OSH_HTTP_HEADERS_MAX) {
				rc = fail(err, 431, "too many header lines", OSH_ETOOBIG);
			} else {
				h = &req->hdr[req->n_hdr++];
				h->name = buf + i;
				st = ST_NAME;
			}
			break;
		case ST_NAME:
			if (c == ':') {
				h->name_len = (size_t)(buf + i - h->name);
				h->value = buf + i + 1;
				st = ST_VALUE;
			} else if (c == ' ' || c == '\t') {
				rc =
				    fail(err, 400, "whitespace between a header name and its colon",
					 OSH_EPARSE);
			} else if (!is_tchar(c)) {
				rc = fail(err, 400,
					  c == '\r' || c == '\n'
					      ? "header line without a colon"
					      : "invalid character in a header name",
					  OSH_EPARSE);
			}
			break;
		case ST_VALUE:
			if (c == '\r') {
				h->value_len = (size_t)(buf + i - h->value);
				trim_ows(&h->value, &h->value_len);
				st = ST_HDR_LF;
			} else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
				rc = fail(err, 400,
					  c == '\n' ? "bare LF line ending"
						    : "control character in a header value",
					  OSH_EPARSE);
			}
			break;
		case ST_END_LF:
			if (c != '\n') {
				rc = fail(err, 400, "CR not followed by LF", OSH_EPARSE);
			} else {
				req->head_len = i + 1;
				rc = check_framing(req, err);
			}
			break;
		}
	}
	if (rc == 0 && lim == OSH_HTTP_HEAD_MAX)
		rc = fail(err, 431, "request head larger than 8192 bytes", OSH_ETOOBIG);
	return rc;
}

int osh_http_find(const struct osh_http_req *req, const char *name)
{
	int idx = -1;

	for (size_t i = 0; i < req->n_hdr && idx < 0; i++)
		if (name_is(&req->hdr[i], name))
			idx = (int)i;
	return idx;
}

bool osh_http_method_is(const struct osh_http_req *req, const char *m)
{
	size_t n = strlen(m);

	return req->method_len == n && memcmp(req->method, m, n) == 0;
}

/* ------------------------------------------------------------ targets */

static bool is_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '_' || c == '.';
}

/* "[v6]" at the start of s[0..len): host filled, *hlen = bytes consumed
 * (brackets included). Returns NULL or why it is refused. */
static const char *parse_v6(const char *s, size_t len, struct osh_http_target *out, size_t *used)
{
	const char *close = memchr(s, ']', len);
	size_t hlen = close ? (size_t)(close - s - 1) : 0;
	const char *why = NULL;
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a6;

	if (!close || hlen == 0 || hlen >= sizeof(tmp)) {
		why = "malformed IPv6 literal";
	} else {
		memcpy(tmp, s + 1, hlen);
		tmp[hlen] = '\0';
		/* inet_pton stops at a NUL: only hex digits, ':' and '.' may come */
		if (strspn(tmp, "0123456789abcdefABCDEF:.") != hlen ||
		    inet_pton(AF_INET6, tmp, &a6) != 1)
			why = "malformed IPv6 literal";
	}
	if (!why) {
		/* canonical lower-case form */
		for (size_t i = 0; i <= hlen; i++)
			out->host[i] =
			    (char)((tmp[i] >= 'A' && tmp[i] <= 'Z') ? tmp[i] + 32 : tmp[i]);
		out->is_ip = out->is_ipv6 = true;
		*used = hlen + 2;
	}
	return why;
}

/* A DNS name or IPv4 literal up to the first ':' of s[0..len). */
static const char *parse_name(const char *s, size_t len, struct osh_http_target *out, size_t *used)
{
	const char *colon = memchr(s, ':', len);
	size_t hlen = colon ? (size_t)(colon - s) : len;
	const char *why = NULL;
	bool only_num = true;
	size_t label = 0;
	struct in_addr a4;

	if (hlen == 0 || hlen > OSH_HTTP_HOST_MAX)
		why = hlen == 0 ? "empty host" : "host name longer than 253 bytes";
	for (size_t i = 0; i < hlen && !why; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_host_char(c))
			why = c == '@' ? "userinfo in the target is not allowed"
				       : "invalid character in the host";
		else if (c == '.' && label == 0)
			why = "empty label in the host";
		else if (c != '.' && ++label > 63)
			why = "host label longer than 63 bytes";
		if (c == '.')
			label = 0;
		if (!is_digit(c) && c != '.')
			only_num = false;
		out->host[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	if (!why && label == 0)
		why = "empty label in the host";
	if (!why) {
		out->host[hlen] = '\0';
		if (only_num && inet_pton(AF_INET, out->host, &a4) != 1)
			why = "invalid IPv4 address";
		out->is_ip = only_num;
		*used = hlen;
	}
	return why;
}

/* ":port" (all of p[0..rest)), 1..65535 in decimal. */
static const char *parse_port(const char *p, size_t rest, uint16_t *port)
{
	const char *why = NULL;
	unsigned v = 0;

	if (*p != ':' || rest < 2 || rest > 6)
		why = *p != ':' ? "unexpected bytes after the host" : "invalid port";
	for (size_t i = 1; i < rest && !why; i++) {
		if (!is_digit((unsigned char)p[i]))
			why = "invalid port";
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (!why && (v == 0 || v > 65535))
		why = "port out of range 1..65535";
	if (!why)
		*port = (uint16_t)v;
	return why;
}

/* host (name or IPv4, or [IPv6]) [":" port]; with port_required the port
 * must be there, else def_port is used when it is absent. */
static int parse_hostport(const char *s, size_t len, bool port_required, uint16_t def_port,
			  struct osh_http_target *out, const char **reason)
{
	const char *why = NULL;
	size_t used = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		why = "empty host";
	else if (s[0] == '[')
		why = parse_v6(s, len, out, &used);
	else
		why = parse_name(s, len, out, &used);
	if (!why && used == len) {
		if (port_required)
			why = "missing port";
		out->port = def_port;
	} else if (!why) {
		why = parse_port(s + used, len - used, &out->port);
	}
	if (why)
		*reason = why;
	return why ? OSH_EPARSE : 0;
}

int osh_http_parse_connect_target(const char *s, size_t len, struct osh_http_target *out,
				  const char **reason)
{
	return parse_hostport(s, len, true, 0, out, reason);
}

int osh_http_parse_absolute(const char *s, size_t len, struct osh_http_target *out,
			    const char **path, size_t *path_len, const char **reason)
{
	static const char root[] = "/";
	const char *auth, *end;
	size_t alen;

	if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
		*reason = "use CONNECT for https URLs";
		return OSH_EPARSE;
	}
	if (len < 7 || strncasecmp(s, "http://", 7) != 0) {
		*reason = len > 0 && s[0] == '/'
			      ? "origin-form target: a proxy request needs an absolute http:// URL"
			      : "unsupported URL scheme (only http:// is proxied)";
		return OSH_EPARSE;
	}
	if (memchr(s, '#', len)) {
		*reason = "fragment in the request target";
		return OSH_EPARSE;
	}
	auth = s + 7;
	end = s + len;
	alen = 0;
	while (auth + alen < end && auth[alen] != '/' && auth[alen] != '?')
		alen++;
	if (auth + alen < end && auth[alen] == '?') {
		*reason = "URL with a query but no path";
		return OSH_EPARSE;
	}
	if (parse_hostport(auth, alen, false, 80, out, reason) != 0)
		return OSH_EPARSE;
	if (auth + alen == end) {
		*path = root;
		*path_len = 1;
	} else {
		*path = auth + alen;
		*path_len = (size_t)(end - *path);
	}
	return 0;
}
