/* emit_sink.c - one rotating log file family, owned by the writer thread.
 *
 * DESIGN
 * The writer gathers whole lines as an iovec batch and writes the batch with
 * writev(), so the file only ever receives complete lines. Lines of the
 * queue are not copied again: their iovecs point into the queue records,
 * which the writer releases only after the flush (no second copy between the
 * queue and the page cache). Short lines (under OSH_SINK_SMALL: shorthand
 * lines, mostly) are the exception: the kernel's cost per iovec is more than
 * a copy of a few hundred bytes, so they are copied into the sink's buffer,
 * where consecutive ones share an iovec; the JSON lines, most of the bytes,
 * go out from the queue. Lines the writer makes itself (loss reports,
 * notices) are copied too. If a write fails part-way (ENOSPC, EFBIG under
 * RLIMIT_FSIZE, EIO) the file is cut back with ftruncate() to the end of
 * the last complete line written, so a reader never sees a torn line; the
 * lines that did not make it are counted in `lost` for the loss report. Rotation renames base.N-1
 * -> base.N down to base -> base.1, deleting base.<keep>, and reopens; the families "openshell.log"
 * and "openshell-ocsf.log" have distinct prefixes so one family's retention never deletes the
 * other's files. Daily rotation compares the UTC day of each line's timestamp with the day the file
 * was started, so a line stamped after midnight never lands in yesterday's file.
 */
#include "emit_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int64_t osh_emit_day_of(int64_t ms)
{
	int64_t d = ms / 86400000;

	if (ms < 0 && d * 86400000 != ms)
		d--;
	return d;
}

int osh_sink_init(struct osh_sink *s, const char *dir, const char *base, uint64_t rotate_bytes,
		  bool rotate_daily, unsigned keep)
{
	int rc = 0;
	int n;

	s->fd = -1;
	s->size = 0;
	s->day = -1;
	s->used = 0;
	s->niov = 0;
	s->lines = 0;
	s->copied = 0;
	s->lost = 0;
	s->rotations = 0;
	s->last_errno = 0;
	s->rotate_bytes = rotate_bytes;
	s->rotate_daily = rotate_daily;
	s->keep = keep;
	n = snprintf(s->path, sizeof(s->path), "%s/%s", dir, base);
	if (n < 0 || (size_t)n >= sizeof(s->path) - 16)
		rc = OSH_ETOOBIG;
	return rc;
}

static int open_file(struct osh_sink *s, int64_t now_ms)
{
	struct stat st;
	int rc = 0;

	s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (s->fd < 0) {
		s->last_errno = errno;
		rc = OSH_EIO;
		goto out;
	}
	s->size = 0;
	s->day = osh_emit_day_of(now_ms);
	if (fstat(s->fd, &st) == 0) {
		s->size = (uint64_t)st.st_size;
		if (st.st_size > 0)
			s->day = osh_emit_day_of((int64_t)st.st_mtim.tv_sec * 1000 +
						 st.st_mtim.tv_nsec / 1000000);
	}
out:
	return rc;
}

int osh_sink_open(struct osh_sink *s, int64_t now_ms)
{
	int rc;

	rc = open_file(s, now_ms);
	if (rc == 0 && s->rotate_daily && s->size > 0 && s->day < osh_emit_day_of(now_ms))
		rc = osh_sink_rotate(s, now_ms);
	return rc;
}

/* Complete lines in the first `n` pending bytes, and the length of the
 * longest prefix of them that ends a line. */
static uint32_t lines_in(const struct osh_sink *s, size_t n, size_t *keep)
{
	uint32_t count = 0;
	size_t off = 0;

	*keep = 0;
	for (uint32_t k = 0; k < s->niov && off < n; k++) {
		const char *b = s->iov[k].iov_base;
		size_t m = s->iov[k].iov_len < n - off ? s->iov[k].iov_len : n - off;

		for (size_t i = 0; i < m; i++) {
			if (b[i] == '\n') {
				count++;
				*keep = off + i + 1;
			}
		}
		off += m;
	}
	return count;
}

/* Writes the pending lines; on failure cuts the file back to the last
 * complete line and counts the lost lines. */
int osh_sink_flush(struct osh_sink *s)
{
	uint32_t k = 0;	    /* first iovec not yet fully written */
	size_t done = 0;    /* bytes written */
	size_t partial = 0; /* bytes written of iovec k */
	int rc = 0;

	if (s->lines == 0)
		goto out;
	if (s->fd < 0) {
		rc = OSH_EIO;
		goto fail;
	}
	while (k < s->niov) {
		struct iovec *v = &s->iov[k];
		ssize_t w;

		/* Resume inside iovec k after a short write. */
		v->iov_base = (char *)v->iov_base + partial;
		v->iov_len -= partial;
		w = writev(s->fd, v, (int)(s->niov - k));
		v->iov_base = (char *)v->iov_base - partial;
		v->iov_len += partial;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->last_errno = w < 0 ? errno : EIO;
			rc = OSH_EIO;
			break;
		}
		done += (size_t)w;
		partial += (size_t)w;
		while (k < s->niov && partial >= s->iov[k].iov_len) {
			partial -= s->iov[k].iov_len;
			k++;
		}
	}
	if (rc == 0)
		goto done;
	/* Keep the complete lines that reached the file, drop the partial one. */
	{
		size_t keep = 0;
		uint32_t kept = lines_in(s, done, &keep);

		if (keep < done) {
			uint64_t start = s->size - s->used; /* file size before this flush */

			if (ftruncate(s->fd, (off_t)(start + keep)) != 0)
				s->last_errno = errno;
		}
		s->size = s->size - s->used + keep;
		s->lines -= kept;
	}
