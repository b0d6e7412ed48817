/* net_kmsg.c - parse one /dev/kmsg record written by the namespace's LOG rules.
 *
 * DESIGN
 * A record is "prio,seq,usec,flags[,...];text" optionally followed by
 * "\n KEY=value" dictionary lines; the text of an nftables LOG line is our
 * prefix followed by space-separated KEY=VALUE fields and bare flags
 * ("IN= OUT=eth0 SRC=10.200.0.2 DST=10.200.0.1 ... PROTO=TCP SPT=40112
 * DPT=9 ... SYN URGP=0 UID=0 GID=0"). Part of that text comes from the
 * packet the sandboxed command chose to send, so this is a parser of
 * untrusted input: bounded by len (no NUL needed), every number range-
 * checked, addresses validated with inet_pton, unknown fields ignored,
 * anything else an OSH_EPARSE (never a crash). Fuzzed by
 * tests/fuzz/kmsg_fuzz.c.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Parse a decimal number in [p, e) into *v (<= max). */
static bool num(const char *p, const char *e, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	bool ok = p < e && e - p <= 20;

	for (; ok && p < e; p++) {
		if (*p < '0' || *p > '9' || x > (max - (uint64_t)(*p - '0')) / 10)
			ok = false;
		else
			x = x * 10 + (uint64_t)(*p - '0');
	}
	if (ok)
		*v = x;
	return ok;
}

static bool addr(const char *p, const char *e, char *out, size_t cap, bool *v6)
{
	char tmp[64];
	unsigned char bin[16];
	size_t l = (size_t)(e - p);
	bool ok = l > 0 && l < sizeof(tmp) && l < cap;

	if (ok) {
		memcpy(tmp, p, l);
		tmp[l] = '\0';
		if (inet_pton(AF_INET, tmp, bin) == 1) {
			*v6 = false;
		} else if (inet_pton(AF_INET6, tmp, bin) == 1) {
			*v6 = true;
		} else {
			ok = false;
		}
	}
	if (ok)
		memcpy(out, tmp, l + 1);
	return ok;
}

static bool key_is(const char *p, const char *eq, const char *k)
{
	size_t l = strlen(k);

	return (size_t)(eq - p) == l && memcmp(p, k, l) == 0;
}

/* The fields after the prefix: text [p, e). */
static int fields(const char *p, const char *e, struct net_kmsg_rec *r)
{
	bool have_src = false, have_dst = false, have_proto = false, src6 = false, dst6 = false;
	int rc = 0;

	while (p < e && rc == 0) {
		const char *t = p, *eq, *te;
		uint64_t v;

		while (t < e && *t == ' ')
			t++;
		te = t;
		while (te < e && *te != ' ')
			te++;
		p = te;
		if (t == te)
			continue;
		eq = memchr(t, '=', (size_t)(te - t));
		if (!eq) {
			if (te - t == 3 && memcmp(t, "SYN", 3) == 0)
				r->syn = true;
			continue;
		}
		if (key_is(t, eq, "SRC")) {
			have_src = addr(eq + 1, te, r->src, sizeof(r->src), &src6);
			rc = have_src ? 0 : OSH_EPARSE;
		} else if (key_is(t, eq, "DST")) {
			have_dst = addr(eq + 1, te, r->dst, sizeof(r->dst), &dst6);
			rc = have_dst ? 0 : OSH_EPARSE;
		} else if (key_is(t, eq, "PROTO")) {
			size_t l = (size_t)(te - eq - 1);

			if (l == 0 || l >= sizeof(r->proto)) {
				rc = OSH_EPARSE;
			} else {
				for (size_t i = 0; i < l; i++)
					r->proto[i] = (char)tolower((unsigned char)eq[1 + i]);
				r->proto[l] = '\0';
				have_proto = true;
			}
		} else if (key_is(t, eq, "SPT")) {
			rc = num(eq + 1, te, 65535, &v) ? 0 : OSH_EPARSE;
			r->sport = (uint16_t)(rc ? 0 : v);
		} else if (key_is(t, eq, "DPT")) {
			rc = num(eq + 1, te, 65535, &v) ? 0 : OSH_EPARSE;
			r->dport = (uint16_t)(rc ? 0 : v);
			r->has_dport = rc == 0;
		} else if (key_is(t, eq, "UID")) {
			rc = num(eq + 1, te, 0xffffffffu, &v) ? 0 : OSH_EPARSE;
			r->uid = rc ? -1 : (long)v;
		} else if (key_is(t, eq, "OUT")) {
			size_t l = (size_t)(te - eq - 1);

			if (l >= sizeof(r->out_if)) {
				rc = OSH_EPARSE;
			} else {
				memcpy(r->out_if, eq + 1, l);
				r->out_if[l] = '\0';
			}
		}
	}
	if (rc == 0 && (!have_src || !have_dst || src6 != dst6))
		rc = OSH_EPARSE;
	if (rc == 0) {
		r->v6 = src6;
		if (!have_proto)
			snprintf(r->proto, sizeof(r->proto), "unknown");
		if (strcmp(r->proto, "tcp") == 0)
			r->proto_num = 6;
		else if (strcmp(r->proto, "udp") == 0)
			r->proto_num = 17;
		else if (strcmp(r->proto, "icmp") == 0)
			r->proto_num = 1;
		else if (strcmp(r->proto, "icmpv6") == 0)
			r->proto_num = 58;
		else
			r->proto_num = -1;
	}
	return rc;
}

int net_kmsg_parse(const char *buf, size_t len, const char *prefix, struct net_kmsg_rec *r)
{
	const char *end = buf + len;
	const char *semi = memchr(buf, ';', len);
	const char *text, *text_end, *c1, *c2;
	size_t plen = strlen(prefix);
	uint64_t v;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->uid = -1;
	r->proto_num = -1;
	if (!semi)
		semi = end; /* no header/text separator: refused below */
	/* header: prio,seq,usec,flags */
	c1 = memchr(buf, ',', (size_t)(semi - buf));
	c2 = c1 ? memchr(c1 + 1, ',', (size_t)(semi - c1 - 1)) : NULL;
	if (!c1 || !c2 || !num(buf, c1, 0xffffffffu, &v) || !num(c1 + 1, c2, UINT64_MAX, &r->seq)) {
		rc = OSH_EPARSE;
	} else {
		const char *c3 = memchr(c2 + 1, ',', (size_t)(semi - c2 - 1));

		if (!num(c2 + 1, c3 ? c3 : semi, UINT64_MAX, &r->usec))
			rc = OSH_EPARSE;
	}
	if (semi == end)
		rc = OSH_EPARSE;
	text = semi < end ? semi + 1 : end;
	text_end = memchr(text, '\n', (size_t)(end - text));
	if (!text_end)
		text_end = end;
	if (rc == 0 &&
	    (plen == 0 || (size_t)(text_end - text) < plen || memcmp(text, prefix, plen) != 0))
		rc = 1; /* not ours */
	if (rc == 0)
		rc = fields(text + plen, text_end, r);
	if (rc == 1)
		rc = 0;
	else if (rc == 0)
		rc = 1;
	return rc;
}
