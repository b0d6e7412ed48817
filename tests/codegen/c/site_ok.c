/* site_ok.c - compile-pass control for site_mismatch.c.
 *
 * DESIGN
 * The same call with the site's own class struct, plus a site whose activity
 * is a registry default and one with a non-default severity, so the failing
 * case proves the class (not some unrelated error) is what rejects it. Only
 * compiled, never linked or run.
 */
#include "osh_sites.h"

void codegen_site_ok(struct ocsf_process_activity *ev, struct ocsf_base_event *base);

void codegen_site_ok(struct ocsf_process_activity *ev, struct ocsf_base_event *base)
{
	osh_site_init_proc_launch(ev);
	osh_site_init_proc_kill(ev);
	osh_site_init_log_dropped(base);
}
