/* proxy_main.c - osh-proxy: the supervisor's egress proxy as a standalone
 * program, for the integration tests, the benchmark and trying policies.
 *
 *   osh-proxy --policy FILE [--listen IP:PORT] [--log-dir DIR] [--jsonl]
 *             [--root PID] [--max-conns N] [--head-timeout-ms N]
 *             [--workers N] [--l7-upstream-ca FILE] [--l7-ca-out DIR]
 *             [--exec CMD [ARGS...]]
 *
 * Prints "listening <ip> <port>" on stdout once it accepts connections.
 * With --exec (last option), CMD runs as a child with HTTP_PROXY,
 * HTTPS_PROXY, http_proxy and https_proxy pointing at the proxy and roots
 * the peer-identity search (like the sandbox command under the
 * supervisor); osh-proxy exits with CMD's status when it ends, after
 * printing "proxy_cpu_us <n>" (its own CPU time, all threads).
 * Endpoints with REST rules are inspected (docs/l7.md): TLS is terminated
 * with an ephemeral CA made at start; --l7-ca-out writes its bundle
 * (DIR/ca-bundle.pem, DIR/openshell-ca.pem) for clients, --l7-upstream-ca
 * names the CAs trusted for origins (default: the system store).
 * SIGHUP re-reads the policy file as the next generation (a file that does
 * not parse or compile is refused and the current policy stays); SIGTERM
 * or SIGINT stop it (exit 0). Exit 2 on bad arguments, 1 when it cannot
 * start.
 *
 * DESIGN: a thin main over osh_proxy (the same library the supervisor
 * plugs in as a subsystem): parse arguments, start the emit runtime, load
 * the policy, then wait for signals with sigwaitinfo on the main thread
 * (signals blocked before any thread starts, so no handler races).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "l7_sites.h"
#include "osh_emit.h"
#include "osh_l7_tls.h"
#include "osh_proxy.h"
#include "proxy_sites.h"
#include "osh_policy.h"

struct opts {
	const char *policy;
	char ip[64];
	unsigned port;
	const char *log_dir;
	bool jsonl;
	long root;
	char **exec; /* NULL-terminated argv after --exec, or NULL */
	const char *l7_ca, *l7_ca_out;
	struct osh_proxy_config cfg;
};

static int usage(const char *why)
{
	fprintf(stderr,
		"osh-proxy: %s\nusage: osh-proxy --policy FILE [--listen IP:PORT] [--log-dir DIR] "
		"[--jsonl] [--root PID] [--max-conns N] [--head-timeout-ms N] [--workers N] "
		"[--l7-upstream-ca FILE] [--l7-ca-out DIR] [--exec CMD [ARGS...]]\n",
		why);
	return 2;
}

static bool num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_listen(const char *s, struct opts *o)
{
	const char *colon = strrchr(s, ':');
	unsigned long port;
	size_t n;

	if (!colon || !num(colon + 1, 65535, &port))
		return -1;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(o->ip))
		return -1;
	memcpy(o->ip, s, n);
	o->ip[n] = '\0';
	o->port = (unsigned)port;
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	osh_proxy_config_default(&o->cfg);
	snprintf(o->ip, sizeof(o->ip), "127.0.0.1");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long n;

		if (strcmp(a, "--jsonl") == 0) {
			o->jsonl = true;
			continue;
		}
		if (strcmp(a, "--exec") == 0) {
			if (!v)
				return usage("--exec needs a command");
			o->exec = argv + i + 1;
			break;
		}
		if (!v)
			return usage("an option is missing its value");
		i++;
		if (strcmp(a, "--policy") == 0)
			o->policy = v;
		else if (strcmp(a, "--l7-upstream-ca") == 0 && v)
			o->l7_ca = v;
		else if (strcmp(a, "--l7-ca-out") == 0 && v)
			o->l7_ca_out = v;
		else if (strcmp(a, "--log-dir") == 0)
			o->log_dir = v;
		else if (strcmp(a, "--listen") == 0) {
			if (parse_listen(v, o) != 0)
				return usage("--listen wants IP:PORT");
		} else if (strcmp(a, "--root") == 0 && num(v, 4194304, &n))
			o->root = (long)n;
		else if (strcmp(a, "--max-conns") == 0 && num(v, 100000, &n) && n > 0)
			o->cfg.max_conns = (unsigned)n;
		else if (strcmp(a, "--head-timeout-ms") == 0 && num(v, 3600000, &n) && n > 0)
			o->cfg.head_timeout_ms = (unsigned)n;
		else if (strcmp(a, "--workers") == 0 && num(v, 64, &n) && n > 0)
			o->cfg.workers = (unsigned)n;
		else
			return usage("unknown option or bad value");
	}
	if (!o->policy)
		return usage("--policy is required");
	o->cfg.bind_ip = o->ip;
	o->cfg.port = (uint16_t)o->port;
	return 0;
}

