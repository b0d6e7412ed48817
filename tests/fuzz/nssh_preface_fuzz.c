/* nssh_preface_fuzz.c - libFuzzer target for the NSSH1 preface parser and
 * verifier (src/nssh): the line a client sends before SSH is untrusted.
 *
 * DESIGN: the input is the line as read (not NUL-terminated: copied into an
 * exact-size heap buffer so ASan sees any over-read). Oracles on success:
 * token and nonce are NUL-terminated, 1..256 printable non-blank bytes;
 * building a preface from the parsed fields under a fixed secret and parsing
 * that again gives the same fields, and it verifies at its own timestamp
 * (so parse and build agree on the format). Verifying the fuzzed line
 * itself never crashes whatever its timestamp (int64 edges included), and a
 * refusal always names a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osh_ssh_preface.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void field_ok(const char *s)
{
	size_t n = strlen(s);

	check(n >= 1 && n <= OSH_SSH_FIELD_MAX);
	for (size_t i = 0; i < n; i++)
		check(s[i] > 0x20 && s[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct osh_ssh_preface p, q;
	const char *why = NULL;
	char line[OSH_SSH_PREFACE_MAX + 2];
	enum osh_ssh_preface_result r;
	int n;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = osh_ssh_preface_parse(buf, size, &p, &why);
	check(why != NULL);
	if (r != OSH_SSH_PF_OK) {
		check(why[0] != '\0');
		goto out;
	}
	field_ok(p.token);
	field_ok(p.nonce);
	(void)osh_ssh_preface_verify(&p, "k", 1, 1700000000, 300);
	n = osh_ssh_preface_build(p.token, p.ts, p.nonce, "k", 1, line, sizeof(line));
	if (n < 0) {
		check(n == OSH_ETOOBIG); /* 256 + 256 + 20 + 64 fits: only the cap */
		goto out;
	}
	check(line[n - 1] == '\n');
	check(osh_ssh_preface_parse(line, (size_t)n - 1, &q, &why) == OSH_SSH_PF_OK);
	check(strcmp(q.token, p.token) == 0 && strcmp(q.nonce, p.nonce) == 0 && q.ts == p.ts);
	check(osh_ssh_preface_verify(&q, "k", 1, q.ts, 0) == OSH_SSH_PF_OK);
out:
	free(buf);
	return 0;
}
