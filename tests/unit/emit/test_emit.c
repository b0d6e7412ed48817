/* test_emit.c - the emission runtime against real files: both sinks, stderr
 * level filter, push feed, enrichment, JSONL toggle, rotation by size and by
 * day (injected clock), stale-file rotation at open, stderr fallback and its
 * recovery, SIGHUP reopen, queue-full drop reports, invalid events, and disk
 * full via RLIMIT_FSIZE.
 *
 * DESIGN: Criterion forks every test, so each test owns the process-wide
 * runtime: it creates a fresh test directory (tests/support/osh_testdir),
 * initialises, works, and shuts down; the suite's fini validates every JSONL
 * line left there with tools/ocsf-validate and removes the directory. The
 * logs are not archived for the site census: the events carry synthetic
 * event codes (TEST_BASE, FLOOD...) that are no registered site. Waiting is
 * always osh_emit_flush() (a condition), never a sleep. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emit_internal.h"
#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_testdir.h"

static char dir[256];
static char path_main[512], path_json[512], path_err[512];
static char *g_dir; /* osh_testdir: validated and removed by suite_fini */

static void mkdir_tmp(void)
{
	g_dir = osh_testdir_new("emit");
	snprintf(dir, sizeof(dir), "%s", g_dir);
	snprintf(path_main, sizeof(path_main), "%s/openshell.log", dir);
	snprintf(path_json, sizeof(path_json), "%s/openshell-ocsf.log", dir);
	snprintf(path_err, sizeof(path_err), "%s/stderr.txt", dir);
}

/* Reads a whole file (NUL-terminated, caller frees); NULL if missing. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* Lines in a file; asserts the file ends in '\n' (no torn last line). */
static size_t count_lines(const char *path)
{
	size_t len = 0, n = 0;
	char *b = slurp(path, &len);

	if (b == NULL)
		return 0;
	if (len > 0)
		cr_assert_eq(b[len - 1], '\n', "%s ends mid-line", path);
	for (size_t i = 0; i < len; i++)
		n += b[i] == '\n';
	free(b);
	return n;
}

static size_t count_substr(const char *path, const char *needle)
{
	char *b = slurp(path, NULL);
	size_t n = 0;

	if (b == NULL)
		return 0;
	for (const char *p = b; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(b);
	return n;
}

/* Sum of N over "<N> <what>" occurrences: loss reports may be split over
 * several report lines (rate limit vs. flush timing). */
static unsigned long long sum_reported(const char *path, const char *what)
{
	char *b = slurp(path, NULL);
	unsigned long long sum = 0;

	if (b == NULL)
		return 0;
	for (char *p = b; (p = strstr(p, what)) != NULL; p++) {
		char *q = p - 1;

		while (q > b && q[-1] >= '0' && q[-1] <= '9')
			q--;
		sum += strtoull(q, NULL, 10);
	}
	free(b);
	return sum;
}

static int err_fd = -1;

static void start(struct osh_emit_config *cfg)
{
	cr_assert_eq(osh_emit_init(cfg), 0);
}

static void base_cfg(struct osh_emit_config *cfg)
{
	mkdir_tmp();
	osh_emit_config_default(cfg);
	cfg->log_dir = dir;
	err_fd = open(path_err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(err_fd, 0);
	cfg->stderr_fd = err_fd;
}

static void flush(void)
{
	cr_assert_eq(osh_emit_flush(5000), 0);
}

static void emit_net(const char *host, enum ocsf_severity_id sev)
{
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst;

	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "TEST_NET");
	ocsf_network_activity_set_severity_id(&ev, sev);
	ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	ocsf_network_endpoint_set_domain(dst, host);
	ocsf_network_endpoint_set_port(dst, 443);
	cr_assert_eq(osh_emit(&ev), 0);
}

static void emit_base(const char *msg)
{
	struct ocsf_base_event ev;

	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "TEST_BASE");
	ocsf_base_event_set_message(&ev, msg);
	(void)osh_emit(&ev);
}

static cJSON *first_json(const char *path)
{
	char *b = slurp(path, NULL);
	char *nl;
	cJSON *j;

	cr_assert_not_null(b, "%s missing", path);
	nl = strchr(b, '\n');
	cr_assert_not_null(nl);
	*nl = '\0';
	j = cJSON_Parse(b);
	cr_assert_not_null(j, "not JSON: %s", b);
	free(b);
	return j;
}

