/* gw_internal.h - state shared by gateway.c (lifecycle, tick) and service.c
 * (gRPC handlers). Not a public header.
 *
 * DESIGN: cheap calls (GetSandboxPolicy, GetConfig, create/delete bookkeeping)
 * and the tick run on the server loop thread; everything that queries or
 * writes log lines (GetSandboxLogs, WatchSandboxLogs, PushSandboxLogs,
 * ListSandboxes) is `offload`ed to the rpc worker pool, so a slow query or a
 * push storm never delays a policy poll. Each thread talks to SQLite through
 * its own connection (gw_store(): WAL readers never wait for the writer, and
 * one thread's long query never holds another's store mutex). Shared state:
 *  - children: loop thread only (unlocked);
 *  - deletes: written on the loop thread only, under del_mu, read anywhere
 *    under del_mu (ListSandboxes shows DELETING);
 *  - followers: under fol_mu;
 *  - pub_mu serialises "append to the store, then fan out", so followers see
 *    lines in seq order and a watch's replay + registration (under pub_mu)
 *    can neither miss nor repeat a line.
 * Lock order: pub_mu, then fol_mu; del_mu is never held with another. */
#ifndef OSH_GW_INTERNAL_H
#define OSH_GW_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfgstate.h"
#include "gateway.h"
#include "gx_export.h"
#include "osh_rpc.h"
#include "sandbox.pb-c.h"
#include "store.h"

/* A WatchSandboxLogs subscriber (under gw->fol_mu once registered). */
struct gw_follower {
	struct gw_follower *next;
	struct osh_rpc_call *call; /* one reference held */
	char sandbox_id[40];
	char peer[96];	 /* the client connection ("ipv4:127.0.0.1:53422") */
	char *min_level; /* heap or NULL */
	char **sources;	 /* heap array of heap strings */
	size_t n_sources;
	int64_t since_ms;
	uint64_t missed; /* lines not delivered and not yet announced */
};

/* A supervisor process the gateway watches. */
struct gw_child {
	struct gw_child *next;
	pid_t pid;
	char id[40];
	bool adopted; /* started by an earlier gateway run: not our child, no waitpid */
};

/* A DeleteSandbox waiting for its supervisor to exit. */
struct gw_delete {
	struct gw_delete *next;
	struct osh_rpc_call *call; /* one reference held; NULL once the client went */
	char id[40];
	char requested_by[96]; /* who asked (for GW_SANDBOX_DELETE) */
	pid_t pid;
	int64_t kill_at_ms; /* monotonic: SIGKILL after this */
	bool killed;
};

struct osh_gw {
	char data_dir[PATH_MAX];
	char yaml_path[PATH_MAX];
	char addr_path[PATH_MAX];
	char sandboxes_dir[PATH_MAX];
	char sandbox_bin[PATH_MAX];
	char addr[PATH_MAX + 8];     /* "unix:/abs/gateway.sock": clients and gateway.addr */
	char tcp_addr[128];	     /* bound "<host>:<port>" of --listen, "" when none */
	char sup_addr[PATH_MAX + 8]; /* address handed to supervisors (the socket) */
	struct gw_auth *auth;	     /* credentials, peer admission, refusal events */
	bool sites_owned;	     /* this gateway started the emission runtime */
	bool listen_logged;	     /* "listening on ..." written (before gateway.addr) */
	bool ev_ocsf;		     /* config as last reported in GW_CONFIG_CHANGE */
	bool jsonl_on;	       /* own JSONL (and event JSON) on: ocsf_logging_enabled or export */
	struct gx_export *exp; /* OCSF export to SIEM destinations (src/gateway/export) */
	int ev_ocsf_version;   /* ocsf_schema_version as last reported (enum ocsf_version) */
	uint64_t ev_rev;
	bool omit_sandbox_config;
	unsigned stop_grace_ms;
	size_t log_retention; /* lines kept per sandbox: no query can return more */
	struct osh_gw_store *store;
	struct osh_gw_cfgstate *cfg;
	struct osh_rpc_server *srv;
	bool spawned;
	bool addr_written;
	int lock_fd; /* flock on <data-dir>/gateway.lock, held for the lifetime */
	int64_t next_adopt_check_ms;
	int64_t next_cfg_sync_ms; /* next poll of the shared config values (tick) */
	int64_t started_mono_ms;  /* services registered (GetStatus uptime) */
	atomic_int reload_req;
	char store_server[256]; /* PostgreSQL host/socket dir for events */
	atomic_bool store_down; /* a GW_STORE_UNAVAILABLE was emitted, no RECOVERED yet */
	struct gw_follower *followers;
	struct gw_child *children;
	struct gw_delete *deletes;
	pthread_mutex_t pub_mu, fol_mu, del_mu;
	/* per-thread store connections (gw_store) */
	char db_path[PATH_MAX];
	struct osh_gw_store_opts store_opts;
	uint64_t serial; /* tells this gateway's thread-local stores from an earlier one's */
	pthread_mutex_t tstore_mu;
	struct gw_tstore *tstores;
};

