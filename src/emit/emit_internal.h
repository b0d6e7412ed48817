/* emit_internal.h - pieces of the emission runtime shared between its files
 * (queue, sinks, context snapshot, escaping). Not a public API.
 *
 * DESIGN: each piece is small and testable on its own (tests include this
 * header): the byte ring knows nothing about log lines, the file sink knows
 * nothing about the queue, the escaper knows nothing about OCSF. */
#ifndef OSH_EMIT_INTERNAL_H
#define OSH_EMIT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "osh_err.h"

/* ------------------------------------------------------------- byte ring
 * Bounded multi-producer / single-consumer queue of variable-size records.
 * Producers reserve and copy under a mutex (held only for a memcpy, never
 * for I/O); the single consumer reads committed records without the lock and
 * frees space by publishing its tail. Indexes are monotonic 64-bit counters;
 * records are 8-byte aligned and never wrap (a PAD record fills the end). */

struct osh_emit_ring {
	pthread_mutex_t mu;
	unsigned char *buf;
	size_t cap;		   /* power of two */
	uint64_t head;		   /* next free byte; under mu */
	_Atomic uint64_t pub_head; /* committed head, for the consumer */
	_Atomic uint64_t tail;	   /* first unread byte, consumer-owned */
};

/* Header of every record (32 bytes). */
struct osh_emit_rec {
	uint32_t len;	  /* whole record incl. header and padding */
	uint8_t kind;	  /* enum osh_emit_rec_kind */
	uint8_t level;	  /* enum osh_level */
	uint8_t flags;	  /* OSH_REC_F_* */
	uint8_t severity; /* OCSF severity_id for events (clamped to 255) */
	int64_t ts_ms;	  /* wall clock at emit */
	uint32_t a_len;	  /* target / module bytes */
	uint32_t b_len;	  /* shorthand / message bytes */
	uint32_t c_len;	  /* JSON bytes (events with OSH_REC_F_JSON) */
	uint32_t spare;
};

enum osh_emit_rec_kind { OSH_REC_PAD = 0, OSH_REC_EVENT = 1, OSH_REC_PLAIN = 2 };
enum { OSH_REC_F_JSON = 1u << 0 };

/* One piece of a record's payload; p NULL reserves n bytes without copying
 * (the consumer fills them). */
struct osh_emit_piece {
	const void *p;
	size_t n;
};

/* Allocates a ring of at least `cap` bytes (power of two). 0 or OSH_ENOMEM. */
int osh_emit_ring_init(struct osh_emit_ring *r, size_t cap);
void osh_emit_ring_fini(struct osh_emit_ring *r);

/* Appends header `h` (len is filled in) followed by the pieces. If `gate`
 * is non-NULL it is called under the ring lock just before the copy and may
 * edit `h` and the piece list (the JSONL decision point). Returns 0 and sets
 * *committed_head, or OSH_EFULL / OSH_ETOOBIG (record larger than cap/2). */
int osh_emit_ring_put(struct osh_emit_ring *r, struct osh_emit_rec *h,
		      struct osh_emit_piece *pieces, size_t n_pieces,
		      void (*gate)(struct osh_emit_rec *h, struct osh_emit_piece *pieces,
				   void *arg),
		      void *gate_arg, uint64_t *committed_head);

/* Consumer side: the next record at or after `*pos` and before the published
 * head, skipping PAD records; NULL when none. After use, advance with
 * osh_emit_ring_release(r, rec). Single consumer only. */
const struct osh_emit_rec *osh_emit_ring_peek(struct osh_emit_ring *r);
void osh_emit_ring_release(struct osh_emit_ring *r, const struct osh_emit_rec *rec);

/* Consumer side, batched: the next record at or after cursor `*pos` (start
 * from osh_emit_ring_tail()) and before the published head, skipping PAD
 * records; advances *pos past it. NULL when none. The records stay owned by
 * the consumer (readable and writable) until osh_emit_ring_release_to(r,
 * pos) frees every byte before `pos`. Single consumer only. */
struct osh_emit_rec *osh_emit_ring_next(struct osh_emit_ring *r, uint64_t *pos);
void osh_emit_ring_release_to(struct osh_emit_ring *r, uint64_t pos);
uint64_t osh_emit_ring_tail(struct osh_emit_ring *r);

/* Payload accessors. */
static inline const char *osh_emit_rec_a(const struct osh_emit_rec *rec)
{
	return (const char *)(rec + 1);
}
static inline const char *osh_emit_rec_b(const struct osh_emit_rec *rec)
{
	return osh_emit_rec_a(rec) + rec->a_len;
}
static inline const char *osh_emit_rec_c(const struct osh_emit_rec *rec)
{
	return osh_emit_rec_b(rec) + rec->b_len;
}

/* ------------------------------------------------------------- file sink
 * One log family (<dir>/<base>, <base>.1 .. <base>.<keep>) owned by the
 * writer thread: whole lines gathered as an iovec batch and written with
 * writev(), size and UTC-day rotation, reopen, and no torn line on a failed
 * write (a partial append is cut back to the last complete line with
 * ftruncate). A line is either borrowed (osh_sink_append_ref: the caller
 * keeps its bytes unchanged until the next flush, e.g. a queue record not
 * yet released) or copied into the sink's own buffer (osh_sink_append*, and
 * borrowed lines shorter than OSH_SINK_SMALL, which cost the kernel more as
 * an iovec of their own than as a copy); consecutive copied lines share one
 * iovec. */

