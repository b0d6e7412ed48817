/* test_shorthand.c - exact shorthand strings for every class, the "why"
 * rules ([reason:], [msg:]), URL ports, and hostile values (CR/LF, brackets,
 * invalid UTF-8, 4 KiB messages).
 *
 * DESIGN: each test builds a real event with the generated setters and
 * compares the whole formatted line, so any grammar change shows up. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "emit_internal.h"
#include "ocsf_gen.h"
#include "shorthand.h"

static char line[4097];

static const char *fmt(struct ocsf_event *ev)
{
	size_t len = 0;

	cr_assert_eq(osh_emit_shorthand(ev, line, sizeof(line), &len), 0);
	cr_assert_eq(len, strlen(line));
	cr_assert_null(memchr(line, '\n', len));
	cr_assert_null(memchr(line, '\r', len));
	return line;
}

static void net_actor(struct ocsf_network_activity *ev, const char *name, int pid)
{
	struct ocsf_process *p = ocsf_actor_process(ocsf_network_activity_actor(ev));

	ocsf_process_set_name(p, name);
	ocsf_process_set_pid(p, pid);
}

Test(shorthand, net_allowed)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;
	struct ocsf_firewall_rule *r;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "CONNECT_ALLOW");
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	ocsf_network_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_ALLOWED);
	net_actor(&ev, "/usr/bin/curl", 58);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "api.github.com");
	ocsf_network_endpoint_set_port(dst, 443);
	r = ocsf_network_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_name(r, "github_api");
	ocsf_firewall_rule_set_type(r, "opa");
	ocsf_network_activity_set_message(&ev, "CONNECT allowed api.github.com:443");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:OPEN [INFO] ALLOWED /usr/bin/curl(58) -> api.github.com:443 "
			 "[policy:github_api engine:opa]");
}

Test(shorthand, net_denied_reason)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;
	struct ocsf_firewall_rule *r;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "CONNECT_SSRF");
	ocsf_network_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_MEDIUM);
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	net_actor(&ev, "/usr/bin/curl", 1618);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_ip(dst, "169.254.169.254");
	ocsf_network_endpoint_set_port(dst, 80);
	r = ocsf_network_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_type(r, "ssrf");
	ocsf_network_activity_set_status_detail(&ev, "resolves to always-blocked address");
	ocsf_network_activity_set_message(&ev, "CONNECT blocked: internal address");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:OPEN [MED] DENIED /usr/bin/curl(1618) -> 169.254.169.254:80 "
			 "[policy:- engine:ssrf] [reason:resolves to always-blocked "
			 "address]");
}

/* Fuzz finding (tests/fuzz/crashes/shorthand_fuzz/strict_process_name_bracket):
 * a process name is written outside any bracketed piece, so its brackets
 * (and parentheses) are escaped; it cannot forge "[policy:...]". */
Test(shorthand, process_name_cannot_forge_bracket_piece)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;
	struct ocsf_firewall_rule *r;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "CONNECT_DENY");
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	net_actor(&ev, "curl [policy:github_api engine:opa] (1)", 7);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "evil.example");
	r = ocsf_network_activity_firewall_rule(&ev);
	ocsf_firewall_rule_set_type(r, "opa");
	ocsf_network_activity_set_status_detail(&ev, "endpoint not in policy");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:OPEN [INFO] DENIED curl \\[policy:github_api engine:opa\\] "
			 "\\(1\\)(7) -> evil.example [policy:- engine:opa] "
			 "[reason:endpoint not in policy]");
}

/* A process without a name falls back to its path, escaped the same way. */
Test(shorthand, process_path_brackets_escaped)
{
	struct ocsf_process_activity ev;
	struct ocsf_process *p;

	ocsf_process_activity_init(&ev, OCSF_PROCESS_ACTIVITY_ACTIVITY_ID_LAUNCH, "PROC_LAUNCH");
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_path(p, "/tmp/x]y[");
	ocsf_process_set_pid(p, 3);
	cr_assert_str_eq(fmt(&ev.ev), "PROC:LAUNCH [INFO] /tmp/x\\]y\\[(3)");
}

