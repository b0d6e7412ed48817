/* gx_spool.h - one export destination's persistent on-disk queue.
 *
 * DESIGN
 * A directory of append-only segment files (seg-<16 digits>.jsonl, one event
 * per line) and a `cursor` file naming the first undelivered byte (segment
 * and offset). Appends go to the newest segment; a new segment starts at
 * 1/8 of the bound, so the bound is kept by deleting whole old segments,
 * never by rewriting a file. What a deletion takes that was not yet
 * delivered is counted (gx_spool_append's *dropped) for the caller to
 * report. Delivery reads a batch from any position at or after the cursor
 * (syslog keeps sent-but-unconfirmed batches in flight), and commit moves
 * the cursor forward only: written to a temporary file and renamed, so a
 * crash leaves the old or the new cursor, and events after it are sent again
 * (at least once; metadata.uid is the receiver's idempotency key). A torn
 * last line (crash mid-append) is cut off at open. The process survives a
 * full disk: an append that fails is counted as dropped and reported.
 *
 * Thread-safety: every call takes the spool's mutex; one appender and one
 * reader thread share a spool.
 */
#ifndef OSH_GX_SPOOL_H
#define OSH_GX_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

struct gx_spool;

/* A position in the queue: segment number and byte offset in it. */
struct gx_spool_pos {
	uint64_t seg;
	uint64_t off;
};

/* Opens (creating) the queue in `dir` (created with its parents, mode 0700)
 * with a bound of max_bytes on disk. Returns 0, OSH_EIO (with err), OSH_ENOMEM. */
OSH_MUST_CHECK int gx_spool_open(const char *dir, uint64_t max_bytes, struct gx_spool **out,
				 char *err, size_t errlen);

/* Appends one event (no newline inside; one is added). *dropped gets the
 * number of undelivered events the bound forced out (including this one when
 * the write failed). Returns 0 or OSH_EIO (disk full, ...: the event is
 * counted in *dropped). */
int gx_spool_append(struct gx_spool *s, const char *line, size_t len, uint64_t *dropped);

/* The delivery position (first undelivered byte). */
struct gx_spool_pos gx_spool_cursor(struct gx_spool *s);

/* Reads up to max_events whole lines / max_bytes (at least one line) from
 * `from` (clamped up to the cursor) into a heap buffer *buf (caller frees)
 * of *len bytes plus a NUL, every line ending in '\n'; *n events, *end the position
 * after them. *n = 0 when nothing waits there. Returns 0 or OSH_EIO/ENOMEM. */
int gx_spool_read(struct gx_spool *s, struct gx_spool_pos from, size_t max_events, size_t max_bytes,
		  char **buf, size_t *len, size_t *n, struct gx_spool_pos *end);

/* Marks everything before `upto` delivered (a position behind the cursor is
 * ignored), persists the cursor and deletes fully delivered segments. */
int gx_spool_commit(struct gx_spool *s, struct gx_spool_pos upto);

/* Events waiting (undelivered) and bytes on disk. */
void gx_spool_stats(struct gx_spool *s, uint64_t *events, uint64_t *bytes);

/* Whether `a` is before `b`. */
bool gx_spool_pos_before(struct gx_spool_pos a, struct gx_spool_pos b);

void gx_spool_close(struct gx_spool *s);

#endif
