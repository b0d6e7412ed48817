/* shorthand_fuzz.c - libFuzzer target for the shorthand formatter and the
 * JSON serializer on events whose strings come from a hostile peer.
 *
 * DESIGN: every OCSF class OpenShell emits is built with the typed API, the
 * way its log site builds it, but every string a peer, the sandboxed agent
 * or a child process can influence (host names, URL paths, command lines,
 * messages, status details, finding titles, unmapped keys and values,
 * rule names, event codes, labels of "Other" enum values) is taken from the
 * fuzz input, and so are the enum choices (severity, action, disposition,
 * status, activity). Input layout:
 *   byte 0  class (mod 8)      byte 1  severity        byte 2  action/status bits
 *   byte 3  activity pick      then    NUL-separated strings s[0], s[1], ...
 * (a string that is not in the input leaves its attribute unset, so presence
 * combinations are explored too). Invariants asserted (abort = finding):
 *   shorthand (osh_emit_shorthand, cap OSH_EMIT_LINE_MAX + 1 and cap 512):
 *     returns 0; exactly one line: no CR, LF, other C0 byte or DEL; valid
 *     UTF-8 (RFC 3629) without C1 controls, U+2028/2029, bidi overrides or
 *     BOM (the escaper's promise); the line starts "<TOKEN> [<SEV>]" with
 *     a known severity tag; strlen == *len < cap; len bounded by
 *     OSH_EMIT_LINE_MAX; the bytes past the NUL untouched (ASan checks the
 *     buffer is never overrun: each is malloc'd with exactly cap bytes).
 *     The same holds for the generic grammar (osh_emit_shorthand_generic,
 *     what a class without a grammar of its own gets), brackets always.
 *   JSON (ocsf_serialize, cap OCSF_JSON_MAX): returns 0; cJSON parses it as
 *     one object with class_uid; the message attribute reads back equal to
 *     the input bytes when they are valid UTF-8 (U+FFFD-repaired otherwise,
 *     still valid UTF-8); the same event at a smaller cap is refused
 *     (OSH_ETOOBIG, *len 0), never truncated.
 *   brackets: unescaped '[' and ']' (a backslash escapes the next byte)
 *     pair up without nesting, so no value outside the documented free-text
 *     bodies (CONFIG/EVENT messages, quoted finding titles) can open, close
 *     or forge a bracketed piece (checked always since the process-name
 *     finding in docs/security.md was fixed).
 * No global state: every run builds a fresh stack event and frees what it
 * allocates. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ocsf.h"
#include "ocsf_gen.h"
#include "ocsf_jsonw.h"
#include "osh_emit.h"
#include "osh_err.h"
#include "shorthand.h"
#include "fuzz_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSTR 16

struct in {
	const char *s[NSTR]; /* NULL when the input ran out */
	uint8_t cls, sev, bits, act;
};

/* Prints the offending line (escaped) and stops: the finding's evidence. */
static void bad(const char *buf, int line)
{
	fprintf(stderr, "shorthand_fuzz: invariant at line %d violated by: ", line);
	for (const unsigned char *p = (const unsigned char *)buf; *p; p++)
		fprintf(stderr, *p >= 0x20 && *p < 0x7f ? "%c" : "\\x%02x", *p);
	fputc('\n', stderr);
	abort();
}

