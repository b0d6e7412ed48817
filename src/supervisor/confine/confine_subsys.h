/* confine_subsys.h - the confinement subsystem's table row (see
 * sup_subsys.h): run-as user, Landlock, seccomp, unsafe-policy findings and
 * the secret store. It marks "process", "filesystem" and "seccomp" in the
 * enforced set (sup_enforce.h) when each is part of the child's set-up. */
#ifndef OSH_CONFINE_SUBSYS_H
#define OSH_CONFINE_SUBSYS_H

#include "osh_secret.h"
#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_confine_subsys;

/* The secret store of the running supervisor (NULL when no secrets were
 * given), for the proxy: immutable after the confine subsystem's init, so
 * it may be used from any thread until the subsystems are stopped. */
const struct osh_secret_store *osh_confine_secrets(void);

#endif
