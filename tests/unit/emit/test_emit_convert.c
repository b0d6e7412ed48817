/* test_emit_convert.c - the JSONL sink's OCSF version (osh_emit_set_jsonl_version):
 * lines written in the chosen version, applied live, refusals counted and
 * reported as LOG_CONVERT_REFUSED, the shorthand file unchanged.
 *
 * DESIGN: Criterion forks every test, so each owns the process-wide runtime.
 * The events are the emission runtime's own samples (src/emit/emit_samples.c):
 * their HTTP sample has no http_response, which OCSF 1.1.0 requires, so it is
 * a real refusal. The directory is an osh_testdir: its fini validates every
 * JSONL line against the version the line names (ocsf-validate --version
 * auto), so "written in 1.1.0" is checked by the schema too. Waiting is
 * osh_emit_flush(). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit_samples.h"
#include "ocsf_convert.h"
#include "osh_emit.h"
#include "osh_testdir.h"

static char dir[256], path_main[512], path_json[512];
static char *g_dir; /* validated (per line version), archived, removed by suite_fini */

static void suite_fini(void)
{
	char *d = g_dir;

	g_dir = NULL;
	osh_emit_shutdown();
	osh_testdir_finish(d);
}

TestSuite(emit_convert, .fini = suite_fini);

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s exists", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void start(void)
{
	struct osh_emit_config cfg;
	g_dir = osh_testdir_new("emitconv");
	snprintf(dir, sizeof(dir), "%s", g_dir);
	snprintf(path_main, sizeof(path_main), "%s/openshell.log", dir);
	snprintf(path_json, sizeof(path_json), "%s/openshell-ocsf.log", dir);
	osh_emit_config_default(&cfg);
	cfg.log_dir = dir;
	cfg.stderr_enabled = false;
	cfg.jsonl = true;
	cr_assert_eq(osh_emit_init(&cfg), 0);
}

/* Samples 0..7 once each (NET allow, HTTP, SSH, PROC, FINDING, LIFECYCLE,
 * CONFIG, EVENT); i = 1 is the HTTP sample. */
static void emit_round(void)
{
	for (unsigned i = 0; i < OSH_EMIT_SAMPLE_CLASSES; i++)
		cr_assert_eq(osh_emit_sample(i, false), 0);
	cr_assert_eq(osh_emit_flush(5000), 0);
}

Test(emit_convert, default_is_1_7_0_and_bad_values_ignored)
{
	cr_assert_eq(osh_emit_jsonl_version(), OCSF_VERSION_1_7_0);
	osh_emit_set_jsonl_version((enum ocsf_version)42);
	cr_assert_eq(osh_emit_jsonl_version(), OCSF_VERSION_1_7_0);
	osh_emit_set_jsonl_version(OCSF_VERSION_1_3_0);
	cr_assert_eq(osh_emit_jsonl_version(), OCSF_VERSION_1_3_0);
}

Test(emit_convert, lines_in_the_chosen_version_live_and_refusals_reported)
{
	struct osh_emit_stats st;
	char *json, *text;

	start();
	emit_round(); /* 1.7.0 */
	osh_emit_set_jsonl_version(OCSF_VERSION_1_1_0);
	emit_round(); /* 1.1.0: the HTTP sample is refused */
	osh_emit_set_jsonl_version(OCSF_VERSION_1_5_0);
	emit_round(); /* 1.5.0: nothing refused */
	osh_emit_stats_get(&st);
	osh_emit_shutdown();

	json = slurp(path_json);
	text = slurp(path_main);
	cr_assert_eq(st.convert_refused, 1, "the 1.1.0 HTTP sample, got %llu",
		     (unsigned long long)st.convert_refused);
	/* 8 per round, minus the refusal, plus the report line (converted too) */
	cr_assert_eq(count(json, "\"version\":\"1.7.0\""), 8, "%s", json);
	cr_assert_eq(count(json, "\"version\":\"1.1.0\""), 7 + 1, "%s", json);
	cr_assert_eq(count(json, "\"version\":\"1.5.0\""), 8, "%s", json);
	cr_assert_eq(count(json, "\"event_code\":\"SAMPLE_HTTP\""), 2, "not in 1.1.0");
	/* the report: shorthand and JSON, with the count and the reason */
	cr_assert_eq(count(text, "1 JSONL lines not written: refused by the conversion to OCSF "
				 "1.1.0 (last: refused for OCSF 1.1.0: $: OCSF 1.1.0 http_activity "
				 "requires http_response"),
		     1, "%s", text);
	cr_assert_eq(count(json, "\"event_code\":\"LOG_CONVERT_REFUSED\""), 1);
	cr_assert_eq(count(json, "\"reason\":\"convert_refused\""), 1);
	/* the shorthand file has every event, whatever the JSONL version */
	cr_assert_eq(count(text, " OCSF HTTP:"), 3, "%s", text);
	free(json);
	free(text);
}

Test(emit_convert, refusals_reported_at_most_once_a_minute_until_flush)
{
	struct osh_emit_stats st;
	char *text;

	start();
	osh_emit_set_jsonl_version(OCSF_VERSION_1_3_0);
	/* the first refusal is reported at once (flush forces pending ones out) */
	for (int r = 0; r < 3; r++)
		emit_round();
	osh_emit_stats_get(&st);
	osh_emit_shutdown();
	text = slurp(path_main);
	cr_assert_eq(st.convert_refused, 3);
	/* every refusal is in exactly one report: the counts add up to 3 */
	{
		unsigned long long sum = 0;

		for (char *p = text; (p = strstr(p, " JSONL lines not written")) != NULL; p++) {
			char *q = p;

			while (q > text && q[-1] >= '0' && q[-1] <= '9')
				q--;
			sum += strtoull(q, NULL, 10);
		}
		cr_assert_eq(sum, 3, "%s", text);
	}
	free(text);
}
