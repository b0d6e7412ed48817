/* osh_sup.h - openshell-sandbox entry point (the library behind main.c).
 *
 * DESIGN
 * main() only calls osh_sup_main(). Start-up order (docs/supervisor.md):
 *   1. block SIGCHLD/SIGTERM/SIGINT/SIGHUP (before any thread exists)
 *   2. arguments + environment
 *   3. sandbox context (id, name, host, product)
 *   4. sinks (osh_emit_init: openshell.log, stderr, push feed; JSONL off)
 *   5. first GetSandboxPolicy: its sandbox_config decides the initial JSONL
 *      state, applied before the first event, so every start-up event is in
 *      openshell-ocsf.log when the export is on
 *   6. SUP_START, CONFIG_UPDATED / GATEWAY_UNREACHABLE, policy events
 *   7. local policy file when the gateway has none (else restrictive default)
 *   8. log push thread, config poll thread
 *   9. spawn the command (PROC_LAUNCH, SUP_READY), supervise it
 *  10. SUP_STOP, stop the threads, flush every sink, exit with the child's code
 * Without --gateway steps 5 and 8 are skipped (standalone: local policy, no
 * poll, no push).
 */
#ifndef OSH_SUP_H
#define OSH_SUP_H

/* Run openshell-sandbox. envp is the process environment. Returns the exit
 * status (the command's, 124 timeout, 125 supervisor error, 126/127 command
 * not executable / not found, 0 for --help/--version). Call once. */
int osh_sup_main(int argc, char **argv, char **envp);

#endif
