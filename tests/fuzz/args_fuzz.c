/* args_fuzz.c - libFuzzer target for the small text parsers at the edges:
 * durations, booleans, argv/environment of the three programs, --since, and
 * the CLI's rendering of log lines pushed by sandboxes.
 *
 * DESIGN: byte 0 picks the parser, the rest is split on NUL bytes into
 * strings (argv words, environment entries, field values). Where the format
 * is simple enough an independent oracle written here decides the expected
 * verdict and value, so a wrong answer is a finding, not only a crash:
 *   0 osh_parse_duration_ms  oracle: ^[0-9]+(ms|s|m|h|d)?$, exact value,
 *                             OSH_ETOOBIG iff the ms value exceeds INT64_MAX
 *                             (digits that overflow before a bad unit may
 *                             give either error)
 *   1 osh_parse_bool          oracle: true/yes/on/1/y, false/no/off/0/n, any case
 *   2 osh_cli_parse_since     oracle: ^[0-9]{13,}$ absolute ms; ^[0-9]{10,12}$
 *                             refused (epoch seconds without .ms); shorter
 *                             bare digits are seconds and ^[0-9]+(ms|s|m|h|d)$
 *                             relative to now, result in [0, now];
 *                             ^[0-9]+\.[0-9]{3}$ exact secs.ms; anything with
 *                             '-' (RFC 3339) gives a time >= 0 or EINVAL; no
 *                             signed overflow (UBSan)
 *   3 osh_sup_args_parse      argv (first string count from byte 1) + envp;
 *                             rc in {0, EINVAL, EPARSE, ENOMEM}; err
 *                             NUL-terminated;
 *                             on success poll >= minimum, durations >= 0,
 *                             command words point into argv; fini frees all
 *   4 osh_cli_parse           rc in {0, EINVAL}; err NUL-terminated; strings
 *                             it returns point into argv or static storage
 *   5 osh_gw_opts_parse       rc in {0, EINVAL, EPARSE}; err NUL-terminated
 *   6 osh_cli_format_line     source/level/target/message/fields from the
 *                             input (what a sandbox can push): with colour
 *                             off the line holds no C0 byte or DEL (no
 *                             forged line, no terminal control), the length
 *                             returned equals the bytes written when the
 *                             buffer is large, and a small buffer is
 *                             truncated and NUL-terminated, never overrun;
 *                             the line is also valid UTF-8 without C1
 *                             controls or bidi/line-separator characters
 *                             (the rule the emit escaper applies; finding 3
 *                             of docs/security.md, fixed).
 *   7 osh_gw_name_valid       oracle: 1..63 of [A-Za-z0-9._-], not starting
 *                             with '.' or '-' (names reach paths and logs);
 *     osh_gw_page_token_parse  on the same string, oracle: "" = 0, else
 *                             ^[1-9][0-9]{0,17}$ with its exact value, else
 *                             OSH_EINVAL with 0
 * No state survives a run: every parse result is finished/freed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "osh_parse.h"
#include "gateway.h"
#include "osh_cli.h"
#include "osh_err.h"
#include "sandboxes.h"
#include "sup_args.h"
#include "fuzz_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXW 64

/* Decimal digits -> value, saturating at UINT64_MAX (*big set). */
static uint64_t digits_value(const char *s, size_t n, bool *big)
{
	uint64_t v = 0;

	*big = false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10) {
			*big = true;
			return UINT64_MAX;
		}
		v = v * 10 + d;
	}
	return v;
}

