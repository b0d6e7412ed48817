/* ocsf-bench - build+serialize cost of a representative event, ours vs cJSON.
 *
 * DESIGN
 * One CONNECT-allow Network Activity event (ocsf_bench_event.h) is built
 * with the generated API and serialized with ocsf_serialize() N times; in
 * the same run the byte-identical JSON is built as a cJSON tree and printed
 * with cJSON_PrintUnformatted() N times. The two outputs are compared byte
 * for byte before anything is timed, so the comparison is like for like.
 * Heap allocations are counted by a malloc interposer in this binary
 * (forwarding to glibc's __libc_* entry points): it sees every allocation
 * in the process, ours and libcjson's. Under AddressSanitizer, which owns
 * malloc, the interposer is compiled out and the link-time --wrap counters
 * (src/tools/CMakeLists.txt) count the calls made from our own code.
 *
 * Output: `name value unit` lines on stdout. With --check, exit non-zero if
 * our path allocated or the outputs differ (used by ctest; no timing
 * assertion). --print writes the event as one JSONL line and exits.
 * Usage: ocsf-bench [-n N] [--check] [--print]
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ocsf.h"
#include "ocsf_bench_event.h"
#include "osh_emit.h"

/* ------------------------------------------------------ allocation count */

static size_t n_allocs;

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING "wrap"
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
	n_allocs++;
	return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	__real_free(p);
}
#else
#define COUNTING "interposer"
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t a, size_t b);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
	n_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	n_allocs++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	n_allocs++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
	n_allocs++;
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	n_allocs++;
	void *p = __libc_memalign(align, n);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

#endif

/* ---------------------------------------------------------------- cJSON */

static cJSON *obj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(parent, key, o);
	return o;
}

/* The same event as ocsf_bench_event_build(), keys in the serializer's
 * order, derived values spelled out as a hand-written emitter would. */
static cJSON *cjson_build(int64_t time_ms)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "action", "Allowed");
	cJSON_AddNumberToObject(root, "action_id", 1);
	cJSON_AddNumberToObject(root, "activity_id", 1);
	cJSON_AddStringToObject(root, "activity_name", "Open");
	cJSON *p = obj(obj(root, "actor"), "process");
	cJSON_AddStringToObject(p, "cmd_line",
				"curl -sS https://api.github.com/repos/openshell/openshell");
	cJSON *ct = obj(p, "container");
	cJSON_AddStringToObject(ct, "name", "agent");
	cJSON_AddStringToObject(ct, "uid", "3f1c2a9b7d6e");
	cJSON_AddStringToObject(p, "name", "curl");
	cJSON *pp = obj(p, "parent_process");
	cJSON_AddStringToObject(pp, "cmd_line", "bash -lc \"curl -sS https://api.github.com\"");
	cJSON_AddStringToObject(pp, "name", "bash");
	cJSON *ppp = obj(pp, "parent_process");
	cJSON_AddStringToObject(ppp, "cmd_line",
				"openshell-sandbox --policy /etc/openshell/policy.yaml");
	cJSON_AddStringToObject(ppp, "name", "openshell-sandbox");
	cJSON_AddNumberToObject(ppp, "pid", 1);
	cJSON_AddNumberToObject(pp, "pid", 4100);
	cJSON_AddNumberToObject(p, "pid", 4242);
	cJSON_AddStringToObject(root, "category_name", "Network Activity");
	cJSON_AddNumberToObject(root, "category_uid", 4);
	cJSON_AddStringToObject(root, "class_name", "Network Activity");
	cJSON_AddNumberToObject(root, "class_uid", 4001);
	cJSON *dev = obj(root, "device");
	cJSON_AddStringToObject(dev, "hostname", "sandbox-7f3a");
	cJSON_AddStringToObject(dev, "ip", "10.200.0.2");
	cJSON_AddStringToObject(dev, "type", "Virtual");
	cJSON_AddNumberToObject(dev, "type_id", 6);
	cJSON_AddStringToObject(root, "disposition", "Allowed");
	cJSON_AddNumberToObject(root, "disposition_id", 1);
	cJSON *dst = obj(root, "dst_endpoint");
	cJSON_AddStringToObject(dst, "hostname", "api.github.com");
	cJSON_AddStringToObject(dst, "ip", "140.82.112.5");
	cJSON_AddNumberToObject(dst, "port", 443);
	cJSON *fr = obj(root, "firewall_rule");
	cJSON_AddStringToObject(fr, "name", "github-api");
	cJSON_AddStringToObject(fr, "uid", "policy:network:github-api");
	cJSON_AddStringToObject(root, "message",
				"CONNECT api.github.com:443 allowed by policy github-api");
	cJSON *md = obj(root, "metadata");
	cJSON_AddStringToObject(md, "event_code", "CONNECT_ALLOW");
	cJSON *prod = obj(md, "product");
	cJSON_AddStringToObject(prod, "name", "OpenShell Sandbox");
	cJSON_AddStringToObject(prod, "vendor_name", "OpenShell");
	cJSON_AddStringToObject(prod, "version", "0.1.0");
	const char *profiles[] = {"container", "host", "network_proxy", "security_control"};
	cJSON_AddItemToObject(md, "profiles", cJSON_CreateStringArray(profiles, 4));
	cJSON_AddStringToObject(md, "version", "1.7.0");
	cJSON *px = obj(root, "proxy_endpoint");
	cJSON_AddStringToObject(px, "hostname", "openshell-proxy");
	cJSON_AddStringToObject(px, "ip", "10.200.0.1");
	cJSON_AddNumberToObject(px, "port", 3128);
	cJSON_AddStringToObject(root, "severity", "Informational");
	cJSON_AddNumberToObject(root, "severity_id", 1);
	cJSON *src = obj(root, "src_endpoint");
	cJSON_AddStringToObject(src, "hostname", "sandbox-7f3a");
	cJSON_AddStringToObject(src, "ip", "10.200.0.2");
	cJSON_AddNumberToObject(src, "port", 51234);
	cJSON_AddNumberToObject(root, "time", (double)time_ms);
	cJSON_AddStringToObject(root, "type_name", "Network Activity: Open");
	cJSON_AddNumberToObject(root, "type_uid", 400101);
	return root;
}

