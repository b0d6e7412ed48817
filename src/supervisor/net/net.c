/* net.c - supervisor/net orchestration: create, install, child, stop.
 *
 * DESIGN
 * The order is fixed by what depends on what: leftovers are removed first
 * (they may hold the slot we would take), then a slot (address block and
 * interface name), the namespace (lo up, IPv6 off for the sandbox end), the
 * veth pair with its peer born inside the namespace, addresses and the
 * default route towards the host end. Any failure undoes what was done, in
 * reverse, and says which step failed. The rules come later
 * (osh_net_install), once the proxy has said which port it listens on. The
 * `enforced` flag is set only after the ruleset is in the kernel and
 * cleared before anything is torn down, so osh_net_enforced() never
 * overstates. A failure caused by missing privilege or kernel support is
 * "unavailable" (the command runs in the host namespace and the events say
 * network policy is not enforced) unless the operator asked for
 * OPENSHELL_NETNS=require, where it stops the start-up.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct osh_net {
	enum osh_net_mode mode;
	bool monitor_wanted;
	bool active;
	int nsfd;
	unsigned long ns_ino;
	struct net_slot slot;
	char range[40];
	char host_ip[INET_ADDRSTRLEN];
	char sandbox_ip[INET_ADDRSTRLEN];
	char prefix[NET_PREFIX_MAX];
	struct net_monitor *mon;
	pid_t child;
	int64_t setup_us;
	struct osh_net_stats stats; /* final, after stop */
};

static atomic_bool g_enforced;

bool osh_net_enforced(void)
{
	return atomic_load(&g_enforced);
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t l = strlen(name);
	const char *v = NULL;

	for (char *const *e = envp; e && *e && !v; e++)
		if (strncmp(*e, name, l) == 0 && (*e)[l] == '=')
			v = *e + l + 1;
	return v;
}

int osh_net_cfg_env(struct osh_net_cfg *cfg, char *const *envp, char *err, size_t errlen)
{
	const char *mode = env_get(envp, "OPENSHELL_NETNS");
	const char *range = env_get(envp, "OPENSHELL_NET_RANGE");
	const char *dir = env_get(envp, "OPENSHELL_NET_RUN_DIR");
	struct net_range r;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->monitor = true;
	cfg->mode = OSH_NET_MODE_AUTO;
	if (mode && strcmp(mode, "off") == 0) {
		cfg->mode = OSH_NET_MODE_OFF;
	} else if (mode && strcmp(mode, "require") == 0) {
		cfg->mode = OSH_NET_MODE_REQUIRE;
	} else if (mode && *mode && strcmp(mode, "auto") != 0) {
		snprintf(err, errlen, "OPENSHELL_NETNS: \"%.40s\" is not auto, off or require",
			 mode);
		rc = OSH_EINVAL;
	}
	if (rc == 0 && range && net_range_parse(range, &r) != 0) {
		snprintf(err, errlen,
			 "OPENSHELL_NET_RANGE: \"%.40s\" is not an IPv4 network a.b.c.d/p with "
			 "8 <= p <= 29 and no host bits",
			 range);
		rc = OSH_EINVAL;
	}
	if (rc == 0 && dir && dir[0] != '/') {
		snprintf(err, errlen, "OPENSHELL_NET_RUN_DIR: \"%.40s\" is not an absolute path",
			 dir);
		rc = OSH_EINVAL;
	}
	cfg->range = range;
	cfg->run_dir = dir;
	return rc;
}

static void ip_text(uint32_t a, char *out)
{
	struct in_addr in = {.s_addr = htonl(a)};

	inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
}

/* ---------------------------------------------------- namespace side */

struct ns_work {
	uint32_t addr, gw;
	const char *step;
	char msg[256];
	const char *rules;
	int rc;
};

