/* convert_fuzz.c - libFuzzer target for the down-version converter
 * (src/ocsf/ocsf_convert.h), whose input is JSON from the wire.
 *
 * DESIGN: the first input byte picks the target version (mod 4), the rest is
 * the event text. Invariants asserted on every input:
 *   1. success: *out is NUL-terminated, *out_len its length, one valid JSON
 *      value (ocsf_json_valid) of valid UTF-8 without raw control bytes;
 *      for a target below 1.7.0 it names the target in metadata.version;
 *   2. failure: *out is NULL, *out_len 0, the reason is NUL-terminated and
 *      not empty, the code is one the header documents;
 *   3. deterministic: a second conversion gives the same result and bytes;
 *   4. a converted event is no longer a 1.7.0 event: converting it again to
 *      an older target is refused as not 1.7.0 (OSH_EPARSE).
 * Built by tests/fuzz/CMakeLists.txt (OSH_FUZZ=ON, clang) against osh_ocsf.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_utf8.h"
#include "ocsf_convert.h"
#include "ocsf_jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ocsf_version v;
	const char *json;
	size_t len;
	char *out = NULL, *out2 = NULL, *out3 = NULL;
	size_t out_len = 7, out2_len = 0, out3_len = 0;
	char reason[256], reason2[256];
	int rc, rc2;

	if (size < 1)
		return 0;
	v = (enum ocsf_version)(data[0] % OCSF_VERSION_COUNT);
	json = (const char *)data + 1;
	len = size - 1;
	rc = ocsf_convert_json(json, len, v, &out, &out_len, reason, sizeof(reason));
	rc2 = ocsf_convert_json(json, len, v, &out2, &out2_len, reason2, sizeof(reason2));
	if (rc != rc2)
		abort();
	if (rc == 0) {
		char want[32];

		if (out == NULL || out[out_len] != 0 || strlen(out) != out_len)
			abort();
		if (out2_len != out_len || memcmp(out, out2, out_len) != 0)
			abort();
		if (v != OCSF_VERSION_1_7_0) {
			if (!ocsf_json_valid(out, out_len) || !fuzz_utf8_ok(out, out_len))
				abort();
			for (size_t i = 0; i < out_len; i++)
				if ((unsigned char)out[i] < 0x20)
					abort();
			snprintf(want, sizeof(want), "\"version\":\"%s\"", ocsf_version_name(v));
			if (strstr(out, want) == NULL)
				abort();
			if (ocsf_convert_json(out, out_len, OCSF_VERSION_1_1_0, &out3, &out3_len,
					      NULL, 0) != OSH_EPARSE ||
			    out3 != NULL)
				abort();
		}
	} else {
		if (out != NULL || out_len != 0 || reason[0] == 0 ||
		    strlen(reason) >= sizeof(reason))
			abort();
		if (rc != OSH_EINVAL && rc != OSH_EPARSE && rc != OSH_EDEPTH && rc != OSH_ETOOBIG &&
		    rc != OSH_ENOMEM)
			abort();
		if (strcmp(reason, reason2) != 0)
			abort();
	}
	free(out);
	free(out2);
	free(out3);
	return 0;
}
