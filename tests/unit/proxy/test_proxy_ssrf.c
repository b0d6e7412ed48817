/* test_proxy_ssrf.c - address classes and the SSRF decision
 * (src/supervisor/proxy/proxy_ssrf.c). Pure functions over sockaddrs:
 * nothing here opens a socket, so every address class is covered without
 * sending a packet anywhere. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy_ssrf.h"

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		cr_assert_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1, "%s", ip);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		cr_assert_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1, "%s", ip);
	}
	return ss;
}

static enum osh_addr_class cls(const char *ip)
{
	struct sockaddr_storage ss = addr(ip);

	return osh_proxy_addr_class((struct sockaddr *)&ss);
}

Test(ssrf, ipv4_classes)
{
	static const struct {
		const char *ip;
		enum osh_addr_class c;
	} t[] = {
	    {"127.0.0.1", OSH_ADDR_LOOPBACK},
	    {"127.255.0.9", OSH_ADDR_LOOPBACK},
	    {"10.1.2.3", OSH_ADDR_PRIVATE},
	    {"172.16.0.1", OSH_ADDR_PRIVATE},
	    {"172.31.255.255", OSH_ADDR_PRIVATE},
	    {"172.32.0.1", OSH_ADDR_PUBLIC},
	    {"192.168.1.1", OSH_ADDR_PRIVATE},
	    {"100.64.0.1", OSH_ADDR_PRIVATE},
	    {"100.128.0.1", OSH_ADDR_PUBLIC},
	    {"169.254.169.254", OSH_ADDR_METADATA},
	    {"169.254.1.1", OSH_ADDR_LINK_LOCAL},
	    {"224.0.0.1", OSH_ADDR_MULTICAST},
	    {"239.255.255.250", OSH_ADDR_MULTICAST},
	    {"0.0.0.0", OSH_ADDR_UNSPECIFIED},
	    {"0.1.2.3", OSH_ADDR_UNSPECIFIED},
	    {"240.0.0.1", OSH_ADDR_RESERVED},
	    {"255.255.255.255", OSH_ADDR_RESERVED},
	    {"198.18.0.1", OSH_ADDR_RESERVED},
	    {"8.8.8.8", OSH_ADDR_PUBLIC},
	    {"93.184.216.34", OSH_ADDR_PUBLIC},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(cls(t[i].ip), t[i].c, "%s: %s", t[i].ip,
			     osh_proxy_addr_class_name(cls(t[i].ip)));
}

Test(ssrf, ipv6_classes)
{
	static const struct {
		const char *ip;
		enum osh_addr_class c;
	} t[] = {
	    {"::1", OSH_ADDR_LOOPBACK},
	    {"::", OSH_ADDR_UNSPECIFIED},
	    {"fe80::1", OSH_ADDR_LINK_LOCAL},
	    {"febf::1", OSH_ADDR_LINK_LOCAL},
	    {"fc00::1", OSH_ADDR_PRIVATE},
	    {"fd12:3456::1", OSH_ADDR_PRIVATE},
	    {"fec0::1", OSH_ADDR_PRIVATE},
	    {"ff02::1", OSH_ADDR_MULTICAST},
	    {"::ffff:127.0.0.1", OSH_ADDR_MAPPED},
	    {"::ffff:8.8.8.8", OSH_ADDR_MAPPED},
	    {"::127.0.0.1", OSH_ADDR_RESERVED},
	    {"64:ff9b::7f00:1", OSH_ADDR_LOOPBACK},
	    {"64:ff9b::a9fe:a9fe", OSH_ADDR_METADATA},
	    {"64:ff9b::808:808", OSH_ADDR_PUBLIC},
	    {"2002:7f00:1::1", OSH_ADDR_LOOPBACK},
	    {"2002:0a00:1::1", OSH_ADDR_PRIVATE},
	    {"2606:4700::1111", OSH_ADDR_PUBLIC},
	    {"2001:db8::1", OSH_ADDR_PUBLIC},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(cls(t[i].ip), t[i].c, "%s: %s", t[i].ip,
			     osh_proxy_addr_class_name(cls(t[i].ip)));
}

/* Runs the decision for one address; returns rc, reason in why. */
static int check(const char *ip, uint16_t port, const char *const *allowed, size_t na, char *why,
		 size_t wl, enum osh_addr_class *c)
{
	struct sockaddr_storage ss = addr(ip);
	struct osh_cidr cidrs[8];

	for (size_t i = 0; i < na; i++)
		cr_assert_eq(osh_proxy_cidr_parse(allowed[i], &cidrs[i]), 0, "%s", allowed[i]);
	return osh_proxy_ssrf_check("h.test", port, &ss, 1, cidrs, na, why, wl, c);
}

