/* agentlog.c - see agentlog.h. */
#include "agentlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_time.h"
#include "osh_utf8.h"

static const char *const stream_tag[2] = {"stdout", "stderr"};

struct osh_agentlog {
	char path[PATH_MAX];
	char old[PATH_MAX];
	int fd;
	uint64_t rotate_bytes;
	uint64_t written;
	uint64_t lines, lost;
	/* per stream: pending partial line, and whether the next piece
	 * continues a line cut at OSH_AGENTLOG_LINE_MAX */
	char pend[2][OSH_AGENTLOG_LINE_MAX];
	size_t npend[2];
	bool cont[2];
	char out[OSH_AGENTLOG_LINE_MAX * 4 + 128];
	osh_agentlog_sink_fn sink; /* also gets every escaped line (may be NULL) */
	void *sink_ud;
};

void osh_agentlog_set_sink(struct osh_agentlog *w, osh_agentlog_sink_fn fn, void *ud)
{
	w->sink = fn;
	w->sink_ud = ud;
}

size_t osh_agentlog_escape(const char *s, size_t len, char *out, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		char tmp[16];
		size_t n = 0, k = 1;
		uint32_t cp = 0;

		/* a byte shown as \xNN: C0, DEL, or not the start of well-formed UTF-8 */
		bool raw_byte =
		    u[i] < 0x20 || u[i] == 0x7f || (k = osh_utf8_decode(u + i, len - i, &cp)) == 0;

		if (u[i] == '\\') {
			tmp[0] = tmp[1] = '\\';
			n = 2;
			k = 1;
		} else if (raw_byte) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", u[i]);
			k = 1;
		} else if (osh_utf8_is_invisible(cp)) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u{%04X}", (unsigned)cp);
		} else {
			memcpy(tmp, u + i, k);
			n = k;
		}
		if (o + n + 1 > cap)
			break;
		memcpy(out + o, tmp, n);
		o += n;
		i += k;
	}
	out[o] = '\0';
	return o;
}

static int reopen(struct osh_agentlog *w)
{
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
	w->written = 0;
	if (w->fd >= 0) {
		off_t end = lseek(w->fd, 0, SEEK_END);

		w->written = end > 0 ? (uint64_t)end : 0;
	}
	return w->fd >= 0 ? 0 : OSH_EIO;
}

int osh_agentlog_open(const char *dir, uint64_t rotate_bytes, struct osh_agentlog **out)
{
	struct osh_agentlog *w;
	int rc = OSH_ENOMEM;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		goto out;
	w->fd = -1;
	w->rotate_bytes = rotate_bytes ? rotate_bytes : OSH_AGENTLOG_ROTATE_BYTES;
	if (snprintf(w->path, sizeof(w->path), "%s/agent.log", dir) >= (int)sizeof(w->path) ||
	    snprintf(w->old, sizeof(w->old), "%s/agent.log.1", dir) >= (int)sizeof(w->old)) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	rc = reopen(w);
	if (rc == 0) {
		*out = w;
		w = NULL;
	}
out:
	free(w);
	return rc;
}

/* Writes one record for stream s: text[0..len), already without newline. */
static int write_line(struct osh_agentlog *w, int s, const char *text, size_t len)
{
	size_t o, text_at;
	ssize_t n;

	o = osh_time_format_utc(osh_time_wall_ms(), w->out, sizeof(w->out));
	o += (size_t)snprintf(w->out + o, sizeof(w->out) - o, " %s%s ", stream_tag[s],
			      w->cont[s] ? "+" : "");
	text_at = o;
	o += osh_agentlog_escape(text, len, w->out + o, sizeof(w->out) - o - 1);
	if (w->sink != NULL)
		w->sink(w->sink_ud, stream_tag[s], w->out + text_at); /* NUL-terminated */
	w->out[o++] = '\n';
	if (w->fd >= 0 && w->written + o > w->rotate_bytes && w->written > 0) {
		close(w->fd);
		w->fd = -1;
		(void)rename(w->path, w->old);
		(void)reopen(w);
	}
	n = w->fd >= 0 ? write(w->fd, w->out, o) : -1;
	if (n != (ssize_t)o) {
		w->lost++;
		return OSH_EIO;
	}
	w->written += o;
	w->lines++;
	return 0;
}

int osh_agentlog_feed(struct osh_agentlog *w, int s, const void *buf, size_t len)
{
	const char *p = buf;
	int rc = 0;

	s = s ? 1 : 0;
	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl ? (size_t)(nl - p) : len;
		size_t room = OSH_AGENTLOG_LINE_MAX - w->npend[s];
		bool cut = take > room;

		if (cut)
			take = room;
		memcpy(w->pend[s] + w->npend[s], p, take);
		w->npend[s] += take;
		p += take;
		len -= take;
		if (cut || w->npend[s] == OSH_AGENTLOG_LINE_MAX) {
			/* too long: this piece now, the rest continues it (unless
			 * the newline comes right after it) */
			if (write_line(w, s, w->pend[s], w->npend[s]) != 0)
				rc = OSH_EIO;
			w->npend[s] = 0;
			w->cont[s] = !(nl && !cut);
			if (nl && !cut) {
				p++;
				len--;
			}
			continue;
		}
		if (nl) {
			if (write_line(w, s, w->pend[s], w->npend[s]) != 0)
				rc = OSH_EIO;
			w->npend[s] = 0;
			w->cont[s] = false;
			p++;
			len--;
		}
	}
	return rc;
}

void osh_agentlog_flush(struct osh_agentlog *w)
{
	for (int s = 0; s < 2; s++) {
		if (w->npend[s])
			(void)write_line(w, s, w->pend[s], w->npend[s]);
		w->npend[s] = 0;
		w->cont[s] = false;
	}
}

void osh_agentlog_counts(const struct osh_agentlog *w, uint64_t *lines, uint64_t *lost)
{
	*lines = w->lines;
	*lost = w->lost;
}

void osh_agentlog_close(struct osh_agentlog *w)
{
	if (!w)
		return;
	osh_agentlog_flush(w);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}
