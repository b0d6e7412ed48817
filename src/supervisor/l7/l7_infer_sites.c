/* l7_infer_sites.c - the OCSF log sites of inference.local (see
 * l7_infer_sites.h).
 *
 * DESIGN
 * One helper per shared OCSF object (the client process, endpoints, the
 * request URL, the route as firewall rule) so each site sets only what is
 * its own. Severity: a routed request is Informational; a refused one
 * Medium (the agent asked for something the tunnel does not serve); a
 * failure Low (the operator's endpoint, not the agent); a broken upstream
 * stream Medium (the agent got a truncated answer); a refused routes file
 * High (the supervisor does not start).
 */
#include "l7_infer_sites.h"

#include <stdio.h>
#include <string.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

#define RULE_TYPE "inference_route"
#define HOST	  "inference.local"

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s ? s + 1 : (p ? p : "");
}

static void process(struct ocsf_process *p, const struct osh_l7_infer_client *cl)
{
	ocsf_process_set_name(p, base_name(cl->exe));
	ocsf_process_set_path(p, cl->exe);
	if (cl->pid > 0)
		ocsf_process_set_pid(p, cl->pid);
}

static bool has_process(const struct osh_l7_infer_evinfo *in)
{
	return in->cl && in->cl->exe && *in->cl->exe;
}

static uint16_t tunnel_port(const struct osh_l7_infer_evinfo *in)
{
	uint16_t port = in->tls ? 443 : 80;

	if (in->cl && in->cl->connect_port)
		port = in->cl->connect_port;
	return port;
}

static void src(struct ocsf_network_endpoint *e, const struct osh_l7_infer_evinfo *in)
{
	if (in->cl && in->cl->src_ip && *in->cl->src_ip)
		ocsf_network_endpoint_set_ip(e, in->cl->src_ip);
	if (in->cl && in->cl->src_port)
		ocsf_network_endpoint_set_port(e, in->cl->src_port);
}

/* ------------------------------------------------------------- config */

void osh_l7_infer_ev_routes_loaded(const struct osh_l7_infer_routes *rs)
{
	struct ocsf_device_config_state_change ev;
	char names[512];
	size_t off = 0;
	size_t n = rs ? rs->n : 0;
	const char *source = rs && rs->source ? rs->source : "-";

	names[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(names); i++) {
		int k = snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
				 rs->r[i].name);

		off = k < 0 ? sizeof(names) : off + (size_t)k;
	}
	osh_site_init_infer_routes_loaded(&ev);
	ocsf_device_config_state_change_set_state_id(
	    &ev, n ? OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_ENABLED
		   : OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, "loaded");
	ocsf_device_config_state_change_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "source", source);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "routes", (int64_t)n);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "route_names", names);
	ocsf_device_config_state_change_set_message(
	    &ev, n ? ocsf_arena_printf(&ev.ev.arena, "inference routes from %s: %zu route%s (%s)",
				       source, n, n == 1 ? "" : "s", names)
		   : ocsf_arena_printf(&ev.ev.arena,
				       "inference routes from %s: none, inference.local "
				       "answers 503 (not configured)",
				       source));
	osh_emit(&ev);
}

void osh_l7_infer_ev_routes_failed(const char *source, const char *why)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_infer_routes_failed(&ev);
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, "refused");
	ocsf_device_config_state_change_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_status_detail(&ev, why ? why : "-");
	ocsf_device_config_state_change_add_unmapped_str(&ev, "source", source ? source : "-");
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "inference routes refused: %s; the supervisor does not start",
				   why ? why : "-"));
	osh_emit(&ev);
}

/* ----------------------------------------------------------- findings */

