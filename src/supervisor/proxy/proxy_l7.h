/* proxy_l7.h - the proxy's hand-off of connections to L7 inspection.
 *
 * DESIGN
 * The epoll loop relays opaque tunnels; a connection whose decided endpoint
 * has REST rules (protocol: rest) is instead handed here, after the L4
 * decision, the SSRF check and the upstream connect succeeded: the client
 * and upstream fds, the bytes already read after (or, for forward requests,
 * including) the request head, the engine and verdict it was decided with
 * and the client's identity. Each handed connection gets a thread of its
 * own running blocking relays (osh_l7_relay.h) with per-call deadlines;
 * at most `max` run at once, the next is refused (503 + L7_LIMIT) by the
 * caller (a CONNECT to a `tls: skip` endpoint is never handed: it stays an
 * opaque tunnel). CONNECT: the 200 is written here, then the first byte
 * decides: a TLS ClientHello is terminated with a leaf for the CONNECT
 * host, the origin is reached over verified TLS,
 * and the REST relay runs on the plaintext; anything else runs the relay on
 * the plain stream. Forward requests (absolute-form) run the relay in
 * forward mode on the same connection, every keep-alive request decided.
 * A request denied under enforce is also recorded for the denials
 * subsystem (osh_denials_record, stage forward-l7-deny, method + path).
 * Each request is decided with the proxy's current engine (a policy change
 * applies to the next request); the enforcement mode is the one of the
 * endpoint the connection was admitted by.
 *
 * Ownership: created and destroyed by the proxy; osh_proxy_l7_handoff takes
 * the fds on success. osh_proxy_l7_stop shuts every handed connection down
 * and waits for the threads.
 */
#ifndef OSH_PROXY_L7_H
#define OSH_PROXY_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"
#include "proxy_http.h"
#include "proxy_ident.h"
#include "proxy_policy.h"

struct osh_proxy_l7;
struct osh_l7_tls;
struct osh_secret_store;

struct osh_proxy_l7_cfg {
	struct osh_l7_tls *tls; /* NULL: TLS is never terminated (plain relays only) */
	unsigned max;		/* concurrent inspected connections; 0 = 64 */
	unsigned timeout_ms;	/* per read/write; 0 = 30000 */
	uint64_t body_max;	/* response body bound; 0 = 1 GiB */
	const struct osh_secret_store *const *secrets;	  /* see osh_proxy_config */
	struct osh_proxy_engine *(*engine_now)(void *ud); /* a new reference */
	void *ud;
};

struct osh_proxy_l7_req {
	int cfd, ufd;
	const char *pre; /* bytes to relay first (forward: the head itself) */
	size_t pre_len;
	bool is_connect;
	const struct osh_http_target *t;
	const char *src_ip, *dst_ip;
	uint16_t src_port;
	const struct osh_proxy_peer *peer;
	struct osh_proxy_engine *eng; /* the engine it was decided with (ref taken) */
	const struct osh_proxy_verdict *v;
};

OSH_MUST_CHECK int osh_proxy_l7_create(const struct osh_proxy_l7_cfg *cfg,
				       struct osh_proxy_l7 **out);

/* Starts the connection's thread. 0 (the fds are the thread's now),
 * OSH_EFULL (at the cap; L7_LIMIT emitted, the caller answers 503) or
 * OSH_ENOMEM / OSH_ESYS (the caller keeps the fds). */
OSH_MUST_CHECK int osh_proxy_l7_handoff(struct osh_proxy_l7 *p, const struct osh_proxy_l7_req *r);

/* Connections running now. */
unsigned osh_proxy_l7_active(struct osh_proxy_l7 *p);

void osh_proxy_l7_stop(struct osh_proxy_l7 *p);	   /* idempotent */
void osh_proxy_l7_destroy(struct osh_proxy_l7 *p); /* stops first; NULL ok */

#endif
