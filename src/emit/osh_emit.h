/* osh_emit.h - event emission runtime: context, emit, plain log, sinks.
 *
 * DESIGN
 * One call per log site hands a fully built OCSF event to this runtime:
 *
 *   struct ocsf_process_activity ev;
 *   osh_site_init_proc_launch(&ev);  (generated from schema/sites.yaml)
 *   ... setters ...
 *   osh_emit(&ev);
 *
 * The caller's thread enriches the event from the sandbox context (metadata
 * uid/product, device + container, proxy endpoint), formats the shorthand
 * line (always) and the JSON line (only while JSONL is on) into thread-local
 * buffers, and copies both into one record of a bounded in-memory queue. It
 * never opens, writes or waits on a file and never calls malloc. One writer
 * thread owns every file: it timestamps, appends, rotates, reopens and closes.
 * A full queue drops the record and counts it; the writer later writes the
 * count as a Base Event ("LOG_DROPPED"), so loss is never silent. Events the
 * runtime refuses (arena error, serialization failure) are counted and
 * reported the same way ("LOG_INVALID_EVENT"); lines lost to failed writes
 * (disk full) are reported once a write succeeds again ("LOG_WRITE_FAILED").
 *
 * The runtime is a process-wide singleton (log sites need no handle):
 * osh_emit_init() once, osh_emit_shutdown() once. Before init (or after
 * shutdown) events and plain lines are formatted and written straight to
 * stderr so early start-up messages are not lost.
 *
 * Sinks (see docs/logging.md):
 *   <log_dir>/openshell.log       "<ts> OCSF <shorthand>" and "<ts> <LEVEL> <module>: <msg>"
 *   <log_dir>/openshell-ocsf.log  one JSON object per line, only while enabled
 *   stderr (never stdout)         same lines as the file, filtered by level
 *   push feed                     (ts, level, target, message) for the gRPC log push
 */
#ifndef OSH_EMIT_H
#define OSH_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ocsf_convert.h"
#include "ocsf_model.h"
#include "osh_err.h"
#include "osh_level.h"

/* Longest shorthand / plain message text a line carries (bytes, excluding
 * timestamp and prefix). Longer text is cut on a UTF-8 boundary with "...". */
#define OSH_EMIT_LINE_MAX 4096
/* Longest JSON event accepted (bytes). Larger events are refused and counted
 * as invalid (reported as LOG_INVALID_EVENT). */
#define OSH_EMIT_JSON_MAX 65536
/* Longest module / target name kept (bytes, longer names are cut). */
#define OSH_EMIT_TARGET_MAX 48

