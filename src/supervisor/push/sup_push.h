/* sup_push.h - log push client: emit push feed -> acknowledged PushSandboxLogs.
 *
 * DESIGN
 * One thread drains the emit runtime's push feed (osh_emit_push_drain, never
 * blocks emitters: the feed drops and counts when full) into a bounded local
 * buffer and numbers every line (push sequence 1, 2, ...). A line leaves the
 * buffer only when the gateway acknowledged it: lines go out in rounds (when
 * 50 wait, or the oldest waited 500 ms), each round one client stream that
 * carries every buffered line in batches of 50 (first_seq set) and is then
 * finished; the response's acked_seq says up to which sequence the gateway's
 * store holds the lines (written in the same transaction as the lines).
 * Anything not acknowledged (gateway killed, hung, stream lost, deadline) is
 * resent in the next round, and the gateway skips what it already holds, so
 * every line is stored exactly once. Every round has a deadline
 * (OSH_SUP_PUSH_ROUND_MS, and at stop what is left of the flush budget
 * counted from the stop request), so a hung gateway never holds the thread
 * longer and stop keeps its bound. Failed rounds back off 1 s ->
 * 30 s (doubling) with a fresh channel each time, so a restarted gateway is
 * found at once. While the gateway is away the buffer keeps the newest lines
 * (oldest dropped and counted), except that a line already sent but not
 * acknowledged is never dropped (a hung gateway may still store it): while
 * the oldest buffered line is such a line, new lines are dropped instead; lines lost anywhere
 * (buffer overflow, feed full, refused by the gateway) are reported as one PUSH_LOGS_DROPPED event
 * once delivery works again, and at stop in the local files (that report
 * counts itself, since it cannot be delivered either). So: lines in
 * openshell.log == lines stored by the gateway + lines reported lost.
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
#define OSH_SUP_PUSH_ROUND_MS	 2000
/* Agent lines waiting for the push thread, and bytes kept of each. */
#define OSH_SUP_PUSH_AGENT_INBOX    512
#define OSH_SUP_PUSH_AGENT_LINE_MAX 8192

struct osh_sup_push;

struct osh_sup_push_stats {
	uint64_t sent;	   /* lines handed to gRPC                       */
	uint64_t batches;  /* PushSandboxLogsRequest messages sent       */
	uint64_t dropped;  /* lines lost (buffer overflow + feed full)   */
	uint64_t failures; /* failed opens / sends / finishes            */
	uint64_t streams;  /* streams (rounds) opened                    */
	uint64_t accepted; /* lines the gateway stored (responses)       */
	uint64_t acked;	   /* lines removed from the buffer as acknowledged */
	uint64_t resent;   /* lines sent again after an unacknowledged round */
};

/* Create (not started). gateway "HOST:PORT" and sandbox_id are copied.
 * Returns 0 or OSH_ENOMEM / OSH_EINVAL. */
OSH_MUST_CHECK int osh_sup_push_create(const char *gateway, const char *sandbox_id,
				       struct osh_sup_push **out);

/* Start the push thread. Call after osh_emit_init() with a push feed. */
OSH_MUST_CHECK int osh_sup_push_start(struct osh_sup_push *p);

/* Stop: send what is buffered, waiting at most flush_ms for the gateway
 * (every gRPC call of the last round has a deadline inside that budget), then
 * report what was not acknowledged and join the thread; returns within
 * flush_ms + 1 s whatever the gateway does. Idempotent. */
void osh_sup_push_stop(struct osh_sup_push *p, int flush_ms);

/* Queues one line of the command's output (stream "stdout"/"stderr", text
 * already escaped by agentlog: one line, no control bytes) to be pushed with
 * source "agent", level INFO, target = stream, numbered and acknowledged like
 * every other line. Text beyond OSH_SUP_PUSH_AGENT_LINE_MAX bytes is cut.
 * Thread-safe, never blocks on the network: when OSH_SUP_PUSH_AGENT_INBOX
 * lines wait already the line is dropped and counted (reported like every
 * loss). Returns 0, OSH_EFULL (dropped), OSH_ENOMEM or OSH_EINVAL. */
int osh_sup_push_agent_line(struct osh_sup_push *p, const char *stream, const char *text);

/* Counters; thread-safe. */
void osh_sup_push_stats_get(struct osh_sup_push *p, struct osh_sup_push_stats *out);

/* Free (stops first). NULL ok. */
void osh_sup_push_destroy(struct osh_sup_push *p);

#endif
