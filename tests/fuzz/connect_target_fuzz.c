/* connect_target_fuzz.c - libFuzzer target for the proxy's target parsers
 * (src/supervisor/proxy/proxy_http.c: CONNECT authority-form and
 * absolute-form URLs) and the allowed_ips CIDR parser (proxy_ssrf.c): the
 * strings that decide where the proxy connects.
 *
 * DESIGN: byte 0 picks the parser, the rest is the string.
 *   0 osh_http_parse_connect_target: on success the host is NUL-terminated,
 *     at most 253 bytes, lower case, made of [a-z0-9._-] (or an IPv6 literal
 *     that inet_pton accepts), the port 1..65535, and printing it back as
 *     host:port / [host]:port parses to the same target (round trip); the
 *     input must then contain exactly one ':' outside brackets and no '@',
 *     '/', space or control byte (independent oracle).
 *   1 osh_http_parse_absolute: on success the path starts with '/' and lies
 *     inside the input (or is the static "/"), the input starts with
 *     "http://" (any case) and has no '#' and no '@' in the authority.
 *   2 osh_proxy_cidr_parse: on success family 4 or 6, prefix <= 32 / 128,
 *     no host bit set beyond the prefix.
 * Any refusal must carry a reason.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy_http.h"
#include "proxy_ssrf.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static void connect_target(const char *s, size_t n)
{
	struct osh_http_target t, t2;
	const char *why = NULL;
	char back[300];
	int len;

	if (osh_http_parse_connect_target(s, n, &t, &why) != 0) {
		CHECK(why && why[0]);
		return;
	}
	CHECK(strlen(t.host) <= OSH_HTTP_HOST_MAX && t.port >= 1);
	for (const char *c = t.host; *c; c++)
		CHECK(!(*c >= 'A' && *c <= 'Z'));
	if (t.is_ipv6) {
		struct in6_addr a;

		CHECK(inet_pton(AF_INET6, t.host, &a) == 1);
	} else {
		for (const char *c = t.host; *c; c++)
			CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
			      *c == '_' || *c == '.');
		CHECK(memchr(s, ':', n) && memchr(s, ':', n) == memrchr(s, ':', n));
	}
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f && s[i] != '@' &&
		      s[i] != '/');
	len = snprintf(back, sizeof(back), t.is_ipv6 ? "[%s]:%u" : "%s:%u", t.host, t.port);
	CHECK(len > 0 && (size_t)len < sizeof(back));
	CHECK(osh_http_parse_connect_target(back, (size_t)len, &t2, &why) == 0);
	CHECK(strcmp(t.host, t2.host) == 0 && t.port == t2.port && t.is_ip == t2.is_ip &&
	      t.is_ipv6 == t2.is_ipv6);
}

static void absolute(const char *s, size_t n)
{
	struct osh_http_target t;
	const char *why = NULL, *path = NULL;
	size_t plen = 0;

	if (osh_http_parse_absolute(s, n, &t, &path, &plen, &why) != 0) {
		CHECK(why && why[0]);
		return;
	}
	CHECK(n >= 7 && strncasecmp(s, "http://", 7) == 0);
	CHECK(!memchr(s, '#', n));
	CHECK(plen >= 1 && path[0] == '/');
	CHECK((path >= s && path + plen <= s + n) || (plen == 1 && strcmp(path, "/") == 0));
	CHECK(t.port >= 1);
}

static void cidr(const char *s)
{
	struct osh_cidr c;
	unsigned max;

	if (osh_proxy_cidr_parse(s, &c) != 0)
		return;
	CHECK(c.family == AF_INET || c.family == AF_INET6);
	max = c.family == AF_INET ? 32 : 128;
	CHECK(c.prefix <= max);
	for (unsigned b = c.prefix; b < max; b++)
		CHECK(!(c.addr[b / 8] & (0x80u >> (b % 8))));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size); /* exact size: ASan sees any read past the end */
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0:
		connect_target(s, size - 1);
		break;
	case 1:
		absolute(s, size - 1);
		break;
	default:
		cidr(s);
		break;
	}
	free(s);
	return 0;
}
