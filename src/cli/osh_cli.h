/* osh_cli.h - the `openshell` command line as a library.
 *
 * DESIGN: main.c only calls osh_cli_main(). Parsing (osh_cli_parse) is pure:
 * argv in, a struct out, no I/O, so every flag and error message is unit
 * tested. Running (osh_cli_run) talks only to the gateway over gRPC
 * (src/rpc) and writes to the FILE pointers it is given, so tests drive it
 * against a real server and read what a user would see.
 *
 * Exit codes (also in docs/cli.md):
 *   0  success
 *   1  the gateway refused or failed the request (unknown sandbox, bad
 *      value, ...), or a local input file could not be read
 *   2  the gateway cannot be reached (one line on stderr says where and why)
 *   64 usage error (unknown command or flag, missing argument)
 *   gateway start: the exit code of openshell-gateway (127 if it cannot run)
 *
 * Thread-safety: none needed; the CLI is single-threaded. */
#ifndef OSH_CLI_H
#define OSH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "osh_err.h"
#include "osh_level.h"

/* Where the CLI looks when neither --gateway nor $OPENSHELL_GATEWAY is set:
 * the address in <data-dir>/gateway.addr of the gateway's default data dir
 * ($XDG_STATE_HOME/openshell, else ./openshell-data), then of the service's
 * (/var/lib/openshell), else this socket. */
#define OSH_CLI_DEFAULT_GATEWAY "unix:/var/lib/openshell/gateway.sock"
#define OSH_CLI_DEFAULT_LINES	200u

enum osh_cli_exit {
	OSH_CLI_EXIT_OK = 0,
	OSH_CLI_EXIT_FAIL = 1,
	OSH_CLI_EXIT_UNREACHABLE = 2,
	OSH_CLI_EXIT_USAGE = 64,
};

enum osh_cli_cmd {
	OSH_CLI_HELP = 0, /* print help for help_topic */
	OSH_CLI_VERSION,
	OSH_CLI_GATEWAY_START,
	OSH_CLI_CONFIG_GET,
	OSH_CLI_CONFIG_SET,
	OSH_CLI_SANDBOX_CREATE,
	OSH_CLI_SANDBOX_LIST,
	OSH_CLI_SANDBOX_DELETE,
	OSH_CLI_SANDBOX_LOGS,
	OSH_CLI_SANDBOX_GET,
	OSH_CLI_CONFIG_DELETE, /* settings delete --key K: back to the file/default value */
	OSH_CLI_STATUS,
	OSH_CLI_COMPLETIONS,
	OSH_CLI_TERM,
	OSH_CLI_PROPOSALS,	    /* sandbox proposals NAME [--status S] [-o json] */
	OSH_CLI_PROPOSAL_DECIDE,    /* sandbox proposals accept|reject NAME ID */
	OSH_CLI_SANDBOX_SSH_PROXY,  /* sandbox ssh-proxy NAME (OpenSSH ProxyCommand)      */
	OSH_CLI_SANDBOX_SSH_CONFIG, /* sandbox ssh-config NAME: Host block, pinned key    */
	OSH_CLI_SANDBOX_EXEC,	    /* sandbox exec NAME [--] CMD...: its exit status     */
	OSH_CLI_SANDBOX_CONNECT,    /* sandbox connect NAME: interactive shell            */
};

/* -o / --output */
enum osh_cli_output {
	OSH_CLI_OUT_TEXT = 0, /* the command's human layout (table for list/get) */
	OSH_CLI_OUT_YAML,
	OSH_CLI_OUT_JSON, /* one JSON document; JSON lines for logs */
};

/* --timestamps / $OPENSHELL_LOG_TIME */
enum osh_cli_ts {
	OSH_CLI_TS_EPOCH = 0, /* [<secs>.<ms>], upstream's layout */
	OSH_CLI_TS_UTC,	      /* [2026-12-06T07:37:42.123Z] */
	OSH_CLI_TS_LOCAL,     /* [2026-12-06 08:37:42.123] local time */
};

