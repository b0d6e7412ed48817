/* osh_level.c - level names, parsing and the OCSF severity ranking.
 *
 * DESIGN: tables, no state; see osh_level.h for the ranking and why it lives
 * apart from the emission runtime. */
#include "osh_level.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "osh_err.h"

static const char *const level_names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};

const char *osh_level_name(enum osh_level level)
{
	const char *name = "INFO";

	if ((int)level >= OSH_LEVEL_TRACE && (int)level <= OSH_LEVEL_ERROR)
		name = level_names[level];
	return name;
}

int osh_level_parse(const char *text, enum osh_level *out)
{
	static const struct {
		const char *name;
		enum osh_level level;
	} names[] = {
	    {"trace", OSH_LEVEL_TRACE}, {"debug", OSH_LEVEL_DEBUG},  {"info", OSH_LEVEL_INFO},
	    {"warn", OSH_LEVEL_WARN},	{"warning", OSH_LEVEL_WARN}, {"error", OSH_LEVEL_ERROR},
	    {"ocsf", OSH_LEVEL_INFO},
	};
	int rc = OSH_EINVAL;

	if (text == NULL || out == NULL)
		goto out;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) == 0) {
			*out = names[i].level;
			rc = 0;
			break;
		}
	}
out:
	return rc;
}

int osh_level_rank(enum osh_level level)
{
	int rank = OSH_LEVEL_INFO;

	if ((int)level >= OSH_LEVEL_TRACE && (int)level <= OSH_LEVEL_ERROR)
		rank = (int)level;
	return rank;
}

enum osh_level osh_level_of_severity(int severity_id)
{
	enum osh_level level = OSH_LEVEL_INFO;

	if (severity_id == 3)
		level = OSH_LEVEL_WARN;
	else if (severity_id >= 4 && severity_id <= 6)
		level = OSH_LEVEL_ERROR;
	return level;
}

const char *osh_level_severity_tag(int severity_id)
{
	static const char *const tags[] = {"INFO", "INFO", "LOW", "MED", "HIGH", "CRIT", "FATAL"};
	const char *tag = "INFO";

	if (severity_id >= 0 && severity_id <= 6)
		tag = tags[severity_id];
	return tag;
}

/* Maps a shorthand tag body back to a level (INFO when unknown). */
static enum osh_level level_of_tag(const char *tag, size_t len)
{
	static const struct {
		const char *tag;
		enum osh_level level;
	} tags[] = {
	    {"INFO", OSH_LEVEL_INFO},  {"LOW", OSH_LEVEL_INFO},	  {"MED", OSH_LEVEL_WARN},
	    {"HIGH", OSH_LEVEL_ERROR}, {"CRIT", OSH_LEVEL_ERROR}, {"FATAL", OSH_LEVEL_ERROR},
	};
	enum osh_level level = OSH_LEVEL_INFO;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		if (strlen(tags[i].tag) == len && memcmp(tags[i].tag, tag, len) == 0) {
			level = tags[i].level;
			break;
		}
	}
	return level;
}

int osh_level_rank_line(const char *level, const char *message)
{
	enum osh_level lv = OSH_LEVEL_INFO;
	const char *sp, *open, *close;

	if (level == NULL)
		goto out;
	if (strcasecmp(level, OSH_LEVEL_OCSF_LABEL) != 0) {
		if (osh_level_parse(level, &lv) != 0)
			lv = OSH_LEVEL_INFO;
		goto out;
	}
	if (message == NULL)
		goto out;
	/* "CLASS:ACT [SEV] ..." or "EVENT [SEV] ...": the tag follows the first space. */
	sp = strchr(message, ' ');
	if (sp == NULL || sp[1] != '[')
		goto out;
	open = sp + 1;
	close = strchr(open, ']');
	if (close == NULL || close - open > 6)
		goto out;
	lv = level_of_tag(open + 1, (size_t)(close - open - 1));
out:
	return (int)lv;
}

bool osh_level_line_passes(const char *level, const char *message, enum osh_level min)
{
	return osh_level_rank_line(level, message) >= osh_level_rank(min);
}
