/* sup_args.c - parse openshell-sandbox's flags and OPENSHELL_* variables.
 *
 * DESIGN
 * One table lists every option once: its flag, its environment twin, its
 * kind (string, duration, list, boolean) and where the value goes. The
 * environment is applied first, then the flags, so a flag always wins and
 * the error message can name whichever source was wrong. Everything after
 * "--" is the command, taken verbatim.
 */
#include "sup_args.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_parse.h"

enum opt_kind { K_STR, K_DUR, K_LIST, K_BOOL };

struct opt {
	const char *flag; /* long flag without the leading "--"     */
	const char *env;  /* environment twin or NULL                 */
	const char *help; /* one line for --help                      */
	size_t off;	  /* offsetof in struct osh_sup_args          */
	size_t count_off; /* K_LIST: offset of the count              */
	enum opt_kind kind;
	char short_flag; /* 0 when none                              */
};

#define OFF(m) offsetof(struct osh_sup_args, m)

static const struct opt opts[] = {
    {"gateway", "OPENSHELL_GATEWAY",
     "HOST:PORT or unix:PATH of openshell-gateway (absent: standalone mode)", OFF(gateway), 0,
     K_STR, 'g'},
    {"bootstrap-fd", NULL,
     "read gateway=ADDR and credential=SECRET lines from this fd, then close it "
     "(how the gateway hands them over: never in argv or the environment)",
     OFF(bootstrap_fd), 0, K_STR, 0},
    {"sandbox-id", "OPENSHELL_SANDBOX_ID", "sandbox id (required with --gateway)", OFF(sandbox_id),
     0, K_STR, 0},
    {"sandbox-name", "OPENSHELL_SANDBOX_NAME", "sandbox name (log context)", OFF(sandbox_name), 0,
     K_STR, 0},
    {"log-dir", "OPENSHELL_LOG_DIR",
     "directory of openshell.log / openshell-ocsf.log (default /var/log)", OFF(log_dir), 0, K_STR,
     0},
    {"policy", "OPENSHELL_POLICY_FILE", "local YAML policy, used when the gateway has none",
     OFF(policy_file), 0, K_STR, 0},
    {"inference-routes", "OPENSHELL_INFERENCE_ROUTES",
     "YAML routes for https://inference.local (model endpoints and their keys, held only by "
     "the supervisor; docs/l7.md)",
     OFF(inference_routes), 0, K_STR, 0},
    {"workdir", "OPENSHELL_WORKDIR", "working directory of the command", OFF(workdir), 0, K_STR,
     'w'},
    {"l7-upstream-ca", "OPENSHELL_L7_UPSTREAM_CA",
     "PEM file of CAs trusted for origins behind TLS-terminated endpoints (default: the system "
     "store)",
     OFF(l7_ca), 0, K_STR, 0},
    {"poll-interval", "OPENSHELL_POLL_INTERVAL", "config poll interval (default 10s)", OFF(poll_ms),
     0, K_DUR, 0},
    {"timeout", "OPENSHELL_TIMEOUT", "stop the command after this long, exit 124 (default: none)",
     OFF(timeout_ms), 0, K_DUR, 't'},
    {"kill-grace", "OPENSHELL_KILL_GRACE", "SIGTERM -> SIGKILL grace period (default 5s)",
     OFF(grace_ms), 0, K_DUR, 0},
    {"heartbeat", "OPENSHELL_HEARTBEAT",
     "emit a SUP_HEARTBEAT event at this interval (default: off)", OFF(heartbeat_ms), 0, K_DUR, 0},
    {"denial-flush-interval", "OPENSHELL_DENIAL_FLUSH_INTERVAL",
     "send aggregated denials and policy proposals to the gateway at this interval (default 10s)",
     OFF(denial_flush_ms), 0, K_DUR, 0},
    {"env", NULL, "NAME=VALUE added to the command's environment (repeatable)", OFF(extra_env),
     OFF(n_extra_env), K_LIST, 'e'},
    {"pass-env", NULL, "pass NAME from the supervisor's environment to the command (repeatable)",
     OFF(pass_env), OFF(n_pass_env), K_LIST, 0},
    {"help", NULL, "show this help", OFF(help), 0, K_BOOL, 'h'},
    {"version", NULL, "show the version", OFF(version), 0, K_BOOL, 0},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

const char *osh_sup_env_lookup(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static int list_push(struct osh_sup_args *a, const struct opt *o, const char *v)
{
	const char ***list = (const char ***)(void *)((char *)a + o->off);
	int *count = (int *)(void *)((char *)a + o->count_off);
	const char **grown = realloc(*list, sizeof(**list) * (size_t)(*count + 1));

	if (!grown)
		return OSH_ENOMEM;
	grown[*count] = v;
	*list = grown;
	(*count)++;
	return 0;
}

/* Store value `v` for option `o`; `src` names the origin for messages. */
static int apply(struct osh_sup_args *a, const struct opt *o, const char *v, const char *src,
		 char *err, size_t errlen)
{
	int rc = 0;
	char *base = (char *)a;

	switch (o->kind) {
	case K_STR:
		if (!*v) {
			snprintf(err, errlen, "%s: value must not be empty", src);
			rc = OSH_EINVAL;
			break;
		}
		*(const char **)(void *)(base + o->off) = v;
		break;
	case K_DUR:
		rc = osh_parse_duration_ms(v, (int64_t *)(void *)(base + o->off));
		if (rc == OSH_ETOOBIG) {
			/* The header promises EINVAL/EPARSE: an overflow is a
			 * parse error of this flag, named as such. */
			snprintf(err, errlen, "%s: duration '%s' out of range", src, v);
			rc = OSH_EPARSE;
		} else if (rc) {
			snprintf(err, errlen,
				 "%s: invalid duration '%s' (use e.g. 500ms, 2s, 5m, 1h)", src, v);
		}
		break;
	case K_LIST:
		rc = list_push(a, o, v);
		if (rc)
			snprintf(err, errlen, "%s: out of memory", src);
		break;
	case K_BOOL:
		*(bool *)(void *)(base + o->off) = true;
		break;
	}
	return rc;
}

static const struct opt *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
			return &opts[i];
	return NULL;
}

static const struct opt *find_short(char c)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].short_flag && opts[i].short_flag == c)
			return &opts[i];
	return NULL;
}

