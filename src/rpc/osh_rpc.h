/* osh_rpc.h - gRPC server and client glue over gRPC's core C API + protobuf-c.
 *
 * DESIGN: gRPC core gives completion queues and batches, protobuf-c gives
 * message descriptors. This layer joins them once, so services are written
 * as plain callbacks on protobuf-c messages:
 *
 *  - Server: one completion-queue loop (on its own thread via
 *    osh_rpc_server_spawn(), or in the caller via osh_rpc_server_run()).
 *    Work that may be slow (store queries, fan-out, big responses) must not
 *    run there: a method marked `offload` has its callbacks run on a bounded
 *    worker pool owned by the server (opts.workers threads, a job queue of
 *    opts.work_queue_max), so one slow call never delays a cheap one that
 *    stays on the loop. The callbacks of one call never run concurrently and
 *    keep their order (the next stream message is only read once the
 *    previous callback returned).
 *    The method table comes from the protoc-c service descriptor, so a path
 *    ("/openshell.v1.OpenShell/GetSandboxPolicy") cannot be mistyped. Exactly
 *    one request is kept outstanding per method, plus a generic one so an
 *    unknown path is answered UNIMPLEMENTED at once (gRPC core otherwise
 *    leaves it hanging until the client's deadline). Bytes that do not parse
 *    as the method's request are answered INVALID_ARGUMENT; messages above the
 *    configured size are refused by gRPC itself (RESOURCE_EXHAUSTED).
 *  - Server streaming is paced: one write in flight per call, a queue behind
 *    it bounded in messages and in bytes, and a documented policy when it is
 *    full (drop and count, or end the call with RESOURCE_EXHAUSTED). After a
 *    drop the method's on_drain hook is called once the reader has caught up
 *    (queue at most half full), so the writer can say at once what was lost.
 *    One packed message can be written to many calls (osh_rpc_packed) so a
 *    fan-out encodes once, whatever the number of readers. Any thread may push
 *    into a call (a log fan-out thread, say); the loop thread never blocks.
 *  - Every call is reference counted: the loop holds one reference per batch
 *    in flight and handlers may take their own (osh_rpc_call_ref) to keep a
 *    stream writer beyond the callback. A call is freed when the last
 *    reference goes, never earlier, so CLOSE/WRITE/READ completions may arrive
 *    in any order.
 *  - gRPC has no C alarm: the loop wakes at least every tick_ms and runs the
 *    caller's tick hook there (timers, signal flags, housekeeping).
 *  - Shutdown stops accepting, waits a grace period for calls to finish, then
 *    cancels what is still open (endless watch streams), runs every
 *    on_done, drains the queue and frees everything.
 *  - Client: synchronous calls, each with its own pluck queue, so one client
 *    (one channel) can be shared by many threads; a stream object is used by
 *    one thread at a time.
 *
 * Errors: functions return 0 or a negative enum osh_err (src/common/osh_err.h).
 * Client calls also fill a struct osh_rpc_status with the gRPC status code and
 * its message, which is what a user should see.
 *
 * Example (server):
 *
 *	static void get_policy(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
 *	{
 *		const Openshell__V1__GetSandboxPolicyRequest *req = (const void *)m;
 *		Openshell__V1__GetSandboxPolicyResponse resp =
 *			OPENSHELL__V1__GET_SANDBOX_POLICY_RESPONSE__INIT;
 *		if (!known(ud, req->sandbox_id)) {
 *			osh_rpc_call_fail(call, OSH_RPC_NOT_FOUND, "no sandbox %s",
 *req->sandbox_id); return;
 *		}
 *		... fill resp ...
 *		osh_rpc_call_reply(call, &resp.base);
 *	}
 *	struct osh_rpc_server_opts o = { .service = &openshell__v1__open_shell__descriptor,
 *					  .listen = "127.0.0.1:0" };
 *	struct osh_rpc_method m = { .name = "GetSandboxPolicy", .kind = OSH_RPC_UNARY,
 *				    .unary = get_policy, .ud = state };
 *	osh_rpc_server_create(&o, &srv); osh_rpc_server_add_method(srv, &m);
 *	osh_rpc_server_start(srv); osh_rpc_server_spawn(srv); ... osh_rpc_server_destroy(srv);
 */
#ifndef OSH_RPC_H
#define OSH_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "osh_err.h"

