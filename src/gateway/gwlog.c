/* gwlog.c - see gwlog.h.
 *
 * DESIGN: format the message into a stack buffer, escape it into the line
 * buffer (messages can carry client-chosen text: names, paths, YAML keys;
 * CWE-117), one write(2). The escaping rules are those of src/emit's
 * escaper, kept here so the gateway needs no emission runtime. */
#include "gwlog.h"
#include "osh_utf8.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = OSH_GW_LOG_INFO;

void osh_gw_log_set_min(enum osh_gw_loglevel min)
{
	atomic_store(&min_level, (int)min);
}

static const char *name_of(enum osh_gw_loglevel l)
{
	const char *n = "INFO ";

	switch (l) {
	case OSH_GW_LOG_DEBUG:
		n = "DEBUG";
		break;
	case OSH_GW_LOG_INFO:
		n = "INFO ";
		break;
	case OSH_GW_LOG_WARN:
		n = "WARN ";
		break;
	case OSH_GW_LOG_ERROR:
		n = "ERROR";
		break;
	}
	return n;
}

size_t osh_gw_log_escape(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0, adv = 1; i < len; i += adv) {
		char tmp[12];
		size_t tn = 0;
		uint32_t cp = 0;
		unsigned char c = u[i];

		adv = 1;
		if (c == '\\') {
			tmp[tn++] = '\\';
			tmp[tn++] = '\\';
		} else if (c == '\n' || c == '\r' || c == '\t') {
			tmp[tn++] = '\\';
			tmp[tn++] = c == '\n' ? 'n' : (c == '\r' ? 'r' : 't');
		} else if (c >= 0x20 && c < 0x7f) {
			tmp[tn++] = (char)c;
		} else if (c < 0x80 || (adv = osh_utf8_decode(u + i, len - i, &cp)) == 0) {
			adv = 1;
			tmp[tn++] = '\\';
			tmp[tn++] = 'x';
			tmp[tn++] = hex[c >> 4];
			tmp[tn++] = hex[c & 15];
		} else if (osh_utf8_is_invisible(cp)) {
			tmp[tn++] = '\\';
			tmp[tn++] = 'u';
			tmp[tn++] = '{';
			for (int sh = 12; sh >= 0; sh -= 4)
				tmp[tn++] = hex[(cp >> sh) & 15];
			tmp[tn++] = '}';
		} else {
			memcpy(tmp, u + i, adv);
			tn = adv;
		}
		if (o + tn > cap - 1)
			break; /* never split an escape or a character */
		memcpy(out + o, tmp, tn);
		o += tn;
	}
	out[o] = '\0';
	return o;
}

void osh_gw_log(enum osh_gw_loglevel level, const char *fmt, ...)
{
	char buf[2048], msg[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int k;

	if ((int)level < atomic_load(&min_level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(buf, sizeof(buf),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s openshell-gateway: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, name_of(level));
	n = k > 0 && (size_t)k < sizeof(buf) ? (size_t)k : 0;
	va_start(ap, fmt);
	k = vsnprintf(msg, sizeof(msg), fmt,
		      ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
	if (k > 0)
		n += osh_gw_log_escape(buf + n, sizeof(buf) - n - 1, msg,
				       (size_t)k < sizeof(msg) ? (size_t)k : sizeof(msg) - 1);
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}