/* HOST:PORT with a decimal port 1..65535; HOST may be [v6]; or unix:/PATH. */
static bool valid_hostport(const char *s)
{
	char host[256];
	uint16_t port;

	if (strncmp(s, "unix:/", 6) == 0)
		return s[6] != '\0';
	return osh_parse_hostport(s, false, host, sizeof(host), &port) == 0;
}

/* --bootstrap-fd N: "gateway=ADDR\ncredential=HEX\n[ssh=HEX\n]" until EOF (at most
 * 4 KiB), then the fd is closed so the command never inherits it. */
static int read_bootstrap(struct osh_sup_args *a, char *err, size_t errlen)
{
	char *end = NULL, *line, *save = NULL;
	long fd;
	size_t used = 0;
	int rc = OSH_EINVAL;

	errno = 0;
	fd = strtol(a->bootstrap_fd, &end, 10);
	if (errno != 0 || *end != '\0' || end == a->bootstrap_fd || fd < 0 || fd > 65535) {
		snprintf(err, errlen, "--bootstrap-fd: '%s' is not a file descriptor",
			 a->bootstrap_fd);
		goto out;
	}
	if (a->gateway != NULL) {
		snprintf(err, errlen,
			 "--bootstrap-fd and --gateway/OPENSHELL_GATEWAY exclude each "
			 "other");
		goto out;
	}
	a->boot_buf = calloc(1, 4097);
	if (a->boot_buf == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read((int)fd, a->boot_buf + used, 4096 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "--bootstrap-fd %ld: %s", fd, strerror(errno));
			rc = OSH_EIO;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == 4096) {
			snprintf(err, errlen, "--bootstrap-fd %ld: more than 4096 bytes", fd);
			goto out;
		}
	}
	close((int)fd);
	for (line = strtok_r(a->boot_buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "gateway=", 8) == 0 && line[8] != '\0')
			a->gateway = line + 8;
		else if (strncmp(line, "credential=", 11) == 0 && line[11] != '\0')
			a->credential = line + 11;
		else if (strncmp(line, "ssh=", 4) == 0 && line[4] != '\0')
			a->ssh_secret = line + 4;
	}
	if (a->gateway == NULL) {
		snprintf(err, errlen, "--bootstrap-fd %ld: no gateway= line", fd);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

static int validate(struct osh_sup_args *a, char *err, size_t errlen)
{
	int rc = OSH_EINVAL;

	if (a->help || a->version) {
		rc = 0;
		goto out;
	}
	if (a->gateway && !valid_hostport(a->gateway)) {
		snprintf(err, errlen, "--gateway: '%s' is not HOST:PORT or unix:/PATH", a->gateway);
		goto out;
	}
	if (a->gateway && !a->sandbox_id) {
		snprintf(err, errlen,
			 "--sandbox-id (or OPENSHELL_SANDBOX_ID) is required with --gateway");
		goto out;
	}
	if (a->denial_flush_ms < OSH_SUP_MIN_POLL_MS) {
		snprintf(err, errlen, "--denial-flush-interval: must be at least %dms",
			 OSH_SUP_MIN_POLL_MS);
		goto out;
	}
	if (a->poll_ms < OSH_SUP_MIN_POLL_MS) {
		snprintf(err, errlen, "--poll-interval: must be at least %dms",
			 OSH_SUP_MIN_POLL_MS);
		goto out;
	}
	for (int i = 0; i < a->n_extra_env; i++) {
		const char *eq = strchr(a->extra_env[i], '=');

		if (!eq || eq == a->extra_env[i]) {
			snprintf(err, errlen, "--env: '%s' is not NAME=VALUE", a->extra_env[i]);
			goto out;
		}
	}
	if (a->n_command == 0) {
		snprintf(err, errlen,
			 "no command given (use: openshell-sandbox [flags] -- "
			 "COMMAND [ARGS...])");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

int osh_sup_args_parse(struct osh_sup_args *a, int argc, char **argv, char *const *envp, char *err,
		       size_t errlen)
{
	int rc = 0;
	int i;
	char src[96];

	memset(a, 0, sizeof(*a));
	if (errlen)
		err[0] = '\0';
	a->log_dir = OSH_SUP_DEFAULT_LOG_DIR;
	a->poll_ms = OSH_SUP_DEFAULT_POLL_MS;
	a->grace_ms = OSH_SUP_DEFAULT_GRACE_MS;
	a->denial_flush_ms = OSH_SUP_DEFAULT_DENIAL_FLUSH_MS;

	for (size_t k = 0; k < N_OPTS; k++) {
		const char *v = opts[k].env ? osh_sup_env_lookup(envp, opts[k].env) : NULL;

		if (!v)
			continue;
		snprintf(src, sizeof(src), "environment %s", opts[k].env);
		rc = apply(a, &opts[k], v, src, err, errlen);
		if (rc)
			goto out;
	}

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct opt *o = NULL;
		const char *val = NULL;

		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			/* First bare word starts the command (the "--" is optional
			 * when the command does not begin with '-'). */
			break;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);

			o = find_long(name, len);
			if (eq)
				val = eq + 1;
		} else if (arg[2] == '\0') {
			o = find_short(arg[1]);
		}
		if (!o) {
			snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
			rc = OSH_EINVAL;
			goto out;
		}
		snprintf(src, sizeof(src), "--%s", o->flag);
		if (o->kind == K_BOOL) {
			if (val) {
				snprintf(err, errlen, "%s takes no value", src);
				rc = OSH_EINVAL;
				goto out;
			}
			val = "1";
		} else if (!val) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s needs a value", src);
				rc = OSH_EINVAL;
				goto out;
			}
			val = argv[++i];
		}
		rc = apply(a, o, val, src, err, errlen);
		if (rc)
			goto out;
	}
	if (i < argc) {
		a->command = &argv[i];
		a->n_command = argc - i;
	}
	if (a->bootstrap_fd != NULL)
		rc = read_bootstrap(a, err, errlen);
	if (rc == 0)
		rc = validate(a, err, errlen);