Test(shorthand, net_denied_reason_falls_back_to_message)
{
	struct ocsf_network_activity ev;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_REFUSE, "X");
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_network_activity_set_message(&ev, "malformed inference request");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:REFUSE [INFO] DENIED [reason:malformed inference request]");
}

Test(shorthand, net_msg_when_no_detail)
{
	struct ocsf_network_activity ev;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OTHER, "DMESG_MISSING");
	ocsf_network_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_LOW);
	ocsf_network_activity_set_message(&ev, "dmesg not available; bypass monitor will not run");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:OTHER [LOW] [msg:dmesg not available; bypass monitor will "
			 "not run]");
}

Test(shorthand, net_fail_shows_reason_and_custom_activity_label)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_FAIL, "RELAY_ERR");
	ocsf_network_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_LOW);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "example.com");
	ocsf_network_endpoint_set_port(dst, 443);
	ocsf_network_activity_set_message(&ev, "TLS relay error: peer reset");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:FAIL [LOW] example.com:443 [reason:TLS relay error: peer "
			 "reset]");

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OTHER, "UPGRADE");
	ocsf_network_activity_set_activity_name(&ev, "Upgrade");
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "ws.example.com");
	ocsf_network_endpoint_set_port(dst, 80);
	ocsf_network_activity_set_message(&ev, "101 Switching Protocols");
	cr_assert_str_eq(fmt(&ev.ev), "NET:UPGRADE [INFO] ws.example.com:80");
}

Test(shorthand, net_protocol_suffix_and_listen)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_REFUSE, "BYPASS_DETECT");
	ocsf_network_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_MEDIUM);
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	net_actor(&ev, "node", 1234);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_ip(dst, "93.184.216.34");
	ocsf_network_endpoint_set_port(dst, 443);
	ocsf_network_connection_info_set_protocol_name(ocsf_network_activity_connection_info(&ev),
						       "tcp");
	ocsf_firewall_rule_set_name(ocsf_network_activity_firewall_rule(&ev), "bypass-detect");
	ocsf_firewall_rule_set_type(ocsf_network_activity_firewall_rule(&ev), "iptables");
	ocsf_network_activity_set_status_detail(&ev, "direct connect bypassing proxy");
	cr_assert_str_eq(fmt(&ev.ev),
			 "NET:REFUSE [MED] DENIED node(1234) -> 93.184.216.34:443/tcp "
			 "[policy:bypass-detect engine:iptables] [reason:direct connect "
			 "bypassing proxy]");

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_LISTEN, "PROXY_LISTEN");
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_ip(dst, "10.200.0.1");
	ocsf_network_endpoint_set_port(dst, 3128);
	ocsf_network_activity_set_message(&ev, "Proxy listening");
	cr_assert_str_eq(fmt(&ev.ev), "NET:LISTEN [INFO] 10.200.0.1:3128");
}

static struct ocsf_url *http_req(struct ocsf_http_activity *ev, const char *method)
{
	struct ocsf_http_request *rq = ocsf_http_activity_http_request(ev);

	ocsf_http_request_set_http_method(rq, method);
	return ocsf_http_request_url(rq);
}

