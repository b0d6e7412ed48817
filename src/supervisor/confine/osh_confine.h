/* osh_confine.h - confinement of the sandboxed command: run-as user,
 * Landlock filesystem policy, seccomp filter, unsafe-policy checks.
 *
 * DESIGN
 * The supervisor is multi-threaded, so everything that allocates, resolves
 * names, opens files or talks to libseccomp happens in the parent before the
 * fork (osh_confine_prepare): the user and groups are resolved (the default
 * sandbox user is created with useradd when absent), missing read-write
 * directories are created and given to that user (existing paths are never
 * re-owned), a Landlock ruleset is built from O_PATH descriptors, and the
 * seccomp program is compiled by libseccomp and exported as raw BPF. The
 * forked child then only makes async-signal-safe system calls on that
 * prepared data (osh_confine_child): setgroups/setresgid/setresuid (and a
 * check that setuid(0) now fails), no_new_privs, landlock_restrict_self,
 * seccomp(SET_MODE_FILTER). no_new_privs comes before Landlock because an
 * unprivileged task may only restrict itself with it set.
 *
 * Every decision the preparation takes is reported through a note callback
 * (the same pattern as sup_proc.h): this layer knows nothing of OCSF; the
 * subsystem turns notes into events (confine_sites.c) and tests assert on
 * the notes directly. A step that cannot be honoured is either fatal (hard
 * requirement, seccomp, user switch) or reported as a note of kind
 * OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE/_WEAK (best effort); nothing is ever
 * reported as applied unless the child applies it before exec (and every
 * child step is fatal, so an exec that happened means all of them held).
 *
 * Ownership: a struct osh_confine is owned by the caller of
 * osh_confine_prepare and freed with osh_confine_free; it holds the Landlock
 * ruleset fd (close-on-exec) and the BPF program. Notes and their strings
 * are borrowed for the duration of the callback.
 */
#ifndef OSH_CONFINE_H
#define OSH_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"
#include "sandbox.pb-c.h"

/* The user the command runs as when the policy names none (created with
 * useradd --system when absent and the supervisor is root). */
#define OSH_CONFINE_DEFAULT_USER "openshell-sandbox"

/* Upper bounds (the policy validator already caps paths at 256). */
#define OSH_CONFINE_MAX_PATHS  320
#define OSH_CONFINE_MAX_GROUPS 64

/* Landlock access rights by ABI; Debian 12's <linux/landlock.h> stops at
 * ABI 2, so every right is spelled here. */
#define OSH_LL_FS_EXECUTE	   (1ULL << 0)
#define OSH_LL_FS_WRITE_FILE	   (1ULL << 1)
#define OSH_LL_FS_READ_FILE	   (1ULL << 2)
#define OSH_LL_FS_READ_DIR	   (1ULL << 3)
#define OSH_LL_FS_REMOVE_DIR	   (1ULL << 4)
#define OSH_LL_FS_REMOVE_FILE	   (1ULL << 5)
#define OSH_LL_FS_MAKE_CHAR	   (1ULL << 6)
#define OSH_LL_FS_MAKE_DIR	   (1ULL << 7)
#define OSH_LL_FS_MAKE_REG	   (1ULL << 8)
#define OSH_LL_FS_MAKE_SOCK	   (1ULL << 9)
#define OSH_LL_FS_MAKE_FIFO	   (1ULL << 10)
#define OSH_LL_FS_MAKE_BLOCK	   (1ULL << 11)
#define OSH_LL_FS_MAKE_SYM	   (1ULL << 12)
#define OSH_LL_FS_REFER		   (1ULL << 13) /* ABI 2 */
#define OSH_LL_FS_TRUNCATE	   (1ULL << 14) /* ABI 3 */
#define OSH_LL_FS_IOCTL_DEV	   (1ULL << 15) /* ABI 5 */
#define OSH_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)	/* ABI 6 */
#define OSH_LL_SCOPE_SIGNAL	   (1ULL << 1)	/* ABI 6 */

/* Every filesystem right a kernel of Landlock ABI `abi` handles (0 for 0). */
uint64_t osh_confine_ll_fs_rights(int abi);

/* Probe the running kernel's Landlock ABI: >= 1, or 0 when Landlock is not
 * built in or disabled at boot. */
