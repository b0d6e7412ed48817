/* sup_events.c - the supervisor core's OCSF log sites (see sup_events.h).
 *
 * DESIGN
 * One function per site; each starts its event on the stack with the
 * site's generated init (osh_sites.h: class, activity, event code, default
 * severity from schema/sites.yaml), fills it with the typed builders and
 * emits it. Computed strings go into the event
 * arena (ocsf_arena_printf), so nothing outlives the call. Class choices:
 * the supervisor's own life is Application Lifecycle (6002), the command's
 * life is Process Activity (1007) with the supervisor as actor and the
 * command as process (name and pid on every event, exit/timeout/kill
 * included), configuration and policy changes and the config channel's
 * health are Device Config State Change (5019), heartbeats and delivery
 * losses are Base Events (0). Severity follows what the operator must do:
 * Informational for normal operation, Medium for degraded-but-running,
 * High for the command being killed or the supervisor failing.
 */
#include "sup_events.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ocsf_gen.h"
#include "ocsf_convert.h"
#include "osh_emit.h"
#include "sup_enforce.h"
#include "osh_sites.h"

/* ------------------------------------------------------------- lifecycle */

/* Fills what every supervisor lifecycle event carries; `ev` was started
 * with its site's init. */
static void lifecycle(enum ocsf_status_id status, const char *msg,
		      struct ocsf_application_lifecycle *ev)
{
	struct ocsf_product *app;

	if (status != OCSF_STATUS_ID_UNKNOWN)
		ocsf_application_lifecycle_set_status_id(ev, status);
	ocsf_application_lifecycle_set_message(ev, msg);
	app = ocsf_application_lifecycle_app(ev);
	ocsf_product_set_name(app, OSH_SUP_PRODUCT);
	ocsf_product_set_vendor_name(app, OSH_SUP_VENDOR);
	ocsf_product_set_version(app, OSH_VERSION);
	ocsf_application_lifecycle_add_unmapped_int(ev, "supervisor_pid", (int64_t)getpid());
}

void osh_sup_ev_start(const char *sandbox_id, const char *gateway, const char *log_dir)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_sup_start(&ev);
	lifecycle(OCSF_STATUS_ID_UNKNOWN,
		  gateway ? "openshell-sandbox starting (gateway mode)"
			  : "openshell-sandbox starting (standalone)",
		  &ev);
	if (sandbox_id)
		ocsf_application_lifecycle_add_unmapped_str(&ev, "sandbox_id", sandbox_id);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "gateway", gateway ? gateway : "");
	ocsf_application_lifecycle_add_unmapped_str(&ev, "log_dir", log_dir ? log_dir : "");
	osh_emit(&ev);
}

void osh_sup_ev_ready(int child_pid, int64_t startup_ms)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_sup_ready(&ev);
	lifecycle(OCSF_STATUS_ID_SUCCESS,
		  "openshell-sandbox ready: command running, config poll and log push active", &ev);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "child_pid", child_pid);
	ocsf_application_lifecycle_add_unmapped_int(&ev, "startup_ms", startup_ms);
	osh_emit(&ev);
}

void osh_sup_ev_stop(int exit_code, const char *why)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_sup_stop(&ev);
	lifecycle(OCSF_STATUS_ID_SUCCESS, "", &ev);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "openshell-sandbox stopping: %s (exit %d)", why,
				   exit_code));
	ocsf_application_lifecycle_add_unmapped_int(&ev, "exit_code", exit_code);
	ocsf_application_lifecycle_add_unmapped_str(&ev, "reason", why);
	osh_emit(&ev);
}

void osh_sup_ev_start_failed(const char *why)
{
	struct ocsf_application_lifecycle ev;

	osh_site_init_sup_start_failed(&ev);
	lifecycle(OCSF_STATUS_ID_FAILURE, "", &ev);
	ocsf_application_lifecycle_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "openshell-sandbox failed to start: %s", why));
	ocsf_application_lifecycle_set_status_detail(&ev, why);
	osh_emit(&ev);
}

void osh_sup_ev_heartbeat(int child_pid, int64_t uptime_ms, uint64_t config_revision)
{
	struct ocsf_base_event ev;

	osh_site_init_sup_heartbeat(&ev);
	ocsf_base_event_set_activity_name(&ev, "Heartbeat");
	ocsf_base_event_set_message(&ev, "openshell-sandbox heartbeat");
	ocsf_base_event_add_unmapped_int(&ev, "child_pid", child_pid);
	ocsf_base_event_add_unmapped_int(&ev, "uptime_ms", uptime_ms);
	ocsf_base_event_add_unmapped_int(&ev, "config_revision", (int64_t)config_revision);
	ocsf_base_event_add_unmapped_bool(&ev, "jsonl_enabled", osh_emit_jsonl_enabled());
	osh_emit(&ev);
}

