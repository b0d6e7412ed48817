/* osh_ssh_preface.h - the NSSH1 preface that gates the sandbox's SSH server,
 * and the bounded nonce cache that refuses its replays.
 *
 * DESIGN
 * Before any SSH byte, a connection to the supervisor's SSH socket sends one
 * line: "NSSH1 <token> <unix-ts> <nonce> <hex hmac-sha256>\n" (at most
 * OSH_SSH_PREFACE_MAX bytes with the newline). The HMAC key is the
 * per-sandbox preface secret that only the gateway and the supervisor hold;
 * the message is "<token>|<ts>|<nonce>" with ts re-printed from the parsed
 * integer. Parsing (osh_ssh_preface_parse) is a pure function of the bytes,
 * so the fuzz target drives it alone; verification
 * (osh_ssh_preface_verify) is pure given the secret and the clock, compares
 * the MAC in constant time (CRYPTO_memcmp over the raw 32 bytes) and checks
 * the timestamp against a skew window. Only a fully valid preface reaches the
 * nonce cache: a replay is a nonce already in it.
 *
 * The nonce cache is a fixed array (OSH_SSH_NONCE_CAP entries, no growth,
 * nothing allocated after creation): entries older than the expiry (twice
 * the skew: a preface outside the skew window is refused anyway) are
 * reclaimed on insert; when the cache is full of live nonces the preface is
 * refused (fail closed) rather than an old nonce forgotten early.
 *
 * Ownership: parsed fields point into the caller's line buffer. The cache is
 * owned by its creator (osh_ssh_nonce_free); it has its own mutex.
 * This module is also linked by the gateway, which builds prefaces
 * (osh_ssh_preface_build).
 */
#ifndef OSH_SSH_PREFACE_H
#define OSH_SSH_PREFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

#define OSH_SSH_PREFACE_MAX   1024 /* bytes, newline included */
#define OSH_SSH_PREFACE_MAGIC "NSSH1"
#define OSH_SSH_SKEW_S	      300  /* default clock skew window, seconds */
#define OSH_SSH_FIELD_MAX     256  /* longest token or nonce */
#define OSH_SSH_NONCE_CAP     4096 /* nonces remembered at once */
#define OSH_SSH_SECRET_HEX    64   /* preface secret: 32 random bytes, hex */

/* A parsed preface; strings are NUL-terminated copies (bounded). */
struct osh_ssh_preface {
	char token[OSH_SSH_FIELD_MAX + 1];
	char nonce[OSH_SSH_FIELD_MAX + 1];
	int64_t ts;
	uint8_t mac[32];
};

/* Why a preface was refused (0 = valid). */
enum osh_ssh_preface_result {
	OSH_SSH_PF_OK = 0,
	OSH_SSH_PF_MALFORMED, /* not 5 fields, bad magic, bad number, bad hex   */
	OSH_SSH_PF_TOO_LONG,  /* no newline within OSH_SSH_PREFACE_MAX bytes    */
	OSH_SSH_PF_SKEW,      /* |now - ts| > skew                              */
	OSH_SSH_PF_BAD_MAC,   /* HMAC does not match                            */
	OSH_SSH_PF_REPLAY,    /* nonce seen before                              */
	OSH_SSH_PF_CACHE_FULL /* too many live nonces: refused, fail closed     */
};

/* Short stable name of a result ("malformed", "bad-hmac", ...). */
const char *osh_ssh_preface_result_name(enum osh_ssh_preface_result r);

/* Parse one line (len bytes, without the trailing '\n'; may contain any
 * byte). Fields are separated by single or repeated spaces/tabs; exactly 5,
 * field 0 == "NSSH1", token and nonce 1..OSH_SSH_FIELD_MAX printable ASCII,
 * ts an optional '-' and 1..19 digits fitting int64, mac 64 hex digits (either
 * case). Returns OSH_SSH_PF_OK or OSH_SSH_PF_MALFORMED/_TOO_LONG (len >=
 * OSH_SSH_PREFACE_MAX), with a reason in why (static text). Pure. */
enum osh_ssh_preface_result osh_ssh_preface_parse(const char *line, size_t len,
						  struct osh_ssh_preface *out, const char **why);

/* Check the timestamp (|now_s - ts| <= skew_s) and then the MAC under
 * secret (secret_len bytes) in constant time. Pure. */
enum osh_ssh_preface_result osh_ssh_preface_verify(const struct osh_ssh_preface *p,
						   const char *secret, size_t secret_len,
						   int64_t now_s, int64_t skew_s);

/* Write "NSSH1 token ts nonce hexmac\n" into out (NUL-terminated). token and
 * nonce: printable ASCII without blanks, 1..OSH_SSH_FIELD_MAX. Returns the
 * length, or OSH_EINVAL / OSH_ETOOBIG. */
OSH_MUST_CHECK int osh_ssh_preface_build(const char *token, int64_t ts, const char *nonce,
					 const char *secret, size_t secret_len, char *out,
					 size_t cap);

/* ---------------------------------------------------------- nonce cache */

struct osh_ssh_nonce;

/* A cache remembering nonces for expire_s seconds. Returns 0 or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_ssh_nonce_new(int64_t expire_s, struct osh_ssh_nonce **out);
void osh_ssh_nonce_free(struct osh_ssh_nonce *c);

/* Remember nonce at now_s. Returns OSH_SSH_PF_OK (new; stored),
 * OSH_SSH_PF_REPLAY (stored and not expired) or OSH_SSH_PF_CACHE_FULL.
 * Thread-safe. */
enum osh_ssh_preface_result osh_ssh_nonce_check(struct osh_ssh_nonce *c, const char *nonce,
						int64_t now_s);

/* Live entries (after reclaiming expired ones at now_s). Thread-safe. */
size_t osh_ssh_nonce_count(struct osh_ssh_nonce *c, int64_t now_s);

#endif
