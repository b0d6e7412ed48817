/* proto_fuzz.c - libFuzzer target for openshell.v1 messages from the wire and
 * the checks the gateway and the supervisor run on them.
 *
 * DESIGN: byte 0 of the input picks a message type, the rest is its wire
 * bytes, unpacked with protobuf-c exactly as src/rpc does for every call
 * (protobuf_c_message_unpack with the method's descriptor). Requests come
 * from any gRPC client of the gateway (CLI, supervisors, anyone who reaches
 * the port); GetSandboxPolicyResponse comes from the gateway to a supervisor.
 * After a successful unpack the target runs the pure functions that judge
 * those fields, the same ones the handlers in src/gateway/service.c and the
 * poll loop in src/supervisor/sup_run.c call:
 *   CreateSandboxRequest   policy -> osh_policy_validate, hash, copy;
 *                          policy_yaml -> osh_policy_parse_yaml + validate
 *   SetConfigRequest       key/value -> osh_gw_key_lookup, osh_gw_layer_set
 *   Get/WatchSandboxLogs   min_level -> osh_gw_level_parse, osh_level_parse
 *   PushSandboxLogsRequest each line's level/message -> osh_gw_level_rank,
 *                          osh_level_rank_line, osh_level_line_passes
 *   GetSandboxPolicyResponse -> osh_sup_poll_step (twice) + policy checks
 * Invariants (abort = finding): no crash/leak/UB anywhere; pack(unpack(x))
 * decodes and is a fixed point (repacking the re-unpacked message gives the
 * same bytes; a message that does not decode once packed must carry unknown
 * fields, which the gateway refuses: finding 5, fixed);
 * return codes are within each function's contract; ranks are in 0..4 and
 * agree between the gateway's and the emit library's tables; errors are
 * NUL-terminated and name their source; a policy copy hashes like the
 * original; the same poll response applied twice asks for nothing the second
 * time (a policy is reloaded and reported once, not on every poll; an
 * ill-formed hash is reported once: finding 2, fixed).
 * The gateway handlers themselves (static in service.c, bound to a live
 * osh_rpc_call and the SQLite store) are not reachable from here; their
 * inline checks (sandbox_id required/length, PUSH_LINE_MAX, batch cap) are
 * covered by tests/integration against a real server. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_parse.h"
#include "config.h"
#include "osh_err.h"
#include "osh_level.h"
#include "sandbox.pb-c.h"
#include "sandboxes.h"
#include "store.h"
#include "osh_policy.h"
#include "sup_poll.h"

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
    &openshell__v1__get_sandbox_policy_response__descriptor,
    &openshell__v1__sandbox_policy__descriptor,
};
#define NDESC (sizeof(descs) / sizeof(descs[0]))

/* pack(m) -> unpack -> pack must give the same bytes. */
static void check_repack(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *a = malloc(n ? n : 1), *b = NULL;
	ProtobufCMessage *m2;

	if (!a)
		abort();
	if (protobuf_c_message_pack(m, a) != n)
		abort();
	m2 = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
	if (!m2) {
		/* Our own bytes do not decode: protobuf-c 1.4 accepts an unknown
		 * field numbered 0 when its tag is a non-canonical varint (80 00)
		 * but refuses the canonical 00 it packs back (finding 5 of
		 * docs/security.md). That is the library's; what we hold is that
		 * it only happens with unknown fields, which the gateway refuses
		 * (osh_gw_msg_unknown_field) before packing anything it stores. */
		if (!osh_gw_msg_unknown_field(m, NULL, 0))
			abort();
		free(a);
		return;
	}
	if (protobuf_c_message_get_packed_size(m2) != n)
		abort();
	b = malloc(n ? n : 1);
	if (!b)
		abort();
	protobuf_c_message_pack(m2, b);
	if (memcmp(a, b, n) != 0)
		abort();
	protobuf_c_message_free_unpacked(m2, NULL);
	free(a);
	free(b);
}

static void check_policy(const Openshell__V1__SandboxPolicy *p)
{
	osh_policy_pb *c = NULL;
	char why[256], h1[65], h2[65];
	int rc;

	memset(why, 'X', sizeof(why));
	rc = osh_policy_validate(p, why, sizeof(why));
	if (rc != 0 && rc != OSH_EINVAL)
		abort();
	if (rc != 0 && (memchr(why, '\0', sizeof(why)) == NULL || why[0] == '\0'))
		abort();
	if (osh_policy_hash(p, h1) != 0 || strlen(h1) != 64)
		abort();
	if (osh_policy_rule_count(p) != p->n_network_policies)
		abort();
	if (osh_policy_copy(p, &c) != 0) {
		/* finding 5: only a policy with unknown fields (refused by the
		 * gateway, see check_repack) may fail to copy. */
		if (!osh_gw_msg_unknown_field(&p->base, why, sizeof(why)) ||
		    strncmp(why, "SandboxPolicy", 13) != 0)
			abort();
		return;
	}
	if (osh_policy_hash(c, h2) != 0 || strcmp(h1, h2) != 0)
		abort();
	if (osh_policy_validate(c, why, sizeof(why)) != rc)
		abort();
	osh_policy_free(c);
}