/* ------------------------------------------------------------------ main */

/* CPU time of this thread: time spent descheduled (other jobs on a shared
 * machine) is not counted, which keeps the ratio stable under load. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct ocsf_network_activity ev;
static char buf[OCSF_JSON_MAX];

#define ROUNDS 5

/* One timed round of each contender; returns ns/event, adds output bytes. */
__attribute__((noinline)) static double round_ours(long n, size_t *total, bool *ok)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		size_t l = 0;
		ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS + i);
		if (ocsf_serialize(&ev.ev, buf, sizeof(buf), &l) != 0)
			*ok = false;
		*total += l;
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double round_serialize_only(long n, size_t *total, bool *ok)
{
	ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		size_t l = 0;
		if (ocsf_serialize(&ev.ev, buf, sizeof(buf), &l) != 0)
			*ok = false;
		*total += l;
	}
	return (now_ns() - t0) / (double)n;
}

/* The whole log-site path: build the event, then osh_emit() it (enrich,
 * shorthand, JSON, enqueue) into a running runtime whose writer is held,
 * so only the site's thread works inside the round. */
__attribute__((noinline)) static double round_site(long n, size_t *total, bool *ok)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS + i);
		if (osh_emit(&ev) != 0)
			*ok = false;
		*total += 1;
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double round_cjson(long n, size_t *total, bool *ok)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		cJSON *t = cjson_build(OCSF_BENCH_TIME_MS + i);
		char *s = cJSON_PrintUnformatted(t);
		if (!s) {
			*ok = false;
		} else {
			*total += strlen(s);
			cJSON_free(s);
		}
		cJSON_Delete(t);
	}
	return (now_ns() - t0) / (double)n;
}

static char logdir[] = "/tmp/ocsf-bench-XXXXXX";

/* A runtime like the supervisor's (context set, JSONL on), logging into
 * `logdir` with a queue that holds a whole round. */
static int site_start(void)
{
	struct osh_emit_config cfg;

	if (osh_ctx_set_sandbox("3f1c2a9b7d6e", "agent") != 0 ||
	    osh_ctx_set_image("openshell/agent", "sha256:5d41402abc4b2a76") != 0 ||
	    osh_ctx_set_hostname("sandbox-7f3a") != 0 ||
	    osh_ctx_set_product("OpenShell Sandbox", "OpenShell", "0.1.0") != 0 ||
	    osh_ctx_set_proxy("10.200.0.1", 3128) != 0)
		return -1;
	osh_emit_config_default(&cfg);
	cfg.log_dir = logdir;
	cfg.jsonl = true;
	cfg.stderr_enabled = false;
	cfg.rotate_bytes = 0;
	cfg.rotate_daily = false;
	cfg.queue_bytes = (size_t)256 << 20;
	return osh_emit_init(&cfg);
}

static void site_stop(void)
{
	char p[sizeof(logdir) + 32];

	osh_emit_shutdown();
	osh_ctx_reset();
	snprintf(p, sizeof(p), "%s/openshell.log", logdir);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/openshell-ocsf.log", logdir);
	(void)unlink(p);
	(void)rmdir(logdir);
}

static double min2(double a, double b)
{
	return a < b ? a : b;
}