/* Loads the policy file as `gen`; a refusal keeps the current policy. */
static int load(struct osh_proxy *px, const char *path, uint64_t gen)
{
	osh_policy_pb *p = NULL;
	char err[512];
	int rc;

	rc = osh_policy_load_file(path, &p, err, sizeof(err));
	if (rc == 0)
		rc = osh_proxy_set_policy(px, p, gen, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "osh-proxy: policy %s refused: %s\n", path, err);
	osh_policy_free(p);
	return rc;
}

/* Starts the --exec command with the proxy variables set and signals
 * unblocked; returns its pid or -1. */
static pid_t spawn(char **cmd, const char *ip, uint16_t port)
{
	static const char *const names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
					    "https_proxy"};
	char url[96];
	sigset_t none;
	pid_t pid;

	snprintf(url, sizeof(url), "http://%s:%u", ip, port);
	pid = fork();
	if (pid != 0)
		return pid;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		setenv(names[i], url, 1);
	unsetenv("NO_PROXY");
	unsetenv("no_proxy");
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(cmd[0], cmd);
	fprintf(stderr, "osh-proxy: --exec %s: %s\n", cmd[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv)
{
	struct osh_emit_config ecfg;
	struct osh_proxy *px = NULL;
	struct osh_l7_tls *tls = NULL;
	struct opts o = {0};
	char err[512];
	uint64_t gen = 1;
	sigset_t set;
	pid_t child = -1;
	int rc, sig, status = 0, exit_code = 0;

	rc = parse(argc, argv, &o);
	if (rc != 0)
		return rc;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	osh_emit_config_default(&ecfg);
	ecfg.log_dir = o.log_dir ? o.log_dir : ".";
	ecfg.jsonl = o.jsonl;
	if (osh_emit_init(&ecfg) != 0) {
		fprintf(stderr, "osh-proxy: cannot start logging\n");
		return 1;
	}
	{
		struct osh_l7_tls_config tc = {.upstream_ca_file = o.l7_ca};
		char bundle[512];

		rc = osh_l7_tls_create(&tc, &tls, err, sizeof(err));
		if (rc == 0 && o.l7_ca_out)
			rc = osh_l7_tls_write_bundle(tls, o.l7_ca_out, bundle, sizeof(bundle), err,
						     sizeof(err));
		if (rc == 0)
			osh_l7_ev_ca(true, o.l7_ca_out ? bundle : "-", osh_l7_tls_ca_sha256(tls));
		else
			osh_l7_ev_ca(false, err, NULL);
		o.cfg.l7_tls = tls;
	}
	if (rc == 0)
		rc = osh_proxy_create(&o.cfg, &px, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "osh-proxy: %s\n", err);
		goto out;
	}
	if (o.root > 0)
		osh_proxy_set_root(px, (pid_t)o.root);
	rc = load(px, o.policy, gen);
	if (rc == 0)
		rc = osh_proxy_start(px);
	if (rc != 0)
		goto out;
	printf("listening %s %u\n", osh_proxy_ip(px), osh_proxy_port(px));
	fflush(stdout);
	if (o.exec) {
		child = spawn(o.exec, osh_proxy_ip(px), osh_proxy_port(px));
		if (child < 0) {
			rc = OSH_ESYS;
			goto out;
		}
		osh_proxy_set_root(px, child);
	}
	while ((sig = sigwaitinfo(&set, NULL)) != SIGTERM && sig != SIGINT) {
		if (sig == SIGHUP && load(px, o.policy, gen + 1) == 0)
			gen++;
		if (sig == SIGCHLD && child > 0 && waitpid(child, &status, WNOHANG) == child) {
			struct osh_proxy_stats st;
			struct rusage ru;

			exit_code =
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			/* the proxy's own CPU (all its threads, not the child's), for
			 * tools/bench/proxy-bench.sh */
			osh_proxy_stats_get(px, &st);
			printf("owner_cache_hits %llu\nowner_cache_misses %llu\n",
			       (unsigned long long)st.owner_hits,
			       (unsigned long long)st.owner_misses);
			{
				unsigned long minted = 0, hits = 0;

				osh_l7_tls_cache_stats(tls, &minted, &hits);
				printf("l7_handed %llu\nl7_leaves_minted %lu\nl7_leaf_hits %lu\n"
				       "l7_upstream_resumed %lu\n",
				       (unsigned long long)st.l7_handed, minted, hits,
				       osh_l7_tls_resumed(tls));
			}
			if (getrusage(RUSAGE_SELF, &ru) == 0)
				printf("proxy_cpu_us %lld\n",
				       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
					       1000000 +
					   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
			break;
		}
	}
out:
	if (px && rc == 0) {
		struct osh_proxy_stats st;

		osh_proxy_stop(px);
		osh_proxy_stats_get(px, &st);
		osh_proxy_ev_stop(osh_proxy_ip(px), osh_proxy_port(px), st.accepted);
	}
	osh_proxy_destroy(px);
	osh_l7_tls_destroy(tls);
	osh_emit_shutdown();
	return rc == 0 ? exit_code : 1;
}
