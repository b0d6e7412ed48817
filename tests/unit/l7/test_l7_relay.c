/* test_l7_relay.c - the REST relay between a scripted client and a scripted
 * origin: keep-alive with mixed decisions (allow, audit, deny with the 403
 * JSON and policy header), chunked bodies relayed byte for byte, request
 * smuggling and truncated bodies refused, an unsolicited 101, a hostile
 * origin (huge head, body past the bound), forward mode.
 *
 * DESIGN
 * The relay runs on a thread over two socketpairs; this thread plays both
 * the client and the origin, one step at a time (a socketpair buffers far
 * more than these messages, so nothing blocks). Events go to a test
 * directory (osh_testdir: every JSONL line schema-valid, archived for the
 * site census) and are asserted there.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "osh_emit.h"
#include "osh_l7_relay.h"
#include "osh_testdir.h"

static char *logdir;
static int cp[2], up[2]; /* [0] relay side, [1] test side */
static struct osh_l7_fdio cst, ust;
static struct osh_l7_io cio, uio;
static struct osh_l7_relay_cfg cfg;
static struct osh_l7_relay_stats st;
static struct osh_l7_evctx ev = {.src_ip = "10.200.0.2",
				 .src_port = 40000,
				 .host = "origin.test",
				 .port = 443,
				 .scheme = "https",
				 .exe = "/usr/bin/curl",
				 .pid = 42,
				 .policy = "origin"};
static pthread_t thr;
static int relay_rc;

static void decide(void *ud, const char *method, const char *target, struct osh_l7_decision *d)
{
	(void)ud;
	d->policy = "origin";
	if (strcmp(method, "GET") == 0 || (strcmp(method, "POST") == 0 && strstr(target, "/ok"))) {
		d->v = OSH_L7_V_ALLOW;
		snprintf(d->rule, sizeof(d->rule), "%s /**", method);
	} else {
		d->v = strcmp(method, "DELETE") == 0 ? OSH_L7_V_AUDIT : OSH_L7_V_DENY;
		snprintf(d->rule, sizeof(d->rule), "%s %s", method, target);
		snprintf(d->reason, sizeof(d->reason), "%s %s not permitted by policy", method,
			 target);
	}
}

static void setup(void)
{
	struct osh_emit_config ec;

	signal(SIGPIPE, SIG_IGN);
	logdir = osh_testdir_new("l7-relay");
	osh_emit_config_default(&ec);
	ec.log_dir = logdir;
	ec.jsonl = true;
	ec.stderr_enabled = false;
	cr_assert_eq(osh_emit_init(&ec), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, cp), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, up), 0);
	osh_l7_io_from_fd(&cio, &cst, cp[0], 3000);
	osh_l7_io_from_fd(&uio, &ust, up[0], 3000);
	memset(&cfg, 0, sizeof(cfg));
	cfg.client = &cio;
	cfg.upstream = &uio;
	cfg.host = "origin.test";
	cfg.port = 443;
	cfg.decide = decide;
	cfg.ev = &ev;
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++) {
		close(cp[i]);
		close(up[i]);
	}
	osh_emit_shutdown();
	osh_testdir_finish(logdir);
}

TestSuite(l7_relay, .init = setup, .fini = teardown, .timeout = 30);

static void *relay_main(void *arg)
{
	(void)arg;
	relay_rc = osh_l7_relay_run(&cfg, &st);
	return NULL;
}

static void start(void)
{
	pthread_create(&thr, NULL, relay_main, NULL);
}

static int finish(void)
{
	pthread_join(thr, NULL);
	return relay_rc;
}

