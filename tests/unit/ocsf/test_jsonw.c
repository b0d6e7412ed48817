/* test_jsonw.c - JSON writer: escapes, UTF-8 repair, numbers, caps. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf_jsonw.h"
#include "osh_err.h"

/* Writes n bytes as a JSON string; returns the output NUL-terminated. */
static const char *str_out(const char *s, size_t n)
{
	static char buf[4096];
	struct ocsf_jsonw w;
	size_t len = 0;
	ocsf_jsonw_init(&w, buf, sizeof(buf) - 1);
	ocsf_jsonw_strn(&w, s, n);
	cr_assert_eq(ocsf_jsonw_finish(&w, &len), 0);
	buf[len] = '\0';
	return buf;
}

#define STR_IS(lit, expect) cr_assert_str_eq(str_out(lit, sizeof(lit) - 1), expect)

Test(jsonw, plain_ascii)
{
	STR_IS("hello world", "\"hello world\"");
	STR_IS("", "\"\"");
}

Test(jsonw, quote_backslash_slash)
{
	STR_IS("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
}

Test(jsonw, short_escapes)
{
	STR_IS("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
}

Test(jsonw, every_control_char_escaped)
{
	for (int c = 0; c < 0x20; c++) {
		char in[1] = {(char)c};
		const char *out = str_out(in, 1);
		char expect[16];
		switch (c) {
		case '\b':
			snprintf(expect, sizeof(expect), "\"\\b\"");
			break;
		case '\f':
			snprintf(expect, sizeof(expect), "\"\\f\"");
			break;
		case '\n':
			snprintf(expect, sizeof(expect), "\"\\n\"");
			break;
		case '\r':
			snprintf(expect, sizeof(expect), "\"\\r\"");
			break;
		case '\t':
			snprintf(expect, sizeof(expect), "\"\\t\"");
			break;
		default:
			snprintf(expect, sizeof(expect), "\"\\u%04x\"", c);
			break;
		}
		cr_assert_str_eq(out, expect, "control 0x%02x", c);
	}
	STR_IS("\x7f", "\"\\u007f\"");
}

Test(jsonw, embedded_nul)
{
	cr_assert_str_eq(str_out("a\0b", 3), "\"a\\u0000b\"");
}

Test(jsonw, valid_utf8_passes)
{
	STR_IS("\xc3\xa9", "\"\xc3\xa9\"");		    /* é */
	STR_IS("\xe2\x82\xac", "\"\xe2\x82\xac\"");	    /* € */
	STR_IS("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* U+1F600, 4 bytes */
	STR_IS("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
	STR_IS("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");	    /* U+D7FF */
	STR_IS("\xee\x80\x80", "\"\xee\x80\x80\"");	    /* U+E000 */
	STR_IS("a\xc3\xa9z\xf0\x9f\x98\x80!", "\"a\xc3\xa9z\xf0\x9f\x98\x80!\"");
}

#define FFFD "\xef\xbf\xbd"

Test(jsonw, overlongs_replaced)
{
	STR_IS("\xc0\xaf", "\"" FFFD FFFD "\""); /* overlong '/' */
	STR_IS("\xc1\xbf", "\"" FFFD FFFD "\"");
	STR_IS("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\""); /* E0 needs A0..BF */
	STR_IS("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
}

Test(jsonw, surrogates_replaced)
{
	STR_IS("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""); /* U+D800 */
	STR_IS("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\""); /* U+DFFF */
}

Test(jsonw, above_max_replaced)
{
	STR_IS("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* U+110000 */
	STR_IS("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	STR_IS("\xff", "\"" FFFD "\"");
	STR_IS("\xfe", "\"" FFFD "\"");
}

Test(jsonw, truncated_sequences_replaced)
{
	/* Maximal subpart: a truncated valid prefix is one replacement. */
	STR_IS("\xe2\x82", "\"" FFFD "\"");
	STR_IS("\xe2\x82z", "\"" FFFD "z\"");
	STR_IS("\xf0\x9f\x98", "\"" FFFD "\"");
	STR_IS("\xf0\x9f\x98z", "\"" FFFD "z\"");
	STR_IS("\xc3", "\"" FFFD "\"");
	STR_IS("a\xc3\"", "\"a" FFFD "\\\"\"");
}

Test(jsonw, stray_continuations_replaced)
{
	STR_IS("\x80", "\"" FFFD "\"");
	STR_IS("\xbf\xbf", "\"" FFFD FFFD "\"");
	STR_IS("\xc3\xa9\xa9", "\"\xc3\xa9" FFFD "\"");
}

Test(jsonw, integers_exact)
{
	char buf[256];
	struct ocsf_jsonw w;
	size_t len;
	ocsf_jsonw_init(&w, buf, sizeof(buf));
	ocsf_jsonw_int(&w, 0);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_int(&w, -1);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_int(&w, INT64_MIN);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_int(&w, INT64_MAX);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_uint(&w, UINT64_MAX);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_int(&w, 9);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_int(&w, 10);
	ocsf_jsonw_char(&w, ',');
	ocsf_jsonw_int(&w, 1764410000123LL);
	cr_assert_eq(ocsf_jsonw_finish(&w, &len), 0);
	buf[len] = '\0';
	cr_assert_str_eq(buf, "0,-1,-9223372036854775808,9223372036854775807,"
			      "18446744073709551615,9,10,1764410000123");
}

Test(jsonw, integers_match_printf)
{
	/* Every magnitude, both signs. */
	int64_t v = 1;
	for (int i = 0; i < 19; i++, v = i < 19 ? v * 10 : v) {
		for (int64_t d = -1; d <= 1; d++) {
			int64_t x = v + d;
			for (int sign = 0; sign < 2; sign++) {
				int64_t y = sign ? -x : x;
				char buf[32], ref[32];
				struct ocsf_jsonw w;
				size_t len;
				ocsf_jsonw_init(&w, buf, sizeof(buf));
				ocsf_jsonw_int(&w, y);
				cr_assert_eq(ocsf_jsonw_finish(&w, &len), 0);
				buf[len] = '\0';
				snprintf(ref, sizeof(ref), "%lld", (long long)y);
				cr_assert_str_eq(buf, ref);
			}
		}
	}
}

static const char *dbl(double d)
{
	static char buf[64];
	struct ocsf_jsonw w;
	size_t len;
	ocsf_jsonw_init(&w, buf, sizeof(buf) - 1);
	ocsf_jsonw_double(&w, d);
	cr_assert_eq(ocsf_jsonw_finish(&w, &len), 0);
	buf[len] = '\0';
	return buf;
}

Test(jsonw, doubles)
{
	cr_assert_str_eq(dbl(0.5), "0.5");
	cr_assert_str_eq(dbl(3.0), "3.0");
	cr_assert_str_eq(dbl(-2.0), "-2.0");
	cr_assert_str_eq(dbl(0.1), "0.1");
	cr_assert_str_eq(dbl(1e300), "1e+300");
	cr_assert_str_eq(dbl(NAN), "null");
	cr_assert_str_eq(dbl(INFINITY), "null");
	cr_assert_str_eq(dbl(-INFINITY), "null");
	/* round trip */
	const double vals[] = {0.1 + 0.2, 1.0 / 3.0, DBL_MAX, DBL_MIN, 5e-324, 123456.789e10, -0.0};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		const char *s = dbl(vals[i]);
		cr_assert_eq(strtod(s, NULL), vals[i], "%s", s);
		cr_assert(strpbrk(s, ".e") != NULL, "%s reads as a float", s);
	}
}

Test(jsonw, overflow_is_sticky_and_reports_no_length)
{
	char buf[8];
	struct ocsf_jsonw w;
	size_t len = 99;
	ocsf_jsonw_init(&w, buf, sizeof(buf));
	ocsf_jsonw_str(&w, "abcdef"); /* 8 bytes with quotes: fits */
	cr_assert_eq(w.err, 0);
	ocsf_jsonw_char(&w, 'x');
	cr_assert_eq(w.err, OSH_ETOOBIG);
	ocsf_jsonw_int(&w, 1); /* no-op now */
	cr_assert_eq(ocsf_jsonw_finish(&w, &len), OSH_ETOOBIG);
	cr_assert_eq(len, 0);
}

Test(jsonw, cap_exact_boundaries)
{
	/* For every cap below the needed size the writer fails; at the size
	 * it succeeds with identical bytes. */
	const char *in = "x\"\xc3\xa9\n\xff"
			 "end";
	char full[64];
	struct ocsf_jsonw w;
	size_t need;
	ocsf_jsonw_init(&w, full, sizeof(full));
	ocsf_jsonw_str(&w, in);
	cr_assert_eq(ocsf_jsonw_finish(&w, &need), 0);
	for (size_t cap = 0; cap <= need; cap++) {
		char buf[64];
		size_t len;
		memset(buf, 0, sizeof(buf));
		ocsf_jsonw_init(&w, buf, cap);
		ocsf_jsonw_str(&w, in);
		int rc = ocsf_jsonw_finish(&w, &len);
		if (cap < need) {
			cr_assert_eq(rc, OSH_ETOOBIG, "cap %zu", cap);
			cr_assert(buf[cap] == 0, "wrote past cap %zu", cap);
		} else {
			cr_assert_eq(rc, 0);
			cr_assert_eq(len, need);
			cr_assert_eq(memcmp(buf, full, need), 0);
		}
	}
}

Test(jsonw, json_valid)
{
	const char *good[] = {"{}",
			      "[]",
			      "0",
			      "-0.5e+3",
			      "\"a\\u00e9\"",
			      " {\"a\":[1,true,null]} ",
			      "{\"k\":{\"n\":\"\xc3\xa9\"}}",
			      "false"};
	const char *bad[] = {"",    "{",    "[1,]",	    "{\"a\"}", "01",	"1.",  "\"\x01\"",
			     "nul", "{} x", "\"\xc0\xaf\"", "\"\\x\"", "[1 2]", "--1", "\"abc"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(ocsf_json_valid(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!ocsf_json_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
	/* nesting limit */
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	cr_assert(!ocsf_json_valid(deep, 200));
	cr_assert(ocsf_json_valid(deep + 40, 120));
}

Test(jsonw, random_bytes_always_valid_utf8_json)
{
	unsigned seed = 12345;
	for (int iter = 0; iter < 2000; iter++) {
		unsigned char in[64];
		size_t n = (size_t)(iter % 64);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (unsigned char)(seed >> 16);
		}
		char buf[512];
		struct ocsf_jsonw w;
		size_t len;
		ocsf_jsonw_init(&w, buf, sizeof(buf));
		ocsf_jsonw_strn(&w, (const char *)in, n);
		cr_assert_eq(ocsf_jsonw_finish(&w, &len), 0);
		cr_assert(ocsf_json_valid(buf, len), "iteration %d", iter);
	}
}

/* The NUL-terminated fast path (aligned block scan) must agree with the
 * length-based one for every alignment, length and bad-byte position. */
Test(jsonw, cstr_matches_strn_at_every_alignment)
{
	static char src[128];
	static char a[1024], b[1024];
	const unsigned char specials[] = {'"', '\\', 0x01, 0x1f, 0x7f, 0x80, 0xc3, 0xff, 'x'};
	for (size_t align = 0; align < 16; align++) {
		for (size_t len = 0; len < 70; len++) {
			for (size_t sp = 0; sp < sizeof(specials); sp++) {
				char *s = src + align;
				for (size_t i = 0; i < len; i++)
					s[i] = (char)('a' + (i % 26));
				if (len)
					s[(len * 7 + sp) % len] = (char)specials[sp];
				s[len] = '\0';
				size_t n = strlen(s);
				struct ocsf_jsonw wa, wb;
				size_t la, lb;
				ocsf_jsonw_init(&wa, a, sizeof(a));
				ocsf_jsonw_init(&wb, b, sizeof(b));
				ocsf_jsonw_str(&wa, s);
				ocsf_jsonw_strn(&wb, s, n);
				cr_assert_eq(ocsf_jsonw_finish(&wa, &la), 0);
				cr_assert_eq(ocsf_jsonw_finish(&wb, &lb), 0);
				cr_assert_eq(la, lb, "align %zu len %zu sp %zu", align, len, sp);
				cr_assert_eq(memcmp(a, b, la), 0, "align %zu len %zu", align, len);
			}
		}
	}
}
