/* test_cli.c - the openshell CLI: parsing, line format, and commands run
 * against a real gRPC server on 127.0.0.1:0.
 *
 * DESIGN: the "gateway" here is a small osh_rpc server implementing the
 * OpenShell methods the CLI calls, recording what it received, so each test
 * checks both what the user sees (stdout/stderr captured with
 * open_memstream) and what went over the wire. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "osh_cli.h"
#include "osh_rpc.h"
#include "osh_testdir.h"
#include "sandbox.pb-c.h"

#define NOW 1775014200000LL

static int parse(struct osh_cli_args *a, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = OSH_RPC_STR("openshell");
	for (; args[argc - 1] != NULL; argc++)
		argv[argc] = OSH_RPC_STR(args[argc - 1]);
	argv[argc] = NULL;
	/* argv must outlive *a: keep the strings static (they are literals). */
	static char *keep[32];
	memcpy(keep, argv, sizeof(argv));
	return osh_cli_parse(argc, keep, NULL, NOW, a, err, 256);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(cli_parse, commands_and_flags)
{
	struct osh_cli_args a;
	char err[256];

	cr_assert_eq(parse(&a, err, ARGS("config", "get")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_CONFIG_GET);
	cr_assert_null(a.key);
	cr_assert_str_eq(a.gateway, OSH_CLI_DEFAULT_GATEWAY);
	cr_assert(!a.gateway_explicit);

	cr_assert_eq(parse(&a, err, ARGS("--gateway", "10.0.0.1:9", "config", "get", "k")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_CONFIG_GET);
	cr_assert_str_eq(a.key, "k");
	cr_assert_str_eq(a.gateway, "10.0.0.1:9");

	cr_assert_eq(parse(&a, err, ARGS("--gateway=h:1", "config", "set", "k", "v")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_CONFIG_SET);
	cr_assert_str_eq(a.key, "k");
	cr_assert_str_eq(a.value, "v");
	cr_assert_str_eq(a.gateway, "h:1");

	cr_assert_eq(parse(&a, err,
			   ARGS("sandbox", "create", "--name", "box", "--policy=p.yaml", "--", "sh",
				"-c", "echo hi")),
		     0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_CREATE);
	cr_assert_str_eq(a.name, "box");
	cr_assert_str_eq(a.policy_file, "p.yaml");
	cr_assert_eq(a.n_command, 3);
	cr_assert_str_eq(a.command[0], "sh");
	cr_assert_str_eq(a.command[2], "echo hi");

	cr_assert_eq(parse(&a, err, ARGS("sandbox", "list")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_LIST);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "delete", "box")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_DELETE);
	cr_assert_str_eq(a.name, "box");

	cr_assert_eq(parse(&a, err,
			   ARGS("sandbox", "logs", "box", "-n", "50", "--since", "5m", "--level",
				"WARN", "--source", "sandbox", "--follow")),
		     0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_LOGS);
	cr_assert_str_eq(a.name, "box");
	cr_assert_eq(a.lines, 50);
	cr_assert_eq(a.since_ms, NOW - 5 * 60 * 1000);
	cr_assert(a.level_set);
	cr_assert_eq(a.min_level, OSH_LEVEL_WARN);
	cr_assert_eq(a.n_sources, 1);
	cr_assert_str_eq(a.sources[0], "sandbox");
	cr_assert(a.follow);

	cr_assert_eq(parse(&a, err, ARGS("sandbox", "logs", "box")), 0);
	cr_assert_eq(a.lines, OSH_CLI_DEFAULT_LINES);
	cr_assert(!a.follow);
	cr_assert(!a.level_set);
	cr_assert_eq(a.since_ms, 0);

	cr_assert_eq(parse(&a, err, ARGS("gateway", "start", "--data-dir", "/x", "--ocsf-logging")),
		     0);
	cr_assert_eq(a.cmd, OSH_CLI_GATEWAY_START);
	cr_assert_eq(a.gw_argc, 3);
	cr_assert_str_eq(a.gw_argv[0], "--data-dir");
}

Test(cli_parse, upstream_forms)
{
	struct osh_cli_args a;
	char err[256];

	cr_assert_eq(parse(&a, err, ARGS("logs", "box", "--tail", "-n", "5")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_LOGS);
	cr_assert_str_eq(a.name, "box");
	cr_assert(a.follow, "--tail means follow, as upstream");
	cr_assert_eq(a.lines, 5);
	cr_assert_eq(parse(&a, err, ARGS("lg", "--source", "agent", "-o", "json")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_LOGS);
	cr_assert_null(a.name);
	cr_assert(a.name_default);
	cr_assert_str_eq(a.sources[0], "agent");
	cr_assert_eq(a.output, OSH_CLI_OUT_JSON);
	cr_assert_eq(parse(&a, err, ARGS("logs", "b", "--timestamps=utc")), 0, "%s", err);
	cr_assert_eq(a.timestamps, OSH_CLI_TS_UTC);

	cr_assert_eq(parse(&a, err, ARGS("sandbox", "get", "box", "-o", "yaml")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_GET);
	cr_assert_str_eq(a.name, "box");
	cr_assert_eq(a.output, OSH_CLI_OUT_YAML);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "get")), 0, "%s", err);
	cr_assert(a.name_default, "sandbox get without NAME: the last sandbox used");
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "list", "-o", "json")), 0, "%s", err);
	cr_assert_eq(a.output, OSH_CLI_OUT_JSON);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "list", "--names")), 0, "%s", err);
	cr_assert(a.names_only);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "delete", "a", "b", "c")), 0, "%s", err);
	cr_assert_eq(a.n_names, 3);
	cr_assert_str_eq(a.names[2], "c");
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "delete", "--all")), 0, "%s", err);
	cr_assert(a.all);
	cr_assert_eq(a.n_names, 0);

	cr_assert_eq(parse(&a, err, ARGS("settings", "get", "--global", "--json")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_CONFIG_GET);
	cr_assert_eq(a.output, OSH_CLI_OUT_JSON);
	cr_assert_eq(parse(&a, err,
			   ARGS("settings", "set", "--global", "--key", "ocsf_json_enabled",
				"--value", "true", "--yes")),
		     0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_CONFIG_SET);
	cr_assert_str_eq(a.key, "ocsf_logging_enabled", "upstream key name maps to ours");
	cr_assert_str_eq(a.value, "true");
	cr_assert_eq(parse(&a, err, ARGS("config", "set", "ocsf_json_enabled", "on")), 0);
	cr_assert_str_eq(a.key, "ocsf_logging_enabled");
	cr_assert_eq(parse(&a, err, ARGS("settings", "delete", "--key=ocsf_json_enabled")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_CONFIG_DELETE);
	cr_assert_str_eq(a.key, "ocsf_logging_enabled");

	cr_assert_eq(parse(&a, err, ARGS("status")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_STATUS);
	cr_assert_eq(parse(&a, err, ARGS("completions", "fish")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_COMPLETIONS);
	cr_assert_str_eq(a.shell, "fish");
	cr_assert_eq(
	    parse(&a, err, ARGS("sandbox", "create", "--name", "b", "--env", "A=1", "--env=B=x=y")),
	    0, "%s", err);
	cr_assert_eq(a.n_env, 2);
	cr_assert_str_eq(a.env[1], "B=x=y");
	cr_assert_eq(
	    parse(&a, err,
		  ARGS("sandbox", "create", "--name", "b", "--label", "team=x", "--label=a/b=")),
	    0, "%s", err);
	cr_assert_eq(a.n_labels, 2);
	cr_assert_str_eq(a.labels[1], "a/b=");
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "list", "--selector", "team=x,a/b=")), 0, "%s",
		     err);
	cr_assert_str_eq(a.selector, "team=x,a/b=");
}

