/* osh_level.h - one ranking of log levels and OCSF severities for every filter.
 *
 * DESIGN
 * Every place that filters log lines (stderr sink, push feed, CLI `--level`,
 * gateway log query) must agree on how an OCSF event compares with a plain
 * INFO/WARN/ERROR line; upstream disagreed and a `--level error` query showed
 * every OCSF line (or hid HIGH findings). This file is plain C with no
 * dependency on the emission runtime so the CLI and gateway can link just the
 * `osh_level` library.
 *
 * Ranking (ascending): TRACE 0 < DEBUG 1 < INFO 2 < WARN 3 < ERROR 4.
 * An OCSF event ranks by severity_id:
 *   0 Unknown, 1 Informational, 2 Low, 99 Other -> INFO
 *   3 Medium                                    -> WARN
 *   4 High, 5 Critical, 6 Fatal                 -> ERROR
 *   any other value                             -> INFO
 * A pushed line with level label "OCSF" carries no severity_id; its rank is
 * read back from the shorthand's severity tag (`CLASS:ACT [HIGH] ...`), see
 * osh_level_rank_line(). A label that is not a known level ranks INFO.
 *
 * Thread-safety: every function is pure and thread-safe. */
#ifndef OSH_LEVEL_H
#define OSH_LEVEL_H

#include <stdbool.h>

enum osh_level {
	OSH_LEVEL_TRACE = 0,
	OSH_LEVEL_DEBUG = 1,
	OSH_LEVEL_INFO = 2,
	OSH_LEVEL_WARN = 3,
	OSH_LEVEL_ERROR = 4,
};

/* Label used for OCSF shorthand lines in the file and in the push feed. */
#define OSH_LEVEL_OCSF_LABEL "OCSF"

/* Upper-case static name ("TRACE".."ERROR"); "INFO" for out-of-range values. */
const char *osh_level_name(enum osh_level level);

/* Parses a level name, case-insensitive: trace, debug, info, warn|warning,
 * error. "ocsf" parses as INFO (the rank of an OCSF line of unknown
 * severity). Returns 0 and sets *out, or OSH_EINVAL for NULL/unknown text
 * (*out untouched). */
int osh_level_parse(const char *text, enum osh_level *out);

/* Numeric rank (TRACE 0 .. ERROR 4) for comparisons. */
int osh_level_rank(enum osh_level level);

/* The level an OCSF event with this severity_id ranks as (table above). */
enum osh_level osh_level_of_severity(int severity_id);

/* Shorthand severity tag body for a severity_id: "INFO", "LOW", "MED",
 * "HIGH", "CRIT", "FATAL"; Unknown (0), Other (99) and anything else give
 * "INFO". Static string. */
const char *osh_level_severity_tag(int severity_id);

/* Rank of a log line as it travels in the push feed / gateway store:
 * `level` is the line's label (a level name or "OCSF"), `message` its text.
 * For "OCSF" the severity tag after the first space of the message
 * ("[MED]", "[HIGH]"...) decides; a missing/unknown tag ranks INFO.
 * Unknown labels rank INFO. NULL arguments are allowed. */
int osh_level_rank_line(const char *level, const char *message);

/* True when a line with this label/message passes a minimum level. */
bool osh_level_line_passes(const char *level, const char *message, enum osh_level min);

#endif
