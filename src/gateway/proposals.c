/* proposals.c - the gateway side of policy proposals: SubmitPolicyAnalysis
 * (supervisors), GetPolicyProposals and DecidePolicyProposal (the CLI).
 *
 * DESIGN
 * A supervisor's mechanistic mapper sends one round of denial summaries and
 * proposed rules (src/supervisor/denials/). The sandbox is the caller's: the
 * rpc layer's authz hook (gw_auth.c) already checked that the sandbox
 * credential belongs to the request's sandbox_id, and nothing here reads the
 * request's `name`. Each chunk is checked on its own (a rule that the
 * policy layer refuses, or that is too big, is rejected with a reason; the
 * others are stored), then upserted keyed (sandbox, host, port, binary)
 * (store.h). Accepting merges the rule into the sandbox's current policy
 * under its rule name, validates the whole policy with the same checks
 * CreateSandbox applies (osh_policy_validate), and stores it as the next
 * version in the same transaction that marks the proposal accepted; the
 * supervisor's policy poll sees the new hash and applies it live. Each step
 * is a gateway event (GW_PROPOSALS_SUBMIT, GW_PROPOSAL_ACCEPT,
 * GW_PROPOSAL_REJECT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_internal.h"
#include "gw_sites.h"
#include "osh_policy.h"
#include "osh_time.h"
#include "proposals.h"
#include "sandboxes.h"

/* Bounds on what one submission may carry. */
#define MAX_CHUNKS  256
#define MAX_TEXT    4096		/* rationale, security notes */
#define MAX_RULE    ((size_t)64 * 1024) /* packed proposed rule */
#define MAX_HITS    1000000
#define MAX_NAME    128
#define MAX_REASONS 16

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* A policy holding only `rule` under `key`, for validation in isolation. */
static int validate_rule(const char *key, Openshell__V1__NetworkPolicyRule *rule, char *err,
			 size_t errlen)
{
	Openshell__V1__SandboxPolicy p = OPENSHELL__V1__SANDBOX_POLICY__INIT;
	Openshell__V1__SandboxPolicy__NetworkPoliciesEntry e =
	    OPENSHELL__V1__SANDBOX_POLICY__NETWORK_POLICIES_ENTRY__INIT;
	Openshell__V1__SandboxPolicy__NetworkPoliciesEntry *ev[1] = {&e};

	e.key = (char *)(uintptr_t)key;
	e.value = rule;
	p.network_policies = ev;
	p.n_network_policies = 1;
	return osh_policy_validate(&p, err, errlen);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	bool ok = n > 0 && n <= MAX_NAME;

	for (const char *c = s; ok && *c; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		     (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
	return ok;
}

int gw_proposal_check(const Openshell__V1__PolicyChunk *c, const char *sandbox_id,
		      struct osh_gw_proposal *row, char *why, size_t wlen)
{
	const Openshell__V1__NetworkPolicyRule *r = c->proposed_rule;
	const Openshell__V1__NetworkEndpoint *ep;
	char err[512];
	float conf = c->confidence;
	int rc = OSH_EINVAL;

	memset(row, 0, sizeof(*row));
	if (!name_ok(nz(c->rule_name))) {
		snprintf(why, wlen, "rule_name '%.64s' must be 1-%d characters of [A-Za-z0-9_.-]",
			 nz(c->rule_name), MAX_NAME);
		goto out;
	}
	if (!r || r->n_endpoints == 0 || !r->endpoints[0]->host || !r->endpoints[0]->host[0]) {
		snprintf(why, wlen, "%s: proposed_rule needs an endpoint with a host",
			 c->rule_name);
		goto out;
	}
	ep = r->endpoints[0];
	if (ep->port == 0 || ep->port > 65535) {
		snprintf(why, wlen, "%s: endpoint port %u out of range 1-65535", c->rule_name,
			 ep->port);
		goto out;
	}
	if (osh_gw_msg_unknown_field(&r->base, err, sizeof(err))) {
		snprintf(why, wlen, "%s: unknown field in %s", c->rule_name, err);
		goto out;
	}
	if (strlen(nz(c->rationale)) > MAX_TEXT || strlen(nz(c->security_notes)) > MAX_TEXT) {
		snprintf(why, wlen, "%s: rationale or security_notes over %d bytes", c->rule_name,
			 MAX_TEXT);
		goto out;
	}
	row->rule_len = openshell__v1__network_policy_rule__get_packed_size(r);
	if (row->rule_len > MAX_RULE) {
		snprintf(why, wlen, "%s: proposed_rule of %zu bytes (at most %zu)", c->rule_name,
			 row->rule_len, MAX_RULE);
		goto out;
	}
	if (validate_rule(c->rule_name, (Openshell__V1__NetworkPolicyRule *)(uintptr_t)r, err,
			  sizeof(err)) != 0) {
		snprintf(why, wlen, "%s: %s", c->rule_name, err);
		goto out;
	}
	row->rule = malloc(row->rule_len ? row->rule_len : 1);
	if (!row->rule) {
		snprintf(why, wlen, "out of memory");
		rc = OSH_ENOMEM;
		goto out;
	}
	row->rule_len = openshell__v1__network_policy_rule__pack(r, row->rule);
	snprintf(row->sandbox_id, sizeof(row->sandbox_id), "%s", sandbox_id);
	row->host = ep->host;
	row->port = ep->port;
	row->binary =
	    (char *)(uintptr_t)(c->binary && c->binary[0]		? c->binary
				: r->n_binaries && r->binaries[0]->path ? r->binaries[0]->path
									: "-");
	row->rule_name = c->rule_name;
	row->rationale = c->rationale;
	row->security_notes = c->security_notes;
	row->stage = c->stage;
	if (!(conf >= 0.0f)) /* NaN too */
		conf = 0.0f;
	row->confidence_milli = conf > 1.0f ? 1000 : (int)(conf * 1000.0f + 0.5f);
	row->hit_count = c->hit_count < 1 ? 1 : c->hit_count > MAX_HITS ? MAX_HITS : c->hit_count;
	row->first_seen_ms = c->first_seen_ms;
	row->last_seen_ms = c->last_seen_ms > 0 ? c->last_seen_ms : osh_time_wall_ms();
	if (row->first_seen_ms <= 0 || row->first_seen_ms > row->last_seen_ms)
		row->first_seen_ms = row->last_seen_ms;
	rc = 0;
out:
	return rc;
}

void gw_h_submit_analysis(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__SubmitPolicyAnalysisRequest *req = (const void *)m;
	Openshell__V1__SubmitPolicyAnalysisResponse r =
	    OPENSHELL__V1__SUBMIT_POLICY_ANALYSIS_RESPONSE__INIT;
	char *reasons[MAX_REASONS];
	char why[600] = "";
	unsigned outcomes[4] = {0, 0, 0, 0};
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	int64_t now = osh_time_wall_ms();

	memset(&sb, 0, sizeof(sb));
	r.reasons = reasons;
	if (!req->sandbox_id || !req->sandbox_id[0]) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "sandbox_id is required");
		return;
	}
	if (req->n_proposed_chunks > MAX_CHUNKS) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"%zu proposed_chunks (at most %d per call)",
					req->n_proposed_chunks, MAX_CHUNKS);
		return;
	}
	/* the caller's sandbox (authz checked the credential against this id) */
	if (gw_resolve_sandbox(gw, call, req->sandbox_id, NULL, &sb) != 0)
		return;
	for (size_t i = 0; i < req->n_proposed_chunks; i++) {
		struct osh_gw_proposal row;
		enum osh_gw_prop_outcome oc = OSH_GW_PROP_INSERTED;
		char id[40] = "";
		int rc = gw_proposal_check(req->proposed_chunks[i], sb.id, &row, why, sizeof(why));

		if (rc == 0 && osh_gw_uuid(row.id) != 0) {
			snprintf(why, sizeof(why), "cannot generate an id");
			rc = OSH_ESYS;
		}
		if (rc == 0) {
			rc = osh_gw_store_proposal_upsert(gw_store(gw), &row, now, &oc, id);
			if (rc != 0)
				snprintf(why, sizeof(why), "%.64s: store: %.400s",
					 nz(req->proposed_chunks[i]->rule_name),
					 osh_gw_store_errmsg(gw_store(gw)));
		}
		free(row.rule);
		if (rc == OSH_EUNAVAIL) {
			(void)osh_rpc_call_fail(call, OSH_RPC_UNAVAILABLE, "store: %s", why);
			goto out;
		}
		if (rc != 0) {
			r.rejected++;
			if (r.n_reasons < MAX_REASONS)
				r.reasons[r.n_reasons++] = strdup(why);
			continue;
		}
		r.accepted++;
		outcomes[oc]++;
	}
	gw_ev_proposals_submit(sb.id, sb.name,
			       req->analysis_mode && req->analysis_mode[0] ? req->analysis_mode
									   : "unspecified",
			       r.accepted, r.rejected, outcomes, r.n_reasons ? r.reasons[0] : NULL);
	(void)osh_rpc_call_reply(call, &r.base);