static const char *jstr(const cJSON *j, const char *a, const char *b, const char *c)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);

	if (b != NULL)
		x = cJSON_GetObjectItemCaseSensitive(x, b);
	if (c != NULL)
		x = cJSON_GetObjectItemCaseSensitive(x, c);
	return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* Synthetic event codes: keep these logs out of the site census. */
static void suite_init(void)
{
	unsetenv("OSH_TEST_LOG_DIR");
}

/* Every JSONL line the test wrote must be schema-valid; nothing stays. */
static void suite_fini(void)
{
	char *d = g_dir;

	g_dir = NULL;
	if (d != NULL)
		osh_testdir_finish(d);
}

TestSuite(emit, .init = suite_init, .fini = suite_fini);

Test(emit, file_lines_have_timestamp_and_prefix)
{
	struct osh_emit_config cfg;
	char *b;

	base_cfg(&cfg);
	start(&cfg);
	emit_net("api.github.com", OCSF_SEVERITY_ID_INFORMATIONAL);
	osh_log(OSH_LEVEL_INFO, "supervisor", "child %d started\nfake line", 42);
	osh_log(OSH_LEVEL_DEBUG, "supervisor", "debug is filtered");
	osh_log(OSH_LEVEL_WARN, "bad\nmod ule", "module names are escaped");
	flush();
	b = slurp(path_main, NULL);
	cr_assert_not_null(b);
	/* 2026-11-29T10:00:00.123Z OCSF NET:OPEN ... */
	cr_assert_eq(strlen(b) > 25 && b[4] == '-' && b[10] == 'T' && b[23] == 'Z', 1, "%s", b);
	cr_assert(strstr(b, "Z OCSF NET:OPEN [INFO] ALLOWED api.github.com:443\n") != NULL, "%s",
		  b);
	cr_assert(strstr(b, "Z INFO supervisor: child 42 started\\nfake line\n") != NULL, "%s", b);
	cr_assert_null(strstr(b, "debug is filtered"));
	cr_assert(strstr(b, "Z WARN bad\\nmod\\ ule: module names are escaped\n") != NULL, "%s", b);
	free(b);
	cr_assert_eq(count_lines(path_main), 3);
	cr_assert_eq(access(path_json, F_OK), -1, "JSONL file exists while disabled");
	osh_emit_shutdown();
}

