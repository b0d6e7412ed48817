/* shorthand.c - the shorthand formatter (grammar in docs/logging.md).
 *
 * DESIGN
 * A line is "<TOKEN> [<SEV>]" followed by pieces; a piece that has nothing to
 * say is left out together with its leading space (no double spaces). The
 * class-common attributes (activity, severity, action, disposition, status,
 * status_detail, message, actor, firewall_rule, unmapped) are first copied
 * into one `view` through the generated shared-attribute row of the event's
 * class (ocsf_shared.h: field index and offset per attribute, no class
 * switch). The grammar is then picked from a table keyed by the generated
 * class descriptor; a class without an entry (or a descriptor not generated
 * here) gets the generic grammar, never an error. All grammars share the
 * "why" rules the Rust system had to add later:
 *   - a denied (action Denied) or failed (status Failure / activity Fail)
 *     event ends in [reason:<status_detail, else message>];
 *   - an event whose line would otherwise carry no detail ends in
 *     [msg:<message>].
 * Every value goes through osh_emit_escape() with its own byte budget, so no
 * value can break the line (CWE-117) or push the others out of it. Values in
 * a bracketed context also escape '[' and ']'; finding titles escape '"'.
 */
#include "shorthand.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "emit_internal.h"
#include "ocsf.h"
#include "ocsf_gen.h"
#include "ocsf_shared.h"
#include "osh_err.h"
#include "osh_level.h"

#define BR "[]"

struct out {
	char *buf;
	size_t cap;
	size_t pos;
	size_t open_at; /* offset of the grammar's open '[', valid when open */
	bool open;	/* a bracketed piece is open (grammar literals only) */
};

static inline void put_raw(struct out *o, const char *s, size_t n)
{
	if (o->pos + n > o->cap - 1)
		n = o->cap - 1 - o->pos;
	memcpy(o->buf + o->pos, s, n);
	o->pos += n;
	o->buf[o->pos] = '\0';
}

/* Grammar literal: also tracks the line's own bracket state, so a line cut
 * at the cap can close the piece it was in (close_cut_line). Every literal
 * that opens a piece starts with " [" and the only closing literal is "]";
 * no other literal holds a bracket, so two byte compares suffice. */
static inline __attribute__((always_inline)) void put(struct out *o, const char *s)
{
	size_t start = o->pos;

	put_raw(o, s, strlen(s));
	if (s[0] == ' ' && s[1] == '[') {
		if (o->pos > start + 1) {
			o->open = true;
			o->open_at = start + 1;
		}
	} else if (s[0] == ']' && o->pos > start) {
		o->open = false;
	}
}

/* A line that reached the cap inside a bracketed piece ends in "...]"
 * instead, cut on a UTF-8 character boundary, so no piece is left open for a
 * reader (or the next line) to complete. */
static void close_cut_line(struct out *o)
{
	size_t end;

	if (!o->open)
		return;
	end = o->cap - 1 >= 4 ? o->cap - 1 - 4 : 0;
	if (end > o->pos)
		end = o->pos;
	while (end > 0 && ((unsigned char)o->buf[end] & 0xc0u) == 0x80u)
		end--;
	if (end <= o->open_at) {
		/* The opening itself would be cut: drop it (and mark the cut
		 * when there is room). */
		end = o->open_at;
		o->pos = end;
		if (end + 3 <= o->cap - 1) {
			memcpy(o->buf + end, "...", 3);
			o->pos = end + 3;
		}
	} else {
		memcpy(o->buf + end, "...]", 4);
		o->pos = end + 4;
	}
	o->buf[o->pos] = '\0';
	o->open = false;
}

static void put_esc(struct out *o, const char *s, size_t budget, const char *extra)
{
	if (s == NULL)
		s = "";
	osh_emit_escape(o->buf, o->cap, &o->pos, s, strlen(s), budget, extra);
}

/* Upper-cased token (activity, action, state): spaces become '_', anything
 * outside [A-Z0-9_-.] is escaped. */
