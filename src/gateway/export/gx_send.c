/* gx_send.c - syslog (RFC 5424 over TCP, octet counting, optional TLS),
 * HTTP (NDJSON / Splunk HEC, bearer token, gzip) and file (JSONL with
 * rotation) transports (see gx_send.h).
 *
 * DESIGN
 * Each transport keeps one connection (or file) open between batches and
 * drops it on any failure; the next send opens a fresh one. Sockets are
 * blocking with SO_SNDTIMEO / SO_RCVTIMEO set to the timeout, connect is
 * non-blocking with a poll, so no step waits longer than timeout_ms. The
 * threads that call here block SIGPIPE (gx_export.c): a peer that went away
 * is an EPIPE, not a dead gateway. Fields the frames need (time, uid,
 * class, severity) are read from each event with cJSON; an event that is
 * not a JSON object never gets here (the spooler refuses it).
 */
#include "gx_send.h"
#include "gx_json.h"
#include "gwfile.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

struct gx_conn {
	struct gx_dest d;
	char host[256]; /* this gateway's hostname, for syslog HOSTNAME / HEC host */
	int pid;
	/* syslog */
	int fd;
	uint64_t wire; /* plain TCP: bytes written on this connection */
	SSL_CTX *ctx;
	SSL *ssl;
	/* http */
	CURL *curl;
	/* file */
	int ffd;
	uint64_t fsize;
	dev_t fdev;
	ino_t fino;
};

/* ------------------------------------------------------------ builders */

static int syslog_sev(int64_t ocsf_sev)
{
	/* OCSF severity_id -> RFC 5424 severity */
	switch (ocsf_sev) {
	case 2:
		return 5; /* Low: notice */
	case 3:
		return 4; /* Medium: warning */
	case 4:
		return 3; /* High: error */
	case 5:
		return 2; /* Critical */
	case 6:
		return 1; /* Fatal: alert */
	default:
		return 6; /* Unknown, Informational, Other: informational */
	}
}

/* PRINTUSASCII without ' ', '=', ']', '"', '\\' (header fields and
 * SD-PARAM values: nothing that could end or escape them), at most max. */
static void printable_n(char *out, size_t cap, const char *s, size_t n, size_t max)
{
	size_t o = 0;

	for (size_t i = 0; s && i < n && o + 1 < cap && o < max; i++)
		if (s[i] > 32 && s[i] < 127 && s[i] != '=' && s[i] != ']' && s[i] != '"' &&
		    s[i] != '\\')
			out[o++] = s[i];
	if (o == 0 && cap > 1)
		out[o++] = '-';
	out[o] = '\0';
}

static void printable(char *out, size_t cap, const char *s, size_t max)
{
	printable_n(out, cap, s, s ? strlen(s) : 0, max);
}

int gx_syslog_frame(const struct gx_dest *d, const char *host, int pid, const char *ev, size_t len,
		    char **out, size_t *out_len, char *why, size_t whylen)
{
	struct gx_meta m;
	char ts[40] = "-", uid[80], hn[256], head[1024];
	int64_t t_ms, cls, sev;
	int hl, pre;
	char *buf = NULL;
	int rc = 0;

	*out = NULL;
	*out_len = 0;
	if (gx_json_meta(ev, len, &m) != 0) {
		snprintf(why, whylen, "event is not a JSON object");
		rc = OSH_EPARSE;
		goto done;
	}
	printable_n(uid, sizeof(uid), m.uid.p, m.uid.n, 64);
	t_ms = m.has_time ? m.time : 0;
	cls = m.has_class ? m.class_uid : 0;
	sev = m.has_severity ? m.severity_id : 0;
	if (t_ms > 0) {
		time_t secs = (time_t)(t_ms / 1000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		if (snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, (int)(t_ms % 1000)) >= (int)sizeof(ts))
			snprintf(ts, sizeof(ts), "-");
	}
	printable(hn, sizeof(hn), host, 255);
	hl = snprintf(head, sizeof(head),
		      "<%d>1 %s %s %s %d ocsf-%lld [ocsf@32473 uid=\"%s\" class_uid=\"%lld\" "
		      "severity_id=\"%lld\"] ",
		      d->facility * 8 + syslog_sev(sev), ts, hn, d->app_name, pid, (long long)cls,
		      uid, (long long)cls, (long long)sev);
	if (hl < 0 || (size_t)hl >= sizeof(head)) {
		rc = OSH_ETOOBIG;
		goto done;
	}
	buf = malloc((size_t)hl + len + 32);
	if (!buf) {
		rc = OSH_ENOMEM;
		goto done;
	}
	pre = snprintf(buf, 32, "%zu ", (size_t)hl + len);
	memcpy(buf + pre, head, (size_t)hl);
	memcpy(buf + pre + hl, ev, len);
	*out = buf;
	*out_len = (size_t)pre + (size_t)hl + len;
done:
	return rc;
}

