/* test_l7_http.c - the chunked decoder (whole, byte by byte, with the next
 * message behind it, every malformation) and the response-head parser.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "osh_l7_http.h"

static const char body[] = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
			   "0\r\nX-Trailer: 1\r\n\r\n";

Test(l7_chunked, whole_body_then_next_message_untouched)
{
	struct osh_l7_chunked c;
	char buf[256];
	const char *why = NULL;
	ssize_t n;

	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n", body);
	osh_l7_chunked_init(&c);
	n = osh_l7_chunked_feed(&c, buf, strlen(buf), &why);
	cr_assert_eq(n, (ssize_t)strlen(body), "%zd %s", n, why ? why : "");
	cr_assert(osh_l7_chunked_done(&c));
	cr_assert_eq(c.body, 4 + 5 + 14);
}

Test(l7_chunked, byte_by_byte_is_the_same)
{
	struct osh_l7_chunked c;
	const char *why = NULL;

	osh_l7_chunked_init(&c);
	for (size_t i = 0; i < strlen(body); i++) {
		cr_assert_not(osh_l7_chunked_done(&c), "done early at %zu", i);
		cr_assert_eq(osh_l7_chunked_feed(&c, body + i, 1, &why), 1, "at %zu: %s", i,
			     why ? why : "");
	}
	cr_assert(osh_l7_chunked_done(&c));
}

static const char *bad(const char *in)
{
	struct osh_l7_chunked c;
	const char *why = NULL;

	osh_l7_chunked_init(&c);
	cr_assert_eq(osh_l7_chunked_feed(&c, in, strlen(in), &why), -1, "accepted: %s", in);
	cr_assert_not_null(why);
	return why;
}

Test(l7_chunked, malformations_are_refused)
{
	cr_assert(strstr(bad("4\nWiki\r\n"), "bare LF"));
	cr_assert(strstr(bad("zz\r\n"), "not a hex"));
	cr_assert(strstr(bad("4\r\nWikiXX"), "not followed by CRLF"));
	cr_assert(strstr(bad("1234567890abcdef0\r\n"), "15 hex digits"));
	cr_assert(strstr(bad("0\r\nA: b\n\r\n"), "bare LF"));
	cr_assert(strstr(bad("4x\r\n"), "invalid byte"));
	cr_assert(strstr(bad("0\r\n\rX"), "CRLF"));
}

Test(l7_chunked, bounds)
{
	struct osh_l7_chunked c;
	const char *why = NULL;
	char line[OSH_L7_CHUNK_LINE_MAX + 16];
	static char trail[OSH_L7_TRAILERS_MAX + 64];

	memset(line, 'x', sizeof(line));
	memcpy(line, "1;", 2);
	osh_l7_chunked_init(&c);
	cr_assert_eq(osh_l7_chunked_feed(&c, line, sizeof(line), &why), -1);
	cr_assert(strstr(why, "size line too long"));
	memset(trail, 'a', sizeof(trail));
	memcpy(trail, "0\r\n", 3);
	osh_l7_chunked_init(&c);
	cr_assert_eq(osh_l7_chunked_feed(&c, trail, sizeof(trail), &why), -1);
	cr_assert(strstr(why, "trailers too long"));
}

Test(l7_chunked, truncated_body_is_not_done)
{
	struct osh_l7_chunked c;
	const char *why = NULL;

	osh_l7_chunked_init(&c);
	cr_assert_eq(osh_l7_chunked_feed(&c, "5\r\nab", 5, &why), 5);
	cr_assert_not(osh_l7_chunked_done(&c));
	cr_assert_eq(c.remaining, 3);
}

/* ---------------------------------------------------------- response */

Test(l7_resp, status_line_framing_and_close)
{
	static const char r1[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
	static const char r2[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	static const char r3[] = "HTTP/1.0 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
	struct osh_l7_resp r;
	const char *why;

	cr_assert_eq(osh_l7_parse_response(r1, sizeof(r1) - 1, &r, &why), 1);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.content_length, 5);
	cr_assert_eq(r.head_len, sizeof(r1) - 1 - 5);
	cr_assert_not(r.close);
	cr_assert_eq(osh_l7_parse_response(r2, sizeof(r2) - 1, &r, &why), 1);
	cr_assert_eq(r.status, 204);
	cr_assert(r.close);
	cr_assert_eq(osh_l7_parse_response(r3, sizeof(r3) - 1, &r, &why), 1);
	cr_assert(r.chunked);
	cr_assert(r.close); /* HTTP/1.0 without keep-alive */
	cr_assert_eq(osh_l7_parse_response(r1, 20, &r, &why), 0);
}

static void resp_bad(const char *in, const char *frag)
{
	struct osh_l7_resp r;
	const char *why = NULL;

	cr_assert_eq(osh_l7_parse_response(in, strlen(in), &r, &why), -1, "accepted: %s", in);
	cr_assert(strstr(why, frag), "'%s' lacks '%s'", why, frag);
}

Test(l7_resp, hostile_heads_are_refused)
{
	static char huge[OSH_L7_RESP_HEAD_MAX + 11];

	resp_bad("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "both Content-Length and Transfer-Encoding");
	resp_bad("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		 "two different");
	resp_bad("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length");
	resp_bad("HTTP/1.1 2000 OK\r\n\r\n", "status line");
	resp_bad("SSH-2.0-OpenSSH\r\n", "does not start with HTTP/");
	resp_bad("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "malformed response header");
	resp_bad("HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n", "CRLF");
	resp_bad("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "does not end in chunked");
	memcpy(huge, "HTTP/1.1 200 OK\r\n", 17);
	memset(huge + 17, 'a', sizeof(huge) - 18); /* NUL-terminated */
	resp_bad(huge, "larger than 16384");
}

Test(l7_resp, tokens)
{
	cr_assert(osh_l7_has_token("keep-alive, Upgrade", 19, "upgrade"));
	cr_assert_not(osh_l7_has_token("xupgrade", 8, "upgrade"));
}
