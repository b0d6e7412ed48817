/* test_l7_io.c - the plain-socket osh_l7_io: bytes both ways, EOF, the
 * deadline, a vanished peer.
 *
 * DESIGN
 * A socketpair stands in for the client and upstream sockets; everything is
 * in one thread because a socketpair buffers far more than these messages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "osh_l7_io.h"

static int sp[2];

static void setup(void)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
}

static void teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

TestSuite(l7_io, .init = setup, .fini = teardown);

Test(l7_io, bytes_cross_and_eof_after_shutdown)
{
	struct osh_l7_io a, b;
	struct osh_l7_fdio sa, sb;
	char buf[32] = {0};

	osh_l7_io_from_fd(&a, &sa, sp[0], 1000);
	osh_l7_io_from_fd(&b, &sb, sp[1], 1000);
	cr_assert_eq(a.write_all(a.ctx, "GET / HTTP/1.1\r\n", 16), 0);
	a.shutdown_write(a.ctx);
	cr_assert_eq(b.read(b.ctx, buf, sizeof(buf)), 16);
	cr_assert_str_eq(buf, "GET / HTTP/1.1\r\n");
	cr_assert_eq(b.read(b.ctx, buf, sizeof(buf)), 0, "EOF after the peer's shutdown");
}

Test(l7_io, read_times_out_with_etimedout)
{
	struct osh_l7_io b;
	struct osh_l7_fdio sb;
	char buf[4];

	osh_l7_io_from_fd(&b, &sb, sp[1], 50);
	errno = 0;
	cr_assert_eq(b.read(b.ctx, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, ETIMEDOUT);
}

Test(l7_io, write_to_a_closed_peer_is_epipe_not_a_signal)
{
	struct osh_l7_io a;
	struct osh_l7_fdio sa;

	osh_l7_io_from_fd(&a, &sa, sp[0], 1000);
	close(sp[1]);
	sp[1] = -1;
	errno = 0;
	cr_assert_eq(a.write_all(a.ctx, "x", 1), -1);
	cr_assert_eq(errno, EPIPE);
}