static void put_token(struct out *o, const char *s)
{
	char tmp[OSH_SH_NAME_BUDGET];
	size_t n = 0;

	if (s == NULL || s[0] == '\0')
		s = "UNKNOWN";
	for (; *s != '\0' && n < sizeof(tmp) - 1; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c = (unsigned char)(c - 'a' + 'A');
		tmp[n++] = (char)c;
	}
	tmp[n] = '\0';
	osh_emit_escape(o->buf, o->cap, &o->pos, tmp, n, OSH_SH_NAME_BUDGET / 2, BR);
}

/* Decimal digits without snprintf (called several times per line). */
static void put_int(struct out *o, int64_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--n] = '-';
	put_raw(o, tmp + n, sizeof(tmp) - n);
}

static const char *caption(const struct ocsf_object *desc, int field, int64_t value)
{
	const struct ocsf_enum_item *it = NULL;

	if (desc != NULL && field >= 0 && field < desc->n_fields &&
	    desc->fields[field].enumeration != NULL)
		it = ocsf_enum_find(desc->fields[field].enumeration, value);
	return it != NULL ? it->caption : NULL;
}

/* Class-common attributes, copied with typed access. */
struct view {
	const struct ocsf_event *ev;
	const struct ocsf_shared *sh; /* where the shared attributes live */
	const struct ocsf_object *desc;
	const char *activity_label; /* caller label (activity 99) or NULL */
	const char *status_detail;
	const char *message;
	const struct ocsf_actor *actor;
	const struct ocsf_firewall_rule *rule;
	const struct ocsf_array *unmapped;
	int32_t activity_id;
	int32_t severity_id;
	int32_t action_id;
	int32_t disposition_id;
	int32_t status_id;
	int action_field;
	int disposition_field;
	int status_field;
	bool has_action;
	bool has_disposition;
	bool has_status;
	bool reason_used_message;
};

#define PRES(CLS, F)	ocsf_present_get(e->present, OCSF_##CLS##_F_##F)
#define STRF(CLS, F, m) (PRES(CLS, F) ? e->m : NULL)

#define PRES(CLS, F)	ocsf_present_get(e->present, OCSF_##CLS##_F_##F)
#define STRF(CLS, F, m) (PRES(CLS, F) ? e->m : NULL)

/* The class-common attributes, read through the generated shared-attribute
 * row of the event's class (ocsf_shared.h): no per-class code, and a class
 * this file has no formatter for (or one not generated at all) still gets a
 * full view. */
static inline __attribute__((always_inline)) void
fill_view(struct view *v, const struct ocsf_event *ev, const struct ocsf_shared *sh)
{
	/* Inlined into the caller, whose local `v` cannot alias the row: the
	 * row is read once. The 99/Other labels of action, disposition and
	 * status are read only when shown (shared_label). */
	v->ev = ev;
	v->sh = sh;
	v->desc = ev->cls->object;
	v->activity_label = ocsf_shared_str(ev, sh, sh->activity_name);
	v->status_detail = ocsf_shared_str(ev, sh, sh->status_detail);
	v->message = ocsf_shared_str(ev, sh, sh->message);
	v->actor = ocsf_shared_obj(ev, sh, sh->actor);
	v->rule = ocsf_shared_obj(ev, sh, sh->firewall_rule);
	v->unmapped = ocsf_shared_present(ev, sh, sh->unmapped)
			  ? (const struct ocsf_array *)ocsf_shared_member(ev, sh->unmapped)
			  : NULL;
	v->activity_id = ocsf_shared_i32(ev, sh, sh->activity_id);
	v->severity_id = ocsf_shared_i32(ev, sh, sh->severity_id);
	v->has_action = ocsf_shared_present(ev, sh, sh->action_id);
	v->action_id = ocsf_shared_i32(ev, sh, sh->action_id);
	v->action_field = sh->action_id.idx;
	v->has_disposition = ocsf_shared_present(ev, sh, sh->disposition_id);
	v->disposition_id = ocsf_shared_i32(ev, sh, sh->disposition_id);
	v->disposition_field = sh->disposition_id.idx;
	v->has_status = ocsf_shared_present(ev, sh, sh->status_id);
	v->status_id = ocsf_shared_i32(ev, sh, sh->status_id);
	v->status_field = sh->status_id.idx;
	v->reason_used_message = false;
}

