/* push_sites.h - the log push subsystem's OCSF log sites.
 *
 * DESIGN
 * One function per site (schema/sites.yaml, subsystem supervisor/push), so
 * the push loop never builds events itself. Thread-safe, never blocks.
 */
#ifndef OSH_PUSH_SITES_H
#define OSH_PUSH_SITES_H

#include <stdint.h>

/* Base Event PUSH_LOGS_DROPPED: `lines` log lines never reached the gateway. */
void osh_sup_ev_push_dropped(uint64_t lines, const char *reason);

#endif