/* The one command table: every command path with its flags. Parsing uses it
 * to suggest the nearest flag, `openshell completions` generates the bash,
 * zsh and fish scripts from it. Static storage. */
struct osh_cli_spec {
	const char *path;  /* "sandbox logs" */
	const char *flags; /* space-separated, e.g. "-n --lines --tail" */
	const char *words; /* fixed positional words to complete ("bash zsh fish"), or "" */
	bool sandbox_arg;  /* takes sandbox NAMEs (completed from `sandbox list --names`) */
	const char *summary;
};
extern const struct osh_cli_spec osh_cli_specs[];
extern const size_t osh_cli_n_specs;
#define OSH_CLI_GLOBAL_FLAGS "--gateway -g --color --no-color --help -h --version -V"

enum osh_cli_color {
	OSH_CLI_COLOR_AUTO = 0, /* colour when stdout is a TTY and NO_COLOR is unset */
	OSH_CLI_COLOR_ALWAYS,
	OSH_CLI_COLOR_NEVER,
};

/* Parsed command line. Strings and arrays borrow from argv. */
struct osh_cli_args {
	enum osh_cli_cmd cmd;
	/** gateway target HOST:PORT (--gateway, else $OPENSHELL_GATEWAY, else default) */
	const char *gateway;
	/** true when --gateway or OPENSHELL_GATEWAY chose it */
	bool gateway_explicit;
	enum osh_cli_color color;
	/** HELP: "" (top level), "gateway", "config", "sandbox", or "sandbox logs" etc. */
	const char *help_topic;
	char help_buf[48]; /* storage for "help X Y" topics */
	/** config get/set */
	const char *key;
	const char *value;
	/** sandbox create/delete/logs */
	const char *name;
	const char *policy_file;
	const char *secrets[64]; /* --secret NAME=VALUE or NAME (value from the environment) */
	int n_secrets;
	char **command; /* after "--"; n_command entries */
	int n_command;
	/** sandbox logs */
	uint32_t lines;
	bool lines_set;
	int64_t since_ms; /* 0 = no bound */
	bool level_set;
	enum osh_level min_level;
	const char *sources[3];
	size_t n_sources;
	bool follow;
	/** logs: NAME omitted, use the last sandbox used (osh_cli_last_read) */
	bool name_default;
	/** sandbox delete NAME... (borrowed from argv) or --all */
	const char *names[64];
	int n_names;
	bool all;
	/** sandbox create --env K=V (repeatable) */
	const char *env[64];
	int n_env;
	/** sandbox create --label K=V (repeatable; checked by osh_labels_split) */
	const char *labels[64];
	int n_labels;
	/** sandbox list --selector K=V[,K2=V2] (checked; the gateway filters) */
	const char *selector;
	/** -o table|yaml|json, --json; sandbox list --names */
	enum osh_cli_output output;
	bool names_only;
	/** settings --global (the only scope this gateway has) */
	bool global;
	enum osh_cli_ts timestamps;
	/** sandbox proposals: --status filter; accept|reject: the proposal id */
	const char *status;
	const char *proposal_id;
	bool accept;
	/** completions SHELL */
	const char *shell;
	/** gateway start: arguments passed to openshell-gateway */
	char **gw_argv;
	int gw_argc;
};

/* Parse argv (argv[0] is the program). env_gateway is $OPENSHELL_GATEWAY
 * (NULL when unset); now_ms is the wall clock used for relative --since.
 * Returns 0, or OSH_EINVAL with a one-line reason in err (the caller prints
 * "openshell: <err>" and exits 64). */
int osh_cli_parse(int argc, char **argv, const char *env_gateway, int64_t now_ms,
		  struct osh_cli_args *out, char *err, size_t errlen) OSH_MUST_CHECK;

/* Like osh_cli_parse, with $OPENSHELL_LOG_TIME (NULL when unset) as the
 * default of --timestamps; a bad value is a usage error naming the variable. */
