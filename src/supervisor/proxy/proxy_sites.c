/* proxy_sites.c - the egress proxy's OCSF log sites (see proxy_sites.h).
 *
 * DESIGN
 * Shared pieces (endpoints, the actor process with its ancestry, the
 * firewall rule that decided) are filled by one helper per OCSF object
 * kind, used by both classes; each site then sets only what is its own.
 * Severity: allowed traffic Informational, refused traffic Medium (the
 * agent tried something the policy forbids), SSRF findings High, listener
 * failure High (the sandbox has no egress at all then).
 */
#include "proxy_sites.h"

#include <string.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

#define RULE_TYPE "network_policy"

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

static void process(struct ocsf_process *p, const struct osh_proxy_peer *pe)
{
	ocsf_process_set_name(p, base_name(pe->exe));
	ocsf_process_set_pid(p, (int32_t)pe->pid);
	ocsf_process_set_path(p, pe->exe);
	for (size_t i = 0; i < pe->n_anc; i++) {
		struct ocsf_process_entity *a = ocsf_process_add_ancestry(p);

		ocsf_process_entity_set_name(a, base_name(pe->anc[i]));
		ocsf_process_entity_set_pid(a, (int32_t)pe->anc_pid[i]);
		ocsf_process_entity_set_path(a, pe->anc[i]);
	}
	if (pe->n_anc > 0) {
		struct ocsf_process *pp = ocsf_process_parent_process(p);

		ocsf_process_set_name(pp, base_name(pe->anc[0]));
		ocsf_process_set_pid(pp, (int32_t)pe->anc_pid[0]);
		ocsf_process_set_path(pp, pe->anc[0]);
	}
}

static const char *describe(struct ocsf_arena *a, const struct osh_proxy_evinfo *in)
{
	return ocsf_arena_printf(a, "%s:%u", in->host ? in->host : "-", in->port);
}

/* ----------------------------------------------------------- network */

static void net_common(struct ocsf_network_activity *ev, const struct osh_proxy_evinfo *in)
{
	endpoint(ocsf_network_activity_src_endpoint(ev), NULL, in->src_ip, in->src_port);
	if (in->host || in->dst_ip)
		endpoint(ocsf_network_activity_dst_endpoint(ev), in->host, in->dst_ip, in->port);
	if (in->peer && in->peer->exe)
		process(ocsf_actor_process(ocsf_network_activity_actor(ev)), in->peer);
	ocsf_network_activity_set_is_src_dst_assignment_known(ev, true);
	if (in->reason && *in->reason)
		ocsf_network_activity_set_status_detail(ev, in->reason);
	if (in->status)
		ocsf_network_activity_add_unmapped_int(ev, "http_status", in->status);
	if (in->generation)
		ocsf_network_activity_add_unmapped_int(ev, "policy_generation",
						       (int64_t)in->generation);
}

static void decided(struct ocsf_network_activity *ev, bool allow)
{
	ocsf_network_activity_set_action_id(ev,
					    allow ? OCSF_ACTION_ID_ALLOWED : OCSF_ACTION_ID_DENIED);
	ocsf_network_activity_set_disposition_id(ev, allow ? OCSF_DISPOSITION_ID_ALLOWED
							   : OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_network_activity_set_status_id(ev, allow ? OCSF_STATUS_ID_SUCCESS
						      : OCSF_STATUS_ID_FAILURE);
}

void osh_proxy_ev_connect(const struct osh_proxy_evinfo *in, bool allow)
{
	struct ocsf_network_activity ev;
	struct ocsf_firewall_rule *r;

	if (allow)
		osh_site_init_connect_allow(&ev);
	else
		osh_site_init_connect_deny(&ev);
	decided(&ev, allow);
	net_common(&ev, in);
	r = ocsf_network_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_name(r, in->policy ? in->policy : "-");
	ocsf_firewall_rule_set_type(r, RULE_TYPE);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "CONNECT %s %s%s%s", describe(&ev.ev.arena, in),
				   allow ? "allowed by " : "denied: ",
				   allow ? (in->policy ? in->policy : "-")
					 : (in->reason ? in->reason : "-"),
				   ""));
	osh_emit(&ev);
}