/* protobuf-c string fields are `char *` although packing never writes to
 * them; this drops const without tripping -Wcast-qual:
 * req.sandbox_id = OSH_RPC_STR(id); */
#define OSH_RPC_STR(s) ((char *)(uintptr_t)(const char *)(s))

/* gRPC status codes (numerically identical to grpc_status_code). */
enum osh_rpc_code {
	OSH_RPC_OK = 0,
	OSH_RPC_CANCELLED = 1,
	OSH_RPC_UNKNOWN = 2,
	OSH_RPC_INVALID_ARGUMENT = 3,
	OSH_RPC_DEADLINE_EXCEEDED = 4,
	OSH_RPC_NOT_FOUND = 5,
	OSH_RPC_ALREADY_EXISTS = 6,
	OSH_RPC_PERMISSION_DENIED = 7,
	OSH_RPC_RESOURCE_EXHAUSTED = 8,
	OSH_RPC_FAILED_PRECONDITION = 9,
	OSH_RPC_ABORTED = 10,
	OSH_RPC_OUT_OF_RANGE = 11,
	OSH_RPC_UNIMPLEMENTED = 12,
	OSH_RPC_INTERNAL = 13,
	OSH_RPC_UNAVAILABLE = 14,
	OSH_RPC_DATA_LOSS = 15,
	OSH_RPC_UNAUTHENTICATED = 16,
};

/* Upper-case gRPC name of a status code ("NOT_FOUND"); "UNKNOWN_CODE" for a
 * value outside 0..16. Static string, thread-safe. */
const char *osh_rpc_status_name(int code);

/* The osh_err a status code maps to: OK -> 0, UNAVAILABLE -> OSH_EUNAVAIL,
 * DEADLINE_EXCEEDED -> OSH_ETIMEDOUT, NOT_FOUND -> OSH_ENOTFOUND,
 * ALREADY_EXISTS -> OSH_EEXIST, INVALID_ARGUMENT -> OSH_EINVAL,
 * PERMISSION_DENIED/UNAUTHENTICATED -> OSH_EPERM, RESOURCE_EXHAUSTED ->
 * OSH_ETOOBIG, CANCELLED -> OSH_ECLOSED, anything else -> OSH_EPROTO. */
int osh_rpc_code_to_err(int code);

/* Status of a finished client call. Caller storage, nothing to free. */
struct osh_rpc_status {
	/** enum osh_rpc_code; OSH_RPC_OK on success */
	int code;
	/** status message from the server (or gRPC), NUL-terminated, truncated to fit */
	char message[512];
};


/* =============================== server =============================== */

struct osh_rpc_server;
struct osh_rpc_call;

enum osh_rpc_kind {
	OSH_RPC_UNARY = 0,	   /* one request, one response */
	OSH_RPC_CLIENT_STREAM = 1, /* many requests, one response */
	OSH_RPC_SERVER_STREAM = 2, /* one request, many responses */
};

/* What osh_rpc_call_write does when a server-stream call's queue is full. */
enum osh_rpc_full_policy {
	OSH_RPC_FULL_DROP = 0,	/* drop the new message, count it (osh_rpc_call_dropped) */
	OSH_RPC_FULL_CLOSE = 1, /* end the call with RESOURCE_EXHAUSTED */
};

/* Unary handler, and the start handler of a server-stream method. `req` is
 * the unpacked request, owned by the layer and valid only during the call.
 * The handler must end the call exactly once, during the callback or later
 * from any thread: unary with osh_rpc_call_reply() or osh_rpc_call_fail();
 * server stream with osh_rpc_call_finish() or osh_rpc_call_fail() (after any
 * number of osh_rpc_call_write()). A handler that ends it later must hold a
 * reference (osh_rpc_call_ref) until then. Runs on the loop thread, or on a
 * worker thread for an `offload` method. */
typedef void (*osh_rpc_handler_fn)(struct osh_rpc_call *call, const ProtobufCMessage *req,
				   void *ud);

/* Client-stream message handler: one call per received message (`msg` valid
 * only during the callback). May end the call early with osh_rpc_call_fail()
 * (no more messages are then delivered). Runs on the loop thread (a worker
 * thread for an `offload` method). */
typedef void (*osh_rpc_recv_fn)(struct osh_rpc_call *call, const ProtobufCMessage *msg, void *ud);

