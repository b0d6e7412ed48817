/* net_slot.c - per-sandbox address blocks, their locks, and leftovers.
 *
 * DESIGN
 * The range (default 10.200.0.0/16) is cut into /30 slots; slot i is the
 * block base + 4i, host end .1, sandbox end .2. A slot is owned by holding
 * flock() on <run_dir>/slot-<i>.lock; the kernel drops the lock when its
 * owner dies, however it dies, so "the lock can be taken" is exactly "the
 * owner is gone" (no pid files, no pid reuse). Taking a slot therefore
 * also finds leftovers: a lock file we could lock that still names an
 * interface belongs to a dead supervisor. The lock file records pid,
 * sandbox id and interface for operators. Lock files are unlinked by their
 * owner while locked; a taker re-checks after flock that the path still
 * names the file it locked (the open/unlink race).
 * Start searching at pid % nslots so concurrent starts rarely contend. A
 * block that overlaps an address or network of any host interface is
 * skipped (getifaddrs): the sandbox must never shadow a real network.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int net_range_parse(const char *text, struct net_range *r)
{
	char ip[32];
	const char *slash = text ? strchr(text, '/') : NULL;
	struct in_addr a;
	char *end = NULL;
	long p = -1;
	int rc = OSH_EINVAL;

	if (slash && (size_t)(slash - text) < sizeof(ip)) {
		memcpy(ip, text, (size_t)(slash - text));
		ip[slash - text] = '\0';
		errno = 0;
		p = strtol(slash + 1, &end, 10);
		if (errno || !end || *end || end == slash + 1)
			p = -1;
	}
	if (p >= 8 && p <= 29 && inet_pton(AF_INET, ip, &a) == 1) {
		uint32_t base = ntohl(a.s_addr);
		uint32_t mask = (uint32_t)(0xffffffffu << (32 - p));

		if ((base & ~mask) == 0) {
			r->base = base;
			r->prefix = (unsigned)p;
			r->nslots = 1u << (30 - p);
			rc = 0;
		}
	}
	return rc;
}

bool net_addr_collides(uint32_t net, char *who, size_t wlen)
{
	struct ifaddrs *ifa = NULL, *i;
	bool hit = false;

	if (getifaddrs(&ifa) != 0)
		ifa = NULL; /* nothing to compare with */
	for (i = ifa; i && !hit; i = i->ifa_next) {
		uint32_t a, m;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
		m = i->ifa_netmask
			? ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr)
			: 0xffffffffu;
		/* overlap of [net, net+3] and the interface's network a & m */
		if ((a & m & 0xfffffffcu) == (net & m & 0xfffffffcu) || (a & 0xfffffffcu) == net) {
			hit = true;
			snprintf(who, wlen, "%s", i->ifa_name);
		}
	}
	if (ifa)
		freeifaddrs(ifa);
	return hit;
}

/* Lock `path` (created if absent). Returns the fd with the lock held,
 * -EWOULDBLOCK when a live owner holds it, or -errno. */
