/* ssh_sites.h - the SSH subsystem's OCSF log sites (rows under
 * supervisor/ssh in schema/sites.yaml).
 *
 * DESIGN
 * Every step of a connection is one SSH Activity (4007): the server
 * listening (with its host key fingerprint), a preface refused (malformed,
 * too long, bad HMAC, expired timestamp, SSH before the preface, slow client,
 * connection limit), a replay (paired with a Detection Finding, MITRE ATT&CK
 * T1550 Use Alternate Authentication Material under TA0008 Lateral
 * Movement), the connection open and closed, a failed handshake, each
 * channel opened/ended/refused, and a session refused because the sandbox's
 * confinement could not be applied to it. The preface secret and MACs never
 * appear in an event. Thread-safe (osh_emit).
 */
#ifndef OSH_SSH_SITES_H
#define OSH_SSH_SITES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ssh_conn;

void ssh_ev_listen(const char *endpoint, const char *fingerprint, unsigned max_conns);
/* reason: osh_ssh_preface_result_name() or "ssh-before-preface",
 * "timeout", "connection-limit", "read-error"; why: detail. */
void ssh_ev_preface_refused(const struct ssh_conn *c, const char *reason, const char *why);
/* A valid preface whose nonce was seen: SSH Activity + Detection Finding. */
void ssh_ev_replay(const struct ssh_conn *c, const char *nonce, int64_t ts);
void ssh_ev_open(const struct ssh_conn *c, const char *user, const char *client);
void ssh_ev_handshake_failed(const struct ssh_conn *c, const char *why);
void ssh_ev_close(const struct ssh_conn *c, int64_t duration_ms, unsigned channels);
/* kind: shell, exec, sftp, direct-tcpip; detail: command or target. */
void ssh_ev_channel_open(const struct ssh_conn *c, const char *kind, const char *detail, pid_t pid,
			 bool pty);
void ssh_ev_channel_exit(const struct ssh_conn *c, const char *kind, pid_t pid, int code,
			 int signal);
void ssh_ev_channel_refused(const struct ssh_conn *c, const char *kind, const char *detail,
			    const char *reason);
void ssh_ev_confine_failed(const struct ssh_conn *c, const char *kind, const char *step, int err);

#endif
