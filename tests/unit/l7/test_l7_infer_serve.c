/* test_l7_infer_serve.c - inference.local serving (src/supervisor/l7/
 * l7_infer_serve.c) against real sockets: the agent side is a socketpair
 * (osh_l7_infer_serve) or a loopback TCP connection (osh_l7_infer_take, the
 * proxy's hand-off); the model endpoint is a mock server thread on
 * 127.0.0.1 that records what it received and answers a canned response
 * (plain HTTP, or TLS with a certificate this test mints). Events go to a
 * JSONL file that osh_testdir validates and archives for the site census;
 * every test also checks the route's key never reached a log. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "l7_infer.h"
#include "l7_infer_sites.h"
#include "osh_emit.h"
#include "osh_proxy.h"
#include "osh_testdir.h"

#define KEY "sk-test-0123456789-secret"

static char *logdir;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------- mock model */

struct mock {
	int lfd;
	uint16_t port;
	pthread_t thr;
	SSL_CTX *tls; /* NULL: plain HTTP */
	const char *answer;
	size_t answer_len;
	bool hang; /* never answer (upstream timeout) */
	pthread_mutex_t lock;
	char got[65536]; /* the last request received (head + body) */
	size_t got_len;
	unsigned served;
	bool stop;
};

static struct mock mk;

/* Reads one request (head + Content-Length body) into mk.got. */
static void mock_read_request(int fd, SSL *ssl)
{
	char buf[65536];
	size_t len = 0;
	int64_t end = now_ms() + 5000;

	while (len < sizeof(buf) - 1 && now_ms() < end) {
		char *h = NULL;
		ssize_t k;

		buf[len] = '\0';
		h = strstr(buf, "\r\n\r\n");
		if (h) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");
			size_t want = (size_t)(h - buf) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);

			if (len >= want)
				break;
		}
		k = ssl ? SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len))
			: recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	pthread_mutex_lock(&mk.lock);
	memcpy(mk.got, buf, len);
	mk.got[len] = '\0';
	mk.got_len = len;
	mk.served++;
	pthread_mutex_unlock(&mk.lock);
}

static void *mock_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(mk.lfd, NULL, NULL);
		SSL *ssl = NULL;

		if (fd < 0)
			break;
		if (mk.stop) {
			close(fd);
			break;
		}
		if (mk.tls) {
			ssl = SSL_new(mk.tls);
			SSL_set_fd(ssl, fd);
			if (SSL_accept(ssl) != 1) {
				SSL_free(ssl);
				close(fd);
				ERR_clear_error();
				continue;
			}
		}
		mock_read_request(fd, ssl);
		if (mk.hang) {
			char c;

			(void)recv(fd, &c, 1, 0); /* until the client gives up */
		} else if (ssl) {
			SSL_write(ssl, mk.answer, (int)mk.answer_len);
			SSL_shutdown(ssl);
		} else {
			(void)send(fd, mk.answer, mk.answer_len, MSG_NOSIGNAL);
		}
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static void mock_start(SSL_CTX *tls, const char *answer)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	memset(&mk, 0, sizeof(mk));
	pthread_mutex_init(&mk.lock, NULL);
	mk.tls = tls;
	mk.answer = answer;
	mk.answer_len = answer ? strlen(answer) : 0;
	mk.lfd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(mk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(mk.lfd, 16), 0);
	getsockname(mk.lfd, (struct sockaddr *)&sa, &sl);
	mk.port = ntohs(sa.sin_port);
	cr_assert_eq(pthread_create(&mk.thr, NULL, mock_main, NULL), 0);
}

static void mock_stop(void)
{
	if (mk.lfd <= 0)
		return;
	mk.stop = true;
	shutdown(mk.lfd, SHUT_RDWR);
	pthread_join(mk.thr, NULL);
	close(mk.lfd);
	mk.lfd = 0;
	pthread_mutex_destroy(&mk.lock);
}

/* A closed port on 127.0.0.1 (bound, read, closed). */
static uint16_t closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	close(s);
	return ntohs(sa.sin_port);
}

/* ---------------------------------------------------- the router */

static struct osh_l7_infer *inf;

