/* test_convert.c - the down-version converter (src/ocsf/ocsf_convert.h) per
 * class and target: dropped attributes, 99 "Other" for enum values a target
 * lacks, required fills, recomputed derived values and profiles, refusals
 * with reasons, malformed input, identity, thread safety.
 *
 * DESIGN: events are small hand-written 1.7.0 JSON lines shaped like the
 * supervisor's (the whole-run check of every sample against every version's
 * JSON Schema is tests/unit/ocsf/convert_matrix.py); assertions look for
 * exact members in the compact output. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf_convert.h"

#define META(profiles)                                                                             \
	"\"metadata\":{\"product\":{\"name\":\"OpenShell\",\"vendor_name\":\"OpenShell\","         \
	"\"version\":\"0.1.0\"},\"profiles\":[" profiles                                           \
	"],\"uid\":\"u-1\",\"version\":\"1.7.0\"}"

#define NET_HEAD                                                                                   \
	"{\"activity_id\":1,\"activity_name\":\"Open\",\"category_name\":\"Network Activity\","    \
	"\"category_uid\":4,\"class_name\":\"Network Activity\",\"class_uid\":4001,"               \
	"\"severity\":\"Informational\",\"severity_id\":1,\"time\":1796553761988,"                 \
	"\"type_name\":\"Network Activity: Open\",\"type_uid\":400101,"

#define DEVICE                                                                                     \
	"\"device\":{\"hostname\":\"vm\",\"ip\":\"10.200.0.2\",\"os\":{\"name\":\"Linux\","        \
	"\"type\":\"Linux\",\"type_id\":200},\"type\":\"Server\",\"type_id\":1}"

struct conv {
	int rc;
	char *out;
	size_t len;
	char reason[512];
};

static struct conv convert(const char *json, enum ocsf_version v)
{
	struct conv c;

	memset(&c, 0, sizeof(c));
	c.rc = ocsf_convert_json(json, strlen(json), v, &c.out, &c.len, c.reason, sizeof(c.reason));
	if (c.rc == 0) {
		cr_assert_not_null(c.out);
		cr_assert_eq(strlen(c.out), c.len, "NUL-terminated, length matches");
	} else {
		cr_assert_null(c.out);
		cr_assert_eq(c.len, 0);
	}
	return c;
}

static void has(const struct conv *c, const char *needle)
{
	cr_assert_eq(c->rc, 0, "converted (%s)", c->reason);
	cr_assert_not_null(strstr(c->out, needle), "output has %s:\n%s", needle, c->out);
}

static void lacks(const struct conv *c, const char *needle)
{
	cr_assert_eq(c->rc, 0, "converted (%s)", c->reason);
	cr_assert_null(strstr(c->out, needle), "output lacks %s:\n%s", needle, c->out);
}

static void refused(const struct conv *c, int rc, const char *why)
{
	cr_assert_eq(c->rc, rc, "rc %d (%s), expected %d", c->rc, c->reason, rc);
	cr_assert_not_null(strstr(c->reason, why), "reason '%s' names '%s'", c->reason, why);
}

Test(convert, version_parse_and_names)
{
	static const char *const names[] = {"1.1.0", "1.3.0", "1.5.0", "1.7.0"};
	enum ocsf_version v = OCSF_VERSION_1_7_0;

	for (int i = 0; i < OCSF_VERSION_COUNT; i++) {
		cr_assert_eq(ocsf_version_parse(names[i], &v), 0);
		cr_assert_eq((int)v, i);
		cr_assert_str_eq(ocsf_version_name(v), names[i]);
	}
	v = OCSF_VERSION_1_3_0;
	cr_assert_eq(ocsf_version_parse("1.2.0", &v), OSH_EINVAL);
	cr_assert_eq(ocsf_version_parse("1.7", &v), OSH_EINVAL);
	cr_assert_eq(ocsf_version_parse("1.7.0 ", &v), OSH_EINVAL);
	cr_assert_eq(ocsf_version_parse("", &v), OSH_EINVAL);
	cr_assert_eq(ocsf_version_parse(NULL, &v), OSH_EINVAL);
	cr_assert_eq(v, OCSF_VERSION_1_3_0, "untouched on error");
	cr_assert_str_eq(ocsf_version_name((enum ocsf_version)9), "?");
	cr_assert_not_null(strstr(OCSF_VERSION_ACCEPTED, "1.1.0"));
}

Test(convert, identity_for_1_7_0)
{
	const char *ev = NET_HEAD META("") ",\"src_endpoint\":{\"ip\":\"10.0.0.1\"},"
					   "\"dst_endpoint\":{\"ip\":\"10.0.0.2\"}}";
	struct conv c = convert(ev, OCSF_VERSION_1_7_0);

	cr_assert_eq(c.rc, 0);
	cr_assert_str_eq(c.out, ev);
	free(c.out);
}

Test(convert, network_to_1_1_0_drops_and_fills_src_endpoint)
{
	const char *ev = NET_HEAD META(
	    "\"host\"") "," DEVICE ",\"dst_endpoint\":{\"domain\":\"api.github.com\",\"port\":443},"
			"\"is_src_dst_assignment_known\":true,\"observation_point_id\":2,"
			"\"observation_point\":\"Destination\",\"risk_score\":3}";
	struct conv c = convert(ev, OCSF_VERSION_1_1_0);

	has(&c, "\"version\":\"1.1.0\"");
	/* attributes 1.1.0 lacks are dropped */
	lacks(&c, "is_src_dst_assignment_known");
	lacks(&c, "observation_point");
	lacks(&c, "risk_score");
	/* src_endpoint is required in 1.1.0: filled from device (fields
	 * network_endpoint has), dst_endpoint's domain becomes its hostname */
	has(&c, "\"src_endpoint\":{\"hostname\":\"vm\",\"ip\":\"10.200.0.2\"");
	has(&c, "\"dst_endpoint\":{\"domain\":\"api.github.com\",\"hostname\":\"api.github.com\","
		"\"port\":443}");
	has(&c, "\"type_uid\":400101");
	has(&c, "\"type_name\":\"Network Activity: Open\"");
	has(&c, "\"profiles\":[\"host\"]");
	free(c.out);
	/* 1.5.0 has domain and does not require src_endpoint: nothing filled */
	c = convert(ev, OCSF_VERSION_1_5_0);
	has(&c, "\"version\":\"1.5.0\"");
	has(&c, "\"dst_endpoint\":{\"domain\":\"api.github.com\",\"port\":443}");
	lacks(&c, "src_endpoint");
	lacks(&c, "observation_point");
	lacks(&c, "is_src_dst_assignment_known"); /* 1.7.0's */
	/* risk_score is a security_control attribute in 1.5.0: declared */
	has(&c, "\"risk_score\":3");
	has(&c, "\"profiles\":[\"host\",\"security_control\"]");
	free(c.out);
}

