/* osh_l7_relay.h - the REST relay: HTTP/1.1 requests read from the client
 * stream, each decided by the policy's L7 rules, forwarded to the origin
 * stream, and the responses relayed back, on one keep-alive connection.
 *
 * DESIGN
 * Blocking, one thread per connection (the proxy bounds how many), over two
 * osh_l7_io streams, so the same relay serves TLS-terminated tunnels,
 * plain-HTTP tunnels and the plain-HTTP forward proxy. Per request:
 *   1. the head is read with the proxy's strict parser (proxy_http.h: bare
 *      LF, obs-fold, Content-Length + Transfer-Encoding, duplicate
 *      Content-Length, over 8192 bytes are refused: 400/431 + L7_PARSE_ERROR,
 *      connection closed);
 *   2. the decide callback gives the verdict for method + origin-form
 *      target; one event per request (L7_REQUEST_ALLOW/AUDIT/DENY). A deny
 *      is a 403 with `X-OpenShell-Policy: <policy>` and the JSON body
 *      {"error":"policy_denied","policy":"..","rule":"<METHOD> <path>",
 *      "detail":".."}, and the connection ends;
 *   3. the head goes upstream in origin form, hop-by-hop headers dropped
 *      (Upgrade too: inspected connections are never upgraded), Via added,
 *      through the rewrite hook (secret placeholders);
 *   4. the body is relayed as it arrives: exactly Content-Length bytes, or
 *      chunked through the strict decoder (osh_l7_http.h), never buffered
 *      whole; a truncated or malformed body is a 400 + event;
 *   5. the response head (at most 16 KiB, strict) is relayed, 1xx interim
 *      answers passed on, a 101 refused (the relay asked for no upgrade:
 *      L7_UPGRADE_REFUSED, 502, close); the body by its framing, at most
 *      body_max bytes (L7_UPSTREAM_ERROR past it), read-until-close when
 *      unframed. Every read and write has the streams' deadline.
 * The connection ends on client EOF between requests, on `Connection:
 * close` from either side, after a deny or an error.
 *
 * Ownership: everything in the config is borrowed for the call.
 */
#ifndef OSH_L7_RELAY_H
#define OSH_L7_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l7_sites.h"
#include "osh_l7_io.h"

struct osh_l7_decision {
	enum osh_l7_verdict v;
	const char *policy; /* for the 403's X-OpenShell-Policy and the body */
	char rule[256];	    /* the allowing rule, or "<METHOD> <path>" denied */
	char reason[512];   /* why not allowed ("" on allow) */
};

/* Decides one request. method and target are NUL-terminated; target is the
 * origin-form path[?query] as sent. */
typedef void (*osh_l7_decide_fn)(void *ud, const char *method, const char *target,
				 struct osh_l7_decision *d);

/* Rewrites an allowed head before it goes upstream (e.g. secret
 * placeholders). Returns 0 with *out malloc'd (or NULL = unchanged), or -1
 * with reason filled: the request is refused with 500. */
typedef int (*osh_l7_rewrite_fn)(void *ud, const char *head, size_t len, char **out,
				 size_t *out_len, char *reason, size_t rlen);

struct osh_l7_relay_cfg {
	struct osh_l7_io *client, *upstream;
	const char *host; /* the origin (Host header upstream in forward mode) */
	uint16_t port;
	bool forward;	 /* requests are absolute-form http:// URLs (forward proxy) */
	const char *pre; /* client bytes already read (the first head...) */
	size_t pre_len;
	osh_l7_decide_fn decide;
	osh_l7_rewrite_fn rewrite; /* may be NULL */
	void *ud;
	const struct osh_l7_evctx *ev;
	uint64_t body_max; /* response body bound; 0 = 1 GiB */
};

struct osh_l7_relay_stats {
	unsigned requests, allowed, audited, denied, errors;
};

/* Runs the relay until the connection ends. Returns 0 when it ended
 * cleanly, OSH_EPARSE / OSH_EPROTO / OSH_EIO / OSH_ETIMEDOUT / OSH_EPERM
 * (denied) otherwise; the client got an answer whenever one was still
 * possible. */
int osh_l7_relay_run(const struct osh_l7_relay_cfg *cfg, struct osh_l7_relay_stats *st);

/* Writes a plain error answer (JSON body {"error":"<reason>"}, Connection:
 * close) to io; for refusals before the relay runs (502 upstream TLS, 421
 * SNI mismatch). Returns io's write_all result. */
int osh_l7_answer(struct osh_l7_io *io, int status, const char *reason);

#endif
