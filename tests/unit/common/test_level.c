/* test_level.c - names, parsing and the OCSF severity ranking shared by the
 * stderr sink, the push feed, the CLI and the gateway. */
#include <criterion/criterion.h>

#include "osh_err.h"
#include "osh_level.h"

Test(level, names_roundtrip)
{
	enum osh_level lv;

	for (int i = OSH_LEVEL_TRACE; i <= OSH_LEVEL_ERROR; i++) {
		cr_assert_eq(osh_level_parse(osh_level_name((enum osh_level)i), &lv), 0);
		cr_assert_eq((int)lv, i);
		cr_assert_eq(osh_level_rank((enum osh_level)i), i);
	}
	cr_assert_str_eq(osh_level_name((enum osh_level)42), "INFO");
}

Test(level, parse_accepts_aliases_and_rejects_junk)
{
	enum osh_level lv = OSH_LEVEL_ERROR;

	cr_assert_eq(osh_level_parse("Warning", &lv), 0);
	cr_assert_eq(lv, OSH_LEVEL_WARN);
	cr_assert_eq(osh_level_parse("ocsf", &lv), 0);
	cr_assert_eq(lv, OSH_LEVEL_INFO);
	lv = OSH_LEVEL_ERROR;
	cr_assert_eq(osh_level_parse("verbose", &lv), OSH_EINVAL);
	cr_assert_eq(lv, OSH_LEVEL_ERROR);
	cr_assert_eq(osh_level_parse(NULL, &lv), OSH_EINVAL);
	cr_assert_eq(osh_level_parse("", &lv), OSH_EINVAL);
}

Test(level, severity_table)
{
	cr_assert_eq(osh_level_of_severity(0), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_of_severity(1), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_of_severity(2), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_of_severity(3), OSH_LEVEL_WARN);
	cr_assert_eq(osh_level_of_severity(4), OSH_LEVEL_ERROR);
	cr_assert_eq(osh_level_of_severity(5), OSH_LEVEL_ERROR);
	cr_assert_eq(osh_level_of_severity(6), OSH_LEVEL_ERROR);
	cr_assert_eq(osh_level_of_severity(99), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_of_severity(-3), OSH_LEVEL_INFO);
	cr_assert_str_eq(osh_level_severity_tag(3), "MED");
	cr_assert_str_eq(osh_level_severity_tag(99), "INFO");
	cr_assert_str_eq(osh_level_severity_tag(6), "FATAL");
}

Test(level, pushed_lines_rank_by_their_severity_tag)
{
	cr_assert_eq(osh_level_rank_line("OCSF", "NET:OPEN [INFO] ALLOWED x"), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_rank_line("OCSF", "NET:OPEN [MED] DENIED x"), OSH_LEVEL_WARN);
	cr_assert_eq(osh_level_rank_line("OCSF", "FINDING:BLOCKED [HIGH] \"t\""), OSH_LEVEL_ERROR);
	cr_assert_eq(osh_level_rank_line("OCSF", "EVENT [CRIT] m"), OSH_LEVEL_ERROR);
	cr_assert_eq(osh_level_rank_line("OCSF", "EVENT [LOW] m"), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_rank_line("ocsf", "garbage"), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_rank_line("OCSF", "X [NOPE] m"), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_rank_line("OCSF", NULL), OSH_LEVEL_INFO);
	cr_assert_eq(osh_level_rank_line("WARN", "anything"), OSH_LEVEL_WARN);
	cr_assert_eq(osh_level_rank_line("debug", "x"), OSH_LEVEL_DEBUG);
	cr_assert_eq(osh_level_rank_line("bogus", "x"), OSH_LEVEL_INFO);
	cr_assert(osh_level_line_passes("OCSF", "FINDING:BLOCKED [HIGH] \"t\"", OSH_LEVEL_ERROR));
	cr_assert(!osh_level_line_passes("OCSF", "NET:OPEN [INFO] x", OSH_LEVEL_WARN));
	cr_assert(osh_level_line_passes("OCSF", "NET:OPEN [INFO] x", OSH_LEVEL_INFO));
}
