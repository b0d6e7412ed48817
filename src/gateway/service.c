/* service.c - the OpenShell gRPC service of the gateway.
 *
 * DESIGN: one handler per method of proto/sandbox.proto. Cheap handlers
 * (GetSandboxPolicy, config, create/delete) run on the server loop thread;
 * everything that queries or writes log lines, or can be big (push, logs,
 * watch, list), is marked `offload` and runs on the rpc worker pool, each
 * thread on its own store connection (gw_store), so nothing slow ever sits in
 * front of a policy poll (see gw_internal.h for the locks). Log lines take one
 * path whatever their origin (supervisor push or the gateway's own notes):
 * gw_logs_publish stores the batch in one transaction and, under the same
 * lock, hands the lines to every matching follower, each line encoded once
 * and one shared encoding for unfiltered followers. Followers never block
 * anyone: a follower's queue is bounded in bytes and drops (counting lines)
 * when full; the count is told by the next message that gets through, by a
 * marker as soon as the reader caught up (drain hook), and by the stream's
 * last message when the sandbox goes away. Every answer fits one gRPC
 * message: queries read newest first and stop at what fits (`truncated`),
 * lists page. Pushes are bound to one sandbox per stream: the first message
 * names it, it must exist, and every line is rewritten with that id and
 * source "sandbox" (or "agent" for the command's output, which the
 * supervisor marks so), so a supervisor cannot write into another sandbox's
 * log or pose as the gateway; every field of a line is capped. */
#include <errno.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <openssl/crypto.h>

#include "gw_auth.h"
#include "osh_labels.h"
#include "gw_internal.h"
#include "gw_sites.h"
#include "ocsf_convert.h"
#include "gwlog.h"
#include "osh_utf8.h"
#include "sandbox.pb-c.h"
#include "sandboxes.h"
#include "osh_policy.h"
#include "osh_secret_check.h"
#include "gw_ssh.h"
#include "osh_time.h"

#define PUSH_BATCH_MAX	   1000		       /* lines per push message; more are dropped */
#define PUSH_LINE_MAX	   ((size_t)64 * 1024) /* bytes of message per line; longer are dropped */
#define PUSH_TARGET_MAX	   256		       /* bytes of target */
#define PUSH_LEVEL_MAX	   16		       /* bytes of level ("ERROR", "OCSF", ...) */
#define PUSH_FIELDS_MAX	   32		       /* fields per line */
#define PUSH_KEY_MAX	   128		       /* bytes of a field key */
#define PUSH_VALUE_MAX	   4096		       /* bytes of a field value */
#define PUSH_FIELDS_JSON   ((size_t)32 * 1024) /* bytes of the stored fields JSON */
#define PUSH_OCSF_JSON_MAX ((size_t)64 * 1024) /* bytes of an event's OCSF JSON */
#define LOGS_DEFAULT_LINES 200
#define WATCH_BATCH	   256		     /* lines per replay message */
#define WATCH_QUEUE	   1024		     /* queued messages per follower */
#define WATCH_QUEUE_BYTES  ((size_t)1 << 20) /* queued bytes per follower (+1 message) */
#define WATCH_PER_SANDBOX  64		     /* followers of one sandbox */
#define WATCH_PER_CONN	   32		     /* followers on one client connection */
#define WATCH_MAX	   512		     /* followers in all */
#define MSG_BYTES_MAX	   ((size_t)3 << 20) /* under gRPC's 4 MiB message limit */
#define LIST_DEFAULT_PAGE  500
#define LIST_MAX_PAGE	   1000

/* ------------------------------------------------------------ helpers -- */

/* snprintf into a path buffer; OSH_ETOOBIG instead of a silent truncation. */
static int pathf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt,
		      ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
	return (n < 0 || (size_t)n >= cap) ? OSH_ETOOBIG : 0;
}

/* A zeroed array of n (at least 1) message pointers. Every array of protobuf-c
 * message pointers is allocated here, as void * slots (object pointers share one
 * representation), which keeps the sizeof idiom in one place. */
/* The status of a failed store call: UNAVAILABLE when the database server
 * cannot be reached (PostgreSQL; the client may retry), else `other`. */
static enum osh_rpc_code store_code(int rc, enum osh_rpc_code other)
{
	return rc == OSH_EUNAVAIL ? OSH_RPC_UNAVAILABLE : other;
}

static void *ptr_array(size_t n)
{
	return calloc(n ? n : 1, sizeof(void *));
}

static int entry_cmp(const void *a, const void *b)
{
	const Openshell__V1__ConfigEntry *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

/* Builds a SandboxLogLine (all heap) from a stored/published line. */
static Openshell__V1__SandboxLogLine *line_msg(const char *sandbox_id,
					       const struct osh_gw_logline *l)
{
	Openshell__V1__SandboxLogLine *m = calloc(1, sizeof(*m));
	cJSON *obj = NULL;
	bool ok = false;

	if (!m)
		return NULL;
	openshell__v1__sandbox_log_line__init(m);
	m->sandbox_id = xstrdup(sandbox_id);
	m->timestamp_ms = l->ts_ms;
	m->level = xstrdup(l->level);
	m->target = xstrdup(l->target);
	m->message = xstrdup(l->message);
	m->source = xstrdup(l->source);
	m->ocsf_json = xstrdup(l->ocsf_json);
	if (!m->sandbox_id || !m->level || !m->target || !m->message || !m->source || !m->ocsf_json)
		goto out;
	if (l->fields && l->fields[0])
		obj = cJSON_Parse(l->fields);
	if (obj && cJSON_IsObject(obj)) {
		size_t n = (size_t)cJSON_GetArraySize(obj), i = 0;
		const cJSON *it;

		m->fields = ptr_array(n);
		if (!m->fields)
			goto out;
		cJSON_ArrayForEach(it, obj)
		{
			Openshell__V1__SandboxLogLine__FieldsEntry *e;

			if (!cJSON_IsString(it) || !it->string)
				continue;
			e = calloc(1, sizeof(*e));
			if (!e)
				goto out;
			openshell__v1__sandbox_log_line__fields_entry__init(e);
			m->fields[i++] = e;
			m->n_fields = i;
			e->key = xstrdup(it->string);
			e->value = xstrdup(it->valuestring);
			if (!e->key || !e->value)
				goto out;
		}
	}
	ok = true;
out:
	cJSON_Delete(obj);
	if (!ok) {
		/* all members are heap or NULL: the generic free handles it */
		protobuf_c_message_free_unpacked(&m->base, NULL);
		m = NULL;
	}
	return m;
}

static void lines_free(Openshell__V1__SandboxLogLine **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		if (v[i])
			protobuf_c_message_free_unpacked(&v[i]->base, NULL);
	free(v);
}

/* Whether a pushed line is within the per-field caps (every field, not only
 * the message, so no field can carry megabytes into the store or past the
 * response limit). A line over a cap is dropped and counted. */
static bool line_within_caps(const Openshell__V1__SandboxLogLine *l)
{
	bool ok = !(l->message && strlen(l->message) > PUSH_LINE_MAX) &&
		  !(l->target && strlen(l->target) > PUSH_TARGET_MAX) &&
		  !(l->level && strlen(l->level) > PUSH_LEVEL_MAX) &&
		  !(l->ocsf_json && strlen(l->ocsf_json) > PUSH_OCSF_JSON_MAX) &&
		  l->n_fields <= PUSH_FIELDS_MAX;

	for (size_t i = 0; ok && i < l->n_fields; i++) {
		const Openshell__V1__SandboxLogLine__FieldsEntry *e = l->fields[i];

		ok = e && !(e->key && strlen(e->key) > PUSH_KEY_MAX) &&
		     !(e->value && strlen(e->value) > PUSH_VALUE_MAX);
	}
	return ok;
}

/* Fields map -> JSON object text (heap), NULL when empty. */
static char *fields_json(const Openshell__V1__SandboxLogLine *l)
{
	cJSON *o;
	char *s = NULL;

	if (l->n_fields == 0)
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	for (size_t i = 0; i < l->n_fields; i++) {
		const Openshell__V1__SandboxLogLine__FieldsEntry *e = l->fields[i];

		if (e && e->key)
			cJSON_AddStringToObject(o, e->key, e->value ? e->value : "");
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static Openshell__V1__SandboxState state_pb(enum osh_gw_sb_state s)
{
	Openshell__V1__SandboxState p = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_UNSPECIFIED;

	switch (s) {
	case OSH_GW_SB_CREATED:
		p = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_PROVISIONING;
		break;
	case OSH_GW_SB_RUNNING:
		p = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING;
		break;
	case OSH_GW_SB_EXITED:
		p = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED;
		break;
	case OSH_GW_SB_FAILED:
		p = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_FAILED;
		break;
	case OSH_GW_SB_LOST:
		p = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED;
		break;
	}
	return p;
}

/* Any thread (ListSandboxes runs on a worker): under del_mu. */
static bool delete_pending(struct osh_gw *gw, const char *id)
{
	bool found = false;

	pthread_mutex_lock(&gw->del_mu);
	for (struct gw_delete *d = gw->deletes; d && !found; d = d->next)
		found = strcmp(d->id, id) == 0;
	pthread_mutex_unlock(&gw->del_mu);
	return found;
}

/* Loop thread: links a pending delete (readers elsewhere hold del_mu). */
static void delete_link(struct osh_gw *gw, struct gw_delete *d)
{
	pthread_mutex_lock(&gw->del_mu);
	d->next = gw->deletes;
	gw->deletes = d;
	pthread_mutex_unlock(&gw->del_mu);
}

/* The labels of a record (canonical text) as the message's map entries. */
static int labels_msg(Openshell__V1__Sandbox *m, const char *labels)
{
	char k[OSH_LABEL_KEY_MAX + 1], v[OSH_LABEL_VALUE_MAX + 1];
	const char *c = labels;
	size_t n = 0;
	int rc = 0;

	for (const char *p = labels; p && *p; p++)
		n += *p == '\n';
	if (n == 0)
		goto out;
	m->labels = calloc(n, sizeof(Openshell__V1__Sandbox__LabelsEntry *));
	if (!m->labels) {
		rc = OSH_ENOMEM;
		goto out;
	}
	/* The store refuses text that is not canonical; should a row hold some
	 * anyway, the labels read up to it are shown. */
	while (m->n_labels < n && osh_labels_next(&c, k, v) == 1) {
		Openshell__V1__Sandbox__LabelsEntry *e = calloc(1, sizeof(*e));

		if (!e) {
			rc = OSH_ENOMEM;
			goto out;
		}
		openshell__v1__sandbox__labels_entry__init(e);
		m->labels[m->n_labels++] = e;
		e->key = xstrdup(k);
		e->value = xstrdup(v);
		if (!e->key || !e->value) {
			rc = OSH_ENOMEM;
			goto out;
		}
	}
out:
	return rc;
}

/* Sandbox record -> message (all heap; free with protobuf_c_message_free_unpacked). */
static Openshell__V1__Sandbox *sandbox_msg(struct osh_gw *gw, const struct osh_gw_sandbox *sb)
{
	Openshell__V1__Sandbox *m = calloc(1, sizeof(*m));
	cJSON *cmd = NULL;
	bool ok = false;

	if (!m)
		return NULL;
	openshell__v1__sandbox__init(m);
	m->id = xstrdup(sb->id);
	m->name = xstrdup(sb->name);
	m->log_dir = xstrdup(sb->log_dir);
	if (!m->id || !m->name || !m->log_dir)
		goto out;
	m->state = state_pb(sb->state);
	if (gw && delete_pending(gw, sb->id))
		m->state = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_DELETING;
	m->pid = sb->state == OSH_GW_SB_RUNNING ? sb->pid : 0;
	if (sb->state == OSH_GW_SB_EXITED) {
		m->opt_exit_code_case = OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE;
		m->exit_code = sb->exit_signal > 0 ? 128 + sb->exit_signal : sb->exit_code;
	}
	m->created_ms = sb->created_ms;
	m->policy_version = sb->policy_version;
	gw_ssh_fill(gw, m);
	if (sb->command)
		cmd = cJSON_Parse(sb->command);
	if (cmd && cJSON_IsArray(cmd)) {
		size_t n = (size_t)cJSON_GetArraySize(cmd);
		const cJSON *it;

		m->command = calloc(n ? n : 1, sizeof(char *));
		if (!m->command)
			goto out;
		cJSON_ArrayForEach(it, cmd)
		{
			if (!cJSON_IsString(it))
				continue;
			m->command[m->n_command] = xstrdup(it->valuestring);
			if (!m->command[m->n_command])
				goto out;
			m->n_command++;
		}
	}
	if (labels_msg(m, sb->labels) != 0)
		goto out;
	ok = true;
out:
	cJSON_Delete(cmd);
	if (!ok) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		m = NULL;
	}
	return m;
}

/* Looks a sandbox up by id (preferred when non-empty) or name. Fails the call
 * (NOT_FOUND / INVALID_ARGUMENT / INTERNAL) and returns non-zero when absent. */
int gw_resolve_sandbox(struct osh_gw *gw, struct osh_rpc_call *call, const char *id,
		       const char *name, struct osh_gw_sandbox *sb)
{
	bool by_name = !(id && id[0]);
	const char *key = by_name ? name : id;
	int rc;

	if (!key || !key[0]) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"sandbox_id or name is required");
		return OSH_EINVAL;
	}
	rc = osh_gw_store_sandbox_get(gw_store(gw), key, by_name, sb);
	if (rc == OSH_ENOTFOUND)
		(void)osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "no sandbox with %s '%s'",
					by_name ? "name" : "id", key);
	else if (rc != 0)
		(void)osh_rpc_call_fail(call, store_code(rc, OSH_RPC_INTERNAL), "store: %s",
					osh_gw_store_errmsg(gw_store(gw)));
	return rc;
}

