/* infer_request_fuzz.c - libFuzzer target for what inference.local reads
 * from a sandboxed agent (src/supervisor/l7/l7_infer.c): the request framing
 * on top of the proxy's head parser (Content-Length / chunked bodies,
 * absolute-form reduction, keep-alive), the streaming chunked decoder it
 * shares with upstream answers, the pattern table and the JSON model
 * rewrite.
 *
 * DESIGN: the whole input is the bytes of the tunnel as they arrived.
 * Oracles, besides ASan/UBSan:
 *   - rc is 1, 0, OSH_EPARSE, OSH_ETOOBIG or OSH_ENOMEM; a refusal carries
 *     400/413/431/500/501/505 and a reason;
 *   - complete: consumed <= size, the path lies in the input (or is the
 *     static "/" of a URL without one) and starts with '/', a Content-Length body is exactly the
 * bytes after the head, and framing only the first `consumed` bytes gives the same request (bytes
 *     after a request never change it);
 *   - the chunked decoder fed in two pieces (split at a point the input
 *     picks) gives the same data, consumption and verdict as fed whole;
 *   - a rewritten model body parses as JSON again with the new model.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "l7_infer.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

struct acc {
	char d[4096];
	size_t n;
};

static bool put(void *arg, const char *p, size_t n)
{
	struct acc *a = arg;

	CHECK(a->n + n <= sizeof(a->d));
	memcpy(a->d + a->n, p, n);
	a->n += n;
	return true;
}

static void chunked_split(const char *buf, size_t size)
{
	struct osh_l7_chunk_dec d1 = {0}, d2 = {0};
	struct acc *a1 = calloc(1, sizeof(*a1)), *a2 = calloc(1, sizeof(*a2));
	const char *w1 = NULL, *w2 = NULL;
	size_t cut = size ? (unsigned char)buf[0] % (size + 1) : 0;
	ssize_t r1, r2a, r2b = 0;

	if (size > sizeof(a1->d)) {
		free(a1);
		free(a2);
		return;
	}
	r1 = osh_l7_chunk_dec_feed(&d1, buf, size, put, a1, &w1);
	r2a = osh_l7_chunk_dec_feed(&d2, buf, cut, put, a2, &w2);
	if (r2a == (ssize_t)cut && !d2.done)
		r2b = osh_l7_chunk_dec_feed(&d2, buf + cut, size - cut, put, a2, &w2);
	CHECK(r1 >= -1 && (size_t)(r1 < 0 ? 0 : r1) <= size);
	if (r1 < 0) {
		CHECK(w1 != NULL);
		CHECK(r2a < 0 || r2b < 0);
	} else {
		CHECK(r2a >= 0 && r2b >= 0);
		CHECK((size_t)r2a + (size_t)r2b == (size_t)r1);
		CHECK(d1.done == d2.done);
	}
	if (r1 >= 0) {
		CHECK(a1->n == a2->n);
		CHECK(memcmp(a1->d, a2->d, a1->n) == 0);
		CHECK(a1->n == d1.total);
	}
	free(a1);
	free(a2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct osh_l7_infer_req rq = {0}, rq2 = {0};
	const char *why = NULL;
	int st = 0, rc;

	chunked_split(buf, size);
	rc = osh_l7_infer_parse_request(buf, size, &rq, &st, &why);
	CHECK(rc == 1 || rc == 0 || rc == OSH_EPARSE || rc == OSH_ETOOBIG || rc == OSH_ENOMEM);
	if (rc < 0) {
		CHECK(why != NULL);
		CHECK(st == 400 || st == 413 || st == 431 || st == 500 || st == 501 || st == 505);
	}
	if (rc == 1) {
		unsigned proto;

		CHECK(rq.consumed <= size && rq.consumed >= rq.head.head_len);
		CHECK((rq.path >= buf && rq.path + rq.path_len <= buf + size) ||
		      (rq.path_len == 1 && rq.path[0] == '/')); /* "http://h" -> "/" */
		CHECK(rq.path_len > 0 && rq.path[0] == '/');
		CHECK(rq.body_len <= OSH_L7_INFER_BODY_MAX);
		if (rq.head.content_length >= 0) {
			CHECK(rq.body_len == (size_t)rq.head.content_length);
			CHECK(rq.body_len == 0 ||
			      memcmp(rq.body, buf + rq.head.head_len, rq.body_len) == 0);
		}
		CHECK(osh_l7_infer_parse_request(buf, rq.consumed, &rq2, &st, &why) == 1);
		CHECK(rq2.consumed == rq.consumed && rq2.body_len == rq.body_len);
		CHECK(rq.body_len == 0 || memcmp(rq.body, rq2.body, rq.body_len) == 0);
		proto =
		    osh_l7_infer_classify(rq.head.method, rq.head.method_len, rq.path, rq.path_len);
		CHECK(proto == 0 || strcmp(osh_l7_infer_proto_name(proto), "-") != 0);
		if (rq.body_len) {
			char *out = NULL;
			size_t n = 0;
			int w = osh_l7_infer_rewrite_model(rq.body, rq.body_len, "fuzz-model", &out,
							   &n);

			CHECK(w == 0 || w == 1 || w == OSH_ENOMEM);
			if (w == 1) {
				cJSON *j = cJSON_ParseWithLength(out, n);
				const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");

				CHECK(j && cJSON_IsString(m) &&
				      strcmp(cJSON_GetStringValue(m), "fuzz-model") == 0);
				cJSON_Delete(j);
			}
			free(out);
		}
	}
	osh_l7_infer_req_fini(&rq);
	osh_l7_infer_req_fini(&rq2);
	return 0;
}
