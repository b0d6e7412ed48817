/* osh-emit-bench - throughput and latency of the emission runtime, with the
 * raw write() ceiling measured in the same run.
 *
 *   osh-emit-bench --dir DIR [--events 200000] [--latency-events 20000]
 *
 * Prints `name value unit` lines (see docs/logging.md "Bench"):
 *   sustained_both_eps        events/s, JSONL on, producer + writer pinned to
 *                             one CPU, producer retries on a full queue
 *   sustained_shorthand_eps   same with JSONL off
 *   sustained_both_mbps       bytes of both files per second in that run
 *   raw_ceiling_mbps          the same bytes appended with 64 KiB write()s
 *                             (best of 3, like sink_drain_mbps; sync before)
 *   sustained_ceiling_ratio   sustained_both_mbps / raw_ceiling_mbps
 *   sink_drain_mbps           writer alone: records queued while the writer
 *                             was stalled, then drained to both files
 *   sink_ceiling_ratio        sink_drain_mbps / raw_ceiling_mbps
 *   sink_ceiling_cpu_ratio    the same per CPU second (process CPU, user +
 *                             system): less disturbed by other tenants
 *   emit_p50/p99_{healthy,stalled}_ns  osh_emit() latency per call (event
 *                             already built) with the writer running / stalled
 *                             (alternating blocks of 250 calls, 20 us apart)
 *   stalled_p99_ratio         emit_p99_stalled_ns / emit_p99_healthy_ns
 *   emit_sparse_p50/p99_ns    one whole log site (build the 1.3 KB CONNECT
 *                             event + osh_emit(), JSONL on) every 100 us,
 *                             writer healthy, queue pre-faulted
 *   emit_burst_p50/p99_ns     the same site back to back (blocks of 500
 *                             sparse and 500 burst samples alternate)
 *   sparse_burst_ratio        emit_sparse_p50_ns / emit_burst_p50_ns
 *   sparse_wakeups_per_1000   writer wake-ups producers paid per 1,000
 *                             sparse events (osh_emit_stats.wakeups)
 *
 * DESIGN: every phase starts a fresh runtime in its own sub-directory, so the
 * phases do not share queue state or page-cache residue of the same file.
 * Latency samples are taken with a queue large enough that no sample hits a
 * full queue in either mode, so the two distributions compare the same work,
 * and every page of that queue is touched before the first sample (a fresh
 * queue's first-touch page faults are start-up cost, not emit cost).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "emit_samples.h"
#include "ocsf_bench_event.h"
#include "ocsf_gen.h"
#include "osh_emit.h"

static const char *base_dir;
static unsigned long n_events = 200000;
static unsigned long n_lat = 20000;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds used by the whole process (all threads, user + system): the
 * work a phase cost, whatever else the machine was running. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void phase_dir(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", base_dir, name);
	if (mkdir(out, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "osh-emit-bench: mkdir %s: %s\n", out, strerror(errno));
		exit(1);
	}
}

static off_t fsize(const char *dir, const char *file)
{
	char p[4200];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	return stat(p, &st) == 0 ? st.st_size : 0;
}

static void start(const char *dir, bool jsonl, size_t queue)
{
	struct osh_emit_config cfg;

	osh_emit_config_default(&cfg);
	cfg.log_dir = dir;
	cfg.jsonl = jsonl;
	cfg.stderr_enabled = false;
	cfg.rotate_bytes = 0;
	cfg.rotate_daily = false;
	cfg.queue_bytes = queue;
	if (osh_emit_init(&cfg) != 0) {
		fprintf(stderr, "osh-emit-bench: init failed\n");
		exit(1);
	}
}

/* Waits until every queued line is in its file (the writer flushed its
 * buffers with write()); returns that moment. The runtime is shut down
 * after it: tearing down the queue (unmapping up to 1 GiB) is not sink
 * work, so no phase counts it. */
static double finish(double *cpu)
{
	double t;

	if (osh_emit_flush(120000) != 0)
		fprintf(stderr, "osh-emit-bench: flush timed out\n");
	t = now_s();
	if (cpu != NULL)
		*cpu = cpu_s();
	osh_emit_shutdown();
	return t;
}

