/* test_runtime.c - arena, accessors, serializer and checker on the
 * hand-written test model (test_model.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf.h"
#include "ocsf_jsonw.h"
#include "test_model.h"

static void setup(void)
{
	t_model_setup();
}

TestSuite(runtime, .init = setup);

static char out[65536];

static const char *ser(struct t_event *e)
{
	size_t len = 0;
	int rc = ocsf_serialize(&e->ev, out, sizeof(out) - 1, &len);
	cr_assert_eq(rc, 0, "serialize: %s", osh_strerror(rc));
	out[len] = '\0';
	cr_assert(ocsf_json_valid(out, len), "%s", out);
	return out;
}

#define HEAD                                                                                       \
	"{\"activity_id\":1,\"activity_name\":\"Open\",\"category_name\":\"Test Category\","       \
	"\"category_uid\":99,\"class_name\":\"Test Event\",\"class_uid\":9901,"
#define META "\"metadata\":{\"version\":\"1.7.0\"},"
#define TAIL                                                                                       \
	"\"severity\":\"Informational\",\"severity_id\":1,\"time\":1700000000000,"                 \
	"\"type_name\":\"Test Event: Open\",\"type_uid\":990101}"

Test(runtime, minimal_event_derived_values)
{
	static struct t_event e;
	t_event_init(&e, 1);
	cr_assert_str_eq(ser(&e), HEAD META TAIL);
}

Test(runtime, full_event_exact_output)
{
	static struct t_event e;
	t_event_init(&e, 2);
	e.count = 0; /* set to 0: present */
	ocsf_present_set(e.present, T_EV_F_COUNT);
	ocsf_field_set_bool(&e.ev.hdr, T_EV_F_FLAG, false);
	ocsf_field_set_str(&e.ev.hdr, T_EV_F_DATA, "{\"k\": [1, 2]}");
	ocsf_field_set_int(&e.ev.hdr, T_EV_F_PORT, 65535);
	ocsf_field_set_float(&e.ev.hdr, T_EV_F_RATIO, 0.25);
	ocsf_field_set_int(&e.ev.hdr, T_EV_F_SIZE, -5000000000LL);
	t_event_add_tag(&e, "a");
	t_event_add_tag(&e, "b\"c");
	struct t_meta *m = t_event_metadata(&e);
	m->product = "prod";
	ocsf_present_set(m->present, T_META_F_PRODUCT);
	m->version = "0.0.1"; /* ignored: the schema version wins */
	ocsf_present_set(m->present, T_META_F_VERSION);
	struct t_node *r = t_event_root(&e);
	t_node_set_name(r, "root");
	ocsf_field_set_int(&r->hdr, T_NODE_F_KIND_ID, 1);
	ocsf_field_set_int(&r->hdr, T_NODE_F_PORTS, 80);
	ocsf_field_set_int(&r->hdr, T_NODE_F_PORTS, 443);
	struct t_node *c = t_node_child(r);
	t_node_set_name(c, "kid");
	ocsf_field_set_str(&c->hdr, T_NODE_F_POD, "pod-1");
	struct ocsf_kv kv = {.key = "x", .type = OCSF_KV_INT, .v.i = 7};
	ocsf_field_open_add(&e.ev.hdr, T_EV_F_UNMAPPED, &kv);
	kv = (struct ocsf_kv){.key = "y\n", .type = OCSF_KV_STRING, .v.s = "v"};
	ocsf_field_open_add(&e.ev.hdr, T_EV_F_UNMAPPED, &kv);

	const char *expect =
	    "{\"activity_id\":2,\"activity_name\":\"Close\",\"category_name\":\"Test "
	    "Category\",\"category_uid\":99,\"class_name\":\"Test Event\",\"class_uid\":9901,"
	    "\"count\":0,\"data\":{\"k\": [1, 2]},\"flag\":false,"
	    "\"metadata\":{\"product\":\"prod\",\"profiles\":[\"container\"],"
	    "\"version\":\"1.7.0\"},"
	    "\"port\":65535,\"ratio\":0.25,"
	    "\"root\":{\"child\":{\"name\":\"kid\",\"pod\":\"pod-1\"},\"kind\":\"Leaf "
	    "\\\"A\\\"\",\"kind_id\":1,\"name\":\"root\",\"ports\":[80,443]},"
	    "\"severity\":\"Informational\",\"severity_id\":1,\"size\":-5000000000,"
	    "\"tags\":[\"a\",\"b\\\"c\"],\"time\":1700000000000,"
	    "\"type_name\":\"Test Event: Close\",\"type_uid\":990102,"
	    "\"unmapped\":{\"x\":7,\"y\\n\":\"v\"}}";
	cr_assert_str_eq(ser(&e), expect);
	char why[256];
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), 0, "%s", why);
	/* Serializing twice gives the same bytes (the event is not modified). */
	static char first[sizeof(out)];
	memcpy(first, out, sizeof(out));
	cr_assert_str_eq(ser(&e), first);
}

