/* rpc_listen.c - the Unix-socket listener of osh_rpc servers (see osh_rpc.h).
 *
 * DESIGN: gRPC 1.51 runs its own accept loop for "unix:" and TCP ports, and
 * that loop gives up for good after one EMFILE (reliability finding F17); it
 * also never tells the application who connected. So for a Unix socket this
 * file owns the accept loop on its own thread and hands every admitted
 * connection to gRPC with grpc_server_add_channel_from_fd() (which, in this
 * gRPC version, accepts only insecure credentials: fine on a local socket
 * whose peer the kernel names). Per connection:
 *   1. accept4 (non-blocking, close-on-exec). On EMFILE/ENFILE the reserve
 *      fd (/dev/null, opened at start) is closed, the pending connection is
 *      accepted and closed at once, and the reserve reopened: the backlog
 *      drains, clients see a closed connection instead of a hang, and the
 *      loop keeps running (a gap in fds is not a reason to stop listening).
 *   2. SO_PEERCRED: the caller's admission hook (gateway: uid/gid allow
 *      list) decides; a refused peer is closed before gRPC sees a byte.
 *   3. The connection cap: live connections are tracked by (fd, inode);
 *      gRPC closes the fd when the transport ends, so a tracked entry whose
 *      fd no longer names the same socket is gone. At the cap the table is
 *      re-checked, and a connection beyond it is refused (closed).
 * Idle connections are closed by gRPC's max-connection-idle timer (server
 * channel argument set by rpc_server.c), which also covers a peer that opens
 * the socket and never speaks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>

#include "rpc_internal.h"

struct conn {
	int fd;
	dev_t dev;
	ino_t ino;
	struct osh_rpc_peer peer;
};

struct osh_rpc_listener {
	int lfd;
	int reserve_fd;
	int wake[2]; /* pipe: stop request */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	grpc_server *gs;
	struct osh_rpc_listen_opts o;
	pthread_mutex_t mu; /* conns: written by the listener, read by osh_rpc_listener_peer */
	struct conn *conns;
	size_t n_conns;
	pthread_t thread;
	bool running;
	atomic_ullong accepted, refused, overflowed;
};

static void report(struct osh_rpc_listener *l, const struct osh_rpc_peer *p, int why)
{
	if (l->o.on_refuse != NULL)
		l->o.on_refuse(p, why, l->o.ud);
}

/* Drop entries whose fd gRPC has closed (or reused for another file). */
static void prune(struct osh_rpc_listener *l)
{
	size_t w = 0;

	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->n_conns; i++) {
		struct stat st;
		struct conn *c = &l->conns[i];

		if (fstat(c->fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
			l->conns[w++] = *c;
	}
	l->n_conns = w;
	pthread_mutex_unlock(&l->mu);
}

static void track(struct osh_rpc_listener *l, int fd, const struct osh_rpc_peer *peer)
{
	struct stat st;
	struct conn *c = NULL;

	if (fstat(fd, &st) != 0)
		st.st_ino = 0; /* untracked: never matches a live socket */
	pthread_mutex_lock(&l->mu);
	/* The same fd number may come back after gRPC closed it: replace. */
	for (size_t i = 0; i < l->n_conns && c == NULL; i++) {
		if (l->conns[i].fd == fd)
			c = &l->conns[i];
	}
	if (c == NULL && l->n_conns < l->o.max_conns)
		c = &l->conns[l->n_conns++];
	if (c != NULL) {
		c->fd = fd;
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->peer = *peer;
	}
	pthread_mutex_unlock(&l->mu);
}

bool osh_rpc_listener_peer(struct osh_rpc_listener *l, int fd, struct osh_rpc_peer *out)
{
	struct stat st;
	bool found = false;
	bool ok = fstat(fd, &st) == 0;

	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; ok && i < l->n_conns && !found; i++) {
		if (l->conns[i].fd == fd && l->conns[i].dev == st.st_dev &&
		    l->conns[i].ino == st.st_ino) {
			*out = l->conns[i].peer;
			found = true;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return found;
}

static void accept_one(struct osh_rpc_listener *l)
{
	struct osh_rpc_peer peer = {.pid = -1, .uid = (uid_t)-1, .gid = (gid_t)-1};
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	grpc_server_credentials *creds;
	int why = 0;
	int fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		if ((errno == EMFILE || errno == ENFILE) && l->reserve_fd >= 0) {
			/* Out of fds: use the reserve to take the connection off the
			 * backlog and close it, so the loop never stalls on it. */
			close(l->reserve_fd);
			l->reserve_fd = -1;
			fd = accept4(l->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			atomic_fetch_add(&l->refused, 1);
			report(l, &peer, OSH_RPC_REFUSE_NO_FDS);
		}
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0) {
		peer.pid = cr.pid;
		peer.uid = cr.uid;
		peer.gid = cr.gid;
	}
	if (l->o.check != NULL && !l->o.check(&peer, l->o.ud)) {
		why = OSH_RPC_REFUSE_PEER;
		atomic_fetch_add(&l->refused, 1);
	} else {
		if (l->n_conns >= l->o.max_conns)
			prune(l);
		if (l->n_conns >= l->o.max_conns) {
			why = OSH_RPC_REFUSE_CONN_LIMIT;
			atomic_fetch_add(&l->overflowed, 1);
		}
	}
	if (why != 0) {
		close(fd);
		report(l, &peer, why);
		goto out;
	}
	track(l, fd, &peer);
	atomic_fetch_add(&l->accepted, 1);
	creds = grpc_insecure_server_credentials_create();
	grpc_server_add_channel_from_fd(l->gs, fd, creds); /* gRPC owns fd now */
	grpc_server_credentials_release(creds);
out:
	return;
}

static void *listen_main(void *arg)
{
	struct osh_rpc_listener *l = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = l->lfd, .events = POLLIN},
				      {.fd = l->wake[0], .events = POLLIN}};
		int n = poll(p, 2, 1000);

		if (n < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if (n > 0 && (p[0].revents & POLLIN) != 0)
			accept_one(l);
		else if (n == 0 && l->n_conns > 0)
			prune(l);
	}
	return NULL;
}

