/* gw_sites.c - the gateway's OCSF log sites (see gw_sites.h).
 *
 * DESIGN: the same generated bindings and emission runtime as the
 * supervisor, configured for the gateway's own files: log dir = data dir,
 * file stem "openshell-gateway". Every site sets its severity from what the
 * operator must do (Informational: normal; Medium: a refusal or an abnormal
 * exit; High: repeated refusals, plain TCP without authentication) and
 * carries its facts as typed fields where OCSF has one (app, status,
 * actor.user.uid, finding_info) and as `unmapped` pairs otherwise
 * (sandbox_id, revision, old/new values), so a SIEM can filter on them.
 * Every site starts from its generated init (generated/c/osh_sites.h, from
 * schema/sites.yaml, subsystem `gateway`): activity, code and default
 * severity come from the registry row. */
#include "gw_sites.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

#ifndef OSH_VERSION
#define OSH_VERSION "0.0.0"
#endif
#define GW_PRODUCT "openshell-gateway"
#define GW_VENDOR  "OpenShell"

int gw_sites_init(const char *data_dir, bool jsonl, bool rotate, bool *owned)
{
	struct osh_emit_config cfg;
	char host[256] = "";
	int rc;

	*owned = false;
	osh_emit_config_default(&cfg);
	cfg.log_dir = data_dir;
	cfg.file_stem = "openshell-gateway";
	cfg.jsonl = jsonl;
	cfg.stderr_level = OSH_LEVEL_WARN;
	/* the export (src/gateway/export) takes the gateway's own events from
	 * the push feed; it drains it whether or not a destination is set */
	cfg.push_bytes = (size_t)1 << 20;
	if (!rotate) {
		cfg.rotate_bytes = 0;
		cfg.rotate_daily = false;
	}
	rc = osh_ctx_set_product(GW_PRODUCT, GW_VENDOR, OSH_VERSION);
	if (rc == 0 && gethostname(host, sizeof(host) - 1) == 0)
		rc = osh_ctx_set_hostname(host);
	if (rc == 0)
		rc = osh_emit_init(&cfg);
	if (rc == 0)
		*owned = true;
	return rc;
}

void gw_sites_fini(bool owned)
{
	if (owned)
		osh_emit_shutdown();
}

/* ------------------------------------------------------------ lifecycle */

/* Common part of the gateway's Application Lifecycle events, after the
 * site's generated init (activity, code, default severity). */
static void app_event(struct ocsf_application_lifecycle *ev, enum ocsf_status_id status)
{
	struct ocsf_product *app;

	if (status != OCSF_STATUS_ID_UNKNOWN)
		ocsf_application_lifecycle_set_status_id(ev, status);
	app = ocsf_application_lifecycle_app(ev);
	ocsf_product_set_name(app, GW_PRODUCT);
	ocsf_product_set_vendor_name(app, GW_VENDOR);
	ocsf_product_set_version(app, OSH_VERSION);
	ocsf_application_lifecycle_add_unmapped_int(ev, "gateway_pid", (int64_t)getpid());
}

void gw_ev_start(const char *addrs, const char *data_dir, uint64_t config_revision)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_gw_start(&ev);
	app_event(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "openshell-gateway listening on %s", addrs));
	ocsf_application_lifecycle_add_unmapped_str(&ev, "listen", addrs);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "data_dir", data_dir);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "config_revision",
						    (int64_t)config_revision);
	osh_emit(&ev);
}

void gw_ev_stop(const char *why)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_gw_stop(&ev);
	app_event(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "openshell-gateway stopping: %s", why));
	osh_emit(&ev);
}

void gw_ev_insecure_tcp(const char *addr)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_gw_insecure_tcp(&ev);
	app_event(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "plain TCP on %s (--insecure-tcp): no authentication and no "
				   "encryption; anyone who reaches it can run commands",
				   addr));
	ocsf_application_lifecycle_add_unmapped_str(&ev, "listen", addr);
	osh_emit(&ev);
}

void gw_ev_tls_tcp(const char *addr)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_gw_tls_tcp(&ev);
	app_event(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "TCP on %s with TLS; clients must present a certificate signed "
				   "by the --client-ca",
				   addr));
	ocsf_application_lifecycle_add_unmapped_str(&ev, "listen", addr);
	osh_emit(&ev);
}

/* ------------------------------------------------------------ sandboxes */

static void sandbox_event(struct ocsf_application_lifecycle *ev, const char *id, int pid)
{
	app_event(ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_application_lifecycle_add_unmapped_str(ev, "sandbox_id", id);
	if (pid > 0)
		ocsf_application_lifecycle_add_unmapped_int(ev, "supervisor_pid", pid);
}

void gw_ev_sandbox_create(const char *id, const char *name, int pid, const char *requested_by)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_gw_sandbox_create(&ev);
	sandbox_event(&ev, id, pid);
	ocsf_application_lifecycle_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "sandbox '%s' created (supervisor pid %d)", name, pid));
	ocsf_application_lifecycle_add_unmapped_str(&ev, "sandbox_name", name);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "requested_by", requested_by);
	osh_emit(&ev);
}