static int resolve(struct osh_gw *gw, struct osh_rpc_call *call, const char *id, const char *name,
		   struct osh_gw_sandbox *sb)
{
	return gw_resolve_sandbox(gw, call, id, name, sb);
}

/* ------------------------------------------------------- log fan-out -- */

static void follower_free(struct gw_follower *f)
{
	if (!f)
		return;
	free(f->min_level);
	for (size_t i = 0; f->sources && i < f->n_sources; i++)
		free(f->sources[i]);
	free(f->sources);
	free(f);
}

static void follower_query(const struct gw_follower *f, struct osh_gw_logquery *q)
{
	memset(q, 0, sizeof(*q));
	q->sandbox_id = f->sandbox_id;
	q->since_ms = f->since_ms;
	q->min_level = f->min_level;
	q->sources = (const char *const *)f->sources;
	q->n_sources = f->n_sources;
}

static bool follower_unfiltered(const struct gw_follower *f)
{
	return f->since_ms == 0 && !(f->min_level && f->min_level[0]) && f->n_sources == 0;
}

/* Wire bytes one line adds to a repeated `logs` field (tag + length + body). */
static size_t line_wire(const Openshell__V1__SandboxLogLine *l)
{
	size_t n = openshell__v1__sandbox_log_line__get_packed_size(l);

	return n + 1 + (n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4);
}

/* Lines [0, n) split in parts whose message fits MSG_BYTES_MAX: returns the
 * length of the first part (at least 1). */
static size_t part_len(Openshell__V1__SandboxLogLine *const *v, size_t n)
{
	size_t bytes = 16, k = 0; /* room for `dropped` */

	while (k < n && (k == 0 || bytes + line_wire(v[k]) <= MSG_BYTES_MAX))
		bytes += line_wire(v[k++]);
	return k;
}

/* Sends lines to one follower (under fol_mu), in as many messages as needed;
 * the first carries the lines missed so far. A message the follower's queue
 * cannot take adds its lines to f->missed, announced by the next message that
 * gets through, by the drain hook, or at the end of the stream. */
static void follower_send(struct gw_follower *f, Openshell__V1__SandboxLogLine **v, size_t n)
{
	while (n > 0) {
		Openshell__V1__WatchSandboxLogsResponse r =
		    OPENSHELL__V1__WATCH_SANDBOX_LOGS_RESPONSE__INIT;
		size_t k = part_len(v, n);
		int rc;

		r.logs = v;
		r.n_logs = k;
		r.dropped = f->missed;
		rc = osh_rpc_call_write(f->call, &r.base);
		if (rc == 0)
			f->missed = 0;
		else if (rc == OSH_EFULL || rc == OSH_ENOMEM || rc == OSH_ETOOBIG)
			f->missed += k;
		v += k;
		n -= k;
	}
}

/* One batch of published lines, encoded once for every follower of the
 * sandbox: line messages built once, and for followers without filters or
 * pending drops the packed parts are shared (no per-follower encoding). */
struct fanout {
	Openshell__V1__SandboxLogLine **v;
	size_t n;
	struct osh_rpc_packed **parts; /* built on first use */
	size_t *part_n;
	size_t n_parts;
	bool parts_failed;
};

static int fanout_parts(struct fanout *fo)
{
	size_t i = 0;

	if (fo->parts || fo->parts_failed)
		return fo->parts ? 0 : OSH_ENOMEM;
	fo->parts = ptr_array(fo->n);
	fo->part_n = calloc(fo->n ? fo->n : 1, sizeof(*fo->part_n));
	if (!fo->parts || !fo->part_n)
		goto fail;
	while (i < fo->n) {
		Openshell__V1__WatchSandboxLogsResponse r =
		    OPENSHELL__V1__WATCH_SANDBOX_LOGS_RESPONSE__INIT;
		size_t k = part_len(fo->v + i, fo->n - i);

		r.logs = fo->v + i;
		r.n_logs = k;
		if (osh_rpc_packed_new(&r.base, 0, &fo->parts[fo->n_parts]) != 0)
			goto fail;
		fo->part_n[fo->n_parts++] = k;
		i += k;
	}
	return 0;
fail:
	fo->parts_failed = true;
	for (size_t j = 0; fo->parts && j < fo->n_parts; j++)
		osh_rpc_packed_free(fo->parts[j]);
	free(fo->parts);
	free(fo->part_n);
	fo->parts = NULL;
	fo->part_n = NULL;
	fo->n_parts = 0;
	return OSH_ENOMEM;
}

static void fanout_one(struct fanout *fo, struct gw_follower *f, const struct osh_gw_logline *lines)
{
	Openshell__V1__SandboxLogLine **sel;
	struct osh_gw_logquery q;
	size_t k = 0;

	if (f->missed == 0 && follower_unfiltered(f) && fanout_parts(fo) == 0) {
		for (size_t i = 0; i < fo->n_parts; i++) {
			int rc = osh_rpc_call_write_packed(f->call, fo->parts[i]);

			if (rc == OSH_EFULL || rc == OSH_ENOMEM || rc == OSH_ETOOBIG)
				f->missed += fo->part_n[i];
		}
		return;
	}
	sel = ptr_array(fo->n);
	if (!sel) {
		f->missed += fo->n;
		return;
	}
	follower_query(f, &q);
	for (size_t i = 0; i < fo->n; i++)
		if (fo->v[i] && osh_gw_logquery_match(&q, &lines[i]))
			sel[k++] = fo->v[i];
	follower_send(f, sel, k);
	free(sel);
}

