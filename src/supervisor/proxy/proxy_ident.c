/* proxy_ident.c - peer identity from the kernel and /proc, TOFU hashes
 * (see proxy_ident.h for why sock_diag and why hashing /proc/<pid>/exe).
 */
#include "proxy_ident.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tofu {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char hex[65];
};

/* A process recently found owning a client socket: its open /proc/<pid>/fd
 * directory and the descriptor numbers its client sockets had. A client
 * that opens a new connection per request reuses the lowest free numbers,
 * so the next socket is almost always behind one of them: one readlinkat
 * per hint instead of a scan of every descriptor. The directory fd is tied
 * to that very process (a new process with a recycled pid has another
 * /proc entry), so a stale entry can only miss, never name a wrong owner. */
#define OWNERS_MAX     8
#define OWNER_HINTS    8
#define HINT_PROBE_MAX 16 /* readlinkat calls per lookup before the search */

struct owner {
	pid_t pid; /* 0 = free slot */
	int dirfd; /* /proc/<pid>/fd, O_DIRECTORY */
	int hint[OWNER_HINTS];
	unsigned n_hint;
	uint64_t last_use;
};

struct osh_proxy_ident {
	int nl;	      /* NETLINK_SOCK_DIAG socket in the clients' namespace */
	ino_t ns_ino; /* that namespace's inode (to follow the root's) */
	pthread_mutex_t nl_lock;
	uint32_t seq;
	pid_t root; /* atomic */
	pthread_mutex_t tofu_lock;
	struct tofu tofu[OSH_PROXY_TOFU_MAX];
	size_t n_tofu;
	pthread_mutex_t own_lock;
	struct owner own[OWNERS_MAX];
	uint64_t own_clock;
	uint64_t own_hits, own_misses; /* atomics */
};

/* ------------------------------------------------------------ create */

struct nsarg {
	int netns_fd;
	int nl;
	int err;
	const char *what;
};

static void *open_in_ns(void *p)
{
	struct nsarg *a = p;

	if (a->netns_fd >= 0 && setns(a->netns_fd, CLONE_NEWNET) != 0) {
		a->err = errno;
		a->what = "setns";
		return NULL;
	}
	a->nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (a->nl < 0) {
		a->err = errno;
		a->what = "socket(NETLINK_SOCK_DIAG)";
	}
	return NULL;
}

/* A sock_diag socket in the namespace of netns_fd (-1: ours), created on a
 * throw-away thread so no caller thread ever changes namespace. */
static int open_nl(int netns_fd, int *nl, ino_t *ino, char *err, size_t errlen)
{
	struct nsarg a = {.netns_fd = netns_fd, .nl = -1};
	struct stat st;
	pthread_t t;

	if (netns_fd >= 0) {
		if (pthread_create(&t, NULL, open_in_ns, &a) != 0) {
			a.err = EAGAIN;
			a.what = "pthread_create";
		} else {
			pthread_join(t, NULL);
		}
	} else {
		open_in_ns(&a);
	}
	*nl = a.nl;
	*ino = 0;
	if (a.nl < 0)
		snprintf(err, errlen, "peer identity unavailable: %s: %s", a.what, strerror(a.err));
	else if (netns_fd >= 0 ? fstat(netns_fd, &st) == 0 : stat("/proc/self/ns/net", &st) == 0)
		*ino = st.st_ino;
	return a.nl < 0 ? OSH_ESYS : 0;
}

int osh_proxy_ident_create(int netns_fd, struct osh_proxy_ident **out, char *err, size_t errlen)
{
	struct osh_proxy_ident *id = calloc(1, sizeof(*id));
	int rc;

	*out = NULL;
	if (!id) {
		snprintf(err, errlen, "out of memory");
		rc = OSH_ENOMEM;
	} else {
		rc = open_nl(netns_fd, &id->nl, &id->ns_ino, err, errlen);
	}
	if (rc == 0) {
		pthread_mutex_init(&id->nl_lock, NULL);
		pthread_mutex_init(&id->tofu_lock, NULL);
		pthread_mutex_init(&id->own_lock, NULL);
		*out = id;
	} else {
		free(id);
	}
	return rc;
}

/* The sandbox command may enter its own network namespace after the proxy
 * started (its child set-up runs after fork): when a lookup misses, follow
 * the root's namespace if it differs from the netlink socket's (returns
 * true when it moved, so the lookup is worth repeating). */
