/* test_proxy_http.c - the strict HTTP/1.1 head parser and the CONNECT /
 * absolute-form target parsers (src/supervisor/proxy/proxy_http.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "proxy_http.h"

static int parse(const char *s, struct osh_http_req *r, struct osh_http_err *e)
{
	return osh_http_parse_head(s, strlen(s), r, e);
}

/* Expects a refusal with `status` whose reason contains `frag`. */
static void refused(const char *s, int status, const char *frag)
{
	struct osh_http_req r;
	struct osh_http_err e;
	int rc = parse(s, &r, &e);

	cr_assert(rc < 0, "accepted: %s", s);
	cr_assert_eq(e.status, status, "status %d for %s", e.status, s);
	cr_assert(strstr(e.reason, frag), "reason '%s' lacks '%s'", e.reason, frag);
}

Test(http_head, connect_complete_keeps_trailing_bytes)
{
	const char *s = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
			"User-Agent: t\r\n\r\n\x16\x03\x01";
	struct osh_http_req r;
	struct osh_http_err e;

	cr_assert_eq(parse(s, &r, &e), 1);
	cr_assert(osh_http_method_is(&r, "CONNECT"));
	cr_assert_eq(r.target_len, strlen("api.example.com:443"));
	cr_assert_eq(memcmp(r.target, "api.example.com:443", r.target_len), 0);
	cr_assert_eq(r.minor, 1);
	cr_assert_eq(r.n_hdr, 2);
	cr_assert_eq(r.head_len, strlen(s) - 3, "3 TLS bytes after the head stay unparsed");
	cr_assert_eq(r.host_idx, 0);
	cr_assert_eq(osh_http_find(&r, "user-agent"), 1);
	cr_assert_eq(r.hdr[1].value_len, 1);
	cr_assert_eq(r.content_length, -1);
}

Test(http_head, ows_trimmed_and_body_framing)
{
	struct osh_http_req r;
	struct osh_http_err e;

	cr_assert_eq(
	    parse("POST http://h/x HTTP/1.1\r\nHost: h\r\nContent-Length:  12 \t\r\n\r\n", &r, &e),
	    1);
	cr_assert_eq(r.content_length, 12);
	cr_assert_eq(parse("POST http://h/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, "
			   "chunked\r\n\r\n",
			   &r, &e),
		     1);
	cr_assert(r.chunked);
}

Test(http_head, prefixes_need_more)
{
	const char *s = "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n";
	struct osh_http_req r;
	struct osh_http_err e;

	for (size_t n = 0; n < strlen(s); n++)
		cr_assert_eq(osh_http_parse_head(s, n, &r, &e), 0, "prefix of %zu bytes", n);
	cr_assert_eq(osh_http_parse_head(s, strlen(s), &r, &e), 1);
}

Test(http_head, http10_without_host_is_fine)
{
	struct osh_http_req r;
	struct osh_http_err e;

	cr_assert_eq(parse("GET http://h/ HTTP/1.0\r\n\r\n", &r, &e), 1);
	cr_assert_eq(r.minor, 0);
}