static void setup(void)
{
	struct osh_emit_config ec;

	signal(SIGPIPE, SIG_IGN);
	logdir = osh_testdir_new("l7-infer");
	osh_emit_config_default(&ec);
	ec.log_dir = logdir;
	ec.jsonl = true;
	ec.stderr_enabled = false;
	cr_assert_eq(osh_emit_init(&ec), 0);
}

static char *slurp(const char *name)
{
	char path[512];
	FILE *f;
	char *buf = calloc(1, 1 << 20);
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", logdir, name);
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, (1 << 20) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void teardown(void)
{
	char *a, *b;

	osh_l7_infer_destroy(inf);
	inf = NULL;
	mock_stop();
	(void)osh_emit_flush(2000);
	a = slurp("openshell-ocsf.log");
	b = slurp("openshell.log");
	cr_expect_null(strstr(a, KEY), "the key reached the JSONL log");
	cr_expect_null(strstr(b, KEY), "the key reached the shorthand log");
	free(a);
	free(b);
	osh_emit_shutdown();
	osh_testdir_finish(logdir);
	logdir = NULL;
}

/* Waits for one JSONL line containing every fragment (emit is async). */
static bool jsonl_has(const char *x, const char *y, const char *z)
{
	bool found = false;

	for (int i = 0; i < 100 && !found; i++) {
		char *buf;

		(void)osh_emit_flush(1000);
		buf = slurp("openshell-ocsf.log");
		for (char *line = strtok(buf, "\n"); line && !found; line = strtok(NULL, "\n"))
			found =
			    strstr(line, x) && (!y || strstr(line, y)) && (!z || strstr(line, z));
		free(buf);
		if (!found)
			usleep(20000);
	}
	return found;
}

static void make(const char *routes_yaml, size_t response_max)
{
	struct osh_l7_infer_config cfg = {0};
	struct osh_l7_infer_routes *rs = NULL;
	char err[512];

	if (routes_yaml)
		cr_assert_eq(osh_l7_infer_routes_parse(routes_yaml, strlen(routes_yaml), "test",
						       NULL, &rs, err, sizeof(err)),
			     0, "%s", err);
	cfg.routes = rs;
	cfg.client_timeout_ms = 5000;
	cfg.chunk_idle_ms = 1500;
	cfg.response_max = response_max;
	cfg.max_sessions = 2;
	cr_assert_eq(osh_l7_infer_create(&cfg, &inf, err, sizeof(err)), 0, "%s", err);
}

static void make_openai(uint16_t port)
{
	char y[1024];

	snprintf(y, sizeof(y),
		 "routes:\n"
		 "  - name: local\n"
		 "    endpoint: http://127.0.0.1:%u/v1\n"
		 "    model: llama-3-8b\n"
		 "    protocols: [openai_chat_completions, model_discovery]\n"
		 "    api_key: " KEY "\n"
		 "    timeout_secs: 2\n",
		 port);
	make(y, 0);
}

/* ------------------------------------------------ the agent's side */

struct served {
	int fd;
	struct osh_l7_fdio st;
	struct osh_l7_io io;
	struct osh_l7_infer_client cl;
	struct osh_l7_infer_stats stats;
	pthread_t thr;
};

static void *serve_main(void *arg)
{
	struct served *s = arg;

	osh_l7_infer_serve(inf, &s->io, NULL, 0, true, &s->cl, &s->stats);
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* Serves one end of a socketpair on a thread; returns the agent's end. */
static int agent(struct served *s)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(s, 0, sizeof(*s));
	s->fd = sv[1];
	s->cl.src_ip = "10.200.0.2";
	s->cl.src_port = 40000;
	s->cl.pid = 4242;
	s->cl.exe = "/usr/bin/curl";
	s->cl.connect_port = 443;
	osh_l7_io_from_fd(&s->io, &s->st, sv[1], 5000);
	cr_assert_eq(pthread_create(&s->thr, NULL, serve_main, s), 0);
	return sv[0];
}

static void agent_done(struct served *s, int fd)
{
	shutdown(fd, SHUT_WR);
	pthread_join(s->thr, NULL);
	close(fd);
	close(s->fd);
}

static void send_all(int fd, const char *p, size_t n)
{
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
}

/* Reads until `until` appears (or EOF / 5 s); returns the bytes read. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until)
{
	size_t len = 0;
	int64_t end = now_ms() + 5000;

	buf[0] = '\0';
	while (len + 1 < cap && now_ms() < end && !(until && strstr(buf, until))) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			break;
		k = read(fd, buf + len, cap - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
		buf[len] = '\0';
	}
	return len;
}

static bool at_eof(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	/* EOF, or a reset (a peer closing with our bytes unread resets) */
	return poll(&p, 1, 3000) == 1 && read(fd, &c, 1) <= 0;
}