Test(convert, network_to_1_1_0_refused_without_a_source)
{
	const char *ev = NET_HEAD META("") ",\"dst_endpoint\":{\"ip\":\"10.0.0.2\"}}";
	struct conv c = convert(ev, OCSF_VERSION_1_1_0);

	refused(&c, OSH_EINVAL, "requires src_endpoint");
	cr_assert_not_null(strstr(c.reason, "1.1.0"));
	/* a domain that is not a host name (hostile bytes) cannot fill it */
	c = convert(
	    NET_HEAD META(
		"\"host\"") "," DEVICE
			    ",\"dst_endpoint\":{\"domain\":\"evil\\r\\nx y\",\"port\":443}}",
	    OCSF_VERSION_1_3_0);
	refused(&c, OSH_EINVAL, "$.dst_endpoint");
	cr_assert_not_null(strstr(c.reason, "at least one of"), "%s", c.reason);
}

Test(convert, network_refusal_of_an_inbound_connection_gets_dst_from_the_proxy)
{
	/* the proxy refusing a request: src is the agent, no dst_endpoint */
	const char *ev =
	    NET_HEAD META("\"host\",\"network_proxy\"") "," DEVICE ",\"src_endpoint\":{\"ip\":\"10."
								   "200.0.2\",\"port\":40000},"
							"\"proxy_endpoint\":{\"ip\":\"10.200.0.1\","
							"\"port\":3128}}";
	struct conv c = convert(ev, OCSF_VERSION_1_1_0);

	has(&c, "\"dst_endpoint\":{\"ip\":\"10.200.0.1\",\"port\":3128}");
	has(&c, "\"src_endpoint\":{\"ip\":\"10.200.0.2\",\"port\":40000}");
	free(c.out);
	/* without a proxy endpoint: the host itself */
	c = convert(NET_HEAD META("\"host\"") "," DEVICE
					      ",\"src_endpoint\":{\"ip\":\"127.0.0.1\"}}",
		    OCSF_VERSION_1_3_0);
	has(&c, "\"dst_endpoint\":{\"hostname\":\"vm\",\"ip\":\"10.200.0.2\"");
	free(c.out);
	/* 1.5.0 does not require it: nothing filled */
	c = convert(ev, OCSF_VERSION_1_5_0);
	lacks(&c, "dst_endpoint");
	free(c.out);
}

