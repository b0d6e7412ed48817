/* osh_secret_check.c - see osh_secret_check.h. */
#include "osh_secret_check.h"

#include <stdio.h>
#include <string.h>

static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

int osh_secret_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	int ok = n > 0 && n <= OSH_SECRET_NAME_MAX && !(name[0] >= '0' && name[0] <= '9');

	for (size_t i = 0; ok && i < n; i++)
		ok = name_char((unsigned char)name[i]);
	return ok;
}

int osh_secret_value_check(const char *value, size_t vlen, char *err, size_t errlen)
{
	int rc = 0;

	if (vlen > OSH_SECRET_VALUE_MAX) {
		rc = OSH_ETOOBIG;
		if (err && errlen)
			snprintf(err, errlen, "value longer than %d bytes", OSH_SECRET_VALUE_MAX);
		goto out;
	}
	for (size_t i = 0; i < vlen; i++) {
		if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') {
			rc = OSH_EINVAL;
			if (err && errlen)
				snprintf(err, errlen,
					 "value contains %s at byte %zu (refused: it could split "
					 "an HTTP header)",
					 value[i] == '\r'   ? "CR"
					 : value[i] == '\n' ? "LF"
							    : "NUL",
					 i);
			goto out;
		}
	}
out:
	return rc;
}
