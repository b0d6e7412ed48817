/* ssh_server.c - listener, connection threads and the NSSH1 gate (see
 * osh_ssh.h).
 *
 * DESIGN
 * The socket lives in a directory the server creates 0700 and checks is
 * ours (not a symlink, owned by our uid); the socket itself is 0600 and any
 * stale socket of a previous run is replaced. The peer's pid and uid come
 * from SO_PEERCRED for the events. A connection thread reads the preface
 * one byte at a time (so nothing after the newline is consumed) under one
 * deadline for the whole line: a slow client is refused at the deadline,
 * and the connection cap bounds how many can be slow at once. Only then is
 * the socket handed to libssh; until the preface passed, libssh never sees a
 * byte. The bind (host key) is shared by every connection; ssh_bind_accept_fd
 * runs under a mutex.
 */
#include "ssh_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "osh_time.h"
#include "ssh_sites.h"

#define DEFAULT_MAX_CONNS  16
#define DEFAULT_PREFACE_MS 10000
#define SFTP_SERVER	   "/usr/lib/openssh/sftp-server"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* mkdir -p of the socket's directory (0700 for what we create) and check
 * that its last component is a real directory of ours. */
static int sock_dir(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;
	int rc = OSH_ESYS;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		snprintf(err, errlen, "ssh socket %s: not an absolute path in a directory", path);
		rc = OSH_EINVAL;
		goto out;
	}
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    chmod(dir, 0700) != 0) {
		snprintf(err, errlen, "%s: not a directory owned by uid %u", dir,
			 (unsigned)geteuid());
		goto out;
	}
	rc = 0;
out:
	return rc;
}

static int listen_unix(struct osh_ssh_server *s, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int rc = sock_dir(s->sock_path, err, errlen);
	struct stat st;

	if (rc)
		goto out;
	rc = OSH_ESYS;
	if (strlen(s->sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "ssh socket %s: path longer than %zu bytes", s->sock_path,
			 sizeof(sa.sun_path) - 1);
		rc = OSH_ETOOBIG;
		goto out;
	}
	memcpy(sa.sun_path, s->sock_path, strlen(s->sock_path) + 1);
	if (lstat(s->sock_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", s->sock_path);
			goto out;
		}
		unlink(s->sock_path); /* a previous run's */
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || fchmod(s->lfd, 0600) != 0 ||
	    bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(s->sock_path, 0600) != 0 || listen(s->lfd, 64) != 0) {
		snprintf(err, errlen, "ssh socket %s: %s", s->sock_path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

static int host_key(struct osh_ssh_server *s, char *err, size_t errlen)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL, *b64 = NULL;
	int rc = OSH_EIO;

	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK ||
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0 ||
	    (fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen)) == NULL ||
	    ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		snprintf(err, errlen, "cannot generate the Ed25519 host key");
		goto out;
	}
	snprintf(s->fingerprint, sizeof(s->fingerprint), "%s", fp);
	snprintf(s->pubkey, sizeof(s->pubkey), "ssh-ed25519 %s", b64);
	s->bind = ssh_bind_new();
	if (!s->bind || ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_IMPORT_KEY, key) != SSH_OK) {
		snprintf(err, errlen, "libssh: cannot use the host key");
		goto out;
	}
	key = NULL; /* the bind owns it now */
	rc = 0;
out:
	ssh_key_free(key);
	ssh_clean_pubkey_hash(&hash);
	ssh_string_free_char(fp);
	ssh_string_free_char(b64);
	return rc;
}

