/* test_rpc_proto.c - sandbox.proto messages: round trips and pinned wire bytes.
 *
 * DESIGN: a reflective filler walks each protobuf-c descriptor and sets every
 * field (repeated ones and maps with two entries, oneofs selected, nested
 * messages to depth 4) to a non-default value; pack -> unpack -> pack must
 * give the same bytes, so a field the codec drops or mangles fails. A few
 * messages also have their exact bytes pinned, so a renumbered field fails
 * even when both sides of a round trip agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "osh_rpc.h"
#include "sandbox.pb-c.h"

struct allocs {
	void *p[4096];
	size_t n;
};

static void *take(struct allocs *a, size_t n)
{
	void *p = calloc(1, n);
	cr_assert(p != NULL && a->n < 4096);
	a->p[a->n++] = p;
	return p;
}

static void fill_msg(ProtobufCMessage *m, int depth, struct allocs *a);

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return 4;
	}
}

static void set_value(const ProtobufCFieldDescriptor *f, void *dst, int depth, int k,
		      struct allocs *a)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*(int64_t *)dst = -1700000000000LL - f->id - k;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)dst = 1ULL << 40 | (uint64_t)(f->id + k);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *)dst = 1.5 + k;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *)dst = 2.5f + (float)k;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)dst = 1;
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		*(int *)dst = ed->values[ed->n_values - 1].value;
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *s = take(a, 32);
		snprintf(s, 32, "%s-%d", f->name, k);
		*(char **)dst = s;
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = dst;
		b->data = take(a, 3);
		b->data[0] = 0;
		b->data[1] = 0xff;
		b->data[2] = (uint8_t)k;
		b->len = 3;
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessageDescriptor *md = f->descriptor;
		ProtobufCMessage *sub = NULL;
		if (depth < 4) {
			sub = take(a, md->sizeof_message);
			protobuf_c_message_init(md, sub);
			fill_msg(sub, depth + 1, a);
		}
		*(ProtobufCMessage **)dst = sub;
		break;
	}
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		*(int32_t *)dst = -(int32_t)f->id - 100 * k - 1;
		break;
	default:
		*(uint32_t *)dst = 40000u + f->id + (uint32_t)k;
		break;
	}
}

static void fill_msg(ProtobufCMessage *m, int depth, struct allocs *a)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *member = (char *)m + f->offset;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
			*(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t es = elem_size(f);
			char *arr = take(a, 2 * es);
			for (int k = 0; k < 2; k++)
				set_value(f, arr + (size_t)k * es, depth, k, a);
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth >= 4)
				continue; /* NULL entries cannot be packed */
			*(void **)member = arr;
			*(size_t *)((char *)m + f->quantifier_offset) = 2;
		} else {
			set_value(f, member, depth, 0, a);
		}
	}
}

static const ProtobufCMessageDescriptor *const all_messages[] = {
    &openshell__v1__sandbox_policy__descriptor,
    &openshell__v1__filesystem_policy__descriptor,
    &openshell__v1__landlock_policy__descriptor,
    &openshell__v1__process_policy__descriptor,
    &openshell__v1__network_policy_rule__descriptor,
    &openshell__v1__network_endpoint__descriptor,
    &openshell__v1__l7_rule__descriptor,
    &openshell__v1__l7_allow__descriptor,
    &openshell__v1__l7_query_matcher__descriptor,
    &openshell__v1__network_binary__descriptor,
    &openshell__v1__sandbox_config__descriptor,
    &openshell__v1__logging_config__descriptor,
    &openshell__v1__get_sandbox_policy_request__descriptor,
    &openshell__v1__get_sandbox_policy_response__descriptor,
    &openshell__v1__sandbox_log_line__descriptor,
    &openshell__v1__push_sandbox_logs_request__descriptor,
    &openshell__v1__push_sandbox_logs_response__descriptor,
    &openshell__v1__get_sandbox_logs_request__descriptor,
    &openshell__v1__get_sandbox_logs_response__descriptor,
    &openshell__v1__watch_sandbox_logs_request__descriptor,
    &openshell__v1__watch_sandbox_logs_response__descriptor,
    &openshell__v1__config_entry__descriptor,
    &openshell__v1__get_config_request__descriptor,
    &openshell__v1__get_config_response__descriptor,
    &openshell__v1__set_config_request__descriptor,
    &openshell__v1__set_config_response__descriptor,
    &openshell__v1__sandbox__descriptor,
    &openshell__v1__create_sandbox_request__descriptor,
    &openshell__v1__create_sandbox_response__descriptor,
    &openshell__v1__list_sandboxes_request__descriptor,
    &openshell__v1__list_sandboxes_response__descriptor,
    &openshell__v1__delete_sandbox_request__descriptor,
    &openshell__v1__delete_sandbox_response__descriptor,
};

