/* gw_auth.c - see gw_auth.h.
 *
 * DESIGN: credentials are compared as SHA-256 digests with a constant-time
 * compare (CRYPTO_memcmp), so neither the stored form nor the timing gives
 * the secret away. The refusal table is a small fixed array (32 principals,
 * oldest window replaced): a flood from many principals cannot grow memory,
 * it only shares the counters. */
#include "gw_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "gw_sites.h"
#include "osh_time.h"

#define REFUSE_SLOTS	  32
#define REFUSE_WINDOW_S	  60
#define DIGEST_HEX	  ((size_t)SHA256_DIGEST_LENGTH * 2u)
#define REFUSE_REPORT_MAX 5
#define LIMIT_REPORT_MS	  10000

struct refusal {
	char who[96];
	int64_t window_start_ms;
	unsigned count;
	uint64_t suppressed;
};

struct gw_auth {
	char dir[4096];
	gid_t group;
	uid_t self;
	pthread_mutex_t mu;
	struct refusal slots[REFUSE_SLOTS];
	/* listener refusals by cap / no fds, reported in batches */
	uint64_t limit_pending;
	int64_t limit_last_ms;
	char who_buf[128];
};

int gw_auth_create(struct gw_auth **out, const char *data_dir, gid_t group, char *err,
		   size_t errlen)
{
	struct gw_auth *a = calloc(1, sizeof(*a));
	struct stat st;
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pthread_mutex_init(&a->mu, NULL);
	a->group = group;
	a->self = geteuid();
	if (snprintf(a->dir, sizeof(a->dir), "%s/credentials", data_dir) >= (int)sizeof(a->dir)) {
		snprintf(err, errlen, "data dir path too long");
		rc = OSH_ETOOBIG;
		goto out;
	}
	if (mkdir(a->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", a->dir, strerror(errno));
		rc = OSH_ESYS;
		goto out;
	}
	/* Never trust a credentials path that is a symlink or open to others. */
	if (lstat(a->dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != a->self ||
	    chmod(a->dir, 0700) != 0) {
		snprintf(err, errlen, "%s: not a directory owned by uid %u", a->dir,
			 (unsigned)a->self);
		rc = OSH_ESYS;
		goto out;
	}
	*out = a;
	a = NULL;
	rc = 0;
out:
	gw_auth_destroy(a);
	return rc;
}

void gw_auth_destroy(struct gw_auth *a)
{
	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* ------------------------------------------------------------ refusals -- */

static void refused(struct gw_auth *a, const char *who, const char *what, const char *status,
		    const char *reason)
{
	int64_t now = osh_time_mono_ms();
	struct refusal *r = NULL, *oldest = &a->slots[0];
	bool report = false, repeated = false;
	uint64_t suppressed = 0;
	unsigned count;

	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < REFUSE_SLOTS && r == NULL; i++) {
		if (strcmp(a->slots[i].who, who) == 0)
			r = &a->slots[i];
		else if (a->slots[i].window_start_ms < oldest->window_start_ms)
			oldest = &a->slots[i];
	}
	if (r == NULL) {
		r = oldest;
		memset(r, 0, sizeof(*r));
		snprintf(r->who, sizeof(r->who), "%s", who);
		r->window_start_ms = now;
	}
	if (now - r->window_start_ms >= (int64_t)REFUSE_WINDOW_S * 1000) {
		r->window_start_ms = now;
		r->count = 0;
	}
	count = ++r->count;
	if (count <= REFUSE_REPORT_MAX) {
		report = true;
		suppressed = r->suppressed;
		r->suppressed = 0;
		repeated = count == REFUSE_REPORT_MAX;
	} else {
		r->suppressed++;
	}
	pthread_mutex_unlock(&a->mu);
	if (report)
		gw_ev_auth_refused(who, what, status, reason, suppressed);
	if (repeated)
		gw_ev_auth_repeated(who, count, REFUSE_WINDOW_S, reason);
}

/* Supplementary groups of pid from /proc (SO_PEERCRED names only the
 * primary one). */
static bool pid_in_group(pid_t pid, gid_t g)
{
	char path[64], buf[4096];
	bool found = false;
	ssize_t n = -1;
	int fd = -1;
	const char *p = NULL;

	if (pid > 0) {
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n > 0) {
		buf[n] = '\0';
		p = strstr(buf, "\nGroups:");
	}
	if (p != NULL)
		p += 8;
	while (p != NULL && !found && *p != '\n' && *p != '\0') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		found = end != p && (gid_t)v == g;
		p = end != p ? end : NULL;
	}
	return found;
}

bool gw_auth_peer_ok(const struct osh_rpc_peer *peer, void *ud)
{
	struct gw_auth *a = ud;

	return peer->uid == 0 || peer->uid == a->self || peer->gid == a->group ||
	       pid_in_group(peer->pid, a->group);
}

void gw_auth_on_refuse(const struct osh_rpc_peer *peer, int why, void *ud)
{
	struct gw_auth *a = ud;
	char who[96];

	if (why == OSH_RPC_REFUSE_PEER) {
		snprintf(who, sizeof(who), "uid %d gid %d pid %d", (int)peer->uid, (int)peer->gid,
			 (int)peer->pid);
		refused(a, who, "connect", "closed",
			"not root, not the gateway's user, not in the socket group");
	} else {
		int64_t now = osh_time_mono_ms();
		uint64_t n = 0;

		pthread_mutex_lock(&a->mu);
		a->limit_pending++;
		if (now - a->limit_last_ms >= LIMIT_REPORT_MS) {
			n = a->limit_pending;
			a->limit_pending = 0;
			a->limit_last_ms = now;
		}
		pthread_mutex_unlock(&a->mu);
		if (n > 0)
			gw_ev_listen_limit(why == OSH_RPC_REFUSE_CONN_LIMIT
					       ? "connection limit reached"
					       : "out of file descriptors (listener kept running)",
					   n);
	}
}

/* ---------------------------------------------------------- credentials -- */

static bool plain_id(const char *id)
{
	size_t n = strlen(id);
	bool ok = n > 0 && n <= 64 && id[0] != '.';

	for (const char *p = id; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
	return ok;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int gw_auth_issue(struct gw_auth *a, const char *id, char secret[GW_AUTH_SECRET_HEX + 1])
{
	unsigned char raw[32], dig[SHA256_DIGEST_LENGTH];
	char path[4200], tmp[4220], dhex[2 * SHA256_DIGEST_LENGTH + 2];
	int fd = -1, rc = OSH_ESYS;

	secret[0] = '\0';
	if (!plain_id(id)) {
		rc = OSH_EINVAL;
		goto out;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		goto out;
	hex(raw, sizeof(raw), secret);
	SHA256((const unsigned char *)secret, GW_AUTH_SECRET_HEX, dig);
	hex(dig, sizeof(dig), dhex);
	dhex[DIGEST_HEX] = '\n';
	dhex[DIGEST_HEX + 1] = '\0';
	snprintf(path, sizeof(path), "%s/%s", a->dir, id);
	snprintf(tmp, sizeof(tmp), "%s/.%s.new", a->dir, id);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, dhex, strlen(dhex)) != (ssize_t)strlen(dhex) || fsync(fd) != 0) {
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc != 0)
		secret[0] = '\0';
	return rc;
}

void gw_auth_revoke(struct gw_auth *a, const char *id)
{
	char path[4200];

	if (!plain_id(id))
		return;
	snprintf(path, sizeof(path), "%s/%s", a->dir, id);
	unlink(path);
}

/* True when `secret` is the credential of sandbox `id`. */
static bool credential_matches(struct gw_auth *a, const char *id, const char *secret)
{
	unsigned char dig[SHA256_DIGEST_LENGTH];
	char path[4200], want[2 * SHA256_DIGEST_LENGTH + 8] = "",
							 have[2 * SHA256_DIGEST_LENGTH + 1];
	ssize_t n;
	int fd;

	if (!plain_id(id))
		return false;
	snprintf(path, sizeof(path), "%s/%s", a->dir, id);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, want, sizeof(want) - 1);
	close(fd);
	if (n < (ssize_t)DIGEST_HEX)
		return false;
	SHA256((const unsigned char *)secret, strlen(secret), dig);
	hex(dig, sizeof(dig), have);
	return CRYPTO_memcmp(have, want, DIGEST_HEX) == 0;
}

/* --------------------------------------------------------------- authz -- */

const char *gw_auth_who(struct osh_rpc_call *call)
{
	static __thread char buf[96];
	struct osh_rpc_peer p;
	const char *s;

	if (osh_rpc_call_peer_cred(call, &p)) {
		snprintf(buf, sizeof(buf), "uid %d pid %d", (int)p.uid, (int)p.pid);
		return buf;
	}
	s = osh_rpc_call_peer(call);
	return s != NULL && *s != '\0' ? s : "unknown peer";
}

static bool is_sandbox_method(const char *path)
{
	const char *m = strrchr(path, '/');

	m = m != NULL ? m + 1 : path;
	return strcmp(m, "GetSandboxPolicy") == 0 || strcmp(m, "PushSandboxLogs") == 0 ||
	       strcmp(m, "ReportSandboxSsh") == 0;
}

static const char *method_of(const char *path)
{
	const char *m = strrchr(path, '/');

	return m != NULL ? m + 1 : path;
}

static const char *sandbox_id_of(const ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "sandbox_id");
	const char *const *v;

	if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
		return "";
	v = (const char *const *)(const void *)((const char *)msg + f->offset);
	return *v != NULL ? *v : "";
}

