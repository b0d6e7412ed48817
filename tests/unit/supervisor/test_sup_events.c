/* test_sup_events.c - every supervisor log site fires, with its registered code.
 *
 * DESIGN: the registry (generated osh_sites[] from schema/sites.yaml), the
 * sources and the emitted JSONL must agree. The sources of src/supervisor
 * and src/emit (every .c file, subsystem folders included) start events only
 * through osh_site_init_<code>(), and the set of sites they start equals the
 * registry's rows for supervisor/... and emit.
 * Then every osh_sup_ev_* function runs once against the real emit runtime
 * with JSONL on; the JSONL file must hold one parseable event per registered
 * supervisor code with the registered class, activity and default severity,
 * and openshell.log the matching shorthand lines. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <cjson/cJSON.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osh_emit.h"
#include "osh_testdir.h"
#include "confine_sites.h"
#include "push_sites.h"
#include "osh_sites.h"
#include "sup_events.h"

#ifndef OSH_SOURCE_DIR
#error "OSH_SOURCE_DIR must point at the source tree"
#endif

#define MAXC 128

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

/* Sites in the registry (schema/sites.yaml, generated table osh_sites[])
 * whose subsystem starts with `prefix`. */
static void registry_codes(const char *prefix, struct codes *c)
{
	for (int i = 0; i < OSH_SITE_COUNT; i++) {
		if (strncmp(osh_sites[i].subsystem, prefix, strlen(prefix)) != 0)
			continue;
		cr_assert_lt(c->n, MAXC);
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", osh_sites[i].code);
		c->cls[c->n] = osh_sites[i].class_uid;
		c->n++;
	}
}

/* Site inits used in the sources: every "osh_site_init_<code>" (a call or
 * a function pointer) in the
 * .c files under src/<dir> (recursive: subsystem folders), upper-cased. A
 * direct "ocsf_<class>_init(" / "_init_at(" there would start an event
 * without the registry, so it fails the test. */
static struct codes *walk_into;

static void scan_file(const char *path)
{
	char *src = slurp(path);
	regex_t re, raw;
	regmatch_t m[2];
	const char *p = src;

	cr_assert_eq(regcomp(&re, "osh_site_init_([a-z0-9_]+)[^a-z0-9_]", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&raw, "ocsf_[a-z_]+_init(_at)?\\(", REG_EXTENDED), 0);
	cr_assert_neq(regexec(&raw, src, 0, NULL, 0), 0,
		      "%s starts an event without its registered site init", path);
	while (regexec(&re, p, 2, m, 0) == 0) {
		char name[48];
		size_t n = 0;

		for (regoff_t i = m[1].rm_so; i < m[1].rm_eo && n < sizeof(name) - 1; i++)
			name[n++] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
		name[n] = '\0';
		if (find(walk_into, name) < 0) {
			cr_assert_lt(walk_into->n, MAXC);
			snprintf(walk_into->name[walk_into->n++], sizeof(walk_into->name[0]), "%s",
				 name);
		}
		p += m[0].rm_eo;
	}
	regfree(&re);
	regfree(&raw);
	free(src);
}

static int scan_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)st;
	(void)ftw;
	if (flag == FTW_F && n > 2 && strcmp(path + n - 2, ".c") == 0)
		scan_file(path);
	return 0;
}

static void source_codes(const char *dir, struct codes *c)
{
	walk_into = c;
	cr_assert_eq(nftw(dir, scan_entry, 8, FTW_PHYS), 0, "cannot walk %s", dir);
}

/* Registry rows of `prefix` and the sources of `dir` name the same sites. */
static void same_sites(const char *prefix, const char *dir)
{
	struct codes reg = {0}, src = {0};

	registry_codes(prefix, &reg);
	source_codes(dir, &src);
	cr_assert_gt(reg.n, 0, "the registry lists no %s site", prefix);
	for (int i = 0; i < src.n; i++)
		cr_assert_geq(find(&reg, src.name[i]), 0, "%s (in %s) is not a %s site",
			      src.name[i], dir, prefix);
	for (int i = 0; i < reg.n; i++)
		cr_assert_geq(find(&src, reg.name[i]), 0, "%s is registered but %s never starts it",
			      reg.name[i], dir);
}