Test(convert, enum_value_unknown_to_target_becomes_other_with_caption_kept)
{
	/* network_activity activity 7 (Listen) and action 3 (Observed) are not in 1.1.0 */
	const char *ev =
	    "{\"action\":\"Observed\",\"action_id\":3,\"activity_id\":7,\"activity_name\":"
	    "\"Listen\","
	    "\"category_name\":\"Network Activity\",\"category_uid\":4,\"class_name\":\"Network "
	    "Activity\",\"class_uid\":4001,\"severity\":\"Low\",\"severity_id\":2,"
	    "\"time\":1,\"type_name\":\"Network Activity: Listen\",\"type_uid\":400107," META(
		"\"security_control\"") ",\"src_endpoint\":{\"ip\":\"10.0.0.1\"},"
					"\"dst_endpoint\":{\"ip\":\"10.0.0.2\",\"port\":22}}";
	struct conv c = convert(ev, OCSF_VERSION_1_1_0);

	has(&c, "\"activity_id\":99");
	has(&c, "\"activity_name\":\"Listen\"");
	has(&c, "\"type_uid\":400199");
	has(&c, "\"action_id\":99");
	has(&c, "\"action\":\"Observed\"");
	has(&c, "\"severity\":\"Low\"");
	has(&c, "\"profiles\":[\"security_control\"]");
	free(c.out);
	/* 1.5.0 knows both: unchanged values */
	c = convert(ev, OCSF_VERSION_1_5_0);
	has(&c, "\"activity_id\":7");
	has(&c, "\"type_uid\":400107");
	has(&c, "\"action_id\":3");
	free(c.out);
}

Test(convert, http_requires_response_in_1_1_0)
{
	const char *head =
	    "{\"activity_id\":3,\"activity_name\":\"Get\",\"category_name\":\"Network Activity\","
	    "\"category_uid\":4,\"class_name\":\"HTTP Activity\",\"class_uid\":4002,"
	    "\"severity\":\"Informational\",\"severity_id\":1,\"time\":1,"
	    "\"type_name\":\"HTTP Activity: Get\",\"type_uid\":400203,";
	char ev[2048];
	struct conv c;

	snprintf(ev, sizeof(ev),
		 "%s" META("\"host\"") "," DEVICE ",\"dst_endpoint\":{\"ip\":\"10.0.0.2\"},"
				       "\"http_request\":{\"http_method\":\"GET\"}}",
		 head);
	c = convert(ev, OCSF_VERSION_1_1_0);
	refused(&c, OSH_EINVAL, "requires http_response");
	/* 1.5.0 does not require it */
	c = convert(ev, OCSF_VERSION_1_5_0);
	has(&c, "\"http_request\":{\"http_method\":\"GET\"}");
	free(c.out);
	/* with the response the upstream sent: kept; src_endpoint filled from device */
	snprintf(ev, sizeof(ev),
		 "%s" META("\"host\"") "," DEVICE ",\"dst_endpoint\":{\"ip\":\"10.0.0.2\"},"
				       "\"http_request\":{\"http_method\":\"GET\"},"
				       "\"http_response\":{\"code\":403,\"latency\":2}}",
		 head);
	c = convert(ev, OCSF_VERSION_1_1_0);
	has(&c, "\"http_response\":{\"code\":403,\"latency\":2}");
	has(&c, "\"src_endpoint\":{\"hostname\":\"vm\"");
	free(c.out);
	/* the proxy's own response fills http_response (network_proxy profile) */
	snprintf(
	    ev, sizeof(ev),
	    "%s" META("\"host\",\"network_proxy\"") "," DEVICE
						    ",\"dst_endpoint\":{\"ip\":\"10.0.0.2\"},"
						    "\"http_request\":{\"http_method\":\"GET\"},"
						    "\"proxy_http_response\":{\"code\":502}}",
	    head);
	c = convert(ev, OCSF_VERSION_1_1_0);
	has(&c, "\"http_response\":{\"code\":502}");
	has(&c, "\"proxy_http_response\":{\"code\":502}");
	has(&c, "\"profiles\":[\"host\",\"network_proxy\"]");
	free(c.out);
}

