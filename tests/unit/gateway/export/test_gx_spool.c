/* test_gx_spool.c - the persistent export queue: order, cursor across
 * reopen, in-flight reads, the bound's counted drops, a torn last line. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../gw_test_util.h"
#include "gx_spool.h"

static struct gx_spool *sopen(const char *dir, uint64_t max)
{
	struct gx_spool *s = NULL;
	char err[256];

	cr_assert_eq(gx_spool_open(dir, max, &s, err, sizeof(err)), 0, "%s", err);
	return s;
}

/* A valid OCSF Base Event (the test directory's JSONL files are validated). */
#define EVENT_FMT                                                                                  \
	"{\"activity_id\":99,\"activity_name\":\"Other\",\"category_uid\":0,\"class_uid\":0,"      \
	"\"class_name\":\"Base Event\",\"severity_id\":1,\"severity\":\"Informational\","          \
	"\"time\":1796549617371,\"type_uid\":99,\"type_name\":\"Base Event: Other\","              \
	"\"metadata\":{\"event_code\":\"SAMPLE_EVENT\",\"uid\":\"u-%06d\",\"version\":\"1.7.0\","  \
	"\"product\":{\"name\":\"t\","                                                             \
	"\"vendor_name\":\"OpenShell\"}},\"message\":\"m\"}"

static void put(struct gx_spool *s, int i, uint64_t *dropped)
{
	char line[512];
	int n = snprintf(line, sizeof(line), EVENT_FMT, i);
	uint64_t d = 0;

	cr_assert_eq(gx_spool_append(s, line, (size_t)n, &d), 0);
	if (dropped)
		*dropped += d;
}

/* First uid number of a batch. */
static int first_no(const char *buf)
{
	const char *p = strstr(buf, "u-");

	return p ? (int)strtol(p + 2, NULL, 10) : -1;
}

/* Last uid number of a batch. */
static int last_no(const char *buf)
{
	const char *p = NULL;

	for (const char *q = buf; (q = strstr(q, "u-")) != NULL; q++)
		p = q;
	return p ? (int)strtol(p + 2, NULL, 10) : -1;
}

Test(gx_spool, order_commit_and_reopen)
{
	char *dir = gwt_tmpdir();
	struct gx_spool *s = sopen(dir, 1 << 20);
	struct gx_spool_pos end, end2;
	char *buf;
	size_t len, n;
	uint64_t ev, bytes;

	for (int i = 0; i < 100; i++)
		put(s, i, NULL);
	cr_assert_eq(gx_spool_read(s, gx_spool_cursor(s), 30, 1 << 20, &buf, &len, &n, &end), 0);
	cr_assert_eq(n, 30);
	cr_assert_eq(first_no(buf), 0);
	cr_assert_eq(buf[len - 1], '\n');
	free(buf);
	/* reading ahead of the cursor (syslog in flight) does not move it */
	cr_assert_eq(gx_spool_read(s, end, 30, 1 << 20, &buf, &len, &n, &end2), 0);
	cr_assert_eq(first_no(buf), 30);
	free(buf);
	cr_assert_eq(gx_spool_commit(s, end), 0);
	gx_spool_stats(s, &ev, &bytes);
	cr_assert_eq(ev, 70);
	gx_spool_close(s);

	s = sopen(dir, 1 << 20); /* a restart: the cursor was persisted */
	gx_spool_stats(s, &ev, &bytes);
	cr_assert_eq(ev, 70);
	cr_assert_eq(gx_spool_read(s, gx_spool_cursor(s), 1000, 1 << 20, &buf, &len, &n, &end), 0);
	cr_assert_eq(n, 70);
	cr_assert_eq(first_no(buf), 30);
	free(buf);
	cr_assert_eq(gx_spool_commit(s, end), 0);
	cr_assert_eq(gx_spool_read(s, gx_spool_cursor(s), 1000, 1 << 20, &buf, &len, &n, &end), 0);
	cr_assert_eq(n, 0);
	free(buf);
	gx_spool_close(s);
	gwt_rmdir(dir);
}

/* The bound deletes the oldest segments; every undelivered event it takes
 * is counted, and what is left drains in order after the gap. */
