/* cli_parse.c - argv -> struct osh_cli_args, and the help texts.
 *
 * DESIGN: a small hand-written parser (getopt cannot express nested
 * subcommands with per-command flags and a "--" tail). Global flags come
 * before the command; each command accepts its own flags anywhere after its
 * name, "--flag VALUE" or "--flag=VALUE". Every error names the flag or
 * argument and the command, so the one stderr line is enough to fix it. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "osh_cli.h"
#include "osh_labels.h"
#include "osh_parse.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return OSH_EINVAL;
}

/* "--flag=value" or "--flag value": returns the value (NULL when missing)
 * and advances *i past what it used. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag, bool *matched)
{
	const char *a = argv[*i];
	size_t n = strlen(flag);

	*matched = false;
	if (strncmp(a, flag, n) != 0)
		return NULL;
	if (a[n] == '=') {
		*matched = true;
		return a + n + 1;
	}
	if (a[n] != '\0')
		return NULL;
	*matched = true;
	if (*i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

/* ------------------------------------------------------- command table -- */

const struct osh_cli_spec osh_cli_specs[] = {
    {"gateway start", "", "", false, "run openshell-gateway in the foreground"},
    {"config get", "", "", false, "show gateway config and its revision"},
    {"config set", "", "", false, "change a config value"},
    {"settings get", "--global --json -o --output", "", false,
     "show settings (upstream form of config get)"},
    {"settings set", "--key --value --global --yes", "", false,
     "change a setting (upstream form of config set)"},
    {"settings delete", "--key --global --yes", "", false,
     "drop a setting's override (back to file/default)"},
    {"sandbox create", "--name --policy --secret --env --label", "", false, "start a sandbox"},
    {"sandbox list", "-o --output --names --selector", "", false, "list sandboxes"},
    {"sandbox get", "-o --output", "", true, "show one sandbox"},
    {"sandbox delete", "--all", "", true, "stop and remove sandboxes"},
    {"sandbox connect", "", "", true, "interactive shell in a sandbox (OpenSSH)"},
    {"sandbox exec", "", "", true, "run one command in a sandbox, its exit status"},
    {"sandbox ssh-config", "", "", true, "OpenSSH Host block for a sandbox (key pinned)"},
    {"sandbox ssh-proxy", "", "", true, "relay stdin/stdout to a sandbox's SSH server"},
    {"sandbox logs",
     "-n --lines --tail -f --follow --since --level --source -o --output --timestamps", "", true,
     "print a sandbox's log lines"},
    {"logs", "-n --lines --tail -f --follow --since --level --source -o --output --timestamps", "",
     true, "print a sandbox's log lines (alias lg)"},
    {"sandbox proposals", "-o --output --status", "accept reject", true,
     "policy proposals made from denials; accept or reject one"},
    {"status", "-o --output", "", false, "gateway version, health and address"},
    {"completions", "", "bash zsh fish", false, "print a shell completion script"},
    {"term", "", "", false, "terminal UI: sandboxes and a live log panel"},
    {"help", "", "gateway config settings sandbox logs status completions", false,
     "help for a command"},
    {"version", "", "", false, "print the version"},
};
const size_t osh_cli_n_specs = sizeof(osh_cli_specs) / sizeof(osh_cli_specs[0]);

static const char *spec_flags(const char *path)
{
	for (size_t i = 0; i < osh_cli_n_specs; i++)
		if (strcmp(osh_cli_specs[i].path, path) == 0)
			return osh_cli_specs[i].flags;
	return "";
}

static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t row[64], prev, tmp;

	if (na >= 63 || nb >= 63)
		return 99;
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t best = prev + (a[i - 1] == b[j - 1] ? 0 : 1);
			tmp = row[j];
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			prev = tmp;
			row[j] = best;
		}
	}
	return row[nb];
}

void osh_cli_suggest(const char *typed, const char *flags, char *buf, size_t cap)
{
	size_t nt = strcspn(typed, "="), best = 3, n_prefix = 0;
	const char *p = flags != NULL ? flags : "", *pick = NULL, *prefix = NULL;
	size_t pick_len = 0, prefix_len = 0;

	if (cap > 0)
		buf[0] = '\0';
	while (*p != '\0') {
		size_t n = strcspn(p, " ");
		size_t d = edit_distance(typed, nt, p, n);
		if (n > nt && nt > 2 && strncmp(typed, p, nt) == 0) {
			prefix = p;
			prefix_len = n;
			n_prefix++;
		}
		if (d < best && d + 1 < n) {
			best = d;
			pick = p;
			pick_len = n;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	if (pick == NULL && n_prefix == 1) {
		pick = prefix;
		pick_len = prefix_len;
	}
	if (pick != NULL && cap > 0)
		snprintf(buf, cap, "%.*s", (int)pick_len, pick);
}

/* "unknown flag 'X'" plus " (did you mean Y?)" when one is close. */
static int unknown_flag(char *err, size_t errlen, const char *topic, const char *a,
			const char *flags)
{
	char near[32];
	osh_cli_suggest(a, flags, near, sizeof(near));
	if (near[0] != '\0')
		return fail(err, errlen, "%s: unknown flag '%s' (did you mean %s?)", topic, a,
			    near);
	return fail(err, errlen, "%s: unknown flag '%s' (see openshell %s --help)", topic, a,
		    topic);
}

/* ----------------------------------------------------------- --since -- */

/* "YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]" -> ms since the epoch. */
static int parse_rfc3339(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se, n = 0, off = 0;
	int64_t ms = 0, days;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
	    n != 19)
		return OSH_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return OSH_EINVAL;
	p = s + 19;
	if (*p == '.') {
		int digits = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		if (digits == 0)
			return OSH_EINVAL;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59)
			return OSH_EINVAL;
		off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return OSH_EINVAL;
	}
	if (*p != '\0')
		return OSH_EINVAL;
	/* days from civil (proleptic Gregorian), Howard Hinnant's formula */
	{
		int yy = y - (mo <= 2);
		int era = yy / 400;
		int yoe = yy - era * 400;
		int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
		days = (int64_t)era * 146097 + doe - 719468;
	}
	*out = ((days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se) - (int64_t)off * 60) *
		   1000 +
	       ms;
	return OSH_OK;
}

