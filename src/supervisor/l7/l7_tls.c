/* l7_tls.c - the ephemeral CA, leaf minting and TLS sessions
 * (see osh_l7_tls.h).
 *
 * DESIGN
 * OpenSSL 3 with EVP/X509 calls only. One server SSL_CTX per cached leaf
 * (certificate, key, CA chain, ALPN callback, TLS >= 1.2), built when the
 * leaf is minted, so a handshake only creates the SSL object. One client SSL_CTX with verification
 * on and the trust store loaded once. The cache is a doubly linked list in recency order plus a
 * linear name search: with at most a few hundred names a hash table would
 * not pay for itself. Leaf contexts are refcounted by OpenSSL
 * (SSL_CTX_up_ref), so an evicted leaf stays valid for sessions using it.
 * The last resumable TLS session of each origin (at most SESS_MAX names) is
 * offered on the next connection to it: a resumption skips the certificate
 * exchange, and only the server that holds the session's secret can
 * complete it, so the verification made when the session was created
 * stands; a refused resumption falls back to a full, verified handshake.
 * Unexpected EOF is treated as EOF (SSL_OP_IGNORE_UNEXPECTED_EOF): many
 * clients and servers close without close_notify once a response is
 * delimited.
 */
#include "osh_l7_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "osh_time.h"

#define CA_DAYS	  30
#define LEAF_DAYS 7
#define SESS_MAX  64 /* origins whose TLS session is kept for resumption */

struct leaf {
	struct leaf *prev, *next;
	char *name;
	SSL_CTX *ctx; /* server context presenting this leaf + the CA */
};

struct osh_l7_tls {
	EVP_PKEY *ca_key;
	X509 *ca;
	char *ca_pem;
	char ca_sha[65];
	SSL_CTX *cli;
	pthread_mutex_t lock;
	struct leaf *head, *tail; /* most recent first */
	unsigned n, max;
	unsigned long minted, hits;
	struct {
		char *name;
		SSL_SESSION *sess;
	} sessions[SESS_MAX]; /* under lock; replaced round robin */
	unsigned next_sess;
	unsigned long resumed;
};

struct osh_l7_tls_session {
	struct osh_l7_tls *t;
	SSL *ssl;
	char *origin; /* connect side: the name its session is cached under */
	int fd;
	unsigned timeout_ms;
	char *sni;
	struct osh_l7_io io;
};

static void ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", buf);
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return 0;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

static int rand_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok = 0;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0;
	b[0] &= 0x7f;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		ok = 1;
	BN_free(bn);
	return ok;
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, long days)
{
	X509 *x = X509_new();
	X509_NAME *n;

	if (!x)
		return NULL;
	n = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || !rand_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) || !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"OpenShell",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
					0)) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

