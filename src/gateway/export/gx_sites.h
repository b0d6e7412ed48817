/* gx_sites.h - the export's OCSF log sites (schema/sites.yaml, subsystem
 * gateway/export).
 *
 * DESIGN: one function per site code, each a Base Event (class 0) with the
 * activity name "Export" and its facts as unmapped pairs (destination,
 * counts, reason), emitted through the gateway's emission runtime like every
 * gateway event, so they reach the gateway's log, its JSONL twin and the
 * export destinations themselves (a SIEM sees its own outages once they
 * end). Strings are borrowed for the call; thread-safe, never block.
 */
#ifndef OSH_GX_SITES_H
#define OSH_GX_SITES_H

#include <stdint.h>

/* EXPORT_QUEUE_DROPPED: `count` events `dest` will never deliver; reason
 * "queue_full" (the on-disk bound), "handoff_full" (the in-memory hand-off
 * to the export thread), "write_failed" (the queue's disk refused). */
void gx_ev_dropped(const char *dest, uint64_t count, const char *reason);
/* EXPORT_DELIVERY_FAILED: once per outage of `dest`. */
void gx_ev_delivery_failed(const char *dest, const char *why, uint64_t queued);
/* EXPORT_DELIVERY_RESUMED: `dest` delivers again after outage_ms. */
void gx_ev_delivery_resumed(const char *dest, int64_t outage_ms);
/* EXPORT_CONVERT_REFUSED: `count` events `dest` did not deliver because the
 * conversion to its OCSF `version` refused them (last reason `why`). */
void gx_ev_convert_refused(const char *dest, const char *version, uint64_t count, const char *why);
/* EXPORT_CONFIG_REFUSED: a reload's export section was malformed. */
void gx_ev_config_refused(const char *why);

#endif
