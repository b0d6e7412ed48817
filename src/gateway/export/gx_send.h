/* gx_send.h - the transports of the export destinations: syslog, HTTP, file.
 *
 * DESIGN
 * One small interface per transport, chosen by the destination's kind, so
 * the delivery loop (gx_export.c) is the same for all: send a batch of
 * events (NDJSON, one event per line, each line ending in '\n') and learn
 * whether the receiver has them. HTTP and file answer at once (2xx; written
 * and fdatasync'd). Syslog over TCP has no acknowledgement, so a batch is
 * "sent" when written and "confirmed" only once the connection has stayed
 * healthy for GX_SYSLOG_CONFIRM_MS afterwards (the receiver never writes to
 * us: a readable socket means it closed or reset). A connection that dies
 * makes the loop rewind to the last confirmed position and send again: at
 * least once. A batch is confirmed only once the receiver's TCP has also
 * acknowledged its bytes; bytes still unacknowledged timeout_ms after their
 * write mean a stalled receiver (reported, connection dropped, resent).
 * Every blocking step (connect, TLS handshake, write, HTTP
 * request) is bounded by the destination's timeout_ms, so a receiver that
 * accepts and then stalls costs one timeout, not a thread.
 */
#ifndef OSH_GX_SEND_H
#define OSH_GX_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gx_config.h"
#include "osh_err.h"

/* How long a syslog connection must stay healthy after a write before the
 * events written count as delivered. */
#define GX_SYSLOG_CONFIRM_MS 1000

struct gx_conn;

struct gx_transport {
	/* Delivers `n` events (buf: lines ending '\n', len bytes). Returns 0, or
	 * an error with a one-line reason in why (the batch stays queued). */
	int (*send)(struct gx_conn *c, const char *buf, size_t len, size_t n, char *why,
		    size_t whylen);
	/* Syslog only (NULL otherwise): 0 while the connection is healthy. */
	int (*alive)(struct gx_conn *c);
	/* Syslog only (NULL otherwise): bytes written to this connection's
	 * socket so far (TLS records included) and how many of them the
	 * receiver's TCP acknowledged (written minus SIOCOUTQ). A receiver that
	 * stops reading stops acknowledging once its receive buffer is full. */
	void (*progress)(struct gx_conn *c, uint64_t *written, uint64_t *acked);
	/* Drops the connection (after a failure; the next send reconnects). */
	void (*reset)(struct gx_conn *c);
	void (*destroy)(struct gx_conn *c);
};

/* Creates the transport state of `d` (copied). No connection is made yet.
 * Returns 0 or OSH_ENOMEM / OSH_EINVAL (with why). */
OSH_MUST_CHECK int gx_conn_create(const struct gx_dest *d, const struct gx_transport **ops,
				  struct gx_conn **out, char *why, size_t whylen);

/* Closes and frees. NULL ok. */
void gx_conn_destroy(const struct gx_transport *ops, struct gx_conn *c);

/* Builders shared with tests and the fuzz target. */

/* One RFC 5424 frame with octet-counting prefix ("LEN <PRI>1 TS HOST APP PID
 * MSGID [ocsf@32473 uid=.. class_uid=.. severity_id=..] JSON") for the event
 * line `ev` (len bytes, no newline) into out (heap, caller frees). Returns 0,
 * OSH_EPARSE (not a JSON object: the reason in why) or OSH_ENOMEM. */
int gx_syslog_frame(const struct gx_dest *d, const char *host, int pid, const char *ev, size_t len,
		    char **out, size_t *out_len, char *why, size_t whylen);

/* The HTTP body of a batch: NDJSON as is, or Splunk HEC events
 * ({"time":..,"host":..,"source":"openshell","sourcetype":"ocsf:<class>",
 * "event":{..}} per line). Heap (caller frees). Returns 0 / OSH_ENOMEM. */
int gx_http_body(const struct gx_dest *d, const char *host, const char *buf, size_t len, char **out,
		 size_t *out_len);

/* gzip (RFC 1952) of in into a heap buffer. Returns 0 / OSH_ENOMEM / OSH_EIO. */
int gx_gzip(const char *in, size_t len, char **out, size_t *out_len);

#endif