void osh_proxy_ev_upstream_fail(const struct osh_proxy_evinfo *in)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_upstream_fail(&ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	net_common(&ev, in);
	if (in->policy)
		ocsf_firewall_rule_set_name(ocsf_network_activity_firewall_rule(&ev), in->policy);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "upstream %s unreachable: %s",
				   describe(&ev.ev.arena, in), in->reason ? in->reason : "-"));
	osh_emit(&ev);
}

void osh_proxy_ev_bad_request(const struct osh_proxy_evinfo *in)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_bad_request(&ev);
	decided(&ev, false);
	net_common(&ev, in);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "bad proxy request (%d): %s", in->status,
				   in->reason ? in->reason : "-"));
	osh_emit(&ev);
}

void osh_proxy_ev_conn_limit(const char *src_ip, uint16_t src_port, unsigned limit)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_conn_limit(&ev);
	decided(&ev, false);
	endpoint(ocsf_network_activity_src_endpoint(&ev), NULL, src_ip, src_port);
	ocsf_network_activity_set_status_detail(&ev, "proxy connection limit reached");
	ocsf_network_activity_add_unmapped_int(&ev, "limit", limit);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "connection refused: limit of %u reached", limit));
	osh_emit(&ev);
}

void osh_proxy_ev_head_timeout(const char *src_ip, uint16_t src_port, unsigned ms,
			       unsigned long bytes)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_head_timeout(&ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	endpoint(ocsf_network_activity_src_endpoint(&ev), NULL, src_ip, src_port);
	ocsf_network_activity_set_status_detail(&ev, "request head not received in time");
	ocsf_network_activity_add_unmapped_int(&ev, "timeout_ms", ms);
	ocsf_network_activity_add_unmapped_int(&ev, "bytes_received", (int64_t)bytes);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "closed: no complete request head within %u ms (%lu bytes)", ms,
				   bytes));
	osh_emit(&ev);
}

/* The listener's own address is the destination clients connect to. */
static void listener(const char *ip, uint16_t port, struct ocsf_network_activity *ev)
{
	endpoint(ocsf_network_activity_dst_endpoint(ev), NULL, ip, port);
}

void osh_proxy_ev_listen(const char *ip, uint16_t port, unsigned max_conns)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_listen(&ev);
	listener(ip, port, &ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_network_activity_add_unmapped_int(&ev, "max_connections", max_conns);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "egress proxy listening on %s:%u", ip, port));
	osh_emit(&ev);
}

void osh_proxy_ev_listen_failed(const char *ip, uint16_t port, const char *why)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_listen_failed(&ev);
	listener(ip, port, &ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_network_activity_set_status_detail(&ev, why);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "egress proxy cannot listen on %s:%u: %s", ip,
				   port, why));
	osh_emit(&ev);
}

void osh_proxy_ev_stop(const char *ip, uint16_t port, uint64_t served)
{
	struct ocsf_network_activity ev;

	osh_site_init_proxy_stop(&ev);
	listener(ip, port, &ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_network_activity_add_unmapped_int(&ev, "connections_served", (int64_t)served);
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "egress proxy on %s:%u stopped", ip, port));
	osh_emit(&ev);
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

