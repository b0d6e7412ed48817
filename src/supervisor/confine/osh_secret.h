/* osh_secret.h - credentials the command never sees: the secret store,
 * placeholders, and substitution on the wire.
 *
 * DESIGN
 * Secrets configured at the gateway (`openshell sandbox create --secret
 * NAME=VALUE`) reach the supervisor out of band (an inherited pipe, never
 * argv or the environment) and live only in the supervisor's memory. The
 * command's environment gets NAME=openshell:resolve:env:NAME instead, so an
 * agent can hand the placeholder to any HTTP client; the proxy, on a request
 * the policy allows, passes the request's header block to
 * osh_secret_substitute, which swaps placeholders for values:
 *   - in header values, anywhere in the value (raw value: a secret never
 *     contains CR, LF or NUL, so it cannot split a header);
 *   - inside `Authorization: Basic <base64>` / `Proxy-Authorization`, in the
 *     decoded text (re-encoded afterwards);
 *   - in the request target (path and query), percent-encoded; a value
 *     containing '/', '\\', "..", '?' or '#' is refused there.
 * Fail closed: if the prefix "openshell:resolve:env:" is still present
 * after substitution (unknown name, placeholder percent-encoded or split), the
 * call fails and the proxy must not forward the request. Bodies are never
 * touched. Values are wiped (explicit_bzero) when the store is freed.
 *
 * Ownership: the store is owned by its creator (osh_secret_store_free);
 * strings passed in are copied; osh_secret_substitute's output is a new heap
 * buffer owned by the caller (free()). A store is immutable once filled, so
 * concurrent osh_secret_substitute calls on it are safe.
 */
#ifndef OSH_SECRET_H
#define OSH_SECRET_H

#include <stddef.h>

#include "osh_err.h"
#include "osh_secret_check.h"

#define OSH_SECRET_PREFIX    "openshell:resolve:env:"
#define OSH_SECRET_TEXT_MAX  61440 /* transfer text (fits one pipe buffer)  */
#define OSH_SECRET_BLOCK_MAX 65536 /* header block osh_secret_substitute takes */

struct osh_secret_store;

/* New empty store. 0 or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_secret_store_new(struct osh_secret_store **out);

/* Wipe and free. NULL ok. */
void osh_secret_store_free(struct osh_secret_store *s);

/* Name and value rules: osh_secret_check.h (shared with the CLI and the
 * gateway). */

/* Add NAME with a value of vlen bytes. OSH_EINVAL (bad name, CR/LF/NUL in
 * the value), OSH_EEXIST (duplicate name), OSH_ETOOBIG (more than
 * OSH_SECRET_MAX secrets or value over OSH_SECRET_VALUE_MAX), OSH_ENOMEM.
 * err names the secret and the problem, never the value. */
OSH_MUST_CHECK int osh_secret_store_add(struct osh_secret_store *s, const char *name,
					const char *value, size_t vlen, char *err, size_t errlen);

/* Parse the transfer text: lines "NAME=VALUE\n" (the last newline optional;
 * empty lines ignored), each added as above; err says which line failed.
 * OSH_ETOOBIG when len > OSH_SECRET_TEXT_MAX. */
OSH_MUST_CHECK int osh_secret_store_parse(struct osh_secret_store *s, const char *text, size_t len,
					  char *err, size_t errlen);

/* Read fd to EOF (at most OSH_SECRET_TEXT_MAX bytes, else OSH_ETOOBIG),
 * parse it, wipe the read buffer. Does not close fd. OSH_EIO on a read
 * error. */
OSH_MUST_CHECK int osh_secret_store_read_fd(struct osh_secret_store *s, int fd, char *err,
					    size_t errlen);

/* Number of secrets and the i-th name (borrowed, valid while s lives). */
size_t osh_secret_store_count(const struct osh_secret_store *s);
const char *osh_secret_store_name(const struct osh_secret_store *s, size_t i);

/* The placeholder of name ("openshell:resolve:env:NAME") into out.
 * 0 or OSH_ETOOBIG / OSH_EINVAL (bad name). */
OSH_MUST_CHECK int osh_secret_placeholder(const char *name, char *out, size_t cap);

/* Substitute placeholders in an HTTP/1.x request header block (request
 * line + header lines, up to and including the empty line; bytes after the
 * empty line are copied unchanged and not scanned). On success returns 0,
 * *replaced = number of substitutions and, when that is > 0, *out / *out_len
 * a new heap buffer (caller frees); with 0 substitutions *out is NULL and
 * the original block is to be forwarded as is. Errors (*out NULL):
 * OSH_EPERM - a placeholder remains unresolved (unknown name, encoded or
 *             split) or a value is unsafe in the request target: the
 *             request must not be forwarded;
 * OSH_EPARSE - no request line (METHOD SP TARGET SP VERSION);
 * OSH_ETOOBIG - len > OSH_SECRET_BLOCK_MAX; OSH_ENOMEM.
 * err never contains a secret value. s may be NULL (no secrets: any
 * placeholder is unresolved). Thread-safe on a filled store. */
OSH_MUST_CHECK int osh_secret_substitute(const struct osh_secret_store *s, const char *in,
					 size_t len, char **out, size_t *out_len,
					 unsigned *replaced, char *err, size_t errlen);

#endif
