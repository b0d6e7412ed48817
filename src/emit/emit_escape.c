/* emit_escape.c - one-line-safe escaping with UTF-8-aware truncation, and
 * the UTC timestamp used by the file sinks.
 *
 * DESIGN
 * Every value that reaches a shorthand or plain line passes through
 * osh_emit_escape(), so no CR, LF or other control character from a hostile
 * value (a URL path, a process name, a peer's banner) can start a fake log
 * line (CWE-117). Escapes are reversible and visible (\n, \xHH, \u{2028}).
 * Invalid UTF-8 is shown byte by byte as \xHH rather than replaced, so the
 * original bytes stay recoverable. The budget is counted in output bytes; a
 * cut value ends in "..." and the cut never splits a UTF-8 sequence or an
 * escape sequence.
 */
#include "emit_internal.h"

#include <string.h>

#include "osh_utf8.h"
#include <time.h>

#define MARK	 "..."
#define MARK_LEN 3

/* Escaped form of the unit at u[i]: writes it to tmp, returns its length,
 * sets *adv to the input bytes consumed. */
static size_t escape_unit(const unsigned char *u, size_t i, size_t len, const char *extra,
			  char tmp[16], size_t *adv)
{
	static const char hex[] = "0123456789abcdef";
	size_t tn = 0;
	uint32_t cp = 0;
	unsigned char c = u[i];

	*adv = 1;
	if (c == '\\') {
		tmp[tn++] = '\\';
		tmp[tn++] = '\\';
	} else if (c == '\n' || c == '\r' || c == '\t') {
		tmp[tn++] = '\\';
		tmp[tn++] = c == '\n' ? 'n' : (c == '\r' ? 'r' : 't');
	} else if (c < 0x20 || c == 0x7f) {
		tmp[tn++] = '\\';
		tmp[tn++] = 'x';
		tmp[tn++] = hex[c >> 4];
		tmp[tn++] = hex[c & 15];
	} else if (c < 0x80) {
		/* Letters and digits are never in `extra` (punctuation only):
		 * skip the lookup for them. */
		bool alnum = ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && extra != NULL && strchr(extra, c) != NULL)
			tmp[tn++] = '\\';
		tmp[tn++] = (char)c;
	} else {
		*adv = osh_utf8_decode(u + i, len - i, &cp);
		if (*adv == 0) {
			*adv = 1;
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
			memcpy(tmp, u + i, *adv);
			tn = *adv;
		}
	}
	return tn;
}

/* Bytes written as themselves: printable ASCII except backslash, minus the
 * caller's `extra` set. A 128-bit map (ASCII only) built once per call, plus
 * the extra bytes broadcast to 64-bit words for the 8-bytes-at-a-time scan. */
#define PLAIN_MAX_EX 8
#define ONES	     0x0101010101010101ull
#define HIGHS	     0x8080808080808080ull
#define BASE_W0	     (~(uint64_t)0xffffffffu)
#define BASE_W1	     (~(((uint64_t)1 << ('\\' - 64)) | ((uint64_t)1 << (0x7f - 64))))

struct plain_map {
	uint64_t w[2];
	uint64_t ex[PLAIN_MAX_EX];
	int n_ex; /* -1: too many extras, scan byte by byte */
};

static void plain_map_init(struct plain_map *m, const char *extra)
{
	m->w[0] = BASE_W0; /* 0x20..0x3f */
	m->w[1] = BASE_W1; /* 0x40..0x7e except backslash */
	m->n_ex = 0;
	for (const char *e = extra; e != NULL && *e != '\0'; e++) {
		unsigned char c = (unsigned char)*e;

		if (c >= 0x80)
			continue;
		m->w[c >> 6] &= ~((uint64_t)1 << (c & 63));
		if (m->n_ex >= 0 && m->n_ex < PLAIN_MAX_EX)
			m->ex[m->n_ex++] = ONES * c;
		else
			m->n_ex = -1;
	}
}

/* The two most common sets, ready-made: no extra, and "[]" (every value
 * inside a bracketed piece). */
static const struct plain_map map_none = {{BASE_W0, BASE_W1}, {0}, 0};
static const struct plain_map map_br = {
    {BASE_W0, BASE_W1 & ~((uint64_t)1 << ('[' - 64)) & ~((uint64_t)1 << (']' - 64))},
    {ONES * (uint64_t)'[', ONES *(uint64_t)']'},
    2};

static const struct plain_map *plain_map_get(struct plain_map *m, const char *extra)
{
	if (extra == NULL || extra[0] == '\0')
		return &map_none;
	if (extra[0] == '[' && extra[1] == ']' && extra[2] == '\0')
		return &map_br;
	plain_map_init(m, extra);
	return m;
}

static inline bool is_plain(const struct plain_map *m, unsigned char c)
{
	return c < 0x80 && ((m->w[c >> 6] >> (c & 63)) & 1u) != 0;
}

/* Nonzero iff some byte of v is zero (exact: a borrow can only flag bytes
 * above a byte that really is zero). */
