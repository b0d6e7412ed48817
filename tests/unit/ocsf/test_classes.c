/* test_classes.c - the runtime over the generated model (generated/c/):
 * identity fill for every class and activity, every enum caption, the
 * representative event byte for byte, samples that pass the checker, and
 * arena limits with real objects. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf.h"
#include "ocsf_bench_event.h"
#include "ocsf_gen.h"
#include "ocsf_jsonw.h"
#include "ocsf_sample.h"

static char out[1 << 20];

static struct ocsf_event *new_event(const struct ocsf_class *cls)
{
	struct ocsf_event *ev = aligned_alloc(16, (cls->object->size + 15) & ~(size_t)15);
	cr_assert_not_null(ev);
	ocsf_event_init(ev, cls->object->size, cls);
	return ev;
}

/* Whether out has `"key":value` followed by ',' or '}'. */
static bool has_kv(const char *key, const char *value)
{
	char pat[600];
	int n = snprintf(pat, sizeof(pat), "\"%s\":%s", key, value);

	cr_assert(n > 0 && (size_t)n < sizeof(pat), "pattern for %s fits", key);
	for (const char *p = strstr(out, pat); p; p = strstr(p + 1, pat)) {
		char next = p[strlen(pat)];
		if (next == ',' || next == '}')
			return true;
	}
	return false;
}

Test(classes, identity_and_type_for_every_class_and_activity)
{
	cr_assert_eq(ocsf_all_classes_count, 8);
	for (size_t c = 0; c < ocsf_all_classes_count; c++) {
		const struct ocsf_class *cls = ocsf_all_classes[c];
		const struct ocsf_enum *act = cls->activity;
		cr_assert_not_null(act, "%s", cls->object->name);
		for (uint32_t k = 0; k < act->count; k++) {
			struct ocsf_event *ev = new_event(cls);
			int64_t a = act->items[k].value;
			cr_assert_eq(ocsf_field_set_int(&ev->hdr, (unsigned)cls->activity_field, a),
				     0);
			size_t len;
			cr_assert_eq(ocsf_serialize(ev, out, sizeof(out) - 1, &len), 0);
			out[len] = '\0';
			char want[256];
			snprintf(want, sizeof(want), "%lld", (long long)cls->class_uid * 100 + a);
			cr_assert(has_kv("type_uid", want), "%s", out);
			snprintf(want, sizeof(want), "\"%s: %s\"", cls->class_name,
				 act->items[k].caption);
			cr_assert(has_kv("type_name", want), "%s", out);
			snprintf(want, sizeof(want), "\"%s\"", act->items[k].caption);
			cr_assert(has_kv("activity_name", want), "%s", out);
			snprintf(want, sizeof(want), "%d", cls->class_uid);
			cr_assert(has_kv("class_uid", want), "%s", out);
			snprintf(want, sizeof(want), "\"%s\"", cls->class_name);
			cr_assert(has_kv("class_name", want), "%s", out);
			snprintf(want, sizeof(want), "%d", cls->category_uid);
			cr_assert(has_kv("category_uid", want), "%s", out);
			snprintf(want, sizeof(want), "\"%s\"", cls->category_name);
			cr_assert(has_kv("category_name", want), "%s", out);
			cr_assert_not_null(strstr(out, "\"metadata\":{\"version\":\"1.7.0\"}"),
					   "%s", out);
			free(ev);
		}
	}
}

/* Every enum of every object is searchable and captioned (the serializer's
 * lookup), then end to end through the serializer for one of them. */
Test(classes, every_enum_caption)
{
	unsigned checked = 0;
	const struct ocsf_class *cls = &ocsf_network_activity_class;
	for (size_t o = 0; o < ocsf_all_objects_count; o++) {
		const struct ocsf_object *d = ocsf_all_objects[o];
		for (unsigned i = 0; i < d->n_fields; i++) {
			const struct ocsf_field *f = &d->fields[i];
			if (f->kind != OCSF_K_ENUM_INT || f->sibling < 0 ||
			    (f->flags & OCSF_F_ARRAY) || !f->enumeration)
				continue;
			const struct ocsf_field *cf = &d->fields[f->sibling];
			cr_assert(cf->flags & OCSF_F_CAPTION, "%s.%s", d->name, cf->name);
			for (uint32_t k = 0; k < f->enumeration->count; k++) {
				const struct ocsf_enum_item *it = &f->enumeration->items[k];
				/* sorted, unique, and every item has a caption */
				cr_assert_not_null(it->caption);
				cr_assert_eq(ocsf_enum_find(f->enumeration, it->value), it);
				checked++;
			}
		}
	}
	cr_assert_gt(checked, 500);
	/* End to end on the objects a network event reaches directly. */
	struct ocsf_event *ev = new_event(cls);
	struct ocsf_network_activity *na = (struct ocsf_network_activity *)ev;
	struct ocsf_network_connection_info *ci = ocsf_network_activity_connection_info(na);
	for (uint32_t k = 0; k < ocsf_enum_direction_id.count; k++) {
		const struct ocsf_enum_item *it = &ocsf_enum_direction_id.items[k];
		ocsf_network_connection_info_set_direction_id(ci,
							      (enum ocsf_direction_id)it->value);
		size_t len;
		cr_assert_eq(ocsf_serialize(ev, out, sizeof(out) - 1, &len), 0);
		out[len] = '\0';
		char want[128];
		snprintf(want, sizeof(want), "\"direction\":\"%s\",\"direction_id\":%lld",
			 it->caption, (long long)it->value);
		cr_assert_not_null(strstr(out, want), "%s in %s", want, out);
	}
	free(ev);
}