static bool follow_root_ns(struct osh_proxy_ident *id, pid_t root)
{
	char path[64], err[128];
	bool moved = false;
	struct stat st;
	ino_t ino;
	int fd, nl;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)root);
	if (stat(path, &st) != 0)
		return false;
	pthread_mutex_lock(&id->nl_lock);
	if (st.st_ino != id->ns_ino && (fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		if (open_nl(fd, &nl, &ino, err, sizeof(err)) == 0) {
			close(id->nl);
			id->nl = nl;
			id->ns_ino = ino;
			moved = true;
		}
		close(fd);
	}
	pthread_mutex_unlock(&id->nl_lock);
	return moved;
}

void osh_proxy_ident_set_root(struct osh_proxy_ident *id, pid_t root)
{
	__atomic_store_n(&id->root, root, __ATOMIC_RELEASE);
}

void osh_proxy_ident_destroy(struct osh_proxy_ident *id)
{
	if (!id)
		return;
	close(id->nl);
	for (size_t i = 0; i < id->n_tofu; i++)
		free(id->tofu[i].path);
	for (size_t i = 0; i < OWNERS_MAX; i++)
		if (id->own[i].pid > 0)
			close(id->own[i].dirfd);
	pthread_mutex_destroy(&id->own_lock);
	pthread_mutex_destroy(&id->nl_lock);
	pthread_mutex_destroy(&id->tofu_lock);
	free(id);
}

/* ------------------------------------------------------- socket inode */

static void fill_addr(const struct sockaddr_storage *ss, __be16 *port, __be32 *addr)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;

		*port = s4->sin_port;
		memcpy(addr, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;

		*port = s6->sin6_port;
		memcpy(addr, &s6->sin6_addr, 16);
	}
}

/* The client socket is the one whose source is our peer and destination
 * our local address. */
static int diag_lookup(struct osh_proxy_ident *id, const struct sockaddr_storage *peer,
		       const struct sockaddr_storage *local, unsigned long *inode, uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		char b[1024];
	} resp;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int rc = OSH_ENOTFOUND;
	ssize_t n;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = (uint8_t)peer->ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	fill_addr(peer, &req.r.id.idiag_sport, req.r.id.idiag_src);
	fill_addr(local, &req.r.id.idiag_dport, req.r.id.idiag_dst);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	pthread_mutex_lock(&id->nl_lock);
	req.nlh.nlmsg_seq = ++id->seq;
	if (sendto(id->nl, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = OSH_ESYS;
		goto out;
	}
	for (;;) {
		n = recv(id->nl, &resp, sizeof(resp), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)sizeof(struct nlmsghdr)) {
			rc = OSH_ESYS;
			break;
		}
		if (resp.nlh.nlmsg_seq != req.nlh.nlmsg_seq)
			continue; /* stale answer of an earlier, abandoned request */
		if (resp.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    resp.nlh.nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
			const struct inet_diag_msg *m = NLMSG_DATA(&resp.nlh);

			/* The kernel's exact lookup falls back to a listener on the
			 * client's port: only a connected socket with this very
			 * 4-tuple is the client (else: wrong namespace). */
			if (m->idiag_inode && m->idiag_state != 10 /* TCP_LISTEN */ &&
			    m->id.idiag_sport == req.r.id.idiag_sport &&
			    m->id.idiag_dport == req.r.id.idiag_dport &&
			    memcmp(m->id.idiag_src, req.r.id.idiag_src, sizeof(m->id.idiag_src)) ==
				0 &&
			    memcmp(m->id.idiag_dst, req.r.id.idiag_dst, sizeof(m->id.idiag_dst)) ==
				0) {
				*inode = m->idiag_inode;
				*uid = m->idiag_uid;
				rc = 0;
			}
		}
		break;
	}
out:
	pthread_mutex_unlock(&id->nl_lock);
	return rc;
}

/* ------------------------------------------------------- owner search */

/* Whether pid holds the socket `want` ("socket:[<inode>]"); *fdnum = the
 * descriptor number that does. Each entry is read relative to the open fd
 * directory (readlinkat): one path component per descriptor instead of a
 * /proc/<pid>/fd/<n> walk. */
static bool owns_inode(pid_t pid, const char *want, int *fdnum)
{
	char path[64], link[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	while (d && !found && (de = readdir(d)) != NULL) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = strcmp(link, want) == 0;
			if (found)
				*fdnum = (int)strtol(de->d_name, NULL, 10);
		}
	}
	if (d)
		closedir(d);
	return found;
}

#define BFS_MAX 4096

