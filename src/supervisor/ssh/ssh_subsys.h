/* ssh_subsys.h - the SSH server as a supervisor subsystem (see
 * sup_subsys.h and osh_ssh.h). */
#ifndef OSH_SSH_SUBSYS_H
#define OSH_SSH_SUBSYS_H

#include "sup_subsys.h"

extern const struct osh_sup_subsys osh_sup_ssh_subsys;

/* Where the SSH socket goes: $OPENSHELL_SSH_RUN_DIR/<sandbox id>.sock. */
#define OSH_SSH_RUN_DIR_DEFAULT "/run/openshell/ssh"

#endif
