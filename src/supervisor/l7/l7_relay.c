/* l7_relay.c - the REST relay (see osh_l7_relay.h).
 *
 * DESIGN
 * Two buffered readers (client, upstream) of fixed size; a request head is
 * parsed in place in the client buffer (it must fit OSH_HTTP_HEAD_MAX), a
 * response head in the upstream buffer (OSH_L7_RESP_HEAD_MAX). Bodies pass
 * through the same buffers in pieces. One exit path per function; errors
 * carry a status for the client (0 when nothing can be answered any more).
 */
#include "osh_l7_relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osh_l7_http.h"
#include "proxy_http.h"

#define CBUF	      (OSH_HTTP_HEAD_MAX + 8192u)
#define UBUF	      (OSH_L7_RESP_HEAD_MAX + 1u)
#define MAX_INTERIM   8
#define VIA	      "1.1 openshell-sandbox"
#define BODY_MAX_DFLT (1ull << 30)

struct rd {
	struct osh_l7_io *io;
	char *d;
	size_t cap, off, len;
	bool eof;
};

/* Reads more bytes (compacting first). 1 = got bytes, 0 = EOF, -1 = error,
 * -2 = buffer full. */
static int rd_more(struct rd *r)
{
	ssize_t n;

	if (r->off > 0 && r->len > 0)
		memmove(r->d, r->d + r->off, r->len);
	if (r->len == 0 || r->off > 0)
		r->off = 0;
	if (r->len == r->cap)
		return -2;
	n = r->io->read(r->io->ctx, r->d + r->len, r->cap - r->len);
	if (n > 0) {
		r->len += (size_t)n;
		return 1;
	}
	if (n == 0)
		r->eof = true;
	return n == 0 ? 0 : -1;
}

static void rd_drop(struct rd *r, size_t n)
{
	r->off += n;
	r->len -= n;
	if (r->len == 0)
		r->off = 0;
}

/* ------------------------------------------------------------ answers */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 421:
		return "Misdirected Request";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
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

/* JSON string contents of s (quotes and controls escaped), cut to fit. */
static void json_esc(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* A header-safe copy (controls and non-ASCII become '?'). */
static void hdr_safe(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 1 < cap; s++)
		out[o++] = ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) ? '?' : *s;
	out[o] = '\0';
}

static int answer(struct osh_l7_io *io, int status, const char *extra_hdr, const char *body)
{
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%sContent-Length: "
			 "%zu\r\nConnection: close\r\n\r\n",
			 status, reason_phrase(status), extra_hdr ? extra_hdr : "", strlen(body));
	int rc = -1;

	if (n > 0 && (size_t)n < sizeof(head) && io->write_all(io->ctx, head, (size_t)n) == 0)
		rc = io->write_all(io->ctx, body, strlen(body));
	return rc;
}

int osh_l7_answer(struct osh_l7_io *io, int status, const char *reason)
{
	char esc[1024], body[1200];

	json_esc(esc, sizeof(esc), reason);
	snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", esc);
	return answer(io, status, NULL, body);
}

static int answer_deny(struct osh_l7_io *io, const struct osh_l7_decision *d)
{
	char pol[256], pe[512], re[600], de[1100], body[2400], hdr[400];

	hdr_safe(pol, sizeof(pol), d->policy ? d->policy : "-");
	json_esc(pe, sizeof(pe), d->policy ? d->policy : "-");
	json_esc(re, sizeof(re), d->rule);
	json_esc(de, sizeof(de), d->reason);
	snprintf(body, sizeof(body),
		 "{\"error\":\"policy_denied\",\"policy\":\"%s\",\"rule\":\"%s\",\"detail\":\"%s\"}"
		 "\n",
		 pe, re, de);
	snprintf(hdr, sizeof(hdr), "X-OpenShell-Policy: %s\r\n", pol);
	return answer(io, 403, hdr, body);
}