/* Emits n samples, retrying on a full queue (sustained = nothing dropped). */
static void pump(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++) {
		while (osh_emit_sample((unsigned)i, false) == OSH_EFULL)
			sched_yield();
	}
}

/* Returns the elapsed seconds of a sustained run; *bytes = both files,
 * *cpu = CPU seconds of producer and writer together. */
static double sustained(const char *name, bool jsonl, double *bytes, double *cpu)
{
	char dir[4096];
	double t0, t1, c0, c1;

	phase_dir(name, dir, sizeof(dir));
	start(dir, jsonl, (size_t)8 << 20);
	t0 = now_s();
	c0 = cpu_s();
	pump(n_events);
	t1 = finish(&c1);
	*cpu = c1 - c0;
	*bytes = (double)(fsize(dir, "openshell.log") + fsize(dir, "openshell-ocsf.log"));
	return t1 - t0;
}

/* Appends the bytes of `src` files to fresh files with 64 KiB writes. */
static double raw_ceiling(const char *src_dir, double *bytes, double *cpu)
{
	static const char *files[] = {"openshell.log", "openshell-ocsf.log"};
	char dir[4096], p[4200];
	char *data[2] = {NULL, NULL};
	size_t len[2] = {0, 0};
	double t0, t1, c0;

	phase_dir("raw", dir, sizeof(dir));
	for (int f = 0; f < 2; f++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[f]);
		(void)unlink(p);
	}
	for (int f = 0; f < 2; f++) {
		FILE *in;

		snprintf(p, sizeof(p), "%s/%s", src_dir, files[f]);
		in = fopen(p, "rb");
		if (in == NULL)
			continue;
		fseek(in, 0, SEEK_END);
		len[f] = (size_t)ftell(in);
		fseek(in, 0, SEEK_SET);
		data[f] = malloc(len[f] + 1);
		if (data[f] == NULL || fread(data[f], 1, len[f], in) != len[f])
			exit(1);
		fclose(in);
	}
	t0 = now_s();
	c0 = cpu_s();
	for (int f = 0; f < 2; f++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%s", dir, files[f]);
		fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
		if (fd < 0)
			exit(1);
		for (size_t off = 0; off < len[f];) {
			size_t n = len[f] - off < 65536 ? len[f] - off : 65536;
			ssize_t w = write(fd, data[f] + off, n);

			if (w <= 0)
				exit(1);
			off += (size_t)w;
		}
		close(fd);
	}
	t1 = now_s();
	*cpu = cpu_s() - c0;
	*bytes = (double)(len[0] + len[1]);
	free(data[0]);
	free(data[1]);
	return t1 - t0;
}

/* Writer alone: queue everything while stalled, then time the drain. */
static double sink_drain(double *bytes, double *cpu)
{
	char dir[4096];
	unsigned long n = n_events / 2;
	double t0, t1, c0;

	phase_dir("drain", dir, sizeof(dir));
	{
		char p[4200];

		snprintf(p, sizeof(p), "%s/openshell.log", dir);
		(void)unlink(p);
		snprintf(p, sizeof(p), "%s/openshell-ocsf.log", dir);
		(void)unlink(p);
	}
	start(dir, true, (size_t)1 << 30);
	osh_emit_test_stall_writer(true);
	for (unsigned long i = 0; i < n; i++) {
		if (osh_emit_sample((unsigned)i, false) != 0) {
			fprintf(stderr, "osh-emit-bench: drain phase queue too small\n");
			exit(1);
		}
	}
	t0 = now_s();
	c0 = cpu_s();
	osh_emit_test_stall_writer(false);
	t1 = finish(cpu);
	*cpu -= c0;
	*bytes = (double)(fsize(dir, "openshell.log") + fsize(dir, "openshell-ocsf.log"));
	return t1 - t0;
}

/* Touches every page of a fresh queue: fills it while the writer is held
 * (until the first refused record), then lets the writer drain it. */