static void fuzz_duration(const char *s)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {{"", 1000},   {"s", 1000},	   {"ms", 1},
		     {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	size_t n = strlen(s), dn = 0;
	int64_t out = -7;
	int rc = osh_parse_duration_ms(s, &out);
	int want = OSH_EPARSE;
	uint64_t v = 0, mult = 0;
	bool big = false;

	while (dn < n && s[dn] >= '0' && s[dn] <= '9')
		dn++;
	for (size_t u = 0; dn > 0 && u < sizeof(units) / sizeof(units[0]); u++)
		if (strcmp(s + dn, units[u].unit) == 0)
			mult = units[u].mult;
	v = digits_value(s, dn, &big);
	if (mult)
		want = (big || v > (uint64_t)INT64_MAX / mult) ? OSH_ETOOBIG : 0;
	/* Too many digits AND a bad suffix: either error is a fair verdict. */
	if (!mult && dn > 0 && (big || v > (uint64_t)INT64_MAX / 10) && rc == OSH_ETOOBIG)
		want = OSH_ETOOBIG;
	if (rc != want)
		abort();
	if (rc == 0 && out != (int64_t)(v * mult))
		abort();
	if (rc != 0 && out != -7)
		abort(); /* output written on failure */
}

static void fuzz_bool(const char *s)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "y"};
	static const char *const no[] = {"false", "no", "off", "0", "n"};
	int want = OSH_EPARSE;
	bool wantv = false, got = false;

	for (int i = 0; i < 5; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			want = 0;
			wantv = true;
		}
		if (strcasecmp(s, no[i]) == 0)
			want = 0;
	}
	if (osh_parse_bool(s, &got) != want || (want == 0 && got != wantv))
		abort();
}

static void fuzz_since(const char *s, int64_t now)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	size_t n = strlen(s), dn = 0;
	int64_t out = -7;
	int rc = osh_cli_parse_since(s, now, &out);
	bool big = false;
	uint64_t v;

	while (dn < n && s[dn] >= '0' && s[dn] <= '9')
		dn++;
	v = digits_value(s, dn, &big);
	if (dn == 0) {
		if (rc == 0)
			abort();
		return;
	}
	if (dn == n && n >= 13) { /* absolute ms */
		bool ok = !big && v <= (uint64_t)INT64_MAX;

		if ((rc == 0) != ok || (ok && out != (int64_t)v))
			abort();
		return;
	}
	if (dn == n && n >= 10) { /* epoch seconds without .ms: refused */
		if (rc == 0)
			abort();
		return;
	}
	if (dn == n) { /* bare seconds */
		bool ok = !big && v <= (uint64_t)(now / 1000);

		if ((rc == 0) != ok || (ok && out != now - (int64_t)v * 1000))
			abort();
		return;
	}
	if (s[dn] == '.') { /* exactly <secs>.<ms> */
		bool ok = n == dn + 4 && s[dn + 1] >= '0' && s[dn + 1] <= '9' && s[dn + 2] >= '0' &&
			  s[dn + 2] <= '9' && s[dn + 3] >= '0' && s[dn + 3] <= '9' && !big &&
			  v <= (uint64_t)INT64_MAX / 1000 - 1;

		if ((rc == 0) != ok)
			abort();
		if (ok && out != (int64_t)v * 1000 + (int64_t)strtoll(s + dn + 1, NULL, 10))
			abort();
		return;
	}
	if (strchr(s, '-') != NULL) { /* RFC 3339: any accepted time is after 1970 */
		if (rc == 0 && out < 0)
			abort();
		return;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (strcmp(s + dn, units[u].unit) == 0) {
			bool ok = !big && v <= (uint64_t)(now / units[u].mult);

			if ((rc == 0) != ok)
				abort();
			if (ok && (out != now - (int64_t)v * units[u].mult || out < 0 || out > now))
				abort();
			return;
		}
	}
	if (rc == 0)
		abort(); /* unknown unit accepted */
}

