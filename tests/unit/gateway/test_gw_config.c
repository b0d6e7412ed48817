/* test_gw_config.c - gateway config: booleans, precedence matrix, YAML errors with
 * lines, atomic SetConfig edits, revision behaviour, reload triggers.
 * DESIGN: every test works in its own mkdtemp dir with a real SQLite store and real
 * files; Criterion forks each test, so setenv stays local to the test. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osh_parse.h"
#include "cfgstate.h"
#include "config.h"
#include "gw_test_util.h"
#include "gwlog.h"
#include "store.h"

#define KEY "ocsf_logging_enabled"
#define K   OSH_GW_KEY_OCSF_LOGGING_ENABLED

Test(gw_config, booleans)
{
	const char *yes[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1", "y"};
	const char *no[] = {"false", "False", "no", "NO", "off", "Off", "0", "N"};
	const char *bad[] = {"", "2", "tru", "yy", " true", "enabled", "-1"};
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		cr_assert_eq(osh_parse_bool(yes[i], &b), 0, "%s", yes[i]);
		cr_assert(b, "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		cr_assert_eq(osh_parse_bool(no[i], &b), 0, "%s", no[i]);
		cr_assert(!b, "%s", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(osh_parse_bool(bad[i], &b), OSH_EPARSE, "'%s'", bad[i]);
}

/* All 2^3 presence combinations x 2^3 values: the winner is the first set source
 * in the order YAML > flag > env, else the default false. */
Test(gw_config, precedence_matrix)
{
	char *dir = gwt_tmpdir();
	char *yp = gwt_path(dir, "gw.yaml");
	char err[256];
	int cases = 0;

	for (int present = 0; present < 8; present++) {
		for (int vals = 0; vals < 8; vals++) {
			bool has_y = present & 1, has_f = present & 2, has_e = present & 4;
			bool vy = vals & 1, vf = (vals & 2) != 0, ve = (vals & 4) != 0;
			struct osh_gw_layer y, f, e;
			struct osh_gw_config c;
			bool want = false;
			enum osh_gw_src wsrc = OSH_GW_SRC_DEFAULT;
			char text[64];

			snprintf(text, sizeof(text), has_y ? KEY ": %s\n" : "# nothing\n",
				 vy ? "yes" : "off");
			cr_assert_eq(gwt_write(yp, text), 0);
			cr_assert_eq(osh_gw_layer_from_yaml_file(&y, yp, err, sizeof(err)), 0, "%s",
				     err);
			osh_gw_layer_init(&f);
			if (has_f)
				cr_assert_eq(osh_gw_layer_set(&f, KEY, vf ? "true" : "false",
							      "flag --ocsf-logging", err,
							      sizeof(err)),
					     0);
			if (has_e)
				setenv("OPENSHELL_OCSF_LOGGING", ve ? "1" : "0", 1);
			else
				unsetenv("OPENSHELL_OCSF_LOGGING");
			osh_gw_layer_init(&e);
			cr_assert_eq(osh_gw_layer_from_env(&e, err, sizeof(err)), 0);
			osh_gw_config_resolve(&c, &y, &f, &e);
			if (has_y) {
				want = vy;
				wsrc = OSH_GW_SRC_YAML;
			} else if (has_f) {
				want = vf;
				wsrc = OSH_GW_SRC_FLAG;
			} else if (has_e) {
				want = ve;
				wsrc = OSH_GW_SRC_ENV;
			}
			cr_assert_eq(c.v.ocsf_logging_enabled, want, "present=%d vals=%d", present,
				     vals);
			cr_assert_eq(c.src[K], wsrc, "present=%d vals=%d: source %s", present, vals,
				     osh_gw_src_name(c.src[K]));
			cases++;
		}
	}
	cr_assert_eq(cases, 64);
	free(yp);
	gwt_rmdir(dir);
}

