/* secret_fuzz.c - libFuzzer target for the secret placeholder substitution
 * (osh_secret_substitute) and the secrets transfer text
 * (osh_secret_store_parse), src/supervisor/confine/secret_store.c.
 *
 * DESIGN: the header block comes from the agent (the untrusted side of the
 * proxy), so any bytes must give a rewritten block or a refusal, never a
 * crash, a split header or a placeholder that leaves unresolved. The input
 * is a private heap copy of exactly `size` bytes (ASan catches reads past
 * it). The store holds values with every character that needs care
 * (space, '=', '&', '%', '+', '/', non-ASCII). Invariants (abort = finding):
 *   - substitute returns 0, OSH_EPERM, OSH_EPARSE or OSH_ETOOBIG; on error
 *     *out is NULL; err is NUL-terminated and never contains a secret value;
 *   - on 0 with no substitution *out is NULL and the header part of the
 *     input holds no placeholder prefix; on 0 with substitutions the header
 *     part of the output holds no prefix and exactly as many LF bytes as the
 *     input's (no header split or joined), and no secret value contains CR/LF;
 *   - the same bytes as transfer text parse to 0 or a documented error, with
 *     at most OSH_SECRET_MAX secrets, each name valid.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_err.h"
#include "osh_secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"API_KEY", "TOKEN", "PW", "SLASHY", NULL};
static const char *const values[] = {"sk-live-123", "a b=c&d%2F+", "p\xc3\xa4ss:word", "x/y",
				     NULL};
static struct osh_secret_store *st;

/* Length of the header part: up to and including the first empty line. */
static size_t header_part(const char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 3;
	}
	return n;
}

static size_t count_lf(const char *p, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

static bool has_prefix(const char *p, size_t n)
{
	return memmem(p, n, OSH_SECRET_PREFIX, sizeof(OSH_SECRET_PREFIX) - 1) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	char *out = NULL;
	size_t out_len = 0, hin;
	unsigned n = 0;
	char err[256];
	int rc;
	struct osh_secret_store *t = NULL;

	if (!st) {
		if (osh_secret_store_new(&st) != 0)
			abort();
		for (int i = 0; names[i]; i++)
			if (osh_secret_store_add(st, names[i], values[i], strlen(values[i]), err,
						 sizeof(err)) != 0)
				abort();
	}
	if (!in)
		return 0;
	memcpy(in, data, size);
	hin = header_part(in, size);

	rc = osh_secret_substitute(st, in, size, &out, &out_len, &n, err, sizeof(err));
	if (rc != 0 && rc != OSH_EPERM && rc != OSH_EPARSE && rc != OSH_ETOOBIG)
		abort();
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	for (int i = 0; values[i]; i++)
		if (strstr(err, values[i]))
			abort();
	if (rc != 0 && out)
		abort();
	if (rc == 0 && n == 0 && (out || has_prefix(in, hin)))
		abort();
	if (rc == 0 && n > 0) {
		size_t hout;

		if (!out)
			abort();
		hout = header_part(out, out_len);
		if (has_prefix(out, hout) || count_lf(out, hout) != count_lf(in, hin))
			abort();
	}
	free(out);

	if (osh_secret_store_new(&t) != 0)
		abort();
	rc = osh_secret_store_parse(t, in, size, err, sizeof(err));
	if (rc != 0 && rc != OSH_EPARSE && rc != OSH_EINVAL && rc != OSH_EEXIST &&
	    rc != OSH_ETOOBIG && rc != OSH_ENOMEM)
		abort();
	if (osh_secret_store_count(t) > OSH_SECRET_MAX)
		abort();
	for (size_t i = 0; i < osh_secret_store_count(t); i++)
		if (!osh_secret_name_ok(osh_secret_store_name(t, i)))
			abort();
	osh_secret_store_free(t);
	free(in);
	return 0;
}