static inline uint64_t has_zero(uint64_t v)
{
	return (v - ONES) & ~v & HIGHS;
}

/* True when all 8 bytes of w are plain. */
static inline bool word_plain(const struct plain_map *m, uint64_t w)
{
	uint64_t bad = w & HIGHS;		      /* non-ASCII */
	bad |= (w - ONES * 0x20) & ~w & HIGHS;	      /* C0 controls (< 0x20) */
	bad |= has_zero(w ^ (ONES * 0x7f));	      /* DEL */
	bad |= has_zero(w ^ (ONES * (uint64_t)'\\')); /* backslash */
	for (int k = 0; k < m->n_ex; k++)
		bad |= has_zero(w ^ m->ex[k]);
	return bad == 0;
}

/* Escapes u[0..len) into out (when non-NULL) while the output stays within
 * `limit` bytes; returns the bytes produced and sets *cut when a unit did not
 * fit. Runs of plain bytes are found 8 bytes at a time and copied with one
 * memcpy. */
static size_t escape_run(char *out, const unsigned char *u, size_t len, size_t limit,
			 const struct plain_map *m, const char *extra, bool *cut)
{
	size_t i = 0, used = 0, tn, adv;
	char tmp[16];

	*cut = false;
	while (i < len) {
		size_t room = limit - used;
		/* Scanning room + 1 bytes is enough to know a run does not fit. */
		size_t lim = len - i > room ? i + room + 1 : len;
		size_t j = i;

		if (m->n_ex >= 0) {
			while (lim - j >= 8) {
				uint64_t w;

				memcpy(&w, u + j, 8);
				if (!word_plain(m, w))
					break;
				j += 8;
			}
		}
		while (j < lim && is_plain(m, u[j]))
			j++;
		if (j > i) {
			size_t n = j - i;

			if (n > room) {
				n = room;
				*cut = true;
			}
			if (out != NULL)
				memcpy(out + used, u + i, n);
			used += n;
			if (*cut)
				break;
			i = j;
			continue;
		}
		tn = escape_unit(u, i, len, extra, tmp, &adv);
		if (tn > room) {
			*cut = true;
			break;
		}
		if (out != NULL)
			memcpy(out + used, tmp, tn);
		used += tn;
		i += adv;
	}
	return used;
}

bool osh_emit_escape(char *out, size_t cap, size_t *pos, const char *s, size_t len, size_t budget,
		     const char *extra)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t used, p = *pos, limit;
	struct plain_map mbuf;
	const struct plain_map *m;
	bool cut = false, cut2;

	if (cap == 0)
		return len > 0;
	if (p >= cap)
		p = cap - 1;
	if (budget > cap - 1 - p)
		budget = cap - 1 - p;
	m = plain_map_get(&mbuf, extra);
	/* Pass 1 writes while it fits; only a value over budget is measured
	 * again (pass 2, no writes: the bytes are already in place) with room
	 * kept for the marker. */
	used = escape_run(out + p, u, len, budget, m, extra, &cut);
	if (cut) {
		limit = budget >= MARK_LEN ? budget - MARK_LEN : 0;
		used = escape_run(NULL, u, len, limit, m, extra, &cut2);
		{
			size_t mk = budget - used < MARK_LEN ? budget - used : MARK_LEN;

			memcpy(out + p + used, MARK, mk);
			used += mk;
		}
	}
	p += used;
	out[p] = '\0';
	*pos = p;
	return cut;
}

void osh_emit_format_ts(int64_t ms, char out[25])
{
	static const char digits[] = "0123456789";
	time_t secs = (time_t)(ms / 1000);
	int msec = (int)(ms % 1000);
	struct tm tm;

	if (msec < 0) {
		msec += 1000;
		secs--;
	}
	if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		memcpy(out, "0000-00-00T00:00:00.000Z", 25);
		return;
	}
	{
		int y = tm.tm_year + 1900;
		char *o = out;

		*o++ = digits[y / 1000];
		*o++ = digits[y / 100 % 10];
		*o++ = digits[y / 10 % 10];
		*o++ = digits[y % 10];
		*o++ = '-';
		*o++ = digits[(tm.tm_mon + 1) / 10];
		*o++ = digits[(tm.tm_mon + 1) % 10];
		*o++ = '-';
		*o++ = digits[tm.tm_mday / 10];
		*o++ = digits[tm.tm_mday % 10];
		*o++ = 'T';
		*o++ = digits[tm.tm_hour / 10];
		*o++ = digits[tm.tm_hour % 10];
		*o++ = ':';
		*o++ = digits[tm.tm_min / 10];
		*o++ = digits[tm.tm_min % 10];
		*o++ = ':';
		*o++ = digits[tm.tm_sec / 10];
		*o++ = digits[tm.tm_sec % 10];
		*o++ = '.';
		*o++ = digits[msec / 100];
		*o++ = digits[msec / 10 % 10];
		*o++ = digits[msec % 10];
		*o++ = 'Z';
		*o = '\0';
	}
}