Test(gw_config, default_is_false)
{
	struct osh_gw_config c;
	char snap[128];

	osh_gw_config_resolve(&c, NULL, NULL, NULL);
	cr_assert(!c.v.ocsf_logging_enabled);
	cr_assert_eq(c.src[K], OSH_GW_SRC_DEFAULT);
	cr_assert_eq(osh_gw_config_snapshot(&c, snap, sizeof(snap)), 0);
	cr_assert_str_eq(snap, "ocsf_logging_enabled=false\nocsf_schema_version=1.7.0\n");
}

Test(gw_config, ocsf_schema_version_values_and_errors)
{
	static const char *const ok[] = {"1.1.0", "1.3.0", "1.5.0", "1.7.0"};
	static const char *const bad[] = {"1.2.0", "", "1.7", "v1.1.0", "1.1.0 "};
	static const char y_bad[] = "ocsf_logging_enabled: on\nocsf_schema_version: 1.0.0\n";
	static const char y_ok[] = "ocsf_schema_version: \"1.3.0\"\n";
	struct osh_gw_layer l;
	struct osh_gw_config c;
	char err[256], val[16];

	for (int i = 0; i < 4; i++) {
		osh_gw_layer_init(&l);
		cr_assert_eq(
		    osh_gw_layer_set(&l, "ocsf_schema_version", ok[i], "flag x", err, sizeof(err)),
		    0, "%s", err);
		osh_gw_config_resolve(&c, NULL, &l, NULL);
		cr_assert_eq(c.v.ocsf_schema_version, i);
		cr_assert_eq(c.src[OSH_GW_KEY_OCSF_SCHEMA_VERSION], OSH_GW_SRC_FLAG);
		cr_assert_eq(
		    osh_gw_value_text(&c.v, OSH_GW_KEY_OCSF_SCHEMA_VERSION, val, sizeof(val)), 0);
		cr_assert_str_eq(val, ok[i]);
	}
	for (int i = 0; i < 5; i++) {
		osh_gw_layer_init(&l);
		cr_assert_eq(
		    osh_gw_layer_set(&l, "ocsf_schema_version", bad[i], "flag x", err, sizeof(err)),
		    OSH_EPARSE);
		cr_assert(!l.set[OSH_GW_KEY_OCSF_SCHEMA_VERSION]);
		cr_assert_not_null(strstr(err, "accepted: 1.1.0, 1.3.0, 1.5.0, 1.7.0"), "%s", err);
	}
	/* YAML: file:line:key, and the value's text */
	osh_gw_layer_init(&l);
	cr_assert_eq(
	    osh_gw_layer_from_yaml_text(&l, "gw.yaml", y_bad, strlen(y_bad), err, sizeof(err)),
	    OSH_EPARSE);
	cr_assert_not_null(strstr(err, "gw.yaml:2:ocsf_schema_version: invalid OCSF version "
				       "'1.0.0'"),
			   "%s", err);
	osh_gw_layer_init(&l);
	cr_assert_eq(
	    osh_gw_layer_from_yaml_text(&l, "gw.yaml", y_ok, strlen(y_ok), err, sizeof(err)), 0,
	    "%s", err);
	osh_gw_config_resolve(&c, &l, NULL, NULL);
	cr_assert_eq(c.v.ocsf_schema_version, 1);
	cr_assert_eq(c.src[OSH_GW_KEY_OCSF_SCHEMA_VERSION], OSH_GW_SRC_YAML);
}

Test(gw_config, env_and_flag_errors_name_their_source)
{
	struct osh_gw_layer l;
	char err[256];

	osh_gw_layer_init(&l);
	setenv("OPENSHELL_OCSF_LOGGING", "maybe", 1);
	cr_assert_eq(osh_gw_layer_from_env(&l, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "env OPENSHELL_OCSF_LOGGING") != NULL, "%s", err);
	cr_assert(strstr(err, "maybe") != NULL, "%s", err);
	cr_assert(!l.set[K]);

	cr_assert_eq(osh_gw_layer_set(&l, KEY, "2", "flag --ocsf-logging", err, sizeof(err)),
		     OSH_EPARSE);
	cr_assert(strstr(err, "flag --ocsf-logging") != NULL, "%s", err);
	cr_assert_eq(osh_gw_layer_set(&l, "nope", "1", "flag --x", err, sizeof(err)),
		     OSH_ENOTFOUND);
	cr_assert(strstr(err, "nope") != NULL, "%s", err);

	/* an empty variable counts as unset */
	setenv("OPENSHELL_OCSF_LOGGING", "", 1);
	cr_assert_eq(osh_gw_layer_from_env(&l, err, sizeof(err)), 0);
	cr_assert(!l.set[K]);
}

