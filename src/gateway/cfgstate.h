/* cfgstate.h - the gateway's live config: resolved values + revision + reloads.
 *
 * DESIGN: four sources per key, highest first: the shared values (set by
 * SetConfig, kept in the store, so every gateway on one database serves them),
 * the YAML file, the flags, the environment; then the default. The flag and
 * environment layers are fixed at start; the YAML layer is re-read on every
 * reload; the shared layer is re-read whenever its generation in the store
 * moves (osh_gw_cfgstate_refresh: one integer read, polled by the gateway's
 * tick). A reload parses and resolves a complete new config off to the side and
 * swaps it in only when it is valid (house style practice 10); an invalid file
 * keeps the old config and revision and reports file:line:key.
 *
 * The config revision follows the canonical snapshot of the resolved values (not
 * their sources): a gateway serves a new revision exactly when its snapshot
 * changes, and the store assigns it (osh_gw_store_config_sync: one transaction
 * under one row lock for every gateway on the database), so revisions never go
 * backwards across restarts and no number is handed out twice. At start the
 * stored snapshot is compared with the freshly resolved one: equal keeps the
 * stored revision, different takes the next one, nothing stored starts at 1.
 *
 * Thread-safety: every function may be called from any thread. Readers
 * (osh_gw_cfgstate_get) take a short lock; writers (reload, set, refresh) are
 * serialised by a second lock so they cannot interleave. */
#ifndef OSH_GW_CFGSTATE_H
#define OSH_GW_CFGSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

struct osh_gw_cfgstate;

struct osh_gw_cfgstate_opts {
	/** The YAML file (copied). Required. */
	const char *yaml_path;
	/** True when the operator named the file (--config): it must exist at start.
	 * Otherwise a missing file is an empty YAML source. */
	bool yaml_required;
	/** Flag and env layers (copied); NULL = nothing set. */
	const struct osh_gw_layer *flag;
	const struct osh_gw_layer *env;
	/** Where the revision and the shared values are kept; borrowed, must
	 * outlive the cfgstate. */
	struct osh_gw_store *store;
	/** Watch the YAML file's directory with inotify (osh_gw_cfgstate_watch_fd). */
	bool watch;
};

/* Loads the YAML file, resolves, reconciles the revision with the store. Fails
 * (err names file:line:key, the flag or the env var) on an invalid source. The
 * caller owns *out and frees it with osh_gw_cfgstate_destroy. */
OSH_MUST_CHECK int osh_gw_cfgstate_create(struct osh_gw_cfgstate **out,
					  const struct osh_gw_cfgstate_opts *o, char *err,
					  size_t errlen);

/* NULL-safe. Not concurrent with other calls on the same object. */
void osh_gw_cfgstate_destroy(struct osh_gw_cfgstate *c);

/* Copies the current resolved config and its revision (either may be NULL). */
void osh_gw_cfgstate_get(struct osh_gw_cfgstate *c, struct osh_gw_config *cfg, uint64_t *revision);

/* Re-reads the YAML file. Valid: swaps in the new config, bumps the revision when
 * the resolved values changed (*changed says so; may be NULL) and returns 0.
 * Invalid: keeps everything and returns the parse error (OSH_EPARSE...) with err
 * naming file:line:key. A missing file counts as an empty YAML source. */
OSH_MUST_CHECK int osh_gw_cfgstate_reload(struct osh_gw_cfgstate *c, bool *changed, char *err,
					  size_t errlen);

/* SetConfig: stores key = value (canonical text) as a shared value in the store,
 * on top of every local source and seen by every gateway on the same database
 * (value NULL removes it: the local sources apply again), and publishes the
 * result. *changed says whether this gateway's resolved values changed (then
 * with a new revision). OSH_ENOTFOUND unknown key, OSH_EPARSE bad value (err
 * names it), OSH_EUNAVAIL / OSH_EIO store failure (nothing changed). */
OSH_MUST_CHECK int osh_gw_cfgstate_set(struct osh_gw_cfgstate *c, const char *key,
				       const char *value, bool *changed, char *err, size_t errlen);

/* Polls the store's generation of the shared values (one integer read); when
 * another gateway (or this one) changed them since the last sync, re-reads
 * them, resolves and publishes (a new revision when the values changed;
 * *changed says so). Returns 0 or the store's error (the config in force is
 * kept). Blocking: one store round trip. */
OSH_MUST_CHECK int osh_gw_cfgstate_refresh(struct osh_gw_cfgstate *c, bool *changed, char *err,
					   size_t errlen);

/* The inotify descriptor (non-blocking, readable when the YAML file's directory
 * changed), or -1 when not watching. Owned by the cfgstate. */
int osh_gw_cfgstate_watch_fd(struct osh_gw_cfgstate *c);

/* Drains the inotify descriptor; if an event concerns the YAML file, reloads.
 * *reloaded (may be NULL) says whether a reload ran. Returns the reload's result
 * (0 when none ran). Never blocks. */
OSH_MUST_CHECK int osh_gw_cfgstate_poll(struct osh_gw_cfgstate *c, bool *reloaded, bool *changed,
					char *err, size_t errlen);

/* The YAML path (owned by the cfgstate, valid until destroy). */
const char *osh_gw_cfgstate_path(struct osh_gw_cfgstate *c);

#endif
