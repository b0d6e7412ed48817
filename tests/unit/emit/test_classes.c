/* test_classes.c - class-generic emission: one event of every generated class
 * through the real runtime (files, enrichment, shorthand, JSONL checked by
 * tools/ocsf-validate), an event of a class the runtime was not generated
 * for (emitted, not dropped), and the generic shorthand grammar.
 *
 * DESIGN: the events come from the descriptor-driven minimal sample builder
 * (ocsf_sample.h), so the test needs no per-class code and covers a class
 * added to schema/ocsf.yaml without edits. Criterion forks every test; each
 * owns the process-wide runtime and a fresh mkdtemp dir. Waiting is
 * osh_emit_flush() (a condition), never a sleep. The dirs are not from
 * tests/support/osh_testdir on purpose: these events carry no registered
 * event code (the site census would refuse them) and the unknown class's
 * JSON is outside the schema by design; the every-class test runs
 * tools/ocsf-validate on its JSONL itself. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocsf.h"
#include "ocsf_gen.h"
#include "ocsf_sample.h"
#include "ocsf_shared.h"
#include "osh_emit.h"
#include "shorthand.h"

#ifndef OSH_SOURCE_DIR
#error "OSH_SOURCE_DIR must point at the source tree"
#endif

static char dir[1024];
static char path_main[1100], path_json[1100];

static void start(void)
{
	struct osh_emit_config cfg;
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/osh-classes-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path_main, sizeof(path_main), "%s/openshell.log", dir);
	snprintf(path_json, sizeof(path_json), "%s/openshell-ocsf.log", dir);
	osh_emit_config_default(&cfg);
	cfg.log_dir = dir;
	cfg.jsonl = true;
	cfg.stderr_enabled = false;
	cr_assert_eq(osh_ctx_set_sandbox("sb-1", "demo"), 0);
	cr_assert_eq(osh_ctx_set_hostname("host-1"), 0);
	cr_assert_eq(osh_ctx_set_product("openshell-test", "OpenShell", "0.1.0"), 0);
	cr_assert_eq(osh_emit_init(&cfg), 0);
}

static void stop_and_clean(void)
{
	unlink(path_main);
	unlink(path_json);
	cr_assert_eq(rmdir(dir), 0, "unexpected files left in %s", dir);
}

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
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* A zeroed, aligned block large enough for the class struct of `cls`. */
static struct ocsf_event *new_event(const struct ocsf_class *cls)
{
	size_t size = (cls->object->size + 63u) & ~(size_t)63u;
	struct ocsf_event *ev = aligned_alloc(64, size);

	cr_assert_not_null(ev);
	memset(ev, 0, size);
	ocsf_event_init(ev, cls->object->size, cls);
	return ev;
}

/* Shorthand token each generated class starts its line with. */
static const char *token_of(int32_t uid)
{
	switch (uid) {
	case OCSF_CLASS_UID_NETWORK_ACTIVITY:
		return "NET:";
	case OCSF_CLASS_UID_HTTP_ACTIVITY:
		return "HTTP:";
	case OCSF_CLASS_UID_SSH_ACTIVITY:
		return "SSH:";
	case OCSF_CLASS_UID_PROCESS_ACTIVITY:
		return "PROC:";
	case OCSF_CLASS_UID_DETECTION_FINDING:
		return "FINDING:";
	case OCSF_CLASS_UID_APPLICATION_LIFECYCLE:
		return "LIFECYCLE:";
	case OCSF_CLASS_UID_DEVICE_CONFIG_STATE_CHANGE:
		return "CONFIG:";
	case OCSF_CLASS_UID_BASE_EVENT:
		return "EVENT ";
	default:
		return NULL;
	}
}

