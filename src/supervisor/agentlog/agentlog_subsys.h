/* agentlog_subsys.h - the agent output subsystem's table row (see agentlog.h).
 *
 * DESIGN
 * Active in gateway mode only (--gateway: a managed sandbox whose supervisor
 * stderr is a file the gateway keeps); a standalone supervisor leaves the
 * command's stdout/stderr inherited, as an interactive user expects.
 */
#ifndef OSH_AGENTLOG_SUBSYS_H
#define OSH_AGENTLOG_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_agentlog_subsys;

#endif