/* The one-line invariant of a shorthand line. */
static int check_line(const char *buf, size_t len, size_t cap, bool brackets)
{
	const unsigned char *u = (const unsigned char *)buf;
	uint32_t cp;
	int nopen = -1; /* unescaped '[' in the line; -1 when not checked */

	if (len >= cap || len > OSH_EMIT_LINE_MAX || strlen(buf) != len)
		bad(buf, __LINE__);
	for (size_t i = 0, k; i < len; i += k) {
		k = fuzz_utf8_dec(u + i, len - i, &cp);
		if (k == 0)
			bad(buf, __LINE__); /* invalid UTF-8 reached the line */
		if (cp < 0x20 || cp == 0x7f)
			bad(buf, __LINE__); /* CR, LF or another control byte: line injection */
		if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
		    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
		    cp == 0xfeff)
			bad(buf,
			    __LINE__); /* invisible line/paragraph separator or bidi override */
	}
	/* Brackets: only the grammar's own, paired and flat. */
	if (brackets) {
		bool open = false;

		nopen = 0;

		for (size_t i = 0; i < len; i++) {
			if (buf[i] == '\\') {
				i++;
			} else if (buf[i] == '[') {
				nopen++;
				if (open)
					bad(buf, __LINE__); /* nested: a value opened a bracket */
				open = true;
			} else if (buf[i] == ']') {
				if (!open)
					bad(buf, __LINE__); /* a value closed a bracket */
				open = false;
			}
		}
		if (open)
			bad(buf, __LINE__);
	}
	/* "<TOKEN> [<SEV>]" prefix. */
	{
		static const char *const tags[] = {"[INFO]", "[LOW]",  "[MED]",
						   "[HIGH]", "[CRIT]", "[FATAL]"};
		const char *sp = strchr(buf, ' ');
		bool ok = false;

		if (!sp || sp == buf)
			bad(buf, __LINE__);
		for (size_t k = 0; k < sizeof(tags) / sizeof(tags[0]); k++) {
			size_t tl = strlen(tags[k]);

			if (strncmp(sp + 1, tags[k], tl) == 0 &&
			    (sp[1 + tl] == ' ' || sp[1 + tl] == '\0'))
				ok = true;
		}
		if (!ok)
			bad(buf, __LINE__);
	}
	return nopen;
}

static const enum ocsf_severity_id sevs[] = {
    OCSF_SEVERITY_ID_UNKNOWN, OCSF_SEVERITY_ID_INFORMATIONAL, OCSF_SEVERITY_ID_LOW,
    OCSF_SEVERITY_ID_MEDIUM,  OCSF_SEVERITY_ID_HIGH,	      OCSF_SEVERITY_ID_CRITICAL,
    OCSF_SEVERITY_ID_FATAL,   OCSF_SEVERITY_ID_OTHER};
static const enum ocsf_status_id stats[] = {OCSF_STATUS_ID_UNKNOWN, OCSF_STATUS_ID_SUCCESS,
					    OCSF_STATUS_ID_FAILURE, OCSF_STATUS_ID_OTHER};
static const enum ocsf_action_id acts[] = {OCSF_ACTION_ID_UNKNOWN, OCSF_ACTION_ID_ALLOWED,
					   OCSF_ACTION_ID_DENIED, OCSF_ACTION_ID_OTHER};
static const enum ocsf_disposition_id disps[] = {
    OCSF_DISPOSITION_ID_UNKNOWN, OCSF_DISPOSITION_ID_ALLOWED, OCSF_DISPOSITION_ID_BLOCKED,
    OCSF_DISPOSITION_ID_OTHER};
/* Activity ids: the small ones every class has, and Other (99). */
static const int activities[] = {0, 1, 2, 3, 4, 5, 6, 7, 99};

#define SEV(in)	 sevs[(in)->sev % (sizeof(sevs) / sizeof(sevs[0]))]
#define STAT(in) stats[(in)->bits & 3]
#define ACT(in)	 acts[((in)->bits >> 2) & 3]
#define DISP(in) disps[((in)->bits >> 4) & 3]
#define ACTV(in) activities[(in)->act % (sizeof(activities) / sizeof(activities[0]))]
#define S(i)	 (in->s[(i)])
/* Set an attribute only when its string is in the input. */
#define SET(fn, obj, i)                                                                            \
	do {                                                                                       \
		if (S(i))                                                                          \
			fn((obj), S(i));                                                           \
	} while (0)

static void proc_obj(struct ocsf_process *p, const struct in *in, int base)
{
	SET(ocsf_process_set_name, p, base);
	SET(ocsf_process_set_cmd_line, p, base + 1);
	ocsf_process_set_pid(p, (int32_t)(in->bits * 131 + in->act));
}

