/* net_internal.h - the pieces of supervisor/net, shared between its files.
 *
 * DESIGN
 * One file per mechanism so each can be tested alone: rtnetlink requests
 * (net_link.c), namespace threads (net_ns.c), slots and leftovers
 * (net_slot.c), the ruleset (net_rules.c), the kmsg record parser
 * (net_kmsg.c, pure, fuzzed), the /proc/net scanner (net_procnet.c, pure,
 * fuzzed), socket -> process resolution (net_ident.c), the monitor thread
 * (net_monitor.c), the OCSF sites (net_sites.c), the orchestration (net.c)
 * and the subsystem table row (net_subsys.c). Nothing here is thread-safe unless it says so;
 * every string argument is borrowed for the duration of the call.
 */
#ifndef OSH_NET_INTERNAL_H
#define OSH_NET_INTERNAL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"
#include "osh_net.h"

#define NET_SANDBOX_IF "eth0" /* name of the sandbox end inside the namespace */
#define NET_IF_PREFIX  "osh-" /* host end: osh-<slot>                           */
#define NET_PREFIX_MAX 48     /* LOG prefix buffer (the kernel takes up to 127) */
#define NET_TABLE      "openshell"

/* ------------------------------------------------------------ net_link.c
 * rtnetlink requests in the calling thread's network namespace. Each
 * returns 0 or a negative errno-style value (-errno) of the kernel's
 * answer; msg (when non-NULL) gets "<request>: <strerror>". */
int net_link_veth_create(const char *host_if, const char *peer_if, int peer_nsfd, char *msg,
			 size_t mlen);
int net_link_delete(const char *ifname);
int net_link_up(const char *ifname, char *msg, size_t mlen);
int net_link_addr4(const char *ifname, uint32_t addr, unsigned prefix, char *msg, size_t mlen);
int net_link_route4_default(const char *ifname, uint32_t gw, char *msg, size_t mlen);

/* -------------------------------------------------------------- net_ns.c */
/* Create a new network namespace on a helper thread; *nsfd gets an O_CLOEXEC
 * fd to it. Then, still inside, run fn(arg) when fn is non-NULL. Returns 0,
 * OSH_ESYS (unshare/open failed; errno in *sys_errno) or fn's result. */
int net_ns_create(int *nsfd, int (*fn)(void *arg), void *arg, int *sys_errno);
/* Run fn(arg) on a helper thread that joined nsfd. Returns fn's result or
 * OSH_ESYS (setns failed; errno in *sys_errno). */
int net_ns_run(int nsfd, int (*fn)(void *arg), void *arg, int *sys_errno);

/* ------------------------------------------------------------ net_slot.c */
struct net_range {
	uint32_t base; /* network address, host byte order */
	unsigned prefix;
	unsigned nslots; /* /30 blocks in the range */
};
/* Parse "a.b.c.d/p" (8 <= p <= 29, host bits zero). 0 or OSH_EINVAL. */
int net_range_parse(const char *text, struct net_range *r);

struct net_slot {
	unsigned index;
	int lock_fd;  /* holds the flock; -1 when none */
	uint32_t net; /* host byte order: net+1 host end, net+2 sandbox end */
	char lock_path[256];
	char host_if[IF_NAMESIZE];
};
/* Take a free slot: a lock nobody holds, a free interface name, an address
 * block that overlaps no address of the host's interfaces. Records pid,
 * sandbox id and the interface in the lock file. 0, OSH_EFULL (no slot),
 * OSH_EIO/OSH_ESYS (run dir); msg explains. */
int net_slot_take(const char *run_dir, const struct net_range *r, const char *sandbox_id,
		  struct net_slot *s, char *msg, size_t mlen);
/* Give the slot back (unlink while holding the lock, then close). */
void net_slot_release(struct net_slot *s);
/* Does IPv4 block [net, net+3] overlap any address/network of a host
 * interface? Writes the interface's name to `who` when it does. */
bool net_addr_collides(uint32_t net, char *who, size_t wlen);

/* ----------------------------------------------------------- net_rules.c */
/* The ruleset text for the namespace (table inet openshell). proxy_port 0:
 * no proxy accept rule. Returns bytes written or OSH_ETOOBIG. */
int net_rules_text(char *buf, size_t cap, uint32_t host_ip, uint16_t proxy_port,
		   const char *prefix);
