/* l7_sites.c - the OCSF log sites of L7 inspection (see l7_sites.h).
 *
 * DESIGN
 * One helper per OCSF object kind (endpoints, the client process with its
 * ancestry) shared by the three classes. The rule engine is named "l7" in
 * firewall_rule.type so an L7 decision never reads like the proxy's L4 one
 * ("network_policy"); an audited request is "l7-audit", so the shorthand
 * line says so too ("[policy:api engine:l7-audit]", severity LOW) besides
 * the JSONL's code, disposition Logged and unmapped.l7_decision. Severity: allowed Informational,
 * audited Low (a rule would have denied it), denied Medium, unsolicited upgrade High.
 */
#include "l7_sites.h"

#include <string.h>
#include <unistd.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"
#include "sup_events.h"

#define RULE_TYPE "l7"

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s ? s + 1 : (p ? p : "");
}

static void endpoint(struct ocsf_network_endpoint *e, const char *host, const char *ip,
		     uint16_t port)
{
	if (host && *host)
		ocsf_network_endpoint_set_hostname(e, host);
	if (ip && *ip)
		ocsf_network_endpoint_set_ip(e, ip);
	if (port)
		ocsf_network_endpoint_set_port(e, port);
}

static void process(struct ocsf_process *p, const struct osh_l7_evctx *c)
{
	ocsf_process_set_name(p, base_name(c->exe));
	ocsf_process_set_pid(p, (int32_t)c->pid);
	ocsf_process_set_path(p, c->exe);
	for (size_t i = 0; i < c->n_anc && c->anc; i++) {
		struct ocsf_process_entity *a = ocsf_process_add_ancestry(p);

		ocsf_process_entity_set_name(a, base_name(c->anc[i]));
		if (c->anc_pid)
			ocsf_process_entity_set_pid(a, (int32_t)c->anc_pid[i]);
		ocsf_process_entity_set_path(a, c->anc[i]);
	}
}

static const char *hostport(struct ocsf_arena *a, const struct osh_l7_evctx *c)
{
	return ocsf_arena_printf(a, "%s:%u", c && c->host ? c->host : "-", c ? c->port : 0);
}

/* -------------------------------------------------------------- http */

static enum ocsf_http_activity_activity_id method_activity(const char *m)
{
	static const struct {
		const char *name;
		enum ocsf_http_activity_activity_id id;
	} map[] = {
	    {"CONNECT", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_CONNECT},
	    {"DELETE", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_DELETE},
	    {"GET", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET},
	    {"HEAD", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_HEAD},
	    {"OPTIONS", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OPTIONS},
	    {"POST", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_POST},
	    {"PUT", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_PUT},
	    {"TRACE", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_TRACE},
	    {"PATCH", OCSF_HTTP_ACTIVITY_ACTIVITY_ID_PATCH},
	};

	for (size_t i = 0; m && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, m) == 0)
			return map[i].id;
	return OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OTHER;
}

void osh_l7_ev_request(const struct osh_l7_evctx *c, const char *method, const char *target,
		       enum osh_l7_verdict v, const char *rule, const char *reason, int status)
{
	static const char *const label[] = {"allow", "audit", "deny"};
	struct ocsf_http_activity ev;
	enum ocsf_http_activity_activity_id act = method_activity(method);
	struct ocsf_http_request *rq;
	struct ocsf_firewall_rule *fr;
	struct ocsf_url *u;
	const char *q = target ? strchr(target, '?') : NULL;

