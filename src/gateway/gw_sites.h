/* gw_sites.h - the gateway's own OCSF log sites.
 *
 * DESIGN: one function per site code (schema/sites.yaml, subsystem
 * `gateway`), each building a typed event with the generated bindings and
 * handing it to the emission runtime (src/emit), which writes
 * <data-dir>/openshell-gateway.log and, while ocsf_logging_enabled is on,
 * its JSONL twin openshell-gateway-ocsf.log. Strings are borrowed for the
 * call only. All functions are thread-safe (the runtime is) and never
 * block on I/O. Class choices: the gateway's and sandboxes' lives are
 * Application Lifecycle (6002); config changes are Device Config State
 * Change (5019); a refused connection or call is Network Activity (4001,
 * Refuse); repeated refusals from one principal are a Detection Finding
 * (2004).
 */
#ifndef OSH_GW_SITES_H
#define OSH_GW_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

/* Starts the runtime for the gateway: files in data_dir, JSONL as given,
 * stderr at WARN, built-in rotation (64 MiB, daily, 5 kept) unless
 * `rotate` is false (external logrotate + SIGHUP reopen). Returns 0, or the runtime's error;
 * OSH_ESTATE when a runtime already runs in this process (an in-process test gateway next to
 * another one): the events then go to that runtime, *owned stays false. */
OSH_MUST_CHECK int gw_sites_init(const char *data_dir, bool jsonl, bool rotate, bool *owned);
/* Flushes and stops the runtime when `owned`. */
void gw_sites_fini(bool owned);

/* GW_START: listening on `addrs` (operator-readable list). */
void gw_ev_start(const char *addrs, const char *data_dir, uint64_t config_revision);
/* GW_STOP. */
void gw_ev_stop(const char *why);
/* GW_INSECURE_TCP: plain TCP without authentication (every start). */
void gw_ev_insecure_tcp(const char *addr);
/* GW_TLS_TCP: TCP with TLS and required client certificates. */
void gw_ev_tls_tcp(const char *addr);

/* GW_SANDBOX_CREATE / GW_SANDBOX_DELETE / GW_SANDBOX_EXIT (exit: code or
 * signal; lost = status unknown). pid <= 0 is left out. */
void gw_ev_sandbox_create(const char *id, const char *name, int pid, const char *requested_by);
void gw_ev_sandbox_delete(const char *id, const char *name, int pid, const char *requested_by);
void gw_ev_sandbox_exit(const char *id, int pid, int code, int sig, bool lost);

/* GW_CONFIG_CHANGE: key old -> new at revision (source of the new value). */
void gw_ev_config_change(const char *key, const char *old_value, const char *new_value,
			 uint64_t revision, const char *source);

/* GW_AUTH_REFUSED: a connection or call refused. `principal` names who
 * ("uid 1001 pid 4242", "sandbox credential for <id>"), `what` the method
 * or "connect", `status` the gRPC status name sent (or "closed"), `reason`
 * the human text. suppressed = refusals not reported since the last one. */
void gw_ev_auth_refused(const char *principal, const char *what, const char *status,
			const char *reason, uint64_t suppressed);
/* GW_AUTH_REPEATED: `count` refusals of one principal within `window_s`. */
void gw_ev_auth_repeated(const char *principal, unsigned count, unsigned window_s,
			 const char *last_reason);
/* GW_LISTEN_LIMIT: connections refused by the cap or fd exhaustion since the
 * last report. */
void gw_ev_listen_limit(const char *reason, uint64_t count);
/* GW_STORE_UNAVAILABLE (up = false) / GW_STORE_RECOVERED (up = true): the
 * PostgreSQL store on `server` (host or socket dir) was lost or is back;
 * detail says why. */
void gw_ev_store_link(bool up, const char *server, const char *detail);
/* GW_CRED_IMPORT: sandbox credential digests of an earlier gateway's data
 * dir (`dir`) imported into the store once: `imported` stored, `skipped`
 * dropped (sandbox gone, unreadable, digest already stored); done = the
 * directory is gone (false: the import stopped and is retried next start). */
void gw_ev_cred_import(const char *dir, size_t imported, size_t skipped, bool done);

/* Policy proposals (docs/l7.md "Denials and proposals"). */
struct gw_ev_proposal {
	const char *sandbox_id, *sandbox;
	const char *proposal_id, *rule_name, *host, *binary;
	uint32_t port;
	const char *decided_by;
};
/* GW_PROPOSALS_SUBMIT: one SubmitPolicyAnalysis stored (Base Event). */
void gw_ev_proposals_submit(const char *sandbox_id, const char *sandbox, const char *mode,
			    unsigned accepted, unsigned rejected, const unsigned outcomes[4],
			    const char *first_reason);
/* GW_PROPOSAL_ACCEPT: merged into the policy, version old -> new. */
void gw_ev_proposal_accept(const struct gw_ev_proposal *p, uint32_t old_version,
			   uint32_t new_version, const char *policy_hash);
/* GW_PROPOSAL_REJECT. */
void gw_ev_proposal_reject(const struct gw_ev_proposal *p);

/* ---- ssh (docs/ssh.md): the SSH relay, SSH Activity (4007). endpoint is
 * the supervisor's socket ("unix:/..."), who the CLI's principal. */
/* GW_SSH_RELAY: relay `relay` to sandbox `name` opened (preface accepted). */
void gw_ev_ssh_relay(const char *id, const char *name, const char *endpoint, const char *relay,
		     const char *who);
/* GW_SSH_RELAY_CLOSED: the relay ended after up/down bytes and ms. */
void gw_ev_ssh_relay_closed(const char *id, const char *name, const char *endpoint,
			    const char *relay, uint64_t up, uint64_t down, int64_t ms);
/* GW_SSH_RELAY_FAILED: no relay (why). endpoint may be "". */
void gw_ev_ssh_relay_failed(const char *id, const char *name, const char *endpoint, const char *why,
			    const char *who);

#endif
