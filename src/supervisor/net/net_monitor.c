/* net_monitor.c - the bypass monitor: the namespace's LOG lines -> events.
 *
 * DESIGN
 * One thread reads /dev/kmsg (opened O_NONBLOCK and moved to its end, so
 * history is skipped) and sleeps in poll() on it and on a stop pipe. Each
 * read() returns one record; EPIPE means the ring overwrote records we had
 * not read yet (counted, reading goes on). /dev/kmsg is global, so a record
 * is ours only when its text starts with this sandbox's prefix, which holds
 * a random nonce (a namespace of an earlier sandbox in the same slot, kept
 * alive by an orphan, logs with its own prefix). An attempt is the 5-tuple
 * (proto, src, sport, dst, dport): repeats within 5 s (a UDP retry from the
 * same socket, a SYN retransmit that slipped past the pending set) are
 * folded into the first. Each attempt: resolve the socket's process
 * (net_ident.c), then one Network Activity + one Detection Finding.
 * Requirements (checked at start, reported as unavailable otherwise): read
 * access to /dev/kmsg (root or CAP_SYSLOG) and net.netfilter.nf_log_all_netns
 * = 1, without which the kernel drops LOG output of every namespace but the
 * initial one.
 */
#include "net_internal.h"
#include "osh_denials.h"
#include "osh_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEDUPE_SLOTS 128
#define DEDUPE_MS    5000
#define REC_MAX	     8192

struct seen {
	char key[128];
	int64_t ms;
};

struct net_monitor {
	char prefix[NET_PREFIX_MAX];
	unsigned long ns_ino;
	int kfd;
	int stop_pipe[2];
	int tcp, udp, tcp6, udp6; /* the namespace's /proc/net files */
	pthread_t th;
	struct seen seen[DEDUPE_SLOTS];
	unsigned seen_next;
	_Atomic uint64_t records, matched, reported, duplicates, resolved, overruns, malformed;
};

/* True when this attempt was seen within DEDUPE_MS (and records it). */
static bool duplicate(struct net_monitor *m, const struct net_kmsg_rec *r)
{
	char key[128];
	int64_t now = osh_time_mono_ms();
	bool dup = false;

	snprintf(key, sizeof(key), "%s %s %u %s %u", r->proto, r->src, (unsigned)r->sport, r->dst,
		 (unsigned)r->dport);
	for (unsigned i = 0; i < DEDUPE_SLOTS && !dup; i++)
		dup = m->seen[i].ms && now - m->seen[i].ms < DEDUPE_MS &&
		      strcmp(m->seen[i].key, key) == 0;
	if (!dup) {
		struct seen *s = &m->seen[m->seen_next++ % DEDUPE_SLOTS];

		snprintf(s->key, sizeof(s->key), "%s", key);
		s->ms = now;
	}
	return dup;
}

static void handle(struct net_monitor *m, const char *buf, size_t n)
{
	struct net_kmsg_rec r;
	struct net_ident id;
	int rc;

	atomic_fetch_add(&m->records, 1);
	rc = net_kmsg_parse(buf, n, m->prefix, &r);
	if (rc < 0 && memmem(buf, n, m->prefix, strlen(m->prefix)))
		atomic_fetch_add(&m->malformed, 1);
	if (rc != 1)
		return;
	atomic_fetch_add(&m->matched, 1);
	if (duplicate(m, &r)) {
		atomic_fetch_add(&m->duplicates, 1);
		return;
	}
	if (net_ident_find(m->tcp, m->udp, m->tcp6, m->udp6, m->ns_ino, r.proto_num, r.sport,
			   &id) == 0)
		atomic_fetch_add(&m->resolved, 1);
	net_ev_bypass(&r, &id, atomic_fetch_add(&m->reported, 1) + 1);
	{
		struct osh_denial d = {.host = r.dst,
				       .port = r.dport,
				       .binary = id.pid > 0 && id.exe[0] ? id.exe : NULL,
				       .reason = "direct connection bypassing the proxy",
				       .stage = OSH_DENIAL_BYPASS};

		osh_denials_record(&d);
	}
}

/* Read every record available now. */
static void drain(struct net_monitor *m, char *buf)
{
	for (bool more = true; more;) {
		ssize_t n = read(m->kfd, buf, REC_MAX - 1);

		if (n > 0) {
			buf[n] = '\0';
			handle(m, buf, (size_t)n);
		} else if (n < 0 && errno == EPIPE) {
			atomic_fetch_add(&m->overruns, 1);
		} else if (!(n < 0 && errno == EINTR)) {
			more = false; /* EAGAIN: all read */
		}
	}
}

