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

int osh_cli_parse_since(const char *s, int64_t now_ms, int64_t *out)
{
	char *end = NULL;
	long long v;
	int64_t mult = 0;
	int rc = OSH_EINVAL;

	if (s == NULL || *s < '0' || *s > '9')
		goto out;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		goto out;
	if (*end == '\0') {
		*out = (int64_t)v; /* absolute: ms since the epoch */
		rc = OSH_OK;
		goto out;
	}
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = (int64_t)60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = (int64_t)3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mult = (int64_t)86400 * 1000;
	else
		goto out;
	if (v > (long long)(now_ms / mult))
		goto out;
	*out = now_ms - (int64_t)v * mult;
	rc = OSH_OK;
out:
	return rc;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end = NULL;
	unsigned long v;
	if (s == NULL || *s < '0' || *s > '9')
		return OSH_EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 0xffffffffUL)
		return OSH_EINVAL;
	*out = (uint32_t)v;
	return OSH_OK;
}

static bool is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* Parse the flags of "sandbox logs NAME ...". */
static int parse_logs(int argc, char **argv, int i, int64_t now_ms, struct osh_cli_args *o,
		      char *err, size_t errlen)
{
	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			o->help_topic = "sandbox logs";
			return OSH_OK;
		}
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			o->follow = true;
			continue;
		}
		v = flag_value(argc, argv, &i, "-n", &m);
		if (!m)
			v = flag_value(argc, argv, &i, "--lines", &m);
		if (!m)
			v = flag_value(argc, argv, &i, "--tail", &m);
		if (m) {
			if (parse_u32(v, &o->lines) != OSH_OK)
				return fail(err, errlen,
					    "sandbox logs: -n needs a number of lines, got '%s'",
					    v != NULL ? v : "");
			o->lines_set = true;
			continue;
		}
		v = flag_value(argc, argv, &i, "--since", &m);
		if (m) {
			if (osh_cli_parse_since(v, now_ms, &o->since_ms) != OSH_OK)
				return fail(err, errlen,
					    "sandbox logs: --since needs a duration like 30s, 5m, "
					    "2h, 1d or a time in ms since the epoch, got '%s'",
					    v != NULL ? v : "");
			continue;
		}
		v = flag_value(argc, argv, &i, "--level", &m);
		if (m) {
			if (v == NULL || osh_level_parse(v, &o->min_level) != OSH_OK)
				return fail(err, errlen,
					    "sandbox logs: --level must be one of trace, debug, "
					    "info, warn, error, got '%s'",
					    v != NULL ? v : "");
			o->level_set = true;
			continue;
		}
		v = flag_value(argc, argv, &i, "--source", &m);
		if (m) {
			if (v == NULL || (strcmp(v, "gateway") != 0 && strcmp(v, "sandbox") != 0 &&
					  strcmp(v, "all") != 0))
				return fail(err, errlen,
					    "sandbox logs: --source must be gateway, sandbox or "
					    "all, got '%s'",
					    v != NULL ? v : "");
			if (strcmp(v, "all") == 0)
				o->n_sources = 0;
			else if (o->n_sources < 2)
				o->sources[o->n_sources++] = v;
			continue;
		}
		if (a[0] == '-' && a[1] != '\0')
			return fail(err, errlen, "sandbox logs: unknown flag '%s'", a);
		if (o->name != NULL)
			return fail(err, errlen, "sandbox logs: unexpected argument '%s'", a);
		o->name = a;
	}
	if (o->name == NULL)
		return fail(err, errlen, "sandbox logs: missing sandbox NAME");
	if (!o->lines_set)
		o->lines = OSH_CLI_DEFAULT_LINES;
	return OSH_OK;
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
		if (a[0] == '-')
			return fail(err, errlen, "sandbox create: unknown flag '%s'", a);
		return fail(err, errlen,
			    "sandbox create: unexpected argument '%s' (put the command after --)",
			    a);
	}
	if (o->name == NULL)
		return fail(err, errlen, "sandbox create: missing --name NAME");
	return OSH_OK;
}