/* Free text that docs/logging.md lets keep its brackets (CONFIG/EVENT
 * message bodies, quoted finding titles): the bracket rule cannot apply. */
static bool no_brackets(const char *s)
{
	return s == NULL || strpbrk(s, "[]\"") == NULL;
}

/* Formats and serializes one built event; checks every invariant. */
static void check_event(const struct ocsf_event *ev, const char *message, bool brackets, int *count)
{
	size_t caps[2] = {OSH_EMIT_LINE_MAX + 1, 512};
	size_t len = 0;
	char *json;
	int rc, n;

	for (int k = 0; k < 2; k++) {
		char *buf = malloc(caps[k]);

		if (!buf)
			abort();
		len = 0;
		rc = osh_emit_shorthand(ev, buf, caps[k], &len);
		if (rc != 0)
			abort();
		n = check_line(buf, len, caps[k], brackets);
		if (k == 0)
			*count = n;
		/* The generic grammar (classes without one of their own) holds
		 * the same invariant, brackets included, on the same values. */
		len = 0;
		if (osh_emit_shorthand_generic(ev, buf, caps[k], &len) != 0)
			abort();
		(void)check_line(buf, len, caps[k], true);
		free(buf);
	}

	json = malloc(OCSF_JSON_MAX);
	if (!json)
		abort();
	len = 0;
	rc = ocsf_serialize(ev, json, OCSF_JSON_MAX, &len);
	if (rc != 0 || len == 0 || len >= OCSF_JSON_MAX)
		abort();
	if (!fuzz_utf8_ok(json, len) || !ocsf_json_valid(json, len))
		abort();
	{
		const char *end = NULL;
		cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
		const cJSON *cu, *msg;

		if (!root || !cJSON_IsObject(root) || end != json + len)
			abort();
		cu = cJSON_GetObjectItemCaseSensitive(root, "class_uid");
		if (!cJSON_IsNumber(cu))
			abort();
		msg = cJSON_GetObjectItemCaseSensitive(root, "message");
		if (message) {
			if (!cJSON_IsString(msg))
				abort();
			if (fuzz_utf8_ok(message, strlen(message)) &&
			    strcmp(msg->valuestring, message) != 0)
				abort(); /* valid text must survive escaping unchanged */
			if (!fuzz_utf8_ok(msg->valuestring, strlen(msg->valuestring)))
				abort();
		}
		cJSON_Delete(root);
	}
	/* A cap below the need: refused, no length, never a truncated line. */
	{
		size_t l2 = 77;
		char *small = malloc(len);

		if (!small)
			abort();
		rc = ocsf_serialize(ev, small, len - 1, &l2);
		if (rc != OSH_ETOOBIG || l2 != 0)
			abort();
		free(small);
	}
	free(json);
}

static int build_net(const struct in *in)
{
	int count = -1;
	struct ocsf_network_activity ev;
	struct ocsf_network_endpoint *dst, *src;

	ocsf_network_activity_init(&ev, (enum ocsf_network_activity_activity_id)ACTV(in),
				   S(0) ? S(0) : "CONNECT_ALLOW");
	ocsf_network_activity_set_severity_id(&ev, SEV(in));
	ocsf_network_activity_set_action_id(&ev, ACT(in));
	ocsf_network_activity_set_disposition_id(&ev, DISP(in));
	ocsf_network_activity_set_status_id(&ev, STAT(in));
	SET(ocsf_network_activity_set_activity_name, &ev, 1);
	proc_obj(ocsf_actor_process(ocsf_network_activity_actor(&ev)), in, 2);
	dst = ocsf_network_activity_dst_endpoint(&ev);
	SET(ocsf_network_endpoint_set_domain, dst, 4);
	SET(ocsf_network_endpoint_set_ip, dst, 5);
	ocsf_network_endpoint_set_port(dst, (uint16_t)(in->sev * 257 + in->act));
	src = ocsf_network_activity_src_endpoint(&ev);
	SET(ocsf_network_endpoint_set_ip, src, 6);
	SET(ocsf_network_endpoint_set_hostname, src, 7);
	SET(ocsf_firewall_rule_set_name, ocsf_network_activity_firewall_rule(&ev), 8);
	SET(ocsf_firewall_rule_set_type, ocsf_network_activity_firewall_rule(&ev), 9);
	SET(ocsf_network_activity_set_status_detail, &ev, 10);
	SET(ocsf_network_activity_set_message, &ev, 11);
	if (S(12) && S(13))
		ocsf_network_activity_add_unmapped_str(&ev, S(12), S(13));
	check_event(&ev.ev, S(11), true, &count);
	return count;
}