Test(http_head, refusals_name_the_problem)
{
	refused("GET http://h/ HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold");
	refused("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: "
		"5\r\n\r\n",
		400, "duplicate Content-Length");
	refused("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400,
		"invalid Content-Length");
	refused("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400,
		"invalid Content-Length");
	refused("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
		"chunked\r\n\r\n",
		400, "smuggling");
	refused("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
		400, "must end with chunked");
	refused("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		400, "duplicate Transfer-Encoding");
	refused("POST http://h/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "HTTP/1.0");
	refused("GET http://h/ HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400, "bare LF");
	refused("GET http://h/ HTTP/1.1\r\nHost : h\r\n\r\n", 400, "and its colon");
	refused("GET http://h/ HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, "without a colon");
	refused("GET http://h/ HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400, "control character");
	refused("GET http://h/ HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n", 400, "duplicate Host");
	refused("GET http://h/ HTTP/1.1\r\n\r\n", 400, "without a Host");
	refused("GET  http://h/ HTTP/1.1\r\n\r\n", 400, "double space");
	refused("GET http://h/ HTTP/2.0\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1");
	refused("GET http://h/ HTTP/1.2\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1");
	refused("GET http://h/ HTTX/1.1\r\n\r\n", 400, "HTTP version");
	refused("GET http://h/ HTTP/1.1 \r\n\r\n", 400, "CRLF");
	refused("G@T http://h/ HTTP/1.1\r\n\r\n", 400, "method");
	refused("\r\nGET http://h/ HTTP/1.1\r\n\r\n", 400, "bad first byte");
	refused("GET http://h/ HTTP/1.1\r\nHost: h\r\n\rX", 400, "CR not followed by LF");
}

Test(http_head, non_http_bytes_refused_at_first_byte)
{
	struct osh_http_req r;
	struct osh_http_err e;
	const char tls[] = "\x16\x03\x01\x02\x00";

	cr_assert_eq(osh_http_parse_head(tls, 1, &r, &e), OSH_EPARSE);
	cr_assert_eq(e.status, 400);
	cr_assert(strstr(e.reason, "not an HTTP request"));
	cr_assert_eq(osh_http_parse_head("SSH-2.0-x\r\n", 11, &r, &e), OSH_EPARSE);
}

Test(http_head, nul_byte_refused)
{
	const char s[] = "GET http://h/ HTTP/1.1\r\nHost: h\0x\r\n\r\n";
	struct osh_http_req r;
	struct osh_http_err e;

	cr_assert_eq(osh_http_parse_head(s, sizeof(s) - 1, &r, &e), OSH_EPARSE);
	cr_assert(strstr(e.reason, "control character"));
}

Test(http_head, limits_give_431)
{
	static char big[OSH_HTTP_HEAD_MAX + 100];
	char many[4096];
	struct osh_http_req r;
	struct osh_http_err e;
	size_t n;

	n = (size_t)snprintf(big, sizeof(big), "GET http://h/ HTTP/1.1\r\nHost: h\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n);
	cr_assert_eq(osh_http_parse_head(big, sizeof(big), &r, &e), OSH_ETOOBIG);
	cr_assert_eq(e.status, 431);
	/* exactly at the limit without a terminator: also 431 */
	cr_assert_eq(osh_http_parse_head(big, OSH_HTTP_HEAD_MAX, &r, &e), OSH_ETOOBIG);
	cr_assert_eq(osh_http_parse_head(big, OSH_HTTP_HEAD_MAX - 1, &r, &e), 0);

	n = (size_t)snprintf(many, sizeof(many), "GET http://h/ HTTP/1.1\r\nHost: h\r\n");
	for (unsigned i = 0; i < OSH_HTTP_HEADERS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "X%u: v\r\n", i);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n");
	cr_assert_eq(osh_http_parse_head(many, n, &r, &e), OSH_ETOOBIG);
	cr_assert_eq(e.status, 431);
	cr_assert(strstr(e.reason, "too many header"));
}

Test(http_head, method_too_long)
{
	char s[128];

	memset(s, 'A', 40);
	snprintf(s + 40, sizeof(s) - 40, " / HTTP/1.1\r\n\r\n");
	refused(s, 400, "too long");
}

/* ------------------------------------------------------------ targets */

static void target_ok(const char *s, const char *host, unsigned port, bool ip, bool v6)
{
	struct osh_http_target t;
	const char *why = NULL;

	cr_assert_eq(osh_http_parse_connect_target(s, strlen(s), &t, &why), 0, "%s: %s", s,
		     why ? why : "");
	cr_assert_str_eq(t.host, host);
	cr_assert_eq(t.port, port);
	cr_assert_eq(t.is_ip, ip);
	cr_assert_eq(t.is_ipv6, v6);
}

static void target_bad(const char *s, const char *frag)
{
	struct osh_http_target t;
	const char *why = NULL;

	cr_assert_eq(osh_http_parse_connect_target(s, strlen(s), &t, &why), OSH_EPARSE,
		     "accepted %s", s);
	cr_assert(why && strstr(why, frag), "reason '%s' lacks '%s' (%s)", why ? why : "", frag, s);
}

Test(connect_target, valid_forms)
{
	target_ok("api.example.com:443", "api.example.com", 443, false, false);
	target_ok("API.Example.COM:8443", "api.example.com", 8443, false, false);
	target_ok("10.0.0.1:80", "10.0.0.1", 80, true, false);
	target_ok("[::1]:8443", "::1", 8443, true, true);
	target_ok("[2001:DB8::1]:1", "2001:db8::1", 1, true, true);
	target_ok("my_host-1:65535", "my_host-1", 65535, false, false);
}

Test(connect_target, invalid_forms)
{
	target_bad("example.com", "missing port");
	target_bad("example.com:", "invalid port");
	target_bad("example.com:0", "out of range");
	target_bad("example.com:65536", "out of range");
	target_bad("example.com:123456", "invalid port");
	target_bad("example.com:8a", "invalid port");
	target_bad("example.com:443/x", "invalid port");
	target_bad("user@example.com:443", "userinfo");
	target_bad("[::1]", "missing port");
	target_bad("[::1]x:1", "unexpected bytes");
	target_bad("[zz::1]:443", "IPv6");
	target_bad("[fe80::1%eth0]:443", "IPv6");
	target_bad("[]:443", "IPv6");
	/* found by connect_target_fuzz: inet_pton stopped at the NUL */
	{
		static const char nul[] = "[001:db8::\0001\033]:8443";
		struct osh_http_target t;
		const char *why = NULL;

		cr_assert_eq(osh_http_parse_connect_target(nul, sizeof(nul) - 1, &t, &why),
			     OSH_EPARSE);
		cr_assert(strstr(why, "IPv6"), "%s", why);
	}
	target_bad("::1:443", "empty host");
	target_bad(":443", "empty host");
	target_bad("a..b:443", "empty label");
	target_bad(".a:443", "empty label");
	target_bad("a.:443", "empty label");
	target_bad("999.1.1.1:80", "IPv4");
	target_bad("127.1:80", "IPv4");
	target_bad("ex ample.com:443", "invalid character");
	target_bad("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com:1",
		   "63 bytes");
	target_bad("", "empty host");
}

Test(absolute_target, valid_and_invalid)
{
	struct osh_http_target t;
	const char *path = NULL, *why = NULL;
	size_t plen = 0;
	const char *u1 = "http://Example.com/a/b?c=d";
	const char *u2 = "http://h:8080";
	const char *u3 = "HTTP://[::1]:81/x";

	cr_assert_eq(osh_http_parse_absolute(u1, strlen(u1), &t, &path, &plen, &why), 0);
	cr_assert_str_eq(t.host, "example.com");
	cr_assert_eq(t.port, 80);
	cr_assert_eq(plen, 8);
	cr_assert_eq(memcmp(path, "/a/b?c=d", plen), 0);
	cr_assert_eq(osh_http_parse_absolute(u2, strlen(u2), &t, &path, &plen, &why), 0);
	cr_assert_eq(t.port, 8080);
	cr_assert_eq(plen, 1);
	cr_assert_eq(path[0], '/');
	cr_assert_eq(osh_http_parse_absolute(u3, strlen(u3), &t, &path, &plen, &why), 0);
	cr_assert(t.is_ipv6);
	cr_assert_eq(t.port, 81);

	{
		static const char *const bad[][2] = {
		    {"https://h/", "use CONNECT"},
		    {"/index.html", "origin-form"},
		    {"ftp://h/", "unsupported URL scheme"},
		    {"http://u@h/", "userinfo"},
		    {"http://h/#frag", "fragment"},
		    {"http://h?q", "query but no path"},
		    {"http:///x", "empty host"},
		    {"http://h:0/", "out of range"},
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			cr_assert_eq(osh_http_parse_absolute(bad[i][0], strlen(bad[i][0]), &t,
							     &path, &plen, &why),
				     OSH_EPARSE, "accepted %s", bad[i][0]);
			cr_assert(strstr(why, bad[i][1]), "%s: '%s'", bad[i][0], why);
		}
	}
}
