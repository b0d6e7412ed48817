/* cfgstate.c - live config with revision tracking, reload, SetConfig and the
 * shared values of the store.
 *
 * DESIGN: see cfgstate.h. Every change (start, reload, SetConfig, a shared
 * value changed by another gateway) goes through one function, sync_locked:
 * one store transaction that writes, reads the shared values, resolves and
 * assigns the revision, then a publish under the reader lock. The directory
 * (not the file) is watched because editors and tools replace the file by
 * rename: a watch on the old inode would go stale. IN_CLOSE_WRITE catches
 * in-place writers once they finish, IN_MOVED_TO / IN_CREATE catch atomic
 * replacement, IN_DELETE / IN_MOVED_FROM catch removal. */
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
	struct osh_gw_layer yaml; /* the last valid YAML layer (wmu) */
	struct osh_gw_store *store;
	int ifd;
	pthread_mutex_t mu;  /* guards cfg, rev, snap */
	pthread_mutex_t wmu; /* serialises reload/set/refresh, guards yaml, seen_gen */
	struct osh_gw_config cfg;
	uint64_t rev;
	uint64_t seen_gen; /* generation of the shared values cfg was resolved over */
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

/* The resolution a config sync runs inside its transaction. */
struct resolve_ctx {
	const struct osh_gw_cfgstate *c;
	const struct osh_gw_layer *yaml;
	struct osh_gw_config cfg; /* out */
	char snap[SNAP_MAX];	  /* out */
};

static int resolve_cb(void *ud, const struct osh_gw_cfg_value *vals, size_t n, char *snap,
		      size_t cap)
{
	struct resolve_ctx *x = ud;
	struct osh_gw_layer shared;
	char why[128];
	int rc;

	osh_gw_layer_init(&shared);
	/* A value this gateway cannot take (a key of a newer gateway) is left
	 * out: it falls back to the local sources, never to a garbled value. */
	for (size_t i = 0; i < n; i++)
		if (osh_gw_layer_set(&shared, vals[i].name, vals[i].value, "rpc", why,
				     sizeof(why)) != 0)
			continue;
	osh_gw_config_resolve_shared(&x->cfg, &shared, x->yaml, &x->c->flag, &x->c->env);
	rc = osh_gw_config_snapshot(&x->cfg, x->snap, sizeof(x->snap));
	if (rc == 0 && strlen(x->snap) >= cap)
		rc = OSH_ETOOBIG;
	if (rc == 0)
		memcpy(snap, x->snap, strlen(x->snap) + 1);
	return rc;
}

/* One config transaction (write a shared value if asked, read them all,
 * resolve over `yaml`, new revision when the snapshot changed), then publish.
 * Caller holds wmu (or is create). start: compare with the stored snapshot. */
static int sync_locked(struct osh_gw_cfgstate *c, const struct osh_gw_layer *yaml, bool start,
		       const char *set_name, const char *set_value, bool *changed, char *err,
		       size_t errlen)
{
	struct resolve_ctx x = {.c = c, .yaml = yaml};
	struct osh_gw_cfg_sync in = {.set_name = set_name, .set_value = set_value};
	struct osh_gw_cfg_synced out;
	char published[SNAP_MAX];
	bool diff;
	int rc;

	if (changed)
		*changed = false;
	pthread_mutex_lock(&c->mu);
	memcpy(published, c->snap, sizeof(published));
	in.published_rev = c->rev;
	pthread_mutex_unlock(&c->mu);
	in.published = start ? NULL : published;
	/* Persist first: a published revision must survive a restart. The
	 * database assigns it under one row lock, so gateways sharing a store
	 * share one sequence (never backwards, never one number twice). */
	rc = osh_gw_store_config_sync(c->store, &in, resolve_cb, &x, &out);
	if (rc != 0) {
		snprintf(err, errlen, "config revision: %s", osh_gw_store_errmsg(c->store));
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	diff = strcmp(x.snap, c->snap) != 0;
	c->cfg = x.cfg; /* sources may change without a value change */
	if (diff || start) {
		c->rev = out.revision;
		memcpy(c->snap, x.snap, sizeof(x.snap));
	}
	pthread_mutex_unlock(&c->mu);
	c->seen_gen = out.values_gen;
	if (yaml != &c->yaml)
		c->yaml = *yaml;
	if (changed)
		*changed = diff && !start;
out:
	return rc;
}

int osh_gw_cfgstate_create(struct osh_gw_cfgstate **out, const struct osh_gw_cfgstate_opts *o,
			   char *err, size_t errlen)
{
	struct osh_gw_cfgstate *c = NULL;
	struct osh_gw_layer yaml;
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
	rc = sync_locked(c, &yaml, true, NULL, NULL, NULL, err, errlen);
	if (rc != 0)
		goto out;

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

int osh_gw_cfgstate_reload(struct osh_gw_cfgstate *c, bool *changed, char *err, size_t errlen)
{
	struct osh_gw_layer yaml;
	int rc;

	if (changed)
		*changed = false;
	pthread_mutex_lock(&c->wmu);
	rc = load_yaml(c, false, &yaml, err, errlen);
	if (rc == 0)
		rc = sync_locked(c, &yaml, false, NULL, NULL, changed, err, errlen);
	pthread_mutex_unlock(&c->wmu);
	return rc;
}

int osh_gw_cfgstate_set(struct osh_gw_cfgstate *c, const char *key, const char *value,
			bool *changed, char *err, size_t errlen)
{
	struct osh_gw_layer check;
	enum osh_gw_key k;
	char canon[64];
	int rc;

	if (changed)
		*changed = false;
	osh_gw_layer_init(&check);
	if (osh_gw_key_lookup(key, &k) != 0) {
		snprintf(err, errlen, "unknown config key '%s'", key ? key : "");
		return OSH_ENOTFOUND;
	}
	if (value) {
		rc = osh_gw_layer_set(&check, key, value, "value", err, errlen);
		if (rc != 0)
			return rc;
		/* stored canonical ("true", not "ON"): equal values compare equal */
		rc = osh_gw_value_text(&check.v, k, canon, sizeof(canon));
		if (rc != 0)
			return rc;
	}
	pthread_mutex_lock(&c->wmu);
	rc = sync_locked(c, &c->yaml, false, key, value ? canon : NULL, changed, err, errlen);
	pthread_mutex_unlock(&c->wmu);
	return rc;
}

int osh_gw_cfgstate_refresh(struct osh_gw_cfgstate *c, bool *changed, char *err, size_t errlen)
{
	uint64_t gen = 0;
	int rc;

	if (changed)
		*changed = false;
	pthread_mutex_lock(&c->wmu);
	rc = osh_gw_store_config_gen(c->store, &gen);
	if (rc != 0)
		snprintf(err, errlen, "shared config: %s", osh_gw_store_errmsg(c->store));
	else if (gen != c->seen_gen)
		rc = sync_locked(c, &c->yaml, false, NULL, NULL, changed, err, errlen);
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
