/* config.h - the gateway's operational config: keys, sources, resolution, YAML I/O.
 *
 * DESIGN: one declarative table (config.c, house style practice 10) lists every key
 * with its type, default, CLI flag, environment variable and help line. The same
 * table drives parsing of each source, resolution, --help text and validation, so a
 * new key is one table row plus one struct member.
 *
 * Each source is read into a "layer" (which keys it sets and to what). Resolution is
 * per key, highest priority first: shared (set by SetConfig, kept in the store) >
 * YAML file > CLI flag > environment > default. YAML > flag > env is the order
 * the plan fixed for ocsf_logging_enabled; the shared layer is the one writable
 * source and sits on top, so a value set through any gateway is the value of
 * every gateway on the same store (cfgstate.h), and a restart sees it again.
 * osh_gw_yaml_set still edits the YAML file in place for tools and tests.
 *
 * All functions here are pure (no globals, no locks) and thread-compatible: callers
 * serialise access to a given object. Error text goes to caller-provided buffers and
 * always names where the bad value came from (file:line:key, the flag, or the env
 * variable). */
#ifndef OSH_GW_CONFIG_H
#define OSH_GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

/* Every key the gateway knows. Keep in table order (config.c). */
enum osh_gw_key {
	OSH_GW_KEY_OCSF_LOGGING_ENABLED = 0,
	OSH_GW_KEY_OCSF_SCHEMA_VERSION,
	OSH_GW_KEY_COUNT,
};

/* Where a resolved value came from. Ordered by priority (higher wins). */
enum osh_gw_src {
	OSH_GW_SRC_DEFAULT = 0,
	OSH_GW_SRC_ENV = 1,
	OSH_GW_SRC_FLAG = 2,
	OSH_GW_SRC_YAML = 3,
	OSH_GW_SRC_SHARED = 4, /* set by SetConfig, kept in the store: every gateway on it */
};

enum osh_gw_type {
	OSH_GW_TYPE_BOOL = 0,
	OSH_GW_TYPE_OCSF_VERSION, /* "1.1.0".."1.7.0" (src/ocsf/ocsf_convert.h) */
};

/* Flags of a table row. */
#define OSH_GW_CFG_RELOADABLE 0x1u /* takes effect on reload without a restart */

/* The typed values of every key. Plain data, copy freely. */
struct osh_gw_values {
	/** JSONL OCSF export in supervisors (SandboxConfig.logging.ocsf_enabled). */
	bool ocsf_logging_enabled;
	/** OCSF version of the supervisors' JSONL (SandboxConfig.logging.ocsf_schema_version):
	 * an enum ocsf_version value. */
	int ocsf_schema_version;
};

/* One source's contribution: which keys it sets, and their values. Plain data. */
struct osh_gw_layer {
	/** set[k] is true when this source gives key k a value. */
	bool set[OSH_GW_KEY_COUNT];
	/** The values; only members whose key is set are meaningful. */
	struct osh_gw_values v;
	/** 1-based YAML line of each set key (0 for non-YAML layers). */
	unsigned line[OSH_GW_KEY_COUNT];
};

/* The resolved config: every key has a value and a source. Plain data. */
struct osh_gw_config {
	struct osh_gw_values v;
	enum osh_gw_src src[OSH_GW_KEY_COUNT];
};

/* A read-only description of one table row (static storage, never freed). */
struct osh_gw_keyinfo {
	const char *name; /* YAML key and SetConfig key */
	enum osh_gw_type type;
	const char *dflt; /* default as text */
	const char *flag; /* CLI flag, e.g. "--ocsf-logging" */
	const char *env;  /* environment variable */
	unsigned flags;	  /* OSH_GW_CFG_* */
	const char *help;
	size_t offset; /* offsetof(struct osh_gw_values, member) */
};

/* Table access. Returns NULL for an out-of-range key. Thread-safe. */
const struct osh_gw_keyinfo *osh_gw_key_info(enum osh_gw_key k);

/* Looks up a key by name. Returns 0 and sets *out, or OSH_ENOTFOUND. Thread-safe. */
OSH_MUST_CHECK int osh_gw_key_lookup(const char *name, enum osh_gw_key *out);

/* "default", "env", "flag", "yaml". Static strings. Thread-safe. */
const char *osh_gw_src_name(enum osh_gw_src s);

