/* sup_proc.h - the sandboxed command: environment, spawn, wait, timeout, signals.
 *
 * DESIGN
 * The supervisor is multi-threaded (gRPC, writer, poll and push threads), so
 * the child is started with fork and an immediate exec (only async-signal-safe
 * system calls in between) in its own process group, with every signal reset
 * to default, an empty signal mask and PR_SET_PDEATHSIG = SIGKILL, so the
 * command cannot outlive a supervisor that is killed outright. The supervisor blocks SIGCHLD,
 * SIGTERM, SIGINT and SIGHUP in every thread (osh_sup_signals_block() must run
 * before the first thread starts) and the main thread takes them
 * synchronously with sigtimedwait(), so there is no async-signal handler and
 * no race between "child exited" and "deadline passed". The supervisor makes
 * itself a child subreaper, so orphaned descendants are reaped too.
 *
 * What happens is reported through a callback carrying a struct
 * osh_sup_proc_note: the process layer knows nothing of OCSF, the caller turns
 * notes into events (and tests assert on them directly).
 */
#ifndef OSH_SUP_PROC_H
#define OSH_SUP_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"

/* Exit codes of openshell-sandbox besides the child's own. */
#define OSH_SUP_EXIT_TIMEOUT  124
#define OSH_SUP_EXIT_INTERNAL 125
#define OSH_SUP_EXIT_NOEXEC   126
#define OSH_SUP_EXIT_NOTFOUND 127

/* Variables copied from the supervisor's environment to the child when set. */
extern const char *const osh_sup_env_allow[];

/* Build the child's environment: the allow-list above, then each name in
 * pass (copied when set in envp), then each NAME=VALUE in extra (overriding),
 * then OPENSHELL_SANDBOX_ID / OPENSHELL_SANDBOX_NAME when non-NULL, and PATH
 * defaulting to /usr/local/bin:/usr/bin:/bin when still absent.
 * On success *out is a heap NULL-terminated array of heap strings, freed with
 * osh_sup_env_free(). Returns 0 or OSH_ENOMEM. Thread-safe. */
OSH_MUST_CHECK int osh_sup_env_build(char *const *envp, const char *const *pass, int n_pass,
				     const char *const *extra, int n_extra, const char *sandbox_id,
				     const char *sandbox_name, char ***out);
void osh_sup_env_free(char **env);

/* Find `cmd` on `path` (a PATH value) when it contains no '/'. On success
 * writes the executable's path into out (NUL-terminated). Returns 0,
 * OSH_ENOTFOUND (no such file) or OSH_EPERM (found but not executable). */
OSH_MUST_CHECK int osh_sup_resolve(const char *cmd, const char *path, char *out, size_t cap);

/* Kinds of notes the process layer reports. */
enum osh_sup_note_kind {
	OSH_SUP_NOTE_LAUNCH,	  /* child spawned: pid, name, cmd_line          */
	OSH_SUP_NOTE_LAUNCH_FAIL, /* spawn failed: name, cmd_line, err_no        */
	OSH_SUP_NOTE_EXIT,	  /* child exited: exit_code (128+sig), signal   */
	OSH_SUP_NOTE_TIMEOUT,	  /* --timeout passed: SIGTERM sent              */
	OSH_SUP_NOTE_SIGNAL,	  /* supervisor got `signal`, forwarded it       */
	OSH_SUP_NOTE_KILL,	  /* grace passed: SIGKILL sent to the group     */
	OSH_SUP_NOTE_KILL_FAIL,	  /* kill() failed: signal, err_no               */
	OSH_SUP_NOTE_TICK,	  /* heartbeat interval passed                   */
	OSH_SUP_NOTE_HUP,	  /* SIGHUP(s) received: reopen the logs (hups)  */
};

struct osh_sup_proc_note {
	enum osh_sup_note_kind kind;
	pid_t pid;	      /* child pid (0 before launch)              */
	const char *name;     /* basename of the executable               */
	const char *path;     /* resolved executable path                 */
	const char *cmd_line; /* argv joined with spaces                  */
	int exit_code;	      /* EXIT: code or 128+signal                 */
	int signal;	      /* EXIT: terminating signal or 0; SIGNAL/KILL_FAIL: the signal */
	int err_no;	      /* LAUNCH_FAIL / KILL_FAIL                  */
	const char *step;     /* LAUNCH_FAIL: the set-up step that failed
				 ("exec" when execve itself failed)       */
	bool timed_out;	      /* EXIT after a timeout                     */
	int64_t runtime_ms;   /* EXIT: wall time since launch             */
	unsigned hups;	      /* HUP: signals coalesced into this note (>= 1) */
};

/* SIGHUP notes are coalesced: the first after a quiet period is reported at
 * once, the rest at most once per this many ms (one log reopen, one line),
 * so a SIGHUP storm (the agent can send them) cannot flood the logs. */
#define OSH_SUP_HUP_MIN_MS 1000

typedef void (*osh_sup_note_fn)(void *ud, const struct osh_sup_proc_note *note);

/* Runs in the forked child before execve (after the process group, death
 * signal, signal reset and workdir): only async-signal-safe system calls.
 * Returns 0 or an errno and points *step at a static name of what failed. */
typedef int (*osh_sup_child_fn)(void *ud, const char **step);

struct osh_sup_proc_opts {
	char *const *argv;    /* command, NULL-terminated (borrowed)      */
	char *const *env;     /* child's environment (borrowed)           */
	const char *workdir;  /* NULL: inherit                            */
	int64_t timeout_ms;   /* 0: none                                  */
	int64_t grace_ms;     /* SIGTERM -> SIGKILL                       */
	int64_t tick_ms;      /* 0: no TICK notes                         */
	osh_sup_note_fn note; /* may be NULL                              */
	void *note_ud;
	osh_sup_child_fn child_setup; /* may be NULL                      */
	void *child_ud;
};

/* Block SIGCHLD, SIGTERM, SIGINT, SIGHUP and ignore SIGPIPE in the calling
 * thread; threads created afterwards inherit the mask. Call first in main().
 * Also makes the process a child subreaper. Returns 0 or OSH_ESYS. */
OSH_MUST_CHECK int osh_sup_signals_block(void);

/* Run the command to completion: spawn, then wait for its exit while
 * handling the timeout, forwarding SIGTERM/SIGINT to the child's process
 * group (then SIGKILL after the grace period), reaping every other child,
 * and reporting notes. After the command exits, the rest of its process
 * group gets SIGTERM and, after the grace period, SIGKILL.
 * Returns the supervisor's exit status: the child's code (or 128+signal),
 * OSH_SUP_EXIT_TIMEOUT, OSH_SUP_EXIT_NOTFOUND/NOEXEC when the command cannot
 * be started, OSH_SUP_EXIT_INTERNAL on a system failure.
 * Must be called from the thread that called osh_sup_signals_block(); the
 * signals must be blocked in every other thread. Blocks until done. */
int osh_sup_proc_run(const struct osh_sup_proc_opts *o);

/* Join argv with single spaces into a heap string (NULL on ENOMEM). */
char *osh_sup_cmdline(char *const *argv);

#endif