void gw_ev_sandbox_delete(const char *id, const char *name, int pid, const char *requested_by)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_gw_sandbox_delete(&ev);
	sandbox_event(&ev, id, pid);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "sandbox '%s' deleted", name));
	ocsf_application_lifecycle_add_unmapped_str(&ev, "sandbox_name", name);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "requested_by", requested_by);
	osh_emit(&ev);
}

void gw_ev_sandbox_exit(const char *id, int pid, int code, int sig, bool lost)
{
	struct ocsf_application_lifecycle ev;
	bool clean = !lost && sig == 0 && code == 0;
	const char *msg;

	osh_site_init_gw_sandbox_exit(&ev);
	if (!clean)
		ocsf_application_lifecycle_set_severity_id(&ev, OCSF_SEVERITY_ID_MEDIUM);
	sandbox_event(&ev, id, pid);
	if (lost)
		msg = ocsf_arena_printf(&ev.ev.arena,
					"supervisor pid %d is gone (exit status unknown)", pid);
	else if (sig != 0)
		msg = ocsf_arena_printf(&ev.ev.arena, "supervisor pid %d killed by signal %d", pid,
					sig);
	else
		msg = ocsf_arena_printf(&ev.ev.arena, "supervisor pid %d exited with code %d", pid,
					code);
	ocsf_application_lifecycle_set_message(&ev, msg);
	if (!lost) {
		ocsf_application_lifecycle_add_unmapped_int(&ev, "exit_code", code);
		ocsf_application_lifecycle_add_unmapped_int(&ev, "signal", sig);
	}
	osh_emit(&ev);
}

/* --------------------------------------------------------------- config */

void gw_ev_config_change(const char *key, const char *old_value, const char *new_value,
			 uint64_t revision, const char *source)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_gw_config_change(&ev);
	ocsf_device_config_state_change_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "config %s: %s -> %s (revision %llu, from %s)", key,
			      old_value, new_value, (unsigned long long)revision, source));
	ocsf_device_config_state_change_add_unmapped_str(&ev, "key", key);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "old_value", old_value);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "new_value", new_value);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "config_revision", (int64_t)revision);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "source", source);
	osh_emit(&ev);
}

/* ----------------------------------------------------------------- auth */

void gw_ev_auth_refused(const char *principal, const char *what, const char *status,
			const char *reason, uint64_t suppressed)
{
	struct ocsf_network_activity ev;

	osh_site_init_gw_auth_refused(&ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_network_activity_set_status_detail(&ev, status);
	/* Network Activity needs an endpoint: the refused peer, by name. */
	ocsf_network_endpoint_set_name(ocsf_network_activity_src_endpoint(&ev), principal);
	ocsf_network_activity_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "refused %s from %s: %s", what, principal, reason));
	ocsf_network_activity_add_unmapped_str(&ev, "principal", principal);
	ocsf_network_activity_add_unmapped_str(&ev, "request", what);
	if (suppressed > 0)
		ocsf_network_activity_add_unmapped_int(&ev, "suppressed_since_last",
						       (int64_t)suppressed);
	osh_emit(&ev);
}

void gw_ev_auth_repeated(const char *principal, unsigned count, unsigned window_s,
			 const char *last_reason)
{
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;

	osh_site_init_gw_auth_repeated(&ev);
	ocsf_detection_finding_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_detection_finding_set_is_alert(&ev, true);
	fi = ocsf_detection_finding_finding_info(&ev);
	ocsf_finding_info_set_uid(fi, "gateway-auth-repeated");
	ocsf_finding_info_set_title(fi, "Repeated gateway authentication refusals");
	ocsf_finding_info_set_desc(fi, ocsf_arena_printf(&ev.ev.arena,
							 "%u refusals of %s within %u s; last: %s",
							 count, principal, window_s, last_reason));
	ocsf_detection_finding_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "%u refused requests from %s in %u s", count,
				   principal, window_s));
	ocsf_detection_finding_add_unmapped_str(&ev, "principal", principal);
	ocsf_detection_finding_add_unmapped_int(&ev, "count", count);
	osh_emit(&ev);
}

void gw_ev_listen_limit(const char *reason, uint64_t count)
{
	struct ocsf_network_activity ev;

	osh_site_init_gw_listen_limit(&ev);
	ocsf_network_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_network_endpoint_set_name(ocsf_network_activity_src_endpoint(&ev),
				       "unknown (refused at accept)");
	ocsf_network_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "%llu connections refused: %s",
				   (unsigned long long)count, reason));
	ocsf_network_activity_add_unmapped_int(&ev, "refused", (int64_t)count);
	osh_emit(&ev);
}

