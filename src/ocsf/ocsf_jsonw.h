/* ocsf_jsonw.h - append-only JSON writer into a caller buffer with a hard cap.
 *
 * DESIGN
 * The serializer of every emitted event goes through this writer, so it is
 * built for speed and for safety on hostile strings:
 * - It writes straight into the caller's buffer; no allocation ever, no
 *   snprintf for integers (two-digits-at-a-time conversion), and strings are
 *   copied in runs: bytes that need no escaping are found with a 256-entry
 *   class table and copied with one memcpy per run.
 * - Errors are sticky: the first overflow records OSH_ETOOBIG and every later
 *   call is a no-op, so a caller checks once at the end. A failed writer never
 *   reports a length, so no truncated line can escape (ocsf_jsonw_finish()).
 * - Strings are RFC 8259 strings: '"' and '\\' escaped, every C0 control
 *   character and DEL escaped (\b \f \n \r \t short forms, \u00XX otherwise),
 *   and the input is checked as UTF-8 (RFC 3629, Unicode table 3-7): overlong
 *   forms, surrogates (ED A0..BF), code points above U+10FFFF, stray
 *   continuation bytes and truncated sequences are each replaced by U+FFFD,
 *   one replacement per maximal ill-formed subpart. The output is therefore
 *   always valid UTF-8 and valid JSON whatever bytes come in.
 * - Doubles: JSON has no NaN/Inf, so ocsf_jsonw_double() writes `null` for
 *   them (the serializer never calls it with one: it leaves such a field
 *   out). Finite values are written with the shortest of %.15g/%.16g/%.17g
 *   that reads back to the same double, and always carry a '.' or an
 *   exponent so a reader sees a float, never an integer (OCSF float_t).
 *
 * Thread-safety: a writer is used by one thread at a time; there is no
 * global state.
 */
#ifndef OCSF_JSONW_H
#define OCSF_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct ocsf_jsonw {
	char *buf;  /* caller's buffer (borrowed for the writer's life) */
	size_t cap; /* bytes usable in buf */
	size_t len; /* bytes written so far */
	int err;    /* first error (OSH_ETOOBIG), 0 if none */
};

/* Start writing into buf[0..cap). `buf` must outlive the writer. Never fails. */
void ocsf_jsonw_init(struct ocsf_jsonw *w, char *buf, size_t cap);

/* Finish: returns 0 and stores the written length in *len (if len is not
 * NULL), or the sticky error (OSH_ETOOBIG), in which case *len is set to 0
 * and the buffer content must not be used. Does not NUL-terminate. */
int ocsf_jsonw_finish(const struct ocsf_jsonw *w, size_t *len);

/* Append n raw bytes (no escaping; the caller vouches they are valid JSON). */
void ocsf_jsonw_raw(struct ocsf_jsonw *w, const char *s, size_t n);

/* Append one raw character. */
static inline void ocsf_jsonw_char(struct ocsf_jsonw *w, char c)
{
	if (w->len < w->cap) {
		w->buf[w->len++] = c;
		return;
	}
	ocsf_jsonw_raw(w, &c, 1);
}

/* Append a quoted, escaped, UTF-8-repaired JSON string of n bytes (embedded
 * NUL bytes are written as \u0000). `s` may be NULL only when n is 0. */
void ocsf_jsonw_strn(struct ocsf_jsonw *w, const char *s, size_t n);

/* The escaped, repaired content of a string without the quotes (to build
 * one JSON string from several pieces between two ocsf_jsonw_char('"')). */
void ocsf_jsonw_strbody(struct ocsf_jsonw *w, const char *s, size_t n);

/* Same as ocsf_jsonw_strn for a NUL-terminated string; NULL is written as "". */
void ocsf_jsonw_str(struct ocsf_jsonw *w, const char *s);

/* Out-of-line half of ocsf_jsonw_str_inline(): the n bytes at s (which
 * need escaping or UTF-8 checking, or do not fit) as a JSON string. */
void ocsf_jsonw_str_slow(struct ocsf_jsonw *w, const char *s, size_t n);

#if defined(__SSE2__)
/* Bit i set when byte i of v is not plain printable ASCII: below 0x20 or
 * at/above 0x80 (one signed compare), '"', '\\' or DEL. */
static inline unsigned ocsf_jsonw_care_mask(__m128i v)
{
	const __m128i lim = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\'), del = _mm_set1_epi8(0x7f);
	__m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(v, lim), _mm_cmpeq_epi8(v, q)),
				   _mm_or_si128(_mm_cmpeq_epi8(v, bs), _mm_cmpeq_epi8(v, del)));
	return (unsigned)_mm_movemask_epi8(bad);
}

