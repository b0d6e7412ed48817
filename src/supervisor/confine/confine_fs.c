/* confine_fs.c - the filesystem policy: effective path lists, read-write
 * directories, the Landlock ruleset.
 *
 * DESIGN
 * Effective lists = the policy's read_only / read_write (or the restrictive
 * default's when the policy has no filesystem section) + the baseline the
 * system needs (added only when the path exists) + the workdir as
 * read-write when include_workdir holds (the default). A path in both lists
 * is read-write. Read-write paths the policy names that do not exist are
 * created as directories, component by component; only components created
 * here are given to the sandbox user (fchownat without following links), so
 * an existing path is never re-owned.
 *
 * The ruleset handles every filesystem right the kernel's ABI knows
 * (refer from ABI 2, truncate from 3, ioctl on devices from 5) plus the ABI 6
 * scopes (abstract unix sockets, signals), so anything not granted is
 * denied. A read-only rule grants execute + read_file + read_dir, a
 * read-write rule every handled right; rules on non-directories are masked
 * to the rights that apply to files. The ruleset is built here from O_PATH
 * fds in the parent; the child only calls landlock_restrict_self on its fd.
 * best_effort: a path that cannot be opened is skipped (note); Landlock
 * missing means no ruleset (note LANDLOCK_UNAVAILABLE). hard_requirement:
 * both are errors.
 */
#include "confine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule	    445
#define SYS_landlock_restrict_self  446
#endif
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH	  1

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_FILE_RIGHTS                                                                             \
	(OSH_LL_FS_EXECUTE | OSH_LL_FS_WRITE_FILE | OSH_LL_FS_READ_FILE | OSH_LL_FS_TRUNCATE |     \
	 OSH_LL_FS_IOCTL_DEV)
#define LL_RO_RIGHTS (OSH_LL_FS_EXECUTE | OSH_LL_FS_READ_FILE | OSH_LL_FS_READ_DIR)

/* Baseline: read-only system paths and read-write scratch paths, each added
 * when it exists and the policy does not list it. */
static const char *const base_ro[] = {
    "/usr",	"/lib",	 "/lib64",	 "/bin",	"/sbin",     "/etc", "/app",
    "/var/log", "/proc", "/dev/urandom", "/dev/random", "/dev/zero", NULL};
static const char *const base_rw[] = {"/sandbox", "/tmp", "/dev/null", NULL};

uint64_t osh_confine_ll_fs_rights(int abi)
{
	uint64_t r = 0;

	if (abi >= 1)
		r = (OSH_LL_FS_MAKE_SYM << 1) - 1; /* execute .. make_sym */
	if (abi >= 2)
		r |= OSH_LL_FS_REFER;
	if (abi >= 3)
		r |= OSH_LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= OSH_LL_FS_IOCTL_DEV;
	return r;
}

int osh_confine_landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);

	return v > 0 ? (int)v : 0;
}

int osh_confine_path_norm(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	int rc = 0;
	const char *p = in;

	if (!in || in[0] != '/' || cap < 2) {
		rc = OSH_EINVAL;
		goto out;
	}
	out[o++] = '/';
	while (*p) {
		const char *s;
		size_t n;

		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (o > 1)
			out[o++] = '/';
		if (o + n + 1 > cap) {
			rc = OSH_ETOOBIG;
			goto out;
		}
		memcpy(out + o, s, n);
		o += n;
		if (o + 2 > cap) {
			rc = OSH_ETOOBIG;
			goto out;
		}
	}
	out[o] = '\0';
out:
	if (rc && cap)
		out[0] = '\0';
	return rc;
}

/* ------------------------------------------------------------ path lists */

struct fs_entry {
	char *path;
	bool rw;
	bool from_policy; /* listed by the policy (missing = create / error) */
};

struct fs_list {
	struct fs_entry e[OSH_CONFINE_MAX_PATHS];
	size_t n;
};

static void list_free(struct fs_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].path);
	l->n = 0;
}

/* Add (or upgrade to rw) a path. Returns 0 or an error. */
static int list_add(struct fs_list *l, const char *raw, bool rw, bool from_policy, char *err,
		    size_t errlen)
{
	char norm[4096];
	int rc = osh_confine_path_norm(raw, norm, sizeof(norm));

	if (rc) {
		rc =
		    osh_confine_fail(rc, err, errlen, "filesystem: path %.200s is not usable", raw);
		goto out;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->e[i].path, norm) == 0) {
			l->e[i].rw |= rw;
			l->e[i].from_policy |= from_policy;
			goto out;
		}
	}
	if (l->n >= OSH_CONFINE_MAX_PATHS) {
		rc = osh_confine_fail(OSH_ETOOBIG, err, errlen, "filesystem: more than %d paths",
				      OSH_CONFINE_MAX_PATHS);
		goto out;
	}
	l->e[l->n].path = strdup(norm);
	if (!l->e[l->n].path) {
		rc = osh_confine_fail(OSH_ENOMEM, err, errlen, "filesystem: out of memory");
		goto out;
	}
	l->e[l->n].rw = rw;
	l->e[l->n].from_policy = from_policy;
	l->n++;
