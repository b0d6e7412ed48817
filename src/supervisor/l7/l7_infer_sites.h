/* l7_infer_sites.h - the OCSF log sites of inference.local, one function
 * each (rows INFER_* of schema/sites.yaml, subsystem supervisor/l7).
 *
 * DESIGN
 * The serving code says what happened (struct osh_l7_infer_evinfo); these
 * functions decide how it reads in OCSF:
 *   routes loaded / refused   -> Device Config State Change (5019)
 *   tunnel intercepted        -> Detection Finding (2004), informational
 *   request routed / refused / failed -> HTTP Activity (4002) whose activity
 *                                is the request's method, firewall_rule type
 *                                "inference_route" naming the route
 *   malformed input           -> Network Activity (4001) Refuse
 *   broken upstream stream    -> Detection Finding (2004), medium
 * No event ever carries an API key: the route's name, model and endpoint
 * (which cannot hold user info, l7_infer.c refuses it) are all they say
 * about a route. All functions are thread-safe and borrow their arguments.
 */
#ifndef OSH_L7_INFER_SITES_H
#define OSH_L7_INFER_SITES_H

#include <stdbool.h>
#include <stdint.h>

#include "l7_infer.h"

struct osh_l7_infer_evinfo {
	const struct osh_l7_infer_client *cl; /* may be NULL */
	bool tls;			      /* the tunnel was TLS-terminated */
	const char *method;		      /* request method (NULL before a head) */
	const char *path;		      /* request path (query left out) */
	const struct osh_l7_infer_route *route;
	unsigned proto;	    /* enum osh_l7_infer_proto bit, 0 = none */
	int status;	    /* status the client got (0 = none) */
	const char *reason; /* why refused / failed */
	uint64_t response_bytes;
	bool truncated;
	int64_t duration_ms;
};

/* INFER_ROUTES_LOADED */
void osh_l7_infer_ev_routes_loaded(const struct osh_l7_infer_routes *rs);
/* INFER_ROUTES_FAILED: why = the parser's "file:line: key: what" */
void osh_l7_infer_ev_routes_failed(const char *source, const char *why);
/* INFER_INTERCEPT: one tunnel taken over */
void osh_l7_infer_ev_intercept(const struct osh_l7_infer_evinfo *in);
/* INFER_ROUTE */
void osh_l7_infer_ev_routed(const struct osh_l7_infer_evinfo *in);
/* INFER_DENY (403: not an inference request) */
void osh_l7_infer_ev_denied(const struct osh_l7_infer_evinfo *in);
/* INFER_FAIL (400/401/502/503 JSON error) */
void osh_l7_infer_ev_failed(const struct osh_l7_infer_evinfo *in);
/* INFER_BAD_REQUEST */
void osh_l7_infer_ev_bad_request(const struct osh_l7_infer_evinfo *in);
/* INFER_UPSTREAM_CHUNK_ERROR */
void osh_l7_infer_ev_chunk_error(const struct osh_l7_infer_evinfo *in);

#endif