static void expect_yaml_error(const char *text, const char *want)
{
	struct osh_gw_layer l;
	char err[256] = "";
	int rc = osh_gw_layer_from_yaml_text(&l, "cfg.yaml", text, strlen(text), err, sizeof(err));

	cr_assert_neq(rc, 0, "accepted: %s", text);
	cr_assert(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

Test(gw_config, yaml_errors_have_file_line_key)
{
	expect_yaml_error("# c\n" KEY ": true\nbogus_key: 1\n", "cfg.yaml:3:bogus_key: unknown");
	expect_yaml_error("\n\n" KEY ": maybe\n", "cfg.yaml:3:" KEY ": invalid boolean 'maybe'");
	expect_yaml_error(KEY ": true\n" KEY ": false\n", "cfg.yaml:2:" KEY ": duplicate key");
	expect_yaml_error(KEY ":\n  nested: 1\n", "cfg.yaml:2:" KEY ": value must be a scalar");
	expect_yaml_error(KEY ": [1, 2]\n",
			  "cfg.yaml:1:" KEY ": value must be a scalar, not a list");
	expect_yaml_error("- a\n- b\n", "cfg.yaml:1: top level must be a mapping");
	expect_yaml_error("just text\n", "cfg.yaml:1: top level must be a mapping");
	expect_yaml_error(KEY ": true\n- item\n", "cfg.yaml:2: YAML syntax error");
	expect_yaml_error(KEY ": \"\"\n", "cfg.yaml:1:" KEY ": empty value");
	expect_yaml_error("a: &x 1\n" KEY ": *x\n", "cfg.yaml:1:a: unknown");
}

Test(gw_config, yaml_accepts_empty_and_comments_and_quotes)
{
	const char *ok[] = {"",	   "# only a comment\n", "---\n",
			    "~\n", KEY ": \"on\"\n",	 "---\n" KEY ": 'OFF' # trailing\n...\n"};
	struct osh_gw_layer l;
	char err[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(osh_gw_layer_from_yaml_text(&l, "c.yaml", ok[i], strlen(ok[i]), err,
							 sizeof(err)),
			     0, "'%s': %s", ok[i], err);
	cr_assert(l.set[K]);
	cr_assert(!l.v.ocsf_logging_enabled);
	cr_assert_eq(l.line[K], 2);
}

Test(gw_config, yaml_set_edits_in_place_atomically)
{
	char *dir = gwt_tmpdir();
	char *yp = gwt_path(dir, "gateway.yaml");
	char err[256];
	bool changed = false;
	char *text;

	/* missing file: created */
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, "yes", &changed, err, sizeof(err)), 0, "%s", err);
	cr_assert(changed);
	text = gwt_read(yp);
	cr_assert_str_eq(text, KEY ": true\n");
	free(text);

	/* comments and layout preserved, value replaced in place */
	cr_assert_eq(gwt_write(yp, "# operator notes\n" KEY ": true   # keep me\n# end\n"), 0);
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, "OFF", &changed, err, sizeof(err)), 0, "%s", err);
	cr_assert(changed);
	text = gwt_read(yp);
	cr_assert_str_eq(text, "# operator notes\n" KEY ": false   # keep me\n# end\n");
	free(text);

	/* same value: nothing written */
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, "0", &changed, err, sizeof(err)), 0);
	cr_assert(!changed);

	/* unset removes the key's line only */
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, NULL, &changed, err, sizeof(err)), 0, "%s", err);
	cr_assert(changed);
	text = gwt_read(yp);
	cr_assert_str_eq(text, "# operator notes\n# end\n");
	free(text);

	/* append when absent; no temp file left behind */
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, "on", &changed, err, sizeof(err)), 0);
	text = gwt_read(yp);
	cr_assert_str_eq(text, "# operator notes\n# end\n" KEY ": true\n");
	free(text);
	cr_assert_eq(gwt_count_entries(dir), 1);

	free(yp);
	gwt_rmdir(dir);
}

