/* test_proxy_live.c - the real proxy (src/supervisor/proxy/proxy.c) on
 * loopback: this test process is the client (so its own executable is the
 * binary the policy names), a forked echo server on 127.0.0.1 / ::1 is the
 * origin. Nothing is sent anywhere but loopback: denied hosts are refused
 * before any name is resolved. Events go to a JSONL file in a temp dir and
 * are checked there. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "osh_emit.h"
#include "osh_l7_tls.h"
#include "osh_proxy.h"
#include "osh_testdir.h"
#include "osh_policy.h"

static char *logdir; /* osh_testdir: validated, archived, removed */
static char self_exe[512];
static pid_t origin_pid = -1, origin6_pid = -1;
static uint16_t origin_port, origin6_port, closed_port;
static struct osh_proxy *px;
static unsigned l7_cap;		  /* osh_proxy_config.l7_max for the next start() */
static struct osh_l7_tls *l7_tls; /* the sandbox CA of the L7 tests */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Forks an echo server on ip (each connection echoed until EOF). */
static pid_t echo_server(int family, const char *ip, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, lfd = socket(family, SOCK_STREAM, 0);
	pid_t pid;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(
	    bind(lfd, (struct sockaddr *)&ss,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)),
	    0);
	cr_assert_eq(listen(lfd, 16), 0);
	getsockname(lfd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (;;) {
			int c = accept(lfd, NULL, NULL);
			char buf[4096];
			ssize_t n;

			if (c < 0)
				continue;
			while ((n = read(c, buf, sizeof(buf))) > 0)
				if (write(c, buf, (size_t)n) != n)
					break;
			close(c);
		}
	}
	close(lfd);
	return pid;
}

static void apply(const char *yaml, uint64_t gen)
{
	osh_policy_pb *p = NULL;
	char err[512];

	cr_assert_eq(osh_policy_parse_yaml(yaml, strlen(yaml), "test", &p, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_proxy_set_policy(px, p, gen, err, sizeof(err)), 0, "%s", err);
	osh_policy_free(p);
}

/* The policy of most tests: this binary may reach localhost and ::1 on the
 * origin ports (and the closed port), loopback admitted by allowed_ips. */
static void allow_self(uint64_t gen)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml),
		 "network_policies:\n"
		 "  origin:\n"
		 "    endpoints:\n"
		 "      - host: localhost\n"
		 "        ports: [%u, %u]\n"
		 "        allowed_ips: [127.0.0.1, \"::1\"]\n"
		 "      - host: \"::1\"\n"
		 "        port: %u\n"
		 "        allowed_ips: [\"::1\"]\n"
		 "    binaries:\n"
		 "      - path: %s\n",
		 origin_port, closed_port, origin6_port, self_exe);
	apply(yaml, gen);
}

static void start(unsigned head_timeout_ms, unsigned max_conns)
{
	struct osh_emit_config ec;
	struct osh_proxy_config cfg;
	char err[256];
	ssize_t n;
	int s;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	signal(SIGPIPE, SIG_IGN);
	logdir = osh_testdir_new("proxy-live");
	osh_emit_config_default(&ec);
	ec.log_dir = logdir;
	ec.jsonl = true;
	ec.stderr_enabled = false;
	cr_assert_eq(osh_emit_init(&ec), 0);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	cr_assert_gt(n, 0);
	self_exe[n] = '\0';
	origin_pid = echo_server(AF_INET, "127.0.0.1", &origin_port);
	origin6_pid = echo_server(AF_INET6, "::1", &origin6_port);
	/* a port with nothing listening: bind, read it, close */
	s = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	closed_port = ntohs(sa.sin_port);
	close(s);

	osh_proxy_config_default(&cfg);
	cfg.head_timeout_ms = head_timeout_ms;
	cfg.max_conns = max_conns;
	cfg.workers = 2;
	cfg.l7_max = l7_cap;
	cfg.l7_tls = l7_tls;
	cr_assert_eq(osh_proxy_create(&cfg, &px, err, sizeof(err)), 0, "%s", err);
	osh_proxy_set_root(px, getpid());
	cr_assert_eq(osh_proxy_start(px), 0);
}

static void setup(void)
{
	start(10000, 64);
}