Test(shorthand, http_allowed_default_port_hidden)
{
	struct ocsf_http_activity ev;
	struct ocsf_url *u;
	struct ocsf_process *p;

	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, "FORWARD_ALLOW");
	ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	p = ocsf_actor_process(ocsf_http_activity_actor(&ev));
	ocsf_process_set_name(p, "curl");
	ocsf_process_set_pid(p, 88);
	u = http_req(&ev, "GET");
	ocsf_url_set_scheme(u, "https");
	ocsf_url_set_hostname(u, "api.example.com");
	ocsf_url_set_port(u, 443);
	ocsf_url_set_path(u, "/v1/data");
	ocsf_url_set_query_string(u, "token=secret");
	ocsf_firewall_rule_set_name(ocsf_http_activity_firewall_rule(&ev), "default-egress");
	ocsf_firewall_rule_set_type(ocsf_http_activity_firewall_rule(&ev), "opa");
	cr_assert_str_eq(fmt(&ev.ev), "HTTP:GET [INFO] ALLOWED curl(88) -> GET "
				      "https://api.example.com/v1/data [policy:default-egress "
				      "engine:opa]");
}

Test(shorthand, http_nondefault_port_shown_and_denied_reason)
{
	struct ocsf_http_activity ev;
	struct ocsf_url *u;

	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_POST, "L7_DENY");
	ocsf_http_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_MEDIUM);
	ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	u = http_req(&ev, "POST");
	ocsf_url_set_scheme(u, "http");
	ocsf_url_set_hostname(u, "172.20.0.1");
	ocsf_url_set_port(u, 9876);
	ocsf_url_set_path(u, "/test");
	ocsf_firewall_rule_set_name(ocsf_http_activity_firewall_rule(&ev), "allow_host_9876");
	ocsf_firewall_rule_set_type(ocsf_http_activity_firewall_rule(&ev), "l7");
	ocsf_http_activity_set_status_detail(&ev, "POST not allowed on /test");
	cr_assert_str_eq(fmt(&ev.ev),
			 "HTTP:POST [MED] DENIED POST http://172.20.0.1:9876/test "
			 "[policy:allow_host_9876 engine:l7] [reason:POST not allowed on "
			 "/test]");

	/* http on 443 (TLS-terminated relay) shows the port; https on 443 does not. */
	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, "L7_ALLOW");
	u = http_req(&ev, "GET");
	ocsf_url_set_scheme(u, "http");
	ocsf_url_set_hostname(u, "httpbin.org");
	ocsf_url_set_port(u, 443);
	ocsf_url_set_path(u, "anything");
	cr_assert_str_eq(fmt(&ev.ev), "HTTP:GET [INFO] GET http://httpbin.org:443/anything");
}

/* Fuzz finding: a line that reaches a small cap inside a bracketed piece
 * ends in "...]", so the piece is closed (never left open) and the cut is on
 * a UTF-8 boundary. */
Test(shorthand, line_cut_at_cap_closes_bracket)
{
	struct ocsf_http_activity ev;
	struct ocsf_url *u;
	char host[121], path[241], rule[121], small[512];
	size_t len = 0;
	int open = 0;

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	memset(rule, 'r', sizeof(rule) - 1);
	rule[sizeof(rule) - 1] = '\0';
	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, "L7_DENY");
	ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	u = http_req(&ev, "GET");
	ocsf_url_set_scheme(u, "https");
	ocsf_url_set_hostname(u, host);
	ocsf_url_set_path(u, path);
	ocsf_firewall_rule_set_name(ocsf_http_activity_firewall_rule(&ev), rule);
	cr_assert_eq(osh_emit_shorthand(&ev.ev, small, sizeof(small), &len), 0);
	cr_assert_eq(len, strlen(small));
	cr_assert_lt(len, sizeof(small));
	cr_assert_geq(len, sizeof(small) - 8, "cut close to the cap, got %zu", len);
	cr_assert_str_eq(small + len - 4, "...]", "line: %s", small);
	for (size_t i = 0; i < len; i++) {
		if (small[i] == '[')
			open++;
		else if (small[i] == ']')
			open--;
		cr_assert(open == 0 || open == 1, "line: %s", small);
	}
	cr_assert_eq(open, 0, "line: %s", small);
	cr_assert_not_null(strstr(small, " [policy:rrrr"), "line: %s", small);
}

