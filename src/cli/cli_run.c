/* cli_run.c - execute a parsed `openshell` command against the gateway.
 *
 * DESIGN: one function per command, each a few gRPC calls through
 * src/rpc and plain-text output. Every failure ends in report(): a gateway
 * that cannot be reached gives exactly one stderr line naming the address
 * and gRPC's reason (exit 2); an error status from the gateway prints the
 * gateway's own message (exit 1). --follow polls the stream with a short
 * timeout so Ctrl-C (a flag set by the signal handler) ends it cleanly. */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "osh_parse.h"
#include "osh_cli.h"
#include "osh_labels.h"
#include "osh_rpc.h"
#include "osh_secret_check.h"
#include "osh_time.h"
#include "sandbox.pb-c.h"

#ifndef OSH_VERSION_STRING
#define OSH_VERSION_STRING "0"
#endif

#define SVC	   (&openshell__v1__open_shell__descriptor)
#define UNARY_MS   15000
#define LONG_MS	   60000
#define POLICY_MAX (1u << 20)

struct ctx {
	const struct osh_cli_args *a;
	struct osh_rpc_client *c;
	FILE *out;
	FILE *err;
	bool color;
};

static int report(struct ctx *x, const char *what, const struct osh_rpc_status *st)
{
	if (st->code == OSH_RPC_UNAVAILABLE) {
		fprintf(x->err, "openshell: cannot reach gateway at %s: %s\n", x->a->gateway,
			st->message);
		return OSH_CLI_EXIT_UNREACHABLE;
	}
	if (st->code == OSH_RPC_DEADLINE_EXCEEDED) {
		fprintf(x->err, "openshell: gateway at %s did not answer in time (%s)\n",
			x->a->gateway, what);
		return OSH_CLI_EXIT_UNREACHABLE;
	}
	if (st->code == OSH_RPC_UNIMPLEMENTED)
		fprintf(x->err, "openshell: %s: the gateway at %s does not support this (%s)\n",
			what, x->a->gateway, st->message);
	else
		fprintf(x->err, "openshell: %s: %s\n", what,
			st->message[0] != '\0' ? st->message : osh_rpc_status_name(st->code));
	return OSH_CLI_EXIT_FAIL;
}

static int call(struct ctx *x, const char *method, const ProtobufCMessage *req, int64_t ms,
		ProtobufCMessage **resp, struct osh_rpc_status *st)
{
	struct osh_rpc_call_opts o = {.timeout_ms = ms};
	return osh_rpc_client_unary(x->c, method, req, &o, resp, st);
}

const char *cli_state_name(int s)
{
	switch ((Openshell__V1__SandboxState)s) {
	case OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_PROVISIONING:
		return "provisioning";
	case OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING:
		return "running";
	case OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED:
		return "exited";
	case OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_FAILED:
		return "failed";
	case OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_DELETING:
		return "deleting";
	default:
		return "unknown";
	}
}

static void utc_time(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, cap, "-");
		return;
	}
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- config -- */

static void print_entry(struct ctx *x, const Openshell__V1__ConfigEntry *e)
{
	fprintf(x->out, "%s = %s (%s, %s)\n", e->key, e->value, e->type[0] ? e->type : "string",
		e->source[0] ? e->source : "default");
}

