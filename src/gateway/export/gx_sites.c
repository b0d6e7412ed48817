/* gx_sites.c - the export's OCSF log sites (see gx_sites.h).
 *
 * DESIGN: Base Events with typed status and unmapped facts; each starts from
 * its generated init (code, activity, default severity from the registry). */
#include "gx_sites.h"

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

void gx_ev_dropped(const char *dest, uint64_t count, const char *reason)
{
	struct ocsf_base_event ev;

	osh_site_init_export_queue_dropped(&ev);
	ocsf_base_event_set_activity_name(&ev, "Export");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "export %s: %llu events dropped: %s", dest,
				   (unsigned long long)count,
				   reason[0] == 'q'   ? "queue bound reached"
				   : reason[0] == 'h' ? "hand-off to the export thread full"
						      : "queue write failed"));
	ocsf_base_event_add_unmapped_str(&ev, "destination", dest);
	ocsf_base_event_add_unmapped_int(&ev, "dropped_events", (int64_t)count);
	ocsf_base_event_add_unmapped_str(&ev, "reason", reason);
	osh_emit(&ev);
}

void gx_ev_delivery_failed(const char *dest, const char *why, uint64_t queued)
{
	struct ocsf_base_event ev;

	osh_site_init_export_delivery_failed(&ev);
	ocsf_base_event_set_activity_name(&ev, "Export");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "export %s: delivery failing, events kept in the queue: %s",
				   dest, why));
	ocsf_base_event_add_unmapped_str(&ev, "destination", dest);
	ocsf_base_event_add_unmapped_int(&ev, "queued_events", (int64_t)queued);
	osh_emit(&ev);
}

void gx_ev_delivery_resumed(const char *dest, int64_t outage_ms)
{
	struct ocsf_base_event ev;

	osh_site_init_export_delivery_resumed(&ev);
	ocsf_base_event_set_activity_name(&ev, "Export");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena, "export %s: delivery resumed after %lld ms", dest,
				   (long long)outage_ms));
	ocsf_base_event_add_unmapped_str(&ev, "destination", dest);
	ocsf_base_event_add_unmapped_int(&ev, "outage_ms", outage_ms);
	osh_emit(&ev);
}

void gx_ev_config_refused(const char *why)
{
	struct ocsf_base_event ev;

	osh_site_init_export_config_refused(&ev);
	ocsf_base_event_set_activity_name(&ev, "Export");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "export config refused, running configuration kept: %s", why));
	ocsf_base_event_add_unmapped_str(&ev, "reason", why);
	osh_emit(&ev);
}

void gx_ev_convert_refused(const char *dest, const char *version, uint64_t count, const char *why)
{
	struct ocsf_base_event ev;

	osh_site_init_export_convert_refused(&ev);
	ocsf_base_event_set_activity_name(&ev, "Export");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena,
			      "export %s: %llu events not delivered: refused by the conversion "
			      "to OCSF %s (last: %s)",
			      dest, (unsigned long long)count, version, why));
	ocsf_base_event_add_unmapped_str(&ev, "destination", dest);
	ocsf_base_event_add_unmapped_int(&ev, "refused_events", (int64_t)count);
	ocsf_base_event_add_unmapped_str(&ev, "schema_version", version);
	ocsf_base_event_add_unmapped_str(&ev, "last_reason", why);
	osh_emit(&ev);
}