int osh_cli_parse_env(int argc, char **argv, const char *env_gateway, const char *env_log_time,
		      int64_t now_ms, struct osh_cli_args *out, char *err,
		      size_t errlen) OSH_MUST_CHECK;

/* The flag of `flags` (space-separated) nearest to `typed` (edit distance
 * at most 2, or typed is a prefix of exactly one), into buf; "" when none. */
void osh_cli_suggest(const char *typed, const char *flags, char *buf, size_t cap);

/* Prints the completion script for shell "bash", "zsh" or "fish" generated
 * from osh_cli_specs. Returns 0 or OSH_EINVAL (unknown shell). */
int osh_cli_completions(FILE *fp, const char *shell) OSH_MUST_CHECK;

/* The last sandbox name used (state file `last-sandbox` under
 * $XDG_STATE_HOME/openshell, else $HOME/.local/state/openshell). read: 0
 * and the name in buf, or OSH_ENOTFOUND. write: best effort (creates the
 * directory, mode 0700), returns 0 or an error the caller may ignore. */
int osh_cli_last_read(char *buf, size_t cap) OSH_MUST_CHECK;
int osh_cli_last_write(const char *name);

/* --since value: a duration "<N>ms|s|m|h|d" back from now_ms (a bare N is
 * seconds, as everywhere), RFC 3339 ("2026-12-06T06:25:46Z", fraction and
 * offset allowed), or exactly the "<secs>.<ms>" the CLI prints. Returns 0
 * and *out (ms since the epoch), or OSH_EINVAL. */
int osh_cli_parse_since(const char *s, int64_t now_ms, int64_t *out) OSH_MUST_CHECK;

/* Help text for a topic ("", "gateway", "gateway start", "config", "config get",
 * "config set", "sandbox", "sandbox create", "sandbox list", "sandbox delete",
 * "sandbox logs"); unknown topics print the top level. */
void osh_cli_help(FILE *fp, const char *topic);

/* One log line as `openshell sandbox logs` prints it, without newline:
 * `[<secs>.<ms>] [<source>] [<LEVEL>] [<target>] <message>[ k=v...]`, source
 * right-aligned to 7 ("gateway" when empty), level left-aligned to 5, fields
 * sorted by key. With color, ANSI colours mark level (by rank, so OCSF lines
 * take their [SEV] colour) and source. Returns the length it needed; output is
 * truncated (always NUL-terminated) when cap is smaller. */
struct osh_cli_line {
	int64_t timestamp_ms;
	const char *source;
	const char *level;
	const char *target;
	const char *message;
	const char *const *keys; /* n_fields, any order */
	const char *const *values;
	size_t n_fields;
	enum osh_cli_ts ts; /* how [<time>] is written (epoch = [<secs>.<ms>]) */
};
size_t osh_cli_format_line(const struct osh_cli_line *l, bool color, char *buf, size_t cap);

/* Writes s as a JSON string literal (quotes included): ", \ and C0 escaped,
 * other escapes of the log format kept as text, ill-formed UTF-8 as U+FFFD,
 * so the output always parses. NULL writes "". */
void osh_cli_json_str(FILE *fp, const char *s);

/* Run a parsed command; output to out, diagnostics to err. Returns the exit
 * code (enum osh_cli_exit). For OSH_CLI_GATEWAY_START it execs the gateway
 * found next to self_exe (the path of this program) and only returns on
 * failure. For --follow it returns when the stream ends, the gateway goes
 * away, or *stop becomes non-zero (SIGINT; may be NULL). */
int osh_cli_run(const struct osh_cli_args *a, const char *self_exe, FILE *out, FILE *err,
		volatile sig_atomic_t *stop);

/* Whole program: parse (with getenv/clock), run, return the exit code. */
int osh_cli_main(int argc, char **argv);

/* The gateway address to use when none was given (see
 * OSH_CLI_DEFAULT_GATEWAY), into buf. Reads at most two small files. */
void osh_cli_discover_gateway(char *buf, size_t cap);

#endif