static void prefault(void)
{
	osh_emit_test_stall_writer(true);
	for (unsigned i = 0; osh_emit_sample(i, false) == 0; i++)
		;
	osh_emit_test_stall_writer(false);
	if (osh_emit_flush(120000) != 0) {
		fprintf(stderr, "osh-emit-bench: prefault flush timed out\n");
		exit(1);
	}
}

static uint64_t dropped_now(void)
{
	struct osh_emit_stats st;

	osh_emit_stats_get(&st);
	return st.dropped + st.invalid;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void percentiles(int64_t *lat, unsigned long n, int64_t *p50, int64_t *p99)
{
	qsort(lat, n, sizeof(*lat), cmp_i64);
	*p50 = lat[n / 2];
	*p99 = lat[(n * 99) / 100];
}

/* osh_emit() latency of n_lat calls with the writer healthy and n_lat with
 * it stalled, in alternating blocks of 250 on one runtime, so both
 * distributions see the same machine (a shared VM's noise comes in bursts
 * longer than a phase). After a stalled block the writer drains what piled
 * up while the next healthy block runs. */
#define LAT_BLOCK 250
static void latency(int64_t *h50, int64_t *h99, int64_t *s50, int64_t *s99)
{
	char dir[4096];
	int64_t *lat[2] = {calloc(n_lat, sizeof(int64_t)), calloc(n_lat, sizeof(int64_t))};
	unsigned long n[2] = {0, 0};
	struct timespec gap = {0, 20000};

	if (lat[0] == NULL || lat[1] == NULL)
		exit(1);
	phase_dir("lat", dir, sizeof(dir));
	start(dir, true, (size_t)64 << 20);
	prefault();
	for (unsigned long i = 0; i < 2 * n_lat; i++) {
		struct ocsf_network_activity ev;
		struct ocsf_network_endpoint *dst;
		int stalled = (int)(i / LAT_BLOCK % 2);
		int64_t t0;

		if (i % LAT_BLOCK == 0)
			osh_emit_test_stall_writer(stalled != 0);
		ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "LAT");
		ocsf_network_activity_set_action_id(&ev, OCSF_ACTION_ID_ALLOWED);
		ocsf_process_set_name(ocsf_actor_process(ocsf_network_activity_actor(&ev)), "curl");
		ocsf_process_set_pid(ocsf_actor_process(ocsf_network_activity_actor(&ev)), 42);
		dst = ocsf_network_activity_dst_endpoint(&ev);
		ocsf_network_endpoint_set_domain(dst, "api.github.com");
		ocsf_network_endpoint_set_port(dst, 443);
		ocsf_firewall_rule_set_name(ocsf_network_activity_firewall_rule(&ev), "github");
		t0 = now_ns();
		if (osh_emit(&ev) != 0) {
			fprintf(stderr, "osh-emit-bench: latency sample dropped\n");
			exit(1);
		}
		if (n[stalled] < n_lat)
			lat[stalled][n[stalled]++] = now_ns() - t0;
		/* A steady, realistic rate (not a flood). */
		nanosleep(&gap, NULL);
	}
	osh_emit_test_stall_writer(false);
	(void)finish(NULL);
	percentiles(lat[0], n[0], h50, h99);
	percentiles(lat[1], n[1], s50, s99);
	free(lat[0]);
	free(lat[1]);
}

/* A whole log site at the rate real sites fire: build the representative
 * CONNECT event and emit it (JSONL on), one event every 100 us (sparse) or
 * back to back (burst), with a healthy writer and the supervisor's default
 * 8 MiB queue, pre-faulted. Each sample is one site: build + osh_emit().
 * Sparse and burst blocks of SITE_BLOCK samples alternate on one runtime
 * (each block starts from a drained queue, the drain outside the timing),
 * so both see the same machine. */
#define SITE_BLOCK 500
static uint64_t wakeups_now(void)
{
	struct osh_emit_stats st;

	osh_emit_stats_get(&st);
	return st.wakeups;
}