static int lock_path(const char *path, bool create)
{
	int fd = -1;
	int rc = 0;

	for (int tries = 0; tries < 8 && rc == 0; tries++) {
		struct stat a, b;

		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
		if (fd < 0) {
			rc = -errno;
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			rc = -errno;
			close(fd);
			fd = -1;
			break;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			break; /* ours */
		close(fd);     /* unlinked under us: try again */
		fd = -1;
		if (!create) {
			rc = -ENOENT;
			break;
		}
	}
	return fd >= 0 ? fd : (rc ? rc : -EAGAIN);
}

static int mkdir_p(const char *dir)
{
	char tmp[256];
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		rc = OSH_ETOOBIG;
	for (char *p = tmp + 1; rc == 0 && *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			rc = OSH_ESYS;
		*p = '/';
	}
	if (rc == 0 && mkdir(tmp, 0700) != 0 && errno != EEXIST)
		rc = OSH_ESYS;
	return rc;
}

static bool link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

int net_slot_take(const char *run_dir, const struct net_range *r, const char *sandbox_id,
		  struct net_slot *s, char *msg, size_t mlen)
{
	unsigned start = (unsigned)getpid() % r->nslots;
	unsigned skipped_addr = 0, busy = 0;
	char who[IF_NAMESIZE] = "";
	int rc = OSH_EFULL;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (mkdir_p(run_dir) != 0) {
		snprintf(msg, mlen, "cannot create %s: %s", run_dir, strerror(errno));
		rc = OSH_EIO;
	}
	for (unsigned k = 0; rc == OSH_EFULL && k < r->nslots; k++) {
		unsigned i = (start + k) % r->nslots;
		uint32_t net = r->base + 4 * i;
		char path[256], name[IF_NAMESIZE];
		int fd;

		snprintf(path, sizeof(path), "%s/slot-%u.lock", run_dir, i);
		snprintf(name, sizeof(name), NET_IF_PREFIX "%u", i);
		fd = lock_path(path, true);
		if (fd == -EWOULDBLOCK) {
			busy++;
			continue;
		}
		if (fd < 0) {
			snprintf(msg, mlen, "cannot lock %s: %s", path, strerror(-fd));
			errno = -fd; /* the caller tells "not allowed" from a failure */
			rc = OSH_EIO;
			break;
		}
		/* a dead owner's host end may still be there (orphans keep the
		 * namespace alive): it is ours to remove now */
		if (link_exists(name))
			(void)net_link_delete(name);
		if (link_exists(name) || net_addr_collides(net, who, sizeof(who))) {
			skipped_addr++;
			unlink(path);
			close(fd);
			continue;
		}
		if (ftruncate(fd, 0) == 0) {
			char rec[320];
			int n = snprintf(rec, sizeof(rec), "pid=%d\nsandbox_id=%s\nif=%s\n",
					 (int)getpid(), sandbox_id ? sandbox_id : "", name);

			if (n > 0 && write(fd, rec, (size_t)n) != n)
				(void)0; /* the record is informational */
		}
		s->index = i;
		s->lock_fd = fd;
		s->net = net;
		snprintf(s->lock_path, sizeof(s->lock_path), "%s", path);
		snprintf(s->host_if, sizeof(s->host_if), "%s", name);
		rc = 0;
	}
	if (rc == OSH_EFULL)
		snprintf(
		    msg, mlen,
		    "no free /30 in the range: %u slots in use, %u overlap host interfaces%s%s%s",
		    busy, skipped_addr, *who ? " (e.g. " : "", who, *who ? ")" : "");
	return rc;
}

void net_slot_release(struct net_slot *s)
{
	if (s->lock_fd >= 0) {
		unlink(s->lock_path);
		close(s->lock_fd);
		s->lock_fd = -1;
	}
}

static void note(char *what, size_t cap, const char *item)
{
	size_t l = strlen(what);

	if (l + strlen(item) + 2 < cap)
		snprintf(what + l, cap - l, "%s%s", l ? " " : "", item);
}

/* Is <run_dir>/slot-<i>.lock held by a live supervisor? */
static bool slot_live(const char *run_dir, unsigned i)
{
	char path[256];
	int fd;
	bool live = false;

	snprintf(path, sizeof(path), "%s/slot-%u.lock", run_dir, i);
	fd = lock_path(path, false);
	/* only "no such lock" or "we got the lock" mean nobody owns the slot;
	 * anything else (EACCES, ...) leaves the interface alone */
	live = fd == -EWOULDBLOCK || (fd < 0 && fd != -ENOENT);
	if (fd >= 0)
		close(fd);
	return live;
}

int osh_net_clean_stale(const char *run_dir, char *what, size_t cap)
{
	DIR *d;
	struct dirent *e;
	struct if_nameindex *ifs;
	int count = 0;

	if (!run_dir)
		run_dir = OSH_NET_RUN_DIR;
	if (cap)
		what[0] = '\0';
	d = opendir(run_dir);
	while (d && (e = readdir(d)) != NULL) {
		char path[512], name[IF_NAMESIZE];
		unsigned i;
		char tail;
		int fd;

		if (sscanf(e->d_name, "slot-%u.loc%c", &i, &tail) != 2 || tail != 'k')
			continue;
		snprintf(path, sizeof(path), "%s/%s", run_dir, e->d_name);
		fd = lock_path(path, false);
		if (fd < 0)
			continue; /* live owner, or gone meanwhile */
		snprintf(name, sizeof(name), NET_IF_PREFIX "%u", i);
		if (link_exists(name) && net_link_delete(name) == 0) {
			note(what, cap, name);
			count++;
		}
		unlink(path);
		close(fd);
		note(what, cap, e->d_name);
		count++;
	}
	if (d)
		closedir(d);
	/* host ends without any lock file (run dir wiped, e.g. a tmpfs remount) */
	ifs = if_nameindex();
	for (struct if_nameindex *p = ifs; p && p->if_index; p++) {
		unsigned i;
		char extra;

		if (sscanf(p->if_name, NET_IF_PREFIX "%u%c", &i, &extra) != 1)
			continue;
		if (!slot_live(run_dir, i) && net_link_delete(p->if_name) == 0) {
			note(what, cap, p->if_name);
			count++;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return count;
}
