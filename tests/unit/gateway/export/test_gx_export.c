/* test_gx_export.c - the export as a whole (threads, queues, file
 * transport) with two destinations: one at OCSF 1.7.0, one converted to
 * 1.1.0, where an event the conversion refuses is counted and left out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