/* A store connection opened for one thread (listed so destroy closes it). */
struct gw_tstore {
	struct gw_tstore *next;
	struct osh_gw_store *st;
};

/* The calling thread's own store connection, opened on first use; the
 * shared gw->store when that open fails (still correct, only serialised).
 * Valid until osh_gw_destroy. */
struct osh_gw_store *gw_store(struct osh_gw *gw);

/* Closes every per-thread connection (osh_gw_destroy, after the server and
 * its workers stopped). */
void gw_tstores_close(struct osh_gw *gw);

/* Whether the OCSF events carry their JSON (SandboxConfig.logging.ocsf_enabled
 * and the gateway's own JSONL): ocsf_logging_enabled, or an export
 * destination is configured (gateway.c). */
bool gw_ocsf_effective(struct osh_gw *gw, const struct osh_gw_config *c);

/* Registers every OpenShell method on gw->srv (service.c). */
OSH_MUST_CHECK int gw_services_register(struct osh_gw *gw);

/* Appends lines for sandbox `id` to the store and fans them out to followers.
 * Lines' sandbox_id and seq are ignored (set here). Returns the store result. */
OSH_MUST_CHECK int gw_logs_publish(struct osh_gw *gw, const char *id, struct osh_gw_logline *lines,
				   size_t n);

/* Records a "gateway"-sourced line about a sandbox (store + followers) and
 * writes it to stderr too. */
void gw_note(struct osh_gw *gw, const char *id, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends every follower of sandbox `id` (the sandbox is gone); a follower that
 * missed lines gets a last message saying how many. */
void gw_followers_end(struct osh_gw *gw, const char *id);

/* Child bookkeeping (gateway.c). */
OSH_MUST_CHECK int gw_child_add(struct osh_gw *gw, pid_t pid, const char *id, bool adopted);
struct gw_child *gw_child_find(struct osh_gw *gw, const char *id);

/* Finishes a DeleteSandbox whose process is gone (service.c). */
void gw_delete_complete(struct osh_gw *gw, struct gw_delete *d, int exit_code, bool has_code);

/* Looks a sandbox up by id (preferred when non-empty) or name. Fails the
 * call (NOT_FOUND / INVALID_ARGUMENT / INTERNAL) and returns non-zero when
 * absent (service.c). */
OSH_MUST_CHECK int gw_resolve_sandbox(struct osh_gw *gw, struct osh_rpc_call *call, const char *id,
				      const char *name, struct osh_gw_sandbox *sb);

/* Packs a policy, checks the bytes unpack again and hashes them (hex
 * SHA-256 into hash). *buf is heap (caller frees). OSH_ENOMEM, OSH_EPARSE
 * (does not read back). service.c. */
OSH_MUST_CHECK int gw_policy_encode(const Openshell__V1__SandboxPolicy *p, void **buf, size_t *len,
				    char hash[72]);

/* Policy proposals (proposals.c; docs/l7.md "Denials and proposals"). */
void gw_h_submit_analysis(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud);
void gw_h_get_proposals(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud);
void gw_h_decide_proposal(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud);

#endif
