/* proxy_bench.c - osh-proxy-bench: load generator and origin for
 * tools/bench/proxy-bench.sh.
 *
 *   osh-proxy-bench origin [--threads N] [--tls DIR]
 *       serves "HTTP/1.0 200 OK" + 2 bytes to every request on 127.0.0.1:0
 *       (prints "origin <port>", runs until killed); with --tls, HTTPS with
 *       DIR/srv.pem + DIR/srv.key, "HTTP/1.1 200" + 2 bytes to every request
 *       of a keep-alive connection
 *   osh-proxy-bench relay --origin PORT [--threads N]
 *       a null proxy on 127.0.0.1:0 (prints "relay <port>"): reads the head,
 *       connects to the origin, answers a CONNECT with 200 or passes a
 *       forward head on unchanged, then relays both ways until both sides
 *       close. No parsing, policy, identity or logging: the floor of what
 *       any proxy costs in this bench (the kernel's loopback TCP work for
 *       two connections per request), measured in the same run.
 *   osh-proxy-bench load [--proxy PORT] --origin PORT --mode connect|forward
 *                        [--threads 8] [--seconds 5]
 *       new connection per request through the proxy on 127.0.0.1:
 *         connect: CONNECT localhost:<origin>, 200, GET through the tunnel
 *         forward: GET http://localhost:<origin>/ (absolute form)
 *         tls: CONNECT localhost:<origin>, 200, TLS through the tunnel (no
 *              verification: the bench measures cost, the tests check
 *              trust), then --per-conn keep-alive GETs on that session
 *       (without --proxy: the port of $HTTP_PROXY, as set by osh-proxy --exec)
 *       prints "requests_per_s <value>", "requests <n>", "errors <n>" and
 *       "load_cpu_us_per_request <value>" (the generator's own CPU)
 *
 * DESIGN: both sides in C with blocking sockets and one thread per client
 * (8 by default), so the numbers measure the proxies, not the harness; the
 * same binary drives every proxy in one run so the ratios compare like with
 * like. Everything stays on 127.0.0.1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

static int lfd;
static unsigned proxy_port, origin_port, seconds = 5, per_conn = 1;
static int mode_connect, mode_tls;
static const char *tls_dir;
static SSL_CTX *srv_ctx, *cli_ctx;
static volatile int stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads until the buffer holds `want` or EOF; returns bytes read or -1. */
static ssize_t read_until(int fd, char *buf, size_t cap, const char *want)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)len;
		len += (size_t)n;
		buf[len] = '\0';
		if (want && strstr(buf, want))
			break;
	}
	return (ssize_t)len;
}

/* Reads TLS records until the buffer holds `want`; bytes or -1. */
static ssize_t ssl_read_until(SSL *ssl, char *buf, size_t cap, const char *want)
{
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap && !strstr(buf, want)) {
		int n = SSL_read(ssl, buf + len, (int)(cap - 1 - len));

		if (n <= 0)
			return len ? (ssize_t)len : -1;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return (ssize_t)len;
}

/* One HTTPS connection: every request answered until the client closes. */
static void origin_tls(int c)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	SSL *ssl = SSL_new(srv_ctx);
	char buf[4096];

	SSL_set_fd(ssl, c);
	if (SSL_accept(ssl) == 1)
		while (ssl_read_until(ssl, buf, sizeof(buf), "\r\n\r\n") > 0 &&
		       SSL_write(ssl, resp, sizeof(resp) - 1) > 0)
			;
	SSL_shutdown(ssl);
	SSL_free(ssl);
}

