/* proto_strings_fuzz.c - libFuzzer target for osh_rpc_check_strings, the
 * proto3 string rule every gateway request passes (src/rpc/rpc_check.c).
 *
 * DESIGN: byte 0 picks a request type, the rest is its wire bytes (what any
 * client of the gateway can send). Invariants (abort = finding): no crash,
 * leak or UB; the result is one of 0 / OSH_EINVAL / OSH_EPARSE / OSH_EDEPTH
 * and the error text is NUL-terminated, empty exactly on success and naming
 * the problem otherwise; and when protobuf-c decodes the bytes and the check
 * passed, every string of the decoded message (found by an independent walk
 * over protobuf-c's reflection data, judged by the fuzz targets' own UTF-8
 * oracle, fuzz_utf8.h) is valid UTF-8 - i.e. nothing the check lets through
 * can make the gateway store or serve an invalid string. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_utf8.h"
#include "osh_rpc_check.h"
#include "sandbox.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const descs[] = {
    &openshell__v1__get_sandbox_policy_request__descriptor,
    &openshell__v1__push_sandbox_logs_request__descriptor,
    &openshell__v1__get_sandbox_logs_request__descriptor,
    &openshell__v1__watch_sandbox_logs_request__descriptor,
    &openshell__v1__get_config_request__descriptor,
    &openshell__v1__set_config_request__descriptor,
    &openshell__v1__create_sandbox_request__descriptor,
    &openshell__v1__list_sandboxes_request__descriptor,
    &openshell__v1__delete_sandbox_request__descriptor,
};

static void str_ok(const char *s)
{
	if (s && !fuzz_utf8_ok(s, strlen(s)))
		abort(); /* the check passed an invalid string */
}

static void walk(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		size_t n = 1;
		const void *const *v;

		if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)((const char *)m + f->quantifier_offset) !=
			f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(const void *)((const char *)m + f->quantifier_offset);
			v = *(const void *const *const *)(const void *)base;
		} else {
			v = (const void *const *)(const void *)base;
		}
		for (size_t k = 0; k < n; k++) {
			if (!v[k])
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING)
				str_ok(v[k]);
			else
				walk(v[k]);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;
	char err[256];
	int rc;

	if (size < 1)
		return 0;
	d = descs[data[0] % (sizeof(descs) / sizeof(descs[0]))];
	memset(err, 'x', sizeof(err));
	rc = osh_rpc_check_strings(d, data + 1, size - 1, err, sizeof(err));
	if (rc != 0 && rc != OSH_EINVAL && rc != OSH_EPARSE && rc != OSH_EDEPTH)
		abort();
	if (!memchr(err, '\0', sizeof(err)) || (rc == 0) != (err[0] == '\0'))
		abort();
	if (rc == OSH_EINVAL && !strstr(err, "UTF-8") && !strstr(err, "NUL"))
		abort();
	m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (m && rc == 0)
		walk(m);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