	if (v == OSH_L7_V_ALLOW)
		osh_site_init_l7_request_allow(&ev, act);
	else if (v == OSH_L7_V_AUDIT)
		osh_site_init_l7_request_audit(&ev, act);
	else
		osh_site_init_l7_request_deny(&ev, act);
	if (act == OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OTHER)
		ocsf_http_activity_set_activity_name(&ev, method ? method : "-");
	ocsf_http_activity_set_action_id(&ev, v == OSH_L7_V_DENY ? OCSF_ACTION_ID_DENIED
								 : OCSF_ACTION_ID_ALLOWED);
	ocsf_http_activity_set_disposition_id(&ev, v == OSH_L7_V_ALLOW ? OCSF_DISPOSITION_ID_ALLOWED
						   : v == OSH_L7_V_AUDIT
						       ? OCSF_DISPOSITION_ID_LOGGED
						       : OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_http_activity_set_status_id(&ev, v == OSH_L7_V_DENY ? OCSF_STATUS_ID_FAILURE
								 : OCSF_STATUS_ID_SUCCESS);
	rq = ocsf_http_activity_http_request(&ev);
	ocsf_http_request_set_http_method(rq, method ? method : "-");
	u = ocsf_http_request_url(rq);
	ocsf_url_set_scheme(u, c->scheme ? c->scheme : "https");
	if (c->host)
		ocsf_url_set_hostname(u, c->host);
	ocsf_url_set_port(u, c->port);
	if (target) {
		ocsf_url_set_path(
		    u, q ? ocsf_arena_printf(&ev.ev.arena, "%.*s", (int)(q - target), target)
			 : target);
		if (q)
			ocsf_url_set_query_string(u, q + 1);
	}
	endpoint(ocsf_http_activity_src_endpoint(&ev), NULL, c->src_ip, c->src_port);
	endpoint(ocsf_http_activity_dst_endpoint(&ev), c->host, c->dst_ip, c->port);
	if (c->exe)
		process(ocsf_actor_process(ocsf_http_activity_actor(&ev)), c);
	fr = ocsf_http_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_name(fr, c->policy ? c->policy : "-");
	/* an audited request reads "engine:l7-audit" in the shorthand */
	ocsf_firewall_rule_set_type(fr, v == OSH_L7_V_AUDIT ? RULE_TYPE "-audit" : RULE_TYPE);
	if (rule && *rule)
		ocsf_firewall_rule_set_desc(fr, rule);
	if (reason && *reason)
		ocsf_http_activity_set_status_detail(&ev, reason);
	if (status)
		ocsf_http_response_set_code(ocsf_http_activity_http_response(&ev), status);
	ocsf_http_activity_add_unmapped_str(&ev, "l7_decision", label[v]);
	if (rule && *rule)
		ocsf_http_activity_add_unmapped_str(&ev, "l7_rule", rule);
	if (c->generation)
		ocsf_http_activity_add_unmapped_int(&ev, "policy_generation",
						    (int64_t)c->generation);
	ocsf_http_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "L7_REQUEST %s %s %s://%s%s%s%s", label[v],
				   method ? method : "-", c->scheme ? c->scheme : "https",
				   hostport(&ev.ev.arena, c), target ? target : "",
				   reason && *reason ? " reason=" : "", reason ? reason : ""));
	osh_emit(&ev);
}

/* ----------------------------------------------------------- findings */

static void finding(struct ocsf_detection_finding *ev, const struct osh_l7_evctx *c,
		    const char *uid, const char *title, const char *desc, bool blocked)
{
	struct ocsf_finding_info *fi = ocsf_detection_finding_finding_info(ev);

	ocsf_detection_finding_set_action_id(ev, blocked ? OCSF_ACTION_ID_DENIED
							 : OCSF_ACTION_ID_ALLOWED);
	ocsf_detection_finding_set_disposition_id(ev, blocked ? OCSF_DISPOSITION_ID_BLOCKED
							      : OCSF_DISPOSITION_ID_LOGGED);
	ocsf_detection_finding_set_confidence_id(ev, OCSF_CONFIDENCE_ID_HIGH);
	ocsf_detection_finding_set_is_alert(ev, blocked);
	ocsf_finding_info_set_uid(fi, uid);
	ocsf_finding_info_set_title(fi, title);
	ocsf_finding_info_set_desc(fi, desc);
	ocsf_finding_info_add_types(fi, "l7");
	if (c && c->exe)
		process(ocsf_actor_process(ocsf_detection_finding_actor(ev)), c);
	ocsf_detection_finding_set_status_detail(ev, desc);
	ocsf_detection_finding_add_unmapped_str(ev, "host", c && c->host ? c->host : "-");
	ocsf_detection_finding_add_unmapped_int(ev, "port", c ? c->port : 0);
	ocsf_detection_finding_set_message(ev,
					   ocsf_arena_printf(&ev->ev.arena, "%s on %s: %s", title,
							     hostport(&ev->ev.arena, c), desc));
}

void osh_l7_ev_parse_error(const struct osh_l7_evctx *c, const char *what, int status)
{
	struct ocsf_detection_finding ev;

	osh_site_init_l7_parse_error(&ev);
	finding(&ev, c, "l7-http-parse-error", "Malformed HTTP inside an inspected connection",
		what, true);
	ocsf_detection_finding_add_unmapped_int(&ev, "http_status", status);
	osh_emit(&ev);
}

void osh_l7_ev_upgrade_refused(const struct osh_l7_evctx *c, const char *method, const char *target)
{
	struct ocsf_detection_finding ev;

	osh_site_init_l7_upgrade_refused(&ev);
	finding(&ev, c, "unsolicited-101-upgrade", "Unsolicited protocol upgrade refused",
		ocsf_arena_printf(&ev.ev.arena,
				  "upstream answered %s %s with 101 Switching Protocols",
				  method ? method : "-", target ? target : "-"),
		true);
	osh_emit(&ev);
}

void osh_l7_ev_upstream_error(const struct osh_l7_evctx *c, const char *what)
{
	struct ocsf_detection_finding ev;

	osh_site_init_l7_upstream_error(&ev);
	finding(&ev, c, "l7-upstream-framing", "Upstream broke HTTP framing", what, true);
	osh_emit(&ev);
}

