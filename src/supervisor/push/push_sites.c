/* push_sites.c - the log push subsystem's OCSF log sites (see push_sites.h).
 *
 * DESIGN
 * Delivery losses are a Base Event of Medium severity: the sandbox kept
 * running, but part of its record is missing at the gateway and the operator
 * must know how much and why.
 */
#include "push_sites.h"

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

void osh_sup_ev_push_dropped(uint64_t lines, const char *reason)
{
	struct ocsf_base_event ev;

	osh_site_init_push_logs_dropped(&ev);
	ocsf_base_event_set_activity_name(&ev, "Log Push Loss");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_message(&ev,
				    ocsf_arena_printf(&ev.ev.arena,
						      "%llu log lines were not delivered to the "
						      "gateway: %s",
						      (unsigned long long)lines, reason));
	ocsf_base_event_add_unmapped_int(&ev, "lost_lines", (int64_t)lines);
	ocsf_base_event_add_unmapped_str(&ev, "reason", reason);
	osh_emit(&ev);
}
