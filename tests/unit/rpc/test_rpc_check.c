/* test_rpc_check.c - the proto3 string rule on wire bytes (F1, N1).
 *
 * DESIGN: messages are packed with protobuf-c where the bytes are valid, and
 * hand-encoded where they must not be (protobuf-c cannot produce an embedded
 * NUL or pack what it would refuse); every test asserts the verdict and the
 * field path the error names. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "osh_rpc.h"
#include "osh_rpc_check.h"
#include "sandbox.pb-c.h"

struct enc {
	uint8_t b[512];
	size_t n;
};

static void put_varint(struct enc *e, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		e->b[e->n++] = (uint8_t)(c | (v ? 0x80 : 0));
	} while (v);
}

static void put_bytes(struct enc *e, unsigned field, const void *p, size_t len)
{
	put_varint(e, (uint64_t)field << 3 | 2);
	put_varint(e, len);
	memcpy(e->b + e->n, p, len);
	e->n += len;
}

static int check(const ProtobufCMessageDescriptor *d, const struct enc *e, char *err)
{
	return osh_rpc_check_strings(d, e->b, e->n, err, 256);
}

Test(rpc_check, valid_messages_pass)
{
	char c0[] = "echo", c1[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", nm[] = "ok";
	char *cmd[] = {c0, c1};
	Openshell__V1__CreateSandboxRequest r = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	uint8_t buf[256];
	size_t n;
	char err[256];

	r.name = nm;
	r.command = cmd;
	r.n_command = 2;
	n = openshell__v1__create_sandbox_request__pack(&r, buf);
	cr_assert_eq(osh_rpc_check_strings(&openshell__v1__create_sandbox_request__descriptor, buf,
					   n, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_empty(err);
	cr_assert_eq(osh_rpc_check_strings(&openshell__v1__list_sandboxes_request__descriptor, NULL,
					   0, err, sizeof(err)),
		     0);
}

Test(rpc_check, invalid_utf8_in_a_repeated_string)
{
	struct enc e = {.n = 0};
	char err[256];

	put_bytes(&e, 1, "badcmd", 6);
	put_bytes(&e, 4, "echo", 4);
	put_bytes(&e, 4, "\xff\xfe", 2);
	cr_assert_eq(check(&openshell__v1__create_sandbox_request__descriptor, &e, err),
		     OSH_EINVAL);
	cr_assert_str_eq(err, "command: invalid UTF-8 at byte 0");
}

Test(rpc_check, embedded_nul_is_refused)
{
	struct enc e = {.n = 0};
	char err[256];

	put_bytes(&e, 1, "a\0b", 3);
	cr_assert_eq(check(&openshell__v1__create_sandbox_request__descriptor, &e, err),
		     OSH_EINVAL);
	cr_assert_str_eq(err, "name: NUL byte at byte 1");
}

Test(rpc_check, nested_message_and_map_fields_are_walked)
{
	struct enc fs = {.n = 0}, pol = {.n = 0}, req = {.n = 0}, line = {.n = 0}, entry = {.n = 0},
		   push = {.n = 0};
	char err[256];

	/* CreateSandboxRequest.policy.filesystem.read_only = "/usr/\xff" */
	put_bytes(&fs, 2, "/usr/\xff", 6);
	put_bytes(&pol, 2, fs.b, fs.n);
	put_bytes(&req, 1, "badpol", 6);
	put_bytes(&req, 3, pol.b, pol.n);
	cr_assert_eq(check(&openshell__v1__create_sandbox_request__descriptor, &req, err),
		     OSH_EINVAL);
	cr_assert_str_eq(err, "policy.filesystem.read_only: invalid UTF-8 at byte 5");

	/* PushSandboxLogsRequest.logs[0].fields{"k": "\xc0\xaf"} (overlong '/') */
	put_bytes(&entry, 1, "k", 1);
	put_bytes(&entry, 2, "\xc0\xaf", 2);
	put_bytes(&line, 5, "fine", 4);
	put_bytes(&line, 7, entry.b, entry.n);
	put_bytes(&push, 1, "sb", 2);
	put_bytes(&push, 2, line.b, line.n);
	cr_assert_eq(check(&openshell__v1__push_sandbox_logs_request__descriptor, &push, err),
		     OSH_EINVAL);
	cr_assert_str_eq(err, "logs.fields.value: invalid UTF-8 at byte 0");
}

Test(rpc_check, surrogates_and_truncated_sequences_are_refused)
{
	struct enc e = {.n = 0}, t = {.n = 0};
	char err[256];

	put_bytes(&e, 1, "\xed\xa0\x80", 3); /* U+D800 */
	cr_assert_eq(check(&openshell__v1__delete_sandbox_request__descriptor, &e, err),
		     OSH_EINVAL);
	put_bytes(&t, 2, "ab\xe2\x82", 4); /* euro sign cut */
	cr_assert_eq(check(&openshell__v1__delete_sandbox_request__descriptor, &t, err),
		     OSH_EINVAL);
	cr_assert_str_eq(err, "sandbox_id: invalid UTF-8 at byte 2");
}

Test(rpc_check, unknown_fields_and_bytes_of_other_types_are_skipped)
{
	struct enc e = {.n = 0};
	char err[256];

	put_bytes(&e, 99, "\xff\x00", 2);     /* unknown field: type unknown */
	put_varint(&e, (uint64_t)3 << 3 | 0); /* lines (uint32) */
	put_varint(&e, 5);
	cr_assert_eq(check(&openshell__v1__get_sandbox_logs_request__descriptor, &e, err), 0, "%s",
		     err);
}

Test(rpc_check, malformed_bytes_are_a_parse_error)
{
	struct enc e = {.n = 0};
	char err[256];

	put_varint(&e, (uint64_t)1 << 3 | 2);
	put_varint(&e, 50); /* longer than what follows */
	e.b[e.n++] = 'x';
	cr_assert_eq(check(&openshell__v1__delete_sandbox_request__descriptor, &e, err),
		     OSH_EPARSE);
	cr_assert(strstr(err, "malformed"), "%s", err);
	e.n = 0;
	put_varint(&e, (uint64_t)1 << 3 | 3); /* start group */
	cr_assert_eq(check(&openshell__v1__delete_sandbox_request__descriptor, &e, err),
		     OSH_EPARSE);
}
