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
 *    keeps only its SHA-256 (<data-dir>/credentials/<id>, 0600, in a 0700
 *    directory), so a restarted gateway still recognises adopted
 *    supervisors and a stolen database reveals nothing usable.
 * gw_auth_authz (the rpc layer's per-call hook) enforces: the supervisor
 * methods (GetSandboxPolicy, PushSandboxLogs, ReportSandboxSsh) need a credential that
 * matches the sandbox_id of the request (or of each pushed message);
 * without one -> UNAUTHENTICATED, for another sandbox -> PERMISSION_DENIED.
 * A call that carries a credential may not use operator methods
 * (PERMISSION_DENIED): a supervisor, or an agent that stole its secret, can
 * read and push only its own sandbox. Every refusal is a GW_AUTH_REFUSED
 * event (at most 5 per principal per minute, the rest counted), and the
 * fifth within a minute is a GW_AUTH_REPEATED Detection Finding.
 * Thread-safety: the peer hook runs on the listener thread, authz on the
 * loop thread, issue/revoke on the loop thread; the refusal table has its
 * own mutex.
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

/* Creates the credential store under data_dir ("credentials", 0700).
 * group: the socket group admitted besides root and the gateway's user.
 * Caller owns *out (gw_auth_destroy). Errors: OSH_ESYS/OSH_ENOMEM with err. */
OSH_MUST_CHECK int gw_auth_create(struct gw_auth **out, const char *data_dir, gid_t group,
				  char *err, size_t errlen);
void gw_auth_destroy(struct gw_auth *a);

/* The rpc layer's hooks; ud = struct gw_auth *. */
bool gw_auth_peer_ok(const struct osh_rpc_peer *peer, void *ud);
void gw_auth_on_refuse(const struct osh_rpc_peer *peer, int why, void *ud);
int gw_auth_authz(struct osh_rpc_call *call, const ProtobufCMessage *msg, void *ud);

/* Makes a new credential for sandbox `id`: writes its hash, returns the
 * secret (hex, NUL-terminated) in `secret`. Errors: OSH_ESYS (errno),
 * OSH_EINVAL (id not a plain name). */
OSH_MUST_CHECK int gw_auth_issue(struct gw_auth *a, const char *id,
				 char secret[GW_AUTH_SECRET_HEX + 1]);
/* Forgets the credential of `id` (sandbox deleted). Missing is fine. */
void gw_auth_revoke(struct gw_auth *a, const char *id);

/* "uid U pid P" of the peer of a call admitted on the Unix socket, or its
 * gRPC peer string; for event fields. Loop thread only. */
const char *gw_auth_who(struct osh_rpc_call *call);

#endif