out:
	for (size_t i = 0; i < r.n_reasons; i++)
		free(r.reasons[i]);
	osh_gw_sandbox_fini(&sb);
}

/* A stored row as a PolicyChunk (strings borrowed from the row; the rule
 * unpacked, freed by chunk_free). NULL when the rule does not unpack. */
static Openshell__V1__PolicyChunk *chunk_msg(const struct osh_gw_proposal *p,
					     Openshell__V1__PolicyChunk *c)
{
	openshell__v1__policy_chunk__init(c);
	c->proposed_rule =
	    openshell__v1__network_policy_rule__unpack(NULL, p->rule_len, (const uint8_t *)p->rule);
	if (!c->proposed_rule)
		return NULL;
	c->id = (char *)(uintptr_t)p->id;
	c->status = (char *)(uintptr_t)p->status;
	c->rule_name = p->rule_name;
	c->rationale = p->rationale;
	c->security_notes = p->security_notes;
	c->confidence = (float)p->confidence_milli / 1000.0f;
	c->created_at_ms = p->created_ms;
	c->decided_at_ms = p->decided_ms;
	c->stage = p->stage;
	c->hit_count = p->hit_count > INT32_MAX ? INT32_MAX : (int32_t)p->hit_count;
	c->first_seen_ms = p->first_seen_ms;
	c->last_seen_ms = p->last_seen_ms;
	c->binary = p->binary;
	c->host = p->host;
	c->port = p->port;
	return c;
}