/* Breadth-first over root's descendants. */
static pid_t search_tree(pid_t root, const char *want, int *fdnum)
{
	pid_t *q = malloc(BFS_MAX * sizeof(*q));
	size_t head = 0, tail = 0;
	pid_t found = 0;

	if (!q)
		return 0;
	q[tail++] = root;
	while (head < tail && !found) {
		pid_t p = q[head++];
		char path[64];
		struct dirent *de;
		DIR *d;

		if (owns_inode(p, want, fdnum)) {
			found = p;
			break;
		}
		snprintf(path, sizeof(path), "/proc/%d/task", (int)p);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			char cp[320], buf[4096];
			FILE *f;

			if (de->d_name[0] == '.')
				continue;
			snprintf(cp, sizeof(cp), "/proc/%d/task/%s/children", (int)p, de->d_name);
			f = fopen(cp, "re");
			if (!f)
				continue;
			if (fgets(buf, sizeof(buf), f)) {
				char *save = NULL;

				for (char *tok = strtok_r(buf, " \n", &save); tok && tail < BFS_MAX;
				     tok = strtok_r(NULL, " \n", &save))
					q[tail++] = (pid_t)strtol(tok, NULL, 10);
			}
			fclose(f);
		}
		closedir(d);
	}
	free(q);
	return found;
}

static pid_t search_all(const char *want, int *fdnum)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		char *end;
		long p = strtol(de->d_name, &end, 10);

		if (*end == '\0' && p > 0 && p != getpid() && owns_inode((pid_t)p, want, fdnum))
			found = (pid_t)p;
	}
	closedir(d);
	return found;
}

/* --------------------------------------------------------- owner cache */

/* Probes the hinted descriptors of the recently seen owners, most recent
 * first; returns the owner's pid or 0. A hit moves the hint to the front. */
static pid_t owner_probe(struct osh_proxy_ident *id, const char *want)
{
	unsigned probes = 0;
	pid_t found = 0;

	pthread_mutex_lock(&id->own_lock);
	while (!found && probes < HINT_PROBE_MAX) {
		struct owner *best = NULL;

		/* next most recently used owner not probed yet (last_use marks) */
		for (size_t i = 0; i < OWNERS_MAX; i++) {
			struct owner *o = &id->own[i];

			if (o->pid > 0 && o->n_hint > 0 && !(o->last_use & 1) &&
			    (!best || o->last_use > best->last_use))
				best = o;
		}
		if (!best)
			break;
		best->last_use |= 1; /* probed in this lookup */
		/* least recently matched first: with one socket per request, the
		 * descriptor number just reused is the one whose previous socket
		 * was seen longest ago (the other clients were seen since) */
		for (unsigned k = 0; k < best->n_hint && probes < HINT_PROBE_MAX && !found; k++) {
			unsigned h = best->n_hint - 1 - k;
			char name[16], link[64];
			ssize_t n;

			snprintf(name, sizeof(name), "%d", best->hint[h]);
			n = readlinkat(best->dirfd, name, link, sizeof(link) - 1);
			probes++;
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				int fdn = best->hint[h];

				memmove(&best->hint[1], &best->hint[0], h * sizeof(best->hint[0]));
				best->hint[0] = fdn;
				found = best->pid;
				best->last_use = (++id->own_clock) << 1 | 1;
			}
		}
	}
	for (size_t i = 0; i < OWNERS_MAX; i++)
		id->own[i].last_use &= ~(uint64_t)1;
	pthread_mutex_unlock(&id->own_lock);
	__atomic_add_fetch(found ? &id->own_hits : &id->own_misses, 1, __ATOMIC_RELAXED);
	return found;
}

/* Remembers that pid's descriptor fdnum was a client socket. */
static void owner_learn(struct osh_proxy_ident *id, pid_t pid, int fdnum)
{
	struct owner *o = NULL, *lru = NULL;

	pthread_mutex_lock(&id->own_lock);
	for (size_t i = 0; i < OWNERS_MAX && !o; i++)
		if (id->own[i].pid == pid)
			o = &id->own[i];
	for (size_t i = 0; i < OWNERS_MAX && !o; i++)
		if (!lru || id->own[i].pid == 0 ||
		    (lru->pid > 0 && id->own[i].last_use < lru->last_use))
			lru = &id->own[i];
	if (!o && lru) {
		char path[64];
		int dfd;

		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			if (lru->pid > 0)
				close(lru->dirfd);
			memset(lru, 0, sizeof(*lru));
			lru->pid = pid;
			lru->dirfd = dfd;
			o = lru;
		}
	}
	if (o) {
		unsigned h = 0;

		while (h < o->n_hint && o->hint[h] != fdnum)
			h++;
		if (h == o->n_hint && o->n_hint < OWNER_HINTS)
			o->n_hint++;
		if (h == OWNER_HINTS)
			h = OWNER_HINTS - 1; /* drop the least recent hint */
		memmove(&o->hint[1], &o->hint[0], h * sizeof(o->hint[0]));
		o->hint[0] = fdnum;
		o->last_use = (++id->own_clock) << 1;
	}
	pthread_mutex_unlock(&id->own_lock);
}

