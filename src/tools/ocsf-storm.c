/* ocsf-storm - stress the emission runtime: N producer threads emit events of
 * every class (hostile values included) as fast as they can while another
 * thread toggles JSONL export on and off; prints the runtime's counters so a
 * checker can reconcile them with the files.
 *
 *   ocsf-storm --dir DIR [--threads 4] [--toggles 1000] [--min-events 20000]
 *              [--queue-bytes N] [--hostile-every 5]
 *
 * Output (stdout), one `name value` per line:
 *   emitted N                 events accepted into the queue
 *   emitted_while_enabled M   of those, accepted with their JSON line
 *   dropped K                 events refused because the queue was full
 *   reports R                 loss-report events the writer added
 *   reports_jsonl RJ          of those, also written to the JSONL file
 *   invalid I, write_errors W, toggles T
 * Expected files: DIR/openshell.log holds exactly N + R lines, and
 * DIR/openshell-ocsf.log exactly M + RJ lines (rotation is off).
 *
 * DESIGN: "emitted while enabled" is the runtime's own definition (JSONL on
 * both when the producer started formatting and when it committed the record
 * under the queue lock); the tool only reads the counters. Producers stop once
 * the toggler has finished AND each produced at least --min-events attempts;
 * pacing by event counts (below) makes every toggle window overlap traffic. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit_samples.h"
#include "osh_emit.h"
#include "osh_parse.h"

struct opts {
	const char *dir;
	unsigned threads;
	unsigned toggles;
	unsigned long min_events;
	size_t queue_bytes;
	unsigned hostile_every;
};

static _Atomic bool toggles_done;
static struct opts o = {NULL, 4, 1000, 20000, (size_t)8 << 20, 5};

/* Pacing between producers and the toggler (not synchronisation of the
 * runtime under test): every toggle waits until TOGGLE_STRIDE more events
 * were attempted, and producers never run more than 2 strides ahead of the
 * toggler, so each on/off window overlaps real traffic and a starved toggler
 * cannot let the run grow without bound on a busy machine. */
#define TOGGLE_STRIDE 40u

static _Atomic uint64_t attempted;
static _Atomic uint64_t last_toggle_at; /* `attempted` at the last toggle */

static void *producer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	unsigned long n = 0;

	while (n < o.min_events || !atomic_load(&toggles_done)) {
		unsigned i = (unsigned)(n * o.threads + id);

		while (!atomic_load(&toggles_done) &&
		       atomic_load(&attempted) >=
			   atomic_load(&last_toggle_at) + (uint64_t)2 * TOGGLE_STRIDE)
			sched_yield();
		(void)osh_emit_sample(i, o.hostile_every > 0 && i % o.hostile_every == 0);
		atomic_fetch_add(&attempted, 1);
		n++;
	}
	return NULL;
}

static void *toggler(void *arg)
{
	uint64_t last = 0;

	(void)arg;
	for (unsigned t = 0; t < o.toggles; t++) {
		while (atomic_load(&attempted) < last + TOGGLE_STRIDE)
			sched_yield();
		last = atomic_load(&attempted);
		osh_emit_set_jsonl(t % 2 == 0);
		atomic_store(&last_toggle_at, last);
	}
	/* --toggles 0: JSONL stays on for the whole run (every event in both
	 * files, e.g. to collect one JSON line of every sample shape) */
	if (o.toggles > 0)
		osh_emit_set_jsonl(false);
	atomic_store(&toggles_done, true);
	return NULL;
}