void osh_l7_infer_ev_intercept(const struct osh_l7_infer_evinfo *in)
{
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;
	const char *what;

	osh_site_init_infer_intercept(&ev);
	what = ocsf_arena_printf(&ev.ev.arena,
				 "CONNECT %s:%u served by the supervisor (%s): requests are "
				 "routed to the configured model endpoints with the "
				 "supervisor's credentials",
				 HOST, tunnel_port(in), in->tls ? "tls terminated" : "plain http");
	ocsf_detection_finding_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	ocsf_detection_finding_set_disposition_id(&ev, OCSF_DISPOSITION_ID_ALLOWED);
	ocsf_detection_finding_set_confidence_id(&ev, OCSF_CONFIDENCE_ID_HIGH);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "inference-interception");
	ocsf_finding_info_set_title(fi, "Inference request intercepted");
	ocsf_finding_info_set_desc(fi, what);
	ocsf_finding_info_add_types(fi, "inference");
	if (has_process(in))
		process(ocsf_actor_process(ocsf_detection_finding_actor(&ev)), in->cl);
	ocsf_detection_finding_add_unmapped_int(&ev, "port", tunnel_port(in));
	ocsf_detection_finding_add_unmapped_bool(&ev, "tls", in->tls);
	ocsf_detection_finding_set_message(&ev, what);
	osh_emit(&ev);
}

void osh_l7_infer_ev_chunk_error(const struct osh_l7_infer_evinfo *in)
{
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;
	const char *why = in->reason ? in->reason : "-";

	osh_site_init_infer_upstream_chunk_error(&ev);
	ocsf_detection_finding_set_status_id(&ev, OCSF_DETECTION_FINDING_STATUS_ID_NEW);
	ocsf_detection_finding_set_confidence_id(&ev, OCSF_CONFIDENCE_ID_HIGH);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "inference-upstream-chunk-error");
	ocsf_finding_info_set_title(fi, "Inference upstream response broken");
	ocsf_finding_info_set_desc(fi, why);
	ocsf_finding_info_add_types(fi, "inference");
	if (has_process(in))
		process(ocsf_actor_process(ocsf_detection_finding_actor(&ev)), in->cl);
	ocsf_detection_finding_set_status_detail(&ev, why);
	if (in->route) {
		ocsf_detection_finding_add_unmapped_str(&ev, "route", in->route->name);
		ocsf_detection_finding_add_unmapped_str(&ev, "upstream", in->route->endpoint);
	}
	ocsf_detection_finding_add_unmapped_int(&ev, "response_bytes", (int64_t)in->response_bytes);
	ocsf_detection_finding_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "inference answer from route %s cut after %llu bytes: %s",
				   in->route ? in->route->name : "-",
				   (unsigned long long)in->response_bytes, why));
	osh_emit(&ev);
}

/* ------------------------------------------------------------ network */

void osh_l7_infer_ev_bad_request(const struct osh_l7_infer_evinfo *in)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;
	const char *why = in->reason ? in->reason : "-";

	osh_site_init_infer_bad_request(&ev);
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_network_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	src(ocsf_network_activity_src_endpoint(&ev), in);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_hostname(dst, HOST);
	ocsf_network_endpoint_set_port(dst, tunnel_port(in));
	ocsf_network_activity_set_is_src_dst_assignment_known(&ev, true);
	if (has_process(in))
		process(ocsf_actor_process(ocsf_network_activity_actor(&ev)), in->cl);
	ocsf_network_activity_set_status_detail(&ev, why);
	if (in->status)
		ocsf_network_activity_add_unmapped_int(&ev, "http_status", in->status);
	ocsf_network_activity_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "bad inference request (%d): %s", in->status, why));
	osh_emit(&ev);
}

/* --------------------------------------------------------------- http */

static enum ocsf_http_activity_activity_id method_activity(const char *m)
{
	enum ocsf_http_activity_activity_id id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OTHER;

