/* ocsf-sample - print minimal and maximal sample events as JSONL.
 *
 * DESIGN: a thin main over ocsf_sample_build() (src/ocsf/ocsf_sample.c):
 * for each selected class, build the event from the descriptors alone,
 * serialize it with the real serializer, print one line. With --stats it
 * reports, per class and per object type, how many settable attributes the
 * maximal build populated, so "every attribute of every class and object"
 * is a number anyone can check. Large events get a heap arena (this is a
 * tool, not the emit path).
 *
 * Usage: ocsf-sample [--class NAME|all] [--minimal|--maximal] [--stats]
 * Without --minimal/--maximal both are printed (minimal first per class).
 * Exit status: 0, 1 if any event failed to build or serialize, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf.h"
#include "ocsf_gen.h"
#include "ocsf_sample.h"

#define ARENA_BYTES (64u << 20)
#define JSON_BYTES  (64u << 20)

struct type_stat {
	const struct ocsf_object *desc;
	unsigned set, settable; /* of the full expansion */
	unsigned instances;
};

struct stats {
	struct type_stat t[1024];
	unsigned n;
};

static void on_object(void *ctx, const struct ocsf_object *desc, unsigned set, unsigned settable,
		      bool full)
{
	struct stats *st = ctx;
	struct type_stat *t = NULL;
	for (unsigned i = 0; i < st->n; i++)
		if (st->t[i].desc == desc)
			t = &st->t[i];
	if (!t && st->n < 1024) {
		t = &st->t[st->n++];
		memset(t, 0, sizeof(*t));
		t->desc = desc;
	}
	if (!t)
		return;
	t->instances++;
	if (full) {
		t->set = set;
		t->settable = settable;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ocsf-sample [--class NAME|all] [--minimal|--maximal] [--stats]\n");
}

static int emit_one(const struct ocsf_class *cls, enum ocsf_sample_mode mode, void *arena,
		    char *json, struct stats *st)
{
	int rc = OSH_ENOMEM;
	size_t len = 0;
	struct ocsf_event *ev = aligned_alloc(16, (cls->object->size + 15) & ~(size_t)15);

	if (!ev)
		goto out;
	ocsf_event_init(ev, cls->object->size, cls);
	rc = ocsf_event_use_buffer(ev, arena, ARENA_BYTES);
	if (rc)
		goto out;
	rc = ocsf_sample_build(ev, mode, st ? on_object : NULL, st);
	if (rc) {
		fprintf(stderr, "ocsf-sample: %s: build failed: %s (%s)\n", cls->object->name,
			osh_strerror(rc), ev->arena.err_what ? ev->arena.err_what : "");
		goto out;
	}
	rc = ocsf_serialize(ev, json, JSON_BYTES, &len);
	if (rc) {
		fprintf(stderr, "ocsf-sample: %s: serialize failed: %s\n", cls->object->name,
			osh_strerror(rc));
		goto out;
	}
	json[len] = '\n';
	if (fwrite(json, 1, len + 1, stdout) != len + 1)
		rc = OSH_EIO;
out:
	free(ev);
	return rc;
}

static void print_stats(const struct ocsf_class *cls, const struct stats *st)
{
	unsigned full_types = 0, set = 0, settable = 0;
	for (unsigned i = 0; i < st->n; i++) {
		const struct type_stat *t = &st->t[i];
		if (!t->settable && !t->set)
			continue;
		full_types++;
		set += t->set;
		settable += t->settable;
	}
	fprintf(stderr, "class %s: %u object types expanded, attributes populated %u/%u\n",
		cls->object->name, full_types, set, settable);
	for (unsigned i = 0; i < st->n; i++) {
		const struct type_stat *t = &st->t[i];
		fprintf(stderr, "  %-28s %4u/%-4u instances %u%s\n", t->desc->name, t->set,
			t->settable, t->instances, t->set < t->settable ? "  INCOMPLETE" : "");
	}
}

int main(int argc, char **argv)
{
	const char *want = "all";
	bool minimal = true, maximal = true, stats = false;
	int rc = 0, matched = 0;
	void *arena = NULL;
	char *json = NULL;
	struct stats *st = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--class") == 0 && i + 1 < argc) {
			want = argv[++i];
		} else if (strncmp(argv[i], "--class=", 8) == 0) {
			want = argv[i] + 8;
		} else if (strcmp(argv[i], "--minimal") == 0) {
			minimal = true;
			maximal = false;
		} else if (strcmp(argv[i], "--maximal") == 0) {
			maximal = true;
			minimal = false;
		} else if (strcmp(argv[i], "--stats") == 0) {
			stats = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "ocsf-sample: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	arena = malloc(ARENA_BYTES);
	json = malloc(JSON_BYTES + 1);
	st = calloc(1, sizeof(*st));
	if (!arena || !json || !st) {
		fprintf(stderr, "ocsf-sample: out of memory\n");
		rc = 1;
		goto out;
	}
	for (size_t c = 0; c < ocsf_all_classes_count; c++) {
		const struct ocsf_class *cls = ocsf_all_classes[c];
		if (strcmp(want, "all") != 0 && strcmp(want, cls->object->name) != 0)
			continue;
		matched++;
		if (minimal && emit_one(cls, OCSF_SAMPLE_MINIMAL, arena, json, NULL))
			rc = 1;
		if (maximal) {
			memset(st, 0, sizeof(*st));
			if (emit_one(cls, OCSF_SAMPLE_MAXIMAL, arena, json, stats ? st : NULL))
				rc = 1;
			else if (stats)
				print_stats(cls, st);
		}
	}
	if (!matched) {
		fprintf(stderr, "ocsf-sample: no class named '%s' (try --class all)\n", want);
		rc = 2;
	}
out:
	free(arena);
	free(json);
	free(st);
	return rc;
}
