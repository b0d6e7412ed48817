/* test_sup_events.c - every supervisor log site fires, with its documented code.
 *
 * DESIGN: the site list is read from docs/log-sites.md (supervisor rows) and
 * from the string literals of src/supervisor/core/sup_events.c and push/push_sites.c; both must
 * agree. Then every osh_sup_ev_* function runs once against the real emit runtime with JSONL on;
 * the JSONL file must hold one parseable event per code with the documented class, and
 * openshell.log the matching shorthand lines. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_emit.h"
#include "push_sites.h"
#include "sup_events.h"

#ifndef OSH_SOURCE_DIR
#error "OSH_SOURCE_DIR must point at the source tree"
#endif

#define MAXC 64

struct codes {
	char name[MAXC][48];
	int cls[MAXC];
	int n;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static int find(const struct codes *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name))
			return i;
	return -1;
}

/* Rows "| `CODE` | <class name> <uid> | ... | src/supervisor/..." */
static void doc_codes(struct codes *c)
{
	char *doc = slurp(OSH_SOURCE_DIR "/docs/log-sites.md");
	regex_t re;
	regmatch_t m[3];
	const char *p = doc;

	cr_assert_eq(regcomp(&re,
			     "^\\| `([A-Z_]+)` \\| [A-Za-z ]+ ([0-9]+) \\|[^\n]*src/supervisor/",
			     REG_EXTENDED | REG_NEWLINE),
		     0);
	while (regexec(&re, p, 3, m, 0) == 0) {
		cr_assert_lt(c->n, MAXC);
		snprintf(c->name[c->n], sizeof(c->name[0]), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
			 p + m[1].rm_so);
		c->cls[c->n] = (int)strtol(p + m[2].rm_so, NULL, 10);
		c->n++;
		p += m[0].rm_eo;
	}
	regfree(&re);
	free(doc);
}

/* Event codes in the source: literals of the form "SUP_...", "PROC_..." etc. */
static void source_codes_of(struct codes *c, const char *path)
{
	char *src = slurp(path);
	regex_t re;
	regmatch_t m[2];
	const char *p = src;

	cr_assert_eq(
	    regcomp(&re, "\"((SUP|PROC|CONFIG|GATEWAY|POLICY|PUSH)_[A-Z_]+)\"", REG_EXTENDED), 0);
	while (regexec(&re, p, 2, m, 0) == 0) {
		char name[48];

		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
			 p + m[1].rm_so);
		if (find(c, name) < 0) {
			cr_assert_lt(c->n, MAXC);
			snprintf(c->name[c->n++], sizeof(c->name[0]), "%s", name);
		}
		p += m[0].rm_eo;
	}
	regfree(&re);
	free(src);
}

static void source_codes(struct codes *c)
{
	source_codes_of(c, OSH_SOURCE_DIR "/src/supervisor/core/sup_events.c");
	source_codes_of(c, OSH_SOURCE_DIR "/src/supervisor/push/push_sites.c");
}

static void fire_all(void)
{
	struct osh_sup_proc_note n = {
	    .pid = 4242, .name = "agent", .path = "/usr/bin/agent", .cmd_line = "agent --run"};
	struct osh_sup_poll_actions on = {
	    .apply_config = true, .old_revision = 1, .new_revision = 2, .new_enabled = true};
	struct osh_sup_poll_actions stale = {
	    .stale_config = true, .old_revision = 5, .new_revision = 3};
	enum osh_sup_note_kind kinds[] = {OSH_SUP_NOTE_LAUNCH,	  OSH_SUP_NOTE_TIMEOUT,
					  OSH_SUP_NOTE_SIGNAL,	  OSH_SUP_NOTE_KILL,
					  OSH_SUP_NOTE_KILL_FAIL, OSH_SUP_NOTE_EXIT};

	osh_sup_ev_start("sb-1", "127.0.0.1:1", "/tmp");
	osh_sup_ev_config_updated(&on);
	osh_sup_ev_config_stale(&stale);
	osh_sup_ev_gateway_lost("127.0.0.1:1", "UNAVAILABLE: connection refused", true);
	osh_sup_ev_gateway_restored("127.0.0.1:1", 4, 2500);
	osh_sup_ev_policy_loaded("gateway", NULL, 3, "abcd", 2, false);
	osh_sup_ev_policy_loaded("file", "/etc/p.yaml", 1, "ef01", 0, false);
	osh_sup_ev_policy_rejected("gateway", "filesystem.read_only[0]: not absolute", "abcd");
	osh_sup_ev_policy_fallback("/etc/p.yaml", "p.yaml:3:1: unknown key 'x'");
	osh_sup_ev_policy_default();
	osh_sup_ev_policy_absent("abcd");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n.kind = kinds[i];
		n.signal = kinds[i] == OSH_SUP_NOTE_EXIT ? SIGTERM : SIGTERM;
		n.exit_code = 143;
		n.err_no = 1;
		osh_sup_ev_proc(&n, 1500);
	}
	n.kind = OSH_SUP_NOTE_LAUNCH_FAIL;
	n.pid = 0;
	n.err_no = 2;
	osh_sup_ev_proc(&n, 0);
	osh_sup_ev_ready(4242, 12);
	osh_sup_ev_heartbeat(4242, 1000, 2);
	osh_sup_ev_push_dropped(17, "gateway unreachable");
	osh_sup_ev_start_failed("cannot build the command's environment");
	osh_sup_ev_stop(143, "supervisor received signal 15");
}

