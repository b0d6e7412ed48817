/* net_procnet.c - the /proc/net/{tcp,udp}[6] line scanner of the bypass monitor.
 *
 * DESIGN
 * Pure and bounded by the buffer's length (no NUL needed): the monitor
 * reads the namespace's socket tables into a buffer and asks for the inode
 * of the socket bound to a source port. Lines are "sl local rem st ...
 * uid timeout inode ..." with local = HEXADDR:HEXPORT; a line that does not
 * have that shape is skipped. Kept apart from net_ident.c (which walks
 * /proc) so the fuzzer links only parsers (tests/fuzz/kmsg_fuzz.c).
 */
#include "net_internal.h"

#include <ctype.h>
#include <string.h>

/* The n-th whitespace-separated field of line [p, e), or NULL. */
static const char *field(const char *p, const char *e, int n, const char **fe)
{
	const char *r = NULL;

	for (int i = 0; p < e && !r; i++) {
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= e)
			break;
		if (i == n)
			r = p;
		while (p < e && *p != ' ' && *p != '\t')
			p++;
		if (r)
			*fe = p;
	}
	return r;
}

unsigned long net_ident_inode_in(const char *text, size_t len, uint16_t sport)
{
	const char *p = text, *end = text + len;
	unsigned long inode = 0;
	bool first = true;

	while (p < end && inode == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *f, *fe = NULL, *colon;

		if (!first && (f = field(p, le, 1, &fe)) != NULL &&
		    (colon = memchr(f, ':', (size_t)(fe - f))) != NULL && fe - colon == 5) {
			unsigned port = 0;
			bool ok = true;

			for (const char *h = colon + 1; h < fe && ok; h++) {
				ok = isxdigit((unsigned char)*h) != 0;
				port = port * 16 +
				       (unsigned)(isdigit((unsigned char)*h)
						      ? *h - '0'
						      : tolower((unsigned char)*h) - 'a' + 10);
			}
			if (ok && port == sport && (f = field(p, le, 9, &fe)) != NULL) {
				unsigned long v = 0;

				for (; f < fe && isdigit((unsigned char)*f); f++)
					v = v * 10 + (unsigned long)(*f - '0');
				inode = v;
			}
		}
		first = false;
		p = le + 1;
	}
	return inode;
}
