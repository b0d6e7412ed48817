/* proxy.c - the egress proxy's event loop and decision workers (see
 * osh_proxy.h for the design).
 *
 * DESIGN (connection states, owned by the I/O thread unless noted)
 *   HEAD     reading the request head into cbuf; deadline = head timeout
 *   DECIDE   handed to a worker (not in epoll; the worker owns it)
 *   TUNNEL   relaying: cbuf client->upstream (after `pre`, the rewritten
 *            forward head, if any), ubuf upstream->client; half-closes
 *            are propagated with shutdown(SHUT_WR)
 *   HANDED   the worker handed both fds to L7 inspection (proxy_l7.h);
 *            the I/O thread only frees the record
 *   REFUSE   writing a refusal from ubuf, then shutdown(SHUT_WR) and
 *            draining what the client still sends for up to 2 s so the
 *            kernel does not reset the answer away (LINGER)
 * Level-triggered epoll; each socket's interest set is recomputed from the
 * buffers after every event and changed only when it differs.
 */
#include "osh_proxy.h"
#include "osh_secret.h"

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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "l7_sites.h"
#include "osh_denials.h"
#include "proxy_http.h"
#include "proxy_ident.h"
#include "proxy_l7.h"
#include "proxy_policy.h"
#include "proxy_sites.h"
#include "proxy_ssrf.h"
#include "osh_time.h"

#define BUF_CAP	  16384u
#define LINGER_MS 2000
#define MAX_ADDRS 16
#define VIA	  "1.1 openshell-sandbox"

enum cst { ST_HEAD, ST_DECIDE, ST_TUNNEL, ST_REFUSE, ST_LINGER, ST_HANDED };

struct buf {
	char d[BUF_CAP];
	size_t off, len;
};

struct conn;

struct end {
	struct conn *c;
	int fd;
	uint32_t interest; /* events currently registered; 0 = not in epoll */
	bool eof;	   /* read side saw EOF */
	bool shut;	   /* we shut its write side */
};

struct conn {
	struct conn *prev, *next; /* all connections (I/O thread) */
	struct conn *qnext;	  /* job / done queue link */
	enum cst st;
	bool dead; /* freed at the end of the current event batch */
	struct end cl, up;
	struct buf cbuf; /* request head, then client -> upstream */
	struct buf ubuf; /* refusal / 200, then upstream -> client */
	char *pre;	 /* rewritten forward head to send upstream first */
	size_t pre_len, pre_off;
	int64_t deadline; /* ms, CLOCK_MONOTONIC; 0 = none */
	struct sockaddr_storage peer, local;
	char src_ip[INET6_ADDRSTRLEN];
	uint16_t src_port;
	struct osh_http_req req;
};

struct osh_proxy {
	struct osh_proxy_config cfg;
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	int lfd, epfd, wakefd;
	struct sockaddr_storage laddr; /* the listener's address */
	bool laddr_fixed;	       /* not a wildcard: every conn's local address */
	struct osh_proxy_ident *ident;
	struct osh_proxy_l7 *l7; /* inspection threads */

	pthread_mutex_t eng_lock;
	struct osh_proxy_engine *engine;

	pthread_t loop_thr;
	pthread_t *workers;
	unsigned n_workers;
	bool started, stopped;
	int stop_loop; /* atomic */

	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct conn *jobs_head, *jobs_tail;
	struct conn *done_head;
	bool stop_workers;

	struct conn *all;   /* I/O thread only */
	struct conn *grave; /* closed in this batch, freed after it */
	unsigned n_conns;

	struct osh_proxy_stats st; /* atomics */
};

static char listen_tag, wake_tag;

static void count(uint64_t *c, int64_t d)
{
	__atomic_add_fetch(c, (uint64_t)d, __ATOMIC_RELAXED);
}

void osh_proxy_config_default(struct osh_proxy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bind_ip = "127.0.0.1";
	cfg->max_conns = 512;
	cfg->head_timeout_ms = 10000;
	cfg->connect_timeout_ms = 5000;
	cfg->workers = 4;
	cfg->netns_fd = -1;
}

/* ------------------------------------------------------------ answers */

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 501:
		return "Not Implemented";
	case 500:
		return "Internal Server Error";
	case 421:
		return "Misdirected Request";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

/* Writes a refusal into b: the reason (made header-safe) in
 * X-OpenShell-Reason and as the body. */
static void refusal(struct buf *b, int status, const char *reason)
{
	char safe[OSH_PROXY_REASON_MAX];
	size_t n = 0;
	int w;

	for (; reason[n] && n + 1 < sizeof(safe); n++) {
		unsigned char c = (unsigned char)reason[n];

		safe[n] = (char)(c < 0x20 || c >= 0x7f ? '?' : c);
	}
	safe[n] = '\0';
	w = snprintf(b->d, sizeof(b->d),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "X-OpenShell-Reason: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
		     "%s\n",
		     status, status_text(status), safe, n + 1, safe);
	b->off = 0;
	b->len = w > 0 && (size_t)w < sizeof(b->d) ? (size_t)w : 0;
}

/* --------------------------------------------------------- upstream */