/* Bad labels and selectors: one line naming the label, exit 64 (usage). */
Test(cli_parse, labels_and_selectors_refused)
{
	static const struct {
		const char *argv[10];
		const char *want;
	} cases[] = {
	    {{"sandbox", "create", "--name", "b", "--label", "team", NULL},
	     "sandbox create: --label: label 'team': expected KEY=VALUE"},
	    {{"sandbox", "create", "--name", "b", "--label", "-t=1", NULL},
	     "label key '-t': must start with a letter or digit"},
	    {{"sandbox", "create", "--name", "b", "--label", "t=caf\xc3\xa9", NULL},
	     "label 't': value character 4 is not printable ASCII"},
	    {{"sandbox", "create", "--name", "b", "--label", "t=1", "--label", "t=2", NULL},
	     "--label t given twice ('t=1' and 't=2')"},
	    {{"sandbox", "create", "--name", "b", "--label", NULL}, "--label needs KEY=VALUE"},
	    {{"sandbox", "list", "--selector", "t", NULL},
	     "sandbox list: --selector: selector term 1: label 't': expected KEY=VALUE"},
	    {{"sandbox", "list", "--selector", "a=1,b\n=2", NULL},
	     "selector term 2: label key 'b\\x0a'"},
	    {{"sandbox", "list", "--selector=", NULL}, "--selector needs KEY=VALUE"},
	    {{"sandbox", "list", "--selektor", "a=1", NULL}, "--selector"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct osh_cli_args a;
		char err[512] = "";
		char *argv[12];
		int n = 0;

		argv[n++] = OSH_RPC_STR("openshell");
		for (; cases[i].argv[n - 1]; n++)
			argv[n] = OSH_RPC_STR(cases[i].argv[n - 1]);
		argv[n] = NULL;
		cr_assert_neq(osh_cli_parse(n, argv, NULL, 0, &a, err, sizeof(err)), 0, "case %zu",
			      i);
		cr_assert(strstr(err, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err,
			  cases[i].want);
		cr_assert(strchr(err, '\n') == NULL, "case %zu: one line: %s", i, err);
	}
	{
		struct osh_cli_args a;
		char err[512] = "", *argv[140];
		char kv[65][16];
		int n = 0;

		argv[n++] = OSH_RPC_STR("openshell");
		argv[n++] = OSH_RPC_STR("sandbox");
		argv[n++] = OSH_RPC_STR("create");
		argv[n++] = OSH_RPC_STR("--name");
		argv[n++] = OSH_RPC_STR("b");
		for (int k = 0; k < 65; k++) {
			snprintf(kv[k], sizeof(kv[k]), "k%d=v", k);
			argv[n++] = OSH_RPC_STR("--label");
			argv[n++] = kv[k];
		}
		argv[n] = NULL;
		cr_assert_neq(osh_cli_parse(n, argv, NULL, 0, &a, err, sizeof(err)), 0);
		cr_assert(strstr(err, "more than 64 --label") != NULL, "%s", err);
		cr_assert_eq(osh_cli_parse(n - 2, argv, NULL, 0, &a, err, sizeof(err)), 0, "64: %s",
			     err);
	}
}

Test(cli_parse, log_time_from_environment)
{
	struct osh_cli_args a;
	char err[256];
	char *argv[] = {OSH_RPC_STR("openshell"), OSH_RPC_STR("logs"), OSH_RPC_STR("b"), NULL};
	char *argv2[] = {OSH_RPC_STR("openshell"),    OSH_RPC_STR("logs"),  OSH_RPC_STR("b"),
			 OSH_RPC_STR("--timestamps"), OSH_RPC_STR("epoch"), NULL};

	cr_assert_eq(osh_cli_parse_env(3, argv, NULL, "local", NOW, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.timestamps, OSH_CLI_TS_LOCAL);
	cr_assert_eq(osh_cli_parse_env(5, argv2, NULL, "local", NOW, &a, err, sizeof(err)), 0);
	cr_assert_eq(a.timestamps, OSH_CLI_TS_EPOCH, "the flag wins over the variable");
	cr_assert_eq(osh_cli_parse_env(3, argv, NULL, "iso", NOW, &a, err, sizeof(err)),
		     OSH_EINVAL);
	cr_assert(strstr(err, "OPENSHELL_LOG_TIME must be epoch, utc or local") != NULL, "%s", err);
}

Test(cli_parse, suggest_nearest)
{
	char b[32];
	osh_cli_suggest("--folow", "--follow --since", b, sizeof(b));
	cr_assert_str_eq(b, "--follow");
	osh_cli_suggest("--sin", "--follow --since", b, sizeof(b));
	cr_assert_str_eq(b, "--since", "a unique prefix");
	osh_cli_suggest("--zzzzzz", "--follow --since", b, sizeof(b));
	cr_assert_str_eq(b, "");
	osh_cli_suggest("-x", "-n -o", b, sizeof(b));
	cr_assert_str_eq(b, "", "distance 1 of a 2-letter flag is not a suggestion");
}

Test(cli_parse, gateway_from_env_and_flag_wins)
{
	struct osh_cli_args a;
	char err[256];
	char *argv[] = {OSH_RPC_STR("openshell"), OSH_RPC_STR("sandbox"), OSH_RPC_STR("list"),
			NULL};
	char *argv2[] = {OSH_RPC_STR("openshell"), OSH_RPC_STR("-g"),	OSH_RPC_STR("b:2"),
			 OSH_RPC_STR("sandbox"),   OSH_RPC_STR("list"), NULL};
	cr_assert_eq(osh_cli_parse(3, argv, "envhost:7", NOW, &a, err, sizeof(err)), 0);
	cr_assert_str_eq(a.gateway, "envhost:7");
	cr_assert(a.gateway_explicit);
	cr_assert_eq(osh_cli_parse(5, argv2, "envhost:7", NOW, &a, err, sizeof(err)), 0);
	cr_assert_str_eq(a.gateway, "b:2");
}

Test(cli_parse, help_everywhere)
{
	struct osh_cli_args a;
	char err[256];
	const char *const *cases[] = {
	    ARGS("--help"),
	    ARGS("-h"),
	    ARGS("help"),
	    ARGS("config", "--help"),
	    ARGS("config", "get", "--help"),
	    ARGS("config", "set", "-h"),
	    ARGS("sandbox", "--help"),
	    ARGS("sandbox", "create", "--help"),
	    ARGS("sandbox", "list", "--help"),
	    ARGS("sandbox", "delete", "--help"),
	    ARGS("sandbox", "logs", "--help"),
	    ARGS("gateway", "--help"),
	    ARGS("gateway", "start", "--help"),
	    ARGS("help", "sandbox", "logs"),
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(&a, err, cases[i]), 0, "case %zu: %s", i, err);
		cr_assert_eq(a.cmd, OSH_CLI_HELP, "case %zu", i);
	}
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "logs", "--help")), 0);
	cr_assert_str_eq(a.help_topic, "sandbox logs");
	cr_assert_eq(parse(&a, err, ARGS("help", "sandbox", "logs")), 0);
	cr_assert_str_eq(a.help_topic, "sandbox logs");
}