Test(gx_spool, bound_drops_oldest_counted)
{
	char *dir = gwt_tmpdir();
	struct gx_spool *s = sopen(dir, 256 << 10);
	uint64_t dropped = 0, ev = 0, bytes = 0, seen = 0;
	struct gx_spool_pos end;
	char *buf;
	size_t len, n;
	int last = -1;

	for (int i = 0; i < 5000; i++)
		put(s, i, &dropped);
	gx_spool_stats(s, &ev, &bytes);
	cr_assert_gt(dropped, 0);
	cr_assert_leq(bytes, 256 << 10);
	cr_assert_eq(ev + dropped, 5000, "queued %llu + dropped %llu", (unsigned long long)ev,
		     (unsigned long long)dropped);
	while (gx_spool_read(s, gx_spool_cursor(s), 100, 1 << 20, &buf, &len, &n, &end) == 0 &&
	       n > 0) {
		int k = first_no(buf);

		cr_assert_gt(k, last, "in order: batch starts at %d after %d", k, last);
		last = last_no(buf);
		seen += n;
		free(buf);
		cr_assert_eq(gx_spool_commit(s, end), 0);
	}
	free(buf);
	cr_assert_eq(seen, ev);
	cr_assert_eq(last, 4999, "the newest are kept");
	gx_spool_close(s);
	gwt_rmdir(dir);
}

Test(gx_spool, torn_last_line_is_cut_at_open)
{
	char *dir = gwt_tmpdir();
	struct gx_spool *s = sopen(dir, 1 << 20);
	char path[1200];
	struct gx_spool_pos end;
	char *buf;
	size_t len, n;
	int fd;

	put(s, 1, NULL);
	put(s, 2, NULL);
	gx_spool_close(s);
	snprintf(path, sizeof(path), "%s/seg-%016d.jsonl", dir, 1);
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "{\"meta", 6), 6); /* a crash mid-append */
	close(fd);
	s = sopen(dir, 1 << 20);
	put(s, 3, NULL);
	cr_assert_eq(gx_spool_read(s, gx_spool_cursor(s), 100, 1 << 20, &buf, &len, &n, &end), 0);
	cr_assert_eq(n, 3);
	cr_assert_null(strstr(buf, "{\"meta{"), "no torn line left: %s", buf);
	free(buf);
	gx_spool_close(s);
	gwt_rmdir(dir);
}

/* Segment files (seg-*.jsonl) in dir. */
static int seg_files(const char *dir)
{
	char cmd[600];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^seg-.*\\.jsonl$'", dir);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* A queue far below its bound keeps one segment; once everything in it is
 * delivered it must still give the space back (a full disk that the queue
 * filled otherwise never gets an append through again). */
Test(gx_spool, drained_segment_is_replaced_and_its_space_freed)
{
	char *dir = gwt_tmpdir();
	struct gx_spool *s = sopen(dir, (uint64_t)256 << 20);
	struct gx_spool_pos end;
	char *buf;
	size_t len, n, total = 0;
	uint64_t ev, bytes;

	for (int i = 0; i < 300; i++) /* ~150 KB: above the 64 KiB roll size */
		put(s, i, NULL);
	cr_assert_eq(seg_files(dir), 1);
	while (total < 300) {
		cr_assert_eq(
		    gx_spool_read(s, gx_spool_cursor(s), 1000, 1 << 20, &buf, &len, &n, &end), 0);
		cr_assert_gt(n, 0);
		total += n;
		free(buf);
		cr_assert_eq(gx_spool_commit(s, end), 0);
	}
	gx_spool_stats(s, &ev, &bytes);
	cr_assert_eq(ev, 0);
	cr_assert_eq(bytes, 0, "the drained segment's bytes are freed");
	cr_assert_eq(seg_files(dir), 0, "the drained segment is deleted");
	put(s, 300, NULL);
	cr_assert_eq(seg_files(dir), 1);
	gx_spool_close(s);
	/* the cursor on disk names the new segment: only the new event waits */
	s = sopen(dir, (uint64_t)256 << 20);
	cr_assert_eq(gx_spool_read(s, gx_spool_cursor(s), 1000, 1 << 20, &buf, &len, &n, &end), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(first_no(buf), 300);
	free(buf);
	gx_spool_close(s);
	gwt_rmdir(dir);
}
