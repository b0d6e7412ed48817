/* gw_ssh.c - see gw_ssh.h. */
#include "gw_ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gw_auth.h"
#include "gw_sites.h"
#include "osh_time.h"

#define RELAY_CHUNK	 32768
#define RELAY_QUEUE_MAX	 256
#define RELAY_QUEUE_HIGH 64
#define RELAY_SEND_MAX	 65536u
#define IO_TIMEOUT_MS	 10000

/* ------------------------------------------------------------- secrets -- */

static bool plain_id(const char *id)
{
	size_t n = strlen(id);

	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
			return false;
	return n > 0 && n < 64;
}

static int secret_path(struct osh_gw *gw, const char *id, char *out, size_t cap, bool mkdir_it)
{
	char dir[PATH_MAX];
	struct stat st;
	int rc = OSH_EINVAL;

	if (!plain_id(id))
		goto out;
	rc = OSH_ESYS;
	if (snprintf(dir, sizeof(dir), "%s/ssh", gw->data_dir) >= (int)sizeof(dir))
		goto out;
	if (mkdir_it && mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto out;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		errno = EPERM;
		goto out;
	}
	if (snprintf(out, cap, "%s/%s.secret", dir, id) >= (int)cap)
		goto out;
	rc = 0;
out:
	return rc;
}

int gw_ssh_secret_issue(struct osh_gw *gw, const char *id, char out[OSH_SSH_SECRET_HEX + 1])
{
	unsigned char raw[OSH_SSH_SECRET_HEX / 2];
	char path[PATH_MAX];
	int rc = secret_path(gw, id, path, sizeof(path), true);
	int fd = -1;

	out[0] = '\0';
	if (rc)
		goto out;
	rc = OSH_ESYS;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		goto out;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, out, OSH_SSH_SECRET_HEX) != OSH_SSH_SECRET_HEX || fsync(fd) != 0)
		goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	explicit_bzero(raw, sizeof(raw));
	if (rc)
		explicit_bzero(out, OSH_SSH_SECRET_HEX + 1);
	return rc;
}

void gw_ssh_secret_revoke(struct osh_gw *gw, const char *id)
{
	char path[PATH_MAX];

	if (secret_path(gw, id, path, sizeof(path), false) == 0)
		unlink(path);
}

static int secret_read(struct osh_gw *gw, const char *id, char out[OSH_SSH_SECRET_HEX + 1])
{
	char path[PATH_MAX];
	int rc = secret_path(gw, id, path, sizeof(path), false);
	int fd = -1;
	ssize_t n;

	if (rc)
		goto out;
	rc = OSH_ENOTFOUND;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto out;
	n = read(fd, out, OSH_SSH_SECRET_HEX);
	if (n != OSH_SSH_SECRET_HEX)
		goto out;
	out[OSH_SSH_SECRET_HEX] = '\0';
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

void gw_ssh_fill(struct osh_gw *gw, Openshell__V1__Sandbox *m)
{
	struct osh_gw_ssh_info info;

	if (!gw || osh_gw_store_ssh_get(gw_store(gw), m->id, &info) != 0)
		return;
	m->ssh_host_key = strdup(info.host_key);
	m->ssh_fingerprint = strdup(info.fingerprint);
	if (!m->ssh_host_key || !m->ssh_fingerprint) {
		free(m->ssh_host_key);
		free(m->ssh_fingerprint);
		m->ssh_host_key = m->ssh_fingerprint = NULL; /* "" on the wire */
	}
}

/* -------------------------------------------------------------- report -- */

/* A field the supervisor sends: printable ASCII without blanks, 1..max. */
static bool field_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return n > 0 && n <= max;
}

