/* emit_samples.c - realistic events of every class for the storm tool, the
 * bench and tests.
 *
 * DESIGN: each sample mirrors a real OpenShell log site (CONNECT allow/deny,
 * FORWARD L7 decision, SSH handshake, process exit, bypass finding, SSH
 * server lifecycle, policy reload, namespace notice), so throughput and
 * latency figures reflect the event sizes the supervisor produces. Their
 * codes are registered as SAMPLE_* sites (schema/sites.yaml), distinct from
 * the real sites they mirror, so a sample line is never mistaken for one. With
 * `hostile` set, attacker-controlled values carry CR/LF, brackets, quotes,
 * control bytes, invalid UTF-8 and a long tail, as a proxied request could. */
#include "emit_samples.h"

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

static const char hostile_host[] = "evil.example\r\n2026-01-01T00:00:00.000Z OCSF NET:OPEN "
				   "[INFO] ALLOWED fake";
static const char hostile_path[] =
    "/a]b[c\"d\x1b[2J\xff\xfe/\xe2\x80\xa8"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static const char hostile_msg[] = "line one\nline two\r\n\t[reason:fake] \"quoted\" \\ \x01\x7f "
				  "\xc3\x28 end";

static void actor(struct ocsf_process *p, unsigned i)
{
	ocsf_process_set_name(p, "/usr/bin/curl");
	ocsf_process_set_pid(p, (int32_t)(1000 + i % 50000));
	ocsf_process_set_cmd_line(p, "curl -sS https://api.github.com/zen");
}

static int net(unsigned i, bool hostile)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst, *src;
	struct ocsf_firewall_rule *r;
	bool deny = (i / 8) % 2 == 1;

	if (deny)
		osh_site_init_sample_net_deny(&ev);
	else
		osh_site_init_sample_net_allow(&ev);
	ocsf_network_activity_set_action_id(&ev,
					    deny ? OCSF_ACTION_ID_DENIED : OCSF_ACTION_ID_ALLOWED);
	ocsf_network_activity_set_disposition_id(&ev, deny ? OCSF_DISPOSITION_ID_BLOCKED
							   : OCSF_DISPOSITION_ID_ALLOWED);
	ocsf_network_activity_set_status_id(&ev,
					    deny ? OCSF_STATUS_ID_FAILURE : OCSF_STATUS_ID_SUCCESS);
	actor(ocsf_actor_process(ocsf_network_activity_actor(&ev)), i);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, hostile ? hostile_host : "api.github.com");
	ocsf_network_endpoint_set_port(dst, 443);
	src = ocsf_network_activity_src_endpoint(&ev);
	ocsf_network_endpoint_set_ip(src, "10.200.0.2");
	ocsf_network_endpoint_set_port(src, (uint16_t)(30000 + i % 30000));
	r = ocsf_network_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_name(r, deny ? "-" : "github_api");
	ocsf_firewall_rule_set_type(r, "opa");
	ocsf_network_activity_set_is_src_dst_assignment_known(&ev, true);
	if (deny)
		ocsf_network_activity_set_status_detail(&ev, hostile ? hostile_msg
								     : "endpoint not in policy");
	ocsf_network_activity_set_message(&ev, hostile ? hostile_msg
						       : "CONNECT allowed api.github.com:443");
	return osh_emit(&ev);
}

static int http(unsigned i, bool hostile)
{
	struct ocsf_http_activity ev;
	struct ocsf_http_request *rq;
	struct ocsf_url *u;

	osh_site_init_sample_http(&ev);
	ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	ocsf_http_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_ALLOWED);
	ocsf_http_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	actor(ocsf_actor_process(ocsf_http_activity_actor(&ev)), i);
	rq = ocsf_http_activity_http_request(&ev);
	ocsf_http_request_set_http_method(rq, "GET");
	u = ocsf_http_request_url(rq);
	ocsf_url_set_scheme(u, "http");
	ocsf_url_set_hostname(u, hostile ? hostile_host : "api.github.com");
	ocsf_url_set_port(u, (uint16_t)(i % 3 == 0 ? 8080 : 80));
	ocsf_url_set_path(u, hostile ? hostile_path : "/zen");
	ocsf_network_endpoint_set_domain(ocsf_http_activity_dst_endpoint(&ev), "api.github.com");
	ocsf_network_endpoint_set_port(ocsf_http_activity_dst_endpoint(&ev), 80);
	ocsf_firewall_rule_set_name(ocsf_http_activity_firewall_rule(&ev), "github_api");
	ocsf_firewall_rule_set_type(ocsf_http_activity_firewall_rule(&ev), "opa");
	ocsf_http_activity_set_message(&ev, "FORWARD allowed GET api.github.com:80/zen");
	return osh_emit(&ev);
}

