/* cli_format.c - how one log line looks in `openshell sandbox logs`.
 *
 * DESIGN: the layout follows the upstream CLI so people and scripts reading
 * both see the same columns. Everything printed comes from sandboxes, which
 * are untrusted: control bytes (ESC, CR, LF, ...) are shown escaped as \n,
 * \r, \t or \xNN, ill-formed UTF-8 as \xNN per byte, and C1 controls,
 * U+2028/2029, bidi overrides/isolates and BOM as \u{XXXX} (the rules of the
 * emit escaper), so a pushed line can neither forge a second line, drive the
 * terminal nor reorder what the operator reads. Colour is added only around
 * our own columns. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_internal.h"
#include "osh_cli.h"
#include "osh_time.h"
#include "osh_utf8.h"

#define C_RESET "\x1b[0m"
#define C_DIM	"\x1b[2m"
#define C_RED	"\x1b[31m"
#define C_GREEN "\x1b[32m"
#define C_YEL	"\x1b[33m"
#define C_BLUE	"\x1b[34m"
#define C_MAG	"\x1b[35m"

struct out {
	char *buf;
	size_t cap;
	size_t len; /* bytes needed so far (may exceed cap) */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void puts_raw(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Untrusted text, escaped so it can neither forge a line nor drive or
 * reorder the terminal: \n \r \t, other C0 and DEL as \xNN, ill-formed
 * UTF-8 byte by byte as \xNN, the code points above as \u{XXXX}. Backslash
 * itself is kept: lines pushed by supervisors are already escaped by the
 * emit library, escaping again would double every backslash. */
static void put_text(struct out *o, const char *s)
{
	if (s == NULL)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		uint32_t cp = 0;
		size_t n;

		if (*p >= 0x20 && *p < 0x7f) {
			put(o, (const char *)p, 1);
		} else if (*p == '\n') {
			puts_raw(o, "\\n");
		} else if (*p == '\r') {
			puts_raw(o, "\\r");
		} else if (*p == '\t') {
			puts_raw(o, "\\t");
		} else if (*p < 0x80 ||
			   (n = osh_utf8_decode(p, strnlen((const char *)p, 4), &cp)) == 0) {
			putf(o, "\\x%02x", *p);
		} else if (osh_utf8_is_invisible(cp)) {
			putf(o, "\\u{%04x}", (unsigned)cp);
			p += n - 1;
		} else {
			put(o, (const char *)p, n);
			p += n - 1;
		}
	}
}

static size_t text_width(const char *s)
{
	struct out o = {NULL, 0, 0};
	put_text(&o, s);
	return o.len;
}

size_t cli_escape_text(const char *s, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	put_text(&o, s);
	if (cap > 0)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}

static const char *level_color(const char *level, const char *message)
{
	switch (osh_level_rank_line(level, message)) {
	case OSH_LEVEL_ERROR:
		return C_RED;
	case OSH_LEVEL_WARN:
		return C_YEL;
	case OSH_LEVEL_INFO:
		return C_GREEN;
	default:
		return C_DIM;
	}
}

size_t osh_cli_format_line(const struct osh_cli_line *l, bool color, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	const char *source = l->source != NULL && *l->source != '\0' ? l->source : "gateway";
	const char *level = l->level != NULL ? l->level : "";
	int64_t ts = l->timestamp_ms < 0 ? 0 : l->timestamp_ms;
	size_t order[64];
	size_t n = l->n_fields < 64 ? l->n_fields : 64;

	if (l->ts == OSH_CLI_TS_UTC) {
		char t[OSH_TIME_RFC3339_LEN];
		osh_time_format_utc(ts, t, sizeof(t));
		putf(&o, "[%s] ", t);
	} else if (l->ts == OSH_CLI_TS_LOCAL) {
		char t[40] = "";
		time_t secs = (time_t)(ts / 1000);
		struct tm tm;
		if (localtime_r(&secs, &tm) != NULL)
			strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
		putf(&o, "[%s.%03lld] ", t, (long long)(ts % 1000));
	} else {
		putf(&o, "[%lld.%03lld] ", (long long)(ts / 1000), (long long)(ts % 1000));
	}
	puts_raw(&o, "[");
	for (size_t w = text_width(source); w < 7; w++)
		puts_raw(&o, " ");
	if (color)
		puts_raw(&o, strcmp(source, "sandbox") == 0 ? C_MAG : C_BLUE);
	put_text(&o, source);
	if (color)
		puts_raw(&o, C_RESET);
	puts_raw(&o, "] [");
	if (color)
		puts_raw(&o, level_color(level, l->message));
	put_text(&o, level);
	if (color)
		puts_raw(&o, C_RESET);
	for (size_t w = text_width(level); w < 5; w++)
		puts_raw(&o, " ");
	puts_raw(&o, "] [");
	put_text(&o, l->target);
	puts_raw(&o, "] ");
	put_text(&o, l->message);

	/* fields sorted by key (insertion sort: a handful of fields) */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		order[i] = i;
		while (j > 0 && strcmp(l->keys[order[j - 1]], l->keys[order[j]]) > 0) {
			size_t t = order[j - 1];
			order[j - 1] = order[j];
			order[j] = t;
			j--;
		}
	}
	for (size_t i = 0; i < n; i++) {
		puts_raw(&o, " ");
		if (color)
			puts_raw(&o, C_DIM);
		put_text(&o, l->keys[order[i]]);
		puts_raw(&o, "=");
		if (color)
			puts_raw(&o, C_RESET);
		put_text(&o, l->values[order[i]]);
	}
	if (cap > 0)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}

void osh_cli_json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0';
	     p++) {
		uint32_t cp = 0;
		size_t n;

		if (*p == '"' || *p == '\\') {
			fputc('\\', fp);
			fputc(*p, fp);
		} else if (*p == '\n') {
			fputs("\\n", fp);
		} else if (*p == '\r') {
			fputs("\\r", fp);
		} else if (*p == '\t') {
			fputs("\\t", fp);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\u%04x", *p);
		} else if (*p < 0x80) {
			fputc(*p, fp);
		} else if ((n = osh_utf8_decode(p, strnlen((const char *)p, 4), &cp)) == 0) {
			fputs("\\ufffd", fp);
		} else if (osh_utf8_is_invisible(cp) && cp <= 0xffff) {
			fprintf(fp, "\\u%04x", (unsigned)cp);
			p += n - 1;
		} else {
			fwrite(p, 1, n, fp);
			p += n - 1;
		}
	}
	fputc('"', fp);
}