static int ns_lo_up(void *arg)
{
	struct ns_work *w = arg;
	int fd;
	int rc;

	w->step = "loopback up";
	rc = net_link_up("lo", w->msg, sizeof(w->msg));
	/* The sandbox end gets no IPv6 (no route could take it anywhere) so it
	 * sends no router/neighbour solicitations the rules would report. */
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			(void)0; /* IPv6 may be compiled out: nothing to disable */
		close(fd);
	}
	return rc ? OSH_ESYS : 0;
}

static int ns_sandbox_end(void *arg)
{
	struct ns_work *w = arg;
	int rc;

	w->step = "sandbox address";
	rc = net_link_addr4(NET_SANDBOX_IF, w->addr, 30, w->msg, sizeof(w->msg));
	if (rc == 0) {
		w->step = "sandbox link up";
		rc = net_link_up(NET_SANDBOX_IF, w->msg, sizeof(w->msg));
	}
	if (rc == 0) {
		w->step = "default route";
		rc = net_link_route4_default(NET_SANDBOX_IF, w->gw, w->msg, sizeof(w->msg));
	}
	return rc ? OSH_ESYS : 0;
}

static int ns_rules(void *arg)
{
	struct ns_work *w = arg;

	w->step = "nftables rules";
	return net_rules_apply(w->rules, w->msg, sizeof(w->msg));
}

/* ------------------------------------------------------------ create */

/* errno values that mean "not allowed here" or "not supported by this
 * kernel" (as opposed to a failure of a step that should have worked). */
static bool is_unavailable(int e)
{
	return e == EPERM || e == EACCES || e == ENOSYS || e == EOPNOTSUPP || e == EINVAL ||
	       e == EAFNOSUPPORT || e == EPROTONOSUPPORT;
}

static void undo(struct osh_net *n)
{
	if (n->slot.host_if[0])
		(void)net_link_delete(n->slot.host_if);
	if (n->nsfd >= 0)
		close(n->nsfd);
	n->nsfd = -1;
	net_slot_release(&n->slot);
	memset(&n->slot, 0, sizeof(n->slot));
	n->slot.lock_fd = -1;
}

/* The set-up steps in order; stops at the first failure with *step naming
 * it, msg the reason and *err_no the errno when a system call failed. The
 * caller undoes what was done (undo()). */
static int setup(struct osh_net *n, const struct osh_net_cfg *cfg, const char **step, char *msg,
		 size_t mlen, int *err_no)
{
	const char *range = cfg->range ? cfg->range : OSH_NET_RANGE;
	struct net_range r;
	struct ns_work w = {0};
	uint32_t nonce = 0;
	struct stat st;
	int rc;

	*step = "address range";
	rc = net_range_parse(range, &r);
	if (rc)
		snprintf(msg, mlen, "bad range %s", range);
	snprintf(n->range, sizeof(n->range), "%s", range);
	if (rc == 0) {
		*step = "slot";
		rc = net_slot_take(cfg->run_dir ? cfg->run_dir : OSH_NET_RUN_DIR, &r,
				   cfg->sandbox_id, &n->slot, msg, mlen);
		*err_no = rc ? errno : 0;
	}
	if (rc == 0) {
		*step = "network namespace";
		rc = net_ns_create(&n->nsfd, ns_lo_up, &w, err_no);
		if (rc && w.msg[0])
			*step = w.step;
		if (rc)
			snprintf(msg, mlen, "%s", w.msg[0] ? w.msg : strerror(*err_no));
	}
	if (rc == 0) {
		n->ns_ino = fstat(n->nsfd, &st) == 0 ? (unsigned long)st.st_ino : 0;
		*step = "veth pair";
		rc = net_link_veth_create(n->slot.host_if, NET_SANDBOX_IF, n->nsfd, msg, mlen);
		if (rc == 0) {
			*step = "host address";
			rc = net_link_addr4(n->slot.host_if, n->slot.net + 1, 30, msg, mlen);
		}
		if (rc == 0) {
			*step = "host link up";
			rc = net_link_up(n->slot.host_if, msg, mlen);
		}
		if (rc) {
			*err_no = -rc;
			rc = OSH_ESYS;
		}
	}
	if (rc == 0) {
		w.addr = n->slot.net + 2;
		w.gw = n->slot.net + 1;
		rc = net_ns_run(n->nsfd, ns_sandbox_end, &w, err_no);
		if (rc) {
			*step = w.step ? w.step : "enter namespace";
			snprintf(msg, mlen, "%s", w.msg[0] ? w.msg : strerror(*err_no));
		}
	}
	if (rc == 0) {
		ip_text(n->slot.net + 1, n->host_ip);
		ip_text(n->slot.net + 2, n->sandbox_ip);
		if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != sizeof(nonce))
			nonce = (uint32_t)mono_us() ^ (uint32_t)getpid();
		snprintf(n->prefix, sizeof(n->prefix), "osh-bypass:%u:%08x: ", n->slot.index,
			 nonce);
	}
	return rc;
}