Test(shorthand, http_without_request_uses_endpoint_and_message)
{
	struct ocsf_http_activity ev;
	struct ocsf_network_endpoint *dst;

	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_OTHER, "FORWARD_PARSE");
	ocsf_http_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_LOW);
	ocsf_http_activity_set_message(&ev, "FORWARD parse error for ://bad");
	cr_assert_str_eq(fmt(&ev.ev), "HTTP:OTHER [LOW] [msg:FORWARD parse error for ://bad]");

	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_CONNECT, "FORWARD_HTTPS");
	ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	dst = ocsf_http_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "example.com");
	ocsf_network_endpoint_set_port(dst, 443);
	ocsf_http_activity_set_message(&ev, "HTTPS requires CONNECT");
	cr_assert_str_eq(fmt(&ev.ev), "HTTP:CONNECT [INFO] DENIED example.com:443 [reason:HTTPS "
				      "requires CONNECT]");
}

Test(shorthand, ssh)
{
	struct ocsf_ssh_activity ev;
	struct ocsf_network_endpoint *src;

	ocsf_ssh_activity_init(&ev, OCSF_SSH_ACTIVITY_ACTIVITY_ID_OPEN, "SSH_ACCEPT");
	ocsf_ssh_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	src = ocsf_ssh_activity_src_endpoint(&ev);
	ocsf_network_endpoint_set_ip(src, "10.42.0.1");
	ocsf_network_endpoint_set_port(src, 48201);
	ocsf_ssh_activity_set_auth_type_id(&ev, OCSF_AUTH_TYPE_ID_OTHER);
	ocsf_ssh_activity_set_auth_type(&ev, "NSSH1");
	cr_assert_str_eq(fmt(&ev.ev), "SSH:OPEN [INFO] ALLOWED 10.42.0.1:48201 [auth:NSSH1]");

	ocsf_ssh_activity_init(&ev, OCSF_SSH_ACTIVITY_ACTIVITY_ID_FAIL, "SSH_CONN_FAIL");
	ocsf_ssh_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_LOW);
	ocsf_ssh_activity_set_message(&ev, "SSH connection failed: reset");
	cr_assert_str_eq(fmt(&ev.ev), "SSH:FAIL [LOW] [reason:SSH connection failed: reset]");

	ocsf_ssh_activity_init(&ev, OCSF_SSH_ACTIVITY_ACTIVITY_ID_OPEN, "SSH_PUBKEY");
	ocsf_ssh_activity_set_auth_type_id(&ev, OCSF_AUTH_TYPE_ID_PUBLIC_KEY);
	ocsf_ssh_activity_set_message(&ev, "accepted");
	cr_assert_str_eq(fmt(&ev.ev), "SSH:OPEN [INFO] [auth:Public Key]");
}

Test(shorthand, process)
{
	struct ocsf_process_activity ev;
	struct ocsf_process *p;

	ocsf_process_activity_init(&ev, OCSF_PROCESS_ACTIVITY_ACTIVITY_ID_LAUNCH, "PROC_LAUNCH");
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, "python3");
	ocsf_process_set_pid(p, 42);
	ocsf_process_set_cmd_line(p, "python3 /app/main.py");
	cr_assert_str_eq(fmt(&ev.ev), "PROC:LAUNCH [INFO] python3(42) [cmd:python3 /app/main.py]");

	ocsf_process_activity_init(&ev, OCSF_PROCESS_ACTIVITY_ACTIVITY_ID_TERMINATE, "PROC_EXIT");
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, "python3");
	ocsf_process_set_pid(p, 42);
	ocsf_process_activity_set_exit_code(&ev, 0);
	ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	cr_assert_str_eq(fmt(&ev.ev), "PROC:TERMINATE [INFO] python3(42) [exit:0]");

	ocsf_process_activity_init(&ev, OCSF_PROCESS_ACTIVITY_ACTIVITY_ID_TERMINATE,
				   "PROC_TIMEOUT");
	ocsf_process_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_CRITICAL);
	ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_process_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, "sleep");
	ocsf_process_set_pid(p, 49);
	ocsf_process_activity_set_status_detail(&ev, "timed out after 5s, killed");
	cr_assert_str_eq(fmt(&ev.ev),
			 "PROC:TERMINATE [CRIT] DENIED sleep(49) [reason:timed out after "
			 "5s, killed]");
}

