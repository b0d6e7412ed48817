/* test_net.c - supervisor/net against the real kernel: namespaces, veths,
 * nftables, /dev/kmsg (needs root, like CI).
 *
 * DESIGN
 * The pure parts (kmsg records, /proc/net/tcp lines, ranges, ruleset text,
 * environment) are checked on fixed inputs. The rest runs for real: a
 * namespace and veth pair are created in the shared run dir (slots are
 * flock()ed, so parallel supervisors and tests never collide), a forked
 * child joins the namespace exactly as the supervisor's child does, and
 * connects to listeners this test opened on the host end of its own veth:
 * the proxy port must work, any other port must be refused and reported
 * exactly once (one Network Activity + one Detection Finding, both in the
 * JSONL file, schema-valid with tools/ocsf-validate). Leftovers of a
 * SIGKILLed "supervisor" (a forked process that set up a namespace and left
 * an orphan in it) must be removed by the next start. Every wait polls a
 * condition with a deadline. Traffic goes only to addresses of the veths
 * the test created.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net_internal.h"
#include "osh_emit.h"
#include "osh_sites.h"
#include "osh_testdir.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ pure parts */

#define PFX "osh-bypass:7:0badcafe: "

Test(net_kmsg, tcp_syn_record)
{
	const char rec[] =
	    "4,1234,5678901,-;" PFX "IN= OUT=eth0 SRC=10.200.0.2 DST=10.200.0.1 LEN=60 TOS=0x00 "
	    "PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40112 DPT=9 WINDOW=64240 "
	    "RES=0x00 SYN URGP=0 UID=1000 GID=1000 \n SUBSYSTEM=x\n";
	struct net_kmsg_rec r;

	cr_assert_eq(net_kmsg_parse(rec, sizeof(rec) - 1, PFX, &r), 1);
	cr_assert_eq(r.seq, 1234);
	cr_assert_eq(r.usec, 5678901);
	cr_assert_str_eq(r.src, "10.200.0.2");
	cr_assert_str_eq(r.dst, "10.200.0.1");
	cr_assert_str_eq(r.proto, "tcp");
	cr_assert_eq(r.proto_num, 6);
	cr_assert_eq(r.sport, 40112);
	cr_assert_eq(r.dport, 9);
	cr_assert(r.has_dport);
	cr_assert(r.syn);
	cr_assert_eq(r.uid, 1000);
	cr_assert_str_eq(r.out_if, "eth0");
	cr_assert(!r.v6);
}

Test(net_kmsg, udp_v6_and_foreign_records)
{
	const char v6[] = "6,9,10,-;" PFX "IN= OUT=eth0 SRC=fd00::2 DST=fd00::1 LEN=40 "
			  "PROTO=UDP SPT=5353 DPT=53 LEN=20";
	const char other[] = "6,9,10,-;osh-bypass:7:deadbeef: IN= OUT=eth0 SRC=10.0.0.1 "
			     "DST=10.0.0.2 PROTO=TCP SPT=1 DPT=2";
	const char plain[] = "6,10,11,-;eth0: link becomes ready";
	struct net_kmsg_rec r;

	cr_assert_eq(net_kmsg_parse(v6, sizeof(v6) - 1, PFX, &r), 1);
	cr_assert(r.v6);
	cr_assert_eq(r.proto_num, 17);
	cr_assert_eq(r.dport, 53);
	cr_assert_eq(r.uid, -1);
	cr_assert_eq(net_kmsg_parse(other, sizeof(other) - 1, PFX, &r), 0);
	cr_assert_eq(net_kmsg_parse(plain, sizeof(plain) - 1, PFX, &r), 0);
}

