/* ocsf_jsonw.c - JSON writer: escaping, UTF-8 repair, exact numbers.
 *
 * DESIGN
 * See ocsf_jsonw.h. The hot path is ocsf_jsonw_strn(): a byte-class table
 * marks the bytes that end a "copy as is" run (quote, backslash, C0 controls,
 * DEL, every byte >= 0x80); runs are copied with memcpy after one capacity
 * check, so ASCII text costs one table lookup per byte. Non-ASCII bytes go
 * through a strict UTF-8 decoder that follows Unicode table 3-7 (well-formed
 * byte sequences); whatever it rejects is replaced by U+FFFD.
 * Integers are converted two digits at a time from a 200-byte table.
 */
#include "ocsf_jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "osh_err.h"

/* Byte classes: 0 = copy as is, 1 = needs an escape, 2 = UTF-8 lead or
 * invalid byte (>= 0x80). */
#define C_OK  0
#define C_ESC 1
#define C_HI  2

/* clang-format off */
static const unsigned char cls_tab[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* 0x70 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};
/* clang-format on */

const char ocsf_jsonw_digits2[201] = "00010203040506070809"
				     "10111213141516171819"
				     "20212223242526272829"
				     "30313233343536373839"
				     "40414243444546474849"
				     "50515253545556575859"
				     "60616263646566676869"
				     "70717273747576777879"
				     "80818283848586878889"
				     "90919293949596979899";

static const char hexdig[16] = "0123456789abcdef";

void ocsf_jsonw_init(struct ocsf_jsonw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
	w->err = 0;
}

int ocsf_jsonw_finish(const struct ocsf_jsonw *w, size_t *len)
{
	if (len)
		*len = w->err ? 0 : w->len;
	return w->err;
}

/* Reserve n bytes; returns the write position or NULL (error recorded). */
static inline char *reserve(struct ocsf_jsonw *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		w->err = OSH_ETOOBIG;
		return NULL;
	}
	char *p = w->buf + w->len;
	w->len += n;
	return p;
}

void ocsf_jsonw_raw(struct ocsf_jsonw *w, const char *s, size_t n)
{
	char *p = reserve(w, n);
	if (p && n)
		memcpy(p, s, n);
}

void ocsf_jsonw_overflow(struct ocsf_jsonw *w)
{
	if (!w->err)
		w->err = OSH_ETOOBIG;
}

void ocsf_jsonw_key_cstr(struct ocsf_jsonw *w, const char *key)
{
	/* Descriptor keys are short: copy bytes while there is room rather
	 * than strlen + memcpy. */
	char *p = w->buf + w->len;
	char *end = w->buf + w->cap;
	if (w->err)
		return;
	if (p < end)
		*p++ = '"';
	else
		goto full;
	for (const char *k = key; *k; k++) {
		if (p == end)
			goto full;
		*p++ = *k;
	}
	if (end - p < 2)
		goto full;
	*p++ = '"';
	*p++ = ':';
	w->len = (size_t)(p - w->buf);
	return;
full:
	w->err = OSH_ETOOBIG;
}

static void put_escape(struct ocsf_jsonw *w, unsigned char c)
{
	char tmp[6];
	size_t n = 2;
	if ((c == '"' || c == '\\') && !w->err && w->cap - w->len >= 2) {
		w->buf[w->len] = '\\';
		w->buf[w->len + 1] = (char)c;
		w->len += 2;
		return;
	}
	tmp[0] = '\\';
	switch (c) {
	case '"':
		tmp[1] = '"';
		break;
	case '\\':
		tmp[1] = '\\';
		break;
	case '\b':
		tmp[1] = 'b';
		break;
	case '\f':
		tmp[1] = 'f';
		break;
	case '\n':
		tmp[1] = 'n';
		break;
	case '\r':
		tmp[1] = 'r';
		break;
	case '\t':
		tmp[1] = 't';
		break;
	default:
		tmp[1] = 'u';
		tmp[2] = '0';
		tmp[3] = '0';
		tmp[4] = hexdig[c >> 4];
		tmp[5] = hexdig[c & 15];
		n = 6;
		break;
	}
	ocsf_jsonw_raw(w, tmp, n);
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (2..4), or 0 when it
 * is ill-formed; then *bad is the length of the maximal ill-formed subpart
 * (>= 1) to replace by one U+FFFD. Unicode 15, table 3-7. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlongs */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* no overlongs */
		else if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
	} else {
		*bad = 1; /* 80..C1 (continuation, overlong lead), F5..FF */
		return 0;
	}
	size_t i = 1;
	for (; i < need; i++) {
		if (i >= n)
			break;
		unsigned char b = s[i];
		unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xbf;
		if (b < l || b > h)
			break;
	}
	if (i == need)
		return need;
	*bad = i;
	return 0;
}

