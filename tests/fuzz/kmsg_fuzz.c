/* kmsg_fuzz.c - libFuzzer target for the bypass monitor's parsers: one
 * /dev/kmsg record (net_kmsg_parse; the text after the LOG prefix is made by
 * the packet a sandboxed process chose to send) and the /proc/net/tcp
 * scanner (net_ident_inode_in).
 *
 * DESIGN: the input is the record as read() returns it (not NUL-terminated:
 * it is copied into an exact-size heap buffer so ASan sees any over-read).
 * Oracles on success (rc 1): the record's text starts with the prefix; src
 * and dst are NUL-terminated and parse back with inet_pton in the family the
 * parser reported; proto is lower case, NUL-terminated, and proto_num agrees
 * with it; out_if is NUL-terminated within IF_NAMESIZE. Any other rc is 0
 * (not ours) or OSH_EPARSE. The scanner must return without reading past the
 * buffer, whatever the port asked. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

#define PFX "osh-bypass:7:0badcafe: "

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct net_kmsg_rec r;
	unsigned char bin[16];
	int rc;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	rc = net_kmsg_parse(buf, size, PFX, &r);
	check(rc == 1 || rc == 0 || rc == OSH_EPARSE);
	if (rc == 1) {
		const char *semi = memchr(buf, ';', size);

		check(semi && (size_t)(buf + size - semi - 1) >= strlen(PFX) &&
		      memcmp(semi + 1, PFX, strlen(PFX)) == 0);
		check(memchr(r.src, '\0', sizeof(r.src)) && memchr(r.dst, '\0', sizeof(r.dst)));
		check(inet_pton(r.v6 ? AF_INET6 : AF_INET, r.src, bin) == 1);
		check(inet_pton(r.v6 ? AF_INET6 : AF_INET, r.dst, bin) == 1);
		check(memchr(r.proto, '\0', sizeof(r.proto)) != NULL);
		for (const char *p = r.proto; *p; p++)
			check(!(*p >= 'A' && *p <= 'Z'));
		check((r.proto_num == 6) == (strcmp(r.proto, "tcp") == 0));
		check((r.proto_num == 17) == (strcmp(r.proto, "udp") == 0));
		check(memchr(r.out_if, '\0', sizeof(r.out_if)) != NULL);
		check(r.uid >= -1);
	}
	(void)net_ident_inode_in(buf, size, size > 1 ? (uint16_t)(data[0] << 8 | data[1]) : 0);
	free(buf);
	return 0;
}
