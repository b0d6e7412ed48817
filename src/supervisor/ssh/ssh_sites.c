/* ssh_sites.c - the SSH subsystem's OCSF log sites (see ssh_sites.h).
 *
 * DESIGN
 * The peer of the Unix socket is named by the kernel (SO_PEERCRED): it goes
 * in src_endpoint.name as "local:pid=P,uid=U" (there is no IP), the socket
 * in dst_endpoint.name; both hostnames are "localhost" (a hostname must be
 * one: the down-version converter refuses anything else). auth_type is Other, "NSSH1": the preface
 * is the authentication. Severities: Informational for normal operation, Medium for a refused
 * preface or channel (an error or a probe), High for a replay and for a session refused because a
 * protection could not be applied.
 */
#include "ssh_sites.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"
#include "ssh_internal.h"

static void peer(struct ocsf_ssh_activity *ev, const struct ssh_conn *c)
{
	struct ocsf_network_endpoint *src = ocsf_ssh_activity_src_endpoint(ev);
	struct ocsf_network_endpoint *dst = ocsf_ssh_activity_dst_endpoint(ev);

	/* hostname must be a host name (older OCSF versions check its format):
	 * the local peer and socket go in name */
	ocsf_network_endpoint_set_hostname(src, "localhost");
	ocsf_network_endpoint_set_name(src,
				       ocsf_arena_printf(&ev->ev.arena, "local:pid=%d,uid=%u",
							 (int)c->peer_pid, (unsigned)c->peer_uid));
	ocsf_network_endpoint_set_hostname(dst, "localhost");
	ocsf_network_endpoint_set_name(dst, c->srv->endpoint);
	ocsf_ssh_activity_set_auth_type_id(ev, OCSF_AUTH_TYPE_ID_OTHER);
	ocsf_ssh_activity_set_auth_type(ev, "NSSH1");
	ocsf_ssh_activity_add_unmapped_int(ev, "connection", (int64_t)c->id);
}

static void outcome(struct ocsf_ssh_activity *ev, bool ok)
{
	ocsf_ssh_activity_set_action_id(ev, ok ? OCSF_ACTION_ID_ALLOWED : OCSF_ACTION_ID_DENIED);
	ocsf_ssh_activity_set_disposition_id(ev, ok ? OCSF_DISPOSITION_ID_ALLOWED
						    : OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_ssh_activity_set_status_id(ev, ok ? OCSF_STATUS_ID_SUCCESS : OCSF_STATUS_ID_FAILURE);
}

void ssh_ev_listen(const char *endpoint, const char *fingerprint, unsigned max_conns)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_listen(&ev);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_network_endpoint_set_hostname(ocsf_ssh_activity_dst_endpoint(&ev), "localhost");
	ocsf_network_endpoint_set_name(ocsf_ssh_activity_dst_endpoint(&ev), endpoint);
	/* no peer yet: the server itself (older OCSF versions require one) */
	ocsf_network_endpoint_set_hostname(ocsf_ssh_activity_src_endpoint(&ev), "localhost");
	ocsf_network_endpoint_set_name(ocsf_ssh_activity_src_endpoint(&ev), "openshell-sandbox");
	ocsf_ssh_activity_set_auth_type_id(&ev, OCSF_AUTH_TYPE_ID_OTHER);
	ocsf_ssh_activity_set_auth_type(&ev, "NSSH1");
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "SSH server listening on %s (host key %s); a connection must "
				   "send a valid NSSH1 preface before SSH",
				   endpoint, fingerprint));
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "listening, host key %s", fingerprint));
	ocsf_ssh_activity_add_unmapped_str(&ev, "host_key_fingerprint", fingerprint);
	ocsf_ssh_activity_add_unmapped_int(&ev, "max_connections", max_conns);
	osh_emit(&ev);
}

void ssh_ev_preface_refused(const struct ssh_conn *c, const char *reason, const char *why)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_preface_refused(&ev);
	peer(&ev, c);
	outcome(&ev, false);
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "preface refused (%s): %s", reason, why));
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "SSH connection from %s refused before SSH: %s",
				   c->peer, why));
	ocsf_ssh_activity_add_unmapped_str(&ev, "reason", reason);
	osh_emit(&ev);
}