/* Stores lines (acknowledged push when res is set), then fans out the lines
 * that were inserted (a duplicate of a resent push has seq 0 and is skipped). */
static int publish(struct osh_gw *gw, const char *id, struct osh_gw_logline *lines, size_t n,
		   uint64_t last_seq, struct osh_gw_push_result *res)
{
	struct osh_gw_store *st = gw_store(gw);
	struct fanout fo = {0};
	uint64_t *seqs = NULL;
	size_t nf = 0;
	int rc;

	if (n == 0 && !res)
		return 0;
	seqs = calloc(n ? n : 1, sizeof(*seqs));
	if (!seqs)
		return OSH_ENOMEM;
	pthread_mutex_lock(&gw->pub_mu);
	if (res)
		rc = osh_gw_store_logs_push(st, id, lines, n, last_seq, seqs, res);
	else
		rc = osh_gw_store_logs_append(st, id, lines, n, seqs);
	if (rc != 0) {
		pthread_mutex_unlock(&gw->pub_mu);
		goto out;
	}
	/* Only stored lines go to followers: a duplicate of a resent push has
	 * seq 0 and is dropped from the batch here (order kept). */
	for (size_t i = 0; i < n; i++) {
		lines[i].seq = seqs[i];
		lines[i].sandbox_id = id;
		if (seqs[i])
			lines[nf++] = lines[i];
	}
	pthread_mutex_lock(&gw->fol_mu);
	for (struct gw_follower *f = gw->followers; f; f = f->next) {
		if (strcmp(f->sandbox_id, id) != 0)
			continue;
		if (nf == 0)
			break;
		if (!fo.v) {
			fo.v = ptr_array(nf);
			if (!fo.v)
				break;
			fo.n = nf;
			for (size_t i = 0; i < nf; i++)
				fo.v[i] = line_msg(id, &lines[i]);
		}
		fanout_one(&fo, f, lines);
	}
	pthread_mutex_unlock(&gw->fol_mu);
	pthread_mutex_unlock(&gw->pub_mu);
	/* Stored events go to the export: a copy into its hand-off, never a
	 * wait (duplicates of a resent push were dropped above). */
	for (size_t i = 0; i < nf; i++)
		if (lines[i].ocsf_json && lines[i].ocsf_json[0])
			gx_export_offer(gw->exp, lines[i].ocsf_json, strlen(lines[i].ocsf_json));
out:
	for (size_t i = 0; i < fo.n_parts; i++)
		osh_rpc_packed_free(fo.parts[i]);
	free(fo.parts);
	free(fo.part_n);
	lines_free(fo.v, fo.n);
	free(seqs);
	return rc;
}

int gw_logs_publish(struct osh_gw *gw, const char *id, struct osh_gw_logline *lines, size_t n)
{
	return publish(gw, id, lines, n, 0, NULL);
}

void gw_note(struct osh_gw *gw, const char *id, const char *level, const char *fmt, ...)
{
	struct osh_gw_logline l;
	char msg[1024];
	va_list ap;
	int n;
	enum osh_gw_loglevel ll = OSH_GW_LOG_INFO;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt,
		      ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
	if (n >= (int)sizeof(msg)) /* cut: never in the middle of a character (F2) */
		msg[osh_utf8_cut(msg, sizeof(msg) - 1)] = '\0';
	if (strcmp(level, "WARN") == 0)
		ll = OSH_GW_LOG_WARN;
	else if (strcmp(level, "ERROR") == 0)
		ll = OSH_GW_LOG_ERROR;
	osh_gw_log(ll, "sandbox %s: %s", id, msg);
	memset(&l, 0, sizeof(l));
	l.ts_ms = osh_time_wall_ms();
	l.level = level;
	l.target = "openshell_gateway";
	l.message = msg;
	l.source = "gateway";
	if (gw_logs_publish(gw, id, &l, 1) != 0 &&
	    strcmp(osh_gw_store_errmsg(gw_store(gw)), "") != 0)
		osh_gw_log(OSH_GW_LOG_DEBUG, "sandbox %s: note not stored: %s", id,
			   osh_gw_store_errmsg(gw_store(gw)));
}

/* A message with no lines that only says how many were missed. */
static void missed_msg(Openshell__V1__WatchSandboxLogsResponse *r, uint64_t missed)
{
	openshell__v1__watch_sandbox_logs_response__init(r);
	r->dropped = missed;
}

void gw_followers_end(struct osh_gw *gw, const char *id)
{
	pthread_mutex_lock(&gw->fol_mu);
	for (struct gw_follower *f = gw->followers; f; f = f->next) {
		Openshell__V1__WatchSandboxLogsResponse r;

		if (strcmp(f->sandbox_id, id) != 0)
			continue;
		if (f->missed == 0) {
			(void)osh_rpc_call_finish(f->call);
			continue;
		}
		/* The reader learns what it missed even with a full queue. */
		missed_msg(&r, f->missed);
		if (osh_rpc_call_finish_with(f->call, &r.base) == 0)
			f->missed = 0;
	}
	pthread_mutex_unlock(&gw->fol_mu);
}

/* The follower's queue drained after a drop: say how many lines it missed
 * now rather than with the next line (which may never come). */
static void h_watch_drain(struct osh_rpc_call *call, void *ud)
{
	struct osh_gw *gw = ud;

	pthread_mutex_lock(&gw->fol_mu);
	for (struct gw_follower *f = gw->followers; f; f = f->next) {
		Openshell__V1__WatchSandboxLogsResponse r;

		if (f->call != call || f->missed == 0)
			continue;
		missed_msg(&r, f->missed);
		if (osh_rpc_call_write(call, &r.base) == 0)
			f->missed = 0;
		break;
	}
	pthread_mutex_unlock(&gw->fol_mu);
}

/* --------------------------------------------------- GetSandboxPolicy -- */

static void h_get_policy(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetSandboxPolicyRequest *req = (const void *)m;
	Openshell__V1__GetSandboxPolicyResponse r =
	    OPENSHELL__V1__GET_SANDBOX_POLICY_RESPONSE__INIT;
	Openshell__V1__SandboxConfig sc = OPENSHELL__V1__SANDBOX_CONFIG__INIT;
	Openshell__V1__LoggingConfig lc = OPENSHELL__V1__LOGGING_CONFIG__INIT;
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	struct osh_gw_config cfg;
	uint64_t rev = 0;

	memset(&sb, 0, sizeof(sb));
	if (!req->sandbox_id || !req->sandbox_id[0]) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "sandbox_id is required");
		return;
	}
	if (resolve(gw, call, req->sandbox_id, NULL, &sb) != 0)
		return;
	if (sb.policy && sb.policy_len > 0) {
		r.policy = openshell__v1__sandbox_policy__unpack(NULL, sb.policy_len, sb.policy);
		if (!r.policy) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL,
						"stored policy of sandbox %s does not decode",
						sb.id);
			goto out;
		}
		r.version = sb.policy_version;
		r.policy_hash = sb.policy_hash;
	}
	if (!gw->omit_sandbox_config) {
		osh_gw_cfgstate_get(gw->cfg, &cfg, &rev);
		/* on while the JSONL setting is, or the OCSF export has a
		 * destination: supervisors then push each event's JSON */
		lc.ocsf_enabled = gw_ocsf_effective(gw, &cfg);
		lc.ocsf_schema_version = (char *)(uintptr_t)ocsf_version_name(
		    (enum ocsf_version)cfg.v.ocsf_schema_version);
		sc.config_revision = rev;
		sc.logging = &lc;
		r.sandbox_config = &sc;
	}
	(void)osh_rpc_call_reply(call, &r.base);
out:
	if (r.policy)
		openshell__v1__sandbox_policy__free_unpacked(r.policy, NULL);
	osh_gw_sandbox_fini(&sb);
}

/* ---------------------------------------------------- PushSandboxLogs -- */

struct push_state {
	char sandbox_id[40];
	uint64_t accepted;
	uint64_t dropped;
	uint64_t duplicates;
	uint64_t acked_seq;
};

/* Binds the stream to the sandbox its first message names. 0, or the call
 * was failed. */
static int push_bind(struct osh_gw *gw, struct osh_rpc_call *call,
		     const Openshell__V1__PushSandboxLogsRequest *req, struct push_state **out)
{
	struct push_state *ps = osh_rpc_call_data(call);
	struct osh_gw_sandbox sb;
	int rc = -1;

	*out = ps;
	if (ps) {
		if (req->sandbox_id && req->sandbox_id[0] &&
		    strcmp(req->sandbox_id, ps->sandbox_id) != 0)
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
						"this stream pushes for sandbox %s, not %s",
						ps->sandbox_id, req->sandbox_id);
		else
			rc = 0;
		goto out;
	}
	if (!req->sandbox_id || !req->sandbox_id[0]) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"sandbox_id is required on the first message");
		goto out;
	}
	if (strlen(req->sandbox_id) >= sizeof(ps->sandbox_id)) {
		(void)osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "no sandbox with id '%.64s'",
					req->sandbox_id);
		goto out;
	}
	memset(&sb, 0, sizeof(sb));
	if (resolve(gw, call, req->sandbox_id, NULL, &sb) != 0)
		goto out;
	osh_gw_sandbox_fini(&sb);
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	snprintf(ps->sandbox_id, sizeof(ps->sandbox_id), "%s", req->sandbox_id);
	osh_rpc_call_set_data(call, ps);
	*out = ps;
	rc = 0;