static const char *mock_got(void)
{
	static char copy[65536];

	pthread_mutex_lock(&mk.lock);
	memcpy(copy, mk.got, mk.got_len + 1);
	pthread_mutex_unlock(&mk.lock);
	return copy;
}

static const char chat_req[] =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: inference.local\r\n"
    "Authorization: Bearer agent-own-token\r\n"
    "X-Api-Key: agent-key\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 62\r\n\r\n"
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

TestSuite(infer_serve, .init = setup, .fini = teardown, .timeout = 30);

Test(infer_serve, chat_routed_with_key_and_model)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				     "X-Request-Id: r1\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
	struct served s;
	char buf[8192];
	const char *got;
	int fd;

	cr_assert_eq(strlen(chat_req) - (size_t)(strstr(chat_req, "\r\n\r\n") + 4 - chat_req), 62);
	mock_start(NULL, answer);
	make_openai(mk.port);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			      "X-Request-Id: r1\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "b\r\n{\"ok\":true}\r\n0\r\n\r\n");
	got = mock_got();
	cr_assert(strncmp(got, "POST /v1/chat/completions HTTP/1.1\r\n", 36) == 0, "%s", got);
	cr_assert(strstr(got, "\r\nHost: 127.0.0.1:"), "%s", got);
	cr_assert(strstr(got, "\r\nAuthorization: Bearer " KEY "\r\n"), "%s", got);
	cr_assert_null(strstr(got, "agent-own-token"), "%s", got);
	cr_assert_null(strstr(got, "agent-key"), "%s", got);
	cr_assert_null(strstr(got, "inference.local"), "%s", got);
	cr_assert(strstr(got, "Content-Type: application/json\r\n"), "%s", got);
	cr_assert(strstr(got, "\r\n\r\n{\"model\":\"llama-3-8b\",\"messages\":"), "%s", got);
	cr_assert(strstr(got, "Content-Length: 66\r\n"), "%s", got);
	cr_assert(strstr(got, "Connection: close\r\n"), "%s", got);
	agent_done(&s, fd);
	cr_assert_eq(s.stats.requests, 1);
	cr_assert_eq(s.stats.routed, 1);
	cr_assert(jsonl_has("\"event_code\":\"INFER_ROUTE\"", "\"route\":\"local\"",
			    "\"protocol\":\"openai_chat_completions\""));
	cr_assert(jsonl_has("\"event_code\":\"INFER_ROUTE\"", "\"code\":200",
			    "\"path\":\"/v1/chat/completions\""));
}

Test(infer_serve, streamed_chunked_answer_and_keep_alive)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n"
				     "7\r\ndata: 1\r\n8;x=y\r\n\ndata: 2\r\n0\r\n\r\n";
	static const char models[] = "GET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n";
	struct served s;
	char buf[8192];
	int fd;

	mock_start(NULL, answer);
	make_openai(mk.port);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n"
			      "7\r\ndata: 1\r\n8\r\n\ndata: 2\r\n0\r\n\r\n");
	/* the same connection: a second request */
	send_all(fd, models, strlen(models));
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
	cr_assert(strncmp(mock_got(), "GET /v1/models HTTP/1.1\r\n", 25) == 0, "%s", mock_got());
	cr_assert_null(strstr(mock_got(), "Content-Length"), "%s", mock_got());
	agent_done(&s, fd);
	cr_assert_eq(s.stats.routed, 2);
}