static const char *activity_caption(const struct view *v)
{
	const struct ocsf_enum_item *it;

	if (v->activity_label != NULL && v->activity_label[0] != '\0')
		return v->activity_label;
	it = ocsf_enum_find(v->ev->cls->activity, v->activity_id);
	return it != NULL ? it->caption : "Unknown";
}

static const char *enum_label(const struct view *v, int field, int32_t id, const char *label)
{
	if (label != NULL && label[0] != '\0' && id == 99)
		return label;
	return caption(v->desc, field, id);
}

/* Caption of a shared enum attribute; for 99 (Other) the site's label from
 * its caption sibling slot when one is set. */
static const char *shared_label(const struct view *v, int field, int32_t id,
				struct ocsf_shared_slot label)
{
	const char *l = id == 99 ? ocsf_shared_str(v->ev, v->sh, label) : NULL;

	return l != NULL && l[0] != '\0' ? l : caption(v->desc, field, id);
}

static void put_head(struct out *o, const char *cls, const char *token, const struct view *v)
{
	put(o, cls);
	if (token != NULL) {
		put(o, ":");
		put_token(o, token);
	}
	put(o, " [");
	put(o, osh_level_severity_tag(v->severity_id));
	put(o, "]");
}

static void put_action(struct out *o, const struct view *v)
{
	if (v->has_action) {
		put(o, " ");
		put_token(o, shared_label(v, v->action_field, v->action_id, v->sh->action));
	}
}

/* "<name>(<pid>)" of a process; name falls back to path, then "unknown".
 * The name sits outside any bracketed piece, so '[' and ']' are escaped as
 * well as '(' and ')': a binary named "curl [policy:x]" must not forge a
 * policy piece. */
static void put_process(struct out *o, const struct ocsf_process *p)
{
	const char *name = NULL;

	if (ocsf_present_get(p->present, OCSF_PROCESS_F_NAME))
		name = p->name;
	else if (ocsf_present_get(p->present, OCSF_PROCESS_F_PATH))
		name = p->path;
	put_esc(o, name != NULL && name[0] != '\0' ? name : "unknown", OSH_SH_NAME_BUDGET, "()" BR);
	if (ocsf_present_get(p->present, OCSF_PROCESS_F_PID)) {
		put(o, "(");
		put_int(o, p->pid);
		put(o, ")");
	}
}

static const struct ocsf_process *actor_process(const struct view *v)
{
	if (v->actor != NULL && ocsf_present_get(v->actor->present, OCSF_ACTOR_F_PROCESS))
		return v->actor->process;
	return NULL;
}

/* Endpoint "<domain|hostname|ip|unknown>[:<port>]". */
static void put_endpoint(struct out *o, const struct ocsf_network_endpoint *ep, bool prefer_ip)
{
	const char *host = NULL;

	if (!prefer_ip && ocsf_present_get(ep->present, OCSF_NETWORK_ENDPOINT_F_DOMAIN))
		host = ep->domain;
	if (host == NULL && !prefer_ip &&
	    ocsf_present_get(ep->present, OCSF_NETWORK_ENDPOINT_F_HOSTNAME))
		host = ep->hostname;
	if (host == NULL && ocsf_present_get(ep->present, OCSF_NETWORK_ENDPOINT_F_IP))
		host = ep->ip;
	if (host == NULL && ocsf_present_get(ep->present, OCSF_NETWORK_ENDPOINT_F_HOSTNAME))
		host = ep->hostname;
	if (host == NULL && ocsf_present_get(ep->present, OCSF_NETWORK_ENDPOINT_F_DOMAIN))
		host = ep->domain;
	put_esc(o, host != NULL && host[0] != '\0' ? host : "unknown", OSH_SH_NAME_BUDGET, BR);
	if (ocsf_present_get(ep->present, OCSF_NETWORK_ENDPOINT_F_PORT)) {
		put(o, ":");
		put_int(o, ep->port);
	}
}

