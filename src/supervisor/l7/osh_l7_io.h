/* osh_l7_io.h - one byte-stream interface for everything L7 reads and writes.
 *
 * DESIGN
 * L7 inspection (REST rules, chunked relay, inference routing) works on a
 * request/response stream that may be a plain socket (forward proxy, CONNECT
 * to an endpoint without TLS) or a TLS session the supervisor terminated.
 * The parsers and relays therefore never touch a file descriptor or an SSL
 * object: they read and write through this small vtable, with blocking
 * semantics and a per-call deadline owned by the implementation. A relay
 * runs on its own thread per connection (bounded by the proxy), so blocking
 * calls are the simple and correct model here.
 *
 * Ownership: an osh_l7_io is a borrowed view; whoever made it (the proxy or
 * the TLS layer) owns the fd / session behind `ctx` and closes it.
 */
#ifndef OSH_L7_IO_H
#define OSH_L7_IO_H

#include <stddef.h>
#include <sys/types.h>

struct osh_l7_io {
	void *ctx;
	/* Reads up to n bytes: > 0 bytes read, 0 on orderly EOF, -1 on error
	 * with errno set (ETIMEDOUT when the deadline passed). */
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	/* Writes all n bytes: 0, or -1 with errno set (ETIMEDOUT, EPIPE...). */
	int (*write_all)(void *ctx, const void *buf, size_t n);
	/* Ends the writing direction (TLS close_notify / shutdown(SHUT_WR)).
	 * May be NULL. */
	void (*shutdown_write)(void *ctx);
};

/* A plain socket as an osh_l7_io. The caller owns `st` (it must outlive
 * `io`) and the fd. Every read/write waits at most timeout_ms for the fd to
 * become ready (0 = wait forever). */
struct osh_l7_fdio {
	int fd;
	unsigned timeout_ms;
};

void osh_l7_io_from_fd(struct osh_l7_io *io, struct osh_l7_fdio *st, int fd, unsigned timeout_ms);

#endif
