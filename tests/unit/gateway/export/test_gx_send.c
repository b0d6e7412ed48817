/* test_gx_send.c - RFC 5424 frames (octet counting, PRI, structured data),
 * Splunk HEC envelopes, gzip, and the file transport's rotation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "../gw_test_util.h"
#include "gx_send.h"

/* A valid OCSF Base Event (the test directory's JSONL files are validated). */
#define EV                                                                                         \
	"{\"activity_id\":99,\"activity_name\":\"Other\",\"category_uid\":0,\"class_uid\":0,"      \
	"\"class_name\":\"Base Event\",\"severity_id\":3,\"severity\":\"Medium\","                 \
	"\"time\":1796549617371,\"type_uid\":99,\"type_name\":\"Base Event: Other\","              \
	"\"metadata\":{\"event_code\":\"SAMPLE_EVENT\",\"uid\":\"0f0e0d0c-aaaa-4bbb-8ccc-"         \
	"000000000001\",\"version\":\"1.7.0\","                                                    \
	"\"product\":{\"name\":\"t\",\"vendor_name\":\"OpenShell\"}},\"message\":\"m\"}"

static void dest(struct gx_dest *d, enum gx_kind k)
{
	memset(d, 0, sizeof(*d));
	d->kind = k;
	d->facility = 13;
	snprintf(d->app_name, sizeof(d->app_name), "openshell");
	d->timeout_ms = 1000;
}

Test(gx_send, syslog_frame_is_rfc5424_octet_counted)
{
	struct gx_dest d;
	char *f = NULL, why[128];
	size_t n = 0, len;
	char *sp;

	dest(&d, GX_KIND_SYSLOG);
	cr_assert_eq(gx_syslog_frame(&d, "host1", 42, EV, strlen(EV), &f, &n, why, sizeof(why)), 0);
	sp = strchr(f, ' ');
	cr_assert_not_null(sp);
	len = strtoul(f, NULL, 10);
	cr_assert_eq(len, n - (size_t)(sp + 1 - f), "the prefix counts the frame exactly");
	/* facility 13 * 8 + Medium -> warning (4) = 108 */
	cr_assert(strncmp(sp + 1, "<108>1 2026-12-06T", 18) == 0, "%.*s", (int)n, f);
	cr_assert_not_null(memmem(f, n, " host1 openshell 42 ocsf-0 ", 26), "%.*s", (int)n, f);
	{
		static const char sd[] = "[ocsf@32473 uid=\"0f0e0d0c-aaaa-4bbb-8ccc-000000000001\" "
					 "class_uid=\"0\" severity_id=\"3\"] {";

		cr_assert_not_null(memmem(f, n, sd, sizeof(sd) - 1), "%.*s", (int)n, f);
	}
	cr_assert_eq(memcmp(f + n - strlen(EV), EV, strlen(EV)), 0, "the event is the message");
	free(f);
	cr_assert_eq(gx_syslog_frame(&d, "h", 1, "[1]", 3, &f, &n, why, sizeof(why)), OSH_EPARSE);
	cr_assert_null(f);
}

/* A uid with characters SD-PARAM values must not carry cannot break the
 * structured data. */
Test(gx_send, syslog_frame_strips_sd_breakers)
{
	struct gx_dest d;
	const char *ev =
	    "{\"metadata\":{\"event_code\":\"SAMPLE_EVENT\",\"uid\":\"a\\\"] [x=\\\"y\"}}";
	char *f = NULL, why[128];
	size_t n = 0;

	dest(&d, GX_KIND_SYSLOG);
	cr_assert_eq(gx_syslog_frame(&d, "h", 1, ev, strlen(ev), &f, &n, why, sizeof(why)), 0);
	cr_assert_not_null(memmem(f, n, "uid=\"a[xy\"", 10), "%.*s", (int)n, f);
	free(f);
}

Test(gx_send, hec_envelopes_and_ndjson_passthrough)
{
	struct gx_dest d;
	const char *batch = EV "\n" EV "\n";
	char *out = NULL;
	size_t n = 0;
	cJSON *o;

	dest(&d, GX_KIND_HTTP);
	cr_assert_eq(gx_http_body(&d, "gw", batch, strlen(batch), &out, &n), 0);
	cr_assert_eq(n, strlen(batch));
	cr_assert_eq(memcmp(out, batch, n), 0);
	free(out);
	d.format = GX_FORMAT_SPLUNK_HEC;
	cr_assert_eq(gx_http_body(&d, "gw", batch, strlen(batch), &out, &n), 0);
	out[n - 1] = '\0';
	*strchr(out, '\n') = '\0';
	o = cJSON_Parse(out);
	cr_assert_not_null(o, "%s", out);
	cr_assert_str_eq(cJSON_GetObjectItem(o, "sourcetype")->valuestring, "ocsf:0");
	cr_assert_str_eq(cJSON_GetObjectItem(o, "host")->valuestring, "gw");
	cr_assert_float_eq(cJSON_GetObjectItem(o, "time")->valuedouble, 1796549617.371, 1e-6);
	cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "event"), "class_uid")->valueint,
		     0);
	cJSON_Delete(o);
	free(out);
}

Test(gx_send, gzip_round_trip)
{
	char in[5000], back[6000];
	char *z = NULL;
	size_t zn = 0;
	uLongf bn = sizeof(back);
	z_stream s;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)('a' + i % 7);
	cr_assert_eq(gx_gzip(in, sizeof(in), &z, &zn), 0);
	cr_assert_eq((unsigned char)z[0], 0x1f);
	cr_assert_eq((unsigned char)z[1], 0x8b);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(inflateInit2(&s, 31), Z_OK);
	s.next_in = (Bytef *)z;
	s.avail_in = (uInt)zn;
	s.next_out = (Bytef *)back;
	s.avail_out = (uInt)bn;
	cr_assert_eq(inflate(&s, Z_FINISH), Z_STREAM_END);
	cr_assert_eq(s.total_out, sizeof(in));
	cr_assert_eq(memcmp(in, back, sizeof(in)), 0);
	inflateEnd(&s);
	free(z);
}

Test(gx_send, file_destination_rotates_whole_batches)
{
	struct gx_dest d;
	const struct gx_transport *ops;
	struct gx_conn *c;
	char *dir = gwt_tmpdir();
	char why[256], p1[1200];
	const char *batch = EV "\n" EV "\n";
	struct stat sb;

	dest(&d, GX_KIND_FILE);
	snprintf(d.path, sizeof(d.path), "%s/out.jsonl", dir);
	d.rotate_bytes = 1000;
	d.keep = 2;
	cr_assert_eq(gx_conn_create(&d, &ops, &c, why, sizeof(why)), 0, "%s", why);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(ops->send(c, batch, strlen(batch), 2, why, sizeof(why)), 0, "%s", why);
	snprintf(p1, sizeof(p1), "%s.1", d.path);
	cr_assert_eq(stat(p1, &sb), 0, "rotated once at least");
	cr_assert_eq((size_t)sb.st_size % strlen(EV "\n"), 0, "only whole lines");
	snprintf(p1, sizeof(p1), "%s.3", d.path);
	cr_assert_neq(stat(p1, &sb), 0, "keep 2");
	gx_conn_destroy(ops, c);
	gwt_rmdir(dir);
}