Test(emit, stderr_level_filter_and_never_stdout)
{
	struct osh_emit_config cfg;
	char *b;

	base_cfg(&cfg);
	start(&cfg);
	emit_net("info.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	emit_net("medium.example", OCSF_SEVERITY_ID_MEDIUM);
	emit_net("high.example", OCSF_SEVERITY_ID_HIGH);
	osh_log(OSH_LEVEL_INFO, "m", "plain info");
	osh_log(OSH_LEVEL_WARN, "m", "plain warn");
	flush();
	b = slurp(path_err, NULL);
	cr_assert_null(strstr(b, "info.example"));
	cr_assert_not_null(strstr(b, "OCSF NET:OPEN [MED] ALLOWED medium.example:443"));
	cr_assert_not_null(strstr(b, "OCSF NET:OPEN [HIGH] ALLOWED high.example:443"));
	cr_assert_null(strstr(b, "plain info"));
	cr_assert_not_null(strstr(b, "WARN m: plain warn"));
	free(b);
	osh_emit_set_stderr_level(OSH_LEVEL_ERROR);
	emit_net("medium2.example", OCSF_SEVERITY_ID_MEDIUM);
	flush();
	cr_assert_eq(count_substr(path_err, "medium2.example"), 0);
	cr_assert_eq(count_substr(path_main, "medium2.example"), 1);
	osh_emit_shutdown();
}

Test(emit, jsonl_toggle_and_enrichment)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	cJSON *j;
	const char *uid;

	base_cfg(&cfg);
	cr_assert_eq(osh_ctx_set_sandbox("sb-1234", "my-sandbox"), 0);
	cr_assert_eq(osh_ctx_set_image("ghcr.io/x/agent:1", "sha256:77af4d6b9913"), 0);
	cr_assert_eq(osh_ctx_set_hostname("sandbox-host"), 0);
	cr_assert_eq(osh_ctx_set_product("OpenShell Sandbox Supervisor", "OpenShell", "9.9.9"), 0);
	start(&cfg);
	emit_net("before.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	osh_emit_set_jsonl(true);
	cr_assert(osh_emit_jsonl_enabled());
	flush();
	osh_emit_stats_get(&st);
	cr_assert(st.jsonl_open);
	cr_assert_eq(access(path_json, F_OK), 0, "enabling creates the file");
	cr_assert_eq(count_lines(path_json), 0);
	cr_assert_eq(osh_ctx_set_proxy("10.200.0.1", 3128), 0);
	emit_net("during.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_set_jsonl(false);
	emit_net("after.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st);
	cr_assert(!st.jsonl_open);
	cr_assert_eq(st.emitted, 3);
	cr_assert_eq(st.emitted_while_enabled, 1);
	cr_assert_eq(count_lines(path_main), 3);
	cr_assert_eq(count_lines(path_json), 1);

	j = first_json(path_json);
	cr_assert_str_eq(jstr(j, "dst_endpoint", "domain", NULL), "during.example");
	cr_assert_str_eq(jstr(j, "metadata", "event_code", NULL), "TEST_NET");
	cr_assert_str_eq(jstr(j, "metadata", "product", "name"), "OpenShell Sandbox Supervisor");
	cr_assert_str_eq(jstr(j, "metadata", "product", "vendor_name"), "OpenShell");
	cr_assert_str_eq(jstr(j, "metadata", "product", "version"), "9.9.9");
	uid = jstr(j, "metadata", "uid", NULL);
	cr_assert_not_null(uid);
	cr_assert_eq(strlen(uid), 36);
	cr_assert_eq(uid[14], '4');
	cr_assert_str_eq(jstr(j, "device", "hostname", NULL), "sandbox-host");
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "device"), "type_id")->valueint, 1);
	cr_assert_str_eq(jstr(j, "device", "container", "name"), "my-sandbox");
	cr_assert_str_eq(jstr(j, "device", "container", "uid"), "sb-1234");
	cr_assert_str_eq(jstr(cJSON_GetObjectItem(j, "device"), "container", "image", "uid"),
			 "sha256:77af4d6b9913");
	cr_assert_str_eq(jstr(j, "proxy_endpoint", "ip", NULL), "10.200.0.1");
	cr_assert_eq(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "proxy_endpoint"), "port")->valueint, 3128);
	cJSON_Delete(j);
	osh_emit_shutdown();
}

Test(emit, event_uids_are_unique)
{
	struct osh_emit_config cfg;
	char *b, *line, *save = NULL;
	static char seen[2000][37];
	size_t n = 0;

	base_cfg(&cfg);
	cfg.jsonl = true;
	start(&cfg);
	for (int i = 0; i < 2000; i++)
		emit_base("uid");
	flush();
	b = slurp(path_json, NULL);
	for (line = strtok_r(b, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		const char *uid;

		cr_assert_not_null(j);
		uid = jstr(j, "metadata", "uid", NULL);
		cr_assert_not_null(uid);
		memcpy(seen[n++], uid, 37);
		cJSON_Delete(j);
	}
	free(b);
	cr_assert_eq(n, 2000);
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			cr_assert_str_neq(seen[i], seen[k]);
	osh_emit_shutdown();
}

Test(emit, push_feed)
{
	struct osh_emit_config cfg;
	static struct osh_push_line out[8];
	size_t n;

	base_cfg(&cfg);
	cfg.push_bytes = 65536;
	start(&cfg);
	emit_net("push.example", OCSF_SEVERITY_ID_MEDIUM);
	osh_log(OSH_LEVEL_WARN, "proxy", "upstream slow");
	osh_log(OSH_LEVEL_DEBUG, "proxy", "below push level");
	n = osh_emit_push_drain(out, 8);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(out[0].level, "OCSF");
	cr_assert_str_eq(out[0].target, "ocsf");
	cr_assert_str_eq(out[0].message, "NET:OPEN [MED] ALLOWED push.example:443");
	cr_assert_gt(out[0].timestamp_ms, 1000000000000LL);
	cr_assert_str_eq(out[1].level, "WARN");
	cr_assert_str_eq(out[1].target, "proxy");
	cr_assert_str_eq(out[1].message, "upstream slow");
	cr_assert_eq(osh_emit_push_drain(out, 8), 0);
	osh_emit_shutdown();
}

/* While JSONL is on every event in the feed carries its OCSF JSON (the
 * structured push), plain lines never do, and with JSONL off events carry
 * only their shorthand. */
Test(emit, push_feed_carries_json_while_jsonl_on)
{
	struct osh_emit_config cfg;
	static struct osh_push_line out[8];
	cJSON *j;
	size_t n;

	base_cfg(&cfg);
	cfg.push_bytes = 65536;
	cfg.jsonl = true;
	start(&cfg);
	emit_net("json.example", OCSF_SEVERITY_ID_MEDIUM);
	osh_log(OSH_LEVEL_WARN, "proxy", "plain");
	n = osh_emit_push_drain(out, 8);
	cr_assert_eq(n, 2);
	cr_assert_not_null(out[0].json);
	cr_assert_eq(out[0].json_len, strlen(out[0].json));
	j = cJSON_Parse(out[0].json);
	cr_assert_not_null(j, "feed JSON does not parse: %s", out[0].json);
	cr_assert_eq(cJSON_GetObjectItem(j, "class_uid")->valueint, 4001);
	cr_assert_not_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "uid"));
	cJSON_Delete(j);
	cr_assert_null(out[1].json);
	free(out[0].json);
	osh_emit_set_jsonl(false);
	emit_net("nojson.example", OCSF_SEVERITY_ID_LOW);
	n = osh_emit_push_drain(out, 8);
	cr_assert_eq(n, 1);
	cr_assert_null(out[0].json);
	cr_assert_eq(out[0].json_len, 0);
	osh_emit_shutdown();
}

