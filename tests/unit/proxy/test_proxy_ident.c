/* test_proxy_ident.c - the peer identity resolver (src/supervisor/proxy/
 * proxy_ident.c) on real loopback sockets: the owner cache answers repeat
 * clients, follows a socket to another process and never names an owner
 * that has exited. This process (and its forked children) are the clients;
 * only 127.0.0.1 is used. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proxy_ident.h"

static struct osh_proxy_ident *id;
static int lfd = -1;
static struct sockaddr_in laddr;

static void setup(void)
{
	char err[256];
	socklen_t sl = sizeof(laddr);

	cr_assert_eq(osh_proxy_ident_create(-1, &id, err, sizeof(err)), 0, "%s", err);
	osh_proxy_ident_set_root(id, getpid());
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&laddr, 0, sizeof(laddr));
	laddr.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &laddr.sin_addr);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&laddr, sizeof(laddr)), 0);
	cr_assert_eq(listen(lfd, 16), 0);
	getsockname(lfd, (struct sockaddr *)&laddr, &sl);
}

static void teardown(void)
{
	osh_proxy_ident_destroy(id);
	if (lfd >= 0)
		close(lfd);
}

TestSuite(proxy_ident, .init = setup, .fini = teardown, .timeout = 30);

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_eq(connect(fd, (struct sockaddr *)&laddr, sizeof(laddr)), 0);
	return fd;
}

/* Accepts one connection and resolves its client's owner; returns its pid
 * (0 when not found). */
static pid_t owner_of_next(void)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	static struct osh_proxy_peer pe;
	char reason[512];
	int a = accept(lfd, (struct sockaddr *)&peer, &pl);
	int rc;

	cr_assert_geq(a, 0);
	getsockname(a, (struct sockaddr *)&local, &ll);
	rc = osh_proxy_ident_lookup(id, &peer, &local, &pe, reason, sizeof(reason));
	close(a);
	return rc == 0 ? pe.pid : 0;
}

/* Bounded: 60 connections, one after the other, as a client that opens a
 * connection per request does. */
Test(proxy_ident, owner_cache_answers_repeat_clients)
{
	unsigned long hits = 0, misses = 0;

	for (int i = 0; i < 60; i++) {
		int c = dial();

		cr_assert_eq(owner_of_next(), getpid(), "connection %d", i);
		close(c);
	}
	osh_proxy_ident_stats(id, &hits, &misses);
	cr_assert_geq(misses, 1, "the first owner comes from the /proc search");
	cr_assert_geq(hits, 55, "repeat clients are found by the cache (hits %lu)", hits);
	cr_assert_eq(hits + misses, 60);
}

/* A child owns the next client socket while the parent's cached
 * descriptors hold other sockets: the child is named; once the child has
 * exited, its cached /proc entry never matches again. */
Test(proxy_ident, owner_cache_follows_and_forgets_other_processes)
{
	int keep = dial(), go[2], done[2];
	pid_t child;
	char b = 0;

	cr_assert_eq(owner_of_next(), getpid());
	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(done), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		int c;

		close(keep); /* the parent's socket stays the parent's only */
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&laddr, sizeof(laddr)) != 0)
			_exit(1);
		if (write(go[1], "x", 1) != 1 || read(done[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	cr_assert_eq(read(go[0], &b, 1), 1);
	cr_assert_eq(owner_of_next(), child, "the child holds the client socket");
	cr_assert_eq(write(done[1], "x", 1), 1);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	/* the child is gone: the parent's next socket is the parent's */
	for (int i = 0; i < 5; i++) {
		int c = dial();

		cr_assert_eq(owner_of_next(), getpid(), "connection %d after the child exited", i);
		close(c);
	}
	close(keep);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}