/* Client-stream end handler: the client half-closed; the handler must end
 * the call (osh_rpc_call_reply or osh_rpc_call_fail), now or later. Not
 * called when the call was already failed or the client went away. Note that
 * the client may still cancel after this point; on_done says how it ended. */
typedef void (*osh_rpc_end_fn)(struct osh_rpc_call *call, void *ud);

/* Called exactly once per call, when gRPC reports the call closed (on the
 * loop thread; for an `offload` method possibly on the worker that ran the
 * call's last callback, never while one runs): cancelled=true when the client went away, the
 * deadline passed or the server shut down before the status was sent. After it, writes return
 * OSH_ECLOSED. Release per-call state here (osh_rpc_call_data) and drop any
 * reference a fan-out holds. Optional. */
typedef void (*osh_rpc_done_fn)(struct osh_rpc_call *call, bool cancelled, void *ud);

/* Server stream: the reader caught up after a write was dropped (the queue
 * holds at most half its byte bound). Called once per drop episode, on the
 * loop thread, with no lock held: write a message saying what was lost. */
typedef void (*osh_rpc_drain_fn)(struct osh_rpc_call *call, void *ud);

/* Periodic hook on the loop thread (timers, signal flags). */
typedef void (*osh_rpc_tick_fn)(struct osh_rpc_server *srv, void *ud);

/* One method of the service. The struct is copied by osh_rpc_server_add_method. */
struct osh_rpc_method {
	/** method name as in the .proto ("PushSandboxLogs"); must exist in the service */
	const char *name;
	enum osh_rpc_kind kind;
	/** UNARY and SERVER_STREAM: the handler */
	osh_rpc_handler_fn handler;
	/** CLIENT_STREAM: per message, and at the clean end of the stream */
	osh_rpc_recv_fn on_message;
	osh_rpc_end_fn on_end;
	/** any kind, optional */
	osh_rpc_done_fn on_done;
	/** passed to every callback of this method */
	void *ud;
	/** SERVER_STREAM: queued messages per call beyond the one in flight; 0 = 256 */
	size_t queue_max;
	/** SERVER_STREAM: queued bytes per call beyond the one in flight; 0 = no
	 * byte bound. A message is always accepted into an empty queue, so the
	 * bound per call is queue_max_bytes plus one message. */
	size_t queue_max_bytes;
	enum osh_rpc_full_policy full_policy;
	/** SERVER_STREAM, optional: see osh_rpc_drain_fn */
	osh_rpc_drain_fn on_drain;
	/** run handler/on_message/on_end on the server's worker pool (needs
	 * opts.workers > 0; otherwise they run on the loop thread) */
	bool offload;
};

/* The kernel's word on who is at the other end of a Unix socket
 * (SO_PEERCRED, taken at accept). -1 fields: unknown. */
struct osh_rpc_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Why a Unix-socket connection was closed at accept (osh_rpc_refuse_fn). */
enum osh_rpc_refuse {
	OSH_RPC_REFUSE_PEER = 1,       /* the admission hook said no */
	OSH_RPC_REFUSE_CONN_LIMIT = 2, /* max_conns connections are open */
	OSH_RPC_REFUSE_NO_FDS = 3,     /* the process ran out of fds (EMFILE/ENFILE);
					* the peer is unknown (-1) */
};

/* Admission hook of a Unix listener: true admits the peer. Runs on the
 * listener thread, once per connection, before gRPC sees a byte. */
typedef bool (*osh_rpc_peer_fn)(const struct osh_rpc_peer *peer, void *ud);
/* Told about every connection closed at accept (enum osh_rpc_refuse). Runs
 * on the listener thread. */
typedef void (*osh_rpc_refuse_fn)(const struct osh_rpc_peer *peer, int why, void *ud);

/* Per-call authorisation hook: runs on the loop thread before a unary or
 * server-stream handler (msg = the request) and before each client-stream
 * message (msg = that message). Return 0 to let the handler run; otherwise
 * the hook must have ended the call (osh_rpc_call_fail) and the handler is
 * skipped (for a client stream: no further message is delivered). */
typedef int (*osh_rpc_authz_fn)(struct osh_rpc_call *call, const ProtobufCMessage *msg, void *ud);

