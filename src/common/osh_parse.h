/* osh_parse.h - the one parser of each small value type every tool takes.
 *
 * DESIGN
 * Durations, booleans, numbers and host:port endpoints are typed by people on
 * three command lines, in YAML and in environment variables. Before this
 * module each binary had its own copy and they disagreed (a bare "5" meant
 * seconds in one, milliseconds in another; ports wrapped modulo 65536). One
 * parser per type, strict and total: the whole string must match, overflow
 * is an error (OSH_ETOOBIG), nothing wraps, no sign, no whitespace. None of
 * them allocates; all are thread-safe.
 */
#ifndef OSH_PARSE_H
#define OSH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osh_err.h"

/* "N" (seconds), "Nms", "Ns", "Nm", "Nh", "Nd" -> milliseconds. N is decimal
 * digits. Returns 0, OSH_EPARSE (malformed, empty, unknown unit) or
 * OSH_ETOOBIG (does not fit in int64 milliseconds). */
OSH_MUST_CHECK int osh_parse_duration_ms(const char *s, int64_t *out_ms);

/* true/yes/on/1/y and false/no/off/0/n, any case, nothing around them (the
 * one boolean of the gateway YAML, its flags and env, and the CLI). Returns
 * 0 or OSH_EPARSE; *out is untouched on error. */
OSH_MUST_CHECK int osh_parse_bool(const char *s, bool *out);

/* Decimal unsigned integer in [min, max]. Returns 0, OSH_EPARSE (not only
 * digits, empty) or OSH_ETOOBIG (outside [min, max], overflow). */
OSH_MUST_CHECK int osh_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A TCP port "0".."65535" (allow_zero) or "1".."65535". Same returns as
 * osh_parse_u64. */
OSH_MUST_CHECK int osh_parse_port(const char *s, bool allow_zero, uint16_t *out);

/* "HOST:PORT" or "[V6]:PORT": host copied into host (cap bytes, brackets
 * removed), port range-checked (allow_zero as above). Returns 0, OSH_EPARSE
 * (no colon, empty host, bracket mismatch, bad port) or OSH_ETOOBIG (host
 * longer than cap-1, port out of range). */
OSH_MUST_CHECK int osh_parse_hostport(const char *s, bool allow_zero, char *host, size_t cap,
				      uint16_t *port);

#endif