/* --------------------------------------------------------------- process */

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGKILL:
		return "SIGKILL";
	case SIGHUP:
		return "SIGHUP";
	case SIGQUIT:
		return "SIGQUIT";
	case SIGSEGV:
		return "SIGSEGV";
	case SIGABRT:
		return "SIGABRT";
	default:
		return "signal";
	}
}

void osh_sup_ev_proc(const struct osh_sup_proc_note *n, int64_t timeout_ms)
{
	struct ocsf_process_activity ev;
	struct ocsf_arena *ar = &ev.ev.arena;
	struct ocsf_process *p, *me;

	/* Each note kind is one registered site (class, activity, code and
	 * default severity come from its init). */
	switch (n->kind) {
	case OSH_SUP_NOTE_LAUNCH:
		osh_site_init_proc_launch(&ev);
		break;
	case OSH_SUP_NOTE_LAUNCH_FAIL:
		osh_site_init_proc_launch_failed(&ev);
		break;
	case OSH_SUP_NOTE_EXIT:
		osh_site_init_proc_exit(&ev);
		break;
	case OSH_SUP_NOTE_TIMEOUT:
		osh_site_init_proc_timeout(&ev);
		break;
	case OSH_SUP_NOTE_SIGNAL:
		osh_site_init_proc_signal_forward(&ev);
		break;
	case OSH_SUP_NOTE_KILL:
		osh_site_init_proc_kill(&ev);
		break;
	case OSH_SUP_NOTE_KILL_FAIL:
		osh_site_init_proc_kill_failed(&ev);
		break;
	case OSH_SUP_NOTE_TICK:
	case OSH_SUP_NOTE_HUP:
		return;
	}
	me = ocsf_actor_process(ocsf_process_activity_actor(&ev));
	ocsf_process_set_name(me, OSH_SUP_PRODUCT);
	ocsf_process_set_pid(me, (int32_t)getpid());
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, n->name ? n->name : "");
	/* pid 0 only when the command never started (launch failure). */
	ocsf_process_set_pid(p, (int32_t)n->pid);
	if (n->cmd_line)
		ocsf_process_set_cmd_line(p, n->cmd_line);
	if (n->path && n->path[0] == '/') {
		struct ocsf_file *f = ocsf_process_file(p);
		const char *base = strrchr(n->path, '/') + 1;

		ocsf_file_set_name(f, *base ? base : n->path);
		ocsf_file_set_path(f, n->path);
		ocsf_file_set_type_id(f, OCSF_FILE_TYPE_ID_REGULAR_FILE);
	}

	switch (n->kind) {
	case OSH_SUP_NOTE_LAUNCH:
		ocsf_process_activity_set_launch_type_id(&ev, OCSF_LAUNCH_TYPE_ID_SPAWN);
		ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
		ocsf_process_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
		ocsf_process_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_ALLOWED);
		ocsf_process_activity_set_message(
		    &ev, ocsf_arena_printf(ar, "launched %s (pid %d)", n->name, (int)n->pid));
		break;
	case OSH_SUP_NOTE_LAUNCH_FAIL:
		ocsf_process_activity_set_launch_type_id(&ev, OCSF_LAUNCH_TYPE_ID_SPAWN);
		ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
		ocsf_process_activity_set_status_detail(
		    &ev, ocsf_arena_printf(ar, "%s: %s", n->step ? n->step : "exec",
					   strerror(n->err_no)));
		ocsf_process_activity_set_message(
		    &ev, ocsf_arena_printf(ar, "cannot launch %s: %s failed: %s", n->name,
					   n->step ? n->step : "exec", strerror(n->err_no)));
		ocsf_process_activity_add_unmapped_str(&ev, "step", n->step ? n->step : "exec");
		break;
	case OSH_SUP_NOTE_EXIT:
		ocsf_process_activity_set_exit_code(&ev, n->exit_code);
		ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
		ocsf_process_activity_set_duration(&ev, n->runtime_ms);
		if (n->signal)
			ocsf_process_activity_set_status_detail(
			    &ev, ocsf_arena_printf(ar, "killed by %s (%d)", sig_name(n->signal),
						   n->signal));
		else
			ocsf_process_activity_set_status_detail(
			    &ev, ocsf_arena_printf(ar, "exited with code %d", n->exit_code));
		ocsf_process_activity_set_message(
		    &ev, ocsf_arena_printf(ar, "%s (pid %d) %s, exit code %d%s", n->name,
					   (int)n->pid, n->signal ? "was killed" : "exited",
					   n->exit_code, n->timed_out ? " after timeout" : ""));
		ocsf_process_activity_add_unmapped_bool(&ev, "timed_out", n->timed_out);
		if (n->signal)
			ocsf_process_activity_add_unmapped_int(&ev, "signal", n->signal);
		break;
	case OSH_SUP_NOTE_TIMEOUT:
		ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
		ocsf_process_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
		ocsf_process_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
		ocsf_process_activity_set_status_detail(&ev, "timed out");
		ocsf_process_activity_set_message(
		    &ev, ocsf_arena_printf(ar,
					   "%s (pid %d) timed out after %lld ms: sending SIGTERM "
					   "to its process group",
					   n->name, (int)n->pid, (long long)timeout_ms));
		ocsf_process_activity_add_unmapped_int(&ev, "timeout_ms", timeout_ms);
		break;
	case OSH_SUP_NOTE_SIGNAL:
		ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
		ocsf_process_activity_set_message(
		    &ev, ocsf_arena_printf(ar,
					   "supervisor received %s: forwarding it to %s (pid %d) "
					   "and its process group",
					   sig_name(n->signal), n->name, (int)n->pid));
		ocsf_process_activity_add_unmapped_int(&ev, "signal", n->signal);
		break;
	case OSH_SUP_NOTE_KILL:
		ocsf_process_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
		ocsf_process_activity_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
		ocsf_process_activity_set_message(
		    &ev, ocsf_arena_printf(ar,
					   "%s (pid %d) did not stop within the grace period: "
					   "sending SIGKILL",
					   n->name, (int)n->pid));
		ocsf_process_activity_add_unmapped_int(&ev, "signal", SIGKILL);
		break;
	case OSH_SUP_NOTE_KILL_FAIL:
		ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
		ocsf_process_activity_set_status_detail(&ev, strerror(n->err_no));
		ocsf_process_activity_set_message(
		    &ev,
		    ocsf_arena_printf(ar, "cannot send %s to %s (pid %d): %s", sig_name(n->signal),
				      n->name, (int)n->pid, strerror(n->err_no)));
		ocsf_process_activity_add_unmapped_int(&ev, "signal", n->signal);
		break;
	case OSH_SUP_NOTE_TICK:
	case OSH_SUP_NOTE_HUP:
		break;
	}
	osh_emit(&ev);
}