static void *origin_thread(void *arg)
{
	static const char resp[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

	(void)arg;
	for (;;) {
		char buf[4096];
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			continue;
		if (srv_ctx) {
			int one = 1;

			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			origin_tls(c);
			close(c);
			continue;
		}
		if (read_until(c, buf, sizeof(buf), "\r\n\r\n") > 0 &&
		    write(c, resp, sizeof(resp) - 1) < 0) {
			/* the client went away: nothing to do */
		}
		close(c);
	}
	return NULL;
}

static int origin(unsigned threads)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	pthread_t t;
	int one = 1;

	if (tls_dir) {
		char crt[512], key[512];

		snprintf(crt, sizeof(crt), "%s/srv.pem", tls_dir);
		snprintf(key, sizeof(key), "%s/srv.key", tls_dir);
		srv_ctx = SSL_CTX_new(TLS_server_method());
		if (!srv_ctx || SSL_CTX_use_certificate_chain_file(srv_ctx, crt) != 1 ||
		    SSL_CTX_use_PrivateKey_file(srv_ctx, key, SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "origin: cannot load %s / %s\n", crt, key);
			return 1;
		}
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
		perror("origin");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("origin %u\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (unsigned i = 1; i < threads; i++)
		pthread_create(&t, NULL, origin_thread, NULL);
	origin_thread(NULL);
	return 0;
}

/* relay: one connection at a time per thread, blocking I/O. */
static void relay_one(int c)
{
	static const char ok[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)origin_port)};
	char buf[16384];
	ssize_t n = read_until(c, buf, sizeof(buf), "\r\n\r\n");
	int u = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct pollfd p[2];
	int open_dirs = 2;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (n <= 0 || connect(u, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	if (strncmp(buf, "CONNECT ", 8) == 0) {
		char *end = strstr(buf, "\r\n\r\n") + 4;

		if (write(c, ok, sizeof(ok) - 1) < 0 ||
		    (end < buf + n && write(u, end, (size_t)(buf + n - end)) < 0))
			goto out;
	} else if (write(u, buf, (size_t)n) != n) {
		goto out;
	}
	p[0].fd = c;
	p[1].fd = u;
	while (open_dirs > 0) {
		p[0].events = p[0].fd >= 0 ? POLLIN : 0;
		p[1].events = p[1].fd >= 0 ? POLLIN : 0;
		if (poll(p, 2, 10000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n > 0 && write(i ? c : u, buf, (size_t)n) == n)
				continue;
			shutdown(i ? c : u, SHUT_WR);
			p[i].fd = -1;
			open_dirs--;
		}
	}
out:
	close(u);
	close(c);
}

static void *relay_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(lfd, NULL, NULL), one = 1;

		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		relay_one(c);
	}
	return NULL;
}

static int relay(unsigned threads)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	pthread_t t;
	int one = 1;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
		perror("relay");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	printf("relay %u\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (unsigned i = 1; i < threads; i++)
		pthread_create(&t, NULL, relay_thread, NULL);
	relay_thread(NULL);
	return 0;
}

struct result {
	unsigned long ok, errors;
};

/* tls mode: per_conn GETs over one TLS session through a CONNECT tunnel.
 * Returns how many were answered. */
static unsigned tls_requests(int fd)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	SSL *ssl = SSL_new(cli_ctx);
	char buf[4096];
	unsigned ok = 0;

	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) == 1)
		for (unsigned i = 0; i < per_conn; i++) {
			if (SSL_write(ssl, get, sizeof(get) - 1) <= 0 ||
			    ssl_read_until(ssl, buf, sizeof(buf), "\r\n\r\nok") <= 0 ||
			    !strstr(buf, " 200 "))
				break;
			ok++;
		}
	SSL_shutdown(ssl);
	SSL_free(ssl);
	return ok;
}