out:
	return rc;
}

/* One stream message. Numbered batches (first_seq > 0) are acknowledged: the
 * store skips lines it already holds and moves the sandbox's push mark in the
 * same transaction, and a store failure fails the call (the supervisor keeps
 * the lines and resends) instead of losing them. Lines refused here (batch
 * cap, oversize) are counted in `dropped` and covered by the mark. */
static void h_push_msg(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__PushSandboxLogsRequest *req = (const void *)m;
	struct push_state *ps = NULL;
	struct osh_gw *gw = ud;
	struct osh_gw_logline *lines = NULL;
	struct osh_gw_push_result res;
	char **fjson = NULL;
	size_t n = 0, take;
	uint64_t refused = 0, last_seq = 0;
	bool numbered = req->first_seq != 0;
	int rc;

	if (push_bind(gw, call, req, &ps) != 0)
		return;
	if (numbered && req->n_logs > 0) {
		if (req->first_seq > UINT64_MAX - req->n_logs) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
						"first_seq %llu + %zu lines overflows",
						(unsigned long long)req->first_seq, req->n_logs);
			return;
		}
		last_seq = req->first_seq + req->n_logs - 1;
	}
	take = req->n_logs > PUSH_BATCH_MAX ? PUSH_BATCH_MAX : req->n_logs;
	lines = calloc(take ? take : 1, sizeof(*lines));
	fjson = calloc(take ? take : 1, sizeof(*fjson));
	if (!lines || !fjson) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_logs; i++) {
		const Openshell__V1__SandboxLogLine *in = req->logs[i];

		if (i >= PUSH_BATCH_MAX || !in || !line_within_caps(in)) {
			refused++;
			continue;
		}
		fjson[n] = fields_json(in);
		if (fjson[n] && strlen(fjson[n]) > PUSH_FIELDS_JSON) {
			/* escaping can grow control bytes 6x: bound what is stored */
			cJSON_free(fjson[n]);
			fjson[n] = NULL;
			refused++;
			continue;
		}
		lines[n].ts_ms = in->timestamp_ms ? in->timestamp_ms : osh_time_wall_ms();
		lines[n].level = in->level && in->level[0] ? in->level : "INFO";
		lines[n].target = in->target ? in->target : "";
		lines[n].message = in->message ? in->message : "";
		/* a supervisor may say "agent" (its command's output); anything
		 * else, "gateway" included, is stored as "sandbox": no
		 * impersonation of the gateway */
		lines[n].source =
		    in->source && strcmp(in->source, "agent") == 0 ? "agent" : "sandbox";
		lines[n].fields = fjson[n];
		/* Only an OCSF line carries an event (kept as sent: the export
		 * checks it is a JSON object with a metadata.uid). */
		lines[n].ocsf_json =
		    in->ocsf_json && in->ocsf_json[0] && strcmp(lines[n].level, "OCSF") == 0
			? in->ocsf_json
			: NULL;
		lines[n].push_seq = numbered ? req->first_seq + i : 0;
		n++;
	}
	if (numbered) {
		rc = publish(gw, ps->sandbox_id, lines, n, last_seq, &res);
	} else {
		memset(&res, 0, sizeof(res));
		rc = publish(gw, ps->sandbox_id, lines, n, 0, NULL);
		res.stored = n;
	}
	if (rc == OSH_ENOTFOUND) {
		(void)osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "sandbox %s was deleted",
					ps->sandbox_id);
	} else if (rc != 0 && numbered) {
		osh_gw_log(OSH_GW_LOG_WARN, "sandbox %s: %zu pushed lines not stored: %s",
			   ps->sandbox_id, n, osh_gw_store_errmsg(gw_store(gw)));
		(void)osh_rpc_call_fail(call, OSH_RPC_UNAVAILABLE,
					"log store failed; the lines were not stored: resend");
	} else if (rc != 0) {
		ps->dropped += n + refused;
		osh_gw_log(OSH_GW_LOG_WARN, "sandbox %s: %zu pushed lines not stored: %s",
			   ps->sandbox_id, n, osh_gw_store_errmsg(gw_store(gw)));
	} else {
		ps->accepted += res.stored;
		ps->duplicates += res.duplicates;
		ps->dropped += refused;
		if (res.acked_seq > ps->acked_seq)
			ps->acked_seq = res.acked_seq;
	}
out:
	for (size_t i = 0; fjson && i < n; i++)
		cJSON_free(fjson[i]);
	free(fjson);
	free(lines);
}

static void h_push_end(struct osh_rpc_call *call, void *ud)
{
	Openshell__V1__PushSandboxLogsResponse r = OPENSHELL__V1__PUSH_SANDBOX_LOGS_RESPONSE__INIT;
	struct push_state *ps = osh_rpc_call_data(call);

	(void)ud;
	if (ps) {
		r.accepted = ps->accepted;
		r.dropped = ps->dropped;
		r.duplicates = ps->duplicates;
		r.acked_seq = ps->acked_seq;
	}
	(void)osh_rpc_call_reply(call, &r.base);
}

static void h_push_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	(void)cancelled;
	(void)ud;
	free(osh_rpc_call_data(call));
	osh_rpc_call_set_data(call, NULL);
}

/* ----------------------------------------------------- GetSandboxLogs -- */

/* The newest lines of a query that fit in `budget` wire bytes. Rows are read
 * newest first and the walk stops at the first line that does not fit, so a
 * query reads only what it returns (plus one row). A single line that could
 * never fit is skipped. */
struct fetch {
	Openshell__V1__SandboxLogLine **v; /* newest first while collecting */
	size_t n, cap;
	size_t budget, bytes;
	const char *id;
	bool oom;
};

#define FETCH_STOP 1 /* callback: stop the walk (not an error) */

static int fetch_add(void *ud, const struct osh_gw_logline *l)
{
	struct fetch *fx = ud;
	Openshell__V1__SandboxLogLine *m;
	size_t w;

	if (fx->n >= fx->cap)
		return FETCH_STOP;
	m = line_msg(fx->id, l);
	if (!m) {
		fx->oom = true;
		return OSH_ENOMEM;
	}
	w = line_wire(m);
	if (w + 16 > fx->budget) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return 0;
	}
	if (fx->bytes + w > fx->budget) {
		protobuf_c_message_free_unpacked(&m->base, NULL);
		return FETCH_STOP;
	}
	fx->v[fx->n++] = m;
	fx->bytes += w;
	return 0;
}

/* Runs q (its tail = the window) into fx, oldest first on return; *window =
 * the matching lines in the window (so window - fx->n were left out for size).
 * Returns 0 or the store error. */
static int logs_fetch(struct osh_gw_store *st, struct osh_gw_logquery *q, struct fetch *fx,
		      uint64_t *total, uint64_t *window)
{
	int rc;

	fx->v = ptr_array(fx->cap);
	if (!fx->v) {
		fx->oom = true;
		return OSH_ENOMEM;
	}
	rc = osh_gw_store_logs_matching(st, q, total);
	if (rc != 0)
		return rc;
	q->tail = fx->cap;
	q->newest_first = true;
	rc = osh_gw_store_logs_query(st, q, fetch_add, fx);
	if (rc == FETCH_STOP)
		rc = 0;
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < fx->n / 2; i++) {
		Openshell__V1__SandboxLogLine *t = fx->v[i];

		fx->v[i] = fx->v[fx->n - 1 - i];
		fx->v[fx->n - 1 - i] = t;
	}
	*window = *total < fx->cap ? *total : fx->cap;
	if (*window < fx->n) /* lines arrived between the count and the walk */
		*window = fx->n;
	return 0;
}

static int query_fail(struct osh_gw_store *st, struct osh_rpc_call *call, int rc)
{
	if (rc == OSH_ENOMEM)
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
	else if (rc == OSH_EINVAL)
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "%s",
					osh_gw_store_errmsg(st));
	else
		(void)osh_rpc_call_fail(call, store_code(rc, OSH_RPC_INTERNAL), "log query: %s",
					osh_gw_store_errmsg(st));
	return rc;
}

static bool level_ok(struct osh_rpc_call *call, const char *min_level)
{
	if (min_level && min_level[0] && osh_gw_level_parse(min_level) < 0) {
		(void)osh_rpc_call_fail(
		    call, OSH_RPC_INVALID_ARGUMENT,
		    "unknown level '%s' (expected TRACE, DEBUG, INFO, WARN, ERROR)", min_level);
		return false;
	}
	return true;
}

