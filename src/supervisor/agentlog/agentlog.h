/* agentlog.h - the agent's stdout/stderr, kept apart from the supervisor's
 * own record (F20).
 *
 * DESIGN
 * An agent that shares the supervisor's stderr can print lines that look
 * exactly like the supervisor's (a forged "OCSF LIFECYCLE:STOP"), and the
 * reader of supervisor.stderr cannot tell them apart. So in gateway mode the
 * command's stdout and stderr are pipes, and one thread copies what arrives
 * into <log-dir>/agent.log, one line per record:
 *     <UTC ts> stdout|stderr <text>
 * where <text> is escaped (control bytes and invalid UTF-8 as \xNN, a
 * backslash as \\, code points a terminal or reader could be fooled by as
 * \u{XXXX}), so an agent line is always one line, never a terminal escape,
 * and always carries its stream tag after a timestamp the supervisor wrote.
 * A line longer than OSH_AGENTLOG_LINE_MAX bytes is written in pieces, each
 * later piece tagged "stdout+"/"stderr+". agent.log is opened with O_NOFOLLOW
 * and rotated to agent.log.1 at OSH_AGENTLOG_ROTATE_BYTES (one old file
 * kept), so a chatty agent cannot fill the disk. Nothing of this goes to
 * openshell.log, the emit push feed or the supervisor's stderr; with a
 * gateway, the same escaped lines are also pushed with source "agent" (never
 * "sandbox": the gateway keeps the two apart, so an agent cannot pass its
 * text off as the supervisor's record) through a sink (set_sink below).
 *
 * The core functions below are usable alone (tests); agentlog_subsys.c is the
 * supervisor subsystem glue (pipes created in init, dup2 in child_setup,
 * write ends closed in on_child, thread joined in stop). Ownership: the
 * writer owns its file descriptor and buffers; strings are copied. */
#ifndef OSH_AGENTLOG_H
#define OSH_AGENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

#define OSH_AGENTLOG_LINE_MAX	  4096
#define OSH_AGENTLOG_ROTATE_BYTES ((uint64_t)64 << 20)

struct osh_agentlog;

/* Opens (creating, appending, never through a symlink) <dir>/agent.log.
 * rotate_bytes 0 = OSH_AGENTLOG_ROTATE_BYTES. Returns 0, OSH_EIO (errno kept),
 * OSH_ETOOBIG (path), OSH_ENOMEM. */
OSH_MUST_CHECK int osh_agentlog_open(const char *dir, uint64_t rotate_bytes,
				     struct osh_agentlog **out);

/* Feeds bytes read from stream `tag` ("stdout" or "stderr"; 0 or 1 as
 * index): complete lines are written at once, a partial line is kept until
 * its newline, OSH_AGENTLOG_LINE_MAX bytes, or osh_agentlog_flush. Returns 0
 * or OSH_EIO (the write failed: counted, the text is lost). */
int osh_agentlog_feed(struct osh_agentlog *w, int stream, const void *buf, size_t len);

/* Writes whatever partial lines are pending (stream ended). */
void osh_agentlog_flush(struct osh_agentlog *w);

/* Lines written, and lines lost to write errors. */
void osh_agentlog_counts(const struct osh_agentlog *w, uint64_t *lines, uint64_t *lost);

/* Flushes, closes, frees. NULL ok. */
void osh_agentlog_close(struct osh_agentlog *w);

/* Called with every line written (stream "stdout"/"stderr", the escaped
 * text, NUL-terminated, valid only during the call), from the thread that
 * calls osh_agentlog_feed/flush. The supervisor uses it to push the agent's
 * lines to the gateway (source "agent"). */
typedef void (*osh_agentlog_sink_fn)(void *ud, const char *stream, const char *escaped);
void osh_agentlog_set_sink(struct osh_agentlog *w, osh_agentlog_sink_fn fn, void *ud);

/* Escapes s[0..len) for one agent.log line into out (cap >= 4 * len + 16 is
 * always enough); returns the length written (NUL-terminated). Pure. */
size_t osh_agentlog_escape(const char *s, size_t len, char *out, size_t cap);

#endif
