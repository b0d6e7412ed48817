/* osh_l7_http.h - HTTP/1.1 message framing for the L7 relay: a strict
 * incremental chunked-body decoder and a response-head parser.
 *
 * DESIGN
 * The relay never buffers a whole body: it feeds the bytes it has to the
 * decoder, which says how many belong to this message and whether the
 * message ended, and forwards exactly those bytes unchanged. The decoder is
 * a byte-level state machine (RFC 9112 7.1), so any split of the input gives
 * the same result:
 *   chunk-size = 1*HEXDIG (at most 15 digits), optional `;ext` (bounded),
 *   CRLF; data; CRLF; ... `0` CRLF; trailer lines; CRLF.
 * A bare LF, a missing CRLF after data, a size line or trailer section
 * longer than its bound, or a non-hex size is an error with a static reason.
 * Responses (bytes from an upstream the agent chose): the status line
 * `HTTP/1.x SP 3DIGIT [SP reason] CRLF`, header lines as in requests, at
 * most OSH_L7_RESP_HEAD_MAX bytes; two different Content-Lengths, a
 * non-decimal one or Content-Length with Transfer-Encoding are refused.
 * Pure, allocation-free and thread-safe.
 */
#ifndef OSH_L7_HTTP_H
#define OSH_L7_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OSH_L7_CHUNK_LINE_MAX  4096u /* bytes of a chunk-size line incl. extensions */
#define OSH_L7_TRAILERS_MAX    8192u /* bytes of the trailer section */
#define OSH_L7_RESP_HEAD_MAX   16384u
#define OSH_L7_RESP_HEADERS_MX 100u

struct osh_l7_chunked {
	int state;
	uint64_t remaining; /* data bytes left in the current chunk */
	size_t line;	    /* bytes of the current size/trailer line */
	size_t trailers;    /* bytes of the trailer section */
	unsigned digits;
	uint64_t body; /* data bytes seen (for the caller's bounds) */
};

void osh_l7_chunked_init(struct osh_l7_chunked *c);

/* Consumes a prefix of buf[0..n): returns how many bytes belong to the body
 * (all n unless the body ended inside buf; the rest belongs to the next
 * message), or -1 with *why set on malformed framing. */
ssize_t osh_l7_chunked_feed(struct osh_l7_chunked *c, const char *buf, size_t n, const char **why);

/* True once the final CRLF after the last chunk and trailers was consumed. */
bool osh_l7_chunked_done(const struct osh_l7_chunked *c);

struct osh_l7_resp {
	int status; /* 100..999 */
	int minor;  /* HTTP/1.<minor> */
	size_t head_len;
	int64_t content_length; /* -1 = absent */
	bool chunked;		/* Transfer-Encoding ends in chunked */
	bool close;		/* Connection: close (or HTTP/1.0 without keep-alive) */
	bool upgrade;		/* has an Upgrade header */
};

/* Parses a response head at buf[0..len). 1 = complete (*r filled), 0 = need
 * more (len < OSH_L7_RESP_HEAD_MAX), -1 = malformed or too large (*why). */
int osh_l7_parse_response(const char *buf, size_t len, struct osh_l7_resp *r, const char **why);

/* Does the comma-separated header value v[0..n) contain token t (any case)? */
bool osh_l7_has_token(const char *v, size_t n, const char *t);

#endif