int osh_cli_parse_since(const char *s, int64_t now_ms, int64_t *out)
{
	int64_t d = 0;
	const char *dot;
	int rc = OSH_EINVAL;

	if (s == NULL || *s < '0' || *s > '9')
		goto out;
	if (strchr(s, '-') != NULL) {
		rc = parse_rfc3339(s, out);
		goto out;
	}
	dot = strchr(s, '.');
	if (dot != NULL) {
		/* exactly "<secs>.<ms>" as printed: three digits after the dot */
		uint64_t secs, msec;
		char head[24];
		if ((size_t)(dot - s) >= sizeof(head) || strlen(dot + 1) != 3)
			goto out;
		snprintf(head, sizeof(head), "%.*s", (int)(dot - s), s);
		if (osh_parse_u64(head, 0, (uint64_t)INT64_MAX / 1000 - 1, &secs) != OSH_OK ||
		    osh_parse_u64(dot + 1, 0, 999, &msec) != OSH_OK)
			goto out;
		*out = (int64_t)secs * 1000 + (int64_t)msec;
		rc = OSH_OK;
		goto out;
	}
	if (strspn(s, "0123456789") == strlen(s) && strlen(s) >= 13) {
		/* 13+ digits: ms since the epoch (the older documented form;
		 * as seconds it would be more than 30000 years) */
		uint64_t v;
		if (osh_parse_u64(s, 0, (uint64_t)INT64_MAX, &v) != OSH_OK)
			goto out;
		*out = (int64_t)v;
		rc = OSH_OK;
		goto out;
	}
	if (osh_parse_duration_ms(s, &d) != OSH_OK || d > now_ms)
		goto out;
	/* 10-12 bare digits are epoch seconds typed without ".ms", not a
	 * duration: refuse rather than guess */
	if (strspn(s, "0123456789") == strlen(s) && strlen(s) >= 10)
		goto out;
	*out = now_ms - d;
	rc = OSH_OK;
out:
	return rc;
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static int parse_output(const char *topic, const char *v, bool allow_yaml, struct osh_cli_args *o,
			char *err, size_t errlen)
{
	if (v != NULL && strcmp(v, "json") == 0)
		o->output = OSH_CLI_OUT_JSON;
	else if (v != NULL && allow_yaml && strcmp(v, "yaml") == 0)
		o->output = OSH_CLI_OUT_YAML;
	else if (v != NULL && (strcmp(v, "table") == 0 || strcmp(v, "text") == 0))
		o->output = OSH_CLI_OUT_TEXT;
	else
		return fail(err, errlen, "%s: -o must be %s, got '%s'", topic,
			    allow_yaml ? "table, yaml or json" : "table or json",
			    v != NULL ? v : "");
	return OSH_OK;
}

static int parse_ts(const char *what, const char *v, enum osh_cli_ts *out, char *err, size_t errlen)
{
	if (v != NULL && strcmp(v, "epoch") == 0)
		*out = OSH_CLI_TS_EPOCH;
	else if (v != NULL && strcmp(v, "utc") == 0)
		*out = OSH_CLI_TS_UTC;
	else if (v != NULL && strcmp(v, "local") == 0)
		*out = OSH_CLI_TS_LOCAL;
	else
		return fail(err, errlen, "%s must be epoch, utc or local, got '%s'", what,
			    v != NULL ? v : "");
	return OSH_OK;
}

/* Parse the flags of "logs [NAME] ..." / "sandbox logs NAME ...". */
static int parse_logs(int argc, char **argv, int i, int64_t now_ms, const char *topic,
		      struct osh_cli_args *o, char *err, size_t errlen)
{
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = "sandbox logs";
			return OSH_OK;
		}
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0 ||
		    strcmp(a, "--tail") == 0) {
			o->follow = true;
			continue;
		}
		v = flag_value(argc, argv, &i, "-n", &m);
		if (!m)
			v = flag_value(argc, argv, &i, "--lines", &m);
		if (m) {
			uint64_t n = 0;
			int r = osh_parse_u64(v != NULL ? v : "", 0, 1000000, &n);
			if (r != OSH_OK)
				return fail(err, errlen,
					    "%s: %s needs a number of lines from 0 to 1000000, "
					    "got '%s'",
					    topic, strncmp(a, "--lines", 7) == 0 ? "--lines" : "-n",
					    v != NULL ? v : "");
			o->lines = (uint32_t)n;
			o->lines_set = true;
			continue;
		}
		v = flag_value(argc, argv, &i, "--since", &m);
		if (m) {
			if (osh_cli_parse_since(v, now_ms, &o->since_ms) != OSH_OK)
				return fail(err, errlen,
					    "%s: --since needs a duration like 30s, 5m, 2h, 1d, an "
					    "RFC 3339 time or <secs>.<ms> as printed, got '%s'",
					    topic, v != NULL ? v : "");
			continue;
		}
		v = flag_value(argc, argv, &i, "--level", &m);
		if (m) {
			if (v == NULL || osh_level_parse(v, &o->min_level) != OSH_OK)
				return fail(err, errlen,
					    "%s: --level must be one of trace, debug, info, warn, "
					    "error, got '%s'",
					    topic, v != NULL ? v : "");
			o->level_set = true;
			continue;
		}
		v = flag_value(argc, argv, &i, "--source", &m);
		if (m) {
			if (v == NULL || (strcmp(v, "gateway") != 0 && strcmp(v, "sandbox") != 0 &&
					  strcmp(v, "agent") != 0 && strcmp(v, "all") != 0))
				return fail(err, errlen,
					    "%s: --source must be gateway, sandbox, agent or all, "
					    "got '%s'",
					    topic, v != NULL ? v : "");
			if (strcmp(v, "all") == 0)
				o->n_sources = 0;
			else if (o->n_sources < 3)
				o->sources[o->n_sources++] = v;
			continue;
		}
		v = flag_value(argc, argv, &i, "-o", &m);
		if (!m)
			v = flag_value(argc, argv, &i, "--output", &m);
		if (m) {
			if (parse_output(topic, v, false, o, err, errlen) != OSH_OK)
				return OSH_EINVAL;
			continue;
		}
		v = flag_value(argc, argv, &i, "--timestamps", &m);
		if (m) {
			if (parse_ts("--timestamps", v, &o->timestamps, err, errlen) != OSH_OK)
				return OSH_EINVAL;
			continue;
		}
		if (a[0] == '-' && a[1] != '\0')
			return unknown_flag(err, errlen, topic, a, spec_flags("logs"));
		if (o->name != NULL)
			return fail(err, errlen, "%s: unexpected argument '%s'", topic, a);
		o->name = a;
	}
	if (o->name == NULL)
		o->name_default = true;
	if (!o->lines_set)
		o->lines = OSH_CLI_DEFAULT_LINES;
	return OSH_OK;
}

