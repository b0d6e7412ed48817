/* activity_ok.c - compile-pass control for activity_mismatch.c.
 *
 * DESIGN
 * Same code as the failing case but with the class's own activity enum, so
 * the compile-fail test proves the enum type (not some unrelated error) is
 * what rejects the mismatch. Only compiled, never linked or run.
 */
#include "ocsf_gen.h"

void codegen_activity_ok(struct ocsf_network_activity *ev);

void codegen_activity_ok(struct ocsf_network_activity *ev)
{
	ocsf_network_activity_init(ev, OCSF_NETWORK_ACTIVITY_ACTIVITY_ID_OPEN, "net.open");
	ocsf_network_endpoint_set_port(ocsf_network_activity_dst_endpoint(ev), 443);
	ocsf_process_set_pid(ocsf_process_parent_process(
				     ocsf_actor_process(ocsf_network_activity_actor(ev))),
			     1);
	ocsf_network_activity_set_action_id(ev, OCSF_ACTION_ID_DENIED);
}