static void h_report(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__ReportSandboxSshRequest *req = (const void *)m;
	Openshell__V1__ReportSandboxSshResponse r =
	    OPENSHELL__V1__REPORT_SANDBOX_SSH_RESPONSE__INIT;
	struct osh_gw *gw = ud;
	struct osh_gw_ssh_info info;
	const char *hk = req->host_key ? req->host_key : "";
	int rc;

	memset(&info, 0, sizeof(info));
	if (!field_ok(req->endpoint, sizeof(info.endpoint) - 1) ||
	    strncmp(req->endpoint, "unix:/", 6) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"endpoint must be unix:/ABSOLUTE/PATH (at most %zu bytes)",
					sizeof(info.endpoint) - 1);
		return;
	}
	if (strncmp(hk, "ssh-ed25519 ", 12) != 0 ||
	    !field_ok(hk + 12, sizeof(info.host_key) - 13) ||
	    !field_ok(req->fingerprint, sizeof(info.fingerprint) - 1) ||
	    strncmp(req->fingerprint, "SHA256:", 7) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"host_key must be \"ssh-ed25519 BASE64\" and fingerprint "
					"\"SHA256:BASE64\"");
		return;
	}
	snprintf(info.endpoint, sizeof(info.endpoint), "%s", req->endpoint);
	snprintf(info.host_key, sizeof(info.host_key), "%s", hk);
	snprintf(info.fingerprint, sizeof(info.fingerprint), "%s", req->fingerprint);
	rc = osh_gw_store_ssh_put(gw_store(gw), req->sandbox_id, &info);
	if (rc) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "store: %s",
					osh_gw_store_errmsg(gw_store(gw)));
		return;
	}
	gw_note(gw, req->sandbox_id, "INFO", "SSH server of the sandbox at %s, host key %s",
		info.endpoint, info.fingerprint);
	(void)osh_rpc_call_reply(call, &r.base);
}

/* --------------------------------------------------------------- relay -- */

struct relay {
	struct relay *next;
	_Atomic int refs;
	char session[33];
	char id[40];
	char name[64];
	char endpoint[160];
	char who[128];
	int fd;
	struct osh_rpc_call *call; /* ref held until the reader ended */
	pthread_t th;
	bool th_started;
	_Atomic bool closed;
	_Atomic uint64_t up, down;
	int64_t t0_ms;
	pthread_mutex_t wmu; /* one SendSandboxSsh writes at a time */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct relay *g_relays;

/* Drops n references; the last one frees. */
static void relay_put(struct relay *r, int n)
{
	if (atomic_fetch_sub(&r->refs, n) == n) {
		if (r->fd >= 0)
			close(r->fd);
		pthread_mutex_destroy(&r->wmu);
		free(r);
	}
}

static void relay_unref(struct relay *r)
{
	relay_put(r, 1);
}

static struct relay *relay_find(const char *session)
{
	struct relay *r;

