/* gateway.h - openshell-gateway as a library: options, lifecycle, services.
 *
 * DESIGN: main.c only parses argv (osh_gw_opts_parse), installs signal handlers
 * and calls create/run/destroy, so tests can run a whole gateway in-process on
 * port 0. Every gRPC handler and the housekeeping tick run on the one server loop
 * thread (src/rpc), so the in-memory lists (log followers, children, pending
 * deletes) need no locks; the store and the cfgstate lock for themselves.
 *
 * Readiness: once the loop runs, the gateway writes "<host>:<port>\n" to
 * <data-dir>/gateway.addr (temp file + rename, so a reader never sees a partial
 * address) and logs "listening on <host>:<port>" on stderr. The file is removed on
 * clean shutdown. */
#ifndef OSH_GW_GATEWAY_H
#define OSH_GW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "osh_err.h"

#define OSH_GW_DEFAULT_GRACE_MS 5000u

/* Parsed command line. Strings borrow from argv (or are static defaults). */
struct osh_gw_opts {
	const char *listen;	  /* --listen HOST:PORT (TCP besides the socket); NULL = none */
	const char *socket_path;  /* --socket PATH; NULL = <data-dir>/gateway.sock */
	const char *socket_group; /* --socket-group NAME|GID; NULL = the gateway's group */
	const char *tls_cert;	  /* --tls-cert FILE (PEM chain) */
	const char *tls_key;	  /* --tls-key FILE */
	const char *client_ca;	  /* --client-ca FILE: CA of accepted client certificates */
	bool insecure_tcp;	  /* --insecure-tcp: plain TCP without authentication */
	size_t max_conns;	  /* --max-connections N on the socket; 0 = from RLIMIT_NOFILE */
	bool external_rotation;	  /* --log-rotation external: no built-in rotation */
	const char *config_path;  /* --config FILE.yaml; NULL = <data-dir>/gateway.yaml */
	const char *data_dir;	  /* --data-dir DIR; NULL = default (see osh_gw_default_data_dir) */
	const char *store; /* --store postgresql://...|sqlite:PATH; NULL = <data-dir>/gateway.db */
	struct osh_gw_layer flag; /* --ocsf-logging and future config flags */
	bool
	    omit_sandbox_config; /* --omit-sandbox-config (test/compat: emulate an older gateway) */
	size_t log_retention;	 /* --log-retention N lines per sandbox; 0 = default */
	size_t log_retention_mib; /* --log-retention-mib N MiB per sandbox; 0 = default */
	const char *sandbox_bin;  /* --sandbox-bin PATH; NULL = next to this executable */
	unsigned stop_grace_ms;	  /* --stop-grace MS: SIGTERM -> SIGKILL on delete */
	bool help;
	bool version;
};

/* Defaults into *o. */
void osh_gw_opts_init(struct osh_gw_opts *o);

/* Parses argv (argv[0] skipped). Accepts "--flag VALUE" and "--flag=VALUE".
 * Returns 0, or OSH_EINVAL / OSH_EPARSE with err naming the flag. */
OSH_MUST_CHECK int osh_gw_opts_parse(struct osh_gw_opts *o, int argc, char **argv, char *err,
				     size_t errlen);

/* Writes --help text to fp (a FILE *). */
void osh_gw_usage(void *fp, const char *prog);

/* The data dir used when --data-dir is not given: $XDG_STATE_HOME/openshell when
 * XDG_STATE_HOME is set, else ./openshell-data. Writes into buf. */
OSH_MUST_CHECK int osh_gw_default_data_dir(char *buf, size_t cap);

struct osh_gw;

/* Creates the data dir, opens the store, resolves the config (flag layer from o,
 * env layer from the environment, YAML file), reconciles sandboxes left by a
 * previous run, creates and binds the gRPC server. Nothing is served until
 * osh_gw_run/osh_gw_spawn. On failure err says why (file:line:key for config
 * errors). Caller owns *out; free with osh_gw_destroy. Not thread-safe. */
OSH_MUST_CHECK int osh_gw_create(struct osh_gw **out, const struct osh_gw_opts *o, char *err,
				 size_t errlen);

/* "unix:/abs/path/gateway.sock": the socket clients and supervisors use
 * (also written to <data-dir>/gateway.addr when serving). */
const char *osh_gw_addr(const struct osh_gw *gw);

/* "<host>:<port>" of the TCP listener (port resolved when 0 was asked), ""
 * when --listen was not given. */
const char *osh_gw_tcp_addr(const struct osh_gw *gw);

/* Serves on the calling thread until osh_gw_stop; 0 after a clean shutdown. */
OSH_MUST_CHECK int osh_gw_run(struct osh_gw *gw);

/* Serves on a new thread (joined by osh_gw_destroy). */
OSH_MUST_CHECK int osh_gw_spawn(struct osh_gw *gw);

/* Asks the gateway to shut down. Async-signal-safe. */
void osh_gw_stop(struct osh_gw *gw);

/* Asks for a config reload on the next tick (SIGHUP). Async-signal-safe. */
void osh_gw_request_reload(struct osh_gw *gw);

/* Stops, joins, closes everything, removes gateway.addr. Supervisors started by
 * this gateway keep running (see docs/gateway.md). NULL-safe. */
void osh_gw_destroy(struct osh_gw *gw);

#endif
