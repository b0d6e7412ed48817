/* confine_sites.c - the confinement subsystem's OCSF log sites (see
 * confine_sites.h).
 *
 * DESIGN
 * Class choices: the id switch is what OCSF Process Activity calls "Set User
 * ID" (the command as process, its new user, the supervisor as actor);
 * protections switched on and preparation steps are Device Config State
 * Changes (state Enabled when a protection is applied, Other with a label
 * otherwise); weakened or missing protection is a Detection Finding, so a
 * SIEM rule on findings catches it. Severities: Informational for normal
 * operation, Low for a best-effort skip, Medium for a weaker-than-asked
 * kernel, High for running without a protection or an unsafe policy.
 * JSON arrays here only ever hold names from fixed alphabets (syscall
 * names, secret names [A-Za-z0-9_]), so they are built without escaping.
 */
#include "confine_sites.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_secret.h"
#include "osh_sites.h"

#define SUP_NAME "openshell-sandbox"

/* State and status of a config event started by its osh_site_init_*(). */
static void config(struct ocsf_device_config_state_change *ev,
		   enum ocsf_device_config_state_change_state_id state_id, const char *state,
		   enum ocsf_status_id status)
{
	ocsf_device_config_state_change_set_state_id(ev, state_id);
	ocsf_device_config_state_change_set_state(ev, state);
	ocsf_device_config_state_change_set_status_id(ev, status);
}

void osh_confine_ev_user(const struct osh_confine_summary *s, pid_t pid, const char *name)
{
	struct ocsf_process_activity ev;
	struct ocsf_arena *ar = &ev.ev.arena;
	struct ocsf_process *p, *me;
	struct ocsf_user *u;

	osh_site_init_confine_user(&ev);
	ocsf_process_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_process_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	me = ocsf_actor_process(ocsf_process_activity_actor(&ev));
	ocsf_process_set_name(me, SUP_NAME);
	ocsf_process_set_pid(me, (int32_t)getpid());
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, name ? name : "");
	ocsf_process_set_pid(p, (int32_t)pid);
	u = ocsf_process_user(p);
	ocsf_user_set_name(u, s->user);
	ocsf_user_set_uid(u, ocsf_arena_printf(ar, "%u", (unsigned)s->uid));
	ocsf_process_activity_set_message(
	    &ev, ocsf_arena_printf(ar,
				   "%s (pid %d) runs as %s(%u):%s(%u) with %d groups; setuid(0) "
				   "verified to fail",
				   name ? name : "command", (int)pid, s->user, (unsigned)s->uid,
				   s->group, (unsigned)s->gid, s->n_groups));
	ocsf_process_activity_add_unmapped_str(&ev, "group", s->group);
	ocsf_process_activity_add_unmapped_int(&ev, "gid", (int64_t)s->gid);
	ocsf_process_activity_add_unmapped_int(&ev, "groups", s->n_groups);
	osh_emit(&ev);
}

void osh_confine_ev_landlock(const struct osh_confine_summary *s, pid_t pid)
{
	struct ocsf_device_config_state_change ev;
	struct ocsf_arena *ar = &ev.ev.arena;

	osh_site_init_confine_landlock(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_ENABLED, "enabled",
	       OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(ar,
				   "Landlock ABI %d applied to pid %d (%s): %u read-only and %u "
				   "read-write paths, everything else denied%s",
				   s->landlock_abi, (int)pid,
				   s->landlock_hard ? "hard_requirement" : "best_effort",
				   s->rules_ro, s->rules_rw,
				   s->scoped ? "; abstract unix sockets and signals scoped" : ""));
	ocsf_device_config_state_change_add_unmapped_int(&ev, "abi", s->landlock_abi);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "rules_read_only", s->rules_ro);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "rules_read_write", s->rules_rw);
	ocsf_device_config_state_change_add_unmapped_str(
	    &ev, "handled_access_fs",
	    ocsf_arena_printf(ar, "0x%llx", (unsigned long long)s->handled_fs));
	ocsf_device_config_state_change_add_unmapped_str(
	    &ev, "compatibility", s->landlock_hard ? "hard_requirement" : "best_effort");
	ocsf_device_config_state_change_add_unmapped_int(&ev, "pid", (int64_t)pid);
	osh_emit(&ev);
}

