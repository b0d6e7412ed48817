/* l7_infer.h - inference.local: model requests of the sandboxed agent routed
 * to the operator's model endpoints, with credentials only the supervisor
 * holds.
 *
 * DESIGN
 * The agent talks to `https://inference.local/v1/...` through the proxy
 * (CONNECT inference.local, any case, any port). The proxy does not decide
 * that tunnel by policy: it hands the client socket to osh_l7_infer_take(),
 * which answers `200 Connection Established`, lets the TLS layer terminate
 * the session with a leaf for `inference.local` (or serves plain HTTP when
 * the client speaks it inside the tunnel), and runs osh_l7_infer_serve(): a
 * keep-alive loop reading one bounded request at a time, matching it
 * against the pattern table (method + exact path -> protocol), picking the
 * first route that speaks that protocol, and forwarding it with the
 * client's credentials stripped, the route's key injected and the JSON
 * body's `model` set to the route's model. The answer is streamed back
 * chunked as it arrives. Everything else is refused with a JSON error body;
 * every request is one event (l7_infer_sites.c).
 *
 * The module is in two parts so that the parsers can be tested and fuzzed
 * without threads or sockets:
 *   pure (l7_infer.c)      routes file, request framing (head by the proxy's
 *                          strict parser, Content-Length / chunked body),
 *                          pattern table, router, header rules, body rewrite,
 *                          the streaming chunked decoder;
 *   serving (l7_infer_serve.c)  sessions, upstream HTTP/HTTPS client,
 *                          streaming, error answers, events.
 *
 * Secrets: a route's API key lives only in the supervisor's memory (read
 * from the routes file or from the supervisor's environment). It is written
 * only into the upstream request, never into an event, an error text or the
 * command's environment, and wiped when the routes are freed.
 *
 * Ownership: written per function. Routes are immutable after parsing and
 * may be read from any thread; an osh_l7_infer owns its routes.
 */
#ifndef OSH_L7_INFER_H
#define OSH_L7_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "osh_err.h"
#include "osh_l7_io.h"
#include "proxy_http.h"

/* ------------------------------------------------------------ protocols */

/* The protocols of the pattern table, as bits (a route speaks a set). */
enum osh_l7_infer_proto {
	OSH_L7_INFER_PROTO_NONE = 0,
	OSH_L7_INFER_OPENAI_CHAT = 1u << 0,	   /* openai_chat_completions */
	OSH_L7_INFER_OPENAI_COMPLETIONS = 1u << 1, /* openai_completions */
	OSH_L7_INFER_OPENAI_RESPONSES = 1u << 2,   /* openai_responses */
	OSH_L7_INFER_ANTHROPIC_MESSAGES = 1u << 3, /* anthropic_messages */
	OSH_L7_INFER_MODEL_DISCOVERY = 1u << 4,	   /* model_discovery */
};

/* The name of one protocol bit ("openai_chat_completions", ...), "-" for
 * NONE or several bits. Static. */
const char *osh_l7_infer_proto_name(unsigned proto);

/* The pattern table: POST /v1/chat/completions, POST /v1/completions,
 * POST /v1/responses, POST /v1/messages, GET /v1/models and
 * GET /v1/models/<anything>. Method case-insensitive, path exact, the query
 * string ignored. Returns one protocol bit or OSH_L7_INFER_PROTO_NONE. */
unsigned osh_l7_infer_classify(const char *method, size_t method_len, const char *path,
			       size_t path_len);

/* --------------------------------------------------------------- routes */

struct osh_l7_infer_route {
	char *name;
	char *endpoint;	     /* as configured, trailing '/' trimmed */
	char *model;	     /* written into JSON bodies' "model" */
	char *provider_type; /* "openai" when absent */
	unsigned protocols;  /* enum osh_l7_infer_proto bits, never 0 */
	char *api_key;	     /* SECRET: only ever written upstream */
	char *api_key_env;   /* the variable it came from, or NULL */
	bool anthropic;	     /* x-api-key + anthropic-version instead of Bearer */
	unsigned timeout_ms; /* connect + response head; default 60000 */
	/* the endpoint, parsed */
	bool tls;
	char *host; /* lower-cased; IPv6 without brackets */
	uint16_t port;
	char *base_path; /* "" or "/prefix" without a trailing '/' */
};

struct osh_l7_infer_routes {
	struct osh_l7_infer_route *r;
	size_t n;
	char *source; /* the file name the routes came from */
};

#define OSH_L7_INFER_ROUTES_MAX	  64
#define OSH_L7_INFER_ROUTES_BYTES (1u << 20)