/* One --label KEY=VALUE: checked (osh_labels.h), no key twice, at most 64. */
static int parse_label(const char *v, struct osh_cli_args *o, char *err, size_t errlen)
{
	char k[OSH_LABEL_KEY_MAX + 1], val[OSH_LABEL_VALUE_MAX + 1], why[256];
	char k2[OSH_LABEL_KEY_MAX + 1], v2[OSH_LABEL_VALUE_MAX + 1];
	int rc = OSH_OK;

	if (v == NULL || *v == '\0') {
		rc = fail(err, errlen, "sandbox create: --label needs KEY=VALUE");
	} else if (osh_labels_split(v, k, val, why, sizeof(why)) != 0) {
		rc = fail(err, errlen, "sandbox create: --label: %s", why);
	} else if (o->n_labels >= OSH_LABELS_MAX) {
		rc = fail(err, errlen, "sandbox create: more than %d --label", OSH_LABELS_MAX);
	} else {
		for (int j = 0; j < o->n_labels && rc == OSH_OK; j++)
			if (osh_labels_split(o->labels[j], k2, v2, why, sizeof(why)) == 0 &&
			    strcmp(k, k2) == 0)
				rc = fail(err, errlen,
					  "sandbox create: --label %s given twice ('%s' and '%s')",
					  k, o->labels[j], v);
		if (rc == OSH_OK)
			o->labels[o->n_labels++] = v;
	}
	return rc;
}

static int parse_create(int argc, char **argv, int i, struct osh_cli_args *o, char *err,
			size_t errlen)
{
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (strcmp(a, "--") == 0) {
			o->command = &argv[i + 1];
			o->n_command = argc - i - 1;
			break;
		}
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = "sandbox create";
			return OSH_OK;
		}
		v = flag_value(argc, argv, &i, "--name", &m);
		if (m) {
			if (v == NULL || *v == '\0')
				return fail(err, errlen, "sandbox create: --name needs a value");
			if (o->name != NULL)
				return fail(err, errlen,
					    "sandbox create: --name given twice ('%s' and '%s')",
					    o->name, v);
			o->name = v;
			continue;
		}
		v = flag_value(argc, argv, &i, "--policy", &m);
		if (m) {
			if (v == NULL || *v == '\0')
				return fail(err, errlen, "sandbox create: --policy needs a FILE");
			o->policy_file = v;
			continue;
		}
		v = flag_value(argc, argv, &i, "--secret", &m);
		if (m) {
			if (v == NULL || *v == '\0')
				return fail(err, errlen,
					    "sandbox create: --secret needs NAME=VALUE or NAME");
			if (o->n_secrets >= (int)(sizeof(o->secrets) / sizeof(o->secrets[0])))
				return fail(err, errlen, "sandbox create: more than 64 --secret");
			o->secrets[o->n_secrets++] = v;
			continue;
		}
		v = flag_value(argc, argv, &i, "--env", &m);
		if (m) {
			const char *eq = v != NULL ? strchr(v, '=') : NULL;
			if (eq == NULL || eq == v)
				return fail(err, errlen,
					    "sandbox create: --env needs KEY=VALUE, got '%s'",
					    v != NULL ? v : "");
			if (o->n_env >= (int)(sizeof(o->env) / sizeof(o->env[0])))
				return fail(err, errlen, "sandbox create: more than 64 --env");
			o->env[o->n_env++] = v;
			continue;
		}
		v = flag_value(argc, argv, &i, "--label", &m);
		if (m) {
			if (parse_label(v, o, err, errlen) != OSH_OK)
				return OSH_EINVAL;
			continue;
		}
		if (a[0] == '-')
			return unknown_flag(err, errlen, "sandbox create", a,
					    spec_flags("sandbox create"));
		return fail(err, errlen,
			    "sandbox create: unexpected argument '%s' (put the command after --)",
			    a);
	}
	if (o->name == NULL)
		return fail(err, errlen, "sandbox create: missing --name NAME");
	return OSH_OK;
}

/* Positional-only commands: between min and max positionals into p[]. */
static int parse_positional(int argc, char **argv, int i, const char *topic, int min, int max,
			    const char **p, struct osh_cli_args *o, char *err, size_t errlen)
{
	int n = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = topic;
			return OSH_OK;
		}
		if (a[0] == '-' && a[1] != '\0' && strcmp(a, "-") != 0)
			return unknown_flag(err, errlen, topic, a, spec_flags(topic));
		if (n >= max)
			return fail(err, errlen, "%s: unexpected argument '%s'", topic, a);
		p[n++] = a;
	}
	if (n < min)
		return fail(err, errlen, "%s: missing argument (see openshell %s --help)", topic,
			    topic);
	return OSH_OK;
}

/* sandbox list|get|delete and status: -o, --names, --all and NAMEs. */
static int parse_sandbox_cmd(int argc, char **argv, int i, const char *topic, int min_names,
			     int max_names, struct osh_cli_args *o, char *err, size_t errlen)
{
	const char *flags = spec_flags(topic);
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m = false;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = topic;
			return OSH_OK;
		}
		if (strstr(flags, "-o") != NULL) {
			v = flag_value(argc, argv, &i, "-o", &m);
			if (!m)
				v = flag_value(argc, argv, &i, "--output", &m);
			if (m) {
				if (parse_output(topic, v, strcmp(topic, "sandbox get") == 0, o,
						 err, errlen) != OSH_OK)
					return OSH_EINVAL;
				continue;
			}
		}
		if (strstr(flags, "--names") != NULL && strcmp(a, "--names") == 0) {
			o->names_only = true;
			continue;
		}
		if (strstr(flags, "--selector") != NULL) {
			v = flag_value(argc, argv, &i, "--selector", &m);
			if (m) {
				char *canon = NULL, why[256];

				if (v == NULL || *v == '\0')
					return fail(err, errlen,
						    "%s: --selector needs KEY=VALUE[,...]", topic);
				if (osh_labels_selector_parse(v, &canon, why, sizeof(why)) != 0)
					return fail(err, errlen, "%s: --selector: %s", topic, why);
				free(canon);
				o->selector = v;
				continue;
			}
		}
		if (strstr(flags, "--all") != NULL && strcmp(a, "--all") == 0) {
			o->all = true;
			continue;
		}
		if (a[0] == '-' && a[1] != '\0')
			return unknown_flag(err, errlen, topic, a, flags);
		if (o->n_names >= max_names)
			return fail(err, errlen, "%s: unexpected argument '%s'", topic, a);
		o->names[o->n_names++] = a;
	}
	if (o->all && o->n_names > 0)
		return fail(err, errlen, "%s: give NAMEs or --all, not both", topic);
	if (!o->all && o->n_names < min_names)
		return fail(err, errlen, "%s: missing sandbox NAME (see openshell %s --help)",
			    topic, topic);
	if (o->n_names > 0)
		o->name = o->names[0];
	return OSH_OK;
}

