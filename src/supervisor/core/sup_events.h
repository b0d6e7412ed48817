/* sup_events.h - every OCSF log site of the supervisor core, one function each.
 *
 * DESIGN
 * Each function builds one typed event with the generated builders
 * (generated/c/ocsf_gen.h), sets its stable event code and hands it to
 * osh_emit(). Keeping the sites together makes the registry easy to check
 * against the code (test_sup_events compares both) and keeps OCSF details
 * (class, activity, severity, required objects) out of the process and poll
 * logic. All functions are thread-safe (osh_emit is), never block, and
 * borrow their string arguments only for the duration of the call.
 *
 * Every site is a row of schema/sites.yaml (subsystem supervisor/core) and
 * starts its event with the generated
 * osh_site_init_<code>() of generated/c/osh_sites.h; no event code string
 * is written here. docs/log-sites.md is generated from the same rows.
 */
#ifndef OSH_SUP_EVENTS_H
#define OSH_SUP_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "sup_poll.h"
#include "sup_proc.h"

#ifndef OSH_VERSION
#define OSH_VERSION "0.0.0"
#endif

#define OSH_SUP_PRODUCT "openshell-sandbox"
#define OSH_SUP_VENDOR	"OpenShell"

/* Application Lifecycle: supervisor start (before the command runs). */
void osh_sup_ev_start(const char *sandbox_id, const char *gateway, const char *log_dir);
/* Application Lifecycle: command launched and loops running. */
void osh_sup_ev_ready(int child_pid, int64_t startup_ms);
/* Application Lifecycle: supervisor stopping with `exit_code`; why = reason. */
void osh_sup_ev_stop(int exit_code, const char *why);
/* Application Lifecycle: start-up failed (fatal). */
void osh_sup_ev_start_failed(const char *why);
/* Base Event: periodic heartbeat (operator option --heartbeat). */
void osh_sup_ev_heartbeat(int child_pid, int64_t uptime_ms, uint64_t config_revision);

/* Process Activity: one event per process note (LAUNCH, LAUNCH_FAIL, EXIT,
 * TIMEOUT, SIGNAL, KILL, KILL_FAIL); TICK and HUP emit nothing here. */
void osh_sup_ev_proc(const struct osh_sup_proc_note *n, int64_t timeout_ms);

/* Device Config State Change: a newer sandbox_config was applied. */
void osh_sup_ev_config_updated(const struct osh_sup_poll_actions *a);
/* Device Config State Change: gateway sent an older revision (ignored). */
void osh_sup_ev_config_stale(const struct osh_sup_poll_actions *a);
/* Device Config State Change: config channel lost / restored. */
void osh_sup_ev_gateway_lost(const char *gateway, const char *detail, bool at_start);
void osh_sup_ev_gateway_restored(const char *gateway, unsigned failed_polls, int64_t offline_ms);

/* Device Config State Change: a policy became current. source is
 * "gateway" or "file"; path is the file (NULL for gateway). */
void osh_sup_ev_policy_loaded(const char *source, const char *path, uint32_t version,
			      const char *hash, unsigned rules, bool reload);
/* A new policy was refused; the current one (kept_hash, "" = default) stays. */
void osh_sup_ev_policy_rejected(const char *source, const char *error, const char *kept_hash);
/* Local policy unusable at start: the restrictive default is used. */
void osh_sup_ev_policy_fallback(const char *path, const char *error);
/* No policy anywhere: the restrictive default is used. */
void osh_sup_ev_policy_default(void);
/* The gateway stopped sending a policy: the current one stays. */
void osh_sup_ev_policy_absent(const char *kept_hash);

#endif
