/* proxy_main.c - osh-proxy: the supervisor's egress proxy as a standalone
 * program, for the integration tests, the benchmark and trying policies.
 *
 *   osh-proxy --policy FILE [--listen IP:PORT] [--log-dir DIR] [--jsonl]
 *             [--root PID] [--max-conns N] [--head-timeout-ms N]
 *             [--workers N]
 *
 * Prints "listening <ip> <port>" on stdout once it accepts connections.
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
#include <unistd.h>

#include "osh_emit.h"
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
	struct osh_proxy_config cfg;
};

static int usage(const char *why)
{
	fprintf(stderr,
		"osh-proxy: %s\nusage: osh-proxy --policy FILE [--listen IP:PORT] [--log-dir DIR] "
		"[--jsonl] [--root PID] [--max-conns N] [--head-timeout-ms N] [--workers N]\n",
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
		if (!v)
			return usage("an option is missing its value");
		i++;
		if (strcmp(a, "--policy") == 0)
			o->policy = v;
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

int main(int argc, char **argv)
{
	struct osh_emit_config ecfg;
	struct osh_proxy *px = NULL;
	struct opts o = {0};
	char err[512];
	uint64_t gen = 1;
	sigset_t set;
	int rc, sig;

	rc = parse(argc, argv, &o);
	if (rc != 0)
		return rc;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	osh_emit_config_default(&ecfg);
	ecfg.log_dir = o.log_dir ? o.log_dir : ".";
	ecfg.jsonl = o.jsonl;
	if (osh_emit_init(&ecfg) != 0) {
		fprintf(stderr, "osh-proxy: cannot start logging\n");
		return 1;
	}
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
	while ((sig = sigwaitinfo(&set, NULL)) != SIGTERM && sig != SIGINT) {
		if (sig == SIGHUP && load(px, o.policy, gen + 1) == 0)
			gen++;
	}
out:
	if (px && rc == 0) {
		struct osh_proxy_stats st;

		osh_proxy_stop(px);
		osh_proxy_stats_get(px, &st);
		osh_proxy_ev_stop(osh_proxy_ip(px), osh_proxy_port(px), st.accepted);
	}
	osh_proxy_destroy(px);
	osh_emit_shutdown();
	return rc == 0 ? 0 : 1;
}
