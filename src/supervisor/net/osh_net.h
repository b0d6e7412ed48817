/* osh_net.h - the sandbox's network namespace, its nftables rules, the
 * child's proxy environment and the bypass monitor (subsystem supervisor/net).
 *
 * DESIGN
 * The command runs in a network namespace of its own, joined to the host by
 * a veth pair on a /30 taken from a range (default 10.200.0.0/16): the host
 * end (.1) is where the proxy listens, the sandbox end (.2) is the command's
 * only interface besides loopback. There is no NAT; the namespace's default
 * route points at the host end so that every attempt to reach anything else
 * leaves through the namespace's OUTPUT hook, where nftables accepts
 * loopback, established traffic and the proxy port, LOGs the rest with a
 * prefix unique to this sandbox and rejects it. The bypass monitor reads
 * those LOG lines from /dev/kmsg and reports each attempt (docs/network.md).
 *
 * Everything is done with system calls, rtnetlink (libmnl) and libnftables:
 * no `ip` or `nft` process. The namespace is anonymous: it is held by an fd
 * (the command joins it with setns() in the forked child) and vanishes with
 * its last process, taking the veth pair and the rules with it. What could
 * outlive a SIGKILLed supervisor (the host end of the veth, held alive by an
 * orphan that escaped the process group, and the slot's lock file) is named
 * after the slot (`osh-<slot>`, <run_dir>/slot-<slot>.lock) and removed by
 * the next supervisor's start-up scan: a slot lock that can be flock()ed
 * belongs to a dead supervisor.
 *
 * Threads: osh_net_create/install/destroy run on the supervisor's main
 * thread; namespace-side work runs on short-lived threads that setns() into
 * the namespace (a network namespace switch is per thread); the monitor is
 * one thread. osh_net_child_setup is async-signal-safe.
 *
 * Ownership: struct osh_net is owned by the caller of osh_net_create and
 * freed by osh_net_destroy (which tears everything down). Strings returned
 * by the getters live as long as the struct. Events are emitted through
 * osh_emit (the emit runtime must be running).
 */
#ifndef OSH_NET_H
#define OSH_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"

#define OSH_NET_RUN_DIR "/run/openshell/net"
#define OSH_NET_RANGE	"10.200.0.0/16"

enum osh_net_mode {
	OSH_NET_MODE_AUTO,    /* namespace when possible, else "unavailable" and run on */
	OSH_NET_MODE_OFF,     /* no namespace (operator's choice), nothing claimed */
	OSH_NET_MODE_REQUIRE, /* no namespace is a start-up failure */
};

struct osh_net_cfg {
	enum osh_net_mode mode;
	const char *run_dir;	/* NULL: OSH_NET_RUN_DIR */
	const char *range;	/* IPv4 CIDR, prefix 8..29; NULL: OSH_NET_RANGE */
	const char *sandbox_id; /* recorded in the slot lock file; may be NULL */
	bool monitor;		/* start the bypass monitor (default true via osh_net_cfg_env) */
};

struct osh_net;

/* Fill cfg from the environment: OPENSHELL_NETNS (auto | off | require),
 * OPENSHELL_NET_RANGE, OPENSHELL_NET_RUN_DIR. Returns 0, or OSH_EINVAL with
 * a message naming the variable in err. */
OSH_MUST_CHECK int osh_net_cfg_env(struct osh_net_cfg *cfg, char *const *envp, char *err,
				   size_t errlen);

/* Start-up: remove leftovers of dead supervisors, take a slot, create the
 * namespace and the veth pair with their addresses and routes. Emits
 * NETNS_STALE_CLEANED (when something was removed) and NETNS_READY, or
 * NETNS_UNAVAILABLE / NETNS_FAILED. *out is always set (a disabled object
 * when the namespace is not in place, see osh_net_active) unless the return
 * is OSH_ENOMEM. Returns 0, or an error when mode is REQUIRE and the
 * namespace could not be made (or always for OSH_ENOMEM/OSH_EINVAL). */
OSH_MUST_CHECK int osh_net_create(const struct osh_net_cfg *cfg, struct osh_net **out);

/* True when the namespace exists and the command will join it. */
bool osh_net_active(const struct osh_net *n);
/* Host end address ("10.200.0.1") or NULL when not active. */
const char *osh_net_host_ip(const struct osh_net *n);
/* Sandbox end address ("10.200.0.2") or NULL when not active. */
const char *osh_net_sandbox_ip(const struct osh_net *n);
/* Host end interface name ("osh-12") or NULL when not active. */
const char *osh_net_host_if(const struct osh_net *n);
/* The LOG prefix of this sandbox's rules ("" when not active). */
const char *osh_net_log_prefix(const struct osh_net *n);

/* Install the namespace's ruleset: accept loopback, established and
 * host_ip:proxy_port (none when proxy_port is 0: everything else is
 * refused), LOG + reject the rest. Then start the bypass monitor. Emits
 * NET_RULES_INSTALLED or NET_RULES_FAILED, BYPASS_MONITOR_START or
 * BYPASS_MONITOR_UNAVAILABLE. When the rules cannot be installed the
 * namespace stays (the command has no route anywhere but the host end) but
 * nothing is claimed. Returns 0 or the error (also when inactive: 0). */
OSH_MUST_CHECK int osh_net_install(struct osh_net *n, uint16_t proxy_port);

/* The proxy environment for the child: fills up to `max` NAME=VALUE
 * strings into vars (each of `cap` bytes) and returns how many (0 when not
 * active or no proxy). HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy,
 * NO_PROXY, no_proxy. */
int osh_net_proxy_env(const struct osh_net *n, uint16_t proxy_port, char vars[][160], int max);

/* In the forked child before exec: join the namespace. Async-signal-safe.
 * Returns 0 or an errno value; *step names what failed. No-op when not
 * active. */
int osh_net_child_setup(const struct osh_net *n, const char **step);

/* The command runs as `pid` (its identity for the monitor's reports). */
void osh_net_on_child(struct osh_net *n, pid_t pid);

/* Tear down: stop the monitor, delete the veth pair, release the namespace
 * and the slot; emits NETNS_TEARDOWN when something was torn down. Safe on
 * every exit path and idempotent; frees nothing (see osh_net_free). */
void osh_net_stop(struct osh_net *n);
/* osh_net_stop, then free. NULL is a no-op. */
void osh_net_destroy(struct osh_net *n);

/* True while this process has a namespace with its rules in place (what the
 * policy events may list as the `network` enforcement). Thread-safe. */
bool osh_net_enforced(void);

/* Counters for tests and the teardown event. */
struct osh_net_stats {
	uint64_t records;    /* kmsg records read                          */
	uint64_t matched;    /* of those, carrying this sandbox's prefix   */
	uint64_t reported;   /* bypass attempts reported (2 events each)   */
	uint64_t duplicates; /* matched records folded into an attempt     */
	uint64_t resolved;   /* attempts whose process was identified      */
	uint64_t overruns;   /* EPIPE from /dev/kmsg: records overwritten  */
	uint64_t malformed;  /* matched records that did not parse         */
};
void osh_net_stats_get(const struct osh_net *n, struct osh_net_stats *out);

/* Remove the leftovers of dead supervisors under run_dir (NULL: default):
 * slot locks nobody holds, their host veths, and host interfaces named
 * osh-<n> without a live lock. Writes up to `cap` bytes of a space-
 * separated list of what was removed into `what`. Returns how many items
 * were removed (>= 0) or an error. Called by osh_net_create. */
int osh_net_clean_stale(const char *run_dir, char *what, size_t cap);

#endif
