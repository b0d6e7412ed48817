/* net_sites.c - the OCSF log sites of supervisor/net (rows in schema/sites.yaml).
 *
 * DESIGN
 * One function per site, built on the stack with the generated builders.
 * Each site starts with its registry init (generated/c/osh_sites.h: class,
 * activity, code, default severity). The namespace's own life (ready, rules installed, unavailable,
 * failed, torn down, leftovers removed, monitor started/unavailable) is Application Lifecycle
 * (6002) with the app `openshell-sandbox/net`; each message says plainly whether network policy is
 * enforced, so no event claims a protection that is not in place. A bypass attempt is the dual emit
 * of one Network Activity (4001, Refuse, observed at the source: the rules run in the sandbox's own
 * OUTPUT hook) and one Detection Finding (2004, MITRE ATT&CK T1090.003 under TA0011) carrying the
 * same attempt uid, the endpoints and the process when it was resolved.
 */
#include "net_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

#ifndef OSH_VERSION
#define OSH_VERSION "0.0.0"
#endif

#define APP_NAME "openshell-sandbox/net"

/* The common part of every lifecycle site, after its registry init. */
static void lifecycle(struct ocsf_application_lifecycle *ev, enum ocsf_status_id status)
{
	struct ocsf_product *app;

	if (status != OCSF_STATUS_ID_UNKNOWN)
		ocsf_application_lifecycle_set_status_id(ev, status);
	app = ocsf_application_lifecycle_app(ev);
	ocsf_product_set_name(app, APP_NAME);
	ocsf_product_set_vendor_name(app, "OpenShell");
	ocsf_product_set_version(app, OSH_VERSION);
}

static void info_unmapped(struct ocsf_application_lifecycle *ev, const struct net_info *i)
{
	ocsf_application_lifecycle_add_unmapped_str(ev, "host_ip", i->host_ip);
	ocsf_application_lifecycle_add_unmapped_str(ev, "sandbox_ip", i->sandbox_ip);
	ocsf_application_lifecycle_add_unmapped_str(ev, "host_if", i->host_if);
	ocsf_application_lifecycle_add_unmapped_int(ev, "slot", (int64_t)i->slot);
}

void net_ev_ready(const struct net_info *i)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_netns_ready(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "network namespace ready: sandbox %s/30 on %s, host end %s "
				   "(rules not yet installed)",
				   i->sandbox_ip, i->host_if, i->host_ip));
	info_unmapped(&ev, i);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "range", i->range);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "setup_us", i->setup_us);
	osh_emit(&ev);
}

void net_ev_unavailable(const char *why, bool off_by_operator)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_netns_unavailable(&ev);
	ocsf_application_lifecycle_set_severity_id(&ev, off_by_operator ? OCSF_SEVERITY_ID_LOW
									: OCSF_SEVERITY_ID_MEDIUM);
	lifecycle(&ev, off_by_operator ? OCSF_STATUS_ID_UNKNOWN : OCSF_STATUS_ID_FAILURE);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "network namespace unavailable: %s; the command uses the host "
				   "network, network policy is NOT enforced",
				   why));
	ocsf_application_lifecycle_set_status_detail(&ev, why);
	ocsf_application_lifecycle_add_unmapped_bool(&ev, "network_enforced", false);
	osh_emit(&ev);
}

void net_ev_failed(const char *step, const char *why)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_netns_failed(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "network namespace set-up failed at %s: %s", step,
				   why));
	ocsf_application_lifecycle_set_status_detail(&ev, why);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "step", step);
	ocsf_application_lifecycle_add_unmapped_bool(&ev, "network_enforced", false);
	osh_emit(&ev);
}

void net_ev_stale_cleaned(int count, const char *what)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_netns_stale_cleaned(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "removed %d leftover(s) of dead supervisors: %s",
				   count, what));
	ocsf_application_lifecycle_add_unmapped_int(&ev, "removed", count);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "items", what);
	osh_emit(&ev);
}

void net_ev_rules_installed(const struct net_info *i, uint16_t proxy_port, int64_t us)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_net_rules_installed(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_SUCCESS);
	if (proxy_port)
		ocsf_application_lifecycle_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena,
					   "network policy enforced: the sandbox reaches only the "
					   "proxy %s:%u; everything else is logged and refused",
					   i->host_ip, (unsigned)proxy_port));
	else
		ocsf_application_lifecycle_set_message(
		    &ev, "network policy enforced: no proxy, every connection out of the "
			 "sandbox is logged and refused");
	info_unmapped(&ev, i);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "proxy_port", proxy_port);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "log_prefix", i->prefix);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "install_us", us);
	ocsf_application_lifecycle_add_unmapped_bool(&ev, "network_enforced", true);
	osh_emit(&ev);
}