Test(cli_parse, sandbox_proposals)
{
	struct osh_cli_args a;
	char err[256];

	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "box")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_PROPOSALS);
	cr_assert_str_eq(a.name, "box");
	cr_assert_null(a.status);
	cr_assert_eq(a.output, OSH_CLI_OUT_TEXT);
	cr_assert_eq(
	    parse(&a, err,
		  ARGS("sandbox", "proposals", "box", "-o", "json", "--status", "pending")),
	    0, "%s", err);
	cr_assert_eq(a.output, OSH_CLI_OUT_JSON);
	cr_assert_str_eq(a.status, "pending");
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "box", "--status=all")), 0);
	cr_assert_null(a.status, "all = no filter");
	/* a sandbox named "accept" is listed; three words decide */
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "accept")), 0, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_PROPOSALS);
	cr_assert_str_eq(a.name, "accept");
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "accept", "box", "id-1")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_PROPOSAL_DECIDE);
	cr_assert(a.accept);
	cr_assert_str_eq(a.name, "box");
	cr_assert_str_eq(a.proposal_id, "id-1");
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "reject", "box", "id-2")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_PROPOSAL_DECIDE);
	cr_assert_not(a.accept);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "reject", "box")), OSH_EINVAL);
	cr_assert(strstr(err, "needs a sandbox NAME and a proposal ID"), "%s", err);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals")), OSH_EINVAL);
	cr_assert(strstr(err, "missing sandbox NAME"), "%s", err);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "box", "--status", "maybe")),
		     OSH_EINVAL);
	cr_assert(strstr(err, "--status must be pending, accepted, rejected or all"), "%s", err);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "box", "--statu", "x")),
		     OSH_EINVAL);
	cr_assert(strstr(err, "--status"), "suggests the flag: %s", err);
	cr_assert_eq(parse(&a, err, ARGS("sandbox", "proposals", "--help")), 0);
	cr_assert_eq(a.cmd, OSH_CLI_HELP);
	cr_assert_str_eq(a.help_topic, "sandbox proposals");
}