Test(net_kmsg, malformed_is_refused_not_guessed)
{
	static const char *const bad[] = {
	    "no semicolon at all",
	    "x,1,2,-;" PFX "SRC=10.0.0.1 DST=10.0.0.2",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DST=10.0.0.2 DPT=65536",
	    "6,1,2,-;" PFX "SRC=10.0.0.999 DST=10.0.0.2 DPT=1",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DPT=1",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DST=::1 DPT=1",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DST=10.0.0.2 SPT=-1",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DST=10.0.0.2 PROTO=ABCDEFGHIJ",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DST=10.0.0.2 UID=99999999999",
	    "6,1,2,-;" PFX "SRC=10.0.0.1 DST=10.0.0.2 OUT=aaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct net_kmsg_rec r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(net_kmsg_parse(bad[i], strlen(bad[i]), PFX, &r), OSH_EPARSE, "%s",
			     bad[i]);
	/* the length bounds the parse: the prefix cut short is not ours */
	cr_assert_eq(net_kmsg_parse(bad[1] + 0, 12, PFX, &r) <= 0, 1);
}

Test(net_ident, proc_net_tcp_lines)
{
	const char text[] =
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	    "timeout inode\n"
	    "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0   "
	    "     0 11111 1 0000000000000000 100 0 0 10 0\n"
	    "   1: 0200C80A:9CB0 0100C80A:0009 02 00000001:00000000 01:00000064 00000000     0   "
	    "     0 22222 1 0000000000000000 100 0 0 10 -1\n";

	cr_assert_eq(net_ident_inode_in(text, sizeof(text) - 1, 3306), 11111);
	cr_assert_eq(net_ident_inode_in(text, sizeof(text) - 1, 40112), 22222);
	cr_assert_eq(net_ident_inode_in(text, sizeof(text) - 1, 9), 0, "remote port is no match");
	cr_assert_eq(net_ident_inode_in(text, 40, 3306), 0, "header only");
}

Test(net_slot, range_parse)
{
	struct net_range r;

	cr_assert_eq(net_range_parse("10.200.0.0/16", &r), 0);
	cr_assert_eq(r.nslots, 16384);
	cr_assert_eq(r.base, 0x0ac80000u);
	cr_assert_eq(net_range_parse("192.168.7.0/29", &r), 0);
	cr_assert_eq(r.nslots, 2);
	cr_assert_eq(net_range_parse("10.200.0.1/16", &r), OSH_EINVAL, "host bits");
	cr_assert_eq(net_range_parse("10.200.0.0/30", &r), OSH_EINVAL, "one slot is /30");
	cr_assert_eq(net_range_parse("10.200.0.0/7", &r), OSH_EINVAL);
	cr_assert_eq(net_range_parse("10.200.0.0", &r), OSH_EINVAL);
	cr_assert_eq(net_range_parse("10.200.0.0/", &r), OSH_EINVAL);
	cr_assert_eq(net_range_parse("10.200.0.0/16x", &r), OSH_EINVAL);
	cr_assert_eq(net_range_parse("fd00::/64", &r), OSH_EINVAL);
	cr_assert_eq(net_range_parse(NULL, &r), OSH_EINVAL);
}

Test(net_rules, text)
{
	char buf[2048];

	cr_assert_gt(net_rules_text(buf, sizeof(buf), 0x0ac80001u, 3128, PFX), 0);
	cr_assert_not_null(strstr(buf, "ip daddr 10.200.0.1 tcp dport 3128 accept"));
	cr_assert_not_null(strstr(buf, "oifname \"lo\" accept"));
	cr_assert_not_null(strstr(buf, "ct state established,related accept"));
	cr_assert_not_null(strstr(buf, "log prefix \"" PFX "\""));
	cr_assert_gt(net_rules_text(buf, sizeof(buf), 0x0ac80001u, 0, PFX), 0);
	cr_assert_null(strstr(buf, "dport 0"), "no proxy: no accept rule");
	cr_assert_eq(net_rules_text(buf, 64, 0x0ac80001u, 3128, PFX), OSH_ETOOBIG);
}