static bool in_argv(const char *p, char **argv, int argc)
{
	for (int i = 0; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return true;
	return false;
}

static void fuzz_sup_args(char **w, int nw, unsigned split)
{
	struct osh_sup_args a;
	char prog[] = "openshell-sandbox";
	char *argv[MAXW + 2], *envp[MAXW + 1];
	int argc = 1, ne = 0;
	char err[256];
	int rc;

	argv[0] = prog;
	for (int i = 0; i < nw; i++) {
		if ((unsigned)i < split)
			argv[argc++] = w[i];
		else
			envp[ne++] = w[i];
	}
	argv[argc] = NULL;
	envp[ne] = NULL;
	memset(&a, 0, sizeof(a));
	memset(err, 'X', sizeof(err));
	rc = osh_sup_args_parse(&a, argc, argv, envp, err, sizeof(err));
	/* sup_args.h: EINVAL/EPARSE (an overflowing duration is EPARSE since
	 * finding 6 was fixed) or ENOMEM. */
	if (rc != 0 && rc != OSH_EINVAL && rc != OSH_EPARSE && rc != OSH_ENOMEM)
		abort();
	if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	/* --help / --version print and exit before the cross-checks run. */
	if (rc == 0 && !a.help && !a.version) {
		if (a.poll_ms < OSH_SUP_MIN_POLL_MS || a.timeout_ms < 0 || a.grace_ms < 0 ||
		    a.heartbeat_ms < 0)
			abort();
		if (a.gateway && (!a.sandbox_id || !a.sandbox_id[0]))
			abort(); /* documented: sandbox id required with a gateway */
	}
	if (rc == 0) {
		for (int i = 0; i < a.n_command; i++)
			if (!in_argv(a.command[i], argv, argc))
				abort();
		if (a.command && a.command[a.n_command] != NULL)
			abort(); /* command must be NULL-terminated */
	}
	osh_sup_args_fini(&a);
}

static void fuzz_cli(char **w, int nw, int64_t now)
{
	struct osh_cli_args a;
	char prog[] = "openshell";
	char *argv[MAXW + 2];
	char err[256];
	int rc;

	argv[0] = prog;
	for (int i = 0; i < nw; i++)
		argv[i + 1] = w[i];
	argv[nw + 1] = NULL;
	memset(&a, 0, sizeof(a));
	memset(err, 'X', sizeof(err));
	rc = osh_cli_parse(nw + 1, argv, nw > 0 && (now & 1) ? w[nw - 1] : NULL, now, &a, err,
			   sizeof(err));
	if (rc != 0 && rc != OSH_EINVAL)
		abort();
	if (rc != 0 && (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL))
		abort(); /* an error without a message */
	if (rc == 0) {
		for (int i = 0; i < a.n_command; i++)
			if (!in_argv(a.command[i], argv, nw + 1))
				abort();
		if (a.n_sources > 2)
			abort();
		if (a.since_ms < 0)
			abort();
	}
}

static void fuzz_gw_opts(char **w, int nw)
{
	struct osh_gw_opts o;
	char prog[] = "openshell-gateway";
	char *argv[MAXW + 2];
	char err[256];
	int rc;

	argv[0] = prog;
	for (int i = 0; i < nw; i++)
		argv[i + 1] = w[i];
	argv[nw + 1] = NULL;
	osh_gw_opts_init(&o);
	memset(err, 'X', sizeof(err));
	rc = osh_gw_opts_parse(&o, nw + 1, argv, err, sizeof(err));
	if (rc != 0 && rc != OSH_EINVAL && rc != OSH_EPARSE)
		abort();
	if (rc != 0 && (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL))
		abort(); /* an error without a message */
}

static void fuzz_name(const char *s)
{
	size_t n = strlen(s);
	bool want = n >= 1 && n <= 63 && s[0] != '.' && s[0] != '-';
	char err[128];

	for (size_t i = 0; want && i < n; i++)
		want = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		       (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-';
	err[0] = '\0';
	if (osh_gw_name_valid(s, err, sizeof(err)) != want)
		abort();
	if (!want && (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL))
		abort();
}

static void fuzz_page_token(const char *s)
{
	size_t n = strlen(s);
	bool want = n <= 18 && (n == 0 || (s[0] >= '1' && s[0] <= '9'));
	int64_t v = 0, got = -1;

	for (size_t i = 0; want && i < n; i++) {
		want = s[i] >= '0' && s[i] <= '9';
		v = v * 10 + (s[i] - '0');
	}
	if ((osh_gw_page_token_parse(s, &got) == 0) != want)
		abort();
	if (got != (want ? v : 0))
		abort();
}

/* The CLI line invariant (colour off). */
static void check_cli_line(const char *s, size_t n, bool strict)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++)
		if (u[i] < 0x20 || u[i] == 0x7f)
			abort(); /* raw control byte from a sandbox reaches the terminal */
	if (!strict)
		return;
	for (size_t i = 0, len; i < n; i += len) {
		uint32_t v;

		if ((len = fuzz_utf8_dec(u + i, n - i, &v)) == 0)
			abort(); /* invalid UTF-8 */
		if ((v >= 0x80 && v <= 0x9f) || v == 0x2028 || v == 0x2029 ||
		    (v >= 0x202a && v <= 0x202e) || (v >= 0x2066 && v <= 0x2069))
			abort(); /* C1 (8-bit CSI), line separator or bidi override */
	}
}