static void h_get_logs(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetSandboxLogsRequest *req = (const void *)m;
	Openshell__V1__GetSandboxLogsResponse r = OPENSHELL__V1__GET_SANDBOX_LOGS_RESPONSE__INIT;
	struct osh_gw *gw = ud;
	struct osh_gw_store *st = gw_store(gw);
	struct osh_gw_sandbox sb;
	struct osh_gw_logquery q;
	struct fetch fx = {0};
	uint64_t window = 0;
	int rc;

	memset(&sb, 0, sizeof(sb));
	if (!level_ok(call, req->min_level))
		return;
	if (resolve(gw, call, req->sandbox_id, req->name, &sb) != 0)
		return;
	fx.cap = req->lines ? req->lines : LOGS_DEFAULT_LINES;
	if (fx.cap > gw->log_retention)
		fx.cap = gw->log_retention; /* the store never holds more */
	fx.budget = MSG_BYTES_MAX - 64;
	fx.id = sb.id;
	memset(&q, 0, sizeof(q));
	q.sandbox_id = sb.id;
	q.since_ms = req->since_ms;
	q.min_level = req->min_level;
	q.sources = (const char *const *)req->sources;
	q.n_sources = req->n_sources;
	rc = logs_fetch(st, &q, &fx, &r.total_matching, &window);
	if (rc != 0) {
		(void)query_fail(st, call, fx.oom ? OSH_ENOMEM : rc);
		goto out;
	}
	r.logs = fx.v;
	r.n_logs = fx.n;
	r.truncated = window - fx.n;
	(void)osh_rpc_call_reply(call, &r.base);
out:
	lines_free(fx.v, fx.n);
	osh_gw_sandbox_fini(&sb);
}

/* --------------------------------------------------- WatchSandboxLogs -- */

static void h_watch_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	struct osh_gw *gw = ud;
	struct gw_follower **pp, *gone = NULL;

	(void)cancelled;
	pthread_mutex_lock(&gw->fol_mu);
	for (pp = &gw->followers; *pp; pp = &(*pp)->next) {
		if ((*pp)->call == call) {
			gone = *pp;
			*pp = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&gw->fol_mu);
	if (gone) {
		osh_rpc_call_unref(gone->call);
		follower_free(gone);
	}
}

/* Refuses a follower over the caps (under fol_mu); fails the call. */
static bool watch_caps_ok(struct osh_gw *gw, struct osh_rpc_call *call, const char *id,
			  const char *peer)
{
	size_t all = 0, same_sb = 0, same_conn = 0;

	for (const struct gw_follower *f = gw->followers; f; f = f->next) {
		all++;
		same_sb += strcmp(f->sandbox_id, id) == 0;
		same_conn += strcmp(f->peer, peer) == 0;
	}
	if (same_sb >= WATCH_PER_SANDBOX) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED,
					"sandbox %s has %zu followers already (limit %d)", id,
					same_sb, WATCH_PER_SANDBOX);
		return false;
	}
	if (same_conn >= WATCH_PER_CONN) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED,
					"this connection has %zu followers already (limit %d)",
					same_conn, WATCH_PER_CONN);
		return false;
	}
	if (all >= WATCH_MAX) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED,
					"the gateway has %zu followers already (limit %d)", all,
					WATCH_MAX);
		return false;
	}
	return true;
}

/* Replays the newest tail lines that fit the follower's queue (the rest of
 * the window is announced as missed). Caller holds pub_mu. */
static int watch_replay(struct osh_gw *gw, struct gw_follower *f, uint32_t tail)
{
	struct osh_gw_store *st = gw_store(gw);
	struct osh_gw_logquery q;
	struct fetch fx = {0};
	uint64_t total = 0, window = 0;
	int rc;

	fx.cap = tail < gw->log_retention ? tail : gw->log_retention;
	fx.budget = WATCH_QUEUE_BYTES;
	fx.id = f->sandbox_id;
	follower_query(f, &q);
	rc = logs_fetch(st, &q, &fx, &total, &window);
	if (rc == 0) {
		f->missed = window - fx.n;
		follower_send(f, fx.v, fx.n);
		if (fx.n == 0 && f->missed > 0) {
			Openshell__V1__WatchSandboxLogsResponse r;

			missed_msg(&r, f->missed);
			if (osh_rpc_call_write(f->call, &r.base) == 0)
				f->missed = 0;
		}
	} else if (fx.oom) {
		rc = OSH_ENOMEM;
	}
	lines_free(fx.v, fx.n);
	return rc;
}

static void h_watch(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__WatchSandboxLogsRequest *req = (const void *)m;
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	struct gw_follower *f = NULL;
	bool ok;
	int rc;

	memset(&sb, 0, sizeof(sb));
	if (!level_ok(call, req->min_level))
		return;
	if (resolve(gw, call, req->sandbox_id, req->name, &sb) != 0)
		return;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto oom;
	snprintf(f->sandbox_id, sizeof(f->sandbox_id), "%s", sb.id);
	snprintf(f->peer, sizeof(f->peer), "%s", osh_rpc_call_peer(call));
	pthread_mutex_lock(&gw->fol_mu);
	ok = watch_caps_ok(gw, call, f->sandbox_id, f->peer);
	pthread_mutex_unlock(&gw->fol_mu);
	if (!ok)
		goto out;
	f->since_ms = req->since_ms;
	if (req->min_level && req->min_level[0] && !(f->min_level = strdup(req->min_level)))
		goto oom;
	if (req->n_sources) {
		f->sources = calloc(req->n_sources, sizeof(char *));
		if (!f->sources)
			goto oom;
		for (size_t i = 0; i < req->n_sources; i++) {
			f->sources[i] = xstrdup(req->sources[i]);
			if (!f->sources[i])
				goto oom;
			f->n_sources = i + 1;
		}
	}
	f->call = call;
	/* Replay and registration under pub_mu: no line is published between
	 * them, so none is missed or sent twice. */
	pthread_mutex_lock(&gw->pub_mu);
	rc = req->tail_lines > 0 ? watch_replay(gw, f, req->tail_lines) : 0;
	if (rc != 0) {
		pthread_mutex_unlock(&gw->pub_mu);
		(void)query_fail(gw_store(gw), call, rc);
		goto out;
	}
	pthread_mutex_lock(&gw->fol_mu);
	ok = watch_caps_ok(gw, call, f->sandbox_id, f->peer);
	if (ok) {
		osh_rpc_call_ref(call);
		f->next = gw->followers;
		gw->followers = f;
		f = NULL;
	}
	pthread_mutex_unlock(&gw->fol_mu);
	pthread_mutex_unlock(&gw->pub_mu);
	goto out;
oom:
	(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
out:
	follower_free(f);
	osh_gw_sandbox_fini(&sb);
}

/* ------------------------------------------------- GetConfig/SetConfig -- */

/* Proto source names: the YAML file is "file". */
static const char *src_pb(enum osh_gw_src s)
{
	return s == OSH_GW_SRC_YAML ? "file" : osh_gw_src_name(s);
}

static const char *type_pb(enum osh_gw_type t)
{
	const char *n = "string";

	switch (t) {
	case OSH_GW_TYPE_BOOL:
		n = "bool";
		break;
	case OSH_GW_TYPE_OCSF_VERSION:
		n = "string";
		break;
	}
	return n;
}

/* Fills an entry with pointers into `val` (caller storage). */
static void entry_fill(Openshell__V1__ConfigEntry *e, const struct osh_gw_config *c,
		       enum osh_gw_key k, char *val, size_t cap)
{
	const struct osh_gw_keyinfo *ki = osh_gw_key_info(k);

	openshell__v1__config_entry__init(e);
	if (osh_gw_value_text(&c->v, k, val, cap) != 0)
		val[0] = '\0';
	e->key = (char *)(uintptr_t)ki->name;
	e->value = val;
	e->type = (char *)(uintptr_t)type_pb(ki->type);
	e->source = (char *)(uintptr_t)src_pb(c->src[k]);
}

static void h_get_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetConfigRequest *req = (const void *)m;
	Openshell__V1__GetConfigResponse r = OPENSHELL__V1__GET_CONFIG_RESPONSE__INIT;
	Openshell__V1__ConfigEntry ents[OSH_GW_KEY_COUNT];
	Openshell__V1__ConfigEntry *ptrs[OSH_GW_KEY_COUNT];
	char vals[OSH_GW_KEY_COUNT][64];
	struct osh_gw *gw = ud;
	struct osh_gw_config c;
	uint64_t rev;
	enum osh_gw_key only = OSH_GW_KEY_COUNT;

	if (req->key && req->key[0] && osh_gw_key_lookup(req->key, &only) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "unknown config key '%s'",
					req->key);
		return;
	}
	osh_gw_cfgstate_get(gw->cfg, &c, &rev);
	/* table order is alphabetical today; keep the proto's "sorted by key" if a key
	 * is added out of order by sorting here. */
	for (int k = 0; k < OSH_GW_KEY_COUNT; k++) {
		if (only != OSH_GW_KEY_COUNT && (enum osh_gw_key)k != only)
			continue;
		entry_fill(&ents[r.n_entries], &c, (enum osh_gw_key)k, vals[r.n_entries],
			   sizeof(vals[0]));
		ptrs[r.n_entries] = &ents[r.n_entries];
		r.n_entries++;
	}
	qsort(ptrs, r.n_entries, sizeof(void *), entry_cmp);
	r.entries = ptrs;
	r.config_revision = rev;
	(void)osh_rpc_call_reply(call, &r.base);
}