/* Parses a routes file (reference format):
 *   routes:
 *     - name: local                 # required, unique
 *       endpoint: http://127.0.0.1:8000/v1   # http:// or https://, required
 *       model: llama-3              # required
 *       provider_type: openai       # optional: openai, nvidia, anthropic, ...
 *       protocols: [openai_chat_completions, model_discovery]  # required
 *       api_key: sk-...             # or api_key_env: NAME (exactly one)
 *       timeout_secs: 60            # optional, 1..3600
 * Unknown keys, a missing or empty required value, an unknown protocol (after
 * trim + lower-case; duplicates folded), a key variable that is unset or
 * empty, a bad endpoint (scheme, userinfo, port, fragment) are refused with
 * err = "<source>:<line>: <key path>: <what>" (the key's value never
 * appears). An empty `routes` list is valid (n = 0: inference answers 503).
 * envp: NULL-terminated NAME=VALUE list searched for api_key_env (NULL =
 * the process environment). Returns 0 with *out owned by the caller
 * (osh_l7_infer_routes_free), OSH_EPARSE, OSH_ETOOBIG or OSH_ENOMEM. */
OSH_MUST_CHECK int osh_l7_infer_routes_parse(const char *text, size_t len, const char *source,
					     char *const *envp, struct osh_l7_infer_routes **out,
					     char *err, size_t errlen);

/* Reads `path` (at most OSH_L7_INFER_ROUTES_BYTES) and parses it as above;
 * OSH_EIO when it cannot be read (err names the file and errno). */
OSH_MUST_CHECK int osh_l7_infer_routes_load(const char *path, char *const *envp,
					    struct osh_l7_infer_routes **out, char *err,
					    size_t errlen);

/* Wipes the keys and frees. NULL ok. */
void osh_l7_infer_routes_free(struct osh_l7_infer_routes *rs);

/* The router: the first route (file order) whose protocols contain `proto`,
 * or NULL. */
const struct osh_l7_infer_route *osh_l7_infer_route_pick(const struct osh_l7_infer_routes *rs,
							 unsigned proto);

/* The upstream request target: the route's base path + `path` (which keeps
 * its query), with a duplicate "/v1" collapsed when the base ends in "/v1"
 * and the path starts with "/v1/" (or is "/v1"). Writes a NUL-terminated
 * string; OSH_ETOOBIG when it does not fit. */
OSH_MUST_CHECK int osh_l7_infer_upstream_target(const struct osh_l7_infer_route *r,
						const char *path, size_t path_len, char *out,
						size_t cap);

/* ------------------------------------------------------------ requests */

#define OSH_L7_INFER_BODY_MAX	  (10u << 20) /* request bytes (head + body) */
#define OSH_L7_INFER_CHUNKS_MAX	  4096u	      /* chunks of a chunked request body */
#define OSH_L7_INFER_RESPONSE_MAX (32u << 20) /* response body relayed, then cut */

/* The streaming chunked decoder (RFC 9112 7.1), strict: CR must be followed
 * by LF, sizes are 1..15 hex digits, extensions and trailer lines are
 * skipped but bounded (1 KiB a line). Used for request bodies and for
 * upstream responses. Zero-initialise to start. */
struct osh_l7_chunk_dec {
	int st;
	uint64_t left;	 /* bytes of the current chunk still to come */
	unsigned digits; /* of the current size */
	unsigned line;	 /* bytes of the current extension / trailer line */
	unsigned chunks; /* chunks seen (the last, empty one not counted) */
	uint64_t total;	 /* data bytes delivered */
	bool done;	 /* the final CRLF was read */
};

/* Feeds in[0..n): data bytes go to out(arg, p, len) as they are decoded.
 * Returns the bytes consumed (< n only when the message ended: bytes after
 * it belong to the next message) or -1 with *reason a static sentence
 * ("chunk size is not hexadecimal", ...). out may return false to stop: the
 * call then returns -1 with *reason "stopped". */
ssize_t osh_l7_chunk_dec_feed(struct osh_l7_chunk_dec *d, const char *in, size_t n,
			      bool (*out)(void *arg, const char *p, size_t len), void *arg,
			      const char **reason);

/* One parsed inference request. head points into the caller's buffer;
 * body is owned by the request (NULL when empty). */
struct osh_l7_infer_req {
	struct osh_http_req head;
	const char *path; /* origin-form path + query (absolute-form reduced) */
	size_t path_len;
	size_t consumed; /* bytes of the buffer this request used */
	char *body;
	size_t body_len;
	bool keep_alive;      /* the client may send another request after it */
	bool expect_continue; /* "Expect: 100-continue" was sent */
};

/* Frames one request at the start of buf[0..len) with the bounds above.
 * Returns 1 (complete: rq filled), 0 (a valid prefix: read more; when the
 * head is complete rq->head is filled and rq->expect_continue says whether
 * to answer 100 Continue now), or OSH_EPARSE / OSH_ETOOBIG / OSH_ENOMEM with
 * *status (400, 413, 431, 501, 505, 500) and *reason a static sentence.
 * rq must be osh_l7_infer_req_fini()'d after any call. */
OSH_MUST_CHECK int osh_l7_infer_parse_request(const char *buf, size_t len,
					      struct osh_l7_infer_req *rq, int *status,
					      const char **reason);

void osh_l7_infer_req_fini(struct osh_l7_infer_req *rq);