int osh_confine_landlock_abi(void);

/* Lexically normalise an absolute path into out: collapse "//", drop "."
 * components and a trailing "/" ("/" stays "/"). ".." is kept (the policy
 * validator refuses it). Returns 0, OSH_EINVAL (not absolute) or
 * OSH_ETOOBIG. */
OSH_MUST_CHECK int osh_confine_path_norm(const char *in, char *out, size_t cap);

/* ------------------------------------------------------------ unsafe policy */

/* One reason a policy is unsafe. field names where ("process.run_as_user",
 * "filesystem.read_write[2]"), reason says what and why, both NUL-terminated. */
struct osh_confine_issue {
	char field[64];
	char reason[256];
};

#define OSH_CONFINE_MAX_ISSUES 16

/* Check a policy for settings that weaken the sandbox: writes granted to a
 * sensitive system path (/, /etc, /usr, /bin, /sbin, /lib*, /boot, /root,
 * /proc, /sys, /dev except the harmless devices, /run, /var, /var/lib,
 * /var/log, /var/run ...; the path, anything below it, or an ancestor of
 * it), a run-as user or group that is root (by name or id 0), a workdir
 * included as read-write that is itself sensitive. p NULL = the restrictive
 * default (never unsafe); workdir may be NULL. Fills up to max issues and
 * returns how many were found (possibly more than max; only max filled).
 * Pure function of its inputs plus getpwnam_r/getgrnam_r lookups.
 * Thread-safe. */
size_t osh_confine_unsafe_check(const Openshell__V1__SandboxPolicy *p, const char *workdir,
				struct osh_confine_issue *out, size_t max);

/* Is `path` (absolute, normalised) sensitive for writing? Exposed for
 * tests and for the docs table. */
bool osh_confine_path_sensitive(const char *path);

/* ------------------------------------------------------------------ notes */

enum osh_confine_note_kind {
	OSH_CONFINE_NOTE_USER_CREATED,	       /* useradd made `user` (uid, gid)              */
	OSH_CONFINE_NOTE_DIR_CREATED,	       /* `path` created, owned by uid:gid             */
	OSH_CONFINE_NOTE_PATH_SKIPPED,	       /* best effort: `path` not usable (err_no)      */
	OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE, /* best effort: no Landlock (`detail`)          */
	OSH_CONFINE_NOTE_LANDLOCK_WEAK,	       /* ABI lacks rights in `detail`                 */
};

struct osh_confine_note {
	enum osh_confine_note_kind kind;
	const char *user;   /* USER_CREATED                                  */
	const char *path;   /* DIR_CREATED, PATH_SKIPPED                     */
	const char *detail; /* human text: why / which rights are missing    */
	uid_t uid;
	gid_t gid;
	int err_no; /* PATH_SKIPPED, LANDLOCK_UNAVAILABLE            */
	int abi;    /* LANDLOCK_*                                     */
	bool rw;    /* PATH_SKIPPED: was a read-write path           */
};

typedef void (*osh_confine_note_fn)(void *ud, const struct osh_confine_note *note);

/* --------------------------------------------------------------- prepare */

struct osh_confine_opts {
	const Openshell__V1__SandboxPolicy *policy; /* NULL: restrictive default  */
	const char *workdir;			    /* --workdir; added read-write when the policy's
						       include_workdir (default true) holds; NULL: none */
	const char *default_user; /* NULL: OSH_CONFINE_DEFAULT_USER                */
	bool no_create_user;	  /* never run useradd (tests)                     */
	bool no_switch_ids;	  /* keep the supervisor's ids even as root (tests
				     of the other steps only)                        */
	int landlock_abi_cap;	  /* 0: use the kernel's; >0: use min(kernel, cap);
				     <0: behave as if Landlock were absent (tests)   */
	bool no_seccomp;	  /* tests of the other steps only                 */
	bool seccomp_notify;	  /* report denied calls: the filter hands them to the
				     supervisor (osh_confine_notify_run), which answers
				     EPERM; a plain EPERM filter when the kernel lacks
				     user notification                               */
	osh_confine_note_fn note; /* may be NULL                                   */
	void *note_ud;
};