static void chunk_free(Openshell__V1__PolicyChunk *c)
{
	if (c && c->proposed_rule)
		openshell__v1__network_policy_rule__free_unpacked(c->proposed_rule, NULL);
}

static bool status_ok(const char *s)
{
	return !s || !*s || strcmp(s, OSH_GW_PROP_PENDING) == 0 ||
	       strcmp(s, OSH_GW_PROP_ACCEPTED) == 0 || strcmp(s, OSH_GW_PROP_REJECTED) == 0;
}

void gw_h_get_proposals(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetPolicyProposalsRequest *req = (const void *)m;
	Openshell__V1__GetPolicyProposalsResponse r =
	    OPENSHELL__V1__GET_POLICY_PROPOSALS_RESPONSE__INIT;
	Openshell__V1__PolicyChunk *msgs = NULL;
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	struct osh_gw_proposal *rows = NULL;
	size_t n = 0;
	int rc;

	memset(&sb, 0, sizeof(sb));
	if (!status_ok(req->status)) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"status '%.32s' is not pending, accepted or rejected",
					req->status);
		return;
	}
	if (gw_resolve_sandbox(gw, call, req->sandbox_id, req->name, &sb) != 0)
		return;
	rc = osh_gw_store_proposal_list(gw_store(gw), sb.id, req->status, &rows, &n);
	if (rc != 0) {
		(void)osh_rpc_call_fail(call,
					rc == OSH_EUNAVAIL ? OSH_RPC_UNAVAILABLE : OSH_RPC_INTERNAL,
					"store: %s", osh_gw_store_errmsg(gw_store(gw)));
		goto out;
	}
	msgs = calloc(n ? n : 1, sizeof(*msgs));
	r.chunks = calloc(n ? n : 1, sizeof(void *));
	if (!msgs || !r.chunks) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!chunk_msg(&rows[i], &msgs[i])) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL,
						"stored rule of proposal %s does not decode",
						rows[i].id);
			goto out;
		}
		r.chunks[r.n_chunks++] = &msgs[i];
	}
	(void)osh_rpc_call_reply(call, &r.base);
out:
	for (size_t i = 0; msgs && i < n; i++)
		chunk_free(&msgs[i]);
	free(msgs);
	free(r.chunks);
	osh_gw_proposal_list_free(rows, n);
	osh_gw_sandbox_fini(&sb);
}

/* Drops the NULL slots of binaries moved out of r. */
static void compact_binaries(Openshell__V1__NetworkPolicyRule *r)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n_binaries; i++)
		if (r->binaries[i])
			r->binaries[k++] = r->binaries[i];
	r->n_binaries = k;
}

static int merge_into(Openshell__V1__SandboxPolicy *p, const char *key,
		      Openshell__V1__NetworkPolicyRule *rule);

int gw_proposal_merge(Openshell__V1__SandboxPolicy *p, const char *key,
		      Openshell__V1__NetworkPolicyRule *rule)
{
	int rc = merge_into(p, key, rule);

	if (rc != 0)
		openshell__v1__network_policy_rule__free_unpacked(rule, NULL);
	return rc;
}