Test(classes, one_event_of_every_generated_class_through_the_runtime)
{
	struct osh_emit_stats st;
	char cmd[1700], *text, *line, *save = NULL;
	int seen[OCSF_GEN_N_CLASSES] = {0};
	int rc;

	start();
	for (size_t i = 0; i < ocsf_all_classes_count; i++) {
		struct ocsf_event *ev = new_event(ocsf_all_classes[i]);

		cr_assert_eq(ocsf_sample_build(ev, OCSF_SAMPLE_MINIMAL, NULL, NULL), 0, "%s",
			     ocsf_all_classes[i]->class_name);
		cr_assert_eq(osh_emit_event(ev), 0, "%s refused", ocsf_all_classes[i]->class_name);
		free(ev);
	}
	cr_assert_eq(osh_emit_flush(5000), 0);
	osh_emit_stats_get(&st);
	cr_assert_eq(st.emitted, ocsf_all_classes_count);
	cr_assert_eq(st.emitted_while_enabled, ocsf_all_classes_count);
	cr_assert_eq(st.invalid, 0);
	osh_emit_shutdown();

	/* JSONL: one valid event per class, enriched (device, product). */
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tools/ocsf-validate %s >&2", OSH_SOURCE_DIR,
		 path_json);
	rc = system(cmd);
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "ocsf-validate rejected %s", path_json);
	text = slurp(path_json);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		int uid;
		size_t at = ocsf_all_classes_count;

		cr_assert_not_null(j, "not JSON: %s", line);
		uid = cJSON_GetObjectItem(j, "class_uid")->valueint;
		for (size_t i = 0; i < ocsf_all_classes_count; i++)
			if (ocsf_all_classes[i]->class_uid == uid)
				at = i;
		cr_assert_lt(at, ocsf_all_classes_count, "unexpected class %d", uid);
		seen[at]++;
		cr_assert_not_null(cJSON_GetObjectItem(j, "device"), "class %d not enriched", uid);
		cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "uid"),
				   "class %d has no metadata.uid", uid);
		cJSON_Delete(j);
	}
	free(text);
	for (size_t i = 0; i < ocsf_all_classes_count; i++)
		cr_assert_eq(seen[i], 1, "%s: %d JSON lines", ocsf_all_classes[i]->class_name,
			     seen[i]);

	/* Shorthand: every class's line, with the class's own token. */
	text = slurp(path_main);
	for (size_t i = 0; i < ocsf_all_classes_count; i++) {
		const char *tok = token_of(ocsf_all_classes[i]->class_uid);
		char needle[64];

		cr_assert_not_null(tok, "the test knows no token for %s",
				   ocsf_all_classes[i]->class_name);
		snprintf(needle, sizeof(needle), " OCSF %s", tok);
		cr_assert_not_null(strstr(text, needle), "no %s line in:\n%s", tok, text);
	}
	free(text);
	stop_and_clean();
}

Test(classes, event_of_an_unknown_class_is_emitted_not_dropped)
{
	/* A class descriptor this runtime was not generated for: the network
	 * layout under another uid and name (as a newer selection would add). */
	struct ocsf_class fake = ocsf_network_activity_class;
	struct ocsf_shared scratch;
	const struct ocsf_shared *sh;
	struct ocsf_network_activity ev;
	struct ocsf_process *p;
	struct ocsf_network_endpoint *dst;
	struct osh_emit_stats st;
	char *text;

	fake.class_uid = 4999;
	fake.class_name = "Fake Activity";
	sh = ocsf_shared_of(&fake, &scratch);
	cr_assert_eq(sh, &scratch, "an unknown descriptor is resolved by name");
	cr_assert_eq(sh->metadata.idx, OCSF_NETWORK_ACTIVITY_F_METADATA);
	cr_assert_eq(sh->device.idx, OCSF_NETWORK_ACTIVITY_F_DEVICE);
	cr_assert_eq(sh->dst_endpoint.idx, OCSF_NETWORK_ACTIVITY_F_DST_ENDPOINT);
	cr_assert_eq(sh->process.idx, -1);
	cr_assert_eq(sh->fail_activity, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_FAIL);

	start();
	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, NULL);
	ev.ev.cls = &fake;
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_DENIED);
	p = ocsf_actor_process(ocsf_network_activity_actor(&ev));
	ocsf_process_set_name(p, "curl");
	ocsf_process_set_pid(p, 7);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, "example.test");
	ocsf_network_endpoint_set_port(dst, 443);
	ocsf_network_activity_set_message(&ev, "fake class event");
	cr_assert_eq(osh_emit(&ev), 0);
	cr_assert_eq(osh_emit_flush(5000), 0);
	osh_emit_stats_get(&st);
	cr_assert_eq(st.emitted, 1);
	cr_assert_eq(st.invalid, 0);
	osh_emit_shutdown();

	text = slurp(path_main);
	cr_assert_not_null(strstr(text, " OCSF FAKE_ACTIVITY:OPEN [INFO] DENIED curl(7) -> "
					"example.test:443 [reason:fake class event]\n"),
			   "%s", text);
	free(text);
	text = slurp(path_json);
	cr_assert_not_null(strstr(text, "\"message\":\"fake class event\""), "%s", text);
	cr_assert_not_null(strstr(text, "\"hostname\":\"host-1\""), "device not enriched: %s",
			   text);
	free(text);
	stop_and_clean();
}

