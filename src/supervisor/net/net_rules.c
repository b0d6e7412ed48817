/* net_rules.c - the namespace's nftables ruleset.
 *
 * DESIGN
 * One table (inet openshell) with one output chain, applied atomically by
 * libnftables from the namespace's helper thread (net_ns.c): either the
 * whole ruleset is in place or none of it. The chain, in order:
 *   1. loopback and established/related traffic: accept;
 *   2. the proxy (host end, proxy port, TCP): accept;
 *   3. a TCP SYN whose 4-tuple is in the `pending` set is the retransmit of
 *      an attempt already reported: reject with a reset, no log;
 *   4. any other TCP SYN: LOG, remember its 4-tuple in `pending` (30 s) and
 *      DROP - the connecting socket stays in SYN-SENT for the kernel's first
 *      retransmit timeout (1 s), long enough for the monitor to find it in
 *      /proc/net/tcp and name the process; the retransmit then gets rule 3
 *      (ECONNREFUSED). Exactly one LOG line per attempt;
 *   5. everything else (UDP, ICMP, IPv6, stray TCP): LOG and reject.
 * LOG lines carry the sandbox's prefix and the socket's uid (flags skuid).
 * Both LOG rules are rate-limited (20/s, burst 50): an agent looping on
 * connect() cannot flood the host's kernel log; attempts beyond the limit
 * are still refused, only not reported.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

#define LOG_LIMIT "limit rate 20/second burst 50 packets"

int net_rules_text(char *buf, size_t cap, uint32_t host_ip, uint16_t proxy_port, const char *prefix)
{
	char host[INET_ADDRSTRLEN];
	char proxy[128] = "";
	struct in_addr a = {.s_addr = htonl(host_ip)};
	int n;

	inet_ntop(AF_INET, &a, host, sizeof(host));
	if (proxy_port)
		snprintf(proxy, sizeof(proxy), "\t\tip daddr %s tcp dport %u accept\n", host,
			 (unsigned)proxy_port);
	n = snprintf(buf, cap,
		     "add table inet " NET_TABLE "\n"
		     "delete table inet " NET_TABLE "\n"
		     "table inet " NET_TABLE " {\n"
		     "\tset pending {\n"
		     "\t\ttype ipv4_addr . inet_service . ipv4_addr . inet_service\n"
		     "\t\tflags dynamic,timeout\n"
		     "\t\ttimeout 30s\n"
		     "\t\tsize 4096\n"
		     "\t}\n"
		     "\tchain output {\n"
		     "\t\ttype filter hook output priority filter; policy accept;\n"
		     "\t\toifname \"lo\" accept\n"
		     "\t\tct state established,related accept\n"
		     "%s"
		     "\t\ttcp flags & (syn | ack) == syn ip saddr . tcp sport . ip daddr . tcp "
		     "dport @pending reject with tcp reset\n"
		     "\t\ttcp flags & (syn | ack) == syn meta nfproto ipv4 " LOG_LIMIT
		     " log prefix \"%s\" level info flags skuid"
		     " add @pending { ip saddr . tcp sport . ip daddr . tcp dport } drop\n"
		     "\t\t" LOG_LIMIT " log prefix \"%s\" level info flags skuid\n"
		     "\t\tmeta l4proto tcp reject with tcp reset\n"
		     "\t\treject with icmpx type port-unreachable\n"
		     "\t}\n"
		     "}\n",
		     proxy, prefix, prefix);
	return (n < 0 || (size_t)n >= cap) ? OSH_ETOOBIG : n;
}

int net_rules_apply(const char *text, char *msg, size_t mlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc = 0;

	if (!ctx) {
		snprintf(msg, mlen, "libnftables: cannot create a context");
		rc = OSH_ESYS;
	} else {
		nft_ctx_buffer_output(ctx);
		nft_ctx_buffer_error(ctx);
		if (nft_run_cmd_from_buffer(ctx, text) != 0) {
			const char *e = nft_ctx_get_error_buffer(ctx);
			size_t l;

			snprintf(msg, mlen, "nftables: %s", e && *e ? e : "ruleset refused");
			l = strlen(msg);
			while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
				msg[--l] = '\0';
			rc = OSH_ESYS;
		}
		nft_ctx_free(ctx);
	}
	return rc;
}