static void put_policy(struct out *o, const struct view *v, bool engine)
{
	const struct ocsf_firewall_rule *r = v->rule;
	bool has_name, has_type;

	if (r == NULL)
		return;
	has_name = ocsf_present_get(r->present, OCSF_FIREWALL_RULE_F_NAME) && r->name != NULL &&
		   r->name[0] != '\0';
	has_type = ocsf_present_get(r->present, OCSF_FIREWALL_RULE_F_TYPE) && r->type != NULL &&
		   r->type[0] != '\0';
	put(o, " [policy:");
	put_esc(o, has_name ? r->name : "-", OSH_SH_NAME_BUDGET, BR);
	if (engine && has_type) {
		put(o, " engine:");
		put_esc(o, r->type, OSH_SH_NAME_BUDGET, BR);
	}
	put(o, "]");
}

/* Denied, failed, or the class's own "Fail" activity (network-style
 * classes; the generated row names it, -1 elsewhere) shown as such. */
static bool is_failed(const struct view *v)
{
	return (v->has_action && v->action_id == OCSF_ACTION_ID_DENIED) ||
	       (v->has_status && v->status_id == OCSF_STATUS_ID_FAILURE) ||
	       (v->sh->fail_activity >= 0 && v->activity_id == v->sh->fail_activity &&
		strcmp(activity_caption(v), "Fail") == 0);
}

