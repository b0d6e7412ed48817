/* test_l7_tls.c - the ephemeral CA and leaf cache with real TLS handshakes
 * over socketpairs: a client that trusts only the sandbox CA verifies the
 * minted leaf for the name it asked; the cache mints once per name and
 * evicts the least recently used; a plain-text client fails the handshake;
 * the upstream side refuses an origin it cannot verify (untrusted CA, wrong
 * name) and accepts it with the right CA file; the bundle holds the CA.
 *
 * DESIGN
 * The terminating side runs on a thread (osh_l7_tls_accept blocks until the
 * handshake ends); the other side is plain OpenSSL in the test thread or a
 * second osh_l7_tls context acting as the origin.
 */
#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "osh_l7_tls.h"
#include "osh_testdir.h"

static int sp[2];

static void setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
}

static void teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

TestSuite(l7_tls, .init = setup, .fini = teardown, .timeout = 30);

struct srv {
	struct osh_l7_tls *t;
	int fd;
	const char *name;
	int rc;
	char err[256];
	char got[64];
	struct osh_l7_tls_session *s;
	bool echo; /* read one message, answer "pong" */
};

static void *srv_main(void *arg)
{
	struct srv *v = arg;

	v->rc = osh_l7_tls_accept(v->t, v->fd, v->name, 5000, &v->s, v->err, sizeof(v->err));
	if (v->rc == 0 && v->echo) {
		struct osh_l7_io *io = osh_l7_tls_io(v->s);
		ssize_t n = io->read(io->ctx, v->got, sizeof(v->got) - 1);

		if (n > 0)
			v->got[n] = '\0';
		(void)io->write_all(io->ctx, "pong", 4);
	}
	if (v->rc == 0)
		osh_l7_tls_session_free(v->s);
	return NULL;
}

/* An OpenSSL client trusting only t's CA; returns the verify result code
 * (X509_V_OK) or -1 when the handshake failed. */
static long client_handshake(struct osh_l7_tls *t, int fd, const char *name, bool talk)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO *b = BIO_new_mem_buf(osh_l7_tls_ca_pem(t), -1);
	X509 *ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
	SSL *ssl;
	long rc = -1;

	cr_assert_not_null(ca);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, name);
	SSL_set1_host(ssl, name);
	if (SSL_connect(ssl) == 1) {
		rc = SSL_get_verify_result(ssl);
		if (talk) {
			char buf[8] = {0};

			cr_assert_eq(SSL_write(ssl, "ping", 4), 4);
			cr_assert_eq(SSL_read(ssl, buf, 4), 4);
			cr_assert_str_eq(buf, "pong");
		}
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	X509_free(ca);
	BIO_free(b);
	return rc;
}

static struct osh_l7_tls *ctx_new(const char *ca_file, unsigned cache)
{
	struct osh_l7_tls_config c = {.upstream_ca_file = ca_file, .cache_max = cache};
	struct osh_l7_tls *t = NULL;
	char err[256];

	cr_assert_eq(osh_l7_tls_create(&c, &t, err, sizeof(err)), 0, "%s", err);
	return t;
}

/* One terminated handshake on a fresh socketpair. */
static void handshake_once(struct osh_l7_tls *t, const char *name)
{
	int p[2];
	pthread_t th;
	struct srv v = {.t = t, .name = name};

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	v.fd = p[0];
	pthread_create(&th, NULL, srv_main, &v);
	cr_assert_eq(client_handshake(t, p[1], name, false), X509_V_OK);
	pthread_join(th, NULL);
	cr_assert_eq(v.rc, 0, "%s", v.err);
	close(p[0]);
	close(p[1]);
}