Test(cli_parse, errors_name_the_problem)
{
	struct osh_cli_args a;
	char err[256];
	struct {
		const char *const *args;
		const char *needle;
	} cases[] = {
	    {ARGS("frobnicate"), "unknown command 'frobnicate'"},
	    {ARGS("--bogus", "config", "get"), "unknown option '--bogus'"},
	    {ARGS("--gateway", "nocolon", "config", "get"), "HOST:PORT"},
	    {ARGS("--gateway", "unix:relative.sock", "config", "get"), "unix:/PATH"},
	    {ARGS("config"), "missing subcommand"},
	    {ARGS("config", "set", "k"), "missing argument"},
	    {ARGS("config", "set", "k", "v", "extra"), "unexpected argument 'extra'"},
	    {ARGS("config", "get", "--x"), "unknown flag '--x'"},
	    {ARGS("sandbox", "create"), "missing --name"},
	    {ARGS("sandbox", "create", "--name"), "--name needs a value"},
	    {ARGS("sandbox", "create", "--name", "b", "cmd"), "put the command after --"},
	    {ARGS("sandbox", "delete"), "sandbox delete: missing sandbox NAME"},
	    {ARGS("sandbox", "logs"), "missing sandbox NAME"},
	    {ARGS("sandbox", "logs", "b", "-n", "ten"), "-n needs a number"},
	    {ARGS("sandbox", "logs", "b", "-n"), "-n needs a number"},
	    {ARGS("logs", "b", "-n", "99999999999"),
	     "-n needs a number of lines from 0 to 1000000"},
	    {ARGS("logs", "b", "--folow"), "unknown flag '--folow' (did you mean --follow?)"},
	    {ARGS("logs", "b", "--sinse", "5m"), "did you mean --since?"},
	    {ARGS("logs", "b", "-o", "yaml"), "-o must be table or json"},
	    {ARGS("logs", "b", "--timestamps", "iso"), "--timestamps must be epoch, utc or local"},
	    {ARGS("sandbox", "lst"), "unknown subcommand 'lst' (did you mean list?)"},
	    {ARGS("sandbox", "get", "a", "b"), "unexpected argument 'b'"},
	    {ARGS("sandbox", "get", "a", "-o", "xml"), "-o must be table, yaml or json"},
	    {ARGS("sandbox", "list", "--name"), "did you mean --names?"},
	    {ARGS("sandbox", "delete", "a", "--all"), "NAMEs or --all, not both"},
	    {ARGS("sandbox", "create", "--name", "a", "--name", "b"), "--name given twice"},
	    {ARGS("sandbox", "create", "--name", "a", "--env", "NOEQ"), "--env needs KEY=VALUE"},
	    {ARGS("sandbox", "create", "--name", "a", "--polcy", "x"), "did you mean --policy"},
	    {ARGS("settings", "set", "--key", "k"), "missing --value VALUE"},
	    {ARGS("settings", "set", "--value", "v"), "missing --key KEY"},
	    {ARGS("settings", "get", "box"), "settings are gateway-wide here"},
	    {ARGS("settings", "delete"), "missing --key KEY"},
	    {ARGS("setings", "get"), "unknown command 'setings' (did you mean settings?)"},
	    {ARGS("completions", "tcsh"), "SHELL must be bash, zsh or fish"},
	    {ARGS("-g", "127.0.0.1:73616", "status"), "port 1-65535"},
	    {ARGS("-g", "http://127.0.0.1:8080", "status"), "drop the scheme"},
	    {ARGS("--gatway", "x:1", "status"), "did you mean --gateway?"},
	    {ARGS("sandbox", "logs", "b", "--since", "5x"), "--since needs a duration"},
	    {ARGS("sandbox", "logs", "b", "--level", "loud"), "--level must be one of"},
	    {ARGS("sandbox", "logs", "b", "--source", "kernel"), "--source must be"},
	    {ARGS("sandbox", "logs", "b", "--what"), "unknown flag '--what'"},
	    {ARGS("sandbox", "logs", "b", "c"), "unexpected argument 'c'"},
	    {ARGS("sandbox", "explode"), "unknown subcommand 'explode'"},
	    {ARGS("status", "extra"), "unexpected argument 'extra'"},
	    {ARGS("gateway", "stop"), "unknown subcommand 'stop'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(&a, err, cases[i].args), OSH_EINVAL, "case %zu", i);
		cr_assert(strstr(err, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err,
			  cases[i].needle);
	}
}

Test(cli_parse, since_values)
{
	int64_t v;
	cr_assert_eq(osh_cli_parse_since("30s", NOW, &v), 0);
	cr_assert_eq(v, NOW - 30000);
	cr_assert_eq(osh_cli_parse_since("2h", NOW, &v), 0);
	cr_assert_eq(v, NOW - 7200000);
	cr_assert_eq(osh_cli_parse_since("1d", NOW, &v), 0);
	cr_assert_eq(v, NOW - 86400000);
	cr_assert_eq(osh_cli_parse_since("250ms", NOW, &v), 0);
	cr_assert_eq(v, NOW - 250);
	cr_assert_eq(osh_cli_parse_since("1775014132690", NOW, &v), 0);
	cr_assert_eq(v, 1775014132690LL);
	cr_assert_eq(osh_cli_parse_since("-5m", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("5", NOW, &v), 0, "a bare number is seconds");
	cr_assert_eq(v, NOW - 5000);
	/* exactly what the CLI prints: <secs>.<ms> */
	cr_assert_eq(osh_cli_parse_since("1775014132.690", NOW, &v), 0);
	cr_assert_eq(v, 1775014132690LL);
	cr_assert_eq(osh_cli_parse_since("1775014132.69", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("1775014132.", NOW, &v), OSH_EINVAL);
	/* epoch seconds without .ms: refused, not read as a duration or ms */
	cr_assert_eq(osh_cli_parse_since("1775014132", NOW, &v), OSH_EINVAL);
	/* RFC 3339 */
	cr_assert_eq(osh_cli_parse_since("2026-04-01T03:28:52Z", NOW, &v), 0);
	cr_assert_eq(v, 1775014132000LL);
	cr_assert_eq(osh_cli_parse_since("2026-04-01T03:28:52.69Z", NOW, &v), 0);
	cr_assert_eq(v, 1775014132690LL);
	cr_assert_eq(osh_cli_parse_since("2026-04-01T05:28:52+02:00", NOW, &v), 0);
	cr_assert_eq(v, 1775014132000LL);
	cr_assert_eq(osh_cli_parse_since("2026-04-01T03:28:52", NOW, &v), OSH_EINVAL,
		     "an offset or Z is required");
	cr_assert_eq(osh_cli_parse_since("2026-13-01T03:28:52Z", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("2026-04-01T03:28:52Zjunk", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("m", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("5 m", NOW, &v), OSH_EINVAL);
	cr_assert_eq(osh_cli_parse_since("99999999999999d", NOW, &v), OSH_EINVAL);
}

Test(cli_format, upstream_layout)
{
	char buf[512];
	struct osh_cli_line l = {.timestamp_ms = 1775014132690LL,
				 .source = "sandbox",
				 .level = "OCSF",
				 .target = "ocsf",
				 .message = "NET:OPEN [MED] DENIED /usr/bin/curl(64) -> "
					    "httpbin.org:443 [policy:- engine:opa]"};
	const char *keys[] = {"zeta", "alpha", "mid"};
	const char *vals[] = {"3", "1", "2"};
	size_t n = osh_cli_format_line(&l, false, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[1775014132.690] [sandbox] [OCSF ] [ocsf] NET:OPEN [MED] DENIED "
			      "/usr/bin/curl(64) -> httpbin.org:443 [policy:- engine:opa]");
	cr_assert_eq(n, strlen(buf));

	l.timestamp_ms = 1775014113058LL;
	l.source = "";
	l.level = "INFO";
	l.target = "openshell_gateway";
	l.message = "Starting";
	l.keys = keys;
	l.values = vals;
	l.n_fields = 3;
	osh_cli_format_line(&l, false, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[1775014113.058] [gateway] [INFO ] [openshell_gateway] Starting "
			      "alpha=1 mid=2 zeta=3");

	l.timestamp_ms = 5;
	l.source = "sbx";
	l.level = "ERROR";
	l.n_fields = 0;
	osh_cli_format_line(&l, false, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[0.005] [    sbx] [ERROR] [openshell_gateway] Starting");
}

Test(cli_format, untrusted_control_bytes_are_escaped)
{
	char buf[256];
	struct osh_cli_line l = {.timestamp_ms = 1000,
				 .source = "sandbox",
				 .level = "INFO",
				 .target = "t",
				 .message = "line1\nFAKE [sandbox] \x1b[31mred\r\tx\x7f"};
	osh_cli_format_line(&l, false, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[1.000] [sandbox] [INFO ] [t] line1\\nFAKE [sandbox] "
			      "\\x1b[31mred\\r\\tx\\x7f");
	cr_assert_null(strchr(buf, '\n'));
	cr_assert_null(strchr(buf, 0x1b));
}

Test(cli_format, colour_only_when_asked_and_by_rank)
{
	char buf[512];
	struct osh_cli_line l = {.timestamp_ms = 1000,
				 .source = "sandbox",
				 .level = "OCSF",
				 .target = "ocsf",
				 .message = "FINDING:BLOCKED [HIGH] \"x\""};
	osh_cli_format_line(&l, false, buf, sizeof(buf));
	cr_assert_null(strchr(buf, 0x1b));
	osh_cli_format_line(&l, true, buf, sizeof(buf));
	cr_assert(strstr(buf, "\x1b[31mOCSF\x1b[0m") != NULL, "HIGH is red: %s", buf);
	l.message = "NET:OPEN [MED] DENIED";
	osh_cli_format_line(&l, true, buf, sizeof(buf));
	cr_assert(strstr(buf, "\x1b[33mOCSF\x1b[0m") != NULL, "MED is yellow");
	l.message = "NET:OPEN [INFO] ALLOWED";
	osh_cli_format_line(&l, true, buf, sizeof(buf));
	cr_assert(strstr(buf, "\x1b[32mOCSF\x1b[0m") != NULL, "INFO is green");
}

Test(cli_format, truncates_safely_and_reports_needed_length)
{
	char small[16];
	struct osh_cli_line l = {.timestamp_ms = 1000, .level = "INFO", .message = "hello world"};
	size_t need = osh_cli_format_line(&l, false, small, sizeof(small));
	cr_assert_gt(need, sizeof(small));
	cr_assert_eq(strlen(small), sizeof(small) - 1);
}

/* ------------------------------------------------------ fake gateway --- */

static struct {
	struct osh_rpc_server *srv;
	char target[64];
	pthread_mutex_t mu;
	char last_set_value[64];
	atomic_int set_calls;
	uint64_t revision;
	char last_min_level[16];
	uint32_t last_lines;
	size_t last_n_sources;
	char last_policy[128];
	size_t last_n_command;
	char last_labels[256];	 /* "k=v;" per label the create carried */
	char last_selector[128]; /* label_selector of the last list */
	struct osh_rpc_call *watch;
	atomic_int watch_started;
	atomic_bool list_loop; /* g_list answers a page token that never advances */
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .revision = 3};

static void g_get_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetConfigRequest *req = (const void *)m;
	Openshell__V1__GetConfigResponse r = OPENSHELL__V1__GET_CONFIG_RESPONSE__INIT;
	Openshell__V1__ConfigEntry e = OPENSHELL__V1__CONFIG_ENTRY__INIT, *ep = &e;
	(void)ud;
	if (req->key[0] != '\0' && strcmp(req->key, "ocsf_logging_enabled") != 0) {
		osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "unknown config key '%s'", req->key);
		return;
	}
	e.key = OSH_RPC_STR("ocsf_logging_enabled");
	e.value = OSH_RPC_STR(G.set_calls > 0 ? G.last_set_value : "false");
	e.type = OSH_RPC_STR("bool");
	e.source = OSH_RPC_STR(G.set_calls > 0 ? "rpc" : "default");
	r.entries = &ep;
	r.n_entries = 1;
	r.config_revision = G.revision;
	osh_rpc_call_reply(call, &r.base);
}

static void g_set_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__SetConfigRequest *req = (const void *)m;
	Openshell__V1__SetConfigResponse r = OPENSHELL__V1__SET_CONFIG_RESPONSE__INIT;
	Openshell__V1__ConfigEntry e = OPENSHELL__V1__CONFIG_ENTRY__INIT;
	(void)ud;
	snprintf(G.last_set_value, sizeof(G.last_set_value), "%s", req->value);
	atomic_fetch_add(&G.set_calls, 1);
	G.revision++;
	e.key = req->key;
	e.value = req->value;
	r.entry = &e;
	r.changed = 1;
	r.config_revision = G.revision;
	osh_rpc_call_reply(call, &r.base);
}

/* Two pages, one sandbox each (the CLI must follow next_page_token); the
 * token "loop" answers with itself (a broken gateway the CLI must not loop on). */
static void g_list(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__ListSandboxesRequest *req = (const void *)m;
	Openshell__V1__ListSandboxesResponse r = OPENSHELL__V1__LIST_SANDBOXES_RESPONSE__INIT;
	Openshell__V1__Sandbox a = OPENSHELL__V1__SANDBOX__INIT, b = OPENSHELL__V1__SANDBOX__INIT;
	Openshell__V1__Sandbox *v[2] = {&a, &b};
	Openshell__V1__Sandbox__LabelsEntry l1 = OPENSHELL__V1__SANDBOX__LABELS_ENTRY__INIT,
					    l2 = OPENSHELL__V1__SANDBOX__LABELS_ENTRY__INIT;
	Openshell__V1__Sandbox__LabelsEntry *lv[2] = {&l1, &l2};
	(void)ud;
	snprintf(G.last_selector, sizeof(G.last_selector), "%s", req->label_selector);
	l1.key = OSH_RPC_STR("app");
	l1.value = OSH_RPC_STR("web");
	l2.key = OSH_RPC_STR("tier");
	l2.value = OSH_RPC_STR("gold\x1b[2J");
	a.labels = lv;
	a.n_labels = 2;
	a.id = OSH_RPC_STR("id-1");
	a.name = OSH_RPC_STR("alpha");
	a.state = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING;
	a.pid = 4242;
	a.created_ms = 1775014132690LL;
	b.id = OSH_RPC_STR("id-2");
	b.name = OSH_RPC_STR("beta-long-name");
	b.state = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_EXITED;
	b.opt_exit_code_case = OPENSHELL__V1__SANDBOX__OPT_EXIT_CODE_EXIT_CODE;
	b.exit_code = 0;
	if (G.list_loop) {
		r.sandboxes = v;
		r.n_sandboxes = 1;
		r.next_page_token = OSH_RPC_STR("loop");
	} else if (req->page_token[0] == '\0') {
		r.sandboxes = v;
		r.n_sandboxes = 1;
		r.next_page_token = OSH_RPC_STR("p2");
	} else {
		cr_assert_str_eq(req->page_token, "p2");
		r.sandboxes = v + 1;
		r.n_sandboxes = 1;
	}
	osh_rpc_call_reply(call, &r.base);
}

static void g_create(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__CreateSandboxRequest *req = (const void *)m;
	Openshell__V1__CreateSandboxResponse r = OPENSHELL__V1__CREATE_SANDBOX_RESPONSE__INIT;
	Openshell__V1__Sandbox s = OPENSHELL__V1__SANDBOX__INIT;
	(void)ud;
	if (strcmp(req->name, "dup") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_ALREADY_EXISTS, "sandbox 'dup' already exists");
		return;
	}
	snprintf(G.last_policy, sizeof(G.last_policy), "%s", req->policy_yaml);
	G.last_n_command = req->n_command;
	G.last_labels[0] = '\0';
	for (size_t i = 0; i < req->n_labels; i++)
		snprintf(G.last_labels + strlen(G.last_labels),
			 sizeof(G.last_labels) - strlen(G.last_labels), "%s=%s;",
			 req->labels[i]->key, req->labels[i]->value);
	s.id = OSH_RPC_STR("id-9");
	s.name = req->name;
	s.state = OPENSHELL__V1__SANDBOX_STATE__SANDBOX_STATE_RUNNING;
	s.pid = 77;
	r.sandbox = &s;
	osh_rpc_call_reply(call, &r.base);
}

static void g_delete(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__DeleteSandboxRequest *req = (const void *)m;
	Openshell__V1__DeleteSandboxResponse r = OPENSHELL__V1__DELETE_SANDBOX_RESPONSE__INIT;
	(void)ud;
	if (strcmp(req->name, "ghost") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "sandbox 'ghost' not found");
		return;
	}
	osh_rpc_call_reply(call, &r.base);
}

static Openshell__V1__SandboxLogLine *mkline(Openshell__V1__SandboxLogLine *l, int64_t ts,
					     const char *level, const char *msg)
{
	openshell__v1__sandbox_log_line__init(l);
	l->timestamp_ms = ts;
	l->level = OSH_RPC_STR(level);
	l->message = OSH_RPC_STR(msg);
	l->source = OSH_RPC_STR("sandbox");
	l->target = OSH_RPC_STR(strcmp(level, "OCSF") == 0 ? "ocsf" : "sup");
	return l;
}

static void g_logs(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetSandboxLogsRequest *req = (const void *)m;
	Openshell__V1__GetSandboxLogsResponse r = OPENSHELL__V1__GET_SANDBOX_LOGS_RESPONSE__INIT;
	Openshell__V1__SandboxLogLine l[3], *lp[3];
	(void)ud;
	if (strcmp(req->name, "ghost") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "sandbox 'ghost' not found");
		return;
	}
	snprintf(G.last_min_level, sizeof(G.last_min_level), "%s", req->min_level);
	G.last_lines = req->lines;
	G.last_n_sources = req->n_sources;
	/* Deliberately unfiltered: the CLI filters too. */
	lp[0] = mkline(&l[0], 1000, "INFO", "plain info");
	lp[1] = mkline(&l[1], 2000, "OCSF", "NET:OPEN [MED] DENIED x");
	lp[2] = mkline(&l[2], 3000, "OCSF", "NET:OPEN [INFO] ALLOWED y");
	r.logs = lp;
	r.n_logs = 3;
	r.total_matching = 3;
	osh_rpc_call_reply(call, &r.base);
}

static void g_watch(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__WatchSandboxLogsRequest *req = (const void *)m;
	Openshell__V1__WatchSandboxLogsResponse r =
	    OPENSHELL__V1__WATCH_SANDBOX_LOGS_RESPONSE__INIT;
	Openshell__V1__SandboxLogLine l, *lp = &l;
	(void)ud;
	if (strcmp(req->name, "ghost") == 0) {
		osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "sandbox 'ghost' not found");
		return;
	}
	r.logs = &lp;
	r.n_logs = 1;
	mkline(&l, 1000, "INFO", "tail line");
	osh_rpc_call_write(call, &r.base);
	if (strcmp(req->name, "ends") == 0) {
		osh_rpc_call_finish(call);
		return;
	}
	osh_rpc_call_ref(call);
	pthread_mutex_lock(&G.mu);
	G.watch = call;
	pthread_mutex_unlock(&G.mu);
	atomic_store(&G.watch_started, 1);
}

static void g_done(struct osh_rpc_call *call, bool cancelled, void *ud)
{
	(void)cancelled;
	(void)ud;
	pthread_mutex_lock(&G.mu);
	if (G.watch == call) {
		G.watch = NULL;
		osh_rpc_call_unref(call);
	}
	pthread_mutex_unlock(&G.mu);
}

static void start_gateway(void)
{
	struct osh_rpc_server_opts o = {.service = &openshell__v1__open_shell__descriptor,
					.listen = "127.0.0.1:0",
					.shutdown_grace_ms = 200};
	struct osh_rpc_method ms[] = {
	    {.name = "GetConfig", .kind = OSH_RPC_UNARY, .handler = g_get_config},
	    {.name = "SetConfig", .kind = OSH_RPC_UNARY, .handler = g_set_config},
	    {.name = "ListSandboxes", .kind = OSH_RPC_UNARY, .handler = g_list},
	    {.name = "CreateSandbox", .kind = OSH_RPC_UNARY, .handler = g_create},
	    {.name = "DeleteSandbox", .kind = OSH_RPC_UNARY, .handler = g_delete},
	    {.name = "GetSandboxLogs", .kind = OSH_RPC_UNARY, .handler = g_logs},
	    {.name = "WatchSandboxLogs",
	     .kind = OSH_RPC_SERVER_STREAM,
	     .handler = g_watch,
	     .on_done = g_done},
	};
	cr_assert_eq(osh_rpc_server_create(&o, &G.srv), 0);
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		cr_assert_eq(osh_rpc_server_add_method(G.srv, &ms[i]), 0);
	cr_assert_eq(osh_rpc_server_start(G.srv), 0);
	snprintf(G.target, sizeof(G.target), "127.0.0.1:%d", osh_rpc_server_port(G.srv));
	cr_assert_eq(osh_rpc_server_spawn(G.srv), 0);
}

struct run {
	int rc;
	char *out;
	char *err;
};

/* Parse + run one command line against the fake gateway. */
static struct run run_cli(const char *const *args, volatile sig_atomic_t *stop)
{
	struct osh_cli_args a;
	char perr[256];
	struct run r = {0};
	size_t no = 0, ne = 0;
	FILE *out = open_memstream(&r.out, &no);
	FILE *err = open_memstream(&r.err, &ne);
	char *argv[32];
	int argc = 0;

	argv[argc++] = OSH_RPC_STR("openshell");
	argv[argc++] = OSH_RPC_STR("--gateway");
	argv[argc++] = G.target;
	argv[argc++] = OSH_RPC_STR("--color=never");
	for (size_t i = 0; args[i] != NULL; i++)
		argv[argc++] = OSH_RPC_STR(args[i]);
	argv[argc] = NULL;
	cr_assert_eq(osh_cli_parse(argc, argv, NULL, NOW, &a, perr, sizeof(perr)), 0, "%s", perr);
	r.rc = osh_cli_run(&a, "/nonexistent/openshell", out, err, stop);
	fclose(out);
	fclose(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

Test(cli_run, config_get_and_set_with_boolean_words)
{
	struct run r;
	start_gateway();
	r = run_cli(ARGS("config", "get"), NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out,
			 "ocsf_logging_enabled = false (bool, default)\nconfig_revision = 3\n");
	run_free(&r);

	r = run_cli(ARGS("config", "set", "ocsf_logging_enabled", "YES"), NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(G.last_set_value, "true", "normalised before sending");
	cr_assert_str_eq(r.out, "ocsf_logging_enabled = true (config_revision 4)\n");
	run_free(&r);

	r = run_cli(ARGS("config", "set", "ocsf_logging_enabled", "Off"), NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(G.last_set_value, "false");
	run_free(&r);

	r = run_cli(ARGS("config", "set", "ocsf_logging_enabled", "maybe"), NULL);
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert_str_eq(r.err, "openshell: config set: invalid value 'maybe' for "
				"ocsf_logging_enabled: expected a boolean (true/false, yes/no, "
				"on/off, 1/0)\n");
	cr_assert_eq(atomic_load(&G.set_calls), 2, "bad value never sent");
	cr_assert_str_eq(r.out, "");
	run_free(&r);

	r = run_cli(ARGS("config", "set", "nope", "1"), NULL);
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert_str_eq(r.err, "openshell: config set: unknown config key 'nope'\n");
	run_free(&r);
	osh_rpc_server_destroy(G.srv);
}

Test(cli_run, sandbox_create_list_delete)
{
	struct run r;
	char *dir = osh_testdir_new("cli"), path[4200];
	FILE *f;

	start_gateway();
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	f = fopen(path, "w");
	fputs("version: 1\n", f);
	fclose(f);
	{
		const char *args[] = {"sandbox", "create", "--name", "box", "--policy",
				      path,	 "--",	   "sleep",  "5",   NULL};
		r = run_cli(args, NULL);
	}
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "sandbox box created (id id-9, state running, pid 77)\n");
	cr_assert_str_eq(G.last_policy, "version: 1\n");
	cr_assert_eq(G.last_n_command, 2);
	run_free(&r);
	osh_testdir_finish(dir);

	{
		const char *args[] = {"sandbox", "create", "--name", "box", "--policy", path, NULL};
		r = run_cli(args, NULL);
	}
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert(strstr(r.err, "cannot read policy") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "No such file") != NULL, "%s", r.err);
	run_free(&r);

	r = run_cli(ARGS("sandbox", "create", "--name", "dup"), NULL);
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert_str_eq(r.err, "openshell: sandbox create: sandbox 'dup' already exists\n");
	run_free(&r);

	r = run_cli(ARGS("sandbox", "list"), NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(
	    r.out,
	    "NAME            ID    STATE             PID  EXIT  CREATED               LABELS\n"
	    "alpha           id-1  running          4242     -  2026-04-01T03:28:52Z  "
	    "app=web,tier=gold\\x1b[2J\n"
	    "beta-long-name  id-2  exited              -     0  -                     -\n");
	cr_assert_str_eq(G.last_selector, "", "no selector sent");
	run_free(&r);

	/* labels: sent with create, selector sent with list, JSON object */
	r = run_cli(ARGS("sandbox", "create", "--name", "lab", "--label", "tier=gold", "--label",
			 "openshell.ai/team=a=b"),
		    NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(G.last_labels, "tier=gold;openshell.ai/team=a=b;");
	run_free(&r);
	r = run_cli(ARGS("sandbox", "list", "--selector", "app=web,tier=gold", "-o", "json"), NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(G.last_selector, "app=web,tier=gold");
	cr_assert(strstr(r.out, "\"labels\": {\"app\": \"web\", \"tier\": \"gold\\u001b[2J\"}") !=
		      NULL,
		  "%s", r.out);
	cr_assert(strstr(r.out, "\"labels\": {}}") != NULL, "beta has none: %s", r.out);
	run_free(&r);
	r = run_cli(ARGS("sandbox", "get", "alpha"), NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\nLabels:   app=web, tier=gold\\x1b[2J\n") != NULL, "%s", r.out);
	run_free(&r);
	r = run_cli(ARGS("sandbox", "get", "alpha", "-o", "yaml"), NULL);
	cr_assert(strstr(r.out, "\nlabels:\n  \"app\": \"web\"\n") != NULL, "%s", r.out);
	run_free(&r);

	G.list_loop = true;
	r = run_cli(ARGS("sandbox", "list"), NULL);
	G.list_loop = false;
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert(strstr(r.err, "bad page token") != NULL, "%s", r.err);
	run_free(&r);

	r = run_cli(ARGS("sandbox", "delete", "box"), NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "sandbox box deleted\n");
	run_free(&r);
	r = run_cli(ARGS("sandbox", "delete", "ghost"), NULL);
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert_str_eq(r.err, "openshell: sandbox delete: sandbox 'ghost' not found\n");
	run_free(&r);
	osh_rpc_server_destroy(G.srv);
}

Test(cli_run, logs_one_shot_with_level_filter)
{
	struct run r;
	start_gateway();
	r = run_cli(ARGS("sandbox", "logs", "box"), NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "[1.000] [sandbox] [INFO ] [sup] plain info\n"
				"[2.000] [sandbox] [OCSF ] [ocsf] NET:OPEN [MED] DENIED x\n"
				"[3.000] [sandbox] [OCSF ] [ocsf] NET:OPEN [INFO] ALLOWED y\n");
	cr_assert_eq(G.last_lines, 200);
	cr_assert_str_eq(G.last_min_level, "");
	run_free(&r);

	r = run_cli(
	    ARGS("sandbox", "logs", "box", "--level", "warn", "-n", "5", "--source", "sandbox"),
	    NULL);
	cr_assert_eq(r.rc, 0);
	cr_assert_str_eq(r.out, "[2.000] [sandbox] [OCSF ] [ocsf] NET:OPEN [MED] DENIED x\n",
			 "OCSF [MED] ranks WARN, OCSF [INFO] ranks INFO");
	cr_assert_str_eq(G.last_min_level, "WARN");
	cr_assert_eq(G.last_lines, 5);
	cr_assert_eq(G.last_n_sources, 1);
	run_free(&r);

	r = run_cli(ARGS("sandbox", "logs", "ghost"), NULL);
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert_str_eq(r.err, "openshell: sandbox logs: sandbox 'ghost' not found\n");
	run_free(&r);
	osh_rpc_server_destroy(G.srv);
}

static volatile sig_atomic_t g_stop;

struct reader {
	int fd;
	char buf[4096];
	size_t len;
};

/* Reads the CLI's stdout through a pipe; once the tail line shows, pushes a
 * live line from this thread; once that shows too, interrupts the CLI. */
static void *reader_thread(void *arg)
{
	struct reader *rd = arg;
	bool pushed = false;
	ssize_t n;

	while ((n = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - 1 - rd->len)) > 0) {
		rd->len += (size_t)n;
		rd->buf[rd->len] = '\0';
		if (!pushed && strstr(rd->buf, "tail line\n") != NULL) {
			pthread_mutex_lock(&G.mu);
			if (G.watch != NULL) {
				Openshell__V1__WatchSandboxLogsResponse r =
				    OPENSHELL__V1__WATCH_SANDBOX_LOGS_RESPONSE__INIT;
				Openshell__V1__SandboxLogLine l, *lp = &l;
				mkline(&l, 2500, "WARN", "live line");
				r.logs = &lp;
				r.n_logs = 1;
				r.dropped = 4;
				osh_rpc_call_write(G.watch, &r.base);
				pushed = true;
			}
			pthread_mutex_unlock(&G.mu);
		}
		if (strstr(rd->buf, "live line\n") != NULL)
			g_stop = 1;
	}
	return NULL;
}

Test(cli_run, logs_follow_until_interrupted_or_stream_end)
{
	struct run r;
	pthread_t th;
	struct reader rd = {0};
	struct osh_cli_args a;
	char perr[256], *err_text = NULL;
	size_t ne = 0;
	int fds[2];
	FILE *out, *err;
	char *argv[] = {OSH_RPC_STR("openshell"),
			OSH_RPC_STR("--gateway"),
			NULL,
			OSH_RPC_STR("sandbox"),
			OSH_RPC_STR("logs"),
			OSH_RPC_STR("box"),
			OSH_RPC_STR("-f"),
			NULL};
	int rc;

	start_gateway();
	r = run_cli(ARGS("sandbox", "logs", "ends", "--follow"), NULL);
	cr_assert_eq(r.rc, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "[1.000] [sandbox] [INFO ] [sup] tail line\n");
	run_free(&r);

	argv[2] = G.target;
	cr_assert_eq(osh_cli_parse(7, argv, NULL, NOW, &a, perr, sizeof(perr)), 0, "%s", perr);
	a.color = OSH_CLI_COLOR_NEVER;
	cr_assert_eq(pipe(fds), 0);
	out = fdopen(fds[1], "w");
	err = open_memstream(&err_text, &ne);
	rd.fd = fds[0];
	cr_assert_eq(pthread_create(&th, NULL, reader_thread, &rd), 0);
	rc = osh_cli_run(&a, "/nonexistent/openshell", out, err, &g_stop);
	fclose(out);
	fclose(err);
	pthread_join(th, NULL);
	close(fds[0]);
	cr_assert_eq(rc, 0, "interrupt is a clean exit: %s", err_text);
	cr_assert_str_eq(rd.buf, "[1.000] [sandbox] [INFO ] [sup] tail line\n"
				 "[2.500] [sandbox] [WARN ] [sup] live line\n");
	cr_assert_str_eq(err_text, "openshell: 4 log lines were dropped (reader too slow)\n");
	free(err_text);

	r = run_cli(ARGS("sandbox", "logs", "ghost", "--follow"), NULL);
	cr_assert_eq(r.rc, OSH_CLI_EXIT_FAIL);
	cr_assert_str_eq(r.err, "openshell: sandbox logs: sandbox 'ghost' not found\n");
	run_free(&r);
	osh_rpc_server_destroy(G.srv);
}

Test(cli_run, unreachable_gateway_is_one_line_and_exit_2)
{
	struct run r;
	const char *cmds[][6] = {
	    {"config", "get", NULL},	       {"sandbox", "list", NULL},
	    {"sandbox", "logs", "b", NULL},    {"sandbox", "logs", "b", "--follow", NULL},
	    {"config", "set", "k", "v", NULL},
	};
	/* a port nobody listens on: a server that came and went */
	start_gateway();
	osh_rpc_server_destroy(G.srv);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *nl;
		r = run_cli(cmds[i], NULL);
		cr_assert_eq(r.rc, OSH_CLI_EXIT_UNREACHABLE, "case %zu: %s", i, r.err);
		cr_assert(strncmp(r.err, "openshell: cannot reach gateway at ", 35) == 0, "%s",
			  r.err);
		cr_assert(strstr(r.err, G.target) != NULL);
		nl = strchr(r.err, '\n');
		cr_assert(nl != NULL && nl[1] == '\0', "exactly one line: %s", r.err);
		cr_assert_str_eq(r.out, "");
		run_free(&r);
	}
}

Test(cli_run, gateway_start_execs_the_gateway_next_to_the_cli)
{
	char *dir = osh_testdir_new("cli-gw"), script[4200], self[4200], outp[4200], got[256] = "";
	FILE *f;
	pid_t pid;
	int st = 0;

	snprintf(script, sizeof(script), "%s/openshell-gateway", dir);
	snprintf(self, sizeof(self), "%s/openshell", dir);
	snprintf(outp, sizeof(outp), "%s/args", dir);
	f = fopen(script, "w");
	fprintf(f, "#!/bin/sh\necho \"$@\" > '%s'\nexit 7\n", outp);
	fclose(f);
	chmod(script, 0755);
	pid = fork();
	if (pid == 0) {
		struct osh_cli_args a;
		char perr[256];
		char *argv[] = {OSH_RPC_STR("openshell"),
				OSH_RPC_STR("--gateway"),
				OSH_RPC_STR("unix:/run/osh.sock"),
				OSH_RPC_STR("gateway"),
				OSH_RPC_STR("start"),
				OSH_RPC_STR("--data-dir"),
				OSH_RPC_STR("/d"),
				NULL};
		if (osh_cli_parse(7, argv, NULL, NOW, &a, perr, sizeof(perr)) != 0)
			_exit(99);
		_exit(osh_cli_run(&a, self, stdout, stderr, NULL));
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_eq(WEXITSTATUS(st), 7, "the gateway's exit code is the CLI's");
	f = fopen(outp, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(got, sizeof(got), f));
	fclose(f);
	/* an explicit unix: address becomes the gateway's --socket */
	cr_assert_str_eq(got, "--data-dir /d --socket /run/osh.sock\n");
	osh_testdir_finish(dir);
}

/* finding 3 of docs/security.md: C1 controls, bidi overrides/isolates,
 * separators, BOM and ill-formed UTF-8 are shown escaped, valid text kept. */
Test(cli_format, c1_bidi_and_invalid_utf8_are_escaped)
{
	char buf[512];
	struct osh_cli_line l = {
	    .timestamp_ms = 1000,
	    .source = "sandbox",
	    .level = "INFO",
	    .target = "t",
	    .message = "a\xc2\x9b"
		       "31m b\xe2\x80\xae"
		       "evil\xe2\x81\xa6x\xe2\x80\xa8y\xef\xbb\xbf"
		       "z \xff\xc3 \xe0\x80\x80 \xed\xa0\x80 caf\xc3\xa9 \xf0\x9f\x98\x80"};
	const char *keys[] = {"k\xe2\x80\xad"};
	const char *vals[] = {"v\xc2\x85"};

	l.keys = keys;
	l.values = vals;
	l.n_fields = 1;
	osh_cli_format_line(&l, false, buf, sizeof(buf));
	cr_assert_str_eq(buf, "[1.000] [sandbox] [INFO ] [t] a\\u{009b}31m b\\u{202e}evil"
			      "\\u{2066}x\\u{2028}y\\u{feff}z \\xff\\xc3 \\xe0\\x80\\x80 "
			      "\\xed\\xa0\\x80 caf\xc3\xa9 \xf0\x9f\x98\x80 k\\u{202d}=v\\u{0085}");
}

/* SSH commands (docs/ssh.md): NAME required, exec takes the rest as argv. */
Test(cli_parse, ssh_commands)
{
	struct osh_cli_args a;
	char err[256];

	cr_assert_eq(parse(&a, err,
			   (const char *const[]){"sandbox", "exec", "s1", "--", "sh", "-c",
						 "echo hi", NULL}),
		     OSH_OK, "%s", err);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_EXEC);
	cr_assert_str_eq(a.name, "s1");
	cr_assert_eq(a.n_command, 3);
	cr_assert_str_eq(a.command[2], "echo hi");
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "exec", "s1", "id", NULL}),
		     OSH_OK, "-- is optional");
	cr_assert_eq(a.n_command, 1);
	cr_assert_str_eq(a.command[0], "id");
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "exec", "s1", "--", NULL}),
		     OSH_EINVAL);
	cr_assert(strstr(err, "missing the command") != NULL, "%s", err);
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "exec", NULL}), OSH_EINVAL);
	cr_assert(strstr(err, "missing sandbox NAME") != NULL, "%s", err);
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "connect", "s1", NULL}),
		     OSH_OK);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_CONNECT);
	cr_assert_str_eq(a.name, "s1");
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "ssh-config", "s1", NULL}),
		     OSH_OK);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_SSH_CONFIG);
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "ssh-proxy", "s1", NULL}),
		     OSH_OK);
	cr_assert_eq(a.cmd, OSH_CLI_SANDBOX_SSH_PROXY);
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "ssh-proxy", NULL}),
		     OSH_EINVAL, "NAME is required");
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "connect", "a", "b", NULL}),
		     OSH_EINVAL, "one NAME");
	cr_assert_eq(parse(&a, err, (const char *const[]){"sandbox", "exec", "--help", NULL}),
		     OSH_OK);
	cr_assert_eq(a.cmd, OSH_CLI_HELP);
}