Test(infer_serve, non_inference_path_refused_and_connection_ends)
{
	static const char req[] = "GET /etc/passwd HTTP/1.1\r\nHost: inference.local\r\n\r\n"
				  "GET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n";
	static const char body[] = "{\"error\":\"connection not allowed by policy\"}";
	char want[512], buf[4096];
	struct served s;
	int fd;

	mock_start(NULL, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	make_openai(mk.port);
	fd = agent(&s);
	send_all(fd, req, strlen(req));
	snprintf(want, sizeof(want),
		 "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: "
		 "%zu\r\nConnection: close\r\n\r\n%s",
		 strlen(body), body);
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert_str_eq(buf, want);
	cr_assert(at_eof(fd), "the tunnel stays open after a refusal with nothing routed");
	agent_done(&s, fd);
	cr_assert_eq(mk.served, 0, "a refused request reached the model");
	cr_assert_eq(s.stats.refused, 1);
	cr_assert(
	    jsonl_has("\"event_code\":\"INFER_DENY\"", "\"code\":403", "\"path\":\"/etc/passwd\""));
}

Test(infer_serve, not_configured_is_503_with_reason_phrase)
{
	struct served s;
	char buf[4096];
	int fd;

	make(NULL, 0);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", buf);
	cr_assert(strstr(buf, "{\"error\":\"cluster inference is not configured\",\"hint\":"), "%s",
		  buf);
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_FAIL\"", "\"code\":503", NULL));
}

Test(infer_serve, no_compatible_route_is_400)
{
	struct served s;
	char buf[4096];
	int fd;
	static const char req[] = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
				  "\r\n{}";

	make_openai(closed_port());
	fd = agent(&s);
	send_all(fd, req, strlen(req));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", buf);
	cr_assert(strstr(buf, "\r\n\r\n{\"error\":\"no compatible inference route available\"}"),
		  "%s", buf);
	agent_done(&s, fd);
}

Test(infer_serve, upstream_unreachable_is_503)
{
	struct served s;
	char buf[4096];
	int fd;

	make_openai(closed_port());
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", buf);
	cr_assert(strstr(buf, "{\"error\":\"inference service unavailable\"}"), "%s", buf);
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_FAIL\"", "Connection refused", NULL));
}

Test(infer_serve, upstream_timeout_is_503)
{
	struct served s;
	char buf[4096];
	int fd;
	int64_t t0;

	mock_start(NULL, NULL);
	mk.hang = true;
	make_openai(mk.port); /* timeout_secs: 2 */
	fd = agent(&s);
	t0 = now_ms();
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", buf);
	cr_assert_geq(now_ms() - t0, 1900);
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_FAIL\"", "no data within the timeout", NULL));
}

Test(infer_serve, upstream_garbage_is_502)
{
	struct served s;
	char buf[4096];
	int fd;

	mock_start(NULL, "SSH-2.0-OpenSSH\r\n\r\n");
	make_openai(mk.port);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 502 Bad Gateway\r\n", 26) == 0, "%s", buf);
	cr_assert(strstr(buf, "{\"error\":\"inference service error\"}"), "%s", buf);
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_FAIL\"", "malformed status line", NULL));
}

Test(infer_serve, broken_upstream_chunks_cut_the_stream)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				     "5\r\nhello\r\nZZ\r\n";
	struct served s;
	char buf[4096];
	int fd;

	mock_start(NULL, answer);
	make_openai(mk.port);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), NULL);
	cr_assert_str_eq(buf,
			 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_UPSTREAM_CHUNK_ERROR\"",
			    "chunk size is not hexadecimal", NULL));
}

Test(infer_serve, answer_over_cap_is_cut)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n"
				     "abcdefghijklmnopqrstuvwxyz";
	struct served s;
	char buf[4096];
	int fd;
	char y[512];

	mock_start(NULL, answer);
	snprintf(y, sizeof(y),
		 "routes:\n  - {name: local, endpoint: \"http://127.0.0.1:%u\", model: m, "
		 "api_key: " KEY ", protocols: [openai_chat_completions]}\n",
		 mk.port);
	make(y, 10);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert_str_eq(buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "a\r\nabcdefghij\r\n0\r\n\r\n");
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_ROUTE\"", "\"truncated\":true", NULL));
}