static bool well_formed(const char *s)
{
	size_t n = 0;
	bool hexok = true;

	for (; s[n] != '\0'; n++)
		hexok = hexok && ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'));
	return hexok && n == GW_AUTH_SECRET_HEX;
}

int gw_auth_authz(struct osh_rpc_call *call, const ProtobufCMessage *msg, void *ud)
{
	struct gw_auth *a = ud;
	const char *path = osh_rpc_call_method(call);
	const char *method = method_of(path);
	const char *cred = osh_rpc_call_metadata(call, GW_AUTH_MD_KEY);
	const char *id;
	char who[160];
	int code = OSH_RPC_OK;
	char reason[256] = "";

	if (!is_sandbox_method(path)) {
		if (cred != NULL) {
			code = OSH_RPC_PERMISSION_DENIED;
			snprintf(reason, sizeof(reason),
				 "%s: a sandbox credential may call only GetSandboxPolicy, "
				 "PushSandboxLogs and ReportSandboxSsh for its own sandbox",
				 method);
			snprintf(who, sizeof(who), "%s", gw_auth_who(call));
		}
		goto out;
	}
	id = sandbox_id_of(msg);
	snprintf(who, sizeof(who), "%s", gw_auth_who(call));
	if (cred == NULL) {
		code = OSH_RPC_UNAUTHENTICATED;
		snprintf(reason, sizeof(reason),
			 "%s needs the sandbox credential (metadata %s); only the sandbox's "
			 "supervisor may call it",
			 method, GW_AUTH_MD_KEY);
	} else if (!well_formed(cred)) {
		code = OSH_RPC_UNAUTHENTICATED;
		snprintf(reason, sizeof(reason),
			 "%s: malformed sandbox credential (want %d lower-case hex digits)", method,
			 GW_AUTH_SECRET_HEX);
	} else if (!credential_matches(a, id, cred)) {
		code = OSH_RPC_PERMISSION_DENIED;
		snprintf(reason, sizeof(reason),
			 "%s: the credential does not belong to sandbox '%.64s'", method, id);
	}
out:
	if (code != OSH_RPC_OK) {
		osh_rpc_call_fail(call, code, "%s", reason);
		refused(a, who, method, osh_rpc_status_name(code), reason);
	}
	return code;
}