static void fuzz_format(char **w, int nw, int64_t ts, bool color)
{
	struct osh_cli_line l;
	const char *keys[MAXW], *vals[MAXW];
	size_t nf = 0, need, need2, cap;
	char *big, small[24 + 8];

	memset(&l, 0, sizeof(l));
	l.timestamp_ms = ts;
	l.source = nw > 0 ? w[0] : NULL;
	l.level = nw > 1 ? w[1] : NULL;
	l.target = nw > 2 ? w[2] : NULL;
	l.message = nw > 3 ? w[3] : NULL;
	for (int i = 4; i + 1 < nw; i += 2) {
		keys[nf] = w[i];
		vals[nf] = w[i + 1];
		nf++;
	}
	l.keys = keys;
	l.values = vals;
	l.n_fields = nf;

	need = osh_cli_format_line(&l, color, NULL, 0);
	cap = need + 1;
	big = malloc(cap);
	if (!big)
		abort();
	need2 = osh_cli_format_line(&l, color, big, cap);
	if (need2 != need || strlen(big) != need)
		abort(); /* the size query and the write disagree */
	if (!color)
		check_cli_line(big, need, true);
	/* Small buffer: truncated, NUL-terminated, guard bytes intact. */
	memset(small, 'G', sizeof(small));
	if (osh_cli_format_line(&l, color, small, 24) != need)
		abort();
	if (memchr(small, '\0', 24) == NULL)
		abort();
	for (size_t i = 24; i < sizeof(small); i++)
		if (small[i] != 'G')
			abort();
	if (need >= 24 && memcmp(small, big, 23) != 0)
		abort(); /* truncation must keep the prefix */
	free(big);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *w[MAXW];
	int nw = 0;
	size_t pos = 3;
	int64_t now = 1764400000000LL;

	if (size < 3)
		return 0;
	copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	while (pos < size && nw < MAXW) {
		w[nw++] = copy + pos;
		pos += strlen(copy + pos) + 1;
	}
	switch (data[0] % 8) {
	case 0:
		fuzz_duration(nw ? w[0] : "");
		break;
	case 1:
		fuzz_bool(nw ? w[0] : "");
		break;
	case 2:
		fuzz_since(nw ? w[0] : "", data[1] & 1 ? now : (int64_t)data[2] * 1000);
		break;
	case 3:
		fuzz_sup_args(w, nw, data[1]);
		break;
	case 4:
		fuzz_cli(w, nw, now + data[1]);
		break;
	case 5:
		fuzz_gw_opts(w, nw);
		break;
	case 6:
		/* any timestamp, negative ones included */
		fuzz_format(w, nw, (int64_t)((uint64_t)data[1] << 56 | (uint64_t)data[2] << 8),
			    (data[2] & 1) != 0);
		break;
	case 7:
		fuzz_name(nw ? w[0] : "");
		fuzz_page_token(nw ? w[0] : "");
		break;
	}
	free(copy);
	return 0;
}