out:
	return rc;
}

static int list_build(const struct osh_confine_opts *o, struct fs_list *l, bool *hard, char *err,
		      size_t errlen)
{
	const Openshell__V1__SandboxPolicy *p = o->policy;
	const Openshell__V1__FilesystemPolicy *fs = p ? p->filesystem : NULL;
	bool include_workdir = fs ? fs->include_workdir : true;
	int rc = 0;
	struct stat st;

	*hard = p && p->landlock && p->landlock->compatibility &&
		strcmp(p->landlock->compatibility, "hard_requirement") == 0;
	for (size_t i = 0; fs && i < fs->n_read_write && !rc; i++)
		rc = list_add(l, fs->read_write[i], true, true, err, errlen);
	for (size_t i = 0; fs && i < fs->n_read_only && !rc; i++)
		rc = list_add(l, fs->read_only[i], false, true, err, errlen);
	if (!rc && include_workdir && o->workdir)
		rc = list_add(l, o->workdir, true, true, err, errlen);
	for (size_t i = 0; base_rw[i] && !rc; i++)
		if (stat(base_rw[i], &st) == 0)
			rc = list_add(l, base_rw[i], true, false, err, errlen);
	for (size_t i = 0; base_ro[i] && !rc; i++) {
		bool listed = false;

		for (size_t j = 0; j < l->n && !listed; j++)
			listed = strcmp(l->e[j].path, base_ro[i]) == 0;
		/* never downgrade: list_add only upgrades, and ro adds nothing */
		if (!listed && stat(base_ro[i], &st) == 0)
			rc = list_add(l, base_ro[i], false, false, err, errlen);
	}
	return rc;
}

/* ------------------------------------------------------- rw directories */

/* mkdir -p `path`; components created here are chowned to uid:gid (when
 * chown) without following links. Reports each created component. */
static int make_dirs(const struct osh_confine_opts *o, const char *path, bool chown_it, uid_t uid,
		     gid_t gid, char *err, size_t errlen)
{
	char buf[4096];
	int rc = 0;
	size_t len = strlen(path);

	if (len >= sizeof(buf)) {
		rc = osh_confine_fail(OSH_ETOOBIG, err, errlen, "filesystem: path too long");
		goto out;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len && !rc; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) == 0) {
			struct osh_confine_note n = {.kind = OSH_CONFINE_NOTE_DIR_CREATED,
						     .path = buf,
						     .uid = chown_it ? uid : geteuid(),
						     .gid = chown_it ? gid : getegid(),
						     .rw = true};

			if (chown_it && fchownat(AT_FDCWD, buf, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
				rc = osh_confine_fail(OSH_ESYS, err, errlen,
						      "filesystem: chown %s: %s", buf,
						      strerror(errno));
			else
				osh_confine_report(o, &n);
		} else if (errno != EEXIST) {
			rc = osh_confine_fail(OSH_ESYS, err, errlen,
					      "filesystem: cannot create read-write directory %s: "
					      "%s",
					      buf, strerror(errno));
		}
		if (i < len)
			buf[i] = '/';
	}
out:
	return rc;
}

/* --------------------------------------------------------------- ruleset */

static void note_skip(const struct osh_confine_opts *o, const char *path, bool rw, int e,
		      const char *what)
{
	struct osh_confine_note n = {.kind = OSH_CONFINE_NOTE_PATH_SKIPPED,
				     .path = path,
				     .detail = what,
				     .err_no = e,
				     .rw = rw};

	osh_confine_report(o, &n);
}

static void note_weak(const struct osh_confine_opts *o, int abi)
{
	char detail[256] = "";
	size_t n = 0;
	struct osh_confine_note note = {.kind = OSH_CONFINE_NOTE_LANDLOCK_WEAK, .abi = abi};

	if (abi < 2)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n,
				      "%scross-directory rename/link always denied (ABI 2)",
				      n ? "; " : "");
	if (abi < 3)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n,
				      "%struncate of read-only files not restricted (ABI 3)",
				      n ? "; " : "");
	if (abi < 5)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n,
				      "%sioctl on devices not restricted (ABI 5)", n ? "; " : "");
	if (abi < 6)
		(void)snprintf(detail + n, sizeof(detail) - n,
			       "%sabstract unix sockets and signals not scoped (ABI 6)",
			       n ? "; " : "");
	note.detail = detail;
	osh_confine_report(o, &note);
}

