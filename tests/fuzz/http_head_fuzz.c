/* http_head_fuzz.c - libFuzzer target for the proxy's strict HTTP/1.1
 * request-head parser (src/supervisor/proxy/proxy_http.c), the first code
 * every byte from a sandboxed agent reaches.
 *
 * DESIGN: the whole input is one head as it arrived. Besides ASan/UBSan
 * (no read past len, no overflow), the target checks the parser's
 * contract with oracles written here:
 *   - rc is 1 (complete), 0 (valid prefix), OSH_EPARSE or OSH_ETOOBIG;
 *     a refusal carries status 400/431/505 and a reason;
 *   - complete: head_len <= len and <= 8192, the head ends in CRLF CRLF and
 *     holds no other empty line; method/target/header pointers lie inside
 *     the head; the method is all tchar, the target all VCHAR; values hold
 *     no CR, LF, NUL; at most one Content-Length (digits only), never with
 *     Transfer-Encoding; parsing exactly head_len bytes gives the same head;
 *   - valid prefix: shorter than 8192 bytes, no CRLF CRLF in it, and every
 *     shorter prefix is also a valid prefix (so a refusal can never turn
 *     into acceptance by waiting for more bytes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy_http.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static int tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && p + n <= base + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct osh_http_req r, r2;
	struct osh_http_err e;
	int rc = osh_http_parse_head(buf, size, &r, &e);

	CHECK(rc == 1 || rc == 0 || rc == OSH_EPARSE || rc == OSH_ETOOBIG);
	if (rc < 0) {
		CHECK(e.status == 400 || e.status == 431 || e.status == 505);
		CHECK(e.reason && e.reason[0]);
		CHECK((rc == OSH_ETOOBIG) == (e.status == 431));
		return 0;
	}
	if (rc == 0) {
		CHECK(size < OSH_HTTP_HEAD_MAX);
		for (size_t i = 0; i + 3 < size; i++)
			CHECK(memcmp(buf + i, "\r\n\r\n", 4) != 0);
		CHECK(osh_http_parse_head(buf, size / 2, &r2, &e) == 0);
		return 0;
	}
	/* complete */
	CHECK(r.head_len >= 4 && r.head_len <= size && r.head_len <= OSH_HTTP_HEAD_MAX);
	CHECK(memcmp(buf + r.head_len - 4, "\r\n\r\n", 4) == 0);
	for (size_t i = 0; i + 4 < r.head_len; i++)
		CHECK(memcmp(buf + i, "\r\n\r\n", 4) != 0);
	CHECK(r.method == buf && r.method_len > 0 && r.method_len <= OSH_HTTP_METHOD_MAX);
	for (size_t i = 0; i < r.method_len; i++)
		CHECK(tchar((unsigned char)r.method[i]));
	CHECK(inside(r.target, r.target_len, buf, r.head_len) && r.target_len > 0);
	for (size_t i = 0; i < r.target_len; i++)
		CHECK((unsigned char)r.target[i] > 0x20 && (unsigned char)r.target[i] < 0x7f);
	CHECK(r.minor == 0 || r.minor == 1);
	CHECK(r.n_hdr <= OSH_HTTP_HEADERS_MAX);
	{
		int n_cl = 0, n_te = 0, n_host = 0;

		for (size_t i = 0; i < r.n_hdr; i++) {
			const struct osh_http_hdr *h = &r.hdr[i];

			CHECK(inside(h->name, h->name_len, buf, r.head_len) && h->name_len > 0);
			CHECK(inside(h->value, h->value_len, buf, r.head_len));
			for (size_t k = 0; k < h->name_len; k++)
				CHECK(tchar((unsigned char)h->name[k]));
			for (size_t k = 0; k < h->value_len; k++)
				CHECK(h->value[k] != '\r' && h->value[k] != '\n' &&
				      h->value[k] != 0);
			if (h->name_len == 14 && strncasecmp(h->name, "content-length", 14) == 0) {
				n_cl++;
				for (size_t k = 0; k < h->value_len; k++)
					CHECK(h->value[k] >= '0' && h->value[k] <= '9');
			}
			if (h->name_len == 17 && strncasecmp(h->name, "transfer-encoding", 17) == 0)
				n_te++;
			if (h->name_len == 4 && strncasecmp(h->name, "host", 4) == 0)
				n_host++;
		}
		CHECK(n_cl <= 1 && n_te <= 1 && !(n_cl && n_te) && n_host <= 1);
		CHECK(r.minor == 0 || n_host == 1);
		CHECK((n_cl == 1) == (r.content_length >= 0));
		CHECK((n_te == 1) == r.chunked);
	}
	CHECK(osh_http_parse_head(buf, r.head_len, &r2, &e) == 1);
	CHECK(r2.head_len == r.head_len && r2.n_hdr == r.n_hdr);
	return 0;
}
