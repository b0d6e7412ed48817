/* net_subsys.h - the network namespace subsystem's table row (see sup_subsys.h). */
#ifndef OSH_NET_SUBSYS_H
#define OSH_NET_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_net_subsys;

#endif