/* Positional-only commands: exactly `want` positionals into p[]. */
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
			return fail(err, errlen, "%s: unknown flag '%s'", topic, a);
		if (n >= max)
			return fail(err, errlen, "%s: unexpected argument '%s'", topic, a);
		p[n++] = a;
	}
	if (n < min)
		return fail(err, errlen, "%s: missing argument (see openshell %s --help)", topic,
			    topic);
	return OSH_OK;
}

int osh_cli_parse(int argc, char **argv, const char *env_gateway, int64_t now_ms,
		  struct osh_cli_args *o, char *err, size_t errlen)
{
	int i = 1;
	const char *cmd, *sub = NULL;
	const char *p[2] = {NULL, NULL};
	int rc = OSH_OK;

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

	for (; i < argc; i++) {
		const char *a = argv[i], *v;
		bool m;
		if (is_help(a)) {
			o->cmd = OSH_CLI_HELP;
			return OSH_OK;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			o->cmd = OSH_CLI_VERSION;
			return OSH_OK;
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
			if (v == NULL || strchr(v, ':') == NULL ||
			    (strncmp(v, "unix:", 5) == 0 && v[5] != '/'))
				return fail(err, errlen,
					    "--gateway needs HOST:PORT or unix:/PATH, got '%s'",
					    v != NULL ? v : "");
			o->gateway = v;
			o->gateway_explicit = true;
			continue;
		}
		if (a[0] == '-')
			return fail(err, errlen, "unknown option '%s' (see openshell --help)", a);
		break;
	}
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
	if (strcmp(cmd, "gateway") != 0 && strcmp(cmd, "config") != 0 &&
	    strcmp(cmd, "sandbox") != 0)
		return fail(err, errlen, "unknown command '%s' (see openshell --help)", cmd);
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
			return fail(err, errlen, "gateway: unknown subcommand '%s'", sub);
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
	if (strcmp(cmd, "config") == 0) {
		if (strcmp(sub, "get") == 0) {
			o->cmd = OSH_CLI_CONFIG_GET;
			rc = parse_positional(argc, argv, i, "config get", 0, 1, p, o, err, errlen);
			if (rc == OSH_OK && o->cmd != OSH_CLI_HELP) {
				o->key = p[0];
			}
			return rc;
		}
		if (strcmp(sub, "set") == 0) {
			o->cmd = OSH_CLI_CONFIG_SET;
			rc = parse_positional(argc, argv, i, "config set", 2, 2, p, o, err, errlen);
			if (rc == OSH_OK && o->cmd != OSH_CLI_HELP) {
				o->key = p[0];
				o->value = p[1];
			}
			return rc;
		}
		return fail(err, errlen, "config: unknown subcommand '%s'", sub);
	}
	/* sandbox */
	if (strcmp(sub, "create") == 0) {
		o->cmd = OSH_CLI_SANDBOX_CREATE;
		return parse_create(argc, argv, i, o, err, errlen);
	}
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		o->cmd = OSH_CLI_SANDBOX_LIST;
		return parse_positional(argc, argv, i, "sandbox list", 0, 0, p, o, err, errlen);
	}
	if (strcmp(sub, "delete") == 0 || strcmp(sub, "rm") == 0) {
		o->cmd = OSH_CLI_SANDBOX_DELETE;
		rc = parse_positional(argc, argv, i, "sandbox delete", 1, 1, p, o, err, errlen);
		if (rc == OSH_OK && o->cmd != OSH_CLI_HELP) {
			o->name = p[0];
		}
		return rc;
	}
	if (strcmp(sub, "logs") == 0) {
		o->cmd = OSH_CLI_SANDBOX_LOGS;
		return parse_logs(argc, argv, i, now_ms, o, err, errlen);
	}
	return fail(err, errlen, "sandbox: unknown subcommand '%s'", sub);
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
    "  config get [KEY]                   show gateway config and its revision\n"
    "  config set KEY VALUE               change a config value\n"
    "  sandbox create --name NAME [--policy FILE] [--secret NAME[=VALUE]]... [-- COMMAND...]\n"
    "  sandbox list                       list sandboxes\n"
    "  sandbox delete NAME                stop and remove a sandbox\n"
    "  sandbox logs NAME [-n N] [--since T] [--level L] [--source S] [--follow]\n"
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
    "See `openshell-gateway --help` for its flags.\n";