/* Appends to a growing heap buffer. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = (b->n + n + 1) * 2;
		char *np = realloc(b->p, nc);

		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	if (n == 0)
		return;
	if (!b->p) { /* cap > 0 always comes with a buffer; for the analyzer */
		b->oom = true;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

int gx_http_body(const struct gx_dest *d, const char *host, const char *buf, size_t len, char **out,
		 size_t *out_len)
{
	struct sbuf b = {0};
	const char *p = buf, *end = buf + len;
	char head[600], hn[256];

	*out = NULL;
	*out_len = 0;
	if (d->format == GX_FORMAT_NDJSON) {
		sb_put(&b, buf, len);
	} else {
		printable(hn, sizeof(hn), host, 255);
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
			struct gx_meta m;
			int64_t t_ms = 0, cls = 0;
			int hl;

			if (gx_json_meta(p, ln, &m) == 0) {
				t_ms = m.has_time && m.time > 0 ? m.time : 0;
				cls = m.has_class ? m.class_uid : 0;
			}
			hl = snprintf(head, sizeof(head),
				      "{\"time\":%lld.%03lld,\"host\":\"%s\",\"source\":"
				      "\"openshell\",\"sourcetype\":\"ocsf:%lld\",\"event\":",
				      (long long)(t_ms / 1000), (long long)(t_ms % 1000), hn,
				      (long long)cls);
			sb_put(&b, head, (size_t)hl);
			sb_put(&b, p, ln);
			sb_put(&b, "}\n", 2);
			p += ln + 1;
		}
	}
	if (b.oom) {
		free(b.p);
		return OSH_ENOMEM;
	}
	*out = b.p;
	*out_len = b.n;
	return 0;
}

int gx_gzip(const char *in, size_t len, char **out, size_t *out_len)
{
	z_stream z;
	size_t cap = len + len / 100 + 64;
	char *buf = malloc(cap);
	int rc = OSH_EIO;

	*out = NULL;
	if (!buf)
		return OSH_ENOMEM;
	memset(&z, 0, sizeof(z));
	/* windowBits 15 + 16: a gzip wrapper */
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(buf);
		return OSH_ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
		*out = buf;
		*out_len = z.total_out;
		buf = NULL;
		rc = 0;
	}
	deflateEnd(&z);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- syslog */

static void sys_reset(struct gx_conn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->wire = 0;
}

static void tls_reason(char *why, size_t whylen, const char *what)
{
	unsigned long e = ERR_get_error();
	char eb[256] = "no detail";

	if (e)
		ERR_error_string_n(e, eb, sizeof(eb));
	ERR_clear_error();
	snprintf(why, whylen, "%s: %s", what, eb);
}