void net_ev_rules_failed(const struct net_info *i, const char *why)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_net_rules_failed(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_application_lifecycle_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena,
			      "nftables rules not installed: %s; the namespace stays (only "
			      "the host end %s is routable) but network policy is NOT enforced",
			      why, i->host_ip));
	ocsf_application_lifecycle_set_status_detail(&ev, why);
	info_unmapped(&ev, i);
	ocsf_application_lifecycle_add_unmapped_bool(&ev, "network_enforced", false);
	osh_emit(&ev);
}

void net_ev_monitor_start(const char *prefix)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_bypass_monitor_start(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "bypass monitor reading /dev/kmsg for \"%s\"", prefix));
	ocsf_application_lifecycle_add_unmapped_str(&ev, "log_prefix", prefix);
	osh_emit(&ev);
}

void net_ev_monitor_unavailable(const char *why)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_bypass_monitor_unavailable(&ev);
	lifecycle(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "bypass monitor unavailable: %s; direct connections are still "
				   "refused but not reported",
				   why));
	ocsf_application_lifecycle_set_status_detail(&ev, why);
	osh_emit(&ev);
}

void net_ev_teardown(const struct net_info *i, const struct osh_net_stats *st, int64_t us,
		     const char *problems)
{
	struct ocsf_application_lifecycle ev;
	bool ok = !problems || !*problems;

	osh_site_init_netns_teardown(&ev);
	ocsf_application_lifecycle_set_severity_id(&ev, ok ? OCSF_SEVERITY_ID_INFORMATIONAL
							   : OCSF_SEVERITY_ID_MEDIUM);
	lifecycle(&ev, ok ? OCSF_STATUS_ID_SUCCESS : OCSF_STATUS_ID_FAILURE);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "network namespace torn down: %s removed, %llu bypass "
				   "attempt(s) reported%s%s",
				   i->host_if, (unsigned long long)st->reported,
				   ok ? "" : "; problems: ", ok ? "" : problems));
	if (!ok)
		ocsf_application_lifecycle_set_status_detail(&ev, problems);
	info_unmapped(&ev, i);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "teardown_us", us);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "bypass_reported", (int64_t)st->reported);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "kmsg_duplicates",
						    (int64_t)st->duplicates);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "kmsg_overruns", (int64_t)st->overruns);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "kmsg_malformed", (int64_t)st->malformed);
	osh_emit(&ev);
}

/* ------------------------------------------------------------ bypass */

static const char *remediation(const struct net_kmsg_rec *r)
{
	const char *t = "Make the process use the sandbox proxy: it honours HTTP_PROXY / "
			"HTTPS_PROXY (set in its environment); for Node.js set "
			"NODE_USE_ENV_PROXY=1. Direct connections are refused.";

	if (r->proto_num == 17 && r->dport == 53)
		t = "DNS queries cannot leave the sandbox: let the proxy resolve names (use "
		    "HTTP_PROXY / HTTPS_PROXY, curl resolves through the proxy by default).";
	else if (r->proto_num == 17)
		t = "UDP cannot leave the sandbox: only HTTP(S) through the sandbox proxy is "
		    "allowed.";
	return t;
}

static void endpoints(struct ocsf_network_endpoint *src, struct ocsf_network_endpoint *dst,
		      const struct net_kmsg_rec *r)
{
	ocsf_network_endpoint_set_ip(src, r->src);
	if (r->sport)
		ocsf_network_endpoint_set_port(src, r->sport);
	if (r->out_if[0])
		ocsf_network_endpoint_set_interface_name(src, r->out_if);
	ocsf_network_endpoint_set_ip(dst, r->dst);
	if (r->has_dport)
		ocsf_network_endpoint_set_port(dst, r->dport);
}

static void fill_process(struct ocsf_process *p, const struct net_ident *id)
{
	const char *base = strrchr(id->exe, '/');

	ocsf_process_set_pid(p, (int32_t)id->pid);
	ocsf_process_set_name(p, id->name[0] ? id->name : (base ? base + 1 : "?"));
	if (id->cmd_line[0])
		ocsf_process_set_cmd_line(p, id->cmd_line);
	if (base && id->exe[0] == '/') {
		struct ocsf_file *f = ocsf_process_file(p);

		ocsf_file_set_name(f, base[1] ? base + 1 : id->exe);
		ocsf_file_set_path(f, id->exe);
		ocsf_file_set_type_id(f, OCSF_FILE_TYPE_ID_REGULAR_FILE);
	}
	if (id->uid >= 0)
		ocsf_user_set_uid(ocsf_process_user(p),
				  ocsf_arena_printf(p->hdr.arena, "%ld", id->uid));
}

