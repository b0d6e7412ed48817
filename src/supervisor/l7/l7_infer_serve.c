/* l7_infer_serve.c - the serving half of inference.local (see l7_infer.h):
 * sessions, the keep-alive request loop, the upstream HTTP/HTTPS client,
 * the streamed answer and the JSON error answers.
 *
 * DESIGN
 * One thread per intercepted tunnel, bounded (max_sessions), all blocking
 * I/O with deadlines: the client side through an osh_l7_io (a socket, or
 * the TLS session the l7 TLS layer terminated), the upstream through a
 * socket with SO_RCVTIMEO/SO_SNDTIMEO (plain or an OpenSSL client session
 * verified against the system store plus an optional CA file). A request is
 * read whole (it must be: its JSON `model` is rewritten) within the bounds
 * of l7_infer.h; the answer is never buffered whole: it is relayed as it
 * arrives, re-framed as chunked (the upstream's own framing, which may be
 * Content-Length, chunked or close-delimited, is decoded first), cut at
 * response_max. Each upstream request uses a connection of its own
 * (`Connection: close`): requests to a model take seconds, a TCP handshake
 * on loopback or to a nearby endpoint is noise, and no upstream state can
 * leak from one request of the agent to the next.
 * Stopping: every running session's sockets (client and upstream) are shut
 * down, which ends any blocking call at once; stop waits for the threads.
 */
#include "l7_infer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "l7_infer_sites.h"
#include "osh_time.h"

#define BUF_START      ((size_t)64 * 1024)
#define BUF_LIMIT      ((size_t)OSH_L7_INFER_BODY_MAX + OSH_HTTP_HEAD_MAX)
#define RESP_HEAD_MAX  ((size_t)64 * 1024)
#define RESP_HDRS_MAX  128u
#define IO_CHUNK       16384u
#define ANTHROPIC_VER  "2023-06-01"
#define NOT_CONFIGURED "cluster inference is not configured"
#define NOT_CONF_HINT  "give the sandbox routes: openshell-sandbox --inference-routes FILE"

struct sess;

struct osh_l7_infer {
	struct osh_l7_infer_routes *routes;
	SSL_CTX *up_ctx;
	struct osh_l7_infer_tls tls;
	bool has_tls;
	unsigned max_sessions, client_timeout_ms, chunk_idle_ms;
	size_t response_max;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sess *sessions;
	unsigned n_sessions;
	bool stopping;
};

struct sess {
	struct sess *prev, *next;
	struct osh_l7_infer *inf;
	int fd;
	int up_fd; /* the upstream socket in use, -1 (under inf->lock) */
	char *early;
	size_t n_early;
	char src_ip[INET6_ADDRSTRLEN];
	char exe[4096];
	struct osh_l7_infer_client cl;
};

/* ----------------------------------------------------------- answers */

static int write_str(const struct osh_l7_io *io, const char *s, size_t n)
{
	return io->write_all(io->ctx, s, n);
}

/* A JSON error answer: {"error": msg[, "hint": hint]}. */
static int answer_error(const struct osh_l7_io *io, int status, const char *msg, const char *hint,
			bool close_after)
{
	cJSON *o = cJSON_CreateObject();
	char *body = NULL;
	char head[256];
	int k, rc = -1;

	if (o && cJSON_AddStringToObject(o, "error", msg) &&
	    (!hint || cJSON_AddStringToObject(o, "hint", hint)))
		body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!body)
		return -1;
	k = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
		     "%zu\r\n%s\r\n",
		     status, osh_l7_infer_reason_phrase(status), strlen(body),
		     close_after ? "Connection: close\r\n" : "");
	if (k > 0 && (size_t)k < sizeof(head) && write_str(io, head, (size_t)k) == 0)
		rc = write_str(io, body, strlen(body));
	free(body);
	return rc;
}

/* ---------------------------------------------------------- upstream */

struct upstream {
	int fd;
	SSL *ssl;
	unsigned timeout_ms; /* current SO_RCVTIMEO / SO_SNDTIMEO */
	char why[256];	     /* what failed */
	bool timed_out;
};

static void set_timeouts(struct upstream *u, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	if (u->timeout_ms == ms)
		return;
	u->timeout_ms = ms;
	setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void sess_set_up(struct sess *s, int fd)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->inf->lock);
	s->up_fd = fd;
	pthread_mutex_unlock(&s->inf->lock);
}

static bool stopping(struct osh_l7_infer *inf)
{
	bool st;

	pthread_mutex_lock(&inf->lock);
	st = inf->stopping;
	pthread_mutex_unlock(&inf->lock);
	return st;
}

/* Non-blocking connect with a deadline; the socket is blocking afterwards. */
static int connect_addr(const struct addrinfo *a, unsigned timeout_ms, int *err)
{
	int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc, soerr = 0, one = 1;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		*err = errno;
		return -1;
	}
	rc = connect(fd, a->ai_addr, a->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};

		rc = poll(&p, 1, (int)timeout_ms);
		if (rc == 0)
			soerr = ETIMEDOUT;
		else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			soerr = errno;
		rc = soerr ? -1 : 0;
	} else if (rc < 0) {
		soerr = errno;
	}
	if (rc == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		soerr = errno;
		rc = -1;
	}
	if (rc != 0) {
		*err = soerr;
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void ssl_error_text(char *out, size_t cap, const char *what, long verify)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	if (verify != X509_V_OK)
		snprintf(out, cap, "%s: certificate verification failed: %s", what,
			 X509_verify_cert_error_string(verify));
	else if (e)
		snprintf(out, cap, "%s: %s", what, ERR_error_string(e, buf));
	else
		snprintf(out, cap, "%s: connection closed during the TLS handshake", what);
	ERR_clear_error();
}