Test(gw_config, yaml_set_refuses_bad_value_and_bad_file)
{
	char *dir = gwt_tmpdir();
	char *yp = gwt_path(dir, "gateway.yaml");
	const char *broken = KEY ": true\nunknown_thing: 3\n";
	char err[256];
	char *text;

	cr_assert_eq(gwt_write(yp, KEY ": true\n"), 0);
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, "perhaps", NULL, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "perhaps") != NULL, "%s", err);
	cr_assert_eq(osh_gw_yaml_set(yp, "no_such_key", "1", NULL, err, sizeof(err)),
		     OSH_ENOTFOUND);
	text = gwt_read(yp);
	cr_assert_str_eq(text, KEY ": true\n");
	free(text);

	cr_assert_eq(gwt_write(yp, broken), 0);
	cr_assert_eq(osh_gw_yaml_set(yp, KEY, "false", NULL, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "gateway.yaml:2:unknown_thing") != NULL, "%s", err);
	text = gwt_read(yp);
	cr_assert_str_eq(text, broken);
	free(text);
	cr_assert_eq(gwt_count_entries(dir), 1);
	free(yp);
	gwt_rmdir(dir);
}

/* ---- revision ---- */

struct rig {
	char *dir, *yaml, *db;
	struct osh_gw_store *st;
	struct osh_gw_cfgstate *cs;
};

static void rig_open_store(struct rig *r)
{
	char err[256];

	cr_assert_eq(osh_gw_store_create(&r->st, r->db, NULL, err, sizeof(err)), 0, "%s", err);
}

static int rig_open_cfg(struct rig *r, const struct osh_gw_layer *flag, bool watch)
{
	struct osh_gw_cfgstate_opts o = {
	    .yaml_path = r->yaml, .flag = flag, .store = r->st, .watch = watch};
	struct osh_gw_layer env;
	char err[256];

	osh_gw_layer_init(&env);
	cr_assert_eq(osh_gw_layer_from_env(&env, err, sizeof(err)), 0);
	o.env = &env;
	return osh_gw_cfgstate_create(&r->cs, &o, err, sizeof(err));
}

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	unsetenv("OPENSHELL_OCSF_LOGGING");
	r->dir = gwt_tmpdir();
	r->yaml = gwt_path(r->dir, "gateway.yaml");
	r->db = gwt_path(r->dir, "gateway.db");
	rig_open_store(r);
}

static void rig_close(struct rig *r)
{
	osh_gw_cfgstate_destroy(r->cs);
	osh_gw_store_destroy(r->st);
	r->cs = NULL;
	r->st = NULL;
}

static void rig_fini(struct rig *r)
{
	rig_close(r);
	free(r->yaml);
	free(r->db);
	gwt_rmdir(r->dir);
}

static uint64_t rev_of(struct rig *r, bool *val)
{
	struct osh_gw_config c;
	uint64_t rev = 0;

	osh_gw_cfgstate_get(r->cs, &c, &rev);
	if (val)
		*val = c.v.ocsf_logging_enabled;
	return rev;
}

