/* push_subsys.h - the log push subsystem's table row (see sup_subsys.h). */
#ifndef OSH_PUSH_SUBSYS_H
#define OSH_PUSH_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_push_subsys;

#endif
