/* proxy_ssrf.h - address classes, allowed_ips CIDRs and the SSRF decision.
 *
 * DESIGN
 * The proxy resolves a host once, hands every resolved address to
 * osh_proxy_ssrf_check() and then connects only to addresses that passed,
 * so what was checked is what is connected to (no second lookup a DNS
 * rebinding could change). The decision is a pure function of the addresses,
 * the port and the matched endpoint's allowed_ips, so every address class is
 * unit-tested without a packet leaving the process.
 *
 * Rule:
 *   - unspecified addresses (0.0.0.0/8, ::) are always refused;
 *   - without allowed_ips: refused if ANY address is internal: loopback,
 *     link-local (169.254.0.0/16 incl. the 169.254.169.254 metadata service,
 *     fe80::/10), private (10/8, 172.16/12, 192.168/16, 100.64/10 shared,
 *     fc00::/7, fec0::/10), multicast (224/4, ff00::/8), reserved (240/4,
 *     broadcast, ::/96), IPv4-mapped IPv6 (::ffff:0:0/96) whatever it maps
 *     to, and NAT64 (64:ff9b::/96) / 6to4 (2002::/16) addresses embedding
 *     an internal IPv4 address;
 *   - with allowed_ips: the port must not be a cluster control-plane port
 *     (2379, 2380, 6443, 10250, 10255) and EVERY address must lie inside
 *     some entry (any class: this is how an operator admits a loopback or
 *     private origin on purpose).
 * Unlike the Rust supervisor, an IP-literal endpoint host does not grant
 * itself an implicit allowed_ips entry: only an explicit allowed_ips admits
 * an internal address.
 *
 * All functions are pure and thread-safe.
 */
#ifndef OSH_PROXY_SSRF_H
#define OSH_PROXY_SSRF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "osh_err.h"

/* One allowed_ips entry: an address with a prefix length (a bare address
 * is /32 or /128). */
struct osh_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

enum osh_addr_class {
	OSH_ADDR_PUBLIC = 0,
	OSH_ADDR_UNSPECIFIED,
	OSH_ADDR_LOOPBACK,
	OSH_ADDR_LINK_LOCAL,
	OSH_ADDR_METADATA, /* 169.254.169.254 (cloud instance metadata) */
	OSH_ADDR_PRIVATE,
	OSH_ADDR_MULTICAST,
	OSH_ADDR_RESERVED,
	OSH_ADDR_MAPPED, /* IPv4-mapped IPv6 */
};

/* Parses "10.0.5.0/24", "10.0.5.20", "fd00::/8", "::1". Host bits beyond
 * the prefix must be zero. Returns 0 or OSH_EPARSE. */
OSH_MUST_CHECK int osh_proxy_cidr_parse(const char *s, struct osh_cidr *out);

/* True when the address (AF_INET or AF_INET6 sockaddr) lies in c. An
 * IPv4-mapped IPv6 address also matches the IPv4 entry it maps. */
bool osh_proxy_cidr_contains(const struct osh_cidr *c, const struct sockaddr *sa);

/* Class of an AF_INET / AF_INET6 address (anything else: RESERVED). */
enum osh_addr_class osh_proxy_addr_class(const struct sockaddr *sa);

/* Static lower-case name: "public", "loopback", "link-local", ... */
const char *osh_proxy_addr_class_name(enum osh_addr_class c);

/* The SSRF decision for `host`:`port` resolved to addrs[0..n). allowed may
 * be NULL when n_allowed is 0. Returns 0 when every address may be
 * connected to; else OSH_EPERM with reason (e.g. "localhost resolves to
 * internal address 127.0.0.1 (loopback), connection refused; admit it with
 * allowed_ips") and *cls the class of the first refused address
 * (OSH_ADDR_PUBLIC for a port or allowed_ips refusal), or OSH_ENOTFOUND
 * when n is 0. */
OSH_MUST_CHECK int osh_proxy_ssrf_check(const char *host, uint16_t port,
					const struct sockaddr_storage *addrs, size_t n,
					const struct osh_cidr *allowed, size_t n_allowed,
					char *reason, size_t rlen, enum osh_addr_class *cls);

/* Numeric text of an address ("127.0.0.1", "::1") into buf. */
void osh_proxy_addr_text(const struct sockaddr *sa, char *buf, size_t len);

#endif