static int parse_ul(const char *name, const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v = 0;

	if (osh_parse_u64(s, 0, max, &v) != 0) {
		fprintf(stderr, "ocsf-storm: bad value for %s: '%s' (a number from 0 to %lu)\n",
			name, s, max);
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

static const char usage[] =
    "usage: ocsf-storm --dir DIR [--threads 4] [--toggles 1000] [--min-events 20000]\n"
    "                  [--queue-bytes N] [--hostile-every 5]\n"
    "Emits events from --threads producers while toggling JSONL --toggles times\n"
    "(0: JSONL on for the whole run),\n"
    "then prints the emission counters as JSON (see docs/logging.md).\n";

/* Returns 0 to run, 1 for --help (usage printed), -1 on a bad argument. */
static int parse_args(int argc, char **argv)
{
	unsigned long v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "ocsf-storm: %s needs a value\n", a);
			return -1;
		}
		if (strcmp(a, "--dir") == 0) {
			o.dir = argv[++i];
		} else if (strcmp(a, "--threads") == 0) {
			if (parse_ul(a, argv[++i], 256, &v) != 0 || v == 0)
				return -1;
			o.threads = (unsigned)v;
		} else if (strcmp(a, "--toggles") == 0) {
			if (parse_ul(a, argv[++i], 10000000, &v) != 0)
				return -1;
			o.toggles = (unsigned)v;
		} else if (strcmp(a, "--min-events") == 0) {
			if (parse_ul(a, argv[++i], 1000000000, &v) != 0)
				return -1;
			o.min_events = v;
		} else if (strcmp(a, "--queue-bytes") == 0) {
			if (parse_ul(a, argv[++i], (unsigned long)1 << 34, &v) != 0)
				return -1;
			o.queue_bytes = v;
		} else if (strcmp(a, "--hostile-every") == 0) {
			if (parse_ul(a, argv[++i], 1000000, &v) != 0)
				return -1;
			o.hostile_every = (unsigned)v;
		} else {
			fprintf(stderr, "ocsf-storm: unknown option '%s'\n", a);
			return -1;
		}
	}
	if (o.dir == NULL) {
		fprintf(stderr, "ocsf-storm: --dir is required\n%s", usage);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct osh_emit_config cfg;
	struct osh_emit_stats st;
	pthread_t *th = NULL, tog;
	int rc = 1;

	switch (parse_args(argc, argv)) {
	case 0:
		break;
	case 1:
		rc = 0;
		goto out;
	default:
		rc = 2;
		goto out;
	}
	th = calloc(o.threads, sizeof(*th));
	if (th == NULL)
		goto out;
	osh_emit_config_default(&cfg);
	cfg.log_dir = o.dir;
	cfg.rotate_bytes = 0;
	cfg.rotate_daily = false;
	cfg.stderr_enabled = false;
	cfg.queue_bytes = o.queue_bytes;
	cfg.jsonl = o.toggles == 0;
	if (osh_ctx_set_sandbox("storm-sandbox-id", "storm") != 0 ||
	    osh_ctx_set_image("openshell/storm:latest", "sha256:0123456789ab") != 0 ||
	    osh_ctx_set_proxy("127.0.0.1", 3128) != 0)
		goto out;
	if (osh_emit_init(&cfg) != 0) {
		fprintf(stderr, "ocsf-storm: cannot start the emission runtime\n");
		goto out;
	}
	for (unsigned t = 0; t < o.threads; t++)
		pthread_create(&th[t], NULL, producer, (void *)(uintptr_t)t);
	pthread_create(&tog, NULL, toggler, NULL);
	pthread_join(tog, NULL);
	for (unsigned t = 0; t < o.threads; t++)
		pthread_join(th[t], NULL);
	if (osh_emit_flush(60000) != 0)
		fprintf(stderr, "ocsf-storm: flush timed out\n");
	osh_emit_shutdown();
	osh_emit_stats_get(&st);
	printf("emitted %llu\n", (unsigned long long)st.emitted);
	printf("emitted_while_enabled %llu\n", (unsigned long long)st.emitted_while_enabled);
	printf("dropped %llu\n", (unsigned long long)st.dropped);
	printf("reports %llu\n", (unsigned long long)st.reports);
	printf("reports_jsonl %llu\n", (unsigned long long)st.reports_jsonl);
	printf("invalid %llu\n", (unsigned long long)st.invalid);
	printf("write_errors %llu\n", (unsigned long long)st.write_errors);
	printf("toggles %u\n", o.toggles);
	rc = st.invalid == 0 && st.write_errors == 0 ? 0 : 2;
out:
	free(th);
	osh_ctx_reset();
	return rc;
}