static void teardown(void)
{
	osh_proxy_destroy(px);
	px = NULL;
	osh_l7_tls_destroy(l7_tls); /* after the proxy: it borrows the context */
	l7_tls = NULL;
	osh_emit_shutdown();
	osh_testdir_finish(logdir); /* every JSONL line schema-valid */
	logdir = NULL;
	if (origin_pid > 0)
		kill(origin_pid, SIGKILL);
	if (origin6_pid > 0)
		kill(origin6_pid, SIGKILL);
	waitpid(origin_pid, NULL, 0);
	waitpid(origin6_pid, NULL, 0);
}

static int dial(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(osh_proxy_port(px))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	cr_assert_eq(write(fd, s, n), (ssize_t)n);
}

/* Reads until EOF or the deadline; returns the byte count (NUL-terminated). */
static size_t read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	size_t len = 0;

	while (len + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/* Reads until `want` appears (or timeout); returns true when it did. */
static bool read_until(int fd, char *buf, size_t cap, const char *want, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, want) && len + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* One request on a new connection: the whole answer (until EOF). */
static void exchange(const char *req, char *resp, size_t cap)
{
	int fd = dial();

	send_all(fd, req, strlen(req));
	shutdown(fd, SHUT_WR);
	read_all(fd, resp, cap, 5000);
	close(fd);
}

/* Waits for the JSONL file to contain every fragment (emit is async). */
static bool jsonl_has(const char *a, const char *b)
{
	char path[128], *buf = malloc(1 << 20);
	bool found = false;

	snprintf(path, sizeof(path), "%s/openshell-ocsf.log", logdir);
	for (int i = 0; i < 50 && !found; i++) {
		FILE *f;
		size_t n;

		(void)osh_emit_flush(1000);
		f = fopen(path, "r");
		if (f) {
			n = fread(buf, 1, (1 << 20) - 1, f);
			buf[n] = '\0';
			fclose(f);
			for (char *line = strtok(buf, "\n"); line && !found;
			     line = strtok(NULL, "\n"))
				found = strstr(line, a) && (!b || strstr(line, b));
		}
		if (!found)
			usleep(20000);
	}
	free(buf);
	return found;
}

TestSuite(proxy_live, .init = setup, .fini = teardown, .timeout = 30);
/* tests that start the proxy with their own limits */
TestSuite(proxy_live_cfg, .fini = teardown, .timeout = 30);

Test(proxy_live, connect_tunnel_keeps_bytes_after_head)
{
	char req[256], resp[4096];

	allow_self(1);
	snprintf(req, sizeof(req),
		 "CONNECT localhost:%u HTTP/1.1\r\nHost: localhost:%u\r\n\r\nPING", origin_port,
		 origin_port);
	exchange(req, resp, sizeof(resp));
	cr_assert_str_eq(resp, "HTTP/1.1 200 Connection Established\r\n\r\nPING");
	cr_assert(jsonl_has("\"event_code\":\"CONNECT_ALLOW\"", "\"name\":\"origin\""));
}

Test(proxy_live, connect_ipv6_target)
{
	char req[256], resp[4096];

	allow_self(1);
	snprintf(req, sizeof(req), "CONNECT [::1]:%u HTTP/1.1\r\nHost: [::1]:%u\r\n\r\nv6 bytes",
		 origin6_port, origin6_port);
	exchange(req, resp, sizeof(resp));
	cr_assert_str_eq(resp, "HTTP/1.1 200 Connection Established\r\n\r\nv6 bytes");
}

Test(proxy_live, tunnel_relays_both_ways_in_chunks)
{
	char req[256], resp[4096], big[64 * 1024];
	size_t got = 0;
	int fd;

	allow_self(1);
	fd = dial();
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: x\r\n\r\n", origin_port);
	send_all(fd, req, strlen(req));
	cr_assert(read_until(fd, resp, sizeof(resp), "\r\n\r\n", 5000));
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	/* more than both 16 KiB buffers: exercises back-pressure */
	for (size_t off = 0; off < sizeof(big);) {
		struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
		char in[8192];

		cr_assert_gt(poll(&p, 1, 5000), 0);
		if (p.revents & POLLOUT) {
			ssize_t n = write(fd, big + off,
					  sizeof(big) - off > 4096 ? 4096 : sizeof(big) - off);

			cr_assert_gt(n, 0);
			off += (size_t)n;
		}
		if (p.revents & POLLIN) {
			ssize_t n = read(fd, in, sizeof(in));

			cr_assert_gt(n, 0);
			cr_assert_eq(memcmp(in, big + got, (size_t)n), 0);
			got += (size_t)n;
		}
	}
	shutdown(fd, SHUT_WR);
	while (got < sizeof(big)) {
		char in[8192];
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		cr_assert_gt(poll(&p, 1, 5000), 0);
		n = read(fd, in, sizeof(in));
		cr_assert_gt(n, 0);
		cr_assert_eq(memcmp(in, big + got, (size_t)n), 0);
		got += (size_t)n;
	}
	cr_assert_eq(got, sizeof(big));
	close(fd);
}

Test(proxy_live, forward_rewrites_the_head)
{
	char req[512], resp[4096];

	allow_self(1);
	snprintf(req, sizeof(req),
		 "GET http://localhost:%u/x?y=1 HTTP/1.1\r\nHost: localhost:%u\r\n"
		 "Proxy-Connection: keep-alive\r\nConnection: keep-alive, X-Drop\r\n"
		 "X-Drop: 1\r\nKeep-Alive: 5\r\nProxy-Authorization: Basic Zm9v\r\n"
		 "X-Keep: yes\r\n\r\n",
		 origin_port, origin_port);
	exchange(req, resp, sizeof(resp));
	/* the echo origin returns exactly what the proxy sent it */
	snprintf(req, sizeof(req),
		 "GET /x?y=1 HTTP/1.1\r\nHost: localhost:%u\r\nX-Keep: yes\r\n"
		 "Via: 1.1 openshell-sandbox\r\nConnection: close\r\n\r\n",
		 origin_port);
	cr_assert_str_eq(resp, req);
	cr_assert(jsonl_has("\"event_code\":\"FORWARD_ALLOW\"", "\"activity_id\":3"));
}

Test(proxy_live, forward_post_keeps_body_and_method_activity)
{
	char req[512], resp[4096];

	allow_self(1);
	snprintf(req, sizeof(req),
		 "POST http://localhost:%u/api HTTP/1.1\r\nHost: localhost:%u\r\n"
		 "Content-Length: 5\r\nVia: 1.0 other\r\n\r\nhello",
		 origin_port, origin_port);
	exchange(req, resp, sizeof(resp));
	snprintf(req, sizeof(req),
		 "POST /api HTTP/1.1\r\nHost: localhost:%u\r\nContent-Length: 5\r\n"
		 "Via: 1.0 other, 1.1 openshell-sandbox\r\nConnection: close\r\n\r\nhello",
		 origin_port);
	cr_assert_str_eq(resp, req);
	cr_assert(jsonl_has("\"event_code\":\"FORWARD_ALLOW\"", "\"activity_id\":6"));
}

Test(proxy_live, upstream_failure_is_502)
{
	char req[256], resp[4096];

	allow_self(1);
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: x\r\n\r\n", closed_port);
	exchange(req, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 502 Bad Gateway\r\n", 26) == 0, "%s", resp);
	cr_assert(strstr(resp, "X-OpenShell-Reason: upstream localhost:"), "%s", resp);
	cr_assert(strstr(resp, "Connection refused"), "%s", resp);
	cr_assert(jsonl_has("\"event_code\":\"PROXY_UPSTREAM_FAIL\"", "Connection refused"));
}

Test(proxy_live, denied_host_and_binary)
{
	char req[256], resp[4096], want[1024];

	apply("network_policies:\n  curl_only:\n    endpoints: [{host: localhost, port: 1}]\n"
	      "    binaries: [{path: /usr/bin/curl}]\n",
	      1);
	exchange("CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n", resp,
		 sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "%s", resp);
	cr_assert(strstr(resp, "X-OpenShell-Reason: endpoint other.test:443 not in policy "
			       "'curl_only'\r\n"),
		  "%s", resp);
	cr_assert(strstr(resp, "\r\n\r\nendpoint other.test:443 not in policy 'curl_only'\n"));

	snprintf(req, sizeof(req), "GET http://localhost:1/ HTTP/1.1\r\nHost: localhost:1\r\n\r\n");
	exchange(req, resp, sizeof(resp));
	snprintf(want, sizeof(want), "X-OpenShell-Reason: binary '%s' (ancestors: [", self_exe);
	cr_assert(strstr(resp, want), "%s", resp);
	cr_assert(strstr(resp, "not allowed in policy 'curl_only'"), "%s", resp);
	cr_assert(
	    jsonl_has("\"event_code\":\"FORWARD_DENY\"", "not allowed in policy 'curl_only'"));
	cr_assert(jsonl_has("\"event_code\":\"CONNECT_DENY\"", "other.test:443"));
}

Test(proxy_live, ssrf_to_loopback_without_allowed_ips)
{
	char yaml[1024], req[256], resp[4096];

	snprintf(yaml, sizeof(yaml),
		 "network_policies:\n  open:\n    endpoints:\n"
		 "      - {host: localhost, port: %u}\n      - {host: 127.0.0.1, port: %u}\n"
		 "    binaries: [{path: %s}]\n",
		 origin_port, origin_port, self_exe);
	apply(yaml, 1);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: x\r\n\r\n", origin_port);
	exchange(req, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 403", 12) == 0, "%s", resp);
	cr_assert(strstr(resp, "X-OpenShell-Reason: 127.0.0.1 resolves to internal address "
			       "127.0.0.1 (loopback), connection refused; admit it with "
			       "allowed_ips"),
		  "%s", resp);
	snprintf(req, sizeof(req), "GET http://localhost:%u/ HTTP/1.1\r\nHost: x\r\n\r\n",
		 origin_port);
	exchange(req, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 403", 12) == 0, "%s", resp);
	cr_assert(strstr(resp, "localhost resolves to internal address"), "%s", resp);
	cr_assert(jsonl_has("\"event_code\":\"SSRF_BLOCK\"", "\"address_class\":\"loopback\""));
	cr_assert(jsonl_has("\"event_code\":\"CONNECT_DENY\"", "127.0.0.1 resolves to internal"));
	cr_assert(jsonl_has("\"event_code\":\"FORWARD_DENY\"", "localhost resolves to internal"));
}

Test(proxy_live, bad_input_closes_only_that_connection)
{
	char req[256], resp[4096];
	int good = dial();

	allow_self(1);
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: x\r\n\r\n", origin_port);
	send_all(good, req, strlen(req));
	cr_assert(read_until(good, resp, sizeof(resp), "Established\r\n\r\n", 5000));

	exchange("GET http://a/ HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", resp,
		 sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", resp);
	cr_assert(
	    strstr(resp, "X-OpenShell-Reason: header line folding (obs-fold) is not allowed"));
	exchange("\x16\x03\x01\x00\x05hello", resp, sizeof(resp));
	cr_assert(strstr(resp, "400 Bad Request") && strstr(resp, "not an HTTP request"), "%s",
		  resp);
	exchange("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
		 "chunked\r\n\r\n",
		 resp, sizeof(resp));
	cr_assert(strstr(resp, "request smuggling"), "%s", resp);
	exchange("CONNECT [::1:443 HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp));
	cr_assert(strstr(resp, "400 Bad Request") &&
		      strstr(resp, "invalid CONNECT target: malformed IPv6 literal"),
		  "%s", resp);
	cr_assert(jsonl_has("\"event_code\":\"PROXY_BAD_REQUEST\"", "obs-fold"));

	/* the established tunnel is untouched */
	send_all(good, "still here", 10);
	cr_assert(read_until(good, resp, sizeof(resp), "still here", 5000));
	close(good);
}

Test(proxy_live, oversized_head_is_431)
{
	static char big[12000];
	char resp[4096];
	int n = snprintf(big, sizeof(big), "GET http://a/ HTTP/1.1\r\nHost: a\r\nX: ");

	memset(big + n, 'x', sizeof(big) - (size_t)n - 1);
	exchange(big, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0, "%s",
		  resp);
}

Test(proxy_live, live_policy_change_turns_deny_into_allow)
{
	char req[256], resp[4096];
	char err[256];
	osh_policy_pb *bad = NULL;
	static const char bad_yaml[] =
	    "network_policies:\n  p:\n    endpoints: [{host: \"*\", port: 1}]\n";

	apply("network_policies:\n  curl_only:\n    endpoints: [{host: localhost, port: 1}]\n"
	      "    binaries: [{path: /usr/bin/curl}]\n",
	      1);
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: x\r\n\r\nX",
		 origin_port);
	exchange(req, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 403", 12) == 0, "%s", resp);

	allow_self(2);
	cr_assert_eq(osh_proxy_generation(px), 2);
	exchange(req, resp, sizeof(resp));
	cr_assert_str_eq(resp, "HTTP/1.1 200 Connection Established\r\n\r\nX");

	/* a policy the engine cannot apply is refused; generation 2 stays */
	cr_assert_eq(
	    osh_policy_parse_yaml(bad_yaml, sizeof(bad_yaml) - 1, "bad", &bad, err, sizeof(err)),
	    0);
	cr_assert_eq(osh_proxy_set_policy(px, bad, 3, err, sizeof(err)), OSH_EINVAL);
	osh_policy_free(bad);
	cr_assert(strstr(err, "would match every host"), "%s", err);
	cr_assert_eq(osh_proxy_generation(px), 2);
	exchange(req, resp, sizeof(resp));
	cr_assert_str_eq(resp, "HTTP/1.1 200 Connection Established\r\n\r\nX");
	cr_assert(jsonl_has("\"event_code\":\"PROXY_POLICY_REJECTED\"", "\"kept_generation\":2"));
	cr_assert(jsonl_has("\"event_code\":\"PROXY_POLICY_APPLIED\"", "\"policy_generation\":2"));
}

Test(proxy_live_cfg, slow_head_times_out)
{
	char resp[4096];
	int64_t t0;
	int fd;

	start(300, 64);
	allow_self(1);
	fd = dial();
	send_all(fd, "CONNECT local", 13);
	t0 = now_ms();
	read_all(fd, resp, sizeof(resp), 5000);
	cr_assert(strncmp(resp, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0, "%s", resp);
	cr_assert_lt(now_ms() - t0, 3000);
	close(fd);
	cr_assert(jsonl_has("\"event_code\":\"PROXY_HEAD_TIMEOUT\"", "\"bytes_received\":13"));
}

Test(proxy_live_cfg, connection_limit_is_503)
{
	char resp[4096];
	struct osh_proxy_stats st;
	int a, b;

	start(10000, 2);
	allow_self(1);
	a = dial();
	b = dial();
	/* the proxy has accepted both once they count as open */
	for (int i = 0; i < 200; i++) {
		osh_proxy_stats_get(px, &st);
		if (st.open == 2)
			break;
		usleep(10000);
	}
	cr_assert_eq(st.open, 2);
	exchange("CONNECT localhost:1 HTTP/1.1\r\nHost: x\r\n\r\n", resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", resp);
	close(a);
	close(b);
	cr_assert(jsonl_has("\"event_code\":\"PROXY_CONN_LIMIT\"", "\"limit\":2"));
	osh_proxy_stats_get(px, &st);
	cr_assert_eq(st.limited, 1, "limited %llu accepted %llu open %llu",
		     (unsigned long long)st.limited, (unsigned long long)st.accepted,
		     (unsigned long long)st.open);
}

Test(proxy_live, listen_failure_is_reported)
{
	struct osh_proxy_config cfg;
	struct osh_proxy *other = NULL;
	char err[256];

	osh_proxy_config_default(&cfg);
	cfg.port = osh_proxy_port(px); /* taken by the running proxy */
	cr_assert_eq(osh_proxy_create(&cfg, &other, err, sizeof(err)), OSH_ESYS);
	cr_assert_null(other);
	cr_assert(strstr(err, "bind 127.0.0.1:") && strstr(err, "Address already in use"), "%s",
		  err);
	cfg.bind_ip = "not-an-ip";
	cr_assert_eq(osh_proxy_create(&cfg, &other, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "'not-an-ip' is not an IP literal"), "%s", err);
	cr_assert(jsonl_has("\"event_code\":\"PROXY_LISTEN_FAILED\"", "Address already in use"));
}

/* Regression: a worker's identity scratch space was not reset between
 * requests, so after a few dozen requests every client was "unknown".
 * Bounded loop: 300 sequential requests on 2 workers all succeed. */
Test(proxy_live, many_sequential_requests_all_decided)
{
	char req[256], resp[512];
	struct osh_proxy_stats st;

	allow_self(1);
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: x\r\n\r\nZ",
		 origin_port);
	for (int i = 0; i < 300; i++) {
		exchange(req, resp, sizeof(resp));
		cr_assert_str_eq(resp, "HTTP/1.1 200 Connection Established\r\n\r\nZ",
				 "request %d: %s", i, resp);
	}
	osh_proxy_stats_get(px, &st);
	cr_assert_eq(st.allowed, 300);
	cr_assert_eq(st.denied, 0);
}

/* An endpoint with L7 rules (docs/l7.md) on the echo origin: REST
 * (enforce, GET /ok only) or SQL (audit passthrough). */
static void allow_self_proto(uint64_t gen, bool sql)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "network_policies:\n"
		 "  origin:\n"
		 "    endpoints:\n"
		 "      - host: localhost\n"
		 "        port: %u\n"
		 "        allowed_ips: [127.0.0.1]\n"
		 "%s"
		 "    binaries:\n"
		 "      - path: %s\n",
		 origin_port,
		 sql ? "        protocol: sql\n        access: full\n"
		     : "        protocol: rest\n        enforcement: enforce\n"
		       "        rules: [{allow: {method: GET, path: /ok}}]\n",
		 self_exe);
	apply(yaml, gen);
}

static void allow_self_l7(uint64_t gen)
{
	allow_self_proto(gen, false);
}

static void new_l7_tls(void)
{
	struct osh_l7_tls_config tc = {0};
	char err[256];

	cr_assert_eq(osh_l7_tls_create(&tc, &l7_tls, err, sizeof(err)), 0, "%s", err);
}

Test(proxy_live_cfg, l7_forward_request_is_decided_by_the_rules)
{
	char req[256], resp[4096];
	struct osh_proxy_stats st;

	l7_cap = 0;
	start(10000, 64);
	allow_self_l7(1);
	snprintf(req, sizeof(req),
		 "POST http://localhost:%u/ok HTTP/1.1\r\nHost: localhost:%u\r\n"
		 "Content-Length: 0\r\n\r\n",
		 origin_port, origin_port);
	exchange(req, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "%s", resp);
	cr_assert(strstr(resp, "X-OpenShell-Policy: origin\r\n"), "%s", resp);
	cr_assert(strstr(resp, "\"rule\":\"POST /ok\""), "%s", resp);
	cr_assert(jsonl_has("\"event_code\":\"L7_REQUEST_DENY\"", "\"scheme\":\"http\""));
	osh_proxy_stats_get(px, &st);
	cr_assert_eq(st.l7_handed, 1);
}

Test(proxy_live_cfg, l7_connections_over_the_cap_get_503)
{
	char req[256], resp[4096];
	struct osh_proxy_stats st;
	int a;

	l7_cap = 1;
	start(10000, 64);
	allow_self_l7(1);
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: localhost:%u\r\n\r\n",
		 origin_port, origin_port);
	a = dial(); /* holds the only inspection slot: it never sends its first byte */
	send_all(a, req, strlen(req));
	cr_assert(read_until(a, resp, sizeof(resp), "\r\n\r\n", 5000), "%s", resp);
	cr_assert(strncmp(resp, "HTTP/1.1 200 Connection Established", 35) == 0, "%s", resp);
	osh_proxy_stats_get(px, &st);
	cr_assert_eq(st.l7_active, 1);
	exchange(req, resp, sizeof(resp));
	cr_assert(strncmp(resp, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", resp);
	cr_assert(strstr(resp, "L7 inspection connection limit reached"), "%s", resp);
	cr_assert(jsonl_has("\"event_code\":\"L7_LIMIT\"", "\"limit\":1"));
	close(a);
	l7_cap = 0;
}

Test(proxy_live_cfg, l7_malformed_client_tls_is_reported)
{
	char req[256], resp[4096];
	int a;

	new_l7_tls();
	start(10000, 64);
	allow_self_l7(1);
	snprintf(req, sizeof(req), "CONNECT localhost:%u HTTP/1.1\r\nHost: localhost:%u\r\n\r\n",
		 origin_port, origin_port);
	a = dial();
	send_all(a, req, strlen(req));
	cr_assert(read_until(a, resp, sizeof(resp), "\r\n\r\n", 5000), "%s", resp);
	/* a TLS record header followed by garbage: not a ClientHello */
	send_all(a, "\x16\x03\x01\x00\x05garbagegarbage", 20);
	read_all(a, resp, sizeof(resp), 5000); /* the proxy closes */
	close(a);
	cr_assert(jsonl_has("\"event_code\":\"L7_TLS_CLIENT_FAIL\"", "TLS handshake"));
}

Test(proxy_live_cfg, l7_sql_endpoint_is_audited_passthrough)
{
	char req[256], resp[4096];

	new_l7_tls();
	start(10000, 64);
	allow_self_proto(1, true);
	snprintf(req, sizeof(req),
		 "CONNECT localhost:%u HTTP/1.1\r\nHost: localhost:%u\r\n\r\nSELECT 1;",
		 origin_port, origin_port);
	exchange(req, resp, sizeof(resp));
	cr_assert_str_eq(resp, "HTTP/1.1 200 Connection Established\r\n\r\nSELECT 1;");
	cr_assert(jsonl_has("\"event_code\":\"L7_SQL_NOT_ENFORCED\"", "audit passthrough"));
}