Test(net_cfg, environment)
{
	char e1[] = "OPENSHELL_NETNS=require", e2[] = "OPENSHELL_NET_RANGE=10.77.0.0/24";
	char e3[] = "OPENSHELL_NETNS=yes", e4[] = "OPENSHELL_NET_RANGE=10.77.0.1/24";
	char e5[] = "OPENSHELL_NET_RUN_DIR=run";
	char *ok[] = {e1, e2, NULL};
	char *bad_mode[] = {e3, NULL};
	char *bad_range[] = {e4, NULL};
	char *bad_dir[] = {e5, NULL};
	struct osh_net_cfg c;
	char err[256];

	cr_assert_eq(osh_net_cfg_env(&c, ok, err, sizeof(err)), 0);
	cr_assert_eq(c.mode, OSH_NET_MODE_REQUIRE);
	cr_assert_str_eq(c.range, "10.77.0.0/24");
	cr_assert(c.monitor);
	cr_assert_eq(osh_net_cfg_env(&c, bad_mode, err, sizeof(err)), OSH_EINVAL);
	cr_assert_not_null(strstr(err, "OPENSHELL_NETNS"), "%s", err);
	cr_assert_eq(osh_net_cfg_env(&c, bad_range, err, sizeof(err)), OSH_EINVAL);
	cr_assert_not_null(strstr(err, "OPENSHELL_NET_RANGE"), "%s", err);
	cr_assert_eq(osh_net_cfg_env(&c, bad_dir, err, sizeof(err)), OSH_EINVAL);
	cr_assert_not_null(strstr(err, "OPENSHELL_NET_RUN_DIR"), "%s", err);
}

/* ------------------------------------------------------------ real kernel */

static char *g_dir;

static void ensure_nf_log(void)
{
	int fd = open("/proc/sys/net/netfilter/nf_log_all_netns", O_WRONLY);

	/* Documented in docs/network.md: LOG in a namespace needs it; CI sets it. */
	cr_assert_geq(fd, 0, "nf_log_all_netns: %s (tests run as root)", strerror(errno));
	cr_assert_eq(write(fd, "1", 1), 1);
	close(fd);
}

static bool g_archived;

/* The emit runtime on a fresh directory. archived: an osh_testdir (logs go
 * to the site census); else a plain one, for the site test whose builders
 * fire every site artificially (the census must count only real paths). */
static void emit_up_in(bool archived)
{
	struct osh_emit_config cfg;

	g_archived = archived;
	/* Criterion runs each test in its own process: dropping the census
	 * directory here keeps only this test's logs out of the census. */
	if (!archived)
		unsetenv("OSH_TEST_LOG_DIR");
	g_dir = osh_testdir_new(archived ? "net" : "netsites");
	osh_emit_config_default(&cfg);
	cfg.log_dir = g_dir;
	cfg.jsonl = true;
	cfg.stderr_enabled = false;
	cr_assert_eq(osh_ctx_set_sandbox("sb-net", "net-test"), 0);
	cr_assert_eq(osh_ctx_set_product("openshell-sandbox", "OpenShell", "0.1.0"), 0);
	cr_assert_eq(osh_emit_init(&cfg), 0);
}

static void emit_up(void)
{
	emit_up_in(true);
}

/* JSONL lines of the run whose metadata.event_code is `code`. */
static int count_code(const char *code, cJSON **first)
{
	char path[512], line[65536];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/openshell-ocsf.log", g_dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "event_code");

		cr_assert_not_null(j, "not JSON: %s", line);
		if (cJSON_IsString(c) && strcmp(c->valuestring, code) == 0) {
			if (n++ == 0 && first)
				*first = j;
			else
				cJSON_Delete(j);
		} else {
			cJSON_Delete(j);
		}
	}
	fclose(f);
	return n;
}

/* Every JSONL line schema-valid (tools/ocsf-validate), logs to the census
 * unless emit_up_in(false) dropped it, directory removed. */
static void validate_jsonl(void)
{
	char *d = g_dir;

	g_dir = NULL;
	osh_testdir_finish(d);
}

static int listen_on(const char *ip, uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(s, 0);
	cr_assert_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", ip,
		     strerror(errno));
	cr_assert_eq(listen(s, 8), 0);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return s;
}

/* In the forked child: connect to ip:port, return 0 or errno. */
static int try_connect(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int rc = 0;

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
		rc = errno;
	close(s);
	return rc;
}

static struct osh_net *make(enum osh_net_mode mode)
{
	struct osh_net_cfg cfg = {.mode = mode, .sandbox_id = "sb-net", .monitor = true};
	struct osh_net *n = NULL;