Test(shorthand, finding)
{
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;

	ocsf_detection_finding_init(&ev, OCSF_DETECTION_FINDING_ACTIVITY_ID_CREATE, "NSSH1_REPLAY");
	ocsf_detection_finding_set_severity_id(&ev, OCSF_SEVERITY_ID_HIGH);
	ocsf_detection_finding_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_detection_finding_set_confidence_id(&ev, OCSF_CONFIDENCE_ID_HIGH);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "nssh1-nonce-replay");
	ocsf_finding_info_set_title(fi, "NSSH1 Nonce Replay Attack");
	ocsf_detection_finding_set_status_detail(&ev, "nonce seen twice");
	cr_assert_str_eq(fmt(&ev.ev),
			 "FINDING:BLOCKED [HIGH] \"NSSH1 Nonce Replay Attack\" "
			 "[type:nssh1-nonce-replay confidence:high] [reason:nonce seen "
			 "twice]");

	ocsf_detection_finding_init(&ev, OCSF_DETECTION_FINDING_ACTIVITY_ID_CREATE, "LANDLOCK");
	ocsf_detection_finding_set_severity_id(&ev, OCSF_SEVERITY_ID_HIGH);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "landlock-unavailable");
	ocsf_finding_info_set_title(fi, "Landlock \"Filesystem\" Sandbox Unavailable");
	cr_assert_str_eq(fmt(&ev.ev), "FINDING:CREATE [HIGH] \"Landlock \\\"Filesystem\\\" Sandbox "
				      "Unavailable\" [type:landlock-unavailable]");
}

Test(shorthand, lifecycle)
{
	struct ocsf_application_lifecycle ev;

	ocsf_application_lifecycle_init(&ev, OCSF_APPLICATION_LIFECYCLE_ACTIVITY_ID_START,
					"SSH_READY");
	ocsf_application_lifecycle_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_product_set_name(ocsf_application_lifecycle_app(&ev), "OpenShell Sandbox Supervisor");
	cr_assert_str_eq(fmt(&ev.ev),
			 "LIFECYCLE:START [INFO] OpenShell Sandbox Supervisor success");

	ocsf_application_lifecycle_init(&ev, OCSF_APPLICATION_LIFECYCLE_ACTIVITY_ID_STOP,
					"SSH_FAIL");
	ocsf_application_lifecycle_set_severity_id(&ev, OCSF_SEVERITY_ID_CRITICAL);
	ocsf_application_lifecycle_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_product_set_name(ocsf_application_lifecycle_app(&ev), "OpenShell Sandbox Supervisor");
	ocsf_application_lifecycle_set_message(&ev, "SSH server failed: address in use");
	cr_assert_str_eq(fmt(&ev.ev), "LIFECYCLE:STOP [CRIT] OpenShell Sandbox Supervisor failure "
				      "[reason:SSH server failed: address in use]");
}