Test(events, every_documented_site_fires_as_a_valid_event)
{
	struct codes doc = {0}, src = {0};
	char dir[] = "/tmp/osh-ev-XXXXXX";
	char path[256];
	struct osh_emit_config cfg;
	FILE *f;
	char line[65536];
	int seen[MAXC] = {0};
	char *shorthand;

	doc_codes(&doc);
	source_codes(&src);
	cr_assert_geq(doc.n, 20, "docs/log-sites.md lists the supervisor sites");
	for (int i = 0; i < src.n; i++)
		cr_assert_geq(find(&doc, src.name[i]), 0, "%s is emitted but not documented",
			      src.name[i]);
	for (int i = 0; i < doc.n; i++)
		cr_assert_geq(find(&src, doc.name[i]), 0, "%s is documented but not emitted",
			      doc.name[i]);

	cr_assert_not_null(mkdtemp(dir));
	osh_emit_config_default(&cfg);
	cfg.log_dir = dir;
	cfg.jsonl = true;
	cfg.stderr_enabled = false;
	cr_assert_eq(osh_ctx_set_sandbox("sb-1", "demo"), 0);
	cr_assert_eq(osh_ctx_set_hostname("host-1"), 0);
	cr_assert_eq(osh_ctx_set_product(OSH_SUP_PRODUCT, OSH_SUP_VENDOR, "0.1.0"), 0);
	cr_assert_eq(osh_emit_init(&cfg), 0);
	fire_all();
	cr_assert_eq(osh_emit_flush(5000), 0);
	osh_emit_shutdown();

	snprintf(path, sizeof(path), "%s/openshell-ocsf.log", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		cJSON *j = cJSON_Parse(line);
		cJSON *md, *code, *cls;
		int at;

		cr_assert_not_null(j, "not JSON: %s", line);
		md = cJSON_GetObjectItem(j, "metadata");
		code = md ? cJSON_GetObjectItem(md, "event_code") : NULL;
		cls = cJSON_GetObjectItem(j, "class_uid");
		cr_assert(cJSON_IsString(code), "no metadata.event_code: %s", line);
		at = find(&doc, code->valuestring);
		cr_assert_geq(at, 0, "undocumented code %s", code->valuestring);
		cr_assert_eq(cls->valueint, doc.cls[at], "%s: class %d, documented %d",
			     code->valuestring, cls->valueint, doc.cls[at]);
		cr_assert_not_null(cJSON_GetObjectItem(j, "device"), "device context missing");
		if (doc.cls[at] == 1007) {
			cJSON *proc = cJSON_GetObjectItem(j, "process");
			cJSON *actor = cJSON_GetObjectItem(j, "actor");

			cr_assert_not_null(proc);
			cr_assert_str_eq(cJSON_GetObjectItem(proc, "name")->valuestring, "agent",
					 "%s keeps the process name", code->valuestring);
			cr_assert_not_null(cJSON_GetObjectItem(proc, "pid"));
			cr_assert_not_null(cJSON_GetObjectItem(actor, "process"));
		}
		seen[at]++;
		cJSON_Delete(j);
	}
	fclose(f);
	for (int i = 0; i < doc.n; i++)
		cr_assert_geq(seen[i], 1, "site %s never fired", doc.name[i]);

	snprintf(path, sizeof(path), "%s/openshell.log", dir);
	shorthand = slurp(path);
	cr_assert(
	    strstr(shorthand, " OCSF CONFIG:UPDATED [INFO] sandbox config revision 2 applied"),
	    "%s", shorthand);
	cr_assert(strstr(shorthand, " OCSF PROC:TERMINATE [INFO] agent(4242) [exit:143]"), "%s",
		  shorthand);
	cr_assert(strstr(shorthand, " OCSF CONFIG:DEGRADED [MED] gateway 127.0.0.1:1 unreachable"),
		  "%s", shorthand);
	free(shorthand);
	unlink(path);
	snprintf(path, sizeof(path), "%s/openshell-ocsf.log", dir);
	unlink(path);
	cr_assert_eq(rmdir(dir), 0, "unexpected files left in %s", dir);
}