int main(int argc, char **argv)
{
	long n = 50000;
	bool check = false, print = false;
	int rc = 1;
	size_t len = 0;
	char *cj = NULL;
	bool started = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			char *end;
			n = strtol(argv[++i], &end, 10);
			if (*end || n <= 0) {
				fprintf(stderr, "ocsf-bench: -n needs a positive number\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (strcmp(argv[i], "--print") == 0) {
			print = true;
		} else {
			fprintf(stderr, "usage: ocsf-bench [-n N] [--check] [--print]\n");
			return 2;
		}
	}

	/* Equivalence first. */
	ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS);
	int err = ocsf_serialize(&ev.ev, buf, sizeof(buf), &len);
	if (err) {
		fprintf(stderr, "ocsf-bench: serialize failed: %s\n", osh_strerror(err));
		goto out;
	}
	cJSON *tree = cjson_build(OCSF_BENCH_TIME_MS);
	cj = cJSON_PrintUnformatted(tree);
	cJSON_Delete(tree);
	if (!cj || strlen(cj) != len || memcmp(cj, buf, len) != 0) {
		fprintf(stderr,
			"ocsf-bench: cJSON output differs from ours\nours:  %.*s\ncjson: %s\n",
			(int)len, buf, cj ? cj : "(null)");
		goto out;
	}

	if (print) {
		/* Just the event, as one JSONL line (for ocsf-validate). */
		printf("%.*s\n", (int)len, buf);
		rc = 0;
		goto out;
	}

	/* The site rounds emit into a real runtime (JSONL on, a fresh log
	 * directory) whose writer is held during each round and drained
	 * between rounds, outside the timing. */
	if (!mkdtemp(logdir) || site_start() != 0) {
		fprintf(stderr, "ocsf-bench: cannot start the emission runtime in %s\n", logdir);
		goto out;
	}
	started = true;

	/* Best of ROUNDS rounds each, interleaved; allocations counted over
	 * all rounds. */
	bool ok = true, site_ok = true;
	size_t total = 0, ours_allocs = 0, cjson_allocs = 0, site_allocs = 0;
	double ours = 1e30, ser_only = 1e30, cjs = 1e30, site = 1e30;
	for (int r = 0; r < ROUNDS; r++) {
		size_t a0 = n_allocs;
		ours = min2(ours, round_ours(n, &total, &ok));
		ser_only = min2(ser_only, round_serialize_only(n, &total, &ok));
		ours_allocs += n_allocs - a0;
		osh_emit_test_stall_writer(true);
		size_t s0 = n_allocs;
		site = min2(site, round_site(n, &total, &site_ok));
		site_allocs += n_allocs - s0;
		osh_emit_test_stall_writer(false);
		if (osh_emit_flush(60000) != 0)
			site_ok = false;
		size_t c0 = n_allocs;
		cjs = min2(cjs, round_cjson(n, &total, &ok));
		cjson_allocs += n_allocs - c0;
	}
	if (!ok) {
		fprintf(stderr, "ocsf-bench: a serialization failed\n");
		goto out;
	}
	struct osh_emit_stats st;
	osh_emit_stats_get(&st);
	if (!site_ok || st.emitted_while_enabled != (uint64_t)n * ROUNDS || st.dropped != 0) {
		fprintf(stderr, "ocsf-bench: site rounds: %llu of %ld events queued with JSON\n",
			(unsigned long long)st.emitted_while_enabled, n * ROUNDS);
		goto out;
	}
	double iters = (double)n * ROUNDS;
	printf("event_bytes %zu bytes\n", len);
	printf("iterations %ld x%d rounds\n", n, ROUNDS);
	printf("ocsf_build_serialize %.1f ns/event\n", ours);
	printf("ocsf_serialize_only %.1f ns/event\n", ser_only);
	printf("site_build_emit %.1f ns/event\n", site);
	printf("cjson_build_print %.1f ns/event\n", cjs);
	printf("speedup_vs_cjson %.1f x\n", cjs / ours);
	printf("ocsf_heap_allocs %.3f allocs/event\n", (double)ours_allocs / (iters * 2));
	printf("site_heap_allocs %.3f allocs/event\n", (double)site_allocs / iters);
	printf("cjson_heap_allocs %.1f allocs/event\n", (double)cjson_allocs / iters);
	printf("alloc_counting %s method\n", COUNTING);
	printf("checksum %zu bytes\n", total);
	rc = 0;
	if (check && ours_allocs + site_allocs != 0) {
		fprintf(stderr, "ocsf-bench: %zu heap allocations on the emit path\n",
			ours_allocs + site_allocs);
		rc = 1;
	}
out:
	if (started)
		site_stop();
	cJSON_free(cj);
	return rc;
}
