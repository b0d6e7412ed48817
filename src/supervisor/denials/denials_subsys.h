/* denials_subsys.h - the denials subsystem's table row (see sup_subsys.h and
 * osh_denials.h). Active only with a gateway: it installs the process-wide
 * aggregator the proxy and the bypass monitor record into, and every
 * --denial-flush-interval drains it, maps the keys to proposals and submits
 * them with SubmitPolicyAnalysis. */
#ifndef OSH_DENIALS_SUBSYS_H
#define OSH_DENIALS_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_denials_subsys;

#endif