static int ssh(unsigned i, bool hostile)
{
	struct ocsf_ssh_activity ev;
	struct ocsf_network_endpoint *src;

	osh_site_init_sample_ssh(&ev);
	ocsf_ssh_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	src = ocsf_ssh_activity_src_endpoint(&ev);
	ocsf_network_endpoint_set_ip(src, "10.42.0.1");
	ocsf_network_endpoint_set_port(src, (uint16_t)(40000 + i % 20000));
	ocsf_ssh_activity_set_auth_type_id(&ev, OCSF_AUTH_TYPE_ID_OTHER);
	ocsf_ssh_activity_set_auth_type(&ev, "NSSH1");
	ocsf_ssh_activity_set_message(&ev, hostile ? hostile_msg : "SSH handshake accepted");
	return osh_emit(&ev);
}

static int proc(unsigned i, bool hostile)
{
	struct ocsf_process_activity ev;
	struct ocsf_process *p;

	osh_site_init_sample_proc(&ev);
	ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, hostile ? hostile_host : "python3");
	ocsf_process_set_pid(p, (int32_t)(100 + i % 30000));
	ocsf_process_set_cmd_line(p, hostile ? hostile_path : "python3 /app/main.py");
	ocsf_process_activity_set_exit_code(&ev, (int32_t)(i % 3));
	/* actor is required: the supervisor that reaped the child. */
	p = ocsf_actor_process(ocsf_process_activity_actor(&ev));
	ocsf_process_set_name(p, "openshell-sandbox");
	ocsf_process_set_pid(p, 1);
	ocsf_process_activity_set_message(&ev, "Process exited");
	return osh_emit(&ev);
}

static int finding(unsigned i, bool hostile)
{
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;

	(void)i;
	osh_site_init_sample_finding(&ev);
	ocsf_detection_finding_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_detection_finding_set_confidence_id(&ev, OCSF_CONFIDENCE_ID_HIGH);
	ocsf_detection_finding_set_is_alert(&ev, true);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "bypass-detect");
	ocsf_finding_info_set_title(fi, hostile ? hostile_msg : "Proxy Bypass Detected");
	ocsf_finding_info_set_desc(fi, "direct connect bypassing the proxy");
	ocsf_detection_finding_set_message(&ev, "BYPASS_DETECT 93.184.216.34:443 proto=tcp");
	return osh_emit(&ev);
}

static int lifecycle(unsigned i, bool hostile)
{
	struct ocsf_application_lifecycle ev;

	(void)i;
	osh_site_init_sample_lifecycle(&ev);
	ocsf_application_lifecycle_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_product_set_name(ocsf_application_lifecycle_app(&ev), "OpenShell Sandbox Supervisor");
	ocsf_product_set_vendor_name(ocsf_application_lifecycle_app(&ev), "OpenShell");
	ocsf_application_lifecycle_set_message(
	    &ev, hostile ? hostile_msg : "SSH server is ready to accept connections");
	return osh_emit(&ev);
}

static int config(unsigned i, bool hostile)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_sample_config(&ev);
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, "loaded");
	ocsf_device_config_state_change_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev,
	    hostile ? hostile_msg : "Policy reloaded successfully [policy_hash:0cc0c2b525573c07]");
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_hash", "0cc0c2b525573c07");
	ocsf_device_config_state_change_add_unmapped_int(&ev, "revision", (int64_t)i);
	return osh_emit(&ev);
}

static int base(unsigned i, bool hostile)
{
	struct ocsf_base_event ev;

	osh_site_init_sample_event(&ev);
	ocsf_base_event_set_message(&ev, hostile ? hostile_msg : "Network namespace created");
	ocsf_base_event_add_unmapped_str(&ev, "ns",
					 hostile ? hostile_host : "openshell-sandbox-abc");
	ocsf_base_event_add_unmapped_int(&ev, "seq", (int64_t)i);
	ocsf_base_event_add_unmapped_bool(&ev, "ipv6", false);
	return osh_emit(&ev);
}

int osh_emit_sample(unsigned i, bool hostile)
{
	static int (*const builders[OSH_EMIT_SAMPLE_CLASSES])(unsigned, bool) = {
	    net, http, ssh, proc, finding, lifecycle, config, base,
	};

	return builders[i % OSH_EMIT_SAMPLE_CLASSES](i, hostile);
}