int osh_ssh_server_new(const struct osh_ssh_cfg *cfg, struct osh_ssh_server **out, char *err,
		       size_t errlen)
{
	struct osh_ssh_server *s = calloc(1, sizeof(*s));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s->lfd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->bind_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->cfg = *cfg;
	s->sock_path = dup_or_null(cfg->sock_path);
	s->secret = malloc(cfg->secret_len + 1);
	s->sftp = strdup(cfg->sftp_server ? cfg->sftp_server : SFTP_SERVER);
	s->workdir = dup_or_null(cfg->workdir);
	if (!s->sock_path || !s->secret || !s->sftp || (cfg->workdir && !s->workdir)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	memcpy(s->secret, cfg->secret, cfg->secret_len);
	s->secret[cfg->secret_len] = '\0';
	s->cfg.sock_path = s->sock_path;
	s->cfg.secret = s->secret;
	s->cfg.sftp_server = s->sftp;
	s->cfg.workdir = s->workdir;
	if (!s->cfg.skew_s)
		s->cfg.skew_s = OSH_SSH_SKEW_S;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = DEFAULT_MAX_CONNS;
	if (!s->cfg.preface_ms)
		s->cfg.preface_ms = DEFAULT_PREFACE_MS;
	snprintf(s->endpoint, sizeof(s->endpoint), "unix:%s", s->sock_path);
	if (ssh_init() != SSH_OK) {
		snprintf(err, errlen, "libssh: ssh_init failed");
		rc = OSH_EIO;
		goto out;
	}
	/* Nonces live twice the skew: a preface older than the skew is refused
	 * before the cache is asked, so nothing valid can outlive its entry. */
	if (osh_ssh_nonce_new(2 * s->cfg.skew_s, &s->nonces) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = host_key(s, err, errlen);
	if (!rc)
		rc = listen_unix(s, err, errlen);
	if (!rc && pipe2(s->stop_pipe, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		rc = OSH_ESYS;
	}
	if (!rc) {
		*out = s;
		s = NULL;
	}
out:
	osh_ssh_server_free(s);
	return rc;
}

const char *osh_ssh_server_fingerprint(const struct osh_ssh_server *s)
{
	return s->fingerprint;
}

const char *osh_ssh_server_pubkey(const struct osh_ssh_server *s)
{
	return s->pubkey;
}

const char *osh_ssh_server_endpoint(const struct osh_ssh_server *s)
{
	return s->endpoint;
}

/* ---------------------------------------------------------------- preface */

/* Reads one line (without '\n') into buf within deadline_ms (monotonic).
 * Returns its length, or -1 with *reason and *why set. */
static ssize_t read_line(struct ssh_conn *c, char *buf, size_t cap, int64_t deadline_ms,
			 const char **reason, const char **why)
{
	size_t n = 0;
	ssize_t rc = -1;

	for (;;) {
		int64_t left = deadline_ms - osh_time_mono_ms();
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t r;
		char ch;

		if (left <= 0) {
			*reason = "timeout";
			*why = "no complete preface line before the deadline (slow client)";
			goto out;
		}
		r = poll(&p, 1, (int)(left > 200 ? 200 : left));
		if (r < 0 && errno != EINTR) {
			*reason = "read-error";
			*why = "poll failed";
			goto out;
		}
		if (c->srv->stopping) {
			*reason = "shutdown";
			*why = "the supervisor is stopping";
			goto out;
		}
		if (r <= 0)
			continue;
		r = read(c->fd, &ch, 1);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			*reason = n ? "malformed" : "read-error";
			*why = n ? "connection closed before the end of the preface line"
				 : "connection closed before any preface";
			goto out;
		}
		if (ch == '\n')
			break;
		if (n + 1 >= cap) {
			*reason = "too-long";
			*why = "no newline within 1024 bytes";
			goto out;
		}
		buf[n++] = ch;
	}
	buf[n] = '\0';
	rc = (ssize_t)n;
out:
	return rc;
}

static void reply(int fd, bool ok)
{
	const char *m = ok ? "OK\n" : "ERR\n";

	(void)!write(fd, m, strlen(m));
}

/* The gate: true when the connection may speak SSH. Emits the refusal. */
static bool gate(struct ssh_conn *c)
{
	struct osh_ssh_server *s = c->srv;
	char line[OSH_SSH_PREFACE_MAX + 1];
	struct osh_ssh_preface pf;
	const char *reason = "", *why = "";
	enum osh_ssh_preface_result r;
	ssize_t n = read_line(c, line, sizeof(line), c->t0_ms + s->cfg.preface_ms, &reason, &why);
	bool ok = false;

	if (n < 0)
		goto out;
	r = osh_ssh_preface_parse(line, (size_t)n, &pf, &why);
	if (r != OSH_SSH_PF_OK) {
		reason = osh_ssh_preface_result_name(r);
		if (strncmp(line, "SSH-", 4) == 0) {
			reason = "ssh-before-preface";
			why = "the client spoke SSH before sending the NSSH1 preface";
		}
		goto out;
	}
	r = osh_ssh_preface_verify(&pf, s->secret, s->cfg.secret_len, osh_time_wall_ms() / 1000,
				   s->cfg.skew_s);
	if (r == OSH_SSH_PF_OK)
		r = osh_ssh_nonce_check(s->nonces, pf.nonce, osh_time_wall_ms() / 1000);
	reason = osh_ssh_preface_result_name(r);
	switch (r) {
	case OSH_SSH_PF_OK:
		ok = true;
		break;
	case OSH_SSH_PF_REPLAY:
		reply(c->fd, false);
		ssh_ev_replay(c, pf.nonce, pf.ts);
		reason = NULL; /* reported */
		break;
	case OSH_SSH_PF_SKEW:
		why = "timestamp outside the allowed clock skew (expired or from the future)";
		break;
	case OSH_SSH_PF_BAD_MAC:
		why = "HMAC does not match the sandbox's preface secret";
		break;
	case OSH_SSH_PF_CACHE_FULL:
		why = "too many prefaces within the validity window; refused until some expire";
		break;
	default:
		why = "refused";
		break;
	}
out:
	if (!ok && reason) {
		reply(c->fd, false);
		ssh_ev_preface_refused(c, reason, why);
	}
	if (ok)
		reply(c->fd, true);
	explicit_bzero(line, sizeof(line));
	return ok;
}

/* ------------------------------------------------------------ connections */

static void conn_unlink(struct ssh_conn *c)
{
	struct osh_ssh_server *s = c->srv;

	pthread_mutex_lock(&s->mu);
	for (struct ssh_conn **pp = &s->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	s->n_conns--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void *conn_main(void *p)
{
	struct ssh_conn *c = p;

	int fd = c->fd;

	if (gate(c))
		ssh_session_serve(c);
	conn_unlink(c);
	close(fd);
	free(c);
	return NULL;
}

static void accept_one(struct osh_ssh_server *s)
{
	struct ssh_conn *c = calloc(1, sizeof(*c));
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	pthread_attr_t at;
	pthread_t th;
	bool over;

	if (!c)
		return;
	c->srv = s;
	c->fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c->fd < 0) {
		free(c);
		return;
	}
	c->peer_pid = -1;
	c->peer_uid = (uid_t)-1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
		c->peer_pid = cr.pid;
		c->peer_uid = cr.uid;
	}
	snprintf(c->peer, sizeof(c->peer), "uid %d pid %d", (int)c->peer_uid, (int)c->peer_pid);
	c->t0_ms = osh_time_mono_ms();
	pthread_mutex_lock(&s->mu);
	c->id = ++s->next_id;
	over = s->n_conns >= s->cfg.max_conns;
	if (!over) {
		s->n_conns++;
		c->next = s->conns;
		s->conns = c;
	}
	pthread_mutex_unlock(&s->mu);
	if (over) {
		reply(c->fd, false);
		ssh_ev_preface_refused(c, "connection-limit",
				       "too many SSH connections at once; refused");
		close(c->fd);
		free(c);
		return;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, conn_main, c) != 0) {
		close(c->fd);
		conn_unlink(c);
		free(c);
	}
	pthread_attr_destroy(&at);
}

static void *listen_main(void *p)
{
	struct osh_ssh_server *s = p;
	struct pollfd fds[2] = {{.fd = s->lfd, .events = POLLIN},
				{.fd = s->stop_pipe[0], .events = POLLIN}};

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents & POLLIN)
			accept_one(s);
	}
	return NULL;
}