static int sys_connect(struct gx_conn *c, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[8];
	struct timeval tv = {.tv_sec = c->d.timeout_ms / 1000,
			     .tv_usec = (suseconds_t)(c->d.timeout_ms % 1000) * 1000};
	int rc = OSH_EUNAVAIL, gai, err = 0, k;
	socklen_t el = sizeof(err);
	struct pollfd pf;

	snprintf(port, sizeof(port), "%u", c->d.port);
	gai = getaddrinfo(c->d.host, port, &hints, &ai);
	if (gai != 0) {
		snprintf(why, whylen, "resolve %s: %s", c->d.host, gai_strerror(gai));
		return rc;
	}
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
		snprintf(why, whylen, "connect %s:%u: %s", c->d.host, c->d.port, strerror(errno));
		goto out;
	}
	pf = (struct pollfd){.fd = c->fd, .events = POLLOUT};
	if (poll(&pf, 1, (int)c->d.timeout_ms) != 1) {
		snprintf(why, whylen, "connect %s:%u: timed out after %u ms", c->d.host, c->d.port,
			 c->d.timeout_ms);
		goto out;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		snprintf(why, whylen, "connect %s:%u: %s", c->d.host, c->d.port,
			 strerror(err ? err : errno));
		goto out;
	}
	(void)fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (c->ctx) {
		const char *name = c->d.server_name[0] ? c->d.server_name : c->d.host;
		struct in6_addr a6;

		c->ssl = SSL_new(c->ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
			tls_reason(why, whylen, "TLS setup");
			goto out;
		}
		if (inet_pton(AF_INET, name, &a6) != 1 && inet_pton(AF_INET6, name, &a6) != 1) {
			(void)SSL_set_tlsext_host_name(c->ssl, name);
			if (c->d.tls_verify)
				(void)SSL_set1_host(c->ssl, name);
		} else if (c->d.tls_verify) {
			(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
		}
		errno = 0;
		if ((k = SSL_connect(c->ssl)) != 1) {
			long vr = SSL_get_verify_result(c->ssl);
			int se = SSL_get_error(c->ssl, k);

			if (vr != X509_V_OK)
				snprintf(why, whylen, "TLS handshake with %s:%u: certificate: %s",
					 c->d.host, c->d.port, X509_verify_cert_error_string(vr));
			else if (se == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
				snprintf(why, whylen, "TLS handshake with %s:%u: %s", c->d.host,
					 c->d.port,
					 errno == EAGAIN ? "timed out (no answer from the receiver)"
					 : errno	 ? strerror(errno)
							 : "connection closed by the receiver");
			else
				tls_reason(why, whylen, "TLS handshake");
			goto out;
		}
	}
	rc = 0;
out:
	freeaddrinfo(ai);
	if (rc != 0)
		sys_reset(c);
	return rc;
}

static int sys_write(struct gx_conn *c, const char *p, size_t n, char *why, size_t whylen)
{
	while (n > 0) {
		ssize_t w;

		if (c->ssl) {
			int k = SSL_write(c->ssl, p, n > 1 << 30 ? 1 << 30 : (int)n);

			if (k <= 0) {
				tls_reason(why, whylen, "TLS write");
				return OSH_EUNAVAIL;
			}
			w = k;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				snprintf(why, whylen, "write to %s:%u: %s", c->d.host, c->d.port,
					 errno == EAGAIN ? "timed out (receiver stalled)"
							 : strerror(errno));
				return OSH_EUNAVAIL;
			}
			c->wire += (uint64_t)w;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int sys_send(struct gx_conn *c, const char *buf, size_t len, size_t n, char *why,
		    size_t whylen)
{
	const char *p = buf, *end = buf + len;
	struct sbuf out = {0};
	int rc = 0;

	(void)n;
	if (c->fd < 0 && (rc = sys_connect(c, why, whylen)) != 0)
		return rc;
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *fr = NULL;
		size_t fl = 0;

		if (gx_syslog_frame(&c->d, c->host, c->pid, p, ln, &fr, &fl, why, whylen) == 0)
			sb_put(&out, fr, fl);
		free(fr);
		p += ln + 1;
	}
	if (out.oom) {
		snprintf(why, whylen, "out of memory");
		rc = OSH_ENOMEM;
	} else if (out.n > 0) {
		rc = sys_write(c, out.p, out.n, why, whylen);
	}
	free(out.p);
	if (rc != 0)
		sys_reset(c);
	return rc;
}

static int sys_alive(struct gx_conn *c)
{
	struct pollfd pf = {.fd = c->fd, .events = POLLIN};
	char b[256];

	if (c->fd < 0)
		return OSH_EUNAVAIL;
	if (poll(&pf, 1, 0) == 0)
		return 0;
	if (pf.revents & (POLLERR | POLLHUP | POLLNVAL))
		return OSH_EUNAVAIL;
	/* Readable. A syslog receiver never writes: plain TCP means EOF or
	 * reset. TLS may deliver session tickets: read them without waiting. */
	if (c->ssl) {
		int fl = fcntl(c->fd, F_GETFL), k;

		(void)fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
		k = SSL_read(c->ssl, b, sizeof(b));
		if (k <= 0 && SSL_get_error(c->ssl, k) == SSL_ERROR_WANT_READ)
			k = 1;
		ERR_clear_error();
		(void)fcntl(c->fd, F_SETFL, fl);
		return k > 0 ? 0 : OSH_EUNAVAIL;
	}
	return recv(c->fd, b, sizeof(b), MSG_DONTWAIT | MSG_PEEK) == 0 ? OSH_EUNAVAIL : 0;
}

static void sys_progress(struct gx_conn *c, uint64_t *written, uint64_t *acked)
{
	int outq = 0;

	*written = *acked = 0;
	if (c->fd < 0)
		return;
	*written = c->ssl ? (uint64_t)BIO_number_written(SSL_get_wbio(c->ssl)) : c->wire;
	if (ioctl(c->fd, SIOCOUTQ, &outq) != 0 || outq < 0)
		outq = 0; /* unknown: fall back to the time-only confirmation */
	*acked = *written > (uint64_t)outq ? *written - (uint64_t)outq : 0;
}

static void sys_destroy(struct gx_conn *c)
{
	sys_reset(c);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
}

static int tls_ctx(struct gx_conn *c, char *why, size_t whylen)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx) {
		tls_reason(why, whylen, "TLS context");
		return OSH_ENOMEM;
	}
	(void)SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, c->d.tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (c->d.ca_file[0] ? SSL_CTX_load_verify_locations(c->ctx, c->d.ca_file, NULL) != 1
			    : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		tls_reason(why, whylen, "TLS CA file");
		return OSH_EINVAL;
	}
	if (c->d.cert_file[0] &&
	    (SSL_CTX_use_certificate_chain_file(c->ctx, c->d.cert_file) != 1 ||
	     SSL_CTX_use_PrivateKey_file(c->ctx, c->d.key_file, SSL_FILETYPE_PEM) != 1)) {
		tls_reason(why, whylen, "TLS client certificate");
		return OSH_EINVAL;
	}
	return 0;
}