/* sandbox proposals NAME [--status S] [-o table|json]
 * sandbox proposals accept|reject NAME ID */
static int parse_proposals(int argc, char **argv, int i, struct osh_cli_args *o, char *err,
			   size_t errlen)
{
	const char *topic = "sandbox proposals", *p[3] = {NULL, NULL, NULL};
	int n = 0;

	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = topic;
			return OSH_OK;
		}
		v = flag_value(argc, argv, &i, "-o", &m);
		if (!m)
			v = flag_value(argc, argv, &i, "--output", &m);
		if (m) {
			if (parse_output(topic, v, false, o, err, errlen) != OSH_OK)
				return OSH_EINVAL;
			continue;
		}
		v = flag_value(argc, argv, &i, "--status", &m);
		if (m) {
			if (v == NULL || (strcmp(v, "pending") != 0 && strcmp(v, "accepted") != 0 &&
					  strcmp(v, "rejected") != 0 && strcmp(v, "all") != 0))
				return fail(err, errlen,
					    "%s: --status must be pending, accepted, rejected or "
					    "all, got '%s'",
					    topic, v != NULL ? v : "");
			o->status = strcmp(v, "all") == 0 ? NULL : v;
			continue;
		}
		if (a[0] == '-' && a[1] != '\0')
			return unknown_flag(err, errlen, topic, a, spec_flags(topic));
		if (n >= 3)
			return fail(err, errlen, "%s: unexpected argument '%s'", topic, a);
		p[n++] = a;
	}
	if (n >= 2 && (strcmp(p[0], "accept") == 0 || strcmp(p[0], "reject") == 0)) {
		if (n != 3)
			return fail(err, errlen, "%s %s: needs a sandbox NAME and a proposal ID",
				    topic, p[0]);
		o->cmd = OSH_CLI_PROPOSAL_DECIDE;
		o->accept = strcmp(p[0], "accept") == 0;
		o->name = p[1];
		o->proposal_id = p[2];
		return OSH_OK;
	}
	if (n == 0)
		return fail(err, errlen, "%s: missing sandbox NAME (see openshell %s --help)",
			    topic, topic);
	if (n > 1)
		return fail(err, errlen,
			    "%s: unexpected argument '%s' (to decide: sandbox proposals "
			    "accept|reject NAME ID)",
			    topic, p[1]);
	o->name = p[0];
	return OSH_OK;
}

/* sandbox exec NAME [--] CMD [ARGS...] */
static int parse_exec(int argc, char **argv, int i, struct osh_cli_args *o, char *err,
		      size_t errlen)
{
	if (i < argc && is_help(argv[i])) {
		o->cmd = OSH_CLI_HELP;
		o->help_topic = "sandbox exec";
		return OSH_OK;
	}
	if (i >= argc || argv[i][0] == '-')
		return fail(
		    err, errlen,
		    "sandbox exec: missing sandbox NAME (usage: sandbox exec NAME -- CMD...)");
	o->name = argv[i++];
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return fail(err, errlen, "sandbox exec %s: missing the command to run", o->name);
	o->command = &argv[i];
	o->n_command = argc - i;
	return OSH_OK;
}

/* The upstream key name for ours. */
static const char *key_alias(const char *k)
{
	if (k != NULL && strcmp(k, "ocsf_json_enabled") == 0)
		return "ocsf_logging_enabled";
	return k;
}

/* settings get [NAME] [--global] [--json] / set [NAME] --key K --value V /
 * delete [NAME] --key K. Settings are gateway-wide here: a NAME is refused
 * with a line that says so. */
static int parse_settings(int argc, char **argv, int i, const char *topic, struct osh_cli_args *o,
			  char *err, size_t errlen)
{
	const char *flags = spec_flags(topic);
	const char *sandbox = NULL;
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = topic;
			return OSH_OK;
		}
		if (strcmp(a, "--global") == 0) {
			o->global = true;
			continue;
		}
		if (strcmp(a, "--yes") == 0 && strstr(flags, "--yes") != NULL)
			continue; /* we never prompt */
		if (strcmp(a, "--json") == 0 && strstr(flags, "--json") != NULL) {
			o->output = OSH_CLI_OUT_JSON;
			continue;
		}
		if (strstr(flags, "--output") != NULL) {
			v = flag_value(argc, argv, &i, "-o", &m);
			if (!m)
				v = flag_value(argc, argv, &i, "--output", &m);
			if (m) {
				if (parse_output(topic, v, false, o, err, errlen) != OSH_OK)
					return OSH_EINVAL;
				continue;
			}
		}
		if (strstr(flags, "--key") != NULL) {
			v = flag_value(argc, argv, &i, "--key", &m);
			if (m) {
				if (v == NULL || *v == '\0')
					return fail(err, errlen, "%s: --key needs a KEY", topic);
				o->key = key_alias(v);
				continue;
			}
		}
		if (strstr(flags, "--value") != NULL) {
			v = flag_value(argc, argv, &i, "--value", &m);
			if (m) {
				if (v == NULL)
					return fail(err, errlen, "%s: --value needs a VALUE",
						    topic);
				o->value = v;
				continue;
			}
		}
		if (a[0] == '-' && a[1] != '\0')
			return unknown_flag(err, errlen, topic, a, flags);
		if (sandbox != NULL)
			return fail(err, errlen, "%s: unexpected argument '%s'", topic, a);
		sandbox = a;
	}
	if (sandbox != NULL)
		return fail(err, errlen,
			    "%s: settings are gateway-wide here, there are no per-sandbox settings "
			    "(drop '%s' or use --global)",
			    topic, sandbox);
	if (o->cmd != OSH_CLI_CONFIG_GET && o->key == NULL)
		return fail(err, errlen, "%s: missing --key KEY", topic);
	if (o->cmd == OSH_CLI_CONFIG_SET && o->value == NULL)
		return fail(err, errlen, "%s: missing --value VALUE", topic);
	return OSH_OK;
}