static int add_rule(int rfd, const struct fs_entry *e, uint64_t handled, unsigned *ro, unsigned *rw,
		    int *e_no)
{
	int rc = OSH_ESYS;
	int fd = open(e->path, O_PATH | O_CLOEXEC);
	struct stat st;
	struct ll_path_beneath pb;

	*e_no = 0;
	if (fd < 0) {
		*e_no = errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		*e_no = errno;
		goto out;
	}
	pb.allowed_access = (e->rw ? handled : LL_RO_RIGHTS) & handled;
	if (!S_ISDIR(st.st_mode))
		pb.allowed_access &= LL_FILE_RIGHTS;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb, 0) != 0) {
		*e_no = errno;
		goto out;
	}
	if (e->rw)
		(*rw)++;
	else
		(*ro)++;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int osh_confine_fs_prepare(const struct osh_confine_opts *o, struct osh_confine *c, char *err,
			   size_t errlen)
{
	struct fs_list *l = calloc(1, sizeof(*l));
	bool hard = false;
	int rc = 0;
	int abi;
	int kabi;
	struct ll_ruleset_attr attr = {0};
	size_t attr_size;
	int rfd = -1;

	c->ruleset_fd = -1;
	if (!l) {
		rc = osh_confine_fail(OSH_ENOMEM, err, errlen, "filesystem: out of memory");
		goto out;
	}
	rc = list_build(o, l, &hard, err, errlen);
	if (rc)
		goto out;
	c->sum.landlock_hard = hard;
	/* Read-write directories named by the policy come into existence. */
	for (size_t i = 0; i < l->n && !rc; i++) {
		struct stat st;

		if (l->e[i].rw && l->e[i].from_policy && stat(l->e[i].path, &st) != 0 &&
		    errno == ENOENT)
			rc = make_dirs(o, l->e[i].path, c->sum.switch_ids, c->sum.uid, c->sum.gid,
				       err, errlen);
	}
	if (rc)
		goto out;

	kabi = osh_confine_landlock_abi();
	abi = kabi;
	if (o->landlock_abi_cap < 0)
		abi = 0;
	else if (o->landlock_abi_cap > 0 && abi > o->landlock_abi_cap)
		abi = o->landlock_abi_cap;
	if (abi <= 0) {
		struct osh_confine_note n = {
		    .kind = OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE,
		    .detail = "Landlock is not available in this kernel (not built in or not "
			      "enabled at boot): the command runs WITHOUT filesystem restrictions",
		    .err_no = ENOSYS};

		if (hard) {
			rc = osh_confine_fail(OSH_EPERM, err, errlen,
					      "landlock: hard_requirement but Landlock is not "
					      "available in this kernel");
			goto out;
		}
		osh_confine_report(o, &n);
		goto out;
	}
	if (abi < 6)
		note_weak(o, abi);
	attr.handled_access_fs = osh_confine_ll_fs_rights(abi);
	attr_size = sizeof(attr.handled_access_fs);
	if (abi >= 6) {
		attr.scoped = OSH_LL_SCOPE_ABSTRACT_UNIX | OSH_LL_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rfd < 0) {
		rc =
		    osh_confine_fail(OSH_ESYS, err, errlen, "landlock: create_ruleset (ABI %d): %s",
				     abi, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < l->n; i++) {
		int e = 0;

		if (add_rule(rfd, &l->e[i], attr.handled_access_fs, &c->sum.rules_ro,
			     &c->sum.rules_rw, &e) == 0)
			continue;
		if (hard) {
			rc = osh_confine_fail(OSH_ESYS, err, errlen,
					      "landlock: hard_requirement: cannot add %s rule for "
					      "%s: %s",
					      l->e[i].rw ? "read-write" : "read-only", l->e[i].path,
					      strerror(e));
			goto out;
		}
		note_skip(o, l->e[i].path, l->e[i].rw, e,
			  e == ENOENT ? "does not exist" : "cannot be opened or added");
	}
	if (c->sum.rules_ro + c->sum.rules_rw == 0) {
		struct osh_confine_note n = {.kind = OSH_CONFINE_NOTE_LANDLOCK_UNAVAILABLE,
					     .detail =
						 "no usable path for a Landlock rule: the "
						 "command runs WITHOUT filesystem restrictions",
					     .err_no = ENOENT,
					     .abi = abi};

		if (hard) {
			rc = osh_confine_fail(OSH_EPERM, err, errlen,
					      "landlock: refusing an empty ruleset");
			goto out;
		}
		osh_confine_report(o, &n);
		goto out;
	}
	c->ruleset_fd = rfd;
	rfd = -1;
	c->sum.landlock = true;
	c->sum.landlock_abi = abi;
	c->sum.handled_fs = attr.handled_access_fs;
	c->sum.scoped = attr.scoped;
out:
	if (rfd >= 0)
		close(rfd);
	if (l)
		list_free(l);
	free(l);
	return rc;
}