/* Apply a ruleset text with libnftables in the calling thread's namespace.
 * 0 or OSH_ESYS with libnftables' message in msg. */
int net_rules_apply(const char *text, char *msg, size_t mlen);

/* ------------------------------------------------------------ net_kmsg.c */
struct net_kmsg_rec {
	uint64_t seq;
	uint64_t usec;
	char src[46], dst[46]; /* textual IPv4/IPv6 addresses (validated) */
	bool v6;
	char proto[8];	/* "tcp", "udp", "icmp", "icmpv6", or lower-cased token */
	int proto_num;	/* 6, 17, 1, 58, or -1 */
	uint16_t sport; /* 0 when absent */
	uint16_t dport; /* 0 when absent */
	bool has_dport;
	bool syn;
	long uid; /* -1 when absent */
	char out_if[IF_NAMESIZE];
};
/* Parse one /dev/kmsg record ("prio,seq,usec,flags;text[\n dict]").
 * Returns 1 when its text starts with `prefix` and the fields parse, 0 when
 * the prefix does not match (not ours), OSH_EPARSE when the record or the
 * fields after our prefix are malformed. Never reads past len. */
int net_kmsg_parse(const char *buf, size_t len, const char *prefix, struct net_kmsg_rec *r);

/* ----------------------------------------------------------- net_ident.c */
struct net_ident {
	pid_t pid;     /* 0: not resolved */
	char exe[256]; /* /proc/<pid>/exe target, "" when unknown */
	char name[64]; /* comm */
	char cmd_line[512];
	long uid; /* -1 unknown */
	unsigned long inode;
};
/* Find the process that owns the sandbox socket with local port `sport`
 * (protocol 6 or 17) in the namespace whose /proc/net files are open as
 * net_tcp / net_udp (fds opened inside it), scanning only processes in the
 * namespace with inode ns_ino. 0 when found, OSH_ENOTFOUND otherwise. */
int net_ident_find(int net_tcp, int net_udp, int net_tcp6, int net_udp6, unsigned long ns_ino,
		   int proto, uint16_t sport, struct net_ident *id);
/* net_procnet.c: parse /proc/net/{tcp,udp}[6] text: inode of the first
 * socket whose local port is sport (0 when none). Pure, bounded by len. */
unsigned long net_ident_inode_in(const char *text, size_t len, uint16_t sport);

/* ---------------------------------------------------------- net_monitor.c */
struct net_monitor;
struct net_monitor_cfg {
	const char *prefix;
	int nsfd;
	unsigned long ns_ino;
	const char *sandbox_ip;
	const char *host_ip;
	uint16_t proxy_port;
};
/* Start the thread. 0, or OSH_EUNAVAIL with the reason in msg (no
 * /dev/kmsg access, nf_log_all_netns = 0), OSH_ESYS, OSH_ENOMEM. */
int net_monitor_start(const struct net_monitor_cfg *cfg, struct net_monitor **out, char *msg,
		      size_t mlen);
/* Stop: drain what is readable, join, copy the final counters to `final`
 * (may be NULL), free. NULL is a no-op. */
void net_monitor_stop(struct net_monitor *m, struct osh_net_stats *final);
void net_monitor_stats(const struct net_monitor *m, struct osh_net_stats *out);

/* ------------------------------------------------------------ net_sites.c
 * The subsystem's OCSF log sites (codes in schema/sites.yaml). */
struct net_info {
	const char *host_ip, *sandbox_ip, *host_if, *prefix, *range;
	unsigned slot;
	int64_t setup_us;
};
void net_ev_ready(const struct net_info *i);
void net_ev_unavailable(const char *why, bool off_by_operator);
void net_ev_failed(const char *step, const char *why);
void net_ev_stale_cleaned(int count, const char *what);
void net_ev_rules_installed(const struct net_info *i, uint16_t proxy_port, int64_t us);
void net_ev_rules_failed(const struct net_info *i, const char *why);
void net_ev_monitor_start(const char *prefix);
void net_ev_monitor_unavailable(const char *why);
void net_ev_teardown(const struct net_info *i, const struct osh_net_stats *st, int64_t us,
		     const char *problems);
/* The dual emit: one Network Activity (Refuse) and one Detection Finding. */
void net_ev_bypass(const struct net_kmsg_rec *r, const struct net_ident *id, uint64_t attempt);

#endif
