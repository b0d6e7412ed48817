/* osh_proxy.h - the sandbox's egress proxy: HTTP CONNECT tunnels and
 * absolute-form forward proxying of plain HTTP, every request decided by
 * the network policy engine, the SSRF rules and the client's identity.
 *
 * DESIGN
 * One I/O thread runs an epoll loop over the listener, every client and
 * every upstream socket: it reads request heads (strict parser,
 * proxy_http.h), relays tunnel bytes and answers refusals. Everything that
 * may block (who is the client: /proc walk and TOFU hashing; DNS; the
 * upstream connect) runs on a small pool of worker threads, one connection
 * at a time, and hands the connection back through an eventfd. Bounded
 * memory: a connection owns two 16 KiB buffers (client->upstream, which
 * first holds the request head, and upstream->client) and nothing grows;
 * at most max_conns connections exist (the next one gets a 503 and is
 * closed). A client that does not complete its head within head_timeout_ms
 * is closed (408). Bad input is answered with a 4xx naming what was wrong
 * (X-OpenShell-Reason header and body), an event, and the close of that
 * connection only.
 * The policy is a compiled engine (proxy_policy.h) held by reference: a new
 * generation is compiled beside the current one and swapped under a lock
 * (osh_proxy_set_policy), connections being decided keep the engine they
 * started with; a policy that does not compile is refused and the last good
 * engine stays.
 *
 * Ownership: osh_proxy_create() returns a proxy the caller frees with
 * osh_proxy_destroy() (which stops it first). Threads: create/start/stop/
 * destroy from one controlling thread; set_policy and set_root from any.
 */
#ifndef OSH_PROXY_H
#define OSH_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"
#include "sandbox.pb-c.h"

struct osh_proxy;

struct osh_proxy_config {
	const char *bind_ip;	     /* IPv4/IPv6 literal; NULL = "127.0.0.1" */
	uint16_t port;		     /* 0 = let the kernel pick */
	unsigned max_conns;	     /* 0 = 512 */
	unsigned head_timeout_ms;    /* 0 = 10000 */
	unsigned connect_timeout_ms; /* 0 = 5000 */
	unsigned workers;	     /* 0 = 4 */
	int netns_fd;		     /* clients' network namespace for identity; -1 = ours */
	/* Where the secret store is (the supervisor passes &host->secrets, which
	 * the confine subsystem fills after this proxy is created), read for
	 * every forwarded request: placeholders (openshell:resolve:env:NAME) in
	 * an allowed plain-HTTP head are replaced by their values on the wire
	 * (osh_secret_substitute); a head with a placeholder that cannot be
	 * resolved is refused (500). NULL, or a NULL store: no secrets, so any
	 * placeholder is refused. CONNECT tunnels are opaque and untouched. */
	const struct osh_secret_store *const *secrets;
	/* L7 inspection (docs/l7.md, proxy_l7.h): connections to endpoints with
	 * `protocol: rest` are handed to one thread each (at most l7_max at
	 * once, 0 = 64; the next gets 503), which terminates TLS with l7_tls
	 * (NULL: TLS is never terminated, so such endpoints only get their
	 * plain-HTTP requests inspected) and decides every request. The context
	 * is borrowed: it must outlive the proxy. l7_timeout_ms: per read and
	 * write on an inspected connection (0 = 30000). */
	struct osh_l7_tls *l7_tls;
	unsigned l7_max;
	unsigned l7_timeout_ms;
};

struct osh_secret_store; /* src/supervisor/confine/osh_secret.h */
struct osh_l7_tls;	 /* src/supervisor/l7/osh_l7_tls.h */

void osh_proxy_config_default(struct osh_proxy_config *cfg);

/* Binds and listens (emits PROXY_LISTEN, or PROXY_LISTEN_FAILED and returns
 * OSH_ESYS with err naming the call). No thread runs yet and no policy is
 * set: until osh_proxy_set_policy every request is denied. Returns 0,
 * OSH_EINVAL (bad bind_ip), OSH_ESYS or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_proxy_create(const struct osh_proxy_config *cfg, struct osh_proxy **out,
				    char *err, size_t errlen);

/* The bound port (useful with port 0) and address text. */
uint16_t osh_proxy_port(const struct osh_proxy *px);
const char *osh_proxy_ip(const struct osh_proxy *px);

/* Starts the I/O thread and the workers. 0 or OSH_ESYS. */
OSH_MUST_CHECK int osh_proxy_start(struct osh_proxy *px);

/* Compiles `policy` (NULL = no policy: deny all) as `generation` and makes it
 * current for connections decided from now on. On error the current engine
 * stays, err names the field, and PROXY_POLICY_REJECTED is emitted; on
 * success PROXY_POLICY_APPLIED. Returns 0, OSH_EINVAL or OSH_ENOMEM. The
 * policy is not kept. Thread-safe. */
OSH_MUST_CHECK int osh_proxy_set_policy(struct osh_proxy *px,
					const Openshell__V1__SandboxPolicy *policy,
					uint64_t generation, char *err, size_t errlen);

/* Generation of the current engine (0 before any policy). Thread-safe. */
uint64_t osh_proxy_generation(struct osh_proxy *px);

/* The sandbox command's PID: its process tree is searched first when
 * resolving a client. Thread-safe. */
void osh_proxy_set_root(struct osh_proxy *px, pid_t root);

/* Stops accepting, waits for the workers' current jobs, closes every
 * connection. Idempotent. No event: in the supervisor SUP_STOP (emitted
 * before the subsystems stop) is the last line of a run; the standalone
 * osh-proxy emits PROXY_STOP itself. */
void osh_proxy_stop(struct osh_proxy *px);

void osh_proxy_destroy(struct osh_proxy *px); /* stops first; NULL ok */

struct osh_proxy_stats {
	uint64_t accepted;	  /* connections accepted */
	uint64_t allowed;	  /* tunnels / forwards opened */
	uint64_t denied;	  /* refused by policy, identity or SSRF (403) */
	uint64_t bad_requests;	  /* refused for malformed input (4xx) */
	uint64_t upstream_failed; /* 502 */
	uint64_t limited;	  /* refused at the connection limit (503) */
	uint64_t timeouts;	  /* closed for a slow head (408) */
	uint64_t open;		  /* connections open now */
	uint64_t owner_hits;	  /* client owners found by the owner cache */
	uint64_t owner_misses;	  /* ... and by the /proc search */
	uint64_t l7_handed;	  /* connections handed to L7 inspection */
	uint64_t l7_active;	  /* ... running now */
};

/* Does the current engine have endpoints with REST rules, none of them
 * with `tls: skip` (whose CONNECT tunnels stay opaque)? The supervisor marks
 * "l7" enforced only then. Thread-safe. */
bool osh_proxy_has_l7(struct osh_proxy *px);

void osh_proxy_stats_get(struct osh_proxy *px, struct osh_proxy_stats *out);

#endif
