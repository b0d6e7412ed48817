/* ssh_internal.h - shared between ssh_server.c (listener, preface) and
 * ssh_session.c (libssh session, channels, sandboxed children). */
#ifndef OSH_SSH_INTERNAL_H
#define OSH_SSH_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "osh_ssh.h"
#include "osh_ssh_preface.h"

struct osh_ssh_server {
	struct osh_ssh_cfg cfg;
	char *sock_path;
	char *secret;
	char *sftp;
	char *workdir;
	char endpoint[160];
	char fingerprint[128];
	char pubkey[256];
	ssh_bind bind;
	pthread_mutex_t bind_mu; /* ssh_bind_accept_fd */
	struct osh_ssh_nonce *nonces;
	int lfd;
	int stop_pipe[2];
	pthread_t th;
	bool started;
	/* connections */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned n_conns;
	_Atomic bool stopping;
	bool ready;		/* under mu; cv signals it */
	struct ssh_conn *conns; /* list, under mu */
	uint64_t next_id;
};

/* One accepted connection (owned by its thread). */
struct ssh_conn {
	struct osh_ssh_server *srv;
	struct ssh_conn *next;
	int fd;
	pid_t peer_pid;
	uid_t peer_uid;
	uint64_t id;
	char peer[64]; /* "uid U pid P" */
	int64_t t0_ms;
	_Atomic bool stop;
};

/* Waits (up to the preface deadline) until the command runs. */
bool ssh_server_wait_ready(struct osh_ssh_server *s);

/* Serves one connection that passed the preface; returns when it ends.
 * Closes nothing of c (the caller does). */
void ssh_session_serve(struct ssh_conn *c);

#endif
