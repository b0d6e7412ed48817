/* sup_push.h - log push client: emit push feed -> PushSandboxLogs streams.
 *
 * DESIGN
 * One thread drains the emit runtime's push feed (osh_emit_push_drain, never
 * blocks emitters: the feed drops and counts when full) into a bounded local
 * buffer, and sends batches (50 lines, or whatever waited 500 ms) over one
 * long-lived client-streaming PushSandboxLogs call. While the gateway is away
 * the buffer keeps the newest lines (oldest dropped and counted); failures
 * and lost streams back off 1 s -> 30 s (doubling) and a fresh channel is
 * made for every retry, so a restarted gateway is found at once. Streams are
 * rotated after OSH_SUP_PUSH_STREAM_MS so a stalled send is bounded by the
 * stream deadline. Lines lost anywhere (local buffer, feed overflow) are
 * reported as one PUSH_LOGS_DROPPED event once delivery works again (and at
 * stop). Diagnostics of the push path are never pushed themselves except
 * that one loss report.
 */
#ifndef OSH_SUP_PUSH_H
#define OSH_SUP_PUSH_H

#include <stdint.h>

#include "osh_err.h"

#define OSH_SUP_PUSH_BATCH	 50
#define OSH_SUP_PUSH_LINGER_MS	 500
#define OSH_SUP_PUSH_BUFFER	 2000
#define OSH_SUP_PUSH_BACKOFF_MIN 1000
#define OSH_SUP_PUSH_BACKOFF_MAX 30000
#define OSH_SUP_PUSH_STREAM_MS	 20000

struct osh_sup_push;

struct osh_sup_push_stats {
	uint64_t sent;	   /* lines handed to gRPC                       */
	uint64_t batches;  /* PushSandboxLogsRequest messages sent       */
	uint64_t dropped;  /* lines lost (buffer overflow + feed full)   */
	uint64_t failures; /* failed opens / sends / finishes            */
	uint64_t streams;  /* streams opened                             */
	uint64_t accepted; /* lines the gateway acknowledged (finish)    */
};

/* Create (not started). gateway "HOST:PORT" and sandbox_id are copied.
 * Returns 0 or OSH_ENOMEM / OSH_EINVAL. */
OSH_MUST_CHECK int osh_sup_push_create(const char *gateway, const char *sandbox_id,
				       struct osh_sup_push **out);

/* Start the push thread. Call after osh_emit_init() with a push feed. */
OSH_MUST_CHECK int osh_sup_push_start(struct osh_sup_push *p);

/* Stop: send what is buffered (waiting at most flush_ms for the gateway),
 * finish the stream, join the thread. Idempotent. */
void osh_sup_push_stop(struct osh_sup_push *p, int flush_ms);

/* Counters; thread-safe. */
void osh_sup_push_stats_get(struct osh_sup_push *p, struct osh_sup_push_stats *out);

/* Free (stops first). NULL ok. */
void osh_sup_push_destroy(struct osh_sup_push *p);

#endif