/* Length of the NUL-terminated s and whether all of it is plain printable
 * ASCII, in one pass of aligned 16-byte loads (like strlen itself: an
 * aligned load never crosses a page, so reading the rest of the block that
 * holds the terminator is safe; AddressSanitizer cannot know that, hence the
 * attribute). The NUL is itself a byte "needing care", so one mask finds
 * both the end and any byte that needs escaping: the string is plain iff
 * its first such byte is the terminator. */
__attribute__((no_sanitize_address)) static inline size_t ocsf_jsonw_scan(const char *s,
									  bool *plain)
{
	uintptr_t addr = (uintptr_t)s;
	const char *blk = (const char *)(addr & ~(uintptr_t)15);
	unsigned mask = 0xffffu << (unsigned)(addr & 15); /* bytes at or after s */

	for (;;) {
		__m128i v = _mm_load_si128((const __m128i *)(const void *)blk);
		unsigned bad = ocsf_jsonw_care_mask(v) & mask;
		if (bad) {
			unsigned at = (unsigned)__builtin_ctz(bad);
			if (blk[at] == '\0') {
				*plain = true;
				return (size_t)(blk + at - s);
			}
			*plain = false;
			/* Go on looking for the terminator only. */
			unsigned z =
			    (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) &
			    mask;
			while (!z) {
				blk += 16;
				v = _mm_load_si128((const __m128i *)(const void *)blk);
				z = (unsigned)_mm_movemask_epi8(
				    _mm_cmpeq_epi8(v, _mm_setzero_si128()));
			}
			return (size_t)(blk + __builtin_ctz(z) - s);
		}
		blk += 16;
		mask = 0xffffu;
	}
}
#endif

/* memcpy(d, s, n) for the short strings events carry: two overlapping
 * fixed-size moves inside [s, s+n) and [d, d+n) instead of a library call
 * up to 32 bytes. */
static inline void ocsf_jsonw_copy_short(char *d, const char *s, size_t n)
{
	if (n >= 16 && n <= 32) {
		unsigned char a[16], b[16];
		memcpy(a, s, 16);
		memcpy(b, s + n - 16, 16);
		memcpy(d, a, 16);
		memcpy(d + n - 16, b, 16);
	} else if (n >= 8 && n < 16) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	} else {
		memcpy(d, s, n);
	}
}

#if defined(__SSE2__)
/* The 16 bytes at s, unaligned; the caller has checked they do not cross
 * a page boundary, so the load cannot fault even past the terminator
 * (AddressSanitizer cannot know that, hence the attribute). */
__attribute__((no_sanitize_address)) static inline __m128i ocsf_jsonw_load16(const char *s)
{
	return _mm_loadu_si128((const __m128i *)(const void *)s);
}
#endif

/* ocsf_jsonw_str() with its common case (plain ASCII that fits) inline:
 * for the serializer's hot loop. Same output. A string shorter than 16
 * bytes whose 16-byte window stays inside its page is checked and copied
 * with one load and one store. */
static inline void ocsf_jsonw_str_inline(struct ocsf_jsonw *w, const char *str)
{
	const char *s = str ? str : "";
#if defined(__SSE2__)
	if (((uintptr_t)s & 4095) <= 4096 - 16 && !w->err && w->cap - w->len >= 18) {
		__m128i v = ocsf_jsonw_load16(s);
		unsigned bad = ocsf_jsonw_care_mask(v);
		if (bad) {
			unsigned at = (unsigned)__builtin_ctz(bad);
			if (s[at] == '\0') {
				char *p = w->buf + w->len;
				p[0] = '"';
				_mm_storeu_si128((__m128i *)(void *)(p + 1), v);
				p[at + 1] = '"';
				w->len += at + 2;
				return;
			}
		}
	}
	bool plain;
	size_t n = ocsf_jsonw_scan(s, &plain);
	if (plain && !w->err && n + 2 <= w->cap - w->len) {
		char *p = w->buf + w->len;
		p[0] = '"';
		ocsf_jsonw_copy_short(p + 1, s, n);
		p[n + 1] = '"';
		w->len += n + 2;
		return;
	}
	ocsf_jsonw_str_slow(w, s, n);
#else
	ocsf_jsonw_str_slow(w, s, strlen(s));
#endif
}

/* Records OSH_ETOOBIG (the out-of-line half of the inline appenders). */
void ocsf_jsonw_overflow(struct ocsf_jsonw *w);

