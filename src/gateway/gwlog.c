/* gwlog.c - see gwlog.h. DESIGN: format into a stack buffer, one write(2). */
#include "gwlog.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
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

void osh_gw_log(enum osh_gw_loglevel level, const char *fmt, ...)
{
	char buf[2048];
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
	n = k > 0 ? (size_t)k : 0;
	va_start(ap, fmt);
	k = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt,
		      ap); /* NOLINT(clang-analyzer-valist.Uninitialized): va_start above */
	va_end(ap);
	if (k > 0)
		n += (size_t)k < sizeof(buf) - n - 1 ? (size_t)k : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}