/* Whether any of the 8 bytes at s is not plain printable ASCII (control,
 * '"', '\\', DEL or >= 0x80): the classic "has byte less than / equal to"
 * word tricks; exact for "any", which is all the caller asks. */
static inline bool word_needs_care(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	uint64_t lt20 = (v - ones * 0x20) & ~v;
	uint64_t q = v ^ (ones * '"');
	uint64_t b = v ^ (ones * '\\');
	uint64_t d = v ^ (ones * 0x7f);
	uint64_t eq = ((q - ones) & ~q) | ((b - ones) & ~b) | ((d - ones) & ~d);
	return ((lt20 | eq) & highs) != 0 || (v & highs) != 0;
}

static inline bool needs_care(const unsigned char *s)
{
	uint64_t v;
	memcpy(&v, s, 8);
	return word_needs_care(v);
}

/* needs_care() over every word of s[0..n), n >= 8 (last word overlaps). */
static bool plain_ascii_words(const unsigned char *s, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		if (needs_care(s + i))
			return false;
	return !needs_care(s + n - 8);
}

#if defined(__SSE2__)
static inline unsigned care_mask16(const unsigned char *s)
{
	return ocsf_jsonw_care_mask(_mm_loadu_si128((const __m128i *)(const void *)s));
}
#endif

void ocsf_jsonw_strbody(struct ocsf_jsonw *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *end = s + n;

	while (s < end && !w->err) {
		const unsigned char *run;
#if defined(__SSE2__)
		/* With 16 bytes of room: copy while checking, one load and one
		 * store per 16 bytes (bytes stored past the run are overwritten
		 * next, and stay inside cap). */
		while (end - s >= 16 && w->cap - w->len >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
			unsigned bad = ocsf_jsonw_care_mask(v);
			_mm_storeu_si128((__m128i *)(void *)(w->buf + w->len), v);
			unsigned adv = bad ? (unsigned)__builtin_ctz(bad) : 16;
			s += adv;
			w->len += adv;
			if (bad)
				break;
		}
		run = s;
		/* 16 bytes at a time: the first byte needing care ends the run. */
		while (end - s >= 16) {
			unsigned bad = care_mask16(s);
			if (bad) {
				s += __builtin_ctz(bad);
				break;
			}
			s += 16;
		}
#else
		run = s;
#endif
		while (end - s >= 8 && !needs_care(s))
			s += 8;
		while (s < end && cls_tab[*s] == C_OK)
			s++;
		if (s > run)
			ocsf_jsonw_raw(w, (const char *)run, (size_t)(s - run));
		if (s == end)
			break;
		if (cls_tab[*s] == C_ESC) {
			put_escape(w, *s);
			s++;
			continue;
		}
		/* Non-ASCII: copy well-formed sequences in a run. */
		run = s;
		size_t bad = 0;
		while (s < end && cls_tab[*s] == C_HI) {
			size_t k = utf8_seq(s, (size_t)(end - s), &bad);
			if (!k)
				break;
			s += k;
		}
		if (s > run)
			ocsf_jsonw_raw(w, (const char *)run, (size_t)(s - run));
		if (bad && s < end && cls_tab[*s] == C_HI) {
			ocsf_jsonw_raw(w, "\xef\xbf\xbd", 3);
			s += bad;
		}
	}
}

