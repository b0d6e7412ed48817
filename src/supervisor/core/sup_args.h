/* sup_args.h - command line and environment of openshell-sandbox.
 *
 * DESIGN
 * A small hand-written parser instead of getopt_long: getopt keeps global
 * state, permutes argv and cannot say "flag X takes a duration" in its error
 * messages. Every option has an environment twin (OPENSHELL_*); a flag wins
 * over its variable. The parsed result is one plain struct owned by the
 * caller; strings point into argv/envp (borrowed) except the env lists which
 * are heap arrays of borrowed pointers.
 */
#ifndef OSH_SUP_ARGS_H
#define OSH_SUP_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

/* Defaults (milliseconds). */
#define OSH_SUP_DEFAULT_POLL_MS		10000
#define OSH_SUP_DEFAULT_GRACE_MS	5000
#define OSH_SUP_MIN_POLL_MS		10
#define OSH_SUP_DEFAULT_LOG_DIR		"/var/log"
#define OSH_SUP_DEFAULT_DENIAL_FLUSH_MS 10000

struct osh_sup_args {
	const char *gateway;	  /* HOST:PORT, unix:PATH or NULL (standalone) */
	const char *bootstrap_fd; /* --bootstrap-fd N as given, or NULL    */
	const char *credential;	  /* sandbox credential from the bootstrap, or NULL */
	const char *ssh_secret;	  /* NSSH1 preface secret from the bootstrap, or NULL */
	char *boot_buf;		  /* owned: the bootstrap text (gateway/credential point in) */
	const char *sandbox_id;	  /* required with gateway                */
	const char *sandbox_name; /* optional                              */
	const char *log_dir;	  /* default OSH_SUP_DEFAULT_LOG_DIR      */
	const char *policy_file;  /* optional local YAML policy           */
	const char *workdir;	  /* optional cwd of the child            */
	const char *l7_ca;	  /* --l7-upstream-ca: origins' CAs (L7)  */
	int64_t poll_ms;	  /* config poll interval                 */
	int64_t timeout_ms;	  /* 0 = no timeout                       */
	int64_t grace_ms;	  /* SIGTERM -> SIGKILL grace             */
	int64_t heartbeat_ms;	  /* 0 = no heartbeat event               */
	int64_t denial_flush_ms;  /* denial aggregation round (gateway mode) */
	bool help;		  /* --help given: print usage, exit 0    */
	bool version;		  /* --version given                      */
	char **command;		  /* argv after "--" (borrowed, NULL-term) */
	int n_command;
	/* --env NAME=VALUE (repeatable) and --pass-env NAME (repeatable):
	 * heap arrays of borrowed strings, freed by osh_sup_args_fini(). */
	const char **extra_env;
	int n_extra_env;
	const char **pass_env;
	int n_pass_env;

	/* --inference-routes FILE: the inference.local routes (docs/l7.md) */
	const char *inference_routes;
};

/* Parse argv (argv[0] is the program) with envp (NULL-terminated
 * "NAME=VALUE" list, may be NULL) supplying OPENSHELL_* defaults.
 * On error returns OSH_EINVAL/OSH_EPARSE (a duration that overflows is
 * OSH_EPARSE, "<flag>: duration '...' out of range") or OSH_ENOMEM and
 * writes a one-line message naming the bad flag or variable into err
 * (always NUL-terminated).
 * `a` must be osh_sup_args_fini()'d whether or not this succeeds.
 * Strings in `a` borrow from argv/envp, which must outlive `a`. */
OSH_MUST_CHECK int osh_sup_args_parse(struct osh_sup_args *a, int argc, char **argv,
				      char *const *envp, char *err, size_t errlen);

/* Free the heap lists inside `a`; safe on a zeroed or partly parsed struct. */
void osh_sup_args_fini(struct osh_sup_args *a);

/* Write the usage text to `fp` (a FILE *, void to keep stdio out of users). */
void osh_sup_args_usage(void *fp, const char *prog);

/* Look NAME up in a NULL-terminated envp list; NULL when absent. */
const char *osh_sup_env_lookup(char *const *envp, const char *name);

#endif