	if (m && strcmp(m, "GET") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET;
	else if (m && strcmp(m, "POST") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_POST;
	else if (m && strcmp(m, "PUT") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_PUT;
	else if (m && strcmp(m, "DELETE") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_DELETE;
	else if (m && strcmp(m, "HEAD") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_HEAD;
	else if (m && strcmp(m, "OPTIONS") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OPTIONS;
	else if (m && strcmp(m, "PATCH") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_PATCH;
	else if (m && strcmp(m, "TRACE") == 0)
		id = OCSF_HTTP_ACTIVITY_ACTIVITY_ID_TRACE;
	return id;
}

enum kind { ROUTED, DENIED, FAILED };

static void http_event(const struct osh_l7_infer_evinfo *in, enum kind k)
{
	struct ocsf_http_activity ev;
	enum ocsf_http_activity_activity_id act = method_activity(in->method);
	struct ocsf_http_request *rq;
	struct ocsf_url *u;
	struct ocsf_firewall_rule *r;
	const char *scheme = in->tls ? "https" : "http";
	const char *path = in->path && *in->path ? in->path : "/";

	if (k == ROUTED)
		osh_site_init_infer_route(&ev, act);
	else if (k == DENIED)
		osh_site_init_infer_deny(&ev, act);
	else
		osh_site_init_infer_fail(&ev, act);
	if (act == OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OTHER)
		ocsf_http_activity_set_activity_name(&ev, in->method ? in->method : "-");
	if (k == ROUTED) {
		ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
		ocsf_http_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_ALLOWED);
	} else if (k == DENIED) {
		ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
		ocsf_http_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	}
	ocsf_http_activity_set_status_id(&ev, k == ROUTED ? OCSF_STATUS_ID_SUCCESS
							  : OCSF_STATUS_ID_FAILURE);
	rq = ocsf_http_activity_http_request(&ev);
	ocsf_http_request_set_http_method(rq, in->method ? in->method : "-");
	u = ocsf_http_request_url(rq);
	ocsf_url_set_scheme(u, scheme);
	ocsf_url_set_hostname(u, HOST);
	ocsf_url_set_port(u, tunnel_port(in));
	ocsf_url_set_path(u, path);
	src(ocsf_http_activity_src_endpoint(&ev), in);
	if (in->route) {
		struct ocsf_network_endpoint *d = ocsf_http_activity_dst_endpoint(&ev);

		ocsf_network_endpoint_set_hostname(d, in->route->host);
		ocsf_network_endpoint_set_port(d, in->route->port);
	}
	if (has_process(in))
		process(ocsf_actor_process(ocsf_http_activity_actor(&ev)), in->cl);
	r = ocsf_http_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_name(r, in->route ? in->route->name : "-");
	ocsf_firewall_rule_set_type(r, RULE_TYPE);
	if (in->status)
		ocsf_http_response_set_code(ocsf_http_activity_http_response(&ev), in->status);
	if (in->reason && *in->reason)
		ocsf_http_activity_set_status_detail(&ev, in->reason);
	if (in->duration_ms > 0)
		ocsf_http_activity_set_duration(&ev, in->duration_ms);
	if (in->proto)
		ocsf_http_activity_add_unmapped_str(&ev, "protocol",
						    osh_l7_infer_proto_name(in->proto));
	if (in->route) {
		ocsf_http_activity_add_unmapped_str(&ev, "route", in->route->name);
		ocsf_http_activity_add_unmapped_str(&ev, "model", in->route->model);
		ocsf_http_activity_add_unmapped_str(&ev, "upstream", in->route->endpoint);
	}
	if (k == ROUTED) {
		ocsf_http_activity_add_unmapped_int(&ev, "response_bytes",
						    (int64_t)in->response_bytes);
		ocsf_http_activity_add_unmapped_bool(&ev, "truncated", in->truncated);
		ocsf_http_activity_add_unmapped_str(
		    &ev, "credential_injected",
		    in->route && in->route->anthropic ? "x-api-key" : "authorization");
	}
	if (k == ROUTED)
		ocsf_http_activity_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena,
					   "inference %s %s routed to %s (route %s, model %s): %d",
					   in->method ? in->method : "-", path,
					   in->route ? in->route->endpoint : "-",
					   in->route ? in->route->name : "-",
					   in->route ? in->route->model : "-", in->status));
	else
		ocsf_http_activity_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena, "inference %s %s %s (%d): %s",
					   in->method ? in->method : "-", path,
					   k == DENIED ? "refused" : "failed", in->status,
					   in->reason ? in->reason : "-"));
	osh_emit(&ev);
}

void osh_l7_infer_ev_routed(const struct osh_l7_infer_evinfo *in)
{
	http_event(in, ROUTED);
}

void osh_l7_infer_ev_denied(const struct osh_l7_infer_evinfo *in)
{
	http_event(in, DENIED);
}

void osh_l7_infer_ev_failed(const struct osh_l7_infer_evinfo *in)
{
	http_event(in, FAILED);
}