/* Opens the route's endpoint. Returns 0, or 503 (unreachable / timed out)
 * or 502 (TLS failure) with u->why. */
static int up_open(struct osh_l7_infer *inf, struct sess *s, const struct osh_l7_infer_route *r,
		   struct upstream *u)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[8];
	int gai, err = ECONNREFUSED, status = 0;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	snprintf(port, sizeof(port), "%u", r->port);
	gai = getaddrinfo(r->host, port, &hints, &res);
	if (gai != 0) {
		snprintf(u->why, sizeof(u->why), "cannot resolve %s: %s", r->host,
			 gai_strerror(gai));
		return 503;
	}
	for (struct addrinfo *a = res; a && u->fd < 0; a = a->ai_next)
		if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
			u->fd = connect_addr(a, r->timeout_ms, &err);
	freeaddrinfo(res);
	if (u->fd < 0) {
		snprintf(u->why, sizeof(u->why), "%s:%u: %s", r->host, r->port, strerror(err));
		u->timed_out = err == ETIMEDOUT;
		return 503;
	}
	sess_set_up(s, u->fd);
	if (stopping(inf)) {
		snprintf(u->why, sizeof(u->why), "supervisor stopping");
		return 503;
	}
	set_timeouts(u, r->timeout_ms);
	if (r->tls) {
		unsigned char ip[16];
		bool is_ip =
		    inet_pton(AF_INET, r->host, ip) == 1 || inet_pton(AF_INET6, r->host, ip) == 1;

		u->ssl = SSL_new(inf->up_ctx);
		if (!u->ssl || SSL_set_fd(u->ssl, u->fd) != 1) {
			ssl_error_text(u->why, sizeof(u->why), "TLS", X509_V_OK);
			return 502;
		}
		if (!is_ip)
			SSL_set_tlsext_host_name(u->ssl, r->host);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(u->ssl), r->host) != 1
			  : SSL_set1_host(u->ssl, r->host) != 1) {
			ssl_error_text(u->why, sizeof(u->why), "TLS", X509_V_OK);
			return 502;
		}
		if (SSL_connect(u->ssl) != 1) {
			long v = SSL_get_verify_result(u->ssl);

			ssl_error_text(u->why, sizeof(u->why),
				       v != X509_V_OK ? "upstream TLS" : "upstream TLS handshake",
				       v);
			status = errno == EAGAIN || errno == EWOULDBLOCK ? 503 : 502;
		}
	}
	return status;
}

static void up_close(struct sess *s, struct upstream *u)
{
	if (u->ssl) {
		SSL_free(u->ssl);
		u->ssl = NULL;
	}
	if (u->fd >= 0) {
		sess_set_up(s, -1);
		close(u->fd);
		u->fd = -1;
	}
}

