/* gw_auth.c - see gw_auth.h.
 *
 * DESIGN: credentials are compared as SHA-256 digests with a constant-time
 * compare (CRYPTO_memcmp), so neither the stored form nor the timing gives
 * the secret away. The refusal table is a small fixed array (32 principals,
 * oldest window replaced): a flood from many principals cannot grow memory,
 * it only shares the counters. The digest cache is direct-mapped (256 slots
 * by a hash of the id), so it is bounded too and a lookup is O(1); a stale
 * entry can only make a call look authenticated for a sandbox that is gone,
 * and every handler then answers NOT_FOUND from the store. */
#include "gw_auth.h"

#include <dirent.h>
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
#include "gwlog.h"
#include "osh_time.h"
#include "store.h"

#define REFUSE_SLOTS	  32
#define REFUSE_WINDOW_S	  60
#define DIGEST_HEX	  ((size_t)SHA256_DIGEST_LENGTH * 2u)
#define REFUSE_REPORT_MAX 5
#define LIMIT_REPORT_MS	  10000
#define CACHE_SLOTS	  256

struct refusal {
	char who[96];
	int64_t window_start_ms;
	unsigned count;
	uint64_t suppressed;
};

/* A digest read from the store. */
struct cached {
	char id[40];
	char digest[DIGEST_HEX + 1];
	int64_t read_ms; /* monotonic; 0 = empty slot */
};

struct gw_auth {
	gid_t group;
	uid_t self;
	gw_auth_store_fn store;
	void *store_ud;
	pthread_mutex_t mu;
	struct refusal slots[REFUSE_SLOTS];
	struct cached cache[CACHE_SLOTS];
	/* listener refusals by cap / no fds, reported in batches */
	uint64_t limit_pending;
	int64_t limit_last_ms;
	char who_buf[128];
};

int gw_auth_create(struct gw_auth **out, gid_t group, gw_auth_store_fn store, void *store_ud,
		   char *err, size_t errlen)
{
	struct gw_auth *a = calloc(1, sizeof(*a));
	int rc = OSH_ENOMEM;

	*out = NULL;
	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pthread_mutex_init(&a->mu, NULL);
	a->group = group;
	a->self = geteuid();
	a->store = store;
	a->store_ud = store_ud;
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

static struct cached *slot_of(struct gw_auth *a, const char *id)
{
	uint32_t h = 2166136261u;

	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &a->cache[h % CACHE_SLOTS];
}

static void cache_put(struct gw_auth *a, const char *id, const char *digest)
{
	struct cached *c;

	pthread_mutex_lock(&a->mu);
	c = slot_of(a, id);
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->digest, sizeof(c->digest), "%s", digest);
	c->read_ms = osh_time_mono_ms();
	pthread_mutex_unlock(&a->mu);
}

/* Copies the cached digest of id into out when it is fresh. */
static bool cache_get(struct gw_auth *a, const char *id, char out[DIGEST_HEX + 1])
{
	struct cached *c;
	bool hit;

	pthread_mutex_lock(&a->mu);
	c = slot_of(a, id);
	hit = c->read_ms != 0 && strcmp(c->id, id) == 0 &&
	      osh_time_mono_ms() - c->read_ms < GW_AUTH_CACHE_MS;
	if (hit)
		memcpy(out, c->digest, DIGEST_HEX + 1);
	pthread_mutex_unlock(&a->mu);
	return hit;
}

int gw_auth_issue(struct gw_auth *a, const char *id, char secret[GW_AUTH_SECRET_HEX + 1])
{
	unsigned char raw[32], dig[SHA256_DIGEST_LENGTH];
	char dhex[DIGEST_HEX + 1];
	bool stored = false;
	int rc = OSH_ESYS;

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
	rc = osh_gw_store_cred_put(a->store(a->store_ud), id, dhex, true, &stored);
	if (rc == 0)
		cache_put(a, id, dhex);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (rc != 0)
		secret[0] = '\0';
	return rc;
}

void gw_auth_revoke(struct gw_auth *a, const char *id)
{
	struct cached *c;

	pthread_mutex_lock(&a->mu);
	c = slot_of(a, id);
	if (strcmp(c->id, id) == 0)
		memset(c, 0, sizeof(*c));
	pthread_mutex_unlock(&a->mu);
}

/* Whether `secret` is the credential of sandbox `id`: 1 yes, 0 no, or the
 * store's error (OSH_EUNAVAIL: cannot tell now). A fresh cached digest that
 * matches is enough; otherwise the store is read (and the cache refreshed). */
static int credential_matches(struct gw_auth *a, const char *id, const char *secret)
{
	unsigned char dig[SHA256_DIGEST_LENGTH];
	char want[DIGEST_HEX + 1], have[DIGEST_HEX + 1];
	int rc = 0;

	if (!plain_id(id))
		goto out;
	SHA256((const unsigned char *)secret, strlen(secret), dig);
	hex(dig, sizeof(dig), have);
	if (cache_get(a, id, want) && CRYPTO_memcmp(have, want, DIGEST_HEX) == 0) {
		rc = 1;
		goto out;
	}
	rc = osh_gw_store_cred_get(a->store(a->store_ud), id, want);
	if (rc == OSH_ENOTFOUND || rc == OSH_EPARSE) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	cache_put(a, id, want);
	rc = CRYPTO_memcmp(have, want, DIGEST_HEX) == 0 ? 1 : 0;
out:
	OPENSSL_cleanse(dig, sizeof(dig));
	return rc;
}

