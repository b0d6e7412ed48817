/* denials_sites.c - the denials subsystem's OCSF events (see denials_sites.h). */
#include "denials_sites.h"

#include "ocsf_gen.h"
#include "osh_emit.h"
#include "osh_sites.h"

static void counts(struct ocsf_base_event *ev, const struct osh_denials_round *r)
{
	ocsf_base_event_add_unmapped_int(ev, "round", (int64_t)r->round);
	ocsf_base_event_add_unmapped_int(ev, "keys", (int64_t)r->keys);
	ocsf_base_event_add_unmapped_int(ev, "denials", (int64_t)r->denials);
}

void osh_denials_ev_flush(const struct osh_denials_round *r)
{
	struct ocsf_base_event ev;

	osh_site_init_denial_flush(&ev);
	ocsf_base_event_set_activity_name(&ev, "Denial Flush");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_SUCCESS);
	ocsf_base_event_set_message(
	    &ev,
	    ocsf_arena_printf(&ev.ev.arena,
			      "denial flush: %llu keys (%llu denials), %llu proposals submitted, "
			      "gateway accepted %llu rejected %llu",
			      (unsigned long long)r->keys, (unsigned long long)r->denials,
			      (unsigned long long)r->proposals, (unsigned long long)r->accepted,
			      (unsigned long long)r->rejected));
	counts(&ev, r);
	ocsf_base_event_add_unmapped_int(&ev, "proposals", (int64_t)r->proposals);
	ocsf_base_event_add_unmapped_int(&ev, "accepted", (int64_t)r->accepted);
	ocsf_base_event_add_unmapped_int(&ev, "rejected", (int64_t)r->rejected);
	ocsf_base_event_add_unmapped_int(&ev, "overflow", (int64_t)r->overflow);
	ocsf_base_event_add_unmapped_int(&ev, "dropped", (int64_t)r->dropped);
	if (r->reason && *r->reason)
		ocsf_base_event_add_unmapped_str(&ev, "first_rejection", r->reason);
	osh_emit(&ev);
}

void osh_denials_ev_flush_failed(const struct osh_denials_round *r, uint64_t kept)
{
	struct ocsf_base_event ev;
	const char *why = r->reason ? r->reason : "unknown";

	osh_site_init_denial_flush_failed(&ev);
	ocsf_base_event_set_activity_name(&ev, "Denial Flush");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_status_detail(&ev, why);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "denial flush failed: %s; %llu keys kept for the next round",
				   why, (unsigned long long)kept));
	counts(&ev, r);
	ocsf_base_event_add_unmapped_int(&ev, "kept", (int64_t)kept);
	ocsf_base_event_add_unmapped_int(&ev, "dropped", (int64_t)r->dropped);
	ocsf_base_event_add_unmapped_str(&ev, "reason", why);
	osh_emit(&ev);
}

void osh_denials_ev_dns_fail(const char *host, uint16_t port, const char *why)
{
	struct ocsf_base_event ev;

	osh_site_init_denial_dns_fail(&ev);
	ocsf_base_event_set_activity_name(&ev, "Denial Mapper");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_status_detail(&ev, why);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "denial mapper: %s:%u does not resolve (%s); proposal made "
				   "without allowed_ips",
				   host, (unsigned)port, why));
	ocsf_base_event_add_unmapped_str(&ev, "host", host);
	ocsf_base_event_add_unmapped_int(&ev, "port", port);
	osh_emit(&ev);
}
