/* gx_export.h - OCSF export from the gateway to SIEM destinations: the one
 * interface the gateway calls.
 *
 * DESIGN
 * Ingestion hands each stored event's OCSF JSON to gx_export_offer(), which
 * copies it into a bounded in-memory hand-off and returns: no file, socket
 * or lock held for longer than a pointer copy, so export never slows log
 * push or GetSandboxPolicy. One spooler thread takes the hand-off (and the
 * gateway's own events from its emission runtime's push feed), applies each
 * destination's filter and appends the event to that destination's
 * persistent on-disk queue (gx_spool.h). One thread per destination reads
 * its queue in order and delivers batches through its transport
 * (gx_send.h), moving the queue's cursor only once the receiver has them:
 * delivery is at least once, metadata.uid being the idempotency key. A
 * receiver outage costs nothing but queue space; a queue at its bound drops
 * its oldest events, counted and reported (EXPORT_QUEUE_DROPPED), and every
 * outage is reported once when it starts and once when it ends.
 *
 * Configuration is the `export:` section of the gateway YAML (gx_config.h),
 * read at create and on every reload of the gateway config: a malformed
 * section is refused with file:line:key and the running destinations stay.
 *
 * Ownership: the export owns its threads, queues and connections; strings
 * passed in are copied. All functions are thread-safe.
 */
#ifndef OSH_GX_EXPORT_H
#define OSH_GX_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

/* Events waiting in the in-memory hand-off before offers are dropped. */
#define GX_HANDOFF_MAX 16384

struct gx_export;

struct gx_export_opts {
	const char *data_dir;  /* queues under <data_dir>/export unless queue_dir is set */
	const char *yaml_path; /* the gateway YAML holding the export section */
	bool drain_feed;       /* export the gateway's own events (emit push feed) */
};

struct gx_export_stats {
	uint64_t offered;	  /* events handed in (offer + the gateway's feed) */
	uint64_t refused;	  /* not a JSON object with metadata.uid: never queued */
	uint64_t handoff_dropped; /* hand-off full */
	uint64_t queued;	  /* appended to a destination queue (per destination) */
	uint64_t queue_dropped;	  /* forced out by a queue bound or a failed write */
	uint64_t delivered;	  /* acknowledged by receivers (per destination) */
	uint64_t failures;	  /* failed deliveries (retried) */
	uint64_t convert_refused; /* not convertible to a destination's OCSF version */
	uint64_t waiting;	  /* events in the queues now */
	size_t destinations;
};

/* Loads the export section and starts the threads. Returns 0, or the
 * config/queue error with its text in err (file:line:key for config). */
OSH_MUST_CHECK int gx_export_create(const struct gx_export_opts *o, struct gx_export **out,
				    char *err, size_t errlen);

/* Hands one event's OCSF JSON (len bytes) to the export; never blocks on
 * I/O. A no-op while no destination is configured. */
void gx_export_offer(struct gx_export *x, const char *json, size_t len);

/* Re-reads the export section. Unchanged: nothing happens. Changed: the
 * destination threads restart with the new set (queues stay on disk by
 * name). Malformed: returns the error (text in err), emits
 * EXPORT_CONFIG_REFUSED and keeps the running destinations. */
int gx_export_reload(struct gx_export *x, char *err, size_t errlen);

/* Whether at least one destination is configured (the OCSF export is on:
 * sandboxes then push their events' JSON). */
bool gx_export_active(struct gx_export *x);

void gx_export_stats_get(struct gx_export *x, struct gx_export_stats *out);

/* Stops the threads (a syslog batch in flight gets up to 1 s to be
 * confirmed), closes the queues. NULL ok. */
void gx_export_destroy(struct gx_export *x);

#endif