fail:
	s->lost += s->lines;
	if (s->fd < 0)
		s->size -= s->used <= s->size ? s->used : s->size;
done:
	s->used = 0;
	s->niov = 0;
	s->lines = 0;
	s->copied = 0;
out:
	return rc;
}

void osh_sink_close(struct osh_sink *s)
{
	if (s->fd >= 0) {
		(void)osh_sink_flush(s);
		close(s->fd);
		s->fd = -1;
	}
}

int osh_sink_rotate(struct osh_sink *s, int64_t now_ms)
{
	char from[sizeof(s->path) + 16], to[sizeof(s->path) + 16];
	int rc;

	(void)osh_sink_flush(s);
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->keep == 0) {
		(void)unlink(s->path);
	} else {
		snprintf(to, sizeof(to), "%s.%u", s->path, s->keep);
		(void)unlink(to);
		for (unsigned i = s->keep; i > 1; i--) {
			snprintf(from, sizeof(from), "%s.%u", s->path, i - 1);
			snprintf(to, sizeof(to), "%s.%u", s->path, i);
			(void)rename(from, to);
		}
		snprintf(to, sizeof(to), "%s.1", s->path);
		(void)rename(s->path, to);
	}
	s->rotations++;
	rc = open_file(s, now_ms);
	if (rc == 0)
		s->day = osh_emit_day_of(now_ms);
	return rc;
}

/* Rotation before a line of `len` bytes stamped ts_ms; false when the
 * line is lost (sink closed or the rotation failed). */
static bool make_room(struct osh_sink *s, size_t len, int64_t ts_ms)
{
	if (s->fd < 0) {
		s->lost++;
		return false;
	}
	if ((s->rotate_daily && s->day >= 0 && osh_emit_day_of(ts_ms) > s->day) ||
	    (s->rotate_bytes > 0 && s->size > 0 && s->size + len > s->rotate_bytes)) {
		if (osh_sink_rotate(s, ts_ms) != 0) {
			s->lost++;
			return false;
		}
	}
	if (s->niov == OSH_SINK_IOV)
		(void)osh_sink_flush(s);
	return true;
}

/* Appends len bytes to the copy buffer (room checked by the caller), as a
 * new iovec or, when the last one ends where the copy starts, extending it. */
static void copy_in(struct osh_sink *s, const struct iovec *iov, int n, size_t len)
{
	unsigned char *dst = s->buf + s->copied;
	struct iovec *last = s->niov > 0 ? &s->iov[s->niov - 1] : NULL;

	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len > 0)
			memcpy(s->buf + s->copied, iov[i].iov_base, iov[i].iov_len);
		s->copied += iov[i].iov_len;
	}
	if (last != NULL && (unsigned char *)last->iov_base + last->iov_len == dst)
		last->iov_len += len;
	else
		s->iov[s->niov++] = (struct iovec){dst, len};
	s->lines++;
	s->used += len;
	s->size += len;
}

int osh_sink_append_ref(struct osh_sink *s, const char *line, size_t len, int64_t ts_ms)
{
	int rc = 0;

	if (!make_room(s, len, ts_ms)) {
		rc = OSH_EIO;
		goto out;
	}
	if (len < OSH_SINK_SMALL && s->copied + len <= sizeof(s->buf)) {
		struct iovec one = {(void *)(uintptr_t)line, len};

		copy_in(s, &one, 1, len);
		goto out;
	}
	s->iov[s->niov++] = (struct iovec){(void *)(uintptr_t)line, len};
	s->lines++;
	s->used += len;
	s->size += len;
out:
	return rc;
}

int osh_sink_appendv(struct osh_sink *s, const struct iovec *iov, int n, int64_t ts_ms)
{
	size_t len = 0;
	int rc = 0;

	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (!make_room(s, len, ts_ms)) {
		rc = OSH_EIO;
		goto out;
	}
	if (s->copied + len > sizeof(s->buf)) {
		(void)osh_sink_flush(s);
		if (len > sizeof(s->buf)) {
			/* Longer than the buffer: written on its own (all or nothing). */
			ssize_t w = writev(s->fd, iov, n);

			if (w != (ssize_t)len) {
				s->last_errno = w < 0 ? errno : EIO;
				if (w > 0 && ftruncate(s->fd, (off_t)s->size) != 0)
					s->last_errno = errno;
				s->lost++;
				rc = OSH_EIO;
			} else {
				s->size += len;
			}
			goto out;
		}
	}
	copy_in(s, iov, n, len);
out:
	return rc;
}

int osh_sink_append2(struct osh_sink *s, const char *a, size_t a_len, const char *b, size_t b_len,
		     int64_t ts_ms)
{
	struct iovec iov[2] = {{(void *)(uintptr_t)a, a_len}, {(void *)(uintptr_t)b, b_len}};

	return osh_sink_appendv(s, iov, b_len > 0 ? 2 : 1, ts_ms);
}

int osh_sink_append(struct osh_sink *s, const char *line, size_t len, int64_t ts_ms)
{
	return osh_sink_append2(s, line, len, NULL, 0, ts_ms);
}