Test(shorthand, config)
{
	struct ocsf_device_config_state_change ev;

	ocsf_device_config_state_change_init(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_ACTIVITY_ID_LOG,
					     "POLICY_RELOADED");
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, "loaded");
	ocsf_device_config_state_change_set_message(&ev, "policy reloaded");
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_version", "v3");
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_hash", "sha256:abc123");
	cr_assert_str_eq(fmt(&ev.ev), "CONFIG:LOADED [INFO] policy reloaded [version:v3 "
				      "hash:sha256:abc123]");

	ocsf_device_config_state_change_init(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_ACTIVITY_ID_LOG,
					     "NETNS_CLEANED");
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, "cleaned up");
	ocsf_device_config_state_change_set_message(&ev, "Network namespace cleaned up [ns:x]");
	cr_assert_str_eq(fmt(&ev.ev),
			 "CONFIG:CLEANED_UP [INFO] Network namespace cleaned up [ns:x]");

	ocsf_device_config_state_change_init(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_ACTIVITY_ID_LOG,
					     "TLS_DISABLED");
	ocsf_device_config_state_change_set_severity_id(&ev, OCSF_SEVERITY_ID_MEDIUM);
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_DISABLED);
	ocsf_device_config_state_change_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_status_detail(&ev, "EACCES writing /etc/ca.pem");
	ocsf_device_config_state_change_set_message(&ev, "TLS termination disabled");
	cr_assert_str_eq(fmt(&ev.ev), "CONFIG:DISABLED [MED] TLS termination disabled "
				      "[reason:EACCES writing /etc/ca.pem]");
}

Test(shorthand, base_event)
{
	struct ocsf_base_event ev;

	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "NETNS_CREATED");
	ocsf_base_event_set_message(&ev, "Network namespace created");
	ocsf_base_event_add_unmapped_str(&ev, "ns", "openshell-sandbox-abc123");
	ocsf_base_event_add_unmapped_int(&ev, "veths", 2);
	ocsf_base_event_add_unmapped_bool(&ev, "ipv6", false);
	ocsf_base_event_add_unmapped_str(&ev, "fourth", "not shown");
	cr_assert_str_eq(fmt(&ev.ev), "EVENT [INFO] Network namespace created "
				      "[ns:openshell-sandbox-abc123 veths:2 ipv6:false]");

	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "EMPTY");
	cr_assert_str_eq(fmt(&ev.ev), "EVENT [INFO] event");
}

Test(shorthand, severity_tags)
{
	static const struct {
		enum ocsf_severity_id id;
		const char *tag;
	} cases[] = {
	    {OCSF_SEVERITY_ID_UNKNOWN, "INFO"}, {OCSF_SEVERITY_ID_INFORMATIONAL, "INFO"},
	    {OCSF_SEVERITY_ID_LOW, "LOW"},	{OCSF_SEVERITY_ID_MEDIUM, "MED"},
	    {OCSF_SEVERITY_ID_HIGH, "HIGH"},	{OCSF_SEVERITY_ID_CRITICAL, "CRIT"},
	    {OCSF_SEVERITY_ID_FATAL, "FATAL"},	{OCSF_SEVERITY_ID_OTHER, "INFO"},
	};
	char want[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ocsf_base_event ev;

		ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "SEV");
		ocsf_base_event_set_severity_id(&ev, cases[i].id);
		ocsf_base_event_set_message(&ev, "m");
		snprintf(want, sizeof(want), "EVENT [%s] m", cases[i].tag);
		cr_assert_str_eq(fmt(&ev.ev), want);
	}
}

/* --------------------------------------------------------- hostile values */

Test(shorthand, hostile_newlines_and_brackets)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "H1");
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	net_actor(&ev, "evil\n2026-01-01T00:00:00.000Z OCSF NET:OPEN [INFO] ALLOWED", 7);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "a]b[c.example\r\n");
	ocsf_network_activity_set_status_detail(&ev, "x] [policy:fake engine:opa");
	cr_assert_str_eq(
	    fmt(&ev.ev),
	    "NET:OPEN [INFO] DENIED evil\\n2026-01-01T00:00:00.000Z OCSF NET:OPEN "
	    "\\[INFO\\] ALLOWED(7) -> a\\]b\\[c.example\\r\\n [reason:x\\] \\[policy:fake "
	    "engine:opa]");
}