/* ----------------------------------------------------- file migration -- */

/* Reads the digest file of one sandbox (64 lower-case hex digits, an
 * optional newline) into out; false for anything else. */
static bool read_digest_file(int dfd, const char *name, char out[DIGEST_HEX + 1])
{
	char buf[DIGEST_HEX + 8] = "";
	ssize_t n = -1;
	bool ok;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	ok = n == (ssize_t)DIGEST_HEX || (n == (ssize_t)DIGEST_HEX + 1 && buf[DIGEST_HEX] == '\n');
	for (size_t i = 0; ok && i < DIGEST_HEX; i++)
		ok = (buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f');
	if (ok) {
		memcpy(out, buf, DIGEST_HEX);
		out[DIGEST_HEX] = '\0';
	}
	return ok;
}

int gw_auth_import_files(struct gw_auth *a, const char *data_dir, size_t *imported, size_t *skipped,
			 char *err, size_t errlen)
{
	struct osh_gw_store *st = a->store(a->store_ud);
	char dir[4096], digest[DIGEST_HEX + 1];
	struct dirent *e;
	struct stat sb;
	DIR *d = NULL;
	int dfd, rc = 0;

	*imported = *skipped = 0;
	if (snprintf(dir, sizeof(dir), "%s/credentials", data_dir) >= (int)sizeof(dir)) {
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "data dir path too long");
		goto out;
	}
	if (lstat(dir, &sb) != 0 && errno == ENOENT)
		goto out; /* nothing to import: the usual case */
	/* Never read digests from a path that is a symlink or someone else's. */
	if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != a->self) {
		rc = OSH_EPERM;
		snprintf(err, errlen,
			 "%s: not a directory owned by uid %u: credentials not imported (move it "
			 "away or fix it, then start again)",
			 dir, (unsigned)a->self);
		goto out;
	}
	d = opendir(dir);
	if (d == NULL) {
		rc = OSH_ESYS;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	dfd = dirfd(d);
	while (rc == 0 && (e = readdir(d)) != NULL) {
		bool stored = false;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		/* ".<id>.new": a write an earlier gateway did not finish */
		if (e->d_name[0] != '.' && plain_id(e->d_name) &&
		    read_digest_file(dfd, e->d_name, digest)) {
			rc = osh_gw_store_cred_put(st, e->d_name, digest, false, &stored);
			if (rc != 0) {
				snprintf(err, errlen, "import %s/%s: %s", dir, e->d_name,
					 osh_gw_store_errmsg(st));
				break;
			}
		}
		if (stored)
			(*imported)++;
		else
			(*skipped)++;
		if (unlinkat(dfd, e->d_name, 0) != 0) {
			rc = OSH_ESYS;
			snprintf(err, errlen, "%s/%s: %s", dir, e->d_name, strerror(errno));
		}
	}
	if (rc == 0 && rmdir(dir) != 0) {
		rc = OSH_ESYS;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	}
	if (*imported + *skipped > 0 || rc == 0) {
		gw_ev_cred_import(dir, *imported, *skipped, rc == 0);
		osh_gw_log(rc == 0 ? OSH_GW_LOG_INFO : OSH_GW_LOG_ERROR,
			   "sandbox credentials: %zu imported from %s into the %s store, %zu "
			   "skipped (sandbox gone, unreadable, or a digest already stored)%s",
			   *imported, dir, osh_gw_store_kind(st), *skipped,
			   rc == 0 ? "; the directory is removed" : "; stopped, the rest is kept");
	}
out:
	if (d != NULL)
		closedir(d);
	return rc;
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
	       strcmp(m, "SubmitPolicyAnalysis") == 0 || strcmp(m, "ReportSandboxSsh") == 0;
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
	int m;

	if (!is_sandbox_method(path)) {
		if (cred != NULL) {
			code = OSH_RPC_PERMISSION_DENIED;
			snprintf(reason, sizeof(reason),
				 "%s: a sandbox credential may call only GetSandboxPolicy, "
				 "PushSandboxLogs, SubmitPolicyAnalysis and ReportSandboxSsh "
				 "for its own sandbox",
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
	} else if ((m = credential_matches(a, id, cred)) < 0) {
		/* Cannot tell now (the store is unreachable): the supervisor retries. */
		osh_rpc_call_fail(call, OSH_RPC_UNAVAILABLE,
				  "%s: cannot check the sandbox credential now: %s", method,
				  osh_strerror(m));
		code = OSH_RPC_UNAVAILABLE;
		goto done;
	} else if (m == 0) {
		code = OSH_RPC_PERMISSION_DENIED;
		snprintf(reason, sizeof(reason),
			 "%s: the credential does not belong to sandbox '%.64s'", method, id);
	}
out:
	if (code != OSH_RPC_OK) {
		osh_rpc_call_fail(call, code, "%s", reason);
		refused(a, who, method, osh_rpc_status_name(code), reason);
	}
done:
	return code;
}