	cr_assert_eq(osh_net_create(&cfg, &n), 0);
	cr_assert_not_null(n);
	return n;
}

Test(net_real, setup_env_proxy_bypass_teardown, .timeout = 60)
{
	struct osh_net *n;
	struct osh_net_stats st;
	char env[8][160], host_if[IF_NAMESIZE];
	uint16_t proxy_port, other_port;
	int lp, lo, pfd[2];
	int res[3] = {-1, -1, -1};
	pid_t pid;
	int status;
	cJSON *na = NULL, *df = NULL, *x;
	int64_t t0;

	ensure_nf_log();
	emit_up();
	n = make(OSH_NET_MODE_AUTO);
	cr_assert(osh_net_active(n));
	cr_assert_not_null(osh_net_host_ip(n));
	snprintf(host_if, sizeof(host_if), "%s", osh_net_host_if(n));
	cr_assert_neq(if_nametoindex(host_if), 0, "host end %s exists", host_if);
	cr_assert(!osh_net_enforced(), "nothing claimed before the rules");

	lp = listen_on(osh_net_host_ip(n), &proxy_port); /* the proxy's stand-in */
	lo = listen_on(osh_net_host_ip(n), &other_port); /* a port the rules refuse */
	cr_assert_eq(osh_net_install(n, proxy_port), 0);
	cr_assert(osh_net_enforced());

	cr_assert_eq(osh_net_proxy_env(n, proxy_port, env, 8), 6);
	{
		char want[160];

		snprintf(want, sizeof(want), "HTTPS_PROXY=http://%s:%u", osh_net_host_ip(n),
			 (unsigned)proxy_port);
		cr_assert_str_eq(env[1], want);
		cr_assert_str_eq(env[4], "NO_PROXY=localhost,127.0.0.1,::1");
	}

	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *step = "";
		int r[3];

		r[0] = osh_net_child_setup(n, &step);
		r[1] = try_connect(osh_net_host_ip(n), proxy_port);
		r[2] = try_connect(osh_net_host_ip(n), other_port);
		if (write(pfd[1], r, sizeof(r)) != sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	osh_net_on_child(n, pid);
	t0 = now_ms();
	cr_assert_eq(read(pfd[0], res, sizeof(res)), (ssize_t)sizeof(res));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	close(pfd[0]);
	cr_assert_eq(res[0], 0, "setns: %s", strerror(res[0]));
	cr_assert_eq(res[1], 0, "the proxy port is reachable: %s", strerror(res[1]));
	cr_assert_eq(res[2], ECONNREFUSED, "a direct connection is refused: %s", strerror(res[2]));

	/* the monitor reports the attempt once */
	do {
		osh_net_stats_get(n, &st);
	} while (st.reported < 1 && now_ms() - t0 < 10000);
	cr_assert_eq(st.reported, 1);
	cr_assert_eq(st.resolved, 1, "the connecting process was identified");

	osh_net_stop(n);
	cr_assert(!osh_net_enforced());
	cr_assert_eq(if_nametoindex(host_if), 0, "host end %s removed", host_if);
	osh_net_stop(n); /* idempotent */
	osh_net_destroy(n);
	close(lp);
	close(lo);
	cr_assert_eq(osh_emit_flush(5000), 0);
	osh_emit_shutdown();

	cr_assert_eq(count_code("BYPASS_DETECT", &na), 1);
	cr_assert_eq(count_code("BYPASS_DETECT_FINDING", &df), 1);
	cr_assert_eq(count_code("NETNS_READY", NULL), 1);
	cr_assert_eq(count_code("NET_RULES_INSTALLED", NULL), 1);
	cr_assert_eq(count_code("BYPASS_MONITOR_START", NULL), 1);
	cr_assert_eq(count_code("NETNS_TEARDOWN", NULL), 1);
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(na, "dst_endpoint"), "port");
	cr_assert_eq(x->valueint, other_port);
	x = cJSON_GetObjectItem(na, "observation_point_id");
	cr_assert_eq(x->valueint, 1, "observed at the source");
	x = cJSON_GetObjectItem(na, "activity_id");
	cr_assert_eq(x->valueint, 5, "Refuse");
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(na, "actor"), "process"),
				"pid");
	cr_assert_not_null(x, "actor.process resolved");
	cr_assert_eq(x->valueint, pid);
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(df, "finding_info"), "attacks");
	x = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(x, 0), "sub_technique"),
				"uid");
	cr_assert(cJSON_IsString(x), "finding_info.attacks[0].sub_technique.uid");
	cr_assert_str_eq(x->valuestring, "T1090.003");
	cr_assert_not_null(cJSON_GetObjectItem(df, "remediation"));
	cJSON_Delete(na);
	cJSON_Delete(df);
	validate_jsonl();
}