/* Header rules. Request headers never forwarded: authorization, x-api-key,
 * host, content-length and the hop-by-hop set (connection, keep-alive,
 * proxy-authenticate, proxy-authorization, proxy-connection, te, trailer,
 * transfer-encoding, upgrade) plus expect; response headers never relayed:
 * content-length and the hop-by-hop set. Case-insensitive. */
bool osh_l7_infer_strip_request_header(const char *name, size_t len);
bool osh_l7_infer_strip_response_header(const char *name, size_t len);

/* Sets "model" of a JSON object body to `model` (added when absent).
 * Returns 1 with *out (heap, caller frees) and *out_len, 0 when the body is
 * not a JSON object (it is forwarded unchanged), OSH_ENOMEM. */
OSH_MUST_CHECK int osh_l7_infer_rewrite_model(const char *body, size_t len, const char *model,
					      char **out, size_t *out_len);

/* The reason phrase of an HTTP status ("Service Unavailable"); "Unknown"
 * only for codes no RFC names. Static. */
const char *osh_l7_infer_reason_phrase(int status);

/* -------------------------------------------------------------- serving */

struct osh_l7_infer;

/* TLS termination of the client side, supplied by the TLS layer (l7):
 * terminate() runs the server handshake on `fd` with a leaf certificate for
 * `leaf_name` and returns an osh_l7_io over the session (*io) and an opaque
 * handle (*sess) that release() frees (it does not close fd). Returns 0 or
 * a negative osh_err with err filled. */
struct osh_l7_infer_tls {
	int (*terminate)(void *arg, int fd, const char *leaf_name, const struct osh_l7_io **io,
			 void **sess, char *err, size_t errlen);
	void (*release)(void *arg, void *sess);
	void *arg;
};

struct osh_l7_infer_config {
	/* Taken over by osh_l7_infer_create (also on failure). NULL = routes
	 * not configured: every inference request gets 503. */
	struct osh_l7_infer_routes *routes;
	const char *
	    upstream_ca_file; /* extra CA bundle for https:// endpoints; NULL = system store only */
	const struct osh_l7_infer_tls *tls; /* NULL: a TLS ClientHello in the tunnel is refused */
	unsigned max_sessions;		    /* 0 = 64 concurrent tunnels */
	unsigned client_timeout_ms;	    /* 0 = 120000: idle keep-alive / request read */
	unsigned chunk_idle_ms;		    /* 0 = 30000: upstream body, per read */
	size_t response_max;		    /* 0 = OSH_L7_INFER_RESPONSE_MAX */
};

/* Creates the router (TLS client context included). Returns 0, OSH_ENOMEM,
 * or OSH_EIO when the CA file cannot be loaded (err names it). Emits
 * INFER_ROUTES_LOADED. */
OSH_MUST_CHECK int osh_l7_infer_create(const struct osh_l7_infer_config *cfg,
				       struct osh_l7_infer **out, char *err, size_t errlen);

/* Who is asking (for the events). Strings borrowed for the call. */
struct osh_l7_infer_client {
	const char *src_ip;
	uint16_t src_port;
	int pid;	       /* 0 = unknown */
	const char *exe;       /* NULL = unknown */
	uint16_t connect_port; /* the port of the CONNECT (443 for https://) */
};

struct osh_l7_infer_stats {
	unsigned requests; /* requests read */
	unsigned routed;   /* answered by an upstream */
	unsigned refused;  /* answered with an error body */
};

/* Serves the keep-alive request loop on an already terminated stream
 * (`early`: bytes already read from it). Returns when the client closes,
 * a request ends the connection, or an I/O error. Never closes io. */
void osh_l7_infer_serve(struct osh_l7_infer *inf, const struct osh_l7_io *io, const char *early,
			size_t n_early, bool tls, const struct osh_l7_infer_client *cl,
			struct osh_l7_infer_stats *st);

/* The proxy's hand-off for CONNECT inference.local: takes ownership of the
 * connected client socket `fd` (bytes the client sent after its CONNECT head
 * in early[0..n_early), copied). On a session thread of its own: answers
 * "200 Connection Established", terminates TLS when the client starts a
 * handshake (plain HTTP is served as is), runs osh_l7_infer_serve, closes
 * fd. Over max_sessions, or once stopping, the client gets a 503 and fd is
 * closed at once (with an event). Never blocks. Thread-safe. */
void osh_l7_infer_take(struct osh_l7_infer *inf, int fd, const char *early, size_t n_early,
		       const struct osh_l7_infer_client *cl);

/* Sessions running now (tests). */
unsigned osh_l7_infer_sessions(struct osh_l7_infer *inf);

/* Refuses new sessions, shuts down the sockets of the running ones and waits
 * until they ended. Idempotent. */
void osh_l7_infer_stop(struct osh_l7_infer *inf);

void osh_l7_infer_destroy(struct osh_l7_infer *inf); /* stops first; NULL ok */

#endif