Test(classes, severity_captions)
{
	struct ocsf_network_activity *ev = malloc(sizeof(*ev));
	cr_assert_not_null(ev);
	for (uint32_t k = 0; k < ocsf_enum_severity_id.count; k++) {
		const struct ocsf_enum_item *it = &ocsf_enum_severity_id.items[k];
		ocsf_network_activity_init(ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_CLOSE, "T");
		ocsf_network_activity_set_severity_id(ev, (enum ocsf_severity_id)it->value);
		size_t len;
		cr_assert_eq(ocsf_serialize(&ev->ev, out, sizeof(out) - 1, &len), 0);
		out[len] = '\0';
		char want[128];
		snprintf(want, sizeof(want), "\"severity\":\"%s\",\"severity_id\":%lld",
			 it->caption, (long long)it->value);
		cr_assert_not_null(strstr(out, want), "%s", out);
	}
	free(ev);
}

Test(classes, representative_event_exact)
{
	static struct ocsf_network_activity ev;
	ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS);
	size_t len;
	cr_assert_eq(ocsf_serialize(&ev.ev, out, sizeof(out) - 1, &len), 0);
	out[len] = '\0';
	const char *expect =
	    "{\"action\":\"Allowed\",\"action_id\":1,\"activity_id\":1,\"activity_name\":"
	    "\"Open\",\"actor\":{\"process\":{\"cmd_line\":\"curl -sS "
	    "https://api.github.com/repos/openshell/openshell\",\"container\":{\"name\":"
	    "\"agent\",\"uid\":\"3f1c2a9b7d6e\"},\"name\":\"curl\",\"parent_process\":{"
	    "\"cmd_line\":\"bash -lc \\\"curl -sS https://api.github.com\\\"\",\"name\":"
	    "\"bash\",\"parent_process\":{\"cmd_line\":\"openshell-sandbox --policy "
	    "/etc/openshell/policy.yaml\",\"name\":\"openshell-sandbox\",\"pid\":1},\"pid\":"
	    "4100},\"pid\":4242}},\"category_name\":\"Network Activity\",\"category_uid\":4,"
	    "\"class_name\":\"Network Activity\",\"class_uid\":4001,\"device\":{\"hostname\":"
	    "\"sandbox-7f3a\",\"ip\":\"10.200.0.2\",\"type\":\"Virtual\",\"type_id\":6},"
	    "\"disposition\":\"Allowed\",\"disposition_id\":1,\"dst_endpoint\":{\"hostname\":"
	    "\"api.github.com\",\"ip\":\"140.82.112.5\",\"port\":443},\"firewall_rule\":{"
	    "\"name\":\"github-api\",\"uid\":\"policy:network:github-api\"},\"message\":"
	    "\"CONNECT api.github.com:443 allowed by policy github-api\",\"metadata\":{"
	    "\"event_code\":\"CONNECT_ALLOW\",\"product\":{\"name\":\"OpenShell Sandbox\","
	    "\"vendor_name\":\"OpenShell\",\"version\":\"0.1.0\"},\"profiles\":[\"container\","
	    "\"host\",\"network_proxy\",\"security_control\"],\"version\":\"1.7.0\"},"
	    "\"proxy_endpoint\":{\"hostname\":\"openshell-proxy\",\"ip\":\"10.200.0.1\","
	    "\"port\":3128},\"severity\":\"Informational\",\"severity_id\":1,\"src_endpoint\":{"
	    "\"hostname\":\"sandbox-7f3a\",\"ip\":\"10.200.0.2\",\"port\":51234},\"time\":"
	    "1764410000123,\"type_name\":\"Network Activity: Open\",\"type_uid\":400101}";
	cr_assert_str_eq(out, expect);
	char why[256];
	cr_assert_eq(ocsf_event_check(&ev.ev, why, sizeof(why)), 0, "%s", why);
	/* The embedded arena is enough for it, with room to spare. */
	cr_assert_lt(ev.ev.arena.used, ev.ev.arena.cap / 2);
}

Test(classes, activity_other_keeps_label)
{
	static struct ocsf_network_activity ev;
	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OTHER, "X");
	ocsf_network_activity_set_activity_name(&ev, "Probe");
	size_t len;
	cr_assert_eq(ocsf_serialize(&ev.ev, out, sizeof(out) - 1, &len), 0);
	out[len] = '\0';
	cr_assert_not_null(strstr(out, "\"activity_id\":99,\"activity_name\":\"Probe\""), "%s",
			   out);
	cr_assert_not_null(strstr(out, "\"type_name\":\"Network Activity: Other\","
				       "\"type_uid\":400199"));
}