static int up_write(struct upstream *u, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k;

		if (u->ssl) {
			int w = SSL_write(u->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

			k = w > 0 ? w : -1;
		} else {
			k = send(u->fd, p, n, MSG_NOSIGNAL);
			if (k < 0 && errno == EINTR)
				continue;
		}
		if (k <= 0) {
			snprintf(u->why, sizeof(u->why), "sending the request: %s",
				 errno ? strerror(errno) : "connection closed");
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* > 0 bytes, 0 EOF, -1 error (u->why; timed_out set on a timeout). */
static ssize_t up_read(struct upstream *u, char *p, size_t n)
{
	ssize_t k;

	for (;;) {
		errno = 0;
		if (u->ssl) {
			int r = SSL_read(u->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(u->ssl, r);

			k = r > 0 ? r : (e == SSL_ERROR_ZERO_RETURN ? 0 : -1);
			if (k < 0 && e != SSL_ERROR_SYSCALL)
				errno = EPROTO;
			ERR_clear_error();
		} else {
			k = recv(u->fd, p, n, 0);
		}
		if (k >= 0 || errno != EINTR)
			break;
	}
	if (k < 0) {
		u->timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
		snprintf(u->why, sizeof(u->why), "%s",
			 u->timed_out ? "no data within the timeout"
				      : strerror(errno ? errno : EIO));
	}
	return k;
}

/* -------------------------------------------------- upstream response */

struct resp {
	char *buf; /* RESP_HEAD_MAX + 1 */
	size_t len, head_len;
	int status;
	const char *reason;
	size_t reason_len;
	struct osh_http_hdr hdr[RESP_HDRS_MAX];
	size_t n_hdr;
	bool chunked;
	int64_t content_length; /* -1 none */
};

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Parses the status line and headers in r->buf[0..head_len). 0 or -1. */
static int resp_parse(struct resp *r, const char **why)
{
	const char *p = r->buf, *end = r->buf + r->head_len - 2; /* before the last CRLF */
	const char *eol = memchr(p, '\r', (size_t)(end - p));

	r->n_hdr = 0;
	r->chunked = false;
	r->content_length = -1;
	if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ' || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9' || (eol > p + 12 && p[12] != ' ')) {
		*why = "malformed status line";
		return -1;
	}
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	r->reason = eol > p + 12 ? p + 13 : "";
	r->reason_len = eol > p + 12 ? (size_t)(eol - p - 13) : 0;
	p = eol + 2;
	while (p < end) {
		const char *colon, *v, *ve;

		eol = memchr(p, '\r', (size_t)(end - p) + 1);
		if (!eol || eol[1] != '\n') {
			*why = "malformed header line";
			return -1;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p || r->n_hdr == RESP_HDRS_MAX) {
			*why = colon && colon != p ? "too many headers" : "malformed header line";
			return -1;
		}
		for (const char *c = p; c < colon; c++)
			if (!tchar(*c)) {
				*why = "malformed header name";
				return -1;
			}
		for (const char *c = colon + 1; c < eol; c++)
			if ((unsigned char)*c < 0x20 && *c != '\t') {
				*why = "control byte in a header value";
				return -1;
			}
		v = colon + 1;
		ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		r->hdr[r->n_hdr].name = p;
		r->hdr[r->n_hdr].name_len = (size_t)(colon - p);
		r->hdr[r->n_hdr].value = v;
		r->hdr[r->n_hdr].value_len = (size_t)(ve - v);
		if ((size_t)(colon - p) == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
			size_t n = (size_t)(ve - v);

			r->chunked = n >= 7 && strncasecmp(ve - 7, "chunked", 7) == 0;
		} else if ((size_t)(colon - p) == 14 && strncasecmp(p, "content-length", 14) == 0) {
			int64_t cl = 0;

			if (v == ve || r->content_length >= 0) {
				*why = "bad or repeated Content-Length";
				return -1;
			}
			for (const char *c = v; c < ve; c++) {
				if (*c < '0' || *c > '9' || cl > (INT64_MAX - 9) / 10) {
					*why = "bad Content-Length";
					return -1;
				}
				cl = cl * 10 + (*c - '0');
			}
			r->content_length = cl;
		}
		r->n_hdr++;
		p = eol + 2;
	}
	if (r->chunked)
		r->content_length = -1; /* RFC 9112 6.3: chunked wins */
	return 0;
}

/* Reads the response head (skipping 1xx answers). 0, or the status to
 * answer (502/503) with u->why. */
static int resp_read_head(struct upstream *u, struct resp *r)
{
	const char *why = NULL;

	for (;;) {
		char *e = r->len >= 4 ? memmem(r->buf, r->len, "\r\n\r\n", 4) : NULL;

		if (e) {
			r->head_len = (size_t)(e - r->buf) + 4;
			if (resp_parse(r, &why) != 0) {
				snprintf(u->why, sizeof(u->why), "bad response head: %s", why);
				return 502;
			}
			if (r->status >= 200) {
				return 0;
			}
			/* 1xx: drop it, read on */
			memmove(r->buf, r->buf + r->head_len, r->len - r->head_len);
			r->len -= r->head_len;
			continue;
		}
		if (r->len >= RESP_HEAD_MAX) {
			snprintf(u->why, sizeof(u->why), "response head larger than %zu bytes",
				 RESP_HEAD_MAX);
			return 502;
		}
		{
			ssize_t k = up_read(u, r->buf + r->len, RESP_HEAD_MAX - r->len);

			if (k == 0) {
				snprintf(u->why, sizeof(u->why),
					 "connection closed before a response head");
				return 502;
			}
			if (k < 0)
				return u->timed_out ? 503 : 502;
			r->len += (size_t)k;
		}
	}
}

/* ------------------------------------------------------------ relay */

struct relay {
	const struct osh_l7_io *io;
	bool chunked_out; /* re-frame as chunked (HTTP/1.1 client) */
	uint64_t sent;	  /* body bytes relayed */
	size_t max;
	bool truncated;
	bool client_gone;
	char frame[IO_CHUNK + 32];
};

/* Sends body bytes to the client, up to the cap. false = stop. */
static bool relay_out(void *arg, const char *p, size_t n)
{
	struct relay *rl = arg;

	while (n > 0 && !rl->client_gone && !rl->truncated) {
		size_t room = rl->max - (size_t)rl->sent;
		size_t take = n < IO_CHUNK ? n : IO_CHUNK;
		int k = 0;

		if (room == 0) {
			rl->truncated = true;
			break;
		}
		if (take > room)
			take = room;
		if (rl->chunked_out) {
			k = snprintf(rl->frame, 32, "%zx\r\n", take);
			memcpy(rl->frame + k, p, take);
			memcpy(rl->frame + k + take, "\r\n", 2);
			rl->client_gone =
			    rl->io->write_all(rl->io->ctx, rl->frame, (size_t)k + take + 2) != 0;
		} else {
			rl->client_gone = rl->io->write_all(rl->io->ctx, p, take) != 0;
		}
		rl->sent += take;
		p += take;
		n -= take;
	}
	return !rl->client_gone && !rl->truncated;
}

/* --------------------------------------------------------- one request */

struct outcome {
	int status;	    /* what the client got (0: nothing could be sent) */
	bool end_conn;	    /* the client connection must end */
	bool stream_broken; /* the answer started but was cut */
	char reason[320];
	uint64_t bytes;
	bool truncated;
};

static void put_bytes(char **p, size_t *off, size_t *cap, const char *s, size_t n)
{
	if (!*p)
		return;
	if (*off + n + 1 > *cap) {
		size_t nc = *cap * 2 + n;
		char *np = realloc(*p, nc);

		if (!np) {
			free(*p);
			*p = NULL;
			return;
		}
		*p = np;
		*cap = nc;
	}
	memcpy(*p + *off, s, n);
	*off += n;
}

static void put_s(char **p, size_t *off, size_t *cap, const char *s)
{
	put_bytes(p, off, cap, s, strlen(s));
}

/* Writes the answer head: upstream status + headers minus framing. */
static int relay_head(const struct osh_l7_io *io, const struct resp *r, bool chunked_out,
		      bool bodyless)
{
	size_t cap = r->head_len + 128, off = 0;
	char *h = malloc(cap);
	char line[64];
	int rc = -1;

	snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r->status,
		 osh_l7_infer_reason_phrase(r->status));
	put_s(&h, &off, &cap, line);
	for (size_t i = 0; i < r->n_hdr; i++) {
		const struct osh_http_hdr *x = &r->hdr[i];

		if (osh_l7_infer_strip_response_header(x->name, x->name_len))
			continue;
		put_bytes(&h, &off, &cap, x->name, x->name_len);
		put_s(&h, &off, &cap, ": ");
		put_bytes(&h, &off, &cap, x->value, x->value_len);
		put_s(&h, &off, &cap, "\r\n");
	}
	put_s(&h, &off, &cap,
	      bodyless
		  ? ""
		  : (chunked_out ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n"));
	put_s(&h, &off, &cap, "\r\n");
	if (h)
		rc = io->write_all(io->ctx, h, off);
	free(h);
	return rc;
}

/* The upstream request head (+ body appended by the caller). NULL: ENOMEM. */
static char *build_request(const struct osh_l7_infer_req *rq, const struct osh_l7_infer_route *r,
			   const char *target, size_t body_len, size_t *out_len)
{
	size_t cap = 1024 + rq->head.head_len, off = 0;
	char *p = malloc(cap);
	char num[32];
	bool client_version = false;
	const char *m = rq->head.method;

	for (size_t i = 0; i < rq->head.method_len; i++) {
		char c = m[i] >= 'a' && m[i] <= 'z' ? (char)(m[i] - 32) : m[i];

		put_bytes(&p, &off, &cap, &c, 1);
	}
	put_s(&p, &off, &cap, " ");
	put_s(&p, &off, &cap, target);
	put_s(&p, &off, &cap, " HTTP/1.1\r\nHost: ");
	if (strchr(r->host, ':')) {
		put_s(&p, &off, &cap, "[");
		put_s(&p, &off, &cap, r->host);
		put_s(&p, &off, &cap, "]");
	} else {
		put_s(&p, &off, &cap, r->host);
	}
	if (r->port != (r->tls ? 443 : 80)) {
		snprintf(num, sizeof(num), ":%u", r->port);
		put_s(&p, &off, &cap, num);
	}
	put_s(&p, &off, &cap, "\r\n");
	for (size_t i = 0; i < rq->head.n_hdr; i++) {
		const struct osh_http_hdr *x = &rq->head.hdr[i];

		if (osh_l7_infer_strip_request_header(x->name, x->name_len))
			continue;
		if (x->name_len == 17 && strncasecmp(x->name, "anthropic-version", 17) == 0)
			client_version = true;
		put_bytes(&p, &off, &cap, x->name, x->name_len);
		put_s(&p, &off, &cap, ": ");
		put_bytes(&p, &off, &cap, x->value, x->value_len);
		put_s(&p, &off, &cap, "\r\n");
	}
	if (r->anthropic) {
		put_s(&p, &off, &cap, "x-api-key: ");
		put_s(&p, &off, &cap, r->api_key);
		put_s(&p, &off, &cap, "\r\n");
		if (!client_version)
			put_s(&p, &off, &cap, "anthropic-version: " ANTHROPIC_VER "\r\n");
	} else {
		put_s(&p, &off, &cap, "Authorization: Bearer ");
		put_s(&p, &off, &cap, r->api_key);
		put_s(&p, &off, &cap, "\r\n");
	}
	if (body_len > 0 || rq->head.content_length >= 0 || rq->head.chunked) {
		snprintf(num, sizeof(num), "%zu", body_len);
		put_s(&p, &off, &cap, "Content-Length: ");
		put_s(&p, &off, &cap, num);
		put_s(&p, &off, &cap, "\r\n");
	}
	put_s(&p, &off, &cap, "Connection: close\r\n\r\n");
	*out_len = off;
	return p;
}

static void wipe_free(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

/* Forwards one classified request and relays the answer. */
static void forward(struct osh_l7_infer *inf, struct sess *s, const struct osh_l7_io *io,
		    const struct osh_l7_infer_req *rq, const struct osh_l7_infer_route *r,
		    struct outcome *oc)
{
	struct upstream u;
	struct resp resp = {0};
	struct relay *rl = NULL;
	char target[OSH_HTTP_HEAD_MAX + 512];
	char *body = NULL, *head = NULL;
	size_t body_len = 0, head_len = 0;
	int st, rc;
	bool bodyless, http11 = rq->head.minor == 1;

	memset(oc, 0, sizeof(*oc));
	memset(&u, 0, sizeof(u));
	u.fd = -1;
	if (osh_l7_infer_upstream_target(r, rq->path, rq->path_len, target, sizeof(target)) != 0) {
		oc->status = 400;
		snprintf(oc->reason, sizeof(oc->reason), "request target too long for the route");
		answer_error(io, 400, "no inference route configured", NULL, false);
		return;
	}
	rc = rq->body_len
		 ? osh_l7_infer_rewrite_model(rq->body, rq->body_len, r->model, &body, &body_len)
		 : 0;
	if (rc < 0) {
		oc->status = 500;
		oc->end_conn = true;
		snprintf(oc->reason, sizeof(oc->reason), "out of memory rewriting the body");
		answer_error(io, 500, "inference service error", NULL, true);
		return;
	}
	if (rc == 0 && rq->body_len) {
		body = NULL; /* not a JSON object: forwarded unchanged */
		body_len = rq->body_len;
	}
	head = build_request(rq, r, target, body_len, &head_len);
	st = head ? up_open(inf, s, r, &u) : 500;
	if (st == 0 && (up_write(&u, head, head_len) != 0 ||
			(body_len && up_write(&u, body ? body : rq->body, body_len) != 0)))
		st = 502;
	wipe_free(head, head_len); /* it holds the key */
	free(body);
	resp.buf = st == 0 ? malloc(RESP_HEAD_MAX + 1) : NULL;
	if (st == 0 && !resp.buf)
		st = 500;
	if (st == 0)
		st = resp_read_head(&u, &resp);
	if (st != 0) {
		const char *msg =
		    st == 503 ? "inference service unavailable" : "inference service error";

		oc->status = st;
		snprintf(oc->reason, sizeof(oc->reason), "%s: %s", msg,
			 u.why[0] ? u.why : "out of memory");
		if (answer_error(io, st, msg, NULL, false) != 0)
			oc->end_conn = true;
		goto out;
	}
	/* the answer */
	oc->status = resp.status;
	bodyless = resp.status == 204 || resp.status == 304;
	rl = calloc(1, sizeof(*rl));
	if (!rl || relay_head(io, &resp, http11, bodyless) != 0) {
		oc->end_conn = true;
		snprintf(oc->reason, sizeof(oc->reason), "client went away");
		goto out;
	}
	rl->io = io;
	rl->chunked_out = http11;
	rl->max = inf->response_max;
	set_timeouts(&u, inf->chunk_idle_ms);
	if (!bodyless) {
		struct osh_l7_chunk_dec d = {0};
		const char *why = NULL;
		char *p = resp.buf + resp.head_len;
		size_t n = resp.len - resp.head_len;
		int64_t left = resp.content_length;
		bool done = false;

		for (;;) {
			if (n > 0) {
				if (resp.chunked) {
					ssize_t used =
					    osh_l7_chunk_dec_feed(&d, p, n, relay_out, rl, &why);

					if (used < 0 && strcmp(why, "stopped") != 0) {
						oc->stream_broken = true;
						snprintf(oc->reason, sizeof(oc->reason),
							 "upstream chunked body: %s", why);
					}
					done = d.done || used < 0;
				} else {
					size_t take =
					    left >= 0 && (uint64_t)left < n ? (size_t)left : n;

					relay_out(rl, p, take);
					if (left >= 0)
						left -= (int64_t)take;
					done = left == 0;
				}
			} else if (left == 0) {
				done = true;
			}
			if (done || rl->client_gone || rl->truncated)
				break;
			{
				ssize_t k = up_read(&u, resp.buf, RESP_HEAD_MAX);

				if (k == 0 && !resp.chunked && left < 0)
					break; /* close-delimited: the end */
				if (k <= 0) {
					oc->stream_broken = true;
					snprintf(oc->reason, sizeof(oc->reason),
						 "upstream body ended early after %llu bytes: %s",
						 (unsigned long long)rl->sent,
						 k == 0 ? "connection closed" : u.why);
					break;
				}
				p = resp.buf;
				n = (size_t)k;
			}
		}
		if (rl->truncated) {
			oc->truncated = true;
			snprintf(oc->reason, sizeof(oc->reason),
				 "answer over the %zu-byte cap: cut", inf->response_max);
		}
	}
	oc->bytes = rl->sent;
	/* A cut stream gets no final chunk (the client sees the cut); an
	 * HTTP/1.0 body ends with the close. */
	oc->end_conn = rl->client_gone || oc->stream_broken || (!bodyless && !http11);
	if (!oc->end_conn && !bodyless && write_str(io, "0\r\n\r\n", 5) != 0)
		oc->end_conn = true;
out:
	free(rl);
	free(resp.buf);
	up_close(s, &u);
}

/* -------------------------------------------------------------- serve */

static void evinfo_init(struct osh_l7_infer_evinfo *ev, const struct osh_l7_infer_client *cl,
			bool tls)
{
	memset(ev, 0, sizeof(*ev));
	ev->cl = cl;
	ev->tls = tls;
}

static void serve_impl(struct osh_l7_infer *inf, struct sess *s, const struct osh_l7_io *io,
		       const char *early, size_t n_early, bool tls,
		       const struct osh_l7_infer_client *cl, struct osh_l7_infer_stats *st)
{
	struct osh_l7_infer_stats local = {0};
	struct osh_l7_infer_req rq = {0};
	size_t cap = BUF_START, len = 0;
	char *buf = malloc(cap);
	bool routed_any = false, sent_continue = false, end = false;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (!buf)
		return;
	if (n_early > 0) {
		if (n_early > cap) {
			char *nb = realloc(buf, n_early);

			if (!nb) {
				free(buf);
				return;
			}
			buf = nb;
			cap = n_early;
		}
		memcpy(buf, early, n_early);
		len = n_early;
	}
	while (!end) {
		struct osh_l7_infer_evinfo ev;
		const char *why = NULL;
		char method[OSH_HTTP_METHOD_MAX + 1], path[512];
		int status = 0,
		    rc = len ? osh_l7_infer_parse_request(buf, len, &rq, &status, &why) : 0;
		int64_t t0;

		evinfo_init(&ev, cl, tls);
		if (rc == 0) {
			ssize_t k;

			if (rq.head.head_len && rq.expect_continue && !sent_continue) {
				sent_continue = true;
				if (write_str(io, "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
					break;
			}
			if (len == cap) {
				size_t nc = cap * 2 > BUF_LIMIT ? BUF_LIMIT : cap * 2;
				char *nb = nc > cap ? realloc(buf, nc) : NULL;

				if (!nb) {
					ev.status = nc > cap ? 500 : 413;
					ev.reason = nc > cap ? "out of memory"
							     : "request larger than 10 MiB";
					osh_l7_infer_ev_bad_request(&ev);
					answer_error(io, ev.status, ev.reason, NULL, true);
					break;
				}
				buf = nb;
				cap = nc;
			}
			k = io->read(io->ctx, buf + len, cap - len);
			if (k <= 0) {
				if (len > 0) { /* the client stopped in the middle of a request */
					ev.status = k < 0 && errno == ETIMEDOUT ? 408 : 400;
					ev.reason =
					    k < 0 && errno == ETIMEDOUT
						? "request not received in time"
						: "connection closed in the middle of a request";
					osh_l7_infer_ev_bad_request(&ev);
					if (k < 0 && errno == ETIMEDOUT)
						answer_error(io, 408, ev.reason, NULL, true);
				}
				break;
			}
			len += (size_t)k;
			continue;
		}
		if (rc < 0) {
			ev.status = status;
			ev.reason = why;
			osh_l7_infer_ev_bad_request(&ev);
			answer_error(io, status, why, NULL, true);
			break;
		}
		/* a complete request */
		st->requests++;
		sent_continue = false;
		t0 = osh_time_mono_ms();
		snprintf(method, sizeof(method), "%.*s", (int)rq.head.method_len, rq.head.method);
		for (char *c = method; *c; c++)
			*c = *c >= 'a' && *c <= 'z' ? (char)(*c - 32) : *c;
		{
			const char *q = memchr(rq.path, '?', rq.path_len);
			size_t pl = q ? (size_t)(q - rq.path) : rq.path_len;

			snprintf(path, sizeof(path), "%.*s", (int)pl, rq.path);
		}
		ev.method = method;
		ev.path = path;
		ev.proto =
		    osh_l7_infer_classify(rq.head.method, rq.head.method_len, rq.path, rq.path_len);
		if (!ev.proto) {
			ev.status = 403;
			ev.reason = "connection not allowed by policy";
			st->refused++;
			end = !routed_any || !rq.keep_alive;
			osh_l7_infer_ev_denied(&ev);
			if (answer_error(io, 403, ev.reason, NULL, end) != 0)
				end = true;
		} else if (!inf->routes || inf->routes->n == 0) {
			ev.status = 503;
			ev.reason = NOT_CONFIGURED;
			st->refused++;
			end = !rq.keep_alive;
			osh_l7_infer_ev_failed(&ev);
			if (answer_error(io, 503, NOT_CONFIGURED, NOT_CONF_HINT, end) != 0)
				end = true;
		} else if (!(ev.route = osh_l7_infer_route_pick(inf->routes, ev.proto))) {
			ev.status = 400;
			ev.reason = "no compatible inference route available";
			st->refused++;
			end = !rq.keep_alive;
			osh_l7_infer_ev_failed(&ev);
			if (answer_error(io, 400, ev.reason, NULL, end) != 0)
				end = true;
		} else {
			struct outcome oc;

			forward(inf, s, io, &rq, ev.route, &oc);
			ev.status = oc.status;
			ev.reason = oc.reason[0] ? oc.reason : NULL;
			ev.response_bytes = oc.bytes;
			ev.truncated = oc.truncated;
			ev.duration_ms = osh_time_mono_ms() - t0;
			end = oc.end_conn || !rq.keep_alive;
			if (oc.status >= 200 && oc.status < 600 && oc.reason[0] == '\0') {
				st->routed++;
				routed_any = true;
				osh_l7_infer_ev_routed(&ev);
			} else if (oc.stream_broken || oc.truncated) {
				st->routed++;
				routed_any = true;
				osh_l7_infer_ev_routed(&ev);
				osh_l7_infer_ev_chunk_error(&ev);
			} else {
				st->refused++;
				osh_l7_infer_ev_failed(&ev);
			}
		}
		/* the next request starts after this one */
		memmove(buf, buf + rq.consumed, len - rq.consumed);
		len -= rq.consumed;
		osh_l7_infer_req_fini(&rq);
	}
	osh_l7_infer_req_fini(&rq);
	free(buf);
}

void osh_l7_infer_serve(struct osh_l7_infer *inf, const struct osh_l7_io *io, const char *early,
			size_t n_early, bool tls, const struct osh_l7_infer_client *cl,
			struct osh_l7_infer_stats *st)
{
	serve_impl(inf, NULL, io, early, n_early, tls, cl, st);
}

/* ----------------------------------------------------------- sessions */

static void sess_end(struct sess *s)
{
	struct osh_l7_infer *inf = s->inf;

	close(s->fd);
	pthread_mutex_lock(&inf->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		inf->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	inf->n_sessions--;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
	free(s->early);
	free(s);
}

/* The first byte the client sends in the tunnel (without consuming it):
 * 1 with *b, 0 on EOF, -1 on error / timeout. */
static int peek_first(struct sess *s, unsigned timeout_ms, unsigned char *b)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	ssize_t k;
	int rc;

	if (s->n_early > 0) {
		*b = (unsigned char)s->early[0];
		return 1;
	}
	do {
		rc = poll(&p, 1, (int)timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return -1;
	do {
		k = recv(s->fd, b, 1, MSG_PEEK);
	} while (k < 0 && errno == EINTR);
	return k > 0 ? 1 : (k == 0 ? 0 : -1);
}

static void *sess_main(void *arg)
{
	static const char ok[] = "HTTP/1.1 200 Connection Established\r\n\r\n";
	struct sess *s = arg;
	struct osh_l7_infer *inf = s->inf;
	struct osh_l7_fdio fst;
	struct osh_l7_io fio;
	struct osh_l7_infer_evinfo ev;
	unsigned char first = 0;
	int rc;

	osh_l7_io_from_fd(&fio, &fst, s->fd, inf->client_timeout_ms);
	if (fio.write_all(fio.ctx, ok, sizeof(ok) - 1) != 0)
		goto out;
	rc = peek_first(s, inf->client_timeout_ms, &first);
	if (rc <= 0)
		goto out;    /* the client went away without asking anything */
	if (first == 0x16) { /* a TLS handshake record */
		const struct osh_l7_io *tio = NULL;
		void *tsess = NULL;
		char err[256] = "";

		evinfo_init(&ev, &s->cl, true);
		if (!inf->has_tls || s->n_early > 0) {
			ev.reason = !inf->has_tls
					? "TLS ClientHello in the inference.local tunnel, but "
					  "TLS termination is not available in this supervisor"
					: "TLS bytes sent before the tunnel was established";
			osh_l7_infer_ev_bad_request(&ev);
			goto out;
		}
		if (inf->tls.terminate(inf->tls.arg, s->fd, "inference.local", &tio, &tsess, err,
				       sizeof(err)) != 0) {
			ev.reason = err[0] ? err : "TLS handshake with the client failed";
			osh_l7_infer_ev_bad_request(&ev);
			goto out;
		}
		osh_l7_infer_ev_intercept(&ev);
		serve_impl(inf, s, tio, NULL, 0, true, &s->cl, NULL);
		if (tio->shutdown_write)
			tio->shutdown_write(tio->ctx);
		inf->tls.release(inf->tls.arg, tsess);
	} else {
		evinfo_init(&ev, &s->cl, false);
		osh_l7_infer_ev_intercept(&ev);
		serve_impl(inf, s, &fio, s->early, s->n_early, false, &s->cl, NULL);
		(void)shutdown(s->fd, SHUT_WR);
	}
out:
	sess_end(s);
	return NULL;
}

void osh_l7_infer_take(struct osh_l7_infer *inf, int fd, const char *early, size_t n_early,
		       const struct osh_l7_infer_client *cl)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
				   "application/json\r\nContent-Length: 44\r\nConnection: "
				   "close\r\n\r\n{\"error\":\"inference session limit reached\"}\n";
	struct sess *s = calloc(1, sizeof(*s));
	struct osh_l7_infer_evinfo ev;
	const char *refuse = NULL;
	pthread_attr_t attr;
	pthread_t thr;

	if (s && n_early > 0 && !(s->early = malloc(n_early))) {
		free(s);
		s = NULL;
	}
	pthread_mutex_lock(&inf->lock);
	if (!s)
		refuse = "out of memory";
	else if (inf->stopping)
		refuse = "supervisor stopping";
	else if (inf->n_sessions >= inf->max_sessions)
		refuse = "inference session limit reached";
	if (!refuse) {
		s->inf = inf;
		s->fd = fd;
		s->up_fd = -1;
		s->next = inf->sessions;
		if (inf->sessions)
			inf->sessions->prev = s;
		inf->sessions = s;
		inf->n_sessions++;
	}
	pthread_mutex_unlock(&inf->lock);
	if (!refuse) {
		if (n_early)
			memcpy(s->early, early, n_early);
		s->n_early = n_early;
		snprintf(s->src_ip, sizeof(s->src_ip), "%s", cl && cl->src_ip ? cl->src_ip : "");
		snprintf(s->exe, sizeof(s->exe), "%s", cl && cl->exe ? cl->exe : "");
		s->cl.src_ip = s->src_ip;
		s->cl.src_port = cl ? cl->src_port : 0;
		s->cl.pid = cl ? cl->pid : 0;
		s->cl.exe = s->exe[0] ? s->exe : NULL;
		s->cl.connect_port = cl ? cl->connect_port : 0;
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
		    pthread_attr_init(&attr) != 0) {
			refuse = "cannot start a session";
		} else {
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&thr, &attr, sess_main, s) != 0)
				refuse = "cannot start a session thread";
			pthread_attr_destroy(&attr);
		}
		if (refuse) {
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* best effort */
			}
			evinfo_init(&ev, cl, false);
			ev.status = 503;
			ev.reason = refuse;
			osh_l7_infer_ev_bad_request(&ev);
			sess_end(s); /* closes fd */
		}
		return;
	}
	if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* best effort: the client may be gone */
	}
	close(fd);
	evinfo_init(&ev, cl, false);
	ev.status = 503;
	ev.reason = refuse;
	osh_l7_infer_ev_bad_request(&ev);
	if (s)
		free(s->early);
	free(s);
}

unsigned osh_l7_infer_sessions(struct osh_l7_infer *inf)
{
	unsigned n;

	pthread_mutex_lock(&inf->lock);
	n = inf->n_sessions;
	pthread_mutex_unlock(&inf->lock);
	return n;
}

/* ---------------------------------------------------------- lifecycle */

int osh_l7_infer_create(const struct osh_l7_infer_config *cfg, struct osh_l7_infer **out, char *err,
			size_t errlen)
{
	struct osh_l7_infer *inf = calloc(1, sizeof(*inf));
	int rc = 0;

	*out = NULL;
	if (!inf) {
		osh_l7_infer_routes_free(cfg->routes);
		snprintf(err, errlen, "out of memory");
		return OSH_ENOMEM;
	}
	inf->routes = cfg->routes;
	inf->max_sessions = cfg->max_sessions ? cfg->max_sessions : 64;
	inf->client_timeout_ms = cfg->client_timeout_ms ? cfg->client_timeout_ms : 120000;
	inf->chunk_idle_ms = cfg->chunk_idle_ms ? cfg->chunk_idle_ms : 30000;
	inf->response_max = cfg->response_max ? cfg->response_max : OSH_L7_INFER_RESPONSE_MAX;
	if (cfg->tls && cfg->tls->terminate && cfg->tls->release) {
		inf->tls = *cfg->tls;
		inf->has_tls = true;
	}
	pthread_mutex_init(&inf->lock, NULL);
	pthread_cond_init(&inf->cond, NULL);
	inf->up_ctx = SSL_CTX_new(TLS_client_method());
	if (!inf->up_ctx) {
		snprintf(err, errlen, "cannot create the TLS client context");
		rc = OSH_ENOMEM;
	} else {
		SSL_CTX_set_min_proto_version(inf->up_ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(inf->up_ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_options(inf->up_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
		if (SSL_CTX_set_default_verify_paths(inf->up_ctx) != 1)
			ERR_clear_error(); /* no system store: only the CA file verifies */
		if (cfg->upstream_ca_file &&
		    SSL_CTX_load_verify_locations(inf->up_ctx, cfg->upstream_ca_file, NULL) != 1) {
			snprintf(err, errlen, "%s: cannot load the CA bundle",
				 cfg->upstream_ca_file);
			ERR_clear_error();
			rc = OSH_EIO;
		}
	}
	if (rc != 0) {
		osh_l7_infer_destroy(inf);
		return rc;
	}
	osh_l7_infer_ev_routes_loaded(inf->routes);
	*out = inf;
	return 0;
}

void osh_l7_infer_stop(struct osh_l7_infer *inf)
{
	if (!inf)
		return;
	pthread_mutex_lock(&inf->lock);
	inf->stopping = true;
	for (struct sess *s = inf->sessions; s; s = s->next) {
		(void)shutdown(s->fd, SHUT_RDWR);
		if (s->up_fd >= 0)
			(void)shutdown(s->up_fd, SHUT_RDWR);
	}
	while (inf->n_sessions > 0)
		pthread_cond_wait(&inf->cond, &inf->lock);
	pthread_mutex_unlock(&inf->lock);
}

void osh_l7_infer_destroy(struct osh_l7_infer *inf)
{
	if (!inf)
		return;
	osh_l7_infer_stop(inf);
	SSL_CTX_free(inf->up_ctx);
	osh_l7_infer_routes_free(inf->routes);
	pthread_cond_destroy(&inf->cond);
	pthread_mutex_destroy(&inf->lock);
	free(inf);
}
