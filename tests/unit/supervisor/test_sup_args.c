/* test_sup_args.c - openshell-sandbox flags, environment twins, durations.
 * DESIGN: argv/envp arrays built in each test; the parser is pure. */
#include <criterion/criterion.h>
#include <string.h>

/* A mutable string literal for argv/envp arrays (-Wwrite-strings). */
#define A(s) ((char[]){s})

#include "osh_parse.h"
#include "sup_args.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

Test(duration, units)
{
	int64_t ms = -1;

	cr_assert_eq(osh_parse_duration_ms("500ms", &ms), 0);
	cr_assert_eq(ms, 500);
	cr_assert_eq(osh_parse_duration_ms("2s", &ms), 0);
	cr_assert_eq(ms, 2000);
	cr_assert_eq(osh_parse_duration_ms("5m", &ms), 0);
	cr_assert_eq(ms, 300000);
	cr_assert_eq(osh_parse_duration_ms("1h", &ms), 0);
	cr_assert_eq(ms, 3600000);
	cr_assert_eq(osh_parse_duration_ms("30", &ms), 0);
	cr_assert_eq(ms, 30000);
	cr_assert_eq(osh_parse_duration_ms("0", &ms), 0);
	cr_assert_eq(ms, 0);
}

Test(duration, rejects)
{
	int64_t ms = 7;

	cr_assert_eq(osh_parse_duration_ms("", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms(NULL, &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("-1s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("2x", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("2 s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("1.5s", &ms), OSH_EPARSE);
	cr_assert_eq(osh_parse_duration_ms("99999999999999999999", &ms), OSH_ETOOBIG);
	cr_assert_eq(osh_parse_duration_ms("9223372036854775h", &ms), OSH_ETOOBIG);
	cr_assert_eq(ms, 7, "failed parses leave the output alone");
}

Test(args, full_flags)
{
	char *argv[] = {A("openshell-sandbox"),
			A("--gateway"),
			A("127.0.0.1:4000"),
			A("--sandbox-id=abc"),
			A("--sandbox-name"),
			A("demo"),
			A("--log-dir"),
			A("/tmp/x"),
			A("--policy"),
			A("p.yaml"),
			A("--poll-interval"),
			A("250ms"),
			A("--timeout"),
			A("3s"),
			A("--heartbeat=1s"),
			A("-e"),
			A("A=1"),
			A("--pass-env"),
			A("FOO"),
			A("--"),
			A("sh"),
			A("-c"),
			A("exit 3"),
			NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, NULL, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(a.gateway, "127.0.0.1:4000");
	cr_assert_str_eq(a.sandbox_id, "abc");
	cr_assert_str_eq(a.sandbox_name, "demo");
	cr_assert_str_eq(a.log_dir, "/tmp/x");
	cr_assert_str_eq(a.policy_file, "p.yaml");
	cr_assert_eq(a.poll_ms, 250);
	cr_assert_eq(a.timeout_ms, 3000);
	cr_assert_eq(a.heartbeat_ms, 1000);
	cr_assert_eq(a.grace_ms, OSH_SUP_DEFAULT_GRACE_MS);
	cr_assert_eq(a.n_extra_env, 1);
	cr_assert_str_eq(a.extra_env[0], "A=1");
	cr_assert_eq(a.n_pass_env, 1);
	cr_assert_str_eq(a.pass_env[0], "FOO");
	cr_assert_eq(a.n_command, 3);
	cr_assert_str_eq(a.command[0], "sh");
	cr_assert_str_eq(a.command[2], "exit 3");
	cr_assert_null(a.command[3]);
	osh_sup_args_fini(&a);
}

Test(args, defaults_and_standalone)
{
	char *argv[] = {A("openshell-sandbox"), A("true"), NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, NULL, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_null(a.gateway);
	cr_assert_str_eq(a.log_dir, "/var/log");
	cr_assert_eq(a.poll_ms, OSH_SUP_DEFAULT_POLL_MS);
	cr_assert_eq(a.timeout_ms, 0);
	cr_assert_eq(a.heartbeat_ms, 0);
	cr_assert_eq(a.denial_flush_ms, OSH_SUP_DEFAULT_DENIAL_FLUSH_MS);
	cr_assert_eq(a.n_command, 1);
	osh_sup_args_fini(&a);
}

Test(args, env_twins_and_flag_wins)
{
	char *envp[] = {A("OPENSHELL_GATEWAY=localhost:9"), A("OPENSHELL_SANDBOX_ID=env-id"),
			A("OPENSHELL_POLL_INTERVAL=2s"),    A("OPENSHELL_TIMEOUT=1m"),
			A("OPENSHELL_LOG_DIR=/envdir"),	    NULL};
	char *argv[] = {
	    A("openshell-sandbox"), A("--sandbox-id"), A("flag-id"), A("--"), A("true"), NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, envp, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(a.gateway, "localhost:9");
	cr_assert_str_eq(a.sandbox_id, "flag-id");
	cr_assert_eq(a.poll_ms, 2000);
	cr_assert_eq(a.timeout_ms, 60000);
	cr_assert_str_eq(a.log_dir, "/envdir");
	osh_sup_args_fini(&a);
}

Test(args, denial_flush_interval_flag_env_and_bounds)
{
	char *envp[] = {A("OPENSHELL_DENIAL_FLUSH_INTERVAL=250ms"), NULL};
	char *argv[] = {A("openshell-sandbox"), A("true"), NULL};
	char *argv2[] = {A("openshell-sandbox"), A("--denial-flush-interval=2s"), A("true"), NULL};
	char *bad[] = {A("openshell-sandbox"), A("--denial-flush-interval"), A("5ms"), A("true"),
		       NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, envp, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(a.denial_flush_ms, 250);
	osh_sup_args_fini(&a);
	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv2), argv2, envp, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(a.denial_flush_ms, 2000, "the flag wins over its variable");
	osh_sup_args_fini(&a);
	cr_assert_neq(osh_sup_args_parse(&a, ARGC(bad), bad, NULL, err, sizeof(err)), 0);
	cr_assert(strstr(err, "--denial-flush-interval: must be at least 10ms"), "%s", err);
	osh_sup_args_fini(&a);
}

static void expect_error(char **argv, int argc, char **envp, const char *needle)
{
	struct osh_sup_args a;
	char err[256];
	int rc = osh_sup_args_parse(&a, argc, argv, envp, err, sizeof(err));

	cr_assert_neq(rc, 0, "expected failure mentioning %s", needle);
	cr_assert(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
	osh_sup_args_fini(&a);
}

Test(args, errors_name_the_culprit)
{
	char *a1[] = {A("x"), A("--timeout"), A("soon"), A("--"), A("true"), NULL};
	char *a2[] = {A("x"), A("--gateway"), A("nohost"), A("--sandbox-id"),
		      A("i"), A("--"),	      A("true"),   NULL};
	char *a3[] = {A("x"), A("--gateway"), A("h:1"), A("--"), A("true"), NULL};
	char *a4[] = {A("x"), A("--bogus"), A("--"), A("true"), NULL};
	char *a5[] = {A("x"), A("--timeout"), NULL};
	char *a6[] = {A("x"), A("--"), NULL};
	char *a7[] = {A("x"), A("--env"), A("NOEQUALS"), A("true"), NULL};
	char *a8[] = {A("x"), A("--poll-interval"), A("1ms"), A("true"), NULL};
	char *a9[] = {A("x"), A("--gateway"), A("h:70000"), A("--sandbox-id"),
		      A("i"), A("true"),      NULL};
	char *a10[] = {A("x"), A("--help=yes"), A("true"), NULL};
	char *e1[] = {A("OPENSHELL_TIMEOUT=forever"), NULL};
	char *a11[] = {A("x"), A("true"), NULL};

	expect_error(a1, ARGC(a1), NULL, "--timeout");
	expect_error(a2, ARGC(a2), NULL, "HOST:PORT");
	expect_error(a3, ARGC(a3), NULL, "--sandbox-id");
	expect_error(a4, ARGC(a4), NULL, "--bogus");
	expect_error(a5, ARGC(a5), NULL, "needs a value");
	expect_error(a6, ARGC(a6), NULL, "no command");
	expect_error(a7, ARGC(a7), NULL, "NAME=VALUE");
	expect_error(a8, ARGC(a8), NULL, "--poll-interval");
	expect_error(a9, ARGC(a9), NULL, "HOST:PORT");
	expect_error(a10, ARGC(a10), NULL, "takes no value");
	expect_error(a11, ARGC(a11), e1, "OPENSHELL_TIMEOUT");
}

Test(args, help_needs_no_command)
{
	char *argv[] = {A("x"), A("--help"), NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, NULL, err, sizeof(err)), 0);
	cr_assert(a.help);
	osh_sup_args_fini(&a);
}

Test(args, command_may_start_with_dash_after_separator)
{
	char *argv[] = {A("x"), A("--"), A("-weird"), A("arg"), NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, NULL, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(a.command[0], "-weird");
	cr_assert_eq(a.n_command, 2);
	osh_sup_args_fini(&a);
}

/* finding 6 of docs/security.md: an overflowing duration is OSH_EPARSE (the
 * header's contract), and the message names the flag and "out of range". */
Test(args, overflowing_duration_is_a_parse_error)
{
	char *argv[] = {A("openshell-sandbox"), A("--poll-interval=118446744073709551615"), A("--"),
			A("true"), NULL};
	char *envp[] = {A("OPENSHELL_POLL_INTERVAL=9223372036854775807h"), NULL};
	char *argv2[] = {A("openshell-sandbox"), A("--"), A("true"), NULL};
	struct osh_sup_args a;
	char err[256];

	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv), argv, NULL, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "--poll-interval") && strstr(err, "out of range"), "%s", err);
	osh_sup_args_fini(&a);
	cr_assert_eq(osh_sup_args_parse(&a, ARGC(argv2), argv2, envp, err, sizeof(err)),
		     OSH_EPARSE);
	cr_assert(strstr(err, "OPENSHELL_POLL_INTERVAL") && strstr(err, "out of range"), "%s", err);
	osh_sup_args_fini(&a);
}
