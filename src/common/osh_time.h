/* osh_time.h - the one clock helper and the one timestamp formatter.
 *
 * DESIGN
 * Milliseconds as int64 everywhere (wall clock for records, monotonic for
 * deadlines and intervals), and one UTC layout for every human-facing
 * timestamp ("2026-12-06T07:37:42.123Z", RFC 3339 with milliseconds), so log
 * lines, CLI output and events agree. No allocation; thread-safe.
 */
#ifndef OSH_TIME_H
#define OSH_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t osh_time_wall_ms(void);

/* Milliseconds of CLOCK_MONOTONIC (deadlines, intervals). */
int64_t osh_time_mono_ms(void);

/* Length of "YYYY-MM-DDTHH:MM:SS.mmmZ" plus NUL. */
#define OSH_TIME_RFC3339_LEN 25

/* Formats epoch ms as UTC RFC 3339 with milliseconds into out (cap >=
 * OSH_TIME_RFC3339_LEN, else out gets ""). Years outside 0..9999 are clamped
 * to the range's ends. Returns the length written. */
size_t osh_time_format_utc(int64_t epoch_ms, char *out, size_t cap);

#endif
