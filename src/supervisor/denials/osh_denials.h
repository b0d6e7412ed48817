/* osh_denials.h - denials: recording, aggregation, mechanistic proposals.
 *
 * DESIGN
 * Every place that refuses a connection (the proxy's CONNECT and forward
 * paths, its SSRF rules, L7 rules, the bypass monitor) tells this module
 * with one call, osh_denials_record(). The call goes to the process-wide
 * aggregator the denials subsystem installs (denials_subsys.c), so the
 * deciders never learn about timers, the gateway or proposals; with no
 * aggregator installed (standalone supervisor, osh-proxy) it is a no-op.
 *
 * The aggregator folds denials by (host, port, binary): a count, first and
 * last seen, the first denial's ancestors, reason and stage, and up to
 * OSH_DENIAL_L7_MAX (method, path) samples per key. The number of keys is
 * bounded; a denial that would need a key beyond the bound is counted
 * (`overflow`), never stored. A flush drains every key at once; when the
 * gateway cannot take a round, the caller gives the batch back
 * (osh_denial_agg_restore) so the next round carries it, within the same
 * bound (what does not fit is counted as `dropped`).
 *
 * The mechanistic mapper turns summaries into PolicyChunk messages
 * (proto/sandbox.proto): a network_policies rule named
 * allow_<host>_<port> with the endpoint, allowed_ips when the host resolves
 * to an internal address, REST rules with generalised paths when L7 samples
 * exist, the binary, a confidence, a rationale and security notes.
 *
 * Ownership: strings given to record/add are copied; batches and chunks are
 * owned by the caller (osh_denial_batch_free, osh_denial_chunks_free).
 * Thread-safety: record, add, drain and restore may be called from any
 * thread (one mutex per aggregator); the mapper is reentrant.
 */
#ifndef OSH_DENIALS_H
#define OSH_DENIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"
#include "sandbox.pb-c.h"

/* Where a denial was decided (the wire names: osh_denial_stage_name). */
enum osh_denial_stage {
	OSH_DENIAL_CONNECT = 0, /* "connect": CONNECT refused by the policy        */
	OSH_DENIAL_SSRF,	/* "ssrf": an internal address not in allowed_ips */
	OSH_DENIAL_FORWARD,	/* "forward": plain-HTTP request refused           */
	OSH_DENIAL_FORWARD_L7,	/* "forward-l7-deny": an L7 rule refused it        */
	OSH_DENIAL_BYPASS,	/* "bypass": a direct connection around the proxy  */
};

/* L7 samples kept per key. */
#define OSH_DENIAL_L7_MAX 20
/* Default bound on the keys of one aggregator. */
#define OSH_DENIAL_DEFAULT_KEYS 256

/* One denial. Every pointer may be NULL (host "-", binary "-"); borrowed
 * for the call. */
struct osh_denial {
	const char *host; /* requested host or the destination address */
	uint16_t port;
	const char *binary;	      /* executable path of the client */
	const char *const *ancestors; /* executable paths, nearest parent first */
	size_t n_ancestors;
	const char *reason; /* the deny reason the client got */
	enum osh_denial_stage stage;
	const char *method; /* L7: request method, or NULL */
	const char *path;   /* L7: request path (query ignored), or NULL */
	int64_t ts_ms;	    /* wall clock; 0 = now */
};

/* One (method, path) seen for a key. */
struct osh_denial_l7 {
	char *method;
	char *path;
	uint32_t count;
};

/* One aggregated key. All strings heap. */
struct osh_denial_summary {
	char *host;
	uint16_t port;
	char *binary; /* "-" when unknown */
	char **ancestors;
	size_t n_ancestors;
	char *reason;
	enum osh_denial_stage stage; /* of the first denial */
	bool ssrf_seen;		     /* any denial of the key was an SSRF refusal */
	int64_t first_ms, last_ms;
	uint64_t count;
	struct osh_denial_l7 l7[OSH_DENIAL_L7_MAX];
	size_t n_l7;
};