static struct net_info info_of(const struct osh_net *n)
{
	struct net_info i = {.host_ip = n->host_ip,
			     .sandbox_ip = n->sandbox_ip,
			     .host_if = n->slot.host_if,
			     .prefix = n->prefix,
			     .range = n->range,
			     .slot = n->slot.index,
			     .setup_us = n->setup_us};
	return i;
}

int osh_net_create(const struct osh_net_cfg *cfg, struct osh_net **out)
{
	struct osh_net *n = calloc(1, sizeof(*n));
	char msg[320] = "", what[512], why[400];
	const char *step = "";
	int64_t t0 = mono_us();
	int rc = 0, err_no = 0, stale;
	struct net_info info;

	*out = n;
	if (!n) {
		rc = OSH_ENOMEM;
	} else {
		n->nsfd = -1;
		n->slot.lock_fd = -1;
		n->mode = cfg->mode;
		n->monitor_wanted = cfg->monitor;
	}
	if (n && cfg->mode == OSH_NET_MODE_OFF)
		net_ev_unavailable("switched off (OPENSHELL_NETNS=off)", true);
	if (n && cfg->mode != OSH_NET_MODE_OFF) {
		stale = osh_net_clean_stale(cfg->run_dir, what, sizeof(what));
		if (stale > 0)
			net_ev_stale_cleaned(stale, what);
		rc = setup(n, cfg, &step, msg, sizeof(msg), &err_no);
	}
	if (n && rc) {
		undo(n);
		if (cfg->mode != OSH_NET_MODE_REQUIRE && rc != OSH_EFULL &&
		    is_unavailable(err_no)) {
			snprintf(why, sizeof(why),
				 "%s: %s (needs root: CAP_SYS_ADMIN, CAP_NET_ADMIN)", step, msg);
			net_ev_unavailable(why, false);
		} else {
			net_ev_failed(step, msg);
		}
		if (cfg->mode != OSH_NET_MODE_REQUIRE)
			rc = 0; /* runs on in the host namespace; nothing claimed */
	} else if (n && cfg->mode != OSH_NET_MODE_OFF) {
		n->active = true;
		n->setup_us = mono_us() - t0;
		info = info_of(n);
		net_ev_ready(&info);
	}
	return rc;
}

bool osh_net_active(const struct osh_net *n)
{
	return n && n->active;
}

const char *osh_net_host_ip(const struct osh_net *n)
{
	return osh_net_active(n) ? n->host_ip : NULL;
}

const char *osh_net_sandbox_ip(const struct osh_net *n)
{
	return osh_net_active(n) ? n->sandbox_ip : NULL;
}

const char *osh_net_host_if(const struct osh_net *n)
{
	return osh_net_active(n) ? n->slot.host_if : NULL;
}

const char *osh_net_log_prefix(const struct osh_net *n)
{
	return osh_net_active(n) ? n->prefix : "";
}