static bool nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* [reason:...] for denied/failed events: status_detail, else the message
 * (unless the message already is the line's body). */
static void put_reason(struct out *o, struct view *v, bool message_is_body)
{
	const char *r = NULL;

	if (!is_failed(v))
		return;
	if (nonempty(v->status_detail)) {
		r = v->status_detail;
	} else if (!message_is_body && nonempty(v->message)) {
		r = v->message;
		v->reason_used_message = true;
	}
	if (r == NULL)
		return;
	put(o, " [reason:");
	put_esc(o, r, OSH_SH_TEXT_BUDGET, BR);
	put(o, "]");
}

/* [msg:...] when nothing after the head/action said anything. */
static void put_msg_fallback(struct out *o, const struct view *v, size_t body_start,
			     size_t body_end)
{
	if (body_end != body_start || v->reason_used_message || !nonempty(v->message))
		return;
	put(o, " [msg:");
	put_esc(o, v->message, OSH_SH_TEXT_BUDGET, BR);
	put(o, "]");
}

/* ----------------------------------------------------------- per class */

static void fmt_net(struct out *o, struct view *v)
{
	const struct ocsf_network_activity *e = (const void *)v->ev;
	const struct ocsf_process *p = actor_process(v);
	bool has_dst = PRES(NETWORK_ACTIVITY, DST_ENDPOINT);
	size_t body;

	put_head(o, "NET", activity_caption(v), v);
	put_action(o, v);
	body = o->pos;
	if (p != NULL) {
		put(o, " ");
		put_process(o, p);
	}
	if (has_dst) {
		put(o, p != NULL ? " -> " : " ");
		put_endpoint(o, e->dst_endpoint, false);
		if (PRES(NETWORK_ACTIVITY, CONNECTION_INFO) &&
		    ocsf_present_get(e->connection_info->present,
				     OCSF_NETWORK_CONNECTION_INFO_F_PROTOCOL_NAME) &&
		    nonempty(e->connection_info->protocol_name)) {
			put(o, "/");
			put_esc(o, e->connection_info->protocol_name, OSH_SH_NAME_BUDGET / 4, BR);
		}
	}
	put_policy(o, v, true);
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

/* Default port of a URL scheme, 0 when none is known. */
static unsigned default_port(const char *scheme)
{
	unsigned p = 0;

	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0)
		p = 80;
	else if (strcmp(scheme, "https") == 0 || strcmp(scheme, "wss") == 0)
		p = 443;
	return p;
}

static void fmt_http(struct out *o, struct view *v)
{
	const struct ocsf_http_activity *e = (const void *)v->ev;
	const struct ocsf_process *p = actor_process(v);
	const struct ocsf_http_request *rq =
	    PRES(HTTP_ACTIVITY, HTTP_REQUEST) ? e->http_request : NULL;
	const struct ocsf_network_endpoint *dst =
	    PRES(HTTP_ACTIVITY, DST_ENDPOINT) ? e->dst_endpoint : NULL;
	const char *method = NULL;
	size_t body;

	if (rq != NULL && ocsf_present_get(rq->present, OCSF_HTTP_REQUEST_F_HTTP_METHOD) &&
	    nonempty(rq->http_method))
		method = rq->http_method;
	put_head(o, "HTTP", method != NULL ? method : activity_caption(v), v);
	put_action(o, v);
	body = o->pos;
	if (rq != NULL) {
		const struct ocsf_url *u =
		    ocsf_present_get(rq->present, OCSF_HTTP_REQUEST_F_URL) ? rq->url : NULL;
		const char *scheme = NULL, *host = NULL, *path = NULL;
		unsigned port = 0;
		bool has_port = false;

		if (u != NULL) {
			if (ocsf_present_get(u->present, OCSF_URL_F_SCHEME) && nonempty(u->scheme))
				scheme = u->scheme;
			if (ocsf_present_get(u->present, OCSF_URL_F_HOSTNAME) &&
			    nonempty(u->hostname))
				host = u->hostname;
			else if (ocsf_present_get(u->present, OCSF_URL_F_DOMAIN) &&
				 nonempty(u->domain))
				host = u->domain;
			if (ocsf_present_get(u->present, OCSF_URL_F_PATH) && nonempty(u->path))
				path = u->path;
			if (ocsf_present_get(u->present, OCSF_URL_F_PORT)) {
				port = u->port;
				has_port = true;
			}
		}
		if (dst != NULL) {
			if (host == NULL &&
			    ocsf_present_get(dst->present, OCSF_NETWORK_ENDPOINT_F_DOMAIN) &&
			    nonempty(dst->domain))
				host = dst->domain;
			if (host == NULL &&
			    ocsf_present_get(dst->present, OCSF_NETWORK_ENDPOINT_F_IP) &&
			    nonempty(dst->ip))
				host = dst->ip;
			if (!has_port &&
			    ocsf_present_get(dst->present, OCSF_NETWORK_ENDPOINT_F_PORT)) {
				port = dst->port;
				has_port = true;
			}
		}
		if (scheme == NULL)
			scheme = has_port && port == 443 ? "https" : "http";
		if (p != NULL) {
			put(o, " ");
			put_process(o, p);
			put(o, " ->");
		}
		put(o, " ");
		put_token(o, method != NULL ? method : "UNKNOWN");
		put(o, " ");
		put_esc(o, scheme, 16, BR);
		put(o, "://");
		put_esc(o, host != NULL ? host : "unknown", OSH_SH_NAME_BUDGET, BR "/");
		if (has_port && port != default_port(scheme)) {
			put(o, ":");
			put_int(o, port);
		}
		if (path != NULL && path[0] != '/')
			put(o, "/");
		/* Query strings are left out on purpose: they often carry tokens. */
		put_esc(o, path != NULL ? path : "/", OSH_SH_PATH_BUDGET, BR " ");
	} else if (dst != NULL) {
		if (p != NULL) {
			put(o, " ");
			put_process(o, p);
		}
		put(o, p != NULL ? " -> " : " ");
		put_endpoint(o, dst, false);
	}
	put_policy(o, v, true);
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

static void fmt_ssh(struct out *o, struct view *v)
{
	const struct ocsf_ssh_activity *e = (const void *)v->ev;
	const struct ocsf_network_endpoint *peer = NULL;
	const char *auth = NULL;
	size_t body;

	put_head(o, "SSH", activity_caption(v), v);
	put_action(o, v);
	body = o->pos;
	if (PRES(SSH_ACTIVITY, SRC_ENDPOINT))
		peer = e->src_endpoint;
	else if (PRES(SSH_ACTIVITY, DST_ENDPOINT))
		peer = e->dst_endpoint;
	if (peer != NULL) {
		put(o, " ");
		put_endpoint(o, peer, true);
	}
	if (PRES(SSH_ACTIVITY, AUTH_TYPE_ID))
		auth = enum_label(v, OCSF_SSH_ACTIVITY_F_AUTH_TYPE_ID, e->auth_type_id,
				  STRF(SSH_ACTIVITY, AUTH_TYPE, auth_type));
	if (nonempty(auth)) {
		put(o, " [auth:");
		put_esc(o, auth, OSH_SH_NAME_BUDGET, BR);
		put(o, "]");
	}
	put_policy(o, v, true);
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

static void fmt_proc(struct out *o, struct view *v)
{
	const struct ocsf_process_activity *e = (const void *)v->ev;
	size_t body;

	put_head(o, "PROC", activity_caption(v), v);
	put_action(o, v);
	body = o->pos;
	if (PRES(PROCESS_ACTIVITY, PROCESS)) {
		put(o, " ");
		put_process(o, e->process);
	}
	if (PRES(PROCESS_ACTIVITY, EXIT_CODE)) {
		put(o, " [exit:");
		put_int(o, e->exit_code);
		put(o, "]");
	}
	if (PRES(PROCESS_ACTIVITY, PROCESS) &&
	    ocsf_present_get(e->process->present, OCSF_PROCESS_F_CMD_LINE) &&
	    nonempty(e->process->cmd_line)) {
		put(o, " [cmd:");
		put_esc(o, e->process->cmd_line, OSH_SH_PATH_BUDGET, BR);
		put(o, "]");
	}
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

static void fmt_finding(struct out *o, struct view *v)
{
	const struct ocsf_detection_finding *e = (const void *)v->ev;
	const struct ocsf_finding_info *fi =
	    PRES(DETECTION_FINDING, FINDING_INFO) ? e->finding_info : NULL;
	const char *token = NULL, *conf = NULL;
	bool has_type;
	size_t body;

	if (v->has_disposition)
		token =
		    shared_label(v, v->disposition_field, v->disposition_id, v->sh->disposition);
	put_head(o, "FINDING", token != NULL ? token : activity_caption(v), v);
	body = o->pos;
	if (fi != NULL && ocsf_present_get(fi->present, OCSF_FINDING_INFO_F_TITLE)) {
		put(o, " \"");
		put_esc(o, fi->title, OSH_SH_TITLE_BUDGET, "\"");
		put(o, "\"");
	}
	has_type = fi != NULL && ocsf_present_get(fi->present, OCSF_FINDING_INFO_F_UID) &&
		   nonempty(fi->uid);
	if (PRES(DETECTION_FINDING, CONFIDENCE_ID))
		conf = enum_label(v, OCSF_DETECTION_FINDING_F_CONFIDENCE_ID, e->confidence_id,
				  STRF(DETECTION_FINDING, CONFIDENCE, confidence));
	if (has_type || nonempty(conf)) {
		put(o, " [");
		if (has_type) {
			put(o, "type:");
			put_esc(o, fi->uid, OSH_SH_NAME_BUDGET, BR);
		}
		if (nonempty(conf)) {
			char low[32];
			size_t n = 0;

			for (; n < sizeof(low) - 1 && conf[n] != '\0'; n++)
				low[n] = (char)tolower((unsigned char)conf[n]);
			low[n] = '\0';
			put(o, has_type ? " confidence:" : "confidence:");
			put_esc(o, low, 32, BR);
		}
		put(o, "]");
	}
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

static void fmt_lifecycle(struct out *o, struct view *v)
{
	const struct ocsf_application_lifecycle *e = (const void *)v->ev;
	size_t body;

	put_head(o, "LIFECYCLE", activity_caption(v), v);
	body = o->pos;
	if (PRES(APPLICATION_LIFECYCLE, APP) &&
	    ocsf_present_get(e->app->present, OCSF_PRODUCT_F_NAME) && nonempty(e->app->name)) {
		put(o, " ");
		put_esc(o, e->app->name, OSH_SH_NAME_BUDGET, BR);
	}
	if (v->has_status) {
		const char *st = shared_label(v, v->status_field, v->status_id, v->sh->status);

		if (nonempty(st)) {
			char low[32];
			size_t n = 0;

			for (; n < sizeof(low) - 1 && st[n] != '\0'; n++)
				low[n] = (char)tolower((unsigned char)st[n]);
			low[n] = '\0';
			put(o, " ");
			put_esc(o, low, 32, BR);
		}
	}
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

static const struct ocsf_kv *unmapped_find(const struct view *v, const char *key)
{
	const struct ocsf_kv *kv, *found = NULL;

	if (v->unmapped == NULL)
		return NULL;
	kv = v->unmapped->items;
	for (uint32_t i = 0; i < v->unmapped->len; i++) {
		if (kv[i].key != NULL && strcmp(kv[i].key, key) == 0)
			found = &kv[i]; /* last one wins */
	}
	return found;
}

static void put_kv_value(struct out *o, const struct ocsf_kv *kv)
{
	char tmp[40];
	int n;

	switch (kv->type) {
	case OCSF_KV_STRING:
	case OCSF_KV_JSON:
		put_esc(o, kv->v.s, OSH_SH_KV_BUDGET, BR " ");
		break;
	case OCSF_KV_INT:
		put_int(o, kv->v.i);
		break;
	case OCSF_KV_BOOL:
		put(o, kv->v.b ? "true" : "false");
		break;
	case OCSF_KV_FLOAT:
		n = snprintf(tmp, sizeof(tmp), "%.6g", kv->v.f);
		put_raw(o, tmp, (size_t)(n > 0 ? n : 0));
		break;
	default:
		put(o, "?");
		break;
	}
}

static void fmt_config(struct out *o, struct view *v)
{
	const struct ocsf_device_config_state_change *e = (const void *)v->ev;
	const struct ocsf_kv *ver, *hash;
	const char *state = NULL;

	if (PRES(DEVICE_CONFIG_STATE_CHANGE, STATE) && nonempty(e->state))
		state = e->state;
	else if (PRES(DEVICE_CONFIG_STATE_CHANGE, STATE_ID))
		state = caption(v->desc, OCSF_DEVICE_CONFIG_STATE_CHANGE_F_STATE_ID, e->state_id);
	put_head(o, "CONFIG", state != NULL ? state : "UNKNOWN", v);
	put(o, " ");
	put_esc(o, nonempty(v->message) ? v->message : "config", OSH_SH_TEXT_BUDGET, NULL);
	ver = unmapped_find(v, "policy_version");
	hash = unmapped_find(v, "policy_hash");
	if (ver != NULL || hash != NULL) {
		put(o, " [");
		if (ver != NULL) {
			put(o, "version:");
			put_kv_value(o, ver);
		}
		if (hash != NULL) {
			put(o, ver != NULL ? " hash:" : "hash:");
			put_kv_value(o, hash);
		}
		put(o, "]");
	}
	put_reason(o, v, true);
}

static void fmt_base(struct out *o, struct view *v)
{
	put_head(o, "EVENT", NULL, v);
	put(o, " ");
	put_esc(o, nonempty(v->message) ? v->message : "event", OSH_SH_TEXT_BUDGET, NULL);
	if (v->unmapped != NULL && v->unmapped->len > 0) {
		const struct ocsf_kv *kv = v->unmapped->items;
		uint32_t shown = 0;

		put(o, " [");
		for (uint32_t i = 0; i < v->unmapped->len && shown < 3; i++, shown++) {
			if (shown > 0)
				put(o, " ");
			put_esc(o, kv[i].key, OSH_SH_KV_BUDGET, BR ": ");
			put(o, ":");
			put_kv_value(o, &kv[i]);
		}
		put(o, "]");
	}
	put_reason(o, v, true);
}

typedef void (*fmt_fn)(struct out *o, struct view *v);

/* Any class without a formatter of its own: the class caption as the token,
 * then what the shared attributes say (grammar in docs/logging.md). */
static void fmt_generic(struct out *o, struct view *v)
{
	const struct ocsf_shared *sh = v->sh;
	const struct ocsf_process *p = actor_process(v);
	const struct ocsf_process *proc = ocsf_shared_obj(v->ev, sh, sh->process);
	const struct ocsf_network_endpoint *src = ocsf_shared_obj(v->ev, sh, sh->src_endpoint);
	const struct ocsf_network_endpoint *dst = ocsf_shared_obj(v->ev, sh, sh->dst_endpoint);
	size_t body;

	put_token(o, v->ev->cls->class_name);
	put(o, ":");
	put_token(o, activity_caption(v));
	put(o, " [");
	put(o, osh_level_severity_tag(v->severity_id));
	put(o, "]");
	put_action(o, v);
	body = o->pos;
	/* actor -> process -> src -> dst, each when present */
	if (p != NULL) {
		put(o, " ");
		put_process(o, p);
	}
	if (proc != NULL) {
		put(o, o->pos != body ? " -> " : " ");
		put_process(o, proc);
	}
	if (src != NULL) {
		put(o, o->pos != body ? " -> " : " ");
		put_endpoint(o, src, true);
	}
	if (dst != NULL) {
		put(o, o->pos != body ? " -> " : " ");
		put_endpoint(o, dst, false);
	}
	put_policy(o, v, true);
	{
		size_t before_reason = o->pos;

		put_reason(o, v, false);
		put_msg_fallback(o, v, body, before_reason);
	}
}

/* Classes with a dedicated grammar, indexed by their generated row
 * (ocsf_shared.h); every other class (an empty entry, or a descriptor not
 * generated here) gets fmt_generic. */
static const fmt_fn formatters[OCSF_GEN_N_CLASSES] = {
    [OCSF_SHARED_ROW_NETWORK_ACTIVITY] = fmt_net,
    [OCSF_SHARED_ROW_HTTP_ACTIVITY] = fmt_http,
    [OCSF_SHARED_ROW_SSH_ACTIVITY] = fmt_ssh,
    [OCSF_SHARED_ROW_PROCESS_ACTIVITY] = fmt_proc,
    [OCSF_SHARED_ROW_DETECTION_FINDING] = fmt_finding,
    [OCSF_SHARED_ROW_APPLICATION_LIFECYCLE] = fmt_lifecycle,
    [OCSF_SHARED_ROW_DEVICE_CONFIG_STATE_CHANGE] = fmt_config,
    [OCSF_SHARED_ROW_BASE_EVENT] = fmt_base,
};

static fmt_fn formatter_of(const struct ocsf_shared *sh)
{
	fmt_fn fmt = fmt_generic;
	ptrdiff_t row = sh - ocsf_shared_all;

	/* A resolved (scratch) row lies outside the generated table. */
	if (row >= 0 && row < OCSF_GEN_N_CLASSES && formatters[row] != NULL)
		fmt = formatters[row];
	return fmt;
}

/* fmt NULL: the class's own formatter; sh NULL: look the row up. */
static int format_line(const struct ocsf_event *ev, const struct ocsf_shared *sh, char *buf,
		       size_t cap, size_t *len, fmt_fn fmt)
{
	struct out o = {buf, cap, 0, 0, false};
	struct ocsf_shared scratch;
	struct view v;
	int rc = 0;

	if (len != NULL)
		*len = 0;
	if (ev == NULL || ev->cls == NULL || ev->cls->object == NULL || buf == NULL ||
	    len == NULL) {
		rc = OSH_EINVAL;
		goto out;
	}
	if (cap < 512) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	buf[0] = '\0';
	if (sh == NULL)
		sh = ocsf_shared_of(ev->cls, &scratch);
	fill_view(&v, ev, sh);
	(fmt != NULL ? fmt : formatter_of(sh))(&o, &v);
	close_cut_line(&o);
	*len = o.pos;
out:
	return rc;
}

int osh_emit_shorthand_generic(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len)
{
	return format_line(ev, NULL, buf, cap, len, fmt_generic);
}

int osh_emit_shorthand(const struct ocsf_event *ev, char *buf, size_t cap, size_t *len)
{
	return format_line(ev, NULL, buf, cap, len, NULL);
}

int osh_emit_shorthand_with(const struct ocsf_event *ev, const struct ocsf_shared *sh, char *buf,
			    size_t cap, size_t *len)
{
	return format_line(ev, sh, buf, cap, len, NULL);
}