Test(classes, generic_grammar_is_readable)
{
	struct ocsf_process_activity ev;
	struct ocsf_process *p;
	char buf[1024];
	size_t n = 0;

	ocsf_process_activity_init(&ev, OCSF_PROCESS_ACTIVITY_ACTIVITY_ID_LAUNCH, "X");
	ocsf_process_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	p = ocsf_actor_process(ocsf_process_activity_actor(&ev));
	ocsf_process_set_name(p, "openshell-sandbox");
	ocsf_process_set_pid(p, 1);
	p = ocsf_process_activity_process(&ev);
	ocsf_process_set_name(p, "sh");
	ocsf_process_set_pid(p, 42);
	ocsf_firewall_rule_set_name(ocsf_process_activity_firewall_rule(&ev), "r1");
	cr_assert_eq(osh_emit_shorthand_generic(&ev.ev, buf, sizeof(buf), &n), 0);
	cr_assert_str_eq(buf,
			 "PROCESS_ACTIVITY:LAUNCH [INFO] ALLOWED openshell-sandbox(1) -> sh(42) "
			 "[policy:r1]");
	cr_assert_eq(n, strlen(buf));

	/* Nothing but a message: the message fallback carries the line. */
	ocsf_process_activity_init(&ev, OCSF_PROCESS_ACTIVITY_ACTIVITY_ID_OTHER, NULL);
	ocsf_process_activity_set_activity_name(&ev, "Freeze");
	ocsf_process_activity_set_severity_id(&ev, OCSF_SEVERITY_ID_HIGH);
	ocsf_process_activity_set_message(&ev, "cgroup frozen\n[x]");
	cr_assert_eq(osh_emit_shorthand_generic(&ev.ev, buf, sizeof(buf), &n), 0);
	cr_assert_str_eq(buf, "PROCESS_ACTIVITY:FREEZE [HIGH] [msg:cgroup frozen\\n\\[x\\]]");

	/* The dedicated grammar still wins for a generated class. */
	cr_assert_eq(osh_emit_shorthand(&ev.ev, buf, sizeof(buf), &n), 0);
	cr_assert_eq(strncmp(buf, "PROC:FREEZE [HIGH]", 18), 0, "%s", buf);
}

/* The generated rows agree with a by-name resolution of the same descriptor
 * (what an unknown class gets), slot by slot. */
Test(classes, generated_rows_match_resolution_by_name)
{
	for (size_t i = 0; i < ocsf_all_classes_count; i++) {
		struct ocsf_class copy = *ocsf_all_classes[i];
		struct ocsf_shared scratch;
		const struct ocsf_shared *gen = ocsf_shared_find(ocsf_all_classes[i]);
		const struct ocsf_shared *byname = ocsf_shared_of(&copy, &scratch);
		const struct ocsf_shared_slot *a = &gen->action, *b = &byname->action;
		size_t n =
		    (size_t)((const char *)&gen->fail_activity - (const char *)&gen->action) /
		    sizeof(*a);

		cr_assert_not_null(gen);
		cr_assert_eq(gen->cls, ocsf_all_classes[i]);
		cr_assert_eq(byname, &scratch);
		cr_assert_eq(gen->present_off, byname->present_off);
		cr_assert_eq(gen->fail_activity, byname->fail_activity, "%s",
			     ocsf_all_classes[i]->class_name);
		cr_assert_gt(n, 15);
		for (size_t k = 0; k < n; k++) {
			cr_assert_eq(a[k].idx, b[k].idx, "%s slot %zu",
				     ocsf_all_classes[i]->class_name, k);
			if (a[k].idx >= 0)
				cr_assert_eq(a[k].off, b[k].off, "%s slot %zu",
					     ocsf_all_classes[i]->class_name, k);
		}
		cr_assert_geq(gen->metadata.idx, 0, "every class has metadata");
	}
	cr_assert_null(ocsf_shared_find(NULL));
	cr_assert_null(ocsf_shared_find(&(struct ocsf_class){.class_uid = 4001}),
		       "a uid alone does not select a row");
}