/* ---------------------------------------------------------- requests */

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n > 0 && o->len + n <= o->cap) {
		memcpy(o->p + o->len, s, n);
		o->len += n;
	}
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static bool hdr_is(const struct osh_http_hdr *h, const char *name)
{
	return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static bool hop_by_hop(const struct osh_http_req *q, const struct osh_http_hdr *h, bool fwd)
{
	static const char *const names[] = {
	    "connection",	  "keep-alive", "proxy-connection", "proxy-authorization",
	    "proxy-authenticate", "te",		"trailer",	    "upgrade",
	    "http2-settings"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (hdr_is(h, names[i]))
			return true;
	if (fwd && hdr_is(h, "host"))
		return true;
	for (size_t i = 0; i < q->n_hdr; i++)
		if (hdr_is(&q->hdr[i], "connection")) {
			char name[64];

			if (h->name_len >= sizeof(name))
				continue;
			memcpy(name, h->name, h->name_len);
			name[h->name_len] = '\0';
			if (osh_l7_has_token(q->hdr[i].value, q->hdr[i].value_len, name))
				return true;
		}
	return false;
}

static bool wants_close(const struct osh_http_req *q)
{
	bool close = q->minor == 0;

	for (size_t i = 0; i < q->n_hdr; i++)
		if (hdr_is(&q->hdr[i], "connection")) {
			if (osh_l7_has_token(q->hdr[i].value, q->hdr[i].value_len, "close"))
				close = true;
			if (osh_l7_has_token(q->hdr[i].value, q->hdr[i].value_len, "keep-alive"))
				close = false;
		}
	return close;
}

/* The head to send upstream: origin-form, hop-by-hop dropped, Via. */
static char *upstream_head(const struct osh_l7_relay_cfg *cfg, const struct osh_http_req *q,
			   const char *target, bool close, size_t *len)
{
	struct out o = {.cap = q->head_len + strlen(target) + 600};
	char port[16];
	bool via = false;

	o.p = malloc(o.cap);
	if (!o.p)
		return NULL;
	put(&o, q->method, q->method_len);
	puts_(&o, " ");
	puts_(&o, target);
	puts_(&o, " HTTP/1.1\r\n");
	if (cfg->forward) {
		bool v6 = strchr(cfg->host, ':') != NULL;

		puts_(&o, "Host: ");
		puts_(&o, v6 ? "[" : "");
		puts_(&o, cfg->host);
		puts_(&o, v6 ? "]" : "");
		if (cfg->port != 80) {
			snprintf(port, sizeof(port), ":%u", cfg->port);
			puts_(&o, port);
		}
		puts_(&o, "\r\n");
	}
	for (size_t i = 0; i < q->n_hdr; i++) {
		const struct osh_http_hdr *h = &q->hdr[i];

		if (hop_by_hop(q, h, cfg->forward))
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
	puts_(&o, close ? "Connection: close\r\n\r\n" : "\r\n");
	*len = o.len;
	return o.p;
}

struct ctx {
	const struct osh_l7_relay_cfg *cfg;
	struct rd c, u;
	struct osh_l7_relay_stats *st;
	char method[OSH_HTTP_METHOD_MAX + 1];
	char target[OSH_HTTP_HEAD_MAX];
	int status; /* answer to give the client on error (0 = none possible) */
	const char *why;
	char whybuf[512];
};

static int fail(struct ctx *x, int status, const char *why, int rc)
{
	x->status = status;
	x->why = why;
	return rc;
}

/* Copies n bytes of body from r to `to` (n = UINT64_MAX: until EOF). */
static int copy_len(struct ctx *x, struct rd *r, struct osh_l7_io *to, uint64_t n, bool is_req)
{
	int rc = 0;

	while (n > 0 && rc == 0) {
		size_t take;

		if (r->len == 0) {
			int m = rd_more(r);

			if (m == 0 && n == UINT64_MAX)
				break;
			if (m <= 0) {
				rc = is_req ? fail(x, 400, "request body ended early", OSH_EPARSE)
					    : fail(x, 0, "response body ended early", OSH_EIO);
				break;
			}
		}
		take = (uint64_t)r->len < n ? r->len : (size_t)n;
		if (to->write_all(to->ctx, r->d + r->off, take) != 0)
			rc = fail(x, 0, is_req ? "upstream write failed" : "client write failed",
				  OSH_EIO);
		rd_drop(r, take);
		if (n != UINT64_MAX)
			n -= take;
	}
	return rc;
}

static int copy_chunked(struct ctx *x, struct rd *r, struct osh_l7_io *to, uint64_t max,
			bool is_req)
{
	struct osh_l7_chunked ch;
	int rc = 0;

	osh_l7_chunked_init(&ch);
	while (!osh_l7_chunked_done(&ch) && rc == 0) {
		const char *why = NULL;
		ssize_t used;

		if (r->len == 0 && rd_more(r) <= 0) {
			rc = is_req ? fail(x, 400, "chunked request body truncated", OSH_EPARSE)
				    : fail(x, 0, "chunked response body truncated", OSH_EIO);
			break;
		}
		used = osh_l7_chunked_feed(&ch, r->d + r->off, r->len, &why);
		if (used < 0) {
			snprintf(x->whybuf, sizeof(x->whybuf), "%s %s",
				 is_req ? "malformed chunked request body:"
					: "malformed chunked response body:",
				 why);
			rc = fail(x, is_req ? 400 : 0, x->whybuf, OSH_EPARSE);
			break;
		}
		if (ch.body > max) {
			rc = fail(x, 0, "response body larger than the relay's bound", OSH_ETOOBIG);
			break;
		}
		if (to->write_all(to->ctx, r->d + r->off, (size_t)used) != 0)
			rc = fail(x, 0, "write failed", OSH_EIO);
		rd_drop(r, (size_t)used);
	}
	return rc;
}

/* Reads a complete request head into x->c. 1 = head, 0 = clean EOF before
 * any byte, < 0 = error (x->status/why). */
static int read_head(struct ctx *x, struct osh_http_req *q)
{
	struct osh_http_err he;
	int rc;

	for (;;) {
		int m;

		if (x->c.len > 0) {
			if (x->c.off > 0) {
				memmove(x->c.d, x->c.d + x->c.off, x->c.len);
				x->c.off = 0;
			}
			rc = osh_http_parse_head(x->c.d, x->c.len, q, &he);
			if (rc == 1)
				break;
			if (rc < 0) {
				rc = fail(x, he.status, he.reason, rc);
				break;
			}
		}
		m = rd_more(&x->c);
		if (m == 0 && x->c.len == 0) {
			rc = 0;
			break;
		}
		if (m == 0) {
			rc = fail(x, 400, "connection closed inside a request head", OSH_EPARSE);
			break;
		}
		if (m < 0) {
			rc = fail(x, m == -2 ? 431 : 0,
				  m == -2 ? "request head too large" : "client read failed",
				  m == -2 ? OSH_ETOOBIG : OSH_EIO);
			break;
		}
	}
	return rc;
}

/* The origin-form target of the request (forward mode: from the URL, which
 * must name this connection's origin). */
static int origin_target(struct ctx *x, const struct osh_http_req *q)
{
	const struct osh_l7_relay_cfg *cfg = x->cfg;
	int rc = 0;

	if (cfg->forward) {
		struct osh_http_target t;
		const char *path = NULL, *why = NULL;
		size_t pl = 0;

		if (osh_http_parse_absolute(q->target, q->target_len, &t, &path, &pl, &why) != 0) {
			snprintf(x->whybuf, sizeof(x->whybuf), "invalid request target: %s", why);
			rc = fail(x, 400, x->whybuf, OSH_EPARSE);
		} else if (strcmp(t.host, cfg->host) != 0 || t.port != cfg->port) {
			rc = fail(x, 400,
				  "request for another origin on an inspected connection; open a "
				  "new connection",
				  OSH_EPARSE);
		} else {
			snprintf(x->target, sizeof(x->target), "%.*s", (int)pl, path);
		}
	} else if (q->target_len == 0 ||
		   (q->target[0] != '/' && !(q->target_len == 1 && q->target[0] == '*'))) {
		rc = fail(x, 400, "request target is not in origin form", OSH_EPARSE);
	} else {
		snprintf(x->target, sizeof(x->target), "%.*s", (int)q->target_len, q->target);
	}
	return rc;
}

/* Relays the response to the request just sent. *close: end afterwards. */
static int relay_response(struct ctx *x, bool head_req, bool *close)
{
	const struct osh_l7_relay_cfg *cfg = x->cfg;
	uint64_t max = cfg->body_max ? cfg->body_max : BODY_MAX_DFLT;
	struct osh_l7_resp r;
	int rc = 0, interim = 0;

	for (;;) {
		const char *why = NULL;
		int p = x->u.len ? osh_l7_parse_response(x->u.d + x->u.off, x->u.len, &r, &why) : 0;

		if (p < 0) {
			snprintf(x->whybuf, sizeof(x->whybuf), "bad response from upstream: %s",
				 why);
			rc = fail(x, 502, x->whybuf, OSH_EPROTO);
			osh_l7_ev_upstream_error(cfg->ev, x->whybuf);
			break;
		}
		if (p == 0) {
			int m = rd_more(&x->u);

			if (m <= 0) {
				rc = fail(x, 502,
					  m == 0 ? "upstream closed before a response"
						 : (m == -2 ? "upstream response head too large"
							    : "upstream read failed"),
					  OSH_EPROTO);
				osh_l7_ev_upstream_error(cfg->ev, x->why);
				break;
			}
			continue;
		}
		if (r.status == 101) {
			osh_l7_ev_upgrade_refused(cfg->ev, x->method, x->target);
			rc = fail(x, 502, "unsolicited 101 Switching Protocols from upstream",
				  OSH_EPROTO);
			break;
		}
		if (cfg->client->write_all(cfg->client->ctx, x->u.d + x->u.off, r.head_len) != 0) {
			rc = fail(x, 0, "client write failed", OSH_EIO);
			break;
		}
		rd_drop(&x->u, r.head_len);
		if (r.status >= 200)
			break;
		if (++interim > MAX_INTERIM) {
			rc = fail(x, 0, "too many interim responses from upstream", OSH_EPROTO);
			osh_l7_ev_upstream_error(cfg->ev, x->why);
			break;
		}
	}
	if (rc != 0)
		return rc;
	*close = *close || r.close;
	if (head_req || r.status == 204 || r.status == 304)
		return 0;
	if (r.chunked) {
		rc = copy_chunked(x, &x->u, cfg->client, max, false);
	} else if (r.content_length >= 0) {
		if ((uint64_t)r.content_length > max)
			rc = fail(x, 0, "response body larger than the relay's bound", OSH_ETOOBIG);
		else
			rc = copy_len(x, &x->u, cfg->client, (uint64_t)r.content_length, false);
	} else {
		/* unframed: until the origin closes, then the connection ends */
		*close = true;
		rc = copy_len(x, &x->u, cfg->client, UINT64_MAX, false);
	}
	if (rc != 0 && x->why)
		osh_l7_ev_upstream_error(cfg->ev, x->why);
	return rc;
}

/* One request: 1 = next, 0 = end cleanly, < 0 = error (x->status/why). */
static int one_request(struct ctx *x)
{
	const struct osh_l7_relay_cfg *cfg = x->cfg;
	struct osh_http_req q;
	struct osh_l7_decision d;
	char *head = NULL, *sub = NULL;
	size_t hl = 0, sl = 0;
	bool close;
	int rc = read_head(x, &q);

	if (rc <= 0)
		return rc;
	snprintf(x->method, sizeof(x->method), "%.*s", (int)q.method_len, q.method);
	rc = origin_target(x, &q);
	if (rc != 0)
		return rc;
	memset(&d, 0, sizeof(d));
	cfg->decide(cfg->ud, x->method, x->target, &d);
	x->st->requests++;
	if (d.v == OSH_L7_V_DENY) {
		x->st->denied++;
		osh_l7_ev_request(cfg->ev, x->method, x->target, d.v, d.rule, d.reason, 403);
		answer_deny(cfg->client, &d);
		return OSH_EPERM;
	}
	if (d.v == OSH_L7_V_AUDIT)
		x->st->audited++;
	else
		x->st->allowed++;
	osh_l7_ev_request(cfg->ev, x->method, x->target, d.v, d.rule, d.reason, 0);
	close = wants_close(&q);
	head = upstream_head(cfg, &q, x->target, close, &hl);
	if (!head)
		return fail(x, 500, "out of memory", OSH_ENOMEM);
	if (cfg->rewrite &&
	    cfg->rewrite(cfg->ud, head, hl, &sub, &sl, x->whybuf, sizeof(x->whybuf)) != 0) {
		free(head);
		return fail(x, 500, x->whybuf, OSH_EPERM);
	}
	if (cfg->upstream->write_all(cfg->upstream->ctx, sub ? sub : head, sub ? sl : hl) != 0)
		rc = fail(x, 502, "upstream write failed", OSH_EIO);
	if (sub)
		explicit_bzero(sub, sl);
	free(sub);
	free(head);
	rd_drop(&x->c, q.head_len);
	if (rc == 0 && q.chunked)
		rc = copy_chunked(x, &x->c, cfg->upstream, UINT64_MAX, true);
	else if (rc == 0 && q.content_length > 0)
		rc = copy_len(x, &x->c, cfg->upstream, (uint64_t)q.content_length, true);
	if (rc == 0)
		rc = relay_response(x, osh_http_method_is(&q, "HEAD"), &close);
	return rc == 0 ? (close ? 0 : 1) : rc;
}

int osh_l7_relay_run(const struct osh_l7_relay_cfg *cfg, struct osh_l7_relay_stats *st)
{
	struct osh_l7_relay_stats dummy;
	struct ctx *x = calloc(1, sizeof(*x));
	int rc;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	if (!x)
		return OSH_ENOMEM;
	x->cfg = cfg;
	x->st = st;
	x->c.io = cfg->client;
	x->u.io = cfg->upstream;
	x->c.cap = CBUF;
	x->u.cap = UBUF;
	x->c.d = malloc(CBUF);
	x->u.d = malloc(UBUF);
	if (!x->c.d || !x->u.d) {
		rc = OSH_ENOMEM;
		goto out;
	}
	if (cfg->pre_len > CBUF) {
		rc = OSH_EINVAL;
		goto out;
	}
	if (cfg->pre_len > 0)
		memcpy(x->c.d, cfg->pre, cfg->pre_len);
	x->c.len = cfg->pre_len;
	do
		rc = one_request(x);
	while (rc == 1);
	if (rc < 0 && rc != OSH_EPERM) {
		st->errors++;
		if (x->status >= 400 && x->status < 500)
			osh_l7_ev_parse_error(cfg->ev, x->why ? x->why : "-", x->status);
		if (x->status)
			osh_l7_answer(cfg->client, x->status, x->why ? x->why : "error");
	}
out:
	if (cfg->upstream->shutdown_write)
		cfg->upstream->shutdown_write(cfg->upstream->ctx);
	if (cfg->client->shutdown_write)
		cfg->client->shutdown_write(cfg->client->ctx);
	free(x->c.d);
	free(x->u.d);
	free(x);
	return rc;
}
