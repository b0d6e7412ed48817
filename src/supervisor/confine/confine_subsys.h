/* confine_subsys.h - the confinement subsystem's table row (see
 * sup_subsys.h): run-as user, Landlock, seccomp, unsafe-policy findings and
 * the secret store. It marks "process", "filesystem" and "seccomp" in the
 * enforced set (sup_enforce.h) when each is part of the child's set-up, and
 * publishes the secret store as host->secrets (sup_subsys.h) for the proxy. */
#ifndef OSH_CONFINE_SUBSYS_H
#define OSH_CONFINE_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_confine_subsys;

#endif