Test(runtime, presence_zero_versus_unset)
{
	static struct t_event e;
	t_event_init(&e, 1);
	cr_assert_null(strstr(ser(&e), "\"count\""));
	cr_assert_null(strstr(out, "\"flag\""));
	ocsf_field_set_int(&e.ev.hdr, T_EV_F_COUNT, 0);
	ocsf_field_set_bool(&e.ev.hdr, T_EV_F_FLAG, false);
	ocsf_field_set_str(&e.ev.hdr, T_EV_F_DATA, NULL);
	cr_assert_not_null(strstr(ser(&e), "\"count\":0"));
	cr_assert_not_null(strstr(out, "\"flag\":false"));
	/* a NULL json_t text is not valid JSON: written as a string */
	cr_assert_not_null(strstr(out, "\"data\":\"\""));
	cr_assert(ocsf_field_present(&e.ev.hdr, T_EV_F_COUNT));
	cr_assert(!ocsf_field_present(&e.ev.hdr, T_EV_F_SIZE));
}

Test(runtime, caption_rules)
{
	static struct t_event e;
	/* 99 with a caller label keeps it */
	t_event_init(&e, 99);
	e.activity_name = "Custom Thing";
	ocsf_present_set(e.present, T_EV_F_ACTIVITY_NAME);
	ser(&e);
	cr_assert_not_null(strstr(out, "\"activity_id\":99,\"activity_name\":\"Custom Thing\""));
	cr_assert_not_null(strstr(out, "\"type_name\":\"Test Event: Other\",\"type_uid\":990199"));
	/* 99 without a label: "Other" */
	t_event_init(&e, 99);
	cr_assert_not_null(strstr(ser(&e), "\"activity_name\":\"Other\""));
	/* a caller label on a known value is replaced by the schema caption */
	t_event_init(&e, 1);
	e.activity_name = "Wrong";
	ocsf_present_set(e.present, T_EV_F_ACTIVITY_NAME);
	e.severity = "Nope";
	ocsf_present_set(e.present, T_EV_F_SEVERITY);
	ser(&e);
	cr_assert_not_null(strstr(out, "\"activity_name\":\"Open\""));
	cr_assert_not_null(strstr(out, "\"severity\":\"Informational\""));
	/* an unknown value: no caption, no type_name; the checker objects */
	t_event_init(&e, 42);
	ser(&e);
	cr_assert_null(strstr(out, "activity_name"));
	cr_assert_null(strstr(out, "type_name"));
	cr_assert_not_null(strstr(out, "\"type_uid\":990142"));
	char why[256];
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EINVAL);
	cr_assert_not_null(strstr(why, "activity_id: value 42"), "%s", why);
}

