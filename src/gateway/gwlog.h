/* gwlog.h - the gateway's own operational log: plain lines on stderr.
 *
 * DESIGN: the gateway is not a sandbox and emits no OCSF events of its own, so it
 * needs no emission runtime: one formatted line per call, written with a single
 * write(2) so lines from different threads never interleave. Format:
 *   2026-01-02T03:04:05.678Z INFO  openshell-gateway: message
 * Levels below the minimum (osh_gw_log_set_min; default INFO, env
 * OPENSHELL_GATEWAY_LOG_LEVEL) are skipped before formatting.
 * Thread-safe; never blocks beyond the write to stderr. */
#ifndef OSH_GW_LOG_H
#define OSH_GW_LOG_H

#include <stddef.h>

enum osh_gw_loglevel {
	OSH_GW_LOG_DEBUG = 1,
	OSH_GW_LOG_INFO = 2,
	OSH_GW_LOG_WARN = 3,
	OSH_GW_LOG_ERROR = 4,
};

/* Sets the minimum level written. */
void osh_gw_log_set_min(enum osh_gw_loglevel min);

/* Writes one line (truncated at 2 KiB). The formatted message is escaped
 * with osh_gw_log_escape() first, so client text inside it cannot forge a
 * line or drive a terminal. */
void osh_gw_log(enum osh_gw_loglevel level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Escape len bytes of s into out (cap bytes, NUL-terminated when cap > 0):
 * backslash as \\, \n \r \t, other C0 and DEL as \xNN, ill-formed UTF-8
 * byte by byte as \xNN, C1 controls, U+2028/2029, bidi embeddings/
 * overrides/isolates and BOM as \u{XXXX} (the rules of src/emit's escaper,
 * CWE-117). Stops before an escape or character that does not fit. Returns
 * the bytes written (without the NUL). Pure; thread-safe. */
size_t osh_gw_log_escape(char *out, size_t cap, const char *s, size_t len);

#endif