struct osh_emit_config {
	/* Directory of both log families; NULL means "/var/log". Copied. */
	const char *log_dir;
	/* File name stem: NULL = "openshell" (openshell.log + openshell-ocsf.log);
	 * "openshell-gateway" gives openshell-gateway.log + openshell-gateway-ocsf.log.
	 * No '/', at most 80 bytes. Borrowed during init only. */
	const char *file_stem;
	/* JSONL export on at start (the setting's initial snapshot). */
	bool jsonl;
	/* stderr sink: on/off, minimum level, fd (2 unless a test redirects). */
	bool stderr_enabled;
	enum osh_level stderr_level;
	int stderr_fd;
	/* Minimum level of plain lines written to openshell.log (events always). */
	enum osh_level file_level;
	/* Queue size in bytes (rounded up to a power of two, >= 64 KiB). */
	size_t queue_bytes;
	/* Rotation: by size (0 = never), by UTC day, keeping `keep` rotated files
	 * per family (openshell.log.1 .. .keep). */
	uint64_t rotate_bytes;
	bool rotate_daily;
	unsigned keep;
	/* Push feed: bytes of its queue (0 = no push feed) and minimum level. */
	size_t push_bytes;
	enum osh_level push_level;
	/* Wall clock in epoch ms used for timestamps and daily rotation; NULL
	 * means CLOCK_REALTIME. Called from any thread; must be thread-safe. */
	int64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

/* Counters (monotonic since init). */
struct osh_emit_stats {
	uint64_t emitted;		/* events accepted into the queue          */
	uint64_t emitted_while_enabled; /* of those, accepted with their JSON line  */
	uint64_t plain;			/* plain lines accepted into the queue      */
	uint64_t dropped;		/* events + plain lines refused: queue full */
	uint64_t invalid;		/* events refused: build/serialize failure  */
	uint64_t write_errors;		/* lines lost to failed writes / opens      */
	uint64_t reports;		/* loss-report events written by the writer */
	uint64_t reports_jsonl;		/* of those, also written to the JSONL file */
	uint64_t push_dropped;		/* push-feed lines refused: feed full       */
	uint64_t convert_refused;	/* JSON lines the OCSF version conversion
					   refused (not written; reported)        */
	uint64_t rotations;		/* files rotated (either family)            */
	uint64_t reopens;		/* reopen requests served                   */
	uint64_t wakeups;		/* writer wake-ups paid by producers (a
					   sleeping writer, or the queue past its
					   watermark); not one per event          */
	bool fallback;			/* openshell.log unusable: lines to stderr  */
	bool jsonl_open;		/* the writer has the JSONL file open       */
};

/* Fills `cfg` with defaults: /var/log, JSONL off, stderr on at WARN (fd 2),
 * file level INFO, 8 MiB queue, rotate at 64 MiB and daily, keep 5, push
 * feed off (256 KiB / INFO once push_bytes is set), real clock. */
void osh_emit_config_default(struct osh_emit_config *cfg);

/* Starts the runtime: allocates the queues, starts the writer thread (which
 * opens the files). An unusable log dir is not an error: the writer falls
 * back to stderr and writes an Application Lifecycle event saying so.
 * Returns 0, OSH_EINVAL (bad config), OSH_ESTATE (already running),
 * OSH_ENOMEM or OSH_ESYS (thread/eventfd). Not thread-safe against itself
 * or shutdown; call once from main before the threads that log start. */
OSH_MUST_CHECK int osh_emit_init(const struct osh_emit_config *cfg);

/* Orderly shutdown: writes everything queued, reports pending losses,
 * closes the files, joins the writer and frees the queues. Producers still
 * running afterwards fall back to direct stderr. Idempotent. */
void osh_emit_shutdown(void);

/* Emits one event. Enriches `ev` in place from the sandbox context (its arena
 * must have room: ~1 KiB), formats and enqueues it. Never blocks on I/O, never
 * allocates. Thread-safe. Returns 0; OSH_EFULL (queue full: dropped and
 * counted), OSH_EINVAL (NULL or un-initialised event), or the arena's /
 * serializer's error (counted as invalid and reported later). `ev` stays
 * owned by the caller; borrowed strings need only live until return. */
int osh_emit_event(struct ocsf_event *ev);
#define osh_emit(evp) osh_emit_event(&(evp)->ev)

/* Plain operational line "<ts> <LEVEL> <module>: <message>" into
 * openshell.log (level >= file_level), stderr and the push feed (each by its
 * own level). Control characters in the text are escaped; text beyond
 * OSH_EMIT_LINE_MAX is cut with "...". Same thread/blocking rules as emit. */
void osh_log(enum osh_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Live JSONL toggle (the reload handle of the `ocsf_json_enabled` setting).
 * Enabling makes the writer create/open openshell-ocsf.log; every event
 * enqueued from then on carries its JSON line. Disabling stops JSON
 * formatting at once; the writer closes the file after writing the JSON lines
 * already queued. "Emitted while enabled" is decided per event at enqueue
 * time, under the queue lock: an event carries its JSON line iff its producer
 * saw JSONL on before formatting AND JSONL was still on when the record was
 * committed to the queue. Thread-safe, non-blocking, no file I/O. */
void osh_emit_set_jsonl(bool on);
bool osh_emit_jsonl_enabled(void);

/* OCSF version of the JSONL lines (the reload handle of the gateway's
 * `ocsf_schema_version`; default 1.7.0, kept across init/shutdown). Events
 * are always built in 1.7.0; for another version the writer converts each
 * JSON line it writes from now on (ocsf_convert_json(), docs/siem.md).
 * Producers are not slowed: the conversion runs on the writer thread. A line
 * the conversion refuses is not written; it is counted (stats
 * convert_refused) and reported as LOG_CONVERT_REFUSED at most once a minute
 * (and at flush/shutdown) with the count and the last reason. The shorthand
 * file is unaffected. Thread-safe, non-blocking; an out-of-range value is
 * ignored. */
void osh_emit_set_jsonl_version(enum ocsf_version v);
enum ocsf_version osh_emit_jsonl_version(void);

/* Changes the stderr minimum level at runtime. Thread-safe. */
void osh_emit_set_stderr_level(enum osh_level level);

/* Asks the writer to close and reopen both files (external logrotate). Only
 * sets an atomic flag and writes an eventfd: async-signal-safe, so a SIGHUP
 * handler may call it. Also retries a log dir that was unusable. */
void osh_emit_request_reopen(void);

/* Waits until every record enqueued before the call is written (or counted
 * lost) and the writer has applied pending toggles/reopens. Returns 0 or
 * OSH_ETIMEDOUT / OSH_ESTATE (not running). For tests, tools and shutdown. */
int osh_emit_flush(int timeout_ms);

/* Copies the counters. Thread-safe. */
void osh_emit_stats_get(struct osh_emit_stats *out);

/* ----------------------------------------------------------- push feed */

/* One line of the push feed, as the gRPC client sends it
 * (SandboxLogLine{timestamp_ms, level, target, message, ocsf_json}). */
struct osh_push_line {
	int64_t timestamp_ms;
	char level[8];			     /* "OCSF", "INFO", "WARN", ...     */
	char target[OSH_EMIT_TARGET_MAX];    /* "ocsf" or the plain module name */
	char message[OSH_EMIT_LINE_MAX + 1]; /* shorthand (no ts) or message  */
	/* The event's OCSF JSON object (no newline), heap, owned by the caller
	 * (free()); NULL for plain lines and for events formatted while JSONL
	 * was off. Events carry it exactly when their JSONL line is made. */
	char *json;
	size_t json_len;
};

/* Moves up to `max` oldest lines into `out` (caller storage; each line's
 * `json` becomes the caller's to free). Non-blocking, thread-safe (one
 * drainer at a time is expected). Returns the count, 0 when empty or the
 * feed is off. */
size_t osh_emit_push_drain(struct osh_push_line *out, size_t max);

/* --------------------------------------------------------- sandbox context
 * Set once at start, readable by every site. Every setter copies its strings
 * into a new immutable snapshot and publishes it with one atomic pointer
 * store, so emitters never see a half-updated context; old snapshots stay
 * valid until osh_emit_shutdown() (events borrow their strings). Setters are
 * thread-safe (serialized among themselves) and may run while events are
 * emitted (e.g. osh_ctx_set_proxy when the proxy binds). NULL means "". They
 * allocate (not for hot paths). Return 0 or OSH_ENOMEM / OSH_ETOOBIG (a value
 * longer than 255 bytes). Usable before osh_emit_init(). */
OSH_MUST_CHECK int osh_ctx_set_sandbox(const char *id, const char *name);
OSH_MUST_CHECK int osh_ctx_set_image(const char *name, const char *uid);
OSH_MUST_CHECK int osh_ctx_set_hostname(const char *hostname);
OSH_MUST_CHECK int osh_ctx_set_product(const char *name, const char *vendor, const char *version);
OSH_MUST_CHECK int osh_ctx_set_proxy(const char *ip, uint16_t port);

/* Frees every context snapshot (called by osh_emit_shutdown; exposed for
 * tests that use the context without the runtime). Not thread-safe. */
void osh_ctx_reset(void);

/* ------------------------------------------------------------ test hooks */

/* Blocks the writer thread before its next batch while `on` (simulates a
 * stalled disk). For tests and the bench only. */
void osh_emit_test_stall_writer(bool on);

#endif