int osh_ssh_server_start(struct osh_ssh_server *s)
{
	int rc = OSH_ESYS;

	if (pthread_create(&s->th, NULL, listen_main, s) == 0) {
		s->started = true;
		ssh_ev_listen(s->endpoint, s->fingerprint, s->cfg.max_conns);
		rc = 0;
	}
	return rc;
}

void osh_ssh_server_set_ready(struct osh_ssh_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->ready = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

bool ssh_server_wait_ready(struct osh_ssh_server *s)
{
	int64_t until = osh_time_mono_ms() + s->cfg.preface_ms;
	bool r;

	pthread_mutex_lock(&s->mu);
	while (!s->ready && !s->stopping && osh_time_mono_ms() < until) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	r = s->ready && !s->stopping;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void osh_ssh_server_stop(struct osh_ssh_server *s)
{
	if (!s)
		return;
	if (s->started) {
		(void)!write(s->stop_pipe[1], "s", 1);
		pthread_join(s->th, NULL);
		s->started = false;
	}
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	for (struct ssh_conn *c = s->conns; c; c = c->next) {
		c->stop = true;
		shutdown(c->fd, SHUT_RDWR);
	}
	while (s->n_conns > 0)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (s->lfd >= 0) {
		close(s->lfd);
		s->lfd = -1;
		unlink(s->sock_path);
	}
}

void osh_ssh_server_free(struct osh_ssh_server *s)
{
	if (!s)
		return;
	osh_ssh_server_stop(s);
	for (int i = 0; i < 2; i++)
		if (s->stop_pipe[i] >= 0)
			close(s->stop_pipe[i]);
	if (s->bind)
		ssh_bind_free(s->bind);
	osh_ssh_nonce_free(s->nonces);
	if (s->secret)
		explicit_bzero(s->secret, s->cfg.secret_len);
	free(s->secret);
	free(s->sock_path);
	free(s->sftp);
	free(s->workdir);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->bind_mu);
	free(s);
}
