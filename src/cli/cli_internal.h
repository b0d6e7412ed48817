/* cli_internal.h - helpers shared by the CLI's own files (not installed).
 *
 * DESIGN: `openshell term` (cli_term.c) talks to the gateway exactly as the
 * line commands do (cli_run.c): the same channel set-up (TLS from the
 * environment), the same paging of ListSandboxes and the same state names,
 * so both show the same thing. Ownership is as in each comment. */
#ifndef OSH_CLI_INTERNAL_H
#define OSH_CLI_INTERNAL_H

#include <stdio.h>

#include "osh_cli.h"
#include "osh_rpc.h"

/* "running", "exited", ... for an Openshell__V1__SandboxState. Static. */
const char *cli_state_name(int state);

/* The gateway channel for target (TLS files from $OPENSHELL_TLS_*; a bad
 * file is reported on err). Returns 0 and *c (free with
 * osh_rpc_client_destroy) or an error. */
int cli_client_create(const char *target, struct osh_rpc_client **c, FILE *err) OSH_MUST_CHECK;

/* Every page of ListSandboxes: *pages holds n_pages responses
 * (Openshell__V1__ListSandboxesResponse *; free each with osh_rpc_msg_free,
 * then the array with free), also when an error is returned. */
int cli_list_all(struct osh_rpc_client *c, void ***pages, size_t *n_pages,
		 struct osh_rpc_status *st) OSH_MUST_CHECK;

/* Escapes untrusted text as the log format does (control bytes, bad UTF-8,
 * invisible code points) into buf; returns the length needed. */
size_t cli_escape_text(const char *s, char *buf, size_t cap);

/* `openshell term`: the terminal UI (cli_term.c). Returns the exit code. */
int osh_cli_term(const struct osh_cli_args *a, FILE *out, FILE *err);

/* `sandbox ssh-proxy | ssh-config | exec | connect` (cli_ssh.c): a->cmd
 * picks. exec and connect replace the process with OpenSSH (returning
 * only on failure). Returns the exit code. */
int cli_ssh_run(const struct osh_cli_args *a, struct osh_rpc_client *c, const char *self_exe,
		FILE *out, FILE *err);

#endif