void gw_ev_store_link(bool up, const char *server, const char *detail)
{
	struct ocsf_network_activity ev;

	if (up)
		osh_site_init_gw_store_recovered(&ev);
	else
		osh_site_init_gw_store_unavailable(&ev);
	ocsf_network_activity_set_status_id(&ev,
					    up ? OCSF_STATUS_ID_SUCCESS : OCSF_STATUS_ID_FAILURE);
	ocsf_network_endpoint_set_hostname(ocsf_network_activity_dst_endpoint(&ev), server);
	ocsf_network_connection_info_set_protocol_name(ocsf_network_activity_connection_info(&ev),
						       "postgresql");
	/* the gateway is the client of its database (required with connection_info) */
	ocsf_network_connection_info_set_direction_id(ocsf_network_activity_connection_info(&ev),
						      OCSF_DIRECTION_ID_OUTBOUND);
	ocsf_network_activity_set_message(
	    &ev, up ? ocsf_arena_printf(&ev.ev.arena, "store postgresql reachable again")
		    : ocsf_arena_printf(&ev.ev.arena, "store postgresql unreachable: %s", detail));
	ocsf_network_activity_add_unmapped_str(&ev, "store", "postgresql");
	osh_emit(&ev);
}

/* ---------------------------------------------------------- credentials */

void gw_ev_cred_import(const char *dir, size_t imported, size_t skipped, bool done)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_gw_cred_import(&ev);
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, done ? "imported" : "import_stopped");
	if (!done)
		ocsf_device_config_state_change_set_severity_id(&ev, OCSF_SEVERITY_ID_MEDIUM);
	ocsf_device_config_state_change_set_status_id(&ev, done ? OCSF_STATUS_ID_SUCCESS
								: OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena,
			      "sandbox credentials moved into the store: %zu imported from %s, "
			      "%zu skipped%s",
			      imported, dir, skipped,
			      done ? "; directory removed" : "; stopped, the rest is kept"));
	ocsf_device_config_state_change_add_unmapped_str(&ev, "dir", dir);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "imported", (int64_t)imported);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "skipped", (int64_t)skipped);
	osh_emit(&ev);
}

/* ------------------------------------------------------------ proposals */

void gw_ev_proposals_submit(const char *sandbox_id, const char *sandbox, const char *mode,
			    unsigned accepted, unsigned rejected, const unsigned outcomes[4],
			    const char *first_reason)
{
	struct ocsf_base_event ev;

	osh_site_init_gw_proposals_submit(&ev);
	ocsf_base_event_set_activity_name(&ev, "Policy Analysis");
	ocsf_base_event_set_status_id(&ev,
				      rejected ? OCSF_STATUS_ID_FAILURE : OCSF_STATUS_ID_SUCCESS);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "proposals from sandbox %s: %u accepted, %u rejected (%s)",
				   sandbox, accepted, rejected, mode));
	ocsf_base_event_add_unmapped_str(&ev, "sandbox_id", sandbox_id);
	ocsf_base_event_add_unmapped_int(&ev, "accepted", accepted);
	ocsf_base_event_add_unmapped_int(&ev, "rejected", rejected);
	ocsf_base_event_add_unmapped_str(&ev, "sandbox", sandbox);
	ocsf_base_event_add_unmapped_str(&ev, "analysis_mode", mode);
	ocsf_base_event_add_unmapped_int(&ev, "inserted", outcomes[0]);
	ocsf_base_event_add_unmapped_int(&ev, "merged", outcomes[1]);
	ocsf_base_event_add_unmapped_int(&ev, "reopened", outcomes[2]);
	ocsf_base_event_add_unmapped_int(&ev, "suppressed", outcomes[3]);
	if (first_reason && *first_reason) {
		ocsf_base_event_set_status_detail(&ev, first_reason);
		ocsf_base_event_add_unmapped_str(&ev, "first_rejection", first_reason);
	}
	osh_emit(&ev);
}

void gw_ev_proposal_accept(const struct gw_ev_proposal *p, uint32_t old_version,
			   uint32_t new_version, const char *policy_hash)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_gw_proposal_accept(&ev);
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	ocsf_device_config_state_change_set_state(&ev, "accepted");
	ocsf_device_config_state_change_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena,
			      "proposal %s (%s) accepted for sandbox %s: policy version %u -> %u",
			      p->proposal_id, p->rule_name, p->sandbox, old_version, new_version));
	ocsf_device_config_state_change_add_unmapped_str(&ev, "sandbox_id", p->sandbox_id);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "sandbox", p->sandbox);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "proposal_id", p->proposal_id);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "rule_name", p->rule_name);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "host", p->host);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "port", p->port);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "binary", p->binary);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "old_version", old_version);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "new_version", new_version);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_hash", policy_hash);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "decided_by", p->decided_by);
	osh_emit(&ev);
}