/* gw_proposal_merge without the cleanup: on OSH_ENOMEM rule is still the
 * caller's (in whatever part was not moved yet). */
static int merge_into(Openshell__V1__SandboxPolicy *p, const char *key,
		      Openshell__V1__NetworkPolicyRule *rule)
{
	Openshell__V1__SandboxPolicy__NetworkPoliciesEntry **nv, *e;

	for (size_t i = 0; i < p->n_network_policies; i++) {
		Openshell__V1__NetworkPolicyRule *cur = p->network_policies[i]->value;
		void *np;

		if (strcmp(p->network_policies[i]->key, key) != 0 || !cur)
			continue;
		np = realloc(cur->endpoints,
			     (cur->n_endpoints + rule->n_endpoints) * sizeof(void *));
		if (!np)
			return OSH_ENOMEM;
		cur->endpoints = np;
		for (size_t k = 0; k < rule->n_endpoints; k++) {
			cur->endpoints[cur->n_endpoints++] = rule->endpoints[k];
			rule->endpoints[k] = NULL;
		}
		rule->n_endpoints = 0;
		np = realloc(cur->binaries,
			     (cur->n_binaries + rule->n_binaries) * sizeof(void *) + 1);
		if (!np)
			return OSH_ENOMEM;
		cur->binaries = np;
		for (size_t k = 0; k < rule->n_binaries; k++) {
			bool have = false;

			for (size_t j = 0; j < cur->n_binaries && !have; j++)
				have = strcmp(cur->binaries[j]->path, rule->binaries[k]->path) == 0;
			if (have)
				continue;
			cur->binaries[cur->n_binaries++] = rule->binaries[k];
			rule->binaries[k] = NULL;
		}
		compact_binaries(rule); /* the duplicates stay with it */
		openshell__v1__network_policy_rule__free_unpacked(rule, NULL);
		return 0;
	}
	nv = realloc(p->network_policies, (p->n_network_policies + 1) * sizeof(void *));
	if (!nv)
		return OSH_ENOMEM;
	p->network_policies = nv;
	e = malloc(sizeof(*e));
	if (!e)
		return OSH_ENOMEM;
	openshell__v1__sandbox_policy__network_policies_entry__init(e);
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return OSH_ENOMEM;
	}
	e->value = rule;
	p->network_policies[p->n_network_policies++] = e;
	return 0;
}

struct decide {
	struct osh_gw *gw;
	struct osh_rpc_call *call;
	struct osh_gw_sandbox sb;
	struct osh_gw_proposal prop;
	struct gw_ev_proposal ev;
	uint32_t version;
	char hash[72];
};

/* The merged, validated, packed policy stored with the decision. 0 or the
 * call was failed. */
