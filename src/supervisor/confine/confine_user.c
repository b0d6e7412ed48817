/* confine_user.c - who the command runs as.
 *
 * DESIGN
 * The policy's process.run_as_user / run_as_group name the account; with
 * neither set a root supervisor uses the dedicated unprivileged account
 * OSH_CONFINE_DEFAULT_USER, created with useradd --system when it does not
 * exist yet (two supervisors racing to create it are fine: the loser's
 * useradd fails and the account is looked up again). Only that default name
 * is ever created: a name the policy spells must exist, so a typo cannot
 * silently produce a new account. The command never stays root: a root
 * supervisor always switches ids, never to uid or gid 0 (a policy asking
 * for root is refused: root could not be verified as dropped). A non-root supervisor cannot switch,
 * so it runs the command as itself when the policy names nobody (or names the supervisor's own
 * user) and refuses otherwise. Names are resolved with the reentrant getpwnam_r/getgrnam_r and the
 * supplementary groups with getgrouplist here in the parent; the child only copies arrays into
 * system calls.
 */
#include "confine_internal.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define PWBUF 16384

static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	char *buf = malloc(PWBUF);
	int rc = OSH_ENOMEM;

	if (!buf)
		goto out;
	rc = OSH_ENOTFOUND;
	if (getpwnam_r(name, &pw, buf, PWBUF, &res) == 0 && res) {
		*uid = res->pw_uid;
		*gid = res->pw_gid;
		rc = 0;
	}
out:
	free(buf);
	return rc;
}

static int lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char *buf = malloc(PWBUF);
	int rc = OSH_ENOMEM;

	if (!buf)
		goto out;
	rc = OSH_ENOTFOUND;
	if (getgrnam_r(name, &gr, buf, PWBUF, &res) == 0 && res) {
		*gid = res->gr_gid;
		rc = 0;
	}
out:
	free(buf);
	return rc;
}

/* useradd --system --user-group, no home, no login shell. Returns 0 when
 * the account exists afterwards. */