/* What a drain took out. */
struct osh_denial_batch {
	struct osh_denial_summary *v;
	size_t n;
	uint64_t denials;  /* sum of counts */
	uint64_t overflow; /* denials refused since the last drain (no free key) */
	uint64_t dropped;  /* restored keys that did not fit since the last drain */
};

struct osh_denial_agg;

/* "connect", "ssrf", "forward", "forward-l7-deny", "bypass". Static. */
const char *osh_denial_stage_name(enum osh_denial_stage s);

/* An aggregator of at most max_keys keys (0 = OSH_DENIAL_DEFAULT_KEYS).
 * OSH_ENOMEM. Caller owns *out (osh_denial_agg_destroy). */
OSH_MUST_CHECK int osh_denial_agg_create(size_t max_keys, struct osh_denial_agg **out);
void osh_denial_agg_destroy(struct osh_denial_agg *agg);

/* Folds one denial in. OSH_EFULL when it needed a new key and none is free
 * (counted in the next batch's overflow), OSH_ENOMEM. */
OSH_MUST_CHECK int osh_denial_agg_add(struct osh_denial_agg *agg, const struct osh_denial *d);

/* Moves every key out into *out (n may be 0) and resets the counters. */
OSH_MUST_CHECK int osh_denial_agg_drain(struct osh_denial_agg *agg, struct osh_denial_batch *out);

/* Gives a drained batch back after a failed delivery: each summary is merged
 * into its key (counts added, first/last widened, samples merged) or takes
 * a free key; summaries that fit nowhere are counted as dropped. The batch
 * is emptied (its strings moved or freed). Returns the number dropped. */
size_t osh_denial_agg_restore(struct osh_denial_agg *agg, struct osh_denial_batch *b);

/* Keys held now. */
size_t osh_denial_agg_keys(struct osh_denial_agg *agg);

void osh_denial_batch_free(struct osh_denial_batch *b);

/* The process-wide aggregator osh_denials_record feeds. NULL uninstalls. The
 * installer keeps ownership and must uninstall before destroying it. */
void osh_denials_install(struct osh_denial_agg *agg);

/* Records a denial into the installed aggregator; a no-op without one.
 * Never blocks on I/O. */
void osh_denials_record(const struct osh_denial *d);

/* ------------------------------------------------------------- mapper -- */

/* Fills ips[] (textual addresses) for host:port; returns 0 or an osh_err
 * with why (a static or ud-owned string) set. */
typedef int (*osh_denial_resolve_fn)(void *ud, const char *host, uint16_t port, char ips[][46],
				     size_t max, size_t *n, const char **why);

struct osh_denial_map_opts {
	osh_denial_resolve_fn resolve; /* NULL = getaddrinfo */
	void *resolve_ud;
	/* Told when a host does not resolve (the rule then has no allowed_ips). */
	void (*on_dns_fail)(void *ud, const char *host, uint16_t port, const char *why);
	void *dns_ud;
};

/* allow_<host: '.' and '-' -> '_', other bytes outside [A-Za-z0-9_] dropped>_<port>
 * into out. */
void osh_denial_rule_name(const char *host, uint16_t port, char *out, size_t cap);

/* A path with its last segment replaced by '*' when that segment looks like
 * an id (>= 2 digits all numeric; >= 24 hex-or-dash chars containing '-';
 * >= 16 chars all hex). Query dropped. Into out. */
void osh_denial_generalize_path(const char *path, char *out, size_t cap);

/* Confidence in [0.1, 0.95] (docs/l7.md). */
float osh_denial_confidence(const struct osh_denial_summary *s);

/* True for loopback, RFC 1918, link-local, ::1, fe80::/10, fc00::/7 and
 * v4-mapped forms of those. */
bool osh_denial_ip_internal(const char *ip);

/* One PolicyChunk per summary, sorted by confidence (highest first). *out
 * is a heap array of heap messages (osh_denial_chunks_free). OSH_ENOMEM. */
OSH_MUST_CHECK int osh_denial_map(const struct osh_denial_summary *s, size_t n,
				  const struct osh_denial_map_opts *opts,
				  Openshell__V1__PolicyChunk ***out, size_t *n_out);
void osh_denial_chunks_free(Openshell__V1__PolicyChunk **v, size_t n);

#endif
