/* test_l7_infer.c - the pure half of inference.local (src/supervisor/l7/
 * l7_infer.c): routes file and its errors, pattern table, router and
 * upstream target, request framing with its bounds, chunked decoder,
 * header rules, model rewrite, reason phrases. No sockets, no threads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l7_infer.h"

static struct osh_l7_infer_routes *parse_ok(const char *yaml, char *const *envp)
{
	struct osh_l7_infer_routes *rs = NULL;
	char err[512];
	int rc = osh_l7_infer_routes_parse(yaml, strlen(yaml), "routes.yaml", envp, &rs, err,
					   sizeof(err));

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_not_null(rs);
	return rs;
}

/* Parses, expects failure, returns the message (static buffer). */
static const char *parse_err(const char *yaml, char *const *envp)
{
	static char err[512];
	struct osh_l7_infer_routes *rs = (void *)1;
	int rc = osh_l7_infer_routes_parse(yaml, strlen(yaml), "routes.yaml", envp, &rs, err,
					   sizeof(err));

	cr_assert_neq(rc, 0, "accepted: %s", yaml);
	cr_assert_null(rs);
	return err;
}

static char *const no_env[] = {NULL};

Test(infer_routes, full_file)
{
	static char e1[] = "OTHER=x", e2[] = "ANTHROPIC_KEY=ak-secret";
	char *const env[] = {e1, e2, NULL};
	struct osh_l7_infer_routes *rs =
	    parse_ok("routes:\n"
		     "  - name: local\n"
		     "    endpoint: http://127.0.0.1:8000/v1/\n"
		     "    model: llama-3\n"
		     "    protocols: [\" OpenAI_Chat_Completions \", openai_completions, "
		     "openai_chat_completions]\n"
		     "    api_key: sk-local\n"
		     "  - name: claude\n"
		     "    endpoint: https://api.anthropic.example\n"
		     "    model: claude-x\n"
		     "    provider_type: Anthropic\n"
		     "    protocols: [anthropic_messages]\n"
		     "    api_key_env: ANTHROPIC_KEY\n"
		     "    timeout_secs: 5\n",
		     env);

	cr_assert_eq(rs->n, 2);
	cr_assert_str_eq(rs->source, "routes.yaml");
	cr_assert_str_eq(rs->r[0].name, "local");
	cr_assert_str_eq(rs->r[0].endpoint, "http://127.0.0.1:8000/v1");
	cr_assert_eq(rs->r[0].protocols,
		     OSH_L7_INFER_OPENAI_CHAT | OSH_L7_INFER_OPENAI_COMPLETIONS);
	cr_assert_str_eq(rs->r[0].host, "127.0.0.1");
	cr_assert_eq(rs->r[0].port, 8000);
	cr_assert_str_eq(rs->r[0].base_path, "/v1");
	cr_assert_not(rs->r[0].tls);
	cr_assert_not(rs->r[0].anthropic);
	cr_assert_str_eq(rs->r[0].provider_type, "openai");
	cr_assert_str_eq(rs->r[0].api_key, "sk-local");
	cr_assert_eq(rs->r[0].timeout_ms, 60000);
	cr_assert(rs->r[1].tls);
	cr_assert_eq(rs->r[1].port, 443);
	cr_assert_str_eq(rs->r[1].base_path, "");
	cr_assert(rs->r[1].anthropic);
	cr_assert_str_eq(rs->r[1].api_key, "ak-secret");
	cr_assert_str_eq(rs->r[1].api_key_env, "ANTHROPIC_KEY");
	cr_assert_eq(rs->r[1].timeout_ms, 5000);
	osh_l7_infer_routes_free(rs);
}

Test(infer_routes, empty_list_is_no_routes)
{
	struct osh_l7_infer_routes *rs = parse_ok("routes: []\n", no_env);

	cr_assert_eq(rs->n, 0);
	osh_l7_infer_routes_free(rs);
	rs = parse_ok("routes:\n", no_env);
	cr_assert_eq(rs->n, 0);
	osh_l7_infer_routes_free(rs);
}

