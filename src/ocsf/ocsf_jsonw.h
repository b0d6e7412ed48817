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
