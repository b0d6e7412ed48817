/* confine_unsafe.c - settings that weaken the sandbox ("unsafe policy").
 *
 * DESIGN
 * Unsafe filesystem grants are applied as written (the operator may mean
 * them); a root run-as user or group is refused at preparation (the
 * command never runs as root). Either way the supervisor reports every reason as a Detection
 * Finding at load and at each reload, so the choice is visible in the SIEM. Checked: write access
 * to a sensitive system path (the path itself, anything below it, or any ancestor of one: "/",
 * "/var"), with a short list of devices an agent legitimately writes (/dev/null, /dev/zero,
 * /dev/full, /dev/tty, /dev/pts, /dev/shm); a run-as user or group that is root (by name or id 0);
 * a read-write workdir that is itself sensitive. Pure logic apart from the user/group look-ups.
 */
#include "confine_internal.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sensitive[] = {
    "/etc",	"/usr",	      "/bin",	    "/sbin", "/lib", "/lib32", "/lib64",   "/libx32",
    "/boot",	"/root",      "/proc",	    "/sys",  "/dev", "/run",   "/var/run", "/var/lib",
    "/var/log", "/var/spool", "/var/cache", "/opt",  "/srv", NULL,
};

/* Writable devices and device directories that grant nothing. */
static const char *const dev_ok[] = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/pts", "/dev/shm", NULL,
};

/* a == b, or b is below a ("/etc" covers "/etc/x", not "/etcx"). */
static bool covers(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (strcmp(a, "/") == 0)
		return true;
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

bool osh_confine_path_sensitive(const char *raw)
{
	char p[4096];
	bool r = false;

	if (osh_confine_path_norm(raw, p, sizeof(p)) != 0)
		goto out;
	for (size_t i = 0; dev_ok[i]; i++)
		if (covers(dev_ok[i], p))
			goto out;
	for (size_t i = 0; sensitive[i] && !r; i++)
		r = covers(sensitive[i], p) || covers(p, sensitive[i]);
out:
	return r;
}

static size_t add(struct osh_confine_issue *out, size_t max, size_t n, const char *field,
		  const char *reason)
{
	if (n < max) {
		snprintf(out[n].field, sizeof(out[n].field), "%s", field);
		snprintf(out[n].reason, sizeof(out[n].reason), "%s", reason);
	}
	return n + 1;
}

static bool user_is_root(const char *name)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (strcmp(name, "root") == 0 || strcmp(name, "0") == 0)
		return true;
	return getpwnam_r(name, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_uid == 0;
}

static bool group_is_root(const char *name)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (strcmp(name, "root") == 0 || strcmp(name, "0") == 0)
		return true;
	return getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res && res->gr_gid == 0;
}

size_t osh_confine_unsafe_check(const Openshell__V1__SandboxPolicy *p, const char *workdir,
				struct osh_confine_issue *out, size_t max)
{
	size_t n = 0;
	char field[64], reason[256];
	const Openshell__V1__FilesystemPolicy *fs = p ? p->filesystem : NULL;

	if (!p)
		goto out;
	for (size_t i = 0; fs && i < fs->n_read_write; i++) {
		const char *path = fs->read_write[i];

		if (!path || !osh_confine_path_sensitive(path))
			continue;
		snprintf(field, sizeof(field), "filesystem.read_write[%zu]", i);
		snprintf(reason, sizeof(reason),
			 "write access to sensitive system path %.160s "
			 "(the agent could alter the system or its own sandbox)",
			 path);
		n = add(out, max, n, field, reason);
	}
	if (workdir && (!fs || fs->include_workdir) && osh_confine_path_sensitive(workdir)) {
		snprintf(reason, sizeof(reason),
			 "include_workdir makes the workdir %.160s, a sensitive system path, "
			 "writable",
			 workdir);
		n = add(out, max, n, "filesystem.include_workdir", reason);
	}
	if (p->process && p->process->run_as_user && *p->process->run_as_user &&
	    user_is_root(p->process->run_as_user)) {
		snprintf(reason, sizeof(reason),
			 "run_as_user %.64s is root: refused, the command never runs as root "
			 "(the sandbox does not start with this policy)",
			 p->process->run_as_user);
		n = add(out, max, n, "process.run_as_user", reason);
	}
	if (p->process && p->process->run_as_group && *p->process->run_as_group &&
	    group_is_root(p->process->run_as_group)) {
		snprintf(reason, sizeof(reason),
			 "run_as_group %.64s is root's group: refused, the command never "
			 "runs with gid 0 (the sandbox does not start with this policy)",
			 p->process->run_as_group);
		n = add(out, max, n, "process.run_as_group", reason);
	}
out:
	return n;
}
