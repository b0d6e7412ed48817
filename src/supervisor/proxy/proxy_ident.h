/* proxy_ident.h - who is on the other end of a proxy connection: socket ->
 * owning process -> executable and ancestors, with a trust-on-first-use
 * SHA-256 check of every executable involved.
 *
 * DESIGN
 * The kernel knows the client socket by its 4-tuple, so instead of reading
 * and scanning /proc/net/tcp (whose size grows with every TIME_WAIT entry
 * of a busy agent) one NETLINK_SOCK_DIAG exact lookup returns the client
 * socket's inode. The netlink socket is opened once in the namespace the
 * clients live in (the sandbox's, via setns on a helper thread), so lookups
 * see that namespace's sockets. The inode's owner is found by walking the
 * sandbox command's process tree first (/proc/<pid>/task/<tid>/children,
 * then each /proc/<pid>/fd entry), then, when not found there (e.g. an SSH session
 * started beside the command), every process in /proc. Before either
 * search, a small cache of recent owners (their open /proc/<pid>/fd
 * directories and the descriptor numbers their client sockets had) is
 * probed: a client opening a connection per request reuses the same low
 * descriptor numbers, so one or two readlinkat calls usually find it. The
 * cache only saves the scan: the match is still the kernel's own
 * "socket:[inode]" link of a live process, and the executable and its TOFU
 * check are read afresh on every request (a process may execve).
 * The executable is /proc/<pid>/exe; the ancestors are the executables of
 * its parents (PPid in /proc/<pid>/status), nearest first, up to the
 * command itself or PID 1. Policy matches on these paths; argv paths are
 * collected for deny reasons only.
 * TOFU: the first time a path is seen its content is hashed through
 * /proc/<pid>/exe (the image actually running, not whatever the path names
 * now) and remembered with a fingerprint (dev, ino, size, mtime, ctime); a
 * later connection whose image has another fingerprint is re-hashed, and a
 * different hash denies ("hash changed since first use") for as long as the
 * proxy runs. Hashing a big interpreter takes time, so lookups run on the
 * proxy's worker threads, never on its I/O loop.
 *
 * Threads: an osh_proxy_ident is shared by the worker threads; lookups are
 * thread-safe (the netlink socket and the cache have their own locks).
 */
#ifndef OSH_PROXY_IDENT_H
#define OSH_PROXY_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "osh_err.h"

#define OSH_PROXY_ANC_MAX  32
#define OSH_PROXY_CMD_MAX  16
#define OSH_PROXY_TOFU_MAX 512 /* distinct executables remembered */

struct osh_proxy_ident;

/* The identity of one peer. Strings point into `store`. */
struct osh_proxy_peer {
	pid_t pid;
	uid_t uid;
	unsigned long inode;
	const char *exe;
	const char *anc[OSH_PROXY_ANC_MAX]; /* nearest parent first */
	pid_t anc_pid[OSH_PROXY_ANC_MAX];
	size_t n_anc;
	const char *cmd[OSH_PROXY_CMD_MAX]; /* see osh_proxy_ident_cmdline */
	size_t n_cmd;
	char store[8192];
	size_t used;
};

/* Creates the resolver. netns_fd: an open /proc/<pid>/ns/net (or
 * /var/run/netns/<name>) of the clients' namespace, or -1 for the current
 * one; the fd is only used during the call. Returns 0, OSH_ESYS (netlink
 * socket or setns failed; err says which) or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_proxy_ident_create(int netns_fd, struct osh_proxy_ident **out, char *err,
					  size_t errlen);

/* Sets the root of the process tree searched first (the sandbox command);
 * 0 = none (full /proc scan). Thread-safe. */
void osh_proxy_ident_set_root(struct osh_proxy_ident *id, pid_t root);

void osh_proxy_ident_destroy(struct osh_proxy_ident *id); /* NULL ok */

/* Resolves the process that owns the client socket of an accepted
 * connection (peer = getpeername, local = getsockname) and checks the
 * TOFU hashes of its executable and ancestors. Returns 0, OSH_ENOTFOUND
 * (socket or owner not found), OSH_EPERM (integrity violation) or OSH_EIO,
 * with reason a sentence for the deny reason, e.g. "failed to resolve peer
 * binary: no process owns socket inode 1234". Blocking (reads /proc, may
 * hash files). Thread-safe. */
OSH_MUST_CHECK int osh_proxy_ident_lookup(struct osh_proxy_ident *id,
					  const struct sockaddr_storage *peer,
					  const struct sockaddr_storage *local,
					  struct osh_proxy_peer *out, char *reason, size_t rlen);

/* Owner-cache counters since create: lookups answered by the cache (hits)
 * and those that fell back to the /proc search (misses). Thread-safe. */
void osh_proxy_ident_stats(struct osh_proxy_ident *id, unsigned long *hits, unsigned long *misses);

/* Fills pe->cmd (absolute argv paths of the process and its ancestors,
 * deduped, without the executables) for a deny reason; lookups leave it
 * empty because an allowed request never needs it. Blocking (/proc). */
void osh_proxy_ident_cmdline(struct osh_proxy_peer *pe);

/* Hex SHA-256 of the file behind an open fd (from its start). For tests.
 * Returns 0 or OSH_EIO. */
OSH_MUST_CHECK int osh_proxy_sha256_fd(int fd, char hex[65]);

#endif