static void h_set_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__SetConfigRequest *req = (const void *)m;
	Openshell__V1__SetConfigResponse r = OPENSHELL__V1__SET_CONFIG_RESPONSE__INIT;
	Openshell__V1__ConfigEntry e;
	struct osh_gw *gw = ud;
	struct osh_gw_layer scratch;
	struct osh_gw_config c;
	enum osh_gw_key k;
	char err[512], val[64];
	bool changed = false;
	uint64_t rev;
	int rc;

	if (!req->key || !req->key[0] || osh_gw_key_lookup(req->key, &k) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "unknown config key '%s'",
					req->key ? req->key : "");
		return;
	}
	osh_gw_layer_init(&scratch);
	if (!req->unset &&
	    osh_gw_layer_set(&scratch, req->key, req->value, "value", err, sizeof(err)) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "%s", err);
		return;
	}
	rc = osh_gw_cfgstate_set(gw->cfg, req->key, req->unset ? NULL : req->value, &changed, err,
				 sizeof(err));
	if (rc != 0) {
		osh_gw_log(OSH_GW_LOG_WARN, "SetConfig %s=%s refused: %s", req->key, req->value,
			   err);
		(void)osh_rpc_call_fail(call,
					rc == OSH_EPARSE ? OSH_RPC_FAILED_PRECONDITION
							 : store_code(rc, OSH_RPC_INTERNAL),
					"%s", err);
		return;
	}
	osh_gw_cfgstate_get(gw->cfg, &c, &rev);
	osh_gw_log(OSH_GW_LOG_INFO,
		   "config %s %s%s%s via SetConfig (shared value in the %s store): %s, revision "
		   "%llu",
		   req->unset ? "unset" : "set", req->key, req->unset ? "" : "=",
		   req->unset ? "" : req->value, osh_gw_store_kind(gw->store),
		   changed ? "changed" : "unchanged", (unsigned long long)rev);
	entry_fill(&e, &c, k, val, sizeof(val));
	r.config_revision = rev;
	r.changed = changed;
	r.entry = &e;
	(void)osh_rpc_call_reply(call, &r.base);
}

/* ---------------------------------------------------------- GetStatus -- */

#ifndef OSH_VERSION
#define OSH_VERSION "0.0.0"
#endif

static void h_get_status(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	Openshell__V1__GetStatusResponse r = OPENSHELL__V1__GET_STATUS_RESPONSE__INIT;
	struct osh_gw *gw = ud;

	(void)m;
	r.version = (char *)(uintptr_t)OSH_VERSION;
	r.uptime_ms = osh_time_mono_ms() - gw->started_mono_ms;
	r.address = gw->addr;
	r.tcp_address = gw->tcp_addr;
	(void)osh_rpc_call_reply(call, &r.base);
}

/* ------------------------------------------------------ CreateSandbox -- */

int gw_policy_encode(const Openshell__V1__SandboxPolicy *p, void **buf, size_t *len, char hash[72])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t n = openshell__v1__sandbox_policy__get_packed_size(p);
	Openshell__V1__SandboxPolicy *back;
	unsigned char *b = malloc(n ? n : 1);

	*buf = NULL;
	*len = 0;
	if (!b)
		return OSH_ENOMEM;
	n = openshell__v1__sandbox_policy__pack(p, b);
	/* Store only bytes that read back: GetSandboxPolicy unpacks them later
	 * (protobuf-c can pack what it then refuses, finding 5). */
	back = openshell__v1__sandbox_policy__unpack(NULL, n, b);
	if (!back) {
		free(b);
		return OSH_EPARSE;
	}
	openshell__v1__sandbox_policy__free_unpacked(back, NULL);
	SHA256(b, n, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	*buf = b;
	*len = n;
	return 0;
}

static int policy_pack(struct osh_rpc_call *call, const Openshell__V1__SandboxPolicy *p,
		       struct osh_gw_sandbox *sb)
{
	int rc = gw_policy_encode(p, &sb->policy, &sb->policy_len, sb->policy_hash);

	if (rc == OSH_ENOMEM)
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
	else if (rc != 0)
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"policy: does not decode once packed");
	else
		sb->policy_version = 1;
	return rc;
}

/* The request's policy (message or YAML) -> validated, packed, hashed in sb.
 * Fails the call and returns non-zero on a bad policy. */
static int policy_from_request(struct osh_rpc_call *call,
			       const Openshell__V1__CreateSandboxRequest *req,
			       struct osh_gw_sandbox *sb)
{
	Openshell__V1__SandboxPolicy *parsed = NULL;
	const Openshell__V1__SandboxPolicy *p = req->policy;
	char err[512];
	int rc = 0;

	if (req->policy_yaml && req->policy_yaml[0]) {
		rc = osh_policy_parse_yaml(req->policy_yaml, strlen(req->policy_yaml),
					   "policy_yaml", &parsed, err, sizeof(err));
		if (rc != 0) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "%s", err);
			goto out;
		}
		p = parsed;
	}
	if (!p)
		goto out;
	if (osh_gw_msg_unknown_field(&p->base, err, sizeof(err))) {
		/* Fields this gateway does not know would be stored and sent to
		 * supervisors unchecked (and protobuf-c may not read them back). */
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"policy: unknown field in %s (this gateway refuses "
					"fields it does not know)",
					err);
		rc = OSH_EINVAL;
		goto out;
	}
	rc = osh_policy_validate(p, err, sizeof(err));
	if (rc != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "policy: %s", err);
		goto out;
	}
	rc = policy_pack(call, p, sb);
out:
	if (parsed)
		protobuf_c_message_free_unpacked(&parsed->base, NULL);
	(void)err;
	return rc;
}

static char *command_json(const char *const *argv, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	char *s = NULL;

	if (!a)
		return NULL;
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(argv[i]));
	s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

/* The request's secrets as "NAME=VALUE\n" lines for the supervisor's pipe
 * (*out NULL when there are none). Fails the call with INVALID_ARGUMENT
 * naming the secret (never its value) and returns -1 on a bad one. */
static int secrets_text(struct osh_rpc_call *call, const Openshell__V1__CreateSandboxRequest *req,
			char **out, size_t *out_len)
{
	size_t len = 0, w = 0;
	char why[160];
	int rc = -1;
	char *t = NULL;

	*out = NULL;
	*out_len = 0;
	if (req->n_secrets > OSH_SECRET_MAX) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "more than %d secrets",
					OSH_SECRET_MAX);
		goto out;
	}
	for (size_t i = 0; i < req->n_secrets; i++) {
		const char *k = req->secrets[i]->key ? req->secrets[i]->key : "";
		const char *v = req->secrets[i]->value ? req->secrets[i]->value : "";

		if (!osh_secret_name_ok(k)) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
						"secret name '%.64s' is invalid (letters, digits, "
						"'_', not starting with a digit)",
						k);
			goto out;
		}
		if (osh_secret_value_check(v, strlen(v), why, sizeof(why)) != 0) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "secret %s: %s", k,
						why);
			goto out;
		}
		len += strlen(k) + strlen(v) + 2;
	}
	if (len > OSH_GW_SECRETS_MAX) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"secrets: more than %d bytes in all", OSH_GW_SECRETS_MAX);
		goto out;
	}
	rc = 0;
	if (!len)
		goto out;
	t = malloc(len + 1);
	if (!t) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < req->n_secrets; i++)
		w += (size_t)snprintf(t + w, len + 1 - w, "%s=%s\n", req->secrets[i]->key,
				      req->secrets[i]->value ? req->secrets[i]->value : "");
	*out = t;
	*out_len = w;
out:
	return rc;
}

/* The request's labels as canonical text (*out heap, "" when none); fails
 * the call with INVALID_ARGUMENT naming the bad label. */
static int labels_from_request(struct osh_rpc_call *call,
			       const Openshell__V1__CreateSandboxRequest *req, char **out)
{
	const char *keys[OSH_LABELS_MAX], *vals[OSH_LABELS_MAX];
	char err[256];
	int rc = OSH_ETOOBIG;

	*out = NULL;
	if (req->n_labels > OSH_LABELS_MAX) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"%zu labels: at most %d per sandbox", req->n_labels,
					OSH_LABELS_MAX);
		goto out;
	}
	for (size_t i = 0; i < req->n_labels; i++) {
		keys[i] = req->labels[i]->key ? req->labels[i]->key : "";
		vals[i] = req->labels[i]->value ? req->labels[i]->value : "";
	}
	rc = osh_labels_encode(keys, vals, req->n_labels, out, err, sizeof(err));
	if (rc != 0)
		(void)osh_rpc_call_fail(
		    call, rc == OSH_ENOMEM ? OSH_RPC_RESOURCE_EXHAUSTED : OSH_RPC_INVALID_ARGUMENT,
		    "%s", err);
out:
	return rc;
}