void gw_ev_proposal_reject(const struct gw_ev_proposal *p)
{
	struct ocsf_base_event ev;

	osh_site_init_gw_proposal_reject(&ev);
	ocsf_base_event_set_activity_name(&ev, "Policy Proposal Rejected");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "proposal %s (%s) rejected for sandbox %s",
				   p->proposal_id, p->rule_name, p->sandbox));
	ocsf_base_event_add_unmapped_str(&ev, "sandbox_id", p->sandbox_id);
	ocsf_base_event_add_unmapped_str(&ev, "proposal_id", p->proposal_id);
	ocsf_base_event_add_unmapped_str(&ev, "decided_by", p->decided_by);
	ocsf_base_event_add_unmapped_str(&ev, "sandbox", p->sandbox);
	ocsf_base_event_add_unmapped_str(&ev, "rule_name", p->rule_name);
	ocsf_base_event_add_unmapped_str(&ev, "host", p->host);
	ocsf_base_event_add_unmapped_int(&ev, "port", p->port);
	ocsf_base_event_add_unmapped_str(&ev, "binary", p->binary);
	osh_emit(&ev);
}

/* ---------------------------------------------------------------- ssh -- */

static void ssh_relay_event(struct ocsf_ssh_activity *ev, const char *id, const char *name,
			    const char *endpoint)
{
	/* the relaying gateway as the source (older OCSF versions require one) */
	ocsf_network_endpoint_set_hostname(ocsf_ssh_activity_src_endpoint(ev), "localhost");
	ocsf_network_endpoint_set_name(ocsf_ssh_activity_src_endpoint(ev), "openshell-gateway");
	/* the socket in name: a hostname must be a host name */
	ocsf_network_endpoint_set_hostname(ocsf_ssh_activity_dst_endpoint(ev), "localhost");
	if (endpoint && *endpoint)
		ocsf_network_endpoint_set_name(ocsf_ssh_activity_dst_endpoint(ev), endpoint);
	ocsf_ssh_activity_add_unmapped_str(ev, "sandbox_id", id);
	ocsf_ssh_activity_add_unmapped_str(ev, "sandbox", name);
}

void gw_ev_ssh_relay(const char *id, const char *name, const char *endpoint, const char *relay,
		     const char *who)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_gw_ssh_relay(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Relay Open");
	ssh_relay_event(&ev, id, name, endpoint);
	ocsf_ssh_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_ssh_activity_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "SSH relay to sandbox %s opened for %s", name, who));
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "relay to sandbox %s opened", name));
	ocsf_ssh_activity_add_unmapped_str(&ev, "relay", relay);
	ocsf_ssh_activity_add_unmapped_str(&ev, "requested_by", who);
	osh_emit(&ev);
}

void gw_ev_ssh_relay_closed(const char *id, const char *name, const char *endpoint,
			    const char *relay, uint64_t up, uint64_t down, int64_t ms)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_gw_ssh_relay_closed(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Relay Close");
	ssh_relay_event(&ev, id, name, endpoint);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_ssh_activity_set_duration(&ev, ms);
	ocsf_ssh_activity_set_message(
	    &ev,
	    ocsf_arena_printf(
		&ev.ev.arena, "SSH relay to sandbox %s closed: %llu bytes up, %llu down, %lld ms",
		name, (unsigned long long)up, (unsigned long long)down, (long long)ms));
	ocsf_ssh_activity_set_status_detail(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "relay to sandbox %s closed: %llu bytes up, %llu down",
			      name, (unsigned long long)up, (unsigned long long)down));
	ocsf_ssh_activity_add_unmapped_str(&ev, "relay", relay);
	ocsf_ssh_activity_add_unmapped_int(&ev, "bytes_up", (int64_t)up);
	ocsf_ssh_activity_add_unmapped_int(&ev, "bytes_down", (int64_t)down);
	osh_emit(&ev);
}

void gw_ev_ssh_relay_failed(const char *id, const char *name, const char *endpoint, const char *why,
			    const char *who)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_gw_ssh_relay_failed(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Relay Fail");
	ssh_relay_event(&ev, id, name, endpoint);
	ocsf_ssh_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "SSH relay to sandbox %s failed: %s", name, why));
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "relay to sandbox %s failed: %s", name, why));
	ocsf_ssh_activity_add_unmapped_str(&ev, "requested_by", who);
	osh_emit(&ev);
}
