/* osh_policy.h - the sandbox policy: YAML file and gateway proto, validation.
 *
 * DESIGN
 * The policy model IS the protobuf-c message Openshell__V1__SandboxPolicy
 * (proto/sandbox.proto): one model, no hand-kept twin that could drift. A
 * local YAML file is read with libyaml's document API and mapped onto the
 * message by walking the protoc-c descriptors, so the YAML schema is the proto
 * schema by construction (keys are the proto field names; `filesystem_policy`
 * is accepted for `filesystem` as in upstream policy files; maps are YAML
 * mappings; an L7 query matcher may be a bare glob string). Every unknown key,
 * duplicate key, wrong type or out-of-range number is refused with
 * "file:line:col: what". Messages built here are owned by the caller and
 * freed with osh_policy_free() (protobuf_c_message_free_unpacked), just
 * like messages unpacked from the wire.
 *
 * Both daemons use this layer: the gateway parses and validates what clients
 * send, the supervisor loads files and gateway policies and publishes them
 * through the policy store (osh_policy_store.h), where its subsystems read
 * them. Enforcement belongs to those subsystems, never to this file.
 */
#ifndef OSH_POLICY_H
#define OSH_POLICY_H

#include <stddef.h>

#include "osh_err.h"
#include "sandbox.pb-c.h"

typedef Openshell__V1__SandboxPolicy osh_policy_pb; /* protoc-c type name */

/* Limits on policy text (it can come from any gateway client). */
#define OSH_POLICY_MAX_BYTES (1u << 20) /* 1 MiB of YAML */
#define OSH_POLICY_MAX_NODES 20000u	/* scalars + sequences + mappings */

/* Parse a YAML policy document (`text`, `len` bytes; `name` is used in error
 * messages, e.g. the file path). On success *out is a new message. On error
 * returns OSH_EPARSE (syntax, unknown key, wrong type, any YAML alias) and
 * err holds "name:line:col: reason", or OSH_ETOOBIG (text over
 * OSH_POLICY_MAX_BYTES, more than OSH_POLICY_MAX_NODES nodes; err
 * names the limit), or OSH_ENOMEM. Time and memory are linear in len.
 * Thread-safe. */
OSH_MUST_CHECK int osh_policy_parse_yaml(const char *text, size_t len, const char *name,
					 osh_policy_pb **out, char *err, size_t errlen);

/* Read and parse a policy file. OSH_EIO when it cannot be read (err says
 * why), OSH_ETOOBIG when larger than 1 MiB, else as
 * osh_policy_parse_yaml. */
OSH_MUST_CHECK int osh_policy_load_file(const char *path, osh_policy_pb **out, char *err,
					size_t errlen);

/* Check a policy (either source) for values that cannot be enforced
 * correctly: relative or '..' paths, overly broad read-write '/', bad
 * landlock compatibility, endpoint host/port/protocol/tls/enforcement/access
 * combinations, malformed allowed_ips, empty binary paths, bad L7 query
 * matchers. Returns 0 or OSH_EINVAL with the first problem in err, naming
 * where it is ("network_policies.github.endpoints[0].port: ..."). */
OSH_MUST_CHECK int osh_policy_validate(const osh_policy_pb *p, char *err, size_t errlen);

/* Deep copy (pack + unpack). OSH_ENOMEM / OSH_EPARSE. */
OSH_MUST_CHECK int osh_policy_copy(const osh_policy_pb *src, osh_policy_pb **out);

/* Hex SHA-256 of the packed message (65 bytes with NUL). 0 or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_policy_hash(const osh_policy_pb *p, char out[65]);

/* Number of network policies (for event fields). */
size_t osh_policy_rule_count(const osh_policy_pb *p);

/* Free a policy from any of the functions above or from the wire. NULL ok. */
void osh_policy_free(osh_policy_pb *p);

#endif