static int parse_global(int argc, char **argv, int *ip, struct osh_cli_args *o, char *err,
			size_t errlen, bool *done)
{
	int i = *ip;
	*done = false;
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			*done = true;
			break;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			o->cmd = OSH_CLI_VERSION;
			*done = true;
			break;
		}
		if (strcmp(a, "--no-color") == 0) {
			o->color = OSH_CLI_COLOR_NEVER;
			continue;
		}
		v = flag_value(argc, argv, &i, "--color", &m);
		if (m) {
			if (v != NULL && strcmp(v, "always") == 0)
				o->color = OSH_CLI_COLOR_ALWAYS;
			else if (v != NULL && strcmp(v, "never") == 0)
				o->color = OSH_CLI_COLOR_NEVER;
			else if (v != NULL && strcmp(v, "auto") == 0)
				o->color = OSH_CLI_COLOR_AUTO;
			else
				return fail(err, errlen, "--color must be auto, always or never");
			continue;
		}
		v = flag_value(argc, argv, &i, "--gateway", &m);
		if (!m)
			v = flag_value(argc, argv, &i, "-g", &m);
		if (m) {
			char host[256];
			uint16_t port;
			if (v != NULL && strstr(v, "://") != NULL)
				return fail(err, errlen,
					    "--gateway takes HOST:PORT or unix:/PATH, not a URL: "
					    "drop the scheme from '%s'",
					    v);
			if (v == NULL || (strncmp(v, "unix:", 5) == 0
					      ? v[5] != '/'
					      : osh_parse_hostport(v, false, host, sizeof(host),
								   &port) != OSH_OK))
				return fail(err, errlen,
					    "--gateway needs HOST:PORT (port 1-65535) or "
					    "unix:/PATH, got '%s'",
					    v != NULL ? v : "");
			o->gateway = v;
			o->gateway_explicit = true;
			continue;
		}
		if (a[0] == '-') {
			char near[32];
			osh_cli_suggest(a, OSH_CLI_GLOBAL_FLAGS, near, sizeof(near));
			if (near[0] != '\0')
				return fail(err, errlen, "unknown option '%s' (did you mean %s?)",
					    a, near);
			return fail(err, errlen, "unknown option '%s' (see openshell --help)", a);
		}
		break;
	}
	*ip = i;
	return OSH_OK;
}

static int unknown_sub(char *err, size_t errlen, const char *cmd, const char *sub)
{
	char words[256] = "", near[32];
	size_t n = strlen(cmd), len = 0;
	for (size_t k = 0; k < osh_cli_n_specs; k++) {
		const char *p = osh_cli_specs[k].path;
		if (strncmp(p, cmd, n) == 0 && p[n] == ' ')
			len += (size_t)snprintf(words + len, sizeof(words) - len, "%s ", p + n + 1);
		if (len >= sizeof(words))
			break;
	}
	osh_cli_suggest(sub, words, near, sizeof(near));
	if (near[0] != '\0')
		return fail(err, errlen, "%s: unknown subcommand '%s' (did you mean %s?)", cmd, sub,
			    near);
	return fail(err, errlen, "%s: unknown subcommand '%s' (see openshell %s --help)", cmd, sub,
		    cmd);
}

int osh_cli_parse(int argc, char **argv, const char *env_gateway, int64_t now_ms,
		  struct osh_cli_args *o, char *err, size_t errlen)
{
	return osh_cli_parse_env(argc, argv, env_gateway, NULL, now_ms, o, err, errlen);
}