static int create_user(const char *name, char *err, size_t errlen)
{
	static const char *const tools[] = {"/usr/sbin/useradd", "/sbin/useradd", NULL};
	const char *tool = NULL;
	char *argv[] = {NULL,
			(char *)(uintptr_t) "--system",
			(char *)(uintptr_t) "--user-group",
			(char *)(uintptr_t) "--no-create-home",
			(char *)(uintptr_t) "--home-dir",
			(char *)(uintptr_t) "/nonexistent",
			(char *)(uintptr_t) "--shell",
			(char *)(uintptr_t) "/usr/sbin/nologin",
			(char *)(uintptr_t)name,
			NULL};
	pid_t pid;
	int st = 0;
	int e;
	int rc = 0;
	uid_t uid;
	gid_t gid;

	for (int i = 0; tools[i] && !tool; i++)
		if (access(tools[i], X_OK) == 0)
			tool = tools[i];
	if (!tool) {
		rc = osh_confine_fail(OSH_ENOTFOUND, err, errlen,
				      "user: %s does not exist and useradd is not installed", name);
		goto out;
	}
	argv[0] = (char *)(uintptr_t)tool;
	e = posix_spawn(&pid, tool, NULL, NULL, argv, environ);
	if (e != 0) {
		rc = osh_confine_fail(OSH_ESYS, err, errlen, "user: cannot run %s: %s", tool,
				      strerror(e));
		goto out;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* Exit 9 = "already exists": another supervisor won the race. */
	if (lookup_user(name, &uid, &gid) != 0)
		rc = osh_confine_fail(
		    OSH_ESYS, err, errlen,
		    "user: %s %s failed (status %d) and the account does not exist", tool, name,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
out:
	return rc;
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Not root (or told not to switch): the command runs as the supervisor,
 * which is fine only when the policy asks for nobody else. */
static int keep_ids(const char *user, const char *group, struct osh_confine *c, char *err,
		    size_t errlen)
{
	uid_t uid = 0;
	gid_t gid = 0;
	int rc = 0;

	if (user && (lookup_user(user, &uid, &gid) != 0 || uid != geteuid()))
		rc = osh_confine_fail(OSH_EPERM, err, errlen,
				      "user: the policy asks for user %s but the supervisor is not "
				      "root and cannot switch to it",
				      user);
	else if (group && (lookup_group(group, &gid) != 0 || gid != getegid()))
		rc = osh_confine_fail(OSH_EPERM, err, errlen,
				      "user: the policy asks for group %s but the supervisor is "
				      "not root and cannot switch to it",
				      group);
	c->sum.switch_ids = false;
	c->sum.uid = geteuid();
	c->sum.gid = getegid();
	snprintf(c->user, sizeof(c->user), "%s", user ? user : "");
	snprintf(c->group, sizeof(c->group), "%s", group ? group : "");
	return rc;
}

/* The name of group gid (or the number) into out. */
static void group_name(gid_t gid, char *out, size_t cap)
{
	struct group gr, *res = NULL;
	char *buf = malloc(PWBUF);

	if (buf && getgrgid_r(gid, &gr, buf, PWBUF, &res) == 0 && res)
		snprintf(out, cap, "%s", res->gr_name);
	else
		snprintf(out, cap, "%u", (unsigned)gid);
	free(buf);
}

int osh_confine_user_prepare(const struct osh_confine_opts *o, struct osh_confine *c, char *err,
			     size_t errlen)
{
	const Openshell__V1__SandboxPolicy *p = o->policy;
	const char *want_user = p && p->process ? nonempty(p->process->run_as_user) : NULL;
	const char *want_group = p && p->process ? nonempty(p->process->run_as_group) : NULL;
	const char *user = want_user;
	uid_t uid = 0;
	gid_t gid = 0;
	int rc = 0;

	if (geteuid() != 0 || o->no_switch_ids) {
		rc = keep_ids(want_user, want_group, c, err, errlen);
		goto out;
	}
	if (!user)
		user = o->default_user ? o->default_user : OSH_CONFINE_DEFAULT_USER;
	if (strlen(user) >= sizeof(c->user) ||
	    (want_group && strlen(want_group) >= sizeof(c->group))) {
		rc = osh_confine_fail(OSH_EINVAL, err, errlen, "user: name %.40s... too long",
				      strlen(user) >= sizeof(c->user) ? user : want_group);
		goto out;
	}
	rc = lookup_user(user, &uid, &gid);
	if (rc == OSH_ENOTFOUND && !want_user && !o->no_create_user) {
		rc = create_user(user, err, errlen);
		if (rc)
			goto out;
		rc = lookup_user(user, &uid, &gid);
		if (!rc) {
			struct osh_confine_note n = {.kind = OSH_CONFINE_NOTE_USER_CREATED,
						     .user = user,
						     .uid = uid,
						     .gid = gid};

			osh_confine_report(o, &n);
		}
	}
	if (rc) {
		rc = osh_confine_fail(rc, err, errlen, "user: sandbox user not found: %s", user);
		goto out;
	}
	if (uid == 0) {
		rc = osh_confine_fail(OSH_EPERM, err, errlen,
				      "user: %s is root (uid 0): the command never runs as root",
				      user);
		goto out;
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	if (want_group && lookup_group(want_group, &gid) != 0) {
		rc = osh_confine_fail(OSH_ENOTFOUND, err, errlen,
				      "group: sandbox group not found: %s", want_group);
		goto out;
	}
	if (want_group)
		snprintf(c->group, sizeof(c->group), "%s", want_group);
	else
		group_name(gid, c->group, sizeof(c->group));
	if (gid == 0) {
		rc = osh_confine_fail(OSH_EPERM, err, errlen,
				      "group: %s is root's group (gid 0): the command never runs "
				      "with it",
				      c->group);
		goto out;
	}
	/* Supplementary groups of the account (primary group first). */
	c->n_groups = OSH_CONFINE_MAX_GROUPS;
	if (getgrouplist(c->user, gid, c->groups, &c->n_groups) < 0) {
		rc =
		    osh_confine_fail(OSH_ETOOBIG, err, errlen, "user: %s is in more than %d groups",
				     c->user, OSH_CONFINE_MAX_GROUPS);
		goto out;
	}
	c->sum.switch_ids = true;
	c->sum.uid = uid;
	c->sum.gid = gid;
	c->sum.n_groups = c->n_groups;
out:
	c->sum.user = c->user;
	c->sum.group = c->group;
	return rc;
}