Test(l7_tls, leaf_verifies_for_its_name_and_carries_data)
{
	struct osh_l7_tls *t = ctx_new(NULL, 0);
	struct srv v = {.t = t, .fd = sp[0], .name = "api.example.com", .echo = true};
	pthread_t th;
	unsigned long minted, hits;

	cr_assert_eq(strlen(osh_l7_tls_ca_sha256(t)), 64);
	cr_assert(strstr(osh_l7_tls_ca_pem(t), "BEGIN CERTIFICATE"));
	cr_assert_null(strstr(osh_l7_tls_ca_pem(t), "PRIVATE KEY")); /* the key never leaves */
	pthread_create(&th, NULL, srv_main, &v);
	cr_assert_eq(client_handshake(t, sp[1], "api.example.com", true), X509_V_OK);
	pthread_join(th, NULL);
	cr_assert_eq(v.rc, 0, "%s", v.err);
	cr_assert_str_eq(v.got, "ping");
	osh_l7_tls_cache_stats(t, &minted, &hits);
	cr_assert_eq(minted, 1);
	cr_assert_eq(hits, 0);
	osh_l7_tls_destroy(t);
}

Test(l7_tls, ip_literal_leaf)
{
	struct osh_l7_tls *t = ctx_new(NULL, 0);

	handshake_once(t, "127.0.0.1");
	osh_l7_tls_destroy(t);
}

Test(l7_tls, cache_mints_once_per_name_and_evicts_lru)
{
	struct osh_l7_tls *t = ctx_new(NULL, 2);
	unsigned long minted, hits;

	handshake_once(t, "a.test");
	handshake_once(t, "a.test");
	osh_l7_tls_cache_stats(t, &minted, &hits);
	cr_assert_eq(minted, 1);
	cr_assert_eq(hits, 1);
	handshake_once(t, "b.test");
	handshake_once(t, "a.test"); /* a is now the most recent */
	handshake_once(t, "c.test"); /* evicts b */
	handshake_once(t, "a.test");
	osh_l7_tls_cache_stats(t, &minted, &hits);
	cr_assert_eq(minted, 3);
	cr_assert_eq(hits, 3);
	handshake_once(t, "b.test"); /* minted again */
	osh_l7_tls_cache_stats(t, &minted, &hits);
	cr_assert_eq(minted, 4);
	osh_l7_tls_destroy(t);
}

