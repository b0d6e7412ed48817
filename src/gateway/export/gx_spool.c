/* gx_spool.c - persistent on-disk export queue (see gx_spool.h).
 *
 * DESIGN
 * The segment table (number, size) lives in memory, oldest first; the files
 * are the truth at open. Reads use pread on the segment named by the
 * position, so a reader never shares a file offset with the appender.
 */
#include "gx_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SEG_MIN	     ((uint64_t)4096)
#define ROLL_DRAINED ((uint64_t)64 << 10) /* a drained segment this big is replaced */
#define LINE_HARDMAX ((size_t)1 << 20)	  /* a line longer than this is skipped as corrupt */

struct seg {
	uint64_t no;
	uint64_t size;
};

struct gx_spool {
	pthread_mutex_t mu;
	char dir[1024];
	uint64_t max_bytes, seg_max, total, pending;
	struct seg *segs;
	size_t n, cap;
	int wfd;      /* newest segment, O_APPEND; -1: reopened by the next append */
	bool wfailed; /* an append failed (disk full) since the last roll */
	struct gx_spool_pos cursor;
};

static void seg_path(const struct gx_spool *s, uint64_t no, char *out, size_t cap)
{
	snprintf(out, cap, "%s/seg-%016" PRIu64 ".jsonl", s->dir, no);
}

static int mkdirs(const char *dir)
{
	char tmp[1024];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, dir, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->no < y->no ? -1 : x->no > y->no;
}

static int seg_add(struct gx_spool *s, uint64_t no, uint64_t size)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct seg *ns = realloc(s->segs, nc * sizeof(*ns));

		if (!ns)
			return OSH_ENOMEM;
		s->segs = ns;
		s->cap = nc;
	}
	s->segs[s->n++] = (struct seg){no, size};
	return 0;
}

static struct seg *seg_find(struct gx_spool *s, uint64_t no)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->segs[i].no == no)
			return &s->segs[i];
	return NULL;
}

