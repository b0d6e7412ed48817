/* gw_ssh.h - the gateway's side of SSH into sandboxes (docs/ssh.md): the
 * per-sandbox NSSH1 preface secret, the endpoint supervisors report, and
 * the relay the CLI opens.
 *
 * DESIGN: the preface secret (32 random bytes, hex) is made at
 * CreateSandbox, handed to the supervisor on its bootstrap pipe (ssh=...)
 * like its credential, and kept in <data-dir>/ssh/<id>.secret (0600 in a
 * 0700 directory) because, unlike the credential, the gateway needs the
 * secret itself to compute each preface's HMAC; it survives a restart, so an
 * adopted supervisor stays reachable. It is never logged or sent to a CLI.
 * A supervisor reports its Unix socket and host key with ReportSandboxSsh
 * (sandbox credential required, gw_auth.c); the gateway only connects to a
 * socket that is owned by its own uid.
 *
 * The relay: the rpc layer has server streams and unary calls but no
 * bidirectional stream, so ConnectSandboxSsh is a server stream carrying
 * the server's bytes down (its first message names a relay session of 128
 * random bits) and SendSandboxSsh is a unary call carrying the client's
 * bytes up, in order (the CLI sends one at a time). Both are ordinary
 * authenticated operator RPCs on every listener (Unix socket and TLS TCP).
 * Each relay has a reader thread (socket -> stream, paced: it waits while
 * more than RELAY_QUEUE_HIGH messages are queued, so a slow client slows
 * the sandbox's output instead of growing memory); the stream's end
 * (client gone, server shutdown) shuts the socket down and joins it.
 * Thread-safety: the relay table has its own mutex; relays are reference
 * counted (table, a SendSandboxSsh in flight). */
#ifndef OSH_GW_SSH_H
#define OSH_GW_SSH_H

#include <stddef.h>

#include "gw_internal.h"
#include "osh_ssh_preface.h"
#include "sandbox.pb-c.h"

/* Makes and stores the preface secret of sandbox id into out (hex + NUL).
 * 0 or OSH_ESYS (errno) / OSH_EINVAL (id not a plain name). */
OSH_MUST_CHECK int gw_ssh_secret_issue(struct osh_gw *gw, const char *id,
				       char out[OSH_SSH_SECRET_HEX + 1]);
/* Forgets it (sandbox deleted). Missing is fine. */
void gw_ssh_secret_revoke(struct osh_gw *gw, const char *id);

/* Fills Sandbox.ssh_host_key / ssh_fingerprint from the store (heap
 * strings, freed with the message); leaves them "" when never reported. */
void gw_ssh_fill(struct osh_gw *gw, Openshell__V1__Sandbox *m);

/* The ssh methods' table entries (ud filled by the caller). */
extern const struct osh_rpc_method gw_ssh_methods[];
extern const size_t gw_ssh_n_methods;

#endif
