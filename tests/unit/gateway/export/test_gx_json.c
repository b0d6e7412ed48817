/* test_gx_json.c - the one-pass JSON check and field finder: what it
 * accepts and refuses (against RFC 8259), and the fields it finds. */
#include <criterion/criterion.h>
#include <string.h>

#include "gx_json.h"

static int scan(const char *t, struct gx_meta *m)
{
	return gx_json_meta(t, strlen(t), m);
}

Test(gx_json, finds_the_fields)
{
	struct gx_meta m;
	const char *t =
	    " {\"class_uid\":4001,\"x\":[1,{\"uid\":\"no\"},\"s\"],\"severity_id\":3,"
	    "\"time\":1796549617371,\"metadata\":{\"version\":\"1.7.0\",\"uid\":\"u\\\"1\"},"
	    "\"device\":{\"hostname\":\"h\",\"container\":{\"name\":\"sb\",\"uid\":\"id-1\"}},"
	    "\"f\":-1.5e+3,\"t\":true,\"n\":null} \n";

	cr_assert_eq(scan(t, &m), 0);
	cr_assert(m.has_class && m.class_uid == 4001);
	cr_assert(m.has_severity && m.severity_id == 3);
	cr_assert(m.has_time && m.time == 1796549617371LL);
	cr_assert(gx_span_eq(m.uid, "u\\\"1"), "raw span, escapes kept");
	cr_assert(gx_span_eq(m.sb_name, "sb"));
	cr_assert(gx_span_eq(m.sb_id, "id-1"));
}

Test(gx_json, nested_names_do_not_count)
{
	struct gx_meta m;

	cr_assert_eq(scan("{\"a\":{\"class_uid\":1,\"metadata\":{\"uid\":\"x\"}}}", &m), 0);
	cr_assert_not(m.has_class);
	cr_assert_null(m.uid.p);
	cr_assert_eq(scan("{\"class_uid\":1.5,\"time\":\"12\"}", &m), 0);
	cr_assert_not(m.has_class, "not integral");
	cr_assert_not(m.has_time, "a string is not a time");
}

Test(gx_json, refuses_what_is_not_one_json_object)
{
	static const char *bad[] = {
	    "",
	    "[]",
	    "\"s\"",
	    "{",
	    "{\"a\"}",
	    "{\"a\":}",
	    "{\"a\":1,}",
	    "{\"a\":01}",
	    "{\"a\":1.}",
	    "{\"a\":-}",
	    "{\"a\":.5}",
	    "{\"a\":1e}",
	    "{\"a\":tru}",
	    "{\"a\":\"\\x\"}",
	    "{\"a\":\"\\u12g4\"}",
	    "{\"a\":\"\x01\"}",
	    "{\"a\":1}{}",
	    "{\"a\":[1,]}",
	    "{a:1}",
	    "{\"a\":1} x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gx_meta m;

		cr_assert_neq(scan(bad[i], &m), 0, "accepted: %s", bad[i]);
	}
}

Test(gx_json, depth_is_bounded)
{
	char t[400];
	struct gx_meta m;
	size_t n = 0;

	t[n++] = '{';
	t[n++] = '"';
	t[n++] = 'a';
	t[n++] = '"';
	t[n++] = ':';
	for (int i = 0; i < 100; i++)
		t[n++] = '[';
	for (int i = 0; i < 100; i++)
		t[n++] = ']';
	t[n++] = '}';
	cr_assert_eq(gx_json_meta(t, n, &m), OSH_EDEPTH);
}

Test(gx_json, never_reads_past_n)
{
	struct gx_meta m;
	const char *t = "{\"a\":\"bc\"}";

	/* the same text cut anywhere is refused, never read beyond the cut */
	for (size_t n = 0; n < strlen(t); n++)
		cr_assert_neq(gx_json_meta(t, n, &m), 0, "cut at %zu accepted", n);
}