/* Newlines in [off, off+len) of segment no. */
static uint64_t count_lines(struct gx_spool *s, uint64_t no, uint64_t off, uint64_t len)
{
	char path[1100], buf[65536];
	uint64_t n = 0;
	int fd;

	seg_path(s, no, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (len > 0) {
		ssize_t r = pread(fd, buf, len < sizeof(buf) ? len : sizeof(buf), (off_t)off);

		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	close(fd);
	return n;
}

static int cursor_save(struct gx_spool *s)
{
	char tmp[1100], dst[1100], line[64];
	int fd, n, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/cursor.tmp", s->dir);
	snprintf(dst, sizeof(dst), "%s/cursor", s->dir);
	n = snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 "\n", s->cursor.seg, s->cursor.off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return OSH_EIO;
	if (write(fd, line, (size_t)n) != n)
		rc = OSH_EIO;
	close(fd);
	if (rc == 0 && rename(tmp, dst) != 0)
		rc = OSH_EIO;
	return rc;
}

static void cursor_load(struct gx_spool *s)
{
	char path[1100];
	FILE *f;
	uint64_t a, b;

	snprintf(path, sizeof(path), "%s/cursor", s->dir);
	f = fopen(path, "re");
	if (f && fscanf(f, "%" SCNu64 " %" SCNu64, &a, &b) == 2)
		s->cursor = (struct gx_spool_pos){a, b};
	if (f)
		fclose(f);
}

/* Cuts a torn last line (crash mid-append) from the newest segment. */
static void cut_torn(struct gx_spool *s)
{
	struct seg *g = &s->segs[s->n - 1];
	char path[1100], buf[4096];
	uint64_t end = g->size;
	int fd;

	seg_path(s, g->no, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	while (end > 0) {
		uint64_t from = end > sizeof(buf) ? end - sizeof(buf) : 0;
		ssize_t r = pread(fd, buf, (size_t)(end - from), (off_t)from);
		ssize_t i;

		if (r <= 0)
			break;
		for (i = r - 1; i >= 0 && buf[i] != '\n'; i--)
			;
		if (i >= 0) {
			end = from + (uint64_t)i + 1;
			break;
		}
		end = from;
	}
	if (end != g->size && ftruncate(fd, (off_t)end) == 0) {
		s->total -= g->size - end;
		g->size = end;
	}
	close(fd);
}

static int open_writer(struct gx_spool *s, uint64_t no)
{
	char path[1100];

	if (s->wfd >= 0)
		close(s->wfd);
	seg_path(s, no, path, sizeof(path));
	s->wfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return s->wfd < 0 ? OSH_EIO : 0;
}

int gx_spool_open(const char *dir, uint64_t max_bytes, struct gx_spool **out, char *err,
		  size_t errlen)
{
	struct gx_spool *s = calloc(1, sizeof(*s));
	DIR *d = NULL;
	struct dirent *e;
	int rc = OSH_EIO;

	*out = NULL;
	if (!s)
		return OSH_ENOMEM;
	s->wfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->max_bytes = max_bytes;
	s->seg_max = max_bytes / 8 > SEG_MIN ? max_bytes / 8 : SEG_MIN;
	if (mkdirs(dir) != 0 || !(d = opendir(dir))) {
		snprintf(err, errlen, "export queue %s: %s", dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		uint64_t no;
		char tail[16];
		struct stat sb;
		char path[1100];

		if (sscanf(e->d_name, "seg-%16" SCNu64 ".%8s", &no, tail) != 2 ||
		    strcmp(tail, "jsonl") != 0)
			continue;
		seg_path(s, no, path, sizeof(path));
		if (stat(path, &sb) != 0)
			continue;
		if (seg_add(s, no, (uint64_t)sb.st_size) != 0) {
			rc = OSH_ENOMEM;
			goto out;
		}
		s->total += (uint64_t)sb.st_size;
	}
	if (s->n > 1)
		qsort(s->segs, s->n, sizeof(*s->segs), seg_cmp);
	cursor_load(s);
	if (s->n == 0) {
		uint64_t no = s->cursor.seg ? s->cursor.seg : 1;

		if (seg_add(s, no, 0) != 0) {
			rc = OSH_ENOMEM;
			goto out;
		}
		s->cursor = (struct gx_spool_pos){no, 0};
	}
	cut_torn(s);
	if (s->cursor.seg < s->segs[0].no)
		s->cursor = (struct gx_spool_pos){s->segs[0].no, 0};
	if (s->cursor.seg > s->segs[s->n - 1].no)
		s->cursor = (struct gx_spool_pos){s->segs[s->n - 1].no, s->segs[s->n - 1].size};
	for (size_t i = 0; i < s->n; i++) {
		struct seg *g = &s->segs[i];

		if (g->no < s->cursor.seg)
			continue;
		if (g->no == s->cursor.seg && s->cursor.off > g->size)
			s->cursor.off = g->size;
		if (g->no == s->cursor.seg)
			s->pending += count_lines(s, g->no, s->cursor.off, g->size - s->cursor.off);
		else
			s->pending += count_lines(s, g->no, 0, g->size);
	}
	if (open_writer(s, s->segs[s->n - 1].no) != 0) {
		snprintf(err, errlen, "export queue %s: cannot open segment: %s", dir,
			 strerror(errno));
		goto out;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (d)
		closedir(d);
	if (s)
		gx_spool_close(s);
	return rc;
}

/* Deletes the oldest segment, counting what of it was undelivered. */
static uint64_t drop_oldest(struct gx_spool *s)
{
	struct seg g = s->segs[0];
	char path[1100];
	uint64_t lost = 0;

	if (g.no >= s->cursor.seg) {
		uint64_t from = g.no == s->cursor.seg ? s->cursor.off : 0;

		lost = count_lines(s, g.no, from, g.size > from ? g.size - from : 0);
		s->cursor = (struct gx_spool_pos){s->segs[1].no, 0};
		(void)cursor_save(s);
	}
	seg_path(s, g.no, path, sizeof(path));
	(void)unlink(path);
	s->total -= g.size;
	memmove(s->segs, s->segs + 1, (s->n - 1) * sizeof(*s->segs));
	s->n--;
	s->pending = s->pending > lost ? s->pending - lost : 0;
	return lost;
}

/* Everything delivered: starts a fresh newest segment so that the drained
 * one is deleted with the other delivered segments. Without it a queue that
 * never reaches seg_max keeps its one segment of delivered events for ever,
 * and on a full disk no append could succeed again. Done once the drained
 * segment reached ROLL_DRAINED, or at once after a failed append. */
static void roll_drained(struct gx_spool *s)
{
	const struct seg *last = &s->segs[s->n - 1];
	uint64_t no = last->no + 1;

	if (s->cursor.seg != last->no || s->cursor.off != last->size || last->size == 0 ||
	    (last->size < ROLL_DRAINED && !s->wfailed))
		return;
	if (seg_add(s, no, 0) != 0)
		return;
	s->cursor = (struct gx_spool_pos){no, 0};
	s->wfailed = false;
	if (s->wfd >= 0)
		close(s->wfd);
	s->wfd = -1; /* opened by the next append, once the old one is gone */
}

int gx_spool_append(struct gx_spool *s, const char *line, size_t len, uint64_t *dropped)
{
	struct iovec iov[2] = {{(void *)(uintptr_t)line, len}, {(void *)(uintptr_t) "\n", 1}};
	uint64_t need = len + 1;
	struct seg *cur;
	ssize_t w;
	int rc = 0;

	*dropped = 0;
	pthread_mutex_lock(&s->mu);
	if (s->wfd < 0 && open_writer(s, s->segs[s->n - 1].no) != 0) {
		rc = OSH_EIO;
		goto fail;
	}
	cur = &s->segs[s->n - 1];
	if (cur->size > 0 && (cur->size + need > s->seg_max || s->total + need > s->max_bytes)) {
		if (seg_add(s, cur->no + 1, 0) != 0 || open_writer(s, s->segs[s->n - 1].no) != 0) {
			rc = OSH_EIO;
			goto fail;
		}
	}
	while (s->total + need > s->max_bytes && s->n > 1)
		*dropped += drop_oldest(s);
	cur = &s->segs[s->n - 1];
	w = writev(s->wfd, iov, 2);
	if (w != (ssize_t)need) {
		/* disk full or I/O error: no torn line stays behind */
		if (w > 0 && ftruncate(s->wfd, (off_t)cur->size) != 0)
			(void)0;
		s->wfailed = true;
		rc = OSH_EIO;
		goto fail;
	}
	cur->size += need;
	s->total += need;
	s->pending++;
	pthread_mutex_unlock(&s->mu);
	return 0;
fail:
	(*dropped)++;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

struct gx_spool_pos gx_spool_cursor(struct gx_spool *s)
{
	struct gx_spool_pos p;

	pthread_mutex_lock(&s->mu);
	p = s->cursor;
	pthread_mutex_unlock(&s->mu);
	return p;
}

bool gx_spool_pos_before(struct gx_spool_pos a, struct gx_spool_pos b)
{
	return a.seg < b.seg || (a.seg == b.seg && a.off < b.off);
}

int gx_spool_read(struct gx_spool *s, struct gx_spool_pos from, size_t max_events, size_t max_bytes,
		  char **buf, size_t *len, size_t *n, struct gx_spool_pos *end)
{
	char path[1100];
	struct seg *g = NULL;
	char *b = NULL;
	size_t got = 0, cut = 0, lines = 0, cap;
	int fd = -1, rc = 0;

	*buf = NULL;
	*len = *n = 0;
	pthread_mutex_lock(&s->mu);
	if (gx_spool_pos_before(from, s->cursor))
		from = s->cursor;
	for (;;) {
		g = seg_find(s, from.seg);
		if (!g) { /* deleted under the reader: continue at the next one */
			size_t i = 0;

			while (i < s->n && s->segs[i].no < from.seg)
				i++;
			if (i == s->n)
				goto out;
			from = (struct gx_spool_pos){s->segs[i].no, 0};
			continue;
		}
		if (from.off < g->size)
			break;
		if (g == &s->segs[s->n - 1])
			goto out; /* nothing after it yet */
		from = (struct gx_spool_pos){(g + 1)->no, 0};
	}
	seg_path(s, g->no, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = OSH_EIO;
		goto out;
	}
	cap = g->size - from.off;
	if (cap > max_bytes)
		cap = max_bytes;
	for (;;) {
		char *nb = realloc(b, cap + 1);
		ssize_t r;

		if (!nb) {
			rc = OSH_ENOMEM;
			goto out;
		}
		b = nb;
		r = pread(fd, b + got, cap - got, (off_t)(from.off + got));
		if (r <= 0) {
			rc = OSH_EIO;
			goto out;
		}
		got += (size_t)r;
		cut = 0;
		lines = 0;
		for (size_t i = 0; i < got && lines < max_events; i++)
			if (b[i] == '\n') {
				cut = i + 1;
				lines++;
			}
		if (lines > 0 || got >= g->size - from.off)
			break;
		/* one line longer than max_bytes: read it whole */
		if (cap >= LINE_HARDMAX || cap >= g->size - from.off) {
			/* no newline up to the hard limit: corrupt, skip it */
			cut = got;
			break;
		}
		cap = cap * 2 < g->size - from.off ? cap * 2 : g->size - from.off;
		if (cap > LINE_HARDMAX)
			cap = LINE_HARDMAX;
	}
	b[cut] = '\0';
	*buf = b;
	b = NULL;
	*len = cut;
	*n = lines;
	*end = (struct gx_spool_pos){from.seg, from.off + cut};
out:
	if (fd >= 0)
		close(fd);
	free(b);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int gx_spool_commit(struct gx_spool *s, struct gx_spool_pos upto)
{
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (gx_spool_pos_before(s->cursor, upto)) {
		uint64_t done = 0;

		/* events passed over, for the pending count */
		for (size_t i = 0; i < s->n; i++) {
			struct seg *g = &s->segs[i];
			uint64_t a, z;

			if (g->no < s->cursor.seg || g->no > upto.seg)
				continue;
			a = g->no == s->cursor.seg ? s->cursor.off : 0;
			z = g->no == upto.seg ? upto.off : g->size;
			if (z > a)
				done += count_lines(s, g->no, a, z - a);
		}
		s->pending = s->pending > done ? s->pending - done : 0;
		s->cursor = upto;
		roll_drained(s);
		rc = cursor_save(s);
		while (s->n > 1 && s->segs[0].no < s->cursor.seg) {
			char path[1100];

			seg_path(s, s->segs[0].no, path, sizeof(path));
			(void)unlink(path);
			s->total -= s->segs[0].size;
			memmove(s->segs, s->segs + 1, (s->n - 1) * sizeof(*s->segs));
			s->n--;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void gx_spool_stats(struct gx_spool *s, uint64_t *events, uint64_t *bytes)
{
	pthread_mutex_lock(&s->mu);
	*events = s->pending;
	*bytes = s->total;
	pthread_mutex_unlock(&s->mu);
}

void gx_spool_close(struct gx_spool *s)
{
	if (!s)
		return;
	if (s->wfd >= 0)
		close(s->wfd);
	free(s->segs);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
