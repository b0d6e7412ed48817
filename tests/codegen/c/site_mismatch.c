/* site_mismatch.c - must NOT compile: the PROC_LAUNCH site (a
 * process_activity site in schema/sites.yaml) started on a network_activity
 * event. Every generated osh_site_init_<code>() takes its class's own struct,
 * so -Wincompatible-pointer-types (an error here) rejects the call.
 *
 * DESIGN
 * Compiled by the ctest codegen_site_mismatch, which passes only when the
 * compiler output names this init and the incompatible pointer type.
 */
#include "osh_sites.h"

void codegen_site_mismatch(struct ocsf_network_activity *ev);

void codegen_site_mismatch(struct ocsf_network_activity *ev)
{
	osh_site_init_proc_launch(ev);
}