/* Copies s[0..n) to d while checking it is plain printable ASCII (no byte
 * needs escaping or UTF-8 checking); returns false as soon as a block is
 * not (d then holds a partial copy the caller overwrites). Reads and writes
 * only inside [s, s+n) and [d, d+n): the last block overlaps the previous
 * one instead of running past the end. */
static inline bool copy_plain(char *d, const unsigned char *s, size_t n)
{
#if defined(__SSE2__)
	if (n >= 16) {
		const __m128i lim = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"');
		const __m128i bs = _mm_set1_epi8('\\'), del = _mm_set1_epi8(0x7f);
		size_t i = 0;
		for (;;) {
			if (i + 16 > n)
				i = n - 16;
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			/* signed compare: < 0x20 and >= 0x80 (negative) both hit */
			__m128i bad = _mm_or_si128(
			    _mm_or_si128(_mm_cmplt_epi8(v, lim), _mm_cmpeq_epi8(v, q)),
			    _mm_or_si128(_mm_cmpeq_epi8(v, bs), _mm_cmpeq_epi8(v, del)));
			if (_mm_movemask_epi8(bad))
				return false;
			_mm_storeu_si128((__m128i *)(void *)(d + i), v);
			if (i + 16 >= n)
				return true;
			i += 16;
		}
	}
#endif
	if (n >= 8 && n <= 16) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		if (word_needs_care(a) || word_needs_care(b))
			return false;
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
		return true;
	}
	if (n > 16) {
		if (!plain_ascii_words(s, n))
			return false;
		memcpy(d, s, n);
		return true;
	}
	unsigned char any = 0;
	for (size_t i = 0; i < n; i++) {
		any |= cls_tab[s[i]];
		d[i] = (char)s[i];
	}
	return any == 0;
}

static inline void strn_impl(struct ocsf_jsonw *w, const char *s, size_t n)
{
	/* Fast path: plain ASCII that fits is checked and copied in one pass. */
	if (!w->err && n + 2 <= w->cap - w->len) {
		char *p = w->buf + w->len;
		if (copy_plain(p + 1, (const unsigned char *)s, n)) {
			p[0] = '"';
			p[n + 1] = '"';
			w->len += n + 2;
			return;
		}
	}
	ocsf_jsonw_char(w, '"');
	ocsf_jsonw_strbody(w, s, n);
	ocsf_jsonw_char(w, '"');
}

void ocsf_jsonw_strn(struct ocsf_jsonw *w, const char *s, size_t n)
{
	strn_impl(w, s, n);
}

void ocsf_jsonw_str_slow(struct ocsf_jsonw *w, const char *s, size_t n)
{
	strn_impl(w, s, n);
}

void ocsf_jsonw_str(struct ocsf_jsonw *w, const char *str)
{
	ocsf_jsonw_str_inline(w, str);
}

void ocsf_jsonw_uint(struct ocsf_jsonw *w, uint64_t v)
{
	ocsf_jsonw_put_u64(w, v, false);
}

void ocsf_jsonw_int(struct ocsf_jsonw *w, int64_t v)
{
	/* Negate in unsigned arithmetic so INT64_MIN is exact. */
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	ocsf_jsonw_put_u64(w, u, v < 0);
}

void ocsf_jsonw_bool(struct ocsf_jsonw *w, bool v)
{
	if (v)
		ocsf_jsonw_raw(w, "true", 4);
	else
		ocsf_jsonw_raw(w, "false", 5);
}

