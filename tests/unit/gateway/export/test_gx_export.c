/* test_gx_export.c - the export as a whole (threads, queues, file
 * transport) with two destinations: one at OCSF 1.7.0, one converted to
 * 1.1.0, where an event the conversion refuses is counted and left out;
 * and a syslog receiver that accepts and does not read: reported, nothing
 * counted as delivered that it did not take, everything there once it reads. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../gw_test_util.h"
#include "gx_export.h"

/* Valid OCSF 1.7.0; converts to 1.1.0. */
#define BASE_EV                                                                                    \
	"{\"activity_id\":99,\"activity_name\":\"Other\",\"category_uid\":0,\"class_uid\":0,"      \
	"\"class_name\":\"Base Event\",\"severity_id\":1,\"severity\":\"Informational\","          \
	"\"time\":1796549617371,\"type_uid\":99,\"type_name\":\"Base Event: Other\","              \
	"\"metadata\":{\"event_code\":\"SAMPLE_EVENT\",\"uid\":\"b-1\",\"version\":\"1.7.0\","     \
	"\"product\":{\"name\":\"t\","                                                             \
	"\"vendor_name\":\"OpenShell\"}},\"message\":\"m\"}"
/* Valid OCSF 1.7.0 (ocsf-sample's minimal HTTP Activity); 1.1.0 refuses it
 * (its product has no vendor_name and nothing to fill it from). */
#define HTTP_EV                                                                                    \
	"{\"activity_id\":1,\"activity_name\":\"Connect\",\"category_name\":\"Network "            \
	"Activity\",\"category_uid\":4,\"class_name\":\"HTTP Activity\",\"class_uid\":4002,"       \
	"\"http_request\":{},\"metadata\":{\"event_code\":\"SAMPLE_HTTP\",\"product\":{\"name\":"  \
	"\"name\"},\"uid\":\"h-1\","                                                               \
	"\"version\":\"1.7.0\"},\"severity\":\"Informational\",\"severity_id\":1,"                 \
	"\"time\":1764410000123,\"type_name\":\"HTTP Activity: Connect\",\"type_uid\":400201}"

static int lines_of(const char *path)
{
	char *t = gwt_read(path);
	int n = 0;

	for (char *p = t; p && *p; p++)
		n += *p == '\n';
	free(t);
	return n;
}

Test(gx_export, two_destinations_one_converted)
{
	char *dir = gwt_tmpdir();
	char *yaml = gwt_path(dir, "gateway.yaml");
	char *f17 = gwt_path(dir, "out-17.jsonl"), *f11 = gwt_path(dir, "out-11.jsonl");
	char text[2048], err[512];
	struct gx_export_opts o = {.data_dir = dir, .yaml_path = yaml};
	struct gx_export *x = NULL;
	struct gx_export_stats st;
	long long end;
	char *t;

	snprintf(text, sizeof(text),
		 "export:\n"
		 "  destinations:\n"
		 "    - name: v17\n"
		 "      type: file\n"
		 "      path: %s\n"
		 "    - name: v11\n"
		 "      type: file\n"
		 "      path: %s\n"
		 "      schema_version: 1.1.0\n",
		 f17, f11);
	cr_assert_eq(gwt_write(yaml, text), 0);
	cr_assert_eq(gx_export_create(&o, &x, err, sizeof(err)), 0, "%s", err);
	cr_assert(gx_export_active(x));
	gx_export_offer(x, BASE_EV, strlen(BASE_EV));
	gx_export_offer(x, HTTP_EV, strlen(HTTP_EV));
	gx_export_offer(x, "{\"no\":\"uid\"}", 12); /* refused before any queue */
	end = gwt_now_ms() + 10000;
	while ((lines_of(f17) < 2 || lines_of(f11) < 1) && gwt_now_ms() < end)
		gwt_nap();
	cr_assert_eq(lines_of(f17), 2);
	cr_assert_eq(lines_of(f11), 1);
	t = gwt_read(f11);
	cr_assert_not_null(strstr(t, "\"version\":\"1.1.0\""), "%s", t);
	cr_assert_not_null(strstr(t, "\"uid\":\"b-1\""), "%s", t);
	free(t);
	/* the refusal is counted when its batch went out; a line is in the file
	 * before the delivery that wrote it is counted: await both */
	end = gwt_now_ms() + 5000;
	do {
		gx_export_stats_get(x, &st);
		if (st.convert_refused == 1 && st.delivered == 3)
			break;
		gwt_nap();
	} while (gwt_now_ms() < end);
	cr_assert_eq(st.convert_refused, 1);
	cr_assert_eq(st.refused, 1);
	cr_assert_eq(st.destinations, 2);
	cr_assert_eq(st.delivered, 3);
	gx_export_destroy(x);
	free(yaml);
	free(f17);
	free(f11);
	gwt_rmdir(dir);
}

