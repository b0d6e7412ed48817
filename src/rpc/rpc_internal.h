/* rpc_internal.h - helpers shared by rpc_server.c and rpc_client.c only.
 *
 * DESIGN: protobuf <-> byte buffer conversion and method path building exist
 * once, so both sides encode and name methods the same way. */
#ifndef OSH_RPC_INTERNAL_H
#define OSH_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "osh_rpc.h"

/* Pack m into a new byte buffer (caller destroys). NULL with *rc OSH_ETOOBIG
 * when the packed size exceeds max (0 = no limit). */
grpc_byte_buffer *osh_rpc_pack(const ProtobufCMessage *m, size_t max, int *rc);

/* Unpack bb as d; NULL when the bytes do not parse. bb is not consumed.
 * With err (server side: every request), a message that parses is also put
 * through osh_rpc_check_strings: NULL when a string field is not valid UTF-8
 * or holds a NUL, err saying which ("" when the bytes did not parse). */
ProtobufCMessage *osh_rpc_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb,
				 char *err, size_t errlen);

/* "/<svc->name>/<method>" (malloc'd), NULL on OOM. */
char *osh_rpc_path(const ProtobufCServiceDescriptor *svc, const char *method);

/* The Unix-socket listener (rpc_listen.c): binds PATH (mode, group),
 * accepts on its own thread, checks peers, caps connections, survives fd
 * exhaustion, hands admitted fds to gRPC. */
struct osh_rpc_listener;
struct osh_rpc_listen_opts {
	unsigned mode; /* 0 = 0660 */
	bool set_gid;
	gid_t gid;
	osh_rpc_peer_fn check;
	osh_rpc_refuse_fn on_refuse;
	void *ud;
	size_t max_conns; /* 0 = 256 */
};
/* Bind and listen (no thread yet). Errors: OSH_ESYS/OSH_ETOOBIG/OSH_EEXIST
 * with a message in err. */
int osh_rpc_listener_open(const char *path, const struct osh_rpc_listen_opts *o,
			  struct osh_rpc_listener **out, char *err, size_t errlen);
/* Start accepting into gs (started server). */
int osh_rpc_listener_start(struct osh_rpc_listener *l, grpc_server *gs);
/* Stop accepting (joins the thread); idempotent. */
void osh_rpc_listener_stop(struct osh_rpc_listener *l);
/* Stop, close and unlink the socket, free. NULL is a no-op. */
void osh_rpc_listener_close(struct osh_rpc_listener *l);
/* The peer recorded at accept for connection fd (still the same socket). */
bool osh_rpc_listener_peer(struct osh_rpc_listener *l, int fd, struct osh_rpc_peer *out);
void osh_rpc_listener_stats(struct osh_rpc_listener *l, struct osh_rpc_listen_stats *st);

#endif