struct osh_rpc_server_opts {
	/** protoc-c service descriptor, e.g. &openshell__v1__open_shell__descriptor (static) */
	const ProtobufCServiceDescriptor *service;
	/** "HOST:PORT" (port 0 = any free port, see osh_rpc_server_port), or
	 * "unix:PATH": a socket this layer binds and accepts on itself (peer
	 * check, connection cap, survives fd exhaustion; see rpc_listen.c) */
	const char *listen;
	/** optional second address of either form (at most one "unix:" in all):
	 * e.g. the gateway's Unix socket plus a TLS TCP port */
	const char *also_listen;
	/** unix: socket file mode (0 = 0660) and group (when socket_set_gid) */
	unsigned socket_mode;
	bool socket_set_gid;
	gid_t socket_gid;
	/** unix: admission hook (NULL = everyone who can open the socket), the
	 * refusal report (optional) and their user data */
	osh_rpc_peer_fn peer_check;
	osh_rpc_refuse_fn on_refuse;
	void *peer_ud;
	/** unix: most connections open at once (0 = 256); more are refused */
	size_t max_conns;
	/** a connection with no call for this long is closed (0 = 5 min) */
	unsigned idle_ms;
	/** HOST:PORT: a connection must finish its (TLS/HTTP2) handshake within
	 * this long (0 = 10 s) */
	unsigned handshake_ms;
	/** HOST:PORT with TLS: PEM texts of the server certificate chain, its
	 * key and the CA that client certificates must chain to. All three or
	 * none (plaintext); with them a client without a valid certificate is
	 * refused during the handshake. Copied by start; not kept. */
	const char *tls_cert_pem;
	const char *tls_key_pem;
	const char *tls_client_ca_pem;
	/** optional per-call authorisation hook and its user data */
	osh_rpc_authz_fn authz;
	void *authz_ud;
	/** largest request accepted, bytes; 0 = 4 MiB. Larger: RESOURCE_EXHAUSTED */
	size_t max_recv_bytes;
	/** largest response sent, bytes; 0 = 4 MiB */
	size_t max_send_bytes;
	/** tick hook period in ms (0 = 100) and the hook itself (optional) */
	unsigned tick_ms;
	osh_rpc_tick_fn tick;
	void *tick_ud;
	/** on shutdown, wait this long for open calls before cancelling them; 0 = 1000 ms */
	unsigned shutdown_grace_ms;
	/** worker threads for `offload` methods; 0 = none (everything on the loop) */
	unsigned workers;
	/** jobs waiting for a worker before new offloaded calls are refused
	 * RESOURCE_EXHAUSTED ("server busy"); 0 = 4096 */
	size_t work_queue_max;
};

/* Create a server (not yet listening). Calls grpc_init(). opts is copied;
 * opts->service must outlive the server. Errors: OSH_EINVAL (missing
 * service/listen), OSH_ENOMEM. Free with osh_rpc_server_destroy(). */
int osh_rpc_server_create(const struct osh_rpc_server_opts *opts,
			  struct osh_rpc_server **out) OSH_MUST_CHECK;

/* Register a handler; only before osh_rpc_server_start(). A method of the
 * service with no handler answers UNIMPLEMENTED. Errors: OSH_ENOTFOUND (name
 * not in the service), OSH_EEXIST (registered twice), OSH_EINVAL (callbacks
 * missing for the kind), OSH_ESTATE (already started). Not thread-safe. */
int osh_rpc_server_add_method(struct osh_rpc_server *srv,
			      const struct osh_rpc_method *m) OSH_MUST_CHECK;

/* Bind the listen address and start gRPC. After it, osh_rpc_server_port()
 * tells the bound port. Calls are only served once the loop runs (run or
 * spawn). Errors: OSH_EIO (cannot bind; message via osh_rpc_server_error),
 * OSH_ESTATE. */
int osh_rpc_server_start(struct osh_rpc_server *srv) OSH_MUST_CHECK;

/* Bound TCP port after a successful start (0 before, or when only a
 * "unix:" address is served). Thread-safe. */
int osh_rpc_server_port(const struct osh_rpc_server *srv);

/* Run the loop on the calling thread until osh_rpc_server_stop(); returns 0
 * after a clean shutdown (every call ended, on_done run for each). Handlers
 * and the tick hook run on this thread. Call once. */
int osh_rpc_server_run(struct osh_rpc_server *srv) OSH_MUST_CHECK;

/* Run the loop on a new thread (joined by osh_rpc_server_destroy). */
int osh_rpc_server_spawn(struct osh_rpc_server *srv) OSH_MUST_CHECK;