/* Append `,"key":` (comma when `comma` is true) for a key the caller knows
 * needs no escaping (descriptor names: ASCII letters, digits, '_'). Inline
 * with a single capacity check: it runs once per field. */
static inline void ocsf_jsonw_member(struct ocsf_jsonw *w, bool comma, const char *key,
				     size_t keylen)
{
	size_t c = comma ? 1 : 0;
	if (w->err || keylen + 3 + c > w->cap - w->len) {
		ocsf_jsonw_overflow(w);
		return;
	}
	char *p = w->buf + w->len;
	p[0] = ',';
	p += c;
	p[0] = '"';
	/* Keys are short: fixed-size overlapping moves instead of a call. */
	if (keylen >= 8 && keylen <= 16) {
		uint64_t a, b;
		memcpy(&a, key, 8);
		memcpy(&b, key + (keylen - 8), 8);
		memcpy(p + 1, &a, 8);
		memcpy(p + 1 + (keylen - 8), &b, 8);
	} else if (keylen >= 4 && keylen < 8) {
		uint32_t a, b;
		memcpy(&a, key, 4);
		memcpy(&b, key + (keylen - 4), 4);
		memcpy(p + 1, &a, 4);
		memcpy(p + 1 + (keylen - 4), &b, 4);
	} else {
		memcpy(p + 1, key, keylen);
	}
	p[keylen + 1] = '"';
	p[keylen + 2] = ':';
	w->len += keylen + 3 + c;
}

/* Append `"key":` (see ocsf_jsonw_member). */
static inline void ocsf_jsonw_key(struct ocsf_jsonw *w, const char *key, size_t keylen)
{
	ocsf_jsonw_member(w, false, key, keylen);
}

/* Same for a NUL-terminated key (no strlen pass). */
void ocsf_jsonw_key_cstr(struct ocsf_jsonw *w, const char *key);

/* Exact decimal integers. */
void ocsf_jsonw_int(struct ocsf_jsonw *w, int64_t v);
void ocsf_jsonw_uint(struct ocsf_jsonw *w, uint64_t v);

/* "00" "01" ... "99": two digits at a time. */
extern const char ocsf_jsonw_digits2[201];

/* Writes the decimal digits of v ending at `end`; returns the start. */
static inline char *ocsf_jsonw_u64_digits(char *end, uint64_t v)
{
	char *p = end;
	while (v >= 100) {
		unsigned i = (unsigned)(v % 100) * 2;
		v /= 100;
		p -= 2;
		p[0] = ocsf_jsonw_digits2[i];
		p[1] = ocsf_jsonw_digits2[i + 1];
	}
	if (v >= 10) {
		unsigned i = (unsigned)v * 2;
		p -= 2;
		p[0] = ocsf_jsonw_digits2[i];
		p[1] = ocsf_jsonw_digits2[i + 1];
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

/* Number of decimal digits of v (1..20). */
static inline size_t ocsf_jsonw_u64_ndigits(uint64_t v)
{
	size_t n = 1;
	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	if (v >= 10)
		n++;
	if (v >= 100)
		n++;
	if (v >= 1000)
		n++;
	return n;
}

/* Digits of u (with a leading '-' when neg) written straight into the
 * buffer when it has room: no staging copy. Inline for the serializer. */
static inline void ocsf_jsonw_put_u64(struct ocsf_jsonw *w, uint64_t u, bool neg)
{
	size_t n = ocsf_jsonw_u64_ndigits(u) + (neg ? 1 : 0);
	if (!w->err && n <= w->cap - w->len) {
		char *p = ocsf_jsonw_u64_digits(w->buf + w->len + n, u);
		if (neg)
			p[-1] = '-';
		w->len += n;
		return;
	}
	ocsf_jsonw_overflow(w);
}

/* ocsf_jsonw_int() inline. */
static inline void ocsf_jsonw_int_inline(struct ocsf_jsonw *w, int64_t v)
{
	/* Negate in unsigned arithmetic so INT64_MIN is exact. */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	ocsf_jsonw_put_u64(w, u, v < 0);
}

/* true / false. */
void ocsf_jsonw_bool(struct ocsf_jsonw *w, bool v);

/* A JSON number with a '.' or exponent; NaN and +-Inf are written as null. */
void ocsf_jsonw_double(struct ocsf_jsonw *w, double v);

/* Checks that s[0..n) is exactly one JSON value (RFC 8259 grammar, optional
 * surrounding whitespace, nesting up to 64 levels). Used for json_t values
 * and open-object JSON members before they are inserted raw. Returns true if
 * it is. Pure function, thread-safe. */
bool ocsf_json_valid(const char *s, size_t n);

#endif
