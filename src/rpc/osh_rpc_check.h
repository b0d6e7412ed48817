/* osh_rpc_check.h - the proto3 string rule, checked once for every request.
 *
 * DESIGN: proto3 says a `string` field holds valid UTF-8, and conformant
 * stacks (grpcio, Go, Java) refuse to decode a message that breaks it; the
 * C stack (protobuf-c) stores it as a NUL-terminated char * without looking,
 * which also hides an embedded NUL (the value is silently cut). So the check
 * runs on the wire bytes, before anyone sees the decoded message: one walk
 * guided by the protobuf-c descriptors follows every known field of type
 * string (and every nested message, map entries included) and refuses
 * ill-formed UTF-8 (RFC 3629: no overlongs, surrogates, or code points above
 * U+10FFFF) and any NUL byte. No per-field code: a field added to the .proto
 * is covered the day it is added. Unknown fields are skipped (their type is
 * unknown). The server layer (rpc_server.c) runs it on every request and
 * stream message and answers INVALID_ARGUMENT naming the field.
 *
 * Ownership: nothing is allocated; buf and d are borrowed. Thread-safe. */
#ifndef OSH_RPC_CHECK_H
#define OSH_RPC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "osh_err.h"

/* Nested messages followed at most this deep (the schema needs < 10). */
#define OSH_RPC_CHECK_DEPTH 64

/* Checks the wire bytes buf[0..len) of a message of type d. Returns 0 when
 * every string field is valid UTF-8 without NUL; OSH_EINVAL when one is not,
 * with err = "<field.path>: <what> at byte <n>" (e.g. "command: invalid
 * UTF-8 at byte 3", "name: NUL byte at byte 1"); OSH_EPARSE when the bytes
 * are not a well-formed message (truncated, bad wire type, groups);
 * OSH_EDEPTH beyond OSH_RPC_CHECK_DEPTH. err (errlen > 0) is always
 * NUL-terminated; "" on success. */
OSH_MUST_CHECK int osh_rpc_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
					 size_t len, char *err, size_t errlen);

#endif