void osh_confine_ev_seccomp(const struct osh_confine_summary *s, pid_t pid)
{
	struct ocsf_device_config_state_change ev;
	struct ocsf_arena *ar = &ev.ev.arena;
	char json[1536];
	size_t n = 0;

	osh_site_init_confine_seccomp(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_ENABLED, "enabled",
	       OCSF_STATUS_ID_SUCCESS);
	json[n++] = '[';
	for (size_t i = 0; osh_confine_seccomp_denied[i] && n + 64 < sizeof(json); i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s\"%s\"", i ? "," : "",
				      osh_confine_seccomp_denied[i]);
	json[n++] = ']';
	json[n] = '\0';
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(ar,
				   "seccomp filter loaded in pid %d: %u rules, %u BPF "
				   "instructions; ptrace, bpf, mount, io_uring, user namespaces "
				   "and more fail with EPERM%s",
				   (int)pid, s->seccomp_rules, s->seccomp_insns,
				   s->seccomp_notify ? " and are reported"
						     : " (not reported: no user notification)"));
	ocsf_device_config_state_change_add_unmapped_bool(&ev, "denials_reported",
							  s->seccomp_notify);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "rules", s->seccomp_rules);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "bpf_instructions", s->seccomp_insns);
	ocsf_device_config_state_change_add_unmapped_json(&ev, "denied", json);
	ocsf_device_config_state_change_add_unmapped_int(&ev, "pid", (int64_t)pid);
	osh_emit(&ev);
}

/* Finding fields common to the sites below (after their osh_site_init_*). */
static void finding(struct ocsf_detection_finding *ev, const char *uid, const char *title)
{
	struct ocsf_finding_info *fi;

	ocsf_detection_finding_set_confidence_id(ev, OCSF_CONFIDENCE_ID_HIGH);
	ocsf_detection_finding_set_is_alert(ev, true);
	fi = ocsf_detection_finding_finding_info(ev);
	ocsf_finding_info_set_uid(fi, uid);
	ocsf_finding_info_set_title(fi, title);
}

void osh_confine_ev_note(const struct osh_confine_note *n, const char *mode)
{
	switch (n->kind) {
	case OSH_CONFINE_NOTE_USER_CREATED: {
		struct ocsf_device_config_state_change ev;

		osh_site_init_confine_user_created(&ev);
		config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "created",
		       OCSF_STATUS_ID_SUCCESS);
		ocsf_device_config_state_change_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena,
					   "sandbox user %s created (uid %u, gid %u, no login "
					   "shell, no home)",
					   n->user, (unsigned)n->uid, (unsigned)n->gid));
		ocsf_device_config_state_change_add_unmapped_str(&ev, "user", n->user);
		ocsf_device_config_state_change_add_unmapped_int(&ev, "uid", (int64_t)n->uid);
		osh_emit(&ev);
		break;
	}
	case OSH_CONFINE_NOTE_DIR_CREATED: {
		struct ocsf_device_config_state_change ev;

		osh_site_init_confine_dir_created(&ev);
		config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "created",
		       OCSF_STATUS_ID_SUCCESS);
		ocsf_device_config_state_change_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena,
					   "read-write directory %s created, owned by uid %u gid "
					   "%u",
					   n->path, (unsigned)n->uid, (unsigned)n->gid));
		ocsf_device_config_state_change_add_unmapped_str(&ev, "path", n->path);
		osh_emit(&ev);
		break;
	}
	case OSH_CONFINE_NOTE_PATH_SKIPPED: {
		struct ocsf_device_config_state_change ev;

		osh_site_init_confine_path_skipped(&ev);
		config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "skipped",
		       OCSF_STATUS_ID_FAILURE);
		ocsf_device_config_state_change_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena,
					   "best_effort: %s path %s left out of the Landlock "
					   "ruleset (%s: %s); the command cannot access it",
					   n->rw ? "read-write" : "read-only", n->path, n->detail,
					   strerror(n->err_no)));
		ocsf_device_config_state_change_set_status_detail(&ev, strerror(n->err_no));
		ocsf_device_config_state_change_add_unmapped_str(&ev, "path", n->path);
		ocsf_device_config_state_change_add_unmapped_bool(&ev, "read_write", n->rw);
		osh_emit(&ev);
		break;
	}
	case OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE: {
		struct ocsf_detection_finding ev;

		osh_site_init_confine_landlock_unavailable(&ev);
		finding(&ev, "landlock-unavailable", "Landlock unavailable");
		ocsf_detection_finding_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena, "%s (%s)", n->detail, mode));
		ocsf_detection_finding_add_unmapped_str(&ev, "compatibility", mode);
		osh_emit(&ev);
		break;
	}
	case OSH_CONFINE_NOTE_LANDLOCK_WEAK: {
		struct ocsf_detection_finding ev;

		osh_site_init_confine_landlock_weak(&ev);
		finding(&ev, "landlock-weak", "Landlock weaker than asked");
		ocsf_detection_finding_set_message(
		    &ev, ocsf_arena_printf(&ev.ev.arena, "kernel Landlock ABI %d: %s", n->abi,
					   n->detail));
		ocsf_detection_finding_add_unmapped_int(&ev, "abi", n->abi);
		osh_emit(&ev);
		break;
	}
	}
}