Test(rpc_proto, every_message_round_trips_with_every_field_set)
{
	size_t n = sizeof(all_messages) / sizeof(all_messages[0]);
	for (size_t i = 0; i < n; i++) {
		const ProtobufCMessageDescriptor *d = all_messages[i];
		struct allocs *a = calloc(1, sizeof(*a));
		ProtobufCMessage *m = take(a, d->sizeof_message);
		ProtobufCMessage *back;
		uint8_t *b1, *b2;
		size_t n1, n2;

		protobuf_c_message_init(d, m);
		fill_msg(m, 0, a);
		cr_assert(protobuf_c_message_check(m), "%s: filled message invalid", d->name);
		n1 = protobuf_c_message_get_packed_size(m);
		if (d->n_fields > 0)
			cr_assert_gt(n1, 0, "%s packs to nothing", d->name);
		b1 = malloc(n1 + 1);
		protobuf_c_message_pack(m, b1);
		back = protobuf_c_message_unpack(d, NULL, n1, b1);
		cr_assert(back != NULL, "%s does not unpack its own bytes", d->name);
		n2 = protobuf_c_message_get_packed_size(back);
		b2 = malloc(n2 + 1);
		protobuf_c_message_pack(back, b2);
		cr_assert_eq(n1, n2, "%s: %zu vs %zu bytes after a round trip", d->name, n1, n2);
		cr_assert(memcmp(b1, b2, n1) == 0, "%s: bytes differ after a round trip", d->name);
		protobuf_c_message_free_unpacked(back, NULL);
		free(b1);
		free(b2);
		for (size_t k = 0; k < a->n; k++)
			free(a->p[k]);
		free(a);
	}
}

Test(rpc_proto, sandbox_config_wire_bytes_are_pinned)
{
	Openshell__V1__LoggingConfig lc = OPENSHELL__V1__LOGGING_CONFIG__INIT;
	Openshell__V1__SandboxConfig sc = OPENSHELL__V1__SANDBOX_CONFIG__INIT;
	Openshell__V1__GetSandboxPolicyResponse r =
	    OPENSHELL__V1__GET_SANDBOX_POLICY_RESPONSE__INIT;
	/* version=2 (tag 0x10) 3; sandbox_config=4 (tag 0x22) len 6:
	 * config_revision=1 (0x08) 5, logging=2 (0x12) len 2: ocsf_enabled=1 (0x08) 1 */
	const uint8_t want[] = {0x10, 0x03, 0x22, 0x06, 0x08, 0x05, 0x12, 0x02, 0x08, 0x01};
	uint8_t buf[32];
	size_t n;
	Openshell__V1__GetSandboxPolicyResponse *back;

	lc.ocsf_enabled = 1;
	sc.config_revision = 5;
	sc.logging = &lc;
	r.version = 3;
	r.sandbox_config = &sc;
	n = openshell__v1__get_sandbox_policy_response__pack(&r, buf);
	cr_assert_eq(n, sizeof(want));
	cr_assert(memcmp(buf, want, n) == 0);

	/* An older gateway's response (fields 1-3 only): sandbox_config is absent. */
	back = openshell__v1__get_sandbox_policy_response__unpack(NULL, 2, want);
	cr_assert(back != NULL);
	cr_assert_eq(back->version, 3);
	cr_assert_null(back->sandbox_config);
	cr_assert_null(back->policy);
	openshell__v1__get_sandbox_policy_response__free_unpacked(back, NULL);
}