int osh_cli_parse_env(int argc, char **argv, const char *env_gateway, const char *env_log_time,
		      int64_t now_ms, struct osh_cli_args *o, char *err, size_t errlen)
{
	int i = 1;
	const char *cmd, *sub = NULL;
	const char *p[2] = {NULL, NULL};
	int rc = OSH_OK;
	bool done = false;

	memset(o, 0, sizeof(*o));
	o->cmd = OSH_CLI_HELP;
	o->help_topic = "";
	o->gateway = OSH_CLI_DEFAULT_GATEWAY;
	if (env_gateway != NULL && *env_gateway != '\0') {
		o->gateway = env_gateway;
		o->gateway_explicit = true;
	}
	o->min_level = OSH_LEVEL_TRACE;
	if (errlen > 0)
		err[0] = '\0';
	if (env_log_time != NULL && *env_log_time != '\0' &&
	    parse_ts("OPENSHELL_LOG_TIME", env_log_time, &o->timestamps, err, errlen) != OSH_OK)
		return OSH_EINVAL;
	if (parse_global(argc, argv, &i, o, err, errlen, &done) != OSH_OK)
		return OSH_EINVAL;
	if (done)
		return OSH_OK;
	if (i >= argc)
		return fail(err, errlen, "missing command (see openshell --help)");
	cmd = argv[i++];
	if (strcmp(cmd, "help") == 0) {
		o->cmd = OSH_CLI_HELP;
		if (i + 1 < argc)
			snprintf(o->help_buf, sizeof(o->help_buf), "%s %s", argv[i], argv[i + 1]);
		else if (i < argc)
			snprintf(o->help_buf, sizeof(o->help_buf), "%s", argv[i]);
		o->help_topic = o->help_buf;
		return OSH_OK;
	}
	if (strcmp(cmd, "version") == 0) {
		o->cmd = OSH_CLI_VERSION;
		return OSH_OK;
	}
	if (strcmp(cmd, "logs") == 0 || strcmp(cmd, "lg") == 0) {
		o->cmd = OSH_CLI_SANDBOX_LOGS;
		return parse_logs(argc, argv, i, now_ms, "logs", o, err, errlen);
	}
	if (strcmp(cmd, "status") == 0) {
		o->cmd = OSH_CLI_STATUS;
		return parse_sandbox_cmd(argc, argv, i, "status", 0, 0, o, err, errlen);
	}
	if (strcmp(cmd, "term") == 0) {
		o->cmd = OSH_CLI_TERM;
		return parse_positional(argc, argv, i, "term", 0, 0, p, o, err, errlen);
	}
	if (strcmp(cmd, "completions") == 0) {
		o->cmd = OSH_CLI_COMPLETIONS;
		rc = parse_positional(argc, argv, i, "completions", 1, 1, p, o, err, errlen);
		if (rc == OSH_OK && o->cmd != OSH_CLI_HELP && p[0] != NULL) {
			o->shell = p[0];
			if (strcmp(p[0], "bash") != 0 && strcmp(p[0], "zsh") != 0 &&
			    strcmp(p[0], "fish") != 0)
				rc = fail(err, errlen,
					  "completions: SHELL must be bash, zsh or fish, got '%s'",
					  p[0]);
		}
		return rc;
	}
	if (strcmp(cmd, "gateway") != 0 && strcmp(cmd, "config") != 0 &&
	    strcmp(cmd, "sandbox") != 0 && strcmp(cmd, "settings") != 0) {
		char near[32];
		osh_cli_suggest(cmd,
				"gateway config settings sandbox logs status completions term help "
				"version",
				near, sizeof(near));
		if (near[0] != '\0')
			return fail(err, errlen, "unknown command '%s' (did you mean %s?)", cmd,
				    near);
		return fail(err, errlen, "unknown command '%s' (see openshell --help)", cmd);
	}
	if (i >= argc)
		return fail(err, errlen, "%s: missing subcommand (see openshell %s --help)", cmd,
			    cmd);
	if (is_help(argv[i])) {
		o->cmd = OSH_CLI_HELP;
		o->help_topic = cmd;
		return OSH_OK;
	}
	sub = argv[i++];
	if (strcmp(cmd, "gateway") == 0) {
		if (strcmp(sub, "start") != 0)
			return unknown_sub(err, errlen, cmd, sub);
		if (i < argc && is_help(argv[i])) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = "gateway start";
			return OSH_OK;
		}
		o->cmd = OSH_CLI_GATEWAY_START;
		o->gw_argv = &argv[i];
		o->gw_argc = argc - i;
		return OSH_OK;
	}
	if (strcmp(cmd, "settings") == 0) {
		if (strcmp(sub, "get") == 0)
			o->cmd = OSH_CLI_CONFIG_GET;
		else if (strcmp(sub, "set") == 0)
			o->cmd = OSH_CLI_CONFIG_SET;
		else if (strcmp(sub, "delete") == 0)
			o->cmd = OSH_CLI_CONFIG_DELETE;
		else
			return unknown_sub(err, errlen, cmd, sub);
		snprintf(o->help_buf, sizeof(o->help_buf), "settings %s", sub);
		return parse_settings(argc, argv, i, o->help_buf, o, err, errlen);
	}
	if (strcmp(cmd, "config") == 0) {
		if (strcmp(sub, "get") == 0) {
			o->cmd = OSH_CLI_CONFIG_GET;
			rc = parse_positional(argc, argv, i, "config get", 0, 1, p, o, err, errlen);
			if (rc == OSH_OK && o->cmd != OSH_CLI_HELP) {
				o->key = key_alias(p[0]);
			}
			return rc;
		}
		if (strcmp(sub, "set") == 0) {
			o->cmd = OSH_CLI_CONFIG_SET;
			rc = parse_positional(argc, argv, i, "config set", 2, 2, p, o, err, errlen);
			if (rc == OSH_OK && o->cmd != OSH_CLI_HELP) {
				o->key = key_alias(p[0]);
				o->value = p[1];
			}
			return rc;
		}
		return unknown_sub(err, errlen, cmd, sub);
	}
	/* sandbox */
	if (strcmp(sub, "create") == 0) {
		o->cmd = OSH_CLI_SANDBOX_CREATE;
		return parse_create(argc, argv, i, o, err, errlen);
	}
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		o->cmd = OSH_CLI_SANDBOX_LIST;
		return parse_sandbox_cmd(argc, argv, i, "sandbox list", 0, 0, o, err, errlen);
	}
	if (strcmp(sub, "get") == 0) {
		o->cmd = OSH_CLI_SANDBOX_GET;
		rc = parse_sandbox_cmd(argc, argv, i, "sandbox get", 0, 1, o, err, errlen);
		o->name_default = rc == OSH_OK && o->name == NULL;
		return rc;
	}
	if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		o->cmd = OSH_CLI_SANDBOX_DELETE;
		return parse_sandbox_cmd(argc, argv, i, "sandbox delete", 1, 64, o, err, errlen);
	}
	if (strcmp(sub, "proposals") == 0) {
		o->cmd = OSH_CLI_PROPOSALS;
		return parse_proposals(argc, argv, i, o, err, errlen);
	}
	if (strcmp(sub, "connect") == 0 || strcmp(sub, "ssh-config") == 0 ||
	    strcmp(sub, "ssh-proxy") == 0) {
		o->cmd = strcmp(sub, "connect") == 0	  ? OSH_CLI_SANDBOX_CONNECT
			 : strcmp(sub, "ssh-config") == 0 ? OSH_CLI_SANDBOX_SSH_CONFIG
							  : OSH_CLI_SANDBOX_SSH_PROXY;
		snprintf(o->help_buf, sizeof(o->help_buf), "sandbox %s", sub);
		return parse_sandbox_cmd(argc, argv, i, o->help_buf, 1, 1, o, err, errlen);
	}
	if (strcmp(sub, "exec") == 0) {
		o->cmd = OSH_CLI_SANDBOX_EXEC;
		return parse_exec(argc, argv, i, o, err, errlen);
	}
	if (strcmp(sub, "logs") == 0) {
		o->cmd = OSH_CLI_SANDBOX_LOGS;
		rc = parse_logs(argc, argv, i, now_ms, "sandbox logs", o, err, errlen);
		if (rc == OSH_OK && o->cmd == OSH_CLI_SANDBOX_LOGS && o->name_default)
			rc = fail(err, errlen, "sandbox logs: missing sandbox NAME");
		return rc;
	}
	return unknown_sub(err, errlen, cmd, sub);
}

/* ------------------------------------------------------------------ help -- */