Test(net_real, mode_off_claims_nothing)
{
	struct osh_net *n;
	const char *step = "";

	emit_up();
	n = make(OSH_NET_MODE_OFF);
	cr_assert(!osh_net_active(n));
	cr_assert_null(osh_net_host_ip(n));
	cr_assert_eq(osh_net_install(n, 3128), 0);
	cr_assert(!osh_net_enforced());
	cr_assert_eq(osh_net_child_setup(n, &step), 0);
	osh_net_destroy(n);
	cr_assert_eq(osh_emit_flush(5000), 0);
	osh_emit_shutdown();
	cr_assert_eq(count_code("NETNS_UNAVAILABLE", NULL), 1);
	cr_assert_eq(count_code("NETNS_READY", NULL), 0);
	validate_jsonl();
}

static pid_t g_orphan;

static void kill_orphan(void)
{
	if (g_orphan > 0)
		kill(g_orphan, SIGKILL);
}

/* A "supervisor" process sets up a namespace, leaves an orphan in it (a
 * command that escaped the process group) and is SIGKILLed: its host veth
 * and lock file stay; the next start removes them. */
Test(net_real, sigkilled_supervisor_leftovers_cleaned, .timeout = 60, .fini = kill_orphan)
{
	int pfd[2];
	char host_if[IF_NAMESIZE] = "", lock[300], what[512];
	pid_t sup, orphan = 0;
	int status, fd;
	int64_t t0;

	cr_assert_eq(pipe(pfd), 0);
	sup = fork();
	cr_assert_geq(sup, 0);
	if (sup == 0) {
		struct osh_net_cfg cfg = {.mode = OSH_NET_MODE_REQUIRE, .monitor = false};
		struct osh_net *n = NULL;
		pid_t o;

		close(pfd[0]);
		if (osh_net_create(&cfg, &n) != 0)
			_exit(3);
		o = fork();
		if (o == 0) {
			const char *step;

			/* the orphan: joins the namespace and outlives its parent */
			setsid();
			if (osh_net_child_setup(n, &step) != 0)
				_exit(4);
			execl("/bin/sleep", "sleep", "60", (char *)NULL);
			_exit(5);
		}
		if (write(pfd[1], &o, sizeof(o)) != sizeof(o) ||
		    write(pfd[1], osh_net_host_if(n), IF_NAMESIZE) != IF_NAMESIZE)
			_exit(5);
		pause(); /* killed here, still holding the slot */
		_exit(0);
	}
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], &orphan, sizeof(orphan)), (ssize_t)sizeof(orphan));
	g_orphan = orphan;
	cr_assert_eq(read(pfd[0], host_if, IF_NAMESIZE), IF_NAMESIZE);
	close(pfd[0]);
	cr_assert_neq(if_nametoindex(host_if), 0);
	/* the orphan must be in the namespace before the parent dies */
	t0 = now_ms();
	for (;;) {
		char a[64], b[64];
		struct stat sa, sb;

		snprintf(a, sizeof(a), "/proc/%d/ns/net", (int)orphan);
		snprintf(b, sizeof(b), "/proc/%d/ns/net", (int)getpid());
		if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino != sb.st_ino)
			break;
		cr_assert_lt(now_ms() - t0, 10000, "orphan never joined the namespace");
	}
	/* ... and must have exec'd: until then it still shares its parent's
	 * descriptors, the slot lock's included (close-on-exec). */
	for (;;) {
		char a[64], exe[256] = "";
		ssize_t k;

		snprintf(a, sizeof(a), "/proc/%d/exe", (int)orphan);
		k = readlink(a, exe, sizeof(exe) - 1);
		if (k > 0) {
			exe[k] = '\0';
			if (strstr(exe, "sleep"))
				break;
		}
		cr_assert_lt(now_ms() - t0, 10000, "orphan never exec'd");
	}
	cr_assert_eq(kill(sup, SIGKILL), 0);
	cr_assert_eq(waitpid(sup, &status, 0), sup);
	cr_assert(WIFSIGNALED(status));

	/* leftovers: the host end (held by the orphan's namespace) and the lock */
	cr_assert_neq(if_nametoindex(host_if), 0, "%s outlived its supervisor", host_if);
	snprintf(lock, sizeof(lock), "%s/slot-%s.lock", OSH_NET_RUN_DIR,
		 host_if + strlen(NET_IF_PREFIX));
	cr_assert_eq(access(lock, F_OK), 0, "%s left behind", lock);
	fd = open(lock, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0, "nobody holds a dead supervisor's lock");
	close(fd);

	cr_assert_geq(osh_net_clean_stale(NULL, what, sizeof(what)), 0);
	cr_assert_eq(if_nametoindex(host_if), 0, "%s removed (%s)", host_if, what);
	cr_assert_neq(access(lock, F_OK), 0, "%s removed", lock);
	cr_assert_eq(kill(orphan, SIGKILL), 0);
}