static void put(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads from fd until `needle` was seen (or EOF / 3 s); returns the bytes. */
static char *get_until(int fd, const char *needle)
{
	static char buf[1 << 16];
	size_t len = 0;

	buf[0] = '\0';
	while (!strstr(buf, needle) && len + 1 < sizeof(buf)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 3000) <= 0)
			break;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

static bool jsonl_has(const char *a, const char *b)
{
	char path[512], *buf = malloc(1 << 20);
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

static const char ok5[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

Test(l7_relay, keep_alive_allow_audit_deny)
{
	char *s;

	start();
	put(cp[1], "GET /a?x=1 HTTP/1.1\r\nHost: origin.test\r\nConnection: keep-alive\r\n"
		   "Proxy-Authorization: Basic eDp5\r\nUpgrade: h2c\r\n\r\n");
	s = get_until(up[1], "\r\n\r\n");
	cr_assert(strstr(s, "GET /a?x=1 HTTP/1.1\r\nHost: origin.test\r\n"), "%s", s);
	cr_assert(strstr(s, "Via: 1.1 openshell-sandbox\r\n"), "%s", s);
	cr_assert_null(strstr(s, "Proxy-Authorization"), "%s", s);
	cr_assert_null(strstr(s, "Upgrade"), "%s", s); /* never an upgrade */
	put(up[1], ok5);
	s = get_until(cp[1], "hello");
	cr_assert(strstr(s, "HTTP/1.1 200 OK"), "%s", s);

	put(cp[1], "DELETE /b HTTP/1.1\r\nHost: origin.test\r\n\r\n");
	s = get_until(up[1], "\r\n\r\n");
	cr_assert(strstr(s, "DELETE /b HTTP/1.1"), "%s", s); /* audit: forwarded */
	put(up[1], ok5);
	s = get_until(cp[1], "hello");
	cr_assert(strstr(s, "200 OK"), "%s", s);

	put(cp[1], "POST /c HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 2\r\n\r\nhi");
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "HTTP/1.1 403 Forbidden\r\n"), "%s", s);
	cr_assert(strstr(s, "X-OpenShell-Policy: origin\r\n"), "%s", s);
	cr_assert(strstr(s, "Content-Type: application/json\r\n"), "%s", s);
	cr_assert(strstr(s, "{\"error\":\"policy_denied\",\"policy\":\"origin\",\"rule\":\"POST "
			    "/c\",\"detail\":\"POST /c not permitted by policy\"}"),
		  "%s", s);
	cr_assert_eq(finish(), OSH_EPERM);
	cr_assert_eq(st.requests, 3);
	cr_assert_eq(st.allowed, 1);
	cr_assert_eq(st.audited, 1);
	cr_assert_eq(st.denied, 1);
	cr_assert(jsonl_has("\"event_code\":\"L7_REQUEST_ALLOW\"", "\"query_string\":\"x=1\""));
	cr_assert(jsonl_has("\"event_code\":\"L7_REQUEST_AUDIT\"", "\"disposition_id\":17"));
	cr_assert(jsonl_has("\"event_code\":\"L7_REQUEST_DENY\"", "\"code\":403"));
}

Test(l7_relay, chunked_both_ways_byte_for_byte)
{
	static const char body[] = "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: 1\r\n\r\n";
	char *s;

	start();
	put(cp[1], "POST /ok HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n");
	put(cp[1], body);
	s = get_until(up[1], "T: 1\r\n\r\n");
	cr_assert(strstr(s, "Transfer-Encoding: chunked\r\n"), "%s", s);
	cr_assert(strstr(s, body), "%s", s);
	put(up[1], "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
	s = get_until(cp[1], "0\r\n\r\n");
	cr_assert(strstr(s, "3\r\nabc\r\n0\r\n\r\n"), "%s", s);
	shutdown(cp[1], SHUT_WR); /* the client ends between requests: clean */
	cr_assert_eq(finish(), 0);
}

Test(l7_relay, smuggling_is_refused_with_400_and_a_finding)
{
	char *s;

	start();
	put(cp[1], "POST /ok HTTP/1.1\r\nHost: o\r\nContent-Length: 4\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "HTTP/1.1 400 Bad Request"), "%s", s);
	cr_assert_eq(finish(), OSH_EPARSE);
	cr_assert(jsonl_has("\"event_code\":\"L7_PARSE_ERROR\"", "Transfer-Encoding"));
	/* nothing went upstream */
	cr_assert_eq(strlen(get_until(up[1], "x")), 0);
}

Test(l7_relay, truncated_chunked_body)
{
	char *s;

	start();
	put(cp[1], "POST /ok HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
	shutdown(cp[1], SHUT_WR);
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "400 Bad Request"), "%s", s);
	cr_assert(strstr(s, "chunked request body truncated"), "%s", s);
	cr_assert_eq(finish(), OSH_EPARSE);
	cr_assert(jsonl_has("\"event_code\":\"L7_PARSE_ERROR\"", "truncated"));
}

Test(l7_relay, oversized_head_is_431)
{
	static char big[10000];
	char *s;

	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	start();
	put(cp[1], big);
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "431"), "%s", s);
	cr_assert_eq(finish(), OSH_ETOOBIG);
}

