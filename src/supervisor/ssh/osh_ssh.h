/* osh_ssh.h - the sandbox's SSH server: an NSSH1-gated libssh server on a
 * Unix socket only the gateway can open, running every session inside the
 * sandbox (same network namespace, user, Landlock and seccomp as the agent).
 *
 * DESIGN
 * One listener thread accepts on the socket (0600, in a 0700 directory owned
 * by the supervisor's uid, which is the gateway's) and gives every
 * connection its own thread, at most max_conns at once. A connection first
 * sends the NSSH1 preface (osh_ssh_preface.h), read byte by byte so no SSH
 * byte is consumed, within preface_ms; a valid, fresh, never-seen preface is
 * answered "OK\n" and the socket handed to libssh (ssh_bind_accept_fd),
 * anything else "ERR\n" and closed, with an event. SSH user authentication is
 * "none", accepted only on a connection that passed the preface (no other
 * connection reaches libssh at all).
 *
 * Sessions are started through a keeper process (clone3 with exit signal 0,
 * never exec'd) that waits for them and passes their status on a pipe: the
 * supervisor's main loop reaps only ordinary children (waitpid without
 * __WALL), so a session's status is collected here, never stolen. In the
 * child the same plan as the agent's runs (cfg.sandbox_setup: the
 * child_setup hooks of the confining subsystems, net then confine) before
 * execve; if a step fails the session is refused with an event, never run
 * unconfined. direct-tcpip connects from such a child too (it passes the
 * connected socket back), so a forward is made inside the namespace under
 * the same confinement, and only to loopback targets.
 *
 * Ownership: osh_ssh_server_new copies cfg strings it keeps; env is
 * borrowed and must outlive the server. Thread-safety: new/start/stop/free
 * from one thread; the rest is internal.
 */
#ifndef OSH_SSH_H
#define OSH_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

/* Runs in a forked child before execve: async-signal-safe; 0 or an errno
 * with *step naming what failed (the supervisor's confinement plan). */
typedef int (*osh_ssh_setup_fn)(void *ud, const char **step);

struct osh_ssh_cfg {
	const char *sock_path; /* Unix socket to listen on (created)          */
	const char *secret;    /* preface secret                              */
	size_t secret_len;
	int64_t skew_s;			/* 0 = OSH_SSH_SKEW_S                          */
	unsigned max_conns;		/* 0 = 16 connections at once                  */
	int64_t preface_ms;		/* 0 = 10000: preface + handshake deadline     */
	osh_ssh_setup_fn sandbox_setup; /* NULL: no confinement (tests)        */
	void *sandbox_ud;
	char *const *env;	 /* sessions' base environment (borrowed)       */
	const char *workdir;	 /* NULL: HOME of env, else /                   */
	const char *sftp_server; /* NULL = /usr/lib/openssh/sftp-server        */
};

struct osh_ssh_server;

/* Generates an Ed25519 host key and binds the socket. On success
 * *fingerprint ("SHA256:...") and *pubkey ("ssh-ed25519 AAAA...") point
 * into the server. Errors: OSH_ESYS/OSH_EIO/OSH_ENOMEM with err. */
OSH_MUST_CHECK int osh_ssh_server_new(const struct osh_ssh_cfg *cfg, struct osh_ssh_server **out,
				      char *err, size_t errlen);
const char *osh_ssh_server_fingerprint(const struct osh_ssh_server *s);
const char *osh_ssh_server_pubkey(const struct osh_ssh_server *s);
const char *osh_ssh_server_endpoint(const struct osh_ssh_server *s); /* "unix:/path" */

/* Starts the listener thread. 0 or OSH_ESYS. */
OSH_MUST_CHECK int osh_ssh_server_start(struct osh_ssh_server *s);

/* The sandbox's command runs (its confinement is in place): sessions may
 * start. Until then a session request waits (up to preface_ms) and is then
 * refused. Thread-safe. */
void osh_ssh_server_set_ready(struct osh_ssh_server *s);

/* Stops accepting, ends every connection (session process groups get
 * SIGHUP then SIGKILL), waits for their threads, removes the socket.
 * Idempotent. */
void osh_ssh_server_stop(struct osh_ssh_server *s);
void osh_ssh_server_free(struct osh_ssh_server *s);

#endif
