/* cfgstate.c - live config with revision tracking, reload and SetConfig.
 *
 * DESIGN: see cfgstate.h. The directory (not the file) is watched because editors
 * and our own SetConfig replace the file by rename: a watch on the old inode would
 * go stale. IN_CLOSE_WRITE catches in-place writers once they finish, IN_MOVED_TO /
 * IN_CREATE catch atomic replacement, IN_DELETE / IN_MOVED_FROM catch removal. */
#include "cfgstate.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define SNAP_MAX 4096

struct osh_gw_cfgstate {
	char *path;
	char *dir;
	const char *base; /* points into path */
	struct osh_gw_layer flag, env;
	struct osh_gw_store *store;
	int ifd;
	pthread_mutex_t mu;  /* guards cfg, rev, snap */
	pthread_mutex_t wmu; /* serialises reload/set */
	struct osh_gw_config cfg;
	uint64_t rev;
	char snap[SNAP_MAX];
};

/* Reads the YAML layer; a missing file is empty unless `required`. */
static int load_yaml(struct osh_gw_cfgstate *c, bool required, struct osh_gw_layer *yaml, char *err,
		     size_t errlen)
{
	int rc = osh_gw_layer_from_yaml_file(yaml, c->path, err, errlen);

	if (rc == OSH_ENOTFOUND && !required) {
		osh_gw_layer_init(yaml);
		rc = 0;
	}
	return rc;
}

int osh_gw_cfgstate_create(struct osh_gw_cfgstate **out, const struct osh_gw_cfgstate_opts *o,
			   char *err, size_t errlen)
{
	struct osh_gw_cfgstate *c = NULL;
	struct osh_gw_layer yaml;
	uint64_t rev = 0;
	char *slash;
	int rc = OSH_ENOMEM;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	c->ifd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	c->path = strdup(o->yaml_path);
	c->dir = strdup(o->yaml_path);
	if (!c->path || !c->dir)
		goto out;
	slash = strrchr(c->dir, '/');
	if (slash == c->dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(c->dir, strlen(c->dir) + 1, ".");
	slash = strrchr(c->path, '/');
	c->base = slash ? slash + 1 : c->path;
	if (o->flag)
		c->flag = *o->flag;
	else
		osh_gw_layer_init(&c->flag);
	if (o->env)
		c->env = *o->env;
	else
		osh_gw_layer_init(&c->env);
	c->store = o->store;

	rc = load_yaml(c, o->yaml_required, &yaml, err, errlen);
	if (rc != 0)
		goto out;
	osh_gw_config_resolve(&c->cfg, &yaml, &c->flag, &c->env);
	rc = osh_gw_config_snapshot(&c->cfg, c->snap, sizeof(c->snap));
	if (rc != 0)
		goto out;

	rc = osh_gw_store_config_advance(c->store, c->snap, &rev);
	if (rc != 0) {
		snprintf(err, errlen, "config revision: %s", osh_gw_store_errmsg(c->store));
		goto out;
	}
	c->rev = rev;

	if (o->watch) {
		c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (c->ifd < 0 || inotify_add_watch(c->ifd, c->dir,
						    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
							IN_DELETE | IN_MOVED_FROM) < 0) {
			snprintf(err, errlen, "%s: cannot watch directory: %s", c->dir,
				 strerror(errno));
			rc = OSH_ESYS;
			goto out;
		}
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	osh_gw_cfgstate_destroy(c);
	return rc;
}

void osh_gw_cfgstate_destroy(struct osh_gw_cfgstate *c)
{
	if (!c)
		return;
	if (c->ifd >= 0)
		close(c->ifd);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->wmu);
	free(c->path);
	free(c->dir);
	free(c);
}

void osh_gw_cfgstate_get(struct osh_gw_cfgstate *c, struct osh_gw_config *cfg, uint64_t *revision)
{
	pthread_mutex_lock(&c->mu);
	if (cfg)
		*cfg = c->cfg;
	if (revision)
		*revision = c->rev;
	pthread_mutex_unlock(&c->mu);
}

/* Reload body; caller holds wmu. */
static int reload_locked(struct osh_gw_cfgstate *c, bool *changed, char *err, size_t errlen)
{
	struct osh_gw_layer yaml;
	struct osh_gw_config ncfg;
	char nsnap[SNAP_MAX];
	uint64_t nrev;
	bool diff;
	int rc;

	if (changed)
		*changed = false;
	rc = load_yaml(c, false, &yaml, err, errlen);
	if (rc != 0)
		goto out;
	osh_gw_config_resolve(&ncfg, &yaml, &c->flag, &c->env);
	rc = osh_gw_config_snapshot(&ncfg, nsnap, sizeof(nsnap));
	if (rc != 0)
		goto out;
	pthread_mutex_lock(&c->mu);
	diff = strcmp(nsnap, c->snap) != 0;
	nrev = c->rev;
	pthread_mutex_unlock(&c->mu);
	if (diff) {
		/* Persist first: a published revision must survive a restart. The
		 * database assigns it, so gateways sharing a store share one
		 * sequence (never backwards, never one number for two snapshots). */
		rc = osh_gw_store_config_advance(c->store, nsnap, &nrev);
		if (rc != 0) {
			snprintf(err, errlen, "config revision: %s", osh_gw_store_errmsg(c->store));
			goto out;
		}
	}
	pthread_mutex_lock(&c->mu);
	c->cfg = ncfg; /* sources may change without a value change */
	if (diff) {
		c->rev = nrev;
		memcpy(c->snap, nsnap, sizeof(nsnap));
	}
	pthread_mutex_unlock(&c->mu);
	if (changed)
		*changed = diff;
out:
	return rc;
}

int osh_gw_cfgstate_reload(struct osh_gw_cfgstate *c, bool *changed, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&c->wmu);
	rc = reload_locked(c, changed, err, errlen);
	pthread_mutex_unlock(&c->wmu);
	return rc;
}

int osh_gw_cfgstate_set(struct osh_gw_cfgstate *c, const char *key, const char *value,
			bool *changed, char *err, size_t errlen)
{
	int rc;

	if (changed)
		*changed = false;
	pthread_mutex_lock(&c->wmu);
	rc = osh_gw_yaml_set(c->path, key, value, NULL, err, errlen);
	if (rc == 0)
		rc = reload_locked(c, changed, err, errlen);
	pthread_mutex_unlock(&c->wmu);
	return rc;
}

int osh_gw_cfgstate_watch_fd(struct osh_gw_cfgstate *c)
{
	return c->ifd;
}

int osh_gw_cfgstate_poll(struct osh_gw_cfgstate *c, bool *reloaded, bool *changed, char *err,
			 size_t errlen)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	int rc = 0;

	if (reloaded)
		*reloaded = false;
	if (changed)
		*changed = false;
	if (c->ifd < 0)
		goto out;
	for (;;) {
		ssize_t n = read(c->ifd, buf, sizeof(buf));

		if (n <= 0)
			break; /* EAGAIN: drained */
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len > 0 && strcmp(ev->name, c->base) == 0))
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (hit) {
		if (reloaded)
			*reloaded = true;
		rc = osh_gw_cfgstate_reload(c, changed, err, errlen);
	}
out:
	return rc;
}

const char *osh_gw_cfgstate_path(struct osh_gw_cfgstate *c)
{
	return c->path;
}