Test(gw_revision, starts_at_one_and_bumps_only_on_effective_change)
{
	struct rig r;
	char err[256];
	bool changed = true, v = true;

	rig_init(&r);
	cr_assert_eq(rig_open_cfg(&r, NULL, false), 0);
	cr_assert_eq(rev_of(&r, &v), 1);
	cr_assert(!v);

	cr_assert_eq(osh_gw_cfgstate_reload(r.cs, &changed, err, sizeof(err)), 0);
	cr_assert(!changed);
	cr_assert_eq(rev_of(&r, NULL), 1);

	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "true", &changed, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert(changed);
	cr_assert_eq(rev_of(&r, &v), 2);
	cr_assert(v);

	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "yes", &changed, err, sizeof(err)), 0);
	cr_assert(!changed);
	cr_assert_eq(rev_of(&r, NULL), 2);

	/* a comment-only edit is not an effective change */
	cr_assert_eq(gwt_write(r.yaml, "# hello\n" KEY ": on\n"), 0);
	cr_assert_eq(osh_gw_cfgstate_reload(r.cs, &changed, err, sizeof(err)), 0);
	cr_assert(!changed);
	cr_assert_eq(rev_of(&r, NULL), 2);

	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "false", &changed, err, sizeof(err)), 0);
	cr_assert(changed);
	cr_assert_eq(rev_of(&r, &v), 3);
	cr_assert(!v);
	rig_fini(&r);
}

Test(gw_revision, source_change_without_value_change_keeps_revision)
{
	struct rig r;
	struct osh_gw_layer flag;
	struct osh_gw_config c;
	char err[256];
	bool changed = true;

	rig_init(&r);
	osh_gw_layer_init(&flag);
	cr_assert_eq(osh_gw_layer_set(&flag, KEY, "true", "flag", err, sizeof(err)), 0);
	cr_assert_eq(rig_open_cfg(&r, &flag, false), 0);
	osh_gw_cfgstate_get(r.cs, &c, NULL);
	cr_assert_eq(c.src[K], OSH_GW_SRC_FLAG);
	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "true", &changed, err, sizeof(err)), 0);
	cr_assert(!changed);
	osh_gw_cfgstate_get(r.cs, &c, NULL);
	cr_assert_eq(c.src[K], OSH_GW_SRC_SHARED);
	cr_assert_eq(rev_of(&r, NULL), 1);
	/* removing the shared value falls back to the flag: same value again */
	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, NULL, &changed, err, sizeof(err)), 0);
	cr_assert(!changed);
	osh_gw_cfgstate_get(r.cs, &c, NULL);
	cr_assert_eq(c.src[K], OSH_GW_SRC_FLAG);
	cr_assert_eq(rev_of(&r, NULL), 1);
	rig_fini(&r);
}

Test(gw_revision, invalid_reload_keeps_config_and_revision)
{
	struct rig r;
	char err[256] = "";
	bool changed = true, v = false;

	rig_init(&r);
	cr_assert_eq(gwt_write(r.yaml, KEY ": true\n"), 0);
	cr_assert_eq(rig_open_cfg(&r, NULL, false), 0);
	cr_assert_eq(rev_of(&r, &v), 1);
	cr_assert(v);
	cr_assert_eq(gwt_write(r.yaml, KEY ": false\ntypo_key: yes\n"), 0);
	cr_assert_eq(osh_gw_cfgstate_reload(r.cs, &changed, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "gateway.yaml:2:typo_key") != NULL, "%s", err);
	cr_assert(!changed);
	cr_assert_eq(rev_of(&r, &v), 1);
	cr_assert(v, "the old config stays in force");
	rig_fini(&r);
}

