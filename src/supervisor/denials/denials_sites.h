/* denials_sites.h - the OCSF log sites of the denials subsystem.
 *
 * DESIGN
 * A flush round is operational telemetry, not a security decision (each
 * denial already has its own CONNECT_DENY / FORWARD_DENY / BYPASS_DETECT
 * event), so the rounds are Base Events, as the seed plan places them:
 *   DENIAL_FLUSH         a round delivered (keys, denials, proposals, answer)
 *   DENIAL_FLUSH_FAILED  a round not delivered; its keys kept for the next
 *   DENIAL_DNS_FAIL      the mapper could not resolve a host
 * Rows of schema/sites.yaml (subsystem supervisor/denials). Thread-safe,
 * never block; arguments are borrowed for the call.
 */
#ifndef OSH_DENIALS_SITES_H
#define OSH_DENIALS_SITES_H

#include <stdint.h>

struct osh_denials_round {
	uint64_t round;
	uint64_t keys, denials, proposals;
	uint64_t accepted, rejected;
	uint64_t overflow, dropped;
	const char *reason; /* failure or the gateway's first rejection reason */
};

void osh_denials_ev_flush(const struct osh_denials_round *r);
void osh_denials_ev_flush_failed(const struct osh_denials_round *r, uint64_t kept);
void osh_denials_ev_dns_fail(const char *host, uint16_t port, const char *why);

#endif
