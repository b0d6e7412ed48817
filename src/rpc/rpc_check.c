/* rpc_check.c - proto3 string check on the wire bytes (see osh_rpc_check.h).
 *
 * DESIGN: a single pass over the wire format (tag, wire type, payload);
 * length-delimited payloads of known string fields are checked with the one
 * UTF-8 decoder of the project (osh_utf8.h), those of known message fields are
 * walked recursively with the field's descriptor. The field path is kept in a
 * small stack buffer for the error message only. */
#include "osh_rpc_check.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "osh_utf8.h"

struct walk {
	char path[256];
	char *err;
	size_t errlen;
};

static bool read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (*pos >= len)
			return false;
		b = p[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* 0 or the offset + 1 of the first bad byte; *nul says which kind. */
static size_t bad_text(const uint8_t *s, size_t len, bool *nul)
{
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (s[i] == 0) {
			*nul = true;
			return i + 1;
		}
		n = osh_utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			*nul = false;
			return i + 1;
		}
		i += n;
	}
	return 0;
}

static int walk_msg(struct walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p,
		    size_t len, int depth)
{
	size_t pos = 0, plen = strlen(w->path);
	int rc = 0;

	if (depth > OSH_RPC_CHECK_DEPTH) {
		snprintf(w->err, w->errlen, "%s: nested deeper than %d messages",
			 plen ? w->path : d->short_name, OSH_RPC_CHECK_DEPTH);
		return OSH_EDEPTH;
	}
	while (pos < len && rc == 0) {
		uint64_t key, v;
		const ProtobufCFieldDescriptor *f;
		size_t at;
		bool nul = false;

		/* Field number 0 is not valid protobuf, but protobuf-c keeps it
		 * as an unknown field; the handlers refuse what they must not
		 * store (docs/security.md finding 5), so it is skipped here. */
		if (!read_varint(p, len, &pos, &key) || (key >> 3) > UINT32_MAX) {
			rc = OSH_EPARSE;
			break;
		}
		switch (key & 7) {
		case 0:
			if (!read_varint(p, len, &pos, &v))
				rc = OSH_EPARSE;
			break;
		case 1:
		case 5:
			v = (key & 7) == 1 ? 8 : 4;
			if (len - pos < v)
				rc = OSH_EPARSE;
			else
				pos += v;
			break;
		case 2:
			if (!read_varint(p, len, &pos, &v) || v > len - pos) {
				rc = OSH_EPARSE;
				break;
			}
			f = protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3));
			if (f && (f->type == PROTOBUF_C_TYPE_STRING ||
				  f->type == PROTOBUF_C_TYPE_MESSAGE)) {
				snprintf(w->path + plen, sizeof(w->path) - plen, "%s%s",
					 plen ? "." : "", f->name);
				if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
					rc = walk_msg(w, f->descriptor, p + pos, (size_t)v,
						      depth + 1);
				} else if ((at = bad_text(p + pos, (size_t)v, &nul)) != 0) {
					snprintf(w->err, w->errlen, "%s: %s at byte %zu", w->path,
						 nul ? "NUL byte" : "invalid UTF-8", at - 1);
					rc = OSH_EINVAL;
				}
				w->path[plen] = '\0';
			}
			pos += (size_t)v;
			break;
		default: /* groups (3, 4) and 6, 7: not proto3 */
			rc = OSH_EPARSE;
			break;
		}
	}
	if (rc == OSH_EPARSE && !w->err[0])
		snprintf(w->err, w->errlen, "%s: malformed wire bytes at offset %zu",
			 plen ? w->path : d->short_name, pos);
	return rc;
}

int osh_rpc_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
			  char *err, size_t errlen)
{
	struct walk w;
	char dummy[1];

	memset(&w, 0, sizeof(w));
	w.err = errlen ? err : dummy;
	w.errlen = errlen ? errlen : sizeof(dummy);
	w.err[0] = '\0';
	return walk_msg(&w, d, buf ? buf : (const uint8_t *)"", buf ? len : 0, 0);
}