Test(gw_revision, survives_restart_and_never_goes_backwards)
{
	struct rig r;
	struct osh_gw_layer flag;
	char err[256];
	bool changed;

	rig_init(&r);
	cr_assert_eq(rig_open_cfg(&r, NULL, false), 0);
	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "on", &changed, err, sizeof(err)), 0);
	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "off", &changed, err, sizeof(err)), 0);
	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, "on", &changed, err, sizeof(err)), 0);
	cr_assert_eq(rev_of(&r, NULL), 4);

	/* same resolved config after restart: same revision */
	rig_close(&r);
	rig_open_store(&r);
	cr_assert_eq(rig_open_cfg(&r, NULL, false), 0);
	cr_assert_eq(rev_of(&r, NULL), 4);

	/* the value set is in the store, on top of a flag given at restart */
	rig_close(&r);
	cr_assert(access(r.yaml, F_OK) != 0, "SetConfig wrote the YAML file");
	rig_open_store(&r);
	osh_gw_layer_init(&flag);
	cr_assert_eq(osh_gw_layer_set(&flag, KEY, "false", "flag", err, sizeof(err)), 0);
	cr_assert_eq(rig_open_cfg(&r, &flag, false), 0);
	cr_assert_eq(rev_of(&r, NULL), 4);
	/* removed: the flag's false applies, a new revision */
	cr_assert_eq(osh_gw_cfgstate_set(r.cs, KEY, NULL, &changed, err, sizeof(err)), 0);
	cr_assert(changed);
	cr_assert_eq(rev_of(&r, NULL), 5);

	/* restart with a different resolved config (flag true): bump */
	rig_close(&r);
	rig_open_store(&r);
	osh_gw_layer_init(&flag);
	cr_assert_eq(osh_gw_layer_set(&flag, KEY, "true", "flag", err, sizeof(err)), 0);
	cr_assert_eq(rig_open_cfg(&r, &flag, false), 0);
	cr_assert_eq(rev_of(&r, NULL), 6);

	/* and back to false (the default) without a flag: bump again */
	rig_close(&r);
	rig_open_store(&r);
	cr_assert_eq(rig_open_cfg(&r, NULL, false), 0);
	cr_assert_eq(rev_of(&r, NULL), 7);

	/* and again the same: stays */
	rig_close(&r);
	rig_open_store(&r);
	cr_assert_eq(rig_open_cfg(&r, NULL, false), 0);
	cr_assert_eq(rev_of(&r, NULL), 7);
	rig_fini(&r);
}

Test(gw_revision, start_fails_on_invalid_file_or_missing_required_file)
{
	struct rig r;
	struct osh_gw_cfgstate_opts o;
	char err[256] = "";

	rig_init(&r);
	memset(&o, 0, sizeof(o));
	o.yaml_path = r.yaml;
	o.yaml_required = true;
	o.store = r.st;
	cr_assert_eq(osh_gw_cfgstate_create(&r.cs, &o, err, sizeof(err)), OSH_ENOTFOUND);
	cr_assert(strstr(err, "gateway.yaml") != NULL, "%s", err);
	cr_assert_eq(gwt_write(r.yaml, "\n" KEY ": sometimes\n"), 0);
	cr_assert_eq(osh_gw_cfgstate_create(&r.cs, &o, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "gateway.yaml:2:" KEY) != NULL, "%s", err);
	cr_assert_null(r.cs);
	rig_fini(&r);
}

/* Polls the watch until a reload reports a change or the deadline passes. */
static bool wait_reload(struct rig *r, long long ms)
{
	long long end = gwt_now_ms() + ms;
	char err[256];

	while (gwt_now_ms() < end) {
		bool reloaded = false, changed = false;

		if (osh_gw_cfgstate_poll(r->cs, &reloaded, &changed, err, sizeof(err)) != 0)
			cr_log_warn("reload failed: %s", err);
		if (changed)
			return true;
		gwt_nap();
	}
	return false;
}

Test(gw_revision, inotify_sees_in_place_write_and_atomic_rename, .timeout = 60)
{
	struct rig r;
	char err[256];
	bool v = false, reloaded = true, changed = true;

	rig_init(&r);
	cr_assert_eq(rig_open_cfg(&r, NULL, true), 0);
	cr_assert_geq(osh_gw_cfgstate_watch_fd(r.cs), 0);

	cr_assert_eq(gwt_write(r.yaml, KEY ": true\n"), 0);
	cr_assert(wait_reload(&r, 5000), "in-place write not seen");
	cr_assert_eq(rev_of(&r, &v), 2);
	cr_assert(v);

	cr_assert_eq(gwt_write_rename(r.yaml, KEY ": false\n"), 0);
	cr_assert(wait_reload(&r, 5000), "atomic replacement not seen");
	cr_assert_eq(rev_of(&r, &v), 3);
	cr_assert(!v);

	/* an unrelated file in the directory triggers nothing */
	{
		char *other = gwt_path(r.dir, "other.txt");

		cr_assert_eq(gwt_write(other, KEY ": true\n"), 0);
		free(other);
	}
	cr_assert_eq(osh_gw_cfgstate_poll(r.cs, &reloaded, &changed, err, sizeof(err)), 0);
	cr_assert(!changed);
	cr_assert_eq(rev_of(&r, NULL), 3);
	rig_fini(&r);
}