static int build_http(const struct in *in)
{
	int count = -1;
	struct ocsf_http_activity ev;
	struct ocsf_http_request *rq;
	struct ocsf_url *u;

	ocsf_http_activity_init(&ev, (enum ocsf_http_activity_activity_id)ACTV(in),
				S(0) ? S(0) : "FORWARD_ALLOW");
	ocsf_http_activity_set_severity_id(&ev, SEV(in));
	ocsf_http_activity_set_action_id(&ev, ACT(in));
	ocsf_http_activity_set_disposition_id(&ev, DISP(in));
	ocsf_http_activity_set_status_id(&ev, STAT(in));
	SET(ocsf_http_activity_set_activity_name, &ev, 1);
	proc_obj(ocsf_actor_process(ocsf_http_activity_actor(&ev)), in, 2);
	rq = ocsf_http_activity_http_request(&ev);
	SET(ocsf_http_request_set_http_method, rq, 4);
	SET(ocsf_http_request_set_user_agent, rq, 5);
	u = ocsf_http_request_url(rq);
	SET(ocsf_url_set_scheme, u, 6);
	SET(ocsf_url_set_hostname, u, 7);
	SET(ocsf_url_set_path, u, 8);
	SET(ocsf_url_set_query_string, u, 9);
	ocsf_url_set_port(u, (uint16_t)(in->sev * 257 + in->bits));
	if (in->bits & 0x40)
		ocsf_http_response_set_code(ocsf_http_activity_http_response(&ev),
					    (int32_t)(in->act * 3));
	SET(ocsf_network_endpoint_set_domain, ocsf_http_activity_dst_endpoint(&ev), 10);
	SET(ocsf_firewall_rule_set_name, ocsf_http_activity_firewall_rule(&ev), 12);
	SET(ocsf_http_activity_set_status_detail, &ev, 13);
	SET(ocsf_http_activity_set_message, &ev, 11);
	check_event(&ev.ev, S(11), true, &count);
	return count;
}

static int build_ssh(const struct in *in)
{
	int count = -1;
	struct ocsf_ssh_activity ev;
	struct ocsf_network_endpoint *src;

	ocsf_ssh_activity_init(&ev, (enum ocsf_ssh_activity_activity_id)ACTV(in),
			       S(0) ? S(0) : "SSH_HANDSHAKE_OK");
	ocsf_ssh_activity_set_severity_id(&ev, SEV(in));
	ocsf_ssh_activity_set_action_id(&ev, ACT(in));
	ocsf_ssh_activity_set_disposition_id(&ev, DISP(in));
	ocsf_ssh_activity_set_status_id(&ev, STAT(in));
	SET(ocsf_ssh_activity_set_activity_name, &ev, 1);
	src = ocsf_ssh_activity_src_endpoint(&ev);
	SET(ocsf_network_endpoint_set_ip, src, 2);
	SET(ocsf_network_endpoint_set_hostname, src, 3);
	ocsf_network_endpoint_set_port(src, (uint16_t)(in->act * 255));
	ocsf_ssh_activity_set_auth_type_id(&ev, OCSF_AUTH_TYPE_ID_OTHER);
	SET(ocsf_ssh_activity_set_auth_type, &ev, 4);
	SET(ocsf_ssh_activity_set_protocol_ver, &ev, 5);
	SET(ocsf_ssh_activity_set_status_detail, &ev, 10);
	SET(ocsf_ssh_activity_set_message, &ev, 11);
	check_event(&ev.ev, S(11), true, &count);
	return count;
}

