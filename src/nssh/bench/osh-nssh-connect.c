/* osh-nssh-connect.c - an OpenSSH ProxyCommand that reaches a sandbox's SSH
 * server directly, without the gateway: the baseline of
 * tools/bench/ssh-bench.sh.
 *
 * DESIGN
 * Usage: osh-nssh-connect SOCKET SECRET_FILE (with ProxyUseFdpass yes).
 * Connects to the supervisor's Unix socket, sends an NSSH1 preface signed
 * with the sandbox's preface secret (root reads it from the gateway's data
 * dir), checks the OK, then hands the connected socket to ssh over stdout
 * (SCM_RIGHTS) and exits: after the handshake ssh talks straight to the
 * server. Written in C so the baseline does not pay an interpreter's
 * start-up. Exit 0, or 1 with one line on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "osh_ssh_preface.h"

static int fail(const char *what)
{
	fprintf(stderr, "osh-nssh-connect: %s\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	char secret[OSH_SSH_SECRET_HEX + 1] = "", line[OSH_SSH_PREFACE_MAX + 1], ans[8] = "";
	char nonce[33];
	unsigned char raw[16];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t got = 0;
	int fd, s, n;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return fail("usage: osh-nssh-connect SOCKET SECRET_FILE");
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, secret, OSH_SSH_SECRET_HEX) != OSH_SSH_SECRET_HEX)
		return fail("cannot read the secret file");
	close(fd);
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return fail("getrandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
	n = osh_ssh_preface_build("bench", (int64_t)time(NULL), nonce, secret, OSH_SSH_SECRET_HEX,
				  line, sizeof(line));
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n < 0 || s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(s, line, (size_t)n) != n)
		return fail("cannot connect or send the preface");
	while (got < sizeof(ans) - 1 && read(s, ans + got, 1) == 1)
		if (ans[got++] == '\n')
			break;
	if (strcmp(ans, "OK\n") != 0)
		return fail("preface refused");
	{
		char byte = 0;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} u;
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = u.buf,
				   .msg_controllen = sizeof(u.buf)};
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);

		memset(u.buf, 0, sizeof(u.buf));
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &s, sizeof(int));
		if (sendmsg(1, &m, 0) != 1)
			return fail("cannot pass the socket to ssh (ProxyUseFdpass yes?)");
	}
	return 0;
}