void ssh_ev_replay(const struct ssh_conn *c, const char *nonce, int64_t ts)
{
	struct ocsf_ssh_activity ev;
	struct ocsf_detection_finding df;
	struct ocsf_finding_info *fi;
	struct ocsf_attack *atk;
	char uid[64];

	snprintf(uid, sizeof(uid), "nssh1-replay-%d-%llu", (int)getpid(),
		 (unsigned long long)c->id);
	osh_site_init_ssh_replay(&ev);
	peer(&ev, c);
	outcome(&ev, false);
	ocsf_ssh_activity_set_is_alert(&ev, true);
	ocsf_ssh_activity_set_status_detail(
	    &ev, "preface refused (nonce-replay): valid preface whose nonce was already used");
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "NSSH1 preface replayed by %s: nonce %.64s (ts %lld) was "
				   "already used; connection refused",
				   c->peer, nonce, (long long)ts));
	ocsf_ssh_activity_add_unmapped_str(&ev, "reason", "nonce-replay");
	ocsf_ssh_activity_add_unmapped_str(&ev, "nonce", nonce);
	ocsf_ssh_activity_add_unmapped_str(&ev, "finding_uid", uid);
	osh_emit(&ev);

	osh_site_init_ssh_replay_finding(&df);
	ocsf_detection_finding_set_action_id(&df, OCSF_ACTION_ID_DENIED);
	ocsf_detection_finding_set_disposition_id(&df, OCSF_DISPOSITION_ID_BLOCKED);
	ocsf_detection_finding_set_is_alert(&df, true);
	ocsf_detection_finding_set_message(
	    &df, ocsf_arena_printf(&df.ev.arena,
				   "NSSH1 nonce replay: a captured preface (nonce %.64s) was sent "
				   "again by %s",
				   nonce, c->peer));
	fi = ocsf_detection_finding_finding_info(&df);
	ocsf_finding_info_set_uid(fi, uid);
	ocsf_finding_info_set_title(fi, "NSSH1 Preface Replay");
	ocsf_finding_info_set_desc(
	    fi, "A valid NSSH1 preface was presented a second time within its validity window. "
		"Prefaces are single-use; a repeat means it was captured and replayed. The "
		"connection was refused before SSH.");
	ocsf_finding_info_add_types(fi, "nssh1-nonce-replay");
	atk = ocsf_finding_info_add_attacks(fi);
	ocsf_tactic_set_uid(ocsf_attack_tactic(atk), "TA0008");
	ocsf_tactic_set_name(ocsf_attack_tactic(atk), "Lateral Movement");
	ocsf_technique_set_uid(ocsf_attack_technique(atk), "T1550");
	ocsf_technique_set_name(ocsf_attack_technique(atk),
				"Use Alternate Authentication Material");
	ocsf_remediation_set_desc(
	    ocsf_detection_finding_remediation(&df),
	    "Find who can read the traffic between the gateway and the "
	    "supervisor's SSH socket; rotate the sandbox (new preface secret).");
	ocsf_detection_finding_add_unmapped_str(&df, "nonce", nonce);
	ocsf_detection_finding_add_unmapped_int(&df, "preface_ts", ts);
	ocsf_detection_finding_add_unmapped_str(&df, "peer", c->peer);
	osh_emit(&df);
}

void ssh_ev_open(const struct ssh_conn *c, const char *user, const char *client)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_open(&ev);
	peer(&ev, c);
	outcome(&ev, true);
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "SSH session open for %s (user %.64s, client %.80s) after a "
				   "valid NSSH1 preface",
				   c->peer, user, client));
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "session open: user %.64s", user));
	ocsf_ssh_activity_add_unmapped_str(&ev, "user", user);
	ocsf_ssh_activity_add_unmapped_str(&ev, "client", client);
	osh_emit(&ev);
}

void ssh_ev_handshake_failed(const struct ssh_conn *c, const char *why)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_handshake_failed(&ev);
	peer(&ev, c);
	outcome(&ev, false);
	ocsf_ssh_activity_set_status_detail(&ev, why);
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "SSH handshake with %s failed: %s", c->peer, why));
	osh_emit(&ev);
}