Test(infer_serve, anthropic_auth_and_version)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	static const char req[] = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: agent\r\n"
				  "Content-Length: 20\r\n\r\n{\"model\":\"whatever\"}";
	struct served s;
	char buf[4096], y[512];
	int fd;

	mock_start(NULL, answer);
	snprintf(y, sizeof(y),
		 "routes:\n  - {name: claude, endpoint: \"http://127.0.0.1:%u/\", model: claude-x, "
		 "provider_type: anthropic, api_key: " KEY ", protocols: [anthropic_messages]}\n",
		 mk.port);
	make(y, 0);
	fd = agent(&s);
	send_all(fd, req, strlen(req));
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
	cr_assert(strstr(mock_got(), "\r\nx-api-key: " KEY "\r\n"), "%s", mock_got());
	cr_assert(strstr(mock_got(), "\r\nanthropic-version: 2023-06-01\r\n"), "%s", mock_got());
	cr_assert_null(strstr(mock_got(), "Authorization"), "%s", mock_got());
	cr_assert_null(strstr(mock_got(), ": agent\r\n"), "%s", mock_got());
	cr_assert(strstr(mock_got(), "{\"model\":\"claude-x\"}"), "%s", mock_got());
	agent_done(&s, fd);
}

Test(infer_serve, oversized_and_malformed_requests)
{
	static const char smuggle[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
				      "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char huge[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
				   "Content-Length: 20971520\r\n\r\n";
	struct served s;
	char buf[4096];
	int fd;

	make_openai(closed_port());
	fd = agent(&s);
	send_all(fd, smuggle, strlen(smuggle));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "%s", buf);
	cr_assert(at_eof(fd));
	agent_done(&s, fd);
	cr_assert(jsonl_has("\"event_code\":\"INFER_BAD_REQUEST\"", "Transfer-Encoding", NULL));

	fd = agent(&s);
	send_all(fd, huge, strlen(huge));
	read_until(fd, buf, sizeof(buf), "}");
	cr_assert(strncmp(buf, "HTTP/1.1 413 Content Too Large\r\n", 32) == 0, "%s", buf);
	agent_done(&s, fd);
}