static void *monitor_main(void *p)
{
	struct net_monitor *m = p;
	char *buf = malloc(REC_MAX);
	bool run = buf != NULL;

	while (run) {
		struct pollfd pf[2] = {{.fd = m->kfd, .events = POLLIN},
				       {.fd = m->stop_pipe[0], .events = POLLIN}};
		int pr = poll(pf, 2, -1);

		if (pr < 0)
			run = errno == EINTR;
		else if (pf[1].revents || (pf[0].revents & POLLNVAL))
			run = false;
		else if (pf[0].revents)
			drain(m, buf);
	}
	if (buf)
		drain(m, buf); /* what the command logged just before it ended */
	free(buf);
	return NULL;
}

struct open_args {
	struct net_monitor *m;
};

static int open_proc_net(void *arg)
{
	struct net_monitor *m = ((struct open_args *)arg)->m;

	m->tcp = open("/proc/thread-self/net/tcp", O_RDONLY | O_CLOEXEC);
	m->udp = open("/proc/thread-self/net/udp", O_RDONLY | O_CLOEXEC);
	m->tcp6 = open("/proc/thread-self/net/tcp6", O_RDONLY | O_CLOEXEC);
	m->udp6 = open("/proc/thread-self/net/udp6", O_RDONLY | O_CLOEXEC);
	return 0;
}

static void close_fds(struct net_monitor *m)
{
	int *fds[] = {&m->kfd, &m->stop_pipe[0], &m->stop_pipe[1], &m->tcp,
		      &m->udp, &m->tcp6,	 &m->udp6};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int net_monitor_start(const struct net_monitor_cfg *cfg, struct net_monitor **out, char *msg,
		      size_t mlen)
{
	struct net_monitor *m = calloc(1, sizeof(*m));
	struct open_args oa = {.m = m};
	char v[8] = "";
	int rc = 0, e, fd;

	*out = NULL;
	if (!m) {
		snprintf(msg, mlen, "out of memory");
		rc = OSH_ENOMEM;
		goto out;
	}
	m->kfd = m->stop_pipe[0] = m->stop_pipe[1] = -1;
	m->tcp = m->udp = m->tcp6 = m->udp6 = -1;
	snprintf(m->prefix, sizeof(m->prefix), "%s", cfg->prefix);
	m->ns_ino = cfg->ns_ino;
	fd = open("/proc/sys/net/netfilter/nf_log_all_netns", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, v, sizeof(v) - 1);

		v[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	if (v[0] != '1') {
		snprintf(msg, mlen,
			 "net.netfilter.nf_log_all_netns is %s: the kernel drops LOG lines of "
			 "every namespace but the host's (sysctl -w "
			 "net.netfilter.nf_log_all_netns=1)",
			 v[0] ? (v[0] == '0' ? "0" : v) : "absent");
		rc = OSH_EUNAVAIL;
	}
	if (rc == 0) {
		m->kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (m->kfd < 0 || lseek(m->kfd, 0, SEEK_END) < 0) {
			snprintf(msg, mlen, "cannot read /dev/kmsg: %s (needs root or CAP_SYSLOG)",
				 strerror(errno));
			rc = OSH_EUNAVAIL;
		}
	}
	if (rc == 0 && net_ns_run(cfg->nsfd, open_proc_net, &oa, &e) != 0) {
		snprintf(msg, mlen, "cannot enter the namespace: %s", strerror(e));
		rc = OSH_ESYS;
	}
	if (rc == 0 && pipe2(m->stop_pipe, O_CLOEXEC) != 0) {
		snprintf(msg, mlen, "pipe: %s", strerror(errno));
		rc = OSH_ESYS;
	}
	if (rc == 0 && (e = pthread_create(&m->th, NULL, monitor_main, m)) != 0) {
		snprintf(msg, mlen, "cannot start the monitor thread: %s", strerror(e));
		rc = OSH_ESYS;
	}
	if (rc != 0) {
		close_fds(m);
		free(m);
	} else {
		*out = m;
	}
out:
	return rc;
}

void net_monitor_stop(struct net_monitor *m, struct osh_net_stats *final)
{
	if (m) {
		while (write(m->stop_pipe[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_join(m->th, NULL);
		if (final)
			net_monitor_stats(m, final);
		close_fds(m);
		free(m);
	}
}

void net_monitor_stats(const struct net_monitor *m, struct osh_net_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (m) {
		out->records = atomic_load(&m->records);
		out->matched = atomic_load(&m->matched);
		out->reported = atomic_load(&m->reported);
		out->duplicates = atomic_load(&m->duplicates);
		out->resolved = atomic_load(&m->resolved);
		out->overruns = atomic_load(&m->overruns);
		out->malformed = atomic_load(&m->malformed);
	}
}