static const char *const help_config =
    "Usage: openshell config get [KEY]\n"
    "       openshell config set KEY VALUE\n"
    "\n"
    "get prints `KEY = VALUE (type, source)` for one key or every key, then\n"
    "`config_revision = N`. set changes a value and prints the new revision;\n"
    "the revision only moves when the effective value changes.\n"
    "Boolean values accept true/false, yes/no, on/off, 1/0 in any case.\n"
    "Key: ocsf_logging_enabled (bool) turns the OCSF JSONL file of every sandbox\n"
    "on or off live.\n";

static const char *const help_create =
    "Usage: openshell sandbox create --name NAME [--policy FILE] [--secret NAME[=VALUE]]...\n"
    "                                [-- COMMAND [ARG...]]\n"
    "\n"
    "Asks the gateway to start a sandbox supervisor named NAME running COMMAND\n"
    "(the gateway's default command when omitted). --policy sends a policy YAML\n"
    "file (filesystem, landlock, process, network_policies). --secret gives the\n"
    "sandbox a credential: the agent sees NAME=openshell:resolve:env:NAME and the\n"
    "proxy puts the value on the wire; without =VALUE the value is read from this\n"
    "shell's environment variable NAME (keeps it out of the process list).\n"
    "Prints the new sandbox's id and state.\n";

static const char *const help_list = "Usage: openshell sandbox list\n"
				     "\n"
				     "Prints NAME, ID, STATE, PID, EXIT and CREATED for every "
				     "sandbox.\n";

static const char *const help_delete = "Usage: openshell sandbox delete NAME\n"
				       "\n"
				       "Stops the sandbox's supervisor and removes the sandbox.\n";

static const char *const help_logs =
    "Usage: openshell sandbox logs NAME [-n N] [--since T] [--level L]\n"
    "                              [--source gateway|sandbox|all] [--follow]\n"
    "\n"
    "Prints the sandbox's log lines, oldest first:\n"
    "  [<secs>.<ms>] [<source>] [<LEVEL>] [<target>] <message> k=v...\n"
    "  -n, --lines N   last N lines (default 200); with --follow: lines replayed first\n"
    "  --since T       only lines newer than T: 30s, 5m, 2h, 1d, or ms since the epoch\n"
    "  --level L       minimum level: trace, debug, info, warn, error. OCSF lines rank\n"
    "                  by their severity tag: [INFO]/[LOW] = info, [MED] = warn,\n"
    "                  [HIGH]/[CRIT]/[FATAL] = error\n"
    "  --source S      only lines from the gateway or the sandbox (repeatable)\n"
    "  -f, --follow    keep printing new lines until interrupted (Ctrl-C)\n";

static const char *const help_sandbox =
    "Usage: openshell sandbox create|list|delete|logs ...\n"
    "\n"
    "  sandbox create --name NAME [--policy FILE] [--secret NAME[=VALUE]]... [-- COMMAND...]\n"
    "  sandbox list\n"
    "  sandbox delete NAME\n"
    "  sandbox logs NAME [-n N] [--since T] [--level L] [--source S] [--follow]\n"
    "\n"
    "See `openshell sandbox <subcommand> --help`.\n";

void osh_cli_help(FILE *fp, const char *topic)
{
	const char *t = help_top;
	if (topic == NULL)
		topic = "";
	if (strncmp(topic, "gateway", 7) == 0)
		t = help_gateway;
	else if (strncmp(topic, "config", 6) == 0)
		t = help_config;
	else if (strcmp(topic, "sandbox create") == 0)
		t = help_create;
	else if (strcmp(topic, "sandbox list") == 0)
		t = help_list;
	else if (strcmp(topic, "sandbox delete") == 0)
		t = help_delete;
	else if (strcmp(topic, "sandbox logs") == 0 || strcmp(topic, "logs") == 0)
		t = help_logs;
	else if (strncmp(topic, "sandbox", 7) == 0)
		t = help_sandbox;
	fputs(t, fp);
}