Test(runtime, arrays_grow)
{
	static struct t_event e;
	static char names[100][8];
	t_event_init(&e, 1);
	for (int i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		struct ocsf_hdr *n = ocsf_field_object(&e.ev.hdr, T_EV_F_NODES);
		cr_assert_eq(n->desc, &t_node_desc);
		cr_assert_eq(ocsf_field_set_str(n, T_NODE_F_NAME, names[i]), 0);
	}
	cr_assert_eq(e.nodes.len, 100);
	cr_assert_geq(e.nodes.cap, 100);
	for (int i = 0; i < 100; i++) {
		struct t_node *n = ((struct t_node **)e.nodes.items)[i];
		cr_assert_str_eq(n->name, names[i]);
	}
	ser(&e);
	cr_assert_not_null(strstr(out, "\"nodes\":[{\"name\":\"n0\"},{\"name\":\"n1\"},"));
	cr_assert_not_null(strstr(out, "{\"name\":\"n99\"}],"));
}

Test(runtime, recursion_depth_limit_is_an_error_not_a_crash)
{
	static struct t_event e;
	t_event_init(&e, 1);
	struct t_node *n = t_event_root(&e);
	for (int i = 0; i < OCSF_MAX_DEPTH + 5; i++) {
		t_node_set_name(n, "deep");
		n = t_node_child(n);
		cr_assert_not_null(n);
		cr_assert_eq(n->hdr.arena, &e.ev.arena);
	}
	t_node_set_name(n, "after");
	const char *what = NULL;
	cr_assert_eq(ocsf_event_error(&e.ev, &what), OSH_EDEPTH);
	cr_assert_not_null(what);
	size_t len = 123;
	cr_assert_eq(ocsf_serialize(&e.ev, out, sizeof(out), &len), OSH_EDEPTH);
	cr_assert_eq(len, 0);
	char why[128];
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EDEPTH);
}

Test(runtime, arena_exhaustion_is_sticky_no_crash_no_line)
{
	static struct t_event e;
	t_event_init(&e, 1);
	int i = 0;
	/* Fill the arena with objects until it fails. */
	while (!e.ev.arena.err && i < 100000) {
		struct ocsf_hdr *n = ocsf_field_object(&e.ev.hdr, T_EV_F_NODES);
		ocsf_field_set_str(n, T_NODE_F_NAME, "x");
		i++;
	}
	cr_assert_eq(e.ev.arena.err, OSH_ENOMEM);
	cr_assert_leq(e.ev.arena.used, e.ev.arena.cap);
	/* After the failure every accessor returns harmless scratch. */
	struct t_node *s = t_event_root(&e);
	cr_assert_eq(s->hdr.arena, &e.ev.arena);
	t_node_set_name(s, "scratch");
	struct t_node *s2 = t_node_child(s);
	t_node_set_name(s2, "scratch2");
	ocsf_field_set_int(&s2->hdr, T_NODE_F_PORTS, 1);
	t_event_add_tag(&e, "lost");
	cr_assert_str_eq(ocsf_arena_strdup(&e.ev.arena, "zzz"), "");
	cr_assert_str_eq(ocsf_arena_printf(&e.ev.arena, "%d", 5), "");
	/* The root was never attached. */
	cr_assert(!ocsf_field_present(&e.ev.hdr, T_EV_F_ROOT));
	size_t len = 7;
	cr_assert_eq(ocsf_serialize(&e.ev, out, sizeof(out), &len), OSH_ENOMEM);
	cr_assert_eq(len, 0);
}

Test(runtime, use_buffer_for_large_events)
{
	static struct t_event e;
	size_t big = 1u << 20;
	void *buf = malloc(big);
	cr_assert_not_null(buf);
	t_event_init(&e, 1);
	cr_assert_eq(ocsf_event_use_buffer(&e.ev, buf, big), 0);
	for (int i = 0; i < 5000; i++) {
		struct ocsf_hdr *n = ocsf_field_object(&e.ev.hdr, T_EV_F_NODES);
		ocsf_field_set_str(n, T_NODE_F_NAME, "x");
	}
	cr_assert_eq(e.ev.arena.err, 0);
	cr_assert_eq(e.nodes.len, 5000);
	/* Too small a buffer and a late call are refused. */
	cr_assert_eq(ocsf_event_use_buffer(&e.ev, buf, big), OSH_EINVAL);
	static struct t_event e2;
	t_event_init(&e2, 1);
	char tiny[64];
	cr_assert_eq(ocsf_event_use_buffer(&e2.ev, tiny, sizeof(tiny)), OSH_EINVAL);
	/* The output does not fit a small buffer: ETOOBIG, no length. */
	size_t len = 1;
	char small[1024];
	cr_assert_eq(ocsf_serialize(&e.ev, small, sizeof(small), &len), OSH_ETOOBIG);
	cr_assert_eq(len, 0);
	free(buf);
}

