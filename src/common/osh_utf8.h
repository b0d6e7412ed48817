/* osh_utf8.h - the one UTF-8 decoder and the one "never shown raw" rule used
 * wherever untrusted text is escaped for a reader (shorthand log lines, the
 * gateway's stderr log, the CLI's log display).
 *
 * DESIGN: header-only static inline so the emit escaper's hot path keeps its
 * inlining; every escaper decides the same way what is well-formed and what a
 * terminal or a reader could be fooled by (CWE-117, Trojan Source). The JSON
 * writer keeps its own decoder on purpose: it replaces ill-formed input with
 * one U+FFFD per maximal subpart instead of escaping bytes.
 * Thread-safe, no allocation. */
#ifndef OSH_UTF8_H
#define OSH_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..len) and its code
 * point in *cp, or 0 when ill-formed: bad lead or continuation byte,
 * truncated, overlong, surrogate, above U+10FFFF. len >= 1. A NUL byte is never
 * a continuation byte, so a NUL-terminated string may pass a bound of 4. */
static inline size_t osh_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Code points a terminal acts on or that change what a reader sees: C1
 * controls (U+0080..U+009F, e.g. 8-bit CSI), line/paragraph separators,
 * bidi embeddings/overrides/isolates, BOM. Escapers show them as \u{XXXX}. */
static inline bool osh_utf8_is_invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* Length of s[0..len) without a trailing incomplete sequence: where a buffer
 * cut a multi-byte character (snprintf truncation), the cut moves back to the
 * character's first byte, so the prefix never ends mid-character. Bytes
 * before the last (up to 3) continuation bytes are not looked at. */
static inline size_t osh_utf8_cut(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = len, need;

	while (i > 0 && len - i < 4 && (u[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || u[i - 1] < 0xc0)
		return len; /* ends on ASCII, or stray continuation bytes: left as is */
	need = u[i - 1] >= 0xf0 ? 4 : u[i - 1] >= 0xe0 ? 3 : 2;
	return len - (i - 1) < need ? i - 1 : len;
}

#endif
