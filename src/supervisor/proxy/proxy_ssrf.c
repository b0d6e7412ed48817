/* proxy_ssrf.c - address classification and the SSRF decision (see
 * proxy_ssrf.h for the rule and why it is a pure function).
 */
#include "proxy_ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static bool in4(uint32_t a, uint32_t net, unsigned bits)
{
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);

	return (a & mask) == (net & mask);
}

static enum osh_addr_class class4(uint32_t a)
{
	enum osh_addr_class c = OSH_ADDR_PUBLIC;

	if (in4(a, 0x00000000u, 8))
		c = OSH_ADDR_UNSPECIFIED;
	else if (in4(a, 0x7f000000u, 8))
		c = OSH_ADDR_LOOPBACK;
	else if (a == 0xa9fea9feu)
		c = OSH_ADDR_METADATA;
	else if (in4(a, 0xa9fe0000u, 16))
		c = OSH_ADDR_LINK_LOCAL;
	else if (in4(a, 0x0a000000u, 8) || in4(a, 0xac100000u, 12) || in4(a, 0xc0a80000u, 16) ||
		 in4(a, 0x64400000u, 10))
		c = OSH_ADDR_PRIVATE;
	else if (in4(a, 0xe0000000u, 4))
		c = OSH_ADDR_MULTICAST;
	else if (in4(a, 0xf0000000u, 4) || in4(a, 0xc0000000u, 24) || in4(a, 0xc6120000u, 15))
		c = OSH_ADDR_RESERVED;
	return c;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool is_mapped(const uint8_t *b)
{
	static const uint8_t pfx[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(b, pfx, 12) == 0;
}

static enum osh_addr_class class6(const uint8_t *b)
{
	static const uint8_t zero[16];
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	enum osh_addr_class c = OSH_ADDR_PUBLIC;

	if (memcmp(b, zero, 16) == 0) {
		c = OSH_ADDR_UNSPECIFIED;
	} else if (memcmp(b, zero, 15) == 0 && b[15] == 1) {
		c = OSH_ADDR_LOOPBACK;
	} else if (is_mapped(b)) {
		c = OSH_ADDR_MAPPED;
	} else if (memcmp(b, zero, 12) == 0) {
		c = OSH_ADDR_RESERVED; /* deprecated IPv4-compatible ::a.b.c.d */
	} else if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
		c = OSH_ADDR_LINK_LOCAL;
	} else if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)) {
		c = OSH_ADDR_PRIVATE;
	} else if (b[0] == 0xff) {
		c = OSH_ADDR_MULTICAST;
	} else if (memcmp(b, nat64, 12) == 0) {
		c = class4(be32(b + 12));
	} else if (b[0] == 0x20 && b[1] == 0x02) {
		c = class4(be32(b + 2));
	}
	return c;
}

enum osh_addr_class osh_proxy_addr_class(const struct sockaddr *sa)
{
	enum osh_addr_class c = OSH_ADDR_RESERVED;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		c = class4(ntohl(s4->sin_addr.s_addr));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		c = class6(s6->sin6_addr.s6_addr);
	}
	return c;
}