static const struct gx_transport syslog_ops = {.send = sys_send,
					       .alive = sys_alive,
					       .progress = sys_progress,
					       .reset = sys_reset,
					       .destroy = sys_destroy};

/* ------------------------------------------------------------------ http */

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

/* The first line of the token file (regular files only: a FIFO planted as
 * the token file never blocks a delivery thread). */
static int read_token(const char *path, char *out, size_t cap)
{
	char *text = NULL, why[256];
	size_t len = 0, n = 0;
	int rc = osh_gw_file_read(path, GX_TOKEN_MAX, &text, &len, why, sizeof(why));

	out[0] = '\0';
	if (rc == 0) {
		n = strcspn(text, "\r\n");
		if (n >= cap)
			n = 0;
		memcpy(out, text, n);
		out[n] = '\0';
	}
	free(text);
	return n ? 0 : OSH_EIO;
}

static int http_send(struct gx_conn *c, const char *buf, size_t len, size_t n, char *why,
		     size_t whylen)
{
	struct curl_slist *h = NULL;
	char *body = NULL, *gz = NULL, hdr[4200] = "", token[4096], cerr[CURL_ERROR_SIZE] = "";
	size_t blen = 0, glen = 0;
	long code = 0;
	CURLcode cr;
	int rc = OSH_EUNAVAIL;

	(void)n;
	if (!c->curl && !(c->curl = curl_easy_init())) {
		snprintf(why, whylen, "curl init failed");
		return OSH_ENOMEM;
	}
	if (gx_http_body(&c->d, c->host, buf, len, &body, &blen) != 0) {
		snprintf(why, whylen, "out of memory");
		return OSH_ENOMEM;
	}
	if (c->d.gzip) {
		if (gx_gzip(body, blen, &gz, &glen) != 0) {
			snprintf(why, whylen, "gzip failed");
			rc = OSH_ENOMEM;
			goto out;
		}
		h = curl_slist_append(h, "Content-Encoding: gzip");
	}
	h = curl_slist_append(h, c->d.format == GX_FORMAT_NDJSON
				     ? "Content-Type: application/x-ndjson"
				     : "Content-Type: application/json");
	if (c->d.token_file[0]) {
		/* read per batch: a rotated token is picked up without reload */
		if (read_token(c->d.token_file, token, sizeof(token)) != 0) {
			snprintf(why, whylen, "cannot read token file %s", c->d.token_file);
			goto out;
		}
		snprintf(hdr, sizeof(hdr), "Authorization: %s %s",
			 c->d.format == GX_FORMAT_SPLUNK_HEC ? "Splunk" : "Bearer", token);
		h = curl_slist_append(h, hdr);
		explicit_bzero(token, sizeof(token));
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->d.url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, gz ? gz : body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(gz ? glen : blen));
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)c->d.timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->d.timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "openshell-gateway-export");
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, cerr);
	if (c->d.ca_file[0]) /* https: trust this CA bundle instead of the system store */
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->d.ca_file);
	cr = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL); /* cerr is this frame's */
	if (hdr[0])
		explicit_bzero(hdr, sizeof(hdr));
	if (cr != CURLE_OK) {
		/* curl's own text names the cause (e.g. "SSL certificate problem:
		 * unable to get local issuer certificate"); the code's text is generic */
		snprintf(why, whylen, "POST %s: %s", c->d.url,
			 cerr[0] ? cerr : curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(why, whylen, "POST %s: HTTP %ld%s", c->d.url, code,
			 code == 429 || code >= 500 ? " (retrying)" : "");
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(h);
	free(body);
	free(gz);
	return rc;
}

static void http_reset(struct gx_conn *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

static const struct gx_transport http_ops = {
    .send = http_send, .alive = NULL, .reset = http_reset, .destroy = http_reset};

/* ------------------------------------------------------------------ file */

static void file_reset(struct gx_conn *c)
{
	if (c->ffd >= 0)
		close(c->ffd);
	c->ffd = -1;
}

static int file_open(struct gx_conn *c, char *why, size_t whylen)
{
	struct stat sb;

	c->ffd = open(c->d.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (c->ffd < 0 || fstat(c->ffd, &sb) != 0) {
		snprintf(why, whylen, "open %s: %s", c->d.path, strerror(errno));
		file_reset(c);
		return OSH_EIO;
	}
	c->fsize = (uint64_t)sb.st_size;
	c->fdev = sb.st_dev;
	c->fino = sb.st_ino;
	return 0;
}

static void file_rotate(struct gx_conn *c)
{
	char a[GX_PATH_MAX + 16], b[GX_PATH_MAX + 16];

	file_reset(c);
	for (unsigned k = c->d.keep; k >= 1; k--) {
		snprintf(b, sizeof(b), "%s.%u", c->d.path, k);
		if (k == 1)
			snprintf(a, sizeof(a), "%s", c->d.path);
		else
			snprintf(a, sizeof(a), "%s.%u", c->d.path, k - 1);
		(void)rename(a, b);
	}
	if (c->d.keep == 0)
		(void)unlink(c->d.path);
}

static int file_send(struct gx_conn *c, const char *buf, size_t len, size_t n, char *why,
		     size_t whylen)
{
	struct stat sb;
	size_t done = 0;

	(void)n;
	/* moved or removed by an external rotation: write a fresh file */
	if (c->ffd >= 0 &&
	    (stat(c->d.path, &sb) != 0 || sb.st_ino != c->fino || sb.st_dev != c->fdev))
		file_reset(c);
	if (c->ffd < 0 && file_open(c, why, whylen) != 0)
		return OSH_EIO;
	while (done < len) {
		ssize_t w = write(c->ffd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(why, whylen, "write %s: %s", c->d.path, strerror(errno));
			/* cut what was written: the batch is sent again whole */
			if (ftruncate(c->ffd, (off_t)c->fsize) != 0)
				(void)0;
			file_reset(c);
			return OSH_EIO;
		}
		done += (size_t)w;
	}
	if (fdatasync(c->ffd) != 0) {
		snprintf(why, whylen, "fdatasync %s: %s", c->d.path, strerror(errno));
		file_reset(c);
		return OSH_EIO;
	}
	c->fsize += len;
	if (c->d.rotate_bytes && c->fsize >= c->d.rotate_bytes)
		file_rotate(c);
	return 0;
}

static const struct gx_transport file_ops = {
    .send = file_send, .alive = NULL, .reset = file_reset, .destroy = file_reset};

/* ---------------------------------------------------------------- create */

int gx_conn_create(const struct gx_dest *d, const struct gx_transport **ops, struct gx_conn **out,
		   char *why, size_t whylen)
{
	struct gx_conn *c = calloc(1, sizeof(*c));
	int rc = 0;

	*out = NULL;
	if (!c)
		return OSH_ENOMEM;
	c->d = *d;
	c->fd = -1;
	c->ffd = -1;
	c->pid = (int)getpid();
	if (gethostname(c->host, sizeof(c->host) - 1) != 0)
		snprintf(c->host, sizeof(c->host), "-");
	switch (d->kind) {
	case GX_KIND_SYSLOG:
		*ops = &syslog_ops;
		if (d->tls)
			rc = tls_ctx(c, why, whylen);
		break;
	case GX_KIND_HTTP:
		*ops = &http_ops;
		break;
	case GX_KIND_FILE:
		*ops = &file_ops;
		break;
	}
	if (rc != 0) {
		(*ops)->destroy(c);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void gx_conn_destroy(const struct gx_transport *ops, struct gx_conn *c)
{
	if (!c)
		return;
	ops->destroy(c);
	free(c);
}
