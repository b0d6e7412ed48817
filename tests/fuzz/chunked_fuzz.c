/* chunked_fuzz.c - libFuzzer target for the L7 relay's chunked-body decoder
 * and response-head parser (src/supervisor/l7/l7_http.c), which see bytes
 * from sandboxed agents and from origins they chose.
 *
 * DESIGN: the first input byte selects the parser, the rest is its input.
 * Oracles besides ASan/UBSan:
 *   chunked: the consumed count is -1 (with a reason) or <= n; once done,
 *     the decoder consumed exactly up to the final CRLF; feeding the same
 *     bytes one at a time gives the same verdict, count and data length (no
 *     split can change the framing); data bytes never exceed the input;
 *   response: rc is 1/0/-1; a complete head ends in CRLF CRLF within the
 *     input and the 16 KiB bound, the status is 100..999, Content-Length and
 *     chunked never both; a refusal names a reason; an incomplete prefix is
 *     shorter than the bound.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_l7_http.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static void chunked(const char *buf, size_t n)
{
	struct osh_l7_chunked a, b;
	const char *why = NULL, *why2 = NULL;
	ssize_t used = 0, used2 = 0;

	osh_l7_chunked_init(&a);
	used = osh_l7_chunked_feed(&a, buf, n, &why);
	CHECK(used == -1 || (used >= 0 && (size_t)used <= n));
	CHECK((used == -1) == (why != NULL));
	if (used >= 0 && !osh_l7_chunked_done(&a))
		CHECK((size_t)used == n);
	if (osh_l7_chunked_done(&a))
		CHECK(used >= 5 && memcmp(buf + used - 2, "\r\n", 2) == 0);
	CHECK(a.body <= n);
	osh_l7_chunked_init(&b);
	for (size_t i = 0; i < n && !osh_l7_chunked_done(&b); i++) {
		ssize_t k = osh_l7_chunked_feed(&b, buf + i, 1, &why2);

		if (k < 0) {
			used2 = -1;
			break;
		}
		CHECK(k == 1);
		used2++;
	}
	CHECK((used == -1) == (used2 == -1));
	if (used >= 0) {
		CHECK(used == used2);
		CHECK(a.body == b.body);
		CHECK(osh_l7_chunked_done(&a) == osh_l7_chunked_done(&b));
	}
}

static void response(const char *buf, size_t n)
{
	struct osh_l7_resp r;
	const char *why = NULL;
	int rc = osh_l7_parse_response(buf, n, &r, &why);

	CHECK(rc == 1 || rc == 0 || rc == -1);
	if (rc == -1)
		CHECK(why && why[0]);
	if (rc == 0)
		CHECK(n < OSH_L7_RESP_HEAD_MAX);
	if (rc == 1) {
		CHECK(r.head_len <= n && r.head_len <= OSH_L7_RESP_HEAD_MAX && r.head_len >= 4);
		CHECK(memcmp(buf + r.head_len - 4, "\r\n\r\n", 4) == 0);
		CHECK(r.status >= 100 && r.status <= 999);
		CHECK(!(r.chunked && r.content_length >= 0));
		CHECK(r.minor == 0 || r.minor == 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		response((const char *)data + 1, size - 1);
	else
		chunked((const char *)data + 1, size - 1);
	return 0;
}
