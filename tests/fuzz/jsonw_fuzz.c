/* jsonw_fuzz.c - libFuzzer target for the OCSF JSON writer's untrusted-input
 * paths: UTF-8 repair/escaping of arbitrary string bytes and the json_t
 * syntax check that decides whether caller text is inserted raw.
 *
 * DESIGN: every string in an event can carry bytes from an attacker (a
 * CONNECT host, an SSH user name, a child's command line), so the writer's
 * invariants are asserted on arbitrary input:
 *   1. the output of ocsf_jsonw_strn() is one valid JSON string
 *      (ocsf_json_valid) and valid UTF-8 (checked here independently,
 *      RFC 3629 ranges) with no raw control bytes;
 *   2. a smaller cap never yields a truncated string: either the same bytes
 *      or OSH_ETOOBIG with no length;
 *   2b. the NUL-terminated writer agrees with the length-based one;
 *   3. text ocsf_json_valid() accepts is inserted raw by the serializer, so
 *      acceptance must imply it is well-formed; we re-check by embedding it
 *      as an array element and validating the whole document.
 *   4. numbers: the first 8 input bytes as an int64, a uint64 and a double
 *      are written exactly (integers read back with strtoll/strtoull;
 *      finite doubles read back bit-identical with strtod and carry a '.'
 *      or an exponent; NaN/Inf are `null`), each a valid JSON value.
 * Built by tests/fuzz/CMakeLists.txt (OSH_FUZZ=ON, clang) against osh_ocsf.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf_jsonw.h"
#include "osh_err.h"
#include "fuzz_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size * 6 + 16;
	char *out = malloc(cap);
	char *small = malloc(cap);
	if (!out || !small)
		abort();

	/* 1. string escaping and repair */
	struct ocsf_jsonw w;
	size_t len = 0;
	ocsf_jsonw_init(&w, out, cap);
	ocsf_jsonw_strn(&w, (const char *)data, size);
	if (ocsf_jsonw_finish(&w, &len) != 0)
		abort(); /* 6 bytes per input byte always suffice */
	if (len < 2 || out[0] != '"' || out[len - 1] != '"')
		abort();
	if (!ocsf_json_valid(out, len))
		abort();
	if (!fuzz_utf8_ok((const unsigned char *)out, len))
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			abort();

	/* 2. caps below the need fail without a length; at the need succeed */
	size_t caps[3] = {len / 2, len - 1, len};
	for (int k = 0; k < 3; k++) {
		size_t l2 = 99;
		ocsf_jsonw_init(&w, small, caps[k]);
		ocsf_jsonw_strn(&w, (const char *)data, size);
		int rc = ocsf_jsonw_finish(&w, &l2);
		if (caps[k] < len && (rc != OSH_ETOOBIG || l2 != 0))
			abort();
		if (caps[k] == len && (rc != 0 || l2 != len || memcmp(small, out, len) != 0))
			abort();
	}

	/* 2b. the NUL-terminated path (aligned block scan) agrees with the
	 * length-based one on the prefix up to the first NUL */
	char *cstr = malloc(size + 1);
	if (!cstr)
		abort();
	memcpy(cstr, data, size);
	cstr[size] = '\0';
	size_t plen = strlen(cstr), l3 = 0, l4 = 0;
	ocsf_jsonw_init(&w, out, cap);
	ocsf_jsonw_str(&w, cstr);
	if (ocsf_jsonw_finish(&w, &l3) != 0)
		abort();
	ocsf_jsonw_init(&w, small, cap);
	ocsf_jsonw_strn(&w, cstr, plen);
	if (ocsf_jsonw_finish(&w, &l4) != 0 || l3 != l4 || memcmp(out, small, l3) != 0)
		abort();
	free(cstr);

	/* 3. the json_t syntax check: accepted text must embed validly */
	size_t opens = 0;
	for (size_t i = 0; i < size; i++)
		opens += data[i] == '[' || data[i] == '{';
	/* (embedding adds one level: skip texts that may sit at the limit) */
	if (opens < 64 && ocsf_json_valid((const char *)data, size)) {
		size_t n = size + 2;
		char *doc = malloc(n);
		if (!doc)
			abort();
		doc[0] = '[';
		memcpy(doc + 1, data, size);
		doc[size + 1] = ']';
		if (!ocsf_json_valid(doc, n))
			abort();
		/* valid JSON is valid UTF-8 */
		if (!fuzz_utf8_ok(data, size))
			abort();
		free(doc);
	}
	/* 4. numbers */
	if (size >= 8) {
		char num[64], *end = NULL;
		int64_t iv;
		uint64_t uv;
		double dv;
		size_t nl = 0;

		memcpy(&iv, data, 8);
		memcpy(&uv, data, 8);
		memcpy(&dv, data, 8);
		ocsf_jsonw_init(&w, num, sizeof(num) - 1);
		ocsf_jsonw_int(&w, iv);
		if (ocsf_jsonw_finish(&w, &nl) != 0 || !ocsf_json_valid(num, nl))
			abort();
		num[nl] = '\0';
		if (strtoll(num, &end, 10) != iv || *end != '\0')
			abort();
		ocsf_jsonw_init(&w, num, sizeof(num) - 1);
		ocsf_jsonw_uint(&w, uv);
		if (ocsf_jsonw_finish(&w, &nl) != 0 || !ocsf_json_valid(num, nl))
			abort();
		num[nl] = '\0';
		if (strtoull(num, &end, 10) != uv || *end != '\0')
			abort();
		ocsf_jsonw_init(&w, num, sizeof(num) - 1);
		ocsf_jsonw_double(&w, dv);
		if (ocsf_jsonw_finish(&w, &nl) != 0 || !ocsf_json_valid(num, nl))
			abort();
		num[nl] = '\0';
		if (!isfinite(dv)) {
			if (strcmp(num, "null") != 0)
				abort();
		} else {
			double back = strtod(num, &end);

			if (*end != '\0' || memcmp(&back, &dv, 8) != 0)
				abort(); /* not the same double (sign of zero included) */
			if (!strpbrk(num, ".eE"))
				abort(); /* would read as an integer */
		}
	}
	free(out);
	free(small);
	return 0;
}