/* Without an export section nothing runs and offers are ignored. */
Test(gx_export, inactive_without_destinations)
{
	char *dir = gwt_tmpdir();
	char *yaml = gwt_path(dir, "gateway.yaml");
	char err[256];
	struct gx_export_opts o = {.data_dir = dir, .yaml_path = yaml};
	struct gx_export *x = NULL;
	struct gx_export_stats st;

	cr_assert_eq(gwt_write(yaml, "ocsf_logging_enabled: true\n"), 0);
	cr_assert_eq(gx_export_create(&o, &x, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(gx_export_active(x));
	gx_export_offer(x, BASE_EV, strlen(BASE_EV));
	gx_export_stats_get(x, &st);
	cr_assert_eq(st.offered, 0);
	cr_assert_eq(st.destinations, 0);
	gx_export_destroy(x);
	free(yaml);
	gwt_rmdir(dir);
}

#define STALL_EVENTS 200
#define STALL_EV                                                                                   \
	"{\"activity_id\":99,\"activity_name\":\"Other\",\"category_uid\":0,\"class_uid\":0,"      \
	"\"class_name\":\"Base Event\",\"severity_id\":1,\"severity\":\"Informational\","          \
	"\"time\":1796549617371,\"type_uid\":99,\"type_name\":\"Base Event: Other\","              \
	"\"metadata\":{\"event_code\":\"SAMPLE_EVENT\",\"uid\":\"s-%03d\",\"version\":\"1.7.0\","  \
	"\"product\":{\"name\":\"t\","                                                             \
	"\"vendor_name\":\"OpenShell\"}},\"message\":\"%s\"}"

/* Marks every uid="s-NNN" found in buf[0..len). */
static void mark_uids(const char *buf, size_t len, bool *seen)
{
	for (size_t i = 0; i + 11 <= len; i++)
		if (memcmp(buf + i, "uid=\"s-", 7) == 0) {
			/* three digits, as BASE_STALL writes them */
			int k = 0;

			for (size_t d = 7; d < 10 && k >= 0; d++)
				k = (buf[i + d] >= '0' && buf[i + d] <= '9')
					? k * 10 + (buf[i + d] - '0')
					: -1;
			if (k >= 0 && k < STALL_EVENTS)
				seen[k] = true;
		}
}

static int count_seen(const bool *seen)
{
	int n = 0;

	for (int i = 0; i < STALL_EVENTS; i++)
		n += seen[i];
	return n;
}

/* A syslog receiver (4 KiB receive buffer) that accepts and does not read:
 * its TCP stops acknowledging, the destination reports the stall and keeps
 * the events queued; once it reads, every event arrives. */
Test(gx_export, syslog_receiver_that_stops_reading)
{
	char *dir = gwt_tmpdir();
	char *yaml = gwt_path(dir, "gateway.yaml");
	char text[1024], err[512], pad[1001], ev[1600];
	struct gx_export_opts o = {.data_dir = dir, .yaml_path = yaml};
	struct gx_export *x = NULL;
	struct gx_export_stats st;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rb = 4096;
	int conns[64], nc = 0;
	char *cbuf[64] = {0};
	size_t clen[64] = {0};
	bool seen[STALL_EVENTS] = {0};
	long long end;

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	cr_assert_geq(ls, 0);
	cr_assert_eq(setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb)), 0);
	cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(ls, 64), 0);
	cr_assert_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	snprintf(text, sizeof(text),
		 "export:\n"
		 "  destinations:\n"
		 "    - name: stall\n"
		 "      type: syslog\n"
		 "      address: 127.0.0.1:%u\n"
		 "      timeout_ms: 300\n"
		 "      retry_min_ms: 50\n"
		 "      retry_max_ms: 100\n"
		 "      batch_max_events: 20\n",
		 (unsigned)ntohs(a.sin_port));
	cr_assert_eq(gwt_write(yaml, text), 0);
	cr_assert_eq(gx_export_create(&o, &x, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < STALL_EVENTS; i++) { /* ~1.2 KB each: far over the 4 KiB */
		int n = snprintf(ev, sizeof(ev), STALL_EV, i, pad);

		gx_export_offer(x, ev, (size_t)n);
	}
	/* nobody reads (the connections wait unaccepted in the backlog) */
	end = gwt_now_ms() + 15000;
	do {
		gx_export_stats_get(x, &st);
		if (st.failures > 0)
			break;
		gwt_nap();
	} while (gwt_now_ms() < end);
	cr_assert_gt(st.failures, 0, "the stalled receiver is reported");
	cr_assert_gt(st.waiting, STALL_EVENTS / 2, "unacknowledged events stay queued: %llu",
		     (unsigned long long)st.waiting);
	/* the receiver reads now, every connection old and new, until every
	 * event arrived and the queue is confirmed empty */
	(void)fcntl(ls, F_SETFL, O_NONBLOCK);
	end = gwt_now_ms() + 30000;
	for (;;) {
		int c;

		gx_export_stats_get(x, &st);
		if ((count_seen(seen) == STALL_EVENTS && st.waiting == 0) || gwt_now_ms() > end)
			break;
		while (nc < 64 && (c = accept(ls, NULL, NULL)) >= 0) {
			(void)fcntl(c, F_SETFL, O_NONBLOCK);
			conns[nc++] = c;
		}
		for (int i = 0; i < nc; i++) {
			char b[65536];
			ssize_t r;

			while ((r = read(conns[i], b, sizeof(b))) > 0) {
				char *nb = realloc(cbuf[i], clen[i] + (size_t)r);

				cr_assert_not_null(nb);
				cbuf[i] = nb;
				memcpy(cbuf[i] + clen[i], b, (size_t)r);
				clen[i] += (size_t)r;
			}
			if (cbuf[i])
				mark_uids(cbuf[i], clen[i], seen);
		}
		(void)poll(NULL, 0, 20);
	}
	cr_assert_eq(count_seen(seen), STALL_EVENTS, "every event arrives once the receiver reads");
	cr_assert_eq(st.waiting, 0, "the queue drained (confirmed)");
	gx_export_destroy(x);
	for (int i = 0; i < nc; i++) {
		close(conns[i]);
		free(cbuf[i]);
	}
	close(ls);
	free(yaml);
	gwt_rmdir(dir);
}
