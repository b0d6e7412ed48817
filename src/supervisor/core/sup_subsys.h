/* sup_subsys.h - how a supervisor subsystem plugs into openshell-sandbox.
 *
 * DESIGN
 * Every enforcement or service part of the supervisor (log push, network
 * namespace, proxy, confinement, SSH, ...) is a subsystem: a folder under
 * src/supervisor/ with its own library, its own log sites (*_sites.c, rows in
 * schema/sites.yaml) and one `const struct osh_sup_subsys` that sup_run.c
 * lists in its table. Adding a subsystem is one table row; sup_run.c never
 * learns a subsystem's internals, and subsystems never read each other's
 * structs: what they share goes through the host (below) or the policy store.
 *
 * Life cycle, driven by sup_run.c in table order (stop/fini in reverse):
 *   init        before the command launches: read args and the policy store,
 *               prepare (bind listeners, create namespaces, build filters),
 *               add child environment variables, publish host fields. May set
 *               *state = NULL: the subsystem is inactive for this run and none
 *               of its other hooks is called. A non-zero return is fatal
 *               (start-up fails with an event naming the subsystem).
 *   start       after every init: start threads. Non-zero is fatal.
 *   child_setup in the forked child, after the process group and signal reset,
 *               before execve; table order gives the set-up order (namespaces,
 *               then ids, Landlock, seccomp). Only async-signal-safe system
 *               calls on data prepared in init/start: no malloc, no locks, no
 *               stdio, no logging. Returns 0 or an errno and points *step at a
 *               static string naming the step; the supervisor reports it
 *               (PROC_LAUNCH_FAILED with the step) and exits 125.
 *               A subsystem with `confines` set is part of the sandbox's
 *               confinement plan: its child_setup also runs (through
 *               host->sandbox_setup) in every other process the supervisor
 *               starts inside the sandbox (SSH sessions), so it must be
 *               repeatable on the same prepared data.
 *   on_child    the command runs with this pid.
 *   on_policy   the policy store holds a new generation: re-read it with
 *               osh_policy_store_get(host->policy); keep the last good one if
 *               it cannot be applied (and say so with an event).
 *   stop        stop threads and tear down (every exit path; idempotent).
 *   fini        free the state.
 * Every hook but init may be NULL.
 */
#ifndef OSH_SUP_SUBSYS_H
#define OSH_SUP_SUBSYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"
#include "osh_policy_store.h"
#include "sup_args.h"

/* Longest value of a host string field (bytes incl. NUL). */
#define OSH_SUP_HOST_STR 64

/* What the supervisor shares with its subsystems. Owned by sup_run.c; lives
 * for the whole run. Subsystems read args/policy/ids and write only the
 * fields documented as theirs, during their init. */
struct osh_sup_host {
	const struct osh_sup_args *args; /* parsed arguments (read-only)      */
	struct osh_policy_store *policy; /* the current policy (thread-safe)  */
	const char *sandbox_id;		 /* "" when standalone                */
	const char *sandbox_name;	 /* "" when unnamed                   */
	const char *log_dir;		 /* directory of openshell.log        */

	/* Network: the sandbox's namespace and proxy. Written by the net
	 * subsystem (host side IP of the veth; "" = no namespace) and by the
	 * proxy (its listening port; 0 = no proxy), in that table order. */
	char net_host_ip[OSH_SUP_HOST_STR];
	char net_sandbox_ip[OSH_SUP_HOST_STR];
	uint16_t proxy_port;

	/* Credentials the command only sees as placeholders
	 * (openshell:resolve:env:NAME; osh_secret.h). Written by the confine
	 * subsystem in its init (NULL: none), immutable afterwards until its
	 * fini. Read it when a request arrives (osh_secret_substitute), not in
	 * init: the reader's row may come first in the table. */
	const struct osh_secret_store *secrets;

	/* The log push client (src/supervisor/push/sup_push.h) when the
	 * supervisor reports to a gateway, else NULL. Written by the push
	 * subsystem in its init (first row), used by later rows (agentlog
	 * pushes the command's output through it); valid until push's fini,
	 * which runs after theirs stop. */
	struct osh_sup_push *push;

	/* Processes started inside the sandbox besides the command (SSH
	 * sessions). Written by sup_run.c before any init: sandbox_setup runs,
	 * in a forked child, the child_setup hooks of the started subsystems
	 * flagged `confines` (net, confine) in table order: the agent's own
	 * plan, never a second confinement. Async-signal-safe. envp is the
	 * supervisor's environment (see osh_sup_host_child_env). */
	int (*sandbox_setup)(void *ud, const char **step);
	void *sandbox_ud;
	char *const *envp;

	/* Private to sup_host.c. */
	char **env_extra;
	int n_env_extra;
};

struct osh_secret_store; /* src/supervisor/confine/osh_secret.h */
struct osh_sup_push;	 /* src/supervisor/push/sup_push.h */

struct osh_sup_subsys {
	const char *name; /* "push", "net", "proxy", "confine", ... */
	int (*init)(struct osh_sup_host *host, void **state);
	int (*start)(void *state);
	int (*child_setup)(void *state, const char **step);
	void (*on_child)(void *state, pid_t pid);
	void (*on_policy)(void *state, uint64_t generation);
	void (*stop)(void *state);
	void (*fini)(void *state);
	bool confines; /* child_setup is part of the sandbox plan (see above) */
};

/* Adds NAME=VALUE to the command's environment (overriding the inherited
 * value and earlier calls for NAME). Copies both. For init hooks. Returns 0,
 * OSH_EINVAL (empty name or a name with '=') or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_sup_host_setenv(struct osh_sup_host *host, const char *name,
				       const char *value);

/* The command's environment as the supervisor builds it (the allow-list,
 * --pass-env, --env and every subsystem's osh_sup_host_setenv, sandbox id
 * and name; sup_proc.h osh_sup_env_build). Call after the inits and starts
 * that add variables. *out: heap, freed with osh_sup_env_free. Returns 0 or
 * OSH_ENOMEM. */
OSH_MUST_CHECK int osh_sup_host_child_env(const struct osh_sup_host *host, char ***out);

/* Frees what osh_sup_host_setenv allocated. */
void osh_sup_host_fini(struct osh_sup_host *host);

#endif