void osh_proxy_ev_forward(const struct osh_proxy_evinfo *in, bool allow)
{
	struct ocsf_http_activity ev;
	enum ocsf_http_activity_activity_id act = method_activity(in->method);
	struct ocsf_http_request *rq;
	struct ocsf_url *u;
	struct ocsf_firewall_rule *r;

	if (allow)
		osh_site_init_forward_allow(&ev, act);
	else
		osh_site_init_forward_deny(&ev, act);
	if (act == OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OTHER)
		ocsf_http_activity_set_activity_name(&ev, in->method ? in->method : "-");
	ocsf_http_activity_set_action_id(&ev,
					 allow ? OCSF_ACTION_ID_ALLOWED : OCSF_ACTION_ID_DENIED);
	ocsf_http_activity_set_disposition_id(&ev, allow ? OCSF_DISPOSITION_ID_ALLOWED
							 : OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_http_activity_set_status_id(&ev,
					 allow ? OCSF_STATUS_ID_SUCCESS : OCSF_STATUS_ID_FAILURE);
	rq = ocsf_http_activity_http_request(&ev);
	ocsf_http_request_set_http_method(rq, in->method ? in->method : "-");
	u = ocsf_http_request_url(rq);
	ocsf_url_set_scheme(u, "http");
	if (in->host)
		ocsf_url_set_hostname(u, in->host);
	ocsf_url_set_port(u, in->port);
	if (in->path)
		ocsf_url_set_path(u, in->path);
	endpoint(ocsf_http_activity_src_endpoint(&ev), NULL, in->src_ip, in->src_port);
	endpoint(ocsf_http_activity_dst_endpoint(&ev), in->host, in->dst_ip, in->port);
	if (in->peer && in->peer->exe)
		process(ocsf_actor_process(ocsf_http_activity_actor(&ev)), in->peer);
	r = ocsf_http_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_name(r, in->policy ? in->policy : "-");
	ocsf_firewall_rule_set_type(r, RULE_TYPE);
	if (in->reason && *in->reason)
		ocsf_http_activity_set_status_detail(&ev, in->reason);
	if (in->status)
		ocsf_http_response_set_code(ocsf_http_activity_http_response(&ev), in->status);
	if (in->generation)
		ocsf_http_activity_add_unmapped_int(&ev, "policy_generation",
						    (int64_t)in->generation);
	ocsf_http_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "FORWARD %s http://%s%s %s%s",
				   in->method ? in->method : "-", describe(&ev.ev.arena, in),
				   in->path ? in->path : "", allow ? "allowed by " : "denied: ",
				   allow ? (in->policy ? in->policy : "-")
					 : (in->reason ? in->reason : "-")));
	osh_emit(&ev);
}

/* ----------------------------------------------------------- finding */

void osh_proxy_ev_ssrf(const struct osh_proxy_evinfo *in, enum osh_addr_class cls)
{
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;

	osh_site_init_ssrf_block(&ev);
	ocsf_detection_finding_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_detection_finding_set_confidence_id(&ev, OCSF_CONFIDENCE_ID_HIGH);
	ocsf_detection_finding_set_is_alert(&ev, true);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "ssrf-internal-address");
	ocsf_finding_info_set_title(fi, "Request to an internal address refused");
	ocsf_finding_info_set_desc(fi, in->reason ? in->reason : "-");
	ocsf_finding_info_add_types(fi, "ssrf");
	if (in->peer && in->peer->exe)
		process(ocsf_actor_process(ocsf_detection_finding_actor(&ev)), in->peer);
	ocsf_detection_finding_set_status_detail(&ev, in->reason ? in->reason : "-");
	ocsf_detection_finding_add_unmapped_str(&ev, "host", in->host ? in->host : "-");
	ocsf_detection_finding_add_unmapped_int(&ev, "port", in->port);
	ocsf_detection_finding_add_unmapped_str(&ev, "address_class",
						osh_proxy_addr_class_name(cls));
	ocsf_detection_finding_set_message(&ev, ocsf_arena_printf(&ev.ev.arena, "SSRF blocked: %s",
								  in->reason ? in->reason : "-"));
	osh_emit(&ev);
}

/* ------------------------------------------------------------ policy */

void osh_proxy_ev_policy(uint64_t generation, unsigned rules, bool applied, const char *error,
			 uint64_t kept_generation)
{
	struct ocsf_device_config_state_change ev;

	if (applied)
		osh_site_init_proxy_policy_applied(&ev);
	else
		osh_site_init_proxy_policy_rejected(&ev);
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, applied ? "applied" : "rejected");
	ocsf_device_config_state_change_set_status_id(&ev, applied ? OCSF_STATUS_ID_SUCCESS
								   : OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "policy_generation",
							 (int64_t)generation);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "network_rules", rules);
	if (!applied) {
		ocsf_device_config_state_change_set_status_detail(&ev, error ? error : "-");
		ocsf_device_config_state_change_add_unmapped_int(&ev, "kept_generation",
								 (int64_t)kept_generation);
	}
	ocsf_device_config_state_change_set_message(
	    &ev, applied
		     ? ocsf_arena_printf(&ev.ev.arena,
					 "network policy generation %llu applied to "
					 "connections through the proxy (%u rules)",
					 (unsigned long long)generation, rules)
		     : ocsf_arena_printf(&ev.ev.arena,
					 "network policy generation %llu refused by the "
					 "proxy, generation %llu stays: %s",
					 (unsigned long long)generation,
					 (unsigned long long)kept_generation, error ? error : "-"));
	osh_emit(&ev);
}