void osh_confine_ev_unsafe(const struct osh_confine_issue *is, size_t n, size_t total,
			   const char *source, const char *hash, bool reload)
{
	struct ocsf_detection_finding ev;
	struct ocsf_arena *ar = &ev.ev.arena;
	char text[2048];
	size_t w = 0;

	osh_site_init_confine_unsafe_policy(&ev);
	finding(&ev, "unsafe-policy", "Unsafe Policy Content");
	text[0] = '\0';
	for (size_t i = 0; i < n && w + 8 < sizeof(text); i++) {
		int k = snprintf(text + w, sizeof(text) - w, "%s%s: %s", i ? "; " : "", is[i].field,
				 is[i].reason);

		if (k < 0)
			break;
		w += (size_t)k;
	}
	ocsf_detection_finding_set_message(
	    &ev, ocsf_arena_printf(ar, "%s policy from %s is unsafe (%zu issue%s): %s",
				   reload ? "reloaded" : "loaded", source, total,
				   total == 1 ? "" : "s", text));
	ocsf_finding_info_set_desc(ocsf_detection_finding_finding_info(&ev), text);
	ocsf_detection_finding_add_unmapped_int(&ev, "issues", (int64_t)total);
	ocsf_detection_finding_add_unmapped_str(&ev, "first_field", is[0].field);
	ocsf_detection_finding_add_unmapped_str(&ev, "policy_source", source);
	ocsf_detection_finding_add_unmapped_str(&ev, "policy_hash", hash ? hash : "");
	ocsf_detection_finding_add_unmapped_bool(&ev, "reload", reload);
	osh_emit(&ev);
}

void osh_confine_ev_failed(const char *error)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_confine_failed(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "refused",
	       OCSF_STATUS_ID_FAILURE);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "confinement cannot be prepared, the command is not started: %s",
				   error));
	ocsf_device_config_state_change_set_status_detail(&ev, error);
	osh_emit(&ev);
}

void osh_confine_ev_secrets(const char *const *names, size_t n)
{
	struct ocsf_device_config_state_change ev;
	char json[OSH_SECRET_MAX * (OSH_SECRET_NAME_MAX + 3) + 8];
	size_t w = 0;

	osh_site_init_confine_secrets(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_ENABLED, "loaded",
	       OCSF_STATUS_ID_SUCCESS);
	json[w++] = '[';
	for (size_t i = 0; i < n && w + 160 < sizeof(json); i++)
		w += (size_t)snprintf(json + w, sizeof(json) - w, "%s\"%s\"", i ? "," : "",
				      names[i]);
	json[w++] = ']';
	json[w] = '\0';
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "%zu secret%s held by the supervisor; the command sees only "
				   "placeholders (openshell:resolve:env:NAME)",
				   n, n == 1 ? "" : "s"));
	ocsf_device_config_state_change_add_unmapped_json(&ev, "names", json);
	osh_emit(&ev);
}

void osh_confine_ev_denied(const struct osh_confine_denial *d, uint64_t suppressed)
{
	struct ocsf_detection_finding ev;
	struct ocsf_arena *ar = &ev.ev.arena;

	osh_site_init_confine_syscall_denied(&ev);
	finding(&ev, "syscall-denied", "System call denied");
	ocsf_detection_finding_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&ev, OCSF_DISPOSITION_ID_BLOCKED);
	if (d) {
		ocsf_detection_finding_set_message(
		    &ev, ocsf_arena_printf(ar, "seccomp denied %s to %s (pid %d): EPERM%s",
					   d->syscall, d->comm[0] ? d->comm : "?", (int)d->pid,
					   suppressed ? " (more denials were not reported)" : ""));
		ocsf_detection_finding_add_unmapped_str(&ev, "syscall", d->syscall);
		ocsf_detection_finding_add_unmapped_int(&ev, "syscall_nr", d->nr);
		ocsf_detection_finding_add_unmapped_int(&ev, "pid", (int64_t)d->pid);
		ocsf_detection_finding_add_unmapped_str(&ev, "comm", d->comm);
	} else {
		ocsf_detection_finding_set_message(
		    &ev, ocsf_arena_printf(ar,
					   "seccomp denied %llu more system calls (not "
					   "reported one by one)",
					   (unsigned long long)suppressed));
	}
	ocsf_detection_finding_add_unmapped_int(&ev, "suppressed", (int64_t)suppressed);
	osh_emit(&ev);
}

void osh_confine_ev_reload_deferred(const char *what)
{
	struct ocsf_device_config_state_change ev;

	osh_site_init_confine_reload_deferred(&ev);
	config(&ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER, "deferred",
	       OCSF_STATUS_ID_SUCCESS);
	ocsf_device_config_state_change_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "new policy changes %s: the running command keeps the "
				   "confinement it was started with; it applies at the next start",
				   what));
	ocsf_device_config_state_change_add_unmapped_str(&ev, "changed", what);
	osh_emit(&ev);
}