Test(convert, lifecycle_app_vendor_filled_and_new_activities_other)
{
	const char *ev =
	    "{\"activity_id\":8,\"activity_name\":\"Update\",\"app\":{\"name\":\"openshell-ssh\","
	    "\"version\":\"0.1.0\"},\"category_name\":\"Application Activity\",\"category_uid\":6,"
	    "\"class_name\":\"Application Lifecycle\",\"class_uid\":6002,\"severity\":"
	    "\"Informational\",\"severity_id\":1,\"time\":1,\"type_name\":\"Application "
	    "Lifecycle: Update\",\"type_uid\":600208," META("") "}";
	struct conv c = convert(ev, OCSF_VERSION_1_1_0);

	/* product.vendor_name is required in 1.1.0: the event's own vendor */
	has(&c, "\"app\":{\"name\":\"openshell-ssh\",\"vendor_name\":\"OpenShell\","
		"\"version\":\"0.1.0\"}");
	has(&c, "\"activity_id\":99");
	has(&c, "\"activity_name\":\"Update\"");
	has(&c, "\"type_uid\":600299");
	has(&c, "\"type_name\":\"Application Lifecycle: Other\"");
	lacks(&c, "\"profiles\"");
	free(c.out);
	/* 1.5.0 has Update (8) and does not require vendor_name */
	c = convert(ev, OCSF_VERSION_1_5_0);
	has(&c, "\"activity_id\":8");
	has(&c, "\"app\":{\"name\":\"openshell-ssh\",\"version\":\"0.1.0\"}");
	free(c.out);
}

Test(convert, profiles_recomputed_from_kept_attributes)
{
	/* trace (1.7.0 profile, not in 1.1.0/1.3.0) is dropped with its
	 * attribute; container stays declared through device.container */
	const char *ev = NET_HEAD META(
	    "\"container\",\"host\",\"trace\"") ",\"device\":{\"container\":{\"name\":\"demo\","
						"\"uid\":\"id-1\"},\"hostname\":\"vm\","
						"\"type_id\":1},\"trace\":{\"uid\":\"t-1\"},"
						"\"src_endpoint\":{\"ip\":\"10.0.0.1\"},\"dst_"
						"endpoint\":{\"ip\":\"10.0.0.2\"}}";
	struct conv c = convert(ev, OCSF_VERSION_1_3_0);

	lacks(&c, "\"trace\"");
	has(&c, "\"profiles\":[\"container\",\"host\"]");
	free(c.out);
	/* 1.5.0 has the trace profile but not on network_activity */
	c = convert(ev, OCSF_VERSION_1_5_0);
	lacks(&c, "\"trace\"");
	has(&c, "\"profiles\":[\"container\",\"host\"]");
	free(c.out);
}

Test(convert, values_the_target_types_refuse_are_dropped)
{
	/* 1.1.0's hostname_t has a format; a port out of range is dropped;
	 * unknown keys and duplicate keys: first one wins */
	const char *ev = NET_HEAD META(
	    "\"host\"") ",\"device\":{\"hostname\":\"not a "
			"host\",\"ip\":\"10.0.0.9\",\"type_id\":1},"
			"\"src_endpoint\":{\"ip\":\"10.0.0.1\",\"port\":70000,\"bogus\":1},"
			"\"dst_endpoint\":{\"ip\":\"10.0.0.2\",\"port\":22,\"port\":23}}";
	struct conv c = convert(ev, OCSF_VERSION_1_1_0);

	has(&c, "\"device\":{\"ip\":\"10.0.0.9\",\"type\":\"Server\",\"type_id\":1}");
	has(&c, "\"src_endpoint\":{\"ip\":\"10.0.0.1\"}");
	has(&c, "\"dst_endpoint\":{\"ip\":\"10.0.0.2\",\"port\":22}");
	lacks(&c, "bogus");
	free(c.out);
}