Test(ssrf, internal_refused_without_allowed_ips)
{
	static const char *const internal[] = {"127.0.0.1",
					       "10.0.0.5",
					       "172.20.1.1",
					       "192.168.0.1",
					       "169.254.169.254",
					       "169.254.3.3",
					       "224.0.0.251",
					       "::1",
					       "fe80::1",
					       "fd00::1",
					       "ff02::1",
					       "::ffff:10.0.0.1",
					       "::ffff:93.184.216.34",
					       "0.0.0.0",
					       "::"};
	char why[512];
	enum osh_addr_class c;

	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++) {
		cr_assert_eq(check(internal[i], 80, NULL, 0, why, sizeof(why), &c), OSH_EPERM,
			     "%s passed", internal[i]);
		cr_assert(strstr(why, internal[i]), "%s: %s", internal[i], why);
		cr_assert_neq(c, OSH_ADDR_PUBLIC);
	}
	cr_assert_eq(check("169.254.169.254", 80, NULL, 0, why, sizeof(why), &c), OSH_EPERM);
	cr_assert(strstr(why, "cloud metadata"), "%s", why);
	cr_assert_eq(check("127.0.0.1", 80, NULL, 0, why, sizeof(why), &c), OSH_EPERM);
	cr_assert_str_eq(why, "h.test resolves to internal address 127.0.0.1 (loopback), "
			      "connection refused; admit it with allowed_ips");
	cr_assert_eq(check("93.184.216.34", 443, NULL, 0, why, sizeof(why), &c), 0);
	cr_assert_eq(check("2606:4700::1111", 443, NULL, 0, why, sizeof(why), &c), 0);
}

Test(ssrf, allowed_ips_admit_and_pin)
{
	static const char *const lo[] = {"127.0.0.1"};
	static const char *const net[] = {"10.0.5.0/24", "fd00::/8"};
	static const char *const any[] = {"0.0.0.0/0"};
	char why[512];
	enum osh_addr_class c;

	cr_assert_eq(check("127.0.0.1", 8080, lo, 1, why, sizeof(why), &c), 0);
	cr_assert_eq(check("::ffff:127.0.0.1", 8080, lo, 1, why, sizeof(why), &c), 0,
		     "a mapped address matches its IPv4 entry");
	cr_assert_eq(check("127.0.0.2", 8080, lo, 1, why, sizeof(why), &c), OSH_EPERM);
	cr_assert(strstr(why, "not in allowed_ips"), "%s", why);
	cr_assert_eq(check("10.0.5.20", 80, net, 2, why, sizeof(why), &c), 0);
	cr_assert_eq(check("fd12::1", 80, net, 2, why, sizeof(why), &c), 0);
	cr_assert_eq(check("10.0.6.1", 80, net, 2, why, sizeof(why), &c), OSH_EPERM);
	/* allowed_ips pins public addresses too */
	cr_assert_eq(check("93.184.216.34", 80, net, 2, why, sizeof(why), &c), OSH_EPERM);
	/* control-plane ports refused even when admitted */
	cr_assert_eq(check("10.0.5.20", 6443, net, 2, why, sizeof(why), &c), OSH_EPERM);
	cr_assert(strstr(why, "control-plane"), "%s", why);
	cr_assert_eq(check("10.0.5.20", 10250, net, 2, why, sizeof(why), &c), OSH_EPERM);
	/* unspecified never */
	cr_assert_eq(check("0.0.0.0", 80, any, 1, why, sizeof(why), &c), OSH_EPERM);
	cr_assert_eq(c, OSH_ADDR_UNSPECIFIED);
}

Test(ssrf, every_address_checked)
{
	struct sockaddr_storage ss[3] = {addr("93.184.216.34"), addr("2606:4700::1"),
					 addr("10.0.0.1")};
	char why[512];
	enum osh_addr_class c;

	cr_assert_eq(osh_proxy_ssrf_check("mixed.test", 443, ss, 3, NULL, 0, why, sizeof(why), &c),
		     OSH_EPERM, "one internal address among public ones refuses all");
	cr_assert(strstr(why, "10.0.0.1"));
	cr_assert_eq(c, OSH_ADDR_PRIVATE);
	cr_assert_eq(osh_proxy_ssrf_check("mixed.test", 443, ss, 2, NULL, 0, why, sizeof(why), &c),
		     0);
	cr_assert_eq(osh_proxy_ssrf_check("none.test", 443, ss, 0, NULL, 0, why, sizeof(why), &c),
		     OSH_ENOTFOUND);
}

Test(ssrf, cidr_parse)
{
	struct osh_cidr c;
	static const char *const bad[] = {
	    "10.0.0.1/24",  "10.0.0.0/33", "x",		"/8",		"10.0.0.0/",
	    "10.0.0.0/-1",  "::1/129",	   "fd00::1/8", "10.0.0.0/8/8", "",
	    "10.0.0.0/1234"};

	cr_assert_eq(osh_proxy_cidr_parse("10.0.5.0/24", &c), 0);
	cr_assert_eq(c.family, AF_INET);
	cr_assert_eq(c.prefix, 24);
	cr_assert_eq(osh_proxy_cidr_parse("10.0.5.20", &c), 0);
	cr_assert_eq(c.prefix, 32);
	cr_assert_eq(osh_proxy_cidr_parse("fd00::/8", &c), 0);
	cr_assert_eq(c.family, AF_INET6);
	cr_assert_eq(osh_proxy_cidr_parse("0.0.0.0/0", &c), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(osh_proxy_cidr_parse(bad[i], &c), OSH_EPARSE, "accepted '%s'", bad[i]);
}