Test(infer_serve, expect_continue_answered)
{
	static const char head[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
				   "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n";
	struct served s;
	char buf[4096];
	int fd;

	mock_start(NULL, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	make_openai(mk.port);
	fd = agent(&s);
	send_all(fd, head, strlen(head));
	read_until(fd, buf, sizeof(buf), "\r\n\r\n");
	cr_assert_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	send_all(fd, "{}", 2);
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
	cr_assert_null(strstr(mock_got(), "Expect"), "%s", mock_got());
	agent_done(&s, fd);
}

/* ------------------------------------------------------------- https */

static EVP_PKEY *tls_key;
static X509 *tls_cert;

/* A self-signed certificate for 127.0.0.1 (IP SAN) written to path. */
static void mint_cert(const char *path)
{
	X509_NAME *nm;
	X509_EXTENSION *ext;
	X509V3_CTX v3;
	FILE *f;

	tls_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cr_assert_not_null(tls_key);
	tls_cert = X509_new();
	X509_set_version(tls_cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(tls_cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(tls_cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(tls_cert), 3600);
	X509_set_pubkey(tls_cert, tls_key);
	nm = X509_get_subject_name(tls_cert);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"mock model", -1,
				   -1, 0);
	X509_set_issuer_name(tls_cert, nm);
	X509V3_set_ctx(&v3, tls_cert, tls_cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	cr_assert_not_null(ext);
	X509_add_ext(tls_cert, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(tls_cert, ext, -1);
	X509_EXTENSION_free(ext);
	cr_assert_gt(X509_sign(tls_cert, tls_key, EVP_sha256()), 0);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	PEM_write_X509(f, tls_cert);
	fclose(f);
}

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	cr_assert_eq(SSL_CTX_use_certificate(c, tls_cert), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(c, tls_key), 1);
	return c;
}

static void https_case(bool trust)
{
	struct osh_l7_infer_config cfg = {0};
	struct osh_l7_infer_routes *rs = NULL;
	char ca[600], y[512], err[512], buf[4096];
	SSL_CTX *sc;
	struct served s;
	int fd;

	snprintf(ca, sizeof(ca), "%s/ca.pem", logdir);
	mint_cert(ca);
	sc = server_ctx();
	mock_start(sc, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsecure!");
	snprintf(y, sizeof(y),
		 "routes:\n  - {name: tls, endpoint: \"https://127.0.0.1:%u/v1\", model: m, "
		 "api_key: " KEY ", protocols: [openai_chat_completions], timeout_secs: 3}\n",
		 mk.port);
	cr_assert_eq(osh_l7_infer_routes_parse(y, strlen(y), "test", NULL, &rs, err, sizeof(err)),
		     0, "%s", err);
	cfg.routes = rs;
	cfg.upstream_ca_file = trust ? ca : NULL;
	cr_assert_eq(osh_l7_infer_create(&cfg, &inf, err, sizeof(err)), 0, "%s", err);
	fd = agent(&s);
	send_all(fd, chat_req, strlen(chat_req));
	read_until(fd, buf, sizeof(buf), trust ? "0\r\n\r\n" : "}");
	if (trust) {
		cr_assert(strstr(buf, "\r\n\r\n7\r\nsecure!\r\n0\r\n\r\n"), "%s", buf);
		cr_assert(strstr(mock_got(), "Authorization: Bearer " KEY), "%s", mock_got());
	} else {
		cr_assert(strncmp(buf, "HTTP/1.1 502 Bad Gateway\r\n", 26) == 0, "%s", buf);
		cr_assert_eq(mk.served, 0, "the request went to an unverified upstream");
	}
	agent_done(&s, fd);
	if (!trust)
		cr_assert(jsonl_has("\"event_code\":\"INFER_FAIL\"",
				    "certificate verification failed", NULL));
	mock_stop();
	SSL_CTX_free(sc);
	X509_free(tls_cert);
	EVP_PKEY_free(tls_key);
}

Test(infer_serve, https_upstream_verified)
{
	https_case(true);
}

Test(infer_serve, https_upstream_unverified_is_502)
{
	https_case(false);
}

/* ------------------------------------------- the proxy's hand-off */

static int dial_pair(int *srv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0), c;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 4), 0);
	getsockname(l, (struct sockaddr *)&sa, &sl);
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*srv = accept(l, NULL, NULL);
	cr_assert_geq(*srv, 0);
	close(l);
	return c;
}

static bool wait_sessions(unsigned n)
{
	int64_t end = now_ms() + 5000;

	while (osh_l7_infer_sessions(inf) != n && now_ms() < end)
		usleep(5000);
	return osh_l7_infer_sessions(inf) == n;
}

Test(infer_serve, take_plain_tunnel_limit_and_stop)
{
	static const char ok[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
	struct osh_l7_infer_client cl = {.src_ip = "127.0.0.1", .src_port = 1, .connect_port = 80};
	char buf[4096];
	int a, b, c, sa, sb, sc;

	mock_start(NULL, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
	make_openai(mk.port); /* max_sessions 2 */
	a = dial_pair(&sa);
	b = dial_pair(&sb);
	c = dial_pair(&sc);
	/* the CONNECT head was already read by the proxy; the request follows it */
	osh_l7_infer_take(inf, sa, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 36, &cl);
	osh_l7_infer_take(inf, sb, NULL, 0, &cl);
	cr_assert(wait_sessions(2));
	osh_l7_infer_take(inf, sc, NULL, 0, &cl); /* over the limit */
	read_until(c, buf, sizeof(buf), "}\n");
	cr_assert(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "%s", buf);
	cr_assert(strstr(buf, "\r\n\r\n{\"error\":\"inference session limit reached\"}\n"), "%s",
		  buf);
	cr_assert(at_eof(c));
	read_until(a, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert(strncmp(buf, ok, sizeof(ok) - 1) == 0, "%s", buf);
	cr_assert(strstr(buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n"
			      "0\r\n\r\n"),
		  "%s", buf);
	read_until(b, buf, sizeof(buf), "\r\n\r\n");
	cr_assert_str_eq(buf, ok);
	/* b idles in its keep-alive read: stop ends it at once */
	osh_l7_infer_stop(inf);
	cr_assert_eq(osh_l7_infer_sessions(inf), 0);
	cr_assert(at_eof(b));
	close(a);
	close(b);
	close(c);
	cr_assert(jsonl_has("\"event_code\":\"INFER_INTERCEPT\"", "\"tls\":false", NULL));
	cr_assert(jsonl_has("\"event_code\":\"INFER_BAD_REQUEST\"", "session limit", NULL));
}

Test(infer_serve, take_tls_without_termination_refused)
{
	struct osh_l7_infer_client cl = {.src_ip = "127.0.0.1", .src_port = 1, .connect_port = 443};
	char buf[256];
	int a, sa;

	make_openai(closed_port());
	a = dial_pair(&sa);
	osh_l7_infer_take(inf, sa, NULL, 0, &cl);
	read_until(a, buf, sizeof(buf), "\r\n\r\n");
	cr_assert_str_eq(buf, "HTTP/1.1 200 Connection Established\r\n\r\n");
	send_all(a, "\x16\x03\x01\x00\x05hello", 10);
	cr_assert(at_eof(a));
	close(a);
	cr_assert(jsonl_has("\"event_code\":\"INFER_BAD_REQUEST\"",
			    "TLS termination is not available", NULL));
}

/* Every event the sites file defines, for the census and schema validity. */
Test(infer_serve, routes_events)
{
	struct osh_l7_infer_routes *rs = NULL;
	char err[256];
	const char *y = "routes:\n  - {name: a, endpoint: \"http://h\", model: m, api_key: " KEY
			", protocols: [model_discovery]}\n";

	cr_assert_eq(osh_l7_infer_routes_parse(y, strlen(y), "r.yaml", NULL, &rs, err, sizeof(err)),
		     0);
	osh_l7_infer_ev_routes_loaded(rs);
	osh_l7_infer_routes_free(rs);
	osh_l7_infer_ev_routes_failed("r.yaml", "r.yaml:3: routes[0].model: required");
	cr_assert(
	    jsonl_has("\"event_code\":\"INFER_ROUTES_LOADED\"", "\"route_names\":\"a\"", NULL));
	cr_assert(
	    jsonl_has("\"event_code\":\"INFER_ROUTES_FAILED\"", "routes[0].model: required", NULL));
}

/* ---------------------------------------- through the real proxy */

static struct osh_proxy *px;

static int proxy_dial(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(osh_proxy_port(px))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void proxy_up(struct osh_l7_infer *router)
{
	struct osh_proxy_config cfg;
	char err[256];

	osh_proxy_config_default(&cfg);
	cfg.workers = 2;
	cfg.inference = router;
	cr_assert_eq(osh_proxy_create(&cfg, &px, err, sizeof(err)), 0, "%s", err);
	osh_proxy_set_root(px, getpid());
	cr_assert_eq(osh_proxy_start(px), 0);
}

static void proxy_fini(void)
{
	osh_proxy_destroy(px);
	px = NULL;
	teardown();
}

TestSuite(infer_proxy, .init = setup, .fini = proxy_fini, .timeout = 30);

Test(infer_proxy, connect_any_case_any_port_is_served)
{
	static const char req[] = "CONNECT INFERENCE.Local:8443 HTTP/1.1\r\nHost: "
				  "inference.local:8443\r\n\r\n"
				  "GET /v1/models HTTP/1.1\r\nHost: inference.local\r\n\r\n";
	char buf[4096];
	int fd;

	mock_start(NULL, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"data\":[42]}");
	make_openai(mk.port);
	proxy_up(inf);
	fd = proxy_dial();
	send_all(fd, req, strlen(req));
	read_until(fd, buf, sizeof(buf), "0\r\n\r\n");
	cr_assert_str_eq(buf, "HTTP/1.1 200 Connection Established\r\n\r\n"
			      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "d\r\n{\"data\":[42]}\r\n0\r\n\r\n");
	cr_assert(strstr(mock_got(), "Authorization: Bearer " KEY), "%s", mock_got());
	close(fd);
	/* the event names this test binary as the client, found by the proxy */
	cr_assert(
	    jsonl_has("\"event_code\":\"INFER_ROUTE\"", "\"port\":8443", "test_l7_infer_serve"));
	osh_proxy_stop(px);
	osh_l7_infer_stop(inf);
}

Test(infer_proxy, not_configured_is_refused)
{
	static const char req[] = "CONNECT inference.local:443 HTTP/1.1\r\nHost: "
				  "inference.local:443\r\n\r\n";
	char buf[4096];
	int fd;

	proxy_up(NULL);
	fd = proxy_dial();
	send_all(fd, req, strlen(req));
	read_until(fd, buf, sizeof(buf), "routes)");
	cr_assert(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24) == 0, "%s", buf);
	cr_assert(strstr(buf, "inference.local is not configured in this sandbox"), "%s", buf);
	close(fd);
	cr_assert(jsonl_has("\"event_code\":\"CONNECT_DENY\"", "not configured", NULL));
}
