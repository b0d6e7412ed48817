/* test_labels.c - label rules, the canonical text and selectors.
 *
 * DESIGN
 * Each case is a label a user could type (`sandbox create --label`,
 * `sandbox list --selector`) or a text the store could hand back, with the
 * exact result and the words the error must contain (it names the label).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osh_labels.h"

static char err[256];

static void refused(const char *k, const char *v, int want, const char *words)
{
	err[0] = '\0';
	cr_assert_eq(osh_labels_check(k, v, err, sizeof(err)), want, "%s=%s", k, v);
	cr_assert(strstr(err, words) != NULL, "error '%s' lacks '%s'", err, words);
	cr_assert(strchr(err, '\n') == NULL, "one line: %s", err);
}

Test(labels, key_and_value_rules)
{
	char k63[64], v63[64];

	memset(k63, 'k', 63);
	k63[63] = '\0';
	memset(v63, 'v', 63);
	v63[63] = '\0';
	cr_assert_eq(osh_labels_check("team", "infra", err, sizeof(err)), 0);
	cr_assert_eq(osh_labels_check("openshell.ai/tier-2_x", "a b=c,d!~", err, sizeof(err)), 0);
	cr_assert_eq(osh_labels_check("0k", "", err, sizeof(err)), 0, "empty value allowed");
	cr_assert_eq(osh_labels_check(k63, v63, err, sizeof(err)), 0, "63 and 63 fit");
	refused("", "x", OSH_EINVAL, "empty key");
	refused("-team", "x", OSH_EINVAL, "must start with a letter or digit");
	refused(".x", "x", OSH_EINVAL, "'.x'");
	refused("te am", "x", OSH_EINVAL, "character 3");
	refused("a=b", "x", OSH_EINVAL, "'a=b'");
	refused("k\n", "x", OSH_EINVAL, "'k\\x0a'");
	refused("t\xc3\xa4m", "x", OSH_EINVAL, "character 2");
	refused("team", "a\tb", OSH_EINVAL, "label 'team': value character 2 is not printable");
	refused("team", "caf\xc3\xa9", OSH_EINVAL, "value character 4");
	refused("team", "a\nb", OSH_EINVAL, "0x0a");
	{
		char k64[65], v64[65];

		memset(k64, 'k', 64);
		k64[64] = '\0';
		memset(v64, 'v', 64);
		v64[64] = '\0';
		refused(k64, "x", OSH_ETOOBIG, "longer than 63");
		refused("team", v64, OSH_ETOOBIG, "label 'team': value longer than 63");
	}
}

Test(labels, encode_sorts_and_refuses_repeats_and_too_many)
{
	const char *k[] = {"zone", "app", "Team"};
	const char *v[] = {"eu-1", "web", "x=y"};
	char *out = NULL;
	char *keys[65], *vals[65];

	cr_assert_eq(osh_labels_encode(k, v, 3, &out, err, sizeof(err)), 0);
	cr_assert_str_eq(out, "Team=x=y\napp=web\nzone=eu-1\n", "sorted bytewise");
	free(out);
	cr_assert_eq(osh_labels_encode(NULL, NULL, 0, &out, err, sizeof(err)), 0);
	cr_assert_str_eq(out, "");
	free(out);
	{
		const char *dk[] = {"a", "b", "a"}, *dv[] = {"1", "2", "3"};

		cr_assert_eq(osh_labels_encode(dk, dv, 3, &out, err, sizeof(err)), OSH_EEXIST);
		cr_assert_null(out);
		cr_assert(strstr(err, "label 'a' given twice") != NULL, "%s", err);
	}
	{
		const char *bk[] = {"ok", "bad key"}, *bv[] = {"1", "2"};

		cr_assert_eq(osh_labels_encode(bk, bv, 2, &out, err, sizeof(err)), OSH_EINVAL);
		cr_assert(strstr(err, "'bad key'") != NULL, "%s", err);
	}
	for (int i = 0; i < 65; i++) {
		keys[i] = malloc(8);
		vals[i] = malloc(8);
		snprintf(keys[i], 8, "k%02d", i);
		snprintf(vals[i], 8, "v%d", i);
	}
	cr_assert_eq(osh_labels_encode((const char *const *)keys, (const char *const *)vals, 64,
				       &out, err, sizeof(err)),
		     0, "64 labels fit");
	cr_assert_eq(osh_labels_validate(out, err, sizeof(err)), 0);
	free(out);
	cr_assert_eq(osh_labels_encode((const char *const *)keys, (const char *const *)vals, 65,
				       &out, err, sizeof(err)),
		     OSH_ETOOBIG);
	cr_assert(strstr(err, "65 labels: at most 64") != NULL, "%s", err);
	for (int i = 0; i < 65; i++) {
		free(keys[i]);
		free(vals[i]);
	}
}

Test(labels, split_takes_the_first_equals)
{
	char k[64], v[64];

	cr_assert_eq(osh_labels_split("a=b=c", k, v, err, sizeof(err)), 0);
	cr_assert_str_eq(k, "a");
	cr_assert_str_eq(v, "b=c");
	cr_assert_eq(osh_labels_split("a=", k, v, err, sizeof(err)), 0);
	cr_assert_str_eq(v, "");
	cr_assert_eq(osh_labels_split("novalue", k, v, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "label 'novalue': expected KEY=VALUE") != NULL, "%s", err);
	cr_assert_eq(osh_labels_split("=v", k, v, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "empty key") != NULL, "%s", err);
	cr_assert_eq(
	    osh_labels_split("k=0123456789012345678901234567890123456789012345678901234567890123",
			     k, v, err, sizeof(err)),
	    OSH_ETOOBIG);
	cr_assert(strstr(err, "label 'k': value longer than 63") != NULL, "%s", err);
}

Test(labels, next_and_validate_read_only_canonical_text)
{
	char k[64], v[64];
	const char *c = "a=1\nb=x=y\n";

	cr_assert_eq(osh_labels_next(&c, k, v), 1);
	cr_assert_str_eq(k, "a");
	cr_assert_eq(osh_labels_next(&c, k, v), 1);
	cr_assert_str_eq(v, "x=y");
	cr_assert_eq(osh_labels_next(&c, k, v), 0);
	cr_assert_eq(osh_labels_validate(NULL, err, sizeof(err)), 0);
	cr_assert_eq(osh_labels_validate("", err, sizeof(err)), 0);
	cr_assert_eq(osh_labels_validate("b=1\na=2\n", err, sizeof(err)), OSH_EPARSE, "order");
	cr_assert_eq(osh_labels_validate("a=1\na=2\n", err, sizeof(err)), OSH_EPARSE, "repeat");
	cr_assert_eq(osh_labels_validate("ab=1\na=2\n", err, sizeof(err)), OSH_EPARSE, "prefix");
	cr_assert_eq(osh_labels_validate("a=1\nab=2\n", err, sizeof(err)), 0, "prefix sorts first");
	cr_assert_eq(osh_labels_validate("a=1", err, sizeof(err)), OSH_EPARSE, "no newline");
	cr_assert_eq(osh_labels_validate("a\n", err, sizeof(err)), OSH_EPARSE, "no '='");
	cr_assert_eq(osh_labels_validate("-a=1\n", err, sizeof(err)), OSH_EPARSE, "bad key");
	cr_assert(strstr(err, "byte 0") != NULL, "%s", err);
}

Test(labels, selectors)
{
	char *s = NULL;

	cr_assert_eq(osh_labels_selector_parse("zone=eu,app=web", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s, "app=web\nzone=eu\n");
	cr_assert(osh_labels_match("app=web\nteam=x\nzone=eu\n", s));
	cr_assert(!osh_labels_match("app=web\nzone=us\n", s), "value differs");
	cr_assert(!osh_labels_match("app=web\n", s), "label missing");
	cr_assert(!osh_labels_match("", s));
	cr_assert(!osh_labels_match(NULL, s));
	cr_assert(!osh_labels_match("zone=eu\napp=web\n", s), "not canonical never matches");
	free(s);
	cr_assert_eq(osh_labels_selector_parse("", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s, "");
	cr_assert(osh_labels_match("", s) && osh_labels_match("a=1\n", s) &&
		  osh_labels_match(NULL, NULL));
	free(s);
	cr_assert_eq(osh_labels_selector_parse("a=", &s, err, sizeof(err)), 0);
	cr_assert(osh_labels_match("a=\n", s));
	cr_assert(!osh_labels_match("a=1\n", s), "empty value is a value");
	free(s);
	cr_assert_eq(osh_labels_selector_parse("a=1,,b=2", &s, err, sizeof(err)), OSH_EINVAL);
	cr_assert_null(s);
	cr_assert(strstr(err, "selector term 2") != NULL, "%s", err);
	cr_assert_eq(osh_labels_selector_parse("a=1,", &s, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "empty term") != NULL, "%s", err);
	cr_assert_eq(osh_labels_selector_parse("a!=1", &s, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "selector term 1: label key 'a!'") != NULL, "%s", err);
	cr_assert_eq(osh_labels_selector_parse("a=1,a=2", &s, err, sizeof(err)), OSH_EEXIST);
	cr_assert(strstr(err, "label 'a' given twice") != NULL, "%s", err);
	cr_assert_eq(osh_labels_selector_parse("team", &s, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "expected KEY=VALUE") != NULL, "%s", err);
}