out:
	return rc;
}

void osh_sup_args_fini(struct osh_sup_args *a)
{
	if (a->boot_buf != NULL)
		explicit_bzero(a->boot_buf, 4097);
	free(a->boot_buf);
	a->boot_buf = NULL;
	a->credential = NULL;
	a->ssh_secret = NULL;
	free(a->extra_env);
	free(a->pass_env);
	a->extra_env = NULL;
	a->pass_env = NULL;
	a->n_extra_env = 0;
	a->n_pass_env = 0;
}

void osh_sup_args_usage(void *fp, const char *prog)
{
	FILE *f = fp;

	fprintf(f, "usage: %s [flags] -- COMMAND [ARGS...]\n\nflags:\n", prog);
	for (size_t k = 0; k < N_OPTS; k++) {
		char left[64];

		if (opts[k].short_flag)
			snprintf(left, sizeof(left), "-%c, --%s", opts[k].short_flag, opts[k].flag);
		else
			snprintf(left, sizeof(left), "    --%s", opts[k].flag);
		fprintf(f, "  %-22s %s%s%s%s\n", left, opts[k].help, opts[k].env ? " [" : "",
			opts[k].env ? opts[k].env : "", opts[k].env ? "]" : "");
	}
	fprintf(f, "\nDurations: 500ms, 2s, 5m, 1h (a bare number is seconds).\n"
		   "Exit status: the command's; 124 on --timeout; 125 supervisor error;\n"
		   "126 command not executable; 127 command not found.\n");
}