Test(rpc_proto, log_line_wire_bytes_are_pinned)
{
	Openshell__V1__SandboxLogLine l = OPENSHELL__V1__SANDBOX_LOG_LINE__INIT;
	Openshell__V1__SandboxLogLine__FieldsEntry e =
	    OPENSHELL__V1__SANDBOX_LOG_LINE__FIELDS_ENTRY__INIT;
	Openshell__V1__SandboxLogLine__FieldsEntry *ep = &e;
	const uint8_t want[] = {0x0a, 0x01, 's',  0x10, 0x02, 0x1a, 0x04, 'O',	'C',  'S',
				'F',  0x22, 0x01, 't',	0x2a, 0x01, 'm',  0x32, 0x01, 'x',
				0x3a, 0x06, 0x0a, 0x01, 'k',  0x12, 0x01, 'v'};
	uint8_t buf[64];
	size_t n;

	l.sandbox_id = OSH_RPC_STR("s");
	l.timestamp_ms = 2;
	l.level = OSH_RPC_STR("OCSF");
	l.target = OSH_RPC_STR("t");
	l.message = OSH_RPC_STR("m");
	l.source = OSH_RPC_STR("x");
	e.key = OSH_RPC_STR("k");
	e.value = OSH_RPC_STR("v");
	l.n_fields = 1;
	l.fields = &ep;
	n = openshell__v1__sandbox_log_line__pack(&l, buf);
	cr_assert_eq(n, sizeof(want));
	cr_assert(memcmp(buf, want, n) == 0);
}

Test(rpc_proto, sandbox_exit_code_has_presence)
{
	Openshell__V1__Sandbox s = OPENSHELL__V1__SANDBOX__INIT;
	Openshell__V1__Sandbox *back;
	uint8_t buf[64];
	size_t n;

	/* exit code 0 must survive: a set oneof is written even when zero. */
	s.opt_exit_code_case = OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE;
	s.exit_code = 0;
	n = openshell__v1__sandbox__pack(&s, buf);
	back = openshell__v1__sandbox__unpack(NULL, n, buf);
	cr_assert(back != NULL);
	cr_assert_eq(back->opt_exit_code_case, OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE);
	cr_assert_eq(back->exit_code, 0);
	openshell__v1__sandbox__free_unpacked(back, NULL);

	s.opt_exit_code_case = OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE__NOT_SET;
	n = openshell__v1__sandbox__pack(&s, buf);
	back = openshell__v1__sandbox__unpack(NULL, n, buf);
	cr_assert(back != NULL);
	cr_assert_eq(back->opt_exit_code_case, OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE__NOT_SET);
	openshell__v1__sandbox__free_unpacked(back, NULL);
}

Test(rpc_proto, truncated_and_garbage_bytes_are_rejected_not_crashing)
{
	const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	const uint8_t truncated[] = {0x0a, 0x10, 'a', 'b'}; /* string of 16, 2 given */
	cr_assert_null(
	    openshell__v1__get_sandbox_policy_request__unpack(NULL, sizeof(garbage), garbage));
	cr_assert_null(
	    openshell__v1__get_sandbox_policy_request__unpack(NULL, sizeof(truncated), truncated));
}

Test(rpc_proto, status_names_and_error_mapping)
{
	cr_assert_str_eq(osh_rpc_status_name(0), "OK");
	cr_assert_str_eq(osh_rpc_status_name(5), "NOT_FOUND");
	cr_assert_str_eq(osh_rpc_status_name(12), "UNIMPLEMENTED");
	cr_assert_str_eq(osh_rpc_status_name(16), "UNAUTHENTICATED");
	cr_assert_str_eq(osh_rpc_status_name(17), "UNKNOWN_CODE");
	cr_assert_str_eq(osh_rpc_status_name(-1), "UNKNOWN_CODE");
	cr_assert_eq(osh_rpc_code_to_err(OSH_RPC_OK), OSH_OK);
	cr_assert_eq(osh_rpc_code_to_err(OSH_RPC_UNAVAILABLE), OSH_EUNAVAIL);
	cr_assert_eq(osh_rpc_code_to_err(OSH_RPC_DEADLINE_EXCEEDED), OSH_ETIMEDOUT);
	cr_assert_eq(osh_rpc_code_to_err(OSH_RPC_NOT_FOUND), OSH_ENOTFOUND);
	cr_assert_eq(osh_rpc_code_to_err(OSH_RPC_INTERNAL), OSH_EPROTO);
}
