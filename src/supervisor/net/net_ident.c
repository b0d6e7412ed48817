/* net_ident.c - which process in the sandbox owns the socket of a LOG line.
 *
 * DESIGN
 * A LOG line gives the source port; the namespace's /proc/net/{tcp,udp}
 * (opened inside it, so they list its sockets whatever thread reads them)
 * map the port to a socket inode; the processes whose network namespace is
 * the sandbox's (same /proc/<pid>/ns/net inode) are searched for an fd
 * "socket:[inode]". This works because the rules keep a refused TCP socket
 * in SYN-SENT until its first retransmit (net_rules.c) and UDP sockets stay
 * bound while open; a process that closed its socket already is reported
 * unresolved, never guessed.
 */
#include "net_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_NET_MAX (1u << 20)

static unsigned long inode_from(int fd, uint16_t sport)
{
	char *buf;
	size_t len = 0;
	ssize_t n = 1;
	unsigned long inode = 0;

	buf = (fd >= 0 && lseek(fd, 0, SEEK_SET) == 0) ? malloc(PROC_NET_MAX) : NULL;
	while (buf && n > 0 && len < PROC_NET_MAX) {
		n = read(fd, buf + len, PROC_NET_MAX - len);
		if (n > 0)
			len += (size_t)n;
	}
	if (buf)
		inode = net_ident_inode_in(buf, len, sport);
	free(buf);
	return inode;
}

static void read_small(const char *path, char *out, size_t cap, bool nul_to_space)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, cap - 1) : -1;

	out[n > 0 ? n : 0] = '\0';
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
	for (ssize_t i = 0; nul_to_space && i < n - 1; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	if (fd >= 0)
		close(fd);
}

/* Does process `pid` hold socket:[inode]? */
static bool holds(const char *pid, unsigned long inode)
{
	char dir[300], want[48];
	DIR *d;
	struct dirent *e;
	bool hit = false;

	snprintf(dir, sizeof(dir), "/proc/%s/fd", pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir(dir);
	while (d && !hit && (e = readdir(d)) != NULL) {
		char path[600], link[64];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			hit = strcmp(link, want) == 0;
		}
	}
	if (d)
		closedir(d);
	return hit;
}

int net_ident_find(int net_tcp, int net_udp, int net_tcp6, int net_udp6, unsigned long ns_ino,
		   int proto, uint16_t sport, struct net_ident *id)
{
	unsigned long inode = 0;
	DIR *d;
	struct dirent *e;
	int rc = OSH_ENOTFOUND;

	memset(id, 0, sizeof(*id));
	id->uid = -1;
	if (sport && (proto == 6 || proto == 17)) {
		inode = inode_from(proto == 6 ? net_tcp : net_udp, sport);
		if (!inode)
			inode = inode_from(proto == 6 ? net_tcp6 : net_udp6, sport);
	}
	id->inode = inode;
	d = inode ? opendir("/proc") : NULL;
	while (d && rc != 0 && (e = readdir(d)) != NULL) {
		char path[320];
		struct stat st;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", e->d_name);
		if (stat(path, &st) != 0 || st.st_ino != ns_ino || !holds(e->d_name, inode))
			continue;
		id->pid = (pid_t)strtol(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
		{
			ssize_t n = readlink(path, id->exe, sizeof(id->exe) - 1);

			id->exe[n > 0 ? n : 0] = '\0';
		}
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		read_small(path, id->name, sizeof(id->name), false);
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		read_small(path, id->cmd_line, sizeof(id->cmd_line), true);
		snprintf(path, sizeof(path), "/proc/%s", e->d_name);
		if (stat(path, &st) == 0)
			id->uid = (long)st.st_uid;
		rc = 0;
	}
	if (d)
		closedir(d);
	return rc;
}