Test(runtime, serialize_cap_every_size)
{
	static struct t_event e;
	t_event_init(&e, 1);
	t_event_add_tag(&e, "\xff\xfe tag");
	size_t need;
	cr_assert_eq(ocsf_serialize(&e.ev, out, sizeof(out), &need), 0);
	for (size_t cap = 0; cap < need; cap++) {
		size_t len = 1;
		cr_assert_eq(ocsf_serialize(&e.ev, out, cap, &len), OSH_ETOOBIG);
		cr_assert_eq(len, 0);
	}
	size_t len;
	cr_assert_eq(ocsf_serialize(&e.ev, out, need, &len), 0);
	cr_assert_eq(len, need);
}

Test(runtime, open_object_last_key_wins_and_bad_json_is_a_string)
{
	static struct t_event e;
	t_event_init(&e, 1);
	ocsf_open_add_str(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "k", "first");
	ocsf_open_add_bool(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "b", true);
	ocsf_open_add_float(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "f", 2.0);
	ocsf_open_add_float(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "nan", NAN);
	ocsf_open_add_json(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "j", "[1,{\"a\":null}]");
	ocsf_open_add_json(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "bad", "{oops");
	ocsf_open_add_str(&e.ev.hdr, &e.unmapped, T_EV_F_UNMAPPED, "k", "second");
	ser(&e);
	cr_assert_not_null(strstr(out,
				  "\"unmapped\":{\"b\":true,\"f\":2.0,"
				  "\"j\":[1,{\"a\":null}],\"bad\":\"{oops\",\"k\":\"second\"}"),
			   "%s", out);
}

Test(runtime, nonfinite_float_field_left_out)
{
	static struct t_event e;
	t_event_init(&e, 1);
	ocsf_field_set_float(&e.ev.hdr, T_EV_F_RATIO, INFINITY);
	cr_assert_null(strstr(ser(&e), "ratio"));
	char why[128];
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EINVAL);
}

Test(runtime, generic_setters_reject_wrong_kinds)
{
	static struct t_event e;
	t_event_init(&e, 1);
	cr_assert_eq(ocsf_field_set_str(&e.ev.hdr, T_EV_F_COUNT, "x"), OSH_EINVAL);
	cr_assert_eq(ocsf_field_set_int(&e.ev.hdr, T_EV_F_PORT, 65536), OSH_EINVAL);
	cr_assert_eq(ocsf_field_set_int(&e.ev.hdr, T_EV_F_PORT, -1), OSH_EINVAL);
	cr_assert_eq(ocsf_field_set_int(&e.ev.hdr, T_EV_F_COUNT, 1LL << 40), OSH_EINVAL);
	cr_assert_eq(ocsf_field_set_float(&e.ev.hdr, T_EV_F_COUNT, 1.0), OSH_EINVAL);
	cr_assert_eq(ocsf_field_set_int(&e.ev.hdr, T_EV_N, 1), OSH_EINVAL);
	cr_assert_null(ocsf_field_object(&e.ev.hdr, T_EV_F_COUNT));
	cr_assert(!ocsf_field_present(&e.ev.hdr, T_EV_F_PORT));
	cr_assert_eq(ocsf_object_field_index(&t_node_desc, "pod"), T_NODE_F_POD);
	cr_assert_eq(ocsf_object_field_index(&t_node_desc, "nope"), -1);
}