/* Ask the loop to shut down (grace, then cancel open calls). Returns at once.
 * Thread-safe and async-signal-safe (sets an atomic flag seen within 20 ms). */
void osh_rpc_server_stop(struct osh_rpc_server *srv);

/* Stop (if running), join a spawned loop, free everything, grpc_shutdown().
 * If the loop runs in the caller (osh_rpc_server_run), call this after run
 * returned. NULL is a no-op. Handlers' references must have been released
 * (on_done is the last moment to do so). */
void osh_rpc_server_destroy(struct osh_rpc_server *srv);

/* Last error text (bind failure etc.), "" if none. Valid until destroy. */
const char *osh_rpc_server_error(const struct osh_rpc_server *srv);

/* ---- per call (server side). Any thread, unless noted. ---- */

/* End a unary or client-stream call with OK and this response. `resp` is
 * packed before return (caller keeps ownership). It must be an instance of
 * the method's output type, else OSH_EINVAL and the call is failed INTERNAL.
 * OSH_ECLOSED when the call already ended (client gone, already replied):
 * harmless. Response larger than max_send_bytes: the call fails
 * RESOURCE_EXHAUSTED and OSH_ETOOBIG is returned. */
int osh_rpc_call_reply(struct osh_rpc_call *call, const ProtobufCMessage *resp);

/* End any call with a non-OK status and a printf-formatted message
 * (truncated at 1 KiB). For a server stream, queued messages are dropped.
 * OSH_ECLOSED when the call already ended. */