/* A reader racing SetConfig edits sees the old or the new file, never a torn or
 * empty one: every read parses and sets the key. */
struct race {
	const char *path;
	atomic_bool stop;
	int reads;
	int bad;
	char why[512];
};

static void *race_reader(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		struct osh_gw_layer l;
		char err[256];
		int rc = osh_gw_layer_from_yaml_file(&l, r->path, err, sizeof(err));

		r->reads++;
		if (rc != 0 || !l.set[K]) {
			if (r->bad++ == 0)
				snprintf(r->why, sizeof(r->why), "rc %d: %s", rc, err);
		}
	}
	return NULL;
}

Test(gw_config, yaml_set_is_atomic_for_concurrent_readers, .timeout = 60)
{
	char *dir = gwt_tmpdir();
	char *yp = gwt_path(dir, "gateway.yaml");
	struct race r = {.path = yp};
	pthread_t th;
	char err[256];

	/* a long file, so a torn write would be visible */
	{
		char *big = malloc(64 * 1024);
		size_t n = 0;

		for (int i = 0; i < 1000; i++)
			n += (size_t)snprintf(big + n, 64 * 1024 - n, "# padding line %d\n", i);
		snprintf(big + n, 64 * 1024 - n, KEY ": false\n");
		cr_assert_eq(gwt_write(yp, big), 0);
		free(big);
	}
	cr_assert_eq(pthread_create(&th, NULL, race_reader, &r), 0);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(
		    osh_gw_yaml_set(yp, KEY, (i & 1) ? "false" : "true", NULL, err, sizeof(err)), 0,
		    "%s", err);
	atomic_store(&r.stop, true);
	pthread_join(th, NULL);
	cr_assert_gt(r.reads, 0);
	cr_assert_eq(r.bad, 0, "%d of %d reads saw a broken file: %s", r.bad, r.reads, r.why);
	cr_assert_eq(gwt_count_entries(dir), 1, "temp files left behind");
	free(yp);
	gwt_rmdir(dir);
}

/* finding 7 of docs/security.md: the gateway's stderr log escapes client text
 * (CWE-117) with the emit escaper's rules. */
Test(gw_log, escape_rules)
{
	char out[256];
	const char in[] = "a\nFAKE\r\t\x1b[31m\\ \xc2\x9b \xe2\x80\xae \xff caf\xc3\xa9";
	size_t n = osh_gw_log_escape(out, sizeof(out), in, sizeof(in) - 1);

	cr_assert_str_eq(out, "a\\nFAKE\\r\\t\\x1b[31m\\\\ \\u{009b} \\u{202e} \\xff caf\xc3\xa9");
	cr_assert_eq(n, strlen(out));
	/* A small buffer stops before an escape that does not fit. */
	n = osh_gw_log_escape(out, 4, "ab\x01", 3);
	cr_assert_str_eq(out, "ab");
	cr_assert_eq(n, 2);
}

Test(gw_log, line_on_stderr_is_escaped)
{
	char *dir = gwt_tmpdir(), *path = gwt_path(dir, "stderr"), got[512];
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;
	size_t n;

	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
	osh_gw_log(OSH_GW_LOG_ERROR, "sandbox %s: cannot create %s", "demo",
		   "/x\n2026-01-01T00:00:00.000Z INFO  openshell-gateway: forged\xe2\x80\xae");
	f = fdopen(fd, "r");
	cr_assert_not_null(f);
	rewind(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	free(path);
	gwt_rmdir(dir);
	cr_assert_eq(strchr(got, '\n'), got + n - 1, "exactly one line: %s", got);
	cr_assert(strstr(got, "ERROR openshell-gateway: sandbox demo: cannot create /x\\n2026-"),
		  "%s", got);
	cr_assert(strstr(got, "forged\\u{202e}\n"), "%s", got);
}
