/* proxy_sites.h - every OCSF log site of the egress proxy, one function each.
 *
 * DESIGN
 * The proxy's code says what happened (struct osh_proxy_evinfo); these
 * functions decide how it reads in OCSF. Every decision is one event:
 *   CONNECT tunnel   -> Network Activity (4001) Open/allowed or Refuse/denied
 *   forward request  -> HTTP Activity (4002) whose activity is the request's
 *                       real method (GET=3, POST=6, ...; 99 + the method as
 *                       activity_name for others), allowed or denied
 *   SSRF refusal     -> the deny above plus a Detection Finding (2004)
 *   bad input, connection limit, head timeout, upstream failure, listener
 *                    -> Network Activity (Refuse / Fail / Listen / Close)
 *   engine policy    -> Device Config State Change (5019)
 * The deny reason the client gets in X-OpenShell-Reason is the event's
 * status_detail, byte for byte. Codes and meanings are rows of
 * schema/sites.yaml (subsystem supervisor/proxy).
 * All functions are thread-safe (osh_emit is), never block, and borrow
 * their arguments for the duration of the call.
 */
#ifndef OSH_PROXY_SITES_H
#define OSH_PROXY_SITES_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy_ident.h"
#include "proxy_ssrf.h"

/* What one connection's decision was about. Any pointer may be NULL. */
struct osh_proxy_evinfo {
	const char *src_ip; /* the client */
	uint16_t src_port;
	const char *host; /* requested host (lower-cased) */
	uint16_t port;
	const char *dst_ip;		   /* address connected to (allow) */
	const char *method;		   /* forward path: the request method */
	const char *path;		   /* forward path: origin-form path+query */
	const struct osh_proxy_peer *peer; /* resolved client process */
	const char *policy;		   /* matched network policy key */
	const char *reason;		   /* deny / failure reason */
	int status;			   /* HTTP status answered (0 = none yet) */
	uint64_t generation;		   /* policy generation decided on */
};

void osh_proxy_ev_listen(const char *ip, uint16_t port, unsigned max_conns);
void osh_proxy_ev_listen_failed(const char *ip, uint16_t port, const char *why);
void osh_proxy_ev_stop(const char *ip, uint16_t port, uint64_t served);

/* CONNECT_ALLOW / CONNECT_DENY */
void osh_proxy_ev_connect(const struct osh_proxy_evinfo *in, bool allow);
/* FORWARD_ALLOW / FORWARD_DENY */
void osh_proxy_ev_forward(const struct osh_proxy_evinfo *in, bool allow);
/* SSRF_BLOCK (Detection Finding) */
void osh_proxy_ev_ssrf(const struct osh_proxy_evinfo *in, enum osh_addr_class cls);
/* PROXY_UPSTREAM_FAIL: the upstream connect failed (502 sent). */
void osh_proxy_ev_upstream_fail(const struct osh_proxy_evinfo *in);
/* PROXY_BAD_REQUEST: malformed head, target or protocol bytes. */
void osh_proxy_ev_bad_request(const struct osh_proxy_evinfo *in);
/* PROXY_CONN_LIMIT: connection refused at the limit (503 sent). */
void osh_proxy_ev_conn_limit(const char *src_ip, uint16_t src_port, unsigned limit);
/* PROXY_HEAD_TIMEOUT: the client did not send a complete head in time. */
void osh_proxy_ev_head_timeout(const char *src_ip, uint16_t src_port, unsigned ms,
			       unsigned long bytes);
/* PROXY_POLICY_APPLIED / PROXY_POLICY_REJECTED: what the proxy decides with.
 * Whether that is enforcement depends on the namespace (the supervisor's
 * policy events carry the enforced set). */
void osh_proxy_ev_policy(uint64_t generation, unsigned rules, bool applied, const char *error,
			 uint64_t kept_generation);

#endif
