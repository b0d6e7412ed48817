/* test_parts.c - the runtime's building blocks on their own: escaping and
 * truncation, timestamps, the byte ring (wrap, full, PAD), and the file sink
 * (rotation numbering, torn-line protection). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emit_internal.h"
#include "osh_testdir.h"

static const char *esc(const char *s, size_t budget, const char *extra)
{
	static char out[1024];
	size_t pos = 0;

	osh_emit_escape(out, sizeof(out), &pos, s, strlen(s), budget, extra);
	cr_assert_eq(pos, strlen(out));
	return out;
}

Test(escape, plain_text_unchanged)
{
	cr_assert_str_eq(esc("hello world", 100, NULL), "hello world");
	cr_assert_str_eq(esc("", 100, NULL), "");
}

Test(escape, controls_and_backslash)
{
	cr_assert_str_eq(esc("a\nb\rc\td\\e\x01\x7f", 100, NULL), "a\\nb\\rc\\td\\\\e\\x01\\x7f");
	cr_assert_str_eq(esc("[x]", 100, "[]"), "\\[x\\]");
	cr_assert_str_eq(esc("[x]", 100, NULL), "[x]");
}

Test(escape, exact_fit_has_no_marker)
{
	cr_assert_str_eq(esc("abcdefghij", 10, NULL), "abcdefghij");
	cr_assert_str_eq(esc("abcdefghijk", 10, NULL), "abcdefg...");
}

Test(escape, cut_never_splits_escape_or_utf8)
{
	/* "\n" escapes to 2 bytes; budget 5 leaves 2 before the marker. */
	cr_assert_str_eq(esc("a\nbcdef", 5, NULL), "a...");
	/* euro sign (3 bytes) does not fit in the 2 bytes before the marker. */
	cr_assert_str_eq(esc("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 5, NULL), "...");
	cr_assert_str_eq(esc("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 6, NULL), "\xe2\x82\xac...");
}

Test(escape, unicode_line_breakers_and_bidi)
{
	cr_assert_str_eq(esc("a\xe2\x80\xa8"
			     "b\xe2\x80\xae"
			     "c\xc2\x85",
			     100, NULL),
			 "a\\u{2028}b\\u{202e}c\\u{0085}");
}

Test(escape, invalid_utf8_bytes_shown_as_hex)
{
	cr_assert_str_eq(esc("\xed\xa0\x80", 100, NULL), "\\xed\\xa0\\x80"); /* surrogate */
	cr_assert_str_eq(esc("\xf4\x90\x80\x80", 100, NULL), "\\xf4\\x90\\x80\\x80");
	cr_assert_str_eq(esc("ok\xc3", 100, NULL), "ok\\xc3");
}

Test(escape, respects_buffer_capacity)
{
	char out[8];
	size_t pos = 0;
	bool cut = osh_emit_escape(out, sizeof(out), &pos, "0123456789", 10, 100, NULL);

	cr_assert(cut);
	cr_assert_eq(pos, 7);
	cr_assert_str_eq(out, "0123...");
}

Test(timestamp, format_and_day)
{
	char ts[25];

	osh_emit_format_ts(0, ts);
	cr_assert_str_eq(ts, "1970-01-01T00:00:00.000Z");
	osh_emit_format_ts(1775014132690LL, ts);
	cr_assert_str_eq(ts, "2026-04-01T03:28:52.690Z");
	cr_assert_eq(osh_emit_day_of(86400000LL - 1), 0);
	cr_assert_eq(osh_emit_day_of(86400000LL), 1);
	cr_assert_eq(osh_emit_day_of(-1), -1);
}

static int put_str(struct osh_emit_ring *r, const char *s)
{
	struct osh_emit_rec h = {.kind = OSH_REC_PLAIN};
	struct osh_emit_piece p = {s, strlen(s)};

	h.b_len = (uint32_t)strlen(s);
	return osh_emit_ring_put(r, &h, &p, 1, NULL, NULL, NULL);
}

Test(ring, fifo_wrap_and_full)
{
	struct osh_emit_ring r;
	char buf[3000];
	int accepted = 0, read_back = 0;
	char expect[4096];
	size_t e_head = 0, e_tail = 0;

	cr_assert_eq(osh_emit_ring_init(&r, 1), 0);
	cr_assert_eq(r.cap, 65536);
	memset(buf, 'x', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	/* Fill, then alternate consume/produce across several wraps. */
	while (put_str(&r, buf) == 0) {
		accepted++;
		expect[e_head++] = 'x';
	}
	cr_assert_eq(put_str(&r, buf), OSH_EFULL);
	cr_assert_gt(accepted, 15);
	for (int round = 0; round < 200; round++) {
		const struct osh_emit_rec *rec = osh_emit_ring_peek(&r);

		cr_assert_not_null(rec);
		cr_assert_eq(rec->kind, OSH_REC_PLAIN);
		cr_assert_eq(rec->b_len, sizeof(buf) - 1);
		cr_assert_eq(osh_emit_rec_b(rec)[0], expect[e_tail++]);
		cr_assert_eq(memcmp(osh_emit_rec_b(rec) + 1, buf + 1, rec->b_len - 1), 0);
		osh_emit_ring_release(&r, rec);
		read_back++;
		buf[0] = (char)('a' + round % 26);
		cr_assert_eq(put_str(&r, buf), 0);
		expect[e_head++] = buf[0];
		buf[0] = 'x';
	}
	while (osh_emit_ring_peek(&r) != NULL)
		osh_emit_ring_release(&r, osh_emit_ring_peek(&r)), read_back++;
	cr_assert_eq(read_back, accepted + 200);
	osh_emit_ring_fini(&r);
}

Test(ring, too_big_record_refused)
{
	struct osh_emit_ring r;
	static char big[40000];

	cr_assert_eq(osh_emit_ring_init(&r, 65536), 0);
	memset(big, 'b', sizeof(big) - 1);
	cr_assert_eq(put_str(&r, big), OSH_ETOOBIG);
	cr_assert_null(osh_emit_ring_peek(&r));
	osh_emit_ring_fini(&r);
}

/* The writer's batched walk: a private cursor over several records
 * (through the wrap's PAD), records writable in place, and nothing freed
 * until release_to(). */
Test(ring, cursor_walk_then_release_to)
{
	struct osh_emit_ring r;
	char buf[5000];
	int put = 0;

	cr_assert_eq(osh_emit_ring_init(&r, 65536), 0);
	memset(buf, 'y', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (int round = 0; round < 6; round++) {
		uint64_t pos = osh_emit_ring_tail(&r), start = pos;
		struct osh_emit_rec *rec;
		int seen = 0;

		while (put_str(&r, buf) == 0)
			put++;
		cr_assert_eq(put_str(&r, buf), OSH_EFULL);
		while ((rec = osh_emit_ring_next(&r, &pos)) != NULL) {
			char *b = (char *)(rec + 1);

			cr_assert_eq(rec->b_len, sizeof(buf) - 1);
			cr_assert_eq(b[1], 'y');
			b[0] = 'W'; /* the consumer owns the bytes until release */
			cr_assert_eq(b[0], 'W');
			seen++;
		}
		cr_assert_gt(seen, 5);
		cr_assert_gt(pos, start);
		/* Walking frees nothing: the ring is still full. */
		cr_assert_eq(osh_emit_ring_tail(&r), start);
		cr_assert_eq(put_str(&r, buf), OSH_EFULL);
		osh_emit_ring_release_to(&r, pos);
		cr_assert_eq(osh_emit_ring_tail(&r), pos);
		cr_assert_null(osh_emit_ring_peek(&r));
		/* Half a ring at a time moves the records across the wrap. */
		for (int i = 0; i < 3; i++)
			cr_assert_eq(put_str(&r, buf), 0);
		pos = osh_emit_ring_tail(&r);
		for (int i = 0; i < 3; i++)
			cr_assert_not_null(osh_emit_ring_next(&r, &pos));
		cr_assert_null(osh_emit_ring_next(&r, &pos));
		osh_emit_ring_release_to(&r, pos);
	}
	cr_assert_gt(put, 40);
	osh_emit_ring_fini(&r);
}

static char sdir[256];
static char *g_sdir; /* osh_testdir: validated and removed by sink_fini */

static void sink_dir(void)
{
	g_sdir = osh_testdir_new("sink");
	snprintf(sdir, sizeof(sdir), "%s", g_sdir);
}

/* The sink files hold plain text lines, no event: nothing for the census. */
static void sink_init(void)
{
	unsetenv("OSH_TEST_LOG_DIR");
}

static void sink_fini(void)
{
	char *d = g_sdir;

	g_sdir = NULL;
	osh_testdir_finish(d);
}

TestSuite(sink, .init = sink_init, .fini = sink_fini);

static size_t file_size(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? (size_t)st.st_size : (size_t)-1;
}

Test(sink, rotate_numbering_and_keep)
{
	static struct osh_sink s;
	char p[300];

	sink_dir();
	cr_assert_eq(osh_sink_init(&s, sdir, "x.log", 0, false, 3), 0);
	cr_assert_eq(osh_sink_open(&s, 0), 0);
	for (int gen = 0; gen < 5; gen++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "gen %d\n", gen);

		cr_assert_eq(osh_sink_append(&s, line, (size_t)n, 0), 0);
		cr_assert_eq(osh_sink_flush(&s), 0);
		if (gen < 4)
			cr_assert_eq(osh_sink_rotate(&s, 0), 0);
	}
	osh_sink_close(&s);
	snprintf(p, sizeof(p), "%s/x.log", sdir);
	cr_assert_eq(file_size(p), 6); /* "gen 4\n" */
	for (int i = 1; i <= 3; i++) {
		snprintf(p, sizeof(p), "%s/x.log.%d", sdir, i);
		cr_assert_eq(file_size(p), 6, "%s", p);
	}
	snprintf(p, sizeof(p), "%s/x.log.4", sdir);
	cr_assert_eq(file_size(p), (size_t)-1);
	cr_assert_eq(s.rotations, 4);
}

/* Rotation exactly at the size limit (audit mutant M4): lines that sum to
 * exactly rotate_bytes stay in one file; the next byte rotates. */
Test(sink, rotation_exactly_at_the_limit)
{
	static struct osh_sink s;
	char p[300];

	sink_dir();
	cr_assert_eq(osh_sink_init(&s, sdir, "r.log", 30, false, 3), 0);
	cr_assert_eq(osh_sink_open(&s, 0), 0);
	/* 3 lines of 10 bytes: 30 == rotate_bytes, no rotation. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(osh_sink_append(&s, "123456789\n", 10, 0), 0);
		cr_assert_eq(osh_sink_flush(&s), 0);
	}
	snprintf(p, sizeof(p), "%s/r.log", sdir);
	cr_assert_eq(file_size(p), 30, "a file may reach rotate_bytes exactly");
	cr_assert_eq(s.rotations, 0, "no rotation while size + len == rotate_bytes");
	/* One more byte would exceed the limit: rotate first. */
	cr_assert_eq(osh_sink_append(&s, "\n", 1, 0), 0);
	cr_assert_eq(osh_sink_flush(&s), 0);
	cr_assert_eq(s.rotations, 1);
	cr_assert_eq(file_size(p), 1);
	snprintf(p, sizeof(p), "%s/r.log.1", sdir);
	cr_assert_eq(file_size(p), 30);
	osh_sink_close(&s);
}

Test(sink, failed_write_leaves_no_torn_line)
{
	static struct osh_sink s;
	struct rlimit lim;
	char p[300], line[100];
	size_t before;

	sink_dir();
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(osh_sink_init(&s, sdir, "y.log", 0, false, 1), 0);
	cr_assert_eq(osh_sink_open(&s, 0), 0);
	memset(line, 'L', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	cr_assert_eq(osh_sink_append(&s, line, sizeof(line), 0), 0);
	cr_assert_eq(osh_sink_flush(&s), 0);
	snprintf(p, sizeof(p), "%s/y.log", sdir);
	before = file_size(p);
	cr_assert_eq(before, 100);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	lim.rlim_cur = 350; /* 2.5 more lines fit */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(osh_sink_append(&s, line, sizeof(line), 0), 0);
	cr_assert_eq(osh_sink_flush(&s), OSH_EIO);
	cr_assert_eq(file_size(p), 300, "partial line must be cut back");
	cr_assert_eq(s.lost, 3);
	cr_assert_eq(s.size, 300);
	osh_sink_close(&s);
}

/* Lines appended by reference (the writer's path for queued records) are
 * written from the caller's memory in one writev, one iovec each; short
 * lines are copied and share an iovec. A write failing inside a line cuts
 * the file back to the end of the last whole line. */
Test(sink, by_reference_lines_and_torn_write)
{
	static struct osh_sink s;
	static char lines[8][OSH_SINK_SMALL + 88];
	const size_t L = sizeof(lines[0]);
	struct rlimit lim;
	char p[300];
	static char got[8 * sizeof(lines[0])];
	FILE *f;
	size_t n;

	sink_dir();
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(osh_sink_init(&s, sdir, "z.log", 0, false, 1), 0);
	cr_assert_eq(osh_sink_open(&s, 0), 0);
	for (int i = 0; i < 8; i++) {
		memset(lines[i], 'a' + i, L);
		lines[i][L - 1] = '\n';
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(osh_sink_append_ref(&s, lines[i], L, 0), 0);
	cr_assert_eq(s.lines, 3);
	cr_assert_eq(s.niov, 3);
	cr_assert_eq(s.copied, 0, "long lines are borrowed, not copied");
	/* Two short lines: copied, one iovec between them. */
	cr_assert_eq(osh_sink_append_ref(&s, "short one\n", 10, 0), 0);
	cr_assert_eq(osh_sink_append(&s, "short two\n", 10, 0), 0);
	cr_assert_eq(s.lines, 5);
	cr_assert_eq(s.niov, 4);
	cr_assert_eq(osh_sink_flush(&s), 0);
	snprintf(p, sizeof(p), "%s/z.log", sdir);
	f = fopen(p, "rb");
	cr_assert_not_null(f);
	n = fread(got, 1, sizeof(got), f);
	fclose(f);
	cr_assert_eq(n, 3 * L + 20);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(memcmp(got + L * (size_t)i, lines[i], L), 0, "line %d", i);
	cr_assert_eq(memcmp(got + 3 * L, "short one\nshort two\n", 20), 0);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	lim.rlim_cur = 3 * L + 20 + 2 * L + L / 2; /* 2.5 more lines fit */
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 3; i < 8; i++)
		cr_assert_eq(osh_sink_append_ref(&s, lines[i], L, 0), 0);
	cr_assert_eq(osh_sink_flush(&s), OSH_EIO);
	cr_assert_eq(file_size(p), 5 * L + 20, "partial line must be cut back");
	cr_assert_eq(s.lost, 3);
	cr_assert_eq(s.size, 5 * L + 20);
	osh_sink_close(&s);
}