static int build_proc(const struct in *in)
{
	int count = -1;
	struct ocsf_process_activity ev;

	ocsf_process_activity_init(&ev, (enum ocsf_process_activity_activity_id)ACTV(in),
				   S(0) ? S(0) : "PROC_EXIT");
	ocsf_process_activity_set_severity_id(&ev, SEV(in));
	ocsf_process_activity_set_action_id(&ev, ACT(in));
	ocsf_process_activity_set_status_id(&ev, STAT(in));
	SET(ocsf_process_activity_set_activity_name, &ev, 1);
	proc_obj(ocsf_process_activity_process(&ev), in, 2);
	proc_obj(ocsf_actor_process(ocsf_process_activity_actor(&ev)), in, 4);
	if (in->bits & 0x40)
		ocsf_process_activity_set_exit_code(&ev, (int32_t)in->act - 128);
	SET(ocsf_process_activity_set_status_detail, &ev, 10);
	SET(ocsf_process_activity_set_message, &ev, 11);
	check_event(&ev.ev, S(11), true, &count);
	return count;
}

static int build_finding(const struct in *in)
{
	int count = -1;
	struct ocsf_detection_finding ev;
	struct ocsf_finding_info *fi;

	ocsf_detection_finding_init(&ev, (enum ocsf_detection_finding_activity_id)ACTV(in),
				    S(0) ? S(0) : "BYPASS_FINDING");
	ocsf_detection_finding_set_severity_id(&ev, SEV(in));
	ocsf_detection_finding_set_action_id(&ev, ACT(in));
	ocsf_detection_finding_set_disposition_id(&ev, DISP(in));
	ocsf_detection_finding_set_status_id(&ev, (enum ocsf_detection_finding_status_id)(
						      (in->bits & 3) == 3 ? 99 : (in->bits & 3)));
	ocsf_detection_finding_set_is_alert(&ev, (in->bits & 0x40) != 0);
	SET(ocsf_detection_finding_set_activity_name, &ev, 1);
	fi = ocsf_detection_finding_finding_info(&ev);
	SET(ocsf_finding_info_set_uid, fi, 2);
	SET(ocsf_finding_info_set_title, fi, 3);
	SET(ocsf_finding_info_set_desc, fi, 4);
	SET(ocsf_detection_finding_set_status_detail, &ev, 10);
	SET(ocsf_detection_finding_set_message, &ev, 11);
	check_event(&ev.ev, S(11), no_brackets(S(3)), &count);
	return count;
}

static int build_lifecycle(const struct in *in)
{
	int count = -1;
	struct ocsf_application_lifecycle ev;

	ocsf_application_lifecycle_init(&ev, (enum ocsf_application_lifecycle_activity_id)ACTV(in),
					S(0) ? S(0) : "SSH_READY");
	ocsf_application_lifecycle_set_severity_id(&ev, SEV(in));
	ocsf_application_lifecycle_set_status_id(&ev, STAT(in));
	SET(ocsf_application_lifecycle_set_activity_name, &ev, 1);
	SET(ocsf_product_set_name, ocsf_application_lifecycle_app(&ev), 2);
	SET(ocsf_product_set_vendor_name, ocsf_application_lifecycle_app(&ev), 3);
	SET(ocsf_product_set_version, ocsf_application_lifecycle_app(&ev), 4);
	SET(ocsf_application_lifecycle_set_status_detail, &ev, 10);
	SET(ocsf_application_lifecycle_set_message, &ev, 11);
	check_event(&ev.ev, S(11), true, &count);
	return count;
}

