/* gw_auth.h - who may talk to the gateway, and as what.
 *
 * DESIGN: two principals, decided in two places.
 *  - Operators: whoever the listener admits. On the Unix socket the kernel
 *    names the peer (SO_PEERCRED) and gw_auth_peer_ok admits root, the
 *    gateway's own user and members of the socket group (primary or
 *    supplementary); on TCP gRPC's TLS layer admits only clients with a
 *    certificate from --client-ca; --insecure-tcp admits everyone (and says
 *    so in a High event at every start).
 *  - Sandboxes: a supervisor proves it runs sandbox X with the per-sandbox
 *    credential the gateway made at CreateSandbox (32 random bytes, hex),
 *    sent as call metadata `x-openshell-sandbox-credential`. The gateway
 *    keeps only its SHA-256, in the store (osh_gw_store_cred_*), so a
 *    restarted gateway still recognises adopted supervisors, every gateway
 *    on one PostgreSQL database recognises every supervisor (created through
 *    any of them), and a stolen database reveals nothing usable. Digests
 *    read from the store are cached per gateway for GW_AUTH_CACHE_MS (a
 *    push stream is checked per message without a database round trip);
 *    a digest that does not match is read again before a refusal. Data dirs
 *    of gateways that kept the digests in files (<data-dir>/credentials/<id>)
 *    are imported once at start (gw_auth_import_files) and the files removed.
 * gw_auth_authz (the rpc layer's per-call hook) enforces: the supervisor
 * methods (GetSandboxPolicy, PushSandboxLogs, SubmitPolicyAnalysis,
 * ReportSandboxSsh) need a credential that
 * matches the sandbox_id of the request (or of each pushed message);
 * without one -> UNAUTHENTICATED, for another sandbox -> PERMISSION_DENIED.
 * A call that carries a credential may not use operator methods
 * (PERMISSION_DENIED): a supervisor, or an agent that stole its secret, can
 * read and push only its own sandbox. Every refusal is a GW_AUTH_REFUSED
 * event (at most 5 per principal per minute, the rest counted), and the
 * fifth within a minute is a GW_AUTH_REPEATED Detection Finding.
 * A store that cannot be reached makes a supervisor call UNAVAILABLE (the
 * supervisor retries), never a refusal.
 * Thread-safety: the peer hook runs on the listener thread, authz on the
 * loop thread or a worker (offloaded methods), issue/revoke on the loop
 * thread; each thread reads the store through the connection the store
 * callback gives it; the refusal table and the digest cache have one mutex.
 */
#ifndef OSH_GW_AUTH_H
#define OSH_GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "osh_err.h"
#include "osh_rpc.h"

/* Metadata key of the sandbox credential. */
#define GW_AUTH_MD_KEY OSH_RPC_MD_SANDBOX_CREDENTIAL
/* Hex characters of a credential (32 bytes). */
#define GW_AUTH_SECRET_HEX 64

struct gw_auth;

/* How long a digest read from the store is trusted without reading it again. */
#define GW_AUTH_CACHE_MS 30000

struct osh_gw_store;
/* Returns the calling thread's store connection (gw_store); never NULL. */
typedef struct osh_gw_store *(*gw_auth_store_fn)(void *ud);

/* Creates the authenticator. group: the socket group admitted besides root
 * and the gateway's user; store/store_ud: where digests live. Caller owns
 * *out (gw_auth_destroy). Errors: OSH_ENOMEM with err. */
OSH_MUST_CHECK int gw_auth_create(struct gw_auth **out, gid_t group, gw_auth_store_fn store,
				  void *store_ud, char *err, size_t errlen);

/* Migration path for data dirs of earlier gateways: imports the digests of
 * <data_dir>/credentials/<id> into the store (never replacing one stored
 * there; a file whose sandbox is gone is dropped), removes each file once
 * dealt with and the directory at the end, and reports what it did in a
 * GW_CRED_IMPORT event and the gateway log. Nothing to do without the
 * directory. *imported / *skipped count files. Errors: OSH_EPERM (the
 * directory is a symlink or not owned by this user: nothing read), the
 * store's error (files kept, so the next start tries again), with err. */
OSH_MUST_CHECK int gw_auth_import_files(struct gw_auth *a, const char *data_dir, size_t *imported,
					size_t *skipped, char *err, size_t errlen);
void gw_auth_destroy(struct gw_auth *a);

/* The rpc layer's hooks; ud = struct gw_auth *. */
bool gw_auth_peer_ok(const struct osh_rpc_peer *peer, void *ud);
void gw_auth_on_refuse(const struct osh_rpc_peer *peer, int why, void *ud);
int gw_auth_authz(struct osh_rpc_call *call, const ProtobufCMessage *msg, void *ud);

/* Makes a new credential for sandbox `id` (which must be in the store):
 * stores its hash, returns the secret (hex, NUL-terminated) in `secret`.
 * Errors: OSH_ESYS (no randomness), OSH_EINVAL (id not a plain name), the
 * store's error (osh_gw_store_errmsg of the calling thread's store). */
OSH_MUST_CHECK int gw_auth_issue(struct gw_auth *a, const char *id,
				 char secret[GW_AUTH_SECRET_HEX + 1]);
/* Forgets the cached credential of `id` (sandbox deleted: the stored digest
 * goes with the sandbox's record). Missing is fine. */
void gw_auth_revoke(struct gw_auth *a, const char *id);

/* "uid U pid P" of the peer of a call admitted on the Unix socket, or its
 * gRPC peer string; for event fields. Loop thread only. */
const char *gw_auth_who(struct osh_rpc_call *call);

#endif
