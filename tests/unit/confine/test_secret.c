/* test_secret.c - secret store, transfer text, placeholders, substitution.
 * DESIGN: every case builds a store and a real HTTP/1.1 header block and
 * asserts the exact bytes that would go on the wire (or the refusal). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "osh_secret.h"

static struct osh_secret_store *st;

static void mk(void)
{
	char err[256];

	cr_assert_eq(osh_secret_store_new(&st), 0);
	cr_assert_eq(osh_secret_store_add(st, "API_KEY", "sk-live-123", 11, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_secret_store_add(st, "GH_TOKEN", "ghp_abc def", 11, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(osh_secret_store_add(st, "USERPW", "s3cr=t&x", 8, err, sizeof(err)), 0);
	cr_assert_eq(osh_secret_store_add(st, "SLASHY", "a/b", 3, err, sizeof(err)), 0);
}

static void rm(void)
{
	osh_secret_store_free(st);
	st = NULL;
}

TestSuite(secret, .init = mk, .fini = rm);

static int sub(const char *in, char **out, unsigned *n, char *err, size_t errlen)
{
	size_t olen = 0;
	int rc = osh_secret_substitute(st, in, strlen(in), out, &olen, n, err, errlen);

	if (*out)
		cr_assert_eq(strlen(*out), olen);
	return rc;
}

Test(secret, values_with_cr_lf_nul_refused)
{
	char err[256];
	const char *bad[] = {"a\rb", "a\nb", "line\r\n"};

	for (int i = 0; i < 3; i++) {
		cr_assert_eq(
		    osh_secret_store_add(st, "BAD", bad[i], strlen(bad[i]), err, sizeof(err)),
		    OSH_EINVAL);
		cr_assert(strstr(err, "secret BAD"), "%s", err);
		cr_assert(!strstr(err, "a\rb") && !strstr(err, "line"), "value leaked: %s", err);
	}
	cr_assert_eq(osh_secret_store_add(st, "BAD", "a\0b", 3, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "NUL"), "%s", err);
	cr_assert_eq(osh_secret_store_count(st), 4, "nothing added");
}

Test(secret, names_duplicates_and_limits)
{
	char err[256];
	char big[OSH_SECRET_VALUE_MAX + 2];

	cr_assert_eq(osh_secret_store_add(st, "1ABC", "v", 1, err, sizeof(err)), OSH_EINVAL);
	cr_assert_eq(osh_secret_store_add(st, "A-B", "v", 1, err, sizeof(err)), OSH_EINVAL);
	cr_assert_eq(osh_secret_store_add(st, "", "v", 1, err, sizeof(err)), OSH_EINVAL);
	cr_assert_eq(osh_secret_store_add(st, "API_KEY", "v", 1, err, sizeof(err)), OSH_EEXIST);
	cr_assert(strstr(err, "API_KEY given twice"), "%s", err);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(osh_secret_store_add(st, "BIG", big, sizeof(big), err, sizeof(err)),
		     OSH_ETOOBIG);
	for (int i = 0; i < OSH_SECRET_MAX - 4; i++) {
		char nm[16];

		snprintf(nm, sizeof(nm), "S%d", i);
		cr_assert_eq(osh_secret_store_add(st, nm, "v", 1, err, sizeof(err)), 0);
	}
	cr_assert_eq(osh_secret_store_add(st, "ONE_MORE", "v", 1, err, sizeof(err)), OSH_ETOOBIG);
	cr_assert_eq(osh_secret_store_count(st), OSH_SECRET_MAX);
}

Test(secret, transfer_text_and_fd)
{
	struct osh_secret_store *s2 = NULL;
	char err[256];
	int p[2];
	const char *text = "A=1\n\nB=x=y\nC=\n";

	cr_assert_eq(osh_secret_store_new(&s2), 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
	close(p[1]);
	cr_assert_eq(osh_secret_store_read_fd(s2, p[0], err, sizeof(err)), 0, "%s", err);
	close(p[0]);
	cr_assert_eq(osh_secret_store_count(s2), 3);
	cr_assert_str_eq(osh_secret_store_name(s2, 1), "B");
	cr_assert_null(osh_secret_store_name(s2, 3));
	osh_secret_store_free(s2);

	cr_assert_eq(osh_secret_store_new(&s2), 0);
	cr_assert_eq(osh_secret_store_parse(s2, "A=1\nnoequals\n", 13, err, sizeof(err)),
		     OSH_EPARSE);
	cr_assert(strstr(err, "line 2"), "%s", err);
	cr_assert_eq(osh_secret_store_parse(s2, "Z=a\rb\n", 6, err, sizeof(err)), OSH_EINVAL);
	cr_assert(strstr(err, "line 1") && strstr(err, "CR"), "%s", err);
	osh_secret_store_free(s2);
}

Test(secret, placeholder_format)
{
	char ph[64];

	cr_assert_eq(osh_secret_placeholder("API_KEY", ph, sizeof(ph)), 0);
	cr_assert_str_eq(ph, "openshell:resolve:env:API_KEY");
	cr_assert_eq(osh_secret_placeholder("bad name", ph, sizeof(ph)), OSH_EINVAL);
	cr_assert_eq(osh_secret_placeholder("API_KEY", ph, 10), OSH_ETOOBIG);
}

Test(secret, header_values_bearer_and_raw)
{
	char *out = NULL, err[256];
	unsigned n = 0;
	const char *in = "GET /v1/models HTTP/1.1\r\n"
			 "Host: api.example.test\r\n"
			 "Authorization: Bearer openshell:resolve:env:API_KEY\r\n"
			 "X-Token: openshell:resolve:env:GH_TOKEN\r\n"
			 "\r\n";

	cr_assert_eq(sub(in, &out, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(out, "GET /v1/models HTTP/1.1\r\n"
			      "Host: api.example.test\r\n"
			      "Authorization: Bearer sk-live-123\r\n"
			      "X-Token: ghp_abc def\r\n"
			      "\r\n");
	free(out);
}

Test(secret, basic_credentials_reencoded)
{
	char *out = NULL, err[256];
	unsigned n = 0;
	/* base64("bot:openshell:resolve:env:USERPW") */
	const char *in = "GET / HTTP/1.1\r\n"
			 "Authorization: Basic Ym90Om9wZW5zaGVsbDpyZXNvbHZlOmVudjpVU0VSUFc=\r\n"
			 "\r\n";

	cr_assert_eq(sub(in, &out, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	/* base64("bot:s3cr=t&x") */
	cr_assert_str_eq(out, "GET / HTTP/1.1\r\nAuthorization: Basic Ym90OnMzY3I9dCZ4\r\n\r\n");
	free(out);
}

Test(secret, request_target_percent_encoded)
{
	char *out = NULL, err[256];
	unsigned n = 0;
	const char *in =
	    "GET /api/openshell:resolve:env:GH_TOKEN/x?key=openshell:resolve:env:USERPW "
	    "HTTP/1.1\r\nHost: h\r\n\r\n";

	cr_assert_eq(sub(in, &out, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(out,
			 "GET /api/ghp_abc%20def/x?key=s3cr%3Dt%26x HTTP/1.1\r\nHost: h\r\n\r\n");
	free(out);
}

Test(secret, unsafe_value_in_target_refused)
{
	char *out = NULL, err[256];
	unsigned n = 0;

	cr_assert_eq(
	    sub("GET /openshell:resolve:env:SLASHY HTTP/1.1\r\n\r\n", &out, &n, err, sizeof(err)),
	    OSH_EPERM);
	cr_assert_null(out);
	cr_assert(strstr(err, "secret SLASHY"), "%s", err);
	cr_assert(!strstr(err, "a/b"), "value leaked: %s", err);
}

Test(secret, fail_closed_on_unresolved_placeholders)
{
	char *out = NULL, err[256];
	unsigned n = 0;

	cr_assert_eq(sub("GET / HTTP/1.1\r\nX-K: openshell:resolve:env:NOPE\r\n\r\n", &out, &n, err,
			 sizeof(err)),
		     OSH_EPERM);
	cr_assert_null(out);
	cr_assert(strstr(err, "openshell:resolve:env:NOPE"), "%s", err);
	/* Percent-encoded in the target. */
	cr_assert_eq(sub("GET /openshell%3Aresolve%3Aenv%3AAPI_KEY HTTP/1.1\r\n\r\n", &out, &n, err,
			 sizeof(err)),
		     OSH_EPERM);
	/* Bare prefix with no name. */
	cr_assert_eq(
	    sub("GET / HTTP/1.1\r\nX: openshell:resolve:env:\r\n\r\n", &out, &n, err, sizeof(err)),
	    OSH_EPERM);
	/* Unknown name inside Basic credentials: base64("u:openshell:resolve:env:NOPE") */
	cr_assert_eq(sub("GET / HTTP/1.1\r\nAuthorization: Basic "
			 "dTpvcGVuc2hlbGw6cmVzb2x2ZTplbnY6Tk9QRQ==\r\n\r\n",
			 &out, &n, err, sizeof(err)),
		     OSH_EPERM);
	/* No store at all. */
	{
		size_t ol;

		cr_assert_eq(osh_secret_substitute(
				 NULL, "GET / HTTP/1.1\r\nX: openshell:resolve:env:A\r\n\r\n", 47,
				 &out, &ol, &n, err, sizeof(err)),
			     OSH_EPERM);
	}
}

Test(secret, nothing_to_do_and_body_untouched)
{
	char *out = NULL, err[256];
	unsigned n = 9;
	const char *plain = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 36\r\n\r\n"
			    "openshell:resolve:env:API_KEY body";

	cr_assert_eq(sub(plain, &out, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 0);
	cr_assert_null(out, "no rewrite: forward the original");
	/* LF-only line endings are handled too; the body stays as it is. */
	cr_assert_eq(
	    sub("POST /x HTTP/1.1\nX: openshell:resolve:env:API_KEY\n\nopenshell:resolve:env:NOPE",
		&out, &n, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(out, "POST /x HTTP/1.1\nX: sk-live-123\n\nopenshell:resolve:env:NOPE");
	free(out);
}

Test(secret, malformed_and_oversize)
{
	char *out = NULL, err[256];
	unsigned n = 0;
	size_t ol;
	char *big = malloc(OSH_SECRET_BLOCK_MAX + 2);

	cr_assert_eq(sub("garbage\r\n\r\n", &out, &n, err, sizeof(err)), OSH_EPARSE);
	cr_assert(strstr(err, "request line"), "%s", err);
	cr_assert_not_null(big);
	memset(big, 'a', OSH_SECRET_BLOCK_MAX + 1);
	cr_assert_eq(osh_secret_substitute(st, big, OSH_SECRET_BLOCK_MAX + 1, &out, &ol, &n, err,
					   sizeof(err)),
		     OSH_ETOOBIG);
	free(big);
	/* Invalid base64 in Basic is forwarded untouched (not ours to judge). */
	cr_assert_eq(
	    sub("GET / HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n", &out, &n, err, sizeof(err)),
	    0);
	cr_assert_null(out);
}
