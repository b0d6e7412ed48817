/* policy_yaml_fuzz.c - libFuzzer target for the sandbox policy YAML reader
 * (osh_policy_parse_yaml + osh_policy_validate, src/supervisor/
 * osh_policy.c).
 *
 * DESIGN: a policy YAML reaches this code from a local file of the
 * supervisor and, through CreateSandbox.policy_yaml, from any gRPC client of
 * the gateway, which parses it in the daemon. So arbitrary text must give a
 * policy or an error, never a crash, a leak or unbounded work. The input is
 * passed without a terminating NUL (private heap copy of exactly `size`
 * bytes) so ASan catches reads past `len`. Invariants (abort = finding):
 *   - parse returns 0, OSH_EPARSE or OSH_ETOOBIG (over 1 MiB or 20000
 *     nodes); *out is NULL on error, non-NULL on
 *     success; err is NUL-terminated and starts with "fuzz.yaml:";
 *   - a tiny err buffer (8 bytes) gives the same verdict and writes nothing
 *     past its 8 bytes;
 *   - on success: every string in the message is valid UTF-8 (proto3
 *     requires it; other-language peers reject the message otherwise);
 *     validate returns 0 or OSH_EINVAL with a non-empty one-line reason;
 *     copy + hash agree with the original (pack/unpack is lossless); the
 *     rule count equals n_network_policies.
 * Memory is bounded by -rss_limit_mb (the ctest uses 1024 MB) and time by
 * -timeout: an alias bomb used to expand exponentially (finding 1 of
 * docs/security.md, crashes/policy_yaml_fuzz/alias_bomb_k30.yaml, kept as a
 * regression input); aliases are now refused before the document is walked. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_err.h"
#include "osh_policy.h"
#include "fuzz_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every string field of `m` (recursively) is valid UTF-8. */
static bool strings_ok(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		size_t n = 1;
		const void *const *vals = (const void *const *)(const void *)base;

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(const void *)((const char *)m + f->quantifier_offset);
			vals = *(const void *const *const *)(const void *)base;
		}
		for (size_t k = 0; k < n; k++) {
			const void *v = vals ? vals[k] : NULL;

			if (!v)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				if (!fuzz_utf8_ok(v, strlen(v)))
					return false;
			} else if (!strings_ok(v)) {
				return false;
			}
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	osh_policy_pb *p = NULL, *p2 = NULL, *c = NULL;
	char err[512], tiny[16];
	char *text = malloc(size ? size : 1);
	int rc, rc2;

	if (!text)
		abort();
	memcpy(text, data, size);
	memset(err, 'X', sizeof(err));
	rc = osh_policy_parse_yaml(text, size, "fuzz.yaml", &p, err, sizeof(err));
	if (rc != 0 && rc != OSH_EPARSE && rc != OSH_ETOOBIG)
		abort();
	if ((rc == 0) != (p != NULL))
		abort();
	if (rc != 0 &&
	    (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "fuzz.yaml:", 10) != 0))
		abort(); /* error that does not name the file */

	memset(tiny, 'G', sizeof(tiny));
	rc2 = osh_policy_parse_yaml(text, size, "fuzz.yaml", &p2, tiny, 8);
	if (rc2 != rc || (rc2 != 0 && memchr(tiny, '\0', 8) == NULL))
		abort();
	for (size_t i = 8; i < sizeof(tiny); i++)
		if (tiny[i] != 'G')
			abort(); /* wrote past errlen */

	if (p) {
		char h1[65], h2[65], h3[65], why[256];

		if (!strings_ok(&p->base))
			abort(); /* not valid proto3 */
		memset(why, 'X', sizeof(why));
		rc = osh_policy_validate(p, why, sizeof(why));
		if (rc != 0 && rc != OSH_EINVAL)
			abort();
		if (rc != 0 && (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0'))
			abort();
		if (osh_policy_hash(p, h1) != 0 || osh_policy_hash(p2, h2) != 0)
			abort();
		if (strcmp(h1, h2) != 0)
			abort(); /* parse is not deterministic */
		if (osh_policy_copy(p, &c) != 0 || osh_policy_hash(c, h3) != 0 ||
		    strcmp(h1, h3) != 0)
			abort(); /* pack/unpack lost something */
		if (osh_policy_rule_count(p) != p->n_network_policies)
			abort();
		if (osh_policy_validate(c, why, sizeof(why)) != rc)
			abort();
	}
	osh_policy_free(c);
	osh_policy_free(p2);
	osh_policy_free(p);
	free(text);
	return 0;
}