Test(runtime, checker_required_and_profiles)
{
	static struct t_event e;
	char why[256];
	t_event_init(&e, 1);
	/* metadata is required */
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EINVAL);
	cr_assert_not_null(strstr(why, "metadata"), "%s", why);
	struct t_meta *m = t_event_metadata(&e);
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EINVAL);
	cr_assert_str_eq(why, "metadata: required attribute product is missing");
	ocsf_field_set_str(&m->hdr, T_META_F_PRODUCT, "p");
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), 0, "%s", why);
	/* node.name is required inside a present node */
	struct t_node *r = t_event_root(&e);
	ocsf_field_set_str(&r->hdr, T_NODE_F_POD, "p");
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EINVAL);
	cr_assert_str_eq(why, "root: required attribute name is missing");
	uint64_t mask[2];
	ocsf_event_profiles(&e.ev, mask);
	int ci = ocsf_profile_index("container");
	cr_assert_geq(ci, 0);
	cr_assert(mask[ci / 64] & (1ull << (ci % 64)));
	ocsf_field_set_int(&r->hdr, T_NODE_F_KIND_ID, 7);
	t_node_set_name(r, "r");
	cr_assert_eq(ocsf_event_check(&e.ev, why, sizeof(why)), OSH_EINVAL);
	cr_assert_not_null(strstr(why, "kind_id: value 7"), "%s", why);
}

Test(runtime, metadata_synthesized_when_missing)
{
	static struct t_event e;
	t_event_init(&e, 1);
	struct t_node *r = t_event_root(&e);
	t_node_set_name(r, "r");
	ocsf_field_set_str(&r->hdr, T_NODE_F_POD, "p");
	cr_assert_not_null(
	    strstr(ser(&e), "\"metadata\":{\"profiles\":[\"container\"],\"version\":\"1.7.0\"}"),
	    "%s", out);
}

Test(runtime, arena_printf_and_strdup)
{
	static struct t_event e;
	t_event_init(&e, 1);
	const char *a = ocsf_arena_printf(&e.ev.arena, "%s:%d", "host", 443);
	const char *b = ocsf_arena_strdup(&e.ev.arena, "copy");
	cr_assert_str_eq(a, "host:443");
	cr_assert_str_eq(b, "copy");
	cr_assert((const unsigned char *)a >= e.ev.arena.base &&
		  (const unsigned char *)a < e.ev.arena.base + e.ev.arena.cap);
	cr_assert_eq(((uintptr_t)ocsf_arena_alloc(&e.ev.arena, 3)) % 16, 0);
	int64_t now = ocsf_now_ms();
	cr_assert_gt(now, 1600000000000LL);
}

/* Derived members come from the plan, never from what a caller stored
 * (even through the generic setters), and an activity the enum does not
 * know keeps a computed type_uid but no type_name. */
Test(runtime, derived_members_from_the_plan)
{
	static struct t_event e;
	t_event_init(&e, 7);
	ocsf_field_set_int(&e.ev.hdr, T_EV_F_CLASS_UID, 1234);
	cr_assert_str_eq(
	    ser(&e), "{\"activity_id\":7,\"category_name\":\"Test Category\","
		     "\"category_uid\":99,\"class_name\":\"Test Event\",\"class_uid\":9901," META
		     "\"severity\":\"Informational\",\"severity_id\":1,\"time\":1700000000000,"
		     "\"type_uid\":990107}");
}

/* A descriptor without a serializer plan is refused, not walked. */
Test(runtime, descriptor_without_plan_is_refused)
{
	static struct t_event e;
	struct ocsf_object d = *t_event_class.object;
	struct ocsf_class c = t_event_class;
	size_t len = 1;

	d.plan = NULL;
	c.object = &d;
	t_event_init(&e, 1);
	e.ev.cls = &c;
	cr_assert_eq(ocsf_serialize(&e.ev, out, sizeof(out), &len), OSH_EINVAL);
	cr_assert_eq(len, 0);
}