static int one_request(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)proxy_port)};
	char req[256], buf[4096];
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, rc = -1;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	if (mode_connect) {
		n = snprintf(req, sizeof(req),
			     "CONNECT localhost:%u HTTP/1.1\r\nHost: localhost:%u\r\n\r\n",
			     origin_port, origin_port);
		if (write(fd, req, (size_t)n) != n)
			goto out;
		n = read_until(fd, buf, sizeof(buf), "\r\n\r\n");
		if (n <= 0 || strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 9, "200", 3) != 0)
			goto out;
		if (mode_tls) {
			rc = (int)tls_requests(fd);
			goto out;
		}
		n = snprintf(req, sizeof(req), "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
	} else {
		n = snprintf(req, sizeof(req),
			     "GET http://localhost:%u/ HTTP/1.1\r\nHost: localhost:%u\r\n"
			     "Connection: close\r\n\r\n",
			     origin_port, origin_port);
	}
	if (write(fd, req, (size_t)n) != n)
		goto out;
	n = read_until(fd, buf, sizeof(buf), NULL);
	if (n > 0 && strstr(buf, " 200 ") && strstr(buf, "\r\n\r\nok"))
		rc = 1;
out:
	close(fd);
	return rc;
}

static void *load_thread(void *arg)
{
	struct result *r = arg;

	while (!stop) {
		int n = one_request();

		if (n > 0)
			r->ok += (unsigned long)n;
		else
			r->errors++;
	}
	return NULL;
}

static int load(unsigned threads)
{
	pthread_t t[64];
	struct result res[64];
	unsigned long ok = 0, errors = 0;
	struct rusage ru;
	double t0, t1;

	memset(res, 0, sizeof(res));
	t0 = now_s();
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, load_thread, &res[i]);
	while (now_s() - t0 < seconds)
		usleep(50000);
	stop = 1;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		ok += res[i].ok;
		errors += res[i].errors;
	}
	t1 = now_s();
	printf("requests_per_s %.1f\nrequests %lu\nerrors %lu\n", (double)ok / (t1 - t0), ok,
	       errors);
	if (getrusage(RUSAGE_SELF, &ru) == 0 && ok > 0)
		printf("load_cpu_us_per_request %.1f\n",
		       ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)) /
			   (double)ok);
	return ok > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned threads = 8;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		goto usage;
	for (int i = 2; i + 1 < argc; i += 2) {
		unsigned long v = strtoul(argv[i + 1], NULL, 10);

		if (strcmp(argv[i], "--tls") == 0)
			tls_dir = argv[i + 1];
		else if (strcmp(argv[i], "--per-conn") == 0 && v > 0 && v <= 100000)
			per_conn = (unsigned)v;
		else if (strcmp(argv[i], "--threads") == 0 && v > 0 && v <= 64)
			threads = (unsigned)v;
		else if (strcmp(argv[i], "--proxy") == 0 && v > 0 && v < 65536)
			proxy_port = (unsigned)v;
		else if (strcmp(argv[i], "--origin") == 0 && v > 0 && v < 65536)
			origin_port = (unsigned)v;
		else if (strcmp(argv[i], "--seconds") == 0 && v > 0 && v <= 600)
			seconds = (unsigned)v;
		else if (strcmp(argv[i], "--mode") == 0) {
			mode_tls = strcmp(argv[i + 1], "tls") == 0;
			mode_connect = mode_tls || strcmp(argv[i + 1], "connect") == 0;
		} else
			goto usage;
	}
	if (strcmp(argv[1], "origin") == 0)
		return origin(threads);
	if (strcmp(argv[1], "relay") == 0 && origin_port)
		return relay(threads);
	if (!proxy_port && getenv("HTTP_PROXY")) {
		/* under osh-proxy --exec: the proxy's port from the environment */
		const char *env = getenv("HTTP_PROXY");
		const char *c = env ? strrchr(env, ':') : NULL;

		proxy_port = c ? (unsigned)strtoul(c + 1, NULL, 10) : 0;
	}
	if (mode_tls) {
		cli_ctx = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_NONE, NULL);
	}
	if (strcmp(argv[1], "load") == 0 && proxy_port && origin_port)
		return load(threads);
usage:
	fprintf(stderr, "usage: osh-proxy-bench origin [--threads N] | relay --origin PORT "
			"[--threads N] | load --proxy PORT "
			"--origin PORT --mode connect|forward|tls [--per-conn N] [--threads N] "
			"[--seconds S]\n       (origin also takes --tls DIR)\n");
	return 2;
}