static int connect_one(const struct sockaddr_storage *sa, unsigned timeout_ms, int *out, int *err)
{
	socklen_t len =
	    sa->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rc = 0;

	*err = 0;
	if (fd < 0) {
		*err = errno;
		rc = OSH_ESYS;
	} else {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (fd >= 0 && connect(fd, (const struct sockaddr *)sa, len) != 0) {
		if (errno != EINPROGRESS) {
			*err = errno;
			rc = OSH_EIO;
		} else {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int pr, soerr = 0;
			socklen_t sl = sizeof(soerr);

			do
				pr = poll(&p, 1, (int)timeout_ms);
			while (pr < 0 && errno == EINTR);
			if (pr == 0) {
				*err = ETIMEDOUT;
				rc = OSH_ETIMEDOUT;
			} else if (pr < 0 ||
				   getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
				   soerr != 0) {
				*err = soerr ? soerr : errno;
				rc = OSH_EIO;
			}
		}
	}
	if (rc != 0 && fd >= 0)
		close(fd);
	else if (rc == 0)
		*out = fd;
	return rc;
}

/* ---------------------------------------------------- forward rewrite */

static bool hdr_is(const struct osh_http_hdr *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* Is header h named as a token in any Connection header? */
static bool named_by_connection(const struct osh_http_req *req, const struct osh_http_hdr *h)
{
	for (size_t i = 0; i < req->n_hdr; i++) {
		const struct osh_http_hdr *c = &req->hdr[i];
		size_t s = 0;

		if (!hdr_is(c, "connection"))
			continue;
		for (size_t k = 0; k <= c->value_len; k++) {
			if (k == c->value_len || c->value[k] == ',') {
				const char *t = c->value + s;
				size_t tn = k - s;

				while (tn && (*t == ' ' || *t == '\t')) {
					t++;
					tn--;
				}
				while (tn && (t[tn - 1] == ' ' || t[tn - 1] == '\t'))
					tn--;
				if (tn == h->name_len && strncasecmp(t, h->name, tn) == 0)
					return true;
				s = k + 1;
			}
		}
	}
	return false;
}

static bool hop_by_hop(const struct osh_http_hdr *h)
{
	static const char *const names[] = {"connection",
					    "keep-alive",
					    "proxy-connection",
					    "proxy-authorization",
					    "proxy-authenticate",
					    "te",
					    "trailer",
					    "upgrade",
					    "host"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (hdr_is(h, names[i]))
			return true;
	return false;
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (s && n > 0 && o->len + n <= o->cap) {
		memcpy(o->p + o->len, s, n);
		o->len += n;
	}
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* origin-form request line, Host from the URL, hop-by-hop headers dropped,
 * Via appended, Connection: close. Returns NULL on allocation failure. */
static char *rewrite(const struct osh_http_req *req, const struct osh_http_target *t,
		     const char *path, size_t path_len, size_t *len)
{
	struct out o = {.cap = req->head_len + path_len + 512};
	char port[16];
	bool via = false;

	o.p = malloc(o.cap);
	if (!o.p)
		return NULL;
	put(&o, req->method, req->method_len);
	puts_(&o, " ");
	put(&o, path, path_len);
	puts_(&o, req->minor ? " HTTP/1.1\r\nHost: " : " HTTP/1.0\r\nHost: ");
	if (t->is_ipv6)
		puts_(&o, "[");
	puts_(&o, t->host);
	if (t->is_ipv6)
		puts_(&o, "]");
	if (t->port != 80) {
		snprintf(port, sizeof(port), ":%u", t->port);
		puts_(&o, port);
	}
	puts_(&o, "\r\n");
	for (size_t i = 0; i < req->n_hdr; i++) {
		const struct osh_http_hdr *h = &req->hdr[i];

		if (hop_by_hop(h) || named_by_connection(req, h))
			continue;
		put(&o, h->name, h->name_len);
		puts_(&o, ": ");
		put(&o, h->value, h->value_len);
		if (hdr_is(h, "via")) {
			puts_(&o, ", " VIA);
			via = true;
		}
		puts_(&o, "\r\n");
	}
	if (!via)
		puts_(&o, "Via: " VIA "\r\n");
	puts_(&o, "Connection: close\r\n\r\n");
	*len = o.len;
	return o.p;
}

/* Secret placeholders in the rewritten head c->pre become their values
 * (osh_secret.h) once the request is allowed, so the decision and its event
 * only ever see placeholders. 0, or -1 with reason set (never a value)
 * and c->pre freed: the request must not go out. */
static int put_secrets(const struct osh_proxy *px, struct conn *c, char *reason, size_t rlen)
{
	const struct osh_secret_store *ss = px->cfg.secrets ? *px->cfg.secrets : NULL;
	char *sub = NULL;
	size_t sub_len = 0;
	unsigned n = 0;
	char why[160];
	int rc =
	    osh_secret_substitute(ss, c->pre, c->pre_len, &sub, &sub_len, &n, why, sizeof(why));

	if (rc != 0) {
		snprintf(reason, rlen, "secret placeholder refused: %s", why);
		free(c->pre);
		c->pre = NULL;
		c->pre_len = 0;
		rc = -1;
	} else if (n > 0) {
		explicit_bzero(c->pre, c->pre_len);
		free(c->pre);
		c->pre = sub;
		c->pre_len = sub_len;
	}
	return rc;
}

/* ------------------------------------------------------------ decide */

static struct osh_proxy_engine *engine_get(struct osh_proxy *px)
{
	struct osh_proxy_engine *e;

	pthread_mutex_lock(&px->eng_lock);
	e = osh_proxy_engine_ref(px->engine);
	pthread_mutex_unlock(&px->eng_lock);
	return e;
}

static struct osh_proxy_engine *engine_now(void *ud)
{
	return engine_get(ud);
}

struct job {
	struct osh_proxy_evinfo in;
	struct osh_proxy_peer peer;
	struct osh_proxy_verdict v;
	struct osh_http_target t;
	char method[OSH_HTTP_METHOD_MAX + 1];
	char path[OSH_HTTP_HEAD_MAX];
	char dst_ip[INET6_ADDRSTRLEN];
	char reason[OSH_PROXY_REASON_MAX];
};

/* Hands an allowed connection to an endpoint with L7 rules over (see
 * proxy_l7.h). 0 = handed (the conn is HANDED, its fds gone, the L4 event
 * emitted), 1 = not inspected (a CONNECT to a `tls: skip` endpoint; SQL:
 * the finding is emitted) and the caller opens the plain tunnel, else OSH_EFULL / OSH_ENOMEM /
 * OSH_ESYS (the caller still owns ufd and refuses with 503). */
static int l7_handoff(struct osh_proxy *px, struct osh_proxy_engine *eng, struct conn *c,
		      struct job *j, bool is_connect, int ufd)
{
	const struct osh_http_req *rq = &c->req;
	struct osh_proxy_l7_req r = {
	    .cfd = c->cl.fd,
	    .ufd = ufd,
	    .pre = is_connect ? c->cbuf.d + rq->head_len : c->cbuf.d,
	    .pre_len = is_connect ? c->cbuf.len - rq->head_len : c->cbuf.len,
	    .is_connect = is_connect,
	    .t = &j->t,
	    .src_ip = c->src_ip,
	    .dst_ip = j->dst_ip,
	    .src_port = c->src_port,
	    .peer = &j->peer,
	    .v = &j->v,
	};
	int rc;

	if (is_connect && osh_l7_rules_tls_skip(j->v.ep->l7))
		return 1; /* tls: skip: the tunnel stays opaque */
	if (osh_l7_rules_proto(j->v.ep->l7) != OSH_L7_REST) {
		struct osh_l7_evctx ev = {.src_ip = c->src_ip,
					  .src_port = c->src_port,
					  .host = j->t.host,
					  .port = j->t.port,
					  .dst_ip = j->dst_ip,
					  .exe = j->peer.exe,
					  .pid = j->peer.pid,
					  .anc = j->peer.anc,
					  .anc_pid = j->peer.anc_pid,
					  .n_anc = j->peer.n_anc,
					  .policy = j->v.policy,
					  .generation = j->in.generation};

		osh_l7_ev_sql(&ev);
		return 1;
	}
	r.eng = eng;
	rc = osh_proxy_l7_handoff(px->l7, &r);
	if (rc == 0) {
		if (is_connect)
			osh_proxy_ev_connect(&j->in, true);
		c->cl.fd = -1;
		c->st = ST_HANDED;
		count(&px->st.allowed, 1);
		count(&px->st.l7_handed, 1);
	}
	return rc;
}

/* Tells the denial aggregator (osh_denials.h) about a refusal: the denials
 * subsystem turns repeated ones into policy proposals. */
static void record_denial(const struct job *j, enum osh_denial_stage stage)
{
	const struct osh_proxy_peer *pe = j->in.peer;
	struct osh_denial d = {.host = j->t.host,
			       .port = j->t.port,
			       .binary = pe ? pe->exe : NULL,
			       .ancestors = pe ? pe->anc : NULL,
			       .n_ancestors = pe ? pe->n_anc : 0,
			       .reason = j->reason,
			       .stage = stage};

	osh_denials_record(&d);
}

/* Runs on a worker: decides the connection and, when allowed, connects
 * upstream. On return the conn is TUNNEL (ufd set, ubuf/pre/cbuf ready) or
 * REFUSE (ubuf holds the answer). One event per outcome. */
static void decide(struct osh_proxy *px, struct conn *c, struct job *j)
{
	const struct osh_http_req *rq = &c->req;
	bool is_connect = osh_http_method_is(rq, "CONNECT");
	struct osh_proxy_engine *eng = engine_get(px);
	struct sockaddr_storage addrs[MAX_ADDRS];
	struct osh_proxy_who who = {0};
	const char *why = NULL, *path = NULL;
	size_t n_addrs = 0, path_len = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	enum osh_addr_class cls;
	char portstr[8];
	int rc, gai, cerr = 0, ufd = -1;

	memset(&j->in, 0, sizeof(j->in));
	j->in.src_ip = c->src_ip;
	j->in.src_port = c->src_port;
	j->in.generation = eng ? osh_proxy_engine_generation(eng) : 0;
	snprintf(j->method, sizeof(j->method), "%.*s", (int)rq->method_len, rq->method);
	if (!is_connect)
		j->in.method = j->method;

	/* 1. target */
	if (is_connect)
		rc = osh_http_parse_connect_target(rq->target, rq->target_len, &j->t, &why);
	else
		rc = osh_http_parse_absolute(rq->target, rq->target_len, &j->t, &path, &path_len,
					     &why);
	if (rc != 0) {
		snprintf(j->reason, sizeof(j->reason), "invalid %s target: %s",
			 is_connect ? "CONNECT" : "request", why);
		j->in.reason = j->reason;
		j->in.status = 400;
		osh_proxy_ev_bad_request(&j->in);
		refusal(&c->ubuf, 400, j->reason);
		count(&px->st.bad_requests, 1);
		goto refuse;
	}
	j->in.host = j->t.host;
	j->in.port = j->t.port;
	if (path) {
		snprintf(j->path, sizeof(j->path), "%.*s", (int)path_len, path);
		j->in.path = j->path;
	}

	/* 2. who */
	rc = osh_proxy_ident_lookup(px->ident, &c->peer, &c->local, &j->peer, j->reason,
				    sizeof(j->reason));
	if (rc == 0) {
		j->in.peer = &j->peer;
		who.exe = j->peer.exe;
		who.ancestors = j->peer.anc;
		who.n_ancestors = j->peer.n_anc;
		who.cmdline = j->peer.cmd;
		who.n_cmdline = j->peer.n_cmd;
		/* 3. policy (argv paths are read only for a deny reason) */
		osh_proxy_engine_decide(eng, j->t.host, j->t.port, &who, &j->v);
		if (!j->v.allow) {
			osh_proxy_ident_cmdline(&j->peer);
			who.cmdline = j->peer.cmd;
			who.n_cmdline = j->peer.n_cmd;
			osh_proxy_engine_decide(eng, j->t.host, j->t.port, &who, &j->v);
			snprintf(j->reason, sizeof(j->reason), "%s", j->v.reason);
		}
	}
	if (rc != 0 || !j->v.allow) {
		j->in.reason = j->reason;
		j->in.status = 403;
		if (is_connect)
			osh_proxy_ev_connect(&j->in, false);
		else
			osh_proxy_ev_forward(&j->in, false);
		record_denial(j, is_connect ? OSH_DENIAL_CONNECT : OSH_DENIAL_FORWARD);
		refusal(&c->ubuf, 403, j->reason);
		count(&px->st.denied, 1);
		goto refuse;
	}
	j->in.policy = j->v.policy;

	/* 4. resolve once, check every address */
	snprintf(portstr, sizeof(portstr), "%u", j->t.port);
	gai = getaddrinfo(j->t.host, portstr, &hints, &res);
	for (struct addrinfo *a = gai == 0 ? res : NULL; a && n_addrs < MAX_ADDRS; a = a->ai_next)
		if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
			memcpy(&addrs[n_addrs++], a->ai_addr, a->ai_addrlen);
	if (res)
		freeaddrinfo(res);
	if (gai != 0 || n_addrs == 0) {
		snprintf(j->reason, sizeof(j->reason), "DNS resolution failed for %s:%u: %s",
			 j->t.host, j->t.port, gai ? gai_strerror(gai) : "no address");
		j->in.reason = j->reason;
		j->in.status = 502;
		osh_proxy_ev_upstream_fail(&j->in);
		refusal(&c->ubuf, 502, j->reason);
		count(&px->st.upstream_failed, 1);
		goto refuse;
	}
	rc = osh_proxy_ssrf_check(
	    j->t.host, j->t.port, addrs, n_addrs, j->v.ep ? j->v.ep->allowed : NULL,
	    j->v.ep ? j->v.ep->n_allowed : 0, j->reason, sizeof(j->reason), &cls);
	if (rc != 0) {
		j->in.reason = j->reason;
		j->in.status = 403;
		if (is_connect)
			osh_proxy_ev_connect(&j->in, false);
		else
			osh_proxy_ev_forward(&j->in, false);
		osh_proxy_ev_ssrf(&j->in, cls);
		record_denial(j, OSH_DENIAL_SSRF);
		refusal(&c->ubuf, 403, j->reason);
		count(&px->st.denied, 1);
		goto refuse;
	}

	/* 5. connect to exactly the checked addresses, in order */
	for (size_t i = 0; i < n_addrs && ufd < 0; i++) {
		osh_proxy_addr_text((const struct sockaddr *)&addrs[i], j->dst_ip,
				    sizeof(j->dst_ip));
		if (connect_one(&addrs[i], px->cfg.connect_timeout_ms, &ufd, &cerr) != 0)
			ufd = -1;
	}
	if (ufd < 0) {
		snprintf(j->reason, sizeof(j->reason), "upstream %s:%u (%s) unreachable: %s",
			 j->t.host, j->t.port, j->dst_ip, strerror(cerr));
		j->in.reason = j->reason;
		j->in.dst_ip = j->dst_ip;
		j->in.status = 502;
		osh_proxy_ev_upstream_fail(&j->in);
		refusal(&c->ubuf, 502, j->reason);
		count(&px->st.upstream_failed, 1);
		goto refuse;
	}
	j->in.dst_ip = j->dst_ip;

	/* 5b. endpoints with L7 rules: SQL is audited passthrough (a finding,
	 * then the plain tunnel below); REST goes to the inspection threads */
	if (j->v.ep && j->v.ep->l7) {
		rc = l7_handoff(px, eng, c, j, is_connect, ufd);
		if (rc == 0)
			goto out;
		if (rc != 1) {
			close(ufd);
			snprintf(j->reason, sizeof(j->reason), "%s",
				 rc == OSH_EFULL ? "L7 inspection connection limit reached"
						 : "L7 inspection unavailable (out of resources)");
			refusal(&c->ubuf, 503, j->reason);
			count(&px->st.limited, 1);
			goto refuse;
		}
	}

	/* 6. open: the answer or the rewritten head, bytes after the head kept */
	if (is_connect) {
		static const char ok[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

		memcpy(c->ubuf.d, ok, sizeof(ok) - 1);
		c->ubuf.off = 0;
		c->ubuf.len = sizeof(ok) - 1;
		osh_proxy_ev_connect(&j->in, true);
	} else {
		c->pre = rewrite(rq, &j->t, path, path_len, &c->pre_len);
		if (!c->pre) {
			close(ufd);
			snprintf(j->reason, sizeof(j->reason),
				 "out of memory rewriting the request");
			refusal(&c->ubuf, 502, j->reason);
			goto refuse;
		}
		if (put_secrets(px, c, j->reason, sizeof(j->reason)) != 0) {
			close(ufd);
			j->in.reason = j->reason;
			j->in.status = 500;
			osh_proxy_ev_forward(&j->in, false);
			refusal(&c->ubuf, 500, j->reason);
			count(&px->st.denied, 1);
			goto refuse;
		}
		c->pre_off = 0;
		c->ubuf.off = c->ubuf.len = 0;
		j->in.status = 0;
		osh_proxy_ev_forward(&j->in, true);
	}
	c->cbuf.off = rq->head_len;
	c->cbuf.len -= rq->head_len;
	c->up.fd = ufd;
	c->st = ST_TUNNEL;
	count(&px->st.allowed, 1);
	goto out;
refuse:
	c->st = ST_REFUSE;
out:
	osh_proxy_engine_unref(eng);
}

static bool drain(struct end *to, const char *p, size_t *off, size_t *len);

/* Still on the worker, which owns the conn until it is queued back: sends
 * what is ready (the 200 or the refusal to the client; the rewritten head
 * and any early body bytes upstream) so the client and the origin need not
 * wait for the I/O thread to be scheduled first. Whatever does not fit, or
 * fails, is left for the I/O thread, which handles it as before. */
static void send_first(struct conn *c)
{
	bool ok = c->st != ST_HANDED && drain(&c->cl, c->ubuf.d, &c->ubuf.off, &c->ubuf.len);

	if (ok && c->st == ST_TUNNEL && c->pre_len)
		ok = drain(&c->up, c->pre, &c->pre_off, &c->pre_len);
	if (ok && c->st == ST_TUNNEL && !c->pre_len)
		drain(&c->up, c->cbuf.d, &c->cbuf.off, &c->cbuf.len);
}

static void *worker_main(void *arg)
{
	struct osh_proxy *px = arg;
	struct job *j = malloc(sizeof(*j));

	for (;;) {
		struct conn *c;
		uint64_t one = 1;

		pthread_mutex_lock(&px->q_lock);
		while (!px->jobs_head && !px->stop_workers)
			pthread_cond_wait(&px->q_cond, &px->q_lock);
		c = px->jobs_head;
		if (c) {
			px->jobs_head = c->qnext;
			if (!px->jobs_head)
				px->jobs_tail = NULL;
		}
		pthread_mutex_unlock(&px->q_lock);
		if (!c)
			break; /* stopping and nothing queued */
		if (j) {
			decide(px, c, j);
		} else {
			refusal(&c->ubuf, 503, "proxy out of memory");
			c->st = ST_REFUSE;
		}
		send_first(c);
		pthread_mutex_lock(&px->q_lock);
		c->qnext = px->done_head;
		px->done_head = c;
		pthread_mutex_unlock(&px->q_lock);
		if (write(px->wakefd, &one, sizeof(one)) < 0) {
			/* the counter only saturates; the loop polls the queue anyway */
		}
	}
	free(j);
	return NULL;
}

/* ------------------------------------------------------------ I/O loop */

static void set_interest(struct osh_proxy *px, struct end *e, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = e};

	if (e->fd < 0 || want == e->interest)
		return;
	if (want == 0)
		epoll_ctl(px->epfd, EPOLL_CTL_DEL, e->fd, NULL);
	else if (epoll_ctl(px->epfd, e->interest ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, e->fd, &ev) != 0)
		want = 0;
	e->interest = want;
}

/* Closes the sockets and unlinks the conn; the memory is released by
 * bury() once the current epoll batch (which may still name it) is done. */
static void conn_free(struct osh_proxy *px, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	set_interest(px, &c->cl, 0);
	set_interest(px, &c->up, 0);
	if (c->cl.fd >= 0)
		close(c->cl.fd);
	if (c->up.fd >= 0)
		close(c->up.fd);
	c->cl.fd = c->up.fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		px->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = px->grave;
	px->grave = c;
	px->n_conns--;
	count(&px->st.open, -1);
}

static void bury(struct osh_proxy *px)
{
	while (px->grave) {
		struct conn *c = px->grave;

		px->grave = c->next;
		free(c->pre);
		free(c);
	}
}

static void addr_of(const struct sockaddr_storage *ss, char *ip, size_t len, uint16_t *port)
{
	osh_proxy_addr_text((const struct sockaddr *)ss, ip, len);
	*port = ntohs(ss->ss_family == AF_INET
			  ? ((const struct sockaddr_in *)(const void *)ss)->sin_port
			  : ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
}

static void do_accept(struct osh_proxy *px)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer), ll;
		struct conn *c;
		int fd;

		memset(&peer, 0, sizeof(peer));
		fd = accept4(px->lfd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 || pl > sizeof(peer))
			break; /* EAGAIN, or a transient error: next event retries */
		count(&px->st.accepted, 1);
		if (px->n_conns >= px->cfg.max_conns || !(c = calloc(1, sizeof(*c)))) {
			static const char busy[] =
			    "HTTP/1.1 503 Service Unavailable\r\nX-OpenShell-Reason: proxy "
			    "connection limit reached\r\nContent-Length: 0\r\nConnection: "
			    "close\r\n\r\n";
			char ip[INET6_ADDRSTRLEN];
			uint16_t port;

			count(&px->st.limited, 1); /* before the client can see the answer */
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* best effort: the client may be gone already */
			}
			close(fd);
			addr_of(&peer, ip, sizeof(ip), &port);
			osh_proxy_ev_conn_limit(ip, port, px->cfg.max_conns);
			continue;
		}
		/* TCP_NODELAY is inherited from the listener; so is the local
		 * address unless the listener is bound to a wildcard */
		c->peer = peer;
		ll = sizeof(c->local);
		if (px->laddr_fixed)
			c->local = px->laddr;
		else
			getsockname(fd, (struct sockaddr *)&c->local, &ll);
		addr_of(&peer, c->src_ip, sizeof(c->src_ip), &c->src_port);
		c->cl.c = c->up.c = c;
		c->cl.fd = fd;
		c->up.fd = -1;
		c->st = ST_HEAD;
		c->deadline = osh_time_mono_ms() + px->cfg.head_timeout_ms;
		c->next = px->all;
		if (px->all)
			px->all->prev = c;
		px->all = c;
		px->n_conns++;
		count(&px->st.open, 1);
		set_interest(px, &c->cl, EPOLLIN | EPOLLRDHUP);
	}
}

static void start_refuse(struct osh_proxy *px, struct conn *c)
{
	c->st = ST_REFUSE;
	c->deadline = osh_time_mono_ms() + LINGER_MS;
	set_interest(px, &c->up, 0);
	set_interest(px, &c->cl, c->ubuf.len ? EPOLLOUT : EPOLLIN);
}

/* Reads more head bytes; hands a complete head to the workers. */
static void on_head(struct osh_proxy *px, struct conn *c)
{
	struct buf *b = &c->cbuf;
	struct osh_http_err herr;
	ssize_t n;
	int rc;

	n = recv(c->cl.fd, b->d + b->len, OSH_HTTP_HEAD_MAX - b->len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_free(px, c); /* gone before asking anything: nothing to log */
		return;
	}
	if (n < 0)
		return;
	b->len += (size_t)n;
	/* keep reading past the head? no: the bytes that came with it stay in b */
	rc = osh_http_parse_head(b->d, b->len, &c->req, &herr);
	if (rc == 0)
		return;
	if (rc < 0) {
		struct osh_proxy_evinfo in = {.src_ip = c->src_ip,
					      .src_port = c->src_port,
					      .reason = herr.reason,
					      .status = herr.status};

		osh_proxy_ev_bad_request(&in);
		count(&px->st.bad_requests, 1);
		refusal(&c->ubuf, herr.status, herr.reason);
		start_refuse(px, c);
		return;
	}
	/* the head is complete: read what else is buffered later, in TUNNEL */
	set_interest(px, &c->cl, 0);
	c->st = ST_DECIDE;
	c->deadline = 0;
	pthread_mutex_lock(&px->q_lock);
	c->qnext = NULL;
	if (px->jobs_tail)
		px->jobs_tail->qnext = c;
	else
		px->jobs_head = c;
	px->jobs_tail = c;
	pthread_cond_signal(&px->q_cond);
	pthread_mutex_unlock(&px->q_lock);
}

/* Moves bytes from `from` into b; returns false on a fatal error. */
static bool fill(struct end *from, struct buf *b)
{
	ssize_t n;

	if (b->len == 0)
		b->off = 0;
	if (b->off + b->len == BUF_CAP && b->off > 0) {
		memmove(b->d, b->d + b->off, b->len);
		b->off = 0;
	}
	if (b->off + b->len == BUF_CAP)
		return true;
	n = recv(from->fd, b->d + b->off + b->len, BUF_CAP - b->off - b->len, 0);
	if (n > 0)
		b->len += (size_t)n;
	else if (n == 0)
		from->eof = true;
	else if (errno != EAGAIN && errno != EINTR)
		return false;
	return true;
}

/* Sends from p[0..*len) advancing *off; false on a fatal error. */
static bool drain(struct end *to, const char *p, size_t *off, size_t *len)
{
	ssize_t n;

	if (*len == 0)
		return true;
	n = send(to->fd, p + *off, *len, MSG_NOSIGNAL);
	if (n > 0) {
		*off += (size_t)n;
		*len -= (size_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		return false;
	}
	return true;
}

static void tunnel_interest(struct osh_proxy *px, struct conn *c)
{
	uint32_t cw = 0, uw = 0;
	bool up_pending = c->pre_len > 0 || c->cbuf.len > 0;

	if (!c->cl.eof && c->cbuf.off + c->cbuf.len < BUF_CAP)
		cw |= EPOLLIN;
	if (c->ubuf.len > 0)
		cw |= EPOLLOUT;
	if (!c->up.eof && c->ubuf.off + c->ubuf.len < BUF_CAP)
		uw |= EPOLLIN;
	if (up_pending)
		uw |= EPOLLOUT;
	/* a full buffer whose data sits at an offset is compacted on next fill */
	if (!c->cl.eof && c->cbuf.off + c->cbuf.len == BUF_CAP && c->cbuf.off > 0)
		cw |= EPOLLIN;
	if (!c->up.eof && c->ubuf.off + c->ubuf.len == BUF_CAP && c->ubuf.off > 0)
		uw |= EPOLLIN;
	set_interest(px, &c->cl, cw);
	set_interest(px, &c->up, uw);
}

/* One pump step in both directions; frees the conn when both are done. */
static void on_tunnel(struct osh_proxy *px, struct conn *c, struct end *e, uint32_t events)
{
	bool ok = true;

	if (events & EPOLLIN)
		ok = fill(e, e == &c->cl ? &c->cbuf : &c->ubuf);
	if (ok && c->pre_len)
		ok = drain(&c->up, c->pre, &c->pre_off, &c->pre_len);
	if (ok && !c->pre_len)
		ok = drain(&c->up, c->cbuf.d, &c->cbuf.off, &c->cbuf.len);
	if (ok)
		ok = drain(&c->cl, c->ubuf.d, &c->ubuf.off, &c->ubuf.len);
	if ((events & (EPOLLERR)) && !(events & EPOLLIN))
		ok = false;
	if (ok && c->cl.eof && !c->pre_len && c->cbuf.len == 0 && !c->up.shut) {
		shutdown(c->up.fd, SHUT_WR);
		c->up.shut = true;
	}
	if (ok && c->up.eof && c->ubuf.len == 0 && !c->cl.shut) {
		shutdown(c->cl.fd, SHUT_WR);
		c->cl.shut = true;
	}
	if (!ok || (c->up.shut && c->cl.shut)) {
		conn_free(px, c);
		return;
	}
	tunnel_interest(px, c);
}

static void on_refuse(struct osh_proxy *px, struct conn *c, uint32_t events)
{
	char sink[4096];
	ssize_t n;

	if (c->st == ST_REFUSE) {
		if (!drain(&c->cl, c->ubuf.d, &c->ubuf.off, &c->ubuf.len)) {
			conn_free(px, c);
			return;
		}
		if (c->ubuf.len == 0) {
			shutdown(c->cl.fd, SHUT_WR);
			c->st = ST_LINGER;
			set_interest(px, &c->cl, EPOLLIN | EPOLLRDHUP);
		}
		return;
	}
	/* LINGER: discard until EOF (or the deadline sweep closes it) */
	n = recv(c->cl.fd, sink, sizeof(sink), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || (events & EPOLLERR))
		conn_free(px, c);
}

static void take_done(struct osh_proxy *px)
{
	struct conn *c;
	uint64_t v;

	if (read(px->wakefd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to clear */
	}
	pthread_mutex_lock(&px->q_lock);
	c = px->done_head;
	px->done_head = NULL;
	pthread_mutex_unlock(&px->q_lock);
	while (c) {
		struct conn *next = c->qnext;

		if (c->st == ST_TUNNEL) {
			c->cl.interest = 0;
			on_tunnel(px, c, &c->cl, 0);
		} else if (c->st == ST_HANDED) {
			conn_free(px, c); /* the fds are L7's: nothing to close */
		} else {
			start_refuse(px, c);
			if (c->ubuf.len == 0) /* the worker sent it all: close now */
				on_refuse(px, c, 0);
		}
		c = next;
	}
}

static void sweep(struct osh_proxy *px)
{
	int64_t now = osh_time_mono_ms();
	struct conn *c = px->all;

	while (c) {
		struct conn *next = c->next;

		if (c->deadline && now >= c->deadline) {
			if (c->st == ST_HEAD) {
				osh_proxy_ev_head_timeout(c->src_ip, c->src_port,
							  px->cfg.head_timeout_ms,
							  (unsigned long)c->cbuf.len);
				count(&px->st.timeouts, 1);
				refusal(&c->ubuf, 408, "request head not received in time");
				start_refuse(px, c);
			} else {
				conn_free(px, c);
			}
		}
		c = next;
	}
}

static void *loop_main(void *arg)
{
	struct osh_proxy *px = arg;
	struct epoll_event evs[64];

	while (!__atomic_load_n(&px->stop_loop, __ATOMIC_ACQUIRE)) {
		int n = epoll_wait(px->epfd, evs, 64, 250);

		for (int i = 0; i < n; i++) {
			struct end *e = evs[i].data.ptr;
			struct conn *c;

			if (evs[i].data.ptr == &listen_tag) {
				do_accept(px);
				continue;
			}
			if (evs[i].data.ptr == &wake_tag) {
				take_done(px);
				continue;
			}
			c = e->c;
			if (c->dead)
				continue;
			if (c->st == ST_HEAD)
				on_head(px, c);
			else if (c->st == ST_TUNNEL)
				on_tunnel(px, c, e, evs[i].events);
			else if (c->st == ST_REFUSE || c->st == ST_LINGER)
				on_refuse(px, c, evs[i].events);
		}
		sweep(px);
		bury(px);
	}
	return NULL;
}

/* ---------------------------------------------------------- lifecycle */

int osh_proxy_create(const struct osh_proxy_config *cfg_in, struct osh_proxy **out, char *err,
		     size_t errlen)
{
	struct osh_proxy_config defaults;
	struct osh_proxy *px = calloc(1, sizeof(*px));
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct epoll_event ev;
	char port[8];
	const char *what = NULL;
	int one = 1, rc = 0;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	osh_proxy_config_default(&defaults);
	if (!px) {
		snprintf(err, errlen, "out of memory");
		return OSH_ENOMEM;
	}
	px->cfg = *cfg_in;
	if (!px->cfg.bind_ip || !*px->cfg.bind_ip)
		px->cfg.bind_ip = defaults.bind_ip;
	if (!px->cfg.max_conns)
		px->cfg.max_conns = defaults.max_conns;
	if (!px->cfg.head_timeout_ms)
		px->cfg.head_timeout_ms = defaults.head_timeout_ms;
	if (!px->cfg.connect_timeout_ms)
		px->cfg.connect_timeout_ms = defaults.connect_timeout_ms;
	if (!px->cfg.workers)
		px->cfg.workers = defaults.workers;
	px->lfd = px->epfd = px->wakefd = -1;
	pthread_mutex_init(&px->eng_lock, NULL);
	pthread_mutex_init(&px->q_lock, NULL);
	pthread_cond_init(&px->q_cond, NULL);
	snprintf(px->ip, sizeof(px->ip), "%s", px->cfg.bind_ip);

	snprintf(port, sizeof(port), "%u", px->cfg.port);
	if (getaddrinfo(px->cfg.bind_ip, port, &hints, &ai) != 0) {
		snprintf(err, errlen, "bind address '%s' is not an IP literal", px->cfg.bind_ip);
		osh_proxy_ev_listen_failed(px->ip, px->cfg.port, err);
		rc = OSH_EINVAL;
		goto out;
	}
	px->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (px->lfd < 0)
		what = "socket";
	else if (setsockopt(px->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		what = "setsockopt(SO_REUSEADDR)";
	else if (setsockopt(px->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		what = "setsockopt(TCP_NODELAY)"; /* accepted sockets inherit it */
	else if (bind(px->lfd, ai->ai_addr, ai->ai_addrlen) != 0)
		what = "bind";
	else if (listen(px->lfd, 1024) != 0)
		what = "listen";
	else if (getsockname(px->lfd, (struct sockaddr *)&ss, &sl) != 0)
		what = "getsockname";
	else if ((px->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		what = "epoll_create1";
	else if ((px->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		what = "eventfd";
	if (what) {
		snprintf(err, errlen, "%s %s:%u: %s", what, px->ip, px->cfg.port, strerror(errno));
		osh_proxy_ev_listen_failed(px->ip, px->cfg.port, err);
		rc = OSH_ESYS;
		goto out;
	}
	px->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&ss)->sin_port
						 : ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
	px->laddr = ss;
	px->laddr_fixed =
	    ss.ss_family == AF_INET
		? ((struct sockaddr_in *)(void *)&ss)->sin_addr.s_addr != htonl(INADDR_ANY)
		: !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)(void *)&ss)->sin6_addr);
	ev.events = EPOLLIN;
	ev.data.ptr = &listen_tag;
	epoll_ctl(px->epfd, EPOLL_CTL_ADD, px->lfd, &ev);
	ev.data.ptr = &wake_tag;
	epoll_ctl(px->epfd, EPOLL_CTL_ADD, px->wakefd, &ev);
	rc = osh_proxy_ident_create(px->cfg.netns_fd, &px->ident, err, errlen);
	if (rc == 0) {
		struct osh_proxy_l7_cfg lc = {.tls = px->cfg.l7_tls,
					      .max = px->cfg.l7_max,
					      .timeout_ms = px->cfg.l7_timeout_ms,
					      .secrets = px->cfg.secrets,
					      .engine_now = engine_now,
					      .ud = px};

		rc = osh_proxy_l7_create(&lc, &px->l7);
		if (rc != 0)
			snprintf(err, errlen, "out of memory");
	}
	if (rc != 0) {
		osh_proxy_ev_listen_failed(px->ip, px->port, err);
		goto out;
	}
	osh_proxy_ev_listen(px->ip, px->port, px->cfg.max_conns);
out:
	if (ai)
		freeaddrinfo(ai);
	if (rc != 0)
		osh_proxy_destroy(px);
	else
		*out = px;
	return rc;
}

uint16_t osh_proxy_port(const struct osh_proxy *px)
{
	return px->port;
}

const char *osh_proxy_ip(const struct osh_proxy *px)
{
	return px->ip;
}

int osh_proxy_start(struct osh_proxy *px)
{
	px->workers = calloc(px->cfg.workers, sizeof(*px->workers));
	if (!px->workers)
		return OSH_ENOMEM;
	for (unsigned i = 0; i < px->cfg.workers; i++) {
		if (pthread_create(&px->workers[i], NULL, worker_main, px) != 0)
			break;
		px->n_workers++;
	}
	if (px->n_workers == 0 || pthread_create(&px->loop_thr, NULL, loop_main, px) != 0) {
		px->started = px->n_workers > 0; /* let stop join what runs */
		px->stop_loop = 1;
		return OSH_ESYS;
	}
	px->started = true;
	return 0;
}

int osh_proxy_set_policy(struct osh_proxy *px, const Openshell__V1__SandboxPolicy *policy,
			 uint64_t generation, char *err, size_t errlen)
{
	struct osh_proxy_engine *e = NULL, *old;
	uint64_t kept;
	int rc;

	rc = osh_proxy_engine_compile(policy, generation, &e, err, errlen);
	pthread_mutex_lock(&px->eng_lock);
	old = px->engine;
	kept = old ? osh_proxy_engine_generation(old) : 0;
	if (rc == 0)
		px->engine = e;
	pthread_mutex_unlock(&px->eng_lock);
	if (rc == 0) {
		osh_proxy_engine_unref(old);
		osh_proxy_ev_policy(generation, (unsigned)osh_proxy_engine_rules(e), true, NULL, 0);
	} else {
		osh_proxy_ev_policy(generation, policy ? (unsigned)policy->n_network_policies : 0,
				    false, err, kept);
	}
	return rc;
}

uint64_t osh_proxy_generation(struct osh_proxy *px)
{
	uint64_t g;

	pthread_mutex_lock(&px->eng_lock);
	g = px->engine ? osh_proxy_engine_generation(px->engine) : 0;
	pthread_mutex_unlock(&px->eng_lock);
	return g;
}

void osh_proxy_set_root(struct osh_proxy *px, pid_t root)
{
	osh_proxy_ident_set_root(px->ident, root);
}

void osh_proxy_stop(struct osh_proxy *px)
{
	uint64_t one = 1;

	if (!px || px->stopped || !px->started)
		return;
	px->stopped = true;
	__atomic_store_n(&px->stop_loop, 1, __ATOMIC_RELEASE);
	if (write(px->wakefd, &one, sizeof(one)) < 0) {
		/* the loop wakes within 250 ms anyway */
	}
	if (px->loop_thr)
		pthread_join(px->loop_thr, NULL);
	pthread_mutex_lock(&px->q_lock);
	px->stop_workers = true;
	/* queued jobs nobody started: they stay in `all` and are freed below */
	px->jobs_head = px->jobs_tail = NULL;
	pthread_cond_broadcast(&px->q_cond);
	pthread_mutex_unlock(&px->q_lock);
	for (unsigned i = 0; i < px->n_workers; i++)
		pthread_join(px->workers[i], NULL);
	osh_proxy_l7_stop(px->l7);
	while (px->all)
		conn_free(px, px->all);
	bury(px);
}

void osh_proxy_destroy(struct osh_proxy *px)
{
	if (!px)
		return;
	osh_proxy_stop(px);
	if (px->lfd >= 0)
		close(px->lfd);
	if (px->epfd >= 0)
		close(px->epfd);
	if (px->wakefd >= 0)
		close(px->wakefd);
	osh_proxy_ident_destroy(px->ident);
	osh_proxy_l7_destroy(px->l7);
	osh_proxy_engine_unref(px->engine);
	free(px->workers);
	pthread_mutex_destroy(&px->eng_lock);
	pthread_mutex_destroy(&px->q_lock);
	pthread_cond_destroy(&px->q_cond);
	free(px);
}

void osh_proxy_stats_get(struct osh_proxy *px, struct osh_proxy_stats *out)
{
	out->accepted = __atomic_load_n(&px->st.accepted, __ATOMIC_RELAXED);
	out->allowed = __atomic_load_n(&px->st.allowed, __ATOMIC_RELAXED);
	out->denied = __atomic_load_n(&px->st.denied, __ATOMIC_RELAXED);
	out->bad_requests = __atomic_load_n(&px->st.bad_requests, __ATOMIC_RELAXED);
	out->upstream_failed = __atomic_load_n(&px->st.upstream_failed, __ATOMIC_RELAXED);
	out->limited = __atomic_load_n(&px->st.limited, __ATOMIC_RELAXED);
	out->timeouts = __atomic_load_n(&px->st.timeouts, __ATOMIC_RELAXED);
	out->open = __atomic_load_n(&px->st.open, __ATOMIC_RELAXED);
	out->l7_handed = __atomic_load_n(&px->st.l7_handed, __ATOMIC_RELAXED);
	out->l7_active = osh_proxy_l7_active(px->l7);
	{
		unsigned long h = 0, m = 0;

		osh_proxy_ident_stats(px->ident, &h, &m);
		out->owner_hits = h;
		out->owner_misses = m;
	}
}

bool osh_proxy_has_l7(struct osh_proxy *px)
{
	bool has;

	size_t skip = 0;

	pthread_mutex_lock(&px->eng_lock);
	has = px->engine && osh_proxy_engine_l7_endpoints(px->engine, &skip) > 0 && skip == 0;
	pthread_mutex_unlock(&px->eng_lock);
	return has;
}
