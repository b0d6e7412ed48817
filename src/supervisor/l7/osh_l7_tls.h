/* osh_l7_tls.h - TLS termination for L7 inspection: the sandbox's ephemeral
 * CA, leaf certificates per name, and TLS sessions as osh_l7_io streams.
 *
 * DESIGN
 * The CA (ECDSA P-256, CN "OpenShell Sandbox CA", 30 days) is made in
 * memory when the supervisor starts; its private key never leaves this
 * process (never written, never logged). Only the CA certificate is written
 * (osh_l7_tls_write_bundle): `openshell-ca.pem` and `ca-bundle.pem` (the
 * system bundle + ours) into a directory the caller names, which the child
 * finds through SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE and
 * NODE_EXTRA_CA_CERTS.
 * A leaf per name (fresh P-256 key, SAN = the name as DNS or IP, 7 days,
 * signed by the CA; chain sent = leaf + CA) is minted on first use and kept
 * in a bounded LRU cache (cache_max names; the least recently used goes).
 * Both directions negotiate ALPN http/1.1 only, TLS 1.2 or newer. The last
 * session of each origin is offered for resumption on the next connection
 * to it (the certificate was verified when it was made).
 * The upstream side verifies the origin's chain against the system store
 * (or the file given as upstream_ca_file; tests use a test CA) and its name
 * (SNI + host check, or the IP for an IP literal): a failure is an error,
 * never a fallback to an unverified or plain connection.
 * Sessions switch the fd to non-blocking mode (it stays so): every wait is a
 * poll with the session's per-call deadline.
 *
 * Ownership: osh_l7_tls_create returns a context freed by
 * osh_l7_tls_destroy (after every session on it is freed). Sessions are
 * owned by their creator and freed with osh_l7_tls_session_free, which does
 * not close the fd. Threads: the context is thread-safe (the leaf cache has
 * a lock); one session is used by one thread at a time.
 */
#ifndef OSH_L7_TLS_H
#define OSH_L7_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "osh_err.h"
#include "osh_l7_io.h"

struct osh_l7_tls;
struct osh_l7_tls_session;

struct osh_l7_tls_config {
	const char *upstream_ca_file; /* NULL = the system store */
	unsigned cache_max;	      /* leaf cache size; 0 = 256 */
};

/* Makes the CA and both TLS contexts. 0, OSH_EIO (the upstream CA file
 * cannot be loaded; err names it) or OSH_ENOMEM / OSH_ESYS (OpenSSL failed;
 * err says where). */
OSH_MUST_CHECK int osh_l7_tls_create(const struct osh_l7_tls_config *cfg, struct osh_l7_tls **out,
				     char *err, size_t errlen);
void osh_l7_tls_destroy(struct osh_l7_tls *t); /* NULL ok */

/* The CA certificate (PEM, owned by t) and its SHA-256 fingerprint (hex). */
const char *osh_l7_tls_ca_pem(const struct osh_l7_tls *t);
const char *osh_l7_tls_ca_sha256(const struct osh_l7_tls *t);

/* Writes DIR/openshell-ca.pem and DIR/ca-bundle.pem (mode 0644; the first
 * existing system bundle + the CA) and puts the bundle's path in
 * bundle_path. 0 or OSH_EIO with err naming the file. */
OSH_MUST_CHECK int osh_l7_tls_write_bundle(const struct osh_l7_tls *t, const char *dir,
					   char *bundle_path, size_t cap, char *err, size_t errlen);

/* Leaf cache counters (minted, served from the cache). Thread-safe. */
void osh_l7_tls_cache_stats(struct osh_l7_tls *t, unsigned long *minted, unsigned long *hits);

/* Upstream connections that resumed an earlier session. Thread-safe. */
unsigned long osh_l7_tls_resumed(struct osh_l7_tls *t);

/* TLS-terminates the client on fd with a leaf for `name` (a DNS name or an
 * IP literal). On success *out is a session whose io reads the client's
 * plaintext; the client's SNI, if it sent one, is osh_l7_tls_sni(*out).
 * This is the API the inference router uses for CONNECT inference.local:
 *     struct osh_l7_tls_session *s;
 *     if (osh_l7_tls_accept(tls, fd, "inference.local", 30000, &s, e, n) == 0) {
 *             struct osh_l7_io *io = osh_l7_tls_io(s);
 *             ... read requests from io, write answers ...
 *             osh_l7_tls_session_free(s);   (close_notify; fd stays open)
 *     }
 * Returns 0, OSH_EPROTO (handshake failed: err has OpenSSL's reason, e.g.
 * "wrong version number" for plain HTTP), OSH_ETIMEDOUT or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_l7_tls_accept(struct osh_l7_tls *t, int fd, const char *name,
				     unsigned timeout_ms, struct osh_l7_tls_session **out,
				     char *err, size_t errlen);

/* Opens TLS to the origin on the connected fd, SNI + verification for
 * `name`. Returns 0, OSH_EPERM (the certificate did not verify: err says
 * why, e.g. "certificate verify failed: self-signed certificate"),
 * OSH_EPROTO, OSH_ETIMEDOUT or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_l7_tls_connect(struct osh_l7_tls *t, int fd, const char *name,
				      unsigned timeout_ms, struct osh_l7_tls_session **out,
				      char *err, size_t errlen);

/* The session as a byte stream (owned by the session). */
struct osh_l7_io *osh_l7_tls_io(struct osh_l7_tls_session *s);

/* The SNI the client sent (accept side), or NULL. */
const char *osh_l7_tls_sni(const struct osh_l7_tls_session *s);

/* Sends close_notify (best effort, bounded by the deadline) and frees the
 * session. The fd is the caller's. NULL ok. */
void osh_l7_tls_session_free(struct osh_l7_tls_session *s);

#endif