static void site_latency(int64_t *sp50, int64_t *sp99, int64_t *b50, int64_t *b99,
			 double *sparse_wakes)
{
	uint64_t wakes = 0, w0 = 0;
	static struct ocsf_network_activity ev;
	char dir[4096];
	int64_t *lat[2] = {calloc(n_lat, sizeof(int64_t)), calloc(n_lat, sizeof(int64_t))};
	unsigned long n[2] = {0, 0};
	struct timespec next;
	uint64_t lost0;

	if (lat[0] == NULL || lat[1] == NULL)
		exit(1);
	phase_dir("site", dir, sizeof(dir));
	start(dir, true, (size_t)8 << 20);
	prefault();
	lost0 = dropped_now();
	for (unsigned long i = 0; i < 2 * n_lat; i++) {
		int sparse = (int)(i / SITE_BLOCK % 2);
		int64_t t0;

		if (i % SITE_BLOCK == 0) {
			/* Writer wake-ups paid by the sparse block that ended. */
			if (i > 0 && !sparse)
				wakes += wakeups_now() - w0;
			if (osh_emit_flush(120000) != 0) {
				fprintf(stderr, "osh-emit-bench: flush timed out\n");
				exit(1);
			}
			clock_gettime(CLOCK_MONOTONIC, &next);
			w0 = wakeups_now();
		}
		if (sparse) {
			next.tv_nsec += 100000;
			if (next.tv_nsec >= 1000000000L) {
				next.tv_sec++;
				next.tv_nsec -= 1000000000L;
			}
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) ==
			       EINTR)
				;
		}
		t0 = now_ns();
		ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS);
		if (osh_emit(&ev) != 0) {
			fprintf(stderr, "osh-emit-bench: site sample dropped\n");
			exit(1);
		}
		if (n[sparse] < n_lat)
			lat[sparse][n[sparse]++] = now_ns() - t0;
	}
	if (dropped_now() != lost0) {
		fprintf(stderr, "osh-emit-bench: site phase lost events\n");
		exit(1);
	}
	if ((2 * n_lat - 1) / SITE_BLOCK % 2 == 1) /* the last block was sparse */
		wakes += wakeups_now() - w0;
	*sparse_wakes = 1000.0 * (double)wakes / (double)(n[1] > 0 ? n[1] : 1);
	(void)finish(NULL);
	percentiles(lat[1], n[1], sp50, sp99);
	percentiles(lat[0], n[0], b50, b99);
	free(lat[0]);
	free(lat[1]);
}