int osh_rpc_listener_open(const char *path, const struct osh_rpc_listen_opts *o,
			  struct osh_rpc_listener **out, char *err, size_t errlen)
{
	struct osh_rpc_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_un sa;
	struct stat st;
	int rc = OSH_ESYS;

	*out = NULL;
	if (l == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	l->lfd = l->reserve_fd = l->wake[0] = l->wake[1] = -1;
	pthread_mutex_init(&l->mu, NULL);
	l->o = *o;
	if (l->o.max_conns == 0)
		l->o.max_conns = 256;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path '%s' is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		rc = OSH_ETOOBIG;
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->conns = calloc(l->o.max_conns, sizeof(*l->conns));
	if (l->conns == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	/* A stale socket from a dead gateway is replaced; anything else that is
	 * not a socket is left alone and reported. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			rc = OSH_EEXIST;
			goto out;
		}
		unlink(path);
	}
	l->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->lfd < 0 || bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		goto out;
	}
	/* Mode and group on the path itself: connect(2) needs write permission.
	 * The admission hook still checks every peer (a mode is not a policy). */
	if (chmod(path, o->mode ? o->mode : 0660) != 0 ||
	    (o->set_gid && chown(path, (uid_t)-1, o->gid) != 0)) {
		snprintf(err, errlen, "cannot set mode/group of %s: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	if (listen(l->lfd, 128) != 0 || pipe2(l->wake, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		unlink(path);
		goto out;
	}
	l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	*out = l;
	l = NULL;
	rc = 0;
out:
	osh_rpc_listener_close(l);
	return rc;
}

int osh_rpc_listener_start(struct osh_rpc_listener *l, grpc_server *gs)
{
	int rc = OSH_ESYS;

	l->gs = gs;
	if (pthread_create(&l->thread, NULL, listen_main, l) == 0) {
		l->running = true;
		rc = 0;
	}
	return rc;
}

void osh_rpc_listener_stop(struct osh_rpc_listener *l)
{
	if (l == NULL || !l->running)
		return;
	if (write(l->wake[1], "x", 1) < 0) {
		/* the pipe cannot be full (one byte ever written); nothing to do */
	}
	pthread_join(l->thread, NULL);
	l->running = false;
}

void osh_rpc_listener_close(struct osh_rpc_listener *l)
{
	if (l == NULL)
		return;
	osh_rpc_listener_stop(l);
	if (l->lfd >= 0) {
		close(l->lfd);
		unlink(l->path);
	}
	if (l->reserve_fd >= 0)
		close(l->reserve_fd);
	if (l->wake[0] >= 0)
		close(l->wake[0]);
	if (l->wake[1] >= 0)
		close(l->wake[1]);
	free(l->conns);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void osh_rpc_listener_stats(struct osh_rpc_listener *l, struct osh_rpc_listen_stats *st)
{
	st->accepted = atomic_load(&l->accepted);
	st->refused = atomic_load(&l->refused);
	st->over_limit = atomic_load(&l->overflowed);
}