/* The confinement subsystem's sites (src/supervisor/confine/confine_sites.h). */
static void fire_confine(void)
{
	struct osh_confine_summary sum = {.switch_ids = true,
					  .user = "openshell-sandbox",
					  .group = "openshell-sandbox",
					  .uid = 999,
					  .gid = 995,
					  .n_groups = 1,
					  .landlock = true,
					  .landlock_abi = 7,
					  .handled_fs = 0xffff,
					  .rules_ro = 11,
					  .rules_rw = 2,
					  .seccomp = true,
					  .seccomp_rules = 39,
					  .seccomp_insns = 75,
					  .seccomp_notify = true};
	struct osh_confine_note notes[] = {
	    {.kind = OSH_CONFINE_NOTE_USER_CREATED, .user = "openshell-sandbox", .uid = 999},
	    {.kind = OSH_CONFINE_NOTE_DIR_CREATED, .path = "/sandbox/work", .uid = 999},
	    {.kind = OSH_CONFINE_NOTE_PATH_SKIPPED,
	     .path = "/opt/x",
	     .detail = "does not exist",
	     .err_no = 2},
	    {.kind = OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE, .detail = "no Landlock", .err_no = 38},
	    {.kind = OSH_CONFINE_NOTE_LANDLOCK_WEAK, .detail = "no truncate", .abi = 2},
	};
	struct osh_confine_issue is = {.field = "filesystem.read_write[0]", .reason = "/etc"};
	struct osh_confine_denial d = {
	    .pid = 4243, .nr = 101, .syscall = "ptrace", .comm = "agent"};
	const char *names[] = {"API_KEY"};

	osh_confine_ev_user(&sum, 4242, "agent");
	osh_confine_ev_landlock(&sum, 4242);
	osh_confine_ev_seccomp(&sum, 4242);
	for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
		osh_confine_ev_note(&notes[i], "best_effort");
	osh_confine_ev_unsafe(&is, 1, 1, "file", "ab12", false);
	osh_confine_ev_failed("user: sandbox user not found: bob");
	osh_confine_ev_secrets(names, 1);
	osh_confine_ev_reload_deferred("filesystem");
	osh_confine_ev_denied(&d, 0);
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
	fire_confine();
	osh_sup_ev_start_failed("cannot build the command's environment");
	osh_sup_ev_stop(143, "supervisor received signal 15");
}

Test(events, every_documented_site_fires_as_a_valid_event)
{
	struct codes doc = {0};
	char *dir;
	char path[4096];
	struct osh_emit_config cfg;
	FILE *f;
	char line[65536];
	int seen[MAXC] = {0};
	char *shorthand;

	/* the core, push and confine sites; supervisor/net and supervisor/proxy
	 * fire theirs in their own tests (tests/unit/supervisor/net,
	 * tests/unit/proxy), every site in some test (site census). */
	registry_codes("supervisor/core", &doc);
	registry_codes("supervisor/push", &doc);
	registry_codes("supervisor/confine", &doc);
	cr_assert_geq(doc.n, 20, "the registry lists the supervisor sites");

	dir = osh_testdir_new("ev");
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
		const struct osh_site_info *site;
		int at;

		cr_assert_not_null(j, "not JSON: %s", line);
		md = cJSON_GetObjectItem(j, "metadata");
		code = md ? cJSON_GetObjectItem(md, "event_code") : NULL;
		cls = cJSON_GetObjectItem(j, "class_uid");
		cr_assert(cJSON_IsString(code), "no metadata.event_code: %s", line);
		at = find(&doc, code->valuestring);
		cr_assert_geq(at, 0, "unregistered code %s", code->valuestring);
		cr_assert_eq(cls->valueint, doc.cls[at], "%s: class %d, registered %d",
			     code->valuestring, cls->valueint, doc.cls[at]);
		site = osh_site_by_code(code->valuestring);
		cr_assert_not_null(site);
		if (site->activity_id >= 0)
			cr_assert_eq(
			    cJSON_GetObjectItem(j, "activity_id")->valueint, site->activity_id,
			    "%s: activity %d, registered %d", code->valuestring,
			    cJSON_GetObjectItem(j, "activity_id")->valueint, site->activity_id);
		cr_assert_eq(cJSON_GetObjectItem(j, "severity_id")->valueint, site->severity_id,
			     "%s: severity %d, registered default %d", code->valuestring,
			     cJSON_GetObjectItem(j, "severity_id")->valueint, site->severity_id);
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
	/* Every line against the generated schema (ocsf-validate), archived
	 * for the site census, directory removed. */
	osh_testdir_finish(dir);
}

Test(events, registry_and_sources_name_the_same_sites)
{
	same_sites("supervisor/", OSH_SOURCE_DIR "/src/supervisor");
	same_sites("emit", OSH_SOURCE_DIR "/src/emit");
}

Test(events, lookup_by_code)
{
	const struct osh_site_info *s = osh_site_by_code("PROC_LAUNCH");

	cr_assert_not_null(s);
	cr_assert_eq(s, &osh_sites[OSH_SITE_PROC_LAUNCH]);
	cr_assert_eq(s->class_uid, 1007);
	for (int i = 0; i < OSH_SITE_COUNT; i++)
		cr_assert_eq(osh_site_by_code(osh_sites[i].code), &osh_sites[i], "%s",
			     osh_sites[i].code);
	cr_assert_null(osh_site_by_code("NO_SUCH_SITE"));
	cr_assert_null(osh_site_by_code(""));
	cr_assert_null(osh_site_by_code(NULL));
}