	pthread_mutex_lock(&g_mu);
	for (r = g_relays; r; r = r->next)
		if (strcmp(r->session, session) == 0) {
			atomic_fetch_add(&r->refs, 1);
			break;
		}
	pthread_mutex_unlock(&g_mu);
	return r;
}

static void relay_unlink(struct relay *r)
{
	pthread_mutex_lock(&g_mu);
	for (struct relay **pp = &g_relays; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&g_mu);
}

static void *relay_reader(void *p)
{
	struct relay *r = p;
	char *buf = malloc(RELAY_CHUNK);

	while (buf && !atomic_load(&r->closed)) {
		Openshell__V1__SandboxSshData d = OPENSHELL__V1__SANDBOX_SSH_DATA__INIT;
		ssize_t n;

		/* pace: the client reads slower than the sandbox writes */
		while (osh_rpc_call_queued(r->call) > RELAY_QUEUE_HIGH &&
		       !osh_rpc_call_closed(r->call) && !atomic_load(&r->closed)) {
			struct timespec ts = {0, 2 * 1000000L};

			nanosleep(&ts, NULL);
		}
		n = read(r->fd, buf, RELAY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		d.data.data = (uint8_t *)buf;
		d.data.len = (size_t)n;
		if (osh_rpc_call_write(r->call, &d.base) != 0)
			break;
		atomic_fetch_add(&r->down, (uint64_t)n);
	}
	free(buf);
	(void)osh_rpc_call_finish(r->call);
	return NULL;
}

static void h_connect_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	struct relay *r = osh_rpc_call_data(call);

	(void)cancelled;
	(void)ud;
	if (!r)
		return;
	osh_rpc_call_set_data(call, NULL);
	atomic_store(&r->closed, true);
	relay_unlink(r);
	shutdown(r->fd, SHUT_RDWR);
	if (r->th_started)
		pthread_join(r->th, NULL);
	gw_ev_ssh_relay_closed(r->id, r->name, r->endpoint, r->session, atomic_load(&r->up),
			       atomic_load(&r->down), osh_time_mono_ms() - r->t0_ms);
	osh_rpc_call_unref(r->call);
	relay_put(r, 2); /* the table's and the call's */
}

/* Connects to the supervisor's socket and passes the preface. Returns the
 * socket or -1 with why. */
static int open_sandbox(struct osh_gw *gw, const struct relay *r, char *why, size_t cap)
{
	char secret[OSH_SSH_SECRET_HEX + 1];
	char nonce[33], line[OSH_SSH_PREFACE_MAX + 1], ans[8];
	unsigned char raw[16];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = r->endpoint + 5;
	struct stat st;
	int fd = -1, n;
	size_t got = 0;
	int64_t deadline = osh_time_mono_ms() + IO_TIMEOUT_MS;

	if (secret_read(gw, r->id, secret) != 0) {
		snprintf(why, cap, "no preface secret for this sandbox (created without SSH)");
		goto fail;
	}
	if (strlen(path) >= sizeof(sa.sun_path) || lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid()) {
		snprintf(why, cap, "%s is not a socket owned by the gateway's uid %u", path,
			 (unsigned)geteuid());
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(why, cap, "connect %s: %s", path, strerror(errno));
		goto fail;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		snprintf(why, cap, "getrandom: %s", strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	n = osh_ssh_preface_build(r->session, osh_time_wall_ms() / 1000, nonce, secret,
				  OSH_SSH_SECRET_HEX, line, sizeof(line));
	explicit_bzero(secret, sizeof(secret));
	if (n < 0 || write(fd, line, (size_t)n) != n) {
		snprintf(why, cap, "cannot send the preface");
		goto fail;
	}
	explicit_bzero(line, sizeof(line));
	/* "OK\n" or "ERR\n", one byte at a time: nothing after it is ours */
	while (got < sizeof(ans) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - osh_time_mono_ms();
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			snprintf(why, cap, "no answer to the preface within %d ms", IO_TIMEOUT_MS);
			goto fail;
		}
		k = read(fd, ans + got, 1);
		if (k <= 0) {
			snprintf(why, cap,
				 "the supervisor closed the connection during the preface");
			goto fail;
		}
		if (ans[got++] == '\n')
			break;
	}
	ans[got] = '\0';
	if (strcmp(ans, "OK\n") != 0) {
		snprintf(why, cap, "the supervisor refused the preface (%s)",
			 strncmp(ans, "ERR", 3) == 0 ? "ERR" : "unexpected answer");
		goto fail;
	}
	return fd;
fail:
	explicit_bzero(secret, sizeof(secret));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void h_connect(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__ConnectSandboxSshRequest *req = (const void *)m;
	Openshell__V1__SandboxSshData first = OPENSHELL__V1__SANDBOX_SSH_DATA__INIT;
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	struct osh_gw_ssh_info info;
	struct relay *r = NULL;
	unsigned char raw[16];
	bool by_name = !(req->sandbox_id && req->sandbox_id[0]);
	const char *key = by_name ? req->name : req->sandbox_id;
	char why[512];
	int rc;

	memset(&sb, 0, sizeof(sb));
	if (!key || !key[0]) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"sandbox_id or name is required");
		return;
	}
	rc = osh_gw_store_sandbox_get(gw_store(gw), key, by_name, &sb);
	if (rc) {
		(void)osh_rpc_call_fail(call,
					rc == OSH_ENOTFOUND ? OSH_RPC_NOT_FOUND : OSH_RPC_INTERNAL,
					"no sandbox with %s '%.64s'", by_name ? "name" : "id", key);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	r->fd = -1;
	r->refs = 1;
	pthread_mutex_init(&r->wmu, NULL);
	snprintf(r->id, sizeof(r->id), "%s", sb.id);
	snprintf(r->name, sizeof(r->name), "%s", sb.name);
	snprintf(r->who, sizeof(r->who), "%s", gw_auth_who(call));
	if (sb.state != OSH_GW_SB_RUNNING) {
		snprintf(why, sizeof(why), "the sandbox is not running");
		gw_ev_ssh_relay_failed(r->id, r->name, "", why, r->who);
		(void)osh_rpc_call_fail(call, OSH_RPC_FAILED_PRECONDITION, "sandbox '%s': %s",
					sb.name, why);
		goto out;
	}
	if (osh_gw_store_ssh_get(gw_store(gw), sb.id, &info) != 0) {
		snprintf(why, sizeof(why), "no SSH server reported (yet) by its supervisor");
		gw_ev_ssh_relay_failed(r->id, r->name, "", why, r->who);
		(void)osh_rpc_call_fail(call, OSH_RPC_FAILED_PRECONDITION, "sandbox '%s': %s",
					sb.name, why);
		goto out;
	}
	snprintf(r->endpoint, sizeof(r->endpoint), "%s", info.endpoint);
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "getrandom failed");
		goto out;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(r->session + 2 * i, 3, "%02x", raw[i]);
	r->fd = open_sandbox(gw, r, why, sizeof(why));
	if (r->fd < 0) {
		gw_ev_ssh_relay_failed(r->id, r->name, r->endpoint, why, r->who);
		(void)osh_rpc_call_fail(call, OSH_RPC_UNAVAILABLE, "sandbox '%s': %s", sb.name,
					why);
		goto out;
	}
	r->t0_ms = osh_time_mono_ms();
	/* In the table before the client learns the session: its first
	 * SendSandboxSsh may arrive as soon as the first message does. */
	osh_rpc_call_ref(call);
	r->call = call;
	atomic_fetch_add(&r->refs, 1); /* the table's */
	pthread_mutex_lock(&g_mu);
	r->next = g_relays;
	g_relays = r;
	pthread_mutex_unlock(&g_mu);
	osh_rpc_call_set_data(call, r);
	first.session = r->session;
	first.host_key = info.host_key;
	if (osh_rpc_call_write(call, &first.base) != 0) {
		/* on_done (h_connect_done) unlinks and releases the relay */
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "cannot start the stream");
		r = NULL;
		goto out;
	}
	gw_ev_ssh_relay(r->id, r->name, r->endpoint, r->session, r->who);
	if (pthread_create(&r->th, NULL, relay_reader, r) == 0) {
		r->th_started = true;
	} else {
		atomic_store(&r->closed, true);
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "cannot start the relay thread");
	}
	r = NULL; /* owned by the call now (h_connect_done) */