#define ROUTE_HEAD "routes:\n  - name: a\n    model: m\n    protocols: [model_discovery]\n"

Test(infer_routes, errors_name_file_line_and_key)
{
	cr_assert_str_eq(parse_err(ROUTE_HEAD "    endpoint: http://h:1\n    api_key: k\n"
					      "    colour: red\n",
				   no_env),
			 "routes.yaml:7: routes[0].colour: unknown or repeated key (known: name, "
			 "endpoint, model, provider_type, protocols, api_key, api_key_env, "
			 "timeout_secs)");
	cr_assert_str_eq(parse_err(ROUTE_HEAD "    endpoint: http://h:1\n", no_env),
			 "routes.yaml:2: routes[0].api_key: required (or api_key_env)");
	cr_assert_str_eq(parse_err(ROUTE_HEAD "    endpoint: http://h:1\n    api_key: k\n"
					      "    api_key_env: K\n",
				   no_env),
			 "routes.yaml:7: routes[0]: give api_key or api_key_env, not both");
	cr_assert_str_eq(
	    parse_err(ROUTE_HEAD "    endpoint: http://h:1\n    api_key_env: NOPE\n", no_env),
	    "routes.yaml:2: routes[0].api_key_env: variable NOPE is not set or empty");
	cr_assert_str_eq(
	    parse_err("routes:\n  - name: a\n    model: m\n    endpoint: http://h\n    api_key: k\n"
		      "    protocols: [chat]\n",
		      no_env),
	    "routes.yaml:6: routes[0].protocols: unknown protocol 'chat' (known: "
	    "openai_chat_completions, openai_completions, openai_responses, anthropic_messages, "
	    "model_discovery)");
	cr_assert_str_eq(
	    parse_err("routes:\n  - name: a\n    model: m\n    endpoint: http://h\n    api_key: k\n"
		      "    protocols: []\n",
		      no_env),
	    "routes.yaml:6: routes[0].protocols: must name at least one protocol");
	cr_assert_str_eq(parse_err(ROUTE_HEAD "    endpoint: ftp://h\n    api_key: k\n", no_env),
			 "routes.yaml:5: routes[0].endpoint: must start with http:// or https://");
	cr_assert_str_eq(
	    parse_err(ROUTE_HEAD "    endpoint: http://u:pw@h\n    api_key: k\n", no_env),
	    "routes.yaml:5: routes[0].endpoint: must not carry user info (put the key "
	    "in api_key or api_key_env)");
	cr_assert(
	    strstr(parse_err(ROUTE_HEAD "    endpoint: http://h:99999\n    api_key: k\n", no_env),
		   "routes.yaml:5: routes[0].endpoint: bad host or port"));
	cr_assert_str_eq(
	    parse_err(ROUTE_HEAD "    endpoint: http://h\n    api_key: k\n"
				 "    timeout_secs: 0\n",
		      no_env),
	    "routes.yaml:7: routes[0].timeout_secs: must be a whole number of seconds, "
	    "1..3600");
	cr_assert_str_eq(parse_err("routes:\n  - name: a\n    endpoint: http://h\n    api_key: k\n"
				   "    protocols: [model_discovery]\n",
				   no_env),
			 "routes.yaml:2: routes[0].model: required");
	cr_assert_str_eq(parse_err("routes:\n  - name: a\n    model: m\n    endpoint: http://h\n"
				   "    api_key: k\n    protocols: [model_discovery]\n"
				   "  - name: a\n    model: m\n    endpoint: http://h\n"
				   "    api_key: k\n    protocols: [model_discovery]\n",
				   no_env),
			 "routes.yaml:7: routes[1].name: 'a' is already the name of routes[0]");
	cr_assert_str_eq(parse_err("route: []\n", no_env),
			 "routes.yaml:1: route: unknown or repeated key (the file has one key: "
			 "routes)");
	cr_assert_str_eq(parse_err("routes: {a: 1}\n", no_env),
			 "routes.yaml:1: routes: must be a list");
	cr_assert(strstr(parse_err("routes: [\n", no_env), "routes.yaml:2: YAML: "));
	cr_assert_str_eq(parse_err("", no_env),
			 "routes.yaml:0: empty file: expected a mapping with `routes`");
}