/* Every supervisor/net row of the registry fires as a valid event with its
 * registered class, activity and default severity (the site builders
 * directly, with representative arguments). */
Test(net_sites, every_registered_site_fires)
{
	struct net_info i = {.host_ip = "10.200.0.1",
			     .sandbox_ip = "10.200.0.2",
			     .host_if = "osh-0",
			     .prefix = PFX,
			     .range = "10.200.0.0/16",
			     .slot = 0,
			     .setup_us = 1500};
	struct osh_net_stats st = {.reported = 1};
	struct net_kmsg_rec r = {.src = "10.200.0.2",
				 .dst = "10.200.0.1",
				 .proto = "udp",
				 .proto_num = 17,
				 .sport = 5353,
				 .dport = 53,
				 .has_dport = true,
				 .uid = 0};
	struct net_ident id = {.pid = 42, .exe = "/usr/bin/dig", .name = "dig", .uid = 0};
	int n = 0;

	emit_up_in(false);
	net_ev_ready(&i);
	net_ev_unavailable("unshare: Operation not permitted", false);
	net_ev_failed("veth pair", "create veth pair: File exists");
	net_ev_stale_cleaned(2, "osh-3 slot-3.lock");
	net_ev_rules_installed(&i, 3128, 9000);
	net_ev_rules_failed(&i, "nftables: Could not process rule");
	net_ev_monitor_start(PFX);
	net_ev_monitor_unavailable("net.netfilter.nf_log_all_netns is 0");
	net_ev_teardown(&i, &st, 2000, "");
	net_ev_bypass(&r, &id, 1);
	cr_assert_eq(osh_emit_flush(5000), 0);
	osh_emit_shutdown();
	for (int k = 0; k < OSH_SITE_COUNT; k++) {
		cJSON *j = NULL;

		if (strcmp(osh_sites[k].subsystem, "supervisor/net") != 0)
			continue;
		n++;
		cr_assert_eq(count_code(osh_sites[k].code, &j), 1, "%s fires once",
			     osh_sites[k].code);
		cr_assert_eq(cJSON_GetObjectItem(j, "class_uid")->valueint, osh_sites[k].class_uid,
			     "%s class", osh_sites[k].code);
		cr_assert_eq(cJSON_GetObjectItem(j, "severity_id")->valueint,
			     osh_sites[k].severity_id, "%s severity", osh_sites[k].code);
		if (osh_sites[k].activity_id >= 0)
			cr_assert_eq(cJSON_GetObjectItem(j, "activity_id")->valueint,
				     osh_sites[k].activity_id, "%s activity", osh_sites[k].code);
		cJSON_Delete(j);
	}
	cr_assert_eq(n, 11, "the registry's supervisor/net rows");
	validate_jsonl();
}