static int accept_into_policy(struct decide *d)
{
	Openshell__V1__SandboxPolicy *pol = NULL;
	Openshell__V1__NetworkPolicyRule *rule = NULL;
	void *buf = NULL;
	size_t len = 0;
	char err[512];
	int rc = OSH_EINVAL;

	if (!d->sb.policy || d->sb.policy_len == 0 || d->sb.policy_version == 0) {
		(void)osh_rpc_call_fail(d->call, OSH_RPC_FAILED_PRECONDITION,
					"sandbox '%s' has no gateway policy to merge the rule into "
					"(it runs on its local or default policy)",
					d->sb.name);
		goto out;
	}
	pol = openshell__v1__sandbox_policy__unpack(NULL, d->sb.policy_len, d->sb.policy);
	rule = openshell__v1__network_policy_rule__unpack(NULL, d->prop.rule_len,
							  (const uint8_t *)d->prop.rule);
	if (!pol || !rule) {
		(void)osh_rpc_call_fail(d->call, OSH_RPC_INTERNAL,
					"stored policy or proposed rule does not decode");
		goto out;
	}
	rc = gw_proposal_merge(pol, d->prop.rule_name, rule);
	rule = NULL; /* the policy owns it (or it was freed) */
	if (rc != 0) {
		(void)osh_rpc_call_fail(d->call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	rc = osh_policy_validate(pol, err, sizeof(err));
	if (rc != 0) {
		(void)osh_rpc_call_fail(d->call, OSH_RPC_FAILED_PRECONDITION,
					"the policy with rule %s would be invalid: %s",
					d->prop.rule_name, err);
		goto out;
	}
	rc = gw_policy_encode(pol, &buf, &len, d->hash);
	if (rc != 0) {
		(void)osh_rpc_call_fail(d->call, OSH_RPC_INTERNAL, "cannot encode the policy: %s",
					osh_strerror(rc));
		goto out;
	}
	d->version = d->sb.policy_version + 1;
	rc = osh_gw_store_proposal_accept(gw_store(d->gw), d->sb.id, d->prop.id, osh_time_wall_ms(),
					  d->ev.decided_by, buf, len, d->sb.policy_version,
					  d->version, d->hash);
	if (rc != 0)
		(void)osh_rpc_call_fail(d->call,
					rc == OSH_ESTATE     ? OSH_RPC_FAILED_PRECONDITION
					: rc == OSH_EUNAVAIL ? OSH_RPC_UNAVAILABLE
							     : OSH_RPC_INTERNAL,
					"%s", osh_gw_store_errmsg(gw_store(d->gw)));
out:
	free(buf);
	if (rule)
		openshell__v1__network_policy_rule__free_unpacked(rule, NULL);
	if (pol)
		openshell__v1__sandbox_policy__free_unpacked(pol, NULL);
	return rc;
}

void gw_h_decide_proposal(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__DecidePolicyProposalRequest *req = (const void *)m;
	Openshell__V1__DecidePolicyProposalResponse r =
	    OPENSHELL__V1__DECIDE_POLICY_PROPOSAL_RESPONSE__INIT;
	Openshell__V1__PolicyChunk c;
	struct osh_gw_proposal after;
	struct decide d;
	char who[128];
	int rc;

	memset(&d, 0, sizeof(d));
	memset(&after, 0, sizeof(after));
	memset(&c, 0, sizeof(c));
	d.gw = ud;
	d.call = call;
	if (!req->id || !req->id[0]) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "id is required");
		return;
	}
	if (gw_resolve_sandbox(d.gw, call, req->sandbox_id, req->name, &d.sb) != 0)
		return;
	rc = osh_gw_store_proposal_get(gw_store(d.gw), d.sb.id, req->id, &d.prop);
	if (rc != 0) {
		(void)osh_rpc_call_fail(call,
					rc == OSH_ENOTFOUND  ? OSH_RPC_NOT_FOUND
					: rc == OSH_EUNAVAIL ? OSH_RPC_UNAVAILABLE
							     : OSH_RPC_INTERNAL,
					"%s", osh_gw_store_errmsg(gw_store(d.gw)));
		goto out;
	}
	if (strcmp(d.prop.status, OSH_GW_PROP_PENDING) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_FAILED_PRECONDITION,
					"proposal %s is %s already, not pending", d.prop.id,
					d.prop.status);
		goto out;
	}
	snprintf(who, sizeof(who), "%s", gw_auth_who(call));
	d.ev = (struct gw_ev_proposal){.sandbox_id = d.sb.id,
				       .sandbox = d.sb.name,
				       .proposal_id = d.prop.id,
				       .rule_name = d.prop.rule_name,
				       .host = d.prop.host,
				       .binary = d.prop.binary,
				       .port = d.prop.port,
				       .decided_by = who};
	if (req->accept) {
		if (accept_into_policy(&d) != 0)
			goto out;
		gw_ev_proposal_accept(&d.ev, d.sb.policy_version, d.version, d.hash);
		r.policy_version = d.version;
		r.policy_hash = d.hash;
	} else {
		rc = osh_gw_store_proposal_reject(gw_store(d.gw), d.sb.id, d.prop.id,
						  osh_time_wall_ms(), who);
		if (rc != 0) {
			(void)osh_rpc_call_fail(call,
						rc == OSH_ESTATE     ? OSH_RPC_FAILED_PRECONDITION
						: rc == OSH_EUNAVAIL ? OSH_RPC_UNAVAILABLE
								     : OSH_RPC_INTERNAL,
						"%s", osh_gw_store_errmsg(gw_store(d.gw)));
			goto out;
		}
		gw_ev_proposal_reject(&d.ev);
		r.policy_version = d.sb.policy_version;
		r.policy_hash = d.sb.policy_hash;
	}
	if (osh_gw_store_proposal_get(gw_store(d.gw), d.sb.id, d.prop.id, &after) == 0)
		r.chunk = chunk_msg(&after, &c);
	(void)osh_rpc_call_reply(call, &r.base);
out:
	chunk_free(&c);
	osh_gw_proposal_fini(&after);
	osh_gw_proposal_fini(&d.prop);
	osh_gw_sandbox_fini(&d.sb);
}