static int build_config(const struct in *in)
{
	int count = -1;
	struct ocsf_device_config_state_change ev;

	ocsf_device_config_state_change_init(
	    &ev, (enum ocsf_device_config_state_change_activity_id)ACTV(in),
	    S(0) ? S(0) : "POLICY_RELOADED");
	ocsf_device_config_state_change_set_severity_id(&ev, SEV(in));
	ocsf_device_config_state_change_set_status_id(&ev, STAT(in));
	ocsf_device_config_state_change_set_state_id(
	    &ev, OCSF_DEVICE_CONFIG_STATE_CHANGE_STATE_ID_OTHER);
	SET(ocsf_device_config_state_change_set_activity_name, &ev, 1);
	SET(ocsf_device_config_state_change_set_state, &ev, 2);
	SET(ocsf_device_config_state_change_set_status_detail, &ev, 10);
	SET(ocsf_device_config_state_change_set_message, &ev, 11);
	if (S(12) && S(13))
		ocsf_device_config_state_change_add_unmapped_str(&ev, S(12), S(13));
	if (S(14))
		ocsf_device_config_state_change_add_unmapped_int(&ev, S(14), (int64_t)in->act);
	check_event(&ev.ev, S(11), no_brackets(S(11)), &count);
	return count;
}

static int build_base(const struct in *in)
{
	int count = -1;
	struct ocsf_base_event ev;

	ocsf_base_event_init(&ev, (enum ocsf_base_event_activity_id)ACTV(in),
			     S(0) ? S(0) : "NETNS_NOTICE");
	ocsf_base_event_set_severity_id(&ev, SEV(in));
	ocsf_base_event_set_status_id(&ev, STAT(in));
	SET(ocsf_base_event_set_activity_name, &ev, 1);
	SET(ocsf_base_event_set_status_detail, &ev, 10);
	SET(ocsf_base_event_set_message, &ev, 11);
	for (int k = 2; k + 1 < 10; k += 2)
		if (S(k) && S(k + 1))
			ocsf_base_event_add_unmapped_str(&ev, S(k), S(k + 1));
	if (S(12))
		ocsf_base_event_add_unmapped_bool(&ev, S(12), (in->bits & 1) != 0);
	if (S(13))
		ocsf_base_event_add_unmapped_json(&ev, S(13), S(14) ? S(14) : "{}");
	check_event(&ev.ev, S(11), no_brackets(S(11)), &count);
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int (*const builders[8])(const struct in *) = {
	    build_net,	   build_http,	    build_ssh,	  build_proc,
	    build_finding, build_lifecycle, build_config, build_base,
	};
	struct in in, twin;
	char *copy, *copy2;
	size_t pos = 4;
	int n1, n2;

	if (size < 4)
		return 0;
	memset(&in, 0, sizeof(in));
	in.cls = data[0];
	in.sev = data[1];
	in.bits = data[2];
	in.act = data[3];
	/* One private NUL-terminated copy; strings point into it. */
	copy = malloc(size + 1);
	copy2 = malloc(size + 1);
	if (!copy || !copy2)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (int k = 0; k < NSTR && pos < size; k++) {
		in.s[k] = copy + pos;
		pos += strlen(copy + pos) + 1;
	}
	n1 = builders[in.cls % 8](&in);
	if (n1 >= 0) {
		/* Differential bracket check (strict mode only, n1 < 0 otherwise):
		 * the same event with every '[' and ']' of the values replaced
		 * by '\\' (escaped to two bytes like "\\[", so budgets cut at
		 * the same places) must show as many unescaped '[': a value's
		 * bracket never becomes a bracket of the line, even balanced. */
		twin = in;
		for (size_t i = 0; i < size; i++)
			copy2[i] = (copy[i] == '[' || copy[i] == ']') ? '\\' : copy[i];
		copy2[size] = '\0';
		for (int k = 0; k < NSTR; k++)
			twin.s[k] = in.s[k] ? copy2 + (in.s[k] - copy) : NULL;
		n2 = builders[in.cls % 8](&twin);
		if (n2 >= 0 && n1 != n2) {
			fprintf(stderr,
				"shorthand_fuzz: a value's bracket reached the line "
				"(%d unescaped '[' vs %d without value brackets)\n",
				n1, n2);
			abort();
		}
	}
	free(copy2);
	free(copy);
	return 0;
}