/* What a prepared confinement will apply (read-only view for events). */
struct osh_confine_summary {
	bool switch_ids;	  /* the child changes uid/gid                     */
	const char *user, *group; /* names (valid while the osh_confine lives)     */
	uid_t uid;
	gid_t gid;
	int n_groups;		     /* supplementary groups set                      */
	bool landlock;		     /* a ruleset will be applied                     */
	bool landlock_hard;	     /* policy: hard_requirement                      */
	int landlock_abi;	     /* ABI used (0 when !landlock)                   */
	uint64_t handled_fs;	     /* rights handled by the ruleset                 */
	uint64_t scoped;	     /* ABI 6 scopes                                  */
	unsigned rules_ro, rules_rw; /* rules added                                */
	bool seccomp;		     /* a filter will be loaded                       */
	unsigned seccomp_rules;	     /* syscall rules in the filter                   */
	unsigned seccomp_insns;	     /* BPF instructions                              */
	bool seccomp_notify;	     /* denials go through osh_confine_notify_run     */
};

struct osh_confine;

/* Prepare the confinement described by o (see DESIGN). On success *out is
 * the prepared state (caller frees with osh_confine_free). On failure
 * returns OSH_ENOTFOUND (user/group does not exist), OSH_EPERM (the
 * supervisor is not root but the policy asks for another user; hard
 * requirement not met), OSH_ESYS (useradd, mkdir, libseccomp or a Landlock
 * call failed), OSH_ENOMEM, with a message naming the step and the path or
 * name in err. Runs useradd (fork+exec) when the default user is absent.
 * Thread-safe with respect to other threads (no global state but the
 * process credentials it reads). */
OSH_MUST_CHECK int osh_confine_prepare(const struct osh_confine_opts *o, struct osh_confine **out,
				       char *err, size_t errlen);

/* Summary of what c will apply (owned by c). */
const struct osh_confine_summary *osh_confine_summary(const struct osh_confine *c);

/* In the forked child, before execve: apply c. Async-signal-safe (raw
 * system calls only, no allocation). Returns 0, or an errno value with
 * *step naming the step that failed ("setgroups", "setgid", "setuid",
 * "verify-root-drop", "pdeathsig", "no_new_privs", "landlock", "seccomp",
 * "seccomp-listener").
 * The parent-death signal (cleared by the kernel on a credential change) is
 * set again to SIGKILL after the id switch. Never call it
 * in the supervisor itself: it is irreversible. */
int osh_confine_child(const struct osh_confine *c, const char **step);

/* One system call the filter refused (seccomp_notify). Strings borrowed
 * for the callback. */
struct osh_confine_denial {
	pid_t pid;	     /* the calling task (supervisor's pid namespace) */
	int nr;		     /* system call number (native ABI)              */
	const char *syscall; /* its name, or "syscall_<nr>"                  */
	const char *comm;    /* /proc/<pid>/comm, "" when gone               */
	uint64_t args[6];
};

typedef void (*osh_confine_denial_fn)(void *ud, const struct osh_confine_denial *d);

/* Serve the denied-call notifications of the processes confined by c
 * (built with seccomp_notify): every child hands over its listener
 * (osh_confine_child does, right after loading the filter; the command
 * first, then e.g. SSH sessions, up to 64 at once), and every notification
 * is answered with EPERM first and reported to fn second, until stop_fd
 * becomes readable or no task uses any of the filters any more (the
 * command, the sessions and all their descendants are gone). Blocking: run it on its own
 * thread, started before the command. Returns 0 (stopped or done) or
 * OSH_ESYS. A command that makes a denied call waits for this loop's
 * answer; once the loop has ended, denied calls fail with ENOSYS. */
OSH_MUST_CHECK int osh_confine_notify_run(const struct osh_confine *c, int stop_fd,
					  osh_confine_denial_fn fn, void *ud);

/* Name of system call nr of the native ABI into out ("syscall_<nr>" when
 * unknown). Thread-safe. */
void osh_confine_syscall_name(int nr, char *out, size_t cap);

/* Free (closes the ruleset fd). NULL ok. */
void osh_confine_free(struct osh_confine *c);

/* The seccomp deny list, for docs and events: names of the syscalls (with a
 * condition in brackets when only some calls are denied), NULL-terminated. */
extern const char *const osh_confine_seccomp_denied[];

#endif