static int config_get(struct ctx *x)
{
	Openshell__V1__GetConfigRequest req = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	Openshell__V1__GetConfigResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	req.key = OSH_RPC_STR(x->a->key != NULL ? x->a->key : "");
	if (call(x, "GetConfig", &req.base, UNARY_MS, &resp, &st) != OSH_OK)
		return report(x, "config get", &st);
	r = (Openshell__V1__GetConfigResponse *)resp;
	if (x->a->output == OSH_CLI_OUT_JSON) {
		fprintf(x->out, "{\"config_revision\": %llu, \"settings\": [",
			(unsigned long long)r->config_revision);
		for (size_t i = 0; i < r->n_entries; i++) {
			const Openshell__V1__ConfigEntry *e = r->entries[i];
			fputs(i ? ", {\"key\": " : "{\"key\": ", x->out);
			osh_cli_json_str(x->out, e->key);
			fputs(", \"value\": ", x->out);
			osh_cli_json_str(x->out, e->value);
			fputs(", \"type\": ", x->out);
			osh_cli_json_str(x->out, e->type[0] ? e->type : "string");
			fputs(", \"source\": ", x->out);
			osh_cli_json_str(x->out, e->source[0] ? e->source : "default");
			fputs("}", x->out);
		}
		fputs("]}\n", x->out);
	} else {
		for (size_t i = 0; i < r->n_entries; i++)
			print_entry(x, r->entries[i]);
		fprintf(x->out, "config_revision = %llu\n", (unsigned long long)r->config_revision);
	}
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

/* settings delete --key K: SetConfig with unset, so the value set through
 * the CLI (kept in the gateway's database) no longer overrides the key. */
static int config_delete(struct ctx *x)
{
	Openshell__V1__SetConfigRequest req = OPENSHELL__V1__SET_CONFIG_REQUEST__INIT;
	Openshell__V1__SetConfigResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	req.key = OSH_RPC_STR(x->a->key);
	req.value = OSH_RPC_STR("");
	req.unset = true;
	if (call(x, "SetConfig", &req.base, UNARY_MS, &resp, &st) != OSH_OK)
		return report(x, "settings delete", &st);
	r = (Openshell__V1__SetConfigResponse *)resp;
	fprintf(x->out, "%s = %s (%s, config_revision %llu%s)\n", x->a->key,
		r->entry != NULL ? r->entry->value : "?",
		r->entry != NULL && r->entry->source[0] ? r->entry->source : "default",
		(unsigned long long)r->config_revision, r->changed ? "" : ", unchanged");
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

static int config_set(struct ctx *x)
{
	Openshell__V1__GetConfigRequest g = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	Openshell__V1__SetConfigRequest req = OPENSHELL__V1__SET_CONFIG_REQUEST__INIT;
	Openshell__V1__SetConfigResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	const char *value = x->a->value;
	int rc;

	/* Learn the key's type first so a bad value is reported here, by name. */
	g.key = OSH_RPC_STR(x->a->key);
	rc = call(x, "GetConfig", &g.base, UNARY_MS, &resp, &st);
	if (rc == OSH_OK) {
		Openshell__V1__GetConfigResponse *gr = (Openshell__V1__GetConfigResponse *)resp;
		bool b;
		if (gr->n_entries == 1 && strcmp(gr->entries[0]->type, "bool") == 0) {
			if (osh_parse_bool(value, &b) != OSH_OK) {
				fprintf(
				    x->err,
				    "openshell: config set: invalid value '%s' for %s: expected "
				    "a boolean (true/false, yes/no, on/off, 1/0)\n",
				    value, x->a->key);
				osh_rpc_msg_free(resp);
				return OSH_CLI_EXIT_FAIL;
			}
			value = b ? "true" : "false";
		}
		osh_rpc_msg_free(resp);
	} else if (st.code != OSH_RPC_UNIMPLEMENTED) {
		/* unknown key (NOT_FOUND), unreachable, ...; an older gateway
		 * without GetConfig gets the value as typed */
		return report(x, "config set", &st);
	}
	req.key = OSH_RPC_STR(x->a->key);
	req.value = OSH_RPC_STR(value);
	if (call(x, "SetConfig", &req.base, UNARY_MS, &resp, &st) != OSH_OK)
		return report(x, "config set", &st);
	r = (Openshell__V1__SetConfigResponse *)resp;
	if (r->entry != NULL)
		fprintf(x->out, "%s = %s (config_revision %llu%s)\n", r->entry->key,
			r->entry->value, (unsigned long long)r->config_revision,
			r->changed ? "" : ", unchanged");
	else
		fprintf(x->out, "%s = %s (config_revision %llu%s)\n", x->a->key, value,
			(unsigned long long)r->config_revision, r->changed ? "" : ", unchanged");
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

/* -------------------------------------------------------------- sandboxes -- */

static int read_file(const char *path, char **out, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	int rc = OSH_OK;

	*out = NULL;
	if (f == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		rc = OSH_EIO;
		goto out;
	}
	buf = malloc(POLICY_MAX + 1);
	if (buf == NULL) {
		rc = OSH_ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	n = fread(buf, 1, POLICY_MAX + 1, f);
	if (ferror(f)) {
		snprintf(why, whylen, "%s", strerror(errno));
		rc = OSH_EIO;
		goto out;
	}
	if (n > POLICY_MAX) {
		snprintf(why, whylen, "larger than %u bytes", POLICY_MAX);
		rc = OSH_ETOOBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* --secret NAME=VALUE / NAME (value from the environment) into map entries;
 * names and values checked with the gateway's rule, errors name the secret
 * and never print its value. */
static int secrets_build(struct ctx *x, Openshell__V1__CreateSandboxRequest__SecretsEntry **out,
			 Openshell__V1__CreateSandboxRequest__SecretsEntry *ents,
			 char (*names)[OSH_SECRET_NAME_MAX + 1], size_t *n)
{
	int rc = OSH_OK;
	char why[128];

	*n = 0;
	for (int i = 0; i < x->a->n_secrets && rc == OSH_OK; i++) {
		const char *a = x->a->secrets[i];
		const char *eq = strchr(a, '=');
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const char *v;
		Openshell__V1__CreateSandboxRequest__SecretsEntry e =
		    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__SECRETS_ENTRY__INIT;

		snprintf(names[i], OSH_SECRET_NAME_MAX + 1, "%.*s", (int)nl, a);
		if (nl > OSH_SECRET_NAME_MAX || !osh_secret_name_ok(names[i])) {
			fprintf(x->err,
				"openshell: sandbox create: --secret: name '%.64s' is invalid "
				"(letters, digits, '_', not starting with a digit)\n",
				names[i]);
			rc = OSH_EINVAL;
			break;
		}
		v = eq ? eq + 1 : getenv(names[i]);
		if (!v) {
			fprintf(x->err,
				"openshell: sandbox create: --secret %s: no =VALUE and no "
				"environment variable %s\n",
				names[i], names[i]);
			rc = OSH_EINVAL;
			break;
		}
		if (osh_secret_value_check(v, strlen(v), why, sizeof(why)) != 0) {
			fprintf(x->err, "openshell: sandbox create: --secret %s: %s\n", names[i],
				why);
			rc = OSH_EINVAL;
			break;
		}
		e.key = names[i];
		e.value = (char *)(uintptr_t)v;
		ents[i] = e;
		out[i] = &ents[i];
		(*n)++;
	}
	return rc;
}

static int sandbox_create(struct ctx *x)
{
	Openshell__V1__CreateSandboxRequest req = OPENSHELL__V1__CREATE_SANDBOX_REQUEST__INIT;
	Openshell__V1__CreateSandboxResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	char *policy = NULL;
	char why[128];
	int rc = OSH_CLI_EXIT_OK;
	Openshell__V1__CreateSandboxRequest__SecretsEntry ents[64];
	Openshell__V1__CreateSandboxRequest__SecretsEntry *secrets[64];
	char names[64][OSH_SECRET_NAME_MAX + 1];
	Openshell__V1__CreateSandboxRequest__EnvEntry env_ents[64];
	Openshell__V1__CreateSandboxRequest__EnvEntry *env[64];
	char env_keys[64][256];
	Openshell__V1__CreateSandboxRequest__LabelsEntry lab_ents[OSH_LABELS_MAX];
	Openshell__V1__CreateSandboxRequest__LabelsEntry *labels[OSH_LABELS_MAX];
	char lab_k[OSH_LABELS_MAX][OSH_LABEL_KEY_MAX + 1];
	char lab_v[OSH_LABELS_MAX][OSH_LABEL_VALUE_MAX + 1];

	req.name = OSH_RPC_STR(x->a->name);
	if (x->a->policy_file != NULL) {
		if (read_file(x->a->policy_file, &policy, why, sizeof(why)) != OSH_OK) {
			fprintf(x->err, "openshell: sandbox create: cannot read policy %s: %s\n",
				x->a->policy_file, why);
			return OSH_CLI_EXIT_FAIL;
		}
		req.policy_yaml = policy;
	}
	req.command = x->a->command;
	req.n_command = (size_t)x->a->n_command;
	if (secrets_build(x, secrets, ents, names, &req.n_secrets) != OSH_OK) {
		rc = OSH_CLI_EXIT_USAGE;
		goto out;
	}
	req.secrets = req.n_secrets ? secrets : NULL;
	for (int i = 0; i < x->a->n_env; i++) {
		const char *kv = x->a->env[i];
		size_t kl = strcspn(kv, "=");
		Openshell__V1__CreateSandboxRequest__EnvEntry e =
		    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__ENV_ENTRY__INIT;
		if (kl >= sizeof(env_keys[0])) {
			fprintf(x->err, "openshell: sandbox create: --env name longer than %zu\n",
				sizeof(env_keys[0]) - 1);
			rc = OSH_CLI_EXIT_USAGE;
			goto out;
		}
		snprintf(env_keys[i], sizeof(env_keys[i]), "%.*s", (int)kl, kv);
		e.key = env_keys[i];
		e.value = (char *)(uintptr_t)(kv + kl + 1);
		env_ents[i] = e;
		env[i] = &env_ents[i];
	}
	req.n_env = (size_t)x->a->n_env;
	req.env = req.n_env ? env : NULL;
	for (int i = 0; i < x->a->n_labels && i < OSH_LABELS_MAX; i++) {
		Openshell__V1__CreateSandboxRequest__LabelsEntry e =
		    OPENSHELL__V1__CREATE_SANDBOX_REQUEST__LABELS_ENTRY__INIT;

		/* checked by the parser; split again into this call's buffers */
		if (osh_labels_split(x->a->labels[i], lab_k[i], lab_v[i], why, sizeof(why)) != 0) {
			fprintf(x->err, "openshell: sandbox create: --label: %s\n", why);
			rc = OSH_CLI_EXIT_USAGE;
			goto out;
		}
		e.key = lab_k[i];
		e.value = lab_v[i];
		lab_ents[i] = e;
		labels[i] = &lab_ents[i];
		req.n_labels++;
	}
	req.labels = req.n_labels ? labels : NULL;
	if (call(x, "CreateSandbox", &req.base, LONG_MS, &resp, &st) != OSH_OK) {
		rc = report(x, "sandbox create", &st);
		goto out;
	}
	r = (Openshell__V1__CreateSandboxResponse *)resp;
	if (r->sandbox != NULL)
		fprintf(x->out, "sandbox %s created (id %s, state %s, pid %d)\n", r->sandbox->name,
			r->sandbox->id, cli_state_name(r->sandbox->state), r->sandbox->pid);
	else
		fprintf(x->out, "sandbox %s created\n", x->a->name);
	(void)osh_cli_last_write(x->a->name);
	osh_rpc_msg_free(resp);
out:
	free(policy);
	return rc;
}

/* Every page of ListSandboxes (the gateway pages so each answer fits one
 * message): the responses are kept in *pages (free each with osh_rpc_msg_free
 * and the array with free) so the table can be sized over all rows. */
static int list_all(struct ctx *x, const char *selector, void ***pages, size_t *n_pages,
		    struct osh_rpc_status *st)
{
	Openshell__V1__ListSandboxesRequest req = OPENSHELL__V1__LIST_SANDBOXES_REQUEST__INIT;
	void **v = NULL; /* Openshell__V1__ListSandboxesResponse * each */
	const Openshell__V1__ListSandboxesResponse *last;
	char token[64] = "";
	size_t n = 0;
	int rc = OSH_OK;

	do {
		void **grown;
		ProtobufCMessage *resp = NULL;

		req.page_token = token;
		req.label_selector = OSH_RPC_STR(selector);
		rc = call(x, "ListSandboxes", &req.base, UNARY_MS, &resp, st);
		if (rc != OSH_OK)
			break;
		grown = realloc(v, (n + 1) * sizeof(*v));
		if (!grown) {
			osh_rpc_msg_free(resp);
			rc = OSH_ENOMEM;
			st->code = OSH_RPC_INTERNAL;
			snprintf(st->message, sizeof(st->message), "out of memory");
			break;
		}
		v = grown;
		v[n++] = resp;
		last = (const Openshell__V1__ListSandboxesResponse *)resp;
		if (last->next_page_token[0] && (strlen(last->next_page_token) >= sizeof(token) ||
						 strcmp(last->next_page_token, token) == 0)) {
			rc = OSH_EPROTO; /* a token that does not advance would loop */
			st->code = OSH_RPC_INTERNAL;
			snprintf(st->message, sizeof(st->message),
				 "the gateway returned a bad page token");
			break;
		}
		snprintf(token, sizeof(token), "%s", last->next_page_token);
	} while (token[0]);
	*pages = v;
	*n_pages = n;
	return rc;
}

int cli_list_all(struct osh_rpc_client *c, void ***pages, size_t *n_pages,
		 struct osh_rpc_status *st)
{
	struct ctx x = {.c = c};
	return list_all(&x, NULL, pages, n_pages, st);
}

static const Openshell__V1__ListSandboxesResponse *page_at(void **pages, size_t i)
{
	return pages[i];
}

static void free_pages(void **pages, size_t n_pages)
{
	for (size_t p = 0; p < n_pages; p++)
		osh_rpc_msg_free(pages[p]);
	free(pages);
}

/* One sandbox as a JSON object (the stable fields documented in
 * docs/cli.md). */
static void sandbox_json(FILE *fp, const Openshell__V1__Sandbox *s)
{
	char created[OSH_TIME_RFC3339_LEN];

	osh_time_format_utc(s->created_ms, created, sizeof(created));
	fputs("{\"name\": ", fp);
	osh_cli_json_str(fp, s->name);
	fputs(", \"id\": ", fp);
	osh_cli_json_str(fp, s->id);
	fprintf(fp, ", \"state\": \"%s\", \"pid\": %d, \"exit_code\": ", cli_state_name(s->state),
		s->pid);
	if (s->opt_exit_code_case == OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE)
		fprintf(fp, "%d", s->exit_code);
	else
		fputs("null", fp);
	fprintf(fp, ", \"created_ms\": %lld, \"created\": \"%s\", \"policy_version\": %u",
		(long long)s->created_ms, created, s->policy_version);
	fputs(", \"log_dir\": ", fp);
	osh_cli_json_str(fp, s->log_dir);
	fputs(", \"ssh_fingerprint\": ", fp);
	osh_cli_json_str(fp, s->ssh_fingerprint);
	fputs(", \"command\": [", fp);
	for (size_t i = 0; i < s->n_command; i++) {
		if (i)
			fputs(", ", fp);
		osh_cli_json_str(fp, s->command[i]);
	}
	fputs("], \"labels\": {", fp);
	for (size_t i = 0; i < s->n_labels; i++) {
		if (i)
			fputs(", ", fp);
		osh_cli_json_str(fp, s->labels[i]->key);
		fputs(": ", fp);
		osh_cli_json_str(fp, s->labels[i]->value);
	}
	fputs("}}", fp);
}

/* "K=V,K2=V2" (the gateway's order: sorted by key) or "-"; labels from the
 * gateway are untrusted text, escaped like log text. */
static void labels_text(FILE *fp, const Openshell__V1__Sandbox *s, const char *sep)
{
	char buf[10 * (OSH_LABEL_KEY_MAX + OSH_LABEL_VALUE_MAX) + 8]; /* \u{XXXX} per byte */

	if (s->n_labels == 0)
		fputc('-', fp);
	for (size_t i = 0; i < s->n_labels; i++) {
		if (i)
			fputs(sep, fp);
		(void)cli_escape_text(s->labels[i]->key, buf, sizeof(buf)); /* truncates */
		fputs(buf, fp);
		fputc('=', fp);
		(void)cli_escape_text(s->labels[i]->value, buf, sizeof(buf));
		fputs(buf, fp);
	}
}

static int sandbox_list(struct ctx *x)
{
	void **pages = NULL; /* Openshell__V1__ListSandboxesResponse * each */
	size_t n_pages = 0;
	struct osh_rpc_status st;
	int wn = 4, wi = 2, ret = OSH_CLI_EXIT_OK;
	bool first = true;

	memset(&st, 0, sizeof(st));
	if (list_all(x, x->a->selector, &pages, &n_pages, &st) != OSH_OK) {
		ret = report(x, "sandbox list", &st);
		goto out;
	}
	if (x->a->names_only || x->a->output == OSH_CLI_OUT_JSON) {
		if (!x->a->names_only)
			fputs("{\"sandboxes\": [", x->out);
		for (size_t p = 0; p < n_pages; p++)
			for (size_t i = 0; i < page_at(pages, p)->n_sandboxes; i++) {
				const Openshell__V1__Sandbox *s = page_at(pages, p)->sandboxes[i];
				if (x->a->names_only) {
					fprintf(x->out, "%s\n", s->name);
					continue;
				}
				if (!first)
					fputs(", ", x->out);
				first = false;
				sandbox_json(x->out, s);
			}
		if (!x->a->names_only)
			fputs("]}\n", x->out);
		goto out;
	}
	for (size_t p = 0; p < n_pages; p++)
		for (size_t i = 0; i < page_at(pages, p)->n_sandboxes; i++) {
			int n = (int)strlen(page_at(pages, p)->sandboxes[i]->name),
			    m = (int)strlen(page_at(pages, p)->sandboxes[i]->id);
			wn = n > wn ? n : wn;
			wi = m > wi ? m : wi;
		}
	fprintf(x->out, "%-*s  %-*s  %-12s  %7s  %4s  %-20s  %s\n", wn, "NAME", wi, "ID", "STATE",
		"PID", "EXIT", "CREATED", "LABELS");
	for (size_t p = 0; p < n_pages; p++)
		for (size_t i = 0; i < page_at(pages, p)->n_sandboxes; i++) {
			const Openshell__V1__Sandbox *s = page_at(pages, p)->sandboxes[i];
			char created[32], pid[16], code[16];
			utc_time(s->created_ms, created, sizeof(created));
			if (s->pid > 0)
				snprintf(pid, sizeof(pid), "%d", s->pid);
			else
				snprintf(pid, sizeof(pid), "-");
			if (s->opt_exit_code_case ==
			    OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE)
				snprintf(code, sizeof(code), "%d", s->exit_code);
			else
				snprintf(code, sizeof(code), "-");
			fprintf(x->out, "%-*s  %-*s  %-12s  %7s  %4s  %-20s  ", wn, s->name, wi,
				s->id, cli_state_name(s->state), pid, code, created);
			labels_text(x->out, s, ",");
			fputc('\n', x->out);
		}
out:
	free_pages(pages, n_pages);
	return ret;
}

/* The sandbox called name in the pages, or NULL. */
static const Openshell__V1__Sandbox *find_in(void **pages, size_t n_pages, const char *name)
{
	for (size_t p = 0; p < n_pages; p++)
		for (size_t i = 0; i < page_at(pages, p)->n_sandboxes; i++)
			if (strcmp(page_at(pages, p)->sandboxes[i]->name, name) == 0)
				return page_at(pages, p)->sandboxes[i];
	return NULL;
}

static int sandbox_get(struct ctx *x)
{
	void **pages = NULL;
	size_t n_pages = 0;
	struct osh_rpc_status st;
	const Openshell__V1__Sandbox *s;
	int ret = OSH_CLI_EXIT_OK;
	char created[OSH_TIME_RFC3339_LEN];

	memset(&st, 0, sizeof(st));
	if (list_all(x, NULL, &pages, &n_pages, &st) != OSH_OK) {
		ret = report(x, "sandbox get", &st);
		goto out;
	}
	s = find_in(pages, n_pages, x->a->name);
	if (s == NULL) {
		fprintf(x->err, "openshell: sandbox get: no sandbox with name '%s'\n", x->a->name);
		ret = OSH_CLI_EXIT_FAIL;
		goto out;
	}
	(void)osh_cli_last_write(s->name);
	if (x->a->output == OSH_CLI_OUT_JSON) {
		sandbox_json(x->out, s);
		fputc('\n', x->out);
		goto out;
	}
	osh_time_format_utc(s->created_ms, created, sizeof(created));
	if (x->a->output == OSH_CLI_OUT_YAML) {
		/* JSON strings are YAML scalars: the same escaping serves both */
		fputs("name: ", x->out);
		osh_cli_json_str(x->out, s->name);
		fputs("\nid: ", x->out);
		osh_cli_json_str(x->out, s->id);
		fprintf(x->out, "\nstate: %s\npid: %d\nexit_code: ", cli_state_name(s->state),
			s->pid);
		if (s->opt_exit_code_case == OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE)
			fprintf(x->out, "%d\n", s->exit_code);
		else
			fputs("null\n", x->out);
		fprintf(x->out, "created_ms: %lld\ncreated: \"%s\"\npolicy_version: %u\nlog_dir: ",
			(long long)s->created_ms, created, s->policy_version);
		osh_cli_json_str(x->out, s->log_dir);
		fputs("\nssh_fingerprint: ", x->out);
		osh_cli_json_str(x->out, s->ssh_fingerprint);
		fputs("\ncommand:", x->out);
		if (s->n_command == 0)
			fputs(" []", x->out);
		for (size_t i = 0; i < s->n_command; i++) {
			fputs("\n  - ", x->out);
			osh_cli_json_str(x->out, s->command[i]);
		}
		fputs("\nlabels:", x->out);
		if (s->n_labels == 0)
			fputs(" {}", x->out);
		for (size_t i = 0; i < s->n_labels; i++) {
			fputs("\n  ", x->out);
			osh_cli_json_str(x->out, s->labels[i]->key);
			fputs(": ", x->out);
			osh_cli_json_str(x->out, s->labels[i]->value);
		}
		fputc('\n', x->out);
		goto out;
	}
	fprintf(x->out, "Name:     %s\nId:       %s\nState:    %s\n", s->name, s->id,
		cli_state_name(s->state));
	if (s->pid > 0)
		fprintf(x->out, "Pid:      %d\n", s->pid);
	else
		fputs("Pid:      -\n", x->out);
	if (s->opt_exit_code_case == OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE)
		fprintf(x->out, "Exit:     %d\n", s->exit_code);
	else
		fputs("Exit:     -\n", x->out);
	fprintf(x->out, "Created:  %s\nPolicy:   version %u\nLog dir:  %s\nCommand: ", created,
		s->policy_version, s->log_dir[0] ? s->log_dir : "-");
	for (size_t i = 0; i < s->n_command; i++) {
		fputc(' ', x->out);
		osh_cli_json_str(x->out, s->command[i]);
	}
	fputs("\nLabels:   ", x->out);
	labels_text(x->out, s, ", ");
	/* the gateway's text: printed bare only when it is a plain fingerprint */
	fputs("\nSSH key:  ", x->out);
	if (!s->ssh_fingerprint[0])
		fputc('-', x->out);
	else if (strspn(s->ssh_fingerprint, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789+/=:") == strlen(s->ssh_fingerprint))
		fputs(s->ssh_fingerprint, x->out);
	else
		osh_cli_json_str(x->out, s->ssh_fingerprint);
	fputc('\n', x->out);
out:
	free_pages(pages, n_pages);
	return ret;
}

static int delete_one(struct ctx *x, const char *name)
{
	Openshell__V1__DeleteSandboxRequest req = OPENSHELL__V1__DELETE_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	req.name = OSH_RPC_STR(name);
	if (call(x, "DeleteSandbox", &req.base, LONG_MS, &resp, &st) != OSH_OK)
		return report(x, "sandbox delete", &st);
	fprintf(x->out, "sandbox %s deleted\n", name);
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

/* NAME... (each tried; the worst exit code wins) or --all (every sandbox
 * listed at the start). */
static int sandbox_delete(struct ctx *x)
{
	void **pages = NULL;
	size_t n_pages = 0;
	struct osh_rpc_status st;
	int ret = OSH_CLI_EXIT_OK, r;

	memset(&st, 0, sizeof(st));
	if (!x->a->all) {
		for (int i = 0; i < x->a->n_names && ret != OSH_CLI_EXIT_UNREACHABLE; i++) {
			r = delete_one(x, x->a->names[i]);
			ret = r > ret ? r : ret;
		}
		return ret;
	}
	if (list_all(x, NULL, &pages, &n_pages, &st) != OSH_OK) {
		ret = report(x, "sandbox delete", &st);
		goto out;
	}
	for (size_t p = 0; p < n_pages && ret != OSH_CLI_EXIT_UNREACHABLE; p++)
		for (size_t i = 0; i < page_at(pages, p)->n_sandboxes; i++) {
			r = delete_one(x, page_at(pages, p)->sandboxes[i]->name);
			ret = r > ret ? r : ret;
			if (ret == OSH_CLI_EXIT_UNREACHABLE)
				break;
		}
out:
	free_pages(pages, n_pages);
	return ret;
}

static int status(struct ctx *x)
{
	Openshell__V1__GetStatusRequest req = OPENSHELL__V1__GET_STATUS_REQUEST__INIT;
	Openshell__V1__GetStatusResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	int rc;

	rc = call(x, "GetStatus", &req.base, UNARY_MS, &resp, &st);
	if (rc != OSH_OK &&
	    (st.code == OSH_RPC_UNAVAILABLE || st.code == OSH_RPC_DEADLINE_EXCEEDED)) {
		if (x->a->output == OSH_CLI_OUT_JSON) {
			fputs("{\"gateway\": ", x->out);
			osh_cli_json_str(x->out, x->a->gateway);
			fputs(", \"healthy\": false}\n", x->out);
		} else {
			fprintf(x->out, "Gateway:  %s\nHealth:   unreachable\n", x->a->gateway);
		}
		return report(x, "status", &st);
	}
	if (rc != OSH_OK)
		return report(x, "status", &st);
	r = (Openshell__V1__GetStatusResponse *)resp;
	if (x->a->output == OSH_CLI_OUT_JSON) {
		fputs("{\"gateway\": ", x->out);
		osh_cli_json_str(x->out, x->a->gateway);
		fputs(", \"healthy\": true, \"version\": ", x->out);
		osh_cli_json_str(x->out, r->version);
		fprintf(x->out, ", \"uptime_ms\": %lld, \"address\": ", (long long)r->uptime_ms);
		osh_cli_json_str(x->out, r->address);
		fputs(", \"tcp_address\": ", x->out);
		osh_cli_json_str(x->out, r->tcp_address);
		fputs(", \"cli_version\": \"" OSH_VERSION_STRING "\"}\n", x->out);
	} else {
		fprintf(x->out,
			"Gateway:  %s\nHealth:   ok\nVersion:  %s (cli %s)\nUptime:   %llds\n"
			"Address:  %s%s%s\n",
			x->a->gateway, r->version, OSH_VERSION_STRING,
			(long long)(r->uptime_ms / 1000), r->address,
			r->tcp_address[0] ? ", tcp " : "", r->tcp_address);
	}
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

/* ------------------------------------------------------------------- logs -- */

/* One JSON object per line. A line that carries its OCSF event (the gateway
 * stored it while the OCSF export was on) prints the event itself, as the
 * gateway received it: one OCSF object per line, what a SIEM ingests. Any
 * other line: timestamp_ms, time (UTC RFC 3339), source, level, target,
 * message, fields {key: value}. The two shapes differ by `class_uid`. */
static void print_line_json(struct ctx *x, const Openshell__V1__SandboxLogLine *l)
{
	char t[OSH_TIME_RFC3339_LEN];

	if (l->ocsf_json && l->ocsf_json[0]) {
		/* Parsed and printed again: whatever the gateway holds, the
		 * output is one well-formed JSON line with control bytes escaped
		 * (no terminal escapes from a crafted event). */
		cJSON *ev = cJSON_Parse(l->ocsf_json);
		char *txt = cJSON_IsObject(ev) ? cJSON_PrintUnformatted(ev) : NULL;

		cJSON_Delete(ev);
		if (txt) {
			fputs(txt, x->out);
			fputc('\n', x->out);
			cJSON_free(txt);
			return;
		}
	}

	osh_time_format_utc(l->timestamp_ms, t, sizeof(t));
	fprintf(x->out, "{\"timestamp_ms\": %lld, \"time\": \"%s\", \"source\": ",
		(long long)l->timestamp_ms, t);
	osh_cli_json_str(x->out, l->source[0] ? l->source : "gateway");
	fputs(", \"level\": ", x->out);
	osh_cli_json_str(x->out, l->level);
	fputs(", \"target\": ", x->out);
	osh_cli_json_str(x->out, l->target);
	fputs(", \"message\": ", x->out);
	osh_cli_json_str(x->out, l->message);
	fputs(", \"fields\": {", x->out);
	for (size_t i = 0; i < l->n_fields; i++) {
		if (i)
			fputs(", ", x->out);
		osh_cli_json_str(x->out, l->fields[i]->key);
		fputs(": ", x->out);
		osh_cli_json_str(x->out, l->fields[i]->value);
	}
	fputs("}}\n", x->out);
}

static void print_line(struct ctx *x, const Openshell__V1__SandboxLogLine *l)
{
	const char *keys[64], *vals[64];
	struct osh_cli_line cl = {0};
	char stack[2048];
	char *buf = stack;
	size_t need;

	if (x->a->level_set && !osh_level_line_passes(l->level, l->message, x->a->min_level))
		return;
	if (x->a->output == OSH_CLI_OUT_JSON) {
		print_line_json(x, l);
		return;
	}
	cl.ts = x->a->timestamps;
	cl.timestamp_ms = l->timestamp_ms;
	cl.source = l->source;
	cl.level = l->level;
	cl.target = l->target;
	cl.message = l->message;
	for (size_t i = 0; i < l->n_fields && i < 64; i++) {
		keys[i] = l->fields[i]->key;
		vals[i] = l->fields[i]->value;
	}
	cl.keys = keys;
	cl.values = vals;
	cl.n_fields = l->n_fields < 64 ? l->n_fields : 64;
	need = osh_cli_format_line(&cl, x->color, stack, sizeof(stack));
	if (need >= sizeof(stack)) {
		buf = malloc(need + 1);
		if (buf == NULL)
			buf = stack; /* print the truncated line rather than nothing */
		else
			osh_cli_format_line(&cl, x->color, buf, need + 1);
	}
	fputs(buf, x->out);
	fputc('\n', x->out);
	if (buf != stack)
		free(buf);
}

static int logs_once(struct ctx *x)
{
	Openshell__V1__GetSandboxLogsRequest req = OPENSHELL__V1__GET_SANDBOX_LOGS_REQUEST__INIT;
	Openshell__V1__GetSandboxLogsResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	req.name = OSH_RPC_STR(x->a->name);
	req.lines = x->a->lines;
	req.since_ms = x->a->since_ms;
	req.min_level = OSH_RPC_STR(x->a->level_set ? osh_level_name(x->a->min_level) : "");
	req.sources = (char **)(uintptr_t)x->a->sources;
	req.n_sources = x->a->n_sources;
	if (call(x, "GetSandboxLogs", &req.base, UNARY_MS, &resp, &st) != OSH_OK)
		return report(x, "sandbox logs", &st);
	r = (Openshell__V1__GetSandboxLogsResponse *)resp;
	for (size_t i = 0; i < r->n_logs; i++)
		print_line(x, r->logs[i]);
	if (r->truncated > 0)
		fprintf(x->err,
			"openshell: %llu older lines of the requested window were left out so the "
			"answer fits in one message (use --since to page back)\n",
			(unsigned long long)r->truncated);
	else if (r->total_matching > r->n_logs && x->a->since_ms != 0)
		fprintf(x->err,
			"openshell: showing the last %zu of %llu matching lines (use -n to see "
			"more)\n",
			r->n_logs, (unsigned long long)r->total_matching);
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

#define EXIT_POLL_MS  1000
#define EXIT_QUIET_MS 500

/* true when the sandbox has exited (or failed), with its exit code and
 * state name; false while it runs or when it cannot be looked up. */
static bool sandbox_exit_state(struct ctx *x, int *code, char *state, size_t cap)
{
	void **pages = NULL;
	size_t n_pages = 0;
	struct osh_rpc_status st;
	const Openshell__V1__Sandbox *s;
	bool done = false;

	memset(&st, 0, sizeof(st));
	if (list_all(x, NULL, &pages, &n_pages, &st) == OSH_OK &&
	    (s = find_in(pages, n_pages, x->a->name)) != NULL &&
	    (s->state == OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED ||
	     s->state == OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_FAILED)) {
		done = true;
		*code = s->opt_exit_code_case == OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE
			    ? s->exit_code
			    : -1;
		snprintf(state, cap, "%s", cli_state_name(s->state));
	}
	free_pages(pages, n_pages);
	return done;
}

static int logs_follow(struct ctx *x, volatile sig_atomic_t *stop)
{
	Openshell__V1__WatchSandboxLogsRequest req =
	    OPENSHELL__V1__WATCH_SANDBOX_LOGS_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = 0};
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st = {0};
	ProtobufCMessage *msg = NULL;
	int rc = OSH_CLI_EXIT_OK, r;
	bool cancelled = false, exited = false;
	int64_t next_check = 0, quiet_until = 0;
	int exit_code = 0;
	char exit_state[16] = "";

	req.name = OSH_RPC_STR(x->a->name);
	req.tail_lines = x->a->lines;
	req.since_ms = x->a->since_ms;
	req.min_level = OSH_RPC_STR(x->a->level_set ? osh_level_name(x->a->min_level) : "");
	req.sources = (char **)(uintptr_t)x->a->sources;
	req.n_sources = x->a->n_sources;
	if (osh_rpc_sstream_open(x->c, "WatchSandboxLogs", &req.base, &o, &ss) != OSH_OK) {
		fprintf(x->err, "openshell: sandbox logs: cannot open the log stream\n");
		return OSH_CLI_EXIT_FAIL;
	}
	for (;;) {
		if (stop != NULL && *stop && !cancelled) {
			osh_rpc_sstream_cancel(ss);
			cancelled = true;
		}
		r = osh_rpc_sstream_next(ss, 200, &msg, &st);
		if (r == OSH_ETIMEDOUT && !cancelled) {
			int64_t now = osh_time_mono_ms();
			/* docker logs -f habit: once the sandbox has exited and
			 * the stream has been quiet for a moment (its last lines
			 * are in), end with its exit status */
			if (exited && now >= quiet_until) {
				osh_rpc_sstream_cancel(ss);
				cancelled = true;
				continue;
			}
			if (!exited && now >= next_check) {
				next_check = now + EXIT_POLL_MS;
				if (sandbox_exit_state(x, &exit_code, exit_state,
						       sizeof(exit_state))) {
					exited = true;
					quiet_until = now + EXIT_QUIET_MS;
				}
			}
			continue;
		}
		if (r == OSH_ETIMEDOUT)
			continue;
		if (r != OSH_OK)
			break;
		quiet_until = osh_time_mono_ms() + EXIT_QUIET_MS;
		{
			Openshell__V1__WatchSandboxLogsResponse *w = (void *)msg;
			for (size_t i = 0; i < w->n_logs; i++)
				print_line(x, w->logs[i]);
			if (w->dropped > 0)
				fprintf(
				    x->err,
				    "openshell: %llu log lines were dropped (reader too slow)\n",
				    (unsigned long long)w->dropped);
		}
		osh_rpc_msg_free(msg);
		msg = NULL;
		if (fflush(x->out) != 0 || ferror(x->out)) {
			/* reader went away (e.g. `| head`): stop quietly */
			osh_rpc_sstream_cancel(ss);
			cancelled = true;
		}
	}
	if (st.code == OSH_RPC_OK || (cancelled && st.code == OSH_RPC_CANCELLED))
		rc = OSH_CLI_EXIT_OK;
	else
		rc = report(x, "sandbox logs", &st);
	if (exited && rc == OSH_CLI_EXIT_OK && !(stop != NULL && *stop)) {
		fflush(x->out);
		fprintf(x->err, "openshell: sandbox %s %s with code %d\n", x->a->name, exit_state,
			exit_code);
	}
	osh_rpc_sstream_destroy(ss);
	return rc;
}

/* ---------------------------------------------------------------- gateway -- */

static int gateway_start(struct ctx *x, const char *self_exe)
{
	char dir[4096], path[4200];
	char **argv = NULL;
	bool has_listen = false;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s", self_exe != NULL ? self_exe : ".");
	snprintf(path, sizeof(path), "%s/openshell-gateway", dirname(dir));
	for (int i = 0; i < x->a->gw_argc; i++) {
		if (strcmp(x->a->gw_argv[i], "--listen") == 0 ||
		    strncmp(x->a->gw_argv[i], "--listen=", 9) == 0 ||
		    strcmp(x->a->gw_argv[i], "--socket") == 0 ||
		    strncmp(x->a->gw_argv[i], "--socket=", 9) == 0)
			has_listen = true;
	}
	/* Only an explicit unix: address is handed on; a TCP one would need
	 * TLS flags the operator must choose, and the default is the data
	 * dir's socket the CLI discovers anyway. */
	if (!x->a->gateway_explicit || strncmp(x->a->gateway, "unix:", 5) != 0)
		has_listen = true;
	argv = calloc((size_t)x->a->gw_argc + 4, sizeof(*argv));
	if (argv == NULL) {
		fprintf(x->err, "openshell: gateway start: out of memory\n");
		return OSH_CLI_EXIT_FAIL;
	}
	argv[n++] = path;
	for (int i = 0; i < x->a->gw_argc; i++)
		argv[n++] = x->a->gw_argv[i];
	if (!has_listen) {
		argv[n++] = OSH_RPC_STR("--socket");
		argv[n++] = OSH_RPC_STR(x->a->gateway + 5);
	}
	argv[n] = NULL;
	fflush(x->out);
	fflush(x->err);
	execv(path, argv);
	fprintf(x->err, "openshell: gateway start: cannot run %s: %s\n", path, strerror(errno));
	free(argv);
	return 127;
}

/* Reads a PEM file named by an environment variable; NULL when unset.
 * *bad set when it is set but unreadable. */
static char *env_pem(const char *var, bool *bad, FILE *err)
{
	const char *path = getenv(var);
	FILE *f;
	char *buf = NULL;
	size_t n;

	if (path == NULL || *path == '\0')
		return NULL;
	f = fopen(path, "re");
	if (f != NULL)
		buf = malloc((1u << 20) + 1);
	if (f == NULL || buf == NULL) {
		fprintf(err, "openshell: %s=%s: %s\n", var, path, strerror(errno));
		*bad = true;
		goto out;
	}
	n = fread(buf, 1, 1u << 20, f);
	buf[n] = '\0';
out:
	if (f != NULL)
		fclose(f);
	return buf;
}

/* The channel: TLS (with a client certificate when given) for a TCP
 * gateway when OPENSHELL_TLS_CA is set, plaintext otherwise. */
int cli_client_create(const char *target, struct osh_rpc_client **c, FILE *err)
{
	struct osh_rpc_client_opts o = {0};
	bool bad = false;
	char *ca = NULL, *cert = NULL, *key = NULL;
	int rc;

	if (strncmp(target, "unix:", 5) != 0) {
		ca = env_pem("OPENSHELL_TLS_CA", &bad, err);
		cert = env_pem("OPENSHELL_TLS_CERT", &bad, err);
		key = env_pem("OPENSHELL_TLS_KEY", &bad, err);
	}
	o.tls_ca_pem = ca;
	o.tls_cert_pem = cert;
	o.tls_key_pem = key;
	rc = bad ? OSH_EINVAL : osh_rpc_client_create(target, SVC, &o, c);
	free(ca);
	free(cert);
	free(key);
	return rc;
}

void osh_cli_discover_gateway(char *buf, size_t cap)
{
	const char *x = getenv("XDG_STATE_HOME");
	char path[4200];
	const char *cands[2];
	bool found = false;

	if (x != NULL && x[0] == '/') {
		snprintf(path, sizeof(path), "%s/openshell/gateway.addr", x);
		cands[0] = path;
	} else {
		cands[0] = "./openshell-data/gateway.addr";
	}
	cands[1] = "/var/lib/openshell/gateway.addr";
	snprintf(buf, cap, "%s", OSH_CLI_DEFAULT_GATEWAY);
	for (size_t i = 0; i < 2 && !found; i++) {
		FILE *f = fopen(cands[i], "re");
		char line[4200] = "";

		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			found = line[0] != '\0' && strlen(line) < cap;
			if (found)
				snprintf(buf, cap, "%s", line);
		}
		fclose(f);
	}
}

/* ------------------------------------------------------------- proposals -- */

static void proposal_json(FILE *f, const Openshell__V1__PolicyChunk *c)
{
	fputs("{\"id\": ", f);
	osh_cli_json_str(f, c->id);
	fputs(", \"status\": ", f);
	osh_cli_json_str(f, c->status);
	fputs(", \"rule_name\": ", f);
	osh_cli_json_str(f, c->rule_name);
	fputs(", \"host\": ", f);
	osh_cli_json_str(f, c->host);
	fprintf(f, ", \"port\": %u, \"binary\": ", c->port);
	osh_cli_json_str(f, c->binary);
	fprintf(f, ", \"hit_count\": %d, \"confidence\": %.3f, \"stage\": ", c->hit_count,
		(double)c->confidence);
	osh_cli_json_str(f, c->stage);
	fprintf(f,
		", \"first_seen_ms\": %lld, \"last_seen_ms\": %lld, \"created_ms\": %lld, "
		"\"decided_ms\": %lld, \"rationale\": ",
		(long long)c->first_seen_ms, (long long)c->last_seen_ms,
		(long long)c->created_at_ms, (long long)c->decided_at_ms);
	osh_cli_json_str(f, c->rationale);
	fputs(", \"security_notes\": ", f);
	osh_cli_json_str(f, c->security_notes);
	fputs(", \"allowed_ips\": [", f);
	if (c->proposed_rule && c->proposed_rule->n_endpoints > 0) {
		const Openshell__V1__NetworkEndpoint *ep = c->proposed_rule->endpoints[0];

		for (size_t i = 0; i < ep->n_allowed_ips; i++) {
			fputs(i ? ", " : "", f);
			osh_cli_json_str(f, ep->allowed_ips[i]);
		}
	}
	fputs("]}", f);
}

static int proposals_list(struct ctx *x)
{
	Openshell__V1__GetPolicyProposalsRequest req =
	    OPENSHELL__V1__GET_POLICY_PROPOSALS_REQUEST__INIT;
	const Openshell__V1__GetPolicyProposalsResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;

	req.name = OSH_RPC_STR(x->a->name);
	req.status = OSH_RPC_STR(x->a->status != NULL ? x->a->status : "");
	if (call(x, "GetPolicyProposals", &req.base, UNARY_MS, &resp, &st) != OSH_OK)
		return report(x, "sandbox proposals", &st);
	r = (const Openshell__V1__GetPolicyProposalsResponse *)resp;
	(void)osh_cli_last_write(x->a->name);
	if (x->a->output == OSH_CLI_OUT_JSON) {
		fputs("{\"sandbox\": ", x->out);
		osh_cli_json_str(x->out, x->a->name);
		fputs(", \"proposals\": [", x->out);
		for (size_t i = 0; i < r->n_chunks; i++) {
			fputs(i ? ", " : "", x->out);
			proposal_json(x->out, r->chunks[i]);
		}
		fputs("]}\n", x->out);
	} else if (r->n_chunks == 0) {
		fprintf(x->out, "no proposals for sandbox %s\n", x->a->name);
	} else {
		fprintf(x->out, "%-36s  %-8s  %-28s  %-28s  %-24s  %6s  %4s  %s\n", "ID", "STATUS",
			"RULE", "ENDPOINT", "BINARY", "HITS", "CONF", "LAST DENIAL");
		for (size_t i = 0; i < r->n_chunks; i++) {
			const Openshell__V1__PolicyChunk *c = r->chunks[i];
			char ep[300], last[OSH_TIME_RFC3339_LEN];

			snprintf(ep, sizeof(ep), "%s:%u", c->host, c->port);
			osh_time_format_utc(c->last_seen_ms, last, sizeof(last));
			fprintf(x->out, "%-36s  %-8s  %-28s  %-28s  %-24s  %6d  %4.2f  %s\n", c->id,
				c->status, c->rule_name, ep, c->binary, c->hit_count,
				(double)c->confidence, last);
			if (c->security_notes[0] != '\0')
				fprintf(x->out, "    notes: %s\n", c->security_notes);
		}
	}
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

static int proposal_decide(struct ctx *x)
{
	Openshell__V1__DecidePolicyProposalRequest req =
	    OPENSHELL__V1__DECIDE_POLICY_PROPOSAL_REQUEST__INIT;
	const Openshell__V1__DecidePolicyProposalResponse *r;
	ProtobufCMessage *resp = NULL;
	struct osh_rpc_status st;
	const char *what = x->a->accept ? "sandbox proposals accept" : "sandbox proposals reject";

	req.name = OSH_RPC_STR(x->a->name);
	req.id = OSH_RPC_STR(x->a->proposal_id);
	req.accept = x->a->accept;
	if (call(x, "DecidePolicyProposal", &req.base, UNARY_MS, &resp, &st) != OSH_OK)
		return report(x, what, &st);
	r = (const Openshell__V1__DecidePolicyProposalResponse *)resp;
	if (x->a->accept)
		fprintf(x->out,
			"proposal %s accepted: rule %s merged into the policy of sandbox %s "
			"(policy version %u); the sandbox applies it at its next policy poll\n",
			x->a->proposal_id, r->chunk ? r->chunk->rule_name : "?", x->a->name,
			r->policy_version);
	else
		fprintf(x->out, "proposal %s rejected (sandbox %s)\n", x->a->proposal_id,
			x->a->name);
	osh_rpc_msg_free(resp);
	return OSH_CLI_EXIT_OK;
}

int osh_cli_run(const struct osh_cli_args *a, const char *self_exe, FILE *out, FILE *err,
		volatile sig_atomic_t *stop)
{
	struct ctx x = {.a = a, .out = out, .err = err};
	int rc = OSH_CLI_EXIT_OK;

	switch (a->color) {
	case OSH_CLI_COLOR_ALWAYS:
		x.color = true;
		break;
	case OSH_CLI_COLOR_NEVER:
		x.color = false;
		break;
	default:
		x.color = isatty(fileno(out)) && getenv("NO_COLOR") == NULL;
	}
	switch (a->cmd) {
	case OSH_CLI_HELP:
		osh_cli_help(out, a->help_topic);
		return OSH_CLI_EXIT_OK;
	case OSH_CLI_VERSION:
		fprintf(out, "openshell %s\n", OSH_VERSION_STRING);
		return OSH_CLI_EXIT_OK;
	case OSH_CLI_GATEWAY_START:
		return gateway_start(&x, self_exe);
	case OSH_CLI_TERM:
		return osh_cli_term(a, out, err);
	case OSH_CLI_COMPLETIONS:
		return osh_cli_completions(out, a->shell) == OSH_OK ? OSH_CLI_EXIT_OK
								    : OSH_CLI_EXIT_USAGE;
	default:
		break;
	}
	if (cli_client_create(a->gateway, &x.c, err) != OSH_OK) {
		fprintf(err, "openshell: cannot reach gateway at %s: invalid address\n",
			a->gateway);
		return OSH_CLI_EXIT_UNREACHABLE;
	}
	switch (a->cmd) {
	case OSH_CLI_CONFIG_GET:
		rc = config_get(&x);
		break;
	case OSH_CLI_CONFIG_SET:
		rc = config_set(&x);
		break;
	case OSH_CLI_SANDBOX_CREATE:
		rc = sandbox_create(&x);
		break;
	case OSH_CLI_SANDBOX_LIST:
		rc = sandbox_list(&x);
		break;
	case OSH_CLI_SANDBOX_DELETE:
		rc = sandbox_delete(&x);
		break;
	case OSH_CLI_SANDBOX_GET:
		rc = sandbox_get(&x);
		break;
	case OSH_CLI_CONFIG_DELETE:
		rc = config_delete(&x);
		break;
	case OSH_CLI_STATUS:
		rc = status(&x);
		break;
	case OSH_CLI_PROPOSALS:
		rc = proposals_list(&x);
		break;
	case OSH_CLI_PROPOSAL_DECIDE:
		rc = proposal_decide(&x);
		break;
	case OSH_CLI_SANDBOX_SSH_PROXY:
	case OSH_CLI_SANDBOX_SSH_CONFIG:
	case OSH_CLI_SANDBOX_EXEC:
	case OSH_CLI_SANDBOX_CONNECT:
		rc = cli_ssh_run(a, x.c, self_exe, out, err);
		break;
	case OSH_CLI_SANDBOX_LOGS:
		rc = a->follow ? logs_follow(&x, stop) : logs_once(&x);
		if (rc == OSH_CLI_EXIT_OK)
			(void)osh_cli_last_write(a->name);
		break;
	default:
		rc = OSH_CLI_EXIT_USAGE;
	}
	osh_rpc_client_destroy(x.c);
	return rc;
}

/* ------------------------------------------------------------------- main -- */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

int osh_cli_main(int argc, char **argv)
{
	struct osh_cli_args a;
	char err[256];
	char self[4096];
	static char discovered[4200];
	ssize_t n;
	struct sigaction sa;
	int64_t now;

	static char last[256];

	now = osh_time_wall_ms();
	if (osh_cli_parse_env(argc, argv, getenv("OPENSHELL_GATEWAY"), getenv("OPENSHELL_LOG_TIME"),
			      now, &a, err, sizeof(err)) != OSH_OK) {
		fprintf(stderr, "openshell: %s\n", err);
		return OSH_CLI_EXIT_USAGE;
	}
	if ((a.cmd == OSH_CLI_SANDBOX_LOGS || a.cmd == OSH_CLI_SANDBOX_GET) && a.name_default) {
		if (osh_cli_last_read(last, sizeof(last)) != OSH_OK) {
			fprintf(
			    stderr,
			    "openshell: %s: missing sandbox NAME (and no sandbox used before to "
			    "default to)\n",
			    a.cmd == OSH_CLI_SANDBOX_LOGS ? "logs" : "sandbox get");
			return OSH_CLI_EXIT_USAGE;
		}
		a.name = last;
	}
	if (!a.gateway_explicit) {
		osh_cli_discover_gateway(discovered, sizeof(discovered));
		a.gateway = discovered;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		n = 0;
	self[n] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (a.cmd == OSH_CLI_SANDBOX_LOGS && a.follow) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	return osh_cli_run(&a, self, stdout, stderr, &g_stop);
}