out:
	if (r)
		relay_unref(r);
	osh_gw_sandbox_fini(&sb);
}

static void h_send(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__SendSandboxSshRequest *req = (const void *)m;
	Openshell__V1__SendSandboxSshResponse resp = OPENSHELL__V1__SEND_SANDBOX_SSH_RESPONSE__INIT;
	struct relay *r = req->session ? relay_find(req->session) : NULL;
	size_t off = 0;
	int code = OSH_RPC_OK;
	const char *why = "";

	(void)ud;
	if (!r) {
		(void)osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "no open SSH relay '%.40s'",
					req->session ? req->session : "");
		return;
	}
	if (req->data.len > RELAY_SEND_MAX) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"data: %zu bytes, at most %u per call", req->data.len,
					RELAY_SEND_MAX);
		relay_unref(r);
		return;
	}
	pthread_mutex_lock(&r->wmu);
	while (off < req->data.len && code == OSH_RPC_OK) {
		struct pollfd p = {.fd = r->fd, .events = POLLOUT};
		ssize_t n;

		if (atomic_load(&r->closed)) {
			code = OSH_RPC_UNAVAILABLE;
			why = "the relay is closed";
			break;
		}
		if (poll(&p, 1, IO_TIMEOUT_MS) <= 0) {
			code = OSH_RPC_DEADLINE_EXCEEDED;
			why = "the sandbox did not read its input in time";
			break;
		}
		n = send(r->fd, req->data.data + off, req->data.len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			code = OSH_RPC_UNAVAILABLE;
			why = "the sandbox closed the connection";
			break;
		}
		off += (size_t)n;
	}
	atomic_fetch_add(&r->up, off);
	if (code == OSH_RPC_OK && req->eof)
		(void)shutdown(r->fd, SHUT_WR);
	pthread_mutex_unlock(&r->wmu);
	relay_unref(r);
	if (code == OSH_RPC_OK)
		(void)osh_rpc_call_reply(call, &resp.base);
	else
		(void)osh_rpc_call_fail(call, code, "%s", why);
}

const struct osh_rpc_method gw_ssh_methods[] = {
    {.name = "ReportSandboxSsh", .kind = OSH_RPC_UNARY, .handler = h_report, .offload = true},
    {.name = "ConnectSandboxSsh",
     .kind = OSH_RPC_SERVER_STREAM,
     .handler = h_connect,
     .on_done = h_connect_done,
     .queue_max = RELAY_QUEUE_MAX,
     .full_policy = OSH_RPC_FULL_CLOSE,
     .offload = true},
    {.name = "SendSandboxSsh", .kind = OSH_RPC_UNARY, .handler = h_send, .offload = true},
};
const size_t gw_ssh_n_methods = sizeof(gw_ssh_methods) / sizeof(gw_ssh_methods[0]);