Test(shorthand, hostile_control_and_invalid_utf8)
{
	struct ocsf_base_event ev;

	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "H2");
	/* ESC sequence, DEL, NUL-free C0, invalid byte, truncated sequence,
	 * overlong '/', U+2028, a valid 'é' and a valid emoji. */
	ocsf_base_event_set_message(&ev, "a\x1b[31mb\x7f\x01 \xff \xe2\x82 \xc0\xaf "
					 "\xe2\x80\xa8 \xc3\xa9 \xf0\x9f\x98\x80\t\\");
	cr_assert_str_eq(fmt(&ev.ev),
			 "EVENT [INFO] a\\x1b[31mb\\x7f\\x01 \\xff \\xe2\\x82 \\xc0\\xaf "
			 "\\u{2028} \xc3\xa9 \xf0\x9f\x98\x80\\t\\\\");
}

Test(shorthand, long_message_truncated_on_utf8_boundary)
{
	static char msg[4096 + 1];
	struct ocsf_base_event ev;
	const char *out;
	size_t body, n;

	/* 2-byte characters so a byte cut at the budget would split one. */
	for (n = 0; n + 2 <= 4096; n += 2) {
		msg[n] = (char)0xc3;
		msg[n + 1] = (char)0xa9;
	}
	msg[n] = '\0';
	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "LONG");
	ocsf_base_event_set_message(&ev, msg);
	out = fmt(&ev.ev);
	cr_assert(strncmp(out, "EVENT [INFO] ", 13) == 0);
	body = strlen(out) - 13;
	cr_assert_leq(body, OSH_SH_TEXT_BUDGET);
	cr_assert_geq(body, OSH_SH_TEXT_BUDGET - 2);
	cr_assert_str_eq(out + strlen(out) - 3, "...");
	/* Everything before the marker is whole 2-byte characters. */
	cr_assert_eq((body - 3) % 2, 0);
	for (size_t i = 13; i < strlen(out) - 3; i += 2)
		cr_assert(out[i] == (char)0xc3 && out[i + 1] == (char)0xa9);
}

Test(shorthand, long_values_everywhere_stay_in_budget)
{
	static char big[4097];
	struct ocsf_http_activity ev;
	struct ocsf_url *u;
	struct ocsf_process *p;
	size_t len = 0;

	memset(big, 'A', 4096);
	big[100] = '\n';
	ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, "BIG");
	ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	p = ocsf_actor_process(ocsf_http_activity_actor(&ev));
	ocsf_process_set_name(p, big);
	ocsf_process_set_pid(p, 1);
	u = http_req(&ev, big);
	ocsf_url_set_hostname(u, big);
	ocsf_url_set_path(u, big);
	ocsf_firewall_rule_set_name(ocsf_http_activity_firewall_rule(&ev), big);
	ocsf_firewall_rule_set_type(ocsf_http_activity_firewall_rule(&ev), big);
	ocsf_http_activity_set_status_detail(&ev, big);
	ocsf_http_activity_set_message(&ev, big);
	cr_assert_eq(osh_emit_shorthand(&ev.ev, line, sizeof(line), &len), 0);
	cr_assert_lt(len, 2048);
	cr_assert_null(memchr(line, '\n', len));
	cr_assert(strstr(line, "[reason:") != NULL);
	cr_assert(strstr(line, "...]") != NULL);
}

Test(shorthand, rejects_bad_arguments)
{
	struct ocsf_base_event ev;
	char small[100];
	size_t len;

	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "X");
	cr_assert_eq(osh_emit_shorthand(NULL, line, sizeof(line), &len), OSH_EINVAL);
	cr_assert_eq(osh_emit_shorthand(&ev.ev, small, sizeof(small), &len), OSH_ETOOBIG);
}

/* Every C0 control, DEL and every C1 control (U+0080..U+009F), alone
 * between two letters, through the escaper and through a whole shorthand
 * line: CR/LF/TAB as \r \n \t, the other C0 and DEL as \xHH, C1 as
 * \u{00HH}; the expected text is built here from the documented rule, not
 * from the code's tables (audit mutant M2: VT once went through raw). */