static void check_samples(enum ocsf_sample_mode mode)
{
	size_t big = 64u << 20;
	void *arena = malloc(big);
	cr_assert_not_null(arena);
	for (size_t c = 0; c < ocsf_all_classes_count; c++) {
		const struct ocsf_class *cls = ocsf_all_classes[c];
		struct ocsf_event *ev = new_event(cls);
		cr_assert_eq(ocsf_event_use_buffer(ev, arena, big), 0);
		cr_assert_eq(ocsf_sample_build(ev, mode, NULL, NULL), 0);
		char why[512];
		cr_assert_eq(ocsf_event_check(ev, why, sizeof(why)), 0, "%s: %s", cls->object->name,
			     why);
		size_t len;
		cr_assert_eq(ocsf_serialize(ev, out, sizeof(out), &len), 0, "%s",
			     cls->object->name);
		cr_assert(ocsf_json_valid(out, len));
		free(ev);
	}
	free(arena);
}

Test(classes, minimal_samples_pass_checker)
{
	check_samples(OCSF_SAMPLE_MINIMAL);
}

Test(classes, maximal_samples_pass_checker)
{
	check_samples(OCSF_SAMPLE_MAXIMAL);
}

struct cover {
	unsigned set, settable, incomplete;
};

static void on_obj(void *ctx, const struct ocsf_object *d, unsigned set, unsigned settable,
		   bool full)
{
	struct cover *c = ctx;
	(void)d;
	if (!full)
		return;
	c->set += set;
	c->settable += settable;
	c->incomplete += set < settable;
}

Test(classes, maximal_sample_sets_every_attribute)
{
	size_t big = 64u << 20;
	void *arena = malloc(big);
	cr_assert_not_null(arena);
	for (size_t c = 0; c < ocsf_all_classes_count; c++) {
		const struct ocsf_class *cls = ocsf_all_classes[c];
		struct ocsf_event *ev = new_event(cls);
		cr_assert_eq(ocsf_event_use_buffer(ev, arena, big), 0);
		struct cover cov = {0};
		cr_assert_eq(ocsf_sample_build(ev, OCSF_SAMPLE_MAXIMAL, on_obj, &cov), 0);
		cr_assert_eq(cov.incomplete, 0, "%s", cls->object->name);
		cr_assert_gt(cov.set, 500, "%s: %u", cls->object->name, cov.set);
		free(ev);
	}
	free(arena);
}

Test(classes, embedded_arena_exhaustion_with_real_objects)
{
	static struct ocsf_network_activity ev;
	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "X");
	int n = 0;
	while (!ev.ev.arena.err && n < 10000) {
		struct ocsf_observable *o = ocsf_network_activity_add_observables(&ev);
		ocsf_observable_set_name(o, "x");
		n++;
	}
	cr_assert_eq(ev.ev.arena.err, OSH_ENOMEM);
	cr_assert_gt(n, 10);
	/* Keep using the API: every accessor still hands back something. */
	struct ocsf_process *p = ocsf_actor_process(ocsf_network_activity_actor(&ev));
	ocsf_process_set_name(p, "after");
	ocsf_process_set_name(ocsf_process_parent_process(ocsf_process_parent_process(p)), "pp");
	ocsf_network_endpoint_set_port(ocsf_network_activity_dst_endpoint(&ev), 1);
	size_t len = 9;
	cr_assert_eq(ocsf_serialize(&ev.ev, out, sizeof(out), &len), OSH_ENOMEM);
	cr_assert_eq(len, 0);
}

Test(classes, parent_chain_depth_limit)
{
	static struct ocsf_network_activity ev;
	ocsf_network_activity_init(&ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "X");
	struct ocsf_process *p = ocsf_actor_process(ocsf_network_activity_actor(&ev));
	for (int i = 0; i < OCSF_MAX_DEPTH + 3; i++) {
		ocsf_process_set_pid(p, i);
		p = ocsf_process_parent_process(p);
	}
	cr_assert_eq(ev.ev.arena.err, OSH_EDEPTH);
	size_t len;
	cr_assert_eq(ocsf_serialize(&ev.ev, out, sizeof(out), &len), OSH_EDEPTH);
}

Test(classes, every_too_small_cap_fails_cleanly)
{
	static struct ocsf_network_activity ev;
	static char small[4096];
	ocsf_bench_event_build(&ev, OCSF_BENCH_TIME_MS);
	size_t need;
	cr_assert_eq(ocsf_serialize(&ev.ev, out, sizeof(out), &need), 0);
	for (size_t cap = 0; cap < need; cap++) {
		size_t len = 5;
		memset(small, 0x55, sizeof(small));
		cr_assert_eq(ocsf_serialize(&ev.ev, small, cap, &len), OSH_ETOOBIG, "cap %zu", cap);
		cr_assert_eq(len, 0);
		for (size_t k = cap; k < sizeof(small); k++)
			cr_assert_eq((unsigned char)small[k], 0x55, "wrote past cap %zu", cap);
	}
	size_t len;
	cr_assert_eq(ocsf_serialize(&ev.ev, small, need, &len), 0);
	cr_assert_eq(memcmp(small, out, need), 0);
}
