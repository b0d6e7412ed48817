/* osh_time.c - clocks and the UTC timestamp layout (see osh_time.h).
 *
 * DESIGN
 * gmtime_r does the calendar; the millisecond part and negative times
 * (floor division, so -1 ms is 1969-12-31T23:59:59.999Z) are handled here.
 */
#include "osh_time.h"

#include <stdio.h>
#include <time.h>

int64_t osh_time_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t osh_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t osh_time_format_utc(int64_t epoch_ms, char *out, size_t cap)
{
	/* 0000-01-01 and 9999-12-31T23:59:59.999 in epoch ms. */
	const int64_t lo = -62167219200000LL, hi = 253402300799999LL;
	int64_t ms = epoch_ms < lo ? lo : epoch_ms > hi ? hi : epoch_ms;
	int64_t secs = ms / 1000, frac = ms % 1000;
	struct tm tm;
	time_t t;
	int n = 0;

	if (cap < OSH_TIME_RFC3339_LEN) {
		if (cap)
			out[0] = '\0';
		goto out;
	}
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm)) {
		out[0] = '\0';
		goto out;
	}
	n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	if (n < 0)
		n = 0;
out:
	return (size_t)n;
}
