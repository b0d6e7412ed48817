/* l7_sites.h - the OCSF log sites of L7 inspection, one function each.
 *
 * DESIGN
 * The relay and the TLS layer say what happened; these functions decide how
 * it reads in OCSF (rows of schema/sites.yaml, subsystem supervisor/l7):
 *   request decided     -> HTTP Activity (4002), activity = the method:
 *                          L7_REQUEST_ALLOW (Allowed/Allowed),
 *                          L7_REQUEST_AUDIT (Allowed/Logged: a rule would
 *                          have denied it, audit mode forwarded it),
 *                          L7_REQUEST_DENY (Denied/Blocked, 403 answered)
 *   malformed request   -> Detection Finding L7_PARSE_ERROR (smuggling,
 *                          oversized or truncated input; 4xx answered)
 *   unsolicited 101     -> Detection Finding L7_UPGRADE_REFUSED
 *   hostile/broken upstream (bad head, huge head, bad chunking, endless
 *                          body) -> Detection Finding L7_UPSTREAM_ERROR
 *   SQL passthrough     -> Detection Finding L7_SQL_NOT_ENFORCED
 *   TLS: client handshake failed / SNI mismatch / upstream verification
 *                       -> Network Activity L7_TLS_CLIENT_FAIL,
 *                          L7_SNI_MISMATCH, L7_TLS_UPSTREAM_FAIL
 *   the L7 connection cap -> Network Activity L7_LIMIT (503)
 *   CA made / not made  -> Application Lifecycle L7_CA_READY / L7_CA_FAILED
 * Thread-safe (osh_emit is), never block; arguments are borrowed.
 */
#ifndef OSH_L7_SITES_H
#define OSH_L7_SITES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The connection a site reports on. Any pointer may be NULL. */
struct osh_l7_evctx {
	const char *src_ip;
	uint16_t src_port;
	const char *host; /* the origin's name */
	uint16_t port;
	const char *dst_ip;
	const char *scheme; /* "https" (terminated) or "http" */
	const char *exe;    /* the client process */
	pid_t pid;
	const char *const *anc; /* its ancestors' executables, nearest first */
	const pid_t *anc_pid;
	size_t n_anc;
	const char *policy; /* the network policy (key) that admitted the connection */
	uint64_t generation;
};

enum osh_l7_verdict { OSH_L7_V_ALLOW, OSH_L7_V_AUDIT, OSH_L7_V_DENY };

void osh_l7_ev_request(const struct osh_l7_evctx *c, const char *method, const char *target,
		       enum osh_l7_verdict v, const char *rule, const char *reason, int status);
void osh_l7_ev_parse_error(const struct osh_l7_evctx *c, const char *what, int status);
void osh_l7_ev_upgrade_refused(const struct osh_l7_evctx *c, const char *method,
			       const char *target);
void osh_l7_ev_upstream_error(const struct osh_l7_evctx *c, const char *what);
void osh_l7_ev_sql(const struct osh_l7_evctx *c);
void osh_l7_ev_tls_client_fail(const struct osh_l7_evctx *c, const char *why);
void osh_l7_ev_sni_mismatch(const struct osh_l7_evctx *c, const char *sni);
void osh_l7_ev_tls_upstream_fail(const struct osh_l7_evctx *c, const char *why);
void osh_l7_ev_limit(const struct osh_l7_evctx *c, unsigned limit);
void osh_l7_ev_ca(bool ok, const char *bundle_or_error, const char *sha256);

#endif