/* ---------------------------------------------------------------- config */

/* Fills what every config event carries; `ev` was started with its site's
 * init. */
static void config(struct ocsf_device_config_state_change *ev,
		   enum ocsf_device_config_state_change_state_id state_id, const char *state,
		   enum ocsf_status_id status)
{
	ocsf_device_config_state_change_set_state_id(ev, state_id);
	/* The label is what the shorthand shows (CONFIG:<LABEL>); in JSON the
	 * serializer writes the schema caption of state_id unless it is Other. */
	ocsf_device_config_state_change_set_state(ev, state);
	ocsf_device_config_state_change_set_status_id(ev, status);
}

void osh_sup_ev_config_updated(const struct osh_sup_poll_actions *a)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_config_updated(&ev);
	config(&ev,
	       a->new_enabled ? OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_ENABLED
			      : OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_DISABLED,
	       "updated", OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(
		     &ev.ev.arena,
		     "sandbox config revision %llu applied: OCSF JSONL export %s (OCSF %s)%s%s%s",
		     (unsigned long long)a->new_revision, a->new_enabled ? "enabled" : "disabled",
		     ocsf_version_name((enum ocsf_version)a->new_version),
		     a->bad_version ? "; invalid ocsf_schema_version '" : "",
		     a->bad_version && a->bad_version_text ? a->bad_version_text : "",
		     a->bad_version ? "' ignored" : ""));
	ocsf_device_config_state_change_add_unmapped_int(&ev, "old_config_revision",
							 (int64_t)a->old_revision);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "new_config_revision",
							 (int64_t)a->new_revision);
	ocsf_device_config_state_change_add_unmapped_bool(&ev, "old_ocsf_enabled", a->old_enabled);
	ocsf_device_config_state_change_add_unmapped_bool(&ev, "new_ocsf_enabled", a->new_enabled);
	ocsf_device_config_state_change_add_unmapped_str(
	    &ev, "old_ocsf_schema_version", ocsf_version_name((enum ocsf_version)a->old_version));
	ocsf_device_config_state_change_add_unmapped_str(
	    &ev, "new_ocsf_schema_version", ocsf_version_name((enum ocsf_version)a->new_version));
	osh_emit(&ev);
}