Test(emit, push_feed_full_counts_drops)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	static struct osh_push_line out[4];
	size_t total = 0, n;

	base_cfg(&cfg);
	cfg.push_bytes = 1; /* rounded up to the 64 KiB minimum */
	start(&cfg);
	osh_emit_test_stall_writer(true); /* no loss reports while counting */
	for (int i = 0; i < 2000; i++)
		osh_log(OSH_LEVEL_INFO, "flood", "line %d with some padding to fill the feed", i);
	osh_emit_stats_get(&st);
	cr_assert_gt(st.push_dropped, 0);
	while ((n = osh_emit_push_drain(out, 4)) > 0)
		for (size_t i = 0; i < n; i++)
			total += strcmp(out[i].target, "flood") == 0;
	cr_assert_eq(total + st.push_dropped, 2000);
	osh_emit_test_stall_writer(false);
	flush();
	cr_assert_eq(count_substr(path_main, "LOG_PUSH_DROPPED"), 0); /* code is not printed */
	cr_assert_eq(count_substr(path_main, "log records lost: push feed full"), 1);
	osh_emit_shutdown();
}

Test(emit, rotation_by_size_keeps_n_per_family)
{
	struct osh_emit_config cfg;
	char p[600];

	base_cfg(&cfg);
	cfg.rotate_bytes = 2000;
	cfg.keep = 2;
	cfg.jsonl = true;
	start(&cfg);
	for (int i = 0; i < 200; i++) {
		emit_net("rotate.example", OCSF_SEVERITY_ID_INFORMATIONAL);
		if (i % 10 == 0)
			flush();
	}
	flush();
	osh_emit_shutdown();
	for (int i = 1; i <= 2; i++) {
		snprintf(p, sizeof(p), "%s.%d", path_main, i);
		cr_assert_eq(access(p, F_OK), 0, "%s missing", p);
		snprintf(p, sizeof(p), "%s.%d", path_json, i);
		cr_assert_eq(access(p, F_OK), 0, "%s missing", p);
	}
	snprintf(p, sizeof(p), "%s.3", path_main);
	cr_assert_eq(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s.3", path_json);
	cr_assert_eq(access(p, F_OK), -1);
	{
		struct stat st;

		cr_assert_eq(stat(path_main, &st), 0);
		cr_assert_leq(st.st_size, 2000);
		snprintf(p, sizeof(p), "%s.1", path_main);
		cr_assert_eq(stat(p, &st), 0);
		cr_assert_leq(st.st_size, 2000);
		cr_assert_gt(st.st_size, 1000);
	}
}

static _Atomic int64_t fake_now;

static int64_t fake_clock(void *arg)
{
	(void)arg;
	return atomic_load(&fake_now);
}

Test(emit, rotation_by_day_with_injected_clock)
{
	struct osh_emit_config cfg;
	char p[600];

	base_cfg(&cfg);
	atomic_store(&fake_now, 1790000000000LL); /* 2026-09-21 */
	cfg.clock_ms = fake_clock;
	start(&cfg);
	emit_net("day1.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	atomic_store(&fake_now, 1790000000000LL + 86400000LL);
	emit_net("day2.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_shutdown();
	snprintf(p, sizeof(p), "%s.1", path_main);
	cr_assert_eq(count_substr(p, "day1.example"), 1);
	cr_assert_eq(count_substr(p, "day2.example"), 0);
	cr_assert_eq(count_substr(path_main, "day2.example"), 1);
	cr_assert_eq(count_substr(path_main, "2026-09-22T"), 1);
}

Test(emit, stale_file_rotated_at_open)
{
	struct osh_emit_config cfg;
	struct timespec ts[2];
	char p[600];
	int fd;

	base_cfg(&cfg);
	fd = open(path_main, O_WRONLY | O_CREAT, 0640);
	cr_assert_eq(write(fd, "old line\n", 9), 9);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 3 * 86400;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	cr_assert_eq(utimensat(AT_FDCWD, path_main, ts, 0), 0);
	start(&cfg);
	emit_net("today.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_shutdown();
	snprintf(p, sizeof(p), "%s.1", path_main);
	cr_assert_eq(count_substr(p, "old line"), 1);
	cr_assert_eq(count_substr(path_main, "old line"), 0);
	cr_assert_eq(count_substr(path_main, "today.example"), 1);
}

Test(emit, unusable_dir_falls_back_to_stderr_then_recovers)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	char sub[400], subfile[500];
	char *b;

	base_cfg(&cfg);
	snprintf(sub, sizeof(sub), "%s/not-yet", dir);
	snprintf(subfile, sizeof(subfile), "%s/openshell.log", sub);
	cfg.log_dir = sub;
	start(&cfg);
	emit_net("fallback.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st);
	cr_assert(st.fallback);
	b = slurp(path_err, NULL);
	cr_assert_not_null(strstr(b, "OCSF LIFECYCLE:DISABLE [MED] OpenShell log file failure "
				     "[reason:cannot open log file"),
			   "%s", b);
	cr_assert_not_null(strstr(b, "No such file or directory"));
	/* In fallback the file's lines go to stderr whatever the level. */
	cr_assert_not_null(strstr(b, "OCSF NET:OPEN [INFO] ALLOWED fallback.example:443"));
	free(b);
	cr_assert_eq(mkdir(sub, 0700), 0);
	osh_emit_request_reopen();
	flush();
	emit_net("recovered.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st);
	cr_assert(!st.fallback);
	cr_assert_eq(count_substr(subfile, "LIFECYCLE:ENABLE [INFO] OpenShell log file success"),
		     1);
	cr_assert_eq(count_substr(subfile, "recovered.example"), 1);
	cr_assert_eq(count_substr(path_err, "recovered.example"), 0);
	osh_emit_shutdown();
}

static void on_hup(int sig)
{
	(void)sig;
	osh_emit_request_reopen();
}

Test(emit, sighup_reopens_for_external_logrotate)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	char moved[600];

	base_cfg(&cfg);
	cfg.rotate_daily = false;
	cfg.rotate_bytes = 0;
	cfg.jsonl = true;
	start(&cfg);
	cr_assert_neq(signal(SIGHUP, on_hup), SIG_ERR);
	emit_net("before.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	snprintf(moved, sizeof(moved), "%s.rotated", path_main);
	cr_assert_eq(rename(path_main, moved), 0);
	cr_assert_eq(raise(SIGHUP), 0);
	flush();
	emit_net("after.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st);
	cr_assert_eq(st.reopens, 1);
	cr_assert_eq(count_substr(moved, "before.example"), 1);
	cr_assert_eq(count_substr(moved, "after.example"), 0);
	cr_assert_eq(count_substr(path_main, "after.example"), 1);
	cr_assert_eq(count_lines(path_json), 2);
	osh_emit_shutdown();
}

Test(emit, full_queue_drops_and_reports)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	char want[128];
	int i, rc = 0;

	base_cfg(&cfg);
	cfg.queue_bytes = 65536;
	start(&cfg);
	osh_emit_test_stall_writer(true);
	for (i = 0; i < 100000 && rc == 0; i++) {
		struct ocsf_network_activity ev;

		ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "FLOOD");
		rc = osh_emit(&ev);
	}
	cr_assert_eq(rc, OSH_EFULL);
	for (int k = 0; k < 10; k++)
		emit_base("also dropped");
	osh_emit_stats_get(&st);
	cr_assert_eq(st.dropped, 11);
	cr_assert_eq(osh_emit_flush(100), OSH_ETIMEDOUT, "stalled writer cannot flush");
	osh_emit_test_stall_writer(false);
	flush();
	osh_emit_stats_get(&st);
	cr_assert_eq(st.reports, 1);
	snprintf(want, sizeof(want),
		 "EVENT [MED] 11 log records lost: log queue full "
		 "[lost_records:11 reason:queue_full]");
	cr_assert_eq(count_substr(path_main, want), 1);
	cr_assert_eq(count_lines(path_main), st.emitted + st.reports);
	osh_emit_shutdown();
}

Test(emit, invalid_event_counted_and_reported)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	struct ocsf_base_event ev;
	static char keys[4000][16];
	int rc;

	base_cfg(&cfg);
	start(&cfg);
	ocsf_base_event_init(&ev, OCSF_BASE_EVENT_ACTIVITY_ID_OTHER, "TOO_BIG");
	for (int i = 0; i < 4000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		ocsf_base_event_add_unmapped_str(&ev, keys[i], "v");
	}
	cr_assert_neq(ev.ev.arena.err, 0, "arena should be exhausted");
	rc = osh_emit(&ev);
	cr_assert_eq(rc, ev.ev.arena.err);
	flush();
	osh_emit_stats_get(&st);
	cr_assert_eq(st.invalid, 1);
	cr_assert_eq(st.emitted, 0);
	cr_assert_eq(count_substr(path_main, "1 log records lost: event could not be built"), 1);
	osh_emit_shutdown();
}

Test(emit, disk_full_loses_whole_lines_and_reports_after)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	struct rlimit old, lim;
	struct stat sb;

	base_cfg(&cfg);
	close(err_fd);
	err_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	cfg.stderr_fd = err_fd;
	signal(SIGXFSZ, SIG_IGN);
	start(&cfg);
	emit_net("fits.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	cr_assert_eq(stat(path_main, &sb), 0);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 150; /* room for about one more line */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 50; i++)
		emit_net("full.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st);
	cr_assert_gt(st.write_errors, 0);
	cr_assert_eq(count_substr(path_main, "log file write failed"), 0);
	/* Only whole lines reached the file. */
	cr_assert_eq(count_lines(path_main), 1 + 50 - st.write_errors, "lines %zu lost %llu",
		     count_lines(path_main), (unsigned long long)st.write_errors);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	emit_net("space-back.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	cr_assert_eq(sum_reported(path_main, "log records lost: log file write failed"),
		     st.write_errors);
	cr_assert_eq(count_substr(path_main, "space-back.example"), 1);
	osh_emit_shutdown();
}

Test(emit, before_init_goes_to_stderr)
{
	char *b;
	int saved;

	mkdir_tmp();
	saved = dup(STDERR_FILENO);
	err_fd = open(path_err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_eq(dup2(err_fd, STDERR_FILENO), STDERR_FILENO);
	emit_net("early.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	osh_log(OSH_LEVEL_INFO, "main", "Starting sandbox");
	dup2(saved, STDERR_FILENO);
	b = slurp(path_err, NULL);
	cr_assert_not_null(strstr(b, "OCSF NET:OPEN [INFO] ALLOWED early.example:443\n"));
	cr_assert_not_null(strstr(b, "INFO main: Starting sandbox\n"));
	free(b);
	cr_assert_eq(osh_emit_flush(10), OSH_ESTATE);
}

Test(emit, init_rejects_bad_config_and_double_init)
{
	struct osh_emit_config cfg;

	base_cfg(&cfg);
	cr_assert_eq(osh_emit_init(NULL), OSH_EINVAL);
	cfg.stderr_fd = -1;
	cr_assert_eq(osh_emit_init(&cfg), OSH_EINVAL);
	cfg.stderr_fd = err_fd;
	start(&cfg);
	cr_assert_eq(osh_emit_init(&cfg), OSH_ESTATE);
	osh_emit_shutdown();
	osh_emit_shutdown();
	start(&cfg); /* restartable after shutdown */
	emit_net("again.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_shutdown();
	cr_assert_eq(count_substr(path_main, "again.example"), 1);
}

Test(emit, context_setters_validate)
{
	char big[300];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(osh_ctx_set_hostname(big), OSH_ETOOBIG);
	cr_assert_eq(osh_ctx_set_sandbox(NULL, NULL), 0);
	cr_assert_eq(osh_ctx_current()->sandbox_id[0], '\0');
	cr_assert_eq(osh_ctx_set_proxy("127.0.0.1", 3128), 0);
	cr_assert_eq(osh_ctx_current()->proxy_port, 3128);
	cr_assert_str_eq(osh_ctx_current()->proxy_ip, "127.0.0.1");
	osh_ctx_reset();
	cr_assert_eq(osh_ctx_current()->proxy_port, 0);
}

Test(emit, jsonl_unopenable_is_counted_and_writer_stays_idle)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	struct timespec window = {0, 300000000};
	clock_t c0, c1;

	base_cfg(&cfg);
	cfg.log_dir = "/proc/osh-no-such-dir";
	cfg.jsonl = true;
	start(&cfg);
	for (int i = 0; i < 10; i++)
		emit_net("nowhere.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st);
	cr_assert(st.fallback);
	cr_assert(!st.jsonl_open);
	/* 10 events + the fallback notice: their JSON lines found no file. */
	cr_assert_eq(st.write_errors, 11, "got %llu", (unsigned long long)st.write_errors);
	cr_assert_eq(sum_reported(path_err, "log records lost: log file write failed"), 11);
	/* A JSONL file that cannot be opened must not make the writer spin:
	 * measure this process's CPU over an idle window. */
	c0 = clock();
	nanosleep(&window, NULL);
	c1 = clock();
	cr_assert_lt((double)(c1 - c0) / CLOCKS_PER_SEC, 0.1, "writer busy while idle");
	osh_emit_shutdown();
}

/* Events at a steady trickle (one per 100 us) cost producers no wake-up of
 * the writer: it dozes on its short timer and drains what arrived, so the
 * lines reach the file without any flush. Once the runtime has been idle,
 * the next event wakes the sleeping writer exactly once. */
Test(emit, trickle_needs_no_wakeups_and_lines_arrive_unflushed)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st0, st1;
	struct timespec gap = {0, 100000}, idle = {0, 300000000}, poll_gap = {0, 2000000};
	struct timespec t0, t1;
	size_t lines = 0;

	base_cfg(&cfg);
	cfg.stderr_enabled = false;
	start(&cfg);
	emit_net("warm.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	flush();
	osh_emit_stats_get(&st0);
	for (int i = 0; i < 200; i++) {
		emit_net("trickle.example", OCSF_SEVERITY_ID_INFORMATIONAL);
		nanosleep(&gap, NULL); /* the pacing under test, not a wait */
	}
	osh_emit_stats_get(&st1);
	cr_assert_eq(st1.emitted - st0.emitted, 200);
	/* A wake-up per event would make this 200. */
	cr_assert_lt(st1.wakeups - st0.wakeups, 20, "%llu wake-ups for 200 events",
		     (unsigned long long)(st1.wakeups - st0.wakeups));
	/* No flush: the dozing writer writes them within its doze. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		lines = count_substr(path_main, "trickle.example");
		if (lines == 200)
			break;
		nanosleep(&poll_gap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 5);
	cr_assert_eq(lines, 200, "only %zu of 200 lines reached the file unflushed", lines);
	/* Idle long enough for the writer's long sleep, then one event. */
	nanosleep(&idle, NULL);
	osh_emit_stats_get(&st0);
	emit_net("after-idle.example", OCSF_SEVERITY_ID_INFORMATIONAL);
	osh_emit_stats_get(&st1);
	cr_assert_eq(st1.wakeups - st0.wakeups, 1);
	flush();
	cr_assert_eq(count_substr(path_main, "after-idle.example"), 1);
	osh_emit_shutdown();
}