void osh_l7_ev_sql(const struct osh_l7_evctx *c)
{
	struct ocsf_detection_finding ev;

	osh_site_init_l7_sql_not_enforced(&ev);
	finding(&ev, c, "l7-sql-not-enforced", "L7 SQL rules are not enforced",
		ocsf_arena_printf(&ev.ev.arena, "protocol sql on %s: audit passthrough",
				  hostport(&ev.ev.arena, c)),
		false);
	osh_emit(&ev);
}

/* ------------------------------------------------------------ network */

static void net(struct ocsf_network_activity *ev, const struct osh_l7_evctx *c, bool refused,
		const char *why)
{
	endpoint(ocsf_network_activity_src_endpoint(ev), NULL, c->src_ip, c->src_port);
	endpoint(ocsf_network_activity_dst_endpoint(ev), c->host, c->dst_ip, c->port);
	if (c->exe)
		process(ocsf_actor_process(ocsf_network_activity_actor(ev)), c);
	if (refused) {
		ocsf_network_activity_set_action_id(ev, OCSF_ACTION_ID_DENIED);
		ocsf_network_activity_set_disposition_id(ev, OCSF_DISPOSITION_ID_BLOCKED);
	}
	ocsf_network_activity_set_status_id(ev, OCSF_STATUS_ID_FAILURE);
	ocsf_network_activity_set_status_detail(ev, why);
	if (c->policy) {
		struct ocsf_firewall_rule *r = ocsf_network_activity_firewall_rule(ev);

		ocsf_firewall_rule_set_name(r, c->policy);
		ocsf_firewall_rule_set_type(r, RULE_TYPE);
	}
	ocsf_network_activity_set_message(
	    ev, ocsf_arena_printf(&ev->ev.arena, "L7 %s: %s", hostport(&ev->ev.arena, c), why));
}

void osh_l7_ev_tls_client_fail(const struct osh_l7_evctx *c, const char *why)
{
	struct ocsf_network_activity ev;

	osh_site_init_l7_tls_client_fail(&ev);
	net(&ev, c, false,
	    ocsf_arena_printf(&ev.ev.arena, "TLS handshake with the client failed: %s", why));
	osh_emit(&ev);
}

void osh_l7_ev_sni_mismatch(const struct osh_l7_evctx *c, const char *sni)
{
	struct ocsf_network_activity ev;

	osh_site_init_l7_sni_mismatch(&ev);
	net(&ev, c, true,
	    ocsf_arena_printf(&ev.ev.arena, "TLS SNI %s does not match the CONNECT host %s", sni,
			      c->host ? c->host : "-"));
	ocsf_network_activity_add_unmapped_str(&ev, "sni", sni);
	osh_emit(&ev);
}

void osh_l7_ev_tls_upstream_fail(const struct osh_l7_evctx *c, const char *why)
{
	struct ocsf_network_activity ev;

	osh_site_init_l7_tls_upstream_fail(&ev);
	net(&ev, c, false, ocsf_arena_printf(&ev.ev.arena, "upstream TLS: %s", why));
	ocsf_network_activity_add_unmapped_int(&ev, "http_status", 502);
	osh_emit(&ev);
}

void osh_l7_ev_limit(const struct osh_l7_evctx *c, unsigned limit)
{
	struct ocsf_network_activity ev;

	osh_site_init_l7_limit(&ev);
	net(&ev, c, true,
	    ocsf_arena_printf(&ev.ev.arena, "L7 inspection connection limit reached (%u)", limit));
	ocsf_network_activity_add_unmapped_int(&ev, "limit", limit);
	osh_emit(&ev);
}

/* ----------------------------------------------------------- lifecycle */

void osh_l7_ev_ca(bool ok, const char *bundle_or_error, const char *sha256)
{
	struct ocsf_application_lifecycle ev;
	struct ocsf_product *app;

	if (ok)
		osh_site_init_l7_ca_ready(&ev);
	else
		osh_site_init_l7_ca_failed(&ev);
	ocsf_application_lifecycle_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	app = ocsf_application_lifecycle_app(&ev);
	ocsf_product_set_name(app, OSH_SUP_PRODUCT "/l7");
	ocsf_product_set_vendor_name(app, OSH_SUP_VENDOR);
	if (ok) {
		ocsf_application_lifecycle_add_unmapped_str(&ev, "ca_bundle", bundle_or_error);
		ocsf_application_lifecycle_add_unmapped_str(&ev, "ca_sha256",
							    sha256 ? sha256 : "-");
	} else {
		ocsf_application_lifecycle_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
		ocsf_application_lifecycle_set_status_detail(&ev, bundle_or_error);
	}
	ocsf_application_lifecycle_set_message(
	    &ev,
	    ok ? ocsf_arena_printf(&ev.ev.arena, "sandbox CA ready: %s", bundle_or_error)
	       : ocsf_arena_printf(&ev.ev.arena, "sandbox CA not available: %s", bundle_or_error));
	ocsf_application_lifecycle_add_unmapped_int(&ev, "supervisor_pid", (int64_t)getpid());
	osh_emit(&ev);
}