Test(infer_routes, key_value_never_in_errors)
{
	const char *e = parse_err("routes:\n  - name: a\n    model: m\n    endpoint: gopher://x\n"
				  "    api_key: sk-very-secret\n    protocols: [model_discovery]\n",
				  no_env);

	cr_assert_null(strstr(e, "sk-very-secret"), "%s", e);
	e = parse_err("routes:\n  - name: a\n    api_key: sk-very-secret\n    model: m\n"
		      "    endpoint: http://h\n    protocols: [nope]\n",
		      no_env);
	cr_assert_null(strstr(e, "sk-very-secret"), "%s", e);
}

Test(infer_routes, load_missing_file)
{
	struct osh_l7_infer_routes *rs = NULL;
	char err[256];

	cr_assert_eq(
	    osh_l7_infer_routes_load("/nonexistent/routes.yaml", NULL, &rs, err, sizeof(err)),
	    OSH_EIO);
	cr_assert_str_eq(err, "/nonexistent/routes.yaml: cannot open: No such file or directory");
}

Test(infer_routes, router_and_target)
{
	struct osh_l7_infer_routes *rs = parse_ok(
	    "routes:\n"
	    "  - {name: a, endpoint: \"http://h/v1\", model: m, api_key: k, protocols: "
	    "[openai_chat_completions]}\n"
	    "  - {name: b, endpoint: \"http://[::1]:9/api\", model: m, api_key: k, protocols: "
	    "[openai_chat_completions, model_discovery]}\n",
	    no_env);
	char out[128];

	cr_assert_eq(osh_l7_infer_route_pick(rs, OSH_L7_INFER_OPENAI_CHAT), &rs->r[0]);
	cr_assert_eq(osh_l7_infer_route_pick(rs, OSH_L7_INFER_MODEL_DISCOVERY), &rs->r[1]);
	cr_assert_null(osh_l7_infer_route_pick(rs, OSH_L7_INFER_ANTHROPIC_MESSAGES));
	cr_assert_str_eq(rs->r[1].host, "::1");
	cr_assert_eq(
	    osh_l7_infer_upstream_target(&rs->r[0], "/v1/chat/completions", 20, out, sizeof(out)),
	    0);
	cr_assert_str_eq(out, "/v1/chat/completions");
	cr_assert_eq(
	    osh_l7_infer_upstream_target(&rs->r[0], "/v1/models?x=1", 14, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "/v1/models?x=1");
	cr_assert_eq(osh_l7_infer_upstream_target(&rs->r[1], "/v1/models", 10, out, sizeof(out)),
		     0);
	cr_assert_str_eq(out, "/api/v1/models");
	cr_assert_eq(osh_l7_infer_upstream_target(&rs->r[1], "/v1/models", 10, out, 8),
		     OSH_ETOOBIG);
	osh_l7_infer_routes_free(rs);
}

Test(infer_patterns, table)
{
	static const struct {
		const char *m, *p;
		unsigned want;
	} t[] = {
	    {"POST", "/v1/chat/completions", OSH_L7_INFER_OPENAI_CHAT},
	    {"post", "/v1/chat/completions?stream=true", OSH_L7_INFER_OPENAI_CHAT},
	    {"POST", "/v1/completions", OSH_L7_INFER_OPENAI_COMPLETIONS},
	    {"POST", "/v1/responses", OSH_L7_INFER_OPENAI_RESPONSES},
	    {"POST", "/v1/messages", OSH_L7_INFER_ANTHROPIC_MESSAGES},
	    {"GET", "/v1/models", OSH_L7_INFER_MODEL_DISCOVERY},
	    {"GET", "/v1/models/llama-3", OSH_L7_INFER_MODEL_DISCOVERY},
	    {"get", "/v1/models/a/b", OSH_L7_INFER_MODEL_DISCOVERY},
	    {"GET", "/v1/models/", OSH_L7_INFER_PROTO_NONE},
	    {"GET", "/v1/chat/completions", OSH_L7_INFER_PROTO_NONE},
	    {"POST", "/v1/models", OSH_L7_INFER_PROTO_NONE},
	    {"POST", "/v1/chat/completions/", OSH_L7_INFER_PROTO_NONE},
	    {"POST", "/V1/chat/completions", OSH_L7_INFER_PROTO_NONE},
	    {"DELETE", "/v1/messages", OSH_L7_INFER_PROTO_NONE},
	    {"GET", "/etc/passwd", OSH_L7_INFER_PROTO_NONE},
	    {"POSTX", "/v1/messages", OSH_L7_INFER_PROTO_NONE},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(osh_l7_infer_classify(t[i].m, strlen(t[i].m), t[i].p, strlen(t[i].p)),
			     t[i].want, "%s %s", t[i].m, t[i].p);
	cr_assert_str_eq(osh_l7_infer_proto_name(OSH_L7_INFER_ANTHROPIC_MESSAGES),
			 "anthropic_messages");
	cr_assert_str_eq(osh_l7_infer_proto_name(0), "-");
}

Test(infer_headers, stripping)
{
	static const char *const req_strip[] = {"Authorization",
						"x-api-key",
						"HOST",
						"content-length",
						"Connection",
						"keep-alive",
						"proxy-authenticate",
						"Proxy-Authorization",
						"proxy-connection",
						"TE",
						"trailer",
						"transfer-encoding",
						"upgrade",
						"Expect"};
	static const char *const req_keep[] = {"content-type", "accept",     "anthropic-version",
					       "user-agent",   "x-api-keys", "authorizations"};

	for (size_t i = 0; i < sizeof(req_strip) / sizeof(req_strip[0]); i++)
		cr_assert(osh_l7_infer_strip_request_header(req_strip[i], strlen(req_strip[i])),
			  "%s", req_strip[i]);
	for (size_t i = 0; i < sizeof(req_keep) / sizeof(req_keep[0]); i++)
		cr_assert_not(osh_l7_infer_strip_request_header(req_keep[i], strlen(req_keep[i])),
			      "%s", req_keep[i]);
	cr_assert(osh_l7_infer_strip_response_header("Content-Length", 14));
	cr_assert(osh_l7_infer_strip_response_header("Transfer-Encoding", 17));
	cr_assert(osh_l7_infer_strip_response_header("connection", 10));
	cr_assert_not(osh_l7_infer_strip_response_header("content-type", 12));
	cr_assert_not(osh_l7_infer_strip_response_header("x-request-id", 12));
}

Test(infer_body, model_rewrite)
{
	char *out = NULL;
	size_t n = 0;
	const char *b1 =
	    "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	const char *b2 = "{\"messages\":[]}";

	cr_assert_eq(osh_l7_infer_rewrite_model(b1, strlen(b1), "llama", &out, &n), 1);
	cr_assert_str_eq(
	    out, "{\"model\":\"llama\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
	cr_assert_eq(n, strlen(out));
	free(out);
	cr_assert_eq(osh_l7_infer_rewrite_model(b2, strlen(b2), "llama", &out, &n), 1);
	cr_assert_str_eq(out, "{\"messages\":[],\"model\":\"llama\"}");
	free(out);
	cr_assert_eq(osh_l7_infer_rewrite_model("[1,2]", 5, "llama", &out, &n), 0);
	cr_assert_null(out);
	cr_assert_eq(osh_l7_infer_rewrite_model("{\"model\":", 9, "llama", &out, &n), 0);
	cr_assert_eq(osh_l7_infer_rewrite_model("not json", 8, "llama", &out, &n), 0);
}

Test(infer_reason, phrases)
{
	cr_assert_str_eq(osh_l7_infer_reason_phrase(503), "Service Unavailable");
	cr_assert_str_eq(osh_l7_infer_reason_phrase(401), "Unauthorized");
	cr_assert_str_eq(osh_l7_infer_reason_phrase(413), "Content Too Large");
	cr_assert_str_eq(osh_l7_infer_reason_phrase(502), "Bad Gateway");
	cr_assert_str_eq(osh_l7_infer_reason_phrase(299), "Unknown");
}

/* ------------------------------------------------------------ framing */

static int parse(const char *s, size_t n, struct osh_l7_infer_req *rq, int *status,
		 const char **why)
{
	return osh_l7_infer_parse_request(s, n, rq, status, why);
}

Test(infer_request, content_length_body_and_pipelining)
{
	const char *s = "POST /v1/chat/completions HTTP/1.1\r\nHost: inference.local\r\n"
			"Content-Length: 5\r\n\r\nhelloGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
	struct osh_l7_infer_req rq = {0};
	const char *why;
	int st;

	cr_assert_eq(parse(s, 60, &rq, &st, &why), 0); /* head incomplete */
	cr_assert_eq(parse(s, strlen(s), &rq, &st, &why), 1);
	cr_assert_eq(rq.body_len, 5);
	cr_assert_eq(memcmp(rq.body, "hello", 5), 0);
	cr_assert(rq.keep_alive);
	cr_assert_eq(rq.path_len, 20);
	cr_assert_eq(parse(s + rq.consumed, strlen(s) - rq.consumed, &rq, &st, &why), 1);
	cr_assert_eq(rq.body_len, 0);
	cr_assert_eq(memcmp(rq.path, "/v1/models", 10), 0);
	osh_l7_infer_req_fini(&rq);
}

Test(infer_request, body_incomplete_then_complete_and_expect)
{
	const char *s = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
			"Content-Length: 4\r\n\r\nab";
	struct osh_l7_infer_req rq = {0};
	const char *why;
	int st;

	cr_assert_eq(parse(s, strlen(s), &rq, &st, &why), 0);
	cr_assert(rq.expect_continue);
	cr_assert_gt(rq.head.head_len, 0);
	osh_l7_infer_req_fini(&rq);
}

Test(infer_request, chunked_body_decoded)
{
	const char *s =
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
	    "\r\nConnection: close\r\n\r\n3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\nX-T: 1\r\n\r\n";
	struct osh_l7_infer_req rq = {0};
	const char *why;
	int st;

	cr_assert_eq(parse(s, strlen(s) - 3, &rq, &st, &why), 0);
	cr_assert_eq(parse(s, strlen(s), &rq, &st, &why), 1);
	cr_assert_eq(rq.body_len, 7);
	cr_assert_eq(memcmp(rq.body, "{\"a\":1}", 7), 0);
	cr_assert_eq(rq.consumed, strlen(s));
	cr_assert_not(rq.keep_alive);
	osh_l7_infer_req_fini(&rq);
}

Test(infer_request, refusals)
{
	static const struct {
		const char *req;
		int status;
		const char *reason; /* substring */
	} t[] = {
	    {"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: "
	     "chunked\r\n\r\n",
	     400, "Transfer-Encoding"},
	    {"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413,
	     "10 MiB"},
	    {"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	     400, "hexadecimal"},
	    {"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "2\r\nabc\r\n",
	     400, "longer than its size"},
	    {"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "1\rX",
	     400, "CR not followed by LF"},
	    {"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n", 400, "CONNECT inside"},
	    {"GET *x HTTP/1.1\r\nHost: x\r\n\r\n", 400, "origin-form"},
	    {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, ""},
	    {"\x16\x03\x01\x02\x00", 400, ""},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct osh_l7_infer_req rq = {0};
		const char *why = NULL;
		int st = 0;

		cr_assert_lt(parse(t[i].req, strlen(t[i].req), &rq, &st, &why), 0, "case %zu", i);
		cr_assert_eq(st, t[i].status, "case %zu: %d %s", i, st, why);
		cr_assert(why && strstr(why, t[i].reason), "case %zu: %s", i, why);
		osh_l7_infer_req_fini(&rq);
	}
}

Test(infer_request, absolute_form_reduced)
{
	const char *s = "GET https://inference.local/v1/models?a=b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct osh_l7_infer_req rq = {0};
	const char *why;
	int st;

	cr_assert_eq(parse(s, strlen(s), &rq, &st, &why), 1);
	cr_assert_eq(rq.path_len, 14);
	cr_assert_eq(memcmp(rq.path, "/v1/models?a=b", 14), 0);
	osh_l7_infer_req_fini(&rq);
}

Test(infer_request, chunk_count_and_size_limits)
{
	size_t cap = 4200 * 6 + 256, off = 0;
	char *s = malloc(cap);
	const char *big_head;
	struct osh_l7_infer_req rq = {0};
	const char *why;
	int st;

	off += (size_t)snprintf(s, cap,
				"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
				"chunked\r\n\r\n");
	for (int i = 0; i < 4097; i++) {
		memcpy(s + off, "1\r\na\r\n", 6);
		off += 6;
	}
	memcpy(s + off, "0\r\n\r\n", 5);
	off += 5;
	cr_assert_eq(parse(s, off, &rq, &st, &why), OSH_ETOOBIG);
	cr_assert_eq(st, 413);
	cr_assert_str_eq(why, "request body has more than 4096 chunks");
	osh_l7_infer_req_fini(&rq);
	free(s);

	/* a chunk announcing more than 10 MiB */
	big_head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "FFFFFFF\r\n";
	cr_assert_eq(parse(big_head, strlen(big_head), &rq, &st, &why), 0); /* more needed */
	{
		size_t big = OSH_L7_INFER_BODY_MAX + 100, hl = strlen(big_head);
		char *b = malloc(big);

		memcpy(b, big_head, hl);
		memset(b + hl, 'x', big - hl);
		cr_assert_eq(parse(b, big, &rq, &st, &why), OSH_ETOOBIG);
		cr_assert_eq(st, 413);
		free(b);
	}
	osh_l7_infer_req_fini(&rq);
}

/* ------------------------------------------------------------ chunked */

struct sink {
	char d[256];
	size_t n;
};

static bool sink_put(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;

	cr_assert_leq(s->n + n, sizeof(s->d));
	memcpy(s->d + s->n, p, n);
	s->n += n;
	return true;
}

Test(infer_chunked, byte_by_byte_equals_whole)
{
	const char *in = "5\r\nhello\r\nA; name=v\r\n0123456789\r\n0\r\nT: x\r\n\r\nNEXT";
	struct osh_l7_chunk_dec d = {0};
	struct sink s = {0};
	const char *why = NULL;
	size_t used = 0;

	for (size_t i = 0; i < strlen(in) && !d.done; i++) {
		ssize_t k = osh_l7_chunk_dec_feed(&d, in + i, 1, sink_put, &s, &why);

		cr_assert_eq(k, 1, "byte %zu: %s", i, why ? why : "");
		used += (size_t)k;
	}
	cr_assert(d.done);
	cr_assert_eq(used, strlen(in) - 4);
	cr_assert_eq(s.n, 15);
	cr_assert_eq(memcmp(s.d, "hello0123456789", 15), 0);
	cr_assert_eq(d.chunks, 2);

	memset(&d, 0, sizeof(d));
	s.n = 0;
	cr_assert_eq(osh_l7_chunk_dec_feed(&d, in, strlen(in), sink_put, &s, &why),
		     (ssize_t)(strlen(in) - 4));
	cr_assert_eq(s.n, 15);
}

Test(infer_chunked, malformed)
{
	static const char *const bad[] = {
	    "\r\n",    "g\r\n",	   "5\n",      "1234567890ABCDEF0\r\n",
	    "1\r\nab", "0\r\nX\n", "0\r\n\rX", "1;\n"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct osh_l7_chunk_dec d = {0};
		const char *why = NULL;

		cr_assert_eq(osh_l7_chunk_dec_feed(&d, bad[i], strlen(bad[i]), NULL, NULL, &why),
			     -1, "%zu", i);
		cr_assert_not_null(why);
	}
}