Test(convert, malformed_input)
{
	struct conv c;
	char deep[512];
	size_t n = 0;

	c = convert("not json", OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "not JSON");
	c = convert("[1,2]", OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "not a JSON object");
	c = convert("{\"class_uid\":4001}", OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "metadata.version");
	c = convert("{\"class_uid\":4001,\"metadata\":{\"version\":\"1.5.0\"}}",
		    OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "not an OCSF 1.7.0 event");
	c = convert("{\"class_uid\":9999,\"metadata\":{\"version\":\"1.7.0\"}}",
		    OCSF_VERSION_1_3_0);
	refused(&c, OSH_EINVAL, "class_uid 9999");
	c = convert("{\"a\":\"\xff\"}", OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "UTF-8");
	c = convert("{\"a\":1} x", OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "trailing");
	c = convert("{\"a\":\"\\x\"}", OCSF_VERSION_1_1_0);
	refused(&c, OSH_EPARSE, "escape");
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
	deep[n] = 0;
	c = convert(deep, OCSF_VERSION_1_1_0);
	refused(&c, OSH_EDEPTH, "deep");
	/* the identity copies only text that is one JSON object */
	c = convert("{\"a\":1", OCSF_VERSION_1_7_0);
	refused(&c, OSH_EPARSE, "not JSON");
	c = convert("[]", OCSF_VERSION_1_7_0);
	refused(&c, OSH_EPARSE, "not JSON");
	cr_assert_eq(ocsf_convert_json("{}\0x", 4, OCSF_VERSION_1_7_0, &c.out, &c.len, NULL, 0),
		     OSH_EPARSE);
	c = convert(NET_HEAD META("") "}", (enum ocsf_version)7);
	refused(&c, OSH_EINVAL, "accepted: 1.1.0");
}

Test(convert, reason_is_truncated_and_terminated)
{
	char *out = (char *)1;
	size_t len = 5;
	char reason[8];

	memset(reason, 'x', sizeof(reason));
	cr_assert_eq(
	    ocsf_convert_json("nope", 4, OCSF_VERSION_1_1_0, &out, &len, reason, sizeof(reason)),
	    OSH_EPARSE);
	cr_assert_null(out);
	cr_assert_eq(len, 0);
	cr_assert_eq(strlen(reason), sizeof(reason) - 1);
	cr_assert_eq(ocsf_convert_json("nope", 4, OCSF_VERSION_1_1_0, &out, &len, NULL, 0),
		     OSH_EPARSE);
}

#define THREADS 4
#define ROUNDS	200

static const char thread_ev[] =
    NET_HEAD META("\"host\"") "," DEVICE
			      ",\"dst_endpoint\":{\"domain\":\"api.github.com\",\"port\":443}}";

static void *worker(void *arg)
{
	const char *want = arg;

	for (int i = 0; i < ROUNDS; i++) {
		char *out = NULL;
		size_t len = 0;

		if (ocsf_convert_json(thread_ev, sizeof(thread_ev) - 1, OCSF_VERSION_1_1_0, &out,
				      &len, NULL, 0) != 0 ||
		    strcmp(out, want) != 0) {
			free(out);
			return (void *)1;
		}
		free(out);
	}
	return NULL;
}

Test(convert, thread_safe_same_output)
{
	struct conv ref = convert(thread_ev, OCSF_VERSION_1_1_0);
	pthread_t t[THREADS];

	cr_assert_eq(ref.rc, 0, "%s", ref.reason);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker, ref.out), 0);
	for (int i = 0; i < THREADS; i++) {
		void *r = (void *)1;

		cr_assert_eq(pthread_join(t[i], &r), 0);
		cr_assert_null(r, "thread %d got a different output", i);
	}
	free(ref.out);
}
