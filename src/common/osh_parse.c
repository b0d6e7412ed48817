/* osh_parse.c - strict parsers of durations, booleans, numbers, endpoints.
 *
 * DESIGN
 * Hand-written digit loops rather than strtoul: strtoul accepts leading
 * whitespace, a sign and "0x", and reports overflow through errno; here the
 * grammar is exactly digits, and overflow is checked before each step.
 */
#include "osh_parse.h"

#include <string.h>
#include <strings.h>

/* Digits of s into *v (stops at the first non-digit, *end points there). */
static int digits(const char *s, uint64_t *v, const char **end)
{
	const char *p = s;
	uint64_t n = 0;
	int rc = OSH_EPARSE;

	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10) {
			rc = OSH_ETOOBIG;
			goto out;
		}
		n = n * 10 + d;
		p++;
	}
	if (p == s)
		goto out;
	*v = n;
	rc = 0;
out:
	*end = p;
	return rc;
}

int osh_parse_duration_ms(const char *s, int64_t *out_ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"", 1000},   {"ms", 1},	   {"s", 1000},
		     {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	const char *end = NULL;
	uint64_t v = 0;
	int rc = OSH_EPARSE;

	if (!s)
		goto out;
	rc = digits(s, &v, &end);
	if (rc)
		goto out;
	rc = OSH_EPARSE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > (uint64_t)INT64_MAX / units[i].ms) {
			rc = OSH_ETOOBIG;
			goto out;
		}
		*out_ms = (int64_t)(v * units[i].ms);
		rc = 0;
		break;
	}
out:
	return rc;
}

int osh_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "y"};
	static const char *const no[] = {"false", "no", "off", "0", "n"};
	int rc = OSH_EPARSE;

	for (size_t i = 0; s && i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			rc = 0;
		} else if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			rc = 0;
		}
	}
	return rc;
}

int osh_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end = NULL;
	uint64_t v = 0;
	int rc = OSH_EPARSE;

	if (!s)
		goto out;
	rc = digits(s, &v, &end);
	if (rc)
		goto out;
	if (*end != '\0') {
		rc = OSH_EPARSE;
		goto out;
	}
	if (v < min || v > max) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	*out = v;
out:
	return rc;
}

int osh_parse_port(const char *s, bool allow_zero, uint16_t *out)
{
	uint64_t v = 0;
	int rc = osh_parse_u64(s, allow_zero ? 0 : 1, 65535, &v);

	if (rc == 0)
		*out = (uint16_t)v;
	return rc;
}

int osh_parse_hostport(const char *s, bool allow_zero, char *host, size_t cap, uint16_t *port)
{
	const char *colon, *h, *he;
	size_t hl;
	int rc = OSH_EPARSE;

	if (!s || !cap)
		goto out;
	colon = strrchr(s, ':');
	if (!colon || colon == s)
		goto out;
	h = s;
	he = colon;
	if (s[0] == '[') {
		if (colon[-1] != ']' || colon - s < 3)
			goto out;
		h = s + 1;
		he = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s))) {
		goto out; /* a bare IPv6 address needs brackets */
	}
	hl = (size_t)(he - h);
	if (hl == 0 || memchr(h, ']', hl) || memchr(h, '[', hl))
		goto out;
	if (hl >= cap) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	rc = osh_parse_port(colon + 1, allow_zero, port);
	if (rc)
		goto out;
	memcpy(host, h, hl);
	host[hl] = '\0';
out:
	return rc;
}