void osh_proxy_ident_stats(struct osh_proxy_ident *id, unsigned long *hits, unsigned long *misses)
{
	*hits = (unsigned long)__atomic_load_n(&id->own_hits, __ATOMIC_RELAXED);
	*misses = (unsigned long)__atomic_load_n(&id->own_misses, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------- proc info */

static const char *store_str(struct osh_proxy_peer *pe, const char *s, size_t n)
{
	char *d;

	if (pe->used + n + 1 > sizeof(pe->store))
		return NULL;
	d = pe->store + pe->used;
	memcpy(d, s, n);
	d[n] = '\0';
	pe->used += n + 1;
	return d;
}

static const char *read_exe(struct osh_proxy_peer *pe, pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	return store_str(pe, buf, (size_t)n);
}

static pid_t read_ppid(pid_t pid)
{
	char path[64], line[256];
	pid_t pp = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "PPid:", 5) == 0) {
			pp = (pid_t)strtol(line + 5, NULL, 10);
			break;
		}
	fclose(f);
	return pp;
}

static bool seen(const struct osh_proxy_peer *pe, const char *s)
{
	if (pe->exe && strcmp(pe->exe, s) == 0)
		return true;
	for (size_t i = 0; i < pe->n_anc; i++)
		if (strcmp(pe->anc[i], s) == 0)
			return true;
	for (size_t i = 0; i < pe->n_cmd; i++)
		if (strcmp(pe->cmd[i], s) == 0)
			return true;
	return false;
}

static void add_cmdline(struct osh_proxy_peer *pe, pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *a = buf; a < buf + n && pe->n_cmd < OSH_PROXY_CMD_MAX; a += strlen(a) + 1) {
		const char *s;

		if (a[0] != '/' || seen(pe, a))
			continue;
		s = store_str(pe, a, strlen(a));
		if (s)
			pe->cmd[pe->n_cmd++] = s;
	}
}

/* ---------------------------------------------------------------- TOFU */