static int parse(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		char *end = NULL;

		if (strcmp(argv[i], "--dir") == 0) {
			base_dir = argv[i + 1];
			continue;
		}
		errno = 0;
		unsigned long v = strtoul(argv[i + 1], &end, 10);

		if (errno != 0 || *end != '\0' || v < 100) {
			fprintf(stderr, "osh-emit-bench: bad value for %s\n", argv[i]);
			return -1;
		}
		if (strcmp(argv[i], "--events") == 0)
			n_events = v;
		else if (strcmp(argv[i], "--latency-events") == 0)
			n_lat = v;
		else
			return -1;
	}
	if (base_dir == NULL || argc % 2 == 0) {
		fprintf(stderr,
			"usage: osh-emit-bench --dir DIR [--events N] [--latency-events N]\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	cpu_set_t all, one;
	double t_both, b_both, t_short, b_short, t_raw, b_raw = 0, t_drain, b_drain = 0;
	double c_both, c_short, c_raw = 1e9, b_drain_cpu = 0;
	int64_t h50, h99, s50, s99, sp50, sp99, b50, b99;
	double sparse_wakes = 0;
	char both_dir[4096];

	if (parse(argc, argv) != 0)
		return 2;
	if (osh_ctx_set_sandbox("bench-id", "bench") != 0 ||
	    osh_ctx_set_image("openshell/bench", "sha256:bench") != 0 ||
	    osh_ctx_set_proxy("127.0.0.1", 3128) != 0)
		return 1;
	/* Throughput phases on one core: producer and writer share it. */
	sched_getaffinity(0, sizeof(all), &all);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &one);
			break;
		}
	}
	sched_setaffinity(0, sizeof(one), &one);
	t_both = sustained("both", true, &b_both, &c_both);
	t_short = sustained("shorthand", false, &b_short, &c_short);
	snprintf(both_dir, sizeof(both_dir), "%s/both", base_dir);
	/* The file phases are at the mercy of dirty-page writeback on a shared
	 * machine: sync before each timed run and keep the best of three, for
	 * the ceiling and the writer drain alike. */
	t_raw = t_drain = 1e9;
	for (int rep = 0; rep < 3; rep++) {
		double t, b, c;

		sync();
		t = raw_ceiling(both_dir, &b, &c);
		if (t < t_raw) {
			t_raw = t;
			b_raw = b;
		}
		if (c < c_raw)
			c_raw = c;
		sync();
		t = sink_drain(&b, &c);
		if (b / c > b_drain_cpu)
			b_drain_cpu = b / c;
		if (t < t_drain) {
			t_drain = t;
			b_drain = b;
		}
	}
	sched_setaffinity(0, sizeof(all), &all);
	latency(&h50, &h99, &s50, &s99);
	site_latency(&sp50, &sp99, &b50, &b99, &sparse_wakes);

	printf("events %lu count\n", n_events);
	printf("sustained_both_eps %.0f events/s\n", (double)n_events / t_both);
	printf("sustained_shorthand_eps %.0f events/s\n", (double)n_events / t_short);
	printf("jsonl_on_off_ratio %.3f ratio\n", t_short / t_both);
	printf("sustained_both_mbps %.1f MB/s\n", b_both / t_both / 1e6);
	printf("bytes_per_event %.0f bytes\n", b_both / (double)n_events);
	printf("raw_ceiling_mbps %.1f MB/s\n", b_raw / t_raw / 1e6);
	printf("sustained_ceiling_ratio %.3f ratio\n", (b_both / t_both) / (b_raw / t_raw));
	printf("sustained_both_cpu_eps %.0f events/s\n", (double)n_events / c_both);
	printf("sustained_shorthand_cpu_eps %.0f events/s\n", (double)n_events / c_short);
	printf("cpu_us_per_event_both %.3f us\n", c_both / (double)n_events * 1e6);
	printf("raw_ceiling_cpu_mbps %.1f MB/s\n", b_raw / c_raw / 1e6);
	printf("sustained_ceiling_cpu_ratio %.3f ratio\n", (b_both / c_both) / (b_raw / c_raw));
	printf("sink_drain_mbps %.1f MB/s\n", b_drain / t_drain / 1e6);
	printf("sink_ceiling_ratio %.3f ratio\n", (b_drain / t_drain) / (b_raw / t_raw));
	printf("sink_drain_cpu_mbps %.1f MB/s\n", b_drain_cpu / 1e6);
	printf("sink_ceiling_cpu_ratio %.3f ratio\n", b_drain_cpu / (b_raw / c_raw));
	printf("emit_p50_healthy_ns %lld ns\n", (long long)h50);
	printf("emit_p99_healthy_ns %lld ns\n", (long long)h99);
	printf("emit_p50_stalled_ns %lld ns\n", (long long)s50);
	printf("emit_p99_stalled_ns %lld ns\n", (long long)s99);
	printf("stalled_p99_ratio %.3f ratio\n", (double)s99 / (double)(h99 > 0 ? h99 : 1));
	printf("emit_sparse_p50_ns %lld ns\n", (long long)sp50);
	printf("emit_sparse_p99_ns %lld ns\n", (long long)sp99);
	printf("emit_burst_p50_ns %lld ns\n", (long long)b50);
	printf("emit_burst_p99_ns %lld ns\n", (long long)b99);
	printf("sparse_burst_ratio %.3f ratio\n", (double)sp50 / (double)(b50 > 0 ? b50 : 1));
	printf("sparse_wakeups_per_1000 %.1f wakeups\n", sparse_wakes);
	osh_ctx_reset();
	return 0;
}