static const char *const help_top =
    "Usage: openshell [--gateway unix:/PATH|HOST:PORT] [--color auto|always|never] COMMAND ...\n"
    "\n"
    "Talks to an openshell-gateway over gRPC. The gateway address comes from\n"
    "--gateway, else $OPENSHELL_GATEWAY, else the gateway.addr file of the default\n"
    "data dir ($XDG_STATE_HOME/openshell or ./openshell-data, then /var/lib/openshell),\n"
    "else " OSH_CLI_DEFAULT_GATEWAY ". A HOST:PORT gateway needs TLS: set\n"
    "OPENSHELL_TLS_CA, OPENSHELL_TLS_CERT and OPENSHELL_TLS_KEY (PEM files).\n"
    "\n"
    "Commands:\n"
    "  gateway start [GATEWAY FLAGS...]   run openshell-gateway in the foreground\n"
    "  status [-o json]                   gateway version, health and address\n"
    "  sandbox create --name NAME [--policy FILE] [--env K=V]... [--secret NAME[=VALUE]]...\n"
    "                 [--label K=V]... [-- COMMAND...]\n"
    "  sandbox list [-o table|json] [--names] [--selector K=V[,K=V...]]\n"
    "  sandbox get [NAME] [-o table|yaml|json]\n"
    "  sandbox delete NAME...|--all       stop and remove sandboxes\n"
    "  sandbox proposals NAME [--status S] [-o json]   policy proposals from denials\n"
    "  sandbox proposals accept|reject NAME ID\n"
    "  sandbox exec NAME -- CMD...        run CMD in the sandbox over SSH; its exit status\n"
    "  sandbox connect NAME               interactive shell in the sandbox (OpenSSH)\n"
    "  sandbox ssh-config NAME            OpenSSH Host block (ProxyCommand, pinned key)\n"
    "  sandbox ssh-proxy NAME             stdin/stdout relay to the sandbox's SSH server\n"
    "  logs [NAME] [-n N] [--tail] [--since T] [--level L] [--source S] [-o json]\n"
    "                                     (alias lg; also `sandbox logs NAME`)\n"
    "  settings get [--global] [--json]   gateway settings (also `config get [KEY]`)\n"
    "  settings set --key K --value V     (also `config set KEY VALUE`)\n"
    "  settings delete --key K            drop the override, back to the default\n"
    "  completions bash|zsh|fish          print a shell completion script\n"
    "  term                               terminal UI: sandboxes and a live log panel\n"
    "  help [COMMAND]                     help for a command\n"
    "\n"
    "Every command accepts --help.\n"
    "Exit codes: 0 ok, 1 request failed, 2 gateway unreachable, 64 usage error.\n";

static const char *const help_gateway =
    "Usage: openshell gateway start [GATEWAY FLAGS...]\n"
    "\n"
    "Runs openshell-gateway (found next to this program) in the foreground with\n"
    "the given flags, e.g. --data-dir DIR, --config FILE, --ocsf-logging.\n"
    "Unless the flags contain --listen or --socket, a unix:/PATH given with\n"
    "--gateway / $OPENSHELL_GATEWAY becomes its --socket; otherwise the gateway\n"
    "serves <data-dir>/gateway.sock, which this CLI then finds by itself.\n"
    "See `openshell-gateway --help` for its flags.\n"
    "Differs from upstream on purpose: upstream manages remote gateways\n"
    "(gateway add/select/login); this runs the local one.\n";

static const char *const help_config =
    "Usage: openshell config get [KEY]\n"
    "       openshell config set KEY VALUE\n"
    "\n"
    "get prints `KEY = VALUE (type, source)` for one key or every key, then\n"
    "`config_revision = N`. set changes a value and prints the new revision;\n"
    "the revision only moves when the effective value changes.\n"
    "Boolean values accept true/false, yes/no, on/off, 1/0 in any case.\n"
    "Key: ocsf_logging_enabled (bool; upstream name ocsf_json_enabled) turns the\n"
    "OCSF JSONL file of every sandbox on or off live.\n"
    "Key: ocsf_schema_version (string: 1.1.0, 1.3.0, 1.5.0 or 1.7.0, the default)\n"
    "sets the OCSF version of that file's lines, live (docs/siem.md).\n"
    "The upstream forms are `openshell settings get|set|delete`.\n";

static const char *const help_settings =
    "Usage: openshell settings get [--global] [--json]\n"
    "       openshell settings set --key KEY --value VALUE [--global] [--yes]\n"
    "       openshell settings delete --key KEY [--global] [--yes]\n"
    "\n"
    "The upstream names of `config get` / `config set`, with the same keys:\n"
    "ocsf_json_enabled is accepted for ocsf_logging_enabled. delete drops the\n"
    "value set through the CLI, so the config file, flag, env or default applies.\n"
    "Differs from upstream on purpose: settings are gateway-wide here (there are\n"
    "no per-sandbox settings), so a sandbox NAME is refused and --global is\n"
    "implied; --yes is accepted and ignored (nothing prompts).\n"
    "--json (or -o json): {\"config_revision\": N, \"settings\": [{\"key\", \"value\",\n"
    "\"type\", \"source\"}...]}.\n";

static const char *const help_create =
    "Usage: openshell sandbox create --name NAME [--policy FILE] [--env KEY=VALUE]...\n"
    "                                [--secret NAME[=VALUE]]... [--label KEY=VALUE]...\n"
    "                                [-- COMMAND [ARG...]]\n"
    "\n"
    "Asks the gateway to start a sandbox supervisor named NAME running COMMAND\n"
    "(the gateway's default command when omitted). --policy sends a policy YAML\n"
    "file (filesystem, landlock, process, network_policies). --env adds a variable\n"
    "to the agent's environment. --secret gives the sandbox a credential: the\n"
    "agent sees NAME=openshell:resolve:env:NAME and the proxy puts the value on\n"
    "the wire; without =VALUE the value is read from this shell's environment\n"
    "variable NAME (keeps it out of the process list). --label keeps a label\n"
    "with the sandbox (repeatable, at most 64): KEY is [A-Za-z0-9][A-Za-z0-9._/-]*,\n"
    "at most 63 characters; VALUE at most 63 printable ASCII characters; shown by\n"
    "`sandbox list` and `sandbox get`, selected by `sandbox list --selector`.\n"
    "Prints the new sandbox's id and state.\n"
    "Differs from upstream: --name is required; no --from image, --gpu.\n";

static const char *const help_list =
    "Usage: openshell sandbox list [-o table|json] [--names] [--selector K=V[,K=V...]]\n"
    "\n"
    "Prints NAME, ID, STATE, PID, EXIT, CREATED and LABELS for every sandbox;\n"
    "--names prints one name per line; -o json prints {\"sandboxes\": [...]}\n"
    "with the fields of `sandbox get -o json`. --selector lists only the\n"
    "sandboxes carrying every one of these labels (the gateway filters; a\n"
    "value containing ',' cannot be selected).\n";

static const char *const help_get =
    "Usage: openshell sandbox get [NAME] [-o table|yaml|json]\n"
    "\n"
    "NAME defaults to the last sandbox used (as for `logs`).\n"
    "Shows one sandbox: name, id, state, pid, exit code, created (UTC), policy\n"
    "version, log dir and command. Fields (json/yaml): name, id, state, pid,\n"
    "exit_code (null while running), created_ms, created, policy_version,\n"
    "log_dir, command.\n";

static const char *const help_delete =
    "Usage: openshell sandbox delete NAME... | --all\n"
    "\n"
    "Stops each sandbox's supervisor and removes the sandbox. With several\n"
    "names every one is tried; the exit code is 1 if any failed.\n";