static int make_ca(struct osh_l7_tls *t, char *err, size_t errlen)
{
	BIO *b = NULL;
	unsigned char md[32];
	unsigned int mdl = 0;
	int rc = OSH_ESYS;

	t->ca_key = new_key();
	if (t->ca_key)
		t->ca = new_cert(t->ca_key, "OpenShell Sandbox CA", CA_DAYS);
	if (!t->ca || !X509_set_issuer_name(t->ca, X509_get_subject_name(t->ca)) ||
	    !add_ext(t->ca, t->ca, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext(t->ca, t->ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(t->ca, t->ca, NID_subject_key_identifier, "hash") ||
	    !X509_sign(t->ca, t->ca_key, EVP_sha256())) {
		ossl_err(err, errlen, "creating the sandbox CA");
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (b && PEM_write_bio_X509(b, t->ca)) {
		char *p = NULL;
		long n = BIO_get_mem_data(b, &p);

		t->ca_pem = n > 0 ? strndup(p, (size_t)n) : NULL;
	}
	if (!t->ca_pem || !X509_digest(t->ca, EVP_sha256(), md, &mdl)) {
		ossl_err(err, errlen, "encoding the sandbox CA");
		goto out;
	}
	for (unsigned i = 0; i < mdl && i < 32; i++)
		snprintf(t->ca_sha + (size_t)2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	BIO_free(b);
	return rc;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned l = in[i];

		if (i + 1 + l > inlen)
			break;
		if (l == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_NOACK; /* no ALPN: HTTP/1.1 by default */
}

int osh_l7_tls_create(const struct osh_l7_tls_config *cfg, struct osh_l7_tls **out, char *err,
		      size_t errlen)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	struct osh_l7_tls *t = calloc(1, sizeof(*t));
	int rc = 0;

	*out = NULL;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return OSH_ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->max = cfg && cfg->cache_max ? cfg->cache_max : 256;
	rc = make_ca(t, err, errlen);
	if (rc == 0) {
		t->cli = SSL_CTX_new(TLS_client_method());
		if (!t->cli || !SSL_CTX_set_min_proto_version(t->cli, TLS1_2_VERSION) ||
		    SSL_CTX_set_alpn_protos(t->cli, alpn, sizeof(alpn) - 1) != 0) {
			ossl_err(err, errlen, "creating the TLS contexts");
			rc = OSH_ESYS;
		}
	}
	if (rc == 0) {
		SSL_CTX_set_options(t->cli, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
		SSL_CTX_set_session_cache_mode(t->cli, SSL_SESS_CACHE_CLIENT |
							   SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_set_verify(t->cli, SSL_VERIFY_PEER, NULL);
		if (cfg && cfg->upstream_ca_file) {
			if (SSL_CTX_load_verify_locations(t->cli, cfg->upstream_ca_file, NULL) !=
			    1) {
				ossl_err(err, errlen, "loading the upstream CA file");
				snprintf(err + strlen(err), errlen - strlen(err), " (%s)",
					 cfg->upstream_ca_file);
				rc = OSH_EIO;
			}
		} else if (SSL_CTX_set_default_verify_paths(t->cli) != 1) {
			ossl_err(err, errlen, "loading the system CA store");
			rc = OSH_EIO;
		}
	}
	if (rc != 0)
		osh_l7_tls_destroy(t);
	else
		*out = t;
	return rc;
}

void osh_l7_tls_destroy(struct osh_l7_tls *t)
{
	if (!t)
		return;
	while (t->head) {
		struct leaf *l = t->head;

		t->head = l->next;
		SSL_CTX_free(l->ctx);
		free(l->name);
		free(l);
	}
	for (unsigned i = 0; i < SESS_MAX; i++) {
		free(t->sessions[i].name);
		SSL_SESSION_free(t->sessions[i].sess);
	}
	SSL_CTX_free(t->cli);
	X509_free(t->ca);
	EVP_PKEY_free(t->ca_key);
	free(t->ca_pem);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const char *osh_l7_tls_ca_pem(const struct osh_l7_tls *t)
{
	return t->ca_pem;
}

const char *osh_l7_tls_ca_sha256(const struct osh_l7_tls *t)
{
	return t->ca_sha;
}

static int write_file(const char *path, const char *a, size_t an, const char *b, size_t bn)
{
	char tmp[4096];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return OSH_EIO;
	if ((an && fwrite(a, 1, an, f) != an) || (bn && fwrite(b, 1, bn, f) != bn))
		rc = OSH_EIO;
	if (fchmod(fileno(f), 0644) != 0)
		rc = OSH_EIO;
	if (fclose(f) != 0)
		rc = OSH_EIO;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = OSH_EIO;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* The first non-empty system bundle, read whole (a few hundred KiB). */
static char *system_bundle(size_t *len)
{
	static const char *const paths[] = {"/etc/ssl/certs/ca-certificates.crt",
					    "/etc/pki/tls/certs/ca-bundle.crt",
					    "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem", NULL};
	char *buf = NULL;

	*len = 0;
	for (size_t i = 0; paths[i] && !buf; i++) {
		FILE *f = fopen(paths[i], "r");
		long n;

		if (!f)
			continue;
		if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (64L << 20) &&
		    fseek(f, 0, SEEK_SET) == 0) {
			buf = malloc((size_t)n + 1);
			if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
				buf[n] = '\n';
				*len = (size_t)n + 1;
			} else {
				free(buf);
				buf = NULL;
			}
		}
		fclose(f);
	}
	return buf;
}

int osh_l7_tls_write_bundle(const struct osh_l7_tls *t, const char *dir, char *bundle_path,
			    size_t cap, char *err, size_t errlen)
{
	char ca[4096];
	size_t sl = 0;
	char *sys = system_bundle(&sl);
	size_t pl = strlen(t->ca_pem);
	int rc;

	snprintf(ca, sizeof(ca), "%s/openshell-ca.pem", dir);
	snprintf(bundle_path, cap, "%s/ca-bundle.pem", dir);
	rc = write_file(ca, t->ca_pem, pl, NULL, 0);
	if (rc != 0)
		snprintf(err, errlen, "cannot write %s: %s", ca, strerror(errno));
	if (rc == 0) {
		rc = write_file(bundle_path, sys, sl, t->ca_pem, pl);
		if (rc != 0)
			snprintf(err, errlen, "cannot write %s: %s", bundle_path, strerror(errno));
	}
	free(sys);
	return rc;
}

void osh_l7_tls_cache_stats(struct osh_l7_tls *t, unsigned long *minted, unsigned long *hits)
{
	pthread_mutex_lock(&t->lock);
	*minted = t->minted;
	*hits = t->hits;
	pthread_mutex_unlock(&t->lock);
}

unsigned long osh_l7_tls_resumed(struct osh_l7_tls *t)
{
	unsigned long n;

	pthread_mutex_lock(&t->lock);
	n = t->resumed;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ------------------------------------------------------------- leaves */

static bool inet_pton_any(const char *name, unsigned char *buf16)
{
	return inet_pton(AF_INET, name, buf16) == 1 || inet_pton(AF_INET6, name, buf16) == 1;
}

/* A server context presenting cert + key with the CA as chain: built once
 * per leaf, so a handshake only creates the SSL object. */
static SSL_CTX *server_ctx(const struct osh_l7_tls *t, X509 *cert, EVP_PKEY *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());

	if (c && SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) &&
	    SSL_CTX_use_certificate(c, cert) == 1 && SSL_CTX_use_PrivateKey(c, key) == 1 &&
	    SSL_CTX_add1_chain_cert(c, t->ca) == 1) {
		SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
		SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
		SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
		return c;
	}
	SSL_CTX_free(c);
	return NULL;
}

static int mint(struct osh_l7_tls *t, const char *name, SSL_CTX **ctx)
{
	char san[300];
	unsigned char ip[16];
	bool is_ip = inet_pton_any(name, ip);
	X509 *x = NULL;
	EVP_PKEY *k = new_key();
	int rc = OSH_ESYS;

	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", name);
	if (k)
		x = new_cert(k, name, LEAF_DAYS);
	if (x && X509_set_issuer_name(x, X509_get_subject_name(t->ca)) &&
	    add_ext(x, t->ca, NID_basic_constraints, "critical,CA:FALSE") &&
	    add_ext(x, t->ca, NID_key_usage, "critical,digitalSignature") &&
	    add_ext(x, t->ca, NID_ext_key_usage, "serverAuth") &&
	    add_ext(x, t->ca, NID_subject_alt_name, san) &&
	    add_ext(x, t->ca, NID_authority_key_identifier, "keyid:always") &&
	    X509_sign(x, t->ca_key, EVP_sha256()))
		rc = 0;
	if (rc == 0 && !(*ctx = server_ctx(t, x, k)))
		rc = OSH_ENOMEM;
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static void unlink_leaf(struct osh_l7_tls *t, struct leaf *l)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		t->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	else
		t->tail = l->prev;
	l->prev = l->next = NULL;
}

static void push_front(struct osh_l7_tls *t, struct leaf *l)
{
	l->next = t->head;
	l->prev = NULL;
	if (t->head)
		t->head->prev = l;
	t->head = l;
	if (!t->tail)
		t->tail = l;
}

/* The server context of the leaf for name, with a reference. */
static int leaf_get(struct osh_l7_tls *t, const char *name, SSL_CTX **ctx)
{
	struct leaf *l;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	for (l = t->head; l && strcasecmp(l->name, name) != 0; l = l->next)
		;
	if (l) {
		t->hits++;
		unlink_leaf(t, l);
		push_front(t, l);
	} else {
		l = calloc(1, sizeof(*l));
		if (!l || !(l->name = strdup(name)) || mint(t, name, &l->ctx) != 0) {
			if (l)
				free(l->name);
			free(l);
			l = NULL;
			rc = OSH_ENOMEM;
		} else {
			t->minted++;
			push_front(t, l);
			if (++t->n > t->max && t->tail != l) {
				struct leaf *old = t->tail;

				unlink_leaf(t, old);
				SSL_CTX_free(old->ctx);
				free(old->name);
				free(old);
				t->n--;
			}
		}
	}
	if (l) {
		SSL_CTX_up_ref(l->ctx);
		*ctx = l->ctx;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* ----------------------------------------------------------- sessions */

static int wait_io(int fd, int want, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = (short)want};
	int rc;

	do {
		int64_t left = deadline ? deadline - osh_time_mono_ms() : -1;

		if (deadline && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&p, 1, deadline ? (int)left : -1);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		errno = ETIMEDOUT;
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

static int64_t deadline_of(unsigned ms)
{
	return ms ? osh_time_mono_ms() + ms : 0;
}

/* Waits as SSL asked after a non-positive return r. 1 = retry, 0 = clean
 * end (ZERO_RETURN / EOF), -1 = error (errno set). */
static int ssl_retry(struct osh_l7_tls_session *s, int r, int64_t deadline)
{
	int e = SSL_get_error(s->ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return wait_io(s->fd, POLLIN, deadline) == 0 ? 1 : -1;
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_io(s->fd, POLLOUT, deadline) == 0 ? 1 : -1;
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e == SSL_ERROR_SYSCALL && errno == 0)
		return 0;
	if (e != SSL_ERROR_SYSCALL)
		errno = EPROTO;
	return -1;
}

static ssize_t tls_read(void *ctx, void *buf, size_t n)
{
	struct osh_l7_tls_session *s = ctx;
	int64_t deadline = deadline_of(s->timeout_ms);
	ssize_t got = -1;

	if (n > (size_t)INT32_MAX)
		n = INT32_MAX;
	for (;;) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read(s->ssl, buf, (int)n);
		if (r > 0) {
			got = r;
			break;
		}
		r = ssl_retry(s, r, deadline);
		if (r <= 0) {
			got = r == 0 ? 0 : -1;
			break;
		}
	}
	return got;
}

static int tls_write_all(void *ctx, const void *buf, size_t n)
{
	struct osh_l7_tls_session *s = ctx;
	int64_t deadline = deadline_of(s->timeout_ms);
	const char *p = buf;

	while (n > 0) {
		int chunk = n > (1u << 20) ? (1 << 20) : (int)n;
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_write(s->ssl, p, chunk);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		r = ssl_retry(s, r, deadline);
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
	}
	return 0;
}

static void tls_shutdown_write(void *ctx)
{
	struct osh_l7_tls_session *s = ctx;

	ERR_clear_error();
	(void)SSL_shutdown(s->ssl); /* close_notify; not waiting for the peer's */
}

/* The origin's last resumable session (a new reference) or NULL. */
static SSL_SESSION *sess_get(struct osh_l7_tls *t, const char *name)
{
	SSL_SESSION *s = NULL;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < SESS_MAX && !s; i++)
		if (t->sessions[i].name && strcasecmp(t->sessions[i].name, name) == 0 &&
		    SSL_SESSION_up_ref(t->sessions[i].sess))
			s = t->sessions[i].sess;
	pthread_mutex_unlock(&t->lock);
	return s;
}

/* Keeps the session of a finished upstream connection (verified for
 * `name` when it was made: a resumption proves the same server). */
static void sess_put(struct osh_l7_tls *t, const char *name, SSL *ssl)
{
	SSL_SESSION *s = SSL_get1_session(ssl);
	char *n = s && SSL_SESSION_is_resumable(s) ? strdup(name) : NULL;
	unsigned slot = SESS_MAX;

	if (!n) {
		SSL_SESSION_free(s);
		return;
	}
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < SESS_MAX && slot == SESS_MAX; i++)
		if (t->sessions[i].name && strcasecmp(t->sessions[i].name, name) == 0)
			slot = i;
	if (slot == SESS_MAX)
		slot = t->next_sess++ % SESS_MAX;
	free(t->sessions[slot].name);
	SSL_SESSION_free(t->sessions[slot].sess);
	t->sessions[slot].name = n;
	t->sessions[slot].sess = s;
	pthread_mutex_unlock(&t->lock);
}

static struct osh_l7_tls_session *session_new(SSL_CTX *ctx, int fd, unsigned timeout_ms)
{
	struct osh_l7_tls_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ssl = SSL_new(ctx);
	if (!s->ssl || SSL_set_fd(s->ssl, fd) != 1) {
		SSL_free(s->ssl);
		free(s);
		return NULL;
	}
	{
		int fl = fcntl(fd, F_GETFL);

		/* every wait is a poll with the deadline: never block in OpenSSL */
		if (fl >= 0 && !(fl & O_NONBLOCK))
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	s->fd = fd;
	s->timeout_ms = timeout_ms;
	s->io.ctx = s;
	s->io.read = tls_read;
	s->io.write_all = tls_write_all;
	s->io.shutdown_write = tls_shutdown_write;
	return s;
}

/* Drives SSL_accept / SSL_connect to completion within the deadline. */
static int handshake(struct osh_l7_tls_session *s, bool server, char *err, size_t errlen)
{
	int64_t deadline = deadline_of(s->timeout_ms);
	int rc = 0;

	for (;;) {
		int r, w;

		ERR_clear_error();
		errno = 0;
		r = server ? SSL_accept(s->ssl) : SSL_connect(s->ssl);
		if (r == 1)
			break;
		w = SSL_get_error(s->ssl, r);
		if (w == SSL_ERROR_WANT_READ || w == SSL_ERROR_WANT_WRITE) {
			if (wait_io(s->fd, w == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) !=
			    0) {
				snprintf(err, errlen, "TLS handshake timed out");
				rc = OSH_ETIMEDOUT;
				break;
			}
			continue;
		}
		if (!server && SSL_get_verify_result(s->ssl) != X509_V_OK) {
			snprintf(err, errlen, "certificate verify failed: %s",
				 X509_verify_cert_error_string(SSL_get_verify_result(s->ssl)));
			ERR_clear_error();
			rc = OSH_EPERM;
		} else if (ERR_peek_error()) {
			ossl_err(err, errlen, "TLS handshake failed");
			rc = OSH_EPROTO;
		} else {
			snprintf(err, errlen, "TLS handshake failed: %s",
				 errno ? strerror(errno) : "peer closed the connection");
			rc = OSH_EPROTO;
		}
		break;
	}
	return rc;
}

int osh_l7_tls_accept(struct osh_l7_tls *t, int fd, const char *name, unsigned timeout_ms,
		      struct osh_l7_tls_session **out, char *err, size_t errlen)
{
	struct osh_l7_tls_session *s = NULL;
	SSL_CTX *ctx = NULL;
	int rc = 0;

	*out = NULL;
	if (leaf_get(t, name, &ctx) != 0 || !(s = session_new(ctx, fd, timeout_ms))) {
		snprintf(err, errlen, "out of memory minting the certificate for %s", name);
		rc = OSH_ENOMEM;
	}
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	if (rc == 0)
		rc = handshake(s, true, err, errlen);
	if (rc == 0) {
		const char *sni = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);

		if (sni && !(s->sni = strdup(sni))) {
			snprintf(err, errlen, "out of memory");
			rc = OSH_ENOMEM;
		}
	}
	if (rc != 0) {
		if (s) {
			SSL_free(s->ssl);
			free(s->sni);
			free(s);
		}
	} else {
		*out = s;
	}
	return rc;
}

int osh_l7_tls_connect(struct osh_l7_tls *t, int fd, const char *name, unsigned timeout_ms,
		       struct osh_l7_tls_session **out, char *err, size_t errlen)
{
	struct osh_l7_tls_session *s = session_new(t->cli, fd, timeout_ms);
	unsigned char ip[16];
	bool is_ip = inet_pton_any(name, ip);
	int rc = 0;

	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return OSH_ENOMEM;
	}
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), name) != 1)
			rc = OSH_EINVAL;
	} else if (SSL_set_tlsext_host_name(s->ssl, name) != 1 ||
		   SSL_set1_host(s->ssl, name) != 1) {
		rc = OSH_EINVAL;
	}
	if (rc != 0) {
		ossl_err(err, errlen, "setting the upstream name");
	} else {
		SSL_SESSION *prev = sess_get(t, name);

		if (prev) {
			(void)SSL_set_session(s->ssl, prev);
			SSL_SESSION_free(prev);
		}
		s->t = t;
		s->origin = strdup(name);
		rc = s->origin ? handshake(s, false, err, errlen) : OSH_ENOMEM;
	}
	if (rc == 0 && SSL_session_reused(s->ssl)) {
		pthread_mutex_lock(&t->lock);
		t->resumed++;
		pthread_mutex_unlock(&t->lock);
	}
	if (rc != 0) {
		SSL_free(s->ssl);
		free(s->origin);
		free(s);
	} else {
		*out = s;
	}
	return rc;
}

struct osh_l7_io *osh_l7_tls_io(struct osh_l7_tls_session *s)
{
	return &s->io;
}

const char *osh_l7_tls_sni(const struct osh_l7_tls_session *s)
{
	return s->sni;
}

void osh_l7_tls_session_free(struct osh_l7_tls_session *s)
{
	if (!s)
		return;
	ERR_clear_error();
	(void)SSL_shutdown(s->ssl);
	if (s->origin)
		sess_put(s->t, s->origin, s->ssl);
	SSL_free(s->ssl);
	free(s->origin);
	free(s->sni);
	free(s);
	ERR_clear_error();
}