int osh_net_install(struct osh_net *n, uint16_t proxy_port)
{
	char text[2048], msg[320] = "";
	struct ns_work w = {0};
	int64_t t0 = mono_us();
	struct net_info info;
	int rc = 0, e = 0;

	if (osh_net_active(n)) {
		info = info_of(n);
		rc = net_rules_text(text, sizeof(text), n->slot.net + 1, proxy_port, n->prefix);
		if (rc >= 0) {
			w.rules = text;
			rc = net_ns_run(n->nsfd, ns_rules, &w, &e);
			if (rc)
				snprintf(msg, sizeof(msg), "%s", w.msg[0] ? w.msg : strerror(e));
		} else {
			snprintf(msg, sizeof(msg), "ruleset text too long");
		}
		if (rc) {
			net_ev_rules_failed(&info, msg);
		} else {
			atomic_store(&g_enforced, true);
			net_ev_rules_installed(&info, proxy_port, mono_us() - t0);
		}
	}
	if (osh_net_active(n) && rc == 0 && n->monitor_wanted) {
		struct net_monitor_cfg mc = {.prefix = n->prefix,
					     .nsfd = n->nsfd,
					     .ns_ino = n->ns_ino,
					     .sandbox_ip = n->sandbox_ip,
					     .host_ip = n->host_ip,
					     .proxy_port = proxy_port};

		if (net_monitor_start(&mc, &n->mon, msg, sizeof(msg)) == 0)
			net_ev_monitor_start(n->prefix);
		else
			net_ev_monitor_unavailable(msg);
	}
	return rc;
}

int osh_net_proxy_env(const struct osh_net *n, uint16_t proxy_port, char vars[][160], int max)
{
	static const char *const names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
					    "https_proxy"};
	int k = 0;

	if (!osh_net_active(n) || proxy_port == 0)
		max = 0; /* nothing to point the command at */
	for (size_t i = 0; i < 4 && k < max; i++)
		snprintf(vars[k++], 160, "%s=http://%s:%u", names[i], n->host_ip,
			 (unsigned)proxy_port);
	if (k < max)
		snprintf(vars[k++], 160, "NO_PROXY=localhost,127.0.0.1,::1");
	if (k < max)
		snprintf(vars[k++], 160, "no_proxy=localhost,127.0.0.1,::1");
	return k;
}

int osh_net_child_setup(const struct osh_net *n, const char **step)
{
	int rc = 0;

	if (n && n->active && setns(n->nsfd, CLONE_NEWNET) != 0) {
		rc = errno;
		*step = "join the network namespace (setns)";
	}
	return rc;
}

void osh_net_on_child(struct osh_net *n, pid_t pid)
{
	if (n)
		n->child = pid;
}

void osh_net_stop(struct osh_net *n)
{
	char problems[160] = "";
	int64_t t0 = mono_us();
	struct net_info info;
	int rc;

	if (osh_net_active(n)) {
		atomic_store(&g_enforced, false);
		net_monitor_stop(n->mon, &n->stats);
		n->mon = NULL;
		rc = net_link_delete(n->slot.host_if);
		/* ENODEV: the namespace died with its last process and took the pair */
		if (rc && rc != -ENODEV)
			snprintf(problems, sizeof(problems), "delete %s: %s", n->slot.host_if,
				 strerror(-rc));
		close(n->nsfd);
		n->nsfd = -1;
		info = info_of(n);
		net_slot_release(&n->slot);
		n->active = false;
		net_ev_teardown(&info, &n->stats, mono_us() - t0, problems);
	}
}

void osh_net_destroy(struct osh_net *n)
{
	if (n) {
		osh_net_stop(n);
		free(n);
	}
}

void osh_net_stats_get(const struct osh_net *n, struct osh_net_stats *out)
{
	if (n && n->mon)
		net_monitor_stats(n->mon, out);
	else if (n)
		*out = n->stats;
	else
		memset(out, 0, sizeof(*out));
}