static const char *const help_logs =
    "Usage: openshell logs [NAME] [-n N] [--tail] [--since T] [--level L]\n"
    "                      [--source gateway|sandbox|agent|all] [-o json]\n"
    "                      [--timestamps epoch|utc|local]\n"
    "       openshell sandbox logs NAME ...   (same flags; alias: openshell lg)\n"
    "\n"
    "Prints the sandbox's log lines, oldest first:\n"
    "  [<secs>.<ms>] [<source>] [<LEVEL>] [<target>] <message> k=v...\n"
    "  NAME            default: the last sandbox used by create/get/logs\n"
    "  -n, --lines N   last N lines (default 200, at most 1000000); with --tail:\n"
    "                  lines replayed first\n"
    "  --tail, -f, --follow  keep printing new lines; ends with the sandbox's exit\n"
    "                  status once it has exited, or at Ctrl-C\n"
    "  --since T       only lines newer than T: a duration (30s, 5m, 2h, 1d, 250ms;\n"
    "                  a bare number is seconds), an RFC 3339 time\n"
    "                  (2026-12-06T06:25:46Z), or <secs>.<ms> exactly as printed\n"
    "  --level L       minimum level: trace, debug, info, warn, error. OCSF lines rank\n"
    "                  by their severity tag: [INFO]/[LOW] = info, [MED] = warn,\n"
    "                  [HIGH]/[CRIT]/[FATAL] = error\n"
    "  --source S      gateway, sandbox (the supervisor) or agent (the command's\n"
    "                  stdout/stderr); repeatable\n"
    "  -o json         one JSON object per line (fields in docs/cli.md)\n"
    "  --timestamps F  epoch (default, upstream's layout), utc or local;\n"
    "                  $OPENSHELL_LOG_TIME sets the default\n"
    "Differs from upstream on purpose: `sandbox logs --tail` used to be an alias of\n"
    "-n; it now means follow, as upstream.\n";

static const char *const help_status =
    "Usage: openshell status [-o json]\n"
    "\n"
    "Prints the gateway address, whether it answers (health), its version and\n"
    "uptime and how many sandboxes it has. Exit 2 when it cannot be reached.\n";

static const char *const help_completions =
    "Usage: openshell completions bash|zsh|fish\n"
    "\n"
    "Prints a completion script generated from the CLI's command table, e.g.\n"
    "  source <(openshell completions bash)\n"
    "  openshell completions fish > ~/.config/fish/completions/openshell.fish\n";

static const char *const help_term =
    "Usage: openshell term\n"
    "\n"
    "A terminal UI: the sandboxes (state, pid, age) on the left, the selected\n"
    "sandbox's log lines on the right, following live (times HH:MM:SS, local).\n"
    "Keys: Up/Down or j/k select a sandbox; Tab moves the cursor into the log\n"
    "panel (Up/Down/PgUp/PgDn scroll it and pause); p or Space pause/follow;\n"
    "/ filter by text (empty clears); l cycle the minimum level; s cycle the\n"
    "source (all, sandbox, agent, gateway); Enter show the line under the\n"
    "cursor in full, with the event's OCSF JSON pretty-printed when the\n"
    "sandbox writes JSONL (ocsf_logging_enabled); q quit. Needs a terminal.\n";

static const char *const help_sandbox =
    "Usage: openshell sandbox create|list|get|delete|logs|exec|connect|ssh-config|ssh-proxy ...\n"
    "\n"
    "  sandbox create --name NAME [--policy FILE] [--env K=V]... [--secret NAME[=VALUE]]...\n"
    "                 [--label K=V]... [-- COMMAND...]\n"
    "  sandbox list [-o table|json] [--names] [--selector K=V[,K=V...]]\n"
    "  sandbox get [NAME] [-o table|yaml|json]\n"
    "  sandbox delete NAME...|--all\n"
    "  sandbox logs NAME [-n N] [--since T] [--level L] [--source S] [--follow]\n"
    "  sandbox proposals NAME [--status pending|accepted|rejected|all] [-o table|json]\n"
    "  sandbox proposals accept|reject NAME ID\n"
    "  sandbox exec NAME [--] CMD...   run CMD in the sandbox over SSH; exits with its status\n"
    "  sandbox connect NAME            interactive shell in the sandbox (OpenSSH, PTY)\n"
    "  sandbox ssh-config NAME         pin the host key, print an OpenSSH Host block\n"
    "  sandbox ssh-proxy NAME          stdin/stdout relay to the sandbox's SSH server\n"
    "                                  (the ProxyCommand; see docs/ssh.md)\n"
    "\n"
    "See `openshell sandbox <subcommand> --help`.\n";

static const char *const help_proposals =
    "Usage: openshell sandbox proposals NAME [--status pending|accepted|rejected|all]\n"
    "                                        [-o table|json]\n"
    "       openshell sandbox proposals accept NAME ID\n"
    "       openshell sandbox proposals reject NAME ID\n"
    "\n"
    "The sandbox's supervisor folds the connections its policy refused by\n"
    "(host, port, binary) and proposes a network rule for each (docs/l7.md).\n"
    "The first form lists them (all statuses unless --status): id, status, rule,\n"
    "endpoint, binary, hits, confidence, last denial. `accept` merges the rule into\n"
    "the sandbox's policy as a new version, which the running sandbox applies at\n"
    "its next policy poll (no restart); `reject` keeps it out until new denials\n"
    "arrive after the decision.\n";

void osh_cli_help(FILE *fp, const char *topic)
{
	const char *t = help_top;
	if (topic == NULL)
		topic = "";
	if (strncmp(topic, "gateway", 7) == 0)
		t = help_gateway;
	else if (strncmp(topic, "config", 6) == 0)
		t = help_config;
	else if (strncmp(topic, "settings", 8) == 0)
		t = help_settings;
	else if (strcmp(topic, "sandbox create") == 0)
		t = help_create;
	else if (strcmp(topic, "sandbox list") == 0)
		t = help_list;
	else if (strcmp(topic, "sandbox get") == 0)
		t = help_get;
	else if (strcmp(topic, "sandbox delete") == 0)
		t = help_delete;
	else if (strcmp(topic, "sandbox logs") == 0 || strcmp(topic, "logs") == 0 ||
		 strcmp(topic, "lg") == 0)
		t = help_logs;
	else if (strcmp(topic, "sandbox proposals") == 0)
		t = help_proposals;
	else if (strcmp(topic, "status") == 0)
		t = help_status;
	else if (strcmp(topic, "completions") == 0)
		t = help_completions;
	else if (strcmp(topic, "term") == 0)
		t = help_term;
	else if (strncmp(topic, "sandbox", 7) == 0)
		t = help_sandbox;
	fputs(t, fp);
}