void ssh_ev_close(const struct ssh_conn *c, int64_t duration_ms, unsigned channels)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_close(&ev);
	peer(&ev, c);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_ssh_activity_set_duration(&ev, duration_ms);
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "SSH connection of %s closed after %lld ms, %u channels",
				   c->peer, (long long)duration_ms, channels));
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "connection closed after %lld ms, %u channels",
				   (long long)duration_ms, channels));
	ocsf_ssh_activity_add_unmapped_int(&ev, "channels", channels);
	osh_emit(&ev);
}

void ssh_ev_channel_open(const struct ssh_conn *c, const char *kind, const char *detail, pid_t pid,
			 bool pty)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_channel_open(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Channel Open");
	peer(&ev, c);
	outcome(&ev, true);
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "SSH %s%s started in the sandbox: %.200s (pid %d)",
				   kind, pty ? " with a PTY" : "", detail, (int)pid));
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "%s%s started: %.160s (pid %d)", kind,
				   pty ? " with a PTY" : "", detail, (int)pid));
	ocsf_ssh_activity_add_unmapped_str(&ev, "channel", kind);
	ocsf_ssh_activity_add_unmapped_str(&ev, "detail", detail);
	ocsf_ssh_activity_add_unmapped_int(&ev, "pid", pid);
	ocsf_ssh_activity_add_unmapped_bool(&ev, "pty", pty);
	osh_emit(&ev);
}

void ssh_ev_channel_exit(const struct ssh_conn *c, const char *kind, pid_t pid, int code,
			 int signal)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_channel_exit(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Channel Close");
	peer(&ev, c);
	ocsf_ssh_activity_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	if (signal)
		ocsf_ssh_activity_set_status_detail(
		    &ev, ocsf_arena_printf(&ev.ev.arena, "%s (pid %d) killed by signal %d", kind,
					   (int)pid, signal));
	else
		ocsf_ssh_activity_set_status_detail(
		    &ev, ocsf_arena_printf(&ev.ev.arena, "%s (pid %d) exited with code %d", kind,
					   (int)pid, code));
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "SSH %s in the sandbox ended", kind));
	ocsf_ssh_activity_add_unmapped_str(&ev, "channel", kind);
	ocsf_ssh_activity_add_unmapped_int(&ev, "pid", pid);
	ocsf_ssh_activity_add_unmapped_int(&ev, "exit_code", code);
	ocsf_ssh_activity_add_unmapped_int(&ev, "signal", signal);
	osh_emit(&ev);
}

void ssh_ev_channel_refused(const struct ssh_conn *c, const char *kind, const char *detail,
			    const char *reason)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_channel_refused(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Channel Refuse");
	peer(&ev, c);
	outcome(&ev, false);
	ocsf_ssh_activity_set_status_detail(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "%s %.120s refused: %s", kind, detail, reason));
	ocsf_ssh_activity_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "SSH %s %.200s refused: %s", kind, detail, reason));
	ocsf_ssh_activity_add_unmapped_str(&ev, "channel", kind);
	ocsf_ssh_activity_add_unmapped_str(&ev, "detail", detail);
	osh_emit(&ev);
}

void ssh_ev_confine_failed(const struct ssh_conn *c, const char *kind, const char *step, int err)
{
	struct ocsf_ssh_activity ev;

	osh_site_init_ssh_confine_failed(&ev);
	ocsf_ssh_activity_set_activity_name(&ev, "Session Refuse");
	peer(&ev, c);
	outcome(&ev, false);
	ocsf_ssh_activity_set_status_detail(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena, "sandbox step %s failed: %s", step, strerror(err)));
	ocsf_ssh_activity_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "SSH %s refused: the sandbox's protections could not be applied "
				   "to it (%s: %s); nothing ran",
				   kind, step, strerror(err)));
	ocsf_ssh_activity_add_unmapped_str(&ev, "channel", kind);
	ocsf_ssh_activity_add_unmapped_str(&ev, "step", step);
	osh_emit(&ev);
}