static void h_create(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	static const char *const default_cmd[] = {"sleep", "infinity"};
	const Openshell__V1__CreateSandboxRequest *req = (const void *)m;
	Openshell__V1__CreateSandboxResponse r = OPENSHELL__V1__CREATE_SANDBOX_RESPONSE__INIT;
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	struct osh_gw_spawn sp;
	char err[512], why[PATH_MAX + 160], sbdir[PATH_MAX], logdir[PATH_MAX], outp[PATH_MAX],
	    errp[PATH_MAX];
	char secret[GW_AUTH_SECRET_HEX + 1] = "";
	char ssh_secret[OSH_SSH_SECRET_HEX + 1] = "";
	const char *const *cmd = default_cmd;
	size_t ncmd = 2;
	char **envv = NULL;
	char *secrets = NULL;
	size_t secrets_len = 0;
	bool inserted = false;
	pid_t pid = 0;
	int rc;

	memset(&sb, 0, sizeof(sb));
	if (!osh_gw_name_valid(req->name, err, sizeof(err))) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "%s", err);
		return;
	}

	if (req->policy_yaml && req->policy_yaml[0] && req->policy) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"give either policy_yaml or policy, not both");
		return;
	}
	if (req->log_dir && req->log_dir[0]) {
		/* Any client can send this: only a directory of this sandbox
		 * (no '..', symlinks resolved) is accepted. */
		rc = osh_gw_log_dir_resolve(gw->sandboxes_dir, req->name, req->log_dir, logdir,
					    sizeof(logdir), err, sizeof(err));
		if (rc != 0) {
			(void)osh_rpc_call_fail(
			    call, rc == OSH_EINVAL ? OSH_RPC_INVALID_ARGUMENT : OSH_RPC_INTERNAL,
			    "%s", err);
			return;
		}
	}
	for (size_t i = 0; i < req->n_command; i++) {
		if (!req->command[i]) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "empty command");
			return;
		}
	}
	if (req->n_command > 0) {
		cmd = (const char *const *)req->command;
		ncmd = req->n_command;
	}
	rc = osh_gw_store_sandbox_get(gw_store(gw), req->name, true, &sb);
	osh_gw_sandbox_fini(&sb);
	if (rc == 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_ALREADY_EXISTS,
					"a sandbox named '%s' exists already", req->name);
		return;
	}
	memset(&sb, 0, sizeof(sb));
	if (labels_from_request(call, req, &sb.labels) != 0)
		goto out;
	if (osh_gw_uuid(sb.id) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "cannot generate an id: %s",
					strerror(errno));
		goto out;
	}
	if (policy_from_request(call, req, &sb) != 0)
		goto out;
	if (pathf(sbdir, sizeof(sbdir), "%s/%s", gw->sandboxes_dir, req->name) != 0 ||
	    (!(req->log_dir && req->log_dir[0]) &&
	     pathf(logdir, sizeof(logdir), "%s/logs", sbdir) != 0) ||
	    pathf(outp, sizeof(outp), "%s/supervisor.stdout", sbdir) != 0 ||
	    pathf(errp, sizeof(errp), "%s/supervisor.stderr", sbdir) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT, "path too long");
		goto out;
	}
	sb.name = req->name;
	sb.log_dir = logdir;
	sb.command = command_json(cmd, ncmd);
	sb.state = OSH_GW_SB_CREATED;
	sb.created_ms = osh_time_wall_ms();
	if (!sb.command) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	/* Relative to the sandboxes dir, never through a planted symlink (F18). */
	rc = osh_gw_sandbox_dirs(gw->sandboxes_dir, req->name, !(req->log_dir && req->log_dir[0]),
				 why, sizeof(why));
	if (rc != 0) {
		(void)osh_rpc_call_fail(
		    call, rc == OSH_EPERM ? OSH_RPC_FAILED_PRECONDITION : OSH_RPC_INTERNAL, "%s",
		    why);
		goto out;
	}
	if (osh_gw_mkdirs(logdir, 0750) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "cannot create %s: %s", logdir,
					strerror(errno));
		goto out;
	}
	rc = osh_gw_store_sandbox_insert(gw_store(gw), &sb);
	if (rc != 0) {
		(void)osh_rpc_call_fail(call,
					rc == OSH_EEXIST ? OSH_RPC_ALREADY_EXISTS
							 : store_code(rc, OSH_RPC_INTERNAL),
					"%s", osh_gw_store_errmsg(gw_store(gw)));
		goto out;
	}
	inserted = true;
	envv = calloc(req->n_env + 1, sizeof(*envv));
	if (!envv) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_env; i++) {
		const char *k = req->env[i]->key ? req->env[i]->key : "";
		const char *v = req->env[i]->value ? req->env[i]->value : "";
		size_t len = strlen(k) + strlen(v) + 2;

		if (!k[0] || strchr(k, '=')) {
			(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
						"invalid environment variable name '%s'", k);
			goto out;
		}
		envv[i] = malloc(len);
		if (!envv[i]) {
			(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
		snprintf(envv[i], len, "%s=%s", k, v);
	}
	if (secrets_text(call, req, &secrets, &secrets_len) != 0)
		goto out;
	memset(&sp, 0, sizeof(sp));
	sp.secrets = secrets;
	sp.secrets_len = secrets_len;
	sp.bin = gw->sandbox_bin;
	sp.gateway = gw->sup_addr;
	sp.id = sb.id;
	sp.name = req->name;
	sp.log_dir = logdir;
	sp.out_path = outp;
	sp.err_path = errp;
	sp.command = cmd;
	sp.n_command = ncmd;
	sp.env = (const char *const *)envv;
	sp.n_env = req->n_env;
	rc = gw_auth_issue(gw->auth, sb.id, secret);
	if (rc != 0) {
		(void)osh_rpc_call_fail(call, store_code(rc, OSH_RPC_INTERNAL),
					"cannot make the sandbox credential: %s",
					rc == OSH_ESYS ? strerror(errno)
						       : osh_gw_store_errmsg(gw_store(gw)));
		goto out;
	}
	sp.secret = secret;
	rc = gw_ssh_secret_issue(gw, sb.id, ssh_secret);
	if (rc != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL,
					"cannot make the sandbox's SSH preface secret: %s",
					strerror(errno));
		goto out;
	}
	sp.ssh_secret = ssh_secret;
	rc = osh_gw_spawn_sandbox(&sp, &pid, err, sizeof(err));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(ssh_secret, sizeof(ssh_secret));
	if (rc != 0) {
		osh_gw_log(OSH_GW_LOG_ERROR, "sandbox %s (%s): %s", req->name, sb.id, err);
		(void)osh_rpc_call_fail(
		    call, rc == OSH_ENOTFOUND ? OSH_RPC_FAILED_PRECONDITION : OSH_RPC_INTERNAL,
		    "cannot start the sandbox supervisor: %s", err);
		goto out;
	}
	if (gw_child_add(gw, pid, sb.id, false) != 0 ||
	    osh_gw_store_sandbox_set_state(gw_store(gw), sb.id, OSH_GW_SB_RUNNING, pid, 0, 0) !=
		0) {
		/* The process runs but cannot be tracked: stop it rather than leak it. */
		kill(pid, SIGKILL);
		(void)osh_rpc_call_fail(call, OSH_RPC_INTERNAL, "cannot record the supervisor: %s",
					osh_gw_store_errmsg(gw_store(gw)));
		goto out;
	}
	sb.state = OSH_GW_SB_RUNNING;
	sb.pid = pid;
	inserted = false; /* keep it */
	gw_note(gw, sb.id, "INFO", "sandbox '%s' created; supervisor pid %d started (%s)",
		req->name, (int)pid, sb.command);
	gw_ev_sandbox_create(sb.id, req->name, (int)pid, gw_auth_who(call));
	r.sandbox = sandbox_msg(gw, &sb);
	if (!r.sandbox)
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
	else
		(void)osh_rpc_call_reply(call, &r.base);
out:
	if (inserted) {
		gw_auth_revoke(gw->auth, sb.id);
		gw_ssh_secret_revoke(gw, sb.id);
	}
	if (inserted && osh_gw_store_sandbox_delete(gw_store(gw), sb.id) != 0)
		osh_gw_log(OSH_GW_LOG_ERROR, "sandbox %s: cannot undo the record: %s", sb.id,
			   osh_gw_store_errmsg(gw_store(gw)));
	if (r.sandbox)
		protobuf_c_message_free_unpacked(&r.sandbox->base, NULL);
	for (size_t i = 0; envv && i < req->n_env; i++)
		free(envv[i]);
	free(envv);
	if (secrets) {
		explicit_bzero(secrets, secrets_len);
		free(secrets);
	}
	free(sb.command);
	free(sb.policy);
	free(sb.labels);
}

/* ------------------------------------------------------ ListSandboxes -- */