int osh_proxy_sha256_fd(int fd, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32], buf[65536];
	unsigned mdlen = 0;
	int rc = 0;
	ssize_t n;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = OSH_EIO;
		goto out;
	}
	while ((n = pread(fd, buf, sizeof(buf), 0)) < 0 && errno == EINTR)
		;
	/* read from the start whatever the fd offset is */
	for (off_t off = 0; n > 0;) {
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
			rc = OSH_EIO;
			goto out;
		}
		off += n;
		while ((n = pread(fd, buf, sizeof(buf), off)) < 0 && errno == EINTR)
			;
	}
	if (n < 0 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
		rc = OSH_EIO;
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + (size_t)2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static bool same_print(const struct tofu *t, const struct stat *st)
{
	return t->dev == st->st_dev && t->ino == st->st_ino && t->size == st->st_size &&
	       t->mtime.tv_sec == st->st_mtim.tv_sec && t->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       t->ctime.tv_sec == st->st_ctim.tv_sec && t->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void set_print(struct tofu *t, const struct stat *st)
{
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->size = st->st_size;
	t->mtime = st->st_mtim;
	t->ctime = st->st_ctim;
}

/* The cache part of tofu_check(), under the lock: st describes the running
 * image /proc/<pid>/exe (`exe`). */
static int tofu_locked(struct osh_proxy_ident *id, const char *exe, const char *path,
		       struct stat *st, char *reason, size_t rlen)
{
	struct tofu *t = NULL;
	char hex[65];
	int fd = -1, rc = 0;

	for (size_t i = 0; i < id->n_tofu && !t; i++)
		if (strcmp(id->tofu[i].path, path) == 0)
			t = &id->tofu[i];
	if (t && same_print(t, st))
		goto out; /* unchanged since hashed */
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, st) != 0 || osh_proxy_sha256_fd(fd, hex) != 0) {
		snprintf(reason, rlen, "cannot hash %s", path);
		rc = OSH_EIO;
		goto out;
	}
	if (t && strcmp(t->hex, hex) != 0) {
		snprintf(reason, rlen,
			 "%s hash changed since first use (was %.16s..., now %.16s...)", path,
			 t->hex, hex);
		rc = OSH_EPERM; /* keep the first hash: stays denied */
		goto out;
	}
	if (!t && id->n_tofu < OSH_PROXY_TOFU_MAX) {
		t = &id->tofu[id->n_tofu];
		t->path = strdup(path);
		if (t->path)
			id->n_tofu++;
		else
			t = NULL;
	}
	if (t) {
		memcpy(t->hex, hex, sizeof(hex));
		set_print(t, st);
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Checks the image of pid (known as `path`) against the first-use hash.
 * stat() of /proc/<pid>/exe describes the running image; it is opened (and
 * hashed) only when its fingerprint is new. Hashing happens under the lock:
 * it keeps the cache simple, and first use is rare. */
static int tofu_check(struct osh_proxy_ident *id, pid_t pid, const char *path, char *reason,
		      size_t rlen)
{
	char exe[64];
	struct stat st;
	int rc;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	if (stat(exe, &st) != 0) {
		snprintf(reason, rlen, "cannot stat %s for %s: %s", exe, path, strerror(errno));
		rc = OSH_EIO;
	} else {
		pthread_mutex_lock(&id->tofu_lock);
		rc = tofu_locked(id, exe, path, &st, reason, rlen);
		pthread_mutex_unlock(&id->tofu_lock);
	}
	return rc;
}

/* -------------------------------------------------------------- lookup */

/* The executables of pid's parents, nearest first, up to the sandbox
 * command (inclusive) or PID 1, each TOFU-checked. */
static int ancestors(struct osh_proxy_ident *id, pid_t pid, pid_t root, struct osh_proxy_peer *out,
		     char *reason, size_t rlen)
{
	char why[512];
	pid_t p = pid;
	bool more = true;
	int rc = 0;

	while (more && rc == 0 && p != root && p > 1 && out->n_anc < OSH_PROXY_ANC_MAX) {
		const char *e = NULL;

		p = read_ppid(p);
		if (p > 0)
			e = read_exe(out, p);
		more = e != NULL; /* gone, or not ours to read */
		if (e)
			rc = tofu_check(id, p, e, why, sizeof(why));
		if (e && rc != 0)
			snprintf(reason, rlen, "ancestor integrity check failed for %s: %s", e,
				 why);
		if (e && rc == 0) {
			out->anc_pid[out->n_anc] = p;
			out->anc[out->n_anc++] = e;
		}
	}
	return rc;
}

int osh_proxy_ident_lookup(struct osh_proxy_ident *id, const struct sockaddr_storage *peer,
			   const struct sockaddr_storage *local, struct osh_proxy_peer *out,
			   char *reason, size_t rlen)
{
	pid_t root = __atomic_load_n(&id->root, __ATOMIC_ACQUIRE);
	char want[48], why[512];
	pid_t pid = 0;
	int rc, fdnum = -1;

	memset(out, 0, offsetof(struct osh_proxy_peer, store));
	out->used = 0;
	rc = diag_lookup(id, peer, local, &out->inode, &out->uid);
	if (rc != 0 && root > 0 && follow_root_ns(id, root))
		rc = diag_lookup(id, peer, local, &out->inode, &out->uid);
	if (rc != 0) {
		snprintf(reason, rlen,
			 "failed to resolve peer binary: client socket not found in the sandbox "
			 "network namespace");
		rc = OSH_ENOTFOUND;
		goto out;
	}
	snprintf(want, sizeof(want), "socket:[%lu]", out->inode);
	pid = owner_probe(id, want);
	if (!pid && root > 0)
		pid = search_tree(root, want, &fdnum);
	if (!pid)
		pid = search_all(want, &fdnum);
	if (pid && fdnum >= 0)
		owner_learn(id, pid, fdnum);
	if (!pid) {
		snprintf(reason, rlen,
			 "failed to resolve peer binary: no process owns socket inode %lu (reading "
			 "other users' /proc/<pid>/fd needs CAP_SYS_PTRACE)",
			 out->inode);
		rc = OSH_ENOTFOUND;
		goto out;
	}
	out->pid = pid;
	out->exe = read_exe(out, pid);
	if (!out->exe) {
		snprintf(reason, rlen, "failed to resolve peer binary: cannot read /proc/%d/exe",
			 (int)pid);
		rc = OSH_ENOTFOUND;
		goto out;
	}
	rc = tofu_check(id, pid, out->exe, why, sizeof(why));
	if (rc != 0)
		snprintf(reason, rlen, "binary integrity check failed: %s", why);
	else
		rc = ancestors(id, pid, root, out, reason, rlen);
out:
	return rc;
}

void osh_proxy_ident_cmdline(struct osh_proxy_peer *pe)
{
	if (pe->n_cmd > 0 || pe->pid <= 0)
		return;
	add_cmdline(pe, pe->pid);
	for (size_t i = 0; i < pe->n_anc; i++)
		add_cmdline(pe, pe->anc_pid[i]);
}
