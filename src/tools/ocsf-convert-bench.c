/* ocsf-convert-bench - cost of the down-version conversion per event, as a
 * ratio against plain serialization of the same event in the same run.
 *
 * DESIGN: the representative event is ocsf-bench's CONNECT-allow Network
 * Activity (ocsf_bench_event.h, 1.4 KB of JSON), plus the maximal Network
 * Activity sample (every attribute of the class and its objects, ~27 KB) as
 * the worst case. Per event: serialization of the built event (the
 * baseline: what every JSONL line costs anyway), then ocsf_convert_json() of
 * that JSON to each target (parse + convert + write + free, everything the
 * JSONL writer pays per line). Times are per-thread CPU time, best of
 * ROUNDS rounds, so other jobs on a shared machine do not count. Every
 * conversion is checked to succeed and name its version before timing.
 *
 * Usage: ocsf-convert-bench [-n N]
 * Prints `name value unit` lines; exit 1 if a conversion fails.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ocsf.h"
#include "ocsf_bench_event.h"
#include "ocsf_convert.h"
#include "ocsf_gen.h"
#include "ocsf_sample.h"

#define ROUNDS	   5
#define MAX_JSON   (1u << 20)
#define ARENA_SIZE (16u << 20)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char json[MAX_JSON];

__attribute__((noinline)) static double round_serialize(const struct ocsf_event *ev, long n,
							bool *ok)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		size_t l = 0;

		if (ocsf_serialize(ev, json, sizeof(json), &l) != 0)
			*ok = false;
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double round_convert(const char *in, size_t len,
						      enum ocsf_version v, long n, bool *ok)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		char *out = NULL;
		size_t out_len = 0;

		if (ocsf_convert_json(in, len, v, &out, &out_len, NULL, 0) != 0)
			*ok = false;
		free(out);
	}
	return (now_ns() - t0) / (double)n;
}

static double best(double a, double b)
{
	return a < b ? a : b;
}

/* One event: serialize baseline, then each target; prints its lines. */
static bool bench(const char *name, const struct ocsf_event *ev, long n)
{
	bool ok = true;
	size_t len = 0;
	char *copy;
	double ser = 1e300, conv[OCSF_VERSION_COUNT];

	if (ocsf_serialize(ev, json, sizeof(json), &len) != 0) {
		fprintf(stderr, "ocsf-convert-bench: %s does not serialize\n", name);
		return false;
	}
	copy = malloc(len);
	if (copy == NULL)
		return false;
	memcpy(copy, json, len);
	for (int v = 0; v < OCSF_VERSION_COUNT; v++) {
		char *out = NULL;
		size_t out_len = 0;
		char reason[512], want[32];
		int rc = ocsf_convert_json(copy, len, (enum ocsf_version)v, &out, &out_len, reason,
					   sizeof(reason));

		snprintf(want, sizeof(want), "\"version\":\"%s\"",
			 ocsf_version_name((enum ocsf_version)v));
		if (rc != 0 || strstr(out, want) == NULL) {
			fprintf(stderr, "ocsf-convert-bench: %s to %s: %s\n", name,
				ocsf_version_name((enum ocsf_version)v),
				rc ? reason : "no version");
			ok = false;
		} else {
			printf("%s_bytes_%s %zu bytes\n", name,
			       ocsf_version_name((enum ocsf_version)v), out_len);
		}
		free(out);
		conv[v] = 1e300;
	}
	for (int r = 0; r < ROUNDS && ok; r++) {
		ser = best(ser, round_serialize(ev, n, &ok));
		for (int v = 0; v < OCSF_VERSION_COUNT; v++)
			conv[v] =
			    best(conv[v], round_convert(copy, len, (enum ocsf_version)v, n, &ok));
	}
	if (ok) {
		printf("%s_serialize_ns_per_event %.0f ns\n", name, ser);
		for (int v = 0; v < OCSF_VERSION_COUNT; v++) {
			const char *vn = ocsf_version_name((enum ocsf_version)v);

			printf("%s_convert_%s_ns_per_event %.0f ns\n", name, vn, conv[v]);
			printf("%s_convert_%s_ratio_vs_serialize %.2f x\n", name, vn,
			       conv[v] / ser);
		}
	}
	free(copy);
	return ok;
}

int main(int argc, char **argv)
{
	long n = 20000;
	static struct ocsf_network_activity ev;
	struct ocsf_event *max = NULL;
	char *arena = NULL;
	bool ok;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			n = strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: ocsf-convert-bench [-n N]\n");
			return 2;
		}
	}
	if (n < 1) {
		fprintf(stderr, "ocsf-convert-bench: -n needs a positive number\n");
		return 2;
	}
	ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS);
	printf("events_per_round %ld events\n", n);
	ok = bench("representative", &ev.ev, n);
	arena = malloc(ARENA_SIZE);
	max = aligned_alloc(16, (sizeof(struct ocsf_network_activity) + 15) & ~(size_t)15);
	if (arena != NULL && max != NULL) {
		ocsf_event_init(max, sizeof(struct ocsf_network_activity),
				&ocsf_network_activity_class);
	}
	if (arena != NULL && max != NULL && ocsf_event_use_buffer(max, arena, ARENA_SIZE) == 0 &&
	    ocsf_sample_build(max, OCSF_SAMPLE_MAXIMAL, NULL, NULL) == 0) {
		/* the product every emitted event carries (runtime enrichment) */
		ocsf_product_set_vendor_name(ocsf_metadata_product(ocsf_network_activity_metadata(
						 (struct ocsf_network_activity *)(void *)max)),
					     "OpenShell");
		ok = bench("maximal", max, n / 20 > 0 ? n / 20 : 1) && ok;
	} else {
		fprintf(stderr, "ocsf-convert-bench: maximal sample does not build\n");
		ok = false;
	}
	free(max);
	free(arena);
	return ok ? 0 : 1;
}