Test(l7_relay, unsolicited_101_is_refused)
{
	char *s;

	start();
	put(cp[1], "GET /ws HTTP/1.1\r\nHost: o\r\n\r\n");
	get_until(up[1], "\r\n\r\n");
	put(up[1], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		   "Connection: Upgrade\r\n\r\n");
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "502 Bad Gateway"), "%s", s);
	cr_assert_null(strstr(s, "HTTP/1.1 101"), "%s", s); /* the 101 is not forwarded */
	cr_assert_eq(finish(), OSH_EPROTO);
	cr_assert(jsonl_has("\"event_code\":\"L7_UPGRADE_REFUSED\"", "GET /ws"));
}

Test(l7_relay, hostile_origin_huge_head)
{
	static char big[20000];
	char *s;

	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	start();
	put(cp[1], "GET / HTTP/1.1\r\nHost: o\r\n\r\n");
	get_until(up[1], "\r\n\r\n");
	put(up[1], big);
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "502 Bad Gateway"), "%s", s);
	cr_assert_eq(finish(), OSH_EPROTO);
	cr_assert(jsonl_has("\"event_code\":\"L7_UPSTREAM_ERROR\"", "larger than 16384"));
}

Test(l7_relay, hostile_origin_endless_chunked_body)
{
	static char chunk[4096 + 16];

	cfg.body_max = 64 * 1024;
	snprintf(chunk, sizeof(chunk), "1000\r\n");
	memset(chunk + 6, 'z', 4096);
	memcpy(chunk + 6 + 4096, "\r\n", 3);
	start();
	put(cp[1], "GET / HTTP/1.1\r\nHost: o\r\n\r\n");
	get_until(up[1], "\r\n\r\n");
	put(up[1], "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 20; i++) /* 80 KiB, bound 64 KiB: all fit the socket buffers */
		put(up[1], chunk);
	{
		int rc = finish();

		cr_assert_eq(rc, OSH_ETOOBIG, "%d", rc);
	}
	cr_assert(jsonl_has("\"event_code\":\"L7_UPSTREAM_ERROR\"", "bound"));
}

Test(l7_relay, forward_mode_rewrites_to_origin_form)
{
	char *s;

	cfg.forward = true;
	cfg.port = 8080;
	start();
	put(cp[1], "GET http://origin.test:8080/p?q=1 HTTP/1.1\r\nHost: origin.test:8080\r\n"
		   "Proxy-Connection: keep-alive\r\n\r\n");
	s = get_until(up[1], "\r\n\r\n");
	cr_assert(strstr(s, "GET /p?q=1 HTTP/1.1\r\nHost: origin.test:8080\r\n"), "%s", s);
	cr_assert_null(strstr(s, "Proxy-Connection"), "%s", s);
	put(up[1], ok5);
	get_until(cp[1], "hello");
	put(cp[1], "GET http://elsewhere.test/ HTTP/1.1\r\nHost: elsewhere.test\r\n\r\n");
	s = get_until(cp[1], "}\n");
	cr_assert(strstr(s, "400 Bad Request"), "%s", s);
	cr_assert(strstr(s, "another origin"), "%s", s);
	cr_assert_eq(finish(), OSH_EPARSE);
}