Test(l7_tls, plain_text_client_fails_the_handshake)
{
	struct osh_l7_tls *t = ctx_new(NULL, 0);
	struct osh_l7_tls_session *s = NULL;
	char err[256];
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	cr_assert_eq(write(sp[1], req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	shutdown(sp[1], SHUT_WR);
	cr_assert_eq(osh_l7_tls_accept(t, sp[0], "x", 2000, &s, err, sizeof(err)), OSH_EPROTO);
	cr_assert_null(s);
	cr_assert(strstr(err, "TLS handshake failed"), "%s", err);
	osh_l7_tls_destroy(t);
}

Test(l7_tls, silent_client_times_out)
{
	struct osh_l7_tls *t = ctx_new(NULL, 0);
	struct osh_l7_tls_session *s = NULL;
	char err[256];

	cr_assert_eq(osh_l7_tls_accept(t, sp[0], "x", 200, &s, err, sizeof(err)), OSH_ETIMEDOUT);
	cr_assert(strstr(err, "timed out"), "%s", err);
	osh_l7_tls_destroy(t);
}

/* The origin is a second context terminating with its own CA. */
static int upstream(struct osh_l7_tls *cli, struct osh_l7_tls *origin, const char *name,
		    const char *ask, char *err, size_t errlen)
{
	struct srv v = {.t = origin, .fd = sp[0], .name = name, .echo = true};
	struct osh_l7_tls_session *s = NULL;
	pthread_t th;
	int rc;

	pthread_create(&th, NULL, srv_main, &v);
	rc = osh_l7_tls_connect(cli, sp[1], ask, 5000, &s, err, errlen);
	if (rc == 0) {
		struct osh_l7_io *io = osh_l7_tls_io(s);
		char buf[8] = {0};

		cr_assert_eq(io->write_all(io->ctx, "ping", 4), 0);
		cr_assert_eq(io->read(io->ctx, buf, 4), 4);
		cr_assert_str_eq(buf, "pong");
		osh_l7_tls_session_free(s);
	} else {
		shutdown(sp[1], SHUT_RDWR); /* let the origin's accept end */
	}
	pthread_join(th, NULL);
	return rc;
}

Test(l7_tls, upstream_is_verified_never_downgraded)
{
	struct osh_l7_tls *origin = ctx_new(NULL, 0);
	struct osh_l7_tls *sys = ctx_new(NULL, 0);
	char err[256], *dir = osh_testdir_new("l7-tls"), path[512], bundle[512];
	struct osh_l7_tls *trusting;

	cr_assert_eq(upstream(sys, origin, "origin.test", "origin.test", err, sizeof(err)),
		     OSH_EPERM);
	cr_assert(strstr(err, "certificate verify failed"), "%s", err);
	/* a file with the origin's CA makes it verifiable */
	cr_assert_eq(osh_l7_tls_write_bundle(origin, dir, bundle, sizeof(bundle), err, sizeof(err)),
		     0, "%s", err);
	snprintf(path, sizeof(path), "%s/openshell-ca.pem", dir);
	trusting = ctx_new(path, 0);
	close(sp[0]);
	close(sp[1]);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(upstream(trusting, origin, "origin.test", "origin.test", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_l7_tls_resumed(trusting), 0);
	/* the next connection to the same origin resumes its session */
	close(sp[0]);
	close(sp[1]);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(upstream(trusting, origin, "origin.test", "origin.test", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_l7_tls_resumed(trusting), 1);
	/* ... but not for another name */
	close(sp[0]);
	close(sp[1]);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	cr_assert_eq(upstream(trusting, origin, "origin.test", "other.test", err, sizeof(err)),
		     OSH_EPERM);
	cr_assert(strstr(err, "hostname mismatch"), "%s", err);
	osh_l7_tls_destroy(trusting);
	osh_l7_tls_destroy(sys);
	osh_l7_tls_destroy(origin);
	osh_testdir_finish(dir);
}

Test(l7_tls, bundle_is_system_store_plus_ca)
{
	struct osh_l7_tls *t = ctx_new(NULL, 0);
	char err[256], bundle[512], *dir = osh_testdir_new("l7-bundle");
	char *buf = malloc(4 << 20);
	FILE *f;
	size_t n;

	cr_assert_eq(osh_l7_tls_write_bundle(t, dir, bundle, sizeof(bundle), err, sizeof(err)), 0,
		     "%s", err);
	f = fopen(bundle, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, (4 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_assert(strstr(buf, osh_l7_tls_ca_pem(t)));
	cr_assert_gt(n, strlen(osh_l7_tls_ca_pem(t)) + 1000); /* the system CAs too */
	cr_assert_null(strstr(buf, "PRIVATE KEY"));
	free(buf);
	osh_l7_tls_destroy(t);
	cr_assert_eq(osh_l7_tls_write_bundle(t = ctx_new(NULL, 0), "/nonexistent/dir", bundle,
					     sizeof(bundle), err, sizeof(err)),
		     OSH_EIO);
	cr_assert(strstr(err, "/nonexistent/dir/openshell-ca.pem"), "%s", err);
	osh_l7_tls_destroy(t);
	osh_testdir_finish(dir);
}

Test(l7_tls, missing_upstream_ca_file_is_an_error)
{
	struct osh_l7_tls_config c = {.upstream_ca_file = "/nonexistent/ca.pem"};
	struct osh_l7_tls *t = NULL;
	char err[256];

	cr_assert_eq(osh_l7_tls_create(&c, &t, err, sizeof(err)), OSH_EIO);
	cr_assert_null(t);
	cr_assert(strstr(err, "/nonexistent/ca.pem"), "%s", err);
}