static void h_list(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__ListSandboxesRequest *req = (const void *)m;
	Openshell__V1__ListSandboxesResponse r = OPENSHELL__V1__LIST_SANDBOXES_RESPONSE__INIT;
	struct osh_gw *gw = ud;
	struct osh_gw_store *st = gw_store(gw);
	struct osh_gw_sandbox *arr = NULL;
	size_t n = 0, page, bytes = 64;
	int64_t after = 0;
	char token[24] = "", why[256];
	char *sel = NULL;
	int prc;

	prc = osh_labels_selector_parse(req->label_selector, &sel, why, sizeof(why));
	if (prc != 0) {
		(void)osh_rpc_call_fail(
		    call, prc == OSH_ENOMEM ? OSH_RPC_RESOURCE_EXHAUSTED : OSH_RPC_INVALID_ARGUMENT,
		    "label_selector '%.200s': %s", req->label_selector, why);
		return;
	}
	if (osh_gw_page_token_parse(req->page_token, &after) != 0) {
		(void)osh_rpc_call_fail(call, OSH_RPC_INVALID_ARGUMENT,
					"page_token '%.40s' is not one this gateway issued "
					"(give \"\" for the first page)",
					req->page_token);
		free(sel);
		return;
	}
	page = req->page_size ? req->page_size : LIST_DEFAULT_PAGE;
	if (page > LIST_MAX_PAGE)
		page = LIST_MAX_PAGE;
	/* One more than the page: tells whether another page follows. */
	prc = osh_gw_store_sandbox_page_sel(st, after, page + 1, sel, &arr, &n);
	free(sel);
	if (prc != 0) {
		(void)osh_rpc_call_fail(call, store_code(prc, OSH_RPC_INTERNAL), "store: %s",
					osh_gw_store_errmsg(st));
		return;
	}
	r.sandboxes = ptr_array(n);
	if (!r.sandboxes) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && i < page; i++) {
		Openshell__V1__Sandbox *sm = sandbox_msg(gw, &arr[i]);
		size_t w;

		if (!sm) {
			(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
		w = openshell__v1__sandbox__get_packed_size(sm) + 6;
		if (r.n_sandboxes > 0 && bytes + w > MSG_BYTES_MAX) {
			/* The response must fit one message: the rest is the next page. */
			protobuf_c_message_free_unpacked(&sm->base, NULL);
			break;
		}
		bytes += w;
		r.sandboxes[r.n_sandboxes++] = sm;
	}
	if (r.n_sandboxes < n) {
		snprintf(token, sizeof(token), "%lld", (long long)arr[r.n_sandboxes - 1].rowid);
		r.next_page_token = token;
	}
	(void)osh_rpc_call_reply(call, &r.base);
out:
	for (size_t i = 0; i < r.n_sandboxes; i++)
		protobuf_c_message_free_unpacked(&r.sandboxes[i]->base, NULL);
	free(r.sandboxes);
	osh_gw_sandbox_list_free(arr, n);
}

/* ------------------------------------------------------ DeleteSandbox -- */

/* Moves <sandboxes>/<name> to <sandboxes>/.deleted/<name>.<id> so the logs stay
 * readable after the record is gone and the name can be reused at once. */
static void archive_dir(struct osh_gw *gw, const struct osh_gw_sandbox *sb)
{
	char from[PATH_MAX], to[PATH_MAX], arch[PATH_MAX];
	struct stat st;

	if (pathf(from, sizeof(from), "%s/%s", gw->sandboxes_dir, sb->name) != 0 ||
	    stat(from, &st) != 0)
		return;
	if (pathf(arch, sizeof(arch), "%s/.deleted", gw->sandboxes_dir) != 0 ||
	    pathf(to, sizeof(to), "%s/%s.%s", arch, sb->name, sb->id) != 0 ||
	    osh_gw_mkdirs(arch, 0750) != 0 || rename(from, to) != 0)
		osh_gw_log(OSH_GW_LOG_WARN, "sandbox %s: cannot archive %s: %s", sb->id, from,
			   strerror(errno));
	else
		osh_gw_log(OSH_GW_LOG_INFO, "sandbox %s: files archived to %s", sb->id, to);
}

void gw_delete_complete(struct osh_gw *gw, struct gw_delete *d, int exit_code, bool has_code)
{
	Openshell__V1__DeleteSandboxResponse r = OPENSHELL__V1__DELETE_SANDBOX_RESPONSE__INIT;
	struct osh_gw_sandbox sb;
	struct gw_delete **pp;

	memset(&sb, 0, sizeof(sb));
	pthread_mutex_lock(&gw->del_mu);
	for (pp = &gw->deletes; *pp && *pp != d; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = d->next; /* unlink first so sandbox_msg does not say DELETING */
	pthread_mutex_unlock(&gw->del_mu);
	if (osh_gw_store_sandbox_get(gw_store(gw), d->id, false, &sb) == 0) {
		if (has_code) {
			sb.state = OSH_GW_SB_EXITED;
			sb.exit_code = exit_code;
		}
		r.sandbox = sandbox_msg(NULL, &sb);
		gw_followers_end(gw, sb.id);
		if (osh_gw_store_sandbox_delete(gw_store(gw), sb.id) != 0)
			osh_gw_log(OSH_GW_LOG_ERROR, "sandbox %s: delete failed: %s", sb.id,
				   osh_gw_store_errmsg(gw_store(gw)));
		archive_dir(gw, &sb);
		gw_auth_revoke(gw->auth, sb.id);
		gw_ssh_secret_revoke(gw, sb.id);
		gw_ev_sandbox_delete(sb.id, sb.name, d->pid, d->requested_by);
		osh_gw_log(OSH_GW_LOG_INFO, "sandbox %s ('%s') deleted", sb.id, sb.name);
	}
	if (d->call) {
		if (r.sandbox)
			(void)osh_rpc_call_reply(d->call, &r.base);
		else
			(void)osh_rpc_call_fail(d->call, OSH_RPC_NOT_FOUND, "sandbox %s vanished",
						d->id);
		osh_rpc_call_unref(d->call);
	}
	if (r.sandbox)
		protobuf_c_message_free_unpacked(&r.sandbox->base, NULL);
	osh_gw_sandbox_fini(&sb);
	free(d);
}

static void h_delete_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	struct osh_gw *gw = ud;

	(void)cancelled;
	for (struct gw_delete *d = gw->deletes; d; d = d->next) {
		if (d->call == call) {
			/* The client went away: finish the delete anyway, without a reply. */
			osh_rpc_call_unref(call);
			d->call = NULL;
		}
	}
}

static void h_delete(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__DeleteSandboxRequest *req = (const void *)m;
	struct osh_gw *gw = ud;
	struct osh_gw_sandbox sb;
	struct gw_delete *d;
	struct gw_child *c;

	memset(&sb, 0, sizeof(sb));
	if (resolve(gw, call, req->sandbox_id, req->name, &sb) != 0)
		return;
	if (delete_pending(gw, sb.id)) {
		(void)osh_rpc_call_fail(call, OSH_RPC_FAILED_PRECONDITION,
					"sandbox '%s' is already being deleted", sb.name);
		goto out;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		(void)osh_rpc_call_fail(call, OSH_RPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	snprintf(d->id, sizeof(d->id), "%s", sb.id);
	snprintf(d->requested_by, sizeof(d->requested_by), "%s", gw_auth_who(call));
	d->call = call;
	osh_rpc_call_ref(call);
	c = gw_child_find(gw, sb.id);
	if (!c || sb.state != OSH_GW_SB_RUNNING) {
		/* Nothing runs: delete right away. */
		delete_link(gw, d);
		gw_delete_complete(gw, d, 0, false);
		goto out;
	}
	d->pid = c->pid;
	d->kill_at_ms = osh_time_mono_ms() + gw->stop_grace_ms;
	delete_link(gw, d);
	gw_note(gw, sb.id, "INFO", "deleting sandbox '%s': SIGTERM to supervisor pid %d", sb.name,
		(int)c->pid);
	if (kill(c->pid, SIGTERM) != 0 && errno != ESRCH)
		osh_gw_log(OSH_GW_LOG_WARN, "sandbox %s: SIGTERM to %d: %s", sb.id, (int)c->pid,
			   strerror(errno));
out:
	osh_gw_sandbox_fini(&sb);
}

/* ----------------------------------------------------------- register -- */

int gw_services_register(struct osh_gw *gw)
{
	const struct osh_rpc_method methods[] = {
	    {.name = "GetSandboxPolicy", .kind = OSH_RPC_UNARY, .handler = h_get_policy},
	    {.name = "PushSandboxLogs",
	     .kind = OSH_RPC_CLIENT_STREAM,
	     .on_message = h_push_msg,
	     .on_end = h_push_end,
	     .on_done = h_push_done,
	     .offload = true},
	    {.name = "GetSandboxLogs",
	     .kind = OSH_RPC_UNARY,
	     .handler = h_get_logs,
	     .offload = true},
	    {.name = "WatchSandboxLogs",
	     .kind = OSH_RPC_SERVER_STREAM,
	     .handler = h_watch,
	     .on_done = h_watch_done,
	     .on_drain = h_watch_drain,
	     .queue_max = WATCH_QUEUE,
	     .queue_max_bytes = WATCH_QUEUE_BYTES,
	     .full_policy = OSH_RPC_FULL_DROP,
	     .offload = true},
	    {.name = "GetConfig", .kind = OSH_RPC_UNARY, .handler = h_get_config},
	    {.name = "SetConfig", .kind = OSH_RPC_UNARY, .handler = h_set_config},
	    {.name = "CreateSandbox", .kind = OSH_RPC_UNARY, .handler = h_create},
	    {.name = "ListSandboxes", .kind = OSH_RPC_UNARY, .handler = h_list, .offload = true},
	    {.name = "DeleteSandbox",
	     .kind = OSH_RPC_UNARY,
	     .handler = h_delete,
	     .on_done = h_delete_done},
	    {.name = "GetStatus", .kind = OSH_RPC_UNARY, .handler = h_get_status},
	    /* proposals.c */
	    {.name = "SubmitPolicyAnalysis",
	     .kind = OSH_RPC_UNARY,
	     .handler = gw_h_submit_analysis,
	     .offload = true},
	    {.name = "GetPolicyProposals",
	     .kind = OSH_RPC_UNARY,
	     .handler = gw_h_get_proposals,
	     .offload = true},
	    {.name = "DecidePolicyProposal",
	     .kind = OSH_RPC_UNARY,
	     .handler = gw_h_decide_proposal},
	};
	int rc = 0;

	gw->started_mono_ms = osh_time_mono_ms();

	for (size_t i = 0; rc == 0 && i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct osh_rpc_method mm = methods[i];

		mm.ud = gw;
		rc = osh_rpc_server_add_method(gw->srv, &mm);
	}
	for (size_t i = 0; rc == 0 && i < gw_ssh_n_methods; i++) {
		struct osh_rpc_method mm = gw_ssh_methods[i];

		mm.ud = gw;
		rc = osh_rpc_server_add_method(gw->srv, &mm);
	}
	return rc;
}