void net_ev_bypass(const struct net_kmsg_rec *r, const struct net_ident *id, uint64_t attempt)
{
	struct ocsf_network_activity na;
	struct ocsf_detection_finding df;
	struct ocsf_network_connection_info *ci;
	struct ocsf_finding_info *fi;
	struct ocsf_attack *atk;
	struct ocsf_evidences *evd;
	const char *who = id->pid ? (id->exe[0] ? id->exe : id->name) : "-";
	char uid[96], msg[480];
	long uidv = id->pid ? id->uid : r->uid;

	snprintf(uid, sizeof(uid), "bypass-%d-%llu", (int)getpid(), (unsigned long long)attempt);
	snprintf(msg, sizeof(msg), "BYPASS_DETECT %s:%u proto=%s binary=%s action=reject", r->dst,
		 (unsigned)r->dport, r->proto, who);

	osh_site_init_bypass_detect(&na);
	ocsf_network_activity_set_action_id(&na, OCSF_ACTION_ID_DENIED);
	ocsf_network_activity_set_disposition_id(&na, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_network_activity_set_status_id(&na, OCSF_STATUS_ID_FAILURE);
	ocsf_network_activity_set_observation_point_id(&na, OCSF_OBSERVATION_POINT_ID_SOURCE);
	ocsf_network_activity_set_message(
	    &na, ocsf_arena_printf(&na.ev.arena,
				   "%s reason=direct connection bypassed the sandbox proxy", msg));
	endpoints(ocsf_network_activity_src_endpoint(&na), ocsf_network_activity_dst_endpoint(&na),
		  r);
	ci = ocsf_network_activity_connection_info(&na);
	ocsf_network_connection_info_set_direction_id(ci, OCSF_DIRECTION_ID_OUTBOUND);
	ocsf_network_connection_info_set_protocol_name(ci, r->proto);
	if (r->proto_num >= 0)
		ocsf_network_connection_info_set_protocol_num(ci, r->proto_num);
	ocsf_network_connection_info_set_protocol_ver_id(ci, r->v6 ? 6 : 4);
	if (id->pid)
		fill_process(ocsf_actor_process(ocsf_network_activity_actor(&na)), id);
	{
		struct ocsf_firewall_rule *fr = ocsf_network_activity_firewall_rule(&na);

		ocsf_firewall_rule_set_name(fr, "openshell sandbox egress");
		ocsf_firewall_rule_set_desc(fr, "only the sandbox proxy is reachable");
	}
	ocsf_network_activity_add_unmapped_str(&na, "attempt_uid", uid);
	if (uidv >= 0)
		ocsf_network_activity_add_unmapped_int(&na, "socket_uid", uidv);
	ocsf_network_activity_add_unmapped_int(&na, "kmsg_seq", (int64_t)r->seq);
	osh_emit(&na);

	osh_site_init_bypass_detect_finding(&df);
	ocsf_detection_finding_set_action_id(&df, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&df, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_detection_finding_set_is_alert(&df, true);
	ocsf_detection_finding_set_message(
	    &df, ocsf_arena_printf(&df.ev.arena, "Proxy bypass detected: %s", msg));
	fi = ocsf_detection_finding_finding_info(&df);
	ocsf_finding_info_set_uid(fi, uid);
	ocsf_finding_info_set_title(fi, "Proxy Bypass Detected");
	ocsf_finding_info_set_desc(
	    fi,
	    ocsf_arena_printf(&df.ev.arena,
			      "A process in the sandbox connected directly to %s:%u (%s) instead "
			      "of going through the sandbox proxy; the connection was refused.",
			      r->dst, (unsigned)r->dport, r->proto));
	ocsf_finding_info_add_types(fi, "bypass-detect");
	atk = ocsf_finding_info_add_attacks(fi);
	ocsf_tactic_set_uid(ocsf_attack_tactic(atk), "TA0011");
	ocsf_tactic_set_name(ocsf_attack_tactic(atk), "Command and Control");
	ocsf_technique_set_uid(ocsf_attack_technique(atk), "T1090");
	ocsf_technique_set_name(ocsf_attack_technique(atk), "Proxy");
	ocsf_sub_technique_set_uid(ocsf_attack_sub_technique(atk), "T1090.003");
	ocsf_sub_technique_set_name(ocsf_attack_sub_technique(atk), "Multi-hop Proxy");
	ocsf_remediation_set_desc(ocsf_detection_finding_remediation(&df), remediation(r));
	evd = ocsf_detection_finding_add_evidences(&df);
	endpoints(ocsf_evidences_src_endpoint(evd), ocsf_evidences_dst_endpoint(evd), r);
	ci = ocsf_evidences_connection_info(evd);
	ocsf_network_connection_info_set_direction_id(ci, OCSF_DIRECTION_ID_OUTBOUND);
	ocsf_network_connection_info_set_protocol_name(ci, r->proto);
	if (r->proto_num >= 0)
		ocsf_network_connection_info_set_protocol_num(ci, r->proto_num);
	if (id->pid)
		fill_process(ocsf_evidences_process(evd), id);
	ocsf_detection_finding_add_unmapped_str(&df, "attempt_uid", uid);
	osh_emit(&df);
}
