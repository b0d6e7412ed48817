/* ocsf_bench_event.h - the representative event ocsf-bench measures.
 *
 * DESIGN: one CONNECT-allow Network Activity event as the proxy emits it
 * (endpoints, actor process with a two-level parent chain, container,
 * device, firewall rule, proxy endpoint, action/disposition, message),
 * built with the generated typed API. Shared by the benchmark and by the
 * unit test that pins its serialized form. Strings are static (borrowed).
 */
#ifndef OCSF_BENCH_EVENT_H
#define OCSF_BENCH_EVENT_H

#include "ocsf_gen.h"

#define OCSF_BENCH_TIME_MS 1764410000123LL

/* Fill `ev` (caller storage); `time_ms` is stored as the event time. */
static inline void ocsf_bench_event_build(struct ocsf_network_activity *ev, int64_t time_ms)
{
	/* The site knows the time: init_at stores it (no clock read). */
	ocsf_network_activity_init_at(ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "CONNECT_ALLOW",
				      time_ms);
	ocsf_network_activity_set_action_id(ev, OCSF_ACTION_ID_ALLOWED);
	ocsf_network_activity_set_disposition_id(ev, OCSF_DISPOSITION_ID_ALLOWED);
	ocsf_network_activity_set_message(
	    ev, "CONNECT api.github.com:443 allowed by policy github-api");

	struct ocsf_metadata *md = ocsf_network_activity_metadata(ev);
	struct ocsf_product *prod = ocsf_metadata_product(md);
	ocsf_product_set_name(prod, "OpenShell Sandbox");
	ocsf_product_set_vendor_name(prod, "OpenShell");
	ocsf_product_set_version(prod, "0.1.0");

	struct ocsf_network_endpoint *src = ocsf_network_activity_src_endpoint(ev);
	ocsf_network_endpoint_set_ip(src, "10.200.0.2");
	ocsf_network_endpoint_set_port(src, 51234);
	ocsf_network_endpoint_set_hostname(src, "sandbox-7f3a");

	struct ocsf_network_endpoint *dst = ocsf_network_activity_dst_endpoint(ev);
	ocsf_network_endpoint_set_ip(dst, "140.82.112.5");
	ocsf_network_endpoint_set_port(dst, 443);
	ocsf_network_endpoint_set_hostname(dst, "api.github.com");

	struct ocsf_network_proxy *px = ocsf_network_activity_proxy_endpoint(ev);
	ocsf_network_proxy_set_ip(px, "10.200.0.1");
	ocsf_network_proxy_set_port(px, 3128);
	ocsf_network_proxy_set_hostname(px, "openshell-proxy");

	struct ocsf_process *p = ocsf_actor_process(ocsf_network_activity_actor(ev));
	ocsf_process_set_name(p, "curl");
	ocsf_process_set_pid(p, 4242);
	ocsf_process_set_cmd_line(p, "curl -sS https://api.github.com/repos/openshell/openshell");
	struct ocsf_container *ct = ocsf_process_container(p);
	ocsf_container_set_name(ct, "agent");
	ocsf_container_set_uid(ct, "3f1c2a9b7d6e");
	struct ocsf_process *pp = ocsf_process_parent_process(p);
	ocsf_process_set_name(pp, "bash");
	ocsf_process_set_pid(pp, 4100);
	ocsf_process_set_cmd_line(pp, "bash -lc \"curl -sS https://api.github.com\"");
	struct ocsf_process *ppp = ocsf_process_parent_process(pp);
	ocsf_process_set_name(ppp, "openshell-sandbox");
	ocsf_process_set_pid(ppp, 1);
	ocsf_process_set_cmd_line(ppp, "openshell-sandbox --policy /etc/openshell/policy.yaml");

	struct ocsf_firewall_rule *fr = ocsf_network_activity_firewall_rule(ev);
	ocsf_firewall_rule_set_name(fr, "github-api");
	ocsf_firewall_rule_set_uid(fr, "policy:network:github-api");

	struct ocsf_device *dev = ocsf_network_activity_device(ev);
	ocsf_device_set_hostname(dev, "sandbox-7f3a");
	ocsf_device_set_ip(dev, "10.200.0.2");
	ocsf_device_set_type_id(dev, OCSF_TYPE_ID_VIRTUAL);
}

#endif
