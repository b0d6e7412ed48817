/* proxy_http.h - strict HTTP/1.1 request-head, CONNECT-target and
 * absolute-URI parsers shared by the proxy's CONNECT and forward paths.
 *
 * DESIGN
 * Every byte here comes from the sandboxed agent, so the parsers are written
 * to refuse rather than guess (RFC 9110/9112):
 *   - the head must be ASCII lines ending in CRLF (a bare LF, NUL or any
 *     other control byte is refused), no leading empty line;
 *   - request line: `token SP request-target SP HTTP/1.x CRLF`, exactly one
 *     space between parts; other versions get 505;
 *   - header line: `token ":" OWS value OWS CRLF`; whitespace before the
 *     colon and obs-fold (a line starting with SP/HTAB) are refused;
 *   - request smuggling guards: more than one Content-Length (even equal, or
 *     a "5, 5" list), a non-decimal one, Content-Length together with
 *     Transfer-Encoding, or a Transfer-Encoding whose last coding is not
 *     `chunked`: all refused; so is a second Host header or an HTTP/1.1
 *     request without one;
 *   - bounds: the head fits OSH_HTTP_HEAD_MAX bytes and OSH_HTTP_HEADERS_MAX
 *     header lines, else 431.
 * The head parser is a single left-to-right state machine that can be run
 * on a prefix: bytes that can never start a valid request (a TLS
 * ClientHello, a stray binary protocol) are refused as soon as they arrive,
 * not after a header-read timeout. It never allocates: the parsed request
 * points into the caller's buffer.
 *
 * Ownership: every pointer in struct osh_http_req / osh_http_target points
 * into the buffer given to the parser (or into the struct itself for the
 * lower-cased host); it is valid while that buffer is unchanged. All
 * functions are pure and thread-safe.
 */
#ifndef OSH_PROXY_HTTP_H
#define OSH_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

#define OSH_HTTP_HEAD_MAX    8192u /* request line + headers + final CRLF */
#define OSH_HTTP_HEADERS_MAX 64u   /* header lines per request */
#define OSH_HTTP_METHOD_MAX  32u   /* bytes of a method token */
#define OSH_HTTP_HOST_MAX    253u  /* bytes of a host name (RFC 1035) */

struct osh_http_hdr {
	const char *name; /* not NUL-terminated; name_len bytes */
	size_t name_len;
	const char *value; /* OWS trimmed; may be empty */
	size_t value_len;
};

struct osh_http_req {
	const char *method; /* token, method_len bytes (case-sensitive) */
	size_t method_len;
	const char *target; /* request-target, target_len bytes */
	size_t target_len;
	int minor; /* HTTP/1.<minor>: 0 or 1 */
	struct osh_http_hdr hdr[OSH_HTTP_HEADERS_MAX];
	size_t n_hdr;
	size_t head_len;	/* bytes of the head including the final CRLF CRLF */
	int64_t content_length; /* -1 when absent */
	bool chunked;		/* Transfer-Encoding ends in chunked */
	int host_idx;		/* index of the Host header in hdr, -1 when absent */
};

/* Parse result. status is the HTTP status the proxy answers with (400, 431,
 * 501, 505) and reason a static sentence naming what was wrong, e.g.
 * "header line folding (obs-fold) is not allowed". */
struct osh_http_err {
	int status;
	const char *reason;
};

/* Parses the request head at the start of buf[0..len).
 * Returns 1 when a complete, valid head was parsed (req filled,
 * req->head_len bytes consumed; bytes after it belong to the body or the
 * tunnel), 0 when the bytes so far are a valid prefix and more are needed
 * (len < OSH_HTTP_HEAD_MAX), or OSH_EPARSE / OSH_ETOOBIG with *err filled.
 * Never reads past buf[len-1]. */
OSH_MUST_CHECK int osh_http_parse_head(const char *buf, size_t len, struct osh_http_req *req,
				       struct osh_http_err *err);

/* Case-insensitive header lookup: index of the first header called `name`,
 * or -1. */
int osh_http_find(const struct osh_http_req *req, const char *name);

/* True when the method is exactly `m` (case-sensitive, as RFC 9110 says). */
bool osh_http_method_is(const struct osh_http_req *req, const char *m);

/* A parsed host:port. host is lower-cased and NUL-terminated; an IPv6
 * literal is stored without brackets. */
struct osh_http_target {
	char host[OSH_HTTP_HOST_MAX + 1];
	uint16_t port;
	bool is_ip;   /* host is an IPv4 or IPv6 literal */
	bool is_ipv6; /* host is an IPv6 literal ("[...]" in the request) */
};

/* Parses a CONNECT authority-form target (RFC 9112 3.2.3): `host:port` or
 * `[v6]:port`. host is a DNS name (letters, digits, '-', '_', '.', labels
 * of 1..63 bytes, at most 253 bytes) or an IPv4 literal; the port is
 * 1..65535 in decimal, required. Userinfo, paths, scopes and empty parts are
 * refused. Returns 0, or OSH_EPARSE with *reason a static sentence. */
OSH_MUST_CHECK int osh_http_parse_connect_target(const char *s, size_t len,
						 struct osh_http_target *out, const char **reason);

/* Parses an absolute-form target `http:` + `//authority[/path][?query]` (RFC
 * 9112 3.2.2). The scheme is matched case-insensitively; `https` is refused
 * with "use CONNECT for https URLs" and other schemes as unsupported. The
 * authority is host[:port] as above (port defaults to 80; userinfo and
 * fragments are refused). *path and *path_len point into s at the path+query
 * ("/" when the URL has none: then *path points at a static "/").
 * Returns 0 or OSH_EPARSE with *reason. */
OSH_MUST_CHECK int osh_http_parse_absolute(const char *s, size_t len, struct osh_http_target *out,
					   const char **path, size_t *path_len,
					   const char **reason);

#endif