#define OSH_SINK_BUF   262144 /* bytes of copied lines */
#define OSH_SINK_IOV   1024   /* iovecs per writev (IOV_MAX on Linux) */
#define OSH_SINK_SMALL 512    /* borrowed lines shorter than this are copied */

struct osh_sink {
	char path[4096]; /* <dir>/<base> */
	int fd;		 /* -1 when closed */
	uint64_t size;	 /* bytes in the current file (incl. pending) */
	int64_t day;	 /* UTC day number of the current file, -1 unknown */
	uint64_t rotate_bytes;
	bool rotate_daily;
	unsigned keep;
	struct iovec iov[OSH_SINK_IOV]; /* pending bytes: borrowed lines, runs of copied ones */
	uint32_t niov;			/* iovecs in use */
	uint32_t lines;			/* pending lines */
	size_t used;			/* pending bytes */
	unsigned char buf[OSH_SINK_BUF];
	size_t copied; /* bytes of buf in use by pending copied lines */
	uint64_t lost; /* lines lost since the last report (writer-owned) */
	uint64_t rotations;
	int last_errno;
};

/* Prepares (does not open) the sink for <dir>/<base>. */
int osh_sink_init(struct osh_sink *s, const char *dir, const char *base, uint64_t rotate_bytes,
		  bool rotate_daily, unsigned keep);
/* Opens (creates, O_APPEND|O_CLOEXEC, 0640) the file. If the existing file
 * was last written on an earlier UTC day than `now_ms` and daily rotation is
 * on, rotates it first. 0 or OSH_EIO (errno in last_errno). */
int osh_sink_open(struct osh_sink *s, int64_t now_ms);
/* Appends one complete line (must end in '\n') by reference: `line` must
 * stay valid and unchanged until the next osh_sink_flush/close/rotate (an
 * append may flush first to make room). Rotates first when the line would
 * pass rotate_bytes or its day differs from the file's. When the sink is
 * closed the line is counted lost. Returns 0 or OSH_EIO (line lost). */
int osh_sink_append_ref(struct osh_sink *s, const char *line, size_t len, int64_t ts_ms);
/* Same, copying the line (given as `n` parts, the last ending in '\n'). */
int osh_sink_appendv(struct osh_sink *s, const struct iovec *iov, int n, int64_t ts_ms);
/* Same, for a line given in two parts (a then b; b may be empty). */
int osh_sink_append2(struct osh_sink *s, const char *a, size_t a_len, const char *b, size_t b_len,
		     int64_t ts_ms);
/* Same, for one whole line. */
int osh_sink_append(struct osh_sink *s, const char *line, size_t len, int64_t ts_ms);
/* Writes the pending lines (writev); a failure loses them (counted) without
 * leaving a partial line in the file. 0 or OSH_EIO. */
int osh_sink_flush(struct osh_sink *s);
/* Flushes and closes (fd -1). */
void osh_sink_close(struct osh_sink *s);
/* Renames base -> base.1 -> ... (dropping base.<keep>) and reopens. */
int osh_sink_rotate(struct osh_sink *s, int64_t now_ms);

/* ------------------------------------------------------------ escaping
 * Appends `len` bytes of `s` to out[*pos..cap) escaped for a one-line log:
 * backslash -> \\, CR/LF/TAB -> \r \n \t, other C0/DEL -> \xHH, invalid UTF-8
 * bytes -> \xHH, C1 controls, U+2028/2029 and bidi overrides -> \u{XXXX};
 * `extra` lists further ASCII bytes to backslash-escape (e.g. "[]" or "\"").
 * At most `budget` output bytes are produced for this value; a value cut
 * short ends in "..." (counted inside the budget, never splitting a UTF-8
 * sequence or an escape). Always leaves out NUL-terminated if cap > 0.
 * Returns true when the value was cut. */
bool osh_emit_escape(char *out, size_t cap, size_t *pos, const char *s, size_t len, size_t budget,
		     const char *extra);

/* UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) for epoch ms. */
void osh_emit_format_ts(int64_t ms, char out[25]);
/* Days since the epoch (UTC) for epoch ms (floor). */
int64_t osh_emit_day_of(int64_t ms);

/* -------------------------------------------------------- context snapshot */
#define OSH_CTX_STR 256
struct osh_ctx_snap {
	char sandbox_id[OSH_CTX_STR];
	char sandbox_name[OSH_CTX_STR];
	char image_name[OSH_CTX_STR];
	char image_uid[OSH_CTX_STR];
	char hostname[OSH_CTX_STR];
	char product_name[OSH_CTX_STR];
	char vendor[OSH_CTX_STR];
	char version[OSH_CTX_STR];
	char proxy_ip[64];
	uint16_t proxy_port;
	struct osh_ctx_snap *older; /* previous snapshot, freed at reset */
};

/* Current snapshot (never NULL; a static default until a setter runs).
 * Valid until osh_ctx_reset(). Lock-free, thread-safe. */
const struct osh_ctx_snap *osh_ctx_current(void);

#endif
