/* sandboxes.h - launching and watching local openshell-sandbox supervisors.
 *
 * DESIGN: the gateway runs gRPC threads, so a child is started with posix_spawn
 * (no fork of a threaded process). The supervisor gets its own session
 * (POSIX_SPAWN_SETSID): a Ctrl-C or SIGHUP aimed at the gateway's terminal does
 * not reach it, and it outlives a gateway restart (supervisors keep polling and
 * reconnect), which is why the config revision must survive restarts. Signal mask
 * and dispositions are reset and every descriptor above 2 is closed (a leaked
 * listening socket would keep the gateway's port bound after it exits), so the
 * child starts clean. stdin is /dev/null,
 * stdout/stderr go to files in the sandbox's directory.
 * After a restart the gateway can no longer waitpid() a supervisor it did not
 * start; osh_gw_pid_runs_sandbox() re-identifies it through /proc/<pid>/cmdline
 * (the pid alone could have been reused).
 * All functions are thread-safe (no shared state). */
#ifndef OSH_GW_SANDBOXES_H
#define OSH_GW_SANDBOXES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "osh_err.h"

struct osh_gw_spawn {
	const char *bin;	/* openshell-sandbox executable */
	const char *gateway;	/* address the supervisor connects to (unix:PATH) */
	const char *secret;	/* the sandbox credential (gw_auth_issue); NULL = none */
	const char *ssh_secret; /* NSSH1 preface secret (gw_ssh.h); NULL = no SSH */
	const char *id;
	const char *name;
	const char *log_dir;
	const char *out_path;	    /* supervisor stdout file (appended) */
	const char *err_path;	    /* supervisor stderr file (appended) */
	const char *const *command; /* agent argv */
	size_t n_command;
	const char *const *env; /* extra "NAME=VALUE" for the agent (--env) */
	size_t n_env;
	const char *secrets; /* "NAME=VALUE\n" lines or NULL: written to a pipe
				the supervisor inherits as fd 4, named by
				OPENSHELL_SECRETS_FD=4 in its environment (never
				argv); at most OSH_GW_SECRETS_MAX bytes */
	size_t secrets_len;
};

/* Largest secrets text: fits a pipe buffer, so writing it never blocks. */
#define OSH_GW_SECRETS_MAX 61440 /* 60 KiB */

/* Starts the supervisor; *pid is its pid. Arguments:
 *   BIN --bootstrap-fd 3 --sandbox-id ID --sandbox-name NAME --log-dir DIR
 *       [--env NAME=VALUE]... -- COMMAND...
 * with fd 3 a pipe holding "gateway=G\ncredential=SECRET\n[ssh=SECRET\n]" (then EOF), and,
 * with secrets, fd 4 the read end of a pipe holding them (named by
 * OPENSHELL_SECRETS_FD=4 in its environment); both written and closed
 * before the spawn returns.
 * Returns 0, OSH_ENOTFOUND (bin missing or not executable), OSH_ESYS (spawn
 * failed), OSH_ENOMEM; err says why. */
OSH_MUST_CHECK int osh_gw_spawn_sandbox(const struct osh_gw_spawn *sp, pid_t *pid, char *err,
					size_t errlen);

/* True when pid is alive and its command line carries "--sandbox-id" `id`. */
bool osh_gw_pid_runs_sandbox(pid_t pid, const char *id);

/* Directory of the running executable (/proc/self/exe), into buf. */
OSH_MUST_CHECK int osh_gw_exe_dir(char *buf, size_t cap);

/* mkdir -p with `mode` for created components. 0 or OSH_ESYS (errno kept). */
OSH_MUST_CHECK int osh_gw_mkdirs(const char *path, unsigned mode);

/* Creates <sandboxes_dir>/<name> (and its logs/ when `logs`) and its
 * supervisor.stdout/.stderr relative to the open sandboxes directory
 * (mkdirat/openat with O_NOFOLLOW), so a symlink planted at any of those names
 * (F18: by an agent, which runs with the gateway's uid) is refused instead of
 * followed out of the data dir. Existing real directories and files are
 * reused. 0, OSH_EPERM (a symlink or non-directory in the way) or OSH_ESYS,
 * with err naming the path. */
OSH_MUST_CHECK int osh_gw_sandbox_dirs(const char *sandboxes_dir, const char *name, bool logs,
				       char *err, size_t errlen);

/* A random RFC 4122 version-4 UUID, lower-case, 36 chars + NUL. */
OSH_MUST_CHECK int osh_gw_uuid(char out[37]);

/* Sandbox names are path components: 1-63 of [A-Za-z0-9._-], not starting with
 * '.' or '-'. Returns true, or false with the reason in err. */
bool osh_gw_name_valid(const char *name, char *err, size_t errlen);

/* A ListSandboxes page_token from a client: "" (first page, *after = 0) or
 * the decimal creation key this gateway issued: 1-18 digits, no leading zero,
 * no sign or blank. Returns 0 with *after set, or OSH_EINVAL (*after = 0).
 * Pure; thread-safe. */
OSH_MUST_CHECK int osh_gw_page_token_parse(const char *token, int64_t *after);

/* True when m or any message nested in it (singular, repeated, map entries,
 * the set member of a oneof) carries unknown fields, which protobuf-c keeps
 * and packs back as they came (protobuf-c 1.4 can pack bytes it then
 * refuses to unpack). where gets the path of the first one, e.g.
 * "SandboxPolicy.network_policies[0].value: field number 0 (wire type 0)". Pure;
 * thread-safe. */
bool osh_gw_msg_unknown_field(const ProtobufCMessage *m, char *where, size_t wlen);

/* The log directory a CreateSandbox request may ask for: req (non-empty)
 * must be absolute, without '.' or '..' components, and resolve (deepest
 * existing ancestor canonicalised with realpath, so symlinks are followed)
 * to <sandboxes_dir>/<name> or below. On success out holds the resolved path
 * and 0 is returned; else OSH_EINVAL with err naming the rule (or OSH_ESYS
 * when sandboxes_dir cannot be resolved). name must be a valid sandbox
 * name. Thread-safe (reads the file system; the check is as of the call). */
OSH_MUST_CHECK int osh_gw_log_dir_resolve(const char *sandboxes_dir, const char *name,
					  const char *req, char *out, size_t cap, char *err,
					  size_t errlen);

#endif