int osh_rpc_call_fail(struct osh_rpc_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Server stream: queue one message (packed before return; caller keeps
 * ownership). Never blocks. 0 = queued or sent; OSH_EFULL = dropped by the
 * full policy (FULL_CLOSE also ends the call RESOURCE_EXHAUSTED); OSH_ECLOSED
 * = the call ended (client gone, finished); OSH_EINVAL = wrong type/kind. */
int osh_rpc_call_write(struct osh_rpc_call *call, const ProtobufCMessage *msg);

/* Server stream: end with OK once every queued message was written. */
int osh_rpc_call_finish(struct osh_rpc_call *call);

/* Server stream: queue `last` whatever the queue bounds (a final summary, so
 * a reader learns what it missed even when its queue is full), then end with
 * OK. Same returns as osh_rpc_call_finish (plus OSH_EINVAL/OSH_ENOMEM/
 * OSH_ETOOBIG for a message that cannot be packed; the call still ends). */
int osh_rpc_call_finish_with(struct osh_rpc_call *call, const ProtobufCMessage *last);

/* A message packed once for writing to many server-stream calls (fan-out).
 * Immutable after creation; the bytes are shared, not copied, per write.
 * Owned by the creator: free with osh_rpc_packed_free (calls keep their own
 * references). Thread-safe to write from many threads. */
struct osh_rpc_packed;

/* Pack msg. Errors: OSH_ETOOBIG (over max_bytes, 0 = no bound), OSH_ENOMEM. */
int osh_rpc_packed_new(const ProtobufCMessage *msg, size_t max_bytes,
		       struct osh_rpc_packed **out) OSH_MUST_CHECK;
void osh_rpc_packed_free(struct osh_rpc_packed *p);
/* Packed size in bytes. */
size_t osh_rpc_packed_size(const struct osh_rpc_packed *p);

/* osh_rpc_call_write for a packed message (same bounds, policy and returns;
 * the message type must be the method's output type). */
int osh_rpc_call_write_packed(struct osh_rpc_call *call, const struct osh_rpc_packed *p);

/* Messages dropped by FULL_DROP on this call so far, and the number of
 * messages queued now (not yet handed to gRPC). */
uint64_t osh_rpc_call_dropped(const struct osh_rpc_call *call);
size_t osh_rpc_call_queued(const struct osh_rpc_call *call);

/* true once the call ended (status sent, or client gone). */
bool osh_rpc_call_closed(const struct osh_rpc_call *call);

/* Keep the call alive beyond the callback (e.g. in a fan-out list). Every
 * ref needs one unref; the call is freed at the last one. */
void osh_rpc_call_ref(struct osh_rpc_call *call);
void osh_rpc_call_unref(struct osh_rpc_call *call);

/* Per-call handler data (NULL at start). Set/get are not locked: use them
 * from the call's callbacks (which never run concurrently). The layer never
 * frees it: on_done does. */
void osh_rpc_call_set_data(struct osh_rpc_call *call, void *data);
void *osh_rpc_call_data(const struct osh_rpc_call *call);

/* Full method path ("/openshell.v1.OpenShell/GetConfig"); static string. */
const char *osh_rpc_call_method(const struct osh_rpc_call *call);

/* Client's peer address ("ipv4:127.0.0.1:53422": one per connection), owned
 * by the call, cached on first use: call it from the call's callbacks. */
const char *osh_rpc_call_peer(const struct osh_rpc_call *call);

/* The kernel's credentials of the peer of a call that came in on the
 * "unix:" listener (SO_PEERCRED at accept); false for TCP or when unknown.
 * From the call's callbacks and the authz hook. */
bool osh_rpc_call_peer_cred(struct osh_rpc_call *call, struct osh_rpc_peer *out);

/* Value of a request metadata key (lowercase), NUL-terminated copy owned by
 * the call and valid for its lifetime; NULL when absent. From the call's
 * callbacks only. */
const char *osh_rpc_call_metadata(struct osh_rpc_call *call, const char *key);

/* Connection counters of a "unix:" server (zeros for HOST:PORT).
 * Thread-safe. */
struct osh_rpc_listen_stats {
	uint64_t accepted;   /* handed to gRPC */
	uint64_t refused;    /* peer refused or no fds */
	uint64_t over_limit; /* refused: max_conns reached */
};
void osh_rpc_server_listen_stats(const struct osh_rpc_server *srv, struct osh_rpc_listen_stats *st);

/* Server whose loop runs this call. */
struct osh_rpc_server *osh_rpc_call_server(const struct osh_rpc_call *call);

/* =============================== client =============================== */

struct osh_rpc_client;
struct osh_rpc_cstream; /* client-streaming call in progress */
struct osh_rpc_sstream; /* server-streaming call in progress */

struct osh_rpc_client_opts {
	/** largest response accepted, bytes; 0 = 4 MiB */
	size_t max_recv_bytes;
	/** largest request sent, bytes; 0 = 4 MiB (larger: RESOURCE_EXHAUSTED locally) */
	size_t max_send_bytes;
	/** HTTP/2 keepalive ping period in ms (>= 5000: osh_rpc servers refuse
	 * faster pings), also on idle streams, so a dead peer ends a long-lived
	 * stream instead of hanging it; 0 = off */
	unsigned keepalive_ms;
	/** TLS: PEM text of the CA that signs the server's certificate (set =
	 * TLS channel), and optionally this client's certificate chain and key
	 * (mutual TLS). Copied at create. */
	const char *tls_ca_pem;
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

/* Metadata key of a sandbox's credential: the gateway makes one per sandbox
 * and hands it to its supervisor, which sends it with every call. */
#define OSH_RPC_MD_SANDBOX_CREDENTIAL "x-openshell-sandbox-credential"

/* Process-wide identity metadata added to every call of every client of
 * this process (a supervisor's sandbox credential): one pair, copied;
 * key lowercase. Set it before creating clients; NULL key clears it.
 * Returns 0, OSH_EINVAL (bad key) or OSH_ENOMEM. Not thread-safe against
 * calls in flight. */
int osh_rpc_client_set_identity(const char *key, const char *value) OSH_MUST_CHECK;

/* One metadata pair; key lowercase ASCII ("-bin" suffix for binary values). */
struct osh_rpc_md {
	const char *key;
	const char *value;
};

struct osh_rpc_call_opts {
	/** whole-call deadline in ms; 0 = unary 30 s, streams none */
	int64_t timeout_ms;
	/** wait for the server to come up (until the deadline) instead of failing fast */
	bool wait_for_ready;
	/** initial metadata, optional */
	const struct osh_rpc_md *md;
	size_t n_md;
};

/* Channel to `target` ("HOST:PORT", plaintext unless opts carry TLS, or
 * "unix:PATH"). Connection is lazy: a dead
 * server shows up as UNAVAILABLE on the first call. `service` (static) names
 * methods for the calls below; opts may be NULL. Calls grpc_init(). */
int osh_rpc_client_create(const char *target, const ProtobufCServiceDescriptor *service,
			  const struct osh_rpc_client_opts *opts,
			  struct osh_rpc_client **out) OSH_MUST_CHECK;

/* Close the channel (cancels nothing: finish or destroy streams first),
 * grpc_shutdown(). NULL is a no-op. */
void osh_rpc_client_destroy(struct osh_rpc_client *c);

/* Target as given to create. */
const char *osh_rpc_client_target(const struct osh_rpc_client *c);

/* Unary call of `method` (name as in the .proto). On OK returns 0 and sets
 * *resp to the unpacked response (free with osh_rpc_msg_free). Otherwise
 * returns osh_rpc_code_to_err(st->code) (OSH_EINVAL for an unknown method
 * name or a request of the wrong type, OSH_EPARSE for a response that does
 * not parse) and *resp is NULL. `st` (required) is always filled. opts may be
 * NULL. Thread-safe: any number of threads may call on one client. Blocks up
 * to the deadline. */
int osh_rpc_client_unary(struct osh_rpc_client *c, const char *method, const ProtobufCMessage *req,
			 const struct osh_rpc_call_opts *opts, ProtobufCMessage **resp,
			 struct osh_rpc_status *st) OSH_MUST_CHECK;

/* Unary call with raw bytes on any path (tests, tools): `path` is the full
 * "/pkg.Service/Method"; the response bytes are returned in *out (malloc'd,
 * free()) with *out_len, or *out NULL on a non-OK status. */
int osh_rpc_client_unary_raw(struct osh_rpc_client *c, const char *path, const void *req,
			     size_t req_len, const struct osh_rpc_call_opts *opts, void **out,
			     size_t *out_len, struct osh_rpc_status *st) OSH_MUST_CHECK;

/* Free a message returned by this layer (protobuf_c_message_free_unpacked).
 * NULL is a no-op. */
void osh_rpc_msg_free(ProtobufCMessage *m);

/* Open a client-streaming call. Errors: OSH_EINVAL (unknown method),
 * OSH_EUNAVAIL etc. when the call cannot start. The stream belongs to one
 * thread at a time; free it with finish or destroy. */
int osh_rpc_cstream_open(struct osh_rpc_client *c, const char *method,
			 const struct osh_rpc_call_opts *opts,
			 struct osh_rpc_cstream **out) OSH_MUST_CHECK;

/* Send one message; blocks until gRPC accepted it (flow control) or the call
 * ended. 0 = sent; OSH_ECLOSED = the call ended (server failed it, peer gone,
 * deadline): call osh_rpc_cstream_finish to learn the status. */
int osh_rpc_cstream_send(struct osh_rpc_cstream *s, const ProtobufCMessage *msg) OSH_MUST_CHECK;

/* Half-close, wait for the response and status, free the stream. Returns
 * like osh_rpc_client_unary (*resp set on OK; free with osh_rpc_msg_free). */
int osh_rpc_cstream_finish(struct osh_rpc_cstream *s, ProtobufCMessage **resp,
			   struct osh_rpc_status *st) OSH_MUST_CHECK;

/* Cancel (if not finished) and free. NULL is a no-op. */
void osh_rpc_cstream_destroy(struct osh_rpc_cstream *s);

/* Open a server-streaming call with its one request. */
int osh_rpc_sstream_open(struct osh_rpc_client *c, const char *method, const ProtobufCMessage *req,
			 const struct osh_rpc_call_opts *opts,
			 struct osh_rpc_sstream **out) OSH_MUST_CHECK;

/* Next message, waiting at most timeout_ms (<0 = until the call deadline).
 * 0 = *msg set (free with osh_rpc_msg_free). OSH_ETIMEDOUT = nothing yet, the
 * stream is still open: call again. OSH_ECLOSED = the stream ended; st holds
 * the final status (OK for a clean end). Other negative = error with st set
 * (OSH_EPARSE: a message did not parse; the call is cancelled). */
int osh_rpc_sstream_next(struct osh_rpc_sstream *s, int timeout_ms, ProtobufCMessage **msg,
			 struct osh_rpc_status *st) OSH_MUST_CHECK;

/* Cancel the call (the server sees the client go away). Safe to call from
 * another thread while one is blocked in next (which then returns
 * OSH_ECLOSED with CANCELLED). */
void osh_rpc_sstream_cancel(struct osh_rpc_sstream *s);

/* Cancel if still open, wait for gRPC to let go, free. NULL is a no-op. */
void osh_rpc_sstream_destroy(struct osh_rpc_sstream *s);

#endif