/* Parses a boolean: true/false, yes/no, on/off, 1/0 (case-insensitive, surrounding
 * blanks not allowed). Returns 0 or OSH_EPARSE. Thread-safe. */

/* Empties a layer (no key set). */
void osh_gw_layer_init(struct osh_gw_layer *l);

/* Sets key `name` in `l` from text `value`. `origin` names the source for errors
 * (e.g. "flag --ocsf-logging" or "env OPENSHELL_OCSF_LOGGING"). On error *l is
 * unchanged and err (if errlen > 0) holds "<origin>: <why>". Returns 0,
 * OSH_ENOTFOUND (unknown key) or OSH_EPARSE (bad value). */
OSH_MUST_CHECK int osh_gw_layer_set(struct osh_gw_layer *l, const char *name, const char *value,
				    const char *origin, char *err, size_t errlen);

/* Fills `l` from the environment (getenv of every key's env variable). An empty
 * variable counts as unset. Returns 0 or OSH_EPARSE naming the variable in err. */
OSH_MUST_CHECK int osh_gw_layer_from_env(struct osh_gw_layer *l, char *err, size_t errlen);

/* Parses YAML text (`len` bytes) named `path` (used in messages only) into `l`.
 * Accepted: an empty document, or one top-level mapping of known keys to scalars.
 * Unknown keys, duplicate keys, non-scalar values, bad values and YAML syntax
 * errors fail with OSH_EPARSE and err = "<path>:<line>:<key>: <why>" (or
 * "<path>:<line>: <why>" when no key applies). */
OSH_MUST_CHECK int osh_gw_layer_from_yaml_text(struct osh_gw_layer *l, const char *path,
					       const char *text, size_t len, char *err,
					       size_t errlen);

/* Reads file `path` and parses it as above. A missing file is OSH_ENOTFOUND (err
 * says so) and leaves `l` empty; other read failures OSH_EIO. */
OSH_MUST_CHECK int osh_gw_layer_from_yaml_file(struct osh_gw_layer *l, const char *path, char *err,
					       size_t errlen);

/* Resolves every key: yaml > flag > env > default. Any layer may be NULL. */
void osh_gw_config_resolve(struct osh_gw_config *out, const struct osh_gw_layer *yaml,
			   const struct osh_gw_layer *flag, const struct osh_gw_layer *env);

/* The same with the shared layer (values set by SetConfig, kept in the store
 * and served by every gateway on it) on top: shared > yaml > flag > env >
 * default. Any layer may be NULL. */
void osh_gw_config_resolve_shared(struct osh_gw_config *out, const struct osh_gw_layer *shared,
				  const struct osh_gw_layer *yaml, const struct osh_gw_layer *flag,
				  const struct osh_gw_layer *env);

/* Writes key k's value of `v` as canonical text ("true"/"false") into buf.
 * Returns 0 or OSH_ETOOBIG. */
OSH_MUST_CHECK int osh_gw_value_text(const struct osh_gw_values *v, enum osh_gw_key k, char *buf,
				     size_t cap);

/* Canonical snapshot of the resolved values (not the sources): one "key=value\n"
 * per key in table order. Two configs with equal snapshots are equal in effect;
 * the config revision is bumped exactly when the snapshot changes.
 * Returns 0 or OSH_ETOOBIG. */
OSH_MUST_CHECK int osh_gw_config_snapshot(const struct osh_gw_config *c, char *buf, size_t cap);

/* Edits YAML file `path` so that key `name` has `value` (validated first with the
 * same rules as parsing), preserving every other line and comment: an existing
 * top-level occurrence has its value replaced in place, otherwise "name: value" is
 * appended. value == NULL removes the key's line instead (unset). A missing file is
 * created. The new text is validated, written to a temp file in the same directory,
 * fsynced, renamed over `path`, and the directory fsynced, so readers see the old
 * or the new file, never a mix. If the current file is invalid nothing is written
 * and the parse error is returned. *changed (may be NULL) says whether the bytes
 * differ. Returns 0, OSH_ENOTFOUND (unknown key), OSH_EPARSE, OSH_EIO. */
OSH_MUST_CHECK int osh_gw_yaml_set(const char *path, const char *name, const char *value,
				   bool *changed, char *err, size_t errlen);

/* Writes the --help section for config keys (flags, env, default, help) to `out`
 * (a FILE *, declared void * to keep stdio out of this header). */
void osh_gw_config_help(void *out);

#endif
