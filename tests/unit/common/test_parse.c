/* test_parse.c - the shared parsers refuse what they must and never wrap.
 *
 * DESIGN
 * Each case is an input a user typed somewhere (the finding that started this
 * module: `--listen 0.0.0.0:99999` wrapped to 34463) and the exact result.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "osh_parse.h"
#include "osh_time.h"

Test(parse, durations)
{
	int64_t ms = -1;

	cr_assert_eq(osh_parse_duration_ms("5", &ms), 0);
	cr_assert_eq(ms, 5000, "a bare number is seconds");
	cr_assert_eq(osh_parse_duration_ms("250ms", &ms), 0);
	cr_assert_eq(ms, 250);
	cr_assert_eq(osh_parse_duration_ms("2m", &ms), 0);
	cr_assert_eq(ms, 120000);
	cr_assert_eq(osh_parse_duration_ms("3h", &ms), 0);
	cr_assert_eq(ms, 10800000);
	cr_assert_eq(osh_parse_duration_ms("1d", &ms), 0);
	cr_assert_eq(ms, 86400000);
	cr_assert_eq(osh_parse_duration_ms("0", &ms), 0);
	cr_assert_eq(ms, 0);
	ms = 7;
	cr_assert_eq(osh_parse_duration_ms("", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("-5s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms(" 5s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("5 s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("5w", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms(NULL, &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("9223372036854775807ms", &ms), 0);
	cr_assert_eq(ms, INT64_MAX);
	cr_assert_eq(osh_parse_duration_ms("9223372036854776s", &ms), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_duration_ms("99999999999999999999999", &ms), OSH_ETOOBIG);
	cr_assert_eq(ms, INT64_MAX, "errors leave the output alone");
}

Test(parse, booleans)
{
	bool b = false;
	const char *yes[] = {"true", "YES", "On", "1", "Y"};
	const char *no[] = {"false", "No", "OFF", "0", "n"};

	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(osh_parse_bool(yes[i], &b), 0);
		cr_assert(b, "%s", yes[i]);
		cr_assert_eq(osh_parse_bool(no[i], &b), 0);
		cr_assert_not(b, "%s", no[i]);
	}
	cr_assert_eq(osh_parse_bool("of", &b), OSH_EPARSE);
	cr_assert_eq(osh_parse_bool("", &b), OSH_EPARSE);
	cr_assert_eq(osh_parse_bool("truee", &b), OSH_EPARSE);
	cr_assert_eq(osh_parse_bool(" y ", &b), OSH_EPARSE, "no whitespace around the word");
	cr_assert_eq(osh_parse_bool(NULL, &b), OSH_EPARSE);
}

Test(parse, numbers_and_ports_never_wrap)
{
	uint64_t v = 0;
	uint16_t p = 1;

	cr_assert_eq(osh_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(osh_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_u64("10", 11, 20, &v), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_u64("+1", 0, 9, &v), OSH_EPARSE);
	cr_assert_eq(osh_parse_u64("0x10", 0, 99, &v), OSH_EPARSE);
	cr_assert_eq(osh_parse_port("65535", false, &p), 0);
	cr_assert_eq(p, 65535);
	cr_assert_eq(osh_parse_port("99999", false, &p), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_port("73616", false, &p), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_port("0", false, &p), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_port("0", true, &p), 0);
	cr_assert_eq(p, 0);
}

Test(parse, host_port)
{
	char host[64];
	uint16_t port = 0;

	cr_assert_eq(osh_parse_hostport("127.0.0.1:8080", false, host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(port, 8080);
	cr_assert_eq(osh_parse_hostport("[::1]:0", true, host, sizeof(host), &port), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(port, 0);
	cr_assert_eq(osh_parse_hostport("0.0.0.0:99999", true, host, sizeof(host), &port),
		     OSH_ETOOBIG);
	cr_assert_eq(osh_parse_hostport("127.0.0.1:73616", false, host, sizeof(host), &port),
		     OSH_ETOOBIG);
	cr_assert_eq(osh_parse_hostport("::1:80", false, host, sizeof(host), &port), OSH_EPARSE);
	cr_assert_eq(osh_parse_hostport(":80", false, host, sizeof(host), &port), OSH_EPARSE);
	cr_assert_eq(osh_parse_hostport("[]:80", false, host, sizeof(host), &port), OSH_EPARSE);
	cr_assert_eq(osh_parse_hostport("host", false, host, sizeof(host), &port), OSH_EPARSE);
	cr_assert_eq(osh_parse_hostport("host:", false, host, sizeof(host), &port), OSH_EPARSE);
	cr_assert_eq(osh_parse_hostport("abcdefgh:1", false, host, 8, &port), OSH_ETOOBIG);
}

Test(time, utc_format)
{
	char b[OSH_TIME_RFC3339_LEN];

	cr_assert_eq(osh_time_format_utc(0, b, sizeof(b)), 24);
	cr_assert_str_eq(b, "1970-01-01T00:00:00.000Z");
	osh_time_format_utc(1796542662123LL, b, sizeof(b));
	cr_assert_str_eq(b, "2026-12-06T07:37:42.123Z");
	osh_time_format_utc(-1, b, sizeof(b));
	cr_assert_str_eq(b, "1969-12-31T23:59:59.999Z");
	osh_time_format_utc(INT64_MAX, b, sizeof(b));
	cr_assert_str_eq(b, "9999-12-31T23:59:59.999Z");
	cr_assert_eq(osh_time_format_utc(0, b, 10), 0);
	cr_assert_str_eq(b, "");
	cr_assert_leq(osh_time_mono_ms(), osh_time_mono_ms());
	cr_assert_gt(osh_time_wall_ms(), 1700000000000LL);
}
