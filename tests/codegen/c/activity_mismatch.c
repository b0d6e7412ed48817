/* activity_mismatch.c - must NOT compile: an HTTP activity id passed to the
 * network_activity init. -Wenum-conversion (an error under -Werror) rejects
 * it because every class has its own activity_id enum type.
 *
 * DESIGN
 * Compiled by the ctest codegen_activity_mismatch, which passes only when the
 * compiler output names the enum conversion.
 */
#include "ocsf_gen.h"

void codegen_activity_mismatch(struct ocsf_network_activity *ev);

void codegen_activity_mismatch(struct ocsf_network_activity *ev)
{
	ocsf_network_activity_init(ev, OCSF_HTTP_ACTIVITY_ACTIVITY_ID_GET, "net.open");
}