const char *osh_proxy_addr_class_name(enum osh_addr_class c)
{
	static const char *const names[] = {
	    [OSH_ADDR_PUBLIC] = "public",	    [OSH_ADDR_UNSPECIFIED] = "unspecified",
	    [OSH_ADDR_LOOPBACK] = "loopback",	    [OSH_ADDR_LINK_LOCAL] = "link-local",
	    [OSH_ADDR_METADATA] = "cloud metadata", [OSH_ADDR_PRIVATE] = "private",
	    [OSH_ADDR_MULTICAST] = "multicast",	    [OSH_ADDR_RESERVED] = "reserved",
	    [OSH_ADDR_MAPPED] = "IPv4-mapped IPv6",
	};

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

int osh_proxy_cidr_parse(const char *s, struct osh_cidr *out)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned prefix = 0, max = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= INET6_ADDRSTRLEN) {
		rc = OSH_EPARSE;
	} else {
		memcpy(tmp, s, alen);
		tmp[alen] = '\0';
		if (inet_pton(AF_INET, tmp, out->addr) == 1)
			out->family = AF_INET;
		else if (inet_pton(AF_INET6, tmp, out->addr) == 1)
			out->family = AF_INET6;
		else
			rc = OSH_EPARSE;
		max = out->family == AF_INET ? 32 : 128;
		prefix = max;
	}
	if (rc == 0 && slash) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3)
			rc = OSH_EPARSE;
		for (prefix = 0; *p && rc == 0; p++) {
			if (*p < '0' || *p > '9')
				rc = OSH_EPARSE;
			else
				prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			rc = OSH_EPARSE;
	}
	/* host bits must be zero: "10.0.5.1/24" is a typo, not a network */
	for (unsigned bit = prefix; rc == 0 && bit < max; bit++)
		if (out->addr[bit / 8] & (0x80u >> (bit % 8)))
			rc = OSH_EPARSE;
	out->prefix = prefix;
	return rc;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

bool osh_proxy_cidr_contains(const struct osh_cidr *c, const struct sockaddr *sa)
{
	bool in = false;

	if (sa->sa_family == AF_INET && c->family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		in = prefix_eq((const uint8_t *)&s4->sin_addr, c->addr, c->prefix);
	} else if (sa->sa_family == AF_INET6) {
		const uint8_t *b =
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;

		if (c->family == AF_INET6)
			in = prefix_eq(b, c->addr, c->prefix);
		else if (is_mapped(b))
			in = prefix_eq(b + 12, c->addr, c->prefix);
	}
	return in;
}

void osh_proxy_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (!a || !inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static bool control_plane_port(uint16_t port)
{
	return port == 2379 || port == 2380 || port == 6443 || port == 10250 || port == 10255;
}

int osh_proxy_ssrf_check(const char *host, uint16_t port, const struct sockaddr_storage *addrs,
			 size_t n, const struct osh_cidr *allowed, size_t n_allowed, char *reason,
			 size_t rlen, enum osh_addr_class *cls)
{
	char ip[INET6_ADDRSTRLEN];
	int rc = 0;

	*cls = OSH_ADDR_PUBLIC;
	if (n == 0) {
		snprintf(reason, rlen, "%s resolves to no address, connection refused", host);
		rc = OSH_ENOTFOUND;
	} else if (n_allowed > 0 && control_plane_port(port)) {
		snprintf(reason, rlen,
			 "port %u is a cluster control-plane port, refused even with allowed_ips",
			 port);
		rc = OSH_EPERM;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i];
		enum osh_addr_class c = osh_proxy_addr_class(sa);
		bool admitted = false;

		for (size_t k = 0; k < n_allowed && !admitted; k++)
			admitted = osh_proxy_cidr_contains(&allowed[k], sa);
		osh_proxy_addr_text(sa, ip, sizeof(ip));
		if (c == OSH_ADDR_UNSPECIFIED) {
			snprintf(reason, rlen,
				 "%s resolves to unspecified address %s, connection refused", host,
				 ip);
			*cls = c;
			rc = OSH_EPERM;
		} else if (n_allowed > 0 && !admitted) {
			snprintf(reason, rlen,
				 "%s resolves to %s (%s) which is not in allowed_ips, connection "
				 "refused",
				 host, ip, osh_proxy_addr_class_name(c));
			*cls = c;
			rc = OSH_EPERM;
		} else if (n_allowed == 0 && c != OSH_ADDR_PUBLIC) {
			snprintf(reason, rlen,
				 "%s resolves to internal address %s (%s), connection refused; "
				 "admit it with allowed_ips",
				 host, ip, osh_proxy_addr_class_name(c));
			*cls = c;
			rc = OSH_EPERM;
		}
	}
	return rc;
}