static void check_level_name(const char *name)
{
	enum osh_level lv = OSH_LEVEL_TRACE;
	int r = osh_gw_level_parse(name);
	int rc = osh_level_parse(name, &lv);

	if (r < -1 || r > 4)
		abort();
	if ((rc == 0) != (r >= 0))
		abort(); /* gateway and emit disagree on what a level name is */
	if (rc == 0 && osh_level_rank(lv) != r)
		abort();
}

static void check_line(const Openshell__V1__SandboxLogLine *l)
{
	int a = osh_gw_level_rank(l->level, l->message);
	int b = osh_level_rank_line(l->level, l->message);

	if (a < 0 || a > 4 || a != b)
		abort();
	for (int m = OSH_LEVEL_TRACE; m <= OSH_LEVEL_ERROR; m++)
		if (osh_level_line_passes(l->level, l->message, (enum osh_level)m) != (b >= m))
			abort();
	if (l->level)
		check_level_name(l->level);
}

static void check_set_config(const Openshell__V1__SetConfigRequest *r)
{
	struct osh_gw_layer l;
	enum osh_gw_key k;
	char err[256];
	int rc;

	osh_gw_layer_init(&l);
	if (osh_gw_key_lookup(r->key, &k) == 0 && osh_gw_key_info(k) == NULL)
		abort();
	memset(err, 'X', sizeof(err));
	rc = osh_gw_layer_set(&l, r->key, r->value, "SetConfig", err, sizeof(err));
	if (rc != 0 && rc != OSH_ENOTFOUND && rc != OSH_EPARSE)
		abort();
	if (rc != 0 &&
	    (memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "SetConfig", 9) != 0))
		abort(); /* error that does not name its source */
	if (rc == 0) {
		bool b;

		if (!l.set[k] || osh_parse_bool(r->value, &b) != 0 ||
		    b != l.v.ocsf_logging_enabled)
			abort();
	}
}

static void check_create(const Openshell__V1__CreateSandboxRequest *r)
{
	if (r->policy)
		check_policy(r->policy);
	if (r->policy_yaml && r->policy_yaml[0]) {
		osh_policy_pb *p = NULL;
		char err[512];
		int rc = osh_policy_parse_yaml(r->policy_yaml, strlen(r->policy_yaml),
						   "policy_yaml", &p, err, sizeof(err));

		if (rc != 0 && rc != OSH_EPARSE && rc != OSH_ETOOBIG)
			abort();
		if ((rc == 0) != (p != NULL))
			abort();
		if (rc != 0 && strncmp(err, "policy_yaml:", 12) != 0)
			abort();
		if (p)
			check_policy(p);
		osh_policy_free(p);
	}
}

static void check_poll(const Openshell__V1__GetSandboxPolicyResponse *resp)
{
	struct osh_sup_cfg_state st;
	struct osh_sup_poll_result r;
	struct osh_sup_poll_actions a1, a2;

	if (resp->policy)
		check_policy(resp->policy);
	memset(&r, 0, sizeof(r));
	r.err = 0;
	r.has_config = resp->sandbox_config != NULL;
	if (resp->sandbox_config) {
		r.revision = resp->sandbox_config->config_revision;
		r.ocsf_enabled =
		    resp->sandbox_config->logging && resp->sandbox_config->logging->ocsf_enabled;
	}
	r.has_policy = resp->policy != NULL;
	r.policy_hash = resp->policy_hash;
	osh_sup_poll_state_init(&st);
	osh_sup_poll_step(&st, &r, 1000, &a1);
	if (a1.next_delay_ms <= 0)
		abort();
	osh_sup_poll_step(&st, &r, 1000, &a2);
	/* The same answer again: nothing to apply, reload or report (finding 2
	 * of docs/security.md, fixed: an ill-formed hash is reported once). */
	if (a2.apply_config || a2.lost || a2.restored)
		abort();
	if (a2.reload_policy || a2.policy_absent || a2.bad_policy_hash)
		abort();
	if (a1.bad_policy_hash ==
	    osh_sup_poll_hash_valid(resp->policy_hash ? resp->policy_hash : ""))
		abort(); /* reported iff the hash is ill-formed */
	if (a2.next_delay_ms <= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;

	if (size < 1)
		return 0;
	d = descs[data[0] % NDESC];
	m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (!m)
		return 0; /* refused: the rpc layer answers INVALID_ARGUMENT */
	check_repack(m);
	if (d == &openshell__v1__push_sandbox_logs_request__descriptor) {
		const Openshell__V1__PushSandboxLogsRequest *r = (const void *)m;

		for (size_t i = 0; i < r->n_logs; i++)
			if (r->logs[i])
				check_line(r->logs[i]);
	} else if (d == &openshell__v1__get_sandbox_logs_request__descriptor) {
		check_level_name(
		    ((const Openshell__V1__GetSandboxLogsRequest *)(const void *)m)->min_level);
	} else if (d == &openshell__v1__watch_sandbox_logs_request__descriptor) {
		check_level_name(
		    ((const Openshell__V1__WatchSandboxLogsRequest *)(const void *)m)->min_level);
	} else if (d == &openshell__v1__set_config_request__descriptor) {
		check_set_config((const void *)m);
	} else if (d == &openshell__v1__create_sandbox_request__descriptor) {
		check_create((const void *)m);
	} else if (d == &openshell__v1__get_sandbox_policy_response__descriptor) {
		check_poll((const void *)m);
	} else if (d == &openshell__v1__sandbox_policy__descriptor) {
		check_policy((const void *)m);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
