/* osh_testdir.h - the one way a C test makes, checks and removes its directory.
 *
 * DESIGN
 * "CI validates every emitted JSONL line" holds only if no test can write
 * JSONL and delete it unchecked. Every test that writes files works in a
 * directory from osh_testdir_new() and ends with osh_testdir_finish(), which
 * (1) validates every JSONL log under it against the generated schema with
 * tools/ocsf-validate and fails the test on any invalid line, (2) copies
 * every log file to $OSH_TEST_LOG_DIR (set by ctest to <build>/test-logs) for
 * the site census, and (3) removes the directory, so nothing is left in
 * $TMPDIR. The Python tests use the twin tests/support/osh_testdir.py with
 * the same rules. Directories are made under $TMPDIR (default /tmp).
 */
#ifndef OSH_TESTDIR_H
#define OSH_TESTDIR_H

/* New directory "$TMPDIR/osh-<tag>-XXXXXX"; fails the test when it cannot be
 * made. Returns a heap path owned by the caller (osh_testdir_finish frees). */
char *osh_testdir_new(const char *tag);

/* Validates, archives and removes `dir` (see DESIGN), then frees it. Fails
 * the test (cr_assert) when a JSONL line is invalid or the validator cannot
 * run. NULL is a no-op. */
void osh_testdir_finish(char *dir);

/* As osh_testdir_finish, without failing the test: returns 0 when every line
 * was valid, else -1 (for fini hooks that must not assert). */
int osh_testdir_finish_rc(char *dir);

#endif