void ocsf_jsonw_double(struct ocsf_jsonw *w, double v)
{
	char tmp[40];
	int n = 0;

	if (!isfinite(v)) {
		ocsf_jsonw_raw(w, "null", 4);
		return;
	}
	/* Shortest of 15/16/17 significant digits that round-trips. */
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (n <= 0 || (size_t)n >= sizeof(tmp) - 3) {
			n = 0;
			break;
		}
		if (prec == 17 || strtod(tmp, NULL) == v)
			break;
	}
	if (n <= 0) {
		ocsf_jsonw_raw(w, "0.0", 3);
		return;
	}
	/* Make it read as a float: add ".0" unless a '.', 'e' or "inf" is in. */
	bool has_frac = false;
	for (int i = 0; i < n; i++) {
		if (tmp[i] == '.' || tmp[i] == 'e' || tmp[i] == 'E') {
			has_frac = true;
			break;
		}
	}
	if (!has_frac) {
		tmp[n++] = '.';
		tmp[n++] = '0';
	}
	ocsf_jsonw_raw(w, tmp, (size_t)n);
}

/* ------------------------------------------------------------ validation */

struct jv {
	const unsigned char *p;
	const unsigned char *end;
	int depth;
};

static void jv_ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static bool jv_lit(struct jv *v, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n) != 0)
		return false;
	v->p += n;
	return true;
}

static bool jv_string(struct jv *v)
{
	if (v->p >= v->end || *v->p != '"')
		return false;
	v->p++;
	while (v->p < v->end) {
		unsigned char c = *v->p;
		if (c == '"') {
			v->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			v->p++;
			if (v->p >= v->end)
				return false;
			c = *v->p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, v->p++) {
					if (v->p >= v->end)
						return false;
					unsigned char h = *v->p;
					if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
					      (h >= 'A' && h <= 'F')))
						return false;
				}
			} else if (!strchr("\"\\/bfnrt", c) || c == 0) {
				return false;
			}
			continue;
		}
		if (c >= 0x80) {
			size_t bad = 0;
			size_t k = utf8_seq(v->p, (size_t)(v->end - v->p), &bad);
			if (!k)
				return false;
			v->p += k;
			continue;
		}
		v->p++;
	}
	return false;
}

static bool jv_digits(struct jv *v)
{
	const unsigned char *s = v->p;
	while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
		v->p++;
	return v->p > s;
}

static bool jv_number(struct jv *v)
{
	if (v->p < v->end && *v->p == '-')
		v->p++;
	if (v->p >= v->end)
		return false;
	if (*v->p == '0')
		v->p++;
	else if (!jv_digits(v))
		return false;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (!jv_digits(v))
			return false;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (!jv_digits(v))
			return false;
	}
	return true;
}

static bool jv_value(struct jv *v);

static bool jv_container(struct jv *v, unsigned char close, bool is_obj)
{
	if (++v->depth > 64)
		return false;
	v->p++;
	jv_ws(v);
	if (v->p < v->end && *v->p == close) {
		v->p++;
		v->depth--;
		return true;
	}
	for (;;) {
		if (is_obj) {
			jv_ws(v);
			if (!jv_string(v))
				return false;
			jv_ws(v);
			if (v->p >= v->end || *v->p != ':')
				return false;
			v->p++;
		}
		if (!jv_value(v))
			return false;
		jv_ws(v);
		if (v->p >= v->end)
			return false;
		if (*v->p == ',') {
			v->p++;
			continue;
		}
		if (*v->p != close)
			return false;
		v->p++;
		v->depth--;
		return true;
	}
}

static bool jv_value(struct jv *v)
{
	jv_ws(v);
	if (v->p >= v->end)
		return false;
	switch (*v->p) {
	case '{':
		return jv_container(v, '}', true);
	case '[':
		return jv_container(v, ']', false);
	case '"':
		return jv_string(v);
	case 't':
		return jv_lit(v, "true");
	case 'f':
		return jv_lit(v, "false");
	case 'n':
		return jv_lit(v, "null");
	default:
		return jv_number(v);
	}
}

bool ocsf_json_valid(const char *s, size_t n)
{
	if (!s)
		return false;
	struct jv v = {(const unsigned char *)s, (const unsigned char *)s + n, 0};
	if (!jv_value(&v))
		return false;
	jv_ws(&v);
	return v.p == v.end;
}