void osh_sup_ev_config_stale(const struct osh_sup_poll_actions *a)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_config_stale(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "stale",
	       OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "gateway sent config revision %llu, older than the applied "
				   "%llu: ignored",
				   (unsigned long long)a->new_revision,
				   (unsigned long long)a->old_revision));
	ocsf_device_config_state_change_add_unmapped_int(&ev, "applied_config_revision",
							 (int64_t)a->old_revision);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "received_config_revision",
							 (int64_t)a->new_revision);
	osh_emit(&ev);
}

void osh_sup_ev_gateway_lost(const char *gateway, const char *detail, bool at_start)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_gateway_unreachable(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "degraded",
	       OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "gateway %s unreachable%s: keeping the current config and "
				   "policy, retrying with backoff",
				   gateway, at_start ? " at start-up" : ""));
	ocsf_device_config_state_change_set_status_detail(&ev, detail ? detail : "");
	ocsf_device_config_state_change_add_unmapped_str(&ev, "gateway", gateway);
	osh_emit(&ev);
}

void osh_sup_ev_gateway_restored(const char *gateway, unsigned failed_polls, int64_t offline_ms)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_gateway_restored(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "restored",
	       OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "gateway %s reachable again after %u failed polls",
				   gateway, failed_polls));
	ocsf_device_config_state_change_add_unmapped_str(&ev, "gateway", gateway);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "failed_polls", failed_polls);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "offline_ms", offline_ms);
	osh_emit(&ev);
}

/* Adds unmapped.enforced (the protections in force now, a JSON array) and
 * returns the sentence the message ends with, naming what is not enforced, so
 * no policy event claims a protection that is not applied. */
static const char *enforced_note(struct ocsf_device_config_state_change *ev)
{
	char json[128], missing[128];

	osh_sup_enforce_describe(json, sizeof(json), missing, sizeof(missing));
	/* Strings are borrowed until emit: the local buffer goes into the arena. */
	ocsf_device_config_state_change_add_unmapped_json(
	    ev, "enforced", ocsf_arena_printf(&ev->ev.arena, "%s", json));
	if (!missing[0])
		return "every protection is enforced";
	return ocsf_arena_printf(&ev->ev.arena, "not enforced: %s", missing);
}

void osh_sup_ev_policy_loaded(const char *source, const char *path, uint32_t version,
			      const char *hash, unsigned rules, bool reload)
{
	struct ocsf_device_config_state_change ev;

	if (strcmp(source, "file") == 0)
		osh_site_init_policy_load_local(&ev);
	else
		osh_site_init_policy_load_gateway(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_ENABLED, "loaded",
	       OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "policy %s from %s%s%s (version %u, %u network "
				   "policies); %s",
				   reload ? "reloaded" : "loaded", source, path ? " " : "",
				   path ? path : "", version, rules, enforced_note(&ev)));
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_source", source);
	if (path)
		ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_path", path);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "policy_version", version);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_hash", hash ? hash : "");
	ocsf_device_config_state_change_add_unmapped_int(&ev, "network_policies", rules);
	ocsf_device_config_state_change_add_unmapped_bool(&ev, "reload", reload);
	osh_emit(&ev);
}

void osh_sup_ev_policy_rejected(const char *source, const char *error, const char *kept_hash)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_policy_rejected(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "failed",
	       OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "new policy from %s rejected, keeping the current one: %s",
				   source, error));
	ocsf_device_config_state_change_set_status_detail(&ev, error);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_source", source);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "kept_policy_hash",
							 kept_hash ? kept_hash : "");
	osh_emit(&ev);
}

void osh_sup_ev_policy_fallback(const char *path, const char *error)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_policy_fallback(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "fallback",
	       OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "local policy %s unusable (%s): no policy applies, so the "
				   "policy grants nothing; %s",
				   path, error, enforced_note(&ev)));
	ocsf_device_config_state_change_set_status_detail(&ev, error);
	ocsf_device_config_state_change_add_unmapped_str(&ev, "policy_path", path);
	osh_emit(&ev);
}

void osh_sup_ev_policy_default(void)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_policy_default(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "default",
	       OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "no policy configured (gateway or --policy): the policy "
				   "grants nothing; %s",
				   enforced_note(&ev)));
	osh_emit(&ev);
}

void osh_sup_ev_policy_absent(const char *kept_hash)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_policy_absent(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "kept", OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, "gateway no longer sends a policy: keeping the current one");
	ocsf_device_config_state_change_add_unmapped_str(&ev, "kept_policy_hash",
							 kept_hash ? kept_hash : "");
	osh_emit(&ev);
}