Test(shorthand, every_c0_c1_control_byte_is_escaped)
{
	for (unsigned c = 0; c <= 0x9f; c++) {
		char in[4], want[32], out[64], msg[8];
		size_t n = 0, pos = 0;
		struct ocsf_base_event ev;
		char wline[64];

		if (c >= 0x20 && c < 0x7f)
			continue;
		in[n++] = 'a';
		if (c < 0x80) {
			in[n++] = (char)c;
		} else {
			in[n++] = (char)0xc2; /* UTF-8 of U+0080..U+009F */
			in[n++] = (char)c;
		}
		in[n++] = 'b';
		if (c == '\n')
			snprintf(want, sizeof(want), "a\\nb");
		else if (c == '\r')
			snprintf(want, sizeof(want), "a\\rb");
		else if (c == '\t')
			snprintf(want, sizeof(want), "a\\tb");
		else if (c < 0x80)
			snprintf(want, sizeof(want), "a\\x%02xb", c);
		else
			snprintf(want, sizeof(want), "a\\u{%04x}b", c);
		osh_emit_escape(out, sizeof(out), &pos, in, n, 64, NULL);
		cr_assert_str_eq(out, want, "control 0x%02x", c);
		if (c == 0)
			continue; /* a C string cannot carry NUL into the event */
		memcpy(msg, in, n);
		msg[n] = '\0';
		ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "CTL");
		ocsf_base_event_set_message(&ev, msg);
		snprintf(wline, sizeof(wline), "EVENT [INFO] %s", want);
		cr_assert_str_eq(fmt(&ev.ev), wline, "control 0x%02x in a line", c);
	}
}

/* Well-formed UTF-8 (RFC 3629 structure: lead byte, the right number of
 * continuation bytes, no overlong 2-byte form, no surrogates, <= U+10FFFF),
 * written here independently of src/common/osh_utf8. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0u) != 0x80u)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3fu);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* A line cut at the cap inside a bracketed piece of multi-byte text (2-,
 * 3- and 4-byte characters at every phase) stays valid UTF-8 and closes the
 * piece, for every cap from the contract's minimum 512 up (audit mutant M5:
 * without the continuation-byte backtrack the cut split a character). */
Test(shorthand, line_cut_at_cap_is_valid_utf8_with_multibyte_text)
{
	static const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
	struct ocsf_http_activity ev;
	struct ocsf_url *u;
	static char rule[200], host[121], path[241], out[700];
	int cuts = 0;

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	for (size_t ci = 0; ci < 3; ci++) {
		for (size_t lead = 0; lead < 4; lead++) {
			size_t n = 0, w = strlen(chars[ci]);

			for (; n < lead; n++)
				rule[n] = 'r';
			while (n + w < sizeof(rule) - 1) {
				memcpy(rule + n, chars[ci], w);
				n += w;
			}
			rule[n] = '\0';
			ocsf_http_activity_init(&ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, "L7_DENY");
			ocsf_http_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
			u = http_req(&ev, "GET");
			ocsf_url_set_scheme(u, "https");
			ocsf_url_set_hostname(u, host);
			ocsf_url_set_path(u, path);
			ocsf_firewall_rule_set_name(ocsf_http_activity_firewall_rule(&ev), rule);
			for (size_t cap = 512; cap <= sizeof(out); cap++) {
				size_t len = 0;

				cr_assert_eq(osh_emit_shorthand(&ev.ev, out, cap, &len), 0);
				cr_assert_lt(len, cap);
				cr_assert(valid_utf8((const unsigned char *)out, len),
					  "invalid UTF-8 at cap %zu (char %zu, lead %zu): %s", cap,
					  ci, lead, out);
				if (len >= 4 && strcmp(out + len - 4, "...]") == 0 &&
				    strstr(out, " [policy:") != NULL)
					cuts++;
			}
		}
	}
	/* The cap cut inside the multi-byte rule name at many caps. */
	cr_assert_gt(cuts, 200, "only %d cuts inside [policy:...]", cuts);
}
