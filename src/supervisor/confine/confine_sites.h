/* confine_sites.h - the confinement subsystem's OCSF log sites.
 *
 * DESIGN
 * One function per site (schema/sites.yaml, subsystem supervisor/confine), so
 * confine_subsys.c never builds events itself. Three kinds: what was applied
 * to the command (CONFINE_USER, CONFINE_LANDLOCK, CONFINE_SECCOMP, emitted
 * once the command runs, i.e. after every child step held), what preparation
 * did (user and directories created, paths skipped, secrets loaded, a reload
 * that cannot change the running command, a fatal failure) and Detection
 * Findings for weakened protection (Landlock unavailable or weaker than
 * asked, unsafe policy). Strings are borrowed for the call. Thread-safe.
 */
#ifndef OSH_CONFINE_SITES_H
#define OSH_CONFINE_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_confine.h"

/* Process Activity (Set User ID) CONFINE_USER: pid runs as s->user/group. */
void osh_confine_ev_user(const struct osh_confine_summary *s, pid_t pid, const char *name);

/* Device Config State Change CONFINE_LANDLOCK: the ruleset applied to pid. */
void osh_confine_ev_landlock(const struct osh_confine_summary *s, pid_t pid);

/* Device Config State Change CONFINE_SECCOMP: the filter loaded in pid. */
void osh_confine_ev_seccomp(const struct osh_confine_summary *s, pid_t pid);

/* A preparation note (user/dir created, path skipped: config changes;
 * Landlock unavailable/weak: Detection Findings). `mode` is the policy's
 * landlock compatibility. */
void osh_confine_ev_note(const struct osh_confine_note *n, const char *mode);

/* Detection Finding CONFINE_UNSAFE_POLICY: n issues (n > 0) of the policy
 * from `source` (generation gen); reload false at start-up. */
void osh_confine_ev_unsafe(const struct osh_confine_issue *is, size_t n, size_t total,
			   const char *source, const char *hash, bool reload);

/* Device Config State Change CONFINE_FAILED: confinement cannot be prepared,
 * the command will not start (error is the preparation's message). */
void osh_confine_ev_failed(const char *error);

/* Device Config State Change CONFINE_SECRETS: n secrets loaded (names only),
 * exposed to the command as placeholders. */
void osh_confine_ev_secrets(const char *const *names, size_t n);

/* Detection Finding CONFINE_SYSCALL_DENIED: seccomp refused d->syscall to
 * the command (EPERM). suppressed = denials not reported since the last
 * event (rate limit); d NULL = only a count of suppressed ones. */
void osh_confine_ev_denied(const struct osh_confine_denial *d, uint64_t suppressed);

/* Device Config State Change CONFINE_RELOAD_DEFERRED: the new policy changes
 * filesystem/landlock/process settings that cannot change under a running
 * command. */
void osh_confine_ev_reload_deferred(const char *what);

#endif
