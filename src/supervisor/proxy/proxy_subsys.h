/* proxy_subsys.h - the egress proxy's table row (see sup_subsys.h). */
#ifndef OSH_PROXY_SUBSYS_H
#define OSH_PROXY_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_proxy_subsys;

#endif
