/* fuzz_utf8.h - the fuzz targets' own UTF-8 oracle.
 *
 * DESIGN: an oracle must not share code with what it checks, so this is
 * written apart from src/common/osh_utf8.h and src/ocsf's JSON writer; it is
 * shared only among the fuzz targets, so that all of them judge "valid UTF-8"
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) the same way. */
#ifndef FUZZ_UTF8_H
#define FUZZ_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed sequence at s[0..n) (n >= 1) and its code point,
 * or 0 when ill-formed. */
static inline size_t fuzz_utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		v = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		v = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
	    v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* Whether s[0..n) is entirely well-formed UTF-8. */
static inline bool fuzz_utf8_ok(const void *s, size_t n)
{
	const unsigned char *u = s;
	uint32_t cp;

	for (size_t i = 0, k; i < n; i += k)
		if ((k = fuzz_utf8_dec(u + i, n - i, &cp)) == 0)
			return false;
	return true;
}

#endif
